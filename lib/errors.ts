/**
 * Typed errors, one class per area. Each carries a `code` from a closed string union (the Rust crate
 * rust-vmm/linux-loader's enum variants keep their names, our own additions sit beside them) and, where
 * it applies, the offending `field`, its `value` and the `limit` it broke, so a caller can branch on
 * `err.code` and a person can read `err.message`.
 *
 * @module
 */

/** Extra facts an error carries: which field, what value, which limit. */
export interface ErrorDetails {
  /** Name of the header field, option or argument at fault (C spelling for struct fields). */
  field?: string;
  /** The offending value. */
  value?: number | bigint | string;
  /** The limit the value broke (an end address, a maximum size, an expected magic). */
  limit?: number | bigint | string;
  /** The underlying error, when one caused this one. */
  cause?: unknown;
}

/**
 * Base class of every error this library throws. `code` is the machine-readable variant.
 *
 * @example Branch on the code
 * ```ts
 * import { GuestMemory, LinuxLoaderError } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x1000]]);
 * try {
 *   mem.write(0xfff, new Uint8Array(2));
 * } catch (e) {
 *   if (e instanceof LinuxLoaderError) console.log(e.code); // "OutOfRange"
 * }
 * ```
 */
export class LinuxLoaderError<C extends string = string> extends Error {
  /** The variant, e.g. `"InvalidElfMagicNumber"`. */
  readonly code: C;
  /** Field at fault, if any. */
  readonly field?: string;
  /** Offending value, if any. */
  readonly value?: number | bigint | string;
  /** Limit that was broken, if any. */
  readonly limit?: number | bigint | string;

  /** Builds an error with a code, a sentence and optional details. */
  constructor(code: C, message: string, details: ErrorDetails = {}) {
    details ??= {};
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    if (details.field !== undefined) this.field = details.field;
    if (details.value !== undefined) this.value = details.value;
    if (details.limit !== undefined) this.limit = details.limit;
  }
}

/**
 * Formats a guest address or size for messages: hexadecimal with a 0x prefix (a fraction, NaN or an
 * infinity prints as is).
 *
 * @example
 * ```ts
 * import { hex } from "@linux-loader/linux-loader";
 * console.log(hex(0x1f1), hex(-16), hex(2n ** 64n - 1n)); // 0x1f1 -0x10 0xffffffffffffffff
 * ```
 */
export function hex(n: number | bigint): string {
  // Messages name hostile values too: a fraction, NaN or an infinity prints as is (BigInt() would throw).
  if (typeof n === "number" && !Number.isInteger(n)) return String(n);
  if (typeof n !== "number" && typeof n !== "bigint") return describeThrown(n);
  return n < 0 ? `-0x${(-BigInt(n)).toString(16)}` : `0x${n.toString(16)}`;
}

/**
 * A one-line description of anything thrown or rejected, for messages: an `Error`'s message, else the value
 * as text. Never throws (a value whose `toString` throws is described by its type). Internal: `mod.ts` does
 * not re-export it.
 */
export function describeThrown(e: unknown): string {
  try {
    if (e instanceof Error) return String(e.message);
    return typeof e === "symbol" ? e.toString() : String(e);
  } catch {
    return `(a thrown ${typeof e})`;
  }
}

/** Codes of {@linkcode MemoryError}. */
export type MemoryErrorCode =
  /** A region has size zero. */
  | "ZeroSize"
  /** Two regions overlap. */
  | "RegionOverlap"
  /** A region's address plus size passes 2^53 (the largest exact JavaScript integer). */
  | "AddressOverflow"
  /** An address or length is negative, fractional or above 2^53. */
  | "InvalidAddress"
  /** A region's buffer is smaller than its declared size, or not a supported buffer type. */
  | "InvalidBuffer"
  /** An access touches a byte that no region holds. */
  | "OutOfRange"
  /** A zero-copy view was asked for a range that spans more than one region. */
  | "CrossesRegion"
  /** A region's buffer was detached (transferred, or a `WebAssembly.Memory` kept growing during a read). */
  | "BufferDetached"
  /** The platform could not allocate a buffer of the asked size. */
  | "AllocationFailed"
  /** A value to write is not an integer (or bigint) of the written type. */
  | "InvalidValue";

