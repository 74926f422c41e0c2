/** The synthetic cohort generator: layout, determinism, anatomy and CLI. Small size only (fast). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/core/random.js';
import type { Volume } from '../src/core/volume.js';
import { readNifti } from '../src/io/nifti.js';
import { listTrainingCases } from '../src/io/cohort.js';
import { lungSdf, samplePatient, bodySection } from '../src/synth/anatomy.js';
import { chooseGrid } from '../src/synth/grid.js';
import { MAX_DISTRACTOR_TO_TUMOUR, MIN_TUMOUR_DIAMETER_MM, OPACITY_MIN_DIAMETER_MM, OPACITY_SHARE, planOpacity, planTumour, TUMOUR_LOCATIONS, TUMOUR_SHAPES } from '../src/synth/lesions.js';
import { caseSeed, casePaths, generateCase, META_COLUMNS, writeCohort, type SynthCase } from '../src/synth/index.js';
import { runCli, tempDir, filesUnder } from './helpers.js';

function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** World (NIfTI RAS) mm of voxel (i, j, k). */
function world(vol: Volume, i: number, j: number, k: number): [number, number, number] {
  const a = vol.affine;
  return [0, 1, 2].map((r) => a[r]![0]! * i + a[r]![1]! * j + a[r]![2]! * k + a[r]![3]!) as [number, number, number];
}

function maskCentroidWorld(c: SynthCase): [number, number, number] {
  const [nx, ny, nz] = c.ct.dims;
  let si = 0;
  let sj = 0;
  let sk = 0;
  let n = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (c.tumour[i + nx * (j + ny * k)]) {
          si += i;
          sj += j;
          sk += k;
          n++;
        }
      }
    }
  }
  return world(c.ct, si / n, sj / n, sk / n);
}

const SIX: readonly [number, number, number][] = [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]];

