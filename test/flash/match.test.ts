/** The attention pattern matcher and what the flash lowering puts in the plan (no GPU). */
import { describe, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { einsum, EinattnError, graph, input } from '../../src/index.ts';
import { explain, findFlash, lower } from '../../src/lower/index.ts';
import { mha } from '../../src/variants/index.ts';
import { build, type Variant } from './attention.ts';

const base: Variant = { layout: 'mha', mask: 'none', mod: 'scale', sink: false, lse: false, epilogue: false };

describe('the pattern', () => {
  test('MHA becomes one kernel; causal adds only the tiny block-mask kernel; no s×t buffer exists', () => {
    expect(lower(mha()).kernels.map((k) => k.name)).toEqual(['mha_0_flash']);
    const causal = lower(mha({ causal: true }));
    expect(causal.kernels.map((k) => k.name)).toEqual(['mha_causal_0_flash_blocks', 'mha_causal_0_flash']);
    for (const b of causal.buffers) expect(b.axes.includes('s') && b.axes.includes('t'), b.name).toBe(false);
    expect(compile(mha()).plan.kernels).toHaveLength(1);
  });

  test('roles come from structure, not names: renamed axes, GQA, MQA, extra batch axes', () => {
    const roles = (v: Variant) => {
      const [m] = findFlash(build(v)).matches;
      return m && { kv: m.kv, qk: m.scores.map((c) => c.qkDims), v: m.vDims, batch: m.batch, rows: m.rows };
    };
    expect(roles({ ...base, layout: 'named' })).toEqual({ kv: 'j', qk: [['e']], v: ['f'], batch: ['z', 'n'], rows: ['i'] });
    expect(roles({ ...base, layout: 'gqa' })).toEqual({ kv: 't', qk: [['d']], v: ['dv'], batch: ['b', 'g'], rows: ['r', 's'] });
    expect(roles({ ...base, layout: 'mqa' })).toEqual({ kv: 't', qk: [['d']], v: ['dv'], batch: ['b'], rows: ['h', 's'] });
    expect(roles({ ...base, layout: 'bhg' })).toEqual({ kv: 't', qk: [['d']], v: ['dv'], batch: ['b', 'h', 'x'], rows: ['s'] });
  });

  test('score mods, masks, sinks, lse outputs and epilogues all stay inside the flash kernel', () => {
    for (const mask of ['window', 'document', 'blocksparse'] as const)
      for (const mod of ['alibi', 'softcap'] as const) {
        const g = build({ layout: 'named', mask, mod, sink: true, lse: true, epilogue: true });
        const plan = lower(g);
        expect(plan.kernels.map((k) => k.name.replace(/^.*_0_/, ''))).toEqual(['flash_blocks', 'flash']);
        expect(
          plan.buffers
            .filter((b) => b.role === 'output')
            .map((b) => b.name)
            .sort(),
        ).toEqual(['lse', 'o']);
      }
  });

  test('explain names the kernels, the einsums, the mask and the schedule', () => {
    const text = explain(lower(mha({ causal: true })));
    expect(text).toContain('kernel 2 mha_causal_0_flash:');
    expect(text).toContain("scores = (einsum('b h s d, b h t d -> b h s t', q, k)");
    expect(text).toContain('mask = (t <= (s + (|t| - |s|)))');
    expect(text).toMatch(/schedule: \d+ rows x \d+ invocations per workgroup .* online softmax/);
  });

  test('flash: false gives the unfused lowering; the split option adds partial + merge kernels', () => {
    expect(lower(mha(), { flash: false }).kernels).toHaveLength(3);
    expect(lower(mha(), { flashSchedule: { split: 4 } }).kernels.map((k) => k.name)).toEqual(['mha_0_flash_partial', 'mha_0_flash_merge']);
  });
});

describe('flash: true names why a graph does not match', () => {
  const expectMiss = (g: ReturnType<typeof graph>, text: string) => {
    const err = (() => {
      try {
        lower(g, { flash: true });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(EinattnError);
    expect((err as EinattnError).code).toBe('LOWERING');
    expect((err as EinattnError).message).toContain(text);
  };
  const q = input('q', 'b s d');
  const k = input('k', 'b t d');
  const v = input('v', 'b t e');

  test('no softmax at all', () => expectMiss(graph('plain', { o: einsum('b s d, b t d -> b s t', q, k) }), 'has no contraction of a softmax'));
  test('the scores are also an output', () => {
    const s = einsum('b s d, b t d -> b s t', q, k);
    expectMiss(graph('leak', { o: einsum('b s t, b t e -> b s e', s.softmax('t'), v), s }), 'must be materialised');
  });
  test('the softmax is over an axis the value contraction does not sum', () => {
    const p = einsum('b s d, b t d -> b s t', q, k).softmax('s');
    expectMiss(graph('wrongaxis', { o: einsum('b s t, b t e -> b s e', p, v) }), "the contraction keeps the softmax axis 's' instead of summing it");
  });
  test('a data-dependent mask', () => {
    const s = einsum('b s d, b t d -> b s t', q, k);
    expectMiss(graph('datamask', { o: einsum('b s t, b t e -> b s e', s.softmax('t', { mask: s.gt(0) }), v) }), 'the mask depends on the scores');
  });
});

test('specialized head dims are literals, and other values are a SIZE_CONFLICT', () => {
  const plan = lower(mha(), { specialize: { d: 64, dv: 64 } });
  expect(plan.staticSizes).toEqual({ d: 64, dv: 64 });
  expect(plan.kernels[0]!.uniforms).not.toContain('d');
  expect(plan.kernels[0]!.wgsl).toContain('array<f32, 64>');
});
