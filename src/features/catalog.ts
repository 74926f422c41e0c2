/**
 * The fixed list of voxel features: each name says what is measured and at which scale
 * (`_s2mm`: Gaussian σ = 2 mm; `_r3mm`: box half-width 3 mm). The order of FEATURES is the column
 * order of extractFeatures' rows; models store the names and must check them on load.
 */

export type FilterFeature =
  | { kind: 'hu' }
  | { kind: 'mean' | 'std' | 'grad' | 'log' | 'vesselness' | 'blobness' | 'plateness'; sigmaMm: number }
  | { kind: 'min' | 'max'; radiusMm: number }
  | { kind: 'texture_mean' | 'texture_std'; sigmaGradMm: number; sigmaWindowMm: number };

export type ContextKey =
  | 'dist_lung_wall_mm'
  | 'dist_mediastinum_mm'
  | 'pos_z_rel'
  | 'pos_ap_rel'
  | 'pos_lat_rel'
  | 'side_right'
  | 'dist_lung_centre_rel'
  | 'lungs_found';

export type FeatureSpec = FilterFeature | { kind: 'context'; key: ContextKey };

export interface FeatureInfo {
  name: string;
  description: string;
  spec: FeatureSpec;
}

/** Lower and upper HU clamp applied to the CT before any filter (FOV padding then acts as air). */
export const HU_CLAMP: readonly [number, number] = [-1024, 3071];

/** σ of the gradient magnitude fed to the texture measures (mm). */
const TEXTURE_GRAD_SIGMA_MM = 1;

function fmt(x: number): string {
  return String(x);
}

function build(): FeatureInfo[] {
  const out: FeatureInfo[] = [];
  const add = (name: string, description: string, spec: FeatureSpec): void => {
    out.push({ name, description, spec });
  };
  add('hu', `HU at the voxel (clamped to [${HU_CLAMP[0]}, ${HU_CLAMP[1]}])`, { kind: 'hu' });
  for (const s of [1, 2, 4, 8, 16]) add(`hu_mean_s${fmt(s)}mm`, `Gaussian-weighted mean HU, σ ${s} mm`, { kind: 'mean', sigmaMm: s });
  for (const s of [2, 4, 8]) add(`hu_std_s${fmt(s)}mm`, `Gaussian-weighted std of HU, σ ${s} mm`, { kind: 'std', sigmaMm: s });
  add('hu_min_r3mm', 'minimum HU in a box of half-width 3 mm', { kind: 'min', radiusMm: 3 });
  add('hu_max_r3mm', 'maximum HU in a box of half-width 3 mm', { kind: 'max', radiusMm: 3 });
  add('hu_min_r6mm', 'minimum HU in a box of half-width 6 mm (air next to a vessel vs. inside a tumour)', { kind: 'min', radiusMm: 6 });
  add('hu_max_r6mm', 'maximum HU in a box of half-width 6 mm', { kind: 'max', radiusMm: 6 });
  add('hu_min_r12mm', 'minimum HU in a box of half-width 12 mm (is there lung air within 12 mm?)', { kind: 'min', radiusMm: 12 });
  add('hu_max_r12mm', 'maximum HU in a box of half-width 12 mm (bone within 12 mm: chest wall, spine)', { kind: 'max', radiusMm: 12 });
  for (const s of [1, 2, 4]) add(`grad_mag_s${fmt(s)}mm`, `gradient magnitude (HU/mm) after Gaussian σ ${s} mm`, { kind: 'grad', sigmaMm: s });
  for (const s of [2, 4, 8, 16]) {
    add(`log_s${fmt(s)}mm`, `scale-normalised Laplacian of Gaussian σ²ΔG*I (HU), σ ${s} mm; negative on bright blobs of radius ≈ ${(s * Math.sqrt(3)).toFixed(0)} mm`, {
      kind: 'log',
      sigmaMm: s,
    });
  }
  for (const s of [1, 2, 4]) add(`vesselness_s${fmt(s)}mm`, `Frangi vesselness of bright tubes (0–1), Hessian at σ ${s} mm`, { kind: 'vesselness', sigmaMm: s });
  for (const s of [2, 4, 8, 16]) {
    add(`blobness_s${fmt(s)}mm`, `bright-blob strength λ1²/|λ3| (HU, 0 unless all λ < 0), Hessian at σ ${s} mm (balls of radius ≈ ${(s * Math.sqrt(3)).toFixed(0)} mm)`, {
      kind: 'blobness',
      sigmaMm: s,
    });
  }
  for (const s of [1, 2, 4]) add(`plateness_s${fmt(s)}mm`, `bright-sheet measure (0–1: pleura, fissures), Hessian at σ ${s} mm`, { kind: 'plateness', sigmaMm: s });
  add('texture_gradmean_s4mm', `Gaussian-weighted (σ 4 mm) mean of the gradient magnitude at σ ${TEXTURE_GRAD_SIGMA_MM} mm (HU/mm): edge density`, {
    kind: 'texture_mean',
    sigmaGradMm: TEXTURE_GRAD_SIGMA_MM,
    sigmaWindowMm: 4,
  });
  add('texture_gradstd_s4mm', `Gaussian-weighted (σ 4 mm) std of the gradient magnitude at σ ${TEXTURE_GRAD_SIGMA_MM} mm (HU/mm): edge heterogeneity`, {
    kind: 'texture_std',
    sigmaGradMm: TEXTURE_GRAD_SIGMA_MM,
    sigmaWindowMm: 4,
  });
  const ctx = (key: ContextKey, description: string): void => add(key, description, { kind: 'context', key });
  ctx('dist_lung_wall_mm', 'signed distance (mm) to the lung surface: + inside the filled lungs, - outside (clipped at -10); 0 if no lungs');
  ctx('dist_mediastinum_mm', 'distance (mm) to the mediastinum (the region between the lungs, row by row); 0 if no lungs');
  ctx('pos_z_rel', 'height within the lungs: 0 at the lowest lung slice, 1 at the apex (0.5 if no lungs)');
  ctx('pos_ap_rel', 'position within the lungs front to back: 0 posterior, 1 anterior (0.5 if no lungs)');
  ctx('pos_lat_rel', 'lateral distance from the body midline / the lungs\' half-width: 0 medial, 1 at the outer lung edge (0.5 if no lungs)');
  ctx('side_right', '1 on the patient\'s right of the midline, 0 on the left (0.5 if no lungs)');
  ctx('dist_lung_centre_rel', 'distance from the centroid of the lung on this side / that lung\'s equivalent-sphere radius (0 if no lungs)');
  ctx('lungs_found', '1 if the lung finder found lungs, else 0 (then every context feature holds its fallback)');
  return out;
}

/** Every feature, in column order, with a one-line description. */
export const FEATURES: readonly FeatureInfo[] = Object.freeze(build());

/** Column names, in order. */
export const FEATURE_NAMES: readonly string[] = Object.freeze(FEATURES.map((f) => f.name));

/** name → one-line description. */
export const FEATURE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(FEATURES.map((f) => [f.name, f.description])),
);
