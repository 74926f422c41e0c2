/**
 * Binary morphology on 3D masks (x-fastest layout, index = x + nx * (y + ny * z)).
 * Radii and distances are in mm, so anisotropic CT voxels are handled by their spacing.
 */
import type { Vec3 } from './volume.js';

export type Connectivity = 6 | 18 | 26;

function neighbourOffsets(connectivity: Connectivity): Vec3[] {
  const out: Vec3[] = [];
  for (let dz = -1; dz <= 1; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const n = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (n === 0) continue;
        if (connectivity === 6 && n > 1) continue;
        if (connectivity === 18 && n > 2) continue;
        out.push([dx, dy, dz]);
      }
    }
  }
  return out;
}

export interface Components {
  /** 0 = background, 1..count = component number (numbered in scan order). */
  labels: Int32Array;
  count: number;
  /** sizes[c] = voxels in component c (sizes[0] unused, 0). */
  sizes: number[];
}

/** Connected components of the voxels where mask != 0. */
export function labelComponents(mask: ArrayLike<number>, dims: Vec3, connectivity: Connectivity = 26): Components {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const labels = new Int32Array(n);
  const queue = new Int32Array(n);
  const offsets = neighbourOffsets(connectivity);
  const m = offsets.length;
  const ox = Int32Array.from(offsets, (o) => o[0]);
  const oy = Int32Array.from(offsets, (o) => o[1]);
  const oz = Int32Array.from(offsets, (o) => o[2]);
  const delta = Int32Array.from(offsets, ([dx, dy, dz]) => dx + nx * (dy + ny * dz));
  const sizes = [0];
  let count = 0;
  for (let start = 0; start < n; start++) {
    if (mask[start] === 0 || labels[start] !== 0) continue;
    count++;
    labels[start] = count;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    while (head < tail) {
      const v = queue[head++]!;
      const x = v % nx;
      const y = ((v - x) / nx) % ny;
      const z = (v - x - nx * y) / (nx * ny);
      // Away from the faces every neighbour exists: flat offsets, no bounds checks. Membership,
      // and so the labels, do not depend on the order neighbours are visited in.
      const inner = x > 0 && y > 0 && z > 0 && x < nx - 1 && y < ny - 1 && z < nz - 1;
      for (let k = 0; k < m; k++) {
        let w: number;
        if (inner) w = v + delta[k]!;
        else {
          const xx = x + ox[k]!;
          const yy = y + oy[k]!;
          const zz = z + oz[k]!;
          if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
          w = xx + nx * (yy + ny * zz);
        }
        if (mask[w] !== 0 && labels[w] === 0) {
          labels[w] = count;
          queue[tail++] = w;
        }
      }
    }
    sizes.push(tail);
  }
  return { labels, count, sizes };
}

/** Mask of the voxels whose component label is in `keep`. */
export function selectComponents(labels: Int32Array, keep: Iterable<number>): Uint8Array {
  const wanted = new Set(keep);
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) if (labels[i]! > 0 && wanted.has(labels[i]!)) out[i] = 1;
  return out;
}

/** The largest connected component (empty mask stays empty). */
export function largestComponent(mask: ArrayLike<number>, dims: Vec3, connectivity: Connectivity = 26): Uint8Array {
  const c = labelComponents(mask, dims, connectivity);
  if (c.count === 0) return new Uint8Array(c.labels.length);
  let best = 1;
  for (let i = 2; i <= c.count; i++) if (c.sizes[i]! > c.sizes[best]!) best = i;
  return selectComponents(c.labels, [best]);
}

/**
 * Fills enclosed holes in 3D: background not 6-connected to the volume's border becomes foreground.
 */
export function fillHoles(mask: ArrayLike<number>, dims: Vec3): Uint8Array {
  return fillEnclosed(mask, dims, true);
}

