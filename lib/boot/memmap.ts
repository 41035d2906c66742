/**
 * Memory maps for the guest: the zero page's e820 table (`struct boot_e820_entry`, see
 * `Documentation/arch/x86/zero-page.rst`: "0x1e8 e820_entries", "0x2d0 e820_table") and the PVH memory map
 * (`struct hvm_memmap_table_entry`, Xen's `hvm/start_info.h`), built from the {@linkcode GuestMemory}
 * regions (RAM) and ranges the caller reserves (the legacy hole below 1 MiB, MMIO gaps, the zero page...).
 *
 * Overlaps are resolved the way the kernel sanitises a firmware map (`arch/x86/kernel/e820.c`,
 * `e820__update_table`): where ranges overlap, the larger type value wins, so a reserved range (type 2)
 * splits the RAM (type 1) it covers. The result is sorted, non-overlapping, and adjacent ranges of the same
 * type are merged.
 *
 * @module
 */

import { BOOT_E820_ENTRY, E820_MAX_ENTRIES_ZEROPAGE, E820_RAM, E820_RESERVED } from "../abi/bootparam.ts";
import { HVM_MEMMAP_TABLE_ENTRY } from "../abi/start_info.ts";
import { ConfiguratorError, hex } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { requireArray, requireMemory, requireObject, requireObjects, showValue } from "../guard.ts";

/** One range of a memory map. The type values are shared by e820 and the PVH map (1 RAM, 2 reserved, ...). */
export interface MemmapEntry {
  /** First guest physical address. */
  addr: number;
  /** Size in bytes. */
  size: number;
  /** Range type: `E820_RAM`, `E820_RESERVED`, `E820_ACPI`, ... (equal to `XEN_HVM_MEMMAP_TYPE_*`). */
  type: number;
}

/** A range the caller wants marked as something other than RAM. */
export interface ReservedRange {
  /** First guest physical address. */
  addr: number;
  /** Size in bytes (> 0). */
  size: number;
  /** Range type; {@linkcode E820_RESERVED} when omitted. */
  type?: number;
  /** What the range is, for error messages. */
  label?: string;
}

/**
 * The legacy hole below 1 MiB as Firecracker and QEMU report it: the EBDA from 0x9fc00 (639 KiB of
 * conventional memory), the VGA window at 0xa0000 and the BIOS ROM area up to 0x100000, all reserved.
 *
 * @example
 * ```ts
 * import { buildMemmap, GuestMemory, X86_LEGACY_HOLE } from "@linux-loader/linux-loader";
 * const e820 = buildMemmap(GuestMemory.fromRanges([[0, 64 << 20]]), { reserved: [X86_LEGACY_HOLE] });
 * console.log(e820.map((e) => e.addr.toString(16))); // [ "0", "9fc00", "100000" ]
 * ```
 */
export const X86_LEGACY_HOLE: Readonly<ReservedRange> = Object.freeze({
  addr: 0x9fc00,
  size: 0x100000 - 0x9fc00,
  type: E820_RESERVED,
  label: "EBDA, VGA and BIOS area",
});

/** Options of {@linkcode buildMemmap}. */
export interface MemmapOptions {
  /** Ranges to mark as reserved (or another type); inside or outside guest memory. */
  reserved?: readonly ReservedRange[];
}

const MAX = Number.MAX_SAFE_INTEGER;
const U32_MAX = 0xffff_ffff;

function checkRange(r: ReservedRange, i: number): void {
  const name = r.label === undefined ? `reserved[${i}]` : `reserved[${i}] (${r.label})`;
  if (!Number.isSafeInteger(r.addr) || r.addr < 0) {
    throw new ConfiguratorError("InvalidAddress", `${name}.addr ${String(r.addr)} is not a non-negative safe integer`, {
      field: `reserved[${i}].addr`,
      value: String(r.addr),
      limit: MAX,
    });
  }
  if (!Number.isSafeInteger(r.size) || r.size <= 0 || r.addr + r.size > MAX) {
    throw new ConfiguratorError(
      "InvalidAddress",
      `${name}.size ${String(r.size)} at ${hex(r.addr)} is not a positive size ending at or below ${hex(MAX)}`,
      { field: `reserved[${i}].size`, value: String(r.size), limit: MAX - r.addr },
    );
  }
  const t = r.type ?? E820_RESERVED;
  if (!Number.isInteger(t) || t < 1 || t > U32_MAX) {
    throw new ConfiguratorError("InvalidAddress", `${name}.type ${String(t)} is not a u32 memory type >= 1`, {
      field: `reserved[${i}].type`,
      value: String(t),
      limit: U32_MAX,
    });
  }
}

