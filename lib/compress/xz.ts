/**
 * Decoder for the `.xz` container (The .xz File Format 1.1.0, https://tukaani.org/xz/xz-file-format.txt)
 * with the LZMA2 filter and the BCJ/delta filters before it: the format of kernels built with
 * CONFIG_KERNEL_XZ. The kernel's `scripts/xz_wrap.sh` runs `xz --check=crc32 $BCJ --lzma2=...,dict=32MiB`
 * (128 MiB since Linux 6.12) with `--x86` on x86, `--arm64`, `--arm`, `--powerpc`, `--sparc` elsewhere.
 *
 * Everything the format allows is checked as liblzma and XZ Embedded check it: header CRC32s, reserved
 * bits and padding, each block's sizes against its header and the index, the index against the blocks,
 * the footer's backward size and flags, and the block checks: CRC32, CRC64 and SHA-256 are verified,
 * the other check IDs (reserved by the format, written by no tool) are skipped over by their size.
 * Several concatenated streams with stream padding (multiples of four zero bytes) decode as one output.
 * Bytes after the last stream that are not a stream (a kernel's 4-byte size trailer) are left alone;
 * `consumed` says where the streams ended.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { type ByteSink, checkMaxOutput, type DecodeOptions, type DecodeResult } from "./sink.ts";
import { LZMA_STATUS_END, LzmaDecoder, parseLzmaProps } from "./lzma_core.ts";
import { crc32, Crc32Checker, Crc64Checker, Sha256Checker, type XzChecker } from "./xz_check.ts";
import { FilterStage, XZ_FILTER_DELTA, XZ_FILTER_LZMA2, XZ_SIMPLE_FILTERS } from "./xz_filters.ts";
import { optionalObject, requireObject } from "../guard.ts";

/** Stream header magic: "\xFD7zXZ\0". */
export const XZ_MAGIC: readonly number[] = Object.freeze([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
/** Stream footer magic: "YZ". */
const XZ_FOOTER_MAGIC = [0x59, 0x5a];
/** Stream header and footer are 12 bytes each. */
const STREAM_HEADER_SIZE = 12;

/** Check IDs (section 2.1.1.2 "Stream Flags"). */
export const XZ_CHECK_NONE = 0x00;
/** CRC32, what the kernel build uses. */
export const XZ_CHECK_CRC32 = 0x01;
/** CRC64, the xz tool's default. */
export const XZ_CHECK_CRC64 = 0x04;
/** SHA-256. */
export const XZ_CHECK_SHA256 = 0x0a;
/** Size of the check field per check ID ("0x00: 0 bytes, 0x01-0x03: 4, 0x04-0x06: 8, 0x07-0x09: 16, 0x0A-0x0C: 32, 0x0D-0x0F: 64"). */
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

/** Block flags (section 3.1.2): "bits 0-1: number of filters - 1; bits 2-5: reserved for future use; bit 6:
 * the compressed size field is present; bit 7: the uncompressed size field is present". */
const BLOCK_FLAGS_FILTER_COUNT = 0x03;
const BLOCK_FLAGS_RESERVED = 0x3c;
const BLOCK_FLAGS_COMPRESSED_SIZE = 0x40;
const BLOCK_FLAGS_UNCOMPRESSED_SIZE = 0x80;
/** LZMA2 dictionary size byte: "bits 6-7 are reserved", and 40 is the largest value (0xFFFFFFFF). */
const LZMA2_DICT_BYTE_MAX = 40;
/** LZMA2 requires "lc + lp <= 4" and pb <= 4. */
const LZMA2_LCLP_MAX = 4;
const LZMA2_PB_MAX = 4;
/**
 * LZMA2 chunk control byte (XZ Embedded `xz_dec_lzma2.c`): 0x00 ends the data; 0x01 is an uncompressed
 * chunk after a dictionary reset, 0x02 one without; 0x80-0xFF an LZMA chunk whose bits 5-6 say what it
 * resets: 0x80 nothing, 0xA0 the state, 0xC0 the state with new properties, 0xE0 also the dictionary.
 */
const LZMA2_END = 0x00;
const LZMA2_COPY_DICT_RESET = 0x01;
const LZMA2_COPY = 0x02;
const LZMA2_LZMA = 0x80;
const LZMA2_LZMA_STATE_RESET = 0xa0;
const LZMA2_LZMA_PROPS = 0xc0;
const LZMA2_LZMA_DICT_RESET = 0xe0;

/** What {@linkcode decodeXz} returns. */
export interface XzResult extends DecodeResult {
  /** Streams decoded. */
  streams: number;
  /** Blocks decoded (all streams). */
  blocks: number;
  /** Check ID of the last stream (0 none, 1 CRC32, 4 CRC64, 10 SHA-256). */
  check: number;
}

/**
 * Whether `bytes` start with the xz stream header magic.
 *
 * @example
 * ```ts
 * import { isXz } from "@linux-loader/linux-loader";
 * console.log(isXz(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 1]))); // true
 * ```
 */
export function isXz(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && hasMagic(bytes, 0);
}

/**
 * Decodes the `.xz` streams at the start of `input` into `sink`, in chunks of at most 256 KiB, keeping a
 * window of `min(dictionary size, maxOutput)` plus a constant. `maxOutput` (default 1 GiB) is enforced
 * before output passes it. Corrupt input is a {@linkcode DecompressError} naming the input offset and
 * what was wrong.
 *
 * @example Decode the output of `printf hello | xz --check=crc32`
 * ```ts
 * import { BufferSink, decodeXz } from "@linux-loader/linux-loader";
 * const file = new Uint8Array([
 *   0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x01, 0x69, 0x22, 0xde, 0x36, 0x02, 0x00, 0x21, 0x01,
 *   0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3, 0x01, 0x00, 0x04, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
 *   0x00, 0x00, 0x00, 0x00, 0x86, 0xa6, 0x10, 0x36, 0x00, 0x01, 0x19, 0x05, 0xbc, 0xe8, 0xec, 0xcb,
 *   0x90, 0x42, 0x99, 0x0d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x59, 0x5a,
 * ]);
 * const sink = new BufferSink(new Uint8Array(16));
 * decodeXz(file, sink);
 * console.log(new TextDecoder().decode(sink.bytes())); // hello
 * ```
 */
export function decodeXz(input: Uint8Array, sink: ByteSink, options?: DecodeOptions): XzResult {
  const maxOutput = checkMaxOutput(options);
  if (!(input instanceof Uint8Array)) {
    throw new DecompressError("BadMagic", "xz: the input is not a Uint8Array", { field: "input", value: typeof input });
  }
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  if (!isXz(input)) {
    throw new DecompressError(
      "BadMagic",
      "xz: the input does not start with the stream header magic FD 37 7A 58 5A 00",
      {
        field: "magic",
        value: Array.from(input.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(" "),
      },
    );
  }
  const dec = new LzmaDecoder(sink, maxOutput, "xz");
  const ctx: StreamContext = { input, sink, dec, blocks: 0, check: 0, stagePool: [] };
  let ip = 0;
  let streams = 0;
  for (;;) {
    ip = decodeStream(ctx, ip);
    streams++;
    // Stream padding: "a multiple of four bytes", all zero, then another stream or the end.
    let p = ip;
    while (p < input.length && input[p] === 0) p++;
    const padding = p - ip;
    if (p < input.length && hasMagic(input, p)) {
      if (padding % 4 !== 0) {
        fail("CorruptData", ip, `stream padding of ${padding} bytes is not a multiple of 4`);
      }
      ip = p;
      continue;
    }
    if (p === input.length && padding % 4 !== 0) {
      fail("CorruptData", ip, `stream padding of ${padding} bytes is not a multiple of 4`);
    }
    // Whole 4-byte groups of zeros are padding; anything else after the last stream is not ours.
    ip += padding - (padding % 4);
    break;
  }
  return { consumed: ip, written: dec.totalOut, streams, blocks: ctx.blocks, check: ctx.check };
}

interface StreamContext {
  input: Uint8Array;
  sink: ByteSink;
  dec: LzmaDecoder;
  blocks: number;
  check: number;
  stagePool: FilterStage[];
}

/** Decodes one stream starting at `start`; returns the offset after its footer. */
function decodeStream(ctx: StreamContext, start: number): number {
  const input = ctx.input;
  const end = input.length;
  if (end - start < STREAM_HEADER_SIZE) fail("Truncated", start, "input ends inside the stream header");
  if (!hasMagic(input, start)) fail("BadMagic", start, "no stream header magic");
  const flagsAt = start + 6;
  if (readU32(input, flagsAt + 2) !== crc32(input, 0, flagsAt, flagsAt + 2)) {
    fail("CorruptData", flagsAt + 2, "stream header CRC32 does not match its flags");
  }
  if (input[flagsAt] !== 0 || (input[flagsAt + 1] & 0xf0) !== 0) {
    fail(
      "CorruptData",
      flagsAt,
      `reserved stream flag bits are set (${hex(input[flagsAt] << 8 | input[flagsAt + 1])})`,
    );
  }
  const check = input[flagsAt + 1];
  ctx.check = check;
  const checkSize = CHECK_SIZES[check];
  const checker: XzChecker | undefined = check === 1
    ? new Crc32Checker()
    : check === 4
    ? new Crc64Checker()
    : check === 10
    ? new Sha256Checker()
    : undefined;

  // Per block: unpadded size and uncompressed size, for the index.
  const unpadded: number[] = [];
  const uncompressed: number[] = [];
  let ip = start + STREAM_HEADER_SIZE;
  for (;;) {
    if (ip >= end) fail("Truncated", ip, "input ends where a block header or the index should start");
    if (input[ip] === 0) break; // index indicator
    const r = decodeBlock(ctx, ip, check, checkSize, checker);
    unpadded.push(r.unpadded);
    uncompressed.push(r.uncompressed);
    ip = r.next;
    ctx.blocks++;
  }

  // Index.
  const indexStart = ip;
  const cur = { pos: ip + 1 };
  const count = readVli(input, cur, end, "index record count");
  if (count !== unpadded.length) {
    fail("CorruptData", ip + 1, `index lists ${count} blocks but the stream has ${unpadded.length}`);
  }
  for (let i = 0; i < count; i++) {
    const at = cur.pos;
    const u = readVli(input, cur, end, "index unpadded size");
    const s = readVli(input, cur, end, "index uncompressed size");
    if (u !== unpadded[i] || s !== uncompressed[i]) {
      fail(
        "CorruptData",
        at,
        `index record ${i} (unpadded ${u}, uncompressed ${s}) does not match block ${i} (${unpadded[i]}, ${
          uncompressed[i]
        })`,
      );
    }
  }
  while ((cur.pos - indexStart) % 4 !== 0) {
    if (cur.pos >= end) fail("Truncated", cur.pos, "input ends inside the index padding");
    if (input[cur.pos] !== 0) fail("CorruptData", cur.pos, "index padding is not zero");
    cur.pos++;
  }
  if (end - cur.pos < 4) fail("Truncated", cur.pos, "input ends inside the index CRC32");
  if (readU32(input, cur.pos) !== crc32(input, 0, indexStart, cur.pos)) {
    fail("CorruptData", cur.pos, "index CRC32 does not match");
  }
  ip = cur.pos + 4;
  const indexSize = ip - indexStart;

  // Footer.
  if (end - ip < STREAM_HEADER_SIZE) fail("Truncated", ip, "input ends inside the stream footer");
  if (readU32(input, ip) !== crc32(input, 0, ip + 4, ip + 10)) {
    fail("CorruptData", ip, "stream footer CRC32 does not match");
  }
  const backward = (readU32(input, ip + 4) + 1) * 4;
  if (backward !== indexSize) {
    fail("CorruptData", ip + 4, `footer's backward size ${backward} differs from the index's ${indexSize} bytes`);
  }
  if (input[ip + 8] !== input[flagsAt] || input[ip + 9] !== input[flagsAt + 1]) {
    fail("CorruptData", ip + 8, "footer's stream flags differ from the header's");
  }
  if (input[ip + 10] !== XZ_FOOTER_MAGIC[0] || input[ip + 11] !== XZ_FOOTER_MAGIC[1]) {
    fail("CorruptData", ip + 10, 'no stream footer magic "YZ"');
  }
  return ip + STREAM_HEADER_SIZE;
}

interface BlockResult {
  next: number;
  unpadded: number;
  uncompressed: number;
}

/** Decodes the block whose header starts at `start`. */
function decodeBlock(
  ctx: StreamContext,
  start: number,
  check: number,
  checkSize: number,
  checker: XzChecker | undefined,
): BlockResult {
  const { input, dec } = ctx;
  const end = input.length;
  const headerSize = (input[start] + 1) * 4;
  if (end - start < headerSize) fail("Truncated", start, `input ends inside the ${headerSize}-byte block header`);
  const headerEnd = start + headerSize - 4;
  if (readU32(input, headerEnd) !== crc32(input, 0, start, headerEnd)) {
    fail("CorruptData", headerEnd, "block header CRC32 does not match");
  }
  const flags = input[start + 1];
  if ((flags & BLOCK_FLAGS_RESERVED) !== 0) {
    fail("CorruptData", start + 1, `reserved block flag bits are set (${hex(flags)})`);
  }
  const filterCount = (flags & BLOCK_FLAGS_FILTER_COUNT) + 1;
  const cur = { pos: start + 2 };
  const declaredCompressed = flags & BLOCK_FLAGS_COMPRESSED_SIZE
    ? readVli(input, cur, headerEnd, "block compressed size")
    : undefined;
  const declaredUncompressed = flags & BLOCK_FLAGS_UNCOMPRESSED_SIZE
    ? readVli(input, cur, headerEnd, "block uncompressed size")
    : undefined;
  if (declaredCompressed === 0) fail("CorruptData", start + 2, "block compressed size is 0");

  const ids: number[] = [];
  const params: number[] = [];
  let dictSize = 0;
  for (let f = 0; f < filterCount; f++) {
    const at = cur.pos;
    const id = readVli(input, cur, headerEnd, "filter ID");
    const propSize = readVli(input, cur, headerEnd, "filter properties size");
    if (propSize > headerEnd - cur.pos) fail("CorruptData", at, "filter properties pass the block header");
    const last = f === filterCount - 1;
    if (id === XZ_FILTER_LZMA2) {
      if (!last) fail("CorruptData", at, "LZMA2 is not the last filter");
      if (propSize !== 1) fail("CorruptData", at, `LZMA2 properties are ${propSize} bytes, not 1`);
      const b = input[cur.pos];
      if (b > LZMA2_DICT_BYTE_MAX) fail("CorruptData", cur.pos, `LZMA2 dictionary size byte ${b} is above 40`);
      dictSize = b === LZMA2_DICT_BYTE_MAX ? 0xffff_ffff : (2 | (b & 1)) * 2 ** ((b >>> 1) + 11);
    } else if (XZ_SIMPLE_FILTERS.includes(id)) {
      if (last) fail("CorruptData", at, `filter ${hex(id)} cannot be the last filter`);
      if (id === XZ_FILTER_DELTA) {
        if (propSize !== 1) fail("CorruptData", at, `delta properties are ${propSize} bytes, not 1`);
        ids.push(id);
        params.push(input[cur.pos] + 1);
      } else {
        if (propSize !== 0 && propSize !== 4) {
          fail("CorruptData", at, `BCJ properties are ${propSize} bytes, not 0 or 4`);
        }
        ids.push(id);
        params.push(propSize === 4 ? readU32(input, cur.pos) : 0);
      }
    } else {
      fail("Unsupported", at, `unsupported filter ID ${hex(id)}`);
    }
    if (f === filterCount - 1 && id !== XZ_FILTER_LZMA2) fail("CorruptData", at, "the last filter is not LZMA2");
    cur.pos += propSize;
  }
  for (let p = cur.pos; p < headerEnd; p++) {
    if (input[p] !== 0) fail("CorruptData", p, "block header padding is not zero");
  }

  // Output pipeline: LZMA2 window -> last simple filter ... first filter -> check -> sink.
  checker?.reset();
  let tail: ByteSink = checker === undefined ? ctx.sink : new CheckSink(checker, ctx.sink);
  // Stages (and their 64 KiB buffers) are reused from block to block: a stream of many tiny blocks
  // costs no allocation per block.
  const stages: FilterStage[] = [];
  for (let f = 0; f < ids.length; f++) {
    let stage = ctx.stagePool[f];
    if (stage === undefined) stage = ctx.stagePool[f] = new FilterStage(ids[f], tail, params[f]);
    else stage.reset(ids[f], tail, params[f]);
    stages.unshift(stage);
    tail = stage;
  }
  dec.sink = tail;

  const dataStart = start + headerSize;
  const outBefore = dec.totalOut;
  const dataEnd = decodeLzma2(
    dec,
    input,
    dataStart,
    declaredCompressed === undefined ? end : Math.min(end, dataStart + declaredCompressed),
    dictSize,
  );
  dec.flush();
  for (const s of stages) s.finish();
  const produced = dec.totalOut - outBefore;
  const compressed = dataEnd - dataStart;
  if (declaredCompressed !== undefined && compressed !== declaredCompressed) {
    fail("CorruptData", dataEnd, `block data is ${compressed} bytes, its header says ${declaredCompressed}`);
  }
  if (declaredUncompressed !== undefined && produced !== declaredUncompressed) {
    fail("CorruptData", dataEnd, `block decoded to ${produced} bytes, its header says ${declaredUncompressed}`);
  }
  let ip = dataEnd;
  while ((ip - start) % 4 !== 0) {
    if (ip >= end) fail("Truncated", ip, "input ends inside the block padding");
    if (input[ip] !== 0) fail("CorruptData", ip, "block padding is not zero");
    ip++;
  }
  if (end - ip < checkSize) fail("Truncated", ip, "input ends inside the block check");
  if (checker !== undefined) {
    const want = checker.digest();
    for (let i = 0; i < checkSize; i++) {
      if (input[ip + i] !== want[i]) {
        fail("CorruptData", ip, `block ${ctx.blocks} check (${checkName(check)}) does not match its data`);
      }
    }
  }
  ip += checkSize;
  return { next: ip, unpadded: headerSize + compressed + checkSize, uncompressed: produced };
}

/**
 * Decodes LZMA2 chunks from `input[ip, end)` until the end-of-data control byte (XZ Embedded
 * `xz_dec_lzma2_run`): returns the offset after it.
 */
function decodeLzma2(dec: LzmaDecoder, input: Uint8Array, ip: number, end: number, dictSize: number): number {
  dec.setDictSize(dictSize);
  let needDictReset = true;
  let needProps = true;
  for (;;) {
    if (ip >= end) fail("Truncated", ip, "input ends where an LZMA2 chunk should start");
    const control = input[ip];
    if (control === LZMA2_END) return ip + 1;
    // 0x01 and 0xE0-0xFF reset the dictionary; "the first chunk must reset it".
    if (control >= LZMA2_LZMA_DICT_RESET || control === LZMA2_COPY_DICT_RESET) {
      needProps = true;
      needDictReset = false;
      dec.resetDict();
    } else if (needDictReset) {
      fail("CorruptData", ip, `first LZMA2 chunk (control ${hex(control)}) does not reset the dictionary`);
    }
    if (control >= LZMA2_LZMA) {
      const headerLen = control >= LZMA2_LZMA_PROPS ? 6 : 5;
      if (end - ip < headerLen) fail("Truncated", ip, "input ends inside an LZMA2 chunk header");
      const unpacked = (control & 0x1f) * 65536 + ((input[ip + 1] << 8) | input[ip + 2]) + 1;
      const packed = ((input[ip + 3] << 8) | input[ip + 4]) + 1;
      if (control >= LZMA2_LZMA_PROPS) {
        const props = parseLzmaProps(input[ip + 5]);
        if (props === undefined || props.lc + props.lp > LZMA2_LCLP_MAX || props.pb > LZMA2_PB_MAX) {
          fail("CorruptData", ip + 5, `invalid LZMA2 properties byte ${hex(input[ip + 5])}`);
        }
        dec.setProps(props);
        needProps = false;
      } else if (needProps) {
        fail("CorruptData", ip, `LZMA2 chunk (control ${hex(control)}) before any properties`);
      } else if (control >= LZMA2_LZMA_STATE_RESET) {
        dec.resetState();
      }
      const chunkStart = ip + headerLen;
      const chunkEnd = chunkStart + packed;
      if (chunkEnd > end) fail("Truncated", chunkStart, `input ends inside a ${packed}-byte LZMA2 chunk`);
      let p = dec.initRangeDecoder(input, chunkStart, chunkEnd);
      p = dec.run(input, p, chunkEnd, unpacked);
      if (dec.status === LZMA_STATUS_END) fail("CorruptData", p, "end marker inside an LZMA2 chunk");
      if (p !== chunkEnd || !dec.rcFinished || dec.pendingMatch) {
        fail("CorruptData", p, `LZMA2 chunk at ${hex(ip)} does not end at its compressed size ${packed}`);
      }
      ip = chunkEnd;
    } else {
      if (control > LZMA2_COPY) fail("CorruptData", ip, `invalid LZMA2 control byte ${hex(control)}`);
      if (end - ip < 3) fail("Truncated", ip, "input ends inside an LZMA2 chunk header");
      const size = ((input[ip + 1] << 8) | input[ip + 2]) + 1;
      if (end - ip - 3 < size) fail("Truncated", ip + 3, `input ends inside a ${size}-byte uncompressed chunk`);
      dec.copyUncompressed(input, ip + 3, size);
      ip += 3 + size;
    }
  }
}

/** Feeds each chunk to the block's check, then passes it on. */
class CheckSink implements ByteSink {
  constructor(readonly checker: XzChecker, readonly next: ByteSink) {}
  write(chunk: Uint8Array): void {
    this.checker.update(chunk);
    this.next.write(chunk);
  }
}

function checkName(check: number): string {
  return check === 1 ? "CRC32" : check === 4 ? "CRC64" : check === 10 ? "SHA-256" : `ID ${check}`;
}

/** Reads a variable-length integer (section 1.2: 7 bits per byte, at most 9 bytes, no trailing zero byte). */
function readVli(input: Uint8Array, cur: { pos: number }, end: number, what: string): number {
  let value = 0;
  let scale = 1;
  const start = cur.pos;
  for (let i = 0; i < 9; i++) {
    if (cur.pos >= end) fail("Truncated", cur.pos, `input ends inside the ${what}`);
    const b = input[cur.pos++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) fail("CorruptData", start, `${what} is not in its shortest form`);
      if (!Number.isSafeInteger(value)) fail("CorruptData", start, `${what} ${value} is above 2^53`);
      return value;
    }
    scale *= 128;
  }
  return fail("CorruptData", start, `${what} is longer than 9 bytes`);
}

function hasMagic(b: Uint8Array, at: number): boolean {
  if (b.length - at < XZ_MAGIC.length) return false;
  for (let i = 0; i < XZ_MAGIC.length; i++) if (b[at + i] !== XZ_MAGIC[i]) return false;
  return true;
}

function readU32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function fail(code: "BadMagic" | "Truncated" | "CorruptData" | "Unsupported", at: number, what: string): never {
  throw new DecompressError(code, `xz: ${what} (input offset ${hex(at)})`, { field: "xz", value: at });
}
