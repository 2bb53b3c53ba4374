/**
 * The attention pattern matcher: finds `O = einsum(P, V)` where the weights P are a linear
 * combination `Σ cᵢ·Mᵢ` of attention maps (maps.ts): softmaxes `softmax(X(S₀, S₁, …), t, mask,
 * sink)` and plain weights `where(keep, W(S…), 0)` (no normaliser, or their own row sum
 * `sum(M, t)` read by the epilogue), with each `Sᵢ = einsum(Qᵢ, Kᵢ…)`, in any graph, whatever
 * the axes are called. It never looks at names, only at the structure: which einsum contracts
 * the key axis, which elementwise nodes lie between it and the score contractions, and which
 * axes each tensor has.
 */
import { children, reaches, type Graph, type Node } from '../../ir/index.ts';
import { kvLength, type KvLength } from './length.ts';
import { combination, mapOf, plainSignal, rowSums, structKey, type FlashMap } from './maps.ts';

type Einsum = Extract<Node, { op: 'einsum' }>;
type Softmax = Extract<Node, { op: 'softmax' }>;
type Reduce = Extract<Node, { op: 'reduce' }>;

export type { FlashMap } from './maps.ts';

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
  /** the weights operand P of `out`: one map, or a linear combination of maps */
  weights: Node;
  /** the attention maps P combines (one for plain attention; diff: two softmaxes) */
  maps: FlashMap[];
  /** the nodes combining the maps into P (add, sub, neg, multiplication or division by a coefficient); empty when P is one map */
  combine: Node[];
  /** the mask every map has (structurally the same), if they share one */
  mask?: Node;
  /**
   * the distinct masks of the maps when every map has one (else empty): the block map codes a
   * tile empty where all are false and full where all are true; a declared length all of
   * them have bounds the key range
   */
  masks: Node[];
  /**
   * the score contractions the maps are elementwise functions of, at least one; in the
   * order the maps' expressions reach them. MHA has one, MLA with RoPE two (`q_lat · c_kv +
   * q_rope · k_rope`), differential attention one per map
   */
  scores: FlashScore[];
  /** the value operand of `out` */
  value: Node;
  /** the KV axis (the softmax axis, or the key axis `out` sums), e.g. `t` */
  kv: string;
  /** axes of `O` that `P` lacks: the value head dims (e.g. `dv`) */
  vDims: string[];
  /** row axes that a K/V-side tensor (of any score contraction, or the value) has: one workgroup per index (e.g. `b h`, or `b g` for GQA) */
  batch: string[];
  /** row axes no K/V-side tensor has: the query rows a workgroup tiles (e.g. `s`, or `r s` for GQA) */
  rows: string[];
  /** optional `logsumexp` reductions of the softmax maps' masked scores (every map's, in map order), served by the same kernel */
  lse: Reduce[];
  /** every node the flash kernel computes internally (never materialised) */
  inner: Set<number>;
  /** the key range's end that the mask declares (`t < kv_len[b]`): nothing at or past it is read */
  length?: KvLength;
}

/** Why a softmax-contraction (or another attention candidate) was not turned into a flash kernel. */
export interface FlashMiss {
  node: Node;
  reason: string;
}

const ELEMENTWISE = new Set(['unary', 'binary', 'select', 'cast']);

/** What the matcher reads about the whole graph. */
interface GraphInfo {
  g: Graph;
  consumers: Map<number, Node[]>;
  isOutput: Set<number>;
  byId: Map<number, Node>;
}

/**
 * Finds every attention pattern in `g`, and the reasons candidates were rejected.
 * @example findFlash(mha()).matches[0].kv // 't'
 */
