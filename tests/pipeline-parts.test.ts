import test from 'node:test';
import assert from 'node:assert/strict';
import { roiAroundBox, sampleIntoRoi, projectFromRoiBox, roiFootprint } from '../src/pipeline/roi.js';
import { findCandidates, candidateLabel, cropCentrality, CANDIDATE_FEATURES, symmetricEigenvalues3 } from '../src/candidates/candidates.js';
import { selectFeatureColumns } from '../src/pipeline/voxels.js';
import { cleanupTumour, cutThinAttachments, partialVolumeFloorHu, NECK_CUT } from '../src/pipeline/cleanup.js';
import { planFromFingerprint, percentiles, validatePlans, workingSpacingFor } from '../src/pipeline/plans.js';
import { zeroNearEdges } from '../src/pipeline/predict.js';
import { featureCacheKey } from '../src/pipeline/feature-cache.js';
import type { Plans } from '../src/pipeline/plans.js';
import { copyFileSync, cpSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { invertAffine, multiplyAffine } from '../src/geometry/affine.js';
import type { Mat4, Vec3 } from '../src/core/volume.js';
import { labelComponents, selectComponents } from '../src/core/morphology.js';

const idx = (d: Vec3, x: number, y: number, z: number): number => x + d[0] * (y + d[1] * z);

function ball(d: Vec3, c: Vec3, r: number, sp: Vec3 = [1, 1, 1]): Uint8Array {
  const m = new Uint8Array(d[0] * d[1] * d[2]);
  for (let z = 0; z < d[2]; z++) for (let y = 0; y < d[1]; y++) for (let x = 0; x < d[0]; x++) {
    if (Math.hypot((x - c[0]) * sp[0], (y - c[1]) * sp[1], (z - c[2]) * sp[2]) <= r) m[idx(d, x, y, z)] = 1;
  }
  return m;
}

test('affine inverse and composition', () => {
  const a: Mat4 = [[-0.7, 0.1, 0, 12], [0.05, -0.7, 0.02, -30], [0, 0.01, 2.5, 100], [0, 0, 0, 1]];
  const id = multiplyAffine(a, invertAffine(a));
  const eye = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(id[i]![j]! - eye[i]![j]!) < 1e-12);
});

test('ROI sampling then projection back reproduces a smooth field inside the ROI', () => {
  const dims: Vec3 = [40, 40, 20];
  const affine: Mat4 = [[1, 0, 0, -20], [0, 1, 0, -20], [0, 0, 2, -20], [0, 0, 0, 1]];
  const field = new Float32Array(40 * 40 * 20);
  for (let z = 0; z < 20; z++) for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) field[idx(dims, x, y, z)] = 0.1 * x + 0.2 * y + 0.3 * z;
  const roi = roiAroundBox({ dims, affine }, [15, 15, 8], [24, 24, 12], 24, 2, 10);
  assert.ok(Math.abs(roi.stepMm * 24 - 20) < 1e-9, 'cube is twice the box extent (10 voxels × 1 mm, 5 × 2 mm)');
  const inRoi = sampleIntoRoi(field, { dims, affine }, roi);
  const box = roiFootprint(roi, { dims, affine });
  assert.deepEqual(box, { min: [10, 10, 5], max: [29, 29, 15] });
  const back = projectFromRoiBox(inRoi, roi, { dims, affine }, box);
  const bd: Vec3 = [20, 20, 11];
  let worst = 0;
  for (let z = 1; z < bd[2] - 1; z++) for (let y = 1; y < bd[1] - 1; y++) for (let x = 1; x < bd[0] - 1; x++) {
    const v = back[idx(bd, x, y, z)]!;
    worst = Math.max(worst, Math.abs(v - field[idx(dims, x + 10, y + 10, z + 5)]!));
  }
  assert.ok(worst < 1e-4, `linear field survives the round trip (worst ${worst})`);
});

