/**
 * A displayable result: HTML (and SVG for plots) for Jupyter, plain text for a terminal,
 * and a file on disk. `show()` renders in a tslab notebook and prints the text elsewhere;
 * nothing here imports tslab, so the module works in any Node program, and in a browser
 * (where a page inserts `.html`; only `save` needs Node).
 */
import { fail } from '../errors.ts';
import { nodeHost } from '../platform/index.ts';

// util.inspect.custom is this registered symbol; naming it so keeps node:util out of browser bundles.
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for HTML or SVG content and attribute values.
 * @example escapeXml('<b> & "x"') // '&lt;b&gt; &amp; &quot;x&quot;'
 */
export function escapeXml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** What a {@link View} holds: `svg` for plots, otherwise HTML. */
export type ViewKind = 'svg' | 'html';

/** The part of tslab's display API that `show()` uses. */
interface TslabDisplay {
  html(s: string): void;
  svg(s: string): void;
}

/**
 * tslab's `display`, when this code runs inside a tslab kernel. The kernel defines
 * `globalThis.__tslab__` (its exports and a `require` that maps 'tslab' to the kernel's own
 * copy), so the display goes to the kernel that runs the cell, whichever tslab is installed.
 * Outside a kernel: undefined, without loading anything.
 */
export function tslabDisplay(): TslabDisplay | undefined {
  const hook = (globalThis as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__;
  if (!hook || typeof hook.require !== 'function') return undefined;
  try {
    const mod = hook.require('tslab') as { display?: TslabDisplay } | undefined;
    return mod?.display && typeof mod.display.html === 'function' ? mod.display : undefined;
  } catch {
    return undefined;
  }
}

/** Where {@link View.show} sends its output; replaceable in tests. */
export const displayTarget: { get(): TslabDisplay | undefined; print(text: string): void } = {
  get: tslabDisplay,
  print: (text) => console.log(text),
};

const PAGE_STYLE =
  'body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1d2330}' +
  'table{border-collapse:collapse}th,td{padding:.25rem .6rem;border-bottom:1px solid #e3e6ec}' +
  'pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}';

/**
 * A rendered result. `html` is what a notebook shows (for plots, the SVG itself), `text` is
 * the terminal fallback; `save(path)` writes `.svg`, `.html` or `.txt` by the path's extension.
 * @example heatmap([[1, 2], [3, 4]]).save('out/h.svg')
 */
export class View {
  readonly kind: ViewKind;
  /** HTML for a notebook or a page (for plots: the `<svg>` element) */
  readonly html: string;
  /** the standalone SVG document, for plots */
  readonly svg: string | undefined;
  /** the plain-text rendering, printed by `show()` outside notebooks */
  readonly text: string;
  readonly title: string;

  constructor(parts: { kind: ViewKind; html?: string; svg?: string; text: string; title?: string }) {
    this.kind = parts.kind;
    this.svg = parts.svg;
    this.html = parts.html ?? parts.svg ?? '';
    this.text = parts.text;
    this.title = parts.title ?? '';
    if (parts.kind === 'svg' && !parts.svg) fail('USAGE', 'an SVG view needs its svg text');
  }

  /**
   * Renders the view: in a tslab notebook as SVG or HTML output of the cell, elsewhere by
   * printing `text`. Returns nothing, so that tslab does not also print the cell's value.
   */
  show(): void {
    const d = displayTarget.get();
    if (d) {
      try {
        if (this.kind === 'svg') d.svg(this.svg!);
        else d.html(this.html);
        return;
      } catch {
        // a kernel that is not executing a cell ("Not ready"): fall through to text
      }
    }
    displayTarget.print(this.text);
  }

  /**
   * Writes the view to `path` by its extension: `.svg` (plots only), `.html`/`.htm` (a
   * standalone page) or `.txt`. Creates the folder; returns the absolute path.
   */
  save(path: string): string {
    const ext = /\.[^./\\]+$/.exec(path)?.[0].toLowerCase() ?? '';
    let content: string;
    if (ext === '.svg') {
      if (this.svg === undefined) fail('USAGE', `cannot save ${this.describe()} as SVG: it is HTML; save it as .html or .txt`);
      content = this.svg;
    } else if (ext === '.html' || ext === '.htm') {
      content = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeXml(this.title || 'einattn')}</title><style>${PAGE_STYLE}</style></head>\n<body>\n${this.html}\n</body></html>\n`;
    } else if (ext === '.txt') {
      content = this.text.endsWith('\n') ? this.text : `${this.text}\n`;
    } else {
      fail('USAGE', `cannot save to '${path}': use a .svg, .html or .txt file name`);
    }
    return nodeHost('View.save()').saveFile(path, content);
  }

  toString(): string {
    return this.text;
  }

  /** tslab prints a cell's last value with util.inspect: show the text rendering, not the fields. */
  [INSPECT](): string {
    return this.text;
  }

  private describe(): string {
    return this.title ? `'${this.title}'` : 'this view';
  }
}

/**
 * Wraps SVG text made elsewhere (e.g. `rooflineSvg` of the cost model) as a {@link View}.
 * @example svg('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>').save('out/x.svg')
 */
export function svg(text: string, opts: { title?: string; text?: string } = {}): View {
  const body = String(text).replace(/^\s*<\?xml[^>]*>\s*/, '');
  if (!/^\s*<svg[\s>]/.test(body)) fail('USAGE', 'svg(): the text must start with an <svg> element');
  const size = /<svg[^>]*\bwidth="([\d.]+)"[^>]*\bheight="([\d.]+)"/.exec(body);
  const title = opts.title ?? /<title>([^<]*)<\/title>/.exec(body)?.[1] ?? '';
  return new View({
    kind: 'svg',
    svg: body,
    title,
    text: opts.text ?? `[SVG ${size ? `${size[1]}×${size[2]}` : ''}${title ? ` "${title}"` : ''}: .save('plot.svg') to open it, or .show() in a notebook]`,
  });
}

/**
 * Wraps an HTML fragment as a {@link View}; `text` is what a terminal prints.
 * @example html('<b>done</b>', { text: 'done' }).show()
 */
export function html(fragment: string, opts: { title?: string; text?: string } = {}): View {
  const text =
    opts.text ??
    String(fragment)
      .replace(/<[^>]*>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  return new View({ kind: 'html', html: String(fragment), text, title: opts.title });
}

/**
 * Source code (WGSL, TypeScript …) as a preformatted block; `maxLines` shortens long text
 * in the notebook and the terminal (never in `save`d .txt, which gets it all).
 * @example code(wgsl, { title: 'scores.wgsl', maxLines: 40 }).show()
 */
export function code(source: string, opts: { title?: string; maxLines?: number } = {}): View {
  const lines = String(source).replace(/\n$/, '').split('\n');
  const max = opts.maxLines ?? Infinity;
  const shown = lines.length > max ? [...lines.slice(0, max), `… ${lines.length - max} more lines`] : lines;
  const head = opts.title ? `<div style="font:600 13px system-ui,sans-serif;margin:.4rem 0 .2rem">${escapeXml(opts.title)}</div>` : '';
  return new View({
    kind: 'html',
    html: `${head}<pre style="font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:.6rem .8rem;border-radius:6px;overflow:auto;max-height:36em"><code>${escapeXml(shown.join('\n'))}</code></pre>`,
    text: `${opts.title ? `── ${opts.title}\n` : ''}${shown.join('\n')}`,
    title: opts.title,
  });
}

/**
 * Views side by side (wrapping when the notebook is narrow); text joins them one after another.
 * @example hstack(bars(kv, { title: 'KV bytes' }), bars(ms, { title: 'decode ms' })).show()
 */
export function hstack(...views: View[]): View {
  const cells = views.map((v) => `<div style="flex:0 1 auto;min-width:0">${v.html}</div>`).join('');
  return new View({
    kind: 'html',
    html: `<div style="display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start">${cells}</div>`,
    text: views.map((v) => v.text).join('\n\n'),
    title: views
      .map((v) => v.title)
      .filter(Boolean)
      .join(' | '),
  });
}
