/**
 * Painting primitives for the synthetic CT renderer.
 *
 * Everything is defined in the *anatomy frame*, in mm: x towards the patient's right, y anterior,
 * z superior (RAS axes), origin on the midline at the centre of the thoracic cavity, z = 0 at the
 * lowest point of the lungs. The renderer walks the volume one axial slice at a time; each shape
 * paints the voxels of its own bounding box in that slice, never the whole slice, which is what
 * keeps a 512x512x300 case at a few seconds.
 *
 * Partial volume: a shape's signed distance d (mm, negative inside) turns into an occupancy
 * alpha = clamp(0.5 - d / w) where w is the width of the voxel box measured along the surface
 * normal (|nx| dx + |ny| dy + |nz| dz). So CT edges are smooth, and alpha >= 0.5 exactly where the
 * voxel centre is inside (d <= 0): that is the ">= 50 % occupancy" rule the masks use.
 */

/** One axial slice being painted, with its voxel-centre coordinates in the anatomy frame. */
export interface SliceCtx {
  /** Slice index k in the volume. */
  k: number;
  /** Anatomy-frame z of the slice centre, mm. */
  z: number;
  nx: number;
  ny: number;
  /** Anatomy-frame x (mm) of column i: ax[i] = x0 + sx * i (sx is +dx or -dx, by voxel order). */
  ax: Float64Array;
  ay: Float64Array;
  x0: number;
  sx: number;
  y0: number;
  sy: number;
  /** Voxel size (positive), mm. */
  dx: number;
  dy: number;
  dz: number;
  /** HU of this slice, index i + nx * j. */
  hu: Float32Array;
  /** This slice of the tumour mask (written by shapes flagged as tumour). */
  tumour: Uint8Array;
  /** This slice of the lung envelope (written by the lungs shape). */
  lungs: Uint8Array;
}

/** Something that paints itself into the slices its z-range [zMin, zMax] (mm) overlaps. */
export interface Shape {
  readonly zMin: number;
  readonly zMax: number;
  paint(ctx: SliceCtx): void;
}

/** How a shape combines with what is already painted. */
export type PaintMode = 'over' | 'max';

export type Vec = readonly [number, number, number];

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

