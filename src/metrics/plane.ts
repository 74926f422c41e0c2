/**
 * Exact 2-D geometry on pixel centres (integer coordinates) for the in-plane measurements:
 * convex hull, minimum enclosing circle (Welzl / minidisk), Feret diameter, and the radius that
 * OpenCV's `cv2.minEnclosingCircle` reports for the same points.
 *
 * Point lists are flat Int32Arrays `[u0, v0, u1, v1, ...]` in pixel units. In this module
 * u is the image column and v the image row of the slice as cv2 sees it (for a NIfTI slice
 * `data[:, :, k]` of an (x, y, z) array, cv2's rows are x and its columns are y, so u = y, v = x).
 *
 * All decisions (hull turns, in-circle tests) are made with exact integer arithmetic: while the
 * coordinates span at most EXACT_SPAN pixels every intermediate value stays below 2^53; beyond
 * that the in-circle test switches to BigInt.
 */

/** Largest coordinate span for which the number-based in-circle determinant is exact (12·S⁴ < 2^53). */
const EXACT_SPAN = 4096;

/** cv2's `EPS` in shapedescr.cpp: a float32 1e-4 px added to every radius it reports. */
export const CV2_RADIUS_EPS_PX = Math.fround(1e-4);

const f32 = Math.fround;

function cross(p: Int32Array, o: number, a: number, b: number): number {
  return (p[2 * a]! - p[2 * o]!) * (p[2 * b + 1]! - p[2 * o + 1]!) - (p[2 * a + 1]! - p[2 * o + 1]!) * (p[2 * b]! - p[2 * o]!);
}

/**
 * Convex hull (Andrew's monotone chain) of `count` points already sorted by (u, then v).
 * Returns the vertices counter-clockwise in a (u right, v up) frame, starting at the smallest
 * (u, v), without collinear or repeated vertices. One distinct point gives one vertex, points on a
 * line give the two ends.
 */
export function convexHullOfSorted(points: Int32Array, count: number): Int32Array {
  if (count <= 0) return new Int32Array(0);
  const idx = new Int32Array(2 * count + 1);
  let h = 0;
  const build = (i: number): void => {
    while (h >= 2 && cross(points, idx[h - 2]!, idx[h - 1]!, i) <= 0) h--;
    idx[h++] = i;
  };
  for (let i = 0; i < count; i++) build(i);
  const lowerEnd = h + 1;
  for (let i = count - 2; i >= 0; i--) {
    while (h >= lowerEnd && cross(points, idx[h - 2]!, idx[h - 1]!, i) <= 0) h--;
    idx[h++] = i;
  }
  // The chain ends where it started; all-equal points collapse to one vertex.
  let n = Math.max(1, h - 1);
  if (n === 2 && points[2 * idx[0]!] === points[2 * idx[1]!] && points[2 * idx[0]! + 1] === points[2 * idx[1]! + 1]) n = 1;
  const out = new Int32Array(2 * n);
  for (let k = 0; k < n; k++) {
    out[2 * k] = points[2 * idx[k]!]!;
    out[2 * k + 1] = points[2 * idx[k]! + 1]!;
  }
  return out;
}

/** A circle through 1, 2 (as diameter) or 3 of the points of a list, by index. */
export type Support = readonly [number] | readonly [number, number] | readonly [number, number, number];

function span(p: Int32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  return p.length === 0 ? 0 : hi - lo;
}

/**
 * Sign of the in-circle determinant of (a, b, c, q): positive when q = (qu, qv) is inside the
 * circle through a, b, c taken counter-clockwise, zero on it. Exact.
 */