/**
 * Guest memory construction and access errors.
 *
 * @example
 * ```ts
 * import { GuestMemory, MemoryError } from "@linux-loader/linux-loader";
 * try {
 *   GuestMemory.fromRanges([[0, 0]]); // a region of zero bytes
 * } catch (e) {
 *   if (e instanceof MemoryError) console.log(e.code); // ZeroSize
 * }
 * ```
 */
export class MemoryError extends LinuxLoaderError<MemoryErrorCode> {}

/** Codes of {@linkcode SourceError}. */
export type SourceErrorCode =
  /** A read starts past the end of the source. */
  | "OffsetPastEnd"
  /** The source ended before the requested bytes were read. */
  | "ShortRead"
  /** The underlying file or blob failed to read. */
  | "ReadFailed"
  /** A 64-bit value does not fit in a safe integer. */
  | "UnsafeInteger"
  /** The value given as a source is not a `KernelSource` or a `Uint8Array` (or its `size` is no byte count). */
  | "InvalidSource"
  /**
   * The source failed or came up short while a validated plan was being copied; every byte the plan claims
   * was zeroed, no other byte was touched. The source's own error is the `cause`.
   */
  | "LoadInterrupted";

/**
 * Kernel source (file, blob, bytes) read errors.
 *
 * @example
 * ```ts
 * import { fromBytes, SourceError } from "@linux-loader/linux-loader";
 * try {
 *   await (await fromBytes(new Uint8Array(4))).readInto(8, new Uint8Array(1));
 * } catch (e) {
 *   if (e instanceof SourceError) console.log(e.code); // OffsetPastEnd
 * }
 * ```
 */
export class SourceError extends LinuxLoaderError<SourceErrorCode> {}

/** Codes of {@linkcode KernelLoaderError}: the crate's `loader::Error` plus our own. */
export type KernelLoaderErrorCode =
  /** The command line could not be turned into a C string. */
  | "InvalidCommandLine"
  /** Writing the command line to guest memory failed. */
  | "CommandLineCopy"
  /** The command line does not fit in guest memory at the given address. */
  | "CommandLineOverflow"
  /** The kernel start address is below the high memory start. */
  | "InvalidKernelStartAddress"
  /** Guest memory is too small for the kernel image. */
  | "MemoryOverflow"
  /** The image is of no format this library knows. */
  | "UnknownFormat"
  /** Two planned ranges overlap. */
  | "PlanOverlap"
  /** No guest memory range fits the initrd below its highest legal address and above the kernel. */
  | "InitrdDoesNotFit"
  /** A placement option given to a format it does not apply to (e.g. `imageBase` for a bzImage). */
  | "InvalidOption"
  /** The image is for another architecture than the `arch` option expects. */
  | "ArchMismatch"
  /** An address option is not aligned as the format requires (an Image's 2 MiB base). */
  | "InvalidBaseAddrAlignment"
  /** A plan is malformed: not a step list, an unknown step kind, a bad source offset or fill value. */
  | "InvalidPlan";

/**
 * Errors common to every loader (the crate's `loader::Error`).
 *
 * @example
 * ```ts
 * import { detectKernel, KernelLoaderError } from "@linux-loader/linux-loader";
 * try {
 *   await detectKernel(new Uint8Array(16)); // no kernel format
 * } catch (e) {
 *   if (e instanceof KernelLoaderError) console.log(e.code); // UnknownFormat
 * }
 * ```
 */
export class KernelLoaderError extends LinuxLoaderError<KernelLoaderErrorCode> {}

/** Codes of {@linkcode ElfError}: the crate's `elf::Error` plus our own. */
export type ElfErrorCode =
  | "Align"
  | "BigEndianElfOnLittle"
  | "InvalidElfMagicNumber"
  | "InvalidProgramHeaderSize"
  | "InvalidProgramHeaderOffset"
  | "InvalidProgramHeaderAddress"
  | "InvalidEntryAddress"
  | "Overflow"
  | "ReadElfHeader"
  | "ReadKernelImage"
  | "ReadProgramHeader"
  | "SeekKernelStart"
  | "SeekElfStart"
  | "SeekProgramHeader"
  | "SeekNoteHeader"
  | "ReadNoteHeader"
  | "InvalidPvhNote"
  /** Not a 64-bit ELF (EI_CLASS is not ELFCLASS64). */
  | "InvalidElfClass"
  /** e_machine is not the expected architecture. */
  | "InvalidMachine";

