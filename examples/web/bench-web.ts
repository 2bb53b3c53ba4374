/**
 * `npm run bench:web`: the benchmark rows in headless Chromium, einattn against ONNX Runtime
 * Web's WebGPU provider on the same GPUDevice of one page (examples/web/page/bench.ts), and the
 * results in bench/results/web-<adapter>.json and .md.
 *
 *   npm run bench:web                          every row of npm run bench
 *   npm run bench:web -- --quick               the small rows
 *   npm run bench:web -- --only gqa --reps 5   rows whose id contains 'gqa', 5 timed calls each
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { buildWeb, REPO, WEB_ROUTES } from './build.ts';
import { launchChromium } from './chromium.ts';
import type { WebBench } from './page/bench-types.ts';
import { benchMarkdown } from './bench-report.ts';
import { serveStatic } from './server.ts';

interface Args {
  quick: boolean;
  only: string | undefined;
  reps: number;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: undefined, reps: 7, out: join(REPO, 'bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () =>
      argv[++i] ??
      (() => {
        throw new Error(`${a} needs a value`);
      })();
    if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only = value();
    else if (a === '--reps') args.reps = Number(value());
    else if (a === '--out') args.out = resolve(value());
    else throw new Error(`unknown argument '${a}' (known: --quick, --only ID, --reps N, --out DIR)`);
  }
  if (!Number.isInteger(args.reps) || args.reps < 1) throw new Error(`--reps must be a positive integer, got ${args.reps}`);
  return args;
}

/** A file-name part for the adapter: kind and name, e.g. 'software-swiftshader'. */
export function webAdapterSlug(b: WebBench): string {
  const a = b.adapter;
  const name = a ? [a.kind, a.description || a.device || `${a.vendor} ${a.architecture}`].join(' ') : 'no-adapter';
  return name
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}

/** Runs the page and prints each row as it finishes; resolves with the page's results. */
async function runPage(args: Args): Promise<{ bench: WebBench; browserVersion: string }> {
  const { outdir } = await buildWeb(join(REPO, 'out/web-bench'));
  const server = await serveStatic(outdir, 0, WEB_ROUTES);
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    const q = new URLSearchParams({ reps: String(args.reps), ...(args.quick ? { quick: '1' } : {}), ...(args.only ? { only: args.only } : {}) });
    await page.goto(`${server.url}bench.html?${q}`);
    let shown = 0;
    let named = false;
    for (;;) {
      const b = (await page.evaluate(() => (globalThis as unknown as { einattnBench?: WebBench }).einattnBench)) ?? null;
      if (b?.adapter && !named) {
        console.log(`adapter: ${b.adapter.kind}: ${b.adapter.reason}`);
        named = true;
      }
      for (; b && shown < b.rows.length; shown++) {
        const r = b.rows[shown]!;
        const ms = (t: object) => ('median_ms' in t ? `${(t as { median_ms: number }).median_ms.toPrecision(3)} ms` : JSON.stringify(t));
        console.log(`${r.id}: einattn ${ms(r.einattn)}, ORT Web ${ms(r.ort)}${r.ratio === null ? '' : `, ×ORT ${r.ratio.toFixed(2)}`}`);
      }
      if (b?.done) return { bench: b, browserVersion: browser.version() };
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { bench, browserVersion } = await runPage(args);
  if (bench.error) console.error(`the page failed: ${bench.error}`);
  const slug = `web-${webAdapterSlug(bench)}${args.quick ? '-quick' : ''}`;
  mkdirSync(args.out, { recursive: true });
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform} ${process.arch}`;
  const command = `npm run bench:web${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const meta = { command, date: new Date().toISOString(), machine, browser: `Chromium ${browserVersion} (headless)` };
  writeFileSync(join(args.out, `${slug}.json`), JSON.stringify({ ...meta, ...bench }, null, 1) + '\n');
  writeFileSync(join(args.out, `${slug}.md`), benchMarkdown(bench, meta));
  console.log(`wrote ${join(args.out, slug)}.json and .md`);
  if (bench.error || !bench.rows.length) process.exitCode = 1;
}

await main();
