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

export * from "./unicorn.ts";
export * from "./harness.ts";
export * from "./uart.ts";
export * from "./x86_64.ts";
export * from "./aarch64.ts";
export * from "./riscv64.ts";
export * from "./boot.ts";
export * from "./demo_kernels.ts";
