/**
 * Candidate tumours: connected regions of voxels the voxel classifier finds tumour-like, each
 * described by region features for the candidate classifier.
 *
 * Grids are the pipeline's working grid (canonical RAS voxel order, x fastest).
 */
import { labelComponents } from '../core/morphology.js';
import type { Vec3 } from '../core/volume.js';

export interface VoxelFeatureTable {
  names: string[];
  /** n × F, row-major; row r describes voxel `voxels[r]`. */
  rows: Float32Array;
  /** Working-grid voxel index of each row, ascending (scan order). */
  voxels: Int32Array;
}

export interface Candidate {
  /** 1-based number within the scan, in scan order. */
  label: number;
  /** Working-grid voxel indices of the region. */
  voxels: Int32Array;
  /** Values of CANDIDATE_FEATURES, same order. */
  features: number[];
  /** Voxel-space bounding box, inclusive. */
  min: Vec3;
  max: Vec3;
  /** Probability-weighted centroid in working-grid voxel coordinates. */
  centroidVox: Vec3;
}

/** Region features of a candidate, in order; `describeCandidateFeature` explains each. */
export const CANDIDATE_FEATURES = [
  'log_volume_mm3',
  'prob_mean',
  'prob_max',
  'prob_mass_fraction',
  'mass_rank',
  'hu_mean',
  'hu_std',
  'sphericity',
  'elongation',
  'flatness',
  'vesselness_mean',
  'blobness_mean',
  'pleura_contact',
  'mediastinum_contact',
  'pos_z_rel',
  'n_candidates',
] as const;

const DESCRIPTIONS: Record<(typeof CANDIDATE_FEATURES)[number], string> = {
  log_volume_mm3: 'natural log of the region volume in mm³',
  prob_mean: 'mean voxel-classifier probability over the region',
  prob_max: 'highest voxel-classifier probability in the region',
  prob_mass_fraction: "the region's share of the scan's summed tumour probability over all candidates",
  mass_rank: 'rank of the region by summed probability within the scan (1 = largest)',
  hu_mean: 'mean CT density of the region (HU)',
  hu_std: 'standard deviation of CT density in the region (HU)',
  sphericity: 'surface of a ball of the same volume / region surface (1 = ball, low = spiky or thin)',
  elongation: 'sqrt of the smallest / largest principal variance of the region (1 = round, 0 = line-like)',
  flatness: 'sqrt of the middle / largest principal variance (low = plate-like)',
  vesselness_mean: 'mean tube-likeness (Hessian vesselness) of the region voxels, averaged over scales',
  blobness_mean: 'mean blob-likeness (Hessian) of the region voxels, averaged over scales',
  pleura_contact: 'fraction of region voxels within 3 mm of the lung wall',
  mediastinum_contact: 'fraction of region voxels within 5 mm of the mediastinum',
  pos_z_rel: 'mean relative height within the lungs (0 = lung base, 1 = apex)',
  n_candidates: 'number of candidates in the scan',
};

export function describeCandidateFeature(name: string): string {
  return (DESCRIPTIONS as Record<string, string>)[name] ?? '';
}

export interface CandidateOptions {
  /** Voxels with probability ≥ this are candidate voxels. */
  probThreshold: number;
  /** Regions smaller than this (mm³) are dropped as noise. */
  minVolumeMm3: number;
  /** At most this many candidates, the largest by summed probability first. */
  maxCandidates: number;
}

const VESSELNESS = /^vesselness/;
const BLOBNESS = /^blobness/;
const WALL = 'dist_lung_wall_mm';
const MEDIASTINUM = 'dist_mediastinum_mm';
const POS_Z = 'pos_z_rel';

function columnsMatching(names: string[], pattern: RegExp): number[] {
  return names.flatMap((n, i) => (pattern.test(n) ? [i] : []));
}

