/**
 * The reference the emulator boots are compared with: QEMU (TCG) boots Debian's kernels with the
 * initramfs made by lib/cpio.ts around our /init, and the serial log shows the kernel unpacking it,
 * running /init, our line, and the power-off /init asks for. Skipped when QEMU is not installed
 * (packages qemu-system-x86, qemu-system-arm).
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { INIT_MESSAGE, initramfs } from "../../fixtures/build/init.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";

const QEMU_X86 = "/usr/bin/qemu-system-x86_64";
const QEMU_ARM = "/usr/bin/qemu-system-aarch64";
const BOOT_TIMEOUT_MS = 60_000;

function exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

const amd64 = exists(QEMU_X86) ? await ensureRealKernel("amd64") : undefined;
const arm64 = exists(QEMU_ARM) ? await ensureRealKernel("arm64") : undefined;

/** Boots QEMU with `args` plus an initramfs, powers off or times out, and returns the serial log. */
async function boot(qemu: string, args: string[], initrd: Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qemu-ref-" });
  try {
    await Deno.writeFile(`${dir}/initrd.cpio`, initrd);
    const child = new Deno.Command(qemu, {
      args: ["-nographic", "-no-reboot", "-m", "512", "-initrd", `${dir}/initrd.cpio`, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), BOOT_TIMEOUT_MS);
    const out = await child.output();
    clearTimeout(timer);
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The milestones every boot must show, in order. */
function assertRanInit(log: string): void {
  let at = 0;
  for (
    const line of [
      "Linux version 6.1.0",
      "Trying to unpack rootfs image as initramfs",
      "Run /init as init process",
      INIT_MESSAGE,
      "reboot: Power down",
    ]
  ) {
    const i = log.indexOf(line, at);
    assert.ok(i >= 0, `"${line}" missing after offset ${at}; log ends:\n${log.slice(-800)}`);
    at = i + line.length;
  }
}

Deno.test({
  name: "QEMU boots Debian's amd64 bzImage with our initramfs to our /init's line",
  ignore: amd64 === undefined,
  async fn() {
    const log = await boot(
      QEMU_X86,
      ["-kernel", amd64!.kernel, "-append", "console=ttyS0 panic=-1"],
      await initramfs("x86_64"),
    );
    assertRanInit(log);
  },
});

Deno.test({
  name: "QEMU boots the vmlinux extracted from Debian's amd64 bzImage through PVH to our /init's line",
  ignore: amd64 === undefined,
  async fn() {
    const vmlinux = await extractVmlinux(await Deno.readFile(amd64!.kernel));
    const path = await Deno.makeTempFile({ prefix: "vmlinux-" });
    try {
      await Deno.writeFile(path, vmlinux);
      const log = await boot(
        QEMU_X86,
        ["-kernel", path, "-append", "console=ttyS0 panic=-1"],
        await initramfs("x86_64"),
      );
      assertRanInit(log);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "QEMU boots Debian's arm64 Image on virt with our initramfs to our /init's line",
  ignore: arm64 === undefined,
  async fn() {
    const args = ["-M", "virt", "-cpu", "cortex-a72", "-kernel", arm64!.kernel, "-append", "console=ttyAMA0 panic=-1"];
    assertRanInit(await boot(QEMU_ARM, args, await initramfs("aarch64")));
  },
});
