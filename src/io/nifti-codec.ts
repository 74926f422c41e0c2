/**
 * NIfTI-1/2 decoding and encoding in memory, with no file or zlib access (the web page uses it as
 * it is; src/io/nifti.ts adds files and gzip for Node). Reading (header fields through nifti-reader-js, validated and corrected) and writing
 * (our own: nifti-reader-js only reads).
 *
 * Voxel order is NIfTI's: x fastest, then y, then z (index = x + nx * (y + ny * z)).
 * Affines map voxel indices (i, j, k, 1) to world mm (RAS+), row-major 4x4.
 *
 * Where nifti-reader-js 0.8.0 is wrong we do not use it:
 *  - its 64-bit integer reads are wrong for big-endian files (words swapped) and for negative
 *    values, so every NIfTI-2 int64 field we use (dim, vox_offset) is re-read here with BigInt;
 *  - its `readHeader` tries gzip when *either* magic byte matches, inflates whole files, and parses
 *    extensions in ways that throw on valid files, so we detect gzip ourselves and hand it only the
 *    fixed-size header (348 / 540 bytes), never the extensions;
 *  - its affine prefers the qform when qform_code > sform_code, uses pixdim[0] itself as qfac and
 *    gets NaN quaternions from float32 rounding, so affines are computed here (sform, then qform,
 *    then pixdim, as niftilib and nibabel do);
 *  - `readImage` copies the voxel bytes and reads past dim[0]; we view the decompressed buffer.
 */
import * as nifti from 'nifti-reader-js';
import { InputError } from '../core/errors.js';
import { det3, nearestOrthogonal, voxelSizes } from '../geometry/affine.js';
import type { Mat4, NiftiSource, Vec3, Volume, VoxelArray } from '../core/volume.js';

/** NIfTI datatype codes we read and write. */
export const DT_UINT8 = 2;

export const DT_INT16 = 4;

export const DT_INT32 = 8;

export const DT_FLOAT32 = 16;

export const DT_FLOAT64 = 64;

export const DT_INT8 = 256;

export const DT_UINT16 = 512;

type VoxelCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

interface Dtype {
  code: number;
  name: string;
  bytes: number;
  ctor: VoxelCtor;
  isFloat: boolean;
}

const DTYPES: readonly Dtype[] = [
  { code: DT_UINT8, name: 'uint8', bytes: 1, ctor: Uint8Array, isFloat: false },
  { code: DT_INT8, name: 'int8', bytes: 1, ctor: Int8Array, isFloat: false },
  { code: DT_INT16, name: 'int16', bytes: 2, ctor: Int16Array, isFloat: false },
  { code: DT_UINT16, name: 'uint16', bytes: 2, ctor: Uint16Array, isFloat: false },
  { code: DT_INT32, name: 'int32', bytes: 4, ctor: Int32Array, isFloat: false },
  { code: DT_FLOAT32, name: 'float32', bytes: 4, ctor: Float32Array, isFloat: true },
  { code: DT_FLOAT64, name: 'float64', bytes: 8, ctor: Float64Array, isFloat: true },
];

/** Names of the datatypes we refuse, for a clearer message than a bare code. */
const UNSUPPORTED_DTYPES: ReadonlyMap<number, string> = new Map([
  [0, 'none'], [1, 'binary'], [32, 'complex64'], [128, 'rgb24'], [768, 'uint32'], [1024, 'int64'],
  [1280, 'uint64'], [1536, 'float128'], [1792, 'complex128'], [2048, 'complex256'], [2304, 'rgba32'],
]);

/** Refuse files whose voxel data alone would exceed this (bytes), before allocating anything. */
export const MAX_VOXEL_BYTES = 2 ** 31;

/** Voxel sizes (mm) outside this range are refused as a corrupt header. */
export const MIN_VOXEL_MM = 1e-3;

export const MAX_VOXEL_MM = 1e3;

/** Refuse files claiming more voxels than this. */
export const MAX_VOXELS = 2 ** 31;

const NIFTI1_HEADER_BYTES = 348;

const NIFTI2_HEADER_BYTES = 540;

