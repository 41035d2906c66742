/**
 * `extract IMAGE -o OUT`: the kernel inside a compressed image. A bzImage gives its ELF `vmlinux` (any of
 * the seven payload methods: lz4, gzip, xz, zstd, bzip2, lzma, lzo), which can be loaded through PVH; an
 * EFI zboot image or an `Image.gz` gives the plain arm64 / riscv64 Image. `--json` reports what was found:
 * the format, the compression, the sizes, and for a vmlinux its PVH entry point.
 *
 * @module
 */

import { hex, LinuxLoaderError } from "../lib/errors.ts";
import { readBytes, toSource } from "../lib/source.ts";
import { detectKernel } from "../lib/loader/mod.ts";
import { extractVmlinux, findBzImagePayload } from "../lib/loader/extract.ts";
import { decodeElf } from "../lib/loader/elf.ts";
import { decompressPayload, type PayloadMethod } from "../lib/loader/payload.ts";
import { decodeZbootHeader } from "../lib/loader/zboot.ts";
import { type Command, json, openImage, status, statusDone, stringOption, UsageError } from "./common.ts";

/** What `extract` found and wrote (`--json`). */
export interface ExtractReport {
  /** The input. */
  image: string;
  /** Its size in bytes. */
  imageSize: number;
  /** What it was: a bzImage, an EFI zboot image or a gzip-compressed Image. */
  container: "bzimage" | "zboot" | "gzip";
  /** The payload's method (`"none"` for a bzImage carrying an uncompressed ELF). */
  compression: PayloadMethod | "none";
  /** The compressed payload's place in the file. */
  payload: { offset: number; length: number };
  /** The file written. */
  output: string;
  /** Its size in bytes. */
  outputSize: number;
  /** What it is: an ELF vmlinux or an Image. */
  kind: "vmlinux" | "Image";
  /** For a vmlinux: the PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY) when it has one. */
  pvhEntry?: number;
  /** For a vmlinux the ELF loader refuses: its error (the file is still written). */
  elfError?: string;
}

/** Largest output `extract` writes: 2 GiB. */
const MAX_OUTPUT = 2 ** 31;

/** The `extract` command. */
export const extractCommand: Command = {
  name: "extract",
  operands: "IMAGE -o OUT",
  summary: "the kernel inside IMAGE: a bzImage's ELF vmlinux, or the Image of a zboot image or Image.gz",
  description: "Decompresses the kernel inside IMAGE (a file, or - for standard input) and writes it to OUT: " +
    "for a bzImage the ELF vmlinux of its payload, whatever the method (lz4, gzip, xz, zstd, bzip2, lzma, " +
    "lzo), ready for a PVH boot; for an EFI zboot image or a gzip-compressed Image the plain Image. Prints " +
    "the compression, the sizes and the vmlinux's PVH entry point (--json: as JSON).",
  options: {
    output: { type: "string", short: "o", value: "OUT", help: "the file to write (required)" },
    json: { type: "boolean", help: "the report as JSON" },
  },
  async run(args) {
    const [path, ...rest] = args.positionals;
    if (path === undefined || rest.length > 0) throw new UsageError("extract takes one IMAGE");
    const output = stringOption(args, "output");
    if (output === undefined || output === "") throw new UsageError("extract needs -o OUT");
    const { source, close } = await openImage(path);
    let report: ExtractReport;
    let bytes: Uint8Array;
    try {
      status(`extracting ${path} ...`);
      const detected = await detectKernel(source);
      if (detected.format === "bzimage") {
        const p = await findBzImagePayload(source);
        bytes = await extractVmlinux(source, { maxOutput: MAX_OUTPUT });
        // The PVH entry, when the vmlinux is an ELF this library loads (its own error is reported, not fatal).
        let pvhEntry: number | undefined;
        let elfError: string | undefined;
        try {
          pvhEntry = (await decodeElf(toSource(bytes))).entry.pvh;
        } catch (e) {
          if (!(e instanceof LinuxLoaderError)) throw e;
          elfError = `${e.name} ${e.code}: ${e.message}`;
        }
        report = {
          image: path,
          imageSize: source.size,
          container: "bzimage",
          compression: p.compression ?? "none",
          payload: { offset: p.offset, length: p.length },
          output,
          outputSize: bytes.byteLength,
          kind: "vmlinux",
          ...(pvhEntry !== undefined ? { pvhEntry } : {}),
          ...(elfError !== undefined ? { elfError } : {}),
        };
      } else if (detected.format === "pe" && detected.compression !== undefined) {
        let offset = 0;
        let end = source.size;
        if (detected.zboot !== undefined) {
          const z = decodeZbootHeader(await readBytes(source, 0, Math.min(source.size, 4096)), source.size);
          offset = z.payloadOffset;
          end = z.payloadEnd;
        }
        const payload = await readBytes(source, offset, end - offset);
        bytes = decompressPayload(detected.compression, payload, MAX_OUTPUT);
        report = {
          image: path,
          imageSize: source.size,
          container: detected.zboot !== undefined ? "zboot" : "gzip",
          compression: detected.compression,
          payload: { offset, length: end - offset },
          output,
          outputSize: bytes.byteLength,
          kind: "Image",
        };
      } else {
        throw new UsageError(`${path} is an uncompressed ${detected.format} image: there is nothing to extract`);
      }
      statusDone();
    } finally {
      close();
    }
    try {
      if (output === "-") await Deno.stdout.write(bytes);
      else await Deno.writeFile(output, bytes);
    } catch (e) {
      throw new UsageError(`cannot write ${output}: ${(e as Error).message}`);
    }
    if (args.values.json === true) (output === "-" ? console.error : console.log)(json(report));
    else {
      const lines = [
        `${path}: ${report.container}, ${report.compression}, payload ${hex(report.payload.length)} bytes at offset ${
          hex(report.payload.offset)
        }`,
        `  wrote ${output}: ${report.kind}, ${hex(report.outputSize)} bytes`,
      ];
      if (report.kind === "vmlinux") {
        lines.push(
          `  PVH entry   ${
            report.pvhEntry !== undefined
              ? hex(report.pvhEntry)
              : report.elfError ?? "none (no XEN_ELFNOTE_PHYS32_ENTRY)"
          }`,
        );
      }
      (output === "-" ? console.error : console.log)(lines.join("\n"));
    }
    return 0;
  },
};
