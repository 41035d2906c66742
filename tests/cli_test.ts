import assert from "node:assert/strict";
import { parseSize, UsageError } from "../cli/common.ts";
import { VERSION } from "../cli.ts";
import { buildArm64Image, gzip } from "../fixtures/build/pe.ts";
import { buildMultibootAout } from "../fixtures/build/multiboot.ts";
import { buildElf } from "../fixtures/build/elf.ts";
import { buildBzImage } from "../fixtures/build/bzimage.ts";
import { unicornAvailable } from "../emu/unicorn.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const hasUnicorn = unicornAvailable().ok;
const CI = Deno.env.get("CI") === "true";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return await cliWith({}, ...args);
}

/** Runs the CLI with `stdin` bytes piped in and/or in another working directory. */
async function cliWith(
  io: { stdin?: Uint8Array; cwd?: string },
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CLI, ...args],
    env: { NO_COLOR: "1" },
    cwd: io.cwd,
    stdin: io.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (io.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(io.stdin);
    await w.close();
  }
  const out = await child.output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

async function withImage<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, bytes);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("--help and -h print help and exit 0 wherever they stand, also after a command", async () => {
  for (
    const args of [["--help"], ["-h"], ["inspect", "--help"], ["boot", "x", "-h"], ["help", "boot"], ["frob", "-h"]]
  ) {
    const r = await cli(...args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /^usage: linux-loader /, args.join(" "));
    assert.equal(r.stderr, "");
  }
  assert.match((await cli("boot", "--help")).stdout, /--initrd FILE/);
});

Deno.test("--version prints the version of deno.json and exits 0", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const r = await cli("--version");
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), `linux-loader ${config.version}`);
  assert.equal(VERSION, config.version);
});

Deno.test("parseSize reads suffixes and hex and refuses odd sizes", () => {
  assert.equal(parseSize("64M"), 64 << 20);
  assert.equal(parseSize("1G"), 1 << 30);
  assert.equal(parseSize("0x4000000"), 64 << 20);
  assert.throws(() => parseSize("3"), UsageError);
  assert.throws(() => parseSize("64Q"), UsageError);
  assert.throws(() => parseSize("1000001"), UsageError);
});

Deno.test("the CLI ends a bad argument with one line ending in (see --help) and status 2", async () => {
  const cases = [
    ["boot", "--arch", "sparc"],
    ["frobnicate"],
    [],
    ["inspect"],
    ["inspect", "-", "-"],
    ["boot", "--mem", "1K"],
    ["inspect", "--bogus", "x"],
    ["inspect", "--json=1", "x"],
    ["inspect", "/nonexistent/image"],
  ];
  for (const args of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^linux-loader: .*\(see --help\)\n$/);
  }
});

