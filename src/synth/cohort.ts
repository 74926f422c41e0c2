/**
 * Writes a synthetic cohort in the challenge layout:
 *   <out>/train/volume/<ID>_vol.nii.gz       CT, int16 HU
 *   <out>/train/seg/<ID>_seg.nii.gz          primary tumour, uint8 0/1
 *   <out>/train/lungs_seg/<ID>_lungseg.nii.gz  lungs without the tumour, uint8 0/1
 *   <out>/train/metadata.csv                 one row per case (clinical fields may be empty)
 * The folder is built under a temporary name and renamed into place when complete.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { InputError } from '../core/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../core/atomic.js';
import { writeNifti } from '../io/nifti.js';
import type { Volume } from '../core/volume.js';
import { generateCase, type SynthCase } from './case.js';
import { SYNTH_SIZES, type SynthSize } from './grid.js';
import { META_COLUMNS, metaRow, type SynthMeta } from './meta.js';

export const MAX_CASES = 9999;

export interface CohortOptions {
  cases: number;
  seed: number;
  size?: SynthSize;
  /** Collapsed or consolidated lung against some tumours (`GenerateOptions.collapse`). */
  collapse?: boolean;
  /** Replace a non-empty existing output folder (otherwise that is an InputError). */
  force?: boolean;
  /** Called after each case is written (for a progress bar). */
  onCase?: (id: string, index: number) => void;
}

export interface CohortResult {
  ids: string[];
  metas: SynthMeta[];
}

/** The three files of a case under `<root>/train`. */
export function casePaths(root: string, id: string): { volume: string; seg: string; lungs: string } {
  const t = join(root, 'train');
  return {
    volume: join(t, 'volume', `${id}_vol.nii.gz`),
    seg: join(t, 'seg', `${id}_seg.nii.gz`),
    lungs: join(t, 'lungs_seg', `${id}_lungseg.nii.gz`),
  };
}

/** Writes one generated case's three NIfTI files under `<root>/train`. */
export function writeCase(root: string, c: SynthCase): void {
  const paths = casePaths(root, c.id);
  const like = (data: Uint8Array): Volume<Uint8Array> => ({ data, dims: c.ct.dims, spacing: c.ct.spacing, affine: c.ct.affine });
  writeNifti(paths.volume, c.ct);
  writeNifti(paths.seg, like(c.tumour));
  writeNifti(paths.lungs, like(c.lungs));
}

/** metadata.csv text for these cases. */
export function metadataCsv(metas: readonly SynthMeta[]): string {
  return stringify([[...META_COLUMNS], ...metas.map(metaRow)]);
}

function checkOptions(opts: CohortOptions): void {
  if (!Number.isInteger(opts.cases) || opts.cases < 1 || opts.cases > MAX_CASES) {
    throw new InputError('', `the number of cases must be a whole number from 1 to ${MAX_CASES}, got ${opts.cases}`);
  }
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) {
    throw new InputError('', `the seed must be a whole number from 0 to 4294967295, got ${opts.seed}`);
  }
  if (opts.size !== undefined && !SYNTH_SIZES.includes(opts.size)) {
    throw new InputError('', `size must be one of ${SYNTH_SIZES.join(', ')}, got '${String(opts.size)}'`);
  }
}

/** Refuses to overwrite anything unless forced: an existing non-empty folder, or a file, at `outDir`. */
export function checkOutDir(outDir: string, force: boolean): void {
  let st;
  try {
    st = statSync(outDir);
  } catch {
    return;
  }
  if (!st.isDirectory()) throw new InputError(outDir, 'exists and is not a folder');
  if (!force && readdirSync(outDir).length > 0) {
    throw new InputError(outDir, 'folder exists and is not empty (use --force to replace it)');
  }
}

/** Generates and writes a cohort; cases are made and written one at a time (memory: one case). */
export async function writeCohort(outDir: string, opts: CohortOptions): Promise<CohortResult> {
  checkOptions(opts);
  checkOutDir(outDir, opts.force ?? false);
  const ids: string[] = [];
  const metas: SynthMeta[] = [];
  await writeDirAtomic(outDir, (tmp) => {
    for (let i = 0; i < opts.cases; i++) {
      const c = generateCase(opts.seed, i, { size: opts.size ?? 'small', collapse: opts.collapse ?? false });
      writeCase(tmp, c);
      ids.push(c.id);
      metas.push(c.meta);
      opts.onCase?.(c.id, i);
    }
    writeFileAtomic(join(tmp, 'train', 'metadata.csv'), metadataCsv(metas));
  });
  return { ids, metas };
}
