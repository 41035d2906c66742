/**
 * Writes flattened device tree blobs (version 17, last compatible version 16): a streaming
 * {@linkcode FdtBuilder} (begin a node, add properties, end it) and {@linkcode buildFdt} for a whole
 * {@linkcode FdtTree}. Property names are stored once in the strings block; names, nesting and order are
 * checked as they are written, so a finished blob is always well formed.
 *
 * Layout of the blob: header (40 bytes), memory reservation block (8-byte aligned), structure block,
 * strings block; `totalsize` is their sum.
 *
 * @module
 */

import { FdtError, hex } from "../errors.ts";
import { showValue } from "../guard.ts";
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_MAX_NAME_LENGTH,
  FDT_PROP,
  FDT_RESERVE_ENTRY,
  FDT_VERSION,
} from "./header.ts";
import type { FdtNode, FdtReservation, FdtTree } from "./tree.ts";

const NODE_NAME_CHARS = /^[A-Za-z0-9,._+-]+$/;
const UNIT_ADDRESS_CHARS = /^[A-Za-z0-9,._+-]*$/;
const PROPERTY_NAME_CHARS = /^[A-Za-z0-9,._+?#-]+$/;
const U32_MAX = 0xffff_ffff;
const HDR_MAGIC = FDT_HEADER.offsetOf("magic");
const HDR_TOTALSIZE = FDT_HEADER.offsetOf("totalsize");
const HDR_OFF_DT_STRUCT = FDT_HEADER.offsetOf("off_dt_struct");
const HDR_OFF_DT_STRINGS = FDT_HEADER.offsetOf("off_dt_strings");
const HDR_OFF_MEM_RSVMAP = FDT_HEADER.offsetOf("off_mem_rsvmap");
const HDR_VERSION = FDT_HEADER.offsetOf("version");
const HDR_LAST_COMP_VERSION = FDT_HEADER.offsetOf("last_comp_version");
const HDR_BOOT_CPUID_PHYS = FDT_HEADER.offsetOf("boot_cpuid_phys");
const HDR_SIZE_DT_STRINGS = FDT_HEADER.offsetOf("size_dt_strings");
const HDR_SIZE_DT_STRUCT = FDT_HEADER.offsetOf("size_dt_struct");
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** Options of {@linkcode FdtBuilder}. */
export interface FdtBuilderOptions {
  /** Header `boot_cpuid_phys`; 0 by default. */
  bootCpuidPhys?: number;
}

interface OpenNode {
  name: string;
  properties: NameSet;
  children: NameSet;
}

/** Names up to this many per node are kept in an array (no Set per node: most have a few); then a Set. */
const SMALL_NAME_LIST = 8;

/** The names seen in one node: a linear scan while short, a Set beyond, so any count stays linear overall. */
class NameSet {
  #list: string[] | undefined;
  #set: Set<string> | undefined;
  size = 0;

  has(name: string): boolean {
    if (this.#set !== undefined) return this.#set.has(name);
    const list = this.#list;
    if (list !== undefined) { for (let i = 0; i < list.length; i++) if (list[i] === name) return true; }
    return false;
  }

  add(name: string): void {
    this.size++;
    if (this.#set !== undefined) this.#set.add(name);
    else if (this.#list === undefined) this.#list = [name];
    else if (this.#list.push(name) > SMALL_NAME_LIST) {
      this.#set = new Set(this.#list);
      this.#list = undefined;
    }
  }
}

/**
 * Names already checked (node names below the root, property names), so a VMM building the same kinds of
 * node per boot runs each regular expression once per name. Bounded: cleared when it reaches the limit.
 */
const checkedNodeNames = new Set<string>();
const checkedPropertyNames = new Set<string>();
const CHECKED_NAMES_MAX = 4096;

function remember(set: Set<string>, name: string): void {
  if (set.size >= CHECKED_NAMES_MAX) set.clear();
  set.add(name);
}

const encoder = new TextEncoder();

// The name of a checked value: `what`, or `what[index]` for an element of a list. Built only for an error, so
// checking the elements of a list allocates nothing (a template string per element was most of a VM tree's
// garbage).
function fieldName(what: string, index: number | undefined): string {
  return index === undefined ? what : `${what}[${index}]`;
}

function toU64(v: number | bigint, what: string, index?: number): bigint {
  const b = typeof v === "bigint" ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b > U64_MAX) {
    what = fieldName(what, index);
    throw new FdtError("BadValue", `${what} = ${showValue(v)} is not an unsigned 64-bit integer`, {
      field: what,
      value: typeof v === "bigint" ? v : showValue(v),
      limit: U64_MAX,
    });
  }
  return b;
}

function toU32(v: number, what: string, index?: number): number {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
    what = fieldName(what, index);
    throw new FdtError("BadValue", `${what} = ${showValue(v)} is not an unsigned 32-bit integer`, {
      field: what,
      value: showValue(v),
      limit: U32_MAX,
    });
  }
  return v;
}

type ValueType = "string" | "Uint8Array" | "array";

function isType(v: unknown, type: ValueType): boolean {
  return type === "string" ? typeof v === "string" : type === "array" ? Array.isArray(v) : v instanceof Uint8Array;
}

function typeError(v: unknown, type: ValueType, what: string): FdtError {
  return new FdtError("BadValue", `${what} is not ${type === "array" ? "an array" : `a ${type}`}`, {
    field: what,
    value: v === null ? "null" : typeof v,
  });
}

function checkType(v: unknown, type: ValueType, what: string): void {
  if (!isType(v, type)) throw typeError(v, type, what);
}

function checkNodeName(name: string, depth: number): void {
  checkType(name, "string", "node name");
  if (depth === 0) {
    if (name !== "") {
      throw new FdtError("BadName", `the root node's name must be empty, got "${name}"`, {
        field: "name",
        value: name,
      });
    }
    return;
  }
  if (checkedNodeNames.has(name)) return;
  const at = name.indexOf("@");
  const base = at < 0 ? name : name.slice(0, at);
  const unit = at < 0 ? "" : name.slice(at + 1);
  if (
    base.length === 0 || base.length > FDT_MAX_NAME_LENGTH || !NODE_NAME_CHARS.test(base) ||
    !UNIT_ADDRESS_CHARS.test(unit) || (at >= 0 && unit.length === 0)
  ) {
    throw new FdtError(
      "BadName",
      `node name "${name}" is not 1 to ${FDT_MAX_NAME_LENGTH} characters of [A-Za-z0-9,._+-] with an optional @unit-address`,
      { field: "name", value: name, limit: FDT_MAX_NAME_LENGTH },
    );
  }
  remember(checkedNodeNames, name);
}

function checkPropertyName(name: string): void {
  checkType(name, "string", "property name");
  if (checkedPropertyNames.has(name)) return;
  if (name.length === 0 || name.length > FDT_MAX_NAME_LENGTH || !PROPERTY_NAME_CHARS.test(name)) {
    throw new FdtError(
      "BadName",
      `property name "${name}" is not 1 to ${FDT_MAX_NAME_LENGTH} characters of [A-Za-z0-9,._+?#-]`,
      { field: "name", value: name, limit: FDT_MAX_NAME_LENGTH },
    );
  }
  remember(checkedPropertyNames, name);
}

/** Whether `s` is ASCII with no NUL: a string property's common case. */
function isPlainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}

function checkString(s: string, what: string, index?: number): void {
  if (typeof s !== "string") throw typeError(s, "string", fieldName(what, index));
  if (s.includes("\0")) {
    what = fieldName(what, index);
    throw new FdtError("BadString", `${what} contains a NUL character`, { field: what, value: s });
  }
}

/** A growable big-endian byte buffer. */
class Bytes {
  buf: Uint8Array;
  dv: DataView;
  length = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.dv = new DataView(this.buf.buffer);
  }

  reserve(n: number): number {
    if (this.length + n > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u32(v: number): void {
    const at = this.reserve(4); // may replace the buffer: take the view after
    this.dv.setUint32(at, v, false);
  }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.byteLength);
    this.buf.set(b, at);
  }

  /** Appends `s` and a NUL; `s` is known to be ASCII (a checked name, or a string the caller scanned). */
  asciiz(s: string): void {
    const n = s.length;
    const at = this.reserve(n + 1);
    const buf = this.buf;
    for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i);
    buf[at + n] = 0;
  }

  pad4(): void {
    const n = (4 - (this.length & 3)) & 3;
    if (n === 0) return;
    const at = this.reserve(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++) buf[at + i] = 0;
  }
}

