import { staticSize, type Graph } from './graph.ts';
import type { Node } from './node.ts';
import { BINARY, REDUCE } from './ops.ts';

function ty(n: Node): string {
  return `${n.dtype}[${n.axes.join(' ')}]`;
}

/**
 * Prints a graph as one einsum-style line per node, e.g.
 * `%5: f32[b h s t] = einsum('b h s d, b h t d -> b h s t', q, k)`.
 * @example console.log(printGraph(mha.graph({ causal: true })))
 */
export function printGraph(g: Graph): string {
  // local numbering: node ids are global creation counters, unstable across programs
  const leaf = (n: Node) => n.op === 'input' || n.op === 'const' || n.op === 'index' || n.op === 'size';
  const local = new Map(g.nodes.filter((n) => !leaf(n)).map((n, i) => [n.id, i]));
  const ref = (n: Node): string => {
    if (n.op === 'input') return n.name;
    if (n.op === 'const') return String(n.value);
    if (n.op === 'index') return n.axis;
    if (n.op === 'size') return `|${n.size}|`;
    return `%${local.get(n.id)}`;
  };
  function rhs(n: Node): string | null {
    switch (n.op) {
      case 'input':
      case 'const':
      case 'index':
      case 'size':
        return null;
      case 'unary':
        return `${n.fn}(${ref(n.x)})`;
      case 'cast':
        return `${n.dtype}(${ref(n.x)})`;
      case 'binary': {
        const infix = BINARY[n.fn].print.infix;
        return infix !== undefined ? `${ref(n.a)} ${infix} ${ref(n.b)}` : `${n.fn}(${ref(n.a)}, ${ref(n.b)})`;
      }
      case 'select':
        return `where(${ref(n.cond)}, ${ref(n.a)}, ${ref(n.b)})`;
      case 'einsum':
        return `einsum('${n.operands.map((o) => o.axes.join(' ')).join(', ')} -> ${n.axes.join(' ')}', ${n.operands.map(ref).join(', ')})`;
      case 'reduce':
        return `${REDUCE[n.fn].print.name}(${ref(n.x)}, '${n.over.join(' ')}')`;
      case 'softmax': {
        const extra = [n.mask ? `mask=${ref(n.mask)}` : '', n.sink ? `sink=${ref(n.sink)}` : ''].filter(Boolean);
        return `softmax(${ref(n.x)}, '${n.axis}'${extra.length ? ', ' + extra.join(', ') : ''})`;
      }
      case 'view': {
        const v = n.view;
        const src = ref(n.x);
        if (v.kind === 'rename') return `rename(${src}, '${v.from} -> ${v.to}')`;
        if (v.kind === 'split') return `split(${src}, '${v.axis} -> ${v.into.join(' ')}')`;
        if (v.kind === 'merge') return `merge(${src}, '${v.from.join(' ')} -> ${v.into}')`;
        return `transpose(${src}, '${n.axes.join(' ')}')`;
      }
      case 'gather':
        return `gather(${ref(n.src)}, '${n.axis}', ${ref(n.index)})`;
      case 'scan':
        return `cumsum(${ref(n.x)}, '${n.axis}')`;
      case 'topk':
        return `topk(${ref(n.x)}, '${n.axis}', ${n.k}, '${n.into}')`;
    }
  }
  const lines = [`graph ${g.name}(${g.inputs.map((i) => `${i.name}: ${ty(i)}`).join(', ')})`];
  lines.push(`  sizes: ${g.sizes.map((s) => (staticSize(g.staticSizes, s) !== undefined ? `${s}=${g.staticSizes[s]}` : s)).join(' ')}`);
  for (const e of g.equations) lines.push(`  where ${e.size} = ${e.ceil ? `ceil(${e.factors.join(' / ')})` : e.factors.join(' * ')}`);
  for (const n of g.nodes) {
    const r = rhs(n);
    if (r !== null) lines.push(`  ${ref(n)}: ${ty(n)} = ${r}`);
  }
  for (const o of g.outputs) lines.push(`  return ${o.name} = ${ref(o.node)}: ${ty(o.node)}`);
  return lines.join('\n');
}
