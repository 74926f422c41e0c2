/**
 * The candidate classifier: a random forest (ml-random-forest / ml-cart) for the few thousand
 * candidate regions of a cohort, wrapped so that it is seeded, gives a probability per row, reports
 * feature importances, survives degenerate training sets and saves to a checked JSON file.
 *
 * ml-random-forest 2.1.0 is used for training only. Right after training its trees are copied into
 * the same flat arrays the boosted trees use, and prediction and model files work on those:
 *  - its own toJSON repeats every tree option in every node (several times larger files), and its
 *    load() walks the file with no checks (a malformed one fails with a bare TypeError);
 *  - its predictProbability() reduces without an initial value, so the first tree's vote counts as
 *    its label (0 or 1) instead of 1/nTrees;
 *  - it needs number[][] rows and walks TreeNode objects, far slower than flat arrays on Float32 rows.
 * Quirks worked around at training: its out-of-bag pass throws "input must not be empty" whenever a
 * row is in every tree's bootstrap (likely with few trees), so it is turned off (noOOB); features
 * are drawn once per tree (not per split) and, with replacement on, may repeat, so replacement is
 * off; maxFeatures = 1 means "all features" to it, so one feature is asked for as a fraction.
 */
import { RandomForestClassifier } from 'ml-random-forest';
import { Rng } from '../core/random.js';
import {
  type BinaryClassifier,
  type FeatureImportance,
  type JsonObject,
  type TrainingData,
  checkHeader,
  checkTrainingData,
  featureNamesField,
  field,
  importanceField,
  ModelFormatError,
  normalise,
  numberField,
  objectField,
  rankImportances,
  rowCount,
  shortestF32,
} from './types.js';
import { type CompiledTrees, type FlatTrees, FlatTreesBuilder, accumulateTrees, compileTrees, treesFromJson, treesToJson } from './trees.js';

export const FOREST_FORMAT = 'lungtumor-forest';
export const FOREST_VERSION = 1;

export interface ForestParams {
  numTrees: number;
  /** Features drawn for each tree: 'sqrt' (ceil of the square root of the count), 'all', or a count. */
  maxFeatures: 'sqrt' | 'all' | number;
  /** Deepest split level (ml-cart's maxDepth). */
  maxDepth: number;
  /** A node with this many rows or fewer becomes a leaf (ml-cart's minNumSamples). */
  minNumSamples: number;
  /** Smallest Gini gain for a split (ml-cart's gainThreshold; its own default 0.01 stops early on rare positives). */
  gainThreshold: number;
  /** Bootstrap rows for each tree. Without it every tree sees all rows and only the feature draw varies. */
  bagging: boolean;
  seed: number;
}

export const DEFAULT_FOREST_PARAMS: Readonly<ForestParams> = Object.freeze({
  numTrees: 100,
  maxFeatures: 'sqrt',
  maxDepth: 16,
  minNumSamples: 3,
  gainThreshold: 0,
  bagging: true,
  seed: 1,
});

