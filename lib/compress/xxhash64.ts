/**
 * XXH64 (seed 0), the hash a zstd frame's `Content_Checksum` holds the low 32 bits of
 * (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), computed with 32-bit integer math only:
 * every 64-bit value is a pair of unsigned 32-bit halves, a 64-bit product is built from
 * `Math.imul` (the low half) and a 16-bit split (the high half), so no BigInt and no allocation per byte.
 *
 * Internal to the zstd decoder (not re-exported from `mod.ts`).
 *
 * @module
 */

// The five primes of the specification, as high and low 32-bit halves.
const P1_HI = 0x9e3779b1, P1_LO = 0x85ebca87; // PRIME64_1 = 0x9E3779B185EBCA87
const P2_HI = 0xc2b2ae3d, P2_LO = 0x27d4eb4f; // PRIME64_2 = 0xC2B2AE3D27D4EB4F
const P3_HI = 0x165667b1, P3_LO = 0x9e3779f9; // PRIME64_3 = 0x165667B19E3779F9
const P4_HI = 0x85ebca77, P4_LO = 0xc2b2ae63; // PRIME64_4 = 0x85EBCA77C2B2AE63
const P5_HI = 0x27d4eb2f, P5_LO = 0x165667c5; // PRIME64_5 = 0x27D4EB2F165667C5

/** 2^-32: scales a product's high word down to units. */
const TWO_TO_MINUS_32 = 2 ** -32;

/** Bytes per stripe: four 8-byte lanes. */
const STRIPE = 32;

