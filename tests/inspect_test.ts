import assert from "node:assert/strict";
import { inspectKernel } from "../mod.ts";
import { XEN_ELFNOTE_PHYS32_ENTRY } from "../abi.ts";
import { buildElf } from "../fixtures/build/elf.ts";
import { buildBzImage } from "../fixtures/build/bzimage.ts";
import { buildArm64Image, buildRiscv64Image, gzip } from "../fixtures/build/pe.ts";
import { buildMultiboot2, buildMultibootAout } from "../fixtures/build/multiboot.ts";

const enc = new TextEncoder();

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

Deno.test("inspectKernel reports an ELF vmlinux's entries, PT_LOAD ranges and version banner", async () => {
  const text = new Uint8Array(0x2000);
  text.set(enc.encode("Linux version 6.9.0-test (builder@host) #1 SMP\n\0"), 0x1800);
  const elf = buildElf({
    entry: 0x100_0000,
    segments: [
      { paddr: 0x100_0000, data: text, memsz: 0x3000 },
      { paddr: 0, notes: [{ name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: u32(0x100_0040) }] },
    ],
  });
  const r = await inspectKernel(elf);
  assert.equal(r.protocol, "ELF vmlinux (Linux 64-bit boot protocol and PVH)");
  assert.deepEqual(r.entry, { linux64: 0x100_0000, pvh: 0x100_0040 });
  assert.deepEqual(r.loadRanges.map((l) => [l.label, l.start, l.end, l.fileSize]), [
    ["PT_LOAD[0]", 0x100_0000, 0x100_3000, 0x2000],
  ]);
  assert.equal(r.version, "6.9.0-test (builder@host) #1 SMP");
});

Deno.test("inspectKernel reads a bzImage's protocol, header fields, version string and payload", async () => {
  const payload = new Uint8Array(0x3000);
  payload.set([0x02, 0x21, 0x4c, 0x18], 0x100); // an LZ4 legacy magic where payload_offset points
  const image = buildBzImage({ payload, header: { payload_offset: 0x100, payload_length: 0x200 } });
  // kernel_version points (minus 0x200) at a string inside the setup sectors.
  const at = 0x400;
  image.set(enc.encode("6.1.0-test (someone@somewhere)\0"), at);
  new DataView(image.buffer).setUint16(0x20e, at - 0x200, true);
  const r = await inspectKernel(image);
  assert.equal(r.format, "bzimage");
  assert.equal(r.protocol, "Linux boot protocol 2.15");
  assert.equal(r.version, "6.1.0-test (someone@somewhere)");
  assert.equal(r.fields.pref_address, "0x1000000");
  assert.equal(r.fields.relocatable_kernel, true);
  assert.deepEqual(r.payload?.compression, "lz4");
  assert.equal(r.entry.linux64, 0x10_0200);
});

Deno.test("inspectKernel reports arm64 and riscv64 Image headers and flags", async () => {
  const arm = await inspectKernel(buildArm64Image({ header: { text_offset: 0x8_0000n, flags: 0xan }, size: 0x1000 }));
  assert.equal(arm.protocol, "arm64 Image (Linux arm64 booting protocol)");
  assert.equal(arm.fields.text_offset, "0x80000");
  assert.equal(arm.fields["flags.pageSize"], "0x1000");
  assert.equal(arm.entry.image, 0x4008_0000);
  const rv = await inspectKernel(buildRiscv64Image({ size: 0x1000 }));
  assert.equal(rv.arch, "riscv64");
  assert.match(rv.protocol, /^riscv64 Image/);
});

Deno.test("inspectKernel tells a gzip-compressed Image without decompressing it all", async () => {
  const r = await inspectKernel(await gzip(buildArm64Image({ size: 0x4000 })));
  assert.equal(r.compression, "gzip");
  assert.equal(r.protocol, "arm64 Image (Linux arm64 booting protocol), gzip-compressed");
  assert.equal(r.entry.image, 0x4000_0000);
  assert.deepEqual(r.loadRanges.map((l) => [l.start, l.fileSize]), [[0x4000_0000, 0x4000]]);
});

Deno.test("inspectKernel reports Multiboot 1 address fields and Multiboot2 tags", async () => {
  const mb1 = await inspectKernel(buildMultibootAout({ code: new Uint8Array([0xf4]) }));
  assert.equal(mb1.protocol, "Multiboot 1");
  assert.equal(typeof mb1.entry.multiboot, "number");
  assert.ok("load_addr" in mb1.fields);
  const mb2 = await inspectKernel(buildMultiboot2({ code: new Uint8Array([0xf4]) }));
  assert.equal(mb2.protocol, "Multiboot2");
  assert.equal(mb2.fields.module_align, true);
});

Deno.test("inspectKernel's report survives JSON (no bigint left in it)", async () => {
  const r = await inspectKernel(buildArm64Image({ size: 0x1000 }));
  assert.doesNotThrow(() => JSON.stringify(r));
});
