import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { x86LongModeBoot } from "../../lib/boot/x86_64.ts";
import { runX86 } from "../../emu/x86_64.ts";
import { GuestFault } from "../../emu/unicorn.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { stub } from "../../fixtures/stubs.ts";
import { emuTest } from "./_unicorn.ts";

const ZERO_PAGE = 0x7000;
const CMDLINE = 0x20000;
const KERNEL = 0x100000; // bzImage protected-mode code at load + 0x200
const CMDLINE_TEXT = "console=ttyS0 quiet";

/** Guest memory with the zero page written field by field (offsets from asm/bootparam.h). */
function bootMemory(entry = KERNEL + 0x200): { mem: GuestMemory; cpu: ReturnType<typeof x86LongModeBoot>["cpu"] } {
  const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
  const { plan, cpu } = x86LongModeBoot({ entry, zeroPage: ZERO_PAGE });
  applyPlanSync(mem, plan);
  mem.writeU16(ZERO_PAGE + 0x1fe, 0xaa55); // hdr.boot_flag
  mem.writeU32(ZERO_PAGE + 0x202, 0x53726448); // hdr.header "HdrS"
  mem.writeU32(ZERO_PAGE + 0x228, CMDLINE); // hdr.cmd_line_ptr
  mem.writeU32(ZERO_PAGE + 0x0c8, 0); // ext_cmd_line_ptr
  mem.writeU8(ZERO_PAGE + 0x1e8, 2); // e820_entries
  mem.writeU64(ZERO_PAGE + 0x2d0, 0); // e820_table[0].addr
  mem.writeU64(ZERO_PAGE + 0x2d8, 0x9fc00); // e820_table[0].size
  mem.writeU32(ZERO_PAGE + 0x2e0, 1); // e820_table[0].type = E820_RAM
  mem.writeU64(ZERO_PAGE + 0x2e4, 0x100000); // e820_table[1].addr
  mem.writeU64(ZERO_PAGE + 0x2ec, 0x300000); // e820_table[1].size
  mem.writeU32(ZERO_PAGE + 0x2f4, 1);
  mem.write(CMDLINE, new TextEncoder().encode(CMDLINE_TEXT + "\0"));
  mem.write(entry, stub("x86_64_linux"));
  return { mem, cpu };
}

const OK_LINE = `LINUX OK cmdline=${CMDLINE_TEXT} e820=0x2 first=0x0:0x9fc00:0x1\n`;

emuTest("the x86_64 Linux stub reports the zero page it was given on the serial port", () => {
  const { mem, cpu } = bootMemory();
  const r = runX86(mem, cpu);
  assert.equal(r.serial, OK_LINE);
  assert.equal(r.stop, "halt");
});

emuTest("the x86_64 Linux stub leaves the zero page fields it read in registers", () => {
  const { mem, cpu } = bootMemory();
  const { registers: g } = runX86(mem, cpu);
  assert.equal(g.r15, 0n);
  assert.equal(g.r8, 0xaa55n);
  assert.equal(g.r9, 0x53726448n);
  assert.equal(g.r10, BigInt(CMDLINE));
  assert.equal(g.r11, 2n);
  assert.deepEqual([g.r12, g.r13, g.r14], [0n, 0x9fc00n, 1n]);
  assert.equal(g.rbx, BigInt(ZERO_PAGE));
  assert.equal(g.rbp, new DataView(new TextEncoder().encode(CMDLINE_TEXT).buffer).getBigUint64(0, true));
});

emuTest("the x86_64 Linux stub reads the zero page fields at their boot-protocol offsets", () => {
  const { mem, cpu } = bootMemory();
  const r = runX86(mem, cpu, { watch: [[ZERO_PAGE, ZERO_PAGE + 0x1000]] });
  const got = r.reads.map((x) => [x.address - ZERO_PAGE, x.size]);
  assert.deepEqual(got, [[0x1fe, 2], [0x202, 4], [0x228, 4], [0x0c8, 4], [0x1e8, 1], [0x2d0, 8], [0x2d8, 8], [
    0x2e0,
    4,
  ]]);
});

