import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomForestClassifier } from 'ml-random-forest';
import { Rng } from '../src/core/random.js';
import {
  type BinaryClassifier,
  type FlatTrees,
  ModelFormatError,
  loadClassifier,
  loadForest,
  loadGbdt,
  permutationImportance,
  rocAuc,
  sortFloat32,
  trainForest,
  trainGbdt,
} from '../src/classifier/index.js';
import { featureExtractor } from '../src/features/index.js';

const names = (F: number): string[] => Array.from({ length: F }, (_, i) => `f${i}`);

/** Label 1 inside a sphere in features 0..2 of F uniform features (a problem no single split solves). */
function sphere(n: number, F: number, rng: Rng): { rows: Float32Array; labels: Uint8Array } {
  const rows = new Float32Array(n * F);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let r2 = 0;
    for (let f = 0; f < F; f++) {
      const v = rng.uniform(-1, 1);
      rows[i * F + f] = v;
      if (f < 3) r2 += v * v;
    }
    labels[i] = r2 < 0.6 ? 1 : 0;
  }
  return { rows, labels };
}

/** Two Gaussian blobs apart along features 0 and 1 only. */
function blobs(n: number, F: number, rng: Rng, sep = 3): { rows: Float32Array; labels: Uint8Array } {
  const rows = new Float32Array(n * F);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    labels[i] = y;
    for (let f = 0; f < F; f++) rows[i * F + f] = rng.normal(f < 2 && y ? sep : 0, 1);
  }
  return { rows, labels };
}

function accuracy(p: Float32Array, labels: Uint8Array): number {
  let ok = 0;
  for (let i = 0; i < p.length; i++) if ((p[i]! > 0.5 ? 1 : 0) === labels[i]) ok++;
  return ok / p.length;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.every((v, i) => v === ub[i]);
}

/** The plain pointer walk, as the file format defines it: left when x <= threshold, NaN right. */
function referenceLeaf(t: FlatTrees, k: number, rows: Float32Array, F: number, i: number): number {
  let node = t.roots[k]!;
  while (t.feature[node]! >= 0) {
    const x = rows[i * F + t.feature[node]!]!;
    node = x <= t.value[node]! ? t.left[node]! : t.left[node]! + 1;
  }
  return t.value[node]!;
}

const roundTrip = (m: BinaryClassifier): BinaryClassifier => loadClassifier(JSON.parse(JSON.stringify(m)));

// ---- GBDT ------------------------------------------------------------------------------------------

const rng0 = new Rng(2024);
const sphereTrain = sphere(6000, 10, rng0);
const sphereTest = sphere(2000, 10, rng0);
const sphereModel = trainGbdt({ ...sphereTrain, featureNames: names(10) }, { numTrees: 120, maxDepth: 4, maxLeaves: 16, seed: 3 });

test('gbdt learns a sphere in 3 of 10 features', () => {
  const p = sphereModel.predictProba(sphereTest.rows);
  assert.ok(p.every((v) => v >= 0 && v <= 1));
  const acc = accuracy(p, sphereTest.labels);
  assert.ok(acc >= 0.9, `held-out accuracy ${acc}`);
  assert.ok(rocAuc(p, sphereTest.labels) > 0.97);
});

test('gbdt on the extractor\'s threads gives predictProba\'s numbers bit for bit', async () => {
  const big = sphere(9001, 10, new Rng(77));
  const want = sphereModel.predictProba(big.rows);
  // Rows inside a shared buffer at an offset, as the feature table hands them over.
  const shared = new Float32Array(new SharedArrayBuffer((big.rows.length + 30) * 4), 30 * 4, big.rows.length);
  shared.set(big.rows);
  for (const workers of [0, 1, 2]) {
    const fx = featureExtractor({ workers });
    try {
      for (const rows of [big.rows, shared]) {
        const got = await fx.predictGbdt(sphereModel, rows);
        assert.equal(got.length, want.length);
        assert.deepEqual(new Uint32Array(Float32Array.from(got).buffer), new Uint32Array(want.buffer), `${workers} workers`);
      }
    } finally {
      await fx.close();
    }
  }
  // The model's quality is what the shared numbers carry: most test rows on the right side.
  const acc = want.reduce((a, p, i) => a + ((p >= 0.5 ? 1 : 0) === big.labels[i] ? 1 : 0), 0) / want.length;
  assert.ok(acc > 0.9, `accuracy ${acc}`);
});

