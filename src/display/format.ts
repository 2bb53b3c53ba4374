/** Number formatting shared by the display helpers. */

/**
 * A number for a table or a label: integers in full, others to `digits` significant digits,
 * very small or large magnitudes in exponent form; NaN and ±Infinity as words.
 * @example formatNumber(0.000012345) // '1.234e-5'
 */
export function formatNumber(v: number, digits = 4): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e9))
    return v
      .toExponential(digits - 1)
      .replace(/\.?0+e/, 'e')
      .replace('e+', 'e');
  return String(+v.toPrecision(digits));
}

/**
 * Bytes in binary units.
 * @example formatBytes(3 * 2 ** 20) // '3 MiB'
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return formatNumber(n);
  const units: [string, number][] = [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ];
  for (const [unit, size] of units) if (Math.abs(n) >= size) return `${+(n / size).toPrecision(3)} ${unit}`;
  return `${n} B`;
}

/**
 * Milliseconds with a precision that suits the magnitude.
 * @example formatMs(0.01234) // '12.3 µs'
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return formatNumber(ms);
  if (Math.abs(ms) >= 1000) return `${+(ms / 1000).toPrecision(3)} s`;
  if (Math.abs(ms) >= 1 || ms === 0) return `${+ms.toPrecision(3)} ms`;
  return `${+(ms * 1000).toPrecision(3)} µs`;
}
