/**
 * Small 4x4 affine helpers. Affines are row-major and map voxel indices (i, j, k, 1) to world
 * coordinates in mm (NIfTI RAS+).
 */
import type { Mat4, Vec3 } from '../core/volume.js';

/** Determinant of the upper-left 3x3 of a row-major matrix (3x3 or 4x4). */
export function det3(m: readonly (readonly number[])[]): number {
  return (
    m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
    m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
    m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!)
  );
}

/** Cofactor matrix of the upper-left 3x3 (equals det · inverse-transpose). */
function cofactor3(x: readonly (readonly number[])[]): number[][] {
  return [
    [x[1]![1]! * x[2]![2]! - x[1]![2]! * x[2]![1]!, x[1]![2]! * x[2]![0]! - x[1]![0]! * x[2]![2]!, x[1]![0]! * x[2]![1]! - x[1]![1]! * x[2]![0]!],
    [x[0]![2]! * x[2]![1]! - x[0]![1]! * x[2]![2]!, x[0]![0]! * x[2]![2]! - x[0]![2]! * x[2]![0]!, x[0]![1]! * x[2]![0]! - x[0]![0]! * x[2]![1]!],
    [x[0]![1]! * x[1]![2]! - x[0]![2]! * x[1]![1]!, x[0]![2]! * x[1]![0]! - x[0]![0]! * x[1]![2]!, x[0]![0]! * x[1]![1]! - x[0]![1]! * x[1]![0]!],
  ];
}

/**
 * Nearest orthogonal 3x3 matrix (polar decomposition, Newton iteration X ← (X + X⁻ᵀ) / 2), the same
 * result an SVD (U·Vᵀ) gives. Used to strip shears before reading directions off an affine.
 */
export function nearestOrthogonal(m: readonly (readonly number[])[]): number[][] {
  let x = m.slice(0, 3).map((r) => r.slice(0, 3));
  for (let it = 0; it < 60; it++) {
    const d = det3(x);
    if (!(Math.abs(d) > 1e-300)) break;
    const cof = cofactor3(x);
    let change = 0;
    x = x.map((row, r) =>
      row.map((v, c) => {
        const nv = 0.5 * (v + cof[r]![c]! / d);
        change = Math.max(change, Math.abs(nv - v));
        return nv;
      }),
    );
    if (change < 1e-15) break;
  }
  return x;
}

/** Inverse of an affine (last row 0 0 0 1). Throws on a singular one. */
export function invertAffine(a: Mat4): Mat4 {
  const d = det3(a);
  if (!(Math.abs(d) > 0)) throw new Error('invertAffine: singular affine');
  const cof = cofactor3(a);
  // inverse = cofactorᵀ / det
  const r: number[][] = [0, 1, 2].map((i) => [0, 1, 2].map((j) => cof[j]![i]! / d));
  const t = [0, 1, 2].map((i) => -(r[i]![0]! * a[0][3] + r[i]![1]! * a[1][3] + r[i]![2]! * a[2][3]));
  return [
    [r[0]![0]!, r[0]![1]!, r[0]![2]!, t[0]!],
    [r[1]![0]!, r[1]![1]!, r[1]![2]!, t[1]!],
    [r[2]![0]!, r[2]![1]!, r[2]![2]!, t[2]!],
    [0, 0, 0, 1],
  ];
}

/** a · b */
export function multiplyAffine(a: Mat4, b: Mat4): Mat4 {
  const out = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => a[i]![0]! * b[0]![j]! + a[i]![1]! * b[1]![j]! + a[i]![2]! * b[2]![j]! + a[i]![3]! * b[3]![j]!));
  return out as Mat4;
}

/** World point (mm) of a (possibly fractional) voxel index, or voxel index of a world point with an inverse affine. */
export function applyAffine(a: Mat4, p: Vec3): Vec3 {
  return [
    a[0][0] * p[0] + a[0][1] * p[1] + a[0][2] * p[2] + a[0][3],
    a[1][0] * p[0] + a[1][1] * p[1] + a[1][2] * p[2] + a[1][3],
    a[2][0] * p[0] + a[2][1] * p[1] + a[2][2] * p[2] + a[2][3],
  ];
}

/** Lengths of the first three columns: voxel sizes in mm along each voxel axis. */
export function voxelSizes(a: Mat4): Vec3 {
  return [0, 1, 2].map((j) => Math.hypot(a[0][j], a[1][j], a[2][j])) as Vec3;
}

/**
 * Largest distance (mm) between where two affines put the corner voxels of a `dims` grid: a
 * geometric way to ask whether two images share a grid.
 */
export function cornerDistanceMm(a: Mat4, b: Mat4, dims: Vec3): number {
  let worst = 0;
  for (let corner = 0; corner < 8; corner++) {
    const p: Vec3 = [corner & 1 ? dims[0] - 1 : 0, corner & 2 ? dims[1] - 1 : 0, corner & 4 ? dims[2] - 1 : 0];
    const pa = applyAffine(a, p);
    const pb = applyAffine(b, p);
    worst = Math.max(worst, Math.hypot(pa[0] - pb[0], pa[1] - pb[1], pa[2] - pb[2]));
  }
  return worst;
}
