/**
 * setup_data lists against boot.rst ("Field name: setup_data": `struct setup_data { u64 next; u32 type; u32 len;
 * u8 data[0]; }`, "the next field of the last node is 0", protocol 2.09+; setup_indirect "introduced in protocol
 * 2.15") and against the installed `<asm/bootparam.h>`.
 */
import assert from "node:assert/strict";
import { E820_RAM } from "../../lib/abi/bootparam.ts";
import {
  SETUP_DATA,
  SETUP_DTB,
  SETUP_E820_EXT,
  SETUP_INDIRECT,
  SETUP_INDIRECT_STRUCT,
  SETUP_RNG_SEED,
} from "../../lib/abi/setup_data.ts";
import { ConfiguratorError, KernelLoaderError, MemoryError } from "../../lib/errors.ts";
import { FdtBuilder } from "../../lib/fdt/builder.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { splitE820 } from "../../lib/boot/memmap.ts";
import {
  dtbSetupData,
  e820ExtSetupData,
  planSetupData,
  readSetupData,
  rngSeedSetupData,
  type SetupDataEntry,
  writeSetupData,
} from "../../lib/boot/setup_data.ts";

const V215 = { version: 0x020f };
const V209 = { version: 0x0209 };

function node(type: number, len: number, fill = 0xab): SetupDataEntry {
  return { type, data: new Uint8Array(len).fill(fill) };
}

function isConf(code: string, field?: string): (e: unknown) => boolean {
  return (e) => e instanceof ConfiguratorError && e.code === code && (field === undefined || e.field === field);
}

