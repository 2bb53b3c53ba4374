/** GPU checks of variant graphs: compile() on the adapter against the float64 interpreter. */
import { expect } from 'vitest';
import { compile, interpret, type Compiled, type Graph } from '../../src/index.ts';
import type { CompileOptions } from '../../src/compile.ts';

/** per graph, per compile options (as JSON) */
const compiled = new Map<Graph, Map<string, Compiled>>();

/** The graph's sizes out of a larger record (generators make a few more). */
export function dimsOf(g: Graph, dims: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k)));
}

/** Options of {@link expectGpuMatch}. */
export interface GpuMatchOptions {
  /**
   * the interpreter's inputs, when they differ from the GPU's: e.g. the GPU gets NaN in cache
   * slots past kv_len that it must never read, the interpreter (which multiplies masked
   * slots by zero) the same inputs with those slots zeroed
   */
  oracle?: Record<string, ArrayLike<number>>;
  /** options of compile() (schedules …) */
  compile?: CompileOptions;
}

/**
 * Runs `g` on the GPU and in the interpreter and compares every output. The allowed
 * error follows the tour's f32 rule, 1e-5·√L·max(1, |ref|max) + 1e-6, with L the
 * longest reduction (contraction or softmax) in the graph at these sizes.
 */
export async function expectGpuMatch(
  g: Graph,
  inputs: Record<string, ArrayLike<number>>,
  all: Record<string, number>,
  opts: GpuMatchOptions = {},
): Promise<void> {
  const dims = dimsOf(g, all);
  const want = interpret(g, opts.oracle ?? inputs, dims);
  const byOpts = compiled.get(g) ?? new Map<string, Compiled>();
  compiled.set(g, byOpts);
  const key = JSON.stringify(opts.compile ?? {});
  let c = byOpts.get(key);
  if (!c) byOpts.set(key, (c = compile(g, opts.compile)));
  const got = await c.run(inputs, dims);
  const sizes: Record<string, number> = { ...all };
  let L = 1;
  for (const n of g.nodes) {
    if (n.op === 'einsum') {
      const red = [...new Set(n.operands.flatMap((o) => o.axes))].filter((a) => !n.axes.includes(a));
      L = Math.max(
        L,
        red.reduce((p, a) => p * (sizes[a] ?? 1), 1),
      );
    }
    if (n.op === 'softmax') L = Math.max(L, sizes[n.axis] ?? 1);
  }
  for (const [name, w] of Object.entries(want)) {
    const o = got.outputs[name]!;
    expect(o.shape, name).toEqual(w.shape);
    let err = 0;
    let ref = 0;
    for (let i = 0; i < w.data.length; i++) {
      const d = Math.abs(w.data[i]! - o.data[i]!);
      err = Number.isNaN(d) ? Infinity : Math.max(err, d);
      ref = Math.max(ref, Math.abs(w.data[i]!));
    }
    expect(err, `${g.name}: output ${name} at ${JSON.stringify(dims)}`).toBeLessThanOrEqual(1e-5 * Math.sqrt(L) * Math.max(1, ref) + 1e-6);
  }
}
