/**
 * Voxel filters on Float32Array volumes (x fastest: index = x + nx * (y + ny * z)), spacing in mm.
 *
 * Each filter is a pure function, kept separate and written as plain loops because a later issue
 * ports them to WGSL kernels and checks parity against these versions. The exact definitions
 * (kernel radius, normalisation, border rule, arithmetic order) are therefore part of the contract:
 *
 * - Gaussian kernels are sampled, truncated at `GAUSSIAN_TRUNCATE` σ (radius ceil(3σ) voxels per
 *   axis, σ in voxels = σ mm / spacing), normalised to sum 1, in float64. Borders clamp to the edge.
 *   Each separable pass accumulates in float64 over symmetric tap pairs (outermost first, centre
 *   last) and stores float32.
 * - Large scales may be evaluated on a lattice (latticeStep: every ⌊σ_vox/2⌋ voxels): node i of an
 *   axis with step s sits at voxel i·s (aligned to voxel 0 of the volume, never to a sub-volume's
 *   corner), and when s > 1 one node past the last voxel is kept so every voxel lies between two
 *   nodes. Values at voxels are trilinear in the nodes (corner order z, y, x; zero-weight corners
 *   skipped).
 * - Derivatives are central differences of the smoothed volume on its lattice (h = step · spacing),
 *   with clamped node indices. Hessians are scale-normalised: σ² H (σ in mm), so they are in HU.
 * - Eigenvalues of the symmetric 3×3 Hessian are in closed form, sorted by |λ| ascending.
 * - Local std is sqrt(max(0, G*I² − (G*I)²)); local min/max use boxes of half-width round(r / spacing).
 */
import type { Vec3 } from '../core/volume.js';

/**
 * Reusable float32 buffers for one computation. Fresh large typed arrays cost their page faults
 * (on the target VMs more than the filtering itself), so the feature extractor hands one of these
 * to the filters and gives buffers back when done. Contents of a taken buffer are undefined.
 * Not shared between threads; callers own its lifetime.
 */
export class Float32Scratch {
  private readonly free: ArrayBuffer[] = [];

  take(n: number): Float32Array {
    const bytes = 4 * n;
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]!.byteLength;
      if (len >= bytes && (best < 0 || len < this.free[best]!.byteLength)) best = i;
    }
    if (best < 0) return new Float32Array(n);
    const buf = this.free.splice(best, 1)[0]!;
    return new Float32Array(buf, 0, n);
  }

  give(a: Float32Array): void {
    if (a.byteOffset !== 0 || this.free.includes(a.buffer as ArrayBuffer)) return;
    this.free.push(a.buffer as ArrayBuffer);
    // Bounded: a run over scans of growing size must not keep every buffer it ever needed.
    if (this.free.length > Float32Scratch.MAX_FREE) {
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i]!.byteLength < this.free[smallest]!.byteLength) smallest = i;
      this.free.splice(smallest, 1);
    }
  }

  /** More free buffers than a slab ever holds at once. */
  static readonly MAX_FREE = 12;
}

const fresh = (n: number): Float32Array => new Float32Array(n);

export const GAUSSIAN_TRUNCATE = 3;

/** Fixed contrast scale (HU) of the Frangi-style structure measures, so they do not depend on the image. */
export const HESSIAN_CONTRAST_HU = 50;
export const FRANGI_ALPHA = 0.5;
export const FRANGI_BETA = 0.5;

export function kernelRadius(sigmaVox: number, truncate = GAUSSIAN_TRUNCATE): number {
  return sigmaVox > 0 ? Math.ceil(truncate * sigmaVox) : 0;
}

/** Sampled Gaussian, length 2r+1, sum 1 (σ ≤ 0 gives the identity kernel [1]). */
export function gaussianKernel(sigmaVox: number, truncate = GAUSSIAN_TRUNCATE): Float64Array {
  const r = kernelRadius(sigmaVox, truncate);
  const k = new Float64Array(2 * r + 1);
  if (r === 0) {
    k[0] = 1;
    return k;
  }
  let sum = 0;
  for (let t = -r; t <= r; t++) {
    const w = Math.exp(-(t * t) / (2 * sigmaVox * sigmaVox));
    k[t + r] = w;
    sum += w;
  }
  for (let t = 0; t < k.length; t++) k[t] = k[t]! / sum;
  return k;
}

/** σ in voxels per axis for σ in mm. */
export function sigmaVoxels(sigmaMm: number, spacingMm: Vec3): Vec3 {
  return [sigmaMm / spacingMm[0], sigmaMm / spacingMm[1], sigmaMm / spacingMm[2]];
}

