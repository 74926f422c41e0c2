/**
 * Measures the refiner: parameter counts, inference time per cube and training time per step on each
 * backend, a whole 'fast' training on the toy task, and which kernels tfjs-wasm lacks. Prints JSON.
 *
 *   node .build/refine/scripts/bench_refiner.js [--size 24] [--backends wasm,cpu] [--default-run]
 *
 * --default-run also trains the default preset on 300 toy cubes (minutes). Times are the minimum over
 * a few repetitions, as wall time and as this process's CPU time: on a shared machine the CPU time is
 * what the run would take alone (all backends here are single-threaded; on webgpu the CPU time
 * leaves out GPU work, but a software adapter such as llvmpipe runs in this process and counts).
 */
import { Rng } from '../src/core/random.js';
import { buildTopology, initParams, paramCount } from '../src/refine/arch.js';
import type { BackendChoice } from '../src/refine/backend.js';
import { isBackendChoice, openTf } from '../src/refine/backend.js';
import type { Refiner, RefinerSample } from '../src/refine/refiner.js';
import { IdentityRefiner, NetRefiner, REFINER_PRESETS, trainRefiner } from '../src/refine/refiner.js';
import { diceAtHalf, toyRefinerSamples } from '../src/refine/toy.js';
import { TfGraph, weightsToVariables } from '../src/refine/tfnet.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * Minimum wall time and minimum CPU time (user + system) of this process over `reps` runs of an
 * asynchronous `fn`, in ms, after one warm-up run. On a GPU backend the CPU time leaves out the
 * GPU's work (and on a software adapter, Dawn's own threads are this process: they count).
 */
async function minTimeAsync(reps: number, fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  await fn();
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await fn();
    const dc = process.cpuUsage(c);
    wall = Math.min(wall, performance.now() - t);
    cpu = Math.min(cpu, (dc.user + dc.system) / 1000);
  }
  return { wall, cpu };
}

const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;

/** Mean Dice at 0.5 of a refiner's predictions over samples, one cube at a time. */
async function meanDice(r: Refiner, samples: readonly RefinerSample[]): Promise<number> {
  const dice: number[] = [];
  for (const s of samples) dice.push(diceAtHalf(await r.predict(s.input), s.target));
  return mean(dice);
}

