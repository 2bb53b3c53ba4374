/**
 * The browser platform: `navigator.gpu` for adapters, no environment, no files. package.json
 * "imports" maps `#platform` here under the bundler's `browser` condition, so a browser bundle
 * of einattn holds no Node built-in and no Dawn.
 */
import { chooseBrowserAdapter } from './navigator.ts';
import type { Platform } from './types.ts';

const ADLER_MOD = 65521;
const STORED_MAX = 65535;

/**
 * zlib framing around stored (uncompressed) deflate blocks: a valid stream any inflater reads,
 * synchronous and without a dependency. Only large heatmaps are PNG-encoded, so size matters little.
 */
export function storedDeflate(bytes: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(bytes.length / STORED_MAX));
  const out = new Uint8Array(2 + 5 * blocks + bytes.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no preset dictionary, lowest level; (0x78 << 8 | 0x01) % 31 == 0
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * STORED_MAX;
    const len = Math.min(STORED_MAX, bytes.length - start);
    out[o] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE = 00 (stored)
    out[o + 1] = len & 0xff;
    out[o + 2] = len >>> 8;
    out[o + 3] = ~len & 0xff;
    out[o + 4] = (~len >>> 8) & 0xff;
    out.set(bytes.subarray(start, start + len), o + 5);
    o += 5 + len;
  }
  let a = 1;
  let s = 0;
  for (const x of bytes) {
    a = (a + x) % ADLER_MOD;
    s = (s + a) % ADLER_MOD;
  }
  new DataView(out.buffer).setUint32(o, ((s << 16) | a) >>> 0);
  return out;
}

/** The browser platform. */
export const platform: Platform = {
  name: 'browser',
  env: () => undefined,
  chooseAdapter: chooseBrowserAdapter,
  // the browser's GPU process does the polling: nothing spins here
  awaitGpu: (p) => p,
  deflate: storedDeflate,
  node: undefined,
};
