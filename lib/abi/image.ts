/**
 * The 64-byte header at the start of an arm64 or riscv64 Linux `Image` (the decompressed kernel a boot
 * loader calls), as field tables, with every magic number and flag bit named.
 *
 * Sources:
 * - arm64: Linux `Documentation/arch/arm64/booting.rst`, "4. Call the kernel image":
 *
 * ```text
 *   u32 code0;                    // Executable code
 *   u32 code1;                    // Executable code
 *   u64 text_offset;              // Image load offset, little endian
 *   u64 image_size;               // Effective Image size, little endian
 *   u64 flags;                    // kernel flags, little endian
 *   u64 res2      = 0;            // reserved
 *   u64 res3      = 0;            // reserved
 *   u64 res4      = 0;            // reserved
 *   u32 magic     = 0x644d5241;   // Magic number, little endian, "ARM\x64"
 *   u32 res5;                     // reserved (used for PE COFF offset)
 * ```
 *
 * - riscv64: Linux `Documentation/arch/riscv/boot-image-header.rst`:
 *
 * ```text
 *   u32 code0;                // Executable code
 *   u32 code1;                // Executable code
 *   u64 text_offset;          // Image load offset, little endian
 *   u64 image_size;           // Effective Image size, little endian
 *   u64 flags;                // kernel flags, little endian
 *   u32 version;              // Version of this header
 *   u32 res1 = 0;             // Reserved
 *   u64 res2 = 0;             // Reserved
 *   u64 magic = 0x5643534952; // Magic number, little endian, "RISCV"
 *   u32 magic2 = 0x05435352;  // Magic number 2, little endian, "RSC\x05"
 *   u32 res3;                 // Reserved for PE COFF offset
 * ```
 *
 * Both headers keep their magic (arm64 `magic`, riscv64 `magic2`) at the same offset, 0x38, so one read
 * of 64 bytes tells the two apart.
 *
 * @module
 */

import { AbiError } from "../errors.ts";
import { Struct } from "./struct.ts";
import { requireBigint, requireObject } from "../guard.ts";

/**
 * Size of either Image header: "The decompressed kernel image contains a 64-byte header".
 *
 * @example
 * ```ts
 * import { IMAGE_HEADER_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(IMAGE_HEADER_SIZE); // 64
 * ```
 */
export const IMAGE_HEADER_SIZE = 64;

/**
 * Offset of arm64 `magic` and riscv64 `magic2`: where both formats put the magic a loader checks.
 *
 * @example
 * ```ts
 * import { IMAGE_MAGIC_OFFSET } from "@linux-loader/linux-loader/abi";
 * console.log(IMAGE_MAGIC_OFFSET); // 56
 * ```
 */
export const IMAGE_MAGIC_OFFSET = 0x38;

/**
 * Alignment of the base address an Image is placed above. arm64: "The Image must be placed text_offset
 * bytes from a 2MB aligned base address". riscv64 (`boot.rst`): "The RISC-V kernel expects to be placed at
 * a PMD boundary (2MB aligned for rv64 and 4MB aligned for rv32)".
 *
 * @example
 * ```ts
 * import { IMAGE_BASE_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(IMAGE_BASE_ALIGN.toString(16)); // 200000
 * ```
 */
export const IMAGE_BASE_ALIGN = 0x20_0000;

/**
 * arm64 `magic`: the bytes "ARM\x64" read as a little-endian u32.
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_MAGIC.toString(16)); // 644d5241
 * ```
 */
export const AARCH64_IMAGE_MAGIC = 0x644d_5241;

/**
 * arm64 `text_offset` to assume for old kernels: "Where image_size is zero, text_offset can be assumed to
 * be 0x80000."
 *
 * @example
 * ```ts
 * import { AARCH64_DEFAULT_TEXT_OFFSET } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_DEFAULT_TEXT_OFFSET.toString(16)); // 80000
 * ```
 */
