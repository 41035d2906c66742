/**
 * Multiboot 1 and Multiboot2 structures as field tables, with their magic numbers and flag bits.
 *
 * - Multiboot Specification 0.6.96: https://www.gnu.org/software/grub/manual/multiboot/multiboot.html
 *   (the C header `multiboot.h` at the end of that document names the fields spelled here).
 * - Multiboot2 Specification 2.0: https://www.gnu.org/software/grub/manual/multiboot2/multiboot.html
 *   (`multiboot2.h`).
 * - The ELF32 header and program header (System V ABI, i386 supplement), which a Multiboot kernel without
 *   the a.out kludge is loaded from. The 64-bit tables and the constants both share live in `elf.ts`.
 *
 * All values are little endian. Struct sizes follow the i386 C ABI (4-byte alignment of 64-bit fields) and
 * the headers' `__attribute__((packed))` where they have it.
 *
 * @module
 */

import { Struct } from "./struct.ts";

// ---------------------------------------------------------------------------------------------------
// Multiboot 1: the OS image header (spec 3.1.1)
// ---------------------------------------------------------------------------------------------------

/**
 * The magic number of a Multiboot 1 header ("the magic number identifying the header").
 *
 * @example
 * ```ts
 * import { MULTIBOOT_HEADER_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_HEADER_MAGIC.toString(16)); // 1badb002
 * ```
 */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/**
 * EAX at entry: "must contain the magic value 0x2BADB002" (spec 3.2).
 *
 * @example
 * ```ts
 * import { MULTIBOOT_BOOTLOADER_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_BOOTLOADER_MAGIC.toString(16)); // 2badb002
 * ```
 */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/**
 * "The Multiboot header must be contained completely within the first 8192 bytes of the OS image."
 *
 * @example
 * ```ts
 * import { MULTIBOOT_SEARCH } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_SEARCH.toString(16)); // 2000
 * ```
 */
export const MULTIBOOT_SEARCH = 8192;
/**
 * "... and must be longword (32-bit) aligned."
 *
 * @example
 * ```ts
 * import { MULTIBOOT_HEADER_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_HEADER_ALIGN); // 4
 * ```
 */
export const MULTIBOOT_HEADER_ALIGN = 4;
/**
 * Bytes of the header that every image has: magic, flags, checksum.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_HEADER_MIN_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_HEADER_MIN_SIZE); // 12
 * ```
 */
export const MULTIBOOT_HEADER_MIN_SIZE = 12;
/**
 * Bytes of the header when the address fields (flag bit 16) are present: up to entry_addr.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_HEADER_AOUT_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_HEADER_AOUT_SIZE); // 32
 * ```
 */
export const MULTIBOOT_HEADER_AOUT_SIZE = 32;
/**
 * Bytes of the header when the graphics fields (flag bit 2) are present: up to depth.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_HEADER_VIDEO_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_HEADER_VIDEO_SIZE); // 48
 * ```
 */
export const MULTIBOOT_HEADER_VIDEO_SIZE = 48;

/**
 * Header flag bit 0: boot modules must be aligned on 4 KiB page boundaries.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_PAGE_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_PAGE_ALIGN); // 1
 * ```
 */
export const MULTIBOOT_PAGE_ALIGN = 0x0000_0001;
/**
 * Header flag bit 1: mem_* (and, if available, mmap_*) must be passed in multiboot_info.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MEMORY_INFO } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MEMORY_INFO); // 2
 * ```
 */
export const MULTIBOOT_MEMORY_INFO = 0x0000_0002;
/**
 * Header flag bit 2: the video mode table must be passed (and the graphics fields are valid).
 *
 * @example
 * ```ts
 * import { MULTIBOOT_VIDEO_MODE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_VIDEO_MODE); // 4
 * ```
 */
export const MULTIBOOT_VIDEO_MODE = 0x0000_0004;
/**
 * Header flag bit 16: the address fields at offsets 12-28 are valid (the "a.out kludge").
 *
 * @example
 * ```ts
 * import { MULTIBOOT_AOUT_KLUDGE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_AOUT_KLUDGE.toString(16)); // 10000
 * ```
 */
