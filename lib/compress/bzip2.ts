/**
 * bzip2 decoder (the format of `bzip2` 0.9.5 and later, and of `CONFIG_KERNEL_BZIP2` payloads), streaming
 * into a {@linkcode ByteSink}. There is no formal specification; the reference is the `bzip2` program's
 * own `decompress.c`, and Linux `lib/decompress_bunzip2.c` says what the kernel accepts.
 *
 * A stream is "BZh" and a level digit '1'..'9' (the block size in units of 100 000 bytes), then blocks, each
 * opened by the 48-bit magic 0x314159265359 (pi) and its CRC, then the end-of-stream magic 0x177245385090
 * (sqrt(pi)) and the CRC of the whole stream; the bit stream is padded to a byte there. Streams may be
 * concatenated (`cat a.bz2 b.bz2`, pbzip2); decoding stops after the last one and reports where.
 *
 * A block is decoded in the order the encoder's steps are undone: Huffman codes (2 to 6 tables, switched
 * every 50 symbols by the selectors, themselves move-to-front coded), the zero-run coding RUNA/RUNB and the
 * move-to-front transform, then the inverse Burrows-Wheeler transform, then the initial run-length coding
 * (four equal bytes and a count). The window is one block: a `Uint32Array` of at most 900 000 entries,
 * allocated once per stream for its level. Output goes to the sink in chunks of at most
 * {@linkcode BZIP2_CHUNK} bytes; the block CRC is checked when the block's output is complete, so a sink
 * can see up to one block of output before a CRC failure (a loader verifies with a counting pass first).
 *
 * Randomised blocks (a bzip2 0.9.0 feature no encoder has written since 0.9.5) are refused, as Linux does.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { crc32BigEndianTable } from "./checksum.ts";
import { type ByteSink, checkMaxOutput, type DecodeOptions, type DecodeResult } from "./sink.ts";
import { optionalObject, requireBytes, requireObject } from "../guard.ts";

/** "BZh": the stream signature ("B", "Z", and 'h' for Huffman coding). */
export const BZIP2_MAGIC: readonly number[] = [0x42, 0x5a, 0x68];

/** Output is handed to the sink in chunks of at most this many bytes (64 KiB). */
export const BZIP2_CHUNK = 1 << 16;

/** Block magic: the BCD digits of pi, 0x314159265359, as two 24-bit halves. */
const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
/** End-of-stream magic: the BCD digits of sqrt(pi), 0x177245385090, as two 24-bit halves. */
const EOS_MAGIC_HI = 0x177245;
const EOS_MAGIC_LO = 0x385090;
/** Level '1'..'9': the block holds at most level x 100 000 bytes before the Burrows-Wheeler transform. */
const BLOCK_UNIT = 100_000;
/** "BZ_N_GROUPS": at most six Huffman tables; "BZ_N_GROUPS" at least two (decompress.c rejects fewer). */
const MIN_GROUPS = 2;
const MAX_GROUPS = 6;
/** "BZ_G_SIZE": the table changes every 50 symbols. */
const GROUP_SIZE = 50;
/** "BZ_MAX_CODE_LEN": code lengths run from 1 to 20 bits (Linux: MAX_HUFCODE_BITS 20). */
const MAX_CODE_LEN = 20;
/** The 15-bit selector count field can say up to 32767 (Linux keeps them all, as here). */
const MAX_SELECTORS = 32767;
/** Symbols RUNA and RUNB code runs of the front symbol in bijective base 2. */
const RUNA = 0;
const RUNB = 1;
/** Initial run-length coding: four equal bytes are followed by a count of 0..255 more. */
const RLE1_RUN = 4;
/** Bits of the first-level Huffman lookup table; longer codes take the canonical slow path. */
const FAST_BITS = 10;
const FAST_SIZE = 1 << FAST_BITS;

/** Options of {@linkcode decodeBzip2}. */
export type Bzip2Options = DecodeOptions;

/** A Huffman table ready for decoding: a 10-bit lookup and the canonical limits for longer codes. */
interface HuffTable {
  /** `fast[peek 10 bits]` = symbol << 5 | length, or 0 when the code is longer than 10 bits (or unused). */
  fast: Int32Array;
  /** Per length: the first canonical code, the index of its symbol in `perm`, and the count. */
  first: Int32Array;
  index: Int32Array;
  count: Int32Array;
  /** Symbols in canonical order (by length, then symbol). */
  perm: Int32Array;
  maxLen: number;
}

