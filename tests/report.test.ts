/**
 * `lungtumor report`: the PNG codec, outlines on exactly the mask's voxels in the radiological
 * convention whatever the stored voxel order, the report folder from the CLI (numbers identical to
 * `lungtumor evaluate`), the page in headless Chromium (no console errors, pictures shown, the
 * table sorts), and a report on real scans.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { realDataDir, runCli, tempDir } from './helpers.js';
import type { Mat4, Vec3, Volume } from '../src/core/volume.js';
import { readNifti, writeNifti, writeNiftiMask } from '../src/io/nifti.js';
import { toCanonical } from '../src/geometry/orient.js';
import { evaluateFolders } from '../src/metrics/evaluate.js';
import { crc32, cropImage, decodePng, encodePng, type RgbImage } from '../src/report/png.js';
import {
  BOTH_COLOUR,
  PRED_COLOUR,
  TRUTH_COLOUR,
  cutThroughTumour,
  renderCase,
  renderPlane,
  touchesBorder,
  type DisplayVolume,
  type Rgb,
} from '../src/report/render.js';
import { caseFlags } from '../src/report/cases.js';
import { ticks } from '../src/report/svg.js';

const CHROMIUM = '/usr/bin/chromium';

function pixel(img: RgbImage, x: number, y: number): [number, number, number] {
  const i = 3 * (y * img.width + x);
  return [img.rgb[i]!, img.rgb[i + 1]!, img.rgb[i + 2]!];
}

function countColour(img: RgbImage, c: Rgb): number {
  let n = 0;
  for (let i = 0; i < img.rgb.length; i += 3) if (img.rgb[i] === c[0] && img.rgb[i + 1] === c[1] && img.rgb[i + 2] === c[2]) n++;
  return n;
}

/** Distinct colours in an image (a blank or single-colour image has 1). */
function distinctColours(img: RgbImage): number {
  const seen = new Set<number>();
  for (let i = 0; i < img.rgb.length; i += 3) seen.add((img.rgb[i]! << 16) | (img.rgb[i + 1]! << 8) | img.rgb[i + 2]!);
  return seen.size;
}

// ---- PNG ------------------------------------------------------------------------------------------

test('png: CRC-32 check value, and encode → decode gives the same pixels', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const img: RgbImage = { width: 7, height: 5, rgb: new Uint8Array(7 * 5 * 3) };
  for (let i = 0; i < img.rgb.length; i++) img.rgb[i] = (i * 37) & 0xff;
  const png = encodePng(img);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = decodePng(png);
  assert.equal(back.width, 7);
  assert.equal(back.height, 5);
  assert.deepEqual(back.rgb, img.rgb);
  const crop = cropImage(back, 2, 1, 3, 10);
  assert.equal(crop.width, 3);
  assert.equal(crop.height, 4);
  assert.deepEqual(pixel(crop, 0, 0), pixel(img, 2, 1));
  // A flipped bit is caught by the chunk CRC.
  const bad = png.slice();
  bad[40] ^= 1;
  assert.throws(() => decodePng(bad), /CRC/);
});

// ---- outlines on the right voxels ------------------------------------------------------------------

/** A canonical (RAS) scene: CT -1000 with a 40 HU square block, truth and pred masks. */
function squareScene(): { vol: DisplayVolume; inTruth: (x: number, y: number) => boolean } {
  const dims: Vec3 = [40, 30, 10];
  const n = dims[0] * dims[1] * dims[2];
  const hu = new Int16Array(n).fill(-1000);
  const truth = new Uint8Array(n);
  const pred = new Uint8Array(n);
  const inTruth = (x: number, y: number): boolean => x >= 10 && x <= 19 && y >= 5 && y <= 14;
  const inPred = (x: number, y: number): boolean => x >= 10 && x <= 19 && y >= 8 && y <= 17;
  for (let z = 3; z <= 5; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[0]; x++) {
        const i = x + dims[0] * (y + dims[1] * z);
        // The largest section is z = 4: a bigger truth there than on its neighbours.
        if (inTruth(x, y) && (z === 4 || x < 15)) truth[i] = 1;
        if (inPred(x, y) && z === 4) pred[i] = 1;
        if (inTruth(x, y)) hu[i] = 40;
      }
    }
  }
  return { vol: { hu, dims, spacingMm: [1, 1, 1], truth, pred }, inTruth };
}

