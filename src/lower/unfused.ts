/**
 * What the lowering left unfused: the temporaries that hold a query axis and a key axis (an
 * s×t buffer, the memory traffic flash attention exists to avoid) and, for each, why.
 *
 * Query and key axes are found on structure, never by name:
 * - a **key axis** is an axis that a softmax normalises, a reduction sums, or a contraction
 *   sums out of an *attention map*: a score mod or normaliser (elementwise ops, a softmax)
 *   over a contraction that has that axis. A contraction summing a plain contraction
 *   (`einsum(einsum(c_kv, w_uv), p)`: a projection) does not make a key axis, so MLA's and
 *   Linformer's projections are not reported;
 * - the **query axes** of a key axis `t` are the axes of that score contraction
 *   (`S = Q · K`) which none of the K/V-side tensors (the operands with `t` of every score
 *   contraction, and V) has, and which a Q-side operand that reads data has: `s` for MHA's
 *   `[b h s t]` scores, `r s` for GQA's `[b g r s t]`; the batch axes (`b h`) are on K too,
 *   and an operand built from indices alone (a one-hot block matrix) brings none.
 *
 * A temporary with a key axis and one of its query axes is reported with the reasons of
 * the flash matcher (`findFlash`'s misses) for each attention contraction that reads it,
 * or, when none does, with the contraction or reduction that sums its key axis.
 */
import { children, reaches, type Graph, type Node } from '../ir/index.ts';
import type { PlanBuffer, PlanUnfused } from '../runtime/plan.ts';
import type { FlashMiss } from './flash/match.ts';

/** One key axis and the query axes of the score contraction that made it, with the node that sums it. */
export interface ScoreAxes {
  key: string;
  query: string[];
  /** the softmax, reduction or contraction over `key` */
  reducer: Node;
}

const ELEMENTWISE = new Set(['unary', 'binary', 'select', 'cast']);

/** A graph input: data, where indices, sizes and constants are not. */
const isInput = (n: Node): boolean => n.op === 'input';

/** The axes a node sums or normalises away, and the operands it does that to. */
function reduced(n: Node): { axes: string[]; operands: Node[] } {
  if (n.op === 'softmax') return { axes: [n.axis], operands: [n.x] };
  if (n.op === 'reduce') return { axes: [...n.over], operands: [n.x] };
  if (n.op === 'einsum') return { axes: [...new Set(n.operands.flatMap((o) => o.axes))].filter((a) => !n.axes.includes(a)), operands: [...n.operands] };
  return { axes: [], operands: [] };
}

/**
 * The score contractions `x` is an elementwise function (through softmaxes and views) of
 * along `key`; `mapped` says whether anything lay between (a score mod or normaliser).
 */
function scoresUnder(x: Node, key: string): { scores: Extract<Node, { op: 'einsum' }>[]; mapped: boolean } {
  const scores: Extract<Node, { op: 'einsum' }>[] = [];
  const seen = new Set<number>();
  const walk = (n: Node): void => {
    if (seen.has(n.id) || !n.axes.includes(key)) return;
    seen.add(n.id);
    if (n.op === 'einsum') scores.push(n);
    else if (ELEMENTWISE.has(n.op) || n.op === 'view') for (const c of children(n)) walk(c);
    else if (n.op === 'softmax') walk(n.x);
  };
  walk(x);
  return { scores, mapped: x.op !== 'einsum' };
}

/**
 * Every key axis of `g` with its query axes (see the module comment), one entry per reducer
 * and score contraction.
 * @example scoreAxes(mha()).map((r) => `${r.query.join(' ')} × ${r.key}`) // ['s × t', 's × t'] (the softmax, and P·V)
 */
