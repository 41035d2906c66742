// Arbitraries for valid inputs of every format (built with fixtures/build/*.ts and lib/fdt's builder), guest
// memory layouts with holes, hostile numbers, and the mutators that turn a valid input into a hostile one:
// bit flips, truncation at any byte, a header field set to an edge value (0, 1, the field's max, 2^32-1, 2^53,
// 2^64-1, misaligned, pointing past the end, overlapping another field's value), duplicated or reordered
// records (program headers, notes, tags), and byte splices.
//
// Each valid case carries what the test needs for its reference reading (the values it was built from).

import fc from "fast-check";
import type { Struct } from "../../lib/abi/struct.ts";
import { ELF64_EHDR, ELF64_PHDR, PT_LOAD, PT_NOTE, XEN_ELFNOTE_PHYS32_ENTRY } from "../../lib/abi/elf.ts";
import { LOADED_HIGH, SETUP_HEADER, SETUP_HEADER_OFFSET } from "../../lib/abi/bootparam.ts";
import { AARCH64_IMAGE_HEADER, RISCV64_IMAGE_HEADER } from "../../lib/abi/image.ts";
import { ELF32_EHDR, ELF32_PHDR } from "../../lib/abi/elf.ts";
import {
  MULTIBOOT2_HEADER,
  MULTIBOOT2_HEADER_MAGIC,
  MULTIBOOT_HEADER,
  MULTIBOOT_HEADER_MAGIC,
} from "../../lib/abi/multiboot.ts";
import { FDT_HEADER } from "../../lib/fdt/header.ts";
import type { FdtNode, FdtTree } from "../../lib/fdt/tree.ts";
import { buildElf, type NoteSpec, type SegmentSpec } from "../../fixtures/build/elf.ts";
import { buildBzImage } from "../../fixtures/build/bzimage.ts";
import { buildArm64Image, buildRiscv64Image } from "../../fixtures/build/pe.ts";
import { buildMultiboot2, buildMultibootAout, buildMultibootElf } from "../../fixtures/build/multiboot.ts";
import type { Layout } from "./_harness.ts";

// ---- numbers ------------------------------------------------------------------------------------------------

/** The edge values a hostile field or option takes. */
export const EDGE_NUMBERS: readonly number[] = [
  0,
  1,
  -1,
  0.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 64,
  Number.MAX_VALUE,
  -0,
];

/** A number as a hostile caller may pass it: usually `valid`, else an edge value or any double. */
export function hostileNumber(valid: fc.Arbitrary<number>): fc.Arbitrary<number> {
  return fc.oneof(
    { arbitrary: valid, weight: 6 },
    { arbitrary: fc.constantFrom(...EDGE_NUMBERS), weight: 2 },
    { arbitrary: fc.double(), weight: 1 },
    { arbitrary: fc.integer({ min: -0x1000, max: 0x1_0000_0000 }), weight: 1 },
  );
}

/** A bigint-or-number u64 field as a hostile caller may pass it. */
export function hostileU64(valid: fc.Arbitrary<number>): fc.Arbitrary<number | bigint> {
  return fc.oneof(
    { arbitrary: hostileNumber(valid), weight: 4 },
    { arbitrary: fc.constantFrom(0n, 1n, -1n, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 64n), weight: 1 },
    { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), weight: 1 },
  );
}

// ---- guest memory layouts -------------------------------------------------------------------------------------

/** Options of {@linkcode layoutArb}. */
export interface LayoutOptions {
  /** Address of the first region. */
  base?: fc.Arbitrary<number>;
  /** Most regions. */
  maxRegions?: number;
  /** Smallest region. */
  minSize?: number;
  /** Largest region. */
  maxSize?: number;
  /** Largest hole between regions (0: adjacent). */
  maxGap?: number;
}

/** 1 to `maxRegions` regions in address order, with holes (or none: adjacent regions) between them. */
export function layoutArb(o: LayoutOptions = {}): fc.Arbitrary<Layout> {
  return fc.tuple(
    o.base ?? fc.nat({ max: 0x4000 }),
    fc.array(
      fc.record({
        gap: fc.oneof(fc.constant(0), fc.nat({ max: o.maxGap ?? 0x1000 })),
        size: fc.integer({ min: o.minSize ?? 0x200, max: o.maxSize ?? 0x2000 }),
      }),
      { minLength: 1, maxLength: o.maxRegions ?? 3 },
    ),
  ).map(([base, rs]) => {
    let at = base;
    const regions = rs.map((r, i) => {
      if (i > 0) at += r.gap;
      const reg = { addr: at, size: r.size };
      at += r.size;
      return reg;
    });
    return { regions };
  });
}

