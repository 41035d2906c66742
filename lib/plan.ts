/**
 * The boot plan: what a load or configure will write, as a value. Loaders decode a header, build a
 * {@linkcode Plan} (ordered copies from the image, literal byte writes and zero-fills), validate the whole
 * plan against guest memory, and only then apply it. {@linkcode applyPlan} is the one place in the library
 * that writes guest memory, so a failed check leaves memory untouched.
 *
 * @module
 */

import { hex, KernelLoaderError } from "./errors.ts";
import type { GuestMemory } from "./memory.ts";
import type { KernelSource } from "./source.ts";

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
  return s.kind === "bytes" ? s.bytes.byteLength : s.length;
}

/**
 * Checks every step against guest memory (and copies against the source size) without writing.
 * Throws {@linkcode KernelLoaderError} `MemoryOverflow` naming the step and the first byte outside memory.
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
  for (const s of plan.steps) {
    const len = stepLength(s);
    if (!Number.isSafeInteger(s.guestAddr) || s.guestAddr < 0 || !Number.isSafeInteger(len) || len < 0) {
      throw new KernelLoaderError(
        "MemoryOverflow",
        `${s.label}: address ${String(s.guestAddr)} or length ${String(len)} is not a safe integer`,
        {
          field: s.label,
          value: s.guestAddr,
        },
      );
    }
    const miss = mem.firstMissing(s.guestAddr, len);
    if (miss !== undefined) {
      throw new KernelLoaderError(
        "MemoryOverflow",
        `${s.label} [${hex(s.guestAddr)}, ${hex(s.guestAddr + len)}) does not fit in guest memory: byte ${
          hex(miss)
        } is in no region`,
        { field: s.label, value: s.guestAddr + len, limit: miss },
      );
    }
    if (s.kind === "copy" && sourceSize !== undefined && s.sourceOffset + s.length > sourceSize) {
      throw new KernelLoaderError(
        "MemoryOverflow",
        `${s.label}: image bytes [${hex(s.sourceOffset)}, ${
          hex(s.sourceOffset + s.length)
        }) pass the end of the ${sourceSize}-byte image`,
        { field: s.label, value: s.sourceOffset + s.length, limit: sourceSize },
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
  return plan.steps
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
  const ranges = plannedRanges({ steps: plans.flatMap((p) => p.steps) });
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
 * for configurators. A validation error leaves memory untouched.
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
  validatePlan(mem, plan);
  for (const s of plan.steps) {
    if (s.kind === "bytes") mem.write(s.guestAddr, s.bytes);
    else if (s.kind === "fill") mem.fill(s.guestAddr, s.length, s.value);
    else {
      throw new KernelLoaderError("MemoryOverflow", `${s.label}: a copy step needs applyPlan and the kernel source`, {
        field: s.label,
      });
    }
  }
}

/**
 * Validates, then performs, a plan. Copies read the image straight into guest memory (no intermediate
 * buffer). A validation error leaves memory untouched.
 *
 * @example
 * ```ts
 * import { applyPlan, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x1000]]);
 * await applyPlan(mem, { steps: [{ kind: "fill", guestAddr: 0x10, length: 4, value: 0xff, label: "demo" }] });
 * console.log(mem.readU32(0x10).toString(16)); // ffffffff
 * ```
 */
export async function applyPlan(mem: GuestMemory, plan: Plan, source?: KernelSource): Promise<void> {
  validatePlan(mem, plan, source?.size);
  for (const s of plan.steps) {
    switch (s.kind) {
      case "bytes":
        mem.write(s.guestAddr, s.bytes);
        break;
      case "fill":
        mem.fill(s.guestAddr, s.length, s.value);
        break;
      case "copy": {
        if (source === undefined) {
          throw new KernelLoaderError("MemoryOverflow", `${s.label}: a copy step needs the kernel source`, {
            field: s.label,
          });
        }
        if (source.bytes !== undefined) {
          mem.write(s.guestAddr, source.bytes.subarray(s.sourceOffset, s.sourceOffset + s.length));
        } else {
          let off = s.sourceOffset;
          for (const slice of mem.slices(s.guestAddr, s.length)) {
            await source.readInto(off, slice);
            off += slice.byteLength;
          }
        }
        break;
      }
    }
  }
}
