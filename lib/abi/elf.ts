/**
 * The ELF64 structures a kernel loader reads, as in `<elf.h>` (System V gABI, "ELF-64 Object File
 * Format"), and the constants it checks. Field names keep their C spelling; `tests/abi/layout_test.ts`
 * checks every offset and size against the C header.
 *
 * @module
 */

import { Struct } from "./struct.ts";

/** `Elf64_Ehdr`: the file header. */
export interface Elf64Ehdr {
  /** Identification bytes: magic, class, data encoding, version, OS ABI. */
  e_ident: Uint8Array;
  /** Object file type (ET_EXEC, ...). */
  e_type: number;
  /** Architecture ({@linkcode EM_X86_64}, ...). */
  e_machine: number;
  /** Object file version. */
  e_version: number;
  /** Entry point address. */
  e_entry: bigint;
  /** File offset of the program header table. */
  e_phoff: bigint;
  /** File offset of the section header table. */
  e_shoff: bigint;
  /** Processor-specific flags. */
  e_flags: number;
  /** Size of this header. */
  e_ehsize: number;
  /** Size of one program header. */
  e_phentsize: number;
  /** Number of program headers. */
  e_phnum: number;
  /** Size of one section header. */
  e_shentsize: number;
  /** Number of section headers. */
  e_shnum: number;
  /** Section header index of the section name string table. */
  e_shstrndx: number;
}

// Size of e_ident (EI_NIDENT in elf.h).
const EI_NIDENT = 16;

// e_ident's 16 bytes, copied (a byte loop into a small array beats slice(), which goes through the species).
function identCopy(dv: DataView, b: number): Uint8Array {
  const out = new Uint8Array(EI_NIDENT);
  for (let i = 0; i < EI_NIDENT; i++) out[i] = dv.getUint8(b + i);
  return out;
}

/**
 * Field table of `Elf64_Ehdr` (64 bytes).
 *
 * @example
 * ```ts
 * import { ELF64_EHDR } from "@linux-loader/linux-loader/abi";
 * console.log(ELF64_EHDR.size, ELF64_EHDR.offsetOf("e_phoff")); // 64 32
 * ```
 */
export const ELF64_EHDR: Struct<Elf64Ehdr> = new Struct<Elf64Ehdr>("Elf64_Ehdr", 64, [
  ["e_ident", 0, { bytes: 16 }],
  ["e_type", 16, "u16"],
  ["e_machine", 18, "u16"],
  ["e_version", 20, "u32"],
  ["e_entry", 24, "u64"],
  ["e_phoff", 32, "u64"],
  ["e_shoff", 40, "u64"],
  ["e_flags", 48, "u32"],
  ["e_ehsize", 52, "u16"],
  ["e_phentsize", 54, "u16"],
  ["e_phnum", 56, "u16"],
  ["e_shentsize", 58, "u16"],
  ["e_shnum", 60, "u16"],
  ["e_shstrndx", 62, "u16"],
], (dv, b) => ({
  e_ident: identCopy(dv, b),
  e_type: dv.getUint16(b + 16, true),
  e_machine: dv.getUint16(b + 18, true),
  e_version: dv.getUint32(b + 20, true),
  e_entry: dv.getBigUint64(b + 24, true),
  e_phoff: dv.getBigUint64(b + 32, true),
  e_shoff: dv.getBigUint64(b + 40, true),
  e_flags: dv.getUint32(b + 48, true),
  e_ehsize: dv.getUint16(b + 52, true),
  e_phentsize: dv.getUint16(b + 54, true),
  e_phnum: dv.getUint16(b + 56, true),
  e_shentsize: dv.getUint16(b + 58, true),
  e_shnum: dv.getUint16(b + 60, true),
  e_shstrndx: dv.getUint16(b + 62, true),
}));

/** `Elf64_Phdr`: one program header (a segment). */
export interface Elf64Phdr {
  /** Segment type ({@linkcode PT_LOAD}, {@linkcode PT_NOTE}, ...). */
  p_type: number;
  /** Segment flags (PF_R, PF_W, PF_X). */
  p_flags: number;
  /** File offset of the segment. */
  p_offset: bigint;
  /** Virtual address. */
  p_vaddr: bigint;
  /** Physical address: where a kernel loader places the segment. */
  p_paddr: bigint;
  /** Bytes of the segment in the file. */
  p_filesz: bigint;
  /** Bytes of the segment in memory; the part past `p_filesz` is zero (bss). */
  p_memsz: bigint;
  /** Alignment. */
  p_align: bigint;
}

