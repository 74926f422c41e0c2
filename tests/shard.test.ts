/**
 * Cohorts split across the tasks of a job array (--shard K/N) merge into what one run gives, and a
 * run killed with SIGKILL leaves no partial output; its rerun cleans up and gives the same bytes.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { filesUnder, runCli, runCliAsync, startCli, tempDir } from './helpers.js';
import { writeCohort } from '../src/synth/index.js';
import { readNifti } from '../src/io/nifti.js';
import { parseShard, shardItems } from '../src/core/shard.js';

const TRAIN = ['--seed', '2', '--config', 'fast', '--quiet'];
let root = '';
let data = '';
let refModel = '';
let refPred = '';

before(async () => {
  root = tempDir();
  data = join(root, 'data');
  await writeCohort(data, { cases: 6, seed: 4, size: 'small' });
  refModel = join(root, 'ref-model');
  refPred = join(root, 'ref-pred');
  const t = runCli(['train', '--data', data, '--model', refModel, ...TRAIN]);
  assert.equal(t.status, 0, t.stderr);
  const p = runCli(['predict', '--model', refModel, '--input', data, '--out', refPred, '--submission', join(root, 'ref.csv'), '--quiet']);
  assert.equal(p.status, 0, p.stderr);
});

after(() => rmSync(root, { recursive: true, force: true }));

const masksOf = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('_seg.nii.gz')).sort();

function assertSameModel(dir: string, ref: string): void {
  assert.deepEqual(readdirSync(dir).sort(), readdirSync(ref).sort());
  for (const f of readdirSync(ref)) {
    if (f === 'training_log.json') continue;
    assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(ref, f))), `${f} differs from the one-run model`);
  }
}

test('--shard K/N: parts by sorted case id, every case in exactly one part', () => {
  assert.deepEqual(parseShard('2/8'), { index: 2, count: 8 });
  for (const bad of ['0/3', '4/3', '1/0', '1', 'a/b', '1/2/3', '-1/2']) assert.throws(() => parseShard(bad), /--shard/);
  const ids = ['C', 'A', 'E', 'B', 'D'];
  const parts = [1, 2].map((index) => shardItems(ids, (x) => x, { index, count: 2 }));
  assert.deepEqual(parts, [['A', 'C', 'E'], ['B', 'D']]);
  assert.deepEqual(shardItems(ids, (x) => x, { index: 6, count: 6 }), []);
  assert.deepEqual(shardItems(ids, (x) => x, undefined), ['A', 'B', 'C', 'D', 'E']);
});

test('features and predict split into 3 parts run as 3 processes: the merged cache trains the same model, the merged masks give the same CSV', async () => {
  const cache = join(root, 'cache-sharded');
  const parts = await Promise.all([1, 2, 3].map((k) => runCliAsync(['features', '--data', data, '--out', cache, '--shard', `${k}/3`, '--workers', '0', ...TRAIN])));
  for (const r of parts) assert.equal(r.status, 0, r.stderr);
  // The training's own feature stage takes --shard too (here part 3 again: its rows are reused).
  const again = runCli(['train', '--data', data, '--cache', cache, '--shard', '3/3', '--workers', '0', ...TRAIN]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /2 of 2 cases reused \(part 3\/3 of a 6-case cohort\)/);
  const summaries = [1, 2, 3].map((k) => JSON.parse(readFileSync(join(cache, `features_summary.${k}-of-3.json`), 'utf8')).cases.map((c: { id: string }) => c.id));
  assert.deepEqual(summaries.map((ids: string[]) => [...ids].sort()), [['SYN-0001', 'SYN-0004'], ['SYN-0002', 'SYN-0005'], ['SYN-0003', 'SYN-0006']]);
  const model = join(root, 'model-from-parts');
  const t = runCli(['train', '--data', data, '--model', model, '--cache', cache, ...TRAIN]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stderr, /6 of 6 cases reused/);
  assertSameModel(model, refModel);

  // Parts 1 and 2 share a folder, part 3 has its own.
  const shared = join(root, 'pred-parts-a');
  const own = join(root, 'pred-parts-b');
  const preds = await Promise.all([[1, shared], [2, shared], [3, own]].map(([k, out]) => runCliAsync(['predict', '--model', refModel, '--input', data, '--out', String(out), '--shard', `${k}/3`, '--workers', '0', '--quiet'])));
  for (const r of preds) assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(shared).sort(), ['SYN-0001_seg.nii.gz', 'SYN-0002_seg.nii.gz', 'SYN-0004_seg.nii.gz', 'SYN-0005_seg.nii.gz', 'prediction_log.1-of-3.json', 'prediction_log.2-of-3.json']);
  for (const [dir, names] of [[shared, masksOf(shared)], [own, masksOf(own)]] as const) {
    for (const n of names) assert.ok(readFileSync(join(dir, n)).equals(readFileSync(join(refPred, n))), `${n} differs from the one-run mask`);
  }
  const csv = join(root, 'merged.csv');
  const s = runCli(['submit', '--masks', shared, '--masks', own, '--out', csv]);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(readFileSync(csv, 'utf8'), readFileSync(join(root, 'ref.csv'), 'utf8'));
  // The same case in two of the folders is an error, not a double row.
  const dup = runCli(['submit', '--masks', shared, '--masks', refPred, '--out', join(root, 'dup.csv')]);
  assert.equal(dup.status, 2);
  assert.match(dup.stderr, /case id 'SYN-0001' is also the id of/);
  assert.ok(!existsSync(join(root, 'dup.csv')));

  for (const args of [
    ['predict', '--model', refModel, '--input', data, '--out', join(root, 'x'), '--shard', '1/3', '--submission', join(root, 'x.csv')],
    ['predict', '--model', refModel, '--input', data, '--out', join(root, 'x'), '--shard', '4/3'],
    ['train', '--data', data, '--model', join(root, 'x'), '--shard', '1/3'],
  ]) {
    const r = runCli(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr.split('\n')[0]!, /^lungtumor (predict|train): .*--(shard|submission)/);
  }
  assert.ok(!existsSync(join(root, 'x')) && !existsSync(join(root, 'x.csv')));
});

/** Starts the CLI, waits until `ready()` holds, kills it with SIGKILL; returns its pid. */
async function killWhen(args: string[], ready: () => boolean, what: string): Promise<number> {
  const child = startCli(args);
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for (let i = 0; i < 2400 && !ready(); i++) await sleep(10);
  assert.ok(ready(), `${what} never happened`);
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the child ended before it was killed');
  return child.pid!;
}

