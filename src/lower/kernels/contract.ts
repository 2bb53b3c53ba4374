/**
 * Contraction kernels (einsum and reduce) with their fused epilogue. Each invocation
 * owns a TM×TN register tile over the last two output axes and loops over the
 * contracted axes; operands are inlined expressions, so a scaled or masked operand
 * costs no extra pass. Rows and columns past the edge are clamped for loads and
 * skipped for stores, so sizes need not be multiples of the tile.
 */
import { nodesBetween, type Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import { axisVar, literal, NEG_INF, Scope, type BufferRef, type Env } from '../wgsl.ts';
import { indent, WORKGROUP, type KernelBuilder } from './frame.ts';

type Core = Extract<Node, { op: 'einsum' | 'reduce' }>;

/** Register tile of a contraction: rows × columns per invocation. */
export type Tile = readonly [number, number];

/** What the parts of a contraction kernel share: its axes, tile, accumulators and the statements so far. */
interface ContractFrame {
  kb: KernelBuilder;
  core: Core;
  /** the tile's row and column axes (the last two output axes; absent for fewer), the other output axes, the contracted axes */
  m?: string;
  n?: string;
  TM: number;
  TN: number;
  outer: string[];
  contracted: string[];
  isInt: boolean;
  /** how the core combines its terms: a sum, a max, or the running (max, sum of exp) of logsumexp */
  combine: 'sum' | 'max' | 'logsumexp';
  /** per tile row and column: the clamped index variable and the unclamped index */
  rows: { v: string; raw: string }[];
  cols: { v: string; raw: string }[];
  /** accumulators, and logsumexp's running sums beside them */
  acc: string[][];
  lsum: string[][];
  body: string[];
}

/** The WGSL and dispatch size of a contraction kernel computing `root` (around `core`) into `out`. */
export function contractKernel(kb: KernelBuilder, name: string, header: string[], root: Node, core: Core, out: BufferRef, tile: Tile) {
  const f = contractFrame(kb, root, core, tile);
  f.body.push(...contractionLoop(f));
  f.body.push(...epilogue(f, root, out));
  const { m, n, TM, TN, outer, contracted } = f;
  const tiles = (ax: string | undefined, t: number) => (ax ? (t === 1 ? kb.size(ax) : `((${kb.size(ax)} + ${t - 1}u) / ${t}u)`) : '1u');
  const total = [...outer.map((a) => kb.size(a)), ...(m ? [tiles(m, TM)] : []), ...(n ? [tiles(n, TN)] : [])].join(' * ') || '1u';
  const schedule =
    `schedule: register tile ${TM}x${TN} over (${[m, n].filter(Boolean).join(', ') || 'scalar'})` +
    `, ${contracted.length ? `loop over (${contracted.join(', ')})` : 'no contraction'}, one tile per invocation, ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body: f.body });
  const cdivs: SizeExpr[] = [...outer, ...(m ? [['cdiv', m, TM] as SizeExpr] : []), ...(n ? [['cdiv', n, TN] as SizeExpr] : [])];
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...cdivs], WORKGROUP];
  return { wgsl, workgroups };
}

/** The tile this invocation owns, its clamped row and column indices and its accumulators. */
function contractFrame(kb: KernelBuilder, root: Node, core: Core, tile: Tile): ContractFrame {
  const O = root.axes;
  const m = O.length >= 2 ? O[O.length - 2] : undefined;
  const n = O.length >= 1 ? O[O.length - 1] : undefined;
  const TM = m ? tile[0] : 1;
  const TN = n ? tile[1] : 1;
  const outer = O.filter((a) => a !== m && a !== n);
  const contracted = core.op === 'einsum'
    ? [...new Set(core.operands.flatMap((o) => o.axes))].filter((a) => !core.axes.includes(a))
    : [...core.over];
  const isInt = core.dtype === 'i32';
  const combine = core.op === 'reduce' && core.fn !== 'sum' ? core.fn : 'sum';
  const init = combine === 'sum' ? (isInt ? '0i' : '0.0') : isInt ? literal(-2147483648, 'i32') : NEG_INF;

  // which tile this invocation owns
  const tiles = (ax: string | undefined, t: number) => (ax ? (t === 1 ? kb.size(ax) : `((${kb.size(ax)} + ${t - 1}u) / ${t}u)`) : '1u');
  const mTile = kb.internal(`${m ?? 'm'}_tile`);
  const nTile = kb.internal(`${n ?? 'n'}_tile`);
  const parts: [string, string][] = outer.map((a) => [axisVar(a), kb.size(a)]);
  if (m) parts.push([mTile, tiles(m, TM)]);
  if (n) parts.push([nTile, tiles(n, TN)]);
  const body = kb.decompose(parts, kb.gid);

  // clamped row/column indices, so loads past the edge stay in bounds
  const edge = (ax: string | undefined, tileVar: string, t: number): { v: string; raw: string }[] => {
    if (!ax) return [{ v: '', raw: '' }];
    return Array.from({ length: t }, (_, i) => {
      const raw = t === 1 ? tileVar : `${tileVar} * ${t}u + ${i}u`;
      const v = kb.internal(`${ax}${i}`);
      body.push(t === 1 ? `let ${v} = ${raw};` : `let ${v} = min(${raw}, ${kb.size(ax)} - 1u);`);
      return { v, raw };
    });
  };
  const rows = edge(m, mTile, TM);
  const cols = edge(n, nTile, TN);
  const accType = isInt ? 'i32' : 'f32';
  const acc = rows.map((_, i) => cols.map((_, j) => kb.internal(`acc${i}${j}`)));
  for (const r of acc) for (const a of r) body.push(`var ${a}: ${accType} = ${init};`);
  // logsumexp keeps a running max in acc and the sum of exp(x - max) beside it (online, one pass)
  const lsum = acc.map((r) => r.map((a) => `${a}_s`));
  if (combine === 'logsumexp') for (const r of lsum) for (const a of r) body.push(`var ${a}: f32 = 0.0;`);
  return { kb, core, m, n, TM, TN, outer, contracted, isInt, combine, rows, cols, acc, lsum, body };
}

/** The indices of tile element (i, j): the outer and contracted axes' variables, the clamped row and column. */
function envAt(f: ContractFrame, i: number, j: number): Env {
  const e: Record<string, string> = Object.fromEntries([...f.outer, ...f.contracted].map((a) => [a, axisVar(a)]));
  if (f.m) e[f.m] = f.rows[i]!.v;
  if (f.n) e[f.n] = f.cols[j]!.v;
  return e;
}

/** The loops over the contracted axes, accumulating every element of the tile. */
function contractionLoop(f: ContractFrame): string[] {
  const { kb, core, contracted, combine, isInt, acc, lsum } = f;
  const main = new Scope(kb, kb.counter);
  const loop = main.child({ hoist: (x) => !x.axes.some((a) => contracted.includes(a)), loopVars: contracted.map(axisVar) });
  const accumulate: string[] = [];
  for (let i = 0; i < f.rows.length; i++)
    for (let j = 0; j < f.cols.length; j++) {
      const env = envAt(f, i, j);
      const term = core.op === 'einsum' ? kb.product(core.operands.map((o) => loop.value(o, env))) : loop.value(core.x, env);
      const a = acc[i]![j]!;
      if (combine === 'logsumexp') {
        const [x, ls] = [kb.internal(`x${i}${j}`), lsum[i]![j]!];
        accumulate.push(
          `let ${x} = ${term};`,
          `if (${x} > ${a}) { ${ls} = ${ls} * exp(${a} - ${x}) + 1.0; ${a} = ${x}; } else if (${x} != ${NEG_INF}) { ${ls} += exp(${x} - ${a}); }`,
        );
      } else if (combine === 'sum') accumulate.push(`${a} += ${term};`);
      else if (isInt) accumulate.push(`${a} = max(${a}, ${term});`);
      else {
        // WGSL's max may drop a NaN operand; the interpreter's max propagates it, and so does this
        const x = kb.internal(`x${i}${j}`);
        kb.helper('_is_nan');
        kb.helper('_f32_bits');
        accumulate.push(`let ${x} = ${term};`, `${a} = select(max(${a}, ${x}), _f32_bits(0x7fc00000u), _is_nan(${a}) || _is_nan(${x}));`);
      }
    }
  const opens = contracted.map((a) => `for (var ${axisVar(a)}: u32 = 0u; ${axisVar(a)} < ${kb.size(a)}; ${axisVar(a)}++) {`);
  return [
    ...main.lines,
    ...opens.map((o, d) => '  '.repeat(d) + o),
    ...indent([...loop.lines, ...accumulate], opens.length),
    ...opens.map((_, d) => '  '.repeat(opens.length - 1 - d) + '}'),
  ];
}

/**
 * The epilogue, with the core standing for the accumulator, and the guarded stores; what does
 * not vary over the tile (a scale, a per-head slope) is computed once before the stores.
 */
function epilogue(f: ContractFrame, root: Node, out: BufferRef): string[] {
  const { kb, core, m, n, TM, TN, acc, lsum, combine } = f;
  const pre = new Scope(kb, kb.counter);
  const onPath = nodesBetween(root, core);
  const stores: string[] = [];
  for (let i = 0; i < f.rows.length; i++)
    for (let j = 0; j < f.cols.length; j++) {
      const env = envAt(f, i, j);
      const a = acc[i]![j]!;
      const ls = lsum[i]![j]!;
      const epi = pre.child({
        override: (x) => (x === core ? (combine === 'logsumexp' ? `select(${a} + log(${ls}), ${a}, ${a} == ${NEG_INF} || ${ls} == 0.0)` : a) : undefined),
        hoist: (x) => !onPath.has(x.id) && !x.axes.some((ax) => ax === m || ax === n),
      });
      const v = epi.value(root, env);
      const inside = [...epi.lines, kb.store(out, env, v)];
      const guard = [
        ...(m && TM > 1 ? [`${f.rows[i]!.raw} < ${kb.size(m)}`] : []),
        ...(n && TN > 1 ? [`${f.cols[j]!.raw} < ${kb.size(n)}`] : []),
      ];
      if (guard.length) stores.push(`if (${guard.join(' && ')}) {`, ...indent(inside, 1), '}');
      else stores.push(...inside);
    }
  return [...pre.lines, ...stores];
}
