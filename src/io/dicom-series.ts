/**
 * DICOM CT series in, from bytes (no file access: src/io/dicom.ts walks folders on disk for the
 * CLI; the web page hands over a dropped folder's files): the files of a series (grouped by SeriesInstanceUID, CT only) become one
 * Volume on exactly the grid the NIfTI route gives (README: same voxels, affine to 1e-3 mm).
 *
 * Geometry: DICOM patient coordinates are LPS mm; the Volume's affine is NIfTI's RAS mm, so its
 * first two rows are negated. Voxel x runs along a row (ImageOrientationPatient's first vector,
 * PixelSpacing[1] apart), y down the columns (second vector, PixelSpacing[0] apart), z along the
 * slice normal (row × column) in the order of ImagePositionPatient along it.
 */
import dicomParser from 'dicom-parser';
import { InputError } from '../core/errors.js';
import type { Mat4, Vec3, Volume } from '../core/volume.js';

/** Transfer syntaxes whose pixel data are raw (not compressed). */
const RAW_SYNTAXES: Record<string, { littleEndian: boolean }> = {
  '1.2.840.10008.1.2': { littleEndian: true }, // implicit VR little endian
  '1.2.840.10008.1.2.1': { littleEndian: true }, // explicit VR little endian
  '1.2.840.10008.1.2.2': { littleEndian: false }, // explicit VR big endian (retired)
};

const SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

/** One CT series found below a folder. */
export interface DicomSeries {
  /** Case id: see findDicomSeries. */
  id: string;
  /** The folder holding its files (the first one, when they are spread over several). */
  folder: string;
  seriesUid: string;
  files: string[];
}

export type DataSet = ReturnType<typeof dicomParser.parseDicom>;

/** Parses a DICOM file's bytes (up to its pixel data, with `untilPixels`); InputError naming `path` when it cannot. */
export function parse(path: string, bytes: Uint8Array, untilPixels: boolean): DataSet {
  try {
    return dicomParser.parseDicom(bytes, untilPixels ? { untilTag: 'x7fe00010' } : undefined);
  } catch (err) {
    const why = typeof err === 'string' ? err : err instanceof Error ? err.message : (err as { exception?: string }).exception ?? 'unreadable';
    throw new InputError(path, `not a readable DICOM file (${why.replace(/^dicomParser\.\w+: /, '')})`);
  }
}

/** A DICOM file's header (parsed up to its pixels), its path, and that path's parts below the folder searched. */
export interface DicomFileHead {
  path: string;
  rel: string[];
  ds: DataSet;
}

/** Whether bytes start as a DICOM Part 10 file: a 128-byte preamble, then 'DICM'. */
export function hasDicomPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** The last part of a path ('/' or '\\' separated). */
function fileName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/**
 * The CT series and RTSTRUCT files among DICOM files found below a folder named `rootName`, files
 * in walk order (see findDicomSeries for the ids). Pure: the CLI walks a folder on disk, the web
 * page a folder the user picked or dropped.
 */
export function groupDicomFiles(rootName: string, heads: readonly DicomFileHead[]): { series: DicomSeries[]; rtstructs: string[] } {
  const byUid = new Map<string, { files: string[]; top: string; seriesNumber: string }>();
  const rtstructs: string[] = [];
  for (const { path, rel, ds } of heads) {
    const modality = (ds.string('x00080060') ?? '').trim().toUpperCase();
    if (modality === 'RTSTRUCT') rtstructs.push(path);
    if (modality !== 'CT') continue;
    const uid = ds.string('x0020000e');
    if (!uid) throw new InputError(path, 'a CT image without a SeriesInstanceUID (0020,000E)');
    const top = rel.length > 1 ? rel[0]! : rootName;
    const entry = byUid.get(uid) ?? { files: [], top, seriesNumber: (ds.string('x00200011') ?? '').trim() };
    entry.files.push(path);
    byUid.set(uid, entry);
  }
  const perTop = new Map<string, number>();
  for (const e of byUid.values()) perTop.set(e.top, (perTop.get(e.top) ?? 0) + 1);
  const series = [...byUid.entries()].map(([seriesUid, e], k) => {
    const tag = e.seriesNumber !== '' ? e.seriesNumber : String(k + 1);
    const id = byUid.size === 1 ? rootName : perTop.get(e.top)! > 1 ? `${e.top}-S${tag}` : e.top;
    const first = e.files[0]!;
    return { id, folder: first.slice(0, first.length - fileName(first).length - 1), seriesUid, files: e.files };
  });
  const ids = new Set<string>();
  for (const s of series) {
    if (ids.has(s.id)) throw new InputError(s.folder, `two CT series would both be case '${s.id}': give each series its own folder`);
    ids.add(s.id);
  }
  return { series: series.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), rtstructs };
}

interface Slice {
  path: string;
  ds: DataSet;
  position: Vec3;
  /** Position along the slice normal (mm). */
  along: number;
}

