/**
 * Clinical and technical metadata of a synthetic case, and its row in metadata.csv.
 * Clinical fields are sometimes missing (null, an empty csv cell) as in real registries;
 * geometry and ground-truth fields never are.
 */
import type { Rng } from '../core/random.js';
import type { Lobe, Sex } from './anatomy.js';
import type { NoduleKind, TumourLocation, TumourShape } from './lesions.js';
import type { VoxelOrder } from './grid.js';
import type { Vec3 } from '../core/volume.js';

export type SmokingStatus = 'current' | 'former' | 'never';
export type Histology = 'adenocarcinoma' | 'squamous cell carcinoma' | 'large cell' | 'nos';

export interface ClinicalMeta {
  age: number | null;
  sex: Sex | null;
  smokingStatus: SmokingStatus | null;
  packYears: number | null;
  histology: Histology | null;
  tStage: string;
  nStage: string | null;
  mStage: string | null;
  overallStage: string | null;
}

export interface SynthMeta {
  id: string;
  clinical: ClinicalMeta;
  tumour: {
    shape: TumourShape;
    location: TumourLocation;
    side: 'right' | 'left';
    lobe: Lobe;
    /** Nominal diameter, mm. */
    diameterMm: number;
    /** Volume of the tumour mask, mL. */
    volumeMl: number;
    /** Where the generator put the tumour centre, in world (NIfTI RAS) mm. */
    centreWorldMm: [number, number, number];
    solidHu: number;
    ggoHu: number | null;
    /** Share of the tumour mask inside the lung envelope (1 for intraparenchymal tumours). */
    inLungFraction: number;
  };
  /**
   * Consolidated or collapsed lung painted against the tumour (not tumour): a wedge of lung with its
   * apex at the tumour centre, its unit axis (RAS), half-angle and the distance from the apex it
   * reaches at least, where there is lung; null when none.
   */
  adjacentOpacity: { hu: number; axis: [number, number, number]; halfAngleDeg: number; reachMm: number } | null;
  distractors: { centreWorldMm: [number, number, number]; diameterMm: number; kind: NoduleKind; hu: number }[];
  voxelOrder: VoxelOrder;
  dims: Vec3;
  spacing: Vec3;
  noiseSdHu: number;
  /** HU outside the reconstructed field of view, or null when there is no padding. */
  padHu: number | null;
}

function tStageOf(diameterMm: number, location: TumourLocation): string {
  if (location === 'mediastinal' && diameterMm > 30) return 'T4';
  if (diameterMm <= 10) return 'T1a';
  if (diameterMm <= 20) return 'T1b';
  if (diameterMm <= 30) return location === 'pleural' ? 'T2a' : 'T1c';
  if (diameterMm <= 40) return 'T2a';
  if (diameterMm <= 50) return 'T2b';
  if (diameterMm <= 70) return 'T3';
  return 'T4';
}

function overallStage(t: string, n: string, m: string): string {
  if (m !== 'M0') return 'IV';
  const tn = Number(t[1]);
  const nn = Number(n[1]);
  if (nn === 3) return tn >= 3 ? 'IIIC' : 'IIIB';
  if (nn === 2) return tn >= 3 ? 'IIIB' : 'IIIA';
  if (nn === 1) return tn >= 3 ? 'IIIA' : 'IIB';
  if (tn === 1) return 'IA';
  if (t === 'T2a') return 'IB';
  if (t === 'T2b') return 'IIA';
  return tn === 3 ? 'IIB' : 'IIIA';
}

function maybe<T>(rng: Rng, pMissing: number, v: T): T | null {
  return rng.next() < pMissing ? null : v;
}

/** Clinical metadata consistent with the tumour (stage from size, histology from appearance). */
export function drawClinical(rng: Rng, sex: Sex, shape: TumourShape, location: TumourLocation, diameterMm: number): ClinicalMeta {
  const age = Math.round(Math.min(90, Math.max(38, rng.normal(67, 9))));
  const sd = rng.next();
  const smoking: SmokingStatus = sd < 0.45 ? 'current' : sd < 0.85 ? 'former' : 'never';
  const packYears = smoking === 'never' ? null : Math.round(rng.uniform(5, 80));
  const hd = rng.next();
  const histology: Histology =
    shape === 'part-solid' ? 'adenocarcinoma'
    : location === 'mediastinal' && hd < 0.55 ? 'squamous cell carcinoma'
    : hd < 0.5 ? 'adenocarcinoma' : hd < 0.8 ? 'squamous cell carcinoma' : hd < 0.9 ? 'large cell' : 'nos';
  const t = tStageOf(diameterMm, location);
  const nd = rng.next();
  const tn = Number(t[1]);
  const n = nd < 0.55 - 0.08 * tn ? 'N0' : nd < 0.7 - 0.05 * tn ? 'N1' : nd < 0.92 ? 'N2' : 'N3';
  const m = rng.next() < 0.1 ? 'M1' : 'M0';
  return {
    age: maybe(rng, 0.05, age),
    sex: maybe(rng, 0.02, sex),
    smokingStatus: maybe(rng, 0.15, smoking),
    packYears: packYears === null ? null : maybe(rng, 0.3, packYears),
    histology: maybe(rng, 0.1, histology),
    tStage: t,
    nStage: maybe(rng, 0.06, n),
    mStage: maybe(rng, 0.04, m),
    overallStage: maybe(rng, 0.05, overallStage(t, n, m)),
  };
}

/** Column names of metadata.csv, in order. */
export const META_COLUMNS = [
  'id', 'age', 'sex', 'smoking_status', 'pack_years', 'histology', 't_stage', 'n_stage', 'm_stage', 'overall_stage',
  'tumour_side', 'tumour_lobe', 'tumour_location', 'tumour_shape', 'tumour_diameter_mm', 'tumour_volume_ml',
  'tumour_centre_x_mm', 'tumour_centre_y_mm', 'tumour_centre_z_mm', 'distractors',
  'voxel_order', 'dim_x', 'dim_y', 'dim_z', 'spacing_x_mm', 'spacing_y_mm', 'spacing_z_mm', 'noise_sd_hu', 'pad_hu',
] as const;

const r2 = (v: number): number => Math.round(v * 100) / 100;

/** One csv row (strings; '' where a value is missing). */
export function metaRow(m: SynthMeta): string[] {
  const c = m.clinical;
  const s = (v: string | number | null): string => (v === null ? '' : String(v));
  return [
    m.id, s(c.age), s(c.sex), s(c.smokingStatus), s(c.packYears), s(c.histology), c.tStage, s(c.nStage), s(c.mStage), s(c.overallStage),
    m.tumour.side, m.tumour.lobe, m.tumour.location, m.tumour.shape, s(r2(m.tumour.diameterMm)), s(r2(m.tumour.volumeMl)),
    s(r2(m.tumour.centreWorldMm[0])), s(r2(m.tumour.centreWorldMm[1])), s(r2(m.tumour.centreWorldMm[2])), s(m.distractors.length),
    m.voxelOrder, s(m.dims[0]), s(m.dims[1]), s(m.dims[2]),
    s(m.spacing[0]), s(m.spacing[1]), s(m.spacing[2]), s(r2(m.noiseSdHu)), s(m.padHu),
  ];
}
