/**
 * The reference interpreter: evaluates any graph in float64 with plain loops over
 * index space. It is the oracle of every test, so it is deliberately naive and
 * shares no code with the lowering (only the IR types and the size solver).
 */
import { fail } from '../errors.ts';
import { BINARY, REDUCE, resolveSizes, UNARY, type Graph, type Node } from '../ir/index.ts';

/** A dense row-major array over named axes. */
export interface InterpArray {
  axes: string[];
  shape: number[];
  data: Float64Array;
}

/** The outputs of {@link interpret}, by output name. */
export type InterpResult = Record<string, InterpArray>;

/** Input values: any array of numbers (f16 inputs too take values, not bits; i8 inputs integers in -128..127). */
export type InterpInput = ArrayLike<number>;

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/**
 * Evaluates `graph` on `inputs` with the sizes `dims`, in float64 (i32 tensors with
 * 32-bit integer semantics: wrapping, truncating division as in WGSL).
 * @example const { o } = interpret(g, { q, k, v }, { b: 1, h: 2, s: 4, t: 4, d: 8 })
 */
export function interpret(graph: Graph, inputs: Record<string, InterpInput>, dims: Record<string, number>): InterpResult {
  const sizes = resolveSizes(graph, dims);
  const values = new Map<number, InterpArray>();
  checkInputs(graph, inputs, sizes);
  for (const n of graph.nodes)
    values.set(
      n.id,
      evalNode(n, (c) => values.get(c.id)!, sizes, inputs),
    );
  const out: InterpResult = {};
  for (const o of graph.outputs) out[o.name] = values.get(o.node.id)!;
  return out;
}

function shapeOf(axes: readonly string[], sizes: Record<string, number>): number[] {
  return axes.map((a) => sizes[a]!);
}

function describe(axes: readonly string[], sizes: Record<string, number>): string {
  return `[${axes.map((a) => `${a}=${sizes[a]}`).join(' ')}]`;
}

function checkInputs(graph: Graph, inputs: Record<string, InterpInput>, sizes: Record<string, number>): void {
  if (inputs === null || typeof inputs !== 'object') fail('BAD_INPUT', `graph '${graph.name}': inputs must be an object of arrays`);
  const names = new Set(graph.inputs.map((i) => i.name));
  for (const k of Object.keys(inputs)) if (!names.has(k)) fail('BAD_INPUT', `graph '${graph.name}': unknown input '${k}' (inputs: ${[...names].join(', ')})`);
  for (const inp of graph.inputs) {
    const arr = inputs[inp.name];
    const count = shapeOf(inp.axes, sizes).reduce((p, x) => p * x, 1);
    const want = `${inp.dtype}${describe(inp.axes, sizes)} (${count} values)`;
    if (arr === undefined || arr === null || typeof arr !== 'object' || typeof arr.length !== 'number')
      fail('BAD_INPUT', `graph '${graph.name}': input '${inp.name}' is missing; expected ${want}`);
    if (inp.dtype === 'f16' && arr instanceof Uint16Array)
      fail('BAD_INPUT', `input '${inp.name}': the interpreter takes f16 values as numbers (e.g. a Float32Array), not a Uint16Array of bits`);
    if (arr.length !== count) fail('BAD_INPUT', `input '${inp.name}' has ${arr.length} values; expected ${want}`);
    if (inp.dtype === 'i32' || inp.dtype === 'i8') {
      const [lo, hi] = inp.dtype === 'i8' ? [-128, 127] : [I32_MIN, I32_MAX];
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i]!;
        if (!Number.isInteger(v) || v < lo || v > hi) fail('BAD_INPUT', `input '${inp.name}' is ${inp.dtype} (integers ${lo}..${hi}) but value ${i} is ${v}`);
        if (inp.max !== undefined && (v < 0 || v > sizes[inp.max]!))
          fail('INDEX_RANGE', `input '${inp.name}' (values 0..${inp.max}): value ${i} is ${v}, outside 0..${sizes[inp.max]}`);
      }
    }
  }
}

