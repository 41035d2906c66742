// Properties of the Multiboot 1 and Multiboot2 loaders (a.out kludge and ELF32), on valid and hostile images.
// Runs and seeds: ./_config.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { loadMultiboot, loadMultiboot2, planMultiboot, planMultiboot2 } from "../../lib/loader/multiboot.ts";
import { MultibootError, SourceError } from "../../lib/errors.ts";
import { checkAsyncProperty } from "./_config.ts";
import { layoutArb, multibootCaseArb, multibootTargets, mutate, mutationsArb } from "./_arbitraries.ts";
import { assertMemory, checkLoad, expectFill, expectWrite, makeMemory, snapshot, timedAsync } from "./_harness.ts";

Deno.test("loadMultiboot and loadMultiboot2 load every valid image where its header or program headers say", async () => {
  await checkAsyncProperty(
    "multiboot valid load equals the reference reading",
    fc.asyncProperty(multibootCaseArb, async (c) => {
      const tm = makeMemory(c.layout);
      const before = snapshot(tm);
      const load = c.version === 1 ? loadMultiboot : loadMultiboot2;
      const r = await timedAsync("load", () => load(tm.mem, c.bytes));
      // The reference: the file (from offset 0, as every builder lays it out) at the load address, then bss.
      assert.equal(r.format, c.version === 1 ? "multiboot" : "multiboot2");
      assert.equal(r.details.placement, c.format === "aout" ? "aout-kludge" : "elf32");
      assert.equal(r.entry.multiboot, c.entry);
      assert.equal(r.loadStart, c.load);
      assert.equal(r.loadEnd, c.load + c.fileLength + c.bss);
      const expected = before.map((x) => x.slice());
      expectWrite(tm, expected, c.load, c.bytes.subarray(c.fileOffset, c.fileOffset + c.fileLength));
      expectFill(tm, expected, c.load + c.fileLength, c.bss);
      assertMemory(tm, expected, "loaded memory vs the reference");
    }),
  );
});

Deno.test("loadMultiboot and loadMultiboot2 on any mutated image throw only MultibootError, write only their plan and leave memory untouched on failure", async () => {
  await checkAsyncProperty(
    "multiboot mutated load keeps the invariants",
    fc.asyncProperty(
      multibootCaseArb,
      mutationsArb(),
      fc.boolean(),
      fc.option(layoutArb({ base: fc.nat({ max: 0x20_0000 }) }), { nil: undefined, freq: 3 }),
      async (c, muts, preferElf, otherLayout) => {
        const image = mutate(c.bytes, muts, multibootTargets);
        const tm = makeMemory(otherLayout ?? c.layout);
        const [plan, load] = c.version === 1 ? [planMultiboot, loadMultiboot] : [planMultiboot2, loadMultiboot2];
        const r = await checkLoad(
          tm,
          () => image,
          () => plan(tm.mem, image, { preferElf }),
          () => load(tm.mem, image, { preferElf }),
        );
        if (!r.ok) {
          assert.ok(r.error instanceof MultibootError || r.error instanceof SourceError, `${r.error.name}`);
        } else {
          // Whatever loads stays below 4 GiB and holds its entry point.
          assert.ok(r.result.loadEnd <= 2 ** 32 && r.result.loadStart <= r.result.entry.multiboot!);
          assert.ok(r.result.entry.multiboot! < r.result.loadEnd);
        }
      },
    ),
  );
});
