/**
 * The x86 Linux boot protocol's structures, as in the kernel's `arch/x86/include/uapi/asm/bootparam.h`
 * (installed as `<asm/bootparam.h>`), and the constants a loader needs from `Documentation/arch/x86/boot.rst`.
 * Field names keep their C spelling. Every offset and size here is checked against the C header by
 * `tests/abi/layout_test.ts`.
 *
 * @module
 */

import { Struct } from "./struct.ts";
import { readSetupHeader } from "./le.ts";

/**
 * `struct setup_header` (packed, 0x7b bytes): the part of a bzImage's real-mode setup that a boot loader
 * reads and fills. It sits at {@linkcode SETUP_HEADER_OFFSET} in the image and in `struct boot_params`.
 */
export interface SetupHeader {
  /** Size of the real-mode setup in 512-byte sectors; 0 means 4. */
  setup_sects: number;
  /** Obsolete: mount the root read-only when nonzero. */
  root_flags: number;
  /** Size of the protected-mode code in 16-byte paragraphs. */
  syssize: number;
  /** Obsolete. */
  ram_size: number;
  /** Video mode control. */
  vid_mode: number;
  /** Obsolete default root device. */
  root_dev: number;
  /** 0xAA55 ({@linkcode BOOT_FLAG_MAGIC}). */
  boot_flag: number;
  /** x86 short jump; its high byte plus 0x202 is the end of the header. */
  jump: number;
  /** "HdrS" ({@linkcode HDRS_MAGIC}). */
  header: number;
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  version: number;
  /** Boot loader hook. */
  realmode_swtch: number;
  /** Obsolete load-low segment (0x1000). */
  start_sys_seg: number;
  /** Pointer to the kernel version string, minus 0x200. */
  kernel_version: number;
  /** Boot loader identifier; 0xff ({@linkcode KERNEL_LOADER_OTHER}) for an unregistered loader. */
  type_of_loader: number;
  /** Boot protocol option flags ({@linkcode LOADED_HIGH}, ...). */
  loadflags: number;
  /** Move to high memory size (used with hooks). */
  setup_move_size: number;
  /** Where the protected-mode kernel is loaded (32-bit entry point). */
  code32_start: number;
  /** initrd load address, low 32 bits (set by the loader). */
  ramdisk_image: number;
  /** initrd size, low 32 bits (set by the loader). */
  ramdisk_size: number;
  /** Obsolete. */
  bootsect_kludge: number;
  /** Free memory after the setup end. */
  heap_end_ptr: number;
  /** Extended boot loader version. */
  ext_loader_ver: number;
  /** Extended boot loader type. */
  ext_loader_type: number;
  /** 32-bit pointer to the kernel command line (set by the loader). */
  cmd_line_ptr: number;
  /** Highest legal initrd address (protocol 2.03+). */
  initrd_addr_max: number;
  /** Physical alignment required by a relocatable kernel (2.05+). */
  kernel_alignment: number;
  /** Whether the protected-mode part is relocatable (2.05+). */
  relocatable_kernel: number;
  /** Minimum alignment, as a power of two (2.10+). */
  min_alignment: number;
  /** Extended boot protocol flags ({@linkcode XLF_KERNEL_64}, ...) (2.12+). */
  xloadflags: number;
  /** Maximum size of the command line, without the NUL (2.06+). */
  cmdline_size: number;
  /** Hardware subarchitecture (2.07+). */
  hardware_subarch: number;
  /** Subarchitecture-specific data (2.07+). */
  hardware_subarch_data: bigint;
  /** Offset of the compressed payload from the start of the protected-mode code (2.08+). */
  payload_offset: number;
  /** Length of the compressed payload (2.08+). */
  payload_length: number;
  /** 64-bit physical pointer to a linked list of `struct setup_data` (2.09+). */
  setup_data: bigint;
  /** Preferred load address of a relocatable kernel (2.10+). */
  pref_address: bigint;
  /** Linear memory the kernel needs from its runtime start before it can relocate itself (2.10+). */
  init_size: number;
  /** Offset of the EFI handover entry point (2.11+). */
  handover_offset: number;
  /** Offset of `kernel_info` from the start of the protected-mode code (2.15+). */
  kernel_info_offset: number;
}

