/**
 * DICOM CT input: the real series give the NIfTI route's voxels and affine; written series round
 * trip; each way a series can be broken is one error line, exit 2, no output.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { dicomDataDir, repoRoot, runCli, tempDir } from './helpers.js';
import { writeDicomSeries, type SeriesOptions } from './dicom-writer.js';
import { findDicomSeries, readDicomSeries } from '../src/io/dicom.js';
import { listScanInputs } from '../src/io/scans.js';
import { readNifti } from '../src/io/nifti.js';
import { readMaskFor } from '../src/io/masks.js';
import { dicomSegOf, rtStructOf } from '../src/io/dicom-out.js';
import { generateCase, writeCohort } from '../src/synth/index.js';
import { InputError } from '../src/core/errors.js';
import type { Volume } from '../src/core/volume.js';

const dicomDir = dicomDataDir();
const realDir = resolve(repoRoot, '..', 'shared', 'data', 'real', 'train', 'volume');

function maxAffineDiff(a: Volume, b: Volume): number {
  let d = 0;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) d = Math.max(d, Math.abs(a.affine[r]![c]! - b.affine[r]![c]!));
  return d;
}

function sameVoxels(a: Volume, b: Volume): boolean {
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

test('the shared DICOM series give the voxels and affine of their NIfTI files', { skip: dicomDir ? false : '../shared/data/dicom is absent' }, () => {
  const series = findDicomSeries(dicomDir!);
  // The RTSTRUCTs beside the CT series are passed over.
  assert.deepEqual(series.map((s) => [s.id, s.files.length]), [['LUNG1-001', 134], ['RADPHANTOM-1', 60], ['RADPHANTOM-2', 41]]);
  for (const s of series) {
    const fromDicom = readDicomSeries(s);
    const fromNifti = readNifti(join(realDir, `${s.id}_vol.nii.gz`));
    assert.deepEqual(fromDicom.dims, fromNifti.dims, s.id);
    assert.ok(maxAffineDiff(fromDicom, fromNifti) <= 1e-3, `${s.id}: affine differs by ${maxAffineDiff(fromDicom, fromNifti)} mm`);
    assert.ok(sameVoxels(fromDicom, fromNifti), `${s.id}: voxels differ`);
  }
});

test('predict on a DICOM folder writes the masks it writes for the NIfTI files of the same scans', { skip: dicomDir ? false : '../shared/data/dicom is absent' }, async (t) => {
  const dir = tempDir(t);
  await writeCohort(join(dir, 'cohort'), { cases: 4, seed: 8, size: 'small' });
  const model = join(dir, 'model');
  assert.equal(runCli(['train', '--data', join(dir, 'cohort'), '--model', model, '--config', 'fast', '--quiet']).status, 0);
  const nifti = join(dir, 'nifti');
  mkdirSync(nifti);
  copyFileSync(join(realDir, 'RADPHANTOM-1_vol.nii.gz'), join(nifti, 'RADPHANTOM-1_vol.nii.gz'));
  const a = runCli(['predict', '--model', model, '--input', join(dicomDir!, 'RADPHANTOM-1'), '--out', join(dir, 'a'), '--quiet']);
  assert.equal(a.status, 0, a.stderr);
  const d = runCli(['predict', '--model', model, '--input', dicomDir!, '--out', join(dir, 'dicom'), '--quiet', '--shard', '2/2']);
  assert.equal(d.status, 0, d.stderr);
  const n = runCli(['predict', '--model', model, '--input', nifti, '--out', join(dir, 'nii'), '--quiet']);
  assert.equal(n.status, 0, n.stderr);
  // Part 2 of 2 of the three series (LUNG1-001, RADPHANTOM-1, RADPHANTOM-2) is RADPHANTOM-1.
  assert.deepEqual(readdirSync(join(dir, 'dicom')).sort(), ['RADPHANTOM-1_seg.nii.gz', 'prediction_log.2-of-2.json']);
  for (const out of ['a', 'dicom']) {
    const fromDicom = readNifti(join(dir, out, 'RADPHANTOM-1_seg.nii.gz'));
    const fromNifti = readNifti(join(dir, 'nii', 'RADPHANTOM-1_seg.nii.gz'));
    assert.ok(sameVoxels(fromDicom, fromNifti), `${out}: the masks differ`);
    assert.ok(maxAffineDiff(fromDicom, fromNifti) <= 1e-3);
  }
});

/** A small synthetic CT (HU) on an axial grid, as lungtumor's NIfTI of a DICOM series would be. */
function smallCt(): Volume {
  const syn = generateCase(5, 0, { size: 'small' });
  return syn.ct;
}

