/**
 * Adapters without shader-f16: a real device created without the feature (the adapter has
 * it, the device does not: WGSL with `enable f16;` does not compile there), and the OpenGL
 * ES adapter, which never has it. f16 graphs fail with an error naming the feature, or run
 * in f32 when the caller asks for `f16Fallback: 'f32'`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, einsum, graph, index, input, interpret, size, type Graph } from '../../src/index.ts';
import { closeRuntime, getRuntime, type Runtime } from '../../src/runtime/index.ts';
import { mha } from '../../src/variants/index.ts';
import { randn, rng } from '../variants/reference.ts';
import { ETA16, gqaBounds, U16 } from './bounds.ts';
import { expectWithin, roundF16, SMALL, rejects } from './check.ts';

let full: Runtime;
let noF16: Runtime;
beforeAll(async () => {
  full = await getRuntime();
  noF16 = await getRuntime({ withoutFeatures: ['shader-f16'] });
});
afterAll(closeRuntime);

const dims = { b: 1, h: 2, s: 9, t: 13, d: 16, dv: 8 };
const count = (axes: string) => axes.split(' ').reduce((p, a) => p * dims[a as keyof typeof dims], 1);

/** MHA whose q, k, v and o are f16 (storage). */
function mha16(): Graph {
  const q = input('q', 'b h s d', 'f16');
  const k = input('k', 'b h t d', 'f16');
  const v = input('v', 'b h t dv', 'f16');
  const mask = index('t').le(index('s').add(size('t').sub(size('s'))));
  const p = einsum('b h s d, b h t d -> b h s t', q, k).mul(size('d').rsqrt().cast('f16')).softmax('t', { mask });
  return graph('mha16', { o: einsum('b h s t, b h t dv -> b h s dv', p, v) });
}

function inputs() {
  const r = rng(5);
  return { q: randn(r, count('b h s d')), k: randn(r, count('b h t d')), v: randn(r, count('b h t dv')) };
}

