/**
 * `demo`: boot every bundled demo kernel and print what each read.
 *
 * @module
 */

import { type Command, UsageError } from "./common.ts";
import { DEFAULT_CONSOLE, formatBoot } from "./boot.ts";

/** The `demo` command. */
export const demoCommand: Command = {
  name: "demo",
  operands: "",
  summary: "boot every bundled demo kernel (x86_64 Linux and PVH, aarch64, riscv64)",
  description: "Boots each bundled stub kernel: the library loads it into guest memory, writes its boot " +
    "parameters, and runs it in Unicorn; each stub reads its boot data the way Linux does at its first " +
    "instruction and reports on the serial port.",
  options: {},
  async run(args) {
    if (args.positionals.length > 0) throw new UsageError("demo takes no operands");
    const { bootKernel } = await import("../emu/boot.ts");
    const { demoKernel } = await import("../emu/demo_kernels.ts");
    const { unicornAvailable } = await import("../emu/unicorn.ts");
    const u = unicornAvailable();
    if (!u.ok) throw u.error; // FfiNotPermitted without --allow-ffi, LibraryNotFound without libunicorn2
    console.log(`linux-loader demo: each bundled stub kernel is loaded into guest memory by the library, its boot
parameters are written by the library's configurators, and it runs in Unicorn ${u.version} (${u.path}).
Each stub reads its boot data the way Linux does at its first instruction and reports on the serial port.
`);
    const initrd = new TextEncoder().encode("initrd: hello from the demo\n");
    const cases = [
      ["x86_64", "linux", "x86_64 ELF vmlinux, Linux 64-bit boot protocol"],
      ["x86_64", "pvh", "the same vmlinux, PVH entry from its Xen PHYS32_ENTRY note"],
      ["aarch64", undefined, "arm64 Image with a device tree"],
      ["riscv64", undefined, "riscv64 Image with a device tree"],
    ] as const;
    for (const [arch, protocol, title] of cases) {
      const cmdline = `${DEFAULT_CONSOLE[arch]} demo=1`;
      const r = await bootKernel(demoKernel(arch), { cmdline, protocol, initrd });
      console.log(formatBoot(`== ${title}`, r));
      console.log();
    }
    return 0;
  },
};
