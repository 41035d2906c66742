/**
 * ELF64 (vmlinux) kernel loader for x86_64, with the checks and error codes of rust-vmm linux-loader's
 * `loader::elf`. Every `PT_LOAD` segment is placed at `p_paddr` (plus an optional offset), its bss
 * (`p_memsz - p_filesz`) zero-filled, and the `PT_NOTE` segments are searched for Xen's
 * `XEN_ELFNOTE_PHYS32_ENTRY` note, the 32-bit entry point of the PVH boot protocol
 * (https://xenbits.xen.org/docs/unstable/misc/pvh.html).
 *
 * The load is decoded and planned first ({@linkcode planElf}); the plan is validated against guest memory
 * as a whole and only then written, so a failed check leaves guest memory untouched; a source failing
 * during the copy is `SourceError` `LoadInterrupted` with every planned byte zeroed (`applyPlan`'s contract).
 *
 * @module
 */

import {
  EI_CLASS,
  EI_DATA,
  ELF64_EHDR,
  ELF64_NHDR,
  ELF64_PHDR,
  type Elf64Ehdr,
  type Elf64Phdr,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFMAG,
  ELFNOTE_ALIGN,
  EM_X86_64,
  PT_LOAD,
  PT_NOTE,
  SELFMAG,
  XEN_ELFNOTE_PHYS32_ENTRY,
  XEN_NOTE_NAME,
} from "../abi/elf.ts";
import {
  describeThrown,
  ElfError,
  type ElfErrorCode,
  type ErrorDetails,
  hex,
  KernelLoaderError,
  LinuxLoaderError,
} from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import {
  checkArch,
  checkLoadOptions,
  type LoadOptions,
  type LoadResultCommon,
  NO_OPTIONS,
  planExtent,
} from "./contract.ts";
import { applyOwnPlan, type PlanStep, validatePlan } from "../plan.ts";
import { u16le, u32le, u64le } from "../abi/le.ts";
import { type KernelSource, readBytes, toSource } from "../source.ts";

/**
 * Whether the kernel can be booted with the PVH protocol (the crate's `PvhBootCapability`).
 * - `present`: a Xen `PHYS32_ENTRY` note gives the 32-bit physical entry `address` (also `entry.pvh`);
 * - `notPresent`: the note segments hold no such note;
 * - `ignored`: not looked for, because an `addend` was given (PVH needs the kernel at its link-time
 *   address).
 */
export type PvhBootCapability =
  | { readonly kind: "present"; readonly address: number }
  | { readonly kind: "notPresent" }
  | { readonly kind: "ignored" };

/** The ELF facts of a load: {@linkcode ElfLoadResult.details}. */
export interface ElfDetails {
  /** The file header. */
  ehdr: Elf64Ehdr;
  /** Every program header, in file order. */
  phdrs: Elf64Phdr[];
  /** PVH entry point availability (when present, its address is also `entry.pvh`). */
  pvhBootCap: PvhBootCapability;
}

/**
 * What {@linkcode planElf} and {@linkcode loadElf} return: the common fields of every loader
 * ({@linkcode LoadResultCommon}) with `entry.linux64` (`e_entry` + `addend`), `entry.pvh` when the Xen note
 * is present, and `kernelEnd` = `loadEnd`.
 */
export interface ElfLoadResult extends LoadResultCommon {
  /** Always `"elf"`. */
  format: "elf";
  /** The ELF headers and the PVH capability. */
  details: ElfDetails;
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const U32_MAX = 0xffff_ffff;

/**
 * Cheap format check: the first bytes are the ELF magic `\x7fELF`.
 *
 * @example
 * ```ts
 * import { isElf } from "@linux-loader/linux-loader";
 * console.log(isElf(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1]))); // true
 * ```
 */
export function isElf(bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < SELFMAG) return false;
  for (let i = 0; i < SELFMAG; i++) if (bytes[i] !== ELFMAG[i]) return false;
  return true;
}

/**
 * Throws the `code` (a `Read*` code) of what was being read when `len` bytes at `offset` pass the end of the
 * image: as in the crate, whose seeks past the end succeed and whose reads then come up short.
 */
function checkRead(src: KernelSource, offset: number, len: number, code: ElfErrorCode, what: string): void {
  if (offset > src.size || len > src.size - offset) {
    throw new ElfError(
      code,
      `${what} [${hex(offset)}, ${hex(BigInt(offset) + BigInt(len))}) passes the end of the ${src.size}-byte image`,
      { field: what, value: BigInt(offset) + BigInt(len), limit: src.size },
    );
  }
}

/** Reads `len` bytes at `offset` of a source without its bytes in memory; range errors as {@linkcode checkRead}. */
function read(
  src: KernelSource,
  offset: number,
  len: number,
  code: ElfErrorCode,
  what: string,
): Promise<Uint8Array> {
  checkRead(src, offset, len, code, what);
  return readBytes(src, offset, len).catch((e) => {
    if (e instanceof ElfError) throw e;
    throw new ElfError(code, `reading ${what} at ${hex(offset)} failed: ${describeThrown(e)}`, {
      field: what,
      cause: e,
    });
  });
}

