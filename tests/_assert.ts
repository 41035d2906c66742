/**
 * Assertions the loader and configurator tests share: a rejection (or throw) of one error class with one
 * code, and a snapshot of guest memory to prove a failed call wrote nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { GuestMemory, LinuxLoaderError } from "../mod.ts";

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => LinuxLoaderError;

/** Asserts `p` rejects with an instance of `cls` whose `code` is `code`. */
export async function rejectsWith(p: Promise<unknown>, cls: ErrorClass, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** Asserts `fn` throws an instance of `cls` whose `code` is `code`. */
export function throwsWith(fn: () => unknown, cls: ErrorClass, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** A copy of every region's bytes, to compare before and after a call. */
export function snapshot(mem: GuestMemory): Uint8Array[] {
  return mem.regions.map((r) => r.bytes.slice());
}
