/**
 * Debian's amd64 cloud kernel booted in Unicorn by our loaders and configurators, with our initramfs:
 * the bzImage through the 64-bit boot protocol and the vmlinux inside it through PVH. Each boot must print
 * the kernel banner, unpack the initramfs, run /init, and show the line /init writes (through the
 * harness's syscall, sysret, page-fault and UART-interrupt delivery). Each is bounded by a wall-clock
 * deadline. Tens of seconds each: part of `deno task test`, alone in `deno task test:real`.
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { INIT_MESSAGE, initramfs } from "../../fixtures/build/init.ts";
import { MILESTONES } from "../../emu/linux/common.ts";
import { bootX86BzImage, bootX86Pvh } from "../../emu/linux/x86_64.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { assertInOrder, realBootTest, verboseLine } from "./_boot.ts";

const amd64 = await ensureRealKernel("amd64");
const DEADLINE_MS = 240_000;

const EXPECTED = [MILESTONES.version, MILESTONES.unpack, MILESTONES.freed, MILESTONES.runInit, INIT_MESSAGE];

const have = amd64 !== undefined;
const kernel = have ? await Deno.readFile(amd64.kernel) : new Uint8Array();
const initrd = await initramfs("x86_64");

realBootTest(
  have,
  "Debian's amd64 bzImage boots in Unicorn through the 64-bit protocol and runs our /init",
  async () => {
    const r = await bootX86BzImage(kernel, { initrd, timeoutMs: DEADLINE_MS, onLine: verboseLine() });
    assertInOrder(r, EXPECTED);
    assert.ok(!r.serial.includes("Kernel panic"), r.serial.slice(-1500));
    // /init asked for a power-off; with no ACPI the kernel halts.
    assert.equal(r.stop, "halt", r.detail);
  },
  emuTest,
);

realBootTest(
  have,
  "the vmlinux extracted from Debian's amd64 bzImage boots in Unicorn through PVH and runs our /init",
  async () => {
    const r = await bootX86Pvh(kernel, { initrd, timeoutMs: DEADLINE_MS, onLine: verboseLine() });
    assertInOrder(r, EXPECTED);
    assert.ok(!r.serial.includes("Probing EDD"), "the PVH boot went through the real-mode setup");
    assert.ok(!r.serial.includes("Kernel panic"), r.serial.slice(-1500));
    assert.equal(r.stop, "halt", r.detail);
  },
  emuTest,
);