/** A guest address in region `pick` (mod the count) at fraction `frac` where `len` bytes still fit. */
export function place(layout: Layout, pick: number, frac: number, len: number, align = 1): number {
  const r = layout.regions[pick % layout.regions.length];
  const room = Math.max(0, r.size - len);
  const addr = r.addr + Math.floor(frac * room);
  const aligned = Math.floor(addr / align) * align;
  return aligned >= r.addr ? aligned : Math.ceil(r.addr / align) * align;
}

/** A region pick and a fraction, for {@linkcode place}. */
export const spot: fc.Arbitrary<{ pick: number; frac: number }> = fc.record({
  pick: fc.nat({ max: 7 }),
  frac: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
});

// ---- mutators -------------------------------------------------------------------------------------------------

/** A header field a mutation can target. */
export interface FieldRef {
  name: string;
  offset: number;
  size: 1 | 2 | 4 | 8;
  be?: boolean;
}

/** A fixed-size record (program header, note, tag) a mutation can duplicate or swap. */
export interface RecordRef {
  offset: number;
  size: number;
}

/** What a format exposes to the mutators, computed from the current bytes. */
export interface Targets {
  fields: FieldRef[];
  records: RecordRef[];
}

/** Edge values a targeted field is set to. */
export type Edge =
  | "zero"
  | "one"
  | "max"
  | "u32max"
  | "p31"
  | "p53"
  | "p53m1"
  | "u64max"
  | "misaligned"
  | "pastEnd"
  | "atEnd"
  | "overlap"
  | "plus1"
  | "minus1"
  | "random";

/** One mutation. Indices are taken modulo what the bytes hold, so any value applies to any input. */
export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "byte"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "field"; which: number; edge: Edge; other: number; rand: bigint }
  | { kind: "dupRecord"; from: number; to: number }
  | { kind: "swapRecords"; a: number; b: number }
  | { kind: "splice"; from: number; to: number; len: number }
  | { kind: "append"; bytes: Uint8Array };

const EDGES: readonly Edge[] = [
  "zero",
  "one",
  "max",
  "u32max",
  "p31",
  "p53",
  "p53m1",
  "u64max",
  "misaligned",
  "pastEnd",
  "atEnd",
  "overlap",
  "plus1",
  "minus1",
  "random",
];

/** Any mutation; targeted ones (fields, records) weighted up. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }), weight: 3 },
  {
    arbitrary: fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant("field" as const),
      which: fc.nat(),
      edge: fc.constantFrom(...EDGES),
      other: fc.nat(),
      rand: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ kind: fc.constant("dupRecord" as const), from: fc.nat(), to: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("swapRecords" as const), a: fc.nat(), b: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant("splice" as const), from: fc.nat(), to: fc.nat(), len: fc.nat(64) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 32 }) }),
    weight: 1,
  },
);

/** 1 to `max` mutations. */
export function mutationsArb(max = 4): fc.Arbitrary<Mutation[]> {
  return fc.array(mutationArb, { minLength: 1, maxLength: max });
}

function readField(b: Uint8Array, f: FieldRef): bigint {
  let v = 0n;
  for (let i = 0; i < f.size; i++) {
    const byte = BigInt(b[f.offset + (f.be ? i : f.size - 1 - i)]);
    v = (v << 8n) | byte;
  }
  return v;
}

