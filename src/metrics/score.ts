/**
 * The challenge's score of a cohort of predictions (lower is better):
 *   score = mean(1 − mean Dice, mean RECIST error, mean volume error),
 * with per-case errors |pred − true| / true clipped at 1, on the kit's RECIST (mm) and rounded
 * volume (mL).
 *
 * Cases the kit's formula leaves undefined (0/0) are decided here:
 *   - empty truth (true value 0): error 0 when the prediction is also 0, else 1;
 *   - a truth case with no prediction at all: Dice 0 and both errors 1, whatever the truth.
 * Dice itself is defined for empty masks by its 1e-7 smoothing (two empty masks: 1).
 */
import type { MaskMeasures } from './measures.js';

/** |pred − truth| / truth clipped to [0, 1]; 0/0 → 0 and x/0 → 1 (see above). */
export function relativeError(pred: number, truth: number): number {
  if (truth === 0) return pred === 0 ? 0 : 1;
  return Math.min(1, Math.abs(pred - truth) / Math.abs(truth));
}

/** One case as `lungtumor evaluate --json` writes it (mm, mL); *_pred are null for a missing prediction. */
export interface CaseEvaluation {
  id: string;
  dice: number;
  recist_pred: number | null;
  recist_true: number;
  recist_err: number;
  volume_pred: number | null;
  volume_true: number;
  volume_err: number;
  feret_pred: number | null;
  feret_true: number;
}

export interface CohortEvaluation {
  cases: CaseEvaluation[];
  mean_dice: number;
  mean_recist_err: number;
  mean_volume_err: number;
  score: number;
}

/** A predicted case scored against its truth; `pred` null when the prediction is missing. */
export function scoreCase(id: string, pred: { dice: number; measures: MaskMeasures } | null, truth: MaskMeasures): CaseEvaluation {
  if (!pred) {
    return {
      id,
      dice: 0,
      recist_pred: null,
      recist_true: truth.recistMm,
      recist_err: 1,
      volume_pred: null,
      volume_true: truth.volumeMl,
      volume_err: 1,
      feret_pred: null,
      feret_true: truth.feretMm,
    };
  }
  const m = pred.measures;
  return {
    id,
    dice: pred.dice,
    recist_pred: m.recistMm,
    recist_true: truth.recistMm,
    recist_err: relativeError(m.recistMm, truth.recistMm),
    volume_pred: m.volumeMl,
    volume_true: truth.volumeMl,
    volume_err: relativeError(m.volumeMl, truth.volumeMl),
    feret_pred: m.feretMm,
    feret_true: truth.feretMm,
  };
}

function mean(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Cohort means and score. Throws on an empty list (there is nothing to score). */
export function scoreCohort(cases: CaseEvaluation[]): CohortEvaluation {
  if (cases.length === 0) throw new Error('scoreCohort: no cases');
  const meanDice = mean(cases.map((c) => c.dice));
  const meanRecist = mean(cases.map((c) => c.recist_err));
  const meanVolume = mean(cases.map((c) => c.volume_err));
  return {
    cases,
    mean_dice: meanDice,
    mean_recist_err: meanRecist,
    mean_volume_err: meanVolume,
    score: (1 - meanDice + meanRecist + meanVolume) / 3,
  };
}