/** High 32 bits of the 64-bit product of two unsigned 32-bit numbers (exact: every partial product < 2^32). */
function mulHi(a: number, b: number): number {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const m1 = aH * bL, m2 = aL * bH;
  const mid = ((aL * bL) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  return aH * bH + (m1 >>> 16) + (m2 >>> 16) + (mid >>> 16);
}

/**
 * Streaming XXH64 with seed 0: `update` with the bytes in order, then `digestLow32` (all zstd needs) or
 * `digest` (both halves).
 */
export class Xxh64 {
  // Four accumulators as [v1h, v1l, v2h, v2l, v3h, v3l, v4h, v4l] (a typed array, so that the values never
  // change an object field's representation and deoptimise the loop).
  private readonly acc = new Uint32Array(8);
  /** Bytes hashed so far (exact up to 2^53). */
  private total = 0;
  /** A partial stripe waiting for more bytes. */
  private readonly buf = new Uint8Array(STRIPE);
  private bufLen = 0;
  // Result of the last 64-bit operation (hi, lo): scratch registers instead of returned objects.
  private rh = 0;
  private rl = 0;

  /** A fresh hash (seed 0). */
  constructor() {
    this.reset();
  }

  /** Starts over, as a fresh hash with seed 0. */
  reset(): void {
    // v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1 (mod 2^64).
    const a = this.acc;
    const lo = P1_LO + P2_LO;
    a[1] = lo;
    a[0] = P1_HI + P2_HI + (lo > 0xffffffff ? 1 : 0);
    a[2] = P2_HI;
    a[3] = P2_LO;
    a[4] = 0;
    a[5] = 0;
    // -P1 = ~P1 + 1
    const nl = ((~P1_LO) >>> 0) + 1;
    a[7] = nl;
    a[6] = (~P1_HI) + (nl > 0xffffffff ? 1 : 0);
    this.total = 0;
    this.bufLen = 0;
  }

  /** Hashes `data[start, end)` after what was hashed before. */
  update(data: Uint8Array, start = 0, end: number = data.length): void {
    let p = start;
    if (end <= p) return;
    this.total += end - p;
    if (this.bufLen > 0) {
      const take = Math.min(STRIPE - this.bufLen, end - p);
      for (let i = 0; i < take; i++) this.buf[this.bufLen + i] = data[p + i];
      this.bufLen += take;
      p += take;
      if (this.bufLen < STRIPE) return;
      this.stripes(this.buf, 0, STRIPE);
      this.bufLen = 0;
    }
    const whole = p + ((end - p) & ~(STRIPE - 1));
    if (whole > p) this.stripes(data, p, whole);
    for (let i = whole; i < end; i++) this.buf[this.bufLen++] = data[i];
  }

  /** The low 32 bits of the hash of everything given so far (what zstd stores), unsigned. */
  digestLow32(): number {
    this.finish();
    return this.rl;
  }

  /** The 64-bit hash of everything given so far, as `[high, low]` unsigned 32-bit halves. */
  digest(): [number, number] {
    this.finish();
    return [this.rh, this.rl];
  }

  // Consumes whole stripes data[p, end) ((end - p) % 32 === 0) into the four accumulators. Values are int32
  // bit patterns (`| 0` keeps sums in 32 bits). The high word of a 32 x 32-bit product a * b comes from the
  // double product: a * b rounds to within 2^10 of the exact value, minus the exact low word (Math.imul) it is
  // hi * 2^32 to within 2^11, which Math.round of its 2^-32nd recovers exactly.
  private stripes(d: Uint8Array, p: number, end: number): void {
    const a = this.acc;
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let v1h = a[0] | 0, v1l = a[1] | 0, v2h = a[2] | 0, v2l = a[3] | 0;
    let v3h = a[4] | 0, v3l = a[5] | 0, v4h = a[6] | 0, v4l = a[7] | 0;
    let xl: number, xh: number, ml: number, mh: number, sl: number, sh: number, rh: number, rl: number;
    while (p < end) {
      // lane 1: v1 = rotl(v1 + input * P2, 31) * P1
      xl = dv.getInt32(p, true);
      xh = dv.getInt32(p + 4, true);
      ml = Math.imul(xl, P2_LO);
      mh = (Math.round(((xl >>> 0) * P2_LO - (ml >>> 0)) * TWO_TO_MINUS_32) + Math.imul(xh, P2_LO)) | 0;
      mh = (mh + Math.imul(xl, P2_HI)) | 0;
      sl = (v1l + ml) | 0;
      sh = (v1h + mh) | 0;
      sh = (sh + ((sl >>> 0) < (ml >>> 0) ? 1 : 0)) | 0;
      rh = (sh << 31) | (sl >>> 1);
      rl = (sl << 31) | (sh >>> 1);
      v1l = Math.imul(rl, P1_LO);
      mh = (Math.round(((rl >>> 0) * P1_LO - (v1l >>> 0)) * TWO_TO_MINUS_32) + Math.imul(rh, P1_LO)) | 0;
      v1h = (mh + Math.imul(rl, P1_HI)) | 0;
      // lane 2: v2 = rotl(v2 + input * P2, 31) * P1
      xl = dv.getInt32(p + 8, true);
      xh = dv.getInt32(p + 12, true);
      ml = Math.imul(xl, P2_LO);
      mh = (Math.round(((xl >>> 0) * P2_LO - (ml >>> 0)) * TWO_TO_MINUS_32) + Math.imul(xh, P2_LO)) | 0;
      mh = (mh + Math.imul(xl, P2_HI)) | 0;
      sl = (v2l + ml) | 0;
      sh = (v2h + mh) | 0;
      sh = (sh + ((sl >>> 0) < (ml >>> 0) ? 1 : 0)) | 0;
      rh = (sh << 31) | (sl >>> 1);
      rl = (sl << 31) | (sh >>> 1);
      v2l = Math.imul(rl, P1_LO);
      mh = (Math.round(((rl >>> 0) * P1_LO - (v2l >>> 0)) * TWO_TO_MINUS_32) + Math.imul(rh, P1_LO)) | 0;
      v2h = (mh + Math.imul(rl, P1_HI)) | 0;
      // lane 3: v3 = rotl(v3 + input * P2, 31) * P1
      xl = dv.getInt32(p + 16, true);
      xh = dv.getInt32(p + 20, true);
      ml = Math.imul(xl, P2_LO);
      mh = (Math.round(((xl >>> 0) * P2_LO - (ml >>> 0)) * TWO_TO_MINUS_32) + Math.imul(xh, P2_LO)) | 0;
      mh = (mh + Math.imul(xl, P2_HI)) | 0;
      sl = (v3l + ml) | 0;
      sh = (v3h + mh) | 0;
      sh = (sh + ((sl >>> 0) < (ml >>> 0) ? 1 : 0)) | 0;
      rh = (sh << 31) | (sl >>> 1);
      rl = (sl << 31) | (sh >>> 1);
      v3l = Math.imul(rl, P1_LO);
      mh = (Math.round(((rl >>> 0) * P1_LO - (v3l >>> 0)) * TWO_TO_MINUS_32) + Math.imul(rh, P1_LO)) | 0;
      v3h = (mh + Math.imul(rl, P1_HI)) | 0;
      // lane 4: v4 = rotl(v4 + input * P2, 31) * P1
      xl = dv.getInt32(p + 24, true);
      xh = dv.getInt32(p + 28, true);
      ml = Math.imul(xl, P2_LO);
      mh = (Math.round(((xl >>> 0) * P2_LO - (ml >>> 0)) * TWO_TO_MINUS_32) + Math.imul(xh, P2_LO)) | 0;
      mh = (mh + Math.imul(xl, P2_HI)) | 0;
      sl = (v4l + ml) | 0;
      sh = (v4h + mh) | 0;
      sh = (sh + ((sl >>> 0) < (ml >>> 0) ? 1 : 0)) | 0;
      rh = (sh << 31) | (sl >>> 1);
      rl = (sl << 31) | (sh >>> 1);
      v4l = Math.imul(rl, P1_LO);
      mh = (Math.round(((rl >>> 0) * P1_LO - (v4l >>> 0)) * TWO_TO_MINUS_32) + Math.imul(rh, P1_LO)) | 0;
      v4h = (mh + Math.imul(rl, P1_HI)) | 0;
      p += STRIPE;
    }
    a[0] = v1h, a[1] = v1l, a[2] = v2h, a[3] = v2l;
    a[4] = v3h, a[5] = v3l, a[6] = v4h, a[7] = v4l;
  }

  // (rh, rl) = (h, l) * (ch, cl) mod 2^64.
  private mul(h: number, l: number, ch: number, cl: number): void {
    this.rl = Math.imul(l, cl) >>> 0;
    this.rh = (mulHi(l, cl) + Math.imul(h, cl) + Math.imul(l, ch)) >>> 0;
  }

  // (rh, rl) = round(0, (h, l)) = rotl(x * P2, 31) * P1.
  private round0(h: number, l: number): void {
    this.mul(h, l, P2_HI, P2_LO);
    const sh = this.rh, sl = this.rl;
    this.mul(((sh << 31) | (sl >>> 1)) >>> 0, ((sl << 31) | (sh >>> 1)) >>> 0, P1_HI, P1_LO);
  }

  // (rh, rl) = rotl((h, l), n) for 0 < n < 32.
  private rotl(h: number, l: number, n: number): void {
    this.rh = ((h << n) | (l >>> (32 - n))) >>> 0;
    this.rl = ((l << n) | (h >>> (32 - n))) >>> 0;
  }

  // (rh, rl) = (h, l) + (ah, al) mod 2^64.
  private add(h: number, l: number, ah: number, al: number): void {
    const s = l + al;
    this.rl = s >>> 0;
    this.rh = (h + ah + (s > 0xffffffff ? 1 : 0)) >>> 0;
  }

  // Leaves the final hash in (rh, rl); the state is left unchanged, so more updates may follow.
  private finish(): void {
    let hh: number, hl: number;
    if (this.total >= STRIPE) {
      const a = this.acc;
      this.rotl(a[0], a[1], 1);
      hh = this.rh, hl = this.rl;
      this.rotl(a[2], a[3], 7);
      this.add(hh, hl, this.rh, this.rl);
      hh = this.rh, hl = this.rl;
      this.rotl(a[4], a[5], 12);
      this.add(hh, hl, this.rh, this.rl);
      hh = this.rh, hl = this.rl;
      this.rotl(a[6], a[7], 18);
      this.add(hh, hl, this.rh, this.rl);
      hh = this.rh, hl = this.rl;
      for (let i = 0; i < 8; i += 2) {
        // mergeRound: h = (h ^ round(0, v)) * P1 + P4
        this.round0(a[i], a[i + 1]);
        this.mul((hh ^ this.rh) >>> 0, (hl ^ this.rl) >>> 0, P1_HI, P1_LO);
        this.add(this.rh, this.rl, P4_HI, P4_LO);
        hh = this.rh, hl = this.rl;
      }
    } else {
      hh = P5_HI, hl = P5_LO;
    }
    // h += total length (64-bit).
    const totalHi = Math.floor(this.total / 0x100000000) >>> 0;
    this.add(hh, hl, totalHi, this.total >>> 0);
    hh = this.rh, hl = this.rl;

    const b = this.buf;
    let p = 0;
    const n = this.bufLen;
    for (; p + 8 <= n; p += 8) {
      const xl = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
      const xh = (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) >>> 0;
      this.round0(xh, xl);
      // h = rotl(h ^ k1, 27) * P1 + P4
      this.rotl((hh ^ this.rh) >>> 0, (hl ^ this.rl) >>> 0, 27);
      this.mul(this.rh, this.rl, P1_HI, P1_LO);
      this.add(this.rh, this.rl, P4_HI, P4_LO);
      hh = this.rh, hl = this.rl;
    }
    if (p + 4 <= n) {
      const x = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
      // h = rotl(h ^ (x * P1), 23) * P2 + P3
      this.mul(0, x, P1_HI, P1_LO);
      this.rotl((hh ^ this.rh) >>> 0, (hl ^ this.rl) >>> 0, 23);
      this.mul(this.rh, this.rl, P2_HI, P2_LO);
      this.add(this.rh, this.rl, P3_HI, P3_LO);
      hh = this.rh, hl = this.rl;
      p += 4;
    }
    for (; p < n; p++) {
      // h = rotl(h ^ (byte * P5), 11) * P1
      this.mul(0, b[p], P5_HI, P5_LO);
      this.rotl((hh ^ this.rh) >>> 0, (hl ^ this.rl) >>> 0, 11);
      this.mul(this.rh, this.rl, P1_HI, P1_LO);
      hh = this.rh, hl = this.rl;
    }
    // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
    hl = (hl ^ (hh >>> 1)) >>> 0;
    this.mul(hh, hl, P2_HI, P2_LO);
    hh = this.rh, hl = this.rl;
    hl = (hl ^ ((hh << 3) | (hl >>> 29))) >>> 0;
    hh = (hh ^ (hh >>> 29)) >>> 0;
    this.mul(hh, hl, P3_HI, P3_LO);
    hh = this.rh, hl = this.rl;
    this.rh = hh;
    this.rl = (hl ^ hh) >>> 0;
  }
}
