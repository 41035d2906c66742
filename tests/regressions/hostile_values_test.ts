// Regressions from issue 18, item 6: Cmdline.parse is linear, wrong JS types at the public boundary are typed
// errors, planFromJson reports deep nesting without overflowing the stack, buildFdt refuses a cycle.

import assert from "node:assert/strict";
import {
  buildFdt,
  Cmdline,
  CmdlineError,
  FdtBuilder,
  FdtError,
  type FdtNode,
  planFromJson,
  PlanJsonError,
  planToJson,
} from "../../mod.ts";
import { throwsWith } from "../_assert.ts";

Deno.test("Cmdline.parse counts quotes once: 160k characters of quoted separators parse in linear work", () => {
  // Every " -- " follows an odd number of quotes, so each one is a candidate that must be rejected.
  const text = '"' + " -- x".repeat(32_000);
  const t0 = performance.now();
  const cl = Cmdline.parse(text, text.length + 1);
  const reads = performance.now() - t0;
  assert.equal(cl.initArgs, "");
  // Generous: the quadratic scan took 35-52 s here; linear is milliseconds. (A hang detector, not a speed test.)
  assert.ok(reads < 5_000, `parse took ${reads.toFixed(0)} ms`);
});

Deno.test("Cmdline methods given a number, null or a Symbol throw InvalidAscii and leave the line usable", () => {
  const cl = new Cmdline(100);
  cl.insertStr("quiet");
  for (const v of [5, null, undefined, Symbol("s"), 1n, {}]) {
    const bad = v as unknown as string;
    throwsWith(() => cl.insertStr(bad), CmdlineError, "InvalidAscii");
    throwsWith(() => cl.insertInitArgs(bad), CmdlineError, "InvalidAscii");
    throwsWith(() => cl.insert(bad, "x"), CmdlineError, "InvalidAscii");
    throwsWith(() => cl.insert("k", bad), CmdlineError, "InvalidAscii");
    throwsWith(() => Cmdline.parse(bad, 10), CmdlineError, "InvalidAscii");
  }
  throwsWith(() => cl.insertMultiple("k", "ab" as unknown as string[]), CmdlineError, "MissingVal");
  throwsWith(() => cl.insertMultiple("k", [5 as unknown as string]), CmdlineError, "InvalidAscii");
  throwsWith(() => cl.addVirtioMmioDevice(1n as unknown as number, 0, 5), CmdlineError, "InvalidInteger");
  assert.equal(cl.asString(), "quiet");
  assert.equal(cl.equals(5 as unknown as Cmdline), false);
});

Deno.test("planFromJson on deeply nested arrays is a typed error, not a stack overflow", () => {
  let deep: unknown = [];
  for (let i = 0; i < 200_000; i++) deep = [deep];
  throwsWith(() => planFromJson(deep), PlanJsonError, "InvalidField");
  throwsWith(
    () => planFromJson({ format: "linux-loader-plan", version: 1, steps: [deep] }),
    PlanJsonError,
    "InvalidField",
  );
  throwsWith(() => planFromJson({ format: deep, version: 1, steps: [] }), PlanJsonError, "UnsupportedVersion");
  throwsWith(() => planFromJson("[".repeat(1_000_000)), PlanJsonError, "MalformedJson");
  throwsWith(() => planToJson(null as never), PlanJsonError, "InvalidField");
});

Deno.test("buildFdt refuses a tree with a cycle, and a node shared by two parents, as BadStructure", () => {
  const child: FdtNode = { name: "a", properties: [], children: [] };
  const root: FdtNode = { name: "", properties: [], children: [child] };
  child.children.push(child);
  throwsWith(() => buildFdt({ root, reservations: [], bootCpuidPhys: 0 }), FdtError, "BadStructure");
  // A diamond 40 levels deep would be 2^40 nodes written: refused at the first shared node.
  let node: FdtNode = { name: "leaf", properties: [], children: [] };
  for (let i = 0; i < 40; i++) node = { name: `n${i}`, properties: [], children: [node, node] };
  const tree = { root: { name: "", properties: [], children: [node] }, reservations: [], bootCpuidPhys: 0 };
  throwsWith(() => buildFdt(tree), FdtError, "BadStructure");
  const shared: FdtNode = { name: "s", properties: [], children: [] };
  const two = {
    name: "",
    properties: [],
    children: [{ name: "x", properties: [], children: [shared] }, { name: "y", properties: [], children: [shared] }],
  };
  throwsWith(() => buildFdt({ root: two, reservations: [], bootCpuidPhys: 0 }), FdtError, "BadStructure");
});

Deno.test("FdtBuilder and buildFdt given wrong JS types throw FdtError, never a TypeError", () => {
  const b = new FdtBuilder();
  throwsWith(() => b.beginNode(5 as unknown as string), FdtError, "BadValue");
  b.beginNode("");
  throwsWith(() => b.property("p", "x" as unknown as Uint8Array), FdtError, "BadValue");
  throwsWith(() => b.propertyString("p", null as unknown as string), FdtError, "BadValue");
  throwsWith(() => b.propertyCells("p", 5 as unknown as number[]), FdtError, "BadValue");
  throwsWith(() => b.propertyU32("p", 1n as unknown as number), FdtError, "BadValue");
  throwsWith(() => b.propertyU64("p", Symbol() as unknown as number), FdtError, "BadValue");
  throwsWith(() => buildFdt(null as never), FdtError, "BadStructure");
  throwsWith(
    () => buildFdt({ root: { name: "", properties: null, children: [] }, reservations: [] } as never),
    FdtError,
    "BadValue",
  );
});

Deno.test("plan, source, FDT-tree and format-check functions given null, a Symbol or a BigInt never throw a TypeError", async () => {
  const m = await import("../../mod.ts");
  const mem = m.GuestMemory.fromRanges([[0, 0x1000]]);
  const weird: unknown[] = [null, undefined, Symbol("s"), 5n, "x", {}];
  const calls: [string, (w: never) => unknown][] = [
    ["stepLength", (w) => m.stepLength(w)],
    ["plannedRanges", (w) => m.plannedRanges(w)],
    ["checkNoOverlap", (w) => m.checkNoOverlap(w)],
    ["validatePlan", (w) => m.validatePlan(mem, w)],
    ["applyPlanSync", (w) => m.applyPlanSync(w, { steps: [] })],
    ["comparePlans", (w) => m.comparePlans(w, { steps: [] })],
    ["readFdt", (w) => m.readFdt(w)],
    ["readFdtHeader", (w) => m.readFdtHeader(w)],
    ["fdtU32", (w) => m.fdtU32(w)],
    ["findNode", (w) => m.findNode(w, "/")],
    ["checkSourceRange", (w) => m.checkSourceRange(w, 0, 1)],
    ["toSafeNumber", (w) => m.toSafeNumber(w, "f")],
    ["isElf", (w) => m.isElf(w)],
    ["hex", (w) => m.hex(w)],
  ];
  for (const [name, call] of calls) {
    for (const w of weird) {
      try {
        await call(w as never);
      } catch (e) {
        assert.ok(e instanceof m.LinuxLoaderError, `${name}(${typeof w}): ${e}`);
      }
    }
  }
});
