/** Every variant, run by the interpreter, against an independent loop implementation. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { interpret, resolveSizes, type Graph } from '../../src/index.ts';
import { findVariant, gqa, linformer, mha, mla, mqa, paged, variants } from '../../src/variants/index.ts';
import { ZOO } from './zoo-reference.ts';
import { count, groupedDimsArb, mlaDimsArb, optionsArb, pagedDimsArb } from './arbitraries.ts';
import { expectClose, modInputs, randInt, randn, refGrouped, refLinformer, refMla, refPaged, rng } from './reference.ts';

/** Random values for every input of `g` at `dims`; option inputs via {@link modInputs}. */
function inputsFor(g: Graph, dims: Record<string, number>, seed: number, fixed: Record<string, ArrayLike<number>> = {}) {
  const r = rng(seed);
  const mods = modInputs(
    r,
    dims as never,
    g.inputs.map((i) => i.name),
  );
  const out: Record<string, ArrayLike<number>> = {};
  for (const i of g.inputs)
    out[i.name] = fixed[i.name] ?? mods[i.name] ?? (i.dtype === 'i8' ? randInt(r, count(i.axes, dims), -127, 127) : randn(r, count(i.axes, dims)));
  return out;
}

/** The sizes of `dims` that `g` uses (the generators make a few more). */
function dimsOf(g: Graph, dims: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k)));
}

describe('the GQA family against loops', () => {
  const families = { mha: [mha, (d: { h: number }) => d.h], gqa: [gqa, (d: { g: number }) => d.g], mqa: [mqa, () => 1] } as const;
  for (const [name, [build, kvHeads]] of Object.entries(families)) {
    test(`${name}: any combination of causal, window, softcap, ALiBi, sinks, prefix-LM, segments, stride, cache, scale`, () => {
      fc.assert(
        fc.property(groupedDimsArb, optionsArb, fc.integer(), (dims, opts, seed) => {
          const g = build(opts);
          const x = inputsFor(g, dims, seed);
          const got = interpret(g, x, dimsOf(g, dims)).o!;
          expect(got.axes).toEqual(['b', 'h', 's', 'dv']);
          expectClose(got.data, refGrouped(dims, kvHeads(dims as never), x.q!, x.k!, x.v!, opts, x), 1e-9);
        }),
        { numRuns: 150 },
      );
    });
  }

  test('causal is aligned to the end when s < t; a row with no visible key is zeros (s > t)', () => {
    const dims = { b: 1, h: 1, s: 3, t: 2, d: 1, dv: 1 };
    // query positions are s + t - S = -1, 0, 1: the first sees no key
    const o = interpret(mha({ causal: true }), { q: [1, 1, 1], k: [0, 0], v: [2, 4] }, dims).o!;
    expect(Array.from(o.data)).toEqual([0, 2, 3]);
  });

  test('the cache option: keys at t >= kv_len[b] are ignored, positions end at kv_len[b]', () => {
    const g = mha({ causal: true, cache: true });
    const dims = { b: 2, h: 1, s: 1, t: 4, d: 1, dv: 1 };
    const o = interpret(g, { q: [0, 0], k: [0, 0, 0, 0, 0, 0, 0, 0], v: [1, 2, 3, 100, 1, 2, 3, 4], kv_len: [3, 0] }, dims).o!;
    expect(Array.from(o.data)).toEqual([2, 0]); // mean of 1,2,3; an empty cache gives zeros
  });
});

describe('MLA against loops', () => {
  test('naive and absorbed, with and without the RoPE part, any mask options', () => {
    fc.assert(
      fc.property(mlaDimsArb, optionsArb, fc.boolean(), fc.boolean(), fc.integer(), (dims, opts, absorbed, rope, seed) => {
        const g = mla({ ...opts, absorbed, rope });
        const x = inputsFor(g, dims, seed);
        expect(g.inputs.map((i) => i.name).filter((n) => n.includes('rope'))).toEqual(rope ? ['q_rope', 'k_rope'] : []);
        expectClose(interpret(g, x, dimsOf(g, dims)).o!.data, refMla(dims, x, { ...opts, rope }, x), 1e-9);
      }),
      { numRuns: 120 },
    );
  });

  test('inputs follow the DeepSeek-V2 layout', () => {
    const g = mla();
    expect(g.inputs.map((i) => `${i.name}[${i.axes.join(' ')}]`)).toEqual([
      'q_nope[b h s dn]',
      'q_rope[b h s dr]',
      'c_kv[b t dc]',
      'k_rope[b t dr]',
      'w_uk[dc h dn]',
      'w_uv[dc h dv]',
    ]);
    expect(g.outputs[0]!.node.axes).toEqual(['b', 'h', 's', 'dv']);
  });
});

