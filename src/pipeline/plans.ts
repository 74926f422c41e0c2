/**
 * Plans as data: a fingerprint of the training cohort decides the working grid, the HU limits and
 * the ROI; it is saved in the model folder, and inference only reads it.
 */
import type { Vec3 } from '../core/volume.js';

export interface Percentiles {
  p01: number;
  p05: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  p99: number;
}

export interface Fingerprint {
  cases: number;
  /** Per-axis statistics of the canonical (RAS) voxel spacing, mm. */
  spacingMm: { median: Vec3; min: Vec3; max: Vec3 };
  /** HU inside the tumour masks, on the working grid. */
  tumourHu: Percentiles;
  /** HU inside the lungs (given lung masks where present, else the lung finder's), on the working grid. */
  lungHu: Percentiles;
  tumourVolumeMl: { min: number; median: number; max: number };
  /**
   * Per canonical axis, the smallest distance (mm, working grid) between a tumour and either edge
   * of its scan, over the cohort's crops (scans whose lungs were found in crop mode); null
   * without crops.
   */
  cropTumourMarginMm: Vec3 | null;
}

export interface CandidatePlan {
  probThreshold: number;
  minVolumeMm3: number;
  maxCandidates: number;
}

export interface RoiPlan {
  /** Samples per axis of the refiner's cube. */
  n: number;
  /** Cube size / candidate's largest extent. */
  context: number;
  minSizeMm: number;
}

export interface Plans {
  format: 'lungtumor-plans';
  version: 1;
  /** Working grid spacing (mm) along canonical R, A, S. */
  workingSpacingMm: Vec3;
  /** Voxels inside the lungs at least this dense (HU) are classified; thinner lung is never tumour. */
  eligibleMinHu: number;
  /** CT window (HU) mapped to [-1, 1] for the refiner. */
  ctWindowHu: [number, number];
  candidates: CandidatePlan;
  roi: RoiPlan;
  /**
   * In a crop, candidates are looked for only this far (mm, per canonical axis) or more from the
   * scan's edges: the training crops were cut with at least this much margin around their tumour.
   * Null when the training cohort had no crops (then the whole crop is searched).
   */
  cropSearchMarginMm: Vec3 | null;
  fingerprint: Fingerprint;
}

/** Sorted-sample percentiles (nearest rank). */
export function percentiles(values: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { p01: at(0.01), p05: at(0.05), p25: at(0.25), p50: at(0.5), p75: at(0.75), p95: at(0.95), p99: at(0.99) };
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const roundTo = (x: number, step: number): number => Math.round(x / step) * step;
const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * Working spacing from the cohort's spacings: in-plane about twice the median scan spacing
 * (1.5–2.5 mm: fine enough for 5 mm nodules, coarse enough for seconds per scan) but never finer
 * than the scans themselves (upsampling adds voxels, not information), slices at the median slice
 * spacing but no finer than in-plane and no coarser than twice it.
 */
export function workingSpacingFor(medianSpacingMm: Vec3): Vec3 {
  const native = Math.min(medianSpacingMm[0], medianSpacingMm[1]);
  const inPlane = roundTo(Math.max(native, clamp(2 * native, 1.5, 2.5)), 0.25);
  const slices = roundTo(clamp(medianSpacingMm[2], inPlane, 2 * inPlane), 0.25);
  return [inPlane, inPlane, slices];
}

export function planFromFingerprint(fp: Fingerprint, roiSamples: number): Plans {
  // Part-solid tumours reach down to ground glass; the 2nd-lowest percent of tumour HU, kept
  // above aerated lung, admits them while leaving most of the lung out.
  const eligibleMinHu = Math.round(clamp(Math.min(fp.tumourHu.p01, fp.tumourHu.p05 - 100), -800, -300));
  const lo = Math.round(clamp(fp.lungHu.p05, -1024, -700));
  const hi = Math.round(clamp(fp.tumourHu.p99 + 150, 100, 600));
  const workingSpacingMm = workingSpacingFor(fp.spacingMm.median);
  // One working voxel less than the training crops' margin: the tumour's edge moves by up to a
  // voxel between grids.
  const cropMargin = fp.cropTumourMarginMm;
  const cropSearchMarginMm = cropMargin ? ([0, 1, 2].map((a) => Math.max(0, cropMargin[a]! - workingSpacingMm[a]!)) as Vec3) : null;
  return {
    format: 'lungtumor-plans',
    version: 1,
    workingSpacingMm,
    eligibleMinHu,
    ctWindowHu: [lo, hi],
    candidates: { probThreshold: 0.5, minVolumeMm3: 15, maxCandidates: 12 },
    roi: { n: roiSamples, context: 2, minSizeMm: 24 },
    cropSearchMarginMm,
    fingerprint: fp,
  };
}

/** Checks a parsed plans.json (a model file is data: every field is checked before use). */
export function validatePlans(x: unknown, file: string): Plans {
  const p = x as Plans;
  const vec3 = (v: unknown, min = Number.MIN_VALUE): boolean => Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === 'number' && n >= min);
  // Models from before the crop margin was planned have none: they search the whole crop.
  if (p && p.cropSearchMarginMm === undefined) p.cropSearchMarginMm = null;
  if (
    !p || p.format !== 'lungtumor-plans' || p.version !== 1 || !vec3(p.workingSpacingMm) ||
    (p.cropSearchMarginMm !== null && !vec3(p.cropSearchMarginMm, 0)) ||
    typeof p.eligibleMinHu !== 'number' || !Array.isArray(p.ctWindowHu) || p.ctWindowHu.length !== 2 ||
    typeof p.candidates?.probThreshold !== 'number' || typeof p.roi?.n !== 'number' || p.roi.n < 4 || p.roi.n > 128
  ) {
    throw new Error(`${file}: not a lungtumor plans file (version 1)`);
  }
  return p;
}
