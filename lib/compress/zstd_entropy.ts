/**
 * The entropy layer of the zstd decoder (RFC 8878 section 4): FSE distributions and decoding tables (section
 * 4.1), Huffman tree descriptions and Huffman-coded literal streams (section 4.2). Internal to
 * `lib/compress/zstd.ts`, which re-exports nothing from here.
 *
 * Every table is a typed array filled once per description; decoding reads bits from the end of a stream
 * towards its start through a 32-bit container (`bits`) of the four bytes at `pos`, of which `used` top bits
 * are consumed. Bits before a stream's first byte read as zeros and count as consumed, so a stream that ends
 * early is caught by the exact-length check every stream gets at its end.
 *
 * @module
 */

import { DecompressError, type DecompressErrorCode, hex } from "../errors.ts";

/**
 * The zstd decoder's error: names the format, the input offset and what was wrong. `value` defaults to the
 * offset.
 */
export function zstdError(
  code: DecompressErrorCode,
  offset: number,
  what: string,
  field = "zstd",
  value: number = offset,
  limit?: number,
): DecompressError {
  return new DecompressError(code, `ZSTD: ${what} (input offset ${hex(offset)})`, { field, value, limit });
}

/** Throws {@linkcode zstdError}. */
export function zstdFail(code: DecompressErrorCode, offset: number, what: string, field = "zstd"): never {
  throw zstdError(code, offset, what, field);
}

/** Index of the highest set bit of a positive 32-bit number. */
export function highBit(x: number): number {
  return 31 - Math.clz32(x);
}

/** The 32-bit little-endian word at `p`; bytes before `start` read as zero (a stream's virtual zero bits). */
export function loadBelow(src: Uint8Array, start: number, p: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) {
    const idx = p + i;
    v = (v << 8) | (idx >= start ? src[idx] : 0);
  }
  return v;
}

/** The 32-bit little-endian word at `p` (all four bytes inside `src`). */
export function load32(src: Uint8Array, p: number): number {
  return src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
}

/**
 * `n` (0..24) bits of the backward stream `src[start, ...)` starting at bit `off` (from the stream's first
 * byte, little endian); bits at negative offsets are zeros. Slow and simple: for headers, not hot loops.
 */
function bitsAt(src: Uint8Array, start: number, off: number, n: number): number {
  if (n === 0) return 0;
  if (off < 0) {
    if (off + n <= 0) return 0;
    return bitsAt(src, start, 0, off + n) << -off;
  }
  const p = start + (off >> 3);
  const v = (src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24)) >>> (off & 7);
  return v & ((1 << n) - 1);
}

// ---------------------------------------------------------------------------------------------------------------
// FSE (RFC 8878 4.1)

/** "Accuracy_Log = low4bits + 5" (4.1.1): the smallest accuracy log a description can give. */
const FSE_MIN_ACCURACY_LOG = 5;

/** What {@linkcode readFseDistribution} found. */
export interface FseDistribution {
  /** Bytes the description occupies ("the bitstream consumes a round number of bytes"). */
  size: number;
  /** `Accuracy_Log`. */
  log: number;
}

/**
 * Reads an FSE table description (4.1.1) at `src[start, end)` into `norm[0..maxSymbol]` (probabilities; -1
 * is "less than 1"). Rejects an accuracy log above `maxLog`, a non-zero probability past `maxSymbol`, and a
 * distribution that does not sum to exactly `1 << Accuracy_Log`.
 */
