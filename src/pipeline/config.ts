/**
 * Training configurations. `default` is the real one; `fast` trains a small but working model in
 * well under a minute on a few small synthetic cases (for tests and quick looks).
 */
export interface TrainConfig {
  name: 'fast' | 'default';
  /** Voxel-classifier training rows drawn per case: tumour voxels, and non-tumour voxels. */
  tumourSamplesPerCase: number;
  negativeSamplesPerCase: number;
  /** Share of the negatives drawn from the hard ones (near the tumour, tube-like, blob-like, at the wall). */
  hardNegativeShare: number;
  gbdt: { numTrees: number; maxDepth: number; learningRate: number; minSamplesLeaf: number; subsample: number; colsample: number };
  /** Voxel features the voxel classifier does not use (by name). */
  voxelFeaturesLeftOut: readonly string[];
  /** Cases are split into this many folds so candidates and refiner ROIs come from out-of-fold probabilities. */
  folds: number;
  forest: { trees: number };
  /** The refiner's training settings are src/refine's preset of the same name. */
  refiner: { enabled: boolean; roiSamples: number; roisPerCase: number };
}

export const TRAIN_CONFIGS: Record<TrainConfig['name'], TrainConfig> = {
  fast: {
    name: 'fast',
    tumourSamplesPerCase: 600,
    negativeSamplesPerCase: 1200,
    hardNegativeShare: 0.5,
    gbdt: { numTrees: 40, maxDepth: 4, learningRate: 0.2, minSamplesLeaf: 10, subsample: 0.8, colsample: 0.8 },
    voxelFeaturesLeftOut: [],
    folds: 2,
    forest: { trees: 15 },
    refiner: { enabled: true, roiSamples: 16, roisPerCase: 2 },
  },
  default: {
    name: 'default',
    tumourSamplesPerCase: 4000,
    negativeSamplesPerCase: 8000,
    hardNegativeShare: 0.5,
    // Shallow trees with large leaves: a cohort holds one tumour per scan, and deeper trees learn
    // the training tumours rather than tumours. Held out (README, Results), depth 4 / 300-row leaves
    // raised the real tumour voxels found at p >= 0.5 from 36 % to 51 %; depth 3 / 1000 did better
    // on the real scans' voxels (64 %) but worse on synthetic cohorts, for the same challenge score.
    gbdt: { numTrees: 150, maxDepth: 4, learningRate: 0.1, minSamplesLeaf: 300, subsample: 0.7, colsample: 0.5 },
    voxelFeaturesLeftOut: [],
    folds: 3,
    forest: { trees: 100 },
    refiner: { enabled: true, roiSamples: 24, roisPerCase: 6 },
  },
};
