/**
 * Cleanups of the kernel IR, each a named pass from statements to statements. `cleanup` runs
 * them all; every lowered kernel body goes through it before rendering (the runtime's few KV-cache
 * kernels are built without noise and rendered as they are). They never change what a kernel
 * computes: folding touches integer arithmetic and exact float identities only, and nothing
 * with an effect (atomics, subgroup operations, barriers) is moved or dropped.
 *
 * - `foldConstants`: integer literals are folded (`2u * 3u`), and identities removed: `x * 1`,
 *   `1 * x`, `x / 1`, `x + 0`, `0 + x`, `x - 0`, `x % 1` (= 0), `0 * x` and `x * 0` (= 0);
 *   `x * 1.0` and `1.0 * x` for floats (exact); `x = x;` statements disappear.
 * - `inlineAliases`: a `let` bound to another immutable name or to a literal (`let _e = _dv;`,
 *   `let _lo = 0u;`) is replaced by what it names, where nothing in between could change it.
 * - `removeDeadLets`: a `let` nothing reads is dropped (its value has no effect).
 * - `dropParens`: parentheses the IR carries from how it was built, inside an expression where
 *   WGSL's grammar does not need them (`(_s) * 2u`, `min((a), b)`); those it needs stay
 *   (`(a + b) * c`), and so do those around a whole value (`let _v3 = (a + b);`).
 * - `oneStatementPerLine`: statements written on one line (`let q = x % n; x = x / n;`, the
 *   unrolled register blocks) go on lines of their own, and so do the bodies of one-line loops
 *   and `if`s holding more than one statement; a one-line `if (c) { return; }` stays.
 */
import { bin, exprsOf, mapExpr, mapStmts, namesIn, operands, type Expr, type Stmt } from './ir.ts';
import { needsParens } from './render.ts';

/** Calls with an effect (or a collective): never folded away, never duplicated or dropped. */
const EFFECTS = /^(atomic|subgroup|workgroupBarrier)/;

/** Whether evaluating `e` has no effect (so dropping it changes nothing). */
export function pure(e: Expr): boolean {
  if (e.k === 'call' && EFFECTS.test(e.fn)) return false;
  return operands(e).every(pure);
}

const isLit = (e: Expr, value: number): boolean => e.k === 'lit' && e.ty !== 'bool' && e.v === value;
const isInt = (e: Expr): e is Expr & { k: 'lit' } => e.k === 'lit' && (e.ty === 'u32' || e.ty === 'i32');

/** `a op b` of two integer literals of one type, wrapped as WGSL does (undefined when not foldable). */
function foldLiterals(op: string, a: Expr & { k: 'lit' }, b: Expr & { k: 'lit' }): Expr | undefined {
  if (a.ty !== b.ty || a.hex || b.hex) return undefined;
  const wrap = (x: number) => (a.ty === 'u32' ? x >>> 0 : x | 0);
  let r: number;
  switch (op) {
    case '+':
      r = a.v + b.v;
      break;
    case '-':
      r = a.v - b.v;
      break;
    case '*':
      r = Number(BigInt.asIntN(64, BigInt(a.v) * BigInt(b.v)) & 0xffffffffn);
      break;
    case '/':
      if (b.v === 0) return undefined;
      r = Math.trunc(a.v / b.v);
      break;
    case '%':
      if (b.v === 0) return undefined;
      r = a.v % b.v;
      break;
    default:
      return undefined;
  }
  r = wrap(r);
  // a negative i32 result stays unfolded: its literal would need parentheses of its own
  return a.ty === 'i32' && r < 0 ? undefined : { k: 'lit', v: r, ty: a.ty };
}

