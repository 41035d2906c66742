/**
 * EFI zboot images: the self-decompressing EFI application that arm64, riscv64 and loongarch kernels are
 * packaged as with `CONFIG_EFI_ZBOOT` (Fedora's and Ubuntu's arm64 `vmlinuz`). The file is a small PE/COFF
 * program whose header says where its compressed payload is; the payload decompresses to the plain
 * `Image`, padded with zeros to the header's `image_size` (Makefile.zboot: "Pad the file to the size of
 * the uncompressed image in memory, including BSS"). A loader that is not EFI (QEMU's
 * `unpack_efi_zboot_image`, kexec) takes the payload out and loads that Image.
 *
 * The header, from Linux `drivers/firmware/efi/libstub/zboot-header.S` (all little endian):
 *
 * | offset | field                                                                        |
 * |-------:|------------------------------------------------------------------------------|
 * |   0x00 | "MZ" (`MZ_MAGIC`, as a 32-bit word)                                          |
 * |   0x04 | "zimg": "image type"                                                         |
 * |   0x08 | payload offset from the file's start                                         |
 * |   0x0c | payload size, without the 4-byte size trailer non-gzip payloads end with     |
 * |   0x10 | two reserved words                                                           |
 * |   0x18 | compression type, NUL-terminated (`COMP_TYPE`: gzip, lz4, lzma, lzo, xzkern, zstd22) |
 * |   0x38 | `LINUX_PE_MAGIC` 0x818223cd                                                  |
 * |   0x3c | offset of the PE header ("PE\0\0", then the COFF machine type)               |
 *
 * @module
 */

import { hex, PeError } from "../errors.ts";
import type { PayloadMethod } from "./payload.ts";
import { requireBytes, requireNumber } from "../guard.ts";

/** "MZ": the MS-DOS/PE magic at offset 0. */
export const ZBOOT_MZ_MAGIC = 0x5a4d;
/** "zimg" at offset 4 ("image type"). */
export const ZBOOT_IMAGE_TYPE = "zimg";
/** `LINUX_PE_MAGIC` at 0x38 (include/linux/pe.h). */
export const LINUX_PE_MAGIC = 0x818223cd;
/** The fixed header up to and including the PE header offset. */
export const ZBOOT_HEADER_SIZE = 0x40;
/** "PE\0\0". */
const PE_MAGIC = 0x00004550;
/** COFF machine types (include/linux/pe.h `IMAGE_FILE_MACHINE_*`). */
const IMAGE_FILE_MACHINE_ARM64 = 0xaa64;
const IMAGE_FILE_MACHINE_RISCV64 = 0x5064;
/** Offsets in the header. */
const OFF_IMAGE_TYPE = 0x04;
const OFF_PAYLOAD_OFFSET = 0x08;
const OFF_PAYLOAD_SIZE = 0x0c;
const OFF_COMP_TYPE = 0x18;
const COMP_TYPE_MAX = 0x38 - OFF_COMP_TYPE;
const OFF_LINUX_PE_MAGIC = 0x38;
const OFF_PE_HEADER = 0x3c;

/**
 * The compression type strings Makefile.zboot writes (`comp-type-$(CONFIG_KERNEL_*)`) and the method
 * each one is. bzip2 is not among them: the zboot stub has no bzip2 decompressor.
 */
export const ZBOOT_COMPRESSION: Readonly<Record<string, PayloadMethod>> = Object.freeze({
  gzip: "gzip",
  lz4: "lz4",
  lzma: "lzma",
  lzo: "lzo",
  xzkern: "xz",
  zstd22: "zstd",
});

/** A decoded zboot header. */
export interface ZbootHeader {
  /** Architecture, from the PE header's machine type. */
  arch: "aarch64" | "riscv64";
  /** File offset of the compressed payload. */
  payloadOffset: number;
  /** The header's payload size (without a size trailer). */
  payloadSize: number;
  /** The compression type string as written ("xzkern", "zstd22", ...). */
  compressionType: string;
  /** The decoder it names. */
  method: PayloadMethod;
  /**
   * The payload's bytes in the file: `[payloadOffset, payloadEnd)`, which includes the four-byte size
   * trailer for every method but gzip (whose ISIZE is part of the format).
   */
  payloadEnd: number;
}

/**
 * Whether `bytes` start an EFI zboot image ("MZ" at 0 and "zimg" at 4).
 *
 * @example
 * ```ts
 * import { isZboot } from "@linux-loader/linux-loader";
 * console.log(isZboot(new TextEncoder().encode("MZ\0\0zimg"))); // true
 * ```
 */
export function isZboot(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.byteLength >= OFF_IMAGE_TYPE + 4 &&
    (bytes[0] | (bytes[1] << 8)) === ZBOOT_MZ_MAGIC &&
    Array.from(ZBOOT_IMAGE_TYPE, (c) => c.charCodeAt(0)).every((c, i) => bytes[OFF_IMAGE_TYPE + i] === c);
}

function fail(what: string, field: string, value?: number | string, limit?: number | string): never {
  throw new PeError("InvalidImage", `EFI zboot image: ${what}`, { field, value, limit });
}