/** Strides of `src` axes laid over `out` axes (0 where `src` lacks the axis: broadcast). */
function stridesIn(src: InterpArray, out: readonly string[]): number[] {
  // a Map: an axis called 'toString' that `src` lacks must broadcast, not find Object.prototype's
  const own = new Map<string, number>();
  let s = 1;
  for (let i = src.axes.length - 1; i >= 0; i--) {
    own.set(src.axes[i]!, s);
    s *= src.shape[i]!;
  }
  return out.map((a) => own.get(a) ?? 0);
}

/** Calls `f(offsets…)` for each point of `shape`, with one running offset per stride list. */
function forEachIndex(shape: readonly number[], strides: readonly number[][], f: (offs: number[], idx: number[]) => void): void {
  const total = shape.reduce((p, x) => p * x, 1);
  const idx = shape.map(() => 0);
  const offs = strides.map(() => 0);
  for (let n = 0; n < total; n++) {
    f(offs, idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < strides.length; k++) offs[k]! += strides[k]![d]!;
      if (idx[d]! < shape[d]!) break;
      for (let k = 0; k < strides.length; k++) offs[k]! -= strides[k]![d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

function toI32(x: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.trunc(Math.min(I32_MAX, Math.max(I32_MIN, x))) || 0; // an integer has no -0
}

/** A cast to i8: as to i32, then saturated to -128..127. */
function toI8(x: number): number {
  return Math.min(127, Math.max(-128, toI32(x)));
}

/** Evaluates `f` elementwise over `out` axes, broadcasting each argument by name. */
function elementwise(axes: readonly string[], sizes: Record<string, number>, args: InterpArray[], f: (v: number[]) => number): InterpArray {
  const shape = shapeOf(axes, sizes);
  const data = new Float64Array(shape.reduce((p, x) => p * x, 1));
  const strides = args.map((a) => stridesIn(a, axes));
  const vals = args.map(() => 0);
  let i = 0;
  forEachIndex(shape, strides, (offs) => {
    for (let k = 0; k < args.length; k++) vals[k] = args[k]!.data[offs[k]!]!;
    data[i++] = f(vals);
  });
  return { axes: [...axes], shape, data };
}

function evalNode(n: Node, get: (n: Node) => InterpArray, sizes: Record<string, number>, inputs: Record<string, InterpInput>): InterpArray {
  const axes = [...n.axes];
  const shape = shapeOf(axes, sizes);
  const total = shape.reduce((p, x) => p * x, 1);
  const isInt = n.dtype === 'i32';
  switch (n.op) {
    case 'input':
      return { axes, shape, data: Float64Array.from(inputs[n.name]!) };
    case 'const':
      return { axes, shape, data: Float64Array.of(n.value) };
    case 'size':
      return { axes, shape, data: Float64Array.of(sizes[n.size]!) };
    case 'index':
      return { axes, shape, data: Float64Array.from({ length: total }, (_, i) => i) };
    case 'unary': {
      const op = UNARY[n.fn];
      return elementwise(axes, sizes, [get(n.x)], (v) => op.interp(v[0]!, isInt));
    }
    case 'binary': {
      const op = BINARY[n.fn];
      const int = n.a.dtype === 'i32' && n.b.dtype === 'i32';
      return elementwise(axes, sizes, [get(n.a), get(n.b)], (v) => op.interp(v[0]!, v[1]!, int));
    }
    case 'select':
      return elementwise(axes, sizes, [get(n.cond), get(n.a), get(n.b)], (v) => (v[0] ? v[1]! : v[2]!));
    case 'cast': {
      const x = get(n.x);
      const f = n.dtype === 'i32' ? toI32 : n.dtype === 'i8' ? toI8 : n.dtype === 'bool' ? (v: number) => +(v !== 0) : (v: number) => v;
      return { axes, shape, data: x.data.map(f) };
    }
    case 'einsum': {
      const ops = n.operands.map(get);
      const contracted = [...new Set(ops.flatMap((o) => o.axes))].filter((a) => !axes.includes(a));
      const all = [...axes, ...contracted];
      const fullShape = shapeOf(all, sizes);
      const data = new Float64Array(total);
      const per = fullShape.slice(axes.length).reduce((p, x) => p * x, 1);
      const strides = ops.map((o) => stridesIn(o, all));
      let i = 0;
      forEachIndex(fullShape, strides, (offs) => {
        let prod = 1;
        for (let k = 0; k < ops.length; k++) prod *= ops[k]!.data[offs[k]!]!;
        data[Math.floor(i++ / per)]! += prod;
      });
      return { axes, shape, data };
    }
    case 'reduce': {
      // each output element's values in index order, then the op's rule over them
      const x = get(n.x);
      const all = [...axes, ...n.over];
      const per = shapeOf(n.over, sizes).reduce((p, v) => p * v, 1);
      const rows: number[][] = Array.from({ length: total }, () => []);
      let i = 0;
      forEachIndex(shapeOf(all, sizes), [stridesIn(x, all)], (offs) => {
        rows[Math.floor(i++ / per)]!.push(x.data[offs[0]!]!);
      });
      return { axes, shape, data: Float64Array.from(rows, REDUCE[n.fn].interp) };
    }
    case 'softmax':
      return softmax(n.axis, axes, sizes, get(n.x), n.mask && get(n.mask), n.sink && get(n.sink));
    case 'view':
      return view(n, get(n.x), sizes);
    case 'gather':
      return gather(n, get(n.src), get(n.index), sizes);
    case 'scan':
      return rowwise(get(n.x), n.axis, axes, n.axis, sizes, (row) => cumsum(row, isInt));
    case 'topk':
      return rowwise(get(n.x), n.axis, axes, n.into, sizes, (row) => topk(row, n.k));
  }
}

/**
 * Applies `f` to each row of `x` along `axis` (its values in index order) and writes what it
 * returns along `outAxis` of a new array with axes `outAxes` (the row axes and `outAxis`).
 */
function rowwise(x: InterpArray, axis: string, outAxes: string[], outAxis: string, sizes: Record<string, number>, f: (row: number[]) => number[]): InterpArray {
  const rowAxes = x.axes.filter((a) => a !== axis);
  const shape = shapeOf(outAxes, sizes);
  const out: InterpArray = { axes: outAxes, shape, data: new Float64Array(shape.reduce((p, v) => p * v, 1)) };
  const [xs] = stridesIn(x, [axis]);
  const [os] = stridesIn(out, [outAxis]);
  const len = sizes[axis]!;
  forEachIndex(shapeOf(rowAxes, sizes), [stridesIn(x, rowAxes), stridesIn(out, rowAxes)], (offs) => {
    const row = Array.from({ length: len }, (_, j) => x.data[offs[0]! + j * xs!]!);
    f(row).forEach((v, j) => (out.data[offs[1]! + j * os!] = v));
  });
  return out;
}

/** The inclusive prefix sums of a row, in index order (i32: wrapping). */
function cumsum(row: number[], int: boolean): number[] {
  let acc = 0;
  return row.map((v) => (acc = int ? (acc + v) | 0 : acc + v));
}

/** The positions of the k largest values, largest first, ties to the lower position; NaN ranks as -inf; -1 past the row. */
function topk(row: number[], k: number): number[] {
  const key = (v: number) => (Number.isNaN(v) ? -Infinity : v);
  const order = row.map((_, j) => j).sort((i, j) => key(row[j]!) - key(row[i]!) || i - j);
  return Array.from({ length: k }, (_, j) => order[j] ?? -1);
}

/**
 * Masked softmax along `axis`. An entry takes part when its mask is true and its
 * logit is not -inf; a row where none does is all zeros. A sink joins the
 * denominator only.
 */
function softmax(axis: string, axes: string[], sizes: Record<string, number>, x: InterpArray, mask?: InterpArray, sink?: InterpArray): InterpArray {
  const rowAxes = axes.filter((a) => a !== axis);
  const all = [...rowAxes, axis];
  const len = sizes[axis]!;
  const shape = shapeOf(axes, sizes);
  const data = new Float64Array(shape.reduce((p, v) => p * v, 1));
  const outStrides = stridesIn({ axes, shape, data }, all);
  const strides = [stridesIn(x, all), mask ? stridesIn(mask, all) : all.map(() => 0), outStrides];
  const sinkStrides = sink ? stridesIn(sink, all) : null;
  const logits: number[] = [];
  const live: boolean[] = [];
  const outs: number[] = [];
  let sinkValue = -Infinity;
  forEachIndex(shapeOf(all, sizes), [...strides, sinkStrides ?? all.map(() => 0)], (offs) => {
    const v = x.data[offs[0]!]!;
    logits.push(v);
    live.push((mask ? mask.data[offs[1]!] !== 0 : true) && v !== -Infinity);
    outs.push(offs[2]!);
    if (sink) sinkValue = sink.data[offs[3]!]!;
    if (logits.length < len) return;
    let m = sink ? sinkValue : -Infinity;
    for (let j = 0; j < len; j++) if (live[j]) m = Math.max(m, logits[j]!);
    if (live.some(Boolean)) {
      let denom = sink ? Math.exp(sinkValue - m) : 0;
      for (let j = 0; j < len; j++) if (live[j]) denom += Math.exp(logits[j]! - m);
      for (let j = 0; j < len; j++) data[outs[j]!] = live[j] ? Math.exp(logits[j]! - m) / denom : 0;
    }
    logits.length = live.length = outs.length = 0;
  });
  return { axes, shape, data };
}

/** Views are index maps: each output multi-index names one source element. */
function view(n: Extract<Node, { op: 'view' }>, x: InterpArray, sizes: Record<string, number>): InterpArray {
  const axes = [...n.axes];
  const shape = shapeOf(axes, sizes);
  const v = n.view;
  if (v.kind === 'split' || v.kind === 'rename') return { axes, shape, data: x.data }; // same row-major order
  const srcStride: Record<string, number> = {};
  let s = 1;
  for (let i = x.axes.length - 1; i >= 0; i--) {
    srcStride[x.axes[i]!] = s;
    s *= x.shape[i]!;
  }
  if (v.kind === 'merge') {
    // the merged axis strides like its parts would, outer first
    const parts = v.from.map((a) => ({ stride: srcStride[a]!, size: sizes[a]! }));
    const data = new Float64Array(x.data.length);
    let i = 0;
    forEachIndex(shape, [], (_, idx) => {
      let off = 0;
      axes.forEach((a, d) => {
        if (a !== v.into) off += idx[d]! * srcStride[a]!;
        else {
          let rest = idx[d]!;
          for (let p = parts.length - 1; p >= 0; p--) {
            off += (rest % parts[p]!.size) * parts[p]!.stride;
            rest = Math.floor(rest / parts[p]!.size);
          }
        }
      });
      data[i++] = x.data[off]!;
    });
    return { axes, shape, data };
  }
  const data = new Float64Array(x.data.length);
  let i = 0;
  forEachIndex(shape, [axes.map((a) => srcStride[a]!)], (offs) => {
    data[i++] = x.data[offs[0]!]!;
  });
  return { axes, shape, data };
}

function gather(n: Extract<Node, { op: 'gather' }>, src: InterpArray, index: InterpArray, sizes: Record<string, number>): InterpArray {
  const axes = [...n.axes];
  const shape = shapeOf(axes, sizes);
  const srcAll = stridesIn(src, axes); // the gathered axis is not in `axes`: stride 0 here
  const axisStride = stridesIn(src, [n.axis])[0]!;
  const limit = sizes[n.axis]!;
  const data = new Float64Array(shape.reduce((p, x) => p * x, 1));
  let i = 0;
  forEachIndex(shape, [srcAll, stridesIn(index, axes)], (offs, idx) => {
    const j = index.data[offs[1]!]!;
    if (!(j >= 0 && j < limit)) {
      const at = index.axes.map((a) => `${a}=${idx[axes.indexOf(a)]}`).join(' ');
      fail('INDEX_RANGE', `gather '${n.axis}': index value ${j} at [${at}] is outside 0..${limit - 1} (size of '${n.axis}')`);
    }
    data[i++] = src.data[offs[0]! + j * axisStride]!;
  });
  return { axes, shape, data };
}
