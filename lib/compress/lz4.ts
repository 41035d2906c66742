/**
 * LZ4 "legacy frame" decoder, the format `lz4 -l` writes and Linux uses for LZ4-compressed kernels
 * (Debian's x86 bzImage payload, initramfs images). Spec:
 * https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md#legacy-frame and the block format in
 * https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md.
 *
 * A legacy frame is the magic number 0x184C2102 (little endian) followed by blocks, each a 32-bit
 * little-endian compressed size and that many bytes of one independent LZ4 block that decompresses to at
 * most 8 MiB. The frame has no end mark: "the frame ends at end of input, or at a block size that cannot
 * be a block". Kernel payloads end with four more bytes, the decompressed size (the build's
 * `size_append`); the decoder stops before them and reports where it stopped, so a caller can check
 * them.
 *
 * Every read and write is bounds-checked: corrupt input ends in a {@linkcode DecompressError}, never a
 * RangeError, never a write outside the output, never a loop that does not consume input.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { type ByteSink, checkMaxOutput, type DecodeOptions, type DecodeResult } from "./sink.ts";
import { optionalObject, requireBytes, requireObject } from "../guard.ts";

/** Magic number opening an LZ4 legacy frame (stored little endian: `02 21 4c 18`). */
export const LZ4_LEGACY_MAGIC = 0x184c2102;

/** "Each block decompresses to at most 8 MiB" in the legacy frame format. */
export const LZ4_LEGACY_BLOCK_SIZE = 8 << 20;

/**
 * LZ4_COMPRESSBOUND(8 MiB): the largest compressed size of one legacy block. A size field above it
 * "cannot be a block" and ends the frame.
 */
export const LZ4_LEGACY_MAX_COMPRESSED: number = LZ4_LEGACY_BLOCK_SIZE + Math.floor(LZ4_LEGACY_BLOCK_SIZE / 255) + 16;

/** "The minimum match length is 4" (block format). */
const MIN_MATCH = 4;
/** A length nibble of 15 means "more length bytes follow". */
const RUN_MASK = 15;

/** Options of {@linkcode decodeLz4Legacy}. */
export interface Lz4LegacyOptions {
  /** Expected output size: the output buffer starts this large (saves regrowth). */
  sizeHint?: number;
  /** Largest output accepted, in bytes; above it a `"OutputTooLarge"` error. Defaults to 1 GiB. */
  maxOutput?: number;
}

/** What {@linkcode decodeLz4Legacy} returns. */
export interface Lz4LegacyResult {
  /** The decompressed bytes (a view of exactly the output length). */
  bytes: Uint8Array;
  /** Input bytes consumed: the frame(s) ended here. Bytes after it (e.g. a kernel's size trailer) were not read as blocks. */
  consumed: number;
  /** Number of blocks decoded. */
  blocks: number;
}

/** What {@linkcode decodeLz4} returns: the common result and the number of blocks. */
export interface Lz4Result extends DecodeResult {
  /** Number of blocks decoded. */
  blocks: number;
}

/**
 * Decodes one or more concatenated LZ4 legacy frames from `input` into `sink`, one block (at most
 * {@linkcode LZ4_LEGACY_BLOCK_SIZE} bytes, the window: legacy blocks are independent) per `write`.
 *
 * Stops at the end of input, or before a 32-bit field that cannot be a block size (zero, above
 * {@linkcode LZ4_LEGACY_MAX_COMPRESSED}, or the last four bytes of input); fewer than four bytes left
 * also end the frame. `consumed` says where. Errors: {@linkcode DecompressError} `BadMagic`, `Truncated`,
 * `CorruptData`, and `OutputTooLarge` (checked before the block reaches the sink).
 *
 * @example Decode a frame holding one block of literals
 * ```ts
 * import { BufferSink, decodeLz4 } from "@linux-loader/linux-loader";
 * // magic, block size 6, token: 5 literals and no match, "hello"
 * const frame = new Uint8Array([0x02, 0x21, 0x4c, 0x18, 6, 0, 0, 0, 0x50, 104, 101, 108, 108, 111]);
 * const sink = new BufferSink(new Uint8Array(8));
 * decodeLz4(frame, sink);
 * console.log(new TextDecoder().decode(sink.bytes())); // hello
 * ```
 */