function numbers(ds: DataSet, tag: string, count: number, path: string, name: string): number[] {
  const raw = ds.string(tag);
  const values = raw === undefined ? [] : raw.split('\\').map((v) => Number(v.trim()));
  if (values.length !== count || values.some((v) => !Number.isFinite(v))) {
    throw new InputError(path, raw === undefined ? `no ${name} (${tag.slice(1, 5)},${tag.slice(5)})` : `${name} is not ${count} numbers: '${raw}'`);
  }
  return values;
}

const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** What a DICOM output (SEG, RTSTRUCT) must reference and copy of the series it was derived from. */
export interface DicomSource {
  seriesUid: string;
  studyUid: string;
  frameOfReferenceUid: string;
  /** Patient and study attributes copied into derived objects (DICOM keywords; absent ones left out). */
  attributes: Record<string, string>;
  /** Per slice, in the Volume's z order. */
  slices: { sopClassUid: string; sopInstanceUid: string; positionLps: Vec3 }[];
  /** ImageOrientationPatient (row then column direction cosines, LPS) and PixelSpacing (row, column mm). */
  orientation: number[];
  pixelSpacing: [number, number];
  sliceSpacingMm: number;
}

/** Patient / study attributes a derived object carries over from its source series. */
const COPIED: Record<string, string> = {
  PatientName: 'x00100010',
  PatientID: 'x00100020',
  PatientBirthDate: 'x00100030',
  PatientSex: 'x00100040',
  StudyDate: 'x00080020',
  StudyTime: 'x00080030',
  AccessionNumber: 'x00080050',
  ReferringPhysicianName: 'x00080090',
  StudyID: 'x00200010',
  StudyDescription: 'x00081030',
};

/** Relative tolerance of slice spacings, and of orientation cosines, before a series is refused. */
const SPACING_TOLERANCE = 0.01;
const ORIENTATION_TOLERANCE = 1e-4;

/**
 * readDicomSeries, with what derived DICOM objects need of the series (see DicomSource).
 * `readFile` gives a file's bytes by its path (the web page reads them from memory).
 */
