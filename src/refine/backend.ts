/**
 * Loading tfjs and choosing its backend, kept in one place so the rest of lungtumor never touches
 * tfjs's global engine directly and tfjs can be swapped out.
 *
 * Nothing happens at import time: tfjs and the backend packages are imported dynamically from
 * `openTf`, and optional packages (tfjs-node, tfjs-node-gpu) are used only when they are installed.
 *
 * The webgpu backend (@tensorflow/tfjs-backend-webgpu) runs on the same WebGPU adapter as the feature
 * kernels (gpu-kernels/), Dawn through the `webgpu` package. 'auto' takes it only on a hardware
 * adapter: on a software one (Mesa llvmpipe, SwiftShader) it is a CPU, and there the wasm backend is
 * much faster (see SOFTWARE_ADAPTER_NOTE). Named explicitly, it runs on any adapter.
 */
import type * as TfModuleNs from '@tensorflow/tfjs-core';
import type {} from 'webgpu';
import { NO_ADAPTER, NO_GPU_DEVICE, SOFTWARE_ADAPTER_NAMES, describeAdapter } from '../../gpu-kernels/adapter.js';
import type * as NodePlatform from './node-platform.js';

export type TfModule = typeof TfModuleNs;

/** What a caller may ask for; 'auto' takes the first that works in AUTO_ORDER. */
export type BackendChoice = 'auto' | 'node-gpu' | 'node' | 'webgpu' | 'wasm' | 'cpu';

interface Candidate {
  id: Exclude<BackendChoice, 'auto'>;
  /** The name tfjs registers the backend under. */
  tfName: string;
  /** Package that provides it (imported for its side effect of registering the backend), or null when built in. */
  pkg: string | null;
}

const CANDIDATES: readonly Candidate[] = [
  { id: 'node-gpu', tfName: 'tensorflow', pkg: '@tensorflow/tfjs-node-gpu' },
  { id: 'node', tfName: 'tensorflow', pkg: '@tensorflow/tfjs-node' },
  { id: 'webgpu', tfName: 'webgpu', pkg: '@tensorflow/tfjs-backend-webgpu' },
  { id: 'wasm', tfName: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm' },
  { id: 'cpu', tfName: 'cpu', pkg: null },
];

export const AUTO_ORDER: readonly Exclude<BackendChoice, 'auto'>[] = ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu'];

/**
 * Why 'auto' passes over a software WebGPU adapter. Measured with scripts/bench_refiner.ts on
 * Mesa llvmpipe, 2 cores (24³ cubes, default net, wall / CPU ms): inference per cube wasm 16 / 12,
 * webgpu 291 / 329; in batches of 8, wasm 10 / 10, webgpu 361 / 329; one training step on 4 cubes
 * wasm 199 / 204, webgpu 7455 / 6937. The machine had other jobs running; the ratios held in CPU time.
 */
const SOFTWARE_ADAPTER_NOTE = 'the wasm backend is faster on a CPU (18-37x for the refiner, measured on llvmpipe)';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'node-gpu', 'node', 'webgpu', 'wasm', 'cpu'];

export function isBackendChoice(s: string): s is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(s);
}

/** A tfjs module with one chosen backend. */
export interface TfRuntime {
  readonly tf: TfModule;
  /** Which of our choices it is ('wasm', 'node', ...). */
  readonly id: Exclude<BackendChoice, 'auto'>;
  /** tfjs's name for the backend ('wasm', 'tensorflow', ...). */
  readonly tfName: string;
  /** Human-readable, for logs and metadata: e.g. "wasm (tfjs 4.22.0)". */
  readonly label: string;
  /**
   * Makes this runtime's backend the current one. tfjs has one global current backend, so anything
   * that runs ops calls this first; once a backend is initialised, switching to it is synchronous.
   */
  activate(): void;
  /**
   * Registers tfjs's gradient functions, which training needs and inference does not: in Node only
   * the @tensorflow/tfjs umbrella bundle carries them, so it is loaded here, on first use.
   */
  loadGradients(): Promise<void>;
}

export type Log = (line: string) => void;

/** Optional-package import, hidden from TypeScript's module resolution (they may be absent). */
async function importOptional(spec: string): Promise<unknown> {
  return import(spec);
}

function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.slice(0, 160);
}

function isModuleMissing(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && describe(err).includes(pkg);
}

/**
 * What only Node needs (the .wasm files' folder, Dawn), imported when first needed through a
 * specifier bundlers leave alone: the web page's bundle takes this file without Node's modules.
 */
const NODE_PLATFORM = './node-platform.js';
const nodePlatform = (): Promise<typeof NodePlatform> => import(NODE_PLATFORM) as Promise<typeof NodePlatform>;

type NavigatorWithGpu = { gpu?: GPU };

/**
 * Finds the WebGPU adapter tfjs-backend-webgpu will use and makes it reachable for that package:
 * it registers its backend at import time only when `navigator.gpu` exists, and its backend asks
 * `navigator.gpu` for the adapter, then reads WebGPU's flag objects (GPUBufferUsage, GPUMapMode, …)
 * as globals. Node has no `navigator` (20) or one without `gpu` (21+), so when `navigator.gpu` is
 * absent it is set to Dawn's GPU object from the `webgpu` package, with the missing flag globals;
 * an existing `navigator.gpu` is used as it is. With `auto`, a software adapter is refused before
 * anything global is set. Throws with the reason when there is no usable adapter.
 */