/** The name a killed process's unfinished atomic write of `file` has (core/atomic.ts's tempSibling). */
const tempNameOf = (file: string, pid: number): string => `.${file}.tmp-${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${pid}-0badc0de`;

test('kill -9 during predict leaves only whole masks; the rerun removes the leftovers and gives the same bytes', async () => {
  const out = join(root, 'pred-killed');
  const pid = await killWhen(['predict', '--model', refModel, '--input', data, '--out', out, '--workers', '0', '--quiet'],
    () => existsSync(out) && masksOf(out).length >= 2, 'a second mask');
  // Whatever is there under a final name is whole: the mask one run writes. The log comes last.
  const written = masksOf(out);
  assert.ok(written.length >= 2 && written.length <= 6);
  for (const n of written) {
    assert.ok(readFileSync(join(out, n)).equals(readFileSync(join(refPred, n))), `${n} is not the whole mask`);
    assert.equal(readNifti(join(out, n)).dims.length, 3);
  }
  assert.ok(!existsSync(join(out, 'prediction_log.json')) || written.length === 6);
  // A SIGKILL mid-write leaves its temporary file (no handler runs): what the rerun must clear.
  const leftover = tempNameOf('SYN-0006_seg.nii.gz', pid);
  writeFileSync(join(out, leftover), 'half a mask');
  const alive = tempNameOf('SYN-0006_seg.nii.gz', process.pid);
  writeFileSync(join(out, alive), 'a live process is still writing this');
  const r = runCli(['predict', '--model', refModel, '--input', data, '--out', out, '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`removed .*${leftover.replace(/\./g, '\\.')}, left by a process that no longer runs`));
  assert.deepEqual(readdirSync(out).sort(), [alive, ...masksOf(refPred), 'prediction_log.json'].sort());
  for (const n of masksOf(refPred)) assert.ok(readFileSync(join(out, n)).equals(readFileSync(join(refPred, n))), `${n} differs after the rerun`);
});

test('kill -9 during train leaves no model; the rerun removes the killed run\'s feature rows and temporary model and trains the same model', async () => {
  const dir = join(root, 'killed-train');
  mkdirSync(dir);
  const model = join(dir, 'model');
  let pid = 0;
  const rowsFolders = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith(`lungtumor-features-${pid}-`));
  const child = startCli(['train', '--data', data, '--model', model, '--workers', '0', ...TRAIN]);
  pid = child.pid!;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for (let i = 0; i < 2400 && rowsFolders().length === 0; i++) await sleep(10);
  assert.equal(rowsFolders().length, 1, 'no feature rows folder appeared');
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.ok(!existsSync(model));
  assert.equal(rowsFolders().length, 1, 'SIGKILL runs no clean-up: the rows folder stays');
  // Killed while the model folder was being written, it would leave this behind.
  const tempModel = join(dir, tempNameOf('model', pid));
  mkdirSync(tempModel);
  writeFileSync(join(tempModel, 'model.json'), '{');
  const r = runCli(['train', '--data', data, '--model', model, '--workers', '0', ...TRAIN]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(rowsFolders(), []);
  assert.ok(!existsSync(tempModel));
  assert.deepEqual(filesUnder(dir), filesUnder(refModel).map((f) => join('model', f)));
  assertSameModel(model, refModel);
});
