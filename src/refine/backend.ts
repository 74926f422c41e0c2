/**
 * Loading tfjs and choosing its backend, kept in one place so the rest of lungtumor never touches
 * tfjs's global engine directly and tfjs can be swapped out.
 *
 * Nothing happens at import time: tfjs and the backend packages are imported dynamically from
 * `openTf`, and optional packages (tfjs-node, tfjs-node-gpu, tfjs-backend-webgpu) are used only when
 * they are installed.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TfModuleNs from '@tensorflow/tfjs';

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
  // Hook for @tensorflow/tfjs-backend-webgpu: can be forced already; it joins AUTO_ORDER (after
  // node-gpu) once that package is a dependency and has been measured against wasm.
  { id: 'webgpu', tfName: 'webgpu', pkg: '@tensorflow/tfjs-backend-webgpu' },
  { id: 'wasm', tfName: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm' },
  { id: 'cpu', tfName: 'cpu', pkg: null },
];

export const AUTO_ORDER: readonly Exclude<BackendChoice, 'auto'>[] = ['node-gpu', 'node', 'wasm', 'cpu'];

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

/** Folder holding tfjs-backend-wasm's .wasm files, found the way Node finds the package. */
export function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

async function tryCandidate(tf: TfModule, c: Candidate): Promise<void> {
  if (c.pkg !== null) {
    let mod: unknown;
    try {
      mod = await importOptional(c.pkg);
    } catch (err) {
      throw new Error(isModuleMissing(err, c.pkg) ? `${c.pkg} is not installed` : `${c.pkg} failed to load: ${describe(err)}`);
    }
    if (c.id === 'wasm' && tf.findBackend('wasm') === null) {
      // In Node the .wasm binaries must be given as a file path; only possible before the backend first initialises.
      (mod as { setWasmPaths(prefix: string): void }).setWasmPaths(wasmDistDir());
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
}

/**
 * Loads tfjs and makes `choice` its current backend. 'auto' tries AUTO_ORDER and logs why each
 * earlier one was skipped; a named choice that cannot start throws.
 */
export async function openTf(choice: BackendChoice = 'auto', log: Log = () => {}): Promise<TfRuntime> {
  const tf = (await import('@tensorflow/tfjs')) as TfModule;
  const order = choice === 'auto' ? AUTO_ORDER : [choice];
  const skipped: string[] = [];
  for (const id of order) {
    const c = CANDIDATES.find((k) => k.id === id)!;
    try {
      await tryCandidate(tf, c);
    } catch (err) {
      if (choice !== 'auto') throw new Error(`tfjs backend '${choice}' is not available: ${describe(err)}`);
      skipped.push(`${id}: ${describe(err)}`);
      continue;
    }
    const label = `${id} (tfjs ${tf.version.tfjs})`;
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
    };
  }
  throw new Error(`no tfjs backend could start: ${skipped.join('; ')}`);
}
