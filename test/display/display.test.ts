// The display helpers: HTML tables, SVG heatmaps and charts, their text fallbacks, saving to
// files, and show() both inside a (simulated) tslab kernel and outside one.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as root from '../../src/index.ts';
import { bars, code, formatBytes, formatMs, formatNumber, heatmap, hstack, html, lines, pick, roofline, svg, table, View } from '../../src/display/index.ts';
import { encodePng } from '../../src/display/heatmap.ts';
import { displayTarget } from '../../src/display/view.ts';
import { EinattnError } from '../../src/errors.ts';
import { decodePng } from '../report/png.ts';

const tmp = mkdtempSync(join(tmpdir(), 'einattn-display-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Tags open and close in order (a cheap well-formedness check of the SVG we write). */
function expectBalanced(xml: string): void {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (close) expect(stack.pop(), `</${name}>`).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

const _attr = (el: string, name: string) => Number(new RegExp(`\\b${name}="([-\\d.]+)"`).exec(el)?.[1]);

describe('table', () => {
  const rows = [
    { variant: 'mha', kv: 4096, ms: 1.23456, note: '<b>' },
    { variant: 'mqa', kv: 512, ms: 0.000012 },
  ];

  it('renders an escaped HTML table with the columns in first-seen order', () => {
    const t = table(rows, { title: 'KV & time' });
    expect(t.kind).toBe('html');
    expect(t.svg).toBeUndefined();
    expect([...t.html.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1])).toEqual(['variant', 'kv', 'ms', 'note']);
    expect(t.html).toContain('&lt;b&gt;');
    expect(t.html).not.toContain('<b>');
    expect(t.html).toContain('KV &amp; time');
    expect((t.html.match(/<tr>/g) ?? []).length).toBe(3);
    // numbers right-aligned, text left
    expect(t.html).toMatch(/text-align:right[^>]*>4096</);
    expect(t.html).toMatch(/text-align:left[^>]*>mha</);
    expectBalanced(t.html);
  });

  it('prints aligned columns as text', () => {
    const lines = table(rows).text.split('\n');
    expect(lines[0]).toMatch(/^variant\s+kv\s+ms\s+note$/);
    expect(lines[2]).toMatch(/^mha\s+4096\s+1\.235\s+<b>$/);
    expect(lines[3]).toMatch(/^mqa\s+512\s+1\.2e-5$/);
    // right-aligned numbers end in the same column
    expect(lines[2]!.indexOf('4096') + 4).toBe(lines[3]!.indexOf('512') + 3);
  });

  it('takes a column order and per-column formats', () => {
    const t = table(rows, { columns: ['kv', 'variant'], format: { kv: (v) => formatBytes(v as number) } });
    expect(t.text.split('\n')[0]).toMatch(/^\s+kv\s+variant$/);
    expect(t.text).toContain('4 KiB');
    expect(t.html).not.toContain('>ms<');
  });

  it('rejects rows that are not objects', () => {
    expect(() => table([1 as unknown as Record<string, unknown>])).toThrow(/row 0 is not an object/);
    expect(() => table('x' as unknown as Record<string, unknown>[])).toThrow(EinattnError);
  });
});

describe('heatmap and pick', () => {
  it('draws one cell per value, colored by the viridis scale, with a color bar', () => {
    const h = heatmap(
      [
        [0, 1],
        [0.5, Number.NaN],
      ],
      { title: 'w', values: true },
    );
    expect(h.kind).toBe('svg');
    expect(h.html).toBe(h.svg);
    const cells = [...h.svg!.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="(\d+)" height="\1" fill="(#[0-9a-f]{6})"><title>([^<]*)<\/title>/g)];
    expect(cells.map((c) => c[3])).toEqual(['[0, 0] = 0', '[0, 1] = 1', '[1, 0] = 0.5', '[1, 1] = NaN']);
    expect(cells.map((c) => c[2])).toEqual(['#440154', '#fde725', '#23908c', '#c8c8c8']); // min, max, middle, NaN grey
    expect(h.svg).toContain('>w</text>');
    expectBalanced(h.svg!);
  });

  it('centres a diverging scale on zero for signed data', () => {
    const h = heatmap([[-1, 0, 2]]);
    const fills = [...h.svg!.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="\d+" height="\d+" fill="(#[0-9a-f]{6})"><title>/g)].map((m) => m[1]);
    expect(fills[1]).toBe('#f7f7f7'); // 0 is the white middle of RdBu
    expect(h.svg).toContain('>-2</text>'); // symmetric limits
  });

  it('accepts { data, shape, axes } and uses the axis names as titles', () => {
    const h = heatmap({ data: [1, 2, 3, 4, 5, 6], shape: [1, 2, 3], axes: ['b', 's', 't'] });
    expect(h.svg).toContain('>s</text>');
    expect(h.svg).toContain('>t</text>');
    expect(h.text.split('\n')).toHaveLength(3); // header + 2 rows
    expect(() => heatmap({ data: new Float32Array(8), shape: [2, 2, 2] })).toThrow(/not 2-D; take a slice first/);
    expect(() => heatmap({ data: new Float32Array(5), shape: [2, 3] })).toThrow(/needs 6 values, got 5/);
    expect(() => heatmap([[1, 2], [3]])).toThrow(/row 1 has 1 values/);
  });

  it('shades the text fallback from low to high', () => {
    const text = heatmap([[0, 0.5, 1]]).text.split('\n');
    expect(text[1]).toBe('| =@|'.replace('=', text[1]![2]!)); // ' ' for the minimum, '@' for the maximum
    expect(text[1]![1]).toBe(' ');
    expect(text[1]![3]).toBe('@');
  });

  it('draws large matrices as one embedded PNG of the same colors', () => {
    const rows = 120;
    const cols = 100;
    const data = Float32Array.from({ length: rows * cols }, (_, i) => (i % cols) / (cols - 1));
    const h = heatmap({ data, shape: [rows, cols] });
    expect(h.svg).not.toMatch(/<title>\[0, 0\]/);
    const b64 = /href="data:image\/png;base64,([^"]+)"/.exec(h.svg!)?.[1];
    expect(b64).toBeDefined();
    const img = decodePng(Buffer.from(b64!, 'base64'));
    expect([img.width, img.height]).toEqual([cols, rows]);
    const px = (x: number, y: number) => [...img.rgba.slice((y * cols + x) * 4, (y * cols + x) * 4 + 3)];
    expect(px(0, 7)).toEqual([68, 1, 84]);
    expect(px(cols - 1, 50)).toEqual([253, 231, 37]);
    expect(h.text.split('\n')[1]!.length).toBe(2 + Math.ceil(cols / Math.ceil(cols / 64)));
    expectBalanced(h.svg!);
  });

  it('encodes PNGs that decode to the same pixels', () => {
    const png = encodePng(3, 5, (i, j) => [i * 80, j * 50, 7]);
    const img = decodePng(png);
    expect([img.width, img.height]).toEqual([5, 3]);
    expect([...img.rgba.slice((2 * 5 + 4) * 4, (2 * 5 + 4) * 4 + 4)]).toEqual([160, 200, 7, 255]);
  });

  it('pick takes the 2-D slice at fixed indices of the other axes', () => {
    const shape = [2, 3, 4, 5];
    const data = Float32Array.from({ length: 120 }, (_, i) => i);
    const p = pick({ axes: ['b', 'h', 's', 't'], shape, data }, { b: 1, h: 2 });
    expect(p.axes).toEqual(['s', 't']);
    expect(p.shape).toEqual([4, 5]);
    expect(p.data[0]).toBe(1 * 60 + 2 * 20);
    expect(p.data[2 * 5 + 3]).toBe(1 * 60 + 2 * 20 + 2 * 5 + 3);
    // fixing a middle axis: rows and columns keep their strides
    const q = pick({ axes: ['b', 'h', 's', 't'], shape, data }, { b: 0, s: 3 });
    expect(q.axes).toEqual(['h', 't']);
    expect(q.data[1 * 5 + 4]).toBe(1 * 20 + 3 * 5 + 4);
  });

  it('pick names what is wrong', () => {
    const a = { axes: ['b', 'h', 's', 't'], shape: [1, 2, 3, 4], data: new Float32Array(24) };
    expect(() => pick(a, { x: 0 })).toThrow(/no axis 'x'/);
    expect(() => pick(a, { b: 0 })).toThrow(/fix all axes but two/);
    expect(() => pick(a, { b: 0, h: 2 })).toThrow(/h=2 is outside 0..1/);
  });
});