/** `zIsBorder` false: the first and last slices do not count as open border (a 2D fill when nz = 1). */
function fillEnclosed(mask: ArrayLike<number>, dims: Vec3, zIsBorder: boolean): Uint8Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const outside = new Uint8Array(n);
  const queue = new Int32Array(n);
  let tail = 0;
  const seed = (i: number): void => {
    if (mask[i] === 0 && outside[i] === 0) {
      outside[i] = 1;
      queue[tail++] = i;
    }
  };
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        if (x === 0 || y === 0 || x === nx - 1 || y === ny - 1 || (zIsBorder && (z === 0 || z === nz - 1))) seed(x + nx * (y + ny * z));
      }
    }
  }
  const sy = nx;
  const sz = nx * ny;
  let head = 0;
  while (head < tail) {
    const v = queue[head++]!;
    const x = v % nx;
    const y = ((v - x) / nx) % ny;
    const z = (v - x - nx * y) / sz;
    if (x > 0) seed(v - 1);
    if (x < nx - 1) seed(v + 1);
    if (y > 0) seed(v - sy);
    if (y < ny - 1) seed(v + sy);
    if (z > 0) seed(v - sz);
    if (z < nz - 1) seed(v + sz);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = outside[i] ? 0 : 1;
  return out;
}

/** Fills holes in each axial (z) slice separately, in 2D. */
export function fillHolesPerSlice(mask: ArrayLike<number>, dims: Vec3): Uint8Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const out = new Uint8Array(plane * nz);
  for (let z = 0; z < nz; z++) {
    const slice = new Uint8Array(plane);
    for (let i = 0; i < plane; i++) slice[i] = mask[z * plane + i] ? 1 : 0;
    out.set(fillEnclosed(slice, [nx, ny, 1], false), z * plane);
  }
  return out;
}

/** Squared distance (mm²) standing for 'no site at all'. */
const BIG = 1e30;

/**
 * Lower envelope of parabolas along one line (Felzenszwalb & Huttenlocher): f holds squared
 * distances in mm² (BIG = no site), `step` the sample spacing in mm; the result goes to d. `hv`
 * keeps f[p] + step² p² beside each parabola p on the stack, so an intersection costs one
 * subtraction and one division (the same operations, in the same order, as computing it afresh).
 */
function envelope(f: Float64Array, d: Float64Array, n: number, step: number, v: Int32Array, zb: Float64Array, hv: Float64Array): void {
  const s2 = step * step;
  const twoS2 = 2 * s2;
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q]!;
    if (fq >= BIG) continue;
    const hq = fq + s2 * q * q;
    if (k < 0) {
      k = 0;
      v[0] = q;
      hv[0] = hq;
      zb[0] = -Infinity;
      zb[1] = Infinity;
      continue;
    }
    let s = 0;
    for (;;) {
      s = (hq - hv[k]!) / (twoS2 * (q - v[k]!));
      if (s <= zb[k]! && k > 0) k--;
      else break;
    }
    if (s <= zb[k]!) {
      v[0] = q;
      hv[0] = hq;
      zb[0] = -Infinity;
      zb[1] = Infinity;
      continue;
    }
    k++;
    v[k] = q;
    hv[k] = hq;
    zb[k] = s;
    zb[k + 1] = Infinity;
  }
  if (k < 0) {
    d.fill(BIG, 0, n);
    return;
  }
  k = 0;
  let p = v[0]!;
  let fp = f[p]!;
  let next = zb[1]!;
  for (let q = 0; q < n; q++) {
    if (next < q) {
      do k++;
      while (zb[k + 1]! < q);
      p = v[k]!;
      fp = f[p]!;
      next = zb[k + 1]!;
    }
    const dq = (q - p) * step;
    d[q] = dq * dq + fp;
  }
}

/** One line of `len` samples `stride` apart from `start` in g, through the envelope (capped). */
function envelopeLine(
  g: Float64Array,
  start: number,
  len: number,
  stride: number,
  stepMm: number,
  capMm2: number,
  f: Float64Array,
  d: Float64Array,
  v: Int32Array,
  zb: Float64Array,
  hv: Float64Array,
): void {
  let any = false;
  for (let q = 0, i = start; q < len; q++, i += stride) {
    const val = g[i]!;
    f[q] = val;
    if (val < BIG) any = true;
  }
  if (!any) return;
  envelope(f, d, len, stepMm, v, zb, hv);
  for (let q = 0, i = start; q < len; q++, i += stride) {
    const dq = d[q]!;
    g[i] = dq > capMm2 ? BIG : dq;
  }
}

