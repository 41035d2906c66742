/**
 * Format detection and dispatch: {@linkcode detectKernel} tells what an image is from its first bytes
 * (ELF, bzImage, arm64 / riscv64 Image, gzip-compressed Image, Multiboot 1 and 2), and
 * {@linkcode planKernel} / {@linkcode loadKernel} plan or load it with the matching loader, returning the
 * one result type every loader returns ({@linkcode LoadResult}).
 *
 * @module
 */

import { hex, KernelLoaderError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { type KernelSource, readBytes, toSource } from "../source.ts";
import { EI_CLASS, ELF64_EHDR, ELFCLASS64, EM_386, EM_X86_64 } from "../abi/elf.ts";
import { IMAGE_HEADER_SIZE } from "../abi/image.ts";
import { type ElfLoadResult, isElf, loadElf, planElf } from "./elf.ts";
import { bzImageArch, type BzImageLoadResult, isBzImage, loadBzImage, planBzImage } from "./bzimage.ts";
import { detectPeArch, loadPe, type PeLoadResult, planPe } from "./pe.ts";
import { gunzipPrefix, isGzip } from "../compress/gzip.ts";
import { inflatingSource } from "./gzip_source.ts";
import type { PayloadMethod } from "./payload.ts";
import { decodeZbootHeader, isZboot } from "./zboot.ts";
import {
  findMultiboot2Header,
  findMultibootHeader,
  loadMultiboot,
  loadMultiboot2,
  type MultibootLoadResult,
  planMultiboot,
  planMultiboot2,
} from "./multiboot.ts";
import { BOOT_PROTOCOL, SETUP_HEADER, SETUP_HEADER_OFFSET } from "../abi/bootparam.ts";
import { type KernelArch, type KernelFormat, type LoadOptions, NO_OPTIONS } from "./contract.ts";
import { u16le } from "../abi/le.ts";

export type { KernelArch, KernelEntries, KernelFormat, LoadOptions, LoadResultCommon } from "./contract.ts";

/**
 * What every loader returns, tagged by `format`: the common fields ({@linkcode LoadResultCommon}: `entry`,
 * `loadStart`, `loadEnd`, `kernelEnd`, `plan`) are there whatever the format; `details` narrows with it.
 */
export type LoadResult = ElfLoadResult | BzImageLoadResult | PeLoadResult | MultibootLoadResult;

/** What {@linkcode detectKernel} found. */
export interface DetectedKernel {
  /** The format {@linkcode loadKernel} uses by default. */
  format: KernelFormat;
  /** The architecture the image is for. */
  arch: KernelArch;
  /**
   * The method when the Image is compressed: `"gzip"` for an `Image.gz` (Debian's arm64 vmlinuz); for an
   * EFI zboot image, the method its header names.
   */
  compression?: PayloadMethod;
  /** For an EFI zboot image ("zimg" at 4), the compression type string of its header ("zstd22", ...). */
  zboot?: string;
  /** Multiboot headers the image also carries (an ELF or bzImage may carry one too): the caller may choose. */
  multiboot: { version: 1 | 2; offset: number }[];
}

/**
 * How many leading bytes detection reads: the Multiboot2 header may sit anywhere in the first 32 KiB.
 *
 * @example
 * ```ts
 * import { DETECT_BYTES } from "@linux-loader/linux-loader/abi";
 * console.log(DETECT_BYTES.toString(16)); // 8000
 * ```
 */
export const DETECT_BYTES = 32768;

// Elf64_Ehdr.e_machine, at the same offset in Elf32_Ehdr (both follow the 16-byte e_ident and e_type).
const ELF_MACHINE_OFFSET = ELF64_EHDR.offsetOf("e_machine");

// How much of a gzip file detection inflates to read the Image header inside.
const GZIP_PEEK_BYTES = 1 << 16;

/**
 * Tells an image's format and architecture from its first bytes, without loading it.
 * Throws {@linkcode KernelLoaderError} `UnknownFormat` for anything else.
 *
 * @example
 * ```ts
 * import { detectKernel } from "@linux-loader/linux-loader";
 * const elf = new Uint8Array(64);
 * elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
 * elf[18] = 62; // EM_X86_64
 * console.log(await detectKernel(elf)); // { format: "elf", arch: "x86_64", multiboot: [] }
 * ```
 */
export async function detectKernel(input: KernelSource | Uint8Array): Promise<DetectedKernel> {
  return await detect(toSource(input), true);
}

/**
 * detectKernel. Without `multibootList`, an image whose header alone decides its format ({@linkcode
 * formatOfHead}) is reported as soon as that is known, with an empty `multiboot` list: the scans for a Multiboot
 * header read up to 32 KiB (about 60 us of a load right after another load's copy has emptied the caches).
 * What loadKernel asks for unless the caller forces a Multiboot format.
 */
function detect(src: KernelSource, multibootList: boolean): DetectedKernel | Promise<DetectedKernel> {
  const n = Math.min(src.size, DETECT_BYTES);
  // In memory: a view (detection only reads), not a 32 KiB copy; and no await when the header decides.
  const bytes = src.bytes;
  if (bytes === undefined || !(n >= 0 && n <= bytes.byteLength)) {
    return readBytes(src, 0, n).then((head) => detectHead(src, head, multibootList));
  }
  return detectHead(src, bytes.subarray(0, n), multibootList);
}

function detectHead(
  src: KernelSource,
  head: Uint8Array,
  multibootList: boolean,
): DetectedKernel | Promise<DetectedKernel> {
  const known = formatOfHead(head);
  // An i386 ELF with a Multiboot header is a Multiboot kernel whatever other magic its bytes hold: the scan first.
  if (known !== undefined && !multibootList && elfMachine(head) !== EM_386) return known;
  return detectAll(src, head, known);
}

// The rest of detectKernel: the Multiboot scans, then the formats found inside a gzip or zboot wrapper.
async function detectAll(
  src: KernelSource,
  head: Uint8Array,
  known: DetectedKernel | undefined,
): Promise<DetectedKernel> {
  const multiboot: { version: 1 | 2; offset: number }[] = [];
  // A Multiboot header with a good checksum but bad contents is the Multiboot loader's error to report:
  // an ELF or bzImage that carries one is still that ELF or bzImage.
  let mbError: unknown;
  const tryFind = <T>(find: () => T): T | undefined => {
    try {
      return find();
    } catch (e) {
      mbError ??= e;
      return undefined;
    }
  };
  const mb1 = tryFind(() => findMultibootHeader(head));
  if (mb1 !== undefined) multiboot.push({ version: 1, offset: mb1.offset });
  const mb2 = tryFind(() => findMultiboot2Header(head));
  if (mb2 !== undefined) multiboot.push({ version: 2, offset: mb2.offset });

  if (elfMachine(head) === EM_386 && multiboot.length > 0) {
    return { format: multiboot[0].version === 1 ? "multiboot" : "multiboot2", arch: "i386", multiboot };
  }
  if (known !== undefined) {
    known.multiboot = multiboot;
    return known;
  }
  if (isGzip(head)) {
    const packed = await readBytes(src, 0, Math.min(src.size, GZIP_PEEK_BYTES));
    const inner = await gunzipPrefix(packed, DETECT_BYTES);
    const arch = detectPeArch(inner.subarray(0, IMAGE_HEADER_SIZE));
    if (arch !== undefined) return { format: "pe", arch, compression: "gzip", multiboot };
    // A gzip-wrapped Multiboot kernel (Debian's xen-4.17-amd64.gz): GRUB inflates it before it looks for
    // the header, and so does the load.
    const wrapped = multibootHeaders(inner);
    if (wrapped.length > 0 && (isElf(inner) || describePeCoff(inner) === undefined)) {
      return {
        format: wrapped[0].version === 1 ? "multiboot" : "multiboot2",
        arch: "i386",
        compression: "gzip",
        multiboot: wrapped,
      };
    }
  }
  if (isZboot(head)) {
    // An EFI zboot image: its header names the architecture and the method; a bad header is its error.
    const z = decodeZbootHeader(head, src.size);
    return { format: "pe", arch: z.arch, compression: z.method, zboot: z.compressionType, multiboot };
  }
  // A PE/COFF program that is no Linux Image (an EFI application such as xen.efi) may carry a Multiboot
  // header in its first 32 KiB, but it is started by UEFI firmware, not loaded as a Multiboot kernel.
  const pe = describePeCoff(head);
  if (multiboot.length > 0 && pe === undefined) {
    return { format: multiboot[0].version === 1 ? "multiboot" : "multiboot2", arch: "i386", multiboot };
  }
  if (mbError !== undefined && pe === undefined) throw mbError;
  const magic = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const what = pe ?? describeElf(head) ?? describeCompression(head);
  throw new KernelLoaderError(
    "UnknownFormat",
    `not a kernel image this library knows (${what ?? `first bytes ${magic || "none"}`}, ${src.size} bytes): ` +
      "expected an x86_64 ELF, bzImage, arm64/riscv64 Image, gzip Image, EFI zboot or Multiboot",
    { field: "magic", value: what ?? magic, limit: "ELF | bzImage | Image | gzip | zboot | Multiboot" },
  );
}

// The formats the header decides, whatever Multiboot header the image may carry (except an i386 ELF's: see
// detectHead): an x86_64 ELF, a bzImage, an arm64/riscv64 Image.
function formatOfHead(head: Uint8Array): DetectedKernel | undefined {
  if (elfMachine(head) === EM_X86_64 && head[EI_CLASS] === ELFCLASS64) {
    return { format: "elf", arch: "x86_64", multiboot: [] };
  }
  if (isBzImage(head)) {
    const field = (at: number): number => at + 2 <= head.byteLength ? u16le(head, at) : 0;
    const version = field(BZ_VERSION_AT);
    const xloadflags = version >= BOOT_PROTOCOL.XLOADFLAGS ? field(BZ_XLOADFLAGS_AT) : 0;
    return { format: "bzimage", arch: bzImageArch({ version, xloadflags }), multiboot: [] };
  }
  const peArch = detectPeArch(head);
  return peArch === undefined ? undefined : { format: "pe", arch: peArch, multiboot: [] };
}

// An ELF's e_machine, or undefined for anything else (or a head too short to hold it).
function elfMachine(head: Uint8Array): number | undefined {
  return isElf(head) && head.byteLength > ELF_MACHINE_OFFSET + 1 ? u16le(head, ELF_MACHINE_OFFSET) : undefined;
}

// Where formatOfHead reads a bzImage's protocol version and xloadflags.
const BZ_VERSION_AT = SETUP_HEADER_OFFSET + SETUP_HEADER.offsetOf("version");
const BZ_XLOADFLAGS_AT = SETUP_HEADER_OFFSET + SETUP_HEADER.offsetOf("xloadflags");

/** The valid Multiboot headers in `head` (first 32 KiB of an image); broken ones are left out. */
function multibootHeaders(head: Uint8Array): { version: 1 | 2; offset: number }[] {
  const out: { version: 1 | 2; offset: number }[] = [];
  for (const [version, find] of [[1, findMultibootHeader], [2, findMultiboot2Header]] as const) {
    try {
      const h = find(head);
      if (h !== undefined) out.push({ version, offset: h.offset });
    } catch {
      // a header with a good checksum and bad fields: not a kernel to load inflated
    }
  }
  return out;
}

// e_machine values named in messages (elf.h).
const ELF_MACHINES: Readonly<Record<number, string>> = {
  2: "SPARC",
  3: "i386",
  8: "MIPS",
  20: "PowerPC",
  21: "PowerPC64",
  22: "S/390",
  40: "ARM",
  43: "SPARC V9",
  50: "IA-64",
  62: "x86_64",
  183: "AArch64",
  243: "RISC-V",
  258: "LoongArch",
};

/** "an ELF64 for AArch64 (e_machine 183)" for an ELF this library does not load, else undefined. */
function describeElf(head: Uint8Array): string | undefined {
  if (!isElf(head) || head.byteLength < ELF_MACHINE_OFFSET + 2) return undefined;
  const machine = head[ELF_MACHINE_OFFSET] | (head[ELF_MACHINE_OFFSET + 1] << 8);
  const cls = head[EI_CLASS] === ELFCLASS64 ? "ELF64" : head[EI_CLASS] === 1 ? "ELF32" : "ELF";
  const name = ELF_MACHINES[machine] ?? "an unknown machine";
  const extra = machine === EM_386 ? " without a Multiboot header" : "";
  return `an ${cls} for ${name} (e_machine ${machine})${extra}`;
}

// Magic numbers of the compressed formats a kernel or initrd comes in (each format's own specification).
const COMPRESSION_MAGICS: readonly { name: string; magic: readonly number[] }[] = [
  { name: "gzip", magic: [0x1f, 0x8b] }, // RFC 1952 ID1 ID2
  { name: "xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] }, // xz file format: header magic
  { name: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd] }, // RFC 8878: frame magic 0xFD2FB528
  { name: "bzip2", magic: [0x42, 0x5a, 0x68] }, // "BZh"
  { name: "LZ4 (legacy)", magic: [0x02, 0x21, 0x4c, 0x18] }, // lz4 legacy frame magic 0x184C2102
  { name: "LZ4", magic: [0x04, 0x22, 0x4d, 0x18] }, // lz4 frame magic 0x184D2204
  { name: "lzop", magic: [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a] }, // lzop file header
  { name: "LZMA", magic: [0x5d, 0x00, 0x00] }, // .lzma: lc=3 lp=0 pb=2 properties, then a small dictionary
];

/** "xz-compressed data: decompress it first" when the bytes start with a compression magic. */
function describeCompression(head: Uint8Array): string | undefined {
  for (const { name, magic } of COMPRESSION_MAGICS) {
    if (head.byteLength >= magic.length && magic.every((b, i) => head[i] === b)) {
      return name === "gzip"
        ? "gzip-compressed data with no arm64/riscv64 Image or Multiboot header inside"
        : `${name}-compressed data: decompress it first`;
    }
  }
  return undefined;
}

// PE/COFF: the DOS header's e_lfanew at 0x3c points at "PE\0\0", then the COFF header (Machine first) and the
// optional header (its magic: 0x10b PE32, 0x20b PE32+; Subsystem at 68 in both).
const DOS_E_LFANEW = 0x3c;
const PE_SIGNATURE = 0x0000_4550; // "PE\0\0"
const COFF_HEADER_SIZE = 20;
const OPTIONAL_SUBSYSTEM = 68;
const PE_MACHINES: Readonly<Record<number, string>> = {
  0x14c: "i386",
  0x8664: "x86_64",
  0xaa64: "AArch64",
  0x5064: "RISC-V 64",
  0x1c0: "ARM",
};
const PE_SUBSYSTEMS: Readonly<Record<number, string>> = {
  10: "EFI application",
  11: "EFI boot service driver",
  12: "EFI runtime driver",
};

/** "a PE32+ EFI application for x86_64 (machine 0x8664)" for a PE/COFF file, else undefined. */
function describePeCoff(head: Uint8Array): string | undefined {
  if (head.byteLength < DOS_E_LFANEW + 4 || head[0] !== 0x4d || head[1] !== 0x5a) return undefined; // "MZ"
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const pe = dv.getUint32(DOS_E_LFANEW, true);
  if (pe + 4 + COFF_HEADER_SIZE + OPTIONAL_SUBSYSTEM + 2 > head.byteLength) return undefined;
  if (dv.getUint32(pe, true) !== PE_SIGNATURE) return undefined;
  const machine = dv.getUint16(pe + 4, true);
  const opt = pe + 4 + COFF_HEADER_SIZE;
  const kind = dv.getUint16(opt, true) === 0x20b ? "PE32+" : "PE32";
  const subsystem = PE_SUBSYSTEMS[dv.getUint16(opt + OPTIONAL_SUBSYSTEM, true)] ?? "program";
  return `a ${kind} ${subsystem} for ${PE_MACHINES[machine] ?? "an unknown machine"} (machine ${hex(machine)})`;
}

/** Options of {@linkcode loadKernel} and {@linkcode planKernel}: the loaders' own, and the format. */
export interface LoadKernelOptions extends LoadOptions {
  /** Load with this format instead of the detected one (e.g. `"multiboot"` for an ELF that carries a header). */
  format?: KernelFormat;
}

// The loader's promise for the detected (or forced) format. An in-memory image whose header decides its format
// is detected synchronously, and the loader's promise is handed back as it is: a load through loadKernel then
// costs one await more than the format's own loader, not three.
function dispatch(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadKernelOptions,
  write: boolean,
): Promise<LoadResult> {
  const src = toSource(input);
  const forced = opts.format;
  const d = detect(src, forced === "multiboot" || forced === "multiboot2");
  return d instanceof Promise
    ? d.then((detected) => loadDetected(mem, src, detected, opts, write))
    : loadDetected(mem, src, d, opts, write);
}

function loadDetected(
  mem: GuestMemory,
  src: KernelSource,
  detected: DetectedKernel,
  opts: LoadKernelOptions,
  write: boolean,
): Promise<LoadResult> {
  const forced = opts.format;
  // The loaders' options: the caller's own object when it names no format (no copy; a loader reads only its
  // own fields), else a copy without it.
  let options: LoadOptions = opts;
  if (forced !== undefined) {
    const { format: _format, ...rest } = opts;
    options = rest;
  }
  const format = forced ?? detected.format;
  if (detected.compression === "gzip" && (detected.format === "multiboot" || detected.format === "multiboot2")) {
    // The loader reads the inflated image, as GRUB's does; only as far as its reads reach is decoded.
    return inflatingSource(src).then((inflated) => loadAs(format, mem, inflated, detected, options, write));
  }
  return loadAs(format, mem, src, detected, options, write);
}

function loadAs(
  format: KernelFormat,
  mem: GuestMemory,
  src: KernelSource,
  detected: DetectedKernel,
  options: LoadOptions,
  write: boolean,
): Promise<LoadResult> {
  switch (format) {
    case "elf":
      return write ? loadElf(mem, src, options) : planElf(mem, src, options);
    case "bzimage":
      return write ? loadBzImage(mem, src, options) : planBzImage(mem, src, options);
    case "pe":
      return write ? loadPe(mem, src, options) : planPe(mem, src, options);
    case "multiboot":
    case "multiboot2": {
      const version = format === "multiboot" ? 1 : 2;
      if (!detected.multiboot.some((m) => m.version === version)) {
        throw new KernelLoaderError(
          "UnknownFormat",
          `the image carries no ${format} header in its first ${hex(DETECT_BYTES)} bytes`,
          { field: "format", value: format },
        );
      }
      if (version === 1) return write ? loadMultiboot(mem, src, options) : planMultiboot(mem, src, options);
      return write ? loadMultiboot2(mem, src, options) : planMultiboot2(mem, src, options);
    }
  }
}

/**
 * Detects the format and plans the load with the matching `plan*` function: everything checked against
 * guest memory, nothing written. Errors as {@linkcode loadKernel}.
 *
 * @example
 * ```ts
 * import { GuestMemory, planKernel } from "@linux-loader/linux-loader";
 * import { RISCV64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * const mem = GuestMemory.fromRanges([[0x8000_0000, 16 << 20]]);
 * const image = new Uint8Array(0x1000);
 * image.set(RISCV64_IMAGE_HEADER.encode({ text_offset: 0x200000n, image_size: 0x1000n, magic2: 0x05435352 }));
 * const p = await planKernel(mem, image);
 * console.log(p.format, p.arch, p.entry.image?.toString(16), mem.readU8(0x8020_0000)); // pe riscv64 80200000 0
 * ```
 */
export async function planKernel(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadKernelOptions = NO_OPTIONS,
): Promise<LoadResult> {
  return await dispatch(mem, input, opts, false);
}

/**
 * Detects the format and loads the image with the matching `load*` function. A failed load leaves guest
 * memory untouched (every loader validates its whole plan before writing). Errors: {@linkcode KernelLoaderError}
 * `UnknownFormat`, and those of the format's loader.
 *
 * @example
 * ```ts
 * import { GuestMemory, loadKernel } from "@linux-loader/linux-loader";
 * import { AARCH64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * const image = new Uint8Array(0x1000);
 * image.set(AARCH64_IMAGE_HEADER.encode({ text_offset: 0x80000n, image_size: 0x1000n, magic: 0x644d5241 }));
 * const k = await loadKernel(mem, image, { imageBase: 0x200000 });
 * console.log(k.format, k.arch, k.entry.image?.toString(16)); // pe aarch64 280000
 * ```
 */
export async function loadKernel(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadKernelOptions = NO_OPTIONS,
): Promise<LoadResult> {
  return await dispatch(mem, input, opts, true);
}
