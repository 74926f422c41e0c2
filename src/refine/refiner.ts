/**
 * The tumour refiner: a small learned 3D net that sharpens the voxel classifier's probability inside a
 * cube around the chosen candidate, and the do-nothing refiner used when a model has none.
 *
 * Input of every refiner: one Float32Array of 2·N³ floats, channel-first - the CT cube (normalised
 * by the pipeline to roughly [-1, 1]) then the classifier's probability cube in [0, 1] - each in
 * Volume voxel order (x fastest, then y, then z). Output: N³ refined probabilities in the same order.
 *
 * The net predicts a correction to the classifier's logit: out = sigmoid(logit(p) + net(ct, p)), and
 * its last layer starts at zero, so an untrained or barely trained net returns the classifier's answer.
 */
import type { Tensor, Tensor4D, Tensor5D } from '@tensorflow/tfjs-core';
import { Rng } from '../core/random.js';
import type { NetTopology } from './arch.js';
import { buildTopology, downsampleDepth, initParams, paramCount } from './arch.js';
import type { AugmentOptions, BatchBuffers } from './augment.js';
import { drawCubeMap, packSample } from './augment.js';
import type { BackendChoice, Log, TfRuntime } from './backend.js';
import { openTf } from './backend.js';
import { PROB_EPS, TfGraph, tensorsToParams, weightsToTensors, weightsToVariables } from './tfnet.js';

export interface Refiner {
  readonly kind: 'identity' | 'net';
  /** Cube edge N the refiner was trained for; null when any N works (identity). */
  readonly size: number | null;
  /** What runs inference, e.g. "wasm (tfjs 4.22.0)"; "none" for the identity refiner. */
  readonly backend: string;
  /**
   * Refined probabilities (N³) for one input (2·N³, see the file comment). Asynchronous because
   * results are read back with tensor.data(): GPU backends (webgpu) cannot read synchronously in Node.
   */
  predict(input: Float32Array): Promise<Float32Array>;
  /** Several inputs at once (faster per cube on most backends). */
  predictBatch(inputs: readonly Float32Array[]): Promise<Float32Array[]>;
  /** Frees backend memory; the refiner must not be used afterwards. */
  dispose(): void;
}

/** Edge N of a cube input of 2·N³ floats; throws when the length is not of that form. */
export function cubeEdge(input: Float32Array, where = 'refiner input'): number {
  const n = Math.round(Math.cbrt(input.length / 2));
  if (n < 1 || 2 * n * n * n !== input.length) throw new Error(`${where}: ${input.length} floats is not 2·N³ for any N`);
  return n;
}

/** The refiner input for a CT cube and a probability cube (each N³, Volume voxel order). */
export function refinerInput(ct: Float32Array, prob: Float32Array): Float32Array {
  if (ct.length !== prob.length) throw new Error(`refinerInput: CT has ${ct.length} voxels, probability ${prob.length}`);
  const out = new Float32Array(2 * ct.length);
  out.set(ct, 0);
  out.set(prob, ct.length);
  cubeEdge(out);
  return out;
}

/** Returns the classifier's probability unchanged: the refiner of a model that has no refiner net. */
export class IdentityRefiner implements Refiner {
  readonly kind = 'identity' as const;
  readonly size = null;
  readonly backend = 'none';

  async predict(input: Float32Array): Promise<Float32Array> {
    const n = cubeEdge(input);
    const n3 = n * n * n;
    return input.slice(n3, 2 * n3);
  }

  async predictBatch(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    return Promise.all(inputs.map((x) => this.predict(x)));
  }

  dispose(): void {}
}

export interface RefinerSample {
  /** 2·N³ floats, channel-first (CT then probability), Volume voxel order. */
  input: Float32Array;
  /** N³ voxels, 1 = tumour, 0 = not. */
  target: Uint8Array;
}

