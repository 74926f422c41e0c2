/**
 * `lungtumor report`: a static, self-contained report folder (index.html + images/*.png) on what a
 * model learned, how it did on a set of scans, and what it costs. Nothing in it reaches the network.
 */
import { existsSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../core/errors.js';
import { Progress } from '../core/progress.js';
import { writeDirAtomic } from '../core/atomic.js';
import { listMaskFolder, passedOver } from '../metrics/maskFolder.js';
import { scoreCohort, type CohortEvaluation } from '../metrics/score.js';
import { readJson } from '../pipeline/model-folder.js';
import { isPredictionLogName, PREDICTION_LOG } from '../pipeline/predict-cohort.js';
import { listScanInputs } from '../io/scans.js';
import { analyseCase, unreadableCase, mergePredictionLogs, parsePredictionLog, predictionLogPaths, type CaseResult, type LoggedCase, type PictureName, type PredictionLog } from './cases.js';
import { reportHtml } from './html.js';
import { readModelInfo } from './model-info.js';
import { encodePng } from './png.js';

export interface ReportOptions {
  modelDir: string;
  /** Predicted masks (and prediction_log.json) from `lungtumor predict`. */
  predDir?: string;
  /** True masks: a folder of masks, or a challenge-layout folder (its train/seg or seg is used). */
  truthDir?: string;
  /** The CT scans, when prediction_log.json's paths do not reach them. */
  scansDir?: string;
  outDir: string;
  log: (line: string) => void;
  quiet?: boolean;
}

export interface ReportSummary {
  cases: number;
  scored: number;
  score: number | null;
  indexHtml: string;
}

/** The folder of true masks: the folder itself, or its train/seg or seg subfolder (challenge layout). */
export function truthFolder(dir: string): string {
  for (const sub of [join(dir, 'train', 'seg'), join(dir, 'seg')]) {
    if (existsSync(sub) && statSync(sub).isDirectory()) return sub;
  }
  return dir;
}

/** File names for a case's pictures: an index keeps them apart even when ids clean up alike. */
function pictureName(index: number, id: string, view: PictureName): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, '-');
  return `images/${String(index + 1).padStart(3, '0')}-${safe}-${view}.png`;
}

interface PlannedCase {
  id: string;
  ctFile: string;
  predFile: string | null;
  truthFile: string | null;
  log: LoggedCase | null;
}

/** Matches predictions, truths, log entries and CT scans by case id; InputError on what cannot be matched. */
function planCases(opts: ReportOptions, log: PredictionLog | null): PlannedCase[] {
  if (!opts.predDir) return [];
  // predict's own log, submission CSV and DICOM outputs sit beside its masks by design: not worth a line.
  const say = (paths: string[]): void => {
    const other = paths.filter((p) => !isPredictionLogName(basename(p)) && !p.endsWith('.csv') && !/_(seg|rtstruct)\.dcm$/.test(p));
    if (other.length > 0) opts.log(passedOver(other));
  };
  const preds = new Map(listMaskFolder(opts.predDir, say).map((m) => [m.id, m.path]));
  const truthDir = opts.truthDir ? truthFolder(opts.truthDir) : null;
  const truths = truthDir ? new Map(listMaskFolder(truthDir, say).map((m) => [m.id, m.path])) : new Map<string, string>();
  if (truthDir && ![...truths.keys()].some((id) => preds.has(id))) {
    throw new InputError(opts.predDir, `no case matches a case of ${truthDir} (ids are file names up to the first '_')`);
  }
  const scans = new Map<string, string>();
  if (opts.scansDir) for (const s of listScanInputs(opts.scansDir)) scans.set(s.id, s.path);
  const logged = new Map((log?.cases ?? []).map((c) => [c.id, c]));
  const failedFiles = new Map((log?.failed ?? []).map((f) => [f.id, f.file]));
  const ids = [...new Set([...preds.keys(), ...truths.keys()])].sort();
  return ids.map((id) => {
    const entry = logged.get(id) ?? null;
    let ctFile = scans.get(id) ?? entry?.file ?? failedFiles.get(id) ?? null;
    if (ctFile === null) {
      if (opts.scansDir) throw new InputError(opts.scansDir, `no CT scan for case ${id} here`);
      const why = log ? `${log.path} does not name it` : `there is no ${PREDICTION_LOG} to find it`;
      throw new InputError(opts.predDir!, `no CT scan for case ${id} (${why}): give the scans with --scans DIR`);
    }
    ctFile = resolve(ctFile);
    return { id, ctFile, predFile: preds.get(id) ?? null, truthFile: truths.get(id) ?? null, log: entry };
  });
}

/** Why predict failed on a case that has no prediction (from its log), or null. */
function failedProblem(log: PredictionLog | null, p: PlannedCase): string | null {
  if (p.predFile !== null || !log) return null;
  const f = log.failed.find((x) => x.id === p.id);
  return f ? f.problem : null;
}

/** Builds the report folder (written whole, or not at all). */
export async function writeReport(opts: ReportOptions): Promise<ReportSummary> {
  if (opts.truthDir && !opts.predDir) throw new InputError(opts.truthDir, 'true masks need predictions to compare with (--pred DIR)');
  const model = readModelInfo(opts.modelDir);
  let log: PredictionLog | null = null;
  if (opts.predDir) {
    const paths = predictionLogPaths(opts.predDir);
    log = mergePredictionLogs(paths.map((path) => parsePredictionLog(path, readJson(path))));
    if (!log) opts.log(`no ${join(opts.predDir, PREDICTION_LOG)}: confidence flags and prediction times are left out`);
  }
  const planned = planCases(opts, log);
  const cases: CaseResult[] = [];
  const pictures: Record<string, Partial<Record<PictureName, string>>> = {};
  let cohort: CohortEvaluation | null = null;
  await writeDirAtomic(opts.outDir, (dir) => {
    mkdirSync(join(dir, 'images'));
    const progress = new Progress('report', planned.length, process.stderr, opts.quiet);
    planned.forEach((p, index) => {
      // One case in memory at a time: its pictures are written and dropped straight away.
      const failure = failedProblem(log, p);
      if (failure !== null) {
        // predict could not read this scan: score it as evaluate does, without pictures.
        cases.push(unreadableCase(p, failure));
        pictures[p.id] = {};
        progress.tick(p.id);
        return;
      }
      const { result, pictures: images } = analyseCase(p);
      const paths: Partial<Record<PictureName, string>> = {};
      for (const [view, img] of Object.entries(images) as [PictureName, NonNullable<(typeof images)[PictureName]>][]) {
        const rel = pictureName(index, p.id, view);
        writeFileSync(join(dir, rel), encodePng(img));
        paths[view] = rel;
      }
      pictures[p.id] = paths;
      cases.push(result);
      progress.tick(p.id);
    });
    const scored = cases.flatMap((c) => (c.evaluation ? [c.evaluation] : []));
    if (scored.length > 0) cohort = scoreCohort(scored);
    writeFileSync(join(dir, 'index.html'), reportHtml({ model, predDir: opts.predDir ?? null, truthDir: opts.truthDir ?? null, log, cases, pictures, cohort }));
  });
  const c = cohort as CohortEvaluation | null;
  return { cases: cases.length, scored: c?.cases.length ?? 0, score: c?.score ?? null, indexHtml: join(opts.outDir, 'index.html') };
}