describe('a device created without shader-f16', () => {
  test('really lacks it: the adapter has the feature, the device does not, and `enable f16;` does not compile', async () => {
    expect(full.adapter!.features.has('shader-f16'), 'this test needs an adapter with shader-f16 to take it away').toBe(true);
    expect(noF16.features.has('shader-f16')).toBe(false);
    expect(noF16.device.features.has('shader-f16')).toBe(false);
    expect(noF16.device).not.toBe(full.device);
    const module = noF16.device.createShaderModule({ code: 'enable f16;\n@compute @workgroup_size(1) fn main() { let x: f16 = 1.0h; }' });
    const info = await module.getCompilationInfo();
    expect(info.messages.some((m) => m.type === 'error')).toBe(true);
  });

  test("compute: 'f16' and f16 storage fail with DTYPE, naming the feature, the cause and the fallback", async () => {
    const e1 = await rejects(compile(mha({ causal: true }), { compute: 'f16', ...SMALL }).run(inputs(), dims, { runtime: noF16 }));
    expect(e1.code).toBe('DTYPE');
    expect(e1.message).toContain("graph 'mha_causal' needs the WebGPU feature 'shader-f16' (for compute: 'f16')");
    expect(e1.message).toContain("compile(graph, { f16Fallback: 'f32' })");
    const e2 = await rejects(compile(mha16(), SMALL).run(inputs(), dims, { runtime: noF16 }));
    expect(e2.message).toContain("'shader-f16' (for f16 tensors q, k, v, o)");
  });

  test("f16Fallback: 'f32' runs f16 compute as f32: the same result as the f32 graph on the full device", async () => {
    const x = inputs();
    const fb = await compile(mha({ causal: true }), { compute: 'f16', f16Fallback: 'f32', ...SMALL }).run(x, dims, { runtime: noF16 });
    expect(fb.f32Fallback).toBe(true);
    const f32 = await compile(mha({ causal: true }), SMALL).run(x, dims, { runtime: full });
    expect(f32.f32Fallback).toBeUndefined();
    expect(Array.from(fb.outputs.o!.data)).toEqual(Array.from(f32.outputs.o!.data));
  });

  test("f16Fallback: 'f32' runs f16 storage with f32 buffers, inputs and outputs rounded to f16 on the host", async () => {
    const x = inputs();
    const c = compile(mha16(), { f16Fallback: 'f32', ...SMALL });
    const fb = await c.run(x, dims, { runtime: noF16 });
    expect(fb.f32Fallback).toBe(true);
    expect(c.plan.buffers.some((b) => b.dtype === 'f16')).toBe(false);
    expect(c.plan.kernels.every((k) => !k.wgsl.includes('enable f16'))).toBe(true);
    const o = fb.outputs.o!.data;
    expect(Array.from(roundF16(o))).toEqual(Array.from(o)); // outputs are f16 values
    // the f16 path on the full device: the same f16 inputs, the same f32 math, so the same f16 outputs
    const native = await compile(mha16(), SMALL).run(x, dims, { runtime: full });
    expect(native.f32Fallback).toBeUndefined();
    expect(Array.from(o)).toEqual(Array.from(native.outputs.o!.data));
    // and within the f16-storage bound of the float64 result on the original values
    const want = interpret(mha({ causal: true }), x, dims).o!.data;
    const bound = gqaBounds({ ...dims, g: dims.h }, x, { qkRoundings: 2, pvRoundings: 1 }).map((b, i) => b + U16 * (Math.abs(want[i]!) + b) + ETA16);
    expectWithin(o, want, bound, 16, 'fallback f16 storage');
  });

  test("storage: 'f16' on a device without the feature: the error names the tensors; the fallback rounds them on the host", async () => {
    const x = inputs();
    const e = await rejects(compile(mha({ causal: true }), { storage: 'f16', ...SMALL }).run(x, dims, { runtime: noF16 }));
    expect(e.message).toContain("'shader-f16' (for f16 tensors q, k, v, o)");
    const fb = await compile(mha({ causal: true }), { storage: 'f16', f16Fallback: 'f32', ...SMALL }).run(x, dims, { runtime: noF16 });
    const native = await compile(mha({ causal: true }), { storage: 'f16', ...SMALL }).run(x, dims, { runtime: full });
    expect(fb.f32Fallback).toBe(true);
    expect(Array.from(fb.outputs.o!.data)).toEqual(Array.from(native.outputs.o!.data));
  });

  test('f16 inputs given as Uint16Array bits are widened on the host for the fallback', async () => {
    const x = inputs();
    const { f32ArrayToF16 } = await import('../../src/runtime/index.ts');
    const bits = { q: f32ArrayToF16(x.q), k: f32ArrayToF16(x.k), v: f32ArrayToF16(x.v) };
    const a = await compile(mha16(), { f16Fallback: 'f32', ...SMALL }).run(bits, dims, { runtime: noF16 });
    const b = await compile(mha16(), { f16Fallback: 'f32', ...SMALL }).run(x, dims, { runtime: noF16 });
    expect(Array.from(a.outputs.o!.data)).toEqual(Array.from(b.outputs.o!.data));
  });

  test('the fallback is only taken where needed: on a device with shader-f16 the f16 kernels run', async () => {
    const c = compile(mha({ causal: true }), { compute: 'f16', f16Fallback: 'f32', ...SMALL });
    const r = await c.run(inputs(), dims, { runtime: full });
    expect(r.f32Fallback).toBeUndefined();
    expect(c.plan.kernels.some((k) => k.features?.includes('shader-f16'))).toBe(true);
  });

  test('bad option values are USAGE errors', () => {
    expect(() => compile(mha(), { f16Fallback: 'f64' as never })).toThrow("compile: f16Fallback must be 'error' or 'f32', got \"f64\"");
    expect(() => compile(mha(), { compute: 'bf16' as never })).toThrow("lower: compute must be 'f32' or 'f16', got \"bf16\"");
  });
});

describe('the OpenGL ES adapter (no shader-f16 at all)', () => {
  // a small contraction: Mesa's GL compiler takes a minute over the flash kernel
  test("f16 storage with f16 compute runs there with f16Fallback: 'f32', and fails clearly without it", async () => {
    const gles = await getRuntime({ adapter: 'opengles' });
    expect(gles.kind).toBe('opengles');
    expect(gles.adapter!.features.has('shader-f16')).toBe(false);
    const g = graph('mm16', { c: einsum('i k, k j -> i j', input('a', 'i k', 'f16'), input('b', 'k j', 'f16')) });
    const md = { i: 5, k: 40, j: 3 };
    const r = rng(2);
    const x = { a: randn(r, 200), b: randn(r, 120) };
    const e = await rejects(compile(g, { compute: 'f16' }).run(x, md, { runtime: gles }));
    expect(e.message).toContain("'shader-f16' (for f16 tensors a, b, c and compute: 'f16'), which the opengles adapter");
    const fb = await compile(g, { compute: 'f16', f16Fallback: 'f32' }).run(x, md, { runtime: gles });
    expect(fb.f32Fallback).toBe(true);
    const native = await compile(g).run(x, md, { runtime: full }); // f16 storage, f32 math: what the fallback computes
    const got = fb.outputs.c!.data;
    const want = native.outputs.c!.data;
    // another driver: the f32 sums may differ in the last bits, then round to f16 one f16 ulp apart
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2 * U16 * Math.abs(want[i]!) + 2 * ETA16);
  });
});
