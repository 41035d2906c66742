/**
 * A whole boot, in the order a VMM does it: guest memory, load the kernel, write the command line and the
 * initrd, write the boot parameters (zero page, hvm_start_info or device tree), set the CPU state, run in
 * Unicorn to the kernel's halt, and report what the guest did, naming every field it read.
 *
 * This is the flow behind the CLI's `boot` and `demo`. It suits kernels that run to a halt instruction (entry
 * stubs, test kernels); real Linux kernels need the harness in emu/linux/.
 *
 * @module
 */

import { GuestMemory } from "../lib/memory.ts";
import { applyPlan, checkNoOverlap, type Plan } from "../lib/plan.ts";
import type { Struct } from "../lib/abi/struct.ts";
import { EmulatorError, hex, KernelLoaderError } from "../lib/errors.ts";
import { type KernelSource, toSource } from "../lib/source.ts";
import { type DetectedKernel, detectKernel, loadKernel } from "../lib/loader/mod.ts";
import { type BzImageInfo, bzImagePlacement, decodeBzImage } from "../lib/loader/bzimage.ts";
import { planCmdline } from "../lib/loader/cmdline.ts";
import { Cmdline } from "../lib/cmdline.ts";
import { BOOT_E820_ENTRY, BOOT_PARAMS, SETUP_HEADER } from "../lib/abi/bootparam.ts";
import { VIRT_RAM_BASE } from "../lib/inspect.ts";
import { HVM_MEMMAP_TABLE_ENTRY, HVM_MODLIST_ENTRY, HVM_START_INFO } from "../lib/abi/start_info.ts";
import { FDT_HEADER } from "../lib/fdt/header.ts";
import { planLinuxBoot } from "../lib/configurator/linux.ts";
import { zeroPageBootParams } from "../lib/boot/zero_page.ts";
import { planPvhBoot, pvhBootParams } from "../lib/configurator/pvh.ts";
import { planFdtBoot } from "../lib/configurator/fdt.ts";
import { BootParams } from "../lib/configurator/mod.ts";
import { buildVmFdt } from "../lib/fdt/nodes.ts";
import { buildMemmap, X86_LEGACY_HOLE } from "../lib/boot/memmap.ts";
import { type InitrdPlacement, placeInitrd, planInitrd, pvhInitrdEntry } from "../lib/boot/initrd.ts";
import { x86Linux32Boot, x86LongModeBoot, x86PvhBoot } from "../lib/boot/x86_64.ts";
import { planMultibootInfo } from "../lib/configurator/multiboot.ts";
import { planMultiboot2Info } from "../lib/configurator/multiboot2.ts";
import { MULTIBOOT_INFO } from "../lib/abi/multiboot.ts";
import { aarch64LinuxBoot } from "../lib/boot/aarch64.ts";
import { riscv64LinuxBoot } from "../lib/boot/riscv64.ts";
import { type RunResult, runSoFar } from "./harness.ts";
import { GuestFault } from "./unicorn.ts";
import { runX86 } from "./x86_64.ts";
import { runAarch64 } from "./aarch64.ts";
import { runRiscv64 } from "./riscv64.ts";

/**
 * Guest layout of an x86 boot: the usual VMM addresses (Firecracker's), all below 1 MiB.
 *
 * @example
 * ```ts
 * import { X86_LAYOUT } from "@linux-loader/linux-loader/emu";
 * console.log(X86_LAYOUT); // { startInfo: 24576, memmap: 24832, modlist: 28416, zeroPage: 28672, cmdline: 131072 }
 * ```
 */
export const X86_LAYOUT: Readonly<
  { startInfo: number; memmap: number; modlist: number; zeroPage: number; cmdline: number }
> = Object.freeze({
  startInfo: 0x6000,
  memmap: 0x6100,
  modlist: 0x6f00,
  zeroPage: 0x7000,
  cmdline: 0x2_0000,
});

/** Options of {@linkcode bootKernel}. */
export interface BootOptions {
  /** Kernel command line. */
  cmdline?: string;
  /** Initrd bytes (placed high in memory, handed over in the boot parameters). */
  initrd?: Uint8Array;
  /**
   * Guest RAM in bytes. By default 64 MiB, or for a bzImage what {@linkcode bzImageMemSize} derives from its
   * header (pref_address, kernel_alignment, init_size) when that is more.
   */
  memSize?: number;
  /**
   * x86: `"linux"` (64-bit boot protocol, the default) or `"pvh"` (32-bit PVH entry, ELF only); for a
   * Multiboot kernel, `"multiboot1"` or `"multiboot2"` picks the header (default: the one detection reports).
   */
  protocol?: "linux" | "pvh" | "multiboot1" | "multiboot2";
  /** Wall-clock limit of the run in milliseconds. */
  timeoutMs?: number;
  /** Instruction budget of the run. */
  maxInstructions?: number;
}

