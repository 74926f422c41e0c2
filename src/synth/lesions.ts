/**
 * The primary tumour, the distractor nodules and the consolidated lung beside the tumour of a
 * synthetic case: their shapes, HU and where they sit in the lungs (anatomy frame, mm).
 */
import type { Rng } from '../core/random.js';
import { isRightLung, lobeOf, lungParts, lungSdf, type Lobe, type Patient } from './anatomy.js';
import { Blob, Ellipsoid, Tube, blobRadiusBounds, blobSdf, type BlobSpec, type Shape, type SliceCtx, type Texture, type TubeSpec, type Vec } from './shapes.js';

export type TumourShape = 'round' | 'lobulated' | 'spiculated' | 'part-solid';
export type TumourLocation = 'intraparenchymal' | 'pleural' | 'mediastinal';
export type NoduleKind = 'solid' | 'calcified' | 'ground-glass';

export const TUMOUR_SHAPES: readonly TumourShape[] = ['round', 'lobulated', 'spiculated', 'part-solid'];
export const TUMOUR_LOCATIONS: readonly TumourLocation[] = ['intraparenchymal', 'pleural', 'mediastinal'];

export interface TumourPlan {
  shape: TumourShape;
  location: TumourLocation;
  /** Nominal diameter (twice the mean radius of the main body), mm. */
  diameterMm: number;
  /** Centre in the anatomy frame, mm. */
  centre: Vec;
  side: 'right' | 'left';
  lobe: Lobe;
  /** HU of the solid part. */
  solidHu: number;
  /** HU of the ground-glass halo (part-solid only). */
  ggoHu: number | null;
  /** Radius of the sphere that holds the whole lesion, spicules included, mm. */
  extentMm: number;
  body: BlobSpec;
  /** Solid core (part-solid) or necrotic centre (large solid), if any. */
  inner: BlobSpec | null;
  innerHu: number;
  spicules: TubeSpec[];
  calcification: Vec | null;
  texture: { k: Vec; phase: Vec; amp: number }[];
}

export interface Nodule {
  centre: Vec;
  diameterMm: number;
  hu: number;
  kind: NoduleKind;
}

export function unit(rng: Rng): Vec {
  const x = rng.normal();
  const y = rng.normal();
  const z = rng.normal();
  const n = Math.hypot(x, y, z) || 1;
  return [x / n, y / n, z / n];
}

/** A random rotation, as the three rows of an orthonormal matrix (from a random unit quaternion). */
function rotation(rng: Rng): [Vec, Vec, Vec] {
  let a = rng.normal();
  let b = rng.normal();
  let c = rng.normal();
  let d = rng.normal();
  const n = Math.hypot(a, b, c, d) || 1;
  a /= n; b /= n; c /= n; d /= n;
  return [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
  ];
}

function stretch(rng: Rng, spread: number): Vec {
  const s: Vec = [rng.uniform(1 - spread, 1 + spread), rng.uniform(1 - spread, 1 + spread), rng.uniform(1 - spread, 1 + spread)];
  const g = Math.cbrt(s[0] * s[1] * s[2]);
  return [s[0] / g, s[1] / g, s[2] / g];
}

export function blob(rng: Rng, radius: number, bumps: number, amp: [number, number], sharp: [number, number], aniso: number): BlobSpec {
  return {
    centre: [0, 0, 0],
    radius,
    stretch: stretch(rng, aniso),
    axes: rotation(rng),
    bumps: Array.from({ length: bumps }, () => ({
      dir: unit(rng),
      amp: rng.uniform(amp[0], amp[1]) * (rng.next() < 0.3 ? -0.6 : 1),
      sharp: rng.uniform(sharp[0], sharp[1]),
    })),
  };
}

export function at(b: BlobSpec, centre: Vec): BlobSpec {
  return { ...b, centre };
}

/** Distance from the blob centre to its surface along a world direction (bisection), mm. */
export function surfaceRadius(b: BlobSpec, dir: Vec): number {
  let lo = 0;
  let hi = b.radius * 3;
  for (let i = 0; i < 30; i++) {
    const m = 0.5 * (lo + hi);
    const p: Vec = [b.centre[0] + dir[0] * m, b.centre[1] + dir[1] * m, b.centre[2] + dir[2] * m];
    if (blobSdf(b, p[0], p[1], p[2]) <= 0) lo = m;
    else hi = m;
  }
  return lo;
}

/**
 * Smallest primary tumour, mm (the T1a limit). The real training tumours are all 5 mL (~21 mm) or
 * more; a 5 mm "primary" on 3-5 mm slices is one or two voxels and looks like any vessel.
 */