function inCircleSign(p: Int32Array, a: number, b: number, c: number, qu: number, qv: number, big: boolean): number {
  const au = p[2 * a]! - qu;
  const av = p[2 * a + 1]! - qv;
  const bu = p[2 * b]! - qu;
  const bv = p[2 * b + 1]! - qv;
  const cu = p[2 * c]! - qu;
  const cv = p[2 * c + 1]! - qv;
  if (!big) {
    const a2 = au * au + av * av;
    const b2 = bu * bu + bv * bv;
    const c2 = cu * cu + cv * cv;
    return Math.sign(au * (bv * c2 - cv * b2) - av * (bu * c2 - cu * b2) + a2 * (bu * cv - cu * bv));
  }
  const [AU, AV, BU, BV, CU, CV] = [au, av, bu, bv, cu, cv].map(BigInt) as [bigint, bigint, bigint, bigint, bigint, bigint];
  const A2 = AU * AU + AV * AV;
  const B2 = BU * BU + BV * BV;
  const C2 = CU * CU + CV * CV;
  const d = AU * (BV * C2 - CV * B2) - AV * (BU * C2 - CU * B2) + A2 * (BU * CV - CU * BV);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** Where point q of `p` lies relative to the circle of a support: -1 inside, 0 on it, +1 outside. Exact. */
function sideOf(p: Int32Array, s: Support, q: number, big: boolean): number {
  const qu = p[2 * q]!;
  const qv = p[2 * q + 1]!;
  if (s.length === 1) {
    return qu === p[2 * s[0]] && qv === p[2 * s[0] + 1] ? 0 : 1;
  }
  if (s.length === 2) {
    // Thales: q is inside the circle with diameter ab iff the angle aqb is obtuse.
    const [a, b] = s;
    return Math.sign((p[2 * a]! - qu) * (p[2 * b]! - qu) + (p[2 * a + 1]! - qv) * (p[2 * b + 1]! - qv));
  }
  const [a, b, c] = s;
  return -Math.sign(cross(p, a, b, c)) * inCircleSign(p, a, b, c, qu, qv, big);
}

function circleOf3(p: Int32Array, a: number, b: number, c: number): Support {
  if (cross(p, a, b, c) !== 0) return [a, b, c];
  // Collinear (cannot happen for distinct hull vertices): the farthest pair spans the circle.
  const d = (i: number, j: number): number => (p[2 * i]! - p[2 * j]!) ** 2 + (p[2 * i + 1]! - p[2 * j + 1]!) ** 2;
  const ab = d(a, b);
  const ac = d(a, c);
  const bc = d(b, c);
  return ab >= ac && ab >= bc ? [a, b] : ac >= bc ? [a, c] : [b, c];
}

/** Radius in pixels of a support's circle, from exact integer squared lengths (a few ulps). */
export function supportRadiusPx(p: Int32Array, s: Support): number {
  const d2 = (i: number, j: number): number => (p[2 * i]! - p[2 * j]!) ** 2 + (p[2 * i + 1]! - p[2 * j + 1]!) ** 2;
  if (s.length === 1) return 0;
  if (s.length === 2) return Math.sqrt(d2(s[0], s[1])) / 2;
  const [a, b, c] = s;
  // Circumradius R = |ab|·|bc|·|ca| / (4·area) = sqrt(ab²·bc²·ca²) / (2·|cross|).
  return Math.sqrt(d2(a, b) * d2(b, c) * d2(c, a)) / (2 * Math.abs(cross(p, a, b, c)));
}

/**
 * Minimum enclosing circle of a point list (any order, no repeats needed), exact: Welzl's
 * incremental minidisk over a seeded shuffle, with exact predicates. Returns the indices of the
 * 1–3 points that fix the circle, or null for no points.
 */
export function minEnclosingCircle(p: Int32Array): Support | null {
  const n = p.length / 2;
  if (n === 0) return null;
  const big = span(p) > EXACT_SPAN;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  // The expected-linear-time bound needs a random order; a fixed seed keeps results reproducible.
  let seed = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    const j = seed % (i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  let s: Support = [order[0]!];
  for (let i = 1; i < n; i++) {
    const pi = order[i]!;
    if (sideOf(p, s, pi, big) <= 0) continue;
    s = [pi];
    for (let j = 0; j < i; j++) {
      const pj = order[j]!;
      if (sideOf(p, s, pj, big) <= 0) continue;
      s = [pi, pj];
      for (let k = 0; k < j; k++) {
        const pk = order[k]!;
        if (sideOf(p, s, pk, big) <= 0) continue;
        s = circleOf3(p, pi, pj, pk);
      }
    }
  }
  return s;
}

/** Largest distance in mm between two points of the list, with `uMm`/`vMm` mm per pixel along u/v. */
export function maxDistanceMm(p: Int32Array, uMm: number, vMm: number): number {
  const n = p.length / 2;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const ui = p[2 * i]!;
    const vi = p[2 * i + 1]!;
    for (let j = i + 1; j < n; j++) {
      const du = (p[2 * j]! - ui) * uMm;
      const dv = (p[2 * j + 1]! - vi) * vMm;
      const d2 = du * du + dv * dv;
      if (d2 > best) best = d2;
    }
  }
  return Math.sqrt(best);
}

/** Centre (u, v) in pixels of a support's circle, in doubles. */
function supportCentre(p: Int32Array, s: Support): [number, number] {
  if (s.length === 1) return [p[2 * s[0]]!, p[2 * s[0] + 1]!];
  if (s.length === 2) return [(p[2 * s[0]]! + p[2 * s[1]]!) / 2, (p[2 * s[0] + 1]! + p[2 * s[1] + 1]!) / 2];
  const [a, b, c] = s;
  // Circumcentre relative to a: exact integer inputs, one rounding per operation.
  const au = p[2 * a]!;
  const av = p[2 * a + 1]!;
  const bu = p[2 * b]! - au;
  const bv = p[2 * b + 1]! - av;
  const cu = p[2 * c]! - au;
  const cv = p[2 * c + 1]! - av;
  const d = 2 * (bu * cv - bv * cu);
  const b2 = bu * bu + bv * bv;
  const c2 = cu * cu + cv * cv;
  return [au + (cv * b2 - bv * c2) / d, av + (bu * c2 - cu * b2) / d];
}

// ---------------------------------------------------------------------------------------------
// cv2.minEnclosingCircle, reproduced.
//
// cv2 runs the deterministic (unshuffled) incremental minidisk over the contour points in contour
// order, in float32: a point counts as inside when its distance to the float32 centre is below
// radius + 1e-4, and the radius it reports carries that + 1e-4. Its circle is the exact minimum
// enclosing circle up to that tolerance, but the float32 radius depends on which points — and in
// which roles — its last update used:
//   - a diameter circle of a and b: float32(sqrt(|ab|²)) / 2 + 1e-4, in either order;
//   - a 3-point circle through contour points i > j > k: the centre is solved in float32 from the
//     perpendicular bisectors relative to point i, so the radius moves by a few float32 ulps
//     (~1e-5 px) with the order — and a point within 1e-4 px outside the exact circle can make it
//     settle on a slightly different triple (±1e-4 px).
// Only points on the final circle can make the last updates, and each of cv2's three loops stops
// changing its circle at the first prefix of the contour that fixes it; so replaying cv2's float32
// loops over just the contour points near the exact circle (in contour order, repeats kept) gives
// cv2's own float32 radius, at a cost of a handful of points instead of the whole contour.
// ---------------------------------------------------------------------------------------------

/** Contour points within this distance (px) of the exact circle take part in the replay. */
const NEAR_CIRCLE_PX = 1e-3;

interface F32Circle {
  cu: number;
  cv: number;
  r: number;
}

/** cv2's circle with diameter ab (`pts[a]`, `pts[b]`), in float32. */
function cv2Diameter(p: Int32Array, a: number, b: number): F32Circle {
  const du = p[2 * b]! - p[2 * a]!;
  const dv = p[2 * b + 1]! - p[2 * a + 1]!;
  return {
    cu: f32((p[2 * b]! + p[2 * a]!) / 2),
    cv: f32((p[2 * b + 1]! + p[2 * a + 1]!) / 2),
    // norm() of a Point2f is a double sqrt, cast to float, then halved and shifted in float.
    r: f32(f32(f32(Math.sqrt(du * du + dv * dv)) / 2) + CV2_RADIUS_EPS_PX),
  };
}

/** cv2's `findCircle3pts(pts[i], pts[j], pts[k])`, in float32 (pixel coordinates are exact in float32). */
function cv2ThreePoint(p: Int32Array, i: number, j: number, k: number): F32Circle {
  const x0 = p[2 * i]!;
  const y0 = p[2 * i + 1]!;
  const x1 = p[2 * j]!;
  const y1 = p[2 * j + 1]!;
  const x2 = p[2 * k]!;
  const y2 = p[2 * k + 1]!;
  const v1x = x1 - x0;
  const v1y = y1 - y0;
  const v2x = x2 - x0;
  const v2y = y2 - y0;
  const m1x = f32((x0 + x1) / 2);
  const m1y = f32((y0 + y1) / 2);
  const m2x = f32((x0 + x2) / 2);
  const m2y = f32((y0 + y2) / 2);
  const c1 = f32(f32(m1x * v1x) + f32(m1y * v1y));
  const c2 = f32(f32(m2x * v2x) + f32(m2y * v2y));
  const det = f32(f32(v1x * v2y) - f32(v1y * v2x));
  if (Math.abs(det) <= CV2_RADIUS_EPS_PX) {
    // Collinear: the farthest pair is the diameter.
    const d1 = v1x * v1x + v1y * v1y;
    const d2 = v2x * v2x + v2y * v2y;
    const d3 = (x1 - x2) ** 2 + (y1 - y2) ** 2;
    const [a, b] = d1 >= d2 && d1 >= d3 ? [i, j] : d2 >= d1 && d2 >= d3 ? [i, k] : [j, k];
    return cv2Diameter(p, a, b);
  }
  const cu = f32(f32(f32(c1 * v2y) - f32(c2 * v1y)) / det);
  const cv = f32(f32(f32(v1x * c2) - f32(v2x * c1)) / det);
  const dx = f32(cu - x0);
  const dy = f32(cv - y0);
  return { cu, cv, r: f32(f32(Math.sqrt(f32(f32(dx * dx) + f32(dy * dy)))) + CV2_RADIUS_EPS_PX) };
}

/** Double distance from a float32 centre to point q, as cv2's norm(Point2f(dx, dy)) computes it. */
function cv2Distance(c: F32Circle, p: Int32Array, q: number): number {
  const dx = f32(c.cu - p[2 * q]!);
  const dy = f32(c.cv - p[2 * q + 1]!);
  return Math.sqrt(dx * dx + dy * dy);
}

/** cv2's minEnclosingCircle radius (float32 value) of the points `p`, in the given order. */
export function cv2MinEnclosingRadiusPx(p: Int32Array): number {
  const n = p.length / 2;
  if (n === 0) return 0;
  if (n === 1) return CV2_RADIUS_EPS_PX;
  const third = (i: number, j: number): F32Circle => {
    let c = cv2Diameter(p, i, j);
    for (let k = 0; k < j; k++) if (!(cv2Distance(c, p, k) < c.r)) c = cv2ThreePoint(p, i, j, k);
    return c;
  };
  const second = (i: number): F32Circle => {
    let c = cv2Diameter(p, 0, i);
    for (let j = 1; j < i; j++) if (!(cv2Distance(c, p, j) < c.r)) c = third(i, j);
    return c;
  };
  let c = cv2Diameter(p, 0, 1);
  // The outermost loop compares the distance rounded to float32; the inner two compare doubles.
  for (let i = 2; i < n; i++) if (!(f32(cv2Distance(c, p, i)) < c.r)) c = second(i);
  return c.r;
}

/**
 * The radius, in pixels, that `cv2.minEnclosingCircle` returns for a contour, given the contour
 * in cv2's order (`contour`, (u, v) pairs, repeats allowed) and the convex hull of its points
 * (`hull`, as from convexHullOfSorted; `support`: its minEnclosingCircle when already known).
 */
export function cv2EnclosingRadiusPx(hull: Int32Array, contour: Int32Array, support?: Support | null): number {
  const s = support === undefined ? minEnclosingCircle(hull) : support;
  if (!s || s.length === 1) return CV2_RADIUS_EPS_PX;
  const [cu, cv] = supportCentre(hull, s);
  const radius = supportRadiusPx(hull, s);
  const near: number[] = [];
  for (let q = 0; q < contour.length; q += 2) {
    const d = Math.hypot(contour[q]! - cu, contour[q + 1]! - cv);
    if (d >= radius - NEAR_CIRCLE_PX) near.push(contour[q]!, contour[q + 1]!);
  }
  return cv2MinEnclosingRadiusPx(Int32Array.from(near));
}