/**
 * Decodes a zboot header. `head` holds the file's first bytes: at least {@linkcode ZBOOT_HEADER_SIZE},
 * and the PE header's first six bytes when it lies inside them (it follows the 64-byte header in every
 * image the kernel builds); `fileSize` is the whole file's. Errors: {@linkcode PeError} `InvalidImage`
 * naming the field (no "zimg", no `LINUX_PE_MAGIC`, a PE header that is not "PE\0\0" for arm64 or
 * riscv64, a payload outside the file, a compression type the kernel does not build).
 *
 * @example
 * ```ts
 * import { decodeZbootHeader } from "@linux-loader/linux-loader";
 * const h = new Uint8Array(0x48);
 * const dv = new DataView(h.buffer);
 * h.set(new TextEncoder().encode("MZ\0\0zimg"));
 * dv.setUint32(0x08, 0x1000, true); // payload offset
 * dv.setUint32(0x0c, 0x2000, true); // payload size
 * h.set(new TextEncoder().encode("zstd22"), 0x18);
 * dv.setUint32(0x38, 0x818223cd, true);
 * dv.setUint32(0x3c, 0x40, true); // PE header
 * dv.setUint32(0x40, 0x4550, true); // "PE\0\0"
 * dv.setUint16(0x44, 0xaa64, true); // arm64
 * const z = decodeZbootHeader(h, 0x4000);
 * console.log(z.arch, z.method, z.payloadEnd.toString(16)); // aarch64 zstd 3004
 * ```
 */
export function decodeZbootHeader(head: Uint8Array, fileSize: number): ZbootHeader {
  requireBytes(head, "head", PeError, "InvalidArgument");
  requireNumber(fileSize, "fileSize", PeError, "InvalidArgument");
  if (head.byteLength < ZBOOT_HEADER_SIZE || !isZboot(head)) {
    fail(
      `the file does not start with "MZ" and "zimg" and a ${ZBOOT_HEADER_SIZE}-byte header`,
      "zimg",
      head.byteLength,
      ZBOOT_HEADER_SIZE,
    );
  }
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (dv.getUint32(OFF_LINUX_PE_MAGIC, true) !== LINUX_PE_MAGIC) {
    fail(
      `no LINUX_PE_MAGIC ${hex(LINUX_PE_MAGIC)} at 0x38 (found ${hex(dv.getUint32(OFF_LINUX_PE_MAGIC, true))})`,
      "linux_pe_magic",
      dv.getUint32(OFF_LINUX_PE_MAGIC, true),
      LINUX_PE_MAGIC,
    );
  }
  const pe = dv.getUint32(OFF_PE_HEADER, true);
  if (pe + 6 > head.byteLength) {
    fail(`the PE header at ${hex(pe)} is not within the first ${head.byteLength} bytes`, "pe_header", pe);
  }
  if (dv.getUint32(pe, true) !== PE_MAGIC) fail(`no "PE\\0\\0" at the PE header offset ${hex(pe)}`, "pe_header", pe);
  const machine = dv.getUint16(pe + 4, true);
  const arch = machine === IMAGE_FILE_MACHINE_ARM64
    ? "aarch64"
    : machine === IMAGE_FILE_MACHINE_RISCV64
    ? "riscv64"
    : fail(`PE machine type ${hex(machine)} is neither arm64 (0xaa64) nor riscv64 (0x5064)`, "machine", machine);
  let n = 0;
  while (n < COMP_TYPE_MAX && head[OFF_COMP_TYPE + n] !== 0) n++;
  const compressionType = Array.from(
    head.subarray(OFF_COMP_TYPE, OFF_COMP_TYPE + n),
    (b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`,
  ).join("");
  const method = Object.hasOwn(ZBOOT_COMPRESSION, compressionType) ? ZBOOT_COMPRESSION[compressionType] : undefined;
  if (method === undefined) {
    fail(
      `compression type "${compressionType}" is none the kernel builds (${Object.keys(ZBOOT_COMPRESSION).join(", ")})`,
      "compression_type",
      compressionType,
    );
  }
  const payloadOffset = dv.getUint32(OFF_PAYLOAD_OFFSET, true);
  const payloadSize = dv.getUint32(OFF_PAYLOAD_SIZE, true);
  // Makefile.zboot: "in GZIP, the appended le32 carrying the uncompressed size is part of the format, but in
  // other cases, we just append it at the end ... So disregard it when calculating the payload size".
  const payloadEnd = payloadOffset + payloadSize + (method === "gzip" ? 0 : 4);
  if (payloadSize === 0 || payloadOffset < ZBOOT_HEADER_SIZE || payloadEnd > fileSize) {
    fail(
      `payload [${hex(payloadOffset)}, ${
        hex(payloadEnd)
      }) is empty, inside the header or past the ${fileSize}-byte file`,
      "payload_size",
      payloadEnd,
      fileSize,
    );
  }
  return { arch, payloadOffset, payloadSize, compressionType, method, payloadEnd };
}
