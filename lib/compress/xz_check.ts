/**
 * The integrity checks an `.xz` block can carry (The .xz File Format 1.1.0, section 3.4 "Check"): CRC32
 * (ID 0x01, what the kernel's `scripts/xz_wrap.sh` asks for with `--check=crc32`), CRC64 (0x04, the xz
 * tool's default) and SHA-256 (0x0A). Each is incremental: `update` over the output chunks as they leave
 * the decoder, then `digest` gives the bytes as the file stores them.
 *
 * @module
 */

/** An incremental checksum over a block's uncompressed data. */
export interface XzChecker {
  /** Feeds the next bytes. */
  update(chunk: Uint8Array): void;
  /** The check field as stored in the file (CRC32 and CRC64 little endian, SHA-256 as its 32 bytes). */
  digest(): Uint8Array;
  /** Starts over for the next block. */
  reset(): void;
}

/** CRC32 polynomial (IEEE 802.3, reflected): "the polynomial used is 0xEDB88320". */
const CRC32_POLY = 0xedb88320;

/**
 * Slicing-by-8 tables for CRC32: table k maps a byte k positions back. Int32Array, and no `>>> 0` in the
 * loops: every value stays a signed 32-bit integer, the representation the JIT keeps in registers.
 */
const CRC32_TABLES: Int32Array = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32_POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * Continues the CRC32 `crc` (start with 0) over `data[start, end)`: the CRC of the xz headers, index and
 * the CRC32 check, the same CRC as gzip's (`crc32("123456789") === 0xCBF43926`).
 */
export function crc32(data: Uint8Array, crc = 0, start = 0, end: number = data.length): number {
  // The 8-byte loop and the byte loop are separate functions: the byte loop runs rarely (output chunks are
  // multiples of 8), and a deoptimisation there then costs only that small function, not the main loop.
  const whole = start + ((end - start) & ~7);
  return ~crc32Bytes(data, crc32Slice8(data, ~crc, start, whole), whole, end) >>> 0;
}

function crc32Slice8(data: Uint8Array, c: number, i: number, end: number): number {
  const t = CRC32_TABLES;
  for (; i < end; i += 8) {
    const lo = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^ t[768 + data[i + 4]] ^ t[512 + data[i + 5]] ^ t[256 + data[i + 6]] ^ t[data[i + 7]];
  }
  return c;
}

function crc32Bytes(data: Uint8Array, c: number, i: number, end: number): number {
  const t = CRC32_TABLES;
  for (; i < end; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c;
}

/** CRC64 polynomial (ECMA-182, reflected) 0xC96C5795D7870F42, as two 32-bit halves. */
const CRC64_POLY_HI = 0xc96c5795;
const CRC64_POLY_LO = 0xd7870f42;

/** CRC64 byte table: high halves then low halves. */
const CRC64_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(512);
  for (let n = 0; n < 256; n++) {
    let hi = 0;
    let lo = n;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi >>>= 1;
      if (bit) {
        hi = (hi ^ CRC64_POLY_HI) >>> 0;
        lo = (lo ^ CRC64_POLY_LO) >>> 0;
      }
    }
    t[n] = hi;
    t[256 + n] = lo;
  }
  return t;
})();

/** CRC32 check (ID 0x01). */
export class Crc32Checker implements XzChecker {
  private crc = 0;
  /** Feeds bytes. */
  update(chunk: Uint8Array): void {
    this.crc = crc32(chunk, this.crc);
  }
  /** 4 bytes, little endian. */
  digest(): Uint8Array {
    const c = this.crc;
    return new Uint8Array([c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24]);
  }
  /** Starts over. */
  reset(): void {
    this.crc = 0;
  }
}

