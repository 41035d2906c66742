/**
 * Emulator proofs of the x86 loaders and configurators: each image is loaded by the library, its boot data
 * written by the library's configurators, the CPU started in the library's boot state, and the entry stub
 * (fixtures/stubs/x86_64_linux.S, x86_pvh.S) reads the boot data as a kernel does and reports it. Each proof
 * has a negative twin: one wrong field written by the configurator makes the same checks fail.
 */
import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { x86LongModeBoot, x86PvhBoot } from "../../lib/boot/x86_64.ts";
import { loadElf } from "../../lib/loader/elf.ts";
import { bzImagePlacement, decodeBzImage, loadBzImage } from "../../lib/loader/bzimage.ts";
import { loadCmdline } from "../../lib/loader/cmdline.ts";
import { Cmdline } from "../../lib/cmdline.ts";
import {
  type BootParamsOptions,
  decodeBootParams,
  type E820EntryInit,
  encodeBootParams,
  LinuxBootConfigurator,
} from "../../lib/configurator/linux.ts";
import { BootParams } from "../../lib/configurator/mod.ts";
import {
  encodeStartInfo,
  PvhBootConfigurator,
  pvhBootParams,
  type PvhBootParamsOptions,
} from "../../lib/configurator/pvh.ts";
import { E820_RAM, STARTUP_64_OFFSET } from "../../lib/abi/bootparam.ts";
import { XEN_ELFNOTE_PHYS32_ENTRY } from "../../lib/abi/elf.ts";
import { runX86 } from "../../emu/x86_64.ts";
import type { RunResult } from "../../emu/harness.ts";
import { buildElf } from "../../fixtures/build/elf.ts";
import { buildBzImage } from "../../fixtures/build/bzimage.ts";
import { stub } from "../../fixtures/stubs.ts";
import { emuTest } from "./_unicorn.ts";

const MEM_SIZE = 32 << 20;
const ZERO_PAGE = 0x7000;
const START_INFO = 0x6000;
const MEMMAP = 0x6100;
const MODLIST = 0x6200;
const CMDLINE = 0x20000;
const KERNEL = 0x200000;
const PVH_ENTRY = KERNEL + 0x1000;
const CMDLINE_TEXT = "console=ttyS0 reboot=k panic=1";

const E820: E820EntryInit[] = [
  { addr: 0, size: 0x9fc00, type: E820_RAM },
  { addr: 0x100000, size: MEM_SIZE - 0x100000, type: E820_RAM },
];

function guestMem(): GuestMemory {
  return GuestMemory.fromRanges([[0, MEM_SIZE]]);
}

