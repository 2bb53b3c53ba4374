/**
 * Flash attention beyond one softmax (issue 21 item 2): sigmoid attention (no normaliser),
 * linear attention (its own row sum), differential attention and other linear combinations
 * of attention maps, and score terms gathered through computed indices (relbias) or read per
 * query and per key (fox). The matcher's roles and misses, the plans (no s×t buffer at
 * s = t = 2048, one block map per mask), then every kind on the GPU against the interpreter
 * under several schedules, causal with s < t, and with a declared length and NaN past it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, type CompileOptions } from '../../src/compile.ts';
import { einsum, EinattnError, graph, index, input, interpret, sigmoid, size, where, type Graph } from '../../src/index.ts';
import { findFlash, lower } from '../../src/lower/index.ts';
import type { ExecPlan } from '../../src/runtime/plan.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { maxDiff } from './attention.ts';
import { buildKind, dimsFor, kindInputs, KINDS, type Kind } from './kinds.ts';

/** No buffer of the plan holds both the query axis and the key axis. */
function expectNoScores(plan: ExecPlan) {
  expect(
    plan.kernels.some((k) => /_flash(_partial)?$/.test(k.name)),
    plan.kernels.map((k) => k.name).join(', '),
  ).toBe(true);
  for (const b of plan.buffers) expect(b.axes.includes('s') && b.axes.includes('t'), `buffer ${b.name} [${b.axes.join(' ')}]`).toBe(false);
}

/** `lower(g, { flash: true })`'s error message. */
function flashError(g: Graph): string {
  try {
    lower(g, { flash: true });
  } catch (e) {
    expect(e).toBeInstanceOf(EinattnError);
    return (e as EinattnError).message;
  }
  throw new Error('lower() fused the graph');
}

const q = input('q', 'b h s d');
const k = input('k', 'b h t d');
const v = input('v', 'b h t dv');
const x = einsum('b h s d, b h t d -> b h s t', q, k);
const causal = index('t').le(index('s').add(size('t').sub(size('s'))));

