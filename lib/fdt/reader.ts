/**
 * Reads a flattened device tree blob into an {@linkcode FdtTree}, validating everything first-hand: the
 * magic, `totalsize` against the bytes given, every block's offset and size inside `totalsize`, the
 * structure block's token stream (one root, balanced nodes, properties before subnodes, FDT_END last),
 * every name and property-name string NUL-terminated inside its block. Anything wrong is an
 * {@linkcode FdtError}; the reader never reads outside the blob, never recurses, and always advances, so
 * hostile input can neither throw a `RangeError` nor hang it.
 *
 * @module
 */

import { FdtError, type FdtErrorCode, hex } from "../errors.ts";
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER,
  FDT_MAGIC,
  FDT_MIN_READ_VERSION,
  FDT_NOP,
  FDT_PROP,
  FDT_PROP_HEADER_SIZE,
  FDT_RESERVE_ENTRY,
  FDT_RSVMAP_ALIGN,
  FDT_TOKEN_ALIGN,
  FDT_VERSION,
  type FdtHeader,
} from "./header.ts";
import type { FdtNode, FdtReservation, FdtTree } from "./tree.ts";

/** What {@linkcode readFdt} returns: the tree and the header it came with. */
export interface FdtBlob extends FdtTree {
  /** The decoded header. */
  header: FdtHeader;
}

