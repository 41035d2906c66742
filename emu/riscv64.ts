/**
 * The riscv64 boot harness: applies a {@linkcode Riscv64CpuState} (S-mode, MMU off, a0 = hart id, a1 = DTB)
 * to Unicorn, maps guest memory zero-copy, serves a 16550 at 0x10000000 (QEMU `virt`), runs to `wfi` and
 * reports the registers, the guest's reads and the serial text.
 *
 * Unicorn's RISC-V CPU starts in M-mode and 2.0.1 has no register for the privilege level, so the harness
 * does what SBI firmware does: it sets mstatus.MPP = S and mepc = entry and starts at a one-instruction
 * `mret` trampoline on a scratch page outside guest memory. The trampoline counts as one instruction.
 *
 * @module
 */

import type { Riscv64CpuState } from "../lib/boot/riscv64.ts";
import { EmulatorError } from "../lib/errors.ts";
import type { GuestMemory } from "../lib/memory.ts";
import { attachRunSoFar, type HaltFacts, prepare, type RunOptions, type RunResult, runToHalt } from "./harness.ts";
import { RISCV_VIRT_UART_BASE, Uart16550 } from "./uart.ts";
import { Unicorn } from "./unicorn.ts";

/** The `wfi` instruction (0x10500073, little-endian). */
const WFI = new Uint8Array([0x73, 0x00, 0x50, 0x10]);
/** The `mret` instruction (0x30200073, little-endian). */
const MRET = new Uint8Array([0x73, 0x00, 0x20, 0x30]);
/** mstatus.MPP (bits 12:11) = 01: mret returns to S-mode. */
const MSTATUS_MPP_S = 1n << 11n;

/**
 * Registers reported after a run, by ABI name, and the PC.
 *
 * @example
 * ```ts
 * import { RISCV64_REPORTED } from "@linux-loader/linux-loader/emu";
 * console.log(RISCV64_REPORTED.length); // 32
 * ```
 */
export const RISCV64_REPORTED: readonly string[] = Object.freeze([
  "ra",
  "sp",
  "gp",
  "tp",
  "t0",
  "t1",
  "t2",
  "s0",
  "s1",
  "a0",
  "a1",
  "a2",
  "a3",
  "a4",
  "a5",
  "a6",
  "a7",
  "s2",
  "s3",
  "s4",
  "s5",
  "s6",
  "s7",
  "s8",
  "s9",
  "s10",
  "s11",
  "t3",
  "t4",
  "t5",
  "t6",
  "pc",
]);

/** Options of {@linkcode runRiscv64}. */
export interface Riscv64RunOptions extends RunOptions {
  /** 16550 base address. Default 0x10000000 (QEMU `virt`). */
  uartBase?: number;
  /** Page for the M-to-S trampoline. Default: the first free 4 KiB page from 0x1000 up. */
  trampoline?: number;
}

function freePage(mem: GuestMemory, taken: readonly (readonly [number, number])[]): number {
  const busy = [...mem.regions.map((r) => [r.guestAddr, r.size] as const), ...taken];
  for (let a = 0x1000; a < 0x1_0000_0000; a += 0x1000) {
    if (!busy.some(([b, size]) => b < a + 0x1000 && b + size > a)) return a;
  }
  throw new EmulatorError("UnicornError", "no free 4 KiB page below 4 GiB for the M-mode trampoline");
}

/**
 * Applies the boot state and returns the trampoline address to start at: general registers, satp, sie,
 * then mstatus.MPP = S and mepc = entry so that the `mret` at `trampoline` enters the kernel in S-mode.
 */
export function applyRiscv64State(uc: Unicorn, cpu: Riscv64CpuState, trampoline: number): number {
  uc.mapScratch(trampoline, 0x1000);
  uc.memWrite(trampoline, MRET);
  uc.regWrite("a0", cpu.regs.a0);
  uc.regWrite("a1", cpu.regs.a1);
  uc.regWrite("satp", cpu.csrs.satp);
  uc.regWrite("sie", cpu.csrs.sie);
  uc.regWrite("mstatus", MSTATUS_MPP_S);
  uc.regWrite("mepc", cpu.regs.pc);
  return trampoline;
}

/**
 * Boots `mem` from `cpu` and runs to `wfi`. Regions must be 4 KiB-aligned in address and size.
 *
 * @example
 * ```ts
 * import { GuestMemory, riscv64LinuxBoot } from "@linux-loader/linux-loader";
 * import { runRiscv64 } from "@linux-loader/linux-loader/emu";
 * const mem = GuestMemory.fromRanges([[0x80000000, 1 << 20]]);
 * mem.write(0x80000000, new Uint8Array([0x73, 0x00, 0x50, 0x10])); // wfi
 * console.log(runRiscv64(mem, riscv64LinuxBoot({ entry: 0x80000000, dtb: 0x80080000 })).stop); // halt
 * ```
 */
export function runRiscv64(mem: GuestMemory, cpu: Riscv64CpuState, opts: Riscv64RunOptions = {}): RunResult {
  using uc = Unicorn.open("riscv64");
  const reads = prepare(uc, mem, opts);
  const uartBase = opts.uartBase ?? RISCV_VIRT_UART_BASE;
  const uart = new Uart16550();
  uart.attachMmio(uc, uartBase);
  const tramp = opts.trampoline ?? freePage(mem, [[uartBase, 0x1000], ...(opts.scratch ?? [])]);
  const begin = applyRiscv64State(uc, cpu, tramp);
  let facts: HaltFacts;
  try {
    facts = runToHalt(uc, begin, WFI, opts);
  } catch (e) {
    // The console and the registers of a run that timed out, hit its budget or faulted are kept on the error.
    let registers: Record<string, bigint> = {};
    try {
      registers = uc.regsRead(RISCV64_REPORTED);
    } catch {
      // an engine that cannot read its registers any more: the serial text still counts
    }
    throw attachRunSoFar(e, { registers, reads, serial: uart.text });
  }
  return { registers: uc.regsRead(RISCV64_REPORTED), reads, serial: uart.text, stop: "halt", ...facts };
}
