// Offsets of the arm64 and riscv64 Image headers against the tables of the booting documents. There is no
// C header for these (the kernel declares them in assembly), so each table is quoted here and its offsets
// are computed from the field sizes in order, the way a C compiler lays out these naturally aligned fields.
import assert from "node:assert/strict";
import {
  AARCH64_IMAGE_FLAG_BE_SHIFT,
  AARCH64_IMAGE_FLAG_PAGE_SIZE_SHIFT,
  AARCH64_IMAGE_FLAG_PHYS_BASE_SHIFT,
  AARCH64_IMAGE_HEADER,
  AARCH64_IMAGE_MAGIC,
  decodeAarch64Flags,
  encodeAarch64Flags,
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC_OFFSET,
  RISCV64_IMAGE_HEADER,
  RISCV_HEADER_VERSION,
  RISCV_IMAGE_MAGIC,
  RISCV_IMAGE_MAGIC2,
} from "../../lib/abi/image.ts";
import type { Struct } from "../../lib/abi/struct.ts";

// Documentation/arch/arm64/booting.rst, "4. Call the kernel image":
//   u32 code0;                    /* Executable code */
//   u32 code1;                    /* Executable code */
//   u64 text_offset;              /* Image load offset, little endian */
//   u64 image_size;               /* Effective Image size, little endian */
//   u64 flags;                    /* kernel flags, little endian */
//   u64 res2      = 0;            /* reserved */
//   u64 res3      = 0;            /* reserved */
//   u64 res4      = 0;            /* reserved */
//   u32 magic     = 0x644d5241;   /* Magic number, little endian, "ARM\x64" */
//   u32 res5;                     /* reserved (used for PE COFF offset) */
const ARM64_DOC: [string, number][] = [
  ["code0", 4],
  ["code1", 4],
  ["text_offset", 8],
  ["image_size", 8],
  ["flags", 8],
  ["res2", 8],
  ["res3", 8],
  ["res4", 8],
  ["magic", 4],
  ["res5", 4],
];

// Documentation/arch/riscv/boot-image-header.rst:
//   u32 code0;                /* Executable code */
//   u32 code1;                /* Executable code */
//   u64 text_offset;          /* Image load offset, little endian */
//   u64 image_size;           /* Effective Image size, little endian */
//   u64 flags;                /* kernel flags, little endian */
//   u32 version;              /* Version of this header */
//   u32 res1 = 0;             /* Reserved */
//   u64 res2 = 0;             /* Reserved */
//   u64 magic = 0x5643534952; /* Magic number, little endian, "RISCV" */
//   u32 magic2 = 0x05435352;  /* Magic number 2, little endian, "RSC\x05" */
//   u32 res3;                 /* Reserved for PE COFF offset */
const RISCV64_DOC: [string, number][] = [
  ["code0", 4],
  ["code1", 4],
  ["text_offset", 8],
  ["image_size", 8],
  ["flags", 8],
  ["version", 4],
  ["res1", 4],
  ["res2", 8],
  ["magic", 8],
  ["magic2", 4],
  ["res3", 4],
];

function assertLayout<T extends object>(table: Struct<T>, doc: [string, number][]): void {
  let offset = 0;
  assert.equal(table.fields.length, doc.length);
  doc.forEach(([name, size], i) => {
    const f = table.fields[i];
    assert.equal(f.name, name, `field ${i}`);
    assert.equal(f.offset, offset, `${name} offset`);
    assert.equal(f.size, size, `${name} size`);
    offset += size;
  });
  assert.equal(offset, IMAGE_HEADER_SIZE);
  assert.equal(table.size, IMAGE_HEADER_SIZE);
}

Deno.test("arm64 Image header offsets match booting.rst field by field", () => {
  assertLayout(AARCH64_IMAGE_HEADER, ARM64_DOC);
});

Deno.test("riscv64 Image header offsets match boot-image-header.rst field by field", () => {
  assertLayout(RISCV64_IMAGE_HEADER, RISCV64_DOC);
});

Deno.test("arm64 magic and riscv64 magic2 share offset 0x38", () => {
  assert.equal(AARCH64_IMAGE_HEADER.offsetOf("magic"), 0x38);
  assert.equal(RISCV64_IMAGE_HEADER.offsetOf("magic2"), 0x38);
  assert.equal(IMAGE_MAGIC_OFFSET, 0x38);
  assert.equal(AARCH64_IMAGE_HEADER.offsetOf("res5"), 0x3c);
  assert.equal(RISCV64_IMAGE_HEADER.offsetOf("magic"), 0x30);
});

Deno.test("the magic constants are the documented byte strings read little endian", () => {
  const le32 = (s: string) => new DataView(new TextEncoder().encode(s).buffer).getUint32(0, true);
  assert.equal(AARCH64_IMAGE_MAGIC, le32("ARM\x64"));
  assert.equal(RISCV_IMAGE_MAGIC2, le32("RSC\x05"));
  assert.equal(RISCV_IMAGE_MAGIC, new DataView(new TextEncoder().encode("RISCV\0\0\0").buffer).getBigUint64(0, true));
  assert.equal(RISCV_HEADER_VERSION, 2); // "The current version is defined as 0.2."
});

Deno.test("arm64 flag bits sit where booting.rst puts them (bit 0 endianness, 1-2 page size, 3 placement)", () => {
  assert.equal(AARCH64_IMAGE_FLAG_BE_SHIFT, 0);
  assert.equal(AARCH64_IMAGE_FLAG_PAGE_SIZE_SHIFT, 1);
  assert.equal(AARCH64_IMAGE_FLAG_PHYS_BASE_SHIFT, 3);
  assert.deepEqual(decodeAarch64Flags(0b1n), { bigEndian: true, pageSize: 0, physAnywhere: false, reserved: 0n });
  assert.deepEqual(decodeAarch64Flags(0b110n), {
    bigEndian: false,
    pageSize: 0x10000,
    physAnywhere: false,
    reserved: 0n,
  });
  assert.deepEqual(decodeAarch64Flags(0x18n), { bigEndian: false, pageSize: 0, physAnywhere: true, reserved: 0x10n });
});

Deno.test("encodeAarch64Flags inverts decodeAarch64Flags for every defined bit pattern", () => {
  for (let f = 0n; f < 16n; f++) assert.equal(encodeAarch64Flags(decodeAarch64Flags(f)), f);
});