test('gbdt importances rank the informative features first', () => {
  const imp = sphereModel.importances();
  assert.deepEqual(imp.slice(0, 3).map((x) => x.name).sort(), ['f0', 'f1', 'f2']);
  const total = imp.reduce((s, x) => s + x.importance, 0);
  assert.ok(Math.abs(total - 1) < 1e-9);
  assert.ok(imp[2]!.importance > 5 * imp[3]!.importance);
});

test('permutation importance agrees on held-out rows', () => {
  const imp = permutationImportance(sphereModel, sphereTest.rows.subarray(0, 500 * 10), sphereTest.labels.subarray(0, 500), new Rng(1), 2);
  assert.deepEqual(imp.slice(0, 3).map((x) => x.name).sort(), ['f0', 'f1', 'f2']);
  assert.ok(imp[2]!.importance > 0.05);
});

test('gbdt JSON round trip predicts bit-identically and re-serialises identically', () => {
  const json = JSON.stringify(sphereModel);
  const back = loadGbdt(JSON.parse(json));
  assert.ok(sameBits(sphereModel.predictProba(sphereTest.rows), back.predictProba(sphereTest.rows)));
  assert.equal(JSON.stringify(back), json);
  assert.equal(roundTrip(sphereModel).kind, 'gbdt');
  assert.ok(json.length < 100_000, `model file ${json.length} bytes`);
});

test('gbdt fast layouts agree with the plain tree walk (shallow and deep trees)', () => {
  const shallow = sphereModel;
  const deep = trainGbdt({ ...sphereTrain, featureNames: names(10) }, { numTrees: 10, maxDepth: 14, maxLeaves: 40, minSamplesLeaf: 5, seed: 3 });
  let deepest = 0;
  for (const m of [shallow, deep]) {
    const rows = sphereTest.rows.subarray(0, 301 * 10); // not a multiple of the 4-row stride
    rows[7] = NaN; // NaN goes right in both
    const margin = m.predictMargin(rows);
    for (let i = 0; i < 301; i++) {
      let s = m.baseScore;
      for (let k = 0; k < m.treeCount; k++) s += referenceLeaf(m.trees, k, rows, 10, i);
      assert.equal(margin[i], s);
    }
    rows[7] = sphereTest.rows[7]!;
  }
  // the deep model must really use the pointer layout (depth > 10) for this test to cover it
  for (let k = 0; k < deep.treeCount; k++) {
    const stack: [number, number][] = [[deep.trees.roots[k]!, 0]];
    while (stack.length) {
      const [n, d] = stack.pop()!;
      deepest = Math.max(deepest, d);
      if (deep.trees.feature[n]! >= 0) stack.push([deep.trees.left[n]!, d + 1], [deep.trees.left[n]! + 1, d + 1]);
    }
  }
  assert.ok(deepest > 10, `deepest leaf ${deepest}`);
});

test('gbdt tree size follows the depth and leaf limits', () => {
  const data = { ...sphereTrain, featureNames: names(10) };
  const treesOf = (m: ReturnType<typeof trainGbdt>): unknown => (m.toJSON() as { trees: unknown }).trees;
  const full = trainGbdt(data, { numTrees: 4, maxDepth: 3, maxLeaves: 8, minSamplesLeaf: 1 });
  // A leaf limit the depth limit already implies changes nothing (8 takes the "tree is full" shortcut).
  assert.deepEqual(treesOf(full), treesOf(trainGbdt(data, { numTrees: 4, maxDepth: 3, maxLeaves: 64, minSamplesLeaf: 1 })));
  const capped = trainGbdt(data, { numTrees: 4, maxDepth: 3, maxLeaves: 5, minSamplesLeaf: 1 });
  for (let k = 0; k < 4; k++) {
    const size = (m: typeof full): number => (k + 1 < m.treeCount ? m.trees.roots[k + 1]! : m.trees.feature.length) - m.trees.roots[k]!;
    assert.ok(size(full) >= 11 && size(full) <= 15, `tree ${k}: ${size(full)} nodes`);
    assert.equal(size(capped), 9);
  }
});

