// loadCmdline: the cases of rust-vmm linux-loader's src/loader/mod.rs (load_cmdline's tests and example),
// then our own: holes between regions, invalid addresses, nothing written on error.

import assert from "node:assert/strict";
import { Cmdline } from "../../lib/cmdline.ts";
import { CmdlineError, KernelLoaderError, type KernelLoaderErrorCode } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { loadCmdline, planCmdline } from "../../lib/loader/cmdline.ts";

const MEM_SIZE = 0x100_0000;

function guestMem(): GuestMemory {
  return GuestMemory.fromRanges([[0, MEM_SIZE]]);
}

function cmdline(text: string, capacity = 10): Cmdline {
  const cl = new Cmdline(capacity);
  cl.insertStr(text);
  return cl;
}

function throwsCode(fn: () => unknown, code: KernelLoaderErrorCode): KernelLoaderError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KernelLoaderError, `expected KernelLoaderError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

Deno.test("loadCmdline writes key=value and a NUL at the address", () => {
  const mem = guestMem();
  const cl = new Cmdline(10);
  cl.insert("foo", "bar");
  loadCmdline(mem, 0x1000, cl);
  assert.deepEqual(mem.read(0x1000, 8), new TextEncoder().encode("foo=bar\0"));
});

Deno.test("loadCmdline rejects an address whose end passes the largest address", () => {
  throwsCode(() => loadCmdline(guestMem(), Number.MAX_SAFE_INTEGER - 4, cmdline("12345")), "CommandLineOverflow");
});

Deno.test("loadCmdline rejects an address near the top of the address space", () => {
  throwsCode(() => loadCmdline(guestMem(), Number.MAX_SAFE_INTEGER - 5, cmdline("12345")), "CommandLineOverflow");
});

Deno.test("loadCmdline rejects a line whose NUL falls one byte past memory", () => {
  const e = throwsCode(() => loadCmdline(guestMem(), MEM_SIZE - 5, cmdline("12345")), "CommandLineOverflow");
  assert.equal(e.limit, MEM_SIZE - 1);
  assert.equal(e.value, MEM_SIZE);
});

Deno.test("loadCmdline accepts a line whose NUL is the last byte of memory", () => {
  const mem = guestMem();
  loadCmdline(mem, MEM_SIZE - 6, cmdline("12345"));
  assert.deepEqual(mem.read(MEM_SIZE - 6, 6), new TextEncoder().encode("12345\0"));
});

Deno.test("loadCmdline of an empty line writes one NUL over existing bytes", () => {
  const mem = guestMem();
  mem.write(45, new Uint8Array(100).fill(1));
  loadCmdline(mem, 45, new Cmdline(10));
  assert.equal(mem.readU8(45), 0);
  assert.equal(mem.readU8(46), 1);
});

Deno.test("loadCmdline ends the line with a NUL over existing bytes", () => {
  const mem = guestMem();
  mem.write(45, new Uint8Array(100).fill(1));
  loadCmdline(mem, 45, cmdline("123"));
  assert.deepEqual([...mem.read(45, 5)], [0x31, 0x32, 0x33, 0, 1]);
});

Deno.test("loadCmdline rejects a line with init arguments only as InvalidCommandLine", () => {
  const mem = guestMem();
  const cl = new Cmdline(100);
  cl.insertInitArgs("x");
  const e = throwsCode(() => loadCmdline(mem, 0x1000, cl), "InvalidCommandLine");
  assert.ok(e.cause instanceof CmdlineError);
  assert.equal(e.cause.code, "NoBootArgsInserted");
});

Deno.test("loadCmdline rejects a line holding a NUL as InvalidCommandLine", () => {
  const e = throwsCode(() => loadCmdline(guestMem(), 0, Cmdline.parse("a\0b", 10)), "InvalidCommandLine");
  assert.ok(e.cause instanceof CmdlineError && e.cause.code === "NullTerminator");
});

Deno.test("loadCmdline rejects a line that crosses a hole with CommandLineCopy and writes nothing", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x2000, 0x1000]]);
  const e = throwsCode(() => loadCmdline(mem, 0xffd, cmdline("12345")), "CommandLineCopy");
  assert.equal(e.value, 0x1000);
  assert.deepEqual([...mem.read(0xffd, 3)], [0, 0, 0]);
});

Deno.test("loadCmdline rejects a line that starts in a hole with CommandLineCopy", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x2000, 0x1000]]);
  throwsCode(() => loadCmdline(mem, 0x1800, cmdline("12345")), "CommandLineCopy");
});

Deno.test("loadCmdline writes across two adjacent regions", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000]]);
  loadCmdline(mem, 0xffe, cmdline("12345"));
  assert.deepEqual(mem.read(0xffe, 6), new TextEncoder().encode("12345\0"));
});

Deno.test("loadCmdline rejects a negative or fractional address with CommandLineOverflow", () => {
  for (const a of [-1, 0.5, NaN]) throwsCode(() => loadCmdline(guestMem(), a, cmdline("1")), "CommandLineOverflow");
});

Deno.test("loadCmdline writes nothing when the line overflows memory", () => {
  const mem = guestMem();
  throwsCode(() => loadCmdline(mem, MEM_SIZE - 3, cmdline("12345")), "CommandLineOverflow");
  assert.deepEqual([...mem.read(MEM_SIZE - 3, 3)], [0, 0, 0]);
});

Deno.test("planCmdline returns one labelled bytes step with the C string", () => {
  const plan = planCmdline(0x2000, cmdline("abc"));
  assert.equal(plan.steps.length, 1);
  const s = plan.steps[0];
  assert.equal(s.kind, "bytes");
  assert.equal(s.guestAddr, 0x2000);
  assert.equal(s.label, "command line");
  assert.deepEqual(s.kind === "bytes" ? [...s.bytes] : [], [0x61, 0x62, 0x63, 0]);
});