/** A range of guest memory the boot wrote, with what it is. */
export interface WrittenRange {
  /** What it is ("kernel", "zero page", "command line", "initrd", "DTB"). */
  label: string;
  /** First guest address. */
  start: number;
  /** One past the last guest address. */
  end: number;
}

/** One guest read, with the field it read. */
export interface NamedRead {
  /** Guest address. */
  address: number;
  /** Bytes read. */
  size: number;
  /** The field, e.g. `zero page hdr.boot_flag`, `hvm_start_info.magic`, `command line[0..8]`. */
  what: string;
  /** What the bytes hold now: a little-endian integer in hex for up to 8 bytes, else printable text. */
  value?: string;
}

/** What {@linkcode bootKernel} reports. */
export interface BootReport {
  /** The detected image. */
  detected: DetectedKernel;
  /** The protocol used. */
  protocol: string;
  /** Where execution started. */
  entry: number;
  /** Guest RAM in bytes (given, or derived from the image). */
  memSize: number;
  /** The CPU registers that carried boot data (`rsi`, `ebx`, `x0`, `a1`...). */
  bootRegisters: Record<string, number>;
  /** What the boot wrote to guest memory. */
  written: WrittenRange[];
  /**
   * The emulator run. A run that did not halt (`run.stop` `"timeout"`, `"instruction-limit"` or `"fault"`)
   * is reported too, with the serial text, registers and reads it had produced.
   */
  run: RunResult;
  /** How the run ended, in one sentence: the halt's pc, the fault with its pc and address, the limit. */
  ended: string;
  /** The fault that ended the run, when a guest access faulted. */
  fault?: { pc: number; address: number; access: string };
  /** The guest's reads of boot data, named. */
  reads: NamedRead[];
}

/** A guest range whose reads are named: by struct fields, or by label and offset. */
export interface Described {
  /** First guest address. */
  start: number;
  /** Bytes. */
  size: number;
  /** Name of the range. */
  label: string;
  /** The C struct laid out at `start`, if any. */
  struct?: Struct<object>;
  /** Arrays of structs inside the struct, by field name. */
  nested?: Record<string, Struct<object>>;
  /** An array of `struct` entries rather than one. */
  array?: boolean;
}

// Names the field of a described range that holds `addr`: a struct field (`zero page.hdr.boot_flag`), or
// for a range without a struct its label and offset (`command line`, 0x8).
function nameRead(addr: number, ranges: readonly Described[]): { what: string; offset?: number } | undefined {
  for (const r of ranges) {
    if (addr < r.start || addr >= r.start + r.size) continue;
    const off = addr - r.start;
    if (r.struct === undefined) return { what: r.label, offset: off };
    const index = r.array ? Math.floor(off / r.struct.size) : 0;
    const inner = r.array ? off % r.struct.size : off;
    const prefix = r.array ? `${r.label}[${index}]` : r.label;
    const f = r.struct.fields.find((x) => inner >= x.offset && inner < x.offset + x.size);
    if (f === undefined) return { what: `${prefix}+${hex(inner)}` };
    const sub = r.nested?.[f.name];
    if (sub === undefined) return { what: `${prefix}.${f.name}` };
    const o = inner - f.offset;
    const i = Math.floor(o / sub.size), so = o % sub.size;
    const g = sub.fields.find((x) => so >= x.offset && so < x.offset + x.size);
    const idx = f.size > sub.size ? `[${i}]` : "";
    return { what: `${prefix}.${f.name}${idx}.${g?.name ?? hex(so)}` };
  }
  return undefined;
}

// Shows bytes the guest read: an integer for up to 8 bytes (big-endian for the FDT, which is), else text.
function showValue(b: Uint8Array, bigEndian: boolean): string {
  if (b.length <= 8) {
    let v = 0n;
    for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[bigEndian ? i : b.length - 1 - i]);
    return hex(v);
  }
  const text = new TextDecoder("latin1").decode(b).replace(/[^\x20-\x7e]/g, ".");
  return JSON.stringify(text.length > 48 ? text.slice(0, 45) + "..." : text);
}

