/**
 * Command-line parsing: flags through node:util parseArgs, and the small value
 * languages of `--dims`, `--in`, `--out` and `--opt`. Every mistake is a USAGE error
 * with a message that shows the expected form.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EinattnError } from '../errors.ts';
import { resolveSizes, type Graph } from '../ir/index.ts';
import type { Variant } from '../variants/index.ts';
import { resolveOptions } from '../variants/index.ts';

/**
 * Throws a USAGE error (exit code 2).
 * @example if (!name) usage('run needs a variant name or --file')
 */
export function usage(message: string): never {
  throw new EinattnError('USAGE', message);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flags: strings, booleans, or arrays for `multiple` flags. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/**
 * A string flag's value (undefined when absent).
 * @example flagString('dir') // 'dir'
 */
export const flagString = (v: Flags[string]): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * A repeatable flag's values ([] when absent).
 * @example flagList(['b=1,h=8']) // ['b=1,h=8']
 */
export const flagList = (v: Flags[string]): string[] => (Array.isArray(v) ? v : []);

/**
 * parseArgs in strict mode with its errors turned into one-line USAGE errors naming the command.
 * @example const { values, positionals } = parseFlags(['--seed', '3'], { seed: { type: 'string' } }, 'run')
 */
export function parseFlags(argv: string[], options: Options, command: string): { values: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: values as Flags, positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    const flag = /'(-[^' ]*)/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') usage(`unknown option '${flag}' for 'einattn ${command}' (see einattn ${command} --help)`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (/argument missing/.test(err.message)) usage(`option '${flag}' needs a value (see einattn ${command} --help)`);
      if (/ambiguous/.test(err.message)) usage(`option '${flag}' needs a value; for a value that starts with '-', write ${flag}=-…`);
      usage(`option '${flag}' takes no value (see einattn ${command} --help)`);
    }
    usage(`${command}: ${err.message.split('\n')[0]}`);
  }
}

/**
 * Parses `--dims` text (`b=1,h=8,s=128`; commas or spaces); repeated flags merge.
 * @example parseDims(['b=1,h=8', 's=128']) // { b: 1, h: 8, s: 128 }
 */
export function parseDims(texts: readonly string[]): Record<string, number> {
  const dims: Record<string, number> = {};
  const example = 'e.g. --dims b=1,h=8,s=128,t=128,d=64';
  for (const text of texts) {
    const parts = text.split(/[\s,]+/).filter((p) => p !== '');
    if (parts.length === 0) usage(`--dims is empty (${example})`);
    for (const part of parts) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(part);
      if (!m) usage(`--dims: '${part}' is not name=size (${example})`);
      const [, name, value] = m as unknown as [string, string, string];
      if (!/^[0-9]+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value)))
        usage(`--dims: ${name}=${value}: a size must be a positive integer (${example})`);
      if (name in dims) usage(`--dims: '${name}' is given twice`);
      dims[name] = Number(value);
    }
  }
  return dims;
}

/**
 * Splits repeatable `key=value` flags; `bare` allows a value without a key (returned under key '').
 * @example parseAssignments(['q=q.npy'], '--in') // [['q', 'q.npy']]
 */
export function parseAssignments(items: readonly string[], flag: string, bare = false): [string, string][] {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    let key: string;
    let value: string;
    if (eq <= 0) {
      if (!bare) usage(`${flag} '${item}': expected name=value`);
      key = '';
      value = item;
    } else {
      key = item.slice(0, eq);
      value = item.slice(eq + 1);
    }
    if (value === '') usage(`${flag} '${item}': the value is empty`);
    if (seen.has(key)) usage(`${flag}: '${key || value}' is given twice`);
    seen.add(key);
    out.push([key, value]);
  }
  return out;
}

/**
 * Splits `--opt` flags into raw strings; a bare `--opt causal` means `causal=true`.
 * @example parseOptFlags(['causal', 'window=64']) // { causal: 'true', window: '64' }
 */
export function parseOptFlags(items: readonly string[]): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? 'true' : item.slice(eq + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) usage(`--opt '${item}': expected key=value, e.g. --opt causal=true`);
    if (key in raw) usage(`--opt: '${key}' is given twice`);
    raw[key] = value;
  }
  return raw;
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

function parseNumber(text: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text.trim())) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Converts raw `--opt` strings to a variant's typed options and validates them with
 * resolveOptions (defaults filled in); mistakes become one-line USAGE errors.
 * @example variantOptions(findVariant('mha')!, { causal: 'true' }) // { causal: true, … }
 */
export function variantOptions(variant: Variant, raw: Record<string, string>): Record<string, boolean | number> {
  const typed: Record<string, boolean | number> = {};
  for (const [key, text] of Object.entries(raw)) {
    const decl = variant.options[key];
    if (!decl) {
      const known = Object.keys(variant.options);
      usage(`variant '${variant.name}' has no option '${key}' (options: ${known.length ? known.join(', ') : 'none'})`);
    }
    if (decl.type === 'boolean') {
      const t = text.trim().toLowerCase();
      if (TRUE.has(t)) typed[key] = true;
      else if (FALSE.has(t)) typed[key] = false;
      else usage(`variant '${variant.name}': option '${key}' must be true or false, got '${text}'`);
    } else {
      const n = parseNumber(text);
      if (n === undefined) usage(`variant '${variant.name}': option '${key}' must be a number, got '${text}'`);
      typed[key] = n;
    }
  }
  try {
    return resolveOptions(variant, typed);
  } catch (e) {
    usage((e as Error).message);
  }
}

/**
 * Best-effort typing of `--opt` values for a user's graph function: booleans and numbers
 * are converted, anything else stays a string.
 * @example looseOptions({ causal: 'true', window: '64', mode: 'a' }) // { causal: true, window: 64, mode: 'a' }
 */
export function looseOptions(raw: Record<string, string>): Record<string, boolean | number | string> {
  const out: Record<string, boolean | number | string> = {};
  for (const [k, v] of Object.entries(raw)) {
    const t = v.trim().toLowerCase();
    out[k] = t === 'true' ? true : t === 'false' ? false : (parseNumber(v) ?? v);
  }
  return out;
}

/**
 * A positive integer flag value.
 * @example positiveInt('5', '--repeat') // 5
 */
export function positiveInt(text: string, flag: string, min = 1): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) usage(`${flag} must be an integer ≥ ${min}, got '${text}'`);
  return Number(text);
}

/**
 * A non-negative integer flag value (e.g. a seed).
 * @example nonNegativeInt('0', '--seed') // 0
 */
export function nonNegativeInt(text: string, flag: string): number {
  return positiveInt(text, flag, 0);
}

/**
 * Checks user-given `--dims` against a graph: a missing or conflicting size is a USAGE error naming it.
 * @example checkDims(mha(), { b: 1 }) // throws: --dims: graph 'mha': sizes 'h', … not bound
 */
export function checkDims(graph: Graph, dims: Record<string, number>): Record<string, number> {
  try {
    return resolveSizes(graph, dims);
  } catch (e) {
    if (e instanceof EinattnError && ['BAD_SIZE', 'UNKNOWN_AXIS', 'SIZE_CONFLICT'].includes(e.code)) usage(`--dims: ${e.message}`);
    throw e;
  }
}
