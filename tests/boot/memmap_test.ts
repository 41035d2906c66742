/**
 * Memory maps from guest memory: e820 (zero-page.rst: `e820_table` at 0x2d0, `struct boot_e820_entry`
 * { u64 addr; u64 size; u32 type } packed, 20 bytes) and the PVH map (Xen `hvm_memmap_table_entry`, 24 bytes).
 */
import assert from "node:assert/strict";
import { E820_ACPI, E820_MAX_ENTRIES_ZEROPAGE, E820_RAM, E820_RESERVED } from "../../lib/abi/bootparam.ts";
import { ConfiguratorError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import {
  buildMemmap,
  encodeE820Table,
  encodeHvmMemmap,
  type MemmapEntry,
  splitE820,
  X86_LEGACY_HOLE,
} from "../../lib/boot/memmap.ts";

const MiB = 1 << 20;
const GiB = 2 ** 30;

/** Memory without backing bytes we care about: region sizes only matter here. */
function layout(...ranges: [number, number][]): GuestMemory {
  return GuestMemory.fromRanges(ranges);
}

function fmt(map: readonly MemmapEntry[]): string[] {
  return map.map((e) => `${e.addr.toString(16)}+${e.size.toString(16)}:${e.type}`);
}

Deno.test("buildMemmap reports one guest memory region as one RAM range", () => {
  assert.deepEqual(buildMemmap(layout([0, 16 * MiB])), [{ addr: 0, size: 16 * MiB, type: E820_RAM }]);
});

Deno.test("buildMemmap splits RAM around the legacy hole as Firecracker and QEMU report it", () => {
  const map = buildMemmap(layout([0, 64 * MiB]), { reserved: [X86_LEGACY_HOLE] });
  assert.deepEqual(fmt(map), ["0+9fc00:1", "9fc00+60400:2", "100000+3f00000:1"]);
});

Deno.test("buildMemmap lists a reserved MMIO gap outside guest memory between RAM ranges, sorted", () => {
  const mem = layout([4 * GiB, GiB], [0, 3 * GiB]);
  const map = buildMemmap(mem, { reserved: [{ addr: 3 * GiB, size: GiB, label: "PCI hole" }] });
  assert.deepEqual(fmt(map), ["0+c0000000:1", "c0000000+40000000:2", "100000000+40000000:1"]);
});

Deno.test("buildMemmap merges adjacent guest memory regions into one RAM range", () => {
  assert.deepEqual(fmt(buildMemmap(layout([0, MiB], [MiB, MiB]))), ["0+200000:1"]);
});

Deno.test("buildMemmap merges overlapping and touching reserved ranges of one type", () => {
  const map = buildMemmap(layout([0, 16 * MiB]), {
    reserved: [{ addr: 0x7000, size: 0x1000 }, { addr: 0x7800, size: 0x1000 }, { addr: 0x8800, size: 0x800 }],
  });
  assert.deepEqual(fmt(map), ["0+7000:1", "7000+2000:2", "9000+ff7000:1"]);
});

Deno.test("buildMemmap gives an overlap to the larger type value, as the kernel's e820__update_table does", () => {
  const map = buildMemmap(layout([0, 16 * MiB]), {
    reserved: [{ addr: 0xe0000, size: 0x20000, type: E820_ACPI }, { addr: 0x9fc00, size: 0x60400 }],
  });
  assert.deepEqual(fmt(map), ["0+9fc00:1", "9fc00+40400:2", "e0000+20000:3", "100000+f00000:1"]);
});

Deno.test("buildMemmap leaves no overlap and no unsorted entry in a busy layout", () => {
  const mem = layout([0, 512 * MiB], [GiB, 256 * MiB]);
  const reserved = [X86_LEGACY_HOLE, { addr: 0x7000, size: 0x1000 }, { addr: 500 * MiB, size: 600 * MiB }];
  const map = buildMemmap(mem, { reserved });
  for (let i = 1; i < map.length; i++) assert.ok(map[i - 1].addr + map[i - 1].size <= map[i].addr);
  assert.deepEqual(fmt(map).slice(-2), ["1f400000+25800000:2", "44c00000+b400000:1"]);
});

Deno.test("buildMemmap rejects a reserved range of size zero naming the field", () => {
  assert.throws(
    () => buildMemmap(layout([0, MiB]), { reserved: [{ addr: 0x1000, size: 0 }] }),
    (e) => e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "reserved[0].size",
  );
});

Deno.test("buildMemmap rejects a reserved range with a fractional address", () => {
  assert.throws(
    () => buildMemmap(layout([0, MiB]), { reserved: [{ addr: 0.5, size: 1 }] }),
    (e) => e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "reserved[0].addr",
  );
});

Deno.test("buildMemmap rejects a reserved range of type 0", () => {
  assert.throws(
    () => buildMemmap(layout([0, MiB]), { reserved: [{ addr: 0, size: 1, type: 0 }] }),
    (e) => e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "reserved[0].type",
  );
});

Deno.test("encodeE820Table writes packed 20-byte boot_e820_entry records (addr, size, type)", () => {
  const bytes = encodeE820Table([
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: 0x1_0000_0000, size: 0x4000_0000, type: E820_RESERVED },
  ]);
  const dv = new DataView(bytes.buffer);
  assert.equal(bytes.length, 40);
  assert.equal(dv.getBigUint64(0, true), 0n);
  assert.equal(dv.getBigUint64(8, true), 0x9fc00n);
  assert.equal(dv.getUint32(16, true), 1);
  assert.equal(dv.getBigUint64(20, true), 0x1_0000_0000n);
  assert.equal(dv.getBigUint64(28, true), 0x4000_0000n);
  assert.equal(dv.getUint32(36, true), 2);
});

