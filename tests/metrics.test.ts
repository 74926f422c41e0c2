/**
 * The challenge's metrics: hand-known answers, exact geometry against brute force, cv2's radius
 * against golden numbers from scripts/kit_reference.py (cv2/numpy), and `lungtumor evaluate`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync, mkdirSync, symlinkSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { realDataDir, repoRoot, runCli, tempDir } from './helpers.js';
import type { Vec3 } from '../src/core/volume.js';
import { identityAffine } from '../src/core/volume.js';
import { readNifti, writeNifti, writeNiftiMask } from '../src/io/nifti.js';
import { dice } from '../src/metrics/dice.js';
import {
  feretDiameterMm,
  foregroundCount,
  kitRecistMm,
  kitRecistRadiusPx,
  measureMask,
  volumeMl,
} from '../src/metrics/measures.js';
import { convexHullOfSorted, minEnclosingCircle, supportRadiusPx, CV2_RADIUS_EPS_PX } from '../src/metrics/plane.js';
import { pyRound } from '../src/metrics/pyround.js';
import { relativeError, scoreCase, scoreCohort } from '../src/metrics/score.js';
import { readMask } from '../src/metrics/maskFolder.js';
import { foregroundIndices } from '../src/metrics/sparse.js';

const f32 = Math.fround;
/** Golden numbers from scripts/kit_reference.py (read from the source tree: tsc does not copy JSON). */
const goldenDir = join(repoRoot, 'tests', 'golden');

/** A mask of `dims` with the listed (x, y, z) voxels set. */
function maskOf(dims: Vec3, voxels: [number, number, number][]): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [x, y, z] of voxels) m[x + dims[0] * (y + dims[1] * z)] = 1;
  return m;
}

