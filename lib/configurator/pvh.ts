/**
 * The PVH boot protocol's boot parameters (https://xenbits.xen.org/docs/unstable/misc/pvh.html): build an
 * `hvm_start_info` ({@linkcode encodeStartInfo}), its memory map ({@linkcode encodeMemmapEntry}) and module
 * list ({@linkcode encodeModlistEntry}), and write them into guest memory ({@linkcode PvhBootConfigurator})
 * with the errors of rust-vmm linux-loader's `configurator::pvh`. The kernel's 32-bit PVH entry point
 * reads the start info through `%ebx`.
 *
 * @module
 */

import {
  HVM_MEMMAP_TABLE_ENTRY,
  HVM_MODLIST_ENTRY,
  HVM_START_INFO,
  HVM_START_INFO_VERSION,
  type HvmStartInfo,
  XEN_HVM_START_MAGIC_VALUE,
} from "../abi/start_info.ts";
import { ConfiguratorError, hex } from "../errors.ts";
import { GuestMemory, type GuestMemoryRegion } from "../memory.ts";
import type { Plan, PlanStep } from "../plan.ts";
import { checkBootRange } from "./linux.ts";
import { BootParams, bootParamsOfBytes, checkConfiguratorArgs } from "./mod.ts";
import { requireArray, requireObject, showValue } from "../guard.ts";

/** Fields of {@linkcode encodeStartInfo}; anything not given is zero. */
export interface StartInfoOptions {
  /** Physical address of the memory map table. */
  memmapPaddr?: number | bigint;
  /** Number of memory map entries. */
  memmapEntries?: number;
  /** Physical address of the NUL-terminated command line. */
  cmdlinePaddr?: number | bigint;
  /** Physical address of the module list. */
  modlistPaddr?: number | bigint;
  /** Number of modules. */
  nrModules?: number;
  /** Physical address of the ACPI RSDP. */
  rsdpPaddr?: number | bigint;
  /** SIF_xxx flags. */
  flags?: number;
  /** Structure version; 1 (with the memory map) by default. */
  version?: number;
}

/** One range of the PVH memory map. */
export interface MemmapEntryInit {
  /** Base address. */
  addr: number | bigint;
  /** Size in bytes. */
  size: number | bigint;
  /** Type (`XEN_HVM_MEMMAP_TYPE_RAM`, ...; the e820 numbers). */
  type: number;
}

/** One PVH module (an initrd, say). */
export interface ModlistEntryInit {
  /** Physical address of the module. */
  paddr: number | bigint;
  /** Size in bytes. */
  size: number | bigint;
  /** Physical address of the module's command line, 0 for none. */
  cmdlinePaddr?: number | bigint;
}

function u64(field: string, v: number | bigint | undefined): bigint {
  // BigInt() throws a RangeError for a fraction, NaN or an infinity: those fail the check below instead.
  // Anything else (a Symbol, a string, an object) is -1n too: a typed error, never a TypeError.
  const b = typeof v === "bigint"
    ? v
    : v === undefined || v === null
    ? 0n
    : typeof v === "number" && Number.isSafeInteger(v)
    ? BigInt(v)
    : -1n;
  if (b < 0n || b >= 1n << 64n) {
    throw new ConfiguratorError("InvalidAddress", `${field} = ${showValue(v)} is not a 64-bit unsigned integer`, {
      field,
      value: showValue(v),
      limit: 2n ** 64n - 1n,
    });
  }
  return b;
}

function u32(field: string, v: number | undefined): number {
  const n = v ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new ConfiguratorError("InvalidAddress", `${field} = ${showValue(v)} is not a 32-bit unsigned integer`, {
      field,
      value: showValue(v),
      limit: 0xffff_ffff,
    });
  }
  return n;
}

/**
 * Encodes a 56-byte `struct hvm_start_info` with the magic 0x336ec578 and version 1.
 *
 * @example
 * ```ts
 * import { encodeStartInfo, HVM_START_INFO } from "@linux-loader/linux-loader/abi";
 * const si = HVM_START_INFO.decode(encodeStartInfo({ memmapPaddr: 0x7000, memmapEntries: 2, cmdlinePaddr: 0x20000 }));
 * console.log(si.magic.toString(16), si.version, si.memmap_entries); // 336ec578 1 2
 * ```
 */
