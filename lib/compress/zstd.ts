/**
 * Zstandard decoder (RFC 8878, https://www.rfc-editor.org/rfc/rfc8878; the living text is zstd's
 * `doc/zstd_compression_format.md`), the format Linux builds ZSTD-compressed kernels with
 * (`CONFIG_KERNEL_ZSTD`: `zstd -22 --ultra` in `scripts/Makefile.lib`, then the four-byte size trailer) and
 * that Ubuntu, Fedora and Arch use for their kernels.
 *
 * It decodes every frame and block form the format defines: all frame header variants (single segment or
 * not, each content size and dictionary ID width), raw, RLE and compressed blocks, raw, RLE, Huffman (1 or 4
 * streams) and treeless literals, predefined, RLE, FSE and repeated sequence tables, repeat offsets, skippable
 * frames, several frames in a row, and the XXH64 content checksum. Dictionaries are not supported: a frame
 * that names one (a non-zero `Dictionary_ID`) is refused.
 *
 * Output streams into a {@linkcode ByteSink} one block (at most 128 KiB) at a time. The decoder keeps the
 * window in a ring of `min(Window_Size + 16, maxOutput, Frame_Content_Size)` bytes plus two block-sized
 * areas (one for a block that runs past the ring's end, one for the block's literals), so peak memory is the
 * destination plus the window plus a constant (the ring's pages are touched only as output reaches them).
 * Window sizes up to `2^31` plus its mantissa are accepted (`ZSTD_WINDOWLOG_MAX` of a 64-bit kernel is 31);
 * match offsets of 2 GiB and more are refused (they need more than 2 GiB of output).
 *
 * Speed: a block's sequences are decoded and checked first, then executed; before each batch of sequences
 * one byte of each match source of the next batch is read, so the cache misses of a kernel's long offsets
 * overlap; copies of up to 16 bytes move whole 4-byte words. On Debian's 6.12 kernel payload this runs at
 * about 0.35-0.4 times the speed of `zstd -d` (bench/decompress_zstd_bench.ts).
 *
 * Corrupt input ends in a {@linkcode DecompressError} whose message names ZSTD, the input offset and what
 * was wrong; every loop is bounded by sizes the decoder checked, so no input makes it hang.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { type ByteSink, checkMaxOutput, type DecodeOptions, type DecodeResult } from "./sink.ts";
import { Xxh64 } from "./xxhash64.ts";
import {
  buildSeqSection,
  decodeHuf4,
  decodeHufStream,
  FseScratch,
  HufTable,
  load32,
  loadBelow,
  readFseDistribution,
  readHuffmanTable,
  rleSeqSection,
  SEQ_SECTION,
  zstdError,
  zstdFail,
} from "./zstd_entropy.ts";
import { optionalObject, requireBytes, requireObject } from "../guard.ts";

/** `Magic_Number` of a Zstandard frame, 0xFD2FB528, stored little endian (`28 b5 2f fd`). */
export const ZSTD_MAGIC = 0xfd2fb528;

/** Skippable frames: "any value from 0x184D2A50 to 0x184D2A5F" (the low four bits are free). */
export const ZSTD_SKIPPABLE_MAGIC = 0x184d2a50;

/** Largest `windowLog` accepted: the kernel's `ZSTD_WINDOWLOG_MAX` on 64-bit (31). */
export const ZSTD_WINDOWLOG_MAX = 31;

/** "Block_Maximum_Size ... is the smallest of Window_Size [and] 128 KB." */
const BLOCK_SIZE_MAX = 128 << 10;
/** Mask over the 16 skippable magic numbers. */
const SKIPPABLE_MASK = 0xfffffff0;
/** "windowLog = 10 + Exponent". */
const WINDOW_LOG_MIN = 10;
/** "When FCS_Field_Size is 2, the offset of 256 is added." */
const FCS_2_BYTE_OFFSET = 256;
/** Block types (`Block_Type`, bits 1-2 of the block header). */
const BLOCK_RAW = 0, BLOCK_RLE = 1, BLOCK_COMPRESSED = 2;
/** Literals block types (`Literals_Block_Type`). */
const LIT_RAW = 0, LIT_RLE = 1, LIT_COMPRESSED = 2;
/** Sequence table modes (`Compression_Mode`). */
const MODE_PREDEFINED = 0, MODE_RLE = 1, MODE_FSE = 2;
/** Largest codes: literals lengths 0-35, match lengths 0-52, offsets up to 31 (the reference decoder's N). */
const LL_MAX = 35, ML_MAX = 52, OF_MAX = 31;
/** "The maximum allowed accuracy log for literals length and match length tables is 9, ... offsets ... 8." */
const LL_MAX_LOG = 9, ML_MAX_LOG = 9, OF_MAX_LOG = 8;
/** Match sources are read ahead in batches of this many sequences (see execute()). */
const TOUCH_BATCH = 32;
/**
 * Copies of at most this many bytes move 8 or 16 bytes whatever their length (a fixed number of word copies
 * instead of a loop); the window and the literals area have this much slack after them.
 */
const WILD_COPY = 16;
/** Copies up to this many bytes go four at a time through a DataView; longer ones through copyWithin. */
const SHORT_COPY = 64;
/** Every sequence produces at least 3 bytes (the smallest match), so a block holds at most this many. */
const MAX_SEQUENCES = Math.floor(BLOCK_SIZE_MAX / 3);
/** Offset extra bits that fit in one read after a refill (a refill leaves at most 7 of 32 bits used). */
const ONE_READ_BITS = 25;

