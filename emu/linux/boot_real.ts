/**
 * Boots Debian's cloud kernels (fetched into fixtures/real/cache by fixtures/real/fetch.ts) in Unicorn
 * with our initramfs, streaming the serial console live, then prints a summary: instructions executed,
 * wall time, where it stopped and why.
 *
 * Usage: deno run -A emu/linux/boot_real.ts [amd64|pvh|arm64] [--timeout SECONDS] [--no-initrd]
 *        [--cmdline "..."] [--count] [--no-user] [--qemu]
 *   --count  count instructions (Unicorn's per-instruction counter: about 9x slower on x86)
 *   --no-user  arm64: do not deliver EL0 exceptions (the run stops at /init's first instruction)
 *   --qemu   also boot QEMU with the same inputs and compare the first lines
 *
 * @module
 */

import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { initramfs } from "../../fixtures/build/init.ts";
import { qemuAvailable, qemuBoot } from "../../fixtures/real/qemu.ts";
import { hx, MILESTONES, type RealBootOptions, type RealBootResult } from "./common.ts";
import { bootX86BzImage, bootX86Pvh, X86_DEFAULT_CMDLINE } from "./x86_64.ts";
import { AARCH64_DEFAULT_CMDLINE, bootArm64Image } from "./aarch64.ts";

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
export function report(kind: RealBootKind, r: RealBootResult): string {
  const has = (s: string) => r.serial.includes(s) ? "yes" : "no";
  return [
    `== ${kind}: ${r.stop}`,
    `   why:          ${r.detail}`,
    `   instructions: ${
      r.instructions < 0 ? "not counted (--count)" : `${r.instructions.toLocaleString("en")} (to within one slice)`
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

if (import.meta.main) {
  const args = [...Deno.args];
  const kind = (args.find((a) =>
    !a.startsWith("--") && ["amd64", "pvh", "arm64"].includes(a)
  ) ?? "amd64") as RealBootKind;
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const timeoutMs = Number(opt("--timeout") ?? 300) * 1000;
  const cmdline = opt("--cmdline") ?? (kind === "arm64" ? AARCH64_DEFAULT_CMDLINE : X86_DEFAULT_CMDLINE);
  const enc = new TextEncoder();
  const r = await bootReal(kind, {
    timeoutMs,
    cmdline,
    withInitrd: !args.includes("--no-initrd"),
    arm64UserSpace: !args.includes("--no-user"),
    countInstructions: args.includes("--count"),
    onLine: (l) => Deno.stdout.writeSync(enc.encode(l + "\n")),
  });
  console.log(report(kind, r));
  if (args.includes("--qemu")) {
    const arch = kind === "arm64" ? "aarch64" : "x86_64";
    if (!qemuAvailable(arch)) {
      console.log("QEMU is not installed; no comparison");
    } else {
      const rec = await ensureRealKernel(kind === "arm64" ? "arm64" : "amd64");
      let kernel = rec!.kernel;
      if (kind === "pvh") {
        const { extractVmlinux } = await import("../../lib/loader/extract.ts");
        kernel = await Deno.makeTempFile({ prefix: "vmlinux-" });
        await Deno.writeFile(kernel, await extractVmlinux(await Deno.readFile(rec!.kernel)));
      }
      const q = await qemuBoot({ arch, kernel, cmdline, initrd: await initramfs(arch), timeoutMs: 60_000 });
      if (kind === "pvh") await Deno.remove(kernel);
      console.log(`== QEMU: ${q.lines.length} lines in ${(q.wallMs / 1000).toFixed(1)} s`);
      console.log(compareLines(r.lines, q.lines, 25));
    }
  }
}
