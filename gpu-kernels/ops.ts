/**
 * Feature computations built from the WGSL kernels, with src/features/filters.ts's definitions of
 * kernels and lattices (gaussianKernel, latticeDims, nodeSpacingMm): smoothing, the channels of a
 * Gaussian job (mean, std, gradient, Hessian measures) and of a texture job at requested points,
 * and the z-slab plan that keeps every buffer under the device's binding limit.
 *
 * Each function works on one sub-volume that fits the device, with clamp-to-edge at that
 * sub-volume's faces (exactly what the reference does on a region); callers cut sub-volumes with
 * enough halo that the faces never matter inside (planZSlabs).
 */
import type { Vec3 } from '../src/core/volume.js';
import { FRANGI_ALPHA, FRANGI_BETA, HESSIAN_CONTRAST_HU, gaussianKernel, latticeDims, nodeSpacingMm, sigmaVoxels, type LatticeVolume } from '../src/features/filters.js';
import type { GpuBatch, GpuRuntime } from './runtime.js';

/** Channels of POINTS_WGSL, in order. */
export const POINT_CHANNELS = ['mean', 'std', 'grad', 'log', 'vesselness', 'blobness', 'plateness'] as const;
export type PointChannel = (typeof POINT_CHANNELS)[number];

const FLAG_STD = 1;
const FLAG_GRAD = 2;
const FLAG_HESSIAN = 4;

/** Half-kernel w[t], t = 0..r, as float32 (hi, lo) pairs: hi + lo is the float64 weight to ~2⁻⁴⁸. */
function halfKernel(sigmaVox: number): Float32Array {
  const k = gaussianKernel(sigmaVox);
  const r = (k.length - 1) >> 1;
  const out = new Float32Array(2 * (r + 1));
  for (let t = 0; t <= r; t++) {
    const w = k[r + t]!;
    const hi = Math.fround(w);
    out[2 * t] = hi;
    out[2 * t + 1] = w - hi;
  }
  return out;
}

function passParams(inDims: Vec3, outDims: Vec3, axis: number, step: number, r: number, square: boolean): (rowPitch: number) => ArrayBuffer {
  return (rowPitch) => {
    const b = new ArrayBuffer(64);
    const u = new Uint32Array(b);
    u.set([inDims[0], inDims[1], inDims[2], 0, outDims[0], outDims[1], outDims[2], 0, axis, step, r, square ? 1 : 0, rowPitch]);
    return b;
  };
}

/**
 * Records the three separable passes (x, y, z) of a Gaussian of σ mm on `src` (dims) onto the
 * lattice of `step`; `square` squares the input on load. Returns the node buffer and its dims.
 */
export function encodeSmooth(
  rt: GpuRuntime,
  batch: GpuBatch,
  src: GPUBuffer,
  dims: Vec3,
  spacingMm: Vec3,
  sigmaMm: number,
  step: Vec3,
  square = false,
): { buf: GPUBuffer; dims: Vec3 } {
  const sv = sigmaVoxels(sigmaMm, spacingMm);
  const ld = latticeDims(dims, step);
  let cur = src;
  let curDims: Vec3 = [...dims];
  for (let axis = 0; axis < 3; axis++) {
    const w = halfKernel(sv[axis]!);
    const outDims: Vec3 = [...curDims];
    outDims[axis] = ld[axis]!;
    const n = outDims[0] * outDims[1] * outDims[2];
    const out = rt.storage(batch, n);
    rt.dispatch(batch, 'pass', n, passParams(curDims, outDims, axis, step[axis]!, w.length / 2 - 1, square && axis === 0), [cur, rt.upload(batch, w), out]);
    cur = out;
    curDims = outDims;
  }
  return { buf: cur, dims: ld };
}

/** Gaussian smoothing on the lattice of `step` (filters.gaussianSmooth's values), one sub-volume. */
export async function smoothOnGpu(rt: GpuRuntime, src: Float32Array, dims: Vec3, spacingMm: Vec3, sigmaMm: number, step: Vec3 = [1, 1, 1]): Promise<LatticeVolume> {
  let ld: Vec3 = [0, 0, 0];
  const data = await rt.compute((batch) => {
    const s = encodeSmooth(rt, batch, rt.upload(batch, src), dims, spacingMm, sigmaMm, step);
    ld = s.dims;
    return { result: s.buf, floats: ld[0] * ld[1] * ld[2] };
  });
  return { data, dims: ld, step: [...step] };
}

function pointsParams(
  region: Vec3,
  ld: Vec3,
  step: Vec3,
  hMm: Vec3,
  sigmaMm: number,
  flags: number,
  channels: number,
  count: number,
): (rowPitch: number) => ArrayBuffer {
  return (rowPitch) => {
    const b = new ArrayBuffer(96);
    const u = new Uint32Array(b);
    const f = new Float32Array(b);
    u.set([region[0], region[1], region[2], 0, ld[0], ld[1], ld[2], 0, step[0], step[1], step[2], 0]);
    f.set([hMm[0], hMm[1], hMm[2], 0, sigmaMm * sigmaMm], 12);
    u.set([flags, channels, count, rowPitch], 17);
    f.set([HESSIAN_CONTRAST_HU, FRANGI_ALPHA, FRANGI_BETA], 21);
    return b;
  };
}

export interface GaussianWants {
  std: boolean;
  grad: boolean;
  hessian: boolean;
}

