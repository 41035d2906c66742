/**
 * Shared helper for emulator tests: `emuTest(name, fn)` registers a Deno test that needs the Unicorn
 * library. When the library is missing the test fails with CI=true (a missing engine must never pass
 * silently on CI) and is ignored, with a printed reason, otherwise.
 *
 * @module
 */

import { unicornAvailable } from "../../emu/unicorn.ts";
import { UNICORN_21_LIB } from "../../fixtures/real/unicorn.ts";

// The engine the suite runs on. Real-kernel boots are about 5x faster on Unicorn 2.1.1 than on bookworm's
// 2.0.1 (bench/real_boot_bench.ts; emu/linux/NOTES.md), so when `deno task fetch-kernels` has cached
// Debian trixie's libunicorn2t64 and UNICORN_LIB is not set, the tests use it. `UNICORN_LIB=` (empty)
// runs them on the system's library; tests/emu/engine_test.ts keeps the system engine exercised too.
function chooseEngine(): void {
  try {
    if (Deno.env.get("UNICORN_LIB") !== undefined) return;
    Deno.statSync(UNICORN_21_LIB);
    Deno.env.set("UNICORN_LIB", UNICORN_21_LIB);
  } catch {
    // no permission, or not cached: the system's library
  }
}
chooseEngine();

const availability = unicornAvailable();

function onCi(): boolean {
  try {
    return Deno.env.get("CI") === "true";
  } catch {
    return false;
  }
}

let warned = false;

/** Whether emulator tests can run here. */
export const UNICORN_OK: boolean = availability.ok;

/** Registers an emulator test (see the module doc for the skip rule). */
export function emuTest(name: string, fn: () => void | Promise<void>): void {
  if (availability.ok) {
    Deno.test(name, fn);
    return;
  }
  const reason = availability.reason;
  if (onCi()) {
    Deno.test(name, () => {
      throw new Error(`CI=true and the Unicorn library is missing: ${reason}`);
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.error(`emulator tests skipped (set CI=true to make this an error): ${reason}`);
  }
  Deno.test({ name, ignore: true, fn });
}
