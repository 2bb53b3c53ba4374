/**
 * Charts as self-contained SVG (inline attributes, no CSS or scripts): horizontal bars,
 * lines over x, and a roofline.
 */
import { fail } from '../errors.ts';
import { formatNumber } from './format.ts';
import { escapeXml, View } from './view.ts';

const COLORS = ['#3b6fd8', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const n = (x: number) => +x.toFixed(2);

/** One bar of {@link bars}. */
export interface BarDatum {
  label: string;
  value: number;
  /** shown after the value, e.g. the shape it was measured at */
  note?: string;
}

/** Options of {@link bars}. */
export interface BarsOptions {
  title?: string;
  /** how values are printed beside the bars (default: 4 significant digits plus `unit`) */
  format?: (v: number) => string;
  /** appended to values by the default format */
  unit?: string;
  color?: string;
  /** the length of the longest bar in pixels (default 320) */
  width?: number;
}

/**
 * A horizontal bar chart; bars scale to the largest finite value, and a missing value
 * (NaN, negative) is drawn as "n/a".
 * @example bars({ mha: 4096, gqa: 1024, mqa: 512 }, { title: 'KV bytes per token', format: formatBytes }).show()
 */
export function bars(data: Readonly<Record<string, number>> | readonly BarDatum[], opts: BarsOptions = {}): View {
  const list: BarDatum[] = Array.isArray(data)
    ? (data as readonly BarDatum[]).map((d) => ({ ...d }))
    : Object.entries(data as Record<string, number>).map(([label, value]) => ({ label, value }));
  for (const d of list)
    if (typeof d.label !== 'string' || typeof d.value !== 'number') fail('USAGE', 'bars(): each bar needs a string label and a number value');
  const fmt = opts.format ?? ((v: number) => `${formatNumber(v)}${opts.unit ? ` ${opts.unit}` : ''}`);
  const ok = (v: number) => Number.isFinite(v) && v >= 0;
  const shown = list.map((d) => (ok(d.value) ? fmt(d.value) : 'n/a') + (d.note ? ` ${d.note}` : ''));
  const title = opts.title ?? '';
  const labelW = Math.min(240, 14 + 7 * Math.max(3, ...list.map((d) => d.label.length)));
  const barMax = opts.width ?? 320;
  const valueW = 16 + 6.6 * Math.max(4, ...shown.map((s) => s.length));
  const rowH = 24;
  const top = title ? 30 : 8;
  const width = Math.ceil(labelW + barMax + valueW);
  const height = top + rowH * Math.max(1, list.length) + 6;
  const finite = list.map((d) => d.value).filter((v) => ok(v) && v > 0);
  const max = finite.length ? Math.max(...finite) : 1;
  const fill = opts.color ?? COLORS[0]!;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(title || 'bar chart')}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  if (title) parts.push(`<text x="4" y="18" font-size="13" font-weight="600">${escapeXml(title)}</text>`);
  list.forEach((d, i) => {
    const y = top + i * rowH;
    const w = ok(d.value) ? Math.max(1, (d.value / max) * barMax) : 0;
    parts.push(
      `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end" fill="#3a4150">${escapeXml(d.label)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${n(w)}" height="${rowH - 8}" fill="${escapeXml(fill)}"><title>${escapeXml(`${d.label}: ${shown[i]}`)}</title></rect>`,
      `<text x="${n(labelW + w + 6)}" y="${y + 16}" fill="#3a4150">${escapeXml(shown[i]!)}</text>`,
    );
  });
  parts.push('</svg>');

  const labelCols = Math.max(...list.map((d) => d.label.length), 1);
  const text = [
    ...(title ? [title] : []),
    ...list.map((d, i) => `${d.label.padEnd(labelCols)} │${'█'.repeat(ok(d.value) ? Math.round((d.value / max) * 40) : 0)} ${shown[i]}`),
  ].join('\n');
  return new View({ kind: 'svg', svg: parts.join('\n'), text, title });
}

/** One line of {@link lines}: points (x, y), drawn in x order. */
export interface LineSeries {
  label: string;
  points: readonly (readonly [number, number])[];
}

/** Options of {@link lines}. */
export interface LinesOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  /** formats y tick labels (default: 3 significant digits) */
  formatY?: (v: number) => string;
}

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) out.push(m * 10 ** e);
    const inside = out.filter((v) => v >= lo * 0.999 && v <= hi * 1.001);
    return inside.length > 6 ? inside.filter((v) => Math.abs(Math.log10(v) % 1) < 1e-9) : inside;
  }
  const step0 = (hi - lo) / 5 || 1;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/**
 * A line chart of one or more series, with optional log axes.
 * @example lines([{ label: 'mha', points: [[256, 1.2], [512, 2.3]] }], { xLabel: 'KV length', yLabel: 'ms' }).show()
 */
