/**
 * The documentation contract of every entry point in deno.json's `exports`: each exported function, class
 * and constant has a runnable `@example` (`deno test --doc` runs them all), and the root module stays what a
 * VMM calls (the C struct tables live behind `./abi`).
 */
import assert from "node:assert/strict";
import { Struct } from "../abi.ts";

const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as { exports: Record<string, string> };

interface DocNode {
  name: string;
  declarations: { kind: string; jsDoc?: { tags?: { kind: string }[] } }[];
}

async function exportsOf(entry: string): Promise<DocNode[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(out.code, 0, `deno doc --json ${entry} failed`);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as { nodes: Record<string, { symbols: DocNode[] }> };
  return doc.nodes[new URL(entry, root).href].symbols;
}

for (const [name, entry] of Object.entries(config.exports)) {
  Deno.test(`every function, class and constant exported by "${name}" (${entry}) has an @example`, async () => {
    const symbols = await exportsOf(entry);
    const values = symbols.filter((s) => !["interface", "typeAlias"].includes(s.declarations[0].kind));
    assert.ok(values.length > 0, `${entry} exports no values`);
    const missing = values
      .filter((s) => !(s.declarations[0].jsDoc?.tags ?? []).some((t) => t.kind === "example"))
      .map((s) => s.name);
    assert.deepEqual(missing, [], `${missing.length} of ${values.length} exports of ${entry} have no example`);
  });
}

Deno.test("the root module exports no C struct table (they are in ./abi)", async () => {
  const mod = await import("../mod.ts");
  const tables = Object.entries(mod).filter(([, v]) => v instanceof Struct).map(([k]) => k);
  assert.deepEqual(tables, []);
});

Deno.test("./abi exports the C struct tables of every header the library reads or writes", async () => {
  const abi = await import("../abi.ts");
  const tables = Object.entries(abi).filter(([, v]) => v instanceof Struct).map(([k]) => k);
  for (
    const t of ["SETUP_HEADER", "BOOT_PARAMS", "HVM_START_INFO", "ELF64_EHDR", "AARCH64_IMAGE_HEADER", "FDT_HEADER"]
  ) {
    assert.ok(tables.includes(t), `${t} missing from ./abi`);
  }
});
