/**
 * Attention variants for the flash tests, built from plain data (so fast-check prints
 * and shrinks them): layouts with different axis names and batch axes, masks, score
 * mods, sinks, lse outputs and epilogues.
 */
import fc from 'fast-check';
import { constant, einsum, graph, index, input, size, where, type Graph, type Tensor } from '../../src/index.ts';
import type { FlashSchedule } from '../../src/lower/index.ts';

export type Layout = 'mha' | 'named' | 'gqa' | 'mqa' | 'bhg';
export type MaskKind = 'none' | 'causal' | 'window' | 'document' | 'blocksparse' | 'deadrows';
export type ModKind = 'scale' | 'alibi' | 'softcap';

export interface Variant {
  layout: Layout;
  mask: MaskKind;
  mod: ModKind;
  sink: boolean;
  lse: boolean;
  /** an elementwise epilogue on the output: o * 2 - 0.5 */
  epilogue: boolean;
}

/** Axis names per layout: batch axes, query axis, key axis, head dims; `heads` are the axes of per-head tensors. */
const NAMES: Record<Layout, { q: string; k: string; v: string; s: string; t: string; d: string; dv: string; heads: string }> = {
  mha: { q: 'b h s d', k: 'b h t d', v: 'b h t dv', s: 's', t: 't', d: 'd', dv: 'dv', heads: 'h' },
  named: { q: 'z n i e', k: 'z n j e', v: 'z n j f', s: 'i', t: 'j', d: 'e', dv: 'f', heads: 'n' },
  gqa: { q: 'b g r s d', k: 'b g t d', v: 'b g t dv', s: 's', t: 't', d: 'd', dv: 'dv', heads: 'g r' },
  mqa: { q: 'b h s d', k: 'b t d', v: 'b t dv', s: 's', t: 't', d: 'd', dv: 'dv', heads: 'h' },
  bhg: { q: 'b h x s d', k: 'b h x t d', v: 'b h x t dv', s: 's', t: 't', d: 'd', dv: 'dv', heads: 'h' },
};

const spec = (a: string, b: string, out: string) => `${a}, ${b} -> ${out}`;

/**
 * Builds a variant's graph; outputs `o` (and `lse` when asked).
 * @example build({ layout: 'named', mask: 'causal', mod: 'alibi', sink: true, lse: false, epilogue: false })
 */
export function build(v: Variant): Graph {
  const n = NAMES[v.layout];
  const q = input('q', n.q);
  const k = input('k', n.k);
  const val = input('v', n.v);
  const qAxes = n.q.split(' ');
  const sAxes = [...qAxes.filter((a) => a !== n.d), n.t];
  const vAxes = n.v.split(' ');
  const oAxes = [...qAxes.filter((a) => a !== n.d), n.dv];
  const [s, t] = [index(n.s), index(n.t)];
  const [S, T] = [size(n.s), size(n.t)];
  const diag = s.add(T.sub(S)); // causal alignment to the end when s < t
  let x: Tensor<any> = einsum(spec(n.q, n.k, sAxes.join(' ')) as string, q, k).mul(size(n.d).cast('f32').rsqrt());
  if (v.mod === 'alibi') x = x.add(input('slope', n.heads).mul(t.sub(s).cast('f32')));
  if (v.mod === 'softcap') x = x.div(2).tanh().mul(2);
  let mask: Tensor<any> | undefined;
  if (v.mask === 'causal') mask = t.le(diag);
  if (v.mask === 'window') mask = t.le(diag).and(t.gt(diag.sub(constant(5, 'i32'))));
  if (v.mask === 'document') mask = input('qseg', `${qAxes[0]} ${n.s}`, 'i32').eq(input('kseg', `${qAxes[0]} ${n.t}`, 'i32'));
  if (v.mask === 'blocksparse') {
    // a user block map over blocks of 4 queries × 8 keys, read through two gathers
    const blk = input('blk', 'qb kb', 'i32');
    mask = blk
      .gather('qb', s.div(constant(4, 'i32')))
      .gather('kb', t.div(constant(8, 'i32')))
      .eq(constant(1, 'i32'));
  }
  if (v.mask === 'deadrows') mask = t.le(diag).and(s.ge(constant(2, 'i32'))); // rows 0 and 1 see nothing
  const sink = v.sink ? input('sink', n.heads) : undefined;
  const p = x.softmax(n.t as never, { ...(mask ? { mask } : {}), ...(sink ? { sink } : {}) });
  let o: Tensor<any> = einsum(spec(sAxes.join(' '), vAxes.join(' '), oAxes.join(' ')) as string, p, val);
  if (v.epilogue) o = o.mul(2).sub(0.5);
  const outs: Record<string, Tensor<any>> = { o };
  if (v.lse) outs.lse = (mask ? where(mask, x, -Infinity) : x).logsumexp(n.t as never);
  return graph(`att_${v.layout}_${v.mask}_${v.mod}`, outs);
}

