/**
 * The submission CSV: Python-exact number formatting, the C-order run-length code against a
 * brute-force flatten, CSV quoting, `lungtumor submit` against the kit's own solution.csv.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { realDataDir, runCli, tempDir } from './helpers.js';
import type { Vec3 } from '../src/core/volume.js';
import { identityAffine } from '../src/core/volume.js';
import { writeNifti } from '../src/io/nifti.js';
import { pyFloatRepr, pyIntTupleRepr } from '../src/submission/pyrepr.js';
import { rleDecode, rleEncode } from '../src/submission/rle.js';
import { submissionCsv, submissionRow } from '../src/submission/submission.js';

test('floats print as Python repr() prints them', () => {
  const cases: [number, string][] = [
    [0, '0.0'],
    [-0, '-0.0'],
    [1, '1.0'],
    [-2, '-2.0'],
    [6.71, '6.71'],
    [0.1 + 0.2, '0.30000000000000004'],
    [31.877442598342896, '31.877442598342896'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [0.00012345, '0.00012345'],
    [1.5e-7, '1.5e-07'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e+16'],
    [9999999999999998, '9999999999999998.0'],
    [123456789012345678, '1.2345678901234568e+17'],
    [1e22, '1e+22'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [5e-324, '5e-324'],
    [2 * Math.fround(1e-4) * 0.9765625, '0.00019531249506599124'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ];
  for (const [x, want] of cases) assert.equal(pyFloatRepr(x), want, `repr(${x})`);
  assert.equal(pyIntTupleRepr([512, 512, 134]), '(512, 512, 134)');
  assert.equal(pyIntTupleRepr([7]), '(7,)');
});

/** The RLE the kit computes, the slow and obvious way: flatten in C order, then find the runs. */
function bruteForceRle(mask: Uint8Array, [nx, ny, nz]: Vec3): string {
  const flat: number[] = [];
  for (let x = 0; x < nx; x++) for (let y = 0; y < ny; y++) for (let z = 0; z < nz; z++) flat.push(mask[x + nx * (y + ny * z)] ? 1 : 0);
  const out: number[] = [];
  for (let i = 0; i < flat.length; i++) {
    if (flat[i] && (i === 0 || !flat[i - 1])) {
      let j = i;
      while (j < flat.length && flat[j]) j++;
      out.push(i + 1, j - i);
    }
  }
  return out.join(' ');
}

test('RLE of small masks equals a brute-force C-order flatten, and decodes back', () => {
  let s = 99;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  for (let trial = 0; trial < 400; trial++) {
    const dims: Vec3 = [1 + Math.floor(rnd() * 6), 1 + Math.floor(rnd() * 6), 1 + Math.floor(rnd() * 6)];
    const n = dims[0] * dims[1] * dims[2];
    const density = rnd();
    // An odd offset into a larger buffer exercises the unaligned paths of the foreground scan.
    const backing = new Uint8Array(n + 3);
    const mask = backing.subarray(trial % 3, trial % 3 + n);
    for (let i = 0; i < n; i++) mask[i] = rnd() < density ? 1 + (i % 3) : 0;
    const rle = rleEncode(mask, dims);
    assert.equal(rle, bruteForceRle(mask, dims), `dims ${dims}`);
    assert.deepEqual(rleDecode(rle, dims), Uint8Array.from(mask, (v) => (v ? 1 : 0)));
  }
  assert.equal(rleEncode(new Uint8Array(24), [2, 3, 4]), '');
  assert.equal(rleEncode(new Uint8Array(24).fill(1), [2, 3, 4]), '1 24');
  // One voxel at (x, y, z) = (1, 0, 2) of a 2x3x4 array: C index 1*12 + 0*4 + 2 = 14, 1-based 15.
  const one = new Uint8Array(24);
  one[1 + 2 * (0 + 3 * 2)] = 1;
  assert.equal(rleEncode(one, [2, 3, 4]), '15 1');
});

