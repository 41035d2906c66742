/**
 * Boots a real kernel in Unicorn — any image the machines take (x86_64 bzImage or PVH vmlinux, arm64
 * Image, the Xen hypervisor through Multiboot2 or 1), or Debian's cloud kernels fetched into fixtures/real/cache by fixtures/real/fetch.ts — with an
 * initramfs (ours by default), streaming the serial console live, then prints a summary: instructions
 * executed, wall time, where it stopped and why.
 *
 * Usage: deno run -A emu/linux/boot_real.ts [--kernel] FILE [--initrd FILE | --no-initrd]
 *        [--protocol pvh|multiboot1|multiboot2]
 *        [--cmdline "..."] [--mem MIB] [--timeout SECONDS] [--max-instructions N] [--count] [--no-user]
 *        [--qemu] [--json]
 *        [--unicorn 2.1|system]
 *        deno run -A emu/linux/boot_real.ts [amd64|pvh|arm64] ...   (the fetched cloud kernels)
 *   --cmdline  the machine adds what it needs when missing (x86: lpj, tsc_early_khz, no_timer_check, nokaslr)
 *   --unicorn  2.1 (the default unless UNICORN_LIB is set): Unicorn 2.1.1, fetched into the cache by
 *              fixtures/real/unicorn.ts, about 5x faster than 2.0.1; system: the system's library (2.0.1)
 *   --mem  guest RAM in MiB (default: sized from the image and initrd)
 *   --max-instructions  end the run ("instructions") once the engine has counted N
 *   --count  count instructions (Unicorn's per-instruction counter: about 3x slower on 2.1, 9x on 2.0 x86)
 *   --no-user  arm64: do not deliver EL0 exceptions (the run stops at /init's first instruction)
 *   --qemu   also boot QEMU with the same inputs and compare the first lines
 *
 * @module
 */

import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { initramfs } from "../../fixtures/build/init.ts";
import { qemuAvailable, qemuBoot } from "../../fixtures/real/qemu.ts";
import { hx, MILESTONES, type RealBootOptions, type RealBootResult } from "./common.ts";
import { bootX86BzImage, bootX86Pvh } from "./x86_64.ts";
import { bootArm64Image } from "./aarch64.ts";
import { bootRealKernel, chooseRealMachine, defaultCmdline, type RealProtocol } from "./machine.ts";
import { isElf } from "../../lib/loader/elf.ts";

/** The three boots. */
export type RealBootKind = "amd64" | "pvh" | "arm64";

/** Boots one kind with our initramfs (unless `initrd: false`). */
export async function bootReal(
  kind: RealBootKind,
  opts: RealBootOptions & { withInitrd?: boolean } = {},
): Promise<RealBootResult> {
  const arch = kind === "arm64" ? "aarch64" : "x86_64";
  const rec = await ensureRealKernel(kind === "arm64" ? "arm64" : "amd64");
  if (rec === undefined) throw new Error(`the ${kind} kernel could not be fetched`);
  const kernel = await Deno.readFile(rec.kernel);
  const initrd = opts.withInitrd === false ? undefined : await initramfs(arch);
  const o = { ...opts, initrd };
  if (kind === "amd64") return await bootX86BzImage(kernel, o);
  if (kind === "pvh") return await bootX86Pvh(kernel, o);
  return await bootArm64Image(kernel, o);
}

/** The report block printed at the end. */
export function report(kind: RealBootKind | RealProtocol, r: RealBootResult): string {
  const has = (s: string) => r.serial.includes(s) ? "yes" : "no";
  return [
    `== ${kind}: ${r.stop}`,
    `   why:          ${r.detail}`,
    `   instructions: ${
      r.instructions < 0
        ? "not counted (--count)"
        : `${r.instructions.toLocaleString("en")} (counted slices: an upper bound)`
    }`,
    `   wall time:    ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `   pc:           ${hx(r.pc)}`,
    `   last line:    ${r.lastLine}`,
    `   milestones:   version ${has(MILESTONES.version)}, unpack ${has(MILESTONES.unpack)}, freed ${
      has(MILESTONES.freed)
    }, run-init ${has(MILESTONES.runInit)}, init-line ${has("INIT OK")}`,
    `   harness:      ${Object.entries(r.stats).map(([k, v]) => `${k}=${v}`).join(" ")}`,
  ].join("\n");
}

/** Removes what precedes the kernel's text on a line: firmware noise, escape codes, the timestamp. */
function kernelText(line: string): string {
  return line.replace(/^.*?\[\s*[\d.]+\]\s*/, "");
}

/**
 * Compares the first `n` kernel lines from "Linux version" on (timestamps removed): how many are the
 * same, and each one that differs.
 */
export function compareLines(ours: readonly string[], qemu: readonly string[], n: number): string {
  const from = (lines: readonly string[]) => {
    const t = lines.map(kernelText);
    const i = t.findIndex((l) => l.startsWith("Linux version"));
    return i < 0 ? [] : t.slice(i, i + n);
  };
  const a = from(ours), b = from(qemu);
  const out: string[] = [];
  let same = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) same++;
    else out.push(`   line ${i + 1}:\n     unicorn: ${a[i] ?? "(none)"}\n     qemu:    ${b[i] ?? "(none)"}`);
  }
  const mine = new Set(ours.map(kernelText));
  const shared = b.filter((l) => mine.has(l)).length;
  return [
    `   ${same} of the first ${Math.max(a.length, b.length)} kernel lines are the same line for line; ${shared} of ` +
    `QEMU's first ${b.length} appear in ours`,
    ...out.slice(0, 8),
    out.length > 8 ? `   (${out.length - 8} more differences)` : "",
  ].join("\n");
}