/** One folding step at the root of `e` (its operands are already folded). */
function foldNode(e: Expr): Expr {
  if (e.k === 'paren' && e.x.k === 'lit') return e.x;
  if (e.k !== 'bin') return e;
  const a = e.a.k === 'paren' ? e.a.x : e.a;
  const b = e.b.k === 'paren' ? e.b.x : e.b;
  if (isInt(a) && isInt(b)) return foldLiterals(e.op, a, b) ?? e;
  const intOp = isInt(a) || isInt(b);
  switch (e.op) {
    case '*':
      if (intOp && ((isLit(a, 0) && pure(b)) || (isLit(b, 0) && pure(a)))) return isLit(a, 0) ? a : b;
      if (isLit(b, 1)) return e.a;
      if (isLit(a, 1)) return e.b;
      return e;
    case '/':
      return intOp && isLit(b, 1) ? e.a : e;
    case '%':
      return intOp && isLit(b, 1) && pure(a) ? { k: 'lit', v: 0, ty: (b as Expr & { k: 'lit' }).ty } : e;
    case '+':
      if (intOp && isLit(b, 0)) return e.a;
      if (intOp && isLit(a, 0)) return e.b;
      return e;
    case '-':
      return intOp && isLit(b, 0) ? e.a : e;
    default:
      return e;
  }
}

/** Whether two expressions are the same tree. */
const same = (a: Expr, b: Expr): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Constant folding and integer identities; `x = x;` statements removed. */
export function foldConstants(stmts: readonly Stmt[]): Stmt[] {
  const folded = mapStmts(stmts, foldNode);
  const drop = (ss: readonly Stmt[]): Stmt[] =>
    ss.filter((s) => !(s.k === 'assign' && s.op === '=' && same(s.target, s.value))).map((s) => withChildren(s, drop));
  return drop(folded);
}

/** `s` with its nested statement lists mapped by `f`. */
function withChildren(s: Stmt, f: (ss: readonly Stmt[]) => Stmt[]): Stmt {
  switch (s.k) {
    case 'for':
      return { ...s, body: f(s.body) };
    case 'if':
      // biome-ignore lint/suspicious/noThenProperty: an if statement's branch, never awaited
      return { ...s, then: f(s.then), ...(s.orElse ? { orElse: f(s.orElse) } : {}) };
    case 'block':
    case 'line':
      return { ...s, body: f(s.body) };
    default:
      return s;
  }
}

/** Every statement of `ss`, nested ones included, in program order. */
function flat(ss: readonly Stmt[], out: Stmt[] = []): Stmt[] {
  for (const s of ss) {
    out.push(s);
    if (s.k === 'for') flat([s.init, s.step], out), flat(s.body, out);
    else if (s.k === 'if') flat(s.then, out), s.orElse && flat(s.orElse, out);
    else if (s.k === 'block' || s.k === 'line') flat(s.body, out);
  }
  return out;
}

/** The name a statement declares (let, var, a loop's variable), if any. */
const declared = (s: Stmt): string | undefined => (s.k === 'let' || s.k === 'var' ? s.name : undefined);

/** The names `s` assigns to (`x = …`, `x += …`, `x++`; an element store `a[i] = …` assigns `a`). */
function assigned(s: Stmt): string | undefined {
  if (s.k !== 'assign' && s.k !== 'incr') return undefined;
  let t = s.target;
  while (t.k === 'index' || t.k === 'field' || t.k === 'paren') t = t.x;
  return t.k === 'name' ? t.name : undefined;
}

/**
 * Removes `let a = b;` where b is a literal or a name bound by a `let` (never a `var`, which may
 * change). Where b's `let` stands in the same statement list and the alias is its only reader,
 * b's `let` takes the name a (`let _dv = _c0_ + _c; let _e = _dv;` → `let _e = _c0_ + _c;`);
 * otherwise the statements after the alias read b instead, unless one of them declares a or b
 * again or assigns b.
 */
export function inlineAliases(stmts: readonly Stmt[]): Stmt[] {
  return substituteAliases(renameAliases(stmts));
}