/**
 * Lattice step per axis used for scale σ: floor(σ_vox / 2), at least 1. A Gaussian of σ ≥ 2
 * samples is smooth enough to be sampled every σ/2 and interpolated; this is what keeps 8–16 mm
 * scales cheap.
 */
export function latticeStep(sigmaMm: number, spacingMm: Vec3): Vec3 {
  const s = sigmaVoxels(sigmaMm, spacingMm);
  return [Math.max(1, Math.floor(s[0] / 2)), Math.max(1, Math.floor(s[1] / 2)), Math.max(1, Math.floor(s[2] / 2))];
}

/** Nodes per axis of the lattice with the given step (one past the end when step > 1). */
export function latticeDims(dims: Vec3, step: Vec3): Vec3 {
  const f = (n: number, s: number): number => (s === 1 ? n : Math.floor((n - 1) / s) + 2);
  return [f(dims[0], step[0]), f(dims[1], step[1]), f(dims[2], step[2])];
}

/**
 * Pass along x. Symmetric taps, acc = Σ_{t=r..1} w_t (a[c-t] + a[c+t]) + w_0 a[c], in that
 * order (every pass uses this order). Four outputs at a time, their sums in locals (registers)
 * and the tap loop inside: 1.7× faster than one float64 array of sums updated tap by tap, with
 * every value the same bit for bit (each output's sum runs in the same order).
 */
function passX(src: Float32Array, dims: Vec3, k: Float64Array, step: number, outNx: number, out: Float32Array): Float32Array {
  const [nx, ny, nz] = dims;
  const r = (k.length - 1) >> 1;
  // Row padded by r edge copies on each side and long enough for the node past the end; float32
  // holds the source values exactly.
  const span = (outNx - 1) * step + 1;
  const buf = new Float32Array(span + 2 * r);
  const inner = Math.min(nx, span);
  const w0 = k[r]!;
  for (let line = 0; line < ny * nz; line++) {
    const base = line * nx;
    buf.fill(src[base]!, 0, r);
    buf.set(src.subarray(base, base + inner), r);
    buf.fill(src[base + nx - 1]!, r + inner);
    const ob = line * outNx;
    let i = 0;
    for (; i + 3 < outNx; i += 4) {
      const c0 = r + i * step;
      const c1 = c0 + step;
      const c2 = c1 + step;
      const c3 = c2 + step;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let t = r; t >= 1; t--) {
        const w = k[r + t]!;
        a0 += w * (buf[c0 - t]! + buf[c0 + t]!);
        a1 += w * (buf[c1 - t]! + buf[c1 + t]!);
        a2 += w * (buf[c2 - t]! + buf[c2 + t]!);
        a3 += w * (buf[c3 - t]! + buf[c3 + t]!);
      }
      out[ob + i] = a0 + w0 * buf[c0]!;
      out[ob + i + 1] = a1 + w0 * buf[c1]!;
      out[ob + i + 2] = a2 + w0 * buf[c2]!;
      out[ob + i + 3] = a3 + w0 * buf[c3]!;
    }
    for (; i < outNx; i++) {
      const c = r + i * step;
      let a = 0;
      for (let t = r; t >= 1; t--) a += k[r + t]! * (buf[c - t]! + buf[c + t]!);
      out[ob + i] = a + w0 * buf[c]!;
    }
  }
  return out;
}

/**
 * One output row of the y and z passes: out[o + x] = Σ_q w[q] (src[ra[q] + x] + src[rb[q] + x]) +
 * w0 src[rc + x] for x < n, the taps in the order given (outermost first). Blocked like passX.
 */
function combineRows(src: Float32Array, ra: Int32Array, rb: Int32Array, w: Float64Array, rc: number, w0: number, n: number, out: Float32Array, o: number): void {
  const taps = ra.length;
  let x = 0;
  for (; x + 3 < n; x += 4) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let q = 0; q < taps; q++) {
      const wq = w[q]!;
      const pa = ra[q]! + x;
      const pb = rb[q]! + x;
      a0 += wq * (src[pa]! + src[pb]!);
      a1 += wq * (src[pa + 1]! + src[pb + 1]!);
      a2 += wq * (src[pa + 2]! + src[pb + 2]!);
      a3 += wq * (src[pa + 3]! + src[pb + 3]!);
    }
    out[o + x] = a0 + w0 * src[rc + x]!;
    out[o + x + 1] = a1 + w0 * src[rc + x + 1]!;
    out[o + x + 2] = a2 + w0 * src[rc + x + 2]!;
    out[o + x + 3] = a3 + w0 * src[rc + x + 3]!;
  }
  for (; x < n; x++) {
    let a = 0;
    for (let q = 0; q < taps; q++) a += w[q]! * (src[ra[q]! + x]! + src[rb[q]! + x]!);
    out[o + x] = a + w0 * src[rc + x]!;
  }
}

