/**
 * Emulator proofs of lib/boot/. x86_64: a zero page built by buildZeroPage from buildMemmap, loadInitrd and
 * writeSetupData is handed (in %rsi, 64-bit boot protocol) to fixtures/stubs/x86_64_linux_ext.S, which reads the
 * initrd fields and the initrd's first bytes, walks the setup_data list for the RNG seed and checks the e820
 * table, then reports on COM1. PVH: the emulator teammate's x86_pvh stub reads a memory map from buildMemmap
 * and the initrd module from pvhInitrdEntry. The assertions are on what the guest read and computed.
 */
import assert from "node:assert/strict";
import { SETUP_DATA, SETUP_DTB, SETUP_E820_EXT, SETUP_RNG_SEED } from "../../lib/abi/setup_data.ts";
import { BOOT_E820_ENTRY, BOOT_PARAMS } from "../../lib/abi/bootparam.ts";
import { x86LongModeBoot, x86PvhBoot } from "../../lib/boot/x86_64.ts";
import { buildMemmap, type MemmapEntry, X86_LEGACY_HOLE } from "../../lib/boot/memmap.ts";
import { type InitrdPlacement, loadInitrd, pvhInitrdEntry } from "../../lib/boot/initrd.ts";
import {
  dtbSetupData,
  e820ExtSetupData,
  rngSeedSetupData,
  type SetupDataEntry,
  writeSetupData,
} from "../../lib/boot/setup_data.ts";
import { elfSetupHeader, zeroPageBootParams } from "../../lib/boot/zero_page.ts";
import { LinuxBootConfigurator } from "../../lib/configurator/linux.ts";
import { PvhBootConfigurator, pvhBootParams } from "../../lib/configurator/pvh.ts";
import { loadCmdline } from "../../lib/loader/cmdline.ts";
import { Cmdline } from "../../lib/cmdline.ts";
import { writeCpio } from "../../lib/cpio.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { runX86 } from "../../emu/x86_64.ts";
import { assemble, haveToolchain } from "../../fixtures/build/stubs.ts";
import { EXT_STUBS, extStub } from "../../fixtures/build/ext_stubs.ts";
import { stub } from "../../fixtures/stubs.ts";
import { emuTest } from "./_unicorn.ts";

const MiB = 1 << 20;
const GiB = 2 ** 30;
const ZERO_PAGE = 0x7000;
const SETUP_DATA_AT = 0x1_2000;
const CMDLINE = 0x2_0000;
const ENTRY = 0x10_0200;
const KERNEL_END = 0x20_0000;

const INITRAMFS = writeCpio([{ type: "file", path: "init", data: "#!/bin/sh\necho hi\n", mode: 0o755 }]);

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

interface Booted {
  mem: GuestMemory;
  cpu: ReturnType<typeof x86LongModeBoot>["cpu"];
  initrd: InitrdPlacement;
  e820: MemmapEntry[];
  nodes: number[];
}

interface BootOptions {
  /** The setup_data entries; an RNG seed by default. */
  setupData?: SetupDataEntry[];
  /** The initrd bytes; a cpio newc archive by default. */
  initrd?: Uint8Array;
  /** Extra regions `[addr, size]` (above 4 GiB, say). */
  high?: [number, number];
}

/** Everything the way a VMM would do it with lib/boot/: memory map, initrd, setup_data, zero page, CPU state. */
async function boot(opts: BootOptions = {}): Promise<Booted> {
  const ranges: [number, number][] = [[0, 64 * MiB]];
  if (opts.high !== undefined) ranges.push(opts.high);
  const mem = GuestMemory.fromRanges(ranges);
  const identityGiB = opts.high === undefined ? 1 : Math.ceil((opts.high[0] + opts.high[1]) / GiB);
  const { plan, cpu } = x86LongModeBoot({ entry: ENTRY, zeroPage: ZERO_PAGE, identityGiB });
  applyPlanSync(mem, plan);
  const header = elfSetupHeader();
  const reserved = [
    X86_LEGACY_HOLE,
    { addr: ZERO_PAGE, size: BOOT_PARAMS.size, label: "zero page" },
    { addr: 0x9000, size: (2 + identityGiB) * 0x1000, label: "page tables" },
  ];
  const e820 = buildMemmap(mem, { reserved });
  const initrd = await loadInitrd(mem, opts.initrd ?? INITRAMFS, {
    header,
    kernelEnd: KERNEL_END,
    above4G: opts.high !== undefined,
  });
  const sd = writeSetupData(mem, opts.setupData ?? [rngSeedSetupData()], { header, addr: SETUP_DATA_AT });
  const cmdline = new Cmdline(256);
  cmdline.insertStr("console=ttyS0");
  loadCmdline(mem, CMDLINE, cmdline);
  const params = zeroPageBootParams(ZERO_PAGE, {
    header,
    e820,
    initrd,
    setupData: sd.nodes.length > 0 ? sd.head : undefined,
    cmdline: { addr: CMDLINE, length: "console=ttyS0".length },
  });
  LinuxBootConfigurator.writeBootparams(mem, params);
  mem.write(ENTRY, extStub("x86_64_linux_ext"));
  return { mem, cpu, initrd, e820, nodes: sd.nodes.map((n) => n.addr) };
}

