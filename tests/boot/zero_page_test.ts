/**
 * The zero page builder against boot.rst's header table (offsets in `struct boot_params`: boot_flag 0x1fe,
 * header 0x202, version 0x206, type_of_loader 0x210, loadflags 0x211, code32_start 0x214, ramdisk_image 0x218,
 * ramdisk_size 0x21c, heap_end_ptr 0x224, ext_loader_ver 0x226, ext_loader_type 0x227, cmd_line_ptr 0x228,
 * kernel_alignment 0x230, setup_data 0x250, vid_mode 0x1fa) and zero-page.rst (acpi_rsdp_addr 0x070,
 * ext_ramdisk_image 0x0c0, ext_cmd_line_ptr 0x0c8, e820_entries 0x1e8, e820_table 0x2d0). The offsets are
 * written out here from the documents, not taken from lib/abi, so the test checks the tables too.
 */
import assert from "node:assert/strict";
import { LOADED_HIGH, type SetupHeader, XLF_KERNEL_64 } from "../../lib/abi/bootparam.ts";
import { CmdlineError, ConfiguratorError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { loadBzImage } from "../../lib/loader/bzimage.ts";
import { decodeBootParams, LinuxBootConfigurator } from "../../lib/configurator/linux.ts";
import { buildBzImage } from "../../fixtures/build/bzimage.ts";
import { buildMemmap, X86_LEGACY_HOLE } from "../../lib/boot/memmap.ts";
import { placeInitrd } from "../../lib/boot/initrd.ts";
import { rngSeedSetupData, writeSetupData } from "../../lib/boot/setup_data.ts";
import { buildZeroPage, elfSetupHeader, protocolVersion, zeroPageBootParams } from "../../lib/boot/zero_page.ts";

const MiB = 1 << 20;

function view(zp: Uint8Array): DataView {
  return new DataView(zp.buffer, zp.byteOffset, zp.byteLength);
}

/** A header of protocol `version` (with HdrS), other fields as a modern kernel's. */
function hdr(version: number, extra: Partial<SetupHeader> = {}): Partial<SetupHeader> {
  return { ...elfSetupHeader(), version, ...extra };
}

function tooOld(field: string, version: number): (e: unknown) => boolean {
  return (e) =>
    e instanceof ConfiguratorError && e.code === "ProtocolTooOld" && e.field === field && e.value === version &&
    new RegExp(`0x${version.toString(16)}`).test(e.message);
}

Deno.test("buildZeroPage returns 4096 bytes", () => {
  assert.equal(buildZeroPage().length, 4096);
});

Deno.test("buildZeroPage gives an ELF kernel boot_flag 0xAA55, HdrS, protocol 2.15 and type_of_loader 0xff", () => {
  const dv = view(buildZeroPage());
  assert.equal(dv.getUint16(0x1fe, true), 0xaa55);
  assert.equal(dv.getUint32(0x202, true), 0x53726448);
  assert.equal(dv.getUint16(0x206, true), 0x020f);
  assert.equal(dv.getUint8(0x210), 0xff);
});

Deno.test("buildZeroPage gives an ELF kernel kernel_alignment 16 MiB as Firecracker and Cloud Hypervisor do", () => {
  assert.equal(view(buildZeroPage()).getUint32(0x230, true), 0x100_0000);
});

Deno.test("buildZeroPage copies the setup header loadBzImage returned, code32_start at the load address", async () => {
  const mem = GuestMemory.fromRanges([[0, 8 * MiB]]);
  const image = buildBzImage({ payload: new Uint8Array(0x3000).fill(0x90) });
  const r = await loadBzImage(mem, image, { loadAddress: 0x200000 });
  const dv = view(buildZeroPage({ header: r.details.setupHeader }));
  assert.equal(dv.getUint8(0x1f1), r.details.setupHeader.setup_sects);
  assert.equal(dv.getUint32(0x214, true), 0x200000);
  assert.equal(dv.getUint8(0x211) & LOADED_HIGH, LOADED_HIGH);
  assert.equal(dv.getUint32(0x260, true), r.details.setupHeader.init_size);
  assert.equal(dv.getUint8(0x210), 0xff);
});

Deno.test("buildZeroPage writes a command line below 4 GiB to cmd_line_ptr with ext_cmd_line_ptr zero", () => {
  const dv = view(buildZeroPage({ cmdline: { addr: 0x2_0000, length: 20 } }));
  assert.equal(dv.getUint32(0x228, true), 0x2_0000);
  assert.equal(dv.getUint32(0x0c8, true), 0);
});

Deno.test("buildZeroPage splits a command line above 4 GiB into cmd_line_ptr and ext_cmd_line_ptr", () => {
  const dv = view(buildZeroPage({ cmdline: { addr: 0x2_0000_1000, length: 20 } }));
  assert.equal(dv.getUint32(0x228, true), 0x1000);
  assert.equal(dv.getUint32(0x0c8, true), 2);
});

Deno.test("buildZeroPage refuses a command line above 4 GiB for protocol 2.11 naming ext_cmd_line_ptr", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x020b), cmdline: { addr: 0x1_0000_0000, length: 1 } }),
    tooOld("ext_cmd_line_ptr", 0x020b),
  );
});

