/** Summary statistics of repeated timings (the tuner and the bench). */

/** Median, quartiles and range of a sample of times (ms). */
export interface TimeStats {
  runs: number;
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Median, quartiles (linear interpolation) and range.
 * @example timeStats([3, 1, 2]).median // 2
 */
export function timeStats(ms: readonly number[]): TimeStats {
  if (!ms.length) throw new Error('timeStats: no samples');
  const s = [...ms].sort((a, b) => a - b);
  return { runs: s.length, median: quantile(s, 0.5), p25: quantile(s, 0.25), p75: quantile(s, 0.75), min: s[0]!, max: s[s.length - 1]! };
}