export function readDicomSeriesWithSource(series: DicomSeries, readFile: (path: string) => Uint8Array): { volume: Volume; source: DicomSource } {
  const where = series.folder;
  if (series.files.length < 2) throw new InputError(where, `CT series ${series.seriesUid} has ${series.files.length} slice: a 3D scan needs at least 2`);
  const first = parse(series.files[0]!, readFile(series.files[0]!), false);
  const iop = numbers(first, 'x00200037', 6, series.files[0]!, 'ImageOrientationPatient');
  const rowDir: Vec3 = [iop[0]!, iop[1]!, iop[2]!];
  const colDir: Vec3 = [iop[3]!, iop[4]!, iop[5]!];
  const normal = cross(rowDir, colDir);
  const slices: Slice[] = series.files.map((path, k) => {
    const ds = k === 0 ? first : parse(path, readFile(path), false);
    const o = numbers(ds, 'x00200037', 6, path, 'ImageOrientationPatient');
    if (o.some((v, i) => Math.abs(v - iop[i]!) > ORIENTATION_TOLERANCE)) {
      throw new InputError(path, `orientation ${o.join('\\')} differs from ${series.files[0]}'s ${iop.join('\\')}: two orientations in one series`);
    }
    const position = numbers(ds, 'x00200032', 3, path, 'ImagePositionPatient') as Vec3;
    return { path, ds, position, along: dot(position, normal) };
  });
  slices.sort((a, b) => a.along - b.along);
  const gaps = slices.slice(1).map((s, k) => s.along - slices[k]!.along);
  const step = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
  for (let k = 0; k < gaps.length; k++) {
    const a = slices[k]!;
    const b = slices[k + 1]!;
    if (gaps[k]! < 1e-3) throw new InputError(b.path, `the same slice position as ${a.path} (${a.along.toFixed(3)} mm along the normal)`);
    if (Math.abs(gaps[k]! - step) > SPACING_TOLERANCE * step) {
      const missing = Math.round(gaps[k]! / step) - 1;
      throw new InputError(where, `${gaps[k]!.toFixed(3)} mm between ${fileName(a.path)} and ${fileName(b.path)} where the other slices are ${step.toFixed(3)} mm apart${missing > 0 ? ` (${missing} slice${missing > 1 ? 's' : ''} missing?)` : ''}`);
    }
  }
  // Positions must run along the normal: a sideways drift per slice is gantry tilt (or a sheared stack).
  const span: Vec3 = [0, 1, 2].map((i) => slices[slices.length - 1]!.position[i]! - slices[0]!.position[i]!) as Vec3;
  const spanLength = Math.hypot(...span);
  if (Math.abs(dot(span, normal)) < (1 - 1e-4) * spanLength) {
    const tiltDeg = (Math.acos(Math.min(1, Math.abs(dot(span, normal)) / spanLength)) * 180) / Math.PI;
    throw new InputError(where, `slices are not stacked along their normal (${tiltDeg.toFixed(2)}° off: gantry tilt); resample the series to an untilted grid first`);
  }

  const rows = first.uint16('x00280010');
  const cols = first.uint16('x00280011');
  const ps = numbers(first, 'x00280030', 2, series.files[0]!, 'PixelSpacing');
  if (!rows || !cols) throw new InputError(series.files[0]!, 'no Rows/Columns (0028,0010/0011)');
  const nz = slices.length;
  const plane = rows * cols;
  const hu = new Float32Array(plane * nz);
  let wholeHu = true;
  slices.forEach((s, z) => {
    const { ds, path } = s;
    if (ds.uint16('x00280010') !== rows || ds.uint16('x00280011') !== cols) {
      throw new InputError(path, `${ds.uint16('x00280011')}×${ds.uint16('x00280010')} pixels where the series' first slice has ${cols}×${rows}`);
    }
    const p = numbers(ds, 'x00280030', 2, path, 'PixelSpacing');
    if (Math.abs(p[0]! - ps[0]!) > 1e-4 * ps[0]! || Math.abs(p[1]! - ps[1]!) > 1e-4 * ps[1]!) {
      throw new InputError(path, `PixelSpacing ${p.join('\\')} differs from the series' ${ps.join('\\')}`);
    }
    const syntax = (ds.string('x00020010') ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim();
    const raw = RAW_SYNTAXES[syntax];
    if (!raw) throw new InputError(path, `compressed pixel data (${SYNTAX_NAMES[syntax] ?? 'transfer syntax'} ${syntax}) is not supported: decompress the series first (e.g. gdcmconv --raw or dcmdjpeg)`);
    const samples = ds.uint16('x00280002') ?? 1;
    const bits = ds.uint16('x00280100');
    const signed = ds.uint16('x00280103') === 1;
    if (samples !== 1 || bits !== 16) throw new InputError(path, `${samples} sample(s) of ${bits ?? '?'} bits per pixel: a CT slice has 1 sample of 16 bits`);
    const px = ds.elements.x7fe00010;
    if (!px) throw new InputError(path, 'no pixel data (7FE0,0010)');
    if (px.encapsulatedPixelData) throw new InputError(path, 'encapsulated (compressed) pixel data is not supported');
    if (px.length < 2 * plane || px.dataOffset + 2 * plane > ds.byteArray.length) {
      throw new InputError(path, `pixel data holds ${Math.min(px.length, ds.byteArray.length - px.dataOffset)} bytes, ${2 * plane} expected: truncated?`);
    }
    const slope = ds.string('x00281053') === undefined ? 1 : numbers(ds, 'x00281053', 1, path, 'RescaleSlope')[0]!;
    const intercept = ds.string('x00281052') === undefined ? 0 : numbers(ds, 'x00281052', 1, path, 'RescaleIntercept')[0]!;
    const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + px.dataOffset, 2 * plane);
    const out = z * plane;
    for (let i = 0; i < plane; i++) {
      const v = signed ? view.getInt16(2 * i, raw.littleEndian) : view.getUint16(2 * i, raw.littleEndian);
      const h = v * slope + intercept;
      hu[out + i] = h;
      if (wholeHu && (!Number.isInteger(h) || h < -32768 || h > 32767)) wholeHu = false;
    }
  });

  const rowSpacing = ps[0]!; // between rows: along the column direction
  const colSpacing = ps[1]!; // between columns: along the row direction
  const origin = slices[0]!.position;
  const lpsToRas = [-1, -1, 1];
  // Geometry rounded to float32, as a NIfTI header stores it: the masks are written as NIfTI, and
  // the same scan then gives the same mask whether it comes as DICOM or as its NIfTI conversion
  // (unrounded, the 1e-12 mm differences moved a few hundred voxels of a crop's mask).
  const f = Math.fround;
  const row = (r: number): [number, number, number, number] => [
    f(lpsToRas[r]! * rowDir[r]! * colSpacing),
    f(lpsToRas[r]! * colDir[r]! * rowSpacing),
    f(lpsToRas[r]! * normal[r]! * step),
    f(lpsToRas[r]! * origin[r]!),
  ];
  const affine: Mat4 = [row(0), row(1), row(2), [0, 0, 0, 1]];
  const volume: Volume = { data: wholeHu ? Int16Array.from(hu) : hu, dims: [cols, rows, nz], spacing: [f(colSpacing), f(rowSpacing), f(step)], affine };
  const attributes: Record<string, string> = {};
  for (const [keyword, tag] of Object.entries(COPIED)) {
    const v = first.string(tag);
    if (v !== undefined && v.trim() !== '') attributes[keyword] = v.trim();
  }
  const source: DicomSource = {
    seriesUid: series.seriesUid,
    studyUid: (first.string('x0020000d') ?? '').trim(),
    frameOfReferenceUid: (first.string('x00200052') ?? '').trim(),
    attributes,
    slices: slices.map((s) => ({ sopClassUid: (s.ds.string('x00080016') ?? '').trim(), sopInstanceUid: (s.ds.string('x00080018') ?? '').trim(), positionLps: s.position })),
    orientation: iop,
    pixelSpacing: [ps[0]!, ps[1]!],
    sliceSpacingMm: step,
  };
  return { volume, source };
}