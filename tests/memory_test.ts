import assert from "node:assert/strict";
import { GuestMemory, MemoryError } from "../mod.ts";

const MiB = 1 << 20;

function throwsCode(fn: () => unknown, code: string, re?: RegExp): MemoryError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof MemoryError, `expected MemoryError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  if (re) assert.match(caught.message, re);
  return caught;
}

/** Two regions with a 1 MiB hole: [0, 1 MiB) and [2 MiB, 3 MiB). */
function gapped(): GuestMemory {
  return GuestMemory.fromRanges([[0, MiB], [2 * MiB, MiB]]);
}

Deno.test("GuestMemory sorts regions given out of order", () => {
  const mem = GuestMemory.fromRanges([[0x20_0000, 0x1000], [0, 0x1000]]);
  assert.deepEqual(mem.regions.map((r) => r.guestAddr), [0, 0x20_0000]);
  assert.equal(mem.lastAddr, 0x20_0fff);
  assert.equal(mem.totalSize, 0x2000);
});

Deno.test("GuestMemory rejects overlapping regions", () => {
  const e = throwsCode(() => GuestMemory.fromRanges([[0, 0x2000], [0x1000, 0x1000]]), "RegionOverlap", /overlaps/);
  assert.equal(e.value, 0x1000);
  assert.equal(e.limit, 0x2000);
});

Deno.test("GuestMemory accepts adjacent regions", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000]]);
  assert.equal(mem.regions.length, 2);
});

Deno.test("GuestMemory rejects a region of size zero", () => {
  throwsCode(() => GuestMemory.fromRanges([[0x1000, 0]]), "ZeroSize", /size 0/);
});

Deno.test("GuestMemory rejects a zero-length buffer", () => {
  throwsCode(() => new GuestMemory([{ guestAddr: 0, buffer: new ArrayBuffer(0) }]), "ZeroSize");
});

Deno.test("GuestMemory rejects a region whose end passes 2^53", () => {
  const e = throwsCode(
    () => new GuestMemory([{ guestAddr: Number.MAX_SAFE_INTEGER - 0xfff, buffer: new ArrayBuffer(0x2000) }]),
    "AddressOverflow",
  );
  assert.equal(e.field, "regions[0].size");
});

Deno.test("GuestMemory rejects an address above 2^53", () => {
  throwsCode(() => GuestMemory.fromRanges([[2 ** 53 + 2, 0x1000]]), "InvalidAddress", /safe integer/);
});

Deno.test("GuestMemory rejects a negative or fractional address", () => {
  throwsCode(() => GuestMemory.fromRanges([[-4096, 0x1000]]), "InvalidAddress");
  throwsCode(() => GuestMemory.fromRanges([[0.5, 0x1000]]), "InvalidAddress");
});

Deno.test("GuestMemory rejects a region with neither size nor buffer", () => {
  throwsCode(() => new GuestMemory([{ guestAddr: 0 }]), "InvalidBuffer", /neither a size nor a buffer/);
});

Deno.test("GuestMemory rejects a size larger than the buffer", () => {
  const e = throwsCode(
    () => new GuestMemory([{ guestAddr: 0, buffer: new ArrayBuffer(0x1000), size: 0x2000 }]),
    "InvalidBuffer",
  );
  assert.equal(e.limit, 0x1000);
});

Deno.test("GuestMemory rejects a backing that is not a buffer", () => {
  throwsCode(
    () => new GuestMemory([{ guestAddr: 0, buffer: new Uint8Array(16) as unknown as ArrayBuffer }]),
    "InvalidBuffer",
  );
});

Deno.test("GuestMemory uses an ArrayBuffer in place, without a copy", () => {
  const buf = new ArrayBuffer(0x1000);
  const mem = new GuestMemory([{ guestAddr: 0x4000, buffer: buf }]);
  mem.writeU8(0x4010, 0x5a);
  assert.equal(new Uint8Array(buf)[0x10], 0x5a);
});

Deno.test("GuestMemory uses a SharedArrayBuffer in place", () => {
  const buf = new SharedArrayBuffer(0x1000);
  const mem = new GuestMemory([{ guestAddr: 0, buffer: buf }]);
  mem.writeU32(4, 0x01020304);
  assert.equal(new Uint8Array(buf)[4], 4);
});

Deno.test("GuestMemory uses a WebAssembly.Memory and follows it when it grows", () => {
  const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const mem = new GuestMemory([{ guestAddr: 0, buffer: wasm, size: 0x1000 }]);
  mem.writeU16(0x10, 0xbeef);
  wasm.grow(1); // detaches the old ArrayBuffer
  assert.equal(mem.readU16(0x10), 0xbeef);
  mem.writeU8(0x20, 7);
  assert.equal(new Uint8Array(wasm.buffer)[0x20], 7);
});

Deno.test("GuestMemory honours a buffer offset", () => {
  const buf = new ArrayBuffer(0x3000);
  const mem = new GuestMemory([{ guestAddr: 0, buffer: buf, bufferOffset: 0x1000, size: 0x1000 }]);
  mem.writeU8(0, 9);
  assert.equal(new Uint8Array(buf)[0x1000], 9);
});

Deno.test("GuestMemory reads and writes little-endian scalars", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  mem.writeU64(0x100, 0x1122334455667788n);
  assert.equal(mem.readU8(0x100), 0x88);
  assert.equal(mem.readU16(0x100), 0x7788);
  assert.equal(mem.readU32(0x100), 0x55667788);
  assert.equal(mem.readU64(0x100), 0x1122334455667788n);
  mem.writeU64(0x200, 0xffff_ffff_ffff_ffffn);
  assert.equal(mem.readU64(0x200), 2n ** 64n - 1n);
  mem.writeU64(0x300, 5);
  assert.equal(mem.readU64(0x300), 5n);
});

Deno.test("GuestMemory writes and reads across two adjacent regions", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000]]);
  const data = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
  mem.write(0xff8, data);
  assert.deepEqual(mem.read(0xff8, 16), data);
  assert.equal(mem.regions[0].bytes[0xfff], 8);
  assert.equal(mem.regions[1].bytes[0], 9);
});

Deno.test("GuestMemory reads and writes a u32 split between adjacent regions", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000]]);
  mem.writeU32(0xffe, 0xa1b2c3d4);
  assert.equal(mem.readU32(0xffe), 0xa1b2c3d4);
  mem.writeU64(0xffc, 0x0102030405060708n);
  assert.equal(mem.readU64(0xffc), 0x0102030405060708n);
});

Deno.test("GuestMemory refuses a write that crosses a gap and writes nothing", () => {
  const mem = gapped();
  const e = throwsCode(
    () => mem.write(MiB - 4, new Uint8Array(8).fill(0xff)),
    "OutOfRange",
    /0x100000 is in no region/,
  );
  assert.equal(e.value, MiB);
  assert.equal(mem.readU32(MiB - 4), 0);
});

Deno.test("GuestMemory refuses a read past the last region", () => {
  const mem = gapped();
  const e = throwsCode(() => mem.read(3 * MiB - 2, 4), "OutOfRange");
  assert.equal(e.value, 3 * MiB);
});

Deno.test("GuestMemory refuses scalar accesses outside memory", () => {
  const mem = gapped();
  throwsCode(() => mem.readU8(MiB), "OutOfRange");
  throwsCode(() => mem.readU16(MiB - 1), "OutOfRange");
  throwsCode(() => mem.readU64(3 * MiB - 4), "OutOfRange");
  throwsCode(() => mem.writeU32(MiB - 2, 1), "OutOfRange");
  throwsCode(() => mem.writeU64(5 * MiB, 1n), "OutOfRange");
  throwsCode(() => mem.writeU8(MiB + 1, 1), "OutOfRange");
  throwsCode(() => mem.writeU16(-2, 1), "InvalidAddress");
});

Deno.test("GuestMemory refuses an address above 2^53 on access", () => {
  const mem = gapped();
  throwsCode(() => mem.readU8(2 ** 53 + 8), "InvalidAddress");
  throwsCode(() => mem.write(2 ** 60, new Uint8Array(1)), "InvalidAddress");
  throwsCode(() => mem.checkRange(0, 2 ** 53), "InvalidAddress");
});

Deno.test("GuestMemory refuses a fractional address on scalar access", () => {
  const mem = gapped();
  throwsCode(() => mem.readU32(1.5), "InvalidAddress");
  throwsCode(() => mem.writeU32(1.5, 0), "InvalidAddress");
});

Deno.test("GuestMemory.checkRange names the first byte outside memory", () => {
  const mem = gapped();
  mem.checkRange(0, MiB);
  mem.checkRange(2 * MiB, MiB);
  const e = throwsCode(() => mem.checkRange(MiB - 16, 32, "cmdline"), "OutOfRange", /^cmdline \[0xffff0, 0x100010\)/);
  assert.equal(e.field, "cmdline");
  assert.equal(e.value, MiB);
  assert.equal(mem.firstMissing(2 * MiB - 1, 2), 2 * MiB - 1);
  assert.equal(mem.firstMissing(0, 16), undefined);
});

Deno.test("GuestMemory.checkRange reports a range whose end passes 2^53", () => {
  const top = 2 ** 53 - 0x1000;
  const mem = new GuestMemory([{ guestAddr: top, size: 0x1000 }]);
  assert.equal(mem.firstMissing(top + 0xff0, 0x20), 2 ** 53);
  assert.equal(mem.firstMissing(2 ** 52, 2 ** 52), 2 ** 52);
});

Deno.test("GuestMemory.isRange is false for a bad range and never throws", () => {
  const mem = gapped();
  assert.equal(mem.isRange(0, MiB), true);
  assert.equal(mem.isRange(0, MiB + 1), false);
  assert.equal(mem.isRange(-1, 1), false);
  assert.equal(mem.isRange(0, NaN), false);
  assert.equal(mem.isRange(2 ** 53, 1), false);
  assert.equal(mem.isRange(5, 0), true);
});

Deno.test("GuestMemory.subarray is a zero-copy view of one region", () => {
  const mem = gapped();
  const v = mem.subarray(2 * MiB + 8, 4);
  v.set([1, 2, 3, 4]);
  assert.equal(mem.readU32(2 * MiB + 8), 0x04030201);
  assert.equal(v.buffer, mem.regions[1].bytes.buffer);
});

Deno.test("GuestMemory.subarray refuses a range spanning two regions", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000]]);
  const e = throwsCode(() => mem.subarray(0xff0, 0x20), "CrossesRegion");
  assert.equal(e.limit, 0x1000);
});

Deno.test("GuestMemory.subarray refuses a range outside memory", () => {
  throwsCode(() => gapped().subarray(MiB, 1), "OutOfRange");
});

Deno.test("GuestMemory.slices splits a range at region boundaries", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000], [0x2000, 0x1000]]);
  const s = mem.slices(0xf00, 0x1200);
  assert.deepEqual(s.map((x) => x.byteLength), [0x100, 0x1000, 0x100]);
});

Deno.test("GuestMemory.fill sets a range across regions", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000]]);
  mem.fill(0xffe, 4, 0xab);
  assert.equal(mem.readU32(0xffe), 0xabababab);
  assert.equal(mem.readU8(0xffd), 0);
  assert.equal(mem.readU8(0x1002), 0);
});

Deno.test("GuestMemory.fill outside memory writes nothing", () => {
  const mem = gapped();
  throwsCode(() => mem.fill(MiB - 2, 4, 0xff), "OutOfRange");
  assert.equal(mem.readU16(MiB - 2), 0);
});

Deno.test("GuestMemory.read refuses a bad length", () => {
  throwsCode(() => gapped().read(0, -1), "InvalidAddress");
});

Deno.test("GuestMemory.findRegion finds regions by binary search", () => {
  const ranges: [number, number][] = Array.from({ length: 64 }, (_, i) => [i * 0x2000, 0x1000]);
  const mem = GuestMemory.fromRanges(ranges);
  for (let i = 0; i < 64; i++) {
    assert.equal(mem.findRegion(i * 0x2000 + 0xfff)?.guestAddr, i * 0x2000);
    assert.equal(mem.findRegion(i * 0x2000 + 0x1000), undefined);
  }
});

Deno.test("empty GuestMemory has no last address and holds nothing", () => {
  const mem = new GuestMemory([]);
  assert.equal(mem.lastAddr, -1);
  assert.equal(mem.isRange(0, 1), false);
  assert.equal(mem.isRange(0, 0), true);
});

/** Bytes in one host page on the machines the tests run on (x86-64, arm64 with 4 KiB pages). */
const HOST_PAGE = 4096;

Deno.test("GuestMemory.fromRanges backs a region with page-aligned memory and exposes exactly its size", () => {
  const size = 0x1_2345; // not a multiple of the 64 KiB WebAssembly page
  const mem = GuestMemory.fromRanges([[0x10_0000, size]]);
  const [r] = mem.regions;
  assert.ok(r.backing instanceof WebAssembly.Memory, "a fresh region is a WebAssembly.Memory");
  assert.equal(r.backing.buffer.byteLength, 0x2_0000); // rounded up to two 64 KiB pages
  assert.equal(r.bytes.byteLength, size);
  assert.equal(r.view.byteLength, size);
  // Its first byte starts a host page (an ArrayBuffer this large starts 16 bytes past one in V8).
  const addr = Deno.UnsafePointer.value(Deno.UnsafePointer.of(r.bytes));
  assert.equal(BigInt(addr) % BigInt(HOST_PAGE), 0n);
  assert.ok(r.bytes.every((b) => b === 0));
  mem.writeU8(0x10_0000 + size - 1, 0xab);
  throwsCode(() => mem.writeU8(0x10_0000 + size, 1), "OutOfRange");
  assert.equal(mem.lastAddr, 0x10_0000 + size - 1);
  // Fixed size: growing it is refused, so the region's views are never detached.
  assert.throws(() => (r.backing as WebAssembly.Memory).grow(1), RangeError);
  assert.equal(mem.readU8(0x10_0000 + size - 1), 0xab);
});

Deno.test("GuestMemory.fromRanges falls back to an ArrayBuffer where no WebAssembly.Memory can be made", () => {
  const real = WebAssembly.Memory;
  class Refusing {
    constructor() {
      throw new RangeError("WebAssembly.Memory(): could not allocate memory");
    }
  }
  Object.defineProperty(WebAssembly, "Memory", { value: Refusing, writable: true, configurable: true });
  let mem: GuestMemory;
  try {
    mem = GuestMemory.fromRanges([[0, 0x3000]]);
  } finally {
    Object.defineProperty(WebAssembly, "Memory", { value: real, writable: true, configurable: true });
  }
  const [r] = mem.regions;
  assert.ok(r.backing instanceof ArrayBuffer);
  assert.equal(r.backing.byteLength, 0x3000);
  mem.writeU32(0x2ffc, 0xdeadbeef);
  assert.equal(mem.readU32(0x2ffc), 0xdeadbeef);
});