export function readFseDistribution(
  src: Uint8Array,
  start: number,
  end: number,
  maxSymbol: number,
  maxLog: number,
  norm: Int16Array,
  what: string,
): FseDistribution {
  if (start >= end) zstdFail("Truncated", start, `${what}: the input ends before the FSE table description`);
  const avail = (end - start) * 8;
  // Forward little-endian bits; bytes past `end` read as zero and are caught by the size check at the end.
  const peek = (bp: number, n: number): number => {
    const p = start + (bp >> 3);
    const b0 = p < end ? src[p] : 0, b1 = p + 1 < end ? src[p + 1] : 0, b2 = p + 2 < end ? src[p + 2] : 0;
    return ((b0 | (b1 << 8) | (b2 << 16)) >>> (bp & 7)) & ((1 << n) - 1);
  };
  const log = peek(0, 4) + FSE_MIN_ACCURACY_LOG;
  if (log > maxLog) zstdFail("CorruptData", start, `${what}: accuracy log ${log} is above the maximum ${maxLog}`);
  let bp = 4;
  let remaining = (1 << log) + 1;
  let threshold = 1 << log;
  let nbBits = log + 1;
  let sym = 0;
  let prev0 = false;
  while (remaining > 1) {
    if (sym > maxSymbol) {
      zstdFail("CorruptData", start, `${what}: probabilities go past the last symbol ${maxSymbol}`);
    }
    if (prev0) {
      // "When a symbol has a probability of zero, it is followed by a 2-bits repeat flag ... If it is a 3,
      // another 2-bits repeat flag follows."
      let r: number;
      do {
        if (bp > avail) zstdFail("Truncated", start, `${what}: the FSE table description ends inside zero repeats`);
        r = peek(bp, 2);
        bp += 2;
        for (let i = 0; i < r; i++) {
          if (sym > maxSymbol) {
            zstdFail("CorruptData", start, `${what}: zero probabilities go past the last symbol ${maxSymbol}`);
          }
          norm[sym++] = 0;
        }
      } while (r === 3);
      if (sym > maxSymbol) {
        zstdFail("CorruptData", start, `${what}: probabilities go past the last symbol ${maxSymbol}`);
      }
    }
    const max = 2 * threshold - 1 - remaining;
    let value = peek(bp, nbBits - 1);
    if (value < max) {
      bp += nbBits - 1;
    } else {
      value = peek(bp, nbBits);
      if (value >= threshold) value -= max;
      bp += nbBits;
    }
    const prob = value - 1; // "Probability = Value - 1"
    remaining -= prob < 0 ? -prob : prob;
    norm[sym++] = prob;
    prev0 = prob === 0;
    while (remaining < threshold) {
      nbBits--;
      threshold >>= 1;
    }
    if (bp > avail) zstdFail("Truncated", start, `${what}: the input ends inside the FSE table description`);
  }
  if (remaining !== 1) zstdFail("CorruptData", start, `${what}: probabilities do not sum to ${1 << log}`);
  for (let s = sym; s <= maxSymbol; s++) norm[s] = 0;
  return { size: (bp + 7) >> 3, log };
}

/** Symbol order step of 4.1.1.1: "position += (tableSize>>1) + (tableSize>>3) + 3". */
function spreadStep(size: number): number {
  return (size >> 1) + (size >> 3) + 3;
}

/**
 * Builds an FSE decoding table (4.1.1.1) from `norm[0..maxSymbol]` at accuracy `log`: per state, its symbol,
 * `Number_of_Bits` and `Baseline`. `norm` must sum to `1 << log` (as {@linkcode readFseDistribution} checks).
 */
export function buildFseTable(
  norm: Int16Array,
  maxSymbol: number,
  log: number,
  symbols: Uint8Array,
  nbBits: Uint8Array,
  baselines: Uint16Array,
  next: Uint16Array,
): void {
  const size = 1 << log;
  let high = size - 1;
  for (let s = 0; s <= maxSymbol; s++) {
    if (norm[s] === -1) {
      // "Symbols with this special probability are being attributed a single row, starting from the end of
      // the table and retreating."
      symbols[high--] = s;
      next[s] = 1;
    } else {
      next[s] = norm[s];
    }
  }
  const step = spreadStep(size);
  const mask = size - 1;
  let pos = 0;
  for (let s = 0; s <= maxSymbol; s++) {
    const n = norm[s];
    for (let i = 0; i < n; i++) {
      symbols[pos] = s;
      do pos = (pos + step) & mask; while (pos > high);
    }
  }
  for (let u = 0; u < size; u++) {
    const s = symbols[u];
    const ns = next[s]++;
    const nb = log - highBit(ns);
    nbBits[u] = nb;
    baselines[u] = (ns << nb) - size;
  }
}

