/** MHA, MQA, GQA (with every mask and score mod), Linformer and RoPE on the GPU against the interpreter. */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { einsum, graph, input, rope, type Graph } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { gqa, linformer, mha, mqa, type AttentionOptions } from '../../src/variants/index.ts';
import { count, groupedDimsArb, optionsArb } from './arbitraries.ts';
import { expectGpuMatch } from './gpu.ts';
import { modInputs, randInt, randn, rng } from './reference.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

function inputsFor(g: Graph, dims: Record<string, number>, seed: number): Record<string, ArrayLike<number>> {
  const r = rng(seed);
  const mods = modInputs(
    r,
    dims as never,
    g.inputs.map((i) => i.name),
  );
  return Object.fromEntries(g.inputs.map((i) => [i.name, mods[i.name] ?? randn(r, count(i.axes, dims))]));
}

/** Shapes a bit larger than the interpreter tests use, so tiles have ragged edges. */
const gpuDimsArb = groupedDimsArb.chain((d) =>
  fc
    .record({ s: fc.integer({ min: 1, max: 9 }), t: fc.integer({ min: 1, max: 13 }), d: fc.integer({ min: 1, max: 9 }), dv: fc.integer({ min: 1, max: 6 }) })
    .map((x) => ({ ...d, ...x })),
);

describe('the GQA family on the GPU', () => {
  const families: [string, (o: AttentionOptions) => Graph][] = [
    ['mha', mha],
    ['mqa', mqa],
    ['gqa', gqa],
  ];
  for (const [name, build] of families) {
    test(`${name} with random options and shapes`, async () => {
      await fc.assert(
        fc.asyncProperty(gpuDimsArb, optionsArb, fc.integer(), async (dims, opts, seed) => {
          const g = build(opts);
          await expectGpuMatch(g, inputsFor(g, dims, seed), dims);
        }),
        { numRuns: 6 },
      );
    });
  }

  test('each option alone (causal, window, softcap, alibi, sink, prefix, segments, stride, cache)', async () => {
    const dims = { b: 2, h: 4, g: 2, s: 6, t: 11, d: 8, dv: 5 };
    const each: AttentionOptions[] = [
      { causal: true },
      { causal: true, window: 3 },
      { softcap: 2 },
      { alibi: true, causal: true },
      { sink: true },
      { prefix: true },
      { segments: true },
      { causal: true, stride: 3 },
      { cache: true, causal: true },
    ];
    for (const [i, opts] of each.entries()) {
      const g = gqa(opts);
      await expectGpuMatch(g, inputsFor(g, dims, i), dims);
    }
  });
});

describe('Linformer on the GPU', () => {
  test('separate and shared projections', async () => {
    for (const [i, shared] of [false, true].entries()) {
      const g = linformer({ shared });
      const dims = { b: 2, h: 3, s: 7, t: 13, p: 5, d: 8, dv: 6 };
      await expectGpuMatch(g, inputsFor(g, dims, i), dims);
    }
  });
});

describe('RoPE on the GPU', () => {
  test('both conventions, positions from the axis or from a tensor', async () => {
    const dims = { b: 2, h: 3, s: 9, d: 10 };
    for (const style of ['half', 'interleaved'] as const) {
      const x = input('x', 'b h s d');
      const pos = input('pos', 'b s', 'i32');
      const g = graph(`rope_${style}`, { byAxis: rope(x, { style }), byTensor: rope(x, { style, pos }) });
      const r = rng(style.length);
      await expectGpuMatch(g, { x: randn(r, 2 * 3 * 9 * 10), pos: randInt(r, 18, 0, 64) }, dims);
    }
  });

  test('rotated queries and keys into causal attention (materialised first, see docs/VARIANTS.md#rope)', async () => {
    // a one-operand einsum copies the rotated tensor: its own kernel, then plain loads
    const q = einsum('b h s d -> b h s d', rope(input('q', 'b h s d')));
    const k = einsum('b h t d -> b h t d', rope(input('k', 'b h t d'), { pos: 't' }));
    const p = einsum('b h s d, b h t d -> b h s t', q, k).mul(0.25).softmax('t');
    const g = graph('rope_attention', { o: einsum('b h s t, b h t dv -> b h s dv', p, input('v', 'b h t dv')) });
    const dims = { b: 1, h: 2, s: 7, t: 7, d: 16, dv: 4 };
    const r = rng(7);
    await expectGpuMatch(g, { q: randn(r, 224), k: randn(r, 224), v: randn(r, 56) }, dims);
  });

  test('rotated queries and keys fused into attention: the partner gather on the head axis stays inside the contraction loop', async () => {
    const q = rope(input('q', 'b h s d'));
    const k = rope(input('k', 'b h t d'), { pos: 't' });
    const p = einsum('b h s d, b h t d -> b h s t', q, k).mul(0.25).softmax('t');
    const g = graph('rope_fused', { o: einsum('b h s t, b h t dv -> b h s dv', p, input('v', 'b h t dv')) });
    const dims = { b: 1, h: 2, s: 7, t: 7, d: 16, dv: 4 };
    const r = rng(8);
    const x = { q: randn(r, 224), k: randn(r, 224), v: randn(r, 56) };
    // flash with head dims as uniforms and as literals (Q cached), and the unfused contraction kernels
    for (const opts of [{}, { specializeHeadDims: true }, { flash: false }, { flash: false, shared: true }])
      await expectGpuMatch(g, x, dims, { compile: opts });
  });
});
