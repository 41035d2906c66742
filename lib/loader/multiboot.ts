/**
 * Multiboot 1 and Multiboot2 kernel loaders.
 *
 * - Multiboot Specification 0.6.96: https://www.gnu.org/software/grub/manual/multiboot/multiboot.html
 * - Multiboot2 Specification 2.0: https://www.gnu.org/software/grub/manual/multiboot2/multiboot.html
 *
 * Both follow the library's one direction of flow: find and decode the header (pure, typed errors), build
 * a {@linkcode Plan} of copies and zero-fills, check every range against the image and guest memory, and
 * only then (in `loadMultiboot` / `loadMultiboot2`) apply it. A kernel is loaded either from the header's
 * address fields (Multiboot 1 flag bit 16, the "a.out kludge"; the Multiboot2 address tag) or, without
 * them, from its ELF32 (i386, little-endian) program headers, at their physical addresses.
 *
 * The entry state both protocols require is 32-bit flat protected mode with paging off, EAX holding the
 * boot loader magic and EBX the physical address of the boot information; the configurators
 * (`configureMultiboot`, `configureMultiboot2`) write that information and return the two registers.
 *
 * @module
 */

import { ELF32_EHDR, ELF32_PHDR, type Elf32Phdr } from "../abi/elf.ts";
import {
  MULTIBOOT2_ADDRESS_TAG,
  MULTIBOOT2_ARCHITECTURE_I386,
  MULTIBOOT2_END_TAG_SIZE,
  MULTIBOOT2_ENTRY_ADDRESS_TAG,
  MULTIBOOT2_HEADER,
  MULTIBOOT2_HEADER_ALIGN,
  MULTIBOOT2_HEADER_MAGIC,
  MULTIBOOT2_HEADER_TAG,
  MULTIBOOT2_HEADER_TAG_ADDRESS,
  MULTIBOOT2_HEADER_TAG_END,
  MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS,
  MULTIBOOT2_HEADER_TAG_INFORMATION_REQUEST,
  MULTIBOOT2_HEADER_TAG_MODULE_ALIGN,
  MULTIBOOT2_HEADER_TAG_OPTIONAL,
  MULTIBOOT2_INFO_REQUEST_ENTRY_SIZE,
  MULTIBOOT2_LOAD_FROM_FILE_START,
  MULTIBOOT2_MODULE_ALIGN_TAG_SIZE,
  MULTIBOOT2_SEARCH,
  MULTIBOOT2_TAG_ALIGN,
  MULTIBOOT2_TAG_TYPE_MAX_KNOWN,
  type Multiboot2Header,
  MULTIBOOT_ADDRESS_LIMIT,
  MULTIBOOT_AOUT_KLUDGE,
  MULTIBOOT_HEADER,
  MULTIBOOT_HEADER_ALIGN,
  MULTIBOOT_HEADER_AOUT_SIZE,
  MULTIBOOT_HEADER_MAGIC,
  MULTIBOOT_HEADER_MIN_SIZE,
  MULTIBOOT_HEADER_VIDEO_SIZE,
  MULTIBOOT_MEMORY_INFO,
  MULTIBOOT_PAGE_ALIGN,
  MULTIBOOT_REQUIRED_FLAGS_MASK,
  MULTIBOOT_SEARCH,
  MULTIBOOT_VIDEO_MODE,
  type MultibootHeader,
} from "../abi/multiboot.ts";
import { EI_CLASS, EI_DATA, ELFCLASS32, ELFDATA2LSB, ELFMAG, EM_386, ET_EXEC, PT_LOAD } from "../abi/elf.ts";
import { hex, MultibootError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { applyPlan, checkNoOverlap, type PlanStep } from "../plan.ts";
import { checkArch, checkHighmem, checkLoadOptions, type LoadOptions, type LoadResultCommon } from "./contract.ts";
import { type KernelSource, readBytes, toSource } from "../source.ts";
import { requireBytes } from "../guard.ts";

/**
 * The requirement bits (low 16) of the Multiboot 1 flags this loader fulfils: page-aligned modules and memory info.
 *
 * @example
 * ```ts
 * import { MULTIBOOT_SUPPORTED_REQUIRED_FLAGS } from "@linux-loader/linux-loader/abi";
 * console.log(MULTIBOOT_SUPPORTED_REQUIRED_FLAGS); // 3
 * ```
 */
export const MULTIBOOT_SUPPORTED_REQUIRED_FLAGS: number = MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO;

/** A Multiboot 1 header found in an image. */
export interface FoundMultibootHeader {
  /** File offset of the magic. */
  offset: number;
  /** The header; fields its flags do not enable read as 0. */
  header: MultibootHeader;
  /** Bytes of the header its flags make valid: 12, 32 (address fields) or 48 (graphics fields). */
  size: number;
}

/** The addresses of an a.out-kludge image: Multiboot 1 header fields 12-28 or the Multiboot2 address tag. */
export interface MultibootAddressFields {
  /** Physical address of the header's magic. */
  header_addr: number;
  /** Physical address of the first loaded byte. */
  load_addr: number;
  /** Physical address one past the last loaded byte; 0: to the end of the file. */
  load_end_addr: number;
  /** Physical address one past the bss; 0: no bss. */
  bss_end_addr: number;
}

/** The Multiboot facts of a load: {@linkcode MultibootLoadResult.details}. */
export interface MultibootDetails {
  /** How the image was placed: from the header's address fields, or from its ELF32 program headers. */
  placement: "aout-kludge" | "elf32";
  /** File offset of the header's magic. */
  headerOffset: number;
  /** Boot modules must start on 4 KiB boundaries (Multiboot 1 flag bit 0, Multiboot2 module alignment tag). */
  pageAlignModules: boolean;
}

/**
 * What the Multiboot loaders return: the common fields of every loader ({@linkcode LoadResultCommon}) with
 * `arch` `"i386"`, `entry.multiboot` (to jump to in 32-bit protected mode) and `kernelEnd` = `loadEnd`.
 */
export interface MultibootLoadResult extends LoadResultCommon {
  /** `"multiboot"` or `"multiboot2"`: the header that was used. */
  format: "multiboot" | "multiboot2";
  /** How the image was placed and what its header asks of the boot loader. */
  details: MultibootDetails;
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u32sum(...v: number[]): number {
  return v.reduce((a, b) => (a + b) >>> 0, 0);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function headerSizeFor(flags: number): number {
  if (flags & MULTIBOOT_VIDEO_MODE) return MULTIBOOT_HEADER_VIDEO_SIZE;
  if (flags & MULTIBOOT_AOUT_KLUDGE) return MULTIBOOT_HEADER_AOUT_SIZE;
  return MULTIBOOT_HEADER_MIN_SIZE;
}

function readMultibootHeader(dv: DataView, offset: number, size: number): MultibootHeader {
  const h = {} as MultibootHeader;
  for (const f of MULTIBOOT_HEADER.fields) {
    const k = f.name as keyof MultibootHeader;
    h[k] = f.offset + f.size <= size ? MULTIBOOT_HEADER.get(dv, offset, k) : 0;
  }
  return h;
}

/**
 * Finds the first valid Multiboot 1 header: the magic at a 4-byte-aligned offset in the first 8192 bytes,
 * a checksum that makes magic + flags + checksum zero, and every field its flags enable inside those 8192
 * bytes. Returns undefined when there is none (use {@linkcode decodeMultibootHeader} for the reason).
 *
 * @example
 * ```ts
 * import { findMultibootHeader } from "@linux-loader/linux-loader";
 * const img = new Uint8Array(64);
 * const dv = new DataView(img.buffer);
 * dv.setUint32(8, 0x1badb002, true); // magic
 * dv.setUint32(12, 0, true); // flags
 * dv.setUint32(16, -0x1badb002 >>> 0, true); // checksum
 * console.log(findMultibootHeader(img)?.offset); // 8
 * ```
 */
export function findMultibootHeader(bytes: Uint8Array): FoundMultibootHeader | undefined {
  requireBytes(bytes, "bytes", MultibootError, "InvalidArgument");
  const dv = dataView(bytes);
  const window = Math.min(bytes.byteLength, MULTIBOOT_SEARCH);
  for (let off = 0; off + MULTIBOOT_HEADER_MIN_SIZE <= window; off += MULTIBOOT_HEADER_ALIGN) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = MULTIBOOT_HEADER.get(dv, off, "flags");
    const checksum = MULTIBOOT_HEADER.get(dv, off, "checksum");
    if (u32sum(MULTIBOOT_HEADER_MAGIC, flags, checksum) !== 0) continue;
    const size = headerSizeFor(flags);
    if (off + size > window) continue;
    return { offset: off, header: readMultibootHeader(dv, off, size), size };
  }
  return undefined;
}

/**
 * Finds and checks the Multiboot 1 header, with a typed reason when there is none: `HeaderNotFound`,
 * `HeaderTruncated` (the fields the flags enable pass the first 8192 bytes or the file), `InvalidChecksum`,
 * `UnsupportedFlags` (a requirement bit, 0-15, this loader cannot fulfil).
 *
 * @example
 * ```ts
 * import { decodeMultibootHeader, MultibootError } from "@linux-loader/linux-loader";
 * try {
 *   decodeMultibootHeader(new Uint8Array(16));
 * } catch (e) {
 *   console.log((e as MultibootError).code); // HeaderNotFound
 * }
 * ```
 */
export function decodeMultibootHeader(bytes: Uint8Array): FoundMultibootHeader {
  requireBytes(bytes, "bytes", MultibootError, "InvalidArgument");
  const found = findMultibootHeader(bytes);
  if (found === undefined) {
    // Say why: the first magic seen, and what was wrong with it.
    const dv = dataView(bytes);
    const window = Math.min(bytes.byteLength, MULTIBOOT_SEARCH);
    for (let off = 0; off + 4 <= window; off += MULTIBOOT_HEADER_ALIGN) {
      if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
      if (off + MULTIBOOT_HEADER_MIN_SIZE > window) {
        throw new MultibootError(
          "HeaderTruncated",
          `Multiboot header at ${hex(off)}: flags and checksum pass the ${window}-byte search window`,
          { field: "checksum", value: off + MULTIBOOT_HEADER_MIN_SIZE, limit: window },
        );
      }
      const flags = MULTIBOOT_HEADER.get(dv, off, "flags");
      const checksum = MULTIBOOT_HEADER.get(dv, off, "checksum");
      const sum = u32sum(MULTIBOOT_HEADER_MAGIC, flags, checksum);
      if (sum !== 0) {
        throw new MultibootError(
          "InvalidChecksum",
          `Multiboot header at ${hex(off)}: checksum ${hex(checksum)} makes magic + flags + checksum ${
            hex(sum)
          }, not 0 (expected checksum ${hex(u32sum(0, -(MULTIBOOT_HEADER_MAGIC + flags)))})`,
          { field: "checksum", value: checksum, limit: u32sum(0, -(MULTIBOOT_HEADER_MAGIC + flags)) },
        );
      }
      const size = headerSizeFor(flags);
      throw new MultibootError(
        "HeaderTruncated",
        `Multiboot header at ${hex(off)}: flags ${
          hex(flags)
        } need ${size} header bytes, which pass the ${window}-byte ` +
          `search window`,
        { field: "flags", value: off + size, limit: window },
      );
    }
    throw new MultibootError(
      "HeaderNotFound",
      `no Multiboot header (magic ${
        hex(MULTIBOOT_HEADER_MAGIC)
      } at a 4-byte-aligned offset) in the first ${window} bytes`,
      { field: "magic", limit: window },
    );
  }
  const required = found.header.flags & MULTIBOOT_REQUIRED_FLAGS_MASK;
  const unsupported = required & ~MULTIBOOT_SUPPORTED_REQUIRED_FLAGS;
  if (unsupported !== 0) {
    // Spec 3.1.2: "if the boot loader sees any of these bits set but doesn't understand the flag or can't
    // fulfill the requirements it indicates for some reason, it must notify the user and fail to load".
    throw new MultibootError(
      "UnsupportedFlags",
      `Multiboot header flags ${hex(found.header.flags)} require bits ${
        hex(unsupported)
      } this loader cannot fulfil (supported requirement bits: ${hex(MULTIBOOT_SUPPORTED_REQUIRED_FLAGS)})`,
      { field: "flags", value: found.header.flags, limit: MULTIBOOT_SUPPORTED_REQUIRED_FLAGS },
    );
  }
  return found;
}

/** Checks that `[addr, addr + len)` lies below 4 GiB and in guest memory. */
// `mem` undefined: inspection, which checks the 32-bit limit but has no guest memory to check against.
function checkGuestRange(mem: GuestMemory | undefined, field: string, addr: number, len: number): void {
  if (addr + len > MULTIBOOT_ADDRESS_LIMIT) {
    throw new MultibootError(
      "AddressOverflow",
      `${field}: [${hex(addr)}, ${hex(addr + len)}) passes the 32-bit address limit ${hex(MULTIBOOT_ADDRESS_LIMIT)}`,
      { field, value: addr + len, limit: MULTIBOOT_ADDRESS_LIMIT },
    );
  }
  const miss = mem?.firstMissing(addr, len);
  if (miss !== undefined) {
    throw new MultibootError(
      "LoadOutsideMemory",
      `${field}: [${hex(addr)}, ${hex(addr + len)}) is not in guest memory (byte ${hex(miss)} is in no region)`,
      { field, value: addr, limit: miss },
    );
  }
}

/**
 * Plans an a.out-kludge load from the address fields. `loadFromStart` is the Multiboot2 load_addr -1 case.
 */
function planAddressFields(
  mem: GuestMemory | undefined,
  f: MultibootAddressFields,
  entryAddr: number,
  headerOffset: number,
  imageSize: number,
  label: string,
): { steps: PlanStep[]; loadStart: number; loadEnd: number } {
  let loadAddr = f.load_addr;
  let loadOffset: number;
  if (label === "multiboot2" && f.load_addr === MULTIBOOT2_LOAD_FROM_FILE_START) {
    // "Special value -1 means that the file must be loaded from its beginning."
    if (f.header_addr < headerOffset) {
      throw new MultibootError(
        "InvalidLoadOffset",
        `header_addr ${hex(f.header_addr)} is below the header's file offset ${
          hex(headerOffset)
        }: loading the file from its beginning would start below address 0`,
        { field: "header_addr", value: f.header_addr, limit: headerOffset },
      );
    }
    loadAddr = f.header_addr - headerOffset;
    loadOffset = 0;
  } else {
    // "load_addr must be less than or equal to header_addr."
    if (f.load_addr > f.header_addr) {
      throw new MultibootError(
        "InvalidHeaderAddr",
        `header_addr ${hex(f.header_addr)} is below load_addr ${hex(f.load_addr)}`,
        { field: "header_addr", value: f.header_addr, limit: f.load_addr },
      );
    }
    // "The offset in the OS image file at which to start loading is defined by the offset at which the
    // header was found, minus (header_addr - load_addr)."
    loadOffset = headerOffset - (f.header_addr - f.load_addr);
    if (loadOffset < 0) {
      throw new MultibootError(
        "InvalidLoadOffset",
        `header_addr - load_addr = ${hex(f.header_addr - f.load_addr)} is more than the header's file offset ${
          hex(headerOffset)
        }: loading would start before the file`,
        { field: "load_addr", value: f.header_addr - f.load_addr, limit: headerOffset },
      );
    }
  }
  let loadLen: number;
  if (f.load_end_addr === 0) {
    // "If this field is zero, the boot loader assumes that the text and data segments occupy the whole
    // OS image file."
    loadLen = imageSize - loadOffset;
  } else {
    if (f.load_end_addr < loadAddr) {
      throw new MultibootError(
        "InvalidLoadEndAddr",
        `load_end_addr ${hex(f.load_end_addr)} is below load_addr ${hex(loadAddr)}`,
        { field: "load_end_addr", value: f.load_end_addr, limit: loadAddr },
      );
    }
    loadLen = f.load_end_addr - loadAddr;
    if (loadOffset + loadLen > imageSize) {
      throw new MultibootError(
        "LoadPastImageEnd",
        `load_end_addr ${hex(f.load_end_addr)} asks for ${hex(loadLen)} bytes from file offset ${
          hex(loadOffset)
        }, past the end of the ${hex(imageSize)}-byte image (largest load_end_addr ${
          hex(loadAddr + imageSize - loadOffset)
        })`,
        { field: "load_end_addr", value: f.load_end_addr, limit: loadAddr + imageSize - loadOffset },
      );
    }
  }
  const loadEnd = loadAddr + loadLen;
  if (loadEnd > MULTIBOOT_ADDRESS_LIMIT) {
    throw new MultibootError(
      "AddressOverflow",
      `load_addr ${hex(loadAddr)} + ${hex(loadLen)} image bytes = ${hex(loadEnd)} passes the 32-bit limit`,
      { field: "load_end_addr", value: loadEnd, limit: MULTIBOOT_ADDRESS_LIMIT },
    );
  }
  let bssEnd = loadEnd;
  if (f.bss_end_addr !== 0) {
    // "If this field is zero, the boot loader assumes that no bss segment is present."
    if (f.bss_end_addr < loadEnd) {
      throw new MultibootError(
        "InvalidBssEndAddr",
        `bss_end_addr ${hex(f.bss_end_addr)} is below the end of the loaded image ${hex(loadEnd)}`,
        { field: "bss_end_addr", value: f.bss_end_addr, limit: loadEnd },
      );
    }
    bssEnd = f.bss_end_addr;
  }
  if (entryAddr < loadAddr || entryAddr >= loadEnd) {
    throw new MultibootError(
      "InvalidEntryAddr",
      `entry_addr ${hex(entryAddr)} is outside the loaded image [${hex(loadAddr)}, ${hex(loadEnd)})`,
      { field: "entry_addr", value: entryAddr, limit: loadEnd },
    );
  }
  checkGuestRange(mem, "load_addr", loadAddr, loadLen);
  checkGuestRange(mem, "bss_end_addr", loadEnd, bssEnd - loadEnd);
  const steps: PlanStep[] = [
    { kind: "copy", guestAddr: loadAddr, length: loadLen, sourceOffset: loadOffset, label: `${label} text+data` },
  ];
  if (bssEnd > loadEnd) {
    steps.push({ kind: "fill", guestAddr: loadEnd, length: bssEnd - loadEnd, value: 0, label: `${label} bss` });
  }
  return { steps, loadStart: loadAddr, loadEnd: bssEnd };
}

/** Plans an ELF32 (i386) load at the program headers' physical addresses. */
async function planElf32(
  mem: GuestMemory | undefined,
  src: KernelSource,
  label: string,
): Promise<{ steps: PlanStep[]; loadStart: number; loadEnd: number; entry: number }> {
  if (src.size < ELF32_EHDR.size) {
    throw new MultibootError(
      "NotElf",
      `the image has no address fields and is too small (${src.size} bytes) for an ELF32 header (${ELF32_EHDR.size})`,
      { field: "e_ident", value: src.size, limit: ELF32_EHDR.size },
    );
  }
  const eb = await readBytes(src, 0, ELF32_EHDR.size);
  const edv = dataView(eb);
  if (!ELFMAG.every((b, i) => eb[i] === b)) {
    const magic = edv.getUint32(0, false), want = new DataView(ELFMAG.buffer).getUint32(0, false);
    throw new MultibootError(
      "NotElf",
      `the image has no address fields and no ELF magic (e_ident starts ${hex(magic)}, expected ${hex(want)})`,
      { field: "e_ident", value: magic, limit: want },
    );
  }
  const ehdr = ELF32_EHDR.read(edv, 0);
  const cls = ehdr.e_ident[EI_CLASS], data = ehdr.e_ident[EI_DATA];
  if (cls !== ELFCLASS32) {
    throw new MultibootError("InvalidElfClass", `e_ident[EI_CLASS] is ${cls}, expected ${ELFCLASS32} (ELFCLASS32)`, {
      field: "e_ident[EI_CLASS]",
      value: cls,
      limit: ELFCLASS32,
    });
  }
  if (data !== ELFDATA2LSB) {
    throw new MultibootError(
      "InvalidElfData",
      `e_ident[EI_DATA] is ${data}, expected ${ELFDATA2LSB} (ELFDATA2LSB, little endian)`,
      { field: "e_ident[EI_DATA]", value: data, limit: ELFDATA2LSB },
    );
  }
  if (ehdr.e_machine !== EM_386) {
    throw new MultibootError("InvalidElfMachine", `e_machine is ${ehdr.e_machine}, expected ${EM_386} (EM_386)`, {
      field: "e_machine",
      value: ehdr.e_machine,
      limit: EM_386,
    });
  }
  if (ehdr.e_type !== ET_EXEC) {
    throw new MultibootError("InvalidElfType", `e_type is ${ehdr.e_type}, expected ${ET_EXEC} (ET_EXEC)`, {
      field: "e_type",
      value: ehdr.e_type,
      limit: ET_EXEC,
    });
  }
  if (ehdr.e_phentsize !== ELF32_PHDR.size) {
    throw new MultibootError(
      "InvalidProgramHeaderSize",
      `e_phentsize is ${ehdr.e_phentsize}, expected ${ELF32_PHDR.size} (sizeof Elf32_Phdr)`,
      { field: "e_phentsize", value: ehdr.e_phentsize, limit: ELF32_PHDR.size },
    );
  }
  const phEnd = ehdr.e_phoff + ehdr.e_phnum * ELF32_PHDR.size;
  if (phEnd > src.size) {
    throw new MultibootError(
      "ProgramHeaderPastEnd",
      `program headers [${hex(ehdr.e_phoff)}, ${hex(phEnd)}) pass the end of the ${hex(src.size)}-byte image`,
      { field: "e_phoff", value: phEnd, limit: src.size },
    );
  }
  const pb = await readBytes(src, ehdr.e_phoff, ehdr.e_phnum * ELF32_PHDR.size);
  const pdv = dataView(pb);
  const loads: { i: number; ph: Elf32Phdr }[] = [];
  for (let i = 0; i < ehdr.e_phnum; i++) {
    const ph = ELF32_PHDR.read(pdv, i * ELF32_PHDR.size);
    if (ph.p_type !== PT_LOAD || ph.p_memsz === 0) continue;
    const name = `PT_LOAD[${i}]`;
    if (ph.p_filesz > ph.p_memsz) {
      throw new MultibootError(
        "SegmentFileszAboveMemsz",
        `${name}: p_filesz ${hex(ph.p_filesz)} is above p_memsz ${hex(ph.p_memsz)}`,
        { field: `${name}.p_filesz`, value: ph.p_filesz, limit: ph.p_memsz },
      );
    }
    if (ph.p_offset + ph.p_filesz > src.size) {
      throw new MultibootError(
        "SegmentPastEnd",
        `${name}: file bytes [${hex(ph.p_offset)}, ${hex(ph.p_offset + ph.p_filesz)}) pass the end of the ${
          hex(src.size)
        }-byte image`,
        { field: `${name}.p_offset`, value: ph.p_offset + ph.p_filesz, limit: src.size },
      );
    }
    checkGuestRange(mem, `${name}.p_paddr`, ph.p_paddr, ph.p_memsz);
    loads.push({ i, ph });
  }
  if (loads.length === 0) {
    throw new MultibootError("NoLoadSegments", `the ELF32 image has no PT_LOAD segment with p_memsz > 0`, {
      field: "e_phnum",
      value: ehdr.e_phnum,
    });
  }
  const steps: PlanStep[] = [];
  for (const { i, ph } of loads) {
    if (ph.p_filesz > 0) {
      steps.push({
        kind: "copy",
        guestAddr: ph.p_paddr,
        length: ph.p_filesz,
        sourceOffset: ph.p_offset,
        label: `${label} PT_LOAD[${i}]`,
      });
    }
    if (ph.p_memsz > ph.p_filesz) {
      steps.push({
        kind: "fill",
        guestAddr: ph.p_paddr + ph.p_filesz,
        length: ph.p_memsz - ph.p_filesz,
        value: 0,
        label: `${label} PT_LOAD[${i}] bss`,
      });
    }
  }
  try {
    checkNoOverlap({ steps });
  } catch (e) {
    throw new MultibootError("SegmentOverlap", `two PT_LOAD segments overlap: ${(e as Error).message}`, { cause: e });
  }
  // The entry point is a virtual address: translate it through the segment that holds it.
  const holder = loads.find(({ ph }) => ehdr.e_entry >= ph.p_vaddr && ehdr.e_entry < ph.p_vaddr + ph.p_memsz);
  if (holder === undefined) {
    throw new MultibootError(
      "InvalidEntryAddr",
      `e_entry ${hex(ehdr.e_entry)} is in no PT_LOAD segment`,
      { field: "e_entry", value: ehdr.e_entry },
    );
  }
  const entry = holder.ph.p_paddr + (ehdr.e_entry - holder.ph.p_vaddr);
  const loadStart = Math.min(...loads.map(({ ph }) => ph.p_paddr));
  const loadEnd = Math.max(...loads.map(({ ph }) => ph.p_paddr + ph.p_memsz));
  return { steps, loadStart, loadEnd, entry };
}

async function headBytes(src: KernelSource, window: number): Promise<Uint8Array> {
  return await readBytes(src, 0, Math.min(src.size, window));
}

/**
 * Plans a Multiboot 1 load without writing: decodes the header, then places the image from the address
 * fields (flag bit 16) or its ELF32 program headers, checking every range against the image and guest
 * memory. Errors: {@linkcode MultibootError} with one code per header field check.
 *
 * @example
 * ```ts
 * import { GuestMemory, planMultiboot } from "@linux-loader/linux-loader";
 * // A 64-byte a.out-kludge image loaded at 1 MiB, whose entry is the byte after the header.
 * const img = new Uint8Array(64);
 * const dv = new DataView(img.buffer);
 * const flags = 0x10000;
 * [0x1badb002, flags, -(0x1badb002 + flags) >>> 0, 0x100000, 0x100000, 0, 0x100100, 0x100020]
 *   .forEach((v, i) => dv.setUint32(i * 4, v, true));
 * const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
 * const r = await planMultiboot(mem, img);
 * console.log(r.details.placement, r.entry.multiboot?.toString(16), r.loadEnd.toString(16)); // aout-kludge 100020 100100
 * ```
 */
export async function planMultiboot(
  mem: GuestMemory,
  source: KernelSource | Uint8Array,
  opts: LoadOptions = {},
): Promise<MultibootLoadResult> {
  return await planMultibootIn(mem, toSource(source), opts);
}

/**
 * {@linkcode planMultiboot} or {@linkcode planMultiboot2}; with `mem` undefined, without the check against
 * guest memory (what inspection uses). Internal: `mod.ts` does not re-export it.
 */
export async function decodeMultibootLoad(
  version: 1 | 2,
  mem: GuestMemory | undefined,
  src: KernelSource,
  opts: LoadOptions = {},
): Promise<MultibootLoadResult> {
  return version === 1 ? await planMultibootIn(mem, src, opts) : await planMultiboot2In(mem, src, opts);
}

async function planMultibootIn(
  mem: GuestMemory | undefined,
  src: KernelSource,
  opts: LoadOptions,
): Promise<MultibootLoadResult> {
  checkLoadOptions("multiboot", opts);
  checkArch("i386", opts);
  const found = decodeMultibootHeader(await headBytes(src, MULTIBOOT_SEARCH));
  const h = found.header;
  const base = { headerOffset: found.offset, pageAlignModules: (h.flags & MULTIBOOT_PAGE_ALIGN) !== 0 };
  if ((h.flags & MULTIBOOT_AOUT_KLUDGE) !== 0 && opts.preferElf !== true) {
    const r = planAddressFields(mem, h, h.entry_addr, found.offset, src.size, "multiboot");
    return result("multiboot", opts, h.entry_addr, r, { ...base, placement: "aout-kludge" });
  }
  const r = await planElf32(mem, src, "multiboot");
  return result("multiboot", opts, r.entry, r, { ...base, placement: "elf32" });
}

// The common result of both protocols, after the highmemStart check.
function result(
  format: "multiboot" | "multiboot2",
  opts: LoadOptions,
  entry: number,
  r: { steps: PlanStep[]; loadStart: number; loadEnd: number },
  details: MultibootDetails,
): MultibootLoadResult {
  checkHighmem(r.loadStart, opts, "Multiboot load address");
  return {
    format,
    arch: "i386",
    entry: { multiboot: entry },
    loadStart: r.loadStart,
    loadEnd: r.loadEnd,
    kernelEnd: r.loadEnd,
    plan: { steps: r.steps },
    details,
  };
}

/**
 * Loads a Multiboot 1 kernel: {@linkcode planMultiboot}, then `applyPlan`. Nothing is written when a check
 * fails.
 *
 * @example
 * ```ts
 * import { GuestMemory, loadMultiboot } from "@linux-loader/linux-loader";
 * const img = new Uint8Array(64);
 * const dv = new DataView(img.buffer);
 * const flags = 0x10000;
 * [0x1badb002, flags, -(0x1badb002 + flags) >>> 0, 0x100000, 0x100000, 0, 0, 0x100020]
 *   .forEach((v, i) => dv.setUint32(i * 4, v, true));
 * const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
 * await loadMultiboot(mem, img);
 * console.log(mem.readU32(0x100000).toString(16)); // 1badb002
 * ```
 */
export async function loadMultiboot(
  mem: GuestMemory,
  source: KernelSource | Uint8Array,
  opts: LoadOptions = {},
): Promise<MultibootLoadResult> {
  const src = toSource(source);
  const r = await planMultiboot(mem, src, opts);
  await applyPlan(mem, r.plan, src);
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Multiboot2
// ---------------------------------------------------------------------------------------------------

/** A Multiboot2 header found in an image, with its tags decoded. */
export interface FoundMultiboot2Header {
  /** File offset of the magic. */
  offset: number;
  /** The fixed part. */
  header: Multiboot2Header;
  /** The information request tag's types, with whether the tag was optional. */
  infoRequests: { types: number[]; optional: boolean }[];
  /** The address tag, if any. */
  address?: MultibootAddressFields;
  /** The entry address tag's entry_addr, if any. */
  entryAddr?: number;
  /** A module alignment tag is present: modules must be page aligned. */
  moduleAlign: boolean;
  /** Types of optional tags this loader does not support and ignored. */
  ignoredTags: number[];
}

function findMb2Magic(bytes: Uint8Array): { offset: number; header: Multiboot2Header; window: number }[] {
  const dv = dataView(bytes);
  const window = Math.min(bytes.byteLength, MULTIBOOT2_SEARCH);
  const out = [];
  for (let off = 0; off + 4 <= window; off += MULTIBOOT2_HEADER_ALIGN) {
    if (dv.getUint32(off, true) !== MULTIBOOT2_HEADER_MAGIC) continue;
    const header = off + MULTIBOOT2_HEADER.size <= window
      ? MULTIBOOT2_HEADER.read(dv, off)
      : { magic: MULTIBOOT2_HEADER_MAGIC, architecture: 0, header_length: 0, checksum: 0 };
    out.push({ offset: off, header, window });
  }
  return out;
}

function mb2ChecksumOk(h: Multiboot2Header): boolean {
  return u32sum(h.magic, h.architecture, h.header_length, h.checksum) === 0;
}

/**
 * Finds the first Multiboot2 header with a valid checksum at an 8-byte-aligned offset in the first 32768
 * bytes, and decodes its tags. Returns undefined when there is none; throws {@linkcode MultibootError} when
 * the header found is malformed (see {@linkcode decodeMultiboot2Header}).
 *
 * @example
 * ```ts
 * import { findMultiboot2Header } from "@linux-loader/linux-loader";
 * const img = new Uint8Array(64);
 * const dv = new DataView(img.buffer);
 * dv.setUint32(0, 0xe85250d6, true); // magic
 * dv.setUint32(4, 0, true); // architecture i386
 * dv.setUint32(8, 24, true); // header_length: 16 + end tag
 * dv.setUint32(12, -(0xe85250d6 + 24) >>> 0, true); // checksum
 * dv.setUint32(20, 8, true); // end tag: type 0, flags 0, size 8
 * console.log(findMultiboot2Header(img)?.offset); // 0
 * ```
 */
export function findMultiboot2Header(bytes: Uint8Array): FoundMultiboot2Header | undefined {
  requireBytes(bytes, "bytes", MultibootError, "InvalidArgument");
  const c = findMb2Magic(bytes).find((m) => m.offset + MULTIBOOT2_HEADER.size <= m.window && mb2ChecksumOk(m.header));
  return c === undefined ? undefined : decodeMb2Tags(bytes, c.offset, c.header, c.window);
}

/**
 * Finds and checks the Multiboot2 header and its tags. Codes: `HeaderNotFound`, `HeaderTruncated`,
 * `InvalidChecksum`, `InvalidArchitecture`, `InvalidHeaderLength`, `TagTruncated`, `InvalidTagSize`,
 * `UnsupportedTag` (a required tag this loader does not support), `UnsupportedInfoRequest` (a required
 * request for an information type the specification does not define), `MissingEndTag`,
 * `MissingEntryAddress` (an address tag without an entry address tag).
 *
 * @example
 * ```ts
 * import { decodeMultiboot2Header, MultibootError } from "@linux-loader/linux-loader";
 * try {
 *   decodeMultiboot2Header(new Uint8Array(64));
 * } catch (e) {
 *   console.log((e as MultibootError).code); // HeaderNotFound
 * }
 * ```
 */
export function decodeMultiboot2Header(bytes: Uint8Array): FoundMultiboot2Header {
  requireBytes(bytes, "bytes", MultibootError, "InvalidArgument");
  const magics = findMb2Magic(bytes);
  const window = Math.min(bytes.byteLength, MULTIBOOT2_SEARCH);
  if (magics.length === 0) {
    throw new MultibootError(
      "HeaderNotFound",
      `no Multiboot2 header (magic ${
        hex(MULTIBOOT2_HEADER_MAGIC)
      } at an 8-byte-aligned offset) in the first ${window} bytes`,
      { field: "magic", limit: window },
    );
  }
  const good = magics.find((m) => m.offset + MULTIBOOT2_HEADER.size <= window && mb2ChecksumOk(m.header));
  if (good === undefined) {
    const m = magics[0];
    if (m.offset + MULTIBOOT2_HEADER.size > window) {
      throw new MultibootError(
        "HeaderTruncated",
        `Multiboot2 header at ${hex(m.offset)}: its 16 fixed bytes pass the ${window}-byte search window`,
        { field: "checksum", value: m.offset + MULTIBOOT2_HEADER.size, limit: window },
      );
    }
    const h = m.header;
    const want = u32sum(0, -(h.magic + h.architecture + h.header_length));
    throw new MultibootError(
      "InvalidChecksum",
      `Multiboot2 header at ${hex(m.offset)}: checksum ${hex(h.checksum)} makes the sum ${
        hex(u32sum(h.magic, h.architecture, h.header_length, h.checksum))
      }, not 0 (expected checksum ${hex(want)})`,
      { field: "checksum", value: h.checksum, limit: want },
    );
  }
  return decodeMb2Tags(bytes, good.offset, good.header, window);
}

function decodeMb2Tags(bytes: Uint8Array, offset: number, h: Multiboot2Header, window: number): FoundMultiboot2Header {
  if (h.architecture !== MULTIBOOT2_ARCHITECTURE_I386) {
    throw new MultibootError(
      "InvalidArchitecture",
      `Multiboot2 architecture is ${h.architecture}, expected ${MULTIBOOT2_ARCHITECTURE_I386} (i386 protected mode)`,
      { field: "architecture", value: h.architecture, limit: MULTIBOOT2_ARCHITECTURE_I386 },
    );
  }
  const minLen = MULTIBOOT2_HEADER.size + MULTIBOOT2_END_TAG_SIZE;
  if (h.header_length < minLen) {
    throw new MultibootError(
      "InvalidHeaderLength",
      `Multiboot2 header_length ${h.header_length} is below ${minLen} (the fixed part and an end tag)`,
      { field: "header_length", value: h.header_length, limit: minLen },
    );
  }
  const end = offset + h.header_length;
  if (end > window) {
    throw new MultibootError(
      "HeaderTruncated",
      `Multiboot2 header at ${hex(offset)}: header_length ${h.header_length} passes the ${window}-byte search window`,
      { field: "header_length", value: end, limit: window },
    );
  }
  const dv = dataView(bytes);
  const out: FoundMultiboot2Header = { offset, header: h, infoRequests: [], moduleAlign: false, ignoredTags: [] };
  let pos = offset + MULTIBOOT2_HEADER.size;
  let sawEnd = false;
  while (pos < end) {
    if (pos + MULTIBOOT2_HEADER_TAG.size > end) {
      throw new MultibootError(
        "TagTruncated",
        `Multiboot2 header tag at ${hex(pos)}: its 8-byte head passes header_length (end ${hex(end)})`,
        { field: "size", value: pos + MULTIBOOT2_HEADER_TAG.size, limit: end },
      );
    }
    const tag = MULTIBOOT2_HEADER_TAG.read(dv, pos);
    const name = `tag type ${tag.type} at ${hex(pos)}`;
    if (tag.size < MULTIBOOT2_HEADER_TAG.size || pos + tag.size > end) {
      throw new MultibootError(
        "TagTruncated",
        `Multiboot2 ${name}: size ${tag.size} is below 8 or passes header_length (end ${hex(end)})`,
        { field: "size", value: tag.size, limit: end - pos },
      );
    }
    const optional = (tag.flags & MULTIBOOT2_HEADER_TAG_OPTIONAL) !== 0;
    const needSize = (want: number, ok: boolean): void => {
      if (!ok) {
        throw new MultibootError("InvalidTagSize", `Multiboot2 ${name}: size ${tag.size}, expected ${want}`, {
          field: "size",
          value: tag.size,
          limit: want,
        });
      }
    };
    switch (tag.type) {
      case MULTIBOOT2_HEADER_TAG_END:
        needSize(MULTIBOOT2_END_TAG_SIZE, tag.size === MULTIBOOT2_END_TAG_SIZE);
        sawEnd = true;
        break;
      case MULTIBOOT2_HEADER_TAG_INFORMATION_REQUEST: {
        const n = (tag.size - MULTIBOOT2_HEADER_TAG.size) / MULTIBOOT2_INFO_REQUEST_ENTRY_SIZE;
        needSize(MULTIBOOT2_HEADER_TAG.size + Math.floor(n) * MULTIBOOT2_INFO_REQUEST_ENTRY_SIZE, Number.isInteger(n));
        const types: number[] = [];
        for (let i = 0; i < n; i++) {
          const t = dv.getUint32(pos + MULTIBOOT2_HEADER_TAG.size + i * MULTIBOOT2_INFO_REQUEST_ENTRY_SIZE, true);
          // "If the bootloader does not understand the meaning of the requested tag it must fail with an
          // error" (unless the request is optional). Known types it cannot supply are simply not provided.
          if (t > MULTIBOOT2_TAG_TYPE_MAX_KNOWN && !optional) {
            throw new MultibootError(
              "UnsupportedInfoRequest",
              `Multiboot2 information request for tag type ${t}, which the specification does not define (highest ${MULTIBOOT2_TAG_TYPE_MAX_KNOWN})`,
              { field: "mbi_tag_types", value: t, limit: MULTIBOOT2_TAG_TYPE_MAX_KNOWN },
            );
          }
          types.push(t);
        }
        out.infoRequests.push({ types, optional });
        break;
      }
      case MULTIBOOT2_HEADER_TAG_ADDRESS: {
        needSize(MULTIBOOT2_ADDRESS_TAG.size, tag.size === MULTIBOOT2_ADDRESS_TAG.size);
        const a = MULTIBOOT2_ADDRESS_TAG.read(dv, pos);
        out.address = {
          header_addr: a.header_addr,
          load_addr: a.load_addr,
          load_end_addr: a.load_end_addr,
          bss_end_addr: a.bss_end_addr,
        };
        break;
      }
      case MULTIBOOT2_HEADER_TAG_ENTRY_ADDRESS:
        needSize(MULTIBOOT2_ENTRY_ADDRESS_TAG.size, tag.size === MULTIBOOT2_ENTRY_ADDRESS_TAG.size);
        out.entryAddr = MULTIBOOT2_ENTRY_ADDRESS_TAG.get(dv, pos, "entry_addr");
        break;
      case MULTIBOOT2_HEADER_TAG_MODULE_ALIGN:
        needSize(MULTIBOOT2_MODULE_ALIGN_TAG_SIZE, tag.size === MULTIBOOT2_MODULE_ALIGN_TAG_SIZE);
        out.moduleAlign = true;
        break;
      default:
        // "If bit 0 of 'flags' (aka 'optional') is set, the bootloader may ignore this tag if it lacks
        // relevant support."
        if (!optional) {
          throw new MultibootError(
            "UnsupportedTag",
            `Multiboot2 ${name} is required (flags ${hex(tag.flags)}) but not supported by this loader`,
            { field: "type", value: tag.type },
          );
        }
        out.ignoredTags.push(tag.type);
    }
    if (sawEnd) break;
    pos += alignUp(tag.size, MULTIBOOT2_TAG_ALIGN);
  }
  if (!sawEnd) {
    throw new MultibootError(
      "MissingEndTag",
      `Multiboot2 header at ${hex(offset)}: no end tag (type 0, size 8) within header_length ${h.header_length}`,
      { field: "header_length", value: h.header_length },
    );
  }
  if (out.address !== undefined && out.entryAddr === undefined) {
    throw new MultibootError(
      "MissingEntryAddress",
      `Multiboot2 header at ${hex(offset)} has an address tag but no entry address tag`,
      { field: "entry_addr" },
    );
  }
  return out;
}

/**
 * Plans a Multiboot2 load without writing: decodes the header and tags, then places the image from the
 * address tag or its ELF32 program headers (the entry address tag, when present, overrides e_entry).
 *
 * @example
 * ```ts
 * import { GuestMemory, planMultiboot2 } from "@linux-loader/linux-loader";
 * const img = new Uint8Array(96);
 * const dv = new DataView(img.buffer);
 * const len = 16 + 24 + 16 + 8; // fixed part, address tag, entry tag (12, padded), end tag
 * [0xe85250d6, 0, len, -(0xe85250d6 + len) >>> 0].forEach((v, i) => dv.setUint32(i * 4, v, true));
 * dv.setUint16(16, 2, true); dv.setUint32(20, 24, true); // address tag
 * [0x200000, 0x200000, 0, 0].forEach((v, i) => dv.setUint32(24 + i * 4, v, true));
 * dv.setUint16(40, 3, true); dv.setUint32(44, 12, true); dv.setUint32(48, 0x200040, true); // entry tag
 * dv.setUint32(60, 8, true); // end tag
 * const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
 * const r = await planMultiboot2(mem, img);
 * console.log(r.entry.multiboot?.toString(16), r.plan.steps[0].guestAddr.toString(16)); // 200040 200000
 * ```
 */
export async function planMultiboot2(
  mem: GuestMemory,
  source: KernelSource | Uint8Array,
  opts: LoadOptions = {},
): Promise<MultibootLoadResult> {
  return await planMultiboot2In(mem, toSource(source), opts);
}

async function planMultiboot2In(
  mem: GuestMemory | undefined,
  src: KernelSource,
  opts: LoadOptions,
): Promise<MultibootLoadResult> {
  checkLoadOptions("multiboot2", opts);
  checkArch("i386", opts);
  const found = decodeMultiboot2Header(await headBytes(src, MULTIBOOT2_SEARCH));
  const base = { headerOffset: found.offset, pageAlignModules: found.moduleAlign };
  if (found.address !== undefined && found.entryAddr !== undefined && opts.preferElf !== true) {
    const r = planAddressFields(mem, found.address, found.entryAddr, found.offset, src.size, "multiboot2");
    return result("multiboot2", opts, found.entryAddr, r, { ...base, placement: "aout-kludge" });
  }
  const r = await planElf32(mem, src, "multiboot2");
  let entry = r.entry;
  if (found.entryAddr !== undefined) {
    entry = found.entryAddr;
    if (entry < r.loadStart || entry >= r.loadEnd) {
      throw new MultibootError(
        "InvalidEntryAddr",
        `entry_addr ${hex(entry)} is outside the loaded image [${hex(r.loadStart)}, ${hex(r.loadEnd)})`,
        { field: "entry_addr", value: entry, limit: r.loadEnd },
      );
    }
  }
  return result("multiboot2", opts, entry, r, { ...base, placement: "elf32" });
}

/**
 * Loads a Multiboot2 kernel: {@linkcode planMultiboot2}, then `applyPlan`.
 *
 * @example
 * ```ts
 * import { GuestMemory, loadMultiboot2 } from "@linux-loader/linux-loader";
 * const img = new Uint8Array(96);
 * const dv = new DataView(img.buffer);
 * const len = 16 + 24 + 16 + 8;
 * [0xe85250d6, 0, len, -(0xe85250d6 + len) >>> 0].forEach((v, i) => dv.setUint32(i * 4, v, true));
 * dv.setUint16(16, 2, true); dv.setUint32(20, 24, true);
 * [0x200000, 0x200000, 0, 0x201000].forEach((v, i) => dv.setUint32(24 + i * 4, v, true));
 * dv.setUint16(40, 3, true); dv.setUint32(44, 12, true); dv.setUint32(48, 0x200040, true);
 * dv.setUint32(60, 8, true);
 * const mem = GuestMemory.fromRanges([[0, 4 << 20]]);
 * const r = await loadMultiboot2(mem, img);
 * console.log(mem.readU32(0x200000).toString(16), r.loadEnd.toString(16)); // e85250d6 201000
 * ```
 */
export async function loadMultiboot2(
  mem: GuestMemory,
  source: KernelSource | Uint8Array,
  opts: LoadOptions = {},
): Promise<MultibootLoadResult> {
  const src = toSource(source);
  const r = await planMultiboot2(mem, src, opts);
  await applyPlan(mem, r.plan, src);
  return r;
}
