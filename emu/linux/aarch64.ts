/**
 * A real arm64 Linux boot in Unicorn, built with this project's own loader, FDT builder and boot state:
 * `loadPe` puts the Image at 0x40200000, `buildVmFdt` writes the device tree (memory, /chosen with
 * bootargs and linux,initrd-start/end, PL011 with its clock, GICv2, armv8-timer), `aarch64LinuxBoot` gives
 * the entry state (EL1h, MMU off, x0 = DTB, with SCR_EL3.RW and HCR_EL2.RW saying EL1 is AArch64, which
 * Unicorn needs or the kernel's first `eret` is illegal).
 *
 * What the machine adds for Unicorn 2.0.1 (../shared/notes/unicorn-real-kernels.md): the engine wants a
 * mapped region at every *virtual* address although its ARM translation is right, so any unmapped
 * virtual address gets an empty placeholder region on demand (1 GiB, or smaller where devices are); a
 * PL011 at 0x09000000 that streams lines; a GICv2 stub that reads zero (its CPU interface's IAR reads
 * 1023, "spurious") and whose distributor reports 96 interrupt IDs; the PL011 answers its PrimeCell ID
 * registers so the tty driver binds (else "unable to open an initial console"); PSCI calls over `hvc`
 * are answered. No interrupt is ever delivered.
 *
 * User space: Unicorn reports SVC and aborts instead of taking them; the machine takes them to the EL1
 * vectors itself, and /init runs its three syscalls, prints its line through ttyAMA0 and the kernel powers
 * off. A data abort of the kernel's own user access (`ldtr`/`sttr`, e.g. put_user to a stack page not yet
 * present) is delivered to the EL1 vectors the same way. The placeholders user space needs are mapped
 * before the run: mapping one from the unmapped-access hook during an instruction fetch made runs execute
 * zeros at /init's first instruction or crash the process (3 of 4 runs), mapped beforehand 10 of 10 runs
 * passed.
 *
 * @module
 */

import { aarch64LinuxBoot } from "../../lib/boot/aarch64.ts";
import { chosenInitrd, loadInitrd } from "../../lib/boot/initrd.ts";
import { buildVmFdt } from "../../lib/fdt/nodes.ts";
import { loadPe } from "../../lib/loader/pe.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { applyAarch64State } from "../aarch64.ts";
import { Unicorn, unicornAvailable } from "../unicorn.ts";
import {
  DEBUG,
  HANG_GRACE_MS,
  hx,
  type RealBootOptions,
  type RealBootResult,
  realRamBytes,
  realRunResult,
  type RunEnd,
  runLimitReached,
  runSlice,
  SerialConsole,
} from "./common.ts";

/**
 * What the arm64 machine adds to a command line that lacks it: `init_on_alloc=0`. Debian turns
 * INIT_ON_ALLOC on, and the kernel then zeroes every page it allocates with `dc zva`, which in Unicorn
 * 2.0.1 goes through the engine's slow self-modifying-code store path (about a third of an arm64 boot's
 * samples; 12.0 s -> 9.0 s measured). It only drops a hardening default; the boot is otherwise the same.
 */
export const AARCH64_MACHINE_PARAMS: readonly string[] = Object.freeze(["init_on_alloc=0"]);

/** The default command line: the PL011 as console and early console, and {@linkcode AARCH64_MACHINE_PARAMS}. */
export const AARCH64_DEFAULT_CMDLINE = `console=ttyAMA0 earlycon=pl011,0x9000000 ${AARCH64_MACHINE_PARAMS.join(" ")}`;

/** Guest physical layout (QEMU virt-like). */
export const AARCH64_LAYOUT: Readonly<Record<string, number>> = Object.freeze({
  ram: 0x4000_0000,
  kernel: 0x4020_0000,
  dtb: 0x4400_0000,
  pl011: 0x0900_0000,
  gicDist: 0x0800_0000,
  gicCpu: 0x0801_0000,
});

