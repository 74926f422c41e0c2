/**
 * Walks the axial slices of a 3-D mask and hands each non-empty slice's 8-connected foreground
 * components (as cv2.findContours separates them) to a callback, as candidate hull points.
 *
 * Mask layout: NIfTI order, x fastest (index = x + nx * (y + ny * z)); any non-zero byte is
 * foreground. Points are given in the (u, v) = (y, x) frame that cv2 uses for the slice
 * `array[:, :, z]` (its rows are x, its columns y) — see plane.ts.
 *
 * Work is one fast pass over the mask (foregroundIndices) plus the foreground: each row of a
 * slice is cut into runs of foreground along x, runs touching across neighbouring rows
 * (8-connectivity: overlapping or diagonal) are united, and only the two ends of each run are kept
 * as points — the convex hull (hence the enclosing circle and the Feret diameter) of a component
 * is that of its run ends.
 */
import type { Vec3 } from '../core/volume.js';
import { foregroundIndices } from './sparse.js';

export interface SliceComponent {
  /** Run-end points (u, v) of the component, sorted by (u, then v). */
  points: Int32Array;
  /** The component's first pixel in cv2's raster order (smallest x, then smallest y). */
  startX: number;
  startY: number;
}

export interface SliceComponents {
  /** Slice index along z. */
  z: number;
  /** The 8-connected components of the slice's foreground. */
  components: SliceComponent[];
  /** All run-end points of the slice, sorted by (u, then v). */
  all: Int32Array;
}

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]!]!; // path halving
    i = parent[i]!;
  }
  return i;
}

class IntList {
  data = new Int32Array(256);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}

/**
 * Calls `visit` for every axial slice that holds foreground, in increasing z. `indices` are the
 * mask's foreground indices (foregroundIndices) when already known.
 */
export function forEachSliceComponents(
  mask: ArrayLike<number>,
  dims: Vec3,
  visit: (slice: SliceComponents) => void,
  indices: Uint32Array = foregroundIndices(mask),
): void {
  const [nx, ny, nz] = dims;
  if (mask.length !== nx * ny * nz) {
    throw new Error(`forEachSliceComponents: mask has ${mask.length} voxels, dims ${dims.join('x')} need ${nx * ny * nz}`);
  }
  const sliceSize = nx * ny;
  const runX0 = new IntList();
  const runX1 = new IntList();
  const runY = new IntList();
  let parent = new Int32Array(1024);
  let next = 0;
  while (next < indices.length) {
    const z = Math.floor(indices[next]! / sliceSize);
    const sliceEnd = (z + 1) * sliceSize;
    runX0.length = runX1.length = runY.length = 0;
    // Runs along x, rows in increasing y (the index order); each row's runs are united with the
    // runs of row y - 1 they touch.
    let prevStart = 0;
    let prevEnd = 0; // runs of the previous non-empty row: [prevStart, prevEnd)
    let prevY = -2;
    while (next < indices.length && indices[next]! < sliceEnd) {
      const rowIndex = Math.floor(indices[next]! / nx);
      const y = rowIndex - z * ny;
      const rowBase = rowIndex * nx;
      const rowStart = runX0.length;
      while (next < indices.length && indices[next]! < rowBase + nx) {
        const x0 = indices[next]! - rowBase;
        let x1 = x0;
        next++;
        while (x1 + 1 < nx && next < indices.length && indices[next] === rowBase + x1 + 1) {
          x1++;
          next++;
        }
        runX0.push(x0);
        runX1.push(x1);
        runY.push(y);
      }
      const rowEnd = runX0.length;
      if (rowEnd > parent.length) {
        const grown = new Int32Array(Math.max(rowEnd, parent.length * 2));
        grown.set(parent);
        parent = grown;
      }
      for (let r = rowStart; r < rowEnd; r++) parent[r] = r;
      if (prevY === y - 1) {
        // Two-pointer sweep: runs a (row y - 1) and b (row y) touch, 8-connected, when their x
        // ranges overlap after widening by one pixel.
        let a = prevStart;
        let b = rowStart;
        while (a < prevEnd && b < rowEnd) {
          const a0 = runX0.data[a]!;
          const a1 = runX1.data[a]!;
          const b0 = runX0.data[b]!;
          const b1 = runX1.data[b]!;
          if (a0 <= b1 + 1 && b0 <= a1 + 1) {
            const ra = find(parent, a);
            const rb = find(parent, b);
            if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
          }
          if (a1 < b1) a++;
          else b++;
        }
      }
      prevStart = rowStart;
      prevEnd = rowEnd;
      prevY = y;
    }
    const runs = runX0.length;
    const componentOf = new Int32Array(runs).fill(-1);
    const lists: IntList[] = [];
    const starts: number[] = []; // startX, startY per component
    const all = new IntList();
    for (let r = 0; r < runs; r++) {
      const root = find(parent, r);
      let c = componentOf[root]!;
      if (c < 0) {
        c = lists.length;
        componentOf[root] = c;
        lists.push(new IntList());
        starts.push(runX0.data[r]!, runY.data[r]!);
      }
      const list = lists[c]!;
      const u = runY.data[r]!;
      const x0 = runX0.data[r]!;
      const x1 = runX1.data[r]!;
      if (x0 < starts[2 * c]! || (x0 === starts[2 * c] && u < starts[2 * c + 1]!)) {
        starts[2 * c] = x0;
        starts[2 * c + 1] = u;
      }
      list.push(u);
      list.push(x0);
      all.push(u);
      all.push(x0);
      if (x1 !== x0) {
        list.push(u);
        list.push(x1);
        all.push(u);
        all.push(x1);
      }
    }
    visit({
      z,
      components: lists.map((l, c) => ({ points: l.data.slice(0, l.length), startX: starts[2 * c]!, startY: starts[2 * c + 1]! })),
      all: all.data.slice(0, all.length),
    });
  }
}

