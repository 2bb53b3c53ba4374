/**
 * The smallest consumer of einattn in a browser: `einattn` (the DSL, the interpreter,
 * compile()) and `einattn/runtime` (on `navigator.gpu`) bundled by esbuild, plus a kernel module
 * generated at build time. Every case runs on WebGPU and is checked against the interpreter
 * in the same page; `window.einattnResults` holds the outcome for the test suite.
 */
import { compile, gqa, interpret, mha, paged, type Graph } from 'einattn';
import { getRuntime, PagedKvCache, Session, upload, zeros, type Runtime } from 'einattn/runtime';
import { mha_causal_64 } from '../../app/generated/index.ts';
import { compare, makeInputs, seeded } from './check.ts';
import { finish, noteAdapter, resultsHtml, startResults, type PageResults } from './results.ts';

const sum = (xs?: number[]) => (xs ? xs.reduce((a, b) => a + b, 0) : null);

/** compile(graph).run on the GPU against interpret(graph) on the same inputs. */
async function prefill(r: PageResults, name: string, g: Graph, dims: Record<string, number>, seed: number): Promise<void> {
  const inputs = makeInputs(g, dims, seed);
  const gpu = await compile(g).run(inputs, dims, { timing: true });
  const ref = interpret(g, inputs, dims).o!;
  r.cases.push({ name, dims, kernelMs: sum(gpu.kernelMs), ...compare(gpu.outputs.o!.data, ref.data, g, dims) });
}

/**
 * Paged decode as an application runs it: a PagedKvCache on the device, a ragged prefill, then
 * steps of one Session each (append the new token in place, attend). The last step's output is
 * checked against the interpreter over the cache read back from the device.
 */
async function pagedDecode(r: PageResults, rt: Runtime): Promise<void> {
  const dims = { b: 2, h: 4, g: 2, s: 1, n: 8, blk: 4, m: 3, d: 8, dv: 8 };
  const rnd = seeded(7);
  const rows = (s: number, w: number) => Float32Array.from({ length: dims.b * dims.g * s * w }, () => rnd() * 2 - 1);
  const cache = new PagedKvCache(rt, { dims });
  await cache.append({ k: rows(9, dims.d), v: rows(9, dims.dv) }, { counts: [5, 9] });
  const g = paged({ causal: true });
  const attend = compile(g);
  const o = zeros(rt, 'f32', 'b h s dv', dims, 'o');
  let q = new Float32Array(0);
  let kernelMs: number | null = null;
  for (let step = 0; step < 2; step++) {
    q = Float32Array.from({ length: dims.b * dims.h * dims.d }, () => rnd() * 2 - 1);
    const session = new Session(rt, { timing: true });
    await cache.append({ k: rows(1, dims.d), v: rows(1, dims.dv) }, { session });
    await attend.run({ q: upload(rt, q, 'b h s d', dims, 'q'), ...cache.inputs }, dims, { session, into: { o } });
    kernelMs = sum((await session.submit()).kernelMs);
  }
  const [kCache, vCache, table, kvLen, got] = await Promise.all([
    cache.pools.k_cache.read(),
    cache.pools.v_cache.read(),
    cache.blockTable.read(),
    cache.kvLen.read(),
    o.read(),
  ]);
  // the table's unused entries are -1 (vLLM's padding), which the kernel never reads and the
  // interpreter, which evaluates every gather, refuses: any valid block stands in for them
  const used = table.map((x) => Math.max(0, x));
  const ref = interpret(g, { q, k_cache: kCache, v_cache: vCache, block_table: used, kv_len: kvLen }, dims).o!;
  r.cases.push({ name: `paged decode (kv_len ${Array.from(kvLen).join(', ')})`, dims, kernelMs, ...compare(got, ref.data, g, dims) });
  cache.destroy();
}

/** A module from `einattn generate` (examples/app/generated): only the runtime, no compiler. */
async function generated(r: PageResults, rt: Runtime): Promise<void> {
  const dims = { b: 1, h: 2, s: 5, t: 7 };
  const full = { ...dims, d: 64, dv: 64 };
  const g = mha({ causal: true });
  const inputs = makeInputs(g, full, 11);
  const out = await mha_causal_64.run(rt, { q: inputs.q as Float32Array, k: inputs.k as Float32Array, v: inputs.v as Float32Array }, dims, { timing: true });
  const ref = interpret(g, inputs, full).o!;
  r.cases.push({ name: 'generated mha_causal_64', dims: full, kernelMs: sum(out.kernelMs), ...compare(out.outputs.o.data as Float32Array, ref.data, g, full) });
}

async function main(): Promise<void> {
  const r = startResults();
  const out = document.getElementById('out')!;
  try {
    const rt = await getRuntime();
    noteAdapter(r, rt);
    await prefill(r, 'mha causal', mha({ causal: true }), { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, 1);
    await prefill(r, 'gqa', gqa(), { b: 2, h: 4, g: 2, s: 5, t: 11, d: 8, dv: 8 }, 2);
    await pagedDecode(r, rt);
    await generated(r, rt);
    finish(r);
  } catch (e) {
    finish(r, e);
  }
  out.innerHTML = resultsHtml(r);
}

void main();
