import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Tensor, Tensor5D } from '@tensorflow/tfjs-core';
import { InputError } from '../src/core/errors.js';
import { Rng } from '../src/core/random.js';
import { buildTopology, initParams, paramCount, validateTopology } from '../src/refine/arch.js';
import type { NetTopology } from '../src/refine/arch.js';
import { openTf } from '../src/refine/backend.js';
import type { TfRuntime } from '../src/refine/backend.js';
import { IdentityRefiner, NetRefiner, REFINER_PRESETS, createRefiner, refinerInput, trainRefiner } from '../src/refine/refiner.js';
import { REFINER_JSON, REFINER_WEIGHTS } from '../src/refine/io.js';
import { loadRefiner, saveRefiner } from '../src/refine/disk.js';
import { TfGraph } from '../src/refine/tfnet.js';
import { diceAtHalf, toyRefinerSamples } from '../src/refine/toy.js';
import { tempDir } from './helpers.js';

const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function flatParams(r: NetRefiner): Float32Array {
  return Float32Array.from([...r.params.values()].flatMap((a) => [...a]));
}

test('refiner nets stay under 100k parameters', () => {
  for (const preset of [REFINER_PRESETS.default, REFINER_PRESETS.fast]) {
    const n = paramCount(buildTopology({ width: preset.width }));
    assert.ok(n > 1000 && n <= 100_000, `${n} parameters`);
  }
  assert.equal(paramCount(buildTopology({ width: 8 })), 19849);
});

test('topology validation accepts ours and rejects ops outside the allow-list', () => {
  const topo = buildTopology({ width: 4 });
  assert.deepEqual(validateTopology(JSON.parse(JSON.stringify(topo))), topo);
  const withOp = (op: Record<string, unknown>): unknown => ({ ...topo, ops: [op, ...topo.ops] });
  assert.throws(() => validateTopology(withOp({ op: 'Lambda', name: 'x', input: 'input', relu: false })), /not allowed/);
  assert.throws(() => validateTopology({ ...topo, ops: topo.ops.map((o) => (o.name === 'enc2' ? { ...o, cin: 5 } : o)) }), /channels/);
  assert.throws(() => validateTopology({ ...topo, ops: topo.ops.slice(0, -1) }), /one channel/);
  assert.throws(() => validateTopology({ ...topo, ops: topo.ops.map((o) => (o.name === 'mid1' ? { ...o, input: 'later' } : o)) }), /earlier op/);
});

