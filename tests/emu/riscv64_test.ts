import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { riscv64LinuxBoot } from "../../lib/boot/riscv64.ts";
import { runRiscv64 } from "../../emu/riscv64.ts";
import { GuestFault } from "../../emu/unicorn.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { stub } from "../../fixtures/stubs.ts";
import { buildFdt, sampleTree } from "./_fdt.ts";
import { emuTest } from "./_unicorn.ts";

const RAM = 0x8000_0000;
const ENTRY = RAM + 0x20_0000;
const DTB = RAM + 0x60_0000;
const BOOTARGS = "console=ttyS0 earlycon=sbi";

function rvMemory(entry = ENTRY, hartId = 0) {
  const mem = GuestMemory.fromRanges([[RAM, 8 << 20]]);
  const fdt = buildFdt(sampleTree(BOOTARGS));
  mem.write(DTB, fdt);
  mem.write(entry, stub("riscv64"));
  return { mem, fdt, cpu: riscv64LinuxBoot({ entry, dtb: DTB, hartId }) };
}

const okLine = (fdt: Uint8Array, hart = 0) =>
  `FDT OK hart=0x${hart.toString(16)} size=0x${fdt.byteLength.toString(16)} bootargs=${BOOTARGS}\n`;

emuTest("the riscv64 stub prints /chosen/bootargs from the DTB in a1 on the 16550", () => {
  const { mem, cpu, fdt } = rvMemory();
  const r = runRiscv64(mem, cpu);
  assert.equal(r.serial, okLine(fdt));
  assert.equal(r.stop, "halt");
});

emuTest("the riscv64 stub receives the hart id in a0", () => {
  const { mem, cpu, fdt } = rvMemory(ENTRY, 3);
  const r = runRiscv64(mem, cpu);
  assert.equal(r.serial, okLine(fdt, 3));
  assert.equal(r.registers.s1, 3n);
});

emuTest("the riscv64 stub leaves the DTB header fields and the bootargs location in registers", () => {
  const { mem, cpu, fdt } = rvMemory();
  const { registers: g } = runRiscv64(mem, cpu);
  assert.equal(g.s6, 0n);
  assert.equal(g.s2, 0xd00dfeedn);
  assert.equal(g.s3, BigInt(fdt.byteLength));
  assert.equal(g.s7, BigInt(DTB));
  assert.equal(g.s5, BigInt(BOOTARGS.length + 1));
  assert.equal(new TextDecoder().decode(mem.read(Number(g.s4), BOOTARGS.length)), BOOTARGS);
});

emuTest("the riscv64 stub reads the DTB magic byte by byte at a1 first", () => {
  const { mem, cpu } = rvMemory();
  const r = runRiscv64(mem, cpu, { watch: [[DTB, DTB + 0x1000]] });
  assert.deepEqual(r.reads.slice(0, 8).map((x) => [x.address - DTB, x.size]), [
    [0, 1],
    [1, 1],
    [2, 1],
    [3, 1],
    [4, 1],
    [5, 1],
    [6, 1],
    [7, 1],
  ]);
});

emuTest("the riscv64 stub runs unchanged at another load address (it is position-independent)", () => {
  const { mem, cpu, fdt } = rvMemory(RAM + 0x1234 * 4);
  assert.equal(runRiscv64(mem, cpu).serial, okLine(fdt));
});

emuTest("the riscv64 stub reports a DTB whose magic has one wrong byte", () => {
  const { mem, cpu } = rvMemory();
  mem.writeU8(DTB, 0xd1);
  const r = runRiscv64(mem, cpu);
  assert.equal(r.serial, "FDT BAD magic=0xd10dfeed\n");
  assert.equal(r.registers.s6, 1n);
});

emuTest("a riscv64 guest that never halts ends with a Timeout error", () => {
  const { mem, cpu } = rvMemory();
  mem.write(ENTRY, stub("riscv64_loop"));
  assert.throws(
    () => runRiscv64(mem, cpu, { timeoutMs: 50 }),
    (e) => e instanceof EmulatorError && e.code === "Timeout",
  );
});

emuTest("a riscv64 guest reading unmapped memory ends with an UnmappedAccess error naming pc and address", () => {
  const { mem, cpu } = rvMemory();
  mem.write(ENTRY, stub("riscv64_unmapped"));
  assert.throws(
    () => runRiscv64(mem, cpu),
    (e) => e instanceof GuestFault && e.code === "UnmappedAccess" && e.address === 0x3000_0000 && e.pc === ENTRY + 8,
  );
});

emuTest("the riscv64 stub gives the same report when instructions are not counted", () => {
  const { mem, cpu, fdt } = rvMemory();
  const r = runRiscv64(mem, cpu, { countInstructions: false });
  assert.equal(r.serial, okLine(fdt));
  assert.equal(mem.readU32(r.haltPc), 0x10500073);
});
