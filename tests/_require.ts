/**
 * The skip rule for tests that need a system tool (cpio, lz4, dtc, binutils, QEMU, a cached real kernel):
 * on a developer machine a missing tool skips the test with a printed reason; with CI=true the test runs
 * anyway and fails, because `deno task test` installs every tool and a missing one is a broken set-up.
 *
 * @module
 */

function onCi(): boolean {
  try {
    return Deno.env.get("CI") === "true";
  } catch {
    return false;
  }
}

const warned = new Set<string>();

/** The `ignore` value for a test that needs `what`: true only when it is missing and CI is not set. */
export function ignoreUnless(present: boolean, what: string): boolean {
  if (present) return false;
  if (onCi()) return false;
  if (!warned.has(what)) {
    warned.add(what);
    console.error(`tests needing ${what} skipped: it is missing (set CI=true to make this an error)`);
  }
  return true;
}