export function encodeStartInfo(opts: StartInfoOptions = {}): Uint8Array {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const v: HvmStartInfo = {
    magic: XEN_HVM_START_MAGIC_VALUE,
    version: u32("version", opts.version ?? HVM_START_INFO_VERSION),
    flags: u32("flags", opts.flags),
    nr_modules: u32("nrModules", opts.nrModules),
    modlist_paddr: u64("modlistPaddr", opts.modlistPaddr),
    cmdline_paddr: u64("cmdlinePaddr", opts.cmdlinePaddr),
    rsdp_paddr: u64("rsdpPaddr", opts.rsdpPaddr),
    memmap_paddr: u64("memmapPaddr", opts.memmapPaddr),
    memmap_entries: u32("memmapEntries", opts.memmapEntries),
    reserved: 0,
  };
  return HVM_START_INFO.encode(v);
}

/**
 * Encodes a 24-byte `struct hvm_memmap_table_entry`.
 *
 * @example
 * ```ts
 * import { encodeMemmapEntry, XEN_HVM_MEMMAP_TYPE_RAM } from "@linux-loader/linux-loader/abi";
 * console.log(encodeMemmapEntry({ addr: 0, size: 0x9fc00, type: XEN_HVM_MEMMAP_TYPE_RAM }).length); // 24
 * ```
 */
export function encodeMemmapEntry(e: MemmapEntryInit): Uint8Array {
  requireObject(e, "e", ConfiguratorError, "InvalidArgument");
  return HVM_MEMMAP_TABLE_ENTRY.encode({
    addr: u64("addr", e.addr),
    size: u64("size", e.size),
    type: u32("type", e.type),
    reserved: 0,
  });
}

/**
 * Encodes a 32-byte `struct hvm_modlist_entry`.
 *
 * @example
 * ```ts
 * import { encodeModlistEntry } from "@linux-loader/linux-loader/abi";
 * console.log(encodeModlistEntry({ paddr: 0x10000, size: 0x100 }).length); // 32
 * ```
 */
export function encodeModlistEntry(e: ModlistEntryInit): Uint8Array {
  requireObject(e, "e", ConfiguratorError, "InvalidArgument");
  return HVM_MODLIST_ENTRY.encode({
    paddr: u64("paddr", e.paddr),
    size: u64("size", e.size),
    cmdline_paddr: u64("cmdlinePaddr", e.cmdlinePaddr),
    reserved: 0n,
  });
}

/**
 * Plans the PVH writes: the memory map (`sections`) at `sectionsStart`, `hvm_start_info` (`header`) at
 * `headerStart`, and the module list (`modules`) at `modulesStart` when there is one. Checks, in the
 * crate's order: `MemmapTableMissing`, `MemmapTableAddressMissing`, `MemmapTablePastRamEnd` /
 * `MemmapTableSetup`, `StartInfoPastRamEnd` / `StartInfoSetup`, `ModulesAddressMissing` / `ModulesSetup`;
 * then that no two of the three overlap (`SectionOverlap`, which the crate does not check).
 *
 * @example
 * ```ts
 * import { BootParams, GuestMemory, planPvhBoot } from "@linux-loader/linux-loader";
 * import { encodeMemmapEntry, encodeStartInfo } from "@linux-loader/linux-loader/abi";
 * const p = new BootParams(encodeStartInfo({ memmapPaddr: 0x7000, memmapEntries: 1 }), 0x6000);
 * p.setSections([encodeMemmapEntry({ addr: 0, size: 1 << 20, type: 1 })], 0x7000);
 * console.log(planPvhBoot(GuestMemory.fromRanges([[0, 1 << 20]]), p).steps.map((s) => s.label));
 * // [ "hvm_memmap_table", "hvm_start_info" ]
 * ```
 */
export function planPvhBoot(mem: GuestMemory, params: BootParams): Plan {
  checkConfiguratorArgs(mem, params);
  checkPvhBootParams(params, mem);
  const steps: PlanStep[] = [
    { kind: "bytes", guestAddr: params.sectionsStart!, bytes: params.sections!, label: "hvm_memmap_table" },
    { kind: "bytes", guestAddr: params.headerStart, bytes: params.header, label: "hvm_start_info" },
  ];
  if (params.modules !== undefined) {
    steps.push({ kind: "bytes", guestAddr: params.modulesStart!, bytes: params.modules, label: "hvm_modlist" });
  }
  return { steps };
}

