/** Host-side typed arrays for plan dtypes: which array class carries which dtype. */
import { EinattnError } from '../errors.ts';
import type { StorageDType } from './plan.ts';

/** A host array holding plan data: f32 → Float32Array, i32 → Int32Array, f16 → Uint16Array of bits, i8 → Int8Array. */
export type HostArray = Float32Array | Int32Array | Uint16Array | Int8Array;

/** The host array type for a dtype. */
export type HostArrayOf<D extends StorageDType> = D extends 'f32'
  ? Float32Array
  : D extends 'i32'
    ? Int32Array
    : D extends 'i8'
      ? Int8Array
      : Uint16Array;

const BYTES: Record<StorageDType, number> = { f32: 4, i32: 4, f16: 2, i8: 1 };
const CLASS_NAME: Record<StorageDType, string> = { f32: 'Float32Array', i32: 'Int32Array', f16: 'Uint16Array (f16 bits)', i8: 'Int8Array' };

/**
 * Bytes per element of a storage dtype.
 * @example bytesPerElement('f16') // 2
 */
export function bytesPerElement(dtype: StorageDType): number {
  const n = BYTES[dtype];
  if (n === undefined) throw new EinattnError('DTYPE', `unsupported storage dtype '${String(dtype)}' (supported: f32, f16, i32, i8)`);
  return n;
}

/**
 * The name of the host array class a dtype expects, for messages.
 * @example hostArrayName('f16') // 'Uint16Array (f16 bits)'
 */
export function hostArrayName(dtype: StorageDType): string {
  return CLASS_NAME[dtype] ?? String(dtype);
}

/**
 * Whether `arr` is the host array class of `dtype`.
 * @example isHostArrayOf(new Float32Array(4), 'f32') // true
 */
export function isHostArrayOf(arr: unknown, dtype: StorageDType): arr is HostArray {
  if (dtype === 'f32') return arr instanceof Float32Array;
  if (dtype === 'i32') return arr instanceof Int32Array;
  if (dtype === 'f16') return arr instanceof Uint16Array;
  if (dtype === 'i8') return arr instanceof Int8Array;
  return false;
}

/**
 * Allocates a zeroed host array of `count` elements.
 * @example allocHostArray('i32', 3) // Int32Array [0, 0, 0]
 */
export function allocHostArray<D extends StorageDType>(dtype: D, count: number): HostArrayOf<D>;
export function allocHostArray(dtype: StorageDType, count: number): HostArray {
  if (dtype === 'f32') return new Float32Array(count);
  if (dtype === 'i32') return new Int32Array(count);
  if (dtype === 'f16') return new Uint16Array(count);
  if (dtype === 'i8') return new Int8Array(count);
  throw new EinattnError('DTYPE', `unsupported storage dtype '${String(dtype)}' (supported: f32, f16, i32, i8)`);
}

/**
 * Views `count` elements of raw bytes as the host array of `dtype` (copying, so
 * the result never aliases a mapped GPU range that is about to be unmapped).
 * @example hostArrayFromBytes('f32', mapped, 16)
 */
export function hostArrayFromBytes(dtype: StorageDType, bytes: ArrayBuffer, count: number): HostArray {
  const out = allocHostArray(dtype, count);
  new Uint8Array(out.buffer).set(new Uint8Array(bytes, 0, count * bytesPerElement(dtype)));
  return out;
}

/**
 * A short description of any value for error messages.
 * @example describeValue(new Int32Array(3)) // 'Int32Array of length 3'
 */
export function describeValue(v: unknown): string {
  if (ArrayBuffer.isView(v)) {
    const len = (v as { length?: number }).length;
    return `${v.constructor.name}${len === undefined ? '' : ` of length ${len}`}`;
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a plain Array of length ${v.length}`;
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}
