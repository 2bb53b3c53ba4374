/**
 * Node constructors with validation: every graph is well formed by construction.
 * The DSL calls these; untyped callers get the same checks at run time.
 */
import { fail } from '../errors.ts';
import { checkName } from './names.ts';
import { BINARY, UNARY } from './ops.ts';
import { mk, type BinaryFn, type DType, type Node, type ReduceFn, type UnaryFn, type ViewKind } from './node.ts';

const FLOAT = new Set<DType>(['f32', 'f16']);
const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'i8'];

/** Formats axes for messages: `[b h s d]`. */
export function fmtAxes(axes: readonly string[]): string {
  return `[${axes.join(' ')}]`;
}

function checkAxes(axes: readonly string[], where: string): void {
  const seen = new Set<string>();
  for (const a of axes) {
    checkName('axis', a, where);
    if (seen.has(a))
      fail('REPEATED_AXIS', `${where}: axis '${a}' appears twice in ${fmtAxes(axes)}; diagonals are not supported, rename one (x.rename('${a}', '${a}2'))`);
    seen.add(a);
  }
}

/** Declares a graph input. */
export function inputNode(name: string, axes: readonly string[], dtype: DType, max?: string): Node {
  checkName('tensor', name, `input '${String(name).slice(0, 40)}'`);
  if (!DTYPES.includes(dtype)) fail('DTYPE', `input '${name}': dtype ${JSON.stringify(dtype)} is not one of ${DTYPES.join(', ')}`);
  checkAxes(axes, `input '${name}'`);
  if (max === undefined) return mk({ op: 'input', name, axes: [...axes], dtype });
  checkName('size', max, `input '${name}' max`);
  if (dtype !== 'i32') fail('DTYPE', `input '${name}': a value bound (max: '${max}') needs an i32 input, got ${dtype}`);
  return mk({ op: 'input', name, axes: [...axes], dtype, max });
}

/** A scalar constant. Integers become i32 only when asked. */
export function constNode(value: number, dtype: DType = 'f32'): Node {
  if (typeof value !== 'number') fail('DTYPE', `constant: expected a number, got ${typeof value}`);
  if (dtype === 'i32' && !Number.isInteger(value)) fail('DTYPE', `constant ${value} is not an integer but was asked for as i32`);
  if (dtype === 'bool') return mk({ op: 'const', value: value ? 1 : 0, axes: [], dtype });
  return mk({ op: 'const', value, axes: [], dtype });
}

/** The index along `axis` (i32). */
export function indexNode(axis: string, blocks?: { of: string; by: string }): Node {
  checkName('axis', axis, `index('${String(axis).slice(0, 40)}')`);
  if (!blocks) return mk({ op: 'index', axis, axes: [axis], dtype: 'i32' });
  const where = `blockIndex('${String(blocks.of).slice(0, 40)}', '${String(blocks.by).slice(0, 40)}', '${axis}')`;
  checkName('axis', blocks.of, where);
  checkName('size', blocks.by, where);
  if (new Set([axis, blocks.of, blocks.by]).size !== 3)
    fail('USAGE', `${where}: the block axis, the axis it blocks and the block size need three different names`);
  return mk({ op: 'index', axis, axes: [axis], dtype: 'i32', blocks: { of: blocks.of, by: blocks.by } });
}

/** The size of axis `size` (i32 scalar). */
export function sizeNode(size: string): Node {
  checkName('size', size, `size('${String(size).slice(0, 40)}')`);
  return mk({ op: 'size', size, axes: [], dtype: 'i32' });
}

/** Axes of a broadcast: `a`'s axes, then `b`'s axes that `a` lacks. */
export function broadcastAxes(a: readonly string[], b: readonly string[]): string[] {
  return [...a, ...b.filter((x) => !a.includes(x))];
}

/** i8 is a storage type: arithmetic, comparisons and reductions see its values as i32. */
function widen(x: Node): Node {
  return x.dtype === 'i8' ? castNode(x, 'i32') : x;
}

function arithType(fn: string, a: Node, b: Node): DType {
  if (a.dtype === 'bool' || b.dtype === 'bool') fail('DTYPE', `${fn}: cannot do arithmetic on a bool (mask) operand; use where(mask, x, y)`);
  if (a.dtype === b.dtype) return a.dtype;
  if (a.dtype === 'i32') return b.dtype;
  if (b.dtype === 'i32') return a.dtype;
  return 'f32'; // f16 with f32
}

