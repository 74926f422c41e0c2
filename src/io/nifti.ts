/**
 * NIfTI-1/2 reading (through nifti-reader-js, validated) and writing (our own: nifti-reader-js only reads).
 *
 * FIRST DRAFT — to be hardened (validation of every header field, big-endian, truncation, golden tests).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { InputError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { Mat4, NiftiSource, Vec3, Volume, VoxelArray } from '../core/volume.js';

const DT_UINT8 = 2;
const DT_INT16 = 4;
const DT_INT32 = 8;
const DT_FLOAT32 = 16;
const DT_FLOAT64 = 64;
const DT_INT8 = 256;
const DT_UINT16 = 512;

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Affine from the quaternion representation (NIfTI-1 standard, method 2). */
export function qformAffine(s: Pick<NiftiSource, 'quaternB' | 'quaternC' | 'quaternD' | 'qoffsetX' | 'qoffsetY' | 'qoffsetZ' | 'pixdim'>): Mat4 {
  const b = s.quaternB;
  const c = s.quaternC;
  const d = s.quaternD;
  let a = 1 - (b * b + c * c + d * d);
  a = a < 1e-7 ? 0 : Math.sqrt(a);
  const qfac = (s.pixdim[0] ?? 1) < 0 ? -1 : 1;
  const dx = s.pixdim[1] ?? 1;
  const dy = s.pixdim[2] ?? 1;
  const dz = (s.pixdim[3] ?? 1) * qfac;
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  return [
    [r[0]![0]! * dx, r[0]![1]! * dy, r[0]![2]! * dz, s.qoffsetX],
    [r[1]![0]! * dx, r[1]![1]! * dy, r[1]![2]! * dz, s.qoffsetY],
    [r[2]![0]! * dx, r[2]![1]! * dy, r[2]![2]! * dz, s.qoffsetZ],
    [0, 0, 0, 1],
  ];
}

/** The affine a reader should use: sform (code > 0), else qform (code > 0), else pixdim scaling. */
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