// The region holding all of [addr, addr + len), or undefined (len is a byteLength: a valid count).
function regionHolding(mem: GuestMemory, addr: number, len: number): GuestMemoryRegion | undefined {
  if (!Number.isSafeInteger(addr) || addr < 0) return undefined;
  const r = mem.findRegion(addr);
  return r !== undefined && addr + len <= r.end ? r : undefined;
}

// Whether two non-empty ranges [a, a + al) and [b, b + bl) share a byte.
function rangesMeet(a: number, al: number, b: number, bl: number): boolean {
  return al > 0 && bl > 0 && a < b + bl && b < a + al;
}

/**
 * Every check of {@linkcode planPvhBoot}, in its order and with its errors, without building the plan: when
 * the checks pass nothing is allocated (so {@linkcode PvhBootConfigurator.writeBootparams} costs little more
 * than the copies).
 */
function checkPvhBootParams(params: BootParams, mem: GuestMemory): void {
  const memmap = params.sections;
  if (memmap === undefined) {
    throw new ConfiguratorError("MemmapTableMissing", "no memory map (sections) was passed to the PVH configurator", {
      field: "sections",
    });
  }
  const memmapAddr = params.sectionsStart;
  if (memmapAddr === undefined) {
    throw new ConfiguratorError("MemmapTableAddressMissing", "the memory map (sections) has no guest address", {
      field: "sectionsStart",
    });
  }
  checkBootRange(mem, memmapAddr, memmap.byteLength, "hvm_memmap_table", "MemmapTablePastRamEnd", "MemmapTableSetup");
  const header = params.header, headerAddr = params.headerStart;
  checkBootRange(mem, headerAddr, header.byteLength, "hvm_start_info", "StartInfoPastRamEnd", "StartInfoSetup");
  const modules = params.modules;
  let modulesAddr = 0;
  if (modules !== undefined) {
    if (params.modulesStart === undefined) {
      throw new ConfiguratorError("ModulesAddressMissing", "the module list (modules) has no guest address", {
        field: "modulesStart",
      });
    }
    modulesAddr = params.modulesStart;
    checkBootRange(mem, modulesAddr, modules.byteLength, "hvm_modlist", "ModulesSetup", "ModulesSetup");
  }
  const modLen = modules?.byteLength ?? 0;
  if (
    rangesMeet(memmapAddr, memmap.byteLength, headerAddr, header.byteLength) ||
    rangesMeet(memmapAddr, memmap.byteLength, modulesAddr, modLen) ||
    rangesMeet(headerAddr, header.byteLength, modulesAddr, modLen)
  ) {
    throwSectionOverlap([
      { start: memmapAddr, end: memmapAddr + memmap.byteLength, label: "hvm_memmap_table" },
      { start: headerAddr, end: headerAddr + header.byteLength, label: "hvm_start_info" },
      { start: modulesAddr, end: modulesAddr + modLen, label: "hvm_modlist" },
    ]);
  }
}

// Names the overlap as the address-sorted walk finds it first (a stable sort: ties keep the plan's order).
function throwSectionOverlap(all: { start: number; end: number; label: string }[]): never {
  const ranges = all.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1], b = ranges[i];
    if (b.start < a.end) {
      throw new ConfiguratorError(
        "SectionOverlap",
        `${b.label} [${hex(b.start)}, ${hex(b.end)}) overlaps ${a.label} [${hex(a.start)}, ${hex(a.end)})`,
        { field: b.label, value: b.start, limit: a.end },
      );
    }
  }
  throw new Error("unreachable: rangesMeet found an overlap the sorted walk does not");
}

/**
 * The PVH boot protocol configurator (the crate's `PvhBootConfigurator`).
 *
 * @example
 * ```ts
 * import { GuestMemory, PvhBootConfigurator, pvhBootParams } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * const params = pvhBootParams({
 *   startInfoAddr: 0x6000, memmapAddr: 0x7000, memmap: [{ addr: 0, size: 16 << 20, type: 1 }], cmdlineAddr: 0x20000,
 * });
 * PvhBootConfigurator.writeBootparams(mem, params);
 * console.log(mem.readU32(0x6000).toString(16), mem.readU32(0x6000 + 48)); // 336ec578 1
 * ```
 */
