// Regressions in lib/memory.ts found by hostile input (issue 18, items 4 and 5).

import assert from "node:assert/strict";
import { GuestMemory, loadElf, MemoryError, SourceError } from "../../mod.ts";
import { demoKernel } from "../../emu/demo_kernels.ts";
import { throwsWith } from "../_assert.ts";

const TOP = 2 ** 53; // one past the highest safe address

Deno.test("isRange is exact at 2^53: a range ending one past the last region byte at 2^53 - 1 is refused", () => {
  const mem = new GuestMemory([{ guestAddr: TOP - 0x1000, size: 0x1000 }]);
  assert.equal(mem.isRange(TOP - 1, 1), true);
  assert.equal(mem.isRange(TOP - 1, 2), false, "2^53 - 1 + 2 rounds to 2^53 in doubles");
  assert.equal(mem.firstMissing(TOP - 1, 2), TOP);
  assert.equal(mem.firstMissing(TOP - 0x1000, Number.MAX_SAFE_INTEGER), TOP);
});

Deno.test("fill, write and read partly past 2^53 are typed OutOfRange errors, nothing written", () => {
  const mem = new GuestMemory([{ guestAddr: TOP - 0x1000, size: 0x1000 }]);
  throwsWith(() => mem.fill(TOP - 1, 2, 0xff), MemoryError, "OutOfRange");
  throwsWith(() => mem.write(TOP - 1, new Uint8Array(2).fill(1)), MemoryError, "OutOfRange");
  throwsWith(() => mem.read(TOP - 1, 2), MemoryError, "OutOfRange");
  throwsWith(() => mem.writeU16(TOP - 1, 0xffff), MemoryError, "OutOfRange");
  throwsWith(() => mem.readU64(TOP - 4), MemoryError, "OutOfRange");
  assert.equal(mem.readU8(TOP - 1), 0);
});

Deno.test("an error message names the exact end of a range past 2^53, not a rounded one", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  try {
    mem.checkRange(TOP - 1, 2);
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof MemoryError);
    assert.match(e.message, /0x20000000000001\)/);
  }
});

Deno.test("a huge region or read is a typed error, never the platform's allocation RangeError", () => {
  throwsWith(() => GuestMemory.fromRanges([[0, 2 ** 50]]), MemoryError, "AllocationFailed");
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  throwsWith(() => mem.read(0, 2 ** 50), MemoryError, "OutOfRange");
  throwsWith(() => GuestMemory.fromRanges([[TOP - 8, 16]]), MemoryError, "AddressOverflow");
});

Deno.test("a resizable ArrayBuffer is refused: it could shrink under guest memory", () => {
  const buffer = new ArrayBuffer(0x1000, { maxByteLength: 0x2000 });
  throwsWith(() => new GuestMemory([{ guestAddr: 0, buffer }]), MemoryError, "InvalidBuffer");
});

Deno.test("a region whose buffer was transferred away reports BufferDetached, not a TypeError", () => {
  const buffer = new ArrayBuffer(0x1000);
  const mem = new GuestMemory([{ guestAddr: 0, buffer }]);
  buffer.transfer();
  throwsWith(() => mem.readU8(0), MemoryError, "BufferDetached");
  throwsWith(() => mem.fill(0, 4), MemoryError, "BufferDetached");
});

Deno.test("wrong JS types at GuestMemory's boundary are typed errors", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  throwsWith(() => mem.write(0n as unknown as number, new Uint8Array(1)), MemoryError, "InvalidAddress");
  throwsWith(() => mem.write(0, null as unknown as Uint8Array), MemoryError, "InvalidValue");
  throwsWith(() => mem.readU8(Symbol() as unknown as number), MemoryError, "InvalidAddress");
  throwsWith(() => mem.writeU64(0, 1.5), MemoryError, "InvalidValue");
  throwsWith(() => mem.writeU32(0, "x" as unknown as number), MemoryError, "InvalidValue");
  throwsWith(() => mem.fill(0, 4, 256), MemoryError, "InvalidValue");
  throwsWith(() => mem.fill(0, 4, Number.NaN), MemoryError, "InvalidValue");
  throwsWith(() => new GuestMemory(null as unknown as []), MemoryError, "InvalidBuffer");
  throwsWith(() => new GuestMemory([null as unknown as { guestAddr: number }]), MemoryError, "InvalidBuffer");
  assert.equal(mem.isRange(0n as unknown as number, 1), false);
});

Deno.test("a WebAssembly.Memory that grows while a file read is pending still gets every byte", async () => {
  const wasm = new WebAssembly.Memory({ initial: 128, maximum: 512 }); // 8 MiB
  const mem = new GuestMemory([{ guestAddr: 0, buffer: wasm }]);
  const image = demoKernel("x86_64");
  let grown = 0;
  // A source that grows the memory (detaching every view of it) before completing each read.
  const src = {
    size: image.byteLength,
    async readInto(offset: number, dest: Uint8Array): Promise<void> {
      await Promise.resolve();
      if (grown < 2) {
        wasm.grow(1);
        grown++;
      }
      if (dest.byteLength === 0 && grown > 0) return; // the view died: the loader must notice
      dest.set(image.subarray(offset, offset + dest.byteLength));
    },
  };
  const ref = GuestMemory.fromRanges([[0, 8 << 20]]);
  await loadElf(ref, image);
  await loadElf(mem, src);
  assert.ok(grown > 0, "the memory grew during the load");
  assert.deepEqual(mem.read(0x10_0000, 0x1000), ref.read(0x10_0000, 0x1000));
});

Deno.test("a WebAssembly.Memory that keeps growing under every read ends in a typed error, memory scrubbed", async () => {
  const wasm = new WebAssembly.Memory({ initial: 128, maximum: 1024 });
  const mem = new GuestMemory([{ guestAddr: 0, buffer: wasm }]);
  const image = demoKernel("x86_64");
  const src = {
    size: image.byteLength,
    async readInto(offset: number, dest: Uint8Array): Promise<void> {
      const intoGuest = dest.buffer === wasm.buffer;
      await Promise.resolve();
      if (intoGuest) wasm.grow(1);
      else dest.set(image.subarray(offset, offset + dest.byteLength));
    },
  };
  try {
    await loadElf(mem, src);
    assert.fail("loaded");
  } catch (e) {
    assert.ok(e instanceof SourceError && e.code === "LoadInterrupted", String(e));
    assert.ok((e.cause as MemoryError).code === "BufferDetached");
  }
});
