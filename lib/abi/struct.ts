/**
 * C structs as field tables. A {@linkcode Struct} knows each field's name (in its C spelling), offset,
 * size and kind, and reads or writes a whole struct, or one field, at an offset of a DataView, little
 * endian. The tables are data, so a test can compare every offset and size with the C headers.
 *
 * @module
 */

import { AbiError } from "../errors.ts";
import { describeValue, requireArray, requireBytes, requireNumber, requireObject, requireString } from "../guard.ts";

/** Kinds of field: little-endian unsigned integers, or an opaque byte array of a given length. */
export type FieldKind = "u8" | "u16" | "u32" | "u64" | "be32" | "be64" | { bytes: number };

/** One row of a field table. */
export interface Field {
  /** C field name. */
  readonly name: string;
  /** Byte offset from the start of the struct. */
  readonly offset: number;
  /** Byte size. */
  readonly size: number;
  /** How the bytes are read. */
  readonly kind: FieldKind;
}

/** The JavaScript type of a field value: numbers for up to 32 bits, bigint for 64, bytes for arrays. */
export type FieldValue = number | bigint | Uint8Array;

function kindSize(k: FieldKind): number {
  switch (k) {
    case "u8":
      return 1;
    case "u16":
      return 2;
    case "u32":
    case "be32":
      return 4;
    case "u64":
    case "be64":
      return 8;
    default:
      return k.bytes;
  }
}

/**
 * A C struct layout over a TypeScript interface `T` whose keys are the C field names.
 *
 * @example
 * ```ts
 * import { Struct } from "@linux-loader/linux-loader/abi";
 * interface Pair { a: number; b: bigint }
 * const PAIR = new Struct<Pair>("pair", 16, [["a", 0, "u32"], ["b", 8, "u64"]]);
 * const dv = new DataView(new ArrayBuffer(16));
 * PAIR.write(dv, 0, { a: 7, b: 9n });
 * console.log(PAIR.read(dv, 0)); // { a: 7, b: 9n }
 * ```
 */
export class Struct<T extends object> {
  /** C struct name. */
  readonly name: string;
  /** sizeof(struct). */
  readonly size: number;
  /** The field table, in offset order. */
  readonly fields: readonly Field[];
  readonly #byName: Map<string, Field>;
  readonly #reader: ((dv: DataView, base: number) => T) | undefined;

  /**
   * Builds a layout from `[name, offset, kind]` rows. `reader`, for a struct on a hot path, reads the whole
   * struct at a checked offset as {@linkcode Struct.read} does (the same fields, in table order, 64-bit ones as
   * bigint, byte arrays as copies) with one object literal instead of a loop of keyed stores: several times
   * faster, and checked against the table by tests/abi/struct_fast_test.ts.
   */
  constructor(
    name: string,
    size: number,
    rows: readonly (readonly [keyof T & string, number, FieldKind])[],
    reader?: (dv: DataView, base: number) => T,
  ) {
    requireString(name, "name", AbiError, "InvalidValue");
    requireNumber(size, "size", AbiError, "InvalidValue");
    requireArray(rows, "rows", AbiError, "InvalidValue");
    this.name = name;
    this.size = size;
    this.fields = Object.freeze(
      rows.map(([n, offset, kind]) => Object.freeze({ name: n, offset, size: kindSize(kind), kind })),
    );
    this.#byName = new Map(this.fields.map((f) => [f.name, f]));
    this.#reader = reader;
    for (const f of this.fields) {
      if (f.offset + f.size > size) {
        throw new AbiError("InvalidValue", `${name}.${f.name} passes sizeof ${size}`, {
          field: `${name}.${f.name}`,
          limit: size,
        });
      }
    }
  }

  /** The field named `name`; throws for an unknown name (a programming error). */
  field(name: keyof T & string): Field {
    const f = this.#byName.get(name);
    if (f === undefined) {
      throw new AbiError("InvalidValue", `${this.name} has no field ${describeValue(name)}`, {
        field: this.name,
        value: describeValue(name),
      });
    }
    return f;
  }

  /** Offset of a field. */
  offsetOf(name: keyof T & string): number {
    return this.field(name).offset;
  }

  /** Reads one field at `base`. */
  get<K extends keyof T & string>(dv: DataView, base: number, name: K): T[K] {
    const f = this.field(name);
    checkSpan(dv, base + f.offset, f.size, `${this.name}.${name}`);
    return readField(dv, base, f) as T[K];
  }

  /** Writes one field at `base`. Integers are stored modulo their width. */
  set<K extends keyof T & string>(dv: DataView, base: number, name: K, value: T[K]): void {
    const f = this.field(name);
    checkSpan(dv, base + f.offset, f.size, `${this.name}.${name}`);
    writeField(dv, base, f, value as FieldValue);
  }

