// The hand-written whole-struct readers (the hot paths' fast decoders) against the field table they shadow.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ELF64_EHDR, ELF64_NHDR, ELF64_PHDR, SETUP_HEADER, Struct } from "../../abi.ts";
import { checkProperty } from "./_config.ts";

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
