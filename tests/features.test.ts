import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readNifti } from '../src/io/nifti.js';
import type { Vec3 } from '../src/core/volume.js';
import { Rng } from '../src/core/random.js';
import {
  gaussianSmooth,
  gaussianSmoothAt,
  hessianAt,
  hessianMeasures,
  latticeStep,
  localExtremum,
  symmetricEigenvalues3,
  type LatticeVolume,
} from '../src/features/filters.js';
import { findLungs } from '../src/features/lungs.js';
import { buildFeatureContext } from '../src/features/context.js';
import { extractFeatures, featureExtractor } from '../src/features/threads.js';
import { FeatureExtractor } from '../src/features/extract.js';
import { FEATURES, FEATURE_DESCRIPTIONS, FEATURE_NAMES } from '../src/features/catalog.js';
import { realDataDir } from './helpers.js';
import { lungHullRegion } from '../src/pipeline/eligible.js';

const idx = (d: Vec3, x: number, y: number, z: number): number => x + d[0] * (y + d[1] * z);

/** A volume filled by f(x, y, z) in mm (voxel centre × spacing). */
function volumeOf(d: Vec3, sp: Vec3, f: (x: number, y: number, z: number) => number): Float32Array {
  const out = new Float32Array(d[0] * d[1] * d[2]);
  for (let z = 0, i = 0; z < d[2]; z++) {
    for (let y = 0; y < d[1]; y++) for (let x = 0; x < d[0]; x++, i++) out[i] = f(x * sp[0], y * sp[1], z * sp[2]);
  }
  return out;
}

test('Gaussian smoothing of a constant is the constant, on the voxel grid and on a lattice', () => {
  const d: Vec3 = [17, 13, 11];
  const sp: Vec3 = [1.5, 1.5, 2.5];
  const c = volumeOf(d, sp, () => -321.5);
  for (const [sigma, step] of [[1, [1, 1, 1]], [4, [1, 1, 1]], [8, latticeStep(8, sp)]] as [number, Vec3][]) {
    const s = gaussianSmooth(c, d, sp, sigma, step);
    for (const v of s.data) assert.ok(Math.abs(v + 321.5) < 1e-3, `σ ${sigma}: ${v}`);
  }
});

test('gaussianSmoothAt gives exactly the full smoothing at the asked voxels', () => {
  const d: Vec3 = [15, 12, 10];
  const sp: Vec3 = [2, 2, 3];
  const rng = new Rng(3);
  const v = volumeOf(d, sp, () => rng.uniform(-1000, 500));
  const full = gaussianSmooth(v, d, sp, 3).data;
  const pts = Int32Array.from([0, 5, 77, 600, d[0] * d[1] * d[2] - 1]);
  const at = gaussianSmoothAt(v, d, sp, 3, pts);
  pts.forEach((p, k) => assert.equal(at[k], full[p]));
});

test('local min/max equal a brute-force box search, clamped at the borders', () => {
  const d: Vec3 = [14, 11, 9];
  const sp: Vec3 = [2, 2, 3];
  const rng = new Rng(7);
  const v = volumeOf(d, sp, () => Math.round(rng.uniform(-1000, 1000)));
  for (const radius of [3, 6, 12]) {
    const r = [Math.round(radius / sp[0]), Math.round(radius / sp[1]), Math.round(radius / sp[2])];
    const mn = localExtremum(v, d, sp, radius, 'min');
    const mx = localExtremum(v, d, sp, radius, 'max');
    for (let z = 0; z < d[2]; z++) {
      for (let y = 0; y < d[1]; y++) {
        for (let x = 0; x < d[0]; x++) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let c = Math.max(0, z - r[2]!); c <= Math.min(d[2] - 1, z + r[2]!); c++) {
            for (let b = Math.max(0, y - r[1]!); b <= Math.min(d[1] - 1, y + r[1]!); b++) {
              for (let a = Math.max(0, x - r[0]!); a <= Math.min(d[0] - 1, x + r[0]!); a++) {
                lo = Math.min(lo, v[idx(d, a, b, c)]!);
                hi = Math.max(hi, v[idx(d, a, b, c)]!);
              }
            }
          }
          assert.equal(mn[idx(d, x, y, z)], lo);
          assert.equal(mx[idx(d, x, y, z)], hi);
        }
      }
    }
  }
});

