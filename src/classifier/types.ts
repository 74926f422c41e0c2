/**
 * What every lungtumor binary classifier offers, the shape of its training data, and the small
 * checks used when reading a model file back (a model file is data: every field is checked
 * before use, and a bad one is reported by name).
 */

export interface FeatureImportance {
  name: string;
  /** Non-negative; the importances of one model sum to 1 (or are all 0 when the model made no split). */
  importance: number;
}

export interface BinaryClassifier {
  readonly kind: 'gbdt' | 'forest';
  /** Column names of the rows the model expects, in order. */
  readonly featureNames: readonly string[];
  /**
   * P(label = 1) for each row of `rows` (row-major, featureNames.length floats a row).
   * `out`, when given, receives the result (it must hold one float per row) and is returned.
   */
  predictProba(rows: Float32Array, out?: Float32Array): Float32Array;
  /** Importances by feature name, most important first (ties in feature order). */
  importances(): FeatureImportance[];
  /** A plain JSON-ready object; JSON.stringify of it is deterministic for a given training. */
  toJSON(): object;
}

/** Rows to learn from: n rows of F features, row-major, with 0/1 labels. */
export interface TrainingData {
  rows: Float32Array;
  labels: ArrayLike<number>;
  featureNames: readonly string[];
  /** Per-row weights (e.g. hard-negative emphasis); non-negative, finite. Default 1. */
  weights?: ArrayLike<number>;
}

/** Validates a training set and returns its row count. */
export function checkTrainingData(data: TrainingData, who: string): number {
  const F = data.featureNames.length;
  checkFeatureNames(data.featureNames, who);
  if (data.rows.length % F !== 0) {
    throw new Error(`${who}: ${data.rows.length} floats is not a whole number of ${F}-feature rows`);
  }
  const n = data.rows.length / F;
  if (data.labels.length !== n) throw new Error(`${who}: ${data.labels.length} labels for ${n} rows`);
  for (let i = 0; i < n; i++) {
    const y = data.labels[i];
    if (y !== 0 && y !== 1) throw new Error(`${who}: label ${i} is ${String(y)}, expected 0 or 1`);
  }
  if (data.weights !== undefined) {
    if (data.weights.length !== n) throw new Error(`${who}: ${data.weights.length} weights for ${n} rows`);
    for (let i = 0; i < n; i++) {
      const w = data.weights[i]!;
      if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`${who}: weight ${i} is ${w}, expected a finite number >= 0`);
    }
  }
  return n;
}

export function checkFeatureNames(names: readonly unknown[], who: string): void {
  if (names.length === 0) throw new Error(`${who}: no features`);
  const seen = new Set<string>();
  for (const name of names) {
    if (typeof name !== 'string' || name.length === 0) throw new Error(`${who}: feature names must be non-empty strings`);
    if (seen.has(name)) throw new Error(`${who}: feature name "${name}" appears twice`);
    seen.add(name);
  }
}

/** Checks that `rows` holds whole rows of `F` features; returns the row count. */
export function rowCount(rows: Float32Array, F: number, who: string): number {
  if (rows.length % F !== 0) throw new Error(`${who}: ${rows.length} floats is not a whole number of ${F}-feature rows`);
  return rows.length / F;
}

/** Importances aligned with `names`, sorted most important first; ties keep feature order. */
export function rankImportances(names: readonly string[], values: ArrayLike<number>): FeatureImportance[] {
  const out = names.map((name, i) => ({ name, importance: values[i]! }));
  return out
    .map((item, i) => ({ item, i }))
    .sort((a, b) => b.item.importance - a.item.importance || a.i - b.i)
    .map((x) => x.item);
}

/** Scales non-negative values to sum to 1 (all zeros stay zeros). */
export function normalise(values: Float64Array): number[] {
  let s = 0;
  for (const v of values) s += v;
  return Array.from(values, (v) => (s > 0 ? v / s : 0));
}

/**
 * The shortest decimal that reads back as the same float32. Model files keep float32 thresholds and
 * leaf values this way: about half the characters of the full double form, and exact on reload.
 * -0 becomes 0 so that a model and its reloaded copy agree to the bit.
 */
export function shortestF32(x: number): number {
  const f = Math.fround(x);
  if (f === 0) return 0;
  if (!Number.isFinite(f)) return f;
  for (let p = 1; p < 10; p++) {
    const y = Number(f.toPrecision(p));
    if (Math.fround(y) === f) return y;
  }
  return f;
}

// ---- reading model files -------------------------------------------------------------------------

/** A malformed model file, named by the field at fault. */
export class ModelFormatError extends Error {
  constructor(what: string, problem: string) {
    super(`malformed ${what} model: ${problem}`);
    this.name = 'ModelFormatError';
  }
}

export type JsonObject = Record<string, unknown>;

export function isObject(x: unknown): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function field(obj: JsonObject, key: string, what: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(obj, key)) throw new ModelFormatError(what, `missing "${key}"`);
  return obj[key];
}

export function objectField(obj: JsonObject, key: string, what: string): JsonObject {
  const v = field(obj, key, what);
  if (!isObject(v)) throw new ModelFormatError(what, `"${key}" must be an object`);
  return v;
}

export function numberField(obj: JsonObject, key: string, what: string): number {
  const v = field(obj, key, what);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(what, `"${key}" must be a finite number`);
  return v;
}

export function stringField(obj: JsonObject, key: string, what: string): string {
  const v = field(obj, key, what);
  if (typeof v !== 'string') throw new ModelFormatError(what, `"${key}" must be a string`);
  return v;
}

/** A list of finite numbers (optionally integers) as a Float64Array. */
export function numberList(obj: JsonObject, key: string, what: string, integers = false): Float64Array {
  const v = field(obj, key, what);
  if (!Array.isArray(v)) throw new ModelFormatError(what, `"${key}" must be a list of numbers`);
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x) || (integers && !Number.isInteger(x))) {
      throw new ModelFormatError(what, `"${key}"[${i}] must be a finite ${integers ? 'integer' : 'number'}`);
    }
    out[i] = x;
  }
  return out;
}

export function featureNamesField(obj: JsonObject, what: string): string[] {
  const v = field(obj, 'featureNames', what);
  if (!Array.isArray(v)) throw new ModelFormatError(what, '"featureNames" must be a list of strings');
  try {
    checkFeatureNames(v, what);
  } catch (err) {
    throw new ModelFormatError(what, (err as Error).message);
  }
  return v as string[];
}

/** Checks the format tag and version; `json` may be anything a JSON parser returns. */
export function checkHeader(json: unknown, format: string, version: number, what: string): JsonObject {
  if (!isObject(json)) throw new ModelFormatError(what, 'not a JSON object');
  const f = field(json, 'format', what);
  if (f !== format) throw new ModelFormatError(what, `"format" is ${JSON.stringify(f)}, expected "${format}"`);
  const v = field(json, 'version', what);
  if (v !== version) throw new ModelFormatError(what, `version ${JSON.stringify(v)} is not supported (this build reads ${version})`);
  return json;
}

/** Importances from a model file: one non-negative number per feature. */
export function importanceField(obj: JsonObject, F: number, what: string): Float64Array {
  const imp = numberList(obj, 'importance', what);
  if (imp.length !== F) throw new ModelFormatError(what, `"importance" has ${imp.length} entries for ${F} features`);
  for (let i = 0; i < F; i++) if (imp[i]! < 0) throw new ModelFormatError(what, `"importance"[${i}] is negative`);
  return imp;
}
