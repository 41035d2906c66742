import assert from "node:assert/strict";
import {
  configureMultiboot,
  multibootMemoryMap,
  multibootMemorySizes,
  planMultibootInfo,
} from "../../lib/configurator/multiboot.ts";
import { configureMultiboot2, planMultiboot2Info } from "../../lib/configurator/multiboot2.ts";
import {
  MULTIBOOT2_MMAP_ENTRY,
  MULTIBOOT2_MMAP_TAG,
  MULTIBOOT2_MODULE_TAG,
  MULTIBOOT_INFO,
  MULTIBOOT_MMAP_ENTRY,
  MULTIBOOT_MODULE,
} from "../../lib/abi/multiboot.ts";
import { KernelLoaderError, MultibootError, type MultibootErrorCode } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { checkNoOverlap } from "../../lib/plan.ts";
import { planMultiboot } from "../../lib/loader/multiboot.ts";
import { buildMultibootAout } from "../../fixtures/build/multiboot.ts";

const INFO = 0x9000;

function memory(): GuestMemory {
  return GuestMemory.fromRanges([[0, 0x9_f000], [0x10_0000, 0xf0_0000]]); // 636 KiB low, 15 MiB from 1 MiB
}

function cstring(mem: GuestMemory, addr: number): string {
  let end = addr;
  while (mem.readU8(end) !== 0) end++;
  return new TextDecoder().decode(mem.read(addr, end - addr));
}

function info(mem: GuestMemory): ReturnType<typeof MULTIBOOT_INFO.read> {
  return MULTIBOOT_INFO.decode(mem.read(INFO, MULTIBOOT_INFO.size));
}

function expectCode(fn: () => unknown, code: MultibootErrorCode, field?: string): MultibootError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MultibootError, String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field);
    return e;
  }
  throw new Error(`expected ${code}`);
}

// ---------------------------------------------------------------------------------------------------
// Memory sizes and maps
// ---------------------------------------------------------------------------------------------------

Deno.test("multibootMemoryMap lists every guest memory region as available RAM", () => {
  assert.deepEqual(multibootMemoryMap(memory()), [
    { addr: 0, size: 0x9_f000, type: 1 },
    { addr: 0x10_0000, size: 0xf0_0000, type: 1 },
  ]);
});

Deno.test("multibootMemorySizes counts lower memory from 0 and upper memory from 1 MiB to the first hole", () => {
  assert.deepEqual(multibootMemorySizes(multibootMemoryMap(memory())), { memLower: 636, memUpper: 15 * 1024 });
});

Deno.test("multibootMemorySizes caps lower memory at 640 KiB", () => {
  assert.equal(multibootMemorySizes([{ addr: 0, size: 2 << 20, type: 1 }]).memLower, 640);
});

Deno.test("multibootMemorySizes ignores reserved ranges", () => {
  const sizes = multibootMemorySizes([
    { addr: 0, size: 0xa_0000, type: 1 },
    { addr: 0x10_0000, size: 0x10_0000, type: 1 },
    { addr: 0x20_0000, size: 0x10_0000, type: 2 },
  ]);
  assert.equal(sizes.memUpper, 1024);
});

// ---------------------------------------------------------------------------------------------------
// Multiboot 1
// ---------------------------------------------------------------------------------------------------

Deno.test("planMultibootInfo returns the entry registers and writes nothing", () => {
  const mem = memory();
  const r = planMultibootInfo(mem, { infoAddr: INFO, cmdline: "x" });
  assert.deepEqual(r.registers, { eax: 0x2badb002, ebx: INFO });
  assert.equal(mem.readU32(INFO), 0);
});

Deno.test("configureMultiboot sets the memory, cmdline, modules, memory map and boot loader name flags", () => {
  const mem = memory();
  configureMultiboot(mem, { infoAddr: INFO, cmdline: "console=ttyS0" });
  assert.equal(info(mem).flags, 0x1 | 0x4 | 0x8 | 0x40 | 0x200);
});

Deno.test("configureMultiboot leaves the cmdline flag clear without a command line", () => {
  const mem = memory();
  configureMultiboot(mem, { infoAddr: INFO });
  assert.equal(info(mem).flags & 0x4, 0);
  assert.equal(info(mem).cmdline, 0);
});

