/**
 * Lung finder: the lungs of a thoracic CT, filled so that vessels, nodules and tumours inside the
 * lungs or against their walls are inside the mask.
 *
 * Input is HU on the working grid (x fastest: index = x + nx * (y + ny * z)), spacing in mm, with
 * z increasing towards the head (true of the canonical RAS order the pipeline uses, and of the L,P,S
 * order of the raw data). Steps:
 *  1. air: HU < airHu; FOV padding (HU < paddingHu) counts as air so it joins the outside air;
 *  2. outside air: air reachable from each axial slice's border (2D flood, so a gap in the body
 *     outline in one slice cannot leak into the lungs of all slices);
 *  3. body: the largest 6-connected component of everything else (drops the table);
 *  4. airways: the trachea found in the upper slices near the body's midline and followed down
 *     slice by slice, dropping a branch where its section suddenly grows (it has merged with lung);
 *  5. lungs: the largest air component plus a second one that reaches the upper half of it on the
 *     other side of the midline (bowel gas never reaches that high);
 *  6. filling: each lung closed with a ball of closeRadiusMm, holes filled per slice, then, per
 *     slice, the pockets between the lung and its convex hull that open towards the chest wall
 *     (where a large tumour against the pleura pushes the lung away) added; finally 3D holes.
 *     Pockets opening inwards are left out: they hold the heart, hilum, spine or liver dome.
 */
import { convexHull } from '../geometry/hull.js';
import type { Vec3 } from '../core/volume.js';
import {
  boxDims,
  closeBallCoarseMm,
  crop,
  fillHoles3dFast,
  fillHolesPerSliceFast,
  floodFromSliceBorder,
  growBox,
  label6,
  largestComponent6,
  maskBox,
  paste,
  type Box,
} from './masks.js';

export interface LungFinderOptions {
  /** Voxels below this are air (HU). */
  airHu: number;
  /** Voxels below this are outside the scanner's field of view (padding such as -2048, -3024). */
  paddingHu: number;
  /** Radius of the closing ball (mm). */
  closeRadiusMm: number;
  /** Less lung air than this (mL) means no lungs found. */
  minLungMl: number;
  /** A second air component must hold at least this many mL to count as a lung. */
  minSecondLungMl: number;
  /** Trachea section limits (cm²) when seeding and following it. */
  tracheaMinCm2: number;
  tracheaMaxCm2: number;
  /** Largest distance (mm) of the trachea seed from the body's midline. */
  tracheaMaxOffsetMm: number;
  /** Lung sections smaller than this (cm²) get no convex-hull pockets. */
  pocketMinSectionCm2: number;
  /**
   * Crop mode (the scan is cut around the tumour, so the lungs reach the scan's edge and look like
   * outside air): an edge-touching air component is outside air when its median is below this (HU).
   * Air outside the patient reads -1000; lung parenchyma, even emphysematous, reads above -950.
   */
  cropOutsideAirMedianHu: number;
  /** Crop mode: air components smaller than this (mL) are airways or gas, not lung. */
  cropMinComponentMl: number;
}

export const DEFAULT_LUNG_FINDER_OPTIONS: Readonly<LungFinderOptions> = {
  airHu: -400,
  paddingHu: -1500,
  closeRadiusMm: 15,
  minLungMl: 300,
  minSecondLungMl: 20,
  tracheaMinCm2: 0.5,
  tracheaMaxCm2: 6,
  tracheaMaxOffsetMm: 30,
  pocketMinSectionCm2: 10,
  cropOutsideAirMedianHu: -960,
  cropMinComponentMl: 20,
};

export interface LungResult {
  /** Filled lungs (1 inside), including vessels, nodules and tumours inside or against them; all 0 when not found. */
  lungs: Uint8Array;
  /** The lung air components before filling (1 inside). */
  rawAir: Uint8Array;
  /** False when no lungs were found: the caller should treat the whole scan as eligible. */
  found: boolean;
  /**
   * True when the lungs were found in crop mode: the scan is cut around the tumour, the lungs reach
   * its edge, and `midlineX` is a guess (a scan edge: away from the outside air, else from the lung).
   */
  crop: boolean;
  warnings: string[];
  /** x (voxel, may be fractional) of the body's midline; used for left/right. */
  midlineX: number;
  /** Volumes in mL: each kept lung air component, and the filled lungs. */
  airComponentsMl: number[];
  filledMl: number;
}

