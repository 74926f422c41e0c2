/**
 * The challenge's folder layout:
 *   <root>/train/volume/<ID>_vol.nii.gz, <root>/train/seg/<ID>_seg.nii.gz,
 *   <root>/train/lungs_seg/<ID>_lungseg.nii.gz, <root>/test/volume/<ID>_vol.nii.gz
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
import { InputError } from '../core/errors.js';
import { caseIdOfName } from './case-id.js';
import { scanDicomFolder } from './dicom.js';
import { pickRoi, readRtStruct } from './rtstruct.js';

export interface CaseFiles {
  id: string;
  volume: string;
  /** Tumour mask, when the case is labelled. */
  seg?: string;
  /** Lung mask, when given (training only). */
  lungs?: string;
  /** When `seg` is an RTSTRUCT: the name of its tumour ROI. */
  segRoi?: string;
}

/** The case id of a file: its name up to the first '_' (as the challenge kit does). */
export function caseIdOf(path: string): string {
  return caseIdOfName(basename(path));
}

function isNiftiName(name: string): boolean {
  return name.endsWith('.nii.gz') || name.endsWith('.nii');
}

/** NIfTI files in a folder, sorted by name. InputError when the folder is missing or unreadable. */
export function listNiftiFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new InputError(dir, 'not a folder');
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(dir, `cannot read folder (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return names.filter(isNiftiName).sort().map((n) => join(dir, n));
}

/**
 * The labelled cases of a challenge-layout folder (`<root>/train/...`, or `<root>` itself when it
 * holds volume/ and seg/ directly), sorted by id; or, without a volume folder, the DICOM CT series
 * below `root` with their RTSTRUCTs (see listDicomTrainingCases). With `unlabelled`, cases
 * without a tumour mask are listed too (without `seg`).
 */
export function listTrainingCases(root: string, opts: { unlabelled?: boolean; roi?: string } = {}): CaseFiles[] {
  const base = existsSync(join(root, 'train', 'volume')) ? join(root, 'train') : root;
  if (!existsSync(join(base, 'volume'))) {
    const dicom = existsSync(root) && statSync(root).isDirectory() ? listDicomTrainingCases(root, opts) : [];
    if (dicom.length > 0) return dicom;
    throw new InputError(root, 'no train/volume folder (expected the challenge layout) and no DICOM CT series');
  }
  const segs = new Map<string, string>();
  if (existsSync(join(base, 'seg'))) for (const p of listNiftiFiles(join(base, 'seg'))) segs.set(caseIdOf(p), p);
  const lungs = new Map<string, string>();
  if (existsSync(join(base, 'lungs_seg'))) for (const p of listNiftiFiles(join(base, 'lungs_seg'))) lungs.set(caseIdOf(p), p);
  const cases: CaseFiles[] = [];
  for (const volume of listNiftiFiles(join(base, 'volume'))) {
    const id = caseIdOf(volume);
    const seg = segs.get(id);
    if (!seg && !opts.unlabelled) throw new InputError(volume, `no tumour mask ${id}_seg.nii.gz in ${join(base, 'seg')}`);
    const c: CaseFiles = { id, volume };
    if (seg) c.seg = seg;
    const lung = lungs.get(id);
    if (lung) c.lungs = lung;
    cases.push(c);
  }
  if (cases.length === 0) throw new InputError(join(base, 'volume'), 'no NIfTI volumes found');
  return cases;
}

/**
 * The DICOM CT series below `root` (case ids as findDicomSeries gives them), each with the
 * RTSTRUCT that references it (by SeriesInstanceUID; or the only RTSTRUCT, for the only series)
 * and its tumour ROI: `roi` by name, else the first GTV / tumour ROI.
 */
export function listDicomTrainingCases(root: string, opts: { unlabelled?: boolean; roi?: string } = {}): CaseFiles[] {
  const { series, rtstructs } = scanDicomFolder(root);
  const structs = rtstructs.map((path) => readRtStruct(path));
  return series.map((s) => {
    let matches = structs.filter((rt) => rt.referencedSeriesUid === s.seriesUid);
    if (matches.length === 0 && series.length === 1 && structs.length === 1 && structs[0]!.referencedSeriesUid === null) matches = structs;
    if (matches.length > 1) throw new InputError(s.folder, `${matches.length} RTSTRUCTs reference this CT series (${matches.map((m) => m.path).join(', ')}): keep one`);
    const c: CaseFiles = { id: s.id, volume: s.folder };
    const rt = matches[0];
    if (rt) {
      c.seg = rt.path;
      c.segRoi = pickRoi(rt, opts.roi).name;
    } else if (!opts.unlabelled) {
      throw new InputError(s.folder, 'no RTSTRUCT references this CT series: training needs its tumour contour');
    }
    return c;
  });
}
