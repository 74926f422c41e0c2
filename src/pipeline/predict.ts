/**
 * Inference: one primary-tumour mask per scan, on the scan's own grid, using only the model folder.
 */
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { loadGbdt, type GbdtModel } from '../classifier/gbdt.js';
import { loadForest, type ForestModel } from '../classifier/forest.js';
import { findCandidates, CANDIDATE_FEATURES, type Candidate } from '../candidates/candidates.js';
import type { Vec3, Volume } from '../core/volume.js';
import { applyAffine, invertAffine, multiplyAffine } from '../geometry/affine.js';
import { validatePlans, type Plans } from './plans.js';
import { MODEL_FILES, readJson, readManifest, type ModelManifest } from './model-folder.js';
import { nativeGrid, nativeToOriginal, toWorkingScan, type WorkingScan } from './scan.js';
import { computeScanVoxels } from './voxels.js';
import type { FeatureExtractor } from '../features/index.js';
import { roiAroundBox, sampleIntoRoi, projectFromRoiBox, roiFootprint, type Grid } from './roi.js';
import { cleanupTumour } from './cleanup.js';
import { dilateMm } from '../core/morphology.js';
import { paste, type Box } from '../features/masks.js';
import { buildRefinerInput, loadRefinerStage, type RefinerStage } from './refiner-stage.js';

export interface LoadedModel {
  dir: string;
  manifest: ModelManifest;
  plans: Plans;
  voxelClassifier: GbdtModel;
  candidateClassifier: ForestModel;
  refiner: RefinerStage | null;
}

export async function loadModel(dir: string, log: (line: string) => void = () => {}): Promise<LoadedModel> {
  const manifest = readManifest(dir);
  const file = (name: string): string => join(dir, name);
  const wrap = <T>(path: string, load: () => T): T => {
    try {
      return load();
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(path, (err as Error).message);
    }
  };
  const plans = wrap(file(MODEL_FILES.plans), () => validatePlans(readJson(file(MODEL_FILES.plans)), file(MODEL_FILES.plans)));
  const voxelClassifier = wrap(file(MODEL_FILES.voxelClassifier), () => loadGbdt(readJson(file(MODEL_FILES.voxelClassifier))));
  const candidateClassifier = wrap(file(MODEL_FILES.candidateClassifier), () => loadForest(readJson(file(MODEL_FILES.candidateClassifier))));
  if (candidateClassifier.featureNames.join() !== CANDIDATE_FEATURES.join()) {
    throw new InputError(file(MODEL_FILES.candidateClassifier), 'candidate features differ from this version of lungtumor');
  }
  const refiner = manifest.hasRefiner ? await loadRefinerStage(dir, log) : null;
  return { dir, manifest, plans, voxelClassifier, candidateClassifier, refiner };
}

export interface ScanResult {
  /** The tumour mask on the input's grid and voxel order. */
  mask: Uint8Array;
  candidates: number;
  /** Candidate classifier's probability for the chosen candidate (null without candidates). */
  chosenProbability: number | null;
  /** Probability of the runner-up candidate, for QA (several close candidates). */
  runnerUpProbability: number | null;
  lungsFound: boolean;
  warnings: string[];
  seconds: Record<string, number>;
  backend: string;
}

const since = (t: number): number => Math.round(performance.now() - t) / 1000;

