// The suite runs on Unicorn 2.1.1 when `deno task fetch-kernels` cached it (tests/emu/_unicorn.ts); the
// system's engine (Debian bookworm's 2.0.1, what `deno task demo` and a user's `cli.ts boot` open) must keep
// working too: the demo kernels boot on it in a process of their own, and it reports its version.

import assert from "node:assert/strict";
import { emuTest } from "./_unicorn.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

emuTest("the demo kernels boot on the system's Unicorn library as well as on the one the suite uses", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env=UNICORN_LIB", CLI, "demo"],
    env: { UNICORN_LIB: "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  for (const line of ["LINUX OK", "PVH OK", "FDT OK", "FDT OK hart="]) {
    assert.ok(text.includes(line), `no "${line}" in:\n${text}`);
  }
  // The system's library by its plain name, not the cached 2.1 path.
  assert.match(text, /runs in Unicorn 2\.\d+ \(libunicorn\.so\.2\)/);
});
