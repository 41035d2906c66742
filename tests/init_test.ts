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
    entry: dv.getBigUint64(24, true),
  };
}

const ET_EXEC = 2;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/**
 * Runs an /init on this host and returns what it printed. It exits because it is not PID 1 (it calls
 * reboot(2) only as PID 1); it also runs as `nobody` without capabilities, so reboot(2) could not succeed.
 */
async function runInit(cmd: string[]): Promise<{ code: number; stdout: string }> {
  const args = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", ...cmd];
  const child = new Deno.Command("setpriv", { args, stdout: "piped", stderr: "null" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

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

Deno.test("init_aarch64.elf is a small static AArch64 executable", async () => {
  const b = await Deno.readFile(initElfUrl("aarch64"));
  assert.ok(b.length < 4096);
  assert.deepEqual(elfFacts(b), { class64: true, machine: EM_AARCH64, type: ET_EXEC, entry: 0x4000b0n });
});

Deno.test({
  name: "init_x86_64.elf prints its line and exits when it is not PID 1",
  ignore: Deno.build.arch !== "x86_64" || Deno.build.os !== "linux" ||
    ignoreUnless(exists("/usr/bin/setpriv"), "setpriv"),
  async fn() {
    const r = await runInit([initElfUrl("x86_64").pathname]);
    assert.equal(r.stdout, `${INIT_MESSAGE}\n`);
    assert.equal(r.code, 0);
  },
});

Deno.test({
  name: "init_aarch64.elf prints its line and exits when it is not PID 1 (under qemu-aarch64)",
  ignore: Deno.build.os !== "linux" ||
    ignoreUnless(exists("/usr/bin/setpriv") && exists("/usr/bin/qemu-aarch64"), "setpriv and qemu-aarch64"),
  async fn() {
    const r = await runInit(["/usr/bin/qemu-aarch64", initElfUrl("aarch64").pathname]);
    assert.equal(r.stdout, `${INIT_MESSAGE}\n`);
    assert.equal(r.code, 0);
  },
});

Deno.test("initramfs holds /dev/console and an executable /init", async () => {
  const recs = readCpio(await initramfs("x86_64"));
  const byName = new Map(recs.map((r) => [r.name, r]));
  assert.equal(byName.get("dev/console")?.mode, S_IFCHR | 0o600);
  assert.equal(byName.get("init")?.mode, S_IFREG | 0o755);
  assert.deepEqual(byName.get("init")?.data, await Deno.readFile(initElfUrl("x86_64")));
});
