/**
 * gzip decompression on the platform's `DecompressionStream` (RFC 1952), returning bytes, with typed
 * errors: used for gzip-compressed kernel payloads and `Image.gz`. The input must be exactly one gzip
 * member; the platform rejects bytes after it and multiple members.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";

/** gzip ID1 and ID2: "ID1 = 31 (0x1f), ID2 = 139 (0x8b)" (RFC 1952, 2.3.1). */
export const GZIP_MAGIC: readonly [number, number] = [0x1f, 0x8b];

/** "CM = 8 denotes the 'deflate' compression method" (RFC 1952, 2.3.1); the only one defined. */
const GZIP_CM_DEFLATE = 8;

/** Member header (10 bytes) plus trailer (CRC32 and ISIZE, 8 bytes): the smallest possible member. */
const GZIP_MIN_SIZE = 18;

/** Default output limit: 1 GiB. */
const DEFAULT_MAX_OUTPUT = 1 << 30;

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
  return bytes.byteLength >= 3 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1] &&
    bytes[2] === GZIP_CM_DEFLATE;
}

// Feeds all of `input` to the platform's inflater and returns the reader of its output. Write errors show
// up on the reader, so they are dropped here.
function inflate(input: Uint8Array): ReadableStreamDefaultReader<Uint8Array> {
  // The platform takes ArrayBuffer-backed views only.
  const data = input.buffer instanceof ArrayBuffer ? input : input.slice();
  const ds = new DecompressionStream("gzip");
  const writer = ds.writable.getWriter();
  writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  return ds.readable.getReader();
}

/**
 * The first `length` bytes (or fewer, when the stream ends or breaks first) that the gzip data in `input`
 * decompresses to, without inflating the rest: enough to read a compressed Image's header. Never throws for
 * corrupt or truncated data; it returns what decoded before the fault.
 *
 * @example
 * ```ts
 * import { gunzipPrefix } from "@linux-loader/linux-loader";
 * const packed = new Uint8Array(await new Response(new Blob(["hello, gzip"]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * console.log(new TextDecoder().decode(await gunzipPrefix(packed.subarray(0, 20), 5))); // hello
 * ```
 */
export async function gunzipPrefix(input: Uint8Array, length: number): Promise<Uint8Array> {
  const reader = inflate(input);
  const out = new Uint8Array(Math.max(0, Math.floor(length) || 0));
  let got = 0;
  try {
    while (got < out.length) {
      const { value, done } = await reader.read();
      if (done) break;
      const n = Math.min(value.byteLength, out.length - got);
      out.set(value.subarray(0, n), got);
      got += n;
    }
  } catch {
    // Corrupt or cut short: what decoded so far is the answer.
  } finally {
    reader.cancel().catch(() => {});
  }
  return out.subarray(0, got);
}

/**
 * Decompresses one gzip member. Corrupt data, a bad checksum, bytes after the member and truncation are
 * a {@linkcode DecompressError} (`"CorruptData"`, or `"Truncated"` for input shorter than any member);
 * input without the magic is `"BadMagic"`; output above `maxOutput` is `"OutputTooLarge"`.
 *
 * @example Round trip through CompressionStream
 * ```ts
 * import { gunzip } from "@linux-loader/linux-loader";
 * const text = new TextEncoder().encode("hello, gzip");
 * const packed = new Uint8Array(await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * console.log(new TextDecoder().decode(await gunzip(packed))); // hello, gzip
 * ```
 */
export async function gunzip(input: Uint8Array, options: GunzipOptions = {}): Promise<Uint8Array> {
  const maxOutput = options.maxOutput ?? DEFAULT_MAX_OUTPUT;
  // NaN would compare false against every total and switch the limit off.
  if (!(maxOutput >= 0)) {
    throw new DecompressError("OutputTooLarge", `maxOutput ${String(maxOutput)} is not a byte count`, {
      field: "maxOutput",
      value: String(maxOutput),
      limit: Number.MAX_SAFE_INTEGER,
    });
  }
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
  const reader = inflate(input);

  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxOutput) {
        await reader.cancel().catch(() => {});
        throw new DecompressError("OutputTooLarge", `gzip output passes the limit of ${maxOutput} bytes`, {
          field: "maxOutput",
          value: total,
          limit: maxOutput,
        });
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof DecompressError) throw e;
    throw new DecompressError(
      "CorruptData",
      `gzip data is corrupt, truncated or followed by other bytes (after ${hex(total)} output bytes): ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