/**
 * Field table of `Elf64_Phdr` (56 bytes).
 *
 * @example
 * ```ts
 * import { ELF64_PHDR } from "@linux-loader/linux-loader/abi";
 * console.log(ELF64_PHDR.size, ELF64_PHDR.offsetOf("p_paddr")); // 56 24
 * ```
 */
export const ELF64_PHDR: Struct<Elf64Phdr> = new Struct<Elf64Phdr>("Elf64_Phdr", 56, [
  ["p_type", 0, "u32"],
  ["p_flags", 4, "u32"],
  ["p_offset", 8, "u64"],
  ["p_vaddr", 16, "u64"],
  ["p_paddr", 24, "u64"],
  ["p_filesz", 32, "u64"],
  ["p_memsz", 40, "u64"],
  ["p_align", 48, "u64"],
], (dv, b) => ({
  p_type: dv.getUint32(b, true),
  p_flags: dv.getUint32(b + 4, true),
  p_offset: dv.getBigUint64(b + 8, true),
  p_vaddr: dv.getBigUint64(b + 16, true),
  p_paddr: dv.getBigUint64(b + 24, true),
  p_filesz: dv.getBigUint64(b + 32, true),
  p_memsz: dv.getBigUint64(b + 40, true),
  p_align: dv.getBigUint64(b + 48, true),
}));

/** `Elf64_Nhdr`: the header of one note; the name and the descriptor follow, each padded. */
export interface Elf64Nhdr {
  /** Length of the name, including its NUL. */
  n_namesz: number;
  /** Length of the descriptor. */
  n_descsz: number;
  /** Note type (meaning depends on the name). */
  n_type: number;
}

/**
 * Field table of `Elf64_Nhdr` (12 bytes).
 *
 * @example
 * ```ts
 * import { ELF64_NHDR } from "@linux-loader/linux-loader/abi";
 * console.log(ELF64_NHDR.size); // 12
 * ```
 */
export const ELF64_NHDR: Struct<Elf64Nhdr> = new Struct<Elf64Nhdr>(
  "Elf64_Nhdr",
  12,
  [
    ["n_namesz", 0, "u32"],
    ["n_descsz", 4, "u32"],
    ["n_type", 8, "u32"],
  ],
  (dv, b) => ({
    n_namesz: dv.getUint32(b, true),
    n_descsz: dv.getUint32(b + 4, true),
    n_type: dv.getUint32(b + 8, true),
  }),
);

/**
 * The four magic bytes at the start of every ELF file: 0x7f 'E' 'L' 'F'.
 *
 * @example
 * ```ts
 * import { ELFMAG } from "@linux-loader/linux-loader/abi";
 * console.log(ELFMAG); // Uint8Array(4) [ 127, 69, 76, 70 ]
 * ```
 */
export const ELFMAG: Uint8Array = new Uint8Array([0x7f, 0x45, 0x4c, 0x46]);
/**
 * Number of magic bytes.
 *
 * @example
 * ```ts
 * import { SELFMAG } from "@linux-loader/linux-loader/abi";
 * console.log(SELFMAG); // 4
 * ```
 */
export const SELFMAG = 4;
/**
 * `e_ident` index of the file class.
 *
 * @example
 * ```ts
 * import { EI_CLASS } from "@linux-loader/linux-loader/abi";
 * console.log(EI_CLASS); // 4
 * ```
 */
export const EI_CLASS = 4;
/**
 * `e_ident` index of the data encoding.
 *
 * @example
 * ```ts
 * import { EI_DATA } from "@linux-loader/linux-loader/abi";
 * console.log(EI_DATA); // 5
 * ```
 */
export const EI_DATA = 5;
/**
 * `e_ident` index of the ELF version.
 *
 * @example
 * ```ts
 * import { EI_VERSION } from "@linux-loader/linux-loader/abi";
 * console.log(EI_VERSION); // 6
 * ```
 */
export const EI_VERSION = 6;
/**
 * Class: 32-bit objects.
 *
 * @example
 * ```ts
 * import { ELFCLASS32 } from "@linux-loader/linux-loader/abi";
 * console.log(ELFCLASS32); // 1
 * ```
 */