test('outlines sit on the border voxels of the mask, in the radiological convention (R on the left, A at the top)', () => {
  const { vol, inTruth } = squareScene();
  const cut = cutThroughTumour(vol.truth, vol.dims);
  assert.equal(cut.voxel[2], 4, 'the axial slice with the largest true area');
  const r = renderPlane(vol, { view: 'axial', slice: 4, pixelMm: 1 });
  // The PNG must carry exactly these pixels.
  const img = decodePng(encodePng(r.image));
  assert.equal(img.width, 40);
  assert.equal(img.height, 30);
  const inPred = (x: number, y: number): boolean => x >= 10 && x <= 19 && y >= 8 && y <= 17;
  const border = (inside: (x: number, y: number) => boolean, x: number, y: number): boolean => {
    if (!inside(x, y)) return false;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (!inside(x + dx, y + dy)) return true;
    return false;
  };
  let checked = 0;
  const counts = { truth: 0, pred: 0, both: 0 };
  for (let y = 0; y < 30; y++) {
    for (let x = 0; x < 40; x++) {
      // Picture column 0 is the patient's right (the largest x), row 0 the front (the largest y).
      const px = pixel(img, 39 - x, 29 - y);
      const t = border(inTruth, x, y);
      const p = border(inPred, x, y);
      const want = t && p ? BOTH_COLOUR : t ? TRUTH_COLOUR : p ? PRED_COLOUR : null;
      if (want) {
        assert.deepEqual(px, [...want], `outline colour at voxel (${x}, ${y})`);
        checked++;
        if (t && p) counts.both++;
        else if (t) counts.truth++;
        else counts.pred++;
      } else {
        // Grey CT: block 40 HU → (40 + 1350) / 1500 · 255 = 236; air -1000 → 60.
        const g = inTruth(x, y) ? 236 : 60;
        assert.deepEqual(px, [g, g, g], `CT grey at voxel (${x}, ${y})`);
      }
    }
  }
  assert.ok(checked > 50);
  assert.ok(counts.both > 0 && counts.truth > 0 && counts.pred > 0);
  assert.deepEqual(r.outlinePixels, counts);
});

test('pictures keep the aspect ratio of the voxel spacing: a 3 mm slice spacing is three times as tall', () => {
  const { vol } = squareScene();
  const aniso: DisplayVolume = { ...vol, spacingMm: [1, 1, 3] };
  const cor = renderPlane(aniso, { view: 'coronal', slice: 10, pixelMm: 1 });
  assert.equal(cor.image.width, 40);
  assert.equal(cor.image.height, 30);
  // Slice z = 4 covers picture rows (10 - 1 - 4) · 3 .. +2 = 15..17 (the head at the top).
  const rows = new Set<number>();
  for (let yy = 0; yy < cor.image.height; yy++) {
    for (let xx = 0; xx < cor.image.width; xx++) if (pixel(cor.image, xx, yy)[0] !== pixel(cor.image, xx, yy)[2]) rows.add(yy);
  }
  for (const row of rows) assert.ok(row >= 12 && row <= 20, `outline row ${row} lies in slices 3..5`);
  assert.ok(rows.has(15) && rows.has(17));
  // The longest side (x, 40 mm) gets 60 pixels; every view shares that pixel size.
  const all = renderCase(aniso, { fullPx: 60, closeUpPx: 48, minCloseUpMm: 20 });
  assert.equal(all.pixelMm, 40 / 60);
  assert.deepEqual([all.axial.image.width, all.axial.image.height], [60, 45]);
  assert.deepEqual([all.coronal.image.width, all.coronal.image.height], [60, 45]);
  assert.deepEqual([all.sagittal.image.width, all.sagittal.image.height], [45, 45]);
  assert.equal(all.closeUp!.image.width, 48);
});

