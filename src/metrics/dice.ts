/**
 * The challenge's Dice overlap of two masks on the same grid (any non-zero voxel is foreground):
 * (2·TP + 1e-7) / (2·TP + FP + FN + 1e-7). The 1e-7 makes two empty masks score 1 and an empty
 * prediction of a non-empty truth score ~0.
 */
import { foregroundIndices } from './sparse.js';

export const DICE_SMOOTH = 1e-7;

export interface OverlapCounts {
  /** Voxels foreground in both. */
  tp: number;
  /** Foreground in the prediction only. */
  fp: number;
  /** Foreground in the truth only. */
  fn: number;
}

export function overlapCounts(pred: ArrayLike<number>, truth: ArrayLike<number>): OverlapCounts {
  if (pred.length !== truth.length) {
    throw new Error(`overlapCounts: masks differ in size (${pred.length} vs ${truth.length} voxels)`);
  }
  return overlapOfIndices(foregroundIndices(pred), foregroundIndices(truth));
}

/** Overlap counts of two ascending foreground index lists (see foregroundIndices). */
export function overlapOfIndices(pred: Uint32Array, truth: Uint32Array): OverlapCounts {
  let tp = 0;
  for (let a = 0, b = 0; a < pred.length && b < truth.length; ) {
    const p = pred[a]!;
    const t = truth[b]!;
    if (p === t) {
      tp++;
      a++;
      b++;
    } else if (p < t) a++;
    else b++;
  }
  return { tp, fp: pred.length - tp, fn: truth.length - tp };
}

export function diceFromCounts({ tp, fp, fn }: OverlapCounts): number {
  return (2 * tp + DICE_SMOOTH) / (2 * tp + fp + fn + DICE_SMOOTH);
}

/** Dice of two masks on the same grid. */
export function dice(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  return diceFromCounts(overlapCounts(pred, truth));
}
