/**
 * DEFLATE (RFC 1951) and gzip (RFC 1952) decoder of our own, streaming into a {@linkcode ByteSink} with a
 * 32 KiB window, so that decompression costs the destination plus a constant (the platform's
 * `DecompressionStream` hands back output in chunks it chooses, and buffers as much as it likes).
 *
 * Speed comes from the usual table-driven design (as zlib's `inflate_fast`): a 32-bit bit buffer refilled
 * two bytes at a time, two-level Huffman tables (a 10-bit first level for literals/lengths, 8-bit for
 * distances, second-level tables for longer codes) whose entries hold symbol and code length in one
 * integer, a fast loop without per-symbol allocation or calls, and matches copied inside one output
 * buffer of {@linkcode INFLATE_CHUNK} bytes plus the window, handed to the sink whenever it fills.
 *
 * The checks follow zlib: invalid block types, stored lengths whose complement does not match, code
 * lengths that over-subscribe or leave a code incomplete (except a single one-bit code), a missing
 * end-of-block code, repeat codes with nothing to repeat or running past the lengths, symbols 286-287 and
 * distance codes 30-31, distances reaching before the output: each a {@linkcode DecompressError} naming
 * the input offset. gzip members are checked against their CRC-32 and ISIZE after their last chunk reached
 * the sink (the format can only know at its end; a loader verifies with a counting pass first).
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { crc32 } from "./checksum.ts";
import { type ByteSink, checkMaxOutput, type DecodeOptions, type DecodeResult } from "./sink.ts";
import { optionalObject, requireBytes, requireObject } from "../guard.ts";

/**
 * Output reaches the sink in chunks of at most this many bytes (64 KiB). It also sizes a streamed input's window
 * (see {@linkcode INPUT_WINDOW}): at 256 KiB chunks the window was 1.5 MiB and a first `Image.gz` load's peak RSS
 * over its 64 MiB guest +13.9..18.9 MiB (5 runs); at 64 KiB, +12.4..13.9 MiB, the decode as fast.
 */
export const INFLATE_CHUNK = 1 << 16;

/** "the compressed data must not refer to more than 32K bytes back" (RFC 1951, 2). */
const WINDOW = 1 << 15;
/** The longest match: length code 285 is 258 bytes. */
const MAX_MATCH = 258;
/**
 * The output buffer: the window, then room for a chunk. A chunk is flushed once a match could pass its
 * end, i.e. from {@linkcode INFLATE_CHUNK} - {@linkcode MAX_MATCH} bytes on.
 */
const BUFFER_SIZE = WINDOW + INFLATE_CHUNK;
/** First-level table bits: literal/length and distance tables (zlib uses 9 and 6; a wider first level fits JS). */
const LIT_BITS = 10;
const DIST_BITS = 8;
/** Code length codes have at most 7 bits. */
const CL_BITS = 7;
/** Room for a table with all its second-level tables: the first level plus every code of 15 bits at most. */
const TABLE_SIZE = (1 << LIT_BITS) + (1 << 15);
/** "HCLEN + 4 code lengths for the code length alphabet given ... in the order" (RFC 1951, 3.2.7). */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
/** Length codes 257..285: base lengths and extra bits (RFC 1951, 3.2.5). */
const LEN_BASE = new Int32Array([
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258,
]);
const LEN_EXTRA = new Int32Array([
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
  1,
  1,
  1,
  2,
  2,
  2,
  2,
  3,
  3,
  3,
  3,
  4,
  4,
  4,
  4,
  5,
  5,
  5,
  5,
  0,
]);
/** Distance codes 0..29: base distances and extra bits (RFC 1951, 3.2.5). */
const DIST_BASE = new Int32Array([
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577,
]);
const DIST_EXTRA = new Int32Array([
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13,
]);
/** The end-of-block symbol. */
const END_OF_BLOCK = 256;
/** gzip: "ID1 = 31 (0x1f), ID2 = 139 (0x8b)", "CM = 8 denotes the deflate compression method" (RFC 1952, 2.3.1). */
const GZIP_ID1 = 0x1f;
const GZIP_ID2 = 0x8b;
const GZIP_CM_DEFLATE = 8;
/** gzip FLG bits (RFC 1952, 2.3.1); "Reserved FLG bits must be zero". */
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;

/** Options of {@linkcode decodeGzip} and {@linkcode decodeDeflate}. */
export type InflateOptions = DecodeOptions;

/** What {@linkcode decodeGzip} returns: the common result and the number of members. */
export interface GzipResult extends DecodeResult {
  /** gzip members decoded. */
  members: number;
}

