/**
 * The one loader contract. Every format (ELF `vmlinux`, bzImage, arm64 / riscv64 `Image`, Multiboot 1 and
 * 2) is loaded by a `plan*` / `load*` pair with the same shape:
 *
 * ```
 * planX(mem, source, options?) -> Promise<XLoadResult>   // decode, plan, check against mem; writes nothing
 * loadX(mem, source, options?) -> Promise<XLoadResult>   // the same, then the one write (applyPlan)
 * ```
 *
 * and every result has the same fields with the same meanings ({@linkcode LoadResultCommon}): `format`,
 * `arch`, `entry` (one address per boot protocol the image supports, {@linkcode KernelEntries}),
 * `loadStart` / `loadEnd` (the guest range written), `kernelEnd` (where the kernel's own claim on memory
 * ends, at least `loadEnd`), `plan` (the writes) and `details` (the format's own facts).
 *
 * Options ({@linkcode LoadOptions}) have one meaning each. The three placement options are separate names
 * because they are different things: `addend` (ELF: added to every address), `loadAddress` (bzImage: an
 * absolute address) and `imageBase` (Image: a 2 MiB aligned base below `text_offset`); giving one to a
 * format it does not apply to is an error, never silently ignored.
 *
 * @module
 */

import { hex, KernelLoaderError } from "../errors.ts";
import type { Plan } from "../plan.ts";

/** Image formats this library loads. */
export type KernelFormat = "elf" | "bzimage" | "pe" | "multiboot" | "multiboot2";

/** Architectures an image can be for. */
export type KernelArch = "x86_64" | "i386" | "aarch64" | "riscv64";

/**
 * The entry point of every boot protocol a loaded image supports, as guest addresses (never offsets).
 * A field is present only when the image supports that protocol.
 */
export interface KernelEntries {
  /**
   * x86 64-bit boot protocol (long mode, `rsi` = zero page): an ELF's `e_entry` (+ `addend`); a bzImage's
   * load address + 0x200 (`startup_64`), when the header has `XLF_KERNEL_64` or predates `xloadflags`
   * (protocol < 2.12).
   */
  linux64?: number;
  /** x86 32-bit boot protocol (flat protected mode, `esi` = zero page): a bzImage's load address. */
  linux32?: number;
  /** PVH (32-bit, `ebx` = `hvm_start_info`): an ELF's Xen `PHYS32_ENTRY` note. */
  pvh?: number;
  /** Multiboot 1 or 2 (32-bit protected mode, `eax` = magic, `ebx` = boot information). */
  multiboot?: number;
  /** arm64 / riscv64 Image: its first byte (`loadStart`), where the booting documents say to jump. */
  image?: number;
}

/** The fields every loader result has, with one meaning across formats. */
export interface LoadResultCommon {
  /** The format that was loaded. */
  format: KernelFormat;
  /** The architecture the image is for. */
  arch: KernelArch;
  /** Entry points, one per supported boot protocol. */
  entry: KernelEntries;
  /** Lowest guest address the load writes (0 when it writes nothing). */
  loadStart: number;
  /** One past the highest guest address the load writes, zero-filled bss included. */
  loadEnd: number;
  /**
   * One past the highest guest address the kernel claims as it starts: `loadEnd`, or more where the header
   * says the kernel needs more (a bzImage's `init_size` from its runtime start, an Image's `image_size`).
   * Boot data and an initrd belong at or above it.
   */
  kernelEnd: number;
  /** The writes of the load, in order (copy offsets are into the decompressed image for gzip input). */
  plan: Plan;
}

/**
 * Options of every `plan*` / `load*` function and of `loadKernel`. Each option has one meaning; the
 * placement options (`addend`, `loadAddress`, `imageBase`) are refused with {@linkcode KernelLoaderError}
 * `InvalidOption` by a format they do not apply to. The other format-specific options are ignored by the
 * formats they do not name.
 */
