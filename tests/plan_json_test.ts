import assert from "node:assert/strict";
import { comparePlans, type DescribedPlan, planFromJson, planToJson } from "../lib/plan_json.ts";
import { PlanJsonError, type PlanJsonErrorCode } from "../lib/errors.ts";

const PLAN: DescribedPlan = {
  protocol: "multiboot",
  entry: 0x10_0020,
  registers: { eax: 0x2badb002, ebx: 0x9000 },
  steps: [
    { kind: "copy", guestAddr: 0x10_0000, length: 0x400, sourceOffset: 0, label: "text" },
    { kind: "fill", guestAddr: 0x10_0400, length: 0x1000, value: 0, label: "bss" },
    { kind: "bytes", guestAddr: 0x9000, bytes: new Uint8Array([0, 1, 0xfe, 0xff]), label: "info" },
  ],
};

function expectCode(fn: () => unknown, code: PlanJsonErrorCode, field?: string): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof PlanJsonError, String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

function jsonWith(mutate: (j: Record<string, unknown> & { steps: Record<string, unknown>[] }) => void): string {
  const j = JSON.parse(JSON.stringify(planToJson(PLAN)));
  mutate(j);
  return JSON.stringify(j);
}

Deno.test("planToJson keeps copies as source offset and length, without image bytes", () => {
  assert.deepEqual(planToJson(PLAN).steps[0], {
    kind: "copy",
    guestAddr: 0x10_0000,
    length: 0x400,
    sourceOffset: 0,
    label: "text",
  });
});

Deno.test("planToJson writes literal bytes as hex with their length", () => {
  assert.deepEqual(planToJson(PLAN).steps[2], {
    kind: "bytes",
    guestAddr: 0x9000,
    length: 4,
    hex: "0001feff",
    label: "info",
  });
});

Deno.test("planToJson writes literal bytes as base64 when asked", () => {
  const s = planToJson(PLAN, { bytes: "base64" }).steps[2];
  assert.deepEqual([s.kind === "bytes" && s.base64, s.length], ["AAH+/w==", 4]);
});

Deno.test("planToJson keeps fills, protocol, entry and registers as they are", () => {
  const j = planToJson(PLAN);
  assert.deepEqual(j.steps[1], PLAN.steps[1]);
  assert.deepEqual([j.format, j.version, j.protocol, j.entry, j.registers], [
    "linux-loader-plan",
    1,
    "multiboot",
    0x10_0020,
    { eax: 0x2badb002, ebx: 0x9000 },
  ]);
});

Deno.test("planFromJson reads back what planToJson wrote, through JSON text", () => {
  assert.deepEqual(planFromJson(JSON.stringify(planToJson(PLAN))), PLAN);
  assert.deepEqual(planFromJson(JSON.stringify(planToJson(PLAN, { bytes: "base64" }))), PLAN);
});

Deno.test("planFromJson accepts parsed data as well as text", () => {
  assert.deepEqual(planFromJson(planToJson(PLAN)), PLAN);
});

Deno.test("planFromJson rejects text that is not JSON", () => {
  expectCode(() => planFromJson("{steps:"), "MalformedJson");
});

Deno.test("planFromJson rejects another format", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.format = "other"))), "UnsupportedVersion", "format");
});

Deno.test("planFromJson rejects another version", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.version = 2))), "UnsupportedVersion", "version");
});

Deno.test("planFromJson rejects a plan that is not an object", () => {
  expectCode(() => planFromJson("[]"), "InvalidField", "plan");
});

Deno.test("planFromJson rejects steps that are not an array", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.steps = {} as never))), "InvalidField", "steps");
});

Deno.test("planFromJson names a negative guest address by its path", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.steps[1].guestAddr = -1))), "InvalidField", "steps[1].guestAddr");
});

Deno.test("planFromJson rejects an address above 2^53", () => {
  expectCode(
    () => planFromJson(jsonWith((j) => (j.steps[0].guestAddr = 2 ** 53))),
    "InvalidField",
    "steps[0].guestAddr",
  );
});

Deno.test("planFromJson rejects an unknown step kind", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.steps[0].kind = "move"))), "InvalidField", "steps[0].kind");
});

Deno.test("planFromJson rejects a step without a label", () => {
  expectCode(() => planFromJson(jsonWith((j) => delete j.steps[0].label)), "InvalidField", "steps[0].label");
});

Deno.test("planFromJson rejects a copy without a source offset", () => {
  expectCode(
    () => planFromJson(jsonWith((j) => delete j.steps[0].sourceOffset)),
    "InvalidField",
    "steps[0].sourceOffset",
  );
});

Deno.test("planFromJson rejects a fill value that is not a byte", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.steps[1].value = 256))), "InvalidField", "steps[1].value");
});

Deno.test("planFromJson rejects a bytes step with both hex and base64", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.steps[2].base64 = "AAH+/w=="))), "InvalidField", "steps[2]");
});

Deno.test("planFromJson rejects hex that is not hexadecimal", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.steps[2].hex = "00zz0000"))), "InvalidBytes", "steps[2].hex");
});

Deno.test("planFromJson rejects hex whose byte count disagrees with the length", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.steps[2].length = 5))), "InvalidBytes", "steps[2].hex");
});

Deno.test("planFromJson rejects malformed base64", () => {
  const text = jsonWith((j) => {
    delete j.steps[2].hex;
    j.steps[2].base64 = "!!!";
  });
  expectCode(() => planFromJson(text), "InvalidBytes", "steps[2].base64");
});

Deno.test("planFromJson rejects a register that is not an integer", () => {
  expectCode(() => planFromJson(jsonWith((j) => (j.registers = { eax: "x" }))), "InvalidField", "registers.eax");
});

Deno.test("comparePlans finds no difference between a plan and its JSON round trip", () => {
  assert.deepEqual(comparePlans(PLAN, planFromJson(planToJson(PLAN))), []);
});

Deno.test("comparePlans names a changed entry and register", () => {
  const b = { ...PLAN, entry: 0x10_0040, registers: { eax: 0x2badb002, ebx: 0xa000 } };
  assert.deepEqual(comparePlans(PLAN, b), [
    { path: "entry", a: "0x100020", b: "0x100040" },
    { path: "registers.ebx", a: "0x9000", b: "0xa000" },
  ]);
});

Deno.test("comparePlans names the first differing byte of a bytes step", () => {
  const b = {
    ...PLAN,
    steps: [...PLAN.steps.slice(0, 2), { ...PLAN.steps[2], bytes: new Uint8Array([0, 1, 0xfe, 0]) }],
  };
  assert.deepEqual(comparePlans(PLAN, b), [{ path: "steps[2].bytes[3]", a: "0xff", b: "0x0" }]);
});

Deno.test("comparePlans names a changed copy offset and a missing step", () => {
  const b: DescribedPlan = { ...PLAN, steps: [{ ...PLAN.steps[0], sourceOffset: 0x20 } as typeof PLAN.steps[0]] };
  assert.deepEqual(comparePlans(PLAN, b), [
    { path: "steps.length", a: "3", b: "1" },
    { path: "steps[0].sourceOffset", a: "0", b: "0x20" },
  ]);
});
