/** Text formatting shared by the commands: numbers, sizes, shapes and plain-text tables. */

/**
 * A number in at most `digits` significant digits, switching to exponent form when tiny or huge.
 * @example fmtNum(0.000012345) // '1.23e-5'
 */
export function fmtNum(x: number, digits = 3): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(digits)));
  const [m, e] = x.toExponential(digits - 1).split('e');
  return `${Number(m)}e${Number(e)}`;
}

/**
 * Milliseconds with a precision that suits their size.
 * @example fmtMs(12.3456) // '12.35 ms'
 */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3)} ms`;
}

/**
 * A byte count in B, KiB, MiB or GiB.
 * @example fmtBytes(4096) // '4 KiB'
 */
export function fmtBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (Math.abs(n) >= size) return `${+(n / size).toFixed(2)} ${unit}`;
  }
  return `${n} B`;
}

/**
 * Axes with their sizes, the way error messages and summaries show a shape.
 * @example axesText(['b', 'h'], { b: 1, h: 8 }) // '[b=1 h=8]'
 */
export function axesText(axes: readonly string[], sizes: Record<string, number>): string {
  return `[${axes.map((a) => `${a}=${sizes[a] ?? '?'}`).join(' ')}]`;
}

/**
 * Dims as the `--dims` flag takes them.
 * @example dimsText({ b: 1, h: 8 }) // 'b=1,h=8'
 */
export function dimsText(dims: Record<string, number>): string {
  return Object.entries(dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * Left-aligned columns separated by two spaces; the header gets an underline.
 * @example console.log(table(['name', 'ms'], [['mha', '1.2']]))
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * Collapses a possibly multi-line message into one line for `einattn: <message>`.
 * @example oneLine('kernel failed:\n  3:4 error: x') // 'kernel failed: 3:4 error: x'
 */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}
