/**
 * A synthetic refinement task for tests and benchmarks: a "tumour" sphere in noisy CT, and a
 * classifier probability that is too wide, blurred and noisy. A refiner that reads the CT can put the
 * boundary back where the sphere is.
 */
import { Rng } from '../core/random.js';
import type { RefinerSample } from './refiner.js';

export interface ToyOptions {
  /** Cube edge. */
  size: number;
  /** Extra radius of the probability's 0.5 level over the true sphere, in voxels. */
  dilation?: number;
  /** Noise sd on the CT channel. */
  ctNoise?: number;
}

export function toyRefinerSamples(count: number, seed: number, opts: ToyOptions): RefinerSample[] {
  const n = opts.size;
  const n3 = n * n * n;
  const dil = opts.dilation ?? 2;
  const ctNoise = opts.ctNoise ?? 0.25;
  const rng = new Rng(seed);
  const out: RefinerSample[] = [];
  for (let s = 0; s < count; s++) {
    // the candidate fills about half the cube
    const r = n * rng.uniform(0.18, 0.28);
    const c = [0, 1, 2].map(() => (n - 1) / 2 + rng.uniform(-n / 10, n / 10));
    // the classifier's error is uneven: wider on one side than the other
    const skew = [0, 1, 2].map(() => rng.uniform(-0.08, 0.08));
    const input = new Float32Array(2 * n3);
    const target = new Uint8Array(n3);
    let i = 0;
    for (let z = 0; z < n; z++) {
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++, i++) {
          const dx = x - c[0]!;
          const dy = y - c[1]!;
          const dz = z - c[2]!;
          const d = Math.sqrt(dx * dx + dy * dy + dz * dz);
          const inside = d <= r;
          target[i] = inside ? 1 : 0;
          input[i] = (inside ? 0.4 : -0.7) + rng.normal(0, ctNoise);
          const wide = r + dil + skew[0]! * dx + skew[1]! * dy + skew[2]! * dz;
          const logit = (wide - d) / 1.5 + rng.normal(0, 0.6);
          input[n3 + i] = 1 / (1 + Math.exp(-logit));
        }
      }
    }
    out.push({ input, target });
  }
  return out;
}

/** Dice of (prob >= 0.5) against a 0/1 target; 1 when both are empty. */
export function diceAtHalf(prob: Float32Array, target: Uint8Array): number {
  let inter = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < target.length; i++) {
    const p = prob[i]! >= 0.5 ? 1 : 0;
    inter += p & target[i]!;
    a += p;
    b += target[i]!;
  }
  return a + b === 0 ? 1 : (2 * inter) / (a + b);
}
