/**
 * The tour's report: its JSON shape, and a self-contained HTML page (inline CSS and
 * SVG, no scripts, no external resources) so it opens anywhere, including offline CI artifacts.
 */
import type { AdapterReport } from '../runtime/index.ts';

/** One output's comparison against the interpreter. */
export interface OutputCheck {
  name: string;
  maxAbs: number;
  maxRel: number;
  refAbsMax: number;
  allowed: number;
  pass: boolean;
}

/** What the tour found for one variant. */
export interface TourVariant {
  name: string;
  summary: string;
  /** the graph's name (default options) */
  graph: string;
  kernels: string[];
  /** WGSL files, relative to the report's folder */
  wgsl: string[];
  check: {
    /** 'gpu' compares GPU to interpreter; 'interpreter only' just runs the interpreter */
    mode: 'gpu' | 'interpreter only';
    dims: Record<string, number>;
    rule: string;
    outputs: OutputCheck[];
    pass: boolean;
  } | null;
  timing: {
    dims: Record<string, number>;
    /** the variant's own bench dims, before capping */
    benchDims: Record<string, number>;
    capped: boolean;
    runs: number;
    medianMs: number;
    minMs: number;
    maxMs: number;
    perKernelMs: number[];
    method: string;
  } | null;
  /** KV-cache bytes per token per layer, f32, at `kvDims` */
  kvBytesPerToken: number;
  kvDims: Record<string, number>;
  /** set when something about this variant threw */
  error?: string;
  pass: boolean;
}

