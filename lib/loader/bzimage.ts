/**
 * bzImage loader for x86, following the Linux x86 boot protocol
 * (https://www.kernel.org/doc/html/latest/arch/x86/boot.html) with the checks and error codes of
 * rust-vmm linux-loader's `loader::bzimage`. The real-mode setup (`setup_sects + 1` sectors, the setup
 * header at 0x1f1) stays in the image; the protected-mode part that follows is copied to guest memory at
 * the `loadAddress` option or the header's `code32_start`, and the setup header is returned for the VMM to
 * copy into `boot_params.hdr` (`details.setupHeader`).
 *
 * Beyond the crate: {@linkcode decodeBzImage} exposes the protocol fields that tell where a kernel may go
 * (`relocatable_kernel`, `kernel_alignment`, `pref_address`, `init_size`, `xloadflags`), each only when the
 * image's protocol version defines it, and {@linkcode bzImagePlacement} picks a load address that honours
 * them and leaves room for `init_size`.
 *
 * @module
 */

import {
  BOOT_FLAG_MAGIC,
  BOOT_PROTOCOL,
  DEFAULT_CODE32_START,
  DEFAULT_SETUP_SECTS,
  HDRS_MAGIC,
  LOADED_HIGH,
  MIN_BOOT_PROTOCOL,
  SECTOR_SIZE,
  SETUP_HEADER,
  SETUP_HEADER_END_BASE,
  SETUP_HEADER_JUMP_DISPLACEMENT_OFFSET,
  SETUP_HEADER_OFFSET,
  type SetupHeader,
  STARTUP_64_OFFSET,
  XLF_KERNEL_64,
} from "../abi/bootparam.ts";
import { BzImageError, hex, KernelLoaderError, LinuxLoaderError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import {
  checkAddressOption,
  checkArch,
  checkLoadOptions,
  type KernelArch,
  type KernelEntries,
  type LoadOptions,
  type LoadResultCommon,
  NO_OPTIONS,
} from "./contract.ts";
import { applyOwnPlan, validatePlan } from "../plan.ts";
import { readSetupHeader, u16le, u32le } from "../abi/le.ts";
import { type KernelSource, readBytes, syncReader, toSource } from "../source.ts";
import { requireNumber, requireObject } from "../guard.ts";

/** What a bzImage's setup header says, decoded and checked. */
export interface BzImageInfo {
  /** The setup header as stored in the image (short images are zero-padded, as the crate reads them). */
  setupHeader: SetupHeader;
  /** Boot protocol version, e.g. 0x020f. */
  version: number;
  /** Setup sectors after the boot sector (`setup_sects`, 0 read as 4). */
  setupSects: number;
  /** Bytes of real-mode setup, boot sector included: `(setupSects + 1) * 512`; the protected-mode part starts here. */
  setupSize: number;
  /** Bytes of the protected-mode part: the image size minus `setupSize`. */
  kernelSize: number;
  /** One past the last byte of the setup header in the image (0x202 + the byte at 0x201). */
  headerEnd: number;
  /** `code32_start`: the default load address. */
  code32Start: number;
  /** Whether the kernel may be loaded at any suitably aligned address (protocol 2.05+). */
  relocatable: boolean;
  /** `kernel_alignment` (2.05+). */
  kernelAlignment?: number;
  /** `1 << min_alignment` (2.10+). */
  minAlignment?: number;
  /** `pref_address` (2.10+). */
  prefAddress?: number;
  /** `init_size`: memory the kernel needs from its runtime start (2.10+). */
  initSize?: number;
  /** `xloadflags` (2.12+), 0 before. */
  xloadflags: number;
  /** `cmdline_size` (2.06+); 255 before, as the protocol says. */
  cmdlineSize: number;
  /** `initrd_addr_max` (2.03+); 0x37ffffff before, as the protocol says. */
  initrdAddrMax: number;
}

/** The bzImage facts of a load: {@linkcode BzImageLoadResult.details}. */
export interface BzImageDetails {
  /** The header facts, as the image has them. */
  info: BzImageInfo;
  /**
   * The setup header to give the kernel in `boot_params.hdr`: as in the image up to the header's end
   * (0x202 + the byte at 0x201; zeros past it), with `code32_start` set to the load address.
   */
  setupHeader: SetupHeader;
}

/**
 * What {@linkcode planBzImage} and {@linkcode loadBzImage} return: the common fields of every loader
 * ({@linkcode LoadResultCommon}) with `entry.linux32` = the load address, `entry.linux64` = load address +
 * 0x200 for a 64-bit kernel, and `kernelEnd` covering `init_size` from the kernel's runtime start.
 */
export interface BzImageLoadResult extends LoadResultCommon {
  /** Always `"bzimage"`. */
  format: "bzimage";
  /** The decoded header and the setup header for `boot_params`. */
  details: BzImageDetails;
}

/**
 * Whether a bzImage is a 64-bit kernel, from its header. boot.rst, `xloadflags` bit 0 (`XLF_KERNEL_64`):
 * "This kernel has the legacy 64-bit entry point at 0x200." A header older than 2.12 cannot say; it is
 * taken as 64-bit, as loaders did before the flag existed.
 *
 * @example
 * ```ts
 * import { bzImageArch } from "@linux-loader/linux-loader";
 * console.log(bzImageArch({ version: 0x20f, xloadflags: 1 }), bzImageArch({ version: 0x20f, xloadflags: 0 })); // x86_64 i386
 * ```
 */
export function bzImageArch(info: Pick<BzImageInfo, "version" | "xloadflags">): KernelArch {
  requireObject(info, "info", BzImageError, "InvalidArgument");
  requireNumber(info.version, "info.version", BzImageError, "InvalidArgument");
  if (info.version < BOOT_PROTOCOL.XLOADFLAGS) return "x86_64";
  requireNumber(info.xloadflags, "info.xloadflags", BzImageError, "InvalidArgument");
  return archOf(info.version, info.xloadflags);
}

// bzImageArch of checked numbers (the load's own decode: no guards to run cold after the previous copy).
function archOf(version: number, xloadflags: number): KernelArch {
  return version < BOOT_PROTOCOL.XLOADFLAGS || (xloadflags & XLF_KERNEL_64) !== 0 ? "x86_64" : "i386";
}

/**
 * The entry points of a bzImage loaded at `load`. boot.rst, `code32_start`: "The address to jump to in
 * protected mode. This defaults to the load address of the kernel"; 64-bit boot protocol: "the 64-bit kernel
 * entry point, which is the start address of loaded 64-bit kernel plus 0x200" (only for a 64-bit kernel,
 * {@linkcode bzImageArch}).
 *
 * @example
 * ```ts
 * import { bzImageEntries } from "@linux-loader/linux-loader";
 * console.log(bzImageEntries({ version: 0x20f, xloadflags: 1 }, 0x100000)); // { linux64: 1049088, linux32: 1048576 }
 * ```
 */
export function bzImageEntries(info: Pick<BzImageInfo, "version" | "xloadflags">, load: number): KernelEntries {
  requireObject(info, "info", BzImageError, "InvalidArgument");
  requireNumber(load, "load", BzImageError, "InvalidArgument");
  return entriesOf(bzImageArch(info), load);
}

function entriesOf(arch: KernelArch, load: number): KernelEntries {
  return arch === "x86_64" ? { linux64: load + STARTUP_64_OFFSET, linux32: load } : { linux32: load };
}

const MAX = Number.MAX_SAFE_INTEGER;
const MAX_BIG = BigInt(MAX);
// Where isBzImage finds the boot sector signature and "HdrS" in an image.
const BOOT_FLAG_AT = SETUP_HEADER_OFFSET + SETUP_HEADER.offsetOf("boot_flag");
const HDRS_AT = SETUP_HEADER_OFFSET + SETUP_HEADER.offsetOf("header");

/**
 * Cheap format check: the boot sector signature 0xAA55 at 0x1fe and "HdrS" at 0x202.
 *
 * @example
 * ```ts
 * import { isBzImage } from "@linux-loader/linux-loader";
 * console.log(isBzImage(new Uint8Array(512))); // false
 * ```
 */
export function isBzImage(bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < HDRS_AT + 4) return false;
  return u16le(bytes, BOOT_FLAG_AT) === BOOT_FLAG_MAGIC && u32le(bytes, HDRS_AT) === HDRS_MAGIC;
}

