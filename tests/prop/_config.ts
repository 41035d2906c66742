/**
 * Shared settings for fast-check properties.
 *
 * - Default (`deno task test`): 1000 runs per property, a fixed seed derived from the property's name, so a
 *   run is the same on every machine and a failure reproduces as is.
 * - Fuzz mode (`FUZZ=1`, as `deno task fuzz` sets): `FUZZ_RUNS` runs (default 100000) with a fresh random
 *   seed, and one line per property: `prop <name>: runs=<n> seed=<seed> time=<ms>ms <ok|FAILED>`.
 * - `FUZZ_SEED=<n>` forces the seed in either mode, to replay a fuzz failure.
 *
 * Use:
 * ```ts
 * import fc from "fast-check";
 * import { checkProperty } from "./_config.ts";
 * Deno.test("addition commutes", () => {
 *   checkProperty("addition commutes", fc.property(fc.integer(), fc.integer(), (a, b) => a + b === b + a));
 * });
 * ```
 * Or pass `propParams(name)` to `fc.assert` yourself when you need more control.
 *
 * Reading the environment needs `--allow-env`; without it the defaults apply.
 */

import fc from "fast-check";

/** Runs per property outside fuzz mode. */
export const DEFAULT_RUNS = 1_000;
/** Runs per property in fuzz mode when `FUZZ_RUNS` is not set. */
export const DEFAULT_FUZZ_RUNS = 100_000;
const BASE_SEED = 0x4c4c_4452; // "LLDR"

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: defaults
  }
}

function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Whether `FUZZ=1` (or any value but "", "0", "false") is set. */
export function isFuzz(): boolean {
  const v = env("FUZZ");
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

/** A fixed 32-bit seed per property name (FNV-1a), so properties do not share one random stream. */
function nameSeed(name: string): number {
  let h = 0x811c_9dc5 ^ BASE_SEED;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x0100_0193);
  }
  return h | 0;
}

/** Run count and seed for the property `name` in the current mode. */
export function propParams<T>(name: string, overrides: fc.Parameters<T> = {}): fc.Parameters<T> {
  const fuzz = isFuzz();
  const forced = env("FUZZ_SEED");
  const seed = forced !== undefined && /^-?\d+$/.test(forced.trim())
    ? Number(forced.trim()) | 0
    : fuzz
    ? (Math.random() * 0x1_0000_0000) | 0
    : nameSeed(name);
  const numRuns = fuzz ? positiveInt(env("FUZZ_RUNS")) ?? DEFAULT_FUZZ_RUNS : DEFAULT_RUNS;
  return { numRuns, seed, ...overrides };
}

function report(name: string, params: fc.Parameters<unknown>, start: number, ok: boolean): void {
  if (!isFuzz()) return;
  const ms = performance.now() - start;
  console.log(
    `prop ${name}: runs=${params.numRuns} seed=${params.seed} time=${ms.toFixed(0)}ms ${ok ? "ok" : "FAILED"}`,
  );
}

/** `fc.assert` with {@linkcode propParams}; in fuzz mode prints runs, seed and time. */
export function checkProperty<T>(name: string, property: fc.IProperty<T>, overrides: fc.Parameters<T> = {}): void {
  const params = propParams(name, overrides);
  const start = performance.now();
  let ok = false;
  try {
    fc.assert(property, params);
    ok = true;
  } finally {
    report(name, params as fc.Parameters<unknown>, start, ok);
  }
}

/** The async form of {@linkcode checkProperty}, for `fc.asyncProperty`. */
export async function checkAsyncProperty<T>(
  name: string,
  property: fc.IAsyncProperty<T>,
  overrides: fc.Parameters<T> = {},
): Promise<void> {
  const params = propParams(name, overrides);
  const start = performance.now();
  let ok = false;
  try {
    await fc.assert(property, params);
    ok = true;
  } finally {
    report(name, params as fc.Parameters<unknown>, start, ok);
  }
}