export interface RefinerTrainOptions {
  seed: number;
  /** Passes over the samples (used when `steps` is absent). */
  epochs?: number;
  /** Optimizer steps in all; overrides `epochs`. */
  steps?: number;
  batchSize: number;
  learningRate: number;
  /** Seeded flips and axial quarter turns; `true` means both. */
  augment: boolean | AugmentOptions;
  /** Stops early once training has taken this long (the result then depends on machine speed). */
  timeBudgetSeconds?: number;
  /** Base channel width of the net (see arch.ts); default 8. */
  width?: number;
  /** Backend for training; 'auto' falls back to cpu when the chosen one lacks a kernel training needs. */
  backend?: BackendChoice;
  /** Backend for the returned refiner's inference; default 'auto'. */
  inferenceBackend?: BackendChoice;
  /** When given, the weights with the lowest loss on these (checked after every epoch) are kept. */
  validation?: readonly RefinerSample[];
  /** CT window the pipeline normalised with, recorded in the metadata for consistency checks. */
  ctWindowHU?: [number, number];
  log?: Log;
}

/** Settings for the two standard trainings; add `seed` (and optionally a time budget). */
export const REFINER_PRESETS = {
  /** A few hundred ROIs: minutes on 2 cores with wasm. */
  default: { epochs: 16, batchSize: 4, learningRate: 2e-3, augment: true, width: 8, timeBudgetSeconds: 900 },
  /** A handful of ROIs for tests and demos: seconds. */
  fast: { steps: 40, batchSize: 2, learningRate: 1e-2, augment: true, width: 4 },
} as const satisfies Record<string, Omit<RefinerTrainOptions, 'seed'>>;

export interface RefinerTrainReport {
  seed: number;
  steps: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  augment: AugmentOptions;
  /** Mean training loss over the last epoch (or over the steps after the last whole epoch); null when no step ran. */
  finalLoss: number | null;
  /** Mean training loss per epoch. */
  lossHistory: number[];
  bestValidationLoss: number | null;
  stoppedBy: 'steps' | 'time-budget';
}

/** What refiner.json records besides the topology and weights manifest. */
export interface RefinerMeta {
  size: number;
  channels: ['ct', 'probability'];
  inputLayout: 'channel-first, voxel order x fastest then y then z';
  normalisation: { ctWindowHU: [number, number] | null; probabilityClamp: number };
  paramCount: number;
  tfjsVersion: string;
  /** Backend that ran the training, e.g. "wasm (tfjs 4.22.0)". */
  trainBackend: string;
  training: RefinerTrainReport | null;
}

/** Upper bound on cubes per forward pass, to keep backend memory bounded. */
const MAX_BATCH = 8;

export class NetRefiner implements Refiner {
  readonly kind = 'net' as const;
  private weights: Map<string, Tensor> | null = null;
  private readonly graph: TfGraph;

  constructor(
    private readonly rt: TfRuntime,
    readonly topology: NetTopology,
    /** Weights by name (arch.ts paramSpecs order and shapes); not to be modified. */
    readonly params: ReadonlyMap<string, Float32Array>,
    readonly meta: RefinerMeta,
  ) {
    this.graph = new TfGraph(rt, topology);
  }

  get size(): number {
    return this.meta.size;
  }

  get backend(): string {
    return this.rt.label;
  }

  async predict(input: Float32Array): Promise<Float32Array> {
    return (await this.predictBatch([input]))[0]!;
  }

  async predictBatch(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    const n = this.meta.size;
    const n3 = n * n * n;
    inputs.forEach((x, i) => {
      if (x.length !== 2 * n3) throw new Error(`refiner input ${i}: ${x.length} floats, expected 2·${n}³ = ${2 * n3}`);
      if (!x.every(Number.isFinite)) throw new Error(`refiner input ${i}: has a non-finite value`);
    });
    const tf = this.rt.tf;
    const out: Float32Array[] = [];
    for (let start = 0; start < inputs.length; start += MAX_BATCH) {
      const chunk = inputs.slice(start, start + MAX_BATCH);
      // Other work may have switched tfjs's current backend while we awaited the previous chunk.
      this.rt.activate();
      if (this.weights === null) this.weights = weightsToTensors(tf, this.topology, this.params);
      const weights = this.weights;
      const buf: BatchBuffers = { input: new Float32Array(chunk.length * n3 * 2), prob: new Float32Array(chunk.length * n3), target: null };
      chunk.forEach((x, i) => packSample(x, null, n3, null, i, buf));
      // tidy returns only the tensor: returning a typed array from tidy makes it walk every element.
      const prob = tf.tidy(() => {
        const x = tf.tensor5d(buf.input, [chunk.length, n, n, n, 2]);
        return tf.sigmoid(this.graph.logits(x, tf.tensor4d(buf.prob, [chunk.length, n, n, n]), weights));
      });
      let data: Float32Array;
      try {
        data = (await prob.data()) as Float32Array;
      } finally {
        prob.dispose();
      }
      for (let i = 0; i < chunk.length; i++) out.push(data.slice(i * n3, (i + 1) * n3));
    }
    return out;
  }

