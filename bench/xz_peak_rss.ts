/**
 * Throughput and peak memory of XZ decoding, each decode in a fresh process, beside the C tool:
 *
 * - ours: a child `deno run` allocates the destination (the output size, every page touched), records
 *   VmHWM (/proc/self/status), decodes the payload once with `decodeXz` into it, records VmHWM again and
 *   its decode time (cold: the first decode in the process, as an extraction is);
 * - C: `/usr/bin/time -f "%e %M" xz -d -c --single-stream FILE > /dev/null`: its time and max RSS.
 *
 * The decode's own memory is `after - afterDest`: the window (the dictionary, 32 MiB for the kernel) plus
 * constants. Target (issue 19): peak RSS at most output + 2 x window + 16 MiB, and throughput at least 1/2
 * of the C tool's. Runs alternate ours and C `N` times (default 3) and print each run and the medians.
 *
 * Run: deno run --allow-all bench/xz_peak_rss.ts [N]
 *
 * @module
 */

import process from "node:process";
import { decodeXz } from "../lib/compress/xz.ts";
import { BufferSink } from "../lib/compress/sink.ts";
import { xzInput } from "./_xz_inputs.ts";

const MiB = 1 << 20;

function vmHwm(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"));
  return m === null ? NaN : Number(m[1]) * 1024;
}

if (Deno.args[0] === "--child") {
  const input = await Deno.readFile(Deno.args[1]);
  const size = Number(Deno.args[2]);
  const start = vmHwm();
  const dest = new Uint8Array(size);
  dest.fill(0xcc);
  const afterDest = vmHwm();
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const r = decodeXz(input, new BufferSink(dest), { maxOutput: size });
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(JSON.stringify({ start, afterDest, after: vmHwm(), ms, cpuMs, written: r.written }));
  Deno.exit(0);
}

const runs = Number(Deno.args[0] ?? 3);
const xz = await xzInput();
const self = new URL(import.meta.url).pathname;
const rows: {
  ours: number;
  oursCpu: number;
  oursMem: number;
  oursPeak: number;
  c: number;
  cCpu: number;
  cPeak: number;
}[] = [];
for (let i = 0; i < runs; i++) {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", self, "--child", xz.path, String(xz.outSize)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const o = JSON.parse(new TextDecoder().decode(child.stdout));
  const c = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%e %M %U %S", "xz", "-d", "-c", "--single-stream", xz.path],
    stdout: "null",
    stderr: "piped",
  }).output();
  const [secs, kb, user, sys] = new TextDecoder().decode(c.stderr).trim().split("\n").pop()!.split(" ").map(Number);
  rows.push({
    ours: o.ms,
    oursCpu: o.cpuMs,
    oursMem: o.after - o.afterDest,
    oursPeak: o.after,
    c: secs * 1000,
    cCpu: (user + sys) * 1000,
    cPeak: kb * 1024,
  });
}

const mbps = (ms: number) => xz.outSize / 1e6 / (ms / 1000);
console.log(`input: ${xz.origin}, ${xz.bytes.length} bytes -> ${xz.outSize} bytes; ${runs} runs, alternating`);
console.log(
  "| run | decodeXz (cold) MB/s wall / CPU | xz -d MB/s wall / CPU | ratio wall / CPU | decode's own RSS (MiB) | our peak (MiB) | xz peak (MiB) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
rows.forEach((r, i) =>
  console.log(
    `| ${i + 1} | ${mbps(r.ours).toFixed(1)} / ${mbps(r.oursCpu).toFixed(1)} | ${mbps(r.c).toFixed(1)} / ${
      mbps(r.cCpu).toFixed(1)
    } | ${(r.c / r.ours).toFixed(2)} / ${(r.cCpu / r.oursCpu).toFixed(2)} | ${(r.oursMem / MiB).toFixed(1)} | ${
      (r.oursPeak / MiB).toFixed(1)
    } | ${(r.cPeak / MiB).toFixed(1)} |`,
  )
);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `median: ours ${mbps(med(rows.map((r) => r.oursCpu))).toFixed(1)} MB/s of CPU time, xz ${
    mbps(med(rows.map((r) => r.cCpu))).toFixed(1)
  } MB/s; ratio (ours / xz throughput) wall ${med(rows.map((r) => r.c / r.ours)).toFixed(2)}, CPU ${
    med(rows.map((r) => r.cCpu / r.oursCpu)).toFixed(2)
  } (target >= 0.5); decode's own RSS ${(med(rows.map((r) => r.oursMem)) / MiB).toFixed(1)} MiB (target: peak <= ${
    ((xz.outSize + 80 * MiB) / MiB).toFixed(0)
  } MiB = output + 2 x 32 MiB window + 16 MiB)`,
);
