/**
 * The zero page's `setup_data` list (`Documentation/arch/x86/boot.rst`, "Field name: setup_data",
 * protocol 2.09+): nodes `struct setup_data { u64 next; u32 type; u32 len; u8 data[len]; }` chained by
 * physical address, the last with `next = 0`, the head in `hdr.setup_data`. This module lays a list out at a
 * guest address, plans its write (the one write path, {@linkcode applyPlanSync}), and makes the common
 * nodes: an RNG seed (`SETUP_RNG_SEED`), a device tree (`SETUP_DTB`), and the e820 entries beyond the zero
 * page's 128 (`SETUP_E820_EXT`).
 *
 * Protocol checks: boot.rst gives one version for the list itself (2.09) and one for `SETUP_INDIRECT`
 * (2.15); the individual types have none (a kernel skips types it does not know), but 2.15 kernels publish
 * the largest type they accept in `kernel_info.setup_type_max`, which the caller may pass.
 *
 * @module
 */

import {
  SETUP_DATA,
  SETUP_DATA_MIN_PROTOCOL,
  SETUP_DTB,
  SETUP_E820_EXT,
  SETUP_INDIRECT,
  SETUP_INDIRECT_MIN_PROTOCOL,
  SETUP_RNG_SEED,
} from "../abi/setup_data.ts";
import { BOOT_E820_ENTRY, type SetupHeader } from "../abi/bootparam.ts";
import { ConfiguratorError, hex } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { applyPlanSync, type Plan } from "../plan.ts";
import { encodeE820Table, type MemmapEntry } from "./memmap.ts";
import { requireArray, requireMemory, requireNumber, requireObject } from "../guard.ts";

/** One node's content: its type and its data bytes. */
export interface SetupDataEntry {
  /** `SETUP_*` type. */
  type: number;
  /** The payload (`data[len]`). */
  data: Uint8Array;
  /** What it is, for plans and errors. */
  label?: string;
}

/** Options of {@linkcode planSetupData}. */
export interface SetupDataOptions {
  /** The kernel's setup header (only `version` is read); the list needs protocol 2.09+. */
  header: Pick<SetupHeader, "version">;
  /** Guest address of the first node. */
  addr: number;
  /** Alignment of each node; 8 by default (the `u64 next` field's natural alignment). */
  align?: number;
  /** An existing list to append: the last new node's `next` (0 by default). */
  next?: number;
  /** `kernel_info.setup_type_max` of a 2.15+ kernel: larger types are refused. */
  setupTypeMax?: number;
}

/** One node as laid out. */
export interface SetupDataNode {
  /** Guest address of the node header. */
  addr: number;
  /** `next`. */
  next: number;
  /** `type`. */
  type: number;
  /** `len`. */
  len: number;
  /** What it is. */
  label: string;
}

/** A laid-out list: where it starts and ends, its nodes, and the plan that writes it. */
export interface SetupDataLayout {
  /** Address of the first node, for `hdr.setup_data` (the `next` option when there are no entries). */
  head: number;
  /** One past the last byte written. */
  end: number;
  /** The nodes in list order. */
  nodes: SetupDataNode[];
  /** One `bytes` step per node. */
  plan: Plan;
}

/**
 * The default size of an RNG seed: 32 bytes, as QEMU passes.
 *
 * @example
 * ```ts
 * import { RNG_SEED_DEFAULT_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(RNG_SEED_DEFAULT_SIZE); // 32
 * ```
 */
export const RNG_SEED_DEFAULT_SIZE = 32;

const U32_MAX = 0xffff_ffff;
const MAX = Number.MAX_SAFE_INTEGER;

function checkProtocol(version: number, field: string, need: number, what: string): void {
  if (version < need) {
    throw new ConfiguratorError(
      "ProtocolTooOld",
      `boot protocol ${hex(version)} cannot express ${what}: ${field} needs protocol ${hex(need)} or later`,
      { field, value: version, limit: need },
    );
  }
}

/**
 * Lays out `entries` as a setup_data list from `opts.addr` (each node aligned, each `next` pointing at the
 * following one) and returns the plan. Throws {@linkcode ConfiguratorError} `ProtocolTooOld` (naming the
 * version and the field) for a protocol before 2.09, for a `SETUP_INDIRECT` type before 2.15, or for a type
 * above `setupTypeMax`; `Overflow` for a node longer than a u32 `len` or a list passing 2^53;
 * `InvalidAddress` for a malformed address or alignment.
 *
 * @example
 * ```ts
 * import { planSetupData, rngSeedSetupData } from "@linux-loader/linux-loader";
 * const l = planSetupData([rngSeedSetupData(new Uint8Array(32))], { header: { version: 0x20f }, addr: 0x9000 });
 * console.log(l.head.toString(16), l.end.toString(16), l.nodes[0].len); // 9000 9030 32
 * ```
 */
