import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { Unicorn, unicornAvailable } from "../../emu/unicorn.ts";
import { emuTest } from "./_unicorn.ts";

// mov rax, [0x2000]; add rax, 1; mov [0x2008], rax; hlt
const X86_CODE = new Uint8Array([
  0x48,
  0x8b,
  0x04,
  0x25,
  0x00,
  0x20,
  0x00,
  0x00,
  0x48,
  0x83,
  0xc0,
  0x01,
  0x48,
  0x89,
  0x04,
  0x25,
  0x08,
  0x20,
  0x00,
  0x00,
  0xf4,
]);

function x86Memory(): GuestMemory {
  const mem = GuestMemory.fromRanges([[0, 0x4000]]);
  mem.write(0x1000, X86_CODE);
  mem.writeU64(0x2000, 41n);
  return mem;
}

emuTest("unicornAvailable reports the installed library's major version 2", () => {
  const a = unicornAvailable();
  assert.ok(a.ok);
  assert.equal(a.version.split(".")[0], "2");
});

emuTest("a mapped GuestMemory is shared with the guest: its writes land in the region without a copy", () => {
  const mem = x86Memory();
  using uc = Unicorn.open("x86_64");
  uc.mapGuestMemory(mem);
  uc.start({ begin: 0x1000 });
  assert.equal(mem.readU64(0x2008), 42n);
  assert.equal(uc.regRead("rax"), 42n);
});

emuTest("a write to the GuestMemory after mapping is seen by the guest", () => {
  const mem = x86Memory();
  using uc = Unicorn.open("x86_64");
  uc.mapGuestMemory(mem);
  mem.writeU64(0x2000, 99n);
  uc.start({ begin: 0x1000 });
  assert.equal(uc.regRead("rax"), 100n);
});

emuTest("mapping host memory at an address that is not 4 KiB-aligned is a typed error", () => {
  using uc = Unicorn.open("x86_64");
  assert.throws(
    () => uc.mapHost(0x1800, new Uint8Array(0x1000)),
    (e) => e instanceof EmulatorError && e.code === "UnicornError" && /4 KiB/.test(e.message),
  );
});

emuTest("an ArrayBuffer that is not page-aligned in host memory maps and runs correctly", () => {
  // Deno's ArrayBuffers are 16-byte aligned, not page-aligned; Unicorn 2.0.1 accepts that.
  const backing = new ArrayBuffer(0x5000);
  const mem = new GuestMemory([{ guestAddr: 0, size: 0x4000, buffer: backing, bufferOffset: 0x10 }]);
  mem.write(0x1000, X86_CODE);
  mem.writeU64(0x2000, 1n);
  using uc = Unicorn.open("x86_64");
  uc.mapGuestMemory(mem);
  uc.start({ begin: 0x1000 });
  assert.equal(new DataView(backing).getBigUint64(0x10 + 0x2008, true), 2n);
});

emuTest("reading a register the architecture does not have is an UnknownRegister error", () => {
  using uc = Unicorn.open("aarch64");
  assert.throws(() => uc.regRead("rax"), (e) => e instanceof EmulatorError && e.code === "UnknownRegister");
});

emuTest("a failing Unicorn call becomes an UnicornError carrying uc_strerror's text", () => {
  using uc = Unicorn.open("x86_64");
  uc.mapScratch(0x1000, 0x1000);
  assert.throws(
    () => uc.mapScratch(0x1000, 0x1000),
    (e) =>
      e instanceof EmulatorError && e.code === "UnicornError" &&
      /Invalid memory mapping \(UC_ERR_MAP\)/.test(e.message),
  );
});

emuTest("an exception thrown by a hook stops the run and reaches the caller of start", () => {
  using uc = Unicorn.open("x86_64");
  uc.mapGuestMemory(x86Memory());
  uc.onCode(() => {
    throw new Error("from the hook");
  });
  assert.throws(() => uc.start({ begin: 0x1000 }), /from the hook/);
});

emuTest("an MMIO range serves guest reads and receives guest writes", () => {
  using uc = Unicorn.open("x86_64");
  uc.mapScratch(0x1000, 0x1000);
  // mov eax, [0x5004]; mov [0x5008], eax; hlt
  uc.memWrite(0x1000, new Uint8Array([0x8b, 0x04, 0x25, 0x04, 0x50, 0, 0, 0x89, 0x04, 0x25, 0x08, 0x50, 0, 0, 0xf4]));
  const writes: [number, number, bigint][] = [];
  uc.mapMmio(0x5000, 0x1000, {
    read: (offset, size) => 0x1000 + offset + size,
    write: (offset, size, value) => writes.push([offset, size, value]),
  });
  uc.start({ begin: 0x1000 });
  assert.deepEqual(writes, [[8, 4, 0x1008n]]);
});

emuTest("x86 OUT and IN instructions reach the port I/O handler", () => {
  using uc = Unicorn.open("x86_64");
  uc.mapScratch(0x1000, 0x1000);
  // mov dx, 0x80; mov al, 7; out dx, al; in al, dx; hlt
  uc.memWrite(0x1000, new Uint8Array([0x66, 0xba, 0x80, 0x00, 0xb0, 0x07, 0xee, 0xec, 0xf4]));
  const outs: number[][] = [];
  uc.onPortIo({ read: (port) => port + 1, write: (port, size, value) => outs.push([port, size, value]) });
  uc.start({ begin: 0x1000 });
  assert.deepEqual(outs, [[0x80, 1, 7]]);
  assert.equal(uc.regRead("al"), 0x81n);
});

emuTest("an engine is closed once and closing again is harmless", () => {
  const uc = Unicorn.open("riscv64");
  uc.close();
  uc.close();
  assert.throws(() => uc.regRead("pc"), (e) => e instanceof EmulatorError && /closed/.test(e.message));
});

Deno.test("a missing library is a LibraryNotFound error, not a crash", async () => {
  const code = `import { unicornAvailable } from ${
    JSON.stringify(new URL("../../emu/unicorn.ts", import.meta.url).href)
  };
const a = unicornAvailable(); console.log(a.ok ? "ok" : a.reason);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { UNICORN_LIB: "/nonexistent/libunicorn.so.2" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(text, /could not be opened.*nonexistent/);
});
