/**
 * The zstd decoder beside the C tool on the same bytes, and its peak memory.
 *
 * Input: the ZSTD payload of Debian's newest 6.12 amd64 kernel when it is in the real-kernels cache
 * (`fixtures/real/cache/linux-image-6.12.*+deb12-amd64-unsigned_*`: the bzImage's `payload_offset` /
 * `payload_length`, without the four-byte size trailer), else 48 MiB of generated kernel-like data compressed
 * here with `zstd -19`. Both are written to a temporary file for the tool.
 *
 * - `deno bench -A bench/decompress_zstd_bench.ts`: one group, `zstd -d -c FILE > /dev/null` (a process per
 *   call, the baseline) and `decodeZstd` into a preallocated destination (a `BufferSink`, as guest memory).
 * - `deno run -A bench/decompress_zstd_bench.ts report [RUNS]`: RUNS (default 5) interleaved rounds of both
 *   in one process, CPU time (user + system) and wall time each, MB/s of output, the ratio ours / tool
 *   (target: at least 1/3) with its spread; then the peak RSS of one decode in a fresh process.
 * - `deno run -A bench/decompress_zstd_bench.ts rss FILE OUT_SIZE`: that fresh-process measurement alone
 *   (JSON): VmHWM after start, after reading the input, after allocating and touching the destination, after
 *   decoding. Target: the decode adds at most 2 x window + 16 MiB over input + destination.
 *
 * @module
 */

import process from "node:process";
import { decodeZstd } from "../lib/compress/zstd.ts";
import { BufferSink } from "../lib/compress/sink.ts";
import { findBzImagePayload } from "../lib/loader/extract.ts";
import { CACHE_DIR } from "../fixtures/real/fetch.ts";
import { kernelLikeBytes } from "../fixtures/build/pe.ts";

const MiB = 1 << 20;

/** The input: compressed bytes in memory and in a file, the output size, and where it came from. */
interface ZstdInput {
  packed: Uint8Array;
  path: string;
  outSize: number;
  origin: string;
}

function newestCachedKernel(): string | undefined {
  const re = /^linux-image-6\.12\.(\d+)\+deb12-amd64-unsigned_/;
  let best: [number, string] | undefined;
  try {
    for (const e of Deno.readDirSync(CACHE_DIR)) {
      const m = re.exec(e.name);
      if (m === null) continue;
      const k = [...Deno.readDirSync(CACHE_DIR + e.name)].find((f) => f.name.startsWith("vmlinuz-"));
      if (k !== undefined && (best === undefined || Number(m[1]) > best[0])) {
        best = [Number(m[1]), `${CACHE_DIR}${e.name}/${k.name}`];
      }
    }
  } catch {
    return undefined;
  }
  return best?.[1];
}

async function zstdCompress(data: Uint8Array, args: string[]): Promise<Uint8Array> {
  const child = new Deno.Command("zstd", { args: [...args, "-q", "-c"], stdin: "piped", stdout: "piped" }).spawn();
  const w = child.stdin.getWriter();
  const writing = w.write(data).then(() => w.close());
  const [out] = await Promise.all([child.output(), writing]);
  if (!out.success) throw new Error(`zstd ${args.join(" ")} failed`);
  return out.stdout;
}

async function loadInput(): Promise<ZstdInput> {
  const dir = await Deno.makeTempDir({ prefix: "zstd-bench-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const path = `${dir}/payload.zst`;
  const kernel = newestCachedKernel();
  let packed: Uint8Array;
  let origin: string;
  if (kernel !== undefined) {
    const image = await Deno.readFile(kernel);
    const p = await findBzImagePayload(image);
    packed = image.slice(p.offset, p.offset + p.length - 4); // without the size trailer, as the tool wants
    origin = `Debian ${kernel.slice(kernel.lastIndexOf("/") + 1)} payload`;
  } else {
    packed = await zstdCompress(kernelLikeBytes(48 * MiB), ["-19"]);
    origin = "generated kernel-like 48 MiB, zstd -19";
  }
  await Deno.writeFile(path, packed);
  let outSize = 0;
  decodeZstd(packed, { write: (c) => void (outSize += c.length) });
  return { packed, path, outSize, origin };
}

function toolDecode(path: string): void {
  const out = new Deno.Command("zstd", { args: ["-d", "-c", "-q", path], stdout: "null", stderr: "null" }).outputSync();
  if (!out.success) throw new Error("zstd -d failed");
}

/** CPU time (user + system of this process) and wall time of `fn`, in ms. */
function cpuMs(fn: () => void): { cpu: number; wall: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall };
}

function status(field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(Deno.readTextFileSync("/proc/self/status"));
  if (m === null) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]) * 1024;
}

