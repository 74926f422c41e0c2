/** A refiner's folder on disk: saved atomically, loaded through a FolderReader (see io.ts). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import type { FolderReader } from '../core/folder.js';
import { diskFolder } from '../io/folder.js';
import type { BackendChoice, Log } from './backend.js';
import { loadRefinerFrom, saveRefinerWith } from './io.js';
import type { NetRefiner } from './refiner.js';

/** Writes a refiner to `dir` (created if needed) as refiner.json + refiner.weights.bin, each file atomically. */
export async function saveRefiner(refiner: NetRefiner, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await saveRefinerWith(refiner, diskFolder(dir), (name, data) => writeFileAtomic(join(dir, name), data));
}

/** loadRefinerFrom for a folder on disk (or any FolderReader). */
export async function loadRefiner(dir: string | FolderReader, opts: { backend?: BackendChoice; log?: Log } = {}): Promise<NetRefiner> {
  return loadRefinerFrom(typeof dir === 'string' ? diskFolder(dir) : dir, opts);
}
