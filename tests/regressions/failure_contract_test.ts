// The failure contract (README "Failure contract", applyPlan's JSDoc), proven by failing the source at every
// read: for every source kind (bytes, file, Blob, a caller's own KernelSource) and every format, a load either
// succeeds and guest memory is exactly the plan applied, or it fails with a typed error and memory is byte for
// byte as before (a failure before the copy) or as before with every byte the plan claims zeroed
// (SourceError LoadInterrupted, a failure during the copy). Guard bytes around every region never change.

import assert from "node:assert/strict";
import {
  failingSource,
  type Failure,
  formatCases,
  memoryFor,
  runFailingAt,
  type SourceKind,
} from "../prop/_failing.ts";
import { snapshot } from "../prop/_harness.ts";

const KINDS: SourceKind[] = ["bytes", "file", "blob", "custom"];
const HOWS: Failure[] = ["error", "undefined", "string", "sync-throw", "short"];

for (const kind of KINDS) {
  Deno.test(`every format loaded from a ${kind} source failing at every read keeps the failure contract`, async () => {
    for (const c of await formatCases()) {
      // The reference: a load that does not fail (failAt past the end).
      const tm = memoryFor(c);
      const ok = failingSource(kind, c.image, -1, "error");
      await c.load(tm, await ok.source);
      const reference = snapshot(tm);
      const total = ok.reads();
      if (kind !== "bytes") assert.ok(total > 0, `${c.name}: the ${kind} source was never read`);
      let interrupted = 0;
      for (const how of HOWS) {
        for (let k = 0; k < total; k++) {
          const r = await runFailingAt(c, kind, k, how, reference);
          if (r.code === "LoadInterrupted") interrupted++;
        }
      }
      // A source read during the copy exists for every format: the contract's scrub path ran.
      if (kind === "bytes") continue;
      if (c.readsBeforeWriting) assert.equal(interrupted, 0, `${c.name} from ${kind}: a read failed during the copy`);
      else assert.ok(interrupted > 0, `${c.name} from ${kind}: no read failed during the copy`);
    }
  });
}

Deno.test("a Uint8Array source cannot fail during the copy: every format loads and equals its plan", async () => {
  for (const c of await formatCases()) {
    const r = await runFailingAt(c, "bytes", 0, "error", undefined);
    assert.equal(r.failed, false, c.name);
  }
});
