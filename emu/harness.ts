/**
 * What the three boot harnesses share: map guest memory, watch reads, run to a halt instruction under an
 * instruction budget, the engine's timeout and our own wall-clock deadline (Unicorn's timeout can be lost
 * when hooks move the program counter), and report what happened.
 *
 * The halt is the architecture's wait instruction: `hlt` on x86, `wfi` on aarch64 and riscv64. Unicorn 2
 * returns from `uc_emu_start` after executing one; the harness confirms it by the bytes of the last
 * instruction executed, so an engine stop for any other reason is never mistaken for a halt.
 *
 * @module
 */

import { EmulatorError, hex } from "../lib/errors.ts";
import type { GuestMemory } from "../lib/memory.ts";
import type { GuestRead, Unicorn } from "./unicorn.ts";

/** Options every harness takes. */
export interface RunOptions {
  /** Wall-clock limit in milliseconds (engine timeout and harness deadline). Default 2000. */
  timeoutMs?: number;
  /** Instruction budget; exhausting it is `InstructionLimit`. Default 10 000 000. */
  maxInstructions?: number;
  /**
   * Guest ranges `[start, end)` whose reads are recorded (default: every region of guest memory).
   * Instruction fetches are not reads.
   */
  watch?: readonly (readonly [number, number])[];
  /** Extra engine-owned zero-filled ranges `[address, size]` to map (4 KiB-aligned). */
  scratch?: readonly (readonly [number, number])[];
  /**
   * Count instructions with a per-instruction hook (default true). The hook costs about a microsecond per
   * instruction; with `false` the engine runs at full speed, `instructions` is -1, the instruction budget
   * is enforced by the engine, and the halt is recognised from the bytes just before the final pc.
   */
  countInstructions?: boolean;
}

/**
 * How a run ended: at a halt instruction, or (in what {@linkcode runSoFar} gives back from a failed run) at
 * the wall-clock limit, the instruction budget, or a guest fault or unhandled exception.
 */
export type StopReason = "halt" | "timeout" | "instruction-limit" | "fault";

/** What a harness returns. */
export interface RunResult {
  /** General registers at the halt, by lower-case name. */
  registers: Record<string, bigint>;
  /** Every guest data read inside the watched ranges, in order. */
  reads: GuestRead[];
  /** Text the guest wrote to its UART. */
  serial: string;
  /** Instructions executed, the halt included (-1 when `countInstructions` is false). */
  instructions: number;
  /** Why the run ended. */
  stop: StopReason;
  /** Address of the halt instruction (of the last instruction executed when the run did not halt; -1 unknown). */
  haltPc: number;
  /** Wall-clock time of the run in milliseconds. */
  elapsedMs: number;
}

// What a failed run had produced, by the error it threw: the harness adds its facts, the runner its serial
// text and registers, and the caller reads them with runSoFar.
const SO_FAR = new WeakMap<object, Partial<RunResult>>();

/**
 * Records on `error` (thrown by a run) what the run had produced so far, merged with what is already
 * recorded, and returns the error to rethrow.
 *
 * @example
 * ```ts
 * import { attachRunSoFar, runSoFar } from "@linux-loader/linux-loader/emu";
 * const e = attachRunSoFar(new Error("stopped"), { serial: "half a line" });
 * console.log(runSoFar(e)?.serial); // half a line
 * ```
 */
export function attachRunSoFar(error: unknown, soFar: Partial<RunResult>): unknown {
  if (typeof error === "object" && error !== null) SO_FAR.set(error, { ...SO_FAR.get(error), ...soFar });
  return error;
}

/**
 * What a run that threw (a timeout, the instruction limit, a fault) had produced: its serial text, the
 * registers, the reads, the instruction count, the last pc. `undefined` for an error no run recorded.
 *
 * @example
 * ```ts
 * import { runSoFar } from "@linux-loader/linux-loader/emu";
 * console.log(runSoFar(new Error("not from a run"))); // undefined
 * ```
 */
export function runSoFar(error: unknown): Partial<RunResult> | undefined {
  return typeof error === "object" && error !== null ? SO_FAR.get(error) : undefined;
}

/** Facts {@linkcode runToHalt} returns. */
export interface HaltFacts {
  /** Instructions executed (-1 when not counted). */
  instructions: number;
  /** Address of the halt instruction (of the last instruction executed when the run did not halt; -1 unknown). */
  haltPc: number;
  /** Wall-clock time in milliseconds. */
  elapsedMs: number;
}

