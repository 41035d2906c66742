// Properties of format detection and dispatch (detectKernel / loadKernel) across every format: valid images
// are recognised as what they were built as, and any mutated image or random bytes give typed errors only,
// with loadKernel writing exactly what the detected format's planner planned, or nothing. Runs and seeds:
// ./_config.ts (gzip cases are a small share of the cases).

import assert from "node:assert/strict";
import fc from "fast-check";
import { detectKernel, loadKernel } from "../../lib/loader/mod.ts";
import { planElf } from "../../lib/loader/elf.ts";
import { planBzImage } from "../../lib/loader/bzimage.ts";
import { planPe } from "../../lib/loader/pe.ts";
import { planMultiboot, planMultiboot2 } from "../../lib/loader/multiboot.ts";
import { KernelLoaderError, MultibootError, SourceError } from "../../lib/errors.ts";
import { gzip } from "../../fixtures/build/pe.ts";
import type { Layout } from "./_harness.ts";
import { checkAsyncProperty } from "./_config.ts";
import {
  bzCaseArb,
  bzTargets,
  elfCaseArb,
  elfTargets,
  multibootCaseArb,
  multibootTargets,
  mutate,
  mutationsArb,
  peCaseArb,
  peTargets,
  type Targets,
} from "./_arbitraries.ts";
import { applyReference, assertMemory, makeMemory, snapshot, timedAsync, tryTypedAsync } from "./_harness.ts";

interface AnyCase {
  layout: Layout;
  bytes: Uint8Array;
  format: string;
  arch: string;
  gz: boolean;
  targets: (b: Uint8Array) => Targets;
  kernelOffset?: number;
}

const anyCaseArb: fc.Arbitrary<AnyCase> = fc.oneof(
  elfCaseArb.map((c) => ({ ...c, format: "elf", arch: "x86_64", gz: false, targets: elfTargets })),
  bzCaseArb.map((c) => ({ ...c, format: "bzimage", gz: false, targets: bzTargets })),
  peCaseArb.map((c) => ({ ...c, format: "pe", arch: c.arch, gz: false, targets: peTargets })),
  { arbitrary: peCaseArb.map((c) => ({ ...c, format: "pe", arch: c.arch, gz: true, targets: peTargets })), weight: 1 },
  multibootCaseArb.map((c) => ({
    ...c,
    format: c.version === 1 ? "multiboot" : "multiboot2",
    arch: "i386",
    gz: false,
    targets: multibootTargets,
  })),
);

async function gunzipRef(b: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([b as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test("detectKernel recognises every valid image of every format as what it was built as", async () => {
  await checkAsyncProperty(
    "detect valid images",
    fc.asyncProperty(anyCaseArb, async (c) => {
      const image = c.gz ? await gzip(c.bytes) : c.bytes;
      const d = await timedAsync("detectKernel", () => detectKernel(image));
      assert.equal(d.format, c.format);
      assert.equal(d.arch, c.arch);
      assert.equal(d.compression, c.gz ? "gzip" : undefined);
    }),
  );
});

Deno.test("loadKernel on any mutated image or random bytes throws only typed errors and writes exactly the detected format's plan or nothing", async () => {
  await checkAsyncProperty(
    "detect and load mutated images",
    fc.asyncProperty(
      anyCaseArb,
      fc.oneof(mutationsArb(), fc.constant([])),
      fc.option(fc.uint8Array({ maxLength: 600 }), { nil: undefined, freq: 6 }),
      async (c, muts, random) => {
        const plain = random ?? mutate(c.bytes, muts, c.targets);
        const image = c.gz && random === undefined ? await gzip(plain) : plain;
        const tm = makeMemory(c.layout);
        const before = snapshot(tm);
        // Each format's own placement option (an ELF addend, a bzImage load address, an Image base).
        const opts = c.format === "elf"
          ? { addend: c.kernelOffset }
          : c.format === "bzimage"
          ? { loadAddress: c.kernelOffset }
          : c.format === "pe"
          ? { imageBase: c.kernelOffset }
          : {};
        const r = await timedAsync("loadKernel", () => tryTypedAsync(() => loadKernel(tm.mem, image, opts)));
        if (!r.ok) {
          assertMemory(tm, before, `failed load (${r.error.name} ${r.error.code}) changed memory`);
          // Detection itself: typed errors only (UnknownFormat, or a MultibootError for a malformed Multiboot2
          // header with a valid checksum, which findMultiboot2Header reports).
          const d = await tryTypedAsync(() => detectKernel(image));
          if (!d.ok) {
            assert.ok(
              d.error instanceof KernelLoaderError || d.error instanceof SourceError ||
                d.error instanceof MultibootError,
              d.error.name,
            );
          }
          return;
        }
        // Success: exactly what the detected format's planner plans.
        let steps;
        let source = image;
        switch (r.value.format) {
          case "elf":
            steps = (await planElf(tm.mem, image, opts)).plan.steps;
            break;
          case "bzimage":
            steps = (await planBzImage(tm.mem, image, opts)).plan.steps;
            break;
          case "pe":
            if (r.value.details.compression === "gzip") source = await gunzipRef(image);
            steps = (await planPe(tm.mem, image, opts)).plan.steps;
            break;
          case "multiboot":
            steps = (await planMultiboot(tm.mem, image)).plan.steps;
            break;
          case "multiboot2":
            steps = (await planMultiboot2(tm.mem, image)).plan.steps;
            break;
        }
        assertMemory(tm, applyReference(tm, before, steps, source), `${r.value.format} load vs its plan`);
      },
    ),
  );
});
