/**
 * One synthetic case: patient, grid, anatomy, pulmonary trees, lesions, noise, metadata.
 * A case depends only on (seed, index, size), so a cohort of 5 is a prefix of a cohort of 10.
 */
import { Rng } from '../core/random.js';
import type { Volume } from '../core/volume.js';
import { lungSdf, samplePatient, type Patient } from './anatomy.js';
import { buildBody, hilumPoint, type BodyBuild } from './body.js';
import { chooseGrid, type CaseGrid, type SynthSize, type VoxelOrder } from './grid.js';
import { lesionShapes, nearbyVessels, planDistractors, planOpacity, planTumour } from './lesions.js';
import { drawClinical, type SynthMeta } from './meta.js';
import { render } from './render.js';
import { Tube, blobRadiusBounds, type Shape, type Vec } from './shapes.js';
import { growTree, type TreeOptions } from './trees.js';

export interface GenerateOptions {
  size?: SynthSize;
  /** Also return the lung envelope (lungs with the tumour inside them), for checks. */
  withLungEnvelope?: boolean;
  /**
   * Store the voxels in this order instead of the one drawn for the case. Nothing else changes:
   * the LPS case is the exact mirror (x and y reversed) of the RAS one, with matching affines.
   */
  order?: VoxelOrder;
  /**
   * Give some tumours a wedge of collapsed or consolidated lung against them (see `planOpacity`):
   * a harder cohort, where the pipeline over-segments as it does on real collapse. Off by default,
   * and then the case is byte-identical to one made without the option.
   */
  collapse?: boolean;
}

export interface SynthCase {
  /** SYN-0001 for index 0. */
  id: string;
  /** CT in HU (int16), on the case grid, with its affine. */
  ct: Volume<Int16Array>;
  /** Primary tumour mask (0/1), same grid: voxels >= 50 % inside the tumour (spicules included). */
  tumour: Uint8Array;
  /**
   * Lung mask (0/1), same grid: the lungs without the tumour, as in the challenge's lung contours
   * (which are drawn around the tumour, not through it). Vessels and airways inside the lungs are included.
   */
  lungs: Uint8Array;
  /** Lungs with the tumour inside them (only when asked for). */
  lungEnvelope?: Uint8Array;
  meta: SynthMeta;
}

/** The id of case `index` (0-based) of a cohort. */
export function caseId(index: number): string {
  return `SYN-${String(index + 1).padStart(4, '0')}`;
}

