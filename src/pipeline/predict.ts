/**
 * Inference: one primary-tumour mask per scan, on the scan's own grid, using only the model folder.
 */
import { InputError } from '../core/errors.js';
import { loadGbdt, type GbdtModel } from '../classifier/gbdt.js';
import { loadForest, type ForestModel } from '../classifier/forest.js';
import { findCandidates, cropCentrality, CANDIDATE_FEATURES, type Candidate } from '../candidates/candidates.js';
import type { Vec3, Volume } from '../core/volume.js';
import { applyAffine, invertAffine, multiplyAffine } from '../geometry/affine.js';
import { median, validatePlans, type Plans } from './plans.js';
import { MODEL_FILES, readManifestFrom, readModelJson, type ModelManifest } from './model-files.js';
import type { FolderReader } from '../core/folder.js';
import type { BackendChoice } from '../refine/backend.js';
import { nativeBoxMaskToOriginal, nativeGrid, toWorkingScan, type WorkingScan } from './scan.js';
import { computeScanVoxels, selectFeatureColumns } from './voxels.js';
import type { FeatureExtractor } from '../features/extract.js';
import { roiAroundBox, sampleIntoRoi, projectFromRoiBox, roiFootprint, type Grid } from './roi.js';
import { cleanupTumour, NECK_CUT, partialVolumeFloorHu, spurRadiusFor } from './cleanup.js';
import { dilateMm } from '../core/morphology.js';
import { boxDims, crop, type Box } from '../features/masks.js';
import { buildRefinerInput, loadRefinerStage, type RefinerStage } from './refiner-stage.js';

export interface LoadedModel {
  /** The model folder's files (on disk, or in memory in the web page). */
  folder: FolderReader;
  manifest: ModelManifest;
  plans: Plans;
  voxelClassifier: GbdtModel;
  candidateClassifier: ForestModel;
  refiner: RefinerStage | null;
}

/**
 * A model from its folder's files wherever they are (a folder on disk, or memory in the web page).
 * `backend`: the refiner's tfjs backend (default auto).
 */
