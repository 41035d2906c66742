/**
 * The real-kernel matrix beyond the two cloud kernels (fixtures/real/matrix.ts): Debian 6.1 standard
 * amd64 (XZ bzImage) and arm64, Debian 6.12 amd64 (ZSTD bzImage) and arm64, and Xen 4.17 (Multiboot2 and
 * Multiboot 1, to its own dom0 panic, compared with QEMU TCG line for line), each booted by
 * `bootRealKernel` — the machine chosen by what the image is, the command line the user would type plus
 * what the machine needs — with our initramfs, to our /init's line and the end /init asks for (arm64: PSCI
 * SYSTEM_OFF; x86: the ACPI S5 write to the machine's PM1a_CNT), after "reboot: Power down". A bzImage also boots through PVH
 * when this build decodes its payload (its vmlinux is then extracted); otherwise that test is ignored and
 * says why.
 *
 * Every entry of KERNEL_MATRIX (and Xen) is booted by `deno task test`, and so by CI: on Unicorn 2.1.1 the
 * boots here take seconds to tens of seconds each (emu/linux/NOTES.md, "Test costs"), so an entry added to
 * the matrix joins the suite by itself. An entry whose boot is too slow for the suite's 10-minute budget
 * says so in its `slow` field and runs only in `deno task test:real` (REAL_MATRIX=1), which also runs the
 * 6.12 amd64 boot with its flush sites from a RAM scan (on Unicorn 2.1 the kernel never asks for them, so in
 * the suite it would only repeat the bzImage boot). Bounded by the console watchdog (guest events without a
 * line), with a generous wall-clock hang guard. `deno task test:real` also boots each Linux entry in QEMU TCG with
 * the same kernel, initramfs, command line and RAM (`compareWithQemu`): QEMU must reach the same milestones and
 * print the same banner and command line; how many of QEMU's first 25 kernel lines appear in ours is printed.
 */
import assert from "node:assert/strict";
import { ensureMatrixKernel, KERNEL_MATRIX } from "../../fixtures/real/matrix.ts";
import { INIT_MESSAGE, initramfs } from "../../fixtures/build/init.ts";
import { MILESTONES } from "../../emu/linux/common.ts";
import { bootRealKernel, type RealProtocol } from "../../emu/linux/machine.ts";
import type { RealBootResult } from "../../emu/linux/common.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";
import { BzImageError, type EmulatorError } from "../../lib/errors.ts";
import { unicornAvailable } from "../../emu/unicorn.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { assertInOrder, verboseLine } from "./_boot.ts";
import { ensureXen } from "../../fixtures/real/xen.ts";
import { qemuAvailable, qemuBoot } from "../../fixtures/real/qemu.ts";
import { gunzip } from "../../lib/compress/gzip.ts";

const HANG_GUARD_MS = 900_000;
const engine = unicornAvailable();
/** Whether the tests run on Unicorn 2.0 (which boots no 32-bit kernel). */
const ENGINE_20 = engine.ok && engine.version === "2.0";

function wanted(): boolean {
  try {
    return Deno.env.get("REAL_MATRIX") === "1";
  } catch {
    return false;
  }
}

/** `deno task test:real`: the slow entries and the RAM-scan boot too. */
const full = wanted();

/** Whether this build decodes the bzImage's payload (then its vmlinux can boot through PVH). */
async function decodes(path: string): Promise<string | undefined> {
  try {
    await extractVmlinux(await Deno.readFile(path));
    return undefined;
  } catch (e) {
    if (e instanceof BzImageError && e.code === "UnsupportedCompression") return e.message;
    throw e;
  }
}

const ramScanName =
  "Debian 6.12 amd64 boots with its TLB-flush sites found in guest RAM instead of its vmlinux and runs our /init";
if (!full) console.error(`${ramScanName}: ignored, it runs in \`deno task test:real\` (REAL_MATRIX=1)`);
const ramScan = full ? await ensureMatrixKernel("6.12-amd64") : undefined;
Deno.test({
  name: ramScanName,
  ignore: ramScan === undefined,
  async fn() {
    const r = await bootRealKernel(await Deno.readFile(ramScan!.kernel), {
      cmdline: "console=ttyS0",
      initrd: await initramfs("x86_64"),
      timeoutMs: HANG_GUARD_MS,
      x86FlushSites: "ram",
      onLine: verboseLine(),
    });
    assertInOrder(r, [MILESTONES.version, MILESTONES.unpack, MILESTONES.runInit, INIT_MESSAGE]);
    assertInOrder(r, [INIT_MESSAGE, "reboot: Power down"]);
    assert.equal(r.stop, "poweroff", r.detail);
    assert.match(r.detail, /^ACPI S5/);
    // On an engine that needs aliases (2.0.1): scanned twice, at the kernel's first touch of its text
    // mapping and after alternatives. Unicorn 2.1 translates by itself and never asks.
    if (r.stats.aliases > 0) {
      assert.equal(r.stats.ramScans, 2);
      assert.ok(r.stats.flushHooks > 50, `${r.stats.flushHooks} flush hooks`);
    }
  },
});

