/**
 * The small kernels of the KV caches, as plans the runtime runs like any other: append
 * new rows in place (a word copy, an int8 quantiser, a paged scatter through the block
 * table) and advance the lengths.
 *
 * Each kernel is built with the kernel IR (`src/kir`, the bottom layer the lowering builds its
 * kernels with too) and written by its one renderer, so the runtime imports nothing from the
 * lowering and applications built on generated modules use these caches with the runtime alone.
 * The bodies are written without noise and rendered as they are, without the lowering's cleanups.
 * Their WGSL names only fixed identifiers (`rows`, `cache`, `kv_len`, the uniform fields `_sz.b` …),
 * never a user's tensor or axis names: a cache's own axis names only name the plan's sizes, so
 * nothing from outside reaches the shader text. See docs/ARCHITECTURE.md.
 */
import {
  add,
  bin,
  bool,
  call,
  chain,
  comment,
  div,
  field,
  flt,
  ge,
  gt,
  hex,
  if_,
  index,
  inline,
  int,
  let_,
  loop,
  lt,
  max,
  mod,
  mul,
  ne,
  or,
  par,
  select,
  set,
  u,
  v,
  var_,
  type Expr,
  type Stmt,
  type Ty,
} from '../../kir/ir.ts';
import { renderModule } from '../../kir/render.ts';
import type { ExecPlan, PlanBuffer, PlanKernel, SizeExpr, StorageDType } from '../plan.ts';

/** One cached tensor: axes `[b, ...heads, token, ...row]` (e.g. 'b g t d'). */
export interface CacheTensorSpec {
  name: string;
  axes: readonly string[];
  dtype: StorageDType;
}

const WG = 64;
const SCHEDULE = `schedule: hand-written runtime kernel, ${WG} invocations per workgroup`;
const prod = (xs: readonly SizeExpr[]): SizeExpr => (xs.length === 0 ? 1 : xs.length === 1 ? xs[0]! : ['*', ...xs]);

/** A storage binding: its fixed WGSL name (also the plan buffer's), access and WGSL element type. */
interface Binding {
  name: string;
  access: 'read' | 'read_write';
  element: Ty;
}
const reads = (name: string, element: Ty): Binding => ({ name, access: 'read', element });
const writes = (name: string, element: Ty): Binding => ({ name, access: 'read_write', element });
/** the lengths every append reads, and the advance updates */
const LENGTHS = [reads('kv_len', 'i32'), reads('counts', 'i32')];

/** What a KV kernel is made of; {@link kernel} turns it into a plan kernel. */
interface KvKernel {
  /** the entry point, also the plan kernel's name */
  name: string;
  /** [title, what it computes…]: the header comment and `about` */
  what: readonly string[];
  bindings: readonly Binding[];
  /** the uniforms, each as [its field in `_Sizes`, the plan size it carries] */
  sizes: readonly (readonly [string, string])[];
  /** the fields whose product is the number of invocations (one per word or row) */
  invocations: readonly string[];
  /** the body after `_gid` and its bound check */
  body: readonly Stmt[];
}

// ---- the fixed names the kernels share ----------------------------------------------------

/** The uniform `_sz`'s field `f` (a size). */
const sz = (f: string): Expr => field(v('_sz'), f);
/** the linear invocation index */
const GID = v('_gid');
/** The variables `names`, as expressions. */
const vars = <T extends string[]>(...names: T) => names.map(v) as { [K in keyof T]: Expr };
const [b, i, bh, len, pos] = vars('b', 'i', 'bh', 'len', 'pos');
/** `if (cond) { return; }`, on one line */
const guard = (cond: Expr): Stmt => inline(if_(cond, [{ k: 'return' }]));

/**
 * A plan kernel: the module around `k.body` (header, bindings, the `_Sizes` uniform, the entry
 * point with the linear invocation index `_gid` and its bound check) rendered to WGSL, and the
 * bindings, uniforms and workgroups the runtime dispatches it with.
 */