function invalid(field: keyof SetupHeader, value: number, limit: number, why: string): BzImageError {
  return new BzImageError("InvalidBzImage", `setup header ${field} = ${hex(value)}: ${why}`, { field, value, limit });
}

/**
 * Reads and checks a bzImage's setup header, without touching guest memory. Checks, in the crate's
 * order: "HdrS" magic, protocol version >= 2.00, `LOADED_HIGH`, image larger than its setup
 * (`Underflow`); then the boot sector signature 0xAA55 (which the crate does not check).
 *
 * @example
 * ```ts
 * import { decodeBzImage } from "@linux-loader/linux-loader";
 * import { SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const image = new Uint8Array(5 * 512 + 16);
 * image.set(SETUP_HEADER.encode({ boot_flag: 0xaa55, header: 0x53726448, version: 0x20f, loadflags: 1 }), 0x1f1);
 * const info = await decodeBzImage(image);
 * console.log(info.setupSize, info.kernelSize); // 2560 16
 * ```
 */
export async function decodeBzImage(input: KernelSource | Uint8Array): Promise<BzImageInfo> {
  return (await decodeBzImageHeader(toSource(input))).info;
}

// decodeBzImage, and the setup header's bytes as read (zero past the end of a short file): synchronous when the
// header can be read without waiting (bytes in memory, a file with a synchronous read), a promise otherwise.
// A small load then awaits nothing before its copy (each await is a microtask, and more code run cold after
// the previous load's copy emptied the caches).
type HeaderDecode = { info: BzImageInfo; raw: Uint8Array };

