/**
 * Initial ramdisk placement and loading, and the three ways a kernel is told where it is, all filled from
 * one {@linkcode InitrdPlacement}:
 * - x86 zero page: `hdr.ramdisk_image` / `hdr.ramdisk_size` and, above 4 GiB, `ext_ramdisk_image` /
 *   `ext_ramdisk_size` (`Documentation/arch/x86/boot.rst`, `zero-page.rst`);
 * - PVH: a `struct hvm_modlist_entry` (Xen's `hvm/start_info.h`);
 * - device tree: `/chosen` `linux,initrd-start` and `linux,initrd-end` (for {@linkcode addChosen}).
 *
 * Placement follows boot.rst, "Field name: initrd_addr_max": "The maximum address that may be occupied by
 * the initial ramdisk/ramfs contents. For boot protocols 2.02 or earlier, this field is not present, and the
 * maximum address is 0x37FFFFFF. (This address is defined as the address of the highest safe byte [...])",
 * and "an initrd should be placed near end of memory" (on `mem=`): the highest aligned address that keeps
 * the whole initrd at or below that byte, above the kernel, inside one guest memory region.
 *
 * @module
 */

import { BOOT_PARAMS, SETUP_HEADER, type SetupHeader, XLF_CAN_BE_LOADED_ABOVE_4G } from "../abi/bootparam.ts";
import { HVM_MODLIST_ENTRY } from "../abi/start_info.ts";
import type { ModlistEntryInit } from "../configurator/pvh.ts";
import { ConfiguratorError, hex, KernelLoaderError } from "../errors.ts";
import type { ChosenOptions } from "../fdt/nodes.ts";
import type { GuestMemory } from "../memory.ts";
import { applyPlan, type Plan } from "../plan.ts";
import { type KernelSource, toSource } from "../source.ts";
import { optionalObject, requireBytes, requireMemory, requireNumber, requireObject } from "../guard.ts";

/** The setup header fields initrd placement reads: a bzImage's whole `SetupHeader` will do. */
export type InitrdHeader = Pick<SetupHeader, "version"> & Partial<Pick<SetupHeader, "initrd_addr_max" | "xloadflags">>;

/** Where an initrd is (or goes) in guest memory. */
export interface InitrdPlacement {
  /** Guest address of the first byte. */
  addr: number;
  /** Size in bytes. */
  size: number;
}

/** Options of {@linkcode placeInitrd}. */
export interface PlaceInitrdOptions {
  /** The kernel's setup header (bzImage, or `elfSetupHeader()` for a vmlinux); without one, the 2.02 rules. */
  header?: InitrdHeader;
  /** One past the last byte the kernel uses (for a bzImage: its runtime start plus `init_size`). */
  kernelEnd: number;
  /** Alignment of the initrd's address, a power of two; 4096 (a page) by default. */
  align?: number;
  /**
   * Allow the initrd above 4 GiB, ignoring `initrd_addr_max`: only for a kernel whose `xloadflags` has
   * `XLF_CAN_BE_LOADED_ABOVE_4G` (protocol 2.12+), else `ConfiguratorError` `ProtocolTooOld`.
   */
  above4G?: boolean;
  /** Guest ranges the initrd must not overlap (zero page, command line, page tables, setup_data). */
  avoid?: readonly { addr: number; size: number }[];
  /**
   * Highest address the initrd's last byte may take, in place of the x86 header's `initrd_addr_max`: for
   * arm64 and riscv64, whose booting documents set no such limit, pass `Number.MAX_SAFE_INTEGER` (or the
   * kernel's own limit). Not to be combined with `header`.
   */
  maxAddr?: number;
}

/**
 * The highest initrd byte for protocols before 2.03 (boot.rst: "the maximum address is 0x37FFFFFF").
 *
 * @example
 * ```ts
 * import { INITRD_ADDR_MAX_DEFAULT } from "@linux-loader/linux-loader/abi";
 * console.log(INITRD_ADDR_MAX_DEFAULT.toString(16)); // 37ffffff
 * ```
 */
export const INITRD_ADDR_MAX_DEFAULT = 0x37ff_ffff;
/**
 * Protocol version that introduced `initrd_addr_max`.
 *
 * @example
 * ```ts
 * import { INITRD_ADDR_MAX_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(INITRD_ADDR_MAX_PROTOCOL.toString(16)); // 203
 * ```
 */
