/**
 * Metamorphic properties of the variants, in the interpreter: two different graphs (or
 * two different inputs) that must give the same output.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { interpret, type Graph } from '../../src/index.ts';
import { gqa, mha, mla, mqa, paged, type AttentionOptions } from '../../src/variants/index.ts';
import { count, groupedDimsArb, mlaDimsArb, optionsArb, pagedDimsArb } from './arbitraries.ts';
import { expectClose, modInputs, randInt, randn, rng } from './reference.ts';

const TOL = 1e-12;
const run = (g: Graph, x: Record<string, ArrayLike<number>>, dims: Record<string, number>) => {
  const sizes = Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k)));
  return interpret(g, x, sizes).o!.data;
};

/** Repeats the KV heads of k [b kvh t e] so that query head i reads KV head floor(i / (h / kvh)). */
function repeatKv(k: ArrayLike<number>, b: number, kvh: number, h: number, te: number): Float32Array {
  const out = new Float32Array(b * h * te);
  for (let bi = 0; bi < b; bi++)
    for (let i = 0; i < h; i++) {
      const src = (bi * kvh + Math.floor(i / (h / kvh))) * te;
      out.set(
        Array.from({ length: te }, (_, j) => k[src + j]!),
        (bi * h + i) * te,
      );
    }
  return out;
}

/** Options whose inputs (slopes …) are drawn for the graph and shared by both sides. */
function optionInputs(g: Graph, dims: { b: number; h: number; s: number; t: number }, seed: number) {
  return modInputs(
    rng(seed ^ 0x5bd1e995),
    dims,
    g.inputs.map((i) => i.name),
  );
}

describe('MQA, GQA and MHA', () => {
  test('MQA = GQA(g = 1) = MHA with K/V repeated to every head', () => {
    fc.assert(
      fc.property(groupedDimsArb, optionsArb, fc.integer(), (d, opts, seed) => {
        const dims = { ...d, g: 1 };
        const r = rng(seed);
        const q = randn(r, count(['b', 'h', 's', 'd'], dims));
        const k = randn(r, dims.b * dims.t * dims.d);
        const v = randn(r, dims.b * dims.t * dims.dv);
        const mods = optionInputs(mha(opts), dims, seed);
        const oMqa = run(mqa(opts), { q, k, v, ...mods }, dims);
        const oGqa = run(gqa(opts), { q, k, v, ...mods }, dims);
        const oMha = run(
          mha(opts),
          { q, k: repeatKv(k, dims.b, 1, dims.h, dims.t * dims.d), v: repeatKv(v, dims.b, 1, dims.h, dims.t * dims.dv), ...mods },
          dims,
        );
        expectClose(oGqa, oMqa, TOL, 'gqa(g=1) vs mqa');
        expectClose(oMha, oMqa, TOL, 'mha(repeated) vs mqa');
      }),
      { numRuns: 80 },
    );
  });

  test('GQA(g = h) = MHA, and any GQA = MHA with each KV head repeated h/g times', () => {
    fc.assert(
      fc.property(groupedDimsArb, optionsArb, fc.boolean(), fc.integer(), (d, opts, full, seed) => {
        const dims = full ? { ...d, g: d.h } : d;
        const r = rng(seed);
        const q = randn(r, count(['b', 'h', 's', 'd'], dims));
        const k = randn(r, count(['b', 'g', 't', 'd'], dims));
        const v = randn(r, count(['b', 'g', 't', 'dv'], dims));
        const mods = optionInputs(mha(opts), dims, seed);
        const oGqa = run(gqa(opts), { q, k, v, ...mods }, dims);
        const kk = full ? k : repeatKv(k, dims.b, dims.g, dims.h, dims.t * dims.d);
        const vv = full ? v : repeatKv(v, dims.b, dims.g, dims.h, dims.t * dims.dv);
        expectClose(run(mha(opts), { q, k: kk, v: vv, ...mods }, dims), oGqa, TOL);
      }),
      { numRuns: 80 },
    );
  });
});

describe('MLA', () => {
  test('absorbed = naive, RoPE-free and with the decoupled RoPE part, under any mask options', () => {
    fc.assert(
      fc.property(mlaDimsArb, optionsArb, fc.boolean(), fc.integer(), (dims, opts, rope, seed) => {
        const naive = mla({ ...opts, rope });
        const absorbed = mla({ ...opts, rope, absorbed: true });
        expect(absorbed.inputs.map((i) => i.name)).toEqual(naive.inputs.map((i) => i.name));
        const r = rng(seed);
        const mods = optionInputs(naive, dims, seed);
        const x: Record<string, ArrayLike<number>> = { ...mods };
        for (const i of naive.inputs) x[i.name] ??= randn(r, count(i.axes, dims));
        expectClose(run(absorbed, x, dims), run(naive, x, dims), 1e-11);
      }),
      { numRuns: 100 },
    );
  });
});

