import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { cohortOptions, intOption, parseCommandArgs, requireOption, shardOption } from '../command.js';
import { UsageError } from '../../core/errors.js';
import { cacheCohortFeatures, trainModel } from '../../pipeline/train.js';
import { isCaseWeight } from '../../pipeline/model-folder.js';

/**
 * Each --data folder's weight from the --weight DIR=N options (1 when not named); DIR must be one
 * of the --data folders (compared as resolved paths), N a whole number from 1 to 100.
 */
export function dataWeightsOption(dataDirs: readonly string[], weights: readonly string[] = []): number[] {
  const out = dataDirs.map(() => 1);
  for (const w of weights) {
    const eq = w.lastIndexOf('=');
    const n = eq > 0 ? Number(w.slice(eq + 1)) : NaN;
    if (!(isCaseWeight(n) && n <= 100)) throw new UsageError(`--weight must be DIR=N with N a whole number from 1 to 100, got '${w}'`);
    const k = dataDirs.findIndex((d) => resolve(d) === resolve(w.slice(0, eq)));
    if (k < 0) throw new UsageError(`--weight ${w}: ${w.slice(0, eq)} is not one of the --data folders`);
    out[k] = n;
  }
  return out;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a model from scratch on labelled cohorts (challenge layout)',
  usage: `usage: lungtumor train --data DIR [--data DIR ...] --model DIR [--weight DIR=N] [--seed N] [--config default|fast] [--workers N] [--cache DIR] [--shard K/N] [--roi NAME]

Trains the whole pipeline (plans, voxel classifier, candidate classifier, refiner) on every case of
the given folders (challenge layout: DIR/train/volume/<ID>_vol.nii.gz, DIR/train/seg/<ID>_seg.nii.gz,
optional DIR/train/lungs_seg/<ID>_lungseg.nii.gz; or DICOM: a CT series and its RTSTRUCT per case)
and writes one model folder. Same data + same seed give byte-identical model files (all but
training_log.json's timings). The folder is written whole at the end; an interrupted run leaves no
model behind and can simply be run again.

options:
  --data DIR       a cohort folder (repeat for several)
  --roi NAME       in a DICOM cohort (CT series + RTSTRUCT per case, no volume/ folder), the
                   RTSTRUCT ROI of the tumour (default: the first named GTV… or tumour; the log
                   says which per case)
  --model DIR      the model folder to write (replaced when it exists)
  --weight DIR=N   the cases of --data folder DIR count N times (1 to 100; default 1): their voxel
                   rows weigh N, their candidates repeat N times, the refiner gets N times their
                   ROIs. E.g. real scans beside a larger synthetic cohort. Repeat for several
  --seed N         seed of every random choice (default 0)
  --config NAME    'default' (the real one) or 'fast' (a small model in well under a minute, for tests)
  --workers N      feature worker threads (default 2; 0 runs in the main thread)
  --device NAME    where the filter features run: auto (default: a hardware GPU when there is
                   one, else the CPU path), gpu (WebGPU, any adapter) or cpu
  --cache DIR      reuse (and fill) the feature cache made by 'lungtumor features'. Training keeps
                   each scan's feature rows on disk, not in memory: in DIR when given, else in a
                   temporary folder it removes (about 25-75 MB per scan)
  --shard K/N      run only the feature stage, for part K of N of the cases (as
                   'lungtumor features --shard'), into --cache (required), and write no model:
                   one task of a job array. Once every part is done, train with --cache alone
  --quiet          no progress bars
`,
  async run(args) {
    const o = parseCommandArgs(trainCommand, args, {
      data: { type: 'string', multiple: true },
      roi: { type: 'string' },
      weight: { type: 'string', multiple: true },
      model: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      workers: { type: 'string' },
      device: { type: 'string' },
      cache: { type: 'string' },
      quiet: { type: 'boolean' },
      shard: { type: 'string' },
    });
    if (!o) return 0;
    const { dataDirs, roi, config, workers, device } = cohortOptions(o);
    const shard = shardOption(o.shard);
    const log = (line: string): void => { process.stderr.write(`${line}\n`); };
    if (shard) {
      if (o.cache === undefined) throw new UsageError('--shard needs --cache DIR: the parts write their feature rows there');
      const cached = await cacheCohortFeatures({ dataDirs, roi, seed: intOption(o.seed, 'seed', 0), config, workers, device, cacheDir: o.cache, log, quiet: o.quiet ?? false, shard });
      process.stdout.write(`feature stage of part ${shard.index}/${shard.count}: ${cached} cases cached in ${o.cache}; no model written\n`);
      return 0;
    }
    await trainModel({
      dataDirs,
      roi,
      dataWeights: dataWeightsOption(dataDirs, o.weight),
      modelDir: requireOption(o.model, 'model'),
      seed: intOption(o.seed, 'seed', 0),
      config,
      workers,
      log,
      quiet: o.quiet ?? false,
      cacheDir: o.cache,
      device,
    });
    return 0;
  },
};
