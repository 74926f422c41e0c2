/**
 * Resampling between grids whose voxel axes are parallel (e.g. two canonical grids, or a grid and
 * a coarser copy of itself): each output axis reads from one input axis, so interpolation is
 * separable and per-axis indices/weights are computed once.
 *
 * Voxel order is x fastest: index = x + nx * (y + ny * z).
 */
import type { Mat4, Vec3, Volume, VoxelArray } from '../core/volume.js';
import { invertAffine, multiplyAffine, voxelSizes } from './affine.js';
import { gather } from './gather.js';

/** A voxel grid: voxel counts (x, y, z) and the affine from voxel index to world mm. */
export interface Grid {
  dims: Vec3;
  affine: Mat4;
}

/** 'linear': trilinear (CT in HU, probabilities); 'nearest': nearest voxel (label masks). */
export type ResampleMode = 'linear' | 'nearest';

export interface ResampleOptions {
  /**
   * Value for output voxels whose centre lies more than half a voxel outside the input grid.
   * Without it, such voxels take the nearest edge value (clamping).
   */
  fill?: number;
}

/** Output type of linear resampling: float64 stays float64, everything else becomes float32. */
export type LinearOutput<T extends VoxelArray> = T extends Float64Array ? Float64Array : Float32Array;

/** Input voxel coordinate along one axis for each output index: u = scale * j + offset. */
interface AxisMapping {
  scale: number;
  offset: number;
}

/**
 * Per-axis mapping from output voxel index to input voxel index. Throws when the grids' axes are
 * not parallel (then no separable mapping exists).
 */
export function axisMappings(from: Grid, to: Grid): [AxisMapping, AxisMapping, AxisMapping] {
  // M maps output voxel index to input voxel index.
  const m = multiplyAffine(invertAffine(from.affine), to.affine);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      if (i !== j && Math.abs(m[i]![j]!) > 1e-6 * Math.max(Math.abs(m[i]![i]!), Math.abs(m[j]![j]!))) {
        throw new Error('resample: the grids are not axis-aligned with each other (reorient with toCanonical first)');
      }
    }
    if (!(Math.abs(m[i]![i]!) > 0)) throw new Error('resample: degenerate grid mapping');
  }
  return [0, 1, 2].map((i) => ({ scale: m[i]![i]!, offset: m[i]![3]! })) as [AxisMapping, AxisMapping, AxisMapping];
}

/** Input coordinate of output index j, snapped to an integer when within rounding of one so identity resampling is exact. */
function coord(map: AxisMapping, j: number): number {
  const u = map.scale * j + map.offset;
  const r = Math.round(u);
  return Math.abs(u - r) < 1e-6 ? r : u;
}

/** Neighbour indices (along one axis, in voxels) and the weight of the second, clamped at the edges. */
interface LinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
}

function linearTaps(map: AxisMapping, nOut: number, nIn: number): LinearTaps {
  const i0 = new Int32Array(nOut);
  const i1 = new Int32Array(nOut);
  const w1 = new Float64Array(nOut);
  for (let j = 0; j < nOut; j++) {
    const c = Math.min(Math.max(coord(map, j), 0), nIn - 1);
    const f = Math.floor(c);
    i0[j] = f;
    i1[j] = Math.min(f + 1, nIn - 1);
    w1[j] = c - f;
  }
  return { i0, i1, w1 };
}

/** Output indices whose centre lies more than half a voxel outside the input along one axis. */
function outsideFlags(map: AxisMapping, nOut: number, nIn: number): Uint8Array {
  const out = new Uint8Array(nOut);
  for (let j = 0; j < nOut; j++) {
    const u = coord(map, j);
    out[j] = u < -0.5 || u > nIn - 0.5 ? 1 : 0;
  }
  return out;
}

