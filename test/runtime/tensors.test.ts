/**
 * Device tensors and sessions on the adapter this machine has: runs whose inputs and
 * outputs stay on the GPU move no data (the runtime's byte counters say so), outputs go
 * into the caller's tensors, user buffers and user devices work, bad tensors are refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, interpret, mha } from '../../src/index.ts';
import {
  closeRuntime,
  DeviceTensor,
  getRuntime,
  runtimeStats,
  Session,
  TENSOR_USAGE,
  upload,
  wrapBuffer,
  zeros,
  type Runtime,
} from '../../src/runtime/index.ts';
import { randn, rng } from '../variants/reference.ts';
import { rejects } from '../rejects.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

const dims = { b: 1, h: 2, s: 5, t: 7, d: 8, dv: 8 };
const host = () => {
  const r = rng(3);
  return { q: randn(r, 2 * 5 * 8), k: randn(r, 2 * 7 * 8), v: randn(r, 2 * 7 * 8) };
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('device tensors', () => {
  test('upload, read and write round-trip every dtype, counted by the byte counters', async () => {
    const before = runtimeStats(rt).transfers;
    const f = upload(rt, Float32Array.from([1.5, -2, 3]), 'x', { x: 3 });
    const i8 = upload(rt, Int8Array.from([-128, 5, 127, 0, -1]), 'x', { x: 5 });
    const h = upload(rt, Uint16Array.from([0x3c00, 0xc000, 0x7bff]), 'x', { x: 3 });
    expect(Array.from(await f.read())).toEqual([1.5, -2, 3]);
    expect(Array.from(await i8.read())).toEqual([-128, 5, 127, 0, -1]);
    expect(Array.from(await h.read())).toEqual([0x3c00, 0xc000, 0x7bff]);
    f.write(Float32Array.from([7, 8, 9]));
    expect(Array.from(await f.read())).toEqual([7, 8, 9]);
    const after = runtimeStats(rt).transfers;
    expect(after.bytesUploaded - before.bytesUploaded).toBe(12 + 5 + 6 + 12);
    expect(after.bytesReadBack - before.bytesReadBack).toBe(12 + 5 + 6 + 12);
    expect(Array.from(await zeros(rt, 'i32', 'a b', { a: 2, b: 2 }).read())).toEqual([0, 0, 0, 0]);
    for (const t of [f, i8, h]) t.destroy();
  });

  test('a run with every input and output on the device makes no host copies, and matches the host path', async () => {
    const { q, k, v } = host();
    const c = compile(mha({ causal: true }));
    const ref = (await c.run({ q, k, v }, dims)).outputs.o!.data;
    const tq = upload(rt, q, 'b h s d', dims, 'q');
    const tk = upload(rt, k, 'b h t d', dims, 'k');
    const tv = upload(rt, v, 'b h t dv', dims, 'v');
    const o = zeros(rt, 'f32', 'b h s dv', dims, 'o');
    const before = runtimeStats(rt).transfers;
    const r = await c.run({ q: tq, k: tk, v: tv }, dims, { into: { o } });
    const mid = runtimeStats(rt).transfers;
    expect(mid.bytesUploaded).toBe(before.bytesUploaded);
    expect(mid.bytesReadBack).toBe(before.bytesReadBack);
    expect(mid.uploads).toBe(before.uploads);
    expect(mid.readbacks).toBe(before.readbacks);
    expect(r.outputs).toEqual({});
    expect(r.tensors.o).toBe(o);
    expect(maxDiff(await o.read(), ref)).toBe(0);
    // outputs: 'device' makes a new tensor per run
    const r2 = await c.run({ q: tq, k: tk, v: tv }, dims, { outputs: 'device' });
    expect(r2.tensors.o).toBeInstanceOf(DeviceTensor);
    expect(r2.tensors.o!.shape).toEqual([1, 2, 5, 8]);
    expect(maxDiff(await r2.tensors.o!.read(), ref)).toBe(0);
    // mixing host arrays and device tensors
    const r3 = await c.run({ q, k: tk, v: tv }, dims);
    expect(maxDiff(r3.outputs.o!.data, ref)).toBe(0);
  });

  test('chains of runs in one session: the output of one is the input of the next, one submission', async () => {
    const { q, k, v } = host();
    const c = compile(mha());
    const d2 = { ...dims, s: 5, t: 5 };
    const want1 = interpret(mha(), { q, k: q, v: q }, d2).o!.data;
    const want2 = interpret(mha(), { q: want1, k: want1, v: want1 }, d2).o!.data;
    const x = upload(rt, q, 'b h s d', d2);
    const s = new Session(rt, { timing: true, label: 'chain' });
    const a = (await c.run({ q: x, k: x, v: x }, d2, { session: s })).tensors.o!;
    const b = (await c.run({ q: a, k: a, v: a }, d2, { session: s })).tensors.o!;
    const res = await s.submit();
    expect(res.passes.length).toBe(2 * c.planFor(d2).kernels.length);
    expect(res.kernelMs!.length).toBe(res.passes.length);
    expect(maxDiff(await b.read(), want2)).toBeLessThan(1e-5);
    await rejects(() => c.run({ q: x, k: x, v: x }, d2, { session: s })).then((e) => expect(e.message).toMatch(/already submitted/));
    void k;
    void v;
  });

  test('a buffer the caller owns, and a device the caller created', async () => {
    const { q, k, v } = host();
    const ref = interpret(mha(), { q, k, v }, dims).o!.data;
    const own = rt.device.createBuffer({ size: q.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    rt.device.queue.writeBuffer(own, 0, q);
    const tq = wrapBuffer(rt, own, 'f32', 'b h s d', dims, 'q');
    const got = (await compile(mha()).run({ q: tq, k, v }, dims)).outputs.o!.data;
    expect(maxDiff(got, ref)).toBeLessThan(1e-5);
    tq.destroy(); // not owned: the buffer stays
    expect(() => rt.device.queue.writeBuffer(own, 0, q)).not.toThrow();
    const noStorage = rt.device.createBuffer({ size: 64, usage: GPUBufferUsage.COPY_DST });
    expect((await rejects(() => wrapBuffer(rt, noStorage, 'f32', 'x', { x: 4 }))).message).toMatch(/STORAGE/);
    expect((await rejects(() => wrapBuffer(rt, own, 'f32', 'x', { x: 1000 }))).message).toMatch(/needs 4000 bytes, the buffer has 320/);

    // a device of the caller's own, from the same GPU object (an adapter makes one device)
    const adapter = await rt.gpu!.requestAdapter(rt.kind === 'opengles' ? { featureLevel: 'compatibility' } : {});
    const device = await adapter!.requestDevice();
    try {
      const mine = await getRuntime({ device });
      expect(mine.device).toBe(device);
      expect(await getRuntime({ device })).toBe(mine);
      const on = upload(mine, q, 'b h s d', dims, 'q');
      const out = (await compile(mha()).run({ q: on, k, v }, dims, { runtime: mine })).outputs.o!.data;
      expect(maxDiff(out, ref)).toBeLessThan(1e-5);
      // a tensor of one device is refused on another
      expect((await rejects(compile(mha()).run({ q: on, k, v }, dims, { runtime: rt }))).message).toMatch(/another device/);
    } finally {
      device.destroy();
    }
  });

  test('bad tensors get errors naming the input, the shape and the problem', async () => {
    const { q, k, v } = host();
    const c = compile(mha());
    const wrong = upload(rt, new Float32Array(2 * 4 * 8), 'b h s d', { ...dims, s: 4 }, 'q');
    expect((await rejects(c.run({ q: wrong, k, v }, dims))).message).toMatch(
      /input 'q' expects f32 \[b=1, h=2, s=5, d=8\], got device tensor 'q' f32 \[b=1, h=2, s=4, d=8\]/,
    );
    const ints = upload(rt, new Int32Array(2 * 5 * 8), 'b h s d', dims, 'qi');
    expect((await rejects(c.run({ q: ints, k, v }, dims))).message).toMatch(/got device tensor 'qi' i32/);
    const tq = upload(rt, q, 'b h s d', dims, 'q');
    const o = zeros(rt, 'f32', 'b h s dv', dims, 'o');
    expect((await rejects(c.run({ q: o, k, v }, dims, { into: { o } }))).message).toMatch(/same buffer as input tensor/);
    expect((await rejects(c.run({ q: tq, k, v }, dims, { into: { nope: o } }))).message).toMatch(/'nope', which is not an output \(outputs: o\)/);
    const ro = wrapBuffer(
      rt,
      rt.device.createBuffer({ size: o.bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }),
      'f32',
      'b h s dv',
      dims,
      'ro',
    );
    expect((await rejects(c.run({ q: tq, k, v }, dims, { into: { o: ro } }))).message).toMatch(/COPY_DST/);
    tq.destroy();
    expect((await rejects(c.run({ q: tq, k, v }, dims))).message).toMatch(/was destroyed/);
    expect((await rejects(() => upload(rt, [1, 2] as never, 'x', { x: 2 }))).message).toMatch(/plain Array/);
    expect((await rejects(() => upload(rt, new Float32Array(3), 'x y', { x: 3 }))).message).toMatch(/no size for axis 'y'/);
    expect((await rejects(() => upload(rt, new Float32Array(3), 'x', { x: 4 }))).message).toMatch(/expected 4 elements, got 3/);
    expect(TENSOR_USAGE() & GPUBufferUsage.STORAGE).toBeTruthy();
  });
});