Deno.test("the CLI ends a bad image with one line naming the error, no usage hint, and status 1", async () => {
  const r = await cli("inspect", CLI);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^linux-loader: KernelLoaderError UnknownFormat: not a kernel image/);
  assert.doesNotMatch(r.stderr, /see --help/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

Deno.test("inspect takes several images: one report each, and a JSON array with --json", async () => {
  await withImage(buildArm64Image({ size: 0x2000 }), async (a) => {
    await withImage(buildMultibootAout({ code: new Uint8Array([0xf4]) }), async (b) => {
      const text = await cli("inspect", a, b);
      assert.equal(text.code, 0, text.stderr);
      assert.equal(text.stdout.split("\n  format ").length, 3);
      const j = JSON.parse((await cli("inspect", "--json", a, b)).stdout);
      assert.deepEqual(j.map((r: { format: string }) => r.format), ["pe", "multiboot"]);
      assert.equal((await cli("inspect", "--plan", a, b)).code, 2);
    });
  });
});

Deno.test("boot and demo without --allow-ffi fail with status 1 naming the missing permission", async () => {
  for (const args of [["boot"], ["demo"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", CLI, ...args],
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, args.join(" "));
    assert.match(stderr, /^linux-loader: EmulatorError FfiNotPermitted: .*--allow-ffi\n$/);
  }
});

Deno.test("inspect - reads the image from standard input", async () => {
  const r = await cliWith({ stdin: buildArm64Image({ size: 0x2000 }) }, "inspect", "-", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).arch, "aarch64");
});

Deno.test("-- ends the options: an operand after it may start with a dash", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/--json`, buildArm64Image({ size: 0x2000 }));
    const r = await cliWith({ cwd: dir }, "inspect", "--", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^--json\n {2}format {6}pe, aarch64/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspect --arch with an image for another architecture is a usage error", async () => {
  await withImage(buildArm64Image({ size: 0x2000 }), async (path) => {
    const r = await cli("inspect", "--arch", "x86_64", path);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--arch x86_64, but .* is an image for aarch64/);
    assert.equal((await cli("inspect", "--arch", "aarch64", path)).code, 0);
  });
});

Deno.test("inspect prints addresses, sizes and ELF header fields in hex", async () => {
  const elf = buildElf({ entry: 0x100_0000, segments: [{ paddr: 0x100_0000, data: new Uint8Array(0x100) }] });
  await withImage(elf, async (path) => {
    const r = await cli("inspect", path);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /entry {7}linux64 {4}0x1000000/);
    assert.match(r.stdout, /e_entry {14}0x1000000/);
    assert.match(r.stdout, /e_machine {12}0x3e \(EM_X86_64\)/);
    assert.match(r.stdout, /format {6}elf, x86_64, 0x[0-9a-f]+ bytes/);
  });
});

Deno.test("inspect reports a gzip Image's decompressed size and its entry as a guest address", async () => {
  await withImage(await gzip(buildArm64Image({ size: 0x4000 })), async (path) => {
    const r = JSON.parse((await cli("inspect", path, "--json")).stdout);
    assert.equal(r.compression, "gzip");
    assert.equal(r.entry.image, 0x4000_0000);
    assert.equal(r.fields.decompressed_size, "0x4000");
    assert.deepEqual(r.loadRanges.map((l: { start: number; end: number }) => [l.start, l.end]), [[
      0x4000_0000,
      0x4000_4000,
    ]]);
  });
});

Deno.test("inspect reports where a Multiboot kernel loads", async () => {
  await withImage(buildMultibootAout({ code: new Uint8Array([0xf4]) }), async (path) => {
    const r = await cli("inspect", path);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /entry {7}multiboot {2}0x[0-9a-f]+/);
    assert.match(r.stdout, /loads {7}\[0x[0-9a-f]+, 0x[0-9a-f]+\) {2}multiboot text\+data/);
  });
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
    assert.match(j.run.serial, /^FDT OK .*bootargs=console=ttyAMA0/);
  },
});

Deno.test({
  name: "boot of an aarch64 image uses console=ttyAMA0 and refuses a mismatched --arch",
  ignore: !hasUnicorn && !CI,
  async fn() {
    const { demoKernel } = await import("../emu/demo_kernels.ts");
    await withImage(demoKernel("aarch64"), async (path) => {
      const r = JSON.parse((await cli("boot", path, "--json")).stdout);
      assert.match(r.run.serial, /bootargs=console=ttyAMA0/);
      const bad = await cli("boot", "--arch", "riscv64", path);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /is an image for aarch64/);
    });
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

Deno.test({
  name: "boot prints the console and how the run ended when it uses its budget or faults, and exits 1",
  ignore: !hasUnicorn && !CI,
  async fn() {
    // mov dx, 0x3f8; mov al, 'h'; out dx, al; mov al, 'i'; out dx, al; then jmp $ or mov eax, [0x3ff00000]
    const hi = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x68, 0xee, 0xb0, 0x69, 0xee];
    const elf = (tail: number[]) =>
      buildElf({ entry: 0x200000, segments: [{ paddr: 0x200000, data: new Uint8Array([...hi, ...tail]) }] });
    await withImage(elf([0xeb, 0xfe]), async (path) => {
      const r = await cli("boot", path, "--max-instructions", "500");
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /ended {7}instruction limit: the guest did not halt within 500 instructions/);
      assert.match(r.stdout, /serial\n {4}\| hi\n/);
      const j = JSON.parse((await cli("boot", path, "--max-instructions", "500", "--json")).stdout);
      assert.deepEqual([j.run.serial, j.run.stop], ["hi", "instruction-limit"]);
    });
    await withImage(elf([0x8b, 0x04, 0x25, 0x00, 0x00, 0xf0, 0x3f]), async (path) => {
      const r = await cli("boot", path, "--json");
      assert.equal(r.code, 1, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.run.serial, "hi");
      assert.deepEqual(j.fault, { pc: 0x20000a, address: 0x3ff00000, access: "read" });
    });
  },
});

Deno.test({
  name: "boot runs Multiboot 1 and Multiboot2 kernels with the command line and the initrd as module 0",
  ignore: !hasUnicorn && !CI,
  async fn() {
    const { buildMultiboot2, buildMultibootElf } = await import("../fixtures/build/multiboot.ts");
    const { multibootStub } = await import("../fixtures/build/multiboot_stubs.ts");
    const module = new Uint8Array(0x1000);
    new DataView(module.buffer).setUint32(0, 0xfeedface, true); // the stubs print the module's first dword
    await withImage(module, async (mod) => {
      await withImage(buildMultibootElf({ code: multibootStub("multiboot") }), async (path) => {
        const r = await cli("boot", path, "--initrd", mod, "--cmdline", "console=ttyS0 mb=1");
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /entry {7}0x[0-9a-f]+ {3}eax=0x2badb002 ebx=0x9000/);
        assert.match(
          r.stdout,
          /\| MB1 OK flags=0x24d mem=0x280:0xfc00 cmdline=console=ttyS0 mb=1 mmap=0x18 first=0x0:0x4000000:0x1 mod0=0x3fff000:0x4000000:0xfeedface 'initrd' loader=linux-loader for Deno\n/,
        );
      });
      const mb2 = buildMultiboot2({ code: multibootStub("multiboot2"), format: "aout" });
      await withImage(mb2, async (path) => {
        const j = JSON.parse((await cli("boot", path, "--initrd", mod, "--json", "--cmdline", "mb=2")).stdout);
        assert.deepEqual(j.bootRegisters, { eax: 0x36d76289, ebx: 0x9000 });
        assert.match(
          j.run.serial,
          /^MB2 OK size=0x[0-9a-f]+ cmdline=mb=2 .* mod=0x3fff000:0x4000000:0xfeedface 'initrd' .* end\n$/,
        );
      });
    });
  },
});
