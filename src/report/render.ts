/**
 * CT slices as pictures, with the predicted and the true tumour outlines drawn on them.
 *
 * Input volumes are in canonical RAS voxel order (x → patient's Right, y → Anterior, z → Superior;
 * see geometry/orient.ts toCanonical), so every scan displays the same way whatever its stored
 * order. Pictures follow the radiological convention: axial and coronal views show the patient's
 * right on the picture's left (axial: anterior at the top, as seen from the feet; coronal: head at
 * the top, as seen from the front); sagittal views show anterior on the left and the head at the top.
 *
 * Display pixels are square in mm, so the aspect ratio follows the voxel spacing. Each pixel shows
 * the voxel whose cell holds the pixel's centre (nearest neighbour, no smoothing): an outline then
 * sits exactly on the voxels of the mask, which is what a reader checks a contour against.
 */
import type { Vec3, VoxelArray } from '../core/volume.js';
import { blankImage, type RgbImage } from './png.js';

export type ViewName = 'axial' | 'coronal' | 'sagittal';

/** A CT and its masks on one canonical (RAS) grid. */
export interface DisplayVolume {
  /** HU, canonical voxel order (x fastest). */
  hu: VoxelArray;
  dims: Vec3;
  spacingMm: Vec3;
  /** True tumour mask (0/1), or null when there is none. */
  truth: Uint8Array | null;
  /** Predicted tumour mask (0/1), or null when there is none. */
  pred: Uint8Array | null;
}

/** A lung window: what a radiologist uses to read lung tissue (centre and width in HU). */
export interface HuWindow {
  levelHu: number;
  widthHu: number;
}

export const LUNG_WINDOW: HuWindow = { levelHu: -600, widthHu: 1500 };

export type Rgb = readonly [number, number, number];
/** Outline colours: a blue–orange pair reads apart for most colour-blind readers, on grey. */
export const TRUTH_COLOUR: Rgb = [0, 200, 255];
export const PRED_COLOUR: Rgb = [255, 120, 0];
/** Where both outlines fall on the same pixel. */
export const BOTH_COLOUR: Rgb = [255, 255, 0];

/**
 * For each view: the voxel axis held fixed, the axis that runs along the picture's columns and the
 * one along its rows. Both run reversed (picture index 0 is the voxel axis's far end): column 0 is
 * the patient's right (axial, coronal) or front (sagittal); row 0 is anterior (axial) or superior.
 */
export const VIEW_AXES: Readonly<Record<ViewName, { slice: 0 | 1 | 2; col: 0 | 1 | 2; row: 0 | 1 | 2 }>> = {
  axial: { slice: 2, col: 0, row: 1 },
  coronal: { slice: 1, col: 0, row: 2 },
  sagittal: { slice: 0, col: 1, row: 2 },
};

/** Letters at the picture's left, right, top and bottom edges. */
export const VIEW_EDGES: Readonly<Record<ViewName, { left: string; right: string; top: string; bottom: string }>> = {
  axial: { left: 'R', right: 'L', top: 'A', bottom: 'P' },
  coronal: { left: 'R', right: 'L', top: 'S', bottom: 'I' },
  sagittal: { left: 'A', right: 'P', top: 'S', bottom: 'I' },
};

/** What to draw: one slice, a region of it in display mm, and the size of a picture pixel. */
export interface Plane {
  view: ViewName;
  /** Voxel index along the view's fixed axis. */
  slice: number;
  /** Picture pixel size, mm (square pixels). */
  pixelMm: number;
  /**
   * The region shown, in display mm from the picture-space origin (the far end of the column axis,
   * the far end of the row axis): [left, top, width, height]. The whole slice when omitted.
   */
  regionMm?: [number, number, number, number];
  /** Outline thickness in picture pixels (default 1). */
  outlinePx?: number;
}

export interface RenderedPlane {
  image: RgbImage;
  /** Picture pixels per outline: how many pixels carry each colour (for checks and captions). */
  outlinePixels: { truth: number; pred: number; both: number };
}

/** The extent of the full slice of a view in display mm: [width, height]. */
export function sliceExtentMm(vol: Pick<DisplayVolume, 'dims' | 'spacingMm'>, view: ViewName): [number, number] {
  const a = VIEW_AXES[view];
  return [vol.dims[a.col] * vol.spacingMm[a.col], vol.dims[a.row] * vol.spacingMm[a.row]];
}

/**
 * The picture index along a view axis → voxel index, for `count` picture pixels starting at
 * `startMm` with `pixelMm` each; -1 where the pixel centre falls outside the volume.
 */
function pictureToVoxel(count: number, startMm: number, pixelMm: number, n: number, spacingMm: number): Int32Array {
  const out = new Int32Array(count);
  for (let p = 0; p < count; p++) {
    const d = Math.floor((startMm + (p + 0.5) * pixelMm) / spacingMm);
    // Display index d counts from the axis's far end (the reversal described at VIEW_AXES).
    out[p] = d >= 0 && d < n ? n - 1 - d : -1;
  }
  return out;
}

