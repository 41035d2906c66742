/**
 * A PNG decoder for screenshots: 8-bit RGB or RGBA, not interlaced (what Chromium's `Page.captureScreenshot`
 * writes), inflated with the platform's `DecompressionStream`. Enough to count pixel colours in a test.
 *
 * @module
 */

/** A decoded image: `rgba` holds 4 bytes per pixel, rows top to bottom. */
export interface Png {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Red, green, blue, alpha per pixel. */
  rgba: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const COLOUR_RGB = 2;
const COLOUR_RGBA = 6;

async function inflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes `bytes`; throws an Error naming what it does not support. */
export async function decodePng(bytes: Uint8Array): Promise<Png> {
  if (!SIGNATURE.every((b, i) => bytes[i] === b)) throw new Error("not a PNG file");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0, height = 0, colourType = -1;
  const idat: Uint8Array[] = [];
  for (let at = SIGNATURE.length; at + 8 <= bytes.length;) {
    const len = dv.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      width = dv.getUint32(at + 8);
      height = dv.getUint32(at + 12);
      const depth = data[8], interlace = data[12];
      colourType = data[9];
      if (depth !== 8 || interlace !== 0 || (colourType !== COLOUR_RGB && colourType !== COLOUR_RGBA)) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colourType}, interlace ${interlace}`);
      }
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    at += 12 + len;
  }
  const packed = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  idat.reduce((o, d) => (packed.set(d, o), o + d.length), 0);
  const raw = await inflate(packed);
  const bpp = colourType === COLOUR_RGBA ? 4 : 3;
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) throw new Error(`PNG data too short: ${raw.length} bytes`);
  const cur = new Uint8Array(stride), prev = new Uint8Array(stride);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      const x = line[i];
      cur[i] = filter === 0
        ? x
        : filter === 1
        ? x + a
        : filter === 2
        ? x + b
        : filter === 3
        ? x + ((a + b) >> 1)
        : filter === 4
        ? x + paeth(a, b, c)
        : NaN;
    }
    if (filter > 4) throw new Error(`bad PNG filter ${filter} on row ${y}`);
    for (let px = 0; px < width; px++) {
      const o = (y * width + px) * 4;
      rgba[o] = cur[px * bpp];
      rgba[o + 1] = cur[px * bpp + 1];
      rgba[o + 2] = cur[px * bpp + 2];
      rgba[o + 3] = bpp === 4 ? cur[px * bpp + 3] : 255;
    }
    prev.set(cur);
  }
  return { width, height, rgba };
}
