/**
 * Voxel-axis orientation: which world direction (RAS+) each voxel axis runs along, and exact
 * reordering of voxels to canonical RAS order (x→Right, y→Anterior, z→Superior) and back.
 *
 * Only permutations and flips are done (no interpolation), so toCanonical/fromCanonical are exact
 * inverses for any typed array. Voxel order is x fastest: index = x + nx * (y + ny * z).
 */
import type { Mat4, Vec3, Volume, VoxelArray } from '../core/volume.js';
import { nearestOrthogonal, voxelSizes } from './affine.js';
import { gather } from './gather.js';

export type AxisCode = 'R' | 'L' | 'A' | 'P' | 'S' | 'I';

/** Positive and negative direction letters of each RAS world axis. */
const LETTERS: readonly [AxisCode, AxisCode][] = [
  ['R', 'L'],
  ['A', 'P'],
  ['S', 'I'],
];

/**
 * How the voxel axes of an image relate to world axes: voxel axis i runs along world axis
 * `worldAxis[i]` (0 = x/R, 1 = y/A, 2 = z/S), towards the negative end when `flip[i]`.
 */
export interface AxisMap {
  worldAxis: Vec3;
  flip: [boolean, boolean, boolean];
}

/** What toCanonical did, enough to undo it exactly. */
export interface Orientation extends AxisMap {
  /** Axis codes of the original voxel axes, e.g. ['L', 'P', 'S']. */
  codes: [AxisCode, AxisCode, AxisCode];
  /** Voxel counts of the original grid (x, y, z). */
  originalDims: Vec3;
  /** Affine of the original grid. */
  originalAffine: Mat4;
  /** Voxel counts of the canonical grid. */
  canonicalDims: Vec3;
}

/**
 * The world axis and direction of each voxel axis, as nibabel's io_orientation: normalise the
 * columns, take the nearest rotation, then give each voxel axis in turn the world axis it is most
 * aligned with among those not yet taken.
 */
export function axisMap(affine: Mat4): AxisMap {
  const cols = voxelSizes(affine);
  if (!cols.every((z) => z > 0 && Number.isFinite(z))) throw new Error(`axisMap: degenerate affine (column lengths ${cols.join(', ')})`);
  const r = nearestOrthogonal([0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i]![j]! / cols[j]!)));
  const worldAxis: Vec3 = [0, 0, 0];
  const flip: [boolean, boolean, boolean] = [false, false, false];
  const taken = [false, false, false];
  for (let j = 0; j < 3; j++) {
    let best = -1;
    let bestAbs = -1;
    for (let i = 0; i < 3; i++) {
      if (taken[i]) continue;
      const a = Math.abs(r[i]![j]!);
      if (a > bestAbs) {
        bestAbs = a;
        best = i;
      }
    }
    taken[best] = true;
    worldAxis[j] = best;
    flip[j] = r[best]![j]! < 0;
  }
  return { worldAxis, flip };
}

/** Axis codes of an affine (like nibabel's aff2axcodes), e.g. ['L', 'P', 'S'] for DICOM order. */
export function axisCodes(affine: Mat4): [AxisCode, AxisCode, AxisCode] {
  const m = axisMap(affine);
  return [0, 1, 2].map((j) => LETTERS[m.worldAxis[j]!]![m.flip[j] ? 1 : 0]!) as [AxisCode, AxisCode, AxisCode];
}

/**
 * Offset tables for gathering original voxels into canonical order: canonical voxel (cx, cy, cz)
 * reads original index tab[0][cx] + tab[1][cy] + tab[2][cz].
 */
function toCanonicalTables(o: Orientation): [Float64Array, Float64Array, Float64Array] {
  const d = o.originalDims;
  const origStride = [1, d[0], d[0] * d[1]];
  const tabs = [0, 1, 2].map((k) => new Float64Array(o.canonicalDims[k]!)) as [Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < 3; i++) {
    const tab = tabs[o.worldAxis[i]!];
    const n = d[i]!;
    for (let c = 0; c < n; c++) tab[c] = (o.flip[i] ? n - 1 - c : c) * origStride[i]!;
  }
  return tabs;
}

/**
 * Offset tables for gathering canonical voxels back into original order: original voxel (x, y, z)
 * reads canonical index tab[0][x] + tab[1][y] + tab[2][z].
 */
function fromCanonicalTables(o: Orientation): [Float64Array, Float64Array, Float64Array] {
  const cd = o.canonicalDims;
  const canStride = [1, cd[0], cd[0] * cd[1]];
  return [0, 1, 2].map((i) => {
    const n = o.originalDims[i]!;
    const st = canStride[o.worldAxis[i]!]!;
    return Float64Array.from({ length: n }, (_, x) => (o.flip[i] ? n - 1 - x : x) * st);
  }) as [Float64Array, Float64Array, Float64Array];
}

