/**
 * The C side of the boot protocols: struct tables (`Struct` field lists that encode and decode the C layouts
 * byte for byte, checked against the kernel and Xen headers by a test that compiles C) and the protocols'
 * constants. A VMM rarely needs these (the root module's loaders and configurators use them); they are here
 * for reading and writing the structures by hand, and for tests.
 *
 * @example Decode a setup header field
 * ```ts
 * import { SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const bytes = SETUP_HEADER.encode({ header: 0x53726448, version: 0x20f });
 * console.log(SETUP_HEADER.decode(bytes).version.toString(16)); // 20f
 * ```
 *
 * @module
 */

export * from "./lib/abi/struct.ts";
export * from "./lib/abi/bootparam.ts";
export * from "./lib/abi/start_info.ts";
export * from "./lib/abi/elf.ts";
export * from "./lib/abi/image.ts";
export * from "./lib/abi/multiboot.ts";
export * from "./lib/abi/setup_data.ts";
export { type ConfiguratorErrorCode } from "./lib/errors.ts";
export { type GuestMemory, type GuestMemoryRegion, type MemoryBacking } from "./lib/memory.ts";
export { CMDLINE_LABEL } from "./lib/loader/cmdline.ts";
export { type ByteSink, type DecodeOptions, type DecodeResult } from "./lib/compress/sink.ts";
export { type PayloadCompression } from "./lib/loader/extract.ts";
export { type PayloadMethod } from "./lib/loader/payload.ts";
export {
  CPIO_NEWC_HEADER_SIZE,
  CPIO_NEWC_MAGIC,
  CPIO_TRAILER,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "./lib/cpio.ts";
export { DETECT_BYTES } from "./lib/loader/mod.ts";
export {
  type BootParamsOptions,
  checkBootRange,
  decodeBootParams,
  type DecodedBootParams,
  type E820EntryInit,
  encodeBootParams,
} from "./lib/configurator/linux.ts";
export {
  encodeMemmapEntry,
  encodeModlistEntry,
  encodeStartInfo,
  type MemmapEntryInit,
  type ModlistEntryInit,
  type StartInfoOptions,
} from "./lib/configurator/pvh.ts";
export { FDT_MAX_SIZE } from "./lib/configurator/fdt.ts";
export { MULTIBOOT_DEFAULT_BOOT_LOADER_NAME } from "./lib/configurator/multiboot.ts";
export {
  BOOT_GDT_SELECTORS,
  GDT_FLAGS,
  X86_CR0_ET,
  X86_CR0_NE,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR4_PAE,
  X86_EFER_LMA,
  X86_EFER_LME,
  X86_MSR_EFER,
  X86_RFLAGS_DEFAULT,
} from "./lib/boot/x86_64.ts";
export {
  AARCH64_DTB_ALIGN,
  AARCH64_HCR_EL2_RW,
  AARCH64_PSTATE_EL1H_DAIF,
  AARCH64_SCR_EL3_NS_RW,
  AARCH64_SCTLR_EL1_MMU_OFF,
  AARCH64_SYSREGS,
  type Aarch64SysRegEncoding,
} from "./lib/boot/aarch64.ts";
export { VERSION_SCAN_LIMIT } from "./lib/inspect.ts";
export { encodeE820Table, encodeHvmMemmap, type MemmapEncodeOptions, type MemmapEntry } from "./lib/boot/memmap.ts";
export {
  ABOVE_4G_PROTOCOL,
  INITRD_ADDR_MAX_DEFAULT,
  INITRD_ADDR_MAX_PROTOCOL,
  INITRD_DEFAULT_ALIGN,
  INITRD_MIN_PROTOCOL,
} from "./lib/boot/initrd.ts";
export { RNG_SEED_DEFAULT_SIZE } from "./lib/boot/setup_data.ts";
export {
  CMDLINE_SIZE_DEFAULT,
  ELF_KERNEL_ALIGNMENT,
  VID_MODE_NORMAL,
  X86_64_INITRD_ADDR_MAX,
  X86_CMDLINE_SIZE,
  ZERO_PAGE_PROTOCOL,
} from "./lib/boot/zero_page.ts";
export { DTB_MAX_SIZE } from "./lib/loader/pe.ts";
export { MULTIBOOT_SUPPORTED_REQUIRED_FLAGS } from "./lib/loader/multiboot.ts";
export {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_MAX_NAME_LENGTH,
  FDT_MIN_READ_VERSION,
  FDT_NOP,
  FDT_PROP,
  FDT_PROP_HEADER_SIZE,
  FDT_RESERVE_ENTRY,
  FDT_RSVMAP_ALIGN,
  FDT_TOKEN_ALIGN,
  FDT_VERSION,
  type FdtHeader,
  type FdtReserveEntry,
} from "./lib/fdt/header.ts";
export {
  GIC_PPI,
  GIC_SPI,
  IRQ_TYPE_LEVEL_HIGH,
  IRQ_TYPE_LEVEL_LOW,
  VIRT_GIC_CPU_BASE,
  VIRT_GIC_DIST_BASE,
  VIRT_NS16550_BASE,
  VIRT_PL011_BASE,
} from "./lib/fdt/nodes.ts";