/** In each statement list: `let b = e; … let a = b;` with no other reader of b, and no other a there → `let a = e; …`. */
function renameAliases(list: readonly Stmt[]): Stmt[] {
  let cur = list.map((s) => withChildren(s, renameAliases));
  for (let i = 0; i < cur.length; i++) {
    const alias = cur[i]!;
    if (alias.k !== 'let' || alias.value.k !== 'name') continue;
    const b = alias.value.name;
    let j = -1;
    for (let k = i - 1; k >= 0 && j < 0; k--) if (cur[k]!.k === 'let' && (cur[k] as Stmt & { k: 'let' }).name === b) j = k;
    if (j < 0) continue;
    const after = flat(cur.slice(j + 1));
    const reads = new Map<string, number>();
    for (const x of after) for (const e of exprsOf(x)) countNames(e, reads);
    const aElsewhere =
      after.some((x) => x !== alias && declared(x) === alias.name) || flat(cur.slice(j + 1, i)).some((x) => exprsOf(x).some((e) => namesIn(e).has(alias.name)));
    if (reads.get(b) !== 1 || aElsewhere || after.some((x) => declared(x) === b)) continue;
    const a = alias.name;
    cur = cur.filter((x) => x !== alias).map((x, k) => (k === j ? { ...(x as Stmt & { k: 'let' }), name: a } : x));
    cur = [...cur.slice(0, j + 1), ...mapStmts(cur.slice(j + 1), (e) => (e.k === 'name' && e.name === b ? { k: 'name', name: a } : e))];
    i = j;
  }
  return cur;
}

/** Counts the reads of each name in `e`. */
function countNames(e: Expr, out: Map<string, number>): void {
  if (e.k === 'name') out.set(e.name, (out.get(e.name) ?? 0) + 1);
  for (const x of operands(e)) countNames(x, out);
}

/**
 * Every alias `let a = b;` (b a literal, or a name only `let`s declare) is dropped and the
 * statements after it read b; a later declaration of a or b (a nested scope shadowing either)
 * ends the substitution there.
 */
function substituteAliases(stmts: readonly Stmt[]): Stmt[] {
  const vars = new Set(
    flat(stmts)
      .filter((s) => s.k === 'var')
      .map((s) => (s as Stmt & { k: 'var' }).name),
  );
  const aliasable = (e: Expr) => e.k === 'lit' || (e.k === 'name' && !vars.has(e.name));
  /** the map without what a declaration of `d` shadows: entries named d, and entries that read d */
  const without = (m: Map<string, Expr>, d: string | undefined) => {
    if (d === undefined || ![...m].some(([k, x]) => k === d || (x.k === 'name' && x.name === d))) return m;
    return new Map([...m].filter(([k, x]) => k !== d && !(x.k === 'name' && x.name === d)));
  };
  const walk = (list: readonly Stmt[], map: Map<string, Expr>): Stmt[] => {
    let m = map;
    // substituted values are folded at once, so `let c = 0u * n;` after `let z = 0u;` is a literal alias too
    const at = (e: Expr) => (m.size ? mapExpr(e, (x) => foldNode(x.k === 'name' && m.has(x.name) ? m.get(x.name)! : x)) : e);
    const out: Stmt[] = [];
    for (const s of list) {
      const value = s.k === 'let' ? at(s.value) : undefined;
      if (s.k === 'let' && aliasable(value!)) {
        m = new Map(without(m, s.name)).set(s.name, value!);
        continue;
      }
      if (s.k === 'for') {
        const init = s.init.k === 'var' && s.init.value ? { ...s.init, value: at(s.init.value) } : s.init;
        const inner = without(m, declared(s.init));
        const saved = m;
        m = inner;
        out.push({ ...s, init, cond: at(s.cond), step: walk([s.step], inner)[0]!, body: walk(s.body, inner) });
        m = saved;
        continue;
      }
      const own = mapOwn(s, at);
      m = without(m, declared(own));
      out.push(withChildren(own, (ss) => walk(ss, m)));
    }
    return out;
  };
  return walk(stmts, new Map());
}

