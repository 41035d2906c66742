import assert from "node:assert/strict";
import { detectKernel, GuestMemory, KernelLoaderError, loadKernel, MultibootError, planKernel } from "../../mod.ts";
import { buildElf } from "../../fixtures/build/elf.ts";
import { buildBzImage } from "../../fixtures/build/bzimage.ts";
import { buildArm64Image, buildRiscv64Image, gzip } from "../../fixtures/build/pe.ts";
import { buildMultiboot2, buildMultibootAout, buildMultibootElf } from "../../fixtures/build/multiboot.ts";

const MiB = 1 << 20;
const code = new Uint8Array([0xf4, 0xf4, 0xf4, 0xf4]); // hlt

function mem(): GuestMemory {
  return GuestMemory.fromRanges([[0, 32 * MiB]]);
}

const elf = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: code }] });
const bz = buildBzImage({ payload: new Uint8Array(0x1000).fill(0x90) });

Deno.test("detectKernel tells an x86_64 ELF vmlinux", async () => {
  assert.deepEqual(await detectKernel(elf), { format: "elf", arch: "x86_64", multiboot: [] });
});

Deno.test("detectKernel tells a bzImage", async () => {
  assert.deepEqual(await detectKernel(bz), { format: "bzimage", arch: "x86_64", multiboot: [] });
});

Deno.test("detectKernel tells arm64 and riscv64 Images", async () => {
  assert.equal((await detectKernel(buildArm64Image({ code }))).arch, "aarch64");
  assert.equal((await detectKernel(buildRiscv64Image({ code }))).arch, "riscv64");
});

Deno.test("detectKernel tells a gzip-compressed arm64 Image", async () => {
  const d = await detectKernel(await gzip(buildArm64Image({ code, size: 0x10000 })));
  assert.deepEqual(d, { format: "pe", arch: "aarch64", compression: "gzip", multiboot: [] });
});

Deno.test("detectKernel tells Multiboot 1 and Multiboot2 images", async () => {
  const a = await detectKernel(buildMultibootAout({ code }));
  assert.equal(a.format, "multiboot");
  assert.equal(a.arch, "i386");
  const e = await detectKernel(buildMultibootElf({ code }));
  assert.equal(e.format, "multiboot");
  assert.equal((await detectKernel(buildMultiboot2({ code }))).format, "multiboot2");
});

Deno.test("a bzImage carrying a Multiboot header: detectKernel lists it, loadKernel loads the bzImage unless told otherwise", async () => {
  // loadKernel does not scan for Multiboot headers when the header alone decides the format; the list, and a
  // forced Multiboot format, must still see this one.
  const payload = new Uint8Array(0x1000).fill(0x90);
  const dv = new DataView(payload.buffer);
  dv.setUint32(0x100, 0x1badb002, true); // magic
  dv.setUint32(0x104, 0, true); // flags
  dv.setUint32(0x108, -0x1badb002 >>> 0, true); // checksum
  const image = buildBzImage({ payload });
  const setupSize = (image[0x1f1] + 1) * 512;
  assert.deepEqual(await detectKernel(image), {
    format: "bzimage",
    arch: "x86_64",
    multiboot: [{ version: 1, offset: setupSize + 0x100 }],
  });
  const k = await loadKernel(mem(), image);
  assert.equal(k.format, "bzimage");
  // Forced, the Multiboot loader gets the image (and refuses it with its own error: no ELF, no a.out fields).
  await assert.rejects(loadKernel(mem(), image, { format: "multiboot" }), (e: unknown) => {
    return e instanceof MultibootError && e.code === "NotElf";
  });
});

Deno.test("an i386 Multiboot ELF whose bytes also spell a bzImage's magic loads as Multiboot, as detectKernel says", async () => {
  // A crafted file: loadKernel's quick detection must not take the bzImage magic before the Multiboot scan.
  const image = new Uint8Array(0x1000);
  image.set(buildMultibootElf({ code }));
  image.set([0x55, 0xaa], 0x1fe); // boot_flag
  image.set([0x48, 0x64, 0x72, 0x53, 0x0f, 0x02], 0x202); // "HdrS", version 2.15
  assert.equal((await detectKernel(image)).format, "multiboot");
  assert.equal((await loadKernel(mem(), image)).format, "multiboot");
});

Deno.test("loadKernel passes the caller's options to the loader, and format only to the dispatch", async () => {
  const a = await loadKernel(mem(), bz, { loadAddress: 0x200000 });
  const b = await loadKernel(mem(), bz, { loadAddress: 0x200000, format: "bzimage" });
  assert.equal(a.loadStart, 0x200000);
  assert.deepEqual(b, a);
});

Deno.test("detectKernel rejects unknown bytes with a typed error naming them", async () => {
  await assert.rejects(detectKernel(new Uint8Array([1, 2, 3, 4, 5])), (e: unknown) => {
    assert.ok(e instanceof KernelLoaderError);
    assert.equal(e.code, "UnknownFormat");
    assert.match(e.message, /01 02 03 04/);
    return true;
  });
  await assert.rejects(detectKernel(new Uint8Array(0)), KernelLoaderError);
});

