/**
 * The benchmark rows in the browser: einattn's fused kernels against ONNX Runtime Web's WebGPU
 * provider, on the same GPUDevice of the same page. The ONNX models are the Node bench's (its
 * MultiHeadAttention / GroupQueryAttention contrib-op problems, src/bench/ort.ts), so the rows
 * compare the same work as `npm run bench`. ONNX Runtime Web is loaded at run time from `ort/`
 * beside the page (served from node_modules/onnxruntime-web/dist). `window.einattnBench` holds
 * the results for `npm run bench:web`.
 */
import { compile, interpret } from 'einattn';
import { adapterReport, getRuntime, type Runtime } from 'einattn/runtime';
import type * as OrtWeb from 'onnxruntime-web';
import { DEFAULT_CASES, QUICK_CASES, variantOf, type BenchCase } from '../../../src/bench/cases.ts';
import { ortProblem } from '../../../src/bench/ort.ts';
import { sampleInputs } from '../../../src/tune/inputs.ts';
import type { Timing, WebBench, WebBenchRow } from './bench-types.ts';

declare global {
  interface Window {
    einattnBench?: WebBench;
  }
}

/** Above this many multiply-adds (150 MFLOP, the Node bench's limit) a row is not checked against the interpreter. */
const INTERP_LIMIT = 7.5e7;

function timing(ms: number[], kernel?: number[]): Timing {
  const q = (xs: number[], f: number) => {
    const s = [...xs].sort((a, b) => a - b);
    const i = (s.length - 1) * f;
    return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i));
  };
  return { median_ms: q(ms, 0.5), q1_ms: q(ms, 0.25), q3_ms: q(ms, 0.75), ...(kernel?.length ? { kernel_ms: q(kernel, 0.5) } : {}) };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) || (Number.isNaN(a[i]! - b[i]!) ? Infinity : 0));
  return m;
};

/** One system ready to call on one row: each call returns its wall time and output. */
interface Runner {
  call(): Promise<{ ms: number; kernelMs?: number; out: Float32Array }>;
  release(): Promise<void>;
}

/** einattn on one row, after a warm-up call that compiles the pipelines. */
async function einattnRunner(c: BenchCase, inputs: Record<string, Float32Array | Int32Array | Int8Array>): Promise<{ runner: Runner; f32Fallback: boolean }> {
  const compiled = compile(variantOf(c.variant).build(c.opts), c.compute ? { compute: c.compute, f16Fallback: 'f32' } : {});
  const first = await compiled.run(inputs, c.dims);
  const call = async () => {
    const t = performance.now();
    const r = await compiled.run(inputs, c.dims, { timing: true });
    const ms = performance.now() - t;
    return { ms, out: r.outputs.o!.data as Float32Array, ...(r.kernelMs ? { kernelMs: r.kernelMs.reduce((a, b) => a + b, 0) } : {}) };
  };
  return { runner: { call, release: async () => {} }, f32Fallback: first.f32Fallback === true };
}

/** ONNX Runtime Web's WebGPU provider on the same problem after a warm-up call, or why it cannot run it. */
async function ortRunner(ort: typeof OrtWeb, c: BenchCase): Promise<{ runner: Runner; note?: string } | { skipped: string }> {
  if (c.compute) return { skipped: "ONNX Runtime's contrib ops have no f16 arithmetic on f32 inputs; compare with the f32 row" };
  const problem = ortProblem(c, sampleInputs(variantOf(c.variant).build(c.opts), c.dims));
  if (typeof problem === 'string') return { skipped: problem };
  const session = await ort.InferenceSession.create(problem.model, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const feeds = Object.fromEntries(Object.entries(problem.feeds).map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)]));
  const call = async () => {
    const t = performance.now();
    const out = (await session.run(feeds))[problem.output]!.data as Float32Array;
    const ms = performance.now() - t;
    return { ms, out: problem.toEinattn(out) };
  };
  await call();
  return { runner: { call, release: () => session.release() }, ...(problem.note ? { note: problem.note } : {}) };
}

/**
 * `reps` rounds of one call per system, the order alternating, so that a machine that drifts
 * (another process, a CPU adapter's load) affects both alike; ×ORT is the median of the rounds'
 * paired ratios, as in the Node bench.
 */
async function rounds(
  e: Runner,
  o: Runner | null,
  reps: number,
): Promise<{ e: Timing; o: Timing | null; ratio: number | null; eOut: Float32Array; oOut: Float32Array | null }> {
  const wall: number[] = [],
    kernel: number[] = [],
    peer: number[] = [];
  let eOut: Float32Array = new Float32Array(0);
  let oOut: Float32Array | null = null;
  for (let i = 0; i < reps; i++) {
    const order = o && i % 2 ? [o, e] : o ? [e, o] : [e];
    for (const r of order) {
      const c = await r.call();
      if (r === e) {
        wall.push(c.ms);
        if (c.kernelMs !== undefined) kernel.push(c.kernelMs);
        eOut = c.out;
      } else {
        peer.push(c.ms);
        oOut = c.out;
      }
    }
  }
  const ratio = o ? timing(peer.map((p, i) => p / wall[i]!)).median_ms : null;
  return { e: timing(wall, kernel), o: o ? timing(peer) : null, ratio, eOut, oOut };
}