/**
 * Names guest reads and merges runs of adjacent reads of one field (a guest reading a u32 byte by byte)
 * or of one unstructured range (a string): `command line[0x0..0x14]`.
 *
 * @example
 * ```ts
 * import { nameReads } from "@linux-loader/linux-loader/emu";
 * const reads = [{ address: 0x20000, size: 2 }, { address: 0x20002, size: 2 }];
 * console.log(nameReads(reads, [{ start: 0x20000, size: 16, label: "command line" }])[0].what); // command line[0x0..0x4]
 * ```
 */
export function nameReads(
  reads: readonly { address: number; size: number }[],
  ranges: readonly Described[],
): NamedRead[] {
  const out: (NamedRead & { key: string; offset?: number })[] = [];
  for (const r of reads) {
    const n = nameRead(r.address, ranges);
    if (n === undefined) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.key === n.what && last.address + last.size === r.address) {
      last.size += r.size;
      continue;
    }
    out.push({ address: r.address, size: r.size, what: n.what, key: n.what, offset: n.offset });
  }
  return out.map((r) => ({
    address: r.address,
    size: r.size,
    what: r.offset === undefined ? r.what : `${r.what}[${hex(r.offset)}..${hex(r.offset + r.size)}]`,
  }));
}

/** Guest RAM when neither the caller nor the image asks for more: 64 MiB. */
const DEFAULT_MEM_SIZE = 64 << 20;
/** x86 kernels load at or above 1 MiB (below it: the real-mode area, the boot data, the legacy hole). */
const HIGHMEM_START = 0x10_0000;
/** Memory sizes are rounded up to 2 MiB (a large page). */
const MEM_GRANULE = 2 << 20;
/** Room above what the kernel needs at run time, for its early allocations: 16 MiB. */
const MEM_HEADROOM = 16 << 20;

/**
 * Guest RAM for a bzImage when none is asked for: at least {@linkcode DEFAULT_MEM_SIZE}, and enough for
 * the kernel's run-time footprint (init_size from where it runs: pref_address, aligned up to
 * kernel_alignment, for a relocatable kernel; code32_start + image size and pref_address + init_size for
 * one that is not), the initrd and some headroom.
 *
 * @example
 * ```ts
 * import { bzImageMemSize } from "@linux-loader/linux-loader/emu";
 * const info = { relocatable: true, prefAddress: 0x1000000, kernelAlignment: 0x200000, initSize: 0x6000000, kernelSize: 0x800000, code32Start: 0x100000 };
 * console.log(bzImageMemSize(info as never, 0).toString(16)); // 8000000
 * ```
 */
export function bzImageMemSize(info: BzImageInfo, initrdSize: number): number {
  const reserved = Math.max(info.initSize ?? 0, info.kernelSize);
  let need: number;
  if (info.relocatable) {
    const align = info.kernelAlignment ?? 1;
    const lowest = Math.max(HIGHMEM_START, info.prefAddress ?? 0);
    need = Math.ceil(lowest / align) * align + reserved;
  } else {
    const load = info.code32Start === 0 ? HIGHMEM_START : info.code32Start;
    need = Math.max(load + info.kernelSize, (info.prefAddress ?? load) + reserved);
  }
  const total = need + initrdSize + MEM_HEADROOM;
  return Math.max(DEFAULT_MEM_SIZE, Math.ceil(total / MEM_GRANULE) * MEM_GRANULE);
}

/** Where a Multiboot kernel's information block goes (below 1 MiB, clear of the boot GDT at 0x500). */
const MULTIBOOT_INFO_ADDR = 0x9000;
/** Multiboot modules must lie below 4 GiB: their addresses are 32-bit fields. */
const MULTIBOOT_MODULE_MAX = 0xffff_ffff;

