/**
 * Real x86_64 Linux boots in Unicorn, built with this project's own loaders, configurators and boot helpers:
 *
 * - {@linkcode bootX86BzImage}: the bzImage through the 64-bit boot protocol — `bzImagePlacement` and
 *   `loadBzImage` at pref_address, the command line from `Cmdline` + `loadCmdline`, the e820 map from
 *   `buildMemmap`, the initramfs placed and copied by `loadInitrd` (with the bzImage's setup header), the
 *   zero page from `zeroPageBootParams` (header from `loadBzImage`) written by `LinuxBootConfigurator`,
 *   page tables and GDT from `x86LongModeBoot`; entry at load address + 0x200 with RSI = zero page.
 * - {@linkcode bootX86Pvh}: the vmlinux inside the same bzImage (`extractVmlinux`) loaded by `loadElf`,
 *   entered at its XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode (`x86PvhBoot`) with EBX =
 *   hvm_start_info from `pvhBootParams` + `PvhBootConfigurator` (the `buildMemmap` map, the command line,
 *   the initramfs placed by `loadInitrd` with `elfSetupHeader()` and given as module 0 by `pvhInitrdEntry`).
 *
 * Both run on {@linkcode X86LinuxMachine}, which covers Unicorn's gaps.
 *
 * @module
 */

import { E820_RAM, E820_RESERVED } from "../../lib/abi/bootparam.ts";
import { type InitrdHeader, type InitrdPlacement, loadInitrd, pvhInitrdEntry } from "../../lib/boot/initrd.ts";
import { buildMemmap, type MemmapEntry, type ReservedRange, X86_LEGACY_HOLE } from "../../lib/boot/memmap.ts";
import { elfSetupHeader, zeroPageBootParams } from "../../lib/boot/zero_page.ts";
import { Cmdline } from "../../lib/cmdline.ts";
import { LinuxBootConfigurator } from "../../lib/configurator/linux.ts";
import { PvhBootConfigurator, pvhBootParams } from "../../lib/configurator/pvh.ts";
import { type BzImageInfo, bzImagePlacement, decodeBzImage, loadBzImage } from "../../lib/loader/bzimage.ts";
import { loadCmdline } from "../../lib/loader/cmdline.ts";
import { isElf, loadElf } from "../../lib/loader/elf.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { BzImageError, EmulatorError } from "../../lib/errors.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { type X86CpuState, x86Linux32Boot, x86LongModeBoot, x86PvhBoot } from "../../lib/boot/x86_64.ts";
import { applyX86State } from "../x86_64.ts";
import { unicornAvailable } from "../unicorn.ts";
import { hx, type RealBootOptions, type RealBootResult, realRamBytes } from "./common.ts";
import { findFlushSites, USER_HOLE, X86LinuxMachine } from "./x86_machine.ts";
import { buildX86Acpi } from "./acpi.ts";

/**
 * What the machine needs on the command line: no clock runs with the guest (the PIT ticks in virtual time only),
 * so a fixed delay loop (`lpj`) and TSC
 * rate (`tsc_early_khz`) and no timer check; `nokaslr` for the fixed kernel text and direct map aliases.
 */
export const X86_MACHINE_PARAMS: readonly string[] = Object.freeze([
  "lpj=1000000",
  "tsc_early_khz=1000000",
  "no_timer_check",
  "nokaslr",
]);

/** The default command line: the serial console and {@linkcode X86_MACHINE_PARAMS}. */
export const X86_DEFAULT_CMDLINE = `console=ttyS0 ${X86_MACHINE_PARAMS.join(" ")}`;

// e_ident[EI_CLASS]: ELFCLASS64 for an x86_64 vmlinux (findFlushSites reads 64-bit ELF headers only).
const EI_CLASS = 4, ELFCLASS64 = 2;
/** p_type of a loadable segment. */
const PT_LOAD = 1;