function writeFieldValue(b: Uint8Array, f: FieldRef, value: bigint): void {
  let v = BigInt.asUintN(f.size * 8, value);
  for (let i = 0; i < f.size; i++) {
    b[f.offset + (f.be ? f.size - 1 - i : i)] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function edgeValue(b: Uint8Array, f: FieldRef, fields: FieldRef[], m: Extract<Mutation, { kind: "field" }>): bigint {
  const cur = readField(b, f);
  switch (m.edge) {
    case "zero":
      return 0n;
    case "one":
      return 1n;
    case "max":
      return (1n << BigInt(f.size * 8)) - 1n;
    case "u32max":
      return 0xffff_ffffn;
    case "p31":
      return 1n << 31n;
    case "p53":
      return 1n << 53n;
    case "p53m1":
      return (1n << 53n) - 1n;
    case "u64max":
      return (1n << 64n) - 1n;
    case "misaligned":
      return cur + 1n + BigInt(m.other % 7);
    case "pastEnd":
      return BigInt(b.byteLength + 1 + (m.other % 64));
    case "atEnd":
      return BigInt(b.byteLength);
    case "overlap": {
      const o = fields[m.other % fields.length];
      return o.offset + o.size <= b.byteLength ? readField(b, o) : cur;
    }
    case "plus1":
      return cur + 1n;
    case "minus1":
      return cur - 1n;
    case "random":
      return m.rand;
  }
}

/** Applies `muts` in order to a copy of `bytes`; `targets` is recomputed from the bytes before each one. */
export function mutate(bytes: Uint8Array, muts: readonly Mutation[], targets: (b: Uint8Array) => Targets): Uint8Array {
  let b = bytes.slice();
  for (const m of muts) {
    switch (m.kind) {
      case "flip":
        if (b.byteLength > 0) b[m.at % b.byteLength] ^= 1 << m.bit;
        break;
      case "byte":
        if (b.byteLength > 0) b[m.at % b.byteLength] = m.value;
        break;
      case "truncate":
        b = b.slice(0, b.byteLength === 0 ? 0 : m.at % b.byteLength);
        break;
      case "field": {
        const fields = safeTargets(b, targets).fields.filter((f) => f.offset >= 0 && f.offset + f.size <= b.byteLength);
        if (fields.length === 0) break;
        const f = fields[m.which % fields.length];
        writeFieldValue(b, f, edgeValue(b, f, fields, m));
        break;
      }
      case "dupRecord":
      case "swapRecords": {
        const recs = safeTargets(b, targets).records.filter((r) =>
          r.offset >= 0 && r.size > 0 && r.offset + r.size <= b.byteLength
        );
        if (recs.length < 2) break;
        const x = recs[(m.kind === "dupRecord" ? m.from : m.a) % recs.length];
        const y = recs[(m.kind === "dupRecord" ? m.to : m.b) % recs.length];
        const n = Math.min(x.size, y.size);
        const xb = b.slice(x.offset, x.offset + n), yb = b.slice(y.offset, y.offset + n);
        b.set(xb, y.offset);
        if (m.kind === "swapRecords") b.set(yb, x.offset);
        break;
      }
      case "splice": {
        if (b.byteLength === 0) break;
        const from = m.from % b.byteLength, to = m.to % b.byteLength;
        const n = Math.min(m.len, b.byteLength - from, b.byteLength - to);
        b.copyWithin(to, from, from + n);
        break;
      }
      case "append": {
        const out = new Uint8Array(b.byteLength + m.bytes.byteLength);
        out.set(b);
        out.set(m.bytes, b.byteLength);
        b = out;
        break;
      }
    }
  }
  return b;
}

// Target finders read hostile bytes themselves: they must never make a mutation throw.
function safeTargets(b: Uint8Array, targets: (b: Uint8Array) => Targets): Targets {
  try {
    return targets(b);
  } catch {
    return { fields: [], records: [] };
  }
}

/** The integer fields of a struct table at `base`, for mutation. */
export function structFields<T extends object>(s: Struct<T>, base: number, prefix = ""): FieldRef[] {
  const out: FieldRef[] = [];
  for (const f of s.fields) {
    if (typeof f.kind !== "string") continue;
    const be = f.kind === "be32" || f.kind === "be64";
    out.push({ name: prefix + f.name, offset: base + f.offset, size: f.size as 1 | 2 | 4 | 8, be });
  }
  return out;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

// ---- ELF64 ----------------------------------------------------------------------------------------------------

/** A PT_LOAD as generated: where it goes and what it holds. */
export interface GenLoad {
  kind: "load";
  paddr: number;
  data: Uint8Array;
  memsz: number;
}

/** A PT_NOTE as generated. */
export interface GenNote {
  kind: "note";
  paddr: number;
  notes: NoteSpec[];
  noteAlign: 4 | 8;
}

/** A valid ELF64 kernel, the values it was built from, and the memory it is meant for. */
export interface ElfCase {
  layout: Layout;
  bytes: Uint8Array;
  entry: number;
  segments: (GenLoad | GenNote)[];
  kernelOffset?: number;
  highmemStart?: number;
}

const noteArb: fc.Arbitrary<NoteSpec> = fc.oneof(
  // The PVH entry note (what loadElf looks for).
  fc.record({
    name: fc.constant("Xen"),
    type: fc.constant(XEN_ELFNOTE_PHYS32_ENTRY),
    desc: fc.uint8Array({ minLength: 4, maxLength: 12 }),
  }),
  // Other notes, including the Xen type under another name and other Xen types.
  fc.record({
    name: fc.oneof(
      fc.constantFrom("GNU", "dummy", "Linux", "Xen", "", "Xe", "Xenn"),
      fc.string({ unit: fc.constantFrom(..."abcXen".split("")), maxLength: 9 }),
    ),
    type: fc.oneof(fc.constantFrom(1, 3, 6, XEN_ELFNOTE_PHYS32_ENTRY + 1), fc.nat()),
    desc: fc.uint8Array({ maxLength: 24 }),
  }).filter((n) => !(n.name === "Xen" && n.type === XEN_ELFNOTE_PHYS32_ENTRY)),
);

const segArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("load" as const),
      spot,
      data: fc.uint8Array({ maxLength: 96 }),
      bss: fc.oneof(fc.constant(0), fc.nat({ max: 128 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("note" as const),
      spot,
      notes: fc.array(noteArb, { maxLength: 4 }),
      dup: fc.boolean(), // repeat the first note at the end
      noteAlign: fc.constantFrom(4 as const, 8 as const),
    }),
  },
);

/** A valid ELF64 x86_64 kernel with 0-5 segments (PT_LOAD with bss, PT_NOTE with 4- or 8-byte padded notes). */
export const elfCaseArb: fc.Arbitrary<ElfCase> = fc.record({
  // At or above the largest kernelOffset, so that p_paddr = address - offset is never negative.
  layout: layoutArb({ base: fc.integer({ min: 0x400, max: 0x4000 }) }),
  segs: fc.array(segArb, { maxLength: 5 }),
  entry: fc.oneof(spot, fc.nat({ max: 0xffff })),
  kernelOffset: fc.option(fc.nat({ max: 0x40 }).map((n) => n * 16), { nil: undefined, freq: 2 }),
  highmem: fc.option(fc.boolean(), { nil: undefined }),
}).map(({ layout, segs, entry, kernelOffset, highmem }) => {
  const off = kernelOffset ?? 0;
  const segments: (GenLoad | GenNote)[] = segs.map((s) => {
    if (s.kind === "load") {
      const memsz = s.data.byteLength + s.bss;
      const at = place(layout, s.spot.pick, s.spot.frac, memsz);
      return { kind: "load", paddr: at - off, data: s.data, memsz };
    }
    const notes = s.dup && s.notes.length > 0 ? [...s.notes, s.notes[0]] : s.notes;
    return { kind: "note", paddr: s.spot.frac * 0x1000 | 0, notes, noteAlign: s.noteAlign };
  });
  // highmemStart, when given, is the lowest address used (loadElf compares e_entry without the offset).
  const loads = segments.filter((s): s is GenLoad => s.kind === "load" && (s.data.byteLength > 0 || s.memsz > 0));
  const e = typeof entry === "number" ? entry : place(layout, entry.pick, entry.frac, 1);
  const lowest = Math.min(e, ...loads.map((s) => s.paddr + off));
  const highmemStart = highmem === undefined ? undefined : highmem ? lowest : 0;
  const specs: SegmentSpec[] = segments.map((s) =>
    s.kind === "load"
      ? { type: PT_LOAD, paddr: s.paddr, data: s.data, memsz: s.memsz }
      : { type: PT_NOTE, paddr: s.paddr, notes: s.notes, noteAlign: s.noteAlign, align: s.noteAlign }
  );
  return {
    layout,
    bytes: buildElf({ entry: e, segments: specs }),
    entry: e,
    segments,
    kernelOffset,
    highmemStart,
  };
});

/** ELF64 mutation targets: the file header, every program header, every note header (4-byte walk). */
export function elfTargets(b: Uint8Array): Targets {
  const fields = structFields(ELF64_EHDR, 0, "ehdr.");
  fields.push({ name: "e_ident[EI_CLASS]", offset: 4, size: 1 }, { name: "e_ident[EI_DATA]", offset: 5, size: 1 });
  const records: RecordRef[] = [];
  if (b.byteLength < ELF64_EHDR.size) return { fields, records };
  const d = dv(b);
  const phoff = Number(d.getBigUint64(32, true));
  const phnum = d.getUint16(56, true);
  for (let i = 0; i < Math.min(phnum, 16); i++) {
    const at = phoff + i * ELF64_PHDR.size;
    if (at + ELF64_PHDR.size > b.byteLength) break;
    fields.push(...structFields(ELF64_PHDR, at, `phdr[${i}].`));
    records.push({ offset: at, size: ELF64_PHDR.size });
    if (d.getUint32(at, true) === PT_NOTE) {
      const off = Number(d.getBigUint64(at + 8, true));
      const filesz = Number(d.getBigUint64(at + 32, true));
      let pos = 0;
      for (let n = 0; n < 8 && pos + 12 <= filesz && off + pos + 12 <= b.byteLength; n++) {
        const nh = off + pos;
        fields.push(
          { name: `note.namesz`, offset: nh, size: 4 },
          { name: `note.descsz`, offset: nh + 4, size: 4 },
          { name: `note.type`, offset: nh + 8, size: 4 },
        );
        const namesz = d.getUint32(nh, true), descsz = d.getUint32(nh + 4, true);
        const size = 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
        records.push({ offset: nh, size });
        pos += size;
      }
    }
  }
  return { fields, records };
}

// ---- bzImage --------------------------------------------------------------------------------------------------

/** A valid bzImage, the values it was built from and its memory. */
export interface BzCase {
  layout: Layout;
  bytes: Uint8Array;
  setupSects: number;
  code32Start: number;
  payload: Uint8Array;
  version: number;
  /** `i386` for a 2.12+ header without XLF_KERNEL_64 (a 32-bit kernel), else `x86_64`. */
  arch: "x86_64" | "i386";
  kernelOffset?: number;
  highmemStart?: number;
}

/** A valid bzImage: protocol 2.00-2.15, 0-7 setup sectors, random protocol fields, 1 byte to 1 KiB of payload (a bzImage without a protected-mode kernel is refused). */
export const bzCaseArb: fc.Arbitrary<BzCase> = fc.record({
  layout: layoutArb({ base: fc.nat({ max: 0x10_0000 }) }),
  payload: fc.uint8Array({ minLength: 1, maxLength: 1024 }),
  setupSects: fc.nat({ max: 7 }),
  version: fc.oneof(fc.integer({ min: 0x200, max: 0x20f }), fc.integer({ min: 0x200, max: 0xffff })),
  loadflags: fc.nat({ max: 255 }).map((f) => f | LOADED_HIGH),
  where: spot,
  useOffset: fc.boolean(),
  highmem: fc.boolean(),
  relocatable: fc.nat({ max: 1 }),
  kernelAlignment: fc.oneof(fc.constantFrom(0x1000, 0x20_0000, 1), fc.nat()),
  minAlignment: fc.nat({ max: 40 }),
  prefAddress: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 40n })),
  initSize: fc.nat(),
  xloadflags: fc.nat({ max: 0xffff }),
  junk: fc.uint8Array({ minLength: 0, maxLength: 64 }),
}).map((r) => {
  const sects = r.setupSects === 0 ? 4 : r.setupSects;
  const load = place(r.layout, r.where.pick, r.where.frac, r.payload.byteLength);
  // code32_start 0 means "the default, 1 MiB" (an image built outside the kernel tree), so a kernel placed at
  // guest address 0 is asked for with the load address option.
  const useOffset = r.useOffset || load === 0;
  const bytes = buildBzImage({
    payload: r.payload,
    header: {
      setup_sects: r.setupSects,
      version: r.version,
      loadflags: r.loadflags,
      code32_start: useOffset ? 0x100000 : load,
      relocatable_kernel: r.relocatable,
      kernel_alignment: r.kernelAlignment,
      min_alignment: r.minAlignment,
      pref_address: r.prefAddress,
      init_size: r.initSize,
      xloadflags: r.xloadflags,
    },
  });
  // Real-mode setup code after the header: random bytes (never the header itself).
  bytes.set(r.junk.subarray(0, Math.max(0, (sects + 1) * 512 - 0x280)), 0x280);
  return {
    layout: r.layout,
    bytes,
    setupSects: sects,
    code32Start: useOffset ? 0x100000 : load,
    payload: r.payload,
    version: r.version,
    arch: r.version >= 0x20c && (r.xloadflags & 1) === 0 ? "i386" as const : "x86_64" as const,
    kernelOffset: useOffset ? load : undefined,
    highmemStart: r.highmem ? load : undefined,
  };
});

