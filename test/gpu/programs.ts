/**
 * A grammar of random DSL programs for property tests: a recipe is plain data (so
 * fast-check prints and shrinks it), `buildProgram` turns it into a graph.
 */
import fc from 'fast-check';
import { compile } from '../../src/compile.ts';
import { constant, einsum, graph, index, input, interpret, resolveSizes, where, type Graph, type Tensor } from '../../src/index.ts';

export const AXES = ['a', 'b', 'c', 'd', 'e'] as const;

export type Step =
  | { op: 'einsum'; x: number; y: number; out: string[] }
  | { op: 'binary'; fn: 'add' | 'sub' | 'mul' | 'maximum' | 'minimum'; x: number; y: number }
  | { op: 'unary'; fn: 'neg' | 'tanh' | 'abs' | 'sin' | 'cos' | 'expTanh' | 'sqrtAbs' | 'sigmoid' | 'elu' | 'floor'; x: number }
  | { op: 'scale'; x: number; c: number }
  | { op: 'reduce'; fn: 'sum' | 'max'; x: number; over: string[] }
  | { op: 'softmax'; x: number; axis: string; mask: null | { i: string; j: string; off: number } }
  | { op: 'where'; x: number; i: string; j: string; off: number; fill: number }
  | { op: 'transpose'; x: number; perm: number[] }
  | { op: 'indexMod'; x: number; axis: string }
  | { op: 'rename'; x: number; from: string; to: string }
  | { op: 'clamp'; x: number; lo: number; hi: number }
  | { op: 'cumsum'; x: number; axis: string }
  /** the positions of the k largest along `axis` into `into`: their values (a gather), or the positions as f32 */
  | { op: 'topk'; x: number; axis: string; k: number; into: string; values: boolean }
  /** where(topkMask(where(i <= j + off, x, -inf), axis, k), x, fill): candidates masked out by -inf first */
  | { op: 'topkMask'; x: number; axis: string; k: number; i: string; j: string; off: number; fill: number };

export interface Recipe {
  sizes: Record<string, number>;
  inputs: string[][];
  steps: Step[];
  tile: [number, number];
  /** stage contractions through workgroup memory */
  shared: boolean;
}

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const subsetOf = (xs: readonly string[]) => fc.shuffledSubarray([...xs]);

/** Random recipes: 1–3 inputs over axes a..e (sizes 1, primes, small composites), 1–5 steps. */
export const recipeArb: fc.Arbitrary<Recipe> = fc
  .record({
    sizes: fc.record(Object.fromEntries(AXES.map((a) => [a, pick([1, 2, 3, 4, 5, 7, 9])])) as Record<string, fc.Arbitrary<number>>),
    inputs: fc.array(
      subsetOf(AXES).filter((x) => x.length <= 3),
      { minLength: 1, maxLength: 3 },
    ),
    seeds: fc.array(fc.tuple(fc.nat(1000), fc.nat(1000), fc.nat(1000), fc.nat(1000)), { minLength: 1, maxLength: 5 }),
    tile: fc.tuple(pick([1, 2, 4]), pick([1, 3, 4])),
    shared: fc.boolean(),
  })
  .map(({ sizes, inputs, seeds, tile, shared }) => ({ sizes, inputs, tile, shared, steps: planSteps(inputs, seeds, sizes) }));

/**
 * Chooses concrete steps from random numbers, tracking each tensor's axes (and their sizes) so
 * every step is valid. Steps that are discontinuous in their operand (floor, top-k, a top-k
 * mask) apply only to tensors whose values are exact in f32, so the GPU and the float64
 * interpreter see the same values and rank them the same way: the inputs, and what exact ops
 * (views, neg, abs, max, min, where, clamp, power-of-two scales, the top-k steps) make of them.
 */