/**
 * Starts (in samples) of the rows a pass combines for output position c along an axis of n
 * positions `stride` apart (clamped at the ends), outermost tap first; weights in the same order.
 */
function tapRows(c: number, n: number, stride: number, base: number, ra: Int32Array, rb: Int32Array): void {
  const r = ra.length;
  for (let q = 0; q < r; q++) {
    const t = r - q;
    const a = c - t;
    const b = c + t;
    ra[q] = base + (a < 0 ? 0 : a >= n ? n - 1 : a) * stride;
    rb[q] = base + (b < 0 ? 0 : b >= n ? n - 1 : b) * stride;
  }
}

/** Outer tap weights, outermost first: k[2r], ..., k[r + 1]. */
function outerWeights(k: Float64Array): Float64Array {
  const r = (k.length - 1) >> 1;
  return Float64Array.from({ length: r }, (_, q) => k[2 * r - q]!);
}

/** Pass along y (rows of length nx). */
function passY(src: Float32Array, dims: Vec3, k: Float64Array, step: number, outNy: number, out: Float32Array): Float32Array {
  const [nx, ny, nz] = dims;
  const r = (k.length - 1) >> 1;
  const w = outerWeights(k);
  const ra = new Int32Array(r);
  const rb = new Int32Array(r);
  for (let z = 0; z < nz; z++) {
    const sb = z * nx * ny;
    const ob = z * nx * outNy;
    for (let j = 0; j < outNy; j++) {
      const c = j * step;
      tapRows(c, ny, nx, sb, ra, rb);
      combineRows(src, ra, rb, w, sb + (c >= ny ? ny - 1 : c) * nx, k[r]!, nx, out, ob + j * nx);
    }
  }
  return out;
}

/** Pass along z (whole planes). */
function passZ(src: Float32Array, dims: Vec3, k: Float64Array, step: number, outNz: number, out: Float32Array): Float32Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const r = (k.length - 1) >> 1;
  const w = outerWeights(k);
  const ra = new Int32Array(r);
  const rb = new Int32Array(r);
  for (let l = 0; l < outNz; l++) {
    const c = l * step;
    tapRows(c, nz, plane, 0, ra, rb);
    combineRows(src, ra, rb, w, (c >= nz ? nz - 1 : c) * plane, k[r]!, plane, out, l * plane);
  }
  return out;
}

export interface LatticeVolume {
  data: Float32Array;
  /** Nodes per axis. */
  dims: Vec3;
  /** Voxels between nodes per axis. */
  step: Vec3;
}

/**
 * Separable Gaussian smoothing with σ in mm (per-axis σ in voxels from the spacing), truncated
 * kernels, clamp-to-edge borders; evaluated on the lattice of `step` (default: every voxel).
 */
export function gaussianSmooth(
  src: Float32Array,
  dims: Vec3,
  spacingMm: Vec3,
  sigmaMm: number,
  step: Vec3 = [1, 1, 1],
  scratch?: Float32Scratch,
): LatticeVolume {
  const take = scratch ? (n: number) => scratch.take(n) : fresh;
  const sv = sigmaVoxels(sigmaMm, spacingMm);
  const ld = latticeDims(dims, step);
  const a = passX(src, dims, gaussianKernel(sv[0]), step[0], ld[0], take(ld[0] * dims[1] * dims[2]));
  const b = passY(a, [ld[0], dims[1], dims[2]], gaussianKernel(sv[1]), step[1], ld[1], take(ld[0] * ld[1] * dims[2]));
  scratch?.give(a);
  const c = passZ(b, [ld[0], ld[1], dims[2]], gaussianKernel(sv[2]), step[2], ld[2], take(ld[0] * ld[1] * ld[2]));
  scratch?.give(b);
  return { data: c, dims: ld, step: [...step] as Vec3 };
}

/**
 * gaussianSmooth (step 1) evaluated only at the given voxels (indices into the volume): the x and
 * y passes run on the whole volume, the z pass only where asked, with the same arithmetic as the
 * full pass so the values are identical. For quantities that are sampled, never differentiated.
 */