export const ELFCLASS32 = 1;
/**
 * Class: 64-bit objects.
 *
 * @example
 * ```ts
 * import { ELFCLASS64 } from "@linux-loader/linux-loader/abi";
 * console.log(ELFCLASS64); // 2
 * ```
 */
export const ELFCLASS64 = 2;
/**
 * Data encoding: little endian.
 *
 * @example
 * ```ts
 * import { ELFDATA2LSB } from "@linux-loader/linux-loader/abi";
 * console.log(ELFDATA2LSB); // 1
 * ```
 */
export const ELFDATA2LSB = 1;
/**
 * Data encoding: big endian.
 *
 * @example
 * ```ts
 * import { ELFDATA2MSB } from "@linux-loader/linux-loader/abi";
 * console.log(ELFDATA2MSB); // 2
 * ```
 */
export const ELFDATA2MSB = 2;
/**
 * Current ELF version.
 *
 * @example
 * ```ts
 * import { EV_CURRENT } from "@linux-loader/linux-loader/abi";
 * console.log(EV_CURRENT); // 1
 * ```
 */
export const EV_CURRENT = 1;
/**
 * Object type: executable.
 *
 * @example
 * ```ts
 * import { ET_EXEC } from "@linux-loader/linux-loader/abi";
 * console.log(ET_EXEC); // 2
 * ```
 */
export const ET_EXEC = 2;
/**
 * Machine: AMD x86-64.
 *
 * @example
 * ```ts
 * import { EM_X86_64 } from "@linux-loader/linux-loader/abi";
 * console.log(EM_X86_64); // 62
 * ```
 */
export const EM_X86_64 = 62;
/**
 * Machine: Intel 80386.
 *
 * @example
 * ```ts
 * import { EM_386 } from "@linux-loader/linux-loader/abi";
 * console.log(EM_386); // 3
 * ```
 */
export const EM_386 = 3;

/**
 * Segment type: unused entry.
 *
 * @example
 * ```ts
 * import { PT_NULL } from "@linux-loader/linux-loader/abi";
 * console.log(PT_NULL); // 0
 * ```
 */
export const PT_NULL = 0;
/**
 * Segment type: loadable.
 *
 * @example
 * ```ts
 * import { PT_LOAD } from "@linux-loader/linux-loader/abi";
 * console.log(PT_LOAD); // 1
 * ```
 */
export const PT_LOAD = 1;
/**
 * Segment type: notes.
 *
 * @example
 * ```ts
 * import { PT_NOTE } from "@linux-loader/linux-loader/abi";
 * console.log(PT_NOTE); // 4
 * ```
 */
export const PT_NOTE = 4;
/**
 * Segment flag: executable.
 *
 * @example
 * ```ts
 * import { PF_X } from "@linux-loader/linux-loader/abi";
 * console.log(PF_X); // 1
 * ```
 */
export const PF_X = 1;
/**
 * Segment flag: writable.
 *
 * @example
 * ```ts
 * import { PF_W } from "@linux-loader/linux-loader/abi";
 * console.log(PF_W); // 2
 * ```
 */
export const PF_W = 2;
/**
 * Segment flag: readable.
 *
 * @example
 * ```ts
 * import { PF_R } from "@linux-loader/linux-loader/abi";
 * console.log(PF_R); // 4
 * ```
 */
export const PF_R = 4;

/**
 * Note alignment of the Linux kernel's notes: names and descriptors are padded to 4 bytes in ELF64 files
 * too (`include/linux/elfnote.h` emits `.balign 4`), whatever the segment's `p_align` says.
 *
 * @example
 * ```ts
 * import { ELFNOTE_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(ELFNOTE_ALIGN); // 4
 * ```
 */
export const ELFNOTE_ALIGN = 4;
/**
 * Xen note type whose descriptor is the 32-bit physical PVH entry point.
 *
 * @example
 * ```ts
 * import { XEN_ELFNOTE_PHYS32_ENTRY } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_ELFNOTE_PHYS32_ENTRY); // 18
 * ```
 */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/**
 * Name of the Xen notes, NUL included.
 *
 * @example
 * ```ts
 * import { XEN_NOTE_NAME } from "@linux-loader/linux-loader/abi";
 * console.log(XEN_NOTE_NAME); // Uint8Array(4) [ 88, 101, 110, 0 ]
 * ```
 */
