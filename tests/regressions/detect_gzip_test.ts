import assert from "node:assert/strict";
import { DecompressError, detectKernel, gunzip } from "../../mod.ts";
import { buildElf } from "../../fixtures/build/elf.ts";
import { buildArm64Image, gzip, kernelLikeBytes } from "../../fixtures/build/pe.ts";

// Found by the detect property: an ELF whose first 32 KiB hold a Multiboot2 header with a correct checksum
// but a truncated tag made detectKernel throw MultibootError instead of reporting the ELF.
Deno.test("detectKernel reports an ELF that carries a Multiboot2 header with broken tags as an ELF", async () => {
  const mb2 = new Uint8Array(24);
  const dv = new DataView(mb2.buffer);
  const magic = 0xe85250d6, arch = 0, length = 24;
  dv.setUint32(0, magic, true);
  dv.setUint32(4, arch, true);
  dv.setUint32(8, length, true);
  dv.setUint32(12, (-(magic + arch + length)) >>> 0, true);
  dv.setUint16(16, 5, true); // a tag whose size (4) is smaller than a tag header: broken
  dv.setUint32(20, 4, true);
  const elf = buildElf({ entry: 0x200000, segments: [{ paddr: 0x200000, data: mb2 }] });
  const d = await detectKernel(elf);
  assert.equal(d.format, "elf");
  assert.deepEqual(d.multiboot, []);
});

// Found by the fuzz review: a NaN maxOutput compared false against every size and switched the limit off.
Deno.test("gunzip refuses a NaN or negative maxOutput instead of decoding without a limit", async () => {
  const packed = await gzip(new Uint8Array(1000));
  for (const maxOutput of [NaN, -1, -Infinity]) {
    await assert.rejects(gunzip(packed, { maxOutput }), (e: unknown) => {
      return e instanceof DecompressError && e.code === "OutputTooLarge" && e.field === "maxOutput";
    });
  }
  assert.equal((await gunzip(packed, { maxOutput: 1000 })).length, 1000);
});

// Found by tests/browser: with the project's own inflate, output reached the sink only in 256 KiB chunks, so
// gunzipPrefix over detectKernel's 64 KiB peek of a larger gzip Image got nothing and the Image was
// "not a kernel image" (a Debian arm64 vmlinuz included).
Deno.test("detectKernel tells a gzip arm64 Image whose first 64 KiB inflate to less than one chunk", async () => {
  const image = buildArm64Image({ code: kernelLikeBytes((1 << 20) - 64, 7) });
  const packed = await gzip(image);
  assert.ok(packed.length > 1 << 16, `${packed.length} bytes: more than the 64 KiB peek`);
  assert.deepEqual(await detectKernel(packed), { format: "pe", arch: "aarch64", compression: "gzip", multiboot: [] });
});