Deno.test("buildZeroPage refuses a command line above 4 GiB without XLF_CAN_BE_LOADED_ABOVE_4G", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x020f, { xloadflags: XLF_KERNEL_64 }), cmdline: { addr: 2 ** 32, length: 1 } }),
    tooOld("ext_cmd_line_ptr", 0x020f),
  );
});

Deno.test("buildZeroPage accepts a command line of exactly cmdline_size bytes", () => {
  const dv = view(
    buildZeroPage({ header: hdr(0x020f, { cmdline_size: 100 }), cmdline: { addr: 0x2_0000, length: 100 } }),
  );
  assert.equal(dv.getUint32(0x228, true), 0x2_0000);
});

Deno.test("buildZeroPage refuses a command line longer than cmdline_size with CmdlineError TooLarge", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x020f, { cmdline_size: 100 }), cmdline: { addr: 0x2_0000, length: 101 } }),
    (e) => e instanceof CmdlineError && e.code === "TooLarge" && e.field === "cmdline_size" && e.limit === 100,
  );
});

Deno.test("buildZeroPage limits the command line to 255 bytes before protocol 2.06 whatever cmdline_size says", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x0205, { cmdline_size: 2047 }), cmdline: { addr: 0x2_0000, length: 256 } }),
    (e) => e instanceof CmdlineError && e.limit === 255,
  );
});

Deno.test("buildZeroPage refuses a command line pointer before protocol 2.02", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x0201), cmdline: { addr: 0x9_0000, length: 1 } }),
    tooOld("cmd_line_ptr", 0x0201),
  );
});

Deno.test("buildZeroPage treats a header without HdrS as the old protocol", () => {
  const old = { ...elfSetupHeader(), header: 0 };
  assert.equal(protocolVersion(old), 0);
  assert.throws(
    () => buildZeroPage({ header: old, cmdline: { addr: 0x9_0000, length: 1 } }),
    tooOld("cmd_line_ptr", 0),
  );
});

Deno.test("buildZeroPage writes boot.rst's sample heap_end 0xe000 as heap_end_ptr 0xde00 with CAN_USE_HEAP", () => {
  const dv = view(buildZeroPage({ heapEndPtr: 0xe000 - 0x200 }));
  assert.equal(dv.getUint16(0x224, true), 0xde00);
  assert.equal(dv.getUint8(0x211) & 0x80, 0x80);
});

Deno.test("buildZeroPage leaves CAN_USE_HEAP clear without a heap", () => {
  assert.equal(view(buildZeroPage()).getUint8(0x211) & 0x80, 0);
});

Deno.test("buildZeroPage refuses a heap for protocol 2.00 naming heap_end_ptr", () => {
  assert.throws(() => buildZeroPage({ header: hdr(0x0200), heapEndPtr: 0x9600 }), tooOld("heap_end_ptr", 0x0200));
});

Deno.test("buildZeroPage refuses a heap_end_ptr that does not fit 16 bits", () => {
  assert.throws(
    () => buildZeroPage({ heapEndPtr: 0x1_0000 }),
    (e) => e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "heap_end_ptr",
  );
});

Deno.test("buildZeroPage sets KEEP_SEGMENTS (bit 6) for protocol 2.07", () => {
  assert.equal(view(buildZeroPage({ header: hdr(0x0207), keepSegments: true })).getUint8(0x211) & 0x40, 0x40);
});

Deno.test("buildZeroPage refuses KEEP_SEGMENTS before protocol 2.07", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x0206), keepSegments: true }),
    tooOld("loadflags.KEEP_SEGMENTS", 0x0206),
  );
});

Deno.test("buildZeroPage sets QUIET_FLAG (bit 5) on request", () => {
  assert.equal(view(buildZeroPage({ quiet: true })).getUint8(0x211) & 0x20, 0x20);
});

Deno.test("buildZeroPage encodes boot.rst's extended loader example T = 0x15, V = 0x234 as 0xE4, 0x05, 0x23", () => {
  const dv = view(buildZeroPage({ loaderId: { type: 0x15, version: 0x234 } }));
  assert.deepEqual([dv.getUint8(0x210), dv.getUint8(0x227), dv.getUint8(0x226)], [0xe4, 0x05, 0x23]);
});

Deno.test("buildZeroPage encodes a short loader id as 0xTV (QEMU 0xB, version 1)", () => {
  assert.equal(view(buildZeroPage({ loaderId: { type: 0xb, version: 1 } })).getUint8(0x210), 0xb1);
});

Deno.test("buildZeroPage refuses an extended loader id before protocol 2.02 naming ext_loader_type", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x0201), loaderId: { type: 0x11 } }),
    tooOld("ext_loader_type", 0x0201),
  );
});