describe('charts', () => {
  it('bars scale to the largest value and label each bar', () => {
    const b = bars({ mha: 4096, gqa: 1024, broken: Number.NaN }, { title: 'KV', format: formatBytes });
    const rects = [...b.svg!.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="16" fill="[^"]+"><title>([^<]*)</g)];
    expect(rects.map((r) => r[2])).toEqual(['mha: 4 KiB', 'gqa: 1 KiB', 'broken: n/a']);
    expect(Number(rects[0]![1])).toBeCloseTo(4 * Number(rects[1]![1]));
    expect(Number(rects[2]![1])).toBe(0);
    expect(b.text).toMatch(/^KV\nmha\s+│█{40} 4 KiB\ngqa\s+│█{10} 1 KiB\nbroken │ n\/a$/);
    expectBalanced(b.svg!);
    expect(() => bars([{ label: 'x', value: '1' as unknown as number }])).toThrow(/number value/);
  });

  it('lines draws one polyline per series on linear or log axes', () => {
    const l = lines(
      [
        {
          label: 'a',
          points: [
            [256, 1],
            [1024, 4],
            [512, 2],
          ],
        },
        {
          label: 'b',
          points: [
            [256, 0.5],
            [1024, 0.6],
          ],
        },
      ],
      { title: 'decode', xLabel: 'KV length', yLabel: 'ms', logX: true, logY: true },
    );
    const polys = [...l.svg!.matchAll(/<polyline[^>]*points="([^"]+)"/g)].map((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number)));
    expect(polys.map((p) => p.length)).toEqual([3, 2]);
    // x sorted; on a log axis 256 → 512 → 1024 are equally spaced, as are y = 1, 2, 4
    const [p0, p1, p2] = polys[0]!;
    expect(p1![0]! - p0![0]!).toBeCloseTo(p2![0]! - p1![0]!, 1);
    expect(p0![1]! - p1![1]!).toBeCloseTo(p1![1]! - p2![1]!, 1);
    expect(l.text).toContain('a: (256, 1) (512, 2) (1024, 4)');
    expectBalanced(l.svg!);
    expect(() => lines([])).toThrow(/at least one series/);
    expect(() => lines([{ label: 'z', points: [[0, 0]] }], { logX: true })).toThrow(/no finite points/);
  });

  it('roofline puts each case on the roof: memory-bound left of the ridge, compute-bound right of it', () => {
    // the shape of the cost model's Device (peak per dtype), or a plain peak
    const h100 = { name: 'H100', flops: { f32: 67e12, f16: 989e12 }, bandwidth: 3.35e12 };
    const r = roofline(
      h100,
      [
        { label: 'decode', intensity: 1 },
        { label: 'prefill', intensity: 1000 },
      ],
      { dtype: 'f16' },
    );
    expect(r.kind).toBe('svg');
    expect(r.title).toBe('Roofline: H100 (f16)');
    expect(r.text).toMatch(/ridge at 295 FLOP\/B/);
    expect(r.text).toMatch(/decode: 1 FLOP\/B, memory-bound, at most 3\.35TFLOP\/s/);
    expect(r.text).toMatch(/prefill: 1000 FLOP\/B, compute-bound, at most 989TFLOP\/s/);
    const roof = /<polyline[^>]*points="([^"]+)"/
      .exec(r.svg!)![1]!
      .split(' ')
      .map((p) => p.split(',').map(Number));
    const dots = [...r.svg!.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(dots).toHaveLength(2);
    expect(dots[1]![1]).toBeCloseTo(roof[1]![1]!, 1); // the compute-bound point sits on the flat roof
    expect(dots[0]![1]).toBeGreaterThan(dots[1]![1]!); // and the memory-bound one below it
    expectBalanced(r.svg!);
    expect(roofline({ name: 'x', peak: 1e12, bandwidth: 1e11 }, []).text).toMatch(/ridge at 10 FLOP\/B/);
    expect(() => roofline({ name: 'x', peak: 0, bandwidth: 1 }, [])).toThrow(/positive peak/);
    expect(() => roofline({ name: 'x', peak: 1, bandwidth: 1 }, [{ label: 'z', intensity: 0 }])).toThrow(/'z' must be positive/);
  });
});