/** Guest physical layout of the boot data (below 1 MiB, clear of the page tables at 0x9000..). */
export const X86_LAYOUT: Readonly<Record<string, number>> = Object.freeze({
  startInfo: 0x6000,
  modlist: 0x6800,
  zeroPage: 0x7000,
  memmap: 0x8000,
  cmdline: 0x2_0000,
});

/**
 * The harness's [4 MiB, 8 MiB) hole ({@linkcode USER_HOLE}): guest RAM backs it, but the machine does not map
 * it at its physical address, so a static user program linked at 0x400000 gets its own aliases there; the
 * kernel must not use it, so the map reserves it.
 */
export const X86_USER_HOLE: Readonly<ReservedRange> = Object.freeze({
  addr: USER_HOLE[0],
  size: USER_HOLE[1] - USER_HOLE[0],
  type: E820_RESERVED,
  label: "harness user hole",
});

/** The memory map both boots give: RAM from `mem`, the legacy hole below 1 MiB and the user hole reserved. */
export function x86E820(mem: GuestMemory): MemmapEntry[] {
  return buildMemmap(mem, { reserved: [X86_LEGACY_HOLE, X86_USER_HOLE] });
}

/** Loads the initramfs, if any, as high as the header allows, above the kernel and clear of non-RAM ranges. */
async function loadX86Initrd(
  mem: GuestMemory,
  opts: RealBootOptions,
  header: InitrdHeader,
  kernelEnd: number,
  e820: readonly MemmapEntry[],
): Promise<InitrdPlacement | undefined> {
  if (opts.initrd === undefined) return undefined;
  return await loadInitrd(mem, opts.initrd, { header, kernelEnd, avoid: e820.filter((e) => e.type !== E820_RAM) });
}

/**
 * Writes the machine's ACPI tables into the BIOS area (reserved in the e820 map) unless `opts.x86Acpi` is
 * false, and returns the RSDP's address for the boot parameters.
 */
function writeAcpi(mem: GuestMemory, opts: RealBootOptions): number | undefined {
  if (opts.x86Acpi === false) return undefined;
  const acpi = buildX86Acpi();
  mem.write(acpi.base, acpi.bytes);
  return acpi.rsdpAddr;
}

function cmdlineOf(opts: RealBootOptions, capacity: number): Cmdline {
  const cl = new Cmdline(capacity);
  cl.insertStr(opts.cmdline ?? X86_DEFAULT_CMDLINE);
  return cl;
}

function runMachine(
  mem: GuestMemory,
  kernel: { vmlinux: Uint8Array } | { range: { addr: number; size: number } },
  cpu: X86CpuState,
  opts: RealBootOptions,
  rewrittenEntry?: number,
): RealBootResult {
  using m = new X86LinuxMachine({
    mem,
    flushSites: "vmlinux" in kernel && kernel.vmlinux[EI_CLASS] === ELFCLASS64
      ? findFlushSites(kernel.vmlinux)
      : undefined,
    kernelRange: "range" in kernel ? kernel.range : undefined,
    onLine: opts.onLine,
    stopAt: opts.stopAt,
    stallEvents: opts.stallEvents,
    maxAliases: opts.x86MaxAliases,
    rewrittenEntry: rewrittenEntry === undefined ? undefined : BigInt(rewrittenEntry),
  });
  if (cpu.mode === "protected") m.leaveLongMode();
  applyX86State(m.uc, cpu);
  const entry = cpu.mode === "long" ? cpu.regs.rip : cpu.regs.eip;
  return m.run(BigInt(entry), {
    timeoutMs: opts.timeoutMs ?? 120_000,
    maxInstructions: opts.maxInstructions ?? 0,
    countInstructions: opts.countInstructions,
  });
}

/**
 * Boots a bzImage through the 64-bit boot protocol and runs it until it powers off, panics, halts or
 * runs out of time.
 */