emuTest("the x86_64 Linux stub reads the command line at cmd_line_ptr", () => {
  const { mem, cpu } = bootMemory();
  const r = runX86(mem, cpu, { watch: [[CMDLINE, CMDLINE + 0x1000]] });
  assert.deepEqual(r.reads[0], { address: CMDLINE, size: 8 });
  const bytes = r.reads.slice(1).map((x) => x.address - CMDLINE);
  assert.deepEqual(bytes, [...Array(CMDLINE_TEXT.length + 1).keys()]);
});

emuTest("the x86_64 Linux stub runs unchanged at another load address (it is position-independent)", () => {
  const { mem, cpu } = bootMemory(0x234000);
  const r = runX86(mem, cpu);
  assert.equal(r.serial, OK_LINE);
  assert.equal(r.haltPc >= 0x234000 && r.haltPc < 0x235000, true);
});

emuTest("the x86_64 harness runs the guest in 64-bit mode with paging on", () => {
  const { mem, cpu } = bootMemory();
  const { registers: g } = runX86(mem, cpu);
  assert.equal(g.cr0 & 0x8000_0001n, 0x8000_0001n);
  assert.equal(g.cr3, 0x9000n);
  assert.equal(g.cr4 & 0x20n, 0x20n);
  assert.equal(g.rflags & 0x200n, 0n);
});

emuTest("the x86_64 Linux stub reports a zero page whose boot_flag has one wrong byte", () => {
  const { mem, cpu } = bootMemory();
  mem.writeU8(ZERO_PAGE + 0x1fe, 0x54);
  const r = runX86(mem, cpu);
  assert.equal(r.serial, "LINUX BAD boot_flag=0xaa54\n");
  assert.equal(r.registers.r15, 1n);
});

emuTest("the x86_64 Linux stub reports a zero page without the HdrS magic", () => {
  const { mem, cpu } = bootMemory();
  mem.writeU8(ZERO_PAGE + 0x205, 0x54); // "HdrT"
  const r = runX86(mem, cpu);
  assert.equal(r.serial, "LINUX BAD header=0x54726448\n");
  assert.equal(r.registers.r15, 2n);
});

emuTest("an x86_64 guest that never halts ends with a Timeout error", () => {
  const { mem, cpu } = bootMemory();
  mem.write(KERNEL + 0x200, stub("x86_64_loop"));
  assert.throws(
    () => runX86(mem, cpu, { timeoutMs: 50 }),
    (e) => e instanceof EmulatorError && e.code === "Timeout",
  );
});

emuTest("an x86_64 guest that exhausts its instruction budget ends with an InstructionLimit error", () => {
  const { mem, cpu } = bootMemory();
  mem.write(KERNEL + 0x200, stub("x86_64_loop"));
  assert.throws(
    () => runX86(mem, cpu, { maxInstructions: 1000 }),
    (e) => e instanceof EmulatorError && e.code === "InstructionLimit",
  );
});

emuTest("an x86_64 guest reading unmapped memory ends with an UnmappedAccess error naming pc and address", () => {
  const { mem, cpu } = bootMemory();
  mem.write(KERNEL + 0x200, stub("x86_64_unmapped"));
  assert.throws(
    () => runX86(mem, cpu),
    (e) =>
      e instanceof GuestFault && e.code === "UnmappedAccess" && e.address === 0x3000_0000 &&
      e.pc === KERNEL + 0x200 + 6 && e.access === "read" && /0x30000000/.test(e.message) &&
      /pc 0x100206/.test(e.message),
  );
});

emuTest("the x86_64 Linux stub gives the same report when instructions are not counted", () => {
  const { mem, cpu } = bootMemory();
  const r = runX86(mem, cpu, { countInstructions: false });
  assert.equal(r.serial, OK_LINE);
  assert.equal(r.instructions, -1);
  assert.equal(mem.readU8(r.haltPc), 0xf4);
});

emuTest("an uncounted x86_64 guest that never halts still ends with a Timeout error", () => {
  const { mem, cpu } = bootMemory();
  mem.write(KERNEL + 0x200, stub("x86_64_loop"));
  assert.throws(
    () => runX86(mem, cpu, { timeoutMs: 50, countInstructions: false, maxInstructions: 0 }),
    (e) => e instanceof EmulatorError && e.code === "Timeout",
  );
});
