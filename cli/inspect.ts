/**
 * `inspect IMAGE`: what an image is, without loading it. Every address, size, offset and flag prints in
 * hexadecimal; counts in decimal.
 *
 * @module
 */

import { hex } from "../lib/errors.ts";
import type { KernelSource } from "../lib/source.ts";
import { escapeImageText, inspectKernel, type KernelReport } from "../lib/inspect.ts";
import { decodeElf } from "../lib/loader/elf.ts";
import { decodeBzImageLoad } from "../lib/loader/bzimage.ts";
import { planPe } from "../lib/loader/pe.ts";
import { decodeMultibootLoad } from "../lib/loader/multiboot.ts";
import type { LoadResult } from "../lib/loader/mod.ts";
import { type DescribedPlan, planToJson } from "../lib/plan_json.ts";
import { GuestMemory } from "../lib/memory.ts";
import { type Command, json, openImage, status, statusDone, stringOption, UsageError } from "./common.ts";

/** The text form of a report. */
export function formatReport(path: string, r: KernelReport): string {
  const lines = [
    escapeImageText(path),
    `  format      ${r.format}${r.compression ? ` (${r.compression}-compressed)` : ""}, ${r.arch}, ${
      hex(r.size)
    } bytes`,
    `  protocol    ${r.protocol}`,
  ];
  if (r.version) lines.push(`  version     ${r.version}`);
  lines.push(`  placement   ${r.placement}`);
  for (const [k, v] of Object.entries(r.entry)) lines.push(`  entry       ${k.padEnd(10)} ${hex(v as number)}`);
  for (const l of r.loadRanges) {
    lines.push(
      `  loads       [${hex(l.start)}, ${hex(l.end)})  ${l.label}: ${hex(l.fileSize)} bytes from offset ${
        hex(l.fileOffset)
      }`,
    );
  }
  if (r.kernelEnd !== undefined) lines.push(`  kernel end  ${hex(r.kernelEnd)}`);
  if (r.payload) {
    lines.push(
      `  payload     ${r.payload.compression}, ${hex(r.payload.length)} bytes at offset ${hex(r.payload.offset)}`,
    );
  }
  for (const m of r.multiboot) lines.push(`  multiboot   version ${m.version} header at offset ${hex(m.offset)}`);
  const fields = Object.entries(r.fields);
  if (fields.length > 0) {
    lines.push("  header");
    for (const [k, v] of fields) lines.push(`    ${k.padEnd(20)} ${String(v)}`);
  }
  return lines.join("\n");
}

// The load plan at the placement inspect reports. An Image's plan is checked against a guest memory, so one
// is made over the range it can use (buffers are zero-filled lazily: nothing is touched).
async function planOf(src: KernelSource, r: KernelReport): Promise<DescribedPlan> {
  let p: LoadResult;
  switch (r.format) {
    case "elf":
      p = await decodeElf(src);
      break;
    case "bzimage":
      p = await decodeBzImageLoad(src);
      break;
    case "pe": {
      const start = r.loadRanges[0].start;
      const base = start - (start % 0x20_0000);
      const end = Math.max(r.kernelEnd ?? 0, r.loadRanges[0].end);
      const mem = new GuestMemory([{ guestAddr: base, size: Math.ceil((end - base) / 0x1000) * 0x1000 }]);
      p = await planPe(mem, src);
      break;
    }
    case "multiboot":
    case "multiboot2":
      p = await decodeMultibootLoad(r.format === "multiboot" ? 1 : 2, undefined, src);
      break;
  }
  const [key, entry] = Object.entries(p.entry)[0] ?? [undefined, undefined];
  return { steps: p.plan.steps, protocol: p.format === "multiboot2" ? p.format : key, entry };
}

/** The `inspect` command. */
export const inspectCommand: Command = {
  name: "inspect",
  operands: "IMAGE...",
  summary: "what each IMAGE is: format, architecture, protocol, entry points, load ranges, header fields, version",
  description: "Reads each IMAGE (a file, or - for standard input) and reports what a loader would do with it, " +
    "without loading it: format and compression, architecture, boot protocol, the entry point of every " +
    "protocol it supports, the guest ranges it loads to, where the kernel's memory ends, its header fields " +
    "and its version string.",
  options: {
    json: { type: "boolean", help: "the report as JSON" },
    plan: { type: "boolean", help: "the load plan as JSON (the copies and zero-fills a load makes)" },
    arch: { type: "string", value: "ARCH", help: "fail unless IMAGE is for ARCH (x86_64, i386, aarch64, riscv64)" },
  },
  async run(args) {
    const paths = args.positionals;
    if (paths.length === 0) throw new UsageError("inspect needs an IMAGE");
    if (args.values.plan === true && paths.length > 1) throw new UsageError("--plan takes one IMAGE");
    if (paths.filter((p) => p === "-").length > 1) throw new UsageError("standard input (-) can be read once");
    const arch = stringOption(args, "arch");
    const reports: KernelReport[] = [];
    for (const path of paths) {
      const { source, close } = await openImage(path);
      try {
        status(`inspecting ${path} ...`);
        const r = await inspectKernel(source);
        statusDone();
        if (arch !== undefined && arch !== r.arch) {
          throw new UsageError(`--arch ${arch}, but ${path} is an image for ${r.arch}`);
        }
        if (args.values.plan === true) console.log(json(planToJson(await planOf(source, r))));
        else if (args.values.json === true) reports.push(r);
        else console.log((reports.push(r) > 1 ? "\n" : "") + formatReport(path, r));
      } finally {
        close();
      }
    }
    // --json: one report as an object, several as an array in operand order.
    if (args.values.json === true && args.values.plan !== true) {
      console.log(json(reports.length === 1 ? reports[0] : reports));
    }
    return 0;
  },
};
