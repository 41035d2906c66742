/**
 * The arm64 Linux boot CPU state (Documentation/arch/arm64/booting.rst, "Call the kernel image"), as plain
 * register values a VMM or emulator applies:
 *
 * - "x0 = physical address of device tree blob (dtb) in system RAM. x1 = 0 (reserved for future use),
 *   x2 = 0, x3 = 0."
 * - "All forms of interrupts must be masked in PSTATE.DAIF"; "The CPU must be in non-secure state, either
 *   in EL2 (RECOMMENDED in order to have access to the virtualisation extensions), or in EL1."
 * - "The MMU must be off. The instruction cache may be on or off. The address range corresponding to the
 *   loaded kernel image must be cleaned to the PoC."
 *
 * We enter at EL1 (as KVM does). The lower-EL execution-state bits matter to emulators that model EL2/EL3
 * (Unicorn does): SCR_EL3.RW and HCR_EL2.RW must say "EL1 is AArch64", or the kernel's first `eret` is
 * illegal; {@linkcode aarch64LinuxBoot} lists those values too.
 *
 * @module
 */

import { ConfiguratorError, hex } from "../errors.ts";
import { requireObject } from "../guard.ts";

/** An AArch64 system register by its architectural encoding (MRS/MSR operands). */
export interface Aarch64SysRegEncoding {
  /** op0. */
  op0: number;
  /** op1. */
  op1: number;
  /** CRn. */
  crn: number;
  /** CRm. */
  crm: number;
  /** op2. */
  op2: number;
}

/** A system register write of the boot state. */
export interface Aarch64SysRegValue {
  /** Architectural name, e.g. `"SCTLR_EL1"`. */
  name: string;
  /** Encoding. */
  encoding: Aarch64SysRegEncoding;
  /** Value (64 bits). */
  value: bigint;
}

/**
 * Encodings of the system registers the boot state sets (Arm ARM, chapter D17).
 *
 * @example
 * ```ts
 * import { AARCH64_SYSREGS } from "@linux-loader/linux-loader/abi";
 * console.log(Object.keys(AARCH64_SYSREGS).slice(0, 4)); // [ "SCTLR_EL1", "HCR_EL2", "SCR_EL3" ]
 * ```
 */
export const AARCH64_SYSREGS: Readonly<Record<"SCTLR_EL1" | "HCR_EL2" | "SCR_EL3", Aarch64SysRegEncoding>> = Object
  .freeze({
    SCTLR_EL1: { op0: 3, op1: 0, crn: 1, crm: 0, op2: 0 },
    HCR_EL2: { op0: 3, op1: 4, crn: 1, crm: 1, op2: 0 },
    SCR_EL3: { op0: 3, op1: 6, crn: 1, crm: 1, op2: 0 },
  });

/**
 * PSTATE for EL1 using SP_EL1 (M[3:0] = 0b0101) with D, A, I and F masked (bits 9..6).
 *
 * @example
 * ```ts
 * import { AARCH64_PSTATE_EL1H_DAIF } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_PSTATE_EL1H_DAIF.toString(16)); // 3c5
 * ```
 */
export const AARCH64_PSTATE_EL1H_DAIF = 0x3c5;
/**
 * SCTLR_EL1 with the ARMv8.0 RES1 bits (11, 20, 22, 23, 28, 29) set and M, C, I clear: MMU and caches off.
 *
 * @example
 * ```ts
 * import { AARCH64_SCTLR_EL1_MMU_OFF } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_SCTLR_EL1_MMU_OFF.toString(16)); // 30d00800
 * ```
 */
export const AARCH64_SCTLR_EL1_MMU_OFF = 0x30d0_0800n;
/**
 * HCR_EL2.RW (bit 31): EL1 is AArch64.
 *
 * @example
 * ```ts
 * import { AARCH64_HCR_EL2_RW } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_HCR_EL2_RW.toString(16)); // 80000000
 * ```
 */