function checkLength(data: VoxelArray, dims: Vec3): void {
  if (data.length !== dims[0] * dims[1] * dims[2]) throw new Error(`orientation: ${data.length} voxels for a ${dims.join('x')} grid`);
}

/** The orientation record for an image grid (without moving any voxels). */
export function orientationOf(dims: Vec3, affine: Mat4): Orientation {
  const m = axisMap(affine);
  const canonicalDims: Vec3 = [0, 0, 0];
  for (let i = 0; i < 3; i++) canonicalDims[m.worldAxis[i]!] = dims[i]!;
  return {
    ...m,
    codes: axisCodes(affine),
    originalDims: [...dims] as Vec3,
    originalAffine: affine.map((r) => [...r]) as Mat4,
    canonicalDims,
  };
}

/**
 * Affine of the canonical grid: A_can = A_orig · T, where T maps a canonical voxel index to the
 * original one (orig_i = flip_i ? n_i - 1 - c_{w(i)} : c_{w(i)}), so every voxel keeps its world point.
 */
export function canonicalAffine(o: Orientation): Mat4 {
  const A = o.originalAffine;
  const out: Mat4 = [
    [0, 0, 0, A[0][3]],
    [0, 0, 0, A[1][3]],
    [0, 0, 0, A[2][3]],
    [0, 0, 0, 1],
  ];
  for (let i = 0; i < 3; i++) {
    const w = o.worldAxis[i]!;
    const sign = o.flip[i] ? -1 : 1;
    for (let r = 0; r < 3; r++) {
      // `+ 0` keeps -0 (from negating a zero) out of the affine.
      out[r]![w] = sign * A[r]![i]! + 0;
      if (o.flip[i]) out[r]![3] += A[r]![i]! * (o.originalDims[i]! - 1);
    }
  }
  return out;
}

/**
 * The volume with its voxels reordered to canonical RAS order (permute + flip only) and the
 * matching affine and spacing. For an oblique scan the axes become those nearest to R, A, S and
 * the affine keeps the obliquity (nothing is interpolated). The result has no `source` header: write it with writeNifti (which
 * builds one from the affine) or map results back with fromCanonical and write on the original grid.
 */
export function toCanonical<T extends VoxelArray>(vol: Volume<T>): { volume: Volume<T>; orientation: Orientation } {
  const orientation = orientationOf(vol.dims, vol.affine);
  const spacing: Vec3 = [0, 0, 0];
  for (let i = 0; i < 3; i++) spacing[orientation.worldAxis[i]!] = vol.spacing[i]!;
  const identity = orientation.worldAxis.every((w, i) => w === i) && orientation.flip.every((f) => !f);
  checkLength(vol.data, vol.dims);
  let data: T;
  if (identity) {
    data = vol.data.slice() as T;
  } else {
    const [tx, ty, tz] = toCanonicalTables(orientation);
    data = gather(vol.data, tz, ty, tx);
  }
  return {
    volume: { data, dims: [...orientation.canonicalDims] as Vec3, spacing, affine: canonicalAffine(orientation) },
    orientation,
  };
}

/**
 * Puts data on the canonical grid back in the original voxel order (exact inverse of toCanonical),
 * for any typed array: the CT itself, a Uint8Array mask, a Float32Array probability map.
 */
export function fromCanonical<T extends VoxelArray>(data: T, orientation: Orientation): T {
  checkLength(data, orientation.canonicalDims);
  const [tx, ty, tz] = fromCanonicalTables(orientation);
  return gather(data, tz, ty, tx);
}

/**
 * fromCanonical for a mask that is zero outside a box of the canonical grid: `boxMask` (x fastest)
 * holds the box's voxels, from canonical voxel `min`, `size` voxels per axis. Only the box is
 * visited, so a tumour's box costs its own size rather than the scan's.
 */
export function maskBoxFromCanonical(boxMask: Uint8Array, min: Vec3, size: Vec3, orientation: Orientation): Uint8Array {
  const cd = orientation.canonicalDims;
  if (boxMask.length !== size[0] * size[1] * size[2] || [0, 1, 2].some((a) => min[a]! < 0 || min[a]! + size[a]! > cd[a]!)) {
    throw new Error(`orientation: box ${size.join('x')} at ${min.join(',')} does not fit the ${cd.join('x')} grid`);
  }
  const [tx, ty, tz] = toCanonicalTables(orientation);
  const out = new Uint8Array(cd[0] * cd[1] * cd[2]);
  let o = 0;
  for (let z = 0; z < size[2]; z++) {
    for (let y = 0; y < size[1]; y++) {
      const base = tz[min[2] + z]! + ty[min[1] + y]!;
      for (let x = 0; x < size[0]; x++, o++) if (boxMask[o]) out[base + tx[min[0] + x]!] = boxMask[o]!;
    }
  }
  return out;
}