test('a written DICOM series reads back with its voxels and affine, whatever the file order and encoding', (t) => {
  const dir = tempDir(t);
  const ct = smallCt();
  // NIfTI of DICOM: x towards patient left, y posterior (RAS diagonal −, −, +).
  const lps: Volume = { ...ct, affine: [[-ct.spacing[0], 0, 0, 120.5], [0, -ct.spacing[1], 0, 80.25], [0, 0, ct.spacing[2], -300], [0, 0, 0, 1]] };
  for (const [name, opts] of [
    ['explicit', {}],
    ['implicit', { implicitVr: true }],
    ['reversed-names', { name: (z: number) => `slice-${String(1000 - z).padStart(4, '0')}.dcm` }],
  ] as [string, SeriesOptions][]) {
    writeDicomSeries(join(dir, name), lps, opts);
    const inputs = listScanInputs(join(dir, name));
    assert.equal(inputs.length, 1);
    assert.equal(inputs[0]!.id, name);
    const back = inputs[0]!.read().volume;
    assert.deepEqual(back.dims, lps.dims);
    assert.ok(maxAffineDiff(back, lps) < 1e-4, `${name}: affine differs by ${maxAffineDiff(back, lps)}`);
    assert.ok(sameVoxels(back, lps), `${name}: voxels differ`);
  }
  // A fractional rescale gives float HU.
  writeDicomSeries(join(dir, 'scaled'), lps, { slope: 0.5, intercept: -1024.25 });
  const scaled = listScanInputs(join(dir, 'scaled'))[0]!.read().volume;
  assert.ok(scaled.data instanceof Float32Array);
  let worst = 0;
  for (let i = 0; i < lps.data.length; i++) worst = Math.max(worst, Math.abs(scaled.data[i]! - lps.data[i]!));
  assert.ok(worst <= 0.25 + 1e-6, `HU off by ${worst}`);
  // Two series under one folder are two cases, told apart by series number.
  writeDicomSeries(join(dir, 'two', 'a'), lps, { seriesUid: '1.2.3.1' });
  writeDicomSeries(join(dir, 'two', 'b'), lps, { seriesUid: '1.2.3.2', modality: 'MR' });
  writeDicomSeries(join(dir, 'two', 'c'), lps, { seriesUid: '1.2.3.3' });
  assert.deepEqual(listScanInputs(join(dir, 'two')).map((s) => s.id), ['a', 'c']);
});

