/**
 * The schedule space the autotuner searches, as axes of alternative settings tried
 * one axis at a time around the best point so far: split count (decode), lanes per
 * row tile and invocations per workgroup (lanes > 1 merge through workgroup memory),
 * subgroups on/off (the lanes merge by subgroup shuffles instead), rows per
 * invocation, KV tile, keys per register block of the score product, and
 * workgroup-memory staging in the contraction kernels.
 */
import type { FlashSchedule, LowerOptions } from '../lower/index.ts';

/** A point in the space: what `compile()` takes. */
export interface TunedConfig {
  flash: Partial<FlashSchedule>;
  /** workgroup-memory staging for contraction kernels (the non-attention einsums) */
  shared: boolean;
}

/**
 * The lowering (and compile) options that run a config.
 * @example configOptions({ flash: { rows: 4 }, shared: false }) // { flashSchedule: { rows: 4 }, shared: false }
 */
export const configOptions = (c: TunedConfig): Pick<LowerOptions, 'flashSchedule' | 'shared'> => ({ flashSchedule: c.flash, shared: c.shared });

/** One axis: a name and the alternative settings tried for it. */
export interface Axis {
  name: string;
  options: readonly (Partial<FlashSchedule> & { shared?: boolean })[];
}

/** What the device offers that changes the space. */
export interface SpaceFeatures {
  /** the device has the 'subgroups' feature */
  subgroups: boolean;
}

/**
 * The axes for a problem: split counts only where there are few query rows (decode),
 * subgroups only where the device has them.
 * @example searchAxes({ s: 1, t: 4096 }, { subgroups: true }).map((a) => a.name) // ['split', 'lanes', 'subgroups', 'rows', 'kvTile', 'qkBlock', 'shared']
 */
export function searchAxes(dims: Record<string, number>, features: SpaceFeatures): Axis[] {
  const decode = (dims.s ?? 1) <= 8;
  const axes: Axis[] = [];
  if (decode) axes.push({ name: 'split', options: ['auto' as const, 1, 2, 4, 8, 16, 32].map((split) => ({ split })) });
  const lanes: [number, number][] = decode
    ? [
        [1, 8],
        [4, 8],
        [8, 8],
        [8, 16],
        [16, 16],
      ]
    : [
        [1, 4],
        [1, 8],
        [1, 16],
        [1, 32],
        [2, 16],
        [4, 16],
      ];
  axes.push({ name: 'lanes', options: lanes.map(([kvLanes, workgroup]) => ({ kvLanes, workgroup })) });
  // after the lanes: shuffles only change how lanes merge (a kvLanes above the subgroup size is refused and skipped)
  if (features.subgroups) axes.push({ name: 'subgroups', options: [false, true].map((subgroups) => ({ subgroups })) });
  axes.push({ name: 'rows', options: [1, 2, 4, 8, 16].map((rows) => ({ rows })) });
  axes.push({ name: 'kvTile', options: [8, 16, 32].map((kvTile) => ({ kvTile })) });
  // keys per register block of the cached-Q product ('auto' is the default; a block that does not divide kvTile is refused and skipped)
  axes.push({ name: 'qkBlock', options: ['auto' as const, 1, 4, 8].map((qkBlock) => ({ qkBlock })) });
  axes.push({ name: 'shared', options: [{ shared: false }, { shared: true }] });
  return axes;
}

/**
 * A config with one axis's setting applied.
 * @example withSetting({ flash: {}, shared: false }, { rows: 4 }).flash.rows // 4
 */
export function withSetting(c: TunedConfig, setting: Axis['options'][number]): TunedConfig {
  const { shared, ...flash } = setting;
  return { flash: { ...c.flash, ...flash }, shared: shared ?? c.shared };
}

/** A stable text key of a config (to skip repeats). */
export const configKey = (c: TunedConfig): string =>
  JSON.stringify([c.shared, ...(['rows', 'kvTile', 'workgroup', 'kvLanes', 'split', 'subgroups', 'qkBlock'] as const).map((k) => c.flash[k] ?? null)]);