// Neighbour steps (dx, dy) in cv2's counter-clockwise order as seen on screen (rows x grow down,
// columns y grow right): E, NE, N, NW, W, SW, S, SE.
const STEP_X = [0, -1, -1, -1, 0, 1, 1, 1];
const STEP_Y = [1, 1, 0, -1, -1, -1, 0, 1];

/**
 * The outer contour cv2.findContours (CHAIN_APPROX_NONE) returns for the component whose first
 * raster pixel is (startX, startY) in slice z: Suzuki–Abe border following with 8-connectivity,
 * outside the image counting as background. Points are (u, v) = (y, x), in cv2's order; a pixel
 * on a one-pixel-wide part appears once per pass.
 */
export function traceOuterContour(mask: ArrayLike<number>, dims: Vec3, z: number, startX: number, startY: number): Int32Array {
  const [nx, ny] = dims;
  const sliceBase = nx * ny * z;
  const on = (x: number, y: number): boolean => x >= 0 && x < nx && y >= 0 && y < ny && mask[sliceBase + x + nx * y] !== 0;
  // The first foreground neighbour clockwise from W (which is background: this is the first raster
  // pixel) is where the walk will come back from.
  let firstDir = -1;
  for (let k = 0; k < 8; k++) {
    const d = (4 - k + 8) % 8;
    if (on(startX + STEP_X[d]!, startY + STEP_Y[d]!)) {
      firstDir = d;
      break;
    }
  }
  if (firstDir < 0) return Int32Array.of(startY, startX);
  const lastX = startX + STEP_X[firstDir]!;
  const lastY = startY + STEP_Y[firstDir]!;
  const out = new IntList();
  let x = startX;
  let y = startY;
  let fromDir = firstDir; // direction from the current pixel to the previous one
  for (;;) {
    let d = fromDir;
    let nxp = x;
    let nyp = y;
    for (let k = 0; k < 8; k++) {
      d = (d + 1) & 7;
      nxp = x + STEP_X[d]!;
      nyp = y + STEP_Y[d]!;
      if (on(nxp, nyp)) break;
    }
    out.push(y);
    out.push(x);
    if (nxp === startX && nyp === startY && x === lastX && y === lastY) break;
    fromDir = (d + 4) & 7;
    x = nxp;
    y = nyp;
  }
  return out.data.slice(0, out.length);
}
