// What is not fused, and why: s×t temporaries in plans, explain(), compile(g, { fused: 'require' }).
import { describe, expect, test } from 'vitest';
import { compile, EinattnError, einsum, graph, index, input, size, softmax, where } from '../../src/index.ts';
import { explain, lower, scoreAxes, unfusedReason } from '../../src/lower/index.ts';
import { findVariant, gqa, mha, mla } from '../../src/variants/index.ts';

const caught = (f: () => unknown): EinattnError => {
  try {
    f();
  } catch (e) {
    if (e instanceof EinattnError) return e;
    throw e;
  }
  throw new Error('did not throw');
};

/** attention whose probabilities are also an output: the flash matcher rejects it */
function probsOut() {
  const q = input('q', 'b s d');
  const k = input('k', 'b t d');
  const v = input('v', 'b t dv');
  const p = softmax(einsum('b s d, b t d -> b s t', q, k), 't');
  return graph('probs_out', { o: einsum('b s t, b t dv -> b s dv', p, v), p });
}

/** exp(q·k)·v: an attention map with no softmax, which no flash kernel covers */
function expAttention() {
  const q = input('q', 'b s d');
  const k = input('k', 'b t d');
  const v = input('v', 'b t dv');
  return graph('exp_attn', { o: einsum('b s t, b t dv -> b s dv', einsum('b s d, b t d -> b s t', q, k).exp(), v) });
}

describe('query and key axes', () => {
  test('the key axis is the softmax axis; query axes are the score axes no K/V-side tensor has', () => {
    expect(scoreAxes(mha()).map((r) => `${r.query.join(' ')} × ${r.key}`)).toEqual(['s × t', 's × t']);
    // GQA: k [b g t d], the scores [b g r s t]: r and s are query axes, g is on K
    expect(new Set(scoreAxes(gqa()).map((r) => `${r.query.join(' ')} × ${r.key}`))).toEqual(new Set(['r s × t']));
    // MLA, naive: K is up-projected [b h t dn] and k_rope [b t dr] has no h; h is on K, so only s is a query axis
    expect(new Set(scoreAxes(mla()).map((r) => r.query.join(' ')))).toEqual(new Set(['s']));
  });

  test("an index-built operand has no query axes: block means of K (MoBA's gate) are not s×t", () => {
    const k = input('k', 'b t d');
    const q = input('q', 'b s d');
    const onehot = where(index('t').div(size('blk')).eq(index('m')), 1, 0);
    const kmean = einsum('b t d, t m -> b m d', k, onehot).div(size('blk'));
    const gate = einsum('b s d, b m d -> b s m', q, kmean);
    expect(scoreAxes(graph('gate', { gate })).map((r) => `${r.query.join(' ')} × ${r.key}`)).toEqual([]);
  });

  test('a chain of plain contractions has no key axis (a projection is not attention)', () => {
    const a = input('a', 'i k');
    const b = input('b', 'k j');
    const c = input('c', 'j l');
    expect(scoreAxes(graph('chain', { o: einsum('i j, j l -> i l', einsum('i k, k j -> i j', a, b), c) }))).toEqual([]);
  });
});

describe('plans record what was not fused', () => {
  test('fused built-ins have no unfused part, and compile with fused: require', () => {
    for (const name of [
      'mha',
      'mqa',
      'gqa',
      'gqa_int8',
      'mla',
      'mla_decode',
      'paged',
      'linformer',
      'diff',
      'sigmoid',
      'linear',
      'relbias',
      'fox',
      'qknorm',
      'moba',
    ]) {
      const v = findVariant(name)!;
      const plan = lower(v.build(), { dims: v.dims.bench });
      expect(plan.unfused, name).toBeUndefined();
      expect(explain(plan), name).not.toContain('not fused');
      expect(() => compile(v.build(), { fused: 'require' }), name).not.toThrow();
    }
  });

  test('flash: false leaves two [b h s t] temporaries, and says so', () => {
    const plan = lower(mha(), { flash: false });
    expect(plan.unfused!.temps.map((t) => [t.buffer, t.key, t.query.join(' ')])).toEqual([
      ['_einsum0', 't', 's'],
      ['_softmax1', 't', 's'],
    ]);
    const text = explain(plan);
    expect(text).toContain(
      '  not fused:\n    temporary _einsum0: f32[b h s t] holds query axis s and key axis t:\n      flash: false asks for the unfused lowering',
    );
    // the unfused MLA keeps its projections of K and V ([b h t dn], [b t h dv]): only the scores' temporaries are reported
    const naive = lower(mla(), { flash: false });
    for (const t of naive.unfused!.temps) expect(naive.buffers.find((b) => b.name === t.buffer)!.axes).toContain('s');
  });

  test("a rejected softmax · V contraction: the matcher's reason, for the temporary and in explain()", () => {
    const plan = lower(probsOut());
    expect(plan.unfused!.temps).toHaveLength(1);
    const [t] = plan.unfused!.temps;
    expect(t!.reasons).toEqual([expect.stringMatching(/^einsum\('b s t, b t dv -> b s dv', p, v\): the softmax is also used elsewhere/)]);
    expect(explain(plan)).toMatch(/temporary _einsum0: f32\[b s t\] holds query axis s and key axis t:\n {6}einsum\(.*the softmax is also used elsewhere/);
  });

  test('an attention map without a softmax: the contraction that sums the key axis is named', () => {
    const plan = lower(expAttention());
    expect(unfusedReason(plan)).toBe(
      "temporary _einsum0[b s t] holds query axis s and key axis t (einsum('b s t, b t dv -> b s dv', _einsum0, v) sums 't' of a unary exp, which the flash matcher does not read as attention weights (a softmax or a sigmoid of the scores, or weights masked or normalised along the key axis))",
    );
  });
});

describe("compile(g, { fused: 'require' })", () => {
  test('throws NOT_FUSED, one line, with the reason', () => {
    const e = caught(() => compile(mha(), { flash: false, fused: 'require' }));
    expect(e.code).toBe('NOT_FUSED');
    expect(e.message).not.toContain('\n');
    expect(e.message).toBe(
      "graph 'mha' is not fully fused (fused: 'require'): temporaries _einsum0[b h s t], _softmax1[b h s t] hold query axis s and key axis t (flash: false asks for the unfused lowering)",
    );
    const miss = caught(() => compile(probsOut(), { fused: 'require' }));
    expect(miss.code).toBe('NOT_FUSED');
    expect(miss.message).toMatch(
      /^graph 'probs_out' is not fully fused \(fused: 'require'\): temporary _einsum0\[b s t\] holds .*the softmax is also used elsewhere/,
    );
    expect(miss.message).not.toContain('\n');
  });

  test('fused: auto (the default) compiles the same graph; a bad value is a usage error', () => {
    expect(compile(mha(), { flash: false }).plan.unfused).toBeDefined();
    expect(caught(() => compile(mha(), { fused: 'always' as 'require' })).code).toBe('USAGE');
  });
});
