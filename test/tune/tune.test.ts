/**
 * The autotuner: buckets and keys, a real (short) search whose winner is cached by
 * adapter and used by compile, run and generate.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { interpret } from '../../src/interp/index.ts';
import { adapterId, closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { graphKey, lookupTuned, sampleInputs, searchAxes, shapeBucket, tune, tunedOptions } from '../../src/tune/index.ts';
import { gqa, mha } from '../../src/variants/index.ts';
import { cli } from '../cli/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'einattn-tune-'));
const cache = join(dir, 'tuned.json');
process.env.EINATTN_TUNE_CACHE = cache;
afterAll(() => closeRuntime());

test('shape buckets round every size up to a power of two; graph keys change with the graph', () => {
  expect(shapeBucket({ t: 1000, s: 1, d: 80 })).toBe('d=128,s=1,t=1024');
  expect(shapeBucket({ t: 1024 })).toBe(shapeBucket({ t: 513 }));
  expect(graphKey(mha())).toBe(graphKey(mha()));
  expect(graphKey(mha())).not.toBe(graphKey(mha({ causal: true })));
});

test('decode shapes search split counts; prefill shapes do not; subgroups only where the device has them', () => {
  expect(searchAxes({ s: 1, t: 4096 }, { subgroups: true }).map((a) => a.name)).toEqual(['split', 'lanes', 'subgroups', 'rows', 'kvTile', 'qkBlock', 'shared']);
  expect(searchAxes({ s: 512, t: 512 }, { subgroups: true }).map((a) => a.name)).not.toContain('split');
  expect(searchAxes({ s: 1, t: 4096 }, { subgroups: false }).map((a) => a.name)).not.toContain('subgroups');
});

describe('a short tuning run', () => {
  const g = gqa();
  const dims = { b: 1, h: 4, g: 2, s: 1, t: 200, d: 16, dv: 16 };

  test('times candidates within the budget, caches the winner by adapter, and the winner is correct', async () => {
    const rt = await getRuntime();
    const lines: string[] = [];
    const entry = await tune(g, dims, { runtime: rt, budgetSeconds: 10, runs: 1, progress: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/default .*: [\d.]+ ms/);
    expect(lines.at(-1)).toMatch(/→ .* after \d+ candidates in [\d.]+ s/);
    expect(entry.candidates).toBeGreaterThan(1);
    expect(entry.ms).toBeLessThanOrEqual(entry.defaultMs);
    // the effective schedule is stored: every knob the kernel ran with
    expect(Object.keys(entry.config.flash)).toEqual(expect.arrayContaining(['rows', 'kvLanes', 'workgroup', 'dvChunk']));
    expect(lookupTuned(adapterId(rt), g, { ...dims, t: 150 })).toEqual(entry); // same bucket
    expect(lookupTuned(adapterId(rt), g, { ...dims, t: 300 })).toBeUndefined();
    expect(lookupTuned('another adapter', g, dims)).toBeUndefined();
    const tuned = tunedOptions(g, dims, rt)!;
    expect(tuned.source).toMatch(/^tuned .* vs default/);
    const inputs = Object.fromEntries(Object.entries(sampleInputs(g, dims)).map(([k, v]) => [k, v.data]));
    const got = (await compile(g, tuned.options).run(inputs, dims)).outputs.o!.data;
    const ref = interpret(g, inputs, dims).o!.data;
    expect(Array.from(got).reduce((m, x, i) => Math.max(m, Math.abs(x - ref[i]!)), 0)).toBeLessThan(1e-5);
  });

  test('einattn run and einattn generate --tuned use the cached schedule', async () => {
    const r = await cli(['run', 'gqa', '--dims', 'b=1,h=4,g=2,s=1,t=180,d=16,dv=16', '--check'], { env: { EINATTN_TUNE_CACHE: cache } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/schedule: tuned .* at b=1,h=4,g=2,s=1,t=200,d=16,dv=16/);
    const module = join(dir, 'graphs.ts');
    writeFileSync(module, `import { gqa } from '${join(process.cwd(), 'src/variants/index.ts')}';\nexport const g = gqa();\n`);
    const out = join(dir, 'gen');
    const gen = await cli(['generate', module, '--out', out, '--tuned'], { env: { EINATTN_TUNE_CACHE: cache } });
    expect(gen.code).toBe(0);
    expect(readFileSync(join(out, 'gqa.ts'), 'utf8')).toMatch(/\/\/ schedule: tuned .*"kvLanes":\d+/);
  });

  test('a corrupt cache file is a miss, not a crash', async () => {
    writeFileSync(cache, '{ not json');
    expect(lookupTuned(adapterId(await getRuntime()), g, dims)).toBeUndefined();
  });
});
