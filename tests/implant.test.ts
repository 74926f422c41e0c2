/** Synthetic tumours implanted into real CT (`synth --into`): HU, placement, determinism, the real tumour kept. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/core/random.js';
import type { Vec3 } from '../src/core/volume.js';
import { findLungs } from '../src/features/lungs.js';
import { toCanonical } from '../src/geometry/orient.js';
import { readMaskFor } from '../src/io/masks.js';
import { readNifti } from '../src/io/nifti.js';
import {
  DEFAULT_PRIORS,
  IMPLANT_COLUMNS,
  listImplantSources,
  paintImplant,
  planImplant,
  prepareImplantScan,
  priorsFromTumours,
  tumourHuStats,
  writeCohort,
  writeImplantCohort,
  type ImplantPlan,
  type ImplantScan,
} from '../src/synth/index.js';
import { PROTECTED_MIN_HU } from '../src/synth/implant.js';
import { blobRadiusBounds } from '../src/synth/shapes.js';
import { realDataDir, runCli, tempDir, filesUnder } from './helpers.js';

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** A scan of a full-size synthetic case, read back as a "real" one would be, ready for implants. */
function scanOf(volume: string, seg: string): { scan: ImplantScan; lungsFound: ReturnType<typeof findLungs> } {
  const ct = readNifti(volume);
  const mask = readMaskFor(seg, ct);
  const { volume: can } = toCanonical(ct);
  const real = toCanonical({ ...ct, data: mask }).volume.data;
  const lungs = findLungs(can.data, can.dims, can.spacing);
  const scan = prepareImplantScan(can.data as Int16Array, can.dims, can.spacing, lungs.lungs, lungs.midlineX, real);
  return { scan, lungsFound: lungs };
}