/** Rounds `n` up to a multiple of `align`, a power of two (the crate's `align_up`). */
function alignUp(n: number, align: number): number {
  if (align <= 0 || (align & (align - 1)) !== 0) {
    throw new ElfError("Align", `note alignment ${align} is not a power of two`, { value: align });
  }
  // Small values in 32-bit integer arithmetic (exact: the sum stays below 2^31); the rest in doubles.
  if (n <= 0x7fff_0000 && align <= 0x1000) return (n + align - 1) & -align;
  return Math.ceil(n / align) * align;
}

function validateHeader(ehdr: Elf64Ehdr, machine: number | null): void {
  const id = ehdr.e_ident;
  for (let i = 0; i < SELFMAG; i++) {
    if (id[i] !== ELFMAG[i]) {
      throw new ElfError(
        "InvalidElfMagicNumber",
        `e_ident[${i}] is ${hex(id[i])}, expected ${hex(ELFMAG[i])} (ELF magic 7f 45 4c 46)`,
        { field: `e_ident[${i}]`, value: id[i], limit: ELFMAG[i] },
      );
    }
  }
  if (id[EI_DATA] !== ELFDATA2LSB) {
    throw new ElfError(
      "BigEndianElfOnLittle",
      `e_ident[EI_DATA] is ${id[EI_DATA]}, only little-endian (ELFDATA2LSB = ${ELFDATA2LSB}) kernels load on x86`,
      { field: "e_ident[EI_DATA]", value: id[EI_DATA], limit: ELFDATA2LSB },
    );
  }
  if (id[EI_CLASS] !== ELFCLASS64) {
    throw new ElfError(
      "InvalidElfClass",
      `e_ident[EI_CLASS] is ${id[EI_CLASS]}, expected ELFCLASS64 (${ELFCLASS64})`,
      { field: "e_ident[EI_CLASS]", value: id[EI_CLASS], limit: ELFCLASS64 },
    );
  }
  if (machine !== null && ehdr.e_machine !== machine) {
    throw new ElfError("InvalidMachine", `e_machine is ${ehdr.e_machine}, expected ${machine}`, {
      field: "e_machine",
      value: ehdr.e_machine,
      limit: machine,
    });
  }
  if (ehdr.e_phentsize !== ELF64_PHDR.size) {
    throw new ElfError(
      "InvalidProgramHeaderSize",
      `e_phentsize is ${ehdr.e_phentsize}, expected sizeof(Elf64_Phdr) = ${ELF64_PHDR.size}`,
      { field: "e_phentsize", value: ehdr.e_phentsize, limit: ELF64_PHDR.size },
    );
  }
  if (ehdr.e_phoff < EHDR_SIZE_BIG) {
    throw new ElfError(
      "InvalidProgramHeaderOffset",
      `e_phoff ${hex(ehdr.e_phoff)} points inside the ${ELF64_EHDR.size}-byte ELF header`,
      { field: "e_phoff", value: ehdr.e_phoff, limit: ELF64_EHDR.size },
    );
  }
}

/** A note walk's outcome at one note: the PVH entry, or an error that fails the load. */
type NoteEvent = { kind: "present"; address: number } | { kind: "error"; error: ElfError };

function noteError(code: ElfErrorCode, message: string, details: ErrorDetails): NoteEvent {
  return { kind: "error", error: new ElfError(code, message, details) };
}

/** Bytes each note reads at most past its start: the 12-byte header, the 4-byte name "Xen\0", a 4-byte entry. */
const NOTE_READ_SPAN = ELF64_NHDR.size + XEN_NOTE_NAME.length + 4;

const N_NAMESZ = ELF64_NHDR.offsetOf("n_namesz");
const N_DESCSZ = ELF64_NHDR.offsetOf("n_descsz");
const N_TYPE = ELF64_NHDR.offsetOf("n_type");

const NO_BYTES = new Uint8Array(0);

/** The Xen note's name and descriptor offsets from the note start, for either padding (4 + 12 is 8-aligned). */
const XEN_DESC_OFFSET = ELF64_NHDR.size + XEN_NOTE_NAME.length;

/**
 * Where the note after the one at `p` starts (its name and descriptor each padded to `align`), or the
 * `Overflow` error when a padded size does not fit the 32-bit field it came from.
 */
function nextNote(p: number, namesz: number, descsz: number, align: number, index: number): NoteEvent | number {
  const nameAligned = alignUp(namesz, align);
  const descAligned = alignUp(descsz, align);
  if (nameAligned > U32_MAX || descAligned > U32_MAX) {
    return noteError(
      "Overflow",
      `${noteWhat(index)}: note at ${hex(p)} has n_namesz ${hex(namesz)} / n_descsz ${
        hex(descsz)
      } that overflow 32 bits when padded to ${align}`,
      { field: nameAligned > U32_MAX ? "n_namesz" : "n_descsz", value: Math.max(nameAligned, descAligned) },
    );
  }
  return p + alignUp(ELF64_NHDR.size + namesz, align) + descAligned;
}