for (const entry of KERNEL_MATRIX.filter((e) => e.pattern !== undefined)) {
  if (entry.slow !== undefined && !full) {
    console.error(`${entry.description}: ignored, it runs in \`deno task test:real\` (${entry.slow})`);
    Deno.test({ name: `${entry.description} boots and runs our /init`, ignore: true, fn() {} });
    continue;
  }
  const rec = await ensureMatrixKernel(entry.id);
  // A 32-bit kernel boots through the 32-bit protocol (the bzImage protocol picks it for an image without
  // XLF_KERNEL_64); 686's has no PVH entry and the machine's PVH path takes only an x86_64 vmlinux.
  const i386 = entry.arch === "i386";
  const protocols: RealProtocol[] = entry.arch === "arm64" ? ["arm64"] : i386 ? ["bzimage"] : ["bzimage", "pvh"];
  for (const protocol of protocols) {
    const name = `${entry.description} boots ${
      protocol === "arm64"
        ? "on the arm64 machine"
        : protocol === "pvh"
        ? "through PVH"
        : i386
        ? "through the 32-bit protocol"
        : "through the 64-bit protocol"
    } and runs our /init${i386 && ENGINE_20 ? " (on Unicorn 2.0: stops with one line naming the engine)" : ""}`;
    const why = rec === undefined ? undefined : protocol === "pvh" ? await decodes(rec.kernel) : undefined;
    const engineWhy = ENGINE_20 ? entry.unicorn21 : undefined;
    if (rec === undefined || why !== undefined || engineWhy !== undefined) {
      if (why !== undefined) console.error(`${name}: ignored until the payload is decoded (${why})`);
      else if (engineWhy !== undefined) console.error(`${name}: ignored on Unicorn 2.0 (${engineWhy})`);
      Deno.test({ name, ignore: true, fn() {} });
      continue;
    }
    emuTest(name, async () => {
      const image = await Deno.readFile(rec.kernel);
      const arch = entry.arch === "arm64" ? "aarch64" : "x86_64";
      if (i386 && ENGINE_20) {
        // Unicorn 2.0's x86 engine accesses memory at the virtual address: one line says so, nothing runs.
        await assert.rejects(
          bootRealKernel(image, { protocol, initrd: await initramfs("i386") }),
          (e: EmulatorError) =>
            e.code === "UnsupportedMachine" && /^a 32-bit kernel needs Unicorn 2\.1/.test(e.message),
        );
        return;
      }
      const r = await bootRealKernel(image, {
        protocol,
        cmdline: arch === "aarch64" ? "console=ttyAMA0" : "console=ttyS0",
        initrd: await initramfs(i386 ? "i386" : arch),
        timeoutMs: HANG_GUARD_MS,
        onLine: verboseLine(),
      });
      assertInOrder(r, [MILESTONES.version, MILESTONES.unpack, MILESTONES.runInit, INIT_MESSAGE]);
      assert.ok(!r.serial.includes("Kernel panic"), r.serial.slice(-1500));
      assert.equal(r.stop, "poweroff", r.detail);
      assertInOrder(r, [INIT_MESSAGE, "reboot: Power down"]);
      if (arch === "x86_64") assert.match(r.detail, /^ACPI S5/);
      if (full) await compareWithQemu(r, rec.kernel, protocol, i386 ? "i386" : arch);
    });
  }
}

/** A kernel line without what precedes its text (firmware noise, escape codes, the printk timestamp). */
function kernelText(line: string): string {
  return line.replace(/^.*?\[\s*[\d.]+\]\s*/, "");
}

/** The first line of `lines` whose kernel text starts with `prefix`, as kernel text. */
function firstWith(lines: readonly string[], prefix: string): string | undefined {
  return lines.map(kernelText).find((l) => l.startsWith(prefix));
}

/**
 * `deno task test:real` boots the same kernel with the same initramfs, the same command line (the one our
 * boot printed, with what the machine appended) and the same RAM in QEMU TCG: QEMU must reach the same
 * milestones, and the kernel's first lines (its banner and its command line) must be the same in both. How
 * many of QEMU's first 25 kernel lines appear in ours is printed (the machines differ: firmware, memory map,
 * NX, DMI, devices).
 */