export function gaussianSmoothAt(
  src: Float32Array,
  dims: Vec3,
  spacingMm: Vec3,
  sigmaMm: number,
  voxels: Int32Array,
  scratch?: Float32Scratch,
): Float32Array {
  const [nx, ny, nz] = dims;
  const take = scratch ? (n: number) => scratch.take(n) : fresh;
  const sv = sigmaVoxels(sigmaMm, spacingMm);
  const a = passX(src, dims, gaussianKernel(sv[0]), 1, nx, take(src.length));
  const b = passY(a, dims, gaussianKernel(sv[1]), 1, ny, take(src.length));
  scratch?.give(a);
  const k = gaussianKernel(sv[2]);
  const r = (k.length - 1) >> 1;
  const plane = nx * ny;
  const out = new Float32Array(voxels.length);
  for (let j = 0; j < voxels.length; j++) {
    const v = voxels[j]!;
    const p = v % plane;
    const c = (v - p) / plane;
    let acc = 0;
    for (let t = r; t >= 1; t--) {
      let za = c - t;
      let zb = c + t;
      za = za < 0 ? 0 : za >= nz ? nz - 1 : za;
      zb = zb < 0 ? 0 : zb >= nz ? nz - 1 : zb;
      acc += k[r + t]! * (b[za * plane + p]! + b[zb * plane + p]!);
    }
    out[j] = acc + k[r]! * b[c * plane + p]!;
  }
  scratch?.give(b);
  return out;
}

/** Node value with node indices clamped to the lattice. */
function at(v: Float32Array, d: Vec3, x: number, y: number, z: number): number {
  x = x < 0 ? 0 : x >= d[0] ? d[0] - 1 : x;
  y = y < 0 ? 0 : y >= d[1] ? d[1] - 1 : y;
  z = z < 0 ? 0 : z >= d[2] ? d[2] - 1 : z;
  return v[x + d[0] * (y + d[1] * z)]!;
}

/** Node spacing in mm per axis. */
export function nodeSpacingMm(spacingMm: Vec3, step: Vec3): Vec3 {
  return [spacingMm[0] * step[0], spacingMm[1] * step[1], spacingMm[2] * step[2]];
}

/** Central-difference gradient (HU/mm) at node (x, y, z) into out[0..2]. */
export function gradientAt(s: LatticeVolume, hMm: Vec3, x: number, y: number, z: number, out: Float64Array): void {
  const v = s.data;
  const d = s.dims;
  const sx = 1;
  const sy = d[0];
  const sz = d[0] * d[1];
  const i = x + sy * y + sz * z;
  if (x > 0 && y > 0 && z > 0 && x < d[0] - 1 && y < d[1] - 1 && z < d[2] - 1) {
    // Interior: the same values as the clamped reads below, without the clamping.
    out[0] = (v[i + sx]! - v[i - sx]!) / (2 * hMm[0]);
    out[1] = (v[i + sy]! - v[i - sy]!) / (2 * hMm[1]);
    out[2] = (v[i + sz]! - v[i - sz]!) / (2 * hMm[2]);
    return;
  }
  out[0] = (at(v, d, x + 1, y, z) - at(v, d, x - 1, y, z)) / (2 * hMm[0]);
  out[1] = (at(v, d, x, y + 1, z) - at(v, d, x, y - 1, z)) / (2 * hMm[1]);
  out[2] = (at(v, d, x, y, z + 1) - at(v, d, x, y, z - 1)) / (2 * hMm[2]);
}

/**
 * Central-difference Hessian (HU/mm²) at node (x, y, z) into out = [xx, yy, zz, xy, xz, yz].
 */
export function hessianAt(s: LatticeVolume, hMm: Vec3, x: number, y: number, z: number, out: Float64Array): void {
  const v = s.data;
  const d = s.dims;
  if (x > 0 && y > 0 && z > 0 && x < d[0] - 1 && y < d[1] - 1 && z < d[2] - 1) {
    // Interior: the same values as the clamped reads below, without the clamping.
    const sy = d[0];
    const sz = d[0] * d[1];
    const i = x + sy * y + sz * z;
    const c = v[i]!;
    out[0] = (v[i + 1]! - 2 * c + v[i - 1]!) / (hMm[0] * hMm[0]);
    out[1] = (v[i + sy]! - 2 * c + v[i - sy]!) / (hMm[1] * hMm[1]);
    out[2] = (v[i + sz]! - 2 * c + v[i - sz]!) / (hMm[2] * hMm[2]);
    out[3] = (v[i + 1 + sy]! - v[i + 1 - sy]! - v[i - 1 + sy]! + v[i - 1 - sy]!) / (4 * hMm[0] * hMm[1]);
    out[4] = (v[i + 1 + sz]! - v[i + 1 - sz]! - v[i - 1 + sz]! + v[i - 1 - sz]!) / (4 * hMm[0] * hMm[2]);
    out[5] = (v[i + sy + sz]! - v[i + sy - sz]! - v[i - sy + sz]! + v[i - sy - sz]!) / (4 * hMm[1] * hMm[2]);
    return;
  }
  const c = at(v, d, x, y, z);
  out[0] = (at(v, d, x + 1, y, z) - 2 * c + at(v, d, x - 1, y, z)) / (hMm[0] * hMm[0]);
  out[1] = (at(v, d, x, y + 1, z) - 2 * c + at(v, d, x, y - 1, z)) / (hMm[1] * hMm[1]);
  out[2] = (at(v, d, x, y, z + 1) - 2 * c + at(v, d, x, y, z - 1)) / (hMm[2] * hMm[2]);
  out[3] =
    (at(v, d, x + 1, y + 1, z) - at(v, d, x + 1, y - 1, z) - at(v, d, x - 1, y + 1, z) + at(v, d, x - 1, y - 1, z)) /
    (4 * hMm[0] * hMm[1]);
  out[4] =
    (at(v, d, x + 1, y, z + 1) - at(v, d, x + 1, y, z - 1) - at(v, d, x - 1, y, z + 1) + at(v, d, x - 1, y, z - 1)) /
    (4 * hMm[0] * hMm[2]);
  out[5] =
    (at(v, d, x, y + 1, z + 1) - at(v, d, x, y + 1, z - 1) - at(v, d, x, y - 1, z + 1) + at(v, d, x, y - 1, z - 1)) /
    (4 * hMm[1] * hMm[2]);
}

