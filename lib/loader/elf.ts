/**
 * ELF64 (vmlinux) kernel loader for x86_64, with the checks and error codes of rust-vmm linux-loader's
 * `loader::elf`. Every `PT_LOAD` segment is placed at `p_paddr` (plus an optional offset), its bss
 * (`p_memsz - p_filesz`) zero-filled, and the `PT_NOTE` segments are searched for Xen's
 * `XEN_ELFNOTE_PHYS32_ENTRY` note, the 32-bit entry point of the PVH boot protocol
 * (https://xenbits.xen.org/docs/unstable/misc/pvh.html).
 *
 * The load is decoded and planned first ({@linkcode planElf}); the plan is validated against guest memory
 * as a whole and only then written, so a failed load leaves guest memory untouched.
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
import { ElfError, type ElfErrorCode, hex, KernelLoaderError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { checkArch, checkLoadOptions, type LoadOptions, type LoadResultCommon, planExtent } from "./contract.ts";
import { applyPlan, type PlanStep, validatePlan } from "../plan.ts";
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
  if (bytes.byteLength < SELFMAG) return false;
  for (let i = 0; i < SELFMAG; i++) if (bytes[i] !== ELFMAG[i]) return false;
  return true;
}

async function read(
  src: KernelSource,
  offset: number,
  len: number,
  seekCode: ElfErrorCode,
  readCode: ElfErrorCode,
  what: string,
): Promise<Uint8Array> {
  if (offset > src.size) {
    throw new ElfError(
      seekCode,
      `${what} at file offset ${hex(offset)} is past the end of the ${src.size}-byte image`,
      {
        field: what,
        value: offset,
        limit: src.size,
      },
    );
  }
  if (offset + len > src.size) {
    throw new ElfError(
      readCode,
      `${what} [${hex(offset)}, ${hex(offset + len)}) passes the end of the ${src.size}-byte image`,
      { field: what, value: offset + len, limit: src.size },
    );
  }
  // In memory: a view, read-only here (headers and notes are decoded, never kept), so no ArrayBuffer per read.
  if (src.bytes !== undefined) return src.bytes.subarray(offset, offset + len);
  try {
    return await readBytes(src, offset, len);
  } catch (e) {
    throw new ElfError(readCode, `reading ${what} at ${hex(offset)} failed: ${(e as Error).message}`, {
      field: what,
      cause: e,
    });
  }
}

/** Rounds `n` up to a multiple of `align`, a power of two (the crate's `align_up`). */
function alignUp(n: number, align: number): number {
  if (align <= 0 || (align & (align - 1)) !== 0) {
    throw new ElfError("Align", `note alignment ${align} is not a power of two`, { value: align });
  }
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
  if (ehdr.e_phoff < BigInt(ELF64_EHDR.size)) {
    throw new ElfError(
      "InvalidProgramHeaderOffset",
      `e_phoff ${hex(ehdr.e_phoff)} points inside the ${ELF64_EHDR.size}-byte ELF header`,
      { field: "e_phoff", value: ehdr.e_phoff, limit: ELF64_EHDR.size },
    );
  }
}

/**
 * Walks one `PT_NOTE` segment for the Xen `PHYS32_ENTRY` note, with names and descriptors padded to
 * `noteAlign` from the segment start. Each step advances at least one 12-byte note header and every read
 * is bounded by the file, so hostile sizes cannot loop forever.
 */