export function smoothstep(e0: number, e1: number, v: number): number {
  const t = clamp01((v - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}

/**
 * Share of a box of width w (centred at s) covered by the slab [-r, r]: the partial volume across
 * a surface. For r much larger than w it is the linear ramp clamp(0.5 - (s - r) / w); for thin
 * structures it peaks at 2r / w instead of reaching 1, so sub-voxel vessels stay faint.
 */
export function slabOccupancy(s: number, r: number, w: number): number {
  const hi = Math.min(s + 0.5 * w, r);
  const lo = Math.max(s - 0.5 * w, -r);
  return hi > lo ? (hi - lo) / w : 0;
}

/** Inclusive index range [lo, hi] of the grid positions p0 + step * i (i in 0..n-1) lying in [a, b]; lo > hi when none. */
export function indexRange(p0: number, step: number, n: number, a: number, b: number): [number, number] {
  const ia = (a - p0) / step;
  const ib = (b - p0) / step;
  const lo = Math.max(0, Math.ceil(Math.min(ia, ib)));
  const hi = Math.min(n - 1, Math.floor(Math.max(ia, ib)));
  return [lo, hi];
}

/** Blends value v into hu[idx] with occupancy a. */
function blend(hu: Float32Array, idx: number, a: number, v: number, mode: PaintMode): void {
  if (mode === 'over') {
    hu[idx] = hu[idx]! + a * (v - hu[idx]!);
  } else {
    const t = hu[idx]! + a * (v - hu[idx]!);
    if (t > hu[idx]!) hu[idx] = t;
  }
}

/**
 * An elliptic cross-section extruded along z, its semi-axes varying with z: the body outline, its
 * fat and muscle layers and the thoracic cavity. Anterior and posterior halves have their own
 * AP semi-axis (the back is flatter than the front).
 */
export interface EllipseSection {
  cx: number;
  cy: number;
  /** LR semi-axis, mm. */
  a: number;
  /** AP semi-axis for y >= cy, mm. */
  bAnt: number;
  /** AP semi-axis for y < cy, mm. */
  bPost: number;
}

export class EllipseColumn implements Shape {
  constructor(
    readonly zMin: number,
    readonly zMax: number,
    private readonly section: (z: number) => EllipseSection,
    private readonly hu: number,
  ) {}

  paint(c: SliceCtx): void {
    const s = this.section(c.z);
    if (s.a <= 0 || s.bAnt <= 0 || s.bPost <= 0) return;
    const h = Math.max(c.dx, c.dy);
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, s.cy - s.bPost - h, s.cy + s.bAnt + h);
    const ia = 1 / s.a;
    const v = this.hu;
    const hu = c.hu;
    for (let j = j0; j <= j1; j++) {
      const yy = c.ay[j]! - s.cy;
      const b = yy >= 0 ? s.bAnt : s.bPost;
      const ty = yy / b;
      const m = Math.min(s.a, b);
      // Voxels with q below qIn are surely whole-inside (filled as a span), above qOut surely outside.
      const qIn = Math.max(0, 1 - h / m) ** 2;
      const qOut = (1 + h / m) ** 2;
      const wOut = ellipseHalfWidth(s.a, ty, qOut);
      if (wOut < 0) continue;
      const wIn = ellipseHalfWidth(s.a, ty, qIn);
      const [i0, i1] = indexRange(c.x0, c.sx, c.nx, s.cx - wOut, s.cx + wOut);
      let [f0, f1] = wIn > 0 ? indexRange(c.x0, c.sx, c.nx, s.cx - wIn, s.cx + wIn) : [i1 + 1, i1];
      if (f0 > f1) [f0, f1] = [i1 + 1, i1];
      const row = c.nx * j;
      if (f0 <= f1) hu.fill(v, row + f0, row + f1 + 1);
      const ty2 = ty * ty;
      for (let i = i0; i <= i1; i++) {
        if (i === f0) {
          i = f1;
          continue;
        }
        const tx = (c.ax[i]! - s.cx) * ia;
        const q = tx * tx + ty2;
        if (q >= qOut) continue;
        const idx = row + i;
        const rho = Math.sqrt(q);
        const gx = tx * ia;
        const gy = ty / b;
        const d = (rho * (rho - 1)) / Math.sqrt(gx * gx + gy * gy);
        const a = clamp01(0.5 - d / h);
        if (a > 0) hu[idx] = hu[idx]! + a * (v - hu[idx]!);
      }
    }
  }
}

/**
 * Half-width (mm, along x) of the part of a row of an ellipse with LR semi-axis `a` where the
 * normalised radius squared is at most q; `ty` is the row's normalised height. -1 when none.
 */
export function ellipseHalfWidth(a: number, ty: number, q: number): number {
  const r = q - ty * ty;
  return r > 0 ? a * Math.sqrt(r) : -1;
}

/** An ellipsoid, turned about the z axis by `angle` (radians): heart, organs, lymph nodes, nodules. */
export class Ellipsoid implements Shape {
  readonly zMin: number;
  readonly zMax: number;
  private readonly cos: number;
  private readonly sin: number;
  private readonly hx: number;
  private readonly hy: number;

  constructor(
    readonly centre: Vec,
    readonly semi: Vec,
    readonly angle: number,
    private readonly hu: number,
    private readonly mode: PaintMode = 'over',
  ) {
    this.zMin = centre[2] - semi[2];
    this.zMax = centre[2] + semi[2];
    this.cos = Math.cos(angle);
    this.sin = Math.sin(angle);
    this.hx = Math.hypot(semi[0] * this.cos, semi[1] * this.sin);
    this.hy = Math.hypot(semi[0] * this.sin, semi[1] * this.cos);
  }

  paint(c: SliceCtx): void {
    const [cx, cy, cz] = this.centre;
    const [A, B, C] = this.semi;
    const w = c.z - cz;
    const tw = w / C;
    // A partial-volume ramp reaches at most half the voxel's widest extent beyond the surface.
    const pv = 0.5 * (c.dx + c.dy + c.dz);
    const tw2 = tw * tw;
    const m = Math.min(A, B, C);
    const qOut = (1 + pv / m) ** 2;
    if (tw2 >= qOut) return;
    const grow = pv;
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, cy - this.hy - grow, cy + this.hy + grow);
    const [i0, i1] = indexRange(c.x0, c.sx, c.nx, cx - this.hx - grow, cx + this.hx + grow);
    const qIn = Math.max(0, 1 - pv / m) ** 2;
    // Objects thinner than a voxel fill only part of it in the other directions too.
    const thin = Math.min(1, (6 * m) / (c.dx + c.dy + c.dz)) ** 2;
    const iA = 1 / A;
    const iB = 1 / B;
    const iC = 1 / C;
    const cos = this.cos;
    const sin = this.sin;
    const hu = c.hu;
    const val = this.hu;
    for (let j = j0; j <= j1; j++) {
      const yy = c.ay[j]! - cy;
      const row = c.nx * j;
      for (let i = i0; i <= i1; i++) {
        const xx = c.ax[i]! - cx;
        const u = (cos * xx + sin * yy) * iA;
        const v = (-sin * xx + cos * yy) * iB;
        const q = u * u + v * v + tw2;
        if (q >= qOut) continue;
        const idx = row + i;
        if (q <= qIn) {
          blend(hu, idx, 1, val, this.mode);
          continue;
        }
        const rho = Math.sqrt(q);
        // Gradient of rho in the local frame, then turned back to the anatomy frame.
        const gu = u * iA;
        const gv = v * iB;
        const gw = tw * iC;
        const gx = cos * gu - sin * gv;
        const gy = sin * gu + cos * gv;
        const g = Math.sqrt(gx * gx + gy * gy + gw * gw);
        const d = (rho - 1) / (g / rho);
        const wn = (Math.abs(gx) * c.dx + Math.abs(gy) * c.dy + Math.abs(gw) * c.dz) / g;
        const a = thin < 1 ? thin * slabOccupancy(d + m, m, wn) : clamp01(0.5 - d / wn);
        if (a > 0) blend(hu, idx, a, val, this.mode);
      }
    }
  }
}

