/**
 * The boot plan: what a load or configure will write, as a value. Loaders decode a header, build a
 * {@linkcode Plan} (ordered copies from the image, literal byte writes and zero-fills), validate the whole
 * plan against guest memory, and only then apply it. {@linkcode applyPlan} is the one place in the library
 * that writes guest memory, so a failed check leaves memory untouched.
 *
 * @module
 */

import { describeThrown, hex, KernelLoaderError, MemoryError, SourceError } from "./errors.ts";
import { GuestMemory } from "./memory.ts";
import { type KernelSource, toSource } from "./source.ts";

/** Copy `length` bytes of the image at `sourceOffset` to `guestAddr`. */
export interface CopyStep {
  /** Step kind. */
  kind: "copy";
  /** Destination guest address. */
  guestAddr: number;
  /** Byte count. */
  length: number;
  /** Offset in the kernel source. */
  sourceOffset: number;
  /** What this is, for people and logs ("PT_LOAD[0]", "protected-mode kernel"). */
  label: string;
}

/** Write literal bytes (boot parameters, a command line, page tables) to `guestAddr`. */
export interface BytesStep {
  /** Step kind. */
  kind: "bytes";
  /** Destination guest address. */
  guestAddr: number;
  /** The bytes. */
  bytes: Uint8Array;
  /** What this is. */
  label: string;
}

/** Set `length` bytes at `guestAddr` to `value` (a bss, say). */
export interface FillStep {
  /** Step kind. */
  kind: "fill";
  /** Destination guest address. */
  guestAddr: number;
  /** Byte count. */
  length: number;
  /** Byte value, 0 for zero-fill. */
  value: number;
  /** What this is. */
  label: string;
}

/** One write of a plan. */
export type PlanStep = CopyStep | BytesStep | FillStep;

/** An ordered list of writes. */
export interface Plan {
  /** The writes, applied in order. */
  steps: PlanStep[];
}

/**
 * Byte count a step writes.
 *
 * @example
 * ```ts
 * import { stepLength } from "@linux-loader/linux-loader";
 * console.log(stepLength({ kind: "bytes", guestAddr: 0, bytes: new Uint8Array(3), label: "x" })); // 3
 * ```
 */
export function stepLength(s: PlanStep): number {
  if (typeof s !== "object" || s === null) throw badPlan("step", "expected a step object", s);
  if (s.kind === "bytes") {
    if (!(s.bytes instanceof Uint8Array)) throw badPlan(String(s.label), "bytes is not a Uint8Array", s.bytes);
    return s.bytes.byteLength;
  }
  return s.length;
}

/**
 * Checks a whole plan without writing: its shape (a `steps` array of known kinds, string labels, `bytes` a
 * `Uint8Array`, fill values 0-255), every step against guest memory, and every copy's `sourceOffset` and
 * length against the source size. Throws {@linkcode KernelLoaderError} `MemoryOverflow` naming the step and
 * the first byte outside memory (or past the image), `InvalidPlan` for a malformed step.
 *
 * @example
 * ```ts
 * import { GuestMemory, validatePlan } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x1000]]);
 * try {
 *   validatePlan(mem, { steps: [{ kind: "fill", guestAddr: 0xff0, length: 0x20, value: 0, label: "bss" }] });
 * } catch (e) {
 *   console.log((e as { code: string }).code); // MemoryOverflow
 * }
 * ```
 */
export function validatePlan(mem: GuestMemory, plan: Plan, sourceSize?: number): void {
  checkPlan(mem, plan, sourceSize, false);
}

function badPlan(what: string, message: string, value?: unknown): KernelLoaderError {
  return new KernelLoaderError("InvalidPlan", `${what}: ${message}`, {
    field: what,
    value: typeof value === "number" ? value : value === undefined ? undefined : describeThrown(value),
  });
}

// The exact end of [addr, addr + len) for messages (a bigint past 2^53, never a rounded number).
function endOf(addr: number, len: number): number | bigint {
  return len <= Number.MAX_SAFE_INTEGER - addr ? addr + len : BigInt(addr) + BigInt(len);
}