/**
 * Every `PT_NOTE` segment of one image, walked for the Xen `PHYS32_ENTRY` note with total work linear in the
 * bytes the segments cover, whatever `e_phnum` and the segment sizes claim.
 *
 * The walk from a note at file offset `p` goes to `p + align(12 + n_namesz) + align(n_descsz)` (the padding
 * is relative to the segment start, and every position the walk reaches is aligned relative to it, so the
 * next note's offset does not depend on where the segment starts). So walks from different segments that
 * reach one offset continue identically: each offset is walked once per padding, its outcome remembered for
 * every later walk that reaches it (`seen` holds, per covered byte, the walk that first passed it). A
 * segment's answer is the first outcome on its chain that lies before the segment's end.
 *
 * The covered bytes are read once (zero-copy for an in-memory image), so no note costs a read of its own.
 */
class NoteWalker implements NoteWalk, NoteBytes {
  // Merged segment ranges [start, end) (ends clamped to 2^53), in file order, with their index into `seen`.
  readonly #ranges: { start: number; end: number; seenAt: number }[] = [];
  #covered = 0;
  readonly #size: number;
  // The bytes read: disjoint chunks in file order (the whole image when it is in memory).
  #chunks: { start: number; bytes: Uint8Array }[] = [];
  // The chunk found last (walks go forward, so it is almost always the next one asked for).
  #buf: Uint8Array = NO_BYTES;
  // Whether there is one note segment: its walks cannot meet another segment's, so nothing is remembered.
  readonly #single: boolean;
  #bufStart = 0;
  // Per padding (4, then maybe 8; made on its first walk): `seen`, the walk id (1-based) of the first walk
  // past each covered byte; `ends`, walk id - 1 -> offset of its first outcome; `events`, offset -> outcome.
  readonly #pads: { align: number; seen: Uint16Array; ends: number[]; events: Map<number, NoteEvent> }[] = [];

  constructor(size: number, segments: readonly { start: number; end: number }[]) {
    this.#size = size;
    const sorted = segments.filter((r) => r.end > r.start && r.start < size).sort((a, b) => a.start - b.start);
    this.#single = segments.length === 1;
    for (const r of sorted) {
      const last = this.#ranges[this.#ranges.length - 1];
      if (last !== undefined && r.start <= last.end) last.end = Math.max(last.end, r.end);
      else this.#ranges.push({ start: r.start, end: r.end, seenAt: 0 });
    }
    for (const r of this.#ranges) {
      r.seenAt = this.#covered;
      this.#covered += Math.min(r.end, size) - r.start;
    }
  }

  /**
   * Reads the covered bytes (plus the few a note at the end of a segment reads past it), once: synchronously
   * (nothing returned) for an in-memory image.
   */
  read(src: KernelSource): Promise<void> | undefined {
    if (src.bytes !== undefined) {
      this.#chunks = [{ start: 0, bytes: src.bytes.subarray(0, this.#size) }];
      return undefined;
    }
    return this.#readChunks(src);
  }

