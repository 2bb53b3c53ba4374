/** Machine-readable category of an {@link EinattnError}. */
export type ErrorCode =
  | 'SPEC_SYNTAX' // an einsum spec or axis list does not parse
  | 'OPERAND_COUNT' // einsum operand count differs from the spec
  | 'AXIS_MISMATCH' // an operand's axes differ from the spec
  | 'UNKNOWN_AXIS' // an axis is named that the tensor or spec does not have
  | 'REPEATED_AXIS' // an axis appears twice in one operand (diagonals are not supported)
  | 'SIZE_CONFLICT' // the same axis is bound to two different sizes
  | 'BAD_SIZE' // a size is zero, negative, non-integer or unbound
  | 'DTYPE' // dtype mismatch or unsupported dtype
  | 'BAD_NAME' // an identifier that is not safe to emit into WGSL / TypeScript
  | 'BAD_INPUT' // a run-time input array is missing, mis-shaped or of the wrong type
  | 'INDEX_RANGE' // a gather index points outside the gathered axis
  | 'LIMIT' // a device limit would be exceeded
  | 'NO_ADAPTER' // no WebGPU adapter could be created
  | 'DEVICE_LOST' // the GPU device was lost
  | 'GPU' // a WebGPU validation or runtime error
  | 'NPY' // a malformed or unsupported .npy file
  | 'LOWERING' // a graph the lowering cannot handle
  | 'NOT_FUSED' // fused: 'require' (--require-fused), and the plan keeps a query × key temporary or an unfused attention
  | 'USAGE'; // bad command-line usage

/**
 * The one error type einattn throws for bad input: a code plus a message that names
 * what is wrong and where (axis, size, dtype, spec position, device limit).
 * @example
 *   try { einsum('b h s d -> b x', q) } catch (e) { if (e instanceof EinattnError) console.log(e.code) }
 */
export class EinattnError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EinattnError';
  }
}

/** Throws an {@link EinattnError} with `code` and `message`. */
export function fail(code: ErrorCode, message: string): never {
  throw new EinattnError(code, message);
}
