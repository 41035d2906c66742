/**
 * Runs every benchmark in bench/ with `deno bench --json` (RUNS times, 3 by default), then prints the
 * Markdown results of bench/README.md: the machine, and per path the mean time per call (`avg`: deno
 * bench's JSON has no median; the median of the runs' means is shown), the spread of that mean over the
 * runs, throughput, the ratio to the floor of its group (measured in the same run; the median of the runs'
 * ratios), the same ratio of the fastest calls (`min`, which other processes on a shared machine disturb
 * least) and the target (judged on the mean); then the peak resident memory table of `peak_rss.ts`.
 *
 * Run: deno run --allow-all bench/report.ts [RUNS]        (about 1 minute per run on 2 cores)
 *      deno run --allow-all bench/report.ts --json FILE... (tables from saved `deno bench --json` output)
 *
 * @module
 */

interface BenchResult {
  n: number;
  min: number;
  max: number;
  avg: number;
  p75: number;
}

interface BenchEntry {
  origin: string;
  group: string | null;
  name: string;
  baseline: boolean;
  results: { ok?: BenchResult; failed?: unknown; ignored?: unknown }[];
}

interface BenchJson {
  runtime: string;
  cpu: string;
  benches: BenchEntry[];
}

/** A target per group, matched on the start of the group name. */
interface Target {
  match: RegExp;
  text: string;
  met: (avgNs: number, ratio: number | undefined) => boolean;
}

const TARGETS: Target[] = [
  { match: /^arm64 Image\.gz from memory/, text: "<= 1.05x floor", met: (_a, r) => r !== undefined && r <= 1.05 },
  {
    match: / from memory|into fresh guest memory/,
    text: "<= 1.05x floor",
    met: (_a, r) => r !== undefined && r <= 1.05,
  },
  { match: / from a file/, text: "<= 1.1x floor", met: (_a, r) => r !== undefined && r <= 1.1 },
  { match: /^(linux|pvh) configure/, text: "<= 50 ns", met: (a) => a <= 50 },
  { match: /^fdt build/, text: "< 20 us", met: (a) => a < 20_000 },
  { match: /^(x86_64|x86_pvh|aarch64|riscv64)$/, text: "< 5 ms", met: (a) => a < 5e6 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function time(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

async function runBench(): Promise<BenchJson> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "--allow-all", "--json", new URL(".", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("deno bench failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The Markdown table of one or more runs. */
export function table(runs: BenchJson[]): string {
  const rows: string[] = [
    "| group | path | avg | avg over runs (min .. max) | MB/s | × floor | × floor, fastest calls | target | met |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  const first = runs[0].benches;
  for (const b of first) {
    const group = b.group ?? "";
    const key = (e: BenchEntry) => `${e.origin} ${e.group} ${e.name}`;
    const avgs: number[] = [], ratios: number[] = [], minRatios: number[] = [];
    for (const run of runs) {
      const mine = run.benches.find((e) => key(e) === key(b))?.results[0]?.ok;
      const floor = run.benches.find((e) => e.origin === b.origin && e.group === b.group && e.baseline)
        ?.results[0]?.ok;
      if (mine === undefined) continue;
      avgs.push(mine.avg);
      if (floor !== undefined && !b.baseline) {
        ratios.push(mine.avg / floor.avg);
        minRatios.push(mine.min / floor.min);
      }
    }
    if (avgs.length === 0) {
      rows.push(`| ${group} | ${b.name} | not run | | | | | | |`);
      continue;
    }
    const avg = median(avgs);
    const bytes = Number(/, (\d+) B$/.exec(group)?.[1] ?? NaN);
    const mbps = Number.isFinite(bytes) ? (bytes / 1e6 / (avg / 1e9)).toFixed(0) : "";
    const ratio = ratios.length > 0 ? median(ratios) : undefined;
    const minRatio = minRatios.length > 0 ? median(minRatios).toFixed(2) : b.baseline ? "1.00" : "";
    const target = b.baseline || b.name.startsWith("plan only") ? undefined : TARGETS.find((t) => t.match.test(group));
    const spread = avgs.length > 1 ? `${time(Math.min(...avgs))} .. ${time(Math.max(...avgs))}` : "";
    rows.push(
      `| ${group.replace(/, \d+ B$/, "")} | ${b.name} | ${time(avg)} | ${spread} | ${mbps} | ${
        ratio === undefined ? (b.baseline ? "1.00" : "") : ratio.toFixed(2)
      } | ${minRatio} | ${target?.text ?? ""} | ${
        target === undefined ? "" : target.met(avg, ratio) ? "yes" : "**no**"
      } |`,
    );
  }
  return rows.join("\n");
}

if (import.meta.main) {
  let runs: BenchJson[];
  const before = loadavg();
  if (Deno.args[0] === "--json") {
    runs = Deno.args.slice(1).map((f) => JSON.parse(Deno.readTextFileSync(f)));
  } else {
    const n = Number(Deno.args[0] ?? 3);
    runs = [];
    for (let i = 0; i < n; i++) {
      console.error(`run ${i + 1} of ${n} ...`);
      runs.push(await runBench());
    }
  }
  const after = loadavg();
  console.log(
    `Machine: ${navigator.hardwareConcurrency} CPUs (nproc), ${cpuModel()}; ${runs[0].runtime}; ` +
      `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}. Load average ${before} before, ${after} after; ${runs.length} run(s).\n`,
  );
  console.log(table(runs));
  console.log("");
  if (Deno.args[0] !== "--json") {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL("./peak_rss.ts", import.meta.url).pathname],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    console.log(new TextDecoder().decode(out.stdout));
  }
}
