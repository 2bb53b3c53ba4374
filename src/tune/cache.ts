/**
 * Where tuned schedules live: a JSON file keyed by adapter identity, then by graph
 * (name and a hash of its printed form, so an edited graph misses) and shape bucket
 * (every size rounded up to a power of two).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { printGraph, type Graph } from '../ir/index.ts';
import { DEFAULT_FLASH_SCHEDULE, scheduleKey } from '../lower/index.ts';
import type { TunedConfig } from './space.ts';

/** The default cache file, relative to the working directory (override with EINATTN_TUNE_CACHE). */
export const DEFAULT_TUNE_CACHE = '.einattn/tuned.json';

/** One tuned entry. */
export interface TunedEntry {
  graph: string;
  bucket: string;
  /** the sizes it was tuned at */
  dims: Record<string, number>;
  config: TunedConfig;
  /** median kernel ms of the winner and of the default schedule, at `dims` */
  ms: number;
  defaultMs: number;
  candidates: number;
  seconds: number;
  tunedAt: string;
}

type CacheFile = Record<string, Record<string, TunedEntry>>;

/**
 * The cache path in use.
 * @example tuneCachePath() // '.einattn/tuned.json'
 */
export const tuneCachePath = (): string => process.env.EINATTN_TUNE_CACHE || DEFAULT_TUNE_CACHE;

/**
 * The shape bucket of sizes: each rounded up to a power of two.
 * @example shapeBucket({ s: 1000, t: 1024, d: 80 }) // 'd=128,s=1024,t=1024'
 */
export function shapeBucket(dims: Record<string, number>): string {
  return Object.keys(dims)
    .sort()
    .map((k) => `${k}=${2 ** Math.ceil(Math.log2(Math.max(1, dims[k]!)))}`)
    .join(',');
}

/**
 * A graph's cache key: its name and a short hash of its printed form and of the schedule's knobs
 * and defaults (`scheduleKey` of the default schedule: a new knob or default misses by itself).
 * @example graphKey(mha()) // 'mha#…'
 */
export function graphKey(g: Graph): string {
  const schedule = scheduleKey(DEFAULT_FLASH_SCHEDULE);
  return `${g.name}#${createHash('sha256')
    .update(`${SCHEDULE_FORMAT}\n${schedule}\n${printGraph(g)}`)
    .digest('hex')
    .slice(0, 8)}`;
}

/**
 * Bumped when the meaning of a schedule changes in a way its knobs and defaults do not show, so
 * entries tuned by an older einattn miss instead of replaying a schedule that is no longer what won.
 */
export const SCHEDULE_FORMAT = 3;

function readCache(path: string): CacheFile {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
  } catch {
    return {}; // a corrupt cache is a miss, and the next tuning rewrites it
  }
}

/**
 * The tuned entry for a graph at sizes on an adapter, if any.
 * @example lookupTuned(adapterId(rt), mha(), dims)?.config
 */
export function lookupTuned(adapter: string, g: Graph, dims: Record<string, number>, path = tuneCachePath()): TunedEntry | undefined {
  return readCache(path)[adapter]?.[`${graphKey(g)}|${shapeBucket(dims)}`];
}

/**
 * Every tuned entry of a graph on an adapter, newest first.
 * @example tunedEntries(adapterId(rt), mha())[0]?.bucket
 */
export function tunedEntries(adapter: string, g: Graph, path = tuneCachePath()): TunedEntry[] {
  const key = graphKey(g);
  return Object.entries(readCache(path)[adapter] ?? {})
    .filter(([k]) => k.startsWith(`${key}|`))
    .map(([, e]) => e)
    .sort((a, b) => b.tunedAt.localeCompare(a.tunedAt));
}

/**
 * Stores an entry (read-modify-write of the whole file).
 * @example storeTuned(adapterId(rt), g, entry)
 */
export function storeTuned(adapter: string, g: Graph, entry: TunedEntry, path = tuneCachePath()): void {
  const all = readCache(path);
  (all[adapter] ??= {})[`${graphKey(g)}|${entry.bucket}`] = entry;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(all, null, 2) + '\n');
}
