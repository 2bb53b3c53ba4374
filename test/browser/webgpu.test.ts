// The web examples on a real browser's WebGPU: `npm run web` builds and serves them, headless
// Chromium (the system's, with --enable-unsafe-webgpu; its adapter is SwiftShader without a GPU)
// opens them. The minimal consumer page runs MHA causal, GQA, paged decode on a PagedKvCache in
// Sessions, and a kernel module generated at build time; the playground runs variants picked in
// its form or given in its URL, and DSL snippets typed into its editor (type-checked by the
// TypeScript compiler in the page, whose typed-axes errors it shows). Each result is checked
// against the interpreter in the same page.
// The benchmark page times a row on einattn and on ONNX Runtime Web sharing one GPUDevice.
// A browser without a WebGPU adapter fails these tests with the page's reason; nothing skips.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../examples/web/chromium.ts';
import type { WebBench } from '../../examples/web/page/bench-types.ts';
import type { PageResults } from '../../examples/web/page/report-types.ts';

/** What these tests read in a page (the project's TypeScript has no DOM library). */
type PageGlobals = { einattnResults?: PageResults; einattnBench?: WebBench; document: { getElementById(id: string): { textContent: string | null } | null } };

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'einattn-web-'));
let web: ChildProcess | undefined;
let base = '';
let browser: Browser;

/** Starts `npm run web` (its script, on any free port, building into tmp) and waits for its URL. */
function startWeb(): Promise<string> {
  const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  web = spawn(process.execPath, ['--import', tsx, 'examples/web/serve.ts', '--port', '0', '--out', join(tmp, 'web')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`npm run web printed no URL in 60 s:\n${out}`)), 60_000);
    const read = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /playground:\s+(http:\/\/127\.0\.0\.1:\d+\/)playground\.html/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    web!.stdout!.on('data', read);
    web!.stderr!.on('data', read);
    web!.on('exit', (code) => fail(new Error(`npm run web exited with ${code}:\n${out}`)));
  });
}

beforeAll(async () => {
  [base, browser] = await Promise.all([startWeb(), launchChromium({ webgpu: true })]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  web?.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

/** A page with every console error, page error and request beyond the server collected. */
async function open(b: Browser, path: string): Promise<{ page: Page; problems: string[] }> {
  const page = await b.newPage();
  const problems: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`console.error: ${m.text()}`)));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => void (!r.url().startsWith(base) && !r.url().startsWith('data:') && problems.push(`request beyond the server: ${r.url()}`)));
  const response = await page.goto(base + path);
  expect(response?.ok(), `loading ${path}`).toBe(true);
  return { page, problems };
}

/** Waits for the page's results, whatever they are. */
async function settled(page: Page, problems: string[], what: string): Promise<PageResults> {
  try {
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).einattnResults?.done === true, null, { timeout: 90_000, polling: 100 });
  } catch (e) {
    throw new Error(`${what}: no results (${(e as Error).message}); problems: ${problems.join('; ') || 'none'}`);
  }
  return (await page.evaluate(() => (globalThis as unknown as PageGlobals).einattnResults))!;
}

/** Waits for the page's results; fails with the page's own error (NO_ADAPTER and why) if it has one. */
async function results(page: Page, problems: string[], what: string): Promise<PageResults> {
  const r = await settled(page, problems, what);
  expect(r.error, `${what} reported an error`).toBeNull();
  expect(r.adapter?.backend, `${what}: the runtime is on navigator.gpu`).toBe('browser');
  for (const c of r.cases) expect(c.pass, `${what}: ${c.name} at ${JSON.stringify(c.dims)}: max error ${c.maxErr} > ${c.allowed}`).toBe(true);
  expect(r.ok).toBe(true);
  expect(problems, what).toEqual([]);
  return r;
}

describe('a bundled consumer page on WebGPU', () => {
  it('runs MHA causal, GQA, paged decode and a generated module, matching the interpreter in the page', async () => {
    const { page, problems } = await open(browser, 'minimal.html');
    try {
      const r = await results(page, problems, 'minimal.html');
      expect(r.cases.map((c) => c.name.replace(/ \(.*/, ''))).toEqual(['mha causal', 'gqa', 'paged decode', 'generated mha_causal_64']);
      for (const c of r.cases) expect(c.kernelMs, c.name).toBeGreaterThan(0);
      expect(r.adapter!.features).toContain('timestamp-query');
      expect(await page.locator('#results-status').textContent()).toBe('all cases match the interpreter');
    } finally {
      await page.close();
    }
  });
});

/** Waits until the playground has looked for its adapter (found or not). */
async function playgroundReady(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      (globalThis as unknown as PageGlobals).document.getElementById('status')?.textContent === 'ready' ||
      (globalThis as unknown as PageGlobals).einattnResults?.done,
    null,
    { timeout: 60_000 },
  );
}

