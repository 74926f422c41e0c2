/**
 * Mask helpers for the lung finder and the per-scan context, tuned for whole working grids
 * (~10^7 voxels in well under a second). They have the semantics of src/core/morphology.ts but
 * work inside boxes and avoid per-voxel coordinate decoding, which is what makes the core versions
 * too slow to run several times per scan.
 *
 * Layout everywhere: x fastest, index = x + nx * (y + ny * z). Distances and radii are in mm.
 */
import type { Vec3, VoxelArray } from '../core/volume.js';
import { squaredDistanceMm } from '../core/morphology.js';

/** Inclusive voxel box. */
export interface Box {
  min: Vec3;
  max: Vec3;
}

export function boxDims(box: Box): Vec3 {
  return [box.max[0] - box.min[0] + 1, box.max[1] - box.min[1] + 1, box.max[2] - box.min[2] + 1];
}

/** Grows a box by `margin` voxels per axis, clipped to the volume. */
export function growBox(box: Box, margin: Vec3, dims: Vec3): Box {
  return {
    min: [Math.max(0, box.min[0] - margin[0]), Math.max(0, box.min[1] - margin[1]), Math.max(0, box.min[2] - margin[2])],
    max: [
      Math.min(dims[0] - 1, box.max[0] + margin[0]),
      Math.min(dims[1] - 1, box.max[1] + margin[1]),
      Math.min(dims[2] - 1, box.max[2] + margin[2]),
    ],
  };
}

/** Margin in voxels per axis covering `mm` millimetres. */
export function marginVox(mm: number, spacingMm: Vec3): Vec3 {
  return [Math.ceil(mm / spacingMm[0]), Math.ceil(mm / spacingMm[1]), Math.ceil(mm / spacingMm[2])];
}

/** Bounding box of the voxels where mask != 0, null if none. */
export function maskBox(mask: ArrayLike<number>, dims: Vec3): Box | null {
  const [nx, ny, nz] = dims;
  let x0 = nx, y0 = ny, z0 = nz, x1 = -1, y1 = -1, z1 = -1;
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (mask[i] === 0) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (z < z0) z0 = z;
        if (z > z1) z1 = z;
      }
    }
  }
  return x1 < 0 ? null : { min: [x0, y0, z0], max: [x1, y1, z1] };
}

/** Copies the box out of a volume into a new array of the same kind. */
export function crop<T extends Uint8Array | Float32Array | Int32Array>(src: VoxelArray, dims: Vec3, box: Box, make: (n: number) => T): T {
  const [bx, by, bz] = boxDims(box);
  const out = make(bx * by * bz);
  let o = 0;
  for (let z = box.min[2]; z <= box.max[2]; z++) {
    for (let y = box.min[1]; y <= box.max[1]; y++) {
      const row = box.min[0] + dims[0] * (y + dims[1] * z);
      out.set(src.subarray(row, row + bx) as never, o);
      o += bx;
    }
  }
  return out;
}

/** Writes a box-sized array back into a volume. */
export function paste(dst: Uint8Array, dims: Vec3, box: Box, src: Uint8Array): void {
  const bx = box.max[0] - box.min[0] + 1;
  let o = 0;
  for (let z = box.min[2]; z <= box.max[2]; z++) {
    for (let y = box.min[1]; y <= box.max[1]; y++) {
      dst.set(src.subarray(o, o + bx), box.min[0] + dims[0] * (y + dims[1] * z));
      o += bx;
    }
  }
}

/**
 * Runs of set voxels along x, row by row (row = y + ny * z), with a union-find over runs that
 * touch in the row below (y - 1) and, unless per slice, in the slice below (z - 1): 6-connectivity
 * in 3D, 4-connectivity in 2D. Working on runs instead of voxels is what makes whole-scan
 * labelling cheap.
 */
interface Runs {
  /** First run of each row; rowStart[rows] = run count. */
  rowStart: Int32Array;
  x0: Int32Array;
  x1: Int32Array;
  /** Component of each run, 1..count (numbered in scan order of their first run). */
  comp: Int32Array;
  count: number;
}