function decodeBzImageHeader(src: KernelSource): HeaderDecode | Promise<HeaderDecode> {
  const size = src.size;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new BzImageError("SeekBzImageEnd", `the image's size ${String(size)} is not a valid byte count`, {
      field: "size",
      value: String(size),
    });
  }
  if (size < SETUP_HEADER_OFFSET) {
    throw new BzImageError(
      "SeekBzImageHeader",
      `the ${size}-byte image ends before the setup header at ${hex(SETUP_HEADER_OFFSET)}`,
      { field: "size", value: size, limit: SETUP_HEADER_OFFSET },
    );
  }
  // As the crate: read what the file holds of the header; a shorter file leaves the rest zero.
  const held = Math.min(SETUP_HEADER.size, size - SETUP_HEADER_OFFSET);
  const bytes = src.bytes;
  // In memory and whole: a view of the image, only decoded (no buffer, no await).
  if (bytes !== undefined && held === SETUP_HEADER.size) {
    return checkSetupHeader(size, bytes.subarray(SETUP_HEADER_OFFSET, SETUP_HEADER_OFFSET + held));
  }
  const raw = new Uint8Array(SETUP_HEADER.size);
  let readSync;
  try {
    readSync = syncReader(src);
    if (bytes !== undefined) raw.set(bytes.subarray(SETUP_HEADER_OFFSET, SETUP_HEADER_OFFSET + held));
    else if (readSync !== undefined) readSync(SETUP_HEADER_OFFSET, raw.subarray(0, held)); // a file: no await
  } catch (e) {
    throw headerReadFailed(e);
  }
  if (bytes !== undefined || readSync !== undefined) return checkSetupHeader(size, raw);
  return readHeaderAsync(src, size, held, raw);
}