function newTable(): HuffTable {
  return {
    fast: new Int32Array(FAST_SIZE),
    first: new Int32Array(MAX_CODE_LEN + 2),
    index: new Int32Array(MAX_CODE_LEN + 2),
    count: new Int32Array(MAX_CODE_LEN + 2),
    perm: new Int32Array(258),
    maxLen: 0,
  };
}

/**
 * Decodes every bzip2 stream at the start of `input` into `sink`. Stops after the last stream (a
 * following "BZh" starts another one; anything else, such as a kernel's four-byte size trailer, is left
 * unread and `consumed` says where it begins).
 *
 * Errors ({@linkcode DecompressError}, each naming the input offset): `BadMagic` (no "BZh1".."BZh9" at the
 * start), `Truncated` (input ends inside a stream), `CorruptData` (a bad block or table, a randomised
 * block, a block or stream CRC mismatch), `OutputTooLarge` (output would pass `maxOutput`, default 1 GiB;
 * checked before a chunk reaches the sink).
 *
 * @example Decode what the bzip2 tool wrote for "hello\n"
 * ```ts
 * import { BufferSink, decodeBzip2 } from "@linux-loader/linux-loader";
 * // The output of `printf 'hello\n' | bzip2 -9`
 * const packed = Uint8Array.from(atob("QlpoOTFBWSZTWcHAgOIAAAFBAAAQAkSgADDNAMNGKZcXckU4UJDBwIDi"), (c) => c.charCodeAt(0));
 * const sink = new BufferSink(new Uint8Array(16));
 * const r = decodeBzip2(packed, sink);
 * console.log(new TextDecoder().decode(sink.bytes()), r.consumed === packed.length); // "hello\n" true
 * ```
 */
export function decodeBzip2(input: Uint8Array, sink: ByteSink, options?: Bzip2Options): DecodeResult {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  const maxOutput = checkMaxOutput(options);
  const d = new Bzip2Decoder(input, sink, maxOutput);
  return d.run();
}

class Bzip2Decoder {
  // Bit reader: the low `bitCount` bits of `bitBuf` are the next bits, most significant first.
  private pos = 0;
  private bitBuf = 0;
  private bitCount = 0;
  private readonly end: number;

  private tt: Uint32Array = new Uint32Array(0);
  private readonly tables: HuffTable[] = [];
  private readonly selectors = new Uint8Array(MAX_SELECTORS);
  private readonly lengths = new Uint8Array(258);
  private readonly crcTable = crc32BigEndianTable();

