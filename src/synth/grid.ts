/**
 * The voxel grid of a synthetic case: size, spacing, voxel order (LPS like the DICOM-derived
 * challenge scans, or RAS) and the matching affine. The anatomy is the same either way; only the
 * order in which voxels are stored (and the affine that undoes it) changes.
 */
import type { Rng } from '../core/random.js';
import type { Mat4, Vec3 } from '../core/volume.js';
import { bodySection, type Patient } from './anatomy.js';
import type { Vec } from './shapes.js';

export type SynthSize = 'small' | 'medium' | 'full';
export type VoxelOrder = 'LPS' | 'RAS';

export const SYNTH_SIZES: readonly SynthSize[] = ['small', 'medium', 'full'];

export interface CaseGrid {
  dims: Vec3;
  /** Voxel size along x, y, z, mm. */
  spacing: Vec3;
  order: VoxelOrder;
  /** Voxel (i, j, k) to NIfTI world (RAS) mm. */
  affine: Mat4;
  /** World position of the anatomy-frame origin: world = anatomy + shift (mm). */
  shift: Vec;
  /** Anatomy-frame coordinate (mm) of voxel centres along each axis. */
  ax: Float64Array;
  ay: Float64Array;
  az: Float64Array;
  /** Radius of the reconstructed field of view (mm, in-plane, around the grid centre). */
  fovRadiusMm: number;
  /** HU stored outside the field of view (LIDC-style padding), or null when the whole grid is reconstructed. */
  padHu: number | null;
}

/**
 * Coarse grids, the whole thorax in mm: small 96 x 96 x 48 voxels (about 3-4 mm in-plane, 6 mm
 * slices), medium 160 x 160 x 80 (about 2.2 mm, 4 mm slices: a 12 mm tumour is 5 voxels across).
 */
const COARSE_GRIDS: Record<Exclude<SynthSize, 'full'>, { xy: number; z: number }> = {
  small: { xy: 96, z: 48 },
  medium: { xy: 160, z: 80 },
};
const FULL_XY = 512;
const FULL_Z_MIN = 90;
const FULL_Z_MAX = 300;
const SLICE_MM = [1, 1.25, 1.5, 2, 2.5, 3, 3, 5, 5] as const;

function axis(centre: number, step: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const first = centre - (step * (n - 1)) / 2;
  for (let i = 0; i < n; i++) out[i] = first + step * i;
  return out;
}

/** Chooses the grid of one case so the whole thorax (lung apices to below the diaphragm) is in view. */
export function chooseGrid(rng: Rng, p: Patient, size: SynthSize, forceOrder?: VoxelOrder): CaseGrid {
  // The order is drawn even when forced, so forcing it changes nothing else about the case.
  const drawn: VoxelOrder = rng.next() < 0.6 ? 'LPS' : 'RAS';
  const order = forceOrder ?? drawn;
  let zTop = p.H + rng.uniform(15, 40);
  let zBottom = -rng.uniform(25, 65);
  let halfWidth = 0;
  let ant = 0;
  let post = 0;
  for (let z = zBottom; z <= zTop; z += 10) {
    const b = bodySection(p, z);
    halfWidth = Math.max(halfWidth, b.a);
    ant = Math.max(ant, b.bAnt);
    post = Math.max(post, b.bPost);
  }
  let nxy: number;
  let dxy: number;
  let nz: number;
  let dz: number;
  if (size !== 'full') {
    nxy = COARSE_GRIDS[size].xy;
    const fov = 2 * halfWidth + rng.uniform(15, 50);
    dxy = Math.round((fov / nxy) * 100) / 100;
    nz = COARSE_GRIDS[size].z;
    dz = Math.round(((zTop - zBottom) / (nz - 1)) * 10) / 10;
  } else {
    nxy = FULL_XY;
    // Integer FOV in mm makes the spacing exact in binary (fov / 512), like scanner output.
    const fov = Math.min(512, Math.max(307, Math.ceil(2 * halfWidth * 1.02 + 6), Math.round(rng.uniform(300, 500))));
    dxy = fov / nxy;
    let si = rng.int(0, SLICE_MM.length - 1);
    while ((zTop - zBottom) / SLICE_MM[si]! + 1 > FULL_Z_MAX && si < SLICE_MM.length - 1) si++;
    dz = SLICE_MM[si]!;
    nz = Math.round((zTop - zBottom) / dz) + 1;
    if (nz < FULL_Z_MIN) {
      // Thick-slice scans cover more: extend mostly into the abdomen.
      const extra = (FULL_Z_MIN - nz) * dz;
      zBottom -= 0.75 * extra;
      zTop += 0.25 * extra;
      nz = FULL_Z_MIN;
    }
    nz = Math.min(nz, FULL_Z_MAX);
  }
  const cx = rng.uniform(-0.04, 0.04) * nxy * dxy;
  // The body sits a little above the grid centre, leaving room for the couch below it.
  const cy = 0.5 * (ant - post) - rng.uniform(0.02, 0.08) * nxy * dxy;
  const cz = zBottom + (dz * (nz - 1)) / 2;
  const shift: Vec = [rng.uniform(-30, 30), rng.uniform(-250, 250), rng.uniform(-700, 100)];
  const sx = order === 'LPS' ? -dxy : dxy;
  const ax = axis(cx, dxy, nxy);
  const ay = axis(cy, dxy, nxy);
  if (order === 'LPS') {
    ax.reverse();
    ay.reverse();
  }
  const az = axis(cz, dz, nz);
  const affine: Mat4 = [
    [sx, 0, 0, ax[0]! + shift[0]],
    [0, sx, 0, ay[0]! + shift[1]],
    [0, 0, dz, az[0]! + shift[2]],
    [0, 0, 0, 1],
  ];
  const padHu = rng.next() < 0.3 ? rng.pick([-2048, -3024, -1024]) : null;
  return {
    dims: [nxy, nxy, nz],
    spacing: [dxy, dxy, dz],
    order,
    affine,
    shift,
    ax,
    ay,
    az,
    fovRadiusMm: (nxy * dxy) / 2,
    padHu,
  };
}
