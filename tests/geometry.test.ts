import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { axisCodes, axisMap, toCanonical, fromCanonical, maskBoxFromCanonical, orientationOf } from '../src/geometry/orient.js';
import { resampleToGrid, resampleToSpacing, gridWithSpacing, axisMappings } from '../src/geometry/resample.js';
import { applyAffine, invertAffine, multiplyAffine, cornerDistanceMm } from '../src/geometry/affine.js';
import { readNifti } from '../src/io/nifti.js';
import { readMaskFor } from '../src/io/masks.js';
import type { Mat4, Vec3, Volume } from '../src/core/volume.js';
import { Rng } from '../src/core/random.js';
import { realDataDir } from './helpers.js';

const PERMS: Vec3[] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

/** Affine whose voxel axis i runs along world axis perm[i], negated when flips[i]. */
function signedPermAffine(perm: Vec3, flips: boolean[], zooms: Vec3, offset: Vec3): Mat4 {
  const a: Mat4 = [[0, 0, 0, offset[0]], [0, 0, 0, offset[1]], [0, 0, 0, offset[2]], [0, 0, 0, 1]];
  for (let i = 0; i < 3; i++) a[perm[i]!]![i] = (flips[i] ? -1 : 1) * zooms[i]!;
  return a;
}

const idx = (d: Vec3, x: number, y: number, z: number): number => x + d[0] * (y + d[1] * z);

function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i]! & b[i]!;
    sa += a[i]!;
    sb += b[i]!;
  }
  return (2 * inter) / (sa + sb);
}