/** Pixels of a disc (x-cx)² + (y-cy)² <= r2 in slice z. */
function disc(dims: Vec3, cx: number, cy: number, r2: number, z = 0): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r2) out.push([x, y, z]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hand-known answers

test('a disc of radius 10 px: kit RECIST is 2 × float32(10 + 1e-4) × pixdim[1], Feret 20 px', () => {
  const dims: Vec3 = [41, 41, 3];
  const m = maskOf(dims, disc(dims, 20, 20, 100, 1));
  const pixdim: Vec3 = [0.8, 0.8, 2];
  // (±10, 0) and (0, ±10) are pixels: the circle through them has radius exactly 10.
  assert.equal(kitRecistRadiusPx(m, dims), f32(10 + CV2_RADIUS_EPS_PX));
  assert.equal(kitRecistMm(m, dims, pixdim), 2 * f32(10 + CV2_RADIUS_EPS_PX) * 0.8);
  assert.ok(Math.abs(feretDiameterMm(m, dims, pixdim) - 16) < 1e-12);
  assert.equal(volumeMl(foregroundCount(m), pixdim), pyRound((317 * 0.8 * 0.8 * 2) / 1000, 2)); // 317 pixels for r² <= 100
  assert.equal(foregroundCount(m), 317);
});

test('a single voxel: cv2 reports 1e-4 px, the Feret diameter is 0', () => {
  const dims: Vec3 = [5, 6, 7];
  const m = maskOf(dims, [[2, 3, 4]]);
  const pixdim: Vec3 = [0.9765625, 0.9765625, 3];
  assert.equal(kitRecistMm(m, dims, pixdim), 2 * CV2_RADIUS_EPS_PX * 0.9765625);
  assert.equal(feretDiameterMm(m, dims, pixdim), 0);
  assert.equal(measureMask(m, dims, pixdim).volumeMl, 0); // 0.00286 mL rounds to 0.0
});

test('a mask touching the image border is measured whole (cv2 pads with background)', () => {
  const dims: Vec3 = [6, 6, 1];
  const m = new Uint8Array(36).fill(1); // the whole slice: corners (0,0) and (5,5) are 5√2 apart
  assert.equal(kitRecistRadiusPx(m, dims), f32(f32(f32(Math.sqrt(50)) / 2) + CV2_RADIUS_EPS_PX));
  assert.ok(Math.abs(feretDiameterMm(m, dims, [1, 1, 1]) - Math.sqrt(50)) < 1e-12);
});

test('two components in one slice: the kit takes the larger circle, Feret spans both', () => {
  const dims: Vec3 = [30, 20, 2];
  const square: [number, number, number][] = [];
  for (let x = 0; x < 3; x++) for (let y = 0; y < 3; y++) square.push([x, y, 1]);
  const line: [number, number, number][] = [];
  for (let x = 20; x <= 26; x++) line.push([x, 15, 1]); // 7 px: a diameter of 6 px
  const m = maskOf(dims, [...square, ...line]);
  assert.equal(kitRecistRadiusPx(m, dims), f32(3 + CV2_RADIUS_EPS_PX));
  // Farthest pixel centres: (0, 0) and (26, 15).
  assert.ok(Math.abs(feretDiameterMm(m, dims, [1, 1, 1]) - Math.hypot(26, 15)) < 1e-12);
  // Diagonal neighbours are one component (8-connectivity): a diagonal of 5 px has diameter 4√2.
  const diag = maskOf([8, 8, 1], [0, 1, 2, 3, 4].map((i) => [i, i, 0] as [number, number, number]));
  assert.equal(kitRecistRadiusPx(diag, [8, 8, 1]), f32(f32(f32(Math.sqrt(32)) / 2) + CV2_RADIUS_EPS_PX));
});

test('a run ending on the last column does not continue on the next row', () => {
  const dims: Vec3 = [4, 3, 1];
  // (3, 0) and (0, 1) are consecutive in memory but 3 px apart in the slice: two components.
  const m = maskOf(dims, [[3, 0, 0], [0, 1, 0]]);
  assert.equal(kitRecistRadiusPx(m, dims), CV2_RADIUS_EPS_PX);
  assert.ok(Math.abs(feretDiameterMm(m, dims, [1, 1, 1]) - Math.hypot(3, 1)) < 1e-12);
});

test('RECIST looks at one axial slice at a time; the kit scales by pixdim[1] only, Feret by both', () => {
  const dims: Vec3 = [10, 10, 10];
  const column = maskOf(dims, [0, 1, 2, 3, 4, 5, 6, 7, 8].map((z) => [4, 4, z] as [number, number, number]));
  assert.equal(kitRecistRadiusPx(column, dims), CV2_RADIUS_EPS_PX); // one voxel per slice
  const row = maskOf(dims, [[0, 2, 5], [0, 9, 5]]); // 7 px apart along y, two components
  const pixdim: Vec3 = [0.5, 2, 3];
  assert.equal(kitRecistMm(row, dims, pixdim), 2 * CV2_RADIUS_EPS_PX * 0.5);
  assert.ok(Math.abs(feretDiameterMm(row, dims, pixdim) - 14) < 1e-12);
});

test('empty masks measure 0 everywhere', () => {
  const dims: Vec3 = [4, 4, 4];
  const m = new Uint8Array(64);
  assert.deepEqual(measureMask(m, dims, [1, 1, 1]), { voxels: 0, volumeMl: 0, recistMm: 0, feretMm: 0 });
  assert.equal(dice(m, m), 1);
});

test('Dice: hand counts, and the 1e-7 smoothing', () => {
  const a = Uint8Array.of(1, 1, 1, 0, 0, 0);
  const b = Uint8Array.of(0, 1, 1, 1, 0, 0);
  assert.equal(dice(a, b), (4 + 1e-7) / (4 + 2 + 1e-7));
  assert.equal(dice(a, new Uint8Array(6)), 1e-7 / (3 + 1e-7));
  assert.equal(dice(Uint8Array.of(0, 2, 0), Uint8Array.of(0, 1, 0)), 1); // any non-zero is foreground
});

test('0/0 and missing cases: empty truth scores 0 only for an empty prediction; missing scores worst', () => {
  assert.equal(relativeError(0, 0), 0);
  assert.equal(relativeError(3, 0), 1);
  assert.equal(relativeError(15, 10), 0.5);
  assert.equal(relativeError(40, 10), 1);
  const empty = { voxels: 0, volumeMl: 0, recistMm: 0, feretMm: 0 };
  const some = { voxels: 10, volumeMl: 2, recistMm: 8, feretMm: 7 };
  const both = scoreCase('A', { dice: 1, measures: empty }, empty);
  assert.deepEqual([both.dice, both.recist_err, both.volume_err], [1, 0, 0]);
  const extra = scoreCase('B', { dice: 1e-7 / (10 + 1e-7), measures: some }, empty);
  assert.deepEqual([extra.recist_err, extra.volume_err], [1, 1]);
  const missing = scoreCase('C', null, some);
  assert.deepEqual([missing.dice, missing.recist_err, missing.volume_err, missing.recist_pred], [0, 1, 1, null]);
  const cohort = scoreCohort([both, missing]);
  assert.equal(cohort.mean_dice, 0.5);
  assert.equal(cohort.score, (1 - 0.5 + 0.5 + 0.5) / 3);
});

test('pyRound rounds like Python round(): exact binary value, ties to even', () => {
  const cases: [number, number, number][] = [
    [2.675, 2, 2.67], // 2.67499999... in binary
    [0.125, 2, 0.12], // exact tie → even
    [0.375, 2, 0.38],
    [-0.125, 2, -0.12],
    [1.005, 2, 1.0],
    [2.5, 0, 2],
    [3.5, 0, 4],
    [6.70880126953125, 2, 6.71],
    [156.32343292236328, 2, 156.32],
    [0.004999, 2, 0],
    [1e300, 2, 1e300],
  ];
  for (const [x, nd, want] of cases) assert.equal(pyRound(x, nd), want, `round(${x}, ${nd})`);
  assert.ok(Object.is(pyRound(-0.001, 2), -0)); // Python: -0.0
});

test('volume: voxels × pixdim product / 1000, in float64, rounded to 0.01 mL', () => {
  assert.equal(volumeMl(5428, [0.703125, 0.703125, 2.5]), 6.71);
  assert.equal(volumeMl(54639, [0.9765625, 0.9765625, 3]), 156.32);
  assert.equal(volumeMl(0, [1, 1, 1]), 0);
});

// ---------------------------------------------------------------------------------------------
// Exact geometry against brute force

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

test('minimum enclosing circle equals the brute-force smallest circle through 2 or 3 points', () => {
  const rnd = lcg(7);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(rnd() * 12);
    const raw: [number, number][] = [];
    for (let i = 0; i < n; i++) raw.push([Math.floor(rnd() * 30), Math.floor(rnd() * 30)]);
    raw.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const pts = Int32Array.from(raw.flat());
    const hull = convexHullOfSorted(pts, n);
    const s = minEnclosingCircle(hull)!;
    const r = supportRadiusPx(hull, s);
    // Brute force: the smallest circle through 2 (as diameter) or 3 points that holds every point.
    let best = 0;
    if (new Set(raw.map((p) => p.join())).size > 1) {
      best = Infinity;
      const holds = (cx: number, cy: number, rr: number): boolean => raw.every(([x, y]) => Math.hypot(x - cx, y - cy) <= rr + 1e-9);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const [ax, ay] = raw[i]!;
          const [bx, by] = raw[j]!;
          const rr = Math.hypot(ax - bx, ay - by) / 2;
          if (rr < best && holds((ax + bx) / 2, (ay + by) / 2, rr)) best = rr;
          for (let k = j + 1; k < n; k++) {
            const [qx, qy] = raw[k]!;
            const d = 2 * (ax * (by - qy) + bx * (qy - ay) + qx * (ay - by));
            if (d === 0) continue;
            const ux = ((ax * ax + ay * ay) * (by - qy) + (bx * bx + by * by) * (qy - ay) + (qx * qx + qy * qy) * (ay - by)) / d;
            const uy = ((ax * ax + ay * ay) * (qx - bx) + (bx * bx + by * by) * (ax - qx) + (qx * qx + qy * qy) * (bx - ax)) / d;
            const r3 = Math.hypot(ax - ux, ay - uy);
            if (r3 < best && holds(ux, uy, r3)) best = r3;
          }
        }
      }
    }
    assert.ok(Math.abs(r - best) < 1e-9, `trial ${trial}: ${r} vs brute force ${best}`);
  }
});

