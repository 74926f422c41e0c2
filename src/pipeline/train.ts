/**
 * Training from scratch on a cohort: fingerprint -> plans -> voxel features -> voxel classifier
 * (histogram GBDT, cross-fitted so later stages see out-of-fold probabilities) -> candidates ->
 * candidate classifier (random forest) -> refiner ROIs -> refiner -> one model folder.
 */
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../core/errors.js';
import { Progress } from '../core/progress.js';
import { Rng } from '../core/random.js';
import { removeStaleTempDirs, removeStaleTemporaries, withTempDir, writeDirAtomic } from '../core/atomic.js';
import { shardItems, shardLabel, type Shard } from '../core/shard.js';
import { boundingBox, dilateMm } from '../core/morphology.js';
import { maskHas, packMask, unpackMask, type PackedMask } from '../core/bitmask.js';
import type { Vec3 } from '../core/volume.js';
import { listTrainingCases, type CaseFiles } from '../io/cohort.js';
import { readScan, readScanGeometry } from '../io/scans.js';
import { readMaskFor } from '../io/masks.js';
import { axisMap } from '../geometry/orient.js';
import { featureExtractor, findLungs, type FeatureExtractor } from '../features/index.js';
import { openFeatureDevice, type FeatureDevice } from '../features/gpu.js';
import { trainGbdt, type GbdtModel } from '../classifier/gbdt.js';
import { trainForest } from '../classifier/forest.js';
import { CANDIDATE_FEATURES, candidateLabel, describeCandidateFeature, findCandidates, type VoxelFeatureTable } from '../candidates/candidates.js';
import { dice } from '../metrics/dice.js';
import type { TrainConfig } from './config.js';
import { median, percentiles, planFromFingerprint, type Fingerprint, type Plans } from './plans.js';
import { maskToNative, nativeGrid, nativeMaskFraction, nativeMaskToWorking, toWorkingScan, type WorkingGrid, type WorkingScan } from './scan.js';
import { computeScanVoxels, selectFeatureColumns, type LungsForFeatures } from './voxels.js';
import { featureCacheKey, readFeatureCache, writeFeatureCache } from './feature-cache.js';
import { roiAroundBox, sampleIntoRoi, type Roi } from './roi.js';
import { isCaseWeight, MODEL_FILES, MODEL_FORMAT, MODEL_VERSION, packageVersions, writeJson, type ModelManifest } from './model-folder.js';
import { FEATURE_DESCRIPTIONS } from '../features/index.js';
import { buildRefinerInput, trainRefinerStage } from './refiner-stage.js';
import { saveRefiner } from '../refine/disk.js';

export interface TrainOptions {
  dataDirs: string[];
  /**
   * Training weight of each folder's cases, parallel to dataDirs (default all 1): a case of weight
   * w counts w times — its voxel rows weigh w, its candidates are repeated w times, and it gives the
   * refiner w times as many (differently jittered) ROIs. Scarce scans like the target's can so
   * outweigh a large synthetic cohort.
   */
  dataWeights?: number[];
  /** RTSTRUCT ROI of the tumour in DICOM cohorts (default: the first GTV / tumour ROI). */
  roi?: string;
  modelDir: string;
  seed: number;
  config: TrainConfig;
  workers: number;
  log: (line: string) => void;
  quiet?: boolean;
  /**
   * Feature cache folder (see computeCohortFeatures). Without one, the rows go to a temporary
   * folder that training removes.
   */
  cacheDir?: string;
  device?: FeatureDevice;
}

export interface TrainSummary {
  cases: number;
  seconds: Record<string, number>;
  lungFinderDice: Record<string, number>;
  tumourFoundOutOfFold: number;
}

/**
 * What training keeps of each case after its scan is read: no CT, masks packed, and (after the
 * features) only which voxels have feature rows. The feature rows wait on disk and are read again
 * for the out-of-fold probabilities and the candidates: holding every case's candidate columns
 * cost about 25 MB per whole real scan (about 8 GB of peak memory for the challenge's 291 scans).
 */