describe('masks', () => {
  test('a window >= t is no window (s <= t), causal or not', () => {
    fc.assert(
      fc.property(groupedDimsArb, optionsArb, fc.integer({ min: 0, max: 3 }), fc.integer(), (d, o, extra, seed) => {
        const dims = { ...d, s: Math.min(d.s, d.t) };
        const opts: AttentionOptions = { ...o, cache: false, window: 0 };
        const r = rng(seed);
        const x: Record<string, ArrayLike<number>> = { ...optionInputs(gqa(opts), dims, seed) };
        for (const i of gqa(opts).inputs) x[i.name] ??= randn(r, count(i.axes, dims));
        expectClose(run(gqa({ ...opts, window: dims.t + extra }), x, dims), run(gqa(opts), x, dims), TOL);
      }),
      { numRuns: 60 },
    );
  });

  test('neutral settings change nothing: kv_len = t, prefix_len = 0 (vs causal), one segment, zero slopes, stride >= s + t', () => {
    fc.assert(
      fc.property(groupedDimsArb, fc.integer(), (dims, seed) => {
        const r = rng(seed);
        const q = randn(r, count(['b', 'h', 's', 'd'], dims));
        const k = randn(r, count(['b', 'h', 't', 'd'], dims));
        const v = randn(r, count(['b', 'h', 't', 'dv'], dims));
        const plain = run(mha(), { q, k, v }, dims);
        const causal = run(mha({ causal: true }), { q, k, v }, dims);
        const B = dims.b;
        expectClose(run(mha({ cache: true }), { q, k, v, kv_len: new Int32Array(B).fill(dims.t) }, dims), plain, 0, 'full cache');
        expectClose(run(mha({ prefix: true }), { q, k, v, prefix_len: new Int32Array(B) }, dims), causal, 0, 'empty prefix');
        const seg = { q_seg: new Int32Array(B * dims.s).fill(7), kv_seg: new Int32Array(B * dims.t).fill(7) };
        expectClose(run(mha({ segments: true }), { q, k, v, ...seg }, dims), plain, 0, 'one segment');
        expectClose(run(mha({ alibi: true }), { q, k, v, slopes: new Float32Array(dims.h) }, dims), plain, TOL, 'zero slopes');
        expectClose(run(mha({ stride: dims.s + dims.t }), { q, k, v }, dims), plain, 0, 'wide stride');
        // a prefix covering every key makes the causal mask vanish
        expectClose(run(mha({ prefix: true }), { q, k, v, prefix_len: new Int32Array(B).fill(dims.t) }, dims), plain, 0, 'full prefix');
      }),
      { numRuns: 40 },
    );
  });

  test('document masking = running each document alone', () => {
    // two documents packed in one sequence of length t = s: [0, cut) and [cut, t)
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 7 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (t, h, seed) => {
        const cut = 1 + (Math.abs(seed) % (t - 1));
        const dims = { b: 1, h, s: t, t, d: 3, dv: 2 };
        const r = rng(seed);
        const q = randn(r, h * t * 3);
        const k = randn(r, h * t * 3);
        const v = randn(r, h * t * 2);
        const seg = Int32Array.from({ length: t }, (_, i) => (i < cut ? 0 : 1));
        const packed = run(mha({ causal: true, segments: true }), { q, k, v, q_seg: seg, kv_seg: seg }, dims);
        const slice = (x: Float32Array, e: number, lo: number, hi: number) =>
          Float32Array.from({ length: h * (hi - lo) * e }, (_, i) => x[(Math.floor(i / ((hi - lo) * e)) * t + lo) * e + (i % ((hi - lo) * e))]!);
        for (const [lo, hi] of [
          [0, cut],
          [cut, t],
        ] as const) {
          const alone = run(
            mha({ causal: true }),
            { q: slice(q, 3, lo, hi), k: slice(k, 3, lo, hi), v: slice(v, 2, lo, hi) },
            { ...dims, s: hi - lo, t: hi - lo },
          );
          const want = Float64Array.from(
            { length: h * (hi - lo) * 2 },
            (_, i) => packed[(Math.floor(i / ((hi - lo) * 2)) * t + lo) * 2 + (i % ((hi - lo) * 2))]!,
          );
          expectClose(alone, want, TOL);
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('KV cache decoding', () => {
  /** The last `s` rows (of `n`) of o [b h n e]. */
  const lastRows = (o: ArrayLike<number>, h: number, n: number, s: number, e: number) =>
    Float64Array.from({ length: h * s * e }, (_, i) => {
      const hi = Math.floor(i / (s * e));
      return o[(hi * n + (n - s)) * e + (i % (s * e))]!;
    });
  const positional = fc.record({
    window: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })),
    softcap: fc.constantFrom(0, 2),
    alibi: fc.boolean(),
    sink: fc.boolean(),
    stride: fc.constantFrom(0, 2),
  });
  const caseArb = fc
    .record({
      b: fc.integer({ min: 1, max: 3 }),
      g: fc.integer({ min: 1, max: 2 }),
      r: fc.integer({ min: 1, max: 2 }),
      cap: fc.integer({ min: 1, max: 7 }),
      d: fc.integer({ min: 1, max: 4 }),
      dv: fc.integer({ min: 1, max: 3 }),
      seed: fc.integer(),
    })
    .chain((c) =>
      fc.record({
        c: fc.constant(c),
        lens: fc.array(fc.integer({ min: 1, max: c.cap }), { minLength: c.b, maxLength: c.b }),
        sNew: fc.integer({ min: 1, max: 3 }),
        opts: positional,
      }),
    );

  /**
   * Prefill of each sequence alone (s = t = n_b, causal) against one batched decode step of
   * the last s tokens over a cache of capacity `cap` with kv_len[b] = n_b; slots past n_b hold garbage.
   */
  function decodeEqualsPrefill(family: 'mha' | 'gqa' | 'mla' | 'mla_absorbed') {
    fc.assert(
      fc.property(caseArb, ({ c, lens, sNew, opts }) => {
        const h = c.g * c.r;
        const g = family === 'mha' ? h : c.g;
        const r = rng(c.seed);
        const S = Math.min(sNew, ...lens);
        const isMla = family.startsWith('mla');
        const build = (o: AttentionOptions) => (family === 'mha' ? mha(o) : family === 'gqa' ? gqa(o) : mla({ ...o, absorbed: family === 'mla_absorbed' }));
        // per-token tensors (over t) and per-query tensors (over s), per sequence, at full capacity
        const base: Record<string, number> = isMla ? { dn: c.d, dr: 2, dc: 3, dv: c.dv } : { d: c.d, dv: c.dv };
        const decode = build({ ...opts, causal: true, cache: true });
        const prefill = build({ ...opts, causal: true });
        const shared: Record<string, Float32Array> = {};
        if (opts.alibi) shared.slopes = Float32Array.from({ length: h }, () => r() * 0.5);
        if (opts.sink) shared.sinks = randn(r, h, 2);
        // per-sequence full-length tensors: token axis t (cache) and query rows s (prefill)
        const perSeq = lens.map(() => {
          const x: Record<string, Float32Array> = {};
          for (const i of decode.inputs) {
            if (i.name in shared || i.name === 'kv_len' || !i.axes.includes('b')) continue;
            const ax = i.axes.filter((a) => a !== 'b');
            x[i.name] = randn(
              r,
              count(
                ax.map((a) => (a === 's' ? 't' : a)),
                { ...base, h, g, t: c.cap },
              ),
            );
          }
          return x;
        });
        const weights: Record<string, Float32Array> = {};
        for (const i of decode.inputs) if (!i.axes.includes('b') && !(i.name in shared)) weights[i.name] = randn(r, count(i.axes, { ...base, h, g }));
        // slices: rows [lo, hi) of axis `ax` of a per-sequence tensor
        const rows = (name: string, lo: number, hi: number) => {
          const decl = decode.inputs.find((i) => i.name === name)!;
          const ax = decl.axes.filter((a) => a !== 'b').map((a) => (a === 's' ? 't' : a));
          const sizes: Record<string, number> = { ...base, h, g, t: c.cap };
          const pos = ax.indexOf('t');
          const outer = ax.slice(0, pos).reduce((p, a) => p * sizes[a]!, 1);
          const inner = ax.slice(pos + 1).reduce((p, a) => p * sizes[a]!, 1);
          return (x: Float32Array) => {
            const out = new Float32Array(outer * (hi - lo) * inner);
            for (let o = 0; o < outer; o++) out.set(x.subarray((o * c.cap + lo) * inner, (o * c.cap + hi) * inner), o * (hi - lo) * inner);
            return out;
          };
        };
        const qNames = decode.inputs.filter((i) => i.axes.includes('s')).map((i) => i.name);
        const kvNames = decode.inputs.filter((i) => i.axes.includes('t') && i.name !== 'kv_len').map((i) => i.name);
        // the batched decode: queries are tokens n_b - S … n_b - 1 of each sequence
        const dx: Record<string, ArrayLike<number>> = { ...shared, ...weights, kv_len: Int32Array.from(lens) };
        for (const name of qNames) dx[name] = concat(perSeq.map((x, b) => rows(name, lens[b]! - S, lens[b]!)(x[name]!)));
        for (const name of kvNames) dx[name] = concat(perSeq.map((x) => x[name]!));
        const got = run(decode, dx, { ...base, b: c.b, h, g, s: S, t: c.cap });
        const want = concat(
          perSeq.map((x, b) => {
            const n = lens[b]!;
            const px: Record<string, ArrayLike<number>> = { ...shared, ...weights };
            for (const name of [...qNames, ...kvNames]) px[name] = rows(name, 0, n)(x[name]!);
            return Float32Array.from(lastRows(run(prefill, px, { ...base, b: 1, h, g, s: n, t: n }), h, n, S, c.dv));
          }),
        );
        expectClose(got, want, 1e-6); // `want` went through float32
      }),
      { numRuns: 40 },
    );
  }

  test('MHA: one decode step (and a chunk of s new tokens) = the last rows of the full causal prefill', () => decodeEqualsPrefill('mha'));
  test('GQA: decode = last rows of prefill, ragged kv_len, garbage past kv_len', () => decodeEqualsPrefill('gqa'));
  test('MLA naive: decode = last rows of prefill', () => decodeEqualsPrefill('mla'));
  test('MLA absorbed: decode = last rows of prefill', () => decodeEqualsPrefill('mla_absorbed'));
});

describe('paged KV cache', () => {
  test('paged = contiguous GQA with the same kv_len: any block size, shuffled block pool, ragged lengths', () => {
    fc.assert(
      fc.property(pagedDimsArb, optionsArb, fc.integer(), (d, o, seed) => {
        const { cache: _, ...opts } = o;
        const r = rng(seed);
        const dims = { ...d, n: Math.max(d.n, d.b * d.m) }; // a real allocator: distinct blocks per sequence
        const { b: B, g: G, blk: BLK, m: M, n: N, d: D, dv: DV } = dims;
        const T = M * BLK;
        // a random permutation of the pool; sequence b owns blocks perm[b*M … b*M+M-1]
        const perm = Array.from({ length: N }, (_, i) => i);
        for (let i = N - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [perm[i], perm[j]] = [perm[j]!, perm[i]!];
        }
        const table = Int32Array.from({ length: B * M }, (_, i) => perm[i]!);
        const kCache = randn(r, N * G * BLK * D);
        const vCache = randn(r, N * G * BLK * DV);
        const kvLen = randInt(r, B, 0, T);
        // the contiguous cache the table describes: [b g t e]
        const gatherCache = (cache: Float32Array, e: number) => {
          const out = new Float32Array(B * G * T * e);
          for (let b = 0; b < B; b++)
            for (let g = 0; g < G; g++)
              for (let t = 0; t < T; t++) {
                const src = ((table[b * M + Math.floor(t / BLK)]! * G + g) * BLK + (t % BLK)) * e;
                out.set(cache.subarray(src, src + e), ((b * G + g) * T + t) * e);
              }
          return out;
        };
        const q = randn(r, count(['b', 'h', 's', 'd'], dims));
        const mods = optionInputs(gqa({ ...opts, cache: true }), { ...dims, t: T }, seed);
        const contiguous = run(
          gqa({ ...opts, cache: true }),
          { q, k: gatherCache(kCache, D), v: gatherCache(vCache, DV), ...mods, kv_len: kvLen },
          { ...dims, t: T },
        );
        const pagedOut = run(paged(opts), { q, k_cache: kCache, v_cache: vCache, block_table: table, ...mods, kv_len: kvLen }, dims);
        expectClose(pagedOut, contiguous, 0);
      }),
      { numRuns: 80 },
    );
  });
});

function concat(xs: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(xs.reduce((p, x) => p + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(Array.from(x), o);
    o += x.length;
  }
  return out;
}
