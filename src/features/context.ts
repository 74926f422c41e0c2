/**
 * Per-scan context for the voxel features: where a voxel sits relative to the lungs. Computed once
 * per scan from the lung finder's result, then looked up per voxel.
 *
 * Assumes the canonical RAS voxel order the pipeline works in (x towards the patient's right,
 * y anterior, z superior); on other orders the side and front/back features are mirrored.
 * Distance maps are kept only on the lungs' box grown by CONTEXT_MARGIN_MM.
 */
import type { Vec3 } from '../core/volume.js';
import type { ContextKey } from './catalog.js';
import type { LungResult } from './lungs.js';
import { boxDims, crop, growBox, marginVox, maskBox, type Box } from './masks.js';
import { squaredDistanceMm } from '../core/morphology.js';

/** Margin (mm) around the lungs' box on which distance maps are stored; outside it dist_lung_wall_mm is clipped. */
export const CONTEXT_MARGIN_MM = 10;

export interface FeatureContext {
  dims: Vec3;
  spacingMm: Vec3;
  found: boolean;
  /** Filled lungs (the eligible region's outer limit). */
  lungs: Uint8Array;
  /** Box on which the maps are defined (empty box when no lungs). */
  box: Box;
  /** Signed distance to the lung surface (mm), on the box; + inside, clipped at -CONTEXT_MARGIN_MM. */
  distWallMm: Float32Array;
  /** Distance to the mediastinum (mm), on the box. */
  distMediastinumMm: Float32Array;
  midlineX: number;
  /** Lung extent (voxels, inclusive) along y and z; half-width (voxels) from the midline. */
  lungY: [number, number];
  lungZ: [number, number];
  halfWidthVox: number;
  /** Centroid (mm, voxel coordinates × spacing) and equivalent-sphere radius (mm) of the lung on each side: [left, right]. */
  sideCentroidMm: [Vec3, Vec3];
  sideRadiusMm: [number, number];
}

/**
 * Builds the context from the lung finder's result (or a lung mask with found = true, e.g. a
 * reference mask). With no lungs, every context feature takes its documented fallback.
 */
export function buildFeatureContext(lung: Pick<LungResult, 'lungs' | 'found' | 'midlineX'>, dims: Vec3, spacingMm: Vec3): FeatureContext {
  const [nx, ny] = dims;
  const lungs = lung.lungs;
  const bbox = lung.found ? maskBox(lungs, dims) : null;
  const none: FeatureContext = {
    dims,
    spacingMm,
    found: false,
    lungs,
    box: { min: [0, 0, 0], max: [-1, -1, -1] },
    distWallMm: new Float32Array(0),
    distMediastinumMm: new Float32Array(0),
    midlineX: lung.midlineX,
    lungY: [0, 0],
    lungZ: [0, 0],
    halfWidthVox: 1,
    sideCentroidMm: [[0, 0, 0], [0, 0, 0]],
    sideRadiusMm: [1, 1],
  };
  if (!bbox) return none;
  const mid = lung.midlineX;
  const box = growBox(bbox, marginVox(CONTEXT_MARGIN_MM, spacingMm), dims);
  const bd = boxDims(box);
  const sub = crop(lungs, dims, box, (k) => new Uint8Array(k));
  const bn = sub.length;
  const plane = bd[0] * bd[1];

  // Lung surface voxels: lung voxels with a 6-neighbour outside the lungs.
  const surface = new Uint8Array(bn);
  for (let z = 0, i = 0; z < bd[2]; z++) {
    for (let y = 0; y < bd[1]; y++) {
      for (let x = 0; x < bd[0]; x++, i++) {
        if (!sub[i]) continue;
        if (
          (x > 0 && !sub[i - 1]) ||
          (x < bd[0] - 1 && !sub[i + 1]) ||
          (y > 0 && !sub[i - bd[0]]) ||
          (y < bd[1] - 1 && !sub[i + bd[0]]) ||
          (z > 0 && !sub[i - plane]) ||
          (z < bd[2] - 1 && !sub[i + plane])
        ) {
          surface[i] = 1;
        }
      }
    }
  }
  // Both distance maps go through one float64 buffer (fresh big arrays cost their page faults).
  const d2 = squaredDistanceMm(surface, bd, spacingMm);
  const distWallMm = new Float32Array(bn);
  for (let i = 0; i < bn; i++) {
    const d = Math.sqrt(d2[i]!);
    distWallMm[i] = sub[i] ? d : Math.max(-CONTEXT_MARGIN_MM, -d);
  }

  // Mediastinum: in each row, the voxels between the innermost lung voxel left of the midline and
  // the innermost one right of it. Without such rows (one lung), the midline plane stands in.
  const midLocal = mid - box.min[0];
  const medi = new Uint8Array(bn);
  let mediCount = 0;
  for (let row = 0; row < bd[1] * bd[2]; row++) {
    const base = row * bd[0];
    let a = -1;
    let b = -1;
    for (let x = 0; x < bd[0]; x++) {
      if (!sub[base + x]) continue;
      if (x < midLocal) a = x;
      else if (b < 0) b = x;
    }
    if (a >= 0 && b >= 0 && b - a > 1) {
      for (let x = a + 1; x < b; x++) medi[base + x] = 1;
      mediCount += b - a - 1;
    }
  }
  if (mediCount === 0) {
    const xm = Math.min(bd[0] - 1, Math.max(0, Math.round(midLocal)));
    for (let row = 0; row < bd[1] * bd[2]; row++) medi[row * bd[0] + xm] = 1;
  }
  const dm2 = squaredDistanceMm(medi, bd, spacingMm, false, d2);
  const distMediastinumMm = new Float32Array(bn);
  for (let i = 0; i < bn; i++) distMediastinumMm[i] = Math.sqrt(dm2[i]!);

  // Sides: x < midline is the patient's left in RAS order.
  const cnt = [0, 0];
  const sum: [Vec3, Vec3] = [[0, 0, 0], [0, 0, 0]];
  for (let z = 0, i = 0; z < dims[2]; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!lungs[i]) continue;
        const s = x > mid ? 1 : 0;
        cnt[s]!++;
        sum[s]![0] += x;
        sum[s]![1] += y;
        sum[s]![2] += z;
      }
    }
  }
  const total = cnt[0]! + cnt[1]!;
  const voxelMm3 = spacingMm[0] * spacingMm[1] * spacingMm[2];
  const centroid = (s: number): Vec3 => {
    const c = cnt[s]! > 0 ? cnt[s]! : total;
    const v = cnt[s]! > 0 ? sum[s]! : ([sum[0]![0] + sum[1]![0], sum[0]![1] + sum[1]![1], sum[0]![2] + sum[1]![2]] as Vec3);
    return [(v[0] / c) * spacingMm[0], (v[1] / c) * spacingMm[1], (v[2] / c) * spacingMm[2]];
  };
  const radius = (s: number): number => Math.cbrt((3 * (cnt[s]! > 0 ? cnt[s]! : total) * voxelMm3) / (4 * Math.PI));
  return {
    dims,
    spacingMm,
    found: true,
    lungs,
    box,
    distWallMm,
    distMediastinumMm,
    midlineX: mid,
    lungY: [bbox.min[1], bbox.max[1]],
    lungZ: [bbox.min[2], bbox.max[2]],
    halfWidthVox: Math.max(1, mid - bbox.min[0], bbox.max[0] - mid),
    sideCentroidMm: [centroid(0), centroid(1)],
    sideRadiusMm: [radius(0), radius(1)],
  };
}

