/**
 * The ELF `vmlinux` inside a bzImage: the setup header's `payload_offset` and `payload_length` locate the
 * compressed kernel, its magic number tells the method, and the payload is decompressed here (any of the
 * seven methods Linux builds, through lib/loader/payload.ts, or an uncompressed ELF). The result can be loaded with the
 * ELF loader, e.g. through its PVH entry (the `XEN_ELFNOTE_PHYS32_ENTRY` note).
 *
 * Spec: `Documentation/arch/x86/boot.rst`, fields `payload_offset` and `payload_length` (protocol 2.08+):
 * "If non-zero, this field contains the offset from the beginning of the protected-mode code to the
 * payload. The payload may be compressed. The format of both the compressed and uncompressed data should
 * be determined using the standard magic numbers." The build appends the uncompressed size as four
 * little-endian bytes to LZ4, xz, lzma, bzip2, lzo and zstd payloads (`size_append` in
 * `scripts/Makefile.lib`); it is checked here when present.
 *
 * @module
 */

import { BzImageError, DecompressError, hex } from "../errors.ts";
import { type KernelSource, readBytes, toSource } from "../source.ts";
import {
  DEFAULT_SETUP_SECTS,
  HDRS_MAGIC,
  SECTOR_SIZE,
  SETUP_HEADER,
  SETUP_HEADER_OFFSET,
  type SetupHeader,
} from "../abi/bootparam.ts";
import { decompressPayload } from "./payload.ts";

/** Boot protocol version that added `payload_offset` and `payload_length` (2.08). */
export const PAYLOAD_PROTOCOL = 0x0208;

/** Compression methods a kernel payload can use (the kernel's `CONFIG_KERNEL_*` choices). */
export type PayloadCompression = "lz4" | "gzip" | "xz" | "zstd" | "bzip2" | "lzma" | "lzo" | "none";

/**
 * Magic numbers of each method, as `lib/decompress.c` and `scripts/extract-vmlinux` know them. `none`
 * is an ELF file (CONFIG_KERNEL_UNCOMPRESSED).
 */
export const PAYLOAD_MAGICS: Readonly<Record<PayloadCompression, readonly (readonly number[])[]>> = Object.freeze({
  /** LZ4 legacy frame magic 0x184C2102, little endian. */
  lz4: [[0x02, 0x21, 0x4c, 0x18]],
  /** gzip ID1, ID2 (and the old 0x1f 0x9e "pack" variant the kernel also accepts). */
  gzip: [[0x1f, 0x8b], [0x1f, 0x9e]],
  /** xz stream header magic "\xfd7zXZ\0". */
  xz: [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  /** zstd frame magic 0xFD2FB528, little endian. */
  zstd: [[0x28, 0xb5, 0x2f, 0xfd]],
  /** bzip2 "BZh". */
  bzip2: [[0x42, 0x5a, 0x68]],
  /** lzma-alone: properties byte 0x5d and the first dictionary-size byte 0. */
  lzma: [[0x5d, 0x00, 0x00]],
  /** lzop "\x89LZO". */
  lzo: [[0x89, 0x4c, 0x5a, 0x4f]],
  /** ELF "\x7fELF". */
  none: [[0x7f, 0x45, 0x4c, 0x46]],
});

/** Where a bzImage's payload is and how it is compressed. */
export interface BzImagePayload {
  /** The setup header, decoded. */
  header: SetupHeader;
  /** File offset of the protected-mode code: `((setup_sects || 4) + 1) * 512`. */
  protectedModeOffset: number;
  /** File offset of the payload (`protectedModeOffset + payload_offset`). */
  offset: number;
  /** `payload_length`. */
  length: number;
  /** Method detected from the payload's magic; `undefined` when no known magic matches. */
  compression: PayloadCompression | undefined;
}

/** Options of {@linkcode extractVmlinux}. */
export interface ExtractOptions {
  /** Largest decompressed size accepted. Defaults to 1 GiB. */
  maxOutput?: number;
}

/** Default {@linkcode ExtractOptions.maxOutput}: 1 GiB. */
const DEFAULT_MAX_VMLINUX = 1 << 30;

/**
 * The compression method whose magic `bytes` start with, or `undefined`.
 *
 * @example
 * ```ts
 * import { detectCompression } from "@linux-loader/linux-loader";
 * console.log(detectCompression(new Uint8Array([0x02, 0x21, 0x4c, 0x18, 0, 0]))); // lz4
 * console.log(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]))); // zstd
 * ```
 */
export function detectCompression(bytes: Uint8Array): PayloadCompression | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined;
  for (const [method, magics] of Object.entries(PAYLOAD_MAGICS) as [PayloadCompression, number[][]][]) {
    if (magics.some((m) => m.length <= bytes.byteLength && m.every((b, i) => bytes[i] === b))) return method;
  }
  return undefined;
}

/**
 * Reads a bzImage's setup header and locates its payload, without reading the payload itself.
 *
 * @example Locate the payload of a minimal bzImage built in code
 * ```ts
 * import { findBzImagePayload } from "@linux-loader/linux-loader";
 * import { HDRS_MAGIC, SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const img = new Uint8Array(0x1000);
 * img.set(SETUP_HEADER.encode({ setup_sects: 1, header: HDRS_MAGIC, version: 0x20f, payload_offset: 0x10, payload_length: 4 }), 0x1f1);
 * img.set([0x1f, 0x8b, 8, 0], 0x410);
 * const p = await findBzImagePayload(img);
 * console.log(p.offset.toString(16), p.compression); // 410 gzip
 * ```
 */