describe('synth cohort files', () => {
  let root = '';
  let a = '';
  let b = '';
  let c = '';
  before(async () => {
    root = tempDir();
    a = join(root, 'a');
    b = join(root, 'b');
    c = join(root, 'c');
    await writeCohort(a, { cases: 3, seed: 11, size: 'small' });
    const r = runCli(['synth', '--out', b, '--cases', '3', '--seed', '11', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    await writeCohort(c, { cases: 2, seed: 11 });
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('writes the challenge layout with SYN ids', () => {
    const cases = listTrainingCases(a);
    assert.deepEqual(cases.map((x) => x.id), ['SYN-0001', 'SYN-0002', 'SYN-0003']);
    assert.deepEqual(filesUnder(a), [
      'train/lungs_seg/SYN-0001_lungseg.nii.gz',
      'train/lungs_seg/SYN-0002_lungseg.nii.gz',
      'train/lungs_seg/SYN-0003_lungseg.nii.gz',
      'train/metadata.csv',
      'train/seg/SYN-0001_seg.nii.gz',
      'train/seg/SYN-0002_seg.nii.gz',
      'train/seg/SYN-0003_seg.nii.gz',
      'train/volume/SYN-0001_vol.nii.gz',
      'train/volume/SYN-0002_vol.nii.gz',
      'train/volume/SYN-0003_vol.nii.gz',
    ]);
    for (const x of cases) assert.ok(x.seg && x.lungs);
  });

  test('the same seed gives byte-identical files (API and CLI)', () => {
    const fa = filesUnder(a);
    assert.deepEqual(filesUnder(b), fa);
    for (const f of fa) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
  });

  test('a smaller cohort with the same seed is a prefix', () => {
    for (const id of ['SYN-0001', 'SYN-0002']) {
      const pa = casePaths(a, id);
      const pc = casePaths(c, id);
      for (const k of ['volume', 'seg', 'lungs'] as const) assert.ok(readFileSync(pa[k]).equals(readFileSync(pc[k])), `${id} ${k}`);
    }
    assert.ok(!existsSync(casePaths(c, 'SYN-0003').volume));
    const linesA = readFileSync(join(a, 'train', 'metadata.csv'), 'utf8').trimEnd().split('\n');
    const linesC = readFileSync(join(c, 'train', 'metadata.csv'), 'utf8').trimEnd().split('\n');
    assert.deepEqual(linesC, linesA.slice(0, 3));
  });

  test('files read back as int16 HU and 0/1 masks on one grid, equal to the generated case', () => {
    for (const id of ['SYN-0001', 'SYN-0002']) {
      const p = casePaths(a, id);
      const vol = readNifti(p.volume);
      const seg = readNifti(p.seg);
      const lungs = readNifti(p.lungs);
      const gen = generateCase(11, Number(id.slice(4)) - 1);
      assert.ok(vol.data instanceof Int16Array);
      assert.ok(seg.data instanceof Uint8Array && lungs.data instanceof Uint8Array);
      assert.deepEqual(vol.dims, [96, 96, 48]);
      assert.deepEqual(seg.dims, vol.dims);
      assert.deepEqual(lungs.dims, vol.dims);
      assert.deepEqual([...vol.data], [...gen.ct.data]);
      assert.deepEqual([...seg.data], [...gen.tumour]);
      assert.deepEqual([...lungs.data], [...gen.lungs]);
      for (const m of [vol, seg, lungs]) {
        for (let r = 0; r < 3; r++) {
          for (let q = 0; q < 4; q++) assert.ok(Math.abs(m.affine[r]![q]! - gen.ct.affine[r]![q]!) < 1e-3, `${id} affine[${r}][${q}]`);
        }
      }
      let tumour = 0;
      for (let i = 0; i < seg.data.length; i++) {
        assert.ok(seg.data[i]! <= 1 && lungs.data[i]! <= 1);
        assert.ok(!(seg.data[i] && lungs.data[i]), 'tumour and lung masks overlap');
        tumour += seg.data[i]!;
      }
      assert.ok(tumour > 0);
    }
  });

  test('metadata.csv has one row per case, the documented columns and some empty cells', () => {
    const lines = readFileSync(join(a, 'train', 'metadata.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], META_COLUMNS.join(','));
    assert.equal(lines.length, 4);
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.deepEqual(rows.map((r) => r[0]), ['SYN-0001', 'SYN-0002', 'SYN-0003']);
    for (const r of rows) {
      assert.equal(r.length, META_COLUMNS.length);
      const col = (name: (typeof META_COLUMNS)[number]): string => r[META_COLUMNS.indexOf(name)]!;
      assert.ok(['LPS', 'RAS'].includes(col('voxel_order')));
      assert.equal(col('dim_x'), '96');
      assert.ok(Number(col('tumour_volume_ml')) > 0);
      assert.ok(['left', 'right'].includes(col('tumour_side')));
    }
    assert.ok(rows.some((r) => r.includes('')), 'expected some missing values');
  });
});

describe('synth anatomy (seed 7, six small cases)', () => {
  const SEED = 7;
  let cases: SynthCase[] = [];
  before(() => {
    cases = [0, 1, 2, 3, 4, 5].map((i) => generateCase(SEED, i, { withLungEnvelope: true }));
  });

  test('the cohort covers every tumour location, several shapes, both voxel orders and distractors', () => {
    const locs = new Set(cases.map((c) => c.meta.tumour.location));
    assert.deepEqual([...locs].sort(), [...TUMOUR_LOCATIONS].sort());
    assert.ok(new Set(cases.map((c) => c.meta.tumour.shape)).size >= 3);
    assert.deepEqual(new Set(cases.map((c) => c.meta.voxelOrder)), new Set(['LPS', 'RAS']));
    assert.ok(cases.some((c) => c.meta.distractors.length > 0));
    for (const c of cases) {
      const a = c.ct.affine;
      if (c.meta.voxelOrder === 'LPS') assert.ok(a[0][0] < 0 && a[1][1] < 0 && a[2][2] > 0, c.id);
      else assert.ok(a[0][0] > 0 && a[1][1] > 0 && a[2][2] > 0, c.id);
    }
  });

  test('one tumour, inside the lungs or touching the wall or mediastinum as placed', () => {
    for (const c of cases) {
      const [nx, ny, nz] = c.ct.dims;
      const env = c.lungEnvelope!;
      let n = 0;
      let inside = 0;
      let touches = 0;
      for (let k = 0; k < nz; k++) {
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++) {
            const q = i + nx * (j + ny * k);
            if (!c.tumour[q]) continue;
            n++;
            inside += env[q]!;
            for (const [di, dj, dk] of SIX) {
              const a = i + di;
              const b = j + dj;
              const e = k + dk;
              if (a < 0 || b < 0 || e < 0 || a >= nx || b >= ny || e >= nz) continue;
              const r = a + nx * (b + ny * e);
              if (!env[r] && !c.tumour[r]) {
                touches++;
                break;
              }
            }
          }
        }
      }
      assert.ok(n > 0, `${c.id}: empty tumour mask`);
      assert.ok(Math.abs(c.meta.tumour.inLungFraction - inside / n) < 1e-9);
      if (c.meta.tumour.location === 'intraparenchymal') {
        assert.equal(inside, n, `${c.id}: intraparenchymal tumour leaves the lungs`);
        assert.equal(touches, 0, `${c.id}: intraparenchymal tumour touches the wall`);
      } else {
        assert.ok(touches > 0, `${c.id}: ${c.meta.tumour.location} tumour touches nothing`);
        assert.ok(inside / n >= 0.5, `${c.id}: mostly outside the lungs`);
      }
    }
  });

  test('the lung mask is the lung envelope without the tumour', () => {
    for (const c of cases) {
      const env = c.lungEnvelope!;
      let lung = 0;
      for (let i = 0; i < env.length; i++) {
        assert.equal(c.lungs[i], env[i]! & (c.tumour[i]! ^ 1));
        lung += c.lungs[i]!;
      }
      // Two adult lungs: roughly 2.5-8 L.
      const ml = (lung * c.ct.spacing[0] * c.ct.spacing[1] * c.ct.spacing[2]) / 1000;
      assert.ok(ml > 2500 && ml < 8000, `${c.id}: lungs ${ml.toFixed(0)} mL`);
    }
  });

  test('distractor nodules are smaller than the tumour, labelled 0, lie in the lungs and show their HU', () => {
    let checked = 0;
    for (const c of cases) {
      const [nx, ny, nz] = c.ct.dims;
      const a = c.ct.affine;
      for (const d of c.meta.distractors) {
        assert.ok(d.diameterMm <= MAX_DISTRACTOR_TO_TUMOUR * c.meta.tumour.diameterMm, `${c.id}: ${d.diameterMm} mm distractor, ${c.meta.tumour.diameterMm} mm tumour`);
        const ijk = [0, 1, 2].map((r) => Math.round((d.centreWorldMm[r]! - a[r]![3]!) / a[r]![r]!));
        const [i, j, k] = ijk as [number, number, number];
        assert.ok(i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz);
        const q = i + nx * (j + ny * k);
        assert.equal(c.tumour[q], 0, `${c.id}: distractor labelled as tumour`);
        assert.equal(c.lungEnvelope![q], 1, `${c.id}: distractor outside the lungs`);
        // On coarse grids a small nodule fills only part of a voxel, so look at the brightest
        // voxel next to its centre: clearly denser than lung (about -850 HU).
        let peak = -Infinity;
        for (let e = Math.max(0, k - 1); e <= Math.min(nz - 1, k + 1); e++) {
          for (let b = Math.max(0, j - 1); b <= Math.min(ny - 1, j + 1); b++) {
            for (let f = Math.max(0, i - 1); f <= Math.min(nx - 1, i + 1); f++) peak = Math.max(peak, c.ct.data[f + nx * (b + ny * e)]!);
          }
        }
        const need = d.kind === 'ground-glass' ? -750 : -600;
        assert.ok(peak > need, `${c.id}: ${d.kind} nodule (${d.diameterMm.toFixed(1)} mm) peaks at ${peak} HU`);
        checked++;
      }
    }
    assert.ok(checked > 0);
  });

  test('HU levels are plausible: air, lungs, soft tissue, bone, tumour', () => {
    for (const c of cases) {
      const [nx, ny, nz] = c.ct.dims;
      const d = c.ct.data;
      const lung: number[] = [];
      const body: number[] = [];
      const tumour: number[] = [];
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < d.length; i++) {
        const v = d[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
        if (c.lungs[i]) lung.push(v);
        else if (c.tumour[i]) tumour.push(v);
        else if (v > -500) body.push(v);
      }
      // Corners of the grid: air, unless the field of view is padded there.
      const corner: number[] = [];
      for (let k = 0; k < nz; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 3; i++) corner.push(d[i + nx * (j + ny * k)]!);
      if (c.meta.padHu === null) {
        const m = quantile(corner, 0.5);
        assert.ok(m >= -1024 && m <= -960, `${c.id}: air ${m}`);
      } else {
        assert.ok(corner.every((v) => v === c.meta.padHu), `${c.id}: padding`);
      }
      const lm = quantile(lung, 0.5);
      assert.ok(lm >= -900 && lm <= -760, `${c.id}: lung median ${lm}`);
      assert.ok(quantile(lung, 0.05) >= -1000, `${c.id}: lung 5 %`);
      const bm = quantile(body, 0.5);
      assert.ok(bm >= -120 && bm <= 80, `${c.id}: soft tissue median ${bm}`);
      assert.ok(quantile(body, 0.995) >= 250, `${c.id}: no bone`);
      assert.ok(max >= 400 && max <= 3071, `${c.id}: max ${max}`);
      assert.ok(min >= -3024, `${c.id}: min ${min}`);
      const tm = quantile(tumour, 0.5);
      const t = c.meta.tumour;
      if (t.shape === 'part-solid') assert.ok(tm >= -700 && tm <= 80, `${c.id}: part-solid median ${tm}`);
      else {
        // Mask voxels are at least half tumour, so even partial-volume edges stay well above lung;
        // the densest tenth is the solid HU plus noise and texture.
        const t90 = quantile(tumour, 0.9);
        assert.ok(tm >= -450, `${c.id}: solid tumour median ${tm}`);
        assert.ok(t90 >= t.solidHu - 60 && t90 <= t.solidHu + 80, `${c.id}: solid tumour 90 % ${t90} vs ${t.solidHu}`);
      }
    }
  });

  test('LPS and RAS storage of a case are exact mirrors with the same world geometry', () => {
    const lps = generateCase(SEED, 0, { order: 'LPS' });
    const ras = generateCase(SEED, 0, { order: 'RAS' });
    const [nx, ny, nz] = lps.ct.dims;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const p = i + nx * (j + ny * k);
          const q = nx - 1 - i + nx * (ny - 1 - j + ny * k);
          if (lps.ct.data[p] !== ras.ct.data[q] || lps.tumour[p] !== ras.tumour[q] || lps.lungs[p] !== ras.lungs[q]) {
            assert.fail(`voxel (${i},${j},${k}) differs between LPS and RAS`);
          }
        }
      }
    }
    const wl = world(lps.ct, 0, 0, 0);
    const wr = world(ras.ct, nx - 1, ny - 1, 0);
    for (let r = 0; r < 3; r++) assert.ok(Math.abs(wl[r]! - wr[r]!) < 1e-6);
    const cl = maskCentroidWorld(lps);
    const cr = maskCentroidWorld(ras);
    const t = lps.meta.tumour;
    assert.deepEqual(t.centreWorldMm, ras.meta.tumour.centreWorldMm);
    const tol = 0.3 * t.diameterMm + Math.hypot(...lps.ct.spacing);
    for (let r = 0; r < 3; r++) {
      assert.ok(Math.abs(cl[r]! - cr[r]!) < 1e-6, 'centroid moves with the voxel order');
      assert.ok(Math.abs(cl[r]! - t.centreWorldMm[r]!) < tol, `centroid ${cl[r]} vs centre ${t.centreWorldMm[r]}`);
    }
  });
});

describe('synth design ranges (no rendering)', () => {
  test('full-size grids: 512 in-plane at 0.6-1.0 mm, 90-300 slices of 1-5 mm, body in view', () => {
    for (let i = 0; i < 40; i++) {
      const rng = new Rng(caseSeed(3, i));
      const p = samplePatient(rng.fork());
      const g = chooseGrid(rng.fork(), p, 'full');
      assert.equal(g.dims[0], 512);
      assert.equal(g.dims[1], 512);
      assert.ok(g.dims[2] >= 90 && g.dims[2] <= 300, `nz ${g.dims[2]}`);
      assert.ok(g.spacing[0] >= 0.599 && g.spacing[0] <= 1.0, `dx ${g.spacing[0]}`);
      assert.ok(g.spacing[2] >= 1 && g.spacing[2] <= 5, `dz ${g.spacing[2]}`);
      assert.ok(2 * bodySection(p, 0.5 * p.H).a <= g.dims[0] * g.spacing[0], 'body wider than the field of view');
      // The lungs (z from 0 to H) are inside the slices.
      assert.ok(g.az[0]! < 0 && g.az[g.az.length - 1]! > p.H);
    }
  });

  test('small and medium grids: 96² × 48 and 160² × 80 voxels over the whole thorax; the same patient either way', () => {
    for (let i = 0; i < 20; i++) {
      const rng = new Rng(caseSeed(3, i));
      const p = samplePatient(rng.fork());
      const gridRng = rng.fork();
      const small = chooseGrid(gridRng.fork(), p, 'small');
      const medium = chooseGrid(gridRng.fork(), p, 'medium');
      assert.deepEqual(small.dims, [96, 96, 48]);
      assert.deepEqual(medium.dims, [160, 160, 80]);
      for (const g of [small, medium]) {
        assert.ok(2 * bodySection(p, 0.5 * p.H).a <= g.dims[0] * g.spacing[0], 'body wider than the field of view');
        assert.ok(g.az[0]! < 0 && g.az[g.az.length - 1]! > p.H);
      }
      assert.ok(medium.spacing[0] < 0.7 * small.spacing[0] && medium.spacing[0] > 1.5 && medium.spacing[0] < 3.2, `medium dx ${medium.spacing[0]}`);
      assert.ok(medium.spacing[2] < 0.7 * small.spacing[2], `medium dz ${medium.spacing[2]}`);
    }
  });

  test('tumours span 1 cm to 8 cm with enough large ones, every shape and location', () => {
    const d: number[] = [];
    const shapes = new Set<string>();
    const locs = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const rng = new Rng(1000 + i);
      const p = samplePatient(rng.fork());
      const t = planTumour(rng.fork(), p, 5);
      d.push(t.diameterMm);
      shapes.add(t.shape);
      locs.add(t.location);
    }
    assert.ok(Math.min(...d) >= MIN_TUMOUR_DIAMETER_MM && Math.min(...d) < 14, `smallest ${Math.min(...d)}`);
    assert.ok(Math.max(...d) <= 80 && Math.max(...d) > 55, `largest ${Math.max(...d)}`);
    assert.ok(d.filter((x) => x >= 30).length >= 12, 'too few large tumours');
    assert.deepEqual([...shapes].sort(), [...TUMOUR_SHAPES].sort());
    assert.deepEqual([...locs].sort(), [...TUMOUR_LOCATIONS].sort());
  });

  test('about 40 % of tumours of 2 cm or more get an opacity wedge, pointing into the lung', () => {
    let eligible = 0;
    let withOpacity = 0;
    for (let i = 0; i < 200; i++) {
      const rng = new Rng(2000 + i);
      const p = samplePatient(rng.fork());
      const t = planTumour(rng.fork(), p, 5);
      const o = planOpacity(rng.fork(), p, t);
      if (t.diameterMm < OPACITY_MIN_DIAMETER_MM) {
        assert.equal(o, null);
        continue;
      }
      eligible++;
      if (!o) continue;
      withOpacity++;
      assert.deepEqual(o.apex, t.centre);
      assert.ok(Math.abs(Math.hypot(...o.axis) - 1) < 1e-12);
      // At least a third of its axis beyond the tumour is in the lungs.
      let inLung = 0;
      for (let s = 1; s <= 12; s++) {
        const r = t.diameterMm / 2 + ((o.body.radius - t.diameterMm / 2) * s) / 12;
        if (lungSdf(p, t.centre[0] + r * o.axis[0], t.centre[1] + r * o.axis[1], t.centre[2] + r * o.axis[2]) < 0) inLung++;
      }
      assert.ok(inLung >= 4, `the wedge points out of the lungs (${inLung} of 12)`);
    }
    assert.ok(eligible >= 80, `${eligible} tumours of 2 cm or more`);
    const share = withOpacity / eligible;
    assert.ok(Math.abs(share - OPACITY_SHARE) < 0.15, `share ${share}`);
  });

  test('an opacity wedge is soft tissue in the lungs beside the tumour, outside its mask', () => {
    const all = Array.from({ length: 20 }, (_, i) => generateCase(11, i, { collapse: true }));
    const index = all.findIndex((x) => x.meta.adjacentOpacity !== null && x.meta.adjacentOpacity.reachMm > 40);
    assert.ok(index >= 0, 'no case with a large opacity among 20');
    const c = all[index]!;
    const o = c.meta.adjacentOpacity!;
    const apex = c.meta.tumour.centreWorldMm;
    const cosInner = Math.cos((0.8 * o.halfAngleDeg * Math.PI) / 180);
    const [nx, ny, nz] = c.ct.dims;
    let inside = 0;
    let dense = 0;
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const v = i + nx * (j + ny * k);
      if (!c.lungs[v]) continue;
      const w = world(c.ct, i, j, k);
      const d = [w[0] - apex[0], w[1] - apex[1], w[2] - apex[2]];
      const dist = Math.hypot(d[0]!, d[1]!, d[2]!);
      if (dist > o.reachMm || d[0]! * o.axis[0] + d[1]! * o.axis[1] + d[2]! * o.axis[2] < cosInner * dist) continue;
      inside++;
      if (c.ct.data[v]! > -300) dense++;
    }
    assert.ok(inside >= 20, `${c.id}: ${inside} lung voxels in the wedge`);
    // Airway lumens it crosses stay air (air bronchograms); the rest is the opacity's soft tissue.
    assert.ok(dense >= 0.9 * inside, `${c.id}: ${dense} of ${inside} wedge voxels denser than -300 HU`);

    // Without --collapse the same case has no wedge, and only its lung voxels differ.
    const plain = generateCase(11, index);
    assert.equal(plain.meta.adjacentOpacity, null);
    assert.deepEqual(plain.tumour, c.tumour);
    assert.deepEqual(plain.lungs, c.lungs);
    let changed = 0;
    for (let v = 0; v < c.ct.data.length; v++) {
      if (plain.ct.data[v] === c.ct.data[v]) continue;
      assert.equal(c.lungs[v], 1, `voxel ${v} outside the lungs changed`);
      changed++;
    }
    assert.ok(changed >= inside, `${changed} voxels changed`);
  });
});