function collectRuns(mask: ArrayLike<number>, dims: Vec3, invert: boolean): { rowStart: Int32Array; x0: Int32Array; x1: Int32Array } {
  const [nx, ny, nz] = dims;
  const rows = ny * nz;
  const rowStart = new Int32Array(rows + 1);
  let cap = 1024;
  let x0 = new Int32Array(cap);
  let x1 = new Int32Array(cap);
  let k = 0;
  for (let row = 0; row < rows; row++) {
    rowStart[row] = k;
    const base = row * nx;
    let x = 0;
    while (x < nx) {
      while (x < nx && (mask[base + x] !== 0) === invert) x++;
      if (x >= nx) break;
      const s = x;
      while (x < nx && (mask[base + x] !== 0) !== invert) x++;
      if (k >= cap) {
        cap *= 2;
        const a = new Int32Array(cap);
        a.set(x0);
        x0 = a;
        const b = new Int32Array(cap);
        b.set(x1);
        x1 = b;
      }
      x0[k] = s;
      x1[k] = x - 1;
      k++;
    }
  }
  rowStart[rows] = k;
  return { rowStart, x0: x0.subarray(0, k), x1: x1.subarray(0, k) };
}

function findRoot(parent: Int32Array, a: number): number {
  let r = a;
  while (parent[r] !== r) r = parent[r]!;
  while (parent[a] !== r) {
    const next = parent[a]!;
    parent[a] = r;
    a = next;
  }
  return r;
}

function unionRows(parent: Int32Array, x0: Int32Array, x1: Int32Array, a0: number, a1: number, b0: number, b1: number): void {
  let i = a0;
  let j = b0;
  while (i < a1 && j < b1) {
    if (x1[i]! < x0[j]!) {
      i++;
      continue;
    }
    if (x1[j]! < x0[i]!) {
      j++;
      continue;
    }
    const ri = findRoot(parent, i);
    const rj = findRoot(parent, j);
    if (ri !== rj) {
      if (ri < rj) parent[rj] = ri;
      else parent[ri] = rj;
    }
    if (x1[i]! < x1[j]!) i++;
    else j++;
  }
}

function labelRuns(mask: ArrayLike<number>, dims: Vec3, perSlice: boolean, invert = false): Runs {
  const [, ny, nz] = dims;
  const { rowStart, x0, x1 } = collectRuns(mask, dims, invert);
  const m = x0.length;
  const parent = new Int32Array(m);
  for (let i = 0; i < m; i++) parent[i] = i;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = y + ny * z;
      const a0 = rowStart[row]!;
      const a1 = rowStart[row + 1]!;
      if (a0 === a1) continue;
      if (y > 0) unionRows(parent, x0, x1, a0, a1, rowStart[row - 1]!, rowStart[row]!);
      if (z > 0 && !perSlice) unionRows(parent, x0, x1, a0, a1, rowStart[row - ny]!, rowStart[row - ny + 1]!);
    }
  }
  const comp = new Int32Array(m);
  let count = 0;
  for (let i = 0; i < m; i++) {
    const r = findRoot(parent, i);
    comp[i] = r === i ? ++count : comp[r]!;
  }
  return { rowStart, x0, x1, comp, count };
}

/** Paints the runs whose component is flagged in `keep` into `out` (cleared first; a new mask by default). */
function paintRuns(runs: Runs, dims: Vec3, keep: Uint8Array, out?: Uint8Array): Uint8Array {
  const [nx, ny, nz] = dims;
  if (out) out.fill(0);
  else out = new Uint8Array(nx * ny * nz);
  const rows = ny * nz;
  for (let row = 0; row < rows; row++) {
    const base = row * nx;
    for (let k = runs.rowStart[row]!; k < runs.rowStart[row + 1]!; k++) {
      if (keep[runs.comp[k]!]) out.fill(1, base + runs.x0[k]!, base + runs.x1[k]! + 1);
    }
  }
  return out;
}

