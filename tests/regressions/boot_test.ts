// Regressions in lib/boot/: each bad input is a typed error naming the field, its value and the limit.

import assert from "node:assert/strict";
import { x86LongModeBoot } from "../../lib/boot/x86_64.ts";
import { ConfiguratorError } from "../../lib/errors.ts";

// Found in review: x86LongModeBoot threw a bare RangeError (no code, field or limit) for a misaligned
// page-table address and for an identityGiB outside 1..512.
Deno.test("x86LongModeBoot rejects a misaligned page-table address with ConfiguratorError, not a RangeError", () => {
  for (const field of ["pml4Addr", "pdptAddr", "pdAddr"] as const) {
    assert.throws(
      () => x86LongModeBoot({ entry: 0x100200, zeroPage: 0x7000, [field]: 0x9100 }),
      (e) =>
        e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === field && e.value === "37120" &&
        e.limit === 0x1000,
    );
  }
});

Deno.test("x86LongModeBoot rejects identityGiB 0, 513 and 1.5 with ConfiguratorError naming the limit", () => {
  for (const identityGiB of [0, 513, 1.5]) {
    assert.throws(
      () => x86LongModeBoot({ entry: 0x100200, zeroPage: 0x7000, identityGiB }),
      (e) =>
        e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "identityGiB" &&
        e.value === String(identityGiB) && e.limit === 512,
    );
  }
});
