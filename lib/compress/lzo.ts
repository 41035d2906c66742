/**
 * LZO decoder: LZO1X blocks inside the `lzop` container, the format of `CONFIG_KERNEL_LZO` payloads
 * (`lzop -9`), streaming into a {@linkcode ByteSink}.
 *
 * There is no formal specification. The container follows the `lzop` program (lzop.c `p_header` and
 * `x_decompress`); what Linux accepts is `lib/decompress_unlzo.c`, the LZO1X bitstream is
 * `lib/lzo/lzo1x_decompress_safe.c`. The file is:
 *
 * - the 9-byte magic `89 4c 5a 4f 00 0d 0a 1a 0a`;
 * - a header (big endian): version, library version, version needed to extract (version >= 0x0940),
 *   method, level (version >= 0x0940), flags, filter (when `F_H_FILTER`), mode, mtime low, mtime high
 *   (version >= 0x0940), a name of at most 255 bytes, and an Adler-32 (or, with `F_H_CRC32`, a CRC-32) of
 *   the header from the version on; with `F_H_EXTRA_FIELD` an extra field and its checksum follow;
 * - blocks: uncompressed size (0 ends the file), compressed size, the checksums the flags ask for (of the
 *   uncompressed data, then of the compressed data when the block is compressed), and the data, stored as
 *   is when both sizes are equal. Each block is compressed on its own: matches never reach into an earlier
 *   block, so the window is one block.
 *
 * Every block is decoded into one reusable buffer of {@linkcode LZO_BLOCK_SIZE} bytes (the largest block
 * Linux accepts, and the size `lzop` writes), its checksums are verified, and only then is it handed to
 * the sink: a sink never sees a block that fails its checksum.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { adler32, crc32 } from "./checksum.ts";
import { type ByteSink, checkMaxOutput, type DecodeOptions, type DecodeResult } from "./sink.ts";
import { optionalObject, requireBytes, requireObject } from "../guard.ts";

/** lzop's magic: "\x89LZO\0\r\n\x1a\n". */
export const LZOP_MAGIC: readonly number[] = [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a];

/** Largest uncompressed block: Linux `LZO_BLOCK_SIZE` "(256*1024l)", lzop's `BLOCK_SIZE`. */
export const LZO_BLOCK_SIZE = 256 * 1024;

/** Header version from which the "version needed", level and mtime high fields exist (lzop.c). */
const VERSION_0940 = 0x0940;
/** lzop.c refuses headers older than 0x0900 ("not a lzop file"). */
const MIN_VERSION = 0x0900;
/** The newest format this decoder knows: lzop 1.04 writes "version needed to extract" 0x0940. */
const KNOWN_VERSION = 0x1040;
/** lzop flags (lzop's conf.h). */
const F_ADLER32_D = 0x0001;
const F_ADLER32_C = 0x0002;
const F_H_EXTRA_FIELD = 0x0040;
const F_CRC32_D = 0x0100;
const F_CRC32_C = 0x0200;
const F_MULTIPART = 0x0400;
const F_H_FILTER = 0x0800;
const F_H_CRC32 = 0x1000;
/** Flag bits lzop defines nowhere ("F_RESERVED": not F_MASK 0x3fff, the OS byte or the charset nibble). */
const F_RESERVED = 0x000fc000;
/** Methods: M_LZO1X_1, M_LZO1X_1_15 and M_LZO1X_999, all LZO1X bitstreams. */
const METHODS_LZO1X: readonly number[] = [1, 2, 3];
/** LZO1X: "M2_MAX_OFFSET 0x0800", the reach of a two-byte match. */
const M2_MAX_OFFSET = 0x0800;
/** LZO1X: the base distance of an M4 match. */
const M4_BASE = 0x4000;

/** Options of {@linkcode decodeLzo}. */
export type LzoOptions = DecodeOptions;

/**
 * Decodes the lzop file at the start of `input` into `sink`, and the files concatenated after it (as
 * `lzop -d` does). Stops after the last one's zero end block; bytes after it (a kernel's four-byte size
 * trailer) are left unread and `consumed` says where they begin.
 *
 * Errors ({@linkcode DecompressError}, each naming the input offset): `BadMagic` (no lzop magic),
 * `Truncated` (input ends inside the header or a block), `CorruptData` (an unknown version, method or flag,
 * a header or block checksum mismatch, a block larger than {@linkcode LZO_BLOCK_SIZE}, an LZO1X stream
 * that reaches before the block or does not end where its sizes say), `OutputTooLarge` (output would pass
 * `maxOutput`, default 1 GiB; checked before a block reaches the sink).
 *
 * @example Decode what `lzop` wrote for "hello\n"
 * ```ts
 * import { BufferSink, decodeLzo } from "@linux-loader/linux-loader";
 * // The output of `printf 'hello\n' | lzop -9`
 * const packed = Uint8Array.from(atob("iUxaTwANChoKEEAgoAlAAwkDAAANAAAAAGsU6k8AAAAAACxtAy4AAAAGAAAABghLAh9oZWxsbwoAAAAA"), (c) => c.charCodeAt(0));
 * const sink = new BufferSink(new Uint8Array(16));
 * decodeLzo(packed, sink);
 * console.log(new TextDecoder().decode(sink.bytes())); // "hello\n"
 * ```
 */
