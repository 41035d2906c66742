import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { aarch64LinuxBoot } from "../../lib/boot/aarch64.ts";
import { applyAarch64State, runAarch64 } from "../../emu/aarch64.ts";
import { GuestFault, Unicorn } from "../../emu/unicorn.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { stub } from "../../fixtures/stubs.ts";
import { buildFdt, sampleTree } from "./_fdt.ts";
import { emuTest } from "./_unicorn.ts";

const RAM = 0x4000_0000;
const ENTRY = RAM + 0x20_0000; // Image at base + text_offset
const DTB = RAM + 0x40_0000;
const BOOTARGS = "console=ttyAMA0 earlycon";

function armMemory(entry = ENTRY, bootargs = BOOTARGS) {
  const mem = GuestMemory.fromRanges([[RAM, 8 << 20]]);
  const fdt = buildFdt(sampleTree(bootargs));
  mem.write(DTB, fdt);
  mem.write(entry, stub("aarch64"));
  return { mem, fdt, cpu: aarch64LinuxBoot({ entry, dtb: DTB }) };
}

emuTest("the aarch64 stub prints /chosen/bootargs from the DTB in x0 on the PL011", () => {
  const { mem, cpu, fdt } = armMemory();
  const r = runAarch64(mem, cpu);
  assert.equal(r.serial, `FDT OK size=0x${fdt.byteLength.toString(16)} bootargs=${BOOTARGS}\n`);
  assert.equal(r.stop, "halt");
});

emuTest("the aarch64 stub leaves the DTB header fields and the bootargs location in registers", () => {
  const { mem, cpu, fdt } = armMemory();
  const { registers: g } = runAarch64(mem, cpu);
  assert.equal(g.x23, 0n);
  assert.equal(g.x19, 0xd00dfeedn);
  assert.equal(g.x20, BigInt(fdt.byteLength));
  assert.equal(g.x24, BigInt(DTB));
  assert.equal(g.x25, 0n);
  assert.equal(g.x22, BigInt(BOOTARGS.length + 1));
  const at = Number(g.x21);
  assert.equal(new TextDecoder().decode(mem.read(at, BOOTARGS.length)), BOOTARGS);
});

emuTest("the aarch64 stub reads the DTB header at x0 first", () => {
  const { mem, cpu } = armMemory();
  const r = runAarch64(mem, cpu, { watch: [[DTB, DTB + 0x1000]] });
  assert.deepEqual(r.reads.slice(0, 4), [
    { address: DTB, size: 4 }, // magic
    { address: DTB + 4, size: 4 }, // totalsize
    { address: DTB + 8, size: 4 }, // off_dt_struct
    { address: DTB + 12, size: 4 }, // off_dt_strings
  ]);
});

emuTest("the aarch64 harness enters the guest at EL1 with interrupts masked", () => {
  const { mem, cpu } = armMemory();
  const { registers: g } = runAarch64(mem, cpu);
  assert.equal((g.pstate >> 2n) & 3n, 1n);
  assert.equal(g.pstate & 0x3c0n, 0x3c0n);
});

emuTest("the aarch64 stub runs unchanged at another load address (it is position-independent)", () => {
  const { mem, cpu, fdt } = armMemory(RAM + 0x8_0000);
  assert.equal(runAarch64(mem, cpu).serial, `FDT OK size=0x${fdt.byteLength.toString(16)} bootargs=${BOOTARGS}\n`);
});

emuTest("the aarch64 stub reports a DTB whose magic has one wrong byte", () => {
  const { mem, cpu } = armMemory();
  mem.writeU8(DTB + 3, 0xee);
  const r = runAarch64(mem, cpu);
  assert.equal(r.serial, "FDT BAD magic=0xd00dfeee\n");
  assert.equal(r.registers.x23, 1n);
});

emuTest("the aarch64 stub reports a DTB whose /chosen has no bootargs", () => {
  const { mem, cpu, fdt } = armMemory();
  const i = new TextDecoder("latin1").decode(fdt).lastIndexOf("bootargs");
  mem.writeU8(DTB + i, 0x42); // the strings block now says "Bootargs"
  const r = runAarch64(mem, cpu);
  assert.equal(r.serial, "FDT BAD no /chosen/bootargs\n");
  assert.equal(r.registers.x23, 2n);
});

emuTest("an aarch64 guest that never halts ends with a Timeout error", () => {
  const { mem, cpu } = armMemory();
  mem.write(ENTRY, stub("aarch64_loop"));
  assert.throws(
    () => runAarch64(mem, cpu, { timeoutMs: 50 }),
    (e) => e instanceof EmulatorError && e.code === "Timeout",
  );
});

emuTest("an aarch64 guest reading unmapped memory ends with an UnmappedAccess error naming pc and address", () => {
  const { mem, cpu } = armMemory();
  mem.write(ENTRY, stub("aarch64_unmapped"));
  assert.throws(
    () => runAarch64(mem, cpu),
    (e) => e instanceof GuestFault && e.code === "UnmappedAccess" && e.address === 0x3000_0000 && e.pc === ENTRY + 8,
  );
});

emuTest("the aarch64 harness writes SCR_EL3, HCR_EL2 and SCTLR_EL1 into the engine", () => {
  const cpu = aarch64LinuxBoot({ entry: ENTRY, dtb: DTB });
  using uc = Unicorn.open("aarch64");
  applyAarch64State(uc, cpu);
  for (const s of cpu.sysregs) assert.equal(uc.readSysReg(s.encoding), s.value, s.name);
  assert.equal(uc.regRead("x0"), BigInt(DTB));
});

emuTest("the aarch64 stub gives the same report when instructions are not counted", () => {
  const { mem, cpu, fdt } = armMemory();
  const r = runAarch64(mem, cpu, { countInstructions: false });
  assert.equal(r.serial, `FDT OK size=0x${fdt.byteLength.toString(16)} bootargs=${BOOTARGS}\n`);
  assert.equal(mem.readU32(r.haltPc), 0xd503207f);
});