test('closed-form eigenvalues of a known symmetric matrix, sorted by magnitude', () => {
  // A = Q diag(1, -2, 5) Qᵀ with Q a rotation.
  const th = 0.7;
  const ph = -0.4;
  const rz = [[Math.cos(th), -Math.sin(th), 0], [Math.sin(th), Math.cos(th), 0], [0, 0, 1]];
  const rx = [[1, 0, 0], [0, Math.cos(ph), -Math.sin(ph)], [0, Math.sin(ph), Math.cos(ph)]];
  const mul = (a: number[][], b: number[][]): number[][] => a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
  const q = mul(rz, rx);
  const diag = [[1, 0, 0], [0, -2, 0], [0, 0, 5]];
  const qt = q[0]!.map((_, j) => q.map((r) => r[j]!));
  const a = mul(mul(q, diag), qt);
  const out = new Float64Array(3);
  symmetricEigenvalues3(a[0]![0]!, a[1]![1]!, a[2]![2]!, a[0]![1]!, a[0]![2]!, a[1]![2]!, out);
  assert.ok(Math.abs(out[0]! - 1) < 1e-9 && Math.abs(out[1]! + 2) < 1e-9 && Math.abs(out[2]! - 5) < 1e-9, `${out.join(',')}`);
  symmetricEigenvalues3(-3, 0.5, 2, 0, 0, 0, out);
  assert.deepEqual(Array.from(out), [0.5, 2, -3]);

  // The Hessian of a smoothed quadratic volume is the quadratic form's matrix (smoothing only adds a constant).
  const d: Vec3 = [21, 21, 21];
  const sp: Vec3 = [1, 1.5, 2];
  const c = [10, 10, 10];
  const vol = volumeOf(d, sp, (x, y, z) => {
    const p = [x - c[0]! * sp[0], y - c[1]! * sp[1], z - c[2]! * sp[2]];
    let s = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) s += 0.5 * p[i]! * a[i]![j]! * p[j]!;
    return s;
  });
  const sm: LatticeVolume = gaussianSmooth(vol, d, sp, 1);
  const h = new Float64Array(6);
  hessianAt(sm, sp, 10, 10, 10, h);
  const expect = [a[0]![0]!, a[1]![1]!, a[2]![2]!, a[0]![1]!, a[0]![2]!, a[1]![2]!];
  h.forEach((v, i) => assert.ok(Math.abs(v - expect[i]!) < 1e-2, `H[${i}] = ${v}, want ${expect[i]}`));
});

