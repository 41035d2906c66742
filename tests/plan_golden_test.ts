/**
 * Golden files of the boot plans of the Multiboot fixture kernels (fixtures/golden/*.json): the loader's
 * copies and fills, the configurator's boot information bytes, the entry point and the entry registers.
 * A change to a loader, a configurator, a builder or a stub that changes what is written fails here with the
 * differing fields. If the change is intended, regenerate: UPDATE_GOLDEN=1 deno test -A tests/plan_golden_test.ts
 */
import assert from "node:assert/strict";
import { comparePlans, type DescribedPlan, planFromJson, planToJson } from "../lib/plan_json.ts";
import { applyPlan, checkNoOverlap } from "../lib/plan.ts";
import { GuestMemory } from "../lib/memory.ts";
import { fromBytes } from "../lib/source.ts";
import { loadMultiboot, planMultiboot, planMultiboot2 } from "../lib/loader/multiboot.ts";
import { configureMultiboot, planMultibootInfo } from "../lib/configurator/multiboot.ts";
import { planMultiboot2Info } from "../lib/configurator/multiboot2.ts";
import { buildMultiboot2, buildMultibootAout, buildMultibootElf } from "../fixtures/build/multiboot.ts";
import { multibootStub } from "../fixtures/build/multiboot_stubs.ts";

const UPDATE = Deno.env.get("UPDATE_GOLDEN") === "1";
const GOLDEN = new URL("../fixtures/golden/", import.meta.url);

interface Fixture {
  /** Golden file name. */
  file: string;
  /** What the fixture is. */
  name: string;
  /** The kernel image. */
  image: () => Uint8Array;
  /** Multiboot2? */
  v2: boolean;
}

const FIXTURES: readonly Fixture[] = [
  {
    file: "multiboot_aout.json",
    name: "Multiboot 1 a.out-kludge",
    image: () => buildMultibootAout({ code: multibootStub("multiboot") }),
    v2: false,
  },
  {
    file: "multiboot_elf32.json",
    name: "Multiboot 1 ELF32",
    image: () => buildMultibootElf({ code: multibootStub("multiboot") }),
    v2: false,
  },
  {
    file: "multiboot2.json",
    name: "Multiboot2",
    image: () => buildMultiboot2({ code: multibootStub("multiboot2") }),
    v2: true,
  },
];

function memory(): GuestMemory {
  return GuestMemory.fromRanges([[0, 0x9_f000], [0x10_0000, 0x70_0000]]);
}

const INFO = {
  infoAddr: 0x9000,
  cmdline: "console=ttyS0 golden",
  modules: [{ addr: 0x40_0000, size: 0x1000, cmdline: "initrd" }],
};

/** The whole boot of a fixture as one plan: kernel load, then boot information; entry and registers. */
async function bootPlan(f: Fixture): Promise<DescribedPlan> {
  const mem = memory();
  const img = f.image();
  const load = f.v2 ? await planMultiboot2(mem, img) : await planMultiboot(mem, img);
  const opts = { ...INFO, pageAlignModules: load.details.pageAlignModules };
  const info = f.v2 ? planMultiboot2Info(mem, opts) : planMultibootInfo(mem, opts);
  return {
    protocol: load.format,
    entry: load.entry.multiboot,
    registers: { eax: info.registers.eax, ebx: info.registers.ebx },
    steps: [...load.plan.steps, ...info.plan.steps],
  };
}

for (const f of FIXTURES) {
  Deno.test(`the ${f.name} fixture's boot plan matches fixtures/golden/${f.file}`, async () => {
    const plan = await bootPlan(f);
    const url = new URL(f.file, GOLDEN);
    if (UPDATE) {
      await Deno.writeTextFile(url, JSON.stringify(planToJson(plan), null, 2) + "\n");
      return;
    }
    const golden = planFromJson(await Deno.readTextFile(url));
    assert.deepEqual(comparePlans(golden, plan), [], `${f.file} differs; rerun with UPDATE_GOLDEN=1 if intended`);
  });

  Deno.test(`the ${f.name} golden plan has no overlapping writes`, async () => {
    checkNoOverlap(planFromJson(await Deno.readTextFile(new URL(f.file, GOLDEN))));
  });
}

Deno.test("a golden plan applied with applyPlan leaves memory as the loader and configurator do", async () => {
  const f = FIXTURES[0];
  const viaGolden = memory();
  await applyPlan(
    viaGolden,
    planFromJson(await Deno.readTextFile(new URL(f.file, GOLDEN))),
    await fromBytes(f.image()),
  );
  const direct = memory();
  await loadMultiboot(direct, f.image());
  configureMultiboot(direct, { ...INFO, pageAlignModules: true });
  assert.deepEqual(viaGolden.regions.map((r) => r.bytes), direct.regions.map((r) => r.bytes));
});