export const AARCH64_DEFAULT_TEXT_OFFSET = 0x8_0000;

/**
 * arm64 `flags` bit 0, kernel endianness: "1 if BE, 0 if LE".
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_FLAG_BE_SHIFT } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_FLAG_BE_SHIFT); // 0
 * ```
 */
export const AARCH64_IMAGE_FLAG_BE_SHIFT = 0;
/**
 * Mask of the endianness field after shifting.
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_FLAG_BE_MASK } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_FLAG_BE_MASK); // 1
 * ```
 */
export const AARCH64_IMAGE_FLAG_BE_MASK = 0x1;
/**
 * arm64 `flags` bits 1-2, kernel page size: 0 unspecified, 1 4K, 2 16K, 3 64K.
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_FLAG_PAGE_SIZE_SHIFT } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_FLAG_PAGE_SIZE_SHIFT); // 1
 * ```
 */
export const AARCH64_IMAGE_FLAG_PAGE_SIZE_SHIFT = 1;
/**
 * Mask of the page-size field after shifting.
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_FLAG_PAGE_SIZE_MASK } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_FLAG_PAGE_SIZE_MASK); // 3
 * ```
 */
export const AARCH64_IMAGE_FLAG_PAGE_SIZE_MASK = 0x3;
/**
 * arm64 `flags` bit 3, kernel physical placement: 0 "2MB aligned base should be as close as possible to
 * the base of DRAM", 1 "2MB aligned base such that all image_size bytes counted from the start of the
 * image are within the 48-bit addressable range of physical memory".
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_FLAG_PHYS_BASE_SHIFT } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_FLAG_PHYS_BASE_SHIFT); // 3
 * ```
 */
export const AARCH64_IMAGE_FLAG_PHYS_BASE_SHIFT = 3;
/**
 * Mask of the placement field after shifting.
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_FLAG_PHYS_BASE_MASK } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_FLAG_PHYS_BASE_MASK); // 1
 * ```
 */
export const AARCH64_IMAGE_FLAG_PHYS_BASE_MASK = 0x1;
/**
 * "Bits 4-63 Reserved."
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_FLAG_RESERVED_MASK } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_IMAGE_FLAG_RESERVED_MASK.toString(16)); // fffffffffffffff0
 * ```
 */
export const AARCH64_IMAGE_FLAG_RESERVED_MASK = ~0xfn & 0xffff_ffff_ffff_ffffn;

/**
 * Page sizes by the value of flags bits 1-2 (0 means unspecified).
 *
 * @example
 * ```ts
 * import { AARCH64_PAGE_SIZES } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_PAGE_SIZES); // [ 0, 4096, 16384, 65536 ]
 * ```
 */
export const AARCH64_PAGE_SIZES: readonly number[] = Object.freeze([0, 0x1000, 0x4000, 0x1_0000]);

/**
 * riscv64 `magic` (deprecated since header version 0.2): "RISCV\0\0\0" read as a little-endian u64.
 *
 * @example
 * ```ts
 * import { RISCV_IMAGE_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(RISCV_IMAGE_MAGIC.toString(16)); // 5643534952
 * ```
 */
export const RISCV_IMAGE_MAGIC = 0x56_4353_4952n;
/**
 * riscv64 `magic2`: the bytes "RSC\x05" read as a little-endian u32.
 *
 * @example
 * ```ts
 * import { RISCV_IMAGE_MAGIC2 } from "@linux-loader/linux-loader/abi";
 * console.log(RISCV_IMAGE_MAGIC2.toString(16)); // 5435352
 * ```
 */
export const RISCV_IMAGE_MAGIC2 = 0x0543_5352;
/**
 * riscv64 `flags` bit 0, kernel endianness (1 if big endian).
 *
 * @example
 * ```ts
 * import { RISCV_IMAGE_FLAG_BE_MASK } from "@linux-loader/linux-loader/abi";
 * console.log(RISCV_IMAGE_FLAG_BE_MASK); // 1
 * ```
 */