describe('paged GQA against loops', () => {
  test('any block size, block tables with repeats, ragged kv_len, any mask options', () => {
    fc.assert(
      fc.property(pagedDimsArb, optionsArb, fc.integer(), (dims, opts, seed) => {
        const { cache: _, ...o } = opts;
        const g = paged(o);
        const r = rng(seed);
        const cap = dims.m * dims.blk;
        const x = inputsFor(g, { ...dims, t: cap }, seed, {
          block_table: randInt(r, dims.b * dims.m, 0, dims.n - 1),
          kv_len: randInt(r, dims.b, 0, cap),
        });
        expectClose(interpret(g, x, dims).o!.data, refPaged(dims, x, o, x), 1e-9);
      }),
      { numRuns: 120 },
    );
  });
});

describe('Linformer against loops', () => {
  test('separate and shared projections', () => {
    fc.assert(
      fc.property(groupedDimsArb, fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.integer(), (d, p, shared, seed) => {
        const dims = { ...d, p };
        const g = linformer({ shared });
        const x = inputsFor(g, dims, seed);
        expect('f' in x).toBe(!shared);
        expectClose(interpret(g, x, dimsOf(g, dims)).o!.data, refLinformer(dims, x, shared), 1e-9);
      }),
      { numRuns: 60 },
    );
  });
});

describe('the registry', () => {
  test('every variant builds with its defaults and runs on its check dims', () => {
    expect(variants.map((v) => v.name)).toEqual(['mha', 'mqa', 'gqa', 'gqa_int8', 'mla', 'mla_decode', 'paged', 'linformer', ...ZOO]);
    for (const v of variants) {
      const g = v.build();
      const dims = { ...v.dims.check };
      const sizes = { ...dims, t: dims.t ?? dims.m! * dims.blk! };
      const x = inputsFor(g, sizes, 1, v.name === 'paged' ? { block_table: randInt(rng(2), dims.b! * dims.m!, 0, dims.n! - 1) } : {});
      const o = interpret(g, x, dims).o!;
      expect(o.data.every(Number.isFinite), v.name).toBe(true);
      expect(v.kvBytesPerToken(v.dims.bench, 2)).toBeGreaterThan(0);
    }
  });

  test('bench dims stay modest (≤ 1e8 multiply-adds in the largest contraction chain) so npm start stays quick', () => {
    for (const v of variants) {
      const g = v.build();
      let work = 0;
      const dims = resolveSizes(g, v.dims.bench);
      for (const n of g.nodes) if (n.op === 'einsum') work += [...new Set(n.operands.flatMap((x) => x.axes).concat(n.axes))].reduce((p, a) => p * dims[a]!, 1);
      expect(work, v.name).toBeLessThanOrEqual(1e8);
    }
  });

  test('options are declared with their defaults; mla_decode defaults to the absorbed cached form', () => {
    expect(Object.keys(findVariant('gqa')!.options)).toEqual(
      expect.arrayContaining(['causal', 'window', 'softcap', 'alibi', 'sink', 'prefix', 'segments', 'stride', 'cache']),
    );
    expect(findVariant('mla_decode')!.build().name).toBe('mla_absorbed_causal_cache');
    expect(findVariant('paged')!.options.cache).toBeUndefined();
  });
});

describe('int8 KV caches in the interpreter', () => {
  test('gqa and mqa with int8: k_q · k_scale read as K; equal to the f32 graph on the dequantised cache', () => {
    fc.assert(
      fc.property(groupedDimsArb, fc.boolean(), fc.integer(), (dims, causal, seed) => {
        for (const [build, kvAxes] of [
          [gqa, 'b g t'],
          [mqa, 'b t'],
        ] as const) {
          const g8 = build({ int8: true, causal, cache: true });
          const g32 = build({ causal, cache: true });
          const x = inputsFor(g8, dims, seed);
          const deq = (name: string, dim: 'd' | 'dv') => {
            const per = dims[dim];
            return Float64Array.from(x[`${name}_q`]!, (v, i) => v * x[`${name}_scale`]![Math.floor(i / per)]!);
          };
          expect(count(kvAxes.split(' '), dims) * dims.d).toBe(x.k_q!.length);
          const want = interpret(g32, { q: x.q!, k: deq('k', 'd'), v: deq('v', 'dv'), kv_len: x.kv_len! }, dimsOf(g32, dims)).o!.data;
          expectClose(interpret(g8, x, dimsOf(g8, dims)).o!.data, want, 1e-12);
        }
      }),
      { numRuns: 40 },
    );
  });

  test('an i8 input holds integers in -128..127; the message names the input', () => {
    const g = gqa({ int8: true });
    const dims = { b: 1, h: 2, g: 1, s: 1, t: 2, d: 2, dv: 2 };
    const x = inputsFor(g, dims, 1);
    expect(() => interpret(g, { ...x, k_q: [1, 2, 128, 0] }, dims)).toThrow(/input 'k_q' is i8 \(integers -128\.\.127\) but value 2 is 128/);
  });
});
