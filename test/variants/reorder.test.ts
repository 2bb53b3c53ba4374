/** The contraction-order rewrite: MLA's absorbed form derived from the naive one, and the same function for any sizes. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { einsum, graph, input, interpret, printGraph, type Graph, type Node } from '../../src/index.ts';
import { contractionCost, mla, reorderContractions } from '../../src/variants/index.ts';
import { count, mlaDimsArb, optionsArb } from './arbitraries.ts';
import { expectClose, modInputs, randn, rng } from './reference.ts';

/** The einsums of a graph with operand order and intermediate layouts ignored: its contraction structure. */
const structure = (g: Graph) =>
  g.nodes
    .filter((n): n is Extract<Node, { op: 'einsum' }> => n.op === 'einsum')
    .map(
      (n) =>
        `${n.operands
          .map((o) => [...o.axes].sort().join(' '))
          .sort()
          .join(', ')} -> ${[...n.axes].sort().join(' ')}`,
    )
    .sort();

const DEEPSEEK = { dn: 128, dr: 64, dc: 512, dv: 128 };

describe('reorderContractions', () => {
  test('at decode sizes it turns naive MLA into the absorbed form, at prefill sizes it keeps the naive one', () => {
    for (const opts of [{ causal: true, cache: true }, { rope: false }, {}]) {
      const naive = mla(opts);
      const absorbed = mla({ ...opts, absorbed: true });
      const decode = { b: 1, h: 16, s: 1, t: 2048, ...DEEPSEEK };
      const derived = reorderContractions(naive, decode);
      expect(structure(derived)).toEqual(structure(absorbed));
      expect(contractionCost(derived, decode)).toBe(contractionCost(absorbed, decode));
      expect(contractionCost(derived, decode)).toBeLessThan(contractionCost(naive, decode) / 50);
      // prefill: up-projecting K and V once is cheaper than absorbing into every query
      const prefill = { b: 1, h: 16, s: 2048, t: 2048, ...DEEPSEEK };
      expect(printGraph(reorderContractions(naive, prefill))).toBe(printGraph(naive));
      expect(structure(reorderContractions(absorbed, prefill))).toEqual(structure(naive));
    }
  });

  test('the rewritten graph computes the same function, whatever sizes chose the order', () => {
    fc.assert(
      fc.property(mlaDimsArb, mlaDimsArb, optionsArb, fc.boolean(), fc.boolean(), fc.integer(), (dims, chooseAt, opts, absorbed, rope, seed) => {
        const g = mla({ ...opts, absorbed, rope });
        const pick = (d: Record<string, number>) => Object.fromEntries(Object.entries(d).filter(([k]) => g.sizes.includes(k)));
        const re = reorderContractions(g, pick({ ...chooseAt, s: chooseAt.s === 1 ? 1 : 64, t: 64 * chooseAt.t }));
        const r = rng(seed);
        const x: Record<string, ArrayLike<number>> = {
          ...modInputs(
            r,
            dims,
            g.inputs.map((i) => i.name),
          ),
        };
        for (const i of g.inputs) x[i.name] ??= randn(r, count(i.axes, dims));
        expectClose(interpret(re, x, pick(dims)).o!.data, interpret(g, x, pick(dims)).o!.data, 1e-11);
      }),
      { numRuns: 60 },
    );
  });

  test('a matrix chain picks the cheap association, renaming a clashing contracted axis', () => {
    // inner contracts k, the outer einsum has its own k: the inner one is renamed
    const A = input('A', 'i k');
    const B = input('B', 'k j');
    const C = input('C', 'j k');
    const g = graph('chain', { o: einsum('i j, j k -> i k', einsum('i k, k j -> i j', A, B), C) });
    const wide = { i: 64, k: 2, j: 64 }; // A·(B·C) is 64·64·2·… cheaper than (A·B)·C
    const re = reorderContractions(g, wide);
    expect(contractionCost(re, wide)).toBeLessThan(contractionCost(g, wide));
    expect(printGraph(re)).toMatch(/rename/);
    const dims = { i: 3, k: 2, j: 4 };
    const r = rng(5);
    const x = { A: randn(r, 6), B: randn(r, 8), C: randn(r, 8) };
    expectClose(interpret(re, x, dims).o!.data, interpret(g, x, dims).o!.data, 1e-12);
  });
});