// validatePlan, and for applyPlan (`needSource`) also: a copy step needs a source.
function checkPlan(mem: GuestMemory, plan: Plan, sourceSize: number | undefined, needSource: boolean): void {
  if (!(mem instanceof GuestMemory)) {
    throw new MemoryError("InvalidBuffer", `guest memory is not a GuestMemory (got ${describeThrown(mem)})`, {
      field: "mem",
    });
  }
  if (typeof plan !== "object" || plan === null || !Array.isArray(plan.steps)) {
    throw badPlan("plan", "expected an object with a steps array", plan);
  }
  if (sourceSize !== undefined && (!Number.isSafeInteger(sourceSize) || sourceSize < 0)) {
    throw badPlan("source size", "not a non-negative safe integer", sourceSize);
  }
  const steps: readonly unknown[] = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as PlanStep;
    if (typeof s !== "object" || s === null) throw badPlan(`steps[${i}]`, "expected a step object", s);
    const label = typeof s.label === "string" ? s.label : `steps[${i}]`;
    if (typeof s.label !== "string") throw badPlan(label, "label is not a string", s.label);
    let len: unknown;
    switch (s.kind) {
      case "bytes":
        if (!(s.bytes instanceof Uint8Array)) throw badPlan(label, "bytes is not a Uint8Array", s.bytes);
        len = s.bytes.byteLength;
        break;
      case "fill":
        if (typeof s.value !== "number" || !Number.isInteger(s.value) || s.value < 0 || s.value > 0xff) {
          throw badPlan(label, "fill value is not a byte (an integer 0-255)", s.value);
        }
        len = s.length;
        break;
      case "copy":
        len = s.length;
        break;
      default:
        throw badPlan(label, `unknown step kind ${describeThrown((s as { kind: unknown }).kind)}`);
    }
    const addr: unknown = s.guestAddr;
    if (
      typeof addr !== "number" || !Number.isSafeInteger(addr) || addr < 0 ||
      typeof len !== "number" || !Number.isSafeInteger(len) || len < 0
    ) {
      throw new KernelLoaderError(
        "MemoryOverflow",
        `${label}: address ${describeThrown(addr)} or length ${describeThrown(len)} is not a non-negative safe integer`,
        { field: label, value: typeof addr === "number" ? addr : describeThrown(addr) },
      );
    }
    const miss = mem.firstMissing(addr, len);
    if (miss !== undefined) {
      throw new KernelLoaderError(
        "MemoryOverflow",
        `${label} [${hex(addr)}, ${hex(endOf(addr, len))}) does not fit in guest memory: byte ${
          hex(miss)
        } is in no region`,
        { field: label, value: endOf(addr, len), limit: miss },
      );
    }
    if (s.kind !== "copy") continue;
    const off: unknown = s.sourceOffset;
    if (typeof off !== "number" || !Number.isSafeInteger(off) || off < 0) {
      throw badPlan(label, "sourceOffset is not a non-negative safe integer", off);
    }
    if (needSource && sourceSize === undefined) throw badPlan(label, "a copy step needs the kernel source");
    if (sourceSize !== undefined && (off > sourceSize || len > sourceSize - off)) {
      throw new KernelLoaderError(
        "MemoryOverflow",
        `${label}: image bytes [${hex(off)}, ${hex(endOf(off, len))}) pass the end of the ${sourceSize}-byte image`,
        { field: label, value: endOf(off, len), limit: sourceSize },
      );
    }
  }
}

/** A guest range a plan writes, with its label. */
export interface PlannedRange {
  /** First guest address. */
  start: number;
  /** One past the last guest address. */
  end: number;
  /** The step's label. */
  label: string;
}

/**
 * The guest ranges a plan writes, sorted by address (empty steps left out).
 *
 * @example
 * ```ts
 * import { plannedRanges } from "@linux-loader/linux-loader";
 * const steps = [
 *   { kind: "fill" as const, guestAddr: 0x2000, length: 0x10, value: 0, label: "b" },
 *   { kind: "fill" as const, guestAddr: 0x1000, length: 0x10, value: 0, label: "a" },
 * ];
 * console.log(plannedRanges({ steps }).map((r) => r.label)); // [ "a", "b" ]
 * ```
 */