  dispose(): void {
    if (this.weights !== null) for (const t of this.weights.values()) t.dispose();
    this.weights = null;
  }
}

function checkSamples(samples: readonly RefinerSample[], what: string): number {
  if (samples.length === 0) throw new Error(`${what}: no samples`);
  const n = cubeEdge(samples[0]!.input, `${what} 0 input`);
  samples.forEach((s, i) => {
    if (s.input.length !== 2 * n * n * n) throw new Error(`${what} ${i}: input has ${s.input.length} floats, expected 2·${n}³`);
    if (s.target.length !== n * n * n) throw new Error(`${what} ${i}: target has ${s.target.length} voxels, expected ${n}³`);
    for (const v of s.input) if (!Number.isFinite(v)) throw new Error(`${what} ${i}: input has a non-finite value`);
    for (const v of s.target) if (v > 1) throw new Error(`${what} ${i}: target values must be 0 or 1`);
  });
  return n;
}

function augmentOptions(a: boolean | AugmentOptions): AugmentOptions {
  return typeof a === 'boolean' ? { flips: a, rotations: a } : { flips: a.flips, rotations: a.rotations };
}

/** Builds a channel-last batch tensor pair from samples (through a cube map per sample when augmenting). */
function makeBatch(
  rt: TfRuntime,
  samples: readonly RefinerSample[],
  n: number,
  aug: { rng: Rng; opts: AugmentOptions } | null,
): { x: Tensor5D; p: Tensor4D; t: Tensor4D } {
  const n3 = n * n * n;
  const b = samples.length;
  const buf = { input: new Float32Array(b * n3 * 2), prob: new Float32Array(b * n3), target: new Float32Array(b * n3) };
  samples.forEach((s, i) => {
    const map = aug === null ? null : drawCubeMap(n, aug.rng, aug.opts);
    packSample(s.input, s.target, n3, map, i, buf);
  });
  const tf = rt.tf;
  return { x: tf.tensor5d(buf.input, [b, n, n, n, 2]), p: tf.tensor4d(buf.prob, [b, n, n, n]), t: tf.tensor4d(buf.target, [b, n, n, n]) };
}

/**
 * Runs one tiny training step to find out whether `rt` has every kernel training needs
 * (tfjs throws "Kernel 'X' not registered for backend 'Y'" otherwise) and reads its loss back
 * (a GPU backend reports some failures only then).
 */
async function probeTraining(rt: TfRuntime, topo: NetTopology): Promise<void> {
  const n = 2 ** Math.max(1, downsampleDepth(topo));
  const params = initParams(topo, new Rng(0));
  const tf = rt.tf;
  const vars = weightsToVariables(tf, topo, params);
  const opt = tf.train.adam(1e-3);
  try {
    const graph = new TfGraph(rt, topo);
    const sample: RefinerSample = { input: new Float32Array(2 * n ** 3).fill(0.5), target: new Uint8Array(n ** 3).fill(1) };
    const cost = tf.tidy(() => {
      const { x, p, t } = makeBatch(rt, [sample], n, null);
      return opt.minimize(() => graph.loss(x, p, t, vars), true, [...vars.values()])!;
    });
    const loss = await readScalar(cost);
    if (!Number.isFinite(loss)) throw new Error(`a test step gave a non-finite loss (${loss})`);
  } finally {
    opt.dispose();
    for (const v of vars.values()) v.dispose();
  }
}