/**
 * The 7 channels of a Gaussian job (POINT_CHANNELS) at `points` (voxel indices into `src`'s
 * dims), point-major: mean, std, gradient and Hessian measures of the σ-smoothed volume on the
 * lattice of `step`, interpolated at the points. Channels not wanted hold 0.
 */
export async function gaussianPointsOnGpu(
  rt: GpuRuntime,
  src: Float32Array,
  dims: Vec3,
  spacingMm: Vec3,
  sigmaMm: number,
  step: Vec3,
  wants: GaussianWants,
  points: Uint32Array,
): Promise<Float32Array> {
  const flags = (wants.std ? FLAG_STD : 0) | (wants.grad ? FLAG_GRAD : 0) | (wants.hessian ? FLAG_HESSIAN : 0);
  const m = points.length;
  const h = nodeSpacingMm(spacingMm, step);
  return rt.compute((batch) => {
    const input = rt.upload(batch, src);
    const s1 = encodeSmooth(rt, batch, input, dims, spacingMm, sigmaMm, step);
    const s2 = wants.std ? encodeSmooth(rt, batch, input, dims, spacingMm, sigmaMm, step, true) : s1;
    const out = rt.storage(batch, m * 7);
    rt.dispatch(batch, 'points', m, pointsParams(dims, s1.dims, step, h, sigmaMm, flags, 7, m), [s1.buf, s2.buf, rt.upload(batch, points), out]);
    return { result: out, floats: m * 7 };
  });
}

/**
 * Texture job at `points`: Gaussian-weighted (σ_window, on the lattice of `step`) mean and std of
 * the gradient magnitude at σ_grad (every voxel), point-major [mean, std].
 */
export async function texturePointsOnGpu(
  rt: GpuRuntime,
  src: Float32Array,
  dims: Vec3,
  spacingMm: Vec3,
  sigmaGradMm: number,
  sigmaWindowMm: number,
  step: Vec3,
  wantStd: boolean,
  points: Uint32Array,
): Promise<Float32Array> {
  const n = dims[0] * dims[1] * dims[2];
  const m = points.length;
  const h = nodeSpacingMm(spacingMm, step);
  return rt.compute((batch) => {
    const sg = encodeSmooth(rt, batch, rt.upload(batch, src), dims, spacingMm, sigmaGradMm, [1, 1, 1]);
    const g = rt.storage(batch, n);
    rt.dispatch(
      batch,
      'gradmag',
      n,
      (rowPitch) => {
        const b = new ArrayBuffer(48);
        new Uint32Array(b).set([dims[0], dims[1], dims[2], 0]);
        new Float32Array(b).set([spacingMm[0], spacingMm[1], spacingMm[2], 0], 4);
        new Uint32Array(b).set([rowPitch], 8);
        return b;
      },
      [sg.buf, g],
    );
    const t1 = encodeSmooth(rt, batch, g, dims, spacingMm, sigmaWindowMm, step);
    const t2 = wantStd ? encodeSmooth(rt, batch, g, dims, spacingMm, sigmaWindowMm, step, true) : t1;
    const out = rt.storage(batch, m * 2);
    rt.dispatch(batch, 'points', m, pointsParams(dims, t1.dims, step, h, sigmaWindowMm, wantStd ? FLAG_STD : 0, 2, m), [t1.buf, t2.buf, rt.upload(batch, points), out]);
    return { result: out, floats: m * 2 };
  });
}

/** One z-slab: the sub-volume [z0, z1) of the region and the points (sorted by z) it answers for. */
export interface ZSlab {
  z0: number;
  z1: number;
  /** Range [start, end) of the z-sorted point list. */
  start: number;
  end: number;
}

/**
 * Splits points (their z, ascending) of a region with `nz` slices of `plane` voxels into z-slabs
 * whose sub-volumes — the slab's own slices grown by `haloZ` each way, the start aligned down to
 * the lattice step so lattices stay aligned — hold at most `maxVoxels` voxels, and that answer for
 * at most `maxPoints` points each (their output buffer has a limit too). Values at a slab's points
 * then equal the whole region's (the halo covers everything chained into them).
 */
export function planZSlabs(sortedZ: Int32Array, nz: number, plane: number, haloZ: number, stepZ: number, maxVoxels: number, maxPoints = Infinity): ZSlab[] {
  const slabs: ZSlab[] = [];
  const m = sortedZ.length;
  if (m === 0) return slabs;
  const cap = Math.max(1, Math.floor(maxPoints));
  if (nz * plane <= maxVoxels && m <= cap) return [{ z0: 0, z1: nz, start: 0, end: m }];
  // Own slices per slab: what is left of the budget after both halos and the alignment slack.
  const own = nz * plane <= maxVoxels ? nz : Math.floor(maxVoxels / plane) - 2 * haloZ - (stepZ - 1);
  if (own < 1) throw new Error(`a z-slab of one slice plus halos (${plane} × ${1 + 2 * haloZ + stepZ - 1} voxels) exceeds the GPU buffer limit of ${maxVoxels} voxels`);
  let start = 0;
  while (start < m) {
    const a = sortedZ[start]!;
    const b = Math.min(nz, a + own);
    let end = start;
    while (end < m && end - start < cap && sortedZ[end]! < b) end++;
    const z0 = Math.floor(Math.max(0, a - haloZ) / stepZ) * stepZ;
    const z1 = Math.min(nz, sortedZ[end - 1]! + 1 + haloZ);
    slabs.push({ z0, z1, start, end });
    start = end;
  }
  return slabs;
}
