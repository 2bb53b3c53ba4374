/**
 * Display helpers for notebooks and scripts: tables, heatmaps, bar and line charts, rooflines,
 * code and compiler diagnostics. Each returns a {@link View} with `.html`
 * (and `.svg` for plots), `.text`, `save(path)` and `show()`, which renders in a tslab
 * Jupyter notebook and prints text anywhere else. No browser or plotting stack is needed.
 */
export { code, escapeXml, hstack, html, svg, tslabDisplay, View, type ViewKind } from './view.ts';
export { table, type TableOptions } from './table.ts';
export { heatmap, pick, type HeatmapOptions, type Matrix, type NamedArray } from './heatmap.ts';
export { bars, lines, roofline, type BarDatum, type BarsOptions, type LineSeries, type LinesOptions, type RooflineDevice } from './charts.ts';
export {
  snippetDiagnostics,
  typecheck,
  TypecheckResult,
  type CompilerDiagnostic,
  type DiagnosticFormatter,
  type SnippetDiagnostic,
  type TypecheckOptions,
} from './typecheck.ts';
export { formatBytes, formatMs, formatNumber } from './format.ts';
