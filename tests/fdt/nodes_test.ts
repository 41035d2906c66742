import assert from "node:assert/strict";
import { FdtError } from "../../lib/errors.ts";
import {
  addChosen,
  addCpus,
  addMemoryNodes,
  buildVmFdt,
  FdtBuilder,
  fdtCells,
  type FdtNode,
  fdtString,
  fdtStringList,
  fdtU32,
  fdtU64,
  findNode,
  getProperty,
  readFdt,
} from "../../lib/fdt/mod.ts";
import { GuestMemory } from "../../lib/memory.ts";

function prop(root: FdtNode, path: string, name: string): Uint8Array {
  const node = findNode(root, path);
  assert.ok(node, `no node ${path}`);
  const v = getProperty(node, name);
  assert.ok(v, `no property ${path}:${name}`);
  return v;
}

function withRoot(fill: (b: FdtBuilder) => void): FdtNode {
  const b = new FdtBuilder();
  b.beginNode("");
  fill(b);
  b.endNode();
  return readFdt(b.finish()).root;
}

/** Every node of a tree with its path. */
function walk(n: FdtNode, path = ""): [string, FdtNode][] {
  return [[path || "/", n], ...n.children.flatMap((c) => walk(c, `${path}/${c.name}`))];
}

Deno.test("addMemoryNodes writes one memory node per region with its address and size", () => {
  const root = withRoot((b) => addMemoryNodes(b, GuestMemory.fromRanges([[0, 0x1000], [0x1_0000_0000, 0x2000]])));
  assert.deepEqual(root.children.map((c) => c.name), ["memory@0", "memory@100000000"]);
  assert.equal(fdtString(prop(root, "/memory@100000000", "device_type")), "memory");
  assert.deepEqual(fdtCells(prop(root, "/memory@100000000", "reg")), [1, 0, 0, 0x2000]);
});

Deno.test("addChosen writes bootargs, 64-bit initrd bounds and stdout-path", () => {
  const root = withRoot((b) =>
    addChosen(b, { bootargs: "quiet", initrdStart: 0x1_4800_0000, initrdEnd: 0x1_4810_0000, stdoutPath: "/uart" })
  );
  assert.equal(fdtString(prop(root, "/chosen", "bootargs")), "quiet");
  assert.equal(fdtU64(prop(root, "/chosen", "linux,initrd-start")), 0x1_4800_0000n);
  assert.equal(fdtU64(prop(root, "/chosen", "linux,initrd-end")), 0x1_4810_0000n);
  assert.equal(fdtString(prop(root, "/chosen", "stdout-path")), "/uart");
});

Deno.test("addChosen rejects an initrd with one end or with end before start", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  assert.throws(() => addChosen(b, { initrdStart: 0x1000 }), (e) => e instanceof FdtError && e.code === "BadValue");
  assert.throws(
    () => addChosen(b, { initrdStart: 0x2000, initrdEnd: 0x1000 }),
    (e) => e instanceof FdtError && e.code === "BadValue",
  );
});

Deno.test("addCpus gives arm64 CPUs the PSCI enable-method when there are several", () => {
  const root = withRoot((b) => addCpus(b, { arch: "aarch64", count: 2 }));
  assert.equal(fdtString(prop(root, "/cpus/cpu@1", "enable-method")), "psci");
  assert.equal(fdtU32(prop(root, "/cpus/cpu@1", "reg")), 1);
  assert.equal(fdtString(prop(root, "/cpus/cpu@0", "compatible")), "arm,arm-v8");
});

Deno.test("addCpus gives riscv64 CPUs an ISA, a timebase and a local interrupt controller with a phandle", () => {
  let phandles: number[] = [];
  const root = withRoot((b) => (phandles = addCpus(b, { arch: "riscv64", count: 2 })));
  assert.deepEqual(phandles, [1, 2]);
  assert.equal(fdtU32(prop(root, "/cpus", "timebase-frequency")), 10_000_000);
  assert.equal(fdtString(prop(root, "/cpus/cpu@1", "riscv,isa")), "rv64imafdc");
  assert.equal(fdtU32(prop(root, "/cpus/cpu@1/interrupt-controller", "phandle")), 2);
});