/** The largest DTB arm64 Linux takes (booting.rst: "must not exceed 2 megabytes in size"). */
const ARM64_DTB_MAX = 2 << 20;
/** The arm64 Image header's magic, "ARM\x64" read as a little-endian u32. */
const ARM64_MAGIC = 0x644d_5241;
const GICC_IAR = 0x0c;
// CPUARMState (qemu/target/arm/cpu.h in Unicorn 2.0.1): regs[16], xregs[32], pc, pstate, aarch64, hflags.
const ENV_PC = 64 + 256, ENV_AARCH64 = ENV_PC + 12, ENV_HFLAGS = ENV_PC + 16;
/** SPSR_EL1 (op0 3, op1 0, CRn 4, CRm 0, op2 0). */
const SPSR_EL1 = { op0: 3, op1: 0, crn: 4, crm: 0, op2: 0 };
/** TCR_EL1 (op0 3, op1 0, CRn 2, CRm 0, op2 2): the translation control register the walk reads. */
const TCR_EL1 = { op0: 3, op1: 0, crn: 2, crm: 0, op2: 2 };
/** SCTLR_EL1.M (bit 0): the stage 1 MMU is on. */
const SCTLR_M = 1n;
const SCTLR_EL1 = { op0: 3, op1: 0, crn: 1, crm: 0, op2: 0 };
const PL011_DR = 0x00, PL011_FR = 0x18;
/** UARTPeriphID0..3 and UARTPCellID0..3. */
const PL011_ID = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/** Runs a real arm64 kernel in Unicorn. */
export class Arm64LinuxMachine implements Disposable {
  /** The engine. */
  readonly uc: Unicorn;
  /** The PL011's output. */
  readonly console: SerialConsole;
  /** What the machine did for the guest. */
  readonly stats: Record<string, number> = {
    placeholders: 0,
    exceptions: 0,
    psci: 0,
    svc: 0,
    userAborts: 0,
    uaccessAborts: 0,
  };
  #sliceEnd = Infinity;
  #stopped = false;

  /** Guest RAM. */
  readonly mem: GuestMemory;

  /**
   * Translates a virtual address through the guest's own stage 1 tables (TTBR0/TTBR1_EL1 as TCR_EL1 says),
   * so nothing about where a kernel links itself (KIMAGE_VADDR: 0xffff800008000000 for 6.1, 0xffff800080000000
   * for 6.12, anything under KASLR) is assumed; with the MMU off the address is physical. Undefined when the
   * walk finds no valid descriptor or leaves guest RAM.
   */
  translate(va: bigint): bigint | undefined {
    return arm64Translate(
      va,
      (this.uc.readSysReg(SCTLR_EL1) & SCTLR_M) !== 0n,
      this.uc.readSysReg(TCR_EL1),
      this.uc.regRead("ttbr0_el1"),
      this.uc.regRead("ttbr1_el1"),
      (pa) => this.mem.isRange(Number(pa), 8) ? this.mem.readU64(Number(pa)) : undefined,
    );
  }

  /**
   * A 32-bit word by virtual address, read through the guest's page tables (the placeholders Unicorn needs
   * at virtual addresses are empty); 0 when it is not mapped.
   */
  readKernelWord(va: bigint): number {
    const pa = this.translate(va);
    if (pa === undefined || !this.mem.isRange(Number(pa), 4)) return 0;
    return this.mem.readU32(Number(pa));
  }

