import assert from "node:assert/strict";
import { isElf, loadElf, planElf } from "../../lib/loader/elf.ts";
import { ElfError, KernelLoaderError, SourceError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { fromBlob, type KernelSource } from "../../lib/source.ts";
import {
  EI_CLASS,
  EI_DATA,
  ELFCLASS32,
  ELFDATA2MSB,
  NT_VERSION,
  PT_NOTE,
  XEN_ELFNOTE_PHYS32_ENTRY,
} from "../../lib/abi/elf.ts";
import {
  buildElf,
  CRATE_PVH_ENTRY,
  crateTestBadAlign,
  crateTestDummyNote,
  crateTestElf,
  crateTestElfnote,
  crateTestElfnote8ByteAlign,
  crateTestInvalidPvhNote,
  patchEhdr,
  patchIdent,
  patchPhdr,
  readPhdr,
} from "../../fixtures/build/elf.ts";
import { rejectsWith, snapshot } from "../_assert.ts";

const MEM_SIZE = 0x100_0000;

function guestMem(size = MEM_SIZE): GuestMemory {
  return GuestMemory.fromRanges([[0, size]]);
}

/** Memory filled with a pattern, so writes and zero-fills show. */
function patternedMem(size = MEM_SIZE): GuestMemory {
  const mem = guestMem(size);
  mem.fill(0, size, 0xaa);
  return mem;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** A small image: code at 0x100000 (8 bytes of file, 0x20 bytes in memory) and an entry inside it. */
function smallKernel(): Uint8Array {
  return buildElf({
    entry: 0x100000,
    segments: [{ paddr: 0x100000, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), memsz: 0x20 }],
  });
}

// ---- The crate's tests, re-expressed ----

Deno.test("loadElf reports entry.linux64 as e_entry plus addend (crate test_load_elf)", async () => {
  const image = crateTestElf();
  const mem = guestMem();
  assert.equal((await loadElf(mem, image, { addend: 0x200000, highmemStart: 0 })).entry.linux64, 0x200400);
  assert.equal((await loadElf(mem, image, { addend: 0x200000 })).entry.linux64, 0x200400);
  assert.equal((await loadElf(mem, image, { highmemStart: 0 })).entry.linux64, 0x400);
});

Deno.test("loadElf rejects an entry point below highmemStart with InvalidEntryAddress", async () => {
  await rejectsWith(loadElf(guestMem(), crateTestElf(), { highmemStart: 0xa00000 }), ElfError, "InvalidEntryAddress");
});

Deno.test("loadElf rejects a bad magic number with InvalidElfMagicNumber", async () => {
  const bad = patchIdent(crateTestElf(), 1, 0x33);
  await rejectsWith(loadElf(guestMem(), bad, { addend: 0 }), ElfError, "InvalidElfMagicNumber");
});

Deno.test("loadElf rejects a big-endian image with BigEndianElfOnLittle", async () => {
  const bad = patchIdent(crateTestElf(), EI_DATA, ELFDATA2MSB);
  await rejectsWith(loadElf(guestMem(), bad, { addend: 0 }), ElfError, "BigEndianElfOnLittle");
});

Deno.test("loadElf rejects a program header table inside the ELF header with InvalidProgramHeaderOffset", async () => {
  const bad = patchEhdr(crateTestElf(), { e_phoff: 0x10n });
  await rejectsWith(loadElf(guestMem(), bad, { addend: 0 }), ElfError, "InvalidProgramHeaderOffset");
});

Deno.test("loadElf finds the Xen PHYS32_ENTRY note and reports PVH present (crate test_load_pvh)", async () => {
  const r = await loadElf(guestMem(), crateTestElfnote());
  assert.deepEqual(r.details.pvhBootCap, { kind: "present", address: CRATE_PVH_ENTRY });
});

Deno.test("loadElf ignores PVH notes when a addend is given", async () => {
  const r = await loadElf(guestMem(), crateTestElfnote(), { addend: 0x200000 });
  assert.deepEqual(r.details.pvhBootCap, { kind: "ignored" });
});

Deno.test("loadElf reports PVH not present for a type-18 note that is not named Xen (crate test_dummy_elfnote)", async () => {
  const r = await loadElf(guestMem(), crateTestDummyNote());
  assert.deepEqual(r.details.pvhBootCap, { kind: "notPresent" });
});

Deno.test("loadElf rejects a Xen PHYS32_ENTRY note with a 2-byte descriptor with InvalidPvhNote", async () => {
  await rejectsWith(loadElf(guestMem(), crateTestInvalidPvhNote()), ElfError, "InvalidPvhNote");
});

Deno.test("loadElf reads notes of a PT_NOTE with the invalid p_align 13 without an Align error", async () => {
  const r = await loadElf(guestMem(0x1000_0000), crateTestBadAlign());
  assert.deepEqual(r.details.pvhBootCap, { kind: "notPresent" });
});

Deno.test("loadElf finds the PVH entry in a PT_NOTE whose p_align is 8 (notes padded to 4)", async () => {
  const r = await loadElf(guestMem(), crateTestElfnote8ByteAlign());
  assert.deepEqual(r.details.pvhBootCap, { kind: "present", address: CRATE_PVH_ENTRY });
});

Deno.test("loadElf rejects a addend that makes the entry overflow with Overflow (crate test_overflow_loadaddr)", async () => {
  await rejectsWith(
    loadElf(guestMem(), crateTestElf(), { addend: Number.MAX_SAFE_INTEGER }),
    ElfError,
    "Overflow",
  );
});

// ---- Loading ----

Deno.test("loadElf copies each PT_LOAD's file bytes to p_paddr + addend", async () => {
  const image = crateTestElf();
  const mem = patternedMem();
  await loadElf(mem, image, { addend: 0x200000 });
  const text = readPhdr(image, 0), data = readPhdr(image, 1);
  const textBytes = image.subarray(Number(text.p_offset), Number(text.p_offset + text.p_filesz));
  const dataBytes = image.subarray(Number(data.p_offset), Number(data.p_offset + data.p_filesz));
  assert.deepEqual(mem.read(0x200000, textBytes.length), textBytes);
  assert.deepEqual(mem.read(0x200420, dataBytes.length), dataBytes);
  assert.equal(new TextDecoder().decode(mem.read(0x200420, 14)), "Hello, World!\n");
});

Deno.test("loadElf zero-fills the bss between p_filesz and p_memsz", async () => {
  const mem = patternedMem();
  await loadElf(mem, smallKernel());
  assert.deepEqual(mem.read(0x100000, 8), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  assert.deepEqual(mem.read(0x100008, 0x18), new Uint8Array(0x18));
  assert.equal(mem.readU8(0x100020), 0xaa, "the byte after p_memsz is untouched");
});

Deno.test("loadElf zero-fills a PT_LOAD that has no file bytes and counts it in kernelEnd", async () => {
  const image = buildElf({
    entry: 0x100000,
    segments: [{ paddr: 0x100000, data: new Uint8Array([0xf4]) }, { paddr: 0x200000, memsz: 0x1000 }],
  });
  const mem = patternedMem();
  const r = await loadElf(mem, image);
  assert.deepEqual(mem.read(0x200000, 0x1000), new Uint8Array(0x1000));
  assert.equal(r.kernelEnd, 0x201000);
});

Deno.test("loadElf reports kernelEnd as the highest p_paddr + p_memsz", async () => {
  const r = await loadElf(guestMem(), crateTestElf(), { addend: 0x200000 });
  assert.equal(r.kernelEnd, 0x200420 + 0xe);
});

Deno.test("loadElf reports the ELF format, x86_64 and the same loadEnd and kernelEnd", async () => {
  const r = await loadElf(guestMem(), crateTestElf());
  assert.deepEqual([r.format, r.arch, r.kernelEnd], ["elf", "x86_64", r.loadEnd]);
});

Deno.test("loadElf reports PVH not present for an image without PT_NOTE", async () => {
  const r = await loadElf(guestMem(), crateTestElf());
  assert.deepEqual(r.details.pvhBootCap, { kind: "notPresent" });
});

Deno.test("loadElf loads the same bytes from a Blob source as from bytes", async () => {
  const image = crateTestElfnote8ByteAlign();
  const a = patternedMem(), b = patternedMem();
  const ra = await loadElf(a, image);
  const rb = await loadElf(b, await fromBlob(new Blob([image as Uint8Array<ArrayBuffer>])));
  assert.deepEqual(ra, rb);
  assert.deepEqual(snapshot(a), snapshot(b));
});

Deno.test("planElf returns the copies and zero-fills without writing guest memory", async () => {
  const mem = patternedMem();
  const before = snapshot(mem);
  const p = await planElf(mem, smallKernel());
  assert.deepEqual(p.plan.steps.map((s) => [s.kind, s.guestAddr]), [["copy", 0x100000], ["fill", 0x100008]]);
  assert.equal(p.entry.linux64, 0x100000);
  assert.equal(p.details.phdrs.length, 1);
  assert.deepEqual(snapshot(mem), before);
});

Deno.test("loadElf finds the PVH entry in notes laid out with 8-byte padding when sizes keep 4-byte offsets", async () => {
  const image = buildElf({
    entry: 0x100000,
    segments: [
      { paddr: 0x100000, data: new Uint8Array([0xf4]) },
      {
        paddr: 0x100100,
        align: 8,
        noteAlign: 8,
        notes: [
          { name: "GNU", type: 5, desc: new Uint8Array(16) }, // NT_GNU_PROPERTY_TYPE_0, 8-byte aligned
          { name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: u32(0x100000) },
        ],
      },
    ],
  });
  const r = await loadElf(guestMem(), image);
  assert.deepEqual(r.details.pvhBootCap, { kind: "present", address: 0x100000 });
});

/** A p_align 8 PT_NOTE laid out with 8-byte padding, as binutils does: "dummy" (namesz 6) pads differently. */
function eightByteNotes(): Uint8Array {
  return buildElf({
    entry: 0x100000,
    segments: [
      { paddr: 0x100000, data: new Uint8Array([0xf4]) },
      {
        paddr: 0,
        align: 8,
        noteAlign: 8,
        notes: [
          { name: "dummy", type: NT_VERSION, desc: u32(0) },
          { name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: u32(0x1000000) },
        ],
      },
    ],
  });
}

Deno.test("loadElf finds the PVH entry in a p_align 8 PT_NOTE laid out with 8-byte padding", async () => {
  const r = await loadElf(guestMem(), eightByteNotes());
  assert.deepEqual(r.details.pvhBootCap, { kind: "present", address: 0x1000000 });
});

Deno.test("loadElf reads a p_align 4 PT_NOTE only with 4-byte padding", async () => {
  const r = await loadElf(guestMem(), patchPhdr(eightByteNotes(), 1, { p_align: 4n }));
  assert.deepEqual(r.details.pvhBootCap, { kind: "notPresent" });
});

Deno.test("loadElf never fails a load on the 8-byte retry walk of a p_align 8 PT_NOTE", async () => {
  const r = await loadElf(guestMem(0x1000_0000), patchPhdr(crateTestBadAlign(), 1, { p_align: 8n }));
  assert.deepEqual(r.details.pvhBootCap, { kind: "notPresent" });
});

Deno.test("loadElf keeps the first PVH entry found when a later PT_NOTE has none", async () => {
  const image = buildElf({
    entry: 0x100000,
    segments: [
      { paddr: 0x100000, data: new Uint8Array([0xf4]) },
      { paddr: 0, notes: [{ name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: u32(0x123456) }] },
      { paddr: 0, notes: [{ name: "Linux", type: NT_VERSION, desc: u32(1) }] },
    ],
  });
  const r = await loadElf(guestMem(), image);
  assert.deepEqual(r.details.pvhBootCap, { kind: "present", address: 0x123456 });
});

Deno.test("loadElf does not look at hostile notes when a addend is given", async () => {
  const r = await loadElf(guestMem(), crateTestInvalidPvhNote(), { addend: 0 });
  assert.deepEqual(r.details.pvhBootCap, { kind: "ignored" });
});

Deno.test("loadElf ends a walk over a huge PT_NOTE of empty notes at the end of the file", async () => {
  const image = buildElf({
    entry: 0x100000,
    segments: [
      { paddr: 0x100000, data: new Uint8Array([0xf4]) },
      { type: PT_NOTE, paddr: 0, data: new Uint8Array(0x10000) },
    ],
  });
  const bad = patchPhdr(image, 1, { p_filesz: 0x7fff_ffff_ffff_ffffn });
  await rejectsWith(loadElf(guestMem(), bad), ElfError, "ReadNoteHeader");
});

Deno.test("isElf recognises the ELF magic and nothing else", () => {
  assert.equal(isElf(crateTestElf()), true);
  assert.equal(isElf(new Uint8Array([0x7f, 0x45, 0x4c])), false);
  assert.equal(isElf(new Uint8Array(64)), false);
});

// ---- Every error code ----

Deno.test("loadElf rejects a 32-bit ELF with InvalidElfClass", async () => {
  await rejectsWith(loadElf(guestMem(), patchIdent(smallKernel(), EI_CLASS, ELFCLASS32)), ElfError, "InvalidElfClass");
});

Deno.test("loadElf rejects another architecture's ELF with InvalidMachine", async () => {
  await rejectsWith(loadElf(guestMem(), patchEhdr(smallKernel(), { e_machine: 183 })), ElfError, "InvalidMachine");
});

Deno.test("loadElf accepts any e_machine when machine is null", async () => {
  const r = await loadElf(guestMem(), patchEhdr(smallKernel(), { e_machine: 183 }), { machine: null });
  assert.equal(r.entry.linux64, 0x100000);
});

Deno.test("loadElf rejects an e_phentsize other than 56 with InvalidProgramHeaderSize", async () => {
  await rejectsWith(
    loadElf(guestMem(), patchEhdr(smallKernel(), { e_phentsize: 32 })),
    ElfError,
    "InvalidProgramHeaderSize",
  );
});

Deno.test("loadElf rejects an image shorter than the ELF header with ReadElfHeader", async () => {
  await rejectsWith(loadElf(guestMem(), smallKernel().slice(0, 63)), ElfError, "ReadElfHeader");
});

Deno.test("loadElf rejects a source whose size is not a byte count with SeekElfStart", async () => {
  const src: KernelSource = { size: -1, readInto: () => Promise.resolve() };
  await rejectsWith(loadElf(guestMem(), src), ElfError, "SeekElfStart");
});

Deno.test("loadElf rejects e_phoff past the end of the file with ReadProgramHeader, as the crate's short read", async () => {
  await rejectsWith(
    loadElf(guestMem(), patchEhdr(smallKernel(), { e_phoff: 0x10000n })),
    ElfError,
    "ReadProgramHeader",
  );
});

Deno.test("loadElf rejects a program header table running past the file with ReadProgramHeader", async () => {
  await rejectsWith(loadElf(guestMem(), patchEhdr(smallKernel(), { e_phnum: 100 })), ElfError, "ReadProgramHeader");
});

Deno.test("loadElf rejects a PT_LOAD whose p_offset is past the file with ReadKernelImage, as the crate's short read", async () => {
  await rejectsWith(
    loadElf(guestMem(), patchPhdr(smallKernel(), 0, { p_offset: 0x10000n })),
    ElfError,
    "ReadKernelImage",
  );
});

Deno.test("loadElf rejects a PT_LOAD whose p_offset + p_filesz passes the file with ReadKernelImage", async () => {
  await rejectsWith(
    loadElf(guestMem(), patchPhdr(smallKernel(), 0, { p_filesz: 0x1000n, p_memsz: 0x1000n })),
    ElfError,
    "ReadKernelImage",
  );
});

Deno.test("loadElf reports a failing source read of a segment as LoadInterrupted (the failure contract)", async () => {
  const image = smallKernel();
  const src: KernelSource = {
    size: image.length,
    readInto(offset: number, dest: Uint8Array): Promise<void> {
      if (offset >= 0x78) return Promise.reject(new Error("disk on fire"));
      dest.set(image.subarray(offset, offset + dest.length));
      return Promise.resolve();
    },
  };
  await rejectsWith(loadElf(guestMem(), src), SourceError, "LoadInterrupted");
});

Deno.test("loadElf rejects a p_paddr beyond 2^53 with InvalidProgramHeaderAddress", async () => {
  await rejectsWith(
    loadElf(guestMem(), patchPhdr(smallKernel(), 0, { p_paddr: 1n << 60n })),
    ElfError,
    "InvalidProgramHeaderAddress",
  );
});

Deno.test("loadElf rejects a segment below highmemStart with InvalidProgramHeaderAddress", async () => {
  const image = patchPhdr(smallKernel(), 0, { p_paddr: 0x1000n });
  await rejectsWith(loadElf(guestMem(), image, { highmemStart: 0x100000 }), ElfError, "InvalidProgramHeaderAddress");
});

Deno.test("loadElf rejects an e_entry beyond 2^53 with Overflow", async () => {
  await rejectsWith(loadElf(guestMem(), patchEhdr(smallKernel(), { e_entry: 1n << 60n })), ElfError, "Overflow");
});

Deno.test("loadElf rejects a note whose padded name size overflows 32 bits with Overflow", async () => {
  const image = buildElf({
    entry: 0x100000,
    segments: [
      { paddr: 0x100000, data: new Uint8Array([0xf4]) },
      { paddr: 0, notes: [{ name: "bad", type: 1, desc: new Uint8Array(4), namesz: 0xffff_ffff }] },
    ],
  });
  await rejectsWith(loadElf(guestMem(), image), ElfError, "Overflow");
});

Deno.test("loadElf rejects a PT_NOTE whose p_offset is past the file with ReadNoteHeader, as the crate's short read", async () => {
  await rejectsWith(
    loadElf(guestMem(), patchPhdr(crateTestElfnote(), 1, { p_offset: 0x10000n })),
    ElfError,
    "ReadNoteHeader",
  );
});

Deno.test("loadElf rejects notes that run past the end of the file with ReadNoteHeader", async () => {
  const image = crateTestDummyNote();
  const note = readPhdr(image, 1);
  const cut = image.slice(0, Number(note.p_offset) + 8);
  await rejectsWith(loadElf(guestMem(), cut), ElfError, "ReadNoteHeader");
});

Deno.test("loadElf rejects a segment past the end of guest memory with MemoryOverflow", async () => {
  await rejectsWith(loadElf(guestMem(0x100010), smallKernel()), KernelLoaderError, "MemoryOverflow");
});

Deno.test("loadElf rejects a p_memsz that ends beyond 2^53 with MemoryOverflow", async () => {
  const image = patchPhdr(smallKernel(), 0, { p_memsz: 1n << 60n });
  await rejectsWith(loadElf(guestMem(), image), KernelLoaderError, "MemoryOverflow");
});

Deno.test("loadElf rejects a negative addend with InvalidKernelStartAddress", async () => {
  await rejectsWith(
    loadElf(guestMem(), smallKernel(), { addend: -1 }),
    KernelLoaderError,
    "InvalidKernelStartAddress",
  );
});

Deno.test("loadElf leaves guest memory byte-identical when a later segment does not fit", async () => {
  const image = buildElf({
    entry: 0x1000,
    segments: [{ paddr: 0x1000, data: new Uint8Array(64).fill(7), memsz: 128 }, {
      paddr: 0xff_fff0,
      data: new Uint8Array(64).fill(9),
    }],
  });
  const mem = patternedMem();
  const before = snapshot(mem);
  await rejectsWith(loadElf(mem, image), KernelLoaderError, "MemoryOverflow");
  assert.deepEqual(snapshot(mem), before);
});

Deno.test("loadElf leaves guest memory byte-identical when a note is invalid after a loadable segment", async () => {
  const image = buildElf({
    entry: 0x1000,
    segments: [
      { paddr: 0x1000, data: new Uint8Array(64).fill(7) },
      { paddr: 0, notes: [{ name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: new Uint8Array(2) }] },
    ],
  });
  const mem = patternedMem();
  const before = snapshot(mem);
  await rejectsWith(loadElf(mem, image), ElfError, "InvalidPvhNote");
  assert.deepEqual(snapshot(mem), before);
});

// ---- The re-created fixtures carry the facts of the crate's files (readelf -h -l of src/loader/elf/*.bin) ----

function facts(image: Uint8Array): (string | number)[][] {
  const phnum = new DataView(image.buffer).getUint16(56, true);
  const entry = new DataView(image.buffer).getBigUint64(24, true);
  const rows: (string | number)[][] = [["entry", Number(entry)]];
  for (let i = 0; i < phnum; i++) {
    const p = readPhdr(image, i);
    rows.push([
      p.p_type,
      Number(p.p_vaddr),
      Number(p.p_paddr),
      Number(p.p_filesz),
      Number(p.p_memsz),
      Number(p.p_align),
    ]);
  }
  return rows;
}

Deno.test("the re-created crate ELF fixtures have the crate files' entry points and program headers", () => {
  const LOAD = 1, NOTE = 4;
  assert.deepEqual(facts(crateTestElf()), [["entry", 0x400], [LOAD, 0x400, 0, 0x1d, 0x1d, 0x10], [
    LOAD,
    0x420,
    0x420,
    0xe,
    0xe,
    0x10,
  ]]);
  assert.deepEqual(facts(crateTestElfnote()), [["entry", 0x400108], [LOAD, 0x400000, 0x400000, 0, 0, 0x200000], [
    NOTE,
    0x4000b0,
    0x4000b0,
    0x58,
    0x58,
    4,
  ]]);
  assert.deepEqual(facts(crateTestElfnote8ByteAlign())[2], [NOTE, 0x4000b0, 0x4000b0, 0x58, 0x58, 8]);
  assert.deepEqual(facts(crateTestDummyNote()), [["entry", 0x400104], [LOAD, 0x400000, 0, 0, 0, 0x200000], [
    NOTE,
    0x4000e0,
    0x4000e0,
    0x14,
    0x14,
    4,
  ]]);
  assert.deepEqual(facts(crateTestInvalidPvhNote()), facts(crateTestDummyNote()));
  assert.deepEqual(facts(crateTestBadAlign()), [["entry", 0x400], [LOAD, 0x400, 0x400, 0x1d, 0x1d, 0x100], [
    NOTE,
    0x8888048020,
    0x8888048020,
    0x10,
    0x10,
    0xd,
  ]]);
});
