/**
 * IEEE 754 binary16 <-> binary32 conversion on raw bits. f16 data travels through
 * einattn as `Uint16Array`s of bit patterns (Node 20 has no Float16Array).
 */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * Converts float32 bits to float16 bits, rounding to nearest, ties to even.
 * @example f32BitsToF16Bits(0x3f800000) // 0x3c00 (1.0)
 */
export function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) {
    // Keep NaN-ness (quiet bit set so a payload that lived only in the low bits survives).
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 112; // re-biased exponent: f32 bias 127, f16 bias 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // f16 subnormal (or zero): below 2^-25 everything rounds to zero, ties included.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rem > half || (rem === half && (r & 1) !== 0)) r++;
    return sign | r; // r may reach 0x400, which is exactly the smallest normal
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to 0x7c00 = inf).
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) !== 0)) r++;
  return sign | r;
}

/**
 * Converts float16 bits to float32 bits (exact: every f16 is an f32).
 * @example f16BitsToF32Bits(0x3c00) // 0x3f800000
 */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  if (e !== 0) return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  if (m === 0) return sign >>> 0;
  // Subnormal f16 becomes a normal f32: normalise the mantissa.
  let shift = 0;
  let mm = m;
  while ((mm & 0x400) === 0) {
    mm <<= 1;
    shift++;
  }
  return (sign | ((113 - shift) << 23) | ((mm & 0x3ff) << 13)) >>> 0;
}

/**
 * Rounds a number to the nearest f16 and returns its bits.
 * @example f32ToF16Bits(0.1) // 0x2e66
 */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x; // rounds to f32 first; f64 -> f32 -> f16 can double-round, as on the GPU
  return f32BitsToF16Bits(u32Scratch[0]);
}

/**
 * The value of an f16 bit pattern.
 * @example f16BitsToF32(0x3c00) // 1
 */
export function f16BitsToF32(h: number): number {
  u32Scratch[0] = f16BitsToF32Bits(h);
  return f32Scratch[0];
}

/**
 * Converts an array of numbers to f16 bit patterns (round to nearest even).
 * @example f32ArrayToF16(new Float32Array([1, 0.5])) // Uint16Array [0x3c00, 0x3800]
 */
export function f32ArrayToF16(values: Float32Array | ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  if (values instanceof Float32Array) {
    // Read raw bits so NaN payloads and -0 are not touched by a number round trip.
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  }
  return out;
}

/**
 * Widens f16 bit patterns to a Float32Array.
 * @example f16ArrayToF32(new Uint16Array([0x3c00])) // Float32Array [1]
 */
export function f16ArrayToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = f16BitsToF32Bits(bits[i]);
  return out;
}
