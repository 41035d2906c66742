// The hand-written whole-struct readers (the hot paths' fast decoders) against the field table they shadow.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ELF64_EHDR, ELF64_NHDR, ELF64_PHDR, SETUP_HEADER, Struct } from "../../abi.ts";
import { checkProperty } from "./_config.ts";
import { readEhdrAt0, readPhdr } from "../../lib/loader/elf.ts";

// The same layout without a reader: Struct.read's generic loop over the table.
// deno-lint-ignore no-explicit-any
function generic(s: Struct<any>): Struct<any> {
  return new Struct(s.name, s.size, s.fields.map((f) => [f.name, f.offset, f.kind] as const));
}

// deno-lint-ignore no-explicit-any
const FAST: [string, Struct<any>][] = [
  ["setup_header", SETUP_HEADER],
  ["Elf64_Ehdr", ELF64_EHDR],
  ["Elf64_Phdr", ELF64_PHDR],
  ["Elf64_Nhdr", ELF64_NHDR],
];

for (const [name, s] of FAST) {
  const slow = generic(s);
  Deno.test(`${name}'s fast reader decodes any bytes at any offset exactly as its field table does`, () => {
    checkProperty(
      `struct fast reader ${name}`,
      fc.property(
        fc.uint8Array({ minLength: s.size, maxLength: s.size + 24 }),
        fc.nat(24),
        fc.nat(7),
        (bytes, at, lead) => {
          const base = Math.min(at, bytes.length - s.size);
          // A view that does not start at its buffer's first byte, as a subarray of a file read is.
          const buf = new Uint8Array(lead + bytes.length);
          buf.set(bytes, lead);
          const view = buf.subarray(lead);
          const fast = s.decode(view, base), ref = slow.decode(view, base);
          assert.deepEqual(fast, ref);
          assert.deepEqual(Object.keys(fast), Object.keys(ref));
          for (const k of Object.keys(ref)) assert.equal(typeof fast[k], typeof ref[k], k);
        },
      ),
    );
  });
}

Deno.test("a fast reader still throws BufferTooShort for a buffer shorter than its struct", () => {
  assert.throws(() => ELF64_PHDR.decode(new Uint8Array(ELF64_PHDR.size - 1)), { code: "BufferTooShort" });
  assert.throws(() => SETUP_HEADER.decode(new Uint8Array(SETUP_HEADER.size), 1), { code: "BufferTooShort" });
});

Deno.test("a fast reader's byte-array field is a copy, not a view of the decoded bytes", () => {
  const bytes = new Uint8Array(ELF64_EHDR.size).fill(7);
  const e = ELF64_EHDR.decode(bytes);
  bytes[0] = 1;
  assert.equal(e.e_ident[0], 7);
  assert.equal(e.e_ident.byteOffset, 0);
});

Deno.test("setup_header's field table tiles all of its 0x7b bytes (so encode(decode(bytes)) is the bytes)", () => {
  let at = 0;
  for (const f of SETUP_HEADER.fields) {
    assert.equal(f.offset, at, f.name);
    at += f.size;
  }
  assert.equal(at, SETUP_HEADER.size);
});

// Words near the boundaries the in-place u64 read switches at (2^31, 2^32, 2^53, 2^63), mixed with any value.
const WORD = fc.oneof(
  fc.constantFrom(0n, 1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n),
  fc.constantFrom(2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 0xffff_ffff_8100_0000n, 0x8000_0001n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const HEADER_BYTES = fc.array(WORD, { minLength: 8, maxLength: 8 }).map((words) => {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setBigUint64(i * 8, w, true));
  return b;
});

Deno.test("the ELF loader's in-place header readers give exactly what ELF64_EHDR and ELF64_PHDR decode", () => {
  checkProperty(
    "elf loader in-place readers",
    fc.property(fc.oneof(HEADER_BYTES, fc.uint8Array({ minLength: 64, maxLength: 64 })), fc.nat(7), (b, at) => {
      const e = readEhdrAt0(b), refE = ELF64_EHDR.decode(b);
      assert.deepEqual(e, refE);
      assert.deepEqual(Object.keys(e), Object.keys(refE));
      const buf = new Uint8Array(at + 64);
      buf.set(b, at);
      const p = readPhdr(buf, at), refP = ELF64_PHDR.decode(buf, at);
      assert.deepEqual(p, refP);
      assert.deepEqual(Object.keys(p), Object.keys(refP));
    }),
  );
});

Deno.test("the ELF loader's e_ident copies are their own bytes: neither the image nor a later load changes them", () => {
  const img = new Uint8Array(64).fill(7);
  const first = readEhdrAt0(img).e_ident;
  img.fill(1);
  const copies = Array.from({ length: 200 }, () => readEhdrAt0(img).e_ident);
  assert.deepEqual([...first], new Array(16).fill(7));
  for (const c of copies) assert.deepEqual([...c], new Array(16).fill(1));
  // A block transferred away (its buffer detached) does not break the next copies.
  (copies[199].buffer as ArrayBuffer).transfer();
  assert.deepEqual([...readEhdrAt0(img).e_ident], new Array(16).fill(1));
});
