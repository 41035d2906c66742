/**
 * Multiboot 1 boot information (`multiboot_info`, spec 3.3): memory sizes, command line, modules with their
 * strings, the memory map and the boot loader name, laid out in one block at a guest address and written
 * through a {@linkcode Plan}. Also the pieces Multiboot2's configurator shares: memory maps from guest
 * memory, mem_lower/mem_upper, module and string checks.
 *
 * Entry state (spec 3.2): 32-bit flat protected mode (CS a 0-based 4 GiB execute/read segment, DS, ES, FS,
 * GS and SS 0-based 4 GiB read/write segments), CR0.PE set, CR0.PG clear, EFLAGS.IF and VM clear, A20 on,
 * EAX = 0x2BADB002, EBX = the physical address of multiboot_info. {@linkcode configureMultiboot} returns
 * the two registers; the segment state is the emulator's (or VMM's) 32-bit entry.
 *
 * Layout written at `infoAddr` (4-byte aligned pieces): multiboot_info, the memory map entries, the module
 * list, then the NUL-terminated strings (cmdline, boot loader name, module strings). Module bytes, when
 * given, are written at their own addresses by the same plan.
 *
 * @module
 */

import {
  MULTIBOOT_ADDRESS_LIMIT,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_INFO,
  MULTIBOOT_INFO_BOOT_LOADER_NAME,
  MULTIBOOT_INFO_CMDLINE,
  MULTIBOOT_INFO_MEM_MAP,
  MULTIBOOT_INFO_MEMORY,
  MULTIBOOT_INFO_MODS,
  MULTIBOOT_LOWER_MEMORY_END,
  MULTIBOOT_MEMORY_AVAILABLE,
  MULTIBOOT_MMAP_ENTRY,
  MULTIBOOT_MMAP_ENTRY_SIZE_FIELD,
  MULTIBOOT_MODULE,
  MULTIBOOT_MODULE_ALIGN,
  MULTIBOOT_UPPER_MEMORY_START,
  type MultibootInfo,
} from "../abi/multiboot.ts";
import { hex, MultibootError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { applyPlanSync, checkNoOverlap, type Plan, type PlanStep } from "../plan.ts";
import { requireMemory, requireNumber, requireObject, requireObjects, requireString } from "../guard.ts";

/**
 * The boot loader name written when none is given.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_DEFAULT_BOOT_LOADER_NAME } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_DEFAULT_BOOT_LOADER_NAME); // linux-loader for Deno
 * ```
 */
export const MULTIBOOT_DEFAULT_BOOT_LOADER_NAME = "linux-loader for Deno";

/** One boot module. */
export interface MultibootModuleSpec {
  /** Guest address of the module's first byte. */
  addr: number;
  /** The module's bytes, written at `addr` by the plan. Omit (and give `size`) for a module already in memory. */
  bytes?: Uint8Array;
  /** Size in bytes when `bytes` is omitted. */
  size?: number;
  /** The module's string (by convention its command line); empty when omitted. */
  cmdline?: string;
}

/** One memory map range. */
export interface MultibootMemoryRange {
  /** First guest address. */
  addr: number;
  /** Length in bytes. */
  size: number;
  /** MULTIBOOT_MEMORY_* (1 available, 2 reserved, ...). */
  type: number;
}

/** What to write. */
export interface MultibootInfoOptions {
  /** Guest address of the information block (Multiboot 1: 4-byte aligned; Multiboot2: 8-byte aligned). */
  infoAddr: number;
  /** Kernel command line. The cmdline flag or tag is written only when given. */
  cmdline?: string;
  /** Boot loader name; {@linkcode MULTIBOOT_DEFAULT_BOOT_LOADER_NAME} when omitted. */
  bootLoaderName?: string;
  /** Boot modules, in order. */
  modules?: readonly MultibootModuleSpec[];
  /** The memory map; by default every guest memory region as available RAM. */
  memoryMap?: readonly MultibootMemoryRange[];
  /** Refuse modules that do not start on a 4 KiB boundary (the kernel's page-align request). */
  pageAlignModules?: boolean;
}

/** What a Multiboot configurator will write (plan) or wrote (configure). */
export interface MultibootInfoResult {
  /** Guest address of the information block (EBX). */
  infoAddr: number;
  /** One past the information block's last byte. */
  infoEnd: number;
  /** The byte writes: the block, then each module given with bytes. */
  plan: Plan;
  /** The registers the kernel expects at entry: EAX the boot loader magic, EBX the block's address. */
  registers: { eax: number; ebx: number };
}

/** mem_lower / mem_upper in KiB, as the specifications define them. */
export interface MultibootMemorySizes {
  /** KiB of available memory from address 0, at most 640. */
  memLower: number;
  /** KiB of available memory from 1 MiB up to the first hole. */
  memUpper: number;
}

/**
 * The memory map a Multiboot kernel sees by default: each guest memory region as available RAM.
 *
 * @example
 * ```ts
 * import { GuestMemory, multibootMemoryMap } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x9f000], [0x100000, 0x700000]]);
 * console.log(multibootMemoryMap(mem).length); // 2
 * ```
 */
export function multibootMemoryMap(mem: GuestMemory): MultibootMemoryRange[] {
  requireMemory(mem, "mem", MultibootError, "InvalidArgument");
  return mem.regions.map((r) => ({ addr: r.guestAddr, size: r.size, type: MULTIBOOT_MEMORY_AVAILABLE }));
}

// The map is written as u64 / u32 fields: anything else would be wrapped, or throw a RangeError in BigInt().
function checkMemoryMap(map: readonly MultibootMemoryRange[]): void {
  map.forEach((r, i) => {
    const fields = [["addr", r.addr, Number.MAX_SAFE_INTEGER], ["size", r.size, Number.MAX_SAFE_INTEGER], [
      "type",
      r.type,
      0xffff_ffff,
    ]] as const;
    for (const [k, v, max] of fields) {
      if (!Number.isSafeInteger(v) || v < 0 || v > max) {
        throw new MultibootError(
          "InvalidMemoryMap",
          `memoryMap[${i}].${k} = ${String(v)} is not an integer in [0, ${max}]`,
          {
            field: `memoryMap[${i}].${k}`,
            value: String(v),
            limit: max,
          },
        );
      }
    }
  });
}

/**
 * mem_lower and mem_upper from a memory map: "Lower memory starts at address 0, and upper memory starts at
 * address 1 megabyte. The maximum possible value for lower memory is 640 kilobytes. The value returned for
 * upper memory is maximally the address of the first upper memory hole minus 1 megabyte." Throws
 * {@linkcode MultibootError} `InvalidMemoryMap` for a range whose address or size is not a non-negative safe
 * integer or whose type is not a u32 (both configurators call it before encoding the map).
 *
 * @example
 * ```ts
 * import { multibootMemorySizes } from "@linux-loader/linux-loader";
 * console.log(multibootMemorySizes([{ addr: 0, size: 16 << 20, type: 1 }])); // { memLower: 640, memUpper: 15360 }
 * ```
 */
export function multibootMemorySizes(map: readonly MultibootMemoryRange[]): MultibootMemorySizes {
  requireObjects(map, "map", MultibootError, "InvalidArgument");
  checkMemoryMap(map);
  const avail = map.filter((r) => r.type === MULTIBOOT_MEMORY_AVAILABLE && r.size > 0)
    .sort((a, b) => a.addr - b.addr);
  const reach = (from: number): number => {
    let end = from;
    for (const r of avail) {
      if (r.addr <= end && r.addr + r.size > end) end = r.addr + r.size;
    }
    return end;
  };
  const lowerEnd = Math.min(reach(0), MULTIBOOT_LOWER_MEMORY_END);
  const upperEnd = Math.min(reach(MULTIBOOT_UPPER_MEMORY_START), MULTIBOOT_ADDRESS_LIMIT);
  return {
    memLower: Math.floor(lowerEnd / 1024),
    memUpper: Math.floor((upperEnd - MULTIBOOT_UPPER_MEMORY_START) / 1024),
  };
}

/**
 * Encodes a string as UTF-8 plus a NUL, refusing an embedded NUL (`InvalidString`). Shared with the
 * Multiboot2 configurator.
 *
 * @example
 * ```ts
 * import { multibootCString } from "@linux-loader/linux-loader";
 * console.log(multibootCString("ab", "cmdline")); // Uint8Array(3) [ 97, 98, 0 ]
 * ```
 */
export function multibootCString(s: string, field: string): Uint8Array {
  requireString(s, "s", MultibootError, "InvalidArgument");
  requireString(field, "field", MultibootError, "InvalidArgument");
  const b = new TextEncoder().encode(s);
  const nul = b.indexOf(0);
  if (nul >= 0) {
    throw new MultibootError("InvalidString", `${field} contains a NUL byte at index ${nul}`, {
      field,
      value: nul,
      limit: b.byteLength,
    });
  }
  const out = new Uint8Array(b.byteLength + 1);
  out.set(b);
  return out;
}

/** A checked module: its address, size and string. */
export interface MultibootCheckedModule {
  /** First byte. */
  start: number;
  /** One past the last byte. */
  end: number;
  /** The module's string with its NUL. */
  string: Uint8Array;
  /** Bytes to write, if given. */
  bytes?: Uint8Array;
}

/**
 * Checks modules for both configurators: a size (or bytes), below 4 GiB, on a 4 KiB boundary when
 * `pageAlign`, a string without NUL.
 *
 * @example
 * ```ts
 * import { checkMultibootModules } from "@linux-loader/linux-loader";
 * const [m] = checkMultibootModules([{ addr: 0x400000, size: 0x100, cmdline: "initrd" }], true);
 * console.log(m.end.toString(16)); // 400100
 * ```
 */
export function checkMultibootModules(
  modules: readonly MultibootModuleSpec[],
  pageAlign: boolean,
): MultibootCheckedModule[] {
  requireObjects(modules, "modules", MultibootError, "InvalidArgument");
  return modules.map((m, i) => {
    const field = `modules[${i}]`;
    const size = m.bytes?.byteLength ?? m.size;
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
      throw new MultibootError("InvalidModule", `${field} has neither bytes nor a non-negative integer size`, {
        field: `${field}.size`,
        value: size === undefined ? "undefined" : size,
      });
    }
    if (m.bytes !== undefined && m.size !== undefined && m.size !== m.bytes.byteLength) {
      throw new MultibootError(
        "InvalidModule",
        `${field}.size ${m.size} disagrees with its ${m.bytes.byteLength} bytes`,
        { field: `${field}.size`, value: m.size, limit: m.bytes.byteLength },
      );
    }
    checkMultibootRange(`${field}.addr`, m.addr, size);
    if (pageAlign && m.addr % MULTIBOOT_MODULE_ALIGN !== 0) {
      throw new MultibootError(
        "Misaligned",
        `${field}.addr ${hex(m.addr)} is not on a ${hex(MULTIBOOT_MODULE_ALIGN)} boundary, which the kernel requires`,
        { field: `${field}.addr`, value: m.addr, limit: MULTIBOOT_MODULE_ALIGN },
      );
    }
    const out: MultibootCheckedModule = {
      start: m.addr,
      end: m.addr + size,
      string: multibootCString(m.cmdline ?? "", `${field}.cmdline`),
    };
    if (m.bytes !== undefined) out.bytes = m.bytes;
    return out;
  });
}

