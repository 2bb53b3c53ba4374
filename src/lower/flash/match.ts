/**
 * The attention pattern matcher: finds `O = einsum(softmax(X(S₀, S₁, …), t, mask, sink), V)`
 * with each `Sᵢ = einsum(Qᵢ, Kᵢ…)` in any graph, whatever the axes are called. It never
 * looks at names, only at the structure: which einsum contracts the softmax axis, which
 * elementwise nodes lie between it and the score contractions, and which axes each tensor has.
 */
import { children, type Graph, type Node } from '../../ir/index.ts';
import { kvLength, type KvLength } from './length.ts';

type Einsum = Extract<Node, { op: 'einsum' }>;
type Softmax = Extract<Node, { op: 'softmax' }>;
type Reduce = Extract<Node, { op: 'reduce' }>;

/** One score contraction `S = Q · K…` over all of the logits' axes. */
export interface FlashScore {
  /** the contraction */
  einsum: Einsum;
  /** the axes its operands have and it sums over: its QK head dims (e.g. `d`; MLA: `dc`, and `dr` for its RoPE part) */
  qkDims: string[];
}

/** One attention pattern found in a graph, with the roles of its axes. */
export interface FlashMatch {
  /** the second contraction `O = P · V` (the kernel's core) */
  out: Einsum;
  /** the softmax `P` over the KV axis */
  softmax: Softmax;
  /**
   * the score contractions the logits are an elementwise function of (the score mod),
   * at least one; in the order the logits expression reaches them. MHA has one,
   * MLA with RoPE two (`q_lat · c_kv + q_rope · k_rope`)
   */
  scores: FlashScore[];
  /** the value operand of `out` */
  value: Node;
  /** the KV (softmax) axis, e.g. `t` */
  kv: string;
  /** axes of `O` that `P` lacks: the value head dims (e.g. `dv`) */
  vDims: string[];
  /** row axes that a K/V-side tensor (of any score contraction, or the value) has: one workgroup per index (e.g. `b h`, or `b g` for GQA) */
  batch: string[];
  /** row axes no K/V-side tensor has: the query rows a workgroup tiles (e.g. `s`, or `r s` for GQA) */
  rows: string[];
  /** optional `logsumexp` reductions of the same masked scores, served by the same kernel */
  lse: Reduce[];
  /** every node the flash kernel computes internally (never materialised) */
  inner: Set<number>;
  /** the key range's end that the mask declares (`t < kv_len[b]`): nothing at or past it is read */
  length?: KvLength;
}

/** Why a softmax-contraction was not turned into a flash kernel. */
export interface FlashMiss {
  node: Node;
  reason: string;
}

const ELEMENTWISE = new Set(['unary', 'binary', 'select', 'cast']);

/**
 * Finds every attention pattern in `g`, and the reasons candidates were rejected.
 * @example findFlash(mha()).matches[0].kv // 't'
 */
export function findFlash(g: Graph): { matches: FlashMatch[]; misses: FlashMiss[] } {
  const consumers = new Map<number, Node[]>();
  for (const n of g.nodes) for (const c of new Set(children(n))) {
    const list = consumers.get(c.id) ?? [];
    list.push(n);
    consumers.set(c.id, list);
  }
  const isOutput = new Set(g.outputs.map((o) => o.node.id));
  const matches: FlashMatch[] = [];
  const misses: FlashMiss[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'einsum') continue;
    const p = n.operands.find((o): o is Softmax => o.op === 'softmax');
    if (!p) continue;
    const r = matchAt(n, p, consumers, isOutput, g);
    if (typeof r === 'string') misses.push({ node: n, reason: r });
    else matches.push(r);
  }
  return { matches, misses };
}