test('gbdt first tree equals a brute-force exact greedy tree (features with few values bin exactly)', () => {
  const rng = new Rng(31);
  const n = 2000;
  const F = 4;
  const rows = new Float32Array(n * F);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < F; f++) rows[i * F + f] = rng.int(0, 39);
    const a = rows[i * F]!;
    const b = rows[i * F + 1]!;
    labels[i] = rng.next() < ((a - 20) * (b - 20) > 0 ? 0.8 : 0.25) ? 1 : 0;
  }
  const lambda = 1;
  const minLeaf = 5;
  const depth = 6;
  const m = trainGbdt({ rows, labels, featureNames: names(F) }, { numTrees: 1, maxDepth: depth, maxLeaves: 1 << depth, minSamplesLeaf: minLeaf, lambdaL2: lambda, learningRate: 1 });
  const p0 = 1 / (1 + Math.exp(-m.baseScore));
  const h = p0 * (1 - p0);
  // Compares the model's node with the exact greedy split of the same rows, recursively.
  let nodes = 0;
  const check = (node: number, idx: number[], d: number): void => {
    nodes++;
    let G = 0;
    for (const i of idx) G += p0 - labels[i]!;
    const H = h * idx.length;
    let best = { gain: 0, f: -1, t: 0 };
    if (d < depth && idx.length >= 2 * minLeaf) {
      for (let f = 0; f < F; f++) {
        for (let t = 0; t < 39; t++) {
          let GL = 0;
          let CL = 0;
          for (const i of idx) if (rows[i * F + f]! <= t) { GL += p0 - labels[i]!; CL++; }
          if (CL < minLeaf || idx.length - CL < minLeaf) continue;
          const HL = h * CL;
          const gain = (GL * GL) / (HL + lambda) + ((G - GL) * (G - GL)) / (H - HL + lambda) - (G * G) / (H + lambda);
          if (gain > best.gain + 1e-9) best = { gain, f, t };
        }
      }
    }
    const t = m.trees;
    if (best.f < 0) {
      assert.equal(t.feature[node], -1, `node ${node} should be a leaf`);
      const v = -G / (H + lambda);
      assert.ok(Math.abs(t.value[node]! - v) < 1e-5 * Math.max(1, Math.abs(v)), `leaf ${node}: ${t.value[node]} vs ${v}`);
      return;
    }
    assert.equal(t.feature[node], best.f, `node ${node} feature`);
    assert.equal(t.value[node], best.t + 0.5, `node ${node} threshold`);
    check(t.left[node]!, idx.filter((i) => rows[i * F + best.f]! <= best.t), d + 1);
    check(t.left[node]! + 1, idx.filter((i) => rows[i * F + best.f]! > best.t), d + 1);
  };
  check(0, Array.from({ length: n }, (_, i) => i), 0);
  assert.equal(nodes, m.trees.feature.length);
  assert.ok(nodes > 20, `${nodes} nodes`);
});