test('broken DICOM series: one error line naming the file or folder, exit 2, no output', async (t) => {
  const dir = tempDir(t);
  await writeCohort(join(dir, 'cohort'), { cases: 3, seed: 8, size: 'small' });
  const model = join(dir, 'model');
  assert.equal(runCli(['train', '--data', join(dir, 'cohort'), '--model', model, '--config', 'fast', '--quiet']).status, 0);
  const ct = smallCt();
  const broken: [string, SeriesOptions | ((d: string) => void), RegExp][] = [
    ['gap', { skip: [5] }, /mm between .* where the other slices are .* apart \(1 slice missing\?\)/],
    ['tilt', { shift: (z) => [0, 0.4 * z, 0] }, /not stacked along their normal .*gantry tilt/],
    ['two-orientations', { sliceOrientation: (z) => (z === 3 ? [[0.9950042, 0.0998334, 0], [-0.0998334, 0.9950042, 0]] : null) }, /two orientations in one series/],
    ['no-pixels', { noPixels: [2] }, /no pixel data \(7FE0,0010\)/],
    ['compressed', { transferSyntax: '1.2.840.10008.1.2.4.70' }, /compressed pixel data \(JPEG Lossless SV1 1\.2\.840\.10008\.1\.2\.4\.70\) is not supported/],
    ['truncated', (d) => {
      const files = writeDicomSeries(d, ct);
      truncateSync(files[4]!, statSync(files[4]!).size - 1000);
    }, /pixel data holds \d+ bytes, \d+ expected: truncated\?|not a readable DICOM file/],
    ['not-dicom', (d) => {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'IM0001.dcm'), 'this is not DICOM');
    }, /no \.nii or \.nii\.gz scans and no DICOM CT series in this folder/],
  ];
  for (const [name, make, message] of broken) {
    const series = join(dir, 'broken', name);
    if (typeof make === 'function') make(series);
    else writeDicomSeries(series, ct, make);
    const out = join(dir, 'out', name);
    const r = runCli(['predict', '--model', model, '--input', series, '--out', out, '--quiet']);
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('lungtumor'));
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    assert.match(lines[0]!, message, name);
    assert.ok(lines[0]!.includes(series), `${name}: the line does not name ${series}: ${lines[0]}`);
    assert.ok(!r.stderr.includes('    at '), `${name}: a stack trace`);
    assert.ok(!existsSync(out), `${name}: output written`);
  }
  // One DICOM file instead of its folder.
  const one = join(dir, 'broken', 'gap', readdirSync(join(dir, 'broken', 'gap'))[0]!);
  const r = runCli(['predict', '--model', model, '--input', one, '--out', join(dir, 'out', 'one')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /one DICOM file: give the folder of its series/);
  assert.throws(() => findDicomSeries(join(dir, 'nowhere')), InputError);
  rmSync(join(dir, 'broken'), { recursive: true, force: true });
});