/**
 * Finds the lungs in a CT (HU) with dims (x, y, z) and spacing in mm.
 */
export function findLungs(ct: ArrayLike<number>, dims: Vec3, spacingMm: Vec3, options: Partial<LungFinderOptions> = {}): LungResult {
  const opt: LungFinderOptions = { ...DEFAULT_LUNG_FINDER_OPTIONS, ...options };
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const n = plane * nz;
  if (ct.length !== n) throw new Error(`findLungs: ${ct.length} voxels for a ${dims.join('x')} grid`);
  const voxelMl = (spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000;
  const warnings: string[] = [];

  // One full-size mask, `work`, goes through air → inner (not outside air) → body → rawAir:
  // fresh full-size arrays cost their page faults, which on the target machines is most of it.
  const work = new Uint8Array(n);
  let padding = 0;
  for (let i = 0; i < n; i++) {
    const v = ct[i]!;
    // NaN counts as padding: it cannot be tissue.
    if (!(v >= opt.paddingHu)) padding++;
    if (!(v >= opt.airHu)) work[i] = 1;
  }
  if (padding > 0) warnings.push(`${padding} voxels below ${opt.paddingHu} HU treated as outside the field of view`);
  floodFromSliceBorder(work, dims, work);
  for (let i = 0; i < n; i++) work[i] = work[i] ? 0 : 1;
  const body = largestComponent6(work, dims, work);
  const sliceCount = new Float64Array(nz);
  const sliceSumX = new Float64Array(nz);
  let insideCount = 0;
  const airMin: Vec3 = [nx, ny, nz];
  const airMax: Vec3 = [-1, -1, -1];
  for (let z = 0, i = 0; z < nz; z++) {
    let c = 0;
    let sx = 0;
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!body[i]) continue;
        c++;
        sx += x;
        if (!(ct[i]! >= opt.airHu)) {
          insideCount++;
          if (x < airMin[0]) airMin[0] = x;
          if (x > airMax[0]) airMax[0] = x;
          if (y < airMin[1]) airMin[1] = y;
          if (y > airMax[1]) airMax[1] = y;
          if (z < airMin[2]) airMin[2] = z;
          if (z > airMax[2]) airMax[2] = z;
        }
      }
    }
    sliceCount[z] = c;
    sliceSumX[z] = sx;
  }
  let bodyCount = 0;
  let bodySumX = 0;
  for (let z = 0; z < nz; z++) {
    bodyCount += sliceCount[z]!;
    bodySumX += sliceSumX[z]!;
  }
  const midlineX = bodyCount > 0 ? bodySumX / bodyCount : (nx - 1) / 2;

  const empty = (why: string): LungResult => {
    warnings.push(why);
    work.fill(0);
    return { lungs: new Uint8Array(n), rawAir: work, found: false, crop: false, warnings, midlineX, airComponentsMl: [], filledMl: 0 };
  };
  const tryCrop = (why: string): LungResult => {
    const cropped = findLungsInCrop(ct, dims, spacingMm, opt, work);
    if (!cropped) return empty(why);
    warnings.push(`${why}; found ${cropped.airComponentsMl.reduce((a, b) => a + b, 0).toFixed(0)} mL of lung air reaching the scan's edge instead (crop mode)`);
    cropped.warnings.unshift(...warnings);
    return cropped;
  };
  if (bodyCount === 0) return empty('no body found (no tissue above the air threshold enclosed in any slice)');
  if (insideCount * voxelMl < opt.minLungMl) {
    return tryCrop(`no lungs found: ${(insideCount * voxelMl).toFixed(0)} mL of air inside the body (< ${opt.minLungMl} mL); the scan may be a crop`);
  }

  const airBox: Box = { min: airMin, max: airMax };
  const ad = boxDims(airBox);
  const subAir = new Uint8Array(ad[0] * ad[1] * ad[2]);
  for (let z = 0, o = 0; z < ad[2]; z++) {
    for (let y = 0; y < ad[1]; y++) {
      const row = airBox.min[0] + nx * (airBox.min[1] + y + ny * (airBox.min[2] + z));
      for (let x = 0; x < ad[0]; x++, o++) if (body[row + x] && !(ct[row + x]! >= opt.airHu)) subAir[o] = 1;
    }
  }
  const sliceCentre = new Float64Array(ad[2]);
  for (let z = 0; z < ad[2]; z++) {
    const gz = z + airBox.min[2];
    sliceCentre[z] = (sliceCount[gz]! > 0 ? sliceSumX[gz]! / sliceCount[gz]! : midlineX) - airBox.min[0];
  }
  const airway = traceAirways(subAir, ad, spacingMm, sliceCentre, opt);
  if (airway.count === 0) warnings.push('no trachea found in the upper slices; airways not removed');
  for (let i = 0; i < subAir.length; i++) if (airway.mask[i]) subAir[i] = 0;

  const lab = label6(subAir, ad);
  const midLocal = midlineX - airBox.min[0];
  const picked = pickLungs(lab.labels, lab.count, lab.sizes, ad, midLocal, voxelMl, opt);
  const totalMl = picked.reduce((s, c) => s + lab.sizes[c]!, 0) * voxelMl;
  if (picked.length === 0 || totalMl < opt.minLungMl) {
    let largest = 0;
    for (let c = 1; c <= lab.count; c++) largest = Math.max(largest, lab.sizes[c]!);
    return tryCrop(`no lungs found: largest air component ${(largest * voxelMl).toFixed(0)} mL (< ${opt.minLungMl} mL); the scan may be a crop`);
  }

  // Per-lung masks in the air box; a single component holding both lungs is split at the midline
  // so that the closing cannot bridge the mediastinum.
  const partOf = new Int8Array(lab.count + 1).fill(-1);
  picked.forEach((c, k) => (partOf[c] = k));
  const sideCount = picked.map(() => [0, 0]);
  const rawSub = new Uint8Array(subAir.length);
  for (let row = 0, i = 0; row < ad[1] * ad[2]; row++) {
    for (let x = 0; x < ad[0]; x++, i++) {
      const k = partOf[lab.labels[i]!]!;
      if (k < 0) continue;
      rawSub[i] = 1;
      sideCount[k]![x < midLocal ? 0 : 1]!++;
    }
  }
  const splitOne = picked.length === 1 && Math.min(sideCount[0]![0]!, sideCount[0]![1]!) > 0.15 * (sideCount[0]![0]! + sideCount[0]![1]!);
  // Lungs that touch in front of the heart make one component, as in most real scans: that is
  // split, not warned about. One component on one side means the other lung has no air.
  if (picked.length === 1 && !splitOne) warnings.push('only one lung found: the other has no air (collapsed, removed, or outside the scan)');
  const nParts = splitOne ? 2 : picked.length;
  const parts = Array.from({ length: nParts }, () => new Uint8Array(subAir.length));
  for (let row = 0, i = 0; row < ad[1] * ad[2]; row++) {
    for (let x = 0; x < ad[0]; x++, i++) {
      const k = partOf[lab.labels[i]!]!;
      if (k < 0) continue;
      parts[splitOne ? (x < midLocal ? 0 : 1) : k]![i] = 1;
    }
  }

  const { lungs, filledMl } = fillLungs(parts, airBox, body, dims, spacingMm, opt, true);
  // The body mask is no longer needed: its memory becomes rawAir.
  const rawAir = work;
  rawAir.fill(0);
  paste(rawAir, dims, airBox, rawSub);

  const rawBox = maskBox(rawSub, ad);
  if (rawBox && (rawBox.min[2] + airBox.min[2] === 0 || rawBox.max[2] + airBox.min[2] === nz - 1)) {
    warnings.push('the lungs reach the first or last slice: the scan may not cover them whole');
  }
  return {
    lungs,
    rawAir,
    found: true,
    crop: false,
    warnings,
    midlineX,
    airComponentsMl: picked.map((c) => lab.sizes[c]! * voxelMl),
    filledMl,
  };
}