  private readonly chunk = new Uint8Array(BZIP2_CHUNK);
  private chunkLen = 0;
  private written = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly sink: ByteSink,
    private readonly maxOutput: number,
  ) {
    this.end = input.byteLength;
    for (let i = 0; i < MAX_GROUPS; i++) this.tables.push(newTable());
  }

  run(): DecodeResult {
    let streams = 0;
    let consumed = 0;
    for (;;) {
      const at = consumed;
      const level = this.streamLevel(at);
      if (level === 0) {
        if (streams === 0) {
          const got = Array.from(this.input.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
          throw new DecompressError("BadMagic", `not bzip2: starts with "${got}", expected "BZh" and a level 1-9`, {
            field: "magic",
            value: got,
            limit: "42 5a 68 31..39",
          });
        }
        break;
      }
      this.pos = at + 4;
      this.bitBuf = 0;
      this.bitCount = 0;
      this.decodeStream(level);
      // The stream ends at the next byte boundary.
      this.bitCount -= this.bitCount & 7;
      consumed = this.pos - (this.bitCount >>> 3);
      streams++;
    }
    this.flush();
    return { consumed, written: this.written };
  }

  /** The level of a stream header at `at` ("BZh" and '1'..'9'), or 0 when there is none. */
  private streamLevel(at: number): number {
    const b = this.input;
    if (this.end - at < 4 || b[at] !== 0x42 || b[at + 1] !== 0x5a || b[at + 2] !== 0x68) return 0;
    const level = b[at + 3] - 0x30;
    return level >= 1 && level <= 9 ? level : 0;
  }

  private fail(code: "Truncated" | "CorruptData" | "Unsupported", what: string): never {
    const offset = Math.max(0, Math.min(this.pos, this.end) - (this.bitCount >>> 3));
    throw new DecompressError(code, `bzip2: ${what} (input offset ${hex(offset)})`, { field: "bzip2", value: offset });
  }

  /** Reads `n` (at most 24) bits. */
  private bits(n: number): number {
    while (this.bitCount < n) {
      if (this.pos >= this.end) this.fail("Truncated", "the input ends inside a stream");
      this.bitBuf = (this.bitBuf << 8) | this.input[this.pos++];
      this.bitCount += 8;
    }
    this.bitCount -= n;
    return (this.bitBuf >>> this.bitCount) & ((1 << n) - 1);
  }

  private decodeStream(level: number): void {
    const blockMax = level * BLOCK_UNIT;
    if (this.tt.length < blockMax) this.tt = new Uint32Array(blockMax);
    let streamCrc = 0;
    for (;;) {
      const hi = this.bits(24);
      const lo = this.bits(24);
      if (hi === BLOCK_MAGIC_HI && lo === BLOCK_MAGIC_LO) {
        const stored = ((this.bits(16) << 16) | this.bits(16)) >>> 0;
        const crc = this.decodeBlock(blockMax);
        if (crc !== stored) {
          this.fail("CorruptData", `block CRC ${hex(crc)} does not match the stored ${hex(stored)}`);
        }
        streamCrc = (((streamCrc << 1) | (streamCrc >>> 31)) ^ crc) >>> 0;
      } else if (hi === EOS_MAGIC_HI && lo === EOS_MAGIC_LO) {
        const stored = ((this.bits(16) << 16) | this.bits(16)) >>> 0;
        if (stored !== streamCrc) {
          this.fail("CorruptData", `stream CRC ${hex(streamCrc)} does not match the stored ${hex(stored)}`);
        }
        return;
      } else {
        this.fail("CorruptData", `expected a block or end-of-stream magic, found ${hex(hi * 0x1000000 + lo)}`);
      }
    }
  }

  /** Decodes one block after its CRC field; returns the CRC of its output. */
  private decodeBlock(blockMax: number): number {
    if (this.bits(1)) this.fail("Unsupported", "randomised block (obsolete since bzip2 0.9.5, refused as Linux does)");
    const origPtr = this.bits(24);

    // The symbol map: 16 bits say which ranges of 16 byte values are used, then 16 bits per used range.
    const seqToUnseq = new Uint8Array(256);
    let inUse = 0;
    const ranges = this.bits(16);
    for (let i = 0; i < 16; i++) {
      if (ranges & (0x8000 >>> i)) {
        const used = this.bits(16);
        for (let j = 0; j < 16; j++) if (used & (0x8000 >>> j)) seqToUnseq[inUse++] = i * 16 + j;
      }
    }
    if (inUse === 0) this.fail("CorruptData", "the block uses no byte values");
    const alphaSize = inUse + 2;

    const nGroups = this.bits(3);
    if (nGroups < MIN_GROUPS || nGroups > MAX_GROUPS) {
      this.fail("CorruptData", `${nGroups} Huffman tables (2 to 6 allowed)`);
    }
    const nSelectors = this.bits(15);
    if (nSelectors === 0) this.fail("CorruptData", "no selectors");
    // Selectors are move-to-front coded, each in unary.
    const mtfGroups = [0, 1, 2, 3, 4, 5];
    for (let i = 0; i < nSelectors; i++) {
      let j = 0;
      while (this.bits(1)) {
        if (++j >= nGroups) this.fail("CorruptData", `selector ${i} names a table past the ${nGroups} given`);
      }
      const v = mtfGroups[j];
      for (; j > 0; j--) mtfGroups[j] = mtfGroups[j - 1];
      mtfGroups[0] = v;
      this.selectors[i] = v;
    }

    // Code lengths, delta coded: a 5-bit start, then per symbol "1x" steps (10: +1, 11: -1) ended by a 0.
    for (let g = 0; g < nGroups; g++) {
      let len = this.bits(5);
      for (let s = 0; s < alphaSize; s++) {
        for (;;) {
          if (len < 1 || len > MAX_CODE_LEN) this.fail("CorruptData", `code length ${len} outside 1..20`);
          if (!this.bits(1)) break;
          len += this.bits(1) ? -1 : 1;
        }
        this.lengths[s] = len;
      }
      this.buildTable(this.tables[g], alphaSize);
    }

    // Symbols: RUNA/RUNB runs and move-to-front indices, into tt's low bytes; byte counts for the BWT.
    const tt = this.tt;
    const counts = new Int32Array(256);
    const mtf = new Uint8Array(256);
    for (let i = 0; i < 256; i++) mtf[i] = i;
    const eob = alphaSize - 1;
    const input = this.input;
    const end = this.end;
    let pos = this.pos;
    let bitBuf = this.bitBuf;
    let bitCount = this.bitCount;
    let n = 0;
    let run = 0;
    let runWeight = 1;
    let groupLeft = 0;
    let selector = 0;
    let table = this.tables[0];
    let fast = table.fast;
    for (;;) {
      if (groupLeft === 0) {
        if (selector >= nSelectors) {
          this.pos = pos, this.bitBuf = bitBuf, this.bitCount = bitCount;
          this.fail("CorruptData", `the block needs more than its ${nSelectors} selectors`);
        }
        table = this.tables[this.selectors[selector++]];
        fast = table.fast;
        groupLeft = GROUP_SIZE;
      }
      groupLeft--;
      // Refill to at least 24 bits; past the input's end, zero bytes stand in (at most 3, checked below).
      while (bitCount <= 24) {
        bitBuf = (bitBuf << 8) | (pos < end ? input[pos] : 0);
        pos++;
        bitCount += 8;
      }
      let sym: number;
      const e = fast[(bitBuf >>> (bitCount - FAST_BITS)) & (FAST_SIZE - 1)];
      if (e !== 0) {
        bitCount -= e & 31;
        sym = e >>> 5;
      } else {
        sym = -1;
        for (let len = FAST_BITS + 1; len <= table.maxLen; len++) {
          const code = (bitBuf >>> (bitCount - len)) & ((1 << len) - 1);
          const k = code - table.first[len];
          if (k >= 0 && k < table.count[len]) {
            bitCount -= len;
            sym = table.perm[table.index[len] + k];
            break;
          }
        }
        if (sym < 0) {
          this.pos = pos, this.bitBuf = bitBuf, this.bitCount = bitCount;
          this.fail("CorruptData", "a bit pattern that is no Huffman code of the table");
        }
      }
      if (pos - (bitCount >>> 3) > end) {
        this.pos = end + 1, this.bitCount = 0;
        this.fail("Truncated", "the input ends inside a block");
      }
      if (sym <= RUNB) {
        // Bijective base 2: RUNA adds 1 x weight, RUNB 2 x weight.
        run += sym === RUNA ? runWeight : runWeight << 1;
        runWeight <<= 1;
        if (run > blockMax) {
          this.pos = pos, this.bitBuf = bitBuf, this.bitCount = bitCount;
          this.fail("CorruptData", `a run passes the block size of ${blockMax} bytes`);
        }
        continue;
      }
      if (run > 0) {
        if (run > blockMax - n) {
          this.pos = pos, this.bitBuf = bitBuf, this.bitCount = bitCount;
          this.fail("CorruptData", `the block passes its size of ${blockMax} bytes`);
        }
        const b = seqToUnseq[mtf[0]];
        counts[b] += run;
        tt.fill(b, n, n + run);
        n += run;
        run = 0;
        runWeight = 1;
      }
      if (sym === eob) break;
      if (n >= blockMax) {
        this.pos = pos, this.bitBuf = bitBuf, this.bitCount = bitCount;
        this.fail("CorruptData", `the block passes its size of ${blockMax} bytes`);
      }
      // Move-to-front index sym - 1.
      let j = sym - 1;
      const v = mtf[j];
      if (j < 16) {
        for (; j > 0; j--) mtf[j] = mtf[j - 1];
      } else {
        mtf.copyWithin(1, 0, j);
      }
      mtf[0] = v;
      const b = seqToUnseq[v];
      counts[b]++;
      tt[n++] = b;
    }
    // Give back the zero bytes that stood in past the end (none of their bits was consumed: checked above).
    while (pos > end) {
      pos--;
      bitBuf >>= 8;
      bitCount -= 8;
    }
    this.pos = pos;
    this.bitBuf = bitBuf;
    this.bitCount = bitCount;

    if (origPtr >= n) this.fail("CorruptData", `origPtr ${origPtr} is not below the block's ${n} bytes`);

    // Inverse BWT: tt[i] = byte | (position of the next byte) << 8.
    const cftab = new Int32Array(256);
    for (let i = 0, sum = 0; i < 256; i++) {
      cftab[i] = sum;
      sum += counts[i];
    }
    for (let i = 0; i < n; i++) {
      const b = tt[i] & 0xff;
      tt[cftab[b]++] |= i << 8;
    }
    return this.emitBlock(n, tt[origPtr] >>> 8);
  }

  /** Builds the canonical Huffman table of `lengths[0, alphaSize)`; refuses an over-subscribed code. */
  private buildTable(t: HuffTable, alphaSize: number): void {
    const count = t.count;
    count.fill(0);
    let maxLen = 0;
    for (let s = 0; s < alphaSize; s++) {
      count[this.lengths[s]]++;
      if (this.lengths[s] > maxLen) maxLen = this.lengths[s];
    }
    let code = 0;
    let index = 0;
    for (let len = 1; len <= MAX_CODE_LEN; len++) {
      t.first[len] = code;
      t.index[len] = index;
      code += count[len];
      index += count[len];
      if (code > 1 << len) this.fail("CorruptData", "over-subscribed Huffman code lengths");
      code <<= 1;
    }
    t.maxLen = maxLen;
    // Symbols in canonical order.
    const next = new Int32Array(MAX_CODE_LEN + 1);
    for (let len = 1; len <= MAX_CODE_LEN; len++) next[len] = t.index[len];
    for (let s = 0; s < alphaSize; s++) t.perm[next[this.lengths[s]]++] = s;
    // First-level lookup for codes of at most FAST_BITS bits.
    t.fast.fill(0);
    for (let len = 1; len <= Math.min(FAST_BITS, maxLen); len++) {
      for (let k = 0; k < count[len]; k++) {
        const sym = t.perm[t.index[len] + k];
        const c = t.first[len] + k;
        const shift = FAST_BITS - len;
        t.fast.fill((sym << 5) | len, c << shift, (c + 1) << shift);
      }
    }
  }

  /**
   * Walks the inverse BWT from `tPos`, undoes the initial run-length coding and sends the bytes to the
   * sink; returns their CRC.
   */
  private emitBlock(n: number, tPos: number): number {
    const tt = this.tt;
    const crcTable = this.crcTable;
    const chunk = this.chunk;
    let len = this.chunkLen;
    let crc = -1;
    let last = -1;
    let same = 0;
    for (let i = 0; i < n; i++) {
      tPos = tt[tPos];
      const b = tPos & 0xff;
      tPos >>>= 8;
      if (same === RLE1_RUN) {
        // b is a count of further copies of `last`.
        for (let k = 0; k < b; k++) {
          if (len === BZIP2_CHUNK) {
            this.chunkLen = len;
            this.flush();
            len = 0;
          }
          chunk[len++] = last;
          crc = (crc << 8) ^ crcTable[((crc >>> 24) ^ last) & 0xff];
        }
        same = 0;
        continue;
      }
      if (b === last) same++;
      else {
        same = 1;
        last = b;
      }
      if (len === BZIP2_CHUNK) {
        this.chunkLen = len;
        this.flush();
        len = 0;
      }
      chunk[len++] = b;
      crc = (crc << 8) ^ crcTable[((crc >>> 24) ^ b) & 0xff];
    }
    this.chunkLen = len;
    return ~crc >>> 0;
  }

  /** Hands the pending chunk to the sink, after the limit check. */
  private flush(): void {
    const len = this.chunkLen;
    if (len === 0) return;
    if (len > this.maxOutput - this.written) {
      throw new DecompressError(
        "OutputTooLarge",
        `bzip2 output passes the limit of ${this.maxOutput} bytes (input offset ${hex(this.pos)})`,
        { field: "maxOutput", value: this.written + len, limit: this.maxOutput },
      );
    }
    this.sink.write(this.chunk.subarray(0, len));
    this.written += len;
    this.chunkLen = 0;
  }
}
