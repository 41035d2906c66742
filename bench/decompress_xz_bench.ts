/**
 * XZ and legacy LZMA decoding next to the C tool on the same bytes, in the same run (issue 19 item 5):
 *
 * - `xz -d` (xz-utils, a subprocess reading the same compressed file, output to /dev/null) is the
 *   baseline; `decodeXz` decodes the same bytes into a caller's buffer (`BufferSink`), and into a
 *   `CountingSink` (no copy: the decoder alone).
 * - the same for `.lzma`: `xz --format=lzma -d` against `decodeLzma`.
 *
 * Throughput in MB/s of output is `outSize / time`; deno bench prints the time per iteration and the ratio
 * to the baseline. Target: our decoder at least 1/2 of the C tool's throughput, i.e. at most 2x its time.
 * Inputs: see `_xz_inputs.ts` (Debian's 6.1 amd64 kernel payload when cached). Peak RSS of a decode in a
 * fresh process: `deno run -A bench/xz_peak_rss.ts`.
 *
 * Run: deno bench --allow-all bench/decompress_xz_bench.ts
 */

import { BufferSink, CountingSink } from "../lib/compress/sink.ts";
import { decodeXz } from "../lib/compress/xz.ts";
import { decodeLzma } from "../lib/compress/lzma.ts";
import { lzmaInput, xzInput } from "./_xz_inputs.ts";

const xz = await xzInput();
const lzma = await lzmaInput(xz);
const xzDest = new Uint8Array(xz.outSize);
const lzmaDest = new Uint8Array(lzma.outSize);

async function tool(args: string[]): Promise<void> {
  const out = await new Deno.Command("xz", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

const xzGroup = `xz: ${xz.origin} (${(xz.bytes.length / 1e6).toFixed(1)} MB -> ${(xz.outSize / 1e6).toFixed(1)} MB)`;
Deno.bench({
  name: "xz -d (C, subprocess)",
  group: xzGroup,
  baseline: true,
  async fn() {
    await tool(["-d", "-c", "--single-stream", xz.path]);
  },
});
Deno.bench({
  name: "decodeXz into a buffer",
  group: xzGroup,
  fn() {
    decodeXz(xz.bytes, new BufferSink(xzDest));
  },
});
Deno.bench({
  name: "decodeXz into a CountingSink",
  group: xzGroup,
  fn() {
    decodeXz(xz.bytes, new CountingSink());
  },
});

const lzmaGroup = `lzma: ${lzma.origin} (${(lzma.bytes.length / 1e6).toFixed(1)} MB -> ${
  (lzma.outSize / 1e6).toFixed(1)
} MB)`;
Deno.bench({
  name: "xz --format=lzma -d (C, subprocess)",
  group: lzmaGroup,
  baseline: true,
  async fn() {
    await tool(["--format=lzma", "-d", "-c", lzma.path]);
  },
});
Deno.bench({
  name: "decodeLzma into a buffer",
  group: lzmaGroup,
  fn() {
    decodeLzma(lzma.bytes, new BufferSink(lzmaDest));
  },
});