export const MULTIBOOT_AOUT_KLUDGE = 0x0001_0000;
/**
 * The requirement bits. Spec 3.1.2: "Bits 0-15 indicate requirements; if the boot loader sees any of
 * these bits set but doesn't understand the flag or can't fulfill the requirements it indicates for some
 * reason, it must notify the user and fail to load the OS image."
 *
 * @example
 * ```ts
 * import { MULTIBOOT_REQUIRED_FLAGS_MASK } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_REQUIRED_FLAGS_MASK.toString(16)); // ffff
 * ```
 */
export const MULTIBOOT_REQUIRED_FLAGS_MASK = 0x0000_ffff;
/**
 * Page size used for module alignment (flag bit 0).
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MODULE_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MODULE_ALIGN.toString(16)); // 1000
 * ```
 */
export const MULTIBOOT_MODULE_ALIGN = 0x1000;

/** The Multiboot 1 header (`struct multiboot_header`). Fields after `checksum` exist only per flags. */
export interface MultibootHeader {
  /** {@linkcode MULTIBOOT_HEADER_MAGIC}. */
  magic: number;
  /** Feature bits the image requests or requires. */
  flags: number;
  /** magic + flags + checksum == 0 (mod 2^32). */
  checksum: number;
  /** Physical address of the header's first byte (flag bit 16). */
  header_addr: number;
  /** Physical address of the start of the text segment (flag bit 16). */
  load_addr: number;
  /** Physical address of the end of the data segment; 0 means the whole file (flag bit 16). */
  load_end_addr: number;
  /** Physical address of the end of the bss; 0 means no bss (flag bit 16). */
  bss_end_addr: number;
  /** Physical address to jump to (flag bit 16). */
  entry_addr: number;
  /** 0 linear graphics, 1 EGA text (flag bit 2). */
  mode_type: number;
  /** Preferred columns (flag bit 2). */
  width: number;
  /** Preferred lines (flag bit 2). */
  height: number;
  /** Preferred bits per pixel (flag bit 2). */
  depth: number;
}

/**
 * Layout of {@linkcode MultibootHeader}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_HEADER } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_HEADER.offsetOf("entry_addr")); // 28
 * ```
 */
export const MULTIBOOT_HEADER: Struct<MultibootHeader> = new Struct<MultibootHeader>("multiboot_header", 48, [
  ["magic", 0, "u32"],
  ["flags", 4, "u32"],
  ["checksum", 8, "u32"],
  ["header_addr", 12, "u32"],
  ["load_addr", 16, "u32"],
  ["load_end_addr", 20, "u32"],
  ["bss_end_addr", 24, "u32"],
  ["entry_addr", 28, "u32"],
  ["mode_type", 32, "u32"],
  ["width", 36, "u32"],
  ["height", 40, "u32"],
  ["depth", 44, "u32"],
]);

// ---------------------------------------------------------------------------------------------------
// Multiboot 1: the boot information (spec 3.3)
// ---------------------------------------------------------------------------------------------------

/**
 * multiboot_info.flags bit 0: mem_lower and mem_upper are valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_MEMORY } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_MEMORY); // 1
 * ```
 */
export const MULTIBOOT_INFO_MEMORY = 0x0000_0001;
/**
 * Bit 1: boot_device is valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_BOOTDEV } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_BOOTDEV); // 2
 * ```
 */
export const MULTIBOOT_INFO_BOOTDEV = 0x0000_0002;
/**
 * Bit 2: cmdline is valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_CMDLINE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_CMDLINE); // 4
 * ```
 */
export const MULTIBOOT_INFO_CMDLINE = 0x0000_0004;
/**
 * Bit 3: mods_count and mods_addr are valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_MODS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_MODS); // 8
 * ```
 */
export const MULTIBOOT_INFO_MODS = 0x0000_0008;
/**
 * Bit 4: the a.out symbol table is valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_AOUT_SYMS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_AOUT_SYMS); // 16
 * ```
 */
export const MULTIBOOT_INFO_AOUT_SYMS = 0x0000_0010;
/**
 * Bit 5: the ELF section header table is valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_ELF_SHDR } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_ELF_SHDR); // 32
 * ```
 */
