/**
 * The one output contract every streaming decoder in `lib/compress/` follows.
 *
 * A decoder takes the whole compressed input as bytes (a kernel payload is read once), keeps only the
 * state its format needs (its window or dictionary, capped at the output limit), and hands its output to a
 * {@linkcode ByteSink} in order, in chunks of bounded size. Peak memory is therefore the destination plus the
 * window plus a constant, never a second copy of the output. The output limit is checked before a chunk is
 * handed over, so the destination never grows past it.
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import { requireBytes } from "../guard.ts";

/** Where a decoder writes its output: each call continues where the previous one ended. */
export interface ByteSink {
  /**
   * Takes the next `chunk` of output. The chunk is only valid during the call (decoders reuse their
   * window), so a sink copies what it keeps. A sink may throw to stop the decoder; the error propagates.
   */
  write(chunk: Uint8Array): void;
}

/** Options every decoder takes. */
export interface DecodeOptions {
  /** Largest output accepted, in bytes; above it `OutputTooLarge` before the excess reaches the sink. Defaults to 1 GiB. */
  maxOutput?: number;
}

/** What every decoder returns once its stream ended cleanly. */
export interface DecodeResult {
  /** Input bytes consumed, up to and including the end of the last stream or frame. */
  consumed: number;
  /** Output bytes handed to the sink. */
  written: number;
}

/** The signature every streaming decoder has. */
export type StreamDecoder = (input: Uint8Array, sink: ByteSink, options?: DecodeOptions) => DecodeResult;

/** Output limit when the caller gives none: 1 GiB. */
export const DEFAULT_MAX_OUTPUT: number = 1 << 30;

/**
 * Reads and checks `options.maxOutput`: a non-negative safe integer, or the 1 GiB default. NaN, a negative
 * number or a fraction is a {@linkcode DecompressError} `OutputTooLarge` naming the value (NaN would switch
 * every later comparison off).
 *
 * @example
 * ```ts
 * import { checkMaxOutput } from "@linux-loader/linux-loader";
 * console.log(checkMaxOutput({ maxOutput: 4096 })); // 4096
 * ```
 */
export function checkMaxOutput(options: DecodeOptions | undefined): number {
  const max = options?.maxOutput ?? DEFAULT_MAX_OUTPUT;
  if (typeof max !== "number" || !Number.isSafeInteger(max) || max < 0) {
    throw new DecompressError("OutputTooLarge", `maxOutput ${String(max)} is not a byte count`, {
      field: "maxOutput",
      value: String(max),
      limit: Number.MAX_SAFE_INTEGER,
    });
  }
  return max;
}

/**
 * A sink that fills a caller's buffer from its start and throws {@linkcode DecompressError} `OutputTooLarge`
 * (writing nothing of the chunk) when a chunk would pass its end. `written` says how far it got.
 *
 * @example
 * ```ts
 * import { BufferSink } from "@linux-loader/linux-loader";
 * const sink = new BufferSink(new Uint8Array(4));
 * sink.write(new Uint8Array([1, 2]));
 * console.log(sink.written, sink.bytes()); // 2 Uint8Array(2) [ 1, 2 ]
 * ```
 */
export class BufferSink implements ByteSink {
  /** Bytes written so far. */
  written = 0;
  /** Wraps `dest`; output goes to `dest[0..]`. */
  constructor(readonly dest: Uint8Array) {}
  /** Copies `chunk` after what was written, or throws when it does not fit. */
  write(chunk: Uint8Array): void {
    requireBytes(chunk, "chunk", DecompressError, "InvalidArgument");
    if (chunk.byteLength > this.dest.byteLength - this.written) {
      throw new DecompressError(
        "OutputTooLarge",
        `output passes the destination's ${hex(this.dest.byteLength)} bytes (at ${hex(this.written)}, chunk of ${
          hex(chunk.byteLength)
        })`,
        { field: "output", value: this.written + chunk.byteLength, limit: this.dest.byteLength },
      );
    }
    this.dest.set(chunk, this.written);
    this.written += chunk.byteLength;
  }
  /** The part of the destination written so far. */
  bytes(): Uint8Array {
    return this.dest.subarray(0, this.written);
  }
}

/**
 * A sink that keeps nothing and counts bytes: a verifying first pass, or a size probe.
 *
 * @example
 * ```ts
 * import { CountingSink } from "@linux-loader/linux-loader";
 * const sink = new CountingSink();
 * sink.write(new Uint8Array(10));
 * console.log(sink.written); // 10
 * ```
 */
export class CountingSink implements ByteSink {
  /** Bytes seen so far. */
  written = 0;
  /** Counts `chunk`. */
  write(chunk: Uint8Array): void {
    requireBytes(chunk, "chunk", DecompressError, "InvalidArgument");
    this.written += chunk.byteLength;
  }
}