describe('the pattern (no GPU)', () => {
  test('each kind is one flash match with its maps; roles come from structure', () => {
    const kinds = (kind: Kind) => {
      const { matches, misses } = findFlash(buildKind(kind, { causal: true, cache: false }));
      expect(misses).toEqual([]);
      expect(matches).toHaveLength(1);
      const m = matches[0]!;
      expect({ kv: m.kv, batch: m.batch, rows: m.rows, v: m.vDims }).toEqual({ kv: 't', batch: ['b', 'h'], rows: ['s'], v: ['dv'] });
      return m.maps.map((x) => `${x.kind}${x.sums.length ? '+rowsum' : ''}`).join(' ');
    };
    expect(Object.fromEntries(KINDS.map((kind) => [kind, kinds(kind)]))).toEqual({
      sigmoid: 'plain',
      sigmoidExp: 'plain',
      linear: 'plain+rowsum',
      linearNorm: 'plain+rowsum',
      diff: 'softmax softmax',
      mixed: 'softmax plain',
      relbias: 'softmax',
      fox: 'softmax',
    });
  });

  test('at s = t = 2048 no plan has a buffer with both s and t: the gathers and per-key reads stay inside the flash kernel', () => {
    const dims = dimsFor({ b: 1, h: 4, s: 2048, t: 2048, d: 64, dv: 64 });
    for (const kind of KINDS)
      for (const causalMask of [false, true])
        for (const cache of [false, true]) {
          const plan = lower(buildKind(kind, { causal: causalMask, cache }), { dims });
          expectNoScores(plan);
          // fox adds its O(t) scan of the log forget gates, nothing else
          const names = plan.kernels.map((k) => k.name.replace(/^.*_\d+_/, ''));
          expect(
            names.filter((n) => !['flash', 'flash_blocks', 'scan'].includes(n)),
            `${kind}: ${names.join(', ')}`,
          ).toEqual([]);
        }
  });

  test('the kernel states its maps: no rescale for plain weights, one state per map for a combination', () => {
    // the header comment's continuation lines joined
    const wgsl = (kind: Kind) =>
      lower(buildKind(kind, { causal: true, cache: false }))
        .kernels.find((k) => k.name.endsWith('_flash'))!
        .wgsl.replace(/\s*\n\/\/\s+/g, ' ');
    expect(wgsl('sigmoid')).toContain('plain weights (no normaliser, no rescale)');
    expect(wgsl('sigmoid')).not.toContain('alpha');
    expect(wgsl('linear')).toContain('map 0 (weights normalised by their row sum in the epilogue)');
    const diff = wgsl('diff');
    expect(diff).toContain('one state per attention map (online softmax, online softmax)');
    expect(diff).toMatch(/var _p1acc0_: array<f32, \d+>;/);
    // the combination is applied once per output element: acc1/l1 − lam·acc2/l2
    expect(diff).toMatch(/_acc0_\[_c\] \* _inv0_/);
    expect(diff).toMatch(/_p1acc0_\[_c\] \* _p1inv0_/);
  });

  test('flash kernels with the same mask and tiles share one block map', () => {
    const p = (y: typeof x) => y.softmax('t', { mask: causal });
    const o1 = einsum('b h s t, b h t dv -> b h s dv', p(x), v);
    const o2 = einsum('b h s t, b h t dv -> b h s dv', p(einsum('b h s d, b h t d -> b h s t', input('q2', 'b h s d'), k)), v);
    // the mask written a second time: the same structure
    const again = index('t').le(index('s').add(size('t').sub(size('s'))));
    const x3 = einsum('b h s d, b h t d -> b h s t', input('q3', 'b h s d'), k);
    const o3 = einsum('b h s t, b h t dv -> b h s dv', where(again, sigmoid(x3.mul(0.5)), 0), v);
    const plan = lower(graph('samemask', { o1, o2, o3 }));
    expect(plan.kernels.map((k) => k.name.replace(/^.*_\d+_/, ''))).toEqual(['flash_blocks', 'flash', 'flash', 'flash']);
    expect(plan.buffers.filter((b) => b.role === 'temp').map((b) => b.name)).toEqual(['_blocks']);
    for (const kn of plan.kernels.slice(1)) expect(kn.bindings.map((b) => b.buffer)).toContain('_blocks');
    // another mask gets its own map, under its own name
    const o4 = einsum('b h s t, b h t dv -> b h s dv', x3.softmax('t', { mask: index('t').lt(index('s')) }), v);
    expect(
      lower(graph('two', { o1, o4 }))
        .buffers.filter((b) => b.role === 'temp')
        .map((b) => b.name),
    ).toEqual(['_blocks', '_blocks1']);
  });

  test('maps with different masks share one block map (empty where every mask is, full where every one is) and a length all of them declare', () => {
    const len = input('kv_len', 'b', 'i32', { max: 't' });
    const p1 = x.softmax('t', { mask: index('t').lt(len).and(causal) });
    const p2 = x.mul(2).softmax('t', {
      mask: index('t')
        .lt(len)
        .and(index('t').ge(index('s'))),
    });
    const g = graph('twomasks', { o: einsum('b h s t, b h t dv -> b h s dv', p1.add(p2), v) });
    expect(findFlash(g).matches[0]!.length?.end.op).toBe('input');
    const plan = lower(g);
    expect(plan.kernels.map((k) => k.name.replace(/^.*_\d+_/, ''))).toEqual(['flash_blocks', 'flash']);
    expect(plan.kernels[1]!.wgsl.replace(/\s*\n\/\/\s+/g, ' ')).toContain('(2 masks: a tile is empty where every one is, full where every one is)');
    expect(plan.kernels[0]!.wgsl).toMatch(/_any = _any \|\| \(_v\d+ \|\| _v\d+\);/);
    // a map without a mask reads every key: no block map, no declared length, and the schedule line says why
    const open = lower(graph('open', { o: einsum('b h s t, b h t dv -> b h s dv', p1.add(x.mul(2).softmax('t')), v) }));
    expect(open.kernels.map((k) => k.name.replace(/^.*_\d+_/, ''))).toEqual(['flash']);
    expect(open.kernels[0]!.wgsl.replace(/\s*\n\/\/\s+/g, ' ')).toContain('mask per element (a map without a mask: no block map and no declared length)');
  });

  test('split-KV: each map has its partials (a softmax its lse, plain weights their raw sums) and one merge kernel combines them', () => {
    const plan = lower(buildKind('diff', { causal: false, cache: false }), { flashSchedule: { split: 4 } });
    expect(plan.kernels.map((k) => k.name.replace(/^.*_\d+_/, ''))).toEqual(['flash_partial', 'flash_merge']);
    expect(plan.buffers.filter((b) => b.role === 'temp').map((b) => b.name)).toEqual(['_opart', '_lsepart', '_opart1', '_lsepart1']);
    const linear = lower(buildKind('linear', { causal: true, cache: false }), { flashSchedule: { split: 2 } });
    expect(linear.buffers.filter((b) => b.role === 'temp').map((b) => b.name)).toEqual(['_blocks', '_opart', '_lsepart']);
    expect(linear.kernels.at(-1)!.wgsl).toMatch(/_rowsum \+= _lsepart\[/);
    // decoding over a long key axis splits automatically
    const decode = lower(buildKind('sigmoid', { causal: false, cache: false }), { dims: { b: 1, h: 1, s: 1, t: 8192, d: 8, dv: 8 } });
    expect(decode.kernels.map((k) => k.name)).toEqual(['sigmoid_0_flash_partial', 'sigmoid_0_flash_merge']);
  });
});

describe('misses say which node and what was expected', () => {
  test('a map also used elsewhere', () => {
    const p2 = x.mul(2).softmax('t');
    const g = graph('leak', { o: einsum('b h s t, b h t dv -> b h s dv', x.softmax('t').sub(p2), v), p2 });
    const [miss] = findFlash(g).misses;
    expect(miss!.reason).toMatch(/^the softmax %\d+ \(softmax\) inside the weights %\d+ is also used by a graph output, so it must be materialised$/);
    expect(flashError(g)).toContain('is also used by a graph output');
  });

  test('a term of the weights that is no attention map', () => {
    const bias = input('bias', 'b h s t');
    const g = graph('bias', { o: einsum('b h s t, b h t dv -> b h s dv', where(causal, sigmoid(x), 0).add(bias), v) });
    const bid = g.nodes.find((n) => n.op === 'input' && n.name === 'bias')!.id;
    expect(findFlash(g).misses.map((m) => m.reason)).toEqual([
      `the weights %${bid} (input) are neither a softmax, nor masked along 't' (where(keep, w, 0)), nor normalised by their own sum(w, 't'), nor a sigmoid of the scores, so the contraction %${g.outputs[0]!.node.id} is not read as attention`,
    ]);
  });

  test('a coefficient computed from the scores', () => {
    const g = graph('coef', { o: einsum('b h s t, b h t dv -> b h s dv', x.softmax('t').mul(x.max('t')), v) });
    expect(findFlash(g).misses.map((m) => m.reason)).toEqual([
      expect.stringMatching(/^the coefficient %\d+ \(reduce\) of the weights depends on the scores or the maps/),
    ]);
  });

  test('a row sum read outside the epilogue', () => {
    const a = where(causal, einsum('b h s d, b h t d -> b h s t', q.elu().add(1), k.elu().add(1)), 0);
    const l = a.sum('t');
    const g = graph('rowsum', { o: einsum('b h s t, b h t dv -> b h s dv', a, v).div(l.add(1e-6)), l });
    expect(findFlash(g).misses.map((m) => m.reason)).toEqual([
      expect.stringMatching(/^the row sum %\d+ of the weights %\d+ is read by the graph output %\d+, so it must be materialised$/),
    ]);
  });

  test('a contraction of an unmasked elementwise function of another one is no attention: an MLP stays as it was', () => {
    const h = einsum('b s d, d f -> b s f', input('xin', 'b s d'), input('w1', 'd f'));
    const g = graph('mlp', { y: einsum('b s f, f e -> b s e', h.tanh(), input('w2', 'f e')) });
    expect(findFlash(g)).toEqual({ matches: [], misses: [] });
    // nor is a masked constant (MoBA's block means: einsum(k, where(t / blk == m, 1, 0)))
    const means = einsum('b h t d, t m -> b h m d', k, where(index('t').div(4).eq(index('m')), 1, 0));
    expect(findFlash(graph('means', { means }))).toEqual({ matches: [], misses: [] });
  });
});

describe('on the GPU', () => {
  beforeAll(async () => {
    await getRuntime(); // no adapter → the suite fails here with the reason
  });
  afterAll(closeRuntime);

  const SCHEDULES: CompileOptions[] = [
    { flashSchedule: { rows: 2, kvTile: 4, split: 1 } },
    { flashSchedule: { rows: 3, kvTile: 3, workgroup: 4, kvLanes: 2 } }, // lanes merged through workgroup memory
    { flashSchedule: { rows: 1, kvTile: 5, workgroup: 4, kvLanes: 4, subgroups: true } }, // merged by shuffles
    { flashSchedule: { rows: 2, kvTile: 4, blockMask: false, split: 3, minTilesPerSplit: 1 } }, // split-KV, no block map
    { specializeHeadDims: true, flashSchedule: { rows: 2, kvTile: 4, qkBlock: 2 } }, // Q cached, blocked scores
  ];

  /** Runs `g` fused (clean or poisoned inputs) and compares with the interpreter on the clean ones. */
  async function expectKind(g: Graph, all: Record<string, number>, opts: CompileOptions, kvLen: number[]) {
    const dims = Object.fromEntries(Object.entries(all).filter(([a]) => g.sizes.includes(a)));
    const clean = kindInputs(g, dims, kvLen);
    const want = interpret(g, clean, dims).o!;
    const c = compile(g, opts);
    expectNoScores(c.planFor(dims));
    const got = (await c.run(kindInputs(g, dims, kvLen, true), dims)).outputs.o!;
    const ref = want.data.reduce((m, y) => Math.max(m, Math.abs(y)), 0);
    const L = dims.t! * dims.d!;
    expect(maxDiff(want.data, got.data), `${g.name} ${JSON.stringify(opts)}\n${c.explain(dims)}`).toBeLessThanOrEqual(
      1e-5 * Math.sqrt(L) * Math.max(1, ref) + 1e-6,
    );
  }

  test('causal at s = t: every kind loads only the KV tiles on or below the diagonal, whatever its maps', async () => {
    const n = 8; // 128 / 16 blocks per side
    for (const kind of ['sigmoid', 'linear', 'diff'] as const) {
      const g = buildKind(kind, { causal: true, cache: false });
      const dims = { b: 1, h: 2, s: 128, t: 128, d: 4, dv: 4 };
      const c = compile(g, { flashSchedule: { rows: 2, workgroup: 8, kvTile: 16, split: 1 }, debugTiles: true });
      const r = await c.run(kindInputs(g, dims, []), dims);
      expect(
        Array.from(r.outputs._flash_tiles!.data).reduce((a, b) => a + b, 0),
        kind,
      ).toBe(2 * ((n * (n + 1)) / 2)); // two heads
    }
  });

  test('two softmax maps, each with a sink and an lse output, plus an epilogue: one kernel writes o and both lse', async () => {
    const x2 = einsum('b h s d, b h t d -> b h s t', input('q2', 'b h s d'), input('k2', 'b h t d'));
    const [p1, p2] = [x.softmax('t', { mask: causal, sink: input('sink', 'h') }), x2.softmax('t', { mask: causal })];
    const o = einsum('b h s t, b h t dv -> b h s dv', p1.mul(input('lam', 'h')).sub(p2), v)
      .mul(2)
      .add(0.5);
    const g = graph('lses', { o, lse1: where(causal, x, -Infinity).logsumexp('t'), lse2: where(causal, x2, -Infinity).logsumexp('t') });
    const dims = { b: 2, h: 3, s: 5, t: 11, d: 3, dv: 5 };
    expect(findFlash(g).matches.map((m) => m.lse.length)).toEqual([2]);
    const inputs = kindInputs(g, dims, []);
    const want = interpret(g, inputs, dims);
    for (const flashSchedule of [
      { rows: 2, kvTile: 4, split: 1 },
      { rows: 3, kvTile: 3, workgroup: 4, kvLanes: 2, split: 3, minTilesPerSplit: 1 },
    ]) {
      const c = compile(g, { flashSchedule });
      expectNoScores(c.planFor(dims));
      const got = (await c.run(inputs, dims)).outputs;
      for (const name of ['o', 'lse1', 'lse2'])
        expect(maxDiff(want[name]!.data, got[name]!.data), `${name} ${JSON.stringify(flashSchedule)}`).toBeLessThanOrEqual(1e-5 * Math.sqrt(33) * 4 + 1e-6);
    }
  });

  const odd = dimsFor({ b: 2, h: 3, s: 5, t: 11, d: 3, dv: 5 });
  for (const kind of KINDS)
    test(`${kind}: causal with s < t, and unmasked, under five schedules = interpreter`, async () => {
      for (const opts of SCHEDULES) await expectKind(buildKind(kind, { causal: true, cache: false }), odd, opts, []);
      await expectKind(buildKind(kind, { causal: false, cache: false }), dimsFor({ b: 1, h: 2, s: 7, t: 7, d: 5, dv: 3 }), SCHEDULES[0]!, []);
    });

  for (const kind of KINDS)
    test(`${kind}: a declared length kv_len with NaN past it (never read), lengths 9 and 0`, async () => {
      // lanes and split-KV together: the lanes merge first, then each split writes its partials
      const both: CompileOptions = { flashSchedule: { rows: 2, kvTile: 3, workgroup: 4, kvLanes: 2, split: 2, minTilesPerSplit: 1 } };
      for (const opts of [SCHEDULES[0]!, SCHEDULES[1]!, SCHEDULES[3]!, both])
        await expectKind(buildKind(kind, { causal: true, cache: true }), odd, opts, [9, 0]);
      await expectKind(buildKind(kind, { causal: false, cache: true }), odd, SCHEDULES[2]!, [11, 4]);
    });
});