/**
 * Throws {@linkcode MultibootError} `AddressOverflow` unless `[addr, addr + len)` is a range of the 32-bit
 * physical address space.
 *
 * @example
 * ```ts
 * import { checkMultibootRange } from "@linux-loader/linux-loader";
 * checkMultibootRange("infoAddr", 0x9000, 0x100); // fine
 * try {
 *   checkMultibootRange("infoAddr", 0xffffff00, 0x200);
 * } catch (e) {
 *   console.log((e as Error).message.includes("32-bit")); // true
 * }
 * ```
 */
export function checkMultibootRange(field: string, addr: number, len: number): void {
  requireString(field, "field", MultibootError, "InvalidArgument");
  requireNumber(addr, "addr", MultibootError, "InvalidArgument");
  requireNumber(len, "len", MultibootError, "InvalidArgument");
  if (!Number.isSafeInteger(addr) || addr < 0 || addr + len > MULTIBOOT_ADDRESS_LIMIT) {
    throw new MultibootError(
      "AddressOverflow",
      `${field} [${hex(addr)}, ${hex(addr + len)}) passes the 32-bit address limit ${hex(MULTIBOOT_ADDRESS_LIMIT)}`,
      { field, value: addr + len, limit: MULTIBOOT_ADDRESS_LIMIT },
    );
  }
}

