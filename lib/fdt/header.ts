/**
 * The flattened device tree (FDT, "DTB") format's fixed parts: the header, the memory reservation entry,
 * the structure block tokens and the format's limits, from the Devicetree Specification (v0.4), chapter 5
 * "Flattened Devicetree (DTB) Format". Every field is big endian.
 *
 * ```text
 * struct fdt_header {            // 5.2
 *     uint32_t magic;             // 0xd00dfeed
 *     uint32_t totalsize;
 *     uint32_t off_dt_struct;
 *     uint32_t off_dt_strings;
 *     uint32_t off_mem_rsvmap;
 *     uint32_t version;           // 17
 *     uint32_t last_comp_version; // 16
 *     uint32_t boot_cpuid_phys;
 *     uint32_t size_dt_strings;
 *     uint32_t size_dt_struct;
 * };
 * struct fdt_reserve_entry {     // 5.3.2
 *     uint64_t address;
 *     uint64_t size;
 * };
 * ```
 *
 * @module
 */

import { Struct } from "../abi/struct.ts";

/**
 * "magic: This field shall contain the value 0xd00dfeed (big-endian)."
 *
 * @example
 * ```ts
 * import { FDT_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_MAGIC.toString(16)); // d00dfeed
 * ```
 */
export const FDT_MAGIC = 0xd00d_feed;
/**
 * The version this library writes: "version: ... The version of the devicetree data structure is 17".
 *
 * @example
 * ```ts
 * import { FDT_VERSION } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_VERSION); // 17
 * ```
 */
export const FDT_VERSION = 17;
/**
 * "last_comp_version: ... shall contain 16" for a version 17 blob.
 *
 * @example
 * ```ts
 * import { FDT_LAST_COMP_VERSION } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_LAST_COMP_VERSION); // 16
 * ```
 */
export const FDT_LAST_COMP_VERSION = 16;
/**
 * Oldest version the reader accepts (version 16 lacks `size_dt_struct`).
 *
 * @example
 * ```ts
 * import { FDT_MIN_READ_VERSION } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_MIN_READ_VERSION); // 16
 * ```
 */
export const FDT_MIN_READ_VERSION = 16;

/**
 * "FDT_BEGIN_NODE (0x00000001)": followed by the node's name, NUL-terminated, padded to 4 bytes.
 *
 * @example
 * ```ts
 * import { FDT_BEGIN_NODE } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_BEGIN_NODE); // 1
 * ```
 */
export const FDT_BEGIN_NODE = 0x1;
/**
 * "FDT_END_NODE (0x00000002)": ends the current node.
 *
 * @example
 * ```ts
 * import { FDT_END_NODE } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_END_NODE); // 2
 * ```
 */
export const FDT_END_NODE = 0x2;
/**
 * "FDT_PROP (0x00000003)": followed by `struct { uint32_t len; uint32_t nameoff; }` and the value.
 *
 * @example
 * ```ts
 * import { FDT_PROP } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_PROP); // 3
 * ```
 */
export const FDT_PROP = 0x3;
/**
 * "FDT_NOP (0x00000004)": ignored.
 *
 * @example
 * ```ts
 * import { FDT_NOP } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_NOP); // 4
 * ```
 */
export const FDT_NOP = 0x4;
/**
 * "FDT_END (0x00000009)": the end of the structure block.
 *
 * @example
 * ```ts
 * import { FDT_END } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_END); // 9
 * ```
 */
export const FDT_END = 0x9;

/**
 * Size of the FDT_PROP token's `{ len, nameoff }` record.
 *
 * @example
 * ```ts
 * import { FDT_PROP_HEADER_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_PROP_HEADER_SIZE); // 8
 * ```
 */
export const FDT_PROP_HEADER_SIZE = 8;
/**
 * "the memory reservation block shall be aligned to an 8-byte boundary".
 *
 * @example
 * ```ts
 * import { FDT_RSVMAP_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_RSVMAP_ALIGN); // 8
 * ```
 */
export const FDT_RSVMAP_ALIGN = 8;
/**
 * "The structure block ... tokens ... shall be aligned on a 32-bit boundary".
 *
 * @example
 * ```ts
 * import { FDT_TOKEN_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_TOKEN_ALIGN); // 4
 * ```
 */
export const FDT_TOKEN_ALIGN = 4;
/**
 * Node names: "1 to 31 characters in length" (the node-name part, before `@unit-address`).
 *
 * @example
 * ```ts
 * import { FDT_MAX_NAME_LENGTH } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_MAX_NAME_LENGTH); // 31
 * ```
 */
export const FDT_MAX_NAME_LENGTH = 31;

/** The FDT header, field names as in the specification. */
export interface FdtHeader {
  /** {@linkcode FDT_MAGIC}. */
  magic: number;
  /** Total size of the blob in bytes. */
  totalsize: number;
  /** Offset of the structure block. */
  off_dt_struct: number;
  /** Offset of the strings block. */
  off_dt_strings: number;
  /** Offset of the memory reservation block. */
  off_mem_rsvmap: number;
  /** Format version. */
  version: number;
  /** Oldest version this blob is compatible with. */
  last_comp_version: number;
  /** Physical id of the boot CPU. */
  boot_cpuid_phys: number;
  /** Size of the strings block. */
  size_dt_strings: number;
  /** Size of the structure block. */
  size_dt_struct: number;
}

/**
 * The FDT header table (40 bytes, big endian).
 *
 * @example
 * ```ts
 * import { FDT_HEADER } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_HEADER.size, FDT_HEADER.offsetOf("totalsize")); // 40 4
 * ```
 */
export const FDT_HEADER: Struct<FdtHeader> = new Struct<FdtHeader>("fdt_header", 40, [
  ["magic", 0x00, "be32"],
  ["totalsize", 0x04, "be32"],
  ["off_dt_struct", 0x08, "be32"],
  ["off_dt_strings", 0x0c, "be32"],
  ["off_mem_rsvmap", 0x10, "be32"],
  ["version", 0x14, "be32"],
  ["last_comp_version", 0x18, "be32"],
  ["boot_cpuid_phys", 0x1c, "be32"],
  ["size_dt_strings", 0x20, "be32"],
  ["size_dt_struct", 0x24, "be32"],
]);

/** One memory reservation entry. */
export interface FdtReserveEntry {
  /** Physical address of the reserved range. */
  address: bigint;
  /** Size of the reserved range; an entry with address and size 0 ends the list. */
  size: bigint;
}

/**
 * The memory reservation entry table (16 bytes, big endian).
 *
 * @example
 * ```ts
 * import { FDT_RESERVE_ENTRY } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_RESERVE_ENTRY.size); // 16
 * ```
 */
export const FDT_RESERVE_ENTRY: Struct<FdtReserveEntry> = new Struct<FdtReserveEntry>("fdt_reserve_entry", 16, [
  ["address", 0, "be64"],
  ["size", 8, "be64"],
]);