export const MULTIBOOT_INFO_ELF_SHDR = 0x0000_0020;
/**
 * Bit 6: mmap_length and mmap_addr are valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_MEM_MAP } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_MEM_MAP); // 64
 * ```
 */
export const MULTIBOOT_INFO_MEM_MAP = 0x0000_0040;
/**
 * Bit 7: drives_length and drives_addr are valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_DRIVE_INFO } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_DRIVE_INFO); // 128
 * ```
 */
export const MULTIBOOT_INFO_DRIVE_INFO = 0x0000_0080;
/**
 * Bit 8: config_table is valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_CONFIG_TABLE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_CONFIG_TABLE.toString(16)); // 100
 * ```
 */
export const MULTIBOOT_INFO_CONFIG_TABLE = 0x0000_0100;
/**
 * Bit 9: boot_loader_name is valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_BOOT_LOADER_NAME } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_BOOT_LOADER_NAME.toString(16)); // 200
 * ```
 */
export const MULTIBOOT_INFO_BOOT_LOADER_NAME = 0x0000_0200;
/**
 * Bit 10: apm_table is valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_APM_TABLE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_APM_TABLE.toString(16)); // 400
 * ```
 */
export const MULTIBOOT_INFO_APM_TABLE = 0x0000_0400;
/**
 * Bit 11: the vbe_* fields are valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_VBE_INFO } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_VBE_INFO.toString(16)); // 800
 * ```
 */
export const MULTIBOOT_INFO_VBE_INFO = 0x0000_0800;
/**
 * Bit 12: the framebuffer_* fields are valid.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO_FRAMEBUFFER_INFO } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO_FRAMEBUFFER_INFO.toString(16)); // 1000
 * ```
 */
export const MULTIBOOT_INFO_FRAMEBUFFER_INFO = 0x0000_1000;

/**
 * Memory map type: available RAM.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MEMORY_AVAILABLE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MEMORY_AVAILABLE); // 1
 * ```
 */
export const MULTIBOOT_MEMORY_AVAILABLE = 1;
/**
 * Memory map type: reserved.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MEMORY_RESERVED } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MEMORY_RESERVED); // 2
 * ```
 */
export const MULTIBOOT_MEMORY_RESERVED = 2;
/**
 * Memory map type: ACPI reclaimable.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MEMORY_ACPI_RECLAIMABLE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MEMORY_ACPI_RECLAIMABLE); // 3
 * ```
 */
export const MULTIBOOT_MEMORY_ACPI_RECLAIMABLE = 3;
/**
 * Memory map type: ACPI NVS, to be preserved on hibernation.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MEMORY_NVS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MEMORY_NVS); // 4
 * ```
 */
export const MULTIBOOT_MEMORY_NVS = 4;
/**
 * Memory map type: defective RAM.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MEMORY_BADRAM } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MEMORY_BADRAM); // 5
 * ```
 */
export const MULTIBOOT_MEMORY_BADRAM = 5;

/**
 * Lower memory ends at 640 KiB: "The maximum possible value for lower memory is 640 kilobytes."
 *
 * @example
 * ```ts
 * import { MULTIBOOT_LOWER_MEMORY_END } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_LOWER_MEMORY_END.toString(16)); // a0000
 * ```
 */
export const MULTIBOOT_LOWER_MEMORY_END = 0xa_0000;
/**
 * Upper memory starts at 1 MiB: "upper memory starts at address 1 megabyte".
 *
 * @example
 * ```ts
 * import { MULTIBOOT_UPPER_MEMORY_START } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_UPPER_MEMORY_START.toString(16)); // 100000
 * ```
 */
export const MULTIBOOT_UPPER_MEMORY_START = 0x10_0000;

