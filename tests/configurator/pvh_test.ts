import assert from "node:assert/strict";
import {
  encodeMemmapEntry,
  encodeModlistEntry,
  encodeStartInfo,
  PvhBootConfigurator,
  pvhBootParams,
} from "../../lib/configurator/pvh.ts";
import { BootParams } from "../../lib/configurator/mod.ts";
import { ConfiguratorError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import {
  HVM_MEMMAP_TABLE_ENTRY,
  HVM_MODLIST_ENTRY,
  HVM_START_INFO,
  XEN_HVM_MEMMAP_TYPE_RAM,
  XEN_HVM_START_MAGIC_VALUE,
} from "../../lib/abi/start_info.ts";

const MEM_SIZE = 0x100_0000;

function guestMem(): GuestMemory {
  const mem = GuestMemory.fromRanges([[0, MEM_SIZE]]);
  mem.fill(0, MEM_SIZE, 0xaa);
  return mem;
}

function snapshot(mem: GuestMemory): Uint8Array[] {
  return mem.regions.map((r) => r.bytes.slice());
}

function throwsCode(f: () => void, code: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ConfiguratorError, `expected ConfiguratorError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

// The crate's build_bootparams_common: start info v1, one RAM entry at 0x7000 of size 0, one module.
const START_INFO_ADDR = 0x6000;
const MEMMAP_ADDR = 0x7000;
const MODLIST_ADDR = 0x6040;
const memmap = [encodeMemmapEntry({ addr: 0x7000, size: 0, type: XEN_HVM_MEMMAP_TYPE_RAM })];
const modlist = [encodeModlistEntry({ paddr: 0x10000, size: 0x100 })];

function crateParams(): BootParams {
  return new BootParams(encodeStartInfo({ memmapPaddr: MEMMAP_ADDR }), START_INFO_ADDR);
}

Deno.test("PvhBootConfigurator rejects boot params without a memory map with MemmapTableMissing", () => {
  throwsCode(() => PvhBootConfigurator.writeBootparams(guestMem(), crateParams()), "MemmapTableMissing");
});

Deno.test("PvhBootConfigurator rejects a memory map without an address with MemmapTableAddressMissing", () => {
  const p = crateParams();
  p.sections = memmap[0];
  throwsCode(() => PvhBootConfigurator.writeBootparams(guestMem(), p), "MemmapTableAddressMissing");
});

Deno.test("PvhBootConfigurator rejects a start info past the end of memory with StartInfoPastRamEnd", () => {
  const mem = guestMem();
  const p = crateParams();
  p.setSections(memmap, MEMMAP_ADDR);
  p.headerStart = mem.lastAddr - HVM_START_INFO.size + 2;
  throwsCode(() => PvhBootConfigurator.writeBootparams(mem, p), "StartInfoPastRamEnd");
});

Deno.test("PvhBootConfigurator rejects a memory map past the end of memory with MemmapTablePastRamEnd", () => {
  const mem = guestMem();
  const p = crateParams();
  p.headerStart = 0x100000;
  p.setSections(memmap, mem.lastAddr - HVM_MEMMAP_TABLE_ENTRY.size + 2);
  throwsCode(() => PvhBootConfigurator.writeBootparams(mem, p), "MemmapTablePastRamEnd");
});

Deno.test("PvhBootConfigurator writes memory map, start info and module list (crate test_configure_pvh_boot)", () => {
  const mem = guestMem();
  const p = crateParams();
  p.setSections(memmap, MEMMAP_ADDR);
  p.setModules(modlist, MODLIST_ADDR);
  PvhBootConfigurator.writeBootparams(mem, p);
  assert.equal(mem.readU32(START_INFO_ADDR), XEN_HVM_START_MAGIC_VALUE);
  assert.deepEqual(mem.read(MEMMAP_ADDR, HVM_MEMMAP_TABLE_ENTRY.size), memmap[0]);
  assert.deepEqual(HVM_MODLIST_ENTRY.decode(mem.read(MODLIST_ADDR, HVM_MODLIST_ENTRY.size)).paddr, 0x10000n);
});

Deno.test("PvhBootConfigurator rejects a memory map over a hole with MemmapTableSetup", () => {
  const mem = GuestMemory.fromRanges([[0, 0x10000], [0x20000, 0x10000]]);
  const p = crateParams();
  p.setSections(memmap, 0xfff0);
  throwsCode(() => PvhBootConfigurator.writeBootparams(mem, p), "MemmapTableSetup");
});

Deno.test("PvhBootConfigurator rejects a start info over a hole with StartInfoSetup", () => {
  const mem = GuestMemory.fromRanges([[0, 0x10000], [0x20000, 0x10000]]);
  const p = crateParams();
  p.setSections(memmap, MEMMAP_ADDR);
  p.headerStart = 0xfff0;
  throwsCode(() => PvhBootConfigurator.writeBootparams(mem, p), "StartInfoSetup");
});

Deno.test("PvhBootConfigurator rejects modules without an address with ModulesAddressMissing", () => {
  const p = crateParams();
  p.setSections(memmap, MEMMAP_ADDR);
  p.modules = modlist[0];
  throwsCode(() => PvhBootConfigurator.writeBootparams(guestMem(), p), "ModulesAddressMissing");
});

Deno.test("PvhBootConfigurator rejects a module list outside memory with ModulesSetup", () => {
  const p = crateParams();
  p.setSections(memmap, MEMMAP_ADDR);
  p.setModules(modlist, MEM_SIZE - 8);
  throwsCode(() => PvhBootConfigurator.writeBootparams(guestMem(), p), "ModulesSetup");
});

Deno.test("PvhBootConfigurator rejects a module list overlapping the start info with SectionOverlap", () => {
  const p = crateParams();
  p.setSections(memmap, MEMMAP_ADDR);
  p.setModules(modlist, START_INFO_ADDR + 0x20);
  throwsCode(() => PvhBootConfigurator.writeBootparams(guestMem(), p), "SectionOverlap");
});

Deno.test("PvhBootConfigurator leaves memory byte-identical when the start info does not fit", () => {
  const mem = guestMem();
  const p = crateParams();
  p.setSections(memmap, MEMMAP_ADDR);
  p.headerStart = MEM_SIZE - 8;
  const before = snapshot(mem);
  throwsCode(() => PvhBootConfigurator.writeBootparams(mem, p), "StartInfoPastRamEnd");
  assert.deepEqual(snapshot(mem), before, "the memory map, checked first, was not written either");
});

Deno.test("pvhBootParams builds a start info whose counts and addresses match its tables", () => {
  const p = pvhBootParams({
    startInfoAddr: 0x6000,
    memmapAddr: 0x7000,
    memmap: [{ addr: 0, size: 0x9fc00, type: 1 }, { addr: 0x100000, size: 0xf00000, type: 1 }],
    cmdlineAddr: 0x20000,
    modules: [{ paddr: 0x800000, size: 0x1000 }],
    modlistAddr: 0x6100,
    rsdpAddr: 0xe0000,
  });
  const si = HVM_START_INFO.decode(p.header);
  assert.deepEqual(si, {
    magic: XEN_HVM_START_MAGIC_VALUE,
    version: 1,
    flags: 0,
    nr_modules: 1,
    modlist_paddr: 0x6100n,
    cmdline_paddr: 0x20000n,
    rsdp_paddr: 0xe0000n,
    memmap_paddr: 0x7000n,
    memmap_entries: 2,
    reserved: 0,
  });
  assert.equal(p.sections?.length, 2 * HVM_MEMMAP_TABLE_ENTRY.size);
  assert.equal(p.sectionsStart, 0x7000);
  assert.equal(p.modulesStart, 0x6100);
});

Deno.test("pvhBootParams rejects modules without modlistAddr with ModulesAddressMissing", () => {
  throwsCode(
    () => pvhBootParams({ startInfoAddr: 0x6000, memmapAddr: 0x7000, memmap: [], modules: [{ paddr: 1, size: 1 }] }),
    "ModulesAddressMissing",
  );
});