function ramOf(e820: readonly MemmapEntry[]): number {
  return e820.filter((e) => e.type === 1).reduce((n, e) => n + e.size, 0);
}

emuTest("the ext stub reports the initrd, the RNG seed and the e820 map of a zero page built by lib/boot", async () => {
  const b = await boot();
  const r = runX86(b.mem, b.cpu);
  assert.equal(
    r.serial,
    `EXT OK initrd=${hex(b.initrd.addr)}:${hex(INITRAMFS.length)} setup_data=0x1 rng=0x20 e820=${
      hex(b.e820.length)
    } ram=${hex(ramOf(b.e820))}\n`,
  );
  assert.equal(r.stop, "halt");
});

emuTest(
  "the ext stub leaves the initrd range, its first bytes and the map facts it computed in registers",
  async () => {
    const b = await boot();
    const { registers: g } = runX86(b.mem, b.cpu);
    assert.equal(g.r15, 0n);
    assert.equal(g.r8, BigInt(b.initrd.addr));
    assert.equal(g.r9, BigInt(INITRAMFS.length));
    assert.equal(g.r10, new DataView(INITRAMFS.buffer).getBigUint64(0, true));
    assert.equal(g.r11, 32n);
    assert.equal(g.r12, 1n);
    assert.equal(g.r13, BigInt(b.e820.length));
    assert.equal(g.r14, BigInt(ramOf(b.e820)));
  },
);

emuTest(
  "the ext stub reads the initrd where placeInitrd put it: the highest page below the top of memory",
  async () => {
    const b = await boot();
    assert.equal(b.initrd.addr, 64 * MiB - 0x1000 * Math.ceil(INITRAMFS.length / 0x1000));
    const r = runX86(b.mem, b.cpu, { watch: [[b.initrd.addr, b.initrd.addr + b.initrd.size]] });
    assert.deepEqual(r.reads.map((x) => [x.address - b.initrd.addr, x.size]), [[0, 8], [0, 4], [4, 2]]);
  },
);

emuTest("the ext stub reads every e820 entry of the table at its zero-page offset", async () => {
  const b = await boot();
  const table = ZERO_PAGE + BOOT_PARAMS.offsetOf("e820_table");
  const r = runX86(b.mem, b.cpu, { watch: [[table, table + b.e820.length * BOOT_E820_ENTRY.size]] });
  const entriesRead = new Set(r.reads.map((x) => Math.floor((x.address - table) / BOOT_E820_ENTRY.size)));
  assert.equal(entriesRead.size, b.e820.length);
});

emuTest("the ext stub walks a three-node setup_data list and finds the RNG seed in the middle", async () => {
  const b = await boot({
    setupData: [
      dtbSetupData(new Uint8Array(48)),
      rngSeedSetupData(64),
      e820ExtSetupData([{ addr: 0x1_0000_0000, size: 0x1000, type: 2 }]),
    ],
  });
  const r = runX86(b.mem, b.cpu, { watch: [[SETUP_DATA_AT, SETUP_DATA_AT + 0x1000]] });
  assert.equal(r.registers.r12, 3n);
  assert.equal(r.registers.r11, 64n);
  const typeReads = r.reads.filter((x) => b.nodes.some((n) => x.address === n + SETUP_DATA.offsetOf("type")));
  assert.deepEqual(typeReads.map((x) => x.address), b.nodes.map((n) => n + SETUP_DATA.offsetOf("type")));
  // It reads `len` only from the node whose type is SETUP_RNG_SEED (the second: DTB, RNG seed, e820 extension).
  const lenReads = r.reads.filter((x) => b.nodes.some((n) => x.address === n + SETUP_DATA.offsetOf("len")));
  assert.deepEqual(lenReads.map((x) => x.address), [b.nodes[1] + SETUP_DATA.offsetOf("len")]);
  assert.deepEqual(
    b.nodes.map((n) => b.mem.readU32(n + SETUP_DATA.offsetOf("type"))),
    [SETUP_DTB, SETUP_RNG_SEED, SETUP_E820_EXT],
  );
});

