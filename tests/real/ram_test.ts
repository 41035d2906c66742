/**
 * Guest RAM of real-kernel runs sized from the image when the caller names none (realRamBytes with the
 * kernel's run-time end: a bzImage's pref_address + init_size, a vmlinux's highest PT_LOAD, an arm64 Image's
 * image_size or the DTB's fixed place), and an explicit size too small for the image refused before anything
 * runs, with one line naming what it needs.
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { LINUX_HEADROOM, LINUX_MIN_HEADROOM, realRamBytes } from "../../emu/linux/common.ts";
import { bzImageRuntimeEnd, elfPhysicalEnd } from "../../emu/linux/x86_64.ts";
import { AARCH64_LAYOUT, arm64RuntimeEnd } from "../../emu/linux/aarch64.ts";
import { bootRealKernel } from "../../emu/linux/machine.ts";
import { decodeBzImage } from "../../lib/loader/bzimage.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";
import { MemoryError } from "../../lib/errors.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { realBootTest } from "../real_boot/_boot.ts";

const MIB = 1 << 20;
const amd64 = await ensureRealKernel("amd64");
const arm64 = await ensureRealKernel("arm64");

Deno.test("without a size, RAM is the image's end + four times the initramfs + Linux's headroom, in 32 MiB steps", () => {
  const need = { end: 67.5 * MIB, initrd: 4096, what: "k" };
  const bytes = realRamBytes(undefined, need);
  assert.equal(bytes % (32 * MIB), 0);
  assert.ok(bytes >= need.end + 4 * need.initrd + LINUX_HEADROOM);
  assert.ok(bytes < need.end + 4 * need.initrd + LINUX_HEADROOM + 32 * MIB);
  assert.equal(realRamBytes(undefined, { ...need, initrd: 100 * MIB }), 544 * MIB);
});

Deno.test("an explicit size below the image's end + initramfs + the least headroom is a MemoryError naming the need", () => {
  const need = { end: 67.5 * MIB, initrd: 4 * MIB, what: "this bzImage" };
  const least = Math.ceil((need.end + need.initrd + LINUX_MIN_HEADROOM) / MIB);
  assert.equal(realRamBytes(least, need), least * MIB);
  assert.throws(() => realRamBytes(least - 1, need), (e: MemoryError) => {
    assert.ok(e instanceof MemoryError);
    assert.equal(e.code, "OutOfRange");
    assert.equal(e.field, "memoryMiB");
    assert.equal(e.limit, least);
    assert.match(
      e.message,
      new RegExp(`^${least - 1} MiB of guest RAM is too little for this bzImage: it needs at least ${least} MiB`),
    );
    return true;
  });
});

Deno.test({
  name: "Debian's amd64 bzImage ends at pref_address + init_size and its vmlinux at its highest PT_LOAD",
  ignore: amd64 === undefined,
  async fn() {
    const image = await Deno.readFile(amd64!.kernel);
    const info = await decodeBzImage(image);
    assert.equal(bzImageRuntimeEnd(info), info.prefAddress! + info.initSize!);
    const vmlinuxEnd = elfPhysicalEnd(await extractVmlinux(image));
    assert.ok(vmlinuxEnd > info.prefAddress! && vmlinuxEnd <= info.prefAddress! + info.initSize!, `${vmlinuxEnd}`);
  },
});

Deno.test({
  name: "Debian's arm64 Image ends at the larger of its image_size from 2 MiB and the DTB's 2 MiB at 64 MiB",
  ignore: arm64 === undefined,
  async fn() {
    const image = await Deno.readFile(arm64!.kernel);
    const imageSize = Number(new DataView(image.buffer).getBigUint64(16, true));
    const L = AARCH64_LAYOUT;
    assert.equal(arm64RuntimeEnd(image), Math.max(L.kernel - L.ram + imageSize, L.dtb - L.ram + 2 * MIB));
    assert.equal(arm64RuntimeEnd(new Uint8Array(16)), L.dtb - L.ram + 2 * MIB);
  },
});

realBootTest(
  amd64 !== undefined,
  "a real boot with too little RAM for the bzImage stops with a MemoryError before running, and the CLI says why",
  async () => {
    const image = await Deno.readFile(amd64!.kernel);
    await assert.rejects(
      bootRealKernel(image, { memoryMiB: 64 }),
      (e: MemoryError) => e instanceof MemoryError && e.code === "OutOfRange" && /too little/.test(e.message),
    );
    const cli = new URL("../../cli.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "boot", amd64!.kernel, "--mem", "64M"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.notEqual(out.code, 0);
    const err = new TextDecoder().decode(out.stderr);
    assert.match(err, /64 MiB of guest RAM is too little for this bzImage: it needs at least \d+ MiB/);
    assert.doesNotMatch(new TextDecoder().decode(out.stdout), /Linux version/); // nothing ran
  },
  emuTest,
);