/**
 * Finds candidate regions in a probability map. `rowOf[v]` is the feature-table row of working-grid
 * voxel v, or -1 (voxels without a row have probability 0 and are never candidates).
 */
export function findCandidates(
  prob: Float32Array,
  hu: ArrayLike<number>,
  dims: Vec3,
  spacingMm: Vec3,
  table: VoxelFeatureTable,
  rowOf: Int32Array,
  opts: CandidateOptions,
): Candidate[] {
  const [nx, ny] = dims;
  // Only voxels with a feature row can pass the threshold (the others have probability 0), so the
  // components are labelled in the bounding box of the passing ones, not over the whole grid.
  const hot: number[] = [];
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const v of table.voxels) {
    if (!(prob[v]! >= opts.probThreshold)) continue;
    hot.push(v);
    const x = v % nx;
    const y = ((v - x) / nx) % ny;
    const z = (v - x - nx * y) / (nx * ny);
    if (x < lo[0]) lo[0] = x; if (x > hi[0]) hi[0] = x;
    if (y < lo[1]) lo[1] = y; if (y > hi[1]) hi[1] = y;
    if (z < lo[2]) lo[2] = z; if (z > hi[2]) hi[2] = z;
  }
  if (hot.length === 0) return [];
  const [bx, by, bz] = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
  const hotInBox = Int32Array.from(hot, (v) => {
    const x = v % nx;
    const y = ((v - x) / nx) % ny;
    const z = (v - x - nx * y) / (nx * ny);
    return x - lo[0] + bx * (y - lo[1] + by * (z - lo[2]));
  });
  const mask = new Uint8Array(bx * by * bz);
  for (const b of hotInBox) mask[b] = 1;
  // Box order is scan order, so labels are numbered as on the whole grid.
  const comps = labelComponents(mask, [bx, by, bz], 26);
  const voxelMm3 = spacingMm[0] * spacingMm[1] * spacingMm[2];
  const minVoxels = Math.max(1, Math.ceil(opts.minVolumeMm3 / voxelMm3));

  // Gather each kept component's voxels in one pass (scan order).
  const keep = new Int32Array(comps.count + 1).fill(-1);
  const kept: number[] = [];
  for (let c = 1; c <= comps.count; c++) {
    if (comps.sizes[c]! >= minVoxels) {
      keep[c] = kept.length;
      kept.push(c);
    }
  }
  const lists = kept.map((c) => ({ label: c, voxels: new Int32Array(comps.sizes[c]!), fill: 0 }));
  hot.forEach((v, h) => {
    const k = keep[comps.labels[hotInBox[h]!]!]!;
    if (k >= 0) {
      const l = lists[k]!;
      l.voxels[l.fill++] = v;
    }
  });

  const F = table.names.length;
  const vessel = columnsMatching(table.names, VESSELNESS);
  const blob = columnsMatching(table.names, BLOBNESS);
  const wall = table.names.indexOf(WALL);
  const medi = table.names.indexOf(MEDIASTINUM);
  const posZ = table.names.indexOf(POS_Z);
  const colMean = (voxels: Int32Array, cols: number[]): number => {
    if (cols.length === 0) return 0;
    let s = 0;
    let m = 0;
    for (const v of voxels) {
      const r = rowOf[v]!;
      if (r < 0) continue;
      for (const c of cols) s += table.rows[r * F + c]!;
      m++;
    }
    return m > 0 ? s / (m * cols.length) : 0;
  };
  const fractionBelow = (voxels: Int32Array, col: number, limit: number): number => {
    if (col < 0) return 0;
    let hit = 0;
    let m = 0;
    for (const v of voxels) {
      const r = rowOf[v]!;
      if (r < 0) continue;
      m++;
      if (table.rows[r * F + col]! <= limit) hit++;
    }
    return m > 0 ? hit / m : 0;
  };

  const raw = lists.map((l) => {
    const vox = l.voxels;
    let mass = 0;
    let pmax = 0;
    let huSum = 0;
    let huSq = 0;
    const c: Vec3 = [0, 0, 0];
    const min: Vec3 = [Infinity, Infinity, Infinity];
    const max: Vec3 = [-Infinity, -Infinity, -Infinity];
    // Second moments in mm for the principal axes.
    let sxx = 0, syy = 0, szz = 0, sxy = 0, sxz = 0, syz = 0, mx = 0, my = 0, mz = 0;
    let faces = 0;
    for (const v of vox) {
      const p = prob[v]!;
      mass += p;
      if (p > pmax) pmax = p;
      const h = hu[v]!;
      huSum += h;
      huSq += h * h;
      const x = v % nx;
      const y = ((v - x) / nx) % ny;
      const z = (v - x - nx * y) / (nx * ny);
      c[0] += p * x; c[1] += p * y; c[2] += p * z;
      if (x < min[0]) min[0] = x; if (x > max[0]) max[0] = x;
      if (y < min[1]) min[1] = y; if (y > max[1]) max[1] = y;
      if (z < min[2]) min[2] = z; if (z > max[2]) max[2] = z;
      const X = x * spacingMm[0], Y = y * spacingMm[1], Z = z * spacingMm[2];
      mx += X; my += Y; mz += Z;
      sxx += X * X; syy += Y * Y; szz += Z * Z; sxy += X * Y; sxz += X * Z; syz += Y * Z;
      // Exposed faces, weighted by their area in mm², approximate the surface (beyond the box
      // there is no candidate voxel).
      const ax = spacingMm[1] * spacingMm[2], ay = spacingMm[0] * spacingMm[2], az = spacingMm[0] * spacingMm[1];
      const b = x - lo[0] + bx * (y - lo[1] + by * (z - lo[2]));
      if (x === lo[0] || comps.labels[b - 1] !== l.label) faces += ax;
      if (x === hi[0] || comps.labels[b + 1] !== l.label) faces += ax;
      if (y === lo[1] || comps.labels[b - bx] !== l.label) faces += ay;
      if (y === hi[1] || comps.labels[b + bx] !== l.label) faces += ay;
      if (z === lo[2] || comps.labels[b - bx * by] !== l.label) faces += az;
      if (z === hi[2] || comps.labels[b + bx * by] !== l.label) faces += az;
    }
    const m = vox.length;
    mx /= m; my /= m; mz /= m;
    const cov = [
      [sxx / m - mx * mx, sxy / m - mx * my, sxz / m - mx * mz],
      [sxy / m - mx * my, syy / m - my * my, syz / m - my * mz],
      [sxz / m - mx * mz, syz / m - my * mz, szz / m - mz * mz],
    ];
    const eig = symmetricEigenvalues3(cov).sort((a, b) => b - a);
    const l1 = Math.max(eig[0]!, 1e-9);
    const volumeMm3 = m * voxelMm3;
    const sphericity = (Math.cbrt(Math.PI) * Math.pow(6 * volumeMm3, 2 / 3)) / Math.max(faces, 1e-9);
    const huMean = huSum / m;
    return {
      label: l.label,
      voxels: vox,
      mass,
      min,
      max,
      centroidVox: [c[0] / mass, c[1] / mass, c[2] / mass] as Vec3,
      base: {
        log_volume_mm3: Math.log(volumeMm3),
        prob_mean: mass / m,
        prob_max: pmax,
        hu_mean: huMean,
        hu_std: Math.sqrt(Math.max(0, huSq / m - huMean * huMean)),
        sphericity: Math.min(sphericity, 1.5),
        elongation: Math.sqrt(Math.max(eig[2]!, 0) / l1),
        flatness: Math.sqrt(Math.max(eig[1]!, 0) / l1),
        vesselness_mean: colMean(vox, vessel),
        blobness_mean: colMean(vox, blob),
        pleura_contact: fractionBelow(vox, wall, 3),
        mediastinum_contact: fractionBelow(vox, medi, 5),
        pos_z_rel: posZ >= 0 ? colMean(vox, [posZ]) : 0,
      },
    };
  });

  raw.sort((a, b) => b.mass - a.mass || a.label - b.label);
  const top = raw.slice(0, opts.maxCandidates);
  const totalMass = top.reduce((s, r) => s + r.mass, 0);
  return top.map((r, rank) => {
    const f: Record<string, number> = {
      ...r.base,
      prob_mass_fraction: totalMass > 0 ? r.mass / totalMass : 0,
      mass_rank: rank + 1,
      n_candidates: top.length,
    };
    return {
      label: r.label,
      voxels: r.voxels,
      features: CANDIDATE_FEATURES.map((name) => f[name]!),
      min: r.min,
      max: r.max,
      centroidVox: r.centroidVox,
    };
  });
}