/**
 * The structure and strings buffers of the last finished builder, handed to the next one: building a tree
 * then allocates only its blob. Only buffers that stayed small are kept.
 */
let spareStruct: Bytes | undefined, spareStrings: Bytes | undefined;
const SPARE_MAX = 64 * 1024;

function takeBytes(spare: Bytes | undefined, capacity: number): Bytes {
  if (spare === undefined) return new Bytes(capacity);
  spare.length = 0;
  return spare;
}

/**
 * Streaming device tree writer. Call {@linkcode FdtBuilder.beginNode} with `""` for the root, add its
 * properties, nest children, end every node, then {@linkcode FdtBuilder.finish}. Errors are
 * {@linkcode FdtError}: `BadName`, `BadString`, `BadValue`, `DuplicateName` (a property or child named
 * twice in one node), `BadStructure` (a property after a child node, outside any node, an unbalanced end,
 * a second root), `TooLarge` (a blob of 4 GiB or more).
 *
 * @example A minimal tree
 * ```ts
 * import { FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * b.propertyU32("#address-cells", 2);
 * b.beginNode("chosen");
 * b.propertyString("bootargs", "console=ttyAMA0");
 * b.endNode();
 * b.endNode();
 * const dtb = b.finish();
 * console.log(new DataView(dtb.buffer).getUint32(0).toString(16)); // d00dfeed
 * ```
 */
