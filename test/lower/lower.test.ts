/** The lowering's structure: fusion groups, size rules, names, and readable WGSL. */
import { describe, expect, test } from 'vitest';
import { einsum, graph, input, size } from '../../src/index.ts';
import { explain, groupKernels, lower, planSizes } from '../../src/lower/index.ts';
import { mha } from '../../src/variants/index.ts';

describe('fusion', () => {
  test('MHA becomes three kernels: scores with the scale fused, masked softmax, P·V', () => {
    const plan = lower(mha({ causal: true }), { flash: false }); // the fused path: test/flash
    expect(plan.kernels.map((k) => k.name)).toEqual(['mha_causal_0_einsum', 'mha_causal_1_softmax', 'mha_causal_2_einsum']);
    expect(plan.kernels[0]!.wgsl).toContain('inverseSqrt');
    expect(plan.kernels[1]!.wgsl).toContain('<='); // the causal mask is inlined, never a buffer
    expect(plan.buffers.filter((b) => b.role === 'temp').map((b) => b.axes.join(' '))).toEqual(['b h s t', 'b h s t']);
  });

  test('elementwise chains, views and index math are inlined; only heavy nodes and outputs get kernels', () => {
    const a = input('a', 'i k');
    const b = input('b', 'k j');
    const c = einsum('i k, k j -> i j', a.mul(2).tanh(), b.transpose('j k').transpose('k j')).add(1).exp();
    const g = graph('chain', { c, t: a.transpose('k i').add(size('i')) });
    const groups = groupKernels(g);
    expect(groups.map((x) => [x.core?.op ?? 'map', x.output])).toEqual([
      ['einsum', 'c'],
      ['map', 't'],
    ]);
  });

  test('a sum of two contractions: one claims the add, the other is materialised', () => {
    const x = input('x', 'i k');
    const y = input('y', 'k j');
    const g = graph('two', { o: einsum('i k, k j -> i j', x, y).add(einsum('i k, k j -> i j', x, y.mul(2))) });
    expect(groupKernels(g).map((k) => k.core?.op)).toEqual(['einsum', 'einsum']);
    expect(lower(g).buffers.filter((b) => b.role === 'temp')).toHaveLength(1);
  });
});

describe('sizes', () => {
  test('GQA: r is derived from h and g, with a divisibility constraint', () => {
    const q = input('q', 'b h s d').split('h', 'g r');
    const k = input('k', 'b g t d');
    const g = graph('gqa_scores', { o: einsum('b g r s d, b g t d -> b g r s t', q, k) });
    const p = planSizes(g);
    expect(p.dynamicSizes).toEqual(['b', 'h', 's', 'd', 'g', 't']);
    expect(p.derivedSizes).toEqual([{ name: 'r', expr: ['div', 'h', ['*', 1, 'g']] }]);
    expect(p.constraints[0]!.what).toContain('divisible by g');
  });

  test('static sizes are baked into the WGSL as literals', () => {
    const plan = lower(mha(), {});
    const fixed = lower(graph('fixed', { o: einsum('s d, t d -> s t', input('q', 's d'), input('k', 't d')) }, { sizes: { d: 8 } }));
    expect(fixed.kernels[0]!.wgsl).toContain('_d < 8u');
    expect(fixed.kernels[0]!.uniforms).not.toContain('d');
    expect(plan.kernels[0]!.uniforms).toContain('d');
  });
});