export const MIN_TUMOUR_DIAMETER_MM = 10;

/**
 * A distractor nodule's diameter is at most this fraction of the tumour's: the primary tumour is
 * the largest lesion in the scan, since nothing else in the image says which nodule is the primary.
 */
export const MAX_DISTRACTOR_TO_TUMOUR = 0.8;

/** Draws a nominal tumour diameter (mm): log-uniform, with an extra share of large tumours. */
export function drawDiameter(rng: Rng, minMm: number, maxMm: number): number {
  if (rng.next() < 0.35) return rng.uniform(Math.max(minMm, 25), maxMm);
  return Math.exp(rng.uniform(Math.log(minMm), Math.log(maxMm)));
}

/** A smooth HU texture: `waves` products of sines, wave numbers 0.2..kMax per mm, amplitudes in HU. */
export function drawTexture(rng: Rng, waves: number, kMax: number, amp: [number, number]): TumourPlan['texture'] {
  return Array.from({ length: waves }, () => ({
    k: [rng.uniform(0.2, kMax), rng.uniform(0.2, kMax), rng.uniform(0.2, kMax)] as Vec,
    phase: [rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0, 6.3)] as Vec,
    amp: rng.uniform(amp[0], amp[1]),
  }));
}

/** The main body of a tumour of this shape and mean radius (mm), at the origin. */
export function tumourBody(rng: Rng, shape: TumourShape, radiusMm: number): BlobSpec {
  const R = radiusMm;
  return shape === 'round' ? blob(rng, R, 3, [0.02, 0.06], [2, 4], 0.12)
    : shape === 'lobulated' ? blob(rng, R, rng.int(4, 7), [0.12, 0.3], [3, 8], 0.2)
    : shape === 'spiculated' ? blob(rng, R, 3, [0.04, 0.1], [2, 5], 0.15)
    : blob(rng, R, 4, [0.04, 0.12], [2, 5], 0.15);
}

/**
 * Plans the primary tumour: shape, size, HU, and a place in the lungs matching its location class.
 * `minDiameterMm` keeps tumours at least ~2 voxels across on coarse grids.
 */
export function planTumour(rng: Rng, p: Patient, minDiameterMm: number): TumourPlan {
  const shape = rng.pick(TUMOUR_SHAPES);
  const floorMm = Math.max(MIN_TUMOUR_DIAMETER_MM, minDiameterMm);
  let diameter = drawDiameter(rng, floorMm, 80);
  if (shape === 'part-solid') diameter = Math.min(diameter, rng.uniform(30, 45));
  diameter = Math.max(diameter, floorMm);
  const wanted: TumourLocation = rng.next() < 0.45 ? 'intraparenchymal' : rng.next() < 0.62 ? 'pleural' : 'mediastinal';
  const solidHu = rng.uniform(-20, 60);
  const ggoHu = shape === 'part-solid' ? rng.uniform(-600, -300) : null;
  const texture = drawTexture(rng, 3, 0.8, [2, 6]);
  const spiculeCount = shape === 'spiculated' ? rng.int(8, 24) : 0;
  const spikeDirs = Array.from({ length: spiculeCount }, () => unit(rng));
  const spikeLen = spikeDirs.map(() => rng.uniform(0.3, 1.0));
  const spikeR = spikeDirs.map(() => rng.uniform(0.6, 1.4));
  const coreFrac = rng.uniform(0.3, 0.6);
  const necrotic = shape !== 'part-solid' && rng.next() < 0.5;
  const necroticFrac = rng.uniform(0.3, 0.5);
  const necroticDrop = rng.uniform(15, 35);
  const calcified = shape !== 'part-solid' && rng.next() < 0.06;
  const calcDir = unit(rng);
  const calcFrac = rng.uniform(0, 0.5);
  const rngShape = rng.fork();
  const rngPlace = rng.fork();

  for (let shrink = 0; ; shrink++) {
    const R = diameter / 2;
    const body = tumourBody(rngShape, shape, R);
    const [lo, hi] = blobRadiusBounds(body);
    const spikeMax = shape === 'spiculated' ? Math.max(...spikeLen) * R + 2 : 0;
    const extent = hi * R + spikeMax;
    const rMin = lo * R;
    // Try the wanted location first, then the others (large tumours often only fit touching something).
    const order: TumourLocation[] = [wanted, ...TUMOUR_LOCATIONS.filter((l) => l !== wanted)];
    for (const location of order) {
      const centre = placeLesion(rngPlace, p, location, extent, rMin);
      if (!centre) continue;
      const placed = at(body, centre);
      let inner: BlobSpec | null = null;
      let innerHu = solidHu;
      if (shape === 'part-solid') {
        inner = at(blob(rngShape, R * coreFrac, 3, [0.05, 0.2], [2, 5], 0.2), centre);
      } else if (necrotic && diameter > 40) {
        inner = at(blob(rngShape, R * necroticFrac, 3, [0.05, 0.15], [2, 5], 0.2), centre);
        innerHu = solidHu - necroticDrop;
      }
      const spicules: TubeSpec[] = spikeDirs.map((d, i) => {
        const rs = surfaceRadius(placed, d) * 0.85;
        const a: Vec = [centre[0] + d[0] * rs, centre[1] + d[1] * rs, centre[2] + d[2] * rs];
        const L = spikeLen[i]! * R + 2;
        const b: Vec = [a[0] + d[0] * L, a[1] + d[1] * L, a[2] + d[2] * L];
        return { a, b, r0: Math.min(spikeR[i]!, 0.15 * R + 0.3), r1: 0.25 };
      });
      const cr = calcFrac * R;
      return {
        shape,
        location,
        diameterMm: diameter,
        centre,
        side: isRightLung(p, centre[0], centre[2]) ? 'right' : 'left',
        lobe: lobeOf(p, centre[0], centre[1], centre[2]),
        solidHu,
        ggoHu,
        extentMm: extent,
        body: placed,
        inner,
        innerHu,
        spicules,
        calcification: calcified && diameter > 15 ? [centre[0] + calcDir[0] * cr, centre[1] + calcDir[1] * cr, centre[2] + calcDir[2] * cr] : null,
        texture,
      };
    }
    if (shrink > 12) throw new Error('planTumour: no place in the lungs for the tumour');
    diameter = Math.max(floorMm, diameter * 0.85);
  }
}

/**
 * A centre for a lesion of the given extent (mm, the radius holding all of it) and smallest radius
 * (mm), in the lungs, such that it is wholly inside (intraparenchymal) or meets the chest wall
 * (pleural) or the mediastinum (mediastinal). Null when no place was found.
 */
function placeLesion(rng: Rng, p: Patient, location: TumourLocation, extent: number, rMin: number): Vec | null {
  for (let tries = 0; tries < 6000; tries++) {
    const x = rng.uniform(-p.cavA, p.cavA);
    const y = rng.uniform(-p.cavBPost, p.cavBAnt);
    const z = rng.next() < 0.55 ? rng.uniform(0.5 * p.H, p.H) : rng.uniform(0, 0.5 * p.H);
    const q = lungParts(p, x, y, z);
    const other = Math.max(q.diaphragm, q.apex);
    if (location === 'intraparenchymal') {
      if (Math.max(q.wall, q.med, other) < -(extent + 3)) return [x, y, z];
    } else {
      // The lesion pokes 10-30 % of its smallest radius through the boundary it meets, so its
      // mask reaches the wall (or mediastinum) on the voxel grid.
      const [touch, away] = location === 'pleural' ? [q.wall, q.med] : [q.med, q.wall];
      if (touch > -0.9 * rMin && touch < -0.7 * rMin && away < -(0.5 * extent + 3) && other < -(0.4 * extent + 2)) {
        return [x, y, z];
      }
    }
  }
  return null;
}

/** Distractor nodules: 0-4 small round lesions in the lungs, away from the tumour and smaller than it. */
export function planDistractors(rng: Rng, p: Patient, tumour: TumourPlan, minDiameterMm: number): Nodule[] {
  const count = rng.int(0, 4);
  const out: Nodule[] = [];
  for (let n = 0; n < count; n++) {
    const kindDraw = rng.next();
    const kind: NoduleKind = kindDraw < 0.6 ? 'solid' : kindDraw < 0.85 ? 'calcified' : 'ground-glass';
    const diameter = Math.max(minDiameterMm, Math.min(rng.uniform(3, 12), MAX_DISTRACTOR_TO_TUMOUR * tumour.diameterMm));
    const hu = kind === 'solid' ? rng.uniform(-40, 50) : kind === 'calcified' ? rng.uniform(200, 600) : rng.uniform(-650, -450);
    const r = diameter / 2;
    const margin = rng.uniform(0.5, 8);
    for (let tries = 0; tries < 2000; tries++) {
      const c: Vec = [rng.uniform(-p.cavA, p.cavA), rng.uniform(-p.cavBPost, p.cavBAnt), rng.uniform(0, p.H)];
      if (lungSdf(p, c[0], c[1], c[2]) > -(r + margin)) continue;
      const dt = Math.hypot(c[0] - tumour.centre[0], c[1] - tumour.centre[1], c[2] - tumour.centre[2]);
      if (dt < tumour.extentMm + r + 10) continue;
      if (out.some((o) => Math.hypot(c[0] - o.centre[0], c[1] - o.centre[1], c[2] - o.centre[2]) < r + o.diameterMm / 2 + 5)) continue;
      out.push({ centre: c, diameterMm: diameter, hu, kind });
      break;
    }
  }
  return out;
}

