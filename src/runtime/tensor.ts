/**
 * Device tensors: data that stays on the GPU between runs. A run can take them as
 * inputs and leave its outputs in them, so chains of kernels, decode loops and the
 * user's own WebGPU code share data without a round trip through host memory.
 */
import { fail } from '../errors.ts';
import { bytesPerElement, describeValue, hostArrayName, hostArrayOver, type HostArray, type HostArrayOf } from './dtypes.ts';
import { assertAlive, type Runtime } from './device.ts';
import type { StorageDType } from './plan.ts';
import { own } from './own.ts';
import { Session } from './session.ts';

/**
 * The usage flags einattn needs on a buffer it did not create ({@link wrapBuffer}): STORAGE
 * always; COPY_DST to be written (as a run's output, which is cleared first, or by
 * `write`); COPY_SRC to be read back (`read`).
 */
export const TENSOR_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

const DTYPE_OF_ARRAY: [new (n: number) => HostArray, StorageDType][] = [
  [Float32Array, 'f32'],
  [Int32Array, 'i32'],
  [Uint16Array, 'f16'],
  [Int8Array, 'i8'],
];

/** The storage dtype a host array carries: Float32Array f32, Int32Array i32, Uint16Array f16 bits, Int8Array i8. */
export function dtypeOfArray(data: unknown): StorageDType | undefined {
  return DTYPE_OF_ARRAY.find(([cls]) => data instanceof cls)?.[1];
}

/** Bytes of the GPU buffer for `count` elements: whole 4-byte words (i8 packs four to a word). */
export function allocBytesFor(dtype: StorageDType, count: number): number {
  return Math.max(4, Math.ceil((count * bytesPerElement(dtype)) / 4) * 4);
}

/**
 * A typed handle for data on the GPU: its dtype, axes, shape and buffer. Row-major in
 * the order of `axes`, laid out exactly as a run's input or output of the same axes.
 */
export class DeviceTensor<D extends StorageDType = StorageDType> {
  private destroyed = false;

  /** Use {@link upload}, {@link zeros} or {@link wrapBuffer}. */
  constructor(
    readonly runtime: Runtime,
    readonly buffer: GPUBuffer,
    readonly dtype: D,
    readonly axes: readonly string[],
    readonly shape: readonly number[],
    /** whether einattn created the buffer (and `destroy` frees it) */
    readonly owned: boolean,
    readonly label = 'tensor',
  ) {}

  /** elements */
  get count(): number {
    return this.shape.reduce((a, n) => a * n, 1);
  }

  /** bytes of data (an i8 tensor's buffer is rounded up to whole words) */
  get bytes(): number {
    return this.count * bytesPerElement(this.dtype);
  }

  /** e.g. "'k' f32 [b=1, g=8, t=4096, d=128]" */
  describe(): string {
    return `'${this.label}' ${this.dtype} [${this.axes.map((a, i) => `${a}=${this.shape[i]}`).join(', ')}]`;
  }

  /** Throws BAD_INPUT when the tensor was destroyed or its device is gone. */
  check(where: string): void {
    if (this.destroyed) fail('BAD_INPUT', `${where}: tensor ${this.describe()} was destroyed`);
    assertAlive(this.runtime);
  }

  /**
   * Reads the tensor back into a new host array (waits for the GPU work queued before it).
   * @example const o = await tensor.read() // Float32Array
   */
  async read(): Promise<HostArrayOf<D>> {
    this.check('read()');
    if (!(this.buffer.usage & GPUBufferUsage.COPY_SRC))
      fail('BAD_INPUT', `read(): tensor ${this.describe()} has a buffer without COPY_SRC usage, so it cannot be read back`);
    const session = new Session(this.runtime, { label: `read of '${this.label}'` });
    session.readBack(this.buffer, this.bytes);
    const [bytes] = (await session.submit()).reads;
    const out = hostArrayOver(this.dtype, bytes!, this.count) as HostArrayOf<D>;
    this.runtime.transfers.bytesReadBack += this.bytes;
    this.runtime.transfers.readbacks++;
    return out;
  }

  /**
   * Overwrites the whole tensor from a host array of its dtype and length (queued: runs submitted later see it).
   * @example cache.write(new Float32Array(cache.count))
   */
  write(data: HostArrayOf<D>): void {
    this.check('write()');
    checkData(`write() to ${this.describe()}`, data, this.dtype, this.count);
    writeWords(this.runtime, this.buffer, data);
  }