/**
 * Builds a memory map: every guest memory region as RAM, then the reserved ranges on top. Where ranges
 * overlap the larger type value wins (reserved over RAM: the RAM is split around it), as the kernel's
 * `e820__update_table` resolves overlaps. The result is sorted by address, has no overlaps, and merges
 * touching ranges of the same type. No limit on the count is applied here (see
 * {@linkcode encodeE820Table}, {@linkcode splitE820}).
 *
 * Throws {@linkcode ConfiguratorError} `InvalidAddress` for a reserved range with a negative, fractional
 * or unsafe address, a size that is not positive, or a type below 1.
 *
 * @example Guest RAM below 4 GiB with the legacy hole reserved
 * ```ts
 * import { buildMemmap, GuestMemory, X86_LEGACY_HOLE } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 128 << 20]]);
 * const map = buildMemmap(mem, { reserved: [X86_LEGACY_HOLE] });
 * console.log(map.map((e) => `${e.addr.toString(16)}+${e.size.toString(16)}:${e.type}`).join(" "));
 * // 0+9fc00:1 9fc00+60400:2 100000+7f00000:1
 * ```
 */
export function buildMemmap(mem: GuestMemory, opts: MemmapOptions = {}): MemmapEntry[] {
  requireMemory(mem, "mem", ConfiguratorError, "InvalidArgument");
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const reserved = opts.reserved ?? [];
  reserved.forEach(checkRange);
  const ranges: MemmapEntry[] = mem.regions.map((r) => ({ addr: r.guestAddr, size: r.size, type: E820_RAM }));
  for (const r of reserved) ranges.push({ addr: r.addr, size: r.size, type: r.type ?? E820_RESERVED });

  // Sweep over the boundaries; at each elementary interval the largest covering type wins.
  const events: { at: number; type: number; delta: 1 | -1 }[] = [];
  for (const r of ranges) {
    events.push({ at: r.addr, type: r.type, delta: 1 }, { at: r.addr + r.size, type: r.type, delta: -1 });
  }
  events.sort((a, b) => a.at - b.at);
  const active = new Map<number, number>();
  const out: MemmapEntry[] = [];
  let i = 0;
  while (i < events.length) {
    const at = events[i].at;
    while (i < events.length && events[i].at === at) {
      const e = events[i++];
      const n = (active.get(e.type) ?? 0) + e.delta;
      if (n === 0) active.delete(e.type);
      else active.set(e.type, n);
    }
    if (i === events.length) break;
    const next = events[i].at;
    let type = 0;
    for (const t of active.keys()) if (t > type) type = t;
    if (type === 0) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.type === type && last.addr + last.size === at) last.size += next - at;
    else out.push({ addr: at, size: next - at, type });
  }
  return out;
}

function checkCount(n: number, limit: number, what: string): void {
  if (n > limit) {
    throw new ConfiguratorError("TooManyEntries", `${n} ${what} entries do not fit the table's ${limit}`, {
      field: what,
      value: n,
      limit,
    });
  }
}

/** Options of the table encoders. */
export interface MemmapEncodeOptions {
  /** Most entries allowed; {@linkcode E820_MAX_ENTRIES_ZEROPAGE} (128) by default. */
  maxEntries?: number;
}

/**
 * Encodes entries as `struct boot_e820_entry[]` (20 bytes each, packed), the bytes of the zero page's
 * `e820_table` (or of a `SETUP_E820_EXT` node). Throws {@linkcode ConfiguratorError} `TooManyEntries`
 * naming the count and the limit (128, `E820_MAX_ENTRIES_ZEROPAGE`, unless `maxEntries` says otherwise).
 *
 * @example
 * ```ts
 * import { E820_RAM, encodeE820Table } from "@linux-loader/linux-loader/abi";
 * const bytes = encodeE820Table([{ addr: 0x100000, size: 0x100000, type: E820_RAM }]);
 * console.log(bytes.length, new DataView(bytes.buffer).getBigUint64(0, true).toString(16)); // 20 100000
 * ```
 */
