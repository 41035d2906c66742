/**
 * The emulator side of linux-loader: the Unicorn 2 engine through Deno FFI (`Deno.dlopen`, needs
 * `--allow-ffi` and Debian's `libunicorn2`), boot harnesses for x86_64, aarch64 and riscv64 that run a
 * loaded kernel to its halt and report registers, guest reads and serial output, and {@linkcode bootKernel},
 * the whole VMM flow in one call.
 *
 * @example Boot the bundled x86_64 demo kernel
 * ```ts
 * import { bootKernel, demoKernel } from "@linux-loader/linux-loader/emu";
 * const r = await bootKernel(demoKernel("x86_64"), { cmdline: "console=ttyS0" });
 * console.log(r.run.serial); // LINUX OK cmdline=console=ttyS0 e820=0x3 first=0x0:0x9fc00:0x1
 * ```
 *
 * @module
 */

export {
  type Aarch64SysReg,
  type FaultKind,
  GuestFault,
  type GuestRead,
  type MmioHandler,
  type PortIoHandler,
  type StartOptions,
  type StartResult,
  UC,
  Unicorn,
  type UnicornArch,
  unicornAvailable,
  type X86Mmr,
} from "./unicorn.ts";
export type { HaltFacts, RunOptions, RunResult, StopReason } from "./harness.ts";
export { attachRunSoFar, runSoFar } from "./harness.ts";
export {
  ARM_VIRT_PL011_BASE,
  COM1_PORT,
  LSR_TX_EMPTY,
  Pl011,
  PL011_FR_IDLE,
  RISCV_VIRT_UART_BASE,
  Uart16550,
} from "./uart.ts";
export { runX86, X86_32_REPORTED, X86_64_REPORTED } from "./x86_64.ts";
export { AARCH64_REPORTED, type Aarch64RunOptions, runAarch64 } from "./aarch64.ts";
export { RISCV64_REPORTED, type Riscv64RunOptions, runRiscv64 } from "./riscv64.ts";
export {
  bootKernel,
  type BootOptions,
  type BootReport,
  bzImageMemSize,
  type Described,
  type NamedRead,
  nameReads,
  type WrittenRange,
  X86_LAYOUT,
} from "./boot.ts";
export { demoKernel } from "./demo_kernels.ts";
