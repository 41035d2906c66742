/**
 * An x86_64 machine around Unicorn 2.0.1 that a real Linux kernel can run on: it covers the engine gaps
 * measured in ../shared/notes/unicorn-real-kernels.md.
 *
 * - Address aliasing. Unicorn 2.0.1's x86 MMU walks the guest page tables and then accesses its memory map
 *   at the *virtual* address (qemu/target/i386/excp_helper.c, "indentity map guest virtual address to host
 *   virtual address"), while the page walk itself reads *physical* memory. So guest RAM is mapped at
 *   physical 0 (for the walks and the early identity-mapped code), again at the kernel text mapping
 *   0xffffffff80000000 and the direct map 0xffff888000000000 (both fixed in Linux with `nokaslr`), and
 *   every other virtual page the guest touches gets a 4 KiB alias of its physical page on demand, found
 *   by walking the guest's page tables. Aliases are dropped when the guest flushes its TLB (`invlpg`,
 *   CR3 and CR4 writes, found by scanning the kernel's text and hooked one address each).
 *   The physical range [4 MiB, 8 MiB) is left out of RAM (an e820 hole) and out of the identity
 *   mapping, so a static user program at 0x400000 can get its own aliases there.
 * - Exceptions. Unicorn reports CPU exceptions through UC_HOOK_INTR instead of delivering them; the
 *   machine delivers them through the guest's IDT (frame, error code, IST and privilege switch) and
 *   clears the engine's "exception in flight" (`old_exception`), which it never clears itself. The
 *   error code, `old_exception`, the CPL and the segment caches live in QEMU's CPUX86State; they are
 *   edited through uc_context_save/restore at offsets checked against the register API and calibrated
 *   once by a probe run.
 * - `syscall` is not carried out by Unicorn (the hook runs, RIP moves on by 2): the machine does what the
 *   CPU does (RCX, R11, FMASK, CS/SS from STAR, CPL 0, RIP = LSTAR). `sysret` and `iret` are native.
 * - CPUID describes what the engine implements (no NX: the EFER.NXE write is dropped; no POPCNT, no APIC).
 * - `ud2` (BUG/WARN) stops the engine; the machine delivers #UD and goes on.
 * - A 32-bit kernel (EFER.LMA clear): page walks, IDT gates and interrupt frames of legacy protected mode
 *   (x86_legacy.ts); `int 0x80` is reported like an exception (EIP past it) and delivered through its gate.
 * - Devices (x86_devices.ts, acpi.ts): a 16550 on port 0x3f8 whose THRE interrupt is raised and cleared as the
 *   chip does (LSR reads 0x60), the two 8259 PICs (masks, IRR/ISR, EOIs, edge or level by the ELCR, the
 *   vector base from ICW2) with the 16550 on IRQ 4, the PIT's channel 0 on IRQ 0 in virtual time, and the
 *   ACPI PM1a registers (an S5 write powers off); other ports read 0xff. An interrupt the PIC asserts is
 *   taken where the machine can deliver one at an exact instruction boundary: a `hlt` with interrupts on
 *   (where a programmed PIT expires first: time jumps to the next tick), and a `syscall` or `int n` with
 *   interrupts on (one PIT expiry per call). Not from a port-I/O hook: there Unicorn's PC is the start of
 *   the translated block, and a run stopped and resumed from it executes the block's first instructions
 *   again (measured: the 8250's io_serial_out sent its port's low byte, 0xf8, as data).
 *
 * @module
 */

import type { GuestMemory } from "../../lib/memory.ts";
import { COM1_PORT } from "../uart.ts";
import { LegacyPic, Pit8254, PIT_IRQ, PIT_PORTS, Serial16550 } from "./x86_devices.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { type FaultKind, Unicorn, unicornAvailable } from "../unicorn.ts";
import { PM1A_CNT_PORT, S5_SLP_TYP, X86AcpiPm } from "./acpi.ts";
import {
  DEBUG,
  HANG_GRACE_MS,
  hx,
  type RealBootResult,
  realRunResult,
  type RunEnd,
  runLimitReached,
  runSlice,
  SerialConsole,
} from "./common.ts";
import {
  decodeIdtGate32,
  decodeSegmentDescriptor,
  EFER_LMA,
  GATE32,
  legacyFrameBytes,
  type SegmentCache,
  translateLegacy,
  tss32Stack0,
} from "./x86_legacy.ts";

/** Where guest RAM is mapped again: the kernel text mapping (__START_KERNEL_map). */
export const KERNEL_TEXT_MAP = 0xffff_ffff_8000_0000n;
/** The direct map of all physical memory (page_offset_base without KASLR). */
export const DIRECT_MAP = 0xffff_8880_0000_0000n;
/** The most 4 KiB aliases kept mapped at once (see `#evictOldest`). */
export const MAX_LIVE_ALIASES = 256;
/** Physical range kept out of RAM so user programs linked at 0x400000 have the addresses to themselves. */
export const USER_HOLE: readonly [number, number] = [0x40_0000, 0x80_0000];

const PAGE = 0x1000;
const CR0_PG = 0x8000_0000n;
/** The part of guest RAM the kernel text mapping covers (KERNEL_IMAGE_SIZE with KASLR: 1 GiB). */
const TEXT_MAP_SIZE = 0x4000_0000;
const PAGE_MASK = ~0xfffn;
const PHYS_MASK = 0x000f_ffff_ffff_f000n;
const U64 = (1n << 64n) - 1n;
const USER_TOP = 0x0000_8000_0000_0000n;

// CPUX86State (qemu/target/i386/cpu.h in Unicorn 2.0.1): regs[16], eip, eflags, cc_dst, cc_src, cc_src2,
// cc_op, df, hflags, hflags2, segs[6] (SegmentCache: u32 selector, u64 base, u32 limit, u32 flags).
const ENV_EIP = 128;
const ENV_HFLAGS = 176;
const ENV_SEGS = 184;
const SEG_SIZE = 24;
const R_CS = 1, R_SS = 2;
const HF_CPL_MASK = 3;
const HF_LMA = 1 << 14, HF_CS64 = 1 << 15;
// error_code is followed by exception_is_int, exception_next_eip, dr[8], four pointers, old_exception.
const ERROR_CODE_TO_OLD_EXCEPTION = 4 + 4 + 8 + 64 + 32;

// Descriptor flag bits as QEMU keeps them (the high dword of a descriptor).
const DESC_A = 1 << 8, DESC_W = 1 << 9, DESC_R = 1 << 9, DESC_CS = 1 << 11, DESC_S = 1 << 12;
const DESC_P = 1 << 15, DESC_L = 1 << 21, DESC_B = 1 << 22, DESC_G = 1 << 23;

// RFLAGS bits.
const TF = 0x100n, IF = 0x200n, NT = 0x4000n, RF = 0x1_0000n, VM = 0x2_0000n;

/** COM1's ISA interrupt (the vector is the master PIC's ICW2 base + 4: 0x34 under Linux). */
export const COM1_IRQ = 4;

/**
 * The most PIT expiries the machine lets an idle kernel (a `hlt` with interrupts on) take without printing
 * a line before it ends the run `"idle"`: 200 s of guest time at Linux's HZ=250.
 */
export const IDLE_TICKS = 50_000;

/** Whether the engine accesses memory at the virtual address (Unicorn 2.0), so the machine maps aliases. */
function engineNeedsAliases(): boolean {
  const u = unicornAvailable();
  return !u.ok || u.version === "2.0";
}

/** Instructions run after a counted slice ends just after a 0xf4 byte, to see whether it was a `hlt`. */
const CONFIRM_HALT_COUNT = 20_000;

const MSR_EFER = 0xc000_0080;
const MSR_STAR = 0xc000_0081, MSR_LSTAR = 0xc000_0082, MSR_FMASK = 0xc000_0084;

/** Vectors from 32 up are never CPU exceptions: in the interrupt hook they come from `int n`. */
const SOFTWARE_VECTORS = 32;

/** Vectors that push an error code. */
const HAS_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

const GPR = [
  "rax",
  "rcx",
  "rdx",
  "rbx",
  "rsp",
  "rbp",
  "rsi",
  "rdi",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
];

/** Offsets in Unicorn's saved x86 CPU state, calibrated once per process. */
export interface X86StateLayout {
  /** Offset of `error_code` (int). */
  errorCode: number;
  /** Offset of `old_exception` (int): the exception in flight, -1 for none. */
  oldException: number;
}