export function plannedRanges(plan: Plan): PlannedRange[] {
  return snapshotSteps(plan)
    .map((s) => ({ start: s.guestAddr, end: s.guestAddr + stepLength(s), label: s.label }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start || a.end - b.end);
}

/**
 * Throws {@linkcode KernelLoaderError} `PlanOverlap` when two steps of the plans write overlapping
 * ranges (for example a command line placed inside the kernel).
 *
 * @example
 * ```ts
 * import { checkNoOverlap } from "@linux-loader/linux-loader";
 * const kernel = { steps: [{ kind: "fill" as const, guestAddr: 0x1000, length: 0x100, value: 0, label: "kernel" }] };
 * const cmdline = { steps: [{ kind: "fill" as const, guestAddr: 0x10f0, length: 0x20, value: 0, label: "cmdline" }] };
 * try {
 *   checkNoOverlap(kernel, cmdline);
 * } catch (e) {
 *   console.log((e as { code: string }).code); // PlanOverlap
 * }
 * ```
 */
export function checkNoOverlap(...plans: Plan[]): void {
  const ranges = plannedRanges({ steps: plans.flatMap((p) => snapshotSteps(p)) });
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1], b = ranges[i];
    if (b.start < a.end) {
      throw new KernelLoaderError(
        "PlanOverlap",
        `${b.label} [${hex(b.start)}, ${hex(b.end)}) overlaps ${a.label} [${hex(a.start)}, ${hex(a.end)})`,
        { field: b.label, value: b.start, limit: a.end },
      );
    }
  }
}

/**
 * Validates, then performs, a plan that has no copy steps (boot parameters, page tables): synchronous,
 * for configurators. A validation error (a copy step included) leaves memory untouched.
 *
 * @example
 * ```ts
 * import { applyPlanSync, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x1000]]);
 * applyPlanSync(mem, { steps: [{ kind: "bytes", guestAddr: 0x10, bytes: new Uint8Array([0xaa]), label: "demo" }] });
 * console.log(mem.readU8(0x10).toString(16)); // aa
 * ```
 */
export function applyPlanSync(mem: GuestMemory, plan: Plan): void {
  checkPlan(mem, plan, undefined, true);
  for (const s of plan.steps) {
    if (s.kind === "bytes") mem.write(s.guestAddr, s.bytes);
    else if (s.kind === "fill") mem.fill(s.guestAddr, s.length, s.value);
  }
}

/**
 * Zeroes every byte a plan claims (each step's range), and nothing else: what {@linkcode applyPlan} does
 * when the source fails during the copy. The plan must have passed {@linkcode validatePlan}. Internal:
 * `mod.ts` does not re-export it (loaders with a copy phase of their own use it).
 */
export function scrubPlan(mem: GuestMemory, plan: Plan): void {
  for (const s of plan.steps) mem.fill(s.guestAddr, stepLength(s), 0);
}

function snapshotSteps(plan: Plan): PlanStep[] {
  if (typeof plan !== "object" || plan === null || !Array.isArray(plan.steps)) {
    throw badPlan("plan", "expected an object with a steps array", plan);
  }
  return plan.steps.map((s) => (typeof s === "object" && s !== null ? { ...s } : s));
}

/** How many times one read is retried when guest memory's buffer is replaced while the read is pending. */
const DETACH_RETRIES = 4;

/**
 * Reads `len` image bytes at `off` into guest memory at `addr`, region by region. Each view is taken after
 * the previous await: a `WebAssembly.Memory` that grows while a read is pending replaces its buffer, and the
 * read into the old (detached) one is retried into the new one.
 */
async function copyFromSource(mem: GuestMemory, addr: number, len: number, off: number, src: KernelSource) {
  let done = 0;
  while (done < len) {
    let attempt = 0;
    for (;;) {
      const view = mem.slices(addr + done, len - done)[0];
      const n = view.byteLength;
      let failure: unknown, failed = false;
      try {
        await src.readInto(off + done, view);
      } catch (e) {
        failure = e;
        failed = true;
      }
      if (view.byteLength === n) {
        if (failed) throw failure;
        done += n;
        break;
      }
      if (++attempt > DETACH_RETRIES) {
        throw new MemoryError(
          "BufferDetached",
          `guest memory at ${hex(addr + done)} was replaced ${attempt} times while the source was read into it`,
          { value: addr + done, limit: DETACH_RETRIES },
        );
      }
    }
  }
}