async function readHeaderAsync(src: KernelSource, size: number, held: number, raw: Uint8Array): Promise<HeaderDecode> {
  try {
    raw.set(await readBytes(src, SETUP_HEADER_OFFSET, held));
  } catch (e) {
    throw headerReadFailed(e);
  }
  return checkSetupHeader(size, raw);
}

function headerReadFailed(e: unknown): BzImageError {
  return new BzImageError("ReadBzImageHeader", `reading the setup header failed: ${(e as Error).message}`, {
    cause: e,
  });
}

// The checks of decodeBzImage on the header's bytes, for an image of `size` bytes.
function checkSetupHeader(size: number, raw: Uint8Array): HeaderDecode {
  const h = readSetupHeader(raw, 0); // raw is SETUP_HEADER.size bytes long
  if (h.header !== HDRS_MAGIC) throw invalid("header", h.header, HDRS_MAGIC, `not "HdrS" (${hex(HDRS_MAGIC)})`);
  if (h.version < MIN_BOOT_PROTOCOL) {
    throw invalid("version", h.version, MIN_BOOT_PROTOCOL, `boot protocol older than ${hex(MIN_BOOT_PROTOCOL)}`);
  }
  if ((h.loadflags & LOADED_HIGH) === 0) {
    throw invalid("loadflags", h.loadflags, LOADED_HIGH, "LOADED_HIGH (bit 0) is clear: a zImage, not a bzImage");
  }
  const setupSects = h.setup_sects === 0 ? DEFAULT_SETUP_SECTS : h.setup_sects;
  const setupSize = (setupSects + 1) * SECTOR_SIZE;
  if (size < setupSize) {
    throw new BzImageError(
      "Underflow",
      `the ${size}-byte image is smaller than its ${setupSize}-byte real-mode setup (setup_sects ${h.setup_sects})`,
      { field: "setup_sects", value: setupSize, limit: size },
    );
  }
  if (size === setupSize) {
    throw new BzImageError(
      "Underflow",
      `the ${size}-byte image is all real-mode setup (setup_sects ${h.setup_sects}): it has no protected-mode kernel`,
      { field: "setup_sects", value: setupSize, limit: size - 1 },
    );
  }
  if (h.boot_flag !== BOOT_FLAG_MAGIC) {
    throw invalid("boot_flag", h.boot_flag, BOOT_FLAG_MAGIC, `not the boot sector signature ${hex(BOOT_FLAG_MAGIC)}`);
  }
  const v = h.version;
  const jumpDisplacement = raw[SETUP_HEADER_JUMP_DISPLACEMENT_OFFSET - SETUP_HEADER_OFFSET];
  let prefAddress: number | undefined;
  if (v >= BOOT_PROTOCOL.PREF_ADDRESS) {
    if (h.pref_address > MAX_BIG) {
      throw new BzImageError("Overflow", `setup header pref_address ${hex(h.pref_address)} passes ${hex(MAX)}`, {
        field: "pref_address",
        value: h.pref_address,
        limit: MAX,
      });
    }
    prefAddress = Number(h.pref_address);
  }
  const info: BzImageInfo = {
    setupHeader: h,
    version: v,
    setupSects,
    setupSize,
    kernelSize: size - setupSize,
    headerEnd: SETUP_HEADER_END_BASE + jumpDisplacement,
    code32Start: h.code32_start,
    relocatable: v >= BOOT_PROTOCOL.RELOCATABLE && h.relocatable_kernel !== 0,
    kernelAlignment: v >= BOOT_PROTOCOL.RELOCATABLE ? h.kernel_alignment : undefined,
    minAlignment: v >= BOOT_PROTOCOL.PREF_ADDRESS ? pow2(h.min_alignment) : undefined,
    prefAddress,
    initSize: v >= BOOT_PROTOCOL.PREF_ADDRESS ? h.init_size : undefined,
    xloadflags: v >= BOOT_PROTOCOL.XLOADFLAGS ? h.xloadflags : 0,
    cmdlineSize: v >= BOOT_PROTOCOL.CMDLINE_SIZE ? h.cmdline_size : 255,
    initrdAddrMax: v >= BOOT_PROTOCOL.INITRD_ADDR_MAX ? h.initrd_addr_max : 0x37ffffff,
  };
  return { info, raw };
}

