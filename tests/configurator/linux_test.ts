import assert from "node:assert/strict";
import { LinuxBootConfigurator, planLinuxBoot } from "../../lib/configurator/linux.ts";
import { BootParams } from "../../lib/configurator/mod.ts";
import { ConfiguratorError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { BOOT_FLAG_MAGIC, BOOT_PARAMS, HDRS_MAGIC, KERNEL_LOADER_OTHER } from "../../lib/abi/bootparam.ts";
import { encodeBootParams } from "../../lib/configurator/linux.ts";

const MEM_SIZE = 0x100_0000;

function guestMem(): GuestMemory {
  const mem = GuestMemory.fromRanges([[0, MEM_SIZE]]);
  mem.fill(0, MEM_SIZE, 0xaa);
  return mem;
}

function snapshot(mem: GuestMemory): Uint8Array[] {
  return mem.regions.map((r) => r.bytes.slice());
}

/** The crate's build_bootparams_common: boot flag, HdrS, 16 MiB alignment, loader 0xff. */
function crateZeroPage(): Uint8Array {
  return encodeBootParams({
    setupHeader: { boot_flag: BOOT_FLAG_MAGIC, header: HDRS_MAGIC, kernel_alignment: 0x1000000 },
    typeOfLoader: KERNEL_LOADER_OTHER,
  });
}

function throwsCode(f: () => void, code: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ConfiguratorError, `expected ConfiguratorError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

Deno.test("LinuxBootConfigurator rejects a zero page that runs past the end of memory with ZeroPagePastRamEnd (crate test_configure_linux_boot)", () => {
  const mem = guestMem();
  const bad = new BootParams(crateZeroPage(), mem.lastAddr - BOOT_PARAMS.size + 2);
  throwsCode(() => LinuxBootConfigurator.writeBootparams(mem, bad), "ZeroPagePastRamEnd");
});

Deno.test("LinuxBootConfigurator writes the zero page at its address (crate test_configure_linux_boot)", () => {
  const mem = guestMem();
  const zp = crateZeroPage();
  LinuxBootConfigurator.writeBootparams(mem, new BootParams(zp, 0x30000));
  assert.deepEqual(mem.read(0x30000, BOOT_PARAMS.size), zp);
  assert.equal(mem.readU8(0x30000 + BOOT_PARAMS.size), 0xaa);
});

Deno.test("LinuxBootConfigurator accepts a zero page that ends exactly at the end of memory", () => {
  const mem = guestMem();
  LinuxBootConfigurator.writeBootparams(mem, new BootParams(crateZeroPage(), MEM_SIZE - BOOT_PARAMS.size));
  assert.equal(mem.readU16(MEM_SIZE - BOOT_PARAMS.size + 0x1fe), BOOT_FLAG_MAGIC);
});

Deno.test("LinuxBootConfigurator rejects a zero page over a memory hole with ZeroPageSetup", () => {
  const mem = GuestMemory.fromRanges([[0, 0x10000], [0x20000, 0x10000]]);
  throwsCode(
    () => LinuxBootConfigurator.writeBootparams(mem, new BootParams(crateZeroPage(), 0xf800)),
    "ZeroPageSetup",
  );
});

Deno.test("LinuxBootConfigurator rejects a zero page below the first region with ZeroPageSetup", () => {
  const mem = GuestMemory.fromRanges([[0x100000, 0x100000]]);
  throwsCode(
    () => LinuxBootConfigurator.writeBootparams(mem, new BootParams(crateZeroPage(), 0x7000)),
    "ZeroPageSetup",
  );
});

Deno.test("LinuxBootConfigurator leaves memory byte-identical when the zero page does not fit", () => {
  const mem = guestMem();
  const before = snapshot(mem);
  throwsCode(
    () => LinuxBootConfigurator.writeBootparams(mem, new BootParams(crateZeroPage(), MEM_SIZE - 0x800)),
    "ZeroPagePastRamEnd",
  );
  assert.deepEqual(snapshot(mem), before);
});

Deno.test("LinuxBootConfigurator ignores sections and modules, as the crate does", () => {
  const mem = guestMem();
  const p = new BootParams(crateZeroPage(), 0x7000);
  p.setSections([new Uint8Array(16).fill(1)], 0x9000);
  LinuxBootConfigurator.writeBootparams(mem, p);
  assert.equal(mem.readU8(0x9000), 0xaa);
});

Deno.test("planLinuxBoot describes the write without performing it", () => {
  const mem = guestMem();
  const plan = planLinuxBoot(mem, new BootParams(crateZeroPage(), 0x7000));
  assert.deepEqual(plan.steps.map((s) => [s.kind, s.guestAddr, s.label]), [["bytes", 0x7000, "boot_params"]]);
  assert.equal(mem.readU8(0x7000), 0xaa);
});

Deno.test("BootParams puts the encoded zero page at its address", () => {
  const p = new BootParams(encodeBootParams({ cmdlineAddr: 0x20000 }), 0x7000);
  assert.equal(p.headerStart, 0x7000);
  assert.equal(new DataView(p.header.buffer).getUint32(0x228, true), 0x20000);
});