/** Enough decompressed bytes to hold either header. */
export const HEADER_PROBE_BYTES = 544;

/** How much more than the header asks for a .gz may inflate to before we call it wrong (bytes). */
export const GZIP_TRAILING_SLACK = 64 * 1024 * 1024;

function dtypeByCode(code: number): Dtype | undefined {
  return DTYPES.find((d) => d.code === code);
}

export function dtypeOfArray(data: VoxelArray): Dtype {
  for (const d of DTYPES) if (data instanceof d.ctor) return d;
  throw new Error(`unsupported voxel array ${Object.prototype.toString.call(data)}`);
}

/** Affine from the quaternion representation (NIfTI-1 standard, method 2). */
export function qformAffine(
  s: Pick<NiftiSource, 'quaternB' | 'quaternC' | 'quaternD' | 'qoffsetX' | 'qoffsetY' | 'qoffsetZ' | 'pixdim'>,
): Mat4 {
  let b = s.quaternB;
  let c = s.quaternC;
  let d = s.quaternD;
  const bcd = b * b + c * c + d * d;
  let a = 1 - bcd;
  // float32 storage can push b²+c²+d² a hair over 1: treat as a 180° rotation and renormalise
  // (as niftilib does) rather than taking the square root of a negative number.
  if (a < 1e-7) {
    const inv = 1 / Math.sqrt(bcd);
    b *= inv;
    c *= inv;
    d *= inv;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const qfac = (s.pixdim[0] ?? 1) < 0 ? -1 : 1;
  const dx = s.pixdim[1] ?? 1;
  const dy = s.pixdim[2] ?? 1;
  const dz = (s.pixdim[3] ?? 1) * qfac;
  // `+ 0` turns the -0 that products with a = 0 produce into 0, so equal affines compare equal.
  return [
    [(a * a + b * b - c * c - d * d) * dx + 0, 2 * (b * c - a * d) * dy + 0, 2 * (b * d + a * c) * dz + 0, s.qoffsetX],
    [2 * (b * c + a * d) * dx + 0, (a * a + c * c - b * b - d * d) * dy + 0, 2 * (c * d - a * b) * dz + 0, s.qoffsetY],
    [2 * (b * d - a * c) * dx + 0, 2 * (c * d + a * b) * dy + 0, (a * a + d * d - c * c - b * b) * dz + 0, s.qoffsetZ],
    [0, 0, 0, 1],
  ];
}

/** The affine a reader should use: sform (code > 0), else qform (code > 0), else diag(pixdim) (method 1). */
export function bestAffine(s: NiftiSource): Mat4 {
  if (s.sformCode > 0) {
    return [[...s.srow[0]], [...s.srow[1]], [...s.srow[2]], [0, 0, 0, 1]] as Mat4;
  }
  if (s.qformCode > 0) return qformAffine(s);
  return [
    [s.pixdim[1]!, 0, 0, 0],
    [0, s.pixdim[2]!, 0, 0],
    [0, 0, s.pixdim[3]!, 0],
    [0, 0, 0, 1],
  ];
}

/** What a header says, before any voxel is read. */
export interface NiftiHeaderInfo {
  source: NiftiSource;
  dims: Vec3;
  /** Voxel size in mm (pixdim[1..3]). */
  spacing: Vec3;
  affine: Mat4;
  /** NIfTI datatype code and its name (e.g. 4, 'int16'). */
  datatype: number;
  datatypeName: string;
  /** Byte offset of the voxel data in the (decompressed) file. */
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
}

export interface ParsedHeader extends NiftiHeaderInfo {
  dtype: Dtype;
  voxelCount: number;
  dataBytes: number;
}

function fmtDims(dim: readonly number[]): string {
  const n = Math.max(1, Math.min(7, dim[0] ?? 0));
  return dim.slice(1, n + 1).join('x');
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}

/** Reads one int64 with BigInt (nifti-reader-js gets big-endian and negative values wrong). */
function int64At(view: DataView, offset: number, littleEndian: boolean): number {
  const v = view.getBigInt64(offset, littleEndian);
  // Anything beyond 2^53 is absurd for us anyway; keep it huge so size checks reject it.
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

/** Parses and validates a header from the first bytes of a (decompressed) NIfTI file. */
export function parseHeader(path: string, head: Uint8Array): ParsedHeader {
  if (head.length < NIFTI1_HEADER_BYTES) {
    throw new InputError(path, `not a NIfTI file (only ${head.length} bytes, a NIfTI header needs ${NIFTI1_HEADER_BYTES})`);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const le = view.getInt32(0, true);
  const be = view.getInt32(0, false);
  let version: 1 | 2;
  let littleEndian: boolean;
  if (le === NIFTI1_HEADER_BYTES || be === NIFTI1_HEADER_BYTES) {
    version = 1;
    littleEndian = le === NIFTI1_HEADER_BYTES;
  } else if (le === NIFTI2_HEADER_BYTES || be === NIFTI2_HEADER_BYTES) {
    version = 2;
    littleEndian = le === NIFTI2_HEADER_BYTES;
  } else {
    throw new InputError(path, 'not a NIfTI-1 or NIfTI-2 file (no valid header size at its start)');
  }
  const latin1 = (from: number, to: number): string => String.fromCharCode(...head.subarray(from, to));
  if (version === 1) {
    const magic = latin1(344, 348);
    if (magic === 'ni1\0') throw new InputError(path, 'a .hdr/.img pair header is not supported; convert it to a single .nii file');
    if (magic !== 'n+1\0') throw new InputError(path, 'not a NIfTI-1 file (no "n+1" magic; an old ANALYZE file?)');
  } else {
    if (head.length < NIFTI2_HEADER_BYTES) {
      throw new InputError(path, `truncated NIfTI-2 header (${head.length} of ${NIFTI2_HEADER_BYTES} bytes)`);
    }
    const magic = latin1(4, 12);
    if (magic === 'ni2\0\r\n\x1a\n') throw new InputError(path, 'a .hdr/.img pair header is not supported; convert it to a single .nii file');
    if (magic !== 'n+2\0\r\n\x1a\n') throw new InputError(path, 'not a NIfTI-2 file (bad "n+2" magic)');
  }

  // Only the fixed-size header goes to nifti-reader-js: given more, it parses extensions and can throw.
  const hdrBytes = version === 1 ? NIFTI1_HEADER_BYTES : NIFTI2_HEADER_BYTES;
  const hdrCopy = head.slice(0, hdrBytes).buffer;
  const h = version === 1 ? new nifti.NIFTI1() : new nifti.NIFTI2();
  try {
    h.readHeader(hdrCopy);
  } catch (err) {
    throw new InputError(path, `unreadable NIfTI header (${(err as Error).message})`);
  }
  if (h.littleEndian !== littleEndian) throw new Error('nifti-reader-js disagrees on byte order');

  let dim: number[];
  let voxOffset: number;
  if (version === 2) {
    dim = [];
    for (let i = 0; i < 8; i++) dim.push(int64At(view, 16 + 8 * i, littleEndian));
    voxOffset = int64At(view, 168, littleEndian);
  } else {
    dim = h.dims.slice(0, 8);
    voxOffset = h.vox_offset;
  }
  const pixdim = h.pixDims.slice(0, 8);

  const nd = dim[0]!;
  if (!(nd >= 1 && nd <= 7)) throw new InputError(path, `invalid dim[0] = ${nd} (must be 1..7)`);
  if (nd < 3) throw new InputError(path, `expected a 3D image, found a ${nd}D one (${fmtDims(dim)})`);
  for (let i = 1; i <= nd; i++) {
    if (!(dim[i]! >= 1)) throw new InputError(path, `invalid size ${dim[i]} along axis ${i} (${fmtDims(dim)})`);
  }
  for (let i = 4; i <= nd; i++) {
    if (dim[i]! > 1) {
      throw new InputError(path, `expected a 3D image, found a ${nd}D one (${fmtDims(dim)}); a 4D series with t>1 is not supported`);
    }
  }
  const dims: Vec3 = [dim[1]!, dim[2]!, dim[3]!];

  const dtype = dtypeByCode(h.datatypeCode);
  if (!dtype) {
    const name = UNSUPPORTED_DTYPES.get(h.datatypeCode);
    throw new InputError(
      path,
      `unsupported NIfTI datatype ${h.datatypeCode}${name ? ` (${name})` : ''}; supported: ${DTYPES.map((d) => d.name).join(', ')}`,
    );
  }

  const voxelCount = dims[0] * dims[1] * dims[2];
  const dataBytes = voxelCount * dtype.bytes;
  if (voxelCount > MAX_VOXELS || dataBytes > MAX_VOXEL_BYTES) {
    throw new InputError(
      path,
      `header claims ${fmtDims(dim)} ${dtype.name} voxels (${fmtBytes(dataBytes)}), more than the ${fmtBytes(MAX_VOXEL_BYTES)} limit; refusing to read it`,
    );
  }
  if (!Number.isInteger(voxOffset) || voxOffset < hdrBytes) {
    throw new InputError(path, `invalid vox_offset ${voxOffset} (must be a whole number >= the ${hdrBytes}-byte header)`);
  }

  for (let i = 1; i <= 3; i++) {
    const p = pixdim[i]!;
    if (!(Number.isFinite(p) && p > 0)) {
      throw new InputError(path, `invalid voxel size pixdim[${i}] = ${p} (must be a positive number of mm)`);
    }
    // Any imaging voxel, micro-CT to whole-body, lies well inside 1 µm – 1 m.
    if (p < MIN_VOXEL_MM || p > MAX_VOXEL_MM) {
      throw new InputError(path, `absurd voxel size pixdim[${i}] = ${p} mm (expected ${MIN_VOXEL_MM}–${MAX_VOXEL_MM} mm)`);
    }
  }

  // srow is read here: nifti-reader-js overwrites its NIfTI-1 `affine` with the qform when
  // qform_code > sform_code, so it does not reliably hold the stored srow.
  const srow: [number[], number[], number[]] = [[], [], []];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      srow[r]!.push(version === 1 ? view.getFloat32(280 + 16 * r + 4 * c, littleEndian) : view.getFloat64(400 + 32 * r + 8 * c, littleEndian));
    }
  }
  const source: NiftiSource = {
    path,
    version,
    littleEndian,
    dim,
    pixdim,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quaternB: h.quatern_b,
    quaternC: h.quatern_c,
    quaternD: h.quatern_d,
    qoffsetX: h.qoffset_x,
    qoffsetY: h.qoffset_y,
    qoffsetZ: h.qoffset_z,
    srow,
    xyztUnits: h.xyzt_units,
    description: h.description ?? '',
  };
  if (source.sformCode <= 0 && source.qformCode > 0) {
    const q = [source.quaternB, source.quaternC, source.quaternD];
    if (!q.every(Number.isFinite) || q[0]! ** 2 + q[1]! ** 2 + q[2]! ** 2 > 1 + 1e-5) {
      throw new InputError(path, `invalid qform quaternion (b, c, d) = (${q.join(', ')})`);
    }
  }
  const affine = bestAffine(source);
  const which = source.sformCode > 0 ? 'sform' : source.qformCode > 0 ? 'qform' : 'pixdim';
  if (!affine.every((row) => row.every(Number.isFinite))) {
    throw new InputError(path, `the ${which} affine holds non-finite numbers`);
  }
  if (Math.abs(det3(affine)) < 1e-12) throw new InputError(path, `the ${which} affine is singular`);

  return {
    source,
    dims,
    spacing: [pixdim[1]!, pixdim[2]!, pixdim[3]!],
    affine,
    datatype: dtype.code,
    datatypeName: dtype.name,
    voxOffset,
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    dtype,
    voxelCount,
    dataBytes,
  };
}

export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

export function truncated(path: string, h: ParsedHeader, haveBytes: number, what: string): InputError {
  const held = Math.max(0, haveBytes - h.voxOffset);
  return new InputError(
    path,
    `header claims ${h.voxelCount} voxels (${fmtDims(h.source.dim)} ${h.dtype.name}, ${h.dataBytes} bytes from offset ${h.voxOffset}) but the ${what} holds only ${held} bytes of data`,
  );
}

/** Typed view of the voxel bytes (copied only when the offset is misaligned for the type). */
function voxelView(h: ParsedHeader, buf: Uint8Array, offset: number): VoxelArray {
  const { dtype, voxelCount, dataBytes } = h;
  let bytes = buf.subarray(offset, offset + dataBytes);
  if (bytes.byteOffset % dtype.bytes !== 0) bytes = bytes.slice();
  if (!h.source.littleEndian && dtype.bytes > 1) swapBytes(bytes, dtype.bytes);
  return new dtype.ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, voxelCount);
}

