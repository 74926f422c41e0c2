/**
 * RTSTRUCT in: the ROIs a planning system drew on a CT, rasterised onto the CT's grid as
 * `../shared/data/dicom/README.md` made the shared masks: per slice, a voxel is inside when its
 * centre is inside the contour (even-odd), and contours of one slice are XOR-ed (holes).
 */
import { InputError } from '../core/errors.js';
import { parse, readBytes } from './dicom.js';
import type { Volume } from '../core/volume.js';
import { applyAffine, invertAffine } from '../geometry/affine.js';

export interface RtStructRoi {
  number: number;
  name: string;
  /** Closed planar contours: x, y, z triples in DICOM patient coordinates (LPS mm). */
  contours: Float64Array[];
}

export interface RtStruct {
  path: string;
  rois: RtStructRoi[];
  /** SeriesInstanceUID of the CT series the contours were drawn on, when the file says. */
  referencedSeriesUid: string | null;
}

export function readRtStruct(path: string): RtStruct {
  const ds = parse(path, readBytes(path), false);
  if ((ds.string('x00080060') ?? '').trim().toUpperCase() !== 'RTSTRUCT') throw new InputError(path, `not an RTSTRUCT (Modality ${ds.string('x00080060') ?? 'missing'})`);
  const names = new Map<number, string>();
  for (const item of ds.elements.x30060020?.items ?? []) {
    const n = Number(item.dataSet?.string('x30060022'));
    if (Number.isInteger(n)) names.set(n, (item.dataSet?.string('x30060026') ?? '').trim());
  }
  const rois: RtStructRoi[] = [];
  for (const item of ds.elements.x30060039?.items ?? []) {
    const number = Number(item.dataSet?.string('x30060084'));
    const contours: Float64Array[] = [];
    for (const c of item.dataSet?.elements.x30060040?.items ?? []) {
      const type = (c.dataSet?.string('x30060042') ?? '').trim();
      if (type !== 'CLOSED_PLANAR') continue; // points and open lines enclose nothing
      const values = (c.dataSet?.string('x30060050') ?? '').split('\\').map(Number);
      if (values.length < 9 || values.length % 3 !== 0 || values.some((v) => !Number.isFinite(v))) {
        throw new InputError(path, `ROI ${number}: a contour whose ContourData is not x\\y\\z triples of at least 3 points`);
      }
      contours.push(Float64Array.from(values));
    }
    rois.push({ number, name: names.get(number) ?? `ROI ${number}`, contours });
  }
  const refSeries = ds.elements.x30060010?.items?.[0]?.dataSet?.elements.x30060012?.items?.[0]?.dataSet
    ?.elements.x30060014?.items?.[0]?.dataSet?.string('x0020000e') ?? null;
  return { path, rois, referencedSeriesUid: refSeries };
}

/** ROI names taken for the tumour when no name is given: the gross tumour volume, or a 'tumour'. */
const TUMOUR_NAME = /^(gtv|tumou?r)/i;

/**
 * The ROI to train on: the one named `name` (case-insensitive), or else the first (by ROI number)
 * whose name is a GTV or tumour; InputError naming the ROIs there are when none fits.
 */
export function pickRoi(rt: RtStruct, name?: string): RtStructRoi {
  const withContours = rt.rois.filter((r) => r.contours.length > 0);
  const listed = (): string => rt.rois.map((r) => `'${r.name}'`).join(', ') || 'none';
  if (name !== undefined) {
    const hit = withContours.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!hit) throw new InputError(rt.path, `no ROI named '${name}' with contours (ROIs: ${listed()})`);
    return hit;
  }
  const hit = [...withContours].sort((a, b) => a.number - b.number).find((r) => TUMOUR_NAME.test(r.name));
  if (!hit) throw new InputError(rt.path, `no ROI named like a tumour (GTV…, tumour): name it with --roi (ROIs: ${listed()})`);
  return hit;
}

/**
 * The ROI as a mask on `ct`'s grid (NIfTI order, 0/1). Each contour lies on one slice; a contour
 * more than a tenth of a slice off every slice plane is an InputError (wrong series, or tilt).
 */
export function rasteriseRoi(roi: RtStructRoi, ct: Volume, path: string): Uint8Array {
  const [nx, ny, nz] = ct.dims;
  const toVoxel = invertAffine(ct.affine);
  const mask = new Uint8Array(nx * ny * nz);
  const slice = new Uint8Array(nx * ny);
  for (const c of roi.contours) {
    const n = c.length / 3;
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    let k = 0;
    for (let p = 0; p < n; p++) {
      // LPS (DICOM) → RAS (the affine's world) → voxel.
      const v = applyAffine(toVoxel, [-c[3 * p]!, -c[3 * p + 1]!, c[3 * p + 2]!]);
      xs[p] = v[0];
      ys[p] = v[1];
      k += v[2] / n;
    }
    const z = Math.round(k);
    if (Math.abs(k - z) > 0.1 || z < 0 || z >= nz) {
      throw new InputError(path, `ROI '${roi.name}': a contour at slice position ${k.toFixed(2)} is not on a slice of the CT (0..${nz - 1})`);
    }
    slice.fill(0);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let p = 0; p < n; p++) {
      x0 = Math.min(x0, xs[p]!); x1 = Math.max(x1, xs[p]!);
      y0 = Math.min(y0, ys[p]!); y1 = Math.max(y1, ys[p]!);
    }
    const ja = Math.max(0, Math.ceil(y0)), jb = Math.min(ny - 1, Math.floor(y1));
    const ia = Math.max(0, Math.ceil(x0)), ib = Math.min(nx - 1, Math.floor(x1));
    for (let j = ja; j <= jb; j++) {
      for (let i = ia; i <= ib; i++) {
        // Even-odd: count edge crossings of a ray from the pixel centre towards +x.
        let inside = false;
        for (let p = 0, q = n - 1; p < n; q = p++) {
          const ypi = ys[p]!, ypq = ys[q]!;
          if ((ypi > j) !== (ypq > j) && i < ((xs[q]! - xs[p]!) * (j - ypi)) / (ypq - ypi) + xs[p]!) inside = !inside;
        }
        if (inside) slice[i + nx * j] = 1;
      }
    }
    const off = z * nx * ny;
    for (let i = 0; i < slice.length; i++) if (slice[i]) mask[off + i] ^= 1;
  }
  return mask;
}