let layout: X86StateLayout | undefined;

/**
 * Finds `error_code` and `old_exception` in the saved CPU state: a probe run takes a write page fault
 * (error code 2), and the one offset that held -1 before and 14 after, with 2 at the distance the
 * structure puts error_code, is the answer.
 */
export function calibrateX86State(): X86StateLayout {
  if (layout !== undefined) return layout;
  using uc = Unicorn.open("x86_64");
  // Long mode with one identity 2 MiB page at 0; a write to 0x40000000 (not mapped) faults with error 2.
  const ram = new Uint8Array(0x20_0000);
  const dv = new DataView(ram.buffer);
  dv.setBigUint64(0x1000, 0x2003n, true); // PML4[0] -> PDPT at 0x2000
  dv.setBigUint64(0x2000, 0x3003n, true); // PDPT[0] -> PD at 0x3000
  dv.setBigUint64(0x3000, 0x83n, true); // PD[0]: 2 MiB page at 0
  dv.setBigUint64(0x500 + 8, 0x00af9b000000ffffn, true); // GDT[1]: 64-bit code
  dv.setBigUint64(0x500 + 16, 0x00cf93000000ffffn, true); // GDT[2]: data
  ram.set([0xc6, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40, 0x01, 0xf4], 0x4000); // mov byte [0x40000000], 1; hlt
  uc.mapHost(0, ram);
  uc.mapScratch(0x4000_0000, 0x1000); // Unicorn wants a region at the virtual address before it walks
  uc.regWrite("cr3", 0x1000);
  uc.regWrite("cr4", 0x20);
  uc.writeMsr(0xc000_0080, 0x500);
  uc.regWrite("cr0", 0x8000_0011);
  uc.writeMmr("gdtr", { selector: 0, base: 0x500, limit: 23, flags: 0 });
  for (const s of ["ds", "es", "ss"]) uc.regWrite(s, 0x10);
  uc.regWrite("cs", 0x08);
  const before = uc.editCpuState((s) => s.slice());
  let after: Uint8Array | undefined;
  uc.onInterrupt((intno) => {
    if (intno === 14) after = uc.editCpuState((s) => s.slice());
    uc.stop();
  });
  uc.start({ begin: 0x4000, count: 10 });
  if (after === undefined) throw new EmulatorError("UnicornError", "the x86 state probe took no page fault");
  const b = new DataView(before.buffer), a = new DataView(after.buffer);
  const found: number[] = [];
  for (let o = ERROR_CODE_TO_OLD_EXCEPTION; o + 4 <= after.length; o += 4) {
    if (b.getInt32(o, true) === -1 && a.getInt32(o, true) === 14) {
      if (a.getInt32(o - ERROR_CODE_TO_OLD_EXCEPTION, true) === 2) found.push(o);
    }
  }
  if (found.length !== 1) {
    throw new EmulatorError(
      "UnicornError",
      `cannot locate old_exception in Unicorn's x86 CPU state (${found.length} candidates); not Unicorn 2.0.1?`,
    );
  }
  layout = { oldException: found[0], errorCode: found[0] - ERROR_CODE_TO_OLD_EXCEPTION };
  return layout;
}

/** The CPUID the machine reports: an AMD family 15 CPU (Unicorn's qemu64) without what the engine lacks. */
export function x86Cpuid(leaf: number, _sub: number): [number, number, number, number] {
  const sig = 0x0006_0fb1; // family 15, model 0x6b, stepping 1
  const str = (s: string) => {
    const b = new TextEncoder().encode(s.padEnd(48, "\0"));
    const d = new DataView(b.buffer);
    return (i: number) => d.getUint32(i * 4, true);
  };
  const vendor = str("AuthenticAMD");
  switch (leaf) {
    case 0:
      return [7, vendor(0), vendor(2), vendor(1)];
    case 1: {
      // EDX: FPU DE PSE TSC MSR PAE CX8 PGE CMOV PAT PSE36 CLFLUSH MMX FXSR SSE SSE2 (no APIC, MTRR, MCE, SEP)
      const edx = [0, 2, 3, 4, 5, 6, 8, 13, 15, 16, 17, 19, 23, 24, 25, 26].reduce((m, b) => m | (1 << b), 0);
      const ecx = (1 << 0) | (1 << 13); // SSE3, CX16 (no POPCNT, no XSAVE, no hypervisor bit)
      return [sig, 0x0000_0800, ecx >>> 0, edx >>> 0];
    }
    case 0x8000_0000:
      return [0x8000_0008, vendor(0), vendor(2), vendor(1)];
    case 0x8000_0001:
      return [sig, 0, 1, /* LAHF_LM */ ((1 << 11) | (1 << 29)) >>> 0 /* SYSCALL, LM; no NX */];
    case 0x8000_0002:
    case 0x8000_0003:
    case 0x8000_0004: {
      const brand = str("linux-loader Unicorn x86_64");
      const base = (leaf - 0x8000_0002) * 4;
      return [brand(base), brand(base + 1), brand(base + 2), brand(base + 3)];
    }
    case 0x8000_0008:
      return [0x3028, 0, 0, 0]; // 40 physical, 48 linear address bits
    default:
      return [0, 0, 0, 0];
  }
}

/** Addresses of TLB-flushing instructions in a kernel's executable segments. */
export interface FlushSites {
  /** `invlpg m` (0f 01 /7). */
  invlpg: bigint[];
  /** `mov cr3, r` and `mov cr4, r` (0f 22 /3, /4). */
  movCr: bigint[];
}

/** Whether `b[i..]` starts a TLB-flushing instruction (an optional REX prefix, then 0f 01 /7 or 0f 22 /3,/4). */
function flushAt(b: Uint8Array, i: number): "invlpg" | "movCr" | undefined {
  if ((b[i] & 0xf0) === 0x40) i++;
  if (b[i] !== 0x0f || i + 2 >= b.length) return undefined;
  const op = b[i + 1], m = b[i + 2];
  const reg = (m >> 3) & 7, mod = m >> 6;
  if (op === 0x01 && reg === 7 && mod !== 3) return "invlpg";
  if (op === 0x22 && mod === 3 && (reg === 3 || reg === 4)) return "movCr";
  return undefined;
}

interface ElfSection {
  name: string;
  addr: bigint;
  offset: number;
  size: number;
}

function elfSections(dv: DataView): ElfSection[] {
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true), shnum = dv.getUint16(0x3c, true), shstrndx = dv.getUint16(0x3e, true);
  if (shoff === 0 || shnum === 0) return [];
  const strOff = Number(dv.getBigUint64(shoff + shstrndx * shentsize + 0x18, true));
  const out: ElfSection[] = [];
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    let n = strOff + dv.getUint32(sh, true), name = "";
    while (dv.getUint8(n) !== 0) name += String.fromCharCode(dv.getUint8(n++));
    out.push({
      name,
      addr: dv.getBigUint64(sh + 0x10, true),
      offset: Number(dv.getBigUint64(sh + 0x18, true)),
      size: Number(dv.getBigUint64(sh + 0x20, true)),
    });
  }
  return out;
}

/**
 * Scans an ELF vmlinux for `invlpg` and `mov cr3/cr4, reg` and returns the virtual addresses where such an
 * instruction may start: in the executable PT_LOAD segments (a REX prefix included; a match inside another
 * instruction is harmless, a code hook there never fires), and at every `.altinstructions` site whose
 * replacement is one — the kernel patches those in at boot (`write_cr3` is a paravirt call until
 * `apply_alternatives` turns it into `mov %rdi,%cr3`).
 */