/** Elementwise binary op with broadcasting by axis name. */
export function binaryNode(fn: BinaryFn, a0: Node, b0: Node): Node {
  const [a, b] = [widen(a0), widen(b0)];
  const axes = broadcastAxes(a.axes, b.axes);
  const types = BINARY[fn].types;
  if (types === 'logic') {
    if (a.dtype !== 'bool' || b.dtype !== 'bool') fail('DTYPE', `${fn}: both operands must be bool (comparisons), got ${a.dtype} and ${b.dtype}`);
    return mk({ op: 'binary', fn, a, b, axes, dtype: 'bool' });
  }
  let t = arithType(fn, a, b);
  if (types === 'int' && t !== 'i32') fail('DTYPE', `${fn}: operands must be i32, got ${a.dtype} and ${b.dtype}`);
  if (types === 'float' && t === 'i32') t = 'f32'; // WGSL has no integer pow
  // operands share one dtype in the IR, so every later stage sees no mixed arithmetic
  return mk({ op: 'binary', fn, a: castNode(a, t), b: castNode(b, t), axes, dtype: types === 'compare' ? 'bool' : t });
}

/** Elementwise unary op. Float functions of an i32 operand compute in f32. */
export function unaryNode(fn: UnaryFn, x0: Node): Node {
  const x = widen(x0);
  if (UNARY[fn].types === 'bool') {
    if (x.dtype !== 'bool') fail('DTYPE', `not: operand must be bool, got ${x.dtype}`);
    return mk({ op: 'unary', fn, x, axes: x.axes, dtype: 'bool' });
  }
  if (x.dtype === 'bool') fail('DTYPE', `${fn}: cannot apply to a bool (mask) operand`);
  const keepsInt = UNARY[fn].types === 'keeps-int';
  const dtype: DType = x.dtype === 'i32' && !keepsInt ? 'f32' : x.dtype;
  return mk({ op: 'unary', fn, x: dtype !== x.dtype ? castNode(x, dtype) : x, axes: x.axes, dtype });
}

/** Converts to another dtype. A cast to i8 truncates like i32 and then saturates to -128..127. */
export function castNode(x: Node, dtype: DType): Node {
  if (x.dtype === dtype) return x;
  if (!DTYPES.includes(dtype) && dtype !== 'bool') fail('DTYPE', `cast: dtype ${JSON.stringify(dtype)} is not one of ${DTYPES.join(', ')}, bool`);
  if (x.op === 'const' && x.dtype !== 'bool' && dtype !== 'bool' && dtype !== 'i8' && (dtype !== 'i32' || Number.isInteger(x.value)))
    return constNode(x.value, dtype);
  return mk({ op: 'cast', x, axes: x.axes, dtype });
}

/**
 * The axes of `where(cond, a, b)`: those of the value operand with more axes (`a` on a tie),
 * then the other's that it lacks, then the mask's that neither has. The values' layout wins
 * over the mask's, so `where(mask, x, 0)` keeps x's order and feeds the einsum x fed.
 * @example selectAxes(['t', 's'], ['b', 'h', 's', 't'], []) // ['b', 'h', 's', 't']
 */
export function selectAxes(cond: readonly string[], a: readonly string[], b: readonly string[]): string[] {
  const [major, minor] = b.length > a.length ? [b, a] : [a, b];
  return broadcastAxes(broadcastAxes(major, minor), cond);
}

/** `where(cond, a, b)` with broadcasting; the result's axes follow {@link selectAxes}. */
export function selectNode(cond: Node, a0: Node, b0: Node): Node {
  const [a, b] = [widen(a0), widen(b0)];
  if (cond.dtype !== 'bool') fail('DTYPE', `where: the condition must be bool (a comparison), got ${cond.dtype}`);
  const t = arithType('where', a, b);
  return mk({ op: 'select', cond, a: castNode(a, t), b: castNode(b, t), axes: selectAxes(cond.axes, a.axes, b.axes), dtype: t });
}

/**
 * A contraction. `inputs[i]` are the spec's axes of operand i (already checked to
 * equal the operand's axes by the caller), `output` the result axes.
 */
