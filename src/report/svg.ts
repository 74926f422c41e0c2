/**
 * The report's charts as inline SVG strings (no script, no network): a sorted bar chart of feature
 * importances and a predicted-vs-true scatter.
 */

/** Escapes text for HTML and SVG (element content and double-quoted attributes). */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A coordinate for SVG: two decimals, no trailing zeros. */
function n(x: number): string {
  return String(Math.round(x * 100) / 100);
}

export interface Bar {
  label: string;
  /** 0..1 (a share of the total). */
  value: number;
  /** One line under the bar, in grey. */
  note: string;
}

/**
 * Horizontal bars, largest first, each with its label on the left, its value as a percentage on the
 * right and a one-line note under it. Bars are scaled to the largest value.
 */
export function barChart(bars: Bar[], opts: { title: string; widthPx?: number }): string {
  const width = opts.widthPx ?? 960;
  const labelW = 220;
  const valueW = 60;
  const barW = width - labelW - valueW;
  const rowH = 38;
  const top = 4;
  const height = top + rowH * bars.length + 4;
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  const rows = bars.map((b, i) => {
    const y = top + i * rowH;
    const w = (b.value / max) * barW;
    const pct = `${(b.value * 100).toFixed(1)}%`;
    return [
      `<g><title>${esc(`${b.label}: ${pct} — ${b.note}`)}</title>`,
      `<text x="0" y="${n(y + 14)}" class="bar-label">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${n(y + 3)}" width="${n(Math.max(w, 0.5))}" height="14" class="bar"/>`,
      `<text x="${n(labelW + w + 6)}" y="${n(y + 14)}" class="bar-value">${pct}</text>`,
      `<text x="12" y="${n(y + 31)}" class="bar-note">${esc(b.note)}</text></g>`,
    ].join('');
  });
  return [
    `<svg class="chart" role="img" aria-label="${esc(opts.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`,
    ...rows,
    '</svg>',
  ].join('\n');
}

export interface Point {
  label: string;
  x: number;
  y: number;
  /** Link target of the point (e.g. '#case-X'). */
  href?: string;
}

/** Round tick values covering [lo, hi]: 1-2-5 steps on a linear axis, 1-2-5 per decade on a log axis. */
export function ticks(lo: number, hi: number, log: boolean): number[] {
  const out: number[] = [];
  if (log) {
    // 1-2-5 steps crowd the axis beyond two decades: then powers of ten only.
    const steps = Math.log10(hi / lo) > 2.01 ? [1] : [1, 2, 5];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of steps) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(Number(v.toPrecision(6)));
      }
    }
    return out;
  }
  const span = hi - lo || 1;
  const raw = span / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/**
 * A square scatter of predicted (y) vs true (x) values with the line y = x (perfect agreement).
 * Both axes share one scale; a logarithmic one when the values span more than a factor of 20.
 * Values of 0 on a log axis are drawn at its low end as hollow points.
 */
export function scatterPlot(points: Point[], opts: { title: string; xLabel: string; yLabel: string; sizePx?: number }): string {
  const size = opts.sizePx ?? 440;
  const pad = { left: 62, bottom: 46, top: 12, right: 16 };
  const plot = size - pad.left - pad.right;
  const values = points.flatMap((p) => [p.x, p.y]);
  const positive = values.filter((v) => v > 0);
  const maxV = Math.max(1e-9, ...values);
  const minPos = positive.length > 0 ? Math.min(...positive) : maxV;
  const log = positive.length > 0 && maxV / minPos > 20;
  let lo: number;
  let hi: number;
  if (log) {
    lo = 10 ** (Math.floor(Math.log10(minPos) * 2) / 2);
    hi = 10 ** (Math.ceil(Math.log10(maxV) * 2) / 2);
  } else {
    // Up to the first round tick above the largest value, with a little room for labels.
    lo = 0;
    const tk = ticks(0, maxV * 1.05, false);
    const step = tk.length > 1 ? tk[1]! - tk[0]! : maxV * 1.05;
    hi = Math.ceil((maxV * 1.05) / step) * step;
  }
  const t = (v: number): number => {
    const f = log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
    return Math.max(0, Math.min(1, f)) * plot;
  };
  const X = (v: number): number => pad.left + t(v);
  const Y = (v: number): number => pad.top + plot - t(v);
  const parts: string[] = [];
  parts.push(`<svg class="chart" role="img" aria-label="${esc(opts.title)}" viewBox="0 0 ${size} ${size}" width="${size}" height="${size}" xmlns="http://www.w3.org/2000/svg">`);
  parts.push(`<rect x="${pad.left}" y="${pad.top}" width="${plot}" height="${plot}" class="plot-area"/>`);
  for (const v of ticks(lo, hi, log)) {
    parts.push(`<line x1="${n(X(v))}" y1="${pad.top}" x2="${n(X(v))}" y2="${pad.top + plot}" class="grid"/>`);
    parts.push(`<line x1="${pad.left}" y1="${n(Y(v))}" x2="${pad.left + plot}" y2="${n(Y(v))}" class="grid"/>`);
    parts.push(`<text x="${n(X(v))}" y="${pad.top + plot + 16}" class="tick" text-anchor="middle">${esc(fmtTick(v))}</text>`);
    parts.push(`<text x="${pad.left - 6}" y="${n(Y(v) + 4)}" class="tick" text-anchor="end">${esc(fmtTick(v))}</text>`);
  }
  parts.push(`<line x1="${n(X(lo))}" y1="${n(Y(lo))}" x2="${n(X(hi))}" y2="${n(Y(hi))}" class="identity"><title>predicted = true</title></line>`);
  // Labels go up and to the right of their dot, moved down a line at a time past labels already
  // placed that they would overlap (width estimated from the character count).
  const placed: { x0: number; x1: number; y: number }[] = [];
  const order = points.map((p, i) => ({ p, i })).sort((a, b) => Y(a.p.y) - Y(b.p.y) || X(a.p.x) - X(b.p.x));
  const labelY = new Map<number, number>();
  for (const { p, i } of order) {
    const x0 = X(p.x) + 7;
    const x1 = x0 + 6.2 * p.label.length;
    let y = Y(p.y) - 6;
    while (placed.some((b) => x0 < b.x1 && b.x0 < x1 && Math.abs(b.y - y) < 12)) y += 12;
    placed.push({ x0, x1, y });
    labelY.set(i, y);
  }
  points.forEach((p, i) => {
    const hollow = log && (p.x <= 0 || p.y <= 0);
    const dot = `<circle cx="${n(X(p.x))}" cy="${n(Y(p.y))}" r="5" class="${hollow ? 'point hollow' : 'point'}"><title>${esc(`${p.label}: true ${fmtTick(p.x)}, predicted ${fmtTick(p.y)}`)}</title></circle>`;
    const label = `<text x="${n(X(p.x) + 7)}" y="${n(labelY.get(i)!)}" class="point-label">${esc(p.label)}</text>`;
    parts.push(p.href ? `<a href="${esc(p.href)}">${dot}${label}</a>` : `${dot}${label}`);
  });
  parts.push(`<text x="${pad.left + plot / 2}" y="${size - 8}" class="axis-label" text-anchor="middle">${esc(opts.xLabel)}${log ? ' (log scale)' : ''}</text>`);
  parts.push(`<text transform="translate(16 ${pad.top + plot / 2}) rotate(-90)" class="axis-label" text-anchor="middle">${esc(opts.yLabel)}${log ? ' (log scale)' : ''}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(3)));
}
