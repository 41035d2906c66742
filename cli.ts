/**
 * The linux-loader command line.
 *
 * ```sh
 * deno run -A cli.ts inspect IMAGE [--json] [--plan]
 * deno run -A cli.ts boot [IMAGE] [--arch x86_64|aarch64|riscv64] [--cmdline S] [--initrd FILE] [--mem SIZE]
 *                         [--protocol linux|pvh] [--timeout MS] [--json]
 * deno run -A cli.ts demo
 * ```
 *
 * `inspect` tells what an image is; `boot` loads it, writes its boot parameters, runs it in the Unicorn
 * emulator and prints the serial output, the registers and the boot data the guest read (without IMAGE it
 * boots the bundled demo kernel of `--arch`); `demo` boots every demo kernel. Bad arguments and bad images
 * end with one line on stderr (control characters escaped) and exit status 2; with `--json` the error is
 * also printed on stdout as `{"error": {"name", "code", "message", "field"?, "value"?, "limit"?}}`. IMAGE and
 * `--initrd` must be regular files (a FIFO or a device such as /dev/zero is refused before it is opened).
 *
 * @module
 */

import { hex, LinuxLoaderError } from "./lib/errors.ts";
import { fromFile, type KernelSource } from "./lib/source.ts";
import { escapeImageText, inspectKernel, type KernelReport } from "./lib/inspect.ts";
import { decodeElf } from "./lib/loader/elf.ts";
import { decodeBzImageLoad } from "./lib/loader/bzimage.ts";
import { planPe } from "./lib/loader/pe.ts";
import { decodeMultibootLoad } from "./lib/loader/multiboot.ts";
import type { LoadResult } from "./lib/loader/mod.ts";
import { type DescribedPlan, planToJson } from "./lib/plan_json.ts";
import { GuestMemory } from "./lib/memory.ts";
import type { BootOptions, BootReport } from "./emu/boot.ts";

/**
 * A usage or argument error: printed as one line, exit status 2.
 *
 * @example
 * ```ts
 * import { parseSize, UsageError } from "@linux-loader/linux-loader/cli";
 * try {
 *   parseSize("lots");
 * } catch (e) {
 *   console.log(e instanceof UsageError); // true
 * }
 * ```
 */
export class UsageError extends Error {}

const USAGE = `usage:
  linux-loader inspect IMAGE [--json] [--plan]
  linux-loader boot [IMAGE] [--arch x86_64|aarch64|riscv64] [--cmdline TEXT] [--initrd FILE]
                    [--mem SIZE] [--protocol linux|pvh] [--timeout MS] [--json]
  linux-loader demo

  inspect   what IMAGE is: format, architecture, boot protocol, entry points, load ranges, header fields,
            kernel version, compression (--plan: the load plan as JSON)
  boot      load IMAGE (default: the bundled demo kernel of --arch), write its boot parameters, run it in the
            Unicorn emulator, print the serial output, the registers and the boot data the guest read
  demo      boot every bundled demo kernel (x86_64 Linux and PVH, aarch64, riscv64)`;

/** Parsed command line arguments. */
export interface Args {
  /** The command: inspect, boot or demo. */
  command: string;
  /** Arguments that are not options. */
  positional: string[];
  /** Options by name (`--json`), with their value or `true` for a switch. */
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(["--arch", "--cmdline", "--initrd", "--mem", "--protocol", "--timeout"]);
const BOOL_FLAGS = new Set(["--json", "--plan", "--help", "-h"]);

/**
 * Parses argv: a command, positional arguments and `--flag value` / `--flag=value` / `--switch`.
 *
 * @example
 * ```ts
 * import { parseArgs } from "@linux-loader/linux-loader/cli";
 * const a = parseArgs(["inspect", "vmlinuz", "--json"]);
 * console.log(a.command, a.positional, a.flags.has("--json")); // inspect [ "vmlinuz" ] true
 * ```
 */
export function parseArgs(argv: readonly string[]): Args {
  const [command = "", ...rest] = argv;
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith("-") || a === "-") {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (BOOL_FLAGS.has(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      flags.set(name, true);
    } else if (VALUE_FLAGS.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : rest[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      flags.set(name, v);
    } else {
      throw new UsageError(`unknown option ${name}`);
    }
  }
  return { command, positional, flags };
}

/**
 * Parses a size such as `64M`, `1G`, `0x4000000` or `65536`.
 *
 * @example
 * ```ts
 * import { parseSize } from "@linux-loader/linux-loader/cli";
 * console.log(parseSize("64M"), parseSize("0x100000")); // 67108864 1048576
 * ```
 */
export function parseSize(text: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([kmg])?i?b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--mem ${JSON.stringify(text)} is not a size (e.g. 64M, 1G, 0x4000000)`);
  const n = Number(m[1]) * ({ k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2]?.toLowerCase() as "k"] ?? 1);
  if (!Number.isSafeInteger(n) || n < 1 << 20 || n > 16 * 2 ** 30 || n % 4096 !== 0) {
    throw new UsageError(`--mem ${text} must be a multiple of 4 KiB between 1 MiB and 16 GiB`);
  }
  return n;
}

function flag(a: Args, name: string): string | undefined {
  const v = a.flags.get(name);
  return v === true ? undefined : v;
}

// Long work is shown on a terminal and stays quiet otherwise (pipes, CI logs).
const tty = (() => {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
})();

function status(msg: string): void {
  if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${msg}`));
}