/**
 * Decodes one raw DEFLATE stream (RFC 1951, as inside zlib and gzip) at the start of `input` into `sink`.
 * `consumed` is the byte after the stream's last block (its final bits padded to a byte).
 *
 * @example The fixed-Huffman stream of "hi"
 * ```ts
 * import { BufferSink, decodeDeflate } from "@linux-loader/linux-loader";
 * const sink = new BufferSink(new Uint8Array(8));
 * decodeDeflate(new Uint8Array([0xcb, 0xc8, 0x04, 0x00]), sink);
 * console.log(new TextDecoder().decode(sink.bytes())); // hi
 * ```
 */
export function decodeDeflate(input: Uint8Array, sink: ByteSink, options?: InflateOptions): DecodeResult {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  const inf = new Inflater(new InputWindow(input.byteLength, input), sink, checkMaxOutput(options), false);
  try {
    inf.inflate();
    inf.flush();
    return { consumed: inf.bytePosition(), written: inf.written };
  } finally {
    inf.release();
  }
}

/**
 * Decodes the gzip members (RFC 1952) at the start of `input` into `sink`, checking each one's CRC-32 and
 * ISIZE. A following member starts with 1f 8b; anything else after a member is left unread and
 * `consumed` says where it begins (callers that want exactly one file compare it with the input length).
 *
 * Errors ({@linkcode DecompressError}, each naming the input offset): `BadMagic` (no 1f 8b 08 at the
 * start), `Truncated` (input ends inside a member), `CorruptData` (a reserved flag, a bad header CRC, an
 * invalid block or code, a distance too far back, a CRC-32 or ISIZE mismatch), `OutputTooLarge` (output
 * would pass `maxOutput`, default 1 GiB; checked before a chunk reaches the sink).
 *
 * @example Round trip through CompressionStream
 * ```ts
 * import { BufferSink, decodeGzip } from "@linux-loader/linux-loader";
 * const text = new TextEncoder().encode("hello, gzip");
 * const packed = new Uint8Array(await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * const sink = new BufferSink(new Uint8Array(64));
 * console.log(decodeGzip(packed, sink).written, new TextDecoder().decode(sink.bytes())); // 11 hello, gzip
 * ```
 */
export function decodeGzip(input: Uint8Array, sink: ByteSink, options?: InflateOptions): GzipResult {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  return gzipMembers(new InputWindow(input.byteLength, input), sink, checkMaxOutput(options));
}

/**
 * {@linkcode decodeGzip} over input read in windows: `read(offset, dest)` fills `dest` with the input's bytes
 * at `offset` synchronously (or throws; its error passes through). The input is held about 385 KiB at a time
 * whatever `size` is; results and errors are {@linkcode decodeGzip}'s for the same bytes. Internal: `mod.ts`
 * does not re-export it (loaders stream an `Image.gz` from a file with it).
 */
export function decodeGzipStream(
  read: (offset: number, dest: Uint8Array) => void,
  size: number,
  sink: ByteSink,
  options?: InflateOptions,
): GzipResult {
  const win = new InputWindow(size, undefined, read);
  try {
    return gzipMembers(win, sink, checkMaxOutput(options));
  } finally {
    win.release();
  }
}

/** Bytes of a member header first made present for {@linkcode readGzipHeader} (more when it is longer). */
const HEADER_PROBE = 4096;

