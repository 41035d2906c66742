import assert from "node:assert/strict";
import { assemble, haveToolchain, STUBS } from "../../fixtures/build/stubs.ts";
import { stub, type StubName } from "../../fixtures/stubs.ts";
import { ignoreUnless } from "../_require.ts";

for (const spec of STUBS) {
  const present = await haveToolchain(spec.isa);
  Deno.test({
    name: `the committed ${spec.name}.bin is what GNU as builds from ${spec.name}.S`,
    ignore: ignoreUnless(present, `binutils for ${spec.isa}`),
    fn: async () => {
      const built = await assemble(spec);
      assert.deepEqual(built, stub(spec.name as StubName), "run: deno run -A fixtures/build/stubs.ts");
    },
  });
}

Deno.test("every stub the build knows is committed and non-empty", () => {
  for (const spec of STUBS) assert.ok(stub(spec.name as StubName).byteLength > 0, spec.name);
});