function statusDone(): void {
  if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
}

// Refuses anything but a regular file before opening it: opening a FIFO blocks until a writer comes, and a
// device such as /dev/zero never ends.
async function checkRegular(path: string, what: string): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    throw new UsageError(`cannot open ${what} ${path}: ${(e as Error).message}`);
  }
  if (!st.isFile) {
    throw new UsageError(`${what} ${path} is not a regular file (a directory, FIFO, socket or device)`);
  }
}

async function openImage(path: string): Promise<{ source: KernelSource; close: () => void }> {
  await checkRegular(path, "IMAGE");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    throw new UsageError(`cannot open ${path}: ${(e as Error).message}`);
  }
  // Checked again on the open file: the path may have been replaced in between.
  if (!(await file.stat()).isFile) {
    file.close();
    throw new UsageError(`IMAGE ${path} is not a regular file`);
  }
  return { source: await fromFile(file), close: () => file.close() };
}

function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? hex(v) : v), 2);
}

function formatReport(path: string, r: KernelReport): string {
  const lines = [
    escapeImageText(path),
    `  format      ${r.format}${r.compression ? ` (${r.compression}-compressed)` : ""}, ${r.arch}, ${r.size} bytes`,
    `  protocol    ${r.protocol}`,
  ];
  if (r.version) lines.push(`  version     ${r.version}`);
  for (const [k, v] of Object.entries(r.entry)) lines.push(`  entry       ${k.padEnd(10)} ${hex(v)}`);
  for (const l of r.loadRanges) {
    lines.push(
      `  loads       [${hex(l.start)}, ${hex(l.end)})  ${l.label}: ${hex(l.fileSize)} bytes from file offset ${
        hex(l.fileOffset)
      }`,
    );
  }
  if (r.payload) {
    lines.push(
      `  payload     ${r.payload.compression}, ${r.payload.length} bytes at file offset ${hex(r.payload.offset)}`,
    );
  }
  for (const m of r.multiboot) lines.push(`  multiboot   version ${m.version} header at file offset ${hex(m.offset)}`);
  const fields = Object.entries(r.fields);
  if (fields.length > 0) {
    lines.push("  header");
    for (const [k, v] of fields) lines.push(`    ${k.padEnd(20)} ${String(v)}`);
  }
  return lines.join("\n");
}

// The load plan of an image at the placement inspect reports. An Image's plan is checked against a guest
// memory, so one is made over the range it can use (buffers are zero-filled lazily: nothing is touched).
async function planOf(src: KernelSource, r: KernelReport): Promise<DescribedPlan> {
  let p: LoadResult;
  switch (r.format) {
    case "elf":
      p = await decodeElf(src);
      break;
    case "bzimage":
      p = await decodeBzImageLoad(src);
      break;
    case "pe": {
      const base = r.loadRanges[0].start - (r.loadRanges[0].start % 0x20_0000);
      const end = Math.max(r.kernelEnd ?? 0, r.loadRanges[0].end);
      const mem = new GuestMemory([{ guestAddr: base, size: Math.ceil((end - base) / 0x1000) * 0x1000 }]);
      p = await planPe(mem, src);
      break;
    }
    case "multiboot":
    case "multiboot2":
      p = await decodeMultibootLoad(r.format === "multiboot" ? 1 : 2, undefined, src);
      break;
  }
  const [key, entry] = Object.entries(p.entry)[0] ?? [undefined, undefined];
  return { steps: p.plan.steps, protocol: p.format === "multiboot2" ? p.format : key, entry };
}

async function inspect(a: Args): Promise<void> {
  const path = a.positional[0];
  if (path === undefined || a.positional.length > 1) throw new UsageError("inspect takes one IMAGE");
  const { source, close } = await openImage(path);
  try {
    status(`inspecting ${path} ...`);
    const r = await inspectKernel(source);
    statusDone();
    if (a.flags.has("--plan")) {
      console.log(json(planToJson(await planOf(source, r))));
    } else {
      console.log(a.flags.has("--json") ? json(r) : formatReport(path, r));
    }
  } finally {
    close();
  }
}

function formatBoot(title: string, r: BootReport): string {
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
    lines.push(`    ${hex(g.address).padEnd(12)} ${String(g.size).padStart(3)}  ${g.what.padEnd(34)} ${g.value ?? ""}`);
  }
  if (r.reads.length > shown.length) lines.push(`    ... ${r.reads.length - shown.length} more (--json lists all)`);
  const regs = Object.entries(run.registers).map(([k, v]) => `${k}=${hex(v)}`);
  lines.push("  registers");
  for (let i = 0; i < regs.length; i += 6) lines.push(`    ${regs.slice(i, i + 6).join(" ")}`);
  return lines.join("\n");
}

