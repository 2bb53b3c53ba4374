/** The IR pretty printer. */
import { describe, expect, it } from 'vitest';
import { einsum, graph, index, input, printGraph, where } from '../../src/index.ts';
import { mha } from '../../src/variants/mha.ts';

describe('printGraph', () => {
  it('prints causal MHA one node per line, with sizes and local numbering', () => {
    expect(printGraph(mha({ causal: true }))).toMatchInlineSnapshot(`
      "graph mha_causal(q: f32[b h s d], k: f32[b h t d], v: f32[b h t dv])
        sizes: b h s d t dv
        %0: f32[b h s t] = einsum('b h s d, b h t d -> b h s t', q, k)
        %1: f32[] = f32(|d|)
        %2: f32[] = rsqrt(%1)
        %3: f32[b h s t] = %0 * %2
        %4: i32[] = |t| - |s|
        %5: i32[s] = s + %4
        %6: bool[t s] = t <= %5
        %7: f32[b h s t] = softmax(%3, 't', mask=%6)
        %8: f32[b h s dv] = einsum('b h s t, b h t dv -> b h s dv', %7, v)
        return o = %8: f32[b h s dv]"
    `);
  });

  it('numbers nodes locally, so building other graphs first does not change the text', () => {
    const before = printGraph(mha({ causal: true }));
    for (let i = 0; i < 3; i++) graph('noise', { o: input('x', 'i').exp() });
    expect(printGraph(mha({ causal: true }))).toBe(before);
  });

  it('prints views, gather, reductions, static sizes and size equations', () => {
    const pages = input('pages', 'p blk d');
    const table = input('table', 'b m', 'i32');
    const kv = pages.gather('p', table).merge('m blk', 't');
    const q = input('q', 'b h d').split('h', 'g r');
    const s = einsum('b g r d, b t d -> b g r t', q, kv);
    const w = where(index('t').lt(3), s, -Infinity).softmax('t', { sink: 0.5 });
    const g = graph('paged', { o: w.max('t').transpose('r g b'), z: w.sum('g r').rename('t', 'u') }, { sizes: { d: 4 } });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "graph paged(pages: f32[p blk d], table: i32[b m], q: f32[b h d])
        sizes: p blk d=4 b m t h g r u
        where t = m * blk
        where h = g * r
        where u = t
        %0: f32[b m blk d] = gather(pages, 'p', table)
        %1: f32[b t d] = merge(%0, 'm blk -> t')
        %2: f32[b g r d] = split(q, 'h -> g r')
        %3: f32[b g r t] = einsum('b g r d, b t d -> b g r t', %2, %1)
        %4: bool[t] = t < 3
        %5: f32[b g r t] = where(%4, %3, -Infinity)
        %6: f32[b g r t] = softmax(%5, 't', sink=0.5)
        %7: f32[b g r] = max(%6, 't')
        %8: f32[r g b] = transpose(%7, 'r g b')
        %9: f32[b t] = sum(%6, 'g r')
        %10: f32[b u] = rename(%9, 't -> u')
        return o = %8: f32[r g b]
        return z = %10: f32[b u]"
    `);
  });
});