describe('views', () => {
  it('svg() and html() wrap text made elsewhere', () => {
    const s = svg('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="20"><title>dot</title></svg>');
    expect(s.svg!.startsWith('<svg')).toBe(true);
    expect(s.title).toBe('dot');
    expect(s.text).toContain('10×20');
    expect(() => svg('<div/>')).toThrow(/must start with an <svg> element/);
    expect(html('<b>a &amp; b</b>').text).toBe('a & b');
  });

  it('code() escapes and shortens; hstack() puts views side by side', () => {
    const c = code('a < b\nline 2\nline 3', { title: 'k.wgsl', maxLines: 2 });
    expect(c.html).toContain('a &lt; b');
    expect(c.text).toBe('── k.wgsl\na < b\nline 2\n… 1 more lines');
    const h = hstack(bars({ a: 1 }, { title: 'A' }), table([{ x: 1 }]));
    expect(h.kind).toBe('html');
    expect(h.html).toMatch(/^<div style="display:flex[\s\S]*<svg[\s\S]*<table/);
    expect(h.text).toContain('A\n');
    expectBalanced(h.html);
  });

  it('save() writes .svg, .html or .txt by extension, creating folders', () => {
    const h = heatmap(
      [
        [1, 2],
        [3, 4],
      ],
      { title: 'x' },
    );
    const p = h.save(join(tmp, 'a/b/h.svg'));
    expect(readFileSync(p, 'utf8')).toBe(h.svg);
    const page = readFileSync(table([{ a: 1 }], { title: 't<' }).save(join(tmp, 't.html')), 'utf8');
    expect(page).toMatch(/^<!doctype html>[\s\S]*<meta charset="utf-8"><title>t&lt;<\/title>[\s\S]*<table/);
    expect(readFileSync(h.save(join(tmp, 'h.txt')), 'utf8')).toBe(`${h.text}\n`);
    expect(() => table([{ a: 1 }]).save(join(tmp, 't.svg'))).toThrow(/it is HTML; save it as .html or .txt/);
    expect(() => h.save(join(tmp, 'h.png'))).toThrow(/use a .svg, .html or .txt file name/);
  });

  it('prints as its text (console.log, util.inspect, template strings)', () => {
    const t = table([{ a: 1 }]);
    expect(inspect(t)).toBe(t.text);
    expect(`${t}`).toBe(t.text);
  });
});

describe('show()', () => {
  const g = globalThis as { __tslab__?: unknown };
  afterEach(() => {
    delete g.__tslab__;
    vi.restoreAllMocks();
  });

  it('prints the text fallback outside a notebook, without loading tslab', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const b = bars({ a: 2 });
    expect(b.show()).toBeUndefined();
    expect(log).toHaveBeenCalledWith(b.text);
  });

  it("uses the running tslab kernel's display: SVG for plots, HTML otherwise", () => {
    const shown: [string, string][] = [];
    const display = { html: (s: string) => shown.push(['html', s]), svg: (s: string) => shown.push(['svg', s]) };
    const require = vi.fn((id: string) => (id === 'tslab' ? { display } : undefined));
    g.__tslab__ = { exports: {}, require };
    const print = vi.spyOn(displayTarget, 'print');
    const h = heatmap([[1]]);
    const t = table([{ a: 1 }]);
    h.show();
    t.show();
    expect(require).toHaveBeenCalledWith('tslab');
    expect(shown).toEqual([
      ['svg', h.svg],
      ['html', t.html],
    ]);
    expect(print).not.toHaveBeenCalled();
  });

  it('falls back to text when the kernel cannot display (no cell executing)', () => {
    g.__tslab__ = {
      require: () => ({
        display: {
          html: () => {
            throw new Error('Not ready');
          },
          svg: () => {
            throw new Error('Not ready');
          },
        },
      }),
    };
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const t = table([{ a: 1 }]);
    t.show();
    expect(log).toHaveBeenCalledWith(t.text);
  });
});