// Runs the loaded guest and turns a timeout, an exhausted budget or a fault into a report of its own.
function runAndReport(
  run: () => RunResult,
): { result: RunResult; ended: string; fault?: BootReport["fault"] } {
  try {
    const result = run();
    return { result, ended: `halt at pc ${hex(result.haltPc)}` };
  } catch (e) {
    // A timeout, the instruction budget or a fault: still a report, with what the guest printed and read.
    const soFar = runSoFar(e);
    if (soFar === undefined || !(e instanceof EmulatorError)) throw e;
    const result: RunResult = {
      registers: soFar.registers ?? {},
      reads: soFar.reads ?? [],
      serial: soFar.serial ?? "",
      instructions: soFar.instructions ?? -1,
      stop: soFar.stop ?? "fault",
      haltPc: soFar.haltPc ?? -1,
      elapsedMs: soFar.elapsedMs ?? 0,
    };
    const what = result.stop === "timeout"
      ? "time limit"
      : result.stop === "instruction-limit"
      ? "instruction limit"
      : "fault";
    const fault = e instanceof GuestFault ? { pc: e.pc, address: e.address, access: e.access } : undefined;
    return { result, ended: `${what}: ${e.message}`, fault };
  }
}

/**
 * A Multiboot 1 or 2 kernel: loaded by the library's Multiboot loader, its information block (command line,
 * memory map, the initrd as module 0) written by the configurator, entered in flat 32-bit protected mode
 * with paging off, EAX the boot loader magic and EBX the block's address (both specifications' machine
 * state).
 */
async function bootMultiboot(
  src: KernelSource,
  probe: DetectedKernel,
  cmdline: Cmdline,
  memSize: number,
  opts: BootOptions,
): Promise<BootReport> {
  const asked = opts.protocol === "multiboot1"
    ? "multiboot"
    : opts.protocol === "multiboot2"
    ? "multiboot2"
    : undefined;
  if (asked !== undefined) {
    if (!probe.multiboot.some((m) => m.version === (asked === "multiboot" ? 1 : 2))) {
      throw new KernelLoaderError("UnknownFormat", `protocol ${opts.protocol}: the image carries no such header`, {
        field: "protocol",
        value: opts.protocol,
      });
    }
    probe = { ...probe, format: asked };
  } else if (opts.protocol !== undefined) {
    throw new KernelLoaderError(
      "UnknownFormat",
      `protocol ${opts.protocol} is for x86_64 kernels; this is a ${probe.format} image`,
      {
        field: "protocol",
        value: opts.protocol,
      },
    );
  }
  const v2 = probe.format === "multiboot2";
  const mem = new GuestMemory([{ guestAddr: 0, size: memSize }]);
  const loaded = await loadKernel(mem, src, { format: probe.format });
  if (loaded.format !== "multiboot" && loaded.format !== "multiboot2") {
    throw new KernelLoaderError("UnknownFormat", "not a Multiboot load", { field: "format", value: loaded.format });
  }
  const entry = loaded.entry.multiboot;
  if (entry === undefined) {
    throw new KernelLoaderError("UnknownFormat", "the Multiboot load reported no entry point", { field: "entry" });
  }
  const written: WrittenRange[] = [{ label: "kernel", start: loaded.loadStart, end: loaded.loadEnd }];
  const plans: Plan[] = [];
  let initrd: InitrdPlacement | undefined;
  if (opts.initrd !== undefined) {
    initrd = placeInitrd(mem, opts.initrd.length, {
      kernelEnd: loaded.kernelEnd,
      maxAddr: MULTIBOOT_MODULE_MAX,
      avoid: [{ addr: MULTIBOOT_INFO_ADDR, size: 0x1_0000 - MULTIBOOT_INFO_ADDR }],
    });
    plans.push(planInitrd(initrd, opts.initrd));
    written.push({ label: "initrd (module 0)", start: initrd.addr, end: initrd.addr + initrd.size });
  }
  const infoOpts = {
    infoAddr: MULTIBOOT_INFO_ADDR,
    cmdline: cmdline.asString(),
    modules: initrd ? [{ addr: initrd.addr, size: initrd.size, cmdline: "initrd" }] : undefined,
    pageAlignModules: loaded.details.pageAlignModules,
  };
  const info = v2 ? planMultiboot2Info(mem, infoOpts) : planMultibootInfo(mem, infoOpts);
  plans.push(info.plan);
  const label = v2 ? "multiboot2 information" : "multiboot_info";
  written.push({ label, start: info.infoAddr, end: info.infoEnd });
  const described: Described[] = [];
  if (!v2) described.push({ start: info.infoAddr, size: MULTIBOOT_INFO.size, label, struct: MULTIBOOT_INFO });
  described.push({ start: info.infoAddr, size: info.infoEnd - info.infoAddr, label });
  if (initrd) described.push({ start: initrd.addr, size: initrd.size, label: "initrd" });
  // The same machine state as the PVH entry (flat 32-bit code and data, paging off), then EAX and EBX.
  const boot = x86PvhBoot({ entry, startInfo: info.registers.ebx });
  boot.cpu.regs.eax = info.registers.eax;
  boot.cpu.regs.ebx = info.registers.ebx;
  plans.push(boot.plan);
  checkNoOverlap({
    steps: [{
      kind: "fill",
      guestAddr: loaded.loadStart,
      length: loaded.kernelEnd - loaded.loadStart,
      value: 0,
      label: "kernel",
    }],
  }, ...plans);
  const initrdSource = opts.initrd === undefined ? undefined : toSource(opts.initrd);
  for (const p of plans) await applyPlan(mem, p, initrdSource);
  const { result, ended, fault } = runAndReport(() =>
    runX86(mem, boot.cpu, { timeoutMs: opts.timeoutMs, maxInstructions: opts.maxInstructions })
  );
  const reads = nameReads(result.reads, described).map((r) => ({
    ...r,
    value: showValue(mem.read(r.address, r.size), false),
  }));
  return {
    detected: probe,
    memSize,
    protocol: v2
      ? "Multiboot2 (32-bit protected mode, magic in eax, boot information in ebx)"
      : "Multiboot 1 (32-bit protected mode, magic in eax, multiboot_info in ebx)",
    entry,
    bootRegisters: { eax: info.registers.eax, ebx: info.registers.ebx },
    written,
    run: result,
    ended,
    fault,
    reads,
  };
}