/** The Multiboot 1 information structure (`struct multiboot_info`). */
export interface MultibootInfo {
  /** Which of the following fields are valid (MULTIBOOT_INFO_*). */
  flags: number;
  /** KiB of memory from 0, at most 640. */
  mem_lower: number;
  /** KiB of memory from 1 MiB up to the first hole. */
  mem_upper: number;
  /** BIOS disk the image was loaded from. */
  boot_device: number;
  /** Physical address of the NUL-terminated command line. */
  cmdline: number;
  /** Number of modules. */
  mods_count: number;
  /** Physical address of the first multiboot_mod_list. */
  mods_addr: number;
  /** a.out symbol table or ELF section header table (16 bytes). */
  syms: Uint8Array;
  /** Byte length of the memory map buffer. */
  mmap_length: number;
  /** Physical address of the memory map buffer (the first entry's size field). */
  mmap_addr: number;
  /** Byte length of the drive structures. */
  drives_length: number;
  /** Physical address of the first drive structure. */
  drives_addr: number;
  /** ROM configuration table. */
  config_table: number;
  /** Physical address of the NUL-terminated boot loader name. */
  boot_loader_name: number;
  /** APM table. */
  apm_table: number;
  /** VBE control information. */
  vbe_control_info: number;
  /** VBE mode information. */
  vbe_mode_info: number;
  /** Current VBE mode. */
  vbe_mode: number;
  /** VBE 3.0 protected-mode interface segment. */
  vbe_interface_seg: number;
  /** VBE protected-mode interface offset. */
  vbe_interface_off: number;
  /** VBE protected-mode interface length. */
  vbe_interface_len: number;
  /** Framebuffer physical address. */
  framebuffer_addr: bigint;
  /** Bytes per framebuffer line. */
  framebuffer_pitch: number;
  /** Framebuffer width in pixels (or characters). */
  framebuffer_width: number;
  /** Framebuffer height in pixels (or characters). */
  framebuffer_height: number;
  /** Bits per pixel. */
  framebuffer_bpp: number;
  /** 0 indexed, 1 RGB, 2 EGA text. */
  framebuffer_type: number;
  /** Palette or channel layout (6 bytes). */
  color_info: Uint8Array;
}

/**
 * Layout of {@linkcode MultibootInfo}: 116 bytes on i386 (the 64-bit framebuffer_addr is 4-byte aligned).
 *
 * @example
 * ```ts
 * import { MULTIBOOT_INFO } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_INFO.size, MULTIBOOT_INFO.offsetOf("mmap_addr")); // 116 48
 * ```
 */
export const MULTIBOOT_INFO: Struct<MultibootInfo> = new Struct<MultibootInfo>("multiboot_info", 116, [
  ["flags", 0, "u32"],
  ["mem_lower", 4, "u32"],
  ["mem_upper", 8, "u32"],
  ["boot_device", 12, "u32"],
  ["cmdline", 16, "u32"],
  ["mods_count", 20, "u32"],
  ["mods_addr", 24, "u32"],
  ["syms", 28, { bytes: 16 }],
  ["mmap_length", 44, "u32"],
  ["mmap_addr", 48, "u32"],
  ["drives_length", 52, "u32"],
  ["drives_addr", 56, "u32"],
  ["config_table", 60, "u32"],
  ["boot_loader_name", 64, "u32"],
  ["apm_table", 68, "u32"],
  ["vbe_control_info", 72, "u32"],
  ["vbe_mode_info", 76, "u32"],
  ["vbe_mode", 80, "u16"],
  ["vbe_interface_seg", 82, "u16"],
  ["vbe_interface_off", 84, "u16"],
  ["vbe_interface_len", 86, "u16"],
  ["framebuffer_addr", 88, "u64"],
  ["framebuffer_pitch", 96, "u32"],
  ["framebuffer_width", 100, "u32"],
  ["framebuffer_height", 104, "u32"],
  ["framebuffer_bpp", 108, "u8"],
  ["framebuffer_type", 109, "u8"],
  ["color_info", 110, { bytes: 6 }],
]);

/**
 * One memory map entry (`struct multiboot_mmap_entry`, packed). `size` counts the bytes after itself, so
 * "the next pair starts at size + 4": 20 for this layout.
 */
export interface MultibootMmapEntry {
  /** Bytes of the entry after this field. */
  size: number;
  /** First physical address. */
  addr: bigint;
  /** Length in bytes. */
  len: bigint;
  /** MULTIBOOT_MEMORY_*. */
  type: number;
}

/**
 * Layout of {@linkcode MultibootMmapEntry}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MMAP_ENTRY } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MMAP_ENTRY.size, MULTIBOOT_MMAP_ENTRY.offsetOf("type")); // 24 20
 * ```
 */
