import type { Command } from '../command.js';
import { cohortOptions, intOption, parseCommandArgs, requireOption, shardOption } from '../command.js';
import { cacheCohortFeatures } from '../../pipeline/train.js';

export const featuresCommand: Command = {
  name: 'features',
  summary: 'compute and cache the voxel features of a cohort (training reuses them with --cache)',
  usage: `usage: lungtumor features --data DIR [--data DIR ...] --out DIR [--seed N] [--config default|fast] [--shard K/N] [--workers N]

Reads the cohort as training does (its fingerprint decides the working grid and HU limits), finds
the lungs in every scan and computes the features of every eligible voxel, in slabs on worker
threads. The rows are cached in DIR (<ID>.features.json + <ID>.features.bin) with plans.json and
features_summary.json; 'lungtumor train --cache DIR' with the same data reuses them.

options:
  --data DIR       a cohort folder in the challenge layout (repeat for several)
  --roi NAME       in a DICOM cohort (CT series + RTSTRUCT per case, no volume/ folder), the
                   RTSTRUCT ROI of the tumour (default: the first named GTV… or tumour; the log
                   says which per case)
  --out DIR        the cache folder
  --seed N         as for train (default 0)
  --config NAME    as for train (default 'default')
  --shard K/N      only the rows of part K of N of the cases (every N-th by sorted case id,
                   from the K-th), for the tasks of a job array writing one shared DIR; each
                   part still reads every scan once, for the plans. Then 'train --cache DIR'
                   finds every case's rows and trains as after one unsharded run
  --workers N      feature worker threads (default 2; 0 runs in the main thread)
  --device NAME    where the filter features run: auto (default: a hardware GPU when there is
                   one, else the CPU path), gpu (WebGPU, any adapter) or cpu
  --quiet          no progress bars
`,
  async run(args) {
    const o = parseCommandArgs(featuresCommand, args, {
      data: { type: 'string', multiple: true },
      roi: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      workers: { type: 'string' },
      device: { type: 'string' },
      quiet: { type: 'boolean' },
      shard: { type: 'string' },
    });
    if (!o) return 0;
    const { dataDirs, roi, config, workers, device } = cohortOptions(o);
    const out = requireOption(o.out, 'out');
    const shard = shardOption(o.shard);
    const cached = await cacheCohortFeatures({
      dataDirs,
      roi,
      seed: intOption(o.seed, 'seed', 0),
      config,
      workers,
      device,
      cacheDir: out,
      log: (line) => process.stderr.write(`${line}\n`),
      quiet: o.quiet ?? false,
      shard,
    });
    process.stdout.write(`features of ${cached} cases cached in ${out}\n`);
    return 0;
  },
};
