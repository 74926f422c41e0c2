/**
 * The report page: one self-contained index.html (inline CSS, SVG and a few lines of script; the
 * pictures are files beside it). Written for a clinician: short headings, units everywhere, and a
 * line of explanation for each technical term.
 */
import type { CohortEvaluation } from '../metrics/score.js';
import type { CaseResult, PictureName, PredictionLog, ScanInfo } from './cases.js';
import { CLOSE_CANDIDATES_WITHIN, LOW_CONFIDENCE_BELOW } from './cases.js';
import { learnedParameters, type ModelInfo } from './model-info.js';
import { BOTH_COLOUR, LUNG_WINDOW, PRED_COLOUR, TRUTH_COLOUR, VIEW_EDGES, type Rgb, type ViewName } from './render.js';
import { barChart, esc, scatterPlot } from './svg.js';

export interface ReportPage {
  model: ModelInfo;
  predDir: string | null;
  truthDir: string | null;
  log: PredictionLog | null;
  /** In the order shown. */
  cases: CaseResult[];
  /** Picture paths relative to index.html, per case id. */
  pictures: Record<string, Partial<Record<PictureName, string>>>;
  /** The challenge's numbers over the cases that have a truth (null without truths). */
  cohort: CohortEvaluation | null;
}

/** An id usable in a URL fragment and an HTML id. */
export function anchorOf(caseId: string): string {
  return `case-${caseId.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

const dash = '–';

function fix(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? dash : v.toFixed(digits);
}

/** 1234567 → "1 234 567" (thin spaces; no locale dependence). */
function int(v: number): string {
  return String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

function bytes(v: number): string {
  if (v >= 1024 * 1024) return `${(v / 1024 / 1024).toFixed(2)} MB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} kB`;
  return `${v} bytes`;
}

function pct(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined ? dash : `${(v * 100).toFixed(digits)}%`;
}

/** Signed relative difference of a predicted from a true value, e.g. "+12%"; '–' when undefined. */
function signedDiff(pred: number | null, truth: number | null): string {
  if (pred === null || truth === null || truth === 0) return dash;
  const d = ((pred - truth) / truth) * 100;
  return `${d >= 0 ? '+' : '\u2212'}${Math.abs(d).toFixed(0)}%`;
}

const rgb = (c: Rgb): string => `rgb(${c[0]},${c[1]},${c[2]})`;

const CSS = `
:root { --ink: #1d2329; --muted: #5b6570; --line: #d7dde3; --soft: #f3f5f7; --accent: #2266aa; --warn: #9a5b00; --warnbg: #fff4e0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 12px 20px 60px; }
h1 { font-size: 26px; margin: 12px 0 4px; }
h2 { font-size: 21px; margin: 36px 0 8px; padding-top: 8px; border-top: 2px solid var(--line); }
h3 { font-size: 18px; margin: 0 0 4px; }
p { margin: 6px 0; max-width: 80ch; }
a { color: var(--accent); }
.muted, .note { color: var(--muted); }
.note { font-size: 13px; }
nav { font-size: 14px; margin: 6px 0 10px; }
nav a { margin-right: 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 170px; max-width: 240px; background: var(--soft); }
.card .big { font-size: 24px; font-weight: 600; }
.card .what { font-size: 12.5px; color: var(--muted); }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
td:first-child { white-space: nowrap; }
table.stages th, table.stages td { text-align: right; }
td.text, th.text { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #9aa4ae; font-weight: 400; }
table.sortable th[aria-sort="ascending"]::after { content: " \\2191"; color: var(--ink); }
table.sortable th[aria-sort="descending"]::after { content: " \\2193"; color: var(--ink); }
tr.mean td { font-weight: 600; background: var(--soft); }
.tag { display: inline-block; font-size: 12px; padding: 0 6px; margin: 1px 2px; border-radius: 9px; background: var(--warnbg); color: var(--warn); border: 1px solid #f0c98a; white-space: nowrap; }
.ok { color: #2b7a3d; }
dl.terms { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; font-size: 14px; max-width: 1000px; }
dl.terms dt { font-weight: 600; }
dl.terms dd { margin: 0; color: var(--muted); }
.case { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 16px 0; }
.headline { font-size: 15px; margin: 2px 0 8px; }
ul.flags { margin: 4px 0 8px; padding-left: 20px; }
ul.flags li { color: var(--warn); }
.views { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure.view { margin: 0; }
.frame { position: relative; line-height: 0; background: #000; }
.frame img { display: block; image-rendering: pixelated; }
.edge { position: absolute; font: 600 13px/1 system-ui, sans-serif; color: #fff; text-shadow: 0 0 3px #000, 0 0 2px #000; }
.edge.l { left: 4px; top: 50%; transform: translateY(-50%); }
.edge.r { right: 4px; top: 50%; transform: translateY(-50%); }
.edge.t { top: 4px; left: 50%; transform: translateX(-50%); }
.edge.b { bottom: 4px; left: 50%; transform: translateX(-50%); }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 4px; line-height: 1.3; }
.legend { font-size: 13.5px; margin: 6px 0; }
.swatch { display: inline-block; width: 22px; height: 4px; vertical-align: middle; margin: 0 5px 0 12px; }
.legend .swatch:first-child { margin-left: 0; }
.two { display: flex; flex-wrap: wrap; gap: 12px 40px; align-items: flex-start; }
.two > div { flex: 0 1 auto; min-width: 300px; }
.two > div.grow { flex: 1 1 420px; }
.two .note { max-width: 56ch; }
svg.chart { max-width: 100%; height: auto; font-family: system-ui, sans-serif; }
svg .bar { fill: #4f7fb0; }
svg .bar-label { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; fill: var(--ink); }
svg .bar-value { font-size: 12px; fill: var(--ink); }
svg .bar-note { font-size: 11.5px; fill: var(--muted); }
svg .plot-area { fill: #fff; stroke: #9aa4ae; }
svg .grid { stroke: #e6eaee; }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .axis-label { font-size: 12.5px; fill: var(--ink); }
svg .identity { stroke: #9aa4ae; stroke-dasharray: 5 4; }
svg .point { fill: ${rgb(PRED_COLOUR)}; stroke: #7a3a00; }
svg .point.hollow { fill: #fff; }
svg .point-label { font-size: 11px; fill: var(--ink); }
`;

/** Sorts a table.sortable by the clicked column (numbers by value, else text); a second click reverses. */
const SORT_SCRIPT = `
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-sort') || a.cells[col].textContent;
        var y = b.cells[col].getAttribute('data-sort') || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
`;

/** A sortable cell: shown text, sorted by `key` (missing values sort first). */
function cell(text: string, key: number | string | null, cls = ''): string {
  const sortKey = key === null ? '-1e300' : String(key);
  return `<td${cls ? ` class="${cls}"` : ''} data-sort="${esc(sortKey)}">${text}</td>`;
}

function legend(hasTruth: boolean, hasPred: boolean): string {
  const items: string[] = [];
  if (hasPred) items.push(`<span class="swatch" style="background:${rgb(PRED_COLOUR)}"></span>predicted outline`);
  if (hasTruth) items.push(`<span class="swatch" style="background:${rgb(TRUTH_COLOUR)}"></span>true outline (reference)`);
  if (hasPred && hasTruth) items.push(`<span class="swatch" style="background:${rgb(BOTH_COLOUR)}"></span>both outlines on the same pixels`);
  return `<p class="legend">${items.join('')}</p>`;
}

function figure(src: string, size: [number, number], view: ViewName, caption: string, alt: string): string {
  const e = VIEW_EDGES[view];
  return [
    // The figure is as wide as its picture, so captions wrap under it instead of widening it.
    `<figure class="view" style="width:${size[0]}px"><div class="frame" style="width:${size[0]}px;height:${size[1]}px">`,
    `<a href="${esc(src)}"><img src="${esc(src)}" width="${size[0]}" height="${size[1]}" alt="${esc(alt)}"></a>`,
    `<span class="edge l">${e.left}</span><span class="edge r">${e.right}</span><span class="edge t">${e.top}</span><span class="edge b">${e.bottom}</span>`,
    `</div><figcaption>${caption}</figcaption></figure>`,
  ].join('');
}

/** "slice 57 of 134" along a canonical axis, counted from the patient's right / front / head as a reader would scroll. */
function sliceText(scan: ScanInfo, axis: 0 | 1 | 2): string {
  const n = scan.canonicalDims[axis];
  const k = scan.views.cut.voxel[axis];
  // Counted from the picture-space origin of that axis: right (x), front (y), head (z).
  return `slice ${n - k} of ${n}`;
}

function notOnSlice(c: CaseResult, scan: ScanInfo, name: PictureName): string {
  const o = scan.views.outlinePixels[name];
  if (!o) return '';
  const missing: string[] = [];
  if (c.predFile && c.pred && c.pred.voxels > 0 && o.pred + o.both === 0) missing.push('predicted');
  if (c.truthFile && c.truth && c.truth.voxels > 0 && o.truth + o.both === 0) missing.push('true');
  return missing.length > 0 ? ` No ${missing.join(' or ')} tumour on this slice.` : '';
}

function caseSection(c: CaseResult, pics: Partial<Record<PictureName, string>>): string {
  const out: string[] = [];
  out.push(`<section class="case" id="${anchorOf(c.id)}">`);
  out.push(`<h3>${esc(c.id)}</h3>`);
  const head: string[] = [];
  if (c.evaluation) head.push(`Dice overlap <b>${fix(c.evaluation.dice, 3)}</b>`);
  if (c.pred) head.push(`predicted volume <b>${fix(c.pred.volumeMl, 2)} mL</b>`);
  if (c.truth) head.push(`true volume <b>${fix(c.truth.volumeMl, 2)} mL</b>`);
  out.push(`<p class="headline">${head.join(' · ')}</p>`);
  if (c.flags.length > 0) {
    out.push(`<ul class="flags">${c.flags.map((f) => `<li>${esc(f.text)}</li>`).join('')}</ul>`);
  } else {
    out.push('<p class="ok note">No quality warnings.</p>');
  }
  const scan = c.scan;
  if (scan) {
    const views: string[] = [];
    const size = scan.views.sizes;
    const reference = c.truth && c.truth.voxels > 0 ? 'true' : 'predicted';
    if (pics.axial && size.axial) {
      views.push(figure(pics.axial, size.axial, 'axial', `Axial, ${sliceText(scan, 2)} (from the head): the slice with the largest ${reference} tumour area.${notOnSlice(c, scan, 'axial')}`, `axial CT slice of ${c.id}`));
    }
    if (pics.closeUp && size.closeUp) {
      views.push(figure(pics.closeUp, size.closeUp, 'axial', `Close-up of the same axial slice, ${fix(scan.views.closeUpFieldMm, 0)} mm across.${notOnSlice(c, scan, 'closeUp')}`, `axial close-up of ${c.id}`));
    }
    if (pics.coronal && size.coronal) {
      views.push(figure(pics.coronal, size.coronal, 'coronal', `Coronal, ${sliceText(scan, 1)} (from the front), through the tumour.${notOnSlice(c, scan, 'coronal')}`, `coronal CT slice of ${c.id}`));
    }
    if (pics.sagittal && size.sagittal) {
      views.push(figure(pics.sagittal, size.sagittal, 'sagittal', `Sagittal, ${sliceText(scan, 0)} (from the right), through the tumour.${notOnSlice(c, scan, 'sagittal')}`, `sagittal CT slice of ${c.id}`));
    }
    out.push(`<div class="views">${views.join('')}</div>`);
    out.push(legend(c.truthFile !== null, c.predFile !== null));
  }

  const rows: string[] = [];
  const row = (label: string, p: number | null | undefined, t: number | null | undefined, digits: number): string =>
    `<tr><td>${label}</td><td>${c.predFile ? fix(p, digits) : dash}</td><td>${c.truthFile ? fix(t, digits) : dash}</td><td>${c.predFile && c.truthFile ? signedDiff(p ?? null, t ?? null) : dash}</td></tr>`;
  rows.push(row('Volume (mL)', c.pred?.volumeMl, c.truth?.volumeMl, 2));
  rows.push(row('RECIST diameter, challenge method (mm)', c.pred?.recistMm, c.truth?.recistMm, 1));
  rows.push(row('Longest axial diameter (mm)', c.pred?.feretMm, c.truth?.feretMm, 1));
  out.push('<div class="two"><table class="measures"><thead><tr><th>Measure</th><th>Predicted</th><th>True</th><th>Difference</th></tr></thead>');
  out.push(`<tbody>${rows.join('')}</tbody></table>`);
  const facts: string[] = [];
  if (c.evaluation) facts.push(`<tr><td>Dice overlap (0–1)</td><td>${fix(c.evaluation.dice, 3)}</td></tr>`);
  if (c.log) {
    facts.push(`<tr><td>Model confidence in the chosen region</td><td>${pct(c.log.chosenProbability)}</td></tr>`);
    facts.push(`<tr><td>Next-best region</td><td>${pct(c.log.runnerUpProbability)}</td></tr>`);
    facts.push(`<tr><td>Regions considered</td><td>${c.log.candidates ?? dash}</td></tr>`);
    facts.push(`<tr><td>Time to segment (s)</td><td>${fix(c.log.seconds.total, 1)}</td></tr>`);
  }
  if (facts.length > 0) out.push(`<table class="facts"><tbody>${facts.join('')}</tbody></table>`);
  out.push('</div>');
  if (scan) {
    const [sx, sy, sz] = scan.canonicalSpacingMm;
    out.push(
      `<p class="note">Scan: ${scan.dims.join(' × ')} voxels of ${scan.spacingMm.map((v) => v.toFixed(2)).join(' × ')} mm, stored in ${esc(scan.storedOrder)} order; ` +
        `shown in the radiological convention (patient's right on the left) at ${fix(scan.views.pixelMm, 2)} mm per pixel, ` +
        `voxels ${sx.toFixed(2)} × ${sy.toFixed(2)} mm in-plane and ${sz.toFixed(2)} mm apart along the body. ` +
        `CT file: <code>${esc(c.ctFile)}</code>.</p>`,
    );
  }
  out.push('</section>');
  return out.join('\n');
}

function cohortSection(page: ReportPage): string {
  const out: string[] = [];
  const { cohort, cases } = page;
  out.push('<h2 id="results">Results over all scans</h2>');
  if (cohort) {
    const cards: [string, string, string][] = [
      [String(cohort.cases.length), 'scans scored', 'scans with a true outline'],
      [fix(cohort.mean_dice, 3), 'mean Dice overlap', '1 = predicted and true tumour coincide, 0 = no overlap'],
      [pct(cohort.mean_recist_err), 'mean RECIST error', 'how far the predicted diameter is from the true one (capped at 100%)'],
      [pct(cohort.mean_volume_err), 'mean volume error', 'how far the predicted volume is from the true one (capped at 100%)'],
      [fix(cohort.score, 3), 'challenge score', 'mean of (1 − Dice), RECIST error and volume error; 0 is perfect, lower is better'],
    ];
    out.push(`<div class="cards">${cards.map(([v, t, w]) => `<div class="card"><div class="big">${v}</div><div>${t}</div><div class="what">${w}</div></div>`).join('')}</div>`);
  } else {
    out.push('<p class="muted">No true outlines were given, so the predictions are not scored; the table shows what the model measured.</p>');
  }
  const hasTruth = page.truthDir !== null;
  const head = ['Scan', ...(hasTruth ? ['Dice'] : []), 'Volume pred. (mL)', ...(hasTruth ? ['Volume true (mL)', 'Volume error'] : []),
    'RECIST pred. (mm)', ...(hasTruth ? ['RECIST true (mm)', 'RECIST error'] : []), 'Longest diam. pred. (mm)', ...(hasTruth ? ['Longest diam. true (mm)'] : []), 'Checks'];
  out.push('<p class="note">Click a column heading to sort by it; click a scan to see its pictures.</p>');
  out.push(`<table class="sortable cases"><thead><tr>${head.map((h, i) => `<th${i === head.length - 1 ? ' class="text"' : ''}>${h}</th>`).join('')}</tr></thead><tbody>`);
  for (const c of cases) {
    const e = c.evaluation;
    const tds: string[] = [cell(`<a href="#${anchorOf(c.id)}">${esc(c.id)}</a>`, c.id)];
    if (hasTruth) tds.push(cell(e ? fix(e.dice, 3) : dash, e ? e.dice : null));
    tds.push(cell(fix(c.pred?.volumeMl, 2), c.pred?.volumeMl ?? null));
    if (hasTruth) {
      tds.push(cell(fix(c.truth?.volumeMl, 2), c.truth?.volumeMl ?? null));
      tds.push(cell(e ? pct(e.volume_err) : dash, e ? e.volume_err : null));
    }
    tds.push(cell(fix(c.pred?.recistMm, 1), c.pred?.recistMm ?? null));
    if (hasTruth) {
      tds.push(cell(fix(c.truth?.recistMm, 1), c.truth?.recistMm ?? null));
      tds.push(cell(e ? pct(e.recist_err) : dash, e ? e.recist_err : null));
    }
    tds.push(cell(fix(c.pred?.feretMm, 1), c.pred?.feretMm ?? null));
    if (hasTruth) tds.push(cell(fix(c.truth?.feretMm, 1), c.truth?.feretMm ?? null));
    const tags = [...new Set(c.flags.map((f) => f.short))];
    tds.push(cell(tags.map((t) => `<span class="tag">${esc(t)}</span>`).join(' ') || '<span class="ok">ok</span>', c.flags.length, 'text'));
    out.push(`<tr>${tds.join('')}</tr>`);
  }
  out.push('</tbody>');
  if (cohort) {
    const m = ['Mean', fix(cohort.mean_dice, 3), '', '', pct(cohort.mean_volume_err), '', '', pct(cohort.mean_recist_err), '', '', ''];
    out.push(`<tfoot><tr class="mean">${m.map((v) => `<td>${v}</td>`).join('')}</tr></tfoot>`);
  }
  out.push('</table>');
  if (page.log && page.log.failed.length > 0) {
    out.push(`<p class="flags">Scans the model could not read (no prediction): ${page.log.failed.map((f) => `<code>${esc(f.file)}</code> (${esc(f.problem)})`).join('; ')}.</p>`);
  }
  const scored = cases.filter((c) => c.pred && c.truth);
  const two: string[] = [];
  if (scored.length > 0) {
    two.push(
      `<div><h3>Predicted vs true volume</h3>${scatterPlot(
        scored.map((c) => ({ label: c.id, x: c.truth!.volumeMl, y: c.pred!.volumeMl, href: `#${anchorOf(c.id)}` })),
        { title: 'predicted versus true tumour volume', xLabel: 'true volume (mL)', yLabel: 'predicted volume (mL)' },
      )}<p class="note">Each dot is a scan; on the dashed line the prediction is exact. Above it the model over-estimates the volume.</p></div>`,
    );
  }
  two.push(`<div class="grow"><h3>Terms</h3><dl class="terms">
<dt>Dice overlap</dt><dd>2 × shared volume / (predicted + true volume): 1 = identical outlines, 0 = no overlap.</dd>
<dt>RECIST diameter</dt><dd>The tumour's largest diameter on an axial slice, as in RECIST response assessment. The challenge measures it as the widest enclosing circle of the outline on any axial slice.</dd>
<dt>Longest axial diameter</dt><dd>The greatest distance between two tumour voxels on one axial slice (closer to a caliper reading).</dd>
<dt>Volume</dt><dd>Tumour voxels × voxel volume, in mL (1 mL = 1 cm³).</dd>
<dt>Error</dt><dd>|predicted − true| / true, capped at 100%.</dd>
<dt>Checks</dt><dd>Reasons to look twice at a scan: the tumour reaches the scan's edge; the model's confidence in its chosen region is below ${LOW_CONFIDENCE_BELOW * 100}%; another region scored within ${CLOSE_CANDIDATES_WITHIN * 100} points of it ("close call"); the lungs were not found; notes from the pipeline.</dd>
</dl></div>`);
  out.push(`<div class="two">${two.join('')}</div>`);
  return out.join('\n');
}

function importanceSection(m: ModelInfo): string {
  const out: string[] = [];
  out.push('<h2 id="model">What the model looks at</h2>');
  out.push(`<p>The model works in two steps. First a <b>voxel classifier</b> (${m.voxelTrees.trees} boosted decision trees) rates every voxel inside the lungs for how tumour-like it looks, from the measurements below. Then a <b>region classifier</b> (a random forest of ${m.candidateTrees.trees} trees) looks at each connected region of likely voxels and picks the primary tumour.${m.refinerParams !== null ? ' A small neural network (the refiner) then redraws the outline around the chosen region.' : ''}</p>`);
  out.push('<p class="note">A measurement\'s importance is its share of how much the classifier\'s splits on it improved the training fit (gain for the boosted trees, Gini impurity for the forest). It tells what the model relies on, not what causes a tumour.</p>');
  out.push('<h3>Voxel classifier: what makes a voxel look like tumour</h3>');
  out.push(barChart(m.voxelFeatures.map((f) => ({ label: f.name, value: f.importance, note: f.description })), { title: 'voxel classifier feature importances' }));
  out.push('<h3>Region classifier: what makes a region the primary tumour</h3>');
  out.push(barChart(m.candidateFeatures.map((f) => ({ label: f.name, value: f.importance, note: f.description })), { title: 'region classifier feature importances' }));
  return out.join('\n');
}

const INFER_STAGES: Record<string, string> = {
  read: 'read scan',
  resample: 'resample',
  lungs: 'find lungs',
  features: 'voxel measurements',
  voxelClassifier: 'voxel classifier',
  candidates: 'regions',
  refiner: 'refiner',
  cleanup: 'clean-up',
  write: 'write mask',
  total: 'total',
};

const TRAIN_STAGES: Record<string, string> = {
  prepare: 'read and prepare scans',
  features: 'voxel measurements',
  voxelClassifier: 'voxel classifier',
  candidateClassifier: 'region classifier',
  refiner: 'refiner',
  save: 'save',
  total: 'total',
};

function stageName(names: Record<string, string>, key: string): string {
  return names[key] ?? key;
}

function frugalitySection(page: ReportPage): string {
  const m = page.model;
  const p = learnedParameters(m);
  const out: string[] = [];
  out.push('<h2 id="cost">What it costs</h2>');
  out.push('<p>How small and quick the model is: the numbers it learned, the space it takes, and the time and memory it needs.</p>');
  out.push('<div class="two"><div><h3>Learned numbers</h3><table><thead><tr><th>Part</th><th>Size</th><th>Learned numbers</th></tr></thead><tbody>');
  out.push(`<tr><td>Voxel classifier</td><td class="text">${m.voxelTrees.trees} trees, ${int(m.voxelTrees.splits)} splits, ${int(m.voxelTrees.leaves)} leaves</td><td>${int(p.voxel)}</td></tr>`);
  out.push(`<tr><td>Region classifier</td><td class="text">${m.candidateTrees.trees} trees, ${int(m.candidateTrees.splits)} splits, ${int(m.candidateTrees.leaves)} leaves</td><td>${int(p.candidate)}</td></tr>`);
  out.push(`<tr><td>Refiner network</td><td class="text">${m.refinerParams === null ? 'none' : '3-D U-Net weights'}</td><td>${int(p.refiner)}</td></tr>`);
  out.push(`<tr class="mean"><td>Total</td><td></td><td>${int(p.total)}</td></tr></tbody></table>`);
  out.push('<p class="note">A tree split stores a threshold (and the measurement it tests), a leaf its answer: one learned number each.</p></div>');
  out.push(`<div><h3>Model folder: ${bytes(m.totalBytes)}</h3><table><thead><tr><th>File</th><th>Size</th></tr></thead><tbody>`);
  for (const f of m.files) out.push(`<tr><td><code>${esc(f.name)}</code></td><td>${bytes(f.bytes)}</td></tr>`);
  out.push(`</tbody></table><p class="note">${esc(m.manifest.config)} configuration, trained on ${m.trainingCases} scans (seed ${m.manifest.seed}); lungtumor ${esc(m.manifest.versions.lungtumor ?? '?')}, Node ${esc(m.manifest.versions.node ?? '?')}.</p></div></div>`);

  const log = page.log;
  if (log && log.cases.length > 0) {
    const shown = new Set(page.cases.map((c) => c.id));
    const logged = log.cases.filter((c) => shown.has(c.id));
    const stages: string[] = [];
    for (const c of logged) for (const k of Object.keys(c.seconds)) if (!stages.includes(k)) stages.push(k);
    // The total goes last whatever order the log has.
    if (stages.includes('total')) stages.push(...stages.splice(stages.indexOf('total'), 1));
    out.push('<h3>Time to segment a scan (seconds)</h3>');
    out.push(`<table class="sortable timing"><thead><tr><th>Scan</th>${stages.map((s) => `<th>${esc(stageName(INFER_STAGES, s))}</th>`).join('')}</tr></thead><tbody>`);
    for (const c of logged) out.push(`<tr>${cell(esc(c.id), c.id)}${stages.map((s) => cell(fix(c.seconds[s], 2), c.seconds[s] ?? null)).join('')}</tr>`);
    const mean = (s: string): number | null => {
      const v = logged.map((c) => c.seconds[s]).filter((x): x is number => x !== undefined);
      return v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : null;
    };
    out.push(`</tbody><tfoot><tr class="mean"><td>Mean</td>${stages.map((s) => `<td>${fix(mean(s), 2)}</td>`).join('')}</tr></tfoot></table>`);
    const rss = logged.map((c) => c.peakRssMb).filter((x): x is number => x !== null);
    const backends = [...new Set(logged.map((c) => c.backend).filter((b): b is string => b !== null))];
    out.push(
      `<p>Peak memory while predicting: <b>${rss.length > 0 ? `${int(Math.max(...rss))} MB` : dash}</b> (resident set size of the whole process). ` +
        `Refiner ran on: <b>${backends.length > 0 ? esc(backends.join(', ')) : dash}</b>${log.workers !== null ? `; ${log.workers} worker thread(s) for the voxel measurements` : ''}.</p>`,
    );
  } else {
    out.push('<p class="muted">No prediction log was given, so prediction times are not shown.</p>');
  }
  if (m.trainingSeconds) {
    const keys = Object.keys(m.trainingSeconds);
    if (keys.includes('total')) keys.push(...keys.splice(keys.indexOf('total'), 1));
    out.push('<h3>Time to train (seconds)</h3>');
    out.push(`<table class="stages"><thead><tr>${keys.map((k) => `<th>${esc(stageName(TRAIN_STAGES, k))}</th>`).join('')}</tr></thead><tbody><tr>${keys.map((k) => `<td>${fix(m.trainingSeconds![k], 2)}</td>`).join('')}</tr></tbody></table>`);
    out.push(`<p class="note">On ${m.trainingCases} scans${m.trainingWorkers !== null ? ` with ${m.trainingWorkers} worker thread(s)` : ''}; refiner trained on ${esc(m.refinerTrainBackend ?? m.trainingBackend ?? 'no refiner')}.</p>`);
  }
  return out.join('\n');
}

/** The whole page. */
export function reportHtml(page: ReportPage): string {
  const sources = [
    `model <code>${esc(page.model.dir)}</code>`,
    page.predDir ? `predictions <code>${esc(page.predDir)}</code>` : null,
    page.truthDir ? `true outlines <code>${esc(page.truthDir)}</code>` : null,
  ].filter((s) => s !== null);
  const nav = [
    page.cases.length > 0 ? '<a href="#results">Results</a><a href="#cases">Scans</a>' : '',
    '<a href="#model">What the model looks at</a><a href="#cost">What it costs</a>',
  ].join('');
  const body: string[] = [];
  body.push('<h1>Lung tumour segmentation report</h1>');
  body.push(`<p class="muted">From ${sources.join(', ')}.</p>`);
  body.push(`<nav>${nav}</nav>`);
  if (page.cases.length > 0) {
    body.push(cohortSection(page));
    body.push('<h2 id="cases">Scans</h2>');
    body.push(`<p>For each scan: the axial slice where the tumour is largest, a close-up of it, and a coronal and a sagittal slice through the tumour. CT in a lung window (level ${LUNG_WINDOW.levelHu} HU, width ${LUNG_WINDOW.widthHu} HU); letters mark the patient's sides (R right, L left, A front, P back, S head, I feet). Click a picture to open it alone.</p>`);
    for (const c of page.cases) body.push(caseSection(c, page.pictures[c.id] ?? {}));
  }
  body.push(importanceSection(page.model));
  body.push(frugalitySection(page));
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Lung tumour segmentation report</title>',
    `<style>${CSS}</style>`,
    '</head><body><main>',
    body.join('\n'),
    '</main>',
    `<script>${SORT_SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}
