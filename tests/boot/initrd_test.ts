/**
 * initrd placement against boot.rst ("Field name: initrd_addr_max": the highest safe byte; 0x37FFFFFF before
 * protocol 2.03; "if your ramdisk is exactly 131072 bytes long and this field is 0x37FFFFFF, you can start
 * your ramdisk at 0x37FE0000") and the three places that describe it: the zero page (ramdisk_image 0x218,
 * ramdisk_size 0x21c, ext_ramdisk_image 0xc0, ext_ramdisk_size 0xc4), the PVH module list and FDT /chosen.
 */
import assert from "node:assert/strict";
import { XLF_CAN_BE_LOADED_ABOVE_4G, XLF_KERNEL_64 } from "../../lib/abi/bootparam.ts";
import { HVM_MODLIST_ENTRY } from "../../lib/abi/start_info.ts";
import { encodeModlistEntry } from "../../lib/configurator/pvh.ts";
import { ConfiguratorError, KernelLoaderError } from "../../lib/errors.ts";
import { FdtBuilder } from "../../lib/fdt/builder.ts";
import { addChosen } from "../../lib/fdt/nodes.ts";
import { readFdt } from "../../lib/fdt/reader.ts";
import { fdtU64, findNode, getProperty } from "../../lib/fdt/tree.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { fromBytes } from "../../lib/source.ts";
import {
  canLoadAbove4G,
  chosenInitrd,
  initrdAddrMax,
  loadInitrd,
  placeInitrd,
  planInitrd,
  pvhInitrdEntry,
  pvhInitrdModule,
  writeZeroPageInitrd,
  zeroPageInitrdFields,
} from "../../lib/boot/initrd.ts";

const MiB = 1 << 20;
const GiB = 2 ** 30;
/** An x86_64 bzImage's header facts: protocol 2.15, initrd_addr_max 0x7fffffff, loadable above 4 GiB. */
const HDR_215 = {
  version: 0x020f,
  initrd_addr_max: 0x7fff_ffff,
  xloadflags: XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
};
/** A 2.11 header: has initrd_addr_max, predates xloadflags. */
const HDR_211 = { version: 0x020b, initrd_addr_max: 0x7fff_ffff, xloadflags: 0 };

/** Sparse-friendly memory: small regions, big addresses (GuestMemory allocates what it maps). */
function mem(...ranges: [number, number][]): GuestMemory {
  return GuestMemory.fromRanges(ranges);
}

function isErr(code: string, field?: string): (e: unknown) => boolean {
  return (e) =>
    (e instanceof KernelLoaderError || e instanceof ConfiguratorError) && e.code === code &&
    (field === undefined || e.field === field);
}

Deno.test("placeInitrd reproduces boot.rst's example: 131072 bytes below 0x37FFFFFF start at 0x37FE0000", () => {
  const m = mem([0x3000_0000, 0x1000_0000]);
  assert.deepEqual(placeInitrd(m, 131072, { kernelEnd: 0 }), { addr: 0x37fe_0000, size: 131072 });
});

Deno.test("placeInitrd uses initrd_addr_max from a protocol 2.03+ header", () => {
  const m = mem([0x7000_0000, 0x2000_0000]);
  const p = placeInitrd(m, 0x1800, { header: HDR_215, kernelEnd: 0 });
  assert.equal(p.addr, 0x7fff_e000);
  assert.ok(p.addr + p.size - 1 <= 0x7fff_ffff);
});

Deno.test("placeInitrd ignores initrd_addr_max before protocol 2.03, as the field is not present", () => {
  assert.equal(initrdAddrMax({ version: 0x0202, initrd_addr_max: 0x7fff_ffff }), 0x37ff_ffff);
  const m = mem([0x3000_0000, 0x2000_0000]);
  assert.equal(
    placeInitrd(m, 0x1000, { header: { version: 0x0202, initrd_addr_max: 0x7fff_ffff }, kernelEnd: 0 }).addr,
    0x37ff_f000,
  );
});

Deno.test("placeInitrd puts the initrd at the top of guest memory when memory ends below the limit", () => {
  const m = mem([0, 64 * MiB]);
  assert.deepEqual(placeInitrd(m, 0x12345, { header: HDR_215, kernelEnd: 0x200_0000 }), {
    addr: 0x3fed000,
    size: 0x12345,
  });
});

Deno.test("placeInitrd keeps the initrd in one region, moving to a lower region when the top one is too small", () => {
  const m = mem([0, 32 * MiB], [32 * MiB + 0x1000, 0x2000]);
  const p = placeInitrd(m, 0x3000, { kernelEnd: 0x100_0000 });
  assert.deepEqual(p, { addr: 32 * MiB - 0x3000, size: 0x3000 });
});

Deno.test("placeInitrd honours the requested alignment", () => {
  const m = mem([0, 64 * MiB]);
  assert.equal(placeInitrd(m, 0x1000, { kernelEnd: 0, align: 2 * MiB }).addr, 62 * MiB);
});