emuTest("the ext stub reads an initrd above 4 GiB through ext_ramdisk_image", async () => {
  const b = await boot({ high: [4 * GiB, 2 * MiB] });
  assert.ok(b.initrd.addr >= 4 * GiB);
  const r = runX86(b.mem, b.cpu);
  assert.equal(r.registers.r15, 0n);
  assert.equal(r.registers.r8, BigInt(b.initrd.addr));
  assert.match(r.serial, new RegExp(`^EXT OK initrd=${hex(b.initrd.addr)}:`));
});

emuTest("the ext stub rejects an initrd that is not a cpio newc archive", async () => {
  const b = await boot({ initrd: new TextEncoder().encode("070702 old cpio with crc") });
  const r = runX86(b.mem, b.cpu);
  assert.equal(r.registers.r15, 3n);
  assert.match(r.serial, /^EXT BAD initrd_magic=0x/);
});

emuTest("the ext stub reports a zero page without a setup_data list as missing its RNG seed", async () => {
  const b = await boot({ setupData: [] });
  const r = runX86(b.mem, b.cpu);
  assert.equal(r.serial, "EXT BAD rng_seed_missing nodes=0x0\n");
  assert.equal(r.registers.r15, 5n);
});

emuTest("the ext stub rejects an RNG seed of length zero", async () => {
  const b = await boot({ setupData: [rngSeedSetupData(new Uint8Array(0))] });
  const r = runX86(b.mem, b.cpu);
  assert.equal(r.serial, "EXT BAD rng_seed_len=0x0\n");
});

emuTest("the ext stub rejects an e820 table whose entries were swapped out of order after it was written", async () => {
  const b = await boot();
  const table = ZERO_PAGE + BOOT_PARAMS.offsetOf("e820_table");
  const first = b.mem.read(table, BOOT_E820_ENTRY.size);
  b.mem.write(table, b.mem.read(table + BOOT_E820_ENTRY.size, BOOT_E820_ENTRY.size));
  b.mem.write(table + BOOT_E820_ENTRY.size, first);
  const r = runX86(b.mem, b.cpu);
  assert.equal(r.registers.r15, 8n);
  assert.equal(r.serial, "EXT BAD e820_order=0x0\n");
});

emuTest("the ext stub rejects a zero page whose ramdisk_size was cleared", async () => {
  const b = await boot();
  b.mem.writeU32(ZERO_PAGE + 0x21c, 0);
  const r = runX86(b.mem, b.cpu);
  assert.equal(r.serial, "EXT BAD ramdisk_size=0x0\n");
});

emuTest("the PVH stub reads a memory map from buildMemmap and the initrd module from the same placement", async () => {
  const START_INFO = 0x6000, MEMMAP = 0x6100, MODLIST = 0x6800, PVH_ENTRY = 0x10_0000;
  const mem = GuestMemory.fromRanges([[0, 64 * MiB]]);
  const { plan, cpu } = x86PvhBoot({ entry: PVH_ENTRY, startInfo: START_INFO });
  applyPlanSync(mem, plan);
  const memmap = buildMemmap(mem, { reserved: [X86_LEGACY_HOLE] });
  const initrd = await loadInitrd(mem, INITRAMFS, { header: elfSetupHeader(), kernelEnd: KERNEL_END });
  const cmdline = new Cmdline(64);
  cmdline.insertStr("console=hvc0");
  loadCmdline(mem, CMDLINE, cmdline);
  const params = pvhBootParams({
    startInfoAddr: START_INFO,
    memmapAddr: MEMMAP,
    memmap,
    cmdlineAddr: CMDLINE,
    modules: [pvhInitrdEntry(initrd)],
    modlistAddr: MODLIST,
  });
  PvhBootConfigurator.writeBootparams(mem, params);
  mem.write(PVH_ENTRY, stub("x86_pvh"));
  const r = runX86(mem, cpu);
  assert.equal(
    r.serial,
    `PVH OK v=0x1 cmdline=console=hvc0 memmap=${hex(memmap.length)} first=0x0:0x9fc00:0x1 modules=0x1 mod0=${
      hex(initrd.addr)
    }:${hex(initrd.size)}\n`,
  );
  assert.equal(r.registers.edi, BigInt(initrd.addr));
});

Deno.test({
  name: "the committed x86_64_linux_ext.bin is what GNU as makes of x86_64_linux_ext.S",
  ignore: !(await haveToolchain("x86_64")),
  fn: async () => {
    assert.deepEqual(await assemble(EXT_STUBS[0]), extStub("x86_64_linux_ext"));
  },
});