test('candidates: two balls become two candidates with sensible region features; labels follow the tumour', () => {
  const dims: Vec3 = [40, 30, 30];
  const sp: Vec3 = [1, 1, 1];
  const big = ball(dims, [12, 15, 15], 6);
  const small = ball(dims, [32, 15, 15], 2.5);
  const prob = new Float32Array(big.length);
  const hu = new Float32Array(big.length).fill(-850);
  for (let i = 0; i < prob.length; i++) {
    if (big[i]) { prob[i] = 0.9; hu[i] = 30; }
    if (small[i]) { prob[i] = 0.6; hu[i] = 10; }
  }
  const voxels = Int32Array.from([...prob.keys()].filter((i) => prob[i]! > 0));
  const rowOf = new Int32Array(prob.length).fill(-1);
  voxels.forEach((v, r) => { rowOf[v] = r; });
  const names = ['vesselness_s1mm', 'blobness_s4mm', 'dist_lung_wall_mm', 'dist_mediastinum_mm', 'pos_z_rel'];
  const rows = new Float32Array(voxels.length * names.length);
  voxels.forEach((v, r) => { rows.set([big[v] ? 0.1 : 0.8, big[v] ? 0.9 : 0.2, 10, 20, 0.5], r * names.length); });
  const cands = findCandidates(prob, hu, dims, sp, { names, rows, voxels }, rowOf, { probThreshold: 0.5, minVolumeMm3: 5, maxCandidates: 10 });
  assert.equal(cands.length, 2);
  const f = (c: number, name: string): number => cands[c]!.features[CANDIDATE_FEATURES.indexOf(name as never)]!;
  assert.equal(f(0, 'mass_rank'), 1);
  assert.ok(f(0, 'sphericity') > 0.6 && f(0, 'sphericity') <= 1.5, `sphericity ${f(0, 'sphericity')}`);
  assert.ok(f(0, 'elongation') > 0.8, 'a ball is round');
  assert.ok(Math.abs(f(0, 'vesselness_mean') - 0.1) < 1e-6 && Math.abs(f(1, 'vesselness_mean') - 0.8) < 1e-6);
  assert.ok(Math.abs(f(0, 'hu_mean') - 30) < 1e-6);
  assert.ok(Math.abs(f(0, 'prob_mass_fraction') + f(1, 'prob_mass_fraction') - 1) < 1e-9);
  const bigCount = big.reduce((s, v) => s + v, 0);
  assert.equal(candidateLabel(cands[0]!, big, bigCount), 1);
  assert.equal(candidateLabel(cands[1]!, big, bigCount), 0);
  // In a crop the big ball reaches the scan's centre; the small one lies ~10 mm from it.
  const near = cropCentrality(cands[0]!, dims, sp);
  const far = cropCentrality(cands[1]!, dims, sp);
  assert.ok(near > 0.9 && far < 0.1, `centrality ${near} vs ${far}`);
  const ev = symmetricEigenvalues3([[2, 1, 0], [1, 2, 0], [0, 0, 5]]).sort((a, b) => a - b);
  assert.deepEqual(ev.map((v) => Math.round(v * 1e9) / 1e9), [1, 3, 5]);
});

test('clean-up keeps the anchored component, fills holes, never returns empty', () => {
  const dims: Vec3 = [30, 30, 30];
  const a = ball(dims, [10, 15, 15], 6);
  const b = ball(dims, [24, 15, 15], 3);
  const prob = new Float32Array(a.length);
  for (let i = 0; i < prob.length; i++) prob[i] = a[i] || b[i] ? 0.9 : 0.1;
  prob[idx(dims, 10, 15, 15)] = 0.2; // a hole
  const r = cleanupTumour(prob, b, dims, [1, 1, 1], 0);
  assert.equal(r.mask[idx(dims, 24, 15, 15)], 1);
  assert.equal(r.mask[idx(dims, 10, 15, 15)], 0, 'the other component is gone');
  const r2 = cleanupTumour(prob, a, dims, [1, 1, 1], 0.8);
  assert.equal(r2.mask[idx(dims, 10, 15, 15)], 1, 'hole filled');
  const r3 = cleanupTumour(new Float32Array(a.length), b, dims, [1, 1, 1], 0.8);
  assert.ok(r3.mask.some((v) => v === 1), 'falls back to the candidate');
});

test('clean-up leaves out aerated lung around a dense tumour but gives back the air inside it', () => {
  const dims: Vec3 = [30, 30, 30];
  const tumour = ball(dims, [15, 15, 15], 6);
  const coarse = ball(dims, [15, 15, 15], 9);
  const hu = new Float32Array(tumour.length).fill(-850);
  const prob = new Float32Array(tumour.length);
  for (let i = 0; i < hu.length; i++) {
    if (tumour[i]) hu[i] = 30;
    if (coarse[i]) prob[i] = 0.9;
  }
  hu[idx(dims, 15, 15, 15)] = -950; // a cavity
  const r = cleanupTumour(prob, tumour, dims, [1, 1, 1], 0, { hu, minHu: -700 });
  for (let i = 0; i < hu.length; i++) assert.equal(r.mask[i], tumour[i], `voxel ${i}`);
  assert.ok(r.steps.some((s) => s.includes('aerated lung')), r.steps.join('; '));
});