Deno.test("detectKernel rejects gzip data that is not an Image", async () => {
  await assert.rejects(detectKernel(await gzip(new Uint8Array(100))), KernelLoaderError);
});

Deno.test("loadKernel loads an ELF with loadElf", async () => {
  const m = mem();
  const k = await loadKernel(m, elf);
  assert.equal(k.format, "elf");
  assert.equal(m.readU32(0x100000), 0xf4f4f4f4);
});

Deno.test("loadKernel loads a bzImage with loadBzImage", async () => {
  const m = mem();
  const k = await loadKernel(m, bz, { loadAddress: 0x200000 });
  assert.equal(k.format, "bzimage");
  assert.equal(k.format === "bzimage" && k.details.setupHeader.header, 0x53726448);
  assert.equal(m.readU8(0x200000), 0x90);
});

Deno.test("loadKernel loads a gzip-compressed arm64 Image", async () => {
  const m = mem();
  const k = await loadKernel(m, await gzip(buildArm64Image({ code, size: 0x2000 })), { imageBase: 0x200000 });
  assert.equal(k.format, "pe");
  assert.equal(m.readU32(k.loadStart + 0x40), 0xf4f4f4f4);
});

Deno.test("loadKernel loads a Multiboot2 image", async () => {
  const m = mem();
  const k = await loadKernel(m, buildMultiboot2({ code }));
  assert.equal(k.format, "multiboot2");
});

Deno.test("loadKernel returns the same common fields for every format", async () => {
  const images = [elf, bz, await gzip(buildArm64Image({ code, size: 0x2000 })), buildMultiboot2({ code })];
  for (const image of images) {
    const k = await loadKernel(mem(), image);
    assert.ok(Object.values(k.entry).length > 0, k.format);
    assert.ok(k.loadStart < k.loadEnd && k.loadEnd <= k.kernelEnd, k.format);
    assert.ok(k.plan.steps.length > 0, k.format);
  }
});

Deno.test("planKernel plans the same load as loadKernel without writing", async () => {
  const a = mem(), b = mem();
  const planned = await planKernel(a, bz);
  const loaded = await loadKernel(b, bz);
  assert.deepEqual(planned, loaded);
  assert.equal(a.readU8(0x100000), 0);
});

Deno.test("loadKernel with an arch option rejects an image for another architecture", async () => {
  await assert.rejects(loadKernel(mem(), elf, { arch: "aarch64" }), (e: unknown) => {
    return e instanceof KernelLoaderError && e.code === "ArchMismatch";
  });
});

Deno.test("loadKernel refuses a format the image does not carry", async () => {
  await assert.rejects(loadKernel(mem(), elf, { format: "multiboot" }), (e: unknown) => {
    return e instanceof KernelLoaderError && e.code === "UnknownFormat";
  });
});

Deno.test("every format refuses the placement options of the others with InvalidOption", async () => {
  const isInvalidOption = (e: unknown) => e instanceof KernelLoaderError && e.code === "InvalidOption";
  const images: [Uint8Array, Record<string, number>[]][] = [
    [elf, [{ loadAddress: 0x100000 }, { imageBase: 0 }]],
    [bz, [{ addend: 0 }, { imageBase: 0 }]],
    [buildArm64Image({ code, size: 0x2000 }), [{ addend: 0 }, { loadAddress: 0x200000 }]],
    [buildMultiboot2({ code }), [{ addend: 0 }, { loadAddress: 0x100000 }, { imageBase: 0 }]],
  ];
  for (const [image, options] of images) {
    for (const opts of options) {
      const m = mem();
      await assert.rejects(loadKernel(m, image, opts), isInvalidOption, JSON.stringify(opts));
      assert.equal(m.readU32(0x100000), 0, "nothing written");
    }
  }
});

Deno.test("every format refuses a load below highmemStart with InvalidKernelStartAddress or its own code", async () => {
  const below = (e: unknown) =>
    e instanceof Error && "code" in e &&
    ["InvalidKernelStartAddress", "InvalidProgramHeaderAddress", "InvalidEntryAddress"].includes(String(e.code));
  await assert.rejects(loadKernel(mem(), elf, { highmemStart: 0x200000 }), below);
  await assert.rejects(loadKernel(mem(), bz, { highmemStart: 0x200000 }), below);
  await assert.rejects(loadKernel(mem(), buildArm64Image({ code }), { imageBase: 0, highmemStart: 0x1000 }), below);
  await assert.rejects(loadKernel(mem(), buildMultibootAout({ code }), { highmemStart: 0x800000 }), below);
});

Deno.test("an Image with no imageBase goes to the lowest 2 MiB boundary at or above highmemStart", async () => {
  const k = await loadKernel(mem(), buildArm64Image({ code, size: 0x2000 }), { highmemStart: 0x30_0000 });
  assert.equal(k.entry.image, 0x40_0000);
});