export function decodeLz4(input: Uint8Array, sink: ByteSink, options?: DecodeOptions): Lz4Result {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  const maxOutput = checkMaxOutput(options);
  if (input.byteLength < 4 || readU32(input, 0) !== LZ4_LEGACY_MAGIC) {
    const got = input.byteLength < 4 ? "fewer than 4 bytes" : hex(readU32(input, 0));
    throw new DecompressError("BadMagic", `not an LZ4 legacy frame: magic ${got}, expected ${hex(LZ4_LEGACY_MAGIC)}`, {
      field: "magic",
      value: got,
      limit: LZ4_LEGACY_MAGIC,
    });
  }
  let scratch: Uint8Array | undefined;
  let written = 0;
  let ip = 4;
  let blocks = 0;
  const end = input.byteLength;

  while (end - ip >= 4) {
    const size = readU32(input, ip);
    if (size === LZ4_LEGACY_MAGIC) { // "concatenated frames": a new frame starts
      ip += 4;
      continue;
    }
    // Not a block: zero, too large for an 8 MiB block, or the last four bytes (a size trailer).
    if (size === 0 || size > LZ4_LEGACY_MAX_COMPRESSED || ip + 4 === end) break;
    const blockStart = ip + 4;
    if (size > end - blockStart) {
      throw new DecompressError(
        "Truncated",
        `LZ4 block ${blocks} at input offset ${hex(ip)} claims ${size} bytes but only ${end - blockStart} remain`,
        { field: "block_size", value: size, limit: end - blockStart },
      );
    }
    // A block expands at most 255 times (one extension byte adds 255 to a length), so a small block
    // needs a small scratch, not a whole 8 MiB block's; it grows to at most one block.
    const room = Math.min(LZ4_LEGACY_BLOCK_SIZE, size * 255 + 64);
    if (scratch === undefined || scratch.byteLength < room) {
      scratch = new Uint8Array(Math.min(LZ4_LEGACY_BLOCK_SIZE, Math.max(room, (scratch?.byteLength ?? 0) * 2)));
    }
    const produced = decodeLz4Block(input, blockStart, blockStart + size, scratch, 0, room, blocks);
    if (produced > maxOutput - written) {
      throw new DecompressError("OutputTooLarge", `LZ4 output passes the limit of ${maxOutput} bytes`, {
        field: "maxOutput",
        value: written + produced,
        limit: maxOutput,
      });
    }
    sink.write(scratch.subarray(0, produced));
    written += produced;
    ip = blockStart + size;
    blocks++;
  }
  return { consumed: ip, written, blocks };
}

/**
 * Decodes one or more concatenated LZ4 legacy frames from `input` into one buffer: {@linkcode decodeLz4}
 * with a destination that starts at `sizeHint` (when sane) and grows by doubling, never past `maxOutput`.
 *
 * @example Decode a frame holding one block of literals
 * ```ts
 * import { decodeLz4Legacy } from "@linux-loader/linux-loader";
 * // magic, block size 6, token: 5 literals and no match, "hello"
 * const frame = new Uint8Array([0x02, 0x21, 0x4c, 0x18, 6, 0, 0, 0, 0x50, 104, 101, 108, 108, 111]);
 * const { bytes } = decodeLz4Legacy(frame);
 * console.log(new TextDecoder().decode(bytes)); // hello
 * ```
 */
export function decodeLz4Legacy(input: Uint8Array, options: Lz4LegacyOptions = {}): Lz4LegacyResult {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireObject(options, "options", DecompressError, "InvalidArgument");
  // This older API takes any non-negative limit (Infinity, a fraction) as its whole-byte floor.
  const raw = options.maxOutput;
  const maxOutput = typeof raw === "number" && raw >= 0
    ? Math.min(Math.floor(raw), Number.MAX_SAFE_INTEGER)
    : checkMaxOutput(options);
  const wanted = options.sizeHint !== undefined && Number.isSafeInteger(options.sizeHint) ? options.sizeHint : 0;
  // A hint (a size trailer, init_size) is not trusted beyond what the input can produce (255 times) or the
  // limit. The buffer still grows if needed, never past the limit.
  const hint = Math.floor(Math.min(Math.max(wanted, 0), maxOutput, input.byteLength * 255));
  let out = new Uint8Array(hint);
  let op = 0;
  const r = decodeLz4(input, {
    write(chunk: Uint8Array): void {
      if (out.byteLength - op < chunk.byteLength) {
        const grown = new Uint8Array(Math.min(maxOutput, Math.max(out.byteLength * 2, op + chunk.byteLength)));
        grown.set(out.subarray(0, op));
        out = grown;
      }
      out.set(chunk, op);
      op += chunk.byteLength;
    },
  }, { maxOutput });
  return { bytes: out.subarray(0, op), consumed: r.consumed, blocks: r.blocks };
}

