// The real CLI on the GPU (software Vulkan here): a missing adapter fails these tests.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { interpret } from '../../src/index.ts';
import { encodeNpy, parseNpy } from '../../src/runtime/index.ts';
import { findVariant } from '../../src/variants/index.ts';
import { cli, expectOk, REPO, tempDir } from './helpers.ts';

const DIMS = { b: 1, h: 2, s: 5, t: 6, d: 4, dv: 4 };
const DIMS_FLAG = 'b=1,h=2,s=5,t=6,d=4,dv=4';
let dir = '';

function readNpyFile(path: string) {
  const b = readFileSync(path);
  return parseNpy(new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), path);
}

function ramp(n: number, phase: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + phase));
}

beforeAll(() => {
  dir = tempDir();
});

describe.concurrent('einattn list / info', () => {
  it('list shows each variant with options, inputs and dims', async () => {
    const r = await cli(['list']);
    expectOk(r);
    expect(r.stdout).toMatch(/^mha — multi-head attention/m);
    expect(r.stdout).toMatch(/--opt causal=<boolean>\s+default false/);
    expect(r.stdout).toMatch(/inputs:\s+q: f32\[b h s d\], k: f32\[b h t d\], v: f32\[b h t dv\]/);
    expect(r.stdout).toMatch(/check dims: b=1,h=2,s=7,t=9,d=8,dv=8/);
    expect(r.stdout).toMatch(/bench dims: /);
    // lowered at the bench dims, no GPU: every built-in of the first table fuses
    expect(r.stdout).toMatch(/^mha — .*\n {2}fused: {3}yes$/m);
    const json = JSON.parse((await cli(['list', '--json'])).stdout);
    expect(json[0].inputs[0]).toEqual({ name: 'q', axes: ['b', 'h', 's', 'd'], dtype: 'f32' });
    expect(json[0].fused).toBe(true);
  });

  it('info reports the adapter', async () => {
    const r = await cli(['info']);
    expectOk(r);
    expect(r.stdout).toMatch(/^adapter:\s+(hardware|software|opengles) \(/m);
    expect(r.stdout).toMatch(/maxComputeWorkgroupStorageSize/);
  });
});

describe.concurrent('einattn run', () => {
  it('--check prints the errors and passes', async () => {
    const r = await cli(['run', 'mha', '--check']);
    expectOk(r);
    expect(r.stdout).toMatch(/tolerance = 1e-5·√L·max\(1, \|ref\|max\) \+ 1e-6 with L = 9/);
    expect(r.stdout).toMatch(/o: max abs err \S+, max rel err \S+ .*allowed \S+: ok/);
    expect(r.stdout).toMatch(/^o: f32\[b=1 h=2 s=7 dv=8\]\s+mean \S+\s+abs-max \S+\s+first: /m);
  });

  it('--interp runs the interpreter', async () => {
    const r = await cli(['run', 'mha', '--interp', '--dims', DIMS_FLAG]);
    expectOk(r);
    expect(r.stdout).toMatch(/on interpreter \(float64\)/);
    expect(r.stdout).toMatch(/^o: f32\[b=1 h=2 s=5 dv=4\]/m);
  });

  it('--in/--out .npy round trip matches the interpreter', async () => {
    const n = (ax: string) => ax.split('').reduce((p, a) => p * DIMS[a as keyof typeof DIMS], 1);
    const inputs = { q: ramp(n('bhsd'), 0), k: ramp(n('bhtd'), 1), v: ramp(n('bhtd'), 2) };
    const shapes = { q: [1, 2, 5, 4], k: [1, 2, 6, 4], v: [1, 2, 6, 4] };
    for (const name of ['q', 'k', 'v'] as const)
      writeFileSync(join(dir, `rt-${name}.npy`), encodeNpy({ dtype: 'f32', shape: shapes[name], data: inputs[name] }));
    const out = join(dir, 'rt-o.npy');
    const r = await cli(['run', 'mha', '--dims', DIMS_FLAG, ...['q', 'k', 'v'].flatMap((x) => ['--in', `${x}=${join(dir, `rt-${x}.npy`)}`]), '--out', out]);
    expectOk(r);
    const o = readNpyFile(out);
    expect(o.dtype).toBe('f32');
    expect(o.shape).toEqual([1, 2, 5, 4]);
    const ref = interpret(findVariant('mha')!.build({}), inputs, DIMS).o!;
    let maxErr = 0;
    for (let i = 0; i < ref.data.length; i++) maxErr = Math.max(maxErr, Math.abs(o.data[i]! - ref.data[i]!));
    expect(maxErr).toBeLessThan(1e-5); // f32, reductions of length <= 6
  });

  it('--opt causal=true changes the output', async () => {
    const plain = join(dir, 'plain.npy');
    const causal = join(dir, 'causal.npy');
    expectOk(await cli(['run', 'mha', '--interp', '--quiet', '--out', plain]));
    const r = await cli(['run', 'mha', '--interp', '--opt', 'causal=true', '--out', `o=${causal}`]);
    expectOk(r);
    expect(r.stdout).toMatch(/mha \(causal=true\)/);
    const a = readNpyFile(plain).data;
    const b = readNpyFile(causal).data;
    expect(Array.from(a)).not.toEqual(Array.from(b));
    // s=7 < t=9 aligns the mask to the end: the last query row sees every key, so it is unchanged
    const last = (x: ArrayLike<number>) => Array.from(x).slice(6 * 8, 7 * 8);
    expect(last(b)).toEqual(last(a));
  });

  it('--file runs a user module (a graph or a function of the --opt values)', async () => {
    const src = JSON.stringify(join(REPO, 'src', 'index.ts'));
    const path = join(dir, 'user-graph.ts');
    writeFileSync(
      path,
      `import { einsum, graph, input } from ${src};
export function scaled(o: { scale?: number }) {
  const q = input('q', 'b s d');
  const k = input('k', 'b t d');
  return graph('scaled_dot', { o: einsum('b s d, b t d -> b s t', q, k).mul(o.scale ?? 1) });
}
`,
    );
    const r = await cli(['run', '--file', path, '--export', 'scaled', '--opt', 'scale=0.5', '--dims', 'b=2,s=3,t=5,d=4', '--check']);
    expectOk(r);
    expect(r.stdout).toMatch(/user-graph\.ts#scaled/);
    expect(r.stdout).toMatch(/^o: f32\[b=2 s=3 t=5\]/m);
    expect(r.stdout).toMatch(/o: max abs err .*: ok/);
  });

  it('--explain lists the kernels and --wgsl writes them', async () => {
    const wgsl = join(dir, 'wgsl');
    const r = await cli(['run', 'mha', '--explain', '--wgsl', wgsl, '--quiet']);
    expectOk(r);
    expect(r.stdout).toMatch(/plan 'mha': \d+ kernels?/);
    const kernels = [...r.stdout.matchAll(/kernel \d+ (\w+):/g)].map((m) => m[1]!);
    expect(kernels.length).toBeGreaterThan(0);
    for (const k of kernels) expect(readFileSync(join(wgsl, `${k}.wgsl`), 'utf8')).toMatch(/@compute/);
  });

  it('--explain and --wgsl show the plan the run uses at its sizes (decode: split-KV kernels), not the generic one', async () => {
    const wgsl = join(dir, 'wgsl-decode');
    const r = await cli(['run', 'gqa', '--dims', 'b=1,h=8,g=2,s=1,t=2048,d=64,dv=64', '--explain', '--wgsl', wgsl, '--dry-run']);
    expectOk(r);
    expect(r.stdout).toMatch(/kernel 1 gqa_0_flash_partial:/);
    expect(r.stdout).toMatch(/schedule: .*invocations per row tile/);
    const partial = readFileSync(join(wgsl, 'gqa_0_flash_partial.wgsl'), 'utf8');
    expect(partial).toMatch(/_lsepart/);
    expect(readFileSync(join(wgsl, 'gqa_0_flash_merge.wgsl'), 'utf8')).toMatch(/@compute/);
  });

  it('--explain says why a softmax · V contraction was not fused; --require-fused fails with that reason', async () => {
    const src = JSON.stringify(join(REPO, 'src', 'index.ts'));
    const path = join(dir, 'probs-graph.ts');
    writeFileSync(
      path,
      `import { einsum, graph, input, softmax } from ${src};
const p = softmax(einsum('b s d, b t d -> b s t', input('q', 'b s d'), input('k', 'b t d')), 't');
export default graph('probs_out', { o: einsum('b s t, b t dv -> b s dv', p, input('v', 'b t dv')), p });
`,
    );
    const dims = ['--dims', 'b=1,s=3,t=5,d=4,dv=4'];
    const r = await cli(['run', '--file', path, ...dims, '--explain', '--dry-run']);
    expectOk(r);
    expect(r.stdout).toMatch(
      /not fused:\n {4}temporary _einsum0: f32\[b s t\] holds query axis s and key axis t:\n {6}einsum\('b s t, b t dv -> b s dv', p, v\): the softmax is also used elsewhere/,
    );
    const req = await cli(['run', '--file', path, ...dims, '--require-fused', '--dry-run']);
    expect(req.code).toBe(1);
    expect(req.errLines).toEqual([
      expect.stringMatching(
        /^einattn: graph 'probs_out' is not fully fused \(fused: 'require'\): temporary _einsum0\[b s t\] holds query axis s and key axis t \(.*the softmax is also used elsewhere/,
      ),
    ]);
    expectOk(await cli(['run', 'gqa', '--require-fused', '--dry-run']));
  });

  it('--repeat 3 prints a median', async () => {
    const r = await cli(['run', 'mha', '--repeat', '3', '--quiet']);
    expectOk(r);
    expect(r.stdout).toMatch(/1 warm-up \+ 3 runs, kernel time .*: median \d+(\.\d+)? ms \(min \S+ ms, max \S+ ms\)/);
  });
});