async function trainingRuntime(choice: BackendChoice, topo: NetTopology, log: Log): Promise<TfRuntime> {
  const open = async (c: BackendChoice): Promise<TfRuntime> => {
    const r = await openTf(c, log);
    await r.loadGradients();
    return r;
  };
  const rt = await open(choice);
  try {
    await probeTraining(rt, topo);
    return rt;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (choice !== 'auto' || rt.id === 'cpu') throw new Error(`refiner training cannot run on ${rt.label}: ${why}`);
    log(`refiner: ${rt.label} cannot train (${why}); training on cpu`);
    return open('cpu');
  }
}

/** A scalar tensor's value, read asynchronously (GPU backends cannot read synchronously); the tensor is disposed. */
async function readScalar(t: Tensor): Promise<number> {
  try {
    return (await t.data())[0]!;
  } finally {
    t.dispose();
  }
}

/** Mean loss over samples, no augmentation, in batches. */
async function meanLoss(rt: TfRuntime, graph: TfGraph, vars: ReadonlyMap<string, Tensor>, samples: readonly RefinerSample[], n: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < samples.length; i += MAX_BATCH) {
    const chunk = samples.slice(i, i + MAX_BATCH);
    rt.activate();
    const loss = rt.tf.tidy(() => {
      const { x, p, t } = makeBatch(rt, chunk, n, null);
      return graph.loss(x, p, t, vars);
    });
    total += (await readScalar(loss)) * chunk.length;
  }
  return total / samples.length;
}

/**
 * Trains a refiner net on cubes (all of one size N, divisible by 2) with soft-Dice + BCE loss and Adam.
 * The same seed on the same backend gives bit-identical weights (unless the time budget cuts it short).
 * The backends used for training and for inference are logged and recorded.
 */
