// The invariants every fuzz property checks, in one place:
// - typed errors only: anything thrown is a LinuxLoaderError subclass with a string code (never a TypeError,
//   RangeError or a raw DataView error);
// - writes exactly as planned: guest memory is made of regions, each backed by its own ArrayBuffer with guard
//   bytes before and after the region (outside guest memory, in the same buffer); a reference applier, written
//   here independently of lib/plan.ts, applies a plan to a snapshot, and the whole buffers (guards included)
//   must equal that after a successful call;
// - failure leaves memory byte-identical (guards included);
// - no hang: each case is timed with performance.now() against a generous bound (a hang detector, not a
//   speed test).

import assert from "node:assert/strict";
import { LinuxLoaderError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import type { PlanStep } from "../../lib/plan.ts";

/** Per-case time bound (ms): generous, only to catch loops bounded by unchecked header fields. */
export const HANG_MS = 2_000;
/** Guard bytes before and after every region, inside the region's ArrayBuffer but outside guest memory. */
export const GUARD = 32;
const GUARD_BYTE = 0xa5;

/** A guest memory layout: regions in address order, possibly adjacent, possibly with holes. */
export interface Layout {
  regions: { addr: number; size: number }[];
}

/** Guest memory for a test and the buffers behind it (guards included). */
export interface TestMemory {
  mem: GuestMemory;
  layout: Layout;
  buffers: Uint8Array[];
}

/** Builds guest memory for `layout`, regions filled with a non-zero pattern (so zero-fills show), guards set. */
export function makeMemory(layout: Layout, seed = 1): TestMemory {
  const buffers: Uint8Array[] = [];
  const specs = layout.regions.map((r, i) => {
    const buf = new Uint8Array(r.size + 2 * GUARD);
    buf.fill(GUARD_BYTE);
    // A non-zero pattern of period 256, written once and doubled.
    const n = Math.min(256, r.size);
    for (let j = 0; j < n; j++) buf[GUARD + j] = ((j * 131 + i * 17 + seed) & 0xff) | 1;
    for (let have = n; have < r.size; have *= 2) {
      buf.copyWithin(GUARD + have, GUARD, GUARD + Math.min(have, r.size - have));
    }
    buffers.push(buf);
    return { guestAddr: r.addr, size: r.size, buffer: buf.buffer, bufferOffset: GUARD };
  });
  return { mem: new GuestMemory(specs), layout, buffers };
}

/** Copies of every buffer, guards included. */
export function snapshot(tm: TestMemory): Uint8Array[] {
  return tm.buffers.map((b) => b.slice());
}

/** Writes `bytes` at guest address `addr` into `bufs` (layout-indexed copies); throws if a byte is in no region. */
function refWrite(layout: Layout, bufs: Uint8Array[], addr: number, bytes: Uint8Array | { fill: number; len: number }) {
  const len = bytes instanceof Uint8Array ? bytes.byteLength : bytes.len;
  let done = 0;
  while (done < len) {
    const a = addr + done;
    const i = layout.regions.findIndex((r) => a >= r.addr && a < r.addr + r.size);
    assert.ok(i >= 0, `the plan writes guest address 0x${a.toString(16)}, which is in no region`);
    const r = layout.regions[i];
    const n = Math.min(len - done, r.addr + r.size - a);
    if (bytes instanceof Uint8Array) bufs[i].set(bytes.subarray(done, done + n), GUARD + a - r.addr);
    else bufs[i].fill(bytes.fill, GUARD + a - r.addr, GUARD + a - r.addr + n);
    done += n;
  }
}

/** The reference applier: `before` with every step written, independently of lib/plan.ts. */
export function applyReference(
  tm: TestMemory,
  before: Uint8Array[],
  steps: readonly PlanStep[],
  source?: Uint8Array,
): Uint8Array[] {
  const out = before.map((b) => b.slice());
  for (const s of steps) {
    assert.ok(Number.isSafeInteger(s.guestAddr) && s.guestAddr >= 0, `${s.label}: bad address ${s.guestAddr}`);
    if (s.kind === "bytes") refWrite(tm.layout, out, s.guestAddr, s.bytes);
    else if (s.kind === "fill") refWrite(tm.layout, out, s.guestAddr, { fill: s.value, len: s.length });
    else {
      assert.ok(source !== undefined, `${s.label}: a copy step without a source`);
      assert.ok(
        s.sourceOffset >= 0 && s.sourceOffset + s.length <= source.byteLength,
        `${s.label}: copies [${s.sourceOffset}, ${s.sourceOffset + s.length}) of a ${source.byteLength}-byte image`,
      );
      refWrite(tm.layout, out, s.guestAddr, source.subarray(s.sourceOffset, s.sourceOffset + s.length));
    }
  }
  return out;
}

/** Writes raw bytes at a guest address into the expected image (for references built by hand). */
export function expectWrite(tm: TestMemory, bufs: Uint8Array[], addr: number, bytes: Uint8Array): void {
  refWrite(tm.layout, bufs, addr, bytes);
}

/** Expected zero-fill. */
export function expectFill(tm: TestMemory, bufs: Uint8Array[], addr: number, len: number, value = 0): void {
  refWrite(tm.layout, bufs, addr, { fill: value, len });
}

/** Asserts the buffers (guards included) equal `expected`, naming the first differing byte. */
/** Whether two byte arrays are equal: 32 bits at a time, then the tail. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const words = a.byteLength >>> 2;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const x = new Uint32Array(a.buffer, a.byteOffset, words), y = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let i = 0; i < words; i++) if (x[i] !== y[i]) return false;
    for (let i = words * 4; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function assertMemory(tm: TestMemory, expected: Uint8Array[], what: string): void {
  tm.buffers.forEach((b, i) => {
    const e = expected[i];
    if (b.byteLength !== e.byteLength) assert.fail(`${what}: buffer ${i} changed size`);
    if (sameBytes(b, e)) return;
    for (let j = 0; j < b.byteLength; j++) {
      if (b[j] !== e[j]) {
        const r = tm.layout.regions[i];
        const where = j < GUARD || j >= GUARD + r.size
          ? `guard byte ${j < GUARD ? j - GUARD : j - GUARD - r.size} ${j < GUARD ? "before" : "after"} region ${i}`
          : `guest address 0x${(r.addr + j - GUARD).toString(16)}`;
        assert.fail(`${what}: ${where} is 0x${b[j].toString(16)}, expected 0x${e[j].toString(16)}`);
      }
    }
  });
}

/** Asserts `e` is one of the library's typed errors. */
export function assertTyped(e: unknown): asserts e is LinuxLoaderError {
  if (!(e instanceof LinuxLoaderError)) {
    const err = e as Error;
    assert.fail(`not a typed error: ${err?.name}: ${err?.message}\n${err?.stack ?? String(e)}`);
  }
  assert.notEqual(e.constructor, LinuxLoaderError, "thrown as the base class, not an area's error");
  assert.equal(typeof e.code, "string");
  assert.ok(e.code.length > 0);
  assert.equal(typeof e.message, "string");
}

/** Runs `f`, returns its value or the typed error it threw (anything else fails the property). */
export function tryTyped<T>(f: () => T): { ok: true; value: T } | { ok: false; error: LinuxLoaderError } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    assertTyped(e);
    return { ok: false, error: e };
  }
}

