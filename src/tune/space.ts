/**
 * The schedule space the autotuner searches: flash-kernel knobs (rows per
 * invocation, KV tile, invocations per workgroup, split count) and the contraction
 * kernels' workgroup-memory switch, as one-knob-at-a-time axes around a start point.
 */
import type { FlashSchedule } from '../lower/index.ts';

/** A point in the space: what `compile()` takes. */
export interface TunedConfig {
  flash: Partial<FlashSchedule>;
  /** workgroup-memory staging for contraction kernels (the non-attention einsums) */
  shared: boolean;
}

/** One knob and the values tried for it. */
export interface Axis {
  knob: 'rows' | 'kvTile' | 'workgroup' | 'split' | 'shared';
  values: readonly (number | boolean | 'auto')[];
}

/**
 * The axes for a problem: split counts only where there are few query rows (decode).
 * Subgroup schedules are not in the space: no kernel uses subgroups yet.
 * @example searchAxes({ s: 1, t: 4096 }).map((a) => a.knob) // ['split', 'kvTile', 'workgroup', 'rows', 'shared']
 */
export function searchAxes(dims: Record<string, number>): Axis[] {
  const decode = (dims.s ?? 1) <= 8;
  const axes: Axis[] = [];
  if (decode) axes.push({ knob: 'split', values: ['auto', 1, 2, 4, 8, 16, 32, 64] });
  axes.push({ knob: 'kvTile', values: [8, 16, 32] });
  axes.push({ knob: 'workgroup', values: [4, 8, 16, 32, 64] });
  axes.push({ knob: 'rows', values: decode ? [1, 2] : [1, 2, 4, 8] });
  axes.push({ knob: 'shared', values: [false, true] });
  return axes;
}

/**
 * A config with one knob changed.
 * @example withKnob({ flash: {}, shared: false }, 'rows', 4).flash.rows // 4
 */
export function withKnob(c: TunedConfig, knob: Axis['knob'], value: number | boolean | 'auto'): TunedConfig {
  if (knob === 'shared') return { flash: { ...c.flash }, shared: value as boolean };
  return { flash: { ...c.flash, [knob]: value }, shared: c.shared };
}

/** A stable text key of a config (to skip repeats). */
export const configKey = (c: TunedConfig): string =>
  JSON.stringify([c.shared, ...(['rows', 'kvTile', 'workgroup', 'split'] as const).map((k) => c.flash[k] ?? null)]);