/**
 * Field table of `struct setup_header`.
 *
 * @example Read the magic of a setup header
 * ```ts
 * import { HDRS_MAGIC, SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const bytes = SETUP_HEADER.encode({ header: HDRS_MAGIC, version: 0x20f });
 * console.log(SETUP_HEADER.decode(bytes).version.toString(16)); // 20f
 * ```
 */
export const SETUP_HEADER: Struct<SetupHeader> = new Struct<SetupHeader>("setup_header", 0x7b, [
  ["setup_sects", 0, "u8"],
  ["root_flags", 1, "u16"],
  ["syssize", 3, "u32"],
  ["ram_size", 7, "u16"],
  ["vid_mode", 9, "u16"],
  ["root_dev", 11, "u16"],
  ["boot_flag", 13, "u16"],
  ["jump", 15, "u16"],
  ["header", 17, "u32"],
  ["version", 21, "u16"],
  ["realmode_swtch", 23, "u32"],
  ["start_sys_seg", 27, "u16"],
  ["kernel_version", 29, "u16"],
  ["type_of_loader", 31, "u8"],
  ["loadflags", 32, "u8"],
  ["setup_move_size", 33, "u16"],
  ["code32_start", 35, "u32"],
  ["ramdisk_image", 39, "u32"],
  ["ramdisk_size", 43, "u32"],
  ["bootsect_kludge", 47, "u32"],
  ["heap_end_ptr", 51, "u16"],
  ["ext_loader_ver", 53, "u8"],
  ["ext_loader_type", 54, "u8"],
  ["cmd_line_ptr", 55, "u32"],
  ["initrd_addr_max", 59, "u32"],
  ["kernel_alignment", 63, "u32"],
  ["relocatable_kernel", 67, "u8"],
  ["min_alignment", 68, "u8"],
  ["xloadflags", 69, "u16"],
  ["cmdline_size", 71, "u32"],
  ["hardware_subarch", 75, "u32"],
  ["hardware_subarch_data", 79, "u64"],
  ["payload_offset", 87, "u32"],
  ["payload_length", 91, "u32"],
  ["setup_data", 95, "u64"],
  ["pref_address", 103, "u64"],
  ["init_size", 111, "u32"],
  ["handover_offset", 115, "u32"],
  ["kernel_info_offset", 119, "u32"],
], (dv, b) => readSetupHeader(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength), b));

/** `struct boot_e820_entry` (packed, 20 bytes): one range of the zero page's memory map. */
export interface BootE820Entry {
  /** First physical address. */
  addr: bigint;
  /** Size in bytes. */
  size: bigint;
  /** Range type: {@linkcode E820_RAM}, {@linkcode E820_RESERVED}, ... */
  type: number;
}

/**
 * Field table of `struct boot_e820_entry`.
 *
 * @example
 * ```ts
 * import { BOOT_E820_ENTRY, E820_RAM } from "@linux-loader/linux-loader/abi";
 * const e = BOOT_E820_ENTRY.encode({ addr: 0n, size: 0x9fc00n, type: E820_RAM });
 * console.log(e.length); // 20
 * ```
 */
export const BOOT_E820_ENTRY: Struct<BootE820Entry> = new Struct<BootE820Entry>("boot_e820_entry", 20, [
  ["addr", 0, "u64"],
  ["size", 8, "u64"],
  ["type", 16, "u32"],
]);

/**
 * `struct boot_params` (packed, 4096 bytes): the "zero page". Nested structs the loader never fills
 * (screen_info, edid_info, ...) are opaque byte fields; `hdr` is a {@linkcode SETUP_HEADER} and
 * `e820_table` an array of {@linkcode BOOT_E820_ENTRY}, both kept as bytes here.
 */