export interface PreparedCase {
  id: string;
  /** The scan, read again for its features. */
  volumeFile: string;
  grid: WorkingGrid;
  /** The tumour on the working grid. */
  tumour: PackedMask;
  tumourVoxels: number;
  /** Training weight (TrainOptions.dataWeights). */
  weight: number;
  lungs: Omit<LungsForFeatures, 'lungs'> & { lungs: PackedMask };
  /** Refiner ROIs around the (jittered) true tumour: raw HU and target on each ROI. */
  rois: { roi: Roi; ctHu: Float32Array; target: Uint8Array }[];
  /** Key of the case's full feature rows in the feature store (see computeCohortFeatures). */
  featureKey?: string;
  /** Working-grid indices of the eligible voxels, in the order of the case's feature rows. */
  eligible?: Int32Array;
  oofProb?: Float32Array;
}

/** Case order: ids sorted, then shuffled by the seed (recorded in the model). */
export function caseOrder(ids: string[], seed: number): string[] {
  return new Rng(seed ^ 0x5eed).shuffled([...ids].sort());
}

type WeightedCase = CaseFiles & { weight: number };

/** Every labelled case of the folders, with its folder's weight; an id found twice is an error. */
export function gatherCases(dataDirs: string[], dataWeights?: number[], roi?: string): WeightedCase[] {
  if (dataWeights && dataWeights.length !== dataDirs.length) throw new Error(`gatherCases: ${dataWeights.length} weights for ${dataDirs.length} folders`);
  const byId = new Map<string, WeightedCase>();
  dataDirs.forEach((dir, k) => {
    const weight = dataWeights?.[k] ?? 1;
    if (!isCaseWeight(weight)) throw new Error(`the weight of ${dir} must be a whole number ≥ 1 (got ${weight})`);
    for (const c of listTrainingCases(dir, roi === undefined ? {} : { roi })) {
      const prev = byId.get(c.id);
      if (prev) throw new InputError(c.volume, `case id ${c.id} appears twice (also ${prev.volume})`);
      byId.set(c.id, { ...c, weight });
    }
  });
  return [...byId.values()];
}

/** The manifest's caseWeights: the cases whose weight is not 1, in case order (nothing when none). */
function caseWeightsOf(prepared: readonly PreparedCase[]): { caseWeights?: Record<string, number> } {
  const weighted = prepared.filter((p) => p.weight !== 1);
  return weighted.length > 0 ? { caseWeights: Object.fromEntries(weighted.map((p) => [p.id, p.weight])) } : {};
}

const seconds = (t0: number): number => Math.round((performance.now() - t0) / 10) / 100;

export interface PrepareOptions {
  dataDirs: string[];
  /** As TrainOptions.dataWeights. */
  dataWeights?: number[];
  /** RTSTRUCT ROI of the tumour in DICOM cohorts (default: the first GTV / tumour ROI). */
  roi?: string;
  seed: number;
  config: TrainConfig;
  log: (line: string) => void;
  quiet?: boolean;
}

/** A cohort read once: its case order, plans and what later stages need of each case. */
export interface PreparedCohort {
  order: string[];
  plans: Plans;
  prepared: PreparedCase[];
  lungFinderDice: Record<string, number>;
  seconds: Record<string, number>;
}

/**
 * Passes 0 and 1 of training: spacings from the headers decide the working grid; each case is read
 * once, put on it, its lungs found and its refiner ROIs cut; HU statistics then complete the plans.
 */