async function parseNotes(
  src: KernelSource,
  phdr: Elf64Phdr,
  index: number,
  noteAlign: number,
): Promise<PvhBootCapability> {
  const what = `PT_NOTE[${index}]`;
  if (phdr.p_offset > BigInt(src.size)) {
    throw new ElfError(
      "SeekNoteHeader",
      `${what}: p_offset ${hex(phdr.p_offset)} is past the end of the ${src.size}-byte image`,
      { field: "p_offset", value: phdr.p_offset, limit: src.size },
    );
  }
  const base = Number(phdr.p_offset);
  const filesz = phdr.p_filesz;
  let pos = 0;
  while (BigInt(pos) < filesz) {
    const at = base + pos;
    const nhdr = ELF64_NHDR.decode(
      await read(src, at, ELF64_NHDR.size, "SeekNoteHeader", "ReadNoteHeader", `${what} note header`),
    );
    if (nhdr.n_type === XEN_ELFNOTE_PHYS32_ENTRY && nhdr.n_namesz === XEN_NOTE_NAME.length) {
      const name = await read(
        src,
        at + ELF64_NHDR.size,
        XEN_NOTE_NAME.length,
        "SeekNoteHeader",
        "ReadNoteHeader",
        `${what} note name`,
      );
      if (name.every((b, i) => b === XEN_NOTE_NAME[i])) {
        // The PVH entry point is a 32-bit address: the descriptor must hold at least 4 bytes.
        if (nhdr.n_descsz < 4) {
          throw new ElfError(
            "InvalidPvhNote",
            `${what}: Xen PHYS32_ENTRY note has n_descsz ${nhdr.n_descsz}, needs at least 4 bytes`,
            { field: "n_descsz", value: nhdr.n_descsz, limit: 4 },
          );
        }
        const descAt = base + alignUp(pos + ELF64_NHDR.size + nhdr.n_namesz, noteAlign);
        const desc = await read(src, descAt, 4, "SeekNoteHeader", "ReadNoteHeader", `${what} PVH entry`);
        const address = new DataView(desc.buffer, desc.byteOffset, 4).getUint32(0, true);
        return { kind: "present", address };
      }
    }
    const nameAligned = alignUp(nhdr.n_namesz, noteAlign);
    const descAligned = alignUp(nhdr.n_descsz, noteAlign);
    if (nameAligned > U32_MAX || descAligned > U32_MAX) {
      throw new ElfError(
        "Overflow",
        `${what}: note at ${hex(at)} has n_namesz ${hex(nhdr.n_namesz)} / n_descsz ${
          hex(nhdr.n_descsz)
        } that overflow 32 bits when padded to ${noteAlign}`,
        { field: nameAligned > U32_MAX ? "n_namesz" : "n_descsz", value: Math.max(nameAligned, descAligned) },
      );
    }
    pos = alignUp(alignUp(pos + ELF64_NHDR.size + nhdr.n_namesz, noteAlign) + nhdr.n_descsz, noteAlign);
  }
  return { kind: "notPresent" };
}

/** The most bytes of a `PT_NOTE` segment {@linkcode bufferNotes} reads ahead (Linux's notes take under 1 KiB). */
const NOTE_READAHEAD = 0x1_0000;

/**
 * A source over `src` that serves reads inside the first {@linkcode NOTE_READAHEAD} bytes of the note segment
 * from one read made up front: the note walk's many 12-byte reads then cost no I/O each (from a file, every
 * read is a seek and a read through the runtime). Reads outside that window, and every read when the
 * read-ahead fails, go to `src` as before, so the walk's checks and errors are unchanged.
 */
async function bufferNotes(src: KernelSource, phdr: Elf64Phdr): Promise<KernelSource> {
  if (src.bytes !== undefined || phdr.p_offset >= BigInt(src.size)) return src;
  const base = Number(phdr.p_offset);
  const len = Math.min(Number(phdr.p_filesz < NOTE_READAHEAD ? phdr.p_filesz : NOTE_READAHEAD), src.size - base);
  if (len <= 0) return src;
  const window = new Uint8Array(len);
  try {
    await src.readInto(base, window);
  } catch {
    return src;
  }
  return {
    size: src.size,
    readInto(offset: number, dest: Uint8Array): Promise<void> {
      if (offset >= base && offset + dest.byteLength <= base + len) {
        dest.set(window.subarray(offset - base, offset - base + dest.byteLength));
        return Promise.resolve();
      }
      return src.readInto(offset, dest);
    },
  };
}

/**
 * The PVH entry of one `PT_NOTE`: first walked with 4-byte padding, as Linux lays its notes out and as the
 * crate reads them whatever `p_align` says (its errors count). A segment with `p_align` 8 whose 4-byte walk
 * finds nothing is walked once more with the gABI's 8-byte padding (binutils' layout for such segments);
 * that second walk can only turn "not present" into "present", never fail the load.
 */
