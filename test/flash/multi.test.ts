/**
 * Flash attention whose logits combine several contractions: MLA with its decoupled RoPE
 * part (`q_lat·c_kv + q_rope·k_rope`, as FlashInfer's MLA kernel fuses it) and a
 * hand-written score of three contractions. The matcher's roles and misses, then the
 * fused kernel on the GPU against the interpreter under several schedules, with no s×t
 * buffer in the plan. Replay with EINATTN_SEED=<seed>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, type CompileOptions } from '../../src/compile.ts';
import { einsum, EinattnError, graph, index, input, interpret, size, where, type Graph } from '../../src/index.ts';
import { findFlash, lower, type FlashSchedule } from '../../src/lower/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { mla } from '../../src/variants/index.ts';
import type { ExecPlan } from '../../src/runtime/plan.ts';
import { modInputs, randn, rng } from '../variants/reference.ts';
import { maxDiff } from './attention.ts';

/** The roles findFlash gives the one attention pattern of `g`. */
function roles(g: Graph) {
  const { matches, misses } = findFlash(g);
  expect(misses).toEqual([]);
  expect(matches).toHaveLength(1);
  const m = matches[0]!;
  return { kv: m.kv, qk: m.scores.map((c) => c.qkDims), v: m.vDims, batch: m.batch, rows: m.rows };
}

/** The plan streams the scores: a flash kernel, and no buffer with both the query and the KV axis. */
function expectFused(plan: ExecPlan, s = 's', t = 't') {
  expect(
    plan.kernels.some((k) => /_flash(_partial)?$/.test(k.name)),
    plan.kernels.map((k) => k.name).join(', '),
  ).toBe(true);
  for (const b of plan.buffers) expect(b.axes.includes(s) && b.axes.includes(t), `buffer ${b.name} [${b.axes.join(' ')}]`).toBe(false);
}

/**
 * Three score contractions with different qk dims and K/V-side axes, a softcap, a causal
 * mask, a sink and an lse output. Only the third contraction's key has the head axis, so
 * `h` is a batch axis because of it alone.
 */
function threeScores(): Graph {
  const q1 = input('q1', 'b h s d1');
  const k1 = input('k1', 'b t d1'); // shared by all heads
  const q2 = input('q2', 'b h s d2');
  const k2 = input('k2', 'b t d2');
  const q3 = input('q3', 'b s d3'); // shared by all heads
  const k3 = input('k3', 'b h t d3');
  const v = input('v', 'b t dv');
  const s1 = einsum('b h s d1, b t d1 -> b h s t', q1, k1);
  const s2 = einsum('b h s d2, b t d2 -> b h s t', q2, k2);
  const s3 = einsum('b s d3, b h t d3 -> b h s t', q3, k3);
  // a score mod that is not a plain sum: 3·tanh((S1 + S2/2 - S3·S1/4) / 3)
  const x = s1.add(s2.mul(0.5)).sub(s3.mul(s1).mul(0.25)).div(3).tanh().mul(3);
  const mask = index('t').le(index('s').add(size('t').sub(size('s'))));
  const lse = where(mask, x, -Infinity).logsumexp('t');
  const p = x.softmax('t', { mask, sink: input('sink', 'h') });
  return graph('three', { o: einsum('b h s t, b t dv -> b h s dv', p, v), lse });
}

