// The tour's HTML report in a real headless browser (the system's chromium, driven by
// playwright-core): it loads without console errors, requests nothing, and both of its charts
// draw one labelled bar per variant — checked in the DOM and in screenshots (non-blank
// content, not pixel comparisons). Without a browser this fails saying to run
// `bash scripts/setup-system.sh`; it never skips.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport, type TourReport, type TourVariant } from '../../src/cli/report.ts';
import { cli, expectOk, tempDir } from '../cli/helpers.ts';
import { findChromium, launchChromium } from './browser.ts';
import { decodePng, ink } from './png.ts';

/** The bars' fill in report.ts's stylesheet (#3b6fd8). */
const BAR_RGB: [number, number, number] = [0x3b, 0x6f, 0xd8];

/** What one chart looks like in the page, measured in the browser. */
interface ChartFacts {
  title: string;
  /** the SVG's width in its own units, which bar and text boxes use */
  width: number;
  /** width and height in the SVG's units; area in screen pixels */
  bars: { width: number; height: number; area: number; fill: string }[];
  labels: { text: string; x: number; width: number }[];
  values: { text: string; x: number; width: number }[];
}

// Minimal DOM shapes for the function that runs in the page (the project's TS has no DOM lib).
interface Box {
  x: number;
  width: number;
  height: number;
}
interface SvgNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): Box;
  getBBox(): Box;
  querySelector(selector: string): SvgNode | null;
  querySelectorAll(selector: string): Iterable<SvgNode>;
  ownerDocument: { defaultView: { getComputedStyle(e: SvgNode): { fill: string } } };
}

/** Runs in the page: sizes of the chart's bars and labels as laid out and drawn. */
const measureChart = (el: unknown): ChartFacts => {
  const svg = el as SvgNode;
  const style = svg.ownerDocument.defaultView;
  const texts = (cls: string) =>
    Array.from(svg.querySelectorAll(`text.${cls}`), (t) => ({ text: t.textContent ?? '', x: t.getBBox().x, width: t.getBBox().width }));
  return {
    title: svg.querySelector('text.title')?.textContent ?? '',
    width: Number(svg.getAttribute('width')),
    bars: Array.from(svg.querySelectorAll('rect.bar'), (r) => {
      const box = r.getBBox();
      const screen = r.getBoundingClientRect();
      return { width: box.width, height: box.height, area: screen.width * screen.height, fill: style.getComputedStyle(r).fill };
    }),
    labels: texts('label'),
    values: texts('value'),
  };
};

/**
 * Opens a report.html and checks it: no console errors, page errors or requests beyond the
 * file; two charts with a bar per variant (zero-width "n/a" where there is no value); and
 * screenshots of each chart that show the bars and their labels.
 */
async function checkReport(browser: Browser, file: string, names: string[], hasValue: boolean[][]): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  const url = pathToFileURL(file).href;
  page.on('request', (r) => {
    if (r.url() !== url) problems.push(`request beyond the page itself: ${r.url()}`);
  });
  try {
    const response = await page.goto(url, { waitUntil: 'load' });
    expect(response?.ok() ?? true, `loading ${url}`).toBe(true);
    expect(await page.title()).toBe('einattn tour');
    expect(problems, `problems loading ${file}`).toEqual([]);

    const charts = page.locator('svg.chart');
    expect(await charts.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const chart = charts.nth(i);
      const facts = await chart.evaluate(measureChart);
      const where = `chart ${i + 1} "${facts.title}" in ${file}`;
      expect(facts.title, where).not.toBe('');
      expect(
        facts.labels.map((l) => l.text),
        where,
      ).toEqual(names);
      expect(facts.bars, where).toHaveLength(names.length);
      expect(facts.values, where).toHaveLength(names.length);
      let barArea = 0;
      facts.bars.forEach((bar, k) => {
        const what = `${where}: bar ${k + 1} (${names[k]}, ${facts.values[k]!.text})`;
        expect(facts.labels[k]!.width, `${what}: label drawn`).toBeGreaterThan(0);
        expect(facts.values[k]!.text.trim(), what).not.toBe('');
        expect(facts.values[k]!.width, `${what}: value drawn`).toBeGreaterThan(0);
        for (const t of [facts.labels[k]!, facts.values[k]!]) {
          expect(t.x, `${what}: "${t.text}" starts inside the chart`).toBeGreaterThanOrEqual(-1);
          expect(t.x + t.width, `${what}: "${t.text}" ends inside the chart (${facts.width} wide)`).toBeLessThanOrEqual(facts.width + 1);
        }
        expect(bar.fill, `${what}: the stylesheet's fill`).toBe(`rgb(${BAR_RGB.join(', ')})`);
        if (hasValue[i]![k]) {
          expect(bar.width, what).toBeGreaterThanOrEqual(1);
          expect(bar.height, what).toBeGreaterThan(0);
          expect(facts.values[k]!.text, what).not.toMatch(/n\/a|NaN|undefined|Infinity/);
          barArea += bar.area;
        } else {
          expect(bar.width, what).toBe(0);
          expect(facts.values[k]!.text, what).toBe('n/a');
        }
      });
      expect(Math.max(...facts.bars.map((b) => b.width)), `${where}: the largest bar spans the scale`).toBeCloseTo(360, 0);

      // The screenshot: not blank, bars in the bar colour, and other ink (the labels) besides.
      const png = await chart.screenshot();
      const shot = file.replace(/\.html$/, `.chart${i + 1}.png`);
      writeFileSync(shot, png);
      const img = decodePng(png);
      const seen = ink(img, [BAR_RGB]);
      const pixels = img.width * img.height;
      const msg = `${where}; screenshot ${shot} (${img.width}×${img.height}): ${JSON.stringify({ ...seen, background: seen.background.toString(16) })}`;
      expect(img.width, msg).toBeGreaterThan(100);
      expect(img.height, msg).toBeGreaterThan(30);
      expect(seen.background, `${msg}: background is white`).toBe(0xffffffff);
      expect(seen.colours, msg).toBeGreaterThanOrEqual(3);
      expect(seen.inked, msg).toBeGreaterThanOrEqual(0.01);
      expect(seen.counts[0], `${msg}: bar-coloured pixels vs ${barArea} px of bars`).toBeGreaterThanOrEqual(0.5 * barArea);
      expect(seen.inked * pixels - seen.counts[0]!, `${msg}: text pixels`).toBeGreaterThan(50 * names.length);
    }

    const page1 = decodePng(await page.screenshot({ fullPage: true }));
    expect(ink(page1).inked, `whole page of ${file}`).toBeGreaterThanOrEqual(0.01);
    expect(problems, `problems with ${file}`).toEqual([]);
  } finally {
    await page.close();
  }
}

