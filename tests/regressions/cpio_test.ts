// Regressions found by tests/prop/cpio_test.ts.

import assert from "node:assert/strict";
import { readCpio, writeCpio } from "../../lib/cpio.ts";
import { CpioError } from "../../lib/errors.ts";

// Found by "cpio hostile entries": the archive is padded to a whole block, so blockSize 2^52 allocated that many
// bytes (RangeError "Array buffer allocation failed"), and 2^32 a 4 GiB archive of zeros.
Deno.test("writeCpio refuses a blockSize above 1 MiB with FieldOverflow instead of allocating it", () => {
  for (const blockSize of [2 ** 52, 2 ** 40, 2 ** 32, 2 ** 20 + 4]) {
    assert.throws(() => writeCpio([], { blockSize }), (e) => e instanceof CpioError && e.code === "FieldOverflow");
  }
  const a = writeCpio([{ type: "file", path: "/init", data: "x" }], { blockSize: 2 ** 20 });
  assert.equal(a.byteLength, 2 ** 20);
  assert.deepEqual(readCpio(a).map((r) => r.name), ["init"]);
});