/**
 * The fresh-process measurement: decode FILE once into a destination of exactly OUT_SIZE bytes (the parent
 * counted them: the kernel's frame declares no content size).
 */
function rss(file: string, outSize: number): void {
  const start = status("VmHWM");
  const packed = Deno.readFileSync(file);
  const afterInput = status("VmHWM");
  const dest = new Uint8Array(outSize);
  dest.fill(0xcc);
  const afterDest = status("VmHWM");
  const sink = new BufferSink(dest);
  decodeZstd(packed, sink);
  const afterDecode = status("VmHWM");
  const windowLog = packed[4] & 0x20 ? undefined : 10 + (packed[5] >> 3);
  console.log(JSON.stringify({
    file,
    input: packed.length,
    output: outSize,
    windowLog,
    start,
    afterInput,
    afterDest,
    afterDecode,
  }));
}

function fmtMiB(n: number): string {
  return (n / MiB).toFixed(1);
}

async function report(runs: number): Promise<void> {
  const input = await loadInput();
  const dest = new Uint8Array(input.outSize);
  const ours = () => decodeZstd(input.packed, new BufferSink(dest));
  ours(); // compile
  toolDecode(input.path);
  const rows: { ours: { cpu: number; wall: number }; tool: { cpu: number; wall: number } }[] = [];
  for (let i = 0; i < runs; i++) {
    const o = cpuMs(ours);
    // The tool's CPU time: the child's user + system from /usr/bin/time.
    const t0 = performance.now();
    const out = new Deno.Command("/usr/bin/time", {
      args: ["-f", "%U %S", "zstd", "-d", "-c", "-q", input.path],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    const wall = performance.now() - t0;
    const [u, s] = new TextDecoder().decode(out.stderr).trim().split(/\s+/).map(Number);
    rows.push({ ours: o, tool: { cpu: (u + s) * 1000, wall } });
  }
  const med = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  const mbs = (ms: number) => input.outSize / 1e6 / (ms / 1000);
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  console.log(`input: ${input.origin}: ${input.packed.length} -> ${input.outSize} bytes; load average ${load}`);
  console.log(
    `| measure | zstd -d (ms) | decodeZstd (ms) | zstd -d MB/s | decodeZstd MB/s | ratio (ours/tool) | min .. max ratio |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const k of ["cpu", "wall"] as const) {
    const t = med(rows.map((r) => r.tool[k])), o = med(rows.map((r) => r.ours[k]));
    const ratios = rows.map((r) => r.tool[k] / r.ours[k]);
    console.log(
      `| ${k} time, median of ${runs} | ${t.toFixed(0)} | ${o.toFixed(0)} | ${mbs(t).toFixed(0)} | ${
        mbs(o).toFixed(0)
      } | ${(t / o).toFixed(2)} | ${Math.min(...ratios).toFixed(2)} .. ${Math.max(...ratios).toFixed(2)} |`,
    );
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "rss", input.path, String(input.outSize)],
    stdout: "piped",
  }).outputSync();
  const r = JSON.parse(new TextDecoder().decode(child.stdout));
  const window = r.windowLog === undefined ? r.output : Math.min(2 ** r.windowLog, r.output);
  const added = r.afterDecode - r.afterDest;
  console.log(
    `peak RSS (fresh process): start ${fmtMiB(r.start)} MiB, +input ${fmtMiB(r.afterInput - r.start)}, +destination ${
      fmtMiB(r.afterDest - r.afterInput)
    }, after decode ${fmtMiB(r.afterDecode)} MiB: the decode added ${
      fmtMiB(added)
    } MiB over input + destination (window used ${fmtMiB(window)} MiB; target at most 2 x window + 16 = ${
      fmtMiB(2 * window + 16 * MiB)
    } MiB: ${added <= 2 * window + 16 * MiB ? "met" : "NOT met"})`,
  );
}

if (Deno.args[0] === "rss") {
  rss(Deno.args[1], Number(Deno.args[2]));
} else if (Deno.args[0] === "report") {
  await report(Number(Deno.args[1] ?? 5));
} else {
  const input = await loadInput();
  const dest = new Uint8Array(input.outSize);
  const group = `zstd decode ${(input.outSize / MiB).toFixed(1)} MiB (${input.origin})`;
  Deno.bench({
    name: "zstd -d (C tool, a process per call)",
    group,
    baseline: true,
    n: 10,
    warmup: 2,
    fn: () => toolDecode(input.path),
  });
  Deno.bench({
    name: "decodeZstd into a BufferSink",
    group,
    fn: () => void decodeZstd(input.packed, new BufferSink(dest)),
  });
}
