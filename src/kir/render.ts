/**
 * The WGSL renderer of the kernel IR: one table of operators (precedence and which operands
 * WGSL's grammar accepts without parentheses) and one function per node kind. Parentheses are
 * written where the IR has them (`par`) and wherever the grammar needs them.
 */
import type { BinOp, Expr, KernelModule, Stmt, Ty } from './ir.ts';

/**
 * WGSL's binary operators by grammar level. An operand of a lower level needs parentheses;
 * `left` says whether the same level may stand unparenthesised on the left (left-associative
 * chains `a - b - c`, `a && b && c`; relational operators do not chain; a same-level right
 * operand always keeps its parentheses: `a - (b - c)`). Shifts and bitwise operators take
 * unary operands only, and `&&` and `||` do not mix.
 */
const LEVEL: Record<BinOp, { level: number; left: boolean; unaryOperands?: boolean }> = {
  '*': { level: 6, left: true },
  '/': { level: 6, left: true },
  '%': { level: 6, left: true },
  '+': { level: 5, left: true },
  '-': { level: 5, left: true },
  '<<': { level: 4, left: false, unaryOperands: true },
  '<': { level: 3, left: false },
  '<=': { level: 3, left: false },
  '>': { level: 3, left: false },
  '>=': { level: 3, left: false },
  '==': { level: 3, left: false },
  '!=': { level: 3, left: false },
  '&': { level: 2, left: true, unaryOperands: true },
  '|': { level: 2, left: true, unaryOperands: true },
  '&&': { level: 1, left: true },
  '||': { level: 1, left: true },
};

/** Whether `child` needs parentheses as the `side` operand of `parent`. */
export function needsParens(parent: BinOp, child: Expr, side: 'a' | 'b'): boolean {
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
    case 'bool':
      return e.v ? 'true' : 'false';
    case 'u32':
      return e.hex ? `0x${e.v.toString(16)}u` : `${e.v}u`;
    case 'i32':
      return `${e.v}i`;
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
    case 'lit':
      return literal(e);
    case 'name':
      return e.name;
    case 'field':
      return `${renderExpr(e.x)}.${e.field}`;
    case 'paren':
      return `(${renderExpr(e.x)})`;
    case 'un':
      return `${e.op}${e.x.k === 'bin' ? `(${renderExpr(e.x)})` : renderExpr(e.x)}`;
    case 'call':
      return `${e.fn}(${e.args.map(renderExpr).join(', ')})`;
    case 'index':
      return `${renderExpr(e.x)}[${renderExpr(e.i)}]`;
    case 'bin': {
      const side = (x: Expr, s: 'a' | 'b') => (needsParens(e.op, x, s) ? `(${renderExpr(x)})` : renderExpr(x));
      return `${side(e.a, 'a')} ${e.op} ${side(e.b, 'b')}`;
    }
  }
}

/** The longest line the renderer writes where it has a choice (one-line loops and `if`s, long expressions). */
export const MAX_LINE = 160;

/**
 * A WGSL type.
 * @example renderType(kir.arrayOf('f32', 16)) // 'array<f32, 16>'
 */
export function renderType(t: Ty): string {
  if (typeof t === 'string') return t;
  return 'array' in t ? `array<${renderType(t.array)}, ${t.n}>` : `atomic<${t.atomic}>`;
}

/** `var name[: ty]` */
const varHead = (s: Stmt & { k: 'var' }) => `var ${s.name}${s.ty !== undefined ? `: ${renderType(s.ty)}` : ''}`;