test('the conv2d-based ops compute tf.conv3d / conv3dTranspose and their gradients, on cpu and wasm', async () => {
  const [b, n, c, o] = [2, 6, 3, 4];
  const ops: NetTopology['ops'] = [
    { op: 'conv3d', name: 'a', input: 'input', kernel: 3, cin: c, cout: o, relu: false },
    { op: 'down2', name: 'a', input: 'input', cin: c, cout: o, relu: false },
    { op: 'up2', name: 'a', input: 'input', cin: c, cout: o, relu: false },
  ];
  // For each backend: [conv3, down2, up2, d(conv3)/dx, d(conv3)/dkernel], ours and (cpu only) tfjs's.
  const run = async (backend: 'cpu' | 'wasm'): Promise<{ ours: Float32Array[]; ref: Float32Array[] }> => {
    const rt = await openTf(backend);
    await rt.loadGradients();
    const tf = rt.tf;
    return tf.tidy(() => {
      const x = tf.randomNormal([b, n, n, n, c], 0, 1, 'float32', 5) as Tensor5D;
      const k3 = tf.randomNormal([3, 3, 3, c, o], 0, 1, 'float32', 6);
      const k2 = tf.randomNormal([2, 2, 2, c, o], 0, 1, 'float32', 7);
      const bias = tf.randomNormal([o], 0, 1, 'float32', 8);
      const dy = tf.randomNormal([b, n, n, n, o], 0, 1, 'float32', 9);
      const [conv3, down, up] = ops.map((op) => {
        const g = new TfGraph(rt, { format: 'lungtumor-refiner-net/1', inChannels: c, ops: [op] });
        return (xx: Tensor, kk: Tensor): Tensor => g.delta(xx as Tensor5D, new Map([['a/kernel', kk], ['a/bias', bias]]));
      });
      const [gx, gk] = tf.grads((xx, kk) => tf.sum(tf.mul(conv3!(xx!, kk!), dy)))([x, k3]);
      const ours = [conv3!(x, k3), down!(x, k2), up!(x, k2), gx!, gk!].map((t) => t.dataSync() as Float32Array);
      if (backend !== 'cpu') return { ours, ref: [] };
      // wasm's own conv3d gradients are wrong (see tfnet.ts), so the references come from cpu.
      const [rx, rk] = tf.grads((xx, kk) => tf.sum(tf.mul(tf.conv3d(xx as Tensor5D, kk as never, 1, 'same'), dy)))([x, k3]);
      const upRef = tf.conv3dTranspose(x, tf.transpose(k2, [0, 1, 2, 4, 3]) as never, [b, 2 * n, 2 * n, 2 * n, o], 2, 'valid');
      const ref = [
        tf.add(tf.conv3d(x, k3 as never, 1, 'same'), bias),
        tf.add(tf.conv3d(x, k2 as never, 2, 'valid'), bias),
        tf.add(upRef, bias),
        rx!,
        rk!,
      ].map((t) => t.dataSync() as Float32Array);
      return { ours, ref };
    });
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  const names = ['conv3d', 'down2', 'up2', 'input gradient', 'kernel gradient'];
  const close = (a: Float32Array, r: Float32Array, what: string): void => {
    assert.equal(a.length, r.length, what);
    const scale = Math.max(1, ...r.map(Math.abs));
    for (let i = 0; i < r.length; i++) assert.ok(Math.abs(a[i]! - r[i]!) <= 1e-5 * scale, `${what} [${i}]: ${a[i]} vs ${r[i]}`);
  };
  names.forEach((name, i) => {
    close(cpu.ours[i]!, cpu.ref[i]!, `cpu ${name}`);
    close(wasm.ours[i]!, cpu.ref[i]!, `wasm ${name}`);
  });
});

test('the identity refiner and a fresh net both return the classifier probability', async () => {
  const [s] = toyRefinerSamples(1, 4, { size: 8 });
  const n3 = 8 ** 3;
  const p = s!.input.subarray(n3);
  assert.deepEqual(await new IdentityRefiner().predict(s!.input), Float32Array.from(p));
  assert.deepEqual(refinerInput(s!.input.slice(0, n3), s!.input.slice(n3)), s!.input);
  await assert.rejects(new IdentityRefiner().predict(new Float32Array(7)), /2·N³/);
  const fresh = await createRefiner(8, { seed: 1, width: 2, backend: 'cpu' });
  const out = await fresh.predict(s!.input);
  for (let i = 0; i < n3; i++) assert.ok(Math.abs(out[i]! - Math.min(Math.max(p[i]!, 1e-4), 1 - 1e-4)) < 1e-5);
  await assert.rejects(fresh.predict(new Float32Array(2 * 4 ** 3)), /expected 2·8³/);
  await assert.rejects(fresh.predict(new Float32Array(2 * n3).fill(NaN)), /non-finite/);
  fresh.dispose();
});

test('backend selection falls back past absent tfjs-node and logs the choice', async () => {
  const lines: string[] = [];
  const rt = await openTf('auto', (l) => lines.push(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^tfjs backend: /);
  if (!installed('@tensorflow/tfjs-node-gpu') && !installed('@tensorflow/tfjs-node') && rt.id !== 'webgpu') {
    assert.equal(rt.id, 'wasm');
    assert.match(lines[0]!, /skipped node-gpu: @tensorflow\/tfjs-node-gpu is not installed; webgpu: [^;]+; node: @tensorflow\/tfjs-node is not installed/);
    await assert.rejects(openTf('node'), /tfjs backend 'node' is not available: @tensorflow\/tfjs-node is not installed/);
  }
  if (!installed('@tensorflow/tfjs-backend-webgpu')) await assert.rejects(openTf('webgpu'), /not installed/);
  const cpu = await openTf('cpu');
  assert.equal(cpu.tf.getBackend(), 'cpu');
  rt.activate();
  assert.equal(rt.tf.getBackend(), rt.tfName);
});

test('a fast training clearly beats the classifier on the toy task; save/load is exact; bad files are rejected', async (t) => {
  const train = toyRefinerSamples(8, 1, { size: 16 });
  const held = toyRefinerSamples(6, 2, { size: 16 });
  const lines: string[] = [];
  const refiner = await trainRefiner(train, { ...REFINER_PRESETS.fast, seed: 3, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.startsWith('refiner: training on ')) && lines.some((l) => l.startsWith('refiner: inference on ')));
  assert.equal(refiner.meta.trainBackend, refiner.backend, 'auto picks the same backend for both here');
  const identity = await new IdentityRefiner().predictBatch(held.map((s) => s.input));
  const before = mean(held.map((s, i) => diceAtHalf(identity[i]!, s.target)));
  const preds = await refiner.predictBatch(held.map((s) => s.input));
  const after = mean(held.map((s, i) => diceAtHalf(preds[i]!, s.target)));
  assert.ok(after > before + 0.2 && after > 0.75, `Dice ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  assert.deepEqual(await refiner.predict(held[0]!.input), preds[0], 'single and batched predictions agree');

  const dir = tempDir(t);
  await saveRefiner(refiner, dir);
  const loaded = await loadRefiner(dir, { backend: 'auto' });
  assert.equal(loaded.backend, refiner.backend);
  assert.deepEqual(flatParams(loaded), flatParams(refiner));
  assert.deepEqual(await loaded.predictBatch(held.map((s) => s.input)), preds, 'bit-identical after save/load');
  const json = JSON.parse(readFileSync(join(dir, REFINER_JSON), 'utf8'));
  assert.equal(json.userDefinedMetadata.lungtumor.paramCount, refiner.meta.paramCount);
  assert.equal(json.userDefinedMetadata.lungtumor.size, 16);
  loaded.dispose();
  refiner.dispose();

  const goodJson = readFileSync(join(dir, REFINER_JSON), 'utf8');
  const goodBin = readFileSync(join(dir, REFINER_WEIGHTS));
  const restore = (): void => {
    writeFileSync(join(dir, REFINER_JSON), goodJson);
    writeFileSync(join(dir, REFINER_WEIGHTS), goodBin);
  };
  const rejects = async (problem: RegExp): Promise<void> => {
    await assert.rejects(loadRefiner(dir), (err: unknown) => err instanceof InputError && problem.test(err.message));
    restore();
  };
  truncateSync(join(dir, REFINER_WEIGHTS), goodBin.length - 10);
  await rejects(/refiner\.weights\.bin: \d+ bytes, but refiner\.json's weightsManifest needs \d+ \(truncated\?\)/);
  const flipped = Buffer.from(goodBin);
  flipped[100] ^= 0xff;
  writeFileSync(join(dir, REFINER_WEIGHTS), flipped);
  await rejects(/checksum/);
  writeFileSync(join(dir, REFINER_JSON), goodJson.slice(0, goodJson.length / 2));
  await rejects(/not valid JSON/);
  const edit = async (change: (j: any) => void, problem: RegExp): Promise<void> => {
    const j = JSON.parse(goodJson);
    change(j);
    writeFileSync(join(dir, REFINER_JSON), JSON.stringify(j));
    await rejects(problem);
  };
  await edit((j) => (j.modelTopology.ops[0].op = 'Lambda'), /"Lambda" is not allowed/);
  await edit((j) => (j.weightsManifest[0].paths = ['../../etc/passwd']), /paths must be/);
  await edit((j) => (j.weightsManifest[0].weights[0].dtype = 'int32'), /only float32/);
  await edit((j) => (j.weightsManifest[0].weights[0].shape = [3, 3, 3, 2, 5]), /bytes, but/);
  await edit((j) => j.weightsManifest[0].weights.reverse(), /weight 0 is /);
  await edit((j) => (j.userDefinedMetadata.lungtumor.size = 17), /size must be a multiple of 2/);
  await edit((j) => (j.format = 'layers-model'), /format/);
  await assert.rejects(loadRefiner(join(dir, 'nowhere')), /no such file/);
});

test('training is bit-identical for the same seed on cpu', async () => {
  const samples = toyRefinerSamples(3, 7, { size: 8 });
  const opts = { seed: 11, steps: 3, batchSize: 2, learningRate: 1e-2, augment: true, width: 2, backend: 'cpu', inferenceBackend: 'cpu' } as const;
  const a = await trainRefiner(samples, opts);
  const b = await trainRefiner(samples, opts);
  const c = await trainRefiner(samples, { ...opts, seed: 12 });
  assert.equal(a.meta.trainBackend, 'cpu (tfjs 4.22.0)');
  assert.deepEqual(flatParams(a), flatParams(b));
  assert.notDeepEqual(flatParams(a), flatParams(c));
  assert.deepEqual(await a.predict(samples[0]!.input), await b.predict(samples[0]!.input));
  const withVal = await trainRefiner(samples, { ...opts, validation: samples.slice(0, 1) });
  assert.equal(typeof withVal.meta.training?.bestValidationLoss, 'number');
  const none = await trainRefiner(samples, { ...opts, timeBudgetSeconds: 0 });
  assert.equal(none.meta.training?.stoppedBy, 'time-budget');
  assert.equal(none.meta.training?.steps, 0);
  assert.equal(none.meta.training?.finalLoss, null);
});

/** A refiner net on `rt` whose every weight is non-zero (fresh nets start as the identity). */
function randomNet(rt: TfRuntime, size: number, width: number, seed: number): NetRefiner {
  const topo = buildTopology({ width });
  const rng = new Rng(seed);
  const params = initParams(topo, rng);
  for (const a of params.values()) for (let i = 0; i < a.length; i++) if (a[i] === 0) a[i] = rng.normal(0, 0.2);
  return new NetRefiner(rt, topo, params, {
    size,
    channels: ['ct', 'probability'],
    inputLayout: 'channel-first, voxel order x fastest then y then z',
    normalisation: { ctWindowHU: null, probabilityClamp: 1e-4 },
    paramCount: paramCount(topo),
    tfjsVersion: rt.tf.version_core,
    trainBackend: 'none',
    training: null,
  });
}

const maxAbsDiff = (a: readonly Float32Array[], b: readonly Float32Array[]): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  a.forEach((x, k) => {
    assert.equal(x.length, b[k]!.length);
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - b[k]![i]!));
  });
  return m;
};

// WebGPU runs wherever Dawn finds an adapter; on CI that is Mesa's llvmpipe (software Vulkan), slow
// but exact enough to check the webgpu backend against wasm and cpu on small cubes. It is opened
// inside the tests, never at import: tfjs has one current backend, and a backend started while
// another test starts one makes the earlier start fail.
type WebGpuOpen = { rt: TfRuntime; reason: null } | { rt: null; reason: string };
let webgpuOpen: Promise<WebGpuOpen> | null = null;
const openWebGpu = (): Promise<WebGpuOpen> =>
  (webgpuOpen ??= openTf('webgpu').then(
    (rt): WebGpuOpen => ({ rt, reason: null }),
    (err: unknown): WebGpuOpen => ({ rt: null, reason: err instanceof Error ? err.message : String(err) }),
  ));

test('webgpu, named explicitly, predicts as wasm and cpu do (fixed weights, 8³ cubes)', async (t) => {
  const webgpu = await openWebGpu();
  if (webgpu.rt === null) return t.skip(webgpu.reason);
  const cubes = toyRefinerSamples(3, 9, { size: 8 }).map((s) => s.input);
  const run = async (rt: TfRuntime): Promise<Float32Array[]> => {
    const net = randomNet(rt, 8, 4, 21);
    try {
      return await net.predictBatch(cubes);
    } finally {
      net.dispose();
    }
  };
  const gpu = await run(webgpu.rt!);
  const wasm = await run(await openTf('wasm'));
  const cpu = await run(await openTf('cpu'));
  const identity = await new IdentityRefiner().predictBatch(cubes);
  assert.ok(maxAbsDiff(cpu, identity) > 0.05, 'the net changes the probabilities (not a trivial comparison)');
  const dWasm = maxAbsDiff(gpu, wasm);
  const dCpu = maxAbsDiff(gpu, cpu);
  assert.ok(dWasm <= 1e-4 && dCpu <= 1e-4, `max |webgpu - wasm| = ${dWasm}, max |webgpu - cpu| = ${dCpu}`);
  assert.deepEqual(await (async () => {
    const net = randomNet(webgpu.rt!, 8, 4, 21);
    try {
      return [await net.predict(cubes[1]!)];
    } finally {
      net.dispose();
    }
  })(), [gpu[1]!], 'single and batched predictions agree on webgpu');
});

test('training runs on webgpu and follows cpu\'s', async (t) => {
  const webgpu = await openWebGpu();
  if (webgpu.rt === null) return t.skip(webgpu.reason);
  const samples = toyRefinerSamples(2, 7, { size: 8 });
  const opts = { seed: 11, steps: 2, batchSize: 2, learningRate: 1e-2, augment: true, width: 2 } as const;
  const gpu = await trainRefiner(samples, { ...opts, backend: 'webgpu', inferenceBackend: 'webgpu' });
  const cpu = await trainRefiner(samples, { ...opts, backend: 'cpu', inferenceBackend: 'cpu' });
  assert.match(gpu.meta.trainBackend, /^webgpu /);
  const losses = [gpu.meta.training!.lossHistory, cpu.meta.training!.lossHistory];
  assert.ok(Math.abs(losses[0]![0]! - losses[1]![0]!) <= 1e-4, `losses ${losses.join(' vs ')}`);
  const d = maxAbsDiff([flatParams(gpu)], [flatParams(cpu)]);
  assert.ok(d <= 1e-4, `max |webgpu - cpu| weight after 2 steps = ${d}`);
  gpu.dispose();
  cpu.dispose();
});

test("'auto' takes webgpu only on a hardware adapter, and logs why it passed over it", async () => {
  const webgpu = await openWebGpu();
  const lines: string[] = [];
  const rt = await openTf('auto', (l) => lines.push(l));
  const skipped = /[:;] webgpu: ([^;]+)/.exec(lines[0]!)?.[1];
  if (installed('@tensorflow/tfjs-node-gpu') && rt.id === 'node-gpu') return;
  if (webgpu.rt === null) {
    assert.notEqual(rt.id, 'webgpu');
    assert.ok(skipped !== undefined, lines[0]);
    // Without Vulkan or a GPU device node, 'auto' does not even ask Dawn (see openDawn).
    assert.match(skipped, /no WebGPU adapter|webgpu package did not load|not installed|no GPU device|no Vulkan/);
  } else if (webgpu.rt.label.includes(', software')) {
    assert.notEqual(rt.id, 'webgpu');
    assert.ok(skipped !== undefined, lines[0]);
    assert.match(skipped, /^software adapter \([^)]+\): the wasm backend is faster on a CPU/);
  } else {
    assert.equal(rt.id, 'webgpu', lines[0]);
  }
});
