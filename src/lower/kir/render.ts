/**
 * The WGSL renderer of the kernel IR: one table of operators (precedence and which operands
 * WGSL's grammar accepts without parentheses) and one function per node kind. Parentheses are
 * written where the IR has them (`par`) and wherever the grammar needs them.
 */
import type { BinOp, Expr, Stmt } from './ir.ts';

/**
 * WGSL's binary operators by grammar level. An operand of a lower level needs parentheses;
 * `left` says whether the same level may stand unparenthesised on the left (left-associative
 * chains `a - b - c`, `a && b && c`; relational operators do not chain; a same-level right
 * operand always keeps its parentheses: `a - (b - c)`). Shifts and bitwise operators take
 * unary operands only, and `&&` and `||` do not mix.
 */
const LEVEL: Record<BinOp, { level: number; left: boolean; unaryOperands?: boolean }> = {
  '*': { level: 6, left: true }, '/': { level: 6, left: true }, '%': { level: 6, left: true },
  '+': { level: 5, left: true }, '-': { level: 5, left: true },
  '<<': { level: 4, left: false, unaryOperands: true },
  '<': { level: 3, left: false }, '<=': { level: 3, left: false }, '>': { level: 3, left: false },
  '>=': { level: 3, left: false }, '==': { level: 3, left: false }, '!=': { level: 3, left: false },
  '&': { level: 2, left: true, unaryOperands: true }, '|': { level: 2, left: true, unaryOperands: true },
  '&&': { level: 1, left: true }, '||': { level: 1, left: true },
};

/** Whether `child` needs parentheses as the `side` operand of `parent`. */
function needsParens(parent: BinOp, child: Expr, side: 'a' | 'b'): boolean {
  if (child.k !== 'bin') return false;
  const p = LEVEL[parent];
  const c = LEVEL[child.op];
  // shifts take unary operands; bitwise operators too, but chain with themselves on the left
  if (p.unaryOperands) return !(side === 'a' && p.left && child.op === parent);
  if (c.unaryOperands && c.level < 4) return true; // a bitwise operand of anything else
  if (c.level !== p.level) return c.level < p.level;
  if (side === 'b' || !p.left) return true;
  return p.level === 1 && child.op !== parent; // && and || do not mix
}

/** A literal's WGSL spelling. */
function literal(e: Expr & { k: 'lit' }): string {
  switch (e.ty) {
    case 'bool': return e.v ? 'true' : 'false';
    case 'u32': return e.hex ? `0x${e.v.toString(16)}u` : `${e.v}u`;
    case 'i32': return `${e.v}i`;
    case 'f16': {
      const s = String(e.v);
      return `${/[.e]/.test(s) ? s : `${s}.0`}h`;
    }
    case 'f32': {
      if (Object.is(e.v, -0)) return '-0.0';
      const s = String(e.v);
      return /[.e]/.test(s) ? s : `${s}.0`;
    }
  }
}

/**
 * The WGSL text of an expression, with the parentheses the IR has and those WGSL's grammar needs.
 * @example renderExpr(kir.mul(kir.add(kir.v('a'), kir.u(1)), kir.v('n'))) // '(a + 1u) * n'
 * @example renderExpr(kir.and(kir.lt(kir.v('i'), kir.v('n')), kir.bin('&', kir.v('w'), kir.hex(0xff)))) // 'i < n && (w & 0xffu)'
 */
export function renderExpr(e: Expr): string {
  switch (e.k) {
    case 'lit': return literal(e);
    case 'name': return e.name;
    case 'field': return `${renderExpr(e.x)}.${e.field}`;
    case 'paren': return `(${renderExpr(e.x)})`;
    case 'un': return `${e.op}${e.x.k === 'bin' ? `(${renderExpr(e.x)})` : renderExpr(e.x)}`;
    case 'call': return `${e.fn}(${e.args.map(renderExpr).join(', ')})`;
    case 'index': return `${renderExpr(e.x)}[${renderExpr(e.i)}]`;
    case 'bin': {
      const side = (x: Expr, s: 'a' | 'b') => (needsParens(e.op, x, s) ? `(${renderExpr(x)})` : renderExpr(x));
      return `${side(e.a, 'a')} ${e.op} ${side(e.b, 'b')}`;
    }
  }
}

/** One statement without its indentation or trailing newline (compound statements span lines). */
function stmtLines(s: Stmt): string[] {
  switch (s.k) {
    case 'let': return [`let ${s.name} = ${renderExpr(s.value)};`];
    case 'var': return [`var ${s.name}${s.ty !== undefined ? `: ${s.ty}` : ''}${s.value ? ` = ${renderExpr(s.value)}` : ''};`];
    case 'assign': return [`${renderExpr(s.target)} ${s.op} ${renderExpr(s.value)};`];
    case 'incr': return [`${renderExpr(s.target)}++;`];
    case 'call': return [`${s.fn}(${s.args.map(renderExpr).join(', ')});`];
    case 'continue': return ['continue;'];
    case 'break': return ['break;'];
    case 'return': return ['return;'];
    case 'comment': return [`// ${s.text}`];
    case 'line': return [s.body.map((x) => inlineText(x)).join(' ')];
    case 'block': return ['{', ...indentLines(s.body), '}'];
    case 'for': {
      const head = `for (${inlineText(s.init)} ${renderExpr(s.cond)}; ${inlineText(s.step).replace(/;$/, '')})`;
      return s.inline ? [`${head} { ${s.body.map(inlineText).join(' ')} }`] : [`${head} {`, ...indentLines(s.body), '}'];
    }
    case 'if': {
      if (s.inline) return [inlineIf(s) + (s.note ? ` // ${s.note}` : '')];
      const out = [`if (${renderExpr(s.cond)}) {`, ...indentLines(s.then)];
      if (s.orElse?.length === 1 && s.orElse[0]!.k === 'if') {
        const rest = stmtLines(s.orElse[0]!);
        out.push(`} else ${rest[0]}`, ...rest.slice(1));
        return out;
      }
      if (s.orElse) out.push('} else {', ...indentLines(s.orElse));
      out.push(`}${s.note ? ` // ${s.note}` : ''}`);
      return out;
    }
  }
}

/** An `if` on one line: `if (c) { a; b; } else if (d) { e; }`. */
function inlineIf(s: Stmt & { k: 'if' }): string {
  const head = `if (${renderExpr(s.cond)}) { ${s.then.map(inlineText).join(' ')} }`;
  if (!s.orElse) return head;
  if (s.orElse.length === 1 && s.orElse[0]!.k === 'if') return `${head} else ${inlineIf(s.orElse[0]!)}`;
  return `${head} else { ${s.orElse.map(inlineText).join(' ')} }`;
}

/** A statement written on one line. */
function inlineText(s: Stmt): string {
  if (s.k === 'if') return inlineIf(s);
  if (s.k === 'for') return stmtLines({ ...s, inline: true })[0]!;
  return stmtLines(s).join(' ');
}

function indentLines(stmts: readonly Stmt[]): string[] {
  return renderStmts(stmts).map((l) => (l ? `  ${l}` : l));
}

/**
 * The lines of a statement list, nested statements indented by two spaces per level.
 * @example renderStmts([kir.loop('_j', kir.u(0), kir.u(4), [kir.inc(kir.v('_s'), kir.v('_j'))])]) // ['for (var _j = 0u; _j < 4u; _j++) {', '  _s += _j;', '}']
 */
export function renderStmts(stmts: readonly Stmt[]): string[] {
  return stmts.flatMap(stmtLines);
}