/** What the command line asked for. */
interface Args {
  kernel?: string;
  kind?: RealBootKind;
  initrd?: string | false;
  protocol?: RealProtocol;
  cmdline?: string;
  timeoutMs: number;
  memoryMiB?: number;
  maxInstructions?: number;
  count: boolean;
  user: boolean;
  qemu: boolean;
  json: boolean;
  unicorn?: string;
}

function parse(argv: readonly string[]): Args {
  const a: Args = { timeoutMs: 600_000, count: false, user: true, qemu: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${w} needs a value`);
      return v;
    };
    if (w === "--kernel") a.kernel = value();
    else if (w === "--initrd") a.initrd = value();
    else if (w === "--no-initrd") a.initrd = false;
    else if (w === "--protocol") a.protocol = value() as RealProtocol;
    else if (w === "--cmdline") a.cmdline = value();
    else if (w === "--timeout") a.timeoutMs = Number(value()) * 1000;
    else if (w === "--mem") a.memoryMiB = Number(value());
    else if (w === "--max-instructions") a.maxInstructions = Number(value());
    else if (w === "--count") a.count = true;
    else if (w === "--no-user") a.user = false;
    else if (w === "--qemu") a.qemu = true;
    else if (w === "--json") a.json = true;
    else if (w === "--unicorn") a.unicorn = value();
    else if (["amd64", "pvh", "arm64"].includes(w)) a.kind = w as RealBootKind;
    else if (!w.startsWith("--") && a.kernel === undefined) a.kernel = w;
    else throw new Error(`unknown argument ${w}`);
  }
  return a;
}

async function main(argv: readonly string[]): Promise<void> {
  const args = parse(argv);
  // The engine, before the first one opens (the library is loaded once): Unicorn 2.1.1, the one the project
  // chose by the numbers (NOTES.md), fetched into the cache unless UNICORN_LIB names a library already or
  // `--unicorn system` asks for the system's 2.0.
  if (args.unicorn !== undefined && args.unicorn !== "2.1" && args.unicorn !== "system") {
    throw new Error(`--unicorn ${args.unicorn}: 2.1 (fetched, the default) or system (the system's library)`);
  }
  const wanted = args.unicorn ?? (Deno.env.get("UNICORN_LIB") ? "env" : "2.1");
  if (wanted === "2.1") {
    const { ensureUnicorn21 } = await import("../../fixtures/real/unicorn.ts");
    Deno.env.set("UNICORN_LIB", await ensureUnicorn21());
  } else if (wanted === "system") Deno.env.delete("UNICORN_LIB");
  const enc = new TextEncoder();
  // A kernel path boots whatever it is; a kind (or nothing) boots the fetched cloud kernel.
  let kernelPath = args.kernel;
  let protocol = args.protocol;
  if (kernelPath === undefined) {
    const kind = args.kind ?? "amd64";
    const rec = await ensureRealKernel(kind === "arm64" ? "arm64" : "amd64");
    if (rec === undefined) throw new Error(`the ${kind} kernel could not be fetched`);
    kernelPath = rec.kernel;
    protocol ??= kind === "pvh" ? "pvh" : undefined;
  } else if (args.kind === "pvh") protocol ??= "pvh";
  const image = await Deno.readFile(kernelPath);
  const choice = await chooseRealMachine(image, protocol);
  const initrd = args.initrd === false
    ? undefined
    : args.initrd !== undefined
    ? await Deno.readFile(args.initrd)
    : await initramfs(choice.detected.arch === "i386" ? "i386" : choice.arch); // a 32-bit kernel runs the i386 /init
  const cmdline = args.cmdline ?? defaultCmdline(choice.protocol);
  const r = await bootRealKernel(image, {
    protocol: choice.protocol,
    timeoutMs: args.timeoutMs,
    cmdline,
    initrd,
    memoryMiB: args.memoryMiB,
    maxInstructions: args.maxInstructions,
    arm64UserSpace: args.user,
    countInstructions: args.count,
    onLine: args.json ? undefined : (l) => Deno.stdout.writeSync(enc.encode(l + "\n")),
  });
  if (args.json) {
    console.log(JSON.stringify({ ...r, pc: hx(r.pc), kernel: kernelPath }, null, 2));
  } else {
    console.log(report(choice.protocol === "bzimage" ? "amd64" : choice.protocol, r));
  }
  if (args.qemu) {
    if (!qemuAvailable(choice.arch)) {
      console.log("QEMU is not installed; no comparison");
    } else {
      let kernel = kernelPath;
      let temp: string | undefined;
      if (choice.protocol === "pvh" && !isElf(image)) {
        const { extractVmlinux } = await import("../../lib/loader/extract.ts");
        temp = kernel = await Deno.makeTempFile({ prefix: "vmlinux-" });
        await Deno.writeFile(kernel, await extractVmlinux(image));
      }
      const q = await qemuBoot({ arch: choice.arch, kernel, cmdline, initrd, timeoutMs: 120_000 });
      if (temp !== undefined) await Deno.remove(temp);
      console.log(`== QEMU: ${q.lines.length} lines in ${(q.wallMs / 1000).toFixed(1)} s`);
      console.log(compareLines(r.lines, q.lines, 25));
    }
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`boot_real: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