export function decodeLzo(input: Uint8Array, sink: ByteSink, options?: LzoOptions): DecodeResult {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  const maxOutput = checkMaxOutput(options);
  const end = input.byteLength;
  let pos = 0;
  const isMagic = (at: number): boolean =>
    end - at >= LZOP_MAGIC.length && LZOP_MAGIC.every((b, i) => input[at + i] === b);
  if (!isMagic(0)) {
    const got = Array.from(input.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new DecompressError("BadMagic", `not lzop: starts with "${got}", expected "89 4c 5a 4f 00 0d 0a 1a 0a"`, {
      field: "magic",
      value: got,
      limit: "89 4c 5a 4f",
    });
  }
  let block: Uint8Array | undefined;
  let written = 0;
  // Files may be concatenated (lzop decodes `cat a.lzo b.lzo` as one output); stop at anything else.
  for (let file = 0; file === 0 || isMagic(pos); file++) {
    pos += LZOP_MAGIC.length;
    const r = decodeFile(input, pos, sink, maxOutput, written, () => block ??= new Uint8Array(LZO_BLOCK_SIZE));
    pos = r.pos;
    written = r.written;
  }

  return { consumed: pos, written };
}

/** Decodes one lzop file's header (after the magic, at `start`) and blocks; returns where it ended. */
function decodeFile(
  input: Uint8Array,
  start: number,
  sink: ByteSink,
  maxOutput: number,
  writtenBefore: number,
  buffer: () => Uint8Array,
): { pos: number; written: number } {
  const end = input.byteLength;
  let pos = start;
  let written = writtenBefore;
  const fail = (code: "Truncated" | "CorruptData" | "Unsupported", what: string, at = pos): never => {
    throw new DecompressError(code, `lzop: ${what} (input offset ${hex(at)})`, { field: "lzo", value: at });
  };
  const need = (n: number, what: string): void => {
    if (end - pos < n) fail("Truncated", `the input ends inside ${what}`);
  };
  const u8 = (): number => input[pos++];
  const u16 = (): number => {
    const v = (input[pos] << 8) | input[pos + 1];
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    const v = ((input[pos] << 24) | (input[pos + 1] << 16) | (input[pos + 2] << 8) | input[pos + 3]) >>> 0;
    pos += 4;
    return v;
  };

  // ---- header ----
  const headerStart = pos;
  need(9, "the header");
  const version = u16();
  u16(); // library version
  if (version < MIN_VERSION) fail("CorruptData", `header version ${hex(version)} is older than lzop's 0x0900`);
  if (version >= VERSION_0940) {
    const needed = u16();
    if (needed > KNOWN_VERSION || needed < MIN_VERSION) {
      fail("CorruptData", `the file needs lzop version ${hex(needed)} to extract`, pos - 2);
    }
  }
  const method = u8();
  if (!METHODS_LZO1X.includes(method)) fail("CorruptData", `method ${method} is not LZO1X (1, 2 or 3)`, pos - 1);
  if (version >= VERSION_0940) u8(); // level
  need(4, "the header");
  const flags = u32();
  if (flags & F_RESERVED) fail("CorruptData", `unknown header flags ${hex(flags & F_RESERVED)}`, pos - 4);
  if (flags & F_MULTIPART) fail("Unsupported", "multi-part files are not supported (nor by lzop)", pos - 4);
  if (flags & F_H_FILTER) {
    need(4, "the header");
    u32(); // filter: lzop's filters are for preprocessing audio, never used for kernels
    fail("CorruptData", "the file uses an lzop filter, which Linux does not undo", pos - 4);
  }
  need(version >= VERSION_0940 ? 13 : 9, "the header");
  u32(); // mode
  u32(); // mtime low
  if (version >= VERSION_0940) u32(); // mtime high
  const nameLen = u8();
  need(nameLen + 4, "the header");
  pos += nameLen;
  const headerEnd = pos;
  const stored = u32();
  const sum = flags & F_H_CRC32 ? crc32(0, input, headerStart, headerEnd) : adler32(1, input, headerStart, headerEnd);
  if (sum !== stored) {
    fail("CorruptData", `header checksum ${hex(sum)} does not match the stored ${hex(stored)}`, headerEnd);
  }
  if (flags & F_H_EXTRA_FIELD) {
    need(4, "the header's extra field");
    const extraStart = pos;
    const extraLen = u32();
    need(extraLen + 4, "the header's extra field");
    pos += extraLen;
    const extraEnd = pos;
    const extraStored = u32();
    const extraSum = flags & F_H_CRC32
      ? crc32(0, input, extraStart, extraEnd)
      : adler32(1, input, extraStart, extraEnd);
    if (extraSum !== extraStored) fail("CorruptData", "the extra field's checksum does not match", extraEnd);
  }

  // ---- blocks ----
  for (let index = 0;; index++) {
    const blockStart = pos;
    need(4, `block ${index}'s size`);
    const dstLen = u32();
    if (dstLen === 0) break;
    if (dstLen > LZO_BLOCK_SIZE) {
      fail(
        "CorruptData",
        `block ${index} claims ${dstLen} bytes, more than the ${LZO_BLOCK_SIZE} Linux accepts`,
        blockStart,
      );
    }
    need(4, `block ${index}'s header`);
    const srcLen = u32();
    if (srcLen === 0 || srcLen > dstLen) {
      fail("CorruptData", `block ${index}: compressed size ${srcLen} is 0 or above its ${dstLen} bytes`, pos - 4);
    }
    const compressed = srcLen < dstLen;
    let dAdler = -1, dCrc = -1, cAdler = -1, cCrc = -1;
    if (flags & F_ADLER32_D) need(4, `block ${index}'s checksums`), dAdler = u32();
    if (flags & F_CRC32_D) need(4, `block ${index}'s checksums`), dCrc = u32();
    if (flags & F_ADLER32_C && compressed) need(4, `block ${index}'s checksums`), cAdler = u32();
    if (flags & F_CRC32_C && compressed) need(4, `block ${index}'s checksums`), cCrc = u32();
    need(srcLen, `block ${index}'s ${srcLen} bytes of data`);
    const dataStart = pos;
    pos += srcLen;
    if (dstLen > maxOutput - written) {
      throw new DecompressError(
        "OutputTooLarge",
        `lzop output passes the limit of ${maxOutput} bytes at block ${index} (input offset ${hex(blockStart)})`,
        { field: "maxOutput", value: written + dstLen, limit: maxOutput },
      );
    }
    if (cAdler >= 0 && adler32(1, input, dataStart, pos) !== cAdler) {
      fail("CorruptData", `block ${index}'s compressed data fails its Adler-32`, dataStart);
    }
    if (cCrc >= 0 && crc32(0, input, dataStart, pos) !== cCrc) {
      fail("CorruptData", `block ${index}'s compressed data fails its CRC-32`, dataStart);
    }
    let out: Uint8Array;
    if (compressed) {
      const n = decodeLzo1x(input, dataStart, pos, buffer(), dstLen, index);
      if (n !== dstLen) {
        fail("CorruptData", `block ${index} decodes to ${n} bytes, its header says ${dstLen}`, dataStart);
      }
      out = buffer().subarray(0, dstLen);
    } else {
      out = input.subarray(dataStart, pos);
    }
    if (dAdler >= 0 && adler32(1, out) !== dAdler) {
      fail("CorruptData", `block ${index}'s data fails its Adler-32`, dataStart);
    }
    if (dCrc >= 0 && crc32(0, out) !== dCrc) fail("CorruptData", `block ${index}'s data fails its CRC-32`, dataStart);
    sink.write(out);
    written += dstLen;
  }
  return { pos, written };
}

/** The error of an LZO1X stream: `ip` past `end` means the input was cut short. */
function lzo1xError(what: string, index: number, ip: number, end: number, op: number): DecompressError {
  return new DecompressError(
    ip > end ? "Truncated" : "CorruptData",
    `lzop block ${index}: ${what} (input offset ${hex(Math.min(ip, end))}, block output offset ${hex(op)})`,
    { field: "lzo1x", value: Math.min(ip, end) },
  );
}

/**
 * Decodes the LZO1X stream `src[start, end)` into `out[0, limit)`; returns the bytes produced. The stream
 * must end with its end marker exactly at `end`. Errors name block `index`. (No closure captures `ip` or
 * `op`: they stay in registers.)
 */
function decodeLzo1x(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  limit: number,
  index: number,
): number {
  let ip = start;
  let op = 0;
  if (end - start < 3) throw lzo1xError("a block shorter than the 3-byte end marker", index, ip, end, op);

  let t = 0;
  let state = 0; // 0: after a match with no literals; 1-3: literals after a match; 4: after a literal run
  let next = 0;
  let mPos = 0;
  let fault = "";
  // "If the first byte is above 17, it is a literal run of (byte - 17) bytes" (short runs are a match tail).
  let pendingLiterals = -1;
  let skipMatch = false;
  if (src[ip] > 17) {
    t = src[ip++] - 17;
    if (t < 4) {
      next = t;
      skipMatch = true;
    } else pendingLiterals = t;
  }
  for (;;) {
    let literals = pendingLiterals;
    pendingLiterals = -1;
    if (literals < 0 && !skipMatch) {
      if (ip >= end) {
        fault = "the input ends before the end marker";
        break;
      }
      t = src[ip++];
      if (t < 16) {
        if (state === 0) {
          if (t === 0) {
            // A run of zero bytes adds 255 each, then a final byte.
            while (ip < end && src[ip] === 0) {
              t += 255;
              ip++;
            }
            if (ip >= end) {
              fault = "the input ends inside a length";
              break;
            }
            t += 15 + src[ip++];
          }
          literals = t + 3;
        } else {
          if (ip >= end) {
            fault = "the input ends inside a match";
            break;
          }
          next = t & 3;
          if (state !== 4) {
            // M1: a two-byte match within 1 KiB, after literals that followed a match.
            mPos = op - 1 - (t >> 2) - (src[ip++] << 2);
            t = 2;
          } else {
            // A three-byte match at 2 KiB + up to 1 KiB, after a literal run.
            mPos = op - (1 + M2_MAX_OFFSET) - (t >> 2) - (src[ip++] << 2);
            t = 3;
          }
        }
      } else if (t >= 64) {
        // M2: length 3-8, distance up to 2 KiB.
        if (ip >= end) {
          fault = "the input ends inside a match";
          break;
        }
        next = t & 3;
        mPos = op - 1 - ((t >> 2) & 7) - (src[ip++] << 3);
        t = (t >> 5) - 1 + 2;
      } else {
        const m4 = t < 32;
        if (m4) {
          // M4: distance 16 KiB to 48 KiB; distance 16 KiB exactly with bit 3 clear is the end marker.
          mPos = op - ((t & 8) << 11);
          t = (t & 7) + 2;
        } else {
          // M3: distance up to 16 KiB.
          mPos = op - 1;
          t = (t & 31) + 2;
        }
        if (t === 2) {
          while (ip < end && src[ip] === 0) {
            t += 255;
            ip++;
          }
          if (ip >= end) {
            fault = "the input ends inside a length";
            break;
          }
          t += (m4 ? 7 : 31) + src[ip++];
        }
        if (end - ip < 2) {
          fault = "the input ends inside a match";
          break;
        }
        const d = src[ip] | (src[ip + 1] << 8);
        ip += 2;
        mPos -= d >> 2;
        next = d & 3;
        if (m4) {
          if (mPos === op) {
            // The end marker: "11 00 00", with nothing after it.
            if (t !== 3) {
              fault = "a malformed end marker";
              break;
            }
            if (ip !== end) {
              fault = `${end - ip} bytes follow the end marker`;
              break;
            }
            return op;
          }
          mPos -= M4_BASE;
        }
      }
    }

    if (literals >= 0) {
      // A literal run; the stream must still hold at least the 3-byte end marker after it.
      if (literals > end - ip - 3) {
        ip = end + 1;
        fault = "a literal run passes the end of the input";
        break;
      }
      if (literals > limit - op) {
        fault = `a literal run passes the block's ${limit} bytes`;
        break;
      }
      if (literals < 16) {
        for (let i = 0; i < literals; i++) out[op + i] = src[ip + i];
      } else out.set(src.subarray(ip, ip + literals), op);
      ip += literals;
      op += literals;
      state = 4;
      continue;
    }
    if (!skipMatch) {
      if (mPos < 0) {
        fault = `a match reaches ${-mPos} bytes before the block`;
        break;
      }
      if (t > limit - op) {
        fault = `a match passes the block's ${limit} bytes`;
        break;
      }
      if (op - mPos >= t && t > 32) {
        out.copyWithin(op, mPos, mPos + t);
        op += t;
      } else {
        const stop = op + t;
        while (op < stop) out[op++] = out[mPos++];
      }
    }
    skipMatch = false;
    // Up to three literals follow a match (the low bits of its last byte).
    state = next;
    if (next > 0) {
      if (next > end - ip - 3) {
        ip = end + 1;
        fault = "literals after a match pass the end of the input";
        break;
      }
      if (next > limit - op) {
        fault = `literals pass the block's ${limit} bytes`;
        break;
      }
      out[op++] = src[ip++];
      if (next > 1) out[op++] = src[ip++];
      if (next > 2) out[op++] = src[ip++];
    }
  }
  throw lzo1xError(fault, index, ip, end, op);
}
