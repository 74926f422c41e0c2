/**
 * Seeded mutation test: malformed NIfTI files made from a synthetic scan's header and, where
 * ../shared/data/real is present, a real scan's header (its fields, on a small grid), through the
 * reader and through predict, evaluate, submit and train: each is one error line naming the file,
 * exit 2, no stack trace and no output.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Rng } from '../src/core/random.js';
import { InputError } from '../src/core/errors.js';
import { identityAffine, type Vec3 } from '../src/core/volume.js';
import { readNifti, writeNifti } from '../src/io/nifti.js';
import { main } from '../src/cli/main.js';
import { writeCohort } from '../src/synth/cohort.js';
import { realDataDir, runCli, tempDir } from './helpers.js';

const DIMS: Vec3 = [16, 12, 6];

/** A small valid int16 CT (uncompressed bytes), with an oblique affine in sform and qform. */
function syntheticScan(dir: string): Buffer {
  const rng = new Rng(11);
  const data = Int16Array.from({ length: DIMS[0] * DIMS[1] * DIMS[2] }, () => rng.int(-1000, 400));
  const spacing: Vec3 = [0.7, 0.7, 2.5];
  const c = Math.cos(0.2), s = Math.sin(0.2);
  const affine = [[0.7 * c, -0.7 * s, 0, -80], [0.7 * s, 0.7 * c, 0, -90], [0, 0, 2.5, -200], [0, 0, 0, 1]];
  const path = join(dir, 'base.nii');
  writeNifti(path, { data, dims: DIMS, spacing, affine: affine as never });
  return readFileSync(path);
}

/** A real scan's header (all its fields) on a small grid: dims set to DIMS, data cut to fit. */
function realScan(real: string): Buffer | null {
  const file = join(real, 'train', 'volume', 'LIDC-0001_vol.nii.gz');
  if (!existsSync(file)) return null;
  const bytes = gunzipSync(readFileSync(file));
  const header = Buffer.from(bytes.subarray(0, 352));
  for (let a = 0; a < 3; a++) header.writeInt16LE(DIMS[a]!, 42 + 2 * a);
  const bitpix = header.readInt16LE(72);
  const voxOffset = header.readFloatLE(108);
  const n = DIMS[0] * DIMS[1] * DIMS[2] * (bitpix / 8);
  return Buffer.concat([header, bytes.subarray(voxOffset, voxOffset + n)]);
}

/** Start offsets of the NIfTI-1 header's fields (and of its extension flag and the data). */
const FIELD_OFFSETS = [
  0, 4, 14, 32, 36, 38, 39, 40, 42, 48, 56, 60, 64, 68, 70, 72, 74, 76, 80, 88, 108, 112, 116, 120, 122, 123, 124, 128, 132, 136, 140, 144, 148,
  228, 252, 254, 256, 268, 280, 296, 312, 328, 344, 348, 352,
];

interface Malformed {
  name: string;
  bytes: Buffer;
}