export const MULTIBOOT_MMAP_ENTRY: Struct<MultibootMmapEntry> = new Struct<MultibootMmapEntry>(
  "multiboot_mmap_entry",
  24,
  [
    ["size", 0, "u32"],
    ["addr", 4, "u64"],
    ["len", 12, "u64"],
    ["type", 20, "u32"],
  ],
);

/**
 * The value of {@linkcode MultibootMmapEntry.size} for the entries this library writes.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MMAP_ENTRY_SIZE_FIELD } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MMAP_ENTRY_SIZE_FIELD); // 20
 * ```
 */
export const MULTIBOOT_MMAP_ENTRY_SIZE_FIELD = MULTIBOOT_MMAP_ENTRY.size - 4;

/** One boot module (`struct multiboot_mod_list`). */
export interface MultibootModule {
  /** First byte of the module. */
  mod_start: number;
  /** One past the last byte of the module. */
  mod_end: number;
  /** Physical address of the module's NUL-terminated string. */
  cmdline: number;
  /** Zero. */
  pad: number;
}

/**
 * Layout of {@linkcode MultibootModule}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_MODULE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_MODULE.size); // 16
 * ```
 */
export const MULTIBOOT_MODULE: Struct<MultibootModule> = new Struct<MultibootModule>("multiboot_mod_list", 16, [
  ["mod_start", 0, "u32"],
  ["mod_end", 4, "u32"],
  ["cmdline", 8, "u32"],
  ["pad", 12, "u32"],
]);

// ---------------------------------------------------------------------------------------------------
// Multiboot2: the OS image header (spec 3.1)
// ---------------------------------------------------------------------------------------------------

/**
 * The magic number of a Multiboot2 header.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_MAGIC.toString(16)); // e85250d6
 * ```
 */
export const MULTIBOOT2_HEADER_MAGIC = 0xe85250d6;
/**
 * EAX at entry: "must contain the magic value 0x36d76289" (spec 3.3).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_BOOTLOADER_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_BOOTLOADER_MAGIC.toString(16)); // 36d76289
 * ```
 */
export const MULTIBOOT2_BOOTLOADER_MAGIC = 0x36d76289;
/**
 * "The Multiboot2 header must be contained completely within the first 32768 bytes of the OS image."
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_SEARCH } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_SEARCH.toString(16)); // 8000
 * ```
 */
export const MULTIBOOT2_SEARCH = 32768;
/**
 * "... and must be 64-bit aligned."
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_ALIGN); // 8
 * ```
 */
export const MULTIBOOT2_HEADER_ALIGN = 8;
/**
 * Header tags and boot information tags are padded to 8 bytes.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_ALIGN); // 8
 * ```
 */
export const MULTIBOOT2_TAG_ALIGN = 8;
/**
 * architecture 0: "32-bit (protected) mode of i386".
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_ARCHITECTURE_I386 } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_ARCHITECTURE_I386); // 0
 * ```
 */
export const MULTIBOOT2_ARCHITECTURE_I386 = 0;
/**
 * architecture 4: "32-bit MIPS".
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_ARCHITECTURE_MIPS32 } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_ARCHITECTURE_MIPS32); // 4
 * ```
 */
export const MULTIBOOT2_ARCHITECTURE_MIPS32 = 4;
/**
 * Header tag flags bit 0: "the bootloader may ignore this tag if it lacks relevant support".
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_OPTIONAL } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_OPTIONAL); // 1
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_OPTIONAL = 1;

/**
 * Header tag type 0: end of the tag list (size 8).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_END } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_END); // 0
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_END = 0;
/**
 * Header tag type 1: information request.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_INFORMATION_REQUEST } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_INFORMATION_REQUEST); // 1
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_INFORMATION_REQUEST = 1;
/**
 * Header tag type 2: address (the a.out kludge of Multiboot2).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_ADDRESS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_ADDRESS); // 2
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_ADDRESS = 2;
/**
 * Header tag type 3: entry address.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS); // 3
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS = 3;
/**
 * Header tag type 4: console flags.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_CONSOLE_FLAGS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_CONSOLE_FLAGS); // 4
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_CONSOLE_FLAGS = 4;
/**
 * Header tag type 5: framebuffer.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_FRAMEBUFFER } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_FRAMEBUFFER); // 5
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_FRAMEBUFFER = 5;
/**
 * Header tag type 6: module alignment (modules page aligned).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_MODULE_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_MODULE_ALIGN); // 6
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_MODULE_ALIGN = 6;
/**
 * Header tag type 7: EFI boot services.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_EFI_BS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_EFI_BS); // 7
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_EFI_BS = 7;
/**
 * Header tag type 8: EFI i386 entry address.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS_EFI32 } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS_EFI32); // 8
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS_EFI32 = 8;
/**
 * Header tag type 9: EFI amd64 entry address.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS_EFI64 } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS_EFI64); // 9
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS_EFI64 = 9;
/**
 * Header tag type 10: relocatable.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG_RELOCATABLE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG_RELOCATABLE); // 10
 * ```
 */