test('gbdt: same seed gives identical JSON, another seed differs', () => {
  const data = { ...sphere(3000, 8, new Rng(9)), featureNames: names(8) };
  const params = { numTrees: 20, subsample: 0.7, colsample: 0.6, validationFraction: 0.2 };
  const a = JSON.stringify(trainGbdt(data, { ...params, seed: 5 }));
  const b = JSON.stringify(trainGbdt(data, { ...params, seed: 5 }));
  const c = JSON.stringify(trainGbdt(data, { ...params, seed: 6 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('gbdt early stopping keeps the best tree count', () => {
  const rng = new Rng(4);
  const n = 2000;
  const rows = new Float32Array(n * 3);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < 3; f++) rows[i * 3 + f] = rng.normal();
    labels[i] = rng.next() < 0.3 + 0.4 * +(rows[i * 3]! > 0) ? 1 : 0; // mostly noise: overfits quickly
  }
  const m = trainGbdt({ rows, labels, featureNames: names(3) }, { numTrees: 300, learningRate: 0.3, maxDepth: 6, minSamplesLeaf: 2, validationFraction: 0.25, earlyStoppingRounds: 5 });
  assert.ok(m.treeCount < 300, `kept ${m.treeCount}`);
  assert.equal(m.info.validRows, 500);
  const best = Math.min(...m.info.validLoss);
  assert.equal(m.info.validLoss[m.treeCount - 1], best);
  assert.equal(m.info.validLoss.length, m.treeCount + 5);
});

test('gbdt class balancing, weights and single-class data', () => {
  const rng = new Rng(8);
  const n = 2000;
  const rows = new Float32Array(n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    rows[i] = rng.normal();
    labels[i] = rng.next() < 0.05 ? 1 : 0;
  }
  const plain = trainGbdt({ rows, labels, featureNames: ['x'] }, { numTrees: 5 });
  const balanced = trainGbdt({ rows, labels, featureNames: ['x'] }, { numTrees: 5, balanceClasses: true });
  assert.ok(plain.baseScore < -2);
  assert.equal(balanced.baseScore, 0);
  assert.throws(() => trainGbdt({ rows, labels, featureNames: ['x'], weights: new Float32Array(n).fill(-1) }), /weight 0/);

  const zeros = new Uint8Array(10);
  const single = trainGbdt({ rows: rows.subarray(0, 10), labels: zeros, featureNames: ['x'] });
  assert.equal(single.treeCount, 0);
  const p = single.predictProba(new Float32Array([0, 5, NaN]));
  assert.ok(p.every((v) => Math.abs(v - 1 / 12) < 1e-6));
  assert.ok(sameBits(roundTrip(single).predictProba(new Float32Array([1])), single.predictProba(new Float32Array([1]))));
});

test('gbdt: NaN always goes right, in training and prediction alike', () => {
  const rng = new Rng(12);
  const n = 4000;
  const rows = new Float32Array(n * 2);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const missing = rng.next() < 0.3;
    rows[i * 2] = missing ? NaN : rng.uniform(0, 1);
    rows[i * 2 + 1] = rng.uniform(0, 1);
    labels[i] = missing || rows[i * 2]! > 0.7 ? 1 : 0;
  }
  const m = trainGbdt({ rows, labels, featureNames: ['a', 'b'] }, { numTrees: 30, maxDepth: 3 });
  const p = m.predictProba(new Float32Array([NaN, 0.5, 0.2, 0.5, 0.9, 0.5]));
  assert.ok(p[0]! > 0.9 && p[1]! < 0.1 && p[2]! > 0.9, String(p));
});

test('gbdt: few distinct values split exactly; a constant feature is never used', () => {
  const n = 1200;
  const rows = new Float32Array(n * 2);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    rows[i * 2] = i % 4; // 0, 1, 2, 3
    rows[i * 2 + 1] = 7;
    labels[i] = i % 4 === 2 ? 1 : 0;
  }
  const m = trainGbdt({ rows, labels, featureNames: ['k', 'const'] }, { numTrees: 30, maxDepth: 2 });
  const p = m.predictProba(new Float32Array([0, 7, 1, 7, 2, 7, 3, 7, 2.4, 7, 1.6, 7]));
  assert.deepEqual(Array.from(p, (v) => (v > 0.5 ? 1 : 0)), [0, 0, 1, 0, 1, 1]);
  assert.equal(m.importances().find((x) => x.name === 'const')!.importance, 0);
});

test('gbdt rejects bad input', () => {
  assert.throws(() => sphereModel.predictProba(new Float32Array(15)), /whole number of 10-feature rows/);
  assert.throws(() => trainGbdt({ rows: new Float32Array(4), labels: [0, 2], featureNames: ['a', 'b'] }), /label 1 is 2/);
  assert.throws(() => trainGbdt({ rows: new Float32Array(4), labels: [0, 1], featureNames: ['a', 'a'] }), /appears twice/);
  assert.throws(() => trainGbdt({ rows: new Float32Array(4), labels: [0, 1], featureNames: ['a', 'b'] }, { maxBins: 300 }), /maxBins/);
});

test('gbdt loader rejects malformed files with a clear error', () => {
  const good = JSON.parse(JSON.stringify(sphereModel)) as Record<string, any>;
  const bad = (mutate: (j: Record<string, any>) => void, pattern: RegExp): void => {
    const j = structuredClone(good);
    mutate(j);
    assert.throws(() => loadGbdt(j), (err: Error) => err instanceof ModelFormatError && pattern.test(err.message), pattern.source);
  };
  assert.throws(() => loadGbdt(null), ModelFormatError);
  assert.throws(() => loadGbdt('model'), /not a JSON object/);
  bad((j) => (j.format = 'lungtumor-forest'), /"format"/);
  bad((j) => (j.version = 99), /version 99/);
  bad((j) => delete j.trees, /missing "trees"/);
  bad((j) => (j.featureNames = ['a']), /feature|importance/);
  bad((j) => (j.featureNames[1] = j.featureNames[0]), /appears twice/);
  bad((j) => (j.baseScore = 'x'), /baseScore/);
  bad((j) => j.trees.value.pop(), /lengths differ/);
  bad((j) => (j.trees.value[3] = null), /value"\[3\]/);
  bad((j) => (j.trees.value[3] = 1e300), /float32/);
  bad((j) => (j.trees.feature[0] = 10), /feature 10 of 10/);
  bad((j) => (j.trees.left[0] = 0), /children outside/); // a loop back to itself
  bad((j) => (j.trees.left[0] = j.trees.roots[1] - 1), /children outside/); // into the next tree
  bad((j) => (j.trees.roots[0] = 1), /node 0/);
  bad((j) => (j.trees.roots[2] = j.trees.roots[1]), /empty or out of order/);
  bad((j) => (j.importance = [1]), /importance/);
  bad((j) => delete j.params.learningRate, /learningRate/);
  bad((j) => (j.training.treeCount = 3), /treeCount/);
  assert.throws(() => loadClassifier({ name: 'RFClassifier', baseModel: {} }), /expected "lungtumor-gbdt" or "lungtumor-forest"/);
});

test('sortFloat32 matches a numeric sort, negatives and -0 included', () => {
  const rng = new Rng(3);
  const v = new Float32Array(5000);
  for (let i = 0; i < v.length; i++) v[i] = i % 7 === 0 ? -0 : i % 5 === 0 ? 3 : rng.normal(0, 1e3);
  v[1] = -Infinity;
  v[2] = Infinity;
  const expect = Float32Array.from(v).sort();
  sortFloat32(v, new Uint32Array(v.length));
  for (let i = 0; i < v.length; i++) assert.ok(v[i] === expect[i], `at ${i}: ${v[i]} vs ${expect[i]}`);
});

test('rocAuc', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  assert.ok(Number.isNaN(rocAuc([0.5, 0.2], [1, 1])));
});

// ---- forest ----------------------------------------------------------------------------------------

const rngF = new Rng(77);
const blobTrain = blobs(300, 6, rngF);
const blobTest = blobs(400, 6, rngF);
const forest = trainForest({ ...blobTrain, featureNames: names(6) }, { numTrees: 30, seed: 4 });

test('forest separates two Gaussian blobs with probabilities in [0, 1]', () => {
  const p = forest.predictProba(blobTest.rows);
  assert.ok(p.every((v) => v >= 0 && v <= 1));
  assert.ok(new Set(p).size > 5, 'probabilities, not just votes of one tree');
  assert.ok(accuracy(p, blobTest.labels) >= 0.9);
  assert.ok(rocAuc(p, blobTest.labels) > 0.95);
  assert.deepEqual(forest.importances().slice(0, 2).map((x) => x.name).sort(), ['f0', 'f1']);
  assert.equal(forest.info.featuresPerTree, 3);
});

test('forest trees match ml-random-forest tree by tree (thresholds carried over exactly)', () => {
  // The same options and engine seed as trainForest uses.
  const X: number[][] = [];
  for (let i = 0; i < 300; i++) X.push(Array.from(blobTrain.rows.subarray(i * 6, i * 6 + 6)));
  const rf = new RandomForestClassifier({
    nEstimators: 30, maxFeatures: 3, replacement: false, useSampleBagging: true, noOOB: true,
    seed: new Rng(4).nextUint32() | 0,
    treeOptions: { gainFunction: 'gini', splitFunction: 'mean', minNumSamples: 3, maxDepth: 16, gainThreshold: 0 },
  });
  rf.train(X, Array.from(blobTrain.labels));
  // Evaluate on the training rows too: their values sit right next to the split thresholds.
  const rows = new Float32Array([...blobTrain.rows, ...blobTest.rows]);
  const m = rows.length / 6;
  const votes = rf.predictionValues(Array.from({ length: m }, (_, i) => Array.from(rows.subarray(i * 6, i * 6 + 6))));
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < 30; k++) {
      const leaf = referenceLeaf(forest.trees, k, rows, 6, i);
      // ml-cart votes for the larger class of the leaf, class 0 on a tie
      assert.equal(leaf > 0.5 ? 1 : 0, votes.get(i, k), `row ${i} tree ${k}`);
    }
  }
});