export function planSetupData(entries: readonly SetupDataEntry[], opts: SetupDataOptions): SetupDataLayout {
  requireArray(entries, "entries", ConfiguratorError, "InvalidArgument");
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const align = opts.align ?? 8;
  const tail = opts.next ?? 0;
  for (const [field, v] of [["addr", opts.addr], ["next", tail]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new ConfiguratorError("InvalidAddress", `setup_data ${field} ${String(v)} is not a guest address`, {
        field,
        value: String(v),
        limit: MAX,
      });
    }
  }
  if (!Number.isSafeInteger(align) || align <= 0 || 2 ** Math.round(Math.log2(align)) !== align) {
    throw new ConfiguratorError("InvalidAddress", `setup_data alignment ${String(align)} is not a power of two`, {
      field: "align",
      value: String(align),
    });
  }
  if (entries.length === 0) return { head: tail, end: opts.addr, nodes: [], plan: { steps: [] } };
  checkProtocol(opts.header.version, "setup_data", SETUP_DATA_MIN_PROTOCOL, "a setup_data list");
  const addrs: number[] = [];
  let at = Math.ceil(opts.addr / align) * align;
  entries.forEach((e, i) => {
    if ((e.type & SETUP_INDIRECT) !== 0) {
      checkProtocol(opts.header.version, `setup_data[${i}].type`, SETUP_INDIRECT_MIN_PROTOCOL, "SETUP_INDIRECT");
    }
    if (opts.setupTypeMax !== undefined && e.type > opts.setupTypeMax) {
      throw new ConfiguratorError(
        "ProtocolTooOld",
        `setup_data[${i}].type ${hex(e.type)} is above the kernel's setup_type_max ${hex(opts.setupTypeMax)}`,
        { field: `setup_data[${i}].type`, value: e.type, limit: opts.setupTypeMax },
      );
    }
    if (e.data.byteLength > U32_MAX) {
      throw new ConfiguratorError("Overflow", `setup_data[${i}] has ${e.data.byteLength} bytes; len is a u32`, {
        field: `setup_data[${i}].len`,
        value: e.data.byteLength,
        limit: U32_MAX,
      });
    }
    addrs.push(at);
    at = Math.ceil((at + SETUP_DATA.size + e.data.byteLength) / align) * align;
    if (at > MAX) {
      throw new ConfiguratorError("Overflow", `setup_data list passes ${hex(MAX)}`, {
        field: `setup_data[${i}]`,
        value: at,
        limit: MAX,
      });
    }
  });
  const nodes: SetupDataNode[] = [];
  const plan: Plan = { steps: [] };
  entries.forEach((e, i) => {
    const next = i + 1 < entries.length ? addrs[i + 1] : tail;
    const label = e.label ?? `setup_data type ${e.type}`;
    const bytes = new Uint8Array(SETUP_DATA.size + e.data.byteLength);
    SETUP_DATA.write(new DataView(bytes.buffer), 0, { next: BigInt(next), type: e.type, len: e.data.byteLength });
    bytes.set(e.data, SETUP_DATA.size);
    nodes.push({ addr: addrs[i], next, type: e.type, len: e.data.byteLength, label });
    plan.steps.push({ kind: "bytes", guestAddr: addrs[i], bytes, label });
  });
  const last = nodes[nodes.length - 1];
  return { head: addrs[0], end: last.addr + SETUP_DATA.size + last.len, nodes, plan };
}

/**
 * Lays out and writes a setup_data list (as {@linkcode planSetupData}; also `KernelLoaderError`
 * `MemoryOverflow` when a node is outside guest memory). Nothing is written on error. Put the returned
 * `head` in `hdr.setup_data`.
 *
 * @example
 * ```ts
 * import { GuestMemory, rngSeedSetupData, writeSetupData } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
 * const l = writeSetupData(mem, [rngSeedSetupData(16)], { header: { version: 0x20f }, addr: 0x9000 });
 * console.log(mem.readU32(l.head + 8), mem.readU32(l.head + 12)); // 9 16
 * ```
 */
export function writeSetupData(
  mem: GuestMemory,
  entries: readonly SetupDataEntry[],
  opts: SetupDataOptions,
): SetupDataLayout {
  requireMemory(mem, "mem", ConfiguratorError, "InvalidArgument");
  requireArray(entries, "entries", ConfiguratorError, "InvalidArgument");
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const layout = planSetupData(entries, opts);
  applyPlanSync(mem, layout.plan);
  return layout;
}