/** `s` with its own expressions (not those of nested statements) mapped by `f`. */
function mapOwn(s: Stmt, f: (e: Expr) => Expr): Stmt {
  switch (s.k) {
    case 'let':
      return { ...s, value: f(s.value) };
    case 'var':
      return s.value ? { ...s, value: f(s.value) } : s;
    case 'assign':
      return { ...s, target: f(s.target), value: f(s.value) };
    case 'incr':
      return { ...s, target: f(s.target) };
    case 'if':
      return { ...s, cond: f(s.cond) };
    case 'call':
      return { ...s, args: s.args.map(f) };
    default:
      return s;
  }
}

/**
 * A `var` with a value that nothing assigns afterwards (no `=`, `+=`, `++`, element store or
 * address) is a `let` (and can then be an alias): `var _rest = _wg;` when the decomposition
 * needs no division.
 */
export function varsToLets(stmts: readonly Stmt[]): Stmt[] {
  const all = flat(stmts);
  const changed = new Set(all.map(assigned).filter((x): x is string => x !== undefined));
  for (const s of all) for (const e of exprsOf(s)) eachAddress(e, changed);
  const loopVars = new Set(all.filter((s) => s.k === 'for').map((s) => declared((s as Stmt & { k: 'for' }).init)));
  const go = (ss: readonly Stmt[]): Stmt[] =>
    ss.map((s) =>
      s.k === 'var' && s.value && !changed.has(s.name) && !loopVars.has(s.name) ? { k: 'let', name: s.name, value: s.value } : withChildren(s, go),
    );
  return go(stmts);
}

/** Adds the names whose address `e` takes (`&x`). */
function eachAddress(e: Expr, out: Set<string>): void {
  if (e.k === 'un' && e.op === '&' && e.x.k === 'name') out.add(e.x.name);
  for (const x of operands(e)) eachAddress(x, out);
}

/**
 * Drops `let`s nothing reads, and stores nothing reads: an assignment to a `var` declared in the
 * same statement list, after which no statement of the list reads it (`_rest = _rest / n;` at
 * the end of a decomposition). Repeated, since one removal may leave another unread.
 */
export function removeDeadLets(stmts: readonly Stmt[]): Stmt[] {
  let cur = [...stmts];
  for (;;) {
    const used = new Set<string>();
    for (const s of flat(cur)) for (const e of exprsOf(s)) namesIn(e, used);
    let changed = false;
    const prune = (ss: readonly Stmt[]): Stmt[] => {
      const local = new Set(ss.filter((s) => s.k === 'var').map((s) => (s as Stmt & { k: 'var' }).name));
      // the last statement of the list that reads each local var
      const lastRead = new Map<string, number>();
      if (local.size)
        ss.forEach((s, i) => {
          for (const name of readNames(s)) if (local.has(name)) lastRead.set(name, i);
        });
      return ss
        .filter((s, i) => {
          const deadLet = s.k === 'let' && !used.has(s.name) && pure(s.value);
          const target = s.k === 'assign' && s.target.k === 'name' ? s.target.name : undefined;
          const deadStore = target !== undefined && local.has(target) && pure((s as Stmt & { k: 'assign' }).value) && (lastRead.get(target) ?? -1) <= i;
          if (deadLet || deadStore) changed = true;
          return !(deadLet || deadStore);
        })
        .map((s) => withChildren(s, prune));
    };
    cur = prune(cur);
    if (!changed) return cur;
  }
}

/** The names `s` (nested statements included) reads; `x = …` does not read x, `x += …` and `x++` do. */
function readNames(s: Stmt): Set<string> {
  const out = new Set<string>();
  for (const x of flat([s])) {
    if (x.k === 'assign') {
      namesIn(x.value, out);
      if (x.target.k !== 'name' || x.op !== '=') namesIn(x.target, out);
    } else for (const e of exprsOf(x)) namesIn(e, out);
  }
  return out;
}

