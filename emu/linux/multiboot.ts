/**
 * Multiboot 1 and Multiboot2 kernels on the real x86 machine ({@linkcode X86LinuxMachine}): Xen, as GRUB or
 * QEMU would start it.
 *
 * - The image is loaded by the library's Multiboot loaders (`loadMultiboot`, `loadMultiboot2`: ELF32
 *   program headers or the header's address fields), after `gunzip` when it is gzip-wrapped (Debian ships
 *   `xen-4.17-amd64.gz`; GRUB decompresses it transparently).
 * - The boot information is `configureMultiboot` / `configureMultiboot2`'s: the memory map from
 *   `buildMemmap` (RAM, the legacy hole below 1 MiB reserved), mem_lower/mem_upper, the command line, the
 *   boot loader name and the initramfs (if any) as module 0.
 * - The command line starts with the image's name, as QEMU's and GRUB legacy's Multiboot loaders pass it
 *   (`"<kernel> <args>"`); Xen drops that first word for every boot loader but GRUB 2.
 * - A BIOS data area: base memory in KiB at 0x413 and the EBDA segment at 0x40e, which a kernel reads to
 *   place code below 1 MiB (Xen's trampoline goes 64 KiB below the EBDA).
 * - Entry in flat 32-bit protected mode, paging off, EAX = the boot loader magic, EBX = the information
 *   block (both specifications' machine state; the same segments as the PVH entry).
 *
 * @module
 */

import { E820_RAM } from "../../lib/abi/bootparam.ts";
import { buildMemmap, X86_LEGACY_HOLE } from "../../lib/boot/memmap.ts";
import { placeInitrd } from "../../lib/boot/initrd.ts";
import { x86PvhBoot } from "../../lib/boot/x86_64.ts";
import { gunzip, isGzip } from "../../lib/compress/gzip.ts";
import { configureMultiboot, type MultibootMemoryRange } from "../../lib/configurator/multiboot.ts";
import { configureMultiboot2 } from "../../lib/configurator/multiboot2.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { detectKernel } from "../../lib/loader/mod.ts";
import { loadMultiboot, loadMultiboot2 } from "../../lib/loader/multiboot.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { applyX86State } from "../x86_64.ts";
import { ramBytes, type RealBootOptions, type RealBootResult } from "./common.ts";
import { X86LinuxMachine } from "./x86_machine.ts";

/** The two Multiboot protocols. */
export type MultibootProtocol = "multiboot1" | "multiboot2";

/** Where the boot information block goes: below 1 MiB, clear of the boot GDT (0x500) and the BDA. */
export const MULTIBOOT_REAL_INFO_ADDR = 0x1_0000;
/** Room kept for the information block (the map, the module list and the strings). */
const INFO_ROOM = 0x1_0000;

/** BIOS data area: "base memory size in KiB" (word at 0x413) and "EBDA segment" (word at 0x40e). */
const BDA_BASE_MEMORY_KIB = 0x413;
const BDA_EBDA_SEGMENT = 0x40e;

/** Multiboot fields are 32-bit: modules must lie below 4 GiB. */
const MODULE_MAX = 0xffff_ffff;

/**
 * What the machine needs on Xen's command line: `no-real-mode`. Without it Xen's trampoline drops to real mode
 * to ask the BIOS for the memory map, EDD and video modes (`int 0x15`, `int 0x13`, `int 0x10`); the machine
 * has no BIOS (the run stops with an exception in real mode at 0x296), so Xen takes the Multiboot map.
 */
export const XEN_MACHINE_PARAMS: readonly string[] = Object.freeze(["no-real-mode"]);

/** The default command line of a Xen boot: its console on COM1. */
export const XEN_DEFAULT_CMDLINE = "console=com1 com1=115200,8n1";

/** The largest inflated kernel the machine takes: far above any real kernel (Xen 4.17: 2.5 MB, Linux: 60 MB). */
export const MAX_INFLATED_KERNEL = 256 << 20;

/**
 * A gzip-wrapped image inflated (at most {@linkcode MAX_INFLATED_KERNEL}, else `DecompressError`
 * `OutputTooLarge`), anything else as it is.
 */
export async function unwrapGzipKernel(image: Uint8Array): Promise<Uint8Array> {
  return isGzip(image) ? await gunzip(image, { maxOutput: MAX_INFLATED_KERNEL }) : image;
}

