// Regressions in lib/plan.ts and lib/source.ts found by hostile input (issue 18, item 6): the whole plan is
// checked before the first write, and whatever a caller's source throws arrives as a typed error.

import assert from "node:assert/strict";
import {
  applyPlan,
  applyPlanSync,
  detectKernel,
  extractVmlinux,
  GuestMemory,
  inspectKernel,
  KernelLoaderError,
  type KernelSource,
  LinuxLoaderError,
  loadBzImage,
  loadElf,
  loadInitrd,
  loadKernel,
  loadPe,
  type Plan,
  SourceError,
  toSource,
} from "../../mod.ts";
import { demoKernel } from "../../emu/demo_kernels.ts";
import { buildBzImage, defaultSetupHeader } from "../../fixtures/build/bzimage.ts";
import { buildArm64Image } from "../../fixtures/build/pe.ts";
import { rejectsWith, snapshot, throwsWith } from "../_assert.ts";

function patterned(): GuestMemory {
  const mem = GuestMemory.fromRanges([[0, 0x10000]]);
  for (let i = 0; i < 0x10000; i++) mem.regions[0].bytes[i] = (i * 7) | 1;
  return mem;
}

Deno.test("applyPlan refuses a copy step without a source before writing the steps before it", async () => {
  const mem = patterned();
  const before = snapshot(mem);
  const plan: Plan = {
    steps: [
      { kind: "fill", guestAddr: 0, length: 0x100, value: 0, label: "first" },
      { kind: "copy", guestAddr: 0x1000, length: 0x10, sourceOffset: 0, label: "kernel" },
    ],
  };
  await rejectsWith(applyPlan(mem, plan), KernelLoaderError, "InvalidPlan");
  throwsWith(() => applyPlanSync(mem, plan), KernelLoaderError, "InvalidPlan");
  assert.deepEqual(snapshot(mem), before);
});

for (const sourceOffset of [-16, Number.NaN, 1.5, 2 ** 53, Infinity]) {
  Deno.test(`applyPlan refuses a copy with sourceOffset ${sourceOffset} before any write`, async () => {
    const mem = patterned();
    const before = snapshot(mem);
    const plan: Plan = {
      steps: [
        { kind: "fill", guestAddr: 0, length: 0x100, value: 0, label: "first" },
        { kind: "copy", guestAddr: 0x1000, length: 0x10, sourceOffset, label: "kernel" },
      ],
    };
    await rejectsWith(applyPlan(mem, plan, new Uint8Array(0x100)), KernelLoaderError, "InvalidPlan");
    assert.deepEqual(snapshot(mem), before);
  });
}

Deno.test("applyPlan refuses a malformed plan (unknown kind, bytes not bytes, fill value 300) as InvalidPlan", async () => {
  const mem = patterned();
  const bad = [
    null,
    { steps: "x" },
    { steps: [{ kind: "poke", guestAddr: 0, length: 1, label: "x" }] },
    { steps: [{ kind: "bytes", guestAddr: 0, bytes: [1, 2], label: "x" }] },
    { steps: [{ kind: "fill", guestAddr: 0, length: 1, value: 300, label: "x" }] },
    { steps: [{ kind: "fill", guestAddr: 0, length: 1, value: 0, label: 5 }] },
  ];
  for (const p of bad) await rejectsWith(applyPlan(mem, p as unknown as Plan), KernelLoaderError, "InvalidPlan");
  await rejectsWith(
    applyPlan(mem, { steps: [{ kind: "fill", guestAddr: 10n as unknown as number, length: 1, value: 0, label: "x" }] }),
    KernelLoaderError,
    "MemoryOverflow",
  );
});

Deno.test("applyPlan copies from a snapshot of the plan: steps changed while a read is pending are not followed", async () => {
  const mem = GuestMemory.fromRanges([[0, 0x10000]]);
  const plan: Plan = {
    steps: [
      { kind: "copy", guestAddr: 0x1000, length: 4, sourceOffset: 0, label: "a" },
      { kind: "fill", guestAddr: 0x2000, length: 4, value: 0xff, label: "b" },
    ],
  };
  const src: KernelSource = {
    size: 4,
    readInto(_o, dest) {
      (plan.steps[1] as { guestAddr: number }).guestAddr = 0x1_0000_0000; // outside memory
      dest.fill(1);
      return Promise.resolve();
    },
  };
  await applyPlan(mem, plan, src);
  assert.equal(mem.readU32(0x2000), 0xffff_ffff);
});

