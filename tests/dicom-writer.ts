/**
 * A minimal DICOM CT writer for tests: one file per slice, uncompressed, with just the attributes
 * a CT reader needs; each `SliceOptions` knob breaks one thing on purpose.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Vec3, Volume } from '../src/core/volume.js';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

type Value = string | number[] | Uint8Array;

interface El {
  group: number;
  element: number;
  vr: string;
  value: Value;
}

function valueBytes(vr: string, value: Value): Uint8Array {
  if (value instanceof Uint8Array) return value.length % 2 ? Uint8Array.from([...value, 0]) : value;
  if (Array.isArray(value)) {
    const size = vr === 'UL' ? 4 : 2;
    const out = new Uint8Array(value.length * size);
    const dv = new DataView(out.buffer);
    value.forEach((v, i) => (size === 4 ? dv.setUint32(i * size, v, true) : dv.setUint16(i * size, v, true)));
    return out;
  }
  const bytes = Buffer.from(value, 'latin1');
  if (bytes.length % 2 === 0) return bytes;
  return Buffer.concat([bytes, Buffer.from(vr === 'UI' ? '\0' : ' ', 'latin1')]);
}

function encode(els: El[], explicit: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const e of [...els].sort((a, b) => a.group - b.group || a.element - b.element)) {
    const v = valueBytes(e.vr, e.value);
    const head = Buffer.alloc(explicit ? (LONG_VRS.has(e.vr) ? 12 : 8) : 8);
    head.writeUInt16LE(e.group, 0);
    head.writeUInt16LE(e.element, 2);
    if (!explicit) head.writeUInt32LE(v.length, 4);
    else {
      head.write(e.vr, 4, 'latin1');
      if (LONG_VRS.has(e.vr)) head.writeUInt32LE(v.length, 8);
      else head.writeUInt16LE(v.length, 6);
    }
    parts.push(head, Buffer.from(v));
  }
  return Buffer.concat(parts);
}

export interface SeriesOptions {
  seriesUid?: string;
  modality?: string;
  implicitVr?: boolean;
  transferSyntax?: string;
  /** Stored value = (HU - intercept) / slope. */
  slope?: number;
  intercept?: number;
  /** Row and column direction cosines (LPS); default axial. */
  orientation?: [Vec3, Vec3];
  /** Per slice: extra shift (mm, LPS) of its position, e.g. a tilt. */
  shift?: (z: number) => Vec3;
  /** Slices to leave out (a gap). */
  skip?: number[];
  /** File name of slice z (default shuffled-looking names, so name order is not slice order). */
  name?: (z: number) => string;
  /** Slice z's overrides: its orientation, or no pixel data. */
  sliceOrientation?: (z: number) => [Vec3, Vec3] | null;
  noPixels?: number[];
}

const ds = (xs: number[]): string => xs.map((x) => String(Math.round(x * 1e6) / 1e6)).join('\\');

/**
 * Writes `vol` (HU; axial, x towards patient left, y towards posterior, z towards superior, as
 * lungtumor's NIfTI of a DICOM series) as a DICOM CT series in `dir`; returns the file paths.
 */
