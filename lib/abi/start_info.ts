/**
 * The PVH boot protocol's structures, as in Xen's `xen/include/public/arch-x86/hvm/start_info.h`
 * (installed as `<xen/arch-x86/hvm/start_info.h>`). A PVH kernel is entered in 32-bit protected mode
 * with paging off and `%ebx` holding the physical address of an {@linkcode HvmStartInfo}. Field names keep
 * their C spelling; `tests/abi/layout_test.ts` checks every offset and size against the C header.
 *
 * @module
 */

import { Struct } from "./struct.ts";

/**
 * `hvm_start_info.magic`: "xEn3" with the 0x80 bit of the "E" set.
 *
 * @example
 * ```ts
 * import { XEN_HVM_START_MAGIC_VALUE } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_START_MAGIC_VALUE.toString(16)); // 336ec578
 * ```
 */
export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
/**
 * The `hvm_start_info` version with the memory map fields.
 *
 * @example
 * ```ts
 * import { HVM_START_INFO_VERSION } from "@linux-loader/linux-loader/abi";
 * console.log(HVM_START_INFO_VERSION); // 1
 * ```
 */
export const HVM_START_INFO_VERSION = 1;

/**
 * Memory map type: RAM.
 *
 * @example
 * ```ts
 * import { XEN_HVM_MEMMAP_TYPE_RAM } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_MEMMAP_TYPE_RAM); // 1
 * ```
 */
export const XEN_HVM_MEMMAP_TYPE_RAM = 1;
/**
 * Memory map type: reserved.
 *
 * @example
 * ```ts
 * import { XEN_HVM_MEMMAP_TYPE_RESERVED } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_MEMMAP_TYPE_RESERVED); // 2
 * ```
 */
export const XEN_HVM_MEMMAP_TYPE_RESERVED = 2;
/**
 * Memory map type: ACPI.
 *
 * @example
 * ```ts
 * import { XEN_HVM_MEMMAP_TYPE_ACPI } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_MEMMAP_TYPE_ACPI); // 3
 * ```
 */
export const XEN_HVM_MEMMAP_TYPE_ACPI = 3;
/**
 * Memory map type: ACPI NVS.
 *
 * @example
 * ```ts
 * import { XEN_HVM_MEMMAP_TYPE_NVS } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_MEMMAP_TYPE_NVS); // 4
 * ```
 */
export const XEN_HVM_MEMMAP_TYPE_NVS = 4;
/**
 * Memory map type: unusable.
 *
 * @example
 * ```ts
 * import { XEN_HVM_MEMMAP_TYPE_UNUSABLE } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_MEMMAP_TYPE_UNUSABLE); // 5
 * ```
 */
export const XEN_HVM_MEMMAP_TYPE_UNUSABLE = 5;
/**
 * Memory map type: disabled.
 *
 * @example
 * ```ts
 * import { XEN_HVM_MEMMAP_TYPE_DISABLED } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_MEMMAP_TYPE_DISABLED); // 6
 * ```
 */
export const XEN_HVM_MEMMAP_TYPE_DISABLED = 6;
/**
 * Memory map type: persistent memory.
 *
 * @example
 * ```ts
 * import { XEN_HVM_MEMMAP_TYPE_PMEM } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_HVM_MEMMAP_TYPE_PMEM); // 7
 * ```
 */
export const XEN_HVM_MEMMAP_TYPE_PMEM = 7;

/** `struct hvm_start_info` (56 bytes). */
export interface HvmStartInfo {
  /** {@linkcode XEN_HVM_START_MAGIC_VALUE}. */
  magic: number;
  /** Version of this structure (1 has the memory map). */
  version: number;
  /** SIF_xxx flags. */
  flags: number;
  /** Number of modules passed to the kernel. */
  nr_modules: number;
  /** Physical address of an array of `hvm_modlist_entry`. */
  modlist_paddr: bigint;
  /** Physical address of the command line. */
  cmdline_paddr: bigint;
  /** Physical address of the ACPI RSDP. */
  rsdp_paddr: bigint;
  /** Physical address of an array of `hvm_memmap_table_entry` (version 1). */
  memmap_paddr: bigint;
  /** Number of memory map entries (version 1). */
  memmap_entries: number;
  /** Must be zero. */
  reserved: number;
}

/**
 * Field table of `struct hvm_start_info`.
 *
 * @example
 * ```ts
 * import { HVM_START_INFO, XEN_HVM_START_MAGIC_VALUE } from "@linux-loader/linux-loader/abi";
 * const b = HVM_START_INFO.encode({ magic: XEN_HVM_START_MAGIC_VALUE, version: 1 });
 * console.log(b.length, HVM_START_INFO.decode(b).magic.toString(16)); // 56 336ec578
 * ```
 */
export const HVM_START_INFO: Struct<HvmStartInfo> = new Struct<HvmStartInfo>("hvm_start_info", 56, [
  ["magic", 0, "u32"],
  ["version", 4, "u32"],
  ["flags", 8, "u32"],
  ["nr_modules", 12, "u32"],
  ["modlist_paddr", 16, "u64"],
  ["cmdline_paddr", 24, "u64"],
  ["rsdp_paddr", 32, "u64"],
  ["memmap_paddr", 40, "u64"],
  ["memmap_entries", 48, "u32"],
  ["reserved", 52, "u32"],
]);

/** `struct hvm_modlist_entry` (32 bytes): one module (an initrd, say). */
export interface HvmModlistEntry {
  /** Physical address of the module. */
  paddr: bigint;
  /** Size of the module in bytes. */
  size: bigint;
  /** Physical address of the module's command line. */
  cmdline_paddr: bigint;
  /** Must be zero. */
  reserved: bigint;
}

/**
 * Field table of `struct hvm_modlist_entry`.
 *
 * @example
 * ```ts
 * import { HVM_MODLIST_ENTRY } from "@linux-loader/linux-loader/abi";
 * console.log(HVM_MODLIST_ENTRY.size); // 32
 * ```
 */
export const HVM_MODLIST_ENTRY: Struct<HvmModlistEntry> = new Struct<HvmModlistEntry>("hvm_modlist_entry", 32, [
  ["paddr", 0, "u64"],
  ["size", 8, "u64"],
  ["cmdline_paddr", 16, "u64"],
  ["reserved", 24, "u64"],
]);

/** `struct hvm_memmap_table_entry` (24 bytes): one range of the PVH memory map. */
export interface HvmMemmapTableEntry {
  /** Base address of the range. */
  addr: bigint;
  /** Size of the range in bytes. */
  size: bigint;
  /** Mapping type ({@linkcode XEN_HVM_MEMMAP_TYPE_RAM}, ...). */
  type: number;
  /** Must be zero. */
  reserved: number;
}

/**
 * Field table of `struct hvm_memmap_table_entry`.
 *
 * @example
 * ```ts
 * import { HVM_MEMMAP_TABLE_ENTRY } from "@linux-loader/linux-loader/abi";
 * console.log(HVM_MEMMAP_TABLE_ENTRY.size); // 24
 * ```
 */
export const HVM_MEMMAP_TABLE_ENTRY: Struct<HvmMemmapTableEntry> = new Struct<HvmMemmapTableEntry>(
  "hvm_memmap_table_entry",
  24,
  [
    ["addr", 0, "u64"],
    ["size", 8, "u64"],
    ["type", 16, "u32"],
    ["reserved", 20, "u32"],
  ],
);