/** Flags the components that touch the slice border (x or y faces; z faces too when `zFaces`). */
function touchingBorder(runs: Runs, dims: Vec3, zFaces: boolean): Uint8Array {
  const [nx, ny, nz] = dims;
  const flag = new Uint8Array(runs.count + 1);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = y + ny * z;
      const edgeRow = y === 0 || y === ny - 1 || (zFaces && (z === 0 || z === nz - 1));
      for (let k = runs.rowStart[row]!; k < runs.rowStart[row + 1]!; k++) {
        if (edgeRow || runs.x0[k] === 0 || runs.x1[k] === nx - 1) flag[runs.comp[k]!] = 1;
      }
    }
  }
  return flag;
}

/**
 * Per axial slice, the voxels of `pass` reachable from the slice's border through `pass` voxels
 * (4-connected, in 2D). Used for "air outside the body": a gap in the body outline in one slice
 * then spoils only that slice, not the whole lung as a 3D flood would.
 */
export function floodFromSliceBorder(pass: Uint8Array, dims: Vec3, out?: Uint8Array): Uint8Array {
  const runs = labelRuns(pass, dims, true);
  return paintRuns(runs, dims, touchingBorder(runs, dims, false), out);
}

function invertInPlace(m: Uint8Array): Uint8Array {
  for (let i = 0; i < m.length; i++) m[i] = m[i] ? 0 : 1;
  return m;
}

/** Fills, per axial slice, the background not 4-connected to the slice's border. */
export function fillHolesPerSliceFast(mask: Uint8Array, dims: Vec3): Uint8Array {
  const runs = labelRuns(mask, dims, true, true);
  return invertInPlace(paintRuns(runs, dims, touchingBorder(runs, dims, false)));
}

/** Fills 3D holes: background not 6-connected to any face of the volume becomes foreground. */
export function fillHoles3dFast(mask: Uint8Array, dims: Vec3): Uint8Array {
  const runs = labelRuns(mask, dims, false, true);
  return invertInPlace(paintRuns(runs, dims, touchingBorder(runs, dims, true)));
}

/**
 * Mask of the largest 6-connected component (the first in scan order on ties); empty stays empty.
 * `out` may be `mask` itself.
 */
export function largestComponent6(mask: Uint8Array, dims: Vec3, out?: Uint8Array): Uint8Array {
  const runs = labelRuns(mask, dims, false);
  const sizes = new Float64Array(runs.count + 1);
  for (let k = 0; k < runs.x0.length; k++) sizes[runs.comp[k]!]! += runs.x1[k]! - runs.x0[k]! + 1;
  const keep = new Uint8Array(runs.count + 1);
  let best = 0;
  for (let c = 1; c <= runs.count; c++) if (best === 0 || sizes[c]! > sizes[best]!) best = c;
  if (best > 0) keep[best] = 1;
  return paintRuns(runs, dims, keep, out);
}

export interface Labels {
  /** 0 = background, 1..count. */
  labels: Int32Array;
  count: number;
  /** sizes[c] voxels of component c (sizes[0] = 0). */
  sizes: Float64Array;
}

/**
 * 6-connected components in 3D (or 4-connected per slice when `perSlice`). Labels are numbered
 * in scan order of their first voxel.
 */
export function label6(mask: Uint8Array, dims: Vec3, perSlice = false): Labels {
  const [nx, ny, nz] = dims;
  const runs = labelRuns(mask, dims, perSlice);
  const labels = new Int32Array(nx * ny * nz);
  const sizes = new Float64Array(runs.count + 1);
  const rows = ny * nz;
  for (let row = 0; row < rows; row++) {
    const base = row * nx;
    for (let k = runs.rowStart[row]!; k < runs.rowStart[row + 1]!; k++) {
      const c = runs.comp[k]!;
      labels.fill(c, base + runs.x0[k]!, base + runs.x1[k]! + 1);
      sizes[c]! += runs.x1[k]! - runs.x0[k]! + 1;
    }
  }
  return { labels, count: runs.count, sizes };
}

/**
 * Morphological closing with a ball of `radiusMm`, computed inside the mask's bounding box grown
 * by the radius (so it costs the size of the object, not of the scan). Voxels of the result lie
 * within the grown box; the volume's faces count as background for the erosion only where the
 * grown box is cut by them, like src/core/morphology.ts closeMm.
 */