export async function bootX86BzImage(bzImage: Uint8Array, opts: RealBootOptions = {}): Promise<RealBootResult> {
  const info = await decodeBzImage(bzImage);
  const ramSize = realRamBytes(opts.memoryMiB, {
    end: bzImageRuntimeEnd(info),
    initrd: opts.initrd?.byteLength ?? 0,
    what: "this bzImage",
  });
  const mem = GuestMemory.fromRanges([[0, ramSize]]);
  const place = bzImagePlacement(mem, info);
  const loaded = await loadBzImage(mem, bzImage, { loadAddress: place.loadAddress });
  const cl = cmdlineOf(opts, info.cmdlineSize + 1);
  loadCmdline(mem, X86_LAYOUT.cmdline, cl);
  const e820 = x86E820(mem);
  const header = loaded.details.setupHeader;
  const initrd = await loadX86Initrd(mem, opts, header, place.runtimeStart + place.reserved, e820);
  const acpiRsdpAddr = writeAcpi(mem, opts);
  // No SETUP_RNG_SEED: 6.1 reads setup_data through early_memremap before x86_configure_nx(), so the fixmap
  // PTE carries NX, which our CPUID (no NX: Unicorn drops EFER.NXE) makes a reserved bit: #PF RSVD, early halt.
  LinuxBootConfigurator.writeBootparams(
    mem,
    zeroPageBootParams(X86_LAYOUT.zeroPage, {
      header,
      cmdline: { addr: X86_LAYOUT.cmdline, length: cl.asCString().length - 1 },
      e820,
      initrd,
      acpiRsdpAddr,
    }),
  );
  // A 32-bit-only bzImage (no XLF_KERNEL_64) is entered through the 32-bit boot protocol at code32_start.
  const linux64 = loaded.entry.linux64;
  const boot = linux64 !== undefined
    ? x86LongModeBoot({ entry: linux64, zeroPage: X86_LAYOUT.zeroPage, identityGiB: 1 })
    : x86Linux32Boot({ entry: legacyEntry(loaded.entry.linux32), zeroPage: X86_LAYOUT.zeroPage });
  applyPlanSync(mem, boot.plan);
  // The TLB-flush sites come from the vmlinux when this build decodes the payload; otherwise the machine
  // finds them in guest RAM once the kernel's own decompressor has laid the kernel out. A 32-bit kernel
  // needs none: the machine runs it only on an engine that translates through the page tables itself.
  const kernel = opts.x86FlushSites === "ram" || linux64 === undefined ? undefined : await vmlinuxOrUndefined(bzImage);
  const source = kernel !== undefined
    ? { vmlinux: kernel }
    : { range: { addr: place.runtimeStart, size: place.reserved } };
  const rewrittenEntry = linux64 === undefined ? loaded.entry.linux32 : undefined;
  return { ...runMachine(mem, source, boot.cpu, opts, rewrittenEntry), initrd, ram: ramSize };
}

/** Boots the vmlinux inside `bzImage` (or `bzImage` itself when it is an ELF vmlinux) through PVH. */
export async function bootX86Pvh(bzImage: Uint8Array, opts: RealBootOptions = {}): Promise<RealBootResult> {
  const vmlinux = isElf(bzImage) ? bzImage : await extractVmlinux(bzImage);
  if (vmlinux.length > EI_CLASS && vmlinux[EI_CLASS] !== ELFCLASS64) {
    throw new EmulatorError(
      "UnsupportedMachine",
      "PVH boots an x86_64 vmlinux only (loadElf reads ELF64); a 32-bit kernel boots through the 32-bit protocol " +
        "(boot the bzImage without --protocol pvh)",
      { field: "protocol", value: "pvh" },
    );
  }
  const ramSize = realRamBytes(opts.memoryMiB, {
    end: elfPhysicalEnd(vmlinux),
    initrd: opts.initrd?.byteLength ?? 0,
    what: "this vmlinux",
  });
  const mem = GuestMemory.fromRanges([[0, ramSize]]);
  const loaded = await loadElf(mem, vmlinux);
  if (loaded.entry.pvh === undefined) {
    throw new EmulatorError("UnsupportedMachine", "the vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)", {
      field: "entry.pvh",
    });
  }
  const header = elfSetupHeader();
  const cl = cmdlineOf(opts, header.cmdline_size + 1);
  loadCmdline(mem, X86_LAYOUT.cmdline, cl);
  const memmap = x86E820(mem);
  const initrd = await loadX86Initrd(mem, opts, header, loaded.kernelEnd, memmap);
  const rsdpAddr = writeAcpi(mem, opts);
  PvhBootConfigurator.writeBootparams(
    mem,
    pvhBootParams({
      startInfoAddr: X86_LAYOUT.startInfo,
      memmapAddr: X86_LAYOUT.memmap,
      memmap,
      cmdlineAddr: X86_LAYOUT.cmdline,
      modules: initrd === undefined ? [] : [pvhInitrdEntry(initrd)],
      modlistAddr: X86_LAYOUT.modlist,
      rsdpAddr,
    }),
  );
  const boot = x86PvhBoot({ entry: loaded.entry.pvh, startInfo: X86_LAYOUT.startInfo });
  applyPlanSync(mem, boot.plan);
  return { ...runMachine(mem, { vmlinux }, boot.cpu, opts), initrd, ram: ramSize };
}

