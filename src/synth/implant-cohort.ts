/**
 * `lungtumor synth --into DIR`: a cohort of real scans with synthetic tumours implanted, in the
 * challenge layout:
 *   <out>/train/volume/<SOURCE>-IMP<k>_vol.nii.gz     the source CT with the implant (int16 HU, the source's header)
 *   <out>/train/seg/<SOURCE>-IMP<k>_seg.nii.gz        the primary tumour: the implant, or the scan's own tumour when that stays larger
 *   <out>/train/lungs_seg/<SOURCE>-IMP<k>_lungseg.nii.gz  the source's lung mask without the implant (only when the source has one)
 *   <out>/train/metadata.csv                          one row per implant
 * Sources are the training cases of DIR (with or without tumour masks), never its test scans.
 * The folder is built under a temporary name and renamed into place when complete.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { InputError } from '../core/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../core/atomic.js';
import { Rng } from '../core/random.js';
import { sameGrid, type Vec3 } from '../core/volume.js';
import { applyAffine } from '../geometry/affine.js';
import { findLungs } from '../features/lungs.js';
import { fromCanonical, toCanonical } from '../geometry/orient.js';
import { listTrainingCases, type CaseFiles } from '../io/cohort.js';
import { readMaskFor } from '../io/masks.js';
import { writeNifti, writeNiftiMask } from '../io/nifti.js';
import { readScan } from '../io/scans.js';
import { caseSeed } from './case.js';
import { checkOutDir } from './cohort.js';
import { paintImplant, planImplant, prepareImplantScan, priorsFromTumours, tumourHuStats, type ImplantPlan, type ImplantPriors, type TumourHuStats } from './implant.js';

export const MAX_IMPLANTS_PER_SCAN = 50;

export interface ImplantCohortOptions {
  /** Implants per source scan (each its own output case). */
  perScan: number;
  seed: number;
  /** Consolidated lung against some implants (IMPLANT_OPACITY_SHARE of those of 2 cm or more). */
  collapse: boolean;
  force?: boolean;
  /** Called after each case is written, and for each source skipped (with the reason). */
  onCase?: (id: string) => void;
  onSkip?: (sourceId: string, why: string) => void;
}

export interface ImplantRow {
  id: string;
  sourceId: string;
  kind: string;
  shape: string;
  site: string;
  side: string;
  diameterMm: number;
  implantMl: number;
  centreWorldMm: Vec3;
  solidHu: number | null;
  groundGlassHu: number | null;
  textureSdHu: number;
  collapseHu: number | null;
  realTumourMl: number | null;
  /** Which lesion the seg mask holds: the implant, or the scan's own tumour (then the implant is a distractor, label 0). */
  primary: 'implant' | 'real';
}

export const IMPLANT_COLUMNS = [
  'id', 'source_id', 'kind', 'shape', 'site', 'side', 'diameter_mm', 'implant_ml', 'centre_x_mm', 'centre_y_mm', 'centre_z_mm',
  'solid_hu', 'ground_glass_hu', 'texture_sd_hu', 'collapse_hu', 'real_tumour_ml', 'primary',
] as const;

export interface ImplantCohortResult {
  rows: ImplantRow[];
  priors: ImplantPriors;
  skipped: { sourceId: string; why: string }[];
}

/** The source cases: `<root>/train/...` (or `<root>` holding volume/ directly), tumour and lung masks optional. */
export function listImplantSources(root: string): CaseFiles[] {
  const base = existsSync(join(root, 'train', 'volume')) ? join(root, 'train') : root;
  if (basename(resolve(base)) === 'test') throw new InputError(root, 'implants are made from training scans only, not from a test folder');
  return listTrainingCases(root, { unlabelled: true });
}

/** A seed for implant k (1-based) of source `id`: depends on nothing else, so adding scans moves no implant. */
export function implantSeed(seed: number, id: string, k: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return caseSeed((seed ^ h) >>> 0, k);
}

function rowCells(r: ImplantRow): (string | number)[] {
  const num = (v: number | null, digits: number): string => (v === null ? '' : v.toFixed(digits));
  return [
    r.id, r.sourceId, r.kind, r.shape, r.site, r.side, num(r.diameterMm, 1), num(r.implantMl, 3),
    num(r.centreWorldMm[0], 1), num(r.centreWorldMm[1], 1), num(r.centreWorldMm[2], 1),
    num(r.solidHu, 1), num(r.groundGlassHu, 1), num(r.textureSdHu, 1), num(r.collapseHu, 1), num(r.realTumourMl, 3), r.primary,
  ];
}

export function implantMetadataCsv(rows: readonly ImplantRow[]): string {
  return stringify([[...IMPLANT_COLUMNS], ...rows.map(rowCells)]);
}

/** HU as int16 (rounded, clamped): the implant cohort's CT type whatever the source's. */
function toInt16(data: ArrayLike<number>, path: string): Int16Array {
  if (data instanceof Int16Array) return data;
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) throw new InputError(path, `voxel ${i} is ${v}: not a CT in HU`);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

/** Reads every labelled source's tumour once for the priors. */
export function cohortTumourStats(sources: readonly CaseFiles[]): TumourHuStats[] {
  const out: TumourHuStats[] = [];
  for (const c of sources) {
    if (!c.seg) continue;
    const ct = readScan(c.volume);
    const seg = readMaskFor(c.seg, ct, c.segRoi);
    const s = tumourHuStats(c.id, ct.data, seg, ct.dims, ct.spacing);
    if (s) out.push(s);
  }
  return out;
}