/** Reverses the byte order of each `width`-byte word, in place. */
function swapBytes(b: Uint8Array, width: number): void {
  for (let i = 0; i + width <= b.length; i += width) {
    for (let lo = i, hi = i + width - 1; lo < hi; lo++, hi--) {
      const t = b[lo]!;
      b[lo] = b[hi]!;
      b[hi] = t;
    }
  }
}

/** Index of the first NaN/±Inf value, or -1. */
function firstNonFinite(a: Float32Array | Float64Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    // v - v is 0 for finite v and NaN for NaN and ±Inf: one comparison per voxel.
    if (v - v !== 0) return i;
  }
  return -1;
}

function voxelAt(i: number, dims: Vec3): string {
  const x = i % dims[0];
  const y = Math.floor(i / dims[0]) % dims[1];
  const z = Math.floor(i / (dims[0] * dims[1]));
  return `(${x}, ${y}, ${z})`;
}

/** Applies scl_slope/scl_inter (nibabel's rules: slope 0 or non-finite means no scaling). */
function applyScaling(path: string, h: ParsedHeader, raw: VoxelArray): VoxelArray {
  const slope = h.sclSlope;
  const inter = h.sclInter;
  if (slope === 0 || !Number.isFinite(slope)) return raw;
  if (!Number.isFinite(inter)) throw new InputError(path, `valid scl_slope ${slope} but invalid scl_inter ${inter}`);
  // Identity scaling keeps the stored type: exact and no copy.
  if (slope === 1 && inter === 0) return raw;
  const out = raw instanceof Float64Array ? new Float64Array(raw.length) : new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]! * slope + inter;
  return out;
}

