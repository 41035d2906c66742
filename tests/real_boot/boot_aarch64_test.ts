/**
 * Debian's arm64 cloud Image booted in Unicorn at EL1 by loadPe, with a device tree from lib/fdt (memory,
 * /chosen with bootargs and the initramfs, PL011, GICv2, armv8-timer) and our initramfs: the kernel prints
 * its banner, unpacks the initramfs, runs /init, whose line appears (SVCs and the instruction abort
 * delivered by the harness), and powers off. Bounded by a wall-clock deadline. Slow:
 * `deno task test:real`.
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { INIT_MESSAGE, initramfs } from "../../fixtures/build/init.ts";
import { MILESTONES } from "../../emu/linux/common.ts";
import { bootArm64Image } from "../../emu/linux/aarch64.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { assertInOrder, realBootTest, verboseLine } from "./_boot.ts";

const arm64 = await ensureRealKernel("arm64");

realBootTest(
  arm64 !== undefined,
  "Debian's arm64 Image boots in Unicorn with our DTB and initramfs and runs our /init",
  async () => {
    const image = await Deno.readFile(arm64!.kernel);
    const initrd = await initramfs("aarch64");
    const r = await bootArm64Image(image, {
      initrd,
      timeoutMs: 120_000,
      onLine: verboseLine(),
    });
    assertInOrder(r, [
      MILESTONES.version,
      "Machine model: linux-loader aarch64 VM",
      MILESTONES.unpack,
      MILESTONES.runInit,
      INIT_MESSAGE,
      "reboot: Power down",
    ]);
    assert.ok(!r.serial.includes("Initramfs unpacking failed"), r.serial.slice(-1500));
    assert.ok(!r.serial.includes("Kernel panic"), r.serial.slice(-1500));
    assert.equal(r.stop, "poweroff", r.detail);
    // loadInitrd put it as high as it fits in the RAM at 0x40000000 sized from the Image (chosenInitrd told
    // the kernel).
    assert.ok(r.ram !== undefined && r.ram % (32 << 20) === 0, `${r.ram}`);
    assert.deepEqual(r.initrd, {
      addr: Math.floor((0x4000_0000 + r.ram - initrd.byteLength) / 0x1000) * 0x1000,
      size: initrd.byteLength,
    });
  },
  emuTest,
);
