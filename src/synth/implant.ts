/**
 * Synthetic tumours implanted into real CT: the generator's lesion shapes (blobs with bumps,
 * spicules, ground glass, a necrotic centre, a wedge of consolidated lung) painted into a real
 * scan's lungs with partial volume, so training sees where a tumour ends against real collapsed
 * lung, hilum, mediastinum and chest wall. After Hu et al. (CVPR 2023): distorted ellipsoids, a
 * scaled noise texture, placed away from vessels, blended at the edges.
 *
 * Everything here works on the canonical RAS grid (`toCanonical`), in a frame of mm = voxel index
 * × spacing (x towards the patient's right, y anterior, z superior); the cohort writer maps
 * results back onto the scan's own voxel order and header.
 */
import type { Rng } from '../core/random.js';
import type { Lobe } from './anatomy.js';
import type { Vec3, VoxelArray } from '../core/volume.js';
import { squaredDistanceMm } from '../core/morphology.js';
import { buildFeatureContext, type FeatureContext } from '../features/context.js';
import { median } from '../pipeline/plans.js';
import { boxDims, crop, growBox, marginVox, maskBox, type Box } from '../features/masks.js';
import { at, blob, drawDiameter, drawTexture, opacityShape, planWedge, surfaceRadius, tumourBody, tumourShapes, unit, type OpacityPlan, type TumourPlan, type TumourShape } from './lesions.js';
import { CT_MAX_HU, CT_MIN_HU } from './render.js';
import { blobRadiusBounds, blobSdf, smoothstep, type BlobSpec, type Shape, type SliceCtx, type Texture, type TubeSpec, type Vec } from './shapes.js';

export type ImplantKind = 'solid' | 'part-solid' | 'ground-glass';
export type ImplantSite = 'intraparenchymal' | 'pleural' | 'mediastinal' | 'hilar';
export const IMPLANT_KINDS: readonly ImplantKind[] = ['solid', 'part-solid', 'ground-glass'];
export const IMPLANT_SITES: readonly ImplantSite[] = ['intraparenchymal', 'pleural', 'mediastinal', 'hilar'];

/** HU of one real tumour, from its mask. */
export interface TumourHuStats {
  id: string;
  voxels: number;
  medianHu: number;
  /** Median of the voxels at least INTERIOR_MM inside the mask (all of them for a tumour too thin for that): HU without partial volume. */
  interiorMedianHu: number;
  /** Robust SD (1.4826 × MAD) of the voxels at least INTERIOR_MM inside the mask: texture and noise, little partial volume. */
  interiorSdHu: number;
}

/** A real tumour whose interior median is below this is ground glass (HU). */
export const GROUND_GLASS_MEDIAN_HU = -300;
/** A solid tumour whose interior SD is above this (HU) is mixed: left out of the solid HU and texture ranges. */
export const MIXED_SD_HU = 120;
/** Voxels this far (mm) or more inside a tumour mask give its texture SD. */
export const INTERIOR_MM = 2;

/**
 * Ranges the implants' HU are drawn from. From the cohort's real tumours where it has them
 * (solid and ground glass apart), else from these defaults: solid tumours' mean 12–41 HU with an
 * interior SD of 28–47 HU in the real Lung1 / phantom scans; pure ground-glass nodules read about
 * -750 to -450 HU (LIDC-0002: median -682).
 */
export interface ImplantPriors {
  solidHu: [number, number];
  groundGlassHu: [number, number];
  /** SD of the fine texture (a blurred noise field) of solid parts, HU. */
  textureSdHu: [number, number];
  /** The same for ground glass (pure, or the halo of a part-solid implant), HU. */
  groundGlassSdHu: [number, number];
  /** Ids of the real tumours the ranges came from. */
  fromTumours: string[];
}

export const DEFAULT_PRIORS: Readonly<ImplantPriors> = {
  solidHu: [-20, 60],
  groundGlassHu: [-750, -450],
  textureSdHu: [20, 45],
  groundGlassSdHu: [40, 110],
  fromTumours: [],
};