export function einsumNode(spec: string, operands: readonly Node[], output: readonly string[]): Node {
  const all = new Set(operands.flatMap((o) => o.axes));
  output.forEach((a, i) => {
    if (!all.has(a)) fail('UNKNOWN_AXIS', `einsum '${spec}': output axis '${a}' (position ${i + 1}) appears in no operand`);
  });
  checkAxes(output, `einsum '${spec}' output`);
  const dtypes = new Set(operands.map((o) => o.dtype));
  for (const [i, o] of operands.entries()) {
    const hint = o.dtype === 'i8' ? ' (dequantise int8 first: k_q.mul(k_scale))' : '';
    if (!FLOAT.has(o.dtype)) fail('DTYPE', `einsum '${spec}': operand ${i + 1} has dtype ${o.dtype}; einsum operands must be f32 or f16${hint}`);
  }
  if (dtypes.size > 1)
    fail('DTYPE', `einsum '${spec}': operands mix dtypes (${operands.map((o, i) => `operand ${i + 1}: ${o.dtype}`).join(', ')}); cast one first`);
  return mk({ op: 'einsum', spec, operands: [...operands], axes: [...output], dtype: operands[0]!.dtype });
}

function checkHas(x: Node, axis: string, where: string): void {
  if (!x.axes.includes(axis)) fail('UNKNOWN_AXIS', `${where}: axis '${axis}' is not an axis of the operand ${fmtAxes(x.axes)}`);
}

/** Sum or max over the named axes. */
export function reduceNode(fn: ReduceFn, x0: Node, over: readonly string[]): Node {
  let x = widen(x0);
  if (over.length === 0) fail('UNKNOWN_AXIS', `${fn}: name at least one axis to reduce over`);
  for (const a of over) checkHas(x, a, `${fn} over '${over.join(' ')}'`);
  if (x.dtype === 'bool') fail('DTYPE', `${fn}: cannot reduce a bool (mask)`);
  if (fn === 'logsumexp' && x.dtype === 'i32') x = castNode(x, 'f32');
  return mk({ op: 'reduce', fn, x, over: [...over], axes: x.axes.filter((a) => !over.includes(a)), dtype: x.dtype });
}

/** Masked softmax along `axis`; the mask broadcasts and must only use the logits' axes. */
export function softmaxNode(x: Node, axis: string, mask?: Node, sink?: Node): Node {
  checkHas(x, axis, 'softmax');
  if (!FLOAT.has(x.dtype)) fail('DTYPE', `softmax: logits must be f32 or f16, got ${x.dtype}`);
  if (mask) {
    if (mask.dtype !== 'bool') fail('DTYPE', `softmax mask must be bool (a comparison), got ${mask.dtype}`);
    for (const a of mask.axes) if (!x.axes.includes(a)) fail('UNKNOWN_AXIS', `softmax mask: axis '${a}' is not an axis of the logits ${fmtAxes(x.axes)}`);
  }
  if (sink) {
    if (sink.dtype === 'bool') fail('DTYPE', 'softmax sink must be a number, not a mask');
    for (const a of sink.axes)
      if (!x.axes.includes(a) || a === axis) fail('UNKNOWN_AXIS', `softmax sink: axis '${a}' must be one of the logits' axes other than '${axis}'`);
  }
  return mk({ op: 'softmax', x, axis, mask, sink, axes: x.axes, dtype: x.dtype });
}