/**
 * ELF (vmlinux) loader errors.
 *
 * @example
 * ```ts
 * import { ElfError, GuestMemory, loadElf } from "@linux-loader/linux-loader";
 * try {
 *   await loadElf(GuestMemory.fromRanges([[0, 1 << 20]]), new Uint8Array(64));
 * } catch (e) {
 *   if (e instanceof ElfError) console.log(e.code); // InvalidElfMagicNumber
 * }
 * ```
 */
export class ElfError extends LinuxLoaderError<ElfErrorCode> {}

/** Codes of {@linkcode BzImageError}: the crate's `bzimage::Error` plus our own. */
export type BzImageErrorCode =
  | "InvalidBzImage"
  | "Overflow"
  | "ReadBzImageHeader"
  | "ReadBzImageCompressedKernel"
  | "SeekBzImageEnd"
  | "SeekBzImageHeader"
  | "SeekBzImageCompressedKernel"
  | "Underflow"
  /** The kernel's init_size does not fit in guest memory at the chosen address. */
  | "InitSizeTooLarge"
  /** The payload uses a compression method this library does not decode. */
  | "UnsupportedCompression"
  /** The compressed payload is corrupt or truncated. */
  | "CorruptPayload"
  /** An argument is not of its JavaScript type (null, a Symbol, a BigInt, a string or a plain object where bytes or an options object is expected). */
  | "InvalidArgument";

/**
 * bzImage loader errors.
 *
 * @example
 * ```ts
 * import { BzImageError, decodeBzImage } from "@linux-loader/linux-loader";
 * try {
 *   await decodeBzImage(new Uint8Array(0x400)); // no "HdrS"
 * } catch (e) {
 *   if (e instanceof BzImageError) console.log(e.code); // InvalidBzImage
 * }
 * ```
 */
export class BzImageError extends LinuxLoaderError<BzImageErrorCode> {}

/** Codes of {@linkcode PeError}: the crate's `pe::Error` plus our own. */
export type PeErrorCode =
  | "SeekImageEnd"
  | "SeekImageHeader"
  | "SeekDtbStart"
  | "SeekDtbEnd"
  | "DtbTooBig"
  | "ReadKernelImage"
  | "ReadImageHeader"
  | "ReadDtbImage"
  | "InvalidImage"
  | "InvalidImageMagicNumber"
  /** The gzip stream is corrupt or truncated. */
  | "CorruptGzip"
  /** An EFI zboot image's lz4, lzma, lzo, xz or zstd payload is corrupt, truncated or of the wrong size. */
  | "CorruptPayload"
  /** The decompressed image is larger than the limit or guest memory. */
  | "DecompressedTooLarge"
  /** An argument is not of its JavaScript type (null, a Symbol, a BigInt, a string or a plain object where bytes, a number or an options object is expected). */
  | "InvalidArgument";

/**
 * aarch64 / riscv64 Image loader errors.
 *
 * @example
 * ```ts
 * import { decodePeHeader, PeError } from "@linux-loader/linux-loader";
 * try {
 *   decodePeHeader(new Uint8Array(64)); // no Image magic at 0x38
 * } catch (e) {
 *   if (e instanceof PeError) console.log(e.code); // InvalidImageMagicNumber
 * }
 * ```
 */
export class PeError extends LinuxLoaderError<PeErrorCode> {}

/** Codes of {@linkcode CmdlineError}: the crate's `cmdline::Error`. */
export type CmdlineErrorCode =
  | "NullTerminator"
  | "NoBootArgsInserted"
  | "InvalidCapacity"
  | "InvalidAscii"
  | "HasSpace"
  | "HasEquals"
  | "MissingVal"
  | "MmioSize"
  | "TooLarge"
  | "NoQuoteSpace"
  | "InvalidQuote"
  /** A size, address, IRQ or id is not an integer in the range its crate type holds (our addition). */
  | "InvalidInteger";

/**
 * Kernel command line builder errors.
 *
 * @example
 * ```ts
 * import { Cmdline, CmdlineError } from "@linux-loader/linux-loader";
 * try {
 *   new Cmdline(4).insertStr("console=ttyS0"); // longer than the capacity
 * } catch (e) {
 *   if (e instanceof CmdlineError) console.log(e.code); // TooLarge
 * }
 * ```
 */
export class CmdlineError extends LinuxLoaderError<CmdlineErrorCode> {}

