/**
 * `npm run web`: builds the web examples (the playground, the minimal consumer page and the
 * benchmark page, which loads ONNX Runtime Web from node_modules at `ort/`) with
 * esbuild and serves them on http://127.0.0.1 until stopped, with the TypeScript compiler and
 * einattn's declaration files (dist/) for the playground's snippet editor. Open the printed URL in a browser
 * with WebGPU (Chrome or Edge 113+, Safari 26+, Firefox 141+ on Windows).
 *
 *   npm run web                      build into out/web, serve on port 8080
 *   npm run web -- --port 0          any free port
 *   npm run web -- --out DIR         build into DIR
 *   npm run web -- --build-only      build, print what was built, and exit
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildWeb, REPO, WEB_ROUTES } from './build.ts';
import { serveStatic } from './server.ts';

interface Args {
  port: number;
  out: string;
  buildOnly: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { port: 8080, out: join(REPO, 'out/web'), buildOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port') {
      args.port = Number(value());
      if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new Error(`--port must be 0..65535, got ${argv[i]}`);
    } else if (a === '--out') args.out = resolve(value());
    else if (a === '--build-only') args.buildOnly = true;
    else throw new Error(`unknown argument '${a}' (known: --port N, --out DIR, --build-only)`);
  }
  return args;
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`npm run web: ${(e as Error).message}`);
    process.exit(2);
  }
  const t0 = performance.now();
  const { outdir, pages, bundle } = await buildWeb(args.out);
  const sizes = pages.map((p) => `${p}.js ${(bundle.outputs[`${p}.js`]! / 1024).toFixed(0)} KiB`).join(', ');
  console.log(`built ${pages.length} pages into ${outdir} in ${(performance.now() - t0).toFixed(0)} ms (${sizes})`);
  if (args.buildOnly) return;
  const server = await serveStatic(outdir, args.port, WEB_ROUTES).catch((e: NodeJS.ErrnoException) => {
    console.error(`npm run web: cannot listen on 127.0.0.1:${args.port} (${e.code ?? e.message}); try --port 0 for any free port`);
    process.exit(1);
  });
  console.log(`playground:   ${server.url}playground.html`);
  console.log(`minimal page: ${server.url}minimal.html`);
  console.log(`benchmark:    ${server.url}bench.html?quick=1 (einattn vs ONNX Runtime Web; npm run bench:web runs it headless)`);
  if (!existsSync(join(WEB_ROUTES['/types/einattn/']!, 'src/index.d.ts')))
    console.log("note: dist/ has no declaration files, so the playground's snippet editor cannot type-check (run `npm run build`)");
  console.log('open one in a browser with WebGPU; Ctrl-C stops the server');
  process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

await main();