test('wide slices (span > 4096 px) take the BigInt in-circle path and stay exact', () => {
  // Triangle (0, 0), (4200, 0), (2100, 3000): circumradius 4200·13410000 / (4·6.3e6) = 2235 exactly.
  const pts = Int32Array.of(0, 0, 4200, 0, 2100, 3000, 2100, 10, 1000, 500, 3000, 900);
  const s = minEnclosingCircle(pts)!;
  assert.equal(s.length, 3);
  assert.equal(supportRadiusPx(pts, s), 2235);
});

// ---------------------------------------------------------------------------------------------
// cv2's radius on hash-defined masks (golden numbers from cv2 via scripts/kit_reference.py)

function fmix32(h: number): number {
  h >>>= 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

const SYNTH_SEED = 0x2545f491;

/** scripts/kit_reference.py synthetic_mask(t), as a [nx, ny, 1] NIfTI-ordered mask. */
function syntheticMask(t: number): { mask: Uint8Array; dims: Vec3 } {
  const h = (k: number): number => fmix32(((t * 16 + k) ^ SYNTH_SEED) >>> 0);
  const nx = 3 + (h(0) % 70);
  const ny = 3 + (h(1) % 70);
  const m = Math.min(nx, ny);
  const mask = new Uint8Array(nx * ny);
  const set = (test: (x: number, y: number) => boolean): void => {
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) if (test(x, y)) mask[x + nx * y] = 1;
  };
  const kind = t % 5;
  if (kind === 0) {
    const dens = 5 + (h(2) % 50);
    set((x, y) => fmix32(((t * 65536 + x + nx * y) ^ SYNTH_SEED) >>> 0) % 100 < dens);
  } else if (kind === 1) {
    const [cx, cy, r2] = [h(2) % nx, h(3) % ny, h(4) % (m * m + 1)];
    set((x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r2);
  } else if (kind === 2) {
    for (let d = 0; d < 3; d++) {
      const [cx, cy, r2] = [h(2 + 3 * d) % nx, h(3 + 3 * d) % ny, h(4 + 3 * d) % (Math.floor((m * m) / 4) + 1)];
      set((x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r2);
    }
  } else if (kind === 3) {
    const [cx, cy, r4] = [h(2) % (2 * nx), h(3) % (2 * ny), h(4) % (m * m + 1)];
    set((x, y) => (2 * x - cx) ** 2 + (2 * y - cy) ** 2 <= r4);
  } else {
    const a = 1 + (h(2) % 9);
    const b = 1 + (h(3) % 9);
    const c = (h(4) % (2 * Math.min(a, b) + 1)) - Math.min(a, b);
    const [cx, cy] = [h(5) % nx, h(6) % ny];
    const limit = h(7) % (Math.floor((a * nx * nx) / 4) + 1);
    set((x, y) => a * (x - cx) ** 2 + b * (y - cy) ** 2 + c * (x - cx) * (y - cy) <= limit);
  }
  return { mask, dims: [nx, ny, 1] };
}

test("cv2's float32 minEnclosingCircle radius is reproduced on 500 synthetic slices", (t) => {
  const golden = JSON.parse(readFileSync(join(goldenDir, 'synthetic.json'), 'utf8')) as { count: number; radius_px: number[]; feret_mm: number[] };
  let exact = 0;
  let worstRadius = 0;
  let worstFeret = 0;
  for (let i = 0; i < golden.count; i++) {
    const { mask, dims } = syntheticMask(i);
    const r = kitRecistRadiusPx(mask, dims);
    const want = golden.radius_px[i]!;
    if (r === want) exact++;
    worstRadius = Math.max(worstRadius, Math.abs(r - want));
    worstFeret = Math.max(worstFeret, Math.abs(feretDiameterMm(mask, dims, [0.7, 0.9, 1]) - golden.feret_mm[i]!));
  }
  t.diagnostic(`bit-identical radii: ${exact}/${golden.count}; worst |Δr| ${worstRadius} px; worst |ΔFeret| ${worstFeret} mm`);
  assert.ok(worstRadius <= 1e-4, `worst radius deviation ${worstRadius} px`);
  assert.ok(exact >= golden.count - 2, `only ${exact}/${golden.count} radii are bit-identical to cv2`);
  assert.ok(worstFeret < 1e-9);
});

// ---------------------------------------------------------------------------------------------
// Real masks and their perturbations against the kit (golden numbers from cv2/numpy)

/** The perturbations of scripts/kit_reference.py, on NIfTI-ordered masks. */
const PERTURBATIONS: Record<string, (m: Uint8Array, dims: Vec3) => Uint8Array> = {
  dilate6: (m, d) => morph6(m, d, true),
  erode6: (m, d) => morph6(m, d, false),
  shift: (m, d) => shift(m, d, [3, -2, 1]),
  edge: (m, d) => {
    const [nx, ny] = d;
    let minX = Infinity;
    let minY = Infinity;
    for (const i of foregroundIndices(m)) {
      const x = i % nx;
      const y = Math.floor(i / nx) % ny;
      if (x < minX) minX = x;
      if (y < minY) minY = y;
    }
    return minX === Infinity ? m.slice() : shift(m, d, [-(minX + 2), -(minY + 1), 0]);
  },
  empty: (m) => new Uint8Array(m.length),
  random: randomMask,
};

/** 6-neighbour dilation or erosion (outside the grid is background); touches only foreground voxels. */
function morph6(m: Uint8Array, [nx, ny, nz]: Vec3, grow: boolean): Uint8Array {
  const out = grow ? m.slice() : new Uint8Array(m.length);
  const steps = [1, -1, nx, -nx, nx * ny, -nx * ny];
  for (const i of foregroundIndices(m)) {
    const x = i % nx;
    const y = Math.floor(i / nx) % ny;
    const z = Math.floor(i / (nx * ny));
    const inside = [x + 1 < nx, x > 0, y + 1 < ny, y > 0, z + 1 < nz, z > 0];
    if (grow) {
      for (let k = 0; k < 6; k++) if (inside[k]) out[i + steps[k]!] = 1;
    } else {
      let all = true;
      for (let k = 0; k < 6 && all; k++) all = inside[k]! && m[i + steps[k]!] !== 0;
      if (all) out[i] = 1;
    }
  }
  return out;
}

function shift(m: Uint8Array, [nx, ny, nz]: Vec3, [dx, dy, dz]: Vec3): Uint8Array {
  const out = new Uint8Array(m.length);
  for (const i of foregroundIndices(m)) {
    const x = (i % nx) + dx;
    const y = (Math.floor(i / nx) % ny) + dy;
    const z = Math.floor(i / (nx * ny)) + dz;
    if (x >= 0 && y >= 0 && z >= 0 && x < nx && y < ny && z < nz) out[x + nx * (y + ny * z)] = 1;
  }
  return out;
}

function randomMask(m: Uint8Array, [nx, ny, nz]: Vec3): Uint8Array {
  const out = new Uint8Array(m.length);
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-1, -1, -1];
  for (const i of foregroundIndices(m)) {
    const c = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a]!, c[a]!);
      hi[a] = Math.max(hi[a]!, c[a]!);
    }
  }
  if (hi[0] === -1) return out;
  const n = [nx, ny, nz];
  for (let a = 0; a < 3; a++) {
    lo[a] = Math.max(0, lo[a]! - 3);
    hi[a] = Math.min(n[a]! - 1, hi[a]! + 3);
  }
  for (let z = lo[2]!; z <= hi[2]!; z++) {
    for (let y = lo[1]!; y <= hi[1]!; y++) {
      for (let x = lo[0]!; x <= hi[0]!; x++) {
        const i = x + nx * (y + ny * z);
        if (fmix32((i ^ 0x9e3779b9) >>> 0) % 1000 < 350) out[i] = 1;
      }
    }
  }
  return out;
}