export class FdtBuilder {
  readonly #struct: Bytes;
  readonly #strings: Bytes;
  readonly #stringOffsets = new Map<string, number>();
  readonly #reservations: FdtReservation[] = [];
  readonly #stack: OpenNode[] = [];
  readonly #bootCpuidPhys: number;
  #rootDone = false;
  #finished = false;
  #nextPhandle = 1;

  /** A builder with an empty tree. */
  constructor(options: FdtBuilderOptions = {}) {
    this.#bootCpuidPhys = toU32(options?.bootCpuidPhys ?? 0, "bootCpuidPhys");
    this.#struct = takeBytes(spareStruct, 4096);
    this.#strings = takeBytes(spareStrings, 1024);
    spareStruct = spareStrings = undefined;
  }

  /** Adds a memory reservation block entry (a range the OS must leave alone). */
  addReservation(address: number | bigint, size: number | bigint): void {
    this.#open("a reservation");
    const a = toU64(address, "reservation address");
    const s = toU64(size, "reservation size");
    if (a + s > U64_MAX + 1n) {
      throw new FdtError("BadValue", `reservation ${hex(a)} + ${hex(s)} passes 2^64`, {
        field: "reservation size",
        value: s,
        limit: U64_MAX + 1n - a,
      });
    }
    // The all-zero entry terminates the block: written, it would hide every later reservation.
    if (a === 0n && s === 0n) {
      throw new FdtError("BadValue", "a reservation of address 0 and size 0 is the block's terminator", {
        field: "reservation size",
        value: s,
      });
    }
    this.#reservations.push({ address: a, size: s });
  }

  /** Returns a fresh phandle (1, 2, ...), unique in this tree; put it in the node's `phandle` property. */
  allocPhandle(): number {
    return this.#nextPhandle++;
  }