Deno.test("configureMultiboot writes mem_lower and mem_upper in KiB", () => {
  const mem = memory();
  configureMultiboot(mem, { infoAddr: INFO });
  assert.deepEqual([info(mem).mem_lower, info(mem).mem_upper], [636, 15 * 1024]);
});

Deno.test("configureMultiboot writes the command line and the boot loader name as C strings", () => {
  const mem = memory();
  configureMultiboot(mem, { infoAddr: INFO, cmdline: "root=/dev/vda ro", bootLoaderName: "test vmm" });
  assert.equal(cstring(mem, info(mem).cmdline), "root=/dev/vda ro");
  assert.equal(cstring(mem, info(mem).boot_loader_name), "test vmm");
});

Deno.test("configureMultiboot writes one 24-byte memory map entry per range, size field 20", () => {
  const mem = memory();
  configureMultiboot(mem, { infoAddr: INFO });
  const i = info(mem);
  assert.equal(i.mmap_length, 2 * 24);
  const e1 = MULTIBOOT_MMAP_ENTRY.decode(mem.read(i.mmap_addr + 24, 24));
  assert.deepEqual(e1, { size: 20, addr: 0x10_0000n, len: 0xf0_0000n, type: 1 });
});

Deno.test("configureMultiboot uses a given memory map instead of the regions", () => {
  const mem = memory();
  configureMultiboot(mem, { infoAddr: INFO, memoryMap: [{ addr: 0xfee0_0000, size: 0x1000, type: 2 }] });
  const i = info(mem);
  assert.equal(i.mmap_length, 24);
  assert.equal(MULTIBOOT_MMAP_ENTRY.decode(mem.read(i.mmap_addr, 24)).type, 2);
  assert.deepEqual([i.mem_lower, i.mem_upper], [0, 0]);
});

Deno.test("configureMultiboot writes the module list with each module's bounds and string", () => {
  const mem = memory();
  configureMultiboot(mem, {
    infoAddr: INFO,
    modules: [{ addr: 0x40_0000, size: 0x1234, cmdline: "first" }, { addr: 0x50_0000, size: 8, cmdline: "second" }],
  });
  const i = info(mem);
  assert.equal(i.mods_count, 2);
  const m1 = MULTIBOOT_MODULE.decode(mem.read(i.mods_addr + 16, 16));
  assert.deepEqual([m1.mod_start, m1.mod_end, cstring(mem, m1.cmdline)], [0x50_0000, 0x50_0008, "second"]);
  assert.equal(cstring(mem, MULTIBOOT_MODULE.decode(mem.read(i.mods_addr, 16)).cmdline), "first");
});

Deno.test("configureMultiboot copies module bytes given with the module", () => {
  const mem = memory();
  configureMultiboot(mem, { infoAddr: INFO, modules: [{ addr: 0x40_0000, bytes: new Uint8Array([1, 2, 3]) }] });
  assert.deepEqual([...mem.read(0x40_0000, 3)], [1, 2, 3]);
});

Deno.test("planMultibootInfo refuses a string with a NUL byte", () => {
  expectCode(() => planMultibootInfo(memory(), { infoAddr: INFO, cmdline: "a\0b" }), "InvalidString", "cmdline");
});

Deno.test("planMultibootInfo refuses a module off a page boundary when the kernel asked for page alignment", () => {
  const opts = { infoAddr: INFO, modules: [{ addr: 0x40_0010, size: 4 }], pageAlignModules: true };
  expectCode(() => planMultibootInfo(memory(), opts), "Misaligned", "modules[0].addr");
});

Deno.test("planMultibootInfo accepts an unaligned module when the kernel did not ask", () => {
  const r = planMultibootInfo(memory(), { infoAddr: INFO, modules: [{ addr: 0x40_0010, size: 4 }] });
  assert.equal(r.plan.steps.length, 1);
});

Deno.test("planMultibootInfo refuses an information address that is not 4-byte aligned", () => {
  expectCode(() => planMultibootInfo(memory(), { infoAddr: INFO + 2 }), "Misaligned", "infoAddr");
});

