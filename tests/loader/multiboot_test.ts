import assert from "node:assert/strict";
import {
  decodeMultiboot2Header,
  decodeMultibootHeader,
  findMultiboot2Header,
  findMultibootHeader,
  loadMultiboot,
  loadMultiboot2,
  planMultiboot,
  planMultiboot2,
} from "../../lib/loader/multiboot.ts";
import { MultibootError, type MultibootErrorCode } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { fromBlob } from "../../lib/source.ts";
import { ELF32_EHDR } from "../../lib/abi/elf.ts";
import { MULTIBOOT_HEADER, MULTIBOOT_SEARCH } from "../../lib/abi/multiboot.ts";
import {
  buildMultiboot2,
  buildMultibootAout,
  buildMultibootElf,
  ELF_BODY_OFFSET,
  FIXTURE_BSS_SIZE,
  FIXTURE_LOAD_ADDR as LOAD,
} from "../../fixtures/build/multiboot.ts";

const CODE = new Uint8Array(64).fill(0x90); // nops; the loaders never run it
const AOUT_SIZE = 32 + CODE.length; // header with address fields, then the code

function memory(size = 8 << 20): GuestMemory {
  return GuestMemory.fromRanges([[0, size]]);
}

/** Expects exactly one MultibootError with `code` (and, when given, `field`). */
async function expectCode(
  fn: () => unknown,
  code: MultibootErrorCode,
  field?: string,
): Promise<MultibootError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof MultibootError, `expected a MultibootError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

const aout = (o: Partial<Parameters<typeof buildMultibootAout>[0]> = {}) => buildMultibootAout({ code: CODE, ...o });
const elf = (o: Partial<Parameters<typeof buildMultibootElf>[0]> = {}) => buildMultibootElf({ code: CODE, ...o });
const mb2 = (o: Partial<Parameters<typeof buildMultiboot2>[0]> = {}) => buildMultiboot2({ code: CODE, ...o });

// ---------------------------------------------------------------------------------------------------
// Multiboot 1: finding and decoding the header
// ---------------------------------------------------------------------------------------------------

Deno.test("findMultibootHeader finds the header at a 4-byte-aligned offset", () => {
  const img = aout({ headerOffset: 0x40 });
  assert.equal(findMultibootHeader(img)?.offset, 0x40);
  assert.equal(findMultibootHeader(img)?.header.entry_addr, LOAD + 0x40 + 32);
});

Deno.test("findMultibootHeader ignores a magic at an unaligned offset", () => {
  const img = new Uint8Array(64);
  const dv = new DataView(img.buffer);
  dv.setUint32(2, 0x1badb002, true);
  dv.setUint32(6, 0, true);
  dv.setUint32(10, -0x1badb002 >>> 0, true);
  assert.equal(findMultibootHeader(img), undefined);
});

Deno.test("findMultibootHeader skips a magic with a bad checksum and finds a later valid header", () => {
  const img = aout({ headerOffset: 0x40 });
  new DataView(img.buffer).setUint32(0x10, 0x1badb002, true); // a stray magic, checksum 0
  assert.equal(findMultibootHeader(img)?.offset, 0x40);
});

Deno.test("decodeMultibootHeader reports an image without a magic as HeaderNotFound", async () => {
  await expectCode(() => decodeMultibootHeader(new Uint8Array(0x100)), "HeaderNotFound", "magic");
});

Deno.test("decodeMultibootHeader does not look past the first 8192 bytes", async () => {
  const img = aout({ headerOffset: MULTIBOOT_SEARCH });
  await expectCode(() => decodeMultibootHeader(img), "HeaderNotFound");
});

Deno.test("decodeMultibootHeader rejects address fields that pass the 8192-byte window", async () => {
  const img = aout({ headerOffset: MULTIBOOT_SEARCH - 16 }); // 32-byte header, 16 bytes inside
  const e = await expectCode(() => decodeMultibootHeader(img), "HeaderTruncated", "flags");
  assert.equal(e.limit, MULTIBOOT_SEARCH);
});

Deno.test("decodeMultibootHeader rejects a wrong checksum and names the expected one", async () => {
  const e = await expectCode(
    () => decodeMultibootHeader(aout({ header: { checksum: 1 } })),
    "InvalidChecksum",
    "checksum",
  );
  assert.equal(e.value, 1);
  assert.equal(e.limit, (-(0x1badb002 + 0x10003)) >>> 0);
});

Deno.test("decodeMultibootHeader refuses the video mode requirement bit", async () => {
  const e = await expectCode(() => decodeMultibootHeader(aout({ flags: 0x4 })), "UnsupportedFlags", "flags");
  assert.match(e.message, /require bits 0x4/);
});

Deno.test("decodeMultibootHeader refuses an unknown requirement bit in the low 16", async () => {
  await expectCode(() => decodeMultibootHeader(aout({ flags: 0x8000 })), "UnsupportedFlags");
});

Deno.test("decodeMultibootHeader accepts unknown optional bits in the high 16", () => {
  assert.equal(decodeMultibootHeader(aout({ flags: 0x3 | 0x8000_0000 })).header.flags, 0x8001_0003);
});

// ---------------------------------------------------------------------------------------------------
// Multiboot 1: the a.out kludge
// ---------------------------------------------------------------------------------------------------

Deno.test("planMultiboot plans the a.out-kludge file copy and its bss without writing", async () => {
  const mem = memory();
  const r = await planMultiboot(mem, aout());
  assert.equal(r.details.placement, "aout-kludge");
  assert.equal(r.entry.multiboot, LOAD + 32);
  assert.deepEqual(r.plan.steps.map((s) => [s.kind, s.guestAddr, s.kind === "bytes" ? 0 : s.length]), [
    ["copy", LOAD, AOUT_SIZE],
    ["fill", LOAD + AOUT_SIZE, FIXTURE_BSS_SIZE],
  ]);
  assert.equal(mem.readU32(LOAD), 0);
});

Deno.test("loadMultiboot copies the a.out-kludge image and zero-fills its bss", async () => {
  const mem = memory();
  mem.fill(LOAD, 0x2000, 0xff);
  const img = aout();
  const r = await loadMultiboot(mem, img);
  assert.deepEqual(mem.read(LOAD, img.length), img);
  assert.ok(mem.read(LOAD + img.length, FIXTURE_BSS_SIZE).every((b) => b === 0));
  assert.equal(mem.readU8(LOAD + img.length + FIXTURE_BSS_SIZE), 0xff);
  assert.deepEqual([r.loadStart, r.loadEnd, r.details.pageAlignModules], [
    LOAD,
    LOAD + img.length + FIXTURE_BSS_SIZE,
    true,
  ]);
});

Deno.test("loadMultiboot reads a file-like source as well as bytes", async () => {
  const mem = memory();
  const img = aout();
  await loadMultiboot(mem, await fromBlob(new Blob([img.slice().buffer])));
  assert.deepEqual(mem.read(LOAD, img.length), img);
});

Deno.test("loadMultiboot starts the load at the header's offset minus (header_addr - load_addr)", async () => {
  // Header at file offset 0x40, but header_addr - load_addr = 0x20: the file's first 0x20 bytes are skipped.
  const mem = memory();
  const img = aout({
    headerOffset: 0x40,
    header: { header_addr: LOAD + 0x20, load_end_addr: 0, entry_addr: LOAD + 0x40 },
  });
  const r = await loadMultiboot(mem, img);
  assert.deepEqual(r.plan.steps[0], {
    kind: "copy",
    guestAddr: LOAD,
    length: img.length - 0x20,
    sourceOffset: 0x20,
    label: "multiboot text+data",
  });
  assert.equal(mem.readU32(LOAD + 0x20), 0x1badb002);
});

Deno.test("loadMultiboot loads the whole file when load_end_addr is 0 and skips the bss when bss_end_addr is 0", async () => {
  const r = await planMultiboot(memory(), aout({ header: { load_end_addr: 0, bss_end_addr: 0 } }));
  assert.deepEqual(r.plan.steps.map((s) => s.kind), ["copy"]);
  assert.equal(r.loadEnd, LOAD + AOUT_SIZE);
});

Deno.test("planMultiboot rejects header_addr below load_addr", async () => {
  await expectCode(
    () => planMultiboot(memory(), aout({ header: { header_addr: LOAD - 4 } })),
    "InvalidHeaderAddr",
    "header_addr",
  );
});

Deno.test("planMultiboot rejects a load that would start before the file", async () => {
  const img = aout({ header: { header_addr: LOAD + 0x100 } }); // header at offset 0 claims 0x100 bytes before it
  await expectCode(() => planMultiboot(memory(), img), "InvalidLoadOffset", "load_addr");
});

Deno.test("planMultiboot rejects load_end_addr below load_addr", async () => {
  await expectCode(
    () => planMultiboot(memory(), aout({ header: { load_end_addr: LOAD - 1 } })),
    "InvalidLoadEndAddr",
    "load_end_addr",
  );
});

Deno.test("planMultiboot rejects load_end_addr past the end of the file", async () => {
  const e = await expectCode(
    () => planMultiboot(memory(), aout({ header: { load_end_addr: LOAD + AOUT_SIZE + 1 } })),
    "LoadPastImageEnd",
    "load_end_addr",
  );
  assert.equal(e.limit, LOAD + AOUT_SIZE);
});

Deno.test("planMultiboot rejects bss_end_addr below the end of the loaded bytes", async () => {
  await expectCode(
    () => planMultiboot(memory(), aout({ header: { bss_end_addr: LOAD + 4 } })),
    "InvalidBssEndAddr",
    "bss_end_addr",
  );
});

Deno.test("planMultiboot rejects entry_addr outside the loaded bytes", async () => {
  await expectCode(
    () => planMultiboot(memory(), aout({ header: { entry_addr: LOAD + AOUT_SIZE } })),
    "InvalidEntryAddr",
    "entry_addr",
  );
});

Deno.test("planMultiboot rejects a load that passes 4 GiB", async () => {
  const img = aout({ loadAddr: 0xffff_ffc0, header: { load_end_addr: 0, bss_end_addr: 0 } }); // 0x60 bytes, 0x40 left
  await expectCode(() => planMultiboot(memory(), img), "AddressOverflow", "load_end_addr");
});

Deno.test("planMultiboot rejects a load outside guest memory", async () => {
  const e = await expectCode(() => planMultiboot(memory(LOAD), aout()), "LoadOutsideMemory", "load_addr");
  assert.equal(e.limit, LOAD);
});

Deno.test("planMultiboot rejects a bss outside guest memory", async () => {
  const mem = GuestMemory.fromRanges([[0, LOAD + 0x1000]]);
  await expectCode(() => planMultiboot(mem, aout({ bssSize: 0x2000 })), "LoadOutsideMemory", "bss_end_addr");
});

Deno.test("loadMultiboot writes nothing when a check fails", async () => {
  const mem = memory();
  await assert.rejects(() => loadMultiboot(mem, aout({ header: { entry_addr: 0 } })));
  assert.ok(mem.read(LOAD, 0x2000).every((b) => b === 0));
});

// ---------------------------------------------------------------------------------------------------
// Multiboot 1: ELF32
// ---------------------------------------------------------------------------------------------------

Deno.test("planMultiboot loads an image without address fields from its ELF32 program header", async () => {
  const img = elf();
  const r = await planMultiboot(memory(), img);
  assert.equal(r.details.placement, "elf32");
  assert.equal(r.details.headerOffset, ELF_BODY_OFFSET);
  assert.equal(r.entry.multiboot, LOAD + ELF_BODY_OFFSET + 16);
  assert.deepEqual(r.plan.steps.map((s) => [s.kind, s.guestAddr]), [["copy", LOAD], ["fill", LOAD + img.length]]);
});

Deno.test("loadMultiboot places ELF32 segments at p_paddr and translates e_entry from p_vaddr", async () => {
  const mem = memory();
  const img = elf({ vaddr: 0xc010_0000 });
  const r = await loadMultiboot(mem, img);
  assert.equal(r.entry.multiboot, LOAD + ELF_BODY_OFFSET + 16);
  assert.deepEqual(mem.read(LOAD, img.length), img);
});

Deno.test("planMultiboot prefers the address fields over the ELF headers unless preferElf is set", async () => {
  // An ELF image whose Multiboot header also carries address fields (flag bit 16) loading it 1 MiB higher.
  const high = LOAD + 0x10_0000;
  const img = elf({
    flags: 0x10003,
    header: {
      header_addr: high + ELF_BODY_OFFSET,
      load_addr: high,
      load_end_addr: 0,
      bss_end_addr: 0,
      entry_addr: high + ELF_BODY_OFFSET + 32,
    },
  });
  const kludge = await planMultiboot(memory(), img);
  assert.deepEqual([kludge.details.placement, kludge.loadStart], ["aout-kludge", high]);
  const viaElf = await planMultiboot(memory(), img, { preferElf: true });
  assert.deepEqual([viaElf.details.placement, viaElf.loadStart], ["elf32", LOAD]);
});

Deno.test("planMultiboot reports an image with neither address fields nor ELF magic as NotElf", async () => {
  await expectCode(() => planMultiboot(memory(), aout({ header: { flags: 0x3 } })), "NotElf", "e_ident");
});

Deno.test("planMultiboot rejects an ELF that is not ELFCLASS32", async () => {
  const img = elf();
  img[4] = 2;
  await expectCode(() => planMultiboot(memory(), img), "InvalidElfClass", "e_ident[EI_CLASS]");
});

Deno.test("planMultiboot rejects a big-endian ELF", async () => {
  const img = elf();
  img[5] = 2;
  await expectCode(() => planMultiboot(memory(), img), "InvalidElfData", "e_ident[EI_DATA]");
});

Deno.test("planMultiboot rejects an ELF for another machine", async () => {
  await expectCode(() => planMultiboot(memory(), elf({ ehdr: { e_machine: 62 } })), "InvalidElfMachine", "e_machine");
});

Deno.test("planMultiboot rejects an ELF that is not an executable", async () => {
  await expectCode(() => planMultiboot(memory(), elf({ ehdr: { e_type: 3 } })), "InvalidElfType", "e_type");
});

Deno.test("planMultiboot rejects a wrong e_phentsize", async () => {
  await expectCode(
    () => planMultiboot(memory(), elf({ ehdr: { e_phentsize: 56 } })),
    "InvalidProgramHeaderSize",
    "e_phentsize",
  );
});

Deno.test("planMultiboot rejects program headers past the end of the file", async () => {
  await expectCode(() => planMultiboot(memory(), elf({ ehdr: { e_phnum: 100 } })), "ProgramHeaderPastEnd", "e_phoff");
});

Deno.test("planMultiboot rejects a segment whose file bytes pass the end of the file", async () => {
  await expectCode(
    () => planMultiboot(memory(), elf({ phdr: { p_offset: 0x10 } })),
    "SegmentPastEnd",
    "PT_LOAD[0].p_offset",
  );
});

Deno.test("planMultiboot rejects a segment with p_filesz above p_memsz", async () => {
  await expectCode(
    () => planMultiboot(memory(), elf({ phdr: { p_memsz: 4 } })),
    "SegmentFileszAboveMemsz",
    "PT_LOAD[0].p_filesz",
  );
});

Deno.test("planMultiboot rejects a segment outside guest memory", async () => {
  await expectCode(() => planMultiboot(memory(LOAD), elf()), "LoadOutsideMemory", "PT_LOAD[0].p_paddr");
});

Deno.test("planMultiboot rejects a segment that passes 4 GiB", async () => {
  await expectCode(
    () => planMultiboot(memory(), elf({ loadAddr: 0xffff_ff00 })),
    "AddressOverflow",
    "PT_LOAD[0].p_paddr",
  );
});

Deno.test("planMultiboot rejects two overlapping PT_LOAD segments", async () => {
  const img = elf({
    secondPhdr: { p_type: 1, p_offset: 0, p_paddr: LOAD + 0x10, p_vaddr: LOAD + 0x10, p_filesz: 4, p_memsz: 4 },
  });
  await expectCode(() => planMultiboot(memory(), img), "SegmentOverlap");
});

Deno.test("planMultiboot rejects an ELF without a loadable segment", async () => {
  await expectCode(() => planMultiboot(memory(), elf({ phdr: { p_type: 0 } })), "NoLoadSegments", "e_phnum");
});

Deno.test("planMultiboot rejects an ELF entry point outside every segment", async () => {
  await expectCode(() => planMultiboot(memory(), elf({ ehdr: { e_entry: 0x1000 } })), "InvalidEntryAddr", "e_entry");
});

Deno.test("planMultiboot rejects a file too small for an ELF header", async () => {
  const img = aout({ header: { flags: 0x3 } }).subarray(0, ELF32_EHDR.size - 1);
  await expectCode(() => planMultiboot(memory(), img), "NotElf");
});

// ---------------------------------------------------------------------------------------------------
// Multiboot2
// ---------------------------------------------------------------------------------------------------

Deno.test("decodeMultiboot2Header decodes the information request, address, entry and module alignment tags", () => {
  const h = decodeMultiboot2Header(mb2());
  assert.deepEqual(h.infoRequests, [{ types: [1, 2, 3, 4, 6], optional: false }]);
  assert.equal(h.address?.load_addr, LOAD);
  assert.equal(h.moduleAlign, true);
  assert.equal(typeof h.entryAddr, "number");
});

Deno.test("findMultiboot2Header ignores a magic at an offset that is not 8-byte aligned", () => {
  const img = new Uint8Array(mb2().length + 4);
  img.set(mb2(), 4);
  assert.equal(findMultiboot2Header(img), undefined);
});

Deno.test("decodeMultiboot2Header reports an image without a magic as HeaderNotFound", async () => {
  await expectCode(() => decodeMultiboot2Header(new Uint8Array(64)), "HeaderNotFound", "magic");
});

Deno.test("decodeMultiboot2Header rejects a header_length that passes the 32768-byte window", async () => {
  await expectCode(
    () => decodeMultiboot2Header(mb2({ header: { header_length: 40000 } })),
    "HeaderTruncated",
    "header_length",
  );
});

Deno.test("decodeMultiboot2Header rejects a fixed part cut off by the end of the file", async () => {
  await expectCode(() => decodeMultiboot2Header(mb2().subarray(0, 12)), "HeaderTruncated", "checksum");
});

Deno.test("decodeMultiboot2Header rejects a wrong checksum", async () => {
  await expectCode(() => decodeMultiboot2Header(mb2({ header: { checksum: 0 } })), "InvalidChecksum", "checksum");
});

Deno.test("decodeMultiboot2Header rejects an architecture other than i386", async () => {
  await expectCode(
    () => decodeMultiboot2Header(mb2({ header: { architecture: 4 } })),
    "InvalidArchitecture",
    "architecture",
  );
});

Deno.test("decodeMultiboot2Header rejects a header_length without room for an end tag", async () => {
  await expectCode(
    () => decodeMultiboot2Header(mb2({ header: { header_length: 16 } })),
    "InvalidHeaderLength",
    "header_length",
  );
});

Deno.test("decodeMultiboot2Header rejects a tag shorter than its 8-byte head", async () => {
  await expectCode(
    () => decodeMultiboot2Header(mb2({ extraTags: [{ type: 6, flags: 0, size: 4 }] })),
    "TagTruncated",
    "size",
  );
});

Deno.test("decodeMultiboot2Header rejects a fixed-size tag of another size", async () => {
  const img = mb2({ moduleAlign: false, extraTags: [{ type: 6, flags: 0, body: new Uint8Array(8) }] });
  const e = await expectCode(() => decodeMultiboot2Header(img), "InvalidTagSize", "size");
  assert.deepEqual([e.value, e.limit], [16, 8]);
});

Deno.test("decodeMultiboot2Header refuses a required tag it does not support", async () => {
  const img = mb2({ extraTags: [{ type: 5, flags: 0, body: new Uint8Array(12) }] }); // framebuffer
  await expectCode(() => decodeMultiboot2Header(img), "UnsupportedTag", "type");
});

Deno.test("decodeMultiboot2Header ignores an optional tag it does not support", () => {
  const img = mb2({ extraTags: [{ type: 5, flags: 1, body: new Uint8Array(12) }] });
  assert.deepEqual(decodeMultiboot2Header(img).ignoredTags, [5]);
});

Deno.test("decodeMultiboot2Header refuses a required request for an undefined information type", async () => {
  const e = await expectCode(
    () => decodeMultiboot2Header(mb2({ infoRequests: [1, 99] })),
    "UnsupportedInfoRequest",
    "mbi_tag_types",
  );
  assert.equal(e.value, 99);
});

Deno.test("decodeMultiboot2Header accepts a request for a defined type it cannot supply", () => {
  assert.deepEqual(decodeMultiboot2Header(mb2({ infoRequests: [8] })).infoRequests[0].types, [8]);
});

Deno.test("decodeMultiboot2Header rejects tags without an end tag", async () => {
  await expectCode(() => decodeMultiboot2Header(mb2({ omitEndTag: true })), "MissingEndTag", "header_length");
});

Deno.test("decodeMultiboot2Header rejects an address tag without an entry address tag", async () => {
  await expectCode(() => decodeMultiboot2Header(mb2({ entryTag: false })), "MissingEntryAddress", "entry_addr");
});

Deno.test("loadMultiboot2 loads an address-tag image and zero-fills its bss", async () => {
  const mem = memory();
  mem.fill(LOAD, 0x4000, 0xff);
  const img = mb2();
  const r = await loadMultiboot2(mem, img);
  assert.deepEqual([r.format, r.details.placement, r.details.pageAlignModules], ["multiboot2", "aout-kludge", true]);
  assert.deepEqual(mem.read(LOAD, img.length), img);
  assert.ok(mem.read(LOAD + img.length, FIXTURE_BSS_SIZE).every((b) => b === 0));
});

Deno.test("planMultiboot2 loads the file from its beginning when load_addr is -1", async () => {
  const img = mb2({
    address: { load_addr: 0xffff_ffff, header_addr: LOAD + 0x1000, load_end_addr: 0, bss_end_addr: 0 },
    entryAddr: LOAD + 0x1000 + 0x50,
  });
  const r = await planMultiboot2(memory(), img);
  assert.deepEqual(r.plan.steps[0], {
    kind: "copy",
    guestAddr: LOAD + 0x1000,
    length: img.length,
    sourceOffset: 0,
    label: "multiboot2 text+data",
  });
});

Deno.test("planMultiboot2 checks the address tag as Multiboot 1 checks its address fields", async () => {
  await expectCode(() => planMultiboot2(memory(), mb2({ address: { load_end_addr: LOAD - 1 } })), "InvalidLoadEndAddr");
});

Deno.test("planMultiboot2 loads an ELF32 image and lets the entry address tag override e_entry", async () => {
  const plain = await planMultiboot2(memory(), mb2({ format: "elf32" }));
  assert.equal(plain.details.placement, "elf32");
  const tagged = await planMultiboot2(memory(), mb2({ format: "elf32", entryTag: true, entryAddr: LOAD + 4 }));
  assert.equal(tagged.entry.multiboot, LOAD + 4);
});

Deno.test("planMultiboot2 rejects an entry address tag outside an ELF32 image", async () => {
  await expectCode(
    () => planMultiboot2(memory(), mb2({ format: "elf32", entryTag: true, entryAddr: 0x1000 })),
    "InvalidEntryAddr",
    "entry_addr",
  );
});

Deno.test("MULTIBOOT_HEADER places the address fields at offsets 12 to 28", () => {
  assert.deepEqual(
    ["header_addr", "load_addr", "load_end_addr", "bss_end_addr", "entry_addr"].map((f) =>
      MULTIBOOT_HEADER.offsetOf(f as "header_addr")
    ),
    [12, 16, 20, 24, 28],
  );
});
