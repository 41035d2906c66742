// `cli.ts extract IMAGE -o OUT [--json]`: a bzImage's vmlinux (an xz payload here), a zboot image's Image, the
// report, and the exit statuses for a corrupt payload (1) and for nothing to extract or no -o (2).

import assert from "node:assert/strict";
import { HDRS_MAGIC, SETUP_HEADER, SETUP_HEADER_OFFSET } from "../lib/abi/bootparam.ts";
import { buildArm64Image, kernelLikeBytes } from "../fixtures/build/pe.ts";
import { ignoreUnless } from "./_require.ts";
import { hasTool, runTool } from "./compress/_tools.ts";
import { padToImageSize, zbootImage, zbootPayload } from "./loader/_zboot.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** A fake vmlinux: an ELF header (x86_64) and text. */
function fakeVmlinux(n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  out[18] = 62; // e_machine EM_X86_64 (the rest of the header is not valid: the report carries the ELF error)
  for (let i = 64; i < n; i++) out[i] = 32 + ((i * 5) % 90);
  return out;
}

/** A bzImage whose payload (at protected-mode offset 0x40) is `payload`. */
function bzImage(payload: Uint8Array): Uint8Array {
  const pm = 3 * 512;
  const img = new Uint8Array(pm + 0x40 + payload.length);
  img.set(
    SETUP_HEADER.encode({
      setup_sects: 2,
      boot_flag: 0xaa55,
      header: HDRS_MAGIC,
      version: 0x020f,
      payload_offset: 0x40,
      payload_length: payload.length,
    }),
    SETUP_HEADER_OFFSET,
  );
  img.set(payload, pm + 0x40);
  return img;
}

Deno.test({
  name: "cli extract writes a bzImage's vmlinux and reports the compression and sizes as JSON",
  ignore: ignoreUnless(hasTool("xz"), "xz"),
  async fn() {
    const elf = fakeVmlinux(200_000);
    const xz = await runTool("xz", ["--check=crc32", "--x86", "--lzma2=,dict=32MiB"], elf);
    const payload = new Uint8Array(xz.length + 4);
    payload.set(xz);
    new DataView(payload.buffer).setUint32(xz.length, elf.length, true); // size_append
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/bzImage`, bzImage(payload));
      const r = await cli("extract", `${dir}/bzImage`, "-o", `${dir}/vmlinux`, "--json");
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.container, "bzimage");
      assert.equal(report.compression, "xz");
      assert.equal(report.outputSize, elf.length);
      assert.equal(report.payload.length, payload.length);
      assert.equal(report.kind, "vmlinux");
      assert.equal(report.pvhEntry, undefined);
      assert.match(report.elfError, /ElfError/);
      assert.deepEqual(await Deno.readFile(`${dir}/vmlinux`), elf);
      // A corrupt payload: exit 1, one line naming the error.
      const bad = bzImage(payload);
      bad[bad.length - 20] ^= 0xff;
      await Deno.writeFile(`${dir}/bad`, bad);
      const b = await cli("extract", `${dir}/bad`, "-o", `${dir}/out`);
      assert.equal(b.code, 1);
      assert.match(b.stderr, /BzImageError CorruptPayload/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli extract writes the padded Image of an EFI zboot image",
  ignore: ignoreUnless(hasTool("zstd"), "zstd"),
  async fn() {
    const image = buildArm64Image({ code: kernelLikeBytes(100_000), header: { image_size: 0x40000n } });
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/vmlinuz.efi`, zbootImage(await zbootPayload(image, "zstd22"), "zstd22"));
      const r = await cli("extract", `${dir}/vmlinuz.efi`, "-o", `${dir}/Image`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /zboot, zstd/);
      assert.deepEqual(await Deno.readFile(`${dir}/Image`), padToImageSize(image));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("cli extract refuses an image with nothing to extract, and a missing -o, with exit status 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/Image`, buildArm64Image({ code: kernelLikeBytes(4096) }));
    const r = await cli("extract", `${dir}/Image`, "-o", `${dir}/out`);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nothing to extract/);
    const o = await cli("extract", `${dir}/Image`);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /-o OUT/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
