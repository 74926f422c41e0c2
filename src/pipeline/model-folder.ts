/**
 * The model folder on disk: where the package is, its versions, JSON written atomically, the
 * manifest read from a folder (model-files.ts reads the files wherever they are).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { FolderReader } from '../core/folder.js';
import { diskFolder } from '../io/folder.js';
import { parseModelJson, readManifestFrom, type ModelManifest } from './model-files.js';
import { loadModelFrom, type LoadedModel } from './predict.js';

export * from './model-files.js';

/** The folder of the installed lungtumor package (the one holding its package.json). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'lungtumor') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the lungtumor package root');
    dir = up;
  }
}

/** Versions recorded in every model, so a model can say what produced it. */
export function packageVersions(): Record<string, string> {
  const root = packageRoot();
  const version = (pj: string): string => {
    try {
      return (JSON.parse(readFileSync(pj, 'utf8')) as { version: string }).version;
    } catch {
      return 'absent';
    }
  };
  const out: Record<string, string> = {
    lungtumor: version(join(root, 'package.json')),
    node: process.versions.node,
  };
  for (const pkg of ['@tensorflow/tfjs-core', 'ml-random-forest', 'nifti-reader-js', 'worker-threads-pool']) {
    out[pkg] = version(join(root, 'node_modules', pkg, 'package.json'));
  }
  return out;
}

/** Deterministic JSON (two-space indent, insertion key order) written atomically. */
export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`);
}

export function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(path, `cannot read model file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseModelJson(path, text);
}

/** A model folder on disk; InputError when there is no such folder. */
function modelFolder(dir: string): FolderReader {
  if (!existsSync(dir)) throw new InputError(dir, 'model folder not found');
  return diskFolder(dir);
}

export function readManifest(modelDir: string): ModelManifest {
  return readManifestFrom(modelFolder(modelDir));
}

/** A model from a folder on disk (see loadModelFrom). */
export async function loadModel(dir: string, log: (line: string) => void = () => {}): Promise<LoadedModel> {
  return loadModelFrom(modelFolder(dir), log);
}
