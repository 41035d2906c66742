/**
 * Decoder for the legacy `.lzma` ("LZMA_Alone") format: the format of `lzma`/`xz --format=lzma` and of
 * kernels built with CONFIG_KERNEL_LZMA (`scripts/Makefile.lib`: `cmd_lzma = ... $(LZMA) -9`).
 *
 * Layout (LZMA SDK `DOC/lzma-specification.txt`, "LZMA file format"): one properties byte
 * `(pb * 5 + lp) * 9 + lc`, the dictionary size (32-bit little endian), the uncompressed size (64-bit
 * little endian, all ones when unknown: then an end marker ends the data), then the range-coded data.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { type ByteSink, checkMaxOutput, type DecodeOptions, type DecodeResult } from "./sink.ts";
import { LZMA_PROPS_MAX, LZMA_STATUS_END, LzmaDecoder, parseLzmaProps } from "./lzma_core.ts";
import { optionalObject, requireObject } from "../guard.ts";

/** Size of the `.lzma` header: properties (1), dictionary size (4), uncompressed size (8). */
export const LZMA_HEADER_SIZE = 13;

/** The decoder's smallest dictionary: "if (dictSize < (1 << 12)) dictSize = (1 << 12)" (LZMA SDK LzmaDec.c). */
const LZMA_DICT_MIN = 1 << 12;

/** Uncompressed sizes above this (256 GiB) make {@linkcode isLzma} say no, as liblzma's format probe does. */
const LZMA_PROBE_SIZE_MAX = 2 ** 38;

/**
 * Whether `bytes` look like a `.lzma` file: a valid properties byte, a dictionary size that an encoder
 * writes (2^n or 2^n + 2^(n-1), or 0xFFFFFFFF), and an uncompressed size that is unknown or below 256 GiB:
 * the checks liblzma uses to recognise the format, since it has no magic number.
 *
 * @example
 * ```ts
 * import { isLzma } from "@linux-loader/linux-loader";
 * const header = new Uint8Array([0x5d, 0, 0, 0x80, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
 * console.log(isLzma(header)); // true
 * ```
 */
export function isLzma(bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.length < LZMA_HEADER_SIZE || bytes[0] > LZMA_PROPS_MAX) return false;
  const dict = readU32(bytes, 1);
  if (dict !== 0xffff_ffff) {
    // 2^n or 2^n + 2^(n-1): clear the top bit and at most one bit below it.
    let d = dict - 1;
    d |= d >>> 2;
    d |= d >>> 3;
    d |= d >>> 4;
    d |= d >>> 8;
    d |= d >>> 16;
    if ((d + 1) >>> 0 !== dict) return false;
  }
  const size = readU32(bytes, 5) + readU32(bytes, 9) * 2 ** 32;
  return isUnknownSize(bytes) || size < LZMA_PROBE_SIZE_MAX;
}

/** What {@linkcode decodeLzma} returns. */
export interface LzmaResult extends DecodeResult {
  /** The header's uncompressed size, or `undefined` when unknown (end marker). */
  declaredSize: number | undefined;
  /** The header's dictionary size. */
  dictSize: number;
}

/**
 * Decodes one `.lzma` file from `input` into `sink`, in chunks of at most 256 KiB, keeping a window of
 * `min(dictionary size, maxOutput)`. Bytes after the data (a kernel's size trailer) are not read;
 * `consumed` says where the data ended. Errors are {@linkcode DecompressError}s naming the input offset.
 *
 * @example Round trip through `xz --format=lzma` output of "hello"
 * ```ts
 * import { BufferSink, decodeLzma } from "@linux-loader/linux-loader";
 * const file = new Uint8Array([
 *   0x5d, 0x00, 0x00, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x34, 0x19,
 *   0x49, 0xee, 0x8e, 0x68, 0x21, 0xff, 0xff, 0xff, 0xb9, 0xe0, 0x00, 0x00,
 * ]);
 * const sink = new BufferSink(new Uint8Array(16));
 * decodeLzma(file, sink);
 * console.log(new TextDecoder().decode(sink.bytes())); // hello
 * ```
 */
export function decodeLzma(input: Uint8Array, sink: ByteSink, options?: DecodeOptions): LzmaResult {
  const maxOutput = checkMaxOutput(options);
  if (!(input instanceof Uint8Array)) {
    throw new DecompressError("BadMagic", "lzma: the input is not a Uint8Array", {
      field: "input",
      value: typeof input,
    });
  }
  requireObject(sink, "sink", DecompressError, "InvalidArgument");
  optionalObject(options, "options", DecompressError, "InvalidArgument");
  if (input.length < LZMA_HEADER_SIZE) {
    throw new DecompressError("Truncated", `lzma: ${input.length} bytes is shorter than the 13-byte header`, {
      field: "header",
      value: input.length,
      limit: LZMA_HEADER_SIZE,
    });
  }
  const props = parseLzmaProps(input[0]);
  if (props === undefined) {
    throw new DecompressError("BadMagic", `lzma: properties byte ${hex(input[0])} is above ${hex(LZMA_PROPS_MAX)}`, {
      field: "properties",
      value: input[0],
      limit: LZMA_PROPS_MAX,
    });
  }
  const dictSize = readU32(input, 1);
  let declared: number | undefined;
  if (!isUnknownSize(input)) {
    const hi = readU32(input, 9);
    declared = readU32(input, 5) + hi * 2 ** 32;
    if (!Number.isSafeInteger(declared) || declared > maxOutput) {
      throw new DecompressError(
        "OutputTooLarge",
        `lzma: the header declares ${declared} uncompressed bytes, above the limit of ${maxOutput} (input offset 0x5)`,
        { field: "uncompressed_size", value: declared, limit: maxOutput },
      );
    }
  }

  const dec = new LzmaDecoder(sink, maxOutput, "lzma");
  dec.setDictSize(Math.max(dictSize, LZMA_DICT_MIN));
  dec.setProps(props);
  dec.resetDict();
  const end = input.length;
  let ip = dec.initRangeDecoder(input, LZMA_HEADER_SIZE, end);
  if (declared === undefined) {
    ip = dec.run(input, ip, end, Infinity);
    if (dec.status !== LZMA_STATUS_END) dec.fail("Truncated", ip, "input ends before the end marker");
  } else {
    ip = dec.run(input, ip, end, declared);
    if (dec.status === LZMA_STATUS_END) {
      dec.fail("CorruptData", ip, `end marker after ${dec.totalOut} of the ${declared} declared bytes`);
    }
    if (!dec.rcFinished) {
      // A known size may still be followed by an end marker (LZMA SDK `-eos`): it must come next.
      const before = dec.totalOut;
      ip = dec.run(input, ip, end, 1);
      if (dec.status !== LZMA_STATUS_END || dec.totalOut !== before) {
        dec.fail("CorruptData", ip, `data continues past the declared ${declared} bytes`);
      }
    }
  }
  if (!dec.rcFinished) dec.fail("CorruptData", ip, "the range decoder did not end cleanly (code is not 0)");
  dec.flush();
  return { consumed: ip, written: dec.totalOut, declaredSize: declared, dictSize };
}

function isUnknownSize(b: Uint8Array): boolean {
  for (let i = 5; i < LZMA_HEADER_SIZE; i++) if (b[i] !== 0xff) return false;
  return true;
}

function readU32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
