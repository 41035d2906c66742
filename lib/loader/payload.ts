/**
 * Compressed kernel payloads, whatever wraps them (a bzImage's `payload_offset`, an EFI zboot image, an
 * `Image.gz`): one table of the seven methods Linux can build (`CONFIG_KERNEL_*`) and their streaming
 * decoders, the build's size trailer, and two ways to decode with bounded memory:
 *
 * - {@linkcode decompressPayload} into one buffer of exactly the output's size (sized from the trailer
 *   when it is sane, else measured by a counting pass first), so there is never a second copy;
 * - {@linkcode decompressIntoGuest} straight into guest memory, with "memory untouched on failure": when
 *   the destination range is all zero (fresh guest memory) and the size is known up front, one pass
 *   writes it and a failure re-zeroes what was written (the range is byte for byte as before); otherwise
 *   a verifying pass into a {@linkcode CountingSink} proves the stream intact (every check of the format)
 *   before a second pass writes anything.
 *
 * The size trailer: "size_append" in `scripts/Makefile.lib` appends the uncompressed size as four
 * little-endian bytes to every method but gzip, whose own trailer ends with ISIZE, the same four bytes.
 *
 * @module
 */

import { DecompressError, describeThrown, hex, SourceError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { decodeBzip2 } from "../compress/bzip2.ts";
import { decodeGzip, decodeGzipStream } from "../compress/inflate.ts";
import { decodeLz4 } from "../compress/lz4.ts";
import { decodeLzma } from "../compress/lzma.ts";
import { decodeLzo } from "../compress/lzo.ts";
import { type ByteSink, CountingSink, type DecodeOptions, type DecodeResult } from "../compress/sink.ts";
import { decodeXz } from "../compress/xz.ts";
import { decodeZstd } from "../compress/zstd.ts";
import { requireBytes, requireMemory, requireNumber } from "../guard.ts";

/** The compression methods of a kernel payload that need decoding (`"none"` aside). */
export type PayloadMethod = "lz4" | "gzip" | "xz" | "zstd" | "bzip2" | "lzma" | "lzo";

/** The streaming decoder of each method. */
export const PAYLOAD_DECODERS: Readonly<
  Record<PayloadMethod, (input: Uint8Array, sink: ByteSink, options?: DecodeOptions) => DecodeResult>
> = Object.freeze({
  lz4: decodeLz4,
  gzip: decodeGzip,
  xz: decodeXz,
  zstd: decodeZstd,
  bzip2: decodeBzip2,
  lzma: decodeLzma,
  lzo: decodeLzo,
});

/**
 * A payload read in windows instead of held whole (an `Image.gz` streamed from a file): its size and a
 * synchronous positioned read. Internal: `mod.ts` does not re-export it.
 */
export interface StreamedPayload {
  /** Bytes in the payload. */
  readonly size: number;
  /** Fills `dest` with the payload's bytes at `offset` (or throws). */
  read(offset: number, dest: Uint8Array): void;
}

/** A payload held whole or streamed. Internal. */
export type PayloadInput = Uint8Array | StreamedPayload;

function inputLength(payload: PayloadInput): number {
  return payload instanceof Uint8Array ? payload.byteLength : payload.size;
}

/**
 * Runs `method`'s decoder over a payload: gzip streams a {@linkcode StreamedPayload} (the input held about
 * 385 KiB at a time); the other methods read it whole first.
 */
function runDecoder(method: PayloadMethod, payload: PayloadInput, sink: ByteSink, options?: DecodeOptions) {
  if (payload instanceof Uint8Array) return PAYLOAD_DECODERS[method](payload, sink, options);
  if (method === "gzip") return decodeGzipStream((o, d) => payload.read(o, d), payload.size, sink, options);
  const whole = new Uint8Array(payload.size);
  payload.read(0, whole);
  return PAYLOAD_DECODERS[method](whole, sink, options);
}

/** {@linkcode sizeTrailer} of a payload held whole or streamed. Internal. */
export function payloadTrailer(payload: PayloadInput): number {
  if (payload instanceof Uint8Array) return sizeTrailer(payload);
  if (payload.size < SIZE_TRAILER_LENGTH) return 0;
  const t = new Uint8Array(SIZE_TRAILER_LENGTH);
  payload.read(payload.size - SIZE_TRAILER_LENGTH, t);
  return sizeTrailer(t);
}

/** Length of the size trailer ("size_append": four little-endian bytes). */
export const SIZE_TRAILER_LENGTH = 4;

/** The last four bytes of `payload` as a little-endian number (0 when shorter). */
export function sizeTrailer(payload: Uint8Array): number {
  const n = payload.byteLength;
  if (n < SIZE_TRAILER_LENGTH) return 0;
  return (payload[n - 4] | (payload[n - 3] << 8) | (payload[n - 2] << 16) | (payload[n - 1] << 24)) >>> 0;
}

/** Thrown by a sink that has what it wants; stops the decoder. */
class StopDecoding extends Error {}

/**
 * The first `length` bytes `payload` decompresses to (fewer when it ends first), decoding only as far as
 * needed (a decoder's first chunk or block). Corrupt data is a {@linkcode DecompressError} when it shows
 * before `length` bytes.
 *
 * @example
 * ```ts
 * import { payloadPrefix } from "@linux-loader/linux-loader";
 * const packed = new Uint8Array(await new Response(new Blob(["hello, kernel"]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * console.log(new TextDecoder().decode(payloadPrefix("gzip", packed, 5))); // hello
 * ```
 */
export function payloadPrefix(method: PayloadMethod, payload: Uint8Array, length: number): Uint8Array {
  requireBytes(payload, "payload", DecompressError, "InvalidArgument");
  requireNumber(length, "length", DecompressError, "InvalidArgument");
  return payloadPrefixOf(method, payload, length);
}

/** {@linkcode payloadPrefix} of a payload held whole or streamed. Internal. */
export function payloadPrefixOf(method: PayloadMethod, payload: PayloadInput, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let got = 0;
  try {
    runDecoder(method, payload, {
      write(chunk: Uint8Array): void {
        const n = Math.min(chunk.byteLength, length - got);
        out.set(chunk.subarray(0, n), got);
        got += n;
        if (got === length) throw new StopDecoding();
      },
    });
  } catch (e) {
    if (!(e instanceof StopDecoding)) throw e;
  }
  return out.subarray(0, got);
}

/**
 * Checks what follows the decoded stream in `payload`: nothing, or (for every method but gzip... and gzip
 * too, harmlessly) the four-byte size trailer, which must then equal the output size.
 */
function checkTail(method: PayloadMethod, payload: PayloadInput, r: DecodeResult): void {
  const rest = inputLength(payload) - r.consumed;
  if (rest === 0) return;
  if (rest === SIZE_TRAILER_LENGTH) {
    const trailer = payloadTrailer(payload);
    if (trailer === r.written % 0x1_0000_0000) return;
    throw new DecompressError(
      "CorruptData",
      `the size trailer says ${trailer} bytes but the ${method} data holds ${r.written}`,
      { field: "size_append", value: trailer, limit: r.written },
    );
  }
  throw new DecompressError(
    "CorruptData",
    `${rest} bytes follow the ${method} data at payload offset ${hex(r.consumed)}`,
    { field: "payload_length", value: r.consumed, limit: inputLength(payload) },
  );
}

/** The output size the trailer promises, when it is usable (above 0, at most `maxOutput`), else undefined. */
function promisedSize(payload: Uint8Array, maxOutput: number): number | undefined {
  const t = sizeTrailer(payload);
  return t > 0 && t <= maxOutput ? t : undefined;
}

/**
 * Decodes a whole payload once into a {@linkcode CountingSink}, proving it intact and measuring it:
 * what it holds after its stream and its trailer are checked too.
 */
export function measurePayload(method: PayloadMethod, payload: PayloadInput, maxOutput: number): number {
  const r = runDecoder(method, payload, new CountingSink(), { maxOutput });
  checkTail(method, payload, r);
  return r.written;
}

/**
 * Decompresses a kernel payload into one buffer of exactly its output size: the size trailer (or gzip's
 * ISIZE) sizes it when it is at most `maxOutput`; otherwise (or when the trailer turns out wrong) a
 * counting pass measures the output first. Memory: the output, the decoder's window, the input. Errors:
 * the decoder's {@linkcode DecompressError}, and `CorruptData` for bytes after the stream other than a
 * matching size trailer.
 *
 * @example
 * ```ts
 * import { decompressPayload } from "@linux-loader/linux-loader";
 * const packed = new Uint8Array(await new Response(new Blob(["hello, kernel"]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * console.log(new TextDecoder().decode(decompressPayload("gzip", packed, 1 << 20))); // hello, kernel
 * ```
 */
export function decompressPayload(method: PayloadMethod, payload: Uint8Array, maxOutput: number): Uint8Array {
  requireBytes(payload, "payload", DecompressError, "InvalidArgument");
  requireNumber(maxOutput, "maxOutput", DecompressError, "InvalidArgument");
  const decode = PAYLOAD_DECODERS[method];
  const promised = promisedSize(payload, maxOutput);
  if (promised !== undefined) {
    const out = new Uint8Array(promised);
    const sink = new ExactSink(out);
    try {
      const r = decode(payload, sink, { maxOutput: promised });
      if (r.written === promised) {
        checkTail(method, payload, r);
        return out;
      }
    } catch (e) {
      // More output than promised: the last four bytes were no size trailer (an LZ4 payload without
      // one) or a wrong one; measure, and let checkTail say which.
      if (!(e instanceof DecompressError && e.code === "OutputTooLarge")) throw e;
    }
  }
  const size = measurePayload(method, payload, maxOutput);
  const out = new Uint8Array(size);
  decode(payload, new ExactSink(out), { maxOutput: size });
  return out;
}

/** A sink into a buffer of exactly the expected size (the decoder's maxOutput keeps it inside). */
class ExactSink implements ByteSink {
  written = 0;
  constructor(private readonly dest: Uint8Array) {}
  write(chunk: Uint8Array): void {
    this.dest.set(chunk, this.written);
    this.written += chunk.byteLength;
  }
}

/** Bytes scanned per early-exit test of {@linkcode isZeroRange}. */
const ZERO_SCAN_BLOCK = 1 << 16;

/**
 * Whether guest memory `[addr, addr + len)` (which must be guest memory) holds only zero bytes: 32-bit
 * words OR-ed together per 64 KiB, leaving at the first block that is not zero.
 *
 * @example
 * ```ts
 * import { GuestMemory, isZeroRange } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 4096]]);
 * mem.write(100, new Uint8Array([1]));
 * console.log(isZeroRange(mem, 0, 100), isZeroRange(mem, 0, 101)); // true false
 * ```
 */
export function isZeroRange(mem: GuestMemory, addr: number, len: number): boolean {
  requireMemory(mem, "mem", DecompressError, "InvalidArgument");
  requireNumber(addr, "addr", DecompressError, "InvalidArgument");
  requireNumber(len, "len", DecompressError, "InvalidArgument");
  for (const s of mem.slices(addr, len)) {
    const head = Math.min(s.byteLength, (4 - (s.byteOffset & 3)) & 3);
    for (let i = 0; i < head; i++) if (s[i] !== 0) return false;
    const words = (s.byteLength - head) >>> 2;
    const w = new Int32Array(s.buffer, s.byteOffset + head, words);
    for (let i = 0; i < words; i += ZERO_SCAN_BLOCK >>> 2) {
      const stop = Math.min(words, i + (ZERO_SCAN_BLOCK >>> 2));
      let acc = 0;
      for (let k = i; k < stop; k++) acc |= w[k];
      if (acc !== 0) return false;
    }
    for (let i = head + words * 4; i < s.byteLength; i++) if (s[i] !== 0) return false;
  }
  return true;
}

/** How {@linkcode decompressIntoGuest} kept guest memory untouched on failure. */
export type GuestDecodeStrategy = "zero-restore" | "verify-then-write";

/**
 * Decompresses `payload` into guest memory at `addr`, `size` bytes exactly (the caller planned and
 * validated `[addr, addr + size)`: the size came from the trailer or from {@linkcode measurePayload}).
 * Guest memory is byte for byte as before when this throws:
 *
 * - `"zero-restore"` when `trusted` is false and the range is all zero: one pass writes the output, a
 *   failure (corrupt data, a checksum, a size other than `size`) zeroes what was written;
 * - `"verify-then-write"` otherwise: a counting pass first (skipped when `verified`, i.e. the caller
 *   already measured it with {@linkcode measurePayload}), then the writing pass.
 *
 * Returns the strategy used.
 *
 * @example
 * ```ts
 * import { decompressIntoGuest, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 4096]]);
 * const packed = new Uint8Array(await new Response(new Blob(["hello"]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * console.log(decompressIntoGuest(mem, 0x100, "gzip", packed, 5), new TextDecoder().decode(mem.read(0x100, 5))); // zero-restore hello
 * ```
 */
export function decompressIntoGuest(
  mem: GuestMemory,
  addr: number,
  method: PayloadMethod,
  payload: Uint8Array,
  size: number,
  verified = false,
): GuestDecodeStrategy {
  requireMemory(mem, "mem", DecompressError, "InvalidArgument");
  requireNumber(addr, "addr", DecompressError, "InvalidArgument");
  requireBytes(payload, "payload", DecompressError, "InvalidArgument");
  requireNumber(size, "size", DecompressError, "InvalidArgument");
  return decompressPayloadIntoGuest(mem, addr, method, payload, size, verified);
}

/**
 * {@linkcode decompressIntoGuest} of a payload held whole or streamed. A streamed payload is a source that
 * can fail or change under the load: the verifying pass reads it once (nothing written yet: its error passes
 * through); any failure of the writing pass (a read error, or data that no longer decodes as it did) zeroes
 * `[addr, addr + size)` and throws {@linkcode SourceError} `LoadInterrupted` (applyPlan's contract for a
 * source failing mid-copy). Over all-zero memory, a failure of the one pass zeroes what it wrote and passes
 * its error through (memory as before). Internal.
 */
export function decompressPayloadIntoGuest(
  mem: GuestMemory,
  addr: number,
  method: PayloadMethod,
  payload: PayloadInput,
  size: number,
  verified = false,
): GuestDecodeStrategy {
  const decode = (sink: ByteSink, options: DecodeOptions) => runDecoder(method, payload, sink, options);
  const sink = new GuestSink(mem, addr);
  const mismatch = (written: number) =>
    new DecompressError("CorruptData", `the ${method} data holds ${written} bytes, ${size} were expected`, {
      field: "size",
      value: written,
      limit: size,
    });
  if (!verified && isZeroRange(mem, addr, size)) {
    try {
      const r = decode(sink, { maxOutput: size });
      if (r.written !== size) throw mismatch(r.written);
      checkTail(method, payload, r);
    } catch (e) {
      mem.fill(addr, sink.written, 0);
      throw e;
    }
    return "zero-restore";
  }
  if (!verified) {
    const written = measurePayload(method, payload, size);
    if (written !== size) throw mismatch(written);
  }
  if (payload instanceof Uint8Array) {
    const r = decode(sink, { maxOutput: size });
    if (r.written !== size) throw mismatch(r.written); // unreachable for a payload that did not change
    return "verify-then-write";
  }
  try {
    const r = decode(sink, { maxOutput: size });
    if (r.written !== size) throw mismatch(r.written);
    checkTail(method, payload, r);
  } catch (e) {
    mem.fill(addr, size, 0);
    throw new SourceError(
      "LoadInterrupted",
      `the ${method} payload failed or changed while it was written (${describeThrown(e)}); the planned range [${
        hex(addr)
      }, ${hex(addr + size)}) was zeroed, nothing else was touched`,
      { cause: e },
    );
  }
  return "verify-then-write";
}

/** A sink writing consecutive guest addresses from `addr` (through GuestMemory's checked write). */
class GuestSink implements ByteSink {
  written = 0;
  constructor(private readonly mem: GuestMemory, private readonly addr: number) {}
  write(chunk: Uint8Array): void {
    this.mem.write(this.addr + this.written, chunk);
    this.written += chunk.byteLength;
  }
}
