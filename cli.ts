/**
 * The linux-loader command line.
 *
 * ```sh
 * linux-loader inspect IMAGE... [--json | --plan] [--arch ARCH]
 * linux-loader extract IMAGE -o OUT [--json]
 * linux-loader boot [IMAGE] [--arch ARCH] [--cmdline TEXT] [--initrd FILE] [--mem SIZE] [--protocol linux|pvh]
 *                   [--timeout MS] [--json]
 * linux-loader demo
 * linux-loader --help | COMMAND --help | --version
 * ```
 *
 * IMAGE (and `--initrd`) may be `-` for standard input; `--` ends the options. `--help` or `-h` anywhere
 * before `--` prints help. Exit status: 0 success, 1 the image or the guest failed (one line on stderr
 * naming the error class and code), 2 the command line is wrong (one line ending in "(see --help)").
 * Each command is a module in `cli/`; `cli/commands.ts` lists them.
 *
 * @example Run a command in-process
 * ```ts
 * import { main } from "@linux-loader/linux-loader/cli";
 * console.log(await main(["--version"])); // 0
 * ```
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import { LinuxLoaderError } from "./lib/errors.ts";
import { COMMANDS } from "./cli/commands.ts";
import { type Command, EXIT, json, statusDone, UsageError } from "./cli/common.ts";
import { escapeImageText } from "./lib/inspect.ts";

export { EXIT, UsageError } from "./cli/common.ts";

/**
 * The package version, as deno.json has it.
 *
 * @example
 * ```ts
 * import { VERSION } from "@linux-loader/linux-loader/cli";
 * console.log(/^\d+\.\d+\.\d+/.test(VERSION)); // true
 * ```
 */
export const VERSION: string = denoJson.version;

function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  return [...lines, line].join("\n");
}

function optionLine(name: string, o: Command["options"][string]): string {
  const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.value ? ` ${o.value}` : ""}`;
  return `  ${flag.padEnd(24)} ${o.help}`;
}

/**
 * The help text: the command list, or one command's usage and options.
 *
 * @example
 * ```ts
 * import { helpText } from "@linux-loader/linux-loader/cli";
 * console.log(helpText("inspect").split("\n")[0]); // usage: linux-loader inspect IMAGE... [options]
 * ```
 */
export function helpText(command?: string): string {
  const c = COMMANDS.find((x) => x.name === command);
  if (c !== undefined) {
    const opts = Object.entries(c.options).map(([n, o]) => optionLine(n, o));
    return [
      `usage: linux-loader ${c.name}${c.operands ? ` ${c.operands}` : ""}${opts.length > 0 ? " [options]" : ""}`,
      "",
      wrap(c.description),
      ...(opts.length > 0 ? ["", "options:", ...opts] : []),
      optionLine("help", { type: "boolean", short: "h", help: "this help" }),
    ].join("\n");
  }
  return [
    "usage: linux-loader COMMAND [options] [--] [operands]",
    "",
    "commands:",
    ...COMMANDS.map((x) => `  ${x.name.padEnd(9)} ${x.summary}`),
    "",
    "  -h, --help       help (COMMAND --help: that command's options)",
    "  --version        the version",
    "",
    "IMAGE may be - for standard input. Exit status: 0 success, 1 the image or the guest failed,",
    "2 the command line is wrong.",
  ].join("\n");
}

/**
 * Runs the CLI on `argv` (without the program name) and resolves to the exit status; prints to stdout and,
 * for errors, one line to stderr.
 *
 * @example
 * ```ts
 * import { main } from "@linux-loader/linux-loader/cli";
 * console.log(await main(["inspect"])); // 2 (a usage error: inspect needs an IMAGE)
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  const dashdash = argv.indexOf("--");
  const optionArea = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const [first, ...rest] = argv;
  const command = COMMANDS.find((c) => c.name === first);
  try {
    if (optionArea.includes("--help") || optionArea.includes("-h") || first === "help") {
      console.log(helpText(command?.name ?? (first === "help" ? rest[0] : undefined)));
      return EXIT.ok;
    }
    if (first === "--version" || (command === undefined && optionArea.includes("--version"))) {
      console.log(`linux-loader ${VERSION}`);
      return EXIT.ok;
    }
    if (first === undefined) throw new UsageError("no command given (inspect, boot or demo)");
    if (command === undefined) {
      throw new UsageError(`unknown command ${first} (${COMMANDS.map((c) => c.name).join(", ")})`);
    }
    const options: NonNullable<ParseArgsConfig["options"]> = {};
    for (const [name, o] of Object.entries(command.options)) {
      options[name] = o.short === undefined ? { type: o.type } : { type: o.type, short: o.short };
    }
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
    } catch (e) {
      // node:util reports unknown options, missing values and values given to switches as TypeErrors.
      throw new UsageError(`${command.name}: ${(e as Error).message.split(". To specify")[0]}`);
    }
    return await command.run({
      positionals: parsed.positionals,
      values: parsed.values as Record<string, string | boolean | undefined>,
    });
  } catch (e) {
    statusDone();
    return reportError(e, optionArea.includes("--json"));
  }
}

// One line on stderr with control characters escaped (a path or an image's text may hold a newline or an
// escape sequence); under --json also a JSON object on stdout, so a caller reading stdout always gets JSON.
function reportError(e: unknown, asJson: boolean): number {
  const typed = e instanceof LinuxLoaderError ? e : undefined;
  const usage = e instanceof UsageError;
  const line = usage
    ? `${e.message} (see --help)`
    : typed !== undefined
    ? `${typed.name} ${typed.code}: ${typed.message}`
    : e instanceof Error
    ? `${e.name}: ${e.message}`
    : String(e);
  console.error(`linux-loader: ${escapeImageText(line)}`);
  if (asJson) {
    const error: Record<string, unknown> = {
      name: usage ? "UsageError" : e instanceof Error ? e.name : typeof e,
      message: e instanceof Error ? e.message : String(e),
    };
    if (typed !== undefined) {
      error.code = typed.code;
      for (const k of ["field", "value", "limit"] as const) if (typed[k] !== undefined) error[k] = typed[k];
    }
    console.log(json({ error }));
  }
  return usage ? EXIT.usage : EXIT.failed;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
