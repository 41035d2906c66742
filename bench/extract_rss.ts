/**
 * Peak resident memory of `extractVmlinux` on each cached real amd64 kernel (Debian's LZ4 cloud kernel, the
 * XZ 6.1 kernel, the ZSTD 6.12 kernel), each in a fresh process: VmHWM after start, after reading the
 * bzImage, and after extracting; the growth over the read file is the extraction's cost: the vmlinux plus
 * the decoder's window and code. Target (issue 19): at most output + 2 x window + 16 MiB.
 *
 * Run: deno run -A bench/extract_rss.ts
 *
 * @module
 */

import { extractVmlinux, findBzImagePayload } from "../lib/loader/extract.ts";
import { CACHE_DIR } from "../fixtures/real/fetch.ts";

const MiB = 1 << 20;
/** The window each method keeps (the kernel's choices): xz's 32 MiB dictionary (scripts/xz_wrap.sh), LZ4's
 * 8 MiB block; zstd's is read from the frame. */
const WINDOW: Record<string, number> = { lz4: 8 * MiB, xz: 32 * MiB, gzip: 32 * 1024 };

function vmHwm(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"));
  return m === null ? NaN : Number(m[1]) * 1024;
}

if (Deno.args[0] === "--child") {
  const start = vmHwm();
  const image = await Deno.readFile(Deno.args[1]);
  const p = await findBzImagePayload(image);
  const afterRead = vmHwm();
  const t = performance.now();
  const out = await extractVmlinux(image);
  // zstd's window: the frame's Window_Descriptor, or its content size for a single-segment frame (RFC 8878).
  let window: number | undefined;
  if (p.compression === "zstd") {
    const fhd = image[p.offset + 4];
    if (fhd & 0x20) window = out.byteLength;
    else {
      const wd = image[p.offset + 5];
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
  }
  const ms = performance.now() - t;
  console.log(
    JSON.stringify({ start, afterRead, after: vmHwm(), out: out.byteLength, ms, method: p.compression, window }),
  );
  Deno.exit(0);
}

const kernels: string[] = [];
for (const e of Deno.readDirSync(CACHE_DIR)) {
  if (!e.isDirectory || !e.name.includes("amd64")) continue;
  for (const f of Deno.readDirSync(CACHE_DIR + e.name)) {
    // Only the kernels (not the compressed copies other benchmarks keep beside them).
    if (/^vmlinuz-[^.]*(\.[0-9]+)*-[a-z0-9-]+$/.test(f.name) || /^vmlinuz-[0-9.]+\+deb[0-9]+-[a-z0-9]+$/.test(f.name)) {
      kernels.push(`${CACHE_DIR}${e.name}/${f.name}`);
    }
  }
}
console.log(`load average ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")}`);
console.log(
  "| kernel | method | vmlinux | window | extraction's RSS growth | target (output + 2 x window + 16 MiB) | met | time |",
);
console.log("|---|---|---:|---:|---:|---:|---|---:|");
for (const k of kernels.sort()) {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", k],
    stdout: "piped",
  }).output();
  const o = JSON.parse(new TextDecoder().decode(child.stdout));
  const growth = o.after - o.afterRead;
  const window = o.window ?? WINDOW[o.method] ?? 0;
  const target = o.out + 2 * window + 16 * MiB;
  console.log(
    `| ${k.slice(k.lastIndexOf("/") + 1)} | ${o.method} | ${(o.out / MiB).toFixed(1)} MiB | ${
      (window / MiB).toFixed(1)
    } MiB | ${(growth / MiB).toFixed(1)} MiB | ${(target / MiB).toFixed(1)} MiB | ${
      growth <= target ? "yes" : "**no**"
    } | ${o.ms.toFixed(0)} ms |`,
  );
}
