/**
 * Peak resident memory of a kernel load from a file, each measured in a process of its own: VmHWM (the
 * high-water mark of the resident set, /proc/self/status) when the process has started, after guest memory
 * of the given size is allocated and every page of it touched, and after `loadKernel(mem, fromFile(file))`
 * (the first load in the process: it also pays for compiling the loader code and starting the runtime's
 * file I/O). Then the same load runs three more times, each with VmHWM reset first (`5 >
 * /proc/self/clear_refs`): its peak over the resident set before it is what a load costs once warm. Target: the peak grows by at most guest memory + 2 MiB (the
 * file goes straight into guest memory, no buffer of the image).
 *
 * Run all (the inputs of load_bench.ts; prints a Markdown table):
 *   deno run --allow-all bench/peak_rss.ts
 * Run one (prints JSON):
 *   deno run --allow-all bench/peak_rss.ts FILE GUEST_MIB
 *
 * @module
 */

import { GuestMemory } from "../lib/memory.ts";
import { fromFile } from "../lib/source.ts";
import { loadKernel } from "../lib/loader/mod.ts";

const MiB = 1 << 20;

/** One measurement, in bytes. */
export interface PeakRss {
  /** The image. */
  file: string;
  /** Its size. */
  fileSize: number;
  /** Guest memory allocated (and touched) before the load. */
  guest: number;
  /** VmHWM at start. */
  start: number;
  /** VmHWM after guest memory is resident. */
  afterGuest: number;
  /** VmHWM after the first load. */
  afterLoad: number;
  /** Peak over the resident set before it, of each later load (VmHWM reset before each). */
  warm: number[];
}

function status(field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(Deno.readTextFileSync("/proc/self/status"));
  if (m === null) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]) * 1024;
}

async function load(mem: GuestMemory, path: string): Promise<number> {
  using file = await Deno.open(path);
  const src = await fromFile(file);
  await loadKernel(mem, src);
  return src.size;
}

async function measure(path: string, guestMiB: number): Promise<PeakRss> {
  const start = status("VmHWM");
  const guest = guestMiB * MiB;
  const mem = GuestMemory.fromRanges([[0, guest]]);
  // Make every guest page resident first: what the high-water mark adds is then the load's own cost.
  for (const r of mem.regions) r.bytes.fill(0xcc);
  const afterGuest = status("VmHWM");
  const fileSize = await load(mem, path);
  const afterLoad = status("VmHWM");
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5"); // resets VmHWM to the current VmRSS
    const before = status("VmRSS");
    await load(mem, path);
    warm.push(status("VmHWM") - before);
  }
  return { file: path, fileSize, guest, start, afterGuest, afterLoad, warm };
}

function mib(n: number): string {
  return (n / MiB).toFixed(1);
}

if (import.meta.main) {
  if (Deno.args.length >= 2) {
    console.log(JSON.stringify(await measure(Deno.args[0], Number(Deno.args[1]))));
  } else {
    const { arm64ImageInput, bzImageInput, gzipInput, vmlinuxInput } = await import("./_inputs.ts");
    const bz = await bzImageInput();
    const vmlinux = await vmlinuxInput(bz);
    const image = await arm64ImageInput();
    const gz = await gzipInput(image);
    const runs: [string, string, number][] = [
      [`bzImage (${bz.origin})`, bz.path, 64],
      [`vmlinux (${vmlinux.origin})`, vmlinux.path, 128],
      [`arm64 Image (${image.origin})`, image.path, 64],
      [`arm64 Image.gz (${gz.origin})`, gz.path, 64],
    ];
    console.log(
      "| file load | file MiB | guest MiB | VmHWM at start | guest resident | after 1st load | 1st load adds " +
        "| peak - start | guest + 2 MiB | met | later loads add (min .. max of 3) |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
    for (const [what, path, guestMiB] of runs) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", new URL(import.meta.url).pathname, path, String(guestMiB)],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`measuring ${what} failed`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout)) as PeakRss;
      const peak = r.afterLoad - r.start, limit = r.guest + 2 * MiB;
      const cells = [
        what,
        mib(r.fileSize),
        mib(r.guest),
        mib(r.start),
        mib(r.afterGuest),
        mib(r.afterLoad),
        mib(r.afterLoad - r.afterGuest),
        mib(peak),
        mib(limit),
        peak <= limit ? "yes" : "no",
        `${mib(Math.min(...r.warm))} .. ${mib(Math.max(...r.warm))}`,
      ];
      console.log(`| ${cells.join(" | ")} |`);
    }
  }
}
