/**
 * The package as users get it: `npm pack` (which builds dist/ through the `prepare` script),
 * installed from the tarball into an empty ESM project, with no TypeScript loader and no path
 * back into this repository. Plain Node imports `einattn` and runs MHA on the GPU against the
 * interpreter; the CLI runs from the installed bin; a user's TypeScript module feeds
 * `einattn generate`, whose modules run on the built runtime; a consumer's TypeScript checks
 * under `moduleResolution: nodenext` and `bundler`, and a wrong axis is still a compile error.
 * The install reads npm's local cache first (`--prefer-offline`); only the npm registry is
 * needed for what the cache lacks.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const DAWN_NOTICE = /artificially reduced/;

/** The environment without what an enclosing `npm test` exports (npm_config_*, npm_package_*), which would steer the nested npm. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))) as NodeJS.ProcessEnv;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; resolves with its exit code and output instead of throwing. */
function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<Ran> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env: ENV, timeout, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? `\n${err.message}` : '') });
    });
  });
}

function ok(r: Ran, what: string): Ran {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

const MAIN_MJS = `import { compile, interpret, mha } from 'einattn';
import { closeRuntime, getRuntime } from 'einattn/runtime';

const g = mha({ causal: true });
const dims = { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 };
const ramp = (n, salt) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + salt) * 0.5);
const q = ramp(1 * 2 * 7 * 8, 1), k = ramp(1 * 2 * 9 * 8, 2), v = ramp(1 * 2 * 9 * 8, 3);
const ref = interpret(g, { q, k, v }, dims).o.data;
const rt = await getRuntime();
const { outputs } = await compile(g).run({ q, k, v }, dims);
const got = outputs.o.data;
let maxErr = 0;
for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - ref[i]));
console.log(JSON.stringify({ n: got.length, refN: ref.length, maxErr, adapter: rt.kind, loaders: process.execArgv }));
await closeRuntime();
`;

/** a user's module, in TypeScript, for the installed CLI (run --file, generate) */
const KERNELS_TS = `import { einsum, graph, input, mha, specialize } from 'einattn';

export const mhaCausal8 = specialize(mha({ causal: true }), { d: 8, dv: 8 }, 'mha_causal_8');
export const scores = graph('scores', {
  s: einsum('b s d, b t d -> b s t', input('q', 'b s d'), input('k', 'b t d')).mul(0.5),
});
`;

/** an application on generated modules: no DSL, only the runtime */
const APP_TS = `import { closeRuntime, getRuntime } from 'einattn/runtime';
import { mha_causal_8 } from './generated/index.ts';

const runtime = await getRuntime();
const sizes = { b: 1, h: 2, s: 3, t: 5 };
const ramp = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + salt));
const r = await mha_causal_8.run(runtime, { q: ramp(2 * 3 * 8, 1), k: ramp(2 * 5 * 8, 2), v: ramp(2 * 5 * 8, 3) }, sizes);
const o = Array.from(r.outputs.o.data as ArrayLike<number>);
console.log(JSON.stringify({ shape: r.outputs.o.shape, finite: o.every(Number.isFinite) }));
await closeRuntime();
`;

/** must type-check: the DSL's axis types, every subpath, and GPU types that are not \`any\` */
const OK_TS = `import { compile, einsum, graph, input, mha, type Tensor } from 'einattn';
import { closeRuntime, type Runtime } from 'einattn/runtime';
import type { costOf } from 'einattn/cost';
import type { tune } from 'einattn/tune';
import type { runBench } from 'einattn/bench';
import type { renderAll } from 'einattn/codegen';

type IsAny<T> = 0 extends 1 & T ? true : false;
const q = input('q', 'b h s d');
const k = input('k', 'b h t d');
const scores: Tensor<['b', 'h', 's', 't']> = einsum('b h s d, b h t d -> b h s t', q, k);
export const g = graph('scores', { scores });
export const kernel = compile(mha({ causal: true }));
export const typedDevice: IsAny<Runtime['device']> = false;
export const device = (rt: Runtime): GPUDevice => rt.device;
export type Subpaths = [typeof costOf, typeof tune, typeof runBench, typeof renderAll];
export const done: () => Promise<void> = closeRuntime;
`;

/** must fail on line 5: k has axis 's' where the spec says 't' */
const BAD_TS = `import { einsum, input } from 'einattn';

const q = input('q', 'b h s d');
const k = input('k', 'b h s d');
export const wrong = einsum('b h s d, b h t d -> b h s t', q, k);
`;

const tsconfig = (module: string, moduleResolution: string) =>
  JSON.stringify({
    compilerOptions: { target: 'ES2022', module, moduleResolution, strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true },
    files: ['ok.ts', 'bad.ts', 'app.ts'],
  });

let tmp = '';
let app = '';
let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'einattn-pack-'));
  // `prepare` builds dist/ first; its output precedes the JSON on stdout
  const pack = ok(await run('npm', ['pack', '--json', '--pack-destination', tmp], ROOT, 180_000), 'npm pack');
  const json = pack.stdout.slice(pack.stdout.search(/^\[/m));
  packed = (JSON.parse(json) as (typeof packed)[])[0]!;
  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  ok(await run('npm', ['install', join(tmp, packed.filename), '--prefer-offline', '--no-audit', '--no-fund'], app, 180_000), 'npm install <tarball>');
  for (const [name, text] of Object.entries({ 'main.mjs': MAIN_MJS, 'kernels.ts': KERNELS_TS, 'app.ts': APP_TS, 'ok.ts': OK_TS, 'bad.ts': BAD_TS }))
    writeFileSync(join(app, name), text);
  writeFileSync(join(app, 'tsconfig.nodenext.json'), tsconfig('NodeNext', 'NodeNext'));
  writeFileSync(join(app, 'tsconfig.bundler.json'), tsconfig('ESNext', 'Bundler'));
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds only the built code, its types, the CLI, README and LICENSE', () => {
    const paths = packed.files.map((f) => f.path).sort();
    const allowed = /^(dist\/.+\.(js|d\.ts)|bin\/[\w-]+\.(mjs|d\.mts)|README\.md|LICENSE|package\.json)$/;
    expect(paths.filter((p) => !allowed.test(p))).toEqual([]);
    for (const p of ['LICENSE', 'README.md', 'bin/einattn.mjs', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/codegen/index.js'])
      expect(paths, p).toContain(p);
    // dist/ mirrors the sources it was built from: src/ and codegen/, nothing else
    expect([...new Set(paths.filter((p) => p.startsWith('dist/')).map((p) => p.split('/')[1]))].sort()).toEqual(['codegen', 'src']);
  });

  it('exports built JavaScript with types for every subpath', () => {
    const dir = join(app, 'node_modules/einattn');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports: Record<string, string | { types: string; default: string }> };
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
    expect(subpaths.sort()).toEqual(['.', './bench', './codegen', './cost', './runtime', './tune']);
    for (const k of subpaths) {
      const e = pkg.exports[k] as { types: string; default: string };
      expect(Object.keys(e), k).toEqual(['types', 'default']);
      expect(e.types, k).toMatch(/\.d\.ts$/);
      expect(e.default, k).toMatch(/\.js$/);
      expect(existsSync(join(dir, e.types)), e.types).toBe(true);
      expect(existsSync(join(dir, e.default)), e.default).toBe(true);
    }
    // the emitted JavaScript imports .js files: the sources' .ts specifiers were rewritten
    const index = readFileSync(join(dir, 'dist/src/index.js'), 'utf8');
    expect(index).toMatch(/from "\.\/compile\.js"/);
    expect(index).not.toMatch(/\.ts["']/);
  });
});

