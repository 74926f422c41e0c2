/** Lung finder and voxel features: the public surface of src/features. */
export { findLungs, DEFAULT_LUNG_FINDER_OPTIONS, type LungFinderOptions, type LungResult } from './lungs.js';
export { buildFeatureContext, contextFeatureAt, CONTEXT_MARGIN_MM, type FeatureContext } from './context.js';
export { FeatureExtractor, type ExtractOptions, type FeatureRows, type FeatureThreads } from './extract.js';
export { extractFeatures, featureExtractor, nodeFeatureThreads } from './threads.js';
export { FEATURES, FEATURE_NAMES, FEATURE_DESCRIPTIONS, HU_CLAMP, type FeatureInfo, type FeatureSpec, type ContextKey } from './catalog.js';
export * as filters from './filters.js';
export { Float32Scratch } from './filters.js';
