/** The tumour refiner's public surface; see refiner.ts for the input/output contract. */
export type { Refiner, RefinerSample, RefinerTrainOptions, RefinerTrainReport, RefinerMeta } from './refiner.js';
export { IdentityRefiner, NetRefiner, REFINER_PRESETS, createRefiner, cubeEdge, refinerInput, trainRefiner } from './refiner.js';
export { REFINER_JSON, REFINER_WEIGHTS, loadRefinerFrom, refinerIOHandler, saveRefinerWith, type FileWriter } from './io.js';
export { loadRefiner, saveRefiner } from './disk.js';
export type { BackendChoice, TfRuntime } from './backend.js';
export { BACKEND_CHOICES, isBackendChoice, openTf } from './backend.js';
export type { AugmentOptions } from './augment.js';
export type { NetTopology } from './arch.js';
export { ALLOWED_OPS, buildTopology, paramCount } from './arch.js';