  /** Opens the engine, maps RAM and the devices, and installs the hooks. */
  constructor(mem: GuestMemory, onLine?: (line: string) => void, stopAt?: string, stallEvents?: number) {
    this.mem = mem;
    this.uc = Unicorn.open("aarch64");
    this.console = new SerialConsole(onLine, stopAt, stallEvents);
    this.uc.mapGuestMemory(mem);
    const con = this.console;
    this.uc.mapMmio(AARCH64_LAYOUT.pl011, 0x1000, {
      // UARTFR: TX FIFO empty, RX FIFO empty. The PrimeCell ID registers at 0xfe0..0xffc identify a PL011
      // (part 0x011, ARM, revision 1) to the AMBA bus, so the tty driver binds and /dev/console opens.
      read: (off) => {
        this.#checkTime();
        return off === PL011_FR ? 0x90 : off >= 0xfe0 ? PL011_ID[(off - 0xfe0) >> 2] : 0;
      },
      write: (off, _size, value) => {
        if (off !== PL011_DR) return;
        const b = Number(value & 0xffn);
        con.push(b);
        if (b === 0x0a) this.#captureEl1Flags();
        if (con.ended !== undefined) this.uc.stop();
        else this.#checkTime();
      },
    });
    // GICD_TYPER (0x004): ITLinesNumber 2, i.e. 96 interrupt IDs, so the PL011's SPI 1 maps; all else 0.
    this.uc.mapMmio(AARCH64_LAYOUT.gicDist, 0x1_0000, { read: (off) => (off === 4 ? 2 : 0), write: () => {} });
    this.uc.mapMmio(AARCH64_LAYOUT.gicCpu, 0x1_0000, {
      read: (off) => (off === GICC_IAR ? 1023 : 0),
      write: () => {},
    });
    this.uc.onUnmapped((_access, address) => this.#placeholder(address));
    this.uc.onInterrupt((intno) => {
      this.stats.exceptions++;
      this.#checkTime();
      if (intno === 1 && this.#psci()) return;
      if (intno === 4 && this.#el1UserAccessAbort()) return;
      if (this.userSpace && (intno === 2 || intno === 3) && this.#fromEl0(intno)) return;
      if (DEBUG) {
        const st = this.uc.editCpuState((x) => x.slice(), false);
        const dv = new DataView(st.buffer);
        console.error(
          `exc ${intno} pc ${hx(this.uc.readPc())} pstate ${hx(this.uc.regRead("pstate"))} sp ${
            hx(this.uc.regRead("sp"))
          } hflags ${hx(dv.getUint32(ENV_HFLAGS, true))} elr ${hx(this.uc.regRead("elr_el1"))}`,
        );
      }
      throw new EmulatorError(
        "UnhandledException",
        `exception ${intno} (${ARM_EXCP[intno] ?? "?"}) at pc ${hx(this.uc.readPc())}${
          (this.uc.regRead("pstate") & 0xfn) === 0n ? " (EL0)" : ""
        }: not delivered to the guest${
          this.userSpace ? "" : " (exceptions from EL0 are delivered with arm64UserSpace)"
        }`,
      );
    });
  }

  /** Closes the engine. */
  close(): void {
    this.uc.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Counts a guest event for the watchdog and stops the run when it trips or the time is up. */
  #checkTime(): void {
    if (this.console.tick() || performance.now() > this.#sliceEnd) {
      this.#stopped = true;
      this.uc.stop();
    }
  }

  #userSpace = false;

  /** Deliver exceptions from EL0 (see {@linkcode RealBootOptions.arm64UserSpace}). */
  get userSpace(): boolean {
    return this.#userSpace;
  }

  /**
   * Turns user space on. The placeholders user space needs are mapped now, before the run, rather than
   * from the engine's unmapped-access hook in the middle of an instruction fetch: the program's low
   * addresses below the GIC, and the top 4 GiB of the 48-bit user range where the stack is.
   */
  set userSpace(on: boolean) {
    if (on && !this.#userSpace) {
      this.uc.mapScratch(0, AARCH64_LAYOUT.gicDist);
      this.uc.mapScratch(0xffff_0000_0000, 0x1_0000_0000);
    }
    this.#userSpace = on;
  }
  #el1Flags: Uint8Array | undefined;
  /**
   * The bytes of QEMU's cached TB flags (`hflags`): a u32 in Unicorn 2.0.1 (QEMU 5.0); a
   * `CPUARMTBFlags { u32 flags; u64 flags2 }` in 2.1 (QEMU 7.2). Neither rebuilds them on a PSTATE
   * register write, so the value seen at EL1 is put back by hand after an EL0 exception is delivered.
   */
  #flagsSize = (() => {
    const v = unicornAvailable();
    return !v.ok || v.version === "2.0" ? 4 : 16;
  })();

  /**
   * Remembers QEMU's cached TB flags while the kernel runs at EL1 (the PL011 is written from EL1), after
   * checking the layout against the register API: `pc` where the state keeps it, `aarch64` set after it.
   */
  #captureEl1Flags(): void {
    if ((this.uc.regRead("pstate") & 0xcn) !== 4n) return;
    const pc = this.uc.readPc();
    this.#el1Flags = this.uc.editCpuState((st) => {
      const dv = new DataView(st.buffer, st.byteOffset, st.byteLength);
      if (dv.getBigUint64(ENV_PC, true) !== pc || dv.getUint8(ENV_AARCH64) !== 1) {
        throw new EmulatorError("UnicornError", "Unicorn's arm64 CPU state layout is not the one of 2.0.1 or 2.1");
      }
      return st.slice(ENV_HFLAGS, ENV_HFLAGS + this.#flagsSize);
    }, false);
  }

