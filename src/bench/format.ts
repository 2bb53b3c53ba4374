/** Numbers in the bench's markdown tables. */

/**
 * A time, rate or ratio: whole above 100, else `digits` significant digits; '–' when missing.
 * @example fmt(123.4) // '123'
 */
export const fmt = (x: number | undefined, digits = 3): string =>
  x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toPrecision(digits);

/**
 * A fraction as a whole percentage; '–' when missing.
 * @example pct(0.534) // '53%'
 */
export const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(100 * x).toFixed(0)}%`);
