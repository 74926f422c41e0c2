/**
 * The pipeline's side of the refiner: how ROI cubes are packed for it, and which training preset
 * each configuration uses. The net itself lives behind src/refine's interface.
 */
import { REFINER_PRESETS, trainRefiner, type NetRefiner, type RefinerSample } from '../refine/refiner.js';
import { loadRefinerFrom } from '../refine/io.js';
import type { TrainConfig } from './config.js';
import type { FolderReader } from '../core/folder.js';
import type { BackendChoice } from '../refine/backend.js';

export interface RefinerStage {
  /** What runs inference, e.g. "wasm (tfjs 4.22.0)". */
  backend: string;
  predict(input: Float32Array): Promise<Float32Array>;
  net: NetRefiner;
}

/**
 * A refiner input cube: 2·N³ floats, channel-first — the CT mapped from `windowHu` to [-1, 1]
 * (clamped), then the voxel classifier's probability.
 */
export function buildRefinerInput(ctHu: Float32Array, prob: Float32Array, windowHu: [number, number]): Float32Array {
  const n3 = ctHu.length;
  if (prob.length !== n3) throw new Error('buildRefinerInput: CT and probability cubes differ in size');
  const out = new Float32Array(2 * n3);
  const [lo, hi] = windowHu;
  const scale = 2 / (hi - lo);
  for (let i = 0; i < n3; i++) {
    const v = (ctHu[i]! - lo) * scale - 1;
    out[i] = v < -1 ? -1 : v > 1 ? 1 : v;
  }
  out.set(prob, n3);
  return out;
}

function stage(net: NetRefiner): RefinerStage {
  return { backend: net.backend, predict: (input) => net.predict(input), net };
}

export async function trainRefinerStage(
  samples: RefinerSample[],
  windowHu: [number, number],
  config: TrainConfig,
  seed: number,
  log: (line: string) => void,
): Promise<RefinerStage> {
  // No time budget: a budget would make the model depend on the machine's speed.
  const { timeBudgetSeconds: _budget, ...preset } = { timeBudgetSeconds: undefined, ...REFINER_PRESETS[config.name] };
  const net = await trainRefiner(samples, { ...preset, seed, ctWindowHU: windowHu, log });
  log(`refiner: ${samples.length} ROIs of ${config.refiner.roiSamples}³, inference on ${net.backend}`);
  return stage(net);
}

export async function loadRefinerStage(folder: FolderReader, log: (line: string) => void, backend?: BackendChoice): Promise<RefinerStage> {
  return stage(await loadRefinerFrom(folder, { log, ...(backend ? { backend } : {}) }));
}
