/**
 * The bzip2, LZO (lzop) and gzip decoders beside their C tools on the same bytes, and their peak memory.
 *
 * Input: Debian's amd64 cloud vmlinux (extracted from the cached bzImage with `extractVmlinux`, 53 MB)
 * when the real-kernels cache has it, else 48 MiB of generated kernel-like bytes; compressed once with
 * `bzip2 -9`, `lzop -9` and `gzip -9 -n` (the kernel build's commands) and kept beside the kernel in the
 * cache (or in a temporary directory).
 *
 * - `deno bench -A bench/decompress_bench.ts`: one group per format: the C tool (`TOOL -d -c FILE`, output
 *   to /dev/null, a process per call: the baseline) and ours into a preallocated destination (a
 *   `BufferSink`, as guest memory), warm; gzip also with the platform's `DecompressionStream`.
 * - `deno run -A bench/decompress_bench.ts gzip-load [ROUNDS]`: the issue 21 goal for an `Image.gz`: in one
 *   process, ROUNDS (default 5) interleaved rounds of a plain `loadPe` of Debian's arm64 Image, one
 *   `decodeGzip` of its `gzip -9` form into a buffer, and `loadPe` of that `Image.gz` into fresh guest
 *   memory; prints each round and the median of gzip load / (plain load + one decode) (goal: at most 1.3).
 * - `deno run -A bench/decompress_bench.ts report [RUNS]`: RUNS (default 3) alternating rounds, each decode
 *   in a fresh process (cold, as an extraction is): ours (a child `deno run`: CPU time of the decode, VmHWM
 *   after the destination is touched and after the decode) and the tool under `/usr/bin/time` (CPU time,
 *   max RSS); prints each round, the medians, MB/s of output by CPU time, ours / tool (target: at least
 *   1/3) and the decode's own memory (target: at most 2 x window + 16 MiB over input + destination).
 *
 * @module
 */

import process from "node:process";
import { decodeBzip2 } from "../lib/compress/bzip2.ts";
import { decodeLzo } from "../lib/compress/lzo.ts";
import { decodeGzip } from "../lib/compress/inflate.ts";
import { BufferSink, type ByteSink, type DecodeResult } from "../lib/compress/sink.ts";
import { extractVmlinux } from "../lib/loader/extract.ts";
import { CACHE_DIR } from "../fixtures/real/fetch.ts";
import { kernelLikeBytes } from "../fixtures/build/pe.ts";

const MiB = 1 << 20;

type Format = "bzip2" | "lzo" | "gzip";
const FORMATS: Format[] = ["bzip2", "lzo", "gzip"];
/** The kernel build's compressor for each (scripts/Makefile.lib) and its decompressor. */
const TOOLS: Record<Format, { cmd: string; pack: string[]; unpack: string[]; ext: string }> = {
  bzip2: { cmd: "bzip2", pack: ["-9", "-c"], unpack: ["-d", "-c"], ext: "bz2" },
  lzo: { cmd: "lzop", pack: ["-9", "-c"], unpack: ["-d", "-c"], ext: "lzo" },
  gzip: { cmd: "gzip", pack: ["-9", "-n", "-c"], unpack: ["-d", "-c"], ext: "gz" },
};
/** Each decoder's window (what it keeps besides the output): bzip2 one 900 kB block of 4-byte entries. */
const WINDOW: Record<Format, number> = { bzip2: 4 * 900_000, lzo: 256 * 1024, gzip: 32 * 1024 };
const DECODERS: Record<Format, (i: Uint8Array, s: ByteSink, o?: { maxOutput?: number }) => DecodeResult> = {
  bzip2: decodeBzip2,
  lzo: decodeLzo,
  gzip: decodeGzip,
};

function vmHwm(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"));
  return m === null ? NaN : Number(m[1]) * 1024;
}

// ---- gzip Image load against plain load + one decode (issue 21) --------------------------------------------

