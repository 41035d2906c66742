/**
 * What emu/ asks of the runtime: `--allow-ffi` and nothing else. Without it the error names the flag (not a
 * missing library); `UNICORN_LIB` is read only when `--allow-env` grants it, so the module never prompts.
 */
import assert from "node:assert/strict";
import { emuTest } from "./_unicorn.ts";

const root = new URL("../../", import.meta.url);
const script = `import { unicornAvailable } from "${new URL("emu/mod.ts", root).href}";
console.log(JSON.stringify(unicornAvailable()));`;

async function probe(flags: string[], env: Record<string, string> = {}): Promise<{ ok: boolean; reason?: string }> {
  // `deno run` (not `deno eval`, which grants everything) with exactly these flags.
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-lock", "--no-config", ...flags, file],
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("without --allow-ffi the emulator says it needs --allow-ffi, not that Unicorn is missing", async () => {
  const r = await probe(["--allow-read"]);
  assert.equal(r.ok, false);
  assert.match(r.reason ?? "", /--allow-ffi/);
  assert.doesNotMatch(r.reason ?? "", /libunicorn2/);
});

emuTest("with --allow-ffi alone the emulator opens Unicorn and ignores an unreadable UNICORN_LIB", async () => {
  const r = await probe(["--allow-ffi", "--allow-read"], { UNICORN_LIB: "/nonexistent/libunicorn.so" });
  assert.equal(r.ok, true, r.reason);
});

emuTest("with --allow-env the emulator honours UNICORN_LIB", async () => {
  const r = await probe(["--allow-ffi", "--allow-read", "--allow-env"], { UNICORN_LIB: "/nonexistent/libunicorn.so" });
  assert.equal(r.ok, false);
  assert.match(r.reason ?? "", /nonexistent/);
});