  /** Opens a node: `""` for the root, else a name such as `"memory@40000000"`. */
  beginNode(name: string): void {
    this.#open("a node");
    const depth = this.#stack.length;
    if (depth === 0 && this.#rootDone) {
      throw new FdtError("BadStructure", `node "${name}" would be a second root node`, { field: "name", value: name });
    }
    checkNodeName(name, depth);
    const parent = this.#stack[depth - 1];
    if (parent !== undefined) {
      if (parent.children.has(name)) {
        throw new FdtError("DuplicateName", `node "${parent.name}" already has a child "${name}"`, {
          field: "name",
          value: name,
        });
      }
      parent.children.add(name);
    }
    this.#struct.u32(FDT_BEGIN_NODE);
    this.#struct.asciiz(name); // checkNodeName allows ASCII only
    this.#struct.pad4();
    this.#stack.push({ name, properties: new NameSet(), children: new NameSet() });
  }

  /** Closes the innermost open node. */
  endNode(): void {
    this.#open("an end of node");
    if (this.#stack.pop() === undefined) {
      throw new FdtError("BadStructure", "endNode() without an open node", { field: "endNode" });
    }
    this.#struct.u32(FDT_END_NODE);
    if (this.#stack.length === 0) this.#rootDone = true;
  }

  /** Adds a property with a raw value to the open node. */
  property(name: string, value: Uint8Array): void {
    // Messages are built only on failure: a template string per call was most of a VM tree's garbage.
    if (!isType(value, "Uint8Array")) throw typeError(value, "Uint8Array", `property "${showValue(name)}" value`);
    this.#propertyHeader(name, value.byteLength);
    this.#struct.bytes(value);
    this.#struct.pad4();
  }

  // Checks a property of `len` bytes and writes its FDT_PROP header; the caller appends the value and pads.
  #propertyHeader(name: string, len: number): void {
    this.#open("a property");
    checkPropertyName(name);
    const node = this.#stack[this.#stack.length - 1];
    if (node === undefined) {
      throw new FdtError("BadStructure", `property "${name}" outside any node`, { field: "name", value: name });
    }
    if (node.children.size > 0) {
      throw new FdtError(
        "BadStructure",
        `property "${name}" of node "${node.name}" comes after a child node (properties must precede subnodes)`,
        { field: "name", value: name },
      );
    }
    if (node.properties.has(name)) {
      throw new FdtError("DuplicateName", `node "${node.name}" already has a property "${name}"`, {
        field: "name",
        value: name,
      });
    }
    node.properties.add(name);
    const nameoff = this.#stringOffset(name);
    const st = this.#struct;
    const at = st.reserve(12); // may replace the buffer: take the view after
    st.dv.setUint32(at, FDT_PROP, false);
    st.dv.setUint32(at + 4, len, false);
    st.dv.setUint32(at + 8, nameoff, false);
  }

  /** A property with no value (a boolean such as `interrupt-controller`). */
  propertyEmpty(name: string): void {
    this.#propertyHeader(name, 0);
  }

  /** A one-cell property (big-endian u32). */
  propertyU32(name: string, value: number): void {
    this.propertyCells(name, [value]);
  }

  /** A two-cell property (big-endian u64). */
  propertyU64(name: string, value: number | bigint): void {
    this.propertyU64List(name, [value]);
  }

  /** A list of u32 cells (`<1 2 3>`). */
  propertyCells(name: string, cells: readonly number[]): void {
    checkType(name, "string", "property name");
    if (!isType(cells, "array")) throw typeError(cells, "array", `property "${showValue(name)}" cells`);
    // Every value is checked before anything is written; then the cells go straight into the structure block.
    for (let i = 0; i < cells.length; i++) toU32(cells[i], name, i);
    this.#propertyHeader(name, cells.length * 4);
    const st = this.#struct;
    const at = st.reserve(cells.length * 4);
    for (let i = 0; i < cells.length; i++) st.dv.setUint32(at + i * 4, cells[i], false);
  }

