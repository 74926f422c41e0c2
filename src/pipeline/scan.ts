/**
 * One scan on the pipeline's grids: the canonical (RAS voxel order) native-resolution CT, used for
 * the refiner's ROI and the output, and the working grid of the plans' spacing, used for features,
 * the voxel classifier and candidates.
 */
import { toCanonical, maskBoxFromCanonical, type Orientation } from '../geometry/orient.js';
import { resampleToGrid, resampleToSpacing, type Grid } from '../geometry/resample.js';
import { sameGrid, type Mat4, type Vec3, type Volume } from '../core/volume.js';
import { boxDims, type Box } from '../features/masks.js';

/** CT values outside this range are padding or metal; clamping keeps them from bleeding in resampling. */
export const HU_RANGE: [number, number] = [-1024, 3071];

export interface WorkingGrid extends Grid {
  spacingMm: Vec3;
}

export interface WorkingScan {
  /** The CT as read (original voxel order and header), for writing outputs on its grid. */
  original: Volume;
  /** The CT in canonical voxel order at native resolution. */
  native: Volume;
  orientation: Orientation;
  grid: WorkingGrid;
  /** CT (HU) on the working grid, clamped to HU_RANGE. */
  hu: Float32Array;
}

export function toWorkingScan(ct: Volume, workingSpacingMm: Vec3): WorkingScan {
  const { volume: native, orientation } = toCanonical(ct);
  const work = resampleToSpacing(native, workingSpacingMm, 'linear');
  const hu = work.data instanceof Float32Array ? work.data : Float32Array.from(work.data);
  const [lo, hi] = HU_RANGE;
  for (let i = 0; i < hu.length; i++) {
    const v = hu[i]!;
    hu[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return {
    original: ct,
    native,
    orientation,
    grid: { dims: work.dims, affine: work.affine, spacingMm: work.spacing },
    hu,
  };
}

/** A mask on the original CT grid, put in canonical order (native resolution). */
export function maskToNative(mask: Uint8Array, scan: WorkingScan): Uint8Array {
  return toCanonical(sameGrid(scan.original, mask)).volume.data;
}

/** Fraction of each working voxel occupied by a canonical native-resolution mask (trilinear). */
export function nativeMaskFraction(nativeMask: Uint8Array, scan: WorkingScan): Float32Array {
  return resampleToGrid(nativeMask, scan.native, scan.grid, 'linear');
}

/** A canonical native-resolution mask resampled onto the working grid (by occupancy ≥ 0.5). */
export function nativeMaskToWorking(nativeMask: Uint8Array, scan: WorkingScan): Uint8Array {
  const frac = nativeMaskFraction(nativeMask, scan);
  const out = new Uint8Array(frac.length);
  for (let i = 0; i < frac.length; i++) out[i] = frac[i]! >= 0.5 ? 1 : 0;
  return out;
}

/**
 * A mask on the canonical native grid that is zero outside `box` (`boxMask` holds the box, x
 * fastest) on the original CT grid, in its voxel order.
 */
export function nativeBoxMaskToOriginal(boxMask: Uint8Array, box: Box, scan: WorkingScan): Uint8Array {
  return maskBoxFromCanonical(boxMask, box.min, boxDims(box), scan.orientation);
}

export function nativeGrid(scan: WorkingScan): Grid & { spacingMm: Vec3 } {
  return { dims: scan.native.dims, affine: scan.native.affine as Mat4, spacingMm: scan.native.spacing };
}
