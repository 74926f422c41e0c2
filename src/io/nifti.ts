/**
 * NIfTI files in Node: reading (a header or a whole file, gzip or not, never allocating more than
 * the header allows) and atomic writing, around the in-memory codec in nifti-codec.ts.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { constants as zconst, gunzip, gunzipSync, gzipSync, type ZlibOptions } from 'node:zlib';
import { InputError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { Volume } from '../core/volume.js';
import {
  DT_UINT8, GZIP_TRAILING_SLACK, HEADER_PROBE_BYTES, dtypeOfArray, encodeFile, encodeHeader, encodeNiftiMask, fmtBytes,
  headerSourceFor, isGzip, parseHeader, truncated, volumeOf, type Gzip, type NiftiHeaderInfo, type ParsedHeader,
} from './nifti-codec.js';

export * from './nifti-codec.js';

/** Inflates just the start of a gzip stream (at least `want` bytes when there are that many). */
function gunzipHead(path: string, raw: Buffer, want: number): Buffer {
  // Deflate expands at most ~1032:1, so a small input slice bounds the output; grow it only when
  // the header is stored nearly uncompressed.
  let inLen = Math.min(raw.length, 1024);
  for (;;) {
    let out: Buffer;
    try {
      out = gunzipSync(raw.subarray(0, inLen), { finishFlush: zconst.Z_SYNC_FLUSH });
    } catch (err) {
      throw new InputError(path, `corrupt gzip data (${(err as Error).message})`);
    }
    if (out.length >= want || inLen >= raw.length) return out;
    inLen = Math.min(raw.length, inLen * 4);
  }
}

function readErr(path: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new InputError(path, 'file not found');
  if (code === 'EISDIR') return new InputError(path, 'is a folder, not a NIfTI file');
  return new InputError(path, `cannot read file (${code ?? (err as Error).message})`);
}

/** Opens a file for reading; InputError naming it when it is missing, unreadable or a folder. */
function openForRead(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw readErr(path, err);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw readErr(path, err);
  }
}

interface RawScan {
  h: ParsedHeader;
  buf: Buffer;
  dataOffset: number;
}

/** A gzip file read whole, its header parsed, and how to inflate it within the header's bounds. */
interface PendingInflate {
  h: ParsedHeader;
  raw: Buffer;
  need: number;
  options: ZlibOptions;
}

/**
 * The raw bytes of a file: its header and the voxel data, without ever allocating more than the
 * header (checked first) allows. A gzip file comes back still deflated, for `inflated`.
 */
function loadRawOrPending(path: string): RawScan | PendingInflate {
  const { fd, size } = openForRead(path);
  try {
    const probe = Buffer.alloc(Math.min(size, HEADER_PROBE_BYTES));
    readAll(path, fd, probe, 0);
    if (!isGzip(probe)) {
      const h = parseHeader(path, probe);
      if (size < h.voxOffset + h.dataBytes) throw truncated(path, h, size, 'file');
      // Unpooled, so the data starts at byteOffset 0 and typed views of it are aligned.
      const buf = Buffer.allocUnsafeSlow(h.dataBytes);
      readAll(path, fd, buf, h.voxOffset);
      return { h, buf, dataOffset: 0 };
    }
    const raw = Buffer.allocUnsafeSlow(size);
    readAll(path, fd, raw, 0);
    const h = parseHeader(path, gunzipHead(path, raw, HEADER_PROBE_BYTES));
    const need = h.voxOffset + h.dataBytes;
    // The gzip trailer holds the decompressed size (mod 2^32; `need` is below 2^32). When it matches,
    // inflate into one chunk one byte larger than that: zlib then returns it without concatenating
    // (exactly `need` would make it allocate a second, unused chunk). Otherwise (multi-member or
    // short files) take ordinary chunks, so a header that lies costs no big allocation.
    const isize = raw.length >= 18 ? raw.readUInt32LE(raw.length - 4) : -1;
    const chunkSize = isize === need ? need + 1 : 1024 * 1024;
    return { h, raw, need, options: { chunkSize, maxOutputLength: need + GZIP_TRAILING_SLACK } };
  } finally {
    closeSync(fd);
  }
}

/** The InputError for a pending gzip file that zlib (sync or on its thread pool) failed to inflate. */
function inflateError(path: string, p: PendingInflate, err: unknown): InputError {
  if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
    return new InputError(path, `decompresses to more than ${fmtBytes(p.need + GZIP_TRAILING_SLACK)}, far beyond the ${fmtBytes(p.need)} its header describes`);
  }
  return new InputError(path, `corrupt or truncated gzip data (${(err as Error).message})`);
}

