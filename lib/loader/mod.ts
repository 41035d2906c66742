/**
 * Format detection and dispatch: {@linkcode detectKernel} tells what an image is from its first bytes
 * (ELF, bzImage, arm64 / riscv64 Image, gzip-compressed Image, Multiboot 1 and 2), and
 * {@linkcode loadKernel} loads it with the matching loader.
 *
 * @module
 */

import { hex, KernelLoaderError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { type KernelSource, readBytes, toSource } from "../source.ts";
import { EI_CLASS, ELF64_EHDR, ELFCLASS64, EM_386, EM_X86_64 } from "../abi/elf.ts";
import { IMAGE_HEADER_SIZE } from "../abi/image.ts";
import { isElf, type KernelLoaderResult, loadElf } from "./elf.ts";
import { isBzImage, loadBzImage } from "./bzimage.ts";
import { detectPeArch, loadPe, type PeArch, type PeLoadResult } from "./pe.ts";
import { gunzipPrefix, isGzip } from "../compress/gzip.ts";
import {
  findMultiboot2Header,
  findMultibootHeader,
  loadMultiboot,
  loadMultiboot2,
  type MultibootLoadResult,
} from "./multiboot.ts";

/** Image formats this library loads. */
export type KernelFormat = "elf" | "bzimage" | "pe" | "multiboot" | "multiboot2";

/** Architectures an image can be for. */
export type KernelArch = "x86_64" | "i386" | "aarch64" | "riscv64";

/** What {@linkcode detectKernel} found. */
export interface DetectedKernel {
  /** The format {@linkcode loadKernel} uses by default. */
  format: KernelFormat;
  /** The architecture the image is for. */
  arch: KernelArch;
  /** `"gzip"` when the Image is gzip-compressed (Debian's arm64 vmlinuz). */
  compression?: "gzip";
  /** Multiboot headers the image also carries (an ELF or bzImage may carry one too): the caller may choose. */
  multiboot: { version: 1 | 2; offset: number }[];
}

/** How many leading bytes detection reads: the Multiboot2 header may sit anywhere in the first 32 KiB. */
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
  if (isBzImage(head)) return { format: "bzimage", arch: "x86_64", multiboot };
  const peArch = detectPeArch(head);
  if (peArch !== undefined) return { format: "pe", arch: peArch, multiboot };
  if (isGzip(head)) {
    const packed = await readBytes(src, 0, Math.min(src.size, GZIP_PEEK_BYTES));
    const arch = detectPeArch(await gunzipPrefix(packed, IMAGE_HEADER_SIZE));
    if (arch !== undefined) return { format: "pe", arch, compression: "gzip", multiboot };
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
    }, ${src.size} bytes): expected ELF, bzImage, arm64/riscv64 Image, gzip Image or Multiboot`,
    { field: "magic", value: magic, limit: "ELF | bzImage | Image | gzip | Multiboot" },
  );
}

/** Options of {@linkcode loadKernel}: those of the underlying loaders. */
export interface LoadKernelOptions {
  /** Added to the load address (ELF, bzImage) or the 2 MiB aligned base (Image). */
  kernelOffset?: number;
  /** Lowest guest address the kernel may use (ELF, bzImage). */
  highmemStart?: number;
  /** Expected architecture of an Image. */
  arch?: PeArch;
  /** Load with this format instead of the detected one (e.g. `"multiboot"` for an ELF that carries a header). */
  format?: KernelFormat;
}

/** What {@linkcode loadKernel} did, tagged by format. */
export type LoadedKernel =
  | { format: "elf" | "bzimage"; detected: DetectedKernel; result: KernelLoaderResult }
  | { format: "pe"; detected: DetectedKernel; result: PeLoadResult }
  | { format: "multiboot" | "multiboot2"; detected: DetectedKernel; result: MultibootLoadResult };

/**
 * Detects the format and loads the image with the matching loader. A failed load leaves guest memory
 * untouched (every loader validates its whole plan before writing).
 *
 * @example
 * ```ts
 * import { ARM64_IMAGE_HEADER, GuestMemory, loadKernel } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * const image = new Uint8Array(0x1000);
 * image.set(ARM64_IMAGE_HEADER.encode({ text_offset: 0x80000n, image_size: 0x1000n, magic: 0x644d5241 }));
 * const k = await loadKernel(mem, image, { kernelOffset: 0x200000 });
 * console.log(k.format, k.detected.arch); // pe aarch64
 * ```
 */
export async function loadKernel(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadKernelOptions = {},
): Promise<LoadedKernel> {
  const src = toSource(input);
  const detected = await detectKernel(src);
  const format = opts.format ?? detected.format;
  const x86 = { kernelOffset: opts.kernelOffset, highmemStart: opts.highmemStart };
  switch (format) {
    case "elf":
      return { format, detected, result: await loadElf(mem, src, x86) };
    case "bzimage":
      return { format, detected, result: await loadBzImage(mem, src, x86) };
    case "pe":
      return { format, detected, result: await loadPe(mem, src, { kernelOffset: opts.kernelOffset, arch: opts.arch }) };
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
      const result = version === 1 ? await loadMultiboot(mem, src) : await loadMultiboot2(mem, src);
      return { format, detected, result };
    }
  }
}