describe('the playground on WebGPU', () => {
  it('runs causal MHA picked in its form and shows kernel times, the plan, the WGSL and a heatmap', async () => {
    const { page, problems } = await open(browser, 'playground.html');
    try {
      await playgroundReady(page);
      await page.selectOption('#variant', 'mha');
      await page.check('#opt-causal');
      await page.fill('#dim-s', '12');
      await page.fill('#dim-t', '12');
      await page.click('#run');
      const r = await results(page, problems, 'playground (mha causal)');
      expect(r.cases.map((c) => c.name)).toEqual(['mha causal: o']);
      expect(r.cases[0]!.dims).toMatchObject({ s: 12, t: 12 });
      expect(await page.locator('#plan').textContent()).toMatch(/^plan 'mha_causal': \d+ kernels?/);
      const kernels = await page.locator('#kernels tbody tr').count();
      expect(await page.locator('#wgsl details').count()).toBe(kernels - 1);
      expect(await page.locator('#wgsl pre').first().textContent()).toContain('@compute');
      expect(await page.locator('#kernel-ms').textContent()).toMatch(/^\d+\.\d{3} ms$/);
      // the heatmap: one cell per (query, key) of head 0, the causal upper triangle at 0
      expect(await page.locator('#heatmap svg rect title').count()).toBe(12 * 12);
      expect(await page.locator('#heatmap svg rect title').nth(1).textContent()).toBe('[0, 1] = 0');
      expect(new URL(page.url()).search).toBe('?variant=mha&causal=true&b=1&h=2&s=12&t=12&d=8&dv=8');
    } finally {
      await page.close();
    }
  });

  it.each([
    ['gqa', 'variant=gqa&causal=1&t=16&run=1', 'gqa causal: o'],
    ['paged', 'variant=paged&causal=1&run=1', 'paged causal: o'],
  ])('runs %s from a shared URL', async (_name, query, caseName) => {
    const { page, problems } = await open(browser, `playground.html?${query}`);
    try {
      const r = await results(page, problems, `playground?${query}`);
      expect(r.cases.map((c) => c.name)).toEqual([caseName]);
      expect(await page.locator('#heatmap svg').count()).toBe(1);
    } finally {
      await page.close();
    }
  });
});

/** A user's own attention: a tanh softcap and a causal mask by where(), exported by name. */
const SNIPPET = `import { einsum, graph, index, input, where } from 'einattn';

const q = input('q', 'b h s d');
const k = input('k', 'b h t d');
const v = input('v', 'b h t dv');
const s = index('s');
const t = index('t');
const scores = einsum('b h s d, b h t d -> b h s t', q, k).mul(0.35);
const capped = scores.div(5).tanh().mul(5);
const p = where(t.le(s), capped, -Infinity).softmax('t').transpose('b h s t');
export const attn = graph('softcap_where', { o: einsum('b h s t, b h t dv -> b h s dv', p, v) });
`;

/** The same with k's einsum operand swapped for q: axis 3 is 's' where the spec says 't'. */
const WRONG_AXIS = SNIPPET.replace("einsum('b h s d, b h t d -> b h s t', q, k)", "einsum('b h s d, b h t d -> b h s t', q, q)");
const WRONG_LINE = WRONG_AXIS.split('\n').findIndex((l) => l.includes(', q, q)')) + 1;