/** Renders one plane: the CT in `window` (grey), then the outlines of the masks present. */
export function renderPlane(vol: DisplayVolume, plane: Plane, window: HuWindow = LUNG_WINDOW): RenderedPlane {
  const a = VIEW_AXES[plane.view];
  const { dims } = vol;
  if (!(plane.pixelMm > 0)) throw new Error(`renderPlane: pixel size ${plane.pixelMm} mm`);
  if (!Number.isInteger(plane.slice) || plane.slice < 0 || plane.slice >= dims[a.slice]) {
    throw new Error(`renderPlane: ${plane.view} slice ${plane.slice} outside 0..${dims[a.slice] - 1}`);
  }
  const [fullW, fullH] = sliceExtentMm(vol, plane.view);
  const [left, top, wMm, hMm] = plane.regionMm ?? [0, 0, fullW, fullH];
  const width = Math.max(1, Math.round(wMm / plane.pixelMm));
  const height = Math.max(1, Math.round(hMm / plane.pixelMm));
  const colVox = pictureToVoxel(width, left, plane.pixelMm, dims[a.col], vol.spacingMm[a.col]);
  const rowVox = pictureToVoxel(height, top, plane.pixelMm, dims[a.row], vol.spacingMm[a.row]);
  const stride: Vec3 = [1, dims[0], dims[0] * dims[1]];
  const base = plane.slice * stride[a.slice];
  const image = blankImage(width, height);
  const lo = window.levelHu - window.widthHu / 2;
  const scale = 255 / window.widthHu;
  const truthIn = vol.truth ? new Uint8Array(width * height) : null;
  const predIn = vol.pred ? new Uint8Array(width * height) : null;
  for (let r = 0; r < height; r++) {
    const rv = rowVox[r]!;
    if (rv < 0) continue;
    for (let c = 0; c < width; c++) {
      const cv = colVox[c]!;
      if (cv < 0) continue;
      const v = base + rv * stride[a.row] + cv * stride[a.col];
      const g = Math.max(0, Math.min(255, Math.round((vol.hu[v]! - lo) * scale)));
      const p = r * width + c;
      image.rgb[3 * p] = g;
      image.rgb[3 * p + 1] = g;
      image.rgb[3 * p + 2] = g;
      if (truthIn && vol.truth![v]) truthIn[p] = 1;
      if (predIn && vol.pred![v]) predIn[p] = 1;
    }
  }
  const t = Math.max(1, Math.round(plane.outlinePx ?? 1));
  const truthLine = truthIn ? outline(truthIn, width, height, t) : null;
  const predLine = predIn ? outline(predIn, width, height, t) : null;
  const counts = { truth: 0, pred: 0, both: 0 };
  for (let p = 0; p < width * height; p++) {
    const inT = truthLine?.[p] === 1;
    const inP = predLine?.[p] === 1;
    if (!inT && !inP) continue;
    const colour = inT && inP ? BOTH_COLOUR : inT ? TRUTH_COLOUR : PRED_COLOUR;
    if (inT && inP) counts.both++;
    else if (inT) counts.truth++;
    else counts.pred++;
    image.rgb[3 * p] = colour[0];
    image.rgb[3 * p + 1] = colour[1];
    image.rgb[3 * p + 2] = colour[2];
  }
  return { image, outlinePixels: counts };
}

/**
 * The inner outline of a picture-space mask: pixels inside it with a pixel outside it (or the
 * picture's edge) within `thickness` pixels in any of the 8 directions.
 */
export function outline(inside: Uint8Array, width: number, height: number, thickness = 1): Uint8Array {
  const out = new Uint8Array(inside.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside[y * width + x]) continue;
      let edge = false;
      for (let dy = -thickness; dy <= thickness && !edge; dy++) {
        const yy = y + dy;
        for (let dx = -thickness; dx <= thickness; dx++) {
          const xx = x + dx;
          if (xx < 0 || yy < 0 || xx >= width || yy >= height || !inside[yy * width + xx]) {
            edge = true;
            break;
          }
        }
      }
      if (edge) out[y * width + x] = 1;
    }
  }
  return out;
}

/** Where to cut a case: an axial slice and the coronal and sagittal slices through the tumour on it. */
export interface CutPoint {
  /** Canonical voxel indices: x (sagittal slice), y (coronal slice), z (axial slice). */
  voxel: Vec3;
  /** Tumour voxels on the axial slice (0 when no mask has any). */
  axialAreaVoxels: number;
  /** Bounding box of the tumour on the axial slice in voxel indices [xmin, ymin, xmax, ymax], or null. */
  axialBox: [number, number, number, number] | null;
}

/**
 * The axial slice with the largest tumour area in `mask`, and on it the column (x) and row (y)
 * holding the most tumour voxels (ties: nearest the section's centroid), so the sagittal and
 * coronal cuts pass through the largest section. The volume's centre when the mask is empty.
 */