/** Bright ball of radius r mm (100 HU) in lung-like background (-900 HU), isotropic 1 mm grid. */
function ballVolume(n: number, rMm: number): { vol: Float32Array; d: Vec3; sp: Vec3; c: number } {
  const d: Vec3 = [n, n, n];
  const sp: Vec3 = [1, 1, 1];
  const c = (n - 1) / 2;
  const vol = volumeOf(d, sp, (x, y, z) => ((x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= rMm * rMm ? 100 : -900));
  return { vol, d, sp, c };
}

test('LoG and blobness peak at a ball\'s centre at the matching scale', () => {
  const { vol, d, sp, c } = ballVolume(33, 6);
  const centre = idx(d, c, c, c);
  const sigmas = [1.5, 6 / Math.sqrt(3), 7];
  const logAt: number[] = [];
  const blobAt: number[] = [];
  for (const s of sigmas) {
    const m = hessianMeasures(vol, d, sp, s);
    logAt.push(m.log[centre]!);
    blobAt.push(m.blobness[centre]!);
    if (s === sigmas[1]) {
      let best = 0;
      for (let i = 1; i < m.log.length; i++) if (m.log[i]! < m.log[best]!) best = i;
      const bx = best % d[0];
      const by = Math.floor(best / d[0]) % d[1];
      const bz = Math.floor(best / (d[0] * d[1]));
      assert.ok(Math.abs(bx - c) <= 1 && Math.abs(by - c) <= 1 && Math.abs(bz - c) <= 1, `LoG minimum at ${bx},${by},${bz}`);
      assert.ok(m.blobness[centre]! > 0.9 * Math.max(...m.blobness), 'blobness highest near the centre');
    }
  }
  assert.ok(logAt[1]! < logAt[0]! && logAt[1]! < logAt[2]!, `-LoG at centre over σ: ${logAt.join(', ')}`);
  assert.ok(blobAt[1]! > blobAt[0]! && blobAt[1]! > blobAt[2]!, `blobness at centre over σ: ${blobAt.join(', ')}`);
});

test('vesselness is high on a tube and low on a ball and a plate; plateness is high on a plate only', () => {
  const n = 31;
  const d: Vec3 = [n, n, n];
  const sp: Vec3 = [1, 1, 1];
  const c = (n - 1) / 2;
  const tube = volumeOf(d, sp, (x, y) => ((x - c) ** 2 + (y - c) ** 2 <= 2.5 ** 2 ? 50 : -900));
  const plate = volumeOf(d, sp, (x) => (Math.abs(x - c) <= 1.5 ? 50 : -900));
  const ball = ballVolume(n, 5).vol;
  const centre = idx(d, c, c, c);
  const at = (vol: Float32Array, s: number): { v: number; p: number } => {
    const m = hessianMeasures(vol, d, sp, s);
    return { v: m.vesselness[centre]!, p: m.plateness[centre]! };
  };
  const t = at(tube, 2);
  const b = at(ball, 3);
  const p = at(plate, 1.5);
  assert.ok(t.v > 0.5, `tube vesselness ${t.v}`);
  assert.ok(b.v < 0.2, `ball vesselness ${b.v}`);
  assert.ok(p.v < 0.05, `plate vesselness ${p.v}`);
  assert.ok(p.p > 0.8, `plate plateness ${p.p}`);
  assert.ok(t.p < 0.2 && b.p < 0.2, `tube/ball plateness ${t.p}, ${b.p}`);
});

/**
 * A small synthetic thorax (300 × 240 × 160 mm, isotropic grid): soft-tissue body (40 HU) in air, two lung ellipsoids
 * (-850 HU) with a few vessels, a trachea from the top, and a 7 mm-radius nodule against the
 * right lung's outer wall.
 */
function syntheticThorax(spacingMm = 2.5): {
  ct: Float32Array;
  d: Vec3;
  sp: Vec3;
  truthLungs: Uint8Array;
  nodule: Uint8Array;
  /** Voxels at least ~3 mm inside a lung's outline. */
  deepInLung: Uint8Array;
} {
  const sp: Vec3 = [spacingMm, spacingMm, spacingMm];
  const d: Vec3 = [Math.round(300 / spacingMm), Math.round(240 / spacingMm), Math.round(160 / spacingMm)];
  const n = d[0] * d[1] * d[2];
  const ct = new Float32Array(n).fill(-1000);
  const truthLungs = new Uint8Array(n);
  const nodule = new Uint8Array(n);
  const deepInLung = new Uint8Array(n);
  const cx = 150;
  const cy = 120;
  const lungC = [
    [cx - 55, cy, 85],
    [cx + 55, cy, 85],
  ];
  const rng = new Rng(11);
  const vessels = Array.from({ length: 6 }, () => [rng.uniform(-25, 25), rng.uniform(-30, 30)]);
  const noduleC = [cx + 55 + 38 - 5, cy, 85];
  for (let z = 0, i = 0; z < d[2]; z++) {
    for (let y = 0; y < d[1]; y++) {
      for (let x = 0; x < d[0]; x++, i++) {
        const X = x * sp[0];
        const Y = y * sp[1];
        const Z = z * sp[2];
        if (((X - cx) / 135) ** 2 + ((Y - cy) / 100) ** 2 <= 1) ct[i] = 40 + rng.normal(0, 10);
        for (const [lx, ly, lz] of lungC) {
          const q = ((X - lx!) / 38) ** 2 + ((Y - ly!) / 60) ** 2 + ((Z - lz!) / 70) ** 2;
          if (q <= 0.85) deepInLung[i] = 1;
          if (q <= 1) {
            truthLungs[i] = 1;
            ct[i] = -850 + rng.normal(0, 20);
            for (const [vx, vy] of vessels) if ((X - lx! - vx!) ** 2 + (Y - ly! - vy!) ** 2 <= 4) ct[i] = 30;
          }
        }
        if (Z > 120 && (X - cx) ** 2 + (Y - cy + 20) ** 2 <= 64) ct[i] = -1000;
        if ((X - noduleC[0]!) ** 2 + (Y - noduleC[1]!) ** 2 + (Z - noduleC[2]!) ** 2 <= 49) {
          ct[i] = 30 + rng.normal(0, 10);
          nodule[i] = 1;
        }
      }
    }
  }
  return { ct, d, sp, truthLungs, nodule, deepInLung };
}

function dice(a: Uint8Array, b: Uint8Array): number {
  let sa = 0;
  let sb = 0;
  let ab = 0;
  for (let i = 0; i < a.length; i++) {
    sa += a[i] ? 1 : 0;
    sb += b[i] ? 1 : 0;
    ab += a[i] && b[i] ? 1 : 0;
  }
  return (2 * ab) / Math.max(1, sa + sb);
}

test('lung finder on a synthetic thorax: both lungs, trachea left out, the juxta-pleural nodule inside', () => {
  const { ct, d, sp, truthLungs, nodule, deepInLung } = syntheticThorax();
  const r = findLungs(ct, d, sp);
  assert.equal(r.found, true, r.warnings.join('; '));
  assert.equal(r.airComponentsMl.length, 2, `components ${r.airComponentsMl.join(', ')}`);
  const dsc = dice(r.lungs, truthLungs);
  assert.ok(dsc >= 0.9, `Dice ${dsc}`);
  // The nodule's part inside the lung's outline must be in; its rim at the pleura, a voxel layer
  // that a 15 mm ball rolling along the convex chest wall can touch, mostly.
  let inside = 0;
  let total = 0;
  let deepIn = 0;
  let deep = 0;
  for (let i = 0; i < nodule.length; i++) {
    if (!nodule[i]) continue;
    total++;
    if (r.lungs[i]) inside++;
    if (deepInLung[i]) {
      deep++;
      if (r.lungs[i]) deepIn++;
    }
  }
  assert.ok(deep > 20 && deepIn === deep, `nodule voxels inside the lung's outline: ${deepIn}/${deep} in the filled lungs`);
  assert.ok(inside / total >= 0.75, `nodule inside the filled lungs: ${inside}/${total}`);
  // The trachea (above the lungs, at the midline) is not lung.
  const tz = Math.round(150 / sp[2]);
  assert.equal(r.lungs[idx(d, Math.round(150 / sp[0]), Math.round(100 / sp[1]), tz)], 0);
});

test('lung finder: lungs that touch in front of the heart are split without a warning; a missing lung is warned about', () => {
  const { ct, d, sp, truthLungs } = syntheticThorax();
  // An air bridge between the two lungs (the anterior junction line of many real scans).
  const joined = ct.slice();
  for (let z = 0, i = 0; z < d[2]; z++) {
    for (let y = 0; y < d[1]; y++) {
      for (let x = 0; x < d[0]; x++, i++) {
        if (Math.abs(x * sp[0] - 150) <= 45 && Math.abs(y * sp[1] - 150) <= 3 && Math.abs(z * sp[2] - 85) <= 20) joined[i] = -850;
      }
    }
  }
  const r = findLungs(joined, d, sp);
  assert.equal(r.found, true, r.warnings.join('; '));
  assert.equal(r.airComponentsMl.length, 1, `components ${r.airComponentsMl.join(', ')}`);
  assert.ok(!r.warnings.some((w) => w.includes('lung')), r.warnings.join('; '));
  assert.ok(dice(r.lungs, truthLungs) >= 0.9, `Dice ${dice(r.lungs, truthLungs)}`);
  // The left lung (low x) filled with soft tissue: one lung, on one side.
  const oneLung = ct.slice();
  for (let i = 0; i < oneLung.length; i++) if (truthLungs[i] && i % d[0] < 150 / sp[0]) oneLung[i] = 40;
  const one = findLungs(oneLung, d, sp);
  assert.equal(one.found, true, one.warnings.join('; '));
  assert.ok(one.warnings.some((w) => w.startsWith('only one lung found')), one.warnings.join('; '));
});

/** The sub-volume of `data` (dims d) in the voxel box [lo, hi) per axis. */
function cropVolume<T extends Float32Array | Uint8Array>(data: T, d: Vec3, lo: Vec3, hi: Vec3, make: (n: number) => T): { data: T; d: Vec3 } {
  const nd: Vec3 = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
  const out = make(nd[0] * nd[1] * nd[2]);
  let o = 0;
  for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++) out[o++] = data[idx(d, x, y, z)]!;
  return { data: out, d: nd };
}

