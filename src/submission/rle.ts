/**
 * The challenge's run-length code of a 3-D mask: the (x, y, z) array flattened in C order
 * (z fastest: c = z + nz · (y + ny · x)), runs of foreground as 1-based "start length" pairs
 * joined by single spaces; "" for an empty mask.
 *
 * Our masks are NIfTI-ordered (x fastest: i = x + nx · (y + ny · z)), the transpose of that order.
 * Instead of transposing (strided reads over the whole volume are slow) the foreground voxels are
 * counting-sorted by their (x, y) column: one pass over the foreground counts them per column, a
 * second drops each voxel's z into its column's slot. Time is one fast pass over the mask
 * (foregroundIndices) plus the foreground; extra memory is 4 bytes per (x, y) column and ~6 bytes
 * per foreground voxel.
 */
import type { Vec3 } from '../core/volume.js';
import { foregroundIndices } from '../metrics/sparse.js';

/** [start, length] pairs (start 0-based, in C order of the (x, y, z) array) of the foreground runs. */
export function cOrderRuns(mask: ArrayLike<number>, dims: Vec3, indices: Uint32Array = foregroundIndices(mask)): Float64Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (mask.length !== n) throw new Error(`cOrderRuns: mask has ${mask.length} voxels, dims ${dims.join('x')} need ${n}`);
  if (indices.length === 0) return new Float64Array(0);
  const columns = nx * ny;
  const sliceSize = nx * ny;
  // Counting sort by C-order column x * ny + y; z values land in each column in increasing order
  // because the NIfTI indices are sorted and z is their slowest axis.
  const first = new Uint32Array(columns + 1); // first[c] = first slot of column c, after the prefix sum
  for (let f = 0; f < indices.length; f++) {
    const i = indices[f]!;
    const x = i % nx;
    const y = Math.floor(i / nx) % ny;
    first[x * ny + y + 1]!++;
  }
  for (let c = 0; c < columns; c++) first[c + 1]! += first[c]!;
  const next = first.slice(0, columns);
  const zs = nz <= 0x10000 ? new Uint16Array(indices.length) : new Uint32Array(indices.length);
  for (let f = 0; f < indices.length; f++) {
    const i = indices[f]!;
    const x = i % nx;
    const y = Math.floor(i / nx) % ny;
    zs[next[x * ny + y]!++] = Math.floor(i / sliceSize);
  }
  // Walk columns in C order; a run continues while C indices are consecutive (also across columns).
  const runs: number[] = [];
  let start = -2;
  let end = -2; // last C index of the open run
  for (let c = 0; c < columns; c++) {
    const base = c * nz;
    for (let s = first[c]!, stop = first[c + 1]!; s < stop; s++) {
      const ci = base + zs[s]!;
      if (ci === end + 1) {
        end = ci;
      } else {
        if (start >= 0) runs.push(start, end - start + 1);
        start = end = ci;
      }
    }
  }
  runs.push(start, end - start + 1);
  return Float64Array.from(runs);
}

/** The challenge's RLE string of a mask (1-based starts; see above). */
export function rleEncode(mask: ArrayLike<number>, dims: Vec3, indices?: Uint32Array): string {
  const runs = cOrderRuns(mask, dims, indices);
  const parts = new Array<string>(runs.length);
  for (let i = 0; i < runs.length; i += 2) {
    parts[i] = String(runs[i]! + 1);
    parts[i + 1] = String(runs[i + 1]!);
  }
  return parts.join(' ');
}

/** Inverse of rleEncode: the NIfTI-ordered (x fastest) 0/1 mask of an RLE string. */
export function rleDecode(rle: string, dims: Vec3): Uint8Array {
  const [nx, ny, nz] = dims;
  const out = new Uint8Array(nx * ny * nz);
  const tokens = rle.trim() === '' ? [] : rle.trim().split(/\s+/).map(Number);
  if (tokens.length % 2 !== 0 || tokens.some((t) => !Number.isInteger(t) || t < 0)) {
    throw new Error('rleDecode: expected whole-number "start length" pairs');
  }
  for (let t = 0; t < tokens.length; t += 2) {
    const start = tokens[t]! - 1;
    const len = tokens[t + 1]!;
    if (start < 0 || start + len > out.length) throw new Error(`rleDecode: run ${start + 1} ${len} is outside the ${dims.join('x')} grid`);
    for (let c = start; c < start + len; c++) {
      const z = c % nz;
      const xy = (c - z) / nz;
      const y = xy % ny;
      const x = (xy - y) / ny;
      out[x + nx * (y + ny * z)] = 1;
    }
  }
  return out;
}