/**
 * Fills each lung part (a mask on the air box `airBox`) by closing, per-slice hole filling and
 * (with `outerPockets`) outer convex-hull pockets, then fills 3D holes of their union, inside the body.
 */
function fillLungs(
  parts: Uint8Array[],
  airBox: Box,
  body: Uint8Array,
  dims: Vec3,
  spacingMm: Vec3,
  opt: LungFinderOptions,
  outerPockets: boolean,
): { lungs: Uint8Array; filledMl: number } {
  const ad = boxDims(airBox);
  const voxelMl = (spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000;
  // Filling works in the air box grown by the closing radius.
  const margin: Vec3 = [
    Math.ceil(opt.closeRadiusMm / spacingMm[0]) + 1,
    Math.ceil(opt.closeRadiusMm / spacingMm[1]) + 1,
    Math.ceil(opt.closeRadiusMm / spacingMm[2]) + 1,
  ];
  const fillBox: Box = growBox(airBox, margin, dims);
  const fd = boxDims(fillBox);
  const filled = new Uint8Array(fd[0] * fd[1] * fd[2]);
  const fillBody = crop(body, dims, fillBox, (k) => new Uint8Array(k));
  for (const part of parts) {
    const big = new Uint8Array(filled.length);
    pasteInto(big, fd, fillBox, part, ad, airBox);
    const closed = fillHolesPerSliceFast(closeBallCoarseMm(big, fd, spacingMm, opt.closeRadiusMm), fd);
    if (outerPockets) addOuterPockets(closed, fillBody, fd, spacingMm, opt);
    for (let i = 0; i < filled.length; i++) if (closed[i]) filled[i] = 1;
  }
  const filled3d = fillHoles3dFast(filled, fd);
  let filledCount = 0;
  for (let i = 0; i < filled3d.length; i++) {
    if (filled3d[i] && !fillBody[i]) filled3d[i] = 0;
    if (filled3d[i]) filledCount++;
  }
  const lungs = new Uint8Array(dims[0] * dims[1] * dims[2]);
  paste(lungs, dims, fillBox, filled3d);
  return { lungs, filledMl: filledCount * voxelMl };
}

/**
 * Crop mode: the lungs of a scan cut around the tumour. Every air component (6-connected, HU in
 * [paddingHu, airHu)) is lung unless it is small or reaches the scan's side edges with a median
 * of outside air. Returns null when no lung air is left. `scratch` (n voxels) is overwritten.
 */
function findLungsInCrop(ct: ArrayLike<number>, dims: Vec3, spacingMm: Vec3, opt: LungFinderOptions, scratch: Uint8Array): LungResult | null {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const voxelMl = (spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000;
  const air = scratch;
  for (let i = 0; i < n; i++) {
    const v = ct[i]!;
    air[i] = v >= opt.paddingHu && v < opt.airHu ? 1 : 0;
  }
  const lab = label6(air, dims);
  // Median HU per component from a 10 HU histogram over [paddingHu, airHu).
  const binHu = 10;
  const bins = Math.ceil((opt.airHu - opt.paddingHu) / binHu);
  const hist = new Uint32Array((lab.count + 1) * bins);
  const edge = new Uint8Array(lab.count + 1);
  const sumX = new Float64Array(lab.count + 1);
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const rowEdge = y === 0 || y === ny - 1;
      for (let x = 0; x < nx; x++, i++) {
        const c = lab.labels[i]!;
        if (c === 0) continue;
        hist[c * bins + Math.min(bins - 1, Math.floor((ct[i]! - opt.paddingHu) / binHu))]!++;
        if (rowEdge || x === 0 || x === nx - 1) edge[c] = 1;
        sumX[c] += x;
      }
    }
  }
  const isLung = new Uint8Array(lab.count + 1);
  const isOutside = new Uint8Array(lab.count + 1);
  const lungMl: number[] = [];
  let lungCount = 0;
  let lungSumX = 0;
  let outsideCount = 0;
  let outsideSumX = 0;
  for (let c = 1; c <= lab.count; c++) {
    const size = lab.sizes[c]!;
    let acc = 0;
    let k = 0;
    while (k < bins - 1 && (acc += hist[c * bins + k]!) < size / 2) k++;
    const medianHu = opt.paddingHu + (k + 0.5) * binHu;
    if (edge[c] && medianHu < opt.cropOutsideAirMedianHu) {
      isOutside[c] = 1;
      outsideCount += size;
      outsideSumX += sumX[c]!;
      continue;
    }
    if (size * voxelMl < opt.cropMinComponentMl) continue;
    isLung[c] = 1;
    lungMl.push(size * voxelMl);
    lungCount += size;
    lungSumX += sumX[c]!;
  }
  if (lungCount === 0) return null;

  const rawAir = new Uint8Array(n);
  const notOutside = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = lab.labels[i]!;
    if (!isOutside[c] && ct[i]! >= opt.paddingHu) notOutside[i] = 1;
    if (isLung[c]) rawAir[i] = 1;
  }
  const body = largestComponent6(notOutside, dims, notOutside);
  const airBox = maskBox(rawAir, dims)!;
  // One part: the closing may bridge lung air split by the tumour itself.
  const part = crop(rawAir, dims, airBox, (k) => new Uint8Array(k));
  // No outer pockets: a crop's body centre is not the patient's, so "opening outwards" means nothing
  // (the heart would be taken in); the eligible region's convex hull still reaches tumours at the wall.
  const { lungs, filledMl } = fillLungs([part], airBox, body, dims, spacingMm, opt, false);
  // The mediastinum lies away from the air outside the body; without any, away from the lung (the
  // lung is lateral). A guess either way: it only orients the side and mediastinum context features.
  const awayFromX = outsideCount > 0 ? outsideSumX / outsideCount : lungSumX / lungCount;
  const midlineX = awayFromX < (nx - 1) / 2 ? nx - 0.5 : -0.5;
  return { lungs, rawAir, found: true, crop: true, warnings: [], midlineX, airComponentsMl: lungMl, filledMl };
}

