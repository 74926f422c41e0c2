/**
 * Filter features of the requested voxels of one z-slab, computed on sub-volumes ("regions") of the
 * CT around the slab's voxels. Run in worker threads or in-process, with identical results.
 *
 * Why results do not depend on slabs: every value is defined on the whole volume (clamp-to-edge at
 * the volume's faces, lattices aligned to voxel 0). A region is the slab's box of requested voxels
 * grown by the job's halo — at least the support of everything chained to produce a value — and
 * cut only by the volume's own faces, so inside the slab it reproduces the whole-volume values
 * with the same arithmetic in the same order. Values near a region's cut faces are wrong, but only
 * halo voxels see them.
 */
import type { Vec3 } from '../core/volume.js';
import type { FeatureSpec } from './catalog.js';
import { HU_CLAMP } from './catalog.js';
import {
  Float32Scratch,
  boxRadiusVoxels,
  gaussianSmooth,
  gaussianSmoothAt,
  gradientAt,
  gradientMagnitudeOfSmoothed,
  hessianMeasuresAt,
  kernelRadius,
  latticeStep,
  localExtremum,
  nodeSpacingMm,
  sigmaVoxels,
  squared,
  stdFromMoments,
  type LatticeVolume,
} from './filters.js';

/** Columns a Gaussian job fills (-1 = not requested). */
export interface GaussianJob {
  type: 'gaussian';
  sigmaMm: number;
  mean: number;
  std: number;
  grad: number;
  log: number;
  vesselness: number;
  blobness: number;
  plateness: number;
}

export interface ExtremumJob {
  type: 'extremum';
  mode: 'min' | 'max';
  radiusMm: number;
  column: number;
}

export interface TextureJob {
  type: 'texture';
  sigmaGradMm: number;
  sigmaWindowMm: number;
  mean: number;
  std: number;
}

export interface HuJob {
  type: 'hu';
  column: number;
}

export type Job = GaussianJob | ExtremumJob | TextureJob | HuJob;

/**
 * Groups filter features into jobs that share their expensive part (one smoothing per σ feeds
 * mean, gradient and Hessian measures). `columns[k]` is the output column of `specs[k]`.
 */
export function planJobs(specs: readonly FeatureSpec[], columns: readonly number[]): Job[] {
  const jobs: Job[] = [];
  const gauss = new Map<number, GaussianJob>();
  const tex = new Map<string, TextureJob>();
  specs.forEach((spec, k) => {
    const col = columns[k]!;
    switch (spec.kind) {
      case 'hu':
        jobs.push({ type: 'hu', column: col });
        break;
      case 'mean':
      case 'std':
      case 'grad':
      case 'log':
      case 'vesselness':
      case 'blobness':
      case 'plateness': {
        let j = gauss.get(spec.sigmaMm);
        if (!j) {
          j = { type: 'gaussian', sigmaMm: spec.sigmaMm, mean: -1, std: -1, grad: -1, log: -1, vesselness: -1, blobness: -1, plateness: -1 };
          gauss.set(spec.sigmaMm, j);
          jobs.push(j);
        }
        j[spec.kind] = col;
        break;
      }
      case 'min':
      case 'max':
        jobs.push({ type: 'extremum', mode: spec.kind, radiusMm: spec.radiusMm, column: col });
        break;
      case 'texture_mean':
      case 'texture_std': {
        const key = `${spec.sigmaGradMm}/${spec.sigmaWindowMm}`;
        let j = tex.get(key);
        if (!j) {
          j = { type: 'texture', sigmaGradMm: spec.sigmaGradMm, sigmaWindowMm: spec.sigmaWindowMm, mean: -1, std: -1 };
          tex.set(key, j);
          jobs.push(j);
        }
        j[spec.kind === 'texture_mean' ? 'mean' : 'std'] = col;
        break;
      }
      case 'context':
        break;
    }
  });
  return jobs;
}