test('neck cut: soft tissue hanging on the tumour through a thin neck is cut away, a compact tumour comes back whole', () => {
  const dims: Vec3 = [48, 32, 32];
  const tumour = ball(dims, [14, 16, 16], 9);
  const spill = ball(dims, [36, 16, 16], 6);
  const neck = new Uint8Array(tumour.length);
  for (let x = 14; x <= 36; x++) for (let y = 15; y <= 17; y++) for (let z = 15; z <= 17; z++) neck[idx(dims, x, y, z)] = 1;
  const joined = tumour.map((v, i) => v | spill[i]! | neck[i]!);
  const keepAll = (m: Uint8Array): Uint8Array => m;
  const largest = (m: Uint8Array): Uint8Array => {
    const c = labelComponents(m, dims, 26);
    let best = 1;
    for (let k = 2; k <= c.count; k++) if (c.sizes[k]! > c.sizes[best]!) best = k;
    return selectComponents(c.labels, [best]);
  };
  const r = cutThinAttachments(joined, dims, [1, 1, 1], largest, NECK_CUT);
  for (let i = 0; i < tumour.length; i++) if (tumour[i]) assert.equal(r.mask[i], 1, `tumour voxel ${i} kept`);
  for (let i = 0; i < spill.length; i++) if (spill[i]) assert.equal(r.mask[i], 0, `spill voxel ${i} cut`);
  assert.ok(r.removed > 0);
  const alone = cutThinAttachments(tumour, dims, [1, 1, 1], keepAll, NECK_CUT);
  assert.equal(alone.removed, 0);
  assert.deepEqual(alone.mask, tumour);
  // Through the whole clean-up: the candidate covers both (as the over-grown candidates do).
  const prob = Float32Array.from(joined, (v) => (v ? 0.9 : 0.1));
  const cleaned = cleanupTumour(prob, joined, dims, [1, 1, 1], 0, null, NECK_CUT);
  for (let i = 0; i < tumour.length; i++) if (tumour[i]) assert.equal(cleaned.mask[i], 1);
  for (let i = 0; i < spill.length; i++) if (spill[i]) assert.equal(cleaned.mask[i], 0);
  assert.ok(cleaned.steps.some((s) => s.startsWith('cut ')), cleaned.steps.join('; '));
  const plain = cleanupTumour(prob, joined, dims, [1, 1, 1], 0, null, null);
  assert.equal(plain.mask[idx(dims, 36, 16, 16)], 1, 'without the neck cut the spill stays');
});

test('partial-volume floor: halfway between the tumour and aerated lung, within the eligible limit and -300 HU', () => {
  assert.equal(partialVolumeFloorHu(20, -840, -800), -410);
  assert.equal(partialVolumeFloorHu(-600, -840, -800), -720);
  assert.equal(partialVolumeFloorHu(-750, -840, -700), -700);
  assert.equal(partialVolumeFloorHu(400, -840, -800), -300);
});

test('clean-up with the partial-volume floor drops a solid tumour\'s half-aerated rim but keeps a ground-glass one', () => {
  const dims: Vec3 = [30, 30, 30];
  const core = ball(dims, [15, 15, 15], 6);
  const rim = ball(dims, [15, 15, 15], 8);
  for (const [coreHu, rimHu, keepsRim] of [[30, -600, false], [-550, -650, true]] as const) {
    const hu = new Float32Array(core.length).fill(-850);
    const prob = new Float32Array(core.length);
    for (let i = 0; i < hu.length; i++) {
      if (rim[i]) { hu[i] = rimHu; prob[i] = 0.9; }
      if (core[i]) hu[i] = coreHu;
    }
    const minHu = partialVolumeFloorHu(coreHu, -850, -800);
    const r = cleanupTumour(prob, core, dims, [1, 1, 1], 0, { hu, minHu });
    const expected = keepsRim ? rim : core;
    for (let i = 0; i < hu.length; i++) assert.equal(r.mask[i], expected[i], `core ${coreHu} HU, voxel ${i}`);
  }
});

