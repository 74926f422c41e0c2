/** Synthetic thorax CT cohorts: the typed API behind `lungtumor synth`. */
export { generateCase, caseId, caseSeed, type GenerateOptions, type SynthCase } from './case.js';
export { writeCohort, writeCase, casePaths, metadataCsv, MAX_CASES, type CohortOptions, type CohortResult } from './cohort.js';
export { SYNTH_SIZES, type SynthSize, type VoxelOrder } from './grid.js';
export { META_COLUMNS, type SynthMeta, type ClinicalMeta } from './meta.js';
export { TUMOUR_SHAPES, TUMOUR_LOCATIONS, type TumourShape, type TumourLocation, type NoduleKind } from './lesions.js';
export { writeImplantCohort, listImplantSources, implantMetadataCsv, IMPLANT_COLUMNS, MAX_IMPLANTS_PER_SCAN, type ImplantRow, type ImplantCohortOptions, type ImplantCohortResult } from './implant-cohort.js';
export { planImplant, paintImplant, prepareImplantScan, priorsFromTumours, tumourHuStats, DEFAULT_PRIORS, IMPLANT_KINDS, IMPLANT_SITES, type ImplantPlan, type ImplantPriors, type ImplantScan, type TumourHuStats } from './implant.js';
