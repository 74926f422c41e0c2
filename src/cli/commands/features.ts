import { join } from 'node:path';
import type { Command } from '../command.js';
import { cohortOptions, intOption, parseCommandArgs, requireOption } from '../command.js';
import { computeCohortFeatures, prepareCohort } from '../../pipeline/train.js';
import { writeJson } from '../../pipeline/model-folder.js';

export const featuresCommand: Command = {
  name: 'features',
  summary: 'compute and cache the voxel features of a cohort (training reuses them with --cache)',
  usage: `usage: lungtumor features --data DIR [--data DIR ...] --out DIR [--seed N] [--config default|fast] [--workers N]

Reads the cohort as training does (its fingerprint decides the working grid and HU limits), finds
the lungs in every scan and computes the features of every eligible voxel, in slabs on worker
threads. The rows are cached in DIR (<ID>.features.json + <ID>.features.bin) with plans.json and
features_summary.json; 'lungtumor train --cache DIR' with the same data reuses them.

options:
  --data DIR       a cohort folder in the challenge layout (repeat for several)
  --out DIR        the cache folder
  --seed N         as for train (default 0)
  --config NAME    as for train (default 'default')
  --workers N      feature worker threads (default 2; 0 runs in the main thread)
  --device NAME    where the filter features run: auto (default: a hardware GPU when there is
                   one, else the CPU path), gpu (WebGPU, any adapter) or cpu
  --quiet          no progress bars
`,
  async run(args) {
    const o = parseCommandArgs(featuresCommand, args, {
      data: { type: 'string', multiple: true },
      out: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      workers: { type: 'string' },
      device: { type: 'string' },
      quiet: { type: 'boolean' },
    });
    if (!o) return 0;
    const { dataDirs, config, workers, device } = cohortOptions(o);
    const out = requireOption(o.out, 'out');
    const log = (line: string): void => { process.stderr.write(`${line}\n`); };
    const seed = intOption(o.seed, 'seed', 0);
    const cohort = await prepareCohort({ dataDirs, seed, config, log, quiet: o.quiet ?? false });
    const t = performance.now();
    const eligible = new Map<string, number>();
    const names = await computeCohortFeatures(cohort, { workers, storeDir: out, device, log, quiet: o.quiet ?? false }, (p, table) => {
      eligible.set(p.id, table.voxels.length);
    });
    writeJson(join(out, 'plans.json'), cohort.plans);
    writeJson(join(out, 'features_summary.json'), {
      features: names,
      seconds: { ...cohort.seconds, features: Math.round(performance.now() - t) / 1000 },
      cases: cohort.prepared.map((p) => ({
        id: p.id,
        working_dims: p.grid.dims,
        eligible_voxels: eligible.get(p.id) ?? 0,
        lungs_found: p.lungs.found,
        lung_finder_dice: cohort.lungFinderDice[p.id] ?? null,
      })),
    });
    process.stdout.write(`features of ${cohort.prepared.length} cases cached in ${out}\n`);
    return 0;
  },
};
