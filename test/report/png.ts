/**
 * Just enough PNG to look at a browser screenshot: 8-bit RGB or RGBA, not interlaced
 * (what Chromium writes). Decodes to RGBA and measures how much is drawn on it.
 */
import { inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, rows top to bottom */
  rgba: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The value a PNG filter type predicts from the left, up and up-left bytes. */
function predict(filter: number, a: number, b: number, c: number, row: number): number {
  switch (filter) {
    case 0:
      return 0; // None
    case 1:
      return a; // Sub
    case 2:
      return b; // Up
    case 3:
      return (a + b) >> 1; // Average
    case 4:
      return paeth(a, b, c); // Paeth
    default:
      throw new Error(`bad PNG filter type ${filter} in row ${row}`);
  }
}

/**
 * Decodes an 8-bit RGB/RGBA non-interlaced PNG; throws on anything else.
 * @example const { width, height, rgba } = decodePng(await page.screenshot())
 */
export function decodePng(png: Uint8Array): Image {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG (bad signature)');
  let width = 0,
    height = 0,
    channels = 0;
  const idat: Buffer[] = [];
  for (let pos = 8; pos + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
        throw new Error(`unsupported PNG: bit depth ${depth}, colour type ${colour}, interlace ${interlace} (want 8-bit RGB/RGBA, not interlaced)`);
      }
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len; // length, type, data, CRC
  }
  if (!channels) throw new Error('PNG without IHDR');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`PNG data is ${raw.length} bytes, expected ${height * (stride + 1)}`);

  // Undo the per-row filters in place: each row is a filter byte and `stride` bytes.
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[row + x - channels]! : 0; // left
      const b = y > 0 ? px[row - stride + x]! : 0; // up
      const c = x >= channels && y > 0 ? px[row - stride + x - channels]! : 0; // up-left
      px[row + x] = (raw[src + x]! + predict(filter, a, b, c, y)) & 0xff;
    }
  }
  if (channels === 4) return { width, height, rgba: px };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < px.length; i += 3, j += 4) rgba.set([px[i]!, px[i + 1]!, px[i + 2]!, 255], j);
  return { width, height, rgba };
}

export interface Ink {
  /** distinct RGBA colours */
  colours: number;
  /** the most common colour, as 0xRRGGBBAA */
  background: number;
  /** share of pixels that differ from the background, 0..1 */
  inked: number;
  /** pixels within `tolerance` of each colour asked about, per channel */
  counts: number[];
}

/**
 * How much is drawn on an image: its colours, its background (the most common colour) and
 * the share of other pixels; optionally how many pixels are close to given colours.
 * @example ink(decodePng(png), [[0x3b, 0x6f, 0xd8]]).inked > 0.01
 */
export function ink(img: Image, colours: [number, number, number][] = [], tolerance = 8): Ink {
  const histogram = new Map<number, number>();
  const counts = colours.map(() => 0);
  const { rgba } = img;
  for (let i = 0; i < rgba.length; i += 4) {
    const key = ((rgba[i]! << 24) | (rgba[i + 1]! << 16) | (rgba[i + 2]! << 8) | rgba[i + 3]!) >>> 0;
    histogram.set(key, (histogram.get(key) ?? 0) + 1);
    colours.forEach(([r, g, b], k) => {
      if (Math.abs(rgba[i]! - r) <= tolerance && Math.abs(rgba[i + 1]! - g) <= tolerance && Math.abs(rgba[i + 2]! - b) <= tolerance) counts[k]!++;
    });
  }
  let background = 0,
    most = 0;
  for (const [key, n] of histogram) if (n > most) [background, most] = [key, n];
  const total = img.width * img.height;
  return { colours: histogram.size, background, inked: total ? (total - most) / total : 0, counts };
}