describe('implants into a scan (full-size synthetic source)', () => {
  let dir = '';
  let scan: ImplantScan;
  const plans: ImplantPlan[] = [];
  before(async () => {
    dir = tempDir();
    await writeCohort(join(dir, 'src'), { cases: 1, seed: 5, size: 'full' });
    const t = join(dir, 'src', 'train');
    scan = scanOf(join(t, 'volume', 'SYN-0001_vol.nii.gz'), join(t, 'seg', 'SYN-0001_seg.nii.gz')).scan;
    for (let k = 0; plans.length < 12 && k < 40; k++) {
      const p = planImplant(new Rng(1000 + k), scan, DEFAULT_PRIORS, true);
      if (p) plans.push(p);
    }
  });

  test('plans: every kind and several sites; most implants find a place', () => {
    assert.equal(plans.length, 12);
    const kinds = new Set(plans.map((p) => p.kind));
    const sites = new Set(plans.map((p) => p.site));
    assert.ok(kinds.size >= 2, `kinds ${[...kinds].join(', ')}`);
    assert.ok(sites.size >= 3, `sites ${[...sites].join(', ')}`);
    for (const p of plans) {
      assert.ok(p.tumour.diameterMm >= 10 && p.tumour.diameterMm <= 80, `diameter ${p.tumour.diameterMm}`);
      if (p.kind === 'solid') assert.equal(p.tumour.ggoHu, null);
      else assert.ok(p.tumour.ggoHu! >= DEFAULT_PRIORS.groundGlassHu[0] && p.tumour.ggoHu! <= DEFAULT_PRIORS.groundGlassHu[1]);
    }
  });

  test('painted: inside the lungs, HU of the drawn kind, the real tumour and bone untouched, nothing changed far away', () => {
    const n = scan.ct.length;
    for (const [idx, p] of plans.entries()) {
      const out = paintImplant(new Rng(idx), scan, p);
      assert.ok(out.voxels > 0, `implant ${idx} has no voxels`);
      let inLung = 0;
      const hu: number[] = [];
      for (let i = 0; i < n; i++) {
        const orig = scan.ct[i]!;
        if (scan.realTumour![i] || orig >= PROTECTED_MIN_HU) assert.equal(out.ct[i], orig, `implant ${idx} changed a protected voxel ${i}`);
        if (!out.mask[i]) continue;
        inLung += scan.lungs[i]!;
        hu.push(out.ct[i]!);
      }
      const share = inLung / out.voxels;
      const want = p.site === 'intraparenchymal' ? 0.97 : 0.6;
      assert.ok(share >= want, `implant ${idx} (${p.site}): ${share.toFixed(3)} of its voxels in the lungs`);
      const m = median(hu);
      if (p.kind === 'solid') {
        assert.ok(Math.abs(m - p.tumour.solidHu) <= 40, `solid implant ${idx}: median ${m} HU, drawn ${p.tumour.solidHu.toFixed(0)}`);
      } else if (p.kind === 'ground-glass') {
        // 'max' over the lung: the ground glass level, a little above it where vessels pass through.
        assert.ok(m >= p.tumour.ggoHu! - 40 && m <= p.tumour.ggoHu! + 120, `ground-glass implant ${idx}: median ${m} HU, drawn ${p.tumour.ggoHu!.toFixed(0)}`);
      } else {
        assert.ok(m > p.tumour.ggoHu! - 40 && m < p.tumour.solidHu + 40, `part-solid implant ${idx}: median ${m}`);
      }
      // The texture's spread: a real tumour's, not a flat fill.
      const mad = median(hu.map((v) => Math.abs(v - m))) * 1.4826;
      assert.ok(mad > 0.3 * p.textureSdHu, `implant ${idx}: spread ${mad.toFixed(1)} HU for a drawn SD of ${p.textureSdHu.toFixed(1)}`);
      // Nothing changes beyond the implant's reach (its extent, a wedge's reach, two voxels).
      const c = p.tumour.centre;
      const reach = Math.max(p.tumour.extentMm, p.opacity ? blobRadiusBounds(p.opacity.body)[1] * p.opacity.body.radius : 0) + 3 * Math.max(...scan.spacingMm) + 1;
      const [nx, ny] = scan.dims;
      for (let i = 0; i < n; i += 7) {
        if (out.ct[i] === scan.ct[i]) continue;
        const x = (i % nx) * scan.spacingMm[0], y = (Math.floor(i / nx) % ny) * scan.spacingMm[1], z = Math.floor(i / (nx * ny)) * scan.spacingMm[2];
        assert.ok(Math.hypot(x - c[0], y - c[1], z - c[2]) <= reach, `implant ${idx} changed voxel ${i} beyond its reach`);
      }
    }
  });

  test('keeps its gap from the real tumour', () => {
    const real: number[][] = [];
    const [nx, ny] = scan.dims;
    for (let i = 0; i < scan.realTumour!.length; i += 3) {
      if (scan.realTumour![i]) real.push([(i % nx) * scan.spacingMm[0], (Math.floor(i / nx) % ny) * scan.spacingMm[1], Math.floor(i / (nx * ny)) * scan.spacingMm[2]]);
    }
    for (const p of plans) {
      const c = p.tumour.centre;
      const d = Math.min(...real.map((q) => Math.hypot(q[0]! - c[0], q[1]! - c[1], q[2]! - c[2])));
      assert.ok(d >= p.tumour.extentMm + 9, `implant ${p.site} ${p.tumour.diameterMm.toFixed(0)} mm: ${d.toFixed(1)} mm from the real tumour`);
    }
  });
});

