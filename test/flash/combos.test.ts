/**
 * Random linear combinations of attention maps, fused and against the interpreter: 1 to 3
 * maps (softmax with or without a sink, masked sigmoid weights, weights normalised by a row
 * sum the epilogue reads), coefficients (constants, per head, per row), a mask shared or per
 * map, a declared length with NaN past it, odd sizes and random schedules (lanes, shuffles,
 * split-KV, block map on or off). Replay with EINATTN_SEED=<seed>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { einsum, graph, index, input, interpret, sigmoid, size, where, type Graph, type Tensor } from '../../src/index.ts';
import { findFlash } from '../../src/lower/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { maxDiff, scheduleArb } from './attention.ts';
import { kindInputs } from './kinds.ts';

type MapKind = 'softmax' | 'sink' | 'sigmoid' | 'rowsum';
type Coef = 'one' | 'const' | 'head' | 'row' | 'neg' | 'div';
type MaskKind = 'shared' | 'own' | 'none';

interface Combo {
  maps: { kind: MapKind; coef: Coef; mask: MaskKind }[];
  causal: boolean;
  cache: boolean;
}

const comboArb: fc.Arbitrary<Combo> = fc.record({
  maps: fc.array(
    fc.record({
      kind: fc.constantFrom<MapKind>('softmax', 'sink', 'sigmoid', 'rowsum'),
      coef: fc.constantFrom<Coef>('one', 'const', 'head', 'row', 'neg', 'div'),
      mask: fc.constantFrom<MaskKind>('shared', 'own', 'none'),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  causal: fc.boolean(),
  cache: fc.boolean(),
});

type T4 = Tensor<['b', 'h', 's', 't']>;

/** The graph of a combination: o = (Σ cᵢ·Mᵢ)·v, divided by (1 + Σ row sums) when a map is normalised by its row sum. */
function buildCombo(c: Combo): Graph {
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const kvLen = c.cache ? input('kv_len', 'b', 'i32', { max: 't' }) : undefined;
  const position = index('s').add((kvLen ?? size('t')).sub(size('s')));
  const t = index('t');
  let shared: Tensor<any> | undefined = c.causal ? t.le(position) : undefined;
  if (kvLen) shared = shared ? t.lt(kvLen).and(shared) : t.lt(kvLen);
  let p: T4 | undefined;
  let sums: Tensor<['b', 'h', 's']> | undefined;
  c.maps.forEach((m, i) => {
    // each map has its own query; map 1 also its own keys
    const ki = i === 1 ? input('k1', 'b h t d') : k;
    const x: T4 = einsum('b h s d, b h t d -> b h s t', input(`q${i}`, 'b h s d'), ki).mul(0.7);
    // an own mask keeps the declared length (so nothing past it is read) and a window of its own
    const own = t.gt(position.sub(2 + i));
    const mask = m.mask === 'none' ? undefined : m.mask === 'own' ? (shared ? shared.and(own) : own) : shared;
    let map: T4;
    if (m.kind === 'softmax' || m.kind === 'sink')
      map = x.softmax('t', { ...(mask ? { mask } : {}), ...(m.kind === 'sink' ? { sink: input(`sink${i}`, 'h') } : {}) });
    else if (m.kind === 'sigmoid') map = (mask ? where(mask, sigmoid(x), 0) : sigmoid(x)) as T4;
    else {
      const a = (mask ? where(mask, x.exp(), 0) : x.exp()) as T4;
      const l = a.sum('t');
      sums = sums ? sums.add(l) : l;
      map = a;
    }
    const term: T4 =
      m.coef === 'one'
        ? map
        : m.coef === 'const'
          ? map.mul(-0.5)
          : m.coef === 'head'
            ? map.mul(input(`lam${i}`, 'h'))
            : m.coef === 'row'
              ? input(`c${i}`, 'b h s').mul(map)
              : m.coef === 'neg'
                ? map.neg()
                : map.div(1.5);
    p = p ? (i % 2 ? p.sub(term) : p.add(term)) : term;
  });
  let o: Tensor<['b', 'h', 's', 'dv']> = einsum('b h s t, b h t dv -> b h s dv', p!, v);
  if (sums) o = o.div(sums.add(1));
  return graph('combo', { o });
}

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

const seed = process.env.EINATTN_SEED ? Number(process.env.EINATTN_SEED) : undefined;

test('random combinations of attention maps, masks, lengths and schedules: fused = interpreter', async () => {
  await fc.assert(
    fc.asyncProperty(
      comboArb,
      fc.record({
        b: fc.integer({ min: 1, max: 2 }),
        h: fc.integer({ min: 1, max: 2 }),
        s: fc.integer({ min: 1, max: 9 }),
        t: fc.integer({ min: 1, max: 17 }),
        d: fc.constantFrom(1, 3, 4),
        dv: fc.constantFrom(1, 3, 6),
      }),
      scheduleArb,
      fc.boolean(),
      fc.integer({ min: 0, max: 1 << 20 }),
      async (c, dims, flashSchedule, specializeHeadDims, lenSeed) => {
        const g = buildCombo(c);
        const { matches, misses } = findFlash(g);
        expect(misses, JSON.stringify(c)).toEqual([]);
        expect(matches).toHaveLength(1);
        const kvLen = Array.from({ length: dims.b }, (_, i) => (lenSeed >> (5 * i)) % (dims.t + 1));
        const want = interpret(g, kindInputs(g, dims, kvLen), dims).o!;
        const comp = compile(g, { flashSchedule, specializeHeadDims });
        // a map without a mask reads every key, so only a common length may hide NaN
        const poison = c.cache && matches[0]!.length !== undefined;
        const got = (await comp.run(kindInputs(g, dims, kvLen, poison), dims)).outputs.o!;
        const ref = want.data.reduce((m, y) => Math.max(m, Math.abs(y)), 0);
        expect(maxDiff(want.data, got.data), `${JSON.stringify(c)} ${JSON.stringify(dims)} kv_len ${kvLen}\n${comp.explain(dims)}`).toBeLessThanOrEqual(
          1e-5 * Math.sqrt(dims.t * dims.d) * Math.max(1, ref) + 1e-6,
        );
      },
    ),
    { numRuns: Number(process.env.EINATTN_FLASH_RUNS ?? 10), seed, endOnFailure: true },
  );
});