export function findFlushSites(vmlinux: Uint8Array): FlushSites {
  const dv = new DataView(vmlinux.buffer, vmlinux.byteOffset, vmlinux.byteLength);
  const phoff = Number(dv.getBigUint64(0x20, true));
  const phentsize = dv.getUint16(0x36, true), phnum = dv.getUint16(0x38, true);
  const out: FlushSites = { invlpg: [], movCr: [] };
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== 1 || (dv.getUint32(ph + 4, true) & 1) === 0) continue; // PT_LOAD, PF_X
    const off = Number(dv.getBigUint64(ph + 8, true));
    const vaddr = dv.getBigUint64(ph + 16, true);
    const size = Number(dv.getBigUint64(ph + 32, true));
    const seg = vmlinux.subarray(off, off + size);
    for (let j = 0; j + 2 < seg.length; j++) {
      if (seg[j] !== 0x0f) continue;
      const kind = flushAt(seg, j);
      if (kind === undefined) continue;
      out[kind].push(vaddr + BigInt(j));
      if (j > 0 && (seg[j - 1] & 0xf0) === 0x40) out[kind].push(vaddr + BigInt(j - 1));
    }
  }
  const sections = elfSections(dv);
  const alt = sections.find((s) => s.name === ".altinstructions");
  const repl = sections.find((s) => s.name === ".altinstr_replacement");
  if (alt === undefined || repl === undefined) return out;
  // struct alt_instr { s32 instr_offset; s32 repl_offset; (u16 cpuid or u32 ft_flags); u8 instrlen;
  // u8 replacementlen } __packed: 12 or 14 bytes by kernel version; take the size whose every entry
  // points into the replacement section.
  for (const entry of [14, 12]) {
    if (alt.size % entry !== 0) continue;
    const sites: [bigint, "invlpg" | "movCr"][] = [];
    let ok = true;
    for (let k = 0; k < alt.size / entry && ok; k++) {
      const at = alt.offset + k * entry;
      const rAddr = alt.addr + BigInt(k * entry + 4) + BigInt(dv.getInt32(at + 4, true));
      const rLen = dv.getUint8(at + entry - 1);
      const rOff = Number(rAddr - repl.addr);
      if (rOff < 0 || rOff + rLen > repl.size) {
        ok = rLen === 0 && rOff >= 0 && rOff <= repl.size;
        continue;
      }
      const bytes = vmlinux.subarray(repl.offset + rOff, repl.offset + rOff + rLen);
      const kind = rLen >= 3 ? flushAt(bytes, 0) : undefined;
      if (kind !== undefined) sites.push([alt.addr + BigInt(k * entry) + BigInt(dv.getInt32(at, true)), kind]);
    }
    if (!ok) continue;
    for (const [a, kind] of sites) out[kind].push(a);
    break;
  }
  return out;
}

/**
 * Scans `bytes` (guest RAM holding a kernel image as the kernel laid it out) for TLB-flushing
 * instructions, as {@linkcode findFlushSites} does for an ELF's text; `va` is the virtual address of
 * `bytes[0]`. All-zero stretches cost nothing; a match in data is a hook that never fires.
 */
export function scanFlushSites(bytes: Uint8Array, va: bigint): FlushSites {
  const out: FlushSites = { invlpg: [], movCr: [] };
  for (let j = bytes.indexOf(0x0f); j >= 0 && j + 2 < bytes.length; j = bytes.indexOf(0x0f, j + 1)) {
    const kind = flushAt(bytes, j);
    if (kind === undefined) continue;
    out[kind].push(va + BigInt(j));
    if (j > 0 && (bytes[j - 1] & 0xf0) === 0x40) out[kind].push(va + BigInt(j - 1));
  }
  return out;
}

/** Options of {@linkcode X86LinuxMachine}. */
export interface X86MachineOptions {
  /** Guest RAM; one region from physical 0. */
  mem: GuestMemory;
  /**
   * TLB-flush sites of the kernel that will run (from its vmlinux). Without them (a bzImage whose payload
   * this build cannot decompress), the machine finds them in guest RAM: it scans `kernelRange` when the
   * kernel first touches its text mapping (the decompressor has laid the kernel out by then), and again
   * when the first user-half page is aliased (by then `apply_alternatives` has patched the inline
   * `mov %rdi,%cr3` sites in).
   */
  flushSites?: FlushSites;
  /** Physical range the kernel occupies at run time (`bzImagePlacement`: runtimeStart, reserved). */
  kernelRange?: { addr: number; size: number };
  /** Line listener. */
  onLine?: (line: string) => void;
  /** Stop at a line containing this. */
  stopAt?: string;
  /** The console watchdog ({@linkcode RealBootOptions.stallEvents}). */
  stallEvents?: number;
  /** Live 4 KiB aliases kept at most (default {@linkcode MAX_LIVE_ALIASES}). */
  maxAliases?: number;
  /**
   * Keep {@linkcode USER_HOLE} out of the identity mapping (default true, for Linux's /init at 0x400000);
   * false maps all RAM at its physical address (a kernel loaded there, such as Xen at 2 MiB).
   */
  userHole?: boolean;
  /**
   * An entry the kernel overwrites and runs again: a 32-bit bzImage is entered at code32_start, where its
   * decompressor starts, and the decompressed kernel's own startup_32 later lands at the same address.
   * Unicorn 2.1.1 went on running its translations of the decompressor there (the guest's writes did not
   * invalidate them; measured on Debian's 686 kernel), so the machine drops the translations of
   * `kernelRange` (every translation without it) when code at this address runs for the second time.
   */
  rewrittenEntry?: bigint;
}

/** A page-table walk's result. */
export interface Translation {
  /** Physical address. */
  pa: number;
  /** Writable at every level. */
  writable: boolean;
  /** User-accessible at every level. */
  user: boolean;
}

/** Runs a real x86_64 kernel in Unicorn; see the module documentation for what it covers. */
export class X86LinuxMachine implements Disposable {
  /** The engine. */
  readonly uc: Unicorn;
  /** Guest RAM (the same bytes the engine sees). */
  readonly mem: GuestMemory;
  /** The 16550's output. */
  readonly console: SerialConsole;
  /** What the machine did for the guest. */
  readonly stats: Record<string, number> = {
    aliases: 0,
    aliasDrops: 0,
    aliasEvictions: 0,
    exceptions: 0,
    pageFaults: 0,
    userPageFaults: 0,
    syscalls: 0,
    ud2: 0,
    cpuid: 0,
    zeroPages: 0,
    placeholders: 0,
    movCr: 0,
    invlpg: 0,
    sysrets: 0,
    irqs: 0,
    uartIrqs: 0,
  };
  #aliases = new Set<bigint>();
  #placeholders = new Set<bigint>();
  #layout: X86StateLayout;
  #ram: Uint8Array;
  #pendingUd = false;
  #lastException = "";
  #debug = DEBUG;

