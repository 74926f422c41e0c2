/**
 * The web page's segmentation worker: the same core as `lungtumor predict` (model loading,
 * features, classifiers, refiner, clean-up, NIfTI encoding), run in a Web Worker so the page stays
 * responsive. Features run in this thread (a page opened from file:// cannot share memory between
 * workers); the refiner runs on tfjs's wasm backend, as the CLI does, from binaries inside the bundle.
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import pako from 'pako';
import { InputError } from '../../core/errors.js';
import { memoryFolder } from '../../core/folder.js';
import type { Vec3, Volume } from '../../core/volume.js';
import { FeatureExtractor } from '../../features/extract.js';
import { toCanonical } from '../../geometry/orient.js';
import { caseIdOfName } from '../../io/case-id.js';
import { decodeNifti, encodeNiftiMask, type Gzip } from '../../io/nifti-codec.js';
import { measureMask } from '../../metrics/measures.js';
import { loadModelFrom, segmentScan, type LoadedModel } from '../../pipeline/predict.js';
import type { DroppedFile, FromWorker, SegmentResult, ToWorker } from '../protocol.js';
import { groupDicomFiles, hasDicomPreamble, parse as parseDicom, readDicomSeriesWithSource, type DicomFileHead } from '../../io/dicom-series.js';
import { renderPlanes } from '../view.js';

/** tfjs-backend-wasm's binaries (base64), put in by the bundler (scripts/build_web.ts). */
declare const LUNGTUMOR_WASM: { plain: string; simd: string };

interface WorkerScope {
  onmessage: ((e: { data: ToWorker }) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

/** Same bytes as the CLI's mask gzip (zlib's Z_RLE at level 6; see gzipMask in io/nifti.ts). */
const gzipMaskPako: Gzip = (bytes) => pako.gzip(bytes, { level: 6, strategy: 3 /* Z_RLE */ });

function wasmUrl(base64: string): string {
  const bin = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bin], { type: 'application/wasm' }));
}

async function inflate(name: string, bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw new InputError(name, `corrupt or truncated gzip data (${(err as Error).message})`);
  }
}

let model: LoadedModel | null = null;

async function load(files: Record<string, Uint8Array>): Promise<void> {
  const simd = wasmUrl(LUNGTUMOR_WASM.simd);
  // tfjs asks for all three; threads need a cross-origin-isolated page (never one from file://),
  // so the threaded binary is never chosen and is not shipped.
  setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmUrl(LUNGTUMOR_WASM.plain), 'tfjs-backend-wasm-simd.wasm': simd, 'tfjs-backend-wasm-threaded-simd.wasm': simd });
  const log: string[] = [];
  model = await loadModelFrom(memoryFolder('model', files), (line) => log.push(line), 'wasm');
  post({ kind: 'ready', backend: model.refiner?.backend ?? 'none', log });
}

async function segmentNifti(name: string, bytes: Uint8Array): Promise<void> {
  const t = performance.now();
  const ct = decodeNifti(name, await inflate(name, bytes));
  await segment(caseIdOfName(name), ct, t);
}

/** Path parts in the order the CLI walks a folder (each folder's names sorted, depth first). */
function walkOrder(a: DroppedFile, b: DroppedFile): number {
  const pa = a.path.split('/');
  const pb = b.path.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  return pa.length - pb.length;
}

/** The one CT series of a folder, read as `predict --input FOLDER` reads it (same files, same order, same id). */
async function segmentDicom(root: string, files: DroppedFile[]): Promise<void> {
  const t = performance.now();
  const byPath = new Map(files.map((f) => [f.path, f.bytes]));
  const heads: DicomFileHead[] = [];
  for (const f of [...files].sort(walkOrder)) {
    const rel = f.path.split('/').slice(1);
    // The CLI looks 4 folders deep and passes over hidden files and folders.
    if (rel.length > 5 || rel.some((p) => p.startsWith('.')) || !hasDicomPreamble(f.bytes)) continue;
    heads.push({ path: f.path, rel, ds: parseDicom(f.path, f.bytes, true) });
  }
  const { series } = groupDicomFiles(root, heads);
  if (series.length === 0) throw new InputError(root, 'no DICOM CT series in this folder');
  if (series.length > 1) throw new InputError(root, `${series.length} CT series (${series.map((s) => s.id).join(', ')}): choose the folder of one`);
  const { volume } = readDicomSeriesWithSource(series[0]!, (path) => byPath.get(path)!);
  await segment(series[0]!.id, volume, t);
}

async function segment(id: string, ct: Volume, started: number): Promise<void> {
  if (!model) throw new Error('no model loaded');
  let t = started;
  const since = (): number => Math.round(performance.now() - t) / 1000;
  post({ kind: 'stage', stage: 'read', seconds: since() });
  const extractor = new FeatureExtractor({ workers: 0, gpu: null });
  const scan = await segmentScan(model, ct, extractor, undefined, (stage, seconds) => post({ kind: 'stage', stage, seconds }));
  await extractor.close();
  t = performance.now();
  const maskName = `${id}_seg.nii.gz`;
  const maskBytes = encodeNiftiMask(maskName, scan.mask, ct, gzipMaskPako);
  const { volumeMl, recistMm } = measureMask(scan.mask, ct.dims, ct.spacing as Vec3);
  post({ kind: 'stage', stage: 'write', seconds: since() });
  // The pictures are drawn in RAS voxel order, whatever the file's.
  const canonical = toCanonical(ct);
  const canonicalMask = toCanonical({ ...ct, data: scan.mask }).volume.data;
  const planes = renderPlanes(canonical.volume.data, canonicalMask, canonical.volume.dims, canonical.volume.spacing);
  const { mask: _mask, ...scanInfo } = scan;
  const result: SegmentResult = { ...scanInfo, id, maskName, maskBytes, dims: ct.dims, spacingMm: ct.spacing as Vec3, volumeMl, recistMm, planes };
  post({ kind: 'done', result }, [maskBytes.buffer as ArrayBuffer, ...planes.map((p) => p.rgba.buffer as ArrayBuffer)]);
}

scope.onmessage = (e) => {
  const m = e.data;
  const job = m.kind === 'load' ? load(m.files) : m.kind === 'segment' ? segmentNifti(m.name, m.bytes) : segmentDicom(m.root, m.files);
  job.catch((err: unknown) => post({ kind: 'error', message: err instanceof Error ? err.message : String(err) }));
};
