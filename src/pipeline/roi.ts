/**
 * The refiner's region of interest: a cube of n³ samples, axis-aligned in world space (RAS mm),
 * sized to the candidate so that tumours of 5 mm and of 8 cm both fill about half of it.
 */
import { applyAffine, multiplyAffine, invertAffine } from '../geometry/affine.js';
import type { Mat4, Vec3 } from '../core/volume.js';

export interface Roi {
  /** Samples per axis. */
  n: number;
  /** World position (mm) of sample (0, 0, 0). */
  originMm: Vec3;
  /** Distance between samples (mm), the same along R, A and S. */
  stepMm: number;
}

export interface Grid {
  dims: Vec3;
  affine: Mat4;
}

/**
 * A cube around a box given in voxel coordinates of `grid` (inclusive min/max), `context` times
 * its largest world extent, at least `minSizeMm` across.
 */
export function roiAroundBox(grid: Grid, min: Vec3, max: Vec3, n: number, context: number, minSizeMm: number): Roi {
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  // The box's eight corners, widened by half a voxel so a one-voxel region has a size.
  for (const cx of [min[0] - 0.5, max[0] + 0.5]) {
    for (const cy of [min[1] - 0.5, max[1] + 0.5]) {
      for (const cz of [min[2] - 0.5, max[2] + 0.5]) {
        const w = applyAffine(grid.affine, [cx, cy, cz]);
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a]!, w[a]!);
          hi[a] = Math.max(hi[a]!, w[a]!);
        }
      }
    }
  }
  const extent = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]);
  const size = Math.max(minSizeMm, extent * context);
  const stepMm = size / n;
  const centre: Vec3 = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2];
  const originMm = centre.map((c) => c - (size - stepMm) / 2) as Vec3;
  return { n, originMm, stepMm };
}

/** Affine of the ROI's sample grid (sample index → world mm). */
export function roiAffine(roi: Roi): Mat4 {
  const s = roi.stepMm;
  return [
    [s, 0, 0, roi.originMm[0]],
    [0, s, 0, roi.originMm[1]],
    [0, 0, s, roi.originMm[2]],
    [0, 0, 0, 1],
  ];
}

/** Trilinear sample at continuous voxel coordinates; outside the grid the nearest edge value (clamped). */
function trilinear(src: ArrayLike<number>, dims: Vec3, x: number, y: number, z: number): number {
  const nx = dims[0], ny = dims[1], nz = dims[2];
  const cx = x < 0 ? 0 : x > nx - 1 ? nx - 1 : x;
  const cy = y < 0 ? 0 : y > ny - 1 ? ny - 1 : y;
  const cz = z < 0 ? 0 : z > nz - 1 ? nz - 1 : z;
  const x0 = nx > 1 ? Math.min(Math.floor(cx), nx - 2) : 0;
  const y0 = ny > 1 ? Math.min(Math.floor(cy), ny - 2) : 0;
  const z0 = nz > 1 ? Math.min(Math.floor(cz), nz - 2) : 0;
  const fx = cx - x0, fy = cy - y0, fz = cz - z0;
  const dx = nx > 1 ? 1 : 0, dy = ny > 1 ? nx : 0, dz = nz > 1 ? nx * ny : 0;
  const i = x0 + nx * (y0 + ny * z0);
  const c00 = src[i]! * (1 - fx) + src[i + dx]! * fx;
  const c10 = src[i + dy]! * (1 - fx) + src[i + dy + dx]! * fx;
  const c01 = src[i + dz]! * (1 - fx) + src[i + dz + dx]! * fx;
  const c11 = src[i + dz + dy]! * (1 - fx) + src[i + dz + dy + dx]! * fx;
  return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}

/** Samples a volume on `grid` into the ROI (trilinear; clamped at the grid's edges). */
export function sampleIntoRoi(src: ArrayLike<number>, grid: Grid, roi: Roi): Float32Array {
  const n = roi.n;
  const toVoxel = multiplyAffine(invertAffine(grid.affine), roiAffine(roi));
  const out = new Float32Array(n * n * n);
  let o = 0;
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const p = applyAffine(toVoxel, [i, j, k]);
        out[o++] = trilinear(src, grid.dims, p[0], p[1], p[2]);
      }
    }
  }
  return out;
}

/** The voxel box of `grid` covered by the ROI (clipped to the grid). */
export function roiFootprint(roi: Roi, grid: Grid): { min: Vec3; max: Vec3 } {
  const n = roi.n;
  const toGrid = multiplyAffine(invertAffine(grid.affine), roiAffine(roi));
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const cx of [-0.5, n - 0.5]) for (const cy of [-0.5, n - 0.5]) for (const cz of [-0.5, n - 0.5]) {
    const p = applyAffine(toGrid, [cx, cy, cz]);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a]!, p[a]!);
      hi[a] = Math.max(hi[a]!, p[a]!);
    }
  }
  const d = grid.dims;
  return {
    min: [0, 1, 2].map((a) => Math.min(d[a]! - 1, Math.max(0, Math.ceil(lo[a]!)))) as Vec3,
    max: [0, 1, 2].map((a) => Math.max(0, Math.min(d[a]! - 1, Math.floor(hi[a]!)))) as Vec3,
  };
}

/**
 * Values of an ROI field (trilinear) at the voxels of `grid` inside `box` (from roiFootprint),
 * as an array over the box (x fastest); voxels whose centre lies outside the ROI get 0.
 */
export function projectFromRoiBox(values: Float32Array, roi: Roi, grid: Grid, box: { min: Vec3; max: Vec3 }): Float32Array {
  const n = roi.n;
  const toRoi = multiplyAffine(invertAffine(roiAffine(roi)), grid.affine);
  const roiDims: Vec3 = [n, n, n];
  const out = new Float32Array((box.max[0] - box.min[0] + 1) * (box.max[1] - box.min[1] + 1) * (box.max[2] - box.min[2] + 1));
  const hi = n - 0.5;
  let o = 0;
  // The affine is linear: step along x by its first column instead of a matrix product per voxel.
  const [ax, ay, az] = [toRoi[0][0], toRoi[1][0], toRoi[2][0]];
  for (let z = box.min[2]; z <= box.max[2]; z++) {
    for (let y = box.min[1]; y <= box.max[1]; y++) {
      const start = applyAffine(toRoi, [box.min[0], y, z]);
      let px = start[0], py = start[1], pz = start[2];
      for (let x = box.min[0]; x <= box.max[0]; x++, o++, px += ax, py += ay, pz += az) {
        if (px < -0.5 || py < -0.5 || pz < -0.5 || px > hi || py > hi || pz > hi) continue;
        out[o] = trilinear(values, roiDims, px, py, pz);
      }
    }
  }
  return out;
}
