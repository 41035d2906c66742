import assert from "node:assert/strict";
import { FDT_MAX_SIZE, FdtBootConfigurator, planFdtBoot } from "../../lib/configurator/fdt.ts";
import { BootParams } from "../../lib/configurator/mod.ts";
import { ConfiguratorError } from "../../lib/errors.ts";
import { buildVmFdt, readFdt } from "../../lib/fdt/mod.ts";
import { GuestMemory } from "../../lib/memory.ts";

/** The crate's test: 16 MiB of memory at 0 and a 0x20-byte placeholder FDT. */
const MEM_SIZE = 0x100_0000;
const PLACEHOLDER = 0x20;

function patterned(ranges: [number, number][] = [[0, MEM_SIZE]]): { mem: GuestMemory; unchanged(): void } {
  const mem = GuestMemory.fromRanges(ranges);
  for (const r of mem.regions) for (let i = 0; i < r.size; i += 4096) r.bytes[i] = (i >> 12) | 1;
  const copies = mem.regions.map((r) => r.bytes.slice());
  return {
    mem,
    unchanged() {
      mem.regions.forEach((r, i) => assert.deepEqual(r.bytes, copies[i]));
    },
  };
}

function throwsConfig(fn: () => unknown, code: string, re?: RegExp): ConfiguratorError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfiguratorError, `expected ConfiguratorError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (re) assert.match(caught.message, re);
  return caught;
}

Deno.test("FdtBootConfigurator writes a blob that ends one byte before the last address (the crate's passing case)", () => {
  const mem = GuestMemory.fromRanges([[0, MEM_SIZE]]);
  const fdt = new Uint8Array(PLACEHOLDER).fill(0xaa);
  const at = mem.lastAddr - PLACEHOLDER;
  FdtBootConfigurator.writeBootparams(mem, new BootParams(fdt, at));
  assert.deepEqual(mem.read(at, PLACEHOLDER), fdt);
});

Deno.test("FdtBootConfigurator writes a blob that ends exactly at the last byte of RAM", () => {
  // The crate rejects this placement (its check asks for one byte past the blob); we accept it.
  const mem = GuestMemory.fromRanges([[0, MEM_SIZE]]);
  const at = mem.lastAddr - PLACEHOLDER + 1;
  FdtBootConfigurator.writeBootparams(mem, new BootParams(new Uint8Array(PLACEHOLDER).fill(1), at));
  assert.equal(mem.readU8(mem.lastAddr), 1);
});

Deno.test("FdtBootConfigurator rejects a blob one byte past the end of RAM as FDTPastRamEnd, memory untouched", () => {
  const { mem, unchanged } = patterned();
  const at = mem.lastAddr - PLACEHOLDER + 2;
  const e = throwsConfig(
    () => FdtBootConfigurator.writeBootparams(mem, new BootParams(new Uint8Array(PLACEHOLDER), at)),
    "FDTPastRamEnd",
    /0xffffff/,
  );
  assert.equal(e.limit, MEM_SIZE);
  unchanged();
});

Deno.test("FdtBootConfigurator rejects a blob that starts outside guest memory as FDTPastRamEnd", () => {
  const { mem, unchanged } = patterned([[0x4000_0000, MEM_SIZE]]);
  throwsConfig(
    () => FdtBootConfigurator.writeBootparams(mem, new BootParams(new Uint8Array(8), 0x1000)),
    "FDTPastRamEnd",
  );
  unchanged();
});

Deno.test("FdtBootConfigurator rejects a blob across a hole between regions as WriteFDTToMemory, memory untouched", () => {
  const { mem, unchanged } = patterned([[0, 0x10_0000], [0x20_0000, 0x10_0000]]);
  throwsConfig(
    () => FdtBootConfigurator.writeBootparams(mem, new BootParams(new Uint8Array(0x100), 0x10_0000 - 0x80)),
    "WriteFDTToMemory",
    /hole.*0x100000/,
  );
  unchanged();
});

Deno.test("FdtBootConfigurator writes a blob across two adjacent regions", () => {
  const mem = GuestMemory.fromRanges([[0, 0x10_0000], [0x10_0000, 0x10_0000]]);
  const fdt = new Uint8Array(0x100).fill(7);
  FdtBootConfigurator.writeBootparams(mem, new BootParams(fdt, 0x10_0000 - 0x80));
  assert.deepEqual(mem.read(0x10_0000 - 0x80, 0x100), fdt);
});

Deno.test("FdtBootConfigurator rejects a blob over FDT_MAX_SIZE (2 MiB) as FDTTooLarge, memory untouched", () => {
  const { mem, unchanged } = patterned();
  throwsConfig(
    () => FdtBootConfigurator.writeBootparams(mem, new BootParams(new Uint8Array(FDT_MAX_SIZE + 1), 0)),
    "FDTTooLarge",
    /0x200001.*0x200000/,
  );
  unchanged();
});

Deno.test("FdtBootConfigurator accepts a blob of exactly FDT_MAX_SIZE", () => {
  const mem = GuestMemory.fromRanges([[0, MEM_SIZE]]);
  FdtBootConfigurator.writeBootparams(mem, new BootParams(new Uint8Array(FDT_MAX_SIZE).fill(3), 0x20_0000));
  assert.equal(mem.readU8(0x40_0000 - 1), 3);
});

Deno.test("planFdtBoot returns one bytes step and writes nothing", () => {
  const { mem, unchanged } = patterned();
  const fdt = new Uint8Array(16);
  const plan = planFdtBoot(mem, new BootParams(fdt, 0x8000));
  assert.deepEqual(plan.steps, [{ kind: "bytes", guestAddr: 0x8000, bytes: fdt, label: "FDT" }]);
  unchanged();
});

Deno.test("a lib/fdt blob written by the configurator reads back from guest memory", () => {
  const mem = GuestMemory.fromRanges([[0x4000_0000, 64 << 20]]);
  const dtb = buildVmFdt(mem, { arch: "aarch64", bootargs: "console=ttyAMA0" });
  const at = 0x4000_0000 + (48 << 20);
  FdtBootConfigurator.writeBootparams(mem, new BootParams(dtb, at));
  assert.deepEqual(readFdt(mem.read(at, dtb.length)).root, readFdt(dtb).root);
});