function kernel(k: KvKernel): PlanKernel {
  const header = [`einattn kernel ${k.name}: ${k.what[0]}`, ...k.what.slice(1), SCHEDULE];
  const [wid, nwg] = [v('_wid'), v('_nwg')];
  // the workgroup's linear index: the runtime spreads large 1-D counts over x, y and z
  const linear = add(field(wid, 'x'), mul(add(field(wid, 'y'), mul(field(wid, 'z'), field(nwg, 'y'))), field(nwg, 'x')));
  const sizeOf = new Map(k.sizes);
  const wgsl = renderModule({
    header,
    enables: [],
    buffers: k.bindings,
    uniforms: { fields: k.sizes.map(([f]) => f), name: '_sz' },
    workgroup: [],
    helpers: [],
    entry: {
      name: k.name,
      workgroupSize: WG,
      params: [
        { builtin: 'workgroup_id', name: '_wid', ty: 'vec3u' },
        { builtin: 'num_workgroups', name: '_nwg', ty: 'vec3u' },
        { builtin: 'local_invocation_index', name: '_lid', ty: 'u32' },
      ],
      body: [let_('_gid', add(mul(linear, u(WG)), v('_lid'))), guard(ge(GID, chain('*', k.invocations.map(sz), u(1)))), ...k.body],
    },
  });
  return {
    name: k.name,
    wgsl,
    workgroupSize: [WG, 1, 1],
    workgroups: ['cdiv', prod(k.invocations.map((f) => sizeOf.get(f)!)), WG],
    bindings: k.bindings.map((x) => ({ buffer: x.name, access: x.access })),
    uniforms: k.sizes.map(([, s]) => s),
    workgroupStorageBytes: 0,
    about: { title: header[0]!, computes: header.slice(1, -1), schedule: SCHEDULE },
  };
}

function plan(name: string, dynamic: string[], derived: ExecPlan['derivedSizes'], buffers: PlanBuffer[], k: PlanKernel): ExecPlan {
  return { name, dynamicSizes: dynamic, staticSizes: {}, derivedSizes: derived, constraints: [], buffers, kernels: [k] };
}

const lenBuffers = (batch: string): PlanBuffer[] => [
  { name: 'kv_len', dtype: 'i32', shape: [batch], role: 'input', axes: [batch] },
  { name: 'counts', dtype: 'i32', shape: [batch], role: 'input', axes: [batch] },
];

/** The cache's axes split around its token axis: [b], heads, token, row axes. */
export function splitAxes(spec: CacheTensorSpec, token: string): { heads: string[]; row: string[] } {
  const at = spec.axes.indexOf(token);
  return { heads: spec.axes.slice(1, at), row: spec.axes.slice(at + 1) };
}

/** Invocation `_gid` over [b·h, s, w]: its `word` of row `i` of sequence and head `bh`. */
const wordOfRow: Stmt[] = [let_('word', mod(GID, sz('w'))), let_('i', mod(par(div(GID, sz('w'))), sz('s'))), let_('bh', div(GID, mul(sz('w'), sz('s'))))];

/**
 * Where row `i` of sequence `b` goes: token `pos = kv_len[b] + i`; nothing for a negative
 * length, a row past counts[b] or a token at or past `capacity`.
 */
const appendAt = (capacity: Expr): Stmt[] => [
  let_('len', index(v('kv_len'), b)),
  guard(or(lt(len, int(0)), ge(call('i32', i), index(v('counts'), b)))),
  let_('pos', add(call('u32', len), i)),
  guard(ge(pos, capacity)),
];

/** Words per row of a cache of `dtype` (f16 rows are copied as u32 words: an even row). */
const wordsPerRow = (row: readonly string[], dtype: StorageDType): SizeExpr => ['div', ['*', prod(row), dtype === 'f16' ? 2 : 4], 4];

/**
 * Append for a contiguous cache tensor of any 4-byte-aligned row (f32, f16 with an even
 * row, i32): row i of sequence b goes to token kv_len[b] + i when i < counts[b] and that
 * token is below the capacity. Sizes: the tensor's axes, `s` (rows), `_w` (words per row).
 * @example runPlan(appendWordsPlan(spec, 't', 's'), { rows, cache, kv_len, counts }, dims)
 */
export function appendWordsPlan(spec: CacheTensorSpec, token: string, rowsAxis: string): ExecPlan {
  const [batch] = spec.axes;
  const { heads, row } = splitAxes(spec, token);
  const rowAxes = spec.axes.map((a) => (a === token ? rowsAxis : a));
  const [h, w] = ['_h', '_w'];
  const words = kernel({
    name: 'kv_append_words',
    what: [
      'new rows written into a KV cache in place, 4-byte words at a time',
      'cache[b, h, kv_len[b] + i, :] = rows[b, h, i, :] for i < counts[b], up to the capacity t; nothing else is touched',
    ],
    bindings: [reads('rows', 'u32'), writes('cache', 'u32'), ...LENGTHS],
    sizes: [
      ['b', batch!],
      ['h', h],
      ['s', rowsAxis],
      ['t', token],
      ['w', w],
    ],
    invocations: ['b', 'h', 's', 'w'],
    body: [
      ...wordOfRow,
      let_('b', div(bh, sz('h'))),
      ...appendAt(sz('t')),
      set(index(v('cache'), add(mul(add(mul(bh, sz('t')), pos), sz('w')), v('word'))), index(v('rows'), GID)),
    ],
  });
  return plan(
    'kv_append_words',
    [...spec.axes, rowsAxis],
    [
      { name: h, expr: prod(heads) },
      { name: w, expr: wordsPerRow(row, spec.dtype) },
    ],
    [
      { name: 'rows', dtype: spec.dtype, shape: [...rowAxes], role: 'input', axes: [...rowAxes] },
      { name: 'cache', dtype: spec.dtype, shape: [...spec.axes], role: 'input', axes: [...spec.axes] },
      ...lenBuffers(batch!),
    ],
    words,
  );
}

