/**
 * The small kernels of the KV caches, as plans the runtime runs like any other: append
 * new rows in place (a word copy, an int8 quantiser, a paged scatter through the block
 * table) and advance the lengths. Their WGSL names only fixed identifiers, never a
 * user's tensor names, so nothing from outside reaches the shader text.
 *
 * They are hand-written WGSL templates rather than kernel IR on purpose: the runtime may not
 * import the lowering (imports go DSL → IR → lowering → runtime), and applications built on
 * generated modules use these caches with the runtime alone. See docs/ARCHITECTURE.md.
 */
import type { ExecPlan, PlanBuffer, PlanKernel, SizeExpr, StorageDType } from '../plan.ts';

/** One cached tensor: axes `[b, ...heads, token, ...row]` (e.g. 'b g t d'). */
export interface CacheTensorSpec {
  name: string;
  axes: readonly string[];
  dtype: StorageDType;
}

const WG = 64;
const prod = (xs: readonly SizeExpr[]): SizeExpr => (xs.length === 0 ? 1 : xs.length === 1 ? xs[0]! : ['*', ...xs]);

const PREAMBLE = (entry: string, sizes: readonly string[], bindings: readonly string[], what: readonly string[]) => [
  `// einattn kernel ${entry}: ${what[0]}`,
  ...what.slice(1).map((l) => `// ${l}`),
  '',
  `struct _Sizes { ${sizes.map((s) => `${s}: u32`).join(', ')} }`,
  ...bindings.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b};`),
  `@group(0) @binding(${bindings.length}) var<uniform> _sz: _Sizes;`,
  '',
  `@compute @workgroup_size(${WG})`,
  `fn ${entry}(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {`,
  `  let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * ${WG}u + _lid;`,
];

/** The cache's axes split around its token axis: [b], heads, token, row axes. */
export function splitAxes(spec: CacheTensorSpec, token: string): { heads: string[]; row: string[] } {
  const at = spec.axes.indexOf(token);
  return { heads: spec.axes.slice(1, at), row: spec.axes.slice(at + 1) };
}

/** A plan kernel; `what` (also its header comment) is its description for explain(). */
function kernel(name: string, wgsl: string[], what: readonly string[], workgroups: SizeExpr, bindings: PlanKernel['bindings'], uniforms: string[]): PlanKernel {
  const about = {
    title: `einattn kernel ${name}: ${what[0]}`,
    computes: what.slice(1),
    schedule: `schedule: hand-written runtime kernel, ${WG} invocations per workgroup`,
  };
  return { name, wgsl: wgsl.join('\n') + '\n', workgroupSize: [WG, 1, 1], workgroups, bindings, uniforms, workgroupStorageBytes: 0, about };
}

function plan(name: string, dynamic: string[], derived: ExecPlan['derivedSizes'], buffers: PlanBuffer[], k: PlanKernel): ExecPlan {
  return { name, dynamicSizes: dynamic, staticSizes: {}, derivedSizes: derived, constraints: [], buffers, kernels: [k] };
}

const lenBuffers = (b: string): PlanBuffer[] => [
  { name: 'kv_len', dtype: 'i32', shape: [b], role: 'input', axes: [b] },
  { name: 'counts', dtype: 'i32', shape: [b], role: 'input', axes: [b] },
];

/**
 * Append for a contiguous cache tensor of any 4-byte-aligned row (f32, f16 with an even
 * row, i32): row i of sequence b goes to token kv_len[b] + i when i < counts[b] and that
 * token is below the capacity. Sizes: the tensor's axes, `s` (rows), `_w` (words per row).
 * @example runPlan(appendWordsPlan(spec, 't', 's'), { rows, cache, kv_len, counts }, dims)
 */
export function appendWordsPlan(spec: CacheTensorSpec, token: string, rowsAxis: string): ExecPlan {
  const [b] = spec.axes;
  const { heads, row } = splitAxes(spec, token);
  const bytes = spec.dtype === 'f16' ? 2 : 4;
  const rowAxes = spec.axes.map((a) => (a === token ? rowsAxis : a));
  const w = '_w';
  const h = '_h';
  const what = [
    'new rows written into a KV cache in place, 4-byte words at a time',
    'cache[b, h, kv_len[b] + i, :] = rows[b, h, i, :] for i < counts[b], up to the capacity t; nothing else is touched',
  ];
  const wgsl = [
    ...PREAMBLE(
      'kv_append_words',
      ['b', 'h', 's', 't', 'w'],
      ['read> rows: array<u32>', 'read_write> cache: array<u32>', 'read> kv_len: array<i32>', 'read> counts: array<i32>'],
      what,
    ),
    '  if (_gid >= _sz.b * _sz.h * _sz.s * _sz.w) { return; }',
    '  let word = _gid % _sz.w;',
    '  let i = (_gid / _sz.w) % _sz.s;',
    '  let bh = _gid / (_sz.w * _sz.s);',
    '  let b = bh / _sz.h;',
    '  let len = kv_len[b];',
    '  if (len < 0 || i32(i) >= counts[b]) { return; }',
    '  let pos = u32(len) + i;',
    '  if (pos >= _sz.t) { return; }',
    '  cache[(bh * _sz.t + pos) * _sz.w + word] = rows[_gid];',
    '}',
  ];
  const count: SizeExpr = ['*', b!, h, rowsAxis, w];
  return plan(
    'kv_append_words',
    [...spec.axes, rowsAxis],
    [
      { name: h, expr: prod(heads) },
      { name: w, expr: ['div', ['*', prod(row), bytes], 4] },
    ],
    [
      { name: 'rows', dtype: spec.dtype, shape: [...rowAxes], role: 'input', axes: [...rowAxes] },
      { name: 'cache', dtype: spec.dtype, shape: [...spec.axes], role: 'input', axes: [...spec.axes] },
      ...lenBuffers(b!),
    ],
    kernel(
      'kv_append_words',
      wgsl,
      what,
      ['cdiv', count, WG],
      [
        { buffer: 'rows', access: 'read' },
        { buffer: 'cache', access: 'read_write' },
        { buffer: 'kv_len', access: 'read' },
        { buffer: 'counts', access: 'read' },
      ],
      [b!, h, rowsAxis, token, w],
    ),
  );
}

/**
 * Append for an int8 cache tensor: each new f32 row is quantised (scale = max|x| / 127,
 * q = round-half-even(x / scale), 0 for an all-zero row, as `quantizeInt8`) and its packed
 * words and scale are written at token kv_len[b] + i. One invocation per row; rows are whole words (row % 4 = 0).
 * @example runPlan(appendInt8Plan(spec, 't', 's'), { rows, cache_q, cache_scale, kv_len, counts }, dims)
 */
export function appendInt8Plan(spec: CacheTensorSpec, token: string, rowsAxis: string): ExecPlan {
  const [b] = spec.axes;
  const { heads, row } = splitAxes(spec, token);
  const rowAxes = spec.axes.map((a) => (a === token ? rowsAxis : a));
  const scaleAxes = spec.axes.filter((a) => !row.includes(a));
  const [h, d] = ['_h', '_d'];
  const what = [
    'new f32 rows quantised to int8 (absmax per row) and written into the cache in place',
    'scale = max|x| / 127; q = round(x / scale) (0 for an all-zero row); four q per word, little-endian',
  ];
  const wgsl = [
    ...PREAMBLE(
      'kv_append_int8',
      ['b', 'h', 's', 't', 'd'],
      [
        'read> rows: array<f32>',
        'read_write> cache_q: array<u32>',
        'read_write> cache_scale: array<f32>',
        'read> kv_len: array<i32>',
        'read> counts: array<i32>',
      ],
      what,
    ),
    '  if (_gid >= _sz.b * _sz.h * _sz.s) { return; }',
    '  let i = _gid % _sz.s;',
    '  let bh = _gid / _sz.s;',
    '  let b = bh / _sz.h;',
    '  let len = kv_len[b];',
    '  if (len < 0 || i32(i) >= counts[b]) { return; }',
    '  let pos = u32(len) + i;',
    '  if (pos >= _sz.t) { return; }',
    '  let src = _gid * _sz.d;',
    '  var amax = 0.0;',
    '  var has_nan = false;',
    '  for (var c = 0u; c < _sz.d; c++) {',
    '    let a = abs(rows[src + c]);',
    '    has_nan = has_nan || a != a;',
    '    amax = max(amax, a);',
    '  }',
    '  // a NaN anywhere in the row makes its scale NaN, as in the interpreter (a var: a NaN constant does not compile)',
    '  var nan_bits = 0x7fc00000u;',
    '  let scale = select(amax / 127.0, bitcast<f32>(nan_bits), has_nan);',
    '  let slot = bh * _sz.t + pos;',
    '  cache_scale[slot] = scale;',
    '  for (var word = 0u; word < _sz.d / 4u; word++) {',
    '    var packed = 0u;',
    '    for (var k = 0u; k < 4u; k++) {',
    '      let x = rows[src + word * 4u + k];',
    '      let q = select(0.0, clamp(round(x / scale), -128.0, 127.0), amax > 0.0);',
    '      packed = packed | ((bitcast<u32>(i32(q)) & 0xffu) << (8u * k));',
    '    }',
    '    cache_q[slot * (_sz.d / 4u) + word] = packed;',
    '  }',
    '}',
  ];
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
      ...lenBuffers(b!),
    ],
    kernel(
      'kv_append_int8',
      wgsl,
      what,
      ['cdiv', ['*', b!, h, rowsAxis], WG],
      [
        { buffer: 'rows', access: 'read' },
        { buffer: 'cache_q', access: 'read_write' },
        { buffer: 'cache_scale', access: 'read_write' },
        { buffer: 'kv_len', access: 'read' },
        { buffer: 'counts', access: 'read' },
      ],
      [b!, h, rowsAxis, token, d],
    ),
  );
}

/**
 * Append for a paged pool `[n, ...heads, blk, ...row]`: token p = kv_len[b] + i of sequence b
 * goes to block block_table[b, p / blk] at offset p % blk. Entries are read only for the
 * tokens written; a negative or out-of-pool entry writes nothing.
 * @example runPlan(appendPagedPlan(spec, 's'), { rows, pool, block_table, kv_len, counts }, dims)
 */
export function appendPagedPlan(spec: CacheTensorSpec, rowsAxis: string, b = 'b', m = 'm'): ExecPlan {
  const [n, ...rest] = spec.axes;
  const blk = 'blk';
  const heads = rest.slice(0, rest.indexOf(blk));
  const row = rest.slice(rest.indexOf(blk) + 1);
  const bytes = spec.dtype === 'f16' ? 2 : 4;
  const rowAxes = [b, ...heads, rowsAxis, ...row];
  const [h, w] = ['_h', '_w'];
  const what = [
    'new rows written into a paged KV pool in place, through the block table',
    'token p = kv_len[b] + i of sequence b lives in block block_table[b, p / blk] at offset p % blk (i < counts[b])',
  ];
  const wgsl = [
    ...PREAMBLE(
      'kv_append_paged',
      ['b', 'h', 's', 'n', 'blk', 'm', 'w'],
      ['read> rows: array<u32>', 'read_write> pool: array<u32>', 'read> block_table: array<i32>', 'read> kv_len: array<i32>', 'read> counts: array<i32>'],
      what,
    ),
    '  if (_gid >= _sz.b * _sz.h * _sz.s * _sz.w) { return; }',
    '  let word = _gid % _sz.w;',
    '  let i = (_gid / _sz.w) % _sz.s;',
    '  let bh = _gid / (_sz.w * _sz.s);',
    '  let head = bh % _sz.h;',
    '  let b = bh / _sz.h;',
    '  let len = kv_len[b];',
    '  if (len < 0 || i32(i) >= counts[b]) { return; }',
    '  let pos = u32(len) + i;',
    '  if (pos >= _sz.m * _sz.blk) { return; }',
    '  let block = block_table[b * _sz.m + pos / _sz.blk];',
    '  if (block < 0 || u32(block) >= _sz.n) { return; }',
    '  pool[((u32(block) * _sz.h + head) * _sz.blk + pos % _sz.blk) * _sz.w + word] = rows[_gid];',
    '}',
  ];
  return plan(
    'kv_append_paged',
    [...spec.axes, b, m, rowsAxis],
    [
      { name: h, expr: prod(heads) },
      { name: w, expr: ['div', ['*', prod(row), bytes], 4] },
    ],
    [
      { name: 'rows', dtype: spec.dtype, shape: [...rowAxes], role: 'input', axes: [...rowAxes] },
      { name: 'pool', dtype: spec.dtype, shape: [...spec.axes], role: 'input', axes: [...spec.axes] },
      { name: 'block_table', dtype: 'i32', shape: [b, m], role: 'input', axes: [b, m] },
      ...lenBuffers(b),
    ],
    kernel(
      'kv_append_paged',
      wgsl,
      what,
      ['cdiv', ['*', b, h, rowsAxis, w], WG],
      [
        { buffer: 'rows', access: 'read' },
        { buffer: 'pool', access: 'read_write' },
        { buffer: 'block_table', access: 'read' },
        { buffer: 'kv_len', access: 'read' },
        { buffer: 'counts', access: 'read' },
      ],
      [b, h, rowsAxis, n!, blk, m, w],
    ),
  );
}

/**
 * kv_len[b] += counts[b] on the device, after the appends of a step and before its attention.
 * @example runPlan(advancePlan('b'), { kv_len, counts }, { b: 4 })
 */
export function advancePlan(b = 'b'): ExecPlan {
  const what = ['the sequence lengths advance by the rows just appended'];
  const wgsl = [
    ...PREAMBLE('kv_advance', ['b'], ['read_write> kv_len: array<i32>', 'read> counts: array<i32>'], what),
    '  if (_gid >= _sz.b) { return; }',
    '  kv_len[_gid] = kv_len[_gid] + counts[_gid];',
    '}',
  ];
  return plan(
    'kv_advance',
    [b],
    [],
    lenBuffers(b),
    kernel(
      'kv_advance',
      wgsl,
      what,
      ['cdiv', b, WG],
      [
        { buffer: 'kv_len', access: 'read_write' },
        { buffer: 'counts', access: 'read' },
      ],
      [b],
    ),
  );
}

/**
 * The sizes of `dims` that a plan takes (the caches keep more, for the attention).
 * @example sizesFor(advancePlan(), { b: 2, g: 8, t: 64 }) // { b: 2 }
 */
export function sizesFor(plan: ExecPlan, dims: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(plan.dynamicSizes.filter((n) => Object.hasOwn(dims, n)).map((n) => [n, dims[n]!]));
}