test('lung finder on a crop around a juxta-pleural nodule: crop mode finds the lung, leaves the outside air out, and the nodule is eligible', () => {
  const { ct, d, sp, nodule } = syntheticThorax();
  // X 180-300 mm takes in the right lung's outer half, the chest wall and the air outside the body.
  const lo: Vec3 = [Math.round(180 / sp[0]), Math.round(60 / sp[1]), Math.round(50 / sp[2])];
  const hi: Vec3 = [d[0], Math.round(180 / sp[1]), Math.round(120 / sp[2])];
  const c = cropVolume(ct, d, lo, hi, (k) => new Float32Array(k));
  const cn = cropVolume(nodule, d, lo, hi, (k) => new Uint8Array(k));
  const r = findLungs(c.data, c.d, sp);
  assert.equal(r.found, true, r.warnings.join('; '));
  assert.equal(r.crop, true);
  assert.ok(r.warnings.some((w) => w.includes('crop mode')), r.warnings.join('; '));
  // Outside the body (X 295 mm) is not lung; inside the lung (X 200 mm) is.
  assert.equal(r.lungs[idx(c.d, Math.round(295 / sp[0]) - lo[0], Math.round(120 / sp[1]) - lo[1], Math.round(85 / sp[2]) - lo[2])], 0);
  assert.equal(r.lungs[idx(c.d, Math.round(200 / sp[0]) - lo[0], Math.round(120 / sp[1]) - lo[1], Math.round(85 / sp[2]) - lo[2])], 1);
  // The mediastinum is guessed on the side away from the lung: here the crop's low-x edge.
  assert.ok(r.midlineX < 0, `midline ${r.midlineX}`);
  const hull = lungHullRegion(r.lungs, c.d, r.midlineX);
  let inHull = 0;
  let total = 0;
  for (let i = 0; i < cn.data.length; i++) if (cn.data[i]) { total++; if (hull[i]) inHull++; }
  assert.ok(total > 50 && inHull / total >= 0.9, `nodule in the eligible region: ${inHull}/${total}`);
  // The whole thorax is not a crop.
  assert.equal(findLungs(ct, d, sp).crop, false);
});