Deno.test("addCpus rejects a CPU count of zero", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  assert.throws(() => addCpus(b, { arch: "aarch64", count: 0 }), (e) => e instanceof FdtError && e.code === "BadValue");
});

Deno.test("buildVmFdt for arm64 points stdout-path at a PL011 whose clocks name an existing fixed clock", () => {
  const mem = GuestMemory.fromRanges([[0x4000_0000, 64 << 20]]);
  const root = readFdt(buildVmFdt(mem, { arch: "aarch64", bootargs: "console=ttyAMA0" })).root;
  const path = fdtString(prop(root, "/chosen", "stdout-path"));
  assert.equal(path, "/pl011@9000000");
  assert.deepEqual(fdtStringList(prop(root, path, "compatible")), ["arm,pl011", "arm,primecell"]);
  const [clk] = fdtCells(prop(root, path, "clocks"));
  const clock = walk(root).find(([, n]) => {
    const ph = getProperty(n, "phandle");
    return ph !== undefined && fdtU32(ph) === clk;
  });
  assert.ok(clock);
  assert.equal(fdtString(getProperty(clock[1], "compatible")!), "fixed-clock");
  assert.deepEqual(fdtStringList(prop(root, "/psci", "compatible")), ["arm,psci-1.0", "arm,psci-0.2"]);
});

Deno.test("buildVmFdt with gic adds a GICv2 that is the root's interrupt-parent and an armv8 timer", () => {
  const mem = GuestMemory.fromRanges([[0x4000_0000, 64 << 20]]);
  const root = readFdt(buildVmFdt(mem, { arch: "aarch64", gic: true, cpus: 2 })).root;
  const parent = fdtU32(prop(root, "/", "interrupt-parent"));
  assert.equal(fdtU32(prop(root, "/intc@8000000", "phandle")), parent);
  assert.deepEqual(fdtCells(prop(root, "/intc@8000000", "reg")), [
    0,
    0x800_0000,
    0,
    0x1_0000,
    0,
    0x801_0000,
    0,
    0x1_0000,
  ]);
  assert.ok(getProperty(findNode(root, "/intc@8000000")!, "interrupt-controller"));
  const irqs = fdtCells(prop(root, "/timer", "interrupts"));
  assert.deepEqual(irqs.slice(0, 3), [1, 13, 0x304]); // PPI 13, CPUs 0-1, level high
});

Deno.test("buildVmFdt for riscv64 points stdout-path at an ns16550a and sets memory and reservations", () => {
  const mem = GuestMemory.fromRanges([[0x8000_0000, 64 << 20]]);
  const t = readFdt(
    buildVmFdt(mem, { arch: "riscv64", reservations: [{ address: 0x8000_0000n, size: 0x20_0000n }] }),
  );
  const path = fdtString(prop(t.root, "/chosen", "stdout-path"));
  assert.equal(fdtString(prop(t.root, path, "compatible")), "ns16550a");
  assert.deepEqual(fdtCells(prop(t.root, "/memory@80000000", "reg")), [0, 0x8000_0000, 0, 64 << 20]);
  assert.deepEqual(t.reservations, [{ address: 0x8000_0000n, size: 0x20_0000n }]);
  assert.equal(findNode(t.root, "/psci"), undefined);
});

Deno.test("buildVmFdt phandles are unique across the tree", () => {
  const mem = GuestMemory.fromRanges([[0x4000_0000, 64 << 20]]);
  const root = readFdt(buildVmFdt(mem, { arch: "aarch64", gic: true, cpus: 4 })).root;
  const phs = walk(root).flatMap(([, n]) => {
    const p = getProperty(n, "phandle");
    return p ? [fdtU32(p)] : [];
  });
  assert.equal(new Set(phs).size, phs.length);
});