  /** Reads the whole struct at `base` into a plain object (byte arrays are copies). */
  read(dv: DataView, base: number): T {
    checkSpan(dv, base, this.size, this.name);
    if (this.#reader !== undefined) return this.#reader(dv, base);
    const out: Record<string, FieldValue> = {};
    for (const f of this.fields) out[f.name] = readField(dv, base, f, true);
    return out as T;
  }

  /** Writes the given fields at `base`; fields not named keep their bytes. */
  write(dv: DataView, base: number, value: Partial<T>): void {
    // Only the named fields must fit: a header may be shorter than its table (Multiboot's 12 or 32 of 48).
    const named = value as Record<string, unknown>;
    for (const k of Object.keys(named)) {
      const v = named[k];
      if (v === undefined) continue;
      const f = this.field(k as keyof T & string);
      checkSpan(dv, base + f.offset, f.size, `${this.name}.${f.name}`);
      writeField(dv, base, f, v as FieldValue);
    }
  }

  /** Encodes the given fields into a new zero-filled buffer of `size` bytes. */
  encode(value: Partial<T>): Uint8Array {
    requireObject(value, `${this.name} fields`, AbiError, "InvalidValue");
    const buf = new Uint8Array(this.size);
    this.write(new DataView(buf.buffer), 0, value);
    return buf;
  }

  /** Decodes a struct from the start of `bytes` (which must hold `size` bytes). */
  decode(bytes: Uint8Array, offset = 0): T {
    requireBytes(bytes, `${this.name} bytes`, AbiError, "InvalidValue");
    return this.read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset);
  }
}

// Every access is checked against the buffer, so a short buffer is a typed error, never a RangeError.
function checkSpan(dv: DataView, base: number, size: number, what: string): void {
  if (!Number.isSafeInteger(base) || base < 0 || base + size > dv.byteLength) {
    throw new AbiError(
      "BufferTooShort",
      `${what} needs ${size} bytes at offset ${String(base)}, but the buffer has ${dv.byteLength}`,
      {
        field: what,
        value: typeof base === "number" && Number.isFinite(base) ? base + size : String(base),
        limit: dv.byteLength,
      },
    );
  }
}

function integer(f: Field, v: FieldValue): number | bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return v;
  throw new AbiError("InvalidValue", `${f.name} = ${String(v)} is not an integer`, {
    field: f.name,
    value: String(v),
    limit: f.kind === "u64" || f.kind === "be64" ? "a u64" : `a u${f.size * 8}`,
  });
}

function readField(dv: DataView, base: number, f: Field, copy = false): FieldValue {
  const o = base + f.offset;
  switch (f.kind) {
    case "u8":
      return dv.getUint8(o);
    case "u16":
      return dv.getUint16(o, true);
    case "u32":
      return dv.getUint32(o, true);
    case "u64":
      return dv.getBigUint64(o, true);
    case "be32":
      return dv.getUint32(o, false);
    case "be64":
      return dv.getBigUint64(o, false);
    default: {
      const view = new Uint8Array(dv.buffer, dv.byteOffset + o, f.size);
      return copy ? view.slice() : view;
    }
  }
}

function writeField(dv: DataView, base: number, f: Field, v: FieldValue): void {
  const o = base + f.offset;
  if (typeof f.kind !== "object") v = integer(f, v);
  else if (!(v instanceof Uint8Array)) {
    throw new AbiError("InvalidValue", `${f.name} takes bytes, not ${typeof v}`, { field: f.name, value: typeof v });
  }
  switch (f.kind) {
    case "u8":
      return dv.setUint8(o, Number(v));
    case "u16":
      return dv.setUint16(o, Number(v), true);
    // A number goes through ToUint32, which is its value modulo 2^32 exactly (ECMA-262 7.1.7): no BigInt.
    case "u32":
      return dv.setUint32(o, typeof v === "number" ? v : Number(BigInt.asUintN(32, v as bigint)), true);
    case "u64":
      return dv.setBigUint64(o, BigInt.asUintN(64, BigInt(v as number | bigint)), true);
    case "be32":
      return dv.setUint32(o, typeof v === "number" ? v : Number(BigInt.asUintN(32, v as bigint)), false);
    case "be64":
      return dv.setBigUint64(o, BigInt.asUintN(64, BigInt(v as number | bigint)), false);
    default: {
      const src = v as Uint8Array;
      const dst = new Uint8Array(dv.buffer, dv.byteOffset + o, f.size);
      dst.fill(0);
      dst.set(src.subarray(0, f.size));
    }
  }
}