async function row(ort: typeof OrtWeb, c: BenchCase, reps: number): Promise<WebBenchRow> {
  const base = { id: c.id, variant: c.variant, dims: c.dims, opts: c.opts };
  const g = variantOf(c.variant).build(c.opts);
  const inputs = Object.fromEntries(Object.entries(sampleInputs(g, c.dims)).map(([k, v]) => [k, v.data]));
  let e: Awaited<ReturnType<typeof einattnRunner>>;
  try {
    e = await einattnRunner(c, inputs);
  } catch (err) {
    return { ...base, einattn: { error: (err as Error).message }, ort: { skipped: 'einattn failed' }, ratio: null, maxDiffOrt: null, maxDiffInterp: null };
  }
  let o: Awaited<ReturnType<typeof ortRunner>> | { error: string };
  try {
    o = await ortRunner(ort, c);
  } catch (err) {
    o = { error: (err as Error).message };
  }
  const peer = 'runner' in o ? o.runner : null;
  try {
    const r = await rounds(e.runner, peer, reps);
    // multiply-adds of the attention: every (b, h, s, t) position times the head dims it sums
    const heads = ['d', 'dv', 'dn', 'dr', 'dc'];
    const work = Object.entries(c.dims).reduce((p, [k, x]) => (heads.includes(k) ? p : p * x), 1) * heads.reduce((sum, k) => sum + (c.dims[k] ?? 0), 0);
    const note = e.f32Fallback ? 'no shader-f16 on this adapter: einattn ran the f16 row in f32 (f16Fallback)' : 'note' in o ? o.note : undefined;
    return {
      ...base,
      einattn: r.e,
      ort: r.o ?? ('runner' in o ? { error: 'no timing' } : o),
      ratio: r.ratio,
      maxDiffOrt: r.oOut ? maxDiff(r.eOut, r.oOut) : null,
      maxDiffInterp: work <= INTERP_LIMIT ? maxDiff(r.eOut, interpret(g, inputs, c.dims).o!.data) : null,
      ...(note ? { note } : {}),
    };
  } catch (err) {
    // a call that fails mid-row ends this row only; the next rows still run
    const error = { error: (err as Error).message };
    return { ...base, einattn: error, ort: error, ratio: null, maxDiffOrt: null, maxDiffInterp: null };
  } finally {
    await peer?.release();
  }
}

function render(b: WebBench): string {
  const ms = (t: WebBenchRow['einattn'] | WebBenchRow['ort']) =>
    'median_ms' in t ? t.median_ms.toPrecision(3) : 'skipped' in t ? `– (${t.skipped})` : `error: ${t.error}`;
  const rows = b.rows.map(
    (r) =>
      `<tr><td>${r.id}</td><td>${ms(r.einattn)}</td><td>${'median_ms' in r.einattn && r.einattn.kernel_ms !== undefined ? r.einattn.kernel_ms.toPrecision(3) : '–'}</td><td>${ms(r.ort)}</td><td>${r.ratio === null ? '–' : r.ratio.toFixed(2)}</td></tr>`,
  );
  return `<table><thead><tr><th>row</th><th>einattn wall ms</th><th>kernel ms</th><th>ORT Web wall ms</th><th>×ORT</th></tr></thead><tbody>${rows.join('')}</tbody></table>${b.error ? `<pre>${b.error}</pre>` : ''}`;
}

/** Loads ONNX Runtime Web and hands it einattn's device, so both run on the same adapter. */
async function loadOrt(rt: Runtime): Promise<typeof OrtWeb> {
  const url = new URL('ort/ort.webgpu.min.mjs', location.href).href;
  const ort = (await import(/* @vite-ignore */ url)) as typeof OrtWeb;
  ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
  ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain local server lacks
  ort.env.webgpu.device = rt.device;
  return ort;
}

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const reps = Number(q.get('reps') ?? 7);
  const only = q.get('only');
  const cases = (q.get('quick') === '1' ? QUICK_CASES : DEFAULT_CASES).filter((c) => !only || c.id.includes(only));
  const b: WebBench = { done: false, error: null, adapter: null, userAgent: navigator.userAgent, ortVersion: '', reps, rows: [] };
  window.einattnBench = b;
  const out = document.getElementById('out')!;
  try {
    const rt = await getRuntime();
    b.adapter = adapterReport(rt);
    document.getElementById('adapter')!.textContent = `${rt.kind}: ${rt.reason}`;
    const ort = await loadOrt(rt);
    b.ortVersion = ort.env.versions.web ?? ort.env.versions.common ?? '';
    for (const c of cases) {
      b.rows.push(await row(ort, c, reps));
      out.innerHTML = render(b);
    }
  } catch (e) {
    b.error = (e as Error).message ?? String(e);
  }
  out.innerHTML = render(b);
  b.done = true;
}

void main();
