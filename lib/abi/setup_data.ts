/**
 * The x86 boot protocol's extensible list of boot data, `struct setup_data` and `struct setup_indirect`, as in
 * the kernel's `arch/x86/include/uapi/asm/bootparam.h` (installed as `<asm/bootparam.h>`) and
 * `Documentation/arch/x86/boot.rst` ("Field name: setup_data"):
 *
 * > The 64-bit physical pointer to NULL terminated single linked list of struct setup_data. [...] the next
 * > is a 64-bit physical pointer to the next node of linked list, the next field of the last node is 0;
 * > the type is used to identify the contents of data; the len is the length of data field; the data holds
 * > the real payload.
 *
 * Field names keep their C spelling. `tests/boot/setup_data_test.ts` compares every offset and size here
 * with the C header.
 *
 * @module
 */

import { Struct } from "./struct.ts";

/** `struct setup_data` header (16 bytes); `data[len]` follows it directly. */
export interface SetupDataHeader {
  /** Physical address of the next node; 0 ends the list. */
  next: bigint;
  /** What `data` holds: {@linkcode SETUP_E820_EXT}, {@linkcode SETUP_DTB}, {@linkcode SETUP_RNG_SEED}, ... */
  type: number;
  /** Byte length of `data`. */
  len: number;
}

/**
 * Field table of `struct setup_data` (without the flexible `data[]`, which starts at offset 16).
 *
 * @example
 * ```ts
 * import { SETUP_DATA, SETUP_RNG_SEED } from "@linux-loader/linux-loader/abi";
 * const b = SETUP_DATA.encode({ next: 0n, type: SETUP_RNG_SEED, len: 32 });
 * console.log(b.length, SETUP_DATA.offsetOf("len")); // 16 12
 * ```
 */
export const SETUP_DATA: Struct<SetupDataHeader> = new Struct<SetupDataHeader>("setup_data", 16, [
  ["next", 0, "u64"],
  ["type", 8, "u32"],
  ["len", 12, "u32"],
]);

/** `struct setup_indirect` (24 bytes): points at data kept outside the list (protocol 2.15+). */
export interface SetupIndirect {
  /** `SETUP_INDIRECT | SETUP_*`: the type of the data pointed to. */
  type: number;
  /** Must be zero. */
  reserved: number;
  /** Length of the data pointed to. */
  len: bigint;
  /** Physical address of the data. */
  addr: bigint;
}

/**
 * Field table of `struct setup_indirect`.
 *
 * @example
 * ```ts
 * import { SETUP_INDIRECT_STRUCT } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_INDIRECT_STRUCT.size); // 24
 * ```
 */
export const SETUP_INDIRECT_STRUCT: Struct<SetupIndirect> = new Struct<SetupIndirect>("setup_indirect", 24, [
  ["type", 0, "u32"],
  ["reserved", 4, "u32"],
  ["len", 8, "u64"],
  ["addr", 16, "u64"],
]);

/**
 * setup_data type: end marker / nothing.
 *
 * @example
 * ```ts
 * import { SETUP_NONE } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_NONE); // 0
 * ```
 */
export const SETUP_NONE = 0;
/**
 * setup_data type: e820 entries beyond the zero page's 128 (`struct boot_e820_entry` array).
 *
 * @example
 * ```ts
 * import { SETUP_E820_EXT } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_E820_EXT); // 1
 * ```
 */
export const SETUP_E820_EXT = 1;
/**
 * setup_data type: a flattened device tree blob.
 *
 * @example
 * ```ts
 * import { SETUP_DTB } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_DTB); // 2
 * ```
 */
export const SETUP_DTB = 2;
/**
 * setup_data type: PCI option ROMs.
 *
 * @example
 * ```ts
 * import { SETUP_PCI } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_PCI); // 3
 * ```
 */
export const SETUP_PCI = 3;
/**
 * setup_data type: EFI runtime data.
 *
 * @example
 * ```ts
 * import { SETUP_EFI } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_EFI); // 4
 * ```
 */
export const SETUP_EFI = 4;
/**
 * setup_data type: Apple device properties.
 *
 * @example
 * ```ts
 * import { SETUP_APPLE_PROPERTIES } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_APPLE_PROPERTIES); // 5
 * ```
 */
export const SETUP_APPLE_PROPERTIES = 5;
/**
 * setup_data type: Jailhouse hypervisor data.
 *
 * @example
 * ```ts
 * import { SETUP_JAILHOUSE } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_JAILHOUSE); // 6
 * ```
 */
export const SETUP_JAILHOUSE = 6;
/**
 * setup_data type: confidential computing blob.
 *
 * @example
 * ```ts
 * import { SETUP_CC_BLOB } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_CC_BLOB); // 7
 * ```
 */
export const SETUP_CC_BLOB = 7;
/**
 * setup_data type: IMA measurement log.
 *
 * @example
 * ```ts
 * import { SETUP_IMA } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_IMA); // 8
 * ```
 */
export const SETUP_IMA = 8;
/**
 * setup_data type: bytes of entropy for the kernel's RNG.
 *
 * @example
 * ```ts
 * import { SETUP_RNG_SEED } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_RNG_SEED); // 9
 * ```
 */
export const SETUP_RNG_SEED = 9;
/**
 * The highest type the installed header knows (`SETUP_ENUM_MAX`).
 *
 * @example
 * ```ts
 * import { SETUP_ENUM_MAX } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_ENUM_MAX); // 9
 * ```
 */
export const SETUP_ENUM_MAX: number = SETUP_RNG_SEED;
/**
 * Flag: the node's data is a {@linkcode SetupIndirect} (protocol 2.15+).
 *
 * @example
 * ```ts
 * import { SETUP_INDIRECT } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_INDIRECT.toString(16)); // 80000000
 * ```
 */
export const SETUP_INDIRECT = 0x8000_0000;

/**
 * The protocol version that introduced `hdr.setup_data` (boot.rst: "Protocol: 2.09+").
 *
 * @example
 * ```ts
 * import { SETUP_DATA_MIN_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_DATA_MIN_PROTOCOL.toString(16)); // 209
 * ```
 */
export const SETUP_DATA_MIN_PROTOCOL: number = 0x0209;
/**
 * The protocol version that introduced `struct setup_indirect` ("introduced in protocol 2.15").
 *
 * @example
 * ```ts
 * import { SETUP_INDIRECT_MIN_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_INDIRECT_MIN_PROTOCOL.toString(16)); // 20f
 * ```
 */
export const SETUP_INDIRECT_MIN_PROTOCOL = 0x020f;