test('voxel classifier columns are taken by name, in the model\'s order', () => {
  const table = { names: ['a', 'b', 'c'], rows: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  assert.deepEqual([...selectFeatureColumns(table, ['c', 'a'])], [3, 1, 6, 4]);
  assert.equal(selectFeatureColumns(table, ['a', 'b', 'c']), table.rows);
  assert.throws(() => selectFeatureColumns(table, ['a', 'd']), /'d' is not computed/);
});

test('plans: working spacing and HU limits follow the fingerprint', () => {
  assert.deepEqual(workingSpacingFor([0.98, 0.98, 3]), [2, 2, 3]);
  assert.deepEqual(workingSpacingFor([0.7, 0.7, 1.25]), [1.5, 1.5, 1.5]);
  assert.deepEqual(workingSpacingFor([3.5, 3.5, 6]), [3.5, 3.5, 6]);
  const p = percentiles(Float32Array.from({ length: 1000 }, (_, i) => i - 500));
  assert.equal(p.p50, 0);
  const plans = planFromFingerprint({
    cases: 3,
    spacingMm: { median: [0.8, 0.8, 2], min: [0.6, 0.6, 1], max: [1, 1, 5] },
    tumourHu: { ...p, p01: -650, p05: -400 },
    lungHu: { ...p, p05: -950 },
    tumourVolumeMl: { min: 0.1, median: 10, max: 200 },
    cropTumourMarginMm: [50, 50, 51],
  }, 24);
  assert.equal(plans.eligibleMinHu, -650);
  assert.deepEqual(plans.ctWindowHu[0], -950);
  // The crops' margin less one working voxel (working grid 1.5 x 1.5 x 2 mm); none without crops.
  assert.deepEqual(plans.workingSpacingMm, [1.5, 1.5, 2]);
  assert.deepEqual(plans.cropSearchMarginMm, [48.5, 48.5, 49]);
  assert.equal(planFromFingerprint({ ...plans.fingerprint, cropTumourMarginMm: null }, 24).cropSearchMarginMm, null);
  // Plans saved before the crop margin existed read as 'no crop margin'; a negative one is refused.
  const { cropSearchMarginMm: _, ...older } = JSON.parse(JSON.stringify(plans));
  assert.equal(validatePlans(older, 'plans.json').cropSearchMarginMm, null);
  assert.throws(() => validatePlans({ ...plans, cropSearchMarginMm: [-1, 0, 0] }, 'plans.json'), /not a lungtumor plans file/);
});

test('crop margin: rows nearer than the margin to any edge lose their probability', () => {
  // A 10 x 8 x 6 grid, 2 x 2 x 3 mm: a 4 / 4 / 3 mm margin leaves x 2..7, y 2..5, z 1..4.
  const dims: Vec3 = [10, 8, 6];
  const voxels = Int32Array.from({ length: 480 }, (_, i) => i);
  const prob = new Float32Array(480).fill(0.9);
  prob[0] = 0;
  const zeroed = zeroNearEdges(prob, voxels, dims, [2, 2, 3], [4, 4, 3]);
  let kept = 0;
  for (let v = 0; v < 480; v++) {
    const x = v % 10, y = Math.floor(v / 10) % 8, z = Math.floor(v / 80);
    const inside = x >= 2 && x <= 7 && y >= 2 && y <= 5 && z >= 1 && z <= 4;
    assert.equal(prob[v], inside ? Math.fround(0.9) : 0, `voxel ${x},${y},${z}`);
    if (inside) kept++;
  }
  assert.equal(kept, 6 * 4 * 4);
  // Voxel 0 had no probability to lose.
  assert.equal(zeroed, 480 - kept - 1);
  // Margins that leave nothing (7 mm on an 8-voxel, 2 mm axis) change nothing.
  const again = new Float32Array(480).fill(0.5);
  assert.equal(zeroNearEdges(again, voxels, dims, [2, 2, 3], [4, 7, 3]), null);
  assert.ok(again.every((p) => p === 0.5));
});

test('feature cache key: the scan\'s content and the plans, not its path or file times', (t) => {
  const dir = tempDir(t);
  const plans = { workingSpacingMm: [1.75, 1.75, 3], eligibleMinHu: -800 } as unknown as Plans;
  const a = join(dir, 'a', 'CASE_vol.nii.gz');
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  writeFileSync(a, Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff));
  const b = join(dir, 'b', 'CASE_vol.nii.gz');
  copyFileSync(a, b);
  utimesSync(b, new Date(2001, 1, 1), new Date(2001, 1, 1));
  const key = featureCacheKey(a, plans);
  assert.equal(featureCacheKey(b, plans), key, 'a copy elsewhere, with other times, keeps the key');
  const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff);
  bytes[4999] ^= 1;
  writeFileSync(b, bytes);
  assert.notEqual(featureCacheKey(b, plans), key, 'one changed byte changes it');
  assert.notEqual(featureCacheKey(a, { ...plans, eligibleMinHu: -700 } as Plans), key, 'other plans change it');
  // A DICOM series' folder: its files' names and bytes.
  mkdirSync(join(dir, 's1'));
  writeFileSync(join(dir, 's1', 'IM1.dcm'), 'one');
  writeFileSync(join(dir, 's1', 'IM2.dcm'), 'two');
  cpSync(join(dir, 's1'), join(dir, 's2'), { recursive: true });
  assert.equal(featureCacheKey(join(dir, 's2'), plans), featureCacheKey(join(dir, 's1'), plans));
  writeFileSync(join(dir, 's2', 'IM1.dcm'), 'on');
  writeFileSync(join(dir, 's2', 'IM2.dcm'), 'etwo');
  assert.notEqual(featureCacheKey(join(dir, 's2'), plans), featureCacheKey(join(dir, 's1'), plans), 'bytes moved between files');
});