/**
 * A `SETUP_RNG_SEED` node: the given bytes, or `n` (32 by default) bytes from `crypto.getRandomValues`.
 * The kernel mixes them into its RNG early and wipes them.
 *
 * @example
 * ```ts
 * import { rngSeedSetupData } from "@linux-loader/linux-loader";
 * import { SETUP_RNG_SEED } from "@linux-loader/linux-loader/abi";
 * const e = rngSeedSetupData();
 * console.log(e.type === SETUP_RNG_SEED, e.data.length); // true 32
 * ```
 */
export function rngSeedSetupData(seed: Uint8Array | number = RNG_SEED_DEFAULT_SIZE): SetupDataEntry {
  let data: Uint8Array;
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > U32_MAX) {
      throw new ConfiguratorError("Overflow", `RNG seed length ${String(seed)} is not a u32 byte count`, {
        field: "len",
        value: String(seed),
        limit: U32_MAX,
      });
    }
    data = new Uint8Array(seed);
    // getRandomValues fills at most 65536 bytes per call.
    for (let o = 0; o < seed; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(seed, o + 65536)));
  } else {
    data = seed;
  }
  return { type: SETUP_RNG_SEED, data, label: "setup_data RNG seed" };
}

/**
 * A `SETUP_DTB` node holding a flattened device tree blob (x86 kernels built with `CONFIG_OF` read it).
 *
 * @example
 * ```ts
 * import { dtbSetupData } from "@linux-loader/linux-loader";
 * console.log(dtbSetupData(new Uint8Array(64)).type); // 2
 * ```
 */
export function dtbSetupData(dtb: Uint8Array): SetupDataEntry {
  return { type: SETUP_DTB, data: dtb, label: "setup_data DTB" };
}

/**
 * A `SETUP_E820_EXT` node: `struct boot_e820_entry[]` for the map entries that do not fit the zero page
 * (see `splitE820`); the kernel appends them to the zero page's. No count limit applies to the node.
 *
 * @example
 * ```ts
 * import { e820ExtSetupData } from "@linux-loader/linux-loader";
 * import { E820_RAM } from "@linux-loader/linux-loader/abi";
 * console.log(e820ExtSetupData([{ addr: 0x1_0000_0000, size: 0x1000, type: E820_RAM }]).data.length); // 20
 * ```
 */
export function e820ExtSetupData(entries: readonly MemmapEntry[]): SetupDataEntry {
  requireArray(entries, "entries", ConfiguratorError, "InvalidArgument");
  return {
    type: SETUP_E820_EXT,
    data: encodeE820Table(entries, { maxEntries: Math.floor(U32_MAX / BOOT_E820_ENTRY.size) }),
    label: "setup_data e820 extension",
  };
}

/**
 * Walks a setup_data list in guest memory from `head` (for inspectors and tests): each node's address,
 * next, type and len. Stops at `next = 0`; throws {@linkcode ConfiguratorError} `TooManyEntries` after
 * `maxNodes` (64 by default) nodes, which also catches a cycle, and `MemoryError` `OutOfRange` for a node
 * outside memory.
 *
 * @example
 * ```ts
 * import { GuestMemory, readSetupData, rngSeedSetupData, writeSetupData } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
 * const l = writeSetupData(mem, [rngSeedSetupData(8)], { header: { version: 0x209 }, addr: 0x9000 });
 * console.log(readSetupData(mem, l.head).map((n) => n.type)); // [ 9 ]
 * ```
 */
export function readSetupData(mem: GuestMemory, head: number, maxNodes = 64): SetupDataNode[] {
  requireMemory(mem, "mem", ConfiguratorError, "InvalidArgument");
  requireNumber(head, "head", ConfiguratorError, "InvalidArgument");
  requireNumber(maxNodes, "maxNodes", ConfiguratorError, "InvalidArgument");
  const out: SetupDataNode[] = [];
  let at = head;
  while (at !== 0) {
    if (out.length === maxNodes) {
      throw new ConfiguratorError("TooManyEntries", `setup_data list has more than ${maxNodes} nodes (or a cycle)`, {
        field: "setup_data",
        value: out.length + 1,
        limit: maxNodes,
      });
    }
    const h = SETUP_DATA.decode(mem.read(at, SETUP_DATA.size));
    mem.checkRange(at + SETUP_DATA.size, h.len, "setup_data.data");
    const next = Number(h.next);
    out.push({ addr: at, next, type: h.type, len: h.len, label: `setup_data type ${h.type}` });
    at = next;
  }
  return out;
}