test('the same body stored LPS or RAS gives identical pictures (toCanonical), with the mask on the patient\'s left shown on the right', () => {
  const dims: Vec3 = [24, 20, 8];
  const spacing: Vec3 = [1.5, 1.5, 2.5];
  const n = dims[0] * dims[1] * dims[2];
  // RAS storage: voxel x grows towards the patient's right, so a mask at small x is on the patient's
  // left. LPS storage holds the same body with x and y mirrored.
  const ras = new Int16Array(n).fill(-900);
  const rasMask = new Uint8Array(n);
  const lps = new Int16Array(n).fill(-900);
  const lpsMask = new Uint8Array(n);
  for (let z = 0; z < dims[2]; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[0]; x++) {
        const v = (x * 7 + y * 3 + z * 11) % 200 - 800;
        const m = x >= 2 && x <= 6 && y >= 12 && y <= 16 && z >= 3 && z <= 4 ? 1 : 0;
        const i = x + dims[0] * (y + dims[1] * z);
        const j = dims[0] - 1 - x + dims[0] * (dims[1] - 1 - y + dims[1] * z);
        ras[i] = v;
        lps[j] = v;
        rasMask[i] = m;
        lpsMask[j] = m;
      }
    }
  }
  const rasAffine: Mat4 = [[spacing[0], 0, 0, -10], [0, spacing[1], 0, -20], [0, 0, spacing[2], 5], [0, 0, 0, 1]];
  const lpsAffine: Mat4 = [[-spacing[0], 0, 0, -10 + (dims[0] - 1) * spacing[0]], [0, -spacing[1], 0, -20 + (dims[1] - 1) * spacing[1]], [0, 0, spacing[2], 5], [0, 0, 0, 1]];
  const show = (data: Int16Array, mask: Uint8Array, affine: Mat4) => {
    const ct = toCanonical({ data, dims, spacing, affine });
    const m = toCanonical({ data: mask, dims, spacing, affine }).volume.data;
    return renderCase({ hu: ct.volume.data, dims: ct.volume.dims, spacingMm: ct.volume.spacing, truth: m, pred: null }, { fullPx: 48, closeUpPx: 32, minCloseUpMm: 10 });
  };
  const a = show(ras, rasMask, rasAffine);
  const b = show(lps, lpsMask, lpsAffine);
  for (const view of ['axial', 'coronal', 'sagittal'] as const) {
    assert.deepEqual(a[view].image.rgb, b[view].image.rgb, `${view} pictures differ between RAS and LPS storage`);
  }
  // The patient's left is the picture's right half; anterior (large y) the top half.
  const img = a.axial.image;
  let sumX = 0;
  let sumY = 0;
  let count = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const [r, g, bb] = pixel(img, x, y);
      if (r === TRUTH_COLOUR[0] && g === TRUTH_COLOUR[1] && bb === TRUTH_COLOUR[2]) {
        sumX += x;
        sumY += y;
        count++;
      }
    }
  }
  assert.ok(count > 0);
  assert.ok(sumX / count > img.width * 0.65, 'patient\'s left on the picture\'s right');
  assert.ok(sumY / count < img.height * 0.5, 'anterior at the top');
});

test('QA flags: scan edge, low confidence, close call, lungs not found, warnings', () => {
  const dims: Vec3 = [5, 5, 5];
  const m = new Uint8Array(125);
  m[62] = 1;
  assert.equal(touchesBorder(m, dims), false);
  m[0] = 1;
  assert.equal(touchesBorder(m, dims), true);
  const log = {
    id: 'X', file: 'x.nii.gz', candidates: 3, chosenProbability: 0.4, runnerUpProbability: 0.3, lungsFound: false,
    warnings: ['no lungs found: 77 mL of air inside the body', 'used threshold 0.25'], backend: 'cpu', seconds: {}, peakRssMb: 100,
  };
  const flags = caseFlags({ hasPrediction: true, predVoxels: 10, truthVoxels: 12, predTouchesBorder: true, truthTouchesBorder: false, log });
  assert.deepEqual(flags.map((f) => f.code), ['border', 'low-confidence', 'close-candidates', 'no-lungs', 'pipeline-note']);
  const calm = caseFlags({ hasPrediction: true, predVoxels: 10, truthVoxels: 12, predTouchesBorder: false, truthTouchesBorder: false, log: { ...log, chosenProbability: 0.9, runnerUpProbability: 0.74, lungsFound: true, warnings: [] } });
  assert.deepEqual(calm, []);
  const missing = caseFlags({ hasPrediction: false, predVoxels: null, truthVoxels: 12, predTouchesBorder: false, truthTouchesBorder: false, log: null });
  assert.deepEqual(missing.map((f) => f.code), ['missing-prediction']);
});