/**
 * One past the last setup header byte (relative to the header's start at 0x1f1) that {@linkcode decodeBzImage}
 * reads for an image of protocol `version`: `code32_start` (2.00), `initrd_addr_max` (2.03),
 * `relocatable_kernel` (2.05), `cmdline_size` (2.06), `init_size` (2.10).
 */
function versionFieldsEnd(version: number): number {
  if (version >= BOOT_PROTOCOL.PREF_ADDRESS) return FIELDS_END.init_size;
  if (version >= BOOT_PROTOCOL.CMDLINE_SIZE) return FIELDS_END.cmdline_size;
  if (version >= BOOT_PROTOCOL.RELOCATABLE) return FIELDS_END.relocatable_kernel;
  if (version >= BOOT_PROTOCOL.INITRD_ADDR_MAX) return FIELDS_END.initrd_addr_max;
  return FIELDS_END.code32_start;
}

// The ends versionFieldsEnd gives, looked up once (SETUP_HEADER.offsetOf is a Map lookup).
const fieldEnd = (field: keyof SetupHeader, bytes: number): number => SETUP_HEADER.offsetOf(field) + bytes;
const FIELDS_END = {
  init_size: fieldEnd("init_size", 4),
  cmdline_size: fieldEnd("cmdline_size", 4),
  relocatable_kernel: fieldEnd("relocatable_kernel", 1),
  initrd_addr_max: fieldEnd("initrd_addr_max", 4),
  code32_start: fieldEnd("code32_start", 4),
} as const;

/**
 * Decodes a bzImage and plans the copy of its protected-mode part, checked against guest memory, without
 * writing. Errors as {@linkcode loadBzImage}.
 *
 * @example
 * ```ts
 * import { GuestMemory, planBzImage } from "@linux-loader/linux-loader";
 * import { SETUP_HEADER, XLF_KERNEL_64 } from "@linux-loader/linux-loader/abi";
 * const image = new Uint8Array(5 * 512 + 16);
 * image.set(SETUP_HEADER.encode({
 *   boot_flag: 0xaa55, header: 0x53726448, version: 0x20f, loadflags: 1, code32_start: 0x100000,
 *   xloadflags: XLF_KERNEL_64,
 * }), 0x1f1);
 * const p = await planBzImage(GuestMemory.fromRanges([[0, 4 << 20]]), image);
 * console.log(p.loadStart.toString(16), p.entry.linux64?.toString(16), p.plan.steps[0].kind); // 100000 100200 copy
 * ```
 */
export async function planBzImage(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadOptions = NO_OPTIONS,
): Promise<BzImageLoadResult> {
  const r = await decodeLoad(toSource(input), opts);
  validatePlan(mem, r.plan);
  return r;
}

/**
 * {@linkcode planBzImage} without the check against guest memory: what inspection uses. Internal: `mod.ts`
 * does not re-export it.
 */
export async function decodeBzImageLoad(
  src: KernelSource,
  opts: LoadOptions = NO_OPTIONS,
): Promise<BzImageLoadResult> {
  return await decodeLoad(src, opts);
}

// decodeBzImageLoad, synchronous when the header is (see decodeBzImageHeader); the same checks in the same order.
function decodeLoad(src: KernelSource, opts: LoadOptions): BzImageLoadResult | Promise<BzImageLoadResult> {
  checkLoadOptions("bzimage", opts);
  const h = decodeBzImageHeader(src);
  return h instanceof Promise ? h.then((d) => placeLoad(d, opts)) : placeLoad(h, opts);
}

