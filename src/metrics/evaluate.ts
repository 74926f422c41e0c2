/**
 * Scores a folder of predicted masks against a folder of true masks, case by case (matched by
 * case id), as the challenge does. One case is in memory at a time.
 */
import { InputError } from '../core/errors.js';
import { Progress } from '../core/progress.js';
import { overlapCounts, diceFromCounts } from './dice.js';
import { measureMask } from './measures.js';
import { listMaskFolder, passedOver, readMask, type Mask, type MaskFile } from './maskFolder.js';
import { scoreCase, scoreCohort, type CohortEvaluation, type CaseEvaluation } from './score.js';

export interface FolderEvaluation extends CohortEvaluation {
  /** Truth cases without a prediction (scored Dice 0, errors 1). */
  missing: string[];
  /** Predicted cases without a truth (not scored). */
  unmatched: string[];
}

export interface EvaluateOptions {
  /** Makes the progress bar over the truth cases, given their count; none when omitted. */
  progress?: (total: number) => Progress;
  /** Told about files in the folders that are not NIfTI masks (passed over), and masks binarized. */
  log?: (line: string) => void;
  /** Count every non-zero label as tumour (else labels other than 0/1 are an InputError). */
  binarize?: boolean;
}

/** Evaluates every truth case; InputError when nothing matches or a prediction is on another grid. */
export function evaluateFolders(predDir: string, truthDir: string, opts: EvaluateOptions = {}): FolderEvaluation {
  const truths = listMaskFolder(truthDir, (paths) => opts.log?.(passedOver(paths)));
  const preds = listMaskFolder(predDir, (paths) => opts.log?.(passedOver(paths)));
  const predById = new Map<string, MaskFile>(preds.map((p) => [p.id, p]));
  const truthIds = new Set(truths.map((t) => t.id));
  if (!truths.some((t) => predById.has(t.id))) {
    throw new InputError(predDir, `no case matches a case of ${truthDir} (ids are file names up to the first '_')`);
  }
  const progress = opts.progress?.(truths.length);
  const cases: CaseEvaluation[] = [];
  const missing: string[] = [];
  const read = (path: string): Mask => readMask(path, { binarize: opts.binarize, warn: opts.log });
  for (const t of truths) {
    const truth = read(t.path);
    const truthMeasures = measureMask(truth.mask, truth.dims, truth.pixdim);
    const p = predById.get(t.id);
    if (!p) {
      missing.push(t.id);
      cases.push(scoreCase(t.id, null, truthMeasures));
    } else {
      const pred = read(p.path);
      if (pred.dims.some((d, i) => d !== truth.dims[i])) {
        throw new InputError(p.path, `grid ${pred.dims.join('x')} differs from the truth's ${truth.dims.join('x')} (${t.path})`);
      }
      const diceValue = diceFromCounts(overlapCounts(pred.mask, truth.mask));
      cases.push(scoreCase(t.id, { dice: diceValue, measures: measureMask(pred.mask, pred.dims, pred.pixdim) }, truthMeasures));
    }
    progress?.tick(t.id);
  }
  const unmatched = preds.filter((p) => !truthIds.has(p.id)).map((p) => p.id);
  return { ...scoreCohort(cases), missing, unmatched };
}