/** The whole tour, as written to report.json. */
export interface TourReport {
  tool: 'einattn';
  version: string;
  createdAt: string;
  /** whether timing used the check sizes (--small) */
  small: boolean;
  adapter: AdapterReport | null;
  /** why there is no adapter, when there is none */
  adapterError?: string;
  interpreterOnly: boolean;
  variants: TourVariant[];
  pass: boolean;
  elapsedMs: number;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for HTML and SVG content and attribute values.
 * @example escapeHtml('<b> & "x"') // '&lt;b&gt; &amp; &quot;x&quot;'
 */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** One bar of a chart. */
export interface Bar {
  label: string;
  value: number;
  /** shown after the value, e.g. the shape it was measured at */
  note?: string;
}

/** A horizontal bar chart. */
export interface ChartSpec {
  title: string;
  bars: Bar[];
  /** how values are printed beside the bars */
  format?: (v: number) => string;
}

const num = (x: number) => +x.toFixed(2);

/**
 * A horizontal bar chart as inline SVG, one `<rect class="bar">` per bar, scaled to the
 * largest finite value; bars without a finite value are labelled "n/a".
 * @example barChart({ title: 'time (ms)', bars: [{ label: 'mha', value: 12.5 }] })
 */
export function barChart(spec: ChartSpec): string {
  const fmt = spec.format ?? ((v: number) => String(num(v)));
  const labelW = Math.min(220, 12 + 7.5 * Math.max(4, ...spec.bars.map((b) => b.label.length)));
  const barMax = 360;
  const valueW = Math.max(
    260,
    12 +
      7.5 * Math.max(0, ...spec.bars.map((b) => (Number.isFinite(b.value) && b.value >= 0 ? fmt(b.value) : 'n/a').length + (b.note ? b.note.length + 1 : 0))),
  );
  const rowH = 26;
  const top = 30;
  const width = Math.round(labelW + barMax + valueW);
  const height = top + rowH * Math.max(1, spec.bars.length) + 8;
  const finite = spec.bars.map((b) => b.value).filter((v) => Number.isFinite(v) && v > 0);
  const max = finite.length ? Math.max(...finite) : 1;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(spec.title)}">`,
    `<text class="title" x="0" y="18">${escapeHtml(spec.title)}</text>`,
  ];
  spec.bars.forEach((b, i) => {
    const y = top + i * rowH;
    const ok = Number.isFinite(b.value) && b.value >= 0;
    const w = ok ? Math.max(1, (b.value / max) * barMax) : 0;
    const valueText = ok ? fmt(b.value) : 'n/a';
    const note = b.note ? ` ${b.note}` : '';
    parts.push(
      `<text class="label" x="${num(labelW - 8)}" y="${y + 17}" text-anchor="end">${escapeHtml(b.label)}</text>`,
      `<rect class="bar" x="${num(labelW)}" y="${y + 4}" width="${num(w)}" height="${rowH - 8}"><title>${escapeHtml(`${b.label}: ${valueText}${note}`)}</title></rect>`,
      `<text class="value" x="${num(labelW + w + 6)}" y="${y + 17}">${escapeHtml(valueText + note)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function fmtMsShort(ms: number): string {
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3)} ms`;
}

function fmtBytesShort(n: number): string {
  for (const [unit, size] of [
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const)
    if (n >= size) return `${+(n / size).toFixed(2)} ${unit}`;
  return `${n} B`;
}

const dimsShort = (d: Record<string, number>) =>
  Object.entries(d)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

function sci(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x === 0 ? '0' : x.toExponential(2);
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 960px; padding: 0 1rem; color: #1d2330; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #5b6475; } .pass { color: #137333; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.warn { background: #fff4e5; border: 1px solid #f0c27b; padding: .6rem .8rem; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; } th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
th { background: #f5f7fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
svg.chart { display: block; margin: .5rem 0 1rem; max-width: 100%; height: auto; }
svg .bar { fill: #3b6fd8; } svg .title { font: 600 14px system-ui, sans-serif; fill: #1d2330; }
svg .label, svg .value { font: 12px system-ui, sans-serif; fill: #3a4150; }
`;

/**
 * The tour report as one self-contained HTML page with SVG charts of time and KV-cache bytes per variant.
 * @example writeFileSync('out/tour/report.html', renderReport(report))
 */
export function renderReport(r: TourReport): string {
  const e = escapeHtml;
  const status = (pass: boolean) => `<span class="${pass ? 'pass' : 'fail'}">${pass ? 'pass' : 'FAIL'}</span>`;
  const adapter = r.adapter
    ? `${e(r.adapter.kind)} adapter — ${e(r.adapter.description || r.adapter.device || r.adapter.vendor)} (${e(r.adapter.backend)}); ${e(r.adapter.reason)}`
    : 'no WebGPU adapter';
  const rows = r.variants.map((v) => {
    const worst = v.check?.outputs.reduce((m, o) => (o.maxAbs > m.maxAbs ? o : m), v.check.outputs[0]!);
    const checkText = v.check
      ? `${status(v.check.pass)}${v.check.mode === 'interpreter only' ? ' (interpreter only)' : ''}${worst && v.check.mode === 'gpu' ? ` <code>${sci(worst.maxAbs)} ≤ ${sci(worst.allowed)}</code>` : ''}`
      : status(false);
    return `<tr><td><b>${e(v.name)}</b><br><span class="meta">${e(v.summary)}</span>${v.error ? `<br><span class="fail">${e(v.error)}</span>` : ''}</td>
<td class="num">${v.kernels.length}</td><td>${checkText}</td>
<td class="num">${v.timing ? e(fmtMsShort(v.timing.medianMs)) : 'n/a'}</td>
<td><code>${v.timing ? e(dimsShort(v.timing.dims)) + (v.timing.capped ? ' (capped)' : '') : ''}</code></td>
<td class="num">${e(fmtBytesShort(v.kvBytesPerToken))}</td></tr>`;
  });
  const rules = r.variants
    .filter((v) => v.check?.mode === 'gpu')
    .map((v) => `<p class="meta">${e(v.name)}: GPU vs float64 interpreter at <code>${e(dimsShort(v.check!.dims))}</code>; ${e(v.check!.rule)}</p>`)
    .join('\n');
  const timeChart = barChart({
    title: `kernel time per run, median of ${r.variants[0]?.timing?.runs ?? 0} (ms)`,
    bars: r.variants.map((v) => ({ label: v.name, value: v.timing ? v.timing.medianMs : NaN, note: v.timing ? `at ${dimsShort(v.timing.dims)}` : undefined })),
    format: fmtMsShort,
  });
  const kvChart = barChart({
    title: 'KV-cache bytes per token per layer (f32)',
    bars: r.variants.map((v) => ({ label: v.name, value: v.kvBytesPerToken, note: `at ${dimsShort(v.kvDims)}` })),
    format: fmtBytesShort,
  });
  const kernels = r.variants
    .map(
      (v) =>
        `<li><b>${e(v.name)}</b>: ${v.kernels.map((k, i) => `<code>${e(k)}</code>${v.timing ? ` ${e(fmtMsShort(v.timing.perKernelMs[i] ?? NaN))}` : ''}`).join(', ') || 'none'}${v.wgsl.length ? ` — WGSL in <code>${e(v.wgsl[0]!.replace(/\/[^/]*$/, '/'))}</code>` : ''}</li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>einattn tour</title><style>${STYLE}</style></head>
<body>
<h1>einattn tour ${status(r.pass)}</h1>
<p class="meta">einattn ${e(r.version)} · ${e(r.createdAt)} · ${adapter} · ${r.small ? 'timed on the check sizes (--small)' : 'timed on the bench sizes'} · ${(r.elapsedMs / 1000).toFixed(1)} s</p>
${r.interpreterOnly ? `<p class="warn"><b>Interpreter only:</b> no GPU kernels ran. ${e(r.adapterError ?? '')}</p>` : ''}
<table><thead><tr><th>variant</th><th>kernels</th><th>check vs interpreter</th><th>time (median)</th><th>timing shape</th><th>KV bytes / token</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
${rules}
<h2>Time per variant</h2>
${timeChart}
<h2>KV-cache bytes per token</h2>
${kvChart}
<h2>Kernels</h2>
<ul>
${kernels}
</ul>
</body></html>
`;
}