  async #readChunks(src: KernelSource): Promise<void> {
    // Each range extended by what its last note may read, merged when they touch: every read of a note
    // inside a segment then falls in one chunk.
    const spans: { start: number; end: number }[] = [];
    for (const r of this.#ranges) {
      const end = Math.min(r.end + NOTE_READ_SPAN, this.#size);
      const last = spans[spans.length - 1];
      if (last !== undefined && r.start <= last.end) last.end = Math.max(last.end, end);
      else if (end > r.start) spans.push({ start: r.start, end });
    }
    for (const sp of spans) {
      this.#chunks.push({
        start: sp.start,
        bytes: await read(src, sp.start, sp.end - sp.start, "ReadNoteHeader", "PT_NOTE segment bytes"),
      });
    }
  }

  /** The image's size. */
  get size(): number {
    return this.#size;
  }

  /** The chunk {@linkcode NoteWalker.at} found last. */
  get buf(): Uint8Array {
    return this.#buf;
  }

  // The offset of file offset `p` in `buf` when the bytes [p, p + n) were read (`buf` set to their chunk),
  // else -1 (past the end of the image).
  at(p: number, n: number): number {
    if (p + n > this.#size) return -1;
    let off = p - this.#bufStart;
    if (off >= 0 && off + n <= this.#buf.byteLength) return off;
    let lo = 0, hi = this.#chunks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1, c = this.#chunks[mid];
      if (p < c.start) hi = mid - 1;
      else if (p >= c.start + c.bytes.byteLength) lo = mid + 1;
      else {
        this.#buf = c.bytes;
        this.#bufStart = c.start;
        off = p - c.start;
        return off + n <= c.bytes.byteLength ? off : -1;
      }
    }
    return -1;
  }

  // Index of offset `p` into `seen`, or -1 when no segment covers it.
  #index(p: number): number {
    let lo = 0, hi = this.#ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1, r = this.#ranges[mid];
      if (p < r.start) hi = mid - 1;
      else if (p >= r.end) lo = mid + 1;
      else return p < this.#size ? r.seenAt + (p - r.start) : this.#covered; // past EOF: an outcome, never stored
    }
    return -1;
  }

  /**
   * The PVH capability of the segment `[start, end)` walked with `align`-byte padding: the first outcome on
   * its chain before `end`, or `notPresent`. An error outcome is thrown.
   */
  walk(start: number, end: number, align: number, index: number): PvhBootCapability {
    if (this.#single) {
      // One segment: its chain is the only one, and each step moves at least 12 bytes on (linear as it is).
      // The same outcomes as below: a note past the covered bytes ends the walk, as no segment covers it.
      let p = start;
      while (Number.isFinite(p) && this.#index(p) >= 0) {
        const e = noteEvent(this, p, align, index);
        if (typeof e === "number") {
          p = e;
          continue;
        }
        if (p >= end) break;
        if (e.kind === "error") throw e.error;
        return e;
      }
      return { kind: "notPresent" };
    }
    let pad = this.#pads.find((x) => x.align === align);
    if (pad === undefined) {
      pad = { align, seen: new Uint16Array(this.#covered), ends: [], events: new Map() };
      this.#pads.push(pad);
    }
    const { seen, ends, events } = pad;
    // Walk until an outcome, a byte no segment covers, or a note an earlier walk already passed.
    const id = ends.length + 1;
    let p = start, outcome = Infinity;
    while (Number.isFinite(p)) {
      const i = this.#index(p);
      if (i < 0) break; // no segment covers p: no walk that reaches it can still be inside its segment
      if (i < this.#covered) {
        const earlier = seen[i];
        if (earlier !== 0) {
          outcome = ends[earlier - 1];
          break;
        }
        if (id <= 0xffff) seen[i] = id;
      }
      const e = noteEvent(this, p, align, index);
      if (typeof e === "number") {
        p = e;
        continue;
      }
      events.set(p, e);
      outcome = p;
      break;
    }
    if (id <= 0xffff) ends.push(outcome);
    if (outcome >= end) return { kind: "notPresent" };
    const e = events.get(outcome)!;
    if (e.kind === "error") throw e.error;
    return e;
  }
}

/** What walks one `PT_NOTE` segment's chain (see {@linkcode NoteWalker.walk}). */
interface NoteWalk {
  walk(start: number, end: number, align: number, index: number): PvhBootCapability;
}

/** The name of note segment `index` in error messages (built only for an error). */
function noteWhat(index: number): string {
  return `PT_NOTE[${index}]`;
}

/**
 * The one `PT_NOTE` segment of an in-memory image, walked in place: {@linkcode NoteWalker}'s single-segment
 * walk without its chunk bookkeeping (the image is one chunk), the same outcomes note for note.
 */
class BytesNoteWalk implements NoteWalk, NoteBytes {
  readonly buf: Uint8Array;
  readonly size: number;

  constructor(bytes: Uint8Array, size: number) {
    this.buf = bytes;
    this.size = size;
  }

  walk(start: number, end: number, align: number, index: number): PvhBootCapability {
    // Each step moves at least 12 bytes on; a note at or past `end` is outside the segment and ends the walk.
    let p = start;
    while (p < end) {
      const e = noteEvent(this, p, align, index);
      if (typeof e === "number") {
        p = e;
        continue;
      }
      if (e.kind === "error") throw e.error;
      return e;
    }
    return { kind: "notPresent" };
  }

  // The image is the only chunk: bytes [p, p + n) are there when p + n <= size.
  at(p: number, n: number): number {
    return p + n > this.size ? -1 : p;
  }
}

/** Where a note walk finds the image's bytes `[p, p + n)`: their offset in `buf` (read after the call), or -1. */
interface NoteBytes {
  readonly size: number;
  readonly buf: Uint8Array;
  at(p: number, n: number): number;
}

/**
 * The outcome of the note at file offset `p`, or the offset of the next note (a number) when the walk goes on:
 * the Elf64_Nhdr read in place (little-endian u32s), a Xen PHYS32_ENTRY note's name compared and its 32-bit
 * entry read. One implementation for both walkers, so their outcomes and errors are the same note for note.
 */
function noteEvent(m: NoteBytes, p: number, align: number, index: number): NoteEvent | number {
  const at = m.at(p, ELF64_NHDR.size);
  if (at < 0) {
    return noteError(
      "ReadNoteHeader",
      `${noteWhat(index)}: the note header at ${hex(p)} passes the end of the ${m.size}-byte image`,
      { field: "p_filesz", value: p + ELF64_NHDR.size, limit: m.size },
    );
  }
  const h = m.buf;
  const namesz = u32le(h, at + N_NAMESZ), descsz = u32le(h, at + N_DESCSZ), type = u32le(h, at + N_TYPE);
  if (type === XEN_ELFNOTE_PHYS32_ENTRY && namesz === XEN_NOTE_NAME.length) {
    const nameAt = m.at(p + ELF64_NHDR.size, XEN_NOTE_NAME.length);
    if (nameAt < 0) {
      return noteError(
        "ReadNoteHeader",
        `${noteWhat(index)}: the note name at ${hex(p + ELF64_NHDR.size)} passes the end of the image`,
        { field: "n_namesz", value: p + XEN_DESC_OFFSET, limit: m.size },
      );
    }
    const b = m.buf;
    let isXen = true;
    for (let i = 0; i < XEN_NOTE_NAME.length; i++) if (b[nameAt + i] !== XEN_NOTE_NAME[i]) isXen = false;
    if (isXen) {
      // The PVH entry point is a 32-bit address: the descriptor must hold at least 4 bytes.
      if (descsz < 4) {
        return noteError(
          "InvalidPvhNote",
          `${noteWhat(index)}: Xen PHYS32_ENTRY note at ${hex(p)} has n_descsz ${descsz}, needs at least 4 bytes`,
          { field: "n_descsz", value: descsz, limit: 4 },
        );
      }
      const descAt = m.at(p + XEN_DESC_OFFSET, 4);
      if (descAt < 0) {
        return noteError(
          "ReadNoteHeader",
          `${noteWhat(index)}: the PVH entry at ${hex(p + XEN_DESC_OFFSET)} passes the end of the image`,
          { field: "n_descsz", value: p + XEN_DESC_OFFSET + 4, limit: m.size },
        );
      }
      return { kind: "present", address: u32le(m.buf, descAt) };
    }
  }
  return nextNote(p, namesz, descsz, align, index);
}

/**
 * The note segments' walker, their bytes read (`undefined` when the image has no `PT_NOTE`); no promise for
 * an in-memory image.
 */
function noteWalker(
  src: KernelSource,
  phdrs: readonly Elf64Phdr[],
): NoteWalk | undefined | Promise<NoteWalk> {
  let count = 0;
  for (let i = 0; i < phdrs.length; i++) if (phdrs[i].p_type === PT_NOTE && phdrs[i].p_filesz !== 0n) count++;
  if (count === 0) return undefined;
  // One segment in memory: nothing to read, no other segment's walks to meet.
  if (count === 1 && src.bytes !== undefined) return new BytesNoteWalk(src.bytes, src.size);
  const segments: { start: number; end: number }[] = [];
  for (let i = 0; i < phdrs.length; i++) {
    const ph = phdrs[i];
    if (ph.p_type !== PT_NOTE || ph.p_filesz === 0n) continue;
    const end = ph.p_offset + ph.p_filesz;
    segments.push({ start: Number(ph.p_offset > MAX ? MAX : ph.p_offset), end: Number(end > MAX ? MAX : end) });
  }
  const w = new NoteWalker(src.size, segments);
  const pending = w.read(src);
  return pending === undefined ? w : pending.then(() => w);
}

/**
 * The PVH entry of one `PT_NOTE`: walked with 4-byte padding, as Linux lays its notes out and as the crate
 * reads them whatever `p_align` says (its errors count). A segment with `p_align` 8 whose 4-byte walk finds
 * nothing is walked once more with the gABI's 8-byte padding (binutils' layout for such segments); that second
 * walk can only turn "not present" into "present", never fail the load.
 */
function findPvhEntry(w: NoteWalk | undefined, ph: Elf64Phdr, index: number, size: number): PvhBootCapability {
  if (ph.p_filesz === 0n || w === undefined) return { kind: "notPresent" };
  // As a number, p_offset is exact below 2^53 and at least 2^53 (> size) above: the same test as in bigints.
  const start = Number(ph.p_offset);
  if (start >= size) {
    throw new ElfError(
      "ReadNoteHeader",
      `${noteWhat(index)}: p_offset ${hex(ph.p_offset)} is past the end of the ${size}-byte image`,
      {
        field: "p_offset",
        value: ph.p_offset,
        limit: size,
      },
    );
  }
  // A sum past 2^53 (rounded or not) is clamped to it, as before.
  const sum = start + Number(ph.p_filesz);
  const end = sum > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : sum;
  const cap = w.walk(start, end, ELFNOTE_ALIGN, index);
  if (cap.kind === "present" || ph.p_align !== 8n) return cap;
  try {
    return w.walk(start, end, 8, index);
  } catch {
    return cap;
  }
}

/**
 * Decodes an ELF64 kernel and plans its load against guest memory without writing: headers checked as the
 * crate does, the PVH note searched, every `PT_LOAD` turned into a copy (file bytes) plus a zero-fill
 * (bss), and the whole plan checked against `mem`. {@linkcode loadElf} does the same, then writes.
 * Errors as {@linkcode loadElf}.
 *
 * @example
 * ```ts
 * import { GuestMemory, planElf } from "@linux-loader/linux-loader";
 * import { ELF64_EHDR, ELF64_PHDR, EM_X86_64, PT_LOAD } from "@linux-loader/linux-loader/abi";
 * // A 64-bit little-endian ELF with one PT_LOAD: 16 file bytes at 0x1000 and 48 bytes of bss.
 * const image = new Uint8Array(0x100);
 * image.set(ELF64_EHDR.encode({
 *   e_ident: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), e_machine: EM_X86_64,
 *   e_entry: 0x1000n, e_phoff: 64n, e_phentsize: ELF64_PHDR.size, e_phnum: 1,
 * }));
 * image.set(ELF64_PHDR.encode({ p_type: PT_LOAD, p_offset: 0x80n, p_paddr: 0x1000n, p_filesz: 16n, p_memsz: 64n }), 64);
 * const p = await planElf(GuestMemory.fromRanges([[0, 1 << 20]]), image);
 * console.log(p.plan.steps.map((s) => s.kind), p.entry.linux64, p.loadEnd); // [ "copy", "fill" ] 4096 4160
 * ```
 */
export async function planElf(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadOptions = NO_OPTIONS,
): Promise<ElfLoadResult> {
  const src = toSource(input), bytes = src.bytes;
  const r = bytes === undefined ? await decodeAsync(src, opts) : decodeBytes(src, bytes, opts);
  validatePlan(mem, r.plan);
  return r;
}

/**
 * {@linkcode planElf} without the check against guest memory: what inspection uses. Internal: `mod.ts`
 * does not re-export it.
 */
export async function decodeElf(src: KernelSource, opts: LoadOptions = NO_OPTIONS): Promise<ElfLoadResult> {
  return await decode(src, opts);
}

const EHDR_SIZE_BIG = BigInt(ELF64_EHDR.size);
// Size of e_ident (EI_NIDENT in elf.h).
const EI_NIDENT = 16;
// The in-memory path's e_ident copies are 16-byte views into a shared block of this many copies: in this
// runtime every new ArrayBuffer costs about 200 ns (a 16-byte `new Uint8Array` measured 207 ns against 29 ns
// for a view), ten times the rest of a small load's header reads. Each copy is its own bytes, never written
// again; a result kept alive keeps at most this block (1 KiB) alive with it.
const IDENT_BLOCK = 64;
let identBlock = new ArrayBuffer(0);
let identUsed = 0;

/** A copy of the 16 `e_ident` bytes at `b[0..16)` (a view into the current block, see {@linkcode IDENT_BLOCK}). */
function identCopy(b: Uint8Array): Uint8Array {
  // A block that was transferred away reads as 0 bytes long: a new block then.
  if (identUsed + EI_NIDENT > identBlock.byteLength) {
    identBlock = new ArrayBuffer(IDENT_BLOCK * EI_NIDENT);
    identUsed = 0;
  }
  // A view made from the buffer (19 ns here) rather than by subarray (30 ns).
  const out = new Uint8Array(identBlock, identUsed, EI_NIDENT);
  identUsed += EI_NIDENT;
  for (let i = 0; i < EI_NIDENT; i++) out[i] = b[i];
  return out;
}

/**
 * `ELF64_EHDR.decode(b)` for the 64 bytes at `b[0..64)`, read in place: the same object, field for field
 * (tests/prop/elf_readers_test.ts). Internal.
 */
export function readEhdrAt0(b: Uint8Array): Elf64Ehdr {
  return {
    e_ident: identCopy(b),
    e_type: u16le(b, 16),
    e_machine: u16le(b, 18),
    e_version: u32le(b, 20),
    e_entry: u64le(b, 24),
    e_phoff: u64le(b, 32),
    e_shoff: u64le(b, 40),
    e_flags: u32le(b, 48),
    e_ehsize: u16le(b, 52),
    e_phentsize: u16le(b, 54),
    e_phnum: u16le(b, 56),
    e_shentsize: u16le(b, 58),
    e_shnum: u16le(b, 60),
    e_shstrndx: u16le(b, 62),
  };
}

/** `ELF64_PHDR.decode(b, o)` read in place: the same object, field for field. Internal. */
export function readPhdr(b: Uint8Array, o: number): Elf64Phdr {
  return {
    p_type: u32le(b, o),
    p_flags: u32le(b, o + 4),
    p_offset: u64le(b, o + 8),
    p_vaddr: u64le(b, o + 16),
    p_paddr: u64le(b, o + 24),
    p_filesz: u64le(b, o + 32),
    p_memsz: u64le(b, o + 40),
    p_align: u64le(b, o + 48),
  };
}

/**
 * The decode, synchronous for an in-memory image (no promise, no microtask: a small load is then one async
 * call), a promise otherwise. The checks run in the same order either way.
 */
function decode(src: KernelSource, opts: LoadOptions): ElfLoadResult | Promise<ElfLoadResult> {
  const bytes = src.bytes;
  return bytes === undefined ? decodeAsync(src, opts) : decodeBytes(src, bytes, opts);
}

/** The checks every decode starts with: the options, then the image's size. */
function checkDecodeArgs(src: KernelSource, opts: LoadOptions): void {
  if (opts !== NO_OPTIONS) {
    checkLoadOptions("elf", opts);
    checkArch("x86_64", opts);
  }
  if (!Number.isSafeInteger(src.size) || src.size < 0) {
    throw new ElfError("SeekElfStart", `the image's size ${String(src.size)} is not a valid byte count`, {
      field: "size",
      value: String(src.size),
    });
  }
}

/** The decode of an in-memory image: synchronous (no promise, no microtask), the same checks in the same order. */
function decodeBytes(src: KernelSource, bytes: Uint8Array, opts: LoadOptions): ElfLoadResult {
  checkDecodeArgs(src, opts);
  checkRead(src, 0, ELF64_EHDR.size, "ReadElfHeader", "ELF header");
  const ehdr = readEhdrAt0(bytes);
  const load = checkHeader(ehdr, opts);
  const phnum = ehdr.e_phnum;
  let phdrs: Elf64Phdr[] = [];
  if (phnum > 0) {
    const phoff = checkPhoff(ehdr, src), len = phnum * ELF64_PHDR.size;
    if (phoff > src.size || len > src.size - phoff) {
      checkRead(src, phoff, len, "ReadProgramHeader", phtableWhat(phnum));
    }
    // Sized once (a push-grown array allocates room for 17 on its first push).
    phdrs = new Array<Elf64Phdr>(phnum);
    for (let i = 0; i < phnum; i++) phdrs[i] = readPhdr(bytes, phoff + i * ELF64_PHDR.size);
  }
  const notes = opts.addend === undefined ? noteWalker(src, phdrs) as NoteWalk | undefined : undefined;
  return plan(src, opts, ehdr, load, phdrs, notes);
}

async function decodeAsync(src: KernelSource, opts: LoadOptions): Promise<ElfLoadResult> {
  checkDecodeArgs(src, opts);
  const ehdr = ELF64_EHDR.decode(await read(src, 0, ELF64_EHDR.size, "ReadElfHeader", "ELF header"));
  const load = checkHeader(ehdr, opts);
  const phnum = ehdr.e_phnum;
  const phdrs: Elf64Phdr[] = [];
  if (phnum > 0) {
    const phoff = checkPhoff(ehdr, src);
    const table = await read(src, phoff, phnum * ELF64_PHDR.size, "ReadProgramHeader", phtableWhat(phnum));
    const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
    for (let i = 0; i < phnum; i++) phdrs.push(ELF64_PHDR.read(dv, i * ELF64_PHDR.size));
  }
  // PVH needs the kernel at its link-time address: with an addend the notes are not examined (the crate).
  const walker = opts.addend === undefined ? noteWalker(src, phdrs) : undefined;
  const notes = walker instanceof Promise ? await walker : walker;
  return plan(src, opts, ehdr, load, phdrs, notes);
}

function phtableWhat(phnum: number): string {
  return `program header table (e_phnum ${phnum})`;
}

/** The header's checks (the crate's order); returns the 64-bit entry, `e_entry` + `addend`. */
function checkHeader(ehdr: Elf64Ehdr, opts: LoadOptions): bigint {
  const { addend, highmemStart } = opts;
  validateHeader(ehdr, opts.machine === undefined ? EM_X86_64 : opts.machine);
  if (highmemStart !== undefined && ehdr.e_entry < BigInt(highmemStart)) {
    throw new ElfError(
      "InvalidEntryAddress",
      `e_entry ${hex(ehdr.e_entry)} is below the high memory start ${hex(highmemStart)}`,
      { field: "e_entry", value: ehdr.e_entry, limit: highmemStart },
    );
  }
  const load = addend === undefined ? ehdr.e_entry : ehdr.e_entry + BigInt(addend);
  if (load > MAX) {
    throw new ElfError(
      "Overflow",
      `e_entry ${hex(ehdr.e_entry)} + addend ${hex(addend ?? 0)} = ${hex(load)} passes ${hex(MAX)}`,
      { field: "e_entry", value: load, limit: MAX },
    );
  }
  return load;
}

/**
 * As in the crate, e_phoff is only read when there are program headers; past the end, the read comes up
 * short (ReadProgramHeader). Returns it as a number.
 */
function checkPhoff(ehdr: Elf64Ehdr, src: KernelSource): number {
  // As a number, e_phoff is exact below 2^53 and at least 2^53 (> any size) above: the bigint test's answer.
  const phoff = Number(ehdr.e_phoff);
  if (phoff > src.size) {
    throw new ElfError(
      "ReadProgramHeader",
      `${phtableWhat(ehdr.e_phnum)} at e_phoff ${hex(ehdr.e_phoff)} is past the end of the ${src.size}-byte image`,
      {
        field: "e_phoff",
        value: ehdr.e_phoff,
        limit: src.size,
      },
    );
  }
  return phoff;
}

/** The PVH capability and the load plan from the headers (the notes walked when `notes` is given). */
function plan(
  src: KernelSource,
  opts: LoadOptions,
  ehdr: Elf64Ehdr,
  load: bigint,
  phdrs: Elf64Phdr[],
  notes: NoteWalk | undefined,
): ElfLoadResult {
  const { addend, highmemStart } = opts;
  const addendBig = addend === undefined ? 0n : BigInt(addend);
  const steps: PlanStep[] = [];
  let present: PvhBootCapability | undefined;
  for (let i = 0; i < phdrs.length; i++) {
    const ph = phdrs[i];
    if (ph.p_type === PT_NOTE) {
      // Every note segment is walked and checked; the last one holding a PVH entry gives it.
      if (notes !== undefined) {
        const cap = findPvhEntry(notes, ph, i, src.size);
        if (cap.kind === "present") present = cap;
      }
      continue;
    }
    if (ph.p_type !== PT_LOAD || (ph.p_filesz === 0n && ph.p_memsz === 0n)) continue;
    const label = `PT_LOAD[${i}]`;
    const addr = ph.p_paddr + addendBig;
    if (addr > MAX) {
      throw new ElfError(
        "InvalidProgramHeaderAddress",
        `${label}: p_paddr ${hex(ph.p_paddr)} + addend ${hex(addend ?? 0)} passes ${hex(MAX)}`,
        { field: "p_paddr", value: addr, limit: MAX },
      );
    }
    if (highmemStart !== undefined && addr < BigInt(highmemStart)) {
      throw new ElfError(
        "InvalidProgramHeaderAddress",
        `${label}: load address ${hex(addr)} is below the high memory start ${hex(highmemStart)}`,
        { field: "p_paddr", value: addr, limit: highmemStart },
      );
    }
    // A segment with no file bytes (bss only) never reads its p_offset, so any value is fine there.
    if (ph.p_filesz > 0n && ph.p_offset + ph.p_filesz > BigInt(src.size)) {
      throw new ElfError(
        "ReadKernelImage",
        `${label}: p_offset ${hex(ph.p_offset)} + p_filesz ${
          hex(ph.p_filesz)
        } passes the end of the ${src.size}-byte image`,
        { field: "p_filesz", value: ph.p_offset + ph.p_filesz, limit: src.size },
      );
    }
    const memsz = ph.p_memsz > ph.p_filesz ? ph.p_memsz : ph.p_filesz;
    const end = addr + memsz;
    if (end > MAX) {
      throw new KernelLoaderError(
        "MemoryOverflow",
        `${label}: ${hex(addr)} + p_memsz ${hex(ph.p_memsz)} passes ${hex(MAX)}`,
        { field: "p_memsz", value: end, limit: MAX },
      );
    }
    const a = Number(addr), filesz = Number(ph.p_filesz);
    if (filesz > 0) {
      steps.push({ kind: "copy", guestAddr: a, length: filesz, sourceOffset: Number(ph.p_offset), label });
    }
    if (memsz > ph.p_filesz) {
      steps.push({
        kind: "fill",
        guestAddr: a + filesz,
        length: Number(memsz) - filesz,
        value: 0,
        label: `${label} bss`,
      });
    }
  }
  const plan = { steps };
  const { start: loadStart, end: loadEnd } = planExtent(plan);
  const pvhBootCap: PvhBootCapability = present ??
    (addend === undefined ? { kind: "notPresent" } : { kind: "ignored" });
  return {
    format: "elf",
    arch: "x86_64",
    entry: pvhBootCap.kind === "present"
      ? { linux64: Number(load), pvh: pvhBootCap.address }
      : { linux64: Number(load) },
    loadStart,
    loadEnd,
    kernelEnd: loadEnd,
    plan,
    details: { ehdr, phdrs, pvhBootCap },
  };
}

/**
 * Loads an ELF64 kernel (vmlinux) into guest memory: {@linkcode planElf}, then the one write. A failed check
 * writes nothing; a source failing during the copy is `SourceError` `LoadInterrupted` with every planned byte
 * zeroed (`applyPlan`'s contract).
 *
 * Errors: {@linkcode ElfError} with the crate's codes (`InvalidElfMagicNumber`, `BigEndianElfOnLittle`,
 * `InvalidProgramHeaderSize`, `InvalidProgramHeaderOffset`, `InvalidEntryAddress`, `Overflow`,
 * `InvalidPvhNote`, the `Read*` / `Seek*` codes for a truncated or unreadable image, ...) and
 * {@linkcode KernelLoaderError} `MemoryOverflow` when a segment does not fit in guest memory,
 * `InvalidOption` / `ArchMismatch` for options that do not fit an ELF.
 *
 * @example
 * ```ts
 * import { GuestMemory, loadElf } from "@linux-loader/linux-loader";
 * import { ELF64_EHDR, ELF64_PHDR, EM_X86_64, PT_LOAD } from "@linux-loader/linux-loader/abi";
 * const image = new Uint8Array(0x81);
 * image.set(ELF64_EHDR.encode({
 *   e_ident: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), e_machine: EM_X86_64,
 *   e_entry: 0x1000n, e_phoff: 64n, e_phentsize: ELF64_PHDR.size, e_phnum: 1,
 * }));
 * image.set(ELF64_PHDR.encode({ p_type: PT_LOAD, p_offset: 0x80n, p_paddr: 0x1000n, p_filesz: 1n, p_memsz: 1n }), 64);
 * image[0x80] = 0xf4; // hlt
 * const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
 * const r = await loadElf(mem, image);
 * console.log(r.entry.linux64?.toString(16), r.kernelEnd.toString(16), mem.readU8(0x1000)); // 1000 1001 244
 * ```
 */
export async function loadElf(
  mem: GuestMemory,
  input: KernelSource | Uint8Array,
  opts: LoadOptions = NO_OPTIONS,
): Promise<ElfLoadResult> {
  const src = toSource(input);
  // In memory, no await from here to the end: the load costs this one async call.
  const bytes = src.bytes;
  const p = bytes === undefined ? await decodeAsync(src, opts) : decodeBytes(src, bytes, opts);
  // planElf's validatePlan is part of applyOwnPlan's checks: the same checks in step order, and the source
  // checks cannot fail first (decodeElf keeps every copy inside the image).
  try {
    const pending = applyOwnPlan(mem, p.plan, src);
    if (pending !== undefined) await pending;
  } catch (e) {
    // Validation errors and applyPlan's LoadInterrupted (memory scrubbed) pass through as they are.
    if (!(e instanceof LinuxLoaderError)) {
      throw new ElfError("ReadKernelImage", `reading a PT_LOAD segment failed: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
  return p;
}