/** HU statistics of a tumour mask (any voxel order: the mask and CT share it). */
export function tumourHuStats(id: string, ct: VoxelArray, mask: Uint8Array, dims: Vec3, spacingMm: Vec3): TumourHuStats | null {
  const box = maskBox(mask, dims);
  if (!box) return null;
  const grown = growBox(box, [1, 1, 1], dims);
  const bd = boxDims(grown);
  const sub = crop(mask, dims, grown, (k) => new Uint8Array(k));
  const huBox = crop(ct, dims, grown, (k) => new Float32Array(k));
  const d2 = squaredDistanceMm(sub, bd, spacingMm, true);
  const all: number[] = [];
  const inner: number[] = [];
  for (let i = 0; i < sub.length; i++) {
    if (!sub[i]) continue;
    all.push(huBox[i]!);
    if (d2[i]! >= INTERIOR_MM * INTERIOR_MM) inner.push(huBox[i]!);
  }
  const med = median(all);
  const core = inner.length >= 20 ? inner : all;
  const cm = median(core);
  const mad = median(core.map((v) => Math.abs(v - cm)));
  return { id, voxels: all.length, medianHu: med, interiorMedianHu: cm, interiorSdHu: 1.4826 * mad };
}

/** Priors from the cohort's real tumours (solid ones for solid HU and texture, ground-glass ones widen the ground-glass range). */
export function priorsFromTumours(stats: readonly TumourHuStats[]): ImplantPriors {
  const solid = stats.filter((s) => s.interiorMedianHu >= GROUND_GLASS_MEDIAN_HU);
  const glass = stats.filter((s) => s.interiorMedianHu < GROUND_GLASS_MEDIAN_HU);
  const range = (v: number[], pad: number, lo: number, hi: number): [number, number] => [
    Math.max(lo, Math.min(...v) - pad),
    Math.min(hi, Math.max(...v) + pad),
  ];
  const p: ImplantPriors = { ...DEFAULT_PRIORS, fromTumours: stats.map((s) => s.id) };
  if (solid.length > 0) {
    // A solid tumour with a very wide interior spread is mixed (part-solid, necrotic): its median says little.
    const plain = solid.filter((s) => s.interiorSdHu <= MIXED_SD_HU);
    p.solidHu = range((plain.length > 0 ? plain : solid).map((s) => s.interiorMedianHu), 10, -100, 100);
    // Small tumours' interiors are mostly edge: their SD says little about texture.
    const big = solid.filter((s) => s.voxels >= 2000 && s.interiorSdHu <= MIXED_SD_HU);
    if (big.length > 0) p.textureSdHu = range(big.map((s) => s.interiorSdHu), 3, 8, 80);
  }
  if (glass.length > 0) {
    const g = glass.map((s) => s.interiorMedianHu);
    p.groundGlassHu = [Math.max(-850, Math.min(DEFAULT_PRIORS.groundGlassHu[0], Math.min(...g) - 50)), Math.min(-350, Math.max(DEFAULT_PRIORS.groundGlassHu[1], Math.max(...g) + 50))];
    p.groundGlassSdHu = range(glass.map((s) => s.interiorSdHu), 10, 10, 150);
  }
  return p;
}

/** A real scan, on its canonical grid, ready for implants. */
export interface ImplantScan {
  /** HU, canonical voxel order (x fastest). */
  ct: Int16Array;
  dims: Vec3;
  spacingMm: Vec3;
  /** Filled lungs (1 inside), canonical order. */
  lungs: Uint8Array;
  /** The scan's own tumour (1 inside) when labelled, canonical order. */
  realTumour: Uint8Array | null;
  context: FeatureContext;
  /** Squared distance (mm²) to the real tumour on `context.box`; null without one. */
  realTumourD2: Float64Array | null;
  /** Volume of the real tumour, mL (0 without one). */
  realTumourMl: number;
}

