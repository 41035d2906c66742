import assert from "node:assert/strict";
import {
  buildInit,
  haveInitToolchain,
  INIT_ARCHES,
  INIT_MESSAGE,
  initElfUrl,
  initramfs,
} from "../fixtures/build/init.ts";
import { readCpio, S_IFCHR, S_IFREG } from "../lib/cpio.ts";
import { ignoreUnless } from "./_require.ts";

function exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** ELF header facts: class, machine, type and entry (read by hand, independent of the loaders). */
function elfFacts(b: Uint8Array): { class64: boolean; machine: number; type: number; entry: bigint } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.deepEqual([...b.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], "ELF magic");
  return {
    class64: b[4] === 2,
    type: dv.getUint16(16, true),
    machine: dv.getUint16(18, true),
    entry: b[4] === 2 ? dv.getBigUint64(24, true) : BigInt(dv.getUint32(24, true)),
  };
}

const ET_EXEC = 2;
const EM_386 = 3;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

const NOBODY = 65534;
/** Directory and file mode that let `nobody` reach and run a copy: rwxr-xr-x. */
const MODE_WORLD_EXECUTABLE = 0o755;

/**
 * Runs an /init executable on this host and returns what it printed. It exits because it is not PID 1 (it
 * calls reboot(2) only as PID 1). As root it also runs as `nobody` without capabilities, so reboot(2) could
 * not succeed even if it tried. `nobody` may not be able to reach `elf` where it lies (a checkout under
 * /root is mode 0700), so the executable is first copied into a fresh temporary directory that everyone can
 * read; `interpreter` (qemu-aarch64) then opens that copy.
 */
async function runInit(elf: string | URL, interpreter?: string): Promise<{ code: number; stdout: string }> {
  const dir = await Deno.makeTempDir({ prefix: "init-run-" });
  try {
    await Deno.chmod(dir, MODE_WORLD_EXECUTABLE);
    const copy = `${dir}/init`;
    await Deno.copyFile(elf, copy);
    await Deno.chmod(copy, MODE_WORLD_EXECUTABLE);
    const cmd = interpreter === undefined ? [copy] : [interpreter, copy];
    const asNobody = Deno.uid() === 0
      ? [
        "setpriv",
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
      ]
      : [];
    const argv = [...asNobody, ...cmd];
    const child = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "null" }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    const out = await child.output();
    clearTimeout(timer);
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A copy of `elf` inside a directory of mode 0700 (as a checkout under /root is); removed by `done`. */
async function hiddenCopy(elf: URL): Promise<{ path: string; done: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "init-hidden-" });
  await Deno.chmod(dir, 0o700);
  const path = `${dir}/init.elf`;
  await Deno.copyFile(elf, path);
  return { path, done: () => Deno.remove(dir, { recursive: true }) };
}

const canRunX86 = Deno.build.arch === "x86_64" && Deno.build.os === "linux";
const canRunAarch64 = Deno.build.os === "linux";
const needSetpriv = () => Deno.uid() !== 0 || exists("/usr/bin/setpriv");

for (const arch of INIT_ARCHES) {
  Deno.test({
    name: `init_${arch}.elf is what GNU as and ld build from init_${arch}.S`,
    ignore: ignoreUnless(await haveInitToolchain(arch), `binutils for ${arch}`),
    async fn() {
      assert.deepEqual(await buildInit(arch), await Deno.readFile(initElfUrl(arch)));
    },
  });
}

Deno.test("init_x86_64.elf is a small static x86-64 executable", async () => {
  const b = await Deno.readFile(initElfUrl("x86_64"));
  assert.ok(b.length < 4096);
  assert.deepEqual(elfFacts(b), { class64: true, machine: EM_X86_64, type: ET_EXEC, entry: 0x4000b0n });
});

Deno.test("init_i386.elf is a small static 32-bit i386 executable (for 32-bit kernels)", async () => {
  const b = await Deno.readFile(initElfUrl("i386"));
  assert.ok(b.length < 4096);
  assert.deepEqual(elfFacts(b), { class64: false, machine: EM_386, type: ET_EXEC, entry: 0x8048074n });
});

Deno.test("init_aarch64.elf is a small static AArch64 executable", async () => {
  const b = await Deno.readFile(initElfUrl("aarch64"));
  assert.ok(b.length < 4096);
  assert.deepEqual(elfFacts(b), { class64: true, machine: EM_AARCH64, type: ET_EXEC, entry: 0x4000b0n });
});

Deno.test({
  name: "init_x86_64.elf prints its line and exits when it is not PID 1",
  ignore: !canRunX86 || ignoreUnless(needSetpriv(), "setpriv"),
  async fn() {
    const r = await runInit(initElfUrl("x86_64"));
    assert.equal(r.stdout, `${INIT_MESSAGE}\n`);
    assert.equal(r.code, 0);
  },
});

Deno.test({
  name: "init_i386.elf prints its line through int 0x80 and exits when it is not PID 1",
  ignore: !canRunX86 || ignoreUnless(needSetpriv(), "setpriv"),
  async fn() {
    const r = await runInit(initElfUrl("i386"));
    assert.equal(r.stdout, `${INIT_MESSAGE}\n`);
    assert.equal(r.code, 0);
  },
});

Deno.test({
  name: "init_aarch64.elf prints its line and exits when it is not PID 1 (under qemu-aarch64)",
  ignore: !canRunAarch64 ||
    ignoreUnless(needSetpriv() && exists("/usr/bin/qemu-aarch64"), "setpriv and qemu-aarch64"),
  async fn() {
    const r = await runInit(initElfUrl("aarch64"), "/usr/bin/qemu-aarch64");
    assert.equal(r.stdout, `${INIT_MESSAGE}\n`);
    assert.equal(r.code, 0);
  },
});

// Regression (issue 16): a checkout under /root is mode 0700; `nobody` could not open an executable there,
// and qemu-aarch64 printed nothing. Both executables must run from such a directory.
Deno.test({
  name: "init_x86_64.elf runs from a copy that lies in a directory of mode 0700",
  ignore: !canRunX86 || ignoreUnless(needSetpriv(), "setpriv"),
  async fn() {
    const hidden = await hiddenCopy(initElfUrl("x86_64"));
    try {
      const r = await runInit(hidden.path);
      assert.deepEqual(r, { code: 0, stdout: `${INIT_MESSAGE}\n` });
    } finally {
      await hidden.done();
    }
  },
});

Deno.test({
  name: "init_aarch64.elf runs under qemu-aarch64 from a copy that lies in a directory of mode 0700",
  ignore: !canRunAarch64 ||
    ignoreUnless(needSetpriv() && exists("/usr/bin/qemu-aarch64"), "setpriv and qemu-aarch64"),
  async fn() {
    const hidden = await hiddenCopy(initElfUrl("aarch64"));
    try {
      const r = await runInit(hidden.path, "/usr/bin/qemu-aarch64");
      assert.deepEqual(r, { code: 0, stdout: `${INIT_MESSAGE}\n` });
    } finally {
      await hidden.done();
    }
  },
});

Deno.test("initramfs holds /dev/console and an executable /init", async () => {
  const recs = readCpio(await initramfs("x86_64"));
  const byName = new Map(recs.map((r) => [r.name, r]));
  assert.equal(byName.get("dev/console")?.mode, S_IFCHR | 0o600);
  assert.equal(byName.get("init")?.mode, S_IFREG | 0o755);
  assert.deepEqual(byName.get("init")?.data, await Deno.readFile(initElfUrl("x86_64")));
});