function fail(code: FdtErrorCode, message: string, field?: string, value?: number, limit?: number): FdtError {
  return new FdtError(code, message, { field, value, limit });
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Decodes and validates only the 40-byte header: magic, version, totalsize and the block bounds.
 *
 * @example
 * ```ts
 * import { FdtBuilder, readFdtHeader } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * b.endNode();
 * console.log(readFdtHeader(b.finish()).version); // 17
 * ```
 */
export function readFdtHeader(blob: Uint8Array): FdtHeader {
  if (!(blob instanceof Uint8Array)) {
    throw new FdtError("Truncated", "the device tree blob is not a Uint8Array", { field: "blob" });
  }
  if (blob.byteLength < FDT_HEADER.size) {
    throw fail(
      "Truncated",
      `the blob has ${blob.byteLength} bytes, fewer than the 40-byte header`,
      "header",
      blob.byteLength,
      FDT_HEADER.size,
    );
  }
  const h = FDT_HEADER.decode(blob);
  if (h.magic !== FDT_MAGIC) {
    throw fail("BadMagic", `magic is ${hex(h.magic)}, expected ${hex(FDT_MAGIC)}`, "magic", h.magic, FDT_MAGIC);
  }
  if (h.version < FDT_MIN_READ_VERSION || h.last_comp_version > FDT_VERSION) {
    throw fail(
      "BadVersion",
      `version ${h.version} (last_comp_version ${h.last_comp_version}) is not readable: need version >= ${FDT_MIN_READ_VERSION} and last_comp_version <= ${FDT_VERSION}`,
      "version",
      h.version,
      FDT_VERSION,
    );
  }
  if (h.totalsize < FDT_HEADER.size) {
    throw fail(
      "BadOffset",
      `totalsize ${hex(h.totalsize)} is smaller than the header`,
      "totalsize",
      h.totalsize,
      FDT_HEADER.size,
    );
  }
  if (h.totalsize > blob.byteLength) {
    throw fail(
      "Truncated",
      `totalsize ${hex(h.totalsize)} passes the ${hex(blob.byteLength)} bytes given`,
      "totalsize",
      h.totalsize,
      blob.byteLength,
    );
  }
  // Version 16 has no size_dt_struct: the structure block then runs at most to totalsize.
  if (h.version < 17) h.size_dt_struct = h.totalsize - Math.min(h.off_dt_struct, h.totalsize);
  const block = (off: keyof FdtHeader, size: number, align: number): void => {
    const o = h[off];
    if (o < FDT_HEADER.size || o % align !== 0 || o > h.totalsize || size > h.totalsize - o) {
      throw fail(
        "BadOffset",
        `${off} ${hex(o)} (+ ${hex(size)} bytes) is not a ${align}-byte aligned block inside [${
          hex(FDT_HEADER.size)
        }, ${hex(h.totalsize)})`,
        off,
        o,
        h.totalsize,
      );
    }
  };
  block("off_mem_rsvmap", 0, FDT_RSVMAP_ALIGN);
  block("off_dt_struct", h.size_dt_struct, FDT_TOKEN_ALIGN);
  block("off_dt_strings", h.size_dt_strings, 1);
  return h;
}

/**
 * Parses and validates a blob. Errors ({@linkcode FdtError}): `Truncated` (shorter than the header or
 * than totalsize; a block or value ends early), `BadMagic`, `BadVersion`, `BadOffset` (a block outside
 * totalsize or misaligned), `BadToken`, `BadString` (a property name offset outside the strings block or
 * not NUL-terminated), `BadName` (a node name not NUL-terminated), `BadStructure` (unbalanced nodes, a
 * property outside a node or after a subnode, data after the root, no FDT_END), `DuplicateName`.
 *
 * @example
 * ```ts
 * import { FdtBuilder, fdtString, findNode, getProperty, readFdt } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * b.beginNode("chosen");
 * b.propertyString("bootargs", "quiet");
 * b.endNode();
 * b.endNode();
 * const tree = readFdt(b.finish());
 * console.log(fdtString(getProperty(findNode(tree.root, "/chosen")!, "bootargs")!)); // quiet
 * ```
 */
export function readFdt(blob: Uint8Array): FdtBlob {
  const h = readFdtHeader(blob);
  const dv = new DataView(blob.buffer, blob.byteOffset, h.totalsize);
  const reservations = readReservations(dv, h);
  const root = readStructure(blob.subarray(0, h.totalsize), dv, h);
  return { header: h, root, reservations, bootCpuidPhys: h.boot_cpuid_phys };
}

function readReservations(dv: DataView, h: FdtHeader): FdtReservation[] {
  const out: FdtReservation[] = [];
  for (let o = h.off_mem_rsvmap;; o += FDT_RESERVE_ENTRY.size) {
    if (o + FDT_RESERVE_ENTRY.size > h.totalsize) {
      throw fail(
        "Truncated",
        `the memory reservation block has no terminating entry before totalsize ${hex(h.totalsize)}`,
        "off_mem_rsvmap",
        o,
        h.totalsize,
      );
    }
    const e = FDT_RESERVE_ENTRY.read(dv, o);
    if (e.address === 0n && e.size === 0n) return out;
    out.push(e);
  }
}

function readStructure(blob: Uint8Array, dv: DataView, h: FdtHeader): FdtNode {
  const start = h.off_dt_struct;
  const end = start + h.size_dt_struct;
  const strStart = h.off_dt_strings;
  const strEnd = strStart + h.size_dt_strings;
  const stack: FdtNode[] = [];
  const propNames: Set<string>[] = [];
  const childNames: Set<string>[] = [];
  let root: FdtNode | undefined;
  let o = start;

  // The NUL-terminated string at `from`, and its length without the NUL, if the NUL comes before `limit`.
  const cstring = (from: number, limit: number): [string, number] | undefined => {
    const nul = blob.subarray(from, limit).indexOf(0);
    return nul < 0 ? undefined : [decoder.decode(blob.subarray(from, from + nul)), nul];
  };
  const align = (n: number): number => (n + FDT_TOKEN_ALIGN - 1) & ~(FDT_TOKEN_ALIGN - 1);

  for (;;) {
    if (o + 4 > end) {
      throw fail("Truncated", `the structure block ends at ${hex(end)} without FDT_END`, "size_dt_struct", o, end);
    }
    const token = dv.getUint32(o, false);
    const at = o;
    o += 4;
    switch (token) {
      case FDT_BEGIN_NODE: {
        const found = cstring(o, end);
        if (found === undefined) {
          throw fail(
            "BadName",
            `node name at ${hex(o)} is not NUL-terminated inside the structure block`,
            "name",
            o,
            end,
          );
        }
        const [name, nameLength] = found;
        o = align(o + nameLength + 1);
        if (o > end) throw fail("Truncated", `node "${name}" passes the structure block`, "name", o, end);
        if (stack.length === 0 && root !== undefined) {
          throw fail("BadStructure", `a second root node "${name}" at ${hex(at)}`, "FDT_BEGIN_NODE", at);
        }
        const node: FdtNode = { name, properties: [], children: [] };
        const parent = stack[stack.length - 1];
        if (parent !== undefined) {
          const names = childNames[childNames.length - 1];
          if (names.has(name)) {
            throw fail("DuplicateName", `node "${parent.name}" has two children named "${name}"`, "name", at);
          }
          names.add(name);
          parent.children.push(node);
        } else {
          root = node;
        }
        stack.push(node);
        propNames.push(new Set());
        childNames.push(new Set());
        break;
      }
      case FDT_END_NODE: {
        if (stack.pop() === undefined) {
          throw fail("BadStructure", `FDT_END_NODE at ${hex(at)} without an open node`, "FDT_END_NODE", at);
        }
        propNames.pop();
        childNames.pop();
        break;
      }
      case FDT_PROP: {
        if (o + FDT_PROP_HEADER_SIZE > end) {
          throw fail("Truncated", `FDT_PROP at ${hex(at)} passes the structure block`, "FDT_PROP", at, end);
        }
        const len = dv.getUint32(o, false);
        const nameoff = dv.getUint32(o + 4, false);
        o += FDT_PROP_HEADER_SIZE;
        if (len > end - o) {
          throw fail(
            "Truncated",
            `property value of ${hex(len)} bytes at ${hex(o)} passes the structure block`,
            "len",
            len,
            end - o,
          );
        }
        const node = stack[stack.length - 1];
        if (node === undefined) {
          throw fail("BadStructure", `FDT_PROP at ${hex(at)} outside any node`, "FDT_PROP", at);
        }
        if (nameoff >= h.size_dt_strings) {
          throw fail(
            "BadString",
            `property name offset ${hex(nameoff)} is outside the ${hex(h.size_dt_strings)}-byte strings block`,
            "nameoff",
            nameoff,
            h.size_dt_strings,
          );
        }
        const name = cstring(strStart + nameoff, strEnd)?.[0];
        if (name === undefined) {
          throw fail(
            "BadString",
            `property name at strings offset ${hex(nameoff)} is not NUL-terminated`,
            "nameoff",
            nameoff,
            h.size_dt_strings,
          );
        }
        if (node.children.length > 0) {
          throw fail("BadStructure", `property "${name}" of node "${node.name}" follows a subnode`, "FDT_PROP", at);
        }
        const names = propNames[propNames.length - 1];
        if (names.has(name)) {
          throw fail("DuplicateName", `node "${node.name}" has two properties named "${name}"`, "name", at);
        }
        names.add(name);
        node.properties.push({ name, value: blob.slice(o, o + len) });
        o = align(o + len);
        break;
      }
      case FDT_NOP:
        break;
      case FDT_END: {
        if (stack.length > 0) {
          throw fail("BadStructure", `FDT_END at ${hex(at)} with ${stack.length} node(s) still open`, "FDT_END", at);
        }
        if (root === undefined) throw fail("BadStructure", "the structure block has no root node", "FDT_END", at);
        return root;
      }
      default:
        throw fail("BadToken", `unknown token ${hex(token)} at ${hex(at)}`, "token", token);
    }
  }
}