export const INITRD_ADDR_MAX_PROTOCOL = 0x0203;
/**
 * Protocol version that introduced `xloadflags` and the `ext_ramdisk_*` fields for loading above 4 GiB.
 *
 * @example
 * ```ts
 * import { ABOVE_4G_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(ABOVE_4G_PROTOCOL.toString(16)); // 20c
 * ```
 */
export const ABOVE_4G_PROTOCOL = 0x020c;
/**
 * The oldest protocol with initrd support (boot.rst: "Protocol 2.00 [...] Added bzImage and initrd support").
 *
 * @example
 * ```ts
 * import { INITRD_MIN_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(INITRD_MIN_PROTOCOL.toString(16)); // 200
 * ```
 */
export const INITRD_MIN_PROTOCOL = 0x0200;
/**
 * Default initrd alignment: one page.
 *
 * @example
 * ```ts
 * import { INITRD_DEFAULT_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(INITRD_DEFAULT_ALIGN.toString(16)); // 1000
 * ```
 */
export const INITRD_DEFAULT_ALIGN = 0x1000;

const MAX = Number.MAX_SAFE_INTEGER;
const U32 = 2 ** 32;

/**
 * The address of the highest byte an initrd may occupy: `initrd_addr_max` for protocol 2.03+, else
 * 0x37FFFFFF (also without a header).
 *
 * @example
 * ```ts
 * import { initrdAddrMax } from "@linux-loader/linux-loader";
 * console.log(initrdAddrMax({ version: 0x20f, initrd_addr_max: 0x7fffffff }).toString(16)); // 7fffffff
 * console.log(initrdAddrMax({ version: 0x202, initrd_addr_max: 0x7fffffff }).toString(16)); // 37ffffff
 * ```
 */
export function initrdAddrMax(header?: InitrdHeader): number {
  checkHeader(header);
  if (header === undefined || header.version < INITRD_ADDR_MAX_PROTOCOL) return INITRD_ADDR_MAX_DEFAULT;
  return header.initrd_addr_max ?? INITRD_ADDR_MAX_DEFAULT;
}

/**
 * Whether the kernel accepts its initrd (and command line, zero page) above 4 GiB: protocol 2.12+ with
 * `XLF_CAN_BE_LOADED_ABOVE_4G` in `xloadflags` (boot.rst: "If 1, kernel/boot_params/cmdline/ramdisk can be
 * above 4G").
 *
 * @example
 * ```ts
 * import { canLoadAbove4G } from "@linux-loader/linux-loader";
 * console.log(canLoadAbove4G({ version: 0x20f, xloadflags: 0b11 }), canLoadAbove4G({ version: 0x20b })); // true false
 * ```
 */