export interface LoadOptions {
  /** Every format: the lowest guest address the kernel may occupy; a load below it is refused. */
  highmemStart?: number;
  /**
   * Every format: the architecture the caller expects; an image for another one is
   * {@linkcode KernelLoaderError} `ArchMismatch`.
   */
  arch?: KernelArch;
  /**
   * ELF only: added to every `p_paddr` and to `e_entry` (the crate's `kernel_offset` for ELF). When given,
   * even 0, the PVH note is not looked for (PVH needs the link-time address) and `details.pvhBootCap` is
   * `ignored`.
   */
  addend?: number;
  /**
   * bzImage only: the absolute guest address of the protected-mode kernel (its first byte and its 32-bit
   * entry). Defaults to the header's `code32_start`.
   */
  loadAddress?: number;
  /**
   * Image only: the 2 MiB aligned base; the Image goes `text_offset` above it (booting.rst: "The Image must
   * be placed text_offset bytes from a 2MB aligned base address anywhere in usable system RAM"). Defaults to
   * the lowest 2 MiB boundary in guest memory at or above `highmemStart`.
   */
  imageBase?: number;
  /** ELF only: the required `e_machine`; `EM_X86_64` by default, `null` accepts any. */
  machine?: number | null;
  /** Image only: also require `image_size` bytes from the load address to be guest memory. */
  checkImageSize?: boolean;
  /** gzip Image only: the largest decompressed size accepted (default: the guest memory at the load address). */
  maxDecompressedSize?: number;
  /** Multiboot only: ignore the header's address fields and load from the ELF32 program headers. */
  preferElf?: boolean;
}

const PLACEMENT: Readonly<Record<"addend" | "loadAddress" | "imageBase", readonly KernelFormat[]>> = {
  addend: ["elf"],
  loadAddress: ["bzimage"],
  imageBase: ["pe"],
};
// Made once: checkLoadOptions runs on every load.
const PLACEMENT_ENTRIES = Object.entries(PLACEMENT) as [keyof typeof PLACEMENT, readonly KernelFormat[]][];
const ADDRESS_OPTIONS = ["highmemStart", "addend", "loadAddress", "imageBase"] as const;

/**
 * The loaders' default options: no option given (frozen, so nothing can be added to it), which
 * {@linkcode checkLoadOptions} and a loader's other option checks can skip. Internal.
 */
export const NO_OPTIONS: LoadOptions = Object.freeze({});

/**
 * Checks the options shared by every loader for `format`: address options are non-negative safe
 * integers, placement options belong to this format. Internal: `mod.ts` does not re-export it.
 */
export function checkLoadOptions(format: KernelFormat, opts: LoadOptions): void {
  if (opts === NO_OPTIONS) return;
  if (typeof opts !== "object" || opts === null) {
    throw new KernelLoaderError("InvalidOption", `the options of a ${format} load are not an object`, {
      field: "options",
      value: opts === null ? "null" : typeof opts,
    });
  }
  for (const name of ADDRESS_OPTIONS) checkAddressOption(name, opts[name]);
  for (const [name, formats] of PLACEMENT_ENTRIES) {
    if (opts[name] !== undefined && !formats.includes(format)) {
      throw new KernelLoaderError(
        "InvalidOption",
        `option ${name} applies to ${formats.join(", ")} images, not to this ${format} image`,
        { field: name, value: format, limit: formats.join(" | ") },
      );
    }
  }
}

/**
 * Throws {@linkcode KernelLoaderError} `InvalidKernelStartAddress` naming the option when `v` is given and
 * is not a non-negative safe integer (a guest address). Internal.
 */
export function checkAddressOption(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
    throw new KernelLoaderError(
      "InvalidKernelStartAddress",
      `option ${name} = ${String(v)} is not a non-negative safe integer`,
      { field: name, value: String(v), limit: Number.MAX_SAFE_INTEGER },
    );
  }
}

/** Throws `ArchMismatch` when the caller expected another architecture. Internal. */
export function checkArch(found: KernelArch, opts: LoadOptions): void {
  if (opts.arch !== undefined && opts.arch !== found) {
    throw new KernelLoaderError("ArchMismatch", `the image is for ${found}, not ${opts.arch} as expected`, {
      field: "arch",
      value: found,
      limit: opts.arch,
    });
  }
}

/** Throws `InvalidKernelStartAddress` when the load starts below `highmemStart`. Internal. */
export function checkHighmem(loadStart: number, opts: LoadOptions, what: string): void {
  if (opts.highmemStart !== undefined && loadStart < opts.highmemStart) {
    throw new KernelLoaderError(
      "InvalidKernelStartAddress",
      `${what} ${hex(loadStart)} is below the high memory start ${hex(opts.highmemStart)}`,
      { field: what, value: loadStart, limit: opts.highmemStart },
    );
  }
}

/** The lowest start and highest end of a plan's steps ([0, 0] for an empty plan). Internal. */
export function planExtent(plan: Plan): { start: number; end: number } {
  let start = Infinity, end = 0;
  for (const s of plan.steps) {
    const len = s.kind === "bytes" ? s.bytes.byteLength : s.length;
    start = Math.min(start, s.guestAddr);
    end = Math.max(end, s.guestAddr + len);
  }
  return start === Infinity ? { start: 0, end: 0 } : { start, end };
}