export function findFlash(g: Graph): { matches: FlashMatch[]; misses: FlashMiss[] } {
  const consumers = new Map<number, Node[]>();
  for (const n of g.nodes)
    for (const c of new Set(children(n))) {
      const list = consumers.get(c.id) ?? [];
      list.push(n);
      consumers.set(c.id, list);
    }
  const info: GraphInfo = { g, consumers, isOutput: new Set(g.outputs.map((o) => o.node.id)), byId: new Map(g.nodes.map((n) => [n.id, n])) };
  const matches: FlashMatch[] = [];
  const misses: FlashMiss[] = [];
  const taken = new Set<number>();
  for (const n of g.nodes) {
    if (n.op !== 'einsum') continue;
    const cand = candidate(n, consumers);
    if (!cand) continue;
    const r = matchAt(n, cand.p, cand.t, info);
    // one kernel per node: a pattern reading another one's inner nodes (attention of attention) stays unfused
    const clash = typeof r === 'string' ? undefined : [...r.inner, r.out.id].find((id) => taken.has(id));
    if (typeof r === 'string') misses.push({ node: n, reason: r });
    else if (clash !== undefined) misses.push({ node: n, reason: `node %${clash} is already computed inside another flash kernel` });
    else {
      for (const id of [...r.inner, r.out.id]) taken.add(id);
      matches.push(r);
    }
  }
  return { matches, misses };
}

/**
 * The weights operand of an attention candidate and its key axis: a softmax operand (any
 * contraction of a softmax is a candidate, so a miss says why), or an elementwise operand
 * whose maps include a softmax or plain weights that are attention (plainSignal), or a
 * contraction whose own row sum the graph takes (unmasked linear attention).
 */
function candidate(n: Einsum, consumers: ReadonlyMap<number, Node[]>): { p: Node; t: string } | undefined {
  const soft = n.operands.find((o): o is Softmax => o.op === 'softmax');
  if (soft) return { p: soft, t: soft.axis };
  const contracted = [...new Set(n.operands.flatMap((o) => o.axes))].filter((a) => !n.axes.includes(a));
  for (const o of n.operands) {
    const keys = contracted.filter((a) => o.axes.includes(a));
    if (keys.length !== 1) continue;
    const t = keys[0]!;
    // unmasked linear attention contracts the score contraction itself, normalised by its row sum
    if (o.op === 'einsum' && rowSums(o, t, consumers).length > 0) return { p: o, t };
    if (!ELEMENTWISE.has(o.op)) continue;
    const maps = combination(o, t).leaves.map(mapOf);
    for (const m of maps) if (m.kind === 'plain') m.sums.push(...rowSums(m.node, t, consumers));
    if (maps.some((m) => m.kind === 'softmax' || (plainSignal(m, t) === undefined && ofContraction(m.x)))) return { p: o, t };
  }
  return undefined;
}

/** Whether `x` is an elementwise function of some contraction (plain weights need scores; a masked constant is none). */
function ofContraction(x: Node): boolean {
  const seen = new Set<number>();
  const stack = [x];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.op === 'einsum') return true;
    if (seen.has(n.id) || !ELEMENTWISE.has(n.op)) continue;
    seen.add(n.id);
    stack.push(...children(n));
  }
  return false;
}

/** `softmax` for a lone softmax, else `attention weights`: how miss reasons name P. */
const weightsWord = (p: Node) => (p.op === 'softmax' ? 'softmax' : 'attention weights');