  /**
   * Takes an exception from EL0 to EL1 the way the CPU does (Unicorn reports it instead): SPSR_EL1 =
   * PSTATE, ELR_EL1 = return address, ESR_EL1 (and FAR_EL1 for an abort), SP_EL0 saved and SP_EL1 live,
   * PSTATE = EL1h with DAIF masked, PC = VBAR_EL1 + 0x400 (synchronous, lower EL, AArch64). QEMU caches
   * the exception level in its TB flags (`hflags`), which a PSTATE write does not rebuild: the value seen
   * at EL1 is put back in the saved state. The kernel returns with a native `eret`.
   * - SVC: the engine reports PC past the instruction, the preferred return address; ESR EC 0x15.
   * - Instruction abort: PC is the faulting instruction; ESR EC 0x20 with a level-3 translation fault
   *   (Linux's handler treats every translation-fault level alike), FAR = PC.
   */
  #fromEl0(intno: number): boolean {
    const uc = this.uc;
    const pstate = uc.regRead("pstate");
    if ((pstate & 0xfn) !== 0n || this.#el1Flags === undefined) return false;
    const pc = uc.readPc();
    if (DEBUG) {
      console.error(
        `el0 exception ${intno} pc ${hx(pc)} pstate ${hx(pstate)} vbar ${hx(uc.regRead("vbar_el1"))} flags ${
          [...this.#el1Flags].map((b) => b.toString(16)).join(" ")
        }`,
      );
    }
    let esr: bigint;
    if (intno === 2) {
      this.stats.svc++;
      esr = (0x15n << 26n) | (1n << 25n) | BigInt(this.readUserWord(pc - 4n) >>> 5 & 0xffff);
    } else {
      this.stats.userAborts++;
      esr = (0x20n << 26n) | (1n << 25n) | 0x07n;
      uc.regWrite("far_el1", pc);
    }
    uc.writeSysReg(SPSR_EL1, pstate);
    uc.regWrite("elr_el1", pc);
    uc.regWrite("esr_el1", esr);
    uc.regWrite("sp_el0", uc.regRead("sp"));
    uc.regWrite("sp", uc.regRead("sp_el1"));
    uc.regWrite("pstate", 0x3c5);
    const flags = this.#el1Flags;
    uc.editCpuState((st) => st.set(flags, ENV_HFLAGS));
    uc.regWrite("pc", uc.regRead("vbar_el1") + 0x400n);
    return true;
  }