export function scoreAxes(g: Graph): ScoreAxes[] {
  const out: ScoreAxes[] = [];
  for (const n of g.nodes) {
    const r = reduced(n);
    for (const key of r.axes) {
      const scores: Extract<Node, { op: 'einsum' }>[] = [];
      // the K/V side: the operands with the key axis of every score contraction, and the reducer's own (V of P·V)
      const kvSide = new Set<string>();
      for (const o of r.operands) {
        const found = scoresUnder(o, key);
        // a contraction of a plain contraction is a projection (MLA's W_UV, Linformer's E), not attention
        if (n.op === 'einsum' && !found.mapped) {
          if (o.axes.includes(key)) for (const a of o.axes) kvSide.add(a);
          continue;
        }
        scores.push(...found.scores);
      }
      for (const s of scores) for (const x of s.operands) if (x.axes.includes(key)) for (const a of x.axes) kvSide.add(a);
      for (const s of scores) {
        // query axes come with data (q), not from indices alone (a one-hot block matrix is no query)
        const qSide = s.operands.filter((x) => !x.axes.includes(key) && reaches(x, isInput));
        const query = s.axes.filter((a) => a !== key && !kvSide.has(a) && qSide.some((x) => x.axes.includes(a)));
        if (query.length) out.push({ key, query, reducer: n });
      }
    }
  }
  return out;
}

/**
 * `text` with node ids (`%412`, global creation counters) replaced by stable names: the
 * node's buffer, an input's name, or its number in `printGraph(g)`.
 * @example const g = mha(); stableRefs(`the contraction %${g.outputs[0]!.node.id}`, g, new Map([[g.outputs[0]!.node.id, 'o']])) // 'the contraction o'
 */
export function stableRefs(text: string, g: Graph, names: ReadonlyMap<number, string>): string {
  const leaf = (n: Node) => n.op === 'input' || n.op === 'const' || n.op === 'index' || n.op === 'size';
  const local = new Map(g.nodes.filter((n) => !leaf(n)).map((n, i) => [n.id, i]));
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  return text.replace(/%(\d+)/g, (whole, id: string) => {
    const n = byId.get(Number(id));
    if (!n) return whole;
    const named = names.get(n.id);
    if (named !== undefined) return named;
    if (n.op === 'input') return n.name;
    if (n.op === 'const') return String(n.value);
    if (n.op === 'index') return n.axis;
    if (n.op === 'size') return `|${n.size}|`;
    return `%${local.get(n.id)}`;
  });
}

/** A short name of a node for reasons: `einsum('b h s t, b h t dv -> b h s dv', _softmax1, v)`, `softmax over 't'`. */
export function brief(n: Node, names: ReadonlyMap<number, string>): string {
  const arg = (o: Node) => names.get(o.id) ?? (o.op === 'input' ? o.name : o.op);
  if (n.op === 'einsum') return `einsum('${n.operands.map((o) => o.axes.join(' ')).join(', ')} -> ${n.axes.join(' ')}', ${n.operands.map(arg).join(', ')})`;
  if (n.op === 'softmax') return `softmax(${arg(n.x)}) over '${n.axis}'`;
  if (n.op === 'reduce') return `${n.fn}(${arg(n.x)}) over '${n.over.join(' ')}'`;
  return names.get(n.id) ?? n.op;
}

const PATTERN =
  'the flash matcher does not read as attention weights (a softmax or a sigmoid of the scores, or weights masked or normalised along the key axis)';

/** Why no flash kernel covers the reduction of a score tensor when the matcher saw no candidate. */
function noFlash(h: ScoreAxes, names: ReadonlyMap<number, string>): string {
  const r = h.reducer;
  if (r.op !== 'einsum') return `${brief(r, names)} sums '${h.key}' of it outside any flash kernel`;
  const map = r.operands.find((o) => o.axes.includes(h.key) && o.op !== 'input')!;
  const what = map.op === 'binary' || map.op === 'unary' ? `a ${map.op} ${map.fn}` : `a ${map.op}`;
  return `${brief(r, names)} sums '${h.key}' of ${what}, which ${PATTERN}`;
}

/**
 * The plan's unfused part: temporaries holding a query and a key axis with their reasons, and
 * the matcher's misses; undefined when there is neither.
 * `names` maps node ids to their buffer names; `flashOff` is `lower(…, { flash: false })`.
 */
