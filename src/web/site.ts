/**
 * `lungtumor web`: a static site that segments scans in the user's browser with a trained model —
 * index.html, app.js (the page and its worker, the same core as the CLI; see scripts/build_web.ts),
 * model.js (the model's files inside a script, since a page opened from file:// may not fetch files)
 * and model/ (the model folder as it was, for reference). Nothing is uploaded; the page makes no
 * request at all.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeDirAtomic } from '../core/atomic.js';
import { InputError } from '../core/errors.js';
import { loadModel, packageRoot } from '../pipeline/model-folder.js';

export const SITE_FILES = { page: 'index.html', script: 'app.js', model: 'model.js', modelDir: 'model' } as const;

/** The bundle `npm run build` makes (scripts/build_web.ts). */
export function webBundlePath(): string {
  return join(packageRoot(), 'dist', 'web', SITE_FILES.script);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self' file: blob: 'wasm-unsafe-eval'; worker-src blob:; connect-src blob: data:; img-src blob: data:; style-src 'unsafe-inline'">
<title>lungtumor — segment a lung tumour in your browser</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 62em; padding: 0 1em; color: #222; }
#drop { border: 2px dashed #999; border-radius: 8px; padding: 1.2em; text-align: center; }
#drop.over { border-color: #c22; background: #fff4f4; }
#error { color: #b00; font-weight: 600; }
#views { display: flex; flex-wrap: wrap; gap: 1em; }
#views figure { margin: 0; }
#views canvas { image-rendering: pixelated; background: #000; display: block; }
#views figcaption, .note { color: #666; font-size: 13px; }
#download { font-weight: 600; }
</style>
</head>
<body>
<h1>lungtumor</h1>
<p>Finds and outlines the primary lung tumour in a thoracic CT (NIfTI, or a folder of uncompressed DICOM). Everything runs in this
browser: the scan is not uploaded anywhere. Model: <code id="model"></code>.</p>
<div id="drop"><p><label>Choose a scan (.nii or .nii.gz): <input type="file" id="file" accept=".nii,.gz" disabled></label></p>
<p><label>or the folder of a DICOM CT series: <input type="file" id="folder" webkitdirectory disabled></label></p>
<p>or drop either here.</p></div>
<p id="status">Loading the model…</p>
<p id="error" hidden></p>
<ol id="stages"></ol>
<section id="result" hidden>
<p id="summary"></p>
<p><a id="download" href="#">Download</a> <span class="note">(uint8 0/1 on the scan's own grid and header, as <code>lungtumor predict</code> writes it)</span></p>
<h2 id="flags-title">Flags</h2>
<ul id="flags"></ul>
<div id="views"></div>
<p class="note">Red: the outline of the mask on slices through its centre; radiological convention (patient's right on the left).</p>
</section>
<script src="${SITE_FILES.model}"></script>
<script src="${SITE_FILES.script}"></script>
</body>
</html>
`;

export interface WebSiteOptions {
  modelDir: string;
  outDir: string;
  log: (line: string) => void;
}

/** Writes the site (whole, or not at all; an existing folder is replaced). */
export async function writeWebSite(opts: WebSiteOptions): Promise<void> {
  // The model must load here before it is shipped: the page would fail on it anyway, less clearly.
  await loadModel(opts.modelDir);
  const bundle = webBundlePath();
  if (!existsSync(bundle)) throw new InputError(bundle, 'the web bundle is missing: run npm run build');
  const names = readdirSync(opts.modelDir).filter((n) => statSync(join(opts.modelDir, n)).isFile()).sort();
  const files: Record<string, string> = {};
  for (const n of names) files[n] = readFileSync(join(opts.modelDir, n)).toString('base64');
  const shipped = { name: basename(resolve(opts.modelDir)), files };
  await writeDirAtomic(opts.outDir, (dir) => {
    writeFileSync(join(dir, SITE_FILES.page), PAGE);
    copyFileSync(bundle, join(dir, SITE_FILES.script));
    writeFileSync(join(dir, SITE_FILES.model), `// lungtumor model '${shipped.name}' (${names.join(', ')}), base64\nglobalThis.LUNGTUMOR_MODEL = ${JSON.stringify(shipped)};\n`);
    const modelCopy = join(dir, SITE_FILES.modelDir);
    mkdirSync(modelCopy);
    for (const n of names) copyFileSync(join(opts.modelDir, n), join(modelCopy, n));
  });
  opts.log(`web site: ${join(opts.outDir, SITE_FILES.page)} (open it in a browser, from disk or any static server)`);
}
