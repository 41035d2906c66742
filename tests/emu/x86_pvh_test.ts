import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { type X86CpuState, x86PvhBoot } from "../../lib/boot/x86_64.ts";
import { runX86 } from "../../emu/x86_64.ts";
import { stub } from "../../fixtures/stubs.ts";
import { emuTest } from "./_unicorn.ts";

const START_INFO = 0x6000;
const MEMMAP = 0x6100;
const MODLIST = 0x6200;
const CMDLINE = 0x6400;
const ENTRY = 0x100000;
const CMDLINE_TEXT = "console=ttyS0 pvh";

/** Guest memory with hvm_start_info, its memory map, one module and a command line written by hand. */
function pvhMemory(entry = ENTRY): { mem: GuestMemory; cpu: X86CpuState } {
  const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
  const { plan, cpu } = x86PvhBoot({ entry, startInfo: START_INFO });
  applyPlanSync(mem, plan);
  mem.writeU32(START_INFO + 0x00, 0x336ec578); // magic
  mem.writeU32(START_INFO + 0x04, 1); // version
  mem.writeU32(START_INFO + 0x0c, 1); // nr_modules
  mem.writeU64(START_INFO + 0x10, MODLIST); // modlist_paddr
  mem.writeU64(START_INFO + 0x18, CMDLINE); // cmdline_paddr
  mem.writeU64(START_INFO + 0x28, MEMMAP); // memmap_paddr
  mem.writeU32(START_INFO + 0x30, 2); // memmap_entries
  mem.writeU64(MEMMAP + 0, 0); // memmap[0].addr
  mem.writeU64(MEMMAP + 8, 0x9fc00); // memmap[0].size
  mem.writeU32(MEMMAP + 16, 1); // memmap[0].type = RAM
  mem.writeU64(MEMMAP + 24, 0x100000); // memmap[1].addr
  mem.writeU64(MEMMAP + 32, 0x300000); // memmap[1].size
  mem.writeU32(MEMMAP + 40, 1);
  mem.writeU64(MODLIST + 0, 0x300000); // modlist[0].paddr
  mem.writeU64(MODLIST + 8, 0x1234); // modlist[0].size
  mem.write(CMDLINE, new TextEncoder().encode(CMDLINE_TEXT + "\0"));
  mem.write(entry, stub("x86_pvh"));
  return { mem, cpu };
}

const OK_LINE =
  `PVH OK v=0x1 cmdline=${CMDLINE_TEXT} memmap=0x2 first=0x0:0x9fc00:0x1 modules=0x1 mod0=0x300000:0x1234\n`;

emuTest("the PVH stub reports the start_info it was given on the serial port", () => {
  const { mem, cpu } = pvhMemory();
  assert.equal(runX86(mem, cpu).serial, OK_LINE);
});

emuTest("the PVH stub leaves the start_info fields it read in registers", () => {
  const { mem, cpu } = pvhMemory();
  const { registers: g } = runX86(mem, cpu);
  assert.deepEqual(
    [g.eax, g.ebx, g.ecx, g.edx, g.esi, g.edi],
    [0n, BigInt(START_INFO), 2n, 1n, BigInt(CMDLINE), 0x300000n],
  );
});

emuTest("the PVH stub reads start_info, the memory map and the module list at their offsets", () => {
  const { mem, cpu } = pvhMemory();
  const r = runX86(mem, cpu, { watch: [[START_INFO, START_INFO + 0x400]] });
  const firstPass = r.reads.slice(0, 14).map((x) => [x.address - START_INFO, x.size]);
  assert.deepEqual(firstPass, [
    [0x00, 4], // magic
    [0x04, 4], // version
    [0x18, 4], // cmdline_paddr
    [0x30, 4], // memmap_entries
    [0x28, 4], // memmap_paddr
    [0x100, 4], // memmap[0].addr
    [0x108, 4], // memmap[0].size
    [0x110, 4], // memmap[0].type
    [0x0c, 4], // nr_modules
    [0x10, 4], // modlist_paddr
    [0x200, 4], // modlist[0].paddr
    [0x208, 4], // modlist[0].size
    [0x30, 4], // memmap_entries (results)
    [0x0c, 4], // nr_modules (results)
  ]);
});

emuTest("the PVH harness runs the guest in 32-bit protected mode with paging off", () => {
  const { mem, cpu } = pvhMemory();
  const { registers: g } = runX86(mem, cpu);
  assert.equal(g.cr0 & 0x8000_0001n, 1n);
  assert.equal(g.eflags & 0x200n, 0n);
});

emuTest("the PVH stub runs unchanged at another load address (it is position-independent)", () => {
  const { mem, cpu } = pvhMemory(0x2a0010);
  assert.equal(runX86(mem, cpu).serial, OK_LINE);
});

emuTest("the PVH stub reports a start_info whose magic has one wrong byte", () => {
  const { mem, cpu } = pvhMemory();
  mem.writeU8(START_INFO + 3, 0x34);
  const r = runX86(mem, cpu);
  assert.equal(r.serial, "PVH BAD magic=0x346ec578\n");
  assert.equal(r.registers.eax, 1n);
});