/** Eigenvalues of a symmetric 3×3 matrix (closed form, trigonometric). */
export function symmetricEigenvalues3(a: number[][]): number[] {
  const a00 = a[0]![0]!, a11 = a[1]![1]!, a22 = a[2]![2]!;
  const a01 = a[0]![1]!, a02 = a[0]![2]!, a12 = a[1]![2]!;
  const p1 = a01 * a01 + a02 * a02 + a12 * a12;
  if (p1 < 1e-30) return [a00, a11, a22];
  const q = (a00 + a11 + a22) / 3;
  const p2 = (a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2 * p1;
  const p = Math.sqrt(p2 / 6);
  const b00 = (a00 - q) / p, b11 = (a11 - q) / p, b22 = (a22 - q) / p;
  const b01 = a01 / p, b02 = a02 / p, b12 = a12 / p;
  const detB = b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02);
  const r = Math.min(1, Math.max(-1, detB / 2));
  const phi = Math.acos(r) / 3;
  const e1 = q + 2 * p * Math.cos(phi);
  const e3 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
  return [e1, 3 * q - e1 - e3, e3];
}

/**
 * Training label of a candidate: 1 when it is (part of) the primary tumour — at least `minOverlap`
 * of the candidate lies in the tumour, or it covers at least `minOverlap` of the tumour.
 */
