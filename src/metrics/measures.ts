/**
 * Size measurements of a binary tumour mask, as the challenge's scoring kit defines them, plus a
 * true RECIST (Feret) diameter reported beside the kit's.
 *
 * Masks are NIfTI-ordered (x fastest: index = x + nx * (y + ny * z)); any non-zero voxel is
 * foreground. `pixdim` is the header's pixdim[1..3] (mm per voxel along x, y, z), used as stored:
 * for NIfTI-1 these are float32 values, and the kit multiplies them in float64 (numpy promotes
 * its float32 pixdim when multiplied by a Python float or an int64 count).
 */
import type { Vec3 } from '../core/volume.js';
import { forEachSliceComponents, traceOuterContour, type SliceComponent } from './slices.js';
import { convexHullOfSorted, cv2EnclosingRadiusPx, maxDistanceMm, minEnclosingCircle, supportRadiusPx } from './plane.js';
import { pyRound } from './pyround.js';
import { foregroundIndices } from './sparse.js';

/** Number of non-zero voxels. */
export function foregroundCount(mask: ArrayLike<number>): number {
  return foregroundIndices(mask).length;
}

/**
 * The kit's volume in mL: round(voxels × pixdim[1] × pixdim[2] × pixdim[3] / 1000, 2), multiplied
 * left to right in float64 and rounded as Python's round() does (ties to even on the exact value).
 * solution.csv cannot tell float32 from float64 products (they differ by ~1e-7 relative and no
 * real case sits on a rounding edge); float64 is what numpy gives for a count times float32 pixdim.
 */
export function volumeMl(voxels: number, pixdim: Vec3): number {
  return pyRound((voxels * pixdim[0] * pixdim[1] * pixdim[2]) / 1000, 2);
}

/**
 * The kit's RECIST in mm: over every axial slice [:, :, k], cv2.findContours of the mask and
 * cv2.minEnclosingCircle of each contour; 2 × the largest radius × pixdim[1] (the x spacing, even
 * if y differs). The radius is cv2's own float32 value, 1e-4 px above the exact circle (so a
 * single voxel measures 2e-4 px × pixdim[1]); 0 for an empty mask.
 *
 * Hole contours (cv2.RETR_TREE / LIST) never win: a hole's border lies inside its component's
 * hull. A contour's minimum enclosing circle is that of its component's convex hull.
 */
export function kitRecistMm(mask: ArrayLike<number>, dims: Vec3, pixdim: Vec3): number {
  return 2 * kitRecistRadiusPx(mask, dims) * pixdim[0];
}

/** The largest cv2.minEnclosingCircle radius (float32 value, pixels) over all axial contours; 0 if empty. */
export function kitRecistRadiusPx(mask: ArrayLike<number>, dims: Vec3): number {
  let best = 0;
  forEachSliceComponents(mask, dims, ({ z, components }) => {
    best = largerKitRadius(mask, dims, z, components, best);
  });
  return best;
}

/**
 * max(best, cv2's radius of each component's outer contour). Only components whose exact circle
 * comes within 1e-3 px of the best so far are traced: cv2's radius is the exact one + 1e-4 px to
 * within float32 rounding.
 */
function largerKitRadius(mask: ArrayLike<number>, dims: Vec3, z: number, components: SliceComponent[], best: number): number {
  for (const c of components) {
    const hull = convexHullOfSorted(c.points, c.points.length / 2);
    const support = minEnclosingCircle(hull);
    if (!support || supportRadiusPx(hull, support) + 1e-3 < best) continue;
    const r = cv2EnclosingRadiusPx(hull, traceOuterContour(mask, dims, z, c.startX, c.startY), support);
    if (r > best) best = r;
  }
  return best;
}

/**
 * True RECIST: the largest in-plane Feret diameter in mm — the greatest distance between the
 * centres of two foreground voxels in the same axial slice, with pixdim[1] mm along x and
 * pixdim[2] mm along y. 0 for an empty mask or single voxels.
 */
export function feretDiameterMm(mask: ArrayLike<number>, dims: Vec3, pixdim: Vec3): number {
  let best = 0;
  forEachSliceComponents(mask, dims, ({ all }) => {
    // Points are (u, v) = (y, x): u steps pixdim[2] mm, v steps pixdim[1] mm.
    const d = maxDistanceMm(convexHullOfSorted(all, all.length / 2), pixdim[1], pixdim[0]);
    if (d > best) best = d;
  });
  return best;
}

export interface MaskMeasures {
  /** Foreground voxel count. */
  voxels: number;
  /** The kit's volume, mL (rounded to 0.01). */
  volumeMl: number;
  /** The kit's RECIST, mm. */
  recistMm: number;
  /** True RECIST (largest in-plane Feret diameter), mm. */
  feretMm: number;
}

/** All size measurements of a mask in one walk over its slices (`indices`: its foregroundIndices, if known). */
export function measureMask(mask: ArrayLike<number>, dims: Vec3, pixdim: Vec3, indices = foregroundIndices(mask)): MaskMeasures {
  let radius = 0;
  let feret = 0;
  forEachSliceComponents(mask, dims, ({ z, components, all }) => {
    radius = largerKitRadius(mask, dims, z, components, radius);
    const d = maxDistanceMm(convexHullOfSorted(all, all.length / 2), pixdim[1], pixdim[0]);
    if (d > feret) feret = d;
  }, indices);
  const voxels = indices.length;
  return { voxels, volumeMl: volumeMl(voxels, pixdim), recistMm: 2 * radius * pixdim[0], feretMm: feret };
}
