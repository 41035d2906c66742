/**
 * gzip decompression into one buffer (RFC 1952), with typed errors, on the project's own streaming
 * inflate (`inflate.ts`): used for gzip-compressed kernel payloads and to read an `Image.gz` header.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { decodeGzip } from "./inflate.ts";
import { type ByteSink, checkMaxOutput, DEFAULT_MAX_OUTPUT } from "./sink.ts";
import { requireBytes, requireNumber } from "../guard.ts";

/** gzip ID1 and ID2: "ID1 = 31 (0x1f), ID2 = 139 (0x8b)" (RFC 1952, 2.3.1). */
export const GZIP_MAGIC: readonly [number, number] = [0x1f, 0x8b];

/** "CM = 8 denotes the 'deflate' compression method" (RFC 1952, 2.3.1); the only one defined. */
const GZIP_CM_DEFLATE = 8;

/** Member header (10 bytes) plus trailer (CRC32 and ISIZE, 8 bytes): the smallest possible member. */
const GZIP_MIN_SIZE = 18;

/** Options of {@linkcode gunzip}. */
export interface GunzipOptions {
  /** Largest output accepted, in bytes; above it an `"OutputTooLarge"` error. Defaults to 1 GiB. */
  maxOutput?: number;
}

/**
 * True when `bytes` starts with the gzip magic and the deflate method byte.
 *
 * @example
 * ```ts
 * import { isGzip } from "@linux-loader/linux-loader";
 * console.log(isGzip(new Uint8Array([0x1f, 0x8b, 8, 0]))); // true
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.byteLength >= 3 && bytes[0] === GZIP_MAGIC[0] &&
    bytes[1] === GZIP_MAGIC[1] &&
    bytes[2] === GZIP_CM_DEFLATE;
}

/** Thrown by the prefix sink once it has what it wants: stops the decoder early. */
class PrefixFull extends Error {}

/**
 * The first `length` bytes (or fewer, when the stream ends or breaks first) that the gzip data in `input`
 * decompresses to, without inflating much more (the decoder stops at its first chunk of output past
 * `length`): enough to read a compressed Image's header. Never throws for corrupt or truncated data; it
 * returns what decoded before the fault.
 *
 * @example
 * ```ts
 * import { gunzipPrefix } from "@linux-loader/linux-loader";
 * const packed = new Uint8Array(await new Response(new Blob(["hello, gzip"]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * console.log(new TextDecoder().decode(await gunzipPrefix(packed.subarray(0, 20), 5))); // hello
 * ```
 */
export function gunzipPrefix(input: Uint8Array, length: number): Promise<Uint8Array> {
  requireBytes(input, "input", DecompressError, "InvalidArgument");
  requireNumber(length, "length", DecompressError, "InvalidArgument");
  const out = new Uint8Array(Math.max(0, Math.min(Math.floor(length) || 0, DEFAULT_MAX_OUTPUT)));
  let got = 0;
  const sink: ByteSink = {
    write(chunk: Uint8Array): void {
      const n = Math.min(chunk.byteLength, out.length - got);
      out.set(chunk.subarray(0, n), got);
      got += n;
      if (got >= out.length) throw new PrefixFull();
    },
  };
  try {
    if (out.length > 0) decodeGzip(input, sink, { maxOutput: DEFAULT_MAX_OUTPUT });
  } catch (e) {
    if (!(e instanceof PrefixFull) && !(e instanceof DecompressError)) throw e;
    // Full, corrupt or cut short: what decoded so far is the answer.
  }
  return Promise.resolve(out.subarray(0, got));
}

/**
 * Decompresses gzip data: one member or several concatenated (RFC 1952 2.2: "A gzip file consists of a
 * series of members"), into one buffer, with the project's own inflate ({@linkcode decodeGzip}). Memory is
 * the output plus a constant: the output grows by doubling up to `maxOutput` at most, never past it.
 * Corrupt data, a bad checksum, bytes after the last member and truncation are a
 * {@linkcode DecompressError} (`"CorruptData"`, or `"Truncated"`); input without the magic is
 * `"BadMagic"`; output above `maxOutput` is `"OutputTooLarge"`.
 *
 * @example Round trip through CompressionStream
 * ```ts
 * import { gunzip } from "@linux-loader/linux-loader";
 * const text = new TextEncoder().encode("hello, gzip");
 * const packed = new Uint8Array(await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * console.log(new TextDecoder().decode(await gunzip(packed))); // hello, gzip
 * ```
 */
export function gunzip(input: Uint8Array, options: GunzipOptions = {}): Promise<Uint8Array> {
  try {
    requireBytes(input, "input", DecompressError, "InvalidArgument");
    return Promise.resolve(gunzipSync(input, options));
  } catch (e) {
    return Promise.reject(e);
  }
}

function gunzipSync(input: Uint8Array, options: GunzipOptions): Uint8Array {
  const maxOutput = checkMaxOutput(options);
  if (!isGzip(input)) {
    const got = Array.from(input.subarray(0, 3), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new DecompressError("BadMagic", `not gzip: starts with "${got}", expected "1f 8b 08"`, {
      field: "magic",
      value: got,
      limit: "1f 8b 08",
    });
  }
  if (input.byteLength < GZIP_MIN_SIZE) {
    throw new DecompressError("Truncated", `gzip input of ${input.byteLength} bytes is shorter than any member`, {
      value: input.byteLength,
      limit: GZIP_MIN_SIZE,
    });
  }
  // The trailer's ISIZE is a good first guess for a single member (mod 2^32; bounded by the limit).
  const isize = new DataView(input.buffer, input.byteOffset + input.byteLength - 4, 4).getUint32(0, true);
  const sink = new GrowingSink(Math.min(isize, maxOutput), maxOutput);
  const r = decodeGzip(input, sink, { maxOutput });
  if (r.consumed !== input.byteLength) {
    throw new DecompressError(
      "CorruptData",
      `${input.byteLength - r.consumed} bytes that are no gzip member follow the data at input offset ${
        hex(r.consumed)
      }`,
      { field: "trailing", value: r.consumed, limit: input.byteLength },
    );
  }
  return sink.bytes();
}

/** A sink into one buffer that doubles as needed, up to `max`. */
class GrowingSink implements ByteSink {
  private buf: Uint8Array;
  written = 0;
  constructor(initial: number, private readonly max: number) {
    this.buf = new Uint8Array(initial);
  }
  write(chunk: Uint8Array): void {
    const need = this.written + chunk.byteLength;
    if (need > this.buf.byteLength) {
      const grown = new Uint8Array(Math.min(this.max, Math.max(need, this.buf.byteLength * 2)));
      grown.set(this.buf.subarray(0, this.written));
      this.buf = grown;
    }
    this.buf.set(chunk, this.written);
    this.written = need;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.written);
  }
}