describe('priors from the cohort\'s tumours', () => {
  test('solid and ground-glass tumours set their own ranges; mixed ones are left out of the solid range', () => {
    const p = priorsFromTumours([
      { id: 'A', voxels: 50_000, medianHu: 10, interiorMedianHu: 20, interiorSdHu: 40 },
      { id: 'B', voxels: 9_000, medianHu: 30, interiorMedianHu: 45, interiorSdHu: 30 },
      { id: 'C', voxels: 2_500, medianHu: -220, interiorMedianHu: -150, interiorSdHu: 250 },
      { id: 'G', voxels: 8_000, medianHu: -680, interiorMedianHu: -820, interiorSdHu: 110 },
    ]);
    assert.deepEqual(p.solidHu, [10, 55]);
    assert.deepEqual(p.textureSdHu, [27, 43]);
    assert.deepEqual(p.groundGlassHu, [-850, -450]);
    assert.deepEqual(p.groundGlassSdHu, [100, 120]);
    assert.deepEqual(p.fromTumours, ['A', 'B', 'C', 'G']);
    assert.deepEqual(priorsFromTumours([]), { ...DEFAULT_PRIORS, fromTumours: [] });
  });

  test('tumour HU statistics: median and interior SD of a mask', () => {
    const dims: Vec3 = [20, 20, 20];
    const ct = new Int16Array(8000).fill(-850);
    const mask = new Uint8Array(8000);
    const rng = new Rng(3);
    for (let z = 4; z < 16; z++) for (let y = 4; y < 16; y++) for (let x = 4; x < 16; x++) {
      const i = x + 20 * (y + 20 * z);
      mask[i] = 1;
      ct[i] = Math.round(30 + 25 * rng.normal());
    }
    const s = tumourHuStats('T', ct, mask, dims, [1, 1, 1])!;
    assert.equal(s.voxels, 1728);
    assert.ok(Math.abs(s.interiorMedianHu - 30) <= 4, `median ${s.interiorMedianHu}`);
    assert.ok(Math.abs(s.interiorSdHu - 25) <= 4, `sd ${s.interiorSdHu}`);
  });
});