export async function prepareCohort(opts: PrepareOptions): Promise<PreparedCohort> {
  const { config, log } = opts;
  const stageSeconds: Record<string, number> = {};
  const files = gatherCases(opts.dataDirs, opts.dataWeights, opts.roi);
  const order = caseOrder(files.map((c) => c.id), opts.seed);
  const byId = new Map(files.map((c) => [c.id, c]));
  const cases = order.map((id) => byId.get(id)!);
  log(`training on ${cases.length} cases (config ${config.name}, seed ${opts.seed})`);
  for (const c of cases) if (c.segRoi !== undefined) log(`${c.id}: tumour = ROI '${c.segRoi}' of ${c.seg}`);
  const rng = new Rng(opts.seed);

  // Pass 0: spacings from the headers decide the working grid before any voxel is read.
  let t = performance.now();
  const spacings: Vec3[] = cases.map((c) => {
    const h = readScanGeometry(c.volume);
    const m = axisMap(h.affine);
    const s: Vec3 = [0, 0, 0];
    for (let j = 0; j < 3; j++) s[m.worldAxis[j]!] = h.spacing[j]!;
    return s;
  });
  const axis = (a: number): number[] => spacings.map((s) => s[a]!);
  const spacingFp = {
    median: [median(axis(0)), median(axis(1)), median(axis(2))] as Vec3,
    min: [Math.min(...axis(0)), Math.min(...axis(1)), Math.min(...axis(2))] as Vec3,
    max: [Math.max(...axis(0)), Math.max(...axis(1)), Math.max(...axis(2))] as Vec3,
  };
  const provisional = planFromFingerprint({ cases: cases.length, spacingMm: spacingFp, tumourHu: percentiles([]), lungHu: percentiles([]), tumourVolumeMl: { min: 0, median: 0, max: 0 }, cropTumourMarginMm: null }, config.refiner.roiSamples);
  const workingSpacing = provisional.workingSpacingMm;
  log(`working grid ${workingSpacing.join(' x ')} mm (median scan spacing ${spacingFp.median.map((v) => v.toFixed(2)).join(' x ')} mm)`);

  // Pass 1: read each case once; keep only the working grid and the refiner's ROIs.
  const prepared: PreparedCase[] = [];
  const tumourHuSample: number[] = [];
  const lungHuSample: number[] = [];
  const tumourMl: number[] = [];
  const lungFinderDice: Record<string, number> = {};
  let cropMargin: Vec3 | null = null;
  const prep = new Progress('prepare', cases.length, process.stderr, opts.quiet);
  for (const c of cases) {
    const ct = readScan(c.volume);
    const seg = readMaskFor(c.seg!, ct, c.segRoi);
    const scan = toWorkingScan(ct, workingSpacing);
    const tumourNative = maskToNative(seg, scan);
    let tumour = nativeMaskToWorking(tumourNative, scan);
    let tumourVoxels = tumour.reduce((s, v) => s + v, 0);
    const nativeCount = tumourNative.reduce((s, v) => s + v, 0);
    if (nativeCount === 0) log(`warning: ${c.id}: the tumour mask is empty`);
    if (tumourVoxels === 0 && nativeCount > 0) {
      // A tumour smaller than a working voxel still marks the voxel it occupies most.
      tumour = markLargestOccupancy(tumourNative, scan);
      tumourVoxels = 1;
    }
    const voxelMl = (ct.spacing[0] * ct.spacing[1] * ct.spacing[2]) / 1000;
    tumourMl.push(nativeCount * voxelMl);
    const lungs = findLungs(scan.hu, scan.grid.dims, scan.grid.spacingMm);
    for (const w of lungs.warnings) log(`warning: ${c.id}: ${w}`);
    let lungTruth: Uint8Array | null = null;
    if (c.lungs) {
      lungTruth = nativeMaskToWorking(maskToNative(readMaskFor(c.lungs, ct), scan), scan);
      lungFinderDice[c.id] = Math.round(dice(lungs.lungs, lungTruth) * 10000) / 10000;
      log(`${c.id}: lung finder Dice vs lungs_seg ${lungFinderDice[c.id]!.toFixed(3)}`);
    }
    if (lungs.crop && tumourVoxels > 0) {
      const m = marginToEdgesMm(tumour, scan.grid.dims, scan.grid.spacingMm);
      cropMargin = cropMargin ? ([0, 1, 2].map((a) => Math.min(cropMargin![a]!, m[a]!)) as Vec3) : m;
    }
    const caseRng = rng.fork();
    sampleValues(scan.hu, tumour, 4000, caseRng, tumourHuSample);
    const lungRef = lungTruth ?? (lungs.found ? lungs.rawAir : null);
    if (lungRef) sampleValues(scan.hu, lungRef, 4000, caseRng, lungHuSample);
    const rois: PreparedCase['rois'] = [];
    const box = boundingBox(tumourNative, scan.native.dims);
    if (box && config.refiner.enabled) {
      const grid = nativeGrid(scan);
      for (let r = 0; r < config.refiner.roisPerCase * c.weight; r++) {
        const { min, max } = jitterBox(box.min, box.max, r === 0 ? 0 : 0.2, caseRng);
        const roi = roiAroundBox(grid, min, max, config.refiner.roiSamples, 2 * caseRng.uniform(0.85, 1.2), 24);
        const ctHu = sampleIntoRoi(scan.native.data, grid, roi);
        const occ = sampleIntoRoi(tumourNative, grid, roi);
        const target = new Uint8Array(occ.length);
        for (let i = 0; i < occ.length; i++) target[i] = occ[i]! >= 0.5 ? 1 : 0;
        rois.push({ roi, ctHu, target });
      }
    }
    prepared.push({
      id: c.id,
      volumeFile: c.volume,
      grid: scan.grid,
      tumour: packMask(tumour),
      tumourVoxels,
      weight: c.weight,
      lungs: { found: lungs.found, crop: lungs.crop, warnings: lungs.warnings, midlineX: lungs.midlineX, lungs: packMask(lungs.lungs) },
      rois,
    });
    prep.tick(c.id);
  }
  stageSeconds.prepare = seconds(t);

  const fingerprint: Fingerprint = {
    cases: cases.length,
    spacingMm: spacingFp,
    tumourHu: percentiles(tumourHuSample),
    lungHu: percentiles(lungHuSample),
    tumourVolumeMl: { min: Math.min(...tumourMl), median: median(tumourMl), max: Math.max(...tumourMl) },
    cropTumourMarginMm: cropMargin,
  };
  const plans: Plans = planFromFingerprint(fingerprint, config.refiner.roiSamples);
  log(`plans: eligible voxels ≥ ${plans.eligibleMinHu} HU inside the lungs; CT window ${plans.ctWindowHu.join('..')} HU; tumour HU p05..p95 ${fingerprint.tumourHu.p05}..${fingerprint.tumourHu.p95}`);
  return { order, plans, prepared, lungFinderDice, seconds: stageSeconds };
}