describe("the playground's snippet editor", () => {
  it('type-checks a DSL snippet typed into it with the TypeScript compiler in the page, runs it on WebGPU and matches the interpreter', async () => {
    const { page, problems } = await open(browser, 'playground.html');
    try {
      await playgroundReady(page);
      expect(await page.inputValue('#snippet'), 'the editor starts with the example').toContain("from 'einattn'");
      await page.fill('#snippet', SNIPPET);
      await page.fill('#snippet-dims', 'b=1 h=2 s=10 t=10 d=8 dv=4');
      await page.click('#snippet-run');
      const r = await results(page, problems, 'playground snippet');
      expect(r.cases.map((c) => c.name)).toEqual(['snippet softcap_where: o']);
      expect(r.cases[0]!.dims).toEqual({ b: 1, h: 2, s: 10, t: 10, d: 8, dv: 4 });
      expect(r.cases[0]!.count).toBe(2 * 10 * 4);
      expect(await page.locator('#snippet-note').textContent()).toMatch(/^type check \(TypeScript \d+\.\d+\.\d+, \d+ ms\): no errors$/);
      expect(await page.locator('#plan').textContent()).toMatch(/^plan 'softcap_where': \d+ kernels?/);
      expect(await page.locator('#wgsl pre').first().textContent()).toContain('@compute');
      expect(await page.locator('#kernel-ms').textContent()).toMatch(/^\d+\.\d{3} ms$/);
      expect(await page.locator('#heatmap svg rect title').count()).toBe(10 * 10);
      // the example comes back on request, and runs too
      await page.click('#snippet-reset');
      await page.click('#snippet-run');
      const example = await results(page, problems, 'playground example snippet');
      expect(example.cases.map((c) => c.name)).toEqual(['snippet alibi_softcap: o']);
    } finally {
      await page.close();
    }
  });

  it("shows an axis error: the compiler's typed-axes error, and einattn's run-time error when run unchecked", async () => {
    const { page, problems } = await open(browser, 'playground.html');
    try {
      await playgroundReady(page);
      await page.fill('#snippet', WRONG_AXIS);
      await page.fill('#snippet-dims', 'b=1 h=2 s=10 t=10 d=8 dv=4');
      await page.click('#snippet-run');
      const typed = await settled(page, problems, 'snippet with a wrong axis, type-checked');
      expect(typed.ok).toBe(false);
      expect(typed.cases).toEqual([]);
      expect(typed.error).toMatch(/^snippet\.ts: 1 type error, so it was not run/);
      expect(typed.error).toContain(`snippet.ts:${WRONG_LINE}:`);
      expect(typed.error).toMatch(
        /error TS2345: Argument of type 'Tensor<\["b", "h", "s", "d"\]>' is not assignable to parameter of type 'EinsumOperand<"operand 2", \["b", "h", "t", "d"\]>'/,
      );
      expect(typed.error).toContain(`Type '"s"' is not assignable to type '"t"'`);
      expect(await page.locator('#results-error').textContent()).toBe(typed.error);
      expect(await page.locator('#snippet-note').textContent()).toMatch(/: 1 error$/);
      expect(await page.locator('#report').innerHTML()).toBe('');

      await page.uncheck('#snippet-typecheck');
      await page.click('#snippet-run');
      const unchecked = await settled(page, problems, 'snippet with a wrong axis, not type-checked');
      expect(unchecked.ok).toBe(false);
      expect(unchecked.error).toBe(
        `snippet.ts:${WRONG_LINE}: AXIS_MISMATCH: einsum 'b h s d, b h t d -> b h s t': operand 2 ('q') has axes [b h s d] but the spec says [b h t d] (axis 3 is 's', the spec says 't')`,
      );
      expect(await page.locator('#results-error').textContent()).toBe(unchecked.error);

      await page.fill('#snippet', "import { input } from 'einattn';\nexport const x = input('x', 'i';\n");
      await page.click('#snippet-run');
      const syntax = await settled(page, problems, 'snippet with a syntax error');
      expect(syntax.error).toMatch(/^snippet\.ts: 1 syntax error, so it was not run[\s\S]*snippet\.ts:2:\d+ - error TS1005: '\)' expected\./);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

describe('the benchmark page (npm run bench:web)', () => {
  it('times a row on einattn and on ONNX Runtime Web on the same device, and their outputs agree', async () => {
    const { page, problems } = await open(browser, 'bench.html?quick=1&only=mqa-decode-512&reps=1');
    try {
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).einattnBench?.done === true, null, { timeout: 90_000, polling: 250 });
      const b = (await page.evaluate(() => (globalThis as unknown as PageGlobals).einattnBench))!;
      expect(b.error).toBeNull();
      expect(b.ortVersion).toMatch(/^\d+\.\d+/);
      expect(b.rows.map((r) => r.id)).toEqual(['mqa-decode-512']);
      const r = b.rows[0]!;
      expect(r.einattn).toMatchObject({ median_ms: expect.any(Number), kernel_ms: expect.any(Number) });
      expect(r.ort).toMatchObject({ median_ms: expect.any(Number) });
      expect(r.ratio).toBeGreaterThan(0);
      expect(r.maxDiffInterp).toBeLessThan(1e-5);
      expect(r.maxDiffOrt).toBeLessThan(1e-4);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

describe('a browser without a WebGPU adapter', () => {
  it('makes the page report NO_ADAPTER with the reason, which fails the checks above', async () => {
    const plain = await launchChromium();
    try {
      const page = await plain.newPage();
      await page.goto(base + 'minimal.html');
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).einattnResults?.done === true, null, { timeout: 60_000 });
      const r = (await page.evaluate(() => (globalThis as unknown as PageGlobals).einattnResults))!;
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/requestAdapter\(\) returned no adapter|navigator\.gpu is undefined/);
      expect(await page.locator('#results-error').textContent()).toBe(r.error);
    } finally {
      await plain.close();
    }
  });
});
