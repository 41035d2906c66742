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

export {
  AbiError,
  type AbiErrorCode,
  BzImageError,
  type BzImageErrorCode,
  CmdlineError,
  type CmdlineErrorCode,
  ConfiguratorError,
  type ConfiguratorErrorCode,
  CpioError,
  type CpioErrorCode,
  DecompressError,
  type DecompressErrorCode,
  ElfError,
  type ElfErrorCode,
  EmulatorError,
  type EmulatorErrorCode,
  type ErrorDetails,
  FdtError,
  type FdtErrorCode,
  hex,
  KernelLoaderError,
  type KernelLoaderErrorCode,
  LinuxLoaderError,
  MemoryError,
  type MemoryErrorCode,
  MultibootError,
  type MultibootErrorCode,
  PeError,
  type PeErrorCode,
  PlanJsonError,
  type PlanJsonErrorCode,
  SourceError,
  type SourceErrorCode,
} from "./lib/errors.ts";
export { GuestMemory, GuestMemoryRegion, type MemoryBacking, type RegionSpec } from "./lib/memory.ts";
export {
  checkSourceRange,
  fromBlob,
  fromBytes,
  fromFile,
  type FromFileOptions,
  type KernelSource,
  readBytes,
  type SeekableFile,
  toSafeNumber,
  toSource,
} from "./lib/source.ts";
export {
  applyPlan,
  applyPlanSync,
  type BytesStep,
  checkNoOverlap,
  type CopyStep,
  type FillStep,
  type Plan,
  type PlannedRange,
  plannedRanges,
  type PlanStep,
  stepLength,
  validatePlan,
} from "./lib/plan.ts";
export { BootParams } from "./lib/configurator/mod.ts";
export { Cmdline } from "./lib/cmdline.ts";
export { loadCmdline, planCmdline } from "./lib/loader/cmdline.ts";
export {
  decodeLz4,
  decodeLz4Block,
  decodeLz4Legacy,
  type Lz4LegacyOptions,
  type Lz4LegacyResult,
  type Lz4Result,
} from "./lib/compress/lz4.ts";
export { gunzip, type GunzipOptions, gunzipPrefix, isGzip } from "./lib/compress/gzip.ts";
export {
  BufferSink,
  type ByteSink,
  checkMaxOutput,
  CountingSink,
  type DecodeOptions,
  type DecodeResult,
  type StreamDecoder,
} from "./lib/compress/sink.ts";
export { type Bzip2Options, decodeBzip2 } from "./lib/compress/bzip2.ts";
export { decodeLzo, type LzoOptions } from "./lib/compress/lzo.ts";
export { decodeDeflate, decodeGzip, type GzipResult, type InflateOptions } from "./lib/compress/inflate.ts";
export { decodeXz, isXz, type XzResult } from "./lib/compress/xz.ts";
export { decodeLzma, isLzma, type LzmaResult } from "./lib/compress/lzma.ts";
export { decodeZstd, isZstd } from "./lib/compress/zstd.ts";
export {
  type BzImagePayload,
  detectCompression,
  type ExtractOptions,
  extractVmlinux,
  findBzImagePayload,
  type PayloadCompression,
} from "./lib/loader/extract.ts";
export {
  decompressIntoGuest,
  decompressPayload,
  type GuestDecodeStrategy,
  isZeroRange,
  type PayloadMethod,
  payloadPrefix,
} from "./lib/loader/payload.ts";
export { decodeZbootHeader, isZboot, type ZbootHeader } from "./lib/loader/zboot.ts";
export {
  type CpioCommon,
  type CpioDevice,
  type CpioDirectory,
  type CpioEntry,
  type CpioFile,
  type CpioRecord,
  type CpioSymlink,
  type CpioWriteOptions,
  readCpio,
  writeCpio,
} from "./lib/cpio.ts";
export { type SetupHeader } from "./lib/abi/bootparam.ts";
export { type Elf64Ehdr, type Elf64Phdr } from "./lib/abi/elf.ts";
export { type Aarch64ImageHeader, type Riscv64ImageHeader } from "./lib/abi/image.ts";
export { type Multiboot2Header, type MultibootHeader } from "./lib/abi/multiboot.ts";
export {
  type DetectedKernel,
  detectKernel,
  loadKernel,
  type LoadKernelOptions,
  type LoadResult,
  planKernel,
} from "./lib/loader/mod.ts";
export { LinuxBootConfigurator, planLinuxBoot } from "./lib/configurator/linux.ts";
export {
  type MemmapEntryInit,
  type ModlistEntryInit,
  planPvhBoot,
  PvhBootConfigurator,
  pvhBootParams,
  type PvhBootParamsOptions,
} from "./lib/configurator/pvh.ts";
export { FdtBootConfigurator, planFdtBoot } from "./lib/configurator/fdt.ts";
export {
  checkMultibootModules,
  checkMultibootRange,
  configureMultiboot,
  type MultibootCheckedModule,
  multibootCString,
  type MultibootInfoOptions,
  type MultibootInfoResult,
  multibootMemoryMap,
  type MultibootMemoryRange,
  type MultibootMemorySizes,
  multibootMemorySizes,
  type MultibootModuleSpec,
  multibootModuleSteps,
  planMultibootInfo,
} from "./lib/configurator/multiboot.ts";
export { configureMultiboot2, planMultiboot2Info } from "./lib/configurator/multiboot2.ts";
export {
  gdtEntry,
  LINUX32_BOOT_SELECTORS,
  segmentFromGdtEntry,
  type X86BootSetup,
  type X86CpuState,
  x86Linux32Boot,
  type X86Linux32Options,
  x86LongModeBoot,
  type X86LongModeOptions,
  x86PvhBoot,
  type X86PvhOptions,
  type X86Segment,
  type X86Segments,
  type X86TableRegister,
} from "./lib/boot/x86_64.ts";
export {
  type Aarch64BootOptions,
  type Aarch64CpuState,
  aarch64LinuxBoot,
  type Aarch64SysRegEncoding,
  type Aarch64SysRegValue,
} from "./lib/boot/aarch64.ts";
export { type Riscv64BootOptions, type Riscv64CpuState, riscv64LinuxBoot } from "./lib/boot/riscv64.ts";
export { escapeImageText, inspectKernel, type KernelReport, type LoadRange, VIRT_RAM_BASE } from "./lib/inspect.ts";
export {
  type BytesStepJson,
  comparePlans,
  type CopyStepJson,
  type DescribedPlan,
  type FillStepJson,
  PLAN_JSON_FORMAT,
  PLAN_JSON_VERSION,
  type PlanDifference,
  planFromJson,
  type PlanJson,
  type PlanStepJson,
  planToJson,
  type PlanToJsonOptions,
} from "./lib/plan_json.ts";
export {
  buildMemmap,
  type MemmapEntry,
  type MemmapOptions,
  type ReservedRange,
  splitE820,
  X86_LEGACY_HOLE,
} from "./lib/boot/memmap.ts";
export {
  canLoadAbove4G,
  chosenInitrd,
  initrdAddrMax,
  type InitrdHeader,
  type InitrdPlacement,
  loadInitrd,
  placeInitrd,
  type PlaceInitrdOptions,
  planInitrd,
  pvhInitrdEntry,
  pvhInitrdModule,
  writeZeroPageInitrd,
  type ZeroPageInitrdFields,
  zeroPageInitrdFields,
} from "./lib/boot/initrd.ts";
export {
  dtbSetupData,
  e820ExtSetupData,
  planSetupData,
  readSetupData,
  rngSeedSetupData,
  type SetupDataEntry,
  type SetupDataLayout,
  type SetupDataNode,
  type SetupDataOptions,
  writeSetupData,
} from "./lib/boot/setup_data.ts";
export {
  buildZeroPage,
  elfSetupHeader,
  type LoaderId,
  protocolVersion,
  zeroPageBootParams,
  type ZeroPageOptions,
} from "./lib/boot/zero_page.ts";
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
  type MultibootAddressFields,
  type MultibootDetails,
  type MultibootLoadResult,
  planMultiboot,
  planMultiboot2,
} from "./lib/loader/multiboot.ts";
export {
  type KernelArch,
  type KernelEntries,
  type KernelFormat,
  type LoadOptions,
  type LoadResultCommon,
} from "./lib/loader/contract.ts";
export { type FdtHeader } from "./lib/fdt/header.ts";
export {
  fdtCells,
  type FdtNode,
  type FdtProperty,
  type FdtReservation,
  fdtString,
  fdtStringList,
  type FdtTree,
  fdtU32,
  fdtU64,
  findNode,
  getProperty,
} from "./lib/fdt/tree.ts";
export { buildFdt, FdtBuilder, type FdtBuilderOptions } from "./lib/fdt/builder.ts";
export { type FdtBlob, readFdt, readFdtHeader } from "./lib/fdt/reader.ts";
export {
  addArmv8Timer,
  addChosen,
  addCpus,
  addFixedClock,
  addGicV2,
  addMemoryNodes,
  addNs16550,
  addPl011,
  addPsci,
  buildVmFdt,
  type ChosenOptions,
  type CpusOptions,
  type FdtArch,
  type GicV2Options,
  type Ns16550Options,
  type Pl011Options,
  type VmFdtOptions,
} from "./lib/fdt/nodes.ts";