/** Maps guest memory and scratch ranges and installs read watches; returns the live read list. */
export function prepare(uc: Unicorn, mem: GuestMemory, opts: RunOptions): GuestRead[] {
  uc.mapGuestMemory(mem);
  for (const [a, s] of opts.scratch ?? []) uc.mapScratch(a, s);
  const watch = opts.watch ?? mem.regions.map((r) => [r.guestAddr, r.end] as const);
  const reads: GuestRead[] = [];
  for (const [b, e] of watch) uc.watchReads(b, e, reads);
  return reads;
}

/**
 * Runs from `begin` until the engine executes a halt instruction whose bytes are `haltBytes`.
 * Throws {@linkcode EmulatorError} `Timeout`, `InstructionLimit`, or `UnicornError` when the engine stops
 * for another reason; faults come from {@linkcode Unicorn.start} as they are.
 */
export function runToHalt(uc: Unicorn, begin: number, haltBytes: Uint8Array, opts: RunOptions): HaltFacts {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const max = opts.maxInstructions ?? 10_000_000;
  const counting = opts.countInstructions ?? true;
  let n = 0;
  let lastPc = -1, lastSize = 0;
  let deadlineHit = false;
  const t0 = performance.now();
  const deadline = t0 + timeoutMs;
  if (counting) {
    uc.onCode((address, size) => {
      n++;
      lastPc = address;
      lastSize = size;
      if ((n & 0x3ff) === 0 && performance.now() > deadline) {
        deadlineHit = true;
        uc.stop();
      }
    });
  }
  // Unicorn does not deliver CPU exceptions to the guest's vector table on its own: report them instead
  // of letting the guest run on into a confusing fault. The pc is the engine's when it reports the
  // exception (for traps such as int3 or ecall it may already point past the instruction).
  uc.onInterrupt((intno) => {
    const pc = uc.readPc();
    throw new EmulatorError(
      "UnhandledException",
      `the guest raised exception/interrupt ${intno} at pc ${hex(pc)} after ${n} instructions`,
      { field: "intno", value: intno, limit: pc },
    );
  });
  let r: ReturnType<Unicorn["start"]>;
  try {
    r = uc.start({ begin, timeoutMs, count: max });
  } catch (e) {
    throw attachRunSoFar(e, {
      stop: "fault",
      instructions: counting ? n : -1,
      haltPc: counting ? lastPc : -1,
      elapsedMs: performance.now() - t0,
    });
  }
  const elapsedMs = performance.now() - t0;
  try {
    return haltFacts();
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw attachRunSoFar(e, {
      stop: code === "Timeout" ? "timeout" : code === "InstructionLimit" ? "instruction-limit" : "fault",
      instructions: n,
      haltPc: counting ? lastPc : lastPc + haltBytes.byteLength,
      elapsedMs,
    });
  }

  function haltFacts(): HaltFacts {
    if (!counting) {
      n = -1;
      const pc = Number(uc.readPc());
      lastPc = pc - haltBytes.byteLength;
      lastSize = haltBytes.byteLength;
    }
    if (deadlineHit || r.timedOut) {
      throw new EmulatorError(
        "Timeout",
        `the guest did not halt within ${timeoutMs} ms (${n} instructions, last pc ${hex(lastPc)})`,
        { field: "timeoutMs", value: n, limit: timeoutMs },
      );
    }
    if (lastPc >= 0 && lastSize === haltBytes.byteLength) {
      const got = uc.memRead(lastPc, lastSize);
      if (got.every((b, i) => b === haltBytes[i])) return { instructions: n, haltPc: lastPc, elapsedMs };
    }
    if (!counting && max > 0) {
      throw new EmulatorError(
        "InstructionLimit",
        `the guest did not halt within ${max} instructions (pc ${hex(lastPc + haltBytes.byteLength)})`,
        { field: "maxInstructions", value: max, limit: max },
      );
    }
    if (n >= max) {
      throw new EmulatorError(
        "InstructionLimit",
        `the guest did not halt within ${max} instructions (last pc ${hex(lastPc)})`,
        { field: "maxInstructions", value: n, limit: max },
      );
    }
    throw new EmulatorError(
      "UnicornError",
      `the engine stopped at pc ${hex(lastPc)} after ${n} instructions without a halt instruction`,
      { field: "pc", value: lastPc },
    );
  }
}