/** Halo (voxels per axis) a job needs around the voxels it evaluates, and its lattice step. */
export function jobSupport(job: Job, spacingMm: Vec3): { halo: Vec3; step: Vec3 } {
  switch (job.type) {
    case 'hu':
      return { halo: [0, 0, 0], step: [1, 1, 1] };
    case 'extremum':
      return { halo: boxRadiusVoxels(job.radiusMm, spacingMm), step: [1, 1, 1] };
    case 'gaussian': {
      // Smoothing support + interpolation cell (s) + central difference on the lattice (s).
      const sv = sigmaVoxels(job.sigmaMm, spacingMm);
      const step = latticeStep(job.sigmaMm, spacingMm);
      const halo = [0, 1, 2].map((a) => kernelRadius(sv[a]!) + 2 * step[a]!) as Vec3;
      return { halo, step };
    }
    case 'texture': {
      const sg = sigmaVoxels(job.sigmaGradMm, spacingMm);
      const sw = sigmaVoxels(job.sigmaWindowMm, spacingMm);
      const step = latticeStep(job.sigmaWindowMm, spacingMm);
      const halo = [0, 1, 2].map((a) => kernelRadius(sg[a]!) + 1 + kernelRadius(sw[a]!) + 2 * step[a]!) as Vec3;
      return { halo, step };
    }
  }
}

export interface SlabTask {
  /**
   * CT (HU, already clamped to HU_CLAMP) on `ctBox`, a box of the volume that holds every job's
   * region for these voxels (see ctBoxFor), x fastest.
   */
  ct: Float32Array;
  ctBox: Region;
  /** Dims of the whole volume (its faces are where borders clamp). */
  dims: Vec3;
  spacingMm: Vec3;
  /** Requested voxel indices (whole list). */
  voxels: Int32Array;
  /** Positions in `voxels` that belong to this slab. */
  members: Int32Array;
  jobs: readonly Job[];
  /** Output: row k at rows[k * stride ...]. */
  rows: Float32Array;
  stride: number;
  /** Buffers to reuse (across slabs of one thread); a fresh one when absent. */
  scratch?: Float32Scratch;
}

/** A box of the volume: first voxel and size per axis. */
export interface Region {
  lo: Vec3;
  dims: Vec3;
}

/**
 * The box of the CT that the jobs need for these voxels (their bounding box grown by the largest
 * halo and lattice step, cut by the volume): what extractFeatures copies for the slabs.
 */
export function ctBoxFor(voxels: Int32Array, dims: Vec3, jobs: readonly Job[], spacingMm: Vec3): Region {
  const bMin: Vec3 = [Infinity, Infinity, Infinity];
  const bMax: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let k = 0; k < voxels.length; k++) {
    const [x, y, z] = voxelCoords(voxels[k]!, dims);
    bMin[0] = Math.min(bMin[0], x);
    bMin[1] = Math.min(bMin[1], y);
    bMin[2] = Math.min(bMin[2], z);
    bMax[0] = Math.max(bMax[0], x);
    bMax[1] = Math.max(bMax[1], y);
    bMax[2] = Math.max(bMax[2], z);
  }
  const grow: Vec3 = [0, 0, 0];
  for (const j of jobs) {
    const { halo, step } = jobSupport(j, spacingMm);
    // A region's start is aligned down to its lattice step: up to step - 1 more voxels.
    for (let a = 0; a < 3; a++) grow[a] = Math.max(grow[a]!, halo[a]! + step[a]! - 1);
  }
  const lo: Vec3 = [0, 0, 0];
  const size: Vec3 = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    lo[a] = Math.max(0, bMin[a]! - grow[a]!);
    size[a] = Math.min(dims[a]! - 1, bMax[a]! + grow[a]!) - lo[a]! + 1;
  }
  return { lo, dims: size };
}

/** Copies the CT's box into `out`, clamping HU (NaN becomes the lower clamp). */
export function copyClampedBox(ct: ArrayLike<number>, dims: Vec3, box: Region, out: Float32Array): Float32Array {
  const [rx, ry, rz] = box.dims;
  const lo = HU_CLAMP[0];
  const hi = HU_CLAMP[1];
  let o = 0;
  for (let z = 0; z < rz; z++) {
    for (let y = 0; y < ry; y++) {
      const row = box.lo[0] + dims[0] * (box.lo[1] + y + dims[1] * (box.lo[2] + z));
      for (let x = 0; x < rx; x++, o++) {
        const v = ct[row + x]!;
        out[o] = v >= lo ? (v <= hi ? v : hi) : lo;
      }
    }
  }
  return out;
}

