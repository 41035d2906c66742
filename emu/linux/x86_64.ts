/**
 * Real x86_64 Linux boots in Unicorn, built with this project's own loaders and configurators:
 *
 * - {@linkcode bootX86BzImage}: the bzImage through the 64-bit boot protocol — `bzImagePlacement` and
 *   `loadBzImage` at pref_address, the zero page (setup header, e820, command line, ramdisk fields) from
 *   `linuxBootParams` + `LinuxBootConfigurator`, the command line from `Cmdline` + `loadCmdline`, page
 *   tables and GDT from `x86LongModeBoot`; entry at load address + 0x200 with RSI = zero page.
 * - {@linkcode bootX86Pvh}: the vmlinux inside the same bzImage (`extractVmlinux`) loaded by `loadElf`,
 *   entered at its XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode (`x86PvhBoot`) with EBX =
 *   hvm_start_info from `pvhBootParams` + `PvhBootConfigurator` (memory map, command line, the initramfs
 *   as module 0).
 *
 * Both run on {@linkcode X86LinuxMachine}, which covers Unicorn's gaps.
 *
 * @module
 */

import { E820_RAM, E820_RESERVED } from "../../lib/abi/bootparam.ts";
import { Cmdline } from "../../lib/cmdline.ts";
import { LinuxBootConfigurator, linuxBootParams } from "../../lib/configurator/linux.ts";
import { PvhBootConfigurator, pvhBootParams } from "../../lib/configurator/pvh.ts";
import { bzImagePlacement, decodeBzImage, loadBzImage } from "../../lib/loader/bzimage.ts";
import { loadCmdline } from "../../lib/loader/cmdline.ts";
import { loadElf } from "../../lib/loader/elf.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { type X86CpuState, x86LongModeBoot, x86PvhBoot } from "../../lib/boot/x86_64.ts";
import { applyX86State } from "../x86_64.ts";
import { hx, type RealBootOptions, type RealBootResult } from "./common.ts";
import { findFlushSites, USER_HOLE, X86LinuxMachine } from "./x86_machine.ts";

/** The default command line: the notes' timer-free settings, `nokaslr` for the fixed aliases. */
export const X86_DEFAULT_CMDLINE = "console=ttyS0 lpj=1000000 tsc_early_khz=1000000 no_timer_check nokaslr";

/** Guest physical layout of the boot data (below 1 MiB, clear of the page tables at 0x9000..). */
export const X86_LAYOUT: Readonly<Record<string, number>> = Object.freeze({
  startInfo: 0x6000,
  modlist: 0x6800,
  zeroPage: 0x7000,
  memmap: 0x8000,
  cmdline: 0x2_0000,
});

/** The e820 map both boots give: low RAM, the BIOS holes, RAM to 4 MiB, the user hole, RAM above. */
export function x86E820(ramSize: number): { addr: number; size: number; type: number }[] {
  const [holeStart, holeEnd] = USER_HOLE;
  return [
    { addr: 0, size: 0x9_fc00, type: E820_RAM },
    { addr: 0x9_fc00, size: 0x400, type: E820_RESERVED },
    { addr: 0xf_0000, size: 0x1_0000, type: E820_RESERVED },
    { addr: 0x10_0000, size: holeStart - 0x10_0000, type: E820_RAM },
    { addr: holeEnd, size: ramSize - holeEnd, type: E820_RAM },
  ];
}

/** Where the initramfs goes: page-aligned, 16 MiB below the end of RAM. */
function initrdAddress(ramSize: number, size: number): number {
  return Math.floor((ramSize - (16 << 20) - size) / 0x1000) * 0x1000;
}

function cmdlineOf(opts: RealBootOptions, capacity: number): Cmdline {
  const cl = new Cmdline(capacity);
  cl.insertStr(opts.cmdline ?? X86_DEFAULT_CMDLINE);
  return cl;
}

