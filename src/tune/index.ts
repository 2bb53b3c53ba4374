/** The autotuner: schedule search per graph, shape bucket and adapter, with a JSON cache. */
import type { CompileOptions } from '../compile.ts';
import type { Graph } from '../ir/index.ts';
import { adapterId, type Runtime } from '../runtime/index.ts';
import { lookupTuned, tuneCachePath, type TunedEntry } from './cache.ts';
import { configOptions } from './space.ts';

export { DEFAULT_TUNE_CACHE, graphKey, lookupTuned, shapeBucket, storeTuned, tuneCachePath, tunedEntries, type TunedEntry } from './cache.ts';
export { sampleInputs, seededRandom, type SampleInput } from './inputs.ts';
export { timeStats, type TimeStats } from './stats.ts';
export { configOptions, searchAxes, type TunedConfig } from './space.ts';
export { defaultConfig, tune, type TuneOptions } from './tune.ts';

/**
 * The compile options of the tuned schedule for `g` at `dims` on this runtime, or
 * undefined when nothing is cached; `source` says where it came from.
 * @example const t = tunedOptions(mha(), dims, rt); compile(mha(), t?.options)
 */
export function tunedOptions(g: Graph, dims: Record<string, number>, rt: Runtime): { options: CompileOptions; entry: TunedEntry; source: string } | undefined {
  const entry = lookupTuned(adapterId(rt), g, dims);
  if (!entry) return undefined;
  return {
    options: configOptions(entry.config),
    entry,
    source: `tuned ${entry.tunedAt.slice(0, 10)} at ${Object.entries(entry.dims)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')} (${tuneCachePath()}): ${entry.ms.toFixed(2)} ms vs default ${entry.defaultMs.toFixed(2)} ms`,
  };
}