export class PvhBootConfigurator {
  /**
   * Writes the memory map, `hvm_start_info` and the module list as {@linkcode planPvhBoot} plans them.
   * Nothing is written on error: every check of the plan runs first, then the three copies, with no
   * allocation on the way (about the cost of the copies themselves).
   */
  static writeBootparams(mem: GuestMemory, params: BootParams): void {
    // The common case first: a BootParams of bytes (checkConfiguratorArgs' type tests, remembered per set of
    // arrays: the five guards were 11 of 55 ns), each part inside one region, no two overlapping, so no check
    // can fail.
    if (mem instanceof GuestMemory && bootParamsOfBytes(params)) {
      const memmap = params.sections, memmapAddr = params.sectionsStart ?? -1;
      const header = params.header, headerAddr = params.headerStart;
      const modules = params.modules, modulesAddr = params.modulesStart ?? -1;
      const rm = memmap === undefined ? undefined : regionHolding(mem, memmapAddr, memmap.byteLength);
      const rh = regionHolding(mem, headerAddr, header.byteLength);
      const rd = modules === undefined ? null : regionHolding(mem, modulesAddr, modules.byteLength);
      if (
        rm !== undefined && rh !== undefined && rd !== undefined &&
        !rangesMeet(memmapAddr, memmap!.byteLength, headerAddr, header.byteLength) &&
        (modules === undefined || (!rangesMeet(memmapAddr, memmap!.byteLength, modulesAddr, modules.byteLength) &&
          !rangesMeet(headerAddr, header.byteLength, modulesAddr, modules.byteLength)))
      ) {
        rm.bytes.set(memmap!, memmapAddr - rm.guestAddr);
        rh.bytes.set(header, headerAddr - rh.guestAddr);
        if (rd !== null) rd.bytes.set(modules!, modulesAddr - rd.guestAddr);
        return;
      }
    }
    checkConfiguratorArgs(mem, params);
    checkPvhBootParams(params, mem);
    mem.write(params.sectionsStart!, params.sections!);
    mem.write(params.headerStart, params.header);
    if (params.modules !== undefined) mem.write(params.modulesStart!, params.modules);
  }
}

/** Options of {@linkcode pvhBootParams}. */
export interface PvhBootParamsOptions {
  /** Guest address of `hvm_start_info` (what `%ebx` points to). */
  startInfoAddr: number;
  /** Guest address of the memory map table. */
  memmapAddr: number;
  /** The memory map. */
  memmap: readonly MemmapEntryInit[];
  /** Guest address of the command line, if any. */
  cmdlineAddr?: number;
  /** Modules (an initrd) and where their list goes. */
  modules?: readonly ModlistEntryInit[];
  /** Guest address of the module list; required when `modules` is given. */
  modlistAddr?: number;
  /** Physical address of the ACPI RSDP. */
  rsdpAddr?: number;
}

/**
 * Builds consistent {@linkcode BootParams} for {@linkcode PvhBootConfigurator}: a start info whose
 * `memmap_paddr`, `memmap_entries`, `modlist_paddr`, `nr_modules` and `cmdline_paddr` match the sections
 * and modules it comes with.
 *
 * @example
 * ```ts
 * import { pvhBootParams } from "@linux-loader/linux-loader";
 * const p = pvhBootParams({ startInfoAddr: 0x6000, memmapAddr: 0x7000, memmap: [{ addr: 0, size: 1 << 20, type: 1 }] });
 * console.log(p.header.length, p.sections?.length); // 56 24
 * ```
 */
export function pvhBootParams(opts: PvhBootParamsOptions): BootParams {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  requireArray(opts.memmap, "opts.memmap", ConfiguratorError, "InvalidArgument");
  if (opts.modules !== undefined) requireArray(opts.modules, "opts.modules", ConfiguratorError, "InvalidArgument");
  const modules = opts.modules ?? [];
  const p = new BootParams(
    encodeStartInfo({
      memmapPaddr: opts.memmapAddr,
      memmapEntries: opts.memmap.length,
      cmdlinePaddr: opts.cmdlineAddr,
      modlistPaddr: modules.length > 0 ? opts.modlistAddr : 0,
      nrModules: modules.length,
      rsdpPaddr: opts.rsdpAddr,
    }),
    opts.startInfoAddr,
  );
  p.setSections(opts.memmap.map(encodeMemmapEntry), opts.memmapAddr);
  if (modules.length > 0) {
    if (opts.modlistAddr === undefined) {
      throw new ConfiguratorError("ModulesAddressMissing", `${modules.length} modules were given without modlistAddr`, {
        field: "modlistAddr",
      });
    }
    p.setModules(modules.map(encodeModlistEntry), opts.modlistAddr);
  }
  return p;
}