/** The int8 quantiser's body after its row's place: the row's scale, then its packed words. */
function quantiseRow(): Stmt[] {
  const [src, amax, hasNan, scale, slot, word, packed, x, q, c, k] = vars('src', 'amax', 'has_nan', 'scale', 'slot', 'word', 'packed', 'x', 'q', 'c', 'k');
  const rows = (at: Expr) => index(v('rows'), at);
  const wordsPerRow = div(sz('d'), u(4));
  return [
    let_('src', mul(GID, sz('d'))),
    var_('amax', undefined, flt(0)),
    var_('has_nan', undefined, bool(false)),
    loop('c', u(0), sz('d'), [let_('a', call('abs', rows(add(src, c)))), set(hasNan, or(hasNan, ne(v('a'), v('a')))), set(amax, max(amax, v('a')))]),
    comment('a NaN anywhere in the row makes its scale NaN, as in the interpreter (a var: a NaN constant does not compile)'),
    var_('nan_bits', undefined, hex(0x7fc00000)),
    let_('scale', select(div(amax, flt(127)), call('bitcast<f32>', v('nan_bits')), hasNan)),
    let_('slot', add(mul(bh, sz('t')), pos)),
    set(index(v('cache_scale'), slot), scale),
    loop('word', u(0), wordsPerRow, [
      var_('packed', undefined, u(0)),
      loop('k', u(0), u(4), [
        let_('x', rows(add(add(src, mul(word, u(4))), k))),
        let_('q', select(flt(0), call('clamp', call('round', div(x, scale)), flt(-128), flt(127)), gt(amax, flt(0)))),
        set(packed, bin('|', packed, bin('<<', bin('&', call('bitcast<u32>', call('i32', q)), hex(0xff)), mul(u(8), k)))),
      ]),
      set(index(v('cache_q'), add(mul(slot, wordsPerRow), word)), packed),
    ]),
  ];
}

/**
 * Append for an int8 cache tensor: each new f32 row is quantised (scale = max|x| / 127,
 * q = round-half-even(x / scale), 0 for an all-zero row, as `quantizeInt8`) and its packed
 * words and scale are written at token kv_len[b] + i. One invocation per row; rows are whole words (row % 4 = 0).
 * @example runPlan(appendInt8Plan(spec, 't', 's'), { rows, cache_q, cache_scale, kv_len, counts }, dims)
 */
export function appendInt8Plan(spec: CacheTensorSpec, token: string, rowsAxis: string): ExecPlan {
  const [batch] = spec.axes;
  const { heads, row } = splitAxes(spec, token);
  const rowAxes = spec.axes.map((a) => (a === token ? rowsAxis : a));
  const scaleAxes = spec.axes.filter((a) => !row.includes(a));
  const [h, d] = ['_h', '_d'];
  const int8 = kernel({
    name: 'kv_append_int8',
    what: [
      'new f32 rows quantised to int8 (absmax per row) and written into the cache in place',
      'scale = max|x| / 127; q = round(x / scale) (0 for an all-zero row); four q per word, little-endian',
    ],
    bindings: [reads('rows', 'f32'), writes('cache_q', 'u32'), writes('cache_scale', 'f32'), ...LENGTHS],
    sizes: [
      ['b', batch!],
      ['h', h],
      ['s', rowsAxis],
      ['t', token],
      ['d', d],
    ],
    invocations: ['b', 'h', 's'],
    body: [let_('i', mod(GID, sz('s'))), let_('bh', div(GID, sz('s'))), let_('b', div(bh, sz('h'))), ...appendAt(sz('t')), ...quantiseRow()],
  });
  return plan(
    'kv_append_int8',
    [...spec.axes, rowsAxis],
    [
      { name: h, expr: prod(heads) },
      { name: d, expr: prod(row) },
    ],
    [
      { name: 'rows', dtype: 'f32', shape: [...rowAxes], role: 'input', axes: [...rowAxes] },
      { name: 'cache_q', dtype: 'i8', shape: [...spec.axes], role: 'input', axes: [...spec.axes] },
      { name: 'cache_scale', dtype: 'f32', shape: [...scaleAxes], role: 'input', axes: [...scaleAxes] },
      ...lenBuffers(batch!),
    ],
    int8,
  );
}

