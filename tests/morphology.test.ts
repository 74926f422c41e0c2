import test from 'node:test';
import assert from 'node:assert/strict';
import {
  labelComponents, fillHoles, fillHolesPerSlice, distanceToMm, dilateMm, erodeMm, largestComponent, boundingBox,
} from '../src/core/morphology.js';
import type { Vec3 } from '../src/core/volume.js';
import { maskHas, packMask, unpackMask } from '../src/core/bitmask.js';
import { Rng } from '../src/core/random.js';

const idx = (d: Vec3, x: number, y: number, z: number): number => x + d[0] * (y + d[1] * z);

test('components: 6- vs 26-connectivity on diagonal voxels', () => {
  const d: Vec3 = [4, 4, 4];
  const m = new Uint8Array(64);
  m[idx(d, 0, 0, 0)] = 1;
  m[idx(d, 1, 1, 1)] = 1;
  m[idx(d, 3, 3, 3)] = 1;
  assert.equal(labelComponents(m, d, 26).count, 2);
  assert.equal(labelComponents(m, d, 6).count, 3);
  const big = largestComponent(m, d, 26);
  assert.equal(big.reduce((a, b) => a + b, 0), 2);
});

test('fillHoles fills an enclosed cavity but not an open one', () => {
  const d: Vec3 = [7, 7, 7];
  const shell = new Uint8Array(343);
  for (let z = 1; z < 6; z++) for (let y = 1; y < 6; y++) for (let x = 1; x < 6; x++) {
    if (x === 1 || x === 5 || y === 1 || y === 5 || z === 1 || z === 5) shell[idx(d, x, y, z)] = 1;
  }
  const filled = fillHoles(shell, d);
  assert.equal(filled[idx(d, 3, 3, 3)], 1);
  assert.equal(filled[idx(d, 0, 0, 0)], 0);
  shell[idx(d, 3, 3, 5)] = 0; // a hole in the lid opens the cavity in 3D...
  assert.equal(fillHoles(shell, d)[idx(d, 3, 3, 3)], 0);
  // ...but slice by slice the middle slices are still closed rings.
  assert.equal(fillHolesPerSlice(shell, d)[idx(d, 3, 3, 3)], 1);
});

test('distanceToMm matches brute force with anisotropic spacing', () => {
  const d: Vec3 = [9, 7, 5];
  const sp: Vec3 = [0.7, 1.3, 2.5];
  const rng = new Rng(3);
  const sites = new Uint8Array(9 * 7 * 5);
  for (let i = 0; i < sites.length; i++) sites[i] = rng.next() < 0.05 ? 1 : 0;
  sites[0] = 1;
  const dist = distanceToMm(sites, d, sp);
  for (let z = 0; z < 5; z++) for (let y = 0; y < 7; y++) for (let x = 0; x < 9; x++) {
    let best = Infinity;
    for (let c = 0; c < 5; c++) for (let b = 0; b < 7; b++) for (let a = 0; a < 9; a++) {
      if (!sites[idx(d, a, b, c)]) continue;
      best = Math.min(best, Math.hypot((x - a) * sp[0], (y - b) * sp[1], (z - c) * sp[2]));
    }
    assert.ok(Math.abs(dist[idx(d, x, y, z)]! - best) < 1e-4, `at ${x},${y},${z}: ${dist[idx(d, x, y, z)]} vs ${best}`);
  }
  assert.equal(distanceToMm(new Uint8Array(8), [2, 2, 2], [1, 1, 1])[0], Infinity);
});

test('dilate then erode of a ball, and bounding box', () => {
  const d: Vec3 = [21, 21, 21];
  const m = new Uint8Array(21 ** 3);
  m[idx(d, 10, 10, 10)] = 1;
  const ball = dilateMm(m, d, [1, 1, 1], 5);
  const n = ball.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(n - (4 / 3) * Math.PI * 125) / n < 0.1, `ball voxels ${n}`);
  assert.deepEqual(boundingBox(ball, d), { min: [5, 5, 5], max: [15, 15, 15] });
  const core = erodeMm(ball, d, [1, 1, 1], 4.5);
  assert.equal(core[idx(d, 10, 10, 10)], 1);
  assert.equal(core.reduce((a, b) => a + b, 0), 1);
  assert.equal(boundingBox(new Uint8Array(8), [2, 2, 2]), null);
});

test('dilate and erode: the capped distance transform gives what thresholding the full distance map gives', () => {
  // Radii exactly at voxel distances (1, sqrt 2, 2.5 = a z step) are where a cap could differ.
  const rng = new Rng(12);
  const d: Vec3 = [23, 17, 11];
  const spacings: Vec3[] = [[1, 1, 1], [0.7, 0.7, 2.5], [1.75, 1.75, 3]];
  for (let trial = 0; trial < 6; trial++) {
    const m = Uint8Array.from({ length: d[0] * d[1] * d[2] }, () => (rng.uniform(0, 1) < (trial < 3 ? 0.02 : 0.6) ? 1 : 0));
    for (const sp of spacings) {
      const depth = distanceToMm(Uint8Array.from(m, (v) => (v ? 0 : 1)), d, sp);
      const dist = distanceToMm(m, d, sp);
      for (const r of [0, 0.7, 1, Math.SQRT2, 2.5, 3 * Math.SQRT2, 5.25, 40]) {
        assert.deepEqual(dilateMm(m, d, sp, r), Uint8Array.from(dist, (v) => (v <= r ? 1 : 0)), `dilate r ${r} spacing ${sp.join('/')}`);
        assert.deepEqual(erodeMm(m, d, sp, r), Uint8Array.from(depth, (v, i) => (m[i] && v > r ? 1 : 0)), `erode r ${r} spacing ${sp.join('/')}`);
      }
    }
  }
  // A mask without background erodes to itself.
  assert.deepEqual(erodeMm(new Uint8Array(8).fill(1), [2, 2, 2], [1, 1, 1], 3), new Uint8Array(8).fill(1));
});

test('packed masks: one bit per voxel, exact round trip for any length', () => {
  const rng = new Rng(4);
  for (const n of [0, 1, 7, 8, 9, 1001]) {
    const mask = Uint8Array.from({ length: n }, () => (rng.uniform(0, 1) < 0.3 ? 1 : 0));
    const packed = packMask(mask);
    assert.equal(packed.bits.length, Math.ceil(n / 8));
    assert.deepEqual(unpackMask(packed), mask);
    for (let i = 0; i < n; i++) assert.equal(maskHas(packed, i), mask[i] === 1);
  }
  // Any non-zero value is set.
  assert.deepEqual(unpackMask(packMask([0, 2, 255, 0])), Uint8Array.from([0, 1, 1, 0]));
});