/** One statement at nesting depth `depth`, as indented lines (compound statements span lines). */
function stmtLines(s: Stmt, depth: number): string[] {
  const pad = '  '.repeat(depth);
  const one = (text: string) => [pad + text];
  switch (s.k) {
    case 'let':
      return wrapped(pad, `let ${s.name} = `, s.value, ';');
    case 'var':
      return s.value ? wrapped(pad, `${varHead(s)} = `, s.value, ';') : one(`${varHead(s)};`);
    case 'assign':
      return wrapped(pad, `${renderExpr(s.target)} ${s.op} `, s.value, ';');
    case 'incr':
      return one(`${renderExpr(s.target)}++;`);
    case 'call':
      return one(`${s.fn}(${s.args.map(renderExpr).join(', ')});`);
    case 'continue':
      return one('continue;');
    case 'break':
      return one('break;');
    case 'return':
      return one('return;');
    case 'comment':
      return one(`// ${s.text}`);
    case 'line':
      return one(s.body.map(inlineText).join(' '));
    case 'block':
      return [pad + '{', ...renderStmts(s.body, depth + 1), pad + '}'];
    case 'for': {
      const head = `for (${inlineText(s.init)} ${renderExpr(s.cond)}; ${inlineText(s.step).replace(/;$/, '')})`;
      if (s.inline) {
        const text = pad + `${head} { ${s.body.map(inlineText).join(' ')} }`;
        if (text.length <= MAX_LINE) return [text];
      }
      return [`${pad}${head} {`, ...renderStmts(s.body, depth + 1), pad + '}'];
    }
    case 'if': {
      const note = s.note ? ` // ${s.note}` : '';
      if (s.inline) {
        const text = pad + inlineIf(s) + note;
        if (text.length <= MAX_LINE) return [text];
      }
      const out = [`${pad}if (${renderExpr(s.cond)}) {`, ...renderStmts(s.then, depth + 1)];
      if (s.orElse?.length === 1 && s.orElse[0]!.k === 'if') {
        const rest = stmtLines({ ...s.orElse[0]!, inline: false }, depth);
        out.push(`${pad}} else ${rest[0]!.trimStart()}`, ...rest.slice(1));
        return out;
      }
      if (s.orElse) out.push(`${pad}} else {`, ...renderStmts(s.orElse, depth + 1));
      out.push(`${pad}}${note}`);
      return out;
    }
  }
}

/**
 * `head value tail` on one line, or, when that is longer than {@link MAX_LINE}, with the value
 * broken at its outermost operators and call arguments, continuation lines indented two more.
 */
function wrapped(pad: string, head: string, value: Expr, tail: string): string[] {
  const text = `${pad}${head}${renderExpr(value)}${tail}`;
  if (text.length <= MAX_LINE) return [text];
  const lines = breakExpr(value, pad.length + head.length, pad + '  ');
  lines[0] = pad + head + lines[0]!;
  lines[lines.length - 1] += tail;
  return lines;
}

/** `e` over several lines: a binary operation breaks before its operator, a call after each argument. */
function breakExpr(e: Expr, first: number, pad: string): string[] {
  const text = renderExpr(e);
  if (first + text.length <= MAX_LINE) return [text];
  if (e.k === 'bin') {
    const side = (x: Expr, w: 'a' | 'b') => (needsParens(e.op, x, w) ? { k: 'paren' as const, x } : x);
    const left = breakExpr(side(e.a, 'a'), first, pad);
    const right = breakExpr(side(e.b, 'b'), pad.length + e.op.length + 1, pad);
    return [...left, `${pad}${e.op} ${right[0]}`, ...right.slice(1)];
  }
  if (e.k === 'paren') {
    const inner = breakExpr(e.x, first + 1, pad + '  ');
    return [`(${inner[0]}`, ...inner.slice(1), `${pad})`];
  }
  if (e.k === 'index') {
    const base = renderExpr(e.x);
    const inner = breakExpr(e.i, pad.length + 2, pad + '  ');
    return [`${base}[`, `${pad}  ${inner[0]}`, ...inner.slice(1), `${pad}]`];
  }
  if (e.k === 'call' && e.args.length) {
    const args = e.args.map((a, i) => {
      const lines = breakExpr(a, pad.length + 2, pad + '  ');
      lines[lines.length - 1] += i < e.args.length - 1 ? ',' : '';
      return lines.map((l, j) => (j === 0 ? `${pad}  ${l}` : l));
    });
    return [`${e.fn}(`, ...args.flat(), `${pad})`];
  }
  return [text];
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
  if (s.k === 'for')
    return `for (${inlineText(s.init)} ${renderExpr(s.cond)}; ${inlineText(s.step).replace(/;$/, '')}) { ${s.body.map(inlineText).join(' ')} }`;
  if (s.k === 'let') return `let ${s.name} = ${renderExpr(s.value)};`;
  if (s.k === 'var') return `${varHead(s)}${s.value ? ` = ${renderExpr(s.value)}` : ''};`;
  if (s.k === 'assign') return `${renderExpr(s.target)} ${s.op} ${renderExpr(s.value)};`;
  return stmtLines(s, 0)
    .map((l) => l.trim())
    .join(' ');
}

