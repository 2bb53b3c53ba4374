/** Decode loops on the device: the KV cache, one submission per step, measured against the host-array path. */
export { checkDecode, runDecode, type DecodeOptions, type DecodeReport } from './loop.ts';
export { DECODE_VARIANTS, decodeDims, decodeLayout, makeCache, type DecodeLayout } from './setup.ts';