export async function loadModelFrom(folder: FolderReader, log: (line: string) => void = () => {}, backend?: BackendChoice): Promise<LoadedModel> {
  const manifest = readManifestFrom(folder);
  const file = (name: string): string => folder.where(name);
  const wrap = <T>(path: string, load: () => T): T => {
    try {
      return load();
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(path, (err as Error).message);
    }
  };
  const plans = wrap(file(MODEL_FILES.plans), () => validatePlans(readModelJson(folder, MODEL_FILES.plans), file(MODEL_FILES.plans)));
  const voxelClassifier = wrap(file(MODEL_FILES.voxelClassifier), () => loadGbdt(readModelJson(folder, MODEL_FILES.voxelClassifier)));
  const candidateClassifier = wrap(file(MODEL_FILES.candidateClassifier), () => loadForest(readModelJson(folder, MODEL_FILES.candidateClassifier)));
  if (candidateClassifier.featureNames.join() !== CANDIDATE_FEATURES.join()) {
    throw new InputError(file(MODEL_FILES.candidateClassifier), 'candidate features differ from this version of lungtumor');
  }
  const refiner = manifest.hasRefiner ? await loadRefinerStage(folder, log, backend) : null;
  return { folder, manifest, plans, voxelClassifier, candidateClassifier, refiner };
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

/**
 * What one scan's stages produced, for analysis tools (`scripts/stage_dice.ts`): grids, the voxel
 * probability, every candidate with its score, and the refined probability and masks inside the
 * clean-up's box (canonical native voxels, x fastest).
 */
export interface ScanStages {
  scan: WorkingScan;
  /** Working-grid indices of the eligible voxels (the feature table's rows). */
  eligible: Int32Array;
  /** Voxel classifier probability on the working grid (0 where not eligible). */
  prob: Float32Array;
  candidates: Candidate[];
  /** The score that ranked each candidate (candidate classifier's probability, crop-weighted in crops). */
  candidateScores: number[];
  chosen: number;
  box: Box;
  /** Refined probability in the box, 0 beyond the reach. */
  boxProb: Float32Array;
  anchor: Uint8Array;
  reach: Uint8Array;
  /** Native HU in the box, and the floor below which the clean-up takes a voxel as aerated lung. */
  boxHu: Float32Array;
  aeratedMinHu: number;
  final: Uint8Array;
}

const since = (t: number): number => Math.round(performance.now() - t) / 1000;

/** segmentScan's stages in order (`onStage` reports each as it ends; the lungs and features end together). */
export const PREDICT_STAGES = ['resample', 'lungs', 'features', 'voxelClassifier', 'candidates', 'refiner', 'cleanup'] as const;
export type PredictStage = (typeof PREDICT_STAGES)[number];

export async function segmentScan(
  model: LoadedModel,
  ct: Volume,
  extractor: FeatureExtractor,
  inspect?: (stages: ScanStages) => void,
  onStage?: (stage: PredictStage, seconds: number) => void,
): Promise<ScanResult> {
  const seconds: Record<string, number> = {};
  const stageDone = (stage: PredictStage, s: number): void => {
    seconds[stage] = s;
    onStage?.(stage, s);
  };
  const warnings: string[] = [];
  let t = performance.now();
  const { plans } = model;
  const scan = toWorkingScan(ct, plans.workingSpacingMm);
  stageDone('resample', since(t));

  const voxels = await computeScanVoxels(scan, plans, extractor);
  stageDone('lungs', Math.round(voxels.seconds.lungs * 1000) / 1000);
  stageDone('features', Math.round(voxels.seconds.features * 1000) / 1000);
  warnings.push(...voxels.warnings);
  if (!voxels.lungsFound) warnings.push('no lungs found: the whole scan was searched (a crop around the tumour?)');
  let voxelRows: Float32Array;
  try {
    voxelRows = selectFeatureColumns(voxels.table, model.voxelClassifier.featureNames);
  } catch (err) {
    throw new InputError(model.folder.where(MODEL_FILES.voxelClassifier), (err as Error).message);
  }

  t = performance.now();
  const rowProb = await extractor.predictGbdt(model.voxelClassifier, voxelRows);
  if (voxels.crop && plans.cropSearchMarginMm) {
    const m = plans.cropSearchMarginMm;
    const mm = m.map((v) => v.toFixed(0)).join(' / ');
    if (zeroNearEdges(rowProb, voxels.table.voxels, scan.grid.dims, scan.grid.spacingMm, m) === null) {
      warnings.push(`crop mode: the crop is too small for the training crops' margin (${mm} mm, x / y / z): searched all of it`);
    } else {
      warnings.push(`crop mode: no candidate within ${mm} mm (x / y / z) of the scan's edges, where training crops had no tumour`);
    }
  }
  const prob = new Float32Array(scan.hu.length);
  voxels.table.voxels.forEach((v, r) => { prob[v] = rowProb[r]!; });
  stageDone('voxelClassifier', since(t));

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
  const result: ScanResult = {
    mask: new Uint8Array(scan.native.data.length),
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
    stageDone('candidates', since(t));
    return result;
  }
  const rows = Float32Array.from(cands.flatMap((c) => c.features));
  const candProb = model.candidateClassifier.predictProba(rows);
  // A crop is cut around its tumour: a candidate far from the centre is unlikely to be it.
  const score = voxels.crop ? cands.map((c, k) => candProb[k]! * cropCentrality(c, scan.grid.dims, scan.grid.spacingMm)) : Array.from(candProb);
  if (voxels.crop) warnings.push('crop mode: candidates weighted by their closeness to the scan\'s centre');
  const order = [...cands.keys()].sort((a, b) => score[b]! - score[a]! || a - b);
  const chosen = cands[order[0]!]!;
  result.chosenProbability = candProb[order[0]!]!;
  result.runnerUpProbability = order.length > 1 ? candProb[order[1]!]! : null;
  stageDone('candidates', since(t));

  t = performance.now();
  const roi = roiAroundBox(scan.grid, chosen.min, chosen.max, plans.roi.n, plans.roi.context, plans.roi.minSizeMm);
  const probRoi = sampleIntoRoi(prob, scan.grid, roi);
  const refined = model.refiner
    ? await model.refiner.predict(buildRefinerInput(sampleIntoRoi(scan.native.data, native, roi), probRoi, plans.ctWindowHu))
    : probRoi;
  stageDone('refiner', since(t));

  t = performance.now();
  // The refiner redraws the candidate's outline; it may move it by a margin, not grow a new
  // region across the ROI (a large, irregular candidate makes a coarse ROI). Nothing beyond that
  // margin can be tumour, so the clean-up works in the candidate's box grown by it.
  const reachMm = refinerReachMm(chosen, scan.grid.spacingMm);
  const box = intersectBoxes(roiFootprint(roi, native), nativeBoxAround(chosen, scan, native, reachMm));
  const boxProb = projectFromRoiBox(refined, roi, native, box);
  const anchor = candidateInBox(chosen, scan, native, box);
  const reach = dilateMm(anchor, boxDims(box), scan.native.spacing, reachMm);
  for (let i = 0; i < boxProb.length; i++) if (!reach[i]) boxProb[i] = 0;
  const boxHu = crop(scan.native.data, native.dims, box, (k) => new Float32Array(k));
  const candidateHu: number[] = [];
  anchor.forEach((inside, i) => { if (inside) candidateHu.push(boxHu[i]!); });
  const minHu = partialVolumeFloorHu(median(candidateHu), plans.fingerprint.lungHu.p50, plans.eligibleMinHu);
  const aerated = { hu: boxHu, minHu };
  const cleaned = cleanupTumour(boxProb, anchor, boxDims(box), scan.native.spacing, spurRadiusFor(scan.native.spacing), aerated, NECK_CUT);
  warnings.push(...cleaned.steps);
  result.mask = nativeBoxMaskToOriginal(cleaned.mask, box, scan);
  stageDone('cleanup', since(t));
  inspect?.({
    scan, eligible: voxels.table.voxels, prob, candidates: cands, candidateScores: score, chosen: order[0]!,
    box, boxProb, anchor, reach, boxHu, aeratedMinHu: minHu, final: cleaned.mask,
  });
  return result;
}

/**
 * Sets to 0 the probability of rows (voxel `voxels[r]` of a grid) nearer than `marginMm` (per
 * axis) to the grid's edges; returns how many of them had any, or null (and changes nothing) when
 * the margins leave no voxel.
 */
export function zeroNearEdges(rowProb: Float32Array, voxels: Int32Array, dims: Vec3, spacingMm: Vec3, marginMm: Vec3): number | null {
  const [nx, ny] = dims;
  // Voxel i on axis a is at (i) and (dims - 1 - i) spacings from the two edges.
  const lo = [0, 1, 2].map((a) => Math.ceil(marginMm[a]! / spacingMm[a]! - 1e-9));
  const hi = [0, 1, 2].map((a) => dims[a]! - 1 - lo[a]!);
  if (lo.some((l, a) => l > hi[a]!)) return null;
  let zeroed = 0;
  for (let r = 0; r < voxels.length; r++) {
    const v = voxels[r]!;
    const x = v % nx;
    const y = ((v - x) / nx) % ny;
    const z = (v - x - nx * y) / (nx * ny);
    if (x >= lo[0]! && x <= hi[0]! && y >= lo[1]! && y <= hi[1]! && z >= lo[2]! && z <= hi[2]!) continue;
    if (rowProb[r]! > 0) zeroed++;
    rowProb[r] = 0;
  }
  return zeroed;
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

/**
 * The native voxels whose nearest working voxel lies in the candidate's bounding box, grown by
 * `marginMm` (plus one voxel), clamped to the scan.
 */
function nativeBoxAround(c: Candidate, scan: WorkingScan, native: Grid, marginMm: number): Box {
  const toNative = multiplyAffine(invertAffine(native.affine), scan.grid.affine);
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const x of [c.min[0] - 0.5, c.max[0] + 0.5]) for (const y of [c.min[1] - 0.5, c.max[1] + 0.5]) for (const z of [c.min[2] - 0.5, c.max[2] + 0.5]) {
    const p = applyAffine(toNative, [x, y, z]);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a]!, p[a]!);
      hi[a] = Math.max(hi[a]!, p[a]!);
    }
  }
  const margin = (a: number): number => Math.ceil(marginMm / scan.native.spacing[a]!) + 1;
  return {
    min: [0, 1, 2].map((a) => Math.max(0, Math.floor(lo[a]!) - margin(a))) as Vec3,
    max: [0, 1, 2].map((a) => Math.min(native.dims[a]! - 1, Math.ceil(hi[a]!) + margin(a))) as Vec3,
  };
}

function intersectBoxes(a: Box, b: Box): Box {
  const min = [0, 1, 2].map((k) => Math.max(a.min[k]!, b.min[k]!)) as Vec3;
  const max = [0, 1, 2].map((k) => Math.max(min[k]!, Math.min(a.max[k]!, b.max[k]!))) as Vec3;
  return { min, max };
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