/** A pending gzip file's inflated bytes, checked to hold the voxels its header describes. */
function inflated(path: string, p: PendingInflate, buf: Buffer): RawScan {
  if (buf.length < p.need) throw truncated(path, p.h, buf.length, 'decompressed file');
  return { h: p.h, buf, dataOffset: p.h.voxOffset };
}

function loadRaw(path: string): RawScan {
  const r = loadRawOrPending(path);
  if ('buf' in r) return r;
  let buf: Buffer;
  try {
    buf = gunzipSync(r.raw, r.options);
  } catch (err) {
    throw inflateError(path, r, err);
  }
  return inflated(path, r, buf);
}

const gunzipAsync = promisify(gunzip);

/** loadRaw with the inflating on zlib's thread pool, so this thread can do other work meanwhile. */
async function loadRawAsync(path: string): Promise<RawScan> {
  const r = loadRawOrPending(path);
  if ('buf' in r) return r;
  let buf: Buffer;
  try {
    buf = await gunzipAsync(r.raw, r.options);
  } catch (err) {
    throw inflateError(path, r, err);
  }
  return inflated(path, r, buf);
}

function readAll(path: string, fd: number, into: Buffer, position: number): void {
  let done = 0;
  while (done < into.length) {
    let n: number;
    try {
      n = readSync(fd, into, done, into.length - done, position + done);
    } catch (err) {
      throw readErr(path, err);
    }
    if (n === 0) throw new InputError(path, `file ended early (read ${done} of ${into.length} bytes)`);
    done += n;
  }
}

/** Reads just the header of a NIfTI file (for .gz, inflating only its first bytes). */
export function readNiftiHeader(path: string): NiftiHeaderInfo {
  const { fd, size } = openForRead(path);
  try {
    // 64 KiB of deflate input always inflates to far more than a header unless the file is shorter.
    const probe = Buffer.alloc(Math.min(size, 64 * 1024));
    readAll(path, fd, probe, 0);
    const head = isGzip(probe) ? gunzipHead(path, probe, HEADER_PROBE_BYTES) : probe;
    const { dtype: _d, voxelCount: _v, dataBytes: _b, ...info } = parseHeader(path, head);
    return info;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a 3D NIfTI-1/2 file (.nii or .nii.gz, either byte order). Throws InputError naming the
 * file on anything wrong.
 *
 * Voxels come back in the stored type, scaled by scl_slope/scl_inter when those are set and not
 * the identity (then Float32Array, or Float64Array for float64 files). The array may be a view into
 * a larger ArrayBuffer (the decompressed file): honour `data.byteOffset` when touching `data.buffer`.
 */
export function readNifti(path: string): Volume {
  const { h, buf, dataOffset } = loadRaw(path);
  return volumeOf(path, h, buf, dataOffset);
}

/** readNifti, with a .gz file inflated on zlib's thread pool (the same checks, the same volume). */
export async function readNiftiAsync(path: string): Promise<Volume> {
  const { h, buf, dataOffset } = await loadRawAsync(path);
  return volumeOf(path, h, buf, dataOffset);
}

const gzipVolume: Gzip = (bytes) => gzipSync(bytes, { level: 6 });

/**
 * Masks are deflated run-length only (zlib's Z_RLE strategy, level 6): zlib and pako (its
 * JavaScript port, used by the web page) write the same bytes that way, where their default
 * strategies differ; and on a mostly-zero mask it is faster (LUNG1-001: 21 against 73 ms) for
 * 1 % more bytes.
 */
export const gzipMask: Gzip = (bytes) => gzipSync(bytes, { level: 6, strategy: zconst.Z_RLE });

/**
 * Writes any volume in its own dtype, atomically, gzip-compressed when the name ends .gz, with its
 * source header's geometry (same NIfTI version) if it still matches, else geometry from its affine.
 */
export function writeNifti(path: string, vol: Volume): void {
  if (vol.data.length !== vol.dims[0] * vol.dims[1] * vol.dims[2]) {
    throw new Error(`writeNifti: ${vol.data.length} voxels for a ${vol.dims.join('x')} grid`);
  }
  const src = headerSourceFor(vol, path);
  const dt = dtypeOfArray(vol.data);
  writeFileAtomic(path, encodeFile(path, encodeHeader(src, dt.code, dt.bytes * 8), vol.data, gzipVolume));
}

/**
 * Writes a uint8 mask on the grid of `like`, keeping its header's geometry (dims, pixdim incl.
 * qfac, qform, sform, units, NIfTI version), little-endian, gzip when the name ends .gz, atomically.
 */
export function writeNiftiMask(path: string, mask: Uint8Array, like: Volume): void {
  writeFileAtomic(path, encodeNiftiMask(path, mask, like, gzipMask));
}