/** The region for a job: the voxels' box grown by the halo, start aligned to the lattice, cut by the volume. */
function regionFor(boxMin: Vec3, boxMax: Vec3, halo: Vec3, step: Vec3, dims: Vec3): Region {
  const lo: Vec3 = [0, 0, 0];
  const size: Vec3 = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    let l = Math.max(0, boxMin[a]! - halo[a]!);
    l = Math.floor(l / step[a]!) * step[a]!;
    const h = Math.min(dims[a]! - 1, boxMax[a]! + halo[a]!);
    lo[a] = l;
    size[a] = h - l + 1;
  }
  return { lo, dims: size };
}

/**
 * Lazily evaluated node values of a lattice quantity, interpolated trilinearly at voxels.
 * `evalNode` writes the node's outputs into `vals` at [node * width ...].
 */
class NodeCache {
  readonly vals: Float32Array;
  private readonly done: Uint8Array;
  constructor(
    private readonly ld: Vec3,
    private readonly width: number,
    private readonly evalNode: (x: number, y: number, z: number, out: Float32Array, at: number) => void,
  ) {
    const n = ld[0] * ld[1] * ld[2];
    this.vals = new Float32Array(n * width);
    this.done = new Uint8Array(n);
  }

  /**
   * Interpolates output channel values at region voxel (x, y, z) into `out` (length width).
   * Corners of zero weight are skipped; the weights depend only on the voxel's position on the
   * volume's lattice, so every slab takes the same path.
   */
  interpolate(x: number, y: number, z: number, step: Vec3, out: Float64Array): void {
    const ld = this.ld;
    // Lower node and fraction per axis (node i sits at voxel i·step).
    const ix = Math.floor(x / step[0]);
    const iy = Math.floor(y / step[1]);
    const iz = Math.floor(z / step[2]);
    const fx = (x - ix * step[0]) / step[0];
    const fy = (y - iy * step[1]) / step[1];
    const fz = (z - iz * step[2]) / step[2];
    out.fill(0);
    for (let cz = 0; cz < 2; cz++) {
      const wz = cz === 0 ? 1 - fz : fz;
      if (wz === 0) continue;
      for (let cy = 0; cy < 2; cy++) {
        const wy = cy === 0 ? 1 - fy : fy;
        if (wy === 0) continue;
        for (let cx = 0; cx < 2; cx++) {
          const wx = cx === 0 ? 1 - fx : fx;
          if (wx === 0) continue;
          const nxi = ix + cx;
          const nyi = iy + cy;
          const nzi = iz + cz;
          const node = nxi + ld[0] * (nyi + ld[1] * nzi);
          if (!this.done[node]) {
            this.evalNode(nxi, nyi, nzi, this.vals, node * this.width);
            this.done[node] = 1;
          }
          const w = wx * wy * wz;
          for (let c = 0; c < this.width; c++) out[c] += w * this.vals[node * this.width + c]!;
        }
      }
    }
  }
}

function voxelCoords(v: number, dims: Vec3): Vec3 {
  const x = v % dims[0];
  const t = (v - x) / dims[0];
  const y = t % dims[1];
  return [x, y, (t - y) / dims[1]];
}

export function jobName(job: Job): string {
  switch (job.type) {
    case 'hu':
      return 'hu';
    case 'gaussian':
      return `gaussian_s${job.sigmaMm}mm`;
    case 'extremum':
      return `${job.mode}_r${job.radiusMm}mm`;
    case 'texture':
      return `texture_s${job.sigmaGradMm}mm_w${job.sigmaWindowMm}mm`;
  }
}

