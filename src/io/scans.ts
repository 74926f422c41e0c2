/**
 * The scans a user points `predict` (or `report --scans`) at: NIfTI files, or DICOM CT series,
 * each with its case id and one way to read it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import type { Volume } from '../core/volume.js';
import { caseIdOf, listNiftiFiles } from './cohort.js';
import { readNifti, readNiftiAsync, readNiftiHeader } from './nifti.js';
import { findDicomSeries, isDicomFile, readDicomSeries, readDicomSeriesFromDisk, type DicomSource } from './dicom.js';

export interface ScanInput {
  id: string;
  /** The NIfTI file, or the folder of the DICOM series' files. */
  path: string;
  format: 'nifti' | 'dicom';
  /** The scan, and for DICOM what derived DICOM outputs reference. */
  read(): { volume: Volume; dicom: DicomSource | null };
  /** The same, with a NIfTI file's inflating on zlib's thread pool (a DICOM series is read at once). */
  readAsync(): Promise<{ volume: Volume; dicom: DicomSource | null }>;
}

const niftiInput = (path: string): ScanInput => ({
  id: caseIdOf(path),
  path,
  format: 'nifti',
  read: () => ({ volume: readNifti(path), dicom: null }),
  readAsync: async () => ({ volume: await readNiftiAsync(path), dicom: null }),
});

/**
 * One NIfTI file; or a folder's NIfTI files (those of its test/volume, volume or train/volume
 * subfolder when present); or, when it holds no NIfTI file, the DICOM CT series below it (see
 * findDicomSeries for their case ids). NIfTI files in name order, series in case-id order;
 * InputError when there is nothing to read.
 */
export function listScanInputs(input: string): ScanInput[] {
  if (!existsSync(input)) throw new InputError(input, 'no such file or folder');
  if (statSync(input).isFile()) {
    if (isDicomFile(input)) throw new InputError(input, 'one DICOM file: give the folder of its series');
    return [niftiInput(input)];
  }
  for (const sub of [join(input, 'test', 'volume'), join(input, 'volume'), join(input, 'train', 'volume')]) {
    if (existsSync(sub) && statSync(sub).isDirectory()) return listNiftiFiles(sub).map(niftiInput);
  }
  const files = listNiftiFiles(input);
  if (files.length > 0) return files.map(niftiInput);
  const series = findDicomSeries(input);
  if (series.length === 0) throw new InputError(input, 'no .nii or .nii.gz scans and no DICOM CT series in this folder');
  return series.map((s) => {
    const read = (): { volume: Volume; dicom: DicomSource } => {
      const { volume, source } = readDicomSeriesFromDisk(s);
      return { volume, dicom: source };
    };
    return { id: s.id, path: s.folder, format: 'dicom', read, readAsync: async () => read() };
  });
}

/** A scan's grid without its voxels where the format allows (a NIfTI header; a DICOM series is read whole). */
export function readScanGeometry(path: string): { dims: Volume['dims']; spacing: Volume['spacing']; affine: Volume['affine'] } {
  if (existsSync(path) && statSync(path).isDirectory()) {
    const { dims, spacing, affine } = readScan(path);
    return { dims, spacing, affine };
  }
  return readNiftiHeader(path);
}

/** A scan by its path as a prediction log names it: a NIfTI file, or a folder holding one DICOM CT series. */
export function readScan(path: string): Volume {
  if (existsSync(path) && statSync(path).isDirectory()) {
    const series = findDicomSeries(path);
    if (series.length !== 1) throw new InputError(path, series.length === 0 ? 'no DICOM CT series in this folder' : `${series.length} DICOM CT series in this folder: which one is the scan?`);
    return readDicomSeries(series[0]!);
  }
  return readNifti(path);
}