/**
 * Consolidated or collapsed lung against the tumour (post-obstructive atelectasis, pneumonia): soft
 * tissue of about the tumour's density that is not tumour. A wedge of lung with its apex at the
 * tumour centre, mostly pointing away from the mediastinum (collapse and consolidation spread
 * towards the periphery) and cut off by the lung's own boundary; the airway lumens it engulfs stay
 * as air bronchograms.
 */
export interface OpacityPlan {
  /** Round limit of the wedge, centred on the tumour. */
  body: BlobSpec;
  apex: Vec;
  /** Unit axis of the wedge. */
  axis: Vec;
  halfAngleDeg: number;
  hu: number;
  texture: TumourPlan['texture'];
}

/** Share of tumours of at least `OPACITY_MIN_DIAMETER_MM` that get an adjacent opacity. */
export const OPACITY_SHARE = 0.4;
export const OPACITY_MIN_DIAMETER_MM = 20;

/** An opacity against the tumour, or null (most tumours). */
export function planOpacity(rng: Rng, p: Patient, t: TumourPlan): OpacityPlan | null {
  if (t.diameterMm < OPACITY_MIN_DIAMETER_MM || rng.next() >= OPACITY_SHARE) return null;
  const lateral = t.centre[0] >= 0 ? 1 : -1;
  return planWedge(rng, t, lateral, (x, y, z) => lungSdf(p, x, y, z) < -2);
}

/**
 * The wedge of consolidated lung against a tumour: HU, reach and angle drawn, its axis the one of
 * eight directions biased away from the mediastinum (`lateral`: +1 or -1 along x) with the most
 * lung (`isLung`, mm) beyond the tumour. Null when there is too little lung there.
 */
export function planWedge(rng: Rng, t: Pick<TumourPlan, 'centre' | 'diameterMm'>, lateral: number, isLung: (x: number, y: number, z: number) => boolean): OpacityPlan | null {
  const R = t.diameterMm / 2;
  const hu = rng.uniform(-30, 45);
  const reach = Math.min(80, R * rng.uniform(1.6, 3));
  const halfAngleDeg = rng.uniform(20, 45);
  let axis: Vec = [lateral, 0, 0];
  let best = -1;
  for (let k = 0; k < 8; k++) {
    const u = unit(rng);
    const d = [u[0] + 0.6 * lateral, u[1], u[2]];
    const n = Math.hypot(d[0]!, d[1]!, d[2]!) || 1;
    const dir: Vec = [d[0]! / n, d[1]! / n, d[2]! / n];
    let inLung = 0;
    for (let s = 1; s <= 6; s++) {
      const r = R + ((reach - R) * s) / 6;
      if (isLung(t.centre[0] + dir[0] * r, t.centre[1] + dir[1] * r, t.centre[2] + dir[2] * r)) inLung++;
    }
    if (inLung > best) {
      best = inLung;
      axis = dir;
    }
  }
  if (best < 2) return null;
  const texture = drawTexture(rng, 2, 0.6, [3, 8]);
  return {
    body: at(blob(rng, reach, rng.int(3, 6), [0.1, 0.3], [2, 6], 0.2), t.centre),
    apex: t.centre,
    axis,
    halfAngleDeg,
    hu,
    texture,
  };
}