  /** Opens the engine, maps RAM and its aliases, and installs every hook. */
  constructor(opts: X86MachineOptions) {
    this.mem = opts.mem;
    if (opts.mem.regions.length !== 1 || opts.mem.regions[0].guestAddr !== 0) {
      throw new RangeError("the x86 Linux machine wants one RAM region from physical address 0");
    }
    this.#ram = opts.mem.regions[0].bytes;
    this.#layout = calibrateX86State();
    this.uc = Unicorn.open("x86_64");
    // The run ends at the ACPI S5 write, not at the "reboot: Power down" line printed just before it.
    this.console = new SerialConsole(opts.onLine, opts.stopAt, opts.stallEvents, false);
    this.#attachDevices();
    this.uc.onCpuid(() => this.#cpuid());
    this.uc.onUnmapped((access, address) => this.#alias(access, address));
    this.uc.onInterrupt((intno) => this.#exception(intno));
    this.uc.onSyscall(() => this.#syscall());
    this.uc.onInvalidInstruction(() => {
      this.#pendingUd = true;
      return true;
    });
    this.#kernelRange = opts.kernelRange;
    this.#maxAliases = opts.maxAliases ?? MAX_LIVE_ALIASES;
    if (opts.rewrittenEntry !== undefined) {
      const entry = opts.rewrittenEntry;
      let runs = 0;
      this.uc.onCode(
        () => {
          if (++runs !== 2) return;
          this.#flushPending = true;
          this.uc.stop();
        },
        entry,
        entry + 1n,
      );
    }
    // The flush hooks only drop aliases. Unicorn 2.0 needs aliases from the first instructions on, so they
    // are hooked now; a later engine translates through the guest's page tables itself and maps none, so
    // they wait for the first alias (if one is ever made): 90 code hooks make the engine's instruction
    // counter (an instruction budget) about 24x slower.
    if (opts.flushSites !== undefined) {
      if (engineNeedsAliases()) this.#hookFlushSites(opts.flushSites);
      else this.#deferredSites = opts.flushSites;
    } else this.#scan = "text-map";
    this.#mapRam(opts.flushSites !== undefined, opts.userHole ?? true);
  }

  #hooked = new Set<bigint>();
  /** Flush sites to hook at the first alias (engines that translate by themselves). */
  #deferredSites: FlushSites | undefined;
  #hookDeferred = false;
  #maxAliases = MAX_LIVE_ALIASES;
  #kernelRange: { addr: number; size: number } | undefined;
  /** What the next guest-RAM scan waits for (only without an ELF's flush sites). */
  #scan: "text-map" | "user" | "done" = "done";
  #rescanPending = false;
  /** Translations to flush before going on ({@linkcode X86MachineOptions.rewrittenEntry}). */
  #flushPending = false;

  #hookFlushSites(sites: FlushSites): number {
    let added = 0;
    for (const [kind, list] of [["invlpg", sites.invlpg], ["movCr", sites.movCr]] as const) {
      for (const a of list) {
        if (this.#hooked.has(a)) continue;
        this.#hooked.add(a);
        added++;
        if (kind === "invlpg") this.uc.onCode(() => this.#invlpg(a), a, a + 1n);
        else this.uc.onCode(() => this.#movCr(a), a, a + 1n);
      }
    }
    this.stats.flushHooks = this.#hooked.size;
    return added;
  }

  /** Scans the kernel's physical range in guest RAM for flush sites and hooks the new ones. */
  #scanRam(): number {
    const r = this.#kernelRange ?? { addr: 0, size: Math.min(this.#ram.byteLength, TEXT_MAP_SIZE) };
    const end = Math.min(r.addr + r.size, this.#ram.byteLength, TEXT_MAP_SIZE);
    this.stats.ramScans = (this.stats.ramScans ?? 0) + 1;
    return this.#hookFlushSites(scanFlushSites(this.#ram.subarray(r.addr, end), KERNEL_TEXT_MAP + BigInt(r.addr)));
  }

  /** Maps the kernel text mapping (phys 0 at __START_KERNEL_map), scanning guest RAM first when asked. */
  #mapTextMap(): void {
    const textSize = Math.min(this.#ram.byteLength, TEXT_MAP_SIZE);
    this.uc.mapHost(Number(KERNEL_TEXT_MAP), this.#ram.subarray(0, textSize));
  }

  /** Closes the engine. */
  close(): void {
    this.uc.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Maps RAM at its physical address and, for an engine that accesses memory at the virtual address
   * (Unicorn 2.0), again at the text and direct maps. An engine that translates through the guest's page
   * tables (2.1) gets RAM once: each `uc_mem_map_ptr` is a RAM block of its own, and the engine invalidates
   * its translations of a page only when a store goes through the block the code was translated from. With
   * the second mappings, Linux's `text_poke` (static keys and alternatives patched after boot, through a
   * temporary mapping) wrote new code that never ran: `sched_clock_cpu` kept its "unstable" branch after
   * `sched_clock: Marking stable`, `local_clock()` stayed clamped one tick past a timekeeping time that does
   * not move without timer interrupts, and printk time stayed 0.004000 (measured on Debian 6.1 kernels).
   */
  #mapRam(textMap: boolean, userHole: boolean): void {
    const ram = this.#ram, size = ram.byteLength;
    const [holeStart, holeEnd] = userHole ? USER_HOLE : [size, size];
    this.uc.mapHost(0, ram.subarray(0, Math.min(holeStart, size)));
    if (size > holeEnd) this.uc.mapHost(holeEnd, ram.subarray(holeEnd));
    if (!engineNeedsAliases()) return;
    if (textMap) this.#mapTextMap();
    this.uc.mapHost(Number(DIRECT_MAP), ram);
  }

  /** COM1 with the 16550's THRE interrupt semantics, on ISA IRQ 4 of the legacy PIC. */
  #serial = new Serial16550();
  /**
   * The two 8259s (x86_devices.ts): masks that read back (Linux's probe_8259A() looks at them; without them
   * it takes the "NULL legacy PIC", has no IRQ 4 for the 16550, and a tty write on the console fails with
   * EIO), ICW2's vector base, IRR/ISR and EOIs, edge or level per the ELCR.
   */
  #pic = new LegacyPic();
  /** The ACPI PM1a registers of the FADT (emu/linux/acpi.ts); an S5 write powers off. */
  #pm = new X86AcpiPm();
  /** The PIT's channel 0 in virtual time (IRQ 0): it expires where the machine takes interrupts. */
  #pit = new Pit8254();
  /** Timer ticks taken at a `hlt` since the last console line (the idle guard). */
  #idleTicks = 0;
  #idleLines = 0;
  /** The system call instruction an interrupt went before (it runs again after the handler's iret). */
  #retried: bigint | undefined;

  /** Whether the PIC asserts the CPU's interrupt line (an interrupt is taken once IF is set). */
  get interruptPending(): boolean {
    return this.#pic.pending();
  }

  /**
   * Takes the PIC's highest-priority request when IF is set: INTA, then delivery through the IDT with
   * `rip` as the return address. Returns whether an interrupt was delivered.
   */
  #takeInterrupt(rip: bigint, tick = true): boolean {
    if ((this.uc.regRead("rflags") & IF) === 0n) return false;
    // Virtual time: the PIT's next expiry is now (a rising edge on IRQ 0, which the PIC latches).
    if (tick && this.#pit.expire()) {
      this.#pic.setIrq(PIT_IRQ, true);
      this.#pic.setIrq(PIT_IRQ, false);
    }
    if (!this.#pic.pending()) return false;
    const taken = this.#pic.ack();
    if (taken === undefined) return false;
    this.stats.irqs++;
    if (taken.irq === COM1_IRQ) this.stats.uartIrqs++;
    if (taken.irq === PIT_IRQ) this.stats.timerIrqs = (this.stats.timerIrqs ?? 0) + 1;
    if (this.#debug) console.error(`irq ${taken.irq} vector ${hx(taken.vector)} at ${hx(rip)}`);
    this.deliver(taken.vector, undefined, rip);
    return true;
  }

  #attachDevices(): void {
    const serial = this.#serial;
    const con = this.console;
    const line = () => this.#pic.setIrq(COM1_IRQ, serial.irq);
    this.uc.onPortIo({
      read: (port, size) => {
        this.#checkTime();
        if (LegacyPic.owns(port)) return this.#pic.read(port);
        if (port >= PIT_PORTS[0] && port <= PIT_PORTS[1]) return 0xff;
        if (X86AcpiPm.owns(port)) return this.#pm.read(port, size);
        if (port < COM1_PORT || port >= COM1_PORT + 8) return 0xff;
        const v = serial.read(port - COM1_PORT);
        line();
        if (this.#debug && port !== COM1_PORT + 5) {
          console.error(
            `uart in ${hx(port)} = ${hx(v)} irr ${this.#pic.master.irr} isr ${this.#pic.master.isr} imr ${
              hx(this.#pic.master.imr)
            }`,
          );
        }
        return v;
      },
      write: (port, size, value) => {
        this.#checkTime();
        if (port >= PIT_PORTS[0] && port <= PIT_PORTS[1]) {
          this.#pit.write(port, value);
          if (this.#debug) console.error(`pit out ${hx(port)} ${hx(value)} armed ${this.#pit.armed}`);
          return;
        }
        if (LegacyPic.owns(port)) {
          this.#pic.write(port, value);
          if (this.#debug) {
            console.error(
              `pic out ${hx(port)} ${hx(value)} irr ${this.#pic.master.irr} isr ${this.#pic.master.isr} imr ${
                hx(this.#pic.master.imr)
              } rip ${hx(this.uc.readPc())}`,
            );
          }
          return;
        }
        if (X86AcpiPm.owns(port)) {
          if (this.#pm.write(port, size, value)) {
            this.console.ended ??= "poweroff";
            this.uc.stop();
          }
          return;
        }
        if (port < COM1_PORT || port >= COM1_PORT + 8) return;
        const sent = serial.write(port - COM1_PORT, value);
        line();
        if (this.#debug && port !== COM1_PORT) console.error(`uart out ${hx(port)} ${hx(value)} irq ${serial.irq}`);
        if (sent !== undefined) {
          con.push(sent);
          if (con.ended !== undefined) this.uc.stop();
          else this.#checkTime();
        }
      },
    });
  }

  #cpuid(): boolean {
    this.stats.cpuid++;
    const [a, b, c, d] = x86Cpuid(Number(this.uc.regRead("eax")), Number(this.uc.regRead("ecx")));
    this.uc.regWrite("rax", a);
    this.uc.regWrite("rbx", b);
    this.uc.regWrite("rcx", c);
    this.uc.regWrite("rdx", d);
    return true;
  }

  /** Whether the CPU is in long mode (EFER.LMA); a 32-bit kernel runs in legacy protected mode. */
  get longMode(): boolean {
    return (this.uc.readMsr(MSR_EFER) & EFER_LMA) !== 0n;
  }

  /**
   * Walks the guest's page tables from CR3: 4-level in long mode, else the legacy walks of
   * `translateLegacy` (32-bit or PAE paging, or none with paging off).
   */
  translate(va: bigint): Translation | undefined {
    // Paging off (a 32-bit entry before the kernel turns it on): virtual is physical.
    if ((this.uc.regRead("cr0") & CR0_PG) === 0n) {
      return va < BigInt(this.#ram.byteLength) ? { pa: Number(va), writable: true, user: true } : undefined;
    }
    if (!this.longMode) {
      const regs = { cr0: this.uc.regRead("cr0"), cr3: this.uc.regRead("cr3"), cr4: this.uc.regRead("cr4") };
      return translateLegacy(this.mem, regs, Number(va & 0xffff_ffffn));
    }
    let table = this.uc.regRead("cr3") & PHYS_MASK;
    let writable = true, user = true;
    for (let level = 3; level >= 0; level--) {
      const idx = (va >> BigInt(12 + 9 * level)) & 511n;
      const ea = Number(table + idx * 8n);
      if (ea + 8 > this.#ram.byteLength) return undefined;
      const e = this.mem.readU64(ea);
      if ((e & 1n) === 0n) return undefined;
      writable &&= (e & 2n) !== 0n;
      user &&= (e & 4n) !== 0n;
      if (level > 0 && level < 3 && (e & 0x80n) !== 0n) {
        const span = 1n << BigInt(12 + 9 * level);
        const base = e & PHYS_MASK & ~(span - 1n);
        return { pa: Number(base + (va & (span - 1n))), writable, user };
      }
      table = e & PHYS_MASK;
    }
    return { pa: Number(table + (va & 0xfffn)), writable, user };
  }

  /** Reads guest virtual memory through the guest's page tables. */
  readVirt(va: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let done = 0; done < len;) {
      const a = (va + BigInt(done)) & U64;
      const t = this.translate(a);
      if (t === undefined) throw new EmulatorError("UnicornError", `guest virtual address ${hx(a)} is not mapped`);
      const n = Math.min(len - done, PAGE - (t.pa % PAGE));
      out.set(this.mem.read(t.pa, n), done);
      done += n;
    }
    return out;
  }

  /** Writes guest virtual memory through the guest's page tables. */
  writeVirt(va: bigint, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length;) {
      const a = (va + BigInt(done)) & U64;
      const t = this.translate(a);
      if (t === undefined) throw new EmulatorError("UnicornError", `guest virtual address ${hx(a)} is not mapped`);
      const n = Math.min(bytes.length - done, PAGE - (t.pa % PAGE));
      this.mem.write(t.pa, bytes.subarray(done, done + n));
      done += n;
    }
  }

  /**
   * Maps a 4 KiB alias of the physical page behind `address` (unmapped access hook). Unicorn looks for a
   * region at the virtual address *before* it walks the page tables, so a page the guest has not mapped
   * gets a placeholder, for the walk to raise the page fault; the fault drops it again.
   */
  #alias(_access: FaultKind, address: bigint): boolean {
    const page = address & PAGE_MASK;
    if (this.#deferredSites !== undefined && !this.#hookDeferred) {
      // The first alias: hook the flush sites between runs (translations are flushed there).
      this.#hookDeferred = true;
      this.uc.stop();
    }
    if (this.#scan === "text-map" && page >= KERNEL_TEXT_MAP && page < KERNEL_TEXT_MAP + BigInt(TEXT_MAP_SIZE)) {
      // The kernel's first touch of its text mapping: it is laid out in RAM now. Its text has never run at
      // these addresses, so hooks added here fire without flushing translations.
      this.#scanRam();
      this.#mapTextMap();
      this.#scan = "user";
      return true;
    }
    if (this.#scan === "user" && page < USER_TOP) {
      // Alternatives are applied by now: scan again between runs (translations are flushed there).
      this.#scan = "done";
      this.#rescanPending = true;
      this.uc.stop();
    }
    const t = this.translate(page);
    this.#evictOldest();
    if (t === undefined) {
      this.uc.mapScratch(Number(page), PAGE);
      this.#placeholders.add(page);
      this.#aliases.add(page);
      this.stats.placeholders++;
      return true;
    }
    if (this.#debug && page < USER_TOP) {
      console.error(`alias ${hx(page)} -> ${hx(t.pa)} cr3 ${hx(this.uc.regRead("cr3"))} pc ${hx(this.uc.readPc())}`);
    }
    if (t.pa + PAGE <= this.#ram.byteLength) {
      this.uc.mapHost(Number(page), this.#ram.subarray(t.pa, t.pa + PAGE));
    } else {
      this.uc.mapScratch(Number(page), PAGE); // device memory we do not model reads as zero
      this.stats.zeroPages++;
    }
    this.#aliases.add(page);
    this.stats.aliases++;
    this.#checkTime();
    return true;
  }

  /**
   * Keeps at most {@linkcode MAX_LIVE_ALIASES} aliases: each `uc_mem_map_ptr` costs time linear in the
   * regions already mapped (QEMU's `find_ram_offset`), so thousands of live 4 KiB aliases make a boot's
   * mapping cost quadratic. The oldest alias goes first; dropping one is always safe (the next access maps
   * it again from the page tables).
   */
  #evictOldest(): void {
    while (this.#aliases.size >= this.#maxAliases) {
      const oldest = this.#aliases.values().next().value as bigint;
      this.#dropOne(oldest);
      this.stats.aliasEvictions++;
    }
  }

  #dropOne(page: bigint): void {
    if (!this.#aliases.delete(page)) return;
    this.uc.unmap(Number(page), PAGE);
    this.#placeholders.delete(page);
    this.stats.aliasDrops++;
  }

  #drop(filter: (page: bigint) => boolean): void {
    for (const page of this.#aliases) {
      if (!filter(page)) continue;
      this.uc.unmap(Number(page), PAGE);
      this.#aliases.delete(page);
      this.#placeholders.delete(page);
      this.stats.aliasDrops++;
    }
  }

  /**
   * Instruction bytes at a kernel address: through the engine's memory map where it holds the text map
   * (Unicorn 2.0), else through the guest's page tables (2.1 maps RAM only at its physical address).
   */
  #code(pc: bigint, len: number): Uint8Array {
    return this.#aliasing ? this.uc.memRead(pc, len) : this.readVirt(pc, len);
  }
  readonly #aliasing: boolean = engineNeedsAliases();

  /** `invlpg m` is about to run at `pc`: drop the alias of the page it names. */
  #invlpg(pc: bigint): void {
    this.stats.invlpg++;
    this.#checkTime();
    if (this.#aliases.size === 0) return;
    if (flushAt(this.#code(pc, 4), 0) !== "invlpg") return;
    const va = this.#memOperand(pc) & PAGE_MASK;
    this.#dropOne(va);
  }

  /** `mov cr3/cr4, r` is about to run: a CR3 write drops the user aliases, a CR4 write (PGE) all. */
  #movCr(pc: bigint): void {
    this.stats.movCr++;
    this.#checkTime();
    if (this.#aliases.size === 0) return;
    const bytes = this.#code(pc, 4);
    if (flushAt(bytes, 0) !== "movCr") return; // an alternatives site not patched (yet)
    const i = (bytes[0] & 0xf0) === 0x40 ? 1 : 0;
    const cr = (bytes[i + 2] >> 3) & 7;
    if (this.#debug) console.error(`mov cr${cr} at ${hx(pc)} drops (aliases ${this.#aliases.size})`);
    if (cr === 4) this.#drop(() => true);
    else this.#drop((p) => p < USER_TOP);
  }

  /** The effective address of the memory operand of the 0f-escaped instruction at `pc`. */
  #memOperand(pc: bigint): bigint {
    const b = this.#code(pc, 16);
    let i = 0, rex = 0;
    if ((b[i] & 0xf0) === 0x40) rex = b[i++];
    i += 2; // 0f xx
    const modrm = b[i++];
    const mod = modrm >> 6;
    let rm = modrm & 7;
    const reg = (n: number) => this.uc.regRead(GPR[n]);
    let ea = 0n;
    if (rm === 4) {
      const sib = b[i++];
      const scale = BigInt(1 << (sib >> 6));
      const index = ((sib >> 3) & 7) | ((rex & 2) << 2);
      const base = (sib & 7) | ((rex & 1) << 3);
      if (index !== 4) ea += reg(index) * scale;
      if ((sib & 7) === 5 && mod === 0) {
        ea += BigInt(new DataView(b.buffer).getInt32(i, true));
        i += 4;
      } else ea += reg(base);
    } else if (rm === 5 && mod === 0) {
      const disp = BigInt(new DataView(b.buffer).getInt32(i, true));
      i += 4;
      return (pc + BigInt(i) + disp) & U64;
    } else {
      rm |= (rex & 1) << 3;
      ea += reg(rm);
    }
    if (mod === 1) ea += BigInt(new DataView(b.buffer).getInt8(i));
    else if (mod === 2) ea += BigInt(new DataView(b.buffer).getInt32(i, true));
    return ea & U64;
  }

  /** A GDT descriptor's high dword (QEMU's segment cache `flags`). */
  #descriptorFlags(selector: number): number {
    const gdt = this.uc.readMmr("gdtr");
    const d = this.readVirt(BigInt(gdt.base) + BigInt(selector & ~7), 8);
    return new DataView(d.buffer).getUint32(4, true);
  }

  /**
   * Sets CPL (the RPL of `cs`) and the CS/SS caches, what the CPU does on a privilege change, and clears
   * old_exception; returns the engine's error code of the exception being handled.
   */
  #enterKernelState(cs: number | undefined, csFlags: number, ss: number, ssFlags: number): number {
    const lay = this.#layout;
    return this.uc.editCpuState((s) => {
      const dv = new DataView(s.buffer, s.byteOffset, s.byteLength);
      const err = dv.getInt32(lay.errorCode, true);
      dv.setInt32(lay.oldException, -1, true);
      if (cs !== undefined) {
        dv.setUint32(ENV_HFLAGS, (dv.getUint32(ENV_HFLAGS, true) & ~HF_CPL_MASK) | (cs & 3), true);
        const seg = (r: number, sel: number, limit: number, flags: number) => {
          const o = ENV_SEGS + r * SEG_SIZE;
          dv.setUint32(o, sel, true);
          dv.setBigUint64(o + 8, 0n, true);
          dv.setUint32(o + 16, limit, true);
          dv.setUint32(o + 20, flags >>> 0, true);
        };
        seg(R_CS, cs, 0xffff_ffff, csFlags);
        seg(R_SS, ss, ss === 0 ? 0 : 0xffff_ffff, ssFlags);
      }
      return err;
    });
  }

  /**
   * Puts the engine in 32-bit protected mode with paging off (the PVH entry). Unicorn opens x86_64
   * engines in long mode, and neither an EFER write (LMA is not writable) nor a CR0 write (stored as is)
   * leaves it, so EFER.LMA and the LMA/CS64 hflags are cleared in the saved state; the offset of `efer`
   * is found by changing it and reading the MSR back.
   */
  leaveLongMode(): void {
    const uc = this.uc;
    uc.writeMsr(0xc000_0080, 0);
    const efer = uc.readMsr(0xc000_0080);
    if (efer === 0n) return;
    const found = uc.editCpuState((st) => {
      const dv = new DataView(st.buffer, st.byteOffset, st.byteLength);
      const list: number[] = [];
      for (let o = ENV_SEGS; o + 8 <= st.length; o += 8) if (dv.getBigUint64(o, true) === efer) list.push(o);
      return list;
    });
    for (const o of found) {
      uc.editCpuState((st) => new DataView(st.buffer, st.byteOffset).setBigUint64(o, 0n, true));
      if (uc.readMsr(0xc000_0080) === 0n) {
        uc.editCpuState((st) => {
          const dv = new DataView(st.buffer, st.byteOffset);
          dv.setUint32(ENV_HFLAGS, dv.getUint32(ENV_HFLAGS, true) & ~(HF_LMA | HF_CS64), true);
        });
        return;
      }
      uc.editCpuState((st) => new DataView(st.buffer, st.byteOffset).setBigUint64(o, efer, true));
    }
    throw new EmulatorError("UnicornError", "cannot leave long mode: EFER not found in Unicorn's CPU state");
  }

  /** Checks the CPU state offsets this machine edits against the register API. */
  checkStateLayout(): void {
    const rip = this.uc.regRead("rip"), cs = Number(this.uc.regRead("cs"));
    this.uc.editCpuState((s) => {
      const dv = new DataView(s.buffer, s.byteOffset, s.byteLength);
      const ok = dv.getBigUint64(ENV_EIP, true) === rip && dv.getUint32(ENV_SEGS + R_CS * SEG_SIZE, true) === cs;
      if (!ok) throw new EmulatorError("UnicornError", "Unicorn's x86 CPU state layout is not the one of 2.0.1");
    });
  }

  /** Delivers exception `vector` through the guest IDT; `rip` is the address to return to. */
  deliver(vector: number, errorCode: number | undefined, rip: bigint): void {
    if (!this.longMode) return this.#deliverLegacy(vector, errorCode, Number(rip & 0xffff_ffffn));
    const uc = this.uc;
    const rflags = uc.regRead("rflags"), rsp = uc.regRead("rsp");
    const cs = Number(uc.regRead("cs")), ss = Number(uc.regRead("ss"));
    const cpl = cs & 3;
    const idtr = uc.readMmr("idtr");
    if (vector * 16 + 15 > idtr.limit) {
      throw new EmulatorError("UnhandledException", `vector ${vector} is past the IDT`);
    }
    const g = new DataView(this.readVirt(BigInt(idtr.base) + BigInt(vector * 16), 16).buffer);
    const handler = BigInt(g.getUint16(0, true)) | (BigInt(g.getUint16(6, true)) << 16n) |
      (BigInt(g.getUint32(8, true)) << 32n);
    const selector = g.getUint16(2, true);
    const ist = g.getUint8(4) & 7, type = g.getUint8(5) & 0xf, present = (g.getUint8(5) & 0x80) !== 0;
    if (!present) throw new EmulatorError("UnhandledException", `IDT vector ${vector} is not present`);
    const newCpl = selector & 3;
    let newRsp = rsp;
    if (ist !== 0 || newCpl < cpl) {
      const tss = BigInt(uc.readMmr("tr").base);
      const off = ist !== 0 ? 0x24 + (ist - 1) * 8 : 4;
      newRsp = new DataView(this.readVirt(tss + BigInt(off), 8).buffer).getBigUint64(0, true);
    }
    newRsp &= ~0xfn;
    const frame = [BigInt(ss), rsp, rflags, BigInt(cs), rip];
    if (errorCode !== undefined) frame.push(BigInt(errorCode >>> 0));
    const bytes = new Uint8Array(frame.length * 8);
    const bv = new DataView(bytes.buffer);
    frame.forEach((v, k) => bv.setBigUint64((frame.length - 1 - k) * 8, v & U64, true));
    newRsp -= BigInt(bytes.length);
    this.writeVirt(newRsp, bytes);
    const privilege = newCpl < cpl;
    this.#enterKernelState(privilege ? selector : undefined, this.#descriptorFlags(selector), 0, 0);
    let flags = rflags & ~(TF | NT | RF | VM);
    if (type === 0xe) flags &= ~IF;
    uc.regWrite("rflags", flags);
    uc.regWrite("rsp", newRsp);
    uc.regWrite("rip", handler);
    this.#lastException = `vector ${vector} at ${hx(rip)}`;
  }

  /** A GDT descriptor as a segment register caches it. */
  #segmentCache(selector: number): SegmentCache {
    if ((selector & 4) !== 0) {
      throw new EmulatorError(
        "UnhandledException",
        `selector ${hx(selector)} is in an LDT; the machine reads only the GDT`,
      );
    }
    const gdt = this.uc.readMmr("gdtr");
    return decodeSegmentDescriptor(this.readVirt(BigInt(gdt.base) + BigInt(selector & ~7), 8));
  }

  /**
   * Delivers `vector` as a 32-bit interrupt or trap gate does (SDM 6.12.1): on a privilege change the stack
   * becomes SS0:ESP0 of the 32-bit TSS and the old SS:ESP is pushed, then EFLAGS, CS, EIP and the error
   * code, 4 bytes each; CS (and SS) and their caches are loaded from the GDT, CPL becomes the handler
   * segment's DPL. Task gates and 16-bit gates are refused with a one-line reason.
   */
  #deliverLegacy(vector: number, errorCode: number | undefined, eip: number): void {
    const uc = this.uc;
    const eflags = Number(uc.regRead("eflags")), esp = Number(uc.regRead("esp") & 0xffff_ffffn);
    const cs = Number(uc.regRead("cs")), ss = Number(uc.regRead("ss"));
    const cpl = cs & 3;
    const idtr = uc.readMmr("idtr");
    if (vector * 8 + 7 > idtr.limit) throw new EmulatorError("UnhandledException", `vector ${vector} is past the IDT`);
    const gate = decodeIdtGate32(this.readVirt(BigInt(idtr.base) + BigInt(vector * 8), 8));
    if (!gate.present) throw new EmulatorError("UnhandledException", `IDT vector ${vector} is not present`);
    if (gate.type !== GATE32.interrupt && gate.type !== GATE32.trap) {
      const what = gate.type === GATE32.task ? "a task gate" : `a gate of type ${gate.type}`;
      throw new EmulatorError(
        "UnhandledException",
        `IDT vector ${vector} is ${what}: the machine delivers only 32-bit interrupt and trap gates (after ${this.#lastException})`,
      );
    }
    const code = this.#segmentCache(gate.selector);
    const newCpl = code.dpl;
    let stack: { ss: number; esp: number } | undefined, newEsp = esp, newSs: number | undefined;
    if (newCpl < cpl) {
      if (newCpl !== 0) {
        throw new EmulatorError("UnhandledException", `a gate to ring ${newCpl}: only ring 0 is modelled`);
      }
      const s0 = tss32Stack0(this.readVirt(BigInt(uc.readMmr("tr").base), 12));
      stack = { ss, esp };
      newEsp = s0.esp;
      newSs = s0.ss;
    }
    const bytes = legacyFrameBytes({ eip, cs, eflags, stack, errorCode });
    newEsp = (newEsp - bytes.length) >>> 0;
    this.writeVirt(BigInt(newEsp), bytes);
    const csSel = (gate.selector & ~3) | newCpl;
    const ssCache = newSs === undefined ? undefined : this.#segmentCache(newSs);
    const lay = this.#layout;
    uc.editCpuState((st) => {
      const dv = new DataView(st.buffer, st.byteOffset, st.byteLength);
      dv.setInt32(lay.oldException, -1, true);
      const seg = (r: number, sel: number, c: SegmentCache) => {
        const o = ENV_SEGS + r * SEG_SIZE;
        dv.setUint32(o, sel, true);
        dv.setBigUint64(o + 8, BigInt(c.base), true);
        dv.setUint32(o + 16, c.limit, true);
        dv.setUint32(o + 20, c.flags, true);
      };
      if (csSel !== cs) seg(R_CS, csSel, code);
      if (newSs !== undefined && ssCache !== undefined) seg(R_SS, newSs, ssCache);
      dv.setUint32(ENV_HFLAGS, (dv.getUint32(ENV_HFLAGS, true) & ~HF_CPL_MASK) | newCpl, true);
    });
    let flags = BigInt(eflags) & ~(TF | NT | RF | VM);
    if (gate.type === GATE32.interrupt) flags &= ~IF;
    uc.regWrite("eflags", flags);
    uc.regWrite("esp", newEsp);
    uc.regWrite("eip", gate.offset);
    this.#lastException = `vector ${vector} at ${hx(eip)}`;
  }

  #exception(intno: number): void {
    this.stats.exceptions++;
    const rip = this.uc.regRead("rip");
    if (this.#debug) {
      const lay = this.#layout;
      const [err, old] = this.uc.editCpuState((s) => {
        const dv = new DataView(s.buffer, s.byteOffset);
        return [dv.getInt32(lay.errorCode, true), dv.getInt32(lay.oldException, true)];
      });
      console.error(
        `exception ${intno} at ${hx(rip)} err ${err} old ${old} cr2 ${hx(this.uc.regRead("cr2"))} cs ${
          hx(this.uc.regRead("cs"))
        } rsp ${hx(this.uc.regRead("rsp"))} gs ${hx(this.uc.readMsr(0xc000_0101))} kgs ${
          hx(this.uc.readMsr(0xc000_0102))
        }`,
      );
    }
    let err: number | undefined;
    if (HAS_ERROR_CODE.has(intno)) {
      err = this.uc.editCpuState((s) => new DataView(s.buffer, s.byteOffset).getInt32(this.#layout.errorCode, true));
    }
    if (intno === 14) {
      this.stats.pageFaults++;
      const page = this.uc.regRead("cr2") & PAGE_MASK;
      if (this.#placeholders.has(page)) this.#dropOne(page);
      if ((Number(this.uc.regRead("cs")) & 3) === 3) this.stats.userPageFaults++;
    }
    if (intno === 8) {
      throw new EmulatorError("UnhandledException", `double fault at ${hx(rip)} (after ${this.#lastException})`);
    }
    const at = (rip - 2n) & U64;
    if (intno >= SOFTWARE_VECTORS && this.#takeInterrupt(at, this.#retried !== at)) {
      this.#retried = at;
      // `int n` (a 32-bit system call: int 0x80) with an interrupt pending: deliver that first, as #syscall
      // does; the engine reports `int n` with RIP past its 2 bytes, so it runs again after iret.
      this.#checkTime();
      return;
    }
    if (intno >= SOFTWARE_VECTORS) this.#retried = undefined;
    this.deliver(intno, err, rip);
    this.#checkTime();
  }

  #syscall(): void {
    const at = this.uc.regRead("rip");
    if (!this.longMode) {
      // Outside long mode `syscall` is AMD's legacy instruction, enabled by EFER.SCE, which a 32-bit Linux never
      // sets: the CPU raises #UD, delivered through the 32-bit IDT. The engine adds 2 to EIP after this hook.
      this.stats.legacySyscalls = (this.stats.legacySyscalls ?? 0) + 1;
      this.deliver(6, undefined, at);
      this.uc.regWrite("rip", (this.uc.regRead("rip") - 2n) & U64);
      this.#checkTime();
      return;
    }
    if (this.#takeInterrupt(at, this.#retried !== at)) {
      // One timer expiry per system call: the call runs again after the handler and must not tick again.
      this.#retried = at;
      // The interrupt comes first; the syscall instruction runs again after the handler's iret.
      // The engine adds the instruction's length (2) to RIP when this hook returns.
      this.uc.regWrite("rip", (this.uc.regRead("rip") - 2n) & U64);
      this.#checkTime(); // an interrupt storm without output trips the console watchdog
      return;
    }
    this.#retried = undefined;
    this.stats.syscalls++;
    if (this.#debug) {
      console.error(
        `syscall ${this.uc.regRead("rax")} at ${hx(this.uc.regRead("rip"))} lstar ${
          hx(this.uc.readMsr(MSR_LSTAR))
        } star ${hx(this.uc.readMsr(MSR_STAR))} gs ${hx(this.uc.readMsr(0xc000_0101))} kgs ${
          hx(this.uc.readMsr(0xc000_0102))
        }`,
      );
    }
    this.#checkTime();
    const uc = this.uc;
    const rip = uc.regRead("rip"), rflags = uc.regRead("rflags");
    const star = uc.readMsr(MSR_STAR), lstar = uc.readMsr(MSR_LSTAR), fmask = uc.readMsr(MSR_FMASK);
    const cs = Number((star >> 32n) & 0xfffcn), ss = cs + 8;
    this.#enterKernelState(
      cs,
      DESC_G | DESC_P | DESC_S | DESC_CS | DESC_R | DESC_A | DESC_L,
      ss,
      DESC_G | DESC_B | DESC_P | DESC_S | DESC_W | DESC_A,
    );
    uc.regWrite("rcx", rip + 2n);
    uc.regWrite("r11", rflags & ~RF);
    uc.regWrite("rflags", rflags & ~fmask & ~RF);
    // The engine adds the instruction's length after the hook returns.
    uc.regWrite("rip", (lstar - 2n) & U64);
  }

  /**
   * Executes from `begin` until an end condition. With `countInstructions` or an instruction budget
   * (`maxInstructions` > 0), the engine runs in counted slices of at most `slice` instructions (Unicorn's
   * `uc_emu_start` count: a per-instruction hook inside the engine), the last one cut to what is left of the
   * budget, and the run ends `"instructions"` once the budget is used. A slice the machine cuts short (an
   * exception, an interrupt, a halt) counts in full, so `instructions` is an upper bound and the budget
   * ends the run at the same guest point every time. Without either, one run stopped from hooks and
   * `instructions` is -1.
   */
  run(
    begin: bigint,
    opts: { timeoutMs: number; maxInstructions: number; countInstructions?: boolean; slice?: number },
  ): RealBootResult {
    const budget = opts.maxInstructions > 0 ? opts.maxInstructions : Infinity;
    const counting = opts.countInstructions === true || budget < Infinity;
    const slice = opts.slice ?? 2_000_000;
    const t0 = performance.now();
    const deadline = t0 + opts.timeoutMs;
    let pc = begin, instructions = 0;
    let end: RunEnd;
    this.checkStateLayout();
    // The hooks end the run at the deadline; the guard stops the engine from another thread only when no
    // hook runs any more (a loop the machine never sees), and then the run ends.
    using guard = this.uc.hangGuard(Date.now() + opts.timeoutMs + HANG_GRACE_MS);
    for (;;) {
      const limit = runLimitReached(performance.now(), deadline, instructions, budget, opts);
      if (limit !== undefined) {
        end = limit;
        break;
      }
      this.#pendingUd = false;
      // Without counting, one run to the deadline: hooks that fire often (serial output, exceptions,
      // aliases, TLB flushes) stop it synchronously when the time is up. No Unicorn timeout: its thread
      // wakes every 2 us for the whole run (about 6 % of a boot's samples). An asynchronous stop (the hang
      // guard) was seen to corrupt the guest's state when going on (the LZ4 decompressor failed), so it
      // ends the run.
      this.sliceEnd = deadline;
      const n = Math.min(slice, budget - instructions);
      const ran = runSlice(this.uc, pc, counting ? n : undefined, guard, opts.timeoutMs);
      // A slice counts in full unless the engine failed (an upper bound, the same guest point every time).
      if (counting && ran.end?.stop !== "error") instructions += n;
      pc = this.uc.readPc();
      if (ran.end !== undefined) {
        end = ran.end;
        break;
      }
      const timedOut = ran.timedOut || this.#sliceStopped;
      this.#sliceStopped = false;
      if (this.#hookDeferred && this.#deferredSites !== undefined && this.console.ended === undefined) {
        this.#hookFlushSites(this.#deferredSites);
        this.#deferredSites = undefined;
        this.uc.flushTranslations();
        continue;
      }
      if (this.#flushPending) {
        this.#flushPending = false;
        this.stats.entryFlushes = (this.stats.entryFlushes ?? 0) + 1;
        // The blocks of the kernel's run-time range (where the decompressor ran first) when it is known; a
        // whole flush costs seconds on 2.1.1.
        const r = this.#kernelRange;
        if (r !== undefined) this.uc.removeTranslations(r.addr, r.addr + r.size);
        else this.uc.flushTranslations();
        continue;
      }
      if (this.#rescanPending && this.console.ended === undefined) {
        this.#rescanPending = false;
        if (this.#scanRam() > 0) this.uc.flushTranslations();
        continue;
      }
      if (this.console.ended !== undefined) {
        end = {
          stop: this.console.ended,
          detail: this.#pm.poweredOff
            ? `ACPI S5: the guest wrote SLP_TYP ${S5_SLP_TYP} | SLP_EN to PM1a_CNT (port ${hx(PM1A_CNT_PORT)}) ` +
              `after: ${this.console.lastLine}`
            : this.console.endDetail(),
        };
        break;
      }
      if (this.#pendingUd) {
        if (this.#sysret(pc)) {
          pc = this.uc.readPc();
          continue;
        }
        this.stats.ud2++;
        this.deliver(6, undefined, pc);
        pc = this.uc.readPc();
        continue;
      }
      if (counting ? this.#haltedAt(pc) : !timedOut) {
        if (counting) {
          const again = this.#confirmHalt(pc);
          instructions += CONFIRM_HALT_COUNT;
          if (again !== undefined) {
            pc = again;
            continue;
          }
        }
        const ifOn = (this.uc.regRead("rflags") & IF) !== 0n;
        const lines = this.console.lines.length;
        if (lines !== this.#idleLines) {
          this.#idleLines = lines;
          this.#idleTicks = 0;
        }
        const timer = this.#pit.armed;
        if ((!timer || ++this.#idleTicks <= IDLE_TICKS) && this.#takeInterrupt(pc)) {
          pc = this.uc.readPc();
          // An interrupt storm without output trips the console watchdog.
          if (this.console.tick()) {
            end = { stop: "stalled", detail: this.console.endDetail() };
            break;
          }
          continue;
        }
        end = !this.#haltedAt(pc)
          ? { stop: "error", detail: `the engine stopped at ${hx(pc)} for no reason the harness knows` }
          : {
            stop: ifOn ? "idle" : "halt",
            detail: ifOn
              ? timer
                ? `hlt at ${hx(pc - 1n)} with interrupts on: ${IDLE_TICKS} timer ticks at hlt without a new line`
                : `hlt at ${hx(pc - 1n)} with interrupts on and no timer programmed: nothing will wake the kernel`
              : `hlt at ${hx(pc - 1n)} with interrupts off`,
          };
        break;
      }
    }
    return realRunResult(this.console, t0, counting ? instructions : undefined, end, pc, {
      ...this.stats,
      aliasesLive: this.#aliases.size,
    });
  }

  /**
   * `sysretq` raises #UD in Unicorn 2.0.1 (its EFER.SCE stays clear: the engine drops the kernel's write),
   * so the machine returns to user mode itself: RIP = RCX, RFLAGS from R11, CS/SS from STAR[63:48], CPL 3.
   */
  #sysret(pc: bigint): boolean {
    const b = this.readVirt(pc, 3);
    if (b[0] !== 0x48 || b[1] !== 0x0f || b[2] !== 0x07 || (Number(this.uc.regRead("cs")) & 3) !== 0) return false;
    const uc = this.uc;
    this.stats.sysrets++;
    if (this.#debug) console.error(`sysret rax ${hx(uc.regRead("rax"))} to ${hx(uc.regRead("rcx"))}`);
    const star = uc.readMsr(MSR_STAR);
    const base = Number((star >> 48n) & 0xffffn);
    const dpl3 = 3 << 13;
    this.#enterKernelState(
      (base + 16) | 3,
      DESC_G | DESC_P | DESC_S | dpl3 | DESC_CS | DESC_R | DESC_A | DESC_L,
      (base + 8) | 3,
      DESC_G | DESC_B | DESC_P | DESC_S | dpl3 | DESC_W | DESC_A,
    );
    uc.regWrite("rflags", (uc.regRead("r11") & 0x3c7fd7n) | 2n);
    uc.regWrite("rip", uc.regRead("rcx"));
    return true;
  }

  /** Wall-clock time at which hooks stop the current slice (Unicorn's own timeout can be lost). */
  sliceEnd: number = Infinity;
  #sliceStopped = false;

  /** Called from hooks: counts a guest event for the watchdog and ends the slice when its time is up. */
  #checkTime(): void {
    if (this.console.tick() || performance.now() > this.sliceEnd) {
      this.#sliceStopped = true;
      this.uc.stop();
    }
  }

  /**
   * A slice may end right after an instruction whose last byte is 0xf4 without a `hlt`: run a little more
   * and see the engine stop after a `hlt` again at once (a halt loop, or the idle loop's `sti; hlt`).
   * Returns undefined for a halt, else the pc to go on from.
   */
  #confirmHalt(pc: bigint): bigint | undefined {
    if (this.#pendingUd || this.console.ended !== undefined) return undefined;
    try {
      this.uc.start({ begin: pc, until: 0, count: CONFIRM_HALT_COUNT });
    } catch {
      return undefined;
    }
    const again = this.uc.readPc();
    return this.#haltedAt(again) ? undefined : again;
  }

  #haltedAt(pc: bigint): boolean {
    try {
      return this.readVirt(pc - 1n, 1)[0] === 0xf4;
    } catch {
      return false;
    }
  }
}