Deno.test("placeInitrd moves below ranges it must avoid", () => {
  const m = mem([0, 64 * MiB]);
  const p = placeInitrd(m, 0x2000, { kernelEnd: 0, avoid: [{ addr: 64 * MiB - 0x1000, size: 0x1000 }] });
  assert.equal(p.addr, 64 * MiB - 0x3000);
});

Deno.test("placeInitrd places above 4 GiB only when asked and the kernel has XLF_CAN_BE_LOADED_ABOVE_4G", () => {
  const m = mem([0, 16 * MiB], [4 * GiB, 16 * MiB]);
  assert.equal(placeInitrd(m, 0x1000, { header: HDR_215, kernelEnd: 0 }).addr, 16 * MiB - 0x1000);
  assert.equal(
    placeInitrd(m, 0x1000, { header: HDR_215, kernelEnd: 0, above4G: true }).addr,
    4 * GiB + 16 * MiB - 0x1000,
  );
});

Deno.test("placeInitrd refuses above4G for a protocol 2.11 kernel with ProtocolTooOld naming the version", () => {
  const m = mem([0, 16 * MiB]);
  assert.throws(
    () => placeInitrd(m, 0x1000, { header: HDR_211, kernelEnd: 0, above4G: true }),
    (e) => isErr("ProtocolTooOld", "xloadflags")(e) && (e as ConfiguratorError).value === 0x20b,
  );
});

Deno.test("placeInitrd refuses a kernel older than protocol 2.00, which has no initrd support", () => {
  assert.throws(
    () => placeInitrd(mem([0, MiB]), 0x1000, { header: { version: 0x0100 }, kernelEnd: 0 }),
    isErr("ProtocolTooOld", "ramdisk_image"),
  );
});

Deno.test("placeInitrd reports InitrdDoesNotFit when nothing is free above the kernel end", () => {
  assert.throws(
    () => placeInitrd(mem([0, 16 * MiB]), 0x10_0000, { kernelEnd: 16 * MiB - 0x8000 }),
    (e) => isErr("InitrdDoesNotFit", "initrd_addr_max")(e) && (e as KernelLoaderError).limit === 0x37ff_ffff,
  );
});

Deno.test("placeInitrd reports InitrdDoesNotFit when all memory lies above initrd_addr_max", () => {
  assert.throws(
    () => placeInitrd(mem([0x8000_0000, MiB]), 0x1000, { header: HDR_215, kernelEnd: 0 }),
    isErr("InitrdDoesNotFit"),
  );
});

Deno.test("placeInitrd rejects a size of zero", () => {
  assert.throws(() => placeInitrd(mem([0, MiB]), 0, { kernelEnd: 0 }), isErr("InitrdDoesNotFit", "size"));
});

Deno.test("placeInitrd rejects an alignment that is not a power of two", () => {
  assert.throws(
    () => placeInitrd(mem([0, MiB]), 1, { kernelEnd: 0, align: 0x3000 }),
    isErr("InitrdDoesNotFit", "align"),
  );
});

Deno.test("placeInitrd rejects a negative kernel end", () => {
  assert.throws(() => placeInitrd(mem([0, MiB]), 1, { kernelEnd: -1 }), isErr("InitrdDoesNotFit", "kernelEnd"));
});

Deno.test("loadInitrd copies the initrd bytes to the placement", async () => {
  const m = mem([0, 32 * MiB]);
  const bytes = new TextEncoder().encode("070701 cpio newc");
  const p = await loadInitrd(m, await fromBytes(bytes), { kernelEnd: 0x100_0000 });
  assert.deepEqual(m.read(p.addr, bytes.length), bytes);
  assert.equal(p.addr, 32 * MiB - 0x1000);
});

Deno.test("planInitrd is one copy step labelled initrd", () => {
  assert.deepEqual(planInitrd({ addr: 0x100_0000, size: 3 }, new Uint8Array(3)).steps, [
    { kind: "copy", guestAddr: 0x100_0000, length: 3, sourceOffset: 0, label: "initrd" },
  ]);
});

Deno.test("planInitrd refuses a source whose size differs from the placement", () => {
  assert.throws(() => planInitrd({ addr: 0x1000, size: 4 }, new Uint8Array(5)), isErr("InitrdDoesNotFit", "size"));
});

Deno.test("zeroPageInitrdFields leaves the ext_ramdisk fields zero below 4 GiB", () => {
  assert.deepEqual(zeroPageInitrdFields({ addr: 0x7fe0_0000, size: 0x1_0000 }, HDR_211), {
    ramdisk_image: 0x7fe0_0000,
    ramdisk_size: 0x1_0000,
    ext_ramdisk_image: 0,
    ext_ramdisk_size: 0,
  });
});

Deno.test("zeroPageInitrdFields splits an address above 4 GiB into ramdisk_image and ext_ramdisk_image", () => {
  const f = zeroPageInitrdFields({ addr: 0x3_2000_0000, size: 0x2000 }, HDR_215);
  assert.deepEqual([f.ramdisk_image, f.ext_ramdisk_image], [0x2000_0000, 3]);
});