async function main(): Promise<void> {
  const size = Number(arg('size') ?? '24');
  const backends = (arg('backends') ?? 'wasm,cpu').split(',');
  for (const b of backends) if (!isBackendChoice(b)) throw new Error(`unknown backend ${b}`);
  const result: Record<string, unknown> = {
    size,
    params: { default: paramCount(buildTopology({ width: REFINER_PRESETS.default.width })), fast: paramCount(buildTopology({ width: REFINER_PRESETS.fast.width })) },
  };

  const perBackend: Record<string, unknown> = {};
  for (const b of backends as BackendChoice[]) {
    const rt = await openTf(b);
    const tf = rt.tf;
    const topo = buildTopology({ width: REFINER_PRESETS.default.width });
    const params = initParams(topo, new Rng(1));
    const refiner = new NetRefiner(rt, topo, params, {
      size,
      channels: ['ct', 'probability'],
      inputLayout: 'channel-first, voxel order x fastest then y then z',
      normalisation: { ctWindowHU: null, probabilityClamp: 1e-4 },
      paramCount: paramCount(topo),
      tfjsVersion: tf.version_core,
      trainBackend: 'none',
      training: null,
    });
    const cubes = toyRefinerSamples(8, 5, { size }).map((s) => s.input);
    const slow = rt.id === 'cpu';
    const one = await minTimeAsync(slow ? 2 : 5, () => refiner.predict(cubes[0]!));
    const eight = await minTimeAsync(slow ? 1 : 3, () => refiner.predictBatch(cubes));
    refiner.dispose();

    // one optimizer step on a batch of 4 (default preset's batch size)
    const graph = new TfGraph(rt, topo);
    const vars = weightsToVariables(tf, topo, params);
    const opt = tf.train.adam(1e-3);
    const batch = 4;
    const n3 = size ** 3;
    const x = tf.randomUniform([batch, size, size, size, 2], 0, 1, 'float32', 1);
    const p = tf.randomUniform([batch, size, size, size], 0, 1, 'float32', 2);
    const t = tf.cast(tf.greater(p, 0.5), 'float32');
    const stepMs = await minTimeAsync(slow ? 1 : 3, async () => {
      const cost = tf.tidy(() => opt.minimize(() => graph.loss(x as never, p as never, t as never, vars), true)!);
      await cost.data();
      cost.dispose();
    });
    for (const v of vars.values()) v.dispose();
    opt.dispose();
    tf.dispose([x, p, t]);
    const steps300 = REFINER_PRESETS.default.epochs * Math.floor(300 / batch);
    perBackend[b] = {
      backend: rt.label,
      voxelsPerCube: n3,
      inferenceMsPerCube: { wall: Math.round(one.wall), cpu: Math.round(one.cpu) },
      inferenceMsPerCubeInBatchOf8: { wall: Math.round(eight.wall / 8), cpu: Math.round(eight.cpu / 8) },
      trainStepSecondsBatch4: { wall: +(stepMs.wall / 1000).toFixed(3), cpu: +(stepMs.cpu / 1000).toFixed(3) },
      // default preset on 300 cubes: epochs * ceil(300 / batch) steps
      defaultPreset300CubesEstimateSeconds: { wall: Math.round((steps300 * stepMs.wall) / 1000), cpu: Math.round((steps300 * stepMs.cpu) / 1000) },
    };
  }
  result['backends'] = perBackend;

  const tfrt = await openTf('wasm').catch(() => null);
  if (tfrt !== null) {
    const have = new Set(tfrt.tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    result['wasmLacksVsCpu'] = tfrt.tf.getKernelsForBackend('cpu').map((k) => k.kernelName).filter((k) => !have.has(k)).sort();
  }

  // the 'fast' preset end to end on the toy task, as the tests use it
  for (const b of backends as BackendChoice[]) {
    const train = toyRefinerSamples(8, 1, { size: 16 });
    const test = toyRefinerSamples(8, 2, { size: 16 });
    const id = new IdentityRefiner();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = await trainRefiner(train, { ...REFINER_PRESETS.fast, seed: 3, backend: b, inferenceBackend: b });
    const c1 = process.cpuUsage(c0);
    result[`fastPreset_${b}`] = {
      cubes: '8 x 16³',
      steps: r.meta.training?.steps,
      seconds: { wall: +((performance.now() - t0) / 1000).toFixed(1), cpu: +((c1.user + c1.system) / 1e6).toFixed(1) },
      diceIdentity: +(await meanDice(id, test)).toFixed(4),
      diceRefined: +(await meanDice(r, test)).toFixed(4),
    };
    r.dispose();
  }

  if (process.argv.includes('--default-run')) {
    const train = toyRefinerSamples(300, 11, { size });
    const test = toyRefinerSamples(30, 12, { size });
    const id = new IdentityRefiner();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = await trainRefiner(train, { ...REFINER_PRESETS.default, seed: 3, log: (l) => process.stderr.write(`${l}\n`) });
    const c1 = process.cpuUsage(c0);
    result['defaultPreset300'] = {
      trainBackend: r.meta.trainBackend,
      steps: r.meta.training?.steps,
      seconds: { wall: +((performance.now() - t0) / 1000).toFixed(1), cpu: +((c1.user + c1.system) / 1e6).toFixed(1) },
      stoppedBy: r.meta.training?.stoppedBy,
      diceIdentity: +(await meanDice(id, test)).toFixed(4),
      diceRefined: +(await meanDice(r, test)).toFixed(4),
    };
  }
  process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
}

await main();
