/**
 * Boot parameters as the crate models them: a header (the zero page, `hvm_start_info` or an FDT blob)
 * with its guest address, optional sections (e820 entries, the PVH memory map) and optional modules
 * (PVH module list), each with its own guest address.
 *
 * @module
 */

import { ConfiguratorError, hex } from "../errors.ts";
import { requireArray, requireBytes, requireMemory, requireNumber, requireObject } from "../guard.ts";
import type { GuestMemory } from "../memory.ts";

/**
 * What a configurator writes. Mirrors rust-vmm linux-loader's `BootParams`.
 *
 * @example
 * ```ts
 * import { BootParams } from "@linux-loader/linux-loader";
 * const p = new BootParams(new Uint8Array(4096), 0x7000);
 * p.addSection(new Uint8Array(20), 0x9000);
 * console.log(p.sections?.length); // 20
 * ```
 */
export class BootParams {
  /** The header bytes (zero page, start_info, or FDT). */
  header: Uint8Array;
  /** Guest address of the header. */
  headerStart: number;
  /** Concatenated section bytes, if any. */
  sections?: Uint8Array;
  /** Guest address of the sections. */
  sectionsStart?: number;
  /** Concatenated module bytes, if any. */
  modules?: Uint8Array;
  /** Guest address of the modules. */
  modulesStart?: number;

  /** Header bytes at a guest address. */
  constructor(header: Uint8Array, headerStart: number) {
    this.header = header;
    this.headerStart = headerStart;
  }

  /** Replaces the sections with `sections` (concatenated) at `addr`. */
  setSections(sections: readonly Uint8Array[], addr: number): void {
    checkParts(sections, addr, "sections");
    this.sections = concat(sections);
    this.sectionsStart = addr;
  }

  /**
   * Appends one section. The first call needs `addr`; later calls may pass the address right after the
   * previous section or omit it. Returns the section's guest address. Errors as the crate:
   * `MissingStartAddress`, `Overflow`, `InvalidAddress`.
   */
  addSection(section: Uint8Array, addr?: number): number {
    const r = addToList(section, addr, this.sections, this.sectionsStart);
    this.sections = r.list;
    this.sectionsStart = r.start;
    return r.at;
  }

  /** Replaces the modules with `modules` (concatenated) at `addr`. */
  setModules(modules: readonly Uint8Array[], addr: number): void {
    checkParts(modules, addr, "modules");
    this.modules = concat(modules);
    this.modulesStart = addr;
  }

  /** Appends one module entry; address rules as {@linkcode BootParams.addSection}. */
  addModule(module: Uint8Array, addr?: number): number {
    const r = addToList(module, addr, this.modules, this.modulesStart);
    this.modules = r.list;
    this.modulesStart = r.start;
    return r.at;
  }
}

// The BootParams last found to be of bytes and its three parts (the same params written again and again, as a
// VMM's reset path and the benchmarks do, skip the type tests). Only params of at most REMEMBER_MAX bytes are
// remembered: what stays referenced after the VM is gone is bounded.
let lastParams: unknown, lastHeader: unknown, lastSections: unknown, lastModules: unknown;
const REMEMBER_MAX = 64 << 10;

/**
 * Whether `p` is a {@linkcode BootParams} whose header, sections and modules are `Uint8Array`s (or absent):
 * the configurators' fast paths, which then check only addresses. The last such params and parts are
 * remembered by identity, so writing the same params again skips the type tests (five of them cost 11 of a
 * PVH configure's 55 ns here). Internal: the package's `mod.ts` does not re-export it.
 */
