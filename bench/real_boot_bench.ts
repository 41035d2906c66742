/**
 * The real-boot speed bench: boots the same kernel, command line and initramfs in the Unicorn harness
 * and in QEMU TCG, one after the other in the same run, and reports the ratio of the wall times to our
 * /init's line (the goal: at most 3x QEMU TCG). Both runs stop at that line; ratios from one run are
 * comparable on a loaded machine, absolute times are not.
 *
 * Usage: deno run -A bench/real_boot_bench.ts [amd64] [pvh] [arm64] [MATRIX-ID...] [--rounds N] [--json]
 *   (default: amd64 pvh arm64, the cached cloud kernels; MATRIX-ID: an id of fixtures/real/matrix.ts,
 *   e.g. std-amd64, 6.12-arm64, 686-pae; an x86 matrix kernel boots through the 64-bit protocol, a 32-bit one
 *   through the 32-bit protocol with the i386 /init)
 *
 * The engine is the one `UNICORN_LIB` names (default: the system's libunicorn.so.2); Unicorn 2.1 comes from
 * `deno run -A fixtures/real/unicorn.ts`. A script, not a `deno bench` file: one boot takes tens of seconds.
 *
 * @module
 */

import { ensureMatrixKernel, KERNEL_MATRIX } from "../fixtures/real/matrix.ts";
import { processCpuMs, qemuAvailable, qemuBoot } from "../fixtures/real/qemu.ts";
import { INIT_MESSAGE, type InitArch, initramfs } from "../fixtures/build/init.ts";
import { bootRealKernel, defaultCmdline, type RealProtocol } from "../emu/linux/machine.ts";
import { extractVmlinux } from "../lib/loader/extract.ts";
import { unicornAvailable } from "../emu/unicorn.ts";

interface Case {
  name: string;
  kernel: string;
  protocol: RealProtocol;
  /** The /init the initramfs carries (a 32-bit kernel runs the i386 one). */
  init: InitArch;
}

/** One row of the report. */
export interface BenchRow {
  /** What was booted. */
  name: string;
  /** Harness wall time to /init's line, ms (median of the rounds). */
  harnessMs: number;
  /** QEMU TCG wall time to /init's line, ms (median). */
  qemuMs: number;
  /** harnessMs / qemuMs. */
  ratio: number;
  /** CPU time (user + system) of the harness process during its boot, ms (median). */
  harnessCpuMs: number;
  /** CPU time of QEMU to the line, ms (median). */
  qemuCpuMs: number;
  /** harnessCpuMs / qemuCpuMs: the ratio that holds on a loaded machine, where wall times swing. */
  cpuRatio: number;
  /** How the harness run ended (`stop-line` when it reached the line). */
  harnessStop: string;
  /** The harness's counters of the last round. */
  stats: Record<string, number>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function cases(names: string[]): Promise<Case[]> {
  const out: Case[] = [];
  for (const n of names) {
    const id = n === "amd64" || n === "pvh" ? "cloud-amd64" : n === "arm64" ? "cloud-arm64" : n;
    if (!KERNEL_MATRIX.some((m) => m.id === id)) throw new Error(`unknown kernel ${n}`);
    const rec = await ensureMatrixKernel(id);
    if (rec === undefined) throw new Error(`kernel ${id} could not be fetched`);
    const debArch = KERNEL_MATRIX.find((m) => m.id === id)!.arch;
    const arm = debArch === "arm64";
    const init = arm ? "aarch64" : debArch === "i386" ? "i386" : "x86_64";
    out.push({ name: n, kernel: rec.kernel, protocol: arm ? "arm64" : n === "pvh" ? "pvh" : "bzimage", init });
  }
  return out;
}

async function bench(c: Case, rounds: number): Promise<BenchRow> {
  const arch = c.protocol === "arm64" ? "aarch64" : "x86_64";
  const image = await Deno.readFile(c.kernel);
  const initrd = await initramfs(c.init);
  const cmdline = defaultCmdline(c.protocol);
  let qemuKernel = c.kernel;
  let temp: string | undefined;
  if (c.protocol === "pvh") {
    temp = qemuKernel = await Deno.makeTempFile({ prefix: "vmlinux-" });
    await Deno.writeFile(qemuKernel, await extractVmlinux(image));
  }
  const h: number[] = [], q: number[] = [], hc: number[] = [], qc: number[] = [];
  let stop = "", stats: Record<string, number> = {};
  try {
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const c0 = processCpuMs("self") ?? 0;
      const r = await bootRealKernel(image, {
        protocol: c.protocol,
        cmdline,
        initrd,
        stopAt: INIT_MESSAGE,
        timeoutMs: 900_000,
      });
      h.push(performance.now() - t0);
      hc.push((processCpuMs("self") ?? 0) - c0);
      stop = r.stop;
      stats = r.stats;
      const qr = await qemuBoot({
        arch,
        kernel: qemuKernel,
        cmdline,
        initrd,
        stopAt: INIT_MESSAGE,
        timeoutMs: 300_000,
      });
      if (qr.stopMs === undefined) throw new Error(`QEMU did not reach /init's line for ${c.name}`);
      q.push(qr.stopMs);
      qc.push(qr.stopCpuMs ?? NaN);
    }
  } finally {
    if (temp !== undefined) await Deno.remove(temp);
  }
  const harnessMs = median(h), qemuMs = median(q);
  const harnessCpuMs = median(hc), qemuCpuMs = median(qc);
  return {
    name: c.name,
    harnessMs,
    qemuMs,
    ratio: harnessMs / qemuMs,
    harnessCpuMs,
    qemuCpuMs,
    cpuRatio: harnessCpuMs / qemuCpuMs,
    harnessStop: stop,
    stats,
  };
}

if (import.meta.main) {
  const args = [...Deno.args];
  const json = args.includes("--json");
  const ri = args.indexOf("--rounds");
  const rounds = ri >= 0 ? Number(args[ri + 1]) : 1;
  const names = args.filter((a, i) => !a.startsWith("--") && !(ri >= 0 && i === ri + 1));
  const list = await cases(names.length > 0 ? names : ["amd64", "pvh", "arm64"]);
  const engine = unicornAvailable();
  if (!json) console.log(`Unicorn ${engine.ok ? `${engine.version} (${engine.path})` : "missing"}`);
  const rows: BenchRow[] = [];
  for (const c of list) {
    if (!qemuAvailable(c.protocol === "arm64" ? "aarch64" : "x86_64")) {
      console.error(`${c.name}: QEMU is not installed; skipped`);
      continue;
    }
    const row = await bench(c, rounds);
    rows.push(row);
    if (!json) {
      console.log(
        `${row.name.padEnd(12)} harness ${(row.harnessMs / 1000).toFixed(1).padStart(6)} s   QEMU TCG ${
          (row.qemuMs / 1000).toFixed(1).padStart(5)
        } s   wall ratio ${row.ratio.toFixed(1).padStart(5)}x   CPU ${(row.harnessCpuMs / 1000).toFixed(1)} s vs ${
          (row.qemuCpuMs / 1000).toFixed(1)
        } s: ratio ${row.cpuRatio.toFixed(1)}x (goal <= 3x)   harness stop: ${row.harnessStop}`,
      );
    }
  }
  if (json) console.log(JSON.stringify(rows, null, 2));
}
