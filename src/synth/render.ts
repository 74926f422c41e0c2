/**
 * Samples a list of shapes on a case grid, one axial slice at a time, adds CT-like noise and
 * quantises to int16 HU. Memory is the outputs plus two slice buffers, whatever the grid size.
 */
import type { Rng } from '../core/random.js';
import type { CaseGrid } from './grid.js';
import type { Shape, SliceCtx } from './shapes.js';

export interface Rendered {
  /** CT in HU, x fastest (index = x + nx * (y + ny * z)). */
  ct: Int16Array;
  /** Tumour mask (0/1): voxel centres inside the tumour (>= 50 % occupancy). */
  tumour: Uint8Array;
  /** Lung envelope (0/1): voxel centres inside the lungs, tumour included. */
  lungEnvelope: Uint8Array;
}

export interface NoiseSpec {
  /** Standard deviation of the (correlated) noise, HU. */
  sdHu: number;
}

/** Lowest and highest HU a scanner stores. */
export const CT_MIN_HU = -1024;
export const CT_MAX_HU = 3071;

/**
 * Uniform 32-bit words for the noise, one per voxel: tens of millions per full-size case. They come
 * from a xorshift128 stream kept in int32 locals, seeded from the case's Rng, because a call to
 * Rng.nextUint32 per voxel (about 40 ns each) would triple the generation time. Same seed, same noise.
 */
function fillWords(state: Int32Array, out: Int32Array): void {
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  for (let i = 0; i < out.length; i++) {
    const t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = d ^ (d >>> 19) ^ (t ^ (t >>> 8));
    out[i] = d;
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
}

/**
 * Zero-mean noise of unit variance, blurred in-plane by [1 2 1]/4 in x and y so neighbouring voxels
 * correlate a little, as reconstructed CT noise does. Each value starts as a sum of four random
 * bytes (Irwin-Hall, close to Gaussian).
 */
function sliceNoise(state: Int32Array, words: Int32Array, nx: number, ny: number, out: Float32Array, tmp: Float32Array): void {
  const n = nx * ny;
  fillWords(state, words);
  for (let i = 0; i < n; i++) {
    const u = words[i]!;
    tmp[i] = (u & 255) + ((u >>> 8) & 255) + ((u >>> 16) & 255) + (u >>> 24) - 510;
  }
  for (let j = 0; j < ny; j++) {
    const r = j * nx;
    for (let i = 0; i < nx; i++) {
      const l = i > 0 ? i - 1 : i;
      const h = i < nx - 1 ? i + 1 : i;
      out[r + i] = tmp[r + l]! + 2 * tmp[r + i]! + tmp[r + h]!;
    }
  }
  // Variance of the byte sum is 4 * (256^2 - 1) / 12; the separable [1 2 1] blur (weights 16 in
  // all) multiplies the standard deviation by 6.
  const scale = 1 / (Math.sqrt((4 * (256 * 256 - 1)) / 12) * 6);
  for (let j = 0; j < ny; j++) {
    const r = j * nx;
    const rl = (j > 0 ? j - 1 : j) * nx;
    const rh = (j < ny - 1 ? j + 1 : j) * nx;
    for (let i = 0; i < nx; i++) tmp[r + i] = (out[rl + i]! + 2 * out[r + i]! + out[rh + i]!) * scale;
  }
  out.set(tmp.subarray(0, n));
}

/** Paints the shapes (in order) into every slice of the grid, then adds noise and quantises. */
export function render(grid: CaseGrid, shapes: readonly Shape[], background: number, noise: NoiseSpec, rng: Rng): Rendered {
  const [nx, ny, nz] = grid.dims;
  const [dx, dy, dz] = grid.spacing;
  const plane = nx * ny;
  const ct = new Int16Array(plane * nz);
  const tumour = new Uint8Array(plane * nz);
  const lungEnvelope = new Uint8Array(plane * nz);
  // Shape indices per slice, in paint order; a shape's partial volume reaches half a voxel's
  // widest extent beyond its z-range.
  const buckets: number[][] = Array.from({ length: nz }, () => []);
  const z0 = grid.az[0]!;
  const pv = 0.5 * (dx + dy + dz);
  for (let s = 0; s < shapes.length; s++) {
    const sh = shapes[s]!;
    const k0 = Math.max(0, Math.floor((sh.zMin - pv - z0) / dz));
    const k1 = Math.min(nz - 1, Math.ceil((sh.zMax + pv - z0) / dz));
    for (let k = k0; k <= k1; k++) buckets[k]!.push(s);
  }
  const hu = new Float32Array(plane);
  const noiseBuf = new Float32Array(plane);
  const tmp = new Float32Array(plane);
  const words = new Int32Array(plane);
  const state = Int32Array.from([0, 0, 0, 0].map(() => rng.nextUint32() | 0));
  if (state.every((v) => v === 0)) state[0] = 1;
  // Field-of-view circle, in grid index units around the grid centre.
  const cxI = (nx - 1) / 2;
  const cyI = (ny - 1) / 2;
  const rI2 = (grid.fovRadiusMm / dx) ** 2;
  const pad = grid.padHu;
  // Noise is laid out in RAS order whatever the storage order, so an LPS case is the exact mirror
  // image of the same case stored RAS (an LPS slice is a RAS slice reversed: both x and y flip).
  const flip = grid.order === 'LPS';
  for (let k = 0; k < nz; k++) {
    hu.fill(background);
    const ctx: SliceCtx = {
      k,
      z: grid.az[k]!,
      nx,
      ny,
      ax: grid.ax,
      ay: grid.ay,
      x0: grid.ax[0]!,
      sx: nx > 1 ? grid.ax[1]! - grid.ax[0]! : dx,
      y0: grid.ay[0]!,
      sy: ny > 1 ? grid.ay[1]! - grid.ay[0]! : dy,
      dx,
      dy,
      dz,
      hu,
      tumour: tumour.subarray(k * plane, (k + 1) * plane),
      lungs: lungEnvelope.subarray(k * plane, (k + 1) * plane),
    };
    for (const s of buckets[k]!) shapes[s]!.paint(ctx);
    sliceNoise(state, words, nx, ny, noiseBuf, tmp);
    const off = k * plane;
    const sd = noise.sdHu;
    for (let j = 0; j < ny; j++) {
      const row = j * nx;
      const yy = (j - cyI) * (j - cyI);
      for (let i = 0; i < nx; i++) {
        if (pad !== null && (i - cxI) * (i - cxI) + yy > rI2) {
          ct[off + row + i] = pad;
          continue;
        }
        let v = hu[row + i]! + sd * noiseBuf[flip ? plane - 1 - row - i : row + i]!;
        v = v < CT_MIN_HU ? CT_MIN_HU : v > CT_MAX_HU ? CT_MAX_HU : v;
        ct[off + row + i] = Math.floor(v + 0.5);
      }
    }
  }
  return { ct, tumour, lungEnvelope };
}
