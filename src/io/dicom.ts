/**
 * DICOM CT series in: the files of a series (grouped by SeriesInstanceUID, CT only) become one
 * Volume on exactly the grid the NIfTI route gives (README: same voxels, affine to 1e-3 mm).
 *
 * Geometry: DICOM patient coordinates are LPS mm; the Volume's affine is NIfTI's RAS mm, so its
 * first two rows are negated. Voxel x runs along a row (ImageOrientationPatient's first vector,
 * PixelSpacing[1] apart), y down the columns (second vector, PixelSpacing[0] apart), z along the
 * slice normal (row × column) in the order of ImagePositionPatient along it.
 */
import { readdirSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { InputError } from '../core/errors.js';
import type { Volume } from '../core/volume.js';
import { groupDicomFiles, hasDicomPreamble, parse, readDicomSeriesWithSource, type DicomFileHead, type DicomSeries, type DicomSource } from './dicom-series.js';

export * from './dicom-series.js';

/** Whether a file starts as a DICOM Part 10 file: a 128-byte preamble, then 'DICM'. */
export function isDicomFile(path: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(132);
    return readSync(fd, head, 0, 132, 0) === 132 && hasDicomPreamble(head);
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

export function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Files below `root` (itself included when a file), to `maxDepth` folders down, sorted. */
function walk(root: string, maxDepth: number): string[] {
  const out: string[] = [];
  const visit = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      throw new InputError(dir, `cannot read folder (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) {
        if (depth < maxDepth) visit(path, depth + 1);
      } else if (st.isFile()) out.push(path);
    }
  };
  visit(root, 0);
  return out;
}

/**
 * The CT series below a folder (files with a DICM preamble, 4 folders deep at most), by
 * SeriesInstanceUID; other modalities (RTSTRUCT, SEG, ...) are passed over. The case id of the
 * one CT series below `root` is `root`'s name (a patient's folder, e.g. LUNG1-001/{ct,rtstruct});
 * of several, the name of the entry directly under `root` that holds each (a cohort's folder of
 * patients), with '-S<SeriesNumber>' when one entry holds several. Sorted by id.
 */
export function findDicomSeries(root: string): DicomSeries[] {
  return scanDicomFolder(root).series;
}

/** The CT series (as findDicomSeries) and the RTSTRUCT files below a folder. */
export function scanDicomFolder(root: string): { series: DicomSeries[]; rtstructs: string[] } {
  const heads: DicomFileHead[] = [];
  for (const path of walk(root, 4)) {
    if (!isDicomFile(path)) continue;
    heads.push({ path, rel: relative(root, path).split(sep), ds: parse(path, readBytes(path), true) });
  }
  return groupDicomFiles(basename(resolve(root)), heads);
}

/**
 * Reads one CT series into a Volume of HU (int16 when every slice's rescale gives whole numbers in
 * its range, else float32). InputError, naming a file or the folder, for what cannot make one
 * regular 3D grid: compressed pixels, a missing or doubled slice, gantry tilt, two orientations or
 * sizes, no pixel data.
 */
export function readDicomSeries(series: DicomSeries): Volume {
  return readDicomSeriesFromDisk(series).volume;
}

/** readDicomSeriesWithSource with the series' files read from disk. */
export function readDicomSeriesFromDisk(series: DicomSeries): { volume: Volume; source: DicomSource } {
  return readDicomSeriesWithSource(series, readBytes);
}