/**
 * Inputs of the xz/lzma benchmarks, built once outside every measured function:
 *
 * - xz: the payload of Debian's standard amd64 6.1 kernel (`linux-image-6.1.0-<abi>-amd64-unsigned`, XZ
 *   with `--check=crc32 --x86 --lzma2=dict=32MiB`, 8 MB in, 66 MB out) cut per its setup header, when
 *   the real-kernels cache has it; else 32 MiB of generated kernel-like bytes compressed with the same
 *   options.
 * - lzma: the first 16 MiB of that output compressed by `xz --format=lzma -6` (the legacy format's decoder
 *   shares the LZMA core; a smaller input keeps the one-time compression short).
 *
 * Each input is also written to a temporary file for the C tool (removed at exit). Nothing is downloaded.
 *
 * @module
 */

import { cachedXzKernel } from "../fixtures/real/fetch.ts";
import { kernelLikeBytes } from "../fixtures/build/pe.ts";
import { findBzImagePayload } from "../lib/loader/extract.ts";
import { decodeXz } from "../lib/compress/xz.ts";
import { BufferSink } from "../lib/compress/sink.ts";

/** One compressed input with its decoded size and a file holding the compressed bytes. */
export interface XzBenchInput {
  /** Compressed bytes (for xz: the stream only, without the kernel's size trailer). */
  bytes: Uint8Array;
  /** A file with the same bytes. */
  path: string;
  /** Decoded size. */
  outSize: number;
  /** Where it came from. */
  origin: string;
}

const MiB = 1 << 20;

async function run(cmd: string, args: string[], input: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const w = child.stdin.getWriter();
  const writing = w.write(input).then(() => w.close());
  const [out] = await Promise.all([child.output(), writing]);
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

let dir: string | undefined;
async function tempFile(name: string, bytes: Uint8Array): Promise<string> {
  if (dir === undefined) {
    const d = await Deno.makeTempDir({ prefix: "xz-bench-" });
    dir = d;
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(d, { recursive: true });
      } catch {
        // Already gone.
      }
    });
  }
  await Deno.writeFile(`${dir}/${name}`, bytes);
  return `${dir}/${name}`;
}

/** The xz input (see the module comment). */
export async function xzInput(): Promise<XzBenchInput> {
  const kernel = cachedXzKernel();
  if (kernel !== undefined) {
    const image = await Deno.readFile(kernel);
    const p = await findBzImagePayload(image);
    const payload = image.subarray(p.offset, p.offset + p.length - 4); // without size_append's trailer
    const outSize = new DataView(image.buffer).getUint32(p.offset + p.length - 4, true);
    return {
      bytes: payload,
      path: await tempFile("payload.xz", payload),
      outSize,
      origin: `Debian ${kernel.slice(kernel.lastIndexOf("/") + 1)} payload`,
    };
  }
  const raw = kernelLikeBytes(32 * MiB, 3);
  const bytes = await run("xz", ["-c", "--check=crc32", "--x86", "--lzma2=dict=32MiB"], raw);
  return { bytes, path: await tempFile("generated.xz", bytes), outSize: raw.length, origin: "generated 32 MiB" };
}

/** The lzma input, made from the xz input's output. */
export async function lzmaInput(xz: XzBenchInput): Promise<XzBenchInput> {
  const out = new Uint8Array(xz.outSize);
  decodeXz(xz.bytes, new BufferSink(out));
  const raw = out.subarray(0, Math.min(out.length, 16 * MiB));
  const bytes = await run("xz", ["-c", "--format=lzma", "-6"], raw);
  return {
    bytes,
    path: await tempFile("part.lzma", bytes),
    outSize: raw.length,
    origin: `first ${raw.length >> 20} MiB of the ${xz.origin}, xz --format=lzma -6`,
  };
}