/**
 * The three sequence decoding tables live in one Int32Array, a section of {@linkcode SEQ_SECTION} ints each
 * (literals lengths, offsets, match lengths). State `u` of a section at `sec` is the pair at `sec + 2u`: the
 * code's baseline (the length, or `1 << code` for offsets), then `Number_of_Bits` for the next state | the
 * code's extra bits << 8 | the index of the next state's pair for bits 0 (`sec + 2 * Baseline`) << 16.
 */
export const SEQ_SECTION = 1024;

/** Scratch for table building: one set per decoder. */
export class FseScratch {
  /** Probabilities read from a description. */
  readonly norm: Int16Array = new Int16Array(256);
  /** Per state symbol. */
  readonly symbols: Uint8Array = new Uint8Array(512);
  /** Per state bit count. */
  readonly nbBits: Uint8Array = new Uint8Array(512);
  /** Per state baseline. */
  readonly baselines: Uint16Array = new Uint16Array(512);
  /** Next state counter per symbol. */
  readonly next: Uint16Array = new Uint16Array(256);
  /** Huffman weights. */
  readonly weights: Uint8Array = new Uint8Array(256);
}

/**
 * Fills the sequence table section at `sec` of `tab` from `norm[0..maxSymbol]` at accuracy `log`, mapping each
 * code to `codeBase[code]` and `codeBits[code]`.
 */
export function buildSeqSection(
  tab: Int32Array,
  sec: number,
  sc: FseScratch,
  maxSymbol: number,
  log: number,
  codeBase: ArrayLike<number>,
  codeBits: ArrayLike<number>,
): void {
  buildFseTable(sc.norm, maxSymbol, log, sc.symbols, sc.nbBits, sc.baselines, sc.next);
  const size = 1 << log;
  for (let u = 0; u < size; u++) {
    const s = sc.symbols[u];
    tab[sec + 2 * u] = codeBase[s];
    tab[sec + 2 * u + 1] = sc.nbBits[u] | (codeBits[s] << 8) | ((sec + 2 * sc.baselines[u]) << 16);
  }
}

/** Makes the section at `sec` the one-state table of `RLE_Mode`: every sequence uses `code`, no bits move it. */
export function rleSeqSection(
  tab: Int32Array,
  sec: number,
  code: number,
  codeBase: ArrayLike<number>,
  codeBits: ArrayLike<number>,
): void {
  tab[sec] = codeBase[code];
  tab[sec + 1] = (codeBits[code] << 8) | (sec << 16);
}

// ---------------------------------------------------------------------------------------------------------------
// Huffman (RFC 8878 4.2)

/**
 * Largest `Max_Number_of_Bits` accepted. The RFC limits it to 11; the reference decoder accepts 12
 * (`HUF_TABLELOG_MAX`), and so does this one, so that every stream `zstd` itself decodes is decoded here.
 */
export const HUF_MAX_BITS = 12;
/** "For a list of Huffman weights, the maximum accuracy log is 6 bits" (4.2.1.2). */
const HUF_WEIGHTS_MAX_LOG = 6;
/** "The maximum possible decompressed size [of the weights] is 255" (4.2.1.2). */
const HUF_MAX_WEIGHTS = 255;
/** A header byte from 128 up means weights stored directly, 4 bits each (4.2.1.1). */
const HUF_DIRECT_HEADER = 128;

/** A Huffman decoding table: entry `i` (the next `maxBits` bits of the stream) is `symbol | bits << 8`. */
export class HufTable {
  /** `Max_Number_of_Bits`; 0 while no table was described in the frame. */
  maxBits = 0;
  /** `1 << maxBits` entries. */
  readonly dt: Uint16Array = new Uint16Array(1 << HUF_MAX_BITS);
}

