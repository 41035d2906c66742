/**
 * The CLI's bound on standard input (a pipe has no size to check first): more than MAX_STDIN_BYTES (1 GiB)
 * is a usage error, found without holding 1 GiB. tests/_cli_stdin_over_cap.ts feeds the CLI a stream that
 * reports 1 GiB and then more, built from views of one 1 MiB buffer, so the test costs milliseconds and
 * megabytes.
 */
import assert from "node:assert/strict";
import { EXIT } from "../cli.ts";
import { MAX_STDIN_BYTES } from "../cli/common.ts";

const DRIVER = new URL("./_cli_stdin_over_cap.ts", import.meta.url).pathname;
/** Peak resident set the refusing process may reach: Deno itself is 50-100 MiB; the input would be 1 GiB. */
const PEAK_LIMIT_KIB = 256 * 1024;

async function overCap(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", DRIVER, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  const stderr = d.decode(out.stderr).trimEnd().split("\n");
  const report = /^over-cap: (.*)$/.exec(stderr.pop() ?? "");
  assert.ok(report !== null, d.decode(out.stderr));
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr,
    ...(JSON.parse(report[1]) as { handed: number; peakKiB: number }),
  };
}

Deno.test("inspect - refuses standard input one byte past 1 GiB: exit 2, one usage line, a JSON error, nothing read beyond it", async () => {
  const r = await overCap("inspect", "-", "--json");
  assert.equal(r.code, EXIT.usage);
  // Refused at the first byte past the cap: 1 GiB was accepted, and nothing after that one byte was read.
  assert.equal(r.handed, MAX_STDIN_BYTES + 1);
  assert.deepEqual(r.stderr, [
    `linux-loader: IMAGE from standard input passes ${MAX_STDIN_BYTES} bytes (1 GiB); give a file instead (see --help)`,
  ]);
  assert.deepEqual(JSON.parse(r.stdout), {
    error: {
      name: "UsageError",
      message: `IMAGE from standard input passes ${MAX_STDIN_BYTES} bytes (1 GiB); give a file instead`,
    },
  });
  assert.ok(r.peakKiB > 0 && r.peakKiB < PEAK_LIMIT_KIB, `peak RSS ${r.peakKiB} KiB`);
});

Deno.test("boot --initrd - refuses an initrd on standard input past 1 GiB as a usage error, exit 2", async () => {
  const kernel = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(kernel, new Uint8Array(4096));
    const r = await overCap("boot", kernel, "--initrd", "-");
    assert.equal(r.code, EXIT.usage, r.stderr.join("\n"));
    assert.equal(r.handed, MAX_STDIN_BYTES + 1);
    assert.equal(r.stderr.length, 1, r.stderr.join("\n"));
    assert.match(
      r.stderr[0],
      /from standard input passes 1073741824 bytes \(1 GiB\); give a file instead \(see --help\)$/,
    );
    assert.ok(r.peakKiB < PEAK_LIMIT_KIB, `peak RSS ${r.peakKiB} KiB`);
  } finally {
    await Deno.remove(kernel);
  }
});
