/**
 * The voxel stage of one scan on its working grid: lungs found without help, the eligible voxels
 * (inside the lungs and dense enough to be tumour), and their feature rows.
 */
// Modules, not features/index.js: the web page's bundle takes this file and must not pull in the Node threads.
import { buildFeatureContext } from '../features/context.js';
import type { FeatureExtractor } from '../features/extract.js';
import { findLungs, type LungResult } from '../features/lungs.js';
import type { VoxelFeatureTable } from '../candidates/candidates.js';
import type { Plans } from './plans.js';
import type { WorkingGrid } from './scan.js';
import { lungHullRegion } from './eligible.js';

export interface ScanVoxels {
  lungs: Uint8Array;
  lungsFound: boolean;
  /** The scan is a crop around the tumour: its lungs reach the scan's edge (see findLungs). */
  crop: boolean;
  warnings: string[];
  table: VoxelFeatureTable;
  /** Row of each working-grid voxel in `table`, or -1 when not eligible. */
  rowOf: Int32Array;
  seconds: { lungs: number; features: number };
}

/** What the voxel stage reads of the lung finder's result (training keeps only this, packed). */
export type LungsForFeatures = Pick<LungResult, 'lungs' | 'found' | 'crop' | 'warnings' | 'midlineX'>;

/** Upper HU bound of eligible voxels: bone and contrast are never the tumour. */
const ELIGIBLE_MAX_HU = 300;

/**
 * `extractor` is kept by the caller across scans (its worker threads start once);
 * `lungs`: the lung finder's result when the caller already has it (training computes it earlier).
 */
export async function computeScanVoxels(
  scan: { grid: WorkingGrid; hu: Float32Array },
  plans: Plans,
  extractor: FeatureExtractor,
  lungs?: LungsForFeatures,
): Promise<ScanVoxels> {
  const t0 = performance.now();
  const { dims, spacingMm } = scan.grid;
  const lungResult = lungs ?? findLungs(scan.hu, dims, spacingMm);
  const t1 = performance.now();
  const n = scan.hu.length;
  const region = lungResult.found ? lungHullRegion(lungResult.lungs, dims, lungResult.midlineX) : null;
  const rowOf = new Int32Array(n).fill(-1);
  let count = 0;
  const lo = plans.eligibleMinHu;
  for (let i = 0; i < n; i++) {
    const h = scan.hu[i]!;
    // Without lungs (a crop around the tumour) every dense-enough voxel is a candidate voxel.
    if (h >= lo && h <= ELIGIBLE_MAX_HU && (!region || region[i])) rowOf[i] = count++;
  }
  const voxels = new Int32Array(count);
  for (let i = 0; i < n; i++) if (rowOf[i]! >= 0) voxels[rowOf[i]!] = i;
  // The context is built while the worker threads filter.
  const features = await extractor.extract(scan.hu, dims, spacingMm, () => buildFeatureContext(lungResult, dims, spacingMm), voxels);
  const t2 = performance.now();
  return {
    lungs: lungResult.lungs,
    lungsFound: lungResult.found,
    crop: lungResult.crop,
    warnings: lungResult.warnings,
    table: { names: features.names, rows: features.rows, voxels },
    rowOf,
    seconds: { lungs: (t1 - t0) / 1000, features: (t2 - t1) / 1000 },
  };
}

/**
 * The columns `featureNames` (a classifier's features, in its order) of a feature table's rows.
 * Throws when the table lacks one of them.
 */
export function selectFeatureColumns(table: { names: readonly string[]; rows: Float32Array }, featureNames: readonly string[]): Float32Array {
  const F = table.names.length;
  const cols = featureNames.map((name) => {
    const c = table.names.indexOf(name);
    if (c < 0) throw new Error(`feature '${name}' is not computed by this version of lungtumor`);
    return c;
  });
  if (cols.length === F && cols.every((c, k) => c === k)) return table.rows;
  const n = table.rows.length / F;
  const out = new Float32Array(n * cols.length);
  for (let r = 0, o = 0; r < n; r++) {
    const base = r * F;
    for (const c of cols) out[o++] = table.rows[base + c]!;
  }
  return out;
}