export interface FeatureOptions {
  workers: number;
  /** Where the filter features run: 'auto' (a hardware GPU when there is one), 'gpu' or 'cpu'. */
  device?: FeatureDevice;
  /** Folder of feature rows: read when their key matches, written otherwise. */
  storeDir: string;
  log: (line: string) => void;
  quiet?: boolean;
  /** Only the cases of this part (by sorted case id): the feature stage of one task of a job array. */
  shard?: Shard;
}

/**
 * Pass 2: features of every eligible voxel of every case, from the store when its key matches,
 * else computed (the scan is read again) and written to it. `visit` sees each case's whole table
 * once, in case order; the table is not kept. Sets each case's `featureKey`.
 */
export async function computeCohortFeatures(
  cohort: PreparedCohort,
  opts: FeatureOptions,
  visit: (p: PreparedCase, table: VoxelFeatureTable) => void,
): Promise<string[]> {
  const cases = opts.shard ? shardItems(cohort.prepared, (p) => p.id, opts.shard) : cohort.prepared;
  const inShard = new Set(cases);
  const feat = new Progress('features', cases.length, process.stderr, opts.quiet);
  let names: string[] = [];
  let hits = 0;
  const gpu = await openFeatureDevice(opts.device ?? 'auto', opts.log);
  const extractor = featureExtractor({ workers: opts.workers, gpu });
  try {
    // Case order, also for a part: visit sees the cases as an unsharded run would.
    for (const p of cohort.prepared) {
      if (!inShard.has(p)) continue;
      const key = featureCacheKey(p.volumeFile, cohort.plans);
      let table = readFeatureCache(opts.storeDir, p.id, key);
      if (table) hits++;
      else {
        // Reading the scan again costs a second or two; keeping every case's working grid from
        // pass 1 would cost the cohort's size in memory.
        const scan = toWorkingScan(readScan(p.volumeFile), cohort.plans.workingSpacingMm);
        table = (await computeScanVoxels(scan, cohort.plans, extractor, { ...p.lungs, lungs: unpackMask(p.lungs.lungs) })).table;
        writeFeatureCache(opts.storeDir, p.id, key, table);
      }
      p.featureKey = key;
      names = table.names;
      let covered = 0;
      for (const vox of table.voxels) if (maskHas(p.tumour, vox)) covered++;
      if (p.tumourVoxels > 0 && covered < 0.5 * p.tumourVoxels) {
        opts.log(`warning: ${p.id}: only ${covered}/${p.tumourVoxels} tumour voxels are eligible (lungs found: ${p.lungs.found})`);
      }
      visit(p, table);
      feat.tick(p.id);
    }
  } finally {
    await extractor.close();
    gpu?.close();
  }
  opts.log(`feature rows in ${opts.storeDir}: ${hits} of ${cases.length} cases reused${opts.shard ? ` (part ${opts.shard.index}/${opts.shard.count} of a ${cohort.prepared.length}-case cohort)` : ''}`);
  return names;
}

