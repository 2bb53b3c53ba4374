/**
 * `.npy` files (NumPy format 1.0/2.0/3.0, little-endian f4/f2/i4 and i1, C order), the way
 * arrays travel between einattn and Python tools.
 */
import { EinattnError } from '../errors.ts';
import type { StorageDType } from './plan.ts';
import { describeValue, type HostArray, type HostArrayOf } from './dtypes.ts';
// Files only under Node; parseNpy and encodeNpy work on bytes anywhere, a browser included.
import { nodeHost } from '../platform/index.ts';

/** An array read from or written to `.npy`; f16 data is a Uint16Array of bits. */
export interface NpyArray<D extends StorageDType = StorageDType> {
  dtype: D;
  shape: number[];
  data: HostArrayOf<D>;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR_OF: Record<StorageDType, string> = { f32: '<f4', f16: '<f2', i32: '<i4', i8: '|i1' };
const DTYPE_OF: Record<string, StorageDType> = { '<f4': 'f32', '<f2': 'f16', '<i4': 'i32', '|i1': 'i8', '<i1': 'i8' };
const ITEM_BYTES: Record<StorageDType, number> = { f32: 4, f16: 2, i32: 4, i8: 1 };
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function npyError(source: string, what: string): EinattnError {
  return new EinattnError('NPY', `${source}: ${what}`);
}

/**
 * Parses the bytes of a `.npy` file; `source` names it in error messages.
 * @example const { dtype, shape, data } = parseNpy(bytes, 'q.npy')
 */
export function parseNpy(bytes: Uint8Array, source = '<memory>'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw npyError(source, 'not a .npy file (wrong magic: expected the bytes \\x93NUMPY at the start)');
  }
  const major = bytes[6];
  const minor = bytes[7];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw npyError(source, `truncated header (file is ${bytes.length} bytes)`);
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else {
    throw npyError(source, `unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    throw npyError(source, `truncated header: it claims ${headerLen} bytes but the file has ${bytes.length - headerStart} after the preamble`);
  }
  // Version 3 only widens the header encoding to UTF-8; the dict keys we need are ASCII either way.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw npyError(source, `malformed header (need 'descr', 'fortran_order' and 'shape'): ${header.trim()}`);
  }
  const dtype = DTYPE_OF[descr];
  if (dtype === undefined) {
    if (/^>/.test(descr) && DTYPE_OF['<' + descr.slice(1)]) {
      throw npyError(source, `big-endian dtype '${descr}' is not supported; save with a.astype('<${descr.slice(1)}')`);
    }
    throw npyError(
      source,
      `unsupported dtype '${descr}' (supported: '<f4' float32, '<f2' float16, '<i4' int32, '|i1' int8); convert with a.astype(np.float32)`,
    );
  }
  if (fortran === 'True') {
    throw npyError(source, 'fortran_order True (column-major) is not supported; save np.ascontiguousarray(a) instead');
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw npyError(source, `malformed shape (${shapeText})`);
      return n;
    });
  const count = shape.reduce((a, b) => a * b, 1);
  const itemBytes = ITEM_BYTES[dtype];
  const need = count * itemBytes;
  const got = bytes.length - dataStart;
  if (got < need) {
    throw npyError(source, `truncated data: shape (${shape.join(', ')}) of ${descr} needs ${need} bytes, got ${got}`);
  }
  // Copy into a fresh, aligned buffer: the data offset need not be a multiple of 4.
  const raw = new Uint8Array(bytes.subarray(dataStart, dataStart + need)); // a copy: Buffer.slice would share the pool
  if (!HOST_LITTLE_ENDIAN) swapBytes(raw, itemBytes);
  const data: HostArray =
    dtype === 'f32'
      ? new Float32Array(raw.buffer)
      : dtype === 'i32'
        ? new Int32Array(raw.buffer)
        : dtype === 'i8'
          ? new Int8Array(raw.buffer)
          : new Uint16Array(raw.buffer);
  return { dtype, shape, data } as NpyArray;
}

/**
 * Encodes an array as `.npy` bytes (format 1.0, or 2.0 when the header needs it).
 * @example writeFileSync('o.npy', encodeNpy({ dtype: 'f32', shape: [2, 3], data: out }))
 */
export function encodeNpy(arr: NpyArray, source = '<memory>'): Uint8Array {
  const { dtype, shape, data } = arr;
  const descr = DESCR_OF[dtype];
  if (descr === undefined) throw npyError(source, `unsupported dtype '${String(dtype)}' (supported: f32, f16, i32, i8)`);
  const ok =
    dtype === 'f32'
      ? data instanceof Float32Array
      : dtype === 'i32'
        ? data instanceof Int32Array
        : dtype === 'i8'
          ? data instanceof Int8Array
          : data instanceof Uint16Array;
  if (!ok) {
    const want = dtype === 'f32' ? 'Float32Array' : dtype === 'i32' ? 'Int32Array' : dtype === 'i8' ? 'Int8Array' : 'Uint16Array of f16 bits';
    throw npyError(source, `dtype ${dtype} needs a ${want}, got ${describeValue(data)}`);
  }
  if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw npyError(source, `shape [${shape.join(', ')}] must be non-negative integers`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw npyError(source, `shape [${shape.join(', ')}] has ${count} elements but the data has ${data.length}`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // NumPy pads the header with spaces so that the data starts on a 64-byte boundary.
  let preamble = 10;
  let total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  let major = 1;
  if (total - preamble > 0xffff) {
    major = 2;
    preamble = 12;
    total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - preamble;
  const header = dict.padEnd(headerLen - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, headerLen, true);
  else dv.setUint32(8, headerLen, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  out.set(body, total);
  if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(total), ITEM_BYTES[dtype]);
  return out;
}

function swapBytes(b: Uint8Array, width: number): void {
  for (let i = 0; i + width <= b.length; i += width) b.subarray(i, i + width).reverse();
}

/**
 * Reads a `.npy` file.
 * @example const q = await readNpy('q.npy') // { dtype: 'f32', shape: [2, 8, 64], data: Float32Array }
 */
export async function readNpy(path: string): Promise<NpyArray> {
  const { readFile } = nodeHost('readNpy()');
  return parseNpy(await readBytes(path, () => readFile(path)), path);
}

/**
 * Reads a `.npy` file synchronously (handy in notebooks).
 * @example const k = readNpySync('k.npy')
 */
export function readNpySync(path: string): NpyArray {
  const { readFileSync } = nodeHost('readNpySync()');
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw npyError(path, `cannot read: ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

/**
 * Writes a `.npy` file.
 * @example await writeNpy('o.npy', { dtype: 'f32', shape: [2, 8, 64], data: out })
 */
export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  await nodeHost('writeNpy()').writeFile(path, encodeNpy(arr, path));
}

/**
 * Writes a `.npy` file synchronously.
 * @example writeNpySync('o.npy', { dtype: 'i32', shape: [4], data: new Int32Array([1, 2, 3, 4]) })
 */
export function writeNpySync(path: string, arr: NpyArray): void {
  nodeHost('writeNpySync()').writeFileSync(path, encodeNpy(arr, path));
}

async function readBytes(path: string, read: () => Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    return await read();
  } catch (e) {
    throw npyError(path, `cannot read: ${(e as Error).message}`);
  }
}