/** What a boot set up, for reports. */
export interface X86BootSetup {
  /** Entry address. */
  entry: number;
  /** Initramfs placement, if any. */
  initrd?: { addr: number; size: number };
}

function runMachine(
  mem: GuestMemory,
  vmlinux: Uint8Array,
  cpu: X86CpuState,
  opts: RealBootOptions,
): RealBootResult {
  using m = new X86LinuxMachine({ mem, flushSites: findFlushSites(vmlinux), onLine: opts.onLine, stopAt: opts.stopAt });
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
  const ramSize = (opts.memoryMiB ?? 512) << 20;
  const mem = GuestMemory.fromRanges([[0, ramSize]]);
  const info = await decodeBzImage(bzImage);
  const place = bzImagePlacement(info, mem);
  const loaded = await loadBzImage(mem, bzImage, { kernelOffset: place.loadAddress });
  const cl = cmdlineOf(opts, info.cmdlineSize + 1);
  loadCmdline(mem, X86_LAYOUT.cmdline, cl);
  let ramdisk: { addr: number; size: number } | undefined;
  if (opts.initrd !== undefined) {
    const addr = initrdAddress(ramSize, opts.initrd.byteLength);
    if (addr + opts.initrd.byteLength > info.initrdAddrMax) throw new RangeError("initrd above initrd_addr_max");
    mem.write(addr, opts.initrd);
    ramdisk = { addr, size: opts.initrd.byteLength };
  }
  LinuxBootConfigurator.writeBootparams(
    linuxBootParams({
      zeroPageAddr: X86_LAYOUT.zeroPage,
      setupHeader: loaded.setupHeader,
      e820: x86E820(ramSize),
      cmdlineAddr: X86_LAYOUT.cmdline,
      ramdisk,
    }),
    mem,
  );
  const boot = x86LongModeBoot({ entry: place.loadAddress + 0x200, zeroPage: X86_LAYOUT.zeroPage, identityGiB: 1 });
  applyPlanSync(mem, boot.plan);
  const vmlinux = await extractVmlinux(bzImage);
  return runMachine(mem, vmlinux, boot.cpu, opts);
}

/** Boots the vmlinux inside `bzImage` through PVH. */
export async function bootX86Pvh(bzImage: Uint8Array, opts: RealBootOptions = {}): Promise<RealBootResult> {
  const ramSize = (opts.memoryMiB ?? 512) << 20;
  const mem = GuestMemory.fromRanges([[0, ramSize]]);
  const vmlinux = await extractVmlinux(bzImage);
  const loaded = await loadElf(mem, vmlinux);
  if (loaded.pvhBootCap.kind !== "present") throw new RangeError("the vmlinux has no PVH entry note");
  const cl = cmdlineOf(opts, 2048);
  loadCmdline(mem, X86_LAYOUT.cmdline, cl);
  const modules = [];
  if (opts.initrd !== undefined) {
    const addr = initrdAddress(ramSize, opts.initrd.byteLength);
    mem.write(addr, opts.initrd);
    modules.push({ paddr: addr, size: opts.initrd.byteLength });
  }
  PvhBootConfigurator.writeBootparams(
    pvhBootParams({
      startInfoAddr: X86_LAYOUT.startInfo,
      memmapAddr: X86_LAYOUT.memmap,
      memmap: x86E820(ramSize),
      cmdlineAddr: X86_LAYOUT.cmdline,
      modules,
      modlistAddr: X86_LAYOUT.modlist,
    }),
    mem,
  );
  const boot = x86PvhBoot({ entry: loaded.pvhBootCap.address, startInfo: X86_LAYOUT.startInfo });
  applyPlanSync(mem, boot.plan);
  return runMachine(mem, vmlinux, boot.cpu, opts);
}

/** A one-line summary of a result. */
export function summary(r: RealBootResult): string {
  return `${r.stop}: ${r.detail}; ${r.instructions} instructions in ${(r.elapsedMs / 1000).toFixed(1)} s; pc ${
    hx(r.pc)
  }; last line: ${r.lastLine}`;
}
