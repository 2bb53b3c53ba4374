/**
 * The einattn playground: pick a variant, its options and sizes, run it on this browser's
 * WebGPU adapter, check it against the interpreter, and see the kernel times, the plan, the
 * WGSL and the attention weights. `window.einattnResults` holds the latest run's outcome.
 */
import { getRuntime, type Runtime } from 'einattn/runtime';
import { fillVariant, initForm, readSettings, selected, toQuery, type Settings } from './form.ts';
import { finish, noteAdapter, resultsHtml, startResults, type PageResults } from './results.ts';
import { runSettings, type RunReport } from './run.ts';

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const ms = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(3)} ms`);

function kernelTable(r: RunReport): string {
  const rows = r.kernels.map((k) => `<tr><td>${esc(k.name)}</td><td>${ms(k.ms)}</td></tr>`).join('');
  return `<table id="kernels"><thead><tr><th>kernel</th><th>GPU time</th></tr></thead><tbody>${rows}<tr><th>total</th><th id="kernel-ms">${ms(r.kernelMs)}</th></tr></tbody></table>`;
}

function reportHtml(r: RunReport): string {
  const checks = Object.entries(r.checks).map(([name, c]) => `${name}: max |gpu − interpreter| ${c.maxErr.toExponential(2)} (allowed ${c.allowed.toExponential(2)}) ${c.pass ? 'pass' : 'FAIL'}`);
  const wgsl = r.kernels
    .map((k) => `<details class="wgsl"><summary>${esc(k.name)} (${k.wgsl.split('\n').length} lines)</summary><pre>${esc(k.wgsl)}</pre></details>`)
    .join('');
  return (
    `<p id="check">${checks.length ? esc(checks.join('; ')) : 'not checked against the interpreter'}${r.interpMs === null ? '' : ` (interpreter ${ms(r.interpMs)})`}</p>` +
    `<p>first run ${ms(r.firstMs)} (compiles the pipelines), timed run ${ms(r.wallMs)} wall${r.f32Fallback ? '; no shader-f16 on this adapter: f16 ran as f32' : ''}</p>` +
    kernelTable(r) +
    `<h2>Attention weights</h2><div id="heatmap">${r.weights ? r.weights.html : esc(r.weightsNote)}</div>` +
    `<h2>Plan</h2><pre id="plan">${esc(r.explain)}</pre>` +
    `<h2>WGSL</h2><div id="wgsl">${wgsl}</div>`
  );
}

function caseName(s: Settings): string {
  const on = Object.entries(s.options).filter(([k, v]) => v !== s.variant.options[k]!.default).map(([k, v]) => (v === true ? k : `${k}=${v}`));
  return [s.variant.name, ...on].join(' ');
}

/** Runs the form's settings and shows the outcome; errors are shown, never thrown. */
async function run(rt: Runtime | null, results: PageResults): Promise<void> {
  const out = el('report');
  const button = el<HTMLButtonElement>('run');
  button.disabled = true;
  el('status').textContent = 'running…';
  try {
    if (!rt) throw new Error(results.error ?? 'no WebGPU runtime');
    const s = readSettings();
    history.replaceState(null, '', `?${toQuery(s)}`);
    const r = await runSettings(s);
    for (const [name, c] of Object.entries(r.checks)) results.cases.push({ name: `${caseName(s)}: ${name}`, dims: s.dims, kernelMs: r.kernelMs, ...c });
    if (!s.check) results.cases.push({ name: caseName(s), dims: s.dims, kernelMs: r.kernelMs, maxErr: 0, allowed: 0, refAbsMax: 0, count: 0, pass: true });
    out.innerHTML = reportHtml(r);
    finish(results);
  } catch (e) {
    finish(results, e);
    out.innerHTML = '';
  }
  el('status').innerHTML = resultsHtml(results);
  button.disabled = false;
}

async function main(): Promise<void> {
  const query = new URLSearchParams(location.search);
  initForm(query);
  el('variant').addEventListener('change', () => fillVariant(selected(), new URLSearchParams()));
  el('bench-sizes').addEventListener('click', () => fillVariant(selected(), new URLSearchParams(), 'bench'));
  let rt: Runtime | null = null;
  const first = startResults();
  try {
    rt = await getRuntime();
    noteAdapter(first, rt);
    el('adapter').textContent = `${rt.kind} adapter: ${rt.reason}; features: ${[...rt.features].join(', ') || 'none'}`;
  } catch (e) {
    finish(first, e);
    el('adapter').textContent = first.error ?? '';
    el('status').innerHTML = resultsHtml(first);
  }
  el('run').addEventListener('click', () => {
    const r = startResults();
    r.adapter = first.adapter;
    if (!rt) r.error = first.error;
    void run(rt, r);
  });
  if (query.get('run') === '1') el('run').click();
  else if (rt) el('status').textContent = 'ready';
}

void main();