/** Literals length baselines and extra bits per code (3.1.1.3.2.1.1). */
// deno-fmt-ignore
const LL_BASE = Int32Array.from([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
  8192, 16384, 32768, 65536,
]);
// deno-fmt-ignore
const LL_BITS = Uint8Array.from([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12,
  13, 14, 15, 16,
]);
/** Match length baselines and extra bits per code (3.1.1.3.2.1.2). */
// deno-fmt-ignore
const ML_BASE = Int32Array.from([
  3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
  19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
  35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
  4099, 8195, 16387, 32771, 65539,
]);
// deno-fmt-ignore
const ML_BITS = Uint8Array.from([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11,
  12, 13, 14, 15, 16,
]);
/** Offset codes: "Offset_Value = (1 << offsetCode) + readNBits(offsetCode)". */
const OF_BASE = Int32Array.from({ length: OF_MAX + 1 }, (_, c) => 2 ** c | 0); // code 31 wraps; see sequences()
const OF_BITS = Uint8Array.from({ length: OF_MAX + 1 }, (_, c) => c);

/** Default distributions (3.1.1.3.2.2) and their accuracy logs. */
// deno-fmt-ignore
const LL_DEFAULT = [
  4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
  -1, -1, -1, -1,
];
// deno-fmt-ignore
const ML_DEFAULT = [
  1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1,
  -1, -1, -1, -1, -1,
];
// deno-fmt-ignore
const OF_DEFAULT = [
  1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
];
const LL_DEFAULT_LOG = 6, ML_DEFAULT_LOG = 6, OF_DEFAULT_LOG = 5;

/** Sections of the sequence table: literals lengths, offsets, match lengths. */
const LL_SEC = 0, OF_SEC = SEQ_SECTION, ML_SEC = 2 * SEQ_SECTION;

// A predefined table built at section `sec` of a table of its own, to be copied into a decoder's.
function predefined(dist: number[], log: number, sec: number, base: Int32Array, bits: Uint8Array): Int32Array {
  const sc = new FseScratch();
  sc.norm.set(dist);
  const tab = new Int32Array(sec + SEQ_SECTION);
  buildSeqSection(tab, sec, sc, dist.length - 1, log, base, bits);
  return tab.subarray(sec, sec + (2 << log));
}
const LL_PREDEFINED = predefined(LL_DEFAULT, LL_DEFAULT_LOG, LL_SEC, LL_BASE, LL_BITS);
const OF_PREDEFINED = predefined(OF_DEFAULT, OF_DEFAULT_LOG, OF_SEC, OF_BASE, OF_BITS);
const ML_PREDEFINED = predefined(ML_DEFAULT, ML_DEFAULT_LOG, ML_SEC, ML_BASE, ML_BITS);

/**
 * True when `bytes` starts with a Zstandard frame's magic number (0xFD2FB528, little endian).
 *
 * @example
 * ```ts
 * import { isZstd } from "@linux-loader/linux-loader";
 * console.log(isZstd(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00]))); // true
 * ```
 */
export function isZstd(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.byteLength >= 4 && bytes[0] === 0x28 && bytes[1] === 0xb5 &&
    bytes[2] === 0x2f && bytes[3] === 0xfd;
}

/**
 * Decodes the Zstandard frames at the start of `input` into `sink`, in order, one block (at most 128 KiB) per
 * `write`.
 *
 * The input must start with a Zstandard or skippable frame. Frames are decoded one after the other while the
 * next four bytes are a frame's magic number; decoding stops at the end of the input or before anything else
 * (a kernel payload's four-byte size trailer, say), and `consumed` says where, so a caller that expects
 * nothing after the frames compares it with `input.length`. A frame's content checksum, when present, and its
 * `Frame_Content_Size`, when given, are checked. Output past `options.maxOutput` (1 GiB by default) is a
 * {@linkcode DecompressError} `OutputTooLarge` before the excess reaches the sink; a frame that declares a
 * larger content size is refused before any of it is decoded.
 *
 * @example Decode a frame holding one raw block
 * ```ts
 * import { BufferSink, decodeZstd } from "@linux-loader/linux-loader";
 * // magic; descriptor 0x20: single segment, 1-byte content size 5; last raw block of 5 bytes; "hello"
 * const frame = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 5, 0x29, 0, 0, 104, 101, 108, 108, 111]);
 * const sink = new BufferSink(new Uint8Array(16));
 * const { consumed, written } = decodeZstd(frame, sink);
 * console.log(consumed, written, new TextDecoder().decode(sink.bytes())); // 14 5 hello
 * ```
 */
export function decodeZstd(input: Uint8Array, sink: ByteSink, options?: DecodeOptions): DecodeResult {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  const maxOutput = checkMaxOutput(options);
  if (!(input instanceof Uint8Array)) zstdFail("BadMagic", 0, "the input is not a Uint8Array", "input");
  // A detached buffer reads as empty (and a DataView of it throws).
  if ((input.buffer as ArrayBuffer).detached === true) {
    zstdFail("BadMagic", 0, "the input's buffer is detached", "input");
  }
  return new ZstdDecoder(input, sink, maxOutput).run();
}

