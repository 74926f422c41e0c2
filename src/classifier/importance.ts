/**
 * Model-agnostic feature importance by permutation, and the ROC AUC it is measured with. Useful to
 * check the split-based importances that models report (those favour features with many distinct
 * values) on held-out rows.
 */
import type { Rng } from '../core/random.js';
import { type BinaryClassifier, type FeatureImportance, rankImportances, rowCount } from './types.js';

/** Area under the ROC curve (ties count half); NaN when a label is absent. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new Error(`rocAuc: ${n} scores for ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!]) {
        pos++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Mean drop in AUC over `repeats` shuffles of each feature's column in `rows` (labels 0/1).
 * Negative values (shuffling helped) are kept: they flag features the model does not use.
 */
export function permutationImportance(
  model: BinaryClassifier,
  rows: Float32Array,
  labels: ArrayLike<number>,
  rng: Rng,
  repeats = 3,
): FeatureImportance[] {
  const F = model.featureNames.length;
  const n = rowCount(rows, F, 'permutationImportance');
  if (labels.length !== n) throw new Error(`permutationImportance: ${labels.length} labels for ${n} rows`);
  const base = rocAuc(model.predictProba(rows), labels);
  if (Number.isNaN(base)) throw new Error('permutationImportance: needs rows of both labels');
  const work = rows.slice();
  const probs = new Float32Array(n);
  const perm = new Uint32Array(n);
  const drop = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < n; i++) perm[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        const t = perm[i]!;
        perm[i] = perm[j]!;
        perm[j] = t;
      }
      for (let i = 0; i < n; i++) work[i * F + f] = rows[perm[i]! * F + f]!;
      drop[f] += (base - rocAuc(model.predictProba(work, probs), labels)) / repeats;
    }
    for (let i = 0; i < n; i++) work[i * F + f] = rows[i * F + f]!;
  }
  return rankImportances(model.featureNames, drop);
}