if (Deno.args[0] === "gzip-load") {
  const { GuestMemory } = await import("../lib/memory.ts");
  const { loadPe } = await import("../lib/loader/pe.ts");
  const rec = JSON.parse(await Deno.readTextFile(`${CACHE_DIR}arm64.json`));
  const image = await Deno.readFile(rec.kernel);
  const gz = await run("gzip", ["-9", "-n", "-c"], image);
  const base = 0x4000_0000;
  const rounds = Number(Deno.args[1] ?? 5) || 5;
  const ratios: number[] = [];
  console.log(
    `${rec.release} Image ${image.byteLength} bytes, gzip -9 ${gz.byteLength} bytes; load average ${
      Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")
    }`,
  );
  for (let i = 0; i < rounds; i++) {
    const m1 = GuestMemory.fromRanges([[base, 64 * MiB]]);
    let t = performance.now();
    await loadPe(m1, image, { imageBase: base });
    const plain = performance.now() - t;
    const dest = new Uint8Array(image.byteLength);
    t = performance.now();
    decodeGzip(gz, new BufferSink(dest));
    const decode = performance.now() - t;
    const m2 = GuestMemory.fromRanges([[base, 64 * MiB]]);
    t = performance.now();
    await loadPe(m2, gz, { imageBase: base });
    const gzLoad = performance.now() - t;
    ratios.push(gzLoad / (plain + decode));
    console.log(
      `round ${i + 1}: plain ${plain.toFixed(1)} ms, decode ${decode.toFixed(1)} ms, gzip load ${
        gzLoad.toFixed(1)
      } ms: ${(gzLoad / (plain + decode)).toFixed(2)}x`,
    );
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(
    `median ${sorted[sorted.length >> 1].toFixed(2)}x (min ${sorted[0].toFixed(2)}, max ${
      sorted[sorted.length - 1].toFixed(2)
    }); goal <= 1.30`,
  );
  Deno.exit(0);
}

// ---- the child: one cold decode in a fresh process ----------------------------------------------------------

if (Deno.args[0] === "--child") {
  const format = Deno.args[1] as Format;
  const input = await Deno.readFile(Deno.args[2]);
  const size = Number(Deno.args[3]);
  const start = vmHwm();
  const dest = new Uint8Array(size);
  dest.fill(0xcc);
  const afterDest = vmHwm();
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const r = DECODERS[format](input, new BufferSink(dest), { maxOutput: size });
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t;
  console.log(JSON.stringify({
    start,
    input: input.byteLength,
    afterDest,
    after: vmHwm(),
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    written: r.written,
  }));
  Deno.exit(0);
}

// ---- inputs ---------------------------------------------------------------------------------------------------

interface Input {
  plain: number;
  files: Record<Format, string>;
  packed: Record<Format, Uint8Array>;
  origin: string;
}

async function run(cmd: string, args: string[], data?: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, { args, stdin: data ? "piped" : "null", stdout: "piped" }).spawn();
  const writing = data
    ? (async () => {
      const w = child.stdin.getWriter();
      await w.write(data);
      await w.close();
    })()
    : Promise.resolve();
  const [out] = await Promise.all([child.output(), writing]);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return out.stdout;
}