describe('the pattern (no GPU)', () => {
  test('absorbed MLA decode with RoPE: one flash kernel over two contractions, qk dims [dc] and [dr]', () => {
    const g = mla({ absorbed: true, rope: true, causal: true, cache: true });
    expect(roles(g)).toEqual({ kv: 't', qk: [['dc'], ['dr']], v: ['dc'], batch: ['b'], rows: ['h', 's'] });
    const plan = lower(g);
    expect(plan.kernels.map((k) => k.name.replace(/^.*_\d+_/, ''))).toEqual(['einsum', 'flash_blocks', 'flash', 'einsum']);
    expectFused(plan);
    const flash = plan.kernels.find((k) => k.name.endsWith('_flash'))!.wgsl;
    expect(flash).toContain("//   contraction 1 over [dr]: einsum('b h s dr, b t dr -> b h s t', q_rope, k_rope)");
    expect(flash).toContain('qk dims [dc], [dr], v dims [dc]');
    // each contraction has its own score tile, and the score mod adds them
    expect(flash).toMatch(/let _v\d+ = \(_s0_\[_j\] \+ _c1s0_\[_j\]\);/);
  });

  test('naive MLA with RoPE (the variant default) matches too; without RoPE it has one contraction', () => {
    expect(roles(mla())).toEqual({ kv: 't', qk: [['dn'], ['dr']], v: ['dv'], batch: ['b', 'h'], rows: ['s'] });
    expectFused(lower(mla()));
    expect(roles(mla({ rope: false })).qk).toEqual([['dn']]);
    expect(lower(mla(), { flash: true }).kernels.some((k) => k.name.endsWith('_flash'))).toBe(true);
  });

  test('three contractions: each keeps its own qk dims; a K/V-side axis of any of them is a batch axis', () => {
    expect(roles(threeScores())).toEqual({ kv: 't', qk: [['d1'], ['d2'], ['d3']], v: ['dv'], batch: ['b', 'h'], rows: ['s'] });
    const plan = lower(threeScores());
    expectFused(plan);
    expect(
      plan.buffers
        .filter((b) => b.role === 'output')
        .map((b) => b.name)
        .sort(),
    ).toEqual(['lse', 'o']);
  });

  test('a contraction without the softmax axis is not streamed: it is a per-row term computed by its own kernel', () => {
    const q = input('q', 'b s d');
    const k = input('k', 'b t d');
    const w = input('w', 'b d');
    const bias = einsum('b s d, b d -> b s', q, w); // no operand has t
    const x = einsum('b s d, b t d -> b s t', q, k).add(bias);
    const g = graph('rowbias', { o: einsum('b s t, b t e -> b s e', x.softmax('t'), input('v', 'b t e')) });
    expect(roles(g)).toEqual({ kv: 't', qk: [['d']], v: ['e'], batch: ['b'], rows: ['s'] });
    const plan = lower(g, { flash: true });
    expect(plan.kernels.map((k) => k.name.replace(/^.*_\d+_/, ''))).toEqual(['einsum', 'flash']);
    expectFused(plan);
  });

  test('a contraction that reads the scores of another one is a clear miss, and the unfused lowering still runs it', () => {
    const q = input('q', 'b s d');
    const k = input('k', 'b t d');
    const s1 = einsum('b s d, b t d -> b s t', q, k);
    const s2 = einsum('b s t, b t -> b s t', s1, input('w', 'b t')); // built from s1, not from loaded tensors
    const g = graph('nested', { o: einsum('b s t, b t e -> b s e', s1.add(s2).softmax('t'), input('v', 'b t e')) });
    const { matches, misses } = findFlash(g);
    expect(matches).toEqual([]);
    const s2id = g.nodes.find((n) => n.op === 'einsum' && n.operands.includes(s1.node))!.id;
    expect(misses.map((m) => m.reason)).toEqual([
      `the score contraction einsum('b s t, b t -> b s t') %${s2id} reads the scores of another contraction; flash needs each one over loaded tensors`,
    ]);
    let err: unknown;
    try {
      lower(g, { flash: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EinattnError);
    expect((err as EinattnError).message).toContain('reads the scores of another contraction');
    expect(lower(g).kernels.some((k) => k.name.includes('flash'))).toBe(false);
  });
});

describe('on the GPU', () => {
  beforeAll(async () => {
    await getRuntime(); // no adapter → the suite fails here with the reason
  });
  afterAll(closeRuntime);

  const seed = process.env.EINATTN_SEED ? Number(process.env.EINATTN_SEED) : undefined;

  /** Random inputs for `g` (kv_len in 0..t), deterministic in `seedOf`. */
  function inputsFor(g: Graph, dims: Record<string, number>, seedOf: number) {
    const r = rng(seedOf);
    const mods = modInputs(
      r,
      dims as never,
      g.inputs.map((i) => i.name),
    );
    return Object.fromEntries(
      g.inputs.map((i) => [
        i.name,
        mods[i.name] ??
          randn(
            r,
            i.axes.reduce((p, a) => p * dims[a]!, 1),
          ),
      ]),
    );
  }

  /**
   * Runs `g` fused under `opts`, checks that the plan streams the scores, and compares every
   * output with the interpreter: within 1e-5·√L·max(1, |ref|max) + 1e-6, the f32 rule of
   * test/variants/gpu.ts, with L the longest reduction (MLA chains two contractions before the softmax).
   */
  async function expectFusedMatch(g: Graph, dims: Record<string, number>, opts: CompileOptions, inputs: Record<string, ArrayLike<number>>, L: number) {
    const want = interpret(g, inputs, dims);
    const c = compile(g, opts);
    const plan = c.planFor(dims);
    expectFused(plan);
    const got = (await c.run(inputs, dims)).outputs;
    for (const [name, w] of Object.entries(want)) {
      const ref = w.data.reduce((m, x) => Math.max(m, Number.isFinite(x) ? Math.abs(x) : 0), 0);
      expect(maxDiff(w.data, got[name]!.data), `${name} at ${JSON.stringify(dims)}\n${c.explain(dims)}`).toBeLessThanOrEqual(
        1e-5 * Math.sqrt(L) * Math.max(1, ref) + 1e-6,
      );
    }
    return plan;
  }

  const scheduleArb: fc.Arbitrary<Partial<FlashSchedule>> = fc
    .record({
      rows: fc.constantFrom(1, 2, 3),
      kvTile: fc.constantFrom(3, 4, 5),
      // [workgroup, kvLanes]
      lanes: fc.constantFrom<[number, number]>([1, 1], [4, 1], [4, 4], [8, 2]),
      split: fc.constantFrom<FlashSchedule['split']>(1, 'auto', 3),
    })
    .map(({ lanes: [workgroup, kvLanes], ...rest }) => ({ ...rest, workgroup, kvLanes, minTilesPerSplit: 1 }));

  test('MLA with RoPE, absorbed and naive, random options, odd shapes and schedules: fused = interpreter', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ absorbed: fc.boolean(), causal: fc.boolean(), cache: fc.boolean(), softcap: fc.constantFrom(0, 3) }),
        fc.record({
          b: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 6 }),
          t: fc.integer({ min: 1, max: 21 }),
          dn: fc.constantFrom(3, 5),
          dr: fc.constantFrom(1, 3, 5),
          dc: fc.constantFrom(3, 7, 12),
          dv: fc.constantFrom(1, 5, 7),
        }),
        scheduleArb,
        fc.boolean(),
        fc.integer(),
        async (opts, dims, flashSchedule, specializeHeadDims, inSeed) => {
          const g = mla({ ...opts, rope: true });
          const { scores } = findFlash(g).matches[0]!;
          expect(scores).toHaveLength(2);
          const L = dims.t * Math.max(dims.dn, dims.dc, dims.dr);
          const plan = await expectFusedMatch(g, dims, { flashSchedule, specializeHeadDims }, inputsFor(g, dims, inSeed), L);
          // every contraction's qk dims are specialized, not only the first one's
          const qk = scores.flatMap((c) => c.qkDims) as (keyof typeof dims)[];
          if (specializeHeadDims) for (const a of qk) expect(plan.staticSizes[a], a).toBe(dims[a]);
        },
      ),
      { numRuns: Number(process.env.EINATTN_FLASH_RUNS ?? 6), seed, endOnFailure: true },
    );
  });

  test('three contractions, softcap, causal mask, sink and lse, with static, dynamic and mixed Q caching', async () => {
    const g = threeScores();
    const dims = { b: 2, h: 3, s: 7, t: 19, d1: 6, d2: 3, d3: 1, dv: 5 };
    const inputs = inputsFor(g, dims, 7);
    const configs: CompileOptions[] = [
      { flashSchedule: { rows: 2, kvTile: 4, split: 1 } }, // dynamic head dims: every contraction loops its qk dims outermost
      // static head dims; contraction 0 (d1 = 6) above maxQCache streams Q, the others cache it
      { specializeHeadDims: true, flashSchedule: { rows: 3, kvTile: 5, workgroup: 4, kvLanes: 2, split: 1, maxQCache: 4 } },
      { specializeHeadDims: true, flashSchedule: { rows: 1, kvTile: 3, split: 3, minTilesPerSplit: 1 } },
    ];
    for (const opts of configs) await expectFusedMatch(g, dims, opts, inputs, dims.t * dims.d1);
    const mixed = compile(g, configs[1])
      .planFor(dims)
      .kernels.find((k) => k.name.endsWith('_flash'))!.wgsl;
    expect(mixed).not.toContain('var _q0_:');
    expect(mixed).toContain('var _c1q0_: array<f32, 3>;');
    expect(mixed).toContain('var _c2q0_: array<f32, 1>;');
    expect(mixed).toContain('//   contraction 2 over [d3]:');
  });

  test('a per-row contraction next to the streamed one', async () => {
    const q = input('q', 'b s d');
    const x = einsum('b s d, b t d -> b s t', q, input('k', 'b t d')).add(einsum('b s d, b d -> b s', q, input('w', 'b d')));
    const g = graph('rowbias', { o: einsum('b s t, b t e -> b s e', x.softmax('t'), input('v', 'b t e')) });
    const dims = { b: 2, s: 5, t: 11, d: 3, e: 4 };
    await expectFusedMatch(g, dims, { flashSchedule: { rows: 2, kvTile: 4 } }, inputsFor(g, dims, 3), dims.t * dims.d);
  });
});