function planSteps(inputs: string[][], seeds: [number, number, number, number][], sizes: Record<string, number>): Step[] {
  const axesOf: string[][] = inputs.map((a) => [...a]);
  const exactOf: boolean[] = inputs.map(() => true);
  const sizeOf = new Map(Object.entries(sizes));
  const steps: Step[] = [];
  for (const [r0, r1, r2, r3] of seeds) {
    const x = r1 % axesOf.length;
    const y = r2 % axesOf.length;
    const ax = axesOf[x]!;
    let step: Step;
    let out: string[];
    let exact = false;
    switch (r0 % 14) {
      case 0: {
        // a scalar has no einsum term (empty operands are a spec error); multiply instead
        if (ax.length === 0 || axesOf[y]!.length === 0) continue;
        const all = [...new Set([...ax, ...axesOf[y]!])];
        const keep = all.filter((_, i) => (r3 >> i) & 1);
        step = { op: 'einsum', x, y, out: keep };
        out = keep;
        break;
      }
      case 1: {
        const fns = ['add', 'sub', 'mul', 'maximum', 'minimum'] as const;
        step = { op: 'binary', fn: fns[r3 % fns.length]!, x, y };
        out = [...ax, ...axesOf[y]!.filter((a) => !ax.includes(a))];
        exact = (step.fn === 'maximum' || step.fn === 'minimum') && exactOf[x]! && exactOf[y]!;
        break;
      }
      case 2: {
        const fns = ['neg', 'tanh', 'abs', 'sin', 'cos', 'expTanh', 'sqrtAbs', 'sigmoid', 'elu', 'floor'] as const;
        const fn = fns[r3 % fns.length]!;
        if (fn === 'floor' && !exactOf[x]) continue;
        step = { op: 'unary', fn, x };
        out = ax;
        exact = (fn === 'neg' || fn === 'abs' || fn === 'floor') && exactOf[x]!;
        break;
      }
      case 3:
        step = { op: 'scale', x, c: [0.5, -2, 0.125, 3][r3 % 4]! };
        out = ax;
        exact = step.c !== 3 && exactOf[x]!;
        break;
      case 4: {
        if (ax.length === 0) continue;
        const over = ax.filter((_, i) => (r3 >> i) & 1);
        if (over.length === 0) over.push(ax[r3 % ax.length]!);
        step = { op: 'reduce', fn: r2 % 2 ? 'sum' : 'max', x, over };
        out = ax.filter((a) => !over.includes(a));
        exact = step.fn === 'max' && exactOf[x]!;
        break;
      }
      case 5: {
        if (ax.length === 0) continue;
        const axis = ax[r3 % ax.length]!;
        const j = ax[(r3 >> 2) % ax.length]!;
        const mask = r2 % 3 === 0 ? null : { i: axis, j, off: (r3 % 5) - 2 };
        step = { op: 'softmax', x, axis, mask };
        out = ax;
        break;
      }
      case 6: {
        if (ax.length === 0) continue;
        const i = ax[r3 % ax.length]!;
        const j = AXES[(r3 >> 3) % AXES.length]!;
        step = { op: 'where', x, i, j, off: (r3 % 3) - 1, fill: [0, -1, 2][r2 % 3]! };
        out = [...ax, ...(ax.includes(j) ? [] : [j])];
        exact = exactOf[x]!;
        break;
      }
      case 7: {
        const perm = ax.map((_, i) => i).sort((a, b) => ((a * 7 + r3) % 5) - ((b * 7 + r3) % 5));
        step = { op: 'transpose', x, perm };
        out = perm.map((p) => ax[p]!);
        exact = exactOf[x]!;
        break;
      }
      case 8: {
        if (ax.length === 0) continue;
        step = { op: 'indexMod', x, axis: ax[r3 % ax.length]! };
        out = ax;
        break;
      }
      case 9: {
        // a fresh name for an axis: later einsums may contract or keep it through the view
        if (ax.length === 0) continue;
        const from = ax[r3 % ax.length]!;
        const to = `${from}${steps.length}`;
        step = { op: 'rename', x, from, to };
        out = ax.map((a) => (a === from ? to : a));
        sizeOf.set(to, sizeOf.get(from)!);
        exact = exactOf[x]!;
        break;
      }
      case 10:
        step = { op: 'clamp', x, lo: -0.5, hi: [0.25, 1][r3 % 2]! };
        out = ax;
        exact = exactOf[x]!;
        break;
      case 11:
        if (ax.length === 0) continue;
        step = { op: 'cumsum', x, axis: ax[r3 % ax.length]! };
        out = ax;
        break;
      case 12: {
        if (ax.length === 0 || !exactOf[x]) continue;
        const axis = ax[r3 % ax.length]!;
        const values = r3 % 2 === 0;
        // positions past the axis are -1: only the positions themselves (not a gather) may have them
        const k = 1 + (r2 % (sizeOf.get(axis)! + (values ? 0 : 2)));
        const into = `${axis}k${steps.length}`;
        step = { op: 'topk', x, axis, k, into, values };
        out = ax.map((a) => (a === axis ? into : a));
        sizeOf.set(into, k);
        exact = true;
        break;
      }
      default: {
        if (ax.length === 0 || !exactOf[x]) continue;
        const axis = ax[r3 % ax.length]!;
        const k = r2 % (sizeOf.get(axis)! + 3);
        step = { op: 'topkMask', x, axis, k, i: ax[(r3 >> 2) % ax.length]!, j: ax[(r3 >> 4) % ax.length]!, off: (r3 % 3) - 1, fill: [0, -1, 2][r2 % 3]! };
        out = ax;
        exact = true;
      }
    }
    steps.push(step);
    axesOf.push(out);
    exactOf.push(exact);
  }
  return steps;
}