export function closeBallMm(mask: Uint8Array, dims: Vec3, spacingMm: Vec3, radiusMm: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  const box0 = maskBox(mask, dims);
  if (!box0) return out;
  // One extra voxel so the dilated object never touches a box face that is not a volume face.
  const m = marginVox(radiusMm, spacingMm);
  const box = growBox(box0, [m[0] + 1, m[1] + 1, m[2] + 1], dims);
  const bd = boxDims(box);
  const sub = crop(mask, dims, box, (k) => new Uint8Array(k));
  const r2 = radiusMm * radiusMm;
  const dDil = squaredDistanceMm(sub, bd, spacingMm, false, undefined, r2);
  const dil = new Uint8Array(sub.length);
  for (let i = 0; i < sub.length; i++) dil[i] = dDil[i]! <= r2 ? 1 : 0;
  const dEro = squaredDistanceMm(dil, bd, spacingMm, true, dDil, r2);
  const closed = new Uint8Array(sub.length);
  for (let i = 0; i < sub.length; i++) closed[i] = dil[i] && dEro[i]! > r2 ? 1 : 0;
  for (let i = 0; i < sub.length; i++) if (sub[i]) closed[i] = 1;
  paste(out, dims, box, closed);
  return out;
}

/**
 * Closing with a ball of `radiusMm` like closeBallMm, but on fine grids the ball is rolled on a
 * grid coarsened so that its voxels are at most a sixth of the radius (an integer factor per axis).
 * Voxels of the mask keep their full resolution and only coarse cells holding no mask voxel can be
 * added, so pockets lose up to a coarse cell along their rim. Costs about 1/f² of the
 * full-resolution closing for in-plane factor f; working grids (≥ 2 mm) get f = 1.
 */
export function closeBallCoarseMm(mask: Uint8Array, dims: Vec3, spacingMm: Vec3, radiusMm: number): Uint8Array {
  const f: Vec3 = [
    Math.max(1, Math.floor(radiusMm / (6 * spacingMm[0]))),
    Math.max(1, Math.floor(radiusMm / (6 * spacingMm[1]))),
    Math.max(1, Math.floor(radiusMm / (6 * spacingMm[2]))),
  ];
  if (f[0] === 1 && f[1] === 1 && f[2] === 1) return closeBallMm(mask, dims, spacingMm, radiusMm);
  const out = new Uint8Array(mask.length);
  const box0 = maskBox(mask, dims);
  if (!box0) return out;
  // Room for the dilation inside the box, so the box faces do not act as part of the object.
  const m = marginVox(radiusMm, spacingMm);
  const box = growBox(box0, [m[0] + 2 * f[0], m[1] + 2 * f[1], m[2] + 2 * f[2]], dims);
  const bd = boxDims(box);
  const sub = crop(mask, dims, box, (k) => new Uint8Array(k));
  const cd: Vec3 = [Math.ceil(bd[0] / f[0]), Math.ceil(bd[1] / f[1]), Math.ceil(bd[2] / f[2])];
  const coarse = new Uint8Array(cd[0] * cd[1] * cd[2]);
  const cellOf = (x: number, y: number, z: number): number => Math.floor(x / f[0]) + cd[0] * (Math.floor(y / f[1]) + cd[1] * Math.floor(z / f[2]));
  let i = 0;
  for (let z = 0; z < bd[2]; z++) {
    for (let y = 0; y < bd[1]; y++) {
      for (let x = 0; x < bd[0]; x++, i++) if (sub[i]) coarse[cellOf(x, y, z)] = 1;
    }
  }
  const closed = closeBallMm(coarse, cd, [spacingMm[0] * f[0], spacingMm[1] * f[1], spacingMm[2] * f[2]], radiusMm);
  i = 0;
  for (let z = 0; z < bd[2]; z++) {
    for (let y = 0; y < bd[1]; y++) {
      for (let x = 0; x < bd[0]; x++, i++) {
        const c = cellOf(x, y, z);
        if (closed[c] && !coarse[c]) sub[i] = 1;
      }
    }
  }
  paste(out, dims, box, sub);
  return out;
}