/**
 * Reads a `Huffman_Tree_Description` (4.2.1) at `src[start, end)` into `table`; returns its size in bytes.
 */
export function readHuffmanTable(src: Uint8Array, start: number, end: number, table: HufTable, sc: FseScratch): number {
  if (start >= end) zstdFail("Truncated", start, "the input ends before the Huffman tree description");
  const header = src[start];
  const w = sc.weights;
  let n: number;
  let size: number;
  if (header >= HUF_DIRECT_HEADER) {
    // "Number_of_Weights = headerByte - 127", two 4-bit weights per byte, the first in the high nibble.
    n = header - (HUF_DIRECT_HEADER - 1);
    size = 1 + ((n + 1) >> 1);
    if (start + size > end) zstdFail("Truncated", start, `the input ends inside ${n} directly stored Huffman weights`);
    for (let i = 0; i < n; i++) {
      const b = src[start + 1 + (i >> 1)];
      w[i] = (i & 1) === 0 ? b >> 4 : b & 15;
    }
  } else {
    // FSE-compressed weights: "The length of the FSE-compressed series is equal to headerByte".
    size = 1 + header;
    if (header === 0) zstdFail("CorruptData", start, "an FSE-compressed Huffman weight series of 0 bytes");
    if (start + size > end) zstdFail("Truncated", start, `the input ends inside ${header} bytes of Huffman weights`);
    n = decodeWeights(src, start + 1, start + size, sc);
  }
  buildHuffmanTable(table, w, n, start);
  return size;
}

// The two interleaved FSE states of 4.2.1.2 over src[start, end): returns the number of weights.
function decodeWeights(src: Uint8Array, start: number, end: number, sc: FseScratch): number {
  const dist = readFseDistribution(src, start, end, HUF_MAX_BITS, HUF_WEIGHTS_MAX_LOG, sc.norm, "Huffman weights");
  const log = dist.log;
  buildFseTable(sc.norm, HUF_MAX_BITS, log, sc.symbols, sc.nbBits, sc.baselines, sc.next);
  const s = start + dist.size;
  if (s >= end) zstdFail("Truncated", start, "the Huffman weights have a distribution but no bitstream");
  const last = src[end - 1];
  if (last === 0) zstdFail("CorruptData", end - 1, "the Huffman weights bitstream's last byte is 0 (no end mark)");
  // Bits not yet read, counted from the stream's first byte; negative once it is overrun.
  let off = (end - s) * 8 - (Math.clz32(last) - 23);
  const read = (nb: number): number => {
    off -= nb;
    return bitsAt(src, s, off, nb);
  };
  // "If either of the 2 initial states are absent or truncated, then the data is considered corrupted."
  if (off < 2 * log) zstdFail("CorruptData", s, "the Huffman weights bitstream is too short for its two states");
  let state1 = read(log);
  let state2 = read(log);
  const w = sc.weights;
  let n = 0;
  for (;;) {
    // "If updating state after decoding a symbol would require more bits than remain in the stream, it is
    // assumed that extra bits are 0. Then, symbols for each of the final states are decoded."
    if (n > HUF_MAX_WEIGHTS - 2) zstdFail("CorruptData", s, `more than ${HUF_MAX_WEIGHTS} Huffman weights`);
    w[n++] = sc.symbols[state1];
    state1 = sc.baselines[state1] + read(sc.nbBits[state1]);
    if (off < 0) {
      w[n++] = sc.symbols[state2];
      break;
    }
    w[n++] = sc.symbols[state2];
    state2 = sc.baselines[state2] + read(sc.nbBits[state2]);
    if (off < 0) {
      w[n++] = sc.symbols[state1];
      break;
    }
  }
  return n;
}