/**
 * Adds to `part` (one lung, in a box of dims d, modified in place), slice by slice, the pockets
 * between the lung section and its convex hull that open towards the outside of the body: seen
 * from the pocket's lung-facing pixels, its centroid lies away from the body's centre (angle
 * under 60°). That is a bite taken out of the lung from the chest wall, e.g. a tumour against the
 * pleura. Pockets opening inwards hold the heart, the hilum, the spine or the liver dome under a
 * lung base, and are left out.
 */
function addOuterPockets(part: Uint8Array, body: Uint8Array, d: Vec3, spacingMm: Vec3, opt: LungFinderOptions): void {
  const [nx, ny, nz] = d;
  const plane = nx * ny;
  const minSection = (opt.pocketMinSectionCm2 * 100) / (spacingMm[0] * spacingMm[1]);
  const pocket = new Uint8Array(plane);
  const sx = spacingMm[0];
  const sy = spacingMm[1];
  for (let z = 0; z < nz; z++) {
    const base = z * plane;
    const pts: number[] = [];
    let count = 0;
    let bodyN = 0;
    let bodyX = 0;
    let bodyY = 0;
    for (let y = 0; y < ny; y++) {
      let lo = -1;
      let hi = -1;
      for (let x = 0; x < nx; x++) {
        const i = base + y * nx + x;
        if (body[i]) {
          bodyN++;
          bodyX += x;
          bodyY += y;
        }
        if (!part[i]) continue;
        if (lo < 0) lo = x;
        hi = x;
        count++;
      }
      if (lo >= 0) pts.push(lo, y, hi, y);
    }
    if (count < minSection || bodyN === 0) continue;
    const hull = convexHull(pts);
    if (hull.length < 3) continue;
    // Rasterise the hull row by row: the row's span between its crossings with the hull's edges.
    pocket.fill(0);
    let any = false;
    for (let y = 0; y < ny; y++) {
      let l = Infinity;
      let r = -Infinity;
      for (let k = 0; k < hull.length; k++) {
        const a = hull[k]!;
        const b = hull[(k + 1) % hull.length]!;
        const ay = pts[2 * a + 1]!;
        const by = pts[2 * b + 1]!;
        const ax = pts[2 * a]!;
        const bx = pts[2 * b]!;
        if ((y < ay && y < by) || (y > ay && y > by)) continue;
        if (ay === by) {
          l = Math.min(l, ax, bx);
          r = Math.max(r, ax, bx);
        } else {
          const x = ax + ((y - ay) * (bx - ax)) / (by - ay);
          l = Math.min(l, x);
          r = Math.max(r, x);
        }
      }
      if (l > r) continue;
      for (let x = Math.max(0, Math.ceil(l - 1e-9)); x <= Math.min(nx - 1, Math.floor(r + 1e-9)); x++) {
        if (!part[base + y * nx + x]) {
          pocket[y * nx + x] = 1;
          any = true;
        }
      }
    }
    if (!any) continue;
    const lab = label6(pocket, [nx, ny, 1]);
    // Per pocket: centroid of all pixels, and of the pixels touching the lung.
    const acc = new Float64Array(4 * (lab.count + 1));
    const touch = new Float64Array(lab.count + 1);
    for (let y = 0, p = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, p++) {
        const c = lab.labels[p]!;
        if (c === 0) continue;
        acc[4 * c]! += x;
        acc[4 * c + 1]! += y;
        const i = base + p;
        if ((x > 0 && part[i - 1]) || (x < nx - 1 && part[i + 1]) || (y > 0 && part[i - nx]) || (y < ny - 1 && part[i + nx])) {
          acc[4 * c + 2]! += x;
          acc[4 * c + 3]! += y;
          touch[c]!++;
        }
      }
    }
    const cx = bodyX / bodyN;
    const cy = bodyY / bodyN;
    const keep = new Uint8Array(lab.count + 1);
    for (let c = 1; c <= lab.count; c++) {
      if (touch[c]! === 0) continue;
      const px = acc[4 * c]! / lab.sizes[c]!;
      const py = acc[4 * c + 1]! / lab.sizes[c]!;
      const lx = acc[4 * c + 2]! / touch[c]!;
      const ly = acc[4 * c + 3]! / touch[c]!;
      // Directions in mm: lung contact → pocket centre, and body centre → pocket centre.
      const ox = (px - lx) * sx;
      const oy = (py - ly) * sy;
      const rx = (px - cx) * sx;
      const ry = (py - cy) * sy;
      const no = Math.hypot(ox, oy);
      const nr = Math.hypot(rx, ry);
      if (no > 0 && nr > 0 && (ox * rx + oy * ry) / (no * nr) >= 0.5) keep[c] = 1;
    }
    for (let p = 0; p < plane; p++) if (keep[lab.labels[p]!]) part[base + p] = 1;
  }
}