/**
 * {@linkcode applyPlan} for a plan a loader has just made and validated and not yet handed to anyone (nothing
 * else holds it, so it is not copied first): the same checks, then the same writes. For a source whose bytes
 * are in memory the whole apply is synchronous and `undefined` is returned (no promise, no microtask on the
 * load's hot path); any other source returns `applyPlan`'s promise. Internal: `mod.ts` does not re-export it.
 */
export function applyOwnPlan(mem: GuestMemory, plan: Plan, src: KernelSource): Promise<void> | undefined {
  const bytes = src.bytes;
  if (bytes === undefined) return applyPlan(mem, plan, src);
  checkPlan(mem, plan, src.size, true);
  writeSteps(mem, plan.steps, bytes);
  return undefined;
}

/**
 * The writes of a checked plan whose copies come from bytes in memory (or that has none): synchronous, so
 * nothing can fail or change between the checks and the end.
 */
function writeSteps(mem: GuestMemory, steps: readonly PlanStep[], bytes: Uint8Array | undefined): void {
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s.kind === "bytes") mem.write(s.guestAddr, s.bytes);
    else if (s.kind === "fill") mem.fill(s.guestAddr, s.length, s.value);
    else mem.write(s.guestAddr, bytes!.subarray(s.sourceOffset, s.sourceOffset + s.length));
  }
}

/**
 * Validates, then performs, a plan. Copies read the image straight into guest memory (no intermediate
 * buffer).
 *
 * Failure contract: every check (the plan's shape, every step against guest memory, every copy against the
 * source size) runs before the first write, so a validation error ({@linkcode KernelLoaderError}) leaves
 * memory byte for byte as it was. A source whose bytes are in memory (`source.bytes`, a `Uint8Array`) cannot
 * fail during the copy. Any other source that fails or comes up short during the copy (an I/O error, a file
 * that shrank, a rejected read) makes `applyPlan` zero every byte the plan claims ({@linkcode scrubPlan})
 * and throw {@linkcode SourceError} `LoadInterrupted` with the source's error as `cause`; bytes outside the
 * plan's ranges are never touched.
 *
 * @example
 * ```ts
 * import { applyPlan, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x1000]]);
 * await applyPlan(mem, { steps: [{ kind: "fill", guestAddr: 0x10, length: 4, value: 0xff, label: "demo" }] });
 * console.log(mem.readU32(0x10).toString(16)); // ffffffff
 * ```
 *
 * @example A source failing mid-copy
 * ```ts
 * import { applyPlan, GuestMemory, SourceError } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x1000]]);
 * const flaky = { size: 16, readInto: () => Promise.reject(new Error("EIO")) };
 * try {
 *   await applyPlan(mem, { steps: [{ kind: "copy", guestAddr: 0, length: 16, sourceOffset: 0, label: "k" }] }, flaky);
 * } catch (e) {
 *   if (e instanceof SourceError) console.log(e.code); // LoadInterrupted
 * }
 * ```
 */
export async function applyPlan(mem: GuestMemory, plan: Plan, source?: KernelSource | Uint8Array): Promise<void> {
  const src = source === undefined ? undefined : toSource(source);
  // Validate a snapshot of the steps, and copy from it: the caller's plan cannot change under the copy.
  const steps = snapshotSteps(plan);
  checkPlan(mem, { steps }, src?.size, true);
  const bytes = src?.bytes;
  if (src === undefined || bytes !== undefined) {
    writeSteps(mem, steps, bytes);
    return;
  }
  try {
    for (const s of steps) {
      if (s.kind === "bytes") mem.write(s.guestAddr, s.bytes);
      else if (s.kind === "fill") mem.fill(s.guestAddr, s.length, s.value);
      else await copyFromSource(mem, s.guestAddr, s.length, s.sourceOffset, src);
    }
  } catch (e) {
    try {
      scrubPlan(mem, { steps });
    } catch {
      // Only a region whose buffer the caller detached can refuse the fill: there is nothing left to scrub.
    }
    throw new SourceError(
      "LoadInterrupted",
      `the source failed during the copy (${
        describeThrown(e)
      }); the ${steps.length} planned ranges were zeroed, nothing else was touched`,
      { cause: e },
    );
  }
}