/** Removes explicit parentheses the grammar does not need where they stand. */
export function dropParens(stmts: readonly Stmt[]): Stmt[] {
  const strip = (e: Expr): Expr => (e.k === 'paren' ? strip(e.x) : e);
  return mapStmts(stmts, (e) => {
    if (e.k === 'bin') {
      const side = (x: Expr, which: 'a' | 'b') => (x.k === 'paren' && !needsParens(e.op, strip(x), which) ? strip(x) : x);
      return bin(e.op, side(e.a, 'a'), side(e.b, 'b'));
    }
    // `-(x)` → `-x`, but never `--x` (WGSL's decrement token) or `-(-1.0)` → `--1.0`
    if (e.k === 'un' && e.x.k === 'paren') {
      const x = strip(e.x);
      const negative = x.k === 'un' || (x.k === 'lit' && (x.v < 0 || Object.is(x.v, -0)));
      return x.k === 'bin' || negative ? e : { ...e, x };
    }
    if (e.k === 'call') return { ...e, args: e.args.map(strip) };
    if (e.k === 'index') return { ...e, i: strip(e.i) };
    return e;
  });
}

/** Whether `s` is one simple statement (no nested statements). */
const simple = (s: Stmt): boolean => s.k !== 'for' && s.k !== 'if' && s.k !== 'block' && s.k !== 'line';

/** A guard clause: simple statements ending in a jump (`return;`, `break;`, `continue;`). */
const guard = (body: readonly Stmt[]): boolean => body.length > 0 && body.every(simple) && ['return', 'break', 'continue'].includes(body.at(-1)!.k);

/**
 * One statement per line: one-line groups are split; a one-line loop or `if` keeps its line only
 * around a single simple statement or a guard clause (`if (t >= end) { all = false; break; }`).
 */
export function oneStatementPerLine(stmts: readonly Stmt[]): Stmt[] {
  return splitLines(stmts).flatMap((s): Stmt[] => {
    const inner = withChildren(s, oneStatementPerLine);
    if ((inner.k === 'for' || inner.k === 'if') && inner.inline) {
      const bodies = inner.k === 'for' ? [inner.body] : [inner.then, ...(inner.orElse ? [inner.orElse] : [])];
      if (inner.k === 'if' && inner.orElse) return [{ ...inner, inline: false }];
      if (bodies.some((b) => !(b.length === 1 && simple(b[0]!)) && !(inner.k === 'if' && guard(b)))) return [{ ...inner, inline: false }];
    }
    return [inner];
  });
}

/** Statements written on one line become statements of the list around them (a one-line group is no scope). */
export function splitLines(stmts: readonly Stmt[]): Stmt[] {
  return stmts.flatMap((s): Stmt[] => {
    if (s.k !== 'line') return [withChildren(s, splitLines)];
    // a remark written after a statement goes on the line before it
    const body = s.body.at(-1)?.k === 'comment' ? [s.body.at(-1)!, ...s.body.slice(0, -1)] : s.body;
    return splitLines(body);
  });
}

/** The size of a statement list: statements and expression nodes (every cleanup but a rename makes it smaller). */
function size(stmts: readonly Stmt[]): number {
  let n = 0;
  const count = (e: Expr): void => {
    n++;
    for (const x of operands(e)) count(x);
  };
  for (const s of flat(stmts)) {
    n++;
    for (const e of exprsOf(s)) count(e);
  }
  return n;
}

/**
 * Every cleanup, in order: one-line groups split, then folding, vars that never change, aliases
 * and dead code until nothing shrinks, then parentheses and one statement per line.
 */
export function cleanup(stmts: readonly Stmt[]): Stmt[] {
  let cur = splitLines(stmts);
  let n = size(cur);
  for (let round = 0; round < 8; round++) {
    cur = removeDeadLets(inlineAliases(varsToLets(removeDeadLets(foldConstants(cur)))));
    const m = size(cur);
    if (m === n) break;
    n = m;
  }
  return oneStatementPerLine(dropParens(cur));
}
