/**
 * Browser bundles of einattn's sources with esbuild: the playground and the minimal consumer
 * page (and the web benchmark page). In this repository `einattn` resolves to the sources
 * through tsconfig.json "paths"; the one Node-or-browser choice, `#platform`, is mapped here
 * to `src/platform/browser.ts`, as package.json "imports" does for an installed package under
 * the bundler's `browser` condition. Anything Node-only that still reaches the bundle is an
 * error naming its importer.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const WEB_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(WEB_DIR, '../..');
export const PAGE_DIR = join(WEB_DIR, 'page');
/** ONNX Runtime Web's files, served at `ort/` beside the pages for the bench page. */
export const ORT_DIR = join(REPO, 'node_modules/onnxruntime-web/dist');

/**
 * Folders served beside the built pages (URL prefix → folder), loaded by the pages at run time
 * rather than bundled: ONNX Runtime Web for the bench page; for the playground's snippet editor,
 * the TypeScript compiler (`typescript.js` and the `lib.*.d.ts` files), einattn's declaration
 * files (dist/, built by `npm run build`) and the WebGPU types they reference.
 */
export const WEB_ROUTES: Record<string, string> = {
  '/ort/': ORT_DIR,
  '/typescript/': join(REPO, 'node_modules/typescript/lib'),
  '/types/einattn/': join(REPO, 'dist'),
  '/types/webgpu/': join(REPO, 'node_modules/@webgpu/types'),
};

/** Imports that must never reach a browser bundle: Node built-ins, Dawn, the TypeScript compiler. */
export const NODE_ONLY = /^(node:.*|webgpu|typescript|fs|path|url|os|zlib|util|module|child_process|worker_threads|crypto)(\/.*)?$/;

/**
 * esbuild plugin: `#platform` → the browser platform, and a build error for any Node-only import.
 * @example await esbuild.build({ ..., plugins: [browserSources()] })
 */
export function browserSources(): esbuild.Plugin {
  return {
    name: 'einattn-browser-sources',
    setup(build) {
      build.onResolve({ filter: /^#platform$/ }, () => ({ path: join(REPO, 'src/platform/browser.ts') }));
      // src/bench/ort.ts loads onnxruntime-node lazily, for the Node bench; the bench page reuses
      // its ONNX problems and runs onnxruntime-web instead, so that loader is never called there
      build.onResolve({ filter: /^onnxruntime-node$/ }, () => ({ path: 'onnxruntime-node', namespace: 'einattn-node-only' }));
      build.onLoad({ filter: /.*/, namespace: 'einattn-node-only' }, () => ({
        contents: 'throw new Error("onnxruntime-node runs under Node only");',
        loader: 'js',
      }));
      build.onResolve({ filter: NODE_ONLY }, (args) => ({
        errors: [{ text: `'${args.path}' (imported by ${args.importer.replace(REPO + '/', '')}) must not reach a browser bundle` }],
      }));
    },
  };
}

/** What {@link bundleForBrowser} made. */
export interface Bundle {
  metafile: esbuild.Metafile;
  /** bundled source files, relative to the repository */
  inputs: string[];
  /** output bytes per file name */
  outputs: Record<string, number>;
}

/**
 * Bundles `entryPoints` (name → source file) for the browser into `outdir` as ES modules.
 * @example await bundleForBrowser({ minimal: 'examples/web/page/minimal.ts' }, 'out/web')
 */
export async function bundleForBrowser(entryPoints: Record<string, string>, outdir: string, opts: { minify?: boolean } = {}): Promise<Bundle> {
  const result = await esbuild.build({
    entryPoints,
    outdir,
    absWorkingDir: REPO,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: 'linked',
    minify: opts.minify ?? false,
    tsconfig: join(REPO, 'tsconfig.json'),
    metafile: true,
    logLevel: 'silent',
    plugins: [browserSources()],
  });
  const outputs: Record<string, number> = {};
  for (const [file, o] of Object.entries(result.metafile.outputs)) if (file.endsWith('.js')) outputs[file.split('/').pop()!] = o.bytes;
  return { metafile: result.metafile, inputs: Object.keys(result.metafile.inputs), outputs };
}

/** The pages of examples/web/page: each `<name>.html` with its `<name>.ts`. */
export function pageNames(): string[] {
  return readdirSync(PAGE_DIR)
    .filter((f) => f.endsWith('.html'))
    .map((f) => f.slice(0, -'.html'.length))
    .sort();
}

/**
 * Builds every page into `outdir`: `<name>.html` beside its bundled `<name>.js`.
 * @example const { pages } = await buildWeb(join(REPO, 'out/web'))
 */
export async function buildWeb(outdir = join(REPO, 'out/web')): Promise<{ outdir: string; pages: string[]; bundle: Bundle }> {
  mkdirSync(outdir, { recursive: true });
  const pages = pageNames();
  const bundle = await bundleForBrowser(Object.fromEntries(pages.map((p) => [p, join(PAGE_DIR, `${p}.ts`)])), outdir);
  for (const p of pages) copyFileSync(join(PAGE_DIR, `${p}.html`), join(outdir, `${p}.html`));
  return { outdir, pages, bundle };
}
