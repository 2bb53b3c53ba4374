import { fail } from '../errors.ts';
import { checkSize, type Graph, type SizeEquation } from './graph.ts';

/**
 * Binds every size of `graph` to a number: static sizes, then the given ones, then
 * those that the split/merge/rename equations determine. Throws BAD_SIZE for a size
 * left unbound or not a positive integer, SIZE_CONFLICT when two rules disagree.
 * @example resolveSizes(gqa(), { b: 1, h: 8, g: 2, s: 16, t: 16, d: 64, dv: 64 }).r // 4
 */
export function resolveSizes(graph: Graph, given: Record<string, number>): Record<string, number> {
  const known: Record<string, number> = {};
  const source: Record<string, string> = {};
  for (const [s, v] of Object.entries(given)) {
    if (!graph.sizes.includes(s))
      fail('UNKNOWN_AXIS', `graph '${graph.name}': size '${s}' was given but the graph has no such axis (axes: ${graph.sizes.join(' ')})`);
    known[s] = checkSize(`size '${s}'`, v);
    source[s] = 'given';
  }
  for (const [s, v] of Object.entries(graph.staticSizes)) {
    if (s in known && known[s] !== v)
      fail('SIZE_CONFLICT', `graph '${graph.name}': size '${s}' is fixed to ${v} when the graph was built but ${known[s]} was given`);
    known[s] = v;
    source[s] = 'static';
  }
  let progress = true;
  while (progress) {
    progress = false;
    for (const eq of graph.equations) {
      if (eq.ceil) {
        progress = ceilRule(eq, known, source) || progress;
        continue;
      }
      const unknown = eq.factors.filter((f) => !(f in known));
      const prod = eq.factors.reduce((p, f) => p * (known[f] ?? 1), 1);
      if (unknown.length === 0 && !(eq.size in known)) {
        known[eq.size] = prod;
        source[eq.size] = eq.origin;
        progress = true;
      } else if (unknown.length === 1 && eq.size in known) {
        const f = unknown[0]!;
        if (known[eq.size]! % prod !== 0)
          fail(
            'SIZE_CONFLICT',
            `${eq.origin}: ${eq.size} = ${known[eq.size]} is not divisible by ${eq.factors
              .filter((x) => x !== f)
              .map((x) => `${x} = ${known[x]}`)
              .join(' * ')}`,
          );
        known[f] = known[eq.size]! / prod;
        source[f] = eq.origin;
        progress = true;
      } else if (unknown.length === 0 && known[eq.size] !== prod) {
        fail(
          'SIZE_CONFLICT',
          `${eq.origin}: needs ${eq.size} = ${eq.factors.join(' * ')}, but ${eq.size} = ${known[eq.size]} and ${eq.factors.map((x) => `${x} = ${known[x]}`).join(', ')}`,
        );
      }
    }
  }
  const missing = graph.sizes.filter((s) => !(s in known));
  if (missing.length)
    fail(
      'BAD_SIZE',
      `graph '${graph.name}': size${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} not bound; pass ${missing.map((m) => `${m}=…`).join(',')} in the dims`,
    );
  return known;
}

/** `size = ceil(of / by)`: derived forward only (many `of` give one block count); true when it bound `size`. */
function ceilRule(eq: SizeEquation, known: Record<string, number>, source: Record<string, string>): boolean {
  const [of, by] = eq.factors as [string, string];
  if (!(of in known) || !(by in known)) return false;
  const blocks = Math.ceil(known[of]! / known[by]!);
  if (!(eq.size in known)) {
    known[eq.size] = blocks;
    source[eq.size] = eq.origin;
    return true;
  }
  if (known[eq.size] !== blocks)
    fail(
      'SIZE_CONFLICT',
      `${eq.origin}: needs ${eq.size} = ceil(${of} / ${by}) = ${blocks} (${of} = ${known[of]}, ${by} = ${known[by]}), but ${eq.size} = ${known[eq.size]}`,
    );
  return false;
}