async function boot(a: Args): Promise<void> {
  const { bootKernel } = await import("./emu/boot.ts");
  const { demoKernel } = await import("./emu/demo_kernels.ts");
  if (a.positional.length > 1) throw new UsageError("boot takes at most one IMAGE");
  const arch = flag(a, "--arch") ?? "x86_64";
  if (arch !== "x86_64" && arch !== "aarch64" && arch !== "riscv64") {
    throw new UsageError(`--arch ${arch}: expected x86_64, aarch64 or riscv64`);
  }
  const protocol = flag(a, "--protocol");
  if (protocol !== undefined && protocol !== "linux" && protocol !== "pvh") {
    throw new UsageError(`--protocol ${protocol}: expected linux or pvh`);
  }
  const opts: BootOptions = { protocol, cmdline: flag(a, "--cmdline") ?? "console=ttyS0" };
  const mem = flag(a, "--mem");
  if (mem !== undefined) opts.memSize = parseSize(mem);
  const timeout = flag(a, "--timeout");
  if (timeout !== undefined) {
    opts.timeoutMs = Number(timeout);
    if (!Number.isSafeInteger(opts.timeoutMs) || opts.timeoutMs <= 0) {
      throw new UsageError(`--timeout ${timeout}: expected milliseconds`);
    }
  }
  const initrd = flag(a, "--initrd");
  if (initrd !== undefined) {
    await checkRegular(initrd, "--initrd");
    try {
      opts.initrd = await Deno.readFile(initrd);
    } catch (e) {
      throw new UsageError(`cannot read --initrd ${initrd}: ${(e as Error).message}`);
    }
  }
  const path = a.positional[0];
  let report: BootReport;
  if (path === undefined) {
    status(`booting the ${arch} demo kernel ...`);
    report = await bootKernel(demoKernel(arch), opts);
  } else {
    const { source, close } = await openImage(path);
    try {
      status(`loading ${path} ...`);
      report = await bootKernel(source, opts);
    } finally {
      close();
    }
  }
  statusDone();
  console.log(a.flags.has("--json") ? json(report) : formatBoot(path ?? `demo kernel (${arch})`, report));
}

async function demo(): Promise<void> {
  const { bootKernel } = await import("./emu/boot.ts");
  const { demoKernel } = await import("./emu/demo_kernels.ts");
  const { unicornAvailable } = await import("./emu/unicorn.ts");
  const u = unicornAvailable();
  if (!u.ok) throw new UsageError(`the Unicorn emulator is not available: ${u.reason}`);
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
    const cmdline = arch === "aarch64" ? "console=ttyAMA0 demo=1" : "console=ttyS0 demo=1";
    const r = await bootKernel(demoKernel(arch), { cmdline, protocol, initrd });
    console.log(formatBoot(`== ${title}`, r));
    console.log();
  }
}

/**
 * Runs the CLI on `argv`; returns the exit status.
 *
 * @example
 * ```ts
 * import { main } from "@linux-loader/linux-loader/cli";
 * console.log(await main(["--help"])); // 0
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const a = parseArgs(argv);
    if (a.flags.has("--help") || a.flags.has("-h") || a.command === "help") {
      console.log(USAGE);
      return 0;
    }
    switch (a.command) {
      case "inspect":
        await inspect(a);
        return 0;
      case "boot":
        await boot(a);
        return 0;
      case "demo":
        await demo();
        return 0;
      case "":
        throw new UsageError("no command given (inspect, boot or demo)");
      default:
        throw new UsageError(`unknown command ${a.command} (inspect, boot or demo)`);
    }
  } catch (e) {
    statusDone();
    reportError(e, argv.includes("--json"));
    return 2;
  }
}

// One line on stderr, control characters escaped (a path or message may hold a newline or an escape
// sequence); under --json also a JSON object on stdout, so a caller parsing stdout always gets JSON.
function reportError(e: unknown, asJson: boolean): void {
  const err = e instanceof Error ? e : new Error(String(e));
  const typed = e instanceof LinuxLoaderError ? e : undefined;
  const line = e instanceof UsageError
    ? `${e.message} (see --help)`
    : typed !== undefined
    ? `${typed.name} ${typed.code}: ${typed.message}`
    : `${err.name}: ${err.message}`;
  console.error(`linux-loader: ${escapeImageText(line)}`);
  if (!asJson) return;
  const error: Record<string, unknown> = {
    name: e instanceof UsageError ? "UsageError" : err.name,
    message: err.message,
  };
  if (typed !== undefined) {
    error.code = typed.code;
    for (const k of ["field", "value", "limit"] as const) if (typed[k] !== undefined) error[k] = typed[k];
  }
  console.log(json({ error }));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