export interface FeatureStageOptions extends PrepareOptions {
  workers: number;
  device?: FeatureDevice;
  /** The cache folder (see feature-cache.ts): plans.json and features_summary[.K-of-N].json go there too. */
  cacheDir: string;
  shard?: Shard;
}

/**
 * The feature stage of training on its own (`lungtumor features`, `train --shard`): the cohort is
 * prepared whole, since its plans decide the rows, and the rows of every case (or of one part's)
 * are cached for `train --cache`. Returns the number of cases whose rows are cached.
 */
export async function cacheCohortFeatures(opts: FeatureStageOptions): Promise<number> {
  removeStaleTemporaries(opts.cacheDir, opts.log);
  const cohort = await prepareCohort(opts);
  const t = performance.now();
  const eligible = new Map<string, number>();
  const names = await computeCohortFeatures(cohort, { workers: opts.workers, storeDir: opts.cacheDir, device: opts.device ?? 'auto', log: opts.log, quiet: opts.quiet, shard: opts.shard }, (p, table) => {
    eligible.set(p.id, table.voxels.length);
  });
  // Every part writes the same plans.
  writeJson(join(opts.cacheDir, 'plans.json'), cohort.plans);
  writeJson(join(opts.cacheDir, opts.shard ? `features_summary.${shardLabel(opts.shard)}.json` : 'features_summary.json'), {
    features: names,
    ...(opts.shard ? { shard: shardLabel(opts.shard) } : {}),
    seconds: { ...cohort.seconds, features: Math.round(performance.now() - t) / 1000 },
    cases: cohort.prepared.filter((p) => eligible.has(p.id)).map((p) => ({
      id: p.id,
      working_dims: p.grid.dims,
      eligible_voxels: eligible.get(p.id)!,
      lungs_found: p.lungs.found,
      lung_finder_dice: cohort.lungFinderDice[p.id] ?? null,
    })),
  });
  return eligible.size;
}

/** Name prefix of training's temporary feature-row folders (under the system's temporary folder). */
const FEATURE_ROWS_PREFIX = 'lungtumor-features';

/**
 * Trains a model folder. The full feature rows of the cohort are kept on disk (the cache folder,
 * or a temporary one removed at the end), not in memory: they are read once more per case, for
 * its out-of-fold probabilities.
 */
export async function trainModel(opts: TrainOptions): Promise<TrainSummary> {
  // What a killed earlier training (kill -9, a lost node) was still writing.
  removeStaleTemporaries(dirname(resolve(opts.modelDir)), opts.log);
  if (opts.cacheDir !== undefined) removeStaleTemporaries(opts.cacheDir, opts.log);
  removeStaleTempDirs(FEATURE_ROWS_PREFIX, opts.log);
  if (opts.cacheDir !== undefined) return trainWithFeatureStore(opts, opts.cacheDir);
  return withTempDir(FEATURE_ROWS_PREFIX, (dir) => trainWithFeatureStore(opts, dir));
}

