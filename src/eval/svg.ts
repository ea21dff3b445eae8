/** Minimal SVG line charts for the evaluation report (no plotting dependency). */

export interface Series {
  label: string;
  x: number[];
  y: number[];
}

const COLORS: readonly string[] = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(min: number, max: number, n = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9 * step; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xRange?: [number, number];
  yRange?: [number, number];
  /** Vertical marker lines (e.g. the exploit start). */
  vlines?: { x: number; label: string; color?: string }[];
  /** Horizontal marker lines (e.g. the threshold). */
  hlines?: { y: number; label: string; color?: string }[];
  diagonal?: boolean;
  width?: number;
  height?: number;
}

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 400;
  const m = { l: 60, r: 20, t: 36, b: 48 };
  const xs = series.flatMap((s) => s.x).filter(Number.isFinite);
  const ys = series.flatMap((s) => s.y).filter(Number.isFinite);
  for (const h of o.hlines ?? []) if (Number.isFinite(h.y)) ys.push(h.y);
  for (const v of o.vlines ?? []) if (Number.isFinite(v.x)) xs.push(v.x);
  let [x0, x1] = o.xRange ?? (xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1]);
  const [y0, y1init] = o.yRange ?? [Math.min(...ys, 0), Math.max(...ys, 1e-9)];
  let y1 = y1init;
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  if (!o.yRange) y1 += (y1 - y0) * 0.05;
  if (!o.xRange) x0 = Math.min(x0, 0);
  const px = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${esc(o.title)}</text>`);
  for (const t of niceTicks(x0, x1)) {
    parts.push(
      `<line x1="${px(t).toFixed(1)}" y1="${m.t}" x2="${px(t).toFixed(1)}" y2="${H - m.b}" stroke="#eee"/>`,
    );
    parts.push(`<text x="${px(t).toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle">${t}</text>`);
  }
  for (const t of niceTicks(y0, y1)) {
    parts.push(
      `<line x1="${m.l}" y1="${py(t).toFixed(1)}" x2="${W - m.r}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`,
    );
    parts.push(`<text x="${m.l - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`,
  );
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text x="14" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${esc(o.yLabel)}</text>`,
  );
  if (o.diagonal)
    parts.push(
      `<line x1="${px(x0)}" y1="${py(y0)}" x2="${px(x1)}" y2="${py(y1)}" stroke="#aaa" stroke-dasharray="4 4"/>`,
    );
  for (const h of o.hlines ?? []) {
    if (!Number.isFinite(h.y)) continue;
    parts.push(
      `<line x1="${m.l}" y1="${py(h.y).toFixed(1)}" x2="${W - m.r}" y2="${py(h.y).toFixed(1)}" stroke="${h.color ?? '#999'}" stroke-dasharray="6 3"/>`,
    );
    parts.push(
      `<text x="${W - m.r - 4}" y="${(py(h.y) - 4).toFixed(1)}" text-anchor="end" fill="${h.color ?? '#666'}">${esc(h.label)}</text>`,
    );
  }
  for (const v of o.vlines ?? []) {
    if (!Number.isFinite(v.x)) continue;
    parts.push(
      `<line x1="${px(v.x).toFixed(1)}" y1="${m.t}" x2="${px(v.x).toFixed(1)}" y2="${H - m.b}" stroke="${v.color ?? '#d62728'}" stroke-width="1.5"/>`,
    );
    parts.push(
      `<text x="${(px(v.x) + 4).toFixed(1)}" y="${m.t + 16 + series.length * 15}" fill="${v.color ?? '#d62728'}">${esc(v.label)}</text>`,
    );
  }
  // ROC curves hug the top-left corner: their legend goes bottom-right.
  const lx = o.diagonal ? W - m.r - 230 : m.l + 10;
  const ly = o.diagonal ? H - m.b - 12 - series.length * 15 : m.t + 8;
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts: string[] = [];
    for (let k = 0; k < s.x.length; k++)
      if (Number.isFinite(s.x[k]) && Number.isFinite(s.y[k]))
        pts.push(`${px(s.x[k]).toFixed(1)},${py(s.y[k]).toFixed(1)}`);
    if (pts.length)
      parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    parts.push(`<rect x="${lx}" y="${ly + i * 15}" width="12" height="3" fill="${c}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly + 5 + i * 15}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
