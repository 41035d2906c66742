/**
 * Debian's amd64 cloud kernel booted in Unicorn by our loaders and configurators, with our initramfs:
 * the bzImage through the 64-bit boot protocol and the vmlinux inside it through PVH. Each boot must print
 * the e820 map and ramdisk our helpers wrote and the kernel banner, unpack the initramfs, run /init, and
 * show the line /init writes (through the harness's syscall, sysret, page-fault and UART-interrupt
 * delivery). Each is bounded by a wall-clock deadline. Tens of seconds each: part of `deno task test`,
 * alone in `deno task test:real`.
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { INIT_MESSAGE, initramfs } from "../../fixtures/build/init.ts";
import { MILESTONES, type RealBootResult } from "../../emu/linux/common.ts";
import { bootX86BzImage, bootX86Pvh, x86E820 } from "../../emu/linux/x86_64.ts";
import { E820_RAM } from "../../lib/abi/bootparam.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { buildX86Acpi, PM1A_CNT_PORT } from "../../emu/linux/acpi.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { assertInOrder, realBootTest, verboseLine } from "./_boot.ts";

const amd64 = await ensureRealKernel("amd64");
const DEADLINE_MS = 240_000;

const EXPECTED = [MILESTONES.version, MILESTONES.unpack, MILESTONES.freed, MILESTONES.runInit, INIT_MESSAGE];

const have = amd64 !== undefined;
const kernel = have ? await Deno.readFile(amd64.kernel) : new Uint8Array();
const initrd = await initramfs("x86_64");
const PAGE = 0x1000;

/**
 * The kernel read our boot data: it prints the e820 map buildMemmap made, line for line, and the ramdisk
 * where loadInitrd put it (the highest page-aligned place in RAM; the kernel prints it page-rounded).
 */
function assertBootData(r: RealBootResult): void {
  // No memoryMiB: the machine sized RAM from the image (its run-time end + initramfs + Linux's headroom).
  assert.ok(r.ram !== undefined && r.ram < 512 << 20 && r.ram % (32 << 20) === 0, `${r.ram}`);
  const RAM = r.ram;
  const hex16 = (v: number) => `0x${v.toString(16).padStart(16, "0")}`;
  const e820 = x86E820(GuestMemory.fromRanges([[0, RAM]])).map((e) =>
    `BIOS-e820: [mem ${hex16(e.addr)}-${hex16(e.addr + e.size - 1)}] ${e.type === E820_RAM ? "usable" : "reserved"}`
  );
  assertInOrder(r, e820);
  assert.ok(r.initrd !== undefined);
  assert.equal(r.initrd.size, initrd.byteLength);
  assert.equal(r.initrd.addr, Math.floor((RAM - initrd.byteLength) / PAGE) * PAGE);
  const end = Math.ceil((r.initrd.addr + r.initrd.size) / PAGE) * PAGE;
  const hex8 = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;
  assertInOrder(r, [`RAMDISK: [mem ${hex8(r.initrd.addr)}-${hex8(end - 1)}]`]);
}

/**
 * The kernel found the machine's ACPI tables where buildX86Acpi put them (the RSDP from the boot data),
 * took S5 from the DSDT, and /init's power-off ended in the machine's ACPI S5 write, not in a halt.
 */
function assertAcpiPowerOff(r: RealBootResult): void {
  const acpi = buildX86Acpi();
  const at = (sig: string) => `0x${acpi.tables[sig].addr.toString(16).toUpperCase().padStart(16, "0")}`;
  assertInOrder(r, [
    `ACPI: RSDP ${at("RSD PTR ")} 000024 (v02 LLOADR)`,
    `ACPI: XSDT ${at("XSDT")}`,
    `ACPI: FACP ${at("FACP")}`,
    `ACPI: DSDT ${at("DSDT")}`,
    "ACPI: PM: (supports S0 S5)",
    INIT_MESSAGE,
    "reboot: Power down",
  ]);
  assert.ok(!r.serial.includes("ACPI Error") && !r.serial.includes("ACPI BIOS Error"), r.serial);
  assert.equal(r.stop, "poweroff", r.detail);
  assert.match(
    r.detail,
    new RegExp(`^ACPI S5: the guest wrote SLP_TYP 5 \\| SLP_EN to PM1a_CNT \\(port 0x${PM1A_CNT_PORT.toString(16)}\\)`),
  );
}

realBootTest(
  have,
  "Debian's amd64 bzImage boots in Unicorn through the 64-bit protocol and runs our /init",
  async () => {
    const r = await bootX86BzImage(kernel, { initrd, timeoutMs: DEADLINE_MS, onLine: verboseLine() });
    assertInOrder(r, EXPECTED);
    assertBootData(r);
    assert.ok(!r.serial.includes("Kernel panic"), r.serial.slice(-1500));
    assertAcpiPowerOff(r);
  },
  emuTest,
);

realBootTest(
  have,
  "the vmlinux extracted from Debian's amd64 bzImage boots in Unicorn through PVH and runs our /init",
  async () => {
    const r = await bootX86Pvh(kernel, { initrd, timeoutMs: DEADLINE_MS, onLine: verboseLine() });
    assertInOrder(r, EXPECTED);
    assertBootData(r);
    assert.ok(!r.serial.includes("Probing EDD"), "the PVH boot went through the real-mode setup");
    assert.ok(!r.serial.includes("Kernel panic"), r.serial.slice(-1500));
    assertAcpiPowerOff(r);
  },
  emuTest,
);