describe('names', () => {
  test('axes named like internal variables get distinct internal names', () => {
    const x = input('x', 'gid rest sz');
    const y = input('y', 'sz acc00');
    const g = graph('clash', { o: einsum('gid rest sz, sz acc00 -> gid acc00', x, y) });
    const w = lower(g).kernels[0]!.wgsl;
    expect(w).toContain('let _gid_ =');
    expect(w).toMatch(/var<uniform> _sz_: _Sizes/);
    expect(w).toContain('var _acc00_: f32');
  });

  test('tile rows of an axis never share a name with the values of the kernel', () => {
    // axis 'v' has tile rows _v0.._v3, and the lets of values are _v<counter> too
    const x = input('x', 'b s e');
    const logits = einsum('b s e, e v -> b s v', x.mul(x.mul(x).sum('e').rsqrt()), input('w', 'e v'));
    for (const k of lower(graph('vocab', { logits })).kernels) {
      const names = [...k.wgsl.matchAll(/\b(?:let|var) (\w+)/g)].map((m) => m[1]);
      expect(names.length).toBeGreaterThan(4);
      expect(new Set(names).size, k.wgsl).toBe(names.length);
    }
  });

  test('a tensor named like a WGSL built-in gets another WGSL variable, keeping its plan name', () => {
    const g = graph('shadow', { max: input('exp', 'i').exp().max('i') });
    const plan = lower(g);
    expect(plan.buffers.map((b) => b.name)).toEqual(['exp', 'max']);
    expect(plan.kernels[0]!.bindings.map((b) => b.buffer)).toEqual(['exp', 'max']);
    expect(plan.kernels[0]!.wgsl).toContain('var<storage, read> _exp_buf: array<f32>;');
    expect(plan.kernels[0]!.wgsl).toContain('exp(_exp_buf');
  });

  test('bad tile options are usage errors', () => {
    expect(() => lower(mha(), { tile: [0, 4] })).toThrow(/tile must be two integers/);
  });
});

test('the generated WGSL is readable: header with the einsum and schedule, DSL names', () => {
  const a = input('a', 'i k');
  const b = input('b', 'k j');
  const g = graph('matmul', { c: einsum('i k, k j -> i j', a, b).mul(0.5) }, { sizes: { k: 3 } });
  const plan = lower(g, { tile: [1, 2] });
  expect(plan.kernels[0]!.wgsl).toMatchInlineSnapshot(`
    "// einattn kernel matmul_0_einsum (graph 'matmul', kernel 1)
    // c[i j] = (einsum('i k, k j -> i j', a, b) * 0.5)
    // schedule: register tile 1x2 over (i, j), loop over (k), one tile per invocation, 64 per workgroup

    struct _Sizes { i: u32, j: u32 }
    @group(0) @binding(0) var<storage, read> a: array<f32>;
    @group(0) @binding(1) var<storage, read> b: array<f32>;
    @group(0) @binding(2) var<storage, read_write> c: array<f32>;
    @group(0) @binding(3) var<uniform> _sz: _Sizes;

    @compute @workgroup_size(64)
    fn matmul_0_einsum(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.i * ((_sz.j + 1u) / 2u)) { return; }
      var _rest = _gid;
      let _j_tile = _rest % ((_sz.j + 1u) / 2u);
      _rest = _rest / ((_sz.j + 1u) / 2u);
      let _i0 = _rest;
      let _j0 = min(_j_tile * 2u, _sz.j - 1u);
      let _j1 = min(_j_tile * 2u + 1u, _sz.j - 1u);
      var _acc00: f32 = 0.0;
      var _acc01: f32 = 0.0;
      for (var _k: u32 = 0u; _k < 3u; _k++) {
        let _a0 = a[_i0 * 3u + _k];
        let _b1 = b[_k * _sz.j + _j0];
        let _b2 = b[_k * _sz.j + _j1];
        _acc00 += _a0 * _b1;
        _acc01 += _a0 * _b2;
      }
      if (_j_tile * 2u < _sz.j) {
        let _v3 = (_acc00 * 0.5);
        c[_i0 * _sz.j + _j0] = _v3;
      }
      if (_j_tile * 2u + 1u < _sz.j) {
        let _v4 = (_acc01 * 0.5);
        c[_i0 * _sz.j + _j1] = _v4;
      }
    }
    "
  `);
  expect(explain(plan)).toMatchInlineSnapshot(`
    "plan 'matmul': 1 kernel
      sizes: given i j; fixed k=3
      input  a: f32[i k]
      input  b: f32[k j]
      output c: f32[i j]
      kernel 1 matmul_0_einsum:
        c[i j] = (einsum('i k, k j -> i j', a, b) * 0.5)
        schedule: register tile 1x2 over (i, j), loop over (k), one tile per invocation, 64 per workgroup"
  `);
});
