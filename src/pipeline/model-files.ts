/**
 * The model folder's files and manifest, read through a FolderReader: the same code loads a model
 * from disk (CLI) and from memory (web page). Everything is JSON (plus the refiner's raw weights);
 * loading parses data and never runs code.
 */
import { InputError } from '../core/errors.js';
import { readText, type FolderReader } from '../core/folder.js';
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

/** A JSON file of a model folder, wherever the folder is (disk, or memory in the web page). */
export function readModelJson(folder: FolderReader, name: string): unknown {
  const where = folder.where(name);
  if (folder.size(name) === null) throw new InputError(where, 'cannot read model file (no such file)');
  return parseModelJson(where, readText(folder, name));
}

/** JSON text of a model file, or an InputError naming it. */
export function parseModelJson(where: string, text: string): unknown {
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