// Regressions found by tests/prop/configurators_test.ts, each with its request built by code.

import assert from "node:assert/strict";
import { BootParams } from "../../lib/configurator/mod.ts";
import { encodeBootParams } from "../../lib/configurator/linux.ts";
import { pvhBootParams } from "../../lib/configurator/pvh.ts";
import { configureMultiboot } from "../../lib/configurator/multiboot.ts";
import { configureMultiboot2 } from "../../lib/configurator/multiboot2.ts";
import { ConfiguratorError, hex, MultibootError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";

const isCode = (cls: typeof ConfiguratorError | typeof MultibootError, code: string) => (e: unknown) =>
  e instanceof cls && e.code === code;

// Found by "configurators write their plan or nothing": the error for a section at a fractional address
// formatted the address with hex(), which called BigInt(-5e-324) and threw a RangeError instead.
Deno.test("hex formats fractions, NaN and infinities instead of throwing a RangeError", () => {
  assert.equal(hex(-5e-324), "-5e-324");
  assert.equal(hex(0.5), "0.5");
  assert.equal(hex(NaN), "NaN");
  assert.equal(hex(-Infinity), "-Infinity");
  assert.equal(hex(-16), "-0x10");
  assert.equal(hex(2n ** 64n - 1n), "0xffffffffffffffff");
  const p = new BootParams(new Uint8Array(0), 0);
  p.addSection(new Uint8Array(0), 0);
  assert.throws(() => p.addSection(new Uint8Array(0), -5e-324), isCode(ConfiguratorError, "Overflow"));
});

// Found by "linux zero page request": checkNumber called BigInt(0.5) before checking the number.
Deno.test("encodeBootParams rejects a fractional ramdisk address with InvalidAddress, not a RangeError", () => {
  assert.throws(
    () => encodeBootParams({ ramdisk: { addr: 0.5, size: 0 } }),
    isCode(ConfiguratorError, "InvalidAddress"),
  );
  assert.throws(
    () => encodeBootParams({ cmdlineAddr: NaN }),
    isCode(ConfiguratorError, "InvalidAddress"),
  );
});

// Found by "pvh start_info request": u64() called BigInt(0.5) before checking the number.
Deno.test("pvhBootParams rejects a fractional rsdpAddr with InvalidAddress, not a RangeError", () => {
  assert.throws(
    () => pvhBootParams({ startInfoAddr: 0, memmapAddr: 0, memmap: [], rsdpAddr: 0.5 }),
    isCode(ConfiguratorError, "InvalidAddress"),
  );
  assert.throws(
    () => pvhBootParams({ startInfoAddr: 0, memmapAddr: 0, memmap: [{ addr: Infinity, size: 0, type: 1 }] }),
    isCode(ConfiguratorError, "InvalidAddress"),
  );
});

// Found by "multiboot info request": memory map ranges were encoded unchecked, so a fractional type threw a
// RangeError from BigInt() (and a negative address would have been wrapped modulo 2^64).
Deno.test("configureMultiboot and configureMultiboot2 reject a bad memory map range with InvalidMemoryMap", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  for (
    const memoryMap of [[{ addr: 0, size: 0, type: 5e-324 }], [{ addr: -1, size: 0x10, type: 1 }], [{
      addr: 0,
      size: NaN,
      type: 1,
    }]]
  ) {
    const before = mem.read(0, 0x1000);
    assert.throws(
      () => configureMultiboot(mem, { infoAddr: 0, memoryMap }),
      isCode(MultibootError, "InvalidMemoryMap"),
    );
    assert.throws(
      () => configureMultiboot2(mem, { infoAddr: 0, memoryMap }),
      isCode(MultibootError, "InvalidMemoryMap"),
    );
    assert.deepEqual(mem.read(0, 0x1000), before);
  }
  configureMultiboot(mem, { infoAddr: 0, memoryMap: [{ addr: 2 ** 40, size: 2 ** 32, type: 0xffff_ffff }] });
});

// Found by "configurators write their plan or nothing" (as a 2.8 s hang): a section 2^31 bytes past the
// list's start made addToList allocate and zero-fill a 2 GiB list (a larger gap threw a RangeError).
Deno.test("BootParams refuses a section or module so far from the list start that the list would pass 16 MiB", () => {
  const p = new BootParams(new Uint8Array(0), 0);
  p.addSection(new Uint8Array(8), 0);
  assert.throws(() => p.addSection(new Uint8Array(8), 2 ** 31), isCode(ConfiguratorError, "Overflow"));
  p.addModule(new Uint8Array(8), 0x1000);
  assert.throws(() => p.addModule(new Uint8Array(8), 0x1000 + 2 ** 40), isCode(ConfiguratorError, "Overflow"));
  // Nothing was changed by the refusals.
  assert.equal(p.sections?.byteLength, 8);
  assert.equal(p.modules?.byteLength, 8);
  p.addSection(new Uint8Array(8), (1 << 24) - 8); // the largest list still fits
  assert.equal(p.sections?.byteLength, 1 << 24);
});

// Review finding: decodeBootParams built cmdlineAddr as ext_cmd_line_ptr * 2^32 + cmd_line_ptr in floating
// point, silently rounding an address above 2^53.
Deno.test("decodeBootParams refuses a command line address above 2^53 instead of rounding it", async () => {
  const { SourceError } = await import("../../mod.ts");
  const { BOOT_PARAMS, decodeBootParams, SETUP_HEADER } = await import("../../abi.ts");
  const zp = new Uint8Array(BOOT_PARAMS.size);
  const dv = new DataView(zp.buffer);
  BOOT_PARAMS.set(dv, 0, "ext_cmd_line_ptr", 0x0020_0001); // bits 53 and 32
  SETUP_HEADER.set(dv, BOOT_PARAMS.offsetOf("hdr"), "cmd_line_ptr", 1);
  assert.throws(() => decodeBootParams(zp), (e: unknown) => e instanceof SourceError && e.code === "UnsafeInteger");
  BOOT_PARAMS.set(dv, 0, "ext_cmd_line_ptr", 0x1);
  assert.equal(decodeBootParams(zp).cmdlineAddr, 2 ** 32 + 1);
});