/** A 32-bit seed for case `index` of cohort `seed`, well mixed so neighbouring cases are unrelated. */
export function caseSeed(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(index + 1, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function toWorld(grid: CaseGrid, v: Vec): [number, number, number] {
  return [v[0] + grid.shift[0], v[1] + grid.shift[1], v[2] + grid.shift[2]];
}

/** Pulmonary arteries, veins and airways of both lungs, in paint order (airway walls, lumens, vessels). */
function buildTrees(rng: Rng, p: Patient, body: BodyBuild, size: SynthSize): Shape[] {
  const at = (x: number, y: number, z: number): number => lungSdf(p, x, y, z);
  const full = size === 'full';
  const vessel: TreeOptions = {
    rMin: full ? 0.5 : 0.9,
    lengthPerRadius: [2.5, 5],
    maxSegments: full ? 2500 : 800,
    clearance: 1,
    freeLength: 12,
    spread: 0.15,
  };
  const airway: TreeOptions = {
    rMin: full ? 1.0 : 1.4,
    lengthPerRadius: [4, 7],
    maxSegments: full ? 300 : 160,
    clearance: 1.5,
    freeLength: 8,
    spread: 0.3,
  };
  const walls: Shape[] = [];
  const lumens: Shape[] = [];
  const vessels: Shape[] = [];
  const wallOf = (r: number): number => 0.15 * r + 0.3;
  for (const side of [1, -1]) {
    const bronchus = side > 0 ? p.bronchusR : p.bronchusL;
    const lobar: Vec[] = [
      [side * 0.5, 0.1, 0.9],
      [side * 0.3, -0.4, -0.9],
      side > 0 ? [0.5, 0.8, -0.4] : [-0.5, 0.8, -0.2],
    ];
    for (const d of lobar) {
      const r0 = bronchus.r * rng.uniform(0.55, 0.7);
      for (const t of growTree(rng, at, bronchus.end, d, r0, airway)) {
        walls.push(new Tube({ a: t.a, b: t.b, r0: t.r0 + wallOf(t.r0), r1: t.r1 + wallOf(t.r1) }, p.hu.muscle - 10));
        lumens.push(new Tube(t, p.hu.air));
      }
    }
    const hilum = side > 0 ? body.hilum.right : body.hilum.left;
    const arterial: Vec[] = [
      [side * 0.5, 0.05, 1],
      [side * 0.45, -0.35, -1],
      [side * 0.6, 0.8, -0.3],
    ];
    for (const d of arterial) {
      for (const t of growTree(rng, at, hilum, d, rng.uniform(4.5, 6), vessel)) vessels.push(new Tube(t, p.hu.blood));
    }
    for (const up of [1, -1]) {
      const root = hilumPoint(p, side, body.atrium[1] + 8, body.atrium[2] + up * rng.uniform(8, 16), at);
      const rv = rng.uniform(5, 6.5);
      vessels.push(new Tube({ a: body.atrium, b: root, r0: rv + 1, r1: rv }, p.hu.blood));
      const d: Vec = [side * 0.6, up * 0.15, up * 0.75];
      for (const t of growTree(rng, at, root, d, rv, vessel)) vessels.push(new Tube(t, p.hu.blood));
    }
  }
  return [...walls, ...lumens, ...vessels];
}

/** Generates case `index` of the cohort with this seed. */
export function generateCase(seed: number, index: number, opts: GenerateOptions = {}): SynthCase {
  const size = opts.size ?? 'small';
  const rng = new Rng(caseSeed(seed, index));
  // Separate streams, so that e.g. a change in the trees does not move the tumour.
  const rPatient = rng.fork();
  const rGrid = rng.fork();
  const rBody = rng.fork();
  const rTrees = rng.fork();
  const rLesion = rng.fork();
  const rNoise = rng.fork();
  const rMeta = rng.fork();
  const rOpacity = rng.fork();
  const p = samplePatient(rPatient);
  const grid = chooseGrid(rGrid, p, size, opts.order);
  const [dx, , dz] = grid.spacing;
  const lungAt = (x: number, y: number, z: number): number => lungSdf(p, x, y, z);
  const body = buildBody(p, rBody, grid.az[0]!, grid.az[grid.az.length - 1]!, lungAt);
  const trees = buildTrees(rTrees, p, body, size);
  const coarse = size !== 'full';
  const tumour = planTumour(rLesion, p, coarse ? Math.max(5, 2.5 * dx, 1.5 * dz) : 5);
  const nodules = planDistractors(rLesion, p, tumour, coarse ? Math.max(3, 1.5 * dx) : 3);
  const near = nearbyVessels(rLesion, p, tumour);
  const opacity = opts.collapse ? planOpacity(rOpacity, p, tumour) : null;
  const shapes = [...body.shapes, ...trees, ...lesionShapes(p, tumour, nodules, near, opacity)];
  const noiseSd = rNoise.uniform(10, 30);
  const out = render(grid, shapes, p.hu.air, { sdHu: noiseSd }, rNoise);

  const tumourMask = out.tumour;
  const envelope = out.lungEnvelope;
  // The lung mask is made in place over the envelope unless the envelope itself is wanted too.
  const lungs = opts.withLungEnvelope ? new Uint8Array(envelope) : envelope;
  const n = tumourMask.length;
  let tumourVoxels = 0;
  let inLung = 0;
  for (let i = 0; i < n; i++) {
    const t = tumourMask[i]!;
    if (t === 0) continue;
    tumourVoxels++;
    inLung += lungs[i]!;
    lungs[i] = 0;
  }
  const voxelMl = (grid.spacing[0] * grid.spacing[1] * grid.spacing[2]) / 1000;
  const id = caseId(index);
  const meta: SynthMeta = {
    id,
    clinical: drawClinical(rMeta, p.sex, tumour.shape, tumour.location, tumour.diameterMm),
    tumour: {
      shape: tumour.shape,
      location: tumour.location,
      side: tumour.side,
      lobe: tumour.lobe,
      diameterMm: tumour.diameterMm,
      volumeMl: tumourVoxels * voxelMl,
      centreWorldMm: toWorld(grid, tumour.centre),
      solidHu: tumour.solidHu,
      ggoHu: tumour.ggoHu,
      inLungFraction: tumourVoxels > 0 ? inLung / tumourVoxels : 0,
    },
    adjacentOpacity: opacity
      ? { hu: opacity.hu, axis: [...opacity.axis], halfAngleDeg: opacity.halfAngleDeg, reachMm: blobRadiusBounds(opacity.body)[0] * opacity.body.radius }
      : null,
    distractors: nodules.map((d) => ({ centreWorldMm: toWorld(grid, d.centre), diameterMm: d.diameterMm, kind: d.kind, hu: d.hu })),
    voxelOrder: grid.order,
    dims: [...grid.dims],
    spacing: [...grid.spacing],
    noiseSdHu: noiseSd,
    padHu: grid.padHu,
  };
  const result: SynthCase = {
    id,
    ct: { data: out.ct, dims: [...grid.dims], spacing: [...grid.spacing], affine: grid.affine.map((r) => [...r]) as Volume['affine'] },
    tumour: out.tumour,
    lungs,
    meta,
  };
  if (opts.withLungEnvelope) result.lungEnvelope = envelope;
  return result;
}
