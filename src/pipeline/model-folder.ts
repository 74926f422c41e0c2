/**
 * The self-describing model folder: plans, classifiers, refiner, feature list and importances,
 * seed, case order, package versions, training log. Everything is JSON (plus the refiner's raw
 * weights); loading parses data and never runs code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import { readText, type FolderReader } from '../core/folder.js';
import { diskFolder } from '../io/folder.js';

export const MODEL_FORMAT = 'lungtumor-model';
export const MODEL_VERSION = 1;

export const MODEL_FILES = {
  manifest: 'model.json',
  plans: 'plans.json',
  voxelClassifier: 'voxel_classifier.json',
  candidateClassifier: 'candidate_classifier.json',
  features: 'features.json',
  log: 'training_log.json',
} as const;

export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_VERSION;
  /** 'fast' or 'default'. */
  config: string;
  seed: number;
  /** Case ids in the order training visited them: sorted, then shuffled by the seed. */
  caseOrder: string[];
  /** Training weight of the cases that had one other than 1 (`train --weight`); absent when none. */
  caseWeights?: Record<string, number>;
  /** Versions of lungtumor and of the packages whose numerics the model depends on. */
  versions: Record<string, string>;
  /** Whether the folder has a trained refiner (refiner.json + refiner.weights.bin). */
  hasRefiner: boolean;
}

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

/** A JSON file of a model folder, wherever the folder is (disk, or memory in the web page). */
export function readModelJson(folder: FolderReader, name: string): unknown {
  const where = folder.where(name);
  if (folder.size(name) === null) throw new InputError(where, 'cannot read model file (no such file)');
  return parseModelJson(where, readText(folder, name));
}

function parseModelJson(where: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(where, 'model file is not valid JSON (truncated or corrupt)');
  }
}

/** A training weight (`train --weight`): a whole number ≥ 1. */
export function isCaseWeight(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1;
}

function validCaseWeights(w: unknown): boolean {
  return typeof w === 'object' && w !== null && !Array.isArray(w) && Object.values(w).every(isCaseWeight);
}

export function readManifest(modelDir: string): ModelManifest {
  if (!existsSync(modelDir)) throw new InputError(modelDir, 'model folder not found');
  return readManifestFrom(diskFolder(modelDir));
}

export function readManifestFrom(folder: FolderReader): ModelManifest {
  const path = folder.where(MODEL_FILES.manifest);
  const m = readModelJson(folder, MODEL_FILES.manifest) as ModelManifest;
  if (
    !m || m.format !== MODEL_FORMAT || m.version !== MODEL_VERSION || typeof m.seed !== 'number' ||
    !Array.isArray(m.caseOrder) || typeof m.hasRefiner !== 'boolean' ||
    (m.caseWeights !== undefined && !validCaseWeights(m.caseWeights))
  ) {
    throw new InputError(path, `not a lungtumor model manifest (format ${MODEL_FORMAT} version ${MODEL_VERSION})`);
  }
  return m;
}