// Weights w[0..n) (the last symbol's weight implied) to a decoding table (4.2.1.3).
function buildHuffmanTable(table: HufTable, w: Uint8Array, n: number, at: number): void {
  if (n > HUF_MAX_WEIGHTS) zstdFail("CorruptData", at, `${n} Huffman weights, more than ${HUF_MAX_WEIGHTS}`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const x = w[i];
    if (x > HUF_MAX_BITS) zstdFail("CorruptData", at, `Huffman weight ${x} is above ${HUF_MAX_BITS}`);
    if (x > 0) total += 1 << (x - 1);
  }
  if (total === 0) zstdFail("CorruptData", at, "every Huffman weight is 0");
  const maxBits = highBit(total) + 1;
  if (maxBits > HUF_MAX_BITS) {
    zstdFail("CorruptData", at, `the Huffman tree is ${maxBits} bits deep, more than ${HUF_MAX_BITS}`);
  }
  // "The last symbol's Weight is deduced from previously retrieved Weights, by completing to the nearest power
  // of 2 ... If it's not possible to reach a clean power of 2 with a single Weight value, the Huffman Tree
  // Description is considered invalid."
  const rest = (1 << maxBits) - total;
  if ((rest & (rest - 1)) !== 0) zstdFail("CorruptData", at, "the Huffman weights do not complete to a power of 2");
  w[n] = highBit(rest) + 1;
  const count = n + 1;
  let ones = 0;
  for (let i = 0; i < count; i++) if (w[i] === 1) ones++;
  // The least frequent symbols have weight 1 and come in pairs in a complete prefix code (the reference
  // decoder checks the same).
  if (ones < 2 || (ones & 1) !== 0) {
    zstdFail("CorruptData", at, `${ones} Huffman symbols of weight 1 (need an even number, at least 2)`);
  }
  const dt = table.dt;
  let pos = 0;
  for (let weight = 1; weight <= maxBits; weight++) {
    const len = 1 << (weight - 1);
    const entry = (maxBits + 1 - weight) << 8;
    for (let s = 0; s < count; s++) {
      if (w[s] !== weight) continue;
      dt.fill(entry | s, pos, pos + len);
      pos += len;
    }
  }
  table.maxBits = maxBits;
}

/**
 * Decodes one Huffman-coded stream `src[start, end)` (4.2.2) into `out[op, oend)`: exactly `oend - op`
 * symbols, and the stream must be consumed exactly. `view` is a DataView of exactly `src`'s bytes.
 */
export function decodeHufStream(
  src: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  table: HufTable,
  out: Uint8Array,
  op: number,
  oend: number,
): void {
  const used = hufStreamStart(src, start, end);
  hufStreamRest(src, view, start, end, table, out, op, oend, end - 4, used);
}

// Checks a Huffman stream's last byte; returns the bits its end mark and the zeros above it take (consumed
// before the first symbol), counted from the top of the word at end - 4.
function hufStreamStart(src: Uint8Array, start: number, end: number): number {
  if (end <= start) zstdFail("CorruptData", start, "an empty Huffman stream");
  const last = src[end - 1];
  if (last === 0) zstdFail("CorruptData", end - 1, "a Huffman stream's last byte is 0 (no end mark)");
  return Math.clz32(last) - 23;
}

// Decodes out[op, oend) from the stream src[start, end) whose next bits are the word at pos minus its top
// `used` bits, then checks the stream was consumed exactly.
function hufStreamRest(
  src: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  table: HufTable,
  out: Uint8Array,
  op: number,
  oend: number,
  pos: number,
  used: number,
): void {
  const dt = table.dt;
  const shift = 32 - table.maxBits;
  let bits = pos >= start ? view.getInt32(pos, true) : loadBelow(src, start, pos);
  while (op < oend) {
    // After a refill at most 7 bits are used: two symbols of up to 12 bits fit in the rest of the word.
    const nb = used >> 3;
    if (nb !== 0) {
      pos -= nb;
      used &= 7;
      bits = pos >= start ? view.getInt32(pos, true) : loadBelow(src, start, pos);
    }
    let e = dt[(bits << used) >>> shift];
    out[op++] = e;
    used += e >> 8;
    if (op === oend) break;
    e = dt[(bits << used) >>> shift];
    out[op++] = e;
    used += e >> 8;
  }
  // "If a bitstream is not entirely and exactly consumed ... the decoding process is considered faulty."
  if ((end - 4 - pos) * 8 + used !== (end - start) * 8) {
    zstdFail("CorruptData", start, `a Huffman stream of ${end - start} bytes is not consumed exactly`);
  }
}