export interface BootParamsStruct {
  /** `struct screen_info`. */
  screen_info: Uint8Array;
  /** `struct apm_bios_info`. */
  apm_bios_info: Uint8Array;
  /** Padding. */
  _pad2: Uint8Array;
  /** Intel TXT boot address. */
  tboot_addr: bigint;
  /** `struct ist_info`. */
  ist_info: Uint8Array;
  /** Physical address of the ACPI RSDP. */
  acpi_rsdp_addr: bigint;
  /** Padding. */
  _pad3: Uint8Array;
  /** Obsolete. */
  hd0_info: Uint8Array;
  /** Obsolete. */
  hd1_info: Uint8Array;
  /** Obsolete `struct sys_desc_table`. */
  sys_desc_table: Uint8Array;
  /** `struct olpc_ofw_header`. */
  olpc_ofw_header: Uint8Array;
  /** High 32 bits of the initrd address. */
  ext_ramdisk_image: number;
  /** High 32 bits of the initrd size. */
  ext_ramdisk_size: number;
  /** High 32 bits of the command line address. */
  ext_cmd_line_ptr: number;
  /** Padding. */
  _pad4: Uint8Array;
  /** Confidential computing blob address. */
  cc_blob_address: number;
  /** `struct edid_info`. */
  edid_info: Uint8Array;
  /** `struct efi_info`. */
  efi_info: Uint8Array;
  /** Alternative memory size in KiB. */
  alt_mem_k: number;
  /** Scratch field for the kernel setup code. */
  scratch: number;
  /** Number of valid entries in `e820_table`. */
  e820_entries: number;
  /** Number of EDD entries. */
  eddbuf_entries: number;
  /** Number of MBR signatures. */
  edd_mbr_sig_buf_entries: number;
  /** Keyboard status. */
  kbd_status: number;
  /** Secure boot state. */
  secure_boot: number;
  /** Padding. */
  _pad5: Uint8Array;
  /** Set nonzero by header.S; a loader that copies too much leaves it nonzero. */
  sentinel: number;
  /** Padding. */
  _pad6: Uint8Array;
  /** `struct setup_header`. */
  hdr: Uint8Array;
  /** Padding up to 0x290. */
  _pad7: Uint8Array;
  /** `__u32 edd_mbr_sig_buffer[16]`. */
  edd_mbr_sig_buffer: Uint8Array;
  /** `struct boot_e820_entry e820_table[128]`. */
  e820_table: Uint8Array;
  /** Padding. */
  _pad8: Uint8Array;
  /** `struct edd_info eddbuf[6]`. */
  eddbuf: Uint8Array;
  /** Padding to 4096. */
  _pad9: Uint8Array;
}

/**
 * Maximum entries of the zero page's e820 table.
 *
 * @example
 * ```ts
 * import { E820_MAX_ENTRIES_ZEROPAGE } from "@linux-loader/linux-loader/abi";
 * console.log(E820_MAX_ENTRIES_ZEROPAGE); // 128
 * ```
 */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

/**
 * Field table of `struct boot_params`.
 *
 * @example
 * ```ts
 * import { BOOT_PARAMS } from "@linux-loader/linux-loader/abi";
 * console.log(BOOT_PARAMS.size, BOOT_PARAMS.offsetOf("hdr").toString(16)); // 4096 1f1
 * ```
 */
