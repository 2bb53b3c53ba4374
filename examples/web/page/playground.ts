/**
 * The einattn playground: pick a variant, its options and sizes (or write a DSL snippet of your
 * own), run it on this browser's WebGPU adapter, check it against the interpreter, and see the
 * kernel times, the plan, the WGSL and the attention weights. `window.einattnResults` holds the
 * latest run's outcome.
 */
import { getRuntime, type Runtime } from 'einattn/runtime';
import { fillVariant, initForm, readPrecision, readSettings, selected, toQuery, type Settings } from './form.ts';
import { finish, noteAdapter, resultsHtml, startResults, type PageResults } from './results.ts';
import { runGraph, runSettings, type RunReport } from './run.ts';
import { evaluateSnippet, EXAMPLE_SIZES, EXAMPLE_SNIPPET, loadTypeScript, parseSizes, throwTypeErrors, typeCheckSnippet } from './snippet.ts';

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const ms = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(3)} ms`);

function kernelTable(r: RunReport): string {
  const rows = r.kernels.map((k) => `<tr><td>${esc(k.name)}</td><td>${ms(k.ms)}</td></tr>`).join('');
  return `<table id="kernels"><thead><tr><th>kernel</th><th>GPU time</th></tr></thead><tbody>${rows}<tr><th>total</th><th id="kernel-ms">${ms(r.kernelMs)}</th></tr></tbody></table>`;
}

function reportHtml(r: RunReport): string {
  const checks = Object.entries(r.checks).map(
    ([name, c]) => `${name}: max |gpu − interpreter| ${c.maxErr.toExponential(2)} (allowed ${c.allowed.toExponential(2)}) ${c.pass ? 'pass' : 'FAIL'}`,
  );
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
  const on = Object.entries(s.options)
    .filter(([k, v]) => v !== s.variant.options[k]!.default)
    .map(([k, v]) => (v === true ? k : `${k}=${v}`));
  return [s.variant.name, ...on].join(' ');
}

/** One run to show: what its cases are called, and what it produced. */
interface Job {
  name: string;
  dims: Record<string, number>;
  check: boolean;
  report: RunReport;
}

/** The runtime, or the reason there is none (NO_ADAPTER and why), as an error. */
function need(rt: Runtime | null, results: PageResults): Runtime {
  if (!rt) throw new Error(results.error ?? 'no WebGPU runtime');
  return rt;
}

/** The variant form's settings as a run (kept in the URL, so that it can be shared). */
async function variantJob(rt: Runtime | null, results: PageResults): Promise<Job> {
  need(rt, results);
  const s = readSettings();
  history.replaceState(null, '', `?${toQuery(s)}`);
  return { name: caseName(s), dims: s.dims, check: s.check, report: await runSettings(s) };
}

const SAVED = 'einattn-playground-snippet';

/** The editor's snippet, type-checked (unless unticked), evaluated, and its graph run. */
async function snippetJob(rt: Runtime | null, results: PageResults): Promise<Job> {
  const note = el('snippet-note');
  note.textContent = '';
  const source = el<HTMLTextAreaElement>('snippet').value;
  const dims = parseSizes(el<HTMLInputElement>('snippet-dims').value);
  const status = el('status');
  status.textContent = 'loading the TypeScript compiler…';
  const ts = await loadTypeScript();
  if (el<HTMLInputElement>('snippet-typecheck').checked) {
    status.textContent = 'type-checking the snippet…';
    const check = await typeCheckSnippet(ts, source);
    const errors = check.diagnostics.filter((d) => d.category === 'error').length;
    note.textContent = `type check (TypeScript ${check.version}, ${check.ms.toFixed(0)} ms): ${errors ? `${errors} error${errors === 1 ? '' : 's'}` : 'no errors'}`;
    throwTypeErrors(ts, check, source);
  } else note.textContent = `not type-checked: syntax only (TypeScript ${ts.version}), then einattn's run-time checks`;
  status.textContent = 'running…';
  const graph = await evaluateSnippet(ts, source);
  need(rt, results);
  const run = { dims, ...readPrecision() };
  return { name: `snippet ${graph.name}`, dims, check: run.check, report: await runGraph(graph, run) };
}

/** Runs a job and shows the outcome; errors are shown, never thrown. */
async function run(results: PageResults, job: () => Promise<Job>): Promise<void> {
  const out = el('report');
  const buttons = ['run', 'snippet-run'].map((id) => el<HTMLButtonElement>(id));
  for (const b of buttons) b.disabled = true;
  el('status').textContent = 'running…';
  try {
    const { name, dims, check, report: r } = await job();
    for (const [output, c] of Object.entries(r.checks)) results.cases.push({ name: `${name}: ${output}`, dims, kernelMs: r.kernelMs, ...c });
    if (!check) results.cases.push({ name, dims, kernelMs: r.kernelMs, maxErr: 0, allowed: 0, refAbsMax: 0, count: 0, pass: true });
    out.innerHTML = reportHtml(r);
    finish(results);
  } catch (e) {
    finish(results, e);
    out.innerHTML = '';
  }
  el('status').innerHTML = resultsHtml(results);
  for (const b of buttons) b.disabled = false;
}

/** The editor: the saved snippet (or the example), Tab indents, Ctrl/Cmd+Enter runs. */
function initEditor(): void {
  const editor = el<HTMLTextAreaElement>('snippet');
  const sizes = el<HTMLInputElement>('snippet-dims');
  let saved: { source?: string; sizes?: string } = {};
  try {
    saved = JSON.parse(localStorage.getItem(SAVED) ?? '{}') as typeof saved;
  } catch {
    // no storage (or an unreadable entry): start from the example
  }
  editor.value = saved.source ?? EXAMPLE_SNIPPET;
  sizes.value = saved.sizes ?? EXAMPLE_SIZES;
  const save = () => {
    try {
      localStorage.setItem(SAVED, JSON.stringify({ source: editor.value, sizes: sizes.value }));
    } catch {
      // storage full or disabled: the editor still works, it is just not kept
    }
  };
  editor.addEventListener('input', save);
  sizes.addEventListener('input', save);
  el('snippet-reset').addEventListener('click', () => {
    editor.value = EXAMPLE_SNIPPET;
    sizes.value = EXAMPLE_SIZES;
    save();
  });
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      el('snippet-run').click();
    } else if (e.key === 'Tab' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      editor.setRangeText('  ', editor.selectionStart, editor.selectionEnd, 'end');
      save();
    }
  });
}

async function main(): Promise<void> {
  const query = new URLSearchParams(location.search);
  initForm(query);
  initEditor();
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
  const fresh = () => {
    const r = startResults();
    r.adapter = first.adapter;
    if (!rt) r.error = first.error;
    return r;
  };
  el('run').addEventListener('click', () => {
    const r = fresh();
    void run(r, () => variantJob(rt, r));
  });
  el('snippet-run').addEventListener('click', () => {
    const r = fresh();
    void run(r, () => snippetJob(rt, r));
  });
  if (query.get('run') === '1') el('run').click();
  else if (rt) el('status').textContent = 'ready';
}

void main();