/** Builds the graph of a recipe; its output is the last tensor (and, when different, the first step's). */
export function buildProgram(r: Recipe): Graph {
  const ts: Tensor<any>[] = r.inputs.map((axes, i) => input(`in${i}`, axes.join(' ')));
  for (const s of r.steps) ts.push(apply(s, ts));
  const outs: Record<string, Tensor<any>> = { out: ts[ts.length - 1]! };
  if (r.steps.length > 1) outs.first = ts[r.inputs.length]!;
  return graph('random', outs);
}

function apply(s: Step, ts: Tensor<any>[]): Tensor<any> {
  const x = ts[s.op === 'einsum' || s.op === 'binary' ? s.x : s.x]!;
  switch (s.op) {
    case 'einsum': {
      const y = ts[s.y]!;
      return s.x === s.y
        ? einsum(`${x.axes.join(' ')} -> ${s.out.join(' ')}`, x)
        : einsum(`${x.axes.join(' ')}, ${y.axes.join(' ')} -> ${s.out.join(' ')}`, x, y);
    }
    case 'binary':
      return (x as any)[s.fn](ts[s.y]!);
    case 'unary':
      if (s.fn === 'expTanh') return x.tanh().exp();
      if (s.fn === 'sqrtAbs') return x.abs().sqrt();
      return (x as any)[s.fn]();
    case 'clamp':
      return x.clamp(s.lo, s.hi);
    case 'cumsum':
      return x.cumsum(s.axis);
    case 'topk': {
      const at = x.topk(s.axis, s.k, s.into);
      return s.values ? x.gather(s.axis, at) : at.cast('f32');
    }
    case 'topkMask': {
      const candidates = where(index(s.i).le(index(s.j).add(constant(s.off, 'i32'))), x, -Infinity);
      return where(candidates.topkMask(s.axis, s.k), x, s.fill);
    }
    case 'scale':
      return x.mul(s.c);
    case 'reduce':
      return s.fn === 'sum' ? x.sum(s.over.join(' ')) : x.max(s.over.join(' '));
    case 'softmax':
      return x.softmax(s.axis, s.mask ? { mask: index(s.mask.i).le(index(s.mask.j).add(constant(s.mask.off, 'i32'))) } : {});
    case 'where':
      return where(index(s.i).le(index(s.j).add(constant(s.off, 'i32'))), x, s.fill);
    case 'transpose':
      return x.axes.length < 2 ? x : x.transpose(s.perm.map((p) => x.axes[p]).join(' '));
    case 'indexMod':
      return x.add(index(s.axis).mod(constant(3, 'i32')).cast('f32'));
    case 'rename':
      return x.rename(s.from, s.to);
  }
}