/** A view: rename, transpose, split or merge axes, without copying. */
export function viewNode(x: Node, view: ViewKind, order?: readonly string[]): Node {
  let axes: string[];
  switch (view.kind) {
    case 'rename':
      checkHas(x, view.from, `rename '${view.from}' -> '${view.to}'`);
      checkName('axis', view.to, `rename '${view.from}' -> '${view.to}'`);
      if (view.from !== view.to && x.axes.includes(view.to))
        fail('REPEATED_AXIS', `rename '${view.from}' -> '${view.to}': the tensor already has an axis '${view.to}'`);
      axes = x.axes.map((a) => (a === view.from ? view.to : a));
      break;
    case 'transpose': {
      const o = order ?? [];
      const where = `transpose to ${fmtAxes(o)}`;
      checkAxes(o, where);
      const missing = x.axes.filter((a) => !o.includes(a));
      const extra = o.filter((a) => !x.axes.includes(a));
      if (extra.length) fail('UNKNOWN_AXIS', `${where}: axis '${extra[0]}' is not an axis of ${fmtAxes(x.axes)}`);
      if (missing.length) fail('UNKNOWN_AXIS', `${where}: axis '${missing[0]}' of ${fmtAxes(x.axes)} is missing`);
      axes = [...o];
      break;
    }
    case 'split': {
      const where = `split '${view.axis}' -> '${view.into.join(' ')}'`;
      checkHas(x, view.axis, where);
      if (view.into.length < 2) fail('SPEC_SYNTAX', `${where}: split into at least two axes`);
      checkAxes(view.into, where);
      for (const a of view.into) if (a !== view.axis && x.axes.includes(a)) fail('REPEATED_AXIS', `${where}: the tensor already has an axis '${a}'`);
      if (view.into.includes(view.axis)) fail('REPEATED_AXIS', `${where}: a part may not reuse the name '${view.axis}'`);
      axes = x.axes.flatMap((a) => (a === view.axis ? view.into : [a]));
      break;
    }
    case 'merge': {
      const where = `merge '${view.from.join(' ')}' -> '${view.into}'`;
      if (view.from.length < 2) fail('SPEC_SYNTAX', `${where}: merge at least two axes`);
      checkAxes(view.from, where);
      for (const a of view.from) checkHas(x, a, where);
      checkName('axis', view.into, where);
      if (x.axes.includes(view.into) && !view.from.includes(view.into)) fail('REPEATED_AXIS', `${where}: the tensor already has an axis '${view.into}'`);
      if (view.from.includes(view.into)) fail('REPEATED_AXIS', `${where}: the merged axis may not reuse the name '${view.into}'`);
      const first = x.axes.findIndex((a) => view.from.includes(a));
      axes = x.axes.filter((a) => !view.from.includes(a));
      axes.splice(first, 0, view.into);
      break;
    }
  }
  return mk({ op: 'view', x, view, axes, dtype: x.dtype });
}

/** Gathers `src` along `axis` through the i32 tensor `index` (paged KV caches). */
export function gatherNode(src: Node, axis: string, index0: Node): Node {
  const index = widen(index0);
  const where = `gather '${axis}'`;
  checkHas(src, axis, where);
  if (index.dtype !== 'i32') fail('DTYPE', `${where}: the index tensor must be i32, got ${index.dtype}`);
  if (index.axes.includes(axis)) fail('REPEATED_AXIS', `${where}: the index tensor may not have the gathered axis '${axis}'`);
  const pos = src.axes.indexOf(axis);
  const fresh = index.axes.filter((a) => !src.axes.includes(a));
  const axes = [...src.axes.slice(0, pos), ...fresh, ...src.axes.slice(pos + 1)];
  return mk({ op: 'gather', src, axis, index, axes, dtype: src.dtype });
}

/** The inclusive prefix sum of `x` along `axis` (`cumsum`); i8 is summed as i32. */
export function scanNode(x0: Node, axis: string): Node {
  const x = widen(x0);
  checkHas(x, axis, `cumsum over '${axis}'`);
  if (x.dtype === 'bool') fail('DTYPE', `cumsum over '${axis}': cannot sum a bool (mask); use where(mask, 1, 0)`);
  return mk({ op: 'scan', fn: 'sum', x, axis, axes: x.axes, dtype: x.dtype });
}

/**
 * The i32 positions of the `k` largest entries of `x` along `axis` (largest first, ties to the
 * lower index, NaN ranked as -inf), with `axis` replaced by the new axis `into` of size k.
 */
export function topkNode(x0: Node, axis: string, k: number, into: string): Node {
  const x = widen(x0);
  const where = `topk over '${axis}'`;
  checkHas(x, axis, where);
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1)
    fail('BAD_SIZE', `${where}: k must be a positive integer, got ${typeof k === 'number' ? k : JSON.stringify(k)}`);
  checkName('axis', into, `${where} into`);
  if (into !== axis && x.axes.includes(into))
    fail('REPEATED_AXIS', `${where}: the tensor already has an axis '${into}' for the k = ${k} positions; name a new one`);
  if (into === axis) fail('REPEATED_AXIS', `${where}: the new axis of the k = ${k} positions needs a name other than '${axis}'`);
  if (x.dtype === 'bool') fail('DTYPE', `${where}: cannot rank a bool (mask); use where(mask, x, -Infinity)`);
  return mk({ op: 'topk', x, axis, k, into, axes: x.axes.map((a) => (a === axis ? into : a)), dtype: 'i32' });
}