/**
 * A NIfTI file already in memory and not compressed (the web page inflates .gz natively first);
 * `name` is what errors call it. The same checks as readNifti.
 */
export function decodeNifti(name: string, bytes: Uint8Array): Volume {
  if (isGzip(bytes)) throw new InputError(name, 'still gzip-compressed: inflate it first');
  const h = parseHeader(name, bytes.subarray(0, Math.min(bytes.length, HEADER_PROBE_BYTES)));
  if (bytes.length < h.voxOffset + h.dataBytes) throw truncated(name, h, bytes.length, 'file');
  return volumeOf(name, h, bytes, h.voxOffset);
}

export function volumeOf(path: string, h: ParsedHeader, buf: Uint8Array, dataOffset: number): Volume {
  const raw = voxelView(h, buf, dataOffset);
  const data = applyScaling(path, h, raw);
  if (data instanceof Float32Array || data instanceof Float64Array) {
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      const scaled = data !== raw ? ' after scl_slope/scl_inter scaling' : '';
      throw new InputError(path, `voxel ${voxelAt(bad, h.dims)} is ${data[bad]}${scaled}; images must hold finite numbers`);
    }
  }
  return { data, dims: h.dims, spacing: h.spacing, affine: h.affine, source: h.source };
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Quaternion (b, c, d), qfac and voxel sizes (mm) representing an affine's rotation part, as the
 * NIfTI-1 standard's method 2 needs them. Shears, if any, are dropped (nearest rotation).
 */
