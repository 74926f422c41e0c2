/**
 * Timings of the classifiers on synthetic data, printed as one JSON object:
 *   node .build/cls/scripts/bench_classifier.js [--rows 1000000] [--features 30] [--trees 100]
 *     [--depth 6] [--subsample 1] [--rf-rows 2000] [--rf-features 15] [--rf-trees 100] [--skip-gbdt] [--skip-forest]
 * The voxel problem is a noisy sphere in 3 of the features plus weak linear signal in 3 more;
 * the candidate problem is imbalanced (about one positive in ten) like candidates per scan.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { Rng } from '../src/core/random.js';
import { trainGbdt } from '../src/classifier/gbdt.js';
import { trainForest } from '../src/classifier/forest.js';
import { rocAuc } from '../src/classifier/importance.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

function voxelData(n: number, F: number, rng: Rng): { rows: Float32Array; labels: Uint8Array } {
  const rows = new Float32Array(n * F);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let r2 = 0;
    let lin = 0;
    for (let f = 0; f < F; f++) {
      const v = rng.normal();
      rows[i * F + f] = v;
      if (f < 3) r2 += v * v;
      else if (f < 6) lin += 0.3 * v;
    }
    labels[i] = r2 + lin + rng.normal(0, 0.5) < 2.4 ? 1 : 0;
  }
  return { rows, labels };
}

function candidateData(n: number, F: number, rng: Rng): { rows: Float32Array; labels: Uint8Array } {
  const rows = new Float32Array(n * F);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.next() < 0.1 ? 1 : 0;
    labels[i] = y;
    for (let f = 0; f < F; f++) rows[i * F + f] = rng.normal(f < 4 && y ? 1.2 : 0, 1);
  }
  return { rows, labels };
}

const ms = (t0: number): number => Math.round(performance.now() - t0);
// CPU time of this process: on a shared machine wall time mostly measures the neighbours.
const cpuMs = (c0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return Math.round((c.user + c.system) / 1000);
};
const names = (F: number): string[] => Array.from({ length: F }, (_, i) => `f${i}`);
const result: Record<string, unknown> = { node: process.version, loadAverage: 0 };

if (!flag('skip-gbdt')) {
  const n = arg('rows', 1_000_000);
  const F = arg('features', 30);
  const trees = arg('trees', 100);
  const depth = arg('depth', 6);
  const subsample = arg('subsample', 1);
  const rng = new Rng(7);
  const train = voxelData(n, F, rng);
  const test = voxelData(Math.min(n, 200_000), F, rng);
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  const model = trainGbdt(
    { rows: train.rows, labels: train.labels, featureNames: names(F) },
    { numTrees: trees, maxDepth: depth, maxLeaves: 2 ** depth, subsample, seed: 1 },
  );
  const trainMs = ms(t0);
  const trainCpuMs = cpuMs(c0);
  const predRows = voxelData(1_000_000, F, rng).rows;
  const out = new Float32Array(1_000_000);
  model.predictProba(predRows.subarray(0, 1000 * F)); // warm-up compiles the loop before timing
  t0 = performance.now();
  c0 = process.cpuUsage();
  model.predictProba(predRows, out);
  const predictMs = ms(t0);
  const predictCpuMs = cpuMs(c0);
  const json = JSON.stringify(model);
  result['gbdt'] = {
    rows: n, features: F, trees: model.treeCount, depth, subsample,
    trainMs, trainCpuMs, predict1MMs: predictMs, predict1MCpuMs: predictCpuMs,
    testAuc: Number(rocAuc(model.predictProba(test.rows), test.labels).toFixed(4)),
    jsonBytes: json.length,
    nodes: model.trees.feature.length,
  };
}

if (!flag('skip-forest')) {
  const n = arg('rf-rows', 2000);
  const F = arg('rf-features', 15);
  const trees = arg('rf-trees', 100);
  const rng = new Rng(11);
  const train = candidateData(n, F, rng);
  const test = candidateData(2000, F, rng);
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  const model = trainForest({ rows: train.rows, labels: train.labels, featureNames: names(F) }, { numTrees: trees, seed: 1 });
  const trainMs = ms(t0);
  const trainCpuMs = cpuMs(c0);
  t0 = performance.now();
  c0 = process.cpuUsage();
  const p = model.predictProba(test.rows);
  const predictMs = ms(t0);
  const predictCpuMs = cpuMs(c0);
  const json = JSON.stringify(model);
  result['forest'] = {
    rows: n, features: F, trees, featuresPerTree: model.info.featuresPerTree,
    trainMs, trainCpuMs, predict2000Ms: predictMs, predict2000CpuMs: predictCpuMs,
    testAuc: Number(rocAuc(p, test.labels).toFixed(4)),
    jsonBytes: json.length,
    nodes: model.trees.feature.length,
  };
}

// The 1-minute load average at the end tells how shared the CPU was during the run.
result['loadAverage'] = Number(loadavg()[0]!.toFixed(2));
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
