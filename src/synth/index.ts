/** Synthetic thorax CT cohorts: the typed API behind `lungtumor synth`. */
export { generateCase, caseId, caseSeed, type GenerateOptions, type SynthCase } from './case.js';
export { writeCohort, writeCase, casePaths, metadataCsv, MAX_CASES, type CohortOptions, type CohortResult } from './cohort.js';
export { SYNTH_SIZES, type SynthSize, type VoxelOrder } from './grid.js';
export { META_COLUMNS, type SynthMeta, type ClinicalMeta } from './meta.js';
export { TUMOUR_SHAPES, TUMOUR_LOCATIONS, type TumourShape, type TumourLocation, type NoduleKind } from './lesions.js';