/** A straight tube from a to b whose radius goes linearly from r0 to r1 (a tapered capsule). */
export interface TubeSpec {
  a: Vec;
  b: Vec;
  r0: number;
  r1: number;
}

/** Pseudo signed distance (mm) of a point from a tapered capsule. */
export function tubeSdf(t: TubeSpec, x: number, y: number, z: number): number {
  const abx = t.b[0] - t.a[0];
  const aby = t.b[1] - t.a[1];
  const abz = t.b[2] - t.a[2];
  const l2 = abx * abx + aby * aby + abz * abz;
  const wx = x - t.a[0];
  const wy = y - t.a[1];
  const wz = z - t.a[2];
  let s = l2 > 0 ? (wx * abx + wy * aby + wz * abz) / l2 : 0;
  s = s < 0 ? 0 : s > 1 ? 1 : s;
  const px = wx - s * abx;
  const py = wy - s * aby;
  const pz = wz - s * abz;
  return Math.sqrt(px * px + py * py + pz * pz) - (t.r0 + s * (t.r1 - t.r0));
}

/**
 * Tubes of one material: vessels, airway walls and lumens, ribs, great vessels, tumour spicules.
 * Grouped so a tree of a thousand segments is one shape with one bucket entry per segment.
 */
export class Tube implements Shape {
  readonly zMin: number;
  readonly zMax: number;

  constructor(
    readonly spec: TubeSpec,
    private readonly hu: number,
    private readonly mode: PaintMode = 'over',
    /** Marks d <= 0 voxels in the tumour mask (spicules of the primary). */
    private readonly isTumour = false,
  ) {
    const r = Math.max(spec.r0, spec.r1);
    this.zMin = Math.min(spec.a[2], spec.b[2]) - r;
    this.zMax = Math.max(spec.a[2], spec.b[2]) + r;
  }