/** Computes every job's columns for the slab's voxels, writing into task.rows; adds ms per job to `timingsMs`. */
export function computeSlab(task: SlabTask, timingsMs?: Record<string, number>): void {
  const { dims, voxels, members, jobs } = task;
  if (members.length === 0) return;
  const m = members.length;
  const xs = new Int32Array(m);
  const ys = new Int32Array(m);
  const zs = new Int32Array(m);
  const bMin: Vec3 = [Infinity, Infinity, Infinity];
  const bMax: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let k = 0; k < m; k++) {
    const [x, y, z] = voxelCoords(voxels[members[k]!]!, dims);
    xs[k] = x;
    ys[k] = y;
    zs[k] = z;
    if (x < bMin[0]) bMin[0] = x;
    if (x > bMax[0]) bMax[0] = x;
    if (y < bMin[1]) bMin[1] = y;
    if (y > bMax[1]) bMax[1] = y;
    if (z < bMin[2]) bMin[2] = z;
    if (z > bMax[2]) bMax[2] = z;
  }
  // One clamped copy of the CT around the slab serves every job's region.
  const regions = jobs.map((job) => {
    const { halo, step } = jobSupport(job, task.spacingMm);
    return regionFor(bMin, bMax, halo, step, dims);
  });
  const uLo: Vec3 = [Infinity, Infinity, Infinity];
  const uHi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const r of regions) {
    for (let a = 0; a < 3; a++) {
      uLo[a] = Math.min(uLo[a]!, r.lo[a]!);
      uHi[a] = Math.max(uHi[a]!, r.lo[a]! + r.dims[a]! - 1);
    }
  }
  const union: Region = { lo: uLo, dims: [uHi[0] - uLo[0] + 1, uHi[1] - uLo[1] + 1, uHi[2] - uLo[2] + 1] };
  const scratch = task.scratch ?? new Float32Scratch();
  const unionData = cropRegion(task.ct, task.ctBox, union, scratch);
  jobs.forEach((job, j) => {
    const t0 = performance.now();
    // The HU job reads the voxels straight from the slab's copy.
    const region = job.type === 'hu' ? union : regions[j]!;
    const src = job.type === 'hu' ? unionData : cropRegion(unionData, union, region, scratch);
    runJob(job, task, xs, ys, zs, region, src, scratch);
    if (src !== unionData) scratch.give(src);
    if (timingsMs) {
      const name = jobName(job);
      timingsMs[name] = (timingsMs[name] ?? 0) + (performance.now() - t0);
    }
  });
  if (unionData !== task.ct) scratch.give(unionData);
}

/** The part of `data` (on region `from`) that covers region `to` ⊂ from (`data` itself when equal). */
function cropRegion(data: Float32Array, from: Region, to: Region, scratch: Float32Scratch): Float32Array {
  const [fx, fy] = from.dims;
  const [tx, ty, tz] = to.dims;
  if (tx === fx && ty === fy && tz === from.dims[2]) return data;
  const out = scratch.take(tx * ty * tz);
  const ox = to.lo[0] - from.lo[0];
  const oy = to.lo[1] - from.lo[1];
  const oz = to.lo[2] - from.lo[2];
  for (let z = 0, o = 0; z < tz; z++) {
    for (let y = 0; y < ty; y++, o += tx) {
      const row = ox + fx * (oy + y + fy * (oz + z));
      out.set(data.subarray(row, row + tx), o);
    }
  }
  return out;
}

function runJob(job: Job, task: SlabTask, xs: Int32Array, ys: Int32Array, zs: Int32Array, region: Region, src: Float32Array, scratch: Float32Scratch): void {
  const { spacingMm, members, rows, stride } = task;
  const m = members.length;
  if (job.type === 'hu') {
    // Regions hold clamped HU already.
    const [rx, ry] = region.dims;
    const [lx, ly, lz] = region.lo;
    for (let k = 0; k < m; k++) rows[members[k]! * stride + job.column] = src[xs[k]! - lx + rx * (ys[k]! - ly + ry * (zs[k]! - lz))]!;
    return;
  }
  const { step } = jobSupport(job, spacingMm);
  const at: Points = { region, xs, ys, zs, members, rows, stride, local: localIndices(region, xs, ys, zs) };
  if (job.type === 'extremum') {
    const e = localExtremum(src, region.dims, spacingMm, job.radiusMm, job.mode, scratch);
    for (let k = 0; k < m; k++) rows[members[k]! * stride + job.column] = e[at.local[k]!]!;
    scratch.give(e);
  } else if (job.type === 'gaussian') {
    runGaussianJob(job, src, step, spacingMm, at, scratch);
  } else {
    runTextureJob(job, src, step, spacingMm, at, scratch);
  }
}

