// Emulator proofs for issue 6: an arm64 / riscv64 Image whose code is the entry stub is loaded by loadPe,
// the device tree is built by lib/fdt and written by the FDT configurator, and the guest itself reads the
// FDT magic, totalsize and /chosen/bootargs from the address in x0 (arm64) or a1 (riscv64).
import assert from "node:assert/strict";
import { runAarch64 } from "../../emu/aarch64.ts";
import { runRiscv64 } from "../../emu/riscv64.ts";
import { buildArm64Image, buildRiscv64Image, gzip } from "../../fixtures/build/pe.ts";
import { stub } from "../../fixtures/stubs.ts";
import { aarch64LinuxBoot } from "../../lib/boot/aarch64.ts";
import { riscv64LinuxBoot } from "../../lib/boot/riscv64.ts";
import { FdtBootConfigurator } from "../../lib/configurator/fdt.ts";
import { BootParams } from "../../lib/configurator/mod.ts";
import { buildVmFdt, fdtString, findNode, getProperty, readFdt } from "../../lib/fdt/mod.ts";
import { loadPe } from "../../lib/loader/pe.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { emuTest } from "./_unicorn.ts";

const ARM_RAM = 0x4000_0000;
const RV_RAM = 0x8000_0000;
const RAM_SIZE = 64 << 20;
const ARM_BOOTARGS = "console=ttyAMA0 earlycon root=/dev/vda";
const RV_BOOTARGS = "console=ttyS0 earlycon=sbi";

/** Loads `image` with loadPe, builds and writes the DTB at the 32 MiB mark, returns what the guest needs. */
async function prepare(
  arch: "aarch64" | "riscv64",
  image: Uint8Array,
  corrupt?: (dtb: Uint8Array) => void,
): Promise<{ mem: GuestMemory; entry: number; dtbAddr: number; dtb: Uint8Array }> {
  const ram = arch === "aarch64" ? ARM_RAM : RV_RAM;
  const mem = GuestMemory.fromRanges([[ram, RAM_SIZE]]);
  const r = await loadPe(mem, image, { imageBase: ram, arch });
  const dtb = buildVmFdt(mem, { arch, bootargs: arch === "aarch64" ? ARM_BOOTARGS : RV_BOOTARGS });
  corrupt?.(dtb);
  const dtbAddr = ram + (32 << 20);
  FdtBootConfigurator.writeBootparams(mem, new BootParams(dtb, dtbAddr));
  return { mem, entry: r.entry.image!, dtbAddr, dtb };
}

function armImage(): Uint8Array {
  return buildArm64Image({ header: { text_offset: 0x8_0000n }, code: stub("aarch64"), size: 0x1000 });
}

function rvImage(): Uint8Array {
  return buildRiscv64Image({ code: stub("riscv64"), size: 0x1000 });
}

function bootargsOf(dtb: Uint8Array): string {
  return fdtString(getProperty(findNode(readFdt(dtb).root, "/chosen")!, "bootargs")!);
}

async function bootArm(image: Uint8Array, corrupt?: (dtb: Uint8Array) => void) {
  const p = await prepare("aarch64", image, corrupt);
  return { ...p, run: runAarch64(p.mem, aarch64LinuxBoot({ entry: p.entry, dtb: p.dtbAddr })) };
}

async function bootRv(image: Uint8Array, hartId = 0, corrupt?: (dtb: Uint8Array) => void) {
  const p = await prepare("riscv64", image, corrupt);
  return { ...p, run: runRiscv64(p.mem, riscv64LinuxBoot({ entry: p.entry, dtb: p.dtbAddr, hartId })) };
}

emuTest("an arm64 Image loaded by loadPe reads the magic, totalsize and bootargs of a lib/fdt DTB in x0", async () => {
  const { run, dtb, dtbAddr, entry } = await bootArm(armImage());
  assert.equal(entry, ARM_RAM + 0x8_0000);
  assert.equal(run.serial, `FDT OK size=0x${dtb.byteLength.toString(16)} bootargs=${ARM_BOOTARGS}\n`);
  const g = run.registers;
  assert.equal(g.x23, 0n); // status ok
  assert.equal(g.x19, 0xd00d_feedn); // the magic the guest read
  assert.equal(g.x20, BigInt(dtb.byteLength)); // the totalsize the guest read
  assert.equal(g.x24, BigInt(dtbAddr)); // x0 on entry
  assert.equal(g.x22, BigInt(bootargsOf(dtb).length + 1)); // the property length our reader sees too
  assert.ok(g.x21 > BigInt(dtbAddr) && g.x21 < BigInt(dtbAddr + dtb.byteLength));
});

emuTest("a gzip-compressed arm64 Image loads and runs exactly as the plain one", async () => {
  const plain = await bootArm(armImage());
  const packed = await bootArm(await gzip(armImage()));
  assert.equal(packed.entry, plain.entry);
  assert.equal(packed.run.serial, plain.run.serial);
  assert.deepEqual(packed.run.registers, plain.run.registers);
});

emuTest("the arm64 guest reports a DTB with one wrong magic byte", async () => {
  const { run } = await bootArm(armImage(), (dtb) => (dtb[3] ^= 0x01));
  assert.equal(run.serial, "FDT BAD magic=0xd00dfeec\n");
  assert.equal(run.registers.x23, 1n);
});

emuTest("the arm64 guest reports a DTB with one wrong byte in the bootargs property name", async () => {
  const { run } = await bootArm(armImage(), (dtb) => {
    const at = new TextDecoder("latin1").decode(dtb).lastIndexOf("bootargs\0");
    dtb[at] = 0x42; // "Bootargs"
  });
  assert.equal(run.serial, "FDT BAD no /chosen/bootargs\n");
  assert.equal(run.registers.x23, 2n);
});

emuTest("a riscv64 Image loaded by loadPe reads the hart id in a0 and the lib/fdt DTB in a1", async () => {
  const { run, dtb, dtbAddr, entry } = await bootRv(rvImage(), 2);
  assert.equal(entry, RV_RAM + 0x20_0000);
  assert.equal(run.serial, `FDT OK hart=0x2 size=0x${dtb.byteLength.toString(16)} bootargs=${RV_BOOTARGS}\n`);
  const g = run.registers;
  assert.equal(g.s1, 2n); // a0 on entry
  assert.equal(g.s2, 0xd00d_feedn); // the magic the guest read
  assert.equal(g.s3, BigInt(dtb.byteLength)); // the totalsize the guest read
  assert.equal(g.s5, BigInt(bootargsOf(dtb).length + 1));
  assert.equal(g.s6, 0n);
  assert.equal(g.s7, BigInt(dtbAddr)); // a1 on entry
});

emuTest("a gzip-compressed riscv64 Image loads and runs exactly as the plain one", async () => {
  const plain = await bootRv(rvImage());
  const packed = await bootRv(await gzip(rvImage()));
  assert.equal(packed.run.serial, plain.run.serial);
  assert.deepEqual(packed.run.registers, plain.run.registers);
});

emuTest("the riscv64 guest reports a DTB with one wrong magic byte", async () => {
  const { run } = await bootRv(rvImage(), 0, (dtb) => (dtb[0] ^= 0x80));
  assert.match(run.serial, /^FDT BAD magic=0x500dfeed\n$/);
});