async function compareWithQemu(
  ours: RealBootResult,
  kernel: string,
  protocol: RealProtocol,
  arch: "x86_64" | "aarch64" | "i386",
): Promise<void> {
  const qarch = arch === "aarch64" ? "aarch64" : "x86_64";
  if (!qemuAvailable(qarch)) {
    if (ci()) throw new Error(`qemu-system-${qarch} is missing: the matrix compares every boot with QEMU TCG`);
    console.error(`no QEMU comparison: qemu-system-${qarch} is not installed`);
    return;
  }
  const cmdlinePrefix = "Kernel command line: "; // start_kernel prints it on every architecture
  const cmdline = firstWith(ours.lines, cmdlinePrefix)?.slice(cmdlinePrefix.length);
  assert.ok(cmdline !== undefined, `our boot printed no "${cmdlinePrefix}" line`);
  const dir = await Deno.makeTempDir({ prefix: "matrix-qemu-" });
  try {
    let path = kernel;
    if (protocol === "pvh") {
      path = `${dir}/vmlinux`;
      await Deno.writeFile(path, await extractVmlinux(await Deno.readFile(kernel)));
    }
    const q = await qemuBoot({
      arch: qarch,
      kernel: path,
      initrd: await initramfs(arch),
      cmdline,
      memoryMiB: ours.ram === undefined ? undefined : ours.ram / (1 << 20),
      timeoutMs: 300_000,
      stopAt: "reboot: Power down",
    });
    const qemu: RealBootResult = { ...ours, serial: q.log, lines: q.lines };
    assertInOrder(qemu, [
      MILESTONES.version,
      MILESTONES.unpack,
      MILESTONES.runInit,
      INIT_MESSAGE,
      "reboot: Power down",
    ]);
    for (const prefix of [MILESTONES.version, cmdlinePrefix]) {
      assert.equal(firstWith(ours.lines, prefix), firstWith(q.lines, prefix), `the "${prefix}" line differs`);
    }
    const mine = new Set(ours.lines.map(kernelText));
    const qemuLines = q.lines.map(kernelText);
    const first = qemuLines.slice(qemuLines.findIndex((l) => l.startsWith(MILESTONES.version))).slice(0, 25);
    console.error(
      `${kernel.split("/").pop()} (${protocol}): ${first.filter((l) => mine.has(l)).length} of QEMU TCG's first ` +
        `${first.length} kernel lines appear in ours; QEMU reached "reboot: Power down" in ${
          ((q.stopMs ?? q.wallMs) / 1000).toFixed(1)
        } s`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ci(): boolean {
  try {
    return (Deno.env.get("CI") ?? "").toLowerCase() === "true";
  } catch {
    return false;
  }
}

/** The version of the system's Unicorn (what the CLI opens with UNICORN_LIB empty), or "none". */
async function systemUnicornVersion(): Promise<string> {
  const system = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      'import { unicornAvailable } from "./emu/unicorn.ts"; const a = unicornAvailable(); console.log(a.ok ? a.version : "none")',
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    env: { UNICORN_LIB: "" },
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(system.stdout).trim();
}
const SYSTEM_UNICORN = await systemUnicornVersion();
if (SYSTEM_UNICORN !== "2.0") console.error(`the system's Unicorn is ${SYSTEM_UNICORN}: the 2.0 CLI tests are ignored`);

// The system's Unicorn 2.0.1 (UNICORN_LIB empty) boots no 32-bit kernel: the CLI says so in one line and
// exits 1 before running anything.
const i386Kernel = await ensureMatrixKernel("686");
Deno.test({
  name: "the CLI's boot command stops a 32-bit kernel on Unicorn 2.0.1 with one line naming the engine",
  ignore: i386Kernel === undefined || SYSTEM_UNICORN !== "2.0",
  async fn() {
    const cli = new URL("../../cli.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "boot", i386Kernel!.kernel],
      env: { UNICORN_LIB: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, err);
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.match(err, /UnsupportedMachine: a 32-bit kernel needs Unicorn 2\.1 or later; Unicorn 2\.0 /);
  },
});

const cloudArm = await ensureMatrixKernel("cloud-arm64");
Deno.test({
  name: "the CLI's boot command runs Debian's arm64 Image on the real machine, streams /init's line, exits 0",
  ignore: cloudArm === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "cli-boot-" });
    try {
      await Deno.writeFile(`${dir}/initrd.cpio`, await initramfs("aarch64"));
      const cli = new URL("../../cli.ts", import.meta.url).pathname;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", cli, "boot", cloudArm!.kernel, "--initrd", `${dir}/initrd.cpio`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, text.slice(-1500) + new TextDecoder().decode(out.stderr));
      assert.ok(text.indexOf(INIT_MESSAGE) < text.indexOf("reboot: Power down"), text.slice(-1500));
      assert.match(
        text,
        /: poweroff after [\d.]+ s\n {2}machine {5}real, arm64 \(Linux 6\.1\.\S+: the arm64 machine\)/,
      );
      // The suite's engine (tests/emu/_unicorn.ts: 2.1.1 unless UNICORN_LIB says otherwise) is named, and
      // only a 2.0 run carries the note about the faster engine.
      const version = engine.ok ? engine.version.replace(".", "\\.") : "none";
      assert.match(text, new RegExp(`^ {2}engine {6}Unicorn ${version} \\(/`, "m"));
      assert.equal(/^ {2}note {8}Unicorn 2\.1 boots/m.test(text), ENGINE_20, text.slice(-600));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a real-kernel run of the CLI on Unicorn 2.0 names the engine and says how to use 2.1",
  ignore: cloudArm === undefined || SYSTEM_UNICORN !== "2.0",
  async fn() {
    const cli = new URL("../../cli.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "boot", cloudArm!.kernel, "--max-instructions", "2000000"],
      env: { UNICORN_LIB: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 1, text + new TextDecoder().decode(out.stderr));
    assert.match(text, /: limit after [\d.]+ s\n/);
    assert.match(text, /^ {2}engine {6}Unicorn 2\.0 \(/m);
    assert.match(text, /^ {2}note {8}Unicorn 2\.1 boots real kernels about 5x faster .*UNICORN_LIB/m);
  },
});

// Xen 4.17 (fixtures/real/xen.ts): through Multiboot2 and Multiboot 1 to its "dom0 kernel not specified"
// panic, every line from the banner to the panic compared with QEMU TCG's (`qemu-system-x86_64 -kernel`
// takes Multiboot 1 only, and only an uncompressed image) apart from the boot loader's name. The same
// command line in both: Xen's console and `no-real-mode`, which our machine adds (it has no BIOS).
const xen = await ensureXen();
const XEN_CMDLINE = "console=com1 com1=115200,8n1";
for (const protocol of ["multiboot2", "multiboot1"] as const) {
  const name = `Xen 4.17 boots through ${protocol} to its dom0 panic and prints QEMU TCG's lines on the way`;
  const skip = xen === undefined ? "the Xen package is not cached" : qemuAvailable("x86_64") ? undefined : "no QEMU";
  if (skip !== undefined) {
    console.error(`${name}: ignored (${skip})`);
    Deno.test({ name, ignore: true, fn() {} });
    continue;
  }
  emuTest(name, async () => {
    const packed = await Deno.readFile(xen!.hypervisor);
    const r = await bootRealKernel(packed, {
      protocol,
      cmdline: XEN_CMDLINE,
      timeoutMs: HANG_GUARD_MS,
      onLine: verboseLine(),
    });
    assert.equal(r.stop, "panic", r.detail);
    assert.match(r.detail, /^panic: dom0 kernel not specified/);
    const dir = await Deno.makeTempDir({ prefix: "xen-qemu-" });
    try {
      await Deno.writeFile(`${dir}/xen`, await gunzip(packed));
      const q = await qemuBoot({
        arch: "x86_64",
        kernel: `${dir}/xen`,
        cmdline: `${XEN_CMDLINE} no-real-mode`,
        // The reason's last words: QEMU is killed as soon as they arrive, and a stop on its first words
        // cut the line short when the rest came in the next chunk (seen once in 1,909 tests).
        stopAt: "Check bootloader configuration",
        timeoutMs: 120_000,
      });
      // Xen's lines up to the panic's reason (QEMU's first line follows the firmware's output on the same line).
      const xenLines = (lines: readonly string[]) => {
        const end = lines.findIndex((l) => l.includes("dom0 kernel not specified"));
        return lines.slice(0, end + 1).filter((l) => l.includes("(XEN)")).map((l) => l.slice(l.indexOf("(XEN)")))
          .filter((l) => !l.startsWith("(XEN) Bootloader:"));
      };
      const ours = xenLines(r.lines), theirs = xenLines(q.lines);
      assert.ok(theirs.length >= 10, q.log);
      assert.deepEqual(ours, theirs);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
