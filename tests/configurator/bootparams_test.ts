import assert from "node:assert/strict";
import { decodeBootParams, encodeBootParams } from "../../lib/configurator/linux.ts";
import { encodeMemmapEntry, encodeModlistEntry, encodeStartInfo } from "../../lib/configurator/pvh.ts";
import { ConfiguratorError } from "../../lib/errors.ts";
import {
  BOOT_PARAMS,
  E820_MAX_ENTRIES_ZEROPAGE,
  E820_RAM,
  E820_RESERVED,
  HDRS_MAGIC,
  KERNEL_LOADER_OTHER,
} from "../../lib/abi/bootparam.ts";
import { HVM_MEMMAP_TABLE_ENTRY, HVM_MODLIST_ENTRY, HVM_START_INFO } from "../../lib/abi/start_info.ts";

function throwsCode(f: () => void, code: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ConfiguratorError, `expected ConfiguratorError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

Deno.test("encodeBootParams makes a 4096-byte zero page with boot flag, HdrS and loader 0xff", () => {
  const zp = encodeBootParams();
  const dv = new DataView(zp.buffer);
  assert.equal(zp.length, 4096);
  assert.equal(dv.getUint16(0x1fe, true), 0xaa55);
  assert.equal(dv.getUint32(0x202, true), HDRS_MAGIC);
  assert.equal(zp[0x210], KERNEL_LOADER_OTHER);
});

Deno.test("encodeBootParams writes the e820 table and its count at 0x2d0 and 0x1e8", () => {
  const zp = encodeBootParams({
    e820: [{ addr: 0, size: 0x9fc00, type: E820_RAM }, { addr: 0x9fc00n, size: 0x400n, type: E820_RESERVED }],
  });
  const dv = new DataView(zp.buffer);
  assert.equal(zp[0x1e8], 2);
  assert.equal(dv.getBigUint64(0x2d0 + 8, true), 0x9fc00n);
  assert.equal(dv.getUint32(0x2d0 + 16, true), E820_RAM);
  assert.equal(dv.getBigUint64(0x2d0 + 20, true), 0x9fc00n);
  assert.equal(dv.getUint32(0x2d0 + 36, true), E820_RESERVED);
});

Deno.test("encodeBootParams accepts 128 e820 entries and rejects 129 with TooManyEntries", () => {
  const e = { addr: 0, size: 0x1000, type: E820_RAM };
  assert.equal(encodeBootParams({ e820: Array(E820_MAX_ENTRIES_ZEROPAGE).fill(e) })[0x1e8], 128);
  throwsCode(() => encodeBootParams({ e820: Array(E820_MAX_ENTRIES_ZEROPAGE + 1).fill(e) }), "TooManyEntries");
});

Deno.test("encodeBootParams splits a command line address above 4 GiB into cmd_line_ptr and ext_cmd_line_ptr", () => {
  const zp = encodeBootParams({ cmdlineAddr: 0x1_2345_6000 });
  const dv = new DataView(zp.buffer);
  assert.equal(dv.getUint32(0x228, true), 0x2345_6000);
  assert.equal(dv.getUint32(0xc8, true), 1);
});

Deno.test("encodeBootParams writes the ramdisk fields and their ext_ halves", () => {
  const zp = encodeBootParams({ ramdisk: { addr: 0x2_0000_0000, size: 0x123000 } });
  const dv = new DataView(zp.buffer);
  assert.equal(dv.getUint32(0x218, true), 0);
  assert.equal(dv.getUint32(0x21c, true), 0x123000);
  assert.equal(dv.getUint32(0xc0, true), 2);
  assert.equal(dv.getUint32(0xc4, true), 0);
});

Deno.test("encodeBootParams copies a bzImage setup header and overrides only the loader's fields", () => {
  const zp = encodeBootParams({
    setupHeader: { version: 0x20f, code32_start: 0x200000, kernel_alignment: 0x200000, type_of_loader: 0 },
    cmdlineAddr: 0x20000,
  });
  const { hdr } = decodeBootParams(zp);
  assert.equal(hdr.version, 0x20f);
  assert.equal(hdr.code32_start, 0x200000);
  assert.equal(hdr.kernel_alignment, 0x200000);
  assert.equal(hdr.type_of_loader, KERNEL_LOADER_OTHER);
  assert.equal(hdr.cmd_line_ptr, 0x20000);
});

Deno.test("encodeBootParams writes acpi_rsdp_addr and setup_data", () => {
  const { params, hdr } = decodeBootParams(encodeBootParams({ acpiRsdpAddr: 0xe0000, setupData: 0x9000n }));
  assert.equal(params.acpi_rsdp_addr, 0xe0000n);
  assert.equal(hdr.setup_data, 0x9000n);
});

Deno.test("encodeBootParams rejects a negative e820 size with InvalidAddress", () => {
  throwsCode(() => encodeBootParams({ e820: [{ addr: 0, size: -1, type: 1 }] }), "InvalidAddress");
});

Deno.test("decodeBootParams reads back what encodeBootParams wrote", () => {
  const d = decodeBootParams(
    encodeBootParams({ cmdlineAddr: 0x20000, e820: [{ addr: 0x100000, size: 0x1000, type: 1 }] }),
  );
  assert.equal(d.cmdlineAddr, 0x20000);
  assert.deepEqual(d.e820, [{ addr: 0x100000n, size: 0x1000n, type: 1 }]);
  assert.equal(d.params.hdr.length, 0x7b);
});

Deno.test("decodeBootParams rejects fewer than 4096 bytes with ZeroPageSetup", () => {
  throwsCode(() => decodeBootParams(new Uint8Array(BOOT_PARAMS.size - 1)), "ZeroPageSetup");
});

Deno.test("encodeStartInfo writes magic, version 1 and the given fields", () => {
  const si = HVM_START_INFO.decode(encodeStartInfo({ cmdlinePaddr: 0x20000, memmapPaddr: 0x7000, memmapEntries: 3 }));
  assert.equal(si.magic, 0x336ec578);
  assert.equal(si.version, 1);
  assert.equal(si.cmdline_paddr, 0x20000n);
  assert.equal(si.memmap_paddr, 0x7000n);
  assert.equal(si.memmap_entries, 3);
});

Deno.test("encodeStartInfo rejects a memmap count above 2^32 with InvalidAddress", () => {
  throwsCode(() => encodeStartInfo({ memmapEntries: 2 ** 32 }), "InvalidAddress");
});

Deno.test("encodeMemmapEntry and encodeModlistEntry encode every field", () => {
  assert.deepEqual(HVM_MEMMAP_TABLE_ENTRY.decode(encodeMemmapEntry({ addr: 0x1000, size: 0x2000, type: 2 })), {
    addr: 0x1000n,
    size: 0x2000n,
    type: 2,
    reserved: 0,
  });
  assert.deepEqual(
    HVM_MODLIST_ENTRY.decode(encodeModlistEntry({ paddr: 0x10000, size: 0x100, cmdlinePaddr: 0x30000 })),
    { paddr: 0x10000n, size: 0x100n, cmdline_paddr: 0x30000n, reserved: 0n },
  );
});
