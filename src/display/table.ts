/** Tables: an HTML table for notebooks and pages, aligned columns for a terminal. */
import { fail } from '../errors.ts';
import { formatNumber } from './format.ts';
import { escapeXml, View } from './view.ts';

/** Options of {@link table}. */
export interface TableOptions {
  /** column order (default: the keys of the rows, in first-seen order) */
  columns?: readonly string[];
  /** a caption above the table */
  title?: string;
  /** per-column formatting of values (default: numbers to `digits` significant digits) */
  format?: Record<string, (value: unknown) => string>;
  /** significant digits of non-integer numbers (default 4) */
  digits?: number;
}

function cellText(v: unknown, digits: number): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return formatNumber(v, digits);
  if (typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.map((x) => cellText(x, digits)).join(' ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * A table of records, one row per record. Numeric columns are right-aligned.
 * @example table([{ variant: 'mha', kvBytes: 4096 }, { variant: 'mqa', kvBytes: 512 }]).show()
 */
export function table(rows: readonly Record<string, unknown>[], opts: TableOptions = {}): View {
  if (!Array.isArray(rows)) fail('USAGE', 'table(): rows must be an array of objects');
  rows.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) fail('USAGE', `table(): row ${i} is not an object`);
  });
  const columns = opts.columns ? [...opts.columns] : [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const digits = opts.digits ?? 4;
  const texts = rows.map((r) => columns.map((c) => (opts.format?.[c] ? opts.format[c]!(r[c]) : cellText(r[c], digits))));
  const numeric = columns.map(
    (c) => rows.some((r) => typeof r[c] === 'number') && rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === 'number'),
  );

  const th = 'style="text-align:left;padding:.25rem .6rem;border-bottom:2px solid #c9ced8;background:#f5f7fa"';
  const td = (num: boolean) =>
    `style="text-align:${num ? 'right' : 'left'};padding:.25rem .6rem;border-bottom:1px solid #e3e6ec${num ? ';font-variant-numeric:tabular-nums' : ''}"`;
  const caption = opts.title ? `<caption style="caption-side:top;text-align:left;font-weight:600;padding:.3rem 0">${escapeXml(opts.title)}</caption>` : '';
  const htmlText = [
    `<table style="border-collapse:collapse;font-size:13px">${caption}`,
    `<thead><tr>${columns.map((c) => `<th ${th}>${escapeXml(c)}</th>`).join('')}</tr></thead>`,
    `<tbody>${texts.map((row) => `<tr>${row.map((t, j) => `<td ${td(numeric[j]!)}>${escapeXml(t)}</td>`).join('')}</tr>`).join('')}</tbody>`,
    '</table>',
  ].join('\n');

  const widths = columns.map((c, j) => Math.max(c.length, ...texts.map((r) => r[j]!.length)));
  const pad = (t: string, j: number) => (numeric[j] ? t.padStart(widths[j]!) : t.padEnd(widths[j]!));
  const line = (cells: string[]) => cells.map(pad).join('  ').replace(/\s+$/, '');
  const text = [...(opts.title ? [opts.title] : []), line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...texts.map(line)].join('\n');
  return new View({ kind: 'html', html: htmlText, text, title: opts.title });
}