export function lines(series: readonly LineSeries[], opts: LinesOptions = {}): View {
  if (!Array.isArray(series) || series.length === 0) fail('USAGE', 'lines(): give at least one series');
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logX || x > 0) && (!opts.logY || y > 0));
  if (pts.length === 0) fail('USAGE', 'lines(): no finite points to draw');
  const W = 640;
  const H = 340;
  const M = { l: 64, r: 150, t: opts.title ? 30 : 12, b: 46 };
  const range = (vals: number[], log: boolean): [number, number] => {
    let [lo, hi] = [Math.min(...vals), Math.max(...vals)];
    if (lo === hi) [lo, hi] = log ? [lo / 2, hi * 2] : [lo - 1, hi + 1];
    if (!log && lo > 0 && lo < hi * 0.5) lo = 0;
    return [lo, hi];
  };
  const [x0, x1] = range(
    pts.map((p) => p[0]),
    !!opts.logX,
  );
  const [y0, y1] = range(
    pts.map((p) => p[1]),
    !!opts.logY,
  );
  const scale = (lo: number, hi: number, a: number, b: number, log: boolean) => (v: number) =>
    log ? a + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (b - a) : a + ((v - lo) / (hi - lo)) * (b - a);
  const X = scale(x0, x1, M.l, W - M.r, !!opts.logX);
  const Y = scale(y0, y1, H - M.b, M.t, !!opts.logY);
  const fy = opts.formatY ?? ((v: number) => formatNumber(v, 3));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>${escapeXml(opts.title || 'line chart')}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#888"/>`,
  ];
  if (opts.title) parts.push(`<text x="${M.l}" y="18" font-size="13" font-weight="600">${escapeXml(opts.title)}</text>`);
  for (const v of ticks(x0, x1, !!opts.logX))
    parts.push(
      `<line x1="${n(X(v))}" x2="${n(X(v))}" y1="${M.t}" y2="${H - M.b}" stroke="#eee"/><text x="${n(X(v))}" y="${H - M.b + 14}" text-anchor="middle">${escapeXml(formatNumber(v, 3))}</text>`,
    );
  for (const v of ticks(y0, y1, !!opts.logY))
    parts.push(
      `<line x1="${M.l}" x2="${W - M.r}" y1="${n(Y(v))}" y2="${n(Y(v))}" stroke="#eee"/><text x="${M.l - 5}" y="${n(Y(v) + 4)}" text-anchor="end">${escapeXml(fy(v))}</text>`,
    );
  if (opts.xLabel) parts.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${escapeXml(opts.xLabel)}</text>`);
  if (opts.yLabel)
    parts.push(`<text transform="translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(opts.yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const p = [...s.points]
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logX || x > 0) && (!opts.logY || y > 0))
      .sort((a, b) => a[0] - b[0]);
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map(([x, y]) => `${n(X(x))},${n(Y(y))}`).join(' ')}"/>`);
    for (const [x, y] of p)
      parts.push(
        `<circle cx="${n(X(x))}" cy="${n(Y(y))}" r="3" fill="${c}"><title>${escapeXml(`${s.label}: (${formatNumber(x)}, ${fy(y)})`)}</title></circle>`,
      );
    parts.push(`<text x="${W - M.r + 10}" y="${M.t + 14 + i * 16}" fill="${c}">— ${escapeXml(s.label)}</text>`);
  });
  parts.push('</svg>');
  const text = [
    ...(opts.title ? [opts.title] : []),
    ...series.map(
      (s) =>
        `${s.label}: ${[...s.points]
          .sort((a, b) => a[0] - b[0])
          .map(([x, y]) => `(${formatNumber(x)}, ${fy(y)})`)
          .join(' ')}`,
    ),
  ].join('\n');
  return new View({ kind: 'svg', svg: parts.join('\n'), text, title: opts.title });
}

/** A device for {@link roofline}: a peak and a bandwidth, or the cost model's `Device` (peak per dtype). */
export type RooflineDevice = { name: string; peak: number; bandwidth: number } | { name: string; flops: { f32: number; f16: number }; bandwidth: number };

