/**
 * The aarch64 boot harness: applies an {@linkcode Aarch64CpuState} (EL1, MMU off, x0 = DTB) to Unicorn, maps
 * guest memory zero-copy, serves a PL011 at 0x09000000, runs to `wfi` and reports the registers, the
 * guest's reads and the serial text.
 *
 * @module
 */

import type { Aarch64CpuState } from "../lib/boot/aarch64.ts";
import type { GuestMemory } from "../lib/memory.ts";
import { attachRunSoFar, type HaltFacts, prepare, type RunOptions, type RunResult, runToHalt } from "./harness.ts";
import { ARM_VIRT_PL011_BASE, Pl011 } from "./uart.ts";
import { Unicorn } from "./unicorn.ts";

/** The `wfi` instruction (0xd503207f, little-endian). */
const WFI = new Uint8Array([0x7f, 0x20, 0x03, 0xd5]);

/**
 * Registers reported after a run: x0..x30, sp, pc, pstate.
 *
 * @example
 * ```ts
 * import { AARCH64_REPORTED } from "@linux-loader/linux-loader/emu";
 * console.log(AARCH64_REPORTED.length); // 34
 * ```
 */
export const AARCH64_REPORTED: readonly string[] = Object.freeze([
  ...Array.from({ length: 31 }, (_, i) => `x${i}`),
  "sp",
  "pc",
  "pstate",
]);

/** Options of {@linkcode runAarch64}. */
export interface Aarch64RunOptions extends RunOptions {
  /** PL011 base address. Default 0x09000000 (QEMU `virt`). */
  uartBase?: number;
}

/** Applies the boot state: system registers (SCR_EL3, HCR_EL2, SCTLR_EL1), PSTATE, x0..x3, PC. */
export function applyAarch64State(uc: Unicorn, cpu: Aarch64CpuState): void {
  for (const s of cpu.sysregs) uc.writeSysReg(s.encoding, s.value);
  uc.regWrite("pstate", cpu.pstate);
  for (const [name, value] of Object.entries(cpu.regs)) uc.regWrite(name, value);
}

/**
 * Boots `mem` from `cpu` and runs to `wfi`. Regions must be 4 KiB-aligned in address and size.
 *
 * @example
 * ```ts
 * import { aarch64LinuxBoot, GuestMemory } from "@linux-loader/linux-loader";
 * import { runAarch64 } from "@linux-loader/linux-loader/emu";
 * const mem = GuestMemory.fromRanges([[0x40000000, 1 << 20]]);
 * mem.write(0x40000000, new Uint8Array([0x7f, 0x20, 0x03, 0xd5])); // wfi
 * console.log(runAarch64(mem, aarch64LinuxBoot({ entry: 0x40000000, dtb: 0x40080000 })).stop); // halt
 * ```
 */
export function runAarch64(mem: GuestMemory, cpu: Aarch64CpuState, opts: Aarch64RunOptions = {}): RunResult {
  using uc = Unicorn.open("aarch64");
  const reads = prepare(uc, mem, opts);
  const uart = new Pl011();
  uart.attachMmio(uc, opts.uartBase ?? ARM_VIRT_PL011_BASE);
  applyAarch64State(uc, cpu);
  let facts: HaltFacts;
  try {
    facts = runToHalt(uc, cpu.regs.pc, WFI, opts);
  } catch (e) {
    // The console and the registers of a run that timed out, hit its budget or faulted are kept on the error.
    let registers: Record<string, bigint> = {};
    try {
      registers = uc.regsRead(AARCH64_REPORTED);
    } catch {
      // an engine that cannot read its registers any more: the serial text still counts
    }
    throw attachRunSoFar(e, { registers, reads, serial: uart.text });
  }
  return { registers: uc.regsRead(AARCH64_REPORTED), reads, serial: uart.text, stop: "halt", ...facts };
}
