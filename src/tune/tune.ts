/**
 * The autotuner: times schedules of one graph at one size on this adapter, one knob
 * at a time from the default, within a time budget, and caches the winner.
 */
import { compile, flashDevice } from '../compile.ts';
import type { Graph } from '../ir/index.ts';
import { flashSchedule, specializeFor, type FlashSchedule } from '../lower/index.ts';
import { adapterId, type Runtime } from '../runtime/index.ts';
import { shapeBucket, storeTuned, type TunedEntry } from './cache.ts';
import { sampleInputs } from './inputs.ts';
import { timeStats } from './stats.ts';
import { configKey, configOptions, searchAxes, withSetting, type TunedConfig } from './space.ts';

/** How to tune. */
export interface TuneOptions {
  runtime: Runtime;
  /** wall-clock budget in seconds (default 60); the search stops after the candidate that crosses it */
  budgetSeconds?: number;
  /** timed runs per candidate after one warm-up (default 3; the median counts) */
  runs?: number;
  /** one line per candidate */
  progress?: (line: string) => void;
  /** store the winner in the cache (default true) */
  store?: boolean;
}

/**
 * The schedule a default compile uses on this runtime.
 * @example const config = defaultConfig(rt) // { flash: {}, shared: false } on lavapipe
 * @example defaultConfig(rt).shared === (rt.kind === 'hardware') // true
 */
export const defaultConfig = (rt: Runtime): TunedConfig => ({ flash: {}, shared: rt.kind === 'hardware' });

const describe = (c: TunedConfig): string => [...Object.entries(c.flash).map(([k, v]) => `${k}=${v}`), `shared=${c.shared}`].join(' ');

/**
 * Tunes `g` at `dims`: returns (and caches) the fastest schedule found.
 * @example const best = await tune(mha(), { b: 1, h: 8, s: 1024, t: 1024, d: 64, dv: 64 }, { runtime: rt, budgetSeconds: 30 })
 */
export async function tune(g: Graph, dims: Record<string, number>, opts: TuneOptions): Promise<TunedEntry> {
  const { runtime, budgetSeconds = 60, runs = 3, progress = () => {}, store = true } = opts;
  const inputs = Object.fromEntries(Object.entries(sampleInputs(g, dims)).map(([k, v]) => [k, v.data]));
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1e3;
  const time = async (c: TunedConfig): Promise<number> => {
    const compiled = compile(g, configOptions(c));
    await compiled.run(inputs, dims, { runtime });
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await compiled.run(inputs, dims, { runtime, timing: true });
      ms.push((r.kernelMs ?? [r.totalMs]).reduce((a, b) => a + b, 0));
    }
    return timeStats(ms).median;
  };

  const start = defaultConfig(runtime);
  let best = start;
  let bestMs = await time(start);
  const seen = new Set([configKey(start)]);
  let candidates = 1;
  progress(`  default (${describe(start)}): ${bestMs.toFixed(2)} ms`);
  search: for (const axis of searchAxes(dims, { subgroups: runtime.features.has('subgroups') })) {
    for (const setting of axis.options) {
      if (elapsed() > budgetSeconds) {
        progress(`  budget of ${budgetSeconds} s reached after ${candidates} candidates`);
        break search;
      }
      const cand = withSetting(best, setting);
      if (seen.has(configKey(cand))) continue;
      seen.add(configKey(cand));
      candidates++;
      let ms: number;
      try {
        ms = await time(cand);
      } catch (e) {
        progress(`  ${describe(cand)}: not valid here (${(e as Error).message.split('\n')[0]})`);
        continue;
      }
      // 3% better, so that timing noise does not pick a schedule
      const better = ms < bestMs * 0.97;
      progress(`  ${describe(cand)}: ${ms.toFixed(2)} ms${better ? '  ← best so far' : ''}`);
      if (better) [best, bestMs] = [cand, ms];
    }
  }
  // Time the winner and the default again, interleaved, so the recorded gain is not one lucky sample.
  let defaultMs = bestMs;
  if (best !== start) {
    const w: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < 3; i++) {
      w.push(await time(best));
      d.push(await time(start));
    }
    [bestMs, defaultMs] = [timeStats(w).median, timeStats(d).median];
    if (bestMs >= defaultMs) [best, bestMs] = [start, defaultMs];
  }
  // store the effective schedule (every knob, the decode defaults filled in), so a generated module bakes what ran
  const flash: Partial<FlashSchedule> = flashSchedule(
    specializeFor(g, { flashSchedule: best.flash }, dims, false, await flashDevice(runtime))?.opts.flashSchedule ?? best.flash,
  );
  const entry: TunedEntry = {
    graph: g.name,
    bucket: shapeBucket(dims),
    dims: { ...dims },
    config: { flash, shared: best.shared },
    ms: bestMs,
    defaultMs,
    candidates,
    seconds: Math.round(elapsed() * 10) / 10,
    tunedAt: new Date().toISOString(),
  };
  progress(
    `  → ${describe(best)}: ${bestMs.toFixed(2)} ms (default ${defaultMs.toFixed(2)} ms, ${(defaultMs / bestMs).toFixed(2)}×) after ${candidates} candidates in ${entry.seconds} s`,
  );
  if (store) storeTuned(adapterId(runtime), g, entry);
  return entry;
}