  /**
   * Takes a data abort of the kernel's unprivileged user access (`ldtr`/`sttr`, what put_user, get_user,
   * copy_to_user and clear_user compile to) to the EL1 vectors, as the CPU does; the engine reports it
   * instead. The kernel's page-fault handler then maps the user page (or applies its exception fixup) and
   * its `eret` retries the access. Seen at `put_user(argc, sp)` in create_elf_tables: with stack
   * randomisation, /init's argument tables cross into a stack page not yet present about one boot in six.
   * - ESR_EL1: EC 0x25 (data abort, same EL), IL, WnR for a store, DFSC 0x07 (translation fault, level 3;
   *   Linux handles every translation-fault level alike). FAR_EL1: the address the instruction names.
   * - SPSR_EL1 = PSTATE, ELR_EL1 = PC (the faulting instruction), PSTATE = EL1h with DAIF masked, PC =
   *   VBAR_EL1 + 0x200 (synchronous, current EL with SP_ELx). The exception level does not change, so
   *   QEMU's cached TB flags stay right.
   * Any other EL1 data abort is a kernel bug or an engine gap and still ends the run.
   */
  #el1UserAccessAbort(): boolean {
    const uc = this.uc;
    const pstate = uc.regRead("pstate");
    if ((pstate & 0xcn) !== 4n) return false;
    const pc = uc.readPc();
    const access = decodeUnprivilegedAccess(this.readKernelWord(pc));
    if (access === undefined) return false;
    const base = access.base === 31 ? uc.regRead("sp") : uc.regRead(`x${access.base}`);
    const far = BigInt.asUintN(64, base + BigInt(access.offset));
    this.stats.uaccessAborts++;
    uc.writeSysReg(SPSR_EL1, pstate);
    uc.regWrite("elr_el1", pc);
    uc.regWrite("esr_el1", (0x25n << 26n) | (1n << 25n) | (access.store ? 1n << 6n : 0n) | 0x07n);
    uc.regWrite("far_el1", far);
    uc.regWrite("pstate", 0x3c5n);
    uc.regWrite("pc", uc.regRead("vbar_el1") + 0x200n);
    return true;
  }

  /** An instruction word of user space (for the SVC immediate); 0 when it cannot be read. */
  readUserWord(va: bigint): number {
    return this.readKernelWord(va);
  }

  /**
   * PSCI through `hvc #0` / `smc #0` (the DT's /psci node says hvc): the engine has no firmware behind
   * them and reports UNDEFINED, so the machine answers: PSCI_VERSION 1.0, SYSTEM_OFF and SYSTEM_RESET end
   * the run, every other function NOT_SUPPORTED.
   */
  #psci(): boolean {
    // The engine reports the exception with PC at the instruction or just past it.
    let pc = this.uc.readPc();
    const word = (a: bigint) => this.readKernelWord(a);
    const isCall = (w: number) => w === 0xd400_0002 || w === 0xd400_0003;
    if (!isCall(word(pc))) {
      if (!isCall(word(pc - 4n))) {
        if (DEBUG) console.error(`UDEF insn ${hx(word(pc))} prev ${hx(word(pc - 4n))}`);
        return false;
      }
      pc -= 4n;
    }
    this.stats.psci++;
    const fn = Number(this.uc.regRead("x0") & 0xffff_ffffn);
    let ret = -1n; // NOT_SUPPORTED
    if (fn === 0x8400_0000) ret = 0x1_0000n; // PSCI_VERSION: 1.0
    else if (fn === 0x8400_0008 || fn === 0x8400_0009) {
      this.console.ended ??= "poweroff";
      this.uc.stop();
    }
    this.uc.regWrite("x0", ret);
    this.uc.regWrite("pc", pc + 4n);
    return true;
  }

  /** Maps an empty region around `address`: 1 GiB when that is free, else 2 MiB, else 4 KiB. */
  #placeholder(address: bigint): boolean {
    for (const size of [1n << 30n, 1n << 21n, 1n << 12n]) {
      const base = address & ~(size - 1n);
      try {
        this.uc.mapScratch(Number(base), Number(size));
        this.stats.placeholders++;
        this.#checkTime();
        return true;
      } catch {
        // overlaps something mapped; try smaller
      }
    }
    return false;
  }

  /** Runs from `pc` to an end condition. */
  run(pc: bigint, opts: { timeoutMs: number; maxInstructions: number; countInstructions?: boolean }): RealBootResult {
    const t0 = performance.now();
    const deadline = t0 + opts.timeoutMs;
    // An instruction budget runs the engine in counted slices, the last one cut to what is left; a slice
    // the machine cuts short counts in full (an upper bound, the same guest point every time).
    const budget = opts.maxInstructions > 0 ? opts.maxInstructions : Infinity;
    const counting = opts.countInstructions === true || budget < Infinity;
    let instructions = 0;
    let end: RunEnd;
    const slice = 20_000_000;
    // No Unicorn timeout (its thread wakes every 2 us); the hooks end the run at the deadline and the
    // guard stops the engine from another thread when none runs any more.
    using guard = this.uc.hangGuard(Date.now() + opts.timeoutMs + HANG_GRACE_MS);
    for (;;) {
      const limit = runLimitReached(performance.now(), deadline, instructions, budget, opts);
      if (limit !== undefined) {
        end = limit;
        break;
      }
      this.#sliceEnd = deadline;
      this.#stopped = false;
      const n = Math.min(slice, budget - instructions);
      const ran = runSlice(this.uc, pc, counting ? n : undefined, guard, opts.timeoutMs);
      // A slice counts in full unless the engine failed (an upper bound, the same guest point every time).
      if (counting && ran.end?.stop !== "error") instructions += n;
      pc = this.uc.readPc();
      if (ran.end !== undefined) {
        end = ran.end;
        break;
      }
      const timedOut = ran.timedOut || this.#stopped;
      if (this.console.ended !== undefined) {
        end = { stop: this.console.ended, detail: this.console.endDetail() };
        break;
      }
      if (timedOut) continue;
      const insn = this.readKernelWord(pc - 4n);
      if (insn === 0xd503_207f) { // wfi
        const daif = this.uc.regRead("pstate") & 0x3c0n;
        end = {
          stop: (daif & 0x80n) === 0n ? "idle" : "halt",
          detail: `wfi at ${hx(pc - 4n)} with IRQs ${daif & 0x80n ? "masked" : "unmasked"} (no interrupt will come)`,
        };
        break;
      }
      if (counting) continue;
      end = { stop: "error", detail: `the engine stopped at ${hx(pc)} for no reason the harness knows` };
      break;
    }
    return realRunResult(this.console, t0, counting ? instructions : undefined, end, pc, this.stats);
  }
}