export function encodeE820Table(entries: readonly MemmapEntry[], opts: MemmapEncodeOptions = {}): Uint8Array {
  requireObjects(entries, "entries", ConfiguratorError, "InvalidArgument");
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  checkCount(entries.length, opts.maxEntries ?? E820_MAX_ENTRIES_ZEROPAGE, "e820_entries");
  const out = new Uint8Array(entries.length * BOOT_E820_ENTRY.size);
  const dv = new DataView(out.buffer);
  entries.forEach((e, i) => {
    BOOT_E820_ENTRY.write(dv, i * BOOT_E820_ENTRY.size, {
      addr: entryU64(e.addr, `entries[${i}].addr`),
      size: entryU64(e.size, `entries[${i}].size`),
      type: e.type,
    });
  });
  return out;
}

/**
 * Encodes entries as `struct hvm_memmap_table_entry[]` (24 bytes each, `reserved` zero) for
 * `hvm_start_info.memmap_paddr`. Linux copies the PVH map into its zero page's 128-entry table
 * (`arch/x86/platform/pvh/enlighten.c`), so the same limit applies by default: more entries are
 * {@linkcode ConfiguratorError} `TooManyEntries`.
 *
 * @example
 * ```ts
 * import { E820_RAM, encodeHvmMemmap } from "@linux-loader/linux-loader/abi";
 * console.log(encodeHvmMemmap([{ addr: 0, size: 0x9fc00, type: E820_RAM }]).length); // 24
 * ```
 */
export function encodeHvmMemmap(entries: readonly MemmapEntry[], opts: MemmapEncodeOptions = {}): Uint8Array {
  requireObjects(entries, "entries", ConfiguratorError, "InvalidArgument");
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  checkCount(entries.length, opts.maxEntries ?? E820_MAX_ENTRIES_ZEROPAGE, "memmap_entries");
  const out = new Uint8Array(entries.length * HVM_MEMMAP_TABLE_ENTRY.size);
  const dv = new DataView(out.buffer);
  entries.forEach((e, i) => {
    HVM_MEMMAP_TABLE_ENTRY.write(dv, i * HVM_MEMMAP_TABLE_ENTRY.size, {
      addr: entryU64(e.addr, `entries[${i}].addr`),
      size: entryU64(e.size, `entries[${i}].size`),
      type: e.type,
      reserved: 0,
    });
  });
  return out;
}

/**
 * Splits a map into what fits the zero page (the first 128 entries) and the rest, which a loader passes in a
 * `SETUP_E820_EXT` setup_data node (the kernel appends those entries, `arch/x86/kernel/e820.c`
 * `e820__memory_setup_extended`).
 *
 * @example
 * ```ts
 * import { splitE820 } from "@linux-loader/linux-loader";
 * import { E820_RAM } from "@linux-loader/linux-loader/abi";
 * const map = Array.from({ length: 130 }, (_, i) => ({ addr: i * 0x2000, size: 0x1000, type: E820_RAM }));
 * const { zeroPage, extended } = splitE820(map);
 * console.log(zeroPage.length, extended.length); // 128 2
 * ```
 */
export function splitE820(entries: readonly MemmapEntry[]): { zeroPage: MemmapEntry[]; extended: MemmapEntry[] } {
  requireArray(entries, "entries", ConfiguratorError, "InvalidArgument");
  return {
    zeroPage: entries.slice(0, E820_MAX_ENTRIES_ZEROPAGE),
    extended: entries.slice(E820_MAX_ENTRIES_ZEROPAGE),
  };
}

// An entry's address or size as the table's u64: a safe integer (or a bigint, stored modulo 2^64 as before);
// a fraction, NaN, a Symbol or a missing field is a typed error (BigInt() would throw a RangeError or TypeError).
function entryU64(v: unknown, field: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  throw new ConfiguratorError("InvalidAddress", `${field} = ${showValue(v)} is not an integer`, {
    field,
    value: showValue(v),
  });
}
