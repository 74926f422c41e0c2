/**
 * Folders of mask files, as the challenge kit reads them: every NIfTI file is one case, named by
 * its file name up to the first '_'. Other files (a prediction folder also holds lungtumor's
 * prediction_log.json and submission CSV) are passed over, but named to the caller so nothing is
 * skipped silently; a file named .nii/.nii.gz that is not NIfTI is an error when it is read.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../core/errors.js';
import type { Vec3 } from '../core/volume.js';
import { readNifti } from '../io/nifti.js';
import { binaryLabels } from '../io/masks.js';
import { caseIdOf, listNiftiFiles } from '../io/cohort.js';

export interface MaskFile {
  id: string;
  path: string;
}

/**
 * The NIfTI masks of a folder sorted by file name, with their case ids. `onIgnored` receives the
 * other (non-hidden) files of the folder.
 */
export function listMaskFolder(dir: string, onIgnored: (paths: string[]) => void = () => {}): MaskFile[] {
  const files = listNiftiFiles(dir); // InputError when the folder is missing or unreadable
  const nifti = new Set(files);
  const ignored: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name.startsWith('.') || nifti.has(path)) continue;
    let isFile = false;
    try {
      isFile = statSync(path).isFile();
    } catch {
      // vanished or unreadable between listing and stat: not a mask either way
    }
    if (isFile) ignored.push(path);
  }
  if (ignored.length > 0) onIgnored(ignored);
  if (files.length === 0) throw new InputError(dir, 'no NIfTI masks (.nii or .nii.gz) in this folder');
  const seen = new Map<string, string>();
  const out: MaskFile[] = [];
  for (const path of files) {
    const id = caseIdOf(path);
    const other = seen.get(id);
    if (other) throw new InputError(path, `case id '${id}' is also the id of ${other}`);
    seen.set(id, path);
    out.push({ id, path });
  }
  return out;
}

/**
 * The masks of several folders (the parts of a sharded prediction) as if they were one: sorted by
 * file name, a case id found in two folders an InputError.
 */
export function listMaskFolders(dirs: readonly string[], onIgnored: (paths: string[]) => void = () => {}): MaskFile[] {
  const seen = new Map<string, string>();
  const out: MaskFile[] = [];
  for (const dir of dirs) {
    for (const m of listMaskFolder(dir, onIgnored)) {
      const other = seen.get(m.id);
      if (other) throw new InputError(m.path, `case id '${m.id}' is also the id of ${other}`);
      seen.set(m.id, m.path);
      out.push(m);
    }
  }
  const name = (m: MaskFile): string => basename(m.path);
  return out.sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
}

/** The line that names files passed over in a mask folder. */
export function passedOver(paths: string[]): string {
  return `passing over ${paths.length} file(s) that are not NIfTI masks: ${paths.join(', ')}`;
}

export interface Mask {
  /** NIfTI order (x fastest: index = x + nx * (y + ny * z)); non-zero = foreground. */
  mask: Uint8Array;
  dims: Vec3;
  /** pixdim[1..3] of the header (mm per voxel along x, y, z). */
  pixdim: Vec3;
  /** The array shape the kit sees (nibabel's), e.g. [512, 512, 134]. */
  shape: number[];
}

export interface ReadMaskOptions {
  /** Count every non-zero label as tumour (else labels other than 0/1 are an InputError). */
  binarize?: boolean;
  /** Told when `binarize` relabelled voxels. */
  warn?: (line: string) => void;
}

/** The error's advice on a multi-label mask, for the commands that offer `--binarize`. */
export const BINARIZE_HINT = 'pass --binarize to count every non-zero label as tumour';

/**
 * Reads a mask file; InputError naming it when it is not a readable 3-D NIfTI or holds labels
 * other than 0 and 1 (unless `binarize`).
 */
export function readMask(path: string, opts: ReadMaskOptions = {}): Mask {
  const vol = readNifti(path);
  const { mask, relabelled } = binaryLabels(vol.data, vol.dims, path, { binarize: opts.binarize, hint: BINARIZE_HINT });
  if (relabelled > 0) opts.warn?.(`${path}: ${relabelled} voxel${relabelled === 1 ? '' : 's'} with labels other than 0/1 counted as tumour (--binarize)`);
  const src = vol.source;
  const pixdim: Vec3 = src ? [src.pixdim[1]!, src.pixdim[2]!, src.pixdim[3]!] : [...vol.spacing];
  const nd = src?.dim[0];
  const shape = src && nd !== undefined && nd >= 3 && nd <= 7 ? src.dim.slice(1, nd + 1) : [...vol.dims];
  return { mask, dims: vol.dims, pixdim, shape };
}
