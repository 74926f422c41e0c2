/**
 * Seeded geometric augmentation of refiner training cubes, and packing cubes into batches.
 *
 * Cubes use Volume voxel order (x fastest, then y, then z). A refiner input is channel-first:
 * CT cube then probability cube, 2·N³ floats.
 */
import type { Rng } from '../core/random.js';

export interface AugmentOptions {
  /** Random flips along x, y and z. */
  flips: boolean;
  /** Random multiples of 90° in the axial (x-y) plane. */
  rotations: boolean;
}

/** A voxel permutation of an N³ cube: out[i] = in[source[i]]. */
export type CubeMap = Int32Array;

/**
 * Draws one flip/rotation and returns its voxel map, or null for the identity. Always draws the same
 * number of values from `rng`, so the sequence of later draws doesn't depend on the outcome.
 */
export function drawCubeMap(n: number, rng: Rng, opts: AugmentOptions): CubeMap | null {
  const fx = rng.next() < 0.5;
  const fy = rng.next() < 0.5;
  const fz = rng.next() < 0.5;
  const rot = rng.int(0, 3);
  const flip = opts.flips ? [fx, fy, fz] : [false, false, false];
  const k = opts.rotations ? rot : 0;
  if (!flip[0] && !flip[1] && !flip[2] && k === 0) return null;
  const map = new Int32Array(n * n * n);
  const m = n - 1;
  let i = 0;
  for (let z = 0; z < n; z++) {
    const sz = flip[2] ? m - z : z;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        // rotate the output position by k quarter turns to find where it came from, then flip
        let sx = x;
        let sy = y;
        if (k === 1) { sx = y; sy = m - x; }
        else if (k === 2) { sx = m - x; sy = m - y; }
        else if (k === 3) { sx = m - y; sy = x; }
        if (flip[0]) sx = m - sx;
        if (flip[1]) sy = m - sy;
        map[i++] = sx + n * (sy + n * sz);
      }
    }
  }
  return map;
}

/** Batch buffers: channel-last input [B, N³, 2], its probability channel alone [B, N³], target [B, N³]. */
export interface BatchBuffers {
  input: Float32Array;
  prob: Float32Array;
  target: Float32Array | null;
}

/** Writes one sample into batch slot `slot`, through `map` when given. */
export function packSample(
  input: Float32Array,
  target: Uint8Array | null,
  n3: number,
  map: CubeMap | null,
  slot: number,
  out: BatchBuffers,
): void {
  const base = slot * n3;
  for (let i = 0; i < n3; i++) {
    const s = map === null ? i : map[i]!;
    const p = input[n3 + s]!;
    out.input[2 * (base + i)] = input[s]!;
    out.input[2 * (base + i) + 1] = p;
    out.prob[base + i] = p;
    if (target !== null && out.target !== null) out.target[base + i] = target[s]!;
  }
}
