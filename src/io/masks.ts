/**
 * Reading binary masks (tumour, lungs) that must lie on a CT's voxel grid.
 */
import { InputError } from '../core/errors.js';
import type { Mat4, Vec3, Volume, VoxelArray } from '../core/volume.js';
import { cornerDistanceMm } from '../geometry/affine.js';
import { readNifti } from './nifti.js';
import { isDicomFile } from './dicom.js';
import { pickRoi, rasteriseRoi, readRtStruct } from './rtstruct.js';

/** Masks may differ from their CT by float rounding: allowed corner mismatch = max(this, 1e-5 × field-of-view diagonal), in mm. */
const GRID_TOLERANCE_MM = 1e-3;

function fmtAffine(a: Mat4): string {
  const f = (v: number): string => String(Number(v.toPrecision(6)));
  return `[${a.slice(0, 3).map((r) => r.map(f).join(' ')).join('; ')}]`;
}

function voxelAt(i: number, dims: Vec3): string {
  const x = i % dims[0];
  const y = Math.floor(i / dims[0]) % dims[1];
  const z = Math.floor(i / (dims[0] * dims[1]));
  return `(${x}, ${y}, ${z})`;
}

/**
 * Reads a mask and checks it lies on `ct`'s grid (same dims; corner voxels within ~1e-3 mm) and
 * holds only 0 and 1. Returns the voxels as 0/1 bytes in the CT's voxel order. InputError names
 * the mask file on any mismatch. An RTSTRUCT file gives its ROI `roi` (see pickRoi) rasterised
 * on the CT's grid.
 */
export function readMaskFor(path: string, ct: Volume, roi?: string): Uint8Array {
  if (isDicomFile(path)) {
    const rt = readRtStruct(path);
    return rasteriseRoi(pickRoi(rt, roi), ct, path);
  }
  const m = readNifti(path);
  const same = m.dims[0] === ct.dims[0] && m.dims[1] === ct.dims[1] && m.dims[2] === ct.dims[2];
  if (!same) {
    throw new InputError(path, `mask grid ${m.dims.join('x')} differs from the CT's ${ct.dims.join('x')}${ct.source ? ` (${ct.source.path})` : ''}`);
  }
  const fov = Math.hypot(...ct.dims.map((n, i) => n * ct.spacing[i]!));
  const tol = Math.max(GRID_TOLERANCE_MM, 1e-5 * fov);
  const dist = cornerDistanceMm(m.affine, ct.affine, ct.dims);
  if (!(dist <= tol)) {
    throw new InputError(
      path,
      `mask affine ${fmtAffine(m.affine)} differs from the CT's ${fmtAffine(ct.affine)} (corners up to ${dist.toPrecision(3)} mm apart)`,
    );
  }
  return binaryLabels(m.data, m.dims, path).mask;
}

export interface BinaryLabels {
  /** 0/1 bytes, in the file's voxel order. */
  mask: Uint8Array;
  /** Voxels whose label was neither 0 nor 1 (set to 1: only with `binarize`). */
  relabelled: number;
}

/**
 * A mask's labels as 0/1 bytes. Labels other than 0 and 1 are an InputError naming the file, the
 * first such label and where it is; with `binarize`, every finite non-zero label counts as 1 (the
 * caller says so) and only non-finite ones are an error. `hint` ends the error line.
 */
export function binaryLabels(data: VoxelArray, dims: Vec3, path: string, opts: { binarize?: boolean; hint?: string } = {}): BinaryLabels {
  const n = data.length;
  const out = data instanceof Uint8Array ? data : new Uint8Array(n);
  let bad = -1;
  let badCount = 0;
  let relabelled = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v === 0 || v === 1) {
      out[i] = v;
    } else if (opts.binarize && Number.isFinite(v)) {
      out[i] = 1;
      relabelled++;
    } else {
      if (bad < 0) bad = i;
      badCount++;
    }
  }
  if (bad >= 0) {
    const what = opts.binarize ? 'finite' : '0/1';
    throw new InputError(
      path,
      `mask labels must be ${what}, found ${data[bad]} (${badCount} voxel${badCount === 1 ? '' : 's'} not ${what}, first at ${voxelAt(bad, dims)})${opts.hint && !opts.binarize ? `; ${opts.hint}` : ''}`,
    );
  }
  return { mask: out, relabelled };
}
