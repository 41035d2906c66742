/**
 * Shared by the real-kernel boot tests (tens of seconds each; part of `deno task test`, and alone in
 * `deno task test:real`): the milestones a boot must print, in order.
 */
import assert from "node:assert/strict";
import type { RealBootResult } from "../../emu/linux/common.ts";

/** Asserts every line appears in the serial log, each after the previous one. */
export function assertInOrder(r: RealBootResult, lines: readonly string[]): void {
  let at = 0;
  for (const line of lines) {
    const i = r.serial.indexOf(line, at);
    assert.ok(
      i >= 0,
      `"${line}" missing after offset ${at} (stopped: ${r.stop}, ${r.detail}); log ends:\n${r.serial.slice(-1500)}`,
    );
    at = i + line.length;
  }
}

/** Streams the console to stderr when REAL_BOOT_VERBOSE=1. */
export function verboseLine(): ((line: string) => void) | undefined {
  let verbose = false;
  try {
    verbose = Deno.env.get("REAL_BOOT_VERBOSE") === "1";
  } catch { /* no env permission */ }
  return verbose ? (l) => console.error(l) : undefined;
}

/**
 * Registers `name` as a real-kernel boot test when the kernel is cached, and as an ignored one otherwise
 * (`ensureRealKernel` has printed why; with CI=true it throws instead, so the file fails).
 */
export function realBootTest(
  have: boolean,
  name: string,
  fn: () => Promise<void>,
  emuTest: (n: string, f: () => Promise<void>) => void,
): void {
  if (have) emuTest(name, fn);
  else Deno.test({ name, ignore: true, fn });
}