export async function trainRefiner(samples: readonly RefinerSample[], opts: RefinerTrainOptions): Promise<NetRefiner> {
  const log = opts.log ?? (() => {});
  const n = checkSamples(samples, 'refiner training sample');
  if (opts.validation !== undefined && opts.validation.length > 0) {
    const nv = checkSamples(opts.validation, 'refiner validation sample');
    if (nv !== n) throw new Error(`refiner validation cubes are ${nv}³ but training cubes are ${n}³`);
  }
  const topo = buildTopology({ width: opts.width ?? 8 });
  const depth = downsampleDepth(topo);
  if (n % 2 ** depth !== 0 || n < 2 ** depth) throw new Error(`refiner cube edge ${n} must be a multiple of ${2 ** depth}`);
  const batchSize = Math.min(opts.batchSize, samples.length);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`refiner batchSize must be a positive integer`);
  if (!(opts.learningRate > 0)) throw new Error(`refiner learningRate must be positive`);
  // Each epoch is a fresh shuffle cut into whole batches (the remainder waits for a later shuffle).
  const stepsPerEpoch = Math.floor(samples.length / batchSize);
  const totalSteps = opts.steps ?? Math.round((opts.epochs ?? 1) * stepsPerEpoch);
  if (!Number.isInteger(totalSteps) || totalSteps < 0) throw new Error(`refiner steps must be a non-negative integer`);
  const aug = augmentOptions(opts.augment);

  const rt = await trainingRuntime(opts.backend ?? 'auto', topo, log);
  log(`refiner: training on ${rt.label}: ${samples.length} cubes of ${n}³, ${paramCount(topo)} parameters, ${totalSteps} steps of ${batchSize}`);
  const tf = rt.tf;
  const rng = new Rng(opts.seed);
  const initRng = rng.fork();
  const orderRng = rng.fork();
  const augRng = rng.fork();
  const graph = new TfGraph(rt, topo);
  const vars = weightsToVariables(tf, topo, initParams(topo, initRng));
  const varList = [...vars.values()];
  const opt = tf.train.adam(opts.learningRate);
  const started = performance.now();
  const history: number[] = [];
  let best: { loss: number; params: Map<string, Float32Array> } | null = null;
  let stoppedBy: RefinerTrainReport['stoppedBy'] = 'steps';
  let step = 0;
  let epochLoss = 0;
  let epochSteps = 0;
  try {
    let order: number[] = [];
    let cursor = 0;
    while (step < totalSteps) {
      if (opts.timeBudgetSeconds !== undefined && (performance.now() - started) / 1000 > opts.timeBudgetSeconds) {
        stoppedBy = 'time-budget';
        break;
      }
      if (cursor + batchSize > order.length) {
        order = orderRng.shuffled(samples.map((_, i) => i));
        cursor = 0;
      }
      const batch = order.slice(cursor, cursor + batchSize).map((i) => samples[i]!);
      cursor += batchSize;
      rt.activate();
      const cost = tf.tidy(() => {
        const { x, p, t } = makeBatch(rt, batch, n, aug.flips || aug.rotations ? { rng: augRng, opts: aug } : null);
        return opt.minimize(() => graph.loss(x, p, t, vars), true, varList)!;
      });
      const loss = await readScalar(cost);
      if (!Number.isFinite(loss)) throw new Error(`refiner training diverged at step ${step} (loss ${loss}); lower the learning rate`);
      step++;
      epochLoss += loss;
      epochSteps++;
      if (epochSteps === stepsPerEpoch || step === totalSteps) {
        history.push(epochLoss / epochSteps);
        if (opts.validation !== undefined && opts.validation.length > 0) {
          const vl = await meanLoss(rt, graph, vars, opts.validation, n);
          if (best === null || vl < best.loss) best = { loss: vl, params: await tensorsToParams(topo, vars) };
        }
        log(`refiner: epoch ${history.length} loss ${history[history.length - 1]!.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
        epochLoss = 0;
        epochSteps = 0;
      }
      // Let timers and signals run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const params = best !== null ? best.params : await tensorsToParams(topo, vars);
    // Wall time goes to the log only: the saved model must not depend on the machine's speed.
    const seconds = (performance.now() - started) / 1000;
    const report: RefinerTrainReport = {
      seed: opts.seed,
      steps: step,
      epochs: step / stepsPerEpoch,
      batchSize,
      learningRate: opts.learningRate,
      augment: aug,
      finalLoss: history.length > 0 ? history[history.length - 1]! : null,
      lossHistory: history,
      bestValidationLoss: best?.loss ?? null,
      stoppedBy,
    };
    log(`refiner: trained ${step} steps in ${seconds.toFixed(1)} s on ${rt.label}${stoppedBy === 'time-budget' ? ' (time budget reached)' : ''}`);
    const inferRt = (opts.inferenceBackend ?? 'auto') === rt.id ? rt : await openTf(opts.inferenceBackend ?? 'auto', log);
    log(`refiner: inference on ${inferRt.label}`);
    return new NetRefiner(inferRt, topo, params, {
      size: n,
      channels: ['ct', 'probability'],
      inputLayout: 'channel-first, voxel order x fastest then y then z',
      normalisation: { ctWindowHU: opts.ctWindowHU ?? null, probabilityClamp: PROB_EPS },
      paramCount: paramCount(topo),
      tfjsVersion: tf.version_core,
      trainBackend: rt.label,
      training: report,
    });
  } finally {
    opt.dispose();
    for (const v of varList) v.dispose();
  }
}

/** A refiner net with fresh (untrained) weights: behaves like IdentityRefiner until trained. */
export async function createRefiner(
  size: number,
  opts: { seed: number; width?: number; backend?: BackendChoice; log?: Log },
): Promise<NetRefiner> {
  const topo = buildTopology({ width: opts.width ?? 8 });
  const depth = downsampleDepth(topo);
  if (!Number.isInteger(size) || size < 2 ** depth || size % 2 ** depth !== 0) throw new Error(`refiner cube edge ${size} must be a multiple of ${2 ** depth}`);
  const rt = await openTf(opts.backend ?? 'auto', opts.log);
  return new NetRefiner(rt, topo, initParams(topo, new Rng(opts.seed)), {
    size,
    channels: ['ct', 'probability'],
    inputLayout: 'channel-first, voxel order x fastest then y then z',
    normalisation: { ctWindowHU: null, probabilityClamp: PROB_EPS },
    paramCount: paramCount(topo),
    tfjsVersion: rt.tf.version_core,
    trainBackend: 'none',
    training: null,
  });
}