export function bootParamsOfBytes(p: unknown): p is BootParams {
  if (p === lastParams && p !== undefined) {
    const q = p as BootParams;
    if (q.header === lastHeader && q.sections === lastSections && q.modules === lastModules) return true;
  }
  if (!(p instanceof BootParams)) return false;
  const header = p.header, sections = p.sections, modules = p.modules;
  if (
    !(header instanceof Uint8Array) || (sections !== undefined && !(sections instanceof Uint8Array)) ||
    (modules !== undefined && !(modules instanceof Uint8Array))
  ) return false;
  if (header.byteLength + (sections?.byteLength ?? 0) + (modules?.byteLength ?? 0) > REMEMBER_MAX) return true;
  lastParams = p;
  lastHeader = header;
  lastSections = sections;
  lastModules = modules;
  return true;
}

function checkParts(parts: unknown, addr: unknown, field: string): void {
  requireArray(parts, field, ConfiguratorError, "InvalidArgument");
  for (let i = 0; i < parts.length; i++) requireBytes(parts[i], `${field}[${i}]`, ConfiguratorError, "InvalidArgument");
  requireNumber(addr, "addr", ConfiguratorError, "InvalidArgument");
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

// Largest section or module list (16 MiB): far more than any memory map or module list needs.
const MAX_LIST_BYTES = 1 << 24;

// The crate's add_boot_parameter_to_list: the first element fixes the list's start address; an element
// goes at its own address (offset from the start, the gap zero-filled, an overlap replaced) or, without
// one, right after the list's current end.
function addToList(
  elem: Uint8Array,
  addr: number | undefined,
  list: Uint8Array | undefined,
  start: number | undefined,
): { list: Uint8Array; start: number; at: number } {
  start ??= addr;
  if (start === undefined) {
    throw new ConfiguratorError("MissingStartAddress", "the first boot parameter of a list needs a guest address", {
      field: "addr",
    });
  }
  const old = list ?? new Uint8Array(0);
  const at = addr ?? start + old.byteLength;
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(at + elem.byteLength)) {
    throw new ConfiguratorError("Overflow", `boot parameter at ${hex(start)} + ${hex(old.byteLength)} overflows`, {
      field: "addr",
      value: at,
      limit: Number.MAX_SAFE_INTEGER,
    });
  }
  if (at < start) {
    throw new ConfiguratorError("InvalidAddress", `address ${hex(at)} precedes the list start ${hex(start)}`, {
      field: "addr",
      value: at,
      limit: start,
    });
  }
  const off = at - start;
  // The gap up to an element is zero-filled in the list: bound it, or one far address allocates gigabytes.
  if (off + elem.byteLength > MAX_LIST_BYTES) {
    throw new ConfiguratorError(
      "Overflow",
      `boot parameter at ${hex(at)} is ${hex(off)} bytes past the list start ${hex(start)}: the list would pass ${
        hex(MAX_LIST_BYTES)
      } bytes`,
      { field: "addr", value: at, limit: start + MAX_LIST_BYTES - elem.byteLength },
    );
  }
  const out = new Uint8Array(Math.max(old.byteLength, off + elem.byteLength));
  out.set(old);
  out.set(elem, off);
  return { list: out, start, at };
}

/**
 * Checks the JavaScript types of a configurator's arguments (a `GuestMemory`, and a `BootParams` or an object
 * of its shape) so a wrong value is an `InvalidArgument` ConfiguratorError, never a TypeError. Internal.
 */
export function checkConfiguratorArgs(mem: unknown, params: unknown): asserts mem is GuestMemory {
  requireMemory(mem, "mem", ConfiguratorError, "InvalidArgument");
  requireObject(params, "params", ConfiguratorError, "InvalidArgument");
  const p = params as Partial<BootParams>;
  requireBytes(p.header, "params.header", ConfiguratorError, "InvalidArgument");
  requireNumber(p.headerStart, "params.headerStart", ConfiguratorError, "InvalidArgument");
  if (p.sections !== undefined) requireBytes(p.sections, "params.sections", ConfiguratorError, "InvalidArgument");
  if (p.modules !== undefined) requireBytes(p.modules, "params.modules", ConfiguratorError, "InvalidArgument");
}
