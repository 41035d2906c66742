/**
 * Runtime type guards for the public boundary: a caller in plain JavaScript may pass `null`, a Symbol, a
 * BigInt or a plain object where the types say `GuestMemory`, `Uint8Array`, `number` or an options object.
 * Each guard is a `typeof`/`instanceof` check or two (cheap enough for hot paths) and throws the calling
 * area's typed error, so no platform TypeError escapes. Internal: `mod.ts` does not re-export this module.
 *
 * @module
 */
import { describeThrown, type ErrorDetails, type LinuxLoaderError } from "./errors.ts";
import { GuestMemory } from "./memory.ts";

/** An area's error class: `new Cls(code, message, details)`. */
export type ErrorClass<C extends string> = new (
  code: C,
  message: string,
  details?: ErrorDetails,
) => LinuxLoaderError<C>;

/** How a wrong value is named in a message and in `value`: its type, and its text for primitives. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") {
    return Array.isArray(v) ? "an array" : `a ${v.constructor?.name ?? "null-prototype"} object`;
  }
  if (typeof v === "function") return "a function";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  if (typeof v === "bigint") return `the bigint ${v}n`;
  return `${typeof v} ${describeThrown(v)}`;
}

function wrong<C extends string>(Err: ErrorClass<C>, code: C, field: string, want: string, v: unknown): never {
  const what = describeValue(v);
  throw new Err(code, `${field} must be ${want}, not ${what}`, { field, value: what, limit: want });
}

/** Throws unless `v` is a `Uint8Array`. */
export function requireBytes<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) wrong(Err, code, field, "a Uint8Array", v);
}

/** Throws unless `v` is a `GuestMemory`. */
export function requireMemory<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is GuestMemory {
  if (!(v instanceof GuestMemory)) wrong(Err, code, field, "a GuestMemory", v);
}

/** Throws unless `v` is a number other than NaN (ranges are the caller's own checks). */
export function requireNumber<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is number {
  if (typeof v !== "number" || v !== v) wrong(Err, code, field, "a number", v);
}

/** Throws unless `v` is a non-null object (an options object, a params object, an array). */
export function requireObject<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is object {
  if (typeof v !== "object" || v === null) wrong(Err, code, field, "an object", v);
}

/** Throws unless `v` is undefined or a non-null object (an optional options argument). */
export function optionalObject<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is object | undefined {
  if (v !== undefined && (typeof v !== "object" || v === null)) wrong(Err, code, field, "an object", v);
}

/** Throws unless `v` is an array. */
export function requireArray<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is readonly unknown[] {
  if (!Array.isArray(v)) wrong(Err, code, field, "an array", v);
}

/** Throws unless `v` is an instance of `cls` (named `want` in the message, e.g. "a BootParams"). */
export function requireInstance<C extends string, T>(
  v: unknown,
  // deno-lint-ignore no-explicit-any
  cls: abstract new (...args: any[]) => T,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is T {
  if (!(v instanceof cls)) wrong(Err, code, field, `a ${cls.name}`, v);
}

/** Throws unless `v` is a string. */
export function requireString<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is string {
  if (typeof v !== "string") wrong(Err, code, field, "a string", v);
}

/** Throws unless `v` is a bigint. */
export function requireBigint<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is bigint {
  if (typeof v !== "bigint") wrong(Err, code, field, "a bigint", v);
}

/** `String(v)` for a primitive (as messages always showed it), {@linkcode describeValue} for an object (whose `toString` may throw). */
export function showValue(v: unknown): string {
  return (typeof v === "object" && v !== null) || typeof v === "function" ? describeValue(v) : String(v);
}

/** Throws unless `v` is an array whose every element is a non-null object (a list of entries or ranges). */
export function requireObjects<C extends string>(
  v: unknown,
  field: string,
  Err: ErrorClass<C>,
  code: C,
): asserts v is readonly object[] {
  requireArray(v, field, Err, code);
  for (let i = 0; i < v.length; i++) requireObject(v[i], `${field}[${i}]`, Err, code);
}
