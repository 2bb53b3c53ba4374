/** Two plots of the cost model as self-contained SVG: a roofline, and KV cache versus context. */

const W = 760;
const H = 400;
const M = { l: 90, r: 220, t: 30, b: 50 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/**
 * Escapes text for SVG/XML.
 * @example esc('a < b') // 'a &lt; b'
 */
export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A log-scale map from [lo, hi] onto pixels [a, b].
 * @example logScale(1, 100, 0, 200)(10) // 100
 */
export function logScale(lo: number, hi: number, a: number, b: number) {
  const l0 = Math.log10(lo);
  const l1 = Math.log10(hi);
  return (v: number) => a + ((Math.log10(v) - l0) / (l1 - l0)) * (b - a);
}

/**
 * The powers of ten inside [lo, hi] (axis ticks).
 * @example decades(0.5, 200) // [1, 10, 100]
 */
export function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out.filter((v) => v >= lo && v <= hi);
}

/** Powers of two, a factor 4 apart, inside [lo, hi]: byte ticks that read as 256 MiB, 1 GiB, 4 GiB. */
function powersOf4(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.ceil(Math.log2(lo) / 2) * 2; 2 ** e <= hi; e += 2) out.push(2 ** e);
  return out;
}

function flopsText(v: number): string {
  const units: [number, string][] = [
    [1e15, 'P'],
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
  ];
  const [scale, unit] = units.find(([u]) => v >= u) ?? [1, ''];
  return `${+(v / scale).toPrecision(3)}${unit}`;
}

function frame(title: string, xLabel: string, yLabel: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#888"/>`,
    ...body,
    '</svg>',
  ].join('\n');
}

/**
 * A roofline: attainable FLOP/s against arithmetic intensity, with one point per case.
 * @example rooflineSvg({ name: 'H100', peak: 67e12, bandwidth: 3.35e12 }, [{ label: 'mha', intensity: 130 }])
 */
export function rooflineSvg(device: { name: string; peak: number; bandwidth: number }, points: { label: string; intensity: number }[]): string {
  const xs = [0.1, 1e4, ...points.map((p) => p.intensity)];
  const [xlo, xhi] = [Math.min(...xs) / 2, Math.max(...xs) * 2];
  const attain = (i: number) => Math.min(device.peak, i * device.bandwidth);
  const ylo = attain(xlo) / 2;
  const yhi = device.peak * 2;
  const x = logScale(xlo, xhi, M.l, W - M.r);
  const y = logScale(ylo, yhi, H - M.b, M.t);
  const ridge = device.peak / device.bandwidth;
  const body = [
    ...decades(xlo, xhi).map((v) => `<text x="${x(v)}" y="${H - M.b + 16}" text-anchor="middle">${v}</text>`),
    ...decades(ylo, yhi).map((v) => `<text x="${M.l - 6}" y="${y(v) + 4}" text-anchor="end">${flopsText(v)}</text>`),
    `<polyline fill="none" stroke="#333" stroke-width="2" points="${x(xlo)},${y(attain(xlo))} ${x(ridge)},${y(device.peak)} ${x(xhi)},${y(device.peak)}"/>`,
    ...points.map((p, i) => {
      const c = COLORS[i % COLORS.length];
      return (
        `<circle cx="${x(p.intensity)}" cy="${y(attain(p.intensity))}" r="5" fill="${c}"/>` +
        `<text x="${W - M.r + 10}" y="${M.t + 16 + i * 16}" fill="${c}">● ${esc(p.label)} (${p.intensity.toPrecision(3)} FLOP/B)</text>`
      );
    }),
  ];
  return frame(`Roofline: ${device.name}`, 'arithmetic intensity (FLOP/byte)', 'attainable FLOP/s', body);
}

/**
 * KV-cache bytes against context length, one line per variant.
 * @example kvContextSvg([{ label: 'mha', bytesPerToken: 4096 }], { layers: 32, batch: 8 })
 */
export function kvContextSvg(series: { label: string; bytesPerToken: number }[], shape: { layers: number; batch: number }): string {
  const ctx = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072];
  const total = (s: { bytesPerToken: number }, c: number) => s.bytesPerToken * c * shape.layers * shape.batch;
  const all = series.flatMap((s) => ctx.map((c) => total(s, c))).filter((v) => v > 0);
  const [ylo, yhi] = [Math.min(...all) / 2, Math.max(...all) * 2];
  const x = logScale(ctx[0]!, ctx[ctx.length - 1]!, M.l, W - M.r);
  const y = logScale(ylo, yhi, H - M.b, M.t);
  const gib = (v: number) => (v >= 2 ** 30 ? `${v / 2 ** 30} GiB` : v >= 2 ** 20 ? `${v / 2 ** 20} MiB` : `${v / 1024} KiB`);
  const body = [
    ...ctx.map((c) => `<text x="${x(c)}" y="${H - M.b + 16}" text-anchor="middle">${c >= 1024 ? `${c / 1024}k` : c}</text>`),
    ...powersOf4(ylo, yhi).map((v) => `<text x="${M.l - 6}" y="${y(v) + 4}" text-anchor="end">${gib(v)}</text>`),
    ...series.map((s, i) => {
      const c = COLORS[i % COLORS.length];
      const pts = ctx.map((k) => `${x(k)},${y(total(s, k))}`).join(' ');
      return (
        `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>` +
        `<text x="${W - M.r + 10}" y="${M.t + 16 + i * 16}" fill="${c}">— ${esc(s.label)}</text>`
      );
    }),
  ];
  return frame(`KV cache: ${shape.layers} layers × batch ${shape.batch}`, 'context length (tokens)', 'KV-cache memory', body);
}