/**
 * Append for a paged pool `[n, ...heads, blk, ...row]`: token p = kv_len[b] + i of sequence b
 * goes to block block_table[b, p / blk] at offset p % blk. Entries are read only for the
 * tokens written; a negative or out-of-pool entry writes nothing.
 * @example runPlan(appendPagedPlan(spec, 's'), { rows, pool, block_table, kv_len, counts }, dims)
 */
export function appendPagedPlan(spec: CacheTensorSpec, rowsAxis: string, batch = 'b', m = 'm'): ExecPlan {
  const [n, ...rest] = spec.axes;
  const blk = 'blk';
  const heads = rest.slice(0, rest.indexOf(blk));
  const row = rest.slice(rest.indexOf(blk) + 1);
  const rowAxes = [batch, ...heads, rowsAxis, ...row];
  const [h, w] = ['_h', '_w'];
  const block = v('block');
  const inPool = add(mul(add(mul(call('u32', block), sz('h')), v('head')), sz('blk')), mod(pos, sz('blk')));
  const paged = kernel({
    name: 'kv_append_paged',
    what: [
      'new rows written into a paged KV pool in place, through the block table',
      'token p = kv_len[b] + i of sequence b lives in block block_table[b, p / blk] at offset p % blk (i < counts[b])',
    ],
    bindings: [reads('rows', 'u32'), writes('pool', 'u32'), reads('block_table', 'i32'), ...LENGTHS],
    sizes: [
      ['b', batch],
      ['h', h],
      ['s', rowsAxis],
      ['n', n!],
      ['blk', blk],
      ['m', m],
      ['w', w],
    ],
    invocations: ['b', 'h', 's', 'w'],
    body: [
      ...wordOfRow,
      let_('head', mod(bh, sz('h'))),
      let_('b', div(bh, sz('h'))),
      ...appendAt(mul(sz('m'), sz('blk'))),
      let_('block', index(v('block_table'), add(mul(b, sz('m')), div(pos, sz('blk'))))),
      guard(or(lt(block, int(0)), ge(call('u32', block), sz('n')))),
      set(index(v('pool'), add(mul(inPool, sz('w')), v('word'))), index(v('rows'), GID)),
    ],
  });
  return plan(
    'kv_append_paged',
    [...spec.axes, batch, m, rowsAxis],
    [
      { name: h, expr: prod(heads) },
      { name: w, expr: wordsPerRow(row, spec.dtype) },
    ],
    [
      { name: 'rows', dtype: spec.dtype, shape: [...rowAxes], role: 'input', axes: [...rowAxes] },
      { name: 'pool', dtype: spec.dtype, shape: [...spec.axes], role: 'input', axes: [...spec.axes] },
      { name: 'block_table', dtype: 'i32', shape: [batch, m], role: 'input', axes: [batch, m] },
      ...lenBuffers(batch),
    ],
    paged,
  );
}

/**
 * kv_len[b] += counts[b] on the device, after the appends of a step and before its attention.
 * @example runPlan(advancePlan('b'), { kv_len, counts }, { b: 4 })
 */
export function advancePlan(batch = 'b'): ExecPlan {
  const at = (buffer: string) => index(v(buffer), GID);
  const advance = kernel({
    name: 'kv_advance',
    what: ['the sequence lengths advance by the rows just appended'],
    bindings: [writes('kv_len', 'i32'), reads('counts', 'i32')],
    sizes: [['b', batch]],
    invocations: ['b'],
    body: [set(at('kv_len'), add(at('kv_len'), at('counts')))],
  });
  return plan('kv_advance', [batch], [], lenBuffers(batch), advance);
}

/**
 * The sizes of `dims` that a plan takes (the caches keep more, for the attention).
 * @example sizesFor(advancePlan(), { b: 2, g: 8, t: 64 }) // { b: 2 }
 */
export function sizesFor(plan: ExecPlan, dims: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(plan.dynamicSizes.filter((n) => Object.hasOwn(dims, n)).map((n) => [n, dims[n]!]));
}