/**
 * Squared Euclidean distance (mm²) from every voxel to the nearest voxel where `sites` != 0
 * (`invert`: where sites == 0); BIG (1e30) where there is none. Exact (separable EDT): the x pass
 * is a two-sweep scan of the binary line, y and z take lower envelopes of parabolas. `out`, when
 * given (at least as long as the volume), receives the result. With `capMm2`, distances beyond
 * the cap come out as BIG: a pass's value only grows in later passes, so dropping it early is
 * exact for thresholds at or below the cap, and the envelopes skip those samples.
 */
export function squaredDistanceMm(
  sites: Uint8Array,
  dims: Vec3,
  spacingMm: Vec3,
  invert = false,
  out?: Float64Array,
  capMm2 = Infinity,
): Float64Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const n = sites.length;
  const g = out ? out.subarray(0, n) : new Float64Array(n);
  const sx = spacingMm[0];
  // Squared mm of a gap of k voxels along x (capped), computed as the per-voxel formula would.
  const gapMm2 = new Float64Array(nx + 1);
  for (let k = 0; k <= nx; k++) {
    const d2 = k * sx * k * sx;
    gapMm2[k] = d2 > capMm2 ? BIG : d2;
  }
  const site = invert ? 0 : 1;
  const ahead = new Int32Array(nx);
  for (let row = 0; row < ny * nz; row++) {
    const base = row * nx;
    // Gap to the nearest site at or before x (-1: none yet), then the nearer of it and the one after.
    let last = -1;
    for (let x = 0; x < nx; x++) {
      if ((sites[base + x] ? 1 : 0) === site) last = x;
      ahead[x] = last < 0 ? -1 : x - last;
    }
    if (last < 0) {
      g.fill(BIG, base, base + nx);
      continue;
    }
    last = -1;
    for (let x = nx - 1; x >= 0; x--) {
      if ((sites[base + x] ? 1 : 0) === site) last = x;
      const a = ahead[x]!;
      const b = last < 0 ? -1 : last - x;
      g[base + x] = gapMm2[a < 0 ? b : b < 0 || a < b ? a : b]!;
    }
  }
  const maxLen = Math.max(ny, nz);
  const f = new Float64Array(maxLen);
  const d = new Float64Array(maxLen);
  const v = new Int32Array(maxLen);
  const zb = new Float64Array(maxLen + 1);
  const hv = new Float64Array(maxLen);
  // Lines along y (stride nx) within one slice, then along z (stride plane): a column's samples
  // share their cache lines with the next seven columns', which the next lines read.
  if (ny > 1) {
    for (let z = 0; z < nz; z++) {
      for (let start = z * plane; start < z * plane + nx; start++) envelopeLine(g, start, ny, nx, spacingMm[1], capMm2, f, d, v, zb, hv);
    }
  }
  if (nz > 1) for (let start = 0; start < plane; start++) envelopeLine(g, start, nz, plane, spacingMm[2], capMm2, f, d, v, zb, hv);
  return g;
}

/**
 * Euclidean distance in mm from every voxel to the nearest voxel where `sites` != 0
 * (0 on the sites themselves). Returns Infinity everywhere when there are no sites.
 */
export function distanceToMm(sites: ArrayLike<number>, dims: Vec3, spacingMm: Vec3): Float32Array {
  return distancesFromSquared(squaredDistanceMm(toBinary(sites), dims, spacingMm));
}

/** Distances in mm (float32; Infinity where there was no site) from squaredDistanceMm's output. */
function distancesFromSquared(d2: Float64Array): Float32Array {
  const out = new Float32Array(d2.length);
  for (let i = 0; i < d2.length; i++) out[i] = d2[i]! >= BIG ? Infinity : Math.sqrt(d2[i]!);
  return out;
}

/** Voxels within `radiusMm` of the mask (a ball-shaped dilation in mm). */
export function dilateMm(mask: ArrayLike<number>, dims: Vec3, spacingMm: Vec3, radiusMm: number): Uint8Array {
  const d2 = squaredDistanceWithin(toBinary(mask), dims, spacingMm, false, radiusMm);
  const out = new Uint8Array(d2.length);
  for (let i = 0; i < d2.length; i++) out[i] = withinRadius(d2[i]!, radiusMm) ? 1 : 0;
  return out;
}