/** The state of one `decodeZstd` call. */
class ZstdDecoder {
  // Output.
  private written = 0;
  private readonly hash = new Xxh64();
  // The window: a ring of `ring` bytes, then a spill area (a block may run past the ring's end; it is moved
  // to the ring's start afterwards), then the literals of the current block.
  private win: Uint8Array = new Uint8Array(0);
  private winView: DataView = new DataView(this.win.buffer);
  private ring = 0;
  private op = 0;
  private litBase = 0;
  // The frame being decoded.
  private windowSize = 0;
  private blockMax = 0;
  private contentSize = -1;
  private produced = 0;
  private rep1 = 1;
  private rep2 = 4;
  private rep3 = 8;
  private readonly sc = new FseScratch();
  private readonly huf = new HufTable();
  // The sequence tables (see SEQ_SECTION), each section's accuracy log (-1: none yet in this frame).
  private readonly seqTab = new Int32Array(3 * SEQ_SECTION);
  private readonly seqLog = new Int32Array(3);
  // The current block's literals: win[litBase, litEnd).
  private litEnd = 0;
  // The current block's sequences, checked: literals length, match length, match source in the window.
  private readonly seqs = new Int32Array(3 * MAX_SEQUENCES);
  // What reading the match sources gave (kept, so the reads are not optimised away).
  private touched = 0;

  // The input's bytes as a DataView: one load per 32-bit bitstream refill.
  private readonly srcView: DataView;

  constructor(private readonly src: Uint8Array, private readonly sink: ByteSink, private readonly maxOutput: number) {
    this.srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
  }

  run(): DecodeResult {
    const src = this.src;
    const n = src.length;
    let ip = 0;
    if (n < 4 || !this.isFrameMagic(0)) {
      zstdFail(
        "BadMagic",
        0,
        n < 4
          ? `not a zstd frame: ${n} bytes of input`
          : `not a zstd frame: magic ${hex(load32(src, 0) >>> 0)}, expected ${hex(ZSTD_MAGIC)}`,
        "Magic_Number",
      );
    }
    while (n - ip >= 4 && this.isFrameMagic(ip)) {
      const magic = load32(src, ip) >>> 0;
      if (magic === ZSTD_MAGIC) ip = this.frame(ip);
      else ip = this.skippable(ip);
    }
    return { consumed: ip, written: this.written };
  }

  private isFrameMagic(ip: number): boolean {
    const m = load32(this.src, ip) >>> 0;
    return m === ZSTD_MAGIC || ((m & SKIPPABLE_MASK) >>> 0) === ZSTD_SKIPPABLE_MAGIC;
  }

  // "Magic_Number, Frame_Size (4 bytes, little endian), User_Data": skipped.
  private skippable(ip: number): number {
    const src = this.src;
    if (src.length - ip < 8) zstdFail("Truncated", ip, "the input ends inside a skippable frame's header");
    const size = load32(src, ip + 4) >>> 0;
    if (size > src.length - ip - 8) {
      zstdFail("Truncated", ip, `a skippable frame of ${size} bytes passes the end of the input`, "Frame_Size");
    }
    return ip + 8 + size;
  }

  // One Zstandard frame at ip; returns the offset after it.
  private frame(frameStart: number): number {
    const src = this.src;
    const n = src.length;
    let ip = frameStart + 4;
    if (ip >= n) zstdFail("Truncated", ip, "the input ends before the frame header");
    const fhd = src[ip];
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd >> 5) & 1;
    const checksumFlag = (fhd >> 2) & 1;
    const didFlag = fhd & 3;
    // "Reserved_bit ... A decoder compliant with this specification version must ensure it is not set."
    if ((fhd & 0x08) !== 0) {
      zstdFail("CorruptData", ip, "the frame header's reserved bit is set", "Frame_Header_Descriptor");
    }
    const didSize = didFlag === 3 ? 4 : didFlag;
    const fcsSize = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
    const headerSize = 1 + (singleSegment ? 0 : 1) + didSize + fcsSize;
    if (n - ip < headerSize) zstdFail("Truncated", ip, `the input ends inside the ${headerSize}-byte frame header`);
    let p = ip + 1;
    let windowSize = 0;
    if (!singleSegment) {
      const wd = src[p++];
      const windowLog = WINDOW_LOG_MIN + (wd >> 3);
      if (windowLog > ZSTD_WINDOWLOG_MAX) {
        zstdFail(
          "CorruptData",
          p - 1,
          `window log ${windowLog} is above the ${ZSTD_WINDOWLOG_MAX} the kernel's decoder allows`,
          "Window_Descriptor",
        );
      }
      const base = 2 ** windowLog;
      windowSize = base + (base / 8) * (wd & 7);
    }
    if (didSize > 0) {
      let did = 0;
      for (let i = didSize - 1; i >= 0; i--) did = did * 256 + src[p + i];
      // "A value of 0 has same meaning as no Dictionary_ID."
      if (did !== 0) {
        zstdFail(
          "Unsupported",
          p,
          `the frame needs dictionary ${did}: dictionaries are not supported`,
          "Dictionary_ID",
        );
      }
      p += didSize;
    }
    let contentSize = -1;
    if (fcsSize > 0) {
      if (fcsSize === 8) {
        const lo = load32(src, p) >>> 0, hi = load32(src, p + 4) >>> 0;
        contentSize = hi * 2 ** 32 + lo; // above 2^53 it is far above any maxOutput; rounding cannot matter
      } else if (fcsSize === 4) contentSize = load32(src, p) >>> 0;
      else if (fcsSize === 2) contentSize = (src[p] | (src[p + 1] << 8)) + FCS_2_BYTE_OFFSET;
      else contentSize = src[p];
      const room = this.maxOutput - this.written;
      if (contentSize > room) {
        throw this.tooLarge(p, `the frame declares ${contentSize} bytes of content`, contentSize);
      }
      p += fcsSize;
    }
    // "When Single_Segment_flag is set ... Window_Size is Frame_Content_Size."
    if (singleSegment) windowSize = contentSize;
    ip = p;

