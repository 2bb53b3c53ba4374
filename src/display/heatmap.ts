/**
 * Heatmaps of 2-D arrays (attention weights of one head, masks, score matrices) as SVG,
 * and `pick`, which takes a 2-D slice of an n-D result by fixing the other axes.
 */
import { fail } from '../errors.ts';
import { platform } from '../platform/index.ts';
import { formatNumber } from './format.ts';
import { escapeXml, View } from './view.ts';

/** A dense row-major array over named axes, as `interpret` and `compile().run` return. */
export interface NamedArray {
  axes: readonly string[];
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** What {@link heatmap} draws: rows of numbers, or a row-major array with a 2-D shape. */
export type Matrix = readonly ArrayLike<number>[] | { data: ArrayLike<number>; shape: readonly number[]; axes?: readonly string[] };

/**
 * The 2-D slice of `array` with every axis but two fixed: `pick(p, { b: 0, h: 1 })` of
 * p [b h s t] is the [s t] weights of head 1. The result keeps the two free axes' names.
 * @example heatmap(pick(outputs.p, { b: 0, h: 0 }))
 */
export function pick(array: NamedArray, at: Record<string, number>): NamedArray {
  const { axes, shape, data } = array;
  if (axes.length !== shape.length) fail('USAGE', `pick(): ${axes.length} axes but a shape of ${shape.length}`);
  for (const a of Object.keys(at)) if (!axes.includes(a)) fail('UNKNOWN_AXIS', `pick(): the array has no axis '${a}' (axes: ${axes.join(' ')})`);
  const free = axes.filter((a) => !(a in at));
  if (free.length !== 2)
    fail('USAGE', `pick(): fix all axes but two; axes ${axes.join(' ')}, fixed ${Object.keys(at).join(' ') || 'none'} leaves ${free.join(' ') || 'none'}`);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, x) => p * x, 1));
  let base = 0;
  axes.forEach((a, i) => {
    if (!(a in at)) return;
    const k = at[a]!;
    if (!Number.isInteger(k) || k < 0 || k >= shape[i]!) fail('INDEX_RANGE', `pick(): ${a}=${k} is outside 0..${shape[i]! - 1}`);
    base += k * strides[i]!;
  });
  const [r, c] = free.map((a) => axes.indexOf(a)) as [number, number];
  const rows = shape[r]!;
  const cols = shape[c]!;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = data[base + i * strides[r]! + j * strides[c]!]!;
  return { axes: free, shape: [rows, cols], data: out };
}

/** Options of {@link heatmap}. */
export interface HeatmapOptions {
  title?: string;
  /** axis titles (default: the array's axis names, when it has them) */
  xLabel?: string;
  yLabel?: string;
  /** color scale limits (default: the data's finite min and max) */
  min?: number;
  max?: number;
  /** 'viridis' (sequential, the default for data of one sign) or 'rdbu' (diverging around 0, the default for signed data) */
  colormap?: 'viridis' | 'rdbu' | 'greys';
  /** pixels per cell (default: about 420 px for the larger side, 3 to 32 px) */
  cell?: number;
  /** print each value in its cell (default: when both sides are at most 12) */
  values?: boolean;
}

type RGB = [number, number, number];
const VIRIDIS: RGB[] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];
const RDBU: RGB[] = [
  [5, 48, 97],
  [33, 102, 172],
  [67, 147, 195],
  [146, 197, 222],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [244, 165, 130],
  [214, 96, 77],
  [178, 24, 43],
  [103, 0, 31],
];
const GREYS: RGB[] = [
  [255, 255, 255],
  [0, 0, 0],
];
const NAN_RGB: RGB = [200, 200, 200];

