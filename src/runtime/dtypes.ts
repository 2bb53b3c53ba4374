/**
 * The storage dtypes of plan buffers, described once (`STORAGE`): their WGSL element type, bytes,
 * packing, the type values compute in, the feature they need and their host array class. The
 * lowering (buffer declarations, loads and stores), the runtime (buffers, uploads, read-backs)
 * and codegen (the launchers' input types) read this table; it lives in the runtime, the lowest
 * layer that needs it.
 */
import { EinattnError } from '../errors.ts';
import { own } from './own.ts';
import type { StorageDType } from './plan.ts';

/** A host array holding plan data: f32 → Float32Array, i32 → Int32Array, f16 → Uint16Array of bits, i8 → Int8Array. */
export type HostArray = Float32Array | Int32Array | Uint16Array | Int8Array;

/** The host array type for a dtype. */
export type HostArrayOf<D extends StorageDType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : D extends 'i8' ? Int8Array : Uint16Array;

/** Everything about one storage dtype. */
export interface StorageSchema {
  /** the element type of its WGSL buffer: i8 lives four to an `array<i32>` word */
  wgsl: 'f32' | 'f16' | 'i32';
  /** bytes per element, on the host and in the buffer (i8 buffers round up to whole words) */
  bytes: number;
  /** elements per element of the WGSL buffer: 4 for i8 (little-endian bytes of a word), else 1 */
  packing: number;
  /** the type kernels compute its values in: f16 widens to f32 on load, i8 to i32 */
  compute: 'f32' | 'i32';
  /** the WebGPU feature a buffer of it needs */
  feature?: 'shader-f16';
  /** the host array class carrying it, its name (also the TypeScript type of generated launchers) and a note for messages */
  hostArray: Float32ArrayConstructor | Int32ArrayConstructor | Uint16ArrayConstructor | Int8ArrayConstructor;
  hostName: 'Float32Array' | 'Int32Array' | 'Uint16Array' | 'Int8Array';
  hostNote?: string;
}

/**
 * The storage dtypes; the table is typed `Record<StorageDType, StorageSchema>`, so a new dtype
 * without every fact does not type-check.
 * @example STORAGE.i8.packing // 4
 */
export const STORAGE: Readonly<Record<StorageDType, StorageSchema>> = {
  f32: { wgsl: 'f32', bytes: 4, packing: 1, compute: 'f32', hostArray: Float32Array, hostName: 'Float32Array' },
  f16: { wgsl: 'f16', bytes: 2, packing: 1, compute: 'f32', feature: 'shader-f16', hostArray: Uint16Array, hostName: 'Uint16Array', hostNote: 'f16 bits' },
  i32: { wgsl: 'i32', bytes: 4, packing: 1, compute: 'i32', hostArray: Int32Array, hostName: 'Int32Array' },
  i8: { wgsl: 'i32', bytes: 1, packing: 4, compute: 'i32', hostArray: Int8Array, hostName: 'Int8Array' },
};

const schemaOf = (dtype: StorageDType): StorageSchema | undefined => own(STORAGE, dtype);

/** The schema of `dtype`, or a DTYPE error naming the supported ones. */
function schemaFor(dtype: StorageDType): StorageSchema {
  const s = schemaOf(dtype);
  if (!s) throw new EinattnError('DTYPE', `unsupported storage dtype '${String(dtype)}' (supported: f32, f16, i32, i8)`);
  return s;
}

/**
 * Bytes per element of a storage dtype.
 * @example bytesPerElement('f16') // 2
 */
export function bytesPerElement(dtype: StorageDType): number {
  return schemaFor(dtype).bytes;
}

/**
 * The name of the host array class a dtype expects, for messages.
 * @example hostArrayName('f16') // 'Uint16Array (f16 bits)'
 */
export function hostArrayName(dtype: StorageDType): string {
  const s = schemaOf(dtype);
  return s ? `${s.hostName}${s.hostNote ? ` (${s.hostNote})` : ''}` : String(dtype);
}

/**
 * Whether `arr` is the host array class of `dtype`.
 * @example isHostArrayOf(new Float32Array(4), 'f32') // true
 */
export function isHostArrayOf(arr: unknown, dtype: StorageDType): arr is HostArray {
  const s = schemaOf(dtype);
  return s !== undefined && arr instanceof s.hostArray;
}

/**
 * Allocates a zeroed host array of `count` elements.
 * @example allocHostArray('i32', 3) // Int32Array [0, 0, 0]
 */
export function allocHostArray<D extends StorageDType>(dtype: D, count: number): HostArrayOf<D>;
export function allocHostArray(dtype: StorageDType, count: number): HostArray {
  return new (schemaFor(dtype).hostArray)(count);
}

/**
 * Views `count` elements at the start of `bytes` as the host array of `dtype`, without copying:
 * for a buffer nothing else holds (a session's reads are copies of the mapped range already).
 * @example hostArrayOver('i32', new Int32Array([7, 8]).buffer, 2) // Int32Array [7, 8]
 */
export function hostArrayOver(dtype: StorageDType, bytes: ArrayBuffer, count: number): HostArray {
  return new (schemaFor(dtype).hostArray)(bytes, 0, count);
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