export async function segmentScan(model: LoadedModel, ct: Volume, extractor: FeatureExtractor): Promise<ScanResult> {
  const seconds: Record<string, number> = {};
  const warnings: string[] = [];
  let t = performance.now();
  const { plans } = model;
  const scan = toWorkingScan(ct, plans.workingSpacingMm);
  seconds.resample = since(t);

  const voxels = await computeScanVoxels(scan, plans, extractor);
  seconds.lungs = Math.round(voxels.seconds.lungs * 1000) / 1000;
  seconds.features = Math.round(voxels.seconds.features * 1000) / 1000;
  warnings.push(...voxels.warnings);
  if (!voxels.lungsFound) warnings.push('no lungs found: the whole scan was searched (a crop around the tumour?)');
  if (voxels.table.names.join() !== model.voxelClassifier.featureNames.join()) {
    throw new InputError(join(model.dir, MODEL_FILES.voxelClassifier), 'voxel features differ from this version of lungtumor');
  }

  t = performance.now();
  const rowProb = model.voxelClassifier.predictProba(voxels.table.rows);
  const prob = new Float32Array(scan.hu.length);
  voxels.table.voxels.forEach((v, r) => { prob[v] = rowProb[r]!; });
  seconds.voxelClassifier = since(t);

  t = performance.now();
  let cands: Candidate[] = [];
  // Lower thresholds only when nothing passes the planned one: half of it, then half of the scan's
  // highest probability (a crop without lungs is out of the classifier's usual context).
  let maxProb = 0;
  for (const p of rowProb) if (p > maxProb) maxProb = p;
  const thresholds = [plans.candidates.probThreshold, plans.candidates.probThreshold / 2, maxProb / 2].filter((v, i, a) => v > 0 && (i === 0 || v < a[i - 1]!));
  for (const threshold of thresholds) {
    cands = findCandidates(prob, scan.hu, scan.grid.dims, scan.grid.spacingMm, voxels.table, voxels.rowOf, { ...plans.candidates, probThreshold: threshold });
    if (cands.length > 0) {
      if (threshold !== plans.candidates.probThreshold) warnings.push(`no candidate at probability ${plans.candidates.probThreshold}; used ${threshold.toFixed(3)}`);
      break;
    }
  }
  const native = nativeGrid(scan);
  const nativeMask = new Uint8Array(scan.native.data.length);
  const result: ScanResult = {
    mask: nativeMask,
    candidates: cands.length,
    chosenProbability: null,
    runnerUpProbability: null,
    lungsFound: voxels.lungsFound,
    warnings,
    seconds,
    backend: model.refiner?.backend ?? 'none',
  };
  if (cands.length === 0) {
    warnings.push('no tumour candidate found: the mask is empty');
    seconds.candidates = since(t);
    result.mask = nativeToOriginal(nativeMask, scan);
    return result;
  }
  const rows = Float32Array.from(cands.flatMap((c) => c.features));
  const candProb = model.candidateClassifier.predictProba(rows);
  const order = [...cands.keys()].sort((a, b) => candProb[b]! - candProb[a]! || a - b);
  const chosen = cands[order[0]!]!;
  result.chosenProbability = candProb[order[0]!]!;
  result.runnerUpProbability = order.length > 1 ? candProb[order[1]!]! : null;
  seconds.candidates = since(t);

  t = performance.now();
  const roi = roiAroundBox(scan.grid, chosen.min, chosen.max, plans.roi.n, plans.roi.context, plans.roi.minSizeMm);
  const probRoi = sampleIntoRoi(prob, scan.grid, roi);
  const refined = model.refiner
    ? await model.refiner.predict(buildRefinerInput(sampleIntoRoi(scan.native.data, native, roi), probRoi, plans.ctWindowHu))
    : probRoi;
  seconds.refiner = since(t);

  t = performance.now();
  const box = roiFootprint(roi, native);
  const boxProb = projectFromRoiBox(refined, roi, native, box);
  const anchor = candidateInBox(chosen, scan, native, box);
  // The refiner redraws the candidate's outline; it may move it by a margin, not grow a new
  // region across the ROI (a large, irregular candidate makes a coarse ROI).
  const reach = dilateMm(anchor, boxDims(box), scan.native.spacing, refinerReachMm(chosen, scan.grid.spacingMm));
  for (let i = 0; i < boxProb.length; i++) if (!reach[i]) boxProb[i] = 0;
  const cleaned = cleanupTumour(boxProb, anchor, boxDims(box), scan.native.spacing, 0.75 * Math.min(...scan.native.spacing));
  warnings.push(...cleaned.steps);
  paste(nativeMask, native.dims, box, cleaned.mask);
  result.mask = nativeToOriginal(nativeMask, scan);
  seconds.cleanup = since(t);
  return result;
}

/**
 * How far (mm) the refined outline may reach beyond the candidate: one working voxel, or 5 % of
 * the candidate's equivalent-sphere diameter for large ones.
 */
export function refinerReachMm(c: Candidate, workingSpacingMm: Vec3): number {
  const volumeMm3 = c.voxels.length * workingSpacingMm[0] * workingSpacingMm[1] * workingSpacingMm[2];
  const diameterMm = Math.cbrt((6 * volumeMm3) / Math.PI);
  return Math.max(Math.max(...workingSpacingMm), 0.05 * diameterMm);
}

function boxDims(box: Box): Vec3 {
  return [box.max[0] - box.min[0] + 1, box.max[1] - box.min[1] + 1, box.max[2] - box.min[2] + 1];
}

/** The chosen candidate (working grid) on the native voxels of `box` (nearest working voxel). */
function candidateInBox(c: Candidate, scan: WorkingScan, native: Grid, box: Box): Uint8Array {
  const work = new Uint8Array(scan.hu.length);
  for (const v of c.voxels) work[v] = 1;
  const [wx, wy, wz] = scan.grid.dims;
  const toWork = multiplyAffine(invertAffine(scan.grid.affine), native.affine);
  const d = boxDims(box);
  const out = new Uint8Array(d[0] * d[1] * d[2]);
  let o = 0;
  const [ax, ay, az] = [toWork[0][0], toWork[1][0], toWork[2][0]];
  for (let z = box.min[2]; z <= box.max[2]; z++) {
    for (let y = box.min[1]; y <= box.max[1]; y++) {
      const start = applyAffine(toWork, [box.min[0], y, z]);
      let px = start[0], py = start[1], pz = start[2];
      for (let x = box.min[0]; x <= box.max[0]; x++, o++, px += ax, py += ay, pz += az) {
        const i = Math.round(px), j = Math.round(py), k = Math.round(pz);
        if (i < 0 || j < 0 || k < 0 || i >= wx || j >= wy || k >= wz) continue;
        out[o] = work[i + wx * (j + wy * k)]!;
      }
    }
  }
  return out;
}