async function prepareWebGpu(auto: boolean): Promise<string> {
  const g = globalThis as { navigator?: NavigatorWithGpu };
  const existing = g.navigator?.gpu;
  let gpu: GPU;
  let globals: object | null = null;
  if (existing !== undefined) {
    gpu = existing;
  } else {
    // Auto refuses software adapters: without a GPU device node, Dawn is not asked (see openDawn).
    const node = await nodePlatform();
    if (auto && process.platform === 'linux' && node.gpuDeviceNodes().length === 0) throw new Error(NO_GPU_DEVICE);
    ({ gpu, globals } = await node.loadDawn());
  }
  let adapter: GPUAdapter | null;
  try {
    // The same request tfjs-backend-webgpu makes (its WEBGPU_USE_LOW_POWER_GPU flag is off by default).
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    throw new Error(`no WebGPU adapter (${describe(err)})`);
  }
  if (adapter === null) throw new Error(NO_ADAPTER);
  const { description, software } = describeAdapter(adapter);
  if (auto && software) {
    const name = SOFTWARE_ADAPTER_NAMES.exec(description)?.[0] ?? description;
    throw new Error(`software adapter (${name}): ${SOFTWARE_ADAPTER_NOTE}`);
  }
  if (existing === undefined) {
    for (const [name, value] of Object.entries(globals!)) {
      if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    }
    g.navigator ??= {};
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  return `${description}${software ? ', software' : ''}`;
}

/** Makes candidate `c` tfjs's current backend; returns a note on the device for the label, if any. */
async function tryCandidate(tf: TfModule, c: Candidate, auto: boolean): Promise<string | null> {
  let device: string | null = null;
  if (c.id === 'webgpu') device = await prepareWebGpu(auto);
  // A bundle (the web page's worker) imports its backend package itself and registers it first.
  if (c.pkg !== null && tf.findBackendFactory(c.tfName) === null) {
    let mod: unknown;
    try {
      mod = await importOptional(c.pkg);
    } catch (err) {
      throw new Error(isModuleMissing(err, c.pkg) ? `${c.pkg} is not installed` : `${c.pkg} failed to load: ${describe(err)}`);
    }
    if (c.id === 'wasm' && tf.findBackend('wasm') === null) {
      // In Node the .wasm binaries must be given as a file path; only possible before the backend first initialises.
      (mod as { setWasmPaths(prefix: string): void }).setWasmPaths((await nodePlatform()).wasmDistDir());
    }
  }
  // A package built against another copy of tfjs-core registers its backend on that copy's engine, not ours.
  if (tf.findBackendFactory(c.tfName) === null) {
    throw new Error(`${c.pkg ?? 'tfjs'} did not register backend '${c.tfName}' with this copy of @tensorflow/tfjs`);
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(c.tfName);
  } catch (err) {
    throw new Error(`backend '${c.tfName}' failed to start: ${describe(err)}`);
  }
  if (!ok || tf.getBackend() !== c.tfName) throw new Error(`backend '${c.tfName}' failed to start`);
  return device;
}

/**
 * Loads tfjs and makes `choice` its current backend. 'auto' tries AUTO_ORDER and logs why each
 * earlier one was skipped; a named choice that cannot start throws.
 */
export async function openTf(choice: BackendChoice = 'auto', log: Log = () => {}): Promise<TfRuntime> {
  // tfjs-core and its cpu kernels, not the @tensorflow/tfjs umbrella: the umbrella also loads
  // layers, converter and data (unused here), 0.3 s of every process's start-up (README).
  const tf = (await import('@tensorflow/tfjs-core')) as TfModule;
  await import('@tensorflow/tfjs-backend-cpu');
  const order = choice === 'auto' ? AUTO_ORDER : [choice];
  const skipped: string[] = [];
  for (const id of order) {
    const c = CANDIDATES.find((k) => k.id === id)!;
    let device: string | null;
    try {
      device = await tryCandidate(tf, c, choice === 'auto');
    } catch (err) {
      if (choice !== 'auto') throw new Error(`tfjs backend '${choice}' is not available: ${describe(err)}`);
      skipped.push(`${id}: ${describe(err)}`);
      continue;
    }
    const label = `${id} (tfjs ${tf.version_core}${device !== null ? ` on ${device}` : ''})`;
    log(`tfjs backend: ${label}${skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : ''}`);
    return {
      tf,
      id,
      tfName: c.tfName,
      label,
      activate(): void {
        if (tf.getBackend() === c.tfName) return;
        void tf.setBackend(c.tfName);
        if (tf.getBackend() !== c.tfName) throw new Error(`could not switch tfjs back to backend '${c.tfName}'`);
      },
      async loadGradients(): Promise<void> {
        await import('@tensorflow/tfjs');
      },
    };
  }
  throw new Error(`no tfjs backend could start: ${skipped.join('; ')}`);
}
