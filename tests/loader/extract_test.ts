import assert from "node:assert/strict";
import { BzImageError, DecompressError } from "../../lib/errors.ts";
import { fromBlob, fromFile, toSource } from "../../lib/source.ts";
import { decodeElf } from "../../lib/loader/elf.ts";
import { ensureMatrixKernel } from "../../fixtures/real/matrix.ts";
import { HDRS_MAGIC, SETUP_HEADER, SETUP_HEADER_OFFSET } from "../../lib/abi/bootparam.ts";
import { LZ4_LEGACY_MAGIC } from "../../lib/compress/lz4.ts";
import { detectCompression, extractVmlinux, findBzImagePayload } from "../../lib/loader/extract.ts";
import { ignoreUnless } from "../_require.ts";
import { hasTool, runTool } from "../compress/_tools.ts";

/** A fake vmlinux: the ELF magic, then text that compresses. */
function fakeVmlinux(n = 5000): Uint8Array {
  const out = new Uint8Array(n);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  for (let i = 7; i < n; i++) out[i] = 32 + ((i * 5) % 90);
  return out;
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** An LZ4 legacy frame with one block of literals only (a valid, if useless, compression). */
function lz4Literals(data: Uint8Array): Uint8Array {
  const len: number[] = [];
  let rest = data.length - 15;
  while (rest >= 255) {
    len.push(255);
    rest -= 255;
  }
  len.push(rest);
  const block = [0xf0, ...len, ...data]; // token: 15 literals "and more", no match
  return new Uint8Array([...u32(LZ4_LEGACY_MAGIC), ...u32(block.length), ...block]);
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A bzImage with the given payload: boot sector + `setupSects` setup sectors, then protected-mode code. */
function bzImage(payload: Uint8Array, opts: { setupSects?: number; version?: number; payloadAt?: number } = {}) {
  const setupSects = opts.setupSects ?? 2;
  const pm = ((setupSects || 4) + 1) * 512; // start of the protected-mode code
  const at = opts.payloadAt ?? 0x40; // payload offset inside the protected-mode code
  const img = new Uint8Array(pm + at + payload.length + 0x100);
  img.set(
    SETUP_HEADER.encode({
      setup_sects: setupSects, // real-mode setup sectors after the boot sector
      boot_flag: 0xaa55, // boot sector signature
      header: HDRS_MAGIC, // "HdrS"
      version: opts.version ?? 0x020f, // boot protocol 2.15
      payload_offset: at, // from the start of the protected-mode code
      payload_length: payload.length,
      init_size: 0x100000, // what the decompressor would need
    }),
    SETUP_HEADER_OFFSET,
  );
  img.set(payload, pm + at);
  return img;
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<BzImageError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BzImageError, `expected BzImageError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

Deno.test("extractVmlinux decodes an LZ4 payload", async () => {
  const elf = fakeVmlinux();
  assert.deepEqual(await extractVmlinux(bzImage(lz4Literals(elf))), elf);
});

Deno.test("extractVmlinux accepts an LZ4 payload with the build's size trailer", async () => {
  const elf = fakeVmlinux();
  const payload = new Uint8Array([...lz4Literals(elf), ...u32(elf.length)]);
  assert.deepEqual(await extractVmlinux(bzImage(payload)), elf);
});

Deno.test("extractVmlinux rejects an LZ4 size trailer that does not match the output", async () => {
  const elf = fakeVmlinux();
  const payload = new Uint8Array([...lz4Literals(elf), ...u32(elf.length + 1)]);
  await rejectsCode(extractVmlinux(bzImage(payload)), "CorruptPayload");
});

Deno.test("extractVmlinux reports corrupt LZ4 data as CorruptPayload caused by a DecompressError", async () => {
  const payload = lz4Literals(fakeVmlinux()).subarray(0, 100);
  const e = await rejectsCode(extractVmlinux(bzImage(payload)), "CorruptPayload");
  assert.ok(e.cause instanceof DecompressError);
});

Deno.test("extractVmlinux decodes a gzip payload", async () => {
  const elf = fakeVmlinux(20000);
  assert.deepEqual(await extractVmlinux(bzImage(await gzip(elf))), elf);
});

Deno.test("extractVmlinux returns an uncompressed ELF payload as is", async () => {
  const elf = fakeVmlinux(3000);
  assert.deepEqual(await extractVmlinux(bzImage(elf)), elf);
});

Deno.test("extractVmlinux reads through a KernelSource that holds no bytes", async () => {
  const elf = fakeVmlinux();
  const src = await fromBlob(new Blob([bzImage(lz4Literals(elf)) as Uint8Array<ArrayBuffer>]));
  assert.deepEqual(await extractVmlinux(src), elf);
});

/** How Linux's scripts/Makefile.lib compresses a payload for each method, then `size_append` (not for gzip). */
const KERNEL_TOOLS: Record<string, { cmd: string; args: string[]; sizeAppend: boolean }> = {
  gzip: { cmd: "gzip", args: ["-n", "-f", "-9"], sizeAppend: false },
  bzip2: { cmd: "bzip2", args: ["-9"], sizeAppend: true },
  lzma: { cmd: "lzma", args: ["-9"], sizeAppend: true },
  // scripts/xz_wrap.sh for x86: BCJ x86 filter, LZMA2 with a 32 MiB dictionary, CRC32 check.
  xz: { cmd: "xz", args: ["--check=crc32", "--x86", "--lzma2=,dict=32MiB"], sizeAppend: true },
  lzo: { cmd: "lzop", args: ["-9"], sizeAppend: true },
  lz4: { cmd: "lz4", args: ["-l", "-9", "-c"], sizeAppend: true },
  zstd: { cmd: "zstd", args: ["-22", "--ultra", "-c"], sizeAppend: true },
};

async function kernelCompress(method: string, data: Uint8Array): Promise<Uint8Array> {
  const t = KERNEL_TOOLS[method];
  const out = await runTool(t.cmd, t.args, data);
  return t.sizeAppend ? new Uint8Array([...out, ...u32(data.length)]) : out;
}

const allTools = Object.values(KERNEL_TOOLS).every((t) => hasTool(t.cmd));

Deno.test({
  name: "extractVmlinux decodes a payload of each of the seven methods as the kernel build compresses it",
  ignore: ignoreUnless(allTools, "gzip, bzip2, lzma, xz, lzop, lz4 and zstd"),
  async fn() {
    const elf = fakeVmlinux(300_000);
    for (const method of Object.keys(KERNEL_TOOLS)) {
      const payload = await kernelCompress(method, elf);
      const img = bzImage(payload);
      assert.equal((await findBzImagePayload(img)).compression, method);
      assert.deepEqual(await extractVmlinux(img), elf, method);
      // Through a source that holds no bytes, too.
      assert.deepEqual(await extractVmlinux(await fromBlob(new Blob([img as Uint8Array<ArrayBuffer>]))), elf, method);
    }
  },
});

Deno.test({
  name:
    "extractVmlinux reports a corrupt payload, a wrong size trailer and a limit below the size as CorruptPayload for each method",
  ignore: ignoreUnless(allTools, "gzip, bzip2, lzma, xz, lzop, lz4 and zstd"),
  async fn() {
    const elf = fakeVmlinux(100_000);
    for (const method of Object.keys(KERNEL_TOOLS)) {
      const payload = await kernelCompress(method, elf);
      const cut = await rejectsCode(
        extractVmlinux(bzImage(payload.subarray(0, payload.length >> 1))),
        "CorruptPayload",
      );
      assert.ok(cut.cause instanceof DecompressError, method);
      if (KERNEL_TOOLS[method].sizeAppend) {
        const wrong = payload.slice();
        wrong[wrong.length - 4] ^= 1;
        await rejectsCode(extractVmlinux(bzImage(wrong)), "CorruptPayload");
      }
      const small = await rejectsCode(extractVmlinux(bzImage(payload), { maxOutput: 50_000 }), "CorruptPayload");
      assert.ok(
        small.cause instanceof DecompressError && small.cause.code === "OutputTooLarge",
        `${method}: ${small.message}`,
      );
    }
  },
});

Deno.test("extractVmlinux rejects a payload of no known method", async () => {
  await rejectsCode(extractVmlinux(bzImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))), "UnsupportedCompression");
});

Deno.test("extractVmlinux rejects a payload that does not decompress to ELF", async () => {
  await rejectsCode(extractVmlinux(bzImage(lz4Literals(new Uint8Array(100).fill(65)))), "CorruptPayload");
});

Deno.test("findBzImagePayload rejects an image without HdrS", async () => {
  const img = bzImage(fakeVmlinux());
  img[0x202] = 0;
  await rejectsCode(findBzImagePayload(img), "InvalidBzImage");
});

Deno.test("findBzImagePayload rejects a boot protocol older than 2.08", async () => {
  await rejectsCode(findBzImagePayload(bzImage(fakeVmlinux(), { version: 0x0207 })), "InvalidBzImage");
});

Deno.test("findBzImagePayload rejects a payload that passes the end of the image", async () => {
  const img = bzImage(fakeVmlinux());
  new DataView(img.buffer).setUint32(SETUP_HEADER_OFFSET + SETUP_HEADER.offsetOf("payload_length"), img.length, true);
  await rejectsCode(findBzImagePayload(img), "ReadBzImageCompressedKernel");
});

Deno.test("findBzImagePayload rejects an image too small for a setup header", async () => {
  await rejectsCode(findBzImagePayload(new Uint8Array(0x200)), "ReadBzImageHeader");
});

Deno.test("findBzImagePayload counts setup_sects 0 as 4 sectors", async () => {
  const p = await findBzImagePayload(bzImage(fakeVmlinux(), { setupSects: 0, payloadAt: 0x10 }));
  assert.equal(p.protectedModeOffset, 5 * 512);
  assert.equal(p.offset, 5 * 512 + 0x10);
  assert.equal(p.compression, "none");
});

Deno.test("detectCompression knows the gzip, lz4 and ELF magics and nothing else", () => {
  assert.equal(detectCompression(new Uint8Array([0x1f, 0x8b, 8])), "gzip");
  assert.equal(detectCompression(new Uint8Array([0x02, 0x21, 0x4c, 0x18])), "lz4");
  assert.equal(detectCompression(new Uint8Array([0x7f, 0x45, 0x4c, 0x46])), "none");
  assert.equal(detectCompression(new Uint8Array([0x02, 0x21])), undefined);
  assert.equal(detectCompression(new Uint8Array([0, 0, 0, 0])), undefined);
});

// ---- Debian's real kernels of every method it ships: LZ4 (cloud), XZ (6.1 standard), ZSTD (6.12) ----------

const REAL_KERNELS = [
  { id: "cloud-amd64", method: "lz4", tool: ["lz4", "-d", "-c"] },
  { id: "std-amd64", method: "xz", tool: ["xz", "-d", "-c", "--single-stream"] },
  { id: "6.12-amd64", method: "zstd", tool: ["zstd", "-d", "-c"] },
] as const;

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

for (const k of REAL_KERNELS) {
  const rec = await ensureMatrixKernel(k.id).catch(() => undefined);
  Deno.test({
    name: `extractVmlinux of Debian's ${k.id} kernel (${k.method}) equals ${
      k.tool[0]
    } -d of the dd-cut payload, PVH note as readelf -n shows`,
    ignore: ignoreUnless(
      rec !== undefined && hasTool(k.tool[0]) && hasTool("readelf"),
      `${k.tool[0]}, readelf and Debian's ${k.id} kernel`,
    ),
    async fn() {
      const image = await Deno.readFile(rec!.kernel);
      const p = await findBzImagePayload(image);
      assert.equal(p.compression, k.method);
      // The C tool on the payload cut out as `dd` would (without the 4-byte size_append trailer).
      const cut = image.subarray(p.offset, p.offset + p.length - 4);
      const reference = await runTool(k.tool[0], k.tool.slice(1), cut);
      using file = await Deno.open(rec!.kernel);
      const ours = await extractVmlinux(await fromFile(file));
      assert.equal(ours.byteLength, reference.byteLength);
      assert.equal(await sha256(ours), await sha256(reference));
      // readelf -n on the extracted file names the PVH entry note (Xen note type 0x12, PHYS32_ENTRY).
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeFile(`${dir}/vmlinux`, ours);
        const out = await new Deno.Command("readelf", { args: ["-n", `${dir}/vmlinux`], stdout: "piped" }).output();
        const text = new TextDecoder().decode(out.stdout);
        const m = /Xen\s+0x00000008\s+Unknown note type: \(0x00000012\)\s+description data: ((?:[0-9a-f]{2} ?){8})/
          .exec(text);
        assert.ok(m !== null, "readelf shows the PHYS32_ENTRY note");
        const bytes = m[1].trim().split(" ").map((h) => parseInt(h, 16));
        const entry = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24);
        const elf = await decodeElf(toSource(ours));
        assert.equal(elf.entry.pvh, entry >>> 0);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