function rel(v: number, lo: number, hi: number): number {
  return hi > lo ? (v - lo) / (hi - lo) : 0.5;
}

/**
 * Context feature `key` at voxel (x, y, z). Outside the map box, dist_lung_wall_mm is the clip
 * value (the box's margin guarantees it) and dist_mediastinum_mm is the map at the nearest box
 * voxel plus the distance to it (an upper bound, exact enough that far from the lungs).
 */
export function contextFeatureAt(ctx: FeatureContext, key: ContextKey, x: number, y: number, z: number): number {
  if (!ctx.found) {
    switch (key) {
      case 'pos_z_rel':
      case 'pos_ap_rel':
      case 'pos_lat_rel':
      case 'side_right':
        return 0.5;
      default:
        return 0;
    }
  }
  const sp = ctx.spacingMm;
  switch (key) {
    case 'lungs_found':
      return 1;
    case 'pos_z_rel':
      return rel(z, ctx.lungZ[0], ctx.lungZ[1]);
    case 'pos_ap_rel':
      return rel(y, ctx.lungY[0], ctx.lungY[1]);
    case 'pos_lat_rel':
      return Math.abs(x - ctx.midlineX) / ctx.halfWidthVox;
    case 'side_right':
      return x > ctx.midlineX ? 1 : 0;
    case 'dist_lung_centre_rel': {
      const s = x > ctx.midlineX ? 1 : 0;
      const c = ctx.sideCentroidMm[s];
      const dx = x * sp[0] - c[0];
      const dy = y * sp[1] - c[1];
      const dz = z * sp[2] - c[2];
      return Math.sqrt(dx * dx + dy * dy + dz * dz) / ctx.sideRadiusMm[s];
    }
    case 'dist_lung_wall_mm':
    case 'dist_mediastinum_mm': {
      const b = ctx.box;
      const cx = Math.min(b.max[0], Math.max(b.min[0], x));
      const cy = Math.min(b.max[1], Math.max(b.min[1], y));
      const cz = Math.min(b.max[2], Math.max(b.min[2], z));
      const inside = cx === x && cy === y && cz === z;
      if (key === 'dist_lung_wall_mm' && !inside) return -CONTEXT_MARGIN_MM;
      const bd = boxDims(b);
      const i = cx - b.min[0] + bd[0] * (cy - b.min[1] + bd[1] * (cz - b.min[2]));
      if (key === 'dist_lung_wall_mm') return ctx.distWallMm[i]!;
      const ex = (x - cx) * sp[0];
      const ey = (y - cy) * sp[1];
      const ez = (z - cz) * sp[2];
      return ctx.distMediastinumMm[i]! + Math.sqrt(ex * ex + ey * ey + ez * ez);
    }
  }
}