interface GoldenMeasures {
  recist: number;
  volume: number;
  feret: number;
  voxels: number;
  dice?: number;
}
interface GoldenCase {
  id: string;
  truth: GoldenMeasures;
  perturbed: Record<string, GoldenMeasures>;
}

test('real masks and perturbations (dilated, eroded, shifted, at the edge, empty, random) agree with the kit', { timeout: 120_000 }, (t) => {
  const real = realDataDir();
  if (!real) {
    t.skip('no real data (../shared/data/real)');
    return;
  }
  const golden = JSON.parse(readFileSync(join(goldenDir, 'perturbed.json'), 'utf8')) as { cases: GoldenCase[] };
  const segDir = join(real, 'train', 'seg');
  const files = readdirSync(segDir);
  let worst = 0;
  let exactRecist = 0;
  let total = 0;
  for (const g of golden.cases) {
    const file = files.find((f) => f.startsWith(`${g.id}_`));
    assert.ok(file, `no mask for ${g.id}`);
    const truth = readMask(join(segDir, file));
    const check = (label: string, got: ReturnType<typeof measureMask>, want: GoldenMeasures, d?: number): void => {
      assert.equal(got.voxels, want.voxels, `${label} voxels`);
      assert.equal(got.volumeMl, want.volume, `${label} volume`);
      const dev = Math.max(
        Math.abs(got.recistMm - want.recist),
        Math.abs(got.feretMm - want.feret),
        d === undefined ? 0 : Math.abs(d - want.dice!),
      );
      assert.ok(dev <= 1e-3, `${label}: recist ${got.recistMm} vs ${want.recist}, feret ${got.feretMm} vs ${want.feret}, dice ${d} vs ${want.dice}`);
      worst = Math.max(worst, dev);
      total++;
      if (got.recistMm === want.recist) exactRecist++;
    };
    const truthMeasures = measureMask(truth.mask, truth.dims, truth.pixdim);
    check(`${g.id} truth`, truthMeasures, g.truth);
    for (const [name, want] of Object.entries(g.perturbed)) {
      const p = PERTURBATIONS[name]!(truth.mask, truth.dims);
      const got = measureMask(p, truth.dims, truth.pixdim);
      const d = dice(p, truth.mask);
      check(`${g.id} ${name}`, got, want, d);
      // The evaluate row derived from these numbers matches the one derived from the kit's.
      const row = scoreCase(g.id, { dice: d, measures: got }, truthMeasures);
      assert.ok(Math.abs(row.recist_err - relativeError(want.recist, g.truth.recist)) <= 1e-3);
      assert.equal(row.volume_err, relativeError(want.volume, g.truth.volume));
    }
  }
  t.diagnostic(`worst deviation from the kit: ${worst} (mm or Dice); kit RECIST bit-identical in ${exactRecist}/${total} masks`);
});