/** Copies a mask defined on box `from` (dims fd) into an array on box `to` (dims td); `from` ⊂ `to`. */
function pasteInto(dst: Uint8Array, td: Vec3, to: Box, src: Uint8Array, fd: Vec3, from: Box): void {
  const ox = from.min[0] - to.min[0];
  const oy = from.min[1] - to.min[1];
  const oz = from.min[2] - to.min[2];
  let i = 0;
  for (let z = 0; z < fd[2]; z++) {
    for (let y = 0; y < fd[1]; y++) {
      const row = ox + td[0] * (y + oy + td[1] * (z + oz));
      for (let x = 0; x < fd[0]; x++, i++) if (src[i]) dst[row + x] = 1;
    }
  }
}

/**
 * Picks the lung components: the largest, then (if it lies on one side of the midline) the largest
 * other component on the other side that reaches above the middle of the first one's height.
 */
function pickLungs(
  labels: Int32Array,
  count: number,
  sizes: Float64Array,
  dims: Vec3,
  midX: number,
  voxelMl: number,
  opt: LungFinderOptions,
): number[] {
  if (count === 0) return [];
  const [nx, ny, nz] = dims;
  const zMin = new Int32Array(count + 1).fill(nz);
  const zMax = new Int32Array(count + 1).fill(-1);
  const leftCount = new Float64Array(count + 1);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const c = labels[i]!;
        if (c === 0) continue;
        if (z < zMin[c]!) zMin[c] = z;
        if (z > zMax[c]!) zMax[c] = z;
        if (x < midX) leftCount[c]!++;
      }
    }
  }
  const order = Array.from({ length: count }, (_, k) => k + 1).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
  const first = order[0]!;
  const picked = [first];
  const leftFrac = leftCount[first]! / sizes[first]!;
  if (leftFrac > 0.15 && leftFrac < 0.85) return picked;
  const firstLeft = leftFrac >= 0.5;
  const midHeight = (zMin[first]! + zMax[first]!) / 2;
  for (const c of order.slice(1)) {
    if (sizes[c]! * voxelMl < opt.minSecondLungMl) break;
    const isLeft = leftCount[c]! / sizes[c]! >= 0.5;
    if (isLeft === firstLeft) continue;
    if (zMax[c]! < midHeight) continue;
    picked.push(c);
    break;
  }
  return picked;
}