Deno.test("struct setup_data and setup_indirect match the installed asm/bootparam.h", async () => {
  const src = `#include <stdio.h>
#include <stddef.h>
#include <asm/bootparam.h>
int main(void) {
  printf("%zu %zu %zu %zu %zu\\n", sizeof(struct setup_data), offsetof(struct setup_data, next),
    offsetof(struct setup_data, type), offsetof(struct setup_data, len), offsetof(struct setup_data, data));
  printf("%zu %zu %zu %zu %zu\\n", sizeof(struct setup_indirect), offsetof(struct setup_indirect, type),
    offsetof(struct setup_indirect, reserved), offsetof(struct setup_indirect, len),
    offsetof(struct setup_indirect, addr));
  printf("%d %d %d %d %u\\n", SETUP_E820_EXT, SETUP_DTB, SETUP_RNG_SEED, SETUP_ENUM_MAX, (unsigned)SETUP_INDIRECT);
  return 0;
}
`;
  const dir = await Deno.makeTempDir({ prefix: "setup_data_layout_" });
  try {
    await Deno.writeTextFile(`${dir}/t.c`, src);
    const cc = await new Deno.Command("gcc", { args: ["-o", `${dir}/t`, `${dir}/t.c`], stderr: "piped" }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    const out = new TextDecoder().decode((await new Deno.Command(`${dir}/t`).output()).stdout).trim().split("\n");
    const f = (s: typeof SETUP_DATA | typeof SETUP_INDIRECT_STRUCT, n: string) => s.field(n as never).offset;
    assert.equal(
      out[0],
      [SETUP_DATA.size, f(SETUP_DATA, "next"), f(SETUP_DATA, "type"), f(SETUP_DATA, "len"), SETUP_DATA.size].join(" "),
    );
    const si = SETUP_INDIRECT_STRUCT;
    assert.equal(out[1], [si.size, f(si, "type"), f(si, "reserved"), f(si, "len"), f(si, "addr")].join(" "));
    assert.equal(out[2], [SETUP_E820_EXT, SETUP_DTB, SETUP_RNG_SEED, 9, SETUP_INDIRECT].join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("planSetupData writes one node as next, type, len and the data right after the 16-byte header", () => {
  const l = planSetupData([node(SETUP_RNG_SEED, 5, 0x11)], { header: V215, addr: 0x9000 });
  const step = l.plan.steps[0];
  assert.equal(step.kind, "bytes");
  const b = (step as { bytes: Uint8Array }).bytes;
  const dv = new DataView(b.buffer);
  assert.equal(dv.getBigUint64(0, true), 0n);
  assert.equal(dv.getUint32(8, true), SETUP_RNG_SEED);
  assert.equal(dv.getUint32(12, true), 5);
  assert.deepEqual([...b.subarray(16)], [0x11, 0x11, 0x11, 0x11, 0x11]);
  assert.deepEqual([l.head, l.end], [0x9000, 0x9015]);
});

Deno.test("planSetupData chains nodes at 8-byte aligned addresses and ends the list with next = 0", () => {
  const l = planSetupData([node(SETUP_RNG_SEED, 5), node(SETUP_DTB, 9), node(SETUP_E820_EXT, 20)], {
    header: V215,
    addr: 0x9000,
  });
  assert.deepEqual(l.nodes.map((n) => [n.addr, n.next, n.type, n.len]), [
    [0x9000, 0x9018, SETUP_RNG_SEED, 5],
    [0x9018, 0x9038, SETUP_DTB, 9],
    [0x9038, 0, SETUP_E820_EXT, 20],
  ]);
});

Deno.test("planSetupData aligns the first node up from an unaligned address", () => {
  assert.equal(planSetupData([node(SETUP_DTB, 1)], { header: V215, addr: 0x9003 }).head, 0x9008);
});

Deno.test("planSetupData appends an existing list through the last node's next", () => {
  const l = planSetupData([node(SETUP_DTB, 1), node(SETUP_DTB, 1)], { header: V215, addr: 0x9000, next: 0x7_0000 });
  assert.equal(l.nodes[1].next, 0x7_0000);
});

Deno.test("planSetupData of no entries writes nothing and leaves the head at next", () => {
  const l = planSetupData([], { header: { version: 0 }, addr: 0x9000, next: 0x5000 });
  assert.deepEqual([l.head, l.plan.steps.length], [0x5000, 0]);
});

Deno.test("planSetupData refuses protocol 2.08 with ProtocolTooOld naming setup_data, version and limit", () => {
  assert.throws(
    () => planSetupData([node(SETUP_RNG_SEED, 32)], { header: { version: 0x0208 }, addr: 0x9000 }),
    (e) =>
      isConf("ProtocolTooOld", "setup_data")(e) && (e as ConfiguratorError).value === 0x208 &&
      (e as ConfiguratorError).limit === 0x209,
  );
});

Deno.test("planSetupData accepts protocol 2.09, where setup_data begins", () => {
  assert.equal(planSetupData([node(SETUP_E820_EXT, 20)], { header: V209, addr: 0x9000 }).nodes.length, 1);
});

Deno.test("planSetupData refuses a SETUP_INDIRECT node before protocol 2.15", () => {
  assert.throws(
    () => planSetupData([node(SETUP_INDIRECT | SETUP_E820_EXT, 24)], { header: { version: 0x020c }, addr: 0x9000 }),
    isConf("ProtocolTooOld", "setup_data[0].type"),
  );
});

Deno.test("planSetupData refuses a type above the kernel_info setup_type_max", () => {
  assert.throws(
    () => planSetupData([node(SETUP_RNG_SEED, 1)], { header: V215, addr: 0x9000, setupTypeMax: 8 }),
    (e) => isConf("ProtocolTooOld", "setup_data[0].type")(e) && (e as ConfiguratorError).limit === 8,
  );
});

Deno.test("planSetupData refuses a negative address", () => {
  assert.throws(
    () => planSetupData([node(SETUP_DTB, 1)], { header: V215, addr: -8 }),
    isConf("InvalidAddress", "addr"),
  );
});

Deno.test("planSetupData refuses an alignment that is not a power of two", () => {
  assert.throws(
    () => planSetupData([node(SETUP_DTB, 1)], { header: V215, addr: 0, align: 12 }),
    isConf("InvalidAddress", "align"),
  );
});

Deno.test("planSetupData reports Overflow for a list that passes 2^53", () => {
  assert.throws(
    () => planSetupData([node(SETUP_DTB, 64)], { header: V215, addr: Number.MAX_SAFE_INTEGER - 71 }),
    isConf("Overflow", "setup_data[0]"),
  );
});

Deno.test("writeSetupData writes the list into guest memory and readSetupData walks it back", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  const l = writeSetupData(mem, [rngSeedSetupData(32), dtbSetupData(new Uint8Array(40))], {
    header: V215,
    addr: 0x9000,
  });
  assert.deepEqual(readSetupData(mem, l.head).map((n) => [n.addr, n.type, n.len, n.next]), [
    [0x9000, SETUP_RNG_SEED, 32, 0x9030],
    [0x9030, SETUP_DTB, 40, 0],
  ]);
});

Deno.test("writeSetupData writes nothing when a node falls outside guest memory", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  assert.throws(
    () => writeSetupData(mem, [node(SETUP_DTB, 8), node(SETUP_DTB, 0x1000)], { header: V215, addr: 0x800 }),
    (e) => e instanceof KernelLoaderError && e.code === "MemoryOverflow",
  );
  assert.ok(mem.read(0x800, 0x800).every((b) => b === 0));
});

Deno.test("readSetupData stops a list that loops with TooManyEntries", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  writeSetupData(mem, [node(SETUP_DTB, 0)], { header: V215, addr: 0x100, next: 0x100 });
  assert.throws(() => readSetupData(mem, 0x100, 4), isConf("TooManyEntries", "setup_data"));
});

Deno.test("readSetupData reports a node whose data passes the end of memory", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  mem.write(0xff0, SETUP_DATA.encode({ next: 0n, type: SETUP_DTB, len: 0x100 }));
  assert.throws(() => readSetupData(mem, 0xff0), (e) => e instanceof MemoryError && e.code === "OutOfRange");
});

Deno.test("rngSeedSetupData draws 32 fresh random bytes by default", () => {
  const a = rngSeedSetupData(), b = rngSeedSetupData();
  assert.equal(a.type, SETUP_RNG_SEED);
  assert.equal(a.data.length, 32);
  assert.notDeepEqual(a.data, b.data);
});

Deno.test("rngSeedSetupData fills a seed longer than one getRandomValues call", () => {
  const s = rngSeedSetupData(70000).data;
  assert.equal(s.length, 70000);
  assert.ok(s.subarray(65536).some((x) => x !== 0));
});

Deno.test("rngSeedSetupData keeps caller-supplied seed bytes as they are", () => {
  const seed = new Uint8Array([1, 2, 3, 4]);
  assert.equal(rngSeedSetupData(seed).data, seed);
});

Deno.test("rngSeedSetupData refuses a negative length with Overflow", () => {
  assert.throws(() => rngSeedSetupData(-1), isConf("Overflow", "len"));
});

Deno.test("dtbSetupData carries a device tree blob as SETUP_DTB", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  b.endNode();
  const dtb = b.finish();
  const e = dtbSetupData(dtb);
  assert.deepEqual([e.type, e.data], [SETUP_DTB, dtb]);
});

Deno.test("e820ExtSetupData carries the entries beyond the zero page's 128 as boot_e820_entry records", () => {
  const map = Array.from({ length: 130 }, (_, i) => ({ addr: i * 0x2000, size: 0x1000, type: E820_RAM }));
  const e = e820ExtSetupData(splitE820(map).extended);
  const dv = new DataView(e.data.buffer);
  assert.equal(e.type, SETUP_E820_EXT);
  assert.equal(e.data.length, 40);
  assert.equal(dv.getBigUint64(20, true), BigInt(129 * 0x2000));
  assert.equal(dv.getUint32(36, true), E820_RAM);
});

Deno.test("planSetupData reports Overflow for data longer than the u32 len field", () => {
  // A stand-in with the length of a 4 GiB payload (allocating one is not needed to reach the check).
  const huge = { type: SETUP_DTB, data: { byteLength: 2 ** 32 } as Uint8Array };
  assert.throws(() => planSetupData([huge], { header: V215, addr: 0 }), isConf("Overflow", "setup_data[0].len"));
});