/** bzImage mutation targets: every setup header field. */
export function bzTargets(_b: Uint8Array): Targets {
  return { fields: structFields(SETUP_HEADER, SETUP_HEADER_OFFSET, "hdr."), records: [] };
}

// ---- arm64 / riscv64 Image ------------------------------------------------------------------------------------

/** A valid Image, the values it was built from and its memory (2 MiB aligned base). */
export interface PeCase {
  layout: Layout;
  bytes: Uint8Array;
  arch: "aarch64" | "riscv64";
  kernelOffset: number;
  textOffset: number;
  imageSize: number;
}

/** A valid arm64 or riscv64 Image at a 2 MiB aligned base, text_offset inside the base's region. */
export const peCaseArb: fc.Arbitrary<PeCase> = fc.record({
  arch: fc.constantFrom("aarch64" as const, "riscv64" as const),
  base: fc.nat({ max: 8 }).map((k) => k * 0x20_0000),
  text: fc.nat({ max: 0x10 }).map((k) => k * 0x100),
  code: fc.uint8Array({ maxLength: 512 }),
  extra: fc.nat({ max: 256 }),
  imageSizeExtra: fc.oneof(fc.constant(0), fc.nat({ max: 0x10000 })),
  zeroImageSize: fc.boolean(),
  tail: fc.nat({ max: 0x800 }),
  flags: fc.bigInt({ min: 0n, max: 0xffn }),
}).map((r) => {
  const size = 64 + r.code.byteLength + r.extra;
  // arm64 image_size 0 means text_offset 0x80000: booting.rst's rule for old kernels.
  const zero = r.arch === "aarch64" && r.zeroImageSize;
  const textOffset = zero ? 0x8_0000 : r.text;
  const imageSize = zero ? 0 : size + r.imageSizeExtra;
  const header = { text_offset: BigInt(r.text), image_size: BigInt(imageSize), flags: r.flags };
  const bytes = r.arch === "aarch64"
    ? buildArm64Image({ header, code: r.code, size })
    : buildRiscv64Image({ header, code: r.code, size });
  const layout: Layout = {
    regions: [{ addr: r.base, size: 0x1000 + r.tail }, { addr: r.base + 0x1000 + r.tail, size: 0x1000 }],
  };
  if (zero) layout.regions.push({ addr: r.base + 0x8_0000, size: 0x1000 });
  return { layout, bytes, arch: r.arch, kernelOffset: r.base, textOffset, imageSize };
});