/**
 * Decodes an unprivileged load or store, LDTR/STTR (Arm ARM C4.1.66, "Load/store register
 * (unprivileged)": `size 111 0 00 opc 0 imm9 10 Rn Rt`): the base register (31 is SP), the signed 9-bit
 * byte offset, and whether it stores (opc 00); undefined for any other instruction word. For example
 * 0xf8000841, `sttr x1, [x2]`, is `{ base: 2, offset: 0, store: true }`.
 */
export function decodeUnprivilegedAccess(word: number): { base: number; offset: number; store: boolean } | undefined {
  if ((word & 0x3f20_0c00) !== 0x3800_0800) return undefined;
  const imm9 = (word >>> 12) & 0x1ff;
  return { base: (word >>> 5) & 31, offset: imm9 >= 0x100 ? imm9 - 0x200 : imm9, store: ((word >>> 22) & 3) === 0 };
}

/** Granule facts by TCR_EL1.TG0 / TG1 encoding: page shift. */
const TG0_SHIFT: Record<number, number> = { 0: 12, 1: 16, 2: 14 };
const TG1_SHIFT: Record<number, number> = { 2: 12, 3: 16, 1: 14 };
const DESC_ADDR = 0x0000_ffff_ffff_f000n;

/**
 * An AArch64 stage 1 translation (VMSAv8-64, 4/16/64 KiB granules, up to 48-bit output addresses): the
 * region (TTBR0 for addresses whose bit 55 is clear, TTBR1 otherwise), its size from TnSZ, the granule from
 * TGn, then one descriptor per level ("table" 0b11 above the last level, "block" 0b01, "page" 0b11 at the
 * last level). `read` returns the 64-bit descriptor at a physical address, undefined outside RAM.
 */
export function arm64Translate(
  va: bigint,
  mmuOn: boolean,
  tcr: bigint,
  ttbr0: bigint,
  ttbr1: bigint,
  read: (pa: bigint) => bigint | undefined,
): bigint | undefined {
  if (!mmuOn) return va;
  const upper = ((va >> 55n) & 1n) === 1n;
  const tsz = Number(upper ? (tcr >> 16n) & 0x3fn : tcr & 0x3fn);
  const tg = Number(upper ? (tcr >> 30n) & 3n : (tcr >> 14n) & 3n);
  const epd = upper ? (tcr >> 23n) & 1n : (tcr >> 7n) & 1n;
  if (epd === 1n) return undefined;
  const shift = (upper ? TG1_SHIFT : TG0_SHIFT)[tg];
  if (shift === undefined) return undefined;
  const vaBits = 64 - tsz;
  const mask = (1n << BigInt(vaBits)) - 1n;
  // The address must be all ones (TTBR1) or all zeros (TTBR0) above vaBits.
  const top = va >> BigInt(vaBits);
  if (top !== (upper ? (1n << BigInt(tsz)) - 1n : 0n)) return undefined;
  const stride = shift - 3;
  const levels = Math.ceil((vaBits - shift) / stride);
  let table = (upper ? ttbr1 : ttbr0) & DESC_ADDR;
  for (let l = levels - 1; l >= 0; l--) {
    const lsb = shift + stride * l;
    const idx = ((va & mask) >> BigInt(lsb)) & ((1n << BigInt(Math.min(stride, vaBits - lsb))) - 1n);
    const d = read(table + idx * 8n);
    if (d === undefined || (d & 1n) === 0n) return undefined;
    const span = 1n << BigInt(lsb);
    if (l === 0) return (d & DESC_ADDR & ~(span - 1n)) | (va & (span - 1n));
    if ((d & 2n) === 0n) return (d & DESC_ADDR & ~(span - 1n)) | (va & (span - 1n)); // block
    table = d & DESC_ADDR & ~((1n << BigInt(shift)) - 1n);
  }
  return undefined;
}

