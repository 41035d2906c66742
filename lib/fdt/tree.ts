/**
 * A device tree as plain values: nodes with named byte-string properties and children, as the reader
 * returns and {@linkcode buildFdt} writes. Property values are raw bytes (big-endian cells, NUL-terminated
 * strings), with decoders for the common types.
 *
 * @module
 */

import { FdtError } from "../errors.ts";

/** One property: a name and its raw value. */
export interface FdtProperty {
  /** Property name, e.g. `"reg"`. */
  name: string;
  /** Raw value bytes. */
  value: Uint8Array;
}

/** One node: its name (`"memory@40000000"`, `""` for the root), properties and children, in blob order. */
export interface FdtNode {
  /** Node name with unit address, `""` for the root. */
  name: string;
  /** Properties in order. */
  properties: FdtProperty[];
  /** Child nodes in order. */
  children: FdtNode[];
}

/** A memory reservation: a physical range the OS must not use. */
export interface FdtReservation {
  /** Physical address. */
  address: bigint;
  /** Size in bytes. */
  size: bigint;
}

/** A whole device tree: the root node, the memory reservations and the boot CPU id. */
export interface FdtTree {
  /** The root node. */
  root: FdtNode;
  /** Memory reservation block entries (without the terminating zero entry). */
  reservations: FdtReservation[];
  /** Header `boot_cpuid_phys`. */
  bootCpuidPhys: number;
}

/**
 * The node at an absolute path (`"/"`, `"/chosen"`, `"/cpus/cpu@0"`), or `undefined`. A path component
 * without `@` also matches a node whose name has a unit address, when it is the only such node.
 *
 * @example
 * ```ts
 * import { findNode } from "@linux-loader/linux-loader";
 * const root = { name: "", properties: [], children: [{ name: "chosen", properties: [], children: [] }] };
 * console.log(findNode(root, "/chosen")?.name); // chosen
 * ```
 */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  checkNode(root, "root");
  if (typeof path !== "string") throw new FdtError("BadName", "the path is not a string", { field: "path" });
  let node: FdtNode | undefined = root;
  for (const part of path.split("/").filter((p) => p !== "")) {
    if (node === undefined) return undefined;
    const exact: FdtNode | undefined = node.children.find((c) => c.name === part);
    if (exact !== undefined) {
      node = exact;
      continue;
    }
    const loose: FdtNode[] = part.includes("@") ? [] : node.children.filter((c) => c.name.split("@")[0] === part);
    node = loose.length === 1 ? loose[0] : undefined;
  }
  return node;
}

/**
 * The value of property `name` of `node`, or `undefined`.
 *
 * @example
 * ```ts
 * import { getProperty } from "@linux-loader/linux-loader";
 * const node = { name: "chosen", properties: [{ name: "x", value: new Uint8Array([1]) }], children: [] };
 * console.log(getProperty(node, "x")); // Uint8Array(1) [ 1 ]
 * ```
 */
export function getProperty(node: FdtNode, name: string): Uint8Array | undefined {
  checkNode(node, "node");
  return node.properties.find((p) => p.name === name)?.value;
}

function badValue(what: string, value: Uint8Array, expected: string): FdtError {
  return new FdtError("BadValue", `${what} value has ${value.byteLength} bytes, expected ${expected}`, {
    field: what,
    value: value.byteLength,
    limit: expected,
  });
}

/** Throws `BadValue` when a property value handed in is not bytes at all. */
function checkBytes(what: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new FdtError("BadValue", `${what} value is not a Uint8Array`, {
      field: what,
      value: value === null ? "null" : typeof value,
    });
  }
}

function checkNode(node: unknown, what: string): asserts node is FdtNode {
  if (typeof node !== "object" || node === null || !Array.isArray((node as FdtNode).properties)) {
    throw new FdtError("BadStructure", `${what} is not a node`, { field: what });
  }
}

function view(v: Uint8Array): DataView {
  return new DataView(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Decodes a one-cell (big-endian u32) value; `FdtError` `BadValue` unless it has exactly 4 bytes.
 *
 * @example
 * ```ts
 * import { fdtU32 } from "@linux-loader/linux-loader";
 * console.log(fdtU32(new Uint8Array([0, 0, 1, 0]))); // 256
 * ```
 */
export function fdtU32(value: Uint8Array): number {
  checkBytes("u32", value);
  if (value.byteLength !== 4) throw badValue("u32", value, "4");
  return view(value).getUint32(0, false);
}

/**
 * Decodes a two-cell (big-endian u64) value; `BadValue` unless it has exactly 8 bytes.
 *
 * @example
 * ```ts
 * import { fdtU64 } from "@linux-loader/linux-loader";
 * console.log(fdtU64(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 0]))); // 4294967296n
 * ```
 */
export function fdtU64(value: Uint8Array): bigint {
  checkBytes("u64", value);
  if (value.byteLength !== 8) throw badValue("u64", value, "8");
  return view(value).getBigUint64(0, false);
}

/**
 * Decodes a list of big-endian u32 cells; `BadValue` unless the length is a multiple of 4.
 *
 * @example
 * ```ts
 * import { fdtCells } from "@linux-loader/linux-loader";
 * console.log(fdtCells(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2]))); // [ 1, 2 ]
 * ```
 */
export function fdtCells(value: Uint8Array): number[] {
  checkBytes("cells", value);
  if (value.byteLength % 4 !== 0) throw badValue("cells", value, "a multiple of 4");
  const dv = view(value);
  return Array.from({ length: value.byteLength / 4 }, (_, i) => dv.getUint32(i * 4, false));
}

/**
 * Decodes a string list (`"a\0b\0"`); `BadValue` when empty or not NUL-terminated.
 *
 * @example
 * ```ts
 * import { fdtStringList } from "@linux-loader/linux-loader";
 * console.log(fdtStringList(new TextEncoder().encode("arm,pl011\0arm,primecell\0"))); // [ "arm,pl011", "arm,primecell" ]
 * ```
 */
export function fdtStringList(value: Uint8Array): string[] {
  checkBytes("string", value);
  if (value.byteLength === 0 || value[value.byteLength - 1] !== 0) {
    throw badValue("string", value, "a NUL-terminated string");
  }
  return new TextDecoder().decode(value.subarray(0, -1)).split("\0");
}

/**
 * Decodes a single string (`"abc\0"`); `BadValue` when not exactly one NUL-terminated string.
 *
 * @example
 * ```ts
 * import { fdtString } from "@linux-loader/linux-loader";
 * console.log(fdtString(new TextEncoder().encode("console=ttyAMA0\0"))); // console=ttyAMA0
 * ```
 */
export function fdtString(value: Uint8Array): string {
  const list = fdtStringList(value);
  if (list.length !== 1) throw badValue("string", value, "one NUL-terminated string");
  return list[0];
}
