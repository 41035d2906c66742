import assert from "node:assert/strict";
import {
  applyPlan,
  applyPlanSync,
  checkNoOverlap,
  fromBytes,
  GuestMemory,
  KernelLoaderError,
  type Plan,
  plannedRanges,
  validatePlan,
} from "../mod.ts";

const image = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

function snapshot(mem: GuestMemory): Uint8Array[] {
  return mem.regions.map((r) => r.bytes.slice());
}

Deno.test("applyPlan performs copies, byte writes and fills in order", async () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  mem.fill(0x100, 16, 0xee);
  const plan: Plan = {
    steps: [
      { kind: "copy", guestAddr: 0x100, length: 8, sourceOffset: 4, label: "seg" },
      { kind: "fill", guestAddr: 0x108, length: 8, value: 0, label: "bss" },
      { kind: "bytes", guestAddr: 0x200, bytes: new Uint8Array([9, 8]), label: "hdr" },
    ],
  };
  await applyPlan(mem, plan, await fromBytes(image));
  assert.deepEqual([...mem.read(0x100, 16)], [5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...mem.read(0x200, 2)], [9, 8]);
});

Deno.test("applyPlan copies from a file-like source straight into regions", async () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x1000, 0x1000]]);
  const src = { size: image.length, readInto: (await fromBytes(image)).readInto };
  await applyPlan(mem, { steps: [{ kind: "copy", guestAddr: 0xff0, length: 32, sourceOffset: 0, label: "k" }] }, src);
  assert.deepEqual(mem.read(0xff0, 32), image.subarray(0, 32));
});

Deno.test("applyPlan writes nothing when a later step is outside memory", async () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  const before = snapshot(mem);
  const plan: Plan = {
    steps: [
      { kind: "fill", guestAddr: 0, length: 16, value: 0xff, label: "first" },
      { kind: "fill", guestAddr: 0xff8, length: 16, value: 0xff, label: "second" },
    ],
  };
  await assert.rejects(applyPlan(mem, plan), (e: unknown) => {
    assert.ok(e instanceof KernelLoaderError);
    assert.equal(e.code, "MemoryOverflow");
    assert.equal(e.field, "second");
    assert.equal(e.limit, 0x1000);
    return true;
  });
  assert.deepEqual(snapshot(mem), before);
});

Deno.test("validatePlan rejects a copy past the end of the image", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  assert.throws(
    () => validatePlan(mem, { steps: [{ kind: "copy", guestAddr: 0, length: 65, sourceOffset: 0, label: "k" }] }, 64),
    (e: unknown) => e instanceof KernelLoaderError && e.code === "MemoryOverflow" && /64-byte image/.test(e.message),
  );
});

Deno.test("validatePlan rejects a non-integer address", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  assert.throws(
    () => validatePlan(mem, { steps: [{ kind: "fill", guestAddr: 2 ** 60, length: 1, value: 0, label: "x" }] }),
    (e: unknown) => e instanceof KernelLoaderError && e.code === "MemoryOverflow",
  );
});

Deno.test("applyPlanSync refuses copy steps", () => {
  const mem = GuestMemory.fromRanges([[0, 0x1000]]);
  assert.throws(
    () => applyPlanSync(mem, { steps: [{ kind: "copy", guestAddr: 0, length: 1, sourceOffset: 0, label: "k" }] }),
    (e: unknown) => e instanceof KernelLoaderError,
  );
});

Deno.test("checkNoOverlap reports two plans writing the same bytes", () => {
  const kernel: Plan = { steps: [{ kind: "fill", guestAddr: 0x1000, length: 0x1000, value: 0, label: "kernel" }] };
  const cmdline: Plan = { steps: [{ kind: "bytes", guestAddr: 0x1ff0, bytes: new Uint8Array(32), label: "cmdline" }] };
  assert.throws(() => checkNoOverlap(kernel, cmdline), (e: unknown) => {
    assert.ok(e instanceof KernelLoaderError);
    assert.equal(e.code, "PlanOverlap");
    assert.match(e.message, /cmdline \[0x1ff0, 0x2010\) overlaps kernel \[0x1000, 0x2000\)/);
    return true;
  });
  checkNoOverlap(kernel, { steps: [{ kind: "bytes", guestAddr: 0x2000, bytes: new Uint8Array(1), label: "c" }] });
});

Deno.test("plannedRanges sorts ranges and drops empty ones", () => {
  const r = plannedRanges({
    steps: [
      { kind: "fill", guestAddr: 0x30, length: 4, value: 0, label: "b" },
      { kind: "fill", guestAddr: 0x10, length: 0, value: 0, label: "empty" },
      { kind: "fill", guestAddr: 0x20, length: 4, value: 0, label: "a" },
    ],
  });
  assert.deepEqual(r.map((x) => x.label), ["a", "b"]);
});