describe('installed into an empty ESM project', () => {
  it('plain Node imports einattn and runs MHA on the GPU, matching the interpreter', async () => {
    const r = ok(await run(process.execPath, ['main.mjs'], app), 'node main.mjs');
    const line = r.stdout.trim().split('\n').pop()!;
    const res = JSON.parse(line) as { n: number; refN: number; maxErr: number; adapter: string; loaders: string[] };
    expect(res.loaders).toEqual([]);
    expect(res.n).toBe(1 * 2 * 7 * 8);
    expect(res.refN).toBe(res.n);
    expect(res.maxErr).toBeLessThan(1e-5);
  });

  it('npx einattn list runs the installed CLI, with no npm or Dawn warning', async () => {
    const r = ok(await run('npx', ['--no-install', 'einattn', 'list'], app), 'npx einattn list');
    expect(r.stdout).toMatch(/^mha — /m);
    expect(r.stderr).not.toMatch(/npm warn/i);
    expect(r.stderr).not.toMatch(DAWN_NOTICE);
  });

  it("runs a user's TypeScript module on the GPU and generates kernel modules that run on the built runtime", async () => {
    const check = ok(
      await run('npx', ['--no-install', 'einattn', 'run', '--file', 'kernels.ts', '--export', 'scores', '--dims', 'b=1,s=3,t=5,d=4', '--check'], app),
      'einattn run --file',
    );
    expect(check.stdout).toMatch(/s: max abs err .*: ok/);
    expect(check.stderr).not.toMatch(DAWN_NOTICE);
    ok(await run('npx', ['--no-install', 'einattn', 'generate', 'kernels.ts', '--out', 'generated'], app), 'einattn generate');
    const modules = readdirSync(join(app, 'generated')).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
    expect(modules.sort()).toEqual(['mha_causal_8.ts', 'scores.ts']);
    for (const m of modules) expect(readFileSync(join(app, 'generated', m), 'utf8')).toMatch(/ from "einattn\/runtime";/);
    // the application is TypeScript: tsx (installed with einattn) runs it; 'einattn/runtime' resolves to dist/
    const tsx = join(app, 'node_modules/tsx/dist/loader.mjs');
    const r = ok(await run(process.execPath, ['--import', `file://${tsx}`, 'app.ts'], app), 'app.ts');
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ shape: [1, 2, 3, 8], finite: true });
  });

  it('bundles for the browser through its conditions: navigator.gpu, no Node built-in, no Dawn', async () => {
    // what a web app does: einattn, einattn/runtime and generated modules (previous test), bundled
    writeFileSync(
      join(app, 'web.ts'),
      `import { compile, mha } from 'einattn';\nimport { getRuntime, PagedKvCache } from 'einattn/runtime';\nimport { mha_causal_8 } from './generated/index.ts';\nconsole.log(compile, mha, getRuntime, PagedKvCache, mha_causal_8);\n`,
    );
    const bundle = (platform: 'browser' | 'node') =>
      esbuild.build({
        entryPoints: ['web.ts'],
        absWorkingDir: app,
        bundle: true,
        platform,
        format: 'esm',
        write: false,
        metafile: true,
        logLevel: 'silent',
        external: platform === 'node' ? ['webgpu', 'typescript'] : [],
      });
    const web = Object.keys((await bundle('browser')).metafile.inputs);
    expect(web).toContain('node_modules/einattn/dist/src/platform/browser.js');
    expect(
      web.filter((f) => f.startsWith('node_modules/') && !f.startsWith('node_modules/einattn/dist/src/')),
      'nothing but einattn',
    ).toEqual([]);
    expect(web.filter((f) => /platform\/(node|dawn)\.js$/.test(f))).toEqual([]);
    // the same entry for Node gets Dawn's platform
    expect(Object.keys((await bundle('node')).metafile.inputs)).toContain('node_modules/einattn/dist/src/platform/node.js');
  });

  it.each(['nodenext', 'bundler'])('type-checks under moduleResolution %s, and a wrong axis is an error there', async (mode) => {
    // app.ts imports the generated modules, so generation runs first (previous test)
    expect(existsSync(join(app, 'generated/index.ts')), 'generated/index.ts').toBe(true);
    const r = await run(process.execPath, [TSC, '-p', `tsconfig.${mode}.json`, '--pretty', 'false'], app);
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors, r.stdout).toHaveLength(1);
    expect(errors[0]).toMatch(/^bad\.ts\(5,\d+\): error TS2345: /);
    expect(r.stdout).toMatch(/Type '"s"' is not assignable to type '"t"'/);
  });
});
