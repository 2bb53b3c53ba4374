// The screenshot checker's PNG decoder, on images encoded here with every filter type.
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePng, ink } from './png.ts';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]); // CRC unchecked
}

/** Encodes 8-bit pixels (3 or 4 channels), filtering row y with filter type y % 5. */
function encodePng(width: number, height: number, channels: 3 | 4, px: number[]): Buffer {
  const stride = width * channels;
  const at = (y: number, x: number) => (y >= 0 && x >= 0 ? px[y * stride + x]! : 0);
  const paeth = (a: number, b: number, c: number) => {
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  };
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    const f = y % 5;
    rows.push(f);
    for (let x = 0; x < stride; x++) {
      const [a, b, c] = [at(y, x - channels), at(y - 1, x), at(y - 1, x - channels)];
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f]!;
      rows.push((at(y, x) - pred) & 0xff);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, channels === 4 ? 6 : 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('png.ts', () => {
  const w = 7,
    h = 6;
  const pixel = (x: number, y: number) => (x === 3 && y > 0 ? [0x3b, 0x6f, 0xd8] : x + y === 9 ? [17 * x, 200 - y, 99] : [255, 255, 255]);

  it('decodes RGB and RGBA with all five filter types', () => {
    for (const channels of [3, 4] as const) {
      const px: number[] = [];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.push(...pixel(x, y), ...(channels === 4 ? [255] : []));
      const img = decodePng(encodePng(w, h, channels, px));
      expect([img.width, img.height]).toEqual([w, h]);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          expect([...img.rgba.subarray((y * w + x) * 4, (y * w + x) * 4 + 4)]).toEqual([...pixel(x, y), 255]);
        }
    }
  });

  it('measures ink: colours, background, share of non-background pixels, pixels near a colour', () => {
    const px: number[] = [];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.push(...pixel(x, y));
    const seen = ink(decodePng(encodePng(w, h, 3, px)), [[0x3c, 0x70, 0xd7]]);
    expect(seen.background).toBe(0xffffffff);
    expect(seen.counts).toEqual([5]);
    expect(seen.colours).toBe(1 + 1 + 3); // white, the bar, three points on x + y = 9
    expect(seen.inked).toBeCloseTo(8 / 42);
  });

  it('rejects what it cannot decode', () => {
    expect(() => decodePng(Buffer.from('GIF89a'))).toThrow(/not a PNG/);
    const png = encodePng(1, 1, 3, [0, 0, 0]);
    png[8 + 8 + 8] = 16; // IHDR bit depth
    expect(() => decodePng(png)).toThrow(/bit depth 16/);
  });
});