export function quaternFromAffine(affine: Mat4): { b: number; c: number; d: number; qfac: 1 | -1; zooms: Vec3 } {
  const zooms = voxelSizes(affine);
  if (!zooms.every((z) => z > 0 && Number.isFinite(z))) throw new Error(`quaternFromAffine: degenerate affine columns ${zooms.join(', ')}`);
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((j) => affine[r]![j]! / zooms[j]!));
  const r = nearestOrthogonal(m);
  let qfac: 1 | -1 = 1;
  if (det3(r) < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i]![2] = -r[i]![2]!;
  }
  const [r11, r12, r13] = r[0] as [number, number, number];
  const [r21, r22, r23] = r[1] as [number, number, number];
  const [r31, r32, r33] = r[2] as [number, number, number];
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  // Branch on the largest component so the division is well conditioned.
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    // The standard stores only b, c, d and takes a >= 0.
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b: b + 0, c: c + 0, d: d + 0, qfac, zooms };
}

/**
 * Header fields for a volume that was not read from a file: sform (code 1) is the affine itself,
 * and a matching qform (code 1: quaternion, qfac, offsets) so viewers that prefer either agree.
 * `spacing` must match the affine's column lengths (mm).
 */
export function sourceFromAffine(dims: Vec3, spacing: Vec3, affine: Mat4, path = ''): NiftiSource {
  const q = quaternFromAffine(affine);
  for (let i = 0; i < 3; i++) {
    if (Math.abs(q.zooms[i]! - spacing[i]!) > 1e-4 * Math.max(1, spacing[i]!)) {
      throw new Error(`sourceFromAffine: spacing ${spacing.join(',')} disagrees with the affine's voxel sizes ${q.zooms.join(',')}`);
    }
  }
  return {
    path,
    version: 1,
    littleEndian: true,
    dim: [3, dims[0], dims[1], dims[2], 1, 1, 1, 1],
    pixdim: [q.qfac, spacing[0], spacing[1], spacing[2], 0, 0, 0, 0],
    qformCode: 1,
    sformCode: 1,
    quaternB: q.b,
    quaternC: q.c,
    quaternD: q.d,
    qoffsetX: affine[0][3],
    qoffsetY: affine[1][3],
    qoffsetZ: affine[2][3],
    srow: [affine[0].slice(0, 4), affine[1].slice(0, 4), affine[2].slice(0, 4)],
    xyztUnits: 2 | 8, // mm, s
    description: 'lungtumor',
  };
}