// The load's placement and result from the decoded header.
function placeLoad({ info, raw }: HeaderDecode, opts: LoadOptions): BzImageLoadResult {
  const arch = archOf(info.version, info.xloadflags);
  checkArch(arch, opts);
  const load = opts.loadAddress ?? protectedModeAddress(info);
  const field = opts.loadAddress === undefined ? "code32_start" : "loadAddress";
  if (opts.highmemStart !== undefined && load < opts.highmemStart) {
    throw new KernelLoaderError(
      "InvalidKernelStartAddress",
      `bzImage load address ${hex(load)} (${field}) is below the high memory start ${hex(opts.highmemStart)}`,
      { field, value: load, limit: opts.highmemStart },
    );
  }
  const end = load + info.kernelSize;
  if (end > MAX) {
    throw new KernelLoaderError(
      "MemoryOverflow",
      `bzImage kernel end ${hex(load)} + ${hex(info.kernelSize)} passes ${hex(MAX)}`,
      { field, value: end, limit: MAX },
    );
  }
  // As the crate: the header handed back says where the protected-mode code really is (low 32 bits).
  // boot.rst: "The end of setup header can be calculated as follows: 0x0202 + byte value at offset 0x0201".
  // What lies past it in an older kernel's image is real-mode code, not header fields: the kernel gets zeros.
  // The fields the protocol version defines, which decodeBzImage checked and decoded, are handed over as
  // they are even when the jump byte says the header ends earlier: the VMM gets what was validated.
  // `raw` is SETUP_HEADER.encode(info.setupHeader) byte for byte: the field table tiles all 0x7b bytes.
  // A current kernel's header covers all of them (nothing to zero): the decoded header as it is.
  const cut = Math.max(0, info.headerEnd - SETUP_HEADER_OFFSET, versionFieldsEnd(info.version));
  let setupHeader: SetupHeader;
  if (cut >= SETUP_HEADER.size) setupHeader = { ...info.setupHeader };
  else {
    const given = raw.slice();
    given.fill(0, cut);
    setupHeader = SETUP_HEADER.decode(given);
  }
  setupHeader.code32_start = load % 2 ** 32;
  return {
    format: "bzimage",
    arch,
    entry: entriesOf(arch, load),
    loadStart: load,
    loadEnd: end,
    kernelEnd: Math.max(end, runtimeEnd(info, load)),
    plan: {
      steps: [{
        kind: "copy",
        guestAddr: load,
        length: info.kernelSize,
        sourceOffset: info.setupSize,
        label: "bzImage protected-mode kernel",
      }],
    },
    details: { info, setupHeader },
  };
}

// One past what the kernel claims from its runtime start: boot.rst, init_size: "the amount of linear
// contiguous memory starting at the kernel runtime start address that the kernel needs before it is capable
// of examining its memory map". A relocatable kernel runs at its load address rounded up to
// kernel_alignment, never below LOAD_PHYSICAL_ADDR (pref_address; head_64.S moves it up); one that is not
// relocatable runs at pref_address. Capped at 2^53 - 1 (the sum is information, not a write).
function runtimeEnd(info: BzImageInfo, load: number): number {
  if (info.initSize === undefined) return 0;
  const align = info.kernelAlignment !== undefined && isPow2(info.kernelAlignment) ? info.kernelAlignment : 1;
  const start = info.relocatable
    ? Math.max(Math.ceil(load / align) * align, info.prefAddress ?? 0)
    : info.prefAddress ?? load;
  return Math.min(MAX, start + info.initSize);
}