export function unfusedPart(
  g: Graph,
  buffers: readonly PlanBuffer[],
  names: ReadonlyMap<number, string>,
  misses: readonly FlashMiss[],
  flashOff: boolean,
): PlanUnfused | undefined {
  const nodeOf = new Map<string, Node>();
  for (const n of g.nodes) {
    const name = names.get(n.id);
    if (name !== undefined && !nodeOf.has(name)) nodeOf.set(name, n);
  }
  const roles = scoreAxes(g);
  // the matcher's misses about attention: a contraction of a softmax, or one that sums a key axis
  const attention = new Set(roles.map((r) => r.reducer.id));
  const relevant = misses
    .filter((m) => attention.has(m.node.id) || (m.node.op === 'einsum' && m.node.operands.some((o) => o.op === 'softmax')))
    .map((m) => ({ node: m.node, reason: stableRefs(m.reason, g, names) }));
  const missText = (m: FlashMiss) => `${brief(m.node, names)}: ${m.reason}`;
  const temps: PlanUnfused['temps'] = [];
  for (const b of buffers) {
    const node = b.role === 'temp' ? nodeOf.get(b.name) : undefined;
    if (!node) continue;
    const hits = roles.filter((r) => b.axes.includes(r.key) && r.query.some((q) => b.axes.includes(q)));
    if (!hits.length) continue;
    const key = hits[0]!.key;
    const query = [...new Set(hits.filter((h) => h.key === key).flatMap((h) => h.query))].filter((q) => b.axes.includes(q));
    const readers = relevant.filter((m) => reaches(m.node, (x) => x.id === node.id));
    // the contraction that finally sums the key axis says more than a softmax on the way
    const sums = hits.filter((h) => reaches(h.reducer, (x) => x.id === node.id));
    const last = sums.some((h) => h.reducer.op === 'einsum') ? sums.filter((h) => h.reducer.op === 'einsum') : sums;
    const reasons = readers.length
      ? readers.map(missText)
      : flashOff
        ? ['flash: false asks for the unfused lowering']
        : [...new Set(last.map((h) => noFlash(h, names)))];
    temps.push({ buffer: b.name, key, query, reasons });
  }
  const missed = relevant.map((m) => ({ expr: brief(m.node, names), reason: m.reason }));
  return temps.length || missed.length ? { temps, misses: missed } : undefined;
}

/**
 * One line saying why a plan is not fused, or undefined when it is.
 * @example unfusedReason(lower(mha(), { flash: false })) // 'temporaries _einsum0[b h s t], _softmax1[b h s t] hold query axis s and key axis t (flash: false asks for the unfused lowering)'
 */
export function unfusedReason(plan: { unfused?: PlanUnfused; buffers: readonly PlanBuffer[] }): string | undefined {
  const u = plan.unfused;
  if (!u) return undefined;
  const axesOf = (name: string) => plan.buffers.find((b) => b.name === name)?.axes.join(' ') ?? '';
  // temporaries with the same axes' roles and reasons share one clause
  const groups = new Map<string, PlanUnfused['temps']>();
  for (const t of u.temps) {
    const k = JSON.stringify([t.key, t.query, t.reasons]);
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  const parts = [
    ...[...groups.values()].map((ts) => {
      const [t] = ts as [PlanUnfused['temps'][number]];
      const which = ts.map((x) => `${x.buffer}[${axesOf(x.buffer)}]`).join(', ');
      return `${ts.length > 1 ? 'temporaries' : 'temporary'} ${which} ${ts.length > 1 ? 'hold' : 'holds'} query axis ${t.query.join(' ')} and key axis ${t.key} (${t.reasons.join('; ')})`;
    }),
    ...u.misses.filter((m) => !u.temps.some((t) => t.reasons.includes(`${m.expr}: ${m.reason}`))).map((m) => `${m.expr} was not fused: ${m.reason}`),
  ];
  return parts.join('; ').replace(/\s*\n\s*/g, ' ');
}