/** Vessels passing close by the tumour (tangent to it), which a candidate detector must not merge. */
export function nearbyVessels(rng: Rng, p: Patient, t: TumourPlan): TubeSpec[] {
  const out: TubeSpec[] = [];
  const count = rng.next() < 0.65 ? rng.int(1, 2) : 0;
  for (let n = 0; n < count; n++) {
    for (let tries = 0; tries < 30; tries++) {
      const o = unit(rng);
      const raw = unit(rng);
      const dot = raw[0] * o[0] + raw[1] * o[1] + raw[2] * o[2];
      const along = [raw[0] - dot * o[0], raw[1] - dot * o[1], raw[2] - dot * o[2]];
      const an = Math.hypot(along[0]!, along[1]!, along[2]!);
      if (an < 1e-3) continue;
      const dir: Vec = [along[0]! / an, along[1]! / an, along[2]! / an];
      const rv = rng.uniform(0.8, 2.8);
      const dist = surfaceRadius(t.body, o) + rv + rng.uniform(-0.5 * rv, 3);
      const mid: Vec = [t.centre[0] + o[0] * dist, t.centre[1] + o[1] * dist, t.centre[2] + o[2] * dist];
      const L = rng.uniform(30, 60);
      const a: Vec = [mid[0] - dir[0] * L / 2, mid[1] - dir[1] * L / 2, mid[2] - dir[2] * L / 2];
      const b: Vec = [mid[0] + dir[0] * L / 2, mid[1] + dir[1] * L / 2, mid[2] + dir[2] * L / 2];
      if (lungSdf(p, a[0], a[1], a[2]) > -rv || lungSdf(p, b[0], b[1], b[2]) > -rv || lungSdf(p, mid[0], mid[1], mid[2]) > 0) continue;
      out.push({ a, b, r0: rv, r1: rv * rng.uniform(0.8, 1) });
      break;
    }
  }
  return out;
}

export function textureOf(t: { texture: TumourPlan['texture'] }): Texture {
  const tex = t.texture;
  return (x, y, z) => {
    let v = 0;
    for (const q of tex) v += q.amp * Math.sin(q.k[0] * x + q.phase[0]) * Math.sin(q.k[1] * y + q.phase[1]) * Math.sin(q.k[2] * z + q.phase[2]);
    return v;
  };
}

/**
 * The wedge of consolidated lung: it paints aerated lung only (the lung envelope of the slice, not
 * the airway lumens, about -1000 HU against the lung's -850), inside the cone around its axis.
 */
export function opacityShape(opacity: OpacityPlan, extra: Texture | null = null): Shape {
  const [ax, ay, az] = opacity.apex;
  const [ux, uy, uz] = opacity.axis;
  const cosHalfAngle = Math.cos(opacity.halfAngleDeg * (Math.PI / 180));
  const inWedge = (c: SliceCtx, idx: number): boolean => {
    if (c.lungs[idx] !== 1 || !(c.hu[idx]! > -960)) return false;
    const i = idx % c.nx;
    const px = c.ax[i]! - ax, py = c.ay[(idx - i) / c.nx]! - ay, pz = c.z - az;
    return px * ux + py * uy + pz * uz >= cosHalfAngle * Math.hypot(px, py, pz);
  };
  const base = textureOf(opacity);
  const tex: Texture = extra ? (x, y, z) => base(x, y, z) + extra(x, y, z) : base;
  return new Blob(opacity.body, opacity.hu, 'over', false, tex, inWedge);
}

/**
 * The tumour's own shapes in paint order: body (ground glass painted as 'max', so denser vessels
 * inside it stay visible), core or necrosis, spicules, calcification. `extra` is added to the
 * body's and core's texture (e.g. an implant's noise field).
 */
export function tumourShapes(t: TumourPlan, extra: Texture | null = null): Shape[] {
  const out: Shape[] = [];
  const base = textureOf(t);
  const tex: Texture = extra ? (x, y, z) => base(x, y, z) + extra(x, y, z) : base;
  if (t.shape === 'part-solid') {
    out.push(new Blob(t.body, t.ggoHu ?? -450, 'max', true, tex));
    if (t.inner) out.push(new Blob(t.inner, t.solidHu, 'over', true, tex));
  } else {
    out.push(new Blob(t.body, t.solidHu, 'over', true, tex));
    if (t.inner) out.push(new Blob(t.inner, t.innerHu, 'over', true, tex));
  }
  for (const s of t.spicules) out.push(new Tube(s, t.solidHu, 'over', true));
  if (t.calcification) out.push(new Ellipsoid(t.calcification, [2, 2, 2], 0, 450));
  return out;
}

/**
 * Shapes for the vessels by the tumour, the distractors, the opacity against the tumour (if any) and
 * the tumour, in paint order (the tumour last, over everything).
 */
export function lesionShapes(p: Patient, t: TumourPlan, nodules: readonly Nodule[], vessels: readonly TubeSpec[], opacity: OpacityPlan | null = null): Shape[] {
  const out: Shape[] = [];
  for (const v of vessels) out.push(new Tube(v, p.hu.blood));
  for (const n of nodules) {
    const r = n.diameterMm / 2;
    out.push(new Ellipsoid(n.centre, [r, r * 0.95, r * 1.05], 0.5, n.hu));
  }
  if (opacity) out.push(opacityShape(opacity));
  out.push(...tumourShapes(t));
  return out;
}