test('lungtumor evaluate on real perturbed masks: JSON per-case values match the kit; missing case scored', { timeout: 120_000 }, (t) => {
  const real = realDataDir();
  if (!real) {
    t.skip('no real data (../shared/data/real)');
    return;
  }
  const golden = JSON.parse(readFileSync(join(goldenDir, 'perturbed.json'), 'utf8')) as { cases: GoldenCase[] };
  const dir = tempDir(t);
  const truthDir = join(dir, 'truth');
  const predDir = join(dir, 'pred');
  mkdirSync(truthDir);
  mkdirSync(predDir);
  const ids = ['RADPHANTOM-1', 'RADPHANTOM-2', 'RADPHANTOM-3'];
  const plan: Record<string, string> = { 'RADPHANTOM-1': 'dilate6', 'RADPHANTOM-2': 'random' }; // RADPHANTOM-3: no prediction
  for (const id of ids) {
    const src = join(real, 'train', 'seg', `${id}_seg.nii.gz`);
    symlinkSync(src, join(truthDir, `${id}_seg.nii.gz`));
    const name = plan[id];
    if (!name) continue;
    const vol = readNifti(src);
    const m = readMask(src);
    writeNiftiMask(join(predDir, `${id}_pred.nii.gz`), PERTURBATIONS[name]!(m.mask, m.dims), vol);
  }
  const jsonPath = join(dir, 'out', 'eval.json');
  const r = runCli(['evaluate', '--pred', predDir, '--truth', truthDir, '--json', jsonPath]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /score/);
  assert.match(r.stdout, /RADPHANTOM-3/);
  const out = JSON.parse(readFileSync(jsonPath, 'utf8'));
  assert.deepEqual(Object.keys(out).sort(), ['cases', 'mean_dice', 'mean_recist_err', 'mean_volume_err', 'missing', 'score']);
  assert.deepEqual(out.missing, ['RADPHANTOM-3']);
  for (const c of out.cases) {
    assert.deepEqual(Object.keys(c), ['id', 'dice', 'recist_pred', 'recist_true', 'recist_err', 'volume_pred', 'volume_true', 'volume_err', 'feret_pred', 'feret_true']);
    const g = golden.cases.find((x) => x.id === c.id)!;
    assert.ok(Math.abs(c.recist_true - g.truth.recist) <= 1e-3);
    assert.equal(c.volume_true, g.truth.volume);
    assert.ok(Math.abs(c.feret_true - g.truth.feret) <= 1e-3);
    const name = plan[c.id];
    if (!name) {
      assert.deepEqual([c.dice, c.recist_err, c.volume_err, c.recist_pred], [0, 1, 1, null]);
      continue;
    }
    const want = g.perturbed[name]!;
    assert.ok(Math.abs(c.dice - want.dice!) <= 1e-3);
    assert.ok(Math.abs(c.recist_pred - want.recist) <= 1e-3);
    assert.equal(c.volume_pred, want.volume);
    assert.ok(Math.abs(c.feret_pred - want.feret) <= 1e-3);
    assert.ok(Math.abs(c.recist_err - relativeError(want.recist, g.truth.recist)) <= 1e-3);
    assert.equal(c.volume_err, relativeError(want.volume, g.truth.volume));
  }
  const mean = (k: string): number => out.cases.reduce((s: number, c: Record<string, number>) => s + c[k]!, 0) / out.cases.length;
  assert.ok(Math.abs(out.score - (1 - mean('dice') + mean('recist_err') + mean('volume_err')) / 3) < 1e-12);
});