/** Every mutation of one base file (uncompressed NIfTI-1 bytes); names are prefixed by `tag`. */
function mutations(tag: string, base: Buffer, rng: Rng): Malformed[] {
  const out: Malformed[] = [];
  const add = (name: string, bytes: Buffer, gz = true): void => {
    out.push({ name: `${tag}-${name}.nii${gz ? '.gz' : ''}`, bytes: gz ? gzipSync(bytes) : bytes });
  };
  // Truncated at every header field, in the data, and by the last byte; raw and gzipped.
  const cuts = [...FIELD_OFFSETS, 352 + ((base.length - 352) >> 1), base.length - 1];
  for (const cut of cuts) {
    add(`cut${cut}`, base.subarray(0, cut));
    add(`cut${cut}`, base.subarray(0, cut), false);
  }
  // The gzip stream itself: truncated, and single bit flips past its 10-byte header.
  const gz = gzipSync(base);
  for (let k = 0; k < 8; k++) {
    const cut = rng.int(1, gz.length - 1);
    out.push({ name: `${tag}-gzcut${k}-${cut}.nii.gz`, bytes: gz.subarray(0, cut) });
  }
  for (let k = 0; k < 8; k++) {
    const flipped = Buffer.from(gz);
    const at = rng.int(10, gz.length - 1);
    flipped[at] = flipped[at]! ^ (1 << rng.int(0, 7));
    out.push({ name: `${tag}-gzflip${k}-${at}.nii.gz`, bytes: flipped });
  }
  // Absurd field values.
  const field = (name: string, edit: (h: Buffer) => void): void => {
    const b = Buffer.from(base);
    edit(b);
    add(name, b);
  };
  for (const v of [0, 348 - 1, 349, 540, -348]) field(`sizeof${v}`, (h) => h.writeInt32LE(v, 0));
  for (const v of [0, 8, -3, 1, 2]) field(`dim0-${v}`, (h) => h.writeInt16LE(v, 40));
  field('4d', (h) => { h.writeInt16LE(4, 40); h.writeInt16LE(3, 48); });
  for (const [axis, v] of [[1, 0], [1, -1], [2, 32767], [3, -32768]] as const) field(`dim${axis}-${v}`, (h) => h.writeInt16LE(v, 40 + 2 * axis));
  for (const v of [NaN, 0, -0, Infinity, -Infinity, -2, 1e-30, 1e30]) field(`pixdim1-${Object.is(v, -0) ? 'neg0' : v}`, (h) => h.writeFloatLE(v, 80));
  for (const v of [0, 100, 347, 1e12, NaN, -1, 352.5]) field(`voxoffset-${v}`, (h) => h.writeFloatLE(v, 108));
  for (const [dt, bp] of [[0, 16], [1, 1], [3, 16], [32, 64], [128, 24], [1536, 128], [2304, 32], [9999, 16], [-4, 16], [8192, 16]] as const) {
    field(`datatype${dt}-bitpix${bp}`, (h) => { h.writeInt16LE(dt, 70); h.writeInt16LE(bp, 72); });
  }
  for (const m of ['xyz\0', 'n+2\0', '\0\0\0\0', 'ni1\0']) field(`magic-${Buffer.from(m).toString('hex')}`, (h) => h.write(m, 344, 'latin1'));
  field('slope-huge', (h) => h.writeFloatLE(3e38, 112));
  field('sform-nan', (h) => { h.writeInt16LE(1, 254); h.writeFloatLE(NaN, 280); });
  field('sform-allnan', (h) => { h.writeInt16LE(1, 254); for (let k = 0; k < 12; k++) h.writeFloatLE(NaN, 280 + 4 * k); });
  field('sform-singular', (h) => { h.writeInt16LE(1, 254); for (let k = 0; k < 12; k++) h.writeFloatLE(0, 280 + 4 * k); });
  field('sform-inf', (h) => { h.writeInt16LE(2, 254); h.writeFloatLE(Infinity, 324); });
  field('qform-nan', (h) => { h.writeInt16LE(0, 254); h.writeInt16LE(1, 252); h.writeFloatLE(NaN, 256); });
  field('qform-offset-nan', (h) => { h.writeInt16LE(0, 254); h.writeInt16LE(1, 252); h.writeFloatLE(NaN, 268); });
  field('qform-bad-quaternion', (h) => { h.writeInt16LE(0, 254); h.writeInt16LE(1, 252); h.writeFloatLE(1, 256); h.writeFloatLE(1, 260); });
  // Float voxels with a NaN.
  const n = DIMS[0] * DIMS[1] * DIMS[2];
  const floats = Buffer.alloc(352 + 4 * n);
  base.copy(floats, 0, 0, 352);
  floats.writeInt16LE(16, 70);
  floats.writeInt16LE(32, 72);
  floats.writeFloatLE(352, 108);
  for (let i = 0; i < n; i++) floats.writeFloatLE(i === n - 1 ? NaN : -500, 352 + 4 * i);
  add('nan-voxel', floats);
  // Not NIfTI at all.
  add('text', Buffer.from('this is not a scan\n'.repeat(40)), false);
  add('empty', Buffer.alloc(0), false);
  add('empty', Buffer.alloc(0));
  return out;
}

/** Runs the CLI in this process; its exit code and what it wrote to stderr and stdout. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
    process.stdout.write = writeOut;
  }
}

/** Exit 2; exactly one error line, naming the file (info lines about the model and device may precede it); nothing written. */
function checkRefused(what: string, r: { code: number; stderr: string }, file: string, outputs: string[]): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  const errors = r.stderr.split('\n').filter((l) => /error|warning/i.test(l));
  assert.equal(errors.length, 1, `${what}: ${errors.length} error lines\n${r.stderr}`);
  assert.ok(errors[0]!.includes(file), `${what}: the line does not name ${file}: ${errors[0]}`);
  assert.match(errors[0]!, /^lungtumor \w+: error: /, what);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at |\.cpp:\d+/, what);
  for (const o of outputs) assert.ok(!existsSync(o) || readdirSync(o).length === 0, `${what}: ${o} was written`);
}