  paint(c: SliceCtx): void {
    const { a, b, r0, r1 } = this.spec;
    const R = Math.max(r0, r1);
    const pv = 0.5 * (c.dx + c.dy + c.dz);
    const abx = b[0] - a[0];
    const aby = b[1] - a[1];
    const abz = b[2] - a[2];
    const l2 = abx * abx + aby * aby + abz * abz;
    const il2 = l2 > 0 ? 1 / l2 : 0;
    // Only the part of the axis within reach of this slice matters for the in-plane box.
    let t0 = 0;
    let t1 = 1;
    const reach = R + pv;
    if (Math.abs(abz) > 1e-9) {
      const ta = (c.z - reach - a[2]) / abz;
      const tb = (c.z + reach - a[2]) / abz;
      t0 = Math.max(0, Math.min(ta, tb));
      t1 = Math.min(1, Math.max(ta, tb));
      if (t0 > t1) return;
    } else if (Math.abs(c.z - a[2]) > reach) {
      return;
    }
    const xa = a[0] + t0 * abx;
    const xb = a[0] + t1 * abx;
    const ya = a[1] + t0 * aby;
    const yb = a[1] + t1 * aby;
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, Math.min(ya, yb) - reach, Math.max(ya, yb) + reach);
    const [i0, i1] = indexRange(c.x0, c.sx, c.nx, Math.min(xa, xb) - reach, Math.max(xa, xb) + reach);
    const wz = c.z - a[2];
    const dr = r1 - r0;
    const il = l2 > 0 ? 1 / Math.sqrt(l2) : 0;
    const ux = abx * il;
    const uy = aby * il;
    const uz = abz * il;
    const wMin = Math.min(c.dx, c.dy, c.dz);
    const hu = c.hu;
    const val = this.hu;
    const mask = this.isTumour ? c.tumour : null;
    for (let j = j0; j <= j1; j++) {
      const wy = c.ay[j]! - a[1];
      const row = c.nx * j;
      const base = wy * aby + wz * abz;
      for (let i = i0; i <= i1; i++) {
        const wx = c.ax[i]! - a[0];
        let s = (wx * abx + base) * il2;
        s = s < 0 ? 0 : s > 1 ? 1 : s;
        const px = wx - s * abx;
        const py = wy - s * aby;
        const pz = wz - s * abz;
        const dist2 = px * px + py * py + pz * pz;
        const r = r0 + s * dr;
        const lim = r + pv;
        if (dist2 >= lim * lim) continue;
        const dist = Math.sqrt(dist2);
        const d = dist - r;
        let al: number;
        if (dist > 1e-9) {
          const nx = px / dist;
          const ny = py / dist;
          const nz = pz / dist;
          const wn = Math.abs(nx) * c.dx + Math.abs(ny) * c.dy + Math.abs(nz) * c.dz;
          al = slabOccupancy(dist, r, wn);
          // Across the tube's other cross direction (axis x normal) a thin tube fills 2r of the voxel width.
          if (2 * r < wn + wMin) {
            const mx = uy * nz - uz * ny;
            const my = uz * nx - ux * nz;
            const mz = ux * ny - uy * nx;
            const wp = Math.abs(mx) * c.dx + Math.abs(my) * c.dy + Math.abs(mz) * c.dz;
            if (wp > 2 * r) al *= (2 * r) / wp;
          }
        } else {
          al = Math.min(1, (2 * r) / wMin);
        }
        const idx = row + i;
        if (al > 0) blend(hu, idx, al, val, this.mode);
        if (mask && d <= 0) mask[idx] = 1;
      }
    }
  }
}

/**
 * A star-shaped lesion: an ellipsoid whose radius varies with direction by smooth bumps
 * (lobulation). Used for the primary tumour (body, solid core, ground-glass halo) and for
 * distractor nodules.
 */