/**
 * Decodes the four Huffman streams of a literals section, `src[a, b)`, `[b, c)`, `[c, d)`, `[d, e)`, into
 * `out[o1, o2)`, `[o2, o3)`, `[o3, o4)`, `[o4, oEnd)`: two symbols of each stream per round while every stream
 * has two left (four independent chains the processor overlaps), then each stream's rest on its own.
 */
export function decodeHuf4(
  src: Uint8Array,
  view: DataView,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  table: HufTable,
  out: Uint8Array,
  o1: number,
  o2: number,
  o3: number,
  o4: number,
  oEnd: number,
): void {
  let u1 = hufStreamStart(src, a, b), u2 = hufStreamStart(src, b, c);
  let u3 = hufStreamStart(src, c, d), u4 = hufStreamStart(src, d, e);
  let p1 = b - 4, p2 = c - 4, p3 = d - 4, p4 = e - 4;
  let w1 = p1 >= a ? view.getInt32(p1, true) : loadBelow(src, a, p1);
  let w2 = p2 >= b ? view.getInt32(p2, true) : loadBelow(src, b, p2);
  let w3 = p3 >= c ? view.getInt32(p3, true) : loadBelow(src, c, p3);
  let w4 = p4 >= d ? view.getInt32(p4, true) : loadBelow(src, d, p4);
  const dt = table.dt;
  const shift = 32 - table.maxBits;
  let q1 = o1, q2 = o2, q3 = o3, q4 = o4;
  const rounds = Math.min(o2 - o1, o3 - o2, o4 - o3, oEnd - o4) >> 1;
  let x: number;
  for (let r = 0; r < rounds; r++) {
    if (u1 >= 8) p1 -= u1 >> 3, u1 &= 7, w1 = p1 >= a ? view.getInt32(p1, true) : loadBelow(src, a, p1);
    if (u2 >= 8) p2 -= u2 >> 3, u2 &= 7, w2 = p2 >= b ? view.getInt32(p2, true) : loadBelow(src, b, p2);
    if (u3 >= 8) p3 -= u3 >> 3, u3 &= 7, w3 = p3 >= c ? view.getInt32(p3, true) : loadBelow(src, c, p3);
    if (u4 >= 8) p4 -= u4 >> 3, u4 &= 7, w4 = p4 >= d ? view.getInt32(p4, true) : loadBelow(src, d, p4);
    x = dt[(w1 << u1) >>> shift], out[q1++] = x, u1 += x >> 8;
    x = dt[(w2 << u2) >>> shift], out[q2++] = x, u2 += x >> 8;
    x = dt[(w3 << u3) >>> shift], out[q3++] = x, u3 += x >> 8;
    x = dt[(w4 << u4) >>> shift], out[q4++] = x, u4 += x >> 8;
    x = dt[(w1 << u1) >>> shift], out[q1++] = x, u1 += x >> 8;
    x = dt[(w2 << u2) >>> shift], out[q2++] = x, u2 += x >> 8;
    x = dt[(w3 << u3) >>> shift], out[q3++] = x, u3 += x >> 8;
    x = dt[(w4 << u4) >>> shift], out[q4++] = x, u4 += x >> 8;
  }
  hufStreamRest(src, view, a, b, table, out, q1, o2, p1, u1);
  hufStreamRest(src, view, b, c, table, out, q2, o3, p2, u2);
  hufStreamRest(src, view, c, d, table, out, q3, o4, p3, u3);
  hufStreamRest(src, view, d, e, table, out, q4, oEnd, p4, u4);
}