/**
 * Plan steps that write the modules given with bytes (modules given by size only are already in memory).
 *
 * @example
 * ```ts
 * import { checkMultibootModules, multibootModuleSteps } from "@linux-loader/linux-loader";
 * const mods = checkMultibootModules([{ addr: 0x400000, bytes: new Uint8Array(8) }, { addr: 0x500000, size: 8 }], false);
 * console.log(multibootModuleSteps(mods, "module").length); // 1
 * ```
 */
export function multibootModuleSteps(mods: readonly MultibootCheckedModule[], label: string): PlanStep[] {
  requireObjects(mods, "mods", MultibootError, "InvalidArgument");
  return mods.flatMap((m, i) =>
    m.bytes === undefined
      ? []
      : [{ kind: "bytes" as const, guestAddr: m.start, bytes: m.bytes, label: `${label}[${i}]` }]
  );
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Plans the Multiboot 1 information block without writing. Errors: {@linkcode MultibootError}
 * (`Misaligned`, `AddressOverflow`, `InvalidString`, `InvalidModule`); an overlap between the block and a
 * module is a `PlanOverlap`, a range outside memory a `MemoryOverflow`, both before anything is written.
 *
 * @example
 * ```ts
 * import { GuestMemory, planMultibootInfo } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * const r = planMultibootInfo(mem, { infoAddr: 0x9000, cmdline: "console=ttyS0" });
 * console.log(r.registers.eax.toString(16), r.registers.ebx.toString(16)); // 2badb002 9000
 * ```
 */
export function planMultibootInfo(mem: GuestMemory, opts: MultibootInfoOptions): MultibootInfoResult {
  requireMemory(mem, "mem", MultibootError, "InvalidArgument");
  requireObject(opts, "opts", MultibootError, "InvalidArgument");
  const base = opts.infoAddr;
  if (!Number.isSafeInteger(base) || base < 0 || base % 4 !== 0) {
    throw new MultibootError("Misaligned", `infoAddr ${String(base)} is not a 4-byte-aligned address`, {
      field: "infoAddr",
      value: base,
      limit: 4,
    });
  }
  const map = opts.memoryMap ?? multibootMemoryMap(mem);
  const mods = checkMultibootModules(opts.modules ?? [], opts.pageAlignModules === true);
  const cmdline = opts.cmdline === undefined ? undefined : multibootCString(opts.cmdline, "cmdline");
  const name = multibootCString(opts.bootLoaderName ?? MULTIBOOT_DEFAULT_BOOT_LOADER_NAME, "bootLoaderName");

  // Offsets inside the block.
  const mmapOff = align4(MULTIBOOT_INFO.size);
  const mmapLen = map.length * MULTIBOOT_MMAP_ENTRY.size;
  const modsOff = mmapOff + mmapLen;
  let strOff = modsOff + mods.length * MULTIBOOT_MODULE.size;
  const place = (b: Uint8Array): number => {
    const at = strOff;
    strOff = align4(strOff + b.byteLength);
    return at;
  };
  const cmdlineOff = cmdline === undefined ? undefined : place(cmdline);
  const nameOff = place(name);
  const modStrOffs = mods.map((m) => place(m.string));
  const total = strOff;
  checkMultibootRange("infoAddr", base, total);

  const block = new Uint8Array(total);
  const dv = new DataView(block.buffer);
  const sizes = multibootMemorySizes(map);
  let flags = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_MODS | MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_BOOT_LOADER_NAME;
  if (cmdlineOff !== undefined) flags |= MULTIBOOT_INFO_CMDLINE;
  const info: Partial<MultibootInfo> = {
    flags,
    mem_lower: sizes.memLower,
    mem_upper: sizes.memUpper,
    cmdline: cmdlineOff === undefined ? 0 : base + cmdlineOff,
    mods_count: mods.length,
    mods_addr: base + modsOff,
    mmap_length: mmapLen,
    mmap_addr: base + mmapOff,
    boot_loader_name: base + nameOff,
  };
  MULTIBOOT_INFO.write(dv, 0, info);
  map.forEach((r, i) => {
    MULTIBOOT_MMAP_ENTRY.write(dv, mmapOff + i * MULTIBOOT_MMAP_ENTRY.size, {
      size: MULTIBOOT_MMAP_ENTRY_SIZE_FIELD,
      addr: BigInt(r.addr),
      len: BigInt(r.size),
      type: r.type,
    });
  });
  mods.forEach((m, i) => {
    MULTIBOOT_MODULE.write(dv, modsOff + i * MULTIBOOT_MODULE.size, {
      mod_start: m.start,
      mod_end: m.end,
      cmdline: base + modStrOffs[i],
      pad: 0,
    });
    block.set(m.string, modStrOffs[i]);
  });
  if (cmdline !== undefined && cmdlineOff !== undefined) block.set(cmdline, cmdlineOff);
  block.set(name, nameOff);

  const plan: Plan = {
    steps: [
      { kind: "bytes", guestAddr: base, bytes: block, label: "multiboot_info" },
      ...multibootModuleSteps(mods, "module"),
    ],
  };
  checkNoOverlap(plan);
  return { infoAddr: base, infoEnd: base + total, plan, registers: { eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: base } };
}

/**
 * Writes the Multiboot 1 information block (and module bytes) with `applyPlanSync`: {@linkcode planMultibootInfo},
 * then the one write path. Nothing is written when a check fails.
 *
 * @example
 * ```ts
 * import { configureMultiboot, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * configureMultiboot(mem, { infoAddr: 0x9000, modules: [{ addr: 0x400000, bytes: new Uint8Array(100) }] });
 * console.log(mem.readU32(0x9000 + 20)); // 1 (mods_count)
 * ```
 */
export function configureMultiboot(mem: GuestMemory, opts: MultibootInfoOptions): MultibootInfoResult {
  requireMemory(mem, "mem", MultibootError, "InvalidArgument");
  requireObject(opts, "opts", MultibootError, "InvalidArgument");
  const r = planMultibootInfo(mem, opts);
  applyPlanSync(mem, r.plan);
  return r;
}