export const RISCV_IMAGE_FLAG_BE_MASK = 0x1;
/**
 * riscv64 `version`: "Bits 0:15 Minor version, Bits 16:31 Major version"; the current one is 0.2.
 *
 * @example
 * ```ts
 * import { RISCV_HEADER_VERSION } from "@linux-loader/linux-loader/abi";
 * console.log(RISCV_HEADER_VERSION); // 2
 * ```
 */
export const RISCV_HEADER_VERSION = (0 << 16) | 2;

/**
 * PE/COFF "MZ" signature that EFI-stub kernels put in the low half of `code0`.
 *
 * @example
 * ```ts
 * import { PE_MZ_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(PE_MZ_MAGIC.toString(16)); // 5a4d
 * ```
 */
export const PE_MZ_MAGIC = 0x5a4d;

/** The arm64 Image header, field names as in `booting.rst`. */
export interface Aarch64ImageHeader {
  /** Executable code (branches to stext; "MZ" on EFI-stub kernels). */
  code0: number;
  /** Executable code. */
  code1: number;
  /** Image load offset above the 2 MiB aligned base. */
  text_offset: bigint;
  /** Effective Image size (0 on kernels before v3.17). */
  image_size: bigint;
  /** Kernel flags: endianness, page size, physical placement. */
  flags: bigint;
  /** Reserved, 0. */
  res2: bigint;
  /** Reserved, 0. */
  res3: bigint;
  /** Reserved, 0. */
  res4: bigint;
  /** {@linkcode AARCH64_IMAGE_MAGIC}. */
  magic: number;
  /** Reserved; offset of the PE/COFF header on EFI-stub kernels. */
  res5: number;
}

/**
 * The arm64 Image header table (offsets as in `booting.rst`).
 *
 * @example
 * ```ts
 * import { AARCH64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * const hdr = AARCH64_IMAGE_HEADER.encode({ text_offset: 0x80000n, magic: 0x644d5241 });
 * console.log(AARCH64_IMAGE_HEADER.decode(hdr).text_offset); // 524288n
 * ```
 */
export const AARCH64_IMAGE_HEADER: Struct<Aarch64ImageHeader> = new Struct<Aarch64ImageHeader>(
  "arm64_image_header",
  64,
  [
    ["code0", 0x00, "u32"],
    ["code1", 0x04, "u32"],
    ["text_offset", 0x08, "u64"],
    ["image_size", 0x10, "u64"],
    ["flags", 0x18, "u64"],
    ["res2", 0x20, "u64"],
    ["res3", 0x28, "u64"],
    ["res4", 0x30, "u64"],
    ["magic", 0x38, "u32"],
    ["res5", 0x3c, "u32"],
  ],
);

/** The riscv64 Image header, field names as in `boot-image-header.rst`. */
export interface Riscv64ImageHeader {
  /** Executable code. */
  code0: number;
  /** Executable code. */
  code1: number;
  /** Image load offset. */
  text_offset: bigint;
  /** Effective Image size. */
  image_size: bigint;
  /** Kernel flags (bit 0: big endian). */
  flags: bigint;
  /** Header version, major in bits 16-31, minor in bits 0-15. */
  version: number;
  /** Reserved, 0. */
  res1: number;
  /** Reserved, 0. */
  res2: bigint;
  /** Deprecated magic {@linkcode RISCV_IMAGE_MAGIC}. */
  magic: bigint;
  /** {@linkcode RISCV_IMAGE_MAGIC2}. */
  magic2: number;
  /** Reserved for the PE/COFF header offset. */
  res3: number;
}

/**
 * The riscv64 Image header table (offsets as in `boot-image-header.rst`).
 *
 * @example
 * ```ts
 * import { RISCV64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * console.log(RISCV64_IMAGE_HEADER.offsetOf("magic2").toString(16)); // 38
 * ```
 */
