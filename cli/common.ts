/**
 * What every command of the CLI shares: the {@linkcode Command} shape a command module exports, the exit
 * codes, the usage error, and reading an image or a file (`-` is standard input). A new command is one
 * module exporting a `Command` plus one line in `cli/commands.ts`.
 *
 * @module
 */

import { fromBytes, fromFile, type KernelSource } from "../lib/source.ts";
import { hex } from "../lib/errors.ts";
import { escapeImageText } from "../lib/inspect.ts";

/**
 * Exit statuses: 0 success, 1 the image or the guest failed, 2 the command line is wrong.
 *
 * @example
 * ```ts
 * import { EXIT, main } from "@linux-loader/linux-loader/cli";
 * console.log((await main(["frobnicate"])) === EXIT.usage); // true
 * ```
 */
export const EXIT: Readonly<{ ok: 0; failed: 1; usage: 2 }> = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/**
 * A usage or argument error: one line on stderr ending in "(see --help)", exit status 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "@linux-loader/linux-loader/cli";
 * const e = new UsageError("inspect takes one IMAGE");
 * console.log(e.name, e.message); // UsageError inspect takes one IMAGE
 * ```
 */
export class UsageError extends Error {
  /** Builds the error; `message` says what is wrong with the arguments. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** An option of a command, as `node:util` `parseArgs` takes it, with its help text. */
export interface OptionSpec {
  /** `"string"` takes a value, `"boolean"` is a switch. */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** The value's name in help (`SIZE`, `FILE`). */
  value?: string;
  /** One line of help. */
  help: string;
}

/** Parsed arguments of a command. */
export interface CommandArgs {
  /** Arguments that are not options (after `--`, everything is one). */
  positionals: string[];
  /** Option values by name. */
  values: Record<string, string | boolean | undefined>;
}

/** One subcommand. */
export interface Command {
  /** The word on the command line. */
  name: string;
  /** What it takes besides options, e.g. `IMAGE` or `[IMAGE]`. */
  operands: string;
  /** One line for the command list. */
  summary: string;
  /** A paragraph for `COMMAND --help`. */
  description: string;
  /** Its options. */
  options: Record<string, OptionSpec>;
  /** Runs it; resolves to the exit status. Throws {@linkcode UsageError} for bad arguments. */
  run(args: CommandArgs): Promise<number>;
}

/** A string option's value, or undefined. */
export function stringOption(args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

/** Parses a size such as `64M`, `1G`, `0x4000000` or `65536` for `--mem` (4 KiB multiple, 1 MiB..16 GiB). */
export function parseSize(text: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([kmg])?i?b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--mem ${JSON.stringify(text)} is not a size (e.g. 64M, 1G, 0x4000000)`);
  const n = Number(m[1]) * ({ k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2]?.toLowerCase() as "k"] ?? 1);
  if (!Number.isSafeInteger(n) || n < 1 << 20 || n > 16 * 2 ** 30 || n % 4096 !== 0) {
    throw new UsageError(`--mem ${text} must be a multiple of 4 KiB between 1 MiB and 16 GiB`);
  }
  return n;
}

/** The most bytes read from standard input (a pipe has no size to check first): 1 GiB. */
export const MAX_STDIN_BYTES = 1 << 30;

async function readStdin(what = "standard input"): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of Deno.stdin.readable) {
    total += chunk.byteLength;
    if (total > MAX_STDIN_BYTES) {
      throw new UsageError(`${what} from standard input passes ${MAX_STDIN_BYTES} bytes (1 GiB); give a file instead`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Refuses anything but a regular file before it is opened: opening a FIFO blocks until a writer comes, and a
 * device such as /dev/zero never ends. (Standard input, `-`, is read with a bound instead.)
 */
export async function checkRegular(path: string, what: string): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    throw new UsageError(`cannot open ${what} ${path}: ${(e as Error).message}`);
  }
  if (!st.isFile) throw new UsageError(`${what} ${path} is not a regular file (a directory, FIFO, socket or device)`);
}

/** The bytes of `path`, or of standard input for `-`. A file that cannot be read is a usage error. */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  if (path === "-") return await readStdin(what);
  await checkRegular(path, what);
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/**
 * A kernel source over `path` (read as needed, no copy of the image), or over standard input for `-`
 * (read whole first: a pipe cannot seek).
 */
export async function openImage(path: string): Promise<{ source: KernelSource; close: () => void }> {
  if (path === "-") return { source: await fromBytes(await readStdin("IMAGE")), close: () => {} };
  await checkRegular(path, "IMAGE");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    throw new UsageError(`cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    // Checked again on the open file: the path may have been replaced in between.
    if (!(await file.stat()).isFile) throw new UsageError(`IMAGE ${path} is not a regular file`);
    return { source: await fromFile(file), close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** JSON with bigints as hex strings. */
export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? hex(v) : v), 2);
}

// Long work is shown on a terminal and stays quiet otherwise (pipes, CI logs).
const tty = (() => {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
})();

/** Shows a progress line on a terminal (nothing when stderr is not one). */
export function status(msg: string): void {
  if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${escapeImageText(msg)}`));
}

/** Clears the progress line. */
export function statusDone(): void {
  if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
}