/** Reads a 3D NIfTI file (.nii or .nii.gz). Throws InputError naming the file on anything wrong. */
export function readNifti(path: string): Volume {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new InputError(path, `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let bytes = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch {
      throw new InputError(path, 'corrupt or truncated gzip data');
    }
  }
  const ab = toArrayBuffer(bytes);
  if (!nifti.isNIFTI(ab)) throw new InputError(path, 'not a NIfTI-1 or NIfTI-2 file');
  const h = nifti.readHeader(ab) as nifti.NIFTI1;
  const dim = h.dims.slice(0, 8);
  if (dim[0]! < 3 || dim[0]! > 4 || (dim[0] === 4 && dim[4]! > 1)) {
    throw new InputError(path, `expected a 3D image, found ${dim[0]} dimensions (${dim.slice(1, dim[0]! + 1).join('x')})`);
  }
  const dims: Vec3 = [dim[1]!, dim[2]!, dim[3]!];
  const n = dims[0] * dims[1] * dims[2];
  const img = nifti.readImage(h, ab);
  const source: NiftiSource = {
    path,
    version: h instanceof nifti.NIFTI2 ? 2 : 1,
    littleEndian: h.littleEndian,
    dim,
    pixdim: h.pixDims.slice(0, 8),
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quaternB: h.quatern_b,
    quaternC: h.quatern_c,
    quaternD: h.quatern_d,
    qoffsetX: h.qoffset_x,
    qoffsetY: h.qoffset_y,
    qoffsetZ: h.qoffset_z,
    srow: [h.affine[0]!.slice(0, 4), h.affine[1]!.slice(0, 4), h.affine[2]!.slice(0, 4)],
    xyztUnits: h.xyzt_units,
    description: h.description ?? '',
  };
  let data: VoxelArray;
  const copy = img.slice(0, n * (h.numBitsPerVoxel / 8));
  switch (h.datatypeCode) {
    case DT_UINT8: data = new Uint8Array(copy); break;
    case DT_INT8: data = new Int8Array(copy); break;
    case DT_INT16: data = new Int16Array(copy); break;
    case DT_UINT16: data = new Uint16Array(copy); break;
    case DT_INT32: data = new Int32Array(copy); break;
    case DT_FLOAT32: data = new Float32Array(copy); break;
    case DT_FLOAT64: data = new Float64Array(copy); break;
    default: throw new InputError(path, `unsupported NIfTI datatype ${h.datatypeCode}`);
  }
  const slope = h.scl_slope;
  const inter = h.scl_inter;
  if (Number.isFinite(slope) && slope !== 0 && (slope !== 1 || inter !== 0)) {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = data[i]! * slope + inter;
    data = f;
  }
  return {
    data,
    dims,
    spacing: [source.pixdim[1]!, source.pixdim[2]!, source.pixdim[3]!],
    affine: bestAffine(source),
    source,
  };
}

function datatypeOf(data: VoxelArray): [code: number, bitpix: number] {
  if (data instanceof Uint8Array) return [DT_UINT8, 8];
  if (data instanceof Int8Array) return [DT_INT8, 8];
  if (data instanceof Int16Array) return [DT_INT16, 16];
  if (data instanceof Uint16Array) return [DT_UINT16, 16];
  if (data instanceof Int32Array) return [DT_INT32, 32];
  if (data instanceof Float32Array) return [DT_FLOAT32, 32];
  return [DT_FLOAT64, 64];
}

/** Header fields for a volume that was not read from a file: geometry from its affine (sform; qform TODO). */
export function sourceFromAffine(dims: Vec3, spacing: Vec3, affine: Mat4, path = ''): NiftiSource {
  return {
    path,
    version: 1,
    littleEndian: true,
    dim: [3, dims[0], dims[1], dims[2], 1, 1, 1, 1],
    pixdim: [1, spacing[0], spacing[1], spacing[2], 0, 0, 0, 0],
    qformCode: 0,
    sformCode: 1,
    quaternB: 0,
    quaternC: 0,
    quaternD: 0,
    qoffsetX: 0,
    qoffsetY: 0,
    qoffsetZ: 0,
    srow: [affine[0].slice(0, 4), affine[1].slice(0, 4), affine[2].slice(0, 4)],
    xyztUnits: 2 | 8, // mm, s
    description: 'lungtumor',
  };
}

/** Writes any volume (its own dtype), with its source header's geometry if it has one, else from its affine. */
export function writeNifti(path: string, vol: Volume): void {
  const src = vol.source ?? sourceFromAffine(vol.dims, vol.spacing, vol.affine, path);
  const [code, bitpix] = datatypeOf(vol.data);
  const header = encodeHeader(src, code, bitpix);
  const d = vol.data;
  const out = Buffer.concat([header, Buffer.from(d.buffer, d.byteOffset, d.byteLength)]);
  writeFileAtomic(path, path.endsWith('.gz') ? gzipSync(out, { level: 6 }) : out);
}

/**
 * Writes a uint8 mask on the grid of `like` (which must have been read from a file), keeping its
 * header's geometry (dims, pixdim, qform, sform, units), gzip-compressed, atomically.
 */
export function writeNiftiMask(path: string, mask: Uint8Array, like: Volume): void {
  const src = like.source;
  if (!src) throw new Error('writeNiftiMask: the reference volume has no source header');
  const n = like.dims[0] * like.dims[1] * like.dims[2];
  if (mask.length !== n) throw new Error(`writeNiftiMask: mask has ${mask.length} voxels, grid has ${n}`);
  const header = encodeHeader(src, DT_UINT8, 8);
  const out = Buffer.concat([header, Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength)]);
  writeFileAtomic(path, path.endsWith('.gz') ? gzipSync(out, { level: 6 }) : out);
}

/** Little-endian NIfTI header (+ 4-byte empty extension block) for the given source geometry. */
export function encodeHeader(src: NiftiSource, datatype: number, bitpix: number): Buffer {
  if (src.version === 2) {
    const b = Buffer.alloc(544);
    b.writeInt32LE(540, 0);
    b.write('n+2\0\r\n\x1a\n', 4, 'latin1');
    b.writeInt16LE(datatype, 12);
    b.writeInt16LE(bitpix, 14);
    for (let i = 0; i < 8; i++) b.writeBigInt64LE(BigInt(i === 0 ? 3 : i <= 3 ? src.dim[i]! : 1), 16 + 8 * i);
    for (let i = 0; i < 8; i++) b.writeDoubleLE(src.pixdim[i] ?? 0, 104 + 8 * i);
    b.writeBigInt64LE(544n, 168);
    b.writeDoubleLE(1, 176); // scl_slope
    b.writeDoubleLE(0, 184); // scl_inter
    b.writeDoubleLE(1, 192); // cal_max
    b.writeDoubleLE(0, 200); // cal_min
    b.write(src.description.slice(0, 79), 240, 'latin1');
    b.writeInt32LE(src.qformCode, 344);
    b.writeInt32LE(src.sformCode, 348);
    const q = [src.quaternB, src.quaternC, src.quaternD, src.qoffsetX, src.qoffsetY, src.qoffsetZ];
    q.forEach((v, i) => b.writeDoubleLE(v, 352 + 8 * i));
    src.srow.forEach((row, r) => row.forEach((v, c) => b.writeDoubleLE(v, 400 + 32 * r + 8 * c)));
    b.writeInt32LE(src.xyztUnits, 500);
    return b;
  }
  const b = Buffer.alloc(352);
  b.writeInt32LE(348, 0);
  b.writeInt16LE(3, 40);
  for (let i = 1; i < 8; i++) b.writeInt16LE(i <= 3 ? src.dim[i]! : 1, 40 + 2 * i);
  b.writeInt16LE(datatype, 70);
  b.writeInt16LE(bitpix, 72);
  for (let i = 0; i < 8; i++) b.writeFloatLE(src.pixdim[i] ?? 0, 76 + 4 * i);
  b.writeFloatLE(352, 108); // vox_offset
  b.writeFloatLE(1, 112); // scl_slope
  b.writeFloatLE(0, 116); // scl_inter
  b.writeUInt8(src.xyztUnits, 123);
  b.writeFloatLE(1, 124); // cal_max
  b.writeFloatLE(0, 128); // cal_min
  b.write(src.description.slice(0, 79), 148, 'latin1');
  b.writeInt16LE(src.qformCode, 252);
  b.writeInt16LE(src.sformCode, 254);
  const q = [src.quaternB, src.quaternC, src.quaternD, src.qoffsetX, src.qoffsetY, src.qoffsetZ];
  q.forEach((v, i) => b.writeFloatLE(v, 256 + 4 * i));
  src.srow.forEach((row, r) => row.forEach((v, c) => b.writeFloatLE(v, 280 + 16 * r + 4 * c)));
  b.write('n+1\0', 344, 'latin1');
  return b;
}