/**
 * Eigenvalues of the symmetric matrix [[a, d, e], [d, b, f], [e, f, c]] in closed form
 * (trigonometric solution of the characteristic cubic), sorted by |λ| ascending into out[0..2].
 */
export function symmetricEigenvalues3(a: number, b: number, c: number, d: number, e: number, f: number, out: Float64Array): void {
  const p1 = d * d + e * e + f * f;
  let l0: number;
  let l1: number;
  let l2: number;
  const q = (a + b + c) / 3;
  const p2 = (a - q) * (a - q) + (b - q) * (b - q) + (c - q) * (c - q) + 2 * p1;
  if (p1 === 0 || p2 <= 1e-30 * (q * q + 1)) {
    l0 = a;
    l1 = b;
    l2 = c;
  } else {
    const p = Math.sqrt(p2 / 6);
    const ba = (a - q) / p;
    const bb = (b - q) / p;
    const bc = (c - q) / p;
    const bd = d / p;
    const be = e / p;
    const bf = f / p;
    let r = (ba * (bb * bc - bf * bf) - bd * (bd * bc - bf * be) + be * (bd * bf - bb * be)) / 2;
    r = r < -1 ? -1 : r > 1 ? 1 : r;
    const phi = Math.acos(r) / 3;
    l0 = q + 2 * p * Math.cos(phi);
    l2 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
    l1 = 3 * q - l0 - l2;
  }
  // Sort three values by magnitude.
  let t: number;
  if (Math.abs(l0) > Math.abs(l1)) { t = l0; l0 = l1; l1 = t; }
  if (Math.abs(l1) > Math.abs(l2)) { t = l1; l1 = l2; l2 = t; }
  if (Math.abs(l0) > Math.abs(l1)) { t = l0; l0 = l1; l1 = t; }
  out[0] = l0;
  out[1] = l1;
  out[2] = l2;
}

/**
 * Frangi vesselness for bright tubes from eigenvalues sorted |λ1| ≤ |λ2| ≤ |λ3| (scale-normalised,
 * HU): 0 unless λ2, λ3 < 0; else (1 - exp(-Ra²/2α²)) exp(-Rb²/2β²) (1 - exp(-S²/2c²)) with
 * Ra = |λ2|/|λ3|, Rb = |λ1|/sqrt(|λ2 λ3|), S = ‖λ‖, c = HESSIAN_CONTRAST_HU. In [0, 1].
 */
export function vesselnessFromEigen(l1: number, l2: number, l3: number): number {
  if (l2 >= 0 || l3 >= 0) return 0;
  const a2 = Math.abs(l2);
  const a3 = Math.abs(l3);
  const ra = a2 / a3;
  const rb = Math.abs(l1) / Math.sqrt(a2 * a3);
  const s2 = l1 * l1 + l2 * l2 + l3 * l3;
  const c = HESSIAN_CONTRAST_HU;
  return (
    (1 - Math.exp(-(ra * ra) / (2 * FRANGI_ALPHA * FRANGI_ALPHA))) *
    Math.exp(-(rb * rb) / (2 * FRANGI_BETA * FRANGI_BETA)) *
    (1 - Math.exp(-s2 / (2 * c * c)))
  );
}

/**
 * Bright-blob strength (HU): λ1²/|λ3| when all three eigenvalues are negative (the weakest
 * curvature times how round the blob is), else 0. Scale-normalised, so it peaks over σ near
 * σ = radius/√3 for a ball.
 */
export function blobnessFromEigen(l1: number, l2: number, l3: number): number {
  if (l1 >= 0 || l2 >= 0 || l3 >= 0) return 0;
  return (l1 * l1) / Math.abs(l3);
}

