/**
 * Fusion grouping: which nodes become kernels, which are inlined. Heavy nodes
 * (einsum, reduce, softmax, scan, top-k) are kernel cores; an elementwise chain that only
 * consumes a core (its epilogue: scale, mask, score mod) joins the core's kernel;
 * elementwise ops, views and gathers are inlined as index expressions into every
 * consumer; graph outputs are always written to buffers. An output that is a chain of
 * views of a kernel's result (nothing else reading it) is stored by that kernel through the
 * views' index maps: no temporary, no copy kernel. An i8 (packed) output is never
 * an epilogue: it gets an elementwise kernel that writes whole words. A gather's source that
 * is an elementwise expression of data is materialised by an elementwise kernel: a gather
 * reads it at computed positions, many times per element (MoBA's block choice [b h s m],
 * read once per key by its attention mask), so inlining would recompute it at every read.
 */
import { children, reaches, type Graph, type Node } from '../ir/index.ts';

/** One kernel to emit: it computes `root` over root's axes, around `core`. */
export interface KernelGroup {
  root: Node;
  /** the heavy node the kernel is built around; absent for pure elementwise kernels */
  core?: Extract<Node, { op: 'einsum' | 'reduce' | 'softmax' | 'scan' | 'topk' }>;
  /** the graph output this kernel writes, if any */
  output?: string;
  /** the core is the P·V contraction of a matched attention pattern: one fused flash kernel */
  flash?: boolean;
  /**
   * the output is a chain of views of `root` (innermost first; the last is the output node):
   * the kernel stores through their index maps, so no temporary and no copy kernel is made
   */
  views?: Extract<Node, { op: 'view' }>[];
}

/** How {@link groupKernels} treats matched attention patterns. */
export interface GroupOptions {
  /** nodes a flash kernel computes internally (scores, softmax, lse): never kernel cores, never separate outputs */
  inner?: ReadonlySet<number>;
  /** P·V contractions that become flash kernels */
  flash?: ReadonlySet<number>;
}

const HEAVY = new Set(['einsum', 'reduce', 'softmax', 'scan', 'topk']);
const ELEMENTWISE = new Set(['unary', 'binary', 'select', 'cast']);

function sameAxisSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * The views from `root` to a graph output when the output is a chain of views (rename,
 * transpose, split, merge) of `root` and nothing else reads `root` or a view before the
 * last; empty otherwise. The views then fold into the kernel's store index.
 */
function viewedOutput(root: Node, consumers: Map<number, Node[]>, outputOf: Map<number, string>, inner: ReadonlySet<number>): Extract<Node, { op: 'view' }>[] {
  if (root.dtype === 'i8') return []; // packed: written whole words by an elementwise kernel
  const views: Extract<Node, { op: 'view' }>[] = [];
  for (let x = root; !outputOf.has(x.id); ) {
    const cs = consumers.get(x.id) ?? [];
    const c = cs[0];
    if (cs.length !== 1 || !c || c.op !== 'view' || inner.has(c.id)) return [];
    views.push(c);
    x = c;
  }
  return views;
}

/**
 * Groups the graph's nodes into kernels, in dispatch order.
 * @example groupKernels(mha()).map((k) => k.core?.op) // ['einsum', 'softmax', 'einsum']
 */
export function groupKernels(g: Graph, opts: GroupOptions = {}): KernelGroup[] {
  const inner = opts.inner ?? new Set<number>();
  const consumers = new Map<number, Node[]>();
  for (const n of g.nodes)
    for (const c of children(n)) {
      const list = consumers.get(c.id) ?? [];
      if (!list.includes(n)) list.push(n);
      consumers.set(c.id, list);
    }
  const outputOf = new Map<number, string>();
  for (const o of g.outputs) if (!outputOf.has(o.node.id)) outputOf.set(o.node.id, o.name);

  const groups: KernelGroup[] = [];
  const rooted = new Set<number>();
  const claimed = new Set<number>();
  for (const n of g.nodes) {
    if (!HEAVY.has(n.op) || inner.has(n.id)) continue;
    let root = n;
    const chain: Node[] = [n];
    for (;;) {
      if (outputOf.has(root.id)) break;
      const cs = consumers.get(root.id) ?? [];
      const c = cs[0];
      if (cs.length !== 1 || !c || !ELEMENTWISE.has(c.op) || !sameAxisSet(c.axes, n.axes)) break;
      // an i8 result is written four to a word by an elementwise kernel of its own
      if (c.dtype === 'i8') break;
      // the other operands of the epilogue must not need this kernel's own result twice
      if (children(c).filter((x) => x === root).length !== 1) break;
      // `a + b` of two contractions: the first claims it, the second is materialised
      if (claimed.has(c.id)) break;
      root = c;
      chain.push(c);
    }
    for (const x of chain) claimed.add(x.id);
    const views = outputOf.has(root.id) ? [] : viewedOutput(root, consumers, outputOf, inner);
    const output = outputOf.get(views.at(-1)?.id ?? root.id);
    groups.push({ root, core: n as KernelGroup['core'], output, ...(opts.flash?.has(n.id) ? { flash: true } : {}), ...(views.length ? { views } : {}) });
    rooted.add(root.id);
  }
  for (const src of gatheredExpressions(g, inner, rooted)) {
    groups.push({ root: src });
    rooted.add(src.id);
  }
  // outputs that are not the root of a heavy kernel: elementwise kernels (also copies
  // of inputs, views, and a second name for an already written output)
  const written = new Set<number>();
  for (const gr of groups) if (gr.output) written.add((gr.views?.at(-1) ?? gr.root).id);
  for (const o of g.outputs) {
    if (written.has(o.node.id) && outputOf.get(o.node.id) === o.name) continue;
    if (inner.has(o.node.id)) continue; // an lse the flash kernel writes
    groups.push({ root: o.node, output: o.name });
    written.add(o.node.id);
  }
  // producers before consumers: a kernel reads only roots created before its own root
  return groups
    .map((gr, i) => ({ gr, i }))
    .sort((a, b) => a.gr.root.id - b.gr.root.id || a.i - b.i)
    .map(({ gr }) => gr);
}

/** Data, as opposed to indices, sizes and constants: an input or a kernel's result. */
const isData = (n: Node): boolean => n.op === 'input' || HEAVY.has(n.op);

/** Elementwise gather sources that read data (an input or a kernel's result), not yet a kernel's root. */
function gatheredExpressions(g: Graph, inner: ReadonlySet<number>, rooted: ReadonlySet<number>): Node[] {
  const out = new Map<number, Node>();
  for (const n of g.nodes) {
    if (n.op !== 'gather' || inner.has(n.src.id)) continue;
    const src = n.src;
    if (ELEMENTWISE.has(src.op) && src.dtype !== 'bool' && src.dtype !== 'i8' && !rooted.has(src.id) && reaches(src, isData)) out.set(src.id, src);
  }
  return [...out.values()];
}