/**
 * Decodes one raw LZ4 block `src[start, end)` into `out` at `dst`, producing at most `limit` bytes (which
 * must fit in `out`). Matches may only reach back inside this block's output. Returns the bytes produced.
 *
 * @example A literal "ab" then a match of length 6 at offset 2
 * ```ts
 * import { decodeLz4Block } from "@linux-loader/linux-loader";
 * // token 0x22: 2 literals, match length 2 + 4; "ab"; offset 2; token 0x10: 1 final literal "!"
 * const block = new Uint8Array([0x22, 97, 98, 2, 0, 0x10, 33]);
 * const out = new Uint8Array(16);
 * const n = decodeLz4Block(block, 0, block.length, out, 0, out.length);
 * console.log(new TextDecoder().decode(out.subarray(0, n))); // abababab!
 * ```
 */
export function decodeLz4Block(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  dst: number,
  limit: number,
  blockIndex = 0,
): number {
  requireBytes(src, "src", DecompressError, "InvalidArgument");
  requireBytes(out, "out", DecompressError, "InvalidArgument");
  if (
    ![start, end, dst, limit].every(Number.isSafeInteger) || start < 0 || end > src.byteLength || start > end ||
    dst < 0 || limit < 0 || dst + limit > out.byteLength
  ) {
    throw new DecompressError("CorruptData", "LZ4 block bounds are outside the given buffers", {
      field: "block",
      value: `${start}..${end} -> ${dst}+${limit}`,
    });
  }
  const outEnd = dst + limit;
  let ip = start;
  let op = dst;
  const fail = (code: "Truncated" | "CorruptData", what: string): never => {
    throw new DecompressError(
      code,
      `LZ4 block ${blockIndex}: ${what} (input offset ${hex(ip)}, output offset ${hex(op - dst)})`,
      { field: "block", value: ip },
    );
  };
  if (ip === end) fail("Truncated", "empty block");

  for (;;) {
    const token = src[ip++];

    // Literals.
    let litLen = token >>> 4;
    if (litLen === RUN_MASK) {
      let b: number;
      do {
        if (ip >= end) fail("Truncated", "input ends inside a literal length");
        b = src[ip++];
        litLen += b;
      } while (b === 255);
    }
    if (litLen > end - ip) fail("Truncated", `${litLen} literals pass the end of the block`);
    if (litLen > outEnd - op) fail("CorruptData", `${litLen} literals pass the ${limit}-byte block output`);
    if (litLen < 32) {
      for (let i = 0; i < litLen; i++) out[op + i] = src[ip + i];
    } else {
      out.set(src.subarray(ip, ip + litLen), op);
    }
    ip += litLen;
    op += litLen;

    // "The last sequence contains only literals": the block ends here.
    if (ip === end) return op - dst;

    // Match.
    if (end - ip < 2) fail("Truncated", "input ends inside a match offset");
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0) fail("CorruptData", "match offset 0");
    if (offset > op - dst) fail("CorruptData", `match offset ${offset} reaches before the start of the block`);
    let matchLen = token & RUN_MASK;
    if (matchLen === RUN_MASK) {
      let b: number;
      do {
        if (ip >= end) fail("Truncated", "input ends inside a match length");
        b = src[ip++];
        matchLen += b;
      } while (b === 255);
    }
    matchLen += MIN_MATCH;
    if (matchLen > outEnd - op) fail("CorruptData", `match of ${matchLen} bytes passes the ${limit}-byte block output`);
    let m = op - offset;
    if (offset >= matchLen && matchLen > 32) {
      out.copyWithin(op, m, m + matchLen);
      op += matchLen;
    } else {
      // Overlapping (or short) match: byte by byte repeats the last `offset` bytes, as LZ4 specifies.
      const stop = op + matchLen;
      while (op < stop) out[op++] = out[m++];
    }
    if (ip >= end) fail("CorruptData", "block ends after a match; the last sequence must hold only literals");
  }
}

function readU32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