/**
 * Runs a recipe on the GPU and in the interpreter and throws, naming the output and
 * element, unless the shapes agree, non-finite values are identical and finite ones lie
 * within a tolerance derived from the longest reduction. Used by the test and the fuzzer.
 * @example await checkRecipe(fc.sample(recipeArb, 1)[0])
 */
export async function checkRecipe(r: Recipe): Promise<void> {
  const g = buildProgram(r);
  const given = Object.fromEntries(g.sizes.filter((s) => s in r.sizes).map((s) => [s, r.sizes[s]!]));
  const dims = resolveSizes(g, given); // renamed axes take their source's size
  const inputs = Object.fromEntries(
    g.inputs.map((inp, k) => [
      inp.name,
      Float32Array.from({ length: inp.axes.reduce((p, a) => p * dims[a]!, 1) }, (_, i) =>
        Math.fround(Math.sin(i * 12.9898 + k * 78.233 + r.steps.length) * 0.9),
      ),
    ]),
  );
  const want = interpret(g, inputs, dims);
  const got = await compile(g, { tile: r.tile, shared: r.shared }).run(inputs, given);
  const tol = 2e-6 * Math.sqrt(longestReduction(r)) * (r.steps.length + 1);
  for (const [name, w] of Object.entries(want)) {
    const o = got.outputs[name]!;
    if (o.shape.join() !== w.shape.join()) throw new Error(`output '${name}': GPU shape [${o.shape}] vs interpreter [${w.shape}]`);
    const scale = 1 + w.data.reduce((m, v) => Math.max(m, Number.isFinite(v) ? Math.abs(v) : 0), 0);
    for (let i = 0; i < w.data.length; i++) {
      const a = w.data[i]!;
      const b = o.data[i]!;
      const bad = Number.isFinite(a) ? Math.abs(a - b) > tol * scale : !Object.is(a, b);
      if (bad) throw new Error(`output '${name}' element ${i}: GPU ${b} vs interpreter ${a} (tolerance ${tol * scale})\n${compile(g).explain()}`);
    }
  }
}

/** The longest reduction (contraction or softmax row) in a recipe, for tolerances. */
export function longestReduction(r: Recipe): number {
  return Math.max(1, ...AXES.map((a) => r.sizes[a]!)) ** 2;
}

/**
 * A recipe as a runnable DSL snippet, for reproducers: paste it into a file in the
 * repository and run it with `npx tsx`.
 * @example console.log(recipeToSnippet(r))
 */
