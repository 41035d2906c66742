/**
 * How people import the module: from a URL (served here on 127.0.0.1) and in a browser-like setting where
 * `Deno` does not exist. The library must load and work in both.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), { args, env: { NO_COLOR: "1" }, cwd: "/" }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("mod.ts imported by http URL loads a fixture kernel into guest memory", async () => {
  const ac = new AbortController();
  // Serve the repository read-only on a random loopback port.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, root));
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    const { port } = server.addr;
    const base = `http://127.0.0.1:${port}`;
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(
      script,
      `import { GuestMemory, loadElf } from "${base}/mod.ts";
import { ELF64_EHDR, ELF64_PHDR, EM_X86_64, PT_LOAD } from "${base}/abi.ts";
const image = new Uint8Array(0x100);
image.set(ELF64_EHDR.encode({
  e_ident: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), e_machine: EM_X86_64,
  e_entry: 0x200000n, e_phoff: 64n, e_phentsize: ELF64_PHDR.size, e_phnum: 1,
}));
image.set(ELF64_PHDR.encode({ p_type: PT_LOAD, p_offset: 0x80n, p_paddr: 0x200000n, p_filesz: 16n, p_memsz: 32n }), 64);
image.fill(0xab, 0x80, 0x90);
const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
const r = await loadElf(mem, image);
console.log(r.entry.linux64.toString(16), r.kernelEnd.toString(16), mem.readU8(0x200000).toString(16));
`,
    );
    try {
      // No --allow-read/--allow-env: the library needs nothing but the import.
      const r = await run(["run", "--no-lock", "--no-config", `--allow-import=127.0.0.1:${port}`, script]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "200000 200020 ab");
    } finally {
      await Deno.remove(script);
    }
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test("the library loads and works with Deno hidden, as in a browser", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `delete (globalThis as Record<string, unknown>).Deno;
const m = await import("${new URL("mod.ts", root).href}");
const mem = m.GuestMemory.fromRanges([[0x4000_0000, 16 << 20]]);
const dtb = m.buildVmFdt(mem, { arch: "aarch64", bootargs: "console=ttyAMA0" });
const cl = new m.Cmdline(64);
cl.insertStr("console=ttyS0");
m.loadCmdline(mem, 0x4000_1000, cl);
const src = await m.fromBlob(new Blob([new Uint8Array([1, 2, 3])]));
const out = new Uint8Array(3);
await src.readInto(0, out);
console.log(typeof (globalThis as Record<string, unknown>).Deno, m.readFdt(dtb).header.magic.toString(16), out.join(","));
`,
  );
  try {
    const r = await run(["run", "--no-lock", "--no-config", "--allow-read", script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "undefined d00dfeed 1,2,3");
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("lib/ mentions Deno only in documentation", async () => {
  const offenders: string[] = [];
  async function walk(dir: URL): Promise<void> {
    for await (const e of Deno.readDir(dir)) {
      const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) await walk(u);
      else if (e.name.endsWith(".ts")) {
        const lines = (await Deno.readTextFile(u)).split("\n");
        lines.forEach((l, i) => {
          const code = l.replace(/\/\/.*$/, "");
          if (/\bDeno\./.test(code) && !/^\s*(\/\*\*|\*)/.test(l)) {
            offenders.push(`${u.pathname}:${i + 1}: ${l.trim()}`);
          }
        });
      }
    }
  }
  await walk(new URL("lib/", root));
  assert.deepEqual(offenders, []);
});
