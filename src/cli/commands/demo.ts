import { join } from 'node:path';
import type { Command } from '../command.js';
import { intOption, parseCommandArgs } from '../command.js';
import { UsageError } from '../../core/errors.js';
import { synthCommand } from './synth.js';
import { trainCommand } from './train.js';
import { predictCommand } from './predict.js';
import { evaluateCommand } from './evaluate.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the whole job on built-in data: synthetic cohort -> train -> predict -> evaluate',
  usage: `usage: lungtumor demo [--out DIR] [--cases N] [--test-cases M] [--seed S] [--size small|medium] [--config default|fast]

Makes a synthetic training cohort and a separate synthetic test cohort (small scans), trains a
model on the first, segments the second and scores the masks with the challenge's metrics.
Everything goes under DIR (replaced on each run): cohort-train/, cohort-test/, model/,
predictions/ (masks, prediction_log.json, submission.csv) and evaluation.json.

options:
  --out DIR          output folder (default demo-out)
  --cases N          training cases (default 12)
  --test-cases M     test cases (default 8)
  --seed S           seed (default 0; the test cohort uses S + 1000)
  --size SIZE        synthetic scan size, 'small' or 'medium' (default 'medium'; see lungtumor synth)
  --config NAME      training configuration, 'default' or 'fast' (default 'default')
`,
  async run(args) {
    const o = parseCommandArgs(demoCommand, args, {
      out: { type: 'string' },
      cases: { type: 'string' },
      'test-cases': { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      size: { type: 'string' },
    });
    if (!o) return 0;
    const out = o.out ?? 'demo-out';
    const cases = intOption(o.cases, 'cases', 12);
    const testCases = intOption(o['test-cases'], 'test-cases', 8);
    const seed = intOption(o.seed, 'seed', 0);
    const config = o.config ?? 'default';
    const size = o.size ?? 'medium';
    if (size !== 'small' && size !== 'medium') throw new UsageError(`--size must be small or medium, got '${size}'`);
    if (cases < 2 || testCases < 1) throw new UsageError('--cases must be at least 2 and --test-cases at least 1');
    const steps: [string, Command, string[]][] = [
      ['synthetic training cohort', synthCommand, ['--out', join(out, 'cohort-train'), '--cases', String(cases), '--seed', String(seed), '--size', size, '--force']],
      ['synthetic test cohort', synthCommand, ['--out', join(out, 'cohort-test'), '--cases', String(testCases), '--seed', String(seed + 1000), '--size', size, '--force']],
      ['train', trainCommand, ['--data', join(out, 'cohort-train'), '--model', join(out, 'model'), '--seed', String(seed), '--config', config]],
      ['predict', predictCommand, ['--model', join(out, 'model'), '--input', join(out, 'cohort-test'), '--out', join(out, 'predictions'), '--submission', join(out, 'predictions', 'submission.csv')]],
      ['evaluate', evaluateCommand, ['--pred', join(out, 'predictions'), '--truth', join(out, 'cohort-test', 'train', 'seg'), '--json', join(out, 'evaluation.json')]],
    ];
    const t0 = performance.now();
    for (const [title, cmd, cmdArgs] of steps) {
      process.stdout.write(`\n== ${title}: lungtumor ${cmd.name} ${cmdArgs.join(' ')}\n`);
      const code = await cmd.run(cmdArgs);
      if (code !== 0) return code;
    }
    process.stdout.write(`\ndemo finished in ${((performance.now() - t0) / 1000).toFixed(1)} s; outputs in ${out}/\n`);
    return 0;
  },
};
