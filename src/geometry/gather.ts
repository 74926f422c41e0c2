/**
 * The one inner loop behind exact voxel reordering (orientation) and nearest-neighbour resampling:
 *
 *   out[x + ox * (y + oy * z)] = src[zOff[z] + yOff[y] + xOff[x]]
 *
 * Values are moved as raw bits through unsigned views of their byte width, so every element type
 * goes through one of three monomorphic loops (mixing seven typed-array types in one loop makes V8's
 * element access megamorphic and several times slower) and float bit patterns are kept exactly.
 */
import type { VoxelArray } from '../core/volume.js';

/** Offsets in elements; float64 so 8-byte elements (twice the offsets) past 2^31 words still fit. */
export type OffsetTable = Float64Array;

type Bits = Uint8Array | Uint16Array | Uint32Array;

function bitsView(a: VoxelArray): { bits: Bits; perElement: number } {
  const b = a.BYTES_PER_ELEMENT;
  if (b === 1) return { bits: new Uint8Array(a.buffer, a.byteOffset, a.length), perElement: 1 };
  if (b === 2) return { bits: new Uint16Array(a.buffer, a.byteOffset, a.length), perElement: 1 };
  if (b === 4) return { bits: new Uint32Array(a.buffer, a.byteOffset, a.length), perElement: 1 };
  // 8-byte elements move as two 32-bit halves.
  return { bits: new Uint32Array(a.buffer, a.byteOffset, a.length * 2), perElement: 2 };
}

function gather8(src: Uint8Array, out: Uint8Array, zOff: OffsetTable, yOff: OffsetTable, xOff: OffsetTable): void {
  const ox = xOff.length;
  let o = 0;
  for (let z = 0; z < zOff.length; z++) {
    for (let y = 0; y < yOff.length; y++) {
      const base = zOff[z]! + yOff[y]!;
      for (let x = 0; x < ox; x++) out[o++] = src[base + xOff[x]!]!;
    }
  }
}

function gather16(src: Uint16Array, out: Uint16Array, zOff: OffsetTable, yOff: OffsetTable, xOff: OffsetTable): void {
  const ox = xOff.length;
  let o = 0;
  for (let z = 0; z < zOff.length; z++) {
    for (let y = 0; y < yOff.length; y++) {
      const base = zOff[z]! + yOff[y]!;
      for (let x = 0; x < ox; x++) out[o++] = src[base + xOff[x]!]!;
    }
  }
}

function gather32(src: Uint32Array, out: Uint32Array, zOff: OffsetTable, yOff: OffsetTable, xOff: OffsetTable): void {
  const ox = xOff.length;
  let o = 0;
  for (let z = 0; z < zOff.length; z++) {
    for (let y = 0; y < yOff.length; y++) {
      const base = zOff[z]! + yOff[y]!;
      for (let x = 0; x < ox; x++) out[o++] = src[base + xOff[x]!]!;
    }
  }
}

/** 1 or -1 when the x offsets run in unit steps up or down (whole rows, kept or mirrored), else 0. */
function rowStep(xOff: OffsetTable): 1 | -1 | 0 {
  if (xOff.length < 2) return 1;
  const step = xOff[1]! - xOff[0]!;
  if (step !== 1 && step !== -1) return 0;
  for (let x = 1; x < xOff.length; x++) if (xOff[x]! - xOff[x - 1]! !== step) return 0;
  return step;
}

/**
 * The gather when every row is a contiguous run of the source (x offsets x0 + step · x): native
 * block copies (and a reverse for mirrored rows) instead of one table look-up per element. Reorienting
 * a 512 × 512 × 134 scan from LPS, the usual case, then takes a fraction of the element loop's time.
 */
function gatherRows(src: Bits, out: Bits, zOff: OffsetTable, yOff: OffsetTable, x0: number, ox: number, step: 1 | -1): void {
  let o = 0;
  for (let z = 0; z < zOff.length; z++) {
    for (let y = 0; y < yOff.length; y++) {
      const start = zOff[z]! + yOff[y]! + x0;
      if (step === 1) out.set(src.subarray(start, start + ox), o);
      else {
        out.set(src.subarray(start - ox + 1, start + 1), o);
        out.subarray(o, o + ox).reverse();
      }
      o += ox;
    }
  }
}

/** A new array of `src`'s type and length zOff.length · yOff.length · xOff.length, filled by the gather above. */
export function gather<T extends VoxelArray>(src: T, zOff: OffsetTable, yOff: OffsetTable, xOff: OffsetTable): T {
  const n = zOff.length * yOff.length * xOff.length;
  const out = new (src.constructor as new (n: number) => T)(n);
  const s = bitsView(src);
  const d = bitsView(out);
  let zo = zOff;
  let yo = yOff;
  let xo = xOff;
  if (s.perElement === 2) {
    // Element offsets become 32-bit-word offsets; each x becomes two consecutive words.
    zo = Float64Array.from(zOff, (v) => 2 * v);
    yo = Float64Array.from(yOff, (v) => 2 * v);
    xo = new Float64Array(xOff.length * 2);
    for (let x = 0; x < xOff.length; x++) {
      xo[2 * x] = 2 * xOff[x]!;
      xo[2 * x + 1] = 2 * xOff[x]! + 1;
    }
  }
  const step = rowStep(xo);
  if (step === 1 || (step === -1 && s.perElement === 1)) gatherRows(s.bits, d.bits, zo, yo, xo[0]!, xo.length, step);
  else if (s.bits instanceof Uint8Array) gather8(s.bits, d.bits as Uint8Array, zo, yo, xo);
  else if (s.bits instanceof Uint16Array) gather16(s.bits, d.bits as Uint16Array, zo, yo, xo);
  else gather32(s.bits, d.bits as Uint32Array, zo, yo, xo);
  return out;
}
