/**
 * How a page reports what it checked: the adapter, one row per case, and the first error.
 * The test suite and `npm run bench:web` read `window.einattnResults`; people read the table.
 */
import { adapterReport, type EinattnError, type Runtime } from 'einattn/runtime';
import type { PageResults } from './report-types.ts';

export type { CaseResult, PageResults } from './report-types.ts';

declare global {
  interface Window {
    einattnResults?: PageResults;
  }
}

/** A fresh, not yet done, result object on `window`. */
export function startResults(): PageResults {
  const r: PageResults = { done: false, ok: false, adapter: null, cases: [], error: null };
  window.einattnResults = r;
  return r;
}

/** Records the adapter the runtime chose. */
export function noteAdapter(r: PageResults, rt: Runtime): void {
  r.adapter = adapterReport(rt);
}

/**
 * An error as the pages show it: einattn's with its code first (`AXIS_MISMATCH: einsum …`), a
 * plain Error's message, any other error with its name (`TypeError: …`).
 */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return `thrown: ${String(error)}`;
  if (error.name === 'EinattnError') return `${(error as EinattnError).code}: ${error.message}`;
  return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
}

/** Marks the results done: ok when nothing failed. */
export function finish(r: PageResults, error?: unknown): void {
  if (error !== undefined) r.error = errorText(error);
  r.ok = r.error === null && r.cases.length > 0 && r.cases.every((c) => c.pass);
  r.done = true;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

/** The results as an HTML table (cases) with the adapter line and any error. */
export function resultsHtml(r: PageResults): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const adapter = r.adapter ? `${r.adapter.kind}: ${r.adapter.reason}; features ${r.adapter.features.join(', ') || 'none'}` : 'no adapter yet';
  const rows = r.cases.map(
    (c) =>
      `<tr class="${c.pass ? 'pass' : 'fail'}"><td>${esc(c.name)}</td><td>${esc(
        Object.entries(c.dims)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      )}</td>` +
      `<td>${fmt(c.maxErr)}</td><td>${fmt(c.allowed)}</td><td>${c.kernelMs === null ? 'n/a' : c.kernelMs.toFixed(3)}</td><td>${c.pass ? 'pass' : 'FAIL'}</td></tr>`,
  );
  return (
    `<p id="results-adapter">${esc(adapter)}</p>` +
    `<table><thead><tr><th>case</th><th>sizes</th><th>max |gpu − interpreter|</th><th>allowed</th><th>kernel ms</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
    (r.error ? `<pre id="results-error">${esc(r.error)}</pre>` : '') +
    (r.done ? `<p id="results-status">${r.ok ? 'all cases match the interpreter' : 'FAILED'}</p>` : '')
  );
}
