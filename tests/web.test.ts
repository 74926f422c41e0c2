/// <reference lib="dom" />
/**
 * The web page (`lungtumor web`): its pictures, its gzip, and the page itself driven in Debian's
 * chromium — the downloaded mask equals `lungtumor predict`'s byte for byte, the overlay is drawn,
 * no console errors, no network requests.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import pako from 'pako';
import puppeteer, { type Page } from 'puppeteer-core';
import { dicomDataDir, realDataDir, runCli, tempDir } from './helpers.js';
import { writeCohort } from '../src/synth/index.js';
import { encodeNiftiMask, readNifti, writeNiftiMask } from '../src/io/nifti.js';
import { readMaskFor } from '../src/io/masks.js';
import { CONTOUR_RGB, renderPlane, renderPlanes } from '../src/web/view.js';
import type { Vec3 } from '../src/core/volume.js';

const CHROMIUM = '/usr/bin/chromium';

test('the pictures: outline pixels exactly on the mask\'s edge, radiological orientation, square mm pixels', () => {
  const dims: Vec3 = [10, 8, 6];
  const n = dims[0] * dims[1] * dims[2];
  const ct = new Float32Array(n).fill(-1000);
  const mask = new Uint8Array(n);
  const idx = (x: number, y: number, z: number): number => x + dims[0] * (y + dims[1] * z);
  // A 3×3×3 cube at x 1..3 (patient's right side), y 4..6 (anterior), z 2..4; CT 0 HU there.
  for (let z = 2; z <= 4; z++) for (let y = 4; y <= 6; y++) for (let x = 1; x <= 3; x++) { mask[idx(x, y, z)] = 1; ct[idx(x, y, z)] = 0; }
  const axial = renderPlane('axial', ct, mask, dims, [1, 1, 1], [2, 5, 3]);
  assert.equal(axial.width, 10);
  assert.equal(axial.height, 8);
  assert.equal(axial.contourPixels, 8); // the 3×3 square's ring
  const red = (img: typeof axial, c: number, r: number): boolean => {
    const o = 4 * (r * img.width + c);
    return img.rgba[o] === CONTOUR_RGB[0] && img.rgba[o + 1] === CONTOUR_RGB[1] && img.rgba[o + 2] === CONTOUR_RGB[2];
  };
  // Patient's right (low x) on the picture's right; anterior (high y) at the top.
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 10; c++) {
      const x = 9 - c, y = 7 - r;
      const inside = x >= 1 && x <= 3 && y >= 4 && y <= 6;
      const ring = inside && !(x === 2 && y === 5);
      assert.equal(red(axial, c, r), ring, `pixel (${c}, ${r})`);
    }
  }
  // Away from the mask the picture is the CT in the window, grey: -1000 HU is black.
  assert.deepEqual([...axial.rgba.subarray(0, 4)], [0, 0, 0, 255]);
  // 0.5 mm × 0.5 mm × 2 mm voxels: the coronal picture is 4 times taller per slice than wide per column.
  const coronal = renderPlane('coronal', ct, mask, dims, [0.5, 0.5, 2], [2, 5, 3]);
  assert.equal(coronal.width, 10);
  assert.equal(coronal.height, 24);
  assert.equal(coronal.pixelMm, 0.5);
  // An empty mask: the planes go through the volume's centre and draw no outline.
  for (const p of renderPlanes(ct, new Uint8Array(n), dims, [1, 1, 1])) assert.equal(p.contourPixels, 0);
});

test('the page\'s gzip (pako, Z_RLE) writes the bytes of predict\'s mask files (Node\'s zlib)', (t) => {
  const dir = tempDir(t);
  const pakoGzip = (b: Uint8Array): Uint8Array => pako.gzip(b, { level: 6, strategy: 3 });
  const masks: { name: string; mask: Uint8Array; like: ReturnType<typeof readNifti> }[] = [];
  const real = realDataDir();
  if (real) {
    for (const id of ['LUNG1-001', 'RADPHANTOM-2']) {
      const like = readNifti(join(real, 'train', 'volume', `${id}_vol.nii.gz`));
      masks.push({ name: `${id}_seg.nii.gz`, mask: readMaskFor(join(real, 'train', 'seg', `${id}_seg.nii.gz`), like), like });
    }
  }
  // Always: an empty mask, a full one and a noisy one on a small grid.
  const dims: Vec3 = [33, 17, 9];
  const like = { data: new Int16Array(dims[0] * dims[1] * dims[2]), dims, spacing: [0.7, 0.7, 2.5] as Vec3, affine: [[-0.7, 0, 0, 10], [0, -0.7, 0, 20], [0, 0, 2.5, -30], [0, 0, 0, 1]] as ReturnType<typeof readNifti>['affine'] };
  const noisy = new Uint8Array(like.data.length);
  for (let i = 0; i < noisy.length; i++) noisy[i] = (i * 2654435761) % 7 < 2 ? 1 : 0;
  masks.push({ name: 'EMPTY_seg.nii.gz', mask: new Uint8Array(like.data.length), like }, { name: 'FULL_seg.nii.gz', mask: new Uint8Array(like.data.length).fill(1), like }, { name: 'NOISY_seg.nii.gz', mask: noisy, like });
  for (const m of masks) {
    const path = join(dir, m.name);
    writeNiftiMask(path, m.mask, m.like);
    const cli = readFileSync(path);
    assert.deepEqual(Buffer.from(encodeNiftiMask(m.name, m.mask, m.like, pakoGzip)), cli, m.name);
    assert.deepEqual(new Uint8Array(gunzipSync(cli).subarray(352)), m.mask, `${m.name}: the voxels`);
  }
});

/** Waits until `dir` holds `name` completely (Chromium writes a .crdownload first). */
async function downloaded(dir: string, name: string, timeoutMs = 30_000): Promise<Buffer> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const names = readdirSync(dir);
    if (names.includes(name) && !names.some((n) => n.endsWith('.crdownload'))) return readFileSync(join(dir, name));
    if (Date.now() > until) throw new Error(`no download ${name} in ${dir} (${names.join(', ')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Gives `path` to the page's `input#<input>` and waits for the outcome. The state left by the
 * previous scan ('done' or 'error') is cleared first: the page starts on the input's change event,
 * which arrives after `uploadFile` returns, so a stale 'done' would otherwise pass the wait.
 */
async function chooseAndWait(p: Page, input: 'file' | 'folder', path: string, timeoutMs: number): Promise<string> {
  await p.evaluate(() => { document.body.dataset['state'] = 'chosen'; });
  await (await p.$(`input#${input}`))!.uploadFile(path);
  await p.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''), { timeout: timeoutMs });
  return p.evaluate(() => document.body.dataset['state'] ?? '');
}

