// einattn bundles for the browser: an entry importing `einattn` and `einattn/runtime` goes
// through esbuild with platform=browser, and nothing of Node (no built-in, no Dawn, no
// TypeScript compiler, no dependency at all) reaches the bundle. examples/web/build.ts maps
// `#platform` to the browser platform, as package.json "imports" does for an installed
// package (test/package/pack.test.ts bundles the installed tarball the same way).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWeb, bundleForBrowser, NODE_ONLY, REPO } from '../../examples/web/build.ts';

const tmp = mkdtempSync(join(tmpdir(), 'einattn-bundle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ENTRY = `import * as einattn from 'einattn';
import * as runtime from 'einattn/runtime';
// every export is used, so none is tree-shaken away
console.log(Object.keys(einattn).length, Object.keys(runtime).length);
`;

/** Import specifiers left in a bundle: none, once everything is bundled. */
const leftImports = (js: string) =>
  [...js.matchAll(/(?:^|[;\s])(?:import|export)\s*(?:[\w*{}\s,]+from\s*)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)].map((m) => m[1] ?? m[2]);

describe('a browser bundle of the sources', () => {
  it('holds einattn and einattn/runtime with no Node built-in, no Dawn and no dependency', async () => {
    const entry = join(tmp, 'entry.ts');
    writeFileSync(entry, ENTRY);
    const { inputs, outputs } = await bundleForBrowser({ entry }, join(tmp, 'out'));
    const outside = inputs.filter((f) => !f.startsWith('src/') && !f.endsWith('entry.ts'));
    expect(outside, 'only einattn sources are bundled').toEqual([]);
    expect(inputs).toContain('src/platform/browser.ts');
    expect(inputs).toContain('src/compile.ts');
    expect(inputs).toContain('src/runtime/kv/paged.ts');
    for (const f of ['src/platform/node.ts', 'src/platform/dawn.ts']) expect(inputs).not.toContain(f);
    const js = readFileSync(join(tmp, 'out/entry.js'), 'utf8');
    expect(leftImports(js)).toEqual([]);
    expect(js).not.toMatch(/\bprocess\.(env|platform|cwd|pid)\b/);
    expect(js).not.toMatch(/\bBuffer\.(from|alloc|concat)\b/);
    expect(outputs['entry.js']).toBeGreaterThan(50_000);
  });

  it('fails naming the importer when #platform resolves to Node (the check has teeth)', async () => {
    const entry = join(tmp, 'node-entry.ts');
    writeFileSync(entry, ENTRY);
    const build = esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      write: false,
      logLevel: 'silent',
      tsconfig: join(REPO, 'tsconfig.json'), // whose paths map #platform to src/platform/node.ts
      plugins: [{ name: 'node-only', setup: (b) => b.onResolve({ filter: NODE_ONLY }, (a) => ({ errors: [{ text: `${a.path} from ${a.importer}` }] })) }],
    });
    await expect(build).rejects.toThrow(/node:fs from .*src\/platform\/node\.ts/);
  });

  it('builds every page of the web examples', async () => {
    const { pages, bundle } = await buildWeb(join(tmp, 'web'));
    expect(pages).toEqual(expect.arrayContaining(['minimal', 'playground']));
    for (const p of pages) expect(bundle.outputs[`${p}.js`], p).toBeGreaterThan(0);
    for (const f of bundle.inputs) expect(f, 'no Node platform in a page').not.toMatch(/src\/platform\/(node|dawn)\.ts$/);
  });
});
