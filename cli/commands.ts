/**
 * The CLI's commands, in the order `--help` lists them. Adding a command: a module exporting a
 * {@linkcode Command}, and one line here.
 *
 * @module
 */

import type { Command } from "./common.ts";
import { inspectCommand } from "./inspect.ts";
import { bootCommand } from "./boot.ts";
import { demoCommand } from "./demo.ts";
import { extractCommand } from "./extract.ts";

/** Every command, by name. */
export const COMMANDS: readonly Command[] = [inspectCommand, extractCommand, bootCommand, demoCommand];
