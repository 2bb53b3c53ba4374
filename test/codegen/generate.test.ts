/** Build-time generation: typed modules that import only the runtime, deterministic output, clear errors. */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Project } from 'ts-morph';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { builtinEntries, checkAll, collectModule, renderAll, writeAll } from '../../codegen/index.ts';
import { compile } from '../../src/compile.ts';
import { specialize } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { mha } from '../../src/variants/index.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const cli = (args: string[]) =>
  run('node', [join(ROOT, 'bin/einattn.mjs'), ...args], { cwd: ROOT }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('generated modules', () => {
  const result = renderAll([...builtinEntries(), { graph: specialize(mha(), { d: 16, dv: 8 }, 'mha16'), source: 'test#mha16' }]);

  test('import only the runtime', () => {
    const project = new Project({ useInMemoryFileSystem: true });
    for (const [name, text] of result.files) {
      if (!name.endsWith('.ts')) continue;
      const imports = project
        .createSourceFile(name, text, { overwrite: true })
        .getImportDeclarations()
        .map((d) => d.getModuleSpecifierValue());
      const exports = project
        .getSourceFileOrThrow(name)
        .getExportDeclarations()
        .map((d) => d.getModuleSpecifierValue() ?? '');
      for (const spec of [...imports, ...exports]) expect(spec, `${name} imports ${spec}`).toMatch(/^(einattn\/runtime|\.\/[A-Za-z0-9_]+\.ts)$/);
    }
  });

  test('are deterministic and carry WGSL, plan, typed inputs and sizes', () => {
    const again = renderAll([...builtinEntries(), { graph: specialize(mha(), { d: 16, dv: 8 }, 'mha16'), source: 'test#mha16' }]);
    expect([...again.files]).toEqual([...result.files]);
    const text = result.files.get('mha16.ts')!;
    expect(text).toContain('export interface Inputs');
    expect(text).toMatch(/q: Float32Array \| DeviceTensor;[\s\S]*k: Float32Array \| DeviceTensor;[\s\S]*v: Float32Array \| DeviceTensor;/);
    expect(text).toMatch(
      /export async function dispatch\(runtime: Runtime, inputs: Inputs, sizes: Sizes, opts: \{ into\?: Partial<Tensors>; session\?: Session; timing\?: boolean \}/,
    );
    expect(text).toMatch(/export interface Sizes \{\s*b: number;\s*h: number;\s*s: number;\s*t: number;\s*\}/);
    expect(text).toContain('export const staticSizes = { "d": 16, "dv": 8 } as const;');
    const kernels = (text.match(/^export const \w+_wgsl = /gm) ?? []).length;
    expect(kernels).toBeGreaterThan(0);
    expect([...result.files.keys()].filter((f) => f.startsWith('mha16.') && f.endsWith('.wgsl'))).toHaveLength(kernels);
  });

  test('every built-in variant generates in well under a few seconds', () => {
    expect(result.ms).toBeLessThan(3000); // a budget for a 2-core CI machine, not a speed claim
  });
});

describe('check mode and errors', () => {
  test('the checked-in example output is current, and --check names stale files', async () => {
    const ok = await cli(['generate', 'examples/app/kernels.ts', '--out', 'examples/app/generated', '--check']);
    expect(ok.code, ok.stderr).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'einattn-gen-'));
    cpSync(join(ROOT, 'examples/app/generated'), dir, { recursive: true });
    writeFileSync(join(dir, 'scores.ts'), readFileSync(join(dir, 'scores.ts'), 'utf8') + '\n// edited\n');
    const bad = await cli(['generate', 'examples/app/kernels.ts', '--out', dir, '--check']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/out of date \(stale scores\.ts\)/);
  });

  test('writeAll removes generated files that are no longer produced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'einattn-gen-'));
    const entries = await collectModule('examples/app/kernels.ts', ROOT);
    writeAll(renderAll(entries), dir);
    writeAll(renderAll(entries.filter((e) => e.graph.name === 'scores')), dir);
    expect(checkAll(renderAll(entries.filter((e) => e.graph.name === 'scores')), dir)).toEqual({ stale: [], missing: [], extra: [] });
  });

  test('a module with a syntax error, or without graphs, is named in the error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'einattn-gen-'));
    writeFileSync(join(dir, 'broken.ts'), 'export const g = ;\n');
    writeFileSync(join(dir, 'empty.ts'), 'export const answer = 42;\n');
    await expect(collectModule(join(dir, 'broken.ts'))).rejects.toThrow(/broken\.ts could not be loaded/);
    await expect(collectModule(join(dir, 'empty.ts'))).rejects.toThrow(/empty\.ts exports no graph or variant \(exports: answer\)/);
    const r = await cli(['generate', join(dir, 'empty.ts'), '--out', dir]);
    expect(r.code).toBe(2);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('einattn:')),
    ).toHaveLength(1);
  });

  test('two graphs with one name are an error naming both sources', () => {
    expect(() =>
      renderAll([
        { graph: mha(), source: 'a.ts#x' },
        { graph: mha(), source: 'b.ts#y' },
      ]),
    ).toThrow(/b\.ts#y and a\.ts#x both define a graph named 'mha'/);
  });
});

describe('a generated launcher on the GPU', () => {
  beforeAll(async () => {
    await getRuntime(); // no adapter → fail with the reason
  });
  afterAll(closeRuntime);

  test('equals compile().run of the same graph', async () => {
    const mod = await import('../../examples/app/generated/mha_causal_64.ts');
    const sizes = { b: 1, h: 2, s: 5, t: 7 };
    const fill = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + salt));
    const inputs = { q: fill(2 * 5 * 64, 1), k: fill(2 * 7 * 64, 2), v: fill(2 * 7 * 64, 3) };
    const rt = await getRuntime();
    const got = await mod.run(rt, inputs, sizes);
    const want = await compile(mha({ causal: true })).run(inputs, { ...sizes, d: 64, dv: 64 });
    // the same math; the schedules may differ (head dims baked in or not), so compare to f32 rounding
    const a = got.outputs.o.data as Float32Array;
    expect(a.length).toBe(want.outputs.o!.data.length);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - want.outputs.o!.data[i]!)).toBeLessThan(1e-5);
    await expect(mod.run(rt, inputs, { ...sizes, d: 32 } as never)).rejects.toThrow(/d/);
  });
});

test('the consumer app runs MHA, GQA, MLA-decode and paged-decode kernels generated at build time', async () => {
  const r = await run('node', ['--import', 'tsx', join(ROOT, 'examples/app/main.ts')], { cwd: ROOT }).then(
    (x) => ({ code: 0, ...x }),
    (e) => e,
  );
  expect(r.code, r.stderr).toBe(0);
  for (const name of ['mha_causal_64', 'gqa_64', 'mla_decode', 'paged_decode', 'scores']) expect(r.stdout).toContain(`${name}:`);
  expect(r.stdout).toMatch(/paged_decode: +o 2×8×1×64/);
  // the decode kernels read caches that live on the device, appended in the same submission
  expect(r.stdout).toMatch(/mla_decode: +o 2×16×1×128 on the device, kv_len 40, 17/);
  expect(r.stdout).toMatch(/tables 0 1 2 3 4 -1/);
});
