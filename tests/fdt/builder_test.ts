import assert from "node:assert/strict";
import { FdtError } from "../../lib/errors.ts";
import {
  buildFdt,
  FDT_HEADER,
  FDT_MAGIC,
  FdtBuilder,
  fdtCells,
  fdtString,
  fdtStringList,
  fdtU32,
  fdtU64,
  findNode,
  getProperty,
  readFdt,
} from "../../lib/fdt/mod.ts";

function throwsFdt(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof FdtError, `expected FdtError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

function withRoot(fill: (b: FdtBuilder) => void): Uint8Array {
  const b = new FdtBuilder();
  b.beginNode("");
  fill(b);
  b.endNode();
  return b.finish();
}

Deno.test("FdtBuilder writes a version 17 header, last_comp_version 16, with consistent offsets and sizes", () => {
  const b = new FdtBuilder({ bootCpuidPhys: 3 });
  b.addReservation(0x1000, 0x2000);
  b.beginNode("");
  b.propertyU32("#address-cells", 2);
  b.endNode();
  const dtb = b.finish();
  const h = FDT_HEADER.decode(dtb);
  assert.equal(h.magic, FDT_MAGIC);
  assert.equal(h.version, 17);
  assert.equal(h.last_comp_version, 16);
  assert.equal(h.totalsize, dtb.length);
  assert.equal(h.boot_cpuid_phys, 3);
  assert.equal(h.off_mem_rsvmap, 40);
  assert.equal(h.off_dt_struct, 40 + 2 * 16); // one entry plus the terminator
  assert.equal(h.off_dt_strings, h.off_dt_struct + h.size_dt_struct);
  assert.equal(h.off_dt_strings + h.size_dt_strings, h.totalsize);
});

Deno.test("FdtBuilder stores each property name once in the strings block", () => {
  const dtb = withRoot((b) => {
    for (const n of ["a@1", "a@2", "a@3"]) {
      b.beginNode(n);
      b.propertyU64List("reg", [1, 2]);
      b.propertyString("status", "okay");
      b.endNode();
    }
  });
  const h = FDT_HEADER.decode(dtb);
  const strings = new TextDecoder().decode(dtb.subarray(h.off_dt_strings, h.off_dt_strings + h.size_dt_strings));
  assert.equal(strings, "reg\0status\0");
});

Deno.test("FdtBuilder encodes u32, u64, cells, strings, string lists, bytes and empty values big endian", () => {
  const dtb = withRoot((b) => {
    b.propertyU32("u32", 0x1234_5678);
    b.propertyU64("u64", 0x1_0000_0002n);
    b.propertyCells("cells", [1, 0xffff_ffff]);
    b.propertyString("str", "hello");
    b.propertyStringList("list", ["a", "bc"]);
    b.property("bytes", new Uint8Array([1, 2, 3]));
    b.propertyEmpty("flag");
  });
  const root = readFdt(dtb).root;
  const get = (n: string) => getProperty(root, n)!;
  assert.equal(fdtU32(get("u32")), 0x1234_5678);
  assert.deepEqual([...get("u32")], [0x12, 0x34, 0x56, 0x78]);
  assert.equal(fdtU64(get("u64")), 0x1_0000_0002n);
  assert.deepEqual(fdtCells(get("cells")), [1, 0xffff_ffff]);
  assert.equal(fdtString(get("str")), "hello");
  assert.deepEqual(fdtStringList(get("list")), ["a", "bc"]);
  assert.deepEqual([...get("bytes")], [1, 2, 3]);
  assert.equal(get("flag").length, 0);
});

Deno.test("FdtBuilder pads every token to a 4-byte boundary", () => {
  const dtb = withRoot((b) => {
    b.property("odd", new Uint8Array([1, 2, 3, 4, 5]));
    b.beginNode("n");
    b.endNode();
  });
  const h = FDT_HEADER.decode(dtb);
  assert.equal(h.size_dt_struct % 4, 0);
  assert.ok(readFdt(dtb).root.children[0].name === "n");
});

Deno.test("FdtBuilder hands out distinct phandles from 1", () => {
  const b = new FdtBuilder();
  assert.deepEqual([b.allocPhandle(), b.allocPhandle(), b.allocPhandle()], [1, 2, 3]);
});

Deno.test("FdtBuilder writes memory reservations in order, ended by a zero entry", () => {
  const b = new FdtBuilder();
  b.addReservation(0x4400_0000, 0x1000);
  b.addReservation(0xffff_ffff_0000_0000n, 0x10n);
  b.beginNode("");
  b.endNode();
  assert.deepEqual(readFdt(b.finish()).reservations, [
    { address: 0x4400_0000n, size: 0x1000n },
    { address: 0xffff_ffff_0000_0000n, size: 0x10n },
  ]);
});

Deno.test("buildFdt of readFdt reproduces a blob byte for byte", () => {
  const b = new FdtBuilder({ bootCpuidPhys: 1 });
  b.addReservation(0x10, 0x20);
  b.beginNode("");
  b.propertyString("compatible", "x");
  b.beginNode("cpus");
  b.propertyU32("#size-cells", 0);
  b.beginNode("cpu@0");
  b.propertyU32("reg", 0);
  b.endNode();
  b.endNode();
  b.endNode();
  const dtb = b.finish();
  assert.deepEqual(buildFdt(readFdt(dtb)), dtb);
});

Deno.test("FdtBuilder rejects a node name with a space, an empty unit address or over 31 characters", () => {
  for (const name of ["my node", "a@", "x".repeat(32), ""]) {
    const b = new FdtBuilder();
    b.beginNode("");
    throwsFdt(() => b.beginNode(name), "BadName");
  }
});

Deno.test("FdtBuilder rejects a named root node", () => {
  throwsFdt(() => new FdtBuilder().beginNode("root"), "BadName", /root/);
});

Deno.test("FdtBuilder rejects a property name with a character outside the spec's set", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  throwsFdt(() => b.propertyU32("a/b", 1), "BadName");
});

Deno.test("FdtBuilder rejects a string value containing NUL", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  throwsFdt(() => b.propertyString("bootargs", "a\0b"), "BadString");
});

Deno.test("FdtBuilder rejects cells outside u32 and values outside u64", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  throwsFdt(() => b.propertyU32("x", 0x1_0000_0000), "BadValue");
  throwsFdt(() => b.propertyU32("x", -1), "BadValue");
  throwsFdt(() => b.propertyU64("y", 1n << 64n), "BadValue");
  throwsFdt(() => b.addReservation(0xffff_ffff_ffff_f000n, 0x2000n), "BadValue", /2\^64/);
});

Deno.test("FdtBuilder rejects a property or child named twice in one node", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  b.propertyU32("x", 1);
  throwsFdt(() => b.propertyU32("x", 2), "DuplicateName");
  b.beginNode("c");
  b.endNode();
  throwsFdt(() => b.beginNode("c"), "DuplicateName");
});

Deno.test("FdtBuilder rejects a property after a child node", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  b.beginNode("c");
  b.endNode();
  throwsFdt(() => b.propertyU32("late", 1), "BadStructure", /precede subnodes/);
});

Deno.test("FdtBuilder rejects a property outside any node", () => {
  throwsFdt(() => new FdtBuilder().propertyU32("x", 1), "BadStructure");
});

Deno.test("FdtBuilder rejects an endNode without an open node", () => {
  throwsFdt(() => new FdtBuilder().endNode(), "BadStructure");
});

Deno.test("FdtBuilder rejects finish with a node still open, or without a root", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  throwsFdt(() => b.finish(), "BadStructure", /still open/);
  throwsFdt(() => new FdtBuilder().finish(), "BadStructure", /without a root/);
});

Deno.test("FdtBuilder rejects a second root node and any use after finish", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  b.endNode();
  throwsFdt(() => b.beginNode(""), "BadStructure", /second root/);
  b.finish();
  throwsFdt(() => b.addReservation(0, 1), "BadStructure", /after finish/);
});

Deno.test("findNode resolves a name without its unit address when it is unique", () => {
  const dtb = withRoot((b) => {
    b.beginNode("memory@40000000");
    b.endNode();
  });
  assert.equal(findNode(readFdt(dtb).root, "/memory")?.name, "memory@40000000");
  assert.equal(findNode(readFdt(dtb).root, "/nothing"), undefined);
});

Deno.test("the value decoders reject values of the wrong length", () => {
  throwsFdt(() => fdtU32(new Uint8Array(3)), "BadValue");
  throwsFdt(() => fdtU64(new Uint8Array(4)), "BadValue");
  throwsFdt(() => fdtCells(new Uint8Array(5)), "BadValue");
  throwsFdt(() => fdtString(new Uint8Array([0x61])), "BadValue");
  throwsFdt(() => fdtString(new TextEncoder().encode("a\0b\0")), "BadValue");
});

Deno.test("FdtBuilder finds a duplicate property or child among many in one node", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  for (let i = 0; i < 20; i++) b.propertyU32(`p${i}`, i);
  throwsFdt(() => b.propertyU32("p3", 0), "DuplicateName");
  for (let i = 0; i < 20; i++) {
    b.beginNode(`n@${i}`);
    b.endNode();
  }
  throwsFdt(() => b.beginNode("n@17"), "DuplicateName");
});

Deno.test("FdtBuilder blobs stay intact when later builders reuse the finished builder's buffers", () => {
  const build = (v: number): Uint8Array => {
    const b = new FdtBuilder();
    b.beginNode("");
    b.propertyU32("v", v);
    b.endNode();
    return b.finish();
  };
  const first = build(1), copy = first.slice();
  build(2);
  assert.deepEqual(first, copy);
  const done = new FdtBuilder();
  done.beginNode("");
  done.endNode();
  done.finish();
  const next = new FdtBuilder();
  next.beginNode("");
  throwsFdt(() => done.propertyU32("x", 1), "BadStructure");
  next.propertyU32("y", 7);
  next.endNode();
  assert.equal(readFdt(next.finish()).root.properties[0].name, "y");
});