export function writeDicomSeries(dir: string, vol: Volume, opts: SeriesOptions = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const [nx, ny, nz] = vol.dims;
  const [sx, sy, sz] = vol.spacing;
  // The NIfTI affine is RAS; DICOM wants LPS.
  const originLps: Vec3 = [-vol.affine[0][3], -vol.affine[1][3], vol.affine[2][3]];
  const [rowDir, colDir] = opts.orientation ?? [[1, 0, 0], [0, 1, 0]];
  const normal: Vec3 = [rowDir[1] * colDir[2] - rowDir[2] * colDir[1], rowDir[2] * colDir[0] - rowDir[0] * colDir[2], rowDir[0] * colDir[1] - rowDir[1] * colDir[0]];
  const slope = opts.slope ?? 1;
  const intercept = opts.intercept ?? -1024;
  const series = opts.seriesUid ?? '1.2.826.0.1.3680043.9.7777.1';
  const syntax = opts.transferSyntax ?? (opts.implicitVr ? IMPLICIT_LE : EXPLICIT_LE);
  const paths: string[] = [];
  for (let z = 0; z < nz; z++) {
    if (opts.skip?.includes(z)) continue;
    const sop = `${series}.${z + 1}`;
    const shift = opts.shift?.(z) ?? [0, 0, 0];
    const ipp = [0, 1, 2].map((a) => originLps[a]! + normal[a]! * sz * z + shift[a]!);
    const [r, c] = opts.sliceOrientation?.(z) ?? [rowDir, colDir];
    const px = new Uint8Array(nx * ny * 2);
    const dv = new DataView(px.buffer);
    for (let i = 0; i < nx * ny; i++) dv.setUint16(2 * i, Math.round((vol.data[z * nx * ny + i]! - intercept) / slope), true);
    const data: El[] = [
      { group: 0x0008, element: 0x0016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
      { group: 0x0008, element: 0x0018, vr: 'UI', value: sop },
      { group: 0x0008, element: 0x0060, vr: 'CS', value: opts.modality ?? 'CT' },
      { group: 0x0010, element: 0x0020, vr: 'LO', value: 'TEST' },
      { group: 0x0020, element: 0x000d, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.9' },
      { group: 0x0020, element: 0x000e, vr: 'UI', value: series },
      { group: 0x0020, element: 0x0011, vr: 'IS', value: '2' },
      { group: 0x0020, element: 0x0013, vr: 'IS', value: String(z + 1) },
      { group: 0x0020, element: 0x0032, vr: 'DS', value: ds(ipp) },
      { group: 0x0020, element: 0x0037, vr: 'DS', value: ds([...r, ...c]) },
      { group: 0x0028, element: 0x0002, vr: 'US', value: [1] },
      { group: 0x0028, element: 0x0004, vr: 'CS', value: 'MONOCHROME2' },
      { group: 0x0028, element: 0x0010, vr: 'US', value: [ny] },
      { group: 0x0028, element: 0x0011, vr: 'US', value: [nx] },
      { group: 0x0028, element: 0x0030, vr: 'DS', value: ds([sy, sx]) },
      { group: 0x0028, element: 0x0100, vr: 'US', value: [16] },
      { group: 0x0028, element: 0x0101, vr: 'US', value: [16] },
      { group: 0x0028, element: 0x0102, vr: 'US', value: [15] },
      { group: 0x0028, element: 0x0103, vr: 'US', value: [0] },
      { group: 0x0028, element: 0x1052, vr: 'DS', value: ds([intercept]) },
      { group: 0x0028, element: 0x1053, vr: 'DS', value: ds([slope]) },
    ];
    if (!opts.noPixels?.includes(z)) data.push({ group: 0x7fe0, element: 0x0010, vr: 'OW', value: px });
    const metaBody = encode([
      { group: 0x0002, element: 0x0001, vr: 'OB', value: Uint8Array.from([0, 1]) },
      { group: 0x0002, element: 0x0002, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
      { group: 0x0002, element: 0x0003, vr: 'UI', value: sop },
      { group: 0x0002, element: 0x0010, vr: 'UI', value: syntax },
      { group: 0x0002, element: 0x0012, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777' },
    ], true);
    const meta = Buffer.concat([encode([{ group: 0x0002, element: 0x0000, vr: 'UL', value: [metaBody.length] }], true), metaBody]);
    const file = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), meta, encode(data, syntax !== IMPLICIT_LE)]);
    const path = join(dir, opts.name?.(z) ?? `IM${String((z * 7919) % 10007).padStart(5, '0')}.dcm`);
    writeFileSync(path, file);
    paths.push(path);
  }
  return paths;
}