/**
 * Bright-sheet measure (pleura, fissures): 0 unless λ3 < 0; else exp(-Rs²/2α²) (1 - exp(-S²/2c²))
 * with Rs = |λ2|/|λ3|. In [0, 1].
 */
export function platenessFromEigen(l1: number, l2: number, l3: number): number {
  if (l3 >= 0) return 0;
  const rs = Math.abs(l2) / Math.abs(l3);
  const s2 = l1 * l1 + l2 * l2 + l3 * l3;
  const c = HESSIAN_CONTRAST_HU;
  return Math.exp(-(rs * rs) / (2 * FRANGI_ALPHA * FRANGI_ALPHA)) * (1 - Math.exp(-s2 / (2 * c * c)));
}

/** Quantities derived from the Hessian at one node. */
export interface HessianMeasures {
  /** σ² ΔG*I (HU); negative at bright blobs. */
  log: number;
  vesselness: number;
  blobness: number;
  plateness: number;
}

/** Scale-normalised Hessian measures at node (x, y, z) of a smoothed lattice volume. */
export function hessianMeasuresAt(
  s: LatticeVolume,
  hMm: Vec3,
  sigmaMm: number,
  x: number,
  y: number,
  z: number,
  h: Float64Array,
  eig: Float64Array,
): HessianMeasures {
  hessianAt(s, hMm, x, y, z, h);
  const n = sigmaMm * sigmaMm;
  symmetricEigenvalues3(n * h[0]!, n * h[1]!, n * h[2]!, n * h[3]!, n * h[4]!, n * h[5]!, eig);
  const l1 = eig[0]!;
  const l2 = eig[1]!;
  const l3 = eig[2]!;
  return {
    log: n * (h[0]! + h[1]! + h[2]!),
    vesselness: vesselnessFromEigen(l1, l2, l3),
    blobness: blobnessFromEigen(l1, l2, l3),
    plateness: platenessFromEigen(l1, l2, l3),
  };
}

/** Gradient magnitude (HU/mm) of the σ-smoothed volume at every voxel. */
export function gradientMagnitude(src: Float32Array, dims: Vec3, spacingMm: Vec3, sigmaMm: number): Float32Array {
  const s = gaussianSmooth(src, dims, spacingMm, sigmaMm);
  return gradientMagnitudeOfSmoothed(s, spacingMm);
}

/** Gradient magnitude (HU/mm) at every node of an already smoothed lattice volume. */
export function gradientMagnitudeOfSmoothed(s: LatticeVolume, spacingMm: Vec3, scratch?: Float32Scratch): Float32Array {
  const h = nodeSpacingMm(spacingMm, s.step);
  const [nx, ny, nz] = s.dims;
  const out = scratch ? scratch.take(nx * ny * nz) : new Float32Array(nx * ny * nz);
  const g = new Float64Array(3);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        gradientAt(s, h, x, y, z, g);
        out[i] = Math.sqrt(g[0]! * g[0]! + g[1]! * g[1]! + g[2]! * g[2]!);
      }
    }
  }
  return out;
}

/** Full-volume Hessian measures at scale σ (every voxel; the feature extractor evaluates only requested voxels). */
export function hessianMeasures(
  src: Float32Array,
  dims: Vec3,
  spacingMm: Vec3,
  sigmaMm: number,
): { log: Float32Array; vesselness: Float32Array; blobness: Float32Array; plateness: Float32Array } {
  const s = gaussianSmooth(src, dims, spacingMm, sigmaMm);
  const h = nodeSpacingMm(spacingMm, s.step);
  const n = src.length;
  const log = new Float32Array(n);
  const vesselness = new Float32Array(n);
  const blobness = new Float32Array(n);
  const plateness = new Float32Array(n);
  const hb = new Float64Array(6);
  const eb = new Float64Array(3);
  let i = 0;
  for (let z = 0; z < dims[2]; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[0]; x++, i++) {
        const m = hessianMeasuresAt(s, h, sigmaMm, x, y, z, hb, eb);
        log[i] = m.log;
        vesselness[i] = m.vesselness;
        blobness[i] = m.blobness;
        plateness[i] = m.plateness;
      }
    }
  }
  return { log, vesselness, blobness, plateness };
}

/** Scale-normalised Laplacian of Gaussian σ² Δ(G_σ * I) (HU) at every voxel. */
export function laplacianOfGaussian(src: Float32Array, dims: Vec3, spacingMm: Vec3, sigmaMm: number): Float32Array {
  return hessianMeasures(src, dims, spacingMm, sigmaMm).log;
}

