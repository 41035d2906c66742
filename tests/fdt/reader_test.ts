import assert from "node:assert/strict";
import { FdtError } from "../../lib/errors.ts";
import { buildVmFdt, FDT_END, FDT_HEADER, FDT_NOP, readFdt, readFdtHeader } from "../../lib/fdt/mod.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { MINIMAL, rawFdt, type RawItem } from "./_raw.ts";

function throwsFdt(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof FdtError, `expected FdtError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

const enc = new TextEncoder();

function vmBlob(): Uint8Array {
  const mem = GuestMemory.fromRanges([[0x4000_0000, 64 << 20]]);
  return buildVmFdt(mem, {
    arch: "aarch64",
    bootargs: "console=ttyAMA0",
    gic: true,
    cpus: 2,
    initrd: { start: 0x4800_0000, end: 0x4810_0000 },
    reservations: [{ address: 0x4400_0000n, size: 0x1000n }],
  });
}

Deno.test("readFdt returns the tree of a well-formed raw blob", () => {
  const t = readFdt(rawFdt(MINIMAL));
  assert.equal(t.root.name, "");
  assert.deepEqual(t.root.properties.map((p) => p.name), ["model"]);
  assert.deepEqual(t.root.children.map((c) => c.name), ["chosen"]);
  assert.deepEqual(t.reservations, []);
});

Deno.test("readFdt skips FDT_NOP tokens anywhere in the structure block", () => {
  const items: RawItem[] = [{ token: FDT_NOP }, ...MINIMAL.slice(0, 2), { token: FDT_NOP }, ...MINIMAL.slice(2)];
  assert.equal(readFdt(rawFdt(items)).root.children.length, 1);
});

Deno.test("readFdt reads a version 16 blob, which has no size_dt_struct", () => {
  const blob = rawFdt(MINIMAL, { version: 16, size_dt_struct: 0 });
  assert.equal(readFdt(blob).root.children[0].name, "chosen");
});

Deno.test("readFdt reads only totalsize bytes of a longer buffer", () => {
  const blob = rawFdt(MINIMAL);
  const padded = new Uint8Array(blob.length + 100);
  padded.set(blob);
  assert.equal(readFdt(padded).header.totalsize, blob.length);
});

Deno.test("readFdt rejects fewer bytes than the header as Truncated", () => {
  throwsFdt(() => readFdt(new Uint8Array(39)), "Truncated", /40-byte header/);
});

Deno.test("readFdt rejects a wrong magic", () => {
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { magic: 0xd00dfeee })), "BadMagic", /0xd00dfeee/);
});

Deno.test("readFdt rejects a version below 16 or a last_comp_version above 17", () => {
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { version: 15 })), "BadVersion");
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { last_comp_version: 18 })), "BadVersion");
});

Deno.test("readFdt rejects a totalsize beyond the bytes given as Truncated", () => {
  const blob = rawFdt(MINIMAL);
  throwsFdt(() => readFdt(blob.subarray(0, blob.length - 1)), "Truncated", /totalsize/);
});

Deno.test("readFdt rejects a structure block outside totalsize or misaligned as BadOffset", () => {
  const blob = rawFdt(MINIMAL);
  const h = FDT_HEADER.decode(blob);
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { off_dt_struct: h.totalsize + 4 })), "BadOffset", /off_dt_struct/);
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { off_dt_struct: h.off_dt_struct + 2 })), "BadOffset");
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { size_dt_strings: h.size_dt_strings + 1 })), "BadOffset", /off_dt_strings/);
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { off_mem_rsvmap: 4 })), "BadOffset", /off_mem_rsvmap/);
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { totalsize: 8 })), "BadOffset", /totalsize/);
});

Deno.test("readFdt rejects a reservation block without its terminating entry as Truncated", () => {
  const blob = rawFdt(MINIMAL);
  const h = FDT_HEADER.decode(blob);
  // Point the reservation block at the strings block's tail: no zero entry fits before totalsize.
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { off_mem_rsvmap: (h.totalsize - 8) & ~7 })), "Truncated", /reservation/);
});

Deno.test("readFdt rejects an unknown token", () => {
  throwsFdt(() => readFdt(rawFdt([{ begin: "" }, { token: 7 }, { end: true }, { token: FDT_END }])), "BadToken", /0x7/);
});

Deno.test("readFdt rejects a structure block without FDT_END as Truncated", () => {
  throwsFdt(() => readFdt(rawFdt(MINIMAL.slice(0, -1))), "Truncated", /FDT_END/);
});

Deno.test("readFdt rejects a property value that passes the structure block", () => {
  const items: RawItem[] = [{ begin: "" }, { prop: "x", len: 0x100 }, { end: true }, { token: FDT_END }];
  throwsFdt(() => readFdt(rawFdt(items)), "Truncated", /property value/);
});

Deno.test("readFdt rejects a property name offset outside the strings block", () => {
  const items: RawItem[] = [{ begin: "" }, { prop: "x", nameoff: 99 }, { end: true }, { token: FDT_END }];
  throwsFdt(() => readFdt(rawFdt(items)), "BadString", /0x63/);
});

Deno.test("readFdt rejects a property name that is not NUL-terminated inside the strings block", () => {
  const blob = rawFdt(MINIMAL);
  const h = FDT_HEADER.decode(blob);
  throwsFdt(() => readFdt(rawFdt(MINIMAL, { size_dt_strings: h.size_dt_strings - 1 })), "BadString", /NUL/);
});

Deno.test("readFdt rejects a node name that is not NUL-terminated inside the structure block", () => {
  const items: RawItem[] = [{ token: 1 }, { bytes: enc.encode("abcd") }];
  throwsFdt(() => readFdt(rawFdt(items)), "BadName");
});

Deno.test("readFdt rejects FDT_END_NODE without an open node", () => {
  throwsFdt(() => readFdt(rawFdt([{ end: true }, { token: FDT_END }])), "BadStructure");
});

Deno.test("readFdt rejects a property outside any node", () => {
  throwsFdt(() => readFdt(rawFdt([{ prop: "x" }, { token: FDT_END }])), "BadStructure", /outside/);
});

Deno.test("readFdt rejects FDT_END with a node still open", () => {
  throwsFdt(() => readFdt(rawFdt([{ begin: "" }, { token: FDT_END }])), "BadStructure", /still open/);
});

Deno.test("readFdt rejects a structure block with no root node", () => {
  throwsFdt(() => readFdt(rawFdt([{ token: FDT_END }])), "BadStructure", /no root/);
});

Deno.test("readFdt rejects a second root node", () => {
  const items: RawItem[] = [{ begin: "" }, { end: true }, { begin: "" }, { end: true }, { token: FDT_END }];
  throwsFdt(() => readFdt(rawFdt(items)), "BadStructure", /second root/);
});

Deno.test("readFdt rejects a property after a subnode", () => {
  const items: RawItem[] = [{ begin: "" }, { begin: "c" }, { end: true }, { prop: "x" }, { end: true }, {
    token: FDT_END,
  }];
  throwsFdt(() => readFdt(rawFdt(items)), "BadStructure", /follows a subnode/);
});

Deno.test("readFdt rejects two properties or two children with one name", () => {
  const props: RawItem[] = [{ begin: "" }, { prop: "x" }, { prop: "x" }, { end: true }, { token: FDT_END }];
  throwsFdt(() => readFdt(rawFdt(props)), "DuplicateName", /properties/);
  const kids: RawItem[] = [{ begin: "" }, { begin: "c" }, { end: true }, { begin: "c" }, { end: true }, { end: true }, {
    token: FDT_END,
  }];
  throwsFdt(() => readFdt(rawFdt(kids)), "DuplicateName", /children/);
});

Deno.test("readFdtHeader validates the header alone", () => {
  assert.equal(readFdtHeader(vmBlob()).version, 17);
});

Deno.test("readFdt on every truncation of a blob throws only FdtError", () => {
  const blob = vmBlob();
  for (let n = 0; n < blob.length; n++) {
    assert.throws(() => readFdt(blob.subarray(0, n)), FdtError);
  }
});

Deno.test("readFdt on every single-byte change of a blob returns a tree or throws FdtError, never anything else", () => {
  const blob = vmBlob();
  for (let i = 0; i < blob.length; i++) {
    for (const x of [0x01, 0x80, 0xff]) {
      const m = blob.slice();
      m[i] ^= x;
      try {
        readFdt(m);
      } catch (e) {
        assert.ok(e instanceof FdtError, `offset ${i} ^ ${x}: ${String(e)}`);
      }
    }
  }
});
