/**
 * One case of the report: its CT and masks read, measured with the challenge's metrics, checked
 * for things a reader should know (QA flags), and drawn as pictures.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import type { Vec3, Volume } from '../core/volume.js';
import { readScan } from '../io/scans.js';
import { toCanonical } from '../geometry/orient.js';
import { readMask } from '../metrics/maskFolder.js';
import { measureMask, type MaskMeasures } from '../metrics/measures.js';
import { diceFromCounts, overlapCounts } from '../metrics/dice.js';
import { scoreCase, type CaseEvaluation } from '../metrics/score.js';
import { isPredictionLogName, PREDICTION_LOG } from '../pipeline/predict-cohort.js';
import { caseIdOf } from '../io/cohort.js';
import type { RgbImage } from './png.js';
import { renderCase, touchesBorder, type CutPoint, type DisplayVolume } from './render.js';

/** One scan's entry in prediction_log.json (the fields the report uses). */
export interface LoggedCase {
  id: string;
  file: string;
  candidates: number | null;
  chosenProbability: number | null;
  runnerUpProbability: number | null;
  lungsFound: boolean | null;
  warnings: string[];
  backend: string | null;
  /** Seconds per inference stage, including 'total'. */
  seconds: Record<string, number>;
  peakRssMb: number | null;
}