test('axis codes match nibabel conventions', () => {
  assert.deepEqual(axisCodes([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), ['R', 'A', 'S']);
  assert.deepEqual(axisCodes([[-0.97, 0, 0, 0], [0, -0.97, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1]]), ['L', 'P', 'S']);
  assert.deepEqual(axisCodes([[0, 0, -2, 0], [1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1]]), ['A', 'I', 'L']);
  // Oblique: 30° about z still reads as R, A, S.
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  assert.deepEqual(axisCodes([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), ['R', 'A', 'S']);
  // 45° exactly: ties go to the first world axis not taken, as in nibabel.
  const h = Math.SQRT1_2;
  assert.deepEqual(axisCodes([[h, -h, 0, 0], [h, h, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), ['R', 'A', 'S']);
});

const PY = '/usr/bin/python3';
const hasNibabel = (): boolean => spawnSync(PY, ['-c', 'import nibabel'], { encoding: 'utf8' }).status === 0;

test('axis codes agree with nibabel.aff2axcodes on random oblique and sheared affines', { skip: !hasNibabel() && 'nibabel not available' }, () => {
  const rng = new Rng(9);
  const affines: Mat4[] = [];
  for (let k = 0; k < 300; k++) {
    const m = [0, 1, 2].map(() => [0, 1, 2].map(() => rng.normal(0, 1)));
    affines.push([[...m[0]!, 1], [...m[1]!, 2], [...m[2]!, 3], [0, 0, 0, 1]] as Mat4);
  }
  const script = 'import sys, json, numpy as np, nibabel as nib\nprint(json.dumps([list(nib.aff2axcodes(np.array(a))) for a in json.loads(sys.stdin.read())]))';
  const r = spawnSync(PY, ['-c', script], { input: JSON.stringify(affines), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as string[][];
  affines.forEach((a, i) => assert.deepEqual(axisCodes(a), want[i], `affine ${i}: ${JSON.stringify(a)}`));
});

test('all 48 axis permutations × flips: canonical order, same world points, exact round trip', () => {
  const dims: Vec3 = [5, 4, 3];
  const n = 60;
  const rng = new Rng(5);
  const data = Float32Array.from({ length: n }, () => rng.normal(0, 100));
  const mask = Uint8Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
  let count = 0;
  for (const perm of PERMS) {
    for (let f = 0; f < 8; f++) {
      const flips = [Boolean(f & 1), Boolean(f & 2), Boolean(f & 4)];
      const zooms: Vec3 = [0.7, 1.1, 2.5];
      const affine = signedPermAffine(perm, flips, zooms, [10.5, -20.25, 33]);
      const vol: Volume<Float32Array> = { data, dims, spacing: zooms, affine };
      const { volume: can, orientation } = toCanonical(vol);
      assert.deepEqual(axisCodes(can.affine), ['R', 'A', 'S']);
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) if (r !== c) assert.equal(can.affine[r]![c], 0);
      for (let i = 0; i < 3; i++) assert.ok(can.affine[i]![i]! > 0);
      assert.deepEqual(can.spacing, [0, 1, 2].map((w) => zooms[perm.indexOf(w)]!));
      // Every voxel keeps its value and its world point.
      const cd = can.dims;
      for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) {
        const w = applyAffine(affine, [x, y, z]);
        const c = applyAffine(invertAffine(can.affine), w).map((v) => Math.round(v)) as Vec3;
        const back = applyAffine(can.affine, c);
        assert.ok(Math.hypot(back[0] - w[0], back[1] - w[1], back[2] - w[2]) < 1e-9);
        assert.equal(can.data[idx(cd, c[0], c[1], c[2])], data[idx(dims, x, y, z)]);
      }
      assert.deepEqual(fromCanonical(can.data, orientation), data);
      // 2- and 8-byte voxels take the same order (whole-row copies, mirrored or not, or the element loop).
      const round = (v: number): number => Math.round(v);
      const third = (v: number): number => v / 3;
      for (const [other, to] of [[Int16Array.from(data, round), round], [Float64Array.from(data, third), third]] as const) {
        const c2 = toCanonical({ data: other, dims, spacing: zooms, affine }).volume.data;
        assert.equal(c2.constructor, other.constructor);
        assert.deepEqual(Array.from(c2), Array.from(can.data, to));
        assert.deepEqual(fromCanonical(c2, orientation), other);
      }
      const m = toCanonical({ data: mask, dims, spacing: zooms, affine }).volume.data;
      const mBack = fromCanonical(m, orientation);
      assert.ok(mBack instanceof Uint8Array);
      assert.deepEqual(mBack, mask);
      // A mask that is zero outside a box of the canonical grid goes back by its box alone.
      const cd2 = orientation.canonicalDims;
      const min: Vec3 = [1, 0, 1].map((v, a) => Math.min(v, cd2[a]! - 1)) as Vec3;
      const size: Vec3 = [0, 1, 2].map((a) => cd2[a]! - min[a]! - (a === 1 ? 1 : 0)) as Vec3;
      const inBox = new Uint8Array(m.length);
      const boxMask = new Uint8Array(size[0] * size[1] * size[2]);
      let o = 0;
      for (let z = 0; z < size[2]; z++) for (let y = 0; y < size[1]; y++) for (let x = 0; x < size[0]; x++, o++) {
        const v = idx(cd2, min[0] + x, min[1] + y, min[2] + z);
        boxMask[o] = m[v]!;
        inBox[v] = m[v]!;
      }
      assert.deepEqual(maskBoxFromCanonical(boxMask, min, size, orientation), fromCanonical(inBox, orientation));
      assert.throws(() => maskBoxFromCanonical(boxMask, [min[0] + 1, min[1], min[2]], size, orientation), /does not fit/);
      count++;
    }
  }
  assert.equal(count, 48);
});

test('oblique affines reorient to the nearest canonical axes', () => {
  const c = Math.cos(0.3);
  const s = Math.sin(0.3);
  // Voxel x mostly along -A, y mostly along +R, z along -S.
  const affine: Mat4 = [[s, c, 0, 0], [-c, s, 0, 0], [0, 0, -2, 0], [0, 0, 0, 1]];
  assert.deepEqual(axisCodes(affine), ['P', 'R', 'I']);
  assert.deepEqual(axisMap(affine), { worldAxis: [1, 0, 2], flip: [true, false, true] });
  const o = orientationOf([4, 6, 3], affine);
  assert.deepEqual(o.canonicalDims, [6, 4, 3]);
  const vol: Volume = { data: new Int16Array(72).map((_, i) => i), dims: [4, 6, 3], spacing: [1, 1, 2], affine };
  const { volume: can } = toCanonical(vol);
  assert.ok(cornerDistanceMm(can.affine, can.affine, can.dims) === 0);
  // Same world point for the canonical voxel that holds original voxel (1, 2, 0).
  const v = vol.data[idx(vol.dims, 1, 2, 0)];
  const w = applyAffine(affine, [1, 2, 0]);
  const ci = applyAffine(invertAffine(can.affine), w).map(Math.round) as Vec3;
  assert.equal(can.data[idx(can.dims, ci[0], ci[1], ci[2])], v);
});

function smoothField(dims: Vec3, spacing: Vec3): Float32Array {
  const out = new Float32Array(dims[0] * dims[1] * dims[2]);
  let i = 0;
  for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) {
    const [px, py, pz] = [x * spacing[0], y * spacing[1], z * spacing[2]];
    out[i++] = 100 * Math.sin(px / 15) * Math.cos(py / 20) + 50 * Math.sin(pz / 25) - 400;
  }
  return out;
}

test('resampling: identity is exact, both modes', () => {
  const dims: Vec3 = [9, 7, 5];
  const affine: Mat4 = [[-0.8, 0, 0, 100], [0, -0.8, 0, 50], [0, 0, 2.5, -30], [0, 0, 0, 1]];
  const rng = new Rng(2);
  const data = Int16Array.from({ length: 315 }, () => rng.int(-1024, 3000));
  const lin = resampleToGrid(data, { dims, affine }, { dims, affine }, 'linear');
  assert.ok(lin instanceof Float32Array);
  assert.deepEqual(Array.from(lin), Array.from(data));
  const near = resampleToGrid(data, { dims, affine }, { dims, affine }, 'nearest');
  assert.ok(near instanceof Int16Array);
  assert.deepEqual(near, data);
  const f64 = Float64Array.from(data, (v) => v / 7);
  assert.deepEqual(resampleToGrid(f64, { dims, affine }, { dims, affine }, 'linear'), f64);
  // Same spacing requested: same grid, same values.
  const vol: Volume<Int16Array> = { data, dims, spacing: [0.8, 0.8, 2.5], affine };
  const same = resampleToSpacing(vol, [0.8, 0.8, 2.5], 'linear');
  assert.deepEqual(same.dims, dims);
  assert.deepEqual(same.affine, affine);
  assert.deepEqual(Array.from(same.data), Array.from(data));
});

test('resampling: grid geometry maps world points consistently', () => {
  const dims: Vec3 = [100, 80, 30];
  const affine: Mat4 = [[-0.7, 0, 0, 100], [0, -0.7, 0, 50], [0, 0, 2.5, -30], [0, 0, 0, 1]];
  const g = gridWithSpacing({ dims, affine }, [2, 2, 2]);
  assert.deepEqual(g.dims, [35, 28, 38]);
  // First voxel centres coincide; axes keep their direction; voxel sizes are the requested ones.
  assert.deepEqual(applyAffine(g.affine, [0, 0, 0]), applyAffine(affine, [0, 0, 0]));
  assert.deepEqual([g.affine[0][0], g.affine[1][1], g.affine[2][2]], [-2, -2, 2]);
  // The mapping used by the resampler agrees with the affines: output voxel j sits at input coordinate u.
  const maps = axisMappings({ dims, affine }, g);
  const j: Vec3 = [7, 11, 13];
  const w = applyAffine(g.affine, j);
  const u = applyAffine(invertAffine(affine), w);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(maps[i]!.scale * j[i]! + maps[i]!.offset - u[i]!) < 1e-9);
  // A linear field is reproduced exactly (to float32) at every output voxel by trilinear interpolation.
  const lin = new Float32Array(dims[0] * dims[1] * dims[2]);
  let k = 0;
  for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) {
    const p = applyAffine(affine, [x, y, z]);
    lin[k++] = p[0] + 2 * p[1] - 0.5 * p[2];
  }
  const out = resampleToGrid(lin, { dims, affine }, g, 'linear');
  const inside = (q: Vec3): boolean => q.every((v, i) => v >= 0 && v <= dims[i]! - 1);
  let checked = 0;
  for (let z = 0; z < g.dims[2]; z += 3) for (let y = 0; y < g.dims[1]; y += 3) for (let x = 0; x < g.dims[0]; x += 3) {
    const p = applyAffine(g.affine, [x, y, z]);
    if (!inside(applyAffine(invertAffine(affine), p) as Vec3)) continue;
    assert.ok(Math.abs(out[idx(g.dims, x, y, z)]! - (p[0] + 2 * p[1] - 0.5 * p[2])) < 1e-3);
    checked++;
  }
  assert.ok(checked > 500);
  assert.throws(() => axisMappings({ dims, affine }, { dims, affine: multiplyAffine(affine, [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]) }), /axis-aligned/);
});

test('resampling: up then down recovers smooth fields; masks go down and back with high Dice', () => {
  const dims: Vec3 = [60, 50, 20];
  const spacing: Vec3 = [1, 1, 3];
  const affine: Mat4 = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1]];
  const field = smoothField(dims, spacing);
  const vol: Volume<Float32Array> = { data: field, dims, spacing, affine };
  const up = resampleToSpacing(vol, [0.5, 0.5, 1], 'linear');
  assert.deepEqual(up.dims, [120, 100, 60]);
  const back = resampleToGrid(up.data, up, vol, 'linear');
  let worst = 0;
  for (let i = 0; i < field.length; i++) worst = Math.max(worst, Math.abs(back[i]! - field[i]!));
  assert.ok(worst < 1e-3, `up/down error ${worst}`);
  // Down then up: smooth field within a small fraction of its range.
  const down = resampleToSpacing(vol, 2, 'linear');
  const again = resampleToGrid(down.data, down, vol, 'linear');
  let err = 0;
  for (let z = 0; z < dims[2] - 1; z++) for (let y = 0; y < dims[1] - 2; y++) for (let x = 0; x < dims[0] - 2; x++) {
    const i = idx(dims, x, y, z);
    err = Math.max(err, Math.abs(again[i]! - field[i]!));
  }
  assert.ok(err < 3, `down/up error ${err} HU on a ±150 HU field`);

  // An ellipsoid mask.
  const mask = new Uint8Array(field.length);
  for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) {
    const e = ((x - 30) / 14) ** 2 + ((y - 24) / 11) ** 2 + ((z * 3 - 30) / 18) ** 2;
    if (e <= 1) mask[idx(dims, x, y, z)] = 1;
  }
  const mvol: Volume<Uint8Array> = { data: mask, dims, spacing, affine };
  const md = resampleToSpacing(mvol, 2, 'nearest');
  assert.ok(md.data instanceof Uint8Array);
  const mBack = resampleToGrid(md.data, md, mvol, 'nearest');
  const dNearest = dice(mask, mBack);
  assert.ok(dNearest > 0.9, `Dice ${dNearest}`);
  // Through a probability: linear down, linear back, threshold.
  const pd = resampleToSpacing(mvol, 2, 'linear');
  const pBack = resampleToGrid(pd.data, pd, mvol, 'linear');
  const dProb = dice(mask, Uint8Array.from(pBack, (p) => (p >= 0.5 ? 1 : 0)));
  assert.ok(dProb > 0.93, `Dice ${dProb}`);
});