test('lungtumor web: chromium segments scans from file:// with predict\'s exact masks, draws them, and makes no request', { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}` }, async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'cohort');
  await writeCohort(data, { cases: 6, seed: 3, size: 'small' });
  const model = join(dir, 'model');
  const tr = runCli(['train', '--data', data, '--model', model, '--seed', '5', '--config', 'fast', '--quiet']);
  assert.equal(tr.status, 0, tr.stderr);
  const site = join(dir, 'site');
  const w = runCli(['web', '--model', model, '--out', site]);
  assert.equal(w.status, 0, w.stderr);
  assert.deepEqual(readdirSync(site).sort(), ['app.js', 'index.html', 'model', 'model.js']);
  assert.deepEqual(readdirSync(join(site, 'model')).sort(), readdirSync(model).sort());

  // What to give the page: a NIfTI file (input#file) or a DICOM series' folder (input#folder).
  const scans: { path: string; input: 'file' | 'folder' }[] = [{ path: join(data, 'train', 'volume', readdirSync(join(data, 'train', 'volume')).sort()[0]!), input: 'file' }];
  const real = realDataDir();
  if (real) scans.push({ path: join(real, 'train', 'volume', 'RADPHANTOM-2_vol.nii.gz'), input: 'file' });
  const dicom = dicomDataDir();
  if (dicom) scans.push({ path: join(dicom, 'RADPHANTOM-2'), input: 'folder' });
  const bad = join(dir, 'NOTACT_vol.nii');
  writeFileSync(bad, 'this is not a NIfTI file');

  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], userDataDir: join(dir, 'profile') });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on('request', (r) => requests.push(r.url()));
  const cdp = await page.createCDPSession();
  await page.goto(`file://${join(site, 'index.html')}`);
  const state = (): Promise<string> => page.evaluate(() => document.body.dataset['state'] ?? '');
  await page.waitForFunction(() => document.body.dataset['state'] === 'ready', { timeout: 60_000 });

  /** Segments `scan` on `p`, downloads the mask and checks it against predict's, and the pictures. */
  const check = async (p: typeof page, session: typeof cdp, scan: (typeof scans)[number], k: string): Promise<void> => {
    const pred = join(dir, `pred-${k}`);
    assert.equal(runCli(['predict', '--model', model, '--input', scan.path, '--out', pred, '--quiet']).status, 0);
    const name = readdirSync(pred).find((n) => n.endsWith('_seg.nii.gz'))!;
    const downloads = join(dir, `downloads-${k}`);
    mkdirSync(downloads);
    await session.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    assert.equal(await chooseAndWait(p, scan.input, scan.path, 120_000), 'done', await p.$eval('#error', (e) => e.textContent ?? ''));
    await p.click('#download');
    const got = await downloaded(downloads, name);
    assert.deepEqual(got, readFileSync(join(pred, name)), `${scan.path}: the page's download equals predict's ${name}`);
    // Every stage reported; the overlay drawn where the mask is, on a picture that is not blank.
    assert.equal(await p.$$eval('#stages li', (l) => l.length), 9);
    const maskVoxels = gunzipSync(got).subarray(352).reduce((a, v) => a + v, 0);
    const views = await p.$$eval('#views canvas', (cs) => (cs as HTMLCanvasElement[]).map((c) => {
      const img = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let red = 0;
      const greys = new Set<number>();
      for (let i = 0; i < img.length; i += 4) {
        if (img[i] === 255 && img[i + 1] === 40 && img[i + 2] === 40) red++;
        else if (img[i] === img[i + 1] && img[i + 1] === img[i + 2]) greys.add(img[i]!);
      }
      return { id: c.id, red, declared: Number(c.dataset['contourPixels']), greys: greys.size };
    }));
    assert.deepEqual(views.map((v) => v.id), ['view-axial', 'view-coronal', 'view-sagittal']);
    for (const v of views) {
      assert.ok(v.greys > 20, `${name} ${v.id}: ${v.greys} grey levels (blank picture?)`);
      assert.equal(v.red, v.declared, `${name} ${v.id}: outline pixels drawn`);
      if (maskVoxels > 0) assert.ok(v.red > 0, `${name} ${v.id}: no outline for a mask of ${maskVoxels} voxels`);
    }
    const summary = await p.$eval('#summary', (e) => e.textContent ?? '');
    assert.match(summary, /mL, RECIST [\d.]+ mm/);
  };
  for (const [k, scan] of scans.entries()) await check(page, cdp, scan, String(k));

  // Dropped on the page instead of picked: the same bytes.
  {
    const pred = join(dir, 'pred-0');
    const name = readdirSync(pred).find((n) => n.endsWith('_seg.nii.gz'))!;
    const downloads = join(dir, 'downloads-dropped');
    mkdirSync(downloads);
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    const before = await page.$eval('#download', (a) => (a as HTMLAnchorElement).href);
    await page.$eval('#drop', (e) => e.scrollIntoView());
    const box = (await (await page.$('#drop'))!.boundingBox())!;
    const at = { x: box.x + box.width / 2, y: box.y + box.height / 2, data: { items: [], files: [scans[0]!.path], dragOperationsMask: 1 } };
    for (const type of ['dragEnter', 'dragOver', 'drop'] as const) await cdp.send('Input.dispatchDragEvent', { type, ...at });
    // A new result has a new download link.
    await page.waitForFunction((old) => document.body.dataset['state'] === 'error' || (document.body.dataset['state'] === 'done' && (document.getElementById('download') as HTMLAnchorElement).href !== old), { timeout: 120_000 }, before);
    assert.equal(await state(), 'done', await page.$eval('#error', (e) => e.textContent ?? ''));
    await page.click('#download');
    assert.deepEqual(await downloaded(downloads, name), readFileSync(join(pred, name)), 'a dropped scan gives predict\'s bytes');
  }

  // Bad input: one line naming the file and the problem; nothing offered for download.
  assert.equal(await chooseAndWait(page, 'file', bad, 30_000), 'error');
  assert.match(await page.$eval('#error', (e) => e.textContent ?? ''), /^NOTACT_vol\.nii: not a NIfTI file/);
  assert.equal(await page.$eval('#result', (e) => (e as HTMLElement).hidden), true);

  assert.deepEqual(problems, []);
  const network = requests.filter((u) => !/^(file|blob|data):/.test(u));
  assert.deepEqual(network, [], 'requests beyond file:, blob: and data:');
  assert.ok(requests.some((u) => u.endsWith('/model.js')) && requests.some((u) => u.endsWith('/app.js')));

  // From a static web server: the same page, the same bytes, requests only to that server.
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json' };
  const server = createServer((req, res) => {
    const path = join(site, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!path.startsWith(site) || !existsSync(path)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const served = await browser.newPage();
  const servedRequests: string[] = [];
  served.on('request', (r) => servedRequests.push(r.url()));
  const servedProblems: string[] = [];
  served.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') servedProblems.push(`${m.type()}: ${m.text()}`); });
  await served.goto(`${origin}/index.html`);
  await served.waitForFunction(() => document.body.dataset['state'] === 'ready', { timeout: 60_000 });
  await check(served, await served.createCDPSession(), scans[0]!, 'served');
  assert.deepEqual(servedRequests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:')), []);
  assert.deepEqual(servedProblems, []);
});