Deno.test("buildZeroPage refuses the reserved loader type 0xE", () => {
  assert.throws(
    () => buildZeroPage({ loaderId: { type: 0xe } }),
    (e) => e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "loaderId.type",
  );
});

Deno.test("buildZeroPage writes vid_mode on request and keeps the header's value otherwise", () => {
  assert.equal(view(buildZeroPage({ vidMode: 0xfffd })).getUint16(0x1fa, true), 0xfffd);
  assert.equal(view(buildZeroPage({ header: hdr(0x020f, { vid_mode: 0xfffe }) })).getUint16(0x1fa, true), 0xfffe);
});

Deno.test("buildZeroPage writes the e820 map from buildMemmap at 0x2d0 with its count at 0x1e8", () => {
  const map = buildMemmap(GuestMemory.fromRanges([[0, 32 * MiB]]), { reserved: [X86_LEGACY_HOLE] });
  const dv = view(buildZeroPage({ e820: map }));
  assert.equal(dv.getUint8(0x1e8), 3);
  assert.equal(dv.getBigUint64(0x2d0 + 20, true), 0x9fc00n);
  assert.equal(dv.getBigUint64(0x2d0 + 28, true), 0x60400n);
  assert.equal(dv.getUint32(0x2d0 + 36, true), 2);
});

Deno.test("buildZeroPage refuses 129 e820 entries with TooManyEntries", () => {
  const map = Array.from({ length: 129 }, (_, i) => ({ addr: i * 0x2000, size: 0x1000, type: 1 }));
  assert.throws(
    () => buildZeroPage({ e820: map }),
    (e) => e instanceof ConfiguratorError && e.code === "TooManyEntries" && e.value === 129 && e.limit === 128,
  );
});

Deno.test("buildZeroPage writes the initrd placement to ramdisk_image and ramdisk_size", () => {
  const dv = view(buildZeroPage({ initrd: { addr: 0x7fe_0000, size: 0x2_0000 } }));
  assert.deepEqual([dv.getUint32(0x218, true), dv.getUint32(0x21c, true), dv.getUint32(0x0c0, true)], [
    0x7fe_0000,
    0x2_0000,
    0,
  ]);
});

Deno.test("buildZeroPage refuses an initrd above 4 GiB for protocol 2.11 naming ext_ramdisk_image", () => {
  assert.throws(
    () => buildZeroPage({ header: hdr(0x020b), initrd: { addr: 2 ** 32, size: 0x1000 } }),
    tooOld("ext_ramdisk_image", 0x020b),
  );
});

Deno.test("buildZeroPage writes the setup_data head at 0x250", () => {
  assert.equal(view(buildZeroPage({ setupData: 0x9000 })).getBigUint64(0x250, true), 0x9000n);
});

Deno.test("buildZeroPage refuses setup_data for protocol 2.08", () => {
  assert.throws(() => buildZeroPage({ header: hdr(0x0208), setupData: 0x9000 }), tooOld("setup_data", 0x0208));
});

Deno.test("buildZeroPage writes acpi_rsdp_addr at 0x070", () => {
  assert.equal(view(buildZeroPage({ acpiRsdpAddr: 0xe_0000 })).getBigUint64(0x070, true), 0xe_0000n);
});

Deno.test("zeroPageBootParams goes to guest memory through LinuxBootConfigurator", () => {
  const mem = GuestMemory.fromRanges([[0, 1 * MiB]]);
  LinuxBootConfigurator.writeBootparams(mem, zeroPageBootParams(0x7000, { cmdline: { addr: 0x2_0000, length: 3 } }));
  assert.equal(mem.readU32(0x7000 + 0x228), 0x2_0000);
  assert.equal(mem.readU16(0x7000 + 0x1fe), 0xaa55);
});

Deno.test("a zero page built from buildMemmap, placeInitrd and writeSetupData reads back the same facts", () => {
  const mem = GuestMemory.fromRanges([[0, 64 * MiB]]);
  const header = elfSetupHeader();
  const e820 = buildMemmap(mem, { reserved: [X86_LEGACY_HOLE] });
  const initrd = placeInitrd(mem, 0x1234, { header, kernelEnd: 0x200_0000 });
  const sd = writeSetupData(mem, [rngSeedSetupData()], { header, addr: 0x8000 });
  const d = decodeBootParams(
    buildZeroPage({ header, e820, initrd, setupData: sd.head, cmdline: { addr: 0x2_0000, length: 9 } }),
  );
  assert.equal(d.cmdlineAddr, 0x2_0000);
  assert.equal(d.hdr.ramdisk_image, initrd.addr);
  assert.equal(d.hdr.ramdisk_size, 0x1234);
  assert.equal(d.hdr.setup_data, 0x8000n);
  assert.deepEqual(d.e820.map((e) => Number(e.size)), e820.map((e) => e.size));
});
