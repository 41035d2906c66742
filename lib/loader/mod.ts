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
import type { KernelArch, KernelFormat, LoadOptions } from "./contract.ts";

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
  const src = toSource(input);
  const head = await readBytes(src, 0, Math.min(src.size, DETECT_BYTES));
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

  if (isElf(head) && head.byteLength > ELF_MACHINE_OFFSET + 1) {
    const machine = head[ELF_MACHINE_OFFSET] | (head[ELF_MACHINE_OFFSET + 1] << 8);
    if (head[EI_CLASS] === ELFCLASS64 && machine === EM_X86_64) return { format: "elf", arch: "x86_64", multiboot };
    if (machine === EM_386 && multiboot.length > 0) {
      return { format: multiboot[0].version === 1 ? "multiboot" : "multiboot2", arch: "i386", multiboot };
    }
  }
  if (isBzImage(head)) {
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const field = (name: "version" | "xloadflags"): number =>
      SETUP_HEADER_OFFSET + SETUP_HEADER.offsetOf(name) + 2 <= head.byteLength
        ? SETUP_HEADER.get(dv, SETUP_HEADER_OFFSET, name) as number
        : 0;
    const version = field("version");
    const xloadflags = version >= BOOT_PROTOCOL.XLOADFLAGS ? field("xloadflags") : 0;
    return { format: "bzimage", arch: bzImageArch({ version, xloadflags }), multiboot };
  }
  const peArch = detectPeArch(head);
  if (peArch !== undefined) return { format: "pe", arch: peArch, multiboot };
  if (isGzip(head)) {
    const packed = await readBytes(src, 0, Math.min(src.size, GZIP_PEEK_BYTES));
    const arch = detectPeArch(await gunzipPrefix(packed, IMAGE_HEADER_SIZE));
    if (arch !== undefined) return { format: "pe", arch, compression: "gzip", multiboot };
  }
  if (isZboot(head)) {
    // An EFI zboot image: its header names the architecture and the method; a bad header is its error.
    const z = decodeZbootHeader(head, src.size);
    return { format: "pe", arch: z.arch, compression: z.method, zboot: z.compressionType, multiboot };
  }
  if (multiboot.length > 0) {
    return { format: multiboot[0].version === 1 ? "multiboot" : "multiboot2", arch: "i386", multiboot };
  }
  if (mbError !== undefined) throw mbError;
  const magic = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new KernelLoaderError(
    "UnknownFormat",
    `not a kernel image this library knows (first bytes ${
      magic || "none"
    }, ${src.size} bytes): expected ELF, bzImage, arm64/riscv64 Image, gzip Image, EFI zboot or Multiboot`,
    { field: "magic", value: magic, limit: "ELF | bzImage | Image | gzip | zboot | Multiboot" },
  );
}

/** Options of {@linkcode loadKernel} and {@linkcode planKernel}: the loaders' own, and the format. */
export interface LoadKernelOptions extends LoadOptions {
  /** Load with this format instead of the detected one (e.g. `"multiboot"` for an ELF that carries a header). */
  format?: KernelFormat;
}

async function dispatch(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadKernelOptions,
  write: boolean,
): Promise<LoadResult> {
  const src = toSource(input);
  const detected = await detectKernel(src);
  const { format: forced, ...options } = opts;
  const format = forced ?? detected.format;
  switch (format) {
    case "elf":
      return write ? await loadElf(mem, src, options) : await planElf(mem, src, options);
    case "bzimage":
      return write ? await loadBzImage(mem, src, options) : await planBzImage(mem, src, options);
    case "pe":
      return write ? await loadPe(mem, src, options) : await planPe(mem, src, options);
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
      if (version === 1) return write ? await loadMultiboot(mem, src, options) : await planMultiboot(mem, src, options);
      return write ? await loadMultiboot2(mem, src, options) : await planMultiboot2(mem, src, options);
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
  opts: LoadKernelOptions = {},
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
  opts: LoadKernelOptions = {},
): Promise<LoadResult> {
  return await dispatch(mem, input, opts, true);
}
