// Regressions in lib/loader/elf.ts found by hostile input (issue 18, items 1 and 8).

import assert from "node:assert/strict";
import { buildElf, patchEhdr, patchPhdr } from "../../fixtures/build/elf.ts";
import { ElfError, GuestMemory, type KernelSource, loadElf, planElf } from "../../mod.ts";
import { PT_LOAD, PT_NOTE, XEN_ELFNOTE_PHYS32_ENTRY } from "../../abi.ts";
import { rejectsWith } from "../_assert.ts";
import { manyNotesElf } from "../hostile/_inputs.ts";

const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);
const xen = (entry: number, descsz?: number) => ({
  name: "Xen",
  type: XEN_ELFNOTE_PHYS32_ENTRY,
  desc: u32(entry),
  descsz,
});
const code = { paddr: 0x10_0000, data: new Uint8Array([0xf4]) };
const MEM = () => GuestMemory.fromRanges([[0, 4 << 20]]);

/** A source over `bytes` that counts its reads and the bytes they returned. */
function counting(bytes: Uint8Array): KernelSource & { reads: number; bytesRead: number } {
  const s = {
    size: bytes.byteLength,
    reads: 0,
    bytesRead: 0,
    readInto(offset: number, dest: Uint8Array): Promise<void> {
      s.reads++;
      s.bytesRead += dest.byteLength;
      dest.set(bytes.subarray(offset, offset + dest.byteLength));
      return Promise.resolve();
    },
  };
  return s;
}

Deno.test("the PT_NOTE walk over 65,535 overlapping note headers reads each note byte once and finishes", async () => {
  const image = manyNotesElf(0xffff, 1 << 20);
  const src = counting(image);
  const p = await planElf(MEM(), src);
  assert.deepEqual(p.details.pvhBootCap, { kind: "notPresent" });
  // The header, the table, and the note bytes once: no read per note, no read per segment.
  assert.ok(src.reads <= 3, `${src.reads} reads`);
  assert.ok(src.bytesRead <= image.byteLength + 64, `${src.bytesRead} bytes read for a ${image.byteLength}-byte file`);
  // The same from memory (no source reads at all past the headers).
  assert.deepEqual((await planElf(MEM(), image)).details.pvhBootCap, { kind: "notPresent" });
});

Deno.test("a later PT_NOTE segment's malformed PVH note fails the load, as the crate walks every note segment", async () => {
  const image = buildElf({
    entry: 0x10_0000,
    segments: [{ type: PT_NOTE, notes: [xen(0x10_0040)] }, { type: PT_NOTE, notes: [xen(0x10_0080, 2)] }, code],
  });
  await rejectsWith(loadElf(GuestMemory.fromRanges([[0, 4 << 20]]), image), ElfError, "InvalidPvhNote");
});

Deno.test("a later PT_NOTE segment whose offset is past the end fails the load with ReadNoteHeader", async () => {
  const image = patchPhdr(
    buildElf({
      entry: 0x10_0000,
      segments: [{ type: PT_NOTE, notes: [xen(0x10_0040)] }, { type: PT_NOTE, notes: [xen(0x10_0080)] }, code],
    }),
    1,
    { p_offset: 0x10_0000n },
  );
  await rejectsWith(loadElf(GuestMemory.fromRanges([[0, 4 << 20]]), image), ElfError, "ReadNoteHeader");
});

Deno.test("with PVH notes in two PT_NOTE segments the last one gives the entry, as in the crate", async () => {
  const image = buildElf({
    entry: 0x10_0000,
    segments: [{ type: PT_NOTE, notes: [xen(0x10_0040)] }, { type: PT_NOTE, notes: [xen(0x10_0080)] }, code],
  });
  assert.deepEqual((await planElf(MEM(), image)).details.pvhBootCap, { kind: "present", address: 0x10_0080 });
});

Deno.test("e_phoff past the end with e_phnum 0 is never read, so it is not refused", async () => {
  const image = patchEhdr(buildElf({ entry: 0x10_0000, segments: [] }), { e_phoff: 0x10_0000n });
  const p = await planElf(MEM(), image);
  assert.equal(p.plan.steps.length, 0);
});

Deno.test("a bss-only PT_LOAD whose p_offset is past the end is never read, so it loads (zero-filled)", async () => {
  const image = patchPhdr(
    buildElf({ entry: 0x10_0000, segments: [code, { type: PT_LOAD, paddr: 0x20_0000, memsz: 0x100 }] }),
    1,
    { p_offset: 0xffff_ffffn },
  );
  const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
  mem.fill(0x20_0000, 0x100, 0xaa);
  await loadElf(mem, image);
  assert.equal(mem.readU8(0x20_00ff), 0);
});

Deno.test("a PT_LOAD reading past the end is ReadKernelImage, the crate's short read, not a Seek code", async () => {
  const image = patchPhdr(buildElf({ entry: 0x10_0000, segments: [code] }), 0, { p_offset: 0x10_0000n });
  await rejectsWith(planElf(MEM(), image), ElfError, "ReadKernelImage");
});
