/**
 * The checksums the container formats carry: CRC-32 in both bit orders (gzip, lzop and xz use the
 * reflected form of ISO 3309; bzip2 the non-reflected, "big-endian" one) and Adler-32 (RFC 1950, lzop).
 * Table-driven, one table built once per form; no allocation per call.
 *
 * @module
 */

/** The CRC-32 polynomial x^32 + x^26 + ... + 1 (ISO 3309, ITU-T V.42) in normal bit order. */
const CRC32_POLY = 0x04c11db7;
/** The same polynomial bit-reversed, as the reflected (LSB-first) form uses it. */
const CRC32_POLY_REFLECTED = 0xedb88320;
/** "The largest prime smaller than 65536" (RFC 1950, 8.2): Adler-32's modulus. */
const ADLER_BASE = 65521;
/** RFC 1950: the sums may run this many bytes before they must be reduced (the zlib NMAX bound). */
const ADLER_NMAX = 5552;

let reflectedTable: Int32Array | undefined;
let normalTable: Int32Array | undefined;

/**
 * The tables of the reflected CRC-32 (gzip, lzop, xz) for slicing by 8: table k (at k * 256) is the CRC
 * of a byte followed by k zero bytes, so eight bytes are folded in per step.
 */
function reflected(): Int32Array {
  if (reflectedTable === undefined) {
    const t = new Int32Array(8 * 256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32_POLY_REFLECTED : c >>> 1;
      t[n] = c;
    }
    for (let k = 1; k < 8; k++) {
      for (let n = 0; n < 256; n++) {
        const prev = t[(k - 1) * 256 + n];
        t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
      }
    }
    reflectedTable = t;
  }
  return reflectedTable;
}

/** The 256-entry table of the non-reflected CRC-32 that bzip2 uses (`BZ2_crc32Table`). */
export function crc32BigEndianTable(): Int32Array {
  if (normalTable === undefined) {
    normalTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n << 24;
      for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ CRC32_POLY : c << 1;
      normalTable[n] = c;
    }
  }
  return normalTable;
}

/**
 * Continues the reflected CRC-32 (the one of gzip, zlib's `crc32`, lzop and xz) `crc` over
 * `bytes[start, end)`. Start with 0; the result is unsigned.
 *
 * @example
 * ```ts
 * import { crc32 } from "./checksum.ts";
 * console.log(crc32(0, new TextEncoder().encode("123456789")).toString(16)); // cbf43926
 * ```
 */
export function crc32(crc: number, bytes: Uint8Array, start = 0, end: number = bytes.byteLength): number {
  const t = reflected();
  let c = ~crc;
  let i = start;
  // Slicing by 8: eight table lookups per eight bytes, independent of each other.
  for (; i + 8 <= end; i += 8) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t[0x700 + (c & 0xff)] ^ t[0x600 + ((c >> 8) & 0xff)] ^ t[0x500 + ((c >> 16) & 0xff)] ^
      t[0x400 + ((c >> 24) & 0xff)] ^ t[0x300 + bytes[i + 4]] ^ t[0x200 + bytes[i + 5]] ^ t[0x100 + bytes[i + 6]] ^
      t[bytes[i + 7]];
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Continues Adler-32 (RFC 1950, section 8.2) `adler` over `bytes[start, end)`. Start with 1; the result
 * is unsigned.
 *
 * @example
 * ```ts
 * import { adler32 } from "./checksum.ts";
 * console.log(adler32(1, new TextEncoder().encode("Wikipedia")).toString(16)); // 11e60398
 * ```
 */
export function adler32(adler: number, bytes: Uint8Array, start = 0, end: number = bytes.byteLength): number {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + ADLER_NMAX);
    for (; i < stop; i++) {
      a += bytes[i];
      b += a;
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
  }
  return ((b << 16) | a) >>> 0;
}