/**
 * Boots `image` in the emulator, the whole way a VMM does it, and reports what the guest read.
 *
 * @example
 * ```ts
 * import { bootKernel } from "@linux-loader/linux-loader/emu";
 * import { demoKernel } from "@linux-loader/linux-loader/emu";
 * const r = await bootKernel(demoKernel("x86_64"), { cmdline: "console=ttyS0" });
 * console.log(r.run.serial); // LINUX OK cmdline=console=ttyS0 e820=0x3 first=0x0:0x9fc00:0x1
 * ```
 */
export async function bootKernel(image: KernelSource | Uint8Array, opts: BootOptions = {}): Promise<BootReport> {
  const src = toSource(image);
  const probe0 = await detectKernel(src);
  const bz = probe0.format === "bzimage" ? await decodeBzImage(src) : undefined;
  const memSize = opts.memSize ?? (bz ? bzImageMemSize(bz, opts.initrd?.length ?? 0) : DEFAULT_MEM_SIZE);
  const cmdline = new Cmdline(4096);
  if (opts.cmdline) cmdline.insertStr(opts.cmdline);
  const probe = probe0;
  const arch = probe.arch;
  // x86_64 images, and the 32-bit bzImages that reach here (Multiboot kernels went to bootMultiboot).
  const x86 = arch === "x86_64" || arch === "i386";
  if (probe.format === "multiboot" || probe.format === "multiboot2") {
    return await bootMultiboot(src, probe, cmdline, memSize, opts);
  }
  if (opts.protocol === "multiboot1" || opts.protocol === "multiboot2") {
    throw new KernelLoaderError(
      "UnknownFormat",
      `protocol ${opts.protocol} is for Multiboot kernels; this is a ${probe.format} image`,
      { field: "protocol", value: opts.protocol },
    );
  }
  if (opts.protocol !== undefined && !x86) {
    throw new KernelLoaderError(
      "UnknownFormat",
      `protocol ${opts.protocol} is for x86_64 kernels; this is a ${arch} image`,
      {
        field: "protocol",
        value: opts.protocol,
      },
    );
  }
  const base = arch === "x86_64" || arch === "i386" ? 0 : VIRT_RAM_BASE[arch];
  const mem = new GuestMemory([{ guestAddr: base, size: memSize }]);
  const written: WrittenRange[] = [];
  const described: Described[] = [];

  // A bzImage needs init_size bytes from where it runs (pref_address for a relocatable kernel loaded below
  // it): too little memory is an error here, before anything runs, not a fault deep in the decompressor.
  if (bz !== undefined) bzImagePlacement(mem, bz, { highmemStart: HIGHMEM_START });
  // 1. The kernel: x86 kernels at or above 1 MiB, Images at the lowest 2 MiB boundary of RAM.
  const loaded = await loadKernel(mem, src, { highmemStart: x86 ? HIGHMEM_START : undefined });
  const { loadStart: kernelStart, loadEnd, kernelEnd } = loaded;
  written.push({ label: "kernel", start: kernelStart, end: loadEnd });

  // 2. Command line, initrd and boot parameters, planned together and checked for overlaps before writing.
  const plans: Plan[] = [];
  let initrd: InitrdPlacement | undefined;
  // x86 kernels read the command line from memory; arm64 and riscv64 from the device tree's bootargs.
  const cmdlineAddr = X86_LAYOUT.cmdline;
  if (x86) {
    plans.push(planCmdline(cmdlineAddr, cmdline));
    const cmdLen = cmdline.asCString().length;
    written.push({ label: "command line", start: cmdlineAddr, end: cmdlineAddr + cmdLen });
    described.push({ start: cmdlineAddr, size: cmdLen, label: "command line" });
  }
  // arm64 and riscv64: the device tree goes 4 MiB below the top of RAM, the initrd right under it.
  const dtbAddr = base + memSize - (4 << 20);
  if (opts.initrd !== undefined) {
    // x86: the highest page below the kernel's initrd_addr_max, as the boot protocol asks; arm64 and
    // riscv64 set no limit, so the initrd goes right under the device tree.
    const header = loaded.format === "bzimage" ? loaded.details.setupHeader : undefined;
    initrd = x86
      ? placeInitrd(mem, opts.initrd.length, { header, kernelEnd, avoid: [{ addr: cmdlineAddr, size: 0x1000 }] })
      : placeInitrd(mem, opts.initrd.length, { kernelEnd, maxAddr: dtbAddr - 1 });
    plans.push(planInitrd(initrd, opts.initrd));
    written.push({ label: "initrd", start: initrd.addr, end: initrd.addr + initrd.size });
    described.push({ start: initrd.addr, size: initrd.size, label: "initrd" });
  }

  let entry: number;
  let protocol: string;
  const bootRegisters: Record<string, number> = {};
  let run: () => RunResult;
  const runOpts = { timeoutMs: opts.timeoutMs, maxInstructions: opts.maxInstructions };

  if (x86) {
    const memmap = buildMemmap(mem, { reserved: [X86_LEGACY_HOLE] });
    const pvh = opts.protocol === "pvh";
    if (pvh) {
      if (loaded.entry.pvh === undefined) {
        throw new KernelLoaderError("UnknownFormat", "PVH boot needs an ELF vmlinux with a Xen PHYS32_ENTRY note", {
          field: "protocol",
          value: "pvh",
        });
      }
      entry = loaded.entry.pvh;
      protocol = "PVH (32-bit entry, hvm_start_info in ebx)";
      const params = pvhBootParams({
        startInfoAddr: X86_LAYOUT.startInfo,
        memmapAddr: X86_LAYOUT.memmap,
        memmap: memmap,
        cmdlineAddr,
        modules: initrd ? [pvhInitrdEntry(initrd)] : undefined,
        modlistAddr: initrd ? X86_LAYOUT.modlist : undefined,
      });
      plans.push(planPvhBoot(mem, params));
      written.push({
        label: "hvm_start_info",
        start: X86_LAYOUT.startInfo,
        end: X86_LAYOUT.startInfo + HVM_START_INFO.size,
      });
      const mmSize = memmap.length * HVM_MEMMAP_TABLE_ENTRY.size;
      written.push({ label: "memory map", start: X86_LAYOUT.memmap, end: X86_LAYOUT.memmap + mmSize });
      described.push(
        { start: X86_LAYOUT.startInfo, size: HVM_START_INFO.size, label: "hvm_start_info", struct: HVM_START_INFO },
        { start: X86_LAYOUT.memmap, size: mmSize, label: "memmap", struct: HVM_MEMMAP_TABLE_ENTRY, array: true },
        {
          start: X86_LAYOUT.modlist,
          size: HVM_MODLIST_ENTRY.size,
          label: "modlist",
          struct: HVM_MODLIST_ENTRY,
          array: true,
        },
      );
      const boot = x86PvhBoot({ entry, startInfo: X86_LAYOUT.startInfo });
      plans.push(boot.plan);
      bootRegisters.ebx = X86_LAYOUT.startInfo;
      run = () => runX86(mem, boot.cpu, runOpts);
    } else {
      const setupHeader = loaded.format === "bzimage" ? loaded.details.setupHeader : undefined;
      const linux32 = loaded.entry.linux64 === undefined;
      const entry32 = loaded.entry.linux32;
      if (linux32 && entry32 === undefined) {
        throw new KernelLoaderError("UnknownFormat", "the image has neither a 64-bit nor a 32-bit entry point", {
          field: "entry",
          value: "linux64",
        });
      }
      entry = loaded.entry.linux64 ?? entry32!;
      protocol = linux32
        ? "Linux 32-bit boot protocol (protected mode, flat __BOOT_CS/__BOOT_DS, zero page in esi)"
        : "Linux 64-bit boot protocol (zero page in rsi)";
      // The library's zero-page builder: the bzImage's header (or the ELF default), checked against its
      // protocol version (cmdline_size, initrd limits) like any VMM's.
      const params = zeroPageBootParams(X86_LAYOUT.zeroPage, {
        header: setupHeader,
        cmdline: { addr: cmdlineAddr, length: cmdline.asString().length },
        e820: memmap,
        initrd,
      });
      plans.push(planLinuxBoot(mem, params));
      written.push({ label: "zero page", start: X86_LAYOUT.zeroPage, end: X86_LAYOUT.zeroPage + BOOT_PARAMS.size });
      described.push({
        start: X86_LAYOUT.zeroPage,
        size: BOOT_PARAMS.size,
        label: "zero page",
        struct: BOOT_PARAMS,
        nested: { hdr: SETUP_HEADER, e820_table: BOOT_E820_ENTRY },
      });
      const boot = linux32
        ? x86Linux32Boot({ entry, zeroPage: X86_LAYOUT.zeroPage })
        : x86LongModeBoot({ entry, zeroPage: X86_LAYOUT.zeroPage });
      plans.push(boot.plan);
      bootRegisters[linux32 ? "esi" : "rsi"] = X86_LAYOUT.zeroPage;
      run = () => runX86(mem, boot.cpu, runOpts);
    }
  } else {
    entry = loaded.entry.image ?? kernelStart;
    const dtb = buildVmFdt(mem, {
      arch,
      bootargs: cmdline.asString(),
      initrd: initrd ? { start: initrd.addr, end: initrd.addr + initrd.size } : undefined,
    });
    plans.push(planFdtBoot(mem, new BootParams(dtb, dtbAddr)));
    written.push({ label: "device tree", start: dtbAddr, end: dtbAddr + dtb.length });
    const h = FDT_HEADER.decode(dtb);
    described.push(
      { start: dtbAddr, size: FDT_HEADER.size, label: "fdt_header", struct: FDT_HEADER },
      { start: dtbAddr + h.off_dt_struct, size: h.size_dt_struct, label: "fdt structure block" },
      { start: dtbAddr + h.off_dt_strings, size: h.size_dt_strings, label: "fdt strings block" },
      { start: dtbAddr, size: dtb.length, label: "device tree" },
    );
    if (arch === "aarch64") {
      protocol = "arm64 Linux boot (EL1, MMU off, DTB in x0)";
      bootRegisters.x0 = dtbAddr;
      const cpu = aarch64LinuxBoot({ entry, dtb: dtbAddr });
      run = () => runAarch64(mem, cpu, runOpts);
    } else {
      protocol = "RISC-V Linux boot (S-mode, hart id in a0, DTB in a1)";
      bootRegisters.a0 = 0;
      bootRegisters.a1 = dtbAddr;
      const cpu = riscv64LinuxBoot({ entry, dtb: dtbAddr, hartId: 0 });
      run = () => runRiscv64(mem, cpu, runOpts);
    }
  }

  // Kernel and boot data must not overlap: checked before any boot data is written.
  checkNoOverlap({
    steps: [{ kind: "fill", guestAddr: kernelStart, length: kernelEnd - kernelStart, value: 0, label: "kernel" }],
  }, ...plans);
  const initrdSource = opts.initrd === undefined ? undefined : toSource(opts.initrd);
  for (const p of plans) await applyPlan(mem, p, initrdSource);

  const { result, ended, fault } = runAndReport(run);
  const reads = nameReads(result.reads, described).map((r) => ({
    ...r,
    value: showValue(mem.read(r.address, r.size), !x86),
  }));
  return { detected: probe, protocol, memSize, entry, bootRegisters, written, run: result, ended, fault, reads };
}
