/**
 * The parts of choosing a tfjs backend that only Node has: where tfjs-backend-wasm's .wasm files
 * are, and Dawn (the `webgpu` package) for WebGPU. backend.ts imports this module when it needs it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gpuDeviceNodes, openDawn } from '../../gpu-kernels/runtime.js';

export { gpuDeviceNodes };

/** Folder holding tfjs-backend-wasm's .wasm files, found the way Node finds the package. */
export function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

/** Dawn's GPU object, created once per process: it must outlive every device opened from it. */
let dawn: Promise<{ gpu: GPU; globals: object }> | null = null;

export function loadDawn(): Promise<{ gpu: GPU; globals: object }> {
  dawn ??= openDawn().then((d) => {
    if ('reason' in d) throw new Error(d.reason);
    return d;
  });
  return dawn;
}