export const MULTIBOOT2_HEADER_TAG_RELOCATABLE = 10;

/** The fixed part of a Multiboot2 header (`struct multiboot_header`). */
export interface Multiboot2Header {
  /** {@linkcode MULTIBOOT2_HEADER_MAGIC}. */
  magic: number;
  /** CPU instruction set architecture. */
  architecture: number;
  /** Length of the header in bytes, tags included. */
  header_length: number;
  /** magic + architecture + header_length + checksum == 0 (mod 2^32). */
  checksum: number;
}

/**
 * Layout of {@linkcode Multiboot2Header}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER.size); // 16
 * ```
 */
export const MULTIBOOT2_HEADER: Struct<Multiboot2Header> = new Struct<Multiboot2Header>("multiboot_header", 16, [
  ["magic", 0, "u32"],
  ["architecture", 4, "u32"],
  ["header_length", 8, "u32"],
  ["checksum", 12, "u32"],
]);

/** The common start of every header tag (`struct multiboot_header_tag`). */
export interface Multiboot2HeaderTag {
  /** MULTIBOOT2_HEADER_TAG_*. */
  type: number;
  /** Bit 0: optional. */
  flags: number;
  /** Size of the tag in bytes, without the padding to 8. */
  size: number;
}

/**
 * Layout of {@linkcode Multiboot2HeaderTag}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_HEADER_TAG } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_HEADER_TAG.offsetOf("size")); // 4
 * ```
 */
export const MULTIBOOT2_HEADER_TAG: Struct<Multiboot2HeaderTag> = new Struct<Multiboot2HeaderTag>(
  "multiboot_header_tag",
  8,
  [
    ["type", 0, "u16"],
    ["flags", 2, "u16"],
    ["size", 4, "u32"],
  ],
);

/** Address header tag (`struct multiboot_header_tag_address`), type 2. */
export interface Multiboot2AddressTag extends Multiboot2HeaderTag {
  /** Physical address of the Multiboot2 header's magic. */
  header_addr: number;
  /** Physical address of the start of the text segment; 0xffffffff: load the file from its beginning. */
  load_addr: number;
  /** Physical address of the end of the data segment; 0 means the whole file. */
  load_end_addr: number;
  /** Physical address of the end of the bss; 0 means no bss. */
  bss_end_addr: number;
}

/**
 * Layout of {@linkcode Multiboot2AddressTag}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_ADDRESS_TAG } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_ADDRESS_TAG.size); // 24
 * ```
 */
export const MULTIBOOT2_ADDRESS_TAG: Struct<Multiboot2AddressTag> = new Struct<Multiboot2AddressTag>(
  "multiboot_header_tag_address",
  24,
  [
    ["type", 0, "u16"],
    ["flags", 2, "u16"],
    ["size", 4, "u32"],
    ["header_addr", 8, "u32"],
    ["load_addr", 12, "u32"],
    ["load_end_addr", 16, "u32"],
    ["bss_end_addr", 20, "u32"],
  ],
);

/**
 * Address tag load_addr value -1: "the file must be loaded from its beginning".
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_LOAD_FROM_FILE_START } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_LOAD_FROM_FILE_START.toString(16)); // ffffffff
 * ```
 */
export const MULTIBOOT2_LOAD_FROM_FILE_START = 0xffff_ffff;