export function canLoadAbove4G(header?: InitrdHeader): boolean {
  checkHeader(header);
  return header !== undefined && header.version >= ABOVE_4G_PROTOCOL &&
    ((header.xloadflags ?? 0) & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0;
}

function bad(field: string, value: number, limit: number, why: string): KernelLoaderError {
  return new KernelLoaderError("InitrdDoesNotFit", `initrd ${field} = ${String(value)}: ${why}`, {
    field,
    value: String(value),
    limit,
  });
}

function checkInitrdProtocol(header: InitrdHeader | undefined, field: string): void {
  if (header !== undefined && header.version < INITRD_MIN_PROTOCOL) {
    throw new ConfiguratorError(
      "ProtocolTooOld",
      `boot protocol ${hex(header.version)} has no ${field}: initrd support starts at ${hex(INITRD_MIN_PROTOCOL)}`,
      { field, value: header.version, limit: INITRD_MIN_PROTOCOL },
    );
  }
}

function checkAbove4G(header: InitrdHeader | undefined, field: string, value: number): void {
  if (!canLoadAbove4G(header)) {
    const v = header?.version ?? 0;
    throw new ConfiguratorError(
      "ProtocolTooOld",
      `${field} ${hex(value)} needs a kernel that can be loaded above 4 GiB (protocol ${
        hex(ABOVE_4G_PROTOCOL)
      }+ with XLF_CAN_BE_LOADED_ABOVE_4G); this one has protocol ${hex(v)}, xloadflags ${hex(header?.xloadflags ?? 0)}`,
      { field, value: v, limit: ABOVE_4G_PROTOCOL },
    );
  }
}

/**
 * Picks the initrd's address: the highest `align`-aligned address such that the initrd lies in one guest
 * memory region, at or above `kernelEnd`, with its last byte at or below {@linkcode initrdAddrMax} (or
 * anywhere when `above4G` is allowed), and clear of every `avoid` range.
 *
 * Throws {@linkcode KernelLoaderError} `InitrdDoesNotFit` when no such address exists or an option is
 * malformed (size not positive, alignment not a power of two), {@linkcode ConfiguratorError}
 * `ProtocolTooOld` for a protocol before 2.00 (no initrd) or `above4G` on a kernel that cannot take it.
 *
 * @example
 * ```ts
 * import { GuestMemory, placeInitrd } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 1 << 30]]);
 * const header = { version: 0x20f, initrd_addr_max: 0x7fffffff };
 * const p = placeInitrd(mem, 0x12345, { header, kernelEnd: 0x2000000 });
 * console.log(p.addr.toString(16), (p.addr + p.size).toString(16)); // 3ffed000 3ffff345
 * ```
 */
export function placeInitrd(mem: GuestMemory, size: number, opts: PlaceInitrdOptions): InitrdPlacement {
  requireMemory(mem, "mem", ConfiguratorError, "InvalidArgument");
  requireNumber(size, "size", ConfiguratorError, "InvalidArgument");
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const align = opts.align ?? INITRD_DEFAULT_ALIGN;
  if (!Number.isSafeInteger(size) || size <= 0) throw bad("size", size, MAX, "not a positive safe integer");
  if (!Number.isSafeInteger(opts.kernelEnd) || opts.kernelEnd < 0) {
    throw bad("kernelEnd", opts.kernelEnd, MAX, "not a non-negative safe integer");
  }
  if (!Number.isSafeInteger(align) || align <= 0 || 2 ** Math.round(Math.log2(align)) !== align) {
    throw bad("align", align, 2 ** 52, "not a power of two");
  }
  checkInitrdProtocol(opts.header, "ramdisk_image");
  if (opts.above4G === true) checkAbove4G(opts.header, "xloadflags", opts.header?.xloadflags ?? 0);
  if (opts.maxAddr !== undefined) {
    if (!Number.isSafeInteger(opts.maxAddr) || opts.maxAddr < 0) {
      throw bad("maxAddr", opts.maxAddr, MAX, "not a non-negative safe integer");
    }
    if (opts.header !== undefined) {
      throw bad("maxAddr", opts.maxAddr, MAX, "given with a header, whose initrd_addr_max rules");
    }
  }
  const limitEnd = opts.maxAddr !== undefined
    ? opts.maxAddr + 1
    : opts.above4G === true
    ? MAX + 1
    : initrdAddrMax(opts.header) + 1;
  const avoid = (opts.avoid ?? []).filter((r) => r.size > 0);
  const regions = [...mem.regions].reverse();
  for (const r of regions) {
    let top = Math.min(r.end, limitEnd);
    const low = Math.max(r.guestAddr, opts.kernelEnd);
    while (top - low >= size) {
      const addr = Math.floor((top - size) / align) * align;
      if (addr < low) break;
      const hit = avoid.filter((a) => a.addr < addr + size && addr < a.addr + a.size);
      if (hit.length === 0) return { addr, size };
      top = Math.min(...hit.map((a) => a.addr));
    }
  }
  throw new KernelLoaderError(
    "InitrdDoesNotFit",
    `no ${hex(align)}-aligned place for a ${hex(size)}-byte initrd in one guest memory region above the kernel end ${
      hex(opts.kernelEnd)
    } with its last byte at or below ${limitEnd > MAX ? "the end of memory" : hex(limitEnd - 1)}`,
    { field: "initrd_addr_max", value: size, limit: limitEnd - 1 },
  );
}

/**
 * The plan that copies the initrd from `source` to its placement (one copy step, label "initrd").
 * Throws {@linkcode KernelLoaderError} `InitrdDoesNotFit` when the source's size differs from the
 * placement's.
 *
 * @example
 * ```ts
 * import { fromBytes, planInitrd } from "@linux-loader/linux-loader";
 * const plan = planInitrd({ addr: 0x1000000, size: 4 }, await fromBytes(new Uint8Array(4)));
 * console.log(plan.steps[0].kind, plan.steps[0].guestAddr.toString(16)); // copy 1000000
 * ```
 */
export function planInitrd(placement: InitrdPlacement, source: KernelSource | Uint8Array): Plan {
  const src = toSource(source);
  if (src.size !== placement.size) {
    throw bad("size", src.size, placement.size, `the source has ${src.size} bytes, the placement ${placement.size}`);
  }
  return {
    steps: [{ kind: "copy", guestAddr: placement.addr, length: placement.size, sourceOffset: 0, label: "initrd" }],
  };
}

/**
 * Places the initrd (as {@linkcode placeInitrd}, with the source's size) and copies it into guest memory.
 * Checks everything first, so a failed check writes nothing; a source failing during the copy is `SourceError` `LoadInterrupted` with every planned byte zeroed (the failure contract of `applyPlan`).
 *
 * @example
 * ```ts
 * import { GuestMemory, loadInitrd } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 64 << 20]]);
 * const p = await loadInitrd(mem, new Uint8Array([0x30, 0x37, 0x30, 0x37]), { kernelEnd: 0x1000000 });
 * console.log(p.addr.toString(16), mem.readU8(p.addr)); // 3fff000 48
 * ```
 */
export async function loadInitrd(
  mem: GuestMemory,
  source: KernelSource | Uint8Array,
  opts: PlaceInitrdOptions,
): Promise<InitrdPlacement> {
  const src = toSource(source);
  const placement = placeInitrd(mem, src.size, opts);
  await applyPlan(mem, planInitrd(placement, src), src);
  return placement;
}

/** The four zero-page fields that describe an initrd. */
export interface ZeroPageInitrdFields {
  /** `hdr.ramdisk_image`: low 32 bits of the address. */
  ramdisk_image: number;
  /** `hdr.ramdisk_size`: low 32 bits of the size. */
  ramdisk_size: number;
  /** `boot_params.ext_ramdisk_image`: high 32 bits of the address. */
  ext_ramdisk_image: number;
  /** `boot_params.ext_ramdisk_size`: high 32 bits of the size. */
  ext_ramdisk_size: number;
}

/**
 * Splits a placement into the zero page's fields. Nonzero high halves need a kernel that can take an initrd
 * above 4 GiB (protocol 2.12+, `XLF_CAN_BE_LOADED_ABOVE_4G`): otherwise {@linkcode ConfiguratorError}
 * `ProtocolTooOld` naming the version and the field; a protocol before 2.00 has no initrd at all.
 *
 * @example
 * ```ts
 * import { zeroPageInitrdFields } from "@linux-loader/linux-loader";
 * console.log(zeroPageInitrdFields({ addr: 0x1_2000_0000, size: 0x1000 }, { version: 0x20f, xloadflags: 3 }));
 * // { ramdisk_image: 536870912, ramdisk_size: 4096, ext_ramdisk_image: 1, ext_ramdisk_size: 0 }
 * ```
 */
export function zeroPageInitrdFields(placement: InitrdPlacement, header?: InitrdHeader): ZeroPageInitrdFields {
  checkPlacement(placement);
  optionalObject(header, "header", ConfiguratorError, "InvalidArgument");
  checkInitrdProtocol(header, "ramdisk_image");
  const f: ZeroPageInitrdFields = {
    ramdisk_image: placement.addr % U32,
    ramdisk_size: placement.size % U32,
    ext_ramdisk_image: Math.floor(placement.addr / U32),
    ext_ramdisk_size: Math.floor(placement.size / U32),
  };
  if (f.ext_ramdisk_image !== 0) checkAbove4G(header, "ext_ramdisk_image", placement.addr);
  if (f.ext_ramdisk_size !== 0) checkAbove4G(header, "ext_ramdisk_size", placement.size);
  return f;
}

/**
 * Writes the initrd fields into a 4096-byte zero page (`boot_params` bytes), as {@linkcode zeroPageInitrdFields}
 * computes them (same errors).
 *
 * @example
 * ```ts
 * import { writeZeroPageInitrd } from "@linux-loader/linux-loader";
 * import { BOOT_PARAMS, SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const zp = new Uint8Array(BOOT_PARAMS.size);
 * writeZeroPageInitrd(zp, { addr: 0x3000000, size: 0x800 });
 * console.log(SETUP_HEADER.decode(zp, BOOT_PARAMS.offsetOf("hdr")).ramdisk_image.toString(16)); // 3000000
 * ```
 */
export function writeZeroPageInitrd(zeroPage: Uint8Array, placement: InitrdPlacement, header?: InitrdHeader): void {
  requireBytes(zeroPage, "zeroPage", ConfiguratorError, "InvalidArgument");
  checkPlacement(placement);
  optionalObject(header, "header", ConfiguratorError, "InvalidArgument");
  const f = zeroPageInitrdFields(placement, header);
  const dv = new DataView(zeroPage.buffer, zeroPage.byteOffset, zeroPage.byteLength);
  const hdr = BOOT_PARAMS.offsetOf("hdr");
  SETUP_HEADER.set(dv, hdr, "ramdisk_image", f.ramdisk_image);
  SETUP_HEADER.set(dv, hdr, "ramdisk_size", f.ramdisk_size);
  BOOT_PARAMS.set(dv, 0, "ext_ramdisk_image", f.ext_ramdisk_image);
  BOOT_PARAMS.set(dv, 0, "ext_ramdisk_size", f.ext_ramdisk_size);
}

/**
 * The PVH module list entry (`struct hvm_modlist_entry`, 32 bytes) for the initrd: `paddr`, `size`, the
 * module's command line address (0 for none) and `reserved` zero. Linux's PVH entry takes module 0 as its
 * initrd. Pass the bytes to `BootParams.addModule`.
 *
 * @example
 * ```ts
 * import { pvhInitrdModule } from "@linux-loader/linux-loader";
 * import { HVM_MODLIST_ENTRY } from "@linux-loader/linux-loader/abi";
 * const e = HVM_MODLIST_ENTRY.decode(pvhInitrdModule({ addr: 0x3000000, size: 0x800 }));
 * console.log(e.paddr.toString(16), e.size); // 3000000 2048n
 * ```
 */
export function pvhInitrdModule(placement: InitrdPlacement, cmdlineAddr = 0): Uint8Array {
  checkPlacement(placement);
  requireNumber(cmdlineAddr, "cmdlineAddr", ConfiguratorError, "InvalidArgument");
  return HVM_MODLIST_ENTRY.encode({
    paddr: BigInt(placement.addr),
    size: BigInt(placement.size),
    cmdline_paddr: BigInt(cmdlineAddr),
    reserved: 0n,
  });
}

/**
 * The initrd as a module for the PVH configurator's `pvhBootParams({ modules: [...] })` (the same fields as
 * {@linkcode pvhInitrdModule}, before encoding).
 *
 * @example
 * ```ts
 * import { pvhInitrdEntry } from "@linux-loader/linux-loader";
 * console.log(pvhInitrdEntry({ addr: 0x3000000, size: 0x800 })); // { paddr: 50331648, size: 2048, cmdlinePaddr: 0 }
 * ```
 */
export function pvhInitrdEntry(placement: InitrdPlacement, cmdlineAddr = 0): ModlistEntryInit {
  checkPlacement(placement);
  requireNumber(cmdlineAddr, "cmdlineAddr", ConfiguratorError, "InvalidArgument");
  return { paddr: placement.addr, size: placement.size, cmdlinePaddr: cmdlineAddr };
}

/**
 * The `/chosen` initrd properties: `linux,initrd-start` is the first byte, `linux,initrd-end` one past the
 * last (Documentation/devicetree/bindings/chosen.txt). Spread into the FDT teammate's `addChosen` options
 * (or use as `buildVmFdt`'s `initrd: { start: initrdStart, end: initrdEnd }`).
 *
 * @example
 * ```ts
 * import { chosenInitrd } from "@linux-loader/linux-loader";
 * console.log(chosenInitrd({ addr: 0x4800_0000, size: 0x1000 })); // { initrdStart: 1207959552, initrdEnd: 1207963648 }
 * ```
 */
export function chosenInitrd(placement: InitrdPlacement): Required<Pick<ChosenOptions, "initrdStart" | "initrdEnd">> {
  checkPlacement(placement);
  return { initrdStart: placement.addr, initrdEnd: placement.addr + placement.size };
}

// An InitrdPlacement handed in by a JavaScript caller: an object with numeric addr and size.
function checkPlacement(placement: unknown): asserts placement is InitrdPlacement {
  requireObject(placement, "placement", ConfiguratorError, "InvalidArgument");
  const p = placement as Partial<InitrdPlacement>;
  requireNumber(p.addr, "placement.addr", ConfiguratorError, "InvalidArgument");
  requireNumber(p.size, "placement.size", ConfiguratorError, "InvalidArgument");
}

// A setup header handed in by a JavaScript caller: undefined, or an object whose version is a number.
function checkHeader(header: unknown): asserts header is InitrdHeader | undefined {
  optionalObject(header, "header", ConfiguratorError, "InvalidArgument");
  if (header !== undefined) {
    requireNumber((header as Partial<InitrdHeader>).version, "header.version", ConfiguratorError, "InvalidArgument");
  }
}
