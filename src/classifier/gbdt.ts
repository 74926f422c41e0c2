/**
 * Histogram gradient-boosted trees for binary classification (logistic loss), the voxel classifier.
 *
 * Each feature is cut at up to maxBins-1 quantile thresholds so training works on one byte per
 * value; trees grow best-first (largest gain first) under both a depth and a leaf limit, from
 * gradient/hessian histograms, where only the smaller child of a split is scanned and the larger one
 * is its parent's histogram minus the smaller's. Thresholds are kept as float32 values, so a
 * trained model predicts on raw Float32 features with no binning step.
 *
 * Everything random (row and column subsampling, the held-out split, the binning sample) draws
 * from one seeded Rng, and all sums run in a fixed order: the same data and seed give the same
 * model file byte for byte.
 */
import { Rng } from '../core/random.js';
import {
  type BinaryClassifier,
  type FeatureImportance,
  type JsonObject,
  type TrainingData,
  checkHeader,
  checkTrainingData,
  featureNamesField,
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

export const GBDT_FORMAT = 'lungtumor-gbdt';
export const GBDT_VERSION = 1;

export interface GbdtParams {
  /** Boosting rounds (the most trees kept). */
  numTrees: number;
  /** Shrinkage applied to every leaf value. */
  learningRate: number;
  /** Deepest a leaf may be (root is depth 0). */
  maxDepth: number;
  /** Most leaves per tree; with 2^maxDepth this grows full depth-limited trees. */
  maxLeaves: number;
  /** Bins per feature, at most 255 (code 255 is kept for NaN, which always goes right). */
  maxBins: number;
  /** L2 penalty on leaf values (the lambda in -G / (H + lambda)). */
  lambdaL2: number;
  /** Fewest training rows in a leaf. */
  minSamplesLeaf: number;
  /** Smallest hessian sum (weighted p(1-p)) in a leaf; stops splits of nearly pure nodes. */
  minHessianLeaf: number;
  /** Smallest gain for a split to be made. */
  minGainToSplit: number;
  /** Fraction of training rows drawn (without replacement, independently) for each tree. */
  subsample: number;
  /** Fraction of features drawn for each tree. */
  colsample: number;
  /** Fraction of rows held out (stratified by label) for early stopping; 0 turns it off. */
  validationFraction: number;
  /** Stop when the held-out log loss has not improved for this many trees; keep the best count. */
  earlyStoppingRounds: number;
  /** Reweight rows so that both labels carry the same total weight. */
  balanceClasses: boolean;
  /** Rows sampled to place the bin thresholds. */
  binSampleSize: number;
  seed: number;
}

export const DEFAULT_GBDT_PARAMS: Readonly<GbdtParams> = Object.freeze({
  numTrees: 100,
  learningRate: 0.1,
  maxDepth: 6,
  maxLeaves: 64,
  maxBins: 255,
  lambdaL2: 1,
  minSamplesLeaf: 20,
  minHessianLeaf: 1e-3,
  minGainToSplit: 0,
  subsample: 1,
  colsample: 1,
  validationFraction: 0,
  earlyStoppingRounds: 10,
  balanceClasses: false,
  binSampleSize: 200_000,
  seed: 1,
});

/** Defaults filled in and every value range-checked; throws an Error naming a bad parameter. */
export function resolveGbdtParams(p: Partial<GbdtParams> = {}): GbdtParams {
  const r: GbdtParams = { ...DEFAULT_GBDT_PARAMS, ...p };
  const int = (k: keyof GbdtParams, lo: number, hi = Number.MAX_SAFE_INTEGER): void => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new Error(`GBDT: ${k} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  };
  const num = (k: keyof GbdtParams, lo: number, hi: number, loOpen = false): void => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v > hi || v < lo || (loOpen && v === lo)) {
      throw new Error(`GBDT: ${k} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${String(v)}`);
    }
  };
  int('numTrees', 0);
  num('learningRate', 0, 10, true);
  int('maxDepth', 1, 30);
  // Every open leaf holds a histogram (features x 256 x 24 bytes), which bounds the leaf count.
  int('maxLeaves', 2, 1024);
  int('maxBins', 2, 255);
  num('lambdaL2', 0, 1e12);
  int('minSamplesLeaf', 1);
  num('minHessianLeaf', 0, 1e12);
  num('minGainToSplit', 0, 1e300);
  num('subsample', 0, 1, true);
  num('colsample', 0, 1, true);
  num('validationFraction', 0, 0.9);
  int('earlyStoppingRounds', 1);
  if (typeof r.balanceClasses !== 'boolean') throw new Error('GBDT: balanceClasses must be true or false');
  int('binSampleSize', 1000);
  int('seed', 0, 0xffffffff);
  return r;
}

export interface GbdtTrainingInfo {
  trainRows: number;
  validRows: number;
  /** Trees kept (fewer than numTrees after early stopping). */
  treeCount: number;
  /** Held-out weighted log loss after each tree (empty without a held-out set). */
  validLoss: number[];
}

export interface GbdtTrainOptions {
  /** Called after each tree (e.g. for a progress bar); `validLoss` is null without a held-out set. */
  onTree?: (tree: number, validLoss: number | null) => void;
}

export class GbdtModel implements BinaryClassifier {
  readonly kind = 'gbdt' as const;
  private readonly compiled: CompiledTrees;

  constructor(
    readonly featureNames: readonly string[],
    /** Log-odds every prediction starts from. */
    readonly baseScore: number,
    readonly trees: FlatTrees,
    /** Total split gain per feature, normalised, aligned with featureNames. */
    private readonly gainImportance: Float64Array,
    readonly params: GbdtParams,
    readonly info: GbdtTrainingInfo,
  ) {
    this.compiled = compileTrees(trees);
  }

  get treeCount(): number {
    return this.trees.roots.length;
  }

  /** Log-odds for each row. */
  predictMargin(rows: Float32Array, out?: Float64Array): Float64Array {
    const F = this.featureNames.length;
    const n = rowCount(rows, F, 'GBDT predict');
    const acc = out ?? new Float64Array(n);
    if (acc.length !== n) throw new Error(`GBDT predict: output holds ${acc.length} values for ${n} rows`);
    acc.fill(this.baseScore);
    accumulateTrees(this.compiled, rows, F, acc);
    return acc;
  }

  predictProba(rows: Float32Array, out?: Float32Array): Float32Array {
    const F = this.featureNames.length;
    const n = rowCount(rows, F, 'GBDT predict');
    const res = out ?? new Float32Array(n);
    if (res.length !== n) throw new Error(`GBDT predict: output holds ${res.length} values for ${n} rows`);
    gbdtProbabilities(this.compiled, this.baseScore, rows, F, res);
    return res;
  }

  /** What another thread needs to compute predictProba (typed arrays, cheap to post). */
  scorer(): GbdtScorer {
    return { baseScore: this.baseScore, trees: this.trees, featureCount: this.featureNames.length };
  }

  importances(): FeatureImportance[] {
    return rankImportances(this.featureNames, this.gainImportance);
  }

  toJSON(): JsonObject {
    return {
      format: GBDT_FORMAT,
      version: GBDT_VERSION,
      featureNames: [...this.featureNames],
      baseScore: this.baseScore,
      trees: treesToJson(this.trees),
      importance: Array.from(this.gainImportance),
      params: { ...this.params },
      training: { ...this.info, validLoss: [...this.info.validLoss] },
    };
  }
}

/** Reads a GBDT model file (already JSON-parsed); throws ModelFormatError naming what is wrong. */
export function loadGbdt(json: unknown): GbdtModel {
  const what = 'GBDT';
  const obj = checkHeader(json, GBDT_FORMAT, GBDT_VERSION, what);
  const featureNames = featureNamesField(obj, what);
  const F = featureNames.length;
  const baseScore = numberField(obj, 'baseScore', what);
  const trees = treesFromJson(obj, F, what);
  const importance = importanceField(obj, F, what);
  const rawParams = objectField(obj, 'params', what);
  let params: GbdtParams;
  try {
    const known: Partial<GbdtParams> = {};
    for (const k of Object.keys(DEFAULT_GBDT_PARAMS) as (keyof GbdtParams)[]) {
      if (!(k in rawParams)) throw new Error(`missing parameter "${k}"`);
      (known as Record<string, unknown>)[k] = rawParams[k];
    }
    params = resolveGbdtParams(known);
  } catch (err) {
    throw new ModelFormatError(what, `params: ${(err as Error).message}`);
  }
  const t = objectField(obj, 'training', what);
  const validLossRaw = t['validLoss'];
  if (!Array.isArray(validLossRaw) || !validLossRaw.every((x) => typeof x === 'number')) {
    throw new ModelFormatError(what, 'training.validLoss must be a list of numbers');
  }
  const info: GbdtTrainingInfo = {
    trainRows: numberField(t, 'trainRows', what),
    validRows: numberField(t, 'validRows', what),
    treeCount: numberField(t, 'treeCount', what),
    validLoss: validLossRaw as number[],
  };
  if (info.treeCount !== trees.roots.length) {
    throw new ModelFormatError(what, `training.treeCount is ${info.treeCount} but the file holds ${trees.roots.length} trees`);
  }
  return new GbdtModel(featureNames, baseScore, trees, importance, params, info);
}

// ---- training ----------------------------------------------------------------------------------------

/** A GBDT's trees and base score, as posted to a worker thread (see GbdtModel.scorer). */
export interface GbdtScorer {
  baseScore: number;
  trees: FlatTrees;
  featureCount: number;
}

/**
 * P(label = 1) of each row of `rows` (F floats a row) into `out`. A row's value depends on that row
 * alone, so any split of the rows between calls (or threads) gives the same numbers.
 */
export function gbdtProbabilities(compiled: CompiledTrees, baseScore: number, rows: Float32Array, F: number, out: Float32Array): void {
  const n = out.length;
  // Chunks bound the float64 scratch to a few MB however many rows come in.
  const CHUNK = 1 << 16;
  const acc = new Float64Array(Math.min(n, CHUNK));
  for (let s = 0; s < n; s += CHUNK) {
    const m = Math.min(CHUNK, n - s);
    const a = m === acc.length ? acc : acc.subarray(0, m);
    a.fill(baseScore);
    accumulateTrees(compiled, rows.subarray(s * F, (s + m) * F), F, a);
    for (let i = 0; i < m; i++) out[s + i] = sigmoid(a[i]!);
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

const NAN_CODE = 255;

/**
 * Sorts finite float32 values ascending in place (LSD radix sort on order-preserving integer keys:
 * several times faster than TypedArray#sort on the 200k-value binning samples). `scratch` holds at
 * least vals.length values.
 */
export function sortFloat32(vals: Float32Array, scratch: Uint32Array): void {
  const n = vals.length;
  let a = new Uint32Array(vals.buffer, vals.byteOffset, n);
  let b = scratch.subarray(0, n);
  // Flip the sign bit of positives and all bits of negatives: unsigned key order = float order.
  for (let i = 0; i < n; i++) {
    const k = a[i]!;
    a[i] = k & 0x80000000 ? ~k : k | 0x80000000;
  }
  const count = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(a[i]! >>> shift) & 2047]++;
    let sum = 0;
    for (let d = 0; d < 2048; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = a[i]!;
      b[count[(k >>> shift) & 2047]!++] = k;
    }
    const t = a;
    a = b;
    b = t;
  }
  // Three passes leave the keys in scratch; map them back into vals.
  const out = new Uint32Array(vals.buffer, vals.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const k = a[i]!;
    out[i] = k & 0x80000000 ? k & 0x7fffffff : ~k;
  }
}

/** Per-feature thresholds (float32, ascending) placed at quantiles of a row sample. */
function binThresholds(rows: Float32Array, n: number, F: number, maxBins: number, sampleSize: number, rng: Rng): Float32Array[] {
  let sample: Uint32Array;
  if (n <= sampleSize) {
    sample = new Uint32Array(n);
    for (let i = 0; i < n; i++) sample[i] = i;
  } else {
    // Partial Fisher–Yates: the first sampleSize slots end up a uniform sample without replacement.
    const all = new Uint32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    for (let i = 0; i < sampleSize; i++) {
      const j = i + Math.floor(rng.next() * (n - i));
      const t = all[i]!;
      all[i] = all[j]!;
      all[j] = t;
    }
    sample = all.slice(0, sampleSize).sort();
  }
  // One row-major pass copies the sample into columns, so each feature's values are contiguous.
  const S = sample.length;
  const cols = new Float32Array(S * F);
  for (let i = 0; i < S; i++) {
    const base = sample[i]! * F;
    for (let f = 0; f < F; f++) cols[f * S + i] = rows[base + f]!;
  }
  const out: Float32Array[] = [];
  const vals = new Float32Array(S);
  const scratch = new Uint32Array(S);
  const distinct = new Float64Array(S);
  const upTo = new Int32Array(S); // sample values up to and including distinct[d]
  for (let f = 0; f < F; f++) {
    let m = 0;
    for (let i = f * S, e = i + S; i < e; i++) {
      const v = cols[i]!;
      // Infinities and NaN get no threshold of their own: they fall in the end bins / the NaN code.
      if (Number.isFinite(v)) vals[m++] = v;
    }
    const sorted = vals.subarray(0, m);
    sortFloat32(sorted, scratch);
    let D = 0;
    for (let i = 0; i < m; i++) {
      if (i === 0 || sorted[i] !== sorted[i - 1]) distinct[D++] = sorted[i]!;
      upTo[D - 1] = i + 1;
    }
    const cuts: number[] = []; // index d: threshold between distinct[d] and distinct[d + 1]
    if (D <= maxBins) {
      for (let d = 0; d + 1 < D; d++) cuts.push(d);
    } else {
      let d = 0;
      for (let b = 1; b < maxBins; b++) {
        const rank = (b * m) / maxBins;
        while (d + 1 < D && upTo[d]! < rank) d++;
        if (d + 1 >= D) break;
        if (cuts.length === 0 || cuts[cuts.length - 1]! < d) cuts.push(d);
      }
    }
    const thr = new Float32Array(cuts.length);
    for (let i = 0; i < cuts.length; i++) {
      const a = distinct[cuts[i]!]!;
      const b = distinct[cuts[i]! + 1]!;
      // Midway between neighbours generalises better to unseen values; fall back to the lower value
      // when float32 rounding would put the midpoint on an end (x <= t must still split a from b).
      let t = Math.fround(a / 2 + b / 2);
      if (!(t >= a && t < b)) t = a;
      thr[i] = shortestF32(t);
    }
    out.push(thr);
  }
  return out;
}

/** Bin code of every value: the first threshold >= x, thresholds.length past the last, NAN_CODE for NaN. */
function binCodes(rows: Float32Array, n: number, F: number, thresholds: Float32Array[]): Uint8Array {
  // Thresholds padded with +Infinity to 255 per feature allow a fixed 8-step search with no branches
  // (data-dependent branches are mispredicted about half the time here).
  const padded = new Float32Array(F * 256).fill(Infinity);
  for (let f = 0; f < F; f++) padded.set(thresholds[f]!, f * 256);
  const codes = new Uint8Array(n * F);
  for (let i = 0, o = 0; i < n; i++) {
    for (let f = 0, t = 0; f < F; f++, o++, t += 256) {
      const x = rows[o]!;
      let pos = 0;
      pos += 128 * +(x > padded[t + pos + 127]!);
      pos += 64 * +(x > padded[t + pos + 63]!);
      pos += 32 * +(x > padded[t + pos + 31]!);
      pos += 16 * +(x > padded[t + pos + 15]!);
      pos += 8 * +(x > padded[t + pos + 7]!);
      pos += 4 * +(x > padded[t + pos + 3]!);
      pos += 2 * +(x > padded[t + pos + 1]!);
      pos += +(x > padded[t + pos]!);
      codes[o] = x === x ? pos : NAN_CODE;
    }
  }
  return codes;
}

interface Leaf {
  node: number;
  start: number;
  end: number;
  depth: number;
  hist: Float64Array;
  G: number;
  H: number;
  bestGain: number;
  bestK: number;
  bestBin: number;
  bestGL: number;
  bestHL: number;
}

/** One tree under construction; node arrays are local to the tree (root 0). */
interface GrownTree {
  feature: Int32Array;
  value: Float32Array;
  left: Int32Array;
  binThr: Uint8Array;
  nodeCount: number;
  /** Leaves' row ranges in the index array, to update scores without walking the tree. */
  leaves: Leaf[];
}

/** Marks a leaf that will not be split and so has no histogram. */
const NO_HIST = new Float64Array(0);

class HistPool {
  private free: Float64Array[] = [];
  constructor(private readonly size: number) {}
  take(): Float64Array {
    const h = this.free.pop();
    if (h) {
      h.fill(0);
      return h;
    }
    return new Float64Array(this.size);
  }
  give(h: Float64Array): void {
    this.free.push(h);
  }
}

class Grower {
  private readonly tmp: Uint32Array;
  private pool: HistPool;
  private poolSel = -1;

  constructor(
    private readonly codes: Uint8Array,
    private readonly F: number,
    private readonly numBins: Int32Array,
    private readonly thresholds: Float32Array[],
    private readonly grad: Float64Array,
    private readonly hess: Float64Array,
    private readonly p: GbdtParams,
    nRows: number,
  ) {
    this.tmp = new Uint32Array(nRows);
    this.pool = new HistPool(0);
  }

  /** Grows a tree over rows idx[0..m) using features `feats` (ascending). */
  grow(idx: Uint32Array, m: number, feats: Int32Array, gains: (f: number, gain: number) => void): GrownTree {
    const p = this.p;
    const nSel = feats.length;
    if (this.poolSel !== nSel) {
      this.pool = new HistPool(nSel * 256 * 3);
      this.poolSel = nSel;
    }
    const maxNodes = 2 * p.maxLeaves - 1;
    const tree: GrownTree = {
      feature: new Int32Array(maxNodes).fill(-1),
      value: new Float32Array(maxNodes),
      left: new Int32Array(maxNodes),
      binThr: new Uint8Array(maxNodes),
      nodeCount: 1,
      leaves: [],
    };
    const rootHist = this.pool.take();
    this.buildHist(rootHist, idx, 0, m, feats);
    let G = 0;
    let H = 0;
    for (let i = 0; i < m; i++) {
      G += this.grad[idx[i]!]!;
      H += this.hess[idx[i]!]!;
    }
    const root: Leaf = { node: 0, start: 0, end: m, depth: 0, hist: rootHist, G, H, bestGain: 0, bestK: -1, bestBin: 0, bestGL: 0, bestHL: 0 };
    this.findSplit(root, feats);
    const open: Leaf[] = [root];
    const done: Leaf[] = [];
    while (open.length + done.length < p.maxLeaves) {
      // Best-first; ties go to the earliest-made leaf so the tree does not depend on list order.
      let bi = -1;
      for (let i = 0; i < open.length; i++) {
        const l = open[i]!;
        if (l.bestK < 0) continue;
        if (bi < 0 || l.bestGain > open[bi]!.bestGain || (l.bestGain === open[bi]!.bestGain && l.node < open[bi]!.node)) bi = i;
      }
      if (bi < 0) break;
      const leaf = open[bi]!;
      open.splice(bi, 1);
      // After this split the tree may be full; then neither child needs a histogram.
      const lastSplit = open.length + done.length + 2 >= p.maxLeaves;
      const [a, b] = this.split(leaf, tree, idx, feats, gains, lastSplit);
      for (const c of [a, b]) {
        if (c.hist !== NO_HIST) this.findSplit(c, feats);
        if (c.bestK >= 0) {
          open.push(c);
        } else {
          if (c.hist !== NO_HIST) this.pool.give(c.hist);
          c.hist = NO_HIST;
          done.push(c);
        }
      }
    }
    for (const l of [...open, ...done]) {
      if (l.hist !== NO_HIST) this.pool.give(l.hist);
      const v = (-l.G / Math.max(l.H + p.lambdaL2, 1e-12)) * p.learningRate;
      tree.value[l.node] = shortestF32(v);
      tree.leaves.push(l);
    }
    return tree;
  }

  private buildHist(hist: Float64Array, idx: Uint32Array, start: number, end: number, feats: Int32Array): void {
    const { codes, F, grad, hess } = this;
    const nSel = feats.length;
    // Two features a step: this loop is most of training time and V8 does not unroll it itself.
    if (nSel === F) {
      for (let i = start; i < end; i++) {
        const r = idx[i]!;
        const g = grad[r]!;
        const h = hess[r]!;
        const base = r * F;
        let k = 0;
        for (; k + 1 < F; k += 2) {
          const o = ((k << 8) | codes[base + k]!) * 3;
          const q = (((k + 1) << 8) | codes[base + k + 1]!) * 3;
          hist[o] += g;
          hist[o + 1] += h;
          hist[o + 2] += 1;
          hist[q] += g;
          hist[q + 1] += h;
          hist[q + 2] += 1;
        }
        if (k < F) {
          const o = ((k << 8) | codes[base + k]!) * 3;
          hist[o] += g;
          hist[o + 1] += h;
          hist[o + 2] += 1;
        }
      }
    } else {
      for (let i = start; i < end; i++) {
        const r = idx[i]!;
        const g = grad[r]!;
        const h = hess[r]!;
        const base = r * F;
        let k = 0;
        for (; k + 1 < nSel; k += 2) {
          const o = ((k << 8) | codes[base + feats[k]!]!) * 3;
          const q = (((k + 1) << 8) | codes[base + feats[k + 1]!]!) * 3;
          hist[o] += g;
          hist[o + 1] += h;
          hist[o + 2] += 1;
          hist[q] += g;
          hist[q + 1] += h;
          hist[q + 2] += 1;
        }
        if (k < nSel) {
          const o = ((k << 8) | codes[base + feats[k]!]!) * 3;
          hist[o] += g;
          hist[o + 1] += h;
          hist[o + 2] += 1;
        }
      }
    }
  }

  private findSplit(leaf: Leaf, feats: Int32Array): void {
    const p = this.p;
    const lambda = p.lambdaL2;
    const hist = leaf.hist;
    const G = leaf.G;
    const H = leaf.H;
    const C = leaf.end - leaf.start;
    leaf.bestK = -1;
    leaf.bestGain = 0;
    if (C < 2 * p.minSamplesLeaf || H < 2 * p.minHessianLeaf) return;
    const parentScore = (G * G) / (H + lambda);
    let bestGain = Math.max(p.minGainToSplit, 0);
    for (let k = 0; k < feats.length; k++) {
      const nb = this.numBins[feats[k]!]!;
      let GL = 0;
      let HL = 0;
      let CL = 0;
      for (let b = 0; b + 1 < nb; b++) {
        const o = ((k << 8) | b) * 3;
        GL += hist[o]!;
        HL += hist[o + 1]!;
        CL += hist[o + 2]!;
        if (CL < p.minSamplesLeaf || HL < p.minHessianLeaf) continue;
        const CR = C - CL;
        if (CR < p.minSamplesLeaf) break;
        const HR = H - HL;
        if (HR < p.minHessianLeaf) continue;
        const GR = G - GL;
        const gain = (GL * GL) / (HL + lambda) + (GR * GR) / (HR + lambda) - parentScore;
        if (gain > bestGain) {
          bestGain = gain;
          leaf.bestK = k;
          leaf.bestBin = b;
          leaf.bestGL = GL;
          leaf.bestHL = HL;
        }
      }
    }
    leaf.bestGain = bestGain;
  }

  /** Could a leaf of this size and depth be split at all? If not, it needs no histogram. */
  private splittable(count: number, H: number, depth: number): boolean {
    const p = this.p;
    return depth < p.maxDepth && count >= 2 * p.minSamplesLeaf && H >= 2 * p.minHessianLeaf;
  }

  private split(
    leaf: Leaf,
    tree: GrownTree,
    idx: Uint32Array,
    feats: Int32Array,
    gains: (f: number, gain: number) => void,
    lastSplit: boolean,
  ): [Leaf, Leaf] {
    const { codes, F, tmp } = this;
    const f = feats[leaf.bestK]!;
    const bin = leaf.bestBin;
    // Stable partition keeps each leaf's rows ascending, so histogram scans read memory in order.
    // Branch-free: each row is written to both sides and only one cursor moves.
    let w = leaf.start;
    let t = 0;
    for (let i = leaf.start; i < leaf.end; i++) {
      const r = idx[i]!;
      const goLeft = +(codes[r * F + f]! <= bin);
      idx[w] = r;
      tmp[t] = r;
      w += goLeft;
      t += 1 - goLeft;
    }
    idx.set(tmp.subarray(0, t), w);
    const mid = w;
    const node = leaf.node;
    const l = tree.nodeCount;
    tree.nodeCount += 2;
    tree.feature[node] = f;
    tree.value[node] = this.thresholds[f]![bin]!;
    tree.left[node] = l;
    tree.binThr[node] = bin;
    gains(f, leaf.bestGain);

    const mk = (nodeId: number, start: number, end: number, G: number, H: number, hist: Float64Array): Leaf => ({
      node: nodeId, start, end, depth: leaf.depth + 1, hist, G, H, bestGain: 0, bestK: -1, bestBin: 0, bestGL: 0, bestHL: 0,
    });
    const GL = leaf.bestGL;
    const HL = leaf.bestHL;
    const d = leaf.depth + 1;
    if (lastSplit || (!this.splittable(mid - leaf.start, HL, d) && !this.splittable(leaf.end - mid, leaf.H - HL, d))) {
      // Histograms are the bulk of training time; the deepest level never needs them.
      this.pool.give(leaf.hist);
      return [mk(l, leaf.start, mid, GL, HL, NO_HIST), mk(l + 1, mid, leaf.end, leaf.G - GL, leaf.H - HL, NO_HIST)];
    }
    const leftSmaller = mid - leaf.start <= leaf.end - mid;
    const small = this.pool.take();
    if (leftSmaller) this.buildHist(small, idx, leaf.start, mid, feats);
    else this.buildHist(small, idx, mid, leaf.end, feats);
    const big = leaf.hist;
    for (let i = 0; i < big.length; i++) big[i] -= small[i]!;
    const a = mk(l, leaf.start, mid, GL, HL, leftSmaller ? small : big);
    const b = mk(l + 1, mid, leaf.end, leaf.G - GL, leaf.H - HL, leftSmaller ? big : small);
    return [a, b];
  }
}

/** Value of the leaf a binned row reaches in a grown tree. */
function binnedLeafValue(tree: GrownTree, codes: Uint8Array, base: number): number {
  let node = 0;
  let f = tree.feature[0]!;
  while (f >= 0) {
    node = codes[base + f]! <= tree.binThr[node]! ? tree.left[node]! : tree.left[node]! + 1;
    f = tree.feature[node]!;
  }
  return tree.value[node]!;
}

function logLoss(scores: Float64Array, y: Uint8Array, w: Float64Array, rows: Uint32Array): number {
  let s = 0;
  let sw = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const z = scores[r]!;
    // softplus(z) - y z, written to stay finite for large |z|
    const sp = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    s += w[r]! * (sp - y[r]! * z);
    sw += w[r]!;
  }
  return sw > 0 ? s / sw : 0;
}

/** Stratified held-out rows: each label gives up round(fraction * its count) rows but keeps at least one. */
function splitRows(y: Uint8Array, fraction: number, rng: Rng): { train: Uint32Array; valid: Uint32Array } {
  const n = y.length;
  const isValid = new Uint8Array(n);
  if (fraction > 0) {
    for (const label of [0, 1]) {
      const members: number[] = [];
      for (let i = 0; i < n; i++) if (y[i] === label) members.push(i);
      const take = Math.min(Math.round(members.length * fraction), members.length - 1);
      const order = rng.shuffled(members);
      for (let i = 0; i < take; i++) isValid[order[i]!] = 1;
    }
  }
  let nv = 0;
  for (let i = 0; i < n; i++) nv += isValid[i]!;
  const train = new Uint32Array(n - nv);
  const valid = new Uint32Array(nv);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (isValid[i]) valid[b++] = i;
    else train[a++] = i;
  }
  return { train, valid };
}

/**
 * Trains boosted trees on `data`. A training set with a single label (or none) gives a model with
 * no trees whose constant probability is the label frequency smoothed by one row of each label.
 */
export function trainGbdt(data: TrainingData, params: Partial<GbdtParams> = {}, options: GbdtTrainOptions = {}): GbdtModel {
  const p = resolveGbdtParams(params);
  const n = checkTrainingData(data, 'GBDT');
  const F = data.featureNames.length;
  const featureNames = [...data.featureNames];
  const rng = new Rng(p.seed);
  const binRng = rng.fork();
  const splitRng = rng.fork();
  const treeRng = rng.fork();

  const y = Uint8Array.from(data.labels);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = data.weights ? data.weights[i]! : 1;

  const { train, valid } = splitRows(y, p.validationFraction, splitRng);
  let wPos = 0;
  let wNeg = 0;
  let nPos = 0;
  for (let i = 0; i < train.length; i++) {
    const r = train[i]!;
    if (y[r]) {
      wPos += w[r]!;
      nPos++;
    } else wNeg += w[r]!;
  }
  const emptyInfo = (): GbdtTrainingInfo => ({ trainRows: train.length, validRows: valid.length, treeCount: 0, validLoss: [] });
  if (wPos === 0 || wNeg === 0) {
    const prior = (nPos + 1) / (train.length + 2);
    return new GbdtModel(featureNames, Math.log(prior / (1 - prior)), new FlatTreesBuilder().build(), new Float64Array(F), p, emptyInfo());
  }
  if (p.balanceClasses) {
    const half = (wPos + wNeg) / 2;
    const sPos = half / wPos;
    const sNeg = half / wNeg;
    for (let i = 0; i < n; i++) w[i] *= y[i] ? sPos : sNeg;
    wPos = wNeg = half;
  }
  const baseScore = Math.log(wPos / wNeg);

  const thresholds = binThresholds(data.rows, n, F, p.maxBins, p.binSampleSize, binRng);
  const numBins = Int32Array.from(thresholds, (t) => t.length + 1);
  const codes = binCodes(data.rows, n, F, thresholds);

  const scores = new Float64Array(n).fill(baseScore);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const grower = new Grower(codes, F, numBins, thresholds, grad, hess, p, n);
  const builder = new FlatTreesBuilder();
  const treeGains: Float64Array[] = [];
  const validLoss: number[] = [];
  let bestLoss = Infinity;
  let bestCount = 0;

  const idx = new Uint32Array(train.length);
  const inSample = new Uint8Array(n);
  const allFeats = Int32Array.from({ length: F }, (_, i) => i);
  const kCols = Math.max(1, Math.round(F * p.colsample));

  for (let t = 0; t < p.numTrees; t++) {
    for (let i = 0; i < train.length; i++) {
      const r = train[i]!;
      const pr = sigmoid(scores[r]!);
      grad[r] = (pr - y[r]!) * w[r]!;
      hess[r] = Math.max(pr * (1 - pr), 1e-16) * w[r]!;
    }
    const tRng = treeRng.fork();
    let m = 0;
    if (p.subsample < 1) {
      for (let i = 0; i < train.length; i++) if (tRng.next() < p.subsample) idx[m++] = train[i]!;
    }
    if (m === 0) {
      idx.set(train);
      m = train.length;
    }
    let feats = allFeats;
    if (kCols < F) feats = Int32Array.from(tRng.shuffled(Array.from(allFeats)).slice(0, kCols)).sort();

    const gains = new Float64Array(F);
    const tree = grower.grow(idx, m, feats, (f, g) => {
      gains[f] += g;
    });
    treeGains.push(gains);
    builder.addTree(tree.feature.subarray(0, tree.nodeCount), tree.value.subarray(0, tree.nodeCount), tree.left.subarray(0, tree.nodeCount));

    // Score update: sampled rows from their leaf ranges, the rest (and held-out rows) by walking the tree.
    inSample.fill(0);
    for (const leaf of tree.leaves) {
      const v = tree.value[leaf.node]!;
      for (let i = leaf.start; i < leaf.end; i++) {
        const r = idx[i]!;
        scores[r] += v;
        inSample[r] = 1;
      }
    }
    if (m < train.length) {
      for (let i = 0; i < train.length; i++) {
        const r = train[i]!;
        if (!inSample[r]) scores[r] += binnedLeafValue(tree, codes, r * F);
      }
    }
    let vl: number | null = null;
    if (valid.length > 0) {
      for (let i = 0; i < valid.length; i++) {
        const r = valid[i]!;
        scores[r] += binnedLeafValue(tree, codes, r * F);
      }
      vl = logLoss(scores, y, w, valid);
      validLoss.push(Number(vl.toPrecision(7)));
      if (vl < bestLoss) {
        bestLoss = vl;
        bestCount = t + 1;
      }
    } else {
      bestCount = t + 1;
    }
    options.onTree?.(t, vl);
    if (valid.length > 0 && t + 1 - bestCount >= p.earlyStoppingRounds) break;
  }

  builder.truncate(bestCount);
  const total = new Float64Array(F);
  for (let t = 0; t < bestCount; t++) for (let f = 0; f < F; f++) total[f] += treeGains[t]![f]!;
  const info: GbdtTrainingInfo = { trainRows: train.length, validRows: valid.length, treeCount: bestCount, validLoss };
  return new GbdtModel(featureNames, baseScore, builder.build(), Float64Array.from(normalise(total)), p, info);
}