/** Codes of {@linkcode ConfiguratorError}: the crate's configurator, linux, pvh and fdt errors. */
export type ConfiguratorErrorCode =
  | "MissingStartAddress"
  | "Overflow"
  | "InvalidAddress"
  | "ZeroPagePastRamEnd"
  | "ZeroPageSetup"
  | "MemmapTableAddressMissing"
  | "MemmapTableMissing"
  | "MemmapTablePastRamEnd"
  | "MemmapTableSetup"
  | "StartInfoPastRamEnd"
  | "StartInfoSetup"
  | "ModulesAddressMissing"
  | "ModulesSetup"
  | "FDTPastRamEnd"
  | "WriteFDTToMemory"
  /** The FDT blob is larger than FDT_MAX_SIZE (2 MiB, arm64 booting.rst). */
  | "FDTTooLarge"
  /** Two boot-parameter sections overlap. */
  | "SectionOverlap"
  /** A table has more entries than its format allows. */
  | "TooManyEntries"
  /** The boot protocol version cannot express the request. */
  | "ProtocolTooOld"
  /** An argument is not of its JavaScript type (null, a Symbol, a BigInt, a string or a plain object where guest memory, bytes, a number or a params object is expected). */
  | "InvalidArgument";

/**
 * Boot configurator (zero page, hvm_start_info, FDT) errors.
 *
 * @example
 * ```ts
 * import { ConfiguratorError, GuestMemory, LinuxBootConfigurator, zeroPageBootParams } from "@linux-loader/linux-loader";
 * try {
 *   LinuxBootConfigurator.writeBootparams(GuestMemory.fromRanges([[0, 0x8000]]), zeroPageBootParams(0x7800));
 * } catch (e) {
 *   if (e instanceof ConfiguratorError) console.log(e.code); // ZeroPagePastRamEnd
 * }
 * ```
 */
export class ConfiguratorError extends LinuxLoaderError<ConfiguratorErrorCode> {}

/** Codes of {@linkcode FdtError}. */
export type FdtErrorCode =
  | "BadMagic"
  | "BadVersion"
  | "Truncated"
  | "BadOffset"
  | "BadToken"
  | "BadString"
  | "BadStructure"
  | "BadName"
  | "DuplicateName"
  | "TooLarge"
  /** A property value has the wrong length or form for the type asked for (u32, u64, string). */
  | "BadValue";

/**
 * Flattened device tree builder and reader errors.
 *
 * @example
 * ```ts
 * import { FdtError, readFdt } from "@linux-loader/linux-loader";
 * try {
 *   readFdt(new Uint8Array(8)); // shorter than an fdt_header
 * } catch (e) {
 *   if (e instanceof FdtError) console.log(e.code); // Truncated
 * }
 * ```
 */
export class FdtError extends LinuxLoaderError<FdtErrorCode> {}

/** Codes of {@linkcode EmulatorError}. */
export type EmulatorErrorCode =
  /** The Unicorn library could not be found or opened. */
  | "LibraryNotFound"
  /** The runtime does not allow foreign function calls (Deno needs `--allow-ffi`). */
  | "FfiNotPermitted"
  /** A Unicorn API call failed; the message carries uc_strerror's text. */
  | "UnicornError"
  /** The guest touched memory that is not mapped. */
  | "UnmappedAccess"
  /** The guest hit a protection fault or fetched from non-executable memory. */
  | "InvalidAccess"
  /** The guest executed an invalid instruction. */
  | "InvalidInstruction"
  /** The run did not halt in time. */
  | "Timeout"
  /** The run used its whole instruction budget without halting. */
  | "InstructionLimit"
  /** A register name is not known for this architecture. */
  | "UnknownRegister"
  /** The guest raised an exception or interrupt the harness does not handle. */
  | "UnhandledException"
  /** No emulated machine here boots this kind of image (format, architecture or boot protocol). */
  | "UnsupportedMachine";

/**
 * Unicorn emulator binding and harness errors.
 *
 * @example
 * ```ts
 * import { EmulatorError } from "@linux-loader/linux-loader";
 * try {
 *   throw new EmulatorError("LibraryNotFound", "libunicorn.so.2: not found"); // as emu/ reports it
 * } catch (e) {
 *   if (e instanceof EmulatorError) console.log(e.code); // LibraryNotFound
 * }
 * ```
 */