test('features: names documented; rows bit-identical for 0, 1, 2 workers and any slab size; equal to whole-volume filters', async () => {
  assert.equal(new Set(FEATURE_NAMES).size, FEATURE_NAMES.length);
  for (const name of FEATURE_NAMES) assert.ok((FEATURE_DESCRIPTIONS[name] ?? '').length > 10, name);
  const { ct, d, sp } = syntheticThorax(3.5);
  const lung = findLungs(ct, d, sp);
  const ctx = buildFeatureContext(lung, d, sp);
  const rng = new Rng(5);
  const n = d[0] * d[1] * d[2];
  const picks: number[] = [0, n - 1, d[0] - 1];
  for (let i = 0; i < n && picks.length < 1500; i++) if (lung.lungs[i] && ct[i]! > -700) picks.push(i);
  while (picks.length < 2500) picks.push(rng.int(0, n - 1));
  const voxels = Int32Array.from(rng.shuffled(picks));
  const ref = await extractFeatures(ct, d, sp, ctx, voxels, { workers: 0 });
  assert.equal(ref.rows.length, voxels.length * FEATURE_NAMES.length);
  assert.deepEqual(ref.names, [...FEATURE_NAMES]);
  for (const v of ref.rows) assert.ok(Number.isFinite(v));
  const same = (a: Float32Array, b: Float32Array, what: string): void => {
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    let diff = 0;
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) diff++;
    assert.equal(diff, 0, `${what}: ${diff} values differ`);
  };
  same((await extractFeatures(ct, d, sp, ctx, voxels, { workers: 0, slabSlices: 3 })).rows, ref.rows, 'in-process, 3-slice slabs');
  same((await extractFeatures(ct, d, sp, ctx, voxels, { workers: 1, slabSlices: 7 })).rows, ref.rows, '1 worker, 7-slice slabs');
  // A kept extractor: threads and buffers reused between calls; the context may be built lazily.
  const fx = featureExtractor({ workers: 2 });
  try {
    same((await fx.extract(ct, d, sp, ctx, voxels, { slabSlices: 5 })).rows, ref.rows, '2 workers, 5-slice slabs');
    same((await fx.extract(ct, d, sp, () => buildFeatureContext(lung, d, sp), voxels)).rows, ref.rows, '2 workers again, lazy context');
  } finally {
    await fx.close();
  }

  // Slab results equal the whole-volume filter functions.
  const F = FEATURE_NAMES.length;
  const col = (name: string): number => FEATURE_NAMES.indexOf(name);
  const clamped = Float32Array.from(ct, (v) => Math.min(3071, Math.max(-1024, v)));
  const mean2 = gaussianSmooth(clamped, d, sp, 2).data;
  const min6 = localExtremum(clamped, d, sp, 6, 'min');
  const h4 = hessianMeasures(clamped, d, sp, 4);
  // σ 16 mm runs on a lattice (step 2 at 3.5 mm): voxels get trilinear values of its nodes.
  const step = latticeStep(16, sp);
  assert.ok(step[0] > 1, 'the test grid should put σ 16 mm on a lattice');
  const s16 = gaussianSmooth(clamped, d, sp, 16, step);
  const trilinear = (x: number, y: number, z: number): number => {
    const c = [x, y, z].map((g, a) => [Math.floor(g / step[a]!), (g - Math.floor(g / step[a]!) * step[a]!) / step[a]!] as const);
    let v = 0;
    for (let k = 0; k < 8; k++) {
      let w = 1;
      const node = [0, 1, 2].map((a) => {
        const hi = (k >> a) & 1;
        w *= hi ? c[a]![1] : 1 - c[a]![1];
        return Math.min(c[a]![0] + hi, s16.dims[a]! - 1);
      });
      v += w * s16.data[node[0]! + s16.dims[0] * (node[1]! + s16.dims[1] * node[2]!)]!;
    }
    return v;
  };
  for (let k = 0; k < voxels.length; k++) {
    const v = voxels[k]!;
    assert.equal(ref.rows[k * F + col('hu_mean_s2mm')], mean2[v]);
    assert.equal(ref.rows[k * F + col('hu_min_r6mm')], min6[v]);
    assert.equal(ref.rows[k * F + col('blobness_s4mm')], h4.blobness[v]);
    assert.equal(ref.rows[k * F + col('log_s4mm')], h4.log[v]);
    const x = v % d[0];
    const y = Math.floor(v / d[0]) % d[1];
    const z = Math.floor(v / (d[0] * d[1]));
    const want = trilinear(x, y, z);
    assert.ok(Math.abs(ref.rows[k * F + col('hu_mean_s16mm')]! - want) <= 1e-3 * (1 + Math.abs(want)), `hu_mean_s16mm at ${x},${y},${z}`);
  }
  // A subset of features, in a chosen order.
  const sub = await extractFeatures(ct, d, sp, ctx, voxels.subarray(0, 50), { workers: 0, names: ['dist_lung_wall_mm', 'hu'] });
  assert.deepEqual(sub.names, ['dist_lung_wall_mm', 'hu']);
  for (let k = 0; k < 50; k++) assert.equal(sub.rows[k * 2 + 1], ref.rows[k * F + col('hu')]);
  assert.equal(FEATURES.length, F);
});

