/** .npy round trips and the errors for files einattn cannot read. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy, readNpy, readNpySync, writeNpy, writeNpySync, type NpyArray } from '../../src/runtime/index.ts';
import { caught } from './plans.ts';

const dir = mkdtempSync(join(tmpdir(), 'einattn-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Builds a .npy file by hand, the way NumPy lays it out, for headers the encoder never writes. */
function rawNpy(header: string, body: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  const text = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, text.length, true);
  else dv.setUint32(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
  out.set(body, total);
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('.npy round trips', () => {
  const cases: NpyArray[] = [
    { dtype: 'f32', shape: [2, 3], data: new Float32Array([1, -2.5, 3e-39, Infinity, -0, 6]) },
    { dtype: 'f16', shape: [5], data: new Uint16Array([0x3c00, 0x8000, 0x7c00, 0x0001, 0x7bff]) },
    { dtype: 'i32', shape: [1, 2, 2], data: new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31)]) },
    { dtype: 'f32', shape: [], data: new Float32Array([42]) },
    { dtype: 'i32', shape: [0, 4], data: new Int32Array(0) },
  ];
  it.each(cases.map((c) => [c.dtype, c.shape.join('x') || 'scalar', c] as const))('%s %s in memory', (_d, _s, arr) => {
    const bytes = encodeNpy(arr);
    expect(bytes.length % 64).toBe(arr.data.byteLength % 64);
    const back = parseNpy(bytes);
    expect(back.dtype).toBe(arr.dtype);
    expect(back.shape).toEqual(arr.shape);
    expect(back.data.constructor).toBe(arr.data.constructor);
    expect(bytesOf(back.data)).toEqual(bytesOf(arr.data));
  });

  it('from a Node Buffer (a view into a larger pooled allocation, as readFile returns)', () => {
    const bytes = Buffer.from(encodeNpy(cases[2]));
    const back = parseNpy(bytes);
    expect(back.data.length).toBe(4);
    expect(Array.from(back.data)).toEqual(Array.from(cases[2].data));
  });

  it('through files, async and sync', async () => {
    const path = join(dir, 'a.npy');
    await writeNpy(path, cases[0]);
    const a = await readNpy(path);
    expect(a.shape).toEqual([2, 3]);
    expect(bytesOf(a.data)).toEqual(bytesOf(cases[0].data));
    writeNpySync(path, cases[1]);
    expect(Array.from(readNpySync(path).data)).toEqual(Array.from(cases[1].data));
  });

  it('writes the header NumPy writes', () => {
    const header = (arr: NpyArray) => {
      const bytes = encodeNpy(arr);
      return new TextDecoder().decode(bytes.subarray(10, 10 + new DataView(bytes.buffer).getUint16(8, true)));
    };
    expect(header(cases[0])).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
    expect(header(cases[1])).toContain("'shape': (5,)");
    expect(header(cases[3])).toContain("'shape': ()");
  });

  it('reads format 2.0 headers', () => {
    const data = new Float32Array([1.5, -2, 3.25]);
    const arr = parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", bytesOf(data), 2));
    expect(arr.shape).toEqual([3]);
    expect(Array.from(arr.data)).toEqual([1.5, -2, 3.25]);
  });
});

describe('.npy errors', () => {
  const good = encodeNpy({ dtype: 'f32', shape: [4], data: new Float32Array(4) });
  it.each([
    ['bad magic', new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]), 'not a .npy file (wrong magic'],
    ['truncated data', good.subarray(0, good.length - 3), 'truncated data: shape (4) of <f4 needs 16 bytes, got 13'],
    ['truncated header', good.subarray(0, 40), 'truncated header'],
    [
      'fortran order',
      rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new Uint8Array(16)),
      'fortran_order True (column-major) is not supported',
    ],
    ['float64', rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), "unsupported dtype '<f8'"],
    ['big-endian', rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(8)), "big-endian dtype '>f4' is not supported"],
    [
      'version 9',
      (() => {
        const b = good.slice();
        b[6] = 9;
        return b;
      })(),
      'unsupported .npy format version 9.0',
    ],
    ['malformed header', rawNpy("{'descr': '<f4', 'shape': (2,), }", new Uint8Array(8)), 'malformed header'],
  ])('%s', async (_what, bytes, message) => {
    const e = await caught(() => parseNpy(bytes, 'x.npy'));
    expect(e.code).toBe('NPY');
    expect(e.message).toContain('x.npy: ');
    expect(e.message).toContain(message);
  });

  it('a missing file names the path', async () => {
    const path = join(dir, 'missing.npy');
    const e = await caught(() => readNpy(path));
    expect(e.code).toBe('NPY');
    expect(e.message).toContain(`${path}: cannot read`);
  });

  it('refuses to write data that does not match dtype or shape', async () => {
    const cls = await caught(() => encodeNpy({ dtype: 'f16', shape: [2], data: new Float32Array(2) as never }));
    expect(cls.code).toBe('NPY');
    expect(cls.message).toContain('dtype f16 needs a Uint16Array of f16 bits, got Float32Array of length 2');
    const len = await caught(() => encodeNpy({ dtype: 'f32', shape: [2, 2], data: new Float32Array(3) }));
    expect(len.message).toContain('shape [2, 2] has 4 elements but the data has 3');
  });
});