function gzipMembers(win: InputWindow, sink: ByteSink, maxOutput: number): GzipResult {
  const total = win.total;
  win.ensure(0, 3);
  const input = win.buf;
  if (total < 3 || input[0] !== GZIP_ID1 || input[1] !== GZIP_ID2 || input[2] !== GZIP_CM_DEFLATE) {
    const got = Array.from(input.subarray(0, Math.min(3, win.len)), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new DecompressError("BadMagic", `not gzip: starts with "${got}", expected "1f 8b 08"`, {
      field: "magic",
      value: got,
      limit: "1f 8b 08",
    });
  }
  const inf = new Inflater(win, sink, maxOutput, true);
  try {
    return gzipMemberLoop(win, inf);
  } finally {
    inf.release();
  }
}

function gzipMemberLoop(win: InputWindow, inf: Inflater): GzipResult {
  const total = win.total;
  let members = 0;
  let pos = 0;
  do {
    inf.startAt(memberHeader(win, pos));
    const before = inf.written + inf.pending();
    inf.inflate();
    inf.flush();
    pos = inf.bytePosition();
    if (total - pos < 8) {
      throw new DecompressError("Truncated", `gzip: the input ends inside member ${members}'s trailer`, {
        field: "gzip",
        value: total,
        limit: pos + 8,
      });
    }
    win.ensure(pos, 8);
    const dv = new DataView(win.buf.buffer, win.buf.byteOffset + pos - win.base, 8);
    const crc = dv.getUint32(0, true);
    const isize = dv.getUint32(4, true);
    const size = inf.written - before;
    if (crc !== inf.crc) {
      throw new DecompressError(
        "CorruptData",
        `gzip: member ${members}'s CRC-32 ${hex(inf.crc)} does not match the stored ${hex(crc)} (input offset ${
          hex(pos)
        })`,
        { field: "crc32", value: inf.crc, limit: crc },
      );
    }
    if (isize !== size % 0x1_0000_0000) {
      throw new DecompressError(
        "CorruptData",
        `gzip: member ${members} holds ${size} bytes, its ISIZE says ${isize} (input offset ${hex(pos + 4)})`,
        { field: "isize", value: size, limit: isize },
      );
    }
    pos += 8;
    members++;
    if (total - pos >= 2) win.ensure(pos, 2);
  } while (
    total - pos >= 2 && win.buf[pos - win.base] === GZIP_ID1 && win.buf[pos - win.base + 1] === GZIP_ID2
  );
  return { consumed: pos, written: inf.written, members };
}

/**
 * The header of the member at `at` (an offset in the whole input) parsed from the window, which is widened
 * until the header fits in it (a name or comment can be of any length); returns the deflate data's offset.
 */
function memberHeader(win: InputWindow, at: number): number {
  for (let want = HEADER_PROBE;; want *= 2) {
    win.ensure(at, want);
    try {
      return win.base + readGzipHeader(win.buf.subarray(0, win.len), at - win.base, win.base);
    } catch (e) {
      // Cut short by the window, not by the input: widen it and parse again.
      if (!(e instanceof DecompressError && e.code === "Truncated") || win.eof) throw e;
    }
  }
}

/**
 * Parses a gzip member header at `at`; returns the offset of its deflate data. Offsets in errors are
 * `origin` + the offset in `input` (`input` is a window starting at `origin`).
 */
function readGzipHeader(input: Uint8Array, at: number, origin: number): number {
  const end = input.byteLength;
  const truncated = (): never => {
    throw new DecompressError(
      "Truncated",
      `gzip: the input ends inside a member header (input offset ${hex(origin + at)})`,
      { field: "gzip", value: origin + at },
    );
  };
  const corrupt = (what: string, where: number): never => {
    throw new DecompressError("CorruptData", `gzip: ${what} (input offset ${hex(origin + where)})`, {
      field: "gzip",
      value: origin + where,
    });
  };
  if (end - at < 10) truncated();
  if (input[at] !== GZIP_ID1 || input[at + 1] !== GZIP_ID2) corrupt("a member does not start with 1f 8b", at);
  if (input[at + 2] !== GZIP_CM_DEFLATE) corrupt(`compression method ${input[at + 2]} is not deflate (8)`, at + 2);
  const flg = input[at + 3];
  if (flg & FRESERVED) corrupt(`reserved header flags ${hex(flg & FRESERVED)} are set`, at + 3);
  let p = at + 10;
  if (flg & FEXTRA) {
    if (end - p < 2) truncated();
    const xlen = input[p] | (input[p + 1] << 8);
    p += 2;
    if (end - p < xlen) truncated();
    p += xlen;
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (flg & flag) {
      while (p < end && input[p] !== 0) p++;
      if (p >= end) truncated();
      p++;
    }
  }
  if (flg & FHCRC) {
    if (end - p < 2) truncated();
    // "the two least significant bytes of the CRC32 for all bytes of the gzip header up to and not including the CRC16"
    const want = input[p] | (input[p + 1] << 8);
    if ((crc32(0, input, at, p) & 0xffff) !== want) corrupt("the header CRC16 does not match", p);
    p += 2;
  }
  return p;
}

let fixedTables: { lit: Int32Array; dist: Int32Array } | undefined;

/** Bytes kept before the decode position when the input window slides (the bit buffer's read-ahead). */
const INPUT_KEEP = 16;
/**
 * Input the decoder may consume between two refills: at block start a block header, a dynamic block's code
 * lengths (under 1 KiB) or a whole stored block (4 + 65535 bytes); inside `codes()` one output chunk, at
 * most two input bytes per output byte (a literal takes at most 15 bits, a match at most 48 bits for 3 or
 * more bytes) plus the bit buffer's read-ahead.
 */
const BLOCK_MARGIN = 4 + 65535 + 1024;
const CODES_MARGIN = 2 * INFLATE_CHUNK + 1024;
/** Bytes read per refill of a streamed input (beyond what the window still holds). */
const INPUT_CHUNK = 1 << 18;
/**
 * A streamed input's window: one refill's read plus the most a refill keeps (385 KiB in all). A refill keeps
 * under CODES_MARGIN bytes and wants CODES_MARGIN more, so INPUT_CHUNK must be at least CODES_MARGIN or every
 * refill would grow the window.
 */
const INPUT_WINDOW = INPUT_CHUNK + CODES_MARGIN + INPUT_KEEP;
/** The window buffer of the last streamed decode, for the next one (decodes run to the end synchronously). */
let spareWindow: Uint8Array | undefined;

/**
 * The compressed input as a window `buf[0, len)` over bytes `[base, base + len)` of the whole input: the
 * whole input at once (`read` undefined), or a sliding window refilled by synchronous reads, so that a
 * streamed decode holds about {@linkcode INPUT_CHUNK} + {@linkcode CODES_MARGIN} bytes of input whatever the
 * input's size.
 */
class InputWindow {
  base = 0;
  len: number;
  /** Whether `buf` holds everything up to `total`. */
  eof: boolean;
  buf: Uint8Array;
  constructor(
    readonly total: number,
    whole: Uint8Array | undefined,
    private readonly read?: (offset: number, dest: Uint8Array) => void,
  ) {
    this.len = whole === undefined ? 0 : whole.byteLength;
    this.eof = whole !== undefined || total === 0;
    if (whole !== undefined) this.buf = whole;
    else {
      this.buf = spareWindow ?? new Uint8Array(Math.min(INPUT_WINDOW, total));
      if (this.buf.byteLength < Math.min(INPUT_WINDOW, total)) this.buf = new Uint8Array(Math.min(INPUT_WINDOW, total));
      spareWindow = undefined;
    }
  }

  /** Hands a streamed window's buffer to the next streamed decode. */
  release(): void {
    if (this.read !== undefined && this.buf.byteLength === INPUT_WINDOW) spareWindow = this.buf;
    this.buf = new Uint8Array(0);
    this.len = 0;
  }

  /** Makes `[at, at + n)` (as much of it as the input has) present in `buf`; may slide and refill the window. */
  ensure(at: number, n: number): void {
    const rel = at - this.base;
    if (this.eof || this.len - rel >= n) return;
    const from = Math.max(0, rel - INPUT_KEEP);
    const keep = this.len - from;
    if (keep + n > this.buf.byteLength) {
      // Only a member header longer than the window (a name or comment of megabytes) grows it.
      const grown = new Uint8Array(Math.min(keep + n + INPUT_CHUNK, this.total - this.base - from));
      grown.set(this.buf.subarray(from, this.len));
      this.buf = grown;
    } else if (from > 0) this.buf.copyWithin(0, from, this.len);
    this.base += from;
    this.len = keep;
    const want = Math.min(this.buf.byteLength - this.len, this.total - (this.base + this.len));
    if (want > 0) {
      this.read!(this.base + this.len, this.buf.subarray(this.len, this.len + want));
      this.len += want;
    }
    this.eof = this.base + this.len >= this.total;
  }
}

let spareBuffers: { out: Uint8Array; lit: Int32Array; dist: Int32Array; cl: Int32Array } | undefined;

/** The inflate state: input position and bit buffer, output buffer with its window, and the tables. */
class Inflater {
  written = 0;
  crc = 0;
  /** Decode position in `input` (the window's buffer; `win.base` is its offset in the whole input). */
  private pos = 0;
  private bitBuf = 0;
  private bitCnt = 0;
  private input: Uint8Array;
  private end: number;
  private readonly out: Uint8Array;
  /** Next output index in `out`; `out[flushed, op)` is not yet in the sink, `out[0, op)` is the window. */
  private op = 0;
  private flushed = 0;
  private readonly lit: Int32Array;
  private readonly dist: Int32Array;
  private readonly cl: Int32Array;
  private readonly lens = new Uint8Array(288 + 32);

  constructor(
    private readonly win: InputWindow,
    private readonly sink: ByteSink,
    private readonly maxOutput: number,
    private readonly gzip: boolean,
  ) {
    this.input = win.buf;
    this.end = win.len;
    // The buffers of the last decode when it is over (0.7 MiB: a loader decodes a payload up to three times).
    const spare = spareBuffers;
    spareBuffers = undefined;
    this.out = spare?.out ?? new Uint8Array(BUFFER_SIZE);
    this.lit = spare?.lit ?? new Int32Array(TABLE_SIZE);
    this.dist = spare?.dist ?? new Int32Array(TABLE_SIZE);
    this.cl = spare?.cl ?? new Int32Array(TABLE_SIZE);
  }

  /** Hands the output buffer and tables to the next decode (every table is rebuilt before use). */
  release(): void {
    spareBuffers = { out: this.out, lit: this.lit, dist: this.dist, cl: this.cl };
  }

  /** A streamed input: slides and refills the window so that `n` bytes from the decode position are in it. */
  private refill(n: number): void {
    const win = this.win;
    if (win.eof || this.end - this.pos >= n) return;
    const base = win.base;
    win.ensure(base + this.pos, n);
    this.pos -= win.base - base;
    this.input = win.buf;
    this.end = win.len;
  }

  /** Starts a new stream (a gzip member) at byte `at` of the whole input, with an empty window and a fresh CRC. */
  startAt(at: number): void {
    this.flush();
    this.op = 0;
    this.flushed = 0;
    this.win.ensure(at, BLOCK_MARGIN);
    this.input = this.win.buf;
    this.end = this.win.len;
    this.pos = at - this.win.base;
    this.bitBuf = 0;
    this.bitCnt = 0;
    this.crc = 0;
  }

  /** Output decoded but not yet handed to the sink. */
  pending(): number {
    return this.op - this.flushed;
  }

  /** The byte after the last whole byte consumed (the stream's final bits are padded to a byte), in the window. */
  private relPosition(): number {
    return this.pos - (this.bitCnt >>> 3);
  }

  /** {@linkcode relPosition} as an offset in the whole input. */
  bytePosition(): number {
    return this.win.base + this.relPosition();
  }

  private fail(code: "Truncated" | "CorruptData", what: string): never {
    const at = this.win.base + Math.min(this.end, Math.max(0, this.relPosition()));
    // Input cut short: the sink gets what was decoded before the error, so a caller that reads a prefix
    // (gunzipPrefix on the first 64 KiB of an Image.gz, less than one chunk of output) still sees it.
    if (code === "Truncated") this.flush();
    throw new DecompressError(code, `${this.gzip ? "gzip" : "deflate"}: ${what} (input offset ${hex(at)})`, {
      field: "deflate",
      value: at,
    });
  }

  /** Checks that no more bytes were consumed than the input has. */
  private checkEnd(): void {
    if (this.relPosition() > this.end) {
      this.pos = this.end;
      this.bitCnt = 0;
      this.fail("Truncated", "the input ends inside the compressed data");
    }
  }

  /** Reads `n` (at most 16) bits. */
  private bits(n: number): number {
    while (this.bitCnt < n) {
      if (this.pos >= this.end) this.fail("Truncated", "the input ends inside the compressed data");
      this.bitBuf |= this.input[this.pos++] << this.bitCnt;
      this.bitCnt += 8;
    }
    const v = this.bitBuf & ((1 << n) - 1);
    this.bitBuf >>= n;
    this.bitCnt -= n;
    return v;
  }

  /** Hands `out[flushed, op)` to the sink and slides the window down when the buffer is past its chunk. */
  flush(): void {
    const n = this.op - this.flushed;
    if (n > 0) {
      if (n > this.maxOutput - this.written) {
        throw new DecompressError(
          "OutputTooLarge",
          `${this.gzip ? "gzip" : "deflate"} output passes the limit of ${this.maxOutput} bytes (input offset ${
            hex(this.win.base + Math.min(this.end, this.relPosition()))
          })`,
          { field: "maxOutput", value: this.written + n, limit: this.maxOutput },
        );
      }
      const chunk = this.out.subarray(this.flushed, this.op);
      if (this.gzip) this.crc = crc32(this.crc, chunk);
      this.sink.write(chunk);
      this.written += n;
      this.flushed = this.op;
    }
    // Slide when a whole chunk no longer fits after the output: keep only the window.
    if (this.op + INFLATE_CHUNK > BUFFER_SIZE) {
      this.out.copyWithin(0, this.op - WINDOW, this.op);
      this.op = WINDOW;
      this.flushed = WINDOW;
    }
  }

  /** Decodes blocks until the final one. */
  inflate(): void {
    for (;;) {
      this.refill(BLOCK_MARGIN);
      const final = this.bits(1);
      const type = this.bits(2);
      if (type === 0) this.stored();
      else if (type === 1) {
        fixedTables ??= buildFixed();
        this.codes(fixedTables.lit, fixedTables.dist);
      } else if (type === 2) {
        this.dynamicTables();
        this.codes(this.lit, this.dist);
      } else this.fail("CorruptData", "invalid block type 3");
      if (final) break;
    }
    // Give back whole bytes read ahead into the bit buffer; the last partial byte is the padding.
    this.checkEnd();
    const whole = this.bitCnt >>> 3;
    this.pos -= whole;
    this.bitBuf = 0;
    this.bitCnt = 0;
  }

  private stored(): void {
    // "skip any remaining bits in current partially processed byte"; give back whole bytes read ahead.
    this.checkEnd();
    this.pos -= this.bitCnt >>> 3;
    this.bitBuf = 0;
    this.bitCnt = 0;
    if (this.end - this.pos < 4) this.fail("Truncated", "the input ends inside a stored block's length");
    const input = this.input;
    const len = input[this.pos] | (input[this.pos + 1] << 8);
    const nlen = input[this.pos + 2] | (input[this.pos + 3] << 8);
    if ((len ^ 0xffff) !== nlen) {
      this.fail("CorruptData", `stored block length ${len} and its complement ${nlen} differ`);
    }
    this.pos += 4;
    if (this.end - this.pos < len) this.fail("Truncated", `the input ends inside a stored block of ${len} bytes`);
    let left = len;
    while (left > 0) {
      if (this.flushed + INFLATE_CHUNK === this.op) this.flush();
      const n = Math.min(left, this.flushed + INFLATE_CHUNK - this.op);
      this.out.set(input.subarray(this.pos, this.pos + n), this.op);
      this.op += n;
      this.pos += n;
      left -= n;
    }
  }

  private dynamicTables(): void {
    const hlit = this.bits(5) + 257;
    const hdist = this.bits(5) + 1;
    const hclen = this.bits(4) + 4;
    if (hlit > 286 || hdist > 30) this.fail("CorruptData", `too many length (${hlit}) or distance (${hdist}) codes`);
    const lens = this.lens;
    lens.fill(0, 0, 19);
    for (let i = 0; i < hclen; i++) lens[CL_ORDER[i]] = this.bits(3);
    this.build(this.cl, lens, 0, 19, CL_BITS, "code length");
    const total = hlit + hdist;
    lens.fill(0);
    let i = 0;
    const cl = this.cl;
    while (i < total) {
      while (this.bitCnt < 16 && this.pos < this.end) {
        this.bitBuf |= this.input[this.pos++] << this.bitCnt;
        this.bitCnt += 8;
      }
      const e = cl[this.bitBuf & ((1 << CL_BITS) - 1)];
      const len = e & 15;
      if (len === 0 || len > this.bitCnt) {
        if (len === 0) this.fail("CorruptData", "invalid code length code");
        this.fail("Truncated", "the input ends inside the code lengths");
      }
      this.bitBuf >>= len;
      this.bitCnt -= len;
      const sym = e >>> 4;
      if (sym < 16) {
        lens[i++] = sym;
        continue;
      }
      let repeat: number;
      let value = 0;
      if (sym === 16) {
        if (i === 0) this.fail("CorruptData", "repeat of a previous length with none before it");
        value = lens[i - 1];
        repeat = 3 + this.bits(2);
      } else if (sym === 17) repeat = 3 + this.bits(3);
      else repeat = 11 + this.bits(7);
      if (repeat > total - i) this.fail("CorruptData", "repeated code lengths pass the number of codes");
      lens.fill(value, i, i + repeat);
      i += repeat;
    }
    if (lens[END_OF_BLOCK] === 0) this.fail("CorruptData", "the literal/length code has no end-of-block code");
    // The distance lengths are moved to their own place, after the 288 literal/length slots.
    lens.copyWithin(288, hlit, total);
    lens.fill(0, hlit, 288);
    this.build(this.lit, lens, 0, hlit, LIT_BITS, "literal/length");
    this.build(this.dist, lens, 288, hdist, DIST_BITS, "distance");
  }

  /** Builds a two-level table; refuses an over-subscribed or (but for one 1-bit code) incomplete code. */
  private build(table: Int32Array, lens: Uint8Array, off: number, n: number, rootBits: number, what: string): void {
    // zlib: an incomplete code is allowed only as a single 1-bit literal/length or distance code.
    const r = buildTable(table, lens, off, n, rootBits, what !== "code length");
    if (r !== "") this.fail("CorruptData", `${r} ${what} code`);
  }

  /**
   * Decodes one block's literals, lengths and distances with the given tables, until end-of-block. The bit
   * buffer never holds more than 31 bits, so it stays a non-negative int32 (`>>`, never a float).
   */
  private codes(lit: Int32Array, dist: Int32Array): void {
    this.refill(CODES_MARGIN);
    let input = this.input;
    let end = this.end;
    const out = this.out;
    let flushAt = this.flushed + INFLATE_CHUNK - MAX_MATCH;
    const litMask = (1 << LIT_BITS) - 1;
    const distMask = (1 << DIST_BITS) - 1;
    // Inputs from here on are read two bytes at a time without a bounds test; the tail goes byte by byte.
    let fastEnd = end - 2;
    let pos = this.pos;
    let bitBuf = this.bitBuf;
    let bitCnt = this.bitCnt;
    let op = this.op;
    let fault = "";
    for (;;) {
      if (op >= flushAt) {
        this.op = op;
        this.pos = pos;
        this.bitBuf = bitBuf;
        this.bitCnt = bitCnt;
        this.checkEnd();
        this.flush();
        op = this.op;
        flushAt = this.flushed + INFLATE_CHUNK - MAX_MATCH;
        // A streamed input: room for the next chunk's input (CODES_MARGIN), so the fast path below never
        // reaches the window's end before the input's.
        this.refill(CODES_MARGIN);
        input = this.input;
        end = this.end;
        fastEnd = end - 2;
        pos = this.pos;
      }
      // A literal/length code has at most 15 bits.
      if (bitCnt < 15) {
        if (pos <= fastEnd) {
          bitBuf |= (input[pos] | (input[pos + 1] << 8)) << bitCnt;
          pos += 2;
        } else {
          // Past the end, zero bytes stand in; more than a few means the input was cut short.
          bitBuf |= ((pos < end ? input[pos] : 0) | ((pos + 1 < end ? input[pos + 1] : 0) << 8)) << bitCnt;
          pos += 2;
          if (pos > end + 8) {
            fault = "truncated";
            break;
          }
        }
        bitCnt += 16;
      }
      let e = lit[bitBuf & litMask];
      let len = e & 15;
      if (len === 0) {
        if (e === 0) {
          fault = "invalid literal/length code";
          break;
        }
        e = lit[(e >> 8) + ((bitBuf >> LIT_BITS) & ((1 << ((e >> 4) & 15)) - 1))];
        len = e & 15;
        if (len === 0) {
          fault = "invalid literal/length code";
          break;
        }
      }
      bitBuf >>= len;
      bitCnt -= len;
      const sym = e >> 4;
      if (sym < 256) {
        out[op++] = sym;
        continue;
      }
      if (sym === END_OF_BLOCK) break;
      const li = sym - 257;
      if (li >= 29) {
        fault = `invalid length symbol ${sym}`;
        break;
      }
      // Length extra bits (at most 5) and the distance code (at most 15): 20 bits.
      if (bitCnt < 20) {
        if (bitCnt < 16) {
          if (pos <= fastEnd) {
            bitBuf |= (input[pos] | (input[pos + 1] << 8)) << bitCnt;
          } else {
            bitBuf |= ((pos < end ? input[pos] : 0) | ((pos + 1 < end ? input[pos + 1] : 0) << 8)) << bitCnt;
          }
          pos += 2;
          bitCnt += 16;
        } else {
          bitBuf |= (pos < end ? input[pos] : 0) << bitCnt;
          pos++;
          bitCnt += 8;
        }
      }
      const lx = LEN_EXTRA[li];
      let length = LEN_BASE[li];
      if (lx > 0) {
        length += bitBuf & ((1 << lx) - 1);
        bitBuf >>= lx;
        bitCnt -= lx;
      }
      e = dist[bitBuf & distMask];
      len = e & 15;
      if (len === 0) {
        if (e === 0) {
          fault = "invalid distance code";
          break;
        }
        e = dist[(e >> 8) + ((bitBuf >> DIST_BITS) & ((1 << ((e >> 4) & 15)) - 1))];
        len = e & 15;
        if (len === 0) {
          fault = "invalid distance code";
          break;
        }
      }
      bitBuf >>= len;
      bitCnt -= len;
      const ds = e >> 4;
      if (ds >= 30) {
        fault = `invalid distance symbol ${ds}`;
        break;
      }
      const dx = DIST_EXTRA[ds];
      let distance = DIST_BASE[ds];
      if (dx > 0) {
        // At most 13 extra bits.
        if (bitCnt < dx) {
          if (pos <= fastEnd) {
            bitBuf |= (input[pos] | (input[pos + 1] << 8)) << bitCnt;
          } else {
            bitBuf |= ((pos < end ? input[pos] : 0) | ((pos + 1 < end ? input[pos + 1] : 0) << 8)) << bitCnt;
          }
          pos += 2;
          bitCnt += 16;
        }
        distance += bitBuf & ((1 << dx) - 1);
        bitBuf >>= dx;
        bitCnt -= dx;
      }
      if (distance > op) {
        fault = `distance ${distance} reaches before the start of the output`;
        break;
      }
      let from = op - distance;
      if (distance >= length && length > 16) {
        out.copyWithin(op, from, from + length);
        op += length;
      } else {
        const stop = op + length;
        while (op < stop) out[op++] = out[from++];
      }
    }
    this.pos = pos;
    this.bitBuf = bitBuf;
    this.bitCnt = bitCnt;
    this.op = op;
    // A fault past the input's end is a truncation whatever it looked like.
    this.checkEnd();
    if (fault !== "") this.fail("CorruptData", fault);
    // Give back the zero bytes that stood in past the end (none of their bits was consumed: checked above).
    while (this.pos > end) {
      this.pos--;
      this.bitCnt -= 8;
      this.bitBuf &= (1 << this.bitCnt) - 1;
    }
  }
}

/**
 * Builds a two-level decoding table from code lengths `lens[off, off + n)` into `table`: entry =
 * symbol << 4 | code length for a code of at most `rootBits` bits (replicated over the unused high bits);
 * for a longer code, the first-level entry is (second-level start << 8) | (its index bits << 4) and the
 * second-level entries are symbol << 4 | code length. 0 marks a bit pattern that is no code. Returns "" or
 * what is wrong ("over-subscribed", "incomplete").
 */
function buildTable(
  table: Int32Array,
  lens: Uint8Array,
  off: number,
  n: number,
  rootBits: number,
  allowSingle = true,
): string {
  const count = new Int32Array(16);
  for (let i = 0; i < n; i++) count[lens[off + i]]++;
  count[0] = 0;
  let maxLen = 0;
  for (let l = 1; l <= 15; l++) if (count[l]) maxLen = l;
  // Kraft: over-subscribed codes are refused; incomplete only as a single 1-bit code (zlib's rule).
  let left = 1;
  for (let l = 1; l <= 15; l++) {
    left = (left << 1) - count[l];
    if (left < 0) return "over-subscribed";
  }
  if (left > 0 && (maxLen > 1 || !allowSingle)) return "incomplete";
  const rootSize = 1 << rootBits;
  table.fill(0, 0, rootSize);
  if (maxLen === 0) return ""; // no codes (a distance code of a block with literals only)
  // Canonical codes: the first code of each length (RFC 1951, 3.2.2).
  const next = new Int32Array(16);
  for (let l = 1, code = 0; l <= 15; l++) {
    code = (code + count[l - 1]) << 1;
    next[l] = code;
  }
  // Second-level sizes: for each first-level prefix, the longest code that starts with it.
  let subNext = rootSize;
  const subBits = new Int32Array(rootSize);
  if (maxLen > rootBits) {
    const probe = next.slice();
    for (let i = 0; i < n; i++) {
      const l = lens[off + i];
      if (l <= rootBits) {
        if (l) probe[l]++;
        continue;
      }
      const rev = reverse(probe[l]++, l);
      const prefix = rev & (rootSize - 1);
      if (l - rootBits > subBits[prefix]) subBits[prefix] = l - rootBits;
    }
    for (let p = 0; p < rootSize; p++) {
      if (subBits[p] === 0) continue;
      const size = 1 << subBits[p];
      table.fill(0, subNext, subNext + size);
      table[p] = (subNext << 8) | (subBits[p] << 4);
      subNext += size;
    }
  }
  for (let i = 0; i < n; i++) {
    const l = lens[off + i];
    if (l === 0) continue;
    const rev = reverse(next[l]++, l);
    const entry = (i << 4) | l;
    if (l <= rootBits) {
      for (let k = rev; k < rootSize; k += 1 << l) table[k] = entry;
    } else {
      const link = table[rev & (rootSize - 1)];
      const base = link >>> 8;
      const bits = (link >>> 4) & 15;
      const sub = rev >>> rootBits;
      for (let k = sub; k < 1 << bits; k += 1 << (l - rootBits)) table[base + k] = entry;
    }
  }
  return "";
}

/** The low `len` bits of `code`, reversed (Huffman codes are packed most significant bit first). */
function reverse(code: number, len: number): number {
  let r = 0;
  for (let i = 0; i < len; i++) {
    r = (r << 1) | (code & 1);
    code >>>= 1;
  }
  return r;
}

/** The fixed Huffman tables of block type 1 (RFC 1951, 3.2.6). */
function buildFixed(): { lit: Int32Array; dist: Int32Array } {
  const lens = new Uint8Array(288);
  lens.fill(8, 0, 144);
  lens.fill(9, 144, 256);
  lens.fill(7, 256, 280);
  lens.fill(8, 280, 288);
  const lit = new Int32Array(TABLE_SIZE);
  buildTable(lit, lens, 0, 288, LIT_BITS);
  const dist = new Int32Array(TABLE_SIZE);
  // 32 distance codes of 5 bits (30 and 31 are refused when they occur).
  buildTable(dist, new Uint8Array(32).fill(5), 0, 32, DIST_BITS);
  return { lit, dist };
}
