/** 4×4 affine helpers (row-major, voxel index → world mm). */
import type { Mat4, Vec3 } from './volume.js';

export function applyAffine(a: Mat4, p: Vec3): Vec3 {
  return [
    a[0][0] * p[0] + a[0][1] * p[1] + a[0][2] * p[2] + a[0][3],
    a[1][0] * p[0] + a[1][1] * p[1] + a[1][2] * p[2] + a[1][3],
    a[2][0] * p[0] + a[2][1] * p[1] + a[2][2] * p[2] + a[2][3],
  ];
}

/** Inverse of an affine whose last row is 0 0 0 1. */
export function invertAffine(a: Mat4): Mat4 {
  const [r0, r1, r2] = a;
  const m00 = r0[0], m01 = r0[1], m02 = r0[2];
  const m10 = r1[0], m11 = r1[1], m12 = r1[2];
  const m20 = r2[0], m21 = r2[1], m22 = r2[2];
  const c00 = m11 * m22 - m12 * m21;
  const c01 = m02 * m21 - m01 * m22;
  const c02 = m01 * m12 - m02 * m11;
  const det = m00 * c00 + m10 * c01 + m20 * c02;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new Error('invertAffine: singular affine');
  const inv = [
    [c00 / det, c01 / det, c02 / det],
    [(m12 * m20 - m10 * m22) / det, (m00 * m22 - m02 * m20) / det, (m02 * m10 - m00 * m12) / det],
    [(m10 * m21 - m11 * m20) / det, (m01 * m20 - m00 * m21) / det, (m00 * m11 - m01 * m10) / det],
  ];
  const t: Vec3 = [r0[3], r1[3], r2[3]];
  const row = (i: number): [number, number, number, number] => {
    const q = inv[i]!;
    return [q[0]!, q[1]!, q[2]!, -(q[0]! * t[0] + q[1]! * t[1] + q[2]! * t[2])];
  };
  return [row(0), row(1), row(2), [0, 0, 0, 1]];
}

/** a · b (apply b first). */
export function composeAffine(a: Mat4, b: Mat4): Mat4 {
  const out = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]] as Mat4;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) {
      let s = i < 3 && j === 3 ? a[i]![3] : 0;
      for (let k = 0; k < 3; k++) s += a[i]![k]! * b[k]![j]!;
      out[i]![j] = s;
    }
  }
  return out;
}

/** Largest absolute difference between two affines' entries. */
export function affineDistance(a: Mat4, b: Mat4): number {
  let d = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) d = Math.max(d, Math.abs(a[i]![j]! - b[i]![j]!));
  return d;
}