describe('lungtumor synth (CLI)', () => {
  test('--help describes every option', () => {
    const r = runCli(['synth', '--help']);
    assert.equal(r.status, 0);
    for (const o of ['--out', '--cases', '--seed', '--size', '--collapse', '--force', '--quiet']) assert.ok(r.stdout.includes(o), o);
  });

  test('bad arguments exit 2 with a one-line message', (t) => {
    const dir = tempDir(t);
    for (const args of [['--cases', '0'], ['--size', 'huge'], ['--seed=-5']]) {
      const r = runCli(['synth', '--out', join(dir, 'x'), ...args]);
      assert.equal(r.status, 2, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!existsSync(join(dir, 'x')));
    }
    for (const args of [['--cases', 'ten'], []]) {
      const r = runCli(['synth', ...(args.length ? ['--out', join(dir, 'x')] : []), ...args]);
      assert.equal(r.status, 2, args.join(' '));
      assert.ok(/^lungtumor synth: \S/.test(r.stderr), r.stderr);
      assert.ok(!r.stderr.includes('    at '), 'stack trace printed');
    }
  });

  test('refuses a non-empty output folder unless --force, which replaces it', (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'cohort');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    const r = runCli(['synth', '--out', out, '--cases', '1', '--quiet']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(r.stderr.includes('--force'));
    assert.ok(existsSync(join(out, 'keep.txt')));
    const f = runCli(['synth', '--out', out, '--cases', '1', '--quiet', '--force']);
    assert.equal(f.status, 0, f.stderr);
    assert.ok(!existsSync(join(out, 'keep.txt')));
    assert.ok(existsSync(join(out, 'train', 'volume', 'SYN-0001_vol.nii.gz')));
  });
});
