/** f16 bit conversion: the edge cases where hand-written converters usually go wrong. */
import { describe, expect, it } from 'vitest';
import { f16ArrayToF32, f16BitsToF32, f32ArrayToF16, f32BitsToF16Bits, f32ToF16Bits } from '../../src/runtime/index.ts';

const MIN_SUB = 2 ** -24;
const MIN_NORMAL = 2 ** -14;

describe('f32 -> f16', () => {
  it.each([
    ['0', 0, 0x0000],
    ['-0', -0, 0x8000],
    ['1', 1, 0x3c00],
    ['-2', -2, 0xc000],
    ['0.1 (rounded)', 0.1, 0x2e66],
    ['smallest subnormal', MIN_SUB, 0x0001],
    ['largest subnormal', MIN_NORMAL - MIN_SUB, 0x03ff],
    ['smallest normal', MIN_NORMAL, 0x0400],
    ['max', 65504, 0x7bff],
    ['just below the overflow tie', 65519, 0x7bff],
    ['overflow tie rounds to inf (even)', 65520, 0x7c00],
    ['beyond max', 1e6, 0x7c00],
    ['inf', Infinity, 0x7c00],
    ['-inf', -Infinity, 0xfc00],
    ['half the smallest subnormal ties to 0 (even)', MIN_SUB / 2, 0x0000],
    ['just above half the smallest subnormal', (MIN_SUB / 2) * (1 + 2 ** -20), 0x0001],
    ['1.5 x smallest subnormal ties to 2 (even)', 1.5 * MIN_SUB, 0x0002],
    ['2.5 x smallest subnormal ties to 2 (even)', 2.5 * MIN_SUB, 0x0002],
    ['subnormal rounding carries into the smallest normal', MIN_NORMAL - MIN_SUB / 2, 0x0400],
    ['1 + 2^-11 ties down to 1 (even)', 1 + 2 ** -11, 0x3c00],
    ['1 + 3 * 2^-11 ties up to 1 + 2^-9 (even)', 1 + 3 * 2 ** -11, 0x3c02],
    ['1 + 2^-11 + tiny rounds up', 1 + 2 ** -11 + 2 ** -20, 0x3c01],
    ['a mantissa carry bumps the exponent', 2 - 2 ** -12, 0x4000],
    ['tiny f32 underflows to signed zero', -1e-30, 0x8000],
  ])('%s', (_what, x, bits) => {
    expect(f32ToF16Bits(x)).toBe(bits);
  });

  it('keeps NaN a NaN, including payloads only in the low bits', () => {
    for (const b of [0x7fc00000, 0x7f800001, 0xffc00000, 0x7fbfffff]) {
      const h = f32BitsToF16Bits(b);
      expect(h & 0x7c00).toBe(0x7c00);
      expect(h & 0x03ff).not.toBe(0);
      expect(h & 0x8000).toBe((b >>> 16) & 0x8000);
    }
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });
});

describe('f16 -> f32', () => {
  it.each([
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, MIN_SUB],
    [0x03ff, MIN_NORMAL - MIN_SUB],
    [0x0400, MIN_NORMAL],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('0x%s', (bits, x) => {
    expect(Object.is(f16BitsToF32(bits), x)).toBe(true);
  });

  it('round-trips every non-NaN bit pattern exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ArrayToF16(f16ArrayToF32(all));
    for (let i = 0; i < 65536; i++) {
      const nan = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (nan) expect(back[i] & 0x7c00).toBe(0x7c00);
      else if (back[i] !== i) expect.fail(`0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
    }
  });

  it('converts arrays the same way as single values, also from plain arrays', () => {
    const xs = [0.1, -3.75, 1e-6, 70000, -0];
    expect(Array.from(f32ArrayToF16(xs))).toEqual(xs.map(f32ToF16Bits));
    expect(Array.from(f32ArrayToF16(new Float32Array(xs)))).toEqual(xs.map(f32ToF16Bits));
  });
});