/**
 * Trachea and main bronchi: seeded in the highest slice that holds a central air section of
 * trachea size, followed downwards through the 2D air components that overlap the airway in the
 * slice above, as long as a component is not much larger than what it continues (a sudden growth
 * means the airway has merged with lung in that slice, where tracking of that branch stops).
 */
function traceAirways(
  air: Uint8Array,
  dims: Vec3,
  spacingMm: Vec3,
  sliceCentreX: Float64Array,
  opt: LungFinderOptions,
): { mask: Uint8Array; count: number } {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const mask = new Uint8Array(air.length);
  const lab = label6(air, dims, true);
  const count = lab.count;
  const sumX = new Float64Array(count + 1);
  const zOf = new Int32Array(count + 1);
  for (let z = 0, i = 0; z < nz; z++) {
    for (let p = 0; p < plane; p++, i++) {
      const c = lab.labels[i]!;
      if (c === 0) continue;
      sumX[c]! += p % nx;
      zOf[c] = z;
    }
  }
  const areaMm2 = spacingMm[0] * spacingMm[1];
  const minVox = (opt.tracheaMinCm2 * 100) / areaMm2;
  const maxVox = (opt.tracheaMaxCm2 * 100) / areaMm2;
  // Highest slices first; search the top 40% of the air's height for the seed.
  const byZ: number[][] = Array.from({ length: nz }, () => []);
  for (let c = 1; c <= count; c++) byZ[zOf[c]!]!.push(c);
  let seedZ = -1;
  let seed = 0;
  for (let z = nz - 1; z >= Math.floor(nz * 0.6) && seed === 0; z--) {
    let bestSize = 0;
    for (const c of byZ[z]!) {
      const size = lab.sizes[c]!;
      const offMm = Math.abs(sumX[c]! / size - sliceCentreX[z]!) * spacingMm[0];
      if (size >= minVox && size <= maxVox && offMm <= opt.tracheaMaxOffsetMm && size > bestSize) {
        bestSize = size;
        seed = c;
      }
    }
    if (seed !== 0) seedZ = z;
  }
  if (seed === 0) return { mask, count: 0 };
  const inAirway = new Uint8Array(count + 1);
  inAirway[seed] = 1;
  let tracked = 1;
  let prevArea = new Map<number, number>([[seed, lab.sizes[seed]!]]);
  for (let z = seedZ - 1; z >= 0 && prevArea.size > 0; z--) {
    // Parent area feeding each component of this slice: airway sections above that it overlaps.
    const parentArea = new Map<number, number>();
    const parentsSeen = new Map<number, Set<number>>();
    const above = (z + 1) * plane;
    const here = z * plane;
    for (let p = 0; p < plane; p++) {
      const up = lab.labels[above + p]!;
      if (up === 0 || !prevArea.has(up)) continue;
      const c = lab.labels[here + p]!;
      if (c === 0) continue;
      let seen = parentsSeen.get(c);
      if (!seen) {
        seen = new Set();
        parentsSeen.set(c, seen);
      }
      if (!seen.has(up)) {
        seen.add(up);
        parentArea.set(c, (parentArea.get(c) ?? 0) + prevArea.get(up)!);
      }
    }
    const next = new Map<number, number>();
    const slack = 100 / areaMm2; // 1 cm² of growth always allowed
    for (const [c, pa] of parentArea) {
      const size = lab.sizes[c]!;
      if (size <= maxVox && size <= 2 * pa + slack) {
        inAirway[c] = 1;
        next.set(c, size);
        tracked++;
      }
    }
    prevArea = next;
  }
  for (let i = 0; i < air.length; i++) if (inAirway[lab.labels[i]!]) mask[i] = 1;
  return { mask, count: tracked };
}