/**
 * The lines of a statement list at nesting depth `depth` (two spaces per level).
 * @example renderStmts([kir.loop('_j', kir.u(0), kir.u(4), [kir.inc(kir.v('_s'), kir.v('_j'))])]) // ['for (var _j = 0u; _j < 4u; _j++) {', '  _s += _j;', '}']
 */
export function renderStmts(stmts: readonly Stmt[], depth = 0): string[] {
  return stmts.flatMap((s) => stmtLines(s, depth));
}

/**
 * A header line as `// ` comments of at most {@link MAX_LINE} characters: a long one (a schedule,
 * a long expression) continues on lines indented by two more spaces, broken after a comma or a space.
 * @example headerLines('schedule: 1 row') // ['// schedule: 1 row']
 */
export function headerLines(text: string): string[] {
  const out: string[] = [];
  const lead = /^ */.exec(text)![0];
  let rest = text;
  let prefix = '// ';
  while (prefix.length + rest.length > MAX_LINE) {
    const room = MAX_LINE - prefix.length;
    let cut = rest.lastIndexOf(', ', room - 1);
    if (cut > room / 3) cut += 1;
    else cut = rest.lastIndexOf(' ', room);
    if (cut <= lead.length) break;
    out.push(prefix + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    prefix = `// ${lead}  `;
  }
  out.push(prefix + rest);
  return out;
}

/**
 * The WGSL of a whole kernel module: header, extensions, the sizes' struct, bindings (storage
 * buffers in order, then the uniform), workgroup variables, helpers, and the entry point.
 */
export function renderModule(m: KernelModule): string {
  const lines = m.header.flatMap(headerLines);
  for (const e of m.enables) lines.push(`enable ${e};`);
  lines.push('');
  const decls = m.buffers.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${renderType(b.element)}>;`);
  if (m.uniforms.fields.length) {
    lines.push(`struct _Sizes { ${m.uniforms.fields.map((x) => `${x}: u32`).join(', ')} }`);
    decls.push(`@group(0) @binding(${decls.length}) var<uniform> ${m.uniforms.name}: _Sizes;`);
  }
  lines.push(...decls, '');
  if (m.workgroup.length) lines.push(...m.workgroup.map((w) => `var<workgroup> ${w.name}: ${renderType(w.ty)};`), '');
  for (const h of m.helpers) lines.push(h, '');
  const params = m.entry.params.map((p) => `@builtin(${p.builtin}) ${p.name}: ${p.ty}`);
  const signature = `fn ${m.entry.name}(${params.join(', ')}) {`;
  lines.push(
    `@compute @workgroup_size(${m.entry.workgroupSize})`,
    ...(signature.length <= MAX_LINE ? [signature] : [`fn ${m.entry.name}(`, ...params.map((x) => `  ${x},`), ') {']),
    ...renderStmts(m.entry.body, 1),
    '}',
    '',
  );
  return lines.join('\n');
}