function cmdline(): Cmdline {
  const cl = new Cmdline(256);
  cl.insertStr(CMDLINE_TEXT);
  return cl;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function cmdlineHead(): bigint {
  return new DataView(new TextEncoder().encode(CMDLINE_TEXT).buffer).getBigUint64(0, true);
}

const LINUX_OK = `LINUX OK cmdline=${CMDLINE_TEXT} e820=0x2 first=0x0:0x9fc00:0x1\n`;

/** What a correct zero page makes the 64-bit stub report and leave in registers. */
function assertLinuxBoot(run: RunResult, entry: number): void {
  const g = run.registers;
  assert.equal(run.serial, LINUX_OK);
  assert.equal(run.stop, "halt");
  assert.equal(g.r15, 0n, "status");
  assert.equal(g.r8, 0xaa55n, "boot_flag");
  assert.equal(g.r9, 0x53726448n, "header");
  assert.equal(g.r10, BigInt(CMDLINE), "cmd_line_ptr | ext_cmd_line_ptr << 32");
  assert.equal(g.r11, 2n, "e820_entries");
  assert.deepEqual([g.r12, g.r13, g.r14], [0n, 0x9fc00n, 1n], "e820_table[0]");
  assert.equal(g.rbp, cmdlineHead(), "first 8 bytes of the command line");
  assert.equal(g.rbx, BigInt(ZERO_PAGE), "the zero page came in rsi");
  assert.ok(run.haltPc >= entry && run.haltPc < entry + 0x1000, `halted in the stub (pc ${run.haltPc.toString(16)})`);
  const zp = run.reads.filter((r) => r.address >= ZERO_PAGE && r.address < ZERO_PAGE + 0x1000);
  assert.deepEqual(zp.map((r) => [r.address - ZERO_PAGE, r.size]), [
    [0x1fe, 2],
    [0x202, 4],
    [0x228, 4],
    [0x0c8, 4],
    [0x1e8, 1],
    [0x2d0, 8],
    [0x2d8, 8],
    [0x2e0, 4],
  ]);
  assert.deepEqual(run.reads.find((r) => r.address === CMDLINE), { address: CMDLINE, size: 8 });
}

/** (a) An ELF whose entry is the 64-bit Linux stub, booted with a zero page from the configurator. */
async function bootLinuxElf(zeroPage: BootParamsOptions = {}): Promise<{ run: RunResult; entry: number }> {
  const code = stub("x86_64_linux");
  const image = buildElf({ entry: KERNEL, segments: [{ paddr: KERNEL, data: code, memsz: code.length + 0x800 }] });
  const mem = guestMem();
  const r = await loadElf(mem, image, { highmemStart: 0x100000 });
  loadCmdline(mem, CMDLINE, cmdline());
  LinuxBootConfigurator.writeBootparams(
    mem,
    new BootParams(encodeBootParams({ cmdlineAddr: CMDLINE, e820: E820, ...zeroPage }), ZERO_PAGE),
  );
  const { plan, cpu } = x86LongModeBoot({ entry: r.entry.linux64!, zeroPage: ZERO_PAGE });
  applyPlanSync(mem, plan);
  return { run: runX86(mem, cpu), entry: r.entry.linux64! };
}

emuTest("an ELF kernel loaded by loadElf boots in 64-bit mode and reads the configurator's zero page", async () => {
  const { run, entry } = await bootLinuxElf();
  assert.equal(entry, KERNEL);
  assertLinuxBoot(run, entry);
});

emuTest("the ELF proof fails when the configurator writes a wrong boot_flag", async () => {
  const { run, entry } = await bootLinuxElf({ setupHeader: { boot_flag: 0xaa54 } });
  assert.equal(run.serial, "LINUX BAD boot_flag=0xaa54\n");
  assert.throws(() => assertLinuxBoot(run, entry), assert.AssertionError);
});

emuTest("the ELF proof fails when the configurator writes a wrong cmd_line_ptr", async () => {
  const { run, entry } = await bootLinuxElf({ cmdlineAddr: CMDLINE + 8 });
  assert.equal(run.serial, `LINUX OK cmdline=${CMDLINE_TEXT.slice(8)} e820=0x2 first=0x0:0x9fc00:0x1\n`);
  assert.throws(() => assertLinuxBoot(run, entry), assert.AssertionError);
});

// ---- (b) PVH ----

const PVH_OK =
  `PVH OK v=0x1 cmdline=${CMDLINE_TEXT} memmap=0x2 first=0x0:0x9fc00:0x1 modules=0x1 mod0=0x300000:0x1234\n`;

const PVH_PARAMS: PvhBootParamsOptions = {
  startInfoAddr: START_INFO,
  memmapAddr: MEMMAP,
  memmap: E820,
  cmdlineAddr: CMDLINE,
  modules: [{ paddr: 0x300000, size: 0x1234 }],
  modlistAddr: MODLIST,
};

/** What a correct start_info makes the PVH stub report and leave in registers. */
function assertPvhBoot(run: RunResult): void {
  const g = run.registers;
  assert.equal(run.serial, PVH_OK);
  assert.deepEqual(
    [g.eax, g.ebx, g.ecx, g.edx, g.esi, g.edi],
    [0n, BigInt(START_INFO), 2n, 1n, BigInt(CMDLINE), 0x300000n],
    "status, start_info, memmap_entries, nr_modules, cmdline_paddr, module 0 paddr",
  );
  assert.equal(g.cr0 & 0x8000_0001n, 1n, "protected mode, paging off");
  assert.ok(run.haltPc >= PVH_ENTRY && run.haltPc < PVH_ENTRY + 0x1000, "halted in the PVH stub");
  const si = run.reads.filter((r) => r.address >= START_INFO && r.address < START_INFO + 0x400).slice(0, 12);
  assert.deepEqual(si.map((r) => [r.address - START_INFO, r.size]), [
    [0x00, 4], // magic
    [0x04, 4], // version
    [0x18, 4], // cmdline_paddr
    [0x30, 4], // memmap_entries
    [0x28, 4], // memmap_paddr
    [MEMMAP - START_INFO, 4], // memmap[0].addr
    [MEMMAP - START_INFO + 8, 4], // memmap[0].size
    [MEMMAP - START_INFO + 16, 4], // memmap[0].type
    [0x0c, 4], // nr_modules
    [0x10, 4], // modlist_paddr
    [MODLIST - START_INFO, 4], // modlist[0].paddr
    [MODLIST - START_INFO + 8, 4], // modlist[0].size
  ]);
}

/**
 * (b) A PVH ELF: the 64-bit stub at e_entry and the PVH stub at the address of its Xen PHYS32_ENTRY note,
 * entered in 32-bit mode with EBX = start_info.
 */
async function bootPvhElf(broken?: (p: ReturnType<typeof pvhBootParams>) => void): Promise<RunResult> {
  const text = new Uint8Array(0x1000 + stub("x86_pvh").length);
  text.set(stub("x86_64_linux"));
  text.set(stub("x86_pvh"), PVH_ENTRY - KERNEL);
  const image = buildElf({
    entry: KERNEL,
    segments: [
      { paddr: KERNEL, data: text },
      { paddr: 0, notes: [{ name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: u32(PVH_ENTRY) }] },
    ],
  });
  const mem = guestMem();
  const r = await loadElf(mem, image, { highmemStart: 0x100000 });
  assert.deepEqual(r.details.pvhBootCap, { kind: "present", address: PVH_ENTRY });
  assert.equal(r.entry.pvh, PVH_ENTRY);
  loadCmdline(mem, CMDLINE, cmdline());
  const params = pvhBootParams(PVH_PARAMS);
  broken?.(params);
  PvhBootConfigurator.writeBootparams(mem, params);
  const { plan, cpu } = x86PvhBoot({ entry: r.entry.pvh!, startInfo: START_INFO });
  applyPlanSync(mem, plan);
  return runX86(mem, cpu);
}

emuTest("a PVH ELF boots in 32-bit mode at its PHYS32_ENTRY and reads the configurator's start_info", async () => {
  assertPvhBoot(await bootPvhElf());
});

emuTest("the PVH proof fails when the configurator writes a wrong memmap_paddr", async () => {
  const run = await bootPvhElf((p) => {
    p.header = encodeStartInfo({
      memmapPaddr: MEMMAP + 24, // one entry too far
      memmapEntries: 2,
      cmdlinePaddr: CMDLINE,
      modlistPaddr: MODLIST,
      nrModules: 1,
    });
  });
  assert.match(run.serial, /first=0x100000:/);
  assert.throws(() => assertPvhBoot(run), assert.AssertionError);
});

// ---- (c) bzImage ----

/** (c) A bzImage whose protected-mode part holds the 64-bit stub at +0x200 (startup_64). */
async function bootBzImage(
  zeroPage: BootParamsOptions = {},
): Promise<{ run: RunResult; entry: number; load: number; mem: GuestMemory }> {
  const payload = new Uint8Array(STARTUP_64_OFFSET + stub("x86_64_linux").length).fill(0xcc); // int3 before 0x200
  payload.set(stub("x86_64_linux"), STARTUP_64_OFFSET);
  const image = buildBzImage({ payload });
  const mem = guestMem();
  const placement = bzImagePlacement(mem, await decodeBzImage(image), { highmemStart: 0x100000 });
  const r = await loadBzImage(mem, image, { loadAddress: placement.loadAddress, highmemStart: 0x100000 });
  loadCmdline(mem, CMDLINE, cmdline());
  LinuxBootConfigurator.writeBootparams(
    mem,
    new BootParams(
      encodeBootParams({ setupHeader: r.details.setupHeader, cmdlineAddr: CMDLINE, e820: E820, ...zeroPage }),
      ZERO_PAGE,
    ),
  );
  const entry = r.entry.linux64!;
  assert.equal(entry, r.loadStart + STARTUP_64_OFFSET);
  const { plan, cpu } = x86LongModeBoot({ entry, zeroPage: ZERO_PAGE });
  applyPlanSync(mem, plan);
  return { run: runX86(mem, cpu), entry, load: r.loadStart, mem };
}

emuTest("a bzImage loaded by loadBzImage starts its 64-bit stub at load + 0x200 with the zero page", async () => {
  const { run, entry, load, mem } = await bootBzImage();
  assert.equal(load, 0x1000000, "placed at pref_address");
  assertLinuxBoot(run, entry);
  const { hdr } = decodeBootParams(mem.read(ZERO_PAGE, 4096));
  assert.equal(hdr.code32_start, load, "the zero page's header says where the kernel is");
  assert.equal(hdr.version, 0x20f, "the zero page carries the bzImage's setup header");
});

emuTest("the bzImage proof fails when the configurator writes no e820 entries", async () => {
  const { run, entry } = await bootBzImage({ e820: [] });
  assert.equal(run.serial, "LINUX BAD e820_entries=0x0\n");
  assert.equal(run.registers.r15, 3n);
  assert.throws(() => assertLinuxBoot(run, entry), assert.AssertionError);
});
