/**
 * Gzip-wrapped Multiboot kernels (Debian's `xen-4.17-amd64.gz`): GRUB inflates the file before it looks
 * for the header, and so do detectKernel, loadKernel and inspectKernel.
 */
import assert from "node:assert/strict";
import { detectKernel, loadKernel, planKernel } from "../../lib/loader/mod.ts";
import { inspectKernel } from "../../lib/inspect.ts";
import { DecompressError, KernelLoaderError, MultibootError, SourceError } from "../../lib/errors.ts";
import { toSource } from "../../lib/source.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { buildMultiboot2, buildMultibootElf } from "../../fixtures/build/multiboot.ts";

const CODE = new Uint8Array(64).fill(0x90); // nops; never run

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function memory(): GuestMemory {
  return GuestMemory.fromRanges([[0, 8 << 20]]);
}

/** An ELF32 with a Multiboot2 header and, at the start of its code, a Multiboot 1 header (as Xen has). */
function dualHeaderElf(): Uint8Array {
  const mb1 = new Uint8Array(16);
  const dv = new DataView(mb1.buffer);
  dv.setUint32(0, 0x1badb002, true); // magic
  dv.setUint32(4, 0, true); // flags: nothing required
  dv.setUint32(8, -0x1badb002 >>> 0, true); // checksum
  return buildMultiboot2({ code: new Uint8Array([...mb1, ...CODE]), format: "elf32" });
}

Deno.test("detectKernel reports a gzip-wrapped Multiboot ELF as Multiboot with gzip compression and the inner headers", async () => {
  const plain = dualHeaderElf();
  const inner = await detectKernel(plain);
  const d = await detectKernel(await gzip(plain));
  assert.deepEqual(d, { ...inner, compression: "gzip" });
  assert.deepEqual(d.multiboot.map((m) => m.version).sort(), [1, 2]);
});

Deno.test("loadKernel loads a gzip-wrapped Multiboot2 kernel exactly as the plain one", async () => {
  const plain = buildMultiboot2({ code: CODE, format: "elf32" });
  const a = memory(), b = memory();
  const r1 = await loadKernel(a, plain);
  const r2 = await loadKernel(b, await gzip(plain));
  assert.equal(r2.format, "multiboot2");
  assert.deepEqual([r2.entry, r2.loadStart, r2.loadEnd], [r1.entry, r1.loadStart, r1.loadEnd]);
  assert.deepEqual(b.read(r1.loadStart, r1.loadEnd - r1.loadStart), a.read(r1.loadStart, r1.loadEnd - r1.loadStart));
});

Deno.test("loadKernel with format multiboot picks the Multiboot 1 header of a gzip-wrapped image that has both", async () => {
  const r = await loadKernel(memory(), await gzip(dualHeaderElf()), { format: "multiboot" });
  assert.equal(r.format, "multiboot");
});

/** Incompressible bytes, so that a cut of the gzip file falls past what detection inflates. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 1;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

Deno.test("loadKernel of a gzip-wrapped Multiboot kernel cut short is a DecompressError and writes nothing", async () => {
  const packed = await gzip(buildMultibootElf({ code: noise(200_000) }));
  const cut = packed.subarray(0, packed.length - 1000);
  assert.equal((await detectKernel(cut)).format, "multiboot");
  const mem = memory();
  // Where the trailer should be are deflate bytes: read as ISIZE they are too large (OutputTooLarge), or
  // the stream ends before the loader's reads (Truncated) or turns out corrupt (CorruptData).
  for (const run of [() => loadKernel(mem, cut), () => planKernel(mem, cut)]) {
    await assert.rejects(run, (e) => e instanceof DecompressError);
  }
  assert.ok(mem.read(0, 8 << 20).every((b) => b === 0), "guest memory untouched");
});

Deno.test("a gzip-wrapped Multiboot kernel whose ISIZE is 1 GiB or more is DecompressError OutputTooLarge", async () => {
  const packed = await gzip(buildMultibootElf({ code: CODE }));
  new DataView(packed.buffer).setUint32(packed.length - 4, 0x4000_0001, true);
  await assert.rejects(
    () => loadKernel(memory(), packed),
    (e) => e instanceof DecompressError && e.code === "OutputTooLarge" && e.limit === 0x4000_0000,
  );
});

Deno.test("a gzip-wrapped Multiboot kernel whose ISIZE overstates its data is DecompressError CorruptData", async () => {
  const plain = buildMultibootElf({ code: CODE });
  const packed = await gzip(plain);
  new DataView(packed.buffer).setUint32(packed.length - 4, plain.length + 4096, true);
  // The loader's first read (the header search) reaches the claimed end: the member is decoded whole, and its
  // length disagrees with ISIZE.
  const mem = memory();
  await assert.rejects(
    () => loadKernel(mem, packed),
    (e) => e instanceof DecompressError && e.code === "CorruptData" && e.field === "isize",
  );
  assert.ok(mem.read(0, 8 << 20).every((b) => b === 0), "guest memory untouched");
});

Deno.test("a gzip-wrapped Multiboot kernel's inflated bytes are read lazily and match the plain image", async () => {
  const plain = buildMultibootElf({ code: noise(100_000) });
  const { inflatingSource } = await import("../../lib/loader/gzip_source.ts");
  const src = await inflatingSource(toSource(await gzip(plain)));
  assert.equal(src.size, plain.length);
  for (const [at, n] of [[0, 64], [50_000, 10], [plain.length - 7, 7], [3, 90_000]]) {
    const got = new Uint8Array(n);
    await src.readInto(at, got);
    assert.deepEqual(got, plain.subarray(at, at + n));
  }
  await assert.rejects(() => src.readInto(plain.length - 1, new Uint8Array(2)), SourceError);
});

Deno.test("gzip around bytes that are neither an Image nor a Multiboot kernel is KernelLoaderError UnknownFormat", async () => {
  await assert.rejects(
    async () => await detectKernel(await gzip(new Uint8Array(4096).fill(0x55))),
    (e) =>
      e instanceof KernelLoaderError && e.code === "UnknownFormat" &&
      /no arm64\/riscv64 Image or Multiboot header inside/.test(e.message),
  );
});

Deno.test("a gzip-wrapped kernel with a Multiboot flag the loader cannot fulfil fails its load as the plain one does", async () => {
  // Requirement bit 15: the header is found, the load refuses it with MultibootError UnsupportedFlags.
  const bad = buildMultibootElf({ code: CODE, flags: 0x8000 });
  const packed = await gzip(bad);
  assert.deepEqual(await detectKernel(packed), { ...(await detectKernel(bad)), compression: "gzip" });
  for (const image of [bad, packed]) {
    const mem = memory();
    await assert.rejects(
      () => loadKernel(mem, image),
      (e) => e instanceof MultibootError && e.code === "UnsupportedFlags",
    );
    assert.ok(mem.read(0, 8 << 20).every((b) => b === 0), "guest memory untouched");
  }
});

Deno.test("inspectKernel reads a gzip-wrapped Multiboot kernel inflated and says so", async () => {
  const plain = buildMultibootElf({ code: CODE });
  const r = await inspectKernel(await gzip(plain));
  assert.equal(r.format, "multiboot");
  assert.equal(r.compression, "gzip");
  assert.equal(r.protocol, `Multiboot 1 (gzip-wrapped, ${plain.length} bytes inflated)`);
  assert.deepEqual(r.entry, (await inspectKernel(plain)).entry);
});
