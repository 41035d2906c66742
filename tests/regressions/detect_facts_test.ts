// Regressions from issue 18, items 7 (the inspect parts) and 9: what detection and inspection say about real
// kinds of files, and that no string taken from an image reaches a terminal unescaped.

import assert from "node:assert/strict";
import { buildElf } from "../../fixtures/build/elf.ts";
import { buildBzImage, defaultSetupHeader } from "../../fixtures/build/bzimage.ts";
import { buildArm64Image, gzip } from "../../fixtures/build/pe.ts";
import {
  BzImageError,
  decodeBzImage,
  detectKernel,
  escapeImageText,
  inspectKernel,
  KernelLoaderError,
} from "../../mod.ts";
import { MULTIBOOT_HEADER_MAGIC } from "../../abi.ts";
import { rejectsWith } from "../_assert.ts";

const enc = new TextEncoder();

async function unknownMessage(image: Uint8Array): Promise<string> {
  try {
    await detectKernel(image);
  } catch (e) {
    assert.ok(e instanceof KernelLoaderError && e.code === "UnknownFormat", String(e));
    return e.message;
  }
  return assert.fail("detected");
}

Deno.test("an arm64 Image's version is the numbered banner, not Debian's earlier '# SMP' copy", async () => {
  const image = buildArm64Image({ size: 0x4000 });
  image.set(enc.encode("Linux version 6.1.0-57-cloud-arm64 (debian-kernel@lists.debian.org) # SMP Debian\0"), 0x1000);
  image.set(enc.encode("Linux version 6.1.0-57-cloud-arm64 (debian-kernel@lists.debian.org) #1 SMP Debian\0"), 0x3000);
  const r = await inspectKernel(image);
  assert.equal(r.version, "6.1.0-57-cloud-arm64 (debian-kernel@lists.debian.org) #1 SMP Debian");
});

Deno.test("an ELF vmlinux's version is the numbered banner too; without a banner it is no 'ELF vmlinux'", async () => {
  const text = new Uint8Array(0x2000);
  text.set(enc.encode("Linux version 6.1.0 # SMP\0"), 0x100);
  text.set(enc.encode("Linux version 6.1.0 #3 SMP\0"), 0x1800);
  const elf = buildElf({ entry: 0x100_0000, segments: [{ paddr: 0x100_0000, data: text }] });
  const r = await inspectKernel(elf);
  assert.equal(r.version, "6.1.0 #3 SMP");
  assert.match(r.protocol, /^ELF vmlinux/);
  const plain = buildElf({ entry: 0x100_0000, segments: [{ paddr: 0x100_0000, data: new Uint8Array(0x100) }] });
  assert.doesNotMatch((await inspectKernel(plain)).protocol, /vmlinux/);
});

Deno.test("escape sequences and newlines in an image's version string are escaped in the report", async () => {
  const image = buildArm64Image({ size: 0x2000 });
  const banner = [...enc.encode("Linux version 6.6 #1 \x1b[2J\x1b[Hentry\\ end"), 0x8d, 0x9b, 0x7f, 0];
  image.set(banner, 0x1000);
  const r = await inspectKernel(image);
  // Bytes are read as windows-1252 (TextDecoder "latin1"): 0x9b is "›", 0x8d stays a C1 control.
  assert.equal(r.version, "6.6 #1 \\x1b[2J\\x1b[Hentry\\\\ end\\x8d\u203a\\x7f");
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(r.version!, /[\x00-\x1f\x7f-\x9f]/);
  // The bzImage's kernel_version string too.
  const bz = buildBzImage({
    payload: new Uint8Array(0x400),
    header: { ...defaultSetupHeader(0x400), kernel_version: 0x100 },
  });
  bz.set(enc.encode("6.1\x1b]0;owned\x07\0"), 0x300);
  assert.equal((await inspectKernel(bz)).version, "6.1\\x1b]0;owned\\x07");
  assert.equal(escapeImageText("a\nb"), "a\\x0ab");
});

Deno.test("a PE32+ EFI application carrying a Multiboot header is not reported as a Multiboot kernel", async () => {
  // "MZ", e_lfanew 0x80, "PE\0\0", COFF Machine 0x8664, optional header magic 0x20b, Subsystem 10.
  const efi = new Uint8Array(0x3000);
  const dv = new DataView(efi.buffer);
  efi.set([0x4d, 0x5a]);
  dv.setUint32(0x3c, 0x80, true);
  dv.setUint32(0x80, 0x4550, true);
  dv.setUint16(0x84, 0x8664, true);
  dv.setUint16(0x98, 0x20b, true);
  dv.setUint16(0x98 + 68, 10, true);
  // A valid Multiboot 1 header (magic, flags, checksum) at 0x1000, as xen.efi has.
  dv.setUint32(0x1000, MULTIBOOT_HEADER_MAGIC, true);
  dv.setUint32(0x1004, 0, true);
  dv.setUint32(0x1008, (-MULTIBOOT_HEADER_MAGIC) >>> 0, true);
  assert.match(await unknownMessage(efi), /PE32\+ EFI application for x86_64 \(machine 0x8664\)/);
});

Deno.test("an ELF for another machine is named by its machine", async () => {
  const elf = buildElf({ entry: 0x1000, machine: 183, segments: [] });
  assert.match(await unknownMessage(elf), /ELF64 for AArch64 \(e_machine 183\)/);
  assert.match(await unknownMessage(buildElf({ entry: 0x1000, machine: 243, segments: [] })), /RISC-V/);
});

Deno.test("gzip, xz and zstd files are named by their compression", async () => {
  assert.match(await unknownMessage(await gzip(new Uint8Array(100))), /gzip-compressed data/);
  assert.match(await unknownMessage(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0, 4])), /xz-compressed/);
  assert.match(await unknownMessage(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), /zstd-compressed/);
});

Deno.test("a bzImage with a 0-byte protected-mode kernel is refused as Underflow", async () => {
  const full = buildBzImage({ payload: new Uint8Array(0x200), header: defaultSetupHeader(0x200) });
  await rejectsWith(decodeBzImage(full.subarray(0, full.length - 0x200)), BzImageError, "Underflow");
});

Deno.test("a bzImage whose jump byte ends the header early hands over the fields that were validated", async () => {
  const { planBzImage, GuestMemory } = await import("../../mod.ts");
  const hdr = { ...defaultSetupHeader(0x1000), jump: 0xeb }; // header "ends" at 0x202: before version itself
  const image = buildBzImage({ payload: new Uint8Array(0x1000), header: hdr });
  const p = await planBzImage(GuestMemory.fromRanges([[0, 16 << 20]]), image);
  const h = p.details.setupHeader;
  assert.equal(h.version, hdr.version);
  assert.equal(h.loadflags, hdr.loadflags);
  assert.equal(h.header, hdr.header);
});