export class EmulatorError extends LinuxLoaderError<EmulatorErrorCode> {}

/** Codes of {@linkcode DecompressError}. */
export type DecompressErrorCode =
  /** The input does not start with the format's magic number. */
  | "BadMagic"
  /** The input ends inside a header, a block or a sequence. */
  | "Truncated"
  /** The compressed data is inconsistent (a match before the start, a block that overruns its size, a bad checksum). */
  | "CorruptData"
  /** The output would pass the caller's limit. */
  | "OutputTooLarge"
  /**
   * Well-formed input that uses a feature this decoder does not implement (a zstd dictionary, an xz filter
   * it does not know, an lzop multi-part file, an obsolete randomised bzip2 block).
   */
  | "Unsupported"
  /** An argument is not of its JavaScript type (null, a Symbol, a BigInt, a string or a plain object where bytes, a sink or an options object is expected). */
  | "InvalidArgument";

/**
 * LZ4 and gzip decoder errors.
 *
 * @example
 * ```ts
 * import { DecompressError, gunzip } from "@linux-loader/linux-loader";
 * try {
 *   await gunzip(new Uint8Array([0x1f, 0x8b, 8, 0])); // a gzip header cut short
 * } catch (e) {
 *   if (e instanceof DecompressError) console.log(e.code); // Truncated
 * }
 * ```
 */
export class DecompressError extends LinuxLoaderError<DecompressErrorCode> {}

/** Codes of {@linkcode CpioError}. */
export type CpioErrorCode =
  /** A path is empty, absolute after normalisation, has a NUL or a `..` component, or is listed twice. */
  | "InvalidPath"
  /** A mode, uid, gid, mtime or size does not fit in the 32-bit newc field. */
  | "FieldOverflow"
  /** An archive being read is not newc, ends early or has a malformed header. */
  | "Malformed"
  /** An argument is not of its JavaScript type (null, a Symbol, a BigInt, a string or a plain object where bytes, an entry list or an options object is expected). */
  | "InvalidArgument";

/**
 * cpio "newc" (initramfs) writer and reader errors.
 *
 * @example
 * ```ts
 * import { CpioError, readCpio } from "@linux-loader/linux-loader";
 * try {
 *   readCpio(new Uint8Array(10));
 * } catch (e) {
 *   if (e instanceof CpioError) console.log(e.code); // Malformed
 * }
 * ```
 */
export class CpioError extends LinuxLoaderError<CpioErrorCode> {}