/** Image mutation targets: every header field (arm64 or riscv64 table by the magic at 0x38). */
export function peTargets(b: Uint8Array): Targets {
  const riscv = b.byteLength >= 0x3c && dv(b).getUint32(0x38, true) === 0x0543_5352;
  const fields = riscv
    ? structFields(RISCV64_IMAGE_HEADER, 0, "image.")
    : structFields(AARCH64_IMAGE_HEADER, 0, "image.");
  return { fields, records: [] };
}

// ---- Multiboot ------------------------------------------------------------------------------------------------

/** A valid Multiboot 1 or 2 image and what a loader must do with it. */
export interface MultibootCase {
  layout: Layout;
  bytes: Uint8Array;
  version: 1 | 2;
  format: "aout" | "elf32";
  /** Physical address of the file byte loaded first. */
  load: number;
  /** File offset loaded first. */
  fileOffset: number;
  /** Bytes copied. */
  fileLength: number;
  /** Bytes of bss after them. */
  bss: number;
  entry: number;
}

const CODE_PAD = 16;

/** Valid Multiboot images: Multiboot 1 a.out kludge or ELF32, Multiboot2 address tags or ELF32. */
export const multibootCaseArb: fc.Arbitrary<MultibootCase> = fc.record({
  layout: layoutArb({ base: fc.nat({ max: 0x20_0000 }), minSize: 0x800, maxSize: 0x3000 }),
  version: fc.constantFrom(1 as const, 2 as const),
  format: fc.constantFrom("aout" as const, "elf32" as const),
  code: fc.uint8Array({ minLength: 1, maxLength: 256 }),
  bss: fc.nat({ max: 512 }),
  headerOffset: fc.nat({ max: 16 }).map((n) => n * 4),
  where: spot,
  flags: fc.constantFrom(0, 1, 2, 3),
  infoRequests: fc.array(fc.integer({ min: 1, max: 21 }), { maxLength: 5 }),
  moduleAlign: fc.boolean(),
}).map((r): MultibootCase => {
  // Place by the largest size any variant has: the header, 0x80 bytes of ELF32 head, the code, the bss.
  const span = 0x80 + 0x100 + r.code.byteLength + r.bss + r.headerOffset;
  const load = place(r.layout, r.where.pick, r.where.frac, span, 4);
  if (r.version === 1 && r.format === "aout") {
    const bytes = buildMultibootAout({
      code: r.code,
      loadAddr: load,
      headerOffset: r.headerOffset,
      flags: r.flags,
      bssSize: r.bss,
    });
    const entry = load + r.headerOffset + 32;
    return {
      layout: r.layout,
      bytes,
      version: 1,
      format: "aout",
      load,
      fileOffset: 0,
      fileLength: bytes.byteLength,
      bss: r.bss,
      entry,
    };
  }
  if (r.version === 1) {
    const bytes = buildMultibootElf({ code: r.code, flags: r.flags, loadAddr: load, bssSize: r.bss });
    const entry = load + 0x80 + CODE_PAD;
    return {
      layout: r.layout,
      bytes,
      version: 1,
      format: "elf32",
      load,
      fileOffset: 0,
      fileLength: bytes.byteLength,
      bss: r.bss,
      entry,
    };
  }
  const bytes = buildMultiboot2({
    code: r.code,
    format: r.format,
    loadAddr: load,
    bssSize: r.bss,
    infoRequests: r.infoRequests,
    moduleAlign: r.moduleAlign,
  });
  // The code follows the header on a 16-byte boundary; the header is at 0 (a.out) or 0x80 (ELF32).
  const d = dv(bytes);
  const hdrAt = r.format === "aout" ? 0 : 0x80;
  const headerLength = d.getUint32(hdrAt + 8, true);
  const entry = load + hdrAt + Math.ceil(headerLength / 16) * 16;
  return {
    layout: r.layout,
    bytes,
    version: 2,
    format: r.format,
    load,
    fileOffset: 0,
    fileLength: bytes.byteLength,
    bss: r.bss,
    entry,
  };
});

