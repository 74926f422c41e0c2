/**
 * The web page: takes a NIfTI scan (file picker or drag-and-drop), has the worker segment it,
 * shows each stage as it ends, the CT with the mask in three planes, the volume, RECIST and QA
 * flags, and offers the mask for download. Nothing leaves the machine: the model comes from
 * model.js beside the page, the worker from a string inside this bundle, and no request is made.
 */
import type { FromWorker, SegmentResult, ToWorker } from '../protocol.js';
import { STAGE_LABELS } from '../protocol.js';

/** The worker bundle's source, put in by the bundler (scripts/build_web.ts). */
declare const LUNGTUMOR_WORKER_SOURCE: string;

interface ShippedModel {
  /** The model folder's name when the site was written. */
  name: string;
  /** Each file of the model folder, base64. */
  files: Record<string, string>;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
};

const VIEW_WIDTH_PX = 300;

function setState(state: 'loading' | 'ready' | 'working' | 'done' | 'error'): void {
  document.body.dataset['state'] = state;
}

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function showError(message: string): void {
  const el = $('error');
  el.textContent = message;
  el.hidden = false;
  setState('error');
}

function stageRow(label: string, seconds: number): HTMLLIElement {
  const li = document.createElement('li');
  li.textContent = `${label}: ${seconds.toFixed(2)} s`;
  return li;
}

function showResult(r: SegmentResult, totalSeconds: number): void {
  $('result').hidden = false;
  $('summary').textContent =
    `${r.id}: ${r.volumeMl.toFixed(2)} mL, RECIST ${r.recistMm.toFixed(1)} mm` +
    ` (${r.candidates} candidate${r.candidates === 1 ? '' : 's'}${r.chosenProbability !== null ? `, chosen with p ${r.chosenProbability.toFixed(2)}` : ''}` +
    `${r.runnerUpProbability !== null ? `, runner-up ${r.runnerUpProbability.toFixed(2)}` : ''}); ${totalSeconds.toFixed(1)} s in this browser`;
  const flags = $('flags');
  flags.replaceChildren(...r.warnings.map((w) => Object.assign(document.createElement('li'), { textContent: w })));
  $('flags-title').hidden = r.warnings.length === 0;
  const views = $('views');
  views.replaceChildren();
  for (const p of r.planes) {
    const figure = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.width = p.width;
    canvas.height = p.height;
    canvas.id = `view-${p.plane}`;
    canvas.dataset['contourPixels'] = String(p.contourPixels);
    canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(p.rgba), p.width, p.height), 0, 0);
    // Shown 300 px wide side by side (pixels stay square: the picture is already in mm).
    const scale = VIEW_WIDTH_PX / p.width;
    canvas.style.width = `${Math.round(p.width * scale)}px`;
    canvas.style.height = `${Math.round(p.height * scale)}px`;
    const caption = document.createElement('figcaption');
    caption.textContent = `${p.plane} (${p.pixelMm.toFixed(2)} mm pixels)`;
    figure.append(canvas, caption);
    views.append(figure);
  }
  const link = $<HTMLAnchorElement>('download');
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([r.maskBytes as Uint8Array<ArrayBuffer>], { type: 'application/gzip' }));
  link.download = r.maskName;
  link.textContent = `Download ${r.maskName}`;
  setState('done');
}

/** Every file below a dropped folder, with its path from the folder's name down. */
async function filesBelow(dir: FileSystemDirectoryEntry): Promise<{ path: string; file: File }[]> {
  const out: { path: string; file: File }[] = [];
  const visit = async (d: FileSystemDirectoryEntry, prefix: string): Promise<void> => {
    const reader = d.createReader();
    for (;;) {
      // readEntries gives a batch at a time, then an empty one.
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) return;
      for (const e of batch) {
        const path = `${prefix}/${e.name}`;
        if (e.isDirectory) await visit(e as FileSystemDirectoryEntry, path);
        else out.push({ path, file: await new Promise<File>((resolve, reject) => (e as FileSystemFileEntry).file(resolve, reject)) });
      }
    }
  };
  await visit(dir, dir.name);
  return out;
}

function main(): void {
  setState('loading');
  const shipped = (globalThis as { LUNGTUMOR_MODEL?: ShippedModel }).LUNGTUMOR_MODEL;
  if (!shipped) {
    showError('model.js is missing beside this page: write the site with lungtumor web --model DIR --out SITE');
    return;
  }
  $('model').textContent = shipped.name;
  const worker = new Worker(URL.createObjectURL(new Blob([LUNGTUMOR_WORKER_SOURCE], { type: 'text/javascript' })));
  const send = (m: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(m, transfer);
  let started = 0;
  worker.onmessage = (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    if (m.kind === 'ready') {
      $('status').textContent = `Ready: refiner on ${m.backend}. Choose or drop a NIfTI scan.`;
      $<HTMLInputElement>('file').disabled = false;
      $<HTMLInputElement>('folder').disabled = false;
      setState('ready');
    } else if (m.kind === 'stage') {
      $('stages').append(stageRow(STAGE_LABELS[m.stage], m.seconds));
    } else if (m.kind === 'done') {
      $('status').textContent = 'Done. Choose or drop another scan.';
      showResult(m.result, (performance.now() - started) / 1000);
    } else {
      $('status').textContent = 'Failed.';
      showError(m.message);
    }
  };
  worker.onerror = (e) => showError(`the worker stopped: ${e.message}`);
  const files: Record<string, Uint8Array> = {};
  for (const [name, b64] of Object.entries(shipped.files)) files[name] = fromBase64(b64);
  send({ kind: 'load', files });

  const begin = (what: string): boolean => {
    if (document.body.dataset['state'] === 'loading' || document.body.dataset['state'] === 'working') return false;
    $('error').hidden = true;
    $('stages').replaceChildren();
    $('result').hidden = true;
    $('status').textContent = `Segmenting ${what} …`;
    setState('working');
    started = performance.now();
    return true;
  };
  const take = async (file: File): Promise<void> => {
    if (!begin(file.name)) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    send({ kind: 'segment', name: file.name, bytes }, [bytes.buffer]);
  };
  /** A DICOM folder: files with their paths from the folder's name down. */
  const takeFolder = async (files: { path: string; file: File }[]): Promise<void> => {
    const root = files[0]?.path.split('/')[0];
    if (!root || !begin(`${root}/`)) return;
    const dropped = await Promise.all(files.map(async (f) => ({ path: f.path, bytes: new Uint8Array(await f.file.arrayBuffer()) })));
    send({ kind: 'segment-dicom', root, files: dropped }, dropped.map((f) => f.bytes.buffer as ArrayBuffer));
  };
  const input = $<HTMLInputElement>('file');
  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) void take(f);
  });
  const folder = $<HTMLInputElement>('folder');
  folder.addEventListener('change', () => {
    const list = [...(folder.files ?? [])].map((file) => ({ path: file.webkitRelativePath, file }));
    if (list.length > 0) void takeFolder(list);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const entry = e.dataTransfer?.items[0]?.webkitGetAsEntry();
    if (entry?.isDirectory) {
      void filesBelow(entry as FileSystemDirectoryEntry).then(takeFolder, (err: unknown) => {
        showError(`${entry.name}/: this browser could not read the dropped folder (${String(err)}); choose it with the folder button instead`);
      });
      return;
    }
    const f = e.dataTransfer?.files[0];
    if (f) void take(f);
  });
}

main();