Deno.test("encodeE820Table accepts exactly E820_MAX_ENTRIES_ZEROPAGE entries", () => {
  const map = Array.from({ length: 128 }, (_, i) => ({ addr: i * 0x2000, size: 0x1000, type: E820_RAM }));
  assert.equal(encodeE820Table(map).length, 128 * 20);
});

Deno.test("encodeE820Table refuses 129 entries with TooManyEntries naming count and limit", () => {
  const map = Array.from({ length: 129 }, (_, i) => ({ addr: i * 0x2000, size: 0x1000, type: E820_RAM }));
  assert.throws(
    () => encodeE820Table(map),
    (e) =>
      e instanceof ConfiguratorError && e.code === "TooManyEntries" && e.value === 129 &&
      e.limit === E820_MAX_ENTRIES_ZEROPAGE && /129/.test(e.message) && /128/.test(e.message),
  );
});

Deno.test("encodeHvmMemmap writes 24-byte hvm_memmap_table_entry records with reserved zero", () => {
  const bytes = encodeHvmMemmap([{ addr: 0x100000, size: 0x200000, type: E820_RAM }]);
  const dv = new DataView(bytes.buffer);
  assert.equal(bytes.length, 24);
  assert.equal(dv.getBigUint64(0, true), 0x100000n);
  assert.equal(dv.getBigUint64(8, true), 0x200000n);
  assert.equal(dv.getUint32(16, true), 1);
  assert.equal(dv.getUint32(20, true), 0);
});

Deno.test("encodeHvmMemmap refuses more entries than Linux's PVH entry copies into its zero page", () => {
  const map = Array.from({ length: 129 }, (_, i) => ({ addr: i * 0x2000, size: 0x1000, type: E820_RAM }));
  assert.throws(
    () => encodeHvmMemmap(map),
    (e) => e instanceof ConfiguratorError && e.code === "TooManyEntries" && e.field === "memmap_entries",
  );
});

Deno.test("splitE820 keeps the first 128 entries for the zero page and the rest for SETUP_E820_EXT", () => {
  const map = Array.from({ length: 200 }, (_, i) => ({ addr: i * 0x2000, size: 0x1000, type: E820_RAM }));
  const { zeroPage, extended } = splitE820(map);
  assert.equal(zeroPage.length, 128);
  assert.equal(extended.length, 72);
  assert.equal(extended[0].addr, 128 * 0x2000);
});

Deno.test("buildMemmap of many holes overflows the zero page table, and the overflow is reported", () => {
  const mem = layout(...Array.from({ length: 70 }, (_, i) => [i * 4 * MiB, MiB] as [number, number]));
  const map = buildMemmap(mem, {
    reserved: Array.from({ length: 70 }, (_, i) => ({ addr: i * 4 * MiB + MiB, size: MiB })),
  });
  assert.equal(map.length, 140);
  assert.throws(() => encodeE820Table(map), (e) => e instanceof ConfiguratorError && e.value === 140);
});