export const BOOT_PARAMS: Struct<BootParamsStruct> = new Struct<BootParamsStruct>("boot_params", 0x1000, [
  ["screen_info", 0x000, { bytes: 0x40 }],
  ["apm_bios_info", 0x040, { bytes: 0x14 }],
  ["_pad2", 0x054, { bytes: 4 }],
  ["tboot_addr", 0x058, "u64"],
  ["ist_info", 0x060, { bytes: 0x10 }],
  ["acpi_rsdp_addr", 0x070, "u64"],
  ["_pad3", 0x078, { bytes: 8 }],
  ["hd0_info", 0x080, { bytes: 16 }],
  ["hd1_info", 0x090, { bytes: 16 }],
  ["sys_desc_table", 0x0a0, { bytes: 16 }],
  ["olpc_ofw_header", 0x0b0, { bytes: 16 }],
  ["ext_ramdisk_image", 0x0c0, "u32"],
  ["ext_ramdisk_size", 0x0c4, "u32"],
  ["ext_cmd_line_ptr", 0x0c8, "u32"],
  ["_pad4", 0x0cc, { bytes: 112 }],
  ["cc_blob_address", 0x13c, "u32"],
  ["edid_info", 0x140, { bytes: 128 }],
  ["efi_info", 0x1c0, { bytes: 32 }],
  ["alt_mem_k", 0x1e0, "u32"],
  ["scratch", 0x1e4, "u32"],
  ["e820_entries", 0x1e8, "u8"],
  ["eddbuf_entries", 0x1e9, "u8"],
  ["edd_mbr_sig_buf_entries", 0x1ea, "u8"],
  ["kbd_status", 0x1eb, "u8"],
  ["secure_boot", 0x1ec, "u8"],
  ["_pad5", 0x1ed, { bytes: 2 }],
  ["sentinel", 0x1ef, "u8"],
  ["_pad6", 0x1f0, { bytes: 1 }],
  ["hdr", 0x1f1, { bytes: 0x7b }],
  ["_pad7", 0x26c, { bytes: 0x290 - 0x26c }],
  ["edd_mbr_sig_buffer", 0x290, { bytes: 64 }],
  ["e820_table", 0x2d0, { bytes: 20 * E820_MAX_ENTRIES_ZEROPAGE }],
  ["_pad8", 0xcd0, { bytes: 48 }],
  ["eddbuf", 0xd00, { bytes: 6 * 82 }],
  ["_pad9", 0xeec, { bytes: 276 }],
]);

/**
 * Offset of `struct setup_header` in a bzImage and in `struct boot_params` (`hdr`).
 *
 * @example
 * ```ts
 * import { SETUP_HEADER_OFFSET } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_HEADER_OFFSET.toString(16)); // 1f1
 * ```
 */
export const SETUP_HEADER_OFFSET = 0x1f1;
/**
 * Offset of the byte whose value plus 0x202 is the end of the setup header (the jump's displacement).
 *
 * @example
 * ```ts
 * import { SETUP_HEADER_JUMP_DISPLACEMENT_OFFSET } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_HEADER_JUMP_DISPLACEMENT_OFFSET.toString(16)); // 201
 * ```
 */
export const SETUP_HEADER_JUMP_DISPLACEMENT_OFFSET = 0x201;
/**
 * The setup header ends at this offset plus the byte at {@linkcode SETUP_HEADER_JUMP_DISPLACEMENT_OFFSET}.
 *
 * @example
 * ```ts
 * import { SETUP_HEADER_END_BASE } from "@linux-loader/linux-loader/abi";
 * console.log(SETUP_HEADER_END_BASE.toString(16)); // 202
 * ```
 */
export const SETUP_HEADER_END_BASE = 0x202;
/**
 * Size of a real-mode setup sector.
 *
 * @example
 * ```ts
 * import { SECTOR_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(SECTOR_SIZE.toString(16)); // 200
 * ```
 */
export const SECTOR_SIZE = 512;
/**
 * `setup_sects` value that old kernels leave as 0; it means this many sectors.
 *
 * @example
 * ```ts
 * import { DEFAULT_SETUP_SECTS } from "@linux-loader/linux-loader/abi";
 * console.log(DEFAULT_SETUP_SECTS); // 4
 * ```
 */
export const DEFAULT_SETUP_SECTS = 4;

/**
 * `boot_flag` value: the boot sector signature 0xAA55.
 *
 * @example
 * ```ts
 * import { BOOT_FLAG_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(BOOT_FLAG_MAGIC.toString(16)); // aa55
 * ```
 */
export const BOOT_FLAG_MAGIC = 0xaa55;
/**
 * `header` value: "HdrS" read as a little-endian u32.
 *
 * @example
 * ```ts
 * import { HDRS_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(HDRS_MAGIC.toString(16)); // 53726448
 * ```
 */
export const HDRS_MAGIC = 0x53726448;
/**
 * The oldest boot protocol with a setup header this loader accepts (2.00).
 *
 * @example
 * ```ts
 * import { MIN_BOOT_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(MIN_BOOT_PROTOCOL.toString(16)); // 200
 * ```
 */
