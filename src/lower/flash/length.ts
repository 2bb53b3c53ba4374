/**
 * The declared length of the KV axis: a mask conjunct `t < L` (a KV cache's `t < kv_len[b]`)
 * with `L` independent of the key and of the query rows says that no key at or past `L` can
 * carry weight. The flash kernel then ends its key range at `min(T, L)` per batch index: it
 * neither loops over the tiles past it nor loads K, V or a gather index there, so NaN or
 * garbage in the unused part of a cache (and padding in a block table) never reaches the
 * output. A masked multiply by zero would not do: 0 · NaN is NaN.
 */
import type { Node } from '../../ir/index.ts';
import { add, call, int, let_, sub, type Expr, type Stmt } from '../../kir/ir.ts';
import type { Env, Scope } from '../wgsl.ts';

/** The end of the key range a mask declares: keys `t < end` (or `t <= end` when inclusive) may be live. */
export interface KvLength {
  /** an i32 tensor over batch axes only (e.g. the input `kv_len` [b]) */
  end: Node;
  /** the conjunct was `t <= end`: the range ends at end + 1 */
  inclusive: boolean;
}

type Binary = Extract<Node, { op: 'binary' }>;

/**
 * The length bound found in the top-level AND-tree of `mask`, where `t` is the key axis and
 * `batch` the axes a bound may vary over (one key range per workgroup). The first bound in
 * the tree wins; the mask itself is still evaluated, so a second one stays exact.
 * @example kvLength(index('t').lt(input('kv_len', 'b', 'i32')).and(index('t').le(index('s'))).node, 't', ['b'])?.inclusive // false
 */
export function kvLength(mask: Node | undefined, t: string, batch: readonly string[]): KvLength | undefined {
  if (!mask) return undefined;
  if (mask.op === 'binary' && mask.fn === 'and') return kvLength(mask.a, t, batch) ?? kvLength(mask.b, t, batch);
  return mask.op === 'binary' ? boundOf(mask, t, batch) : undefined;
}

/** `index(t) < X`, `X > index(t)` and their `<=` / `>=` forms, with X an i32 over `batch` axes only. */
function boundOf(c: Binary, t: string, batch: readonly string[]): KvLength | undefined {
  const isKey = (n: Node) => n.op === 'index' && n.axis === t;
  const ok = (x: Node) => x.dtype === 'i32' && x.axes.every((a) => batch.includes(a));
  const pick = (key: Node, end: Node, inclusive: boolean) => (isKey(key) && ok(end) ? { end, inclusive } : undefined);
  switch (c.fn) {
    case 'lt':
      return pick(c.a, c.b, false);
    case 'le':
      return pick(c.a, c.b, true);
    case 'gt':
      return pick(c.b, c.a, false);
    case 'ge':
      return pick(c.b, c.a, true);
    default:
      return undefined;
  }
}

/**
 * The `let` of the key range's end `min(T, L)` (as a u32, clamped into 0..T so a bad
 * length never widens the range), with `L` evaluated in `scope` at the batch indices `env`:
 * for `t < kv_len[b]` and a dynamic T, `let _tend = u32(clamp(_kv_len3, 0i, i32(_sz.t)));`.
 * @example const stmt = keyEnd(main, len, { b: kir.v('_b') }, kir.field(kir.v('_sz'), 't'), '_tend')
 */
export function keyEnd(scope: Scope, len: KvLength, env: Env, T: Expr, name: string): Stmt {
  const x = scope.value(len.end, env);
  // t <= x: the range ends at x + 1, clamped before the + 1 so that x = i32 max cannot overflow
  const end = len.inclusive ? add(call('clamp', x, int(-1), sub(call('i32', T), int(1))), int(1)) : call('clamp', x, int(0), call('i32', T));
  return let_(name, call('u32', end));
}