test('resampling: fill value outside the input grid', () => {
  const dims: Vec3 = [4, 4, 4];
  const affine: Mat4 = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const data = new Float32Array(64).fill(5);
  const shifted: Mat4 = [[1, 0, 0, 2], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const out = resampleToGrid(data, { dims, affine }, { dims, affine: shifted }, 'linear', { fill: -1000 });
  assert.deepEqual(Array.from(out.subarray(0, 4)), [5, 5, -1000, -1000]);
  const clamped = resampleToGrid(data, { dims, affine }, { dims, affine: shifted }, 'nearest');
  assert.deepEqual(Array.from(clamped.subarray(0, 4)), [5, 5, 5, 5]);
});

test('real scans: LPS order, canonical round trip, fast resampling', { skip: realDataDir() === null && 'no real data' }, (t) => {
  const root = realDataDir()!;
  for (const id of ['RADPHANTOM-2', 'LUNG1-001']) {
    const ct = readNifti(join(root, 'train', 'volume', `${id}_vol.nii.gz`));
    assert.deepEqual(axisCodes(ct.affine), ['L', 'P', 'S'], id);
    let started = performance.now();
    const { volume: can, orientation } = toCanonical(ct);
    const canMs = performance.now() - started;
    assert.deepEqual(axisCodes(can.affine), ['R', 'A', 'S']);
    assert.ok(cornerDistanceMm(can.affine, can.affine, can.dims) === 0);
    // Corner voxel (0,0,0) of the original sits at canonical (nx-1, ny-1, 0) with the same world point.
    const w0 = applyAffine(ct.affine, [0, 0, 0]);
    const c0 = applyAffine(can.affine, [ct.dims[0] - 1, ct.dims[1] - 1, 0]);
    assert.ok(Math.hypot(w0[0] - c0[0], w0[1] - c0[1], w0[2] - c0[2]) < 1e-9);
    assert.equal(can.data[idx(can.dims, ct.dims[0] - 1, ct.dims[1] - 1, 0)], ct.data[0]);
    started = performance.now();
    const back = fromCanonical(can.data, orientation);
    const backMs = performance.now() - started;
    assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(ct.data.buffer, ct.data.byteOffset, ct.data.byteLength)), `${id}: bit-for-bit`);

    const seg = readMaskFor(join(root, 'train', 'seg', `${id}_seg.nii.gz`), ct);
    const segCan = toCanonical({ ...ct, data: seg }).volume;
    started = performance.now();
    const cpu0 = process.cpuUsage();
    const down = resampleToSpacing(can, 2, 'linear');
    const downMs = performance.now() - started;
    const downCpu = process.cpuUsage(cpu0);
    const downCpuMs = (downCpu.user + downCpu.system) / 1000;
    started = performance.now();
    const upAgain = resampleToGrid(down.data, down, can, 'linear');
    const upMs = performance.now() - started;
    assert.equal(upAgain.length, can.data.length);
    const mDown = resampleToSpacing(segCan, 2, 'nearest');
    const mBack = fromCanonical(resampleToGrid(mDown.data, mDown, segCan, 'nearest'), orientation);
    const d = dice(seg, mBack);
    t.diagnostic(`${id}: ${ct.dims.join('x')} → ${down.dims.join('x')} at 2 mm; toCanonical ${canMs.toFixed(0)} ms, fromCanonical ${backMs.toFixed(0)} ms, down ${downMs.toFixed(0)} ms (${downCpuMs.toFixed(0)} ms CPU), up ${upMs.toFixed(0)} ms, mask Dice ${d.toFixed(3)}`);
    assert.ok(d > 0.85, `${id}: mask down/up Dice ${d}`);
    if (id === 'LUNG1-001') {
      assert.deepEqual(down.dims, [250, 250, 201]);
    }
  }
});