test('CSV rows: header, quoting only where the kit quotes, Python floats, empty masks', () => {
  const dims: Vec3 = [2, 3, 4];
  const empty = submissionRow('EMPTY-1', new Uint8Array(24), dims, [1, 1, 1]);
  assert.deepEqual([empty.rle, empty.recistMm, empty.volumeMl], ['', 0, 0]);
  const m = new Uint8Array(24);
  m[0] = 1;
  const single = submissionRow('ONE', m, dims, [0.5, 0.5, 2]);
  const csv = submissionCsv([empty, single, { ...single, id: 'a,b "c"' }]);
  assert.equal(
    csv,
    [
      'id,rle,recist,volume,data_shape',
      'EMPTY-1,,0.0,0.0,"(2, 3, 4)"',
      `ONE,1 1,${pyFloatRepr(2 * Math.fround(1e-4) * 0.5)},0.0,"(2, 3, 4)"`,
      `"a,b ""c""",1 1,${pyFloatRepr(2 * Math.fround(1e-4) * 0.5)},0.0,"(2, 3, 4)"`,
      '',
    ].join('\n'),
  );
});

test('lungtumor submit on the real masks reproduces the kit\'s solution.csv byte for byte', { timeout: 120_000 }, (t) => {
  const real = realDataDir();
  if (!real) {
    t.skip('no real data (../shared/data/real)');
    return;
  }
  const out = join(tempDir(t), 'sub', 'submission.csv');
  const started = Date.now();
  const r = runCli(['submit', '--masks', join(real, 'train', 'seg'), '--out', out]);
  t.diagnostic(`submit on ${real}/train/seg took ${Date.now() - started} ms`);
  assert.equal(r.status, 0, r.stderr);
  const got = readFileSync(out, 'utf8');
  const want = readFileSync(join(real, 'train', 'solution.csv'), 'utf8');
  // Field by field first, for a readable failure.
  const rows = (text: string): string[][] =>
    text
      .trimEnd()
      .split('\n')
      .map((line) => {
        const m = /^([^,]*),([^,]*),([^,]*),([^,]*),"(.*)"$/.exec(line);
        return m ? m.slice(1) : line.split(',');
      });
  const g = rows(got);
  const w = rows(want);
  assert.equal(g.length, w.length);
  for (let i = 1; i < w.length; i++) {
    const [id, rle, recist, volume, shape] = g[i]!;
    const [wid, wrle, wrecist, wvolume, wshape] = w[i]!;
    assert.equal(id, wid);
    assert.ok(rle === wrle, `${id}: rle differs`);
    assert.equal(volume, wvolume, `${id} volume`);
    assert.equal(shape, wshape, `${id} data_shape`);
    assert.ok(Math.abs(Number(recist) - Number(wrecist)) <= 0.01, `${id} recist ${recist} vs ${wrecist}`);
  }
  assert.equal(got, want);
});

function writeMaskFile(path: string, dims: Vec3, set: number[]): Uint8Array {
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const i of set) data[i] = 1;
  const spacing: Vec3 = [0.75, 0.75, 2.5];
  writeNifti(path, { data, dims, spacing, affine: identityAffine(spacing) });
  return data;
}

