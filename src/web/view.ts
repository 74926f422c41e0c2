/**
 * The web page's picture of a result: three orthogonal slices of the CT through the tumour with the
 * mask drawn on them, as RGBA pixels (pure, so it is tested in Node and drawn by the page as is).
 *
 * Input is in canonical RAS voxel order (x→Right, y→Anterior, z→Superior; x fastest). Slices are
 * shown the radiological way: axial with the patient's right on the left of the picture and anterior
 * up; coronal with the right on the left and superior up; sagittal with anterior on the left and
 * superior up. Pixels are square: each slice is resampled (nearest voxel) to the finest in-plane
 * spacing, so anisotropic voxels keep their true shape.
 */
import type { Vec3 } from '../core/volume.js';

export type PlaneName = 'axial' | 'coronal' | 'sagittal';
export const PLANES: readonly PlaneName[] = ['axial', 'coronal', 'sagittal'];

export interface PlaneImage {
  plane: PlaneName;
  width: number;
  height: number;
  /** width × height RGBA, row by row from the top. */
  rgba: Uint8ClampedArray;
  /** Size of one pixel (mm). */
  pixelMm: number;
  /** Pixels drawn as the mask's outline (for tests and the page's legend). */
  contourPixels: number;
}

/** CT window of the pictures (HU): lung and soft tissue both readable. */
export const VIEW_WINDOW_HU: readonly [number, number] = [-1000, 400];
/** Outline colour, and the tint mixed into the mask's inside (share of red). */
export const CONTOUR_RGB: readonly [number, number, number] = [255, 40, 40];
const FILL_SHARE = 0.3;

/** Voxel (x, y, z) of the mask's centre of mass, rounded; the volume's centre when the mask is empty. */
export function maskCentre(mask: Uint8Array, dims: Vec3): Vec3 {
  const [nx, ny, nz] = dims;
  let sx = 0, sy = 0, sz = 0, n = 0;
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!mask[i]) continue;
        sx += x; sy += y; sz += z; n++;
      }
    }
  }
  if (n === 0) return [Math.floor(nx / 2), Math.floor(ny / 2), Math.floor(nz / 2)];
  return [Math.round(sx / n), Math.round(sy / n), Math.round(sz / n)];
}

/**
 * How a plane's picture maps onto voxels: the two in-plane voxel axes (picture columns, rows), their
 * directions, and the fixed third axis.
 */
function planeAxes(plane: PlaneName): { col: number; row: number; fixed: number; colFlip: boolean; rowFlip: boolean } {
  // Radiological view: columns run patient right → left (x decreasing) or anterior → posterior
  // (y decreasing); rows run anterior → posterior or superior → inferior (decreasing).
  if (plane === 'axial') return { col: 0, row: 1, fixed: 2, colFlip: true, rowFlip: true };
  if (plane === 'coronal') return { col: 0, row: 2, fixed: 1, colFlip: true, rowFlip: true };
  return { col: 1, row: 2, fixed: 0, colFlip: true, rowFlip: true };
}

/** One plane through voxel `centre` of a canonical CT (HU) with its mask drawn on it. */
export function renderPlane(plane: PlaneName, ct: ArrayLike<number>, mask: Uint8Array, dims: Vec3, spacingMm: Vec3, centre: Vec3): PlaneImage {
  const { col, row, fixed, colFlip, rowFlip } = planeAxes(plane);
  const pixelMm = Math.min(spacingMm[col]!, spacingMm[row]!);
  const width = Math.max(1, Math.round((dims[col]! * spacingMm[col]!) / pixelMm));
  const height = Math.max(1, Math.round((dims[row]! * spacingMm[row]!) / pixelMm));
  const stride: Vec3 = [1, dims[0], dims[0] * dims[1]];
  // Voxel index along each in-plane axis for every picture column / row.
  const voxelOf = (n: number, pixels: number, flip: boolean): Int32Array => {
    const out = new Int32Array(pixels);
    for (let p = 0; p < pixels; p++) {
      const v = Math.min(n - 1, Math.floor(((p + 0.5) * n) / pixels));
      out[p] = flip ? n - 1 - v : v;
    }
    return out;
  };
  const cols = voxelOf(dims[col]!, width, colFlip);
  const rows = voxelOf(dims[row]!, height, rowFlip);
  const base = centre[fixed]! * stride[fixed]!;
  const at = (c: number, r: number): number => base + cols[c]! * stride[col]! + rows[r]! * stride[row]!;
  const inMask = (c: number, r: number): boolean => c >= 0 && r >= 0 && c < width && r < height && mask[at(c, r)] !== 0;
  const rgba = new Uint8ClampedArray(width * height * 4);
  const [lo, hi] = VIEW_WINDOW_HU;
  let contourPixels = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const g = Math.max(0, Math.min(255, Math.round(((ct[at(c, r)]! - lo) / (hi - lo)) * 255)));
      const o = 4 * (r * width + c);
      let rgb: [number, number, number] = [g, g, g];
      if (inMask(c, r)) {
        const edge = !inMask(c - 1, r) || !inMask(c + 1, r) || !inMask(c, r - 1) || !inMask(c, r + 1);
        if (edge) {
          rgb = [...CONTOUR_RGB];
          contourPixels++;
        } else {
          rgb = [g + FILL_SHARE * (CONTOUR_RGB[0] - g), g * (1 - FILL_SHARE), g * (1 - FILL_SHARE)];
        }
      }
      rgba[o] = rgb[0];
      rgba[o + 1] = rgb[1];
      rgba[o + 2] = rgb[2];
      rgba[o + 3] = 255;
    }
  }
  return { plane, width, height, rgba, pixelMm, contourPixels };
}

/** The three planes through the mask's centre (see the module comment for orientation). */
export function renderPlanes(ct: ArrayLike<number>, mask: Uint8Array, dims: Vec3, spacingMm: Vec3): PlaneImage[] {
  const centre = maskCentre(mask, dims);
  return PLANES.map((p) => renderPlane(p, ct, mask, dims, spacingMm, centre));
}