/** QEMU's ARM exception numbers as Unicorn reports them. */
const ARM_EXCP: Record<number, string> = {
  1: "UDEF",
  2: "SWI/SVC",
  3: "prefetch abort",
  4: "data abort",
  5: "IRQ",
  6: "FIQ",
  7: "BKPT",
  11: "HVC",
  13: "SMC",
  16: "semihost",
};

/**
 * Where an arm64 boot's fixed footprint ends, from the start of RAM: the kernel (loaded 2 MiB in, its
 * header's image_size: "Effective Image size", booting.rst) or the DTB's 2 MiB at its fixed place, whichever
 * is higher. A gzip Image has no readable header: the DTB's end then.
 */
export function arm64RuntimeEnd(image: Uint8Array): number {
  const L = AARCH64_LAYOUT;
  const dtbEnd = L.dtb - L.ram + ARM64_DTB_MAX;
  // booting.rst header: u64 text_offset at 8, u64 image_size at 16, u32 magic "ARM\x64" at 0x38.
  if (image.byteLength < 0x40 || new DataView(image.buffer, image.byteOffset).getUint32(0x38, true) !== ARM64_MAGIC) {
    return dtbEnd;
  }
  const imageSize = Number(new DataView(image.buffer, image.byteOffset).getBigUint64(16, true));
  return Math.max(dtbEnd, L.kernel - L.ram + imageSize);
}

/** Boots an arm64 Image (plain or gzip) with a DTB from lib/fdt. */
export async function bootArm64Image(image: Uint8Array, opts: RealBootOptions = {}): Promise<RealBootResult> {
  const L = AARCH64_LAYOUT;
  const ramSize = realRamBytes(opts.memoryMiB, {
    end: arm64RuntimeEnd(image),
    initrd: opts.initrd?.byteLength ?? 0,
    what: "this arm64 Image",
  });
  const mem = GuestMemory.fromRanges([[L.ram, ramSize]]);
  const loaded = await loadPe(mem, image, { imageBase: L.kernel, arch: "aarch64" });
  // booting.rst sets no upper limit for the initrd on arm64; keep it clear of the DTB's 2 MiB.
  const placed = opts.initrd === undefined ? undefined : await loadInitrd(mem, opts.initrd, {
    maxAddr: Number.MAX_SAFE_INTEGER,
    kernelEnd: loaded.kernelEnd,
    avoid: [{ addr: L.dtb, size: ARM64_DTB_MAX }],
  });
  const chosen = placed === undefined ? undefined : chosenInitrd(placed);
  const dtb = buildVmFdt(mem, {
    arch: "aarch64",
    bootargs: opts.cmdline ?? AARCH64_DEFAULT_CMDLINE,
    initrd: chosen === undefined ? undefined : { start: chosen.initrdStart, end: chosen.initrdEnd },
    gic: true,
  });
  mem.write(L.dtb, dtb);
  const cpu = aarch64LinuxBoot({ entry: loaded.entry.image!, dtb: L.dtb });
  using m = new Arm64LinuxMachine(mem, opts.onLine, opts.stopAt, opts.stallEvents);
  m.userSpace = opts.arm64UserSpace !== false;
  applyAarch64State(m.uc, cpu);
  const r = m.run(BigInt(cpu.regs.pc), {
    timeoutMs: opts.timeoutMs ?? 120_000,
    maxInstructions: opts.maxInstructions ?? 0,
    countInstructions: opts.countInstructions,
  });
  return { ...r, initrd: placed, ram: ramSize };
}