function matchAt(out: Einsum, p: Node, t: string, info: GraphInfo): FlashMatch | string {
  const ops = out.operands;
  const word = weightsWord(p);
  if (ops.length !== 2)
    return `the contraction with the ${word} has ${ops.length} operands; flash needs exactly ${p.op === 'softmax' ? 'softmax' : 'weights'} · V`;
  const value = ops[0] === p ? ops[1]! : ops[0]!;
  if (value === p) return `the ${word} ${p.op === 'softmax' ? 'is' : 'are'} contracted with ${p.op === 'softmax' ? 'itself' : 'themselves'}`;
  const axisWord = p.op === 'softmax' ? 'softmax axis' : 'key axis';
  if (out.axes.includes(t)) return `the contraction keeps the ${axisWord} '${t}' instead of summing it`;
  const contracted = [...new Set(ops.flatMap((o) => o.axes))].filter((a) => !out.axes.includes(a));
  if (contracted.length !== 1) return `the contraction sums over ${contracted.join(' ')}; flash needs it to sum over the ${axisWord} '${t}' only`;
  if (!value.axes.includes(t)) return `the value operand %${value.id} [${value.axes.join(' ')}] has no axis '${t}'`;
  const comb = combination(p, t);
  const maps = comb.leaves.map(mapOf);
  for (const m of maps) if (m.kind === 'plain') m.sums.push(...rowSums(m.node, t, info.consumers));
  const top = topLevel(out, p, maps, comb.skeleton, t, info);
  if (top) return top;
  const sc = scoresOf(maps, t, info);
  if (typeof sc === 'string') return sc;
  const { scores, path } = sc;
  const side = sideInputs(maps, comb.skeleton, path);
  if (side) return side;
  const lse = lseOfMaps(maps, path, info);
  if (typeof lse === 'string') return lse;
  const epi = sumsReadByEpilogue(out, maps, comb.skeleton, info);
  if (epi) return epi;

  // K/V-side tensors (of every contraction): loaded per key; an axis they have is a batch axis, the others are query rows
  const rowAxes = p.axes.filter((a) => a !== t);
  const vDims = out.axes.filter((a) => !p.axes.includes(a));
  const kvSide = [...scores.flatMap((s) => s.einsum.operands.filter((o) => o.axes.includes(t))), value];
  const batch = rowAxes.filter((a) => kvSide.some((o) => o.axes.includes(a)));
  const rows = rowAxes.filter((a) => !batch.includes(a));
  for (const a of rowAxes) if (!out.axes.includes(a)) return `the output drops the row axis '${a}'`;
  const inner = new Set<number>([...path, ...comb.skeleton.map((n) => n.id), ...maps.map((m) => m.node.id), ...lse.ids]);
  for (const m of maps) for (const s of m.sums) inner.add(s.id);
  const masks = blockMasks(maps);
  const mask = masks.length === 1 ? masks[0] : undefined;
  const length = sameLength(masks.map((x) => kvLength(x, t, batch)));
  return {
    out,
    weights: p,
    maps,
    combine: comb.skeleton,
    ...(mask ? { mask } : {}),
    masks,
    scores,
    value,
    kv: t,
    vDims,
    batch,
    rows,
    lse: maps.flatMap((m) => m.lse),
    inner,
    ...(length ? { length } : {}),
  };
}

/**
 * The checks above the maps: every map is a softmax over `t` or plain weights that are
 * attention, and P, its maps and the nodes combining them are read by `out` only (and a
 * plain map by its row sums).
 */
function topLevel(out: Einsum, p: Node, maps: FlashMap[], skeleton: Node[], t: string, info: GraphInfo): string | undefined {
  for (const m of maps) {
    if (m.kind === 'softmax' && (m.node as Softmax).axis !== t)
      return `the softmax %${m.node.id} normalises over '${(m.node as Softmax).axis}', but the contraction sums over '${t}'`;
    if (m.kind === 'plain') {
      const why = plainSignal(m, t);
      if (why) return `${why}, so the contraction %${out.id} is not read as attention`;
    }
  }
  const allowed = new Set<number>([out.id, ...skeleton.map((n) => n.id), ...maps.flatMap((m) => [m.node.id, ...m.sums.map((s) => s.id)])]);
  for (const n of [...skeleton, ...maps.map((m) => m.node)]) {
    const others = (info.consumers.get(n.id) ?? []).filter((c) => !allowed.has(c.id));
    if (!info.isOutput.has(n.id) && others.length === 0) continue;
    const by = others.length ? `${others[0]!.op} %${others[0]!.id}` : 'a graph output';
    if (n === p && p.op === 'softmax') return `the softmax is also used elsewhere (by ${by}), so it must be materialised`;
    return `the ${n.op === 'softmax' ? 'softmax' : 'weights'} %${n.id} (${n.op}) ${n === p ? '' : `inside the weights %${p.id} `}${n.op === 'softmax' ? 'is' : 'are'} also used by ${by}, so ${n.op === 'softmax' ? 'it' : 'they'} must be materialised`;
  }
  return undefined;
}

