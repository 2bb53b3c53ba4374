/** The markdown of a web benchmark run: the setting, then one table row per benchmark row. */
import type { Timing, WebBench, WebBenchRow } from './page/bench-types.ts';

const num = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));

function cell(t: WebBenchRow['einattn'] | WebBenchRow['ort']): string {
  if ('median_ms' in t) return `${num(t.median_ms)} (${num(t.q1_ms)}–${num(t.q3_ms)})`;
  return 'skipped' in t ? `skipped: ${t.skipped}` : `error: ${t.error}`;
}

const diff = (x: number | null) => (x === null ? '–' : x.toExponential(1));

/**
 * Renders the results as markdown.
 * @example writeFileSync('bench/results/web-software-swiftshader.md', benchMarkdown(bench, meta))
 */
export function benchMarkdown(b: WebBench, meta: { command: string; date: string; machine: string; browser: string }): string {
  const a = b.adapter;
  const ratios = b.rows.map((r) => r.ratio).filter((x): x is number => x !== null);
  const geo = ratios.length ? Math.exp(ratios.reduce((s, x) => s + Math.log(x), 0) / ratios.length) : null;
  const lines = [
    `# einattn vs ONNX Runtime Web (WebGPU) in ${meta.browser}`,
    '',
    `- command: \`${meta.command}\``,
    `- date: ${meta.date}`,
    `- machine: ${meta.machine}`,
    `- browser: ${meta.browser}; ${b.userAgent}`,
    `- adapter: ${a ? `${a.kind}, ${a.vendor} ${a.architecture} ${a.description}`.trim() + ` (${a.reason}); features ${a.features.join(', ') || 'none'}` : 'none'}`,
    `- ONNX Runtime Web ${b.ortVersion}, WebGPU execution provider, on einattn's GPUDevice (ort.env.webgpu.device)`,
    `- each row: one warm-up call per system, then ${b.reps} rounds of one call per system, the order alternating; median and interquartile range`,
    '',
    '"wall ms" is one call as the page sees it: host arrays in, upload, kernels, read-back. "kernel ms" is einattn\'s GPU time',
    '(timestamp queries). "×ORT" is the median over rounds of ORT Web wall / einattn wall (above 1: einattn is faster). The ONNX models are the Node',
    "bench's (MultiHeadAttention, GroupQueryAttention); max |Δ| compares einattn's output with ORT's and with the interpreter.",
    '',
    '| row | sizes | einattn wall ms (IQR) | kernel ms | ORT Web wall ms (IQR) | ×ORT | max \\|Δ\\| ORT | max \\|Δ\\| interpreter |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...b.rows.map((r) => {
      const kernel = 'kernel_ms' in r.einattn && (r.einattn as Timing).kernel_ms !== undefined ? num((r.einattn as Timing).kernel_ms!) : '–';
      const sizes = Object.entries(r.dims)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      return `| ${r.id} | ${sizes} | ${cell(r.einattn)} | ${kernel} | ${cell(r.ort)} | ${r.ratio === null ? '–' : r.ratio.toFixed(2)} | ${diff(r.maxDiffOrt)} | ${diff(r.maxDiffInterp)} |`;
    }),
    '',
    geo === null ? 'No row ran on both systems.' : `Geometric mean of ×ORT over the ${ratios.length} rows both ran: **${geo.toFixed(2)}**.`,
    ...(b.rows.some((r) => r.note) ? ['', ...b.rows.filter((r) => r.note).map((r) => `- ${r.id}: ${r.note}`)] : []),
    ...(b.error ? ['', `The page stopped with an error: ${b.error}`] : []),
    '',
  ];
  return lines.join('\n');
}
