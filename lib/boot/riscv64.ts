/**
 * The riscv64 Linux boot CPU state (Documentation/arch/riscv/boot.rst), as plain register values:
 *
 * - "$a0 to contain the hartid of the current core. $a1 to contain the address of the devicetree in
 *   memory."
 * - "The kernel is expected to be entered in S-mode" (SBI firmware runs in M-mode below it), "the MMU
 *   must be disabled" (satp = 0), and interrupts off (sstatus.SIE = 0, sie = 0).
 *
 * @module
 */
import { ConfiguratorError } from "../errors.ts";
import { requireObject } from "../guard.ts";

/** The riscv64 boot CPU state. */
export interface Riscv64CpuState {
  /** Privilege mode the kernel is entered in. */
  privilege: "S";
  /** General registers by ABI name: `a0` (hart id), `a1` (DTB), and `pc` (entry). */
  regs: Record<"a0" | "a1" | "pc", number>;
  /** Supervisor CSRs: `satp` (0: bare, MMU off) and `sie` (0: no interrupts enabled). */
  csrs: Record<"satp" | "sie", number>;
}

/** Options of {@linkcode riscv64LinuxBoot}. */
export interface Riscv64BootOptions {
  /** Kernel entry: the Image's load address. */
  entry: number;
  /** Guest physical address of the DTB. */
  dtb: number;
  /** Hart id of the boot CPU. Default 0. */
  hartId?: number;
}

/**
 * The riscv64 Linux entry state: S-mode, MMU off, a0 = hart id, a1 = DTB, PC = entry.
 *
 * @example
 * ```ts
 * import { riscv64LinuxBoot } from "@linux-loader/linux-loader";
 * const cpu = riscv64LinuxBoot({ entry: 0x80200000, dtb: 0x88000000 });
 * console.log(cpu.privilege, cpu.regs.a1.toString(16)); // S 88000000
 * ```
 */
export function riscv64LinuxBoot(opts: Riscv64BootOptions): Riscv64CpuState {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  return {
    privilege: "S",
    regs: { a0: opts.hartId ?? 0, a1: opts.dtb, pc: opts.entry },
    csrs: { satp: 0, sie: 0 },
  };
}