/** CRC64 check (ID 0x04), ECMA-182 polynomial as xz uses it. */
export class Crc64Checker implements XzChecker {
  private hi = 0xffff_ffff;
  private lo = 0xffff_ffff;
  /** Feeds bytes. */
  update(chunk: Uint8Array): void {
    const t = CRC64_TABLE;
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < chunk.length; i++) {
      const idx = (lo ^ chunk[i]) & 0xff;
      // crc = table[idx] ^ (crc >> 8)
      lo = (t[256 + idx] ^ ((lo >>> 8) | (hi << 24))) >>> 0;
      hi = (t[idx] ^ (hi >>> 8)) >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }
  /** 8 bytes, little endian. */
  digest(): Uint8Array {
    const lo = ~this.lo >>> 0;
    const hi = ~this.hi >>> 0;
    const out = new Uint8Array(8);
    for (let i = 0; i < 4; i++) {
      out[i] = (lo >>> (8 * i)) & 0xff;
      out[4 + i] = (hi >>> (8 * i)) & 0xff;
    }
    return out;
  }
  /** Starts over. */
  reset(): void {
    this.hi = this.lo = 0xffff_ffff;
  }
}

/** SHA-256 round constants (FIPS 180-4, 4.2.2). */
const SHA256_K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4, 5.3.3). */
const SHA256_INIT = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** SHA-256 check (ID 0x0A), FIPS 180-4; synchronous and incremental (Web Crypto is neither). */
export class Sha256Checker implements XzChecker {
  private readonly h = new Uint32Array(8);
  private readonly w = new Uint32Array(64);
  private readonly block = new Uint8Array(64);
  private fill = 0;
  private bytes = 0;

  /** A fresh hash. */
  constructor() {
    this.reset();
  }

  /** Starts over. */
  reset(): void {
    this.h.set(SHA256_INIT);
    this.fill = 0;
    this.bytes = 0;
  }

  /** Feeds bytes. */
  update(chunk: Uint8Array): void {
    let i = 0;
    this.bytes += chunk.length;
    if (this.fill > 0) {
      const k = Math.min(64 - this.fill, chunk.length);
      this.block.set(chunk.subarray(0, k), this.fill);
      this.fill += k;
      i = k;
      if (this.fill < 64) return;
      this.compress(this.block, 0);
      this.fill = 0;
    }
    for (; i + 64 <= chunk.length; i += 64) this.compress(chunk, i);
    if (i < chunk.length) {
      this.block.set(chunk.subarray(i), 0);
      this.fill = chunk.length - i;
    }
  }

  /** The 32-byte digest (the hash can not be updated afterwards without `reset`). */
  digest(): Uint8Array {
    const bits = this.bytes * 8;
    const pad = new Uint8Array((this.fill < 56 ? 64 : 128) - this.fill);
    pad[0] = 0x80;
    const n = pad.length;
    // Message length in bits, 64-bit big endian.
    const hi = Math.floor(bits / 0x1_0000_0000);
    pad[n - 8] = hi >>> 24;
    pad[n - 7] = (hi >>> 16) & 0xff;
    pad[n - 6] = (hi >>> 8) & 0xff;
    pad[n - 5] = hi & 0xff;
    pad[n - 4] = (bits >>> 24) & 0xff;
    pad[n - 3] = (bits >>> 16) & 0xff;
    pad[n - 2] = (bits >>> 8) & 0xff;
    pad[n - 1] = bits & 0xff;
    const total = this.bytes;
    this.update(pad);
    this.bytes = total;
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      const v = this.h[i];
      out[4 * i] = v >>> 24;
      out[4 * i + 1] = (v >>> 16) & 0xff;
      out[4 * i + 2] = (v >>> 8) & 0xff;
      out[4 * i + 3] = v & 0xff;
    }
    return out;
  }

  private compress(data: Uint8Array, at: number): void {
    const w = this.w;
    const k = SHA256_K;
    for (let t = 0; t < 16; t++) {
      const j = at + 4 * t;
      w[t] = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    const h = this.h;
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let t = 0; t < 64; t++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + s1 + ch + k[t] + w[t]) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (s0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
}