/** Squares of a volume (float32), the second moment's input. */
export function squared(src: Float32Array, scratch?: Float32Scratch): Float32Array {
  const out = scratch ? scratch.take(src.length) : new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! * src[i]!;
  return out;
}

/** Gaussian-weighted local std from the smoothed first and second moments: sqrt(max(0, m2 - m1²)). */
export function stdFromMoments(m1: number, m2: number): number {
  const v = m2 - m1 * m1;
  return v > 0 ? Math.sqrt(v) : 0;
}

/** Gaussian-weighted local mean and std (σ in mm) at every voxel. */
export function localMeanStd(src: Float32Array, dims: Vec3, spacingMm: Vec3, sigmaMm: number): { mean: Float32Array; std: Float32Array } {
  const m1 = gaussianSmooth(src, dims, spacingMm, sigmaMm).data;
  const m2 = gaussianSmooth(squared(src), dims, spacingMm, sigmaMm).data;
  const std = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) std[i] = stdFromMoments(m1[i]!, m2[i]!);
  return { mean: m1, std };
}

/** Box half-width in voxels per axis for a radius in mm (rounded, at least 0). */
export function boxRadiusVoxels(radiusMm: number, spacingMm: Vec3): Vec3 {
  return [Math.round(radiusMm / spacingMm[0]), Math.round(radiusMm / spacingMm[1]), Math.round(radiusMm / spacingMm[2])];
}

/**
 * Running min or max over a window of 2r+1 samples along one axis (van Herk / Gil-Werman: prefix
 * and suffix extrema over blocks of the window's length, three comparisons per sample whatever r),
 * vectorised over the other axes: the axis is seen as `len` positions of `width` contiguous
 * samples, `stride` apart, in `count` independent groups `groupStride` apart. The window is cut
 * at the ends (the same as clamping to the edge). Exact, so any algorithm or slab agrees.
 */
function extremumAxis(
  src: Float32Array,
  out: Float32Array,
  len: number,
  width: number,
  stride: number,
  count: number,
  groupStride: number,
  r: number,
  isMax: boolean,
): void {
  if (r === 0) {
    out.set(src);
    return;
  }
  // Chunks of the vector width keep the block buffers in cache.
  const chunk = 1024;
  if (width > chunk) {
    for (let off = 0; off < width; off += chunk) {
      extremumAxisChunk(src, out, len, Math.min(chunk, width - off), stride, count, groupStride, r, isMax, off);
    }
    return;
  }
  extremumAxisChunk(src, out, len, width, stride, count, groupStride, r, isMax, 0);
}

function extremumAxisChunk(
  src: Float32Array,
  out: Float32Array,
  len: number,
  width: number,
  stride: number,
  count: number,
  groupStride: number,
  r: number,
  isMax: boolean,
  offset: number,
): void {
  const w = 2 * r + 1;
  const padded = len + 2 * r;
  const total = Math.ceil(padded / w) * w;
  const g = new Float32Array(total * width);
  const h = new Float32Array(total * width);
  const fill = isMax ? -Infinity : Infinity;
  // Position q of the padded axis reads source position clamp(q - r) (or the fill past the pad).
  const rowOf = (q: number): number => {
    const x = q - r;
    return x < 0 ? 0 : x < len ? x : x < len + r ? len - 1 : -1;
  };
  for (let grp = 0; grp < count; grp++) {
    const gb = grp * groupStride + offset;
    for (let k = 0; k < total; k += w) {
      for (let q = k; q < k + w; q++) {
        const sr = rowOf(q);
        const go = q * width;
        const so = gb + sr * stride;
        if (q === k) {
          if (sr < 0) g.fill(fill, go, go + width);
          else for (let i = 0; i < width; i++) g[go + i] = src[so + i]!;
        } else if (sr < 0) {
          for (let i = 0; i < width; i++) g[go + i] = g[go - width + i]!;
        } else if (isMax) {
          for (let i = 0; i < width; i++) {
            const a = g[go - width + i]!;
            const c = src[so + i]!;
            g[go + i] = a > c ? a : c;
          }
        } else {
          for (let i = 0; i < width; i++) {
            const a = g[go - width + i]!;
            const c = src[so + i]!;
            g[go + i] = a < c ? a : c;
          }
        }
      }
      for (let q = k + w - 1; q >= k; q--) {
        const sr = rowOf(q);
        const ho = q * width;
        const so = gb + sr * stride;
        if (q === k + w - 1) {
          if (sr < 0) h.fill(fill, ho, ho + width);
          else for (let i = 0; i < width; i++) h[ho + i] = src[so + i]!;
        } else if (sr < 0) {
          for (let i = 0; i < width; i++) h[ho + i] = h[ho + width + i]!;
        } else if (isMax) {
          for (let i = 0; i < width; i++) {
            const a = h[ho + width + i]!;
            const c = src[so + i]!;
            h[ho + i] = a > c ? a : c;
          }
        } else {
          for (let i = 0; i < width; i++) {
            const a = h[ho + width + i]!;
            const c = src[so + i]!;
            h[ho + i] = a < c ? a : c;
          }
        }
      }
    }
    // The window [x, x + w - 1] in padded positions is centred on source position x.
    for (let x = 0; x < len; x++) {
      const ho = x * width;
      const go = (x + w - 1) * width;
      const oo = gb + x * stride;
      if (isMax) {
        for (let i = 0; i < width; i++) {
          const a = h[ho + i]!;
          const c = g[go + i]!;
          out[oo + i] = a > c ? a : c;
        }
      } else {
        for (let i = 0; i < width; i++) {
          const a = h[ho + i]!;
          const c = g[go + i]!;
          out[oo + i] = a < c ? a : c;
        }
      }
    }
  }
}