test('chart axes: 1-2-5 ticks, powers of ten beyond two decades', () => {
  assert.deepEqual(ticks(0, 10, false), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(ticks(3, 300, true), [5, 10, 20, 50, 100, 200]);
  assert.deepEqual(ticks(3, 5000, true), [10, 100, 1000]);
});

// ---- the CLI on a small fixture ---------------------------------------------------------------------

/** A model folder of the right shapes (the report reads it; nothing runs it). */
function fakeModel(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const w = (name: string, v: unknown): void => writeFileSync(join(dir, name), `${JSON.stringify(v)}\n`);
  w('model.json', { format: 'lungtumor-model', version: 1, config: 'fast', seed: 3, caseOrder: ['A', 'B'], versions: { lungtumor: '0.1.0', node: '20' }, hasRefiner: true });
  w('plans.json', { format: 'lungtumor-plans', version: 1 });
  // Two trees: a split with two leaves, and a single leaf.
  w('voxel_classifier.json', { format: 'lungtumor-gbdt', trees: { roots: [0, 3], feature: [1, -1, -1, -1], left: [1, 0, 0, 0], value: [0.5, 1, -1, 0.2] } });
  w('candidate_classifier.json', { format: 'lungtumor-forest', trees: { roots: [0], feature: [0, -1, 2, -1, -1], left: [1, 0, 3, 0, 0], value: [1, 0, 2, 1, 0] } });
  w('features.json', {
    voxel: [{ name: 'hu_mean_s2mm', importance: 0.25, description: 'Gaussian-weighted mean HU, σ 2 mm' }, { name: 'dist_lung_wall_mm', importance: 0.75, description: 'distance to the lung wall <mm>' }],
    candidate: [{ name: 'log_volume_mm3', importance: 1, description: 'natural log of the region volume in mm³' }],
  });
  w('refiner.json', { format: 'lungtumor-refiner', userDefinedMetadata: { lungtumor: { paramCount: 1234, trainBackend: 'cpu (test)' } } });
  writeFileSync(join(dir, 'refiner.weights.bin'), new Uint8Array(1234 * 4));
  w('training_log.json', { cases: 2, seconds: { prepare: 1.5, features: 2, total: 4 }, workers: 1, backend: 'cpu (test)' });
}

interface Fixture {
  root: string;
  model: string;
  pred: string;
  truth: string;
  scans: string;
  out: string;
  ids: string[];
}

/** Three small scans (one stored LPS, two RAS): ball tumours, predictions shifted or missing. */
function makeFixture(root: string): Fixture {
  const f: Fixture = { root, model: join(root, 'model'), pred: join(root, 'pred'), truth: join(root, 'truth'), scans: join(root, 'scans'), out: join(root, 'report'), ids: ['CASE-A', 'CASE-B', 'CASE-C'] };
  fakeModel(f.model);
  for (const d of [f.pred, f.truth, f.scans]) mkdirSync(d, { recursive: true });
  const dims: Vec3 = [48, 40, 16];
  const spacing: Vec3 = [2, 2, 4];
  const n = dims[0] * dims[1] * dims[2];
  const logCases: unknown[] = [];
  f.ids.forEach((id, k) => {
    const lps = k === 0;
    const affine: Mat4 = lps
      ? [[-2, 0, 0, 47], [0, -2, 0, 39], [0, 0, 4, 0], [0, 0, 0, 1]]
      : [[2, 0, 0, -47], [0, 2, 0, -39], [0, 0, 4, 0], [0, 0, 0, 1]];
    const ct = new Int16Array(n);
    const truth = new Uint8Array(n);
    const pred = new Uint8Array(n);
    const centre = [14 + 8 * k, 20, 8];
    for (let z = 0; z < dims[2]; z++) {
      for (let y = 0; y < dims[1]; y++) {
        for (let x = 0; x < dims[0]; x++) {
          const i = x + dims[0] * (y + dims[1] * z);
          const body = ((x - 24) / 22) ** 2 + ((y - 20) / 17) ** 2 <= 1;
          const lung = ((Math.abs(x - 24) - 10) / 7) ** 2 + ((y - 20) / 12) ** 2 <= 1;
          const r2 = ((x - centre[0]!) * 2) ** 2 + ((y - centre[1]!) * 2) ** 2 + ((z - centre[2]!) * 4) ** 2;
          ct[i] = !body ? -1000 : lung ? -850 + ((x * 13 + y * 7) % 40) : 30;
          if (r2 <= 10 ** 2) {
            truth[i] = 1;
            ct[i] = 35;
          }
          const p2 = ((x - centre[0]! - 1) * 2) ** 2 + ((y - centre[1]!) * 2) ** 2 + ((z - centre[2]!) * 4) ** 2;
          if (k !== 2 && p2 <= 11 ** 2) pred[i] = 1;
        }
      }
    }
    const vol: Volume = { data: ct, dims, spacing, affine };
    const ctPath = join(f.scans, `${id}_vol.nii.gz`);
    writeNifti(ctPath, vol);
    writeNiftiMask(join(f.truth, `${id}_seg.nii.gz`), truth, vol);
    writeNiftiMask(join(f.pred, `${id}_seg.nii.gz`), pred, vol);
    logCases.push({
      id, file: ctPath, dims, spacing_mm: spacing, candidates: 3 - k,
      chosen_probability: [0.9, 0.45, 0.6][k], runner_up_probability: [0.2, 0.4, null][k], lungs_found: k !== 1,
      warnings: k === 2 ? ['no tumour candidate found: the mask is empty'] : [], backend: 'cpu (test)',
      seconds: { read: 0.1, features: 0.5 + k, total: 1 + k }, peak_rss_mb: 300 + k,
    });
  });
  // A fourth scan predict could not read: a truth but no prediction, listed among the failures.
  const broken = join(f.scans, 'CASE-D_vol.nii.gz');
  writeFileSync(broken, 'not a scan');
  const like: Volume = { data: new Int16Array(n), dims, spacing, affine: [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 4, 0], [0, 0, 0, 1]] };
  const small = new Uint8Array(n);
  small[5 + dims[0] * (6 + dims[1] * 7)] = 1;
  writeNiftiMask(join(f.truth, 'CASE-D_seg.nii.gz'), small, like);
  f.ids.push('CASE-D');
  const failed = [{ file: broken, problem: `${broken}: not a NIfTI file` }];
  writeFileSync(join(f.pred, 'prediction_log.json'), JSON.stringify({ model: f.model, workers: 1, cases: logCases, failed }));
  return f;
}

