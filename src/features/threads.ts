/**
 * Feature threads in Node: worker_threads started through worker-threads-pool, running worker.js
 * beside this module. featureExtractor() is how the CLI, training and the scripts make a
 * FeatureExtractor; the web page makes one with no threads.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../core/volume.js';
import type { FeatureContext } from './context.js';
import { FeatureExtractor, type ExtractOptions, type FeatureRows, type FeatureThreads, type PoolCtor } from './extract.js';
import type { GpuFeatures } from './gpu.js';

export function nodeFeatureThreads(): FeatureThreads {
  // worker-threads-pool is CommonJS without types.
  const require = createRequire(import.meta.url);
  return { Pool: require('worker-threads-pool') as PoolCtor, script: fileURLToPath(new URL('./worker.js', import.meta.url)) };
}

/** A FeatureExtractor on `workers` Node worker threads (default 2; 0 computes in the calling thread). */
export function featureExtractor(opts: { workers?: number; gpu?: GpuFeatures | null } = {}): FeatureExtractor {
  const workers = opts.workers ?? 2;
  return new FeatureExtractor({ workers, gpu: opts.gpu ?? null, ...(workers > 0 ? { threads: nodeFeatureThreads() } : {}) });
}

/**
 * One-shot extraction (a FeatureExtractor created and closed around one call). Features of the
 * voxels `voxelIndices` (x fastest: index = x + nx * (y + ny * z)) of the CT (HU) with dims and
 * spacing in mm; context features from `context`. Resolves to n × F rows in the order of `names`.
 */
export async function extractFeatures(
  ct: ArrayLike<number>,
  dims: Vec3,
  spacingMm: Vec3,
  context: FeatureContext | (() => FeatureContext),
  voxelIndices: Int32Array,
  opts: Partial<ExtractOptions> = {},
): Promise<FeatureRows> {
  const fx = featureExtractor({ workers: opts.workers ?? 2, gpu: opts.gpu ?? null });
  try {
    return await fx.extract(ct, dims, spacingMm, context, voxelIndices, opts);
  } finally {
    await fx.close();
  }
}
