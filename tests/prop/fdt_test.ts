// Properties of the FDT builder and reader: an independent reference encoder (devicetree specification,
// chapter 5) agrees byte for byte with buildFdt, readFdt reads back every tree, hostile blobs give FdtError only,
// and whatever readFdt accepts (deep nesting included) buildFdt re-encodes. Runs and seeds: ./_config.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { buildFdt } from "../../lib/fdt/builder.ts";
import { readFdt } from "../../lib/fdt/reader.ts";
import type { FdtNode, FdtTree } from "../../lib/fdt/tree.ts";
import { FdtError } from "../../lib/errors.ts";
import { checkProperty } from "./_config.ts";
import { fdtTargets, fdtTreeArb, mutate, mutationsArb } from "./_arbitraries.ts";
import { timed, tryTyped } from "./_harness.ts";

/**
 * The reference encoder, written from the specification without lib/: header (40 bytes), memory reservation
 * block (16-byte entries, a zero entry last), structure block (BEGIN_NODE name, PROP len nameoff value,
 * END_NODE, END; each padded to 4), strings block (each name once, in first-use order). Iterative, so any
 * depth encodes.
 */
export function referenceEncode(t: FdtTree): Uint8Array {
  const enc = new TextEncoder();
  const struct: number[] = [];
  const strings: number[] = [];
  const offs = new Map<string, number>();
  const u32 = (out: number[], v: number) => out.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  const pad = () => {
    while (struct.length % 4 !== 0) struct.push(0);
  };
  const stack: { node: FdtNode; child: number }[] = [];
  const open = (n: FdtNode) => {
    u32(struct, 1);
    struct.push(...enc.encode(n.name), 0);
    pad();
    for (const p of n.properties) {
      let off = offs.get(p.name);
      if (off === undefined) {
        off = strings.length;
        offs.set(p.name, off);
        strings.push(...enc.encode(p.name), 0);
      }
      u32(struct, 3);
      u32(struct, p.value.byteLength);
      u32(struct, off);
      struct.push(...p.value);
      pad();
    }
    stack.push({ node: n, child: 0 });
  };
  open(t.root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.child < top.node.children.length) open(top.node.children[top.child++]);
    else {
      u32(struct, 2);
      stack.pop();
    }
  }
  u32(struct, 9);
  const rsv = (t.reservations.length + 1) * 16;
  const total = 40 + rsv + struct.length + strings.length;
  const out = new Uint8Array(total);
  const d = new DataView(out.buffer);
  [0xd00dfeed, total, 40 + rsv, 40 + rsv + struct.length, 40, 17, 16, t.bootCpuidPhys, strings.length, struct.length]
    .forEach((v, i) => d.setUint32(i * 4, v, false));
  t.reservations.forEach((r, i) => {
    d.setBigUint64(40 + i * 16, r.address, false);
    d.setBigUint64(48 + i * 16, r.size, false);
  });
  out.set(struct, 40 + rsv);
  out.set(strings, 40 + rsv + struct.length);
  return out;
}

function plainTree(t: FdtTree): FdtTree {
  return { root: t.root, reservations: t.reservations, bootCpuidPhys: t.bootCpuidPhys };
}

Deno.test("buildFdt writes every valid tree as the reference encoder does, and readFdt reads it back", () => {
  checkProperty(
    "fdt read(build(tree)) round-trips",
    fc.property(fdtTreeArb, (tree) => {
      const built = timed("buildFdt", () => tryTyped(() => buildFdt(tree)));
      if (!built.ok) {
        // The builder refuses only what cannot be a blob: a reservation passing 2^64, or the all-zero entry
        // that would end the reservation block early.
        assert.ok(built.error instanceof FdtError && built.error.code === "BadValue", built.error.message);
        assert.ok(
          tree.reservations.some((r) => r.address + r.size > 2n ** 64n || (r.address === 0n && r.size === 0n)),
          built.error.message,
        );
        return;
      }
      assert.deepEqual(built.value, referenceEncode(tree));
      assert.deepEqual(plainTree(timed("readFdt", () => readFdt(built.value))), tree);
    }),
  );
});

Deno.test("readFdt on any mutated blob throws only FdtError, and what it accepts buildFdt re-encodes to the same tree", () => {
  checkProperty(
    "fdt mutated read keeps the invariants",
    fc.property(
      fdtTreeArb.filter((t) => t.reservations.every((r) => r.address + r.size <= 2n ** 64n && r.address + r.size > 0n)),
      mutationsArb(),
      (tree, muts) => {
        const blob = mutate(referenceEncode(tree), muts, fdtTargets);
        const r = timed("readFdt", () => tryTyped(() => readFdt(blob)));
        if (!r.ok) {
          assert.ok(r.error instanceof FdtError, r.error.name);
          return;
        }
        const back = timed("buildFdt", () => tryTyped(() => buildFdt(r.value)));
        if (!back.ok) {
          // The reader accepts names the builder's stricter character rules refuse.
          assert.ok(back.error instanceof FdtError, back.error.name);
          return;
        }
        assert.deepEqual(plainTree(readFdt(back.value)), plainTree(r.value));
      },
    ),
  );
});

// Nesting and fan-out as hostile blobs have them: chains 8000 deep (the recursive builder overflowed the stack
// from about 6000), nodes with many children.
const shapeArb = fc.record({
  depth: fc.oneof({ arbitrary: fc.nat({ max: 64 }), weight: 60 }, { arbitrary: fc.constant(8_000), weight: 1 }),
  fanout: fc.nat({ max: 300 }),
});

Deno.test("buildFdt re-encodes every nesting depth and fan-out that readFdt accepts", () => {
  checkProperty(
    "fdt deep and wide trees",
    fc.property(shapeArb, ({ depth, fanout }) => {
      const root: FdtNode = { name: "", properties: [], children: [] };
      let n = root;
      for (let i = 0; i < depth; i++) {
        const c: FdtNode = { name: "n", properties: [{ name: "d", value: new Uint8Array([i & 255]) }], children: [] };
        n.children.push(c);
        n = c;
      }
      for (let i = 0; i < fanout; i++) n.children.push({ name: `c@${i.toString(16)}`, properties: [], children: [] });
      const tree = { root, reservations: [], bootCpuidPhys: 0 };
      const blob = referenceEncode(tree);
      const read = timed("readFdt", () => tryTyped(() => readFdt(blob)));
      assert.ok(read.ok, "readFdt refused a valid blob");
      const built = timed("buildFdt", () => tryTyped(() => buildFdt(read.value)));
      assert.ok(built.ok, !built.ok ? built.error.message : "");
      assert.deepEqual(built.value, blob);
    }),
  );
});