function toBinary(mask: ArrayLike<number>): Uint8Array {
  return mask instanceof Uint8Array ? mask : Uint8Array.from(mask as ArrayLike<number>, (v) => (v ? 1 : 0));
}

/**
 * squaredDistanceMm capped just above `radiusMm`, for masks that only compare distances with it:
 * the envelopes skip what lies beyond, which is most of a box around a small object.
 */
function squaredDistanceWithin(sites: Uint8Array, dims: Vec3, spacingMm: Vec3, invert: boolean, radiusMm: number): Float64Array {
  // float32 rounding of the distance (distanceToMm's values) moves it by a relative 6e-8 at most,
  // so nothing beyond (1 + 1e-6) · radius can compare as within: the cap changes no result.
  const cap = Number.isFinite(radiusMm) && radiusMm >= 0 ? (radiusMm * (1 + 1e-6)) ** 2 : Infinity;
  return squaredDistanceMm(sites, dims, spacingMm, invert, undefined, cap);
}

/** Whether a squared distance (mm²) is within `radiusMm`, compared as distanceToMm's float32 distance would be. */
function withinRadius(d2: number, radiusMm: number): boolean {
  return d2 < BIG && Math.fround(Math.sqrt(d2)) <= radiusMm;
}

/**
 * Distance in mm from every voxel to the nearest background voxel (mask == 0): a mask voxel's
 * depth inside the mask; 0 on the background, Infinity everywhere when there is no background.
 */
export function depthInsideMm(mask: ArrayLike<number>, dims: Vec3, spacingMm: Vec3): Float32Array {
  // Sites where the mask is 0 (invert), as erodeMm measures them.
  return distancesFromSquared(squaredDistanceMm(toBinary(mask), dims, spacingMm, true));
}

/** The mask voxels deeper than `radiusMm` (depthInsideMm), from a depth map already computed. */
export function erodeByDepth(mask: ArrayLike<number>, depthMm: Float32Array, radiusMm: number): Uint8Array {
  const out = new Uint8Array(depthMm.length);
  for (let i = 0; i < out.length; i++) out[i] = mask[i] && depthMm[i]! > radiusMm ? 1 : 0;
  return out;
}

/** Voxels of the mask farther than `radiusMm` from any background voxel (ball-shaped erosion in mm). */
export function erodeMm(mask: ArrayLike<number>, dims: Vec3, spacingMm: Vec3, radiusMm: number): Uint8Array {
  const m = toBinary(mask);
  // Sites where the mask is 0: a voxel's distance to them is its depth (BIG: no background).
  const d2 = squaredDistanceWithin(m, dims, spacingMm, true, radiusMm);
  const out = new Uint8Array(d2.length);
  for (let i = 0; i < out.length; i++) out[i] = m[i] && !withinRadius(d2[i]!, radiusMm) ? 1 : 0;
  return out;
}

export function openMm(mask: ArrayLike<number>, dims: Vec3, spacingMm: Vec3, radiusMm: number): Uint8Array {
  return dilateMm(erodeMm(mask, dims, spacingMm, radiusMm), dims, spacingMm, radiusMm);
}

export function closeMm(mask: ArrayLike<number>, dims: Vec3, spacingMm: Vec3, radiusMm: number): Uint8Array {
  return erodeMm(dilateMm(mask, dims, spacingMm, radiusMm), dims, spacingMm, radiusMm);
}

/** Inclusive voxel bounding box [min, max] of the non-zero voxels, or null for an empty mask. */
export function boundingBox(mask: ArrayLike<number>, dims: Vec3): { min: Vec3; max: Vec3 } | null {
  const [nx, ny, nz] = dims;
  const min: Vec3 = [nx, ny, nz];
  const max: Vec3 = [-1, -1, -1];
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!mask[i]) continue;
        if (x < min[0]) min[0] = x;
        if (x > max[0]) max[0] = x;
        if (y < min[1]) min[1] = y;
        if (y > max[1]) max[1] = y;
        if (z < min[2]) min[2] = z;
        if (z > max[2]) max[2] = z;
      }
    }
  }
  return max[0] < 0 ? null : { min, max };
}