/**
 * Loads a bzImage's protected-mode part into guest memory: {@linkcode planBzImage}, then the one write.
 * `details.setupHeader` is the header for `boot_params`. A failed check writes nothing; a source failing
 * during the copy is `SourceError` `LoadInterrupted` with every planned byte zeroed (`applyPlan`'s contract).
 *
 * Errors: {@linkcode BzImageError} (`InvalidBzImage`, `Underflow`, `ReadBzImageHeader`, ...),
 * {@linkcode KernelLoaderError} `InvalidKernelStartAddress` (load address below `highmemStart`),
 * `MemoryOverflow` (the kernel does not fit in guest memory), `InvalidOption`, `ArchMismatch`.
 *
 * @example
 * ```ts
 * import { GuestMemory, loadBzImage } from "@linux-loader/linux-loader";
 * import { SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const image = new Uint8Array(5 * 512 + 16).fill(0x90, 5 * 512);
 * image.set(
 *   SETUP_HEADER.encode({ boot_flag: 0xaa55, header: 0x53726448, version: 0x20f, loadflags: 1, code32_start: 0x100000 }),
 *   0x1f1,
 * );
 * const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
 * const r = await loadBzImage(mem, image, { loadAddress: 0x200000 });
 * console.log(r.loadEnd.toString(16), r.details.setupHeader.code32_start.toString(16)); // 200010 200000
 * ```
 */
export async function loadBzImage(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadOptions = NO_OPTIONS,
): Promise<BzImageLoadResult> {
  const src = toSource(input);
  // For bytes in memory or a file read synchronously, no await up to the copy, and none after it for bytes.
  const d = decodeLoad(src, opts);
  const p = d instanceof Promise ? await d : d;
  // planBzImage's validatePlan is part of applyOwnPlan's checks (the one copy step: the same first error).
  try {
    const pending = applyOwnPlan(mem, p.plan, src);
    if (pending !== undefined) await pending;
  } catch (e) {
    // Validation errors and applyPlan's LoadInterrupted (memory scrubbed) pass through as they are.
    if (!(e instanceof LinuxLoaderError)) {
      throw new BzImageError(
        "ReadBzImageCompressedKernel",
        `reading the protected-mode kernel failed: ${(e as Error).message}`,
        { cause: e },
      );
    }
    throw e;
  }
  return p;
}

// Where a bzImage's protected-mode code goes without a load address: code32_start, or 1 MiB when the header
// leaves it 0. boot.rst, code32_start: "The address to jump to in protected mode. This defaults to the load
// address of the kernel"; a LOADED_HIGH image's default load address is 0x100000. Images built outside the
// kernel tree (iPXE's) leave the field 0, and loaders such as QEMU place them at 0x100000 regardless.
function protectedModeAddress(info: BzImageInfo): number {
  return info.code32Start === 0 ? DEFAULT_CODE32_START : info.code32Start;
}

/** Where {@linkcode bzImagePlacement} puts a kernel. */
export interface BzImagePlacement {
  /** Guest address to pass as the `loadAddress` option. */
  loadAddress: number;
  /** Where the kernel will run from (it relocates there before decompressing). */
  runtimeStart: number;
  /** Bytes reserved from `runtimeStart`: `init_size`, or the protected-mode size when larger. */
  reserved: number;
}

function isPow2(n: number): boolean {
  if (!Number.isSafeInteger(n) || n <= 0) return false;
  // A u32 (every alignment field) by its bits; Math.log2 is a libm call, cold right after a load's copy.
  return n <= 0xffff_ffff ? (n & (n - 1)) === 0 : Number.isInteger(Math.log2(n));
}

// 2 ** e for a u8 exponent, without Math.pow (libm) below 2^31.
function pow2(e: number): number {
  return e < 31 ? 1 << e : 2 ** e;
}