describe('typecheck', () => {
  it("shows the compiler's message for a wrong axis, and none for a right one", async () => {
    const wrong = await root.typecheck(
      `import { einsum, input } from 'einattn';\nconst q = input('q', 'b h s d');\nconst k = input('k', 'b h s d');\neinsum('b h s d, b h t d -> b h s t', q, k);\n`,
      { dir: join(import.meta.dirname, '../../examples') },
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.diagnostics).toHaveLength(1);
    expect(wrong.diagnostics[0]).toMatchObject({ line: 4, code: 2345, category: 'error' });
    expect(wrong.diagnostics[0]!.message).toMatch(/operand 2[\s\S]*Type '"s"' is not assignable to type '"t"'/);
    expect(wrong.text).toMatch(/^snippet\.ts:4:\d+ - error TS2345/);
    expect(wrong.text).toContain("4 | einsum('b h s d, b h t d -> b h s t', q, k);");
    expect(wrong.html).toMatch(/^<pre/);
    const right = await root.typecheck(
      `import { einsum, input } from 'einattn';\neinsum('b h s d, b h t d -> b h s t', input('q', 'b h s d'), input('k', 'b h t d'));\n`,
      { fileName: 'ok.ts' },
    );
    expect(right.ok).toBe(true);
    expect(right.text).toMatch(/^ok\.ts: no errors \(TypeScript \d+\.\d+/);
  }, 60_000);
});

describe('the package root', () => {
  it('exports the display helpers', () => {
    for (const name of ['table', 'heatmap', 'pick', 'bars', 'lines', 'roofline', 'hstack', 'code', 'html', 'svg', 'typecheck', 'View'])
      expect(typeof (root as Record<string, unknown>)[name], name).toBe('function');
    expect(root.View).toBe(View);
  });

  it('src/display imports nothing that imports the package root (no cycles) and no heavy layer', () => {
    for (const f of ['view.ts', 'table.ts', 'heatmap.ts', 'charts.ts', 'typecheck.ts', 'format.ts', 'index.ts']) {
      const src = readFileSync(join(import.meta.dirname, '../../src/display', f), 'utf8');
      for (const m of src.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gm))
        expect(['../index.ts', '../../index.ts', 'einattn', 'tslab']).not.toContain(m[1]);
      expect(src, f).not.toMatch(/from '\.\.\/(cost|cli|lower|runtime)\//); // a rendering layer: no cost model, CLI, lowering or GPU
    }
  });

  it('formats numbers, bytes and milliseconds', () => {
    expect([formatNumber(3), formatNumber(1.23456), formatNumber(0.0001234), formatNumber(Number.NaN), formatNumber(-Infinity)]).toEqual([
      '3',
      '1.235',
      '1.234e-4',
      'NaN',
      '-∞',
    ]);
    expect([formatBytes(512), formatBytes(4096), formatBytes(3 * 2 ** 30)]).toEqual(['512 B', '4 KiB', '3 GiB']);
    expect([formatMs(0), formatMs(0.0123), formatMs(12.345), formatMs(2500)]).toEqual(['0 ms', '12.3 µs', '12.3 ms', '2.5 s']);
  });
});