    this.windowSize = windowSize;
    this.blockMax = Math.min(windowSize, BLOCK_SIZE_MAX);
    this.contentSize = contentSize;
    this.produced = 0;
    this.rep1 = 1, this.rep2 = 4, this.rep3 = 8;
    this.seqLog.fill(-1);
    this.huf.maxBits = 0;
    this.hash.reset();
    // The ring holds the window plus WILD_COPY bytes (short copies may write that far past their end, over the
    // ring's oldest bytes, which no offset reaches), but never more than the output can still grow (then it
    // never wraps).
    let ring = Math.min(windowSize + WILD_COPY, this.maxOutput - this.written);
    if (contentSize >= 0) ring = Math.min(ring, contentSize);
    this.setupWindow(ring, frameStart);

    for (;;) {
      if (n - ip < 3) zstdFail("Truncated", ip, "the input ends inside a block header", "Block_Header");
      const bh = src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16);
      const blockStart = ip;
      ip += 3;
      const last = bh & 1;
      const type = (bh >> 1) & 3;
      const size = bh >>> 3;
      if (type === BLOCK_RAW || type === BLOCK_COMPRESSED) {
        if (size > this.blockMax) {
          zstdFail(
            "CorruptData",
            blockStart,
            `a block of ${size} bytes is larger than the frame's ${this.blockMax}`,
            "Block_Size",
          );
        }
        if (size > n - ip) {
          zstdFail("Truncated", blockStart, `a block of ${size} bytes passes the end of the input`, "Block_Size");
        }
      }
      const opStart = this.op;
      if (type === BLOCK_RAW) {
        this.checkRoom(size, blockStart);
        this.win.set(src.subarray(ip, ip + size), opStart);
        this.op = opStart + size;
        ip += size;
      } else if (type === BLOCK_RLE) {
        if (size > this.blockMax) {
          zstdFail(
            "CorruptData",
            blockStart,
            `an RLE block of ${size} bytes is larger than the frame's ${this.blockMax}`,
            "Block_Size",
          );
        }
        if (ip >= n) zstdFail("Truncated", blockStart, "the input ends before an RLE block's byte");
        this.checkRoom(size, blockStart);
        this.win.fill(src[ip], opStart, opStart + size);
        this.op = opStart + size;
        ip += 1;
      } else if (type === BLOCK_COMPRESSED) {
        this.compressedBlock(ip, ip + size);
        ip += size;
      } else {
        zstdFail("CorruptData", blockStart, "block type 3 is reserved", "Block_Type");
      }
      this.flush(opStart);
      if (last) break;
    }
    if (contentSize >= 0 && this.produced !== contentSize) {
      zstdFail(
        "CorruptData",
        ip,
        `the frame holds ${this.produced} bytes but its header says ${contentSize}`,
        "Frame_Content_Size",
      );
    }
    if (checksumFlag) {
      if (n - ip < 4) zstdFail("Truncated", ip, "the input ends inside the content checksum", "Content_Checksum");
      const want = load32(src, ip) >>> 0;
      const got = this.hash.digestLow32();
      if (want !== got) {
        zstdFail(
          "CorruptData",
          ip,
          `content checksum ${hex(want)} does not match the decoded data's ${hex(got)}`,
          "Content_Checksum",
        );
      }
      ip += 4;
    }
    return ip;
  }

  // Allocates (or reuses) the window for a ring of `ring` bytes.
  private setupWindow(ring: number, at: number): void {
    // The spill area and the literals area each have WILD_COPY bytes of slack for short copies' overrun.
    const spill = Math.min(ring, this.blockMax) + WILD_COPY;
    const need = ring + spill + this.blockMax + WILD_COPY;
    if (this.win.length < need) {
      this.win = new Uint8Array(0); // let the old one go first
      this.winView = new DataView(this.win.buffer);
      try {
        this.win = new Uint8Array(need);
        this.winView = new DataView(this.win.buffer);
      } catch (e) {
        zstdFail(
          "OutputTooLarge",
          at,
          `cannot allocate a ${need}-byte window (${(e as Error).message})`,
          "Window_Size",
        );
      }
    }
    this.ring = ring;
    this.litBase = ring + spill;
    this.op = 0;
  }

  // The error for output that would pass maxOutput.
  private tooLarge(at: number, what: string, value: number): Error {
    return zstdError(
      "OutputTooLarge",
      at,
      `${what}, more than the ${this.maxOutput}-byte output limit`,
      "maxOutput",
      value,
      this.maxOutput,
    );
  }

  // Checks that `size` more bytes of this block stay within the block, the frame and the output limit.
  private checkRoom(size: number, at: number): void {
    if (size <= this.blockMax && this.produced + size <= (this.contentSize >= 0 ? this.contentSize : Infinity)) {
      if (size > this.maxOutput - this.written) {
        throw this.tooLarge(at, `output reaches ${this.written + size} bytes`, this.written + size);
      }
      return;
    }
    if (size > this.blockMax) {
      zstdFail(
        "CorruptData",
        at,
        `a block decodes to more than the frame's ${this.blockMax}-byte maximum`,
        "Block_Size",
      );
    }
    zstdFail(
      "CorruptData",
      at,
      `the frame decodes to more than the ${this.contentSize} bytes its header says`,
      "Frame_Content_Size",
    );
  }

  // Hands win[opStart, op) to the checksum and the sink, then folds a spill past the ring back to its start.
  private flush(opStart: number): void {
    const op = this.op;
    const len = op - opStart;
    this.produced += len;
    this.written += len;
    if (len > 0) {
      this.hash.update(this.win, opStart, op);
      this.sink.write(this.win.subarray(opStart, op));
    }
    if (op >= this.ring) {
      this.win.copyWithin(0, this.ring, op);
      this.op = op - this.ring;
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Compressed blocks (3.1.1.3)

  private compressedBlock(start: number, end: number): void {
    let ip = this.literals(start, end);
    const src = this.src;
    // Sequences_Section_Header: Number_of_Sequences (1-3 bytes), then the modes byte.
    if (ip >= end) zstdFail("Truncated", ip, "the block ends before its sequences section", "Number_of_Sequences");
    const b0 = src[ip];
    let nbSeq: number;
    if (b0 < 128) {
      nbSeq = b0;
      ip += 1;
    } else if (b0 < 255) {
      if (end - ip < 2) zstdFail("Truncated", ip, "the block ends inside Number_of_Sequences", "Number_of_Sequences");
      nbSeq = ((b0 - 128) << 8) + src[ip + 1];
      ip += 2;
    } else {
      if (end - ip < 3) zstdFail("Truncated", ip, "the block ends inside Number_of_Sequences", "Number_of_Sequences");
      nbSeq = src[ip + 1] + (src[ip + 2] << 8) + 0x7f00;
      ip += 3;
    }
    if (nbSeq === 0) {
      // "There are no sequences ... Block's decompressed content is defined solely by the Literals Section."
      if (ip !== end) zstdFail("CorruptData", ip, `${end - ip} bytes follow a sequences section of 0 sequences`);
      const litLen = this.litEnd - this.litBase;
      this.checkRoom(litLen, start);
      this.win.copyWithin(this.op, this.litBase, this.litEnd);
      this.op += litLen;
      return;
    }
    if (ip >= end) zstdFail("Truncated", ip, "the block ends before the symbol compression modes", "Compression_Modes");
    const modes = src[ip];
    if ((modes & 3) !== 0) {
      zstdFail("CorruptData", ip, "the reserved bits of the compression modes are set", "Compression_Modes");
    }
    ip += 1;
    ip = this.seqTable(ip, end, modes >> 6, 0);
    ip = this.seqTable(ip, end, (modes >> 4) & 3, 1);
    ip = this.seqTable(ip, end, (modes >> 2) & 3, 2);
    if (ip >= end) zstdFail("Truncated", ip, "the block ends before the sequences bitstream");
    // Each sequence produces at least 3 bytes: more than a block's worth of them cannot be valid.
    if (nbSeq * 3 > this.blockMax) {
      zstdFail(
        "CorruptData",
        start,
        `${nbSeq} sequences cannot fit in a block of ${this.blockMax} bytes`,
        "Number_of_Sequences",
      );
    }
    this.sequences(ip, end, nbSeq, start);
  }

  // Literals_Section (3.1.1.3.1): decodes the literals into win[litBase, litEnd); returns the offset after it.
  private literals(start: number, end: number): number {
    const src = this.src;
    const win = this.win;
    const litBase = this.litBase;
    if (start >= end) zstdFail("Truncated", start, "a compressed block of 0 bytes has no literals section");
    const b0 = src[start];
    const type = b0 & 3;
    const sizeFormat = (b0 >> 2) & 3;
    if (type === LIT_RAW || type === LIT_RLE) {
      let regen: number;
      let ip: number;
      if ((sizeFormat & 1) === 0) {
        regen = b0 >> 3;
        ip = start + 1;
      } else if (sizeFormat === 1) {
        if (end - start < 2) zstdFail("Truncated", start, "the block ends inside the literals section header");
        regen = (b0 >> 4) + (src[start + 1] << 4);
        ip = start + 2;
      } else {
        if (end - start < 3) zstdFail("Truncated", start, "the block ends inside the literals section header");
        regen = (b0 >> 4) + (src[start + 1] << 4) + (src[start + 2] << 12);
        ip = start + 3;
      }
      if (regen > this.blockMax) {
        zstdFail(
          "CorruptData",
          start,
          `${regen} literals, more than the frame's ${this.blockMax}-byte blocks`,
          "Regenerated_Size",
        );
      }
      if (type === LIT_RAW) {
        if (regen > end - ip) zstdFail("Truncated", start, `${regen} raw literals pass the end of the block`);
        win.set(src.subarray(ip, ip + regen), litBase);
        ip += regen;
      } else {
        if (ip >= end) zstdFail("Truncated", start, "the block ends before the RLE literal");
        win.fill(src[ip], litBase, litBase + regen);
        ip += 1;
      }
      this.litEnd = litBase + regen;
      return ip;
    }
    // Compressed_Literals_Block or Treeless_Literals_Block.
    let regen: number, csize: number, hsize: number;
    const streams = sizeFormat === 0 ? 1 : 4;
    if (sizeFormat <= 1) {
      hsize = 3;
      if (end - start < hsize) zstdFail("Truncated", start, "the block ends inside the literals section header");
      const h = b0 | (src[start + 1] << 8) | (src[start + 2] << 16);
      regen = (h >> 4) & 0x3ff;
      csize = (h >> 14) & 0x3ff;
    } else if (sizeFormat === 2) {
      hsize = 4;
      if (end - start < hsize) zstdFail("Truncated", start, "the block ends inside the literals section header");
      const h = load32(src, start) >>> 0;
      regen = (h >> 4) & 0x3fff;
      csize = h >>> 18;
    } else {
      hsize = 5;
      if (end - start < hsize) zstdFail("Truncated", start, "the block ends inside the literals section header");
      const h = load32(src, start) >>> 0;
      regen = (h >> 4) & 0x3ffff;
      csize = (h >>> 22) + (src[start + 4] << 10);
    }
    if (regen > this.blockMax) {
      zstdFail(
        "CorruptData",
        start,
        `${regen} literals, more than the frame's ${this.blockMax}-byte blocks`,
        "Regenerated_Size",
      );
    }
    let ip = start + hsize;
    if (csize > end - ip) {
      zstdFail("Truncated", start, `${csize} bytes of compressed literals pass the end of the block`);
    }
    const secEnd = ip + csize;
    if (type === LIT_COMPRESSED) {
      ip += readHuffmanTable(src, ip, secEnd, this.huf, this.sc);
    } else if (this.huf.maxBits === 0) {
      // "If this mode is triggered without any previous Huffman-table in the frame ... this should be treated
      // as data corruption."
      zstdFail("CorruptData", start, "treeless literals but no earlier Huffman table in the frame");
    }
    if (streams === 1) {
      decodeHufStream(src, this.srcView, ip, secEnd, this.huf, win, litBase, litBase + regen);
    } else {
      // Jump table: three 2-byte stream sizes; "Stream4_Size = Total_Streams_Size - 6 - Stream1_Size -
      // Stream2_Size - Stream3_Size".
      if (secEnd - ip < 10) zstdFail("CorruptData", ip, `${secEnd - ip} bytes cannot hold a jump table and 4 streams`);
      if (regen < 6) zstdFail("CorruptData", start, `4 Huffman streams for ${regen} literals (at least 6)`);
      const s1 = src[ip] | (src[ip + 1] << 8);
      const s2 = src[ip + 2] | (src[ip + 3] << 8);
      const s3 = src[ip + 4] | (src[ip + 5] << 8);
      const a = ip + 6, b = a + s1, c = b + s2, d = c + s3;
      if (d >= secEnd) zstdFail("CorruptData", ip, "the jump table's stream sizes leave nothing for stream 4");
      const seg = (regen + 3) >> 2;
      const o1 = litBase + seg, o2 = o1 + seg, o3 = o2 + seg;
      decodeHuf4(src, this.srcView, a, b, c, d, secEnd, this.huf, win, litBase, o1, o2, o3, litBase + regen);
    }
    this.litEnd = litBase + regen;
    return secEnd;
  }

  // One of the three table descriptions (kind 0: literals lengths, 1: offsets, 2: match lengths).
  private seqTable(ip: number, end: number, mode: number, kind: number): number {
    const name = kind === 0 ? "literals length" : kind === 1 ? "offset" : "match length";
    const sec = kind * SEQ_SECTION;
    const maxSym = kind === 0 ? LL_MAX : kind === 1 ? OF_MAX : ML_MAX;
    const base = kind === 0 ? LL_BASE : kind === 1 ? OF_BASE : ML_BASE;
    const bits = kind === 0 ? LL_BITS : kind === 1 ? OF_BITS : ML_BITS;
    if (mode === MODE_PREDEFINED) {
      this.seqTab.set(kind === 0 ? LL_PREDEFINED : kind === 1 ? OF_PREDEFINED : ML_PREDEFINED, sec);
      this.seqLog[kind] = kind === 0 ? LL_DEFAULT_LOG : kind === 1 ? OF_DEFAULT_LOG : ML_DEFAULT_LOG;
    } else if (mode === MODE_RLE) {
      if (ip >= end) zstdFail("Truncated", ip, `the block ends before the ${name} RLE symbol`);
      const code = this.src[ip++];
      if (code > maxSym) zstdFail("CorruptData", ip - 1, `${name} code ${code} is above ${maxSym}`);
      rleSeqSection(this.seqTab, sec, code, base, bits);
      this.seqLog[kind] = 0;
    } else if (mode === MODE_FSE) {
      const maxLog = kind === 0 ? LL_MAX_LOG : kind === 1 ? OF_MAX_LOG : ML_MAX_LOG;
      const dist = readFseDistribution(this.src, ip, end, maxSym, maxLog, this.sc.norm, `${name} table`);
      buildSeqSection(this.seqTab, sec, this.sc, maxSym, dist.log, base, bits);
      this.seqLog[kind] = dist.log;
      ip += dist.size;
    } else if (this.seqLog[kind] < 0) {
      // Repeat_Mode: "If this mode is used without any previous sequence table in the frame ... this should be
      // treated as corruption."
      zstdFail("CorruptData", ip, `repeated ${name} table but no earlier one in the frame`);
    }
    return ip;
  }

  // Decodes and checks nbSeq sequences from the bitstream src[bsStart, end) (3.1.1.3.2.1 and 3.1.1.4) into
  // seqs: literals length, match length, match source in the window.
  private sequences(bsStart: number, end: number, nbSeq: number, blockStart: number): void {
    const src = this.src;
    const sv = this.srcView;
    const T = this.seqTab;
    const seqs = this.seqs;
    const ring = this.ring;
    // Every offset is at most the window; the ring is never smaller than what an offset can reach (see
    // setupWindow). An int32 bound keeps the loop's comparisons integer (offsets past 2 GiB - 1 are refused).
    const maxOff = Math.min(this.windowSize, ring, 0x7fffffff) | 0;
    const opStart = this.op;
    // The block may produce up to blockMax bytes, within the frame's content size and the output limit.
    const contentRoom = this.contentSize >= 0 ? this.contentSize - this.produced : Infinity;
    const outRoom = this.maxOutput - this.written;
    const room = Math.min(this.blockMax, contentRoom, outRoom);
    const opLimit = (opStart + room) | 0;
    // Offsets reach back at most to the frame's first byte (virtually at frameBase, possibly negative).
    const frameBase = opStart - Math.min(this.produced, 0x7fffffff) | 0;
    let lp = this.litBase;
    const litEnd = this.litEnd;
    let rep1 = this.rep1, rep2 = this.rep2, rep3 = this.rep3;
    let op = opStart;

    const last = src[end - 1];
    if (last === 0) zstdFail("CorruptData", end - 1, "the sequences bitstream's last byte is 0 (no end mark)");
    let used = Math.clz32(last) - 23;
    let pos = end - 4;
    let bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
    let nb: number;

    // Initial states: literals length, then offset, then match length, each Accuracy_Log bits; a state is the
    // index of its pair in T.
    nb = this.seqLog[0];
    if (used + nb > 32) {
      pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
    }
    let llS = LL_SEC + ((((bits << used) >>> 1) >>> (31 - nb)) << 1);
    used += nb;
    nb = this.seqLog[1];
    if (used + nb > 32) {
      pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
    }
    let ofS = OF_SEC + ((((bits << used) >>> 1) >>> (31 - nb)) << 1);
    used += nb;
    nb = this.seqLog[2];
    if (used + nb > 32) {
      pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
    }
    let mlS = ML_SEC + ((((bits << used) >>> 1) >>> (31 - nb)) << 1);
    used += nb;

    for (let i = 0; i < nbSeq; i++) {
      // Offset, then match length, then literals length extra bits.
      const ofM = T[ofS + 1];
      let offVal = T[ofS];
      nb = (ofM >>> 8) & 0xff;
      if (nb !== 0) {
        if (used + nb > 32) {
          pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
        }
        if (nb <= ONE_READ_BITS) {
          offVal = (offVal + (((bits << used) >>> 1) >>> (31 - nb))) | 0;
          used += nb;
        } else {
          // Long offsets (2^26 and up): the high bits first, then a refill, then the low 16.
          const hiBits = nb - 16;
          const hi = ((bits << used) >>> 1) >>> (31 - hiBits);
          used += hiBits;
          pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
          const lo = ((bits << used) >>> 1) >>> 15;
          used += 16;
          const value = 2 ** nb + hi * 65536 + lo;
          if (value - 3 > maxOff) this.fail(bsStart, i, `offset ${value - 3} is past the ${maxOff}-byte window`);
          offVal = value | 0;
        }
      }
      const mlM = T[mlS + 1];
      let ml = T[mlS];
      const llM = T[llS + 1];
      let ll = T[llS];
      const mlBits = (mlM >>> 8) & 0xff, llBits = (llM >>> 8) & 0xff;
      // Both lengths' extra bits (at most 16 each) and then the three state updates (at most 9 + 9 + 8 bits),
      // with one refill check per group when it fits in what a refill leaves (25 bits), one per field when not.
      if (used + mlBits + llBits > 32) {
        pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
      }
      if (used + mlBits + llBits <= 32) {
        ml = (ml + (((bits << used) >>> 1) >>> (31 - mlBits))) | 0;
        used += mlBits;
        ll = (ll + (((bits << used) >>> 1) >>> (31 - llBits))) | 0;
        used += llBits;
      } else {
        ml = (ml + (((bits << used) >>> 1) >>> (31 - mlBits))) | 0;
        used += mlBits;
        pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
        ll = (ll + (((bits << used) >>> 1) >>> (31 - llBits))) | 0;
        used += llBits;
      }
      // "If it is not the last sequence in the block, the next operation is to update states ...
      // Literals_Length_State is updated, followed by Match_Length_State, and then Offset_State."
      if (i + 1 < nbSeq) {
        const llNb = llM & 0xff, mlNb = mlM & 0xff, ofNb = ofM & 0xff;
        if (used + llNb + mlNb + ofNb > 32) {
          pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
        }
        llS = (llM >>> 16) + ((((bits << used) >>> 1) >>> (31 - llNb)) << 1);
        used += llNb;
        if (used + mlNb + ofNb > 32) {
          pos -= used >> 3, used &= 7, bits = pos >= bsStart ? sv.getInt32(pos, true) : loadBelow(src, bsStart, pos);
        }
        mlS = (mlM >>> 16) + ((((bits << used) >>> 1) >>> (31 - mlNb)) << 1);
        used += mlNb;
        ofS = (ofM >>> 16) + ((((bits << used) >>> 1) >>> (31 - ofNb)) << 1);
        used += ofNb;
      }

      // Repeat offsets (3.1.1.5). offVal is at least 1; as an int32 it is negative only for offsets the check
      // below refuses anyway.
      let off: number;
      if (offVal > 3 || offVal < 0) {
        off = (offVal - 3) | 0;
        rep3 = rep2;
        rep2 = rep1;
        rep1 = off;
      } else {
        const idx = ll === 0 ? offVal : offVal - 1;
        if (idx === 0) {
          off = rep1;
        } else {
          if (idx === 1) {
            off = rep2;
          } else if (idx === 2) {
            off = rep3;
            rep3 = rep2;
          } else {
            // "Repeated_Offset1 - 1 ... if [it] evaluates to 0, then the data is considered corrupted."
            off = (rep1 - 1) | 0;
            if (off === 0) this.fail(bsStart, i, "repeat offset 1 minus 1 is 0");
            rep3 = rep2;
          }
          rep2 = rep1;
          rep1 = off;
        }
      }

      // Check the sequence against the literals left, the block's room and the history, then record it; the
      // copies run in a second pass, after the match sources were touched (see execute()).
      if (ll > litEnd - lp) this.fail(bsStart, i, `literals length ${ll} passes the ${litEnd - lp} literals left`);
      if (ll + ml > opLimit - op) this.roomFail(blockStart, room, contentRoom, outRoom, op - opStart + ll + ml);
      op += ll;
      lp += ll;
      if (off > op - frameBase || off > maxOff || off <= 0) {
        this.fail(
          bsStart,
          i,
          `offset ${off} reaches before the frame's first byte or past its ${this.windowSize}-byte window`,
        );
      }
      let m = op - off;
      // A match before the ring's start is in its previous lap.
      if (m < 0) m += ring;
      const k = 3 * i;
      seqs[k] = ll;
      seqs[k + 1] = ml;
      seqs[k + 2] = m;
      op += ml;
    }
    // "At the end, the bitstream shall be entirely consumed, otherwise the bitstream is considered corrupted."
    if ((end - 4 - pos) * 8 + used !== (end - bsStart) * 8) {
      zstdFail("CorruptData", bsStart, `the sequences bitstream of ${end - bsStart} bytes is not consumed exactly`);
    }
    // "If there are literals left in the literals section, these bytes are added at the end of the block."
    const rest = litEnd - lp;
    if (rest > opLimit - op) this.roomFail(blockStart, room, contentRoom, outRoom, op - opStart + rest);
    this.rep1 = rep1, this.rep2 = rep2, this.rep3 = rep3;
    this.execute(nbSeq);
  }

  /**
   * Runs the block's checked sequences: literals from the literals area, matches from the window. Before each
   * batch of sequences it reads one byte of every match source of the next batch, in a loop of independent
   * loads the processor overlaps: a kernel's matches reach tens of MiB back, and the copies would otherwise
   * wait for each cache miss in turn.
   */
  private execute(nbSeq: number): void {
    const win = this.win;
    const ring = this.ring;
    const seqs = this.seqs;
    let touch = 0;
    for (let k = 0; k < nbSeq && k < TOUCH_BATCH; k++) touch ^= win[seqs[3 * k + 2]];
    // Short copies go four bytes at a time through a DataView (a copyWithin call costs as much as ~60 bytes of
    // this), long ones through copyWithin.
    const dv = this.winView;
    let op = this.op;
    let lp = this.litBase;
    for (let i = 0; i < nbSeq; i++) {
      if (i % TOUCH_BATCH === 0) {
        // Touch the batch after this one: its loads miss together, and its copies find the lines in cache.
        const stop = Math.min(nbSeq, i + 2 * TOUCH_BATCH);
        for (let k = i + TOUCH_BATCH; k < stop; k++) touch ^= win[seqs[3 * k + 2]];
      }
      const ll = seqs[3 * i];
      if (ll <= WILD_COPY) {
        dv.setInt32(op, dv.getInt32(lp, true), true);
        dv.setInt32(op + 4, dv.getInt32(lp + 4, true), true);
        if (ll > 8) {
          dv.setInt32(op + 8, dv.getInt32(lp + 8, true), true);
          dv.setInt32(op + 12, dv.getInt32(lp + 12, true), true);
        }
      } else if (ll <= SHORT_COPY) {
        let j = 0;
        for (; j + 4 <= ll; j += 4) dv.setInt32(op + j, dv.getInt32(lp + j, true), true);
        for (; j < ll; j++) win[op + j] = win[lp + j];
      } else {
        win.copyWithin(op, lp, lp + ll);
      }
      op += ll;
      lp += ll;
      const ml = seqs[3 * i + 1];
      const m = seqs[3 * i + 2];
      if (m >= op) {
        // The match starts in the ring's previous lap (and may run on into this one).
        let s = m;
        for (let j = 0; j < ml; j++) {
          win[op++] = win[s++];
          if (s === ring) s = 0;
        }
        continue;
      }
      const off = op - m;
      if (off >= 8 && ml <= WILD_COPY) {
        // Eight bytes at a time repeat even an overlapping match: each read lies before its write.
        dv.setInt32(op, dv.getInt32(m, true), true);
        dv.setInt32(op + 4, dv.getInt32(m + 4, true), true);
        if (ml > 8) {
          dv.setInt32(op + 8, dv.getInt32(m + 8, true), true);
          dv.setInt32(op + 12, dv.getInt32(m + 12, true), true);
        }
      } else if (off >= ml && ml > SHORT_COPY) {
        win.copyWithin(op, m, m + ml);
      } else if (off >= 4 && ml <= 2 * SHORT_COPY) {
        // Four bytes at a time also repeats an overlapping match correctly: each read lies before its write.
        let j = 0;
        for (; j + 4 <= ml; j += 4) dv.setInt32(op + j, dv.getInt32(m + j, true), true);
        for (; j < ml; j++) win[op + j] = win[m + j];
      } else if (ml <= SHORT_COPY) {
        for (let j = 0; j < ml; j++) win[op + j] = win[m + j];
      } else {
        // A long overlapping match: copy the period, then ever longer runs of it.
        const stop = op + ml;
        let o = op;
        while (o < stop) {
          const len = Math.min(o - m, stop - o);
          win.copyWithin(o, m, m + len);
          o += len;
        }
      }
      op += ml;
    }
    this.touched = touch;
    win.copyWithin(op, lp, this.litEnd);
    this.op = op + (this.litEnd - lp);
  }

  private fail(bsStart: number, seq: number, what: string): never {
    zstdFail("CorruptData", bsStart, `sequence ${seq}: ${what}`);
  }

  // A block's output passed `room`: the output limit, or the block or frame size (corruption).
  private roomFail(at: number, room: number, contentRoom: number, outRoom: number, wanted: number): never {
    if (room === outRoom && outRoom < Math.min(this.blockMax, contentRoom)) {
      throw this.tooLarge(at, `output passes ${this.written + outRoom} bytes`, this.written + wanted);
    }
    if (room === this.blockMax) {
      zstdFail(
        "CorruptData",
        at,
        `a block decodes to more than the frame's ${this.blockMax}-byte maximum`,
        "Block_Size",
      );
    }
    zstdFail(
      "CorruptData",
      at,
      `the frame decodes to more than the ${this.contentSize} bytes its header says`,
      "Frame_Content_Size",
    );
  }
}