export const AARCH64_HCR_EL2_RW = 1n << 31n;
/**
 * SCR_EL3.NS (bit 0), the ARMv8.0 RES1 bits 4 and 5, and RW (bit 10): non-secure, lower ELs are AArch64.
 *
 * @example
 * ```ts
 * import { AARCH64_SCR_EL3_NS_RW } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_SCR_EL3_NS_RW.toString(16)); // 431
 * ```
 */
export const AARCH64_SCR_EL3_NS_RW = 0x431n;

/** The arm64 boot CPU state. */
export interface Aarch64CpuState {
  /** Exception level the kernel is entered at. */
  el: 1;
  /** General registers by lower-case name: `x0` (DTB), `x1`..`x3` (0), `pc` (entry). */
  regs: Record<"x0" | "x1" | "x2" | "x3" | "pc", number>;
  /** PSTATE (EL1h, interrupts masked). */
  pstate: number;
  /** System registers to write, in order. */
  sysregs: Aarch64SysRegValue[];
}

/** Options of {@linkcode aarch64LinuxBoot}. */
export interface Aarch64BootOptions {
  /** Kernel entry: the Image's load address (base + text_offset). */
  entry: number;
  /** Guest physical address of the DTB (8-byte aligned). */
  dtb: number;
}

/**
 * booting.rst: "The device tree blob (dtb) must be placed on an 8-byte boundary".
 *
 * @example
 * ```ts
 * import { AARCH64_DTB_ALIGN } from "@linux-loader/linux-loader/abi";
 * console.log(AARCH64_DTB_ALIGN); // 8
 * ```
 */
export const AARCH64_DTB_ALIGN = 8;

/**
 * The arm64 Linux entry state: EL1h with DAIF masked, MMU and caches off, x0 = DTB, x1..x3 = 0, PC = entry.
 * Throws {@linkcode ConfiguratorError} `InvalidAddress` for an entry or DTB address that is not a
 * non-negative safe integer, or a DTB that is not 8-byte aligned.
 *
 * @example
 * ```ts
 * import { aarch64LinuxBoot } from "@linux-loader/linux-loader";
 * const cpu = aarch64LinuxBoot({ entry: 0x40200000, dtb: 0x44000000 });
 * console.log(cpu.regs.x0.toString(16), cpu.pstate.toString(16)); // 44000000 3c5
 * ```
 */
export function aarch64LinuxBoot(opts: Aarch64BootOptions): Aarch64CpuState {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  for (const field of ["entry", "dtb"] as const) {
    const v = opts[field];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new ConfiguratorError("InvalidAddress", `${field} ${String(v)} is not a guest address`, {
        field,
        value: String(v),
        limit: Number.MAX_SAFE_INTEGER,
      });
    }
  }
  if (opts.dtb % AARCH64_DTB_ALIGN !== 0) {
    throw new ConfiguratorError(
      "InvalidAddress",
      `dtb ${hex(opts.dtb)} is not on an ${AARCH64_DTB_ALIGN}-byte boundary, as arm64 booting.rst requires`,
      { field: "dtb", value: opts.dtb, limit: AARCH64_DTB_ALIGN },
    );
  }
  return {
    el: 1,
    regs: { x0: opts.dtb, x1: 0, x2: 0, x3: 0, pc: opts.entry },
    pstate: AARCH64_PSTATE_EL1H_DAIF,
    sysregs: [
      { name: "SCR_EL3", encoding: AARCH64_SYSREGS.SCR_EL3, value: AARCH64_SCR_EL3_NS_RW },
      { name: "HCR_EL2", encoding: AARCH64_SYSREGS.HCR_EL2, value: AARCH64_HCR_EL2_RW },
      { name: "SCTLR_EL1", encoding: AARCH64_SYSREGS.SCTLR_EL1, value: AARCH64_SCTLR_EL1_MMU_OFF },
    ],
  };
}