/** extremumAxis along x (contiguous rows), scalar per row. */
function extremumRows(src: Float32Array, out: Float32Array, nx: number, rows: number, r: number, isMax: boolean): void {
  if (r === 0) {
    out.set(src);
    return;
  }
  const w = 2 * r + 1;
  const total = Math.ceil((nx + 2 * r) / w) * w;
  const line = new Float32Array(total);
  const g = new Float32Array(total);
  const h = new Float32Array(total);
  const fill = isMax ? -Infinity : Infinity;
  for (let row = 0; row < rows; row++) {
    const base = row * nx;
    const first = src[base]!;
    const last = src[base + nx - 1]!;
    for (let q = 0; q < r; q++) line[q] = first;
    line.set(src.subarray(base, base + nx), r);
    for (let q = r + nx; q < r + nx + r; q++) line[q] = last;
    for (let q = nx + 2 * r; q < total; q++) line[q] = fill;
    if (isMax) {
      for (let k = 0; k < total; k += w) {
        let m = -Infinity;
        for (let q = k; q < k + w; q++) {
          const c = line[q]!;
          m = m > c ? m : c;
          g[q] = m;
        }
        m = -Infinity;
        for (let q = k + w - 1; q >= k; q--) {
          const c = line[q]!;
          m = m > c ? m : c;
          h[q] = m;
        }
      }
      for (let x = 0; x < nx; x++) {
        const a = h[x]!;
        const c = g[x + w - 1]!;
        out[base + x] = a > c ? a : c;
      }
    } else {
      for (let k = 0; k < total; k += w) {
        let m = Infinity;
        for (let q = k; q < k + w; q++) {
          const c = line[q]!;
          m = m < c ? m : c;
          g[q] = m;
        }
        m = Infinity;
        for (let q = k + w - 1; q >= k; q--) {
          const c = line[q]!;
          m = m < c ? m : c;
          h[q] = m;
        }
      }
      for (let x = 0; x < nx; x++) {
        const a = h[x]!;
        const c = g[x + w - 1]!;
        out[base + x] = a < c ? a : c;
      }
    }
  }
}

/**
 * Local minimum or maximum over a box of half-width `radiusMm` per axis (rounded to voxels),
 * separable; exact, so any slab or algorithm gives identical values.
 */
export function localExtremum(
  src: Float32Array,
  dims: Vec3,
  spacingMm: Vec3,
  radiusMm: number,
  mode: 'min' | 'max',
  scratch?: Float32Scratch,
): Float32Array {
  const [nx, ny, nz] = dims;
  const r = boxRadiusVoxels(radiusMm, spacingMm);
  const isMax = mode === 'max';
  const take = scratch ? (n: number) => scratch.take(n) : fresh;
  const a = take(src.length);
  const b = take(src.length);
  // x: row by row; y: each slice is a group of rows; z: one group of planes.
  extremumRows(src, a, nx, ny * nz, r[0], isMax);
  extremumAxis(a, b, ny, nx, nx, nz, nx * ny, r[1], isMax);
  extremumAxis(b, a, nz, nx * ny, nx * ny, 1, 0, r[2], isMax);
  scratch?.give(b);
  return a;
}

/**
 * Texture: Gaussian-weighted (σ_window) mean and std of the gradient magnitude at σ_grad — how
 * busy the edges around a voxel are (vessel bundles and fissures vs. the smooth inside of a tumour).
 */
export function gradientTexture(
  src: Float32Array,
  dims: Vec3,
  spacingMm: Vec3,
  sigmaGradMm: number,
  sigmaWindowMm: number,
): { mean: Float32Array; std: Float32Array } {
  const g = gradientMagnitude(src, dims, spacingMm, sigmaGradMm);
  return localMeanStd(g, dims, spacingMm, sigmaWindowMm);
}