/** Multiboot mutation targets: the Multiboot 1/2 header fields and tags, the ELF32 header and program headers. */
export function multibootTargets(b: Uint8Array): Targets {
  const fields: FieldRef[] = [];
  const records: RecordRef[] = [];
  const d = dv(b);
  const window = Math.min(b.byteLength, 32768);
  for (let off = 0; off + 4 <= window; off += 4) {
    const m = d.getUint32(off, true);
    if (m === MULTIBOOT_HEADER_MAGIC) fields.push(...structFields(MULTIBOOT_HEADER, off, "mb1."));
    if (m === MULTIBOOT2_HEADER_MAGIC && off % 8 === 0) {
      fields.push(...structFields(MULTIBOOT2_HEADER, off, "mb2."));
      if (off + 16 > b.byteLength) continue;
      const end = Math.min(off + d.getUint32(off + 8, true), b.byteLength);
      let pos = off + 16;
      for (let n = 0; n < 16 && pos + 8 <= end; n++) {
        const size = d.getUint32(pos + 4, true);
        fields.push(
          { name: "tag.type", offset: pos, size: 2 },
          { name: "tag.flags", offset: pos + 2, size: 2 },
          { name: "tag.size", offset: pos + 4, size: 4 },
        );
        for (let w = pos + 8; w + 4 <= Math.min(pos + size, end); w += 4) {
          fields.push({ name: "tag.word", offset: w, size: 4 });
        }
        records.push({ offset: pos, size: Math.max(8, Math.min(size, 32)) });
        if (size < 8) break;
        pos += Math.ceil(size / 8) * 8;
      }
    }
  }
  if (b.byteLength >= ELF32_EHDR.size && d.getUint32(0, false) === 0x7f454c46) {
    fields.push(...structFields(ELF32_EHDR, 0, "ehdr32."));
    fields.push({ name: "e_ident[EI_CLASS]", offset: 4, size: 1 }, { name: "e_ident[EI_DATA]", offset: 5, size: 1 });
    const phoff = d.getUint32(28, true), phnum = d.getUint16(44, true);
    for (let i = 0; i < Math.min(phnum, 8); i++) {
      const at = phoff + i * ELF32_PHDR.size;
      if (at + ELF32_PHDR.size > b.byteLength) break;
      fields.push(...structFields(ELF32_PHDR, at, `phdr32[${i}].`));
      records.push({ offset: at, size: ELF32_PHDR.size });
    }
  }
  return { fields, records };
}