function runChromium(args: string[], timeoutMs = 90_000): { status: number; stdout: string; stderr: string } {
  const profile = mkdtempSync(join(tmpdir(), 'report-chromium-'));
  try {
    const r = spawnSync(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0',
      '--hide-scrollbars', '--force-device-scale-factor=1', ...args,
    ], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Console messages Chromium logged for the page (it logs them all at INFO level on stderr). */
function consoleLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.includes(':CONSOLE'));
}

/**
 * Runs before the page's own scripts: records script errors, console errors and failed loads, then
 * on load checks every picture decoded, sorts the case table by Dice (one click) and writes what
 * it saw into the DOM for --dump-dom.
 */
const PROBE = `<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    errors.push(t && t !== window && (t.src || t.href) ? 'failed to load ' + (t.src || t.href) : 'script error: ' + e.message);
  }, true);
  var ce = console.error;
  console.error = function () { errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments); };
  window.addEventListener('load', function () {
    var imgs = document.images, shown = 0;
    for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) shown++; else errors.push('picture not shown: ' + imgs[i].src); }
    var table = document.querySelector('table.cases');
    var heads = table.tHead.rows[0].cells, dice = -1;
    for (var h = 0; h < heads.length; h++) if (heads[h].textContent.trim().indexOf('Dice') === 0) dice = h;
    heads[dice].click();
    var order = Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[0].textContent.trim(); });
    var out = document.createElement('pre');
    out.id = 'probe';
    out.textContent = JSON.stringify({ errors: errors, pictures: imgs.length, shown: shown, rows: table.tBodies[0].rows.length, order: order });
    document.body.appendChild(out);
  });
})();
</script>`;

