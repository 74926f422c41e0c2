/**
 * The pipeline end to end on small synthetic cohorts: train (fast config) -> predict -> evaluate,
 * reproducibility, and the faults a user can hit.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, startCli, tempDir } from './helpers.js';
import { generateCase, writeCohort } from '../src/synth/index.js';
import { readNifti, writeNifti } from '../src/io/nifti.js';
import { readManifest } from '../src/pipeline/model-folder.js';
import { boundingBox } from '../src/core/morphology.js';
import { applyAffine } from '../src/geometry/affine.js';
import type { Mat4, Vec3 } from '../src/core/volume.js';

const modelFiles = (dir: string): string[] => readdirSync(dir).sort();

test('train -> predict -> evaluate on a small synthetic cohort; same seed gives byte-identical models and masks', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'train');
  await writeCohort(data, { cases: 6, seed: 3, size: 'small' });
  const a = join(dir, 'model-a');
  const b = join(dir, 'model-b');
  const ra = runCli(['train', '--data', data, '--model', a, '--seed', '5', '--config', 'fast', '--quiet']);
  assert.equal(ra.status, 0, ra.stderr);
  // A second training in the main thread (no workers) must give the same bytes.
  const rb = runCli(['train', '--data', data, '--model', b, '--seed', '5', '--config', 'fast', '--quiet', '--workers', '0']);
  assert.equal(rb.status, 0, rb.stderr);
  assert.deepEqual(modelFiles(a), modelFiles(b));
  for (const f of modelFiles(a)) {
    if (f === 'training_log.json') continue;
    assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between two trainings with the same seed`);
  }
  // ... and so must training from the rows 'lungtumor features' cached.
  const cache = join(dir, 'features');
  const fc = runCli(['features', '--data', data, '--out', cache, '--seed', '5', '--config', 'fast', '--quiet']);
  assert.equal(fc.status, 0, fc.stderr);
  const c = join(dir, 'model-c');
  const rc = runCli(['train', '--data', data, '--model', c, '--seed', '5', '--config', 'fast', '--quiet', '--cache', cache]);
  assert.equal(rc.status, 0, rc.stderr);
  assert.match(rc.stderr, /6 of 6 cases reused/);
  for (const f of modelFiles(a)) {
    if (f === 'training_log.json') continue;
    assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(c, f))), `${f} differs when training from cached features`);
  }
  const manifest = JSON.parse(readFileSync(join(a, 'model.json'), 'utf8'));
  assert.deepEqual([...manifest.caseOrder].sort(), ['SYN-0001', 'SYN-0002', 'SYN-0003', 'SYN-0004', 'SYN-0005', 'SYN-0006']);
  assert.equal(manifest.seed, 5);
  assert.equal(manifest.caseWeights, undefined);
  // A weighted folder: recorded in the manifest, and it changes what is learnt (twice the refiner's ROIs, repeated candidates).
  const w = join(dir, 'model-w');
  const rw = runCli(['train', '--data', data, '--weight', `${data}=2`, '--model', w, '--seed', '5', '--config', 'fast', '--quiet']);
  assert.equal(rw.status, 0, rw.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(w, 'model.json'), 'utf8')).caseWeights, Object.fromEntries(manifest.caseOrder.map((id: string) => [id, 2])));
  for (const f of ['candidate_classifier.json', 'refiner.weights.bin']) assert.ok(!readFileSync(join(a, f)).equals(readFileSync(join(w, f))), `${f} is the same with weight 2`);
  assert.equal(readManifest(w).caseWeights?.['SYN-0001'], 2);
  const badWeights = join(dir, 'model-bad-weights');
  mkdirSync(badWeights);
  writeFileSync(join(badWeights, 'model.json'), JSON.stringify({ ...manifest, caseWeights: { 'SYN-0001': 0 } }));
  assert.throws(() => readManifest(badWeights), /not a lungtumor model manifest/);

  // In-sample: the pipeline must find and outline the tumours it was trained on.
  const pred = join(dir, 'pred');
  const p1 = runCli(['predict', '--model', a, '--input', data, '--out', pred, '--submission', join(dir, 'sub.csv'), '--quiet']);
  assert.equal(p1.status, 0, p1.stderr);
  const ev = runCli(['evaluate', '--pred', pred, '--truth', join(data, 'train', 'seg'), '--json', join(dir, 'eval.json')]);
  assert.equal(ev.status, 0, ev.stderr);
  const result = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8'));
  assert.equal(result.cases.length, 6);
  assert.ok(result.mean_dice >= 0.4, `mean in-sample Dice ${result.mean_dice}`);
  const csv = readFileSync(join(dir, 'sub.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 7);
  assert.equal(csv[0], 'id,rle,recist,volume,data_shape');

  // Predicting again gives the same masks, byte for byte.
  const pred2 = join(dir, 'pred2');
  assert.equal(runCli(['predict', '--model', a, '--input', data, '--out', pred2, '--quiet']).status, 0);
  for (const f of readdirSync(pred).filter((n) => n.endsWith('.nii.gz'))) {
    assert.ok(readFileSync(join(pred, f)).equals(readFileSync(join(pred2, f))), `${f} differs between two predictions`);
  }
  // The voxel order a scan is stored in changes nothing: SYN-0001 stored with x and y swapped and z
  // reversed (the same world geometry) gets the same mask, in its own order and with its own header.
  const src = readNifti(join(data, 'train', 'volume', 'SYN-0001_vol.nii.gz'));
  const [n0, n1, n2] = src.dims;
  const swapped = new Int16Array(src.data.length);
  for (let k = 0, o = 0; k < n2; k++) for (let j = 0; j < n0; j++) for (let i = 0; i < n1; i++, o++) swapped[o] = src.data[j + n0 * (i + n1 * (n2 - 1 - k))]!;
  const swappedAffine = src.affine.map((r, a) => (a < 3 ? [r[1], r[0], -r[2], r[3] + (n2 - 1) * r[2]] : [...r])) as Mat4;
  const swappedDir = join(dir, 'swapped');
  mkdirSync(swappedDir);
  writeNifti(join(swappedDir, 'SYN-0001_vol.nii.gz'), { data: swapped, dims: [n1, n0, n2], spacing: [src.spacing[1], src.spacing[0], src.spacing[2]], affine: swappedAffine });
  const swappedOut = join(dir, 'swapped-out');
  assert.equal(runCli(['predict', '--model', a, '--input', swappedDir, '--out', swappedOut, '--quiet']).status, 0);
  const swappedMask = readNifti(join(swappedOut, 'SYN-0001_seg.nii.gz'));
  assert.deepEqual(swappedMask.dims, [n1, n0, n2]);
  assert.deepEqual(swappedMask.affine, swappedAffine);
  const original = readNifti(join(pred, 'SYN-0001_seg.nii.gz')).data;
  let tumourVoxels = 0;
  let differ = 0;
  for (let z = 0, o = 0; z < n2; z++) for (let y = 0; y < n1; y++) for (let x = 0; x < n0; x++, o++) {
    tumourVoxels += original[o]!;
    if (swappedMask.data[y + n1 * (x + n0 * (n2 - 1 - z))] !== original[o]) differ++;
  }
  assert.ok(tumourVoxels > 0, 'SYN-0001 has a predicted tumour');
  assert.equal(differ, 0, `${differ} voxels differ (the mask holds ${tumourVoxels}) when the scan is stored in another voxel order`);
  // Scans are read one ahead: a truncated scan between two good ones fails in its own turn, and the
  // scans around it get the same masks as before.
  const mixed = join(dir, 'mixed');
  mkdirSync(mixed);
  for (const id of ['SYN-0001', 'SYN-0003']) copyFileSync(join(data, 'train', 'volume', `${id}_vol.nii.gz`), join(mixed, `${id}_vol.nii.gz`));
  const whole = readFileSync(join(data, 'train', 'volume', 'SYN-0002_vol.nii.gz'));
  writeFileSync(join(mixed, 'SYN-0002_vol.nii.gz'), whole.subarray(0, whole.length >> 1));
  const predMixed = join(dir, 'pred-mixed');
  const pm = runCli(['predict', '--model', a, '--input', mixed, '--out', predMixed, '--quiet']);
  assert.equal(pm.status, 2, pm.stderr);
  assert.match(pm.stderr, /SYN-0002_vol\.nii\.gz: corrupt or truncated gzip data/);
  assert.deepEqual(readdirSync(predMixed).filter((n) => n.endsWith('.nii.gz')).sort(), ['SYN-0001_seg.nii.gz', 'SYN-0003_seg.nii.gz']);
  for (const f of ['SYN-0001_seg.nii.gz', 'SYN-0003_seg.nii.gz']) {
    assert.ok(readFileSync(join(pred, f)).equals(readFileSync(join(predMixed, f))), `${f} differs beside a bad scan`);
  }
  const log = JSON.parse(readFileSync(join(pred, 'prediction_log.json'), 'utf8'));
  assert.equal(log.cases.length, 6);
  for (const c of log.cases) assert.ok(c.seconds.total > 0 && c.peak_rss_mb > 0);

  // Faults: a crop around the tumour (lungs not whole) still gets a mask, with a warning.
  const syn = generateCase(3, 0, { size: 'small' });
  const box = boundingBox(syn.tumour, syn.ct.dims)!;
  const lo: Vec3 = [0, 1, 2].map((k) => Math.max(0, box.min[k]! - 4)) as Vec3;
  const hi: Vec3 = [0, 1, 2].map((k) => Math.min(syn.ct.dims[k]! - 1, box.max[k]! + 4)) as Vec3;
  const cd: Vec3 = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
  const crop = new Int16Array(cd[0] * cd[1] * cd[2]);
  let o = 0;
  for (let z = lo[2]; z <= hi[2]; z++) for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) {
    crop[o++] = syn.ct.data[x + syn.ct.dims[0] * (y + syn.ct.dims[1] * z)]!;
  }
  const origin = applyAffine(syn.ct.affine, lo);
  const affine = syn.ct.affine.map((r, i) => (i < 3 ? [r[0], r[1], r[2], origin[i]!] : [...r])) as Mat4;
  const cropDir = join(dir, 'crop');
  mkdirSync(cropDir);
  writeNifti(join(cropDir, 'CROP-1_vol.nii.gz'), { data: crop, dims: cd, spacing: syn.ct.spacing, affine });
  // ... and a broken file beside it is named at the end, without stopping the others.
  writeFileSync(join(cropDir, 'BAD-1_vol.nii.gz'), 'not a scan');
  const cropOut = join(dir, 'crop-out');
  const pc = runCli(['predict', '--model', a, '--input', cropDir, '--out', cropOut, '--quiet']);
  assert.equal(pc.status, 2, pc.stderr);
  assert.match(pc.stderr, /lungtumor predict: error: .*BAD-1_vol\.nii\.gz: not a NIfTI file/);
  assert.ok(existsSync(join(cropOut, 'CROP-1_seg.nii.gz')));
  assert.ok(!existsSync(join(cropOut, 'BAD-1_seg.nii.gz')));
  const cropLog = JSON.parse(readFileSync(join(cropOut, 'prediction_log.json'), 'utf8'));
  // Either the lung air left in the crop is found in crop mode, or the whole crop is searched.
  const cropWarnings: string[] = cropLog.cases[0].warnings;
  assert.ok(cropWarnings.some((w) => /the scan may be a crop/.test(w)), cropWarnings.join('; '));
  assert.ok(cropWarnings.some((w) => (cropLog.cases[0].lungs_found ? /crop mode/ : /whole scan was searched/).test(w)), cropWarnings.join('; '));
  assert.ok(cropLog.cases[0].volume_ml > 0, 'the crop still gets a tumour mask');
});

test('an interrupted train exits 130 and leaves no model, no temporary model folder and no feature rows', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'cohort');
  await writeCohort(data, { cases: 3, seed: 9, size: 'small' });
  const model = join(dir, 'model');
  const child = startCli(['train', '--data', data, '--model', model, '--config', 'fast', '--quiet']);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const rowsFolders = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith(`lungtumor-features-${child.pid}-`));
  // Training holds its feature rows in a temporary folder from its start.
  for (let i = 0; i < 1200 && rowsFolders().length === 0; i++) await sleep(25);
  assert.equal(rowsFolders().length, 1, 'no feature rows folder appeared');
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.deepEqual(rowsFolders(), []);
  assert.ok(!existsSync(model));
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('model')), []);
});

test('train on a cohort with a bad mask: one line, exit 2, no model folder and no temporary left', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'cohort');
  await writeCohort(data, { cases: 2, seed: 9, size: 'small' });
  // A mask from another case has another grid.
  const segs = join(data, 'train', 'seg');
  const other = generateCase(9, 5, { size: 'small' });
  writeNifti(join(segs, 'SYN-0002_seg.nii.gz'), { data: other.tumour, dims: other.ct.dims, spacing: other.ct.spacing, affine: other.ct.affine });
  const model = join(dir, 'model');
  const r = runCli(['train', '--data', data, '--model', model, '--config', 'fast', '--quiet']);
  assert.equal(r.status, 2, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('lungtumor'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /SYN-0002_seg\.nii\.gz/);
  assert.ok(!existsSync(model));
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('model')), []);
  // A missing model folder at prediction is one line too.
  copyFileSync(join(data, 'train', 'volume', 'SYN-0001_vol.nii.gz'), join(dir, 'scan.nii.gz'));
  const p = runCli(['predict', '--model', model, '--input', join(dir, 'scan.nii.gz'), '--out', join(dir, 'out')]);
  assert.equal(p.status, 2);
  assert.match(p.stderr, /model folder not found/);
  assert.ok(!existsSync(join(dir, 'out')));
});