// ---- FDT ------------------------------------------------------------------------------------------------------

const nameChars = "abcdefghijklmnopqrstuvwxyz0123456789,._+-".split("");
const propChars = [...nameChars, "?", "#"];
const nodeName = fc.tuple(
  fc.string({ unit: fc.constantFrom(...nameChars), minLength: 1, maxLength: 8 }),
  fc.option(fc.string({ unit: fc.constantFrom(..."0123456789abcdef,".split("")), minLength: 1, maxLength: 8 }), {
    nil: undefined,
  }),
).map(([b, u]) => (u === undefined ? b : `${b}@${u}`));
const propName = fc.string({ unit: fc.constantFrom(...propChars), minLength: 1, maxLength: 12 });
const propValue = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.string({ maxLength: 12 }).map((s) => new TextEncoder().encode(s.replaceAll("\0", "") + "\0")),
  fc.array(fc.nat(), { maxLength: 4 }).map((cells) => {
    const out = new Uint8Array(cells.length * 4);
    cells.forEach((c, i) => new DataView(out.buffer).setUint32(i * 4, c >>> 0, false));
    return out;
  }),
);

function uniqueBy<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
}

const plain = { noNullPrototype: true };
const props = fc.array(fc.record({ name: propName, value: propValue }, plain), { maxLength: 4 }).map((ps) =>
  uniqueBy(ps, (p) => p.name)
);