export interface BlobSpec {
  centre: Vec;
  /** Mean radius, mm. */
  radius: number;
  /** Axis stretch factors (about 0.8..1.25) along the rotated local axes. */
  stretch: Vec;
  /** Rotation: rows are the local axes in the anatomy frame (orthonormal). */
  axes: readonly [Vec, Vec, Vec];
  /** Bumps: unit direction (local frame), relative amplitude (may be negative), sharpness. */
  bumps: readonly { dir: Vec; amp: number; sharp: number }[];
}

/** Relative radius of a blob in the (unit, local-frame) direction u. */
function blobRadiusFactor(spec: BlobSpec, ux: number, uy: number, uz: number): number {
  let f = 1;
  for (const bp of spec.bumps) {
    const dot = ux * bp.dir[0] + uy * bp.dir[1] + uz * bp.dir[2];
    f += bp.amp * Math.exp(bp.sharp * (dot - 1));
  }
  return f;
}

/** Smallest and largest relative radius a blob's bumps can give (bounds, not exact). */
export function blobRadiusBounds(spec: BlobSpec): [number, number] {
  let lo = 1;
  let hi = 1;
  for (const bp of spec.bumps) {
    if (bp.amp < 0) lo += bp.amp;
    else hi += bp.amp;
  }
  const smin = Math.min(...spec.stretch);
  const smax = Math.max(...spec.stretch);
  return [Math.max(0.2, lo) * smin, hi * smax];
}

/** Pseudo signed distance (mm) of a point from a blob. */
export function blobSdf(spec: BlobSpec, x: number, y: number, z: number): number {
  const px = x - spec.centre[0];
  const py = y - spec.centre[1];
  const pz = z - spec.centre[2];
  const [e0, e1, e2] = spec.axes;
  const lx = (px * e0[0] + py * e0[1] + pz * e0[2]) / spec.stretch[0];
  const ly = (px * e1[0] + py * e1[1] + pz * e1[2]) / spec.stretch[1];
  const lz = (px * e2[0] + py * e2[1] + pz * e2[2]) / spec.stretch[2];
  const r = Math.sqrt(lx * lx + ly * ly + lz * lz);
  if (r < 1e-9) return -spec.radius * Math.min(...spec.stretch);
  const R = spec.radius * blobRadiusFactor(spec, lx / r, ly / r, lz / r);
  return (r - R) * Math.min(...spec.stretch);
}

/** Optional HU texture inside a blob: value(x, y, z) added to its base HU. */
export type Texture = (x: number, y: number, z: number) => number;

export class Blob implements Shape {
  readonly zMin: number;
  readonly zMax: number;
  private readonly rLo: number;
  private readonly rHi: number;
  private readonly smin: number;

  constructor(
    readonly spec: BlobSpec,
    private readonly hu: number,
    private readonly mode: PaintMode = 'over',
    private readonly isTumour = false,
    private readonly texture: Texture | null = null,
    /** Which voxels of the slice it may paint (all when null): e.g. only aerated lung. */
    private readonly paintable: ((c: SliceCtx, idx: number) => boolean) | null = null,
  ) {
    const [lo, hi] = blobRadiusBounds(spec);
    this.rLo = lo * spec.radius;
    this.rHi = hi * spec.radius;
    this.smin = Math.min(...spec.stretch);
    this.zMin = spec.centre[2] - this.rHi;
    this.zMax = spec.centre[2] + this.rHi;
  }