/** The score contractions under every map's expression, and the elementwise nodes between them (`path`). */
function scoresOf(maps: FlashMap[], t: string, _info: GraphInfo): { scores: FlashScore[]; path: Set<number> } | string {
  const path = new Set<number>();
  const found: Einsum[] = [];
  for (const m of maps) {
    const x = m.x;
    const seen = new Set<number>();
    let hits = 0;
    const walk = (n: Node): boolean => {
      if (seen.has(n.id)) return path.has(n.id);
      seen.add(n.id);
      if (n.op === 'einsum' && sameSet(n.axes, x.axes)) {
        if (!found.includes(n)) found.push(n);
        hits++;
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
    if (hits === 0 && !path.has(x.id)) {
      return m.kind === 'softmax'
        ? `the softmax logits %${x.id} (${x.op}) are not an elementwise function of a contraction over all of [${x.axes.join(' ')}]`
        : `the weights %${x.id} (${x.op}) are not an elementwise function of a contraction over all of [${x.axes.join(' ')}]`;
    }
    if (m.kind === 'softmax' && !sameSet(x.axes, m.node.axes)) return 'internal: softmax axes differ from its logits';
  }
  const scores: FlashScore[] = [];
  for (const s of found) {
    const what = found.length > 1 ? `the score contraction ${describeEinsum(s)}` : 'the score contraction';
    // an einsum's output axes come from its operands, so one has t; kept as a guard: the kernel streams K per key
    if (!s.operands.some((o) => o.axes.includes(t))) return `${what} has no operand with the key axis '${t}'`;
    // each contraction is computed from loaded operands; one built from another's scores would need those materialised
    if (s.operands.some((o) => reaches(o, inSet(path)))) return `${what} reads the scores of another contraction; flash needs each one over loaded tensors`;
    scores.push({ einsum: s, qkDims: [...new Set(s.operands.flatMap((o) => o.axes))].filter((a) => !s.axes.includes(a)) });
  }
  return { scores, path };
}

/** Masks, sinks and coefficients are computed from indices and other tensors, never from the scores or the maps. */
function sideInputs(maps: FlashMap[], skeleton: Node[], path: Set<number>): string | undefined {
  const single = maps.length === 1 && maps[0]!.kind === 'softmax';
  for (const m of maps) {
    const what = single ? 'the mask' : `the mask of the map %${m.node.id}`;
    if (m.mask && reaches(m.mask, inSet(path))) return `${what} depends on the scores; flash needs masks over indices and other tensors only`;
    if (m.sink && reaches(m.sink, inSet(path)))
      return single ? 'the sink depends on the scores' : `the sink of the softmax %${m.node.id} depends on the scores`;
  }
  const inside = new Set<number>([...path, ...skeleton.map((n) => n.id), ...maps.map((m) => m.node.id)]);
  // a coefficient may read a map's own row sum, which the kernel has (`A / (sum(A, t) + ε)` before P·V)
  const sums = new Set(maps.flatMap((m) => m.sums.map((x) => x.id)));
  for (const n of skeleton)
    for (const c of children(n)) {
      if (inside.has(c.id)) continue;
      if (reaches(c, inSet(inside), inSet(sums)))
        return `the coefficient %${c.id} (${c.op}) of the weights depends on the scores or the maps; flash needs coefficients over row axes from other tensors`;
    }
  return undefined;
}

/**
 * The lse outputs of the softmax maps (logsumexp over t of X, or of where(mask, X, -inf)),
 * after checking that the nodes between the contractions are read only inside the kernel.
 */
function lseOfMaps(maps: FlashMap[], path: Set<number>, info: GraphInfo): { ids: number[] } | string {
  const allowed = new Set<number>([...path, ...maps.map((m) => m.node.id)]);
  const ids: number[] = [];
  const softX = new Set<number>();
  for (const m of maps) {
    if (m.kind !== 'softmax') continue;
    const p = m.node as Softmax;
    softX.add(m.x.id);
    for (const c of info.consumers.get(m.x.id) ?? []) {
      if (c === p || allowed.has(c.id)) continue;
      const r = lseOf(c, m.x, p, info.consumers);
      if (!r) return `the score expression is also used by ${c.op} %${c.id}, so it must be materialised`;
      m.lse.push(r.reduce);
      for (const id of [r.reduce.id, ...(r.select ? [r.select.id] : [])]) {
        allowed.add(id);
        ids.push(id);
      }
    }
  }
  const mapIds = new Set(maps.map((m) => m.node.id));
  for (const id of path) {
    const n = info.byId.get(id)!;
    // a softmax's logits may also feed its lse (checked above); a plain map's node is checked by topLevel
    if (softX.has(id) || mapIds.has(id)) continue;
    if (info.isOutput.has(id) || (info.consumers.get(id) ?? []).some((c) => !allowed.has(c.id)))
      return `node %${n.id} (${n.op}) between the contractions is also used elsewhere, so it must be materialised`;
  }
  for (const id of softX) if (info.isOutput.has(id)) return 'the scores are a graph output, so they must be materialised';
  return { ids };
}

/**
 * A plain map's row sums are read only by the epilogue of `out` or by coefficients of the
 * weights (elementwise nodes that end in the chain the flash kernel stores, or in the nodes
 * combining the maps), so the kernel can serve them.
 */
function sumsReadByEpilogue(out: Einsum, maps: FlashMap[], skeleton: Node[], info: GraphInfo): string | undefined {
  const chain = epilogueChain(out, info);
  for (const n of skeleton) chain.add(n.id);
  for (const m of maps)
    for (const s of m.sums) {
      const seen = new Set<number>();
      const stack: Node[] = [s];
      while (stack.length) {
        const n = stack.pop()!;
        if (seen.has(n.id)) continue;
        seen.add(n.id);
        if (info.isOutput.has(n.id))
          return `the row sum %${s.id} of the weights %${m.node.id} is read by the graph output %${n.id}, so it must be materialised`;
        for (const c of info.consumers.get(n.id) ?? []) {
          if (chain.has(c.id)) continue;
          if (!ELEMENTWISE.has(c.op))
            return `the row sum %${s.id} of the weights %${m.node.id} is read by ${c.op} %${c.id}, outside the epilogue of the contraction %${out.id}`;
          stack.push(c);
        }
      }
    }
  return undefined;
}

/** The elementwise chain over `out` that its kernel computes (as `groupKernels` walks it): single consumers with out's axes. */
function epilogueChain(out: Einsum, info: GraphInfo): Set<number> {
  const chain = new Set<number>();
  for (let root: Node = out; ; ) {
    if (info.isOutput.has(root.id)) break;
    const cs: Node[] = info.consumers.get(root.id) ?? [];
    const c: Node | undefined = cs[0];
    if (cs.length !== 1 || !c || !ELEMENTWISE.has(c.op) || !sameSet(c.axes, out.axes) || c.dtype === 'i8') break;
    chain.add(c.id);
    root = c;
  }
  return chain;
}

/**
 * The distinct masks (by structure) of the maps when every map has one, else none: a block
 * map then codes a tile empty where every mask is false and full where every mask is true.
 * Each map's mask becomes the representative node of its structure.
 */
function blockMasks(maps: FlashMap[]): Node[] {
  if (maps.some((m) => !m.mask)) return [];
  const byKey = new Map<string, Node>();
  for (const m of maps) {
    const key = structKey(m.mask!);
    if (!byKey.has(key)) byKey.set(key, m.mask!);
    m.mask = byKey.get(key)!;
  }
  return [...byKey.values()];
}

/** The declared length every mask has (the same end, structurally), or undefined. */
function sameLength(lengths: (KvLength | undefined)[]): KvLength | undefined {
  const [first] = lengths;
  if (!first) return undefined;
  const key = structKey(first.end);
  return lengths.every((l) => l && l.inclusive === first.inclusive && structKey(l.end) === key) ? first : undefined;
}

function lseOf(c: Node, x: Node, p: Softmax, consumers: Map<number, Node[]>): { reduce: Reduce; select?: Node } | undefined {
  const isLse = (n: Node | undefined): n is Reduce => n?.op === 'reduce' && n.fn === 'logsumexp' && n.over.length === 1 && n.over[0] === p.axis;
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

/** A node test for {@link reaches}: the node is one of `ids`. */
const inSet =
  (ids: ReadonlySet<number>) =>
  (m: Node): boolean =>
    ids.has(m.id);

/** `einsum('b s d, b t d -> b s t') %7`, for miss reasons (operands by their axes and the node id: the matcher knows no buffer names). */
function describeEinsum(s: Einsum): string {
  return `einsum('${s.operands.map((o) => o.axes.join(' ')).join(', ')} -> ${s.axes.join(' ')}') %${s.id}`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