export const MIN_BOOT_PROTOCOL = 0x0200;
/**
 * `type_of_loader` for a boot loader without an assigned id.
 *
 * @example
 * ```ts
 * import { KERNEL_LOADER_OTHER } from "@linux-loader/linux-loader/abi";
 * console.log(KERNEL_LOADER_OTHER); // 255
 * ```
 */
export const KERNEL_LOADER_OTHER = 0xff;
/**
 * Default `code32_start` of a bzImage: protected-mode code is loaded at 1 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_CODE32_START } from "@linux-loader/linux-loader/abi";
 * console.log(DEFAULT_CODE32_START.toString(16)); // 100000
 * ```
 */
export const DEFAULT_CODE32_START = 0x100000;
/**
 * `kernel_version` holds the file offset of the version string "less 0x200" (boot.rst): add this to it.
 *
 * @example
 * ```ts
 * import { KERNEL_VERSION_BIAS } from "@linux-loader/linux-loader/abi";
 * console.log(KERNEL_VERSION_BIAS.toString(16)); // 200
 * ```
 */
export const KERNEL_VERSION_BIAS = 0x200;
/**
 * Offset of the 64-bit entry point from the start of the protected-mode code (`startup_64`).
 *
 * @example
 * ```ts
 * import { STARTUP_64_OFFSET } from "@linux-loader/linux-loader/abi";
 * console.log(STARTUP_64_OFFSET.toString(16)); // 200
 * ```
 */
export const STARTUP_64_OFFSET = 0x200;

/**
 * Protocol versions at which optional setup header fields became valid.
 *
 * @example
 * ```ts
 * import { BOOT_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(Object.keys(BOOT_PROTOCOL).slice(0, 4)); // [ "INITRD_ADDR_MAX", "RELOCATABLE", "CMDLINE_SIZE", "PREF_ADDRESS" ]
 * ```
 */
export const BOOT_PROTOCOL: {
  readonly INITRD_ADDR_MAX: number;
  readonly RELOCATABLE: number;
  readonly CMDLINE_SIZE: number;
  readonly PREF_ADDRESS: number;
  readonly XLOADFLAGS: number;
} = Object.freeze({
  /** `initrd_addr_max` (2.03). */
  INITRD_ADDR_MAX: 0x0203,
  /** `kernel_alignment`, `relocatable_kernel` (2.05). */
  RELOCATABLE: 0x0205,
  /** `cmdline_size` (2.06). */
  CMDLINE_SIZE: 0x0206,
  /** `min_alignment`, `pref_address`, `init_size` (2.10). */
  PREF_ADDRESS: 0x020a,
  /** `xloadflags` (2.12). */
  XLOADFLAGS: 0x020c,
});

/**
 * `loadflags` bit 0: the protected-mode code is loaded at 0x100000 (a bzImage).
 *
 * @example
 * ```ts
 * import { LOADED_HIGH } from "@linux-loader/linux-loader/abi";
 * console.log(LOADED_HIGH); // 1
 * ```
 */
export const LOADED_HIGH = 1 << 0;
/**
 * `loadflags` bit 1: KASLR enabled (set by the kernel).
 *
 * @example
 * ```ts
 * import { KASLR_FLAG } from "@linux-loader/linux-loader/abi";
 * console.log(KASLR_FLAG); // 2
 * ```
 */
export const KASLR_FLAG = 1 << 1;
/**
 * `loadflags` bit 5: suppress early messages.
 *
 * @example
 * ```ts
 * import { QUIET_FLAG } from "@linux-loader/linux-loader/abi";
 * console.log(QUIET_FLAG); // 32
 * ```
 */
export const QUIET_FLAG = 1 << 5;
/**
 * `loadflags` bit 6: obsolete.
 *
 * @example
 * ```ts
 * import { KEEP_SEGMENTS } from "@linux-loader/linux-loader/abi";
 * console.log(KEEP_SEGMENTS); // 64
 * ```
 */
export const KEEP_SEGMENTS = 1 << 6;
/**
 * `loadflags` bit 7: `heap_end_ptr` is valid.
 *
 * @example
 * ```ts
 * import { CAN_USE_HEAP } from "@linux-loader/linux-loader/abi";
 * console.log(CAN_USE_HEAP); // 128
 * ```
 */