export function cutThroughTumour(mask: Uint8Array | null, dims: Vec3): CutPoint {
  const [nx, ny, nz] = dims;
  const centre: CutPoint = { voxel: [nx >> 1, ny >> 1, nz >> 1], axialAreaVoxels: 0, axialBox: null };
  if (!mask) return centre;
  const perZ = new Float64Array(nz);
  for (let i = 0; i < mask.length; i++) if (mask[i]) perZ[Math.floor(i / (nx * ny))]++;
  let z = 0;
  for (let k = 1; k < nz; k++) if (perZ[k]! > perZ[z]!) z = k;
  if (perZ[z] === 0) return centre;
  const perX = new Float64Array(nx);
  const perY = new Float64Array(ny);
  let sx = 0;
  let sy = 0;
  const box: [number, number, number, number] = [nx, ny, -1, -1];
  const base = z * nx * ny;
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      if (!mask[base + y * nx + x]) continue;
      perX[x]++;
      perY[y]++;
      sx += x;
      sy += y;
      box[0] = Math.min(box[0], x);
      box[1] = Math.min(box[1], y);
      box[2] = Math.max(box[2], x);
      box[3] = Math.max(box[3], y);
    }
  }
  const area = perZ[z]!;
  const best = (counts: Float64Array, mean: number): number => {
    let b = 0;
    for (let i = 1; i < counts.length; i++) {
      if (counts[i]! > counts[b]! || (counts[i] === counts[b] && Math.abs(i - mean) < Math.abs(b - mean))) b = i;
    }
    return b;
  };
  return { voxel: [best(perX, sx / area), best(perY, sy / area), z], axialAreaVoxels: area, axialBox: box };
}

/** Whether a mask has a voxel on any face of its grid (a tumour there may be cut off by the scan's edge). */
export function touchesBorder(mask: Uint8Array, dims: Vec3): boolean {
  const [nx, ny, nz] = dims;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % nx;
    const y = Math.floor(i / nx) % ny;
    const z = Math.floor(i / (nx * ny));
    if (x === 0 || y === 0 || z === 0 || x === nx - 1 || y === ny - 1 || z === nz - 1) return true;
  }
  return false;
}

/** The pictures of one case: three full slices through the cut point and an axial close-up. */
export interface CaseViews {
  axial: RenderedPlane;
  coronal: RenderedPlane;
  sagittal: RenderedPlane;
  /** Axial close-up around the tumour (null when no mask has a tumour). */
  closeUp: RenderedPlane | null;
  cut: CutPoint;
  /** Picture pixel size of the full views, mm. */
  pixelMm: number;
  /** Side of the close-up's square field of view, mm. */
  closeUpFieldMm: number | null;
}

export interface ViewOptions {
  /** Longest side of the full views, pixels. */
  fullPx: number;
  /** Side of the close-up, pixels. */
  closeUpPx: number;
  /** Smallest close-up field of view, mm (small nodules still show their surroundings). */
  minCloseUpMm: number;
}

export const DEFAULT_VIEW_OPTIONS: ViewOptions = { fullPx: 280, closeUpPx: 280, minCloseUpMm: 60 };

/**
 * Renders a case. The cut follows the true mask, or the predicted one when there is no truth (or
 * the truth is empty). All full views share one pixel size so that they compare at a glance.
 */
export function renderCase(vol: DisplayVolume, opts: ViewOptions = DEFAULT_VIEW_OPTIONS, window: HuWindow = LUNG_WINDOW): CaseViews {
  let cut = cutThroughTumour(vol.truth, vol.dims);
  if (cut.axialAreaVoxels === 0) cut = cutThroughTumour(vol.pred, vol.dims);
  const ext = [0, 1, 2].map((k) => vol.dims[k]! * vol.spacingMm[k]!);
  const pixelMm = Math.max(...ext) / opts.fullPx;
  const [x, y, z] = cut.voxel;
  const axial = renderPlane(vol, { view: 'axial', slice: z, pixelMm }, window);
  const coronal = renderPlane(vol, { view: 'coronal', slice: y, pixelMm }, window);
  const sagittal = renderPlane(vol, { view: 'sagittal', slice: x, pixelMm }, window);
  let closeUp: RenderedPlane | null = null;
  let closeUpFieldMm: number | null = null;
  if (cut.axialBox) {
    const [x0, y0, x1, y1] = cut.axialBox;
    const [sx, sy] = vol.spacingMm;
    const [nx, ny] = vol.dims;
    // Display mm of the box (columns and rows run reversed, see VIEW_AXES).
    const left = (nx - 1 - x1) * sx;
    const right = (nx - x0) * sx;
    const top = (ny - 1 - y1) * sy;
    const bottom = (ny - y0) * sy;
    const side = Math.max(opts.minCloseUpMm, 1.6 * Math.max(right - left, bottom - top));
    const cx = (left + right) / 2;
    const cy = (top + bottom) / 2;
    closeUpFieldMm = side;
    const closePx = side / opts.closeUpPx;
    // Thicker outlines once a voxel spans several pixels, so they stay visible when magnified.
    const outlinePx = Math.max(1, Math.min(3, Math.floor(Math.min(sx, sy) / closePx / 3)));
    closeUp = renderPlane(vol, { view: 'axial', slice: z, pixelMm: closePx, regionMm: [cx - side / 2, cy - side / 2, side, side], outlinePx }, window);
  }
  return { axial, coronal, sagittal, closeUp, cut, pixelMm, closeUpFieldMm };
}
