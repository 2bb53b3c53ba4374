/** GPU checks of variant graphs: compile() on the adapter against the float64 interpreter. */
import { expect } from 'vitest';
import { compile, interpret, type Compiled, type Graph } from '../../src/index.ts';

const compiled = new Map<Graph, Compiled>();

/** The graph's sizes out of a larger record (generators make a few more). */
export function dimsOf(g: Graph, dims: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k)));
}

/**
 * Runs `g` on the GPU and in the interpreter and compares every output. The allowed
 * error follows the tour's f32 rule, 1e-5·√L·max(1, |ref|max) + 1e-6, with L the
 * longest reduction (contraction or softmax) in the graph at these sizes.
 */
export async function expectGpuMatch(g: Graph, inputs: Record<string, ArrayLike<number>>, all: Record<string, number>): Promise<void> {
  const dims = dimsOf(g, all);
  const want = interpret(g, inputs, dims);
  let c = compiled.get(g);
  if (!c) compiled.set(g, (c = compile(g)));
  const got = await c.run(inputs, dims);
  const sizes: Record<string, number> = { ...all };
  let L = 1;
  for (const n of g.nodes) {
    if (n.op === 'einsum') {
      const red = [...new Set(n.operands.flatMap((o) => o.axes))].filter((a) => !n.axes.includes(a));
      L = Math.max(L, red.reduce((p, a) => p * (sizes[a] ?? 1), 1));
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