function affinesClose(a: Mat4, b: Mat4, tol: number): boolean {
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) if (Math.abs(a[r]![c]! - b[r]![c]!) > tol * Math.max(1, Math.abs(a[r]![c]!))) return false;
  return true;
}

/**
 * The header geometry to write a volume with: its source's, unless the volume has been moved to
 * another grid since it was read (then one built from its own affine).
 */
export function headerSourceFor(vol: Pick<Volume, 'dims' | 'affine' | 'source'>, path: string): NiftiSource {
  const s = vol.source;
  // float32 header fields round at ~6e-8 relative; 1e-6 leaves room without hiding a real change.
  if (s && s.dim[1] === vol.dims[0] && s.dim[2] === vol.dims[1] && s.dim[3] === vol.dims[2] && affinesClose(bestAffine(s), vol.affine, 1e-6)) {
    return s;
  }
  // pixdim must match the affine for the qform to; the affine's column lengths are the truth.
  return sourceFromAffine(vol.dims, voxelSizes(vol.affine), vol.affine, path);
}

/** gzip of a whole file's bytes. */
export type Gzip = (bytes: Uint8Array) => Uint8Array;

export function encodeFile(path: string, header: Uint8Array, data: VoxelArray, gzip: Gzip): Uint8Array {
  // Data goes out little-endian: every platform Node and the browsers run on stores typed arrays that way.
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return path.endsWith('.gz') ? gzip(out) : out;
}

/**
 * The bytes writeNiftiMask writes (gzip when `name` ends .gz); the web page passes pako's Z_RLE
 * gzip for `gzip` and so downloads the same bytes.
 */
export function encodeNiftiMask(name: string, mask: Uint8Array, like: Volume, gzip: Gzip): Uint8Array {
  const n = like.dims[0] * like.dims[1] * like.dims[2];
  if (mask.length !== n) throw new Error(`writeNiftiMask: mask has ${mask.length} voxels, grid has ${n}`);
  const src = headerSourceFor(like, name);
  return encodeFile(name, encodeHeader(src, DT_UINT8, 8, 'lungtumor mask'), mask, gzip);
}

