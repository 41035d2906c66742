/**
 * Shared helper for emulator tests: `emuTest(name, fn)` registers a Deno test that needs the Unicorn
 * library. When the library is missing the test fails with CI=true (a missing engine must never pass
 * silently on CI) and is ignored, with a printed reason, otherwise.
 *
 * @module
 */

import { unicornAvailable } from "../../emu/unicorn.ts";

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