/** Entry address header tag (`struct multiboot_header_tag_entry_address`), type 3. */
export interface Multiboot2EntryAddressTag extends Multiboot2HeaderTag {
  /** Physical address to jump to. */
  entry_addr: number;
}

/**
 * Layout of {@linkcode Multiboot2EntryAddressTag}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_ENTRY_ADDRESS_TAG } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_ENTRY_ADDRESS_TAG.size); // 12
 * ```
 */
export const MULTIBOOT2_ENTRY_ADDRESS_TAG: Struct<Multiboot2EntryAddressTag> = new Struct<Multiboot2EntryAddressTag>(
  "multiboot_header_tag_entry_address",
  12,
  [
    ["type", 0, "u16"],
    ["flags", 2, "u16"],
    ["size", 4, "u32"],
    ["entry_addr", 8, "u32"],
  ],
);

/**
 * Size of a module alignment tag (type 6): the common part only.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_MODULE_ALIGN_TAG_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_MODULE_ALIGN_TAG_SIZE); // 8
 * ```
 */
export const MULTIBOOT2_MODULE_ALIGN_TAG_SIZE = 8;
/**
 * Size of an end tag (type 0).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_END_TAG_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_END_TAG_SIZE); // 8
 * ```
 */
export const MULTIBOOT2_END_TAG_SIZE = 8;
/**
 * Bytes of each entry of an information request tag's mbi_tag_types array.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_INFO_REQUEST_ENTRY_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_INFO_REQUEST_ENTRY_SIZE); // 4
 * ```
 */
export const MULTIBOOT2_INFO_REQUEST_ENTRY_SIZE = 4;

// ---------------------------------------------------------------------------------------------------
// Multiboot2: the boot information (spec 3.6)
// ---------------------------------------------------------------------------------------------------

/**
 * Boot information tag type 0: end (size 8).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_END } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_END); // 0
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_END = 0;
/**
 * Type 1: boot command line.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_CMDLINE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_CMDLINE); // 1
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_CMDLINE = 1;
/**
 * Type 2: boot loader name.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_BOOT_LOADER_NAME } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_BOOT_LOADER_NAME); // 2
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_BOOT_LOADER_NAME = 2;
/**
 * Type 3: module.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_MODULE } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_MODULE); // 3
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_MODULE = 3;
/**
 * Type 4: basic memory information.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_BASIC_MEMINFO } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_BASIC_MEMINFO); // 4
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_BASIC_MEMINFO = 4;
/**
 * Type 5: BIOS boot device.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_BOOTDEV } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_BOOTDEV); // 5
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_BOOTDEV = 5;
/**
 * Type 6: memory map.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_MMAP } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_MMAP); // 6
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_MMAP = 6;
/**
 * The highest boot information tag type the 2.0 specification defines (21: image load base address).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG_TYPE_MAX_KNOWN } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG_TYPE_MAX_KNOWN); // 21
 * ```
 */
export const MULTIBOOT2_TAG_TYPE_MAX_KNOWN = 21;

/** The fixed start of the boot information (`total_size`, `reserved`). */
export interface Multiboot2InfoHeader {
  /** Size of the whole structure, end tag included. */
  total_size: number;
  /** Zero. */
  reserved: number;
}

/**
 * Layout of {@linkcode Multiboot2InfoHeader}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_INFO_HEADER } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_INFO_HEADER.size); // 8
 * ```
 */
export const MULTIBOOT2_INFO_HEADER: Struct<Multiboot2InfoHeader> = new Struct<Multiboot2InfoHeader>(
  "multiboot2_info",
  8,
  [
    ["total_size", 0, "u32"],
    ["reserved", 4, "u32"],
  ],
);

/** The common start of every boot information tag (`struct multiboot_tag`). */
export interface Multiboot2Tag {
  /** MULTIBOOT2_TAG_TYPE_*. */
  type: number;
  /** Size of the tag without the padding to 8. */
  size: number;
}

/**
 * Layout of {@linkcode Multiboot2Tag}; a string tag (cmdline, boot loader name) is this plus the string.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_TAG } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_TAG.size); // 8
 * ```
 */
export const MULTIBOOT2_TAG: Struct<Multiboot2Tag> = new Struct<Multiboot2Tag>("multiboot_tag", 8, [
  ["type", 0, "u32"],
  ["size", 4, "u32"],
]);