  /** A list of u64 values, each as two cells (`reg = <hi lo hi lo>` with #address-cells = #size-cells = 2). */
  propertyU64List(name: string, values: readonly (number | bigint)[]): void {
    checkType(name, "string", "property name");
    if (!isType(values, "array")) throw typeError(values, "array", `property "${showValue(name)}" values`);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) toU64(v, name, i);
    }
    this.#propertyHeader(name, values.length * 8);
    const st = this.#struct;
    const at = st.reserve(values.length * 8);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v === "number") {
        // A checked safe integer: its high and low 32 bits.
        st.dv.setUint32(at + i * 8, Math.floor(v / 0x1_0000_0000), false);
        st.dv.setUint32(at + i * 8 + 4, v >>> 0, false);
      } else st.dv.setBigUint64(at + i * 8, v, false);
    }
  }

  /** A NUL-terminated string property. */
  propertyString(name: string, value: string): void {
    this.propertyStringList(name, [value]);
  }

  /** A string list property (`"a", "b"` is stored as `a\0b\0`). */
  propertyStringList(name: string, values: readonly string[]): void {
    checkType(name, "string", "property name");
    if (!isType(values, "array")) throw typeError(values, "array", `property "${showValue(name)}" values`);
    // One pass over each string for both checks (no NUL, ASCII or not), in order, so the first bad value is the
    // error, as before; then the header and the characters.
    let len = 0, ascii = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== "string" || !isPlainAscii(v)) {
        checkString(v, name, i); // throws for a non-string or a NUL
        ascii = false;
      }
      len += v.length + 1;
    }
    if (!ascii) {
      this.property(name, encoder.encode(values.map((v) => `${v}\0`).join("")));
      return;
    }
    this.#propertyHeader(name, len);
    for (let i = 0; i < values.length; i++) this.#struct.asciiz(values[i]);
    this.#struct.pad4();
  }

  /** Ends the structure block and returns the blob. */
  finish(): Uint8Array {
    this.#open("finish");
    if (this.#stack.length > 0) {
      throw new FdtError(
        "BadStructure",
        `finish() with ${this.#stack.length} node(s) still open ("${this.#stack[this.#stack.length - 1].name}")`,
        { field: "depth", value: this.#stack.length, limit: 0 },
      );
    }
    if (!this.#rootDone) throw new FdtError("BadStructure", "finish() without a root node", { field: "root" });
    this.#finished = true;
    this.#struct.u32(FDT_END);

    const rsvOff = FDT_HEADER.size; // 40: already 8-byte aligned
    const rsvSize = (this.#reservations.length + 1) * FDT_RESERVE_ENTRY.size;
    const structOff = rsvOff + rsvSize;
    const stringsOff = structOff + this.#struct.length;
    const total = stringsOff + this.#strings.length;
    if (total > U32_MAX) {
      throw new FdtError("TooLarge", `the blob would have ${total} bytes, more than a u32 totalsize`, {
        field: "totalsize",
        value: total,
        limit: U32_MAX,
      });
    }
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    // The header's ten big-endian words in place (FDT_HEADER's layout, checked by tests/fdt/builder_test.ts):
    // the generic Struct writer was a tenth of a small tree's build.
    dv.setUint32(HDR_MAGIC, FDT_MAGIC, false);
    dv.setUint32(HDR_TOTALSIZE, total, false);
    dv.setUint32(HDR_OFF_DT_STRUCT, structOff, false);
    dv.setUint32(HDR_OFF_DT_STRINGS, stringsOff, false);
    dv.setUint32(HDR_OFF_MEM_RSVMAP, rsvOff, false);
    dv.setUint32(HDR_VERSION, FDT_VERSION, false);
    dv.setUint32(HDR_LAST_COMP_VERSION, FDT_LAST_COMP_VERSION, false);
    dv.setUint32(HDR_BOOT_CPUID_PHYS, this.#bootCpuidPhys, false);
    dv.setUint32(HDR_SIZE_DT_STRINGS, this.#strings.length, false);
    dv.setUint32(HDR_SIZE_DT_STRUCT, this.#struct.length, false);
    this.#reservations.forEach((r, i) => FDT_RESERVE_ENTRY.write(dv, rsvOff + i * FDT_RESERVE_ENTRY.size, r));
    out.set(this.#struct.buf.subarray(0, this.#struct.length), structOff);
    out.set(this.#strings.buf.subarray(0, this.#strings.length), stringsOff);
    // Finished: every method now throws before touching the buffers, so the next builder may have them.
    if (this.#struct.buf.byteLength <= SPARE_MAX) spareStruct = this.#struct;
    if (this.#strings.buf.byteLength <= SPARE_MAX) spareStrings = this.#strings;
    return out;
  }

  #open(what: string): void {
    if (this.#finished) throw new FdtError("BadStructure", `${what} after finish()`, { field: what });
  }

  #stringOffset(name: string): number {
    let off = this.#stringOffsets.get(name);
    if (off === undefined) {
      off = this.#strings.length;
      this.#strings.asciiz(name); // checkPropertyName allows ASCII only
      this.#stringOffsets.set(name, off);
    }
    return off;
  }
}

// Iterative, not recursive: readFdt accepts any nesting depth, so a tree it returns must not overflow the stack.
// Each node object is written once: a node that is its own ancestor (a cycle) or appears twice (which makes the
// output grow exponentially with depth) is refused, so the work is linear in the tree's objects.
function writeNode(b: FdtBuilder, root: FdtNode): void {
  const stack: { node: FdtNode; next: number }[] = [];
  const written = new Set<FdtNode>();
  const open = (node: FdtNode): void => {
    if (typeof node !== "object" || node === null) {
      throw new FdtError("BadStructure", `a child node is ${node === null ? "null" : typeof node}, not a node`, {
        field: "children",
      });
    }
    if (written.has(node)) {
      throw new FdtError(
        "BadStructure",
        `node "${showValue(node.name)}" appears twice in the tree (${
          stack.some((s) => s.node === node) ? "it is its own ancestor: a cycle" : "shared by two parents"
        })`,
        { field: "children", value: showValue(node.name) },
      );
    }
    written.add(node);
    if (!isType(node.properties, "array")) {
      throw typeError(node.properties, "array", `node "${showValue(node.name)}" properties`);
    }
    if (!isType(node.children, "array")) {
      throw typeError(node.children, "array", `node "${showValue(node.name)}" children`);
    }
    b.beginNode(node.name);
    for (const p of node.properties) {
      if (typeof p !== "object" || p === null) {
        throw new FdtError("BadValue", "a property is not an object", { field: "properties" });
      }
      b.property(p.name, p.value);
    }
    stack.push({ node, next: 0 });
  };
  open(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next < top.node.children.length) open(top.node.children[top.next++]);
    else {
      stack.pop();
      b.endNode();
    }
  }
}

/**
 * Writes a whole tree (as {@linkcode readFdt} returns) to a blob.
 *
 * @example Round trip
 * ```ts
 * import { buildFdt, readFdt } from "@linux-loader/linux-loader";
 * const dtb = buildFdt({ root: { name: "", properties: [], children: [] }, reservations: [], bootCpuidPhys: 0 });
 * console.log(readFdt(dtb).root.children.length); // 0
 * ```
 */
export function buildFdt(tree: FdtTree): Uint8Array {
  if (typeof tree !== "object" || tree === null) {
    throw new FdtError("BadStructure", "the tree is not an object", { field: "tree" });
  }
  const b = new FdtBuilder({ bootCpuidPhys: tree.bootCpuidPhys });
  checkType(tree.reservations, "array", "reservations");
  for (const r of tree.reservations) {
    if (typeof r !== "object" || r === null) {
      throw new FdtError("BadValue", "a reservation is not an object", { field: "reservations" });
    }
    b.addReservation(r.address, r.size);
  }
  writeNode(b, tree.root);
  return b.finish();
}
