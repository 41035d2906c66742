/**
 * `boot [IMAGE]`: load an image, write its boot parameters, run it in the Unicorn emulator and print what
 * the guest read. Without IMAGE, the bundled demo kernel of `--arch`.
 *
 * @module
 */

import { hex } from "../lib/errors.ts";
import { detectKernel } from "../lib/loader/mod.ts";
import { readBytes } from "../lib/source.ts";
import type { BootOptions, BootReport } from "../emu/boot.ts";
import {
  type Command,
  EXIT,
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
const PROTOCOLS: readonly string[] = ["linux", "pvh", "multiboot1", "multiboot2"];
type BootArch = typeof ARCHES[number];

/** The text form of a boot report. */
export function formatBoot(title: string, r: BootReport): string {
  const run = r.run;
  const lines = [
    title,
    `  image       ${r.detected.format}, ${r.detected.arch}`,
    `  protocol    ${r.protocol}`,
    `  memory      ${r.memSize / (1 << 20)} MiB`,
    `  entry       ${hex(r.entry)}   ${Object.entries(r.bootRegisters).map(([k, v]) => `${k}=${hex(v)}`).join(" ")}`,
  ];
  for (const w of r.written) lines.push(`  wrote       [${hex(w.start)}, ${hex(w.end)})  ${w.label}`);
  lines.push(
    `  ran         ${run.instructions} instructions in ${run.elapsedMs.toFixed(1)} ms, ${run.stop} at ${
      hex(run.haltPc)
    }`,
  );
  lines.push(`  ended       ${r.ended}`);
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

/** The protocol the real machine takes from `--protocol` (`linux` is its default for a bzImage). */
function realProtocol(p: BootOptions["protocol"]): "pvh" | "multiboot1" | "multiboot2" | undefined {
  return p === "linux" ? undefined : p;
}

/** What a real-kernel run on Unicorn 2.0 tells the user about the engine the project chose. */
const UNICORN_20_NOTE = "Unicorn 2.1 boots real kernels about 5x faster (and 32-bit ones at all): set UNICORN_LIB " +
  "to a 2.1 libunicorn.so.2 (Debian trixie's libunicorn2t64); in a checkout, `deno task boot-real` fetches and uses it";

/** Runs a real Linux kernel on the real-kernel machine, its console live on stdout; 0 when it ended cleanly. */
async function runReal(
  path: string,
  image: Uint8Array,
  why: string,
  opts: BootOptions,
  asJson: boolean,
): Promise<number> {
  const { bootAny } = await import("../emu/linux/boot_any.ts");
  status(`booting ${path} on the real-kernel machine (${why}) ...`);
  statusDone();
  const out = new TextEncoder();
  const r = await bootAny(image, {
    machine: "real",
    cmdline: opts.cmdline,
    initrd: opts.initrd,
    memoryMiB: opts.memSize === undefined ? undefined : Math.floor(opts.memSize / (1 << 20)),
    protocol: realProtocol(opts.protocol),
    imageName: path.split("/").pop(),
    timeoutMs: opts.timeoutMs,
    maxInstructions: opts.maxInstructions,
    onLine: asJson ? undefined : (line) => Deno.stdout.writeSync(out.encode(line + "\n")),
  });
  const clean = r.ending === "halt" || r.ending === "poweroff";
  const engine = (await import("../emu/unicorn.ts")).unicornAvailable();
  const engineVersion = engine.ok ? engine.version : undefined;
  if (asJson) {
    const real = r.real;
    console.log(json({
      machine: r.machine,
      why,
      protocol: real?.protocol,
      ending: r.ending,
      detail: r.detail,
      elapsedMs: r.elapsedMs,
      lastLine: real?.lastLine,
      memoryMiB: real?.ram === undefined ? undefined : real.ram / (1 << 20),
      instructions: real === undefined || real.instructions < 0 ? undefined : real.instructions,
      stats: real?.stats,
      engine: engine.ok ? { version: engine.version, path: engine.path } : undefined,
      console: r.console,
    }));
  } else {
    console.log(
      [
        `${path}: ${r.ending} after ${(r.elapsedMs / 1000).toFixed(1)} s`,
        `  machine     real, ${r.real?.protocol} (${why})${
          r.real?.ram === undefined
            ? ""
            : `, ${r.real.ram / (1 << 20)} MiB RAM${opts.memSize === undefined ? " (sized from the image)" : ""}`
        }`,
        `  ended       ${r.detail}`,
        ...(engine.ok ? [`  engine      Unicorn ${engine.version} (${engine.path})`] : []),
        ...(engineVersion === "2.0" ? [`  note        ${UNICORN_20_NOTE}`] : []),
      ].join("\n"),
    );
  }
  return clean ? EXIT.ok : EXIT.failed;
}

/** The `boot` command. */
export const bootCommand: Command = {
  name: "boot",
  operands: "[IMAGE]",
  summary: "load IMAGE (default: the demo kernel of --arch), run it in Unicorn, print what the guest read",
  description: "Loads IMAGE (a file, or - for standard input; without it the bundled demo kernel of --arch) " +
    "into guest memory, writes its command line, initrd and boot parameters (zero page, hvm_start_info, " +
    "Multiboot information with the initrd as module 0, or device tree), runs it in the Unicorn emulator to its halt instruction and prints the serial output, " +
    "the registers and every read of boot data the guest made. A run that times out, uses its instruction " +
    "budget or faults is reported the same way, with how it ended (the fault's pc and address), and exits 1. It suits kernels that end in a halt (the " +
    "demo and test kernels). A real Linux kernel (an image carrying its Linux version string: x86_64 bzImage " +
    "or PVH vmlinux, arm64 Image) and the Xen hypervisor (xen-4.17-amd64 or its .gz, through Multiboot2 or " +
    '--protocol multiboot1; without a dom0 module it stops at its own "dom0 kernel not specified" panic) ' +
    "run on the real-kernel machine instead: its console streams live and the " +
    "run ends in a power-off, halt, panic, fault, console stall, the time limit or the instruction budget " +
    "(--max-instructions), which is printed.",
  options: {
    arch: { type: "string", value: "ARCH", help: "x86_64 (default), aarch64 or riscv64; with IMAGE, must match it" },
    cmdline: {
      type: "string",
      value: "TEXT",
      help: "kernel command line (default: console=ttyS0, ttyAMA0 on aarch64)",
    },
    initrd: { type: "string", value: "FILE", help: "initrd to place in guest memory (- for standard input)" },
    mem: {
      type: "string",
      value: "SIZE",
      help: "guest RAM, e.g. 64M, 1G, 0x4000000 (default: 64M, or what a bzImage's header asks for; a real " +
        "Linux kernel: sized from the image and initrd, and too little is an error before running)",
    },
    protocol: {
      type: "string",
      value: "PROTO",
      help: "x86 boot protocol: linux (default) or pvh (ELF only); for a Multiboot kernel such as Xen, " +
        "multiboot2 (the default when it has both headers, as GRUB's multiboot2) or multiboot1",
    },
    timeout: { type: "string", value: "MS", help: "wall-clock limit of the run in milliseconds" },
    "max-instructions": {
      type: "string",
      value: "N",
      help: "instruction budget: a stub run's (default 10000000); a real-kernel run has none by default, and " +
        "with one the engine counts instructions (slower) and the run ends 'limit' once they are used",
    },
    machine: {
      type: "string",
      value: "auto|real|stub",
      help: "real: the real-kernel machine (a Linux kernel to its /init); stub: run to a halt instruction; " +
        "auto (default): real for an image that names itself Linux or Xen",
    },
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
    if (protocol !== undefined && !PROTOCOLS.includes(protocol)) {
      throw new UsageError(`--protocol ${protocol}: expected ${PROTOCOLS.join(", ")}`);
    }
    const opts: BootOptions = { protocol: protocol as BootOptions["protocol"] };
    const mem = stringOption(args, "mem");
    if (mem !== undefined) opts.memSize = parseSize(mem);
    const timeout = stringOption(args, "timeout");
    if (timeout !== undefined) {
      opts.timeoutMs = Number(timeout);
      if (!Number.isSafeInteger(opts.timeoutMs) || opts.timeoutMs <= 0) {
        throw new UsageError(`--timeout ${timeout}: expected milliseconds`);
      }
    }
    const budget = stringOption(args, "max-instructions");
    if (budget !== undefined) {
      opts.maxInstructions = Number(budget);
      if (!Number.isSafeInteger(opts.maxInstructions) || opts.maxInstructions <= 0) {
        throw new UsageError(`--max-instructions ${budget}: expected a positive count`);
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
        const given = stringOption(args, "cmdline");
        opts.cmdline = given ?? DEFAULT_CONSOLE[found as BootArch] ?? "console=ttyS0";
        const machine = stringOption(args, "machine") ?? "auto";
        if (!["auto", "real", "stub"].includes(machine)) {
          throw new UsageError(`--machine ${machine}: expected auto, real or stub`);
        }
        if (machine !== "stub") {
          const bytes = await readBytes(source, 0, source.size);
          const { chooseMachine } = await import("../emu/linux/boot_any.ts");
          const pick = machine === "real"
            ? { machine: "real" as const, why: "--machine real" }
            : await chooseMachine(bytes, realProtocol(opts.protocol));
          // A Multiboot kernel (i386 entry) gets its own machine's default command line (Xen: its console).
          const realOpts = given === undefined && found === "i386" ? { ...opts, cmdline: undefined } : opts;
          if (pick.machine === "real") {
            return await runReal(path, bytes, pick.why, realOpts, args.values.json === true);
          }
        }
        status(`loading ${path} ...`);
        report = await bootKernel(source, opts);
      } finally {
        close();
      }
    }
    statusDone();
    const title = path ?? `demo kernel (${archOpt ?? "x86_64"})`;
    console.log(args.values.json === true ? json(report) : formatBoot(title, report));
    return report.run.stop === "halt" ? EXIT.ok : EXIT.failed;
  },
};