Deno.test("planMultibootInfo refuses a module with neither bytes nor size", () => {
  expectCode(() => planMultibootInfo(memory(), { infoAddr: INFO, modules: [{ addr: 0x40_0000 }] }), "InvalidModule");
});

Deno.test("planMultibootInfo refuses a module size that disagrees with its bytes", () => {
  const opts = { infoAddr: INFO, modules: [{ addr: 0x40_0000, bytes: new Uint8Array(4), size: 5 }] };
  expectCode(() => planMultibootInfo(memory(), opts), "InvalidModule", "modules[0].size");
});

Deno.test("planMultibootInfo refuses a module that passes 4 GiB", () => {
  const opts = { infoAddr: INFO, modules: [{ addr: 0xffff_f000, size: 0x2000 }] };
  expectCode(() => planMultibootInfo(memory(), opts), "AddressOverflow", "modules[0].addr");
});

Deno.test("planMultibootInfo refuses information that passes 4 GiB", () => {
  expectCode(() => planMultibootInfo(memory(), { infoAddr: 0xffff_ffc0 }), "AddressOverflow", "infoAddr");
});

Deno.test("configureMultiboot reports a module overlapping the information before writing", () => {
  const mem = memory();
  assert.throws(
    () => configureMultiboot(mem, { infoAddr: INFO, modules: [{ addr: INFO + 0x40, bytes: new Uint8Array(8) }] }),
    (e) => e instanceof KernelLoaderError && e.code === "PlanOverlap",
  );
  assert.equal(mem.readU32(INFO), 0);
});

Deno.test("configureMultiboot writes nothing when the information does not fit in guest memory", () => {
  const mem = memory();
  assert.throws(
    () => configureMultiboot(mem, { infoAddr: 0x9_efc0, modules: [{ addr: 0x40_0000, bytes: new Uint8Array([7]) }] }),
    (e) => e instanceof KernelLoaderError && e.code === "MemoryOverflow",
  );
  assert.equal(mem.readU8(0x40_0000), 0);
});

// ---------------------------------------------------------------------------------------------------
// Multiboot2
// ---------------------------------------------------------------------------------------------------

interface Tag {
  type: number;
  size: number;
  at: number;
}

function tags(mem: GuestMemory, base: number): Tag[] {
  const out: Tag[] = [];
  const total = mem.readU32(base);
  let at = base + 8;
  while (at < base + total) {
    const t = { type: mem.readU32(at), size: mem.readU32(at + 4), at };
    out.push(t);
    if (t.type === 0) break;
    at += Math.ceil(t.size / 8) * 8;
  }
  return out;
}

Deno.test("planMultiboot2Info returns the Multiboot2 entry registers and writes nothing", () => {
  const mem = memory();
  const r = planMultiboot2Info(mem, { infoAddr: INFO });
  assert.deepEqual(r.registers, { eax: 0x36d76289, ebx: INFO });
  assert.equal(mem.readU32(INFO), 0);
});

Deno.test("configureMultiboot2 writes total_size, reserved, then cmdline, loader, module, meminfo, mmap and end tags", () => {
  const mem = memory();
  const r = configureMultiboot2(mem, { infoAddr: INFO, cmdline: "quiet", modules: [{ addr: 0x40_0000, size: 16 }] });
  assert.equal(mem.readU32(INFO), r.infoEnd - INFO);
  assert.equal(mem.readU32(INFO + 4), 0);
  assert.deepEqual(tags(mem, INFO).map((t) => t.type), [1, 2, 3, 4, 6, 0]);
});

Deno.test("configureMultiboot2 starts every tag on an 8-byte boundary and ends with an 8-byte end tag", () => {
  const mem = memory();
  const r = configureMultiboot2(mem, {
    infoAddr: INFO,
    cmdline: "odd length",
    modules: [{ addr: 0x40_0000, size: 1 }],
  });
  const ts = tags(mem, INFO);
  assert.ok(ts.every((t) => t.at % 8 === 0));
  assert.deepEqual(ts.at(-1), { type: 0, size: 8, at: r.infoEnd - 8 });
});