/**
 * Chooses a load address for a bzImage in `mem`, as the boot protocol asks a loader to:
 * - a relocatable kernel (2.05+) goes at the lowest address at or above `pref_address` (and
 *   `highmemStart`) aligned to `kernel_alignment` where `max(init_size, kernel size)` bytes of guest
 *   memory are free; at that address the runtime start is the load address itself;
 * - a kernel that is not relocatable is loaded at `code32_start` and runs from `pref_address` (2.10+),
 *   so both ranges must be in memory.
 *
 * Throws {@linkcode BzImageError} `InitSizeTooLarge` when no such place exists, `Overflow` when an
 * aligned address passes 2^53, `InvalidBzImage` when `kernel_alignment` is not a power of two.
 *
 * @example
 * ```ts
 * import { bzImagePlacement, decodeBzImage, GuestMemory } from "@linux-loader/linux-loader";
 * import { SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const image = new Uint8Array(5 * 512 + 16);
 * image.set(SETUP_HEADER.encode({
 *   boot_flag: 0xaa55, header: 0x53726448, version: 0x20f, loadflags: 1, code32_start: 0x100000,
 *   relocatable_kernel: 1, kernel_alignment: 0x200000, pref_address: 0x1000000n, init_size: 0x800000,
 * }), 0x1f1);
 * const info = await decodeBzImage(image);
 * const mem = GuestMemory.fromRanges([[0, 64 << 20]]);
 * console.log(bzImagePlacement(mem, info).loadAddress.toString(16)); // 1000000
 * ```
 */
export function bzImagePlacement(
  mem: GuestMemory,
  info: BzImageInfo,
  opts: { highmemStart?: number } = {},
): BzImagePlacement {
  if (typeof info !== "object" || info === null || typeof info.kernelSize !== "number") {
    throw new BzImageError("InvalidBzImage", "bzImagePlacement needs the BzImageInfo decodeBzImage returns", {
      field: "info",
    });
  }
  checkAddressOption("highmemStart", opts.highmemStart);
  const floor = opts.highmemStart ?? 0;
  const reserved = Math.max(info.initSize ?? 0, info.kernelSize);
  if (!info.relocatable) {
    const load = protectedModeAddress(info);
    const runtime = info.prefAddress ?? load;
    if (load < floor) {
      throw new KernelLoaderError(
        "InvalidKernelStartAddress",
        `bzImage is not relocatable and code32_start ${hex(load)} is below the high memory start ${hex(floor)}`,
        { field: "code32_start", value: load, limit: floor },
      );
    }
    if (!mem.isRange(load, info.kernelSize) || !mem.isRange(runtime, reserved)) {
      throw new BzImageError(
        "InitSizeTooLarge",
        `bzImage is not relocatable: it needs [${hex(load)}, ${hex(load + info.kernelSize)}) and init_size ${
          hex(reserved)
        } bytes from pref_address ${hex(runtime)} in guest memory (last address ${hex(mem.lastAddr)})`,
        { field: "init_size", value: reserved, limit: mem.lastAddr + 1 },
      );
    }
    return { loadAddress: load, runtimeStart: runtime, reserved };
  }
  const align = info.kernelAlignment ?? 1;
  if (!isPow2(align)) {
    throw invalid("kernel_alignment", align, 0, "not a power of two");
  }
  const lowest = Math.max(floor, info.prefAddress ?? 0);
  for (const r of mem.regions) {
    if (r.end <= lowest) continue;
    const start = Math.ceil(Math.max(r.guestAddr, lowest) / align) * align;
    if (start + reserved > MAX) {
      throw new BzImageError("Overflow", `aligned load address ${hex(start)} + ${hex(reserved)} passes ${hex(MAX)}`, {
        field: "kernel_alignment",
        value: start,
        limit: MAX,
      });
    }
    if (mem.isRange(start, reserved)) return { loadAddress: start, runtimeStart: start, reserved };
  }
  throw new BzImageError(
    "InitSizeTooLarge",
    `no ${hex(align)}-aligned guest range at or above ${hex(lowest)} holds init_size ${hex(reserved)} bytes`,
    { field: "init_size", value: reserved, limit: mem.lastAddr + 1 },
  );
}
