/**
 * `predict` over a folder or one file: every scan gets a mask or a named failure; failures are
 * reported together at the end (exit code 2), nothing is skipped silently.
 */
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { Progress } from '../core/progress.js';
import { removeStaleTemporaries, writeFileAtomic } from '../core/atomic.js';
import { shardItems, shardLabel, type Shard } from '../core/shard.js';
import type { Vec3 } from '../core/volume.js';
import { listScanInputs, type ScanInput } from '../io/scans.js';
import { writeNiftiMask } from '../io/nifti.js';
import { submissionCsv, submissionRow, type SubmissionRow } from '../submission/submission.js';
import { segmentScan } from './predict.js';
import { loadModel, packageVersions, writeJson } from './model-folder.js';
import { featureExtractor } from '../features/index.js';
import { openFeatureDevice, type FeatureDevice } from '../features/gpu.js';

export interface PredictOptions {
  modelDir: string;
  input: string;
  outDir: string;
  submission?: string;
  workers: number;
  /** Where the filter features run: 'auto' (a hardware GPU when there is one), 'gpu' or 'cpu'. */
  device?: FeatureDevice;
  log: (line: string) => void;
  quiet?: boolean;
  /** What to write per scan (default nifti): see OUTPUT_FORMATS. */
  formats?: OutputFormat[];
  /** Only this part of the input's scans (by sorted case id); its log is prediction_log.K-of-N.json. */
  shard?: Shard;
}

export interface PredictSummary {
  predicted: string[];
  failed: { id: string; file: string; problem: string }[];
}

/** What predict writes per scan: the NIfTI mask, a DICOM-SEG, an RTSTRUCT (both need DICOM input). */
export const OUTPUT_FORMATS = ['nifti', 'dicom-seg', 'rtstruct'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** File name of a scan's output in a format. */
export function outputName(id: string, format: OutputFormat): string {
  return format === 'nifti' ? `${id}_seg.nii.gz` : format === 'dicom-seg' ? `${id}_seg.dcm` : `${id}_rtstruct.dcm`;
}

export const PREDICTION_LOG = 'prediction_log.json';

/** The log of a prediction run: prediction_log.json, or prediction_log.K-of-N.json for part K of N (so parts can share a folder). */
export function predictionLogName(shard?: Shard): string {
  return shard ? `prediction_log.${shardLabel(shard)}.json` : PREDICTION_LOG;
}

/** Whether a file name is a prediction log (of a whole run or of one part). */
export function isPredictionLogName(name: string): boolean {
  return name === PREDICTION_LOG || /^prediction_log\.\d+-of-\d+\.json$/.test(name);
}

export async function predictCohort(opts: PredictOptions): Promise<PredictSummary> {
  const all = listScanInputs(opts.input);
  const scans = opts.shard ? shardItems(all, (s) => s.id, opts.shard) : all;
  if (opts.shard) opts.log(`part ${opts.shard.index}/${opts.shard.count}: ${scans.length} of ${all.length} scans`);
  const formats = opts.formats ?? ['nifti'];
  const dicomOut = formats.filter((f) => f !== 'nifti');
  const notDicom = scans.find((s) => s.format !== 'dicom');
  if (dicomOut.length > 0 && notDicom) throw new InputError(notDicom.path, `--format ${dicomOut[0]} needs DICOM CT series as input (it references their images); this is NIfTI`);
  // Each scan is read one ahead: the first while the model loads, the next while this one is
  // segmented. Its inflating runs on zlib's thread pool, beside the model's parsing or this scan's
  // lung finder on this thread. A bad scan fails when its turn awaits it.
  let ahead = scans[0] ? readAhead(scans[0]) : null;
  const model = await loadModel(opts.modelDir, opts.log);
  // What a killed earlier run (kill -9, a lost node) was still writing here.
  removeStaleTemporaries(opts.outDir, opts.log);
  opts.log(`model ${opts.modelDir}: ${model.manifest.config} config, refiner ${model.refiner ? `on ${model.refiner.backend}` : 'none'}`);
  const progress = new Progress('predict', scans.length, process.stderr, opts.quiet);
  const summary: PredictSummary = { predicted: [], failed: [] };
  const rows: SubmissionRow[] = [];
  const cases: Record<string, unknown>[] = [];
  const software = { name: 'lungtumor', version: packageVersions().lungtumor };
  const gpu = await openFeatureDevice(opts.device ?? 'auto', opts.log);
  // The DICOM writers (dcmjs) take some 75 ms to load: only when asked for.
  const dicomWriters = dicomOut.length > 0 ? await import('../io/dicom-out.js') : null;
  const extractor = featureExtractor({ workers: opts.workers, gpu });
  extractor.start();
  try {
    for (const [k, scan] of scans.entries()) {
      const { id, path: file } = scan;
      const t0 = performance.now();
      try {
        // `read` is what was left of this scan's reading when the model or the previous scan was done.
        const reading = ahead!;
        ahead = k + 1 < scans.length ? readAhead(scans[k + 1]!) : null;
        const { volume: ct, dicom } = await reading;
        const readSeconds = (performance.now() - t0) / 1000;
        const result = await segmentScan(model, ct, extractor);
        const t1 = performance.now();
        for (const format of formats) {
          const path = join(opts.outDir, outputName(id, format));
          if (format === 'nifti') writeNiftiMask(path, result.mask, ct);
          else writeFileAtomic(path, (format === 'dicom-seg' ? dicomWriters!.dicomSegOf : dicomWriters!.rtStructOf)(result.mask, ct.dims, dicom!, software));
        }
        const writeSeconds = (performance.now() - t1) / 1000;
        const pixdim = ct.spacing as Vec3;
        const row = submissionRow(id, result.mask, ct.dims, pixdim);
        rows.push(row);
        for (const w of result.warnings) opts.log(`${id}: ${w}`);
        cases.push({
          id,
          file,
          format: scan.format,
          dims: ct.dims,
          spacing_mm: ct.spacing,
          volume_ml: row.volumeMl,
          recist_mm: row.recistMm,
          candidates: result.candidates,
          chosen_probability: result.chosenProbability,
          runner_up_probability: result.runnerUpProbability,
          lungs_found: result.lungsFound,
          warnings: result.warnings,
          backend: result.backend,
          seconds: { read: round3(readSeconds), ...result.seconds, write: round3(writeSeconds), total: round3((performance.now() - t0) / 1000) },
          peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
        });
        summary.predicted.push(id);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        summary.failed.push({ id, file, problem: err.message });
      }
      progress.tick(id);
    }
  } finally {
    await extractor.close();
    gpu?.close();
  }
  // Nothing segmented: no output at all (the caller reports each failure).
  if (summary.predicted.length === 0) return summary;
  writeJson(join(opts.outDir, predictionLogName(opts.shard)), {
    model: opts.modelDir,
    workers: opts.workers,
    device: gpu ? 'gpu' : 'cpu',
    ...(opts.shard ? { shard: shardLabel(opts.shard) } : {}),
    cases,
    failed: summary.failed,
  });
  if (opts.submission) writeFileAtomic(opts.submission, submissionCsv(rows));
  return summary;
}

/**
 * A scan's reading, started now and awaited in its turn. Marked as handled, so a failure waits for
 * that turn (or for nothing, when an earlier error ends the run) instead of being unhandled.
 */
function readAhead(scan: ScanInput): ReturnType<ScanInput['readAsync']> {
  const reading = scan.readAsync();
  reading.catch(() => undefined);
  return reading;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
