/** The bench's two charts as self-contained SVG: time per row per system, and the measured roofline. */
import { decades, esc, logScale as log } from '../cost/svg.ts';
import type { BenchResult, SystemName } from './run.ts';

const COLORS: Record<SystemName, string> = {
  einattn: '#1f77b4',
  'einattn-unfused': '#aec7e8',
  interpreter: '#7f7f7f',
  'ort-webgpu': '#d62728',
  'ort-cpu': '#ff9896',
};
const num = (v: number) => (v >= 1 ? `${+v.toPrecision(3)}` : `${+v.toPrecision(2)}`);

/**
 * Horizontal bars: median wall ms of every row on every system (log scale).
 * @example writeFileSync('times.svg', timesSvg(result))
 */
export function timesSvg(result: BenchResult): string {
  const ok = result.rows.filter((r) => r.status === 'ok' && r.wall);
  const cases = [...new Set(result.rows.map((r) => r.case))];
  const systems = [...new Set(ok.map((r) => r.system))];
  const barH = 9;
  const groupH = systems.length * barH + 12;
  const L = 190,
    R = 30,
    T = 40,
    B = 40,
    W = 820;
  const H = T + B + cases.length * groupH;
  const ms = ok.map((r) => r.wall!.median);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...ms, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...ms, 10)));
  const x = log(lo, hi, L, W - R);
  const body: string[] = [];
  for (const d of decades(lo, hi))
    body.push(
      `<line x1="${x(d)}" x2="${x(d)}" y1="${T}" y2="${H - B}" stroke="#ddd"/><text x="${x(d)}" y="${H - B + 14}" text-anchor="middle">${num(d)}</text>`,
    );
  cases.forEach((id, i) => {
    const y0 = T + i * groupH;
    body.push(`<text x="${L - 6}" y="${y0 + groupH / 2}" text-anchor="end" dominant-baseline="middle">${esc(id)}</text>`);
    systems.forEach((s, j) => {
      const r = ok.find((q) => q.case === id && q.system === s);
      if (!r) return;
      const y = y0 + 4 + j * barH;
      body.push(
        `<rect x="${L}" y="${y}" width="${Math.max(1, x(r.wall!.median) - L)}" height="${barH - 1}" fill="${COLORS[s]}"><title>${esc(`${id} ${s}: ${r.wall!.median.toFixed(2)} ms`)}</title></rect>`,
      );
    });
  });
  systems.forEach((s, j) =>
    body.push(`<rect x="${L + j * 125}" y="${T - 22}" width="10" height="10" fill="${COLORS[s]}"/><text x="${L + 14 + j * 125}" y="${T - 13}">${s}</text>`),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...body,
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">median wall ms per call (log scale), ${esc(result.adapter.description)}</text>`,
    '</svg>',
  ].join('\n');
}

/**
 * The measured roofline (FMA peak, copy bandwidth) with each row's achieved GFLOP/s.
 * @example writeFileSync('roofline.svg', benchRooflineSvg(result))
 */
export function benchRooflineSvg(result: BenchResult): string {
  const W = 820,
    H = 440,
    L = 70,
    R = 200,
    T = 30,
    B = 50;
  const ok = result.rows.filter((r) => r.status === 'ok' && r.gflops !== undefined);
  const peak = result.roofline.gflops;
  const bw = result.roofline.gbps;
  const pts = ok.map((r) => ({ r, ai: r.flops / r.bytes, g: r.gflops! }));
  const aiLo = 10 ** Math.floor(Math.log10(Math.min(...pts.map((p) => p.ai), peak / bw) / 2));
  const aiHi = 10 ** Math.ceil(Math.log10(Math.max(...pts.map((p) => p.ai), peak / bw) * 2));
  const gLo = 10 ** Math.floor(Math.log10(Math.min(...pts.map((p) => p.g), aiLo * bw)));
  const gHi = 10 ** Math.ceil(Math.log10(peak * 1.5));
  const x = log(aiLo, aiHi, L, W - R);
  const y = log(gLo, gHi, H - B, T);
  const body: string[] = [];
  for (const d of decades(aiLo, aiHi))
    body.push(
      `<line x1="${x(d)}" x2="${x(d)}" y1="${T}" y2="${H - B}" stroke="#eee"/><text x="${x(d)}" y="${H - B + 14}" text-anchor="middle">${num(d)}</text>`,
    );
  for (const d of decades(gLo, gHi))
    body.push(`<line x1="${L}" x2="${W - R}" y1="${y(d)}" y2="${y(d)}" stroke="#eee"/><text x="${L - 4}" y="${y(d) + 4}" text-anchor="end">${num(d)}</text>`);
  const ridge = peak / bw;
  body.push(
    `<polyline fill="none" stroke="black" stroke-width="2" points="${x(aiLo)},${y(Math.max(gLo, aiLo * bw))} ${x(ridge)},${y(peak)} ${x(aiHi)},${y(peak)}"/>`,
  );
  body.push(
    `<text x="${x(aiHi) - 4}" y="${y(peak) - 6}" text-anchor="end">FMA ${num(peak)} GFLOP/s</text><text x="${x(Math.max(aiLo, ridge / 30))}" y="${y(Math.max(gLo, Math.max(aiLo, ridge / 30) * bw)) - 8}">copy ${num(bw)} GB/s</text>`,
  );
  for (const p of pts)
    body.push(
      `<circle cx="${x(p.ai)}" cy="${y(p.g)}" r="4" fill="${COLORS[p.r.system]}" fill-opacity="0.85"><title>${esc(`${p.r.case} ${p.r.system}: ${p.g.toPrecision(3)} GFLOP/s`)}</title></circle>`,
    );
  const systems = [...new Set(pts.map((p) => p.r.system))];
  systems.forEach((s, j) =>
    body.push(`<circle cx="${W - R + 20}" cy="${T + 10 + j * 18}" r="5" fill="${COLORS[s]}"/><text x="${W - R + 30}" y="${T + 14 + j * 18}">${s}</text>`),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(`measured roofline: ${result.adapter.description}`)}</text>`,
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#888"/>`,
    ...body,
    `<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">FLOP per byte (fused plan's bytes)</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">achieved GFLOP/s</text>`,
    '</svg>',
  ].join('\n');
}
