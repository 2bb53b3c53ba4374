/**
 * The host-side range checks of a plan (`ExecPlan.indexChecks`): bounded inputs (lengths,
 * `{ max: 't' }`) and i32 inputs used as gather indices. A shader cannot report a bad
 * index, so the runtime checks them before dispatch.
 *
 * A paged cache's block table is checked only where it is used: a flash kernel that ends
 * its keys at a declared length (`t < kv_len[b]`, see flash/length.ts) never reads the
 * entries of blocks past ceil(kv_len[b] / blk), so those may hold any padding (vLLM pads
 * with -1). The check records that bound (`usedBy`) when every use of the table is such a
 * kernel's K or V read through `merge('m blk', 't')`; any other use checks every entry.
 */
import { children, type Graph, type Node } from '../ir/index.ts';
import type { ExecPlan } from '../runtime/plan.ts';
import type { FlashMatch } from './flash/match.ts';

type IndexCheck = NonNullable<ExecPlan['indexChecks']>[number];
type UsedBy = NonNullable<IndexCheck['usedBy']>;

/**
 * The index checks of `graph` lowered with the flash `matches`.
 * @example const g = paged(); indexChecks(g, findFlash(g).matches)[1].usedBy // { length: 'kv_len', axis: 'm', per: 'blk' }
 */
export function indexChecks(graph: Graph, matches: readonly FlashMatch[]): IndexCheck[] {
  const out: IndexCheck[] = [];
  for (const i of graph.inputs) if (i.max !== undefined) out.push({ buffer: i.name, size: ['+', i.max, 1], what: `input '${i.name}' (values 0..${i.max})` });
  const consumers = consumerMap(graph);
  const outputs = new Set(graph.outputs.map((o) => o.node.id));
  for (const n of graph.nodes) {
    if (n.op !== 'gather') continue;
    let src: Node = n.index;
    while (src.op === 'view') src = src.x;
    if (src.op !== 'input') continue;
    const check: IndexCheck = { buffer: src.name, size: n.axis, what: `gather '${n.axis}' through '${src.name}'` };
    // the used part is known only for the index input itself (no view renaming its axes)
    const usedBy = n.index === src ? usedPart(n, src, matches, consumers, outputs) : undefined;
    out.push(usedBy ? { ...check, usedBy } : check);
  }
  // K and V gathered through one table give the same check twice
  return out.filter((c, i) => out.findIndex((d) => JSON.stringify(d) === JSON.stringify(c)) === i);
}

function consumerMap(g: Graph): Map<number, Node[]> {
  const map = new Map<number, Node[]>();
  for (const n of g.nodes) for (const c of new Set(children(n))) map.set(c.id, [...(map.get(c.id) ?? []), n]);
  return map;
}

/** Where a walk from the gather stands: the table's axes, and once merged into the key axis, how. */
interface Walk {
  /** the index input's axes, which the walk requires to keep their names */
  tableAxes: readonly string[];
  merged?: { axis: string; per: string; kv: string };
}

/**
 * The `usedBy` bound of the gather `g` through `table`, or undefined when some use of it
 * may read past the declared length (then every entry is checked).
 */
function usedPart(
  g: Extract<Node, { op: 'gather' }>,
  table: Extract<Node, { op: 'input' }>,
  matches: readonly FlashMatch[],
  consumers: Map<number, Node[]>,
  outputs: Set<number>,
): UsedBy | undefined {
  const found: UsedBy[] = [];
  const ok = walk(g, { tableAxes: table.axes }, matches, consumers, outputs, found);
  if (!ok || found.length === 0) return undefined;
  const [first] = found as [UsedBy];
  // every use must bound the table the same way, and its length must index the table's other axes
  if (!found.every((u) => u.length === first.length && u.axis === first.axis && u.per === first.per)) return undefined;
  return first;
}

/** Follows every consumer of `n`; true when each use ends in a length-bounded flash read (recorded in `found`). */
function walk(n: Node, at: Walk, matches: readonly FlashMatch[], consumers: Map<number, Node[]>, outputs: Set<number>, found: UsedBy[]): boolean {
  if (outputs.has(n.id)) return false; // materialised: every entry is read
  for (const c of consumers.get(n.id) ?? []) {
    if (c.op === 'einsum') {
      const u = flashUse(c, at, matches);
      if (!u) return false;
      found.push(u);
      continue;
    }
    const next = c.op === 'view' ? viewed(c, at) : ['unary', 'binary', 'select', 'cast'].includes(c.op) ? at : undefined;
    if (!next || !walk(c, next, matches, consumers, outputs, found)) return false;
  }
  return true;
}

/** The walk through a view: renames and splits of the table's axes end it, a merge of `m blk` into a key axis records it. */
function viewed(v: Extract<Node, { op: 'view' }>, at: Walk): Walk | undefined {
  const k = v.view;
  const touches = (axes: readonly string[]) => axes.some((a) => at.tableAxes.includes(a) || a === at.merged?.kv);
  switch (k.kind) {
    case 'transpose':
      return at;
    case 'rename':
      return touches([k.from]) ? undefined : at;
    case 'split':
      return touches([k.axis]) ? undefined : at;
    case 'merge': {
      if (!touches(k.from)) return at;
      // token j of the merged axis lies in table entry j / blk: the table's axis outermost, the block's slots inside
      const [outer, inner] = k.from;
      if (at.merged || k.from.length !== 2 || !at.tableAxes.includes(outer!) || at.tableAxes.includes(inner!)) return undefined;
      return { ...at, merged: { axis: outer!, per: inner!, kv: k.into } };
    }
  }
}

/** The bound when `e` is a K or V contraction of a flash match that ends its keys at an input length. */
function flashUse(e: Extract<Node, { op: 'einsum' }>, at: Walk, matches: readonly FlashMatch[]): UsedBy | undefined {
  const m = matches.find((x) => x.out === e || x.scores.some((s) => s.einsum === e));
  const end = m?.length?.end;
  if (!m || !at.merged || at.merged.kv !== m.kv || !end || m.length!.inclusive || end.op !== 'input') return undefined;
  // the length is read at the table entry's own indices: its axes are the table's, less the block axis
  if (!end.axes.every((a) => a !== at.merged!.axis && at.tableAxes.includes(a))) return undefined;
  return { length: end.name, axis: at.merged.axis, per: at.merged.per };
}