export async function findBzImagePayload(source: KernelSource | Uint8Array): Promise<BzImagePayload> {
  const src = toSource(source);
  const headerEnd = SETUP_HEADER_OFFSET + SETUP_HEADER.size;
  if (src.size < headerEnd) {
    throw new BzImageError(
      "ReadBzImageHeader",
      `a ${src.size}-byte image is too small for a setup header (ends at ${hex(headerEnd)})`,
      { field: "setup_header", value: src.size, limit: headerEnd },
    );
  }
  const hdrBytes = await readBytes(src, SETUP_HEADER_OFFSET, SETUP_HEADER.size);
  const header = SETUP_HEADER.decode(hdrBytes);
  if (header.header !== HDRS_MAGIC) {
    throw new BzImageError("InvalidBzImage", `no "HdrS" at 0x202: found ${hex(header.header)}`, {
      field: "header",
      value: header.header,
      limit: HDRS_MAGIC,
    });
  }
  if (header.version < PAYLOAD_PROTOCOL) {
    throw new BzImageError(
      "InvalidBzImage",
      `boot protocol ${hex(header.version)} has no payload fields (they need ${hex(PAYLOAD_PROTOCOL)})`,
      { field: "version", value: header.version, limit: PAYLOAD_PROTOCOL },
    );
  }
  // "If this field is 0, the real value is 4": setup_sects counts the sectors after the boot sector.
  const protectedModeOffset = ((header.setup_sects || DEFAULT_SETUP_SECTS) + 1) * SECTOR_SIZE;
  const offset = protectedModeOffset + header.payload_offset;
  const length = header.payload_length;
  if (length === 0) {
    throw new BzImageError("InvalidBzImage", "payload_length is 0: the image carries no payload", {
      field: "payload_length",
      value: 0,
    });
  }
  if (offset + length > src.size) {
    throw new BzImageError(
      "ReadBzImageCompressedKernel",
      `payload [${hex(offset)}, ${hex(offset + length)}) passes the end of the ${src.size}-byte image`,
      { field: "payload_length", value: offset + length, limit: src.size },
    );
  }
  const head = await readBytes(src, offset, Math.min(length, 8));
  return { header, protectedModeOffset, offset, length, compression: detectCompression(head) };
}

/**
 * Decompresses a bzImage's payload to the ELF `vmlinux` inside it, whatever the method the kernel was
 * built with (LZ4, gzip, XZ, ZSTD, BZIP2, LZMA, LZO), or returns an uncompressed ELF payload as is. The
 * output buffer is sized once from the build's size trailer (gzip: ISIZE) when it is at most `maxOutput`,
 * so memory is the vmlinux, the decoder's window and the payload; never a second copy.
 *
 * Errors ({@linkcode BzImageError}): as {@linkcode findBzImagePayload}; `"UnsupportedCompression"` for a
 * payload of no known magic; `"CorruptPayload"` for corrupt data, a wrong size trailer, output above
 * `maxOutput` (default 1 GiB) or a result that is not ELF (the decoder's {@linkcode DecompressError} is
 * the `cause`).
 *
 * @example Extract the vmlinux of a bzImage file
 * ```ts ignore
 * import { extractVmlinux, fromFile } from "@linux-loader/linux-loader";
 * using file = await Deno.open("/boot/vmlinuz");
 * const vmlinux = await extractVmlinux(await fromFile(file));
 * console.log(vmlinux.length);
 * ```
 */
export async function extractVmlinux(
  source: KernelSource | Uint8Array,
  options: ExtractOptions = {},
): Promise<Uint8Array> {
  const src = toSource(source);
  const p = await findBzImagePayload(src);
  const raw = options.maxOutput ?? DEFAULT_MAX_VMLINUX;
  // Any non-negative limit is taken as its whole-byte floor (Infinity: the largest exact integer).
  const maxOutput = typeof raw === "number" && raw >= 0 ? Math.min(Math.floor(raw), Number.MAX_SAFE_INTEGER) : NaN;
  if (Number.isNaN(maxOutput)) {
    throw new BzImageError("CorruptPayload", `maxOutput ${String(raw)} is not a byte count`, {
      field: "maxOutput",
      value: String(raw),
    });
  }
  if (p.compression === undefined) {
    const head = await readBytes(src, p.offset, Math.min(4, p.length));
    const magic = Array.from(head, (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new BzImageError("UnsupportedCompression", `the payload's magic (${magic}) is of no known method`, {
      field: "payload",
      value: magic,
    });
  }
  const payload = src.bytes !== undefined
    ? src.bytes.subarray(p.offset, p.offset + p.length)
    : await readBytes(src, p.offset, p.length);
  let out: Uint8Array;
  try {
    out = p.compression === "none" ? payload.slice() : decompressPayload(p.compression, payload, maxOutput);
  } catch (e) {
    if (!(e instanceof DecompressError)) throw e;
    throw new BzImageError("CorruptPayload", `the ${p.compression} payload is corrupt: ${e.message}`, {
      field: "payload",
      cause: e,
    });
  }
  if (!PAYLOAD_MAGICS.none[0].every((b, i) => out[i] === b)) {
    throw new BzImageError("CorruptPayload", `the decompressed ${p.compression} payload is not an ELF file`, {
      field: "payload",
    });
  }
  return out;
}