describe('lungtumor report on a small fixture', () => {
  let f: Fixture;
  let cli: { status: number; stdout: string; stderr: string };

  before(() => {
    f = makeFixture(mkdtempSync(join(tmpdir(), 'report-fixture-')));
    cli = runCli(['report', '--model', f.model, '--pred', f.pred, '--truth', f.truth, '--out', f.out, '--quiet']);
  });

  after(() => rmSync(f.root, { recursive: true, force: true }));

  test('writes index.html and non-blank pictures; numbers equal those of lungtumor evaluate', () => {
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(cli.stderr, '', 'nothing to warn about');
    const html = readFileSync(join(f.out, 'index.html'), 'utf8');
    const images = readdirSync(join(f.out, 'images')).sort();
    // Three full views for each case, and a close-up where there is a tumour (all three have one).
    assert.equal(images.length, 12);
    for (const name of images) {
      const img = decodePng(readFileSync(join(f.out, 'images', name)));
      assert.ok(distinctColours(img) > 3, `${name} is blank`);
      assert.ok(html.includes(`images/${name}`), `${name} is not on the page`);
      assert.ok(countColour(img, TRUTH_COLOUR) + countColour(img, BOTH_COLOUR) > 0, `${name} lacks the true outline`);
    }
    const ev = evaluateFolders(f.pred, f.truth);
    assert.ok(html.includes(`<div class="big">${ev.score.toFixed(3)}</div>`), 'challenge score as evaluate computes it');
    for (const c of ev.cases) assert.ok(html.includes(`data-sort="${c.dice}">${c.dice.toFixed(3)}</td>`), `Dice of ${c.id}`);
    assert.match(cli.stdout, new RegExp(`score ${ev.score.toFixed(4)} over 4 scored`));
    assert.deepEqual(ev.missing, ['CASE-D']);
    // Table: one row per case, flags from the log.
    const body = html.slice(html.indexOf('<table class="sortable cases">'), html.indexOf('</table>', html.indexOf('<table class="sortable cases">')));
    assert.equal((body.match(/<tr>/g) ?? []).length, 1 + 4);
    assert.match(html, /unreadable scan/);
    assert.match(html, /low confidence/);
    assert.match(html, /close call/);
    assert.match(html, /lungs not found/);
    assert.match(html, /empty prediction/);
    // Model facts: importances sorted, escaped descriptions, counts, bytes, timings.
    assert.ok(html.indexOf('dist_lung_wall_mm') < html.indexOf('hu_mean_s2mm'));
    assert.ok(html.includes('distance to the lung wall &lt;mm&gt;'));
    assert.match(html, /2 trees, 1 splits, 3 leaves/);
    assert.match(html, /1\u2009234/);
    assert.match(html, /Peak memory while predicting: <b>302 MB/);
    // Self-contained: nothing fetched from elsewhere.
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  });

  test('model only: importances and cost, no scans; bad input is one line and exit 2', () => {
    const out = join(f.root, 'model-only');
    const r = runCli(['report', '--model', f.model, '--out', out, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(html, /What the model looks at/);
    assert.doesNotMatch(html, /table class="sortable cases"/);
    const bad = runCli(['report', '--model', f.pred, '--out', join(f.root, 'bad'), '--quiet']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^lungtumor report: error: .*model\.json/);
    assert.equal(existsSync(join(f.root, 'bad')), false, 'no half-written report');
    const usage = runCli(['report', '--model', f.model, '--truth', f.truth, '--out', out]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--truth needs --pred/);
  });

  test('renders in headless Chromium: no console errors, every picture shown, the table sorts; screenshot not blank', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is not installed` }, () => {
    assert.equal(cli.status, 0, cli.stderr);
    const html = readFileSync(join(f.out, 'index.html'), 'utf8');
    const probed = join(f.out, 'probe.html');
    writeFileSync(probed, html.replace('<head>', `<head>${PROBE}`));
    const dom = runChromium(['--dump-dom', `file://${probed}`]);
    assert.equal(dom.status, 0, dom.stderr.slice(-2000));
    const m = /<pre id="probe">([^<]*)<\/pre>/.exec(dom.stdout);
    assert.ok(m, `no probe output in the DOM; console: ${consoleLines(dom.stderr).join('\n')}`);
    const probe = JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as { errors: string[]; pictures: number; shown: number; rows: number; order: string[] };
    assert.deepEqual(probe.errors, []);
    assert.deepEqual(consoleLines(dom.stderr), []);
    assert.equal(probe.pictures, 12);
    assert.equal(probe.shown, 12);
    assert.equal(probe.rows, 4);
    const ev = evaluateFolders(f.pred, f.truth);
    assert.deepEqual(probe.order, [...ev.cases].sort((a, b) => a.dice - b.dice).map((c) => c.id), 'sorted by Dice, ascending');

    const shot = join(f.root, 'shot.png');
    const s = runChromium([`--screenshot=${shot}`, '--window-size=1280,2400', `file://${join(f.out, 'index.html')}`]);
    assert.equal(s.status, 0, s.stderr.slice(-2000));
    assert.deepEqual(consoleLines(s.stderr), []);
    const img = decodePng(readFileSync(shot));
    assert.equal(img.width, 1280);
    assert.ok(distinctColours(img) > 200, 'screenshot is not blank');
    // The first case's pictures are on screen, outlines and all (shown 1:1, pixelated).
    assert.ok(countColour(img, TRUTH_COLOUR) > 20, 'true outlines visible in the screenshot');
    assert.ok(countColour(img, PRED_COLOUR) > 20, 'predicted outlines visible in the screenshot');
  });
});

// ---- end to end: synth → train → predict → report ---------------------------------------------------

test('report on a model and predictions made by lungtumor itself (fast config, 3 small synthetic scans)', (t) => {
  const root = tempDir(t);
  const run = (args: string[]): string => {
    const r = runCli([...args, '--quiet']);
    assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
    return r.stdout;
  };
  run(['synth', '--out', join(root, 'syn'), '--cases', '3', '--seed', '5']);
  run(['train', '--data', join(root, 'syn'), '--model', join(root, 'model'), '--config', 'fast', '--workers', '1']);
  run(['predict', '--model', join(root, 'model'), '--input', join(root, 'syn'), '--out', join(root, 'pred'), '--workers', '1']);
  const out = join(root, 'report');
  const stdout = run(['report', '--model', join(root, 'model'), '--pred', join(root, 'pred'), '--truth', join(root, 'syn'), '--out', out]);
  const ev = evaluateFolders(join(root, 'pred'), join(root, 'syn', 'train', 'seg'));
  assert.match(stdout, new RegExp(`score ${ev.score.toFixed(4)} over 3 scored`));
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  for (const c of ev.cases) assert.ok(html.includes(`href="#case-${c.id}"`), c.id);
  // The counts come from the model's own files.
  const gbdt = JSON.parse(readFileSync(join(root, 'model', 'voxel_classifier.json'), 'utf8')) as { trees: { roots: number[]; feature: number[] } };
  const leaves = gbdt.trees.feature.filter((f) => f < 0).length;
  assert.ok(html.includes(`${gbdt.trees.roots.length} trees, ${gbdt.trees.feature.length - leaves} splits, ${leaves} leaves`));
  const refiner = JSON.parse(readFileSync(join(root, 'model', 'refiner.json'), 'utf8')) as { userDefinedMetadata: { lungtumor: { paramCount: number } } };
  assert.ok(refiner.userDefinedMetadata.lungtumor.paramCount > 0);
  assert.match(html, /Time to train \(seconds\)/);
  assert.match(html, /Refiner ran on: <b>[^<]+<\/b>/);
  assert.match(html, /Peak memory while predicting: <b>\d/);
  const features = JSON.parse(readFileSync(join(root, 'model', 'features.json'), 'utf8')) as { voxel: { name: string }[]; candidate: { name: string }[] };
  for (const f of [...features.voxel, ...features.candidate]) assert.ok(html.includes(`>${f.name}</text>`), `importance bar of ${f.name}`);
  assert.equal(readdirSync(join(out, 'images')).length, 12);
});

// ---- real scans ---------------------------------------------------------------------------------------

test('report on real scans (LPS, anisotropic): Dice as evaluate computes it, outlines on the tumour slice, renders in Chromium', { skip: realDataDir() === null }, (t) => {
  const real = realDataDir()!;
  const root = tempDir(t);
  const model = join(root, 'model');
  fakeModel(model);
  const pred = join(root, 'pred');
  const truth = join(root, 'truth');
  mkdirSync(pred);
  mkdirSync(truth);
  // A stand-in prediction: the true mask moved one voxel along x (no model needed to test the report).
  for (const id of ['RADPHANTOM-2', 'LIDC-0001']) {
    const ctPath = join(real, 'train', 'volume', `${id}_vol.nii.gz`);
    const segPath = join(real, 'train', 'seg', `${id}_seg.nii.gz`);
    writeFileSync(join(truth, `${id}_seg.nii.gz`), readFileSync(segPath));
    const vol = readNifti(ctPath);
    const seg = readNifti(segPath).data as Uint8Array;
    const moved = new Uint8Array(seg.length);
    for (let i = 1; i < seg.length; i++) moved[i] = seg[i - 1]!;
    writeNiftiMask(join(pred, `${id}_seg.nii.gz`), moved, vol);
  }
  const out = join(root, 'report');
  const r = runCli(['report', '--model', model, '--pred', pred, '--truth', truth, '--scans', real, '--out', out, '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  const ev = evaluateFolders(pred, truth);
  for (const c of ev.cases) {
    assert.ok(c.dice > 0.5 && c.dice < 1);
    assert.ok(html.includes(`data-sort="${c.dice}">${c.dice.toFixed(3)}</td>`), `Dice of ${c.id}`);
  }
  assert.ok(html.includes('stored in LPS order'));
  const images = readdirSync(join(out, 'images'));
  for (const name of images) {
    const img = decodePng(readFileSync(join(out, 'images', name)));
    assert.ok(countColour(img, TRUTH_COLOUR) + countColour(img, BOTH_COLOUR) > 0, `${name}: the true outline is on the slice`);
    assert.ok(countColour(img, PRED_COLOUR) + countColour(img, BOTH_COLOUR) > 0, `${name}: the predicted outline is on the slice`);
  }
  if (!existsSync(CHROMIUM)) return;
  // The real scans' report renders in headless Chromium: no console errors, every picture shown,
  // one table row per case, and a screenshot that is not blank.
  const probed = join(out, 'probe.html');
  writeFileSync(probed, html.replace('<head>', `<head>${PROBE}`));
  const dom = runChromium(['--dump-dom', `file://${probed}`]);
  assert.equal(dom.status, 0, dom.stderr.slice(-2000));
  const m = /<pre id="probe">([^<]*)<\/pre>/.exec(dom.stdout);
  assert.ok(m, `no probe output in the DOM; console: ${consoleLines(dom.stderr).join('\n')}`);
  const probe = JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as { errors: string[]; pictures: number; shown: number; rows: number };
  assert.deepEqual(probe.errors, []);
  assert.deepEqual(consoleLines(dom.stderr), []);
  assert.equal(probe.rows, 2);
  assert.ok(probe.pictures >= images.length && probe.shown === probe.pictures, `${probe.shown} of ${probe.pictures} pictures shown`);
  const shot = join(root, 'real-shot.png');
  const sc = runChromium([`--screenshot=${shot}`, '--window-size=1280,2400', `file://${join(out, 'index.html')}`]);
  assert.equal(sc.status, 0, sc.stderr.slice(-2000));
  const img = decodePng(readFileSync(shot));
  assert.ok(distinctColours(img) > 200, 'screenshot is not blank');
  assert.ok(countColour(img, TRUTH_COLOUR) + countColour(img, BOTH_COLOUR) > 20, 'outlines visible in the screenshot');
});