describe('synth --into: the cohort', () => {
  let dir = '';
  before(async () => {
    dir = tempDir();
    // Two labelled sources and one without a tumour mask.
    await writeCohort(join(dir, 'src'), { cases: 3, seed: 9, size: 'small' });
    rmSync(join(dir, 'src', 'train', 'seg', 'SYN-0003_seg.nii.gz'));
  });

  test('challenge layout, a metadata row per implant, byte-identical reruns, the real tumour kept', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const ra = await writeImplantCohort(join(dir, 'src'), a, { perScan: 2, seed: 4, collapse: true });
    await writeImplantCohort(join(dir, 'src'), b, { perScan: 2, seed: 4, collapse: true });
    const files = filesUnder(a);
    assert.deepEqual(files, filesUnder(b));
    for (const f of files) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between reruns`);
    assert.ok(ra.rows.length >= 4, `${ra.rows.length} implants`);
    const csv = readFileSync(join(a, 'train', 'metadata.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], IMPLANT_COLUMNS.join(','));
    assert.equal(csv.length, ra.rows.length + 1);
    const src = join(dir, 'src', 'train');
    for (const r of ra.rows) {
      assert.match(r.id, /^SYN-000[123]-IMP[12]$/);
      const ct0 = readNifti(join(src, 'volume', `${r.sourceId}_vol.nii.gz`));
      const ct1 = readNifti(join(a, 'train', 'volume', `${r.id}_vol.nii.gz`));
      assert.deepEqual(ct1.dims, ct0.dims);
      assert.deepEqual(ct1.affine, ct0.affine);
      const seg = readMaskFor(join(a, 'train', 'seg', `${r.id}_seg.nii.gz`), ct1);
      let changed = 0;
      for (let i = 0; i < seg.length; i++) if (ct1.data[i] !== ct0.data[i]) changed++;
      assert.ok(changed > 0, `${r.id}: nothing implanted`);
      if (r.sourceId === 'SYN-0003') {
        assert.equal(r.primary, 'implant');
        assert.equal(r.realTumourMl, null);
        continue;
      }
      const real = readMaskFor(join(src, 'seg', `${r.sourceId}_seg.nii.gz`), ct0);
      for (let i = 0; i < real.length; i++) if (real[i]) assert.equal(ct1.data[i], ct0.data[i], `${r.id}: real tumour voxel ${i} overwritten`);
      if (r.primary === 'real') {
        assert.equal(r.kind, 'solid', `${r.id}: ground glass is implanted only where it is the primary`);
        assert.deepEqual(seg, real, `${r.id}: the larger real tumour stays the label`);
        assert.ok(r.realTumourMl! >= r.implantMl);
      } else {
        for (let i = 0; i < real.length; i++) if (real[i]) assert.equal(seg[i], 0, `${r.id}: the smaller real tumour is a distractor`);
        assert.ok(r.implantMl > r.realTumourMl!);
        const implanted = seg.reduce((s, v) => s + v, 0);
        assert.ok(Math.abs(implanted * (ct0.spacing[0] * ct0.spacing[1] * ct0.spacing[2]) / 1000 - r.implantMl) < 1e-6);
      }
    }
  });

  test('CLI: --into writes the cohort; a test folder, --per-scan without --into and --cases with --into are refused (exit 2, one line)', () => {
    const out = join(dir, 'cli');
    const r = runCli(['synth', '--into', join(dir, 'src'), '--out', out, '--per-scan', '1', '--seed', '2', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(listImplantSources(out).length >= 2);
    mkdirSync(join(dir, 'fake', 'test', 'volume'), { recursive: true });
    symlinkSync(join(dir, 'src', 'train', 'volume', 'SYN-0001_vol.nii.gz'), join(dir, 'fake', 'test', 'volume', 'SYN-0001_vol.nii.gz'));
    for (const args of [
      ['synth', '--into', join(dir, 'fake', 'test'), '--out', join(dir, 'x1')],
      ['synth', '--out', join(dir, 'x2'), '--per-scan', '2'],
      ['synth', '--into', join(dir, 'src'), '--out', join(dir, 'x3'), '--cases', '3'],
      ['synth', '--into', join(dir, 'src'), '--out', join(dir, 'x4'), '--per-scan', '0'],
    ]) {
      const e = runCli(args);
      assert.equal(e.status, 2, `${args.join(' ')}: ${e.stderr}`);
      assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
    }
    const h = runCli(['synth', '--help']);
    assert.match(h.stdout, /--into DIR/);
    assert.match(h.stdout, /--per-scan N/);
  });
});

test('real scan (LIDC-0001): implants in its lungs, its own tumour and header kept', { skip: realDataDir() === null && 'no real data' }, async (t) => {
  const dir = tempDir(t);
  const real = realDataDir()!;
  for (const sub of ['volume', 'seg']) mkdirSync(join(dir, 'src', 'train', sub), { recursive: true });
  symlinkSync(join(real, 'train', 'volume', 'LIDC-0001_vol.nii.gz'), join(dir, 'src', 'train', 'volume', 'LIDC-0001_vol.nii.gz'));
  symlinkSync(join(real, 'train', 'seg', 'LIDC-0001_seg.nii.gz'), join(dir, 'src', 'train', 'seg', 'LIDC-0001_seg.nii.gz'));
  const res = await writeImplantCohort(join(dir, 'src'), join(dir, 'out'), { perScan: 2, seed: 1, collapse: true });
  assert.equal(res.rows.length, 2);
  const ct0 = readNifti(join(real, 'train', 'volume', 'LIDC-0001_vol.nii.gz'));
  const seg0 = readMaskFor(join(real, 'train', 'seg', 'LIDC-0001_seg.nii.gz'), ct0);
  const lungs = findLungs(toCanonical(ct0).volume.data, toCanonical(ct0).volume.dims, toCanonical(ct0).volume.spacing);
  assert.ok(lungs.found && !lungs.crop);
  for (const r of res.rows) {
    const ct1 = readNifti(join(dir, 'out', 'train', 'volume', `${r.id}_vol.nii.gz`));
    assert.deepEqual(ct1.dims, ct0.dims);
    assert.deepEqual(ct1.affine, ct0.affine);
    assert.equal(ct1.source!.qformCode, ct0.source!.qformCode);
    assert.equal(ct1.source!.sformCode, ct0.source!.sformCode);
    let changed = 0;
    for (let i = 0; i < seg0.length; i++) {
      if (seg0[i]) assert.equal(ct1.data[i], ct0.data[i], `${r.id}: real tumour voxel ${i} overwritten`);
      if (ct1.data[i] !== ct0.data[i]) changed++;
    }
    assert.ok(changed * 0.703 * 0.703 * 2.5 / 1000 >= 0.5 * r.implantMl, `${r.id}: ${changed} voxels changed for ${r.implantMl} mL`);
    assert.ok(r.solidHu === null || (r.solidHu >= res.priors.solidHu[0] && r.solidHu <= res.priors.solidHu[1]));
  }
  assert.deepEqual(res.priors.fromTumours, ['LIDC-0001']);
});
