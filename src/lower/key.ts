/**
 * Plan keys: one function over every lowering option, so two option sets that could lower to
 * different plans never share a key. The encoders are typed as a complete record over the keys of
 * `LowerOptions`, and the flash schedule is keyed knob by knob (`scheduleKey`), so a new option or
 * knob cannot be left out of the key.
 */
import { resolveSizes, type Graph } from '../ir/index.ts';
import { autoSplit } from './flash/kernel.ts';
import { findFlash } from './flash/match.ts';
import { flashSchedule, scheduleKey } from './flash/schedule.ts';
import type { LowerOptions } from './lower.ts';
import { unitAxes } from './sizes.ts';

type Encoders = { [K in keyof Required<LowerOptions>]: (value: LowerOptions[K], graph: Graph, opts: LowerOptions) => string };

const sorted = (r: Readonly<Record<string, number>> | undefined) =>
  r
    ? Object.keys(r)
        .sort()
        .map((k) => `${k}:${r[k]}`)
        .join(' ')
    : '';

/** How each option enters the key. */
const ENCODE: Encoders = {
  tile: (t) => (t ? t.join('x') : ''),
  shared: (x) => String(x ?? false),
  flash: (x) => String(x ?? 'auto'),
  // resolved, so an unset knob and its default name the same plan
  flashSchedule: (s) => scheduleKey(flashSchedule(s ?? {})),
  specialize: sorted,
  // the run's sizes reach a plan only through the split-KV decision of each attention and the
  // axes of size 1 (which contraction tiles avoid)
  dims: (d, g, o) => `${splitDecisions(g, o)}|${unitAxes(g, d).join(',')}`,
  debugTiles: (x) => String(x ?? false),
  compute: (x) => x ?? 'f32',
  storage: (x) => x ?? '',
  widenF16: (x) => String(x ?? false),
};

/**
 * The key of the plan `lower(graph, opts)` makes: equal keys, equal plans.
 * @example loweringKey(mha(), { flashSchedule: { rows: 8 } }) === loweringKey(mha(), {}) // true
 */
export function loweringKey(graph: Graph, opts: LowerOptions): string {
  return (Object.keys(ENCODE) as (keyof LowerOptions)[])
    .map((k) => `${k}=${(ENCODE[k] as (v: unknown, g: Graph, o: LowerOptions) => string)(opts[k], graph, opts)}`)
    .join(';');
}

/** Per attention of the graph: whether an auto split-KV splits at `opts.dims` ('1' or 'n'), as lower() decides it. */
function splitDecisions(graph: Graph, opts: LowerOptions): string {
  const sched = flashSchedule(opts.flashSchedule ?? {});
  if (opts.flash === false || sched.split !== 'auto' || !opts.dims) return '';
  const { matches } = findFlash(graph);
  let sizes: Record<string, number>;
  try {
    sizes = resolveSizes(graph, opts.dims);
  } catch {
    return 'unresolved';
  }
  const staticSizes = { ...graph.staticSizes, ...(opts.specialize ?? {}) };
  return matches.map((m) => (autoSplit(m, sizes, sched, staticSizes) > 1 ? 'n' : '1')).join('');
}