export interface PredictionLog {
  path: string;
  workers: number | null;
  cases: LoggedCase[];
  /** `id` is absent in logs of versions before DICOM input (then the file name's case id). */
  failed: { id: string; file: string; problem: string }[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Parses prediction_log.json (already JSON-parsed); InputError naming `path` when it is not one. */
export function parsePredictionLog(path: string, json: unknown): PredictionLog {
  if (!isRecord(json) || !Array.isArray(json.cases)) throw new InputError(path, 'not a lungtumor prediction log (no "cases" list)');
  const cases = json.cases.map((c: unknown, i): LoggedCase => {
    if (!isRecord(c) || typeof c.id !== 'string' || typeof c.file !== 'string') {
      throw new InputError(path, `cases[${i}] has no "id" and "file"`);
    }
    const seconds: Record<string, number> = {};
    if (isRecord(c.seconds)) for (const [k, v] of Object.entries(c.seconds)) if (typeof v === 'number' && Number.isFinite(v)) seconds[k] = v;
    return {
      id: c.id,
      file: c.file,
      candidates: numOrNull(c.candidates),
      chosenProbability: numOrNull(c.chosen_probability),
      runnerUpProbability: numOrNull(c.runner_up_probability),
      lungsFound: typeof c.lungs_found === 'boolean' ? c.lungs_found : null,
      warnings: Array.isArray(c.warnings) ? c.warnings.filter((w): w is string => typeof w === 'string') : [],
      backend: typeof c.backend === 'string' ? c.backend : null,
      seconds,
      peakRssMb: numOrNull(c.peak_rss_mb),
    };
  });
  const failed = Array.isArray(json.failed)
    ? json.failed.filter(isRecord).map((f) => ({ id: typeof f.id === 'string' ? f.id : caseIdOf(String(f.file ?? '')), file: String(f.file ?? ''), problem: String(f.problem ?? '') }))
    : [];
  return { path, workers: numOrNull(json.workers), cases, failed };
}

/**
 * The prediction logs of a folder: prediction_log.json, or else those of the parts of a sharded
 * run (prediction_log.K-of-N.json), sorted; none when there are none.
 */
export function predictionLogPaths(predDir: string): string[] {
  if (existsSync(join(predDir, PREDICTION_LOG))) return [join(predDir, PREDICTION_LOG)];
  let names: string[] = [];
  try {
    names = readdirSync(predDir);
  } catch {
    return [];
  }
  return names.filter((n) => n !== PREDICTION_LOG && isPredictionLogName(n)).sort().map((n) => join(predDir, n));
}

/** Several parts' logs as one. */
export function mergePredictionLogs(logs: readonly PredictionLog[]): PredictionLog | null {
  if (logs.length === 0) return null;
  return {
    path: logs.map((l) => l.path).join(', '),
    workers: logs[0]!.workers,
    cases: logs.flatMap((l) => l.cases),
    failed: logs.flatMap((l) => l.failed),
  };
}

/** Thresholds of the QA flags. */
export const LOW_CONFIDENCE_BELOW = 0.5;
export const CLOSE_CANDIDATES_WITHIN = 0.15;

export type FlagCode =
  | 'missing-prediction'
  | 'unreadable-scan'
  | 'empty-prediction'
  | 'empty-truth'
  | 'border'
  | 'low-confidence'
  | 'close-candidates'
  | 'no-lungs'
  | 'pipeline-note';

export interface Flag {
  code: FlagCode;
  /** A few words for the table. */
  short: string;
  /** One sentence for the case's section. */
  text: string;
}

/** The QA flags of a case, from its masks and its prediction-log entry. */
export function caseFlags(input: {
  hasPrediction: boolean;
  predVoxels: number | null;
  truthVoxels: number | null;
  predTouchesBorder: boolean;
  truthTouchesBorder: boolean;
  log: LoggedCase | null;
}): Flag[] {
  const flags: Flag[] = [];
  if (!input.hasPrediction) {
    flags.push({ code: 'missing-prediction', short: 'no prediction', text: 'There is no predicted mask for this scan (scored as Dice 0 and 100% errors).' });
  } else if (input.predVoxels === 0) {
    flags.push({ code: 'empty-prediction', short: 'empty prediction', text: 'The model found no tumour in this scan (the predicted mask is empty).' });
  }
  if (input.truthVoxels === 0) {
    flags.push({ code: 'empty-truth', short: 'empty truth', text: 'The true mask is empty: there is no outlined tumour to compare with.' });
  }
  if (input.predTouchesBorder || input.truthTouchesBorder) {
    const which = input.predTouchesBorder && input.truthTouchesBorder ? 'Both tumour outlines touch' : input.predTouchesBorder ? 'The predicted tumour touches' : 'The true tumour touches';
    flags.push({ code: 'border', short: 'at scan edge', text: `${which} the edge of the scanned region: the tumour may continue outside it, so its size may be underestimated.` });
  }
  const log = input.log;
  if (log && log.chosenProbability !== null) {
    const p = log.chosenProbability;
    if (p < LOW_CONFIDENCE_BELOW) {
      flags.push({
        code: 'low-confidence',
        short: 'low confidence',
        text: `Low confidence: the model rated the region it chose ${(p * 100).toFixed(0)}% likely to be the tumour (below ${LOW_CONFIDENCE_BELOW * 100}%).`,
      });
    }
    const q = log.runnerUpProbability;
    if (q !== null && p - q <= CLOSE_CANDIDATES_WITHIN) {
      flags.push({
        code: 'close-candidates',
        short: 'close call',
        text: `Close call: another region was rated almost as likely (${(q * 100).toFixed(0)}% vs ${(p * 100).toFixed(0)}% for the chosen one), so the model may have picked the wrong one.`,
      });
    }
  }
  if (log && log.lungsFound === false) {
    flags.push({ code: 'no-lungs', short: 'lungs not found', text: 'The lungs were not found (the scan may be cropped around the tumour), so the whole scan was searched.' });
  }
  if (log) {
    for (const w of log.warnings) {
      // The no-lungs flag already says this one in plain words.
      if (log.lungsFound === false && /^no lungs found/.test(w)) continue;
      flags.push({ code: 'pipeline-note', short: 'note', text: `Pipeline note: ${w}.` });
    }
  }
  return flags;
}

/** Everything the report shows of one case. */
export interface CaseResult {
  id: string;
  ctFile: string;
  predFile: string | null;
  truthFile: string | null;
  /** The scan and its pictures; null when the scan could not be read (a prediction failure). */
  scan: ScanInfo | null;
  pred: MaskMeasures | null;
  truth: MaskMeasures | null;
  /** Scored against the truth (null without a truth). */
  evaluation: CaseEvaluation | null;
  flags: Flag[];
  log: LoggedCase | null;
}

export interface ScanInfo {
  /** Stored voxel counts and spacing (as in the file), and the stored axis order, e.g. 'LPS'. */
  dims: Vec3;
  spacingMm: Vec3;
  storedOrder: string;
  /** Canonical voxel counts and spacing (x = R, y = A, z = S), for the slice captions. */
  canonicalDims: Vec3;
  canonicalSpacingMm: Vec3;
  views: ViewsInfo;
}

export type PictureName = 'axial' | 'coronal' | 'sagittal' | 'closeUp';

/** What the pictures show (the pictures themselves are written out and dropped). */
export interface ViewsInfo {
  cut: CutPoint;
  /** Picture pixel size of the full views, mm. */
  pixelMm: number;
  closeUpFieldMm: number | null;
  /** Picture sizes [width, height] in pixels, for the pictures made. */
  sizes: Partial<Record<PictureName, [number, number]>>;
  /** Outline pixels per colour, per picture (to say when an outline is not on a slice). */
  outlinePixels: Partial<Record<PictureName, { truth: number; pred: number; both: number }>>;
}

export interface CaseInput {
  id: string;
  ctFile: string;
  predFile: string | null;
  truthFile: string | null;
  log: LoggedCase | null;
}

/** Reads a mask file on the CT's grid; InputError naming it when the grids differ. */
function maskOnCt(path: string, ct: Volume): { mask: Uint8Array; pixdim: Vec3 } {
  const m = readMask(path);
  if (m.dims.some((d, i) => d !== ct.dims[i])) {
    throw new InputError(path, `mask grid ${m.dims.join('x')} differs from the CT's ${ct.dims.join('x')} (${ct.source?.path ?? 'CT'})`);
  }
  return { mask: m.mask, pixdim: m.pixdim };
}

/**
 * Reads, measures and draws one case. Measures use the challenge's definitions on the stored
 * grids (as `lungtumor evaluate`); pictures use the canonical grid.
 */
export function analyseCase(input: CaseInput): { result: CaseResult; pictures: Partial<Record<PictureName, RgbImage>> } {
  if (!existsSync(input.ctFile)) throw new InputError(input.ctFile, `CT of case ${input.id} not found (give the scans with --scans DIR)`);
  const ct = readScan(input.ctFile);
  const pred = input.predFile ? maskOnCt(input.predFile, ct) : null;
  const truth = input.truthFile ? maskOnCt(input.truthFile, ct) : null;
  const predMeasures = pred ? measureMask(pred.mask, ct.dims, pred.pixdim) : null;
  const truthMeasures = truth ? measureMask(truth.mask, ct.dims, truth.pixdim) : null;
  let evaluation: CaseEvaluation | null = null;
  if (truthMeasures) {
    evaluation = scoreCase(
      input.id,
      pred && predMeasures ? { dice: diceFromCounts(overlapCounts(pred.mask, truth!.mask)), measures: predMeasures } : null,
      truthMeasures,
    );
  }
  const { volume: canCt, orientation } = toCanonical(ct);
  const canonical = (m: Uint8Array): Uint8Array => toCanonical({ data: m, dims: ct.dims, spacing: ct.spacing, affine: ct.affine }).volume.data;
  const display: DisplayVolume = {
    hu: canCt.data,
    dims: canCt.dims,
    spacingMm: canCt.spacing,
    truth: truth ? canonical(truth.mask) : null,
    pred: pred ? canonical(pred.mask) : null,
  };
  const rendered = renderCase(display);
  const pictures: Partial<Record<PictureName, RgbImage>> = {};
  const views: ViewsInfo = { cut: rendered.cut, pixelMm: rendered.pixelMm, closeUpFieldMm: rendered.closeUpFieldMm, sizes: {}, outlinePixels: {} };
  for (const name of ['axial', 'coronal', 'sagittal', 'closeUp'] as const) {
    const plane = rendered[name];
    if (!plane) continue;
    pictures[name] = plane.image;
    views.sizes[name] = [plane.image.width, plane.image.height];
    views.outlinePixels[name] = plane.outlinePixels;
  }
  const flags = caseFlags({
    hasPrediction: pred !== null,
    predVoxels: predMeasures?.voxels ?? null,
    truthVoxels: truthMeasures?.voxels ?? null,
    predTouchesBorder: pred ? touchesBorder(pred.mask, ct.dims) : false,
    truthTouchesBorder: truth ? touchesBorder(truth.mask, ct.dims) : false,
    log: input.log,
  });
  const result: CaseResult = {
    id: input.id,
    ctFile: input.ctFile,
    predFile: input.predFile,
    truthFile: input.truthFile,
    scan: {
      dims: [...ct.dims] as Vec3,
      spacingMm: [...ct.spacing] as Vec3,
      storedOrder: orientation.codes.join(''),
      canonicalDims: canCt.dims,
      canonicalSpacingMm: canCt.spacing,
      views,
    },
    pred: predMeasures,
    truth: truthMeasures,
    evaluation,
    flags,
    log: input.log,
  };
  return { result, pictures };
}

/**
 * A case whose scan `lungtumor predict` could not read (so it has no prediction): scored from its
 * true mask alone, as `evaluate` scores a missing prediction, with no pictures.
 */
export function unreadableCase(input: CaseInput, problem: string): CaseResult {
  const truth = input.truthFile ? readMask(input.truthFile) : null;
  const truthMeasures = truth ? measureMask(truth.mask, truth.dims, truth.pixdim) : null;
  return {
    id: input.id,
    ctFile: input.ctFile,
    predFile: null,
    truthFile: input.truthFile,
    scan: null,
    pred: null,
    truth: truthMeasures,
    evaluation: truthMeasures ? scoreCase(input.id, null, truthMeasures) : null,
    flags: [
      { code: 'unreadable-scan', short: 'unreadable scan', text: `The scan could not be read, so there is no prediction (${problem}).` },
      ...caseFlags({ hasPrediction: false, predVoxels: null, truthVoxels: truthMeasures?.voxels ?? null, predTouchesBorder: false, truthTouchesBorder: false, log: null })
        .filter((f) => f.code !== 'missing-prediction'),
    ],
    log: null,
  };
}