/**
 * The 32-bit entry of a 32-bit-only bzImage, on an engine that can run it: Unicorn 2.0's x86 engine
 * accesses memory at the virtual address, which the machine covers with aliases and TLB-flush hooks only
 * for a 64-bit kernel's fixed mappings, so a 32-bit kernel needs 2.1 or later (the engine walks the guest's
 * page tables itself).
 */
function legacyEntry(entry: number | undefined): number {
  const engine = unicornAvailable();
  if (engine.ok && engine.version === "2.0") {
    throw new EmulatorError(
      "UnsupportedMachine",
      `a 32-bit kernel needs Unicorn 2.1 or later; Unicorn ${engine.version} (${engine.path}) accesses x86 memory ` +
        `at the virtual address, which this machine covers only for 64-bit kernels`,
      { field: "engine", value: engine.version },
    );
  }
  if (entry === undefined) {
    throw new EmulatorError("UnsupportedMachine", "the bzImage has no 32-bit entry", { field: "entry.linux32" });
  }
  return entry;
}

/**
 * Where a bzImage's run-time footprint ends in RAM from 0: the run-time start bzImagePlacement picks in
 * RAM from 0 (pref_address rounded up to kernel_alignment when relocatable, else pref_address or
 * code32_start) + max(init_size, the protected-mode code's size).
 */
export function bzImageRuntimeEnd(info: BzImageInfo): number {
  const reserved = Math.max(info.initSize ?? 0, info.kernelSize);
  if (!info.relocatable) return (info.prefAddress ?? info.code32Start) + reserved;
  const align = info.kernelAlignment ?? 1;
  return Math.ceil((info.prefAddress ?? 0) / align) * align + reserved;
}

/** The highest physical address + size of an ELF64's PT_LOAD segments (0 when it has none it can read). */
export function elfPhysicalEnd(elf: Uint8Array): number {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf.byteLength < 0x40 || elf[EI_CLASS] !== ELFCLASS64) return 0;
  const phoff = Number(dv.getBigUint64(0x20, true));
  const phentsize = dv.getUint16(0x36, true), phnum = dv.getUint16(0x38, true);
  let end = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 0x30 > elf.byteLength || dv.getUint32(ph, true) !== PT_LOAD) continue;
    end = Math.max(end, Number(dv.getBigUint64(ph + 0x18, true) + dv.getBigUint64(ph + 0x28, true)));
  }
  return end;
}

/** The vmlinux inside a bzImage, or undefined when its payload's compression is not decoded by this build. */
async function vmlinuxOrUndefined(bzImage: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    return await extractVmlinux(bzImage);
  } catch (e) {
    if (e instanceof BzImageError && e.code === "UnsupportedCompression") return undefined;
    throw e;
  }
}

/** A one-line summary of a result. */
export function summary(r: RealBootResult): string {
  return `${r.stop}: ${r.detail}; ${r.instructions} instructions in ${(r.elapsedMs / 1000).toFixed(1)} s; pc ${
    hx(r.pc)
  }; last line: ${r.lastLine}`;
}
