/**
 * linux-loader for Deno: places Linux kernels (ELF vmlinux, bzImage, arm64 and riscv64 Image) into a
 * virtual machine's guest memory and writes the boot parameters the kernel reads at its first instruction.
 * No dependencies: only the language and web platform APIs.
 *
 * @example Load bytes into guest memory
 * ```ts
 * import { GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 64 << 20]]);
 * mem.write(0x1000, new TextEncoder().encode("hello"));
 * console.log(mem.lastAddr.toString(16)); // 3ffffff
 * ```
 *
 * @module
 */

export * from "./lib/errors.ts";
export * from "./lib/memory.ts";
export * from "./lib/source.ts";
export * from "./lib/abi/struct.ts";
export * from "./lib/plan.ts";
export * from "./lib/configurator/mod.ts";
export * from "./lib/cmdline.ts";
export * from "./lib/loader/cmdline.ts";
export * from "./lib/compress/lz4.ts";
export * from "./lib/compress/gzip.ts";
export * from "./lib/compress/sink.ts";
export * from "./lib/compress/bzip2.ts";
export * from "./lib/compress/lzo.ts";
export * from "./lib/compress/inflate.ts";
export * from "./lib/compress/xz.ts";
export * from "./lib/compress/lzma.ts";
export * from "./lib/compress/zstd.ts";
export * from "./lib/loader/extract.ts";
export * from "./lib/loader/payload.ts";
export * from "./lib/loader/zboot.ts";
export * from "./lib/cpio.ts";
export * from "./lib/abi/bootparam.ts";
export * from "./lib/abi/start_info.ts";
export * from "./lib/abi/elf.ts";
export * from "./lib/abi/image.ts";
export * from "./lib/abi/multiboot.ts";
export {
  type ElfDetails,
  type ElfLoadResult,
  isElf,
  loadElf,
  planElf,
  type PvhBootCapability,
} from "./lib/loader/elf.ts";
export {
  bzImageArch,
  type BzImageDetails,
  bzImageEntries,
  type BzImageInfo,
  type BzImageLoadResult,
  type BzImagePlacement,
  bzImagePlacement,
  decodeBzImage,
  isBzImage,
  loadBzImage,
  planBzImage,
} from "./lib/loader/bzimage.ts";
export {
  decodePeHeader,
  detectPeArch,
  DTB_MAX_SIZE,
  isPeImage,
  loadDtb,
  loadPe,
  type PeArch,
  type PeDetails,
  type PeHeaderInfo,
  type PeLoadResult,
  planPe,
} from "./lib/loader/pe.ts";
export {
  decodeMultiboot2Header,
  decodeMultibootHeader,
  findMultiboot2Header,
  findMultibootHeader,
  type FoundMultiboot2Header,
  type FoundMultibootHeader,
  loadMultiboot,
  loadMultiboot2,
  MULTIBOOT_SUPPORTED_REQUIRED_FLAGS,
  type MultibootAddressFields,
  type MultibootDetails,
  type MultibootLoadResult,
  planMultiboot,
  planMultiboot2,
} from "./lib/loader/multiboot.ts";
export * from "./lib/loader/mod.ts";
export * from "./lib/configurator/linux.ts";
export * from "./lib/configurator/pvh.ts";
export * from "./lib/configurator/fdt.ts";
export * from "./lib/configurator/multiboot.ts";
export * from "./lib/configurator/multiboot2.ts";
export * from "./lib/fdt/mod.ts";
export * from "./lib/boot/x86_64.ts";
export * from "./lib/boot/aarch64.ts";
export * from "./lib/boot/riscv64.ts";
export * from "./lib/inspect.ts";
export * from "./lib/plan_json.ts";
export * from "./lib/abi/setup_data.ts";
export * from "./lib/boot/memmap.ts";
export * from "./lib/boot/initrd.ts";
export * from "./lib/boot/setup_data.ts";
export * from "./lib/boot/zero_page.ts";