/** Sets every output voxel that lies outside the input grid (per the axis flags) to `fill`. */
function applyFill(out: VoxelArray, dims: Vec3, flags: [Uint8Array, Uint8Array, Uint8Array], fill: number): void {
  const [ox, oy, oz] = dims;
  const xs: number[] = [];
  for (let x = 0; x < ox; x++) if (flags[0][x]) xs.push(x);
  for (let z = 0; z < oz; z++) {
    for (let y = 0; y < oy; y++) {
      const row = (z * oy + y) * ox;
      if (flags[2][z] || flags[1][y]) out.fill(fill, row, row + ox);
      else for (const x of xs) out[row + x] = fill;
    }
  }
}

function checkLength(data: VoxelArray, g: Grid): void {
  const n = g.dims[0] * g.dims[1] * g.dims[2];
  if (data.length !== n) throw new Error(`resample: ${data.length} voxels for a ${g.dims.join('x')} grid`);
}

type Work = Float32Array | Float64Array;

/**
 * Trilinear, one output row at a time: blend the (up to) four input rows around it along y and z
 * into a scratch row, then interpolate that along x. Each input and output voxel is touched about
 * once, which matters more than arithmetic here (big volumes are memory-bound).
 */
function resampleLinear(data: VoxelArray, from: Vec3, to: Vec3, maps: [AxisMapping, AxisMapping, AxisMapping]): Work {
  const [nx, ny] = from;
  const [ox, oy, oz] = to;
  const out: Work = data instanceof Float64Array ? new Float64Array(ox * oy * oz) : new Float32Array(ox * oy * oz);
  const tx = linearTaps(maps[0], ox, nx);
  const ty = linearTaps(maps[1], oy, ny);
  const tz = linearTaps(maps[2], oz, from[2]);
  const row = new Float64Array(nx);
  const { i0: x0, i1: x1, w1: wx } = tx;
  let o = 0;
  for (let z = 0; z < oz; z++) {
    const wz = tz.w1[z]!;
    const z0 = tz.i0[z]! * nx * ny;
    const z1 = tz.i1[z]! * nx * ny;
    for (let y = 0; y < oy; y++) {
      const wy = ty.w1[y]!;
      const a = z0 + ty.i0[y]! * nx;
      const b = z0 + ty.i1[y]! * nx;
      const c = z1 + ty.i0[y]! * nx;
      const d = z1 + ty.i1[y]! * nx;
      // Zero weights are common (aligned axes, identity) and skipping them keeps those cases exact.
      if (wz === 0 && wy === 0) {
        for (let x = 0; x < nx; x++) row[x] = data[a + x]!;
      } else if (wz === 0) {
        const v = 1 - wy;
        for (let x = 0; x < nx; x++) row[x] = v * data[a + x]! + wy * data[b + x]!;
      } else if (wy === 0) {
        const v = 1 - wz;
        for (let x = 0; x < nx; x++) row[x] = v * data[a + x]! + wz * data[c + x]!;
      } else {
        const w00 = (1 - wz) * (1 - wy);
        const w01 = (1 - wz) * wy;
        const w10 = wz * (1 - wy);
        const w11 = wz * wy;
        for (let x = 0; x < nx; x++) row[x] = w00 * data[a + x]! + w01 * data[b + x]! + w10 * data[c + x]! + w11 * data[d + x]!;
      }
      for (let x = 0; x < ox; x++) {
        const w = wx[x]!;
        out[o++] = w === 0 ? row[x0[x]!]! : (1 - w) * row[x0[x]!]! + w * row[x1[x]!]!;
      }
    }
  }
  return out;
}

/** Nearest neighbour: a gather with per-axis offset tables (ties half-way go up). */
function resampleNearest<T extends VoxelArray>(data: T, from: Vec3, to: Vec3, maps: [AxisMapping, AxisMapping, AxisMapping]): T {
  const stride = [1, from[0], from[0] * from[1]];
  const tabs = [0, 1, 2].map((a) =>
    Float64Array.from({ length: to[a]! }, (_, j) => Math.min(Math.max(Math.floor(coord(maps[a]!, j) + 0.5), 0), from[a]! - 1) * stride[a]!),
  );
  return gather(data, tabs[2]!, tabs[1]!, tabs[0]!);
}