async function loadInput(): Promise<Input> {
  let plain: Uint8Array;
  let origin: string;
  let base: string;
  try {
    const rec = JSON.parse(await Deno.readTextFile(`${CACHE_DIR}amd64.json`));
    plain = await extractVmlinux(await Deno.readFile(rec.kernel));
    origin = `Debian ${rec.release} vmlinux (${(plain.byteLength / 1e6).toFixed(1)} MB)`;
    base = `${rec.kernel}.vmlinux`;
  } catch {
    plain = kernelLikeBytes(48 * MiB);
    origin = "generated kernel-like 48 MiB";
    const dir = await Deno.makeTempDir({ prefix: "decompress-bench-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    base = `${dir}/vmlinux`;
  }
  const files = {} as Record<Format, string>;
  const packed = {} as Record<Format, Uint8Array>;
  for (const f of FORMATS) {
    const t = TOOLS[f];
    const path = `${base}.${t.ext}`;
    try {
      packed[f] = await Deno.readFile(path);
    } catch {
      packed[f] = await run(t.cmd, t.pack, plain);
      await Deno.writeFile(`${path}.${Deno.pid}`, packed[f]);
      await Deno.rename(`${path}.${Deno.pid}`, path);
    }
    files[f] = path;
  }
  return { plain: plain.byteLength, files, packed, origin };
}

const input = await loadInput();

// ---- deno bench ---------------------------------------------------------------------------------------------

if (!Deno.args.includes("report")) {
  const dest = new Uint8Array(input.plain);
  for (const f of FORMATS) {
    const group = `${f} decode: ${input.origin}`;
    Deno.bench({
      name: `${TOOLS[f].cmd} ${TOOLS[f].unpack.join(" ")} (C tool, a process per call)`,
      group,
      baseline: true,
      n: 3,
      warmup: 1,
      async fn() {
        const out = await new Deno.Command(TOOLS[f].cmd, { args: [...TOOLS[f].unpack, input.files[f]], stdout: "null" })
          .output();
        if (!out.success) throw new Error(`${f} tool failed`);
      },
    });
    Deno.bench({
      name: `ours into a BufferSink`,
      group,
      n: 3,
      warmup: 1,
      fn() {
        DECODERS[f](input.packed[f], new BufferSink(dest), { maxOutput: dest.byteLength });
      },
    });
  }
  Deno.bench({
    name: "DecompressionStream (the platform's zlib)",
    group: `gzip decode: ${input.origin}`,
    n: 3,
    warmup: 1,
    async fn() {
      const ds = new Blob([input.packed.gzip as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new DecompressionStream("gzip"),
      );
      const reader = ds.getReader();
      let at = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        dest.set(value, at);
        at += value.byteLength;
      }
    },
  });
} else {
  // ---- report: fresh processes, CPU time and peak RSS ---------------------------------------------------------
  const runs = Number(Deno.args[Deno.args.indexOf("report") + 1] ?? 3) || 3;
  const self = new URL(import.meta.url).pathname;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  console.log(`input: ${input.origin}; load average before: ${load()}`);
  const table: string[] = [
    "| format | input | ours CPU ms (min..max) | ours MB/s | tool CPU ms (min..max) | tool MB/s | ours / tool | target | decode's own RSS | RSS target (2 x window + 16 MiB) | tool max RSS |",
    "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
  ];
  for (const f of FORMATS) {
    const ours: { cpuMs: number; own: number }[] = [];
    const tool: { cpuMs: number; rss: number }[] = [];
    for (let i = 0; i < runs; i++) {
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", self, "--child", f, input.files[f], String(input.plain)],
        stdout: "piped",
      }).output();
      const o = JSON.parse(new TextDecoder().decode(child.stdout));
      if (o.written !== input.plain) throw new Error(`${f}: wrote ${o.written}, expected ${input.plain}`);
      ours.push({ cpuMs: o.cpuMs, own: o.after - Math.max(o.afterDest, o.start) });
      const t = await new Deno.Command("/usr/bin/time", {
        args: ["-f", "%U %S %M", TOOLS[f].cmd, ...TOOLS[f].unpack, input.files[f]],
        stdout: "null",
        stderr: "piped",
      }).output();
      const [u, s, m] = new TextDecoder().decode(t.stderr).trim().split("\n").pop()!.split(" ").map(Number);
      tool.push({ cpuMs: (u + s) * 1000, rss: m * 1024 });
      console.log(
        `${f} round ${i + 1}: ours ${o.cpuMs.toFixed(0)} ms CPU (${o.ms.toFixed(0)} ms wall), own RSS ${
          ((o.after - Math.max(o.afterDest, o.start)) / MiB).toFixed(1)
        } MiB; tool ${((u + s) * 1000).toFixed(0)} ms CPU, max RSS ${(m / 1024).toFixed(1)} MiB`,
      );
    }
    const oc = median(ours.map((x) => x.cpuMs));
    const tc = median(tool.map((x) => x.cpuMs));
    const own = median(ours.map((x) => x.own));
    const mbs = (ms: number) => (input.plain / 1e6 / (ms / 1000)).toFixed(1);
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}..${Math.max(...xs).toFixed(0)}`;
    table.push(
      `| ${f} | ${(input.packed[f].byteLength / 1e6).toFixed(1)} MB | ${oc.toFixed(0)} (${
        range(ours.map((x) => x.cpuMs))
      }) | ${mbs(oc)} | ${tc.toFixed(0)} (${range(tool.map((x) => x.cpuMs))}) | ${mbs(tc)} | ${
        (tc / oc).toFixed(2)
      } | >= 0.33 ${tc / oc >= 1 / 3 ? "yes" : "**no**"} | ${(own / MiB).toFixed(1)} MiB | ${
        ((2 * WINDOW[f] + 16 * MiB) / MiB).toFixed(1)
      } MiB ${own <= 2 * WINDOW[f] + 16 * MiB ? "yes" : "**no**"} | ${
        (median(tool.map((x) => x.rss)) / MiB).toFixed(1)
      } MiB |`,
    );
  }
  console.log(`load average after: ${load()}`);
  console.log(table.join("\n"));
}