/** The slab's voxels as seen from one region, and where their rows go. */
interface Points {
  region: Region;
  xs: Int32Array;
  ys: Int32Array;
  zs: Int32Array;
  /** Region-local voxel index of each point. */
  local: Int32Array;
  members: Int32Array;
  rows: Float32Array;
  stride: number;
}

function localIndices(region: Region, xs: Int32Array, ys: Int32Array, zs: Int32Array): Int32Array {
  const [lx, ly, lz] = region.lo;
  const [rx, ry] = region.dims;
  const out = new Int32Array(xs.length);
  for (let k = 0; k < xs.length; k++) out[k] = xs[k]! - lx + rx * (ys[k]! - ly + ry * (zs[k]! - lz));
  return out;
}

function isUnitStep(step: Vec3): boolean {
  return step[0] === 1 && step[1] === 1 && step[2] === 1;
}

function put(p: Points, k: number, col: number, v: number): void {
  if (col >= 0) p.rows[p.members[k]! * p.stride + col] = v;
}

function runGaussianJob(job: GaussianJob, src: Float32Array, step: Vec3, spacingMm: Vec3, p: Points, scratch: Float32Scratch): void {
  const dims = p.region.dims;
  const s1 = gaussianSmooth(src, dims, spacingMm, job.sigmaMm, step, scratch);
  const h = nodeSpacingMm(spacingMm, step);
  const wantHessian = job.log >= 0 || job.vesselness >= 0 || job.blobness >= 0 || job.plateness >= 0;
  const hb = new Float64Array(6);
  const eb = new Float64Array(3);
  const gb = new Float64Array(3);
  const m = p.members.length;
  if (isUnitStep(step)) {
    // On the voxel grid: the second moment is only ever sampled, so its last pass runs at the points only.
    let m2: Float32Array | null = null;
    if (job.std >= 0) {
      const sq = squared(src, scratch);
      m2 = gaussianSmoothAt(sq, dims, spacingMm, job.sigmaMm, p.local, scratch);
      scratch.give(sq);
    }
    const [lx, ly, lz] = p.region.lo;
    for (let k = 0; k < m; k++) {
      const mean = s1.data[p.local[k]!]!;
      put(p, k, job.mean, mean);
      if (m2) put(p, k, job.std, stdFromMoments(mean, m2[k]!));
      const x = p.xs[k]! - lx;
      const y = p.ys[k]! - ly;
      const z = p.zs[k]! - lz;
      if (job.grad >= 0) {
        gradientAt(s1, h, x, y, z, gb);
        put(p, k, job.grad, Math.sqrt(gb[0]! * gb[0]! + gb[1]! * gb[1]! + gb[2]! * gb[2]!));
      }
      if (wantHessian) {
        const hm = hessianMeasuresAt(s1, h, job.sigmaMm, x, y, z, hb, eb);
        put(p, k, job.log, hm.log);
        put(p, k, job.vesselness, hm.vesselness);
        put(p, k, job.blobness, hm.blobness);
        put(p, k, job.plateness, hm.plateness);
      }
    }
    scratch.give(s1.data);
    return;
  }
  let s2: LatticeVolume | null = null;
  if (job.std >= 0) {
    const sq = squared(src, scratch);
    s2 = gaussianSmooth(sq, dims, spacingMm, job.sigmaMm, step, scratch);
    scratch.give(sq);
  }
  // Channels: mean, std, grad, log, vesselness, blobness, plateness.
  const cols = [job.mean, job.std, job.grad, job.log, job.vesselness, job.blobness, job.plateness];
  const ld = s1.dims;
  const evalNode = (x: number, y: number, z: number, out: Float32Array, at: number): void => {
    const node = x + ld[0] * (y + ld[1] * z);
    const mean = s1.data[node]!;
    out[at] = mean;
    out[at + 1] = s2 ? stdFromMoments(mean, s2.data[node]!) : 0;
    if (job.grad >= 0) {
      gradientAt(s1, h, x, y, z, gb);
      out[at + 2] = Math.sqrt(gb[0]! * gb[0]! + gb[1]! * gb[1]! + gb[2]! * gb[2]!);
    }
    if (wantHessian) {
      const hm = hessianMeasuresAt(s1, h, job.sigmaMm, x, y, z, hb, eb);
      out[at + 3] = hm.log;
      out[at + 4] = hm.vesselness;
      out[at + 5] = hm.blobness;
      out[at + 6] = hm.plateness;
    }
  };
  writeInterpolated(evalNode, ld, cols, step, p);
  scratch.give(s1.data);
  if (s2) scratch.give(s2.data);
}