/** The async form of {@linkcode tryTyped}. */
export async function tryTypedAsync<T>(
  f: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: LinuxLoaderError }> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    assertTyped(e);
    return { ok: false, error: e };
  }
}

/** Hang detector: `f` must finish within {@linkcode HANG_MS}. */
export function timed<T>(what: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  const ms = performance.now() - t0;
  assert.ok(ms < HANG_MS, `${what} took ${ms.toFixed(0)} ms (hang bound ${HANG_MS} ms)`);
  return r;
}

/** The async form of {@linkcode timed}. */
export async function timedAsync<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  const ms = performance.now() - t0;
  assert.ok(ms < HANG_MS, `${what} took ${ms.toFixed(0)} ms (hang bound ${HANG_MS} ms)`);
  return r;
}

/**
 * The whole contract of a loader on one input: `plan` (pure) and `load` (writes) either both fail with typed
 * errors, memory byte-identical; or the load succeeds and memory is exactly `before` with the plan applied
 * (every planned byte in guest memory, nothing else touched, guards intact).
 */
export async function checkLoad<P extends { plan: { steps: PlanStep[] } }, R>(
  tm: TestMemory,
  source: () => Uint8Array | Promise<Uint8Array>,
  plan: () => Promise<P>,
  load: () => Promise<R>,
): Promise<{ ok: true; plan: P; result: R } | { ok: false; error: LinuxLoaderError }> {
  return await timedAsync("load", async () => {
    const before = snapshot(tm);
    const p = await tryTypedAsync(plan);
    assertMemory(tm, before, "planning wrote guest memory");
    const r = await tryTypedAsync(load);
    if (!r.ok) {
      assertMemory(tm, before, `failed load (${r.error.name} ${r.error.code}) changed memory`);
      return r;
    }
    assert.ok(p.ok, `the load succeeded but its plan failed: ${!p.ok && p.error.message}`);
    assertMemory(tm, applyReference(tm, before, p.value.plan.steps, await source()), "load vs plan");
    return { ok: true, plan: p.value, result: r.value };
  });
}

/** The synchronous contract of a configurator: `plan` then `write` (see {@linkcode checkLoad}). */
export function checkWrite<P extends { steps: PlanStep[] }>(
  tm: TestMemory,
  plan: () => P,
  write: () => void,
): { ok: true; plan: P } | { ok: false; error: LinuxLoaderError } {
  return timed("configure", () => {
    const before = snapshot(tm);
    const p = tryTyped(plan);
    assertMemory(tm, before, "planning wrote guest memory");
    const r = tryTyped(write);
    if (!r.ok) {
      assertMemory(tm, before, `failed configure (${r.error.name} ${r.error.code}) changed memory`);
      return r;
    }
    assert.ok(p.ok, `the write succeeded but its plan failed: ${!p.ok && p.error.message}`);
    assertMemory(tm, applyReference(tm, before, p.value.steps), "write vs plan");
    return { ok: true, plan: p.value };
  });
}