async function findPvhEntry(input: KernelSource, phdr: Elf64Phdr, index: number): Promise<PvhBootCapability> {
  const src = await bufferNotes(input, phdr);
  const cap = await parseNotes(src, phdr, index, ELFNOTE_ALIGN);
  if (cap.kind === "present" || phdr.p_align !== 8n) return cap;
  try {
    return await parseNotes(src, phdr, index, 8);
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
  opts: LoadOptions = {},
): Promise<ElfLoadResult> {
  const r = await decodeElf(toSource(input), opts);
  validatePlan(mem, r.plan);
  return r;
}

/**
 * {@linkcode planElf} without the check against guest memory: what inspection uses. Internal: `mod.ts`
 * does not re-export it.
 */
export async function decodeElf(src: KernelSource, opts: LoadOptions = {}): Promise<ElfLoadResult> {
  checkLoadOptions("elf", opts);
  checkArch("x86_64", opts);
  const { addend, highmemStart } = opts;
  if (!Number.isSafeInteger(src.size) || src.size < 0) {
    throw new ElfError("SeekElfStart", `the image's size ${String(src.size)} is not a valid byte count`, {
      field: "size",
      value: String(src.size),
    });
  }
  const ehdr = ELF64_EHDR.decode(await read(src, 0, ELF64_EHDR.size, "SeekElfStart", "ReadElfHeader", "ELF header"));
  validateHeader(ehdr, opts.machine === undefined ? EM_X86_64 : opts.machine);

  if (highmemStart !== undefined && ehdr.e_entry < BigInt(highmemStart)) {
    throw new ElfError(
      "InvalidEntryAddress",
      `e_entry ${hex(ehdr.e_entry)} is below the high memory start ${hex(highmemStart)}`,
      { field: "e_entry", value: ehdr.e_entry, limit: highmemStart },
    );
  }
  const load = ehdr.e_entry + BigInt(addend ?? 0);
  if (load > MAX) {
    throw new ElfError(
      "Overflow",
      `e_entry ${hex(ehdr.e_entry)} + addend ${hex(addend ?? 0)} = ${hex(load)} passes ${hex(MAX)}`,
      { field: "e_entry", value: load, limit: MAX },
    );
  }

  const phnum = ehdr.e_phnum;
  if (ehdr.e_phoff > BigInt(src.size)) {
    throw new ElfError(
      "SeekProgramHeader",
      `e_phoff ${hex(ehdr.e_phoff)} is past the end of the ${src.size}-byte image`,
      { field: "e_phoff", value: ehdr.e_phoff, limit: src.size },
    );
  }
  const phoff = Number(ehdr.e_phoff);
  const table = await read(
    src,
    phoff,
    phnum * ELF64_PHDR.size,
    "SeekProgramHeader",
    "ReadProgramHeader",
    `program header table (e_phnum ${phnum})`,
  );
  const phdrs: Elf64Phdr[] = [];
  for (let i = 0; i < phnum; i++) phdrs.push(ELF64_PHDR.decode(table, i * ELF64_PHDR.size));

  const steps: PlanStep[] = [];
  let kernelEnd = 0;
  let pvhBootCap: PvhBootCapability = addend === undefined ? { kind: "notPresent" } : { kind: "ignored" };
  for (let i = 0; i < phdrs.length; i++) {
    const ph = phdrs[i];
    if (ph.p_type === PT_NOTE) {
      // PVH needs the kernel at its link-time address: with an addend the notes are not examined.
      if (addend === undefined && pvhBootCap.kind !== "present") pvhBootCap = await findPvhEntry(src, ph, i);
      continue;
    }
    if (ph.p_type !== PT_LOAD || (ph.p_filesz === 0n && ph.p_memsz === 0n)) continue;
    const label = `PT_LOAD[${i}]`;
    const addr = ph.p_paddr + BigInt(addend ?? 0);
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
    if (ph.p_offset > BigInt(src.size)) {
      throw new ElfError(
        "SeekKernelStart",
        `${label}: p_offset ${hex(ph.p_offset)} is past the end of the ${src.size}-byte image`,
        { field: "p_offset", value: ph.p_offset, limit: src.size },
      );
    }
    if (ph.p_offset + ph.p_filesz > BigInt(src.size)) {
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
    kernelEnd = Math.max(kernelEnd, Number(end));
  }
  const plan = { steps };
  const { start: loadStart, end: loadEnd } = planExtent(plan);
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
 * Loads an ELF64 kernel (vmlinux) into guest memory: {@linkcode planElf}, then the one write. On any error
 * nothing is written.
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
  opts: LoadOptions = {},
): Promise<ElfLoadResult> {
  const src = toSource(input);
  const p = await planElf(mem, src, opts);
  try {
    await applyPlan(mem, p.plan, src);
  } catch (e) {
    // Validation errors pass through; anything else is the source failing mid-copy.
    if (!(e instanceof KernelLoaderError)) {
      throw new ElfError("ReadKernelImage", `reading a PT_LOAD segment failed: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
  return p;
}