/** Block-averages 2×2 in-plane (CT) or takes the majority (masks): a quick ~2 mm working grid. */
function halfInPlane(src: ArrayLike<number>, d: Vec3, mask: boolean): { data: Float32Array; d: Vec3 } {
  const nd: Vec3 = [Math.floor(d[0] / 2), Math.floor(d[1] / 2), d[2]];
  const out = new Float32Array(nd[0] * nd[1] * nd[2]);
  for (let z = 0, o = 0; z < nd[2]; z++) {
    for (let y = 0; y < nd[1]; y++) {
      for (let x = 0; x < nd[0]; x++, o++) {
        let s = 0;
        for (let b = 0; b < 2; b++) for (let a = 0; a < 2; a++) s += src[idx(d, 2 * x + a, 2 * y + b, z)]!;
        out[o] = mask ? (s >= 2 ? 1 : 0) : s / 4;
      }
    }
  }
  return { data: out, d: nd };
}

test('lung finder on LUNG1-001 (real): Dice against its lung mask >= 0.9', { skip: realDataDir() === null }, () => {
  const dir = realDataDir()!;
  const vol = readNifti(join(dir, 'train', 'volume', 'LUNG1-001_vol.nii.gz'));
  const ref = readNifti(join(dir, 'train', 'lungs_seg', 'LUNG1-001_lungseg.nii.gz'));
  const ct = halfInPlane(vol.data, vol.dims, false);
  const truth = halfInPlane(ref.data, ref.dims, true);
  const sp: Vec3 = [vol.spacing[0] * 2, vol.spacing[1] * 2, vol.spacing[2]];
  const r = findLungs(ct.data, ct.d, sp);
  assert.equal(r.found, true, r.warnings.join('; '));
  const dsc = dice(r.lungs, Uint8Array.from(truth.data));
  assert.ok(dsc >= 0.9, `Dice ${dsc.toFixed(4)}`);
});