// ---------------------------------------------------------------------------------------------
// CLI errors: one line, exit 2, nothing written

function writeMaskFile(path: string, dims: Vec3, voxels: [number, number, number][]): void {
  const spacing: Vec3 = [0.8, 0.8, 2];
  writeNifti(path, { data: maskOf(dims, voxels), dims, spacing, affine: identityAffine(spacing) });
}

function assertOneLineError(r: { status: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('lungtumor'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

test('evaluate: missing folder, no matching case, grid mismatch → exit 2, no JSON; other files are named and passed over', (t) => {
  const dir = tempDir(t);
  const truth = join(dir, 'truth');
  const pred = join(dir, 'pred');
  mkdirSync(truth);
  mkdirSync(pred);
  writeMaskFile(join(truth, 'A_seg.nii.gz'), [8, 8, 4], [[2, 2, 1], [3, 2, 1]]);
  writeMaskFile(join(truth, 'B_seg.nii.gz'), [8, 8, 4], [[4, 4, 2]]);
  const json = join(dir, 'out.json');
  const run = (args: string[]): ReturnType<typeof runCli> => runCli(['evaluate', ...args, '--json', json]);

  assertOneLineError(run(['--pred', join(dir, 'nope'), '--truth', truth]), /nope/);
  writeMaskFile(join(pred, 'C_pred.nii.gz'), [8, 8, 4], [[2, 2, 1]]);
  assertOneLineError(run(['--pred', pred, '--truth', truth]), /no case matches/);
  writeMaskFile(join(pred, 'A_pred.nii.gz'), [8, 9, 4], [[2, 2, 1]]);
  assertOneLineError(run(['--pred', pred, '--truth', truth]), /A_pred\.nii\.gz.*8x9x4.*8x8x4/);
  writeMaskFile(join(pred, 'A_pred.nii.gz'), [8, 8, 4], [[2, 2, 1]]);
  assert.equal(existsSync(json), false);
  writeFileSync(join(pred, 'notes.txt'), 'hello');

  // And once everything is in order it works: B has no prediction; notes.txt is named and passed over.
  const ok = run(['--pred', pred, '--truth', truth]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /passing over 1 file\(s\) that are not NIfTI masks: .*notes\.txt/);
  const out = JSON.parse(readFileSync(json, 'utf8'));
  assert.deepEqual(out.missing, ['B']);
  assert.equal(out.cases[0].dice, (2 + 1e-7) / (2 + 1 + 1e-7));
  assert.match(ok.stderr, /ignoring predictions with no true mask: C/);
});
