/**
 * Puts a kernel command line into guest memory, as the crate's `loader::load_cmdline`: the NUL-terminated
 * bytes of a {@linkcode Cmdline} at a guest address. The write goes through a {@linkcode Plan}, so every
 * check runs before any byte is written.
 *
 * @module
 */

import type { Cmdline } from "../cmdline.ts";
import { hex, KernelLoaderError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import type { BytesStep, Plan } from "../plan.ts";

/**
 * Label of the plan step that writes the command line.
 *
 * @example
 * ```ts
 * import { CMDLINE_LABEL } from "@linux-loader/linux-loader/abi";
 * console.log(CMDLINE_LABEL); // command line
 * ```
 */
export const CMDLINE_LABEL = "command line";

/**
 * The plan that writes `cmdline`'s NUL-terminated bytes at `addr`, not yet checked against memory.
 * Errors ({@linkcode KernelLoaderError}): `InvalidCommandLine` when `cmdline.asCString()` fails (the
 * {@linkcode CmdlineError} is the `cause`), `CommandLineOverflow` when `addr` is not a non-negative safe
 * integer or the last byte, `addr + length - 1`, passes 2^53 - 1 (our stand-in for the crate's u64
 * overflow).
 *
 * @example Inspect before writing
 * ```ts
 * import { Cmdline, planCmdline } from "@linux-loader/linux-loader";
 * const cl = new Cmdline(10);
 * cl.insert("foo", "bar");
 * const plan = planCmdline(0x2_0000, cl);
 * const step = plan.steps[0];
 * console.log(step.kind === "bytes" && step.bytes.length); // 8
 * ```
 */
export function planCmdline(addr: number, cmdline: Cmdline): Plan {
  let bytes: Uint8Array;
  try {
    bytes = cmdline.asCString();
  } catch (e) {
    throw new KernelLoaderError(
      "InvalidCommandLine",
      `the command line cannot be made a C string: ${e instanceof Error ? e.message : String(e)}`,
      { field: "cmdline", cause: e },
    );
  }
  if (typeof addr !== "number" || !Number.isSafeInteger(addr) || addr < 0) {
    throw new KernelLoaderError(
      "CommandLineOverflow",
      `command line address ${String(addr)} is not a non-negative safe integer`,
      { field: "addr", value: typeof addr === "number" ? addr : String(addr), limit: Number.MAX_SAFE_INTEGER },
    );
  }
  // bytes.length >= 1: there is always the NUL.
  const last = addr + bytes.length - 1;
  if (last > Number.MAX_SAFE_INTEGER) {
    throw new KernelLoaderError(
      "CommandLineOverflow",
      `command line of ${bytes.length} bytes at ${hex(addr)} ends past ${hex(Number.MAX_SAFE_INTEGER)}`,
      { field: "addr", value: addr, limit: Number.MAX_SAFE_INTEGER },
    );
  }
  return { steps: [{ kind: "bytes", guestAddr: addr, bytes, label: CMDLINE_LABEL }] };
}

/**
 * Writes `cmdline`'s NUL-terminated bytes at guest address `addr`. Errors ({@linkcode KernelLoaderError}),
 * all raised before anything is written:
 * - `InvalidCommandLine` when `cmdline.asCString()` fails (init arguments without boot arguments, a NUL);
 * - `CommandLineOverflow` when the last byte, `addr + length - 1`, overflows or passes `mem.lastAddr`;
 * - `CommandLineCopy` when the range is below `mem.lastAddr` but touches a hole between regions (where the
 *   crate's write fails, possibly after writing part of the line, we write nothing).
 *
 * @example
 * ```ts
 * import { Cmdline, GuestMemory, loadCmdline } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 0x100_0000]]);
 * const cl = new Cmdline(10);
 * cl.insert("foo", "bar");
 * loadCmdline(mem, 0x1000, cl);
 * console.log(new TextDecoder().decode(mem.read(0x1000, 8))); // "foo=bar\0"
 * ```
 */
export function loadCmdline(mem: GuestMemory, addr: number, cmdline: Cmdline): void {
  const plan = planCmdline(addr, cmdline);
  const len = plan.steps[0].kind === "bytes" ? plan.steps[0].bytes.length : 0;
  const last = addr + len - 1;
  if (last > mem.lastAddr) {
    throw new KernelLoaderError(
      "CommandLineOverflow",
      `command line [${hex(addr)}, ${hex(last + 1)}) passes the end of guest memory (last address ${
        hex(mem.lastAddr)
      })`,
      { field: "addr", value: last, limit: mem.lastAddr },
    );
  }
  const miss = mem.firstMissing(addr, len);
  if (miss !== undefined) {
    throw new KernelLoaderError(
      "CommandLineCopy",
      `command line [${hex(addr)}, ${hex(last + 1)}) cannot be written: byte ${hex(miss)} is in no region`,
      { field: "addr", value: miss },
    );
  }
  // Every check of applyPlanSync's validation has passed above: write the one step directly.
  mem.write(addr, (plan.steps[0] as BytesStep).bytes);
}