/**
 * Writes the implant cohort. Each source is read once and gets `perScan` implants; crops (scans
 * whose lungs reach their edges: the crop is cut around its own tumour) and scans without lungs
 * are skipped, with the reason.
 */
export async function writeImplantCohort(sourceRoot: string, outDir: string, opts: ImplantCohortOptions): Promise<ImplantCohortResult> {
  if (!Number.isInteger(opts.perScan) || opts.perScan < 1 || opts.perScan > MAX_IMPLANTS_PER_SCAN) {
    throw new InputError('', `implants per scan must be a whole number from 1 to ${MAX_IMPLANTS_PER_SCAN}, got ${opts.perScan}`);
  }
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) {
    throw new InputError('', `the seed must be a whole number from 0 to 4294967295, got ${opts.seed}`);
  }
  if (resolve(sourceRoot) === resolve(outDir)) throw new InputError(outDir, 'the output folder must not be the source cohort');
  const sources = listImplantSources(sourceRoot);
  checkOutDir(outDir, opts.force ?? false);
  const priors = priorsFromTumours(cohortTumourStats(sources));
  const rows: ImplantRow[] = [];
  const skipped: { sourceId: string; why: string }[] = [];
  const skip = (sourceId: string, why: string): void => {
    skipped.push({ sourceId, why });
    opts.onSkip?.(sourceId, why);
  };
  await writeDirAtomic(outDir, (tmp) => {
    for (const src of sources) {
      const ct = readScan(src.volume);
      const hu = toInt16(ct.data, src.volume);
      const { volume: can, orientation } = toCanonical({ ...ct, data: hu });
      const lungResult = findLungs(can.data, can.dims, can.spacing);
      if (!lungResult.found) {
        skip(src.id, 'no lungs found');
        continue;
      }
      if (lungResult.crop) {
        skip(src.id, 'a crop around its own tumour (an implant elsewhere would be a primary off the crop\'s centre)');
        continue;
      }
      const lungSeg = src.lungs ? readMaskFor(src.lungs, ct) : null;
      const lungs = lungSeg ? toCanonical({ ...ct, data: lungSeg }).volume.data : lungResult.lungs;
      const realSeg = src.seg ? readMaskFor(src.seg, ct, src.segRoi) : null;
      const real = realSeg ? toCanonical({ ...ct, data: realSeg }).volume.data : null;
      const voxelMl = (ct.spacing[0] * ct.spacing[1] * ct.spacing[2]) / 1000;
      const scan = prepareImplantScan(can.data, can.dims, can.spacing, lungs, lungResult.midlineX, real);
      for (let k = 1; k <= opts.perScan; k++) {
        const id = `${src.id}-IMP${k}`;
        const rng = new Rng(implantSeed(opts.seed, src.id, k));
        const rPlan = rng.fork();
        const rPaint = rng.fork();
        const plan = planImplant(rPlan, scan, priors, opts.collapse);
        if (!plan) {
          skip(src.id, `implant ${k}: no place in the lungs fits it`);
          continue;
        }
        const done = paintImplant(rPaint, scan, plan);
        const implantMl = done.voxels * voxelMl;
        const realMl = realSeg ? scan.realTumourMl : null;
        const primary: ImplantRow['primary'] = realMl !== null && realMl >= implantMl ? 'real' : 'implant';
        const outCt = fromCanonical(done.ct, orientation);
        const implantMask = fromCanonical(done.mask, orientation);
        const t = join(tmp, 'train');
        writeNifti(join(t, 'volume', `${id}_vol.nii.gz`), sameGrid(ct, outCt));
        writeNiftiMask(join(t, 'seg', `${id}_seg.nii.gz`), primary === 'real' ? realSeg! : implantMask, ct);
        if (lungSeg) {
          const l = lungSeg.slice();
          for (let i = 0; i < l.length; i++) if (implantMask[i]) l[i] = 0;
          writeNiftiMask(join(t, 'lungs_seg', `${id}_lungseg.nii.gz`), l, ct);
        }
        rows.push(rowOf(id, src.id, plan, implantMl, realMl, primary, applyAffine(can.affine, plan.tumour.centre.map((v, a) => v / can.spacing[a]!) as Vec3)));
        opts.onCase?.(id);
      }
    }
    if (rows.length === 0) throw new InputError(sourceRoot, `no implant could be made (${skipped.map((s) => `${s.sourceId}: ${s.why}`).join('; ')})`);
    writeFileAtomic(join(tmp, 'train', 'metadata.csv'), implantMetadataCsv(rows));
  });
  return { rows, priors, skipped };
}

function rowOf(id: string, sourceId: string, plan: ImplantPlan, implantMl: number, realMl: number | null, primary: ImplantRow['primary'], centre: Vec3): ImplantRow {
  const t = plan.tumour;
  return {
    id,
    sourceId,
    kind: plan.kind,
    shape: plan.kind === 'ground-glass' ? 'ground-glass' : t.shape,
    site: plan.site,
    side: t.side,
    diameterMm: t.diameterMm,
    implantMl,
    centreWorldMm: centre,
    solidHu: plan.kind === 'ground-glass' ? null : t.solidHu,
    groundGlassHu: t.ggoHu,
    textureSdHu: plan.textureSdHu,
    collapseHu: plan.opacity ? plan.opacity.hu : null,
    realTumourMl: realMl,
    primary,
  };
}