const nodeArb: fc.Arbitrary<FdtNode> = fc.letrec<{ node: FdtNode }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 4, depthIdentifier: "fdt" },
    fc.record({ name: nodeName, properties: props, children: fc.constant([] as FdtNode[]) }, plain),
    fc.record({
      name: nodeName,
      properties: props,
      children: fc.array(tie("node"), { maxLength: 3 }).map((cs) => uniqueBy(cs, (c) => c.name)),
    }, plain),
  ),
})).node;

/** A device tree the builder accepts: valid names, unique among siblings, reservations, a boot CPU id. */
export const fdtTreeArb: fc.Arbitrary<FdtTree> = fc.record({
  root: fc.record({
    name: fc.constant(""),
    properties: props,
    children: fc.array(nodeArb, { maxLength: 4 }).map((cs) => uniqueBy(cs, (c) => c.name)),
  }, plain),
  reservations: fc.array(
    fc.oneof(
      fc.record(
        { address: fc.bigInt({ min: 0n, max: 2n ** 63n }), size: fc.bigInt({ min: 0n, max: 2n ** 62n }) },
        plain,
      ),
      fc.record({ address: fc.constantFrom(0n, 1n, 2n ** 64n - 1n), size: fc.constantFrom(0n, 1n) }, plain),
    ),
    { maxLength: 3 },
  ),
  bootCpuidPhys: fc.nat(),
}, plain);

/** FDT mutation targets: the header fields, the reservation entries, every structure-block word. */
export function fdtTargets(b: Uint8Array): Targets {
  const fields = structFields(FDT_HEADER, 0, "fdt.");
  const records: RecordRef[] = [];
  if (b.byteLength < 40) return { fields, records };
  const d = dv(b);
  const off = d.getUint32(8, false), size = d.getUint32(36, false);
  for (let w = off; w + 4 <= Math.min(off + size, b.byteLength) && fields.length < 400; w += 4) {
    fields.push({ name: "struct.word", offset: w, size: 4, be: true });
    if (d.getUint32(w, false) <= 3) records.push({ offset: w, size: 12 });
  }
  return { fields, records };
}