// A source that rejects (or throws) with something that is not an Error, on its first read.
const rejecting = (size: number, value: () => unknown): KernelSource => ({
  size,
  readInto: () => {
    const v = value();
    if (v === "sync") throw Symbol("sync");
    return Promise.reject(v);
  },
});
const THROWN: [string, () => unknown][] = [
  ["undefined", () => undefined],
  ["a string", () => "eof"],
  ["null", () => null],
  ["an object without toString", () => Object.create(null)],
  ["a synchronous Symbol", () => "sync"],
];

for (const [what, value] of THROWN) {
  Deno.test(`a source rejecting with ${what} gives typed errors in every entry point that reads`, async () => {
    const calls: [string, () => Promise<unknown>][] = [
      ["loadElf", () => loadElf(GuestMemory.fromRanges([[0, 1 << 20]]), rejecting(0x2000, value))],
      ["loadBzImage", () => loadBzImage(GuestMemory.fromRanges([[0, 1 << 20]]), rejecting(0x2000, value))],
      ["loadPe", () => loadPe(GuestMemory.fromRanges([[0, 1 << 20]]), rejecting(0x2000, value))],
      ["loadKernel", () => loadKernel(GuestMemory.fromRanges([[0, 1 << 20]]), rejecting(0x2000, value))],
      ["detectKernel", () => detectKernel(rejecting(0x2000, value))],
      ["inspectKernel", () => inspectKernel(rejecting(0x2000, value))],
      ["extractVmlinux", () => extractVmlinux(rejecting(0x2000, value))],
      [
        "loadInitrd",
        () => loadInitrd(GuestMemory.fromRanges([[0, 1 << 20]]), rejecting(0x2000, value), { kernelEnd: 0x1000 }),
      ],
    ];
    for (const [name, call] of calls) {
      try {
        await call();
        assert.fail(`${name} succeeded`);
      } catch (e) {
        assert.ok(e instanceof LinuxLoaderError, `${name}: ${e instanceof Error ? e.stack : typeof e}`);
      }
    }
  });
}

Deno.test("a source rejecting with a non-Error mid-copy is LoadInterrupted with the value as cause", async () => {
  const image = demoKernel("x86_64");
  let n = 0;
  const src: KernelSource = {
    size: image.byteLength,
    readInto(offset, dest) {
      if (dest.byteLength > 0x100 && n++ === 0) return Promise.reject(undefined);
      dest.set(image.subarray(offset, offset + dest.byteLength));
      return Promise.resolve();
    },
  };
  await rejectsWith(loadElf(GuestMemory.fromRanges([[0, 4 << 20]]), src), SourceError, "LoadInterrupted");
});

Deno.test("wrong JS types given as a source are typed InvalidSource errors", async () => {
  for (const v of [null, undefined, 5, 5n, Symbol("s"), "vmlinux", { size: 4 }]) {
    throwsWith(() => toSource(v as unknown as Uint8Array), SourceError, "InvalidSource");
    await rejectsWith(
      loadElf(GuestMemory.fromRanges([[0, 0x1000]]), v as unknown as Uint8Array),
      SourceError,
      "InvalidSource",
    );
  }
  // A size that is no byte count keeps each format's own code.
  await rejectsWith(
    loadBzImage(GuestMemory.fromRanges([[0, 0x1000]]), {
      size: 5n as unknown as number,
      readInto: () => Promise.resolve(),
    }),
    (await import("../../mod.ts")).BzImageError,
    "SeekBzImageEnd",
  );
});

Deno.test("loaders still work from images built by code after the source checks", async () => {
  const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
  await loadBzImage(mem, buildBzImage({ payload: new Uint8Array(0x100), header: defaultSetupHeader(0x100) }));
  await loadPe(mem, buildArm64Image({ size: 0x1000 }), { imageBase: 0x20_0000 });
});
