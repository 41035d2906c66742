// Regressions found by tests/prop/fdt_test.ts, each with its input built by code.

import assert from "node:assert/strict";
import { buildFdt, FdtBuilder } from "../../lib/fdt/builder.ts";
import { readFdt } from "../../lib/fdt/reader.ts";
import type { FdtNode } from "../../lib/fdt/tree.ts";
import { FdtError } from "../../lib/errors.ts";

// Found by "fdt read(build(tree)) round-trips": an all-zero reservation was written as an entry, but it is the
// block's terminator, so readFdt stopped there and every later reservation was lost.
Deno.test("buildFdt refuses a reservation of address 0 and size 0 instead of ending the block early", () => {
  assert.throws(
    () =>
      buildFdt({
        root: { name: "", properties: [], children: [] },
        reservations: [{ address: 0n, size: 0n }, { address: 0x1000n, size: 0x1000n }],
        bootCpuidPhys: 0,
      }),
    (e) => e instanceof FdtError && e.code === "BadValue",
  );
  const b = new FdtBuilder();
  assert.throws(() => b.addReservation(0, 0), (e) => e instanceof FdtError && e.code === "BadValue");
  // Address 0 with a size, and a size at another address, stay valid.
  b.addReservation(0, 1);
  b.addReservation(0x1000, 0);
  b.beginNode("");
  b.endNode();
  assert.deepEqual(readFdt(b.finish()).reservations, [{ address: 0n, size: 1n }, { address: 0x1000n, size: 0n }]);
});

// Found by "fdt deep and wide trees": buildFdt recursed once per level, so a tree readFdt returns for an
// 8000-deep (valid) blob overflowed the stack with a RangeError.
Deno.test("buildFdt re-encodes an 8000-deep tree that readFdt accepts, without a RangeError", () => {
  const root: FdtNode = { name: "", properties: [], children: [] };
  let n = root;
  for (let i = 0; i < 8000; i++) {
    const c: FdtNode = { name: "n", properties: [], children: [] };
    n.children.push(c);
    n = c;
  }
  const blob = buildFdt({ root, reservations: [], bootCpuidPhys: 0 });
  const back = readFdt(blob);
  assert.deepEqual(buildFdt(back), blob);
});