test('forest: same seed gives identical JSON, another seed differs', () => {
  const data = { ...blobs(150, 5, new Rng(5)), featureNames: names(5) };
  const a = JSON.stringify(trainForest(data, { numTrees: 10, seed: 1 }));
  const b = JSON.stringify(trainForest(data, { numTrees: 10, seed: 1 }));
  const c = JSON.stringify(trainForest(data, { numTrees: 10, seed: 2 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('forest round trip predicts bit-identically', () => {
  const json = JSON.stringify(forest);
  const back = loadForest(JSON.parse(json));
  assert.ok(sameBits(forest.predictProba(blobTest.rows), back.predictProba(blobTest.rows)));
  assert.equal(JSON.stringify(back), json);
  assert.equal(roundTrip(forest).kind, 'forest');
});

test('forest handles degenerate training sets', () => {
  const F = 3;
  const single = trainForest({ rows: new Float32Array(8 * F).fill(1), labels: new Uint8Array(8), featureNames: names(F) });
  assert.equal(single.info.fallback, 'single-class');
  assert.deepEqual(Array.from(single.predictProba(new Float32Array(2 * F))), [0.1, 0.1].map(Math.fround));
  const allPos = trainForest({ rows: new Float32Array(3 * F), labels: [1, 1, 1], featureNames: names(F) });
  assert.equal(allPos.predictProba(new Float32Array(F))[0], Math.fround(0.8));
  const none = trainForest({ rows: new Float32Array(0), labels: [], featureNames: names(F) });
  assert.equal(none.info.fallback, 'no-rows');
  assert.equal(none.predictProba(new Float32Array(F))[0], 0.5);
  for (const m of [single, allPos, none]) {
    assert.ok(sameBits(roundTrip(m).predictProba(new Float32Array(F)), m.predictProba(new Float32Array(F))));
    assert.ok(m.importances().every((x) => x.importance === 0));
  }
  // Very few rows and very few trees: ml-random-forest's OOB pass would throw here.
  const tiny = trainForest({ rows: new Float32Array([0, 0, 0, 1, 1, 1, 0.1, 0, 0]), labels: [0, 1, 0], featureNames: names(F) }, { numTrees: 1 });
  assert.equal(tiny.treeCount, 1);
  const few = trainForest({ ...blobs(20, F, new Rng(1)), featureNames: names(F) }, { numTrees: 3, maxFeatures: 1 });
  assert.equal(few.info.featuresPerTree, 1);
  assert.ok(few.predictProba(new Float32Array(F)).every((v) => v >= 0 && v <= 1));
});

test('forest refuses what ml-cart cannot learn from', () => {
  const rows = new Float32Array([0, NaN, 1, 1]);
  assert.throws(() => trainForest({ rows, labels: [0, 1], featureNames: ['a', 'b'] }), /row 0 feature "b" is NaN/);
  assert.throws(() => trainForest({ rows: new Float32Array(4), labels: [0, 1], featureNames: ['a', 'b'], weights: [1, 1] }), /weights are not supported/);
  assert.throws(() => trainForest({ rows: new Float32Array(4), labels: [0, 1], featureNames: ['a', 'b'] }, { maxFeatures: 0 }), /maxFeatures/);
});

test('forest loader rejects malformed files with a clear error', () => {
  const good = JSON.parse(JSON.stringify(forest)) as Record<string, any>;
  const bad = (mutate: (j: Record<string, any>) => void, pattern: RegExp): void => {
    const j = structuredClone(good);
    mutate(j);
    assert.throws(() => loadForest(j), (err: Error) => err instanceof ModelFormatError && pattern.test(err.message), pattern.source);
  };
  const leaf = good.trees.feature.indexOf(-1);
  bad((j) => (j.trees.value[leaf] = 2), /not a probability/);
  bad((j) => (j.constant = 0.3), /"constant" must be null/);
  bad((j) => (j.training.fallback = 'single-class'), /fallback/);
  bad((j) => (j.params.maxFeatures = 'half'), /maxFeatures/);
  bad((j) => (j.trees.left[0] = -5), /children outside/);
  assert.throws(() => loadForest({ ...good, format: 'RFClassifier' }), /"format"/);
  const noTrees = JSON.parse(JSON.stringify(trainForest({ rows: new Float32Array(2), labels: [0, 0], featureNames: ['a'] })));
  noTrees.constant = 1.5;
  assert.throws(() => loadForest(noTrees), /"constant" in \[0, 1\]/);
});