/** Codes of {@linkcode MultibootError}: one per Multiboot 1 / Multiboot2 header, ELF32 and boot information check. */
export type MultibootErrorCode =
  /** No header magic at an aligned offset within the search window (8192 bytes, Multiboot2: 32768). */
  | "HeaderNotFound"
  /** The header's fields (as its flags or header_length say) pass the search window or the file. */
  | "HeaderTruncated"
  /** The checksum does not make the header's sum zero. */
  | "InvalidChecksum"
  /** A requirement bit (flags 0-15) is set that this loader does not understand or cannot fulfil. */
  | "UnsupportedFlags"
  /** header_addr is below load_addr. */
  | "InvalidHeaderAddr"
  /** The load's file offset (header offset - (header_addr - load_addr)) is before the file. */
  | "InvalidLoadOffset"
  /** load_end_addr is below load_addr. */
  | "InvalidLoadEndAddr"
  /** load_end_addr asks for more bytes than the file holds. */
  | "LoadPastImageEnd"
  /** bss_end_addr is below the end of the loaded bytes. */
  | "InvalidBssEndAddr"
  /** The entry address is outside the loaded image. */
  | "InvalidEntryAddr"
  /** A range passes 4 GiB, the end of the 32-bit physical address space. */
  | "AddressOverflow"
  /** A range the kernel or its boot information needs is not in guest memory. */
  | "LoadOutsideMemory"
  /** No address fields and no ELF magic. */
  | "NotElf"
  /** Not ELFCLASS32. */
  | "InvalidElfClass"
  /** Not ELFDATA2LSB. */
  | "InvalidElfData"
  /** e_machine is not EM_386. */
  | "InvalidElfMachine"
  /** e_type is not ET_EXEC. */
  | "InvalidElfType"
  /** e_phentsize is not sizeof(Elf32_Phdr). */
  | "InvalidProgramHeaderSize"
  /** The program header table passes the end of the file. */
  | "ProgramHeaderPastEnd"
  /** A PT_LOAD segment's file bytes pass the end of the file. */
  | "SegmentPastEnd"
  /** A PT_LOAD segment has p_filesz above p_memsz. */
  | "SegmentFileszAboveMemsz"
  /** Two PT_LOAD segments overlap in memory. */
  | "SegmentOverlap"
  /** No PT_LOAD segment with bytes. */
  | "NoLoadSegments"
  /** Multiboot2 architecture is not i386 (0). */
  | "InvalidArchitecture"
  /** Multiboot2 header_length is too small for the fixed part and an end tag. */
  | "InvalidHeaderLength"
  /** A Multiboot2 header tag is shorter than 8 bytes or passes header_length. */
  | "TagTruncated"
  /** A Multiboot2 header tag of fixed size has another size. */
  | "InvalidTagSize"
  /** A required (not optional) Multiboot2 header tag this loader does not support. */
  | "UnsupportedTag"
  /** A required Multiboot2 information request for a tag type the specification does not define. */
  | "UnsupportedInfoRequest"
  /** The Multiboot2 header tags have no end tag. */
  | "MissingEndTag"
  /** A Multiboot2 address tag without an entry address tag. */
  | "MissingEntryAddress"
  /** A boot information string (cmdline, module string, boot loader name) contains a NUL byte. */
  | "InvalidString"
  /** A module is not page aligned although the kernel asked for it, or the information is misaligned. */
  | "Misaligned"
  /** A module's size is negative or its address and size are inconsistent. */
  | "InvalidModule"
  /** A memory map range's address or size is not a non-negative safe integer, or its type not a u32. */
  | "InvalidMemoryMap"
  /** An argument is not of its JavaScript type (null, a Symbol, a BigInt, a string or a plain object where guest memory, bytes, a number or an options object is expected). */
  | "InvalidArgument";

/**
 * Multiboot 1 and Multiboot2 header, loader and boot information errors.
 *
 * @example
 * ```ts
 * import { decodeMultibootHeader, MultibootError } from "@linux-loader/linux-loader";
 * try {
 *   decodeMultibootHeader(new Uint8Array(16));
 * } catch (e) {
 *   if (e instanceof MultibootError) console.log(e.code); // HeaderNotFound
 * }
 * ```
 */
export class MultibootError extends LinuxLoaderError<MultibootErrorCode> {}

/** Codes of {@linkcode PlanJsonError}. */
export type PlanJsonErrorCode =
  /** The text is not JSON. */
  | "MalformedJson"
  /** The JSON is not a plan of a version this library reads. */
  | "UnsupportedVersion"
  /** A field is missing or has the wrong type or range; the error names its path. */
  | "InvalidField"
  /** A byte step's hex or base64 text is malformed or disagrees with its length. */
  | "InvalidBytes";

/**
 * Errors reading a plan back from JSON.
 *
 * @example
 * ```ts
 * import { PlanJsonError, planFromJson } from "@linux-loader/linux-loader";
 * try {
 *   planFromJson({}); // no format or version
 * } catch (e) {
 *   if (e instanceof PlanJsonError) console.log(e.code); // UnsupportedVersion
 * }
 * ```
 */
export class PlanJsonError extends LinuxLoaderError<PlanJsonErrorCode> {}

/** Codes of {@linkcode AbiError}. */
export type AbiErrorCode =
  /** The buffer ends before the struct (or field) at the given offset does. */
  | "BufferTooShort"
  /**
   * A value to store is not an integer (a fraction, NaN, an infinity) or not bytes, a field name is unknown, or
   * an argument is not of its JavaScript type (bytes to decode that are no `Uint8Array`, fields that are no object).
   */
  | "InvalidValue";

/**
 * Errors of the C struct tables in lib/abi (`Struct`): a buffer too short, a value that is not an integer.
 *
 * @example
 * ```ts
 * import { AbiError } from "@linux-loader/linux-loader";
 * import { SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * try {
 *   SETUP_HEADER.decode(new Uint8Array(4)); // 4 of its 123 bytes
 * } catch (e) {
 *   if (e instanceof AbiError) console.log(e.code); // BufferTooShort
 * }
 * ```
 */
export class AbiError extends LinuxLoaderError<AbiErrorCode> {}