export const CAN_USE_HEAP = 1 << 7;

/**
 * `xloadflags` bit 0: the kernel has the legacy 64-bit entry point at 0x200.
 *
 * @example
 * ```ts
 * import { XLF_KERNEL_64 } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_KERNEL_64); // 1
 * ```
 */
export const XLF_KERNEL_64 = 1 << 0;
/**
 * `xloadflags` bit 1: kernel, boot_params, cmdline and ramdisk may be above 4 GiB.
 *
 * @example
 * ```ts
 * import { XLF_CAN_BE_LOADED_ABOVE_4G } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_CAN_BE_LOADED_ABOVE_4G); // 2
 * ```
 */
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
/**
 * `xloadflags` bit 2: 32-bit EFI handover entry.
 *
 * @example
 * ```ts
 * import { XLF_EFI_HANDOVER_32 } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_EFI_HANDOVER_32); // 4
 * ```
 */
export const XLF_EFI_HANDOVER_32 = 1 << 2;
/**
 * `xloadflags` bit 3: 64-bit EFI handover entry.
 *
 * @example
 * ```ts
 * import { XLF_EFI_HANDOVER_64 } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_EFI_HANDOVER_64); // 8
 * ```
 */
export const XLF_EFI_HANDOVER_64 = 1 << 3;
/**
 * `xloadflags` bit 4: EFI kexec support.
 *
 * @example
 * ```ts
 * import { XLF_EFI_KEXEC } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_EFI_KEXEC); // 16
 * ```
 */
export const XLF_EFI_KEXEC = 1 << 4;
/**
 * `xloadflags` bit 5: 5-level paging supported.
 *
 * @example
 * ```ts
 * import { XLF_5LEVEL } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_5LEVEL); // 32
 * ```
 */
export const XLF_5LEVEL = 1 << 5;
/**
 * `xloadflags` bit 6: 5-level paging enabled.
 *
 * @example
 * ```ts
 * import { XLF_5LEVEL_ENABLED } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_5LEVEL_ENABLED); // 64
 * ```
 */
export const XLF_5LEVEL_ENABLED = 1 << 6;
/**
 * `xloadflags` bit 7: memory encryption supported.
 *
 * @example
 * ```ts
 * import { XLF_MEM_ENCRYPTION } from "@linux-loader/linux-loader/abi";
 * console.log(XLF_MEM_ENCRYPTION); // 128
 * ```
 */
export const XLF_MEM_ENCRYPTION = 1 << 7;

/**
 * e820 type: usable RAM.
 *
 * @example
 * ```ts
 * import { E820_RAM } from "@linux-loader/linux-loader/abi";
 * console.log(E820_RAM); // 1
 * ```
 */
export const E820_RAM = 1;
/**
 * e820 type: reserved.
 *
 * @example
 * ```ts
 * import { E820_RESERVED } from "@linux-loader/linux-loader/abi";
 * console.log(E820_RESERVED); // 2
 * ```
 */
export const E820_RESERVED = 2;
/**
 * e820 type: ACPI reclaimable.
 *
 * @example
 * ```ts
 * import { E820_ACPI } from "@linux-loader/linux-loader/abi";
 * console.log(E820_ACPI); // 3
 * ```
 */
export const E820_ACPI = 3;
/**
 * e820 type: ACPI NVS.
 *
 * @example
 * ```ts
 * import { E820_NVS } from "@linux-loader/linux-loader/abi";
 * console.log(E820_NVS); // 4
 * ```
 */
export const E820_NVS = 4;
/**
 * e820 type: unusable.
 *
 * @example
 * ```ts
 * import { E820_UNUSABLE } from "@linux-loader/linux-loader/abi";
 * console.log(E820_UNUSABLE); // 5
 * ```
 */
export const E820_UNUSABLE = 5;
/**
 * e820 type: persistent memory.
 *
 * @example
 * ```ts
 * import { E820_PMEM } from "@linux-loader/linux-loader/abi";
 * console.log(E820_PMEM); // 7
 * ```
 */
export const E820_PMEM = 7;