  paint(c: SliceCtx): void {
    const spec = this.spec;
    const [cx, cy, cz] = spec.centre;
    const pv = 0.5 * (c.dx + c.dy + c.dz);
    const reach = this.rHi + pv;
    const pz = c.z - cz;
    if (Math.abs(pz) > reach) return;
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, cy - reach, cy + reach);
    const [i0, i1] = indexRange(c.x0, c.sx, c.nx, cx - reach, cx + reach);
    const [e0, e1, e2] = spec.axes;
    const [s0, s1, s2] = spec.stretch;
    const smin = this.smin;
    // In local (unstretched) units: surely inside below rIn, surely outside above rOut.
    const rIn = (this.rLo - pv) / smin;
    const rOut = (this.rHi + pv) / smin;
    const rIn2 = rIn > 0 ? rIn * rIn : -1;
    const rOut2 = rOut * rOut;
    const hu = c.hu;
    const mask = this.isTumour ? c.tumour : null;
    const tex = this.texture;
    const thin = Math.min(1, (6 * this.rLo) / (c.dx + c.dy + c.dz)) ** 2;
    for (let j = j0; j <= j1; j++) {
      const py = c.ay[j]! - cy;
      const row = c.nx * j;
      for (let i = i0; i <= i1; i++) {
        const px = c.ax[i]! - cx;
        const lx = (px * e0[0] + py * e0[1] + pz * e0[2]) / s0;
        const ly = (px * e1[0] + py * e1[1] + pz * e1[2]) / s1;
        const lz = (px * e2[0] + py * e2[1] + pz * e2[2]) / s2;
        const r2 = lx * lx + ly * ly + lz * lz;
        if (r2 >= rOut2) continue;
        const idx = row + i;
        if (this.paintable && !this.paintable(c, idx)) continue;
        const val = tex ? this.hu + tex(c.ax[i]!, c.ay[j]!, c.z) : this.hu;
        if (r2 <= rIn2) {
          blend(hu, idx, 1, val, this.mode);
          if (mask) mask[idx] = 1;
          continue;
        }
        const r = Math.sqrt(r2);
        const f = r > 1e-9 ? blobRadiusFactor(spec, lx / r, ly / r, lz / r) : 1;
        const d = (r - spec.radius * f) * smin;
        // The normal is taken as radial: close enough for the edge ramp of a rounded lesion.
        const n = Math.sqrt(px * px + py * py + pz * pz);
        const wn = n > 1e-9 ? (Math.abs(px) * c.dx + Math.abs(py) * c.dy + Math.abs(pz) * c.dz) / n : 2 * pv;
        const rw = spec.radius * f * smin;
        const a = thin < 1 ? thin * slabOccupancy(d + rw, rw, wn) : clamp01(0.5 - d / wn);
        if (a > 0) blend(hu, idx, a, val, this.mode);
        if (mask && d <= 0) mask[idx] = 1;
      }
    }
  }
}

/** A vertical elliptic cylinder with flat ends: vertebral bodies, discs, the spinal canal. */
export class ZCylinder implements Shape {
  readonly zMin: number;
  readonly zMax: number;

  constructor(
    private readonly cx: number,
    private readonly cy: number,
    private readonly a: number,
    private readonly b: number,
    z0: number,
    z1: number,
    private readonly hu: number,
  ) {
    this.zMin = Math.min(z0, z1);
    this.zMax = Math.max(z0, z1);
  }

  paint(c: SliceCtx): void {
    const zc = 0.5 * (this.zMin + this.zMax);
    const dzCap = Math.abs(c.z - zc) - 0.5 * (this.zMax - this.zMin);
    if (dzCap > c.dz) return;
    const h = Math.max(c.dx, c.dy);
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, this.cy - this.b - h, this.cy + this.b + h);
    const [i0, i1] = indexRange(c.x0, c.sx, c.nx, this.cx - this.a - h, this.cx + this.a + h);
    const ia = 1 / this.a;
    const ib = 1 / this.b;
    const hu = c.hu;
    for (let j = j0; j <= j1; j++) {
      const ty = (c.ay[j]! - this.cy) * ib;
      const row = c.nx * j;
      for (let i = i0; i <= i1; i++) {
        const tx = (c.ax[i]! - this.cx) * ia;
        const rho = Math.sqrt(tx * tx + ty * ty);
        const g = rho > 1e-9 ? Math.sqrt((tx * ia) ** 2 + (ty * ib) ** 2) / rho : ia;
        const dr = (rho - 1) / g;
        const al = dr > dzCap ? clamp01(0.5 - dr / h) : clamp01(0.5 - dzCap / c.dz);
        if (al > 0) hu[row + i] = hu[row + i]! + al * (this.hu - hu[row + i]!);
      }
    }
  }
}