/** Sizes for a variant: `base` gives b, heads, s, t, d, dv under their generic names. */
export function dimsOf(v: Variant, base: { b: number; h: number; s: number; t: number; d: number; dv: number }): Record<string, number> {
  const n = NAMES[v.layout];
  const out: Record<string, number> = { [n.s]: base.s, [n.t]: base.t, [n.d]: base.d, [n.dv]: base.dv };
  const batch = n.q.split(' ')[0]!;
  out[batch] = base.b;
  if (v.layout === 'gqa') {
    out.g = base.h > 1 ? 2 : 1;
    out.r = base.h;
  } else if (v.layout === 'bhg') {
    out.h = base.h;
    out.x = 2;
  } else out[n.heads] = base.h;
  if (v.mask === 'blocksparse') {
    out.qb = Math.ceil(base.s / 4);
    out.kb = Math.ceil(base.t / 8);
  }
  return out;
}

/** Deterministic inputs: smooth values, segment ids in runs, a block map, slopes and sinks. */
export function inputsOf(g: Graph, dims: Record<string, number>, opts: { scale?: number } = {}): Record<string, Float32Array | Int32Array> {
  const out: Record<string, Float32Array | Int32Array> = {};
  g.inputs.forEach((inp, k) => {
    const count = inp.axes.reduce((p, a) => p * dims[a]!, 1);
    if (inp.name === 'qseg' || inp.name === 'kseg') {
      // documents of varying length; the query side is aligned to the end of the key side
      const len = dims[inp.axes[1]!]!;
      const off = inp.name === 'qseg' ? (dims.t ?? dims.j ?? len) - len : 0;
      out[inp.name] = Int32Array.from({ length: count }, (_, i) => Math.floor(Math.sqrt(3 * ((i % len) + off))) + Math.floor(i / len));
    } else if (inp.name === 'blk') out[inp.name] = Int32Array.from({ length: count }, (_, i) => ((i * 7) % 3 === 0 ? 0 : 1));
    else {
      const scale = inp.name === 'q' ? (opts.scale ?? 1) : 1;
      out[inp.name] = Float32Array.from({ length: count }, (_, i) => Math.fround(Math.sin(i * 1.618 + k * 2.7) * 0.9 * scale));
    }
  });
  return out;
}

/** The largest |a - b| over two arrays, with equal non-finite values counting as 0. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i]!, b[i]!];
    if (x === y) continue;
    if (Number.isNaN(x) || Number.isNaN(y)) return Infinity;
    err = Math.max(err, Math.abs(x - y));
  }
  return err;
}

export const variantArb: fc.Arbitrary<Variant> = fc.record({
  layout: fc.constantFrom<Layout>('mha', 'named', 'gqa', 'mqa', 'bhg'),
  mask: fc.constantFrom<MaskKind>('none', 'causal', 'window', 'document', 'blocksparse', 'deadrows'),
  mod: fc.constantFrom<ModKind>('scale', 'alibi', 'softcap'),
  sink: fc.boolean(),
  lse: fc.boolean(),
  epilogue: fc.boolean(),
});

export const scheduleArb: fc.Arbitrary<Partial<FlashSchedule>> = fc
  .record({
    // small tiles: lavapipe compiles unrolled kernels slowly, and the tests compile many
    rows: fc.constantFrom(1, 2, 3),
    kvTile: fc.constantFrom(1, 3, 4, 6),
    // keys per register block of the cached-Q product: 'auto' (1 at these small head dims), 1, or
    // the largest divisor of kvTile up to 4 (4 at kvTile 4, 3 at 3, 2 at 6)
    qkBlock: fc.constantFrom<'auto' | 1 | 'divisor'>('auto', 1, 'divisor'),
    // [workgroup, kvLanes]: lanes > 1 split a row tile's KV tiles and merge through workgroup memory,
    // or with subgroups by shuffles (kvLanes stays within lavapipe's subgroup size of 8)
    lanes: fc.constantFrom<[number, number]>([1, 1], [4, 1], [8, 1], [4, 4], [8, 2], [8, 8]),
    subgroups: fc.boolean(),
    dvChunk: fc.constantFrom(3, 8, 64),
    split: fc.constantFrom<FlashSchedule['split']>(1, 2, 3, 'auto'),
    blockMask: fc.boolean(),
  })
  .map(({ lanes: [workgroup, kvLanes], qkBlock, ...rest }) => ({
    ...rest,
    workgroup,
    kvLanes,
    qkBlock: qkBlock === 'divisor' ? [4, 3, 2, 1].find((b) => rest.kvTile % b === 0)! : qkBlock,
  }));
