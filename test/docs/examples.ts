/**
 * The doctest harness: finds every `@example` of the JSDoc in `src/` and `codegen/` and reads
 * what each one states.
 *
 * The convention (docs/ARCHITECTURE.md, *Examples*):
 * - `@example code // value`: `code` is statements ending in an expression, and `value` is
 *   what that expression gives. It is **checked**: the test runs `code` with the module's own
 *   exports and a few fixtures in scope, and compares the result with `value`.
 *   A value is a JavaScript literal (numbers, strings, booleans, `null`, `undefined`, arrays
 *   and objects of them, `Int32Array [1, 2]` for typed arrays); `…` (or `...`) as the last
 *   element of an array or object says "these first, maybe more", and inside a string it
 *   stands for any text; `0.6011…` is a number that starts with those digits. A note in parentheses may follow: `// 2 (split + merge)`.
 *   `// throws: text` says the code throws an error whose message starts with `text` (up to a `…`).
 * - `@example code` without a comment, or whose last statement is a declaration
 *   (`const x = f() // what x is`): an **illustration**, shown but not run.
 * Anything else, an expression followed by prose (`f(x) // true on lavapipe`), is an
 * example that states a value the harness cannot read: the test lists it as a failure.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One `@example` of the sources. */
export interface Example {
  /** the file, relative to the repository root, and the 1-based line of the `@example` */
  file: string;
  line: number;
  /** the example's code (statements; the last one the expression a value is stated for) */
  code: string;
  /** the text after the top-level `//`, if any */
  comment?: string;
}

/** What the harness makes of an example. */
export type Reading =
  | { kind: 'value'; expected: Expected }
  | { kind: 'throws'; message: string }
  | { kind: 'illustration'; why: string }
  | { kind: 'unreadable'; why: string };

/** A stated value: exact, a prefix of an array, a subset of an object, or a string pattern. */
export type Expected =
  | { match: 'equal'; value: unknown }
  | { match: 'prefix'; value: unknown[] }
  | { match: 'subset'; value: Record<string, unknown> }
  | { match: 'pattern'; value: RegExp; text: string }
  /** `0.6011…`: a number whose decimal expansion starts so */
  | { match: 'digits'; value: number; decimals: number };

/** Every `.ts` file under `dirs` (relative to `root`), sorted. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(root, p));
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out;
}

/** The `@example`s of one file's JSDoc comments (a template string that mentions `@example` is not one). */
export function examplesOf(file: string, text: string): Example[] {
  const lines = text.split('\n');
  const out: Example[] = [];
  lines.forEach((l, i) => {
    const m = /^\s*(?:\/\*\*|\*)(?:.*?)@example(.*)$/.exec(l);
    if (!m) return;
    let code = m[1]!.replace(/\*\/\s*$/, '').trim();
    if (code === '') {
      // a block: the following comment lines up to the next tag or the end of the comment
      const block: string[] = [];
      for (let j = i + 1; j < lines.length; j++) {
        const c = /^\s*\*(?!\/)\s?(.*)$/.exec(lines[j]!);
        if (!c || c[1]!.trimStart().startsWith('@')) break;
        block.push(c[1]!);
      }
      code = block.join('\n').trim();
    }
    const cut = commentStart(code);
    out.push(cut < 0 ? { file, line: i + 1, code } : { file, line: i + 1, code: code.slice(0, cut).trim(), comment: code.slice(cut + 2).trim() });
  });
  return out;
}

/** Where the top-level `//` comment of a line of code starts (-1: none), skipping strings. */
function commentStart(code: string): number {
  let quote: string | undefined;
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '/' && code[i + 1] === '/' && code[i - 1] !== ':') return i;
  }
  return -1;
}

