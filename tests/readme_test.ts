/**
 * Every ```ts block of README.md runs as written, and each `console.log(...); // expected` prints what its
 * comment says, so the README cannot rot.
 */
import assert from "node:assert/strict";
import { UNICORN_OK } from "./emu/_unicorn.ts";
import { ignoreUnless } from "./_require.ts";

const root = new URL("../", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", root));
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

Deno.test("README.md has the end-to-end example and more", () => {
  assert.ok(blocks.length >= 4, `found ${blocks.length} ts blocks`);
});

/**
 * The flags a block states on its first line (`// deno run --allow-ffi (...)`): the README promises these
 * are all an example needs, so the block runs with exactly them.
 */
function permissionsOf(code: string): string[] {
  const first = code.split("\n")[0];
  const m = /^\/\/ deno run((?: --[a-z-]+(?:=\S+)?)*)/.exec(first);
  if (m === null) throw new Error(`the block does not start with the flags it needs: ${first}`);
  return m[1].trim() === "" ? [] : m[1].trim().split(" ");
}

Deno.test("every README.md ts block starts with the Deno flags it needs", () => {
  for (const code of blocks) permissionsOf(code);
});

blocks.forEach((code, i) => {
  const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
  const needsEmu = code.includes("/emu");
  Deno.test({
    name: `README.md ts block ${i + 1} runs and prints what its comments say`,
    ignore: needsEmu && ignoreUnless(UNICORN_OK, "the Unicorn library"),
    async fn() {
      // Inside the repository, so "@linux-loader/linux-loader" resolves to this package through deno.json.
      const path = new URL(`tests/.readme_block_${i + 1}.ts`, root).pathname;
      await Deno.writeTextFile(path, code);
      try {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--no-prompt", ...permissionsOf(code), path],
          cwd: root.pathname,
          env: { NO_COLOR: "1" },
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
        assert.deepEqual(lines, expected);
      } finally {
        await Deno.remove(path).catch(() => {});
      }
    },
  });
});
