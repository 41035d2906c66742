/**
 * Runs the CLI (`main` of cli.ts, the code `deno run cli.ts` runs) with standard input replaced by a stream
 * that hands out exactly MAX_STDIN_BYTES (1 GiB) and then one byte at a time, without 1 GiB in memory: every
 * chunk is a view of the same 1 MiB buffer. A CLI still reading 1 MiB past the cap gets a stream error (so a
 * broken bound fails the test quickly instead of gathering a gigabyte). Exits with main's status; the CLI's own output
 * is untouched, and after it one line on stderr, `over-cap: {"handed":N,"peakKiB":K}`, says how many bytes
 * the CLI took from the stream and the process's peak resident set (VmHWM).
 *
 * Usage (tests/cli_stdin_test.ts): `deno run -A tests/_cli_stdin_over_cap.ts inspect - --json`.
 *
 * @module
 */
import { main } from "../cli.ts";
import { MAX_STDIN_BYTES } from "../cli/common.ts";

const CHUNK = 1 << 20;
const buffer = new Uint8Array(CHUNK);
let handed = 0;
const overCap = new ReadableStream<Uint8Array>({
  pull(controller) {
    // A CLI that reads on past its cap fails here instead of gathering a gigabyte.
    if (handed > MAX_STDIN_BYTES + CHUNK) return controller.error(new Error("read 1 MiB past the cap"));
    const n = handed < MAX_STDIN_BYTES ? Math.min(CHUNK, MAX_STDIN_BYTES - handed) : 1;
    handed += n;
    controller.enqueue(buffer.subarray(0, n));
  },
}, { highWaterMark: 0 }); // pulled only when the reader asks, so `handed` is what the CLI read
Object.defineProperty(Deno.stdin, "readable", { configurable: true, get: () => overCap });

const code = await main(Deno.args);
const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]);
console.error(`over-cap: ${JSON.stringify({ handed, peakKiB })}`);
Deno.exit(code);
