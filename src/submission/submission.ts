/**
 * The challenge's submission CSV: one row per mask, `id,rle,recist,volume,data_shape`, written
 * the way the kit's pandas/csv writer does — '\n' line ends, fields quoted only when they hold a
 * comma, a quote or a line break (so only data_shape is, e.g. "(512, 512, 134)"), floats as
 * Python's repr (`0.0`, `6.71`, `1e-05`).
 */
import { stringify } from 'csv-stringify/sync';
import type { Vec3 } from '../core/volume.js';
import type { Progress } from '../core/progress.js';
import { measureMask } from '../metrics/measures.js';
import { foregroundIndices } from '../metrics/sparse.js';
import { listMaskFolders, passedOver, readMask } from '../metrics/maskFolder.js';
import { rleEncode } from './rle.js';
import { pyFloatRepr, pyIntTupleRepr } from './pyrepr.js';

export const SUBMISSION_COLUMNS = ['id', 'rle', 'recist', 'volume', 'data_shape'] as const;

export interface SubmissionRow {
  id: string;
  /** Run-length code (1-based "start length" pairs, C order of the (x, y, z) array); "" when empty. */
  rle: string;
  /** The kit's RECIST, mm. */
  recistMm: number;
  /** The kit's volume, mL, rounded to 0.01. */
  volumeMl: number;
  /** Array shape as the kit sees it, e.g. [512, 512, 134]. */
  shape: number[];
}

/** The submission row of one mask (NIfTI order, x fastest; non-zero = foreground). */
export function submissionRow(id: string, mask: ArrayLike<number>, dims: Vec3, pixdim: Vec3, shape: number[] = [...dims]): SubmissionRow {
  const indices = foregroundIndices(mask);
  const { recistMm, volumeMl } = measureMask(mask, dims, pixdim, indices);
  return { id, rle: rleEncode(mask, dims, indices), recistMm, volumeMl, shape };
}

/** The CSV text (header + rows, '\n' after each). */
export function submissionCsv(rows: readonly SubmissionRow[]): string {
  return stringify(
    rows.map((r) => [r.id, r.rle, pyFloatRepr(r.recistMm), pyFloatRepr(r.volumeMl), pyIntTupleRepr(r.shape)]),
    { header: true, columns: [...SUBMISSION_COLUMNS], record_delimiter: '\n', quoted_empty: false },
  );
}

/**
 * Rows for every mask in the folders (one, or the parts of a sharded prediction), in file-name
 * order (as the kit's sorted listing); InputError on a bad folder or file (labels other than 0/1
 * included, unless `binarize`) and on a case id in two folders. `progress` makes a progress bar
 * for the given number of masks.
 */
export function submissionRowsOfFolders(dirs: readonly string[], progress?: (total: number) => Progress, log?: (line: string) => void, binarize = false): SubmissionRow[] {
  const files = listMaskFolders(dirs, (paths) => log?.(passedOver(paths)));
  const bar = progress?.(files.length);
  const rows: SubmissionRow[] = [];
  for (const { id, path } of files) {
    const m = readMask(path, { binarize, warn: log });
    rows.push(submissionRow(id, m.mask, m.dims, m.pixdim, m.shape));
    bar?.tick(id);
  }
  return rows;
}