async function trainWithFeatureStore(opts: TrainOptions, storeDir: string): Promise<TrainSummary> {
  const { config, log } = opts;
  const t0 = performance.now();
  const cohort = await prepareCohort(opts);
  const { order, plans, prepared, lungFinderDice } = cohort;
  const stageSeconds: Record<string, number> = { ...cohort.seconds };
  const rng = new Rng(opts.seed + 1);

  // Pass 2, with the voxel classifier's training rows drawn per case as its features come:
  // tumour voxels and hard + random negatives.
  let t = performance.now();
  const keepFeature = (n: string): boolean => !config.voxelFeaturesLeftOut.includes(n);
  const samples: { rows: Float32Array; labels: Uint8Array; weights: Float32Array }[] = [];
  const names = await computeCohortFeatures(cohort, { workers: opts.workers, storeDir, device: opts.device ?? 'auto', log, quiet: opts.quiet }, (p, table) => {
    const s = sampleVoxelRows(p, table, config, rng.fork());
    samples.push({ ...s, rows: selectFeatureColumns({ names: table.names, rows: s.rows }, table.names.filter(keepFeature)) });
    p.eligible = table.voxels;
  });
  stageSeconds.features = seconds(t);
  const cases = order;

  t = performance.now();
  const voxelFeatures = names.filter(keepFeature);
  const VF = voxelFeatures.length;
  const folds = Math.min(config.folds, prepared.length);
  const gbdtParams = (seed: number) => ({ ...config.gbdt, maxLeaves: 2 ** config.gbdt.maxDepth, balanceClasses: true, seed });
  const assemble = (keep: (i: number) => boolean) => {
    let rows = 0;
    samples.forEach((s, i) => { if (keep(i)) rows += s.labels.length; });
    const X = new Float32Array(rows * VF);
    const y = new Uint8Array(rows);
    const w = new Float32Array(rows);
    let o = 0;
    samples.forEach((s, i) => {
      if (!keep(i)) return;
      X.set(s.rows, o * VF);
      y.set(s.labels, o);
      w.set(s.weights, o);
      o += s.labels.length;
    });
    return { rows: X, labels: y, weights: w, featureNames: voxelFeatures };
  };
  const storedTable = (p: PreparedCase): VoxelFeatureTable => {
    const table = readFeatureCache(storeDir, p.id, p.featureKey!);
    if (!table) throw new Error(`${p.id}: its feature rows are gone from ${storeDir} (removed or changed during training)`);
    return table;
  };
  const storedRows = (p: PreparedCase): Float32Array => selectFeatureColumns(storedTable(p), voxelFeatures);
  // Out-of-fold probabilities: each case is scored by a model that never saw it.
  if (folds >= 2) {
    for (let k = 0; k < folds; k++) {
      const train = assemble((i) => i % folds !== k);
      if (!train.labels.some((v) => v === 1)) continue;
      const model = trainGbdt(train, gbdtParams(opts.seed + k + 1));
      prepared.forEach((p, i) => { if (i % folds === k) p.oofProb = model.predictProba(storedRows(p)); });
      log(`voxel classifier fold ${k + 1}/${folds}: ${train.labels.length} rows`);
    }
  }
  const voxelModel: GbdtModel = trainGbdt(assemble(() => true), gbdtParams(opts.seed));
  for (const p of prepared) {
    if (!p.oofProb) {
      log(`warning: ${p.id}: no out-of-fold voxel model; candidates use in-sample probabilities`);
      p.oofProb = voxelModel.predictProba(storedRows(p));
    }
  }
  stageSeconds.voxelClassifier = seconds(t);

  // Candidates from out-of-fold probabilities -> candidate classifier.
  t = performance.now();
  const candRows: number[] = [];
  const candLabels: number[] = [];
  let found = 0;
  for (const p of prepared) {
    const prob = probVolume(p);
    const rowOf = rowIndex(p);
    const table = storedTable(p);
    const cands = findCandidates(prob, huVolume(p, table), p.grid.dims, p.grid.spacingMm, table, rowOf, plans.candidates);
    const tumour = unpackMask(p.tumour);
    let hit = false;
    for (const c of cands) {
      const y = candidateLabel(c, tumour, p.tumourVoxels);
      hit ||= y === 1;
      for (let k = 0; k < p.weight; k++) {
        candRows.push(...c.features);
        candLabels.push(y);
      }
    }
    if (hit) found++;
    else log(`${p.id}: the tumour is not among the ${cands.length} out-of-fold candidates`);
  }
  log(`tumour among the out-of-fold candidates in ${found}/${prepared.length} cases; ${candLabels.length} candidates`);
  const forest = trainForest(
    { rows: Float32Array.from(candRows), labels: candLabels, featureNames: [...CANDIDATE_FEATURES] },
    { numTrees: config.forest.trees, seed: opts.seed },
  );
  stageSeconds.candidateClassifier = seconds(t);

  // Refiner on ROIs around the true tumours, fed the out-of-fold probability.
  t = performance.now();
  const refinerSamples = prepared.flatMap((p) => {
    const prob = probVolume(p);
    return p.rois.map((r) => ({
      input: buildRefinerInput(r.ctHu, sampleIntoRoi(prob, p.grid, r.roi), plans.ctWindowHu),
      target: r.target,
    }));
  });
  const refiner = config.refiner.enabled && refinerSamples.length > 0
    ? await trainRefinerStage(refinerSamples, plans.ctWindowHu, config, opts.seed, log)
    : null;
  stageSeconds.refiner = seconds(t);

  // One model folder, written whole or not at all.
  t = performance.now();
  const manifest: ModelManifest = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    config: config.name,
    seed: opts.seed,
    caseOrder: order,
    ...caseWeightsOf(prepared),
    versions: packageVersions(),
    hasRefiner: refiner !== null,
  };
  const featuresDoc = {
    voxel: voxelModel.importances().map((f) => ({ ...f, description: FEATURE_DESCRIPTIONS[f.name] ?? '' })),
    candidate: forest.importances().map((f) => ({ ...f, description: describeCandidateFeature(f.name) })),
  };
  const summary: TrainSummary = { cases: cases.length, seconds: stageSeconds, lungFinderDice, tumourFoundOutOfFold: found };
  await writeDirAtomic(opts.modelDir, async (dir) => {
    writeJson(join(dir, MODEL_FILES.manifest), manifest);
    writeJson(join(dir, MODEL_FILES.plans), plans);
    writeJson(join(dir, MODEL_FILES.voxelClassifier), voxelModel.toJSON());
    writeJson(join(dir, MODEL_FILES.candidateClassifier), forest.toJSON());
    writeJson(join(dir, MODEL_FILES.features), featuresDoc);
    if (refiner) await saveRefiner(refiner.net, dir);
    stageSeconds.save = seconds(t);
    stageSeconds.total = seconds(t0);
    writeJson(join(dir, MODEL_FILES.log), { ...summary, workers: opts.workers, backend: refiner?.backend ?? null });
  });
  log(`model written to ${opts.modelDir} in ${stageSeconds.total} s`);
  return summary;
}

/** Per axis, the distance (mm) from a mask's outermost voxels to the nearer edge of the grid. */
function marginToEdgesMm(mask: Uint8Array, dims: Vec3, spacingMm: Vec3): Vec3 {
  const box = boundingBox(mask, dims)!;
  return [0, 1, 2].map((a) => Math.min(box.min[a]!, dims[a]! - 1 - box.max[a]!) * spacingMm[a]!) as Vec3;
}

/** The working voxel a tumour smaller than one working voxel occupies most. */
function markLargestOccupancy(tumourNative: Uint8Array, scan: WorkingScan): Uint8Array {
  const frac = nativeMaskFraction(tumourNative, scan);
  let best = 0;
  for (let i = 1; i < frac.length; i++) if (frac[i]! > frac[best]!) best = i;
  const out = new Uint8Array(frac.length);
  out[best] = 1;
  return out;
}

/** Pushes up to `limit` values of `data` inside `mask`, drawn with `rng`. */
function sampleValues(data: Float32Array, mask: Uint8Array, limit: number, rng: Rng, out: number[]): void {
  const idx: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) idx.push(i);
  const take = idx.length <= limit ? idx : rng.shuffled(idx).slice(0, limit);
  for (const i of take) out.push(data[i]!);
}

function jitterBox(min: Vec3, max: Vec3, amount: number, rng: Rng): { min: Vec3; max: Vec3 } {
  const lo: Vec3 = [0, 0, 0];
  const hi: Vec3 = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    const ext = max[a]! - min[a]! + 1;
    const shift = rng.uniform(-amount, amount) * ext;
    lo[a] = Math.round(min[a]! + shift);
    hi[a] = Math.round(max[a]! + shift);
  }
  return { min: lo, max: hi };
}

const gridSize = (p: PreparedCase): number => p.grid.dims[0] * p.grid.dims[1] * p.grid.dims[2];

function probVolume(p: PreparedCase): Float32Array {
  const prob = new Float32Array(gridSize(p));
  const v = p.eligible!;
  for (let r = 0; r < v.length; r++) prob[v[r]!] = p.oofProb![r]!;
  return prob;
}

function rowIndex(p: PreparedCase): Int32Array {
  const rowOf = new Int32Array(gridSize(p)).fill(-1);
  p.eligible!.forEach((v, r) => { rowOf[v] = r; });
  return rowOf;
}

/** HU on the working grid at the eligible voxels (0 elsewhere: candidates hold only eligible voxels). */
function huVolume(p: PreparedCase, table: VoxelFeatureTable): Float32Array {
  const hu = new Float32Array(gridSize(p));
  const { names, rows, voxels } = table;
  const F = names.length;
  const col = names.indexOf('hu');
  for (let r = 0; r < voxels.length; r++) hu[voxels[r]!] = rows[r * F + col]!;
  return hu;
}

/**
 * Voxel-classifier rows of one case: its eligible tumour voxels, and negatives of which a share
 * are hard (near the tumour, or the most tube- or blob-like, or at the lung wall).
 */
function sampleVoxelRows(p: PreparedCase, table: VoxelFeatureTable, config: TrainConfig, rng: Rng): { rows: Float32Array; labels: Uint8Array; weights: Float32Array } {
  const { names } = table;
  const F = names.length;
  const tumour = unpackMask(p.tumour);
  const near = p.tumourVoxels > 0 ? dilateMm(tumour, p.grid.dims, p.grid.spacingMm, 15) : new Uint8Array(tumour.length);
  const cols = names.flatMap((n, i) => (/^(vesselness|blobness)/.test(n) ? [i] : []));
  const wall = names.indexOf('dist_lung_wall_mm');
  const pos: number[] = [];
  const neg: number[] = [];
  const hard: number[] = [];
  const score: number[] = [];
  for (let r = 0; r < table.voxels.length; r++) {
    const v = table.voxels[r]!;
    if (tumour[v]) { pos.push(r); continue; }
    neg.push(r);
    let s = 0;
    for (const c of cols) s = Math.max(s, table.rows[r * F + c]!);
    score.push(s);
    if (near[v] || (wall >= 0 && table.rows[r * F + wall]! < 4)) hard.push(r);
  }
  // The most tube- or blob-like tenth of the negatives are hard too (vessels, distractor nodules).
  const sorted = [...score].sort((a, b) => b - a);
  const cut = sorted[Math.floor(sorted.length / 10)] ?? Infinity;
  neg.forEach((r, i) => { if (score[i]! >= cut && cut > 0) hard.push(r); });
  const hardSet = [...new Set(hard)].sort((a, b) => a - b);
  const pick = (from: number[], k: number): number[] => (from.length <= k ? from : rng.shuffled(from).slice(0, k));
  const chosenPos = pick(pos, config.tumourSamplesPerCase);
  const nHard = Math.round(config.negativeSamplesPerCase * config.hardNegativeShare);
  const chosenHard = pick(hardSet, nHard);
  const taken = new Set(chosenHard);
  const chosenRand = pick(neg.filter((r) => !taken.has(r)), config.negativeSamplesPerCase - chosenHard.length);
  const all = [...chosenPos, ...chosenHard, ...chosenRand];
  const rows = new Float32Array(all.length * F);
  const labels = new Uint8Array(all.length);
  const weights = new Float32Array(all.length).fill(p.weight);
  all.forEach((r, i) => {
    rows.set(table.rows.subarray(r * F, (r + 1) * F), i * F);
    labels[i] = i < chosenPos.length ? 1 : 0;
  });
  return { rows, labels, weights };
}