export function resolveForestParams(p: Partial<ForestParams> = {}): ForestParams {
  const r: ForestParams = { ...DEFAULT_FOREST_PARAMS, ...p };
  const int = (k: 'numTrees' | 'maxDepth' | 'minNumSamples' | 'seed', lo: number, hi: number): void => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new Error(`forest: ${k} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  };
  int('numTrees', 1, 10_000);
  int('maxDepth', 1, 64);
  int('minNumSamples', 1, 1e9);
  int('seed', 0, 0xffffffff);
  const mf = r.maxFeatures;
  if (mf !== 'sqrt' && mf !== 'all' && !(typeof mf === 'number' && Number.isInteger(mf) && mf >= 1)) {
    throw new Error(`forest: maxFeatures must be 'sqrt', 'all' or a whole number >= 1, got ${String(mf)}`);
  }
  if (typeof r.gainThreshold !== 'number' || !(r.gainThreshold >= 0) || !Number.isFinite(r.gainThreshold)) {
    throw new Error(`forest: gainThreshold must be a finite number >= 0, got ${String(r.gainThreshold)}`);
  }
  if (typeof r.bagging !== 'boolean') throw new Error('forest: bagging must be true or false');
  return r;
}

export interface ForestTrainingInfo {
  rows: number;
  positives: number;
  /** Features each tree was given. */
  featuresPerTree: number;
  /**
   * Why the model is a constant instead of trees, or null. 'no-rows': nothing to learn from,
   * probability 0.5. 'single-class': one label only, probability (positives + 1) / (rows + 2).
   */
  fallback: null | 'no-rows' | 'single-class';
}

export class ForestModel implements BinaryClassifier {
  readonly kind = 'forest' as const;
  private readonly compiled: CompiledTrees;

  constructor(
    readonly featureNames: readonly string[],
    /** Each leaf holds the fraction of its training rows labelled 1. */
    readonly trees: FlatTrees,
    /** The probability of every row when there are no trees (see ForestTrainingInfo.fallback). */
    readonly constant: number | null,
    /** Mean decrease in Gini impurity per feature, normalised, aligned with featureNames. */
    private readonly giniImportance: Float64Array,
    readonly params: ForestParams,
    readonly info: ForestTrainingInfo,
  ) {
    this.compiled = compileTrees(trees);
  }

  get treeCount(): number {
    return this.trees.roots.length;
  }

  /** The mean over trees of the leaf's fraction of label-1 rows (soft voting, as scikit-learn does). */
  predictProba(rows: Float32Array, out?: Float32Array): Float32Array {
    const F = this.featureNames.length;
    const n = rowCount(rows, F, 'forest predict');
    const res = out ?? new Float32Array(n);
    if (res.length !== n) throw new Error(`forest predict: output holds ${res.length} values for ${n} rows`);
    const T = this.trees.roots.length;
    if (T === 0) {
      res.fill(this.constant ?? 0.5);
      return res;
    }
    const acc = new Float64Array(n);
    accumulateTrees(this.compiled, rows, F, acc);
    for (let i = 0; i < n; i++) res[i] = Math.min(1, Math.max(0, acc[i]! / T));
    return res;
  }

  importances(): FeatureImportance[] {
    return rankImportances(this.featureNames, this.giniImportance);
  }

  toJSON(): JsonObject {
    return {
      format: FOREST_FORMAT,
      version: FOREST_VERSION,
      featureNames: [...this.featureNames],
      constant: this.constant,
      trees: treesToJson(this.trees),
      importance: Array.from(this.giniImportance),
      params: { ...this.params },
      training: { ...this.info },
    };
  }
}

/** Reads a forest model file (already JSON-parsed); throws ModelFormatError naming what is wrong. */
export function loadForest(json: unknown): ForestModel {
  const what = 'forest';
  const obj = checkHeader(json, FOREST_FORMAT, FOREST_VERSION, what);
  const featureNames = featureNamesField(obj, what);
  const F = featureNames.length;
  const trees = treesFromJson(obj, F, what);
  for (let i = 0; i < trees.feature.length; i++) {
    if (trees.feature[i]! < 0 && !(trees.value[i]! >= 0 && trees.value[i]! <= 1)) {
      throw new ModelFormatError(what, `trees: leaf ${i} holds ${trees.value[i]}, not a probability`);
    }
  }
  const c = field(obj, 'constant', what);
  let constant: number | null;
  if (trees.roots.length === 0) {
    if (typeof c !== 'number' || !(c >= 0 && c <= 1)) throw new ModelFormatError(what, 'a model without trees needs "constant" in [0, 1]');
    constant = c;
  } else {
    if (c !== null) throw new ModelFormatError(what, '"constant" must be null when the model has trees');
    constant = null;
  }
  const importance = importanceField(obj, F, what);
  const rawParams = objectField(obj, 'params', what);
  let params: ForestParams;
  try {
    const known: Partial<ForestParams> = {};
    for (const k of Object.keys(DEFAULT_FOREST_PARAMS) as (keyof ForestParams)[]) {
      if (!(k in rawParams)) throw new Error(`missing parameter "${k}"`);
      (known as Record<string, unknown>)[k] = rawParams[k];
    }
    params = resolveForestParams(known);
  } catch (err) {
    throw new ModelFormatError(what, `params: ${(err as Error).message}`);
  }
  const t = objectField(obj, 'training', what);
  const fb = field(t, 'fallback', what);
  if (fb !== null && fb !== 'no-rows' && fb !== 'single-class') throw new ModelFormatError(what, 'training.fallback is not null, "no-rows" or "single-class"');
  if ((fb === null) !== (trees.roots.length > 0)) throw new ModelFormatError(what, 'training.fallback disagrees with the tree count');
  const info: ForestTrainingInfo = {
    rows: numberField(t, 'rows', what),
    positives: numberField(t, 'positives', what),
    featuresPerTree: numberField(t, 'featuresPerTree', what),
    fallback: fb,
  };
  return new ForestModel(featureNames, trees, constant, importance, params, info);
}

// ---- training ----------------------------------------------------------------------------------------

/** The parts of ml-cart's TreeNode we read (it has no typings for them). */
interface CartNode {
  left?: CartNode;
  right?: CartNode;
  splitColumn?: number;
  splitValue?: number;
  gain?: number;
  numberSamples?: number;
  distribution?: { columns: number; get(row: number, column: number): number };
}

interface TrainedForest {
  estimators: { root: CartNode }[];
  indexes: number[][];
}

/** The largest float32 below `s`: for float32 x, x < s exactly when x <= this. */
function float32Below(s: number): number {
  const f = Math.fround(s);
  if (f < s) return f;
  if (f === 0) return -1.401298464324817e-45;
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, f);
  const bits = view.getUint32(0);
  view.setUint32(0, f > 0 ? bits - 1 : bits + 1);
  return view.getFloat32(0);
}

function isSplit(node: CartNode): node is CartNode & { left: CartNode; right: CartNode } {
  return node.left !== undefined && node.right !== undefined;
}

/** Copies one ml-cart tree into flat arrays, numbering nodes breadth-first so siblings are adjacent. */
function flattenTree(root: CartNode, columns: number[], builder: FlatTreesBuilder, importance: Float64Array): void {
  const feature: number[] = [];
  const value: number[] = [];
  const left: number[] = [];
  const queue: CartNode[] = [root];
  const rootRows = root.numberSamples ?? 1;
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    if (isSplit(node)) {
      const col = columns[node.splitColumn ?? -1];
      if (col === undefined || node.splitValue === undefined) throw new Error('forest: ml-cart returned a split without a column or value');
      feature.push(col);
      value.push(shortestF32(float32Below(node.splitValue)));
      left.push(queue.length);
      queue.push(node.left, node.right);
      // Gini gain is already the size-weighted impurity drop per row of the node.
      importance[col] += ((node.gain ?? 0) * (node.numberSamples ?? 0)) / rootRows;
    } else {
      const d = node.distribution;
      if (!d) throw new Error('forest: ml-cart returned a leaf without a class distribution');
      feature.push(-1);
      value.push(shortestF32(d.columns > 1 ? d.get(0, 1) : 0));
      left.push(0);
    }
  }
  builder.addTree(feature, value, left);
}

/**
 * Trains the candidate forest. Rows must be finite (ml-cart sorts them); per-row weights are not
 * supported by ml-cart and are refused. No rows, or a single label, give a constant model (see
 * ForestTrainingInfo.fallback) instead of an error.
 */
export function trainForest(data: TrainingData, params: Partial<ForestParams> = {}): ForestModel {
  const p = resolveForestParams(params);
  const n = checkTrainingData(data, 'forest');
  if (data.weights !== undefined) throw new Error('forest: per-row weights are not supported (ml-cart has none); resample rows instead');
  const F = data.featureNames.length;
  const featureNames = [...data.featureNames];
  for (let i = 0; i < data.rows.length; i++) {
    if (!Number.isFinite(data.rows[i]!)) throw new Error(`forest: row ${Math.floor(i / F)} feature "${featureNames[i % F]}" is ${data.rows[i]}; rows must be finite`);
  }
  let positives = 0;
  for (let i = 0; i < n; i++) positives += data.labels[i]!;
  const k = p.maxFeatures === 'all' ? F : p.maxFeatures === 'sqrt' ? Math.ceil(Math.sqrt(F)) : Math.min(p.maxFeatures, F);
  const info: ForestTrainingInfo = { rows: n, positives, featuresPerTree: k, fallback: null };

  if (n === 0 || positives === 0 || positives === n) {
    info.fallback = n === 0 ? 'no-rows' : 'single-class';
    const constant = n === 0 ? 0.5 : (positives + 1) / (n + 2);
    return new ForestModel(featureNames, new FlatTreesBuilder().build(), constant, new Float64Array(F), p, info);
  }

  const X: number[][] = [];
  for (let i = 0; i < n; i++) X.push(Array.from(data.rows.subarray(i * F, (i + 1) * F)));
  const y = Array.from(data.labels, (v) => (v ? 1 : 0));
  // ml-random-forest reads an integer >= 2 as a count but 1 as "100 %", so one feature goes as a fraction.
  const maxFeatures = k >= F ? 1.0 : k >= 2 ? k : 1.5 / F;
  const rf = new RandomForestClassifier({
    nEstimators: p.numTrees,
    maxFeatures,
    replacement: false,
    useSampleBagging: p.bagging,
    noOOB: true,
    // Its engine is seeded from ours, so the whole forest follows params.seed.
    seed: new Rng(p.seed).nextUint32() | 0,
    treeOptions: { gainFunction: 'gini', splitFunction: 'mean', minNumSamples: p.minNumSamples, maxDepth: p.maxDepth, gainThreshold: p.gainThreshold },
  });
  rf.train(X, y);
  const trained = rf as unknown as TrainedForest;
  if (!Array.isArray(trained.estimators) || !Array.isArray(trained.indexes) || trained.estimators.length !== p.numTrees) {
    throw new Error('forest: ml-random-forest did not return the expected trees (version change?)');
  }
  const builder = new FlatTreesBuilder();
  const importance = new Float64Array(F);
  for (let t = 0; t < p.numTrees; t++) flattenTree(trained.estimators[t]!.root, trained.indexes[t]!, builder, importance);
  return new ForestModel(featureNames, builder.build(), null, Float64Array.from(normalise(importance)), p, info);
}