Deno.test("zeroPageInitrdFields refuses an initrd above 4 GiB for protocol 2.11 naming ext_ramdisk_image", () => {
  assert.throws(
    () => zeroPageInitrdFields({ addr: 0x1_0000_0000, size: 0x1000 }, HDR_211),
    (e) => isErr("ProtocolTooOld", "ext_ramdisk_image")(e) && (e as ConfiguratorError).limit === 0x20c,
  );
});

Deno.test("zeroPageInitrdFields refuses a 4 GiB initrd size for a kernel without XLF_CAN_BE_LOADED_ABOVE_4G", () => {
  assert.throws(
    () => zeroPageInitrdFields({ addr: 0x1000, size: 2 ** 32 }, { version: 0x20f, xloadflags: XLF_KERNEL_64 }),
    isErr("ProtocolTooOld", "ext_ramdisk_size"),
  );
});

Deno.test("canLoadAbove4G needs protocol 2.12 as well as the xloadflags bit", () => {
  assert.equal(canLoadAbove4G({ version: 0x20b, xloadflags: XLF_CAN_BE_LOADED_ABOVE_4G }), false);
  assert.equal(canLoadAbove4G({ version: 0x20c, xloadflags: XLF_CAN_BE_LOADED_ABOVE_4G }), true);
});

Deno.test("writeZeroPageInitrd writes ramdisk_image 0x218, ramdisk_size 0x21c, ext fields 0xc0 and 0xc4", () => {
  const zp = new Uint8Array(4096);
  writeZeroPageInitrd(zp, { addr: 0x1_2345_6000, size: 0x789a }, HDR_215);
  const dv = new DataView(zp.buffer);
  assert.equal(dv.getUint32(0x218, true), 0x2345_6000);
  assert.equal(dv.getUint32(0x21c, true), 0x789a);
  assert.equal(dv.getUint32(0x0c0, true), 1);
  assert.equal(dv.getUint32(0x0c4, true), 0);
});

Deno.test("pvhInitrdModule encodes hvm_modlist_entry paddr, size, cmdline_paddr and a zero reserved field", () => {
  const bytes = pvhInitrdModule({ addr: 0x1_0000_0000, size: 0x4321 }, 0x2_0000);
  const dv = new DataView(bytes.buffer);
  assert.equal(bytes.length, HVM_MODLIST_ENTRY.size);
  assert.equal(dv.getBigUint64(0, true), 0x1_0000_0000n);
  assert.equal(dv.getBigUint64(8, true), 0x4321n);
  assert.equal(dv.getBigUint64(16, true), 0x2_0000n);
  assert.equal(dv.getBigUint64(24, true), 0n);
});

Deno.test("pvhInitrdEntry encodes through the PVH configurator to the same bytes as pvhInitrdModule", () => {
  const p = { addr: 0x3f0_0000, size: 0x777 };
  assert.deepEqual(encodeModlistEntry(pvhInitrdEntry(p, 0x2_0000)), pvhInitrdModule(p, 0x2_0000));
});

Deno.test("chosenInitrd gives /chosen linux,initrd-start and an exclusive linux,initrd-end via the FDT builder", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  addChosen(b, chosenInitrd({ addr: 0x4800_0000, size: 0x1234 }));
  b.endNode();
  const chosen = findNode(readFdt(b.finish()).root, "/chosen")!;
  assert.equal(fdtU64(getProperty(chosen, "linux,initrd-start")!), 0x4800_0000n);
  assert.equal(fdtU64(getProperty(chosen, "linux,initrd-end")!), 0x4800_1234n);
});

Deno.test("one placement fills the zero page, the PVH module and /chosen with the same range", () => {
  const p = placeInitrd(mem([0, 64 * MiB]), 0x5000, { header: HDR_215, kernelEnd: 0x200_0000 });
  const zp = new Uint8Array(4096);
  writeZeroPageInitrd(zp, p, HDR_215);
  const mod = HVM_MODLIST_ENTRY.decode(pvhInitrdModule(p));
  const chosen = chosenInitrd(p);
  assert.equal(new DataView(zp.buffer).getUint32(0x218, true), p.addr);
  assert.equal(Number(mod.paddr), p.addr);
  assert.equal(chosen.initrdStart, p.addr);
  assert.equal(chosen.initrdEnd - chosen.initrdStart, Number(mod.size));
});

Deno.test("placeInitrd with maxAddr places an arm64 initrd high in RAM above 4 GiB-free limits", () => {
  const mem = GuestMemory.fromRanges([[0x4000_0000, 64 << 20]]);
  const p = placeInitrd(mem, 0x1000, { kernelEnd: 0x4100_0000, maxAddr: Number.MAX_SAFE_INTEGER });
  assert.equal(p.addr, 0x4400_0000 - 0x1000);
});

Deno.test("placeInitrd refuses maxAddr together with an x86 header", () => {
  const mem = GuestMemory.fromRanges([[0, 64 << 20]]);
  assert.throws(
    () => placeInitrd(mem, 0x1000, { kernelEnd: 0, maxAddr: 0x100000, header: { version: 0x20f } }),
    (e: unknown) => e instanceof KernelLoaderError && e.code === "InitrdDoesNotFit" && e.field === "maxAddr",
  );
});
