import assert from "node:assert/strict";
import { parseArgs, parseSize, UsageError } from "../cli.ts";
import { buildBzImage } from "../fixtures/build/bzimage.ts";
import { unicornAvailable } from "../emu/unicorn.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const hasUnicorn = unicornAvailable().ok;
const CI = Deno.env.get("CI") === "true";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CLI, ...args],
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("parseArgs splits commands, positionals, values and switches", () => {
  const a = parseArgs(["boot", "vmlinux", "--cmdline", "a b", "--mem=64M", "--json"]);
  assert.equal(a.command, "boot");
  assert.deepEqual(a.positional, ["vmlinux"]);
  assert.equal(a.flags.get("--cmdline"), "a b");
  assert.equal(a.flags.get("--mem"), "64M");
  assert.equal(a.flags.get("--json"), true);
});

Deno.test("parseArgs rejects unknown options and missing values", () => {
  assert.throws(() => parseArgs(["boot", "--bogus"]), UsageError);
  assert.throws(() => parseArgs(["boot", "--cmdline"]), UsageError);
  assert.throws(() => parseArgs(["boot", "--json=1"]), UsageError);
});

Deno.test("parseSize reads suffixes and hex and refuses odd sizes", () => {
  assert.equal(parseSize("64M"), 64 << 20);
  assert.equal(parseSize("1G"), 1 << 30);
  assert.equal(parseSize("0x4000000"), 64 << 20);
  assert.throws(() => parseSize("3"), UsageError);
  assert.throws(() => parseSize("64Q"), UsageError);
  assert.throws(() => parseSize("1000001"), UsageError);
});

Deno.test("the CLI ends a bad argument with one line and status 2", async () => {
  for (const args of [["boot", "--arch", "sparc"], ["frobnicate"], [], ["inspect"], ["boot", "--mem", "1K"]]) {
    const r = await cli(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^linux-loader: /);
  }
});

Deno.test("the CLI ends a bad image with one line naming the error and status 2", async () => {
  const r = await cli("inspect", CLI);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^linux-loader: KernelLoaderError UnknownFormat: not a kernel image/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

Deno.test("inspect --json reports a bzImage's protocol and header fields", async () => {
  const path = await Deno.makeTempFile({ suffix: ".bzImage" });
  try {
    await Deno.writeFile(path, buildBzImage({ payload: new Uint8Array(0x2000) }));
    const r = await cli("inspect", path, "--json");
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.format, "bzimage");
    assert.equal(report.protocol, "Linux boot protocol 2.15");
    assert.equal(report.fields.pref_address, "0x1000000");
    const text = await cli("inspect", path);
    assert.match(text.stdout, /protocol {4}Linux boot protocol 2\.15/);
    const plan = JSON.parse((await cli("inspect", path, "--plan")).stdout);
    assert.equal(plan.steps.length, 1);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("inspect --plan prints the load plan of an arm64 Image and of a Multiboot2 kernel", async () => {
  const { buildArm64Image } = await import("../fixtures/build/pe.ts");
  const { buildMultiboot2 } = await import("../fixtures/build/multiboot.ts");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/Image`, buildArm64Image({ header: { text_offset: 0x80000n }, size: 0x2000 }));
    await Deno.writeFile(`${dir}/mb2`, buildMultiboot2({ code: new Uint8Array([0xf4]) }));
    const pe = JSON.parse((await cli("inspect", `${dir}/Image`, "--plan")).stdout);
    assert.deepEqual(pe.steps.map((s: { guestAddr: number; length: number }) => [s.guestAddr, s.length]), [[
      0x4008_0000,
      0x2000,
    ]]);
    const mb = await cli("inspect", `${dir}/mb2`, "--plan");
    assert.equal(mb.code, 0, mb.stderr);
    assert.equal(JSON.parse(mb.stdout).protocol, "multiboot2");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "boot with no image runs the demo kernel and prints what the guest read",
  ignore: !hasUnicorn && !CI,
  async fn() {
    const r = await cli("boot", "--cmdline", "console=ttyS0 hi=1");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| LINUX OK cmdline=console=ttyS0 hi=1 e820=0x3/);
    assert.match(r.stdout, /zero page\.hdr\.boot_flag +0xaa55/);
    const j = JSON.parse((await cli("boot", "--arch", "aarch64", "--json")).stdout);
    assert.match(j.run.serial, /^FDT OK/);
  },
});

Deno.test({
  name: "demo boots every demo kernel",
  ignore: !hasUnicorn && !CI,
  async fn() {
    const r = await cli("demo");
    assert.equal(r.code, 0, r.stderr);
    for (const line of ["| LINUX OK", "| PVH OK", "| FDT OK size=", "| FDT OK hart=0x0"]) {
      assert.ok(r.stdout.includes(line), line);
    }
  },
});
