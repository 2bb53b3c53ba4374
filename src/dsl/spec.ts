/** Run-time parsing of axis lists and einsum specs, mirroring `types.ts`. */
import { fail } from '../errors.ts';
import { checkName } from '../ir/names.ts';

const SPEC_CHARS = /^[A-Za-z0-9_\s,\->]*$/;

/**
 * Parses a space-separated axis list. Repeated axes are rejected: einattn does not
 * support diagonals (`'i i'`), write two names instead.
 * @example parseAxes('b h s d', "input 'q'") // ['b', 'h', 's', 'd']
 */
export function parseAxes(text: string, where: string): string[] {
  if (typeof text !== 'string') fail('SPEC_SYNTAX', `${where}: axes must be a string like 'b h s d', got ${typeof text}`);
  const axes = text.trim() === '' ? [] : text.trim().split(/\s+/);
  const seen = new Set<string>();
  axes.forEach((a, i) => {
    checkName('axis', a, `${where}, axis ${i + 1}`);
    if (seen.has(a)) fail('REPEATED_AXIS', `${where}: axis '${a}' appears twice in '${text.trim()}'; diagonals are not supported, use two names`);
    seen.add(a);
  });
  return axes;
}

/** A parsed einsum spec; `output` is null for the implicit form. */
export interface ParsedSpec {
  inputs: string[][];
  output: string[] | null;
}

/**
 * Parses `'b h s d, b h t d -> b h s t'` (explicit) or `'i j, j k'` (implicit).
 * @example parseSpec('i j, j k -> i k') // { inputs: [['i','j'],['j','k']], output: ['i','k'] }
 */
export function parseSpec(spec: string): ParsedSpec {
  if (typeof spec !== 'string') fail('SPEC_SYNTAX', `einsum: the spec must be a string, got ${typeof spec}`);
  const bad = [...spec].findIndex((c) => !SPEC_CHARS.test(c));
  if (bad >= 0) fail('SPEC_SYNTAX', `einsum '${spec}': unexpected character ${JSON.stringify(spec[bad])} at column ${bad + 1}`);
  const arrows = spec.split('->');
  if (arrows.length > 2) fail('SPEC_SYNTAX', `einsum '${spec}': more than one '->' (second at column ${spec.lastIndexOf('->') + 1})`);
  const lhs = arrows[0]!;
  const stray = /-(?!>)|(?<!-)>/.exec(spec);
  if (stray) fail('SPEC_SYNTAX', `einsum '${spec}': stray '${stray[0]}' at column ${stray.index + 1}; the arrow is '->'`);
  const terms = lhs.split(',');
  let col = 0;
  const inputs = terms.map((t, i) => {
    const where = `einsum '${spec}', operand ${i + 1} (column ${col + 1})`;
    col += t.length + 1;
    if (t.trim() === '' && terms.length > 1) fail('SPEC_SYNTAX', `${where}: empty operand`);
    return parseAxes(t, where);
  });
  if (lhs.trim() === '') fail('SPEC_SYNTAX', `einsum '${spec}': no operands before '->'`);
  const output = arrows.length === 2 ? parseAxes(arrows[1]!, `einsum '${spec}', output`) : null;
  return { inputs, output };
}

/** numpy's implicit output: the axes that appear exactly once, sorted. */
export function implicitOutput(inputs: readonly (readonly string[])[]): string[] {
  const count = new Map<string, number>();
  for (const axes of inputs) for (const a of axes) count.set(a, (count.get(a) ?? 0) + 1);
  return [...count]
    .filter(([, c]) => c === 1)
    .map(([a]) => a)
    .sort();
}