export function candidateLabel(c: Candidate, tumour: ArrayLike<number>, tumourVoxels: number, minOverlap = 0.3): 0 | 1 {
  let inter = 0;
  for (const v of c.voxels) if (tumour[v]) inter++;
  if (inter === 0) return 0;
  return inter / c.voxels.length >= minOverlap || (tumourVoxels > 0 && inter / tumourVoxels >= minOverlap) ? 1 : 0;
}

/**
 * Closeness of a candidate to the centre of a scan that is a crop around the tumour, in (0, 1]:
 * 1 when the candidate holds the centre, falling as a Gaussian of the distance (mm) from the centre
 * to its nearest voxel, with a width of a quarter of the scan's smaller in-plane half-extent.
 */
export function cropCentrality(c: Candidate, dims: Vec3, spacingMm: Vec3): number {
  const [nx, ny] = dims;
  const centre = [(dims[0] - 1) / 2, (dims[1] - 1) / 2, (dims[2] - 1) / 2];
  let best = Infinity;
  for (const v of c.voxels) {
    const x = v % nx;
    const y = Math.floor(v / nx) % ny;
    const z = Math.floor(v / (nx * ny));
    const dx = (x - centre[0]!) * spacingMm[0];
    const dy = (y - centre[1]!) * spacingMm[1];
    const dz = (z - centre[2]!) * spacingMm[2];
    best = Math.min(best, dx * dx + dy * dy + dz * dz);
  }
  const widthMm = 0.25 * Math.min(nx * spacingMm[0], ny * spacingMm[1]) / 2;
  return Math.exp(-best / (2 * widthMm * widthMm));
}
