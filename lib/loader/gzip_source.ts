/**
 * A gzip-wrapped kernel read as the bytes it inflates to, decoding only as far as the reads reach: what
 * `loadKernel`, `planKernel` and `inspectKernel` read a gzip-wrapped Multiboot kernel through (Debian's
 * `xen-4.17-amd64.gz`; GRUB inflates such a file before it looks for the header).
 *
 * Memory: the inflated prefix kept is at most twice the furthest offset read (it grows by doubling, each
 * growth decoding again from the start), never the whole stream unless a read reaches its end; so a small
 * header in front of a decompression bomb costs what the loader reads, and the plan checks every range
 * against guest memory before the loader reads a segment.
 *
 * @module
 */

import { decodeGzip } from "../compress/inflate.ts";
import { DecompressError, hex } from "../errors.ts";
import { checkSourceRange, type KernelSource, readBytes } from "../source.ts";

/** RFC 1952: a member is a 10-byte header, the deflate data, then CRC32 and ISIZE (4 bytes each). */
const GZIP_MIN_SIZE = 18;
/** "ISIZE: the size of the original (uncompressed) input data modulo 2^32", the member's last 4 bytes. */
const GZIP_ISIZE_BYTES = 4;
/** Default largest inflated size accepted (the library's decoders' default). */
const DEFAULT_MAX_OUTPUT = 1 << 30;

/** Thrown by the sink once it holds what the read needs: stops the decoder early. */
class Enough extends Error {}

/**
 * The bytes a gzip source inflates to, as a {@linkcode KernelSource}. `size` is the trailer's ISIZE (the
 * inflated size of a single-member file below 4 GiB); a read past what the stream really holds is
 * {@linkcode DecompressError} `Truncated`, corrupt data is `CorruptData` (the CRC-32 is checked when a read
 * reaches the end), an ISIZE above `maxOutput` (default 1 GiB) is `OutputTooLarge`, a file too short to be
 * gzip is `Truncated`.
 *
 * @example
 * ```ts ignore
 * const text = new TextEncoder().encode("hello, gzip");
 * const packed = new Uint8Array(await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
 * const src = await inflatingSource(toSource(packed));
 * const out = new Uint8Array(4);
 * await src.readInto(7, out);
 * console.log(src.size, new TextDecoder().decode(out)); // 11 gzip
 * ```
 */
export async function inflatingSource(
  packedSource: KernelSource,
  maxOutput: number = DEFAULT_MAX_OUTPUT,
): Promise<KernelSource> {
  const packed = await readBytes(packedSource, 0, packedSource.size);
  if (packed.byteLength < GZIP_MIN_SIZE) {
    throw new DecompressError("Truncated", `gzip: ${packed.byteLength} bytes cannot hold a member`, {
      field: "gzip",
      value: packed.byteLength,
      limit: GZIP_MIN_SIZE,
    });
  }
  const size = new DataView(packed.buffer, packed.byteOffset + packed.byteLength - GZIP_ISIZE_BYTES, 4)
    .getUint32(0, true);
  if (size > maxOutput) {
    throw new DecompressError("OutputTooLarge", `gzip: ISIZE ${hex(size)} is above the limit ${hex(maxOutput)}`, {
      field: "isize",
      value: size,
      limit: maxOutput,
    });
  }
  let inflated = new Uint8Array(0);
  const ensure = (need: number): void => {
    if (need <= inflated.byteLength) return;
    const want = Math.min(size, Math.max(need, inflated.byteLength * 2));
    const buf = new Uint8Array(want);
    let got = 0;
    try {
      decodeGzip(packed, {
        write(chunk: Uint8Array): void {
          const n = Math.min(chunk.byteLength, want - got);
          buf.set(chunk.subarray(0, n), got);
          got += n;
          if (got >= want && want < size) throw new Enough();
        },
      }, { maxOutput: size });
    } catch (e) {
      if (!(e instanceof Enough)) throw e;
    }
    if (got < need) {
      throw new DecompressError(
        "Truncated",
        `gzip: the data inflates to ${got} bytes, fewer than the ${size} its trailer's ISIZE gives`,
        { field: "isize", value: got, limit: size },
      );
    }
    inflated = buf.subarray(0, got);
  };
  return {
    size,
    readInto(offset: number, dest: Uint8Array): Promise<void> {
      try {
        checkSourceRange(size, offset, dest.byteLength);
        ensure(offset + dest.byteLength);
        dest.set(inflated.subarray(offset, offset + dest.byteLength));
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}