test('lung finder on the RADPHANTOM crops (real): crop mode; >= 90 % of each tumour eligible; features still work', { skip: realDataDir() === null }, async () => {
  const dir = realDataDir()!;
  for (const id of ['RADPHANTOM-1', 'RADPHANTOM-2', 'RADPHANTOM-3']) {
    const vol = readNifti(join(dir, 'train', 'volume', `${id}_vol.nii.gz`));
    const seg = readNifti(join(dir, 'train', 'seg', `${id}_seg.nii.gz`));
    const ct = Float32Array.from(vol.data);
    const r = findLungs(ct, vol.dims, vol.spacing);
    assert.ok(r.found && r.crop, `${id}: ${r.warnings.join('; ')}`);
    const hull = lungHullRegion(r.lungs, vol.dims, r.midlineX);
    let inHull = 0;
    let total = 0;
    for (let i = 0; i < seg.data.length; i++) if (seg.data[i]) { total++; if (hull[i]) inHull++; }
    assert.ok(inHull / total >= 0.9, `${id}: tumour in the eligible region ${inHull}/${total}`);
    if (id !== 'RADPHANTOM-2') continue;
    const ctx = buildFeatureContext(r, vol.dims, vol.spacing);
    const voxels = Int32Array.from({ length: 200 }, (_, k) => Math.floor((k * ct.length) / 200));
    const f = await extractFeatures(ct, vol.dims, vol.spacing, ctx, voxels, { workers: 0 });
    for (const v of f.rows) assert.ok(Number.isFinite(v));
  }
});

test('a FeatureExtractor with worker threads needs a thread source; with none it computes in its own thread', async () => {
  assert.throws(() => new FeatureExtractor({ workers: 2 }), /need a thread source/);
  const fx = new FeatureExtractor({ workers: 0 });
  await fx.close();
});
