/**
 * The reference the emulator boots are compared with: QEMU (TCG) boots Debian's kernels with the
 * initramfs made by lib/cpio.ts around our /init, and the serial log shows the kernel unpacking it,
 * running /init, our line, and the power-off /init asks for. Skipped when QEMU is not installed
 * (packages qemu-system-x86, qemu-system-arm).
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { qemuAvailable, qemuBoot, type QemuBootResult } from "../../fixtures/real/qemu.ts";
import { INIT_MESSAGE, initramfs } from "../../fixtures/build/init.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";
import { ignoreUnless } from "../_require.ts";

const amd64 = qemuAvailable("x86_64") ? await ensureRealKernel("amd64") : undefined;
const arm64 = qemuAvailable("aarch64") ? await ensureRealKernel("arm64") : undefined;

/** The milestones every boot must show, in order, and a clean power-off before the time limit. */
function assertRanInit(r: QemuBootResult): void {
  assert.equal(r.timedOut, false, `timed out; log ends:\n${r.log.slice(-800)}`);
  let at = 0;
  for (
    const line of [
      "Linux version ",
      "Trying to unpack rootfs image as initramfs",
      "Run /init as init process",
      INIT_MESSAGE,
      "reboot: Power down",
    ]
  ) {
    const i = r.log.indexOf(line, at);
    assert.ok(i >= 0, `"${line}" missing after offset ${at}; log ends:\n${r.log.slice(-800)}`);
    at = i + line.length;
  }
}

Deno.test({
  name: "QEMU boots Debian's amd64 bzImage with our initramfs to our /init's line",
  ignore: ignoreUnless(amd64 !== undefined, "qemu-system-x86_64 and the Debian amd64 kernel"),
  async fn() {
    assertRanInit(await qemuBoot({ arch: "x86_64", kernel: amd64!.kernel, initrd: await initramfs("x86_64") }));
  },
});

Deno.test({
  name: "QEMU boots the vmlinux extracted from Debian's amd64 bzImage through PVH to our /init's line",
  ignore: ignoreUnless(amd64 !== undefined, "qemu-system-x86_64 and the Debian amd64 kernel"),
  async fn() {
    const path = await Deno.makeTempFile({ prefix: "vmlinux-" });
    try {
      await Deno.writeFile(path, await extractVmlinux(await Deno.readFile(amd64!.kernel)));
      const r = await qemuBoot({ arch: "x86_64", kernel: path, initrd: await initramfs("x86_64") });
      assertRanInit(r);
      // The bzImage's real-mode setup prints "Probing EDD"; a PVH boot never runs it.
      assert.ok(!r.log.includes("Probing EDD"), "the vmlinux went through the real-mode setup");
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "QEMU boots Debian's arm64 Image on virt with our initramfs to our /init's line",
  ignore: ignoreUnless(arm64 !== undefined, "qemu-system-aarch64 and the Debian arm64 kernel"),
  async fn() {
    assertRanInit(await qemuBoot({ arch: "aarch64", kernel: arm64!.kernel, initrd: await initramfs("aarch64") }));
  },
});
