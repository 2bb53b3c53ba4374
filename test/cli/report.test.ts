// The HTML report and the small parsers and numerics behind the CLI, without spawning it.
import { describe, expect, it } from 'vitest';
import { mha } from '../../src/variants/index.ts';
import { findVariant } from '../../src/variants/index.ts';
import { parseDims, parseOptFlags, variantOptions } from '../../src/cli/args.ts';
import { capDims, compareArrays, longestReduction, median, toleranceFor } from '../../src/cli/numerics.ts';
import { barChart, escapeHtml, renderReport, type TourReport, type TourVariant } from '../../src/cli/report.ts';
import { seededRandom } from '../../src/cli/data.ts';

function variant(name: string, ms: number, kv: number): TourVariant {
  return {
    name,
    summary: `summary of ${name}`,
    graph: name,
    kernels: [`${name}_0`],
    wgsl: [`${name}/${name}_0.wgsl`],
    check: {
      mode: 'gpu',
      dims: { s: 2 },
      rule: 'rule',
      outputs: [{ name: 'o', maxAbs: 1e-7, maxRel: 1e-7, refAbsMax: 1, allowed: 1e-5, pass: true }],
      pass: true,
    },
    timing: { dims: { s: 2 }, benchDims: { s: 2 }, capped: false, runs: 3, medianMs: ms, minMs: ms, maxMs: ms, perKernelMs: [ms], method: 'timestamp-query' },
    kvBytesPerToken: kv,
    kvDims: { h: 8, d: 64 },
    pass: true,
  };
}

function report(vs: TourVariant[]): TourReport {
  return {
    tool: 'einattn',
    version: '0.0.0',
    createdAt: '2025-01-01T00:00:00Z',
    small: true,
    adapter: null,
    interpreterOnly: false,
    variants: vs,
    pass: true,
    elapsedMs: 1234,
  };
}

const bars = (svg: string) => svg.match(/<rect class="bar"/g) ?? [];

describe('report.ts', () => {
  it('escapes HTML', () => {
    expect(escapeHtml(`<b a="x">&'</b>`)).toBe('&lt;b a=&quot;x&quot;&gt;&amp;&#39;&lt;/b&gt;');
  });

  it('draws one bar per variant, scaled to the largest value', () => {
    const svg = barChart({
      title: 't',
      bars: [
        { label: 'a', value: 10 },
        { label: 'b', value: 5 },
        { label: 'c', value: 2.5 },
      ],
    });
    expect(bars(svg)).toHaveLength(3);
    const widths = [...svg.matchAll(/class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[0]).toBeCloseTo(2 * widths[1]!, 1);
    expect(widths[1]).toBeCloseTo(2 * widths[2]!, 1);
  });

  it('marks a missing value as n/a instead of drawing NaN', () => {
    const svg = barChart({
      title: 't',
      bars: [
        { label: 'a', value: NaN },
        { label: 'b', value: 1 },
      ],
    });
    expect(svg).toContain('n/a');
    expect(svg).not.toContain('NaN');
  });

  it('renders a self-contained page with two charts of one bar per variant, escaping names', () => {
    const html = renderReport(report([variant('mha', 12, 4096), variant('<evil&"x">', 3, 1024), variant('gqa', 5, 512)]));
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(bars(html)).toHaveLength(6);
    expect(html).not.toContain('<evil');
    expect(html).toContain('&lt;evil&amp;&quot;x&quot;&gt;');
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('says so when only the interpreter ran', () => {
    const r = { ...report([{ ...variant('mha', NaN, 4096), timing: null }]), interpreterOnly: true, adapterError: 'no adapter <here>' };
    const html = renderReport(r);
    expect(html).toMatch(/Interpreter only/);
    expect(html).toContain('no adapter &lt;here&gt;');
    expect(bars(html)).toHaveLength(2);
  });
});

describe('CLI parsers and numerics', () => {
  it('parses --dims and rejects malformed ones', () => {
    expect(parseDims(['b=1,h=8', 's=3 t=4'])).toEqual({ b: 1, h: 8, s: 3, t: 4 });
    expect(() => parseDims(['b=1,h'])).toThrow(/'h' is not name=size/);
    expect(() => parseDims(['b=0'])).toThrow(/positive integer/);
    expect(() => parseDims(['b=1,b=2'])).toThrow(/given twice/);
  });

  it('types and validates variant options', () => {
    const v = findVariant('mha')!;
    expect(variantOptions(v, parseOptFlags(['causal']))).toMatchObject({ causal: true, window: 0 });
    expect(variantOptions(v, { causal: 'false' })).toMatchObject({ causal: false });
    expect(() => variantOptions(v, { causal: '2' })).toThrow(/must be true or false/);
    expect(() => variantOptions(v, { nope: '1' })).toThrow(/has no option 'nope'/);
  });

  it('derives the tolerance from the longest reduction', () => {
    const sizes = { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 };
    expect(longestReduction(mha(), sizes)).toBe(9);
    expect(toleranceFor(mha(), { ...sizes, d: 64 }).length).toBe(64);
  });

  it('counts NaN against a finite reference as an infinite error', () => {
    expect(compareArrays([1, NaN], [1, 2]).maxAbs).toBe(Infinity);
    expect(compareArrays([1, 2.5], [1, 2])).toMatchObject({ maxAbs: 0.5, maxRel: 0.25, worst: 1 });
  });

  it('caps a timing shape to a work budget, keeping it valid', () => {
    const dims = { b: 1, h: 8, s: 4096, t: 4096, d: 64, dv: 64 };
    const capped = capDims(mha(), dims, 2 ** 27);
    expect(capped.s * capped.t).toBeLessThan(dims.s * dims.t);
    expect(capped.h).toBe(8);
    expect(capDims(mha(), { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, 2 ** 27)).toEqual({ b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 });
  });

  it('has a deterministic generator and a median', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
    expect(median([5, 1, 3, 2])).toBe(2.5);
  });
});
