/** The classifiers of lungtumor and one loader for any of their model files. */
import { isObject, ModelFormatError, type BinaryClassifier } from './types.js';
import { GBDT_FORMAT, loadGbdt } from './gbdt.js';
import { FOREST_FORMAT, loadForest } from './forest.js';

export * from './types.js';
export * from './gbdt.js';
export * from './forest.js';
export * from './importance.js';
export { type FlatTrees } from './trees.js';

/** Reads any classifier model file (already JSON-parsed), choosing the reader by its "format". */
export function loadClassifier(json: unknown): BinaryClassifier {
  const format = isObject(json) ? json['format'] : undefined;
  if (format === GBDT_FORMAT) return loadGbdt(json);
  if (format === FOREST_FORMAT) return loadForest(json);
  throw new ModelFormatError('classifier', `"format" is ${JSON.stringify(format)}, expected "${GBDT_FORMAT}" or "${FOREST_FORMAT}"`);
}