export function recipeToSnippet(r: Recipe): string {
  const lines = [
    "import { compile, constant, einsum, graph, index, input, interpret, where } from './src/index.ts';",
    "import { closeRuntime } from './src/runtime/index.ts';",
    '',
  ];
  const names: string[] = [];
  r.inputs.forEach((axes, i) => {
    lines.push(`const t${i} = input('in${i}', '${axes.join(' ')}');`);
    names.push(`t${i}`);
  });
  const axesOf: string[][] = r.inputs.map((a) => [...a]);
  r.steps.forEach((s, k) => {
    const x = names[s.x]!;
    const xa = axesOf[s.x]!;
    let expr: string;
    let out: string[] = xa;
    switch (s.op) {
      case 'einsum': {
        const ya = axesOf[s.y]!;
        expr =
          s.x === s.y
            ? `einsum('${xa.join(' ')} -> ${s.out.join(' ')}', ${x})`
            : `einsum('${xa.join(' ')}, ${ya.join(' ')} -> ${s.out.join(' ')}', ${x}, ${names[s.y]})`;
        out = s.out;
        break;
      }
      case 'binary':
        expr = `${x}.${s.fn}(${names[s.y]})`;
        out = [...xa, ...axesOf[s.y]!.filter((a) => !xa.includes(a))];
        break;
      case 'unary':
        expr = s.fn === 'expTanh' ? `${x}.tanh().exp()` : s.fn === 'sqrtAbs' ? `${x}.abs().sqrt()` : `${x}.${s.fn}()`;
        break;
      case 'scale':
        expr = `${x}.mul(${s.c})`;
        break;
      case 'reduce':
        expr = `${x}.${s.fn}('${s.over.join(' ')}')`;
        out = xa.filter((a) => !s.over.includes(a));
        break;
      case 'softmax':
        expr = s.mask
          ? `${x}.softmax('${s.axis}', { mask: index('${s.mask.i}').le(index('${s.mask.j}').add(constant(${s.mask.off}, 'i32'))) })`
          : `${x}.softmax('${s.axis}')`;
        break;
      case 'where':
        expr = `where(index('${s.i}').le(index('${s.j}').add(constant(${s.off}, 'i32'))), ${x}, ${s.fill})`;
        out = [...xa, ...(xa.includes(s.j) ? [] : [s.j])];
        break;
      case 'transpose':
        out = s.perm.map((p) => xa[p]!);
        expr = xa.length < 2 ? x : `${x}.transpose('${out.join(' ')}')`;
        break;
      case 'indexMod':
        expr = `${x}.add(index('${s.axis}').mod(constant(3, 'i32')).cast('f32'))`;
        break;
      case 'rename':
        expr = `${x}.rename('${s.from}', '${s.to}')`;
        out = xa.map((a) => (a === s.from ? s.to : a));
        break;
      case 'clamp':
        expr = `${x}.clamp(${s.lo}, ${s.hi})`;
        break;
      case 'cumsum':
        expr = `${x}.cumsum('${s.axis}')`;
        break;
      case 'topk': {
        const at = `${x}.topk('${s.axis}', ${s.k}, '${s.into}')`;
        expr = s.values ? `${x}.gather('${s.axis}', ${at})` : `${at}.cast('f32')`;
        out = xa.map((a) => (a === s.axis ? s.into : a));
        break;
      }
      case 'topkMask': {
        const candidates = `where(index('${s.i}').le(index('${s.j}').add(constant(${s.off}, 'i32'))), ${x}, -Infinity)`;
        expr = `where(${candidates}.topkMask('${s.axis}', ${s.k}), ${x}, ${s.fill})`;
        break;
      }
    }
    lines.push(`const t${r.inputs.length + k} = ${expr};`);
    names.push(`t${r.inputs.length + k}`);
    axesOf.push(out);
  });
  const last = names[names.length - 1]!;
  const first = r.steps.length > 1 ? `, first: ${names[r.inputs.length]}` : '';
  lines.push(
    `const g = graph('random', { out: ${last}${first} });`,
    `const sizes: Record<string, number> = ${JSON.stringify(r.sizes)};`,
    'const dims = Object.fromEntries(g.sizes.filter((s) => s in sizes).map((s) => [s, sizes[s]!]));',
    'const inputs = Object.fromEntries(g.inputs.map((inp, k) => [inp.name, Float32Array.from({ length: inp.axes.reduce((p, a) => p * dims[a]!, 1) }, (_, i) => Math.fround(Math.sin(i * 12.9898 + k * 78.233 + ' +
      r.steps.length +
      ') * 0.9))]));',
    'const want = interpret(g, inputs, dims);',
    `const got = await compile(g, ${JSON.stringify({ tile: r.tile, shared: r.shared })}).run(inputs, dims);`,
    'for (const k of Object.keys(want)) console.log(k, Array.from(want[k]!.data).slice(0, 8), Array.from(got.outputs[k]!.data).slice(0, 8));',
    'await closeRuntime();',
  );
  return lines.join('\n');
}