function ramp(stops: RGB[], x: number): RGB {
  const t = Math.min(1, Math.max(0, x)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [stops[i]!, stops[i + 1]!];
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as RGB;
}

const hex = ([r, g, b]: RGB) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

function toMatrix(m: Matrix): { rows: number; cols: number; at: (i: number, j: number) => number; axes?: readonly string[] } {
  if (Array.isArray(m)) {
    const rowsArr = m as readonly ArrayLike<number>[];
    const cols = rowsArr.length ? rowsArr[0]!.length : 0;
    rowsArr.forEach((r, i) => {
      if (!r || typeof r.length !== 'number' || r.length !== cols) fail('USAGE', `heatmap(): row ${i} has ${r?.length} values, row 0 has ${cols}`);
    });
    return { rows: rowsArr.length, cols, at: (i, j) => Number(rowsArr[i]![j]) };
  }
  const { data, shape, axes } = m as { data: ArrayLike<number>; shape: readonly number[]; axes?: readonly string[] };
  if (!data || !shape) fail('USAGE', 'heatmap(): expected rows of numbers or { data, shape }');
  const dims = shape.filter((s) => s !== 1);
  if (shape.length < 2 && dims.length < 2) {
    const n = shape[0] ?? data.length;
    return { rows: 1, cols: n, at: (_i, j) => Number(data[j]) };
  }
  if (dims.length > 2) fail('USAGE', `heatmap(): shape [${shape.join(', ')}] is not 2-D; take a slice first, e.g. pick(array, { b: 0, h: 0 })`);
  const free = shape.map((s, i) => (s !== 1 ? i : -1)).filter((i) => i >= 0);
  const [rows, cols] = dims.length === 2 ? [dims[0]!, dims[1]!] : [1, dims[0] ?? 1];
  if (data.length !== rows * cols) fail('USAGE', `heatmap(): shape [${shape.join(', ')}] needs ${rows * cols} values, got ${data.length}`);
  const names = axes && axes.length === shape.length ? (free.length === 2 ? free.map((i) => axes[i]!) : undefined) : undefined;
  return { rows, cols, at: (i, j) => Number(data[i * cols + j]), axes: names };
}

// --- a minimal PNG encoder, for heatmaps too large to draw as one <rect> per cell ---
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, body and the CRC of type and body. */
function pngChunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** An RGB PNG of `rows`×`cols` pixels, `color(i, j)` each. */
export function encodePng(rows: number, cols: number, color: (i: number, j: number) => RGB): Uint8Array {
  const raw = new Uint8Array(rows * (1 + 3 * cols));
  for (let i = 0; i < rows; i++) {
    const o = i * (1 + 3 * cols);
    raw[o] = 0; // filter: none
    for (let j = 0; j < cols; j++) raw.set(color(i, j), o + 1 + 3 * j);
  }
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, cols);
  new DataView(ihdr.buffer).setUint32(4, rows);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const parts = [
    Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', platform.deflate(raw)),
    pngChunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Base64 of bytes with the `btoa` that Node 16+ and browsers share (no Buffer in a browser). */
function base64(bytes: Uint8Array): string {
  let text = '';
  const CHUNK = 0x8000; // below the argument-count limit of String.fromCharCode
  for (let i = 0; i < bytes.length; i += CHUNK) text += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(text);
}

const SHADES = ' .:-=+*#%@';
const RECT_LIMIT = 96 * 96;

/**
 * A heatmap as SVG: one cell per value, a color bar with the scale, axis titles and tick
 * labels. NaN and ±Infinity cells are grey. Large matrices are drawn as an embedded PNG.
 * The text fallback shades each cell with one of ` .:-=+*#%@` (at most 64 columns).
 * @example heatmap(pick(outputs.p, { b: 0, h: 0 }), { title: 'head 0 weights' }).show()
 */
export function heatmap(m: Matrix, opts: HeatmapOptions = {}): View {
  const { rows, cols, at, axes } = toMatrix(m);
  if (rows === 0 || cols === 0) fail('USAGE', 'heatmap(): the matrix is empty');
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const v = at(i, j);
      if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    }
  if (lo === Infinity) [lo, hi] = [0, 1];
  const cmap = opts.colormap ?? (lo < 0 && hi > 0 ? 'rdbu' : 'viridis');
  if (cmap === 'rdbu' && opts.min === undefined && opts.max === undefined) {
    const a = Math.max(Math.abs(lo), Math.abs(hi));
    [lo, hi] = [-a, a];
  }
  const vmin = opts.min ?? lo;
  const vmax = opts.max ?? hi;
  const span = vmax > vmin ? vmax - vmin : 1;
  const stops = cmap === 'rdbu' ? RDBU : cmap === 'greys' ? GREYS : VIRIDIS;
  const color = (v: number): RGB => (Number.isFinite(v) ? ramp(stops, (v - vmin) / span) : NAN_RGB);

  const cell = opts.cell ?? Math.max(3, Math.min(32, Math.floor(420 / Math.max(rows, cols))));
  const showValues = opts.values ?? (rows <= 12 && cols <= 12 && cell >= 24);
  const yLabel = opts.yLabel ?? axes?.[0] ?? '';
  const xLabel = opts.xLabel ?? axes?.[1] ?? '';
  const title = opts.title ?? '';
  const ml = 44 + (yLabel ? 16 : 0);
  const mt = title ? 30 : 10;
  const pw = cols * cell;
  const ph = rows * cell;
  const barX = ml + pw + 18;
  const width = barX + 14 + 64;
  const height = mt + ph + 34 + (xLabel ? 14 : 0);
  const n = (x: number) => +x.toFixed(2);
  const tickEvery = (len: number) => Math.max(1, Math.ceil(len / Math.max(1, Math.floor((len * cell) / 28))));

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>${escapeXml(title || `heatmap ${rows}×${cols}`)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  if (title) parts.push(`<text x="${ml}" y="18" font-size="13" font-weight="600">${escapeXml(title)}</text>`);
  if (rows * cols <= RECT_LIMIT) {
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        const v = at(i, j);
        parts.push(
          `<rect x="${ml + j * cell}" y="${mt + i * cell}" width="${cell}" height="${cell}" fill="${hex(color(v))}"><title>${escapeXml(`[${i}, ${j}] = ${formatNumber(v)}`)}</title></rect>`,
        );
        if (showValues) {
          const [r, g, b] = color(v);
          const ink = 0.299 * r + 0.587 * g + 0.114 * b > 140 ? '#111' : '#fff';
          parts.push(
            `<text x="${ml + j * cell + cell / 2}" y="${mt + i * cell + cell / 2 + 3.5}" text-anchor="middle" font-size="${Math.min(10, cell / 3)}" fill="${ink}">${escapeXml(formatNumber(v, 2))}</text>`,
          );
        }
      }
  } else {
    const png = base64(encodePng(rows, cols, (i, j) => color(at(i, j))));
    parts.push(
      `<image x="${ml}" y="${mt}" width="${pw}" height="${ph}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${png}"/>`,
    );
  }
  parts.push(`<rect x="${ml}" y="${mt}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  const ry = tickEvery(rows);
  for (let i = 0; i < rows; i += ry) parts.push(`<text x="${ml - 4}" y="${n(mt + i * cell + cell / 2 + 3.5)}" text-anchor="end">${i}</text>`);
  const cx = tickEvery(cols);
  for (let j = 0; j < cols; j += cx) parts.push(`<text x="${n(ml + j * cell + cell / 2)}" y="${mt + ph + 13}" text-anchor="middle">${j}</text>`);
  if (xLabel) parts.push(`<text x="${n(ml + pw / 2)}" y="${mt + ph + 28}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`);
  if (yLabel) parts.push(`<text transform="translate(12 ${n(mt + ph / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(yLabel)}</text>`);
  // the color bar
  const steps = 24;
  const bh = Math.max(60, ph);
  for (let k = 0; k < steps; k++) {
    const v = vmax - ((k + 0.5) / steps) * (vmax - vmin);
    parts.push(`<rect x="${barX}" y="${n(mt + (k * bh) / steps)}" width="14" height="${n(bh / steps + 0.5)}" fill="${hex(color(v))}"/>`);
  }
  parts.push(
    `<rect x="${barX}" y="${mt}" width="14" height="${n(bh)}" fill="none" stroke="#888"/>`,
    `<text x="${barX + 18}" y="${mt + 9}">${escapeXml(formatNumber(vmax, 3))}</text>`,
    `<text x="${barX + 18}" y="${n(mt + bh)}">${escapeXml(formatNumber(vmin, 3))}</text>`,
    '</svg>',
  );

  const text = [
    `${title ? `${title} ` : ''}(${rows}×${cols}${yLabel || xLabel ? `, rows ${yLabel || '?'} × cols ${xLabel || '?'}` : ''}; '${SHADES[0]}' = ${formatNumber(vmin, 3)} … '${SHADES[SHADES.length - 1]}' = ${formatNumber(vmax, 3)})`,
    ...shadedLines(rows, cols, at, vmin, span).map((l) => `|${l}|`),
  ].join('\n');
  return new View({ kind: 'svg', svg: parts.join('\n'), text, title });
}

/** The text fallback's rows: at most 64 columns, each a block of cells averaged and shaded from ` ` (vmin) to `@`. */
function shadedLines(rows: number, cols: number, at: (i: number, j: number) => number, vmin: number, span: number): string[] {
  const sx = Math.max(1, Math.ceil(cols / 64));
  const sy = Math.max(1, Math.ceil(rows / 64));
  const lines: string[] = [];
  for (let i = 0; i < rows; i += sy) {
    let line = '';
    for (let j = 0; j < cols; j += sx) {
      let sum = 0;
      let cnt = 0;
      for (let a = i; a < Math.min(rows, i + sy); a++)
        for (let b = j; b < Math.min(cols, j + sx); b++) {
          const v = at(a, b);
          if (Number.isFinite(v)) [sum, cnt] = [sum + v, cnt + 1];
        }
      const x = cnt ? (sum / cnt - vmin) / span : NaN;
      line += Number.isNaN(x) ? '?' : SHADES[Math.min(SHADES.length - 1, Math.max(0, Math.round(x * (SHADES.length - 1))))]!;
    }
    lines.push(line);
  }
  return lines;
}