/** Builds the placement context: distances to the lung wall and mediastinum, and to the real tumour. */
export function prepareImplantScan(ct: Int16Array, dims: Vec3, spacingMm: Vec3, lungs: Uint8Array, midlineX: number, realTumour: Uint8Array | null): ImplantScan {
  const context = buildFeatureContext({ lungs, found: true, midlineX }, dims, spacingMm);
  let realTumourD2: Float64Array | null = null;
  if (realTumour && context.found) {
    const sub = crop(realTumour, dims, context.box, (k) => new Uint8Array(k));
    if (sub.some((v) => v !== 0)) realTumourD2 = squaredDistanceMm(sub, boxDims(context.box), spacingMm);
  }
  let realVoxels = 0;
  if (realTumour) for (let i = 0; i < realTumour.length; i++) realVoxels += realTumour[i]!;
  const realTumourMl = (realVoxels * spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000;
  return { ct, dims, spacingMm, lungs, realTumour, context, realTumourD2, realTumourMl };
}

/** What was implanted: the plan and where it went. */
export interface ImplantPlan {
  kind: ImplantKind;
  site: ImplantSite;
  tumour: TumourPlan;
  opacity: OpacityPlan | null;
  /** SD of the fine texture, HU. */
  textureSdHu: number;
}

/** The share of each kind, site and collapse among implants. */
const KIND_SHARES: [ImplantKind, number][] = [['solid', 0.5], ['part-solid', 0.2], ['ground-glass', 0.3]];
/** Largest nominal diameters (mm) of ground-glass and part-solid implants. */
const GROUND_GLASS_MAX_MM = 45;
const PART_SOLID_MAX_MM = 55;
const SITE_SHARES: [ImplantSite, number][] = [['intraparenchymal', 0.3], ['pleural', 0.3], ['mediastinal', 0.2], ['hilar', 0.2]];
/** Share of solid and part-solid implants of OPACITY_MIN_MM or more that get consolidated lung against them. */
export const IMPLANT_OPACITY_SHARE = 0.4;
const OPACITY_MIN_MM = 20;
/** Smallest gap (mm) between an implant (spicules included) and the scan's own tumour. */
export const REAL_TUMOUR_GAP_MM = 10;

function pickShare<T>(rng: Rng, shares: [T, number][]): T {
  let u = rng.next();
  for (const [v, w] of shares) {
    if (u < w) return v;
    u -= w;
  }
  return shares[shares.length - 1]![0];
}

/** Tumour design, before placement: everything drawn from the design stream. */
interface Design {
  kind: ImplantKind;
  shape: TumourShape;
  site: ImplantSite;
  diameterMm: number;
  solidHu: number;
  ggoHu: number | null;
  textureSdHu: number;
  texture: TumourPlan['texture'];
  spikes: { dir: Vec; len: number; r: number }[];
  coreFrac: number;
  necrotic: boolean;
  necroticFrac: number;
  necroticDrop: number;
  collapse: boolean;
}

/**
 * Draws a design. Ground glass (pure or around a core) is drawn only large enough to be the
 * primary, larger than the scan's own tumour (`realTumourMl`): an unlabelled ground-glass implant
 * would teach the voxel classifier that ground glass is not tumour. Its diameter is drawn from
 * [floor, floor + width] with the floor at least 1.25 × the real tumour's equivalent diameter
 * (bumps and a shrink to fit can leave the painted lesion below nominal); where that floor is
 * beyond the kind's largest (GROUND_GLASS_MAX_MM, PART_SOLID_MAX_MM), the implant is solid.
 */
function drawDesign(rng: Rng, priors: ImplantPriors, collapse: boolean, realTumourMl: number): Design {
  let kind = pickShare(rng, KIND_SHARES);
  const solidShape = rng.pick(['round', 'lobulated', 'spiculated'] as const);
  let diameterMm = drawDiameter(rng, 10, 80);
  const realMm = 1.25 * 10 * Math.cbrt((6 * realTumourMl) / Math.PI);
  const u = rng.next();
  const within = (lo: number, hi: number, maxMm: number): number | null => {
    const floor = Math.max(lo, realMm);
    return floor > maxMm ? null : floor + u * (Math.max(hi, floor + 8) - floor);
  };
  const partSolidMm = within(25, 45, PART_SOLID_MAX_MM);
  const glassMm = within(12, 35, GROUND_GLASS_MAX_MM);
  if (kind === 'part-solid' && partSolidMm !== null) diameterMm = partSolidMm;
  else if (kind === 'ground-glass' && glassMm !== null) diameterMm = glassMm;
  else kind = 'solid';
  const shape: TumourShape = kind === 'solid' ? solidShape : 'part-solid';
  const site = pickShare(rng, SITE_SHARES);
  const solidHu = rng.uniform(priors.solidHu[0], priors.solidHu[1]);
  const ggoHu = kind === 'solid' ? null : rng.uniform(priors.groundGlassHu[0], priors.groundGlassHu[1]);
  const solidSd = rng.uniform(priors.textureSdHu[0], priors.textureSdHu[1]);
  const glassSd = rng.uniform(priors.groundGlassSdHu[0], priors.groundGlassSdHu[1]);
  const textureSdHu = kind === 'ground-glass' ? glassSd : solidSd;
  const texture = drawTexture(rng, 3, 0.8, [2, 6]);
  const nSpikes = shape === 'spiculated' ? rng.int(8, 24) : 0;
  const spikes = Array.from({ length: nSpikes }, () => ({ dir: unit(rng), len: rng.uniform(0.3, 1.0), r: rng.uniform(0.6, 1.4) }));
  const coreFrac = rng.uniform(0.3, 0.6);
  const necrotic = kind === 'solid' && rng.next() < 0.5;
  const necroticFrac = rng.uniform(0.3, 0.5);
  const necroticDrop = rng.uniform(15, 35);
  const wantsCollapse = rng.next() < IMPLANT_OPACITY_SHARE;
  return {
    kind, shape, site, diameterMm, solidHu, ggoHu, textureSdHu, texture, spikes, coreFrac, necrotic, necroticFrac, necroticDrop,
    collapse: collapse && kind !== 'ground-glass' && wantsCollapse,
  };
}

/** Index of voxel v in a grid of `dims` starting at `origin`, or -1 outside it. */
function flatIndex(v: Vec3, origin: Vec3, dims: Vec3): number {
  const i = v[0] - origin[0], j = v[1] - origin[1], k = v[2] - origin[2];
  if (i < 0 || j < 0 || k < 0 || i >= dims[0] || j >= dims[1] || k >= dims[2]) return -1;
  return i + dims[0] * (j + dims[1] * k);
}

/** Lookups on the placement context, at a point in mm. */
class Placement {
  private readonly bd: Vec3;
  constructor(private readonly s: ImplantScan) {
    this.bd = boxDims(s.context.box);
  }

  /** Voxel (i, j, k) nearest to p. */
  private nearest(p: Vec): Vec3 {
    const sp = this.s.spacingMm;
    return [Math.round(p[0] / sp[0]), Math.round(p[1] / sp[1]), Math.round(p[2] / sp[2])];
  }

  /** Index into the full grid of the voxel nearest to p, or -1 outside the scan. */
  voxel(p: Vec): number {
    return flatIndex(this.nearest(p), [0, 0, 0], this.s.dims);
  }

  /** Index into the context box of the voxel nearest to p, or -1 outside it. */
  boxVoxel(p: Vec): number {
    return flatIndex(this.nearest(p), this.s.context.box.min, this.bd);
  }

  inLung(p: Vec): boolean {
    const v = this.voxel(p);
    return v >= 0 && this.s.lungs[v] === 1;
  }

  hu(p: Vec): number {
    const v = this.voxel(p);
    return v >= 0 ? this.s.ct[v]! : -1024;
  }

  /** Distance (mm) to the real tumour; Infinity without one. */
  realTumourMm(p: Vec): number {
    if (!this.s.realTumourD2) return Infinity;
    const v = this.boxVoxel(p);
    return v >= 0 ? Math.sqrt(this.s.realTumourD2[v]!) : 0;
  }

  /** Random voxel centre (mm) of the lungs, or null after a few misses. */
  randomLungPoint(rng: Rng): Vec | null {
    const b = this.s.context.box;
    const [bx, by, bz] = this.bd;
    for (let t = 0; t < 50; t++) {
      const i = b.min[0] + Math.floor(rng.next() * bx);
      const j = b.min[1] + Math.floor(rng.next() * by);
      const k = b.min[2] + Math.floor(rng.next() * bz);
      const p: Vec = [i * this.s.spacingMm[0], j * this.s.spacingMm[1], k * this.s.spacingMm[2]];
      if (this.inLung(p)) return p;
    }
    return null;
  }

  /** Signed distance to the lung wall (mm, + inside) and distance to the mediastinum (mm) at p. */
  distances(p: Vec): [number, number] {
    const v = this.boxVoxel(p);
    if (v < 0) return [-Infinity, Infinity];
    return [this.s.context.distWallMm[v]!, this.s.context.distMediastinumMm[v]!];
  }

  /** Where p lies in the lungs' extent along y and z, 0..1. */
  relativeYz(p: Vec): [number, number] {
    const c = this.s.context;
    const y = p[1] / this.s.spacingMm[1];
    const z = p[2] / this.s.spacingMm[2];
    return [(y - c.lungY[0]) / Math.max(1, c.lungY[1] - c.lungY[0]), (z - c.lungZ[0]) / Math.max(1, c.lungZ[1] - c.lungZ[0])];
  }
}

/** 26 directions of the unit cube's neighbours, normalised: the probe rays of a lesion's fit. */
const PROBES: Vec[] = (() => {
  const out: Vec[] = [];
  for (let x = -1; x <= 1; x++) for (let y = -1; y <= 1; y++) for (let z = -1; z <= 1; z++) {
    if (x === 0 && y === 0 && z === 0) continue;
    const n = Math.hypot(x, y, z);
    out.push([x / n, y / n, z / n]);
  }
  return out;
})();

/** Lowest share of a lesion's probe points in the lungs, per site. */
const MIN_IN_LUNG: Record<ImplantSite, number> = { intraparenchymal: 1, pleural: 0.75, mediastinal: 0.7, hilar: 0.7 };
/** Highest share of its inner probe points on vessels (HU > -500 before implanting), per site. */
const MAX_ON_VESSELS: Record<ImplantSite, number> = { intraparenchymal: 0.25, pleural: 0.3, mediastinal: 0.6, hilar: 1 };

/** Whether a body at `centre` fits the site: the centre's distances, then probe points along 26 rays. */
function fits(pl: Placement, site: ImplantSite, body: BlobSpec, extent: number, rMin: number): boolean {
  const c = body.centre;
  const [dw, dm] = pl.distances(c);
  if (site === 'intraparenchymal') {
    if (!(dw >= extent + 3)) return false;
  } else {
    // The lesion reaches 10-30 % of its smallest radius through the boundary it meets.
    if (!(dw > 0.7 * rMin && dw < 0.9 * rMin)) return false;
    if (site === 'pleural' && !(dm > dw + 0.5 * extent + 3)) return false;
    if (site !== 'pleural' && !(dm <= dw + 3)) return false;
    if (site !== 'pleural') {
      const [ry, rz] = pl.relativeYz(c);
      const hilar = ry > 0.25 && ry < 0.75 && rz > 0.3 && rz < 0.75;
      if ((site === 'hilar') !== hilar) return false;
    }
  }
  if (pl.realTumourMm(c) < extent + REAL_TUMOUR_GAP_MM) return false;
  let inLung = 0;
  let inner = 0;
  let onVessel = 0;
  for (const d of PROBES) {
    const r = surfaceRadius(body, d);
    for (const f of [0.5, 0.95]) {
      const p: Vec = [c[0] + d[0] * r * f, c[1] + d[1] * r * f, c[2] + d[2] * r * f];
      if (pl.voxel(p) < 0) return false;
      if (pl.inLung(p)) inLung++;
      if (f === 0.5) {
        inner++;
        if (pl.hu(p) > -500) onVessel++;
      }
    }
  }
  return inLung >= MIN_IN_LUNG[site] * PROBES.length * 2 && onVessel <= MAX_ON_VESSELS[site] * inner;
}

/** Random lung points tried per lesion size and site. */
const PLACE_TRIES = 333;

/**
 * Plans one implant: a design from `rng`, then a place in the scan's lungs for it at the drawn
 * site (shrinking it, then trying the other sites, when it does not fit). Null when nothing fits.
 */
export function planImplant(rng: Rng, scan: ImplantScan, priors: ImplantPriors, collapse: boolean): ImplantPlan | null {
  if (!scan.context.found) return null;
  const rDesign = rng.fork();
  const rShape = rng.fork();
  const rPlace = rng.fork();
  const rOpacity = rng.fork();
  const d = drawDesign(rDesign, priors, collapse, scan.realTumourMl);
  const pl = new Placement(scan);
  const sites: ImplantSite[] = [d.site, ...IMPLANT_SITES.filter((s) => s !== d.site)];
  for (const site of sites) {
    let diameter = d.diameterMm;
    for (let shrink = 0; shrink <= 8; shrink++) {
      const R = diameter / 2;
      // Ground glass has an irregular, lobulated outline (real ones are rarely round).
      const body = d.kind === 'ground-glass' ? blob(rShape, R, rShape.int(5, 8), [0.08, 0.22], [2, 6], 0.25) : tumourBody(rShape, d.shape, R);
      const [lo, hi] = blobRadiusBounds(body);
      const spikeMax = d.spikes.length > 0 ? Math.max(...d.spikes.map((s) => s.len)) * R + 2 : 0;
      const extent = hi * R + spikeMax;
      const rMin = lo * R;
      for (let t = 0; t < PLACE_TRIES; t++) {
        const centre = pl.randomLungPoint(rPlace);
        if (!centre) break;
        const placed = at(body, centre);
        if (!fits(pl, site, placed, extent, rMin)) continue;
        const side = centre[0] >= scan.context.midlineX * scan.spacingMm[0] ? 'right' : 'left';
        const rz = pl.relativeYz(centre)[1];
        const lobe: Lobe = side === 'right' ? (rz > 0.6 ? 'RUL' : rz > 0.4 ? 'RML' : 'RLL') : rz > 0.45 ? 'LUL' : 'LLL';
        const tumour = buildTumour(rShape, d, placed, diameter, site, extent, side, lobe);
        const opacity = d.collapse && diameter >= OPACITY_MIN_MM ? planImplantOpacity(rOpacity, pl, tumour, scan) : null;
        return { kind: d.kind, site, tumour, opacity, textureSdHu: d.textureSdHu };
      }
      diameter = Math.max(10, diameter * 0.85);
      if (d.kind === 'ground-glass' || diameter <= 10) break;
    }
  }
  return null;
}

function buildTumour(rShape: Rng, d: Design, body: BlobSpec, diameter: number, site: ImplantSite, extent: number, side: 'right' | 'left', lobe: Lobe): TumourPlan {
  const R = diameter / 2;
  const centre = body.centre;
  let inner: BlobSpec | null = null;
  let innerHu = d.solidHu;
  if (d.kind === 'part-solid') {
    inner = at(blob(rShape, R * d.coreFrac, 3, [0.05, 0.2], [2, 5], 0.2), centre);
  } else if (d.necrotic && diameter > 40) {
    inner = at(blob(rShape, R * d.necroticFrac, 3, [0.05, 0.15], [2, 5], 0.2), centre);
    innerHu = d.solidHu - d.necroticDrop;
  }
  const spicules: TubeSpec[] = d.spikes.map((s) => {
    const rs = surfaceRadius(body, s.dir) * 0.85;
    const a: Vec = [centre[0] + s.dir[0] * rs, centre[1] + s.dir[1] * rs, centre[2] + s.dir[2] * rs];
    const L = s.len * R + 2;
    const b: Vec = [a[0] + s.dir[0] * L, a[1] + s.dir[1] * L, a[2] + s.dir[2] * L];
    return { a, b, r0: Math.min(s.r, 0.15 * R + 0.3), r1: 0.25 };
  });
  return {
    shape: d.shape,
    location: site === 'intraparenchymal' ? 'intraparenchymal' : site === 'pleural' ? 'pleural' : 'mediastinal',
    diameterMm: diameter,
    centre,
    side,
    lobe,
    solidHu: d.solidHu,
    ggoHu: d.ggoHu,
    extentMm: extent,
    body,
    inner,
    innerHu,
    spicules,
    calcification: null,
    texture: d.texture,
  };
}

/** A wedge of consolidated lung against the implant, pointing into the most lung, away from the midline. */
function planImplantOpacity(rng: Rng, pl: Placement, t: TumourPlan, scan: ImplantScan): OpacityPlan | null {
  const lateral = t.centre[0] >= scan.context.midlineX * scan.spacingMm[0] ? 1 : -1;
  return planWedge(rng, t, lateral, (x, y, z) => pl.inLung([x, y, z]));
}

/** The implanted scan (canonical order) and the implant's mask. */
export interface Implanted {
  ct: Int16Array;
  mask: Uint8Array;
  voxels: number;
}

/**
 * A field of noise of SD `sdHu` over a box, blurred in-plane by [1 4 6 4 1] in x and y (grain
 * of about a millimetre, like reconstructed CT and tumour texture; white noise looks like salt and
 * pepper), as a texture: value at a point = the field at its nearest voxel (0 outside the box).
 */
function noiseTexture(rng: Rng, box: Box, spacingMm: Vec3, sdHu: number): Texture {
  const [bx, by, bz] = boxDims(box);
  const plane = bx * by;
  const field = new Float32Array(plane * bz);
  const tmp = new Float32Array(plane);
  // Weights 1 4 6 4 1 (sum 16) per axis: the blurred SD is sqrt(70)/16 per axis of the white noise's.
  const scale = sdHu / (70 / 256);
  const line = new Float32Array(Math.max(bx, by));
  const blur = (get: (q: number) => number, n: number, put: (q: number, v: number) => void): void => {
    for (let q = 0; q < n; q++) line[q] = get(q);
    for (let q = 0; q < n; q++) {
      const a = line[Math.max(0, q - 2)]!, b = line[Math.max(0, q - 1)]!, c = line[q]!;
      const d = line[Math.min(n - 1, q + 1)]!, e = line[Math.min(n - 1, q + 2)]!;
      put(q, (a + 4 * b + 6 * c + 4 * d + e) / 16);
    }
  };
  for (let k = 0; k < bz; k++) {
    for (let i = 0; i < plane; i++) tmp[i] = rng.normal();
    for (let j = 0; j < by; j++) blur((q) => tmp[j * bx + q]!, bx, (q, v) => { tmp[j * bx + q] = v; });
    const off = k * plane;
    for (let i = 0; i < bx; i++) blur((q) => tmp[q * bx + i]!, by, (q, v) => { field[off + q * bx + i] = v * scale; });
  }
  const [sx, sy, sz] = spacingMm;
  return (x, y, z) => {
    const i = Math.round(x / sx) - box.min[0];
    const j = Math.round(y / sy) - box.min[1];
    const k = Math.round(z / sz) - box.min[2];
    if (i < 0 || j < 0 || k < 0 || i >= bx || j >= by || k >= bz) return 0;
    return field[i + bx * (j + by * k)]!;
  };
}

/** Aerated lung, HU: the level ground glass fades to at its rim. */
const LUNG_HU = -850;

/**
 * The texture of ground glass (pure, or a part-solid tumour's halo): the fine grain at 0.6 of the
 * drawn SD, plus patches (value noise on a lattice of 2.5-4 mm, trilinear) at 0.8, plus a fade
 * over the outer 1.5-4 mm of the body from the ground-glass level down to aerated lung (painted as
 * the maximum with the scan, so the rim goes over into the scan's own lung).
 */
function groundGlassTexture(rng: Rng, plan: ImplantPlan, fine: Texture): Texture {
  const t = plan.tumour;
  const cellMm = rng.uniform(2.5, 4);
  const fadeMm = Math.min(rng.uniform(1.5, 4), 0.4 * t.body.radius);
  const sd = plan.textureSdHu;
  const ggo = t.ggoHu ?? -600;
  const reach = t.extentMm + 2 * cellMm;
  const n = Math.ceil((2 * reach) / cellMm) + 2;
  const lattice = new Float32Array(n * n * n);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.normal();
  // Trilinear value noise has an SD of about 0.54 of its lattice's; rescaled to 0.8 of the drawn SD.
  const patchScale = (0.8 * sd) / 0.54;
  const [cx, cy, cz] = t.centre;
  const o = -reach;
  const at = (i: number, j: number, k: number): number => lattice[Math.min(n - 1, i) + n * (Math.min(n - 1, j) + n * Math.min(n - 1, k))]!;
  return (x, y, z) => {
    const fx = Math.max(0, (x - cx - o) / cellMm), fy = Math.max(0, (y - cy - o) / cellMm), fz = Math.max(0, (z - cz - o) / cellMm);
    const i = Math.floor(fx), j = Math.floor(fy), k = Math.floor(fz);
    const u = fx - i, v = fy - j, w = fz - k;
    const c00 = at(i, j, k) * (1 - u) + at(i + 1, j, k) * u;
    const c10 = at(i, j + 1, k) * (1 - u) + at(i + 1, j + 1, k) * u;
    const c01 = at(i, j, k + 1) * (1 - u) + at(i + 1, j, k + 1) * u;
    const c11 = at(i, j + 1, k + 1) * (1 - u) + at(i + 1, j + 1, k + 1) * u;
    const patch = ((c00 * (1 - v) + c10 * v) * (1 - w) + (c01 * (1 - v) + c11 * v) * w) * patchScale;
    const depth = -blobSdf(t.body, x, y, z);
    const f = depth >= fadeMm ? 1 : depth <= 0 ? 0 : smoothstep(0, fadeMm, depth);
    return 0.6 * fine(x, y, z) + patch - (1 - f) * (ggo - LUNG_HU);
  };
}

/**
 * Voxels an implant never changes: the scan's own tumour, bone (and contrast, calcification) at
 * PROTECTED_MIN_HU or more, and padding outside the field of view.
 */
export const PROTECTED_MIN_HU = 300;
const PADDING_HU = -1500;

/** Paints the implant into a copy of the scan. The real tumour's voxels are left exactly as they were. */
export function paintImplant(rng: Rng, scan: ImplantScan, plan: ImplantPlan): Implanted {
  const [nx, ny, nz] = scan.dims;
  const [dx, dy, dz] = scan.spacingMm;
  const plane = nx * ny;
  const ct = scan.ct.slice();
  const mask = new Uint8Array(ct.length);
  const t = plan.tumour;
  const reachMm = Math.max(t.extentMm, plan.opacity ? blobRadiusBounds(plan.opacity.body)[1] * plan.opacity.body.radius : 0) + 2 * Math.max(dx, dy, dz);
  const c = t.centre;
  const lo: Vec3 = [0, 1, 2].map((a) => Math.max(0, Math.floor((c[a]! - reachMm) / scan.spacingMm[a]!))) as Vec3;
  const hi: Vec3 = [0, 1, 2].map((a) => Math.min(scan.dims[a]! - 1, Math.ceil((c[a]! + reachMm) / scan.spacingMm[a]!))) as Vec3;
  const box: Box = { min: lo, max: hi };
  const fine = noiseTexture(rng, box, scan.spacingMm, plan.textureSdHu);
  // Ground glass is patchy, with denser nodular spots of a few mm, and fades into the lung over
  // its rim; the fine grain alone, with a sharp edge, looks like no real ground glass.
  const noise = plan.kind === 'solid' ? fine : groundGlassTexture(rng, plan, fine);
  const shapes: Shape[] = [];
  if (plan.opacity) shapes.push(opacityShape(plan.opacity, noise));
  shapes.push(...tumourShapes(t, noise));
  const ax = Float64Array.from({ length: nx }, (_, i) => i * dx);
  const ay = Float64Array.from({ length: ny }, (_, j) => j * dy);
  const hu = new Float32Array(plane);
  let voxels = 0;
  for (let k = lo[2]; k <= hi[2]; k++) {
    const off = k * plane;
    for (let i = 0; i < plane; i++) hu[i] = scan.ct[off + i]!;
    const ctx: SliceCtx = {
      k, z: k * dz, nx, ny, ax, ay, x0: 0, sx: dx, y0: 0, sy: dy, dx, dy, dz, hu,
      tumour: mask.subarray(off, off + plane),
      lungs: scan.lungs.subarray(off, off + plane),
    };
    for (const s of shapes) if (s.zMax >= ctx.z - 2 * dz && s.zMin <= ctx.z + 2 * dz) s.paint(ctx);
    for (let j = lo[1]; j <= hi[1]; j++) {
      for (let i = lo[0]; i <= hi[0]; i++) {
        const q = j * nx + i;
        const v = off + q;
        const orig = scan.ct[v]!;
        if ((scan.realTumour && scan.realTumour[v]) || orig >= PROTECTED_MIN_HU || orig < PADDING_HU) {
          mask[v] = 0;
          continue;
        }
        const h = hu[q]!;
        ct[v] = Math.floor((h < CT_MIN_HU ? CT_MIN_HU : h > CT_MAX_HU ? CT_MAX_HU : h) + 0.5);
        voxels += mask[v]!;
      }
    }
  }
  return { ct, mask, voxels };
}