export const RISCV64_IMAGE_HEADER: Struct<Riscv64ImageHeader> = new Struct<Riscv64ImageHeader>(
  "riscv64_image_header",
  64,
  [
    ["code0", 0x00, "u32"],
    ["code1", 0x04, "u32"],
    ["text_offset", 0x08, "u64"],
    ["image_size", 0x10, "u64"],
    ["flags", 0x18, "u64"],
    ["version", 0x20, "u32"],
    ["res1", 0x24, "u32"],
    ["res2", 0x28, "u64"],
    ["magic", 0x30, "u64"],
    ["magic2", 0x38, "u32"],
    ["res3", 0x3c, "u32"],
  ],
);

/** The arm64 `flags` field, decoded. */
export interface Aarch64ImageFlags {
  /** Bit 0: the kernel is big endian. */
  bigEndian: boolean;
  /** Bits 1-2 as a page size in bytes, 0 when unspecified. */
  pageSize: number;
  /** Bit 3: the base may be anywhere in the 48-bit physical range (else as close to DRAM start as possible). */
  physAnywhere: boolean;
  /** Bits 4-63, which should be zero. */
  reserved: bigint;
}

/**
 * Decodes the arm64 `flags` field.
 *
 * @example
 * ```ts
 * import { decodeAarch64Flags } from "@linux-loader/linux-loader/abi";
 * console.log(decodeAarch64Flags(0xan)); // { bigEndian: false, pageSize: 4096, physAnywhere: true, reserved: 0n }
 * ```
 */
export function decodeAarch64Flags(flags: bigint): Aarch64ImageFlags {
  requireBigint(flags, "flags", AbiError, "InvalidValue");
  const bits = Number(flags & 0xfn);
  return {
    bigEndian: ((bits >> AARCH64_IMAGE_FLAG_BE_SHIFT) & AARCH64_IMAGE_FLAG_BE_MASK) === 1,
    pageSize: AARCH64_PAGE_SIZES[(bits >> AARCH64_IMAGE_FLAG_PAGE_SIZE_SHIFT) & AARCH64_IMAGE_FLAG_PAGE_SIZE_MASK],
    physAnywhere: ((bits >> AARCH64_IMAGE_FLAG_PHYS_BASE_SHIFT) & AARCH64_IMAGE_FLAG_PHYS_BASE_MASK) === 1,
    reserved: flags & AARCH64_IMAGE_FLAG_RESERVED_MASK,
  };
}

/**
 * Encodes arm64 `flags` from its parts (the inverse of {@linkcode decodeAarch64Flags}); a page size other
 * than 4K, 16K or 64K encodes as "unspecified".
 *
 * @example
 * ```ts
 * import { encodeAarch64Flags } from "@linux-loader/linux-loader/abi";
 * console.log(encodeAarch64Flags({ pageSize: 4096, physAnywhere: true })); // 10n
 * ```
 */
export function encodeAarch64Flags(parts: Partial<Aarch64ImageFlags>): bigint {
  requireObject(parts, "parts", AbiError, "InvalidValue");
  if (parts.reserved !== undefined) requireBigint(parts.reserved, "parts.reserved", AbiError, "InvalidValue");
  const page = Math.max(0, AARCH64_PAGE_SIZES.indexOf(parts.pageSize ?? 0));
  return BigInt(
    ((parts.bigEndian ? 1 : 0) << AARCH64_IMAGE_FLAG_BE_SHIFT) |
      (page << AARCH64_IMAGE_FLAG_PAGE_SIZE_SHIFT) |
      ((parts.physAnywhere ? 1 : 0) << AARCH64_IMAGE_FLAG_PHYS_BASE_SHIFT),
  ) | ((parts.reserved ?? 0n) & AARCH64_IMAGE_FLAG_RESERVED_MASK);
}