function variant(name: string, ms: number | null, kv: number): TourVariant {
  const dims = { b: 1, h: 8, s: 512, t: 512, d: 64, dv: 64 };
  return {
    name,
    summary: `${name} attention`,
    graph: name,
    kernels: [`${name}_scores`, `${name}_softmax`, `${name}_out`],
    wgsl: [0, 1, 2].map((i) => `${name}/${name}_${i}.wgsl`),
    check: {
      mode: 'gpu',
      dims: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 },
      rule: 'allowed = 1e-5·√L·max(1, |ref|max) + 1e-6',
      outputs: [{ name: 'o', maxAbs: 6e-8, maxRel: 2e-7, refAbsMax: 1.3, allowed: 3.1e-5, pass: true }],
      pass: true,
    },
    timing:
      ms === null
        ? null
        : {
            dims,
            benchDims: dims,
            capped: false,
            runs: 5,
            medianMs: ms,
            minMs: ms * 0.9,
            maxMs: ms * 1.2,
            perKernelMs: [ms / 2, ms / 4, ms / 4],
            method: 'timestamp-query',
          },
    kvBytesPerToken: kv,
    kvDims: { h: 8, d: 64, dv: 64 },
    pass: true,
  };
}

describe('the HTML report in headless Chromium', () => {
  const dir = tempDir();
  // Launched by the first test that needs it, so that a missing browser fails those tests
  // (with launchChromium's message) instead of marking them skipped.
  let launched: Promise<Browser> | undefined;
  const browser = () => (launched ??= launchChromium());
  afterAll(async () => {
    await launched?.then(
      (b) => b.close(),
      () => {},
    );
  });

  it('says to run scripts/setup-system.sh when there is no browser', () => {
    expect(() => findChromium({ EINATTN_CHROMIUM: join(dir, 'no-such-chromium') })).toThrow(/bash scripts\/setup-system\.sh/);
  });

  it("renders the real tour's report (einattn tour --small, three variants)", async () => {
    const out = join(dir, 'tour');
    // three variants keep it quick; test/cli/tour.test.ts runs every one
    const r = await cli(['tour', '--small', '--only', 'mha,gqa,diff', '--out', out]);
    // Whether every variant passes is tour.test.ts's business; here only the page matters. A
    // failed variant shows as an "n/a" time bar, but there must be a GPU adapter (as for
    // tour.test.ts) so that the time chart has bars at all.
    if (r.code !== 0 && r.code !== 1) expectOk(r);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Omit<TourReport, 'variants'> & {
      variants: { name: string; timing: unknown; kvBytesPerToken: number | null }[];
    };
    if (report.adapter === null) expectOk(r);
    const names = report.variants.map((v) => v.name);
    const timed = report.variants.map((v) => v.timing !== null);
    expect(timed.filter(Boolean).length, `timed variants:\n${r.stdout}`).toBeGreaterThanOrEqual(1);
    const kv = report.variants.map((v) => v.kvBytesPerToken !== null);
    await checkReport(await browser(), join(out, 'report.html'), names, [timed, kv]);
  });

  it('renders a report with many variants, a variant without timing, and names that need escaping', async () => {
    const vs = [
      variant('mha', 12.5, 4096),
      variant('gqa', 7.25, 1024),
      variant('mqa', 6.1, 512),
      variant('mla', 0.75, 2304),
      { ...variant('sliding-window', null, 4096), error: 'timing skipped <on purpose>' },
      variant('<evil & "quoted">', 0.012, 128),
    ];
    const report: TourReport = {
      tool: 'einattn',
      version: '0.1.0',
      createdAt: '2025-01-01T00:00:00.000Z',
      small: false,
      adapter: null,
      interpreterOnly: false,
      variants: vs,
      pass: false,
      elapsedMs: 4321,
    };
    const file = join(dir, 'synthetic.html');
    writeFileSync(file, renderReport(report));
    const names = vs.map((v) => v.name);
    await checkReport(await browser(), file, names, [vs.map((v) => v.timing !== null), vs.map(() => true)]);
  });
});