  /**
   * Frees the buffer if einattn created it; the handle is unusable afterwards.
   * @example t.destroy()
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.owned) this.buffer.destroy();
  }
}

/** Whether `v` is a {@link DeviceTensor}. */
export function isDeviceTensor(v: unknown): v is DeviceTensor {
  return v instanceof DeviceTensor;
}

/** Parses 'b h s d' against `dims` into axes and shape; BAD_SIZE names a missing or bad size. */
export function shapeOf(axes: string | readonly string[], dims: Record<string, number>, where: string): { axes: string[]; shape: number[] } {
  const list = typeof axes === 'string' ? axes.trim().split(/\s+/).filter(Boolean) : [...axes];
  const shape = list.map((a) => {
    const n = dims ? own(dims, a) : undefined;
    if (n === undefined) fail('BAD_SIZE', `${where}: no size for axis '${a}' (dims: ${JSON.stringify(dims)})`);
    if (!Number.isSafeInteger(n) || n < 0) fail('BAD_SIZE', `${where}: axis '${a}' has size ${n}; sizes are non-negative integers`);
    return n;
  });
  return { axes: list, shape };
}

function checkData(where: string, data: unknown, dtype: StorageDType, count: number): asserts data is HostArray {
  const got = dtypeOfArray(data);
  if (got !== dtype) fail('BAD_INPUT', `${where}: expected a ${hostArrayName(dtype)} of ${count} elements, got ${describeValue(data)}`);
  if ((data as HostArray).length !== count) fail('BAD_INPUT', `${where}: expected ${count} elements, got ${(data as HostArray).length}`);
}

/** queue.writeBuffer of a host array, padded to whole words; counted as an upload. */
export function writeWords(rt: Runtime, buffer: GPUBuffer, data: HostArray, offsetBytes = 0): void {
  let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4) {
    const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    padded.set(bytes);
    bytes = padded;
  }
  // The DOM library types writeBuffer's data as ArrayBuffer-backed; WebGPU also takes
  // SharedArrayBuffer views, so the cast only satisfies the browser's types.
  if (bytes.byteLength) rt.device.queue.writeBuffer(buffer, offsetBytes, bytes as Uint8Array<ArrayBuffer>);
  rt.transfers.bytesUploaded += data.byteLength;
  rt.transfers.uploads++;
}

function create(rt: Runtime, dtype: StorageDType, axes: string[], shape: number[], label: string): DeviceTensor {
  assertAlive(rt);
  const count = shape.reduce((a, n) => a * n, 1);
  const size = allocBytesFor(dtype, count);
  if (size > rt.limits.maxStorageBufferBindingSize)
    fail(
      'LIMIT',
      `tensor '${label}' ${dtype} [${axes.map((a, i) => `${a}=${shape[i]}`).join(', ')}] needs ${size} bytes, over maxStorageBufferBindingSize = ${rt.limits.maxStorageBufferBindingSize} of the ${rt.kind} adapter`,
    );
  const buffer = rt.device.createBuffer({ size, usage: TENSOR_USAGE(), label });
  return new DeviceTensor(rt, buffer, dtype, axes, shape, true, label);
}

/**
 * Copies a host array to a new tensor on the GPU; the dtype follows the array class.
 * @example const k = upload(rt, kHost, 'b g t d', { b: 1, g: 8, t: 4096, d: 128 })
 */
export function upload<A extends HostArray>(
  rt: Runtime,
  data: A,
  axes: string | readonly string[],
  dims: Record<string, number>,
  label = 'tensor',
): DeviceTensor {
  const dtype = dtypeOfArray(data);
  if (!dtype) fail('BAD_INPUT', `upload '${label}': expected a Float32Array, Int32Array, Uint16Array (f16 bits) or Int8Array, got ${describeValue(data)}`);
  const { axes: list, shape } = shapeOf(axes, dims, `upload '${label}'`);
  const t = create(rt, dtype, list, shape, label);
  checkData(`upload '${label}' [${list.join(' ')}]`, data, dtype, t.count);
  writeWords(rt, t.buffer, data);
  return t;
}

/**
 * A new zero-filled tensor on the GPU.
 * @example const o = zeros(rt, 'f32', 'b h s dv', dims)
 */
export function zeros(rt: Runtime, dtype: StorageDType, axes: string | readonly string[], dims: Record<string, number>, label = 'tensor'): DeviceTensor {
  bytesPerElement(dtype);
  const { axes: list, shape } = shapeOf(axes, dims, `zeros '${label}'`);
  // WebGPU zero-initialises new buffers
  return create(rt, dtype, list, shape, label);
}

/**
 * A tensor over a GPUBuffer that the caller owns, made on the runtime's device (see
 * {@link TENSOR_USAGE} for the usage flags). einattn never destroys it.
 * @example const t = wrapBuffer(rt, myBuffer, 'f32', 'b h s d', dims)
 */
export function wrapBuffer(
  rt: Runtime,
  buffer: GPUBuffer,
  dtype: StorageDType,
  axes: string | readonly string[],
  dims: Record<string, number>,
  label = 'tensor',
): DeviceTensor {
  assertAlive(rt);
  bytesPerElement(dtype);
  const { axes: list, shape } = shapeOf(axes, dims, `wrapBuffer '${label}'`);
  if (!buffer || typeof buffer !== 'object' || typeof (buffer as GPUBuffer).size !== 'number')
    fail('BAD_INPUT', `wrapBuffer '${label}': expected a GPUBuffer, got ${describeValue(buffer)}`);
  if (!(buffer.usage & GPUBufferUsage.STORAGE))
    fail('BAD_INPUT', `wrapBuffer '${label}': the buffer lacks STORAGE usage (usage = ${buffer.usage}); einattn binds tensors as storage buffers`);
  const count = shape.reduce((a, n) => a * n, 1);
  const need = count * bytesPerElement(dtype);
  if (buffer.size < need)
    fail(
      'BAD_INPUT',
      `wrapBuffer '${label}': ${dtype} [${list.map((a, i) => `${a}=${shape[i]}`).join(', ')}] needs ${need} bytes, the buffer has ${buffer.size}`,
    );
  return new DeviceTensor(rt, buffer, dtype, list, shape, false, label);
}