/** Module tag (`struct multiboot_tag_module`): this plus the module's NUL-terminated string. */
export interface Multiboot2ModuleTag extends Multiboot2Tag {
  /** First byte of the module. */
  mod_start: number;
  /** One past the last byte of the module. */
  mod_end: number;
}

/**
 * Layout of {@linkcode Multiboot2ModuleTag} (the string follows at offset 16).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_MODULE_TAG } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_MODULE_TAG.size); // 16
 * ```
 */
export const MULTIBOOT2_MODULE_TAG: Struct<Multiboot2ModuleTag> = new Struct<Multiboot2ModuleTag>(
  "multiboot_tag_module",
  16,
  [
    ["type", 0, "u32"],
    ["size", 4, "u32"],
    ["mod_start", 8, "u32"],
    ["mod_end", 12, "u32"],
  ],
);

/** Basic memory information tag (`struct multiboot_tag_basic_meminfo`). */
export interface Multiboot2BasicMeminfoTag extends Multiboot2Tag {
  /** KiB of memory from 0, at most 640. */
  mem_lower: number;
  /** KiB of memory from 1 MiB up to the first hole. */
  mem_upper: number;
}

/**
 * Layout of {@linkcode Multiboot2BasicMeminfoTag}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_BASIC_MEMINFO_TAG } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_BASIC_MEMINFO_TAG.size); // 16
 * ```
 */
export const MULTIBOOT2_BASIC_MEMINFO_TAG: Struct<Multiboot2BasicMeminfoTag> = new Struct<Multiboot2BasicMeminfoTag>(
  "multiboot_tag_basic_meminfo",
  16,
  [
    ["type", 0, "u32"],
    ["size", 4, "u32"],
    ["mem_lower", 8, "u32"],
    ["mem_upper", 12, "u32"],
  ],
);

/** Memory map tag (`struct multiboot_tag_mmap`): this header, then entry_size-byte entries. */
export interface Multiboot2MmapTag extends Multiboot2Tag {
  /** Bytes per entry: "guaranteed to be a multiple of 8". */
  entry_size: number;
  /** 0 for the layout of {@linkcode MULTIBOOT2_MMAP_ENTRY}. */
  entry_version: number;
}

/**
 * Layout of {@linkcode Multiboot2MmapTag} (entries follow at offset 16).
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_MMAP_TAG } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_MMAP_TAG.size); // 16
 * ```
 */
export const MULTIBOOT2_MMAP_TAG: Struct<Multiboot2MmapTag> = new Struct<Multiboot2MmapTag>("multiboot_tag_mmap", 16, [
  ["type", 0, "u32"],
  ["size", 4, "u32"],
  ["entry_size", 8, "u32"],
  ["entry_version", 12, "u32"],
]);

/** One Multiboot2 memory map entry (`struct multiboot_mmap_entry` of multiboot2.h). */
export interface Multiboot2MmapEntry {
  /** First physical address. */
  base_addr: bigint;
  /** Length in bytes. */
  length: bigint;
  /** MULTIBOOT_MEMORY_* (the same values as Multiboot 1). */
  type: number;
  /** Zero. */
  reserved: number;
}

/**
 * Layout of {@linkcode Multiboot2MmapEntry}.
 *
 * @example
 * ```ts
 * import { MULTIBOOT2_MMAP_ENTRY } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT2_MMAP_ENTRY.size); // 24
 * ```
 */
export const MULTIBOOT2_MMAP_ENTRY: Struct<Multiboot2MmapEntry> = new Struct<Multiboot2MmapEntry>(
  "multiboot2_mmap_entry",
  24,
  [
    ["base_addr", 0, "u64"],
    ["length", 8, "u64"],
    ["type", 16, "u32"],
    ["reserved", 20, "u32"],
  ],
);

/**
 * The highest 32-bit physical address plus one: every Multiboot address and range must stay below it.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_ADDRESS_LIMIT } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_ADDRESS_LIMIT.toString(16)); // 100000000
 * ```
 */
export const MULTIBOOT_ADDRESS_LIMIT = 0x1_0000_0000;
