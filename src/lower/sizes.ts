/**
 * The size rules of a plan: which sizes the caller gives at dispatch time, which
 * follow from split/merge/rename equations, and which equalities must hold.
 */
import { resolveSizes, type Graph } from '../ir/index.ts';
import type { ExecPlan, SizeExpr } from '../runtime/plan.ts';

type SizeRules = Pick<ExecPlan, 'dynamicSizes' | 'staticSizes' | 'derivedSizes' | 'constraints'>;

/**
 * Sizes on input tensors are given by the caller; the rest are derived where an
 * equation determines them, and asked for otherwise.
 * @example planSizes(gqa()).derivedSizes // [{ name: 'r', expr: ['div', 'h', ['*', 1, 'g']] }]
 */
export function planSizes(g: Graph): SizeRules {
  const staticSizes = { ...g.staticSizes };
  const known = new Set(Object.keys(staticSizes));
  const dynamicSizes: string[] = [];
  const onInputs = new Set(g.inputs.flatMap((i) => i.axes));
  for (const s of g.sizes) if (!known.has(s) && onInputs.has(s)) dynamicSizes.push(s), known.add(s);
  const derivedSizes: SizeRules['derivedSizes'] = [];
  const constraints: SizeRules['constraints'] = [];
  const used = new Set<number>();
  for (;;) {
    let progress = true;
    while (progress) {
      progress = false;
      g.equations.forEach((eq, i) => {
        if (used.has(i)) return;
        const unknown = eq.factors.filter((f) => !known.has(f));
        if (eq.ceil) {
          if (unknown.length) return;
          const blocks: SizeExpr = ['cdiv', eq.factors[0]!, eq.factors[1]!];
          if (known.has(eq.size)) constraints.push({ lhs: blocks, rhs: eq.size, what: `${eq.origin}: needs ${eq.size} = ceil(${eq.factors.join(' / ')})` });
          else derivedSizes.push({ name: eq.size, expr: blocks }), known.add(eq.size);
          used.add(i);
          progress = true;
          return;
        }
        if (!known.has(eq.size) && unknown.length === 0) {
          derivedSizes.push({ name: eq.size, expr: ['*', ...eq.factors] });
          known.add(eq.size);
        } else if (known.has(eq.size) && unknown.length === 1) {
          const f = unknown[0]!;
          const others = eq.factors.filter((x) => x !== f);
          derivedSizes.push({ name: f, expr: ['div', eq.size, ['*', 1, ...others]] });
          known.add(f);
          constraints.push({ lhs: ['*', ...eq.factors], rhs: eq.size, what: `${eq.origin}: ${eq.size} must be divisible by ${others.join(' * ')}` });
        } else if (unknown.length === 0) {
          constraints.push({ lhs: ['*', ...eq.factors] as SizeExpr, rhs: eq.size, what: `${eq.origin}: needs ${eq.size} = ${eq.factors.join(' * ')}` });
        } else return;
        used.add(i);
        progress = true;
      });
    }
    // a size nothing determines (e.g. only on an index expression) must be given; a block count
    // waits for its factors, which may be free sizes themselves (moba's blk)
    const counted = new Set(g.equations.filter((e) => e.ceil).map((e) => e.size));
    const free = g.sizes.find((s) => !known.has(s) && !counted.has(s)) ?? g.sizes.find((s) => !known.has(s));
    if (free === undefined) break;
    dynamicSizes.push(free);
    known.add(free);
  }
  return { dynamicSizes, staticSizes, derivedSizes, constraints };
}

/**
 * The axes of size 1 at the sizes a plan will run at (`dims`), sorted; none without dims or when
 * they do not resolve (the runtime reports those). Contraction tiles keep their rows off them.
 * @example unitAxes(mha(), { b: 1, h: 8, s: 1, t: 64, d: 16, dv: 16 }) // ['b', 's']
 */
export function unitAxes(g: Graph, dims: Record<string, number> | undefined): string[] {
  if (!dims) return [];
  let sizes: Record<string, number>;
  try {
    sizes = resolveSizes(g, dims);
  } catch {
    return [];
  }
  return g.sizes.filter((a) => sizes[a] === 1).sort();
}