/** The statements of `code` split at top-level semicolons (outside strings and brackets). */
export function statements(code: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ';' && depth === 0) {
      out.push(code.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = code.slice(start).trim();
  if (last) out.push(last);
  return out;
}

const DECLARATION = /^(?:const|let|var|function|class|import|export|if|for|while|try|throw|return)\b/;
const TYPED = ['Float32Array', 'Float64Array', 'Int32Array', 'Int16Array', 'Int8Array', 'Uint32Array', 'Uint16Array', 'Uint8Array'];
const VALUE_WORDS = new Set(['true', 'false', 'null', 'undefined', 'Infinity', 'NaN', 'new', ...TYPED]);

/** What an example states, read from its comment. */
export function readExample(e: Example): Reading {
  if (e.comment === undefined) return { kind: 'illustration', why: 'no stated value' };
  const stmts = statements(e.code);
  const last = stmts[stmts.length - 1] ?? '';
  if (DECLARATION.test(last)) return { kind: 'illustration', why: 'a declaration with a remark' };
  const thrown = /^throws:\s*(.*)$/.exec(e.comment);
  if (thrown) return { kind: 'throws', message: thrown[1]!.split('…')[0]!.trim() };
  const expected = parseValue(e.comment) ?? parseValue(withoutNote(e.comment));
  if (expected) return { kind: 'value', expected };
  return { kind: 'unreadable', why: `'${e.comment}' is not a value (a literal, optionally followed by a note in parentheses)` };
}

/** `value (note)` → `value`; unchanged when there is no trailing parenthesised note. */
function withoutNote(text: string): string {
  const m = /^(.*\S)\s+\([^()]*\)$/.exec(text);
  return m ? m[1]! : text;
}

/** A stated value, or undefined when `text` is not a literal. */
export function parseValue(text: string): Expected | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  // a string with '…' stands for any text there
  const str = /^(['"])(.*)\1$/.exec(t);
  if (str && str[2]!.includes('…') && !str[2]!.includes(str[1]!)) {
    const parts = str[2]!.split('…').map((p) => p.replace(/\\n/g, '\n').replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return { match: 'pattern', value: new RegExp(`^${parts.join('[^]*')}$`), text: str[2]! };
  }
  const digits = /^(-?\d+\.(\d+))…$/.exec(t);
  if (digits) return { match: 'digits', value: Number(digits[1]), decimals: digits[2]!.length };
  // '…' or '...' last in an array or object: these first, maybe more
  const open = /(?:,\s*)?(?:…|\.\.\.)\s*([\]}])$/.exec(t);
  if (open && (t.startsWith('[') || t.startsWith('{'))) {
    const whole = t.slice(0, open.index) + open[1]!;
    const v = literal(whole);
    if (v === undefined) return undefined;
    if (Array.isArray(v.value)) return { match: 'prefix', value: v.value };
    if (v.value !== null && typeof v.value === 'object') return { match: 'subset', value: v.value as Record<string, unknown> };
    return undefined;
  }
  const v = literal(t);
  return v && { match: 'equal', value: v.value };
}

/** Evaluates a literal: only numbers, strings, the words of {@link VALUE_WORDS} and object keys are allowed. */
function literal(text: string): { value: unknown } | undefined {
  // `Int32Array [0, 0]` is how a typed array prints
  const js = text.replace(new RegExp(`\\b(${TYPED.join('|')})\\s*(\\[[^\\]]*\\])`, 'g'), 'new $1($2)');
  if (/[~≈]/.test(text)) return undefined; // approximations are prose
  const bare = js.replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""').replace(/\b0x[0-9a-f]+|\b\d[\d_]*(?:\.\d*)?(?:e[+-]?\d+)?/gi, '0');
  for (const m of bare.matchAll(/[A-Za-z_$][\w$]*/g)) {
    const w = m[0];
    const before = bare.slice(0, m.index).trimEnd();
    const after = bare.slice(m.index! + w.length).trimStart();
    const isKey = after.startsWith(':') && (before.endsWith('{') || before.endsWith(','));
    if (!isKey && !VALUE_WORDS.has(w)) return undefined;
  }
  try {
    return { value: new Function(`"use strict"; return (${js});`)() };
  } catch {
    return undefined;
  }
}