test('fuzz: 100+ malformed NIfTI files through the reader and predict / evaluate / submit / train', { timeout: 600_000 }, async (t) => {
  const dir = tempDir(t);
  const rng = new Rng(2026);
  const real = realDataDir();
  const realBase = real ? realScan(real) : null;
  const files = [...mutations('syn', syntheticScan(dir), rng), ...(realBase ? mutations('real', realBase, rng) : [])];
  const names = new Set(files.map((f) => f.name));
  assert.equal(names.size, files.length, 'mutation names are distinct');
  const contents = new Set(files.map((f) => f.bytes.toString('base64')));
  assert.ok(contents.size >= 100, `only ${contents.size} distinct malformed files`);
  t.diagnostic(`${files.length} malformed files (${contents.size} distinct), ${realBase ? 'synthetic and real' : 'synthetic only: no real data'} headers`);

  // A model to predict with, and a valid mask on DIMS for the truth side of evaluate.
  const cohort = join(dir, 'cohort');
  await writeCohort(cohort, { cases: 2, seed: 4, size: 'small' });
  const model = join(dir, 'model');
  const trained = runCli(['train', '--data', cohort, '--model', model, '--config', 'fast', '--quiet']);
  assert.equal(trained.status, 0, trained.stderr);
  const truth = join(dir, 'truth');
  mkdirSync(truth);
  const spacing: Vec3 = [0.7, 0.7, 2.5];
  writeNifti(join(truth, 'CASE_seg.nii.gz'), { data: new Uint8Array(DIMS[0] * DIMS[1] * DIMS[2]), dims: DIMS, spacing, affine: identityAffine(spacing) });

  const mutated = join(dir, 'mutated');
  mkdirSync(mutated);
  for (const [k, f] of files.entries()) {
    const file = join(mutated, f.name);
    writeFileSync(file, f.bytes);
    assert.throws(() => readNifti(file), (err: unknown) => err instanceof InputError && err.message.includes(file), `${f.name} was read`);

    const gz = f.name.endsWith('.gz') ? '.nii.gz' : '.nii';
    const work = join(dir, `w${k}`);
    const out = join(work, 'out');
    checkRefused(`predict ${f.name}`, await cli(['predict', '--model', model, '--input', file, '--out', out, '--quiet']), file, [out]);

    const masks = join(work, 'masks');
    mkdirSync(masks, { recursive: true });
    const asMask = join(masks, `CASE_seg${gz}`);
    copyFileSync(file, asMask);
    checkRefused(`submit ${f.name}`, await cli(['submit', '--masks', masks, '--out', join(out, 'sub.csv')]), asMask, [out]);
    checkRefused(`evaluate ${f.name}`, await cli(['evaluate', '--pred', masks, '--truth', truth, '--json', join(out, 'e.json')]), asMask, [out]);

    const data = join(work, 'data', 'train');
    mkdirSync(join(data, 'volume'), { recursive: true });
    mkdirSync(join(data, 'seg'), { recursive: true });
    const asScan = join(data, 'volume', `CASE_vol${gz}`);
    copyFileSync(file, asScan);
    copyFileSync(join(truth, 'CASE_seg.nii.gz'), join(data, 'seg', 'CASE_seg.nii.gz'));
    const modelOut = join(work, 'model');
    checkRefused(`train ${f.name}`, await cli(['train', '--data', join(work, 'data'), '--model', modelOut, '--config', 'fast', '--quiet', '--workers', '0']), asScan, [modelOut]);
    assert.deepEqual(readdirSync(work).filter((n) => n.includes('model')), [], `train ${f.name}: a temporary model folder is left`);
  }

  // The same as processes (exit status, nothing else on stderr), for a seeded sample.
  for (let k = 0; k < 6; k++) {
    const f = files[rng.int(0, files.length - 1)]!;
    const file = join(mutated, f.name);
    const out = join(dir, `p${k}`);
    const r = runCli(['predict', '--model', model, '--input', file, '--out', out, '--quiet']);
    checkRefused(`predict process ${f.name}`, { code: r.status ?? -1, stderr: r.stderr }, file, [out]);
  }
});