test('lungtumor submit on written masks: rows decode back to the masks; empty mask → empty rle', (t) => {
  const dir = tempDir(t);
  const masks = join(dir, 'masks');
  mkdirSync(masks);
  const dims: Vec3 = [5, 4, 3];
  const a = writeMaskFile(join(masks, 'CASE-2_seg.nii.gz'), dims, [0, 1, 7, 8, 21, 59]);
  writeMaskFile(join(masks, 'CASE-1_seg.nii'), dims, []);
  const out = join(dir, 'out.csv');
  const r = runCli(['submit', '--masks', masks, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(out, 'utf8').split('\n');
  assert.equal(lines[0], 'id,rle,recist,volume,data_shape');
  assert.equal(lines[1], 'CASE-1,,0.0,0.0,"(5, 4, 3)"');
  const [id, rle] = lines[2]!.split(',');
  assert.equal(id, 'CASE-2');
  assert.deepEqual(rleDecode(rle!, dims), a);
  assert.equal(lines[3], '');
});

test('lungtumor submit: missing folder, empty folder, corrupt NIfTI → one line, exit 2, nothing written; other files are named and passed over', (t) => {
  const dir = tempDir(t);
  const outDir = join(dir, 'out');
  const out = join(outDir, 'sub.csv');
  const check = (masks: string, pattern: RegExp): void => {
    const r = runCli(['submit', '--masks', masks, '--out', out]);
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('lungtumor'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, pattern);
    assert.equal(existsSync(out), false);
    if (existsSync(outDir)) assert.deepEqual(readdirSync(outDir), []);
  };
  check(join(dir, 'nope'), /nope/);
  const masks = join(dir, 'masks');
  mkdirSync(masks);
  check(masks, /no NIfTI masks/);
  writeMaskFile(join(masks, 'A_seg.nii.gz'), [3, 3, 3], [4]);
  writeFileSync(join(masks, 'README.md'), 'not a mask');
  const passed = runCli(['submit', '--masks', masks, '--out', out]);
  assert.equal(passed.status, 0, passed.stderr);
  assert.match(passed.stderr, /passing over 1 file\(s\) that are not NIfTI masks: .*README\.md/);
  assert.match(readFileSync(out, 'utf8'), /^id,rle,recist,volume,data_shape\nA,/);
  rmSync(out);
  rmSync(join(masks, 'README.md'));
  writeFileSync(join(masks, 'README.md.nii.gz'), 'not gzip either');
  check(masks, /README\.md\.nii\.gz/);
  const usage = runCli(['submit', '--masks', masks]);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--out/);
});

test('submit and evaluate: a mask with labels other than 0/1 is an error (exit 2, one line, nothing written); --binarize counts them as tumour, with a warning', (t) => {
  const dir = tempDir(t);
  const masks = join(dir, 'masks');
  mkdirSync(masks);
  const dims: Vec3 = [5, 4, 3];
  const labelled = writeMaskFile(join(masks, 'CASE-1_seg.nii.gz'), dims, [3, 4, 9]);
  const multi = Uint8Array.from(labelled, (v, i) => (i === 9 ? 5 : v));
  const spacing: Vec3 = [0.75, 0.75, 2.5];
  writeNifti(join(masks, 'CASE-1_seg.nii.gz'), { data: multi, dims, spacing, affine: identityAffine(spacing) });
  const truth = join(dir, 'truth');
  mkdirSync(truth);
  writeMaskFile(join(truth, 'CASE-1_seg.nii.gz'), dims, [3, 4, 9]);
  const out = join(dir, 'submit', 'sub.csv');
  const json = join(dir, 'evaluate', 'eval.json');
  for (const args of [['submit', '--masks', masks, '--out', out], ['evaluate', '--pred', masks, '--truth', truth, '--json', json]]) {
    const r = runCli(args);
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /CASE-1_seg\.nii\.gz: mask labels must be 0\/1, found 5 \(1 voxel not 0\/1, first at \(4, 1, 0\)\); pass --binarize/);
    assert.equal(existsSync(join(dir, args[0]!)), false);
    const b = runCli([...args, '--binarize']);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stderr, /CASE-1_seg\.nii\.gz: 1 voxel with labels other than 0\/1 counted as tumour \(--binarize\)/);
  }
  const [, row] = readFileSync(out, 'utf8').split('\n');
  assert.deepEqual(rleDecode(row!.split(',')[1]!, dims), labelled);
  assert.equal(JSON.parse(readFileSync(json, 'utf8')).cases[0].dice, 1);
});