/** Whether an image names itself Xen (its console banner's format string). */
export function isXenImage(image: Uint8Array): boolean {
  const needle = new TextEncoder().encode("Xen version %d.%d");
  for (let i = image.indexOf(needle[0]); i >= 0; i = image.indexOf(needle[0], i + 1)) {
    let k = 1;
    while (k < needle.length && image[i + k] === needle[k]) k++;
    if (k === needle.length) return true;
  }
  return false;
}

/** Options of {@linkcode bootX86Multiboot}. */
export interface MultibootRealOptions extends RealBootOptions {
  /** The protocol; default Multiboot2 when the image carries both headers (GRUB's `multiboot2`). */
  protocol?: MultibootProtocol;
  /** The image's name, first word of the command line (default "kernel"). */
  imageName?: string;
}

/** Boots a Multiboot 1 or 2 kernel (plain or gzip-wrapped) on the real x86 machine. */
export async function bootX86Multiboot(
  image: Uint8Array,
  opts: MultibootRealOptions = {},
): Promise<RealBootResult & { multiboot: MultibootProtocol }> {
  const raw = await unwrapGzipKernel(image);
  const detected = await detectKernel(raw);
  const has = (v: 1 | 2) => detected.multiboot.some((m) => m.version === v);
  const protocol: MultibootProtocol = opts.protocol ?? (has(2) ? "multiboot2" : "multiboot1");
  if (!has(protocol === "multiboot2" ? 2 : 1)) {
    throw new EmulatorError("UnsupportedMachine", `the image carries no ${protocol} header`, {
      field: "protocol",
      value: protocol,
    });
  }
  const v2 = protocol === "multiboot2";
  const ramSize = ramBytes(opts.memoryMiB);
  const mem = GuestMemory.fromRanges([[0, ramSize]]);
  const loaded = v2 ? await loadMultiboot2(mem, raw) : await loadMultiboot(mem, raw);
  const entry = loaded.entry.multiboot!;
  const e820 = buildMemmap(mem, { reserved: [X86_LEGACY_HOLE] });
  const memoryMap: MultibootMemoryRange[] = e820.map((e) => ({ addr: e.addr, size: e.size, type: e.type }));
  const modules = [];
  let initrd: { addr: number; size: number } | undefined;
  if (opts.initrd !== undefined) {
    const place = placeInitrd(mem, opts.initrd.length, {
      kernelEnd: loaded.kernelEnd,
      maxAddr: MODULE_MAX,
      avoid: [
        ...e820.filter((e) => e.type !== E820_RAM),
        { addr: MULTIBOOT_REAL_INFO_ADDR, size: INFO_ROOM },
      ],
    });
    modules.push({ addr: place.addr, bytes: opts.initrd, cmdline: "initrd" });
    initrd = { addr: place.addr, size: opts.initrd.length };
  }
  const cmdline = `${opts.imageName ?? "kernel"} ${opts.cmdline ?? ""}`.trim();
  const info = (v2 ? configureMultiboot2 : configureMultiboot)(mem, {
    infoAddr: MULTIBOOT_REAL_INFO_ADDR,
    cmdline,
    modules,
    memoryMap,
    pageAlignModules: loaded.details.pageAlignModules,
  });
  // The BIOS data area a PC's firmware leaves: base memory up to the EBDA, and the EBDA's segment.
  mem.writeU16(BDA_BASE_MEMORY_KIB, X86_LEGACY_HOLE.addr >> 10);
  mem.writeU16(BDA_EBDA_SEGMENT, X86_LEGACY_HOLE.addr >> 4);
  const boot = x86PvhBoot({ entry, startInfo: info.registers.ebx });
  boot.cpu.regs.eax = info.registers.eax;
  boot.cpu.regs.ebx = info.registers.ebx;
  applyPlanSync(mem, boot.plan);
  using m = new X86LinuxMachine({
    mem,
    flushSites: { invlpg: [], movCr: [] },
    onLine: opts.onLine,
    stopAt: opts.stopAt,
    stallEvents: opts.stallEvents,
    maxAliases: opts.x86MaxAliases,
    userHole: false,
  });
  m.leaveLongMode();
  applyX86State(m.uc, boot.cpu);
  const r = m.run(BigInt(entry), {
    timeoutMs: opts.timeoutMs ?? 120_000,
    maxInstructions: opts.maxInstructions ?? 0,
    countInstructions: opts.countInstructions,
  });
  return { ...r, initrd, multiboot: protocol };
}