export const XEN_NOTE_NAME: Uint8Array = new Uint8Array([0x58, 0x65, 0x6e, 0x00]); // "Xen\0"
/**
 * Note type NT_GNU_BUILD_ID (name "GNU").
 *
 * @example
 * ```ts
 * import { NT_GNU_BUILD_ID } from "@linux-loader/linux-loader/abi";
 * console.log(NT_GNU_BUILD_ID); // 3
 * ```
 */
export const NT_GNU_BUILD_ID = 3;
/**
 * Note type NT_VERSION.
 *
 * @example
 * ```ts
 * import { NT_VERSION } from "@linux-loader/linux-loader/abi";
 * console.log(NT_VERSION); // 1
 * ```
 */
export const NT_VERSION = 1;

// ---------------------------------------------------------------------------------------------------
// ELF32 (i386): what a Multiboot kernel without the address fields is loaded from. The identification
// and type constants above serve both classes.
// ---------------------------------------------------------------------------------------------------

/** The ELF32 file header (`Elf32_Ehdr`). */
export interface Elf32Ehdr {
  /** Magic, class, data encoding, version, ABI and padding. */
  e_ident: Uint8Array;
  /** Object file type. */
  e_type: number;
  /** Architecture. */
  e_machine: number;
  /** Object file version. */
  e_version: number;
  /** Entry point (virtual address). */
  e_entry: number;
  /** File offset of the program header table. */
  e_phoff: number;
  /** File offset of the section header table. */
  e_shoff: number;
  /** Processor-specific flags. */
  e_flags: number;
  /** Size of this header. */
  e_ehsize: number;
  /** Size of one program header. */
  e_phentsize: number;
  /** Number of program headers. */
  e_phnum: number;
  /** Size of one section header. */
  e_shentsize: number;
  /** Number of section headers. */
  e_shnum: number;
  /** Section header string table index. */
  e_shstrndx: number;
}

/**
 * Layout of {@linkcode Elf32Ehdr}.
 *
 * @example
 * ```ts
 * import { ELF32_EHDR } from "@linux-loader/linux-loader/abi";
 * console.log(ELF32_EHDR.size, ELF32_EHDR.offsetOf("e_phoff")); // 52 28
 * ```
 */
export const ELF32_EHDR: Struct<Elf32Ehdr> = new Struct<Elf32Ehdr>("Elf32_Ehdr", 52, [
  ["e_ident", 0, { bytes: 16 }],
  ["e_type", 16, "u16"],
  ["e_machine", 18, "u16"],
  ["e_version", 20, "u32"],
  ["e_entry", 24, "u32"],
  ["e_phoff", 28, "u32"],
  ["e_shoff", 32, "u32"],
  ["e_flags", 36, "u32"],
  ["e_ehsize", 40, "u16"],
  ["e_phentsize", 42, "u16"],
  ["e_phnum", 44, "u16"],
  ["e_shentsize", 46, "u16"],
  ["e_shnum", 48, "u16"],
  ["e_shstrndx", 50, "u16"],
]);

/** One ELF32 program header (`Elf32_Phdr`). */
export interface Elf32Phdr {
  /** Segment type. */
  p_type: number;
  /** File offset of the segment's bytes. */
  p_offset: number;
  /** Virtual address. */
  p_vaddr: number;
  /** Physical address (where a Multiboot loader puts the segment). */
  p_paddr: number;
  /** Bytes in the file. */
  p_filesz: number;
  /** Bytes in memory (the rest is zero-filled). */
  p_memsz: number;
  /** Permissions. */
  p_flags: number;
  /** Alignment. */
  p_align: number;
}

/**
 * Layout of {@linkcode Elf32Phdr}.
 *
 * @example
 * ```ts
 * import { ELF32_PHDR } from "@linux-loader/linux-loader/abi";
 * console.log(ELF32_PHDR.size, ELF32_PHDR.offsetOf("p_paddr")); // 32 12
 * ```
 */
export const ELF32_PHDR: Struct<Elf32Phdr> = new Struct<Elf32Phdr>("Elf32_Phdr", 32, [
  ["p_type", 0, "u32"],
  ["p_offset", 4, "u32"],
  ["p_vaddr", 8, "u32"],
  ["p_paddr", 12, "u32"],
  ["p_filesz", 16, "u32"],
  ["p_memsz", 20, "u32"],
  ["p_flags", 24, "u32"],
  ["p_align", 28, "u32"],
]);