Deno.test("configureMultiboot2 writes the command line and boot loader name tags with their strings", () => {
  const mem = memory();
  configureMultiboot2(mem, { infoAddr: INFO, cmdline: "console=ttyS0", bootLoaderName: "vmm" });
  const [cmd, name] = tags(mem, INFO);
  assert.deepEqual([cmd.size, cstring(mem, cmd.at + 8)], [8 + 14, "console=ttyS0"]);
  assert.equal(cstring(mem, name.at + 8), "vmm");
});

Deno.test("configureMultiboot2 writes a module tag with start, end and string", () => {
  const mem = memory();
  configureMultiboot2(mem, { infoAddr: INFO, modules: [{ addr: 0x40_0000, size: 0x100, cmdline: "initrd" }] });
  const t = tags(mem, INFO).find((x) => x.type === 3)!;
  const m = MULTIBOOT2_MODULE_TAG.decode(mem.read(t.at, 16));
  assert.deepEqual([m.mod_start, m.mod_end, m.size, cstring(mem, t.at + 16)], [0x40_0000, 0x40_0100, 16 + 7, "initrd"]);
});

Deno.test("configureMultiboot2 writes basic meminfo in KiB", () => {
  const mem = memory();
  configureMultiboot2(mem, { infoAddr: INFO });
  const t = tags(mem, INFO).find((x) => x.type === 4)!;
  assert.deepEqual([t.size, mem.readU32(t.at + 8), mem.readU32(t.at + 12)], [16, 636, 15 * 1024]);
});

Deno.test("configureMultiboot2 writes a memory map tag with 24-byte version-0 entries", () => {
  const mem = memory();
  configureMultiboot2(mem, { infoAddr: INFO });
  const t = tags(mem, INFO).find((x) => x.type === 6)!;
  const head = MULTIBOOT2_MMAP_TAG.decode(mem.read(t.at, 16));
  assert.deepEqual([head.size, head.entry_size, head.entry_version], [16 + 2 * 24, 24, 0]);
  const e1 = MULTIBOOT2_MMAP_ENTRY.decode(mem.read(t.at + 16 + 24, 24));
  assert.deepEqual(e1, { base_addr: 0x10_0000n, length: 0xf0_0000n, type: 1, reserved: 0 });
});

Deno.test("configureMultiboot2 leaves out the cmdline tag without a command line", () => {
  const mem = memory();
  configureMultiboot2(mem, { infoAddr: INFO });
  assert.deepEqual(tags(mem, INFO).map((t) => t.type), [2, 4, 6, 0]);
});

Deno.test("planMultiboot2Info refuses an information address that is not 8-byte aligned", () => {
  expectCode(() => planMultiboot2Info(memory(), { infoAddr: INFO + 4 }), "Misaligned", "infoAddr");
});

Deno.test("planMultiboot2Info refuses a boot loader name with a NUL byte", () => {
  expectCode(
    () => planMultiboot2Info(memory(), { infoAddr: INFO, bootLoaderName: "\0" }),
    "InvalidString",
    "bootLoaderName",
  );
});

Deno.test("planMultiboot2Info refuses an unaligned module when the kernel asked for module alignment", () => {
  const opts = { infoAddr: INFO, modules: [{ addr: 0x40_0800, size: 4 }], pageAlignModules: true };
  expectCode(() => planMultiboot2Info(memory(), opts), "Misaligned", "modules[0].addr");
});

Deno.test("planMultiboot2Info refuses information that passes 4 GiB", () => {
  expectCode(() => planMultiboot2Info(memory(), { infoAddr: 0xffff_ffc0 }), "AddressOverflow", "infoAddr");
});

Deno.test("boot information placed inside the kernel is reported as an overlap before anything is written", async () => {
  const mem = memory();
  const load = await planMultiboot(mem, buildMultibootAout({ code: new Uint8Array(0x100) }));
  const info = planMultibootInfo(mem, { infoAddr: load.loadStart + 0x80 });
  assert.throws(
    () => checkNoOverlap(load.plan, info.plan),
    (e) => e instanceof KernelLoaderError && e.code === "PlanOverlap" && e.message.includes("multiboot text+data"),
  );
  assert.equal(mem.readU32(load.loadStart), 0);
});