function siText(v: number): string {
  const units: [number, string][] = [
    [1e15, 'P'],
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  const [scale, unit] = units.find(([u]) => v >= u) ?? [1, ''];
  return `${+(v / scale).toPrecision(3)}${unit}`;
}

/**
 * A roofline: attainable FLOP/s against arithmetic intensity (FLOP per byte moved) on `device`,
 * with one point per case on the roof, e.g. `costOf(g, dims).intensity` from the cost model.
 * Left of the ridge a case is memory-bound, right of it compute-bound.
 * @example roofline(DEVICES.h100, [{ label: 'mha decode', intensity: 1 }], { dtype: 'f16' }).show()
 */
export function roofline(
  device: RooflineDevice,
  points: readonly { label: string; intensity: number }[],
  opts: { dtype?: 'f32' | 'f16'; title?: string } = {},
): View {
  const d =
    'flops' in device ? { name: `${device.name} (${opts.dtype ?? 'f32'})`, peak: device.flops[opts.dtype ?? 'f32'], bandwidth: device.bandwidth } : device;
  if (!(d.peak > 0 && d.bandwidth > 0))
    fail('USAGE', `roofline(): the device needs a positive peak and bandwidth, got ${d.peak} FLOP/s and ${d.bandwidth} B/s`);
  for (const p of points) if (!(p.intensity > 0)) fail('USAGE', `roofline(): the intensity of '${p.label}' must be positive, got ${p.intensity}`);
  const ridge = d.peak / d.bandwidth;
  const xs = [ridge, ...points.map((p) => p.intensity)];
  const x0 = 10 ** Math.floor(Math.log10(Math.min(...xs) / 2));
  const x1 = 10 ** Math.ceil(Math.log10(Math.max(...xs) * 4));
  const attain = (i: number) => Math.min(d.peak, i * d.bandwidth);
  const y0 = 10 ** Math.floor(Math.log10(attain(x0)));
  const y1 = 10 ** Math.ceil(Math.log10(d.peak * 1.5));
  const W = 640;
  const H = 340;
  const M = { l: 64, r: 200, t: 30, b: 46 };
  const X = (v: number) => M.l + ((Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * (W - M.r - M.l);
  const Y = (v: number) => H - M.b - ((Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * (H - M.b - M.t);
  const title = opts.title ?? `Roofline: ${d.name}`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${M.l}" y="18" font-size="13" font-weight="600">${escapeXml(title)}</text>`,
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#888"/>`,
  ];
  for (let v = x0; v <= x1 * 1.001; v *= 10)
    parts.push(
      `<line x1="${n(X(v))}" x2="${n(X(v))}" y1="${M.t}" y2="${H - M.b}" stroke="#eee"/><text x="${n(X(v))}" y="${H - M.b + 14}" text-anchor="middle">${escapeXml(formatNumber(v))}</text>`,
    );
  for (let v = y0; v <= y1 * 1.001; v *= 10)
    parts.push(
      `<line x1="${M.l}" x2="${W - M.r}" y1="${n(Y(v))}" y2="${n(Y(v))}" stroke="#eee"/><text x="${M.l - 5}" y="${n(Y(v) + 4)}" text-anchor="end">${siText(v)}</text>`,
    );
  parts.push(
    `<polyline fill="none" stroke="#333" stroke-width="2" points="${n(X(x0))},${n(Y(attain(x0)))} ${n(X(ridge))},${n(Y(d.peak))} ${n(X(x1))},${n(Y(d.peak))}"/>`,
    `<text x="${n(X(ridge) + 4)}" y="${n(Y(d.peak) - 5)}" fill="#555">ridge ${escapeXml(formatNumber(ridge, 3))} FLOP/B</text>`,
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">arithmetic intensity (FLOP/byte)</text>`,
    `<text transform="translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">attainable FLOP/s</text>`,
  );
  points.forEach((p, i) => {
    const c = COLORS[i % COLORS.length]!;
    parts.push(
      `<circle cx="${n(X(p.intensity))}" cy="${n(Y(attain(p.intensity)))}" r="5" fill="${c}"><title>${escapeXml(`${p.label}: ${formatNumber(p.intensity, 3)} FLOP/B`)}</title></circle>`,
      `<text x="${W - M.r + 10}" y="${M.t + 14 + i * 16}" fill="${c}">● ${escapeXml(`${p.label} (${formatNumber(p.intensity, 3)} FLOP/B)`)}</text>`,
    );
  });
  parts.push('</svg>');
  const text = [
    `${title}: peak ${siText(d.peak)}FLOP/s, ${siText(d.bandwidth)}B/s, ridge at ${formatNumber(ridge, 3)} FLOP/B`,
    ...points.map(
      (p) =>
        `  ${p.label}: ${formatNumber(p.intensity, 3)} FLOP/B, ${p.intensity < ridge ? 'memory' : 'compute'}-bound, at most ${siText(attain(p.intensity))}FLOP/s`,
    ),
  ].join('\n');
  return new View({ kind: 'svg', svg: parts.join('\n'), text, title });
}