test('train on DICOM CT + RTSTRUCT writes the model that training on their NIfTI conversions writes', { skip: dicomDir ? false : '../shared/data/dicom is absent' }, (t) => {
  const dir = tempDir(t);
  // The shared RTSTRUCTs' GTV-1, rasterised, is exactly the shared tumour mask.
  const nifti = join(dir, 'nifti', 'train');
  for (const sub of ['volume', 'seg']) mkdirSync(join(nifti, sub), { recursive: true });
  for (const id of ['LUNG1-001', 'RADPHANTOM-1', 'RADPHANTOM-2']) {
    copyFileSync(join(realDir, `${id}_vol.nii.gz`), join(nifti, 'volume', `${id}_vol.nii.gz`));
    copyFileSync(join(realDir, '..', 'seg', `${id}_seg.nii.gz`), join(nifti, 'seg', `${id}_seg.nii.gz`));
    const ct = readNifti(join(realDir, `${id}_vol.nii.gz`));
    const rtDir = join(dicomDir!, id, 'rtstruct');
    const rt = join(rtDir, readdirSync(rtDir)[0]!);
    const truth = readNifti(join(realDir, '..', 'seg', `${id}_seg.nii.gz`));
    const mask = readMaskFor(rt, ct);
    let differ = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i] !== (truth.data[i] ? 1 : 0)) differ++;
    assert.equal(differ, 0, `${id}: the rasterised GTV-1 differs from the shared mask in ${differ} voxels`);
  }
  const fromDicom = runCli(['train', '--data', dicomDir!, '--model', join(dir, 'model-dicom'), '--config', 'fast', '--quiet']);
  assert.equal(fromDicom.status, 0, fromDicom.stderr);
  assert.match(fromDicom.stderr, /LUNG1-001: tumour = ROI 'GTV-1' of /);
  const fromNifti = runCli(['train', '--data', join(dir, 'nifti'), '--model', join(dir, 'model-nifti'), '--config', 'fast', '--quiet']);
  assert.equal(fromNifti.status, 0, fromNifti.stderr);
  for (const f of readdirSync(join(dir, 'model-nifti'))) {
    if (f === 'training_log.json') continue;
    assert.ok(readFileSync(join(dir, 'model-dicom', f)).equals(readFileSync(join(dir, 'model-nifti', f))), `${f} differs`);
  }
  // Implants into the DICOM cohort are those into its NIfTI files (the crops take none).
  for (const [from, to] of [[dicomDir!, 'imp-dicom'], [join(dir, 'nifti'), 'imp-nifti']] as const) {
    const r = runCli(['synth', '--into', from, '--out', join(dir, to), '--per-scan', '1', '--seed', '3', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal(readFileSync(join(dir, 'imp-dicom', 'train', 'metadata.csv'), 'utf8'), readFileSync(join(dir, 'imp-nifti', 'train', 'metadata.csv'), 'utf8'));
  for (const f of ['volume/LUNG1-001-IMP1_vol.nii.gz', 'seg/LUNG1-001-IMP1_seg.nii.gz']) {
    assert.ok(sameVoxels(readNifti(join(dir, 'imp-dicom', 'train', f)), readNifti(join(dir, 'imp-nifti', 'train', f))), `${f} differs`);
  }
  const noRoi = runCli(['train', '--data', dicomDir!, '--model', join(dir, 'model-x'), '--config', 'fast', '--roi', 'Heart', '--quiet']);
  assert.equal(noRoi.status, 2);
  assert.match(noRoi.stderr, /no ROI named 'Heart' with contours \(ROIs: 'GTV-1', 'Spinal-Cord', 'Lung-Left', 'Lung-Right'\)/);
  assert.ok(!existsSync(join(dir, 'model-x')));
});

test('a DICOM cohort whose CT series has no RTSTRUCT is refused for training, in one line', (t) => {
  const dir = tempDir(t);
  writeDicomSeries(join(dir, 'cohort', 'P1', 'ct'), smallCt(), { seriesUid: '1.2.3.1' });
  writeDicomSeries(join(dir, 'cohort', 'P2', 'ct'), smallCt(), { seriesUid: '1.2.3.2' });
  const r = runCli(['train', '--data', join(dir, 'cohort'), '--model', join(dir, 'model'), '--config', 'fast', '--quiet']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /P1[/\\]ct: no RTSTRUCT references this CT series/);
  assert.ok(!existsSync(join(dir, 'model')));
});

const PY = '/usr/bin/python3';
const hasPydicom = (): boolean => spawnSync(PY, ['-c', 'import pydicom, numpy'], { encoding: 'utf8' }).status === 0;

test('predict --format dicom-seg --format rtstruct: pydicom reads back the predicted mask exactly', { skip: !dicomDir ? '../shared/data/dicom is absent' : !hasPydicom() && 'pydicom (Debian python3-pydicom) not available' }, async (t) => {
  const dir = tempDir(t);
  await writeCohort(join(dir, 'cohort'), { cases: 4, seed: 8, size: 'small' });
  const model = join(dir, 'model');
  assert.equal(runCli(['train', '--data', join(dir, 'cohort'), '--model', model, '--config', 'fast', '--quiet']).status, 0);
  const out = join(dir, 'out');
  const r = runCli(['predict', '--model', model, '--input', dicomDir!, '--out', out, '--format', 'nifti', '--format', 'dicom-seg', '--format', 'rtstruct', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  for (const id of ['LUNG1-001', 'RADPHANTOM-1', 'RADPHANTOM-2']) {
    const mask = readNifti(join(out, `${id}_seg.nii.gz`)).data;
    let voxels = 0;
    for (let i = 0; i < mask.length; i++) voxels += mask[i]!;
    const prefix = join(dir, id);
    const py = spawnSync(PY, [join(repoRoot, 'tests', 'pydicom_readback.py'), join(dicomDir!, id, 'ct'), join(out, `${id}_seg.dcm`), join(out, `${id}_rtstruct.dcm`), prefix], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const info = JSON.parse(readFileSync(`${prefix}.json`, 'utf8'));
    assert.equal(info.study, true);
    assert.equal(info.patient, id === 'LUNG1-001' ? 'LUNG1-001' : id.slice(-1));
    for (const kind of ['seg', 'rtstruct']) {
      const back = readFileSync(`${prefix}.${kind}.bin`);
      assert.equal(back.length, mask.length);
      let differ = 0;
      for (let i = 0; i < mask.length; i++) if (back[i] !== mask[i]) differ++;
      assert.equal(differ, 0, `${id}: the ${kind} read back differs from the mask in ${differ} of its ${voxels} voxels`);
    }
    // Our own reader takes our RTSTRUCT back too (its ROI is a GTV), as the tumour of a DICOM cohort.
    const ct = readNifti(join(realDir, `${id}_vol.nii.gz`));
    const ours = readMaskFor(join(out, `${id}_rtstruct.dcm`), ct);
    assert.ok(ours.every((v, i) => v === mask[i]), `${id}: readMaskFor of our RTSTRUCT differs`);
  }
  // The DICOM formats need DICOM input.
  const nifti = runCli(['predict', '--model', model, '--input', join(realDir, 'RADPHANTOM-2_vol.nii.gz'), '--out', join(dir, 'x'), '--format', 'dicom-seg']);
  assert.equal(nifti.status, 2);
  assert.match(nifti.stderr, /RADPHANTOM-2_vol\.nii\.gz: --format dicom-seg needs DICOM CT series as input/);
  assert.ok(!existsSync(join(dir, 'x')));
});

test('RTSTRUCT contours along pixel edges give back any mask exactly: holes, diagonal touches, the image border', (t) => {
  const dir = tempDir(t);
  const [nx, ny, nz] = [9, 7, 4];
  const mask = new Uint8Array(nx * ny * nz);
  const set = (x: number, y: number, z: number): void => { mask[x + nx * (y + ny * z)] = 1; };
  for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) if ((x + y) % 2 === 0) set(x, y, 0); // checkerboard: every pixel touches others only at corners
  for (let y = 1; y < 6; y++) for (let x = 1; x < 8; x++) if (!(y === 3 && x >= 3 && x <= 5)) set(x, y, 1); // a ring around a hole
  set(4, 3, 1); // an island inside the hole
  set(0, 0, 2); set(8, 6, 2); set(1, 1, 2); set(7, 5, 2); // corners of the image and diagonal pairs
  // slice 3 stays empty
  const ct: Volume = { data: new Int16Array(nx * ny * nz), dims: [nx, ny, nz], spacing: [0.8, 0.7, 2.5], affine: [[-0.8, 0, 0, 10], [0, -0.7, 0, 20], [0, 0, 2.5, -30], [0, 0, 0, 1]] };
  const source = {
    seriesUid: '1.2.3.4', studyUid: '1.2.3.5', frameOfReferenceUid: '1.2.3.6', attributes: { PatientID: 'P' },
    slices: Array.from({ length: nz }, (_, z) => ({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: `1.2.3.7.${z}`, positionLps: [-10, -20, -30 + 2.5 * z] as [number, number, number] })),
    orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.7, 0.8] as [number, number], sliceSpacingMm: 2.5,
  };
  const path = join(dir, 'rt.dcm');
  writeFileSync(path, rtStructOf(mask, ct.dims, source, { name: 'lungtumor', version: 'test' }));
  const back = readMaskFor(path, ct);
  const differ = [...back].filter((v, i) => v !== mask[i]).length;
  assert.equal(differ, 0, `${differ} voxels differ`);
  const seg = dicomSegOf(mask, ct.dims, source, { name: 'lungtumor', version: 'test' });
  assert.equal(Buffer.from(seg.subarray(128, 132)).toString('latin1'), 'DICM');
});
