/**
 * `boot [IMAGE]`: load an image, write its boot parameters, run it in the Unicorn emulator and print what
 * the guest read. Without IMAGE, the bundled demo kernel of `--arch`.
 *
 * @module
 */

import { hex } from "../lib/errors.ts";
import { detectKernel } from "../lib/loader/mod.ts";
import type { BootOptions, BootReport } from "../emu/boot.ts";
import {
  type Command,
  json,
  openImage,
  parseSize,
  readInput,
  status,
  statusDone,
  stringOption,
  UsageError,
} from "./common.ts";

/** The serial console each architecture's `virt` machine (and the emulator) has. */
export const DEFAULT_CONSOLE: Readonly<Record<"x86_64" | "aarch64" | "riscv64", string>> = Object.freeze({
  x86_64: "console=ttyS0",
  aarch64: "console=ttyAMA0",
  riscv64: "console=ttyS0",
});

const ARCHES = ["x86_64", "aarch64", "riscv64"] as const;
type BootArch = typeof ARCHES[number];

/** The text form of a boot report. */
export function formatBoot(title: string, r: BootReport): string {
  const run = r.run;
  const lines = [
    title,
    `  image       ${r.detected.format}, ${r.detected.arch}`,
    `  protocol    ${r.protocol}`,
    `  entry       ${hex(r.entry)}   ${Object.entries(r.bootRegisters).map(([k, v]) => `${k}=${hex(v)}`).join(" ")}`,
  ];
  for (const w of r.written) lines.push(`  wrote       [${hex(w.start)}, ${hex(w.end)})  ${w.label}`);
  lines.push(
    `  ran         ${run.instructions} instructions in ${run.elapsedMs.toFixed(1)} ms, ${run.stop} at ${
      hex(run.haltPc)
    }`,
  );
  lines.push("  serial");
  for (const l of run.serial.replace(/\n$/, "").split("\n")) lines.push(`    | ${l}`);
  lines.push(`  guest read (${r.reads.length} accesses to boot data)`);
  const shown = r.reads.slice(0, 24);
  for (const g of shown) {
    lines.push(`    ${hex(g.address).padEnd(12)} ${hex(g.size).padStart(5)}  ${g.what.padEnd(34)} ${g.value ?? ""}`);
  }
  if (r.reads.length > shown.length) lines.push(`    ... ${r.reads.length - shown.length} more (--json lists all)`);
  const regs = Object.entries(run.registers).map(([k, v]) => `${k}=${hex(v)}`);
  lines.push("  registers");
  for (let i = 0; i < regs.length; i += 6) lines.push(`    ${regs.slice(i, i + 6).join(" ")}`);
  return lines.join("\n");
}

/** The `boot` command. */
export const bootCommand: Command = {
  name: "boot",
  operands: "[IMAGE]",
  summary: "load IMAGE (default: the demo kernel of --arch), run it in Unicorn, print what the guest read",
  description: "Loads IMAGE (a file, or - for standard input; without it the bundled demo kernel of --arch) " +
    "into guest memory, writes its command line, initrd and boot parameters (zero page, hvm_start_info or " +
    "device tree), runs it in the Unicorn emulator to its halt instruction and prints the serial output, " +
    "the registers and every read of boot data the guest made. It suits kernels that end in a halt (the " +
    "demo and test kernels).",
  options: {
    arch: { type: "string", value: "ARCH", help: "x86_64 (default), aarch64 or riscv64; with IMAGE, must match it" },
    cmdline: {
      type: "string",
      value: "TEXT",
      help: "kernel command line (default: console=ttyS0, ttyAMA0 on aarch64)",
    },
    initrd: { type: "string", value: "FILE", help: "initrd to place in guest memory (- for standard input)" },
    mem: { type: "string", value: "SIZE", help: "guest RAM, e.g. 64M (the default), 1G, 0x4000000" },
    protocol: { type: "string", value: "linux|pvh", help: "x86 boot protocol: linux (default) or pvh (ELF only)" },
    timeout: { type: "string", value: "MS", help: "wall-clock limit of the run in milliseconds" },
    json: { type: "boolean", help: "the report as JSON" },
  },
  async run(args) {
    const { bootKernel } = await import("../emu/boot.ts");
    const { demoKernel } = await import("../emu/demo_kernels.ts");
    const [path, ...rest] = args.positionals;
    if (rest.length > 0) throw new UsageError("boot takes at most one IMAGE");
    const archOpt = stringOption(args, "arch");
    if (archOpt !== undefined && !(ARCHES as readonly string[]).includes(archOpt)) {
      throw new UsageError(`--arch ${archOpt}: expected x86_64, aarch64 or riscv64`);
    }
    const protocol = stringOption(args, "protocol");
    if (protocol !== undefined && protocol !== "linux" && protocol !== "pvh") {
      throw new UsageError(`--protocol ${protocol}: expected linux or pvh`);
    }
    const opts: BootOptions = { protocol };
    const mem = stringOption(args, "mem");
    if (mem !== undefined) opts.memSize = parseSize(mem);
    const timeout = stringOption(args, "timeout");
    if (timeout !== undefined) {
      opts.timeoutMs = Number(timeout);
      if (!Number.isSafeInteger(opts.timeoutMs) || opts.timeoutMs <= 0) {
        throw new UsageError(`--timeout ${timeout}: expected milliseconds`);
      }
    }
    const initrd = stringOption(args, "initrd");
    if (initrd !== undefined) opts.initrd = await readInput(initrd, "--initrd");
    if (path === "-" && initrd === "-") throw new UsageError("IMAGE and --initrd cannot both be standard input");

    let report: BootReport;
    if (path === undefined) {
      const arch: BootArch = (archOpt as BootArch | undefined) ?? "x86_64";
      opts.cmdline = stringOption(args, "cmdline") ?? DEFAULT_CONSOLE[arch];
      status(`booting the ${arch} demo kernel ...`);
      report = await bootKernel(demoKernel(arch), opts);
    } else {
      const { source, close } = await openImage(path);
      try {
        const found = (await detectKernel(source)).arch;
        if (archOpt !== undefined && archOpt !== found) {
          throw new UsageError(`--arch ${archOpt}, but ${path} is an image for ${found}`);
        }
        opts.cmdline = stringOption(args, "cmdline") ?? DEFAULT_CONSOLE[found as BootArch] ?? "console=ttyS0";
        status(`loading ${path} ...`);
        report = await bootKernel(source, opts);
      } finally {
        close();
      }
    }
    statusDone();
    const title = path ?? `demo kernel (${archOpt ?? "x86_64"})`;
    console.log(args.values.json === true ? json(report) : formatBoot(title, report));
    return 0;
  },
};
