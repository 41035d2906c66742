import assert from "node:assert/strict";
import { BootParams, ConfiguratorError } from "../../mod.ts";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfiguratorError);
    return e.code;
  }
  return "none";
}

Deno.test("BootParams.addSection needs an address for the first section", () => {
  const p = new BootParams(new Uint8Array(8), 0x1000);
  assert.equal(codeOf(() => p.addSection(new Uint8Array(4))), "MissingStartAddress");
  assert.equal(codeOf(() => p.addModule(new Uint8Array(4))), "MissingStartAddress");
});

Deno.test("BootParams.addSection appends after the previous section", () => {
  const p = new BootParams(new Uint8Array(8), 0x1000);
  assert.equal(p.addSection(new Uint8Array([1, 2]), 0x2000), 0x2000);
  assert.equal(p.addSection(new Uint8Array([3, 4])), 0x2002);
  assert.deepEqual([...p.sections!], [1, 2, 3, 4]);
  assert.equal(p.sectionsStart, 0x2000);
});

Deno.test("BootParams.addSection places a section at its own address, filling the gap", () => {
  const p = new BootParams(new Uint8Array(8), 0x1000);
  p.addSection(new Uint8Array([1]), 0x2000);
  assert.equal(p.addSection(new Uint8Array([7]), 0x2003), 0x2003);
  assert.deepEqual([...p.sections!], [1, 0, 0, 7]);
  p.addSection(new Uint8Array([5]), 0x2001);
  assert.deepEqual([...p.sections!], [1, 5, 0, 7]);
});

Deno.test("BootParams.addSection rejects an address before the list start", () => {
  const p = new BootParams(new Uint8Array(8), 0x1000);
  p.addSection(new Uint8Array(4), 0x2000);
  assert.equal(codeOf(() => p.addSection(new Uint8Array(4), 0x1fff)), "InvalidAddress");
});

Deno.test("BootParams.addModule rejects a list that overflows", () => {
  const p = new BootParams(new Uint8Array(8), 0x1000);
  p.addModule(new Uint8Array(16), Number.MAX_SAFE_INTEGER - 20);
  assert.equal(codeOf(() => p.addModule(new Uint8Array(16))), "Overflow");
});

Deno.test("BootParams.setSections and setModules replace the lists", () => {
  const p = new BootParams(new Uint8Array(8), 0x1000);
  p.setSections([new Uint8Array([1]), new Uint8Array([2, 3])], 0x3000);
  p.setModules([new Uint8Array([4])], 0x4000);
  assert.deepEqual([...p.sections!], [1, 2, 3]);
  assert.equal(p.modulesStart, 0x4000);
  assert.deepEqual([...p.modules!], [4]);
});
