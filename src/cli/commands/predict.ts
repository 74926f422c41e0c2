import type { Command } from '../command.js';
import { deviceOption, parseCommandArgs, requireOption, shardOption, workersOption } from '../command.js';
import { UsageError } from '../../core/errors.js';
import { OUTPUT_FORMATS, predictCohort, type OutputFormat } from '../../pipeline/predict-cohort.js';

export const predictCommand: Command = {
  name: 'predict',
  summary: 'segment the primary tumour in CT scans with a trained model',
  usage: `usage: lungtumor predict --model DIR --input DIR|FILE --out DIR [--format nifti|dicom-seg|rtstruct ...] [--submission FILE.csv] [--shard K/N] [--workers N]

Writes <ID>_seg.nii.gz (uint8 0/1, the input's exact grid and header geometry) for every scan, and
prediction_log.json (per-scan volume, RECIST, candidates, warnings, seconds per stage, peak RSS).
A folder input takes its test/volume, volume or train/volume subfolder when present, else its own
NIfTI files, else the DICOM CT series below it (uncompressed; grouped by SeriesInstanceUID, other
modalities passed over; case id: the folder's name for one series, else each series' entry in it).
A scan that cannot be read is named at the end and the exit code is 2; the others are still done.

options:
  --model DIR         a model folder written by 'lungtumor train'
  --input DIR|FILE    one NIfTI scan, or a folder of scans (NIfTI, or DICOM series)
  --out DIR           where the masks go
  --format NAME       what to write per scan (repeat for several; default nifti): nifti
                      (<ID>_seg.nii.gz), dicom-seg (<ID>_seg.dcm: a binary DICOM-SEG) or rtstruct
                      (<ID>_rtstruct.dcm: one GTV ROI of closed planar contours). The DICOM ones
                      need DICOM input: they reference its images and copy its patient and study
  --submission FILE   also write the challenge's submission CSV for the predicted masks
  --shard K/N         only part K of N of the scans (every N-th by sorted case id, from the K-th),
                      for the tasks of a job array; its log is prediction_log.K-of-N.json, so the
                      parts may share --out. Merge with 'lungtumor submit --masks DIR ...'
  --workers N         feature worker threads (default 2; 0 runs in the main thread)
  --device NAME       where the filter features run: auto (default: a hardware GPU when there is
                      one, else the CPU path), gpu (WebGPU, any adapter) or cpu
  --quiet             no progress bar
`,
  async run(args) {
    const o = parseCommandArgs(predictCommand, args, {
      model: { type: 'string' },
      input: { type: 'string' },
      out: { type: 'string' },
      submission: { type: 'string' },
      workers: { type: 'string' },
      device: { type: 'string' },
      quiet: { type: 'boolean' },
      shard: { type: 'string' },
      format: { type: 'string', multiple: true },
    });
    if (!o) return 0;
    const shard = shardOption(o.shard);
    const formats = [...new Set(o.format ?? ['nifti'])];
    for (const f of formats) if (!(OUTPUT_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}, got '${f}'`);
    if (shard && o.submission) throw new UsageError('--submission takes the whole cohort: with --shard, merge the parts with lungtumor submit --masks DIR');
    const workers = workersOption(o.workers);
    const device = deviceOption(o.device);
    const summary = await predictCohort({
      modelDir: requireOption(o.model, 'model'),
      input: requireOption(o.input, 'input'),
      outDir: requireOption(o.out, 'out'),
      submission: o.submission,
      workers,
      device,
      log: (line) => process.stderr.write(`${line}\n`),
      quiet: o.quiet ?? false,
      ...(shard ? { shard } : {}),
      formats: formats as OutputFormat[],
    });
    process.stdout.write(`predicted ${summary.predicted.length} scan(s)\n`);
    // One line per failed scan (InputError messages name the file); the others' outputs stand.
    for (const f of summary.failed) process.stderr.write(`lungtumor predict: error: ${f.problem}\n`);
    return summary.failed.length > 0 ? 2 : 0;
  },
};
