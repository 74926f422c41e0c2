/**
 * Leave-one-out on a labelled cohort: for each case, train on the others (plus any extra cohorts)
 * and segment the held-out scan; then score all held-out masks with the challenge's metrics.
 *
 *   node dist/scripts/loo.js --data DIR [--extra DIR ...] --out DIR [--config default|fast] [--seed N] [--data-weight N]
 *                            [--implants-per-scan N [--implant-weight N] [--implant-seed S]] [--linked A,B ...] [--only ID ...]
 *
 * `--data-weight N` trains with the other cases of DIR weighted N (train --weight).
 * `--implants-per-scan N` makes, per fold, N implants into each of the fold's own training scans
 * (`synth --into` over the fold's cases only, --collapse: no implant and no HU prior comes from the
 * held-out scan) and trains on them too, weighted `--implant-weight` (default 1).
 * `--linked A,B` names scans of one patient (e.g. a crop cut from a whole scan): when one is held
 * out, the others leave the fold's training too.
 * Each fold keeps its feature rows in DIR/<ID>/feature-cache, so a rerun with other later stages
 * skips the feature stage.
 * Writes DIR/<ID>/model, DIR/predictions/<ID>_seg.nii.gz, DIR/evaluation.json and prints the table:
 * the means are over the held-out masks in DIR/predictions (with --only, those made so far).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, existsSync, copyFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { listTrainingCases } from '../src/io/cohort.js';

const cli = fileURLToPath(new URL('../src/cli/run.js', import.meta.url));

function run(args: string[]): void {
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`lungtumor ${args[0]} failed with exit code ${r.status}`);
}

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    extra: { type: 'string', multiple: true },
    out: { type: 'string' },
    config: { type: 'string' },
    seed: { type: 'string' },
    only: { type: 'string', multiple: true },
    'data-weight': { type: 'string' },
    'implants-per-scan': { type: 'string' },
    'implant-weight': { type: 'string' },
    'implant-seed': { type: 'string' },
    linked: { type: 'string', multiple: true },
  },
});
const linkedGroups = (values.linked ?? []).map((g) => g.split(','));
const linkedTo = (id: string): Set<string> => new Set(linkedGroups.filter((g) => g.includes(id)).flat().concat(id));
if (!values.data || !values.out) {
  process.stderr.write('usage: node dist/scripts/loo.js --data DIR [--extra DIR ...] --out DIR [--config default|fast] [--seed N] [--data-weight N] [--only ID ...]\n');
  process.exit(2);
}
const out = resolve(values.out);
const cases = listTrainingCases(values.data);
const predictions = join(out, 'predictions');
const truth = join(out, 'truth');
mkdirSync(predictions, { recursive: true });
mkdirSync(truth, { recursive: true });
for (const held of cases) {
  if (values.only && !values.only.includes(held.id)) continue;
  const dir = join(out, held.id);
  const others = join(dir, 'others', 'train');
  rmSync(join(dir, 'others'), { recursive: true, force: true });
  for (const sub of ['volume', 'seg', 'lungs_seg']) mkdirSync(join(others, sub), { recursive: true });
  const leftOut = linkedTo(held.id);
  for (const c of cases) {
    if (leftOut.has(c.id)) continue;
    symlinkSync(resolve(c.volume), join(others, 'volume', basename(c.volume)));
    symlinkSync(resolve(c.seg!), join(others, 'seg', basename(c.seg!)));
    if (c.lungs) symlinkSync(resolve(c.lungs), join(others, 'lungs_seg', basename(c.lungs)));
  }
  const extra = (values.extra ?? []).flatMap((e) => ['--data', e]);
  process.stderr.write(`\n== leave out ${held.id}\n`);
  const weight = values['data-weight'] ? ['--weight', `${join(dir, 'others')}=${values['data-weight']}`] : [];
  const implants: string[] = [];
  if (values['implants-per-scan']) {
    const into = join(dir, 'implants');
    if (!existsSync(join(into, 'train', 'metadata.csv'))) {
      run(['synth', '--into', join(dir, 'others'), '--out', into, '--per-scan', values['implants-per-scan'], '--seed', values['implant-seed'] ?? '1', '--collapse', '--force', '--quiet']);
    }
    implants.push('--data', into, '--weight', `${into}=${values['implant-weight'] ?? '1'}`);
  }
  run(['train', '--data', join(dir, 'others'), ...extra, ...implants, ...weight, '--model', join(dir, 'model'), '--cache', join(dir, 'feature-cache'), '--seed', values.seed ?? '0', '--config', values.config ?? 'default', '--quiet']);
  run(['predict', '--model', join(dir, 'model'), '--input', held.volume, '--out', join(dir, 'pred'), '--quiet']);
  copyFileSync(join(dir, 'pred', `${held.id}_seg.nii.gz`), join(predictions, `${held.id}_seg.nii.gz`));
  copyFileSync(join(dir, 'pred', 'prediction_log.json'), join(dir, 'prediction_log.json'));
  if (!existsSync(join(truth, basename(held.seg!)))) symlinkSync(resolve(held.seg!), join(truth, basename(held.seg!)));
}
run(['evaluate', '--pred', predictions, '--truth', truth, '--json', join(out, 'evaluation.json')]);
// Folds run one at a time (--only) score the held-out masks made so far: say when the mean is partial.
const scored = cases.filter((c) => existsSync(join(predictions, `${c.id}_seg.nii.gz`))).length;
if (scored < cases.length) process.stderr.write(`note: the means above cover ${scored} of the ${cases.length} held-out scans (the others have no mask in ${predictions} yet)\n`);
