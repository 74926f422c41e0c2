/**
 * What the report shows about a model folder: the features each classifier leans on, how many
 * numbers were learned, how big the folder is, and how long training took. Model files are data:
 * every field used is checked, and a bad one is an InputError naming the file.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { MODEL_FILES, readJson, readManifest, type ModelManifest } from '../pipeline/model-folder.js';

const REFINER_JSON = 'refiner.json';

export interface FeatureBar {
  name: string;
  /** Share of the classifier's total importance (0..1). */
  importance: number;
  description: string;
}

/** Size of a tree ensemble: each split stores a feature and a threshold, each leaf a value. */
export interface TreeCounts {
  trees: number;
  splits: number;
  leaves: number;
}

export interface ModelInfo {
  dir: string;
  manifest: ModelManifest;
  voxelFeatures: FeatureBar[];
  candidateFeatures: FeatureBar[];
  voxelTrees: TreeCounts;
  candidateTrees: TreeCounts;
  /** Learned weights of the refiner network, or null without a refiner. */
  refinerParams: number | null;
  /** Backend the refiner was trained on (from refiner.json), or null. */
  refinerTrainBackend: string | null;
  /** Every file of the folder with its size in bytes, largest first. */
  files: { name: string; bytes: number }[];
  totalBytes: number;
  /** training_log.json: seconds per training stage (null when the log is absent). */
  trainingSeconds: Record<string, number> | null;
  trainingBackend: string | null;
  trainingWorkers: number | null;
  trainingCases: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function featureBars(path: string, list: unknown, which: string): FeatureBar[] {
  if (!Array.isArray(list)) throw new InputError(path, `"${which}" must be a list of features`);
  const bars = list.map((f: unknown, i) => {
    if (!isRecord(f) || typeof f.name !== 'string' || typeof f.importance !== 'number' || !Number.isFinite(f.importance) || f.importance < 0) {
      throw new InputError(path, `"${which}"[${i}] must have a name and a non-negative importance`);
    }
    return { name: f.name, importance: f.importance, description: typeof f.description === 'string' ? f.description : '' };
  });
  // The file is sorted already; sorting again keeps the chart right for any producer.
  return bars.sort((a, b) => b.importance - a.importance);
}

function treeCounts(path: string): TreeCounts {
  const json = readJson(path);
  const trees = isRecord(json) ? json.trees : undefined;
  if (!isRecord(trees) || !Array.isArray(trees.roots) || !Array.isArray(trees.feature)) {
    throw new InputError(path, 'no "trees" with "roots" and "feature" lists (not a lungtumor classifier)');
  }
  let leaves = 0;
  for (const f of trees.feature) {
    if (typeof f !== 'number') throw new InputError(path, '"trees.feature" must hold numbers');
    if (f < 0) leaves++;
  }
  return { trees: trees.roots.length, splits: trees.feature.length - leaves, leaves };
}

function numberRecord(path: string, v: unknown, what: string): Record<string, number> {
  if (!isRecord(v)) throw new InputError(path, `"${what}" must be an object of numbers`);
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new InputError(path, `"${what}.${k}" must be a number`);
    out[k] = x;
  }
  return out;
}

/** Reads what the report needs from a model folder written by `lungtumor train`. */
export function readModelInfo(dir: string): ModelInfo {
  const manifest = readManifest(dir);
  const featuresPath = join(dir, MODEL_FILES.features);
  const features = readJson(featuresPath);
  if (!isRecord(features)) throw new InputError(featuresPath, 'not a JSON object');
  const voxelFeatures = featureBars(featuresPath, features.voxel, 'voxel');
  const candidateFeatures = featureBars(featuresPath, features.candidate, 'candidate');
  const voxelTrees = treeCounts(join(dir, MODEL_FILES.voxelClassifier));
  const candidateTrees = treeCounts(join(dir, MODEL_FILES.candidateClassifier));

  let refinerParams: number | null = null;
  let refinerTrainBackend: string | null = null;
  const refinerPath = join(dir, REFINER_JSON);
  if (manifest.hasRefiner) {
    const r = readJson(refinerPath);
    const meta = isRecord(r) && isRecord(r.userDefinedMetadata) ? r.userDefinedMetadata.lungtumor : undefined;
    if (!isRecord(meta) || typeof meta.paramCount !== 'number' || !Number.isInteger(meta.paramCount)) {
      throw new InputError(refinerPath, 'no userDefinedMetadata.lungtumor.paramCount (not a lungtumor refiner)');
    }
    refinerParams = meta.paramCount;
    refinerTrainBackend = typeof meta.trainBackend === 'string' ? meta.trainBackend : null;
  }

  const files: { name: string; bytes: number }[] = [];
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub)).sort()) {
      const rel = sub ? `${sub}/${name}` : name;
      const st = statSync(join(dir, rel));
      if (st.isDirectory()) walk(rel);
      else if (st.isFile()) files.push({ name: rel, bytes: st.size });
    }
  };
  walk('');
  files.sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));

  let trainingSeconds: Record<string, number> | null = null;
  let trainingBackend: string | null = null;
  let trainingWorkers: number | null = null;
  const logPath = join(dir, MODEL_FILES.log);
  if (existsSync(logPath)) {
    const log = readJson(logPath);
    if (!isRecord(log)) throw new InputError(logPath, 'not a JSON object');
    trainingSeconds = numberRecord(logPath, log.seconds, 'seconds');
    trainingBackend = typeof log.backend === 'string' ? log.backend : null;
    trainingWorkers = typeof log.workers === 'number' ? log.workers : null;
  }

  return {
    dir,
    manifest,
    voxelFeatures,
    candidateFeatures,
    voxelTrees,
    candidateTrees,
    refinerParams,
    refinerTrainBackend,
    files,
    totalBytes: files.reduce((n, f) => n + f.bytes, 0),
    trainingSeconds,
    trainingBackend,
    trainingWorkers,
    trainingCases: manifest.caseOrder.length,
  };
}

/** Learned numbers: one per tree node (a split's threshold, a leaf's value), plus the refiner's weights. */
export function learnedParameters(m: ModelInfo): { voxel: number; candidate: number; refiner: number; total: number } {
  const voxel = m.voxelTrees.splits + m.voxelTrees.leaves;
  const candidate = m.candidateTrees.splits + m.candidateTrees.leaves;
  const refiner = m.refinerParams ?? 0;
  return { voxel, candidate, refiner, total: voxel + candidate + refiner };
}
