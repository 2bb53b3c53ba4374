/** One-line descriptions of fused expressions, for kernel headers and `explain`. */
import { BINARY, REDUCE, UNARY, type Node } from '../ir/index.ts';

/**
 * Describes `n` as an expression; nodes in `names` (buffers) appear by name.
 * @example describe(input('x', 'i').exp().mul(2).node, new Map()) // '(exp(x) * 2)'
 */
export function describe(n: Node, names: ReadonlyMap<number, string>, depth = 0): string {
  const named = names.get(n.id);
  if (named !== undefined && depth > 0) return named;
  if (depth > 12) return '…';
  const d = (x: Node) => describe(x, names, depth + 1);
  switch (n.op) {
    case 'input':
      return n.name;
    case 'const':
      return String(n.value);
    case 'index':
      return n.axis;
    case 'size':
      return `|${n.size}|`;
    case 'unary': {
      const prefix = UNARY[n.fn].print.prefix;
      return prefix !== undefined ? `${prefix}${d(n.x)}` : `${n.fn}(${d(n.x)})`;
    }
    case 'cast':
      return `${n.dtype}(${d(n.x)})`;
    case 'binary': {
      const infix = BINARY[n.fn].print.infix;
      return infix !== undefined ? `(${d(n.a)} ${infix} ${d(n.b)})` : `${n.fn}(${d(n.a)}, ${d(n.b)})`;
    }
    case 'select':
      return `where(${d(n.cond)}, ${d(n.a)}, ${d(n.b)})`;
    case 'einsum':
      return `einsum('${n.operands.map((o) => o.axes.join(' ')).join(', ')} -> ${n.axes.join(' ')}', ${n.operands.map(d).join(', ')})`;
    case 'reduce':
      return `${REDUCE[n.fn].print.name}(${d(n.x)}, '${n.over.join(' ')}')`;
    case 'softmax': {
      const extra = [n.mask ? `mask=${d(n.mask)}` : '', n.sink ? `sink=${d(n.sink)}` : ''].filter(Boolean);
      return `softmax(${d(n.x)}, '${n.axis}'${extra.map((e) => ', ' + e).join('')})`;
    }
    case 'view': {
      const v = n.view;
      if (v.kind === 'rename') return `${d(n.x)}.rename('${v.from}', '${v.to}')`;
      if (v.kind === 'split') return `${d(n.x)}.split('${v.axis}', '${v.into.join(' ')}')`;
      if (v.kind === 'merge') return `${d(n.x)}.merge('${v.from.join(' ')}', '${v.into}')`;
      return `${d(n.x)}.transpose('${n.axes.join(' ')}')`;
    }
    case 'gather':
      return `${d(n.src)}.gather('${n.axis}', ${d(n.index)})`;
    case 'scan':
      return `cumsum(${d(n.x)}, '${n.axis}')`;
    case 'topk':
      return `topk(${d(n.x)}, '${n.axis}', ${n.k}, '${n.into}')`;
  }
}