function matchAt(out: Einsum, p: Softmax, consumers: Map<number, Node[]>, isOutput: Set<number>, g: Graph): FlashMatch | string {
  const t = p.axis;
  const ops = out.operands;
  if (ops.length !== 2) return `the contraction with the softmax has ${ops.length} operands; flash needs exactly softmax · V`;
  const value = ops[0] === p ? ops[1]! : ops[0]!;
  if (value === p) return 'the softmax is contracted with itself';
  if (out.axes.includes(t)) return `the contraction keeps the softmax axis '${t}' instead of summing it`;
  const contracted = [...new Set(ops.flatMap((o) => o.axes))].filter((a) => !out.axes.includes(a));
  if (contracted.length !== 1) return `the contraction sums over ${contracted.join(' ')}; flash needs it to sum over the softmax axis '${t}' only`;
  if (!value.axes.includes(t)) return `the value operand has no axis '${t}'`;
  const rowAxes = p.axes.filter((a) => a !== t);
  const vDims = out.axes.filter((a) => !p.axes.includes(a));
  const single = (x: Node, allowed: Set<number>) => !isOutput.has(x.id) && (consumers.get(x.id) ?? []).every((c) => allowed.has(c.id));
  if (isOutput.has(p.id) || (consumers.get(p.id) ?? []).some((c) => c !== out)) return 'the softmax is also used elsewhere (an output or another op), so it must be materialised';

  // the score expression: elementwise nodes from softmax.x down to the contractions with all of X's axes
  const x = p.x;
  const path = new Set<number>();
  const found: Einsum[] = [];
  const seen = new Set<number>();
  const walk = (n: Node): boolean => {
    if (seen.has(n.id)) return path.has(n.id);
    seen.add(n.id);
    if (n.op === 'einsum' && sameSet(n.axes, x.axes)) {
      found.push(n);
      path.add(n.id);
      return true;
    }
    if (!ELEMENTWISE.has(n.op)) return false;
    let hit = false;
    for (const c of children(n)) if (walk(c)) hit = true;
    if (hit) path.add(n.id);
    return hit;
  };
  walk(x);
  if (found.length === 0) return `the softmax logits are not an elementwise function of a contraction over all of [${x.axes.join(' ')}]`;
  if (!sameSet(x.axes, p.axes)) return 'internal: softmax axes differ from its logits';
  const scores: FlashScore[] = [];
  for (const s of found) {
    const what = found.length > 1 ? `the score contraction ${describeEinsum(s)}` : 'the score contraction';
    // an einsum's output axes come from its operands, so one has t; kept as a guard: the kernel streams K per key
    if (!s.operands.some((o) => o.axes.includes(t))) return `${what} has no operand with the softmax axis '${t}'`;
    // each contraction is computed from loaded operands; one built from another's scores would need those materialised
    if (s.operands.some((o) => reaches(o, path))) return `${what} reads the scores of another contraction; flash needs each one over loaded tensors`;
    scores.push({ einsum: s, qkDims: [...new Set(s.operands.flatMap((o) => o.axes))].filter((a) => !s.axes.includes(a)) });
  }
  if (p.mask && reaches(p.mask, path)) return 'the mask depends on the scores; flash needs masks over indices and other tensors only';
  if (p.sink && reaches(p.sink, path)) return 'the sink depends on the scores';

  // the lse outputs: logsumexp over t of X (no mask) or of where(mask, X, -inf)
  const lse: Reduce[] = [];
  const allowed = new Set<number>([...path, p.id]);
  for (const c of consumers.get(x.id) ?? []) {
    if (c === p) continue;
    const r = lseOf(c, x, p, consumers);
    if (!r) return `the score expression is also used by ${c.op} %${c.id}, so it must be materialised`;
    lse.push(r.reduce);
    allowed.add(r.reduce.id);
    if (r.select) allowed.add(r.select.id);
  }
  for (const id of path) {
    const n = g.nodes.find((m) => m.id === id)!;
    if (n !== x && !single(n, allowed)) return `node %${n.id} (${n.op}) between the contractions is also used elsewhere, so it must be materialised`;
  }
  if (isOutput.has(x.id)) return 'the scores are a graph output, so they must be materialised';

  // K/V-side tensors (of every contraction): loaded per key; an axis they have is a batch axis, the others are query rows
  const kvSide = [...found.flatMap((s) => s.operands.filter((o) => o.axes.includes(t))), value];
  const batch = rowAxes.filter((a) => kvSide.some((o) => o.axes.includes(a)));
  const rows = rowAxes.filter((a) => !batch.includes(a));
  for (const a of rowAxes) if (!out.axes.includes(a)) return `the output drops the row axis '${a}'`;
  const inner = new Set<number>([...path, p.id, ...lse.map((l) => l.id)]);
  for (const l of lse) if (l.x !== x) inner.add(l.x.id);
  const length = kvLength(p.mask, t, batch);
  return { out, softmax: p, scores, value, kv: t, vDims, batch, rows, lse, inner, ...(length ? { length } : {}) };
}

function lseOf(c: Node, x: Node, p: Softmax, consumers: Map<number, Node[]>): { reduce: Reduce; select?: Node } | undefined {
  const isLse = (n: Node | undefined): n is Reduce =>
    n?.op === 'reduce' && n.fn === 'logsumexp' && n.over.length === 1 && n.over[0] === p.axis;
  if (!p.mask) return isLse(c) ? { reduce: c } : undefined;
  // where(mask, X, -inf) with the softmax's own mask node
  if (c.op !== 'select' || c.cond !== p.mask || c.a !== x || !isNegInf(c.b)) return undefined;
  const cs = consumers.get(c.id) ?? [];
  if (cs.length !== 1 || !isLse(cs[0])) return undefined;
  return { reduce: cs[0], select: c };
}

function isNegInf(n: Node): boolean {
  return n.op === 'const' && n.value === -Infinity;
}

function reaches(n: Node, targets: Set<number>): boolean {
  const seen = new Set<number>();
  const stack = [n];
  while (stack.length) {
    const m = stack.pop()!;
    if (targets.has(m.id)) return true;
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    stack.push(...children(m));
  }
  return false;
}

/** `einsum('b s d, b t d -> b s t') %7`, for miss reasons (operands by their axes and the node id: the matcher knows no buffer names). */
function describeEinsum(s: Einsum): string {
  return `einsum('${s.operands.map((o) => o.axes.join(' ')).join(', ')} -> ${s.axes.join(' ')}') %${s.id}`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