/**
 * Little-endian NIfTI header (+ 4-byte empty extension block, so the data starts right after) for
 * the given source geometry. No scaling (slope 1, intercept 0), display range unset.
 */
export function encodeHeader(src: NiftiSource, datatype: number, bitpix: number, description = src.description): Uint8Array {
  const dim = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => src.dim[i] ?? 1);
  const q = [src.quaternB, src.quaternC, src.quaternD, src.qoffsetX, src.qoffsetY, src.qoffsetZ];
  if (src.version === 2) {
    const bytes = new Uint8Array(544);
    const b = littleEndianWriter(bytes);
    b.writeInt32LE(540, 0);
    b.write('n+2\0\r\n\x1a\n', 4, 'latin1');
    b.writeInt16LE(datatype, 12);
    b.writeInt16LE(bitpix, 14);
    for (let i = 0; i < 8; i++) b.writeBigInt64LE(BigInt(dim[i]!), 16 + 8 * i);
    for (let i = 0; i < 8; i++) b.writeDoubleLE(src.pixdim[i] ?? 0, 104 + 8 * i);
    b.writeBigInt64LE(544n, 168); // vox_offset
    b.writeDoubleLE(1, 176); // scl_slope
    b.writeDoubleLE(0, 184); // scl_inter
    b.write(description.slice(0, 79), 240, 'latin1');
    b.writeInt32LE(src.qformCode, 344);
    b.writeInt32LE(src.sformCode, 348);
    q.forEach((v, i) => b.writeDoubleLE(v, 352 + 8 * i));
    src.srow.forEach((row, r) => row.forEach((v, c) => b.writeDoubleLE(v, 400 + 32 * r + 8 * c)));
    b.writeInt32LE(src.xyztUnits, 500);
    return bytes;
  }
  const bytes = new Uint8Array(352);
  const b = littleEndianWriter(bytes);
  b.writeInt32LE(348, 0);
  b.write('r', 38, 'latin1'); // ANALYZE "regular", which some old readers still check
  for (let i = 0; i < 8; i++) b.writeInt16LE(dim[i]!, 40 + 2 * i);
  b.writeInt16LE(datatype, 70);
  b.writeInt16LE(bitpix, 72);
  for (let i = 0; i < 8; i++) b.writeFloatLE(src.pixdim[i] ?? 0, 76 + 4 * i);
  b.writeFloatLE(352, 108); // vox_offset
  b.writeFloatLE(1, 112); // scl_slope
  b.writeFloatLE(0, 116); // scl_inter
  b.writeUInt8(src.xyztUnits & 0xff, 123);
  b.write(description.slice(0, 79), 148, 'latin1');
  b.writeInt16LE(src.qformCode, 252);
  b.writeInt16LE(src.sformCode, 254);
  q.forEach((v, i) => b.writeFloatLE(v, 256 + 4 * i));
  src.srow.forEach((row, r) => row.forEach((v, c) => b.writeFloatLE(v, 280 + 16 * r + 4 * c)));
  b.write('n+1\0', 344, 'latin1');
  return bytes;
}
/** The Buffer-style little-endian writers encodeHeader uses, on a plain byte array. */
function littleEndianWriter(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    writeInt16LE: (x: number, at: number) => v.setInt16(at, x, true),
    writeInt32LE: (x: number, at: number) => v.setInt32(at, x, true),
    writeUInt8: (x: number, at: number) => v.setUint8(at, x),
    writeFloatLE: (x: number, at: number) => v.setFloat32(at, x, true),
    writeDoubleLE: (x: number, at: number) => v.setFloat64(at, x, true),
    writeBigInt64LE: (x: bigint, at: number) => v.setBigInt64(at, x, true),
    /** Latin-1 text; like Buffer.write it stops at the array's end. */
    write(text: string, at: number, _encoding: 'latin1') {
      for (let k = 0; k < text.length && at + k < bytes.length; k++) bytes[at + k] = text.charCodeAt(k) & 0xff;
    },
  };
}