/**
 * Resamples `data` (on `fromGrid`) onto `toGrid`, whose axes must be parallel to `fromGrid`'s.
 * 'linear' returns Float32Array (Float64Array for float64 input); 'nearest' returns the input's type.
 * Output voxels beyond the input grid take the nearest edge value, or `opts.fill` when given and the
 * voxel centre is more than half a voxel outside.
 */
export function resampleToGrid<T extends VoxelArray>(data: T, fromGrid: Grid, toGrid: Grid, mode: 'nearest', opts?: ResampleOptions): T;
export function resampleToGrid<T extends VoxelArray>(data: T, fromGrid: Grid, toGrid: Grid, mode: 'linear', opts?: ResampleOptions): LinearOutput<T>;
export function resampleToGrid(data: VoxelArray, fromGrid: Grid, toGrid: Grid, mode: ResampleMode, opts?: ResampleOptions): VoxelArray;
export function resampleToGrid(data: VoxelArray, fromGrid: Grid, toGrid: Grid, mode: ResampleMode, opts: ResampleOptions = {}): VoxelArray {
  checkLength(data, fromGrid);
  const maps = axisMappings(fromGrid, toGrid);
  const from = fromGrid.dims;
  const to = toGrid.dims;
  const out = mode === 'nearest' ? resampleNearest(data, from, to, maps) : resampleLinear(data, from, to, maps);
  if (opts.fill !== undefined) {
    const flags = [0, 1, 2].map((a) => outsideFlags(maps[a]!, to[a]!, from[a]!)) as [Uint8Array, Uint8Array, Uint8Array];
    if (flags.some((f) => f.includes(1))) applyFill(out, to, flags, opts.fill);
  }
  return out;
}

/**
 * The grid with voxels of `spacingMm` covering the same field of view as `grid`: along each axis
 * the first voxel centres coincide, the axis keeps its direction, and
 * dims = max(1, round(n · old / new)) so the extent n · spacing is kept to within half a new voxel.
 * Old voxel sizes are the affine's column lengths.
 */
export function gridWithSpacing(grid: Grid, spacingMm: Vec3): Grid {
  const old = voxelSizes(grid.affine);
  const dims: Vec3 = [0, 0, 0];
  const a = grid.affine.map((r) => [...r]) as Mat4;
  for (let i = 0; i < 3; i++) {
    if (!(spacingMm[i]! > 0 && Number.isFinite(spacingMm[i]!))) throw new Error(`resample: invalid spacing ${spacingMm.join(',')} mm`);
    const ratio = spacingMm[i]! / old[i]!;
    dims[i] = Math.max(1, Math.round(grid.dims[i]! / ratio));
    for (let r = 0; r < 3; r++) a[r]![i] = grid.affine[r]![i]! * ratio;
  }
  return { dims, affine: a };
}

/**
 * A copy of `vol` resampled to voxels of `spacingMm` (one number for isotropic), over the same field
 * of view (see gridWithSpacing for how centres are placed). Go back with
 * `resampleToGrid(result.data, result, vol, mode)`. The result has no `source` header.
 */
export function resampleToSpacing<T extends VoxelArray>(vol: Volume<T>, spacingMm: Vec3 | number, mode: 'nearest', opts?: ResampleOptions): Volume<T>;
export function resampleToSpacing<T extends VoxelArray>(vol: Volume<T>, spacingMm: Vec3 | number, mode: 'linear', opts?: ResampleOptions): Volume<LinearOutput<T>>;
export function resampleToSpacing(vol: Volume, spacingMm: Vec3 | number, mode: ResampleMode, opts?: ResampleOptions): Volume;
export function resampleToSpacing(vol: Volume, spacingMm: Vec3 | number, mode: ResampleMode, opts: ResampleOptions = {}): Volume {
  const target: Vec3 = typeof spacingMm === 'number' ? [spacingMm, spacingMm, spacingMm] : [...spacingMm];
  const grid = gridWithSpacing(vol, target);
  const data = resampleToGrid(vol.data, vol, grid, mode, opts);
  return { data, dims: grid.dims, spacing: target, affine: grid.affine };
}