function runTextureJob(job: TextureJob, src: Float32Array, step: Vec3, spacingMm: Vec3, p: Points, scratch: Float32Scratch): void {
  const dims = p.region.dims;
  const sg = gaussianSmooth(src, dims, spacingMm, job.sigmaGradMm, [1, 1, 1], scratch);
  const g = gradientMagnitudeOfSmoothed(sg, spacingMm, scratch);
  scratch.give(sg.data);
  const g2 = job.std >= 0 ? squared(g, scratch) : null;
  if (isUnitStep(step)) {
    const t1 = gaussianSmoothAt(g, dims, spacingMm, job.sigmaWindowMm, p.local, scratch);
    const t2 = g2 ? gaussianSmoothAt(g2, dims, spacingMm, job.sigmaWindowMm, p.local, scratch) : null;
    for (let k = 0; k < p.members.length; k++) {
      put(p, k, job.mean, t1[k]!);
      if (t2) put(p, k, job.std, stdFromMoments(t1[k]!, t2[k]!));
    }
    scratch.give(g);
    if (g2) scratch.give(g2);
    return;
  }
  const t1 = gaussianSmooth(g, dims, spacingMm, job.sigmaWindowMm, step, scratch);
  const t2 = g2 ? gaussianSmooth(g2, dims, spacingMm, job.sigmaWindowMm, step, scratch) : null;
  scratch.give(g);
  if (g2) scratch.give(g2);
  const ld = t1.dims;
  const evalNode = (x: number, y: number, z: number, out: Float32Array, at: number): void => {
    const node = x + ld[0] * (y + ld[1] * z);
    const mean = t1.data[node]!;
    out[at] = mean;
    out[at + 1] = t2 ? stdFromMoments(mean, t2.data[node]!) : 0;
  };
  writeInterpolated(evalNode, ld, [job.mean, job.std], step, p);
  scratch.give(t1.data);
  if (t2) scratch.give(t2.data);
}

/** Writes node quantities at the points, trilinearly interpolated from lazily evaluated lattice nodes. */
function writeInterpolated(
  evalNode: (x: number, y: number, z: number, out: Float32Array, at: number) => void,
  ld: Vec3,
  cols: readonly number[],
  step: Vec3,
  p: Points,
): void {
  const [lx, ly, lz] = p.region.lo;
  const width = cols.length;
  const cache = new NodeCache(ld, width, evalNode);
  const acc = new Float64Array(width);
  for (let k = 0; k < p.members.length; k++) {
    cache.interpolate(p.xs[k]! - lx, p.ys[k]! - ly, p.zs[k]! - lz, step, acc);
    for (let c = 0; c < width; c++) put(p, k, cols[c]!, acc[c]!);
  }
}

/** Jobs the GPU computes (GpuFeatures in gpu.ts); the rest stay on the TypeScript path. */
export function isGpuJob(job: Job): job is GaussianJob | TextureJob {
  return job.type === 'gaussian' || job.type === 'texture';
}
