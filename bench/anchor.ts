/**
 * Side by side with the Rust crate (issue 21): builds rust-vmm/linux-loader's load-speed bench from
 * `../shared/anchors/rust-bench` (a writable copy in a temporary directory, `cargo build --release --offline`
 * against Debian's vendored crates), then runs it and this file's equivalent cases interleaved, Rust, Deno,
 * Rust, Deno, ..., each in a fresh process, on the same kernel files (the cached Debian 6.1 cloud amd64
 * bzImage and its vmlinux extracted with `extractVmlinux`), into the same guest sizes, beside the same floors.
 * Prints one Markdown table: per case the median over rounds of each round's median (min..max over rounds),
 * each side's ratio to its floor, and ours / Rust taken inside each round (the figure that counts on a loaded
 * machine).
 *
 * Timing is the Rust bench's: iterations batched so that a sample lasts about 2 ms, at least 31 samples and
 * `--secs` per case, samples of the load and of its floor alternating, median per op.
 *
 * Three rows compare our loads with the Rust side's own floors in one process: libc's `memcpy` and `pread`
 * (what the crate's `copy_nonoverlapping` and `File` reads are) called through FFI on the same buffers, the
 * cases timed in a shuffled order ({@linkcode shuffled}): both sides at the same moments, where the two-process
 * rows compare runs seconds apart on a shared machine.
 *
 * Nothing is downloaded: the kernel must be in fixtures/real/cache (`deno task fetch-kernels`), cargo at
 * /root/.cargo/bin, and Debian's librust-vm-memory-dev librust-thiserror-dev installed (installed with apt-get
 * when missing, except with CI=true, where the run stops instead).
 *
 * Run: deno task bench:anchor [ROUNDS=3] [SECS=1]
 *   (RUST_ANCHOR=DIR: the rust-bench directory elsewhere; RUST_BENCH_BIN=FILE: an ll-bench-head already built;
 *   otherwise the first run's build is kept in fixtures/real/cache/rust-bench/, keyed by the sources and rustc)
 *      deno run -A bench/anchor.ts measure --bzimage F --vmlinux F --elfnote F --secs S  (our side alone)
 *
 * @module
 */

import { GuestMemory } from "../lib/memory.ts";
import { fromFile } from "../lib/source.ts";
import { loadBzImage, planBzImage } from "../lib/loader/bzimage.ts";
import { loadElf, readEhdrAt0, readPhdr } from "../lib/loader/elf.ts";
import { loadPe } from "../lib/loader/pe.ts";
import { validatePlan } from "../lib/plan.ts";
import { BootParams } from "../lib/configurator/mod.ts";
import { LinuxBootConfigurator } from "../lib/configurator/linux.ts";
import { PvhBootConfigurator, pvhBootParams } from "../lib/configurator/pvh.ts";
import { buildVmFdt, type VmFdtOptions } from "../lib/fdt/nodes.ts";
import { gunzip } from "../lib/compress/gzip.ts";
import { extractVmlinux } from "../lib/loader/extract.ts";
import { CACHE_DIR } from "../fixtures/real/fetch.ts";
import { exists } from "../fixtures/real/_exec.ts";
import { gzip } from "../fixtures/build/pe.ts";

const MiB = 1 << 20;
const TARGET_NS = 2e6; // ~2 ms per sample, as the Rust bench
const MIN_SAMPLES = 31;

// ---- timing (the Rust bench's measure(), for sync and async functions) -------------------------------------

interface Stats {
  median: number;
  min: number;
  p10: number;
  samples: number;
  batch: number;
}

function stats(v: number[], batch: number): Stats {
  v.sort((a, b) => a - b);
  const q = (p: number): number => v[Math.round((v.length - 1) * p)];
  return { median: q(0.5), min: v[0], p10: q(0.1), samples: v.length, batch };
}

type Fn = () => unknown;

async function timeBatch(f: Fn, n: number, isAsync: boolean): Promise<number> {
  const t = performance.now();
  if (isAsync) { for (let i = 0; i < n; i++) await f(); }
  else for (let i = 0; i < n; i++) f();
  return (performance.now() - t) * 1e6 / n;
}

async function calibrate(f: Fn, isAsync: boolean): Promise<number> {
  for (let i = 0; i < 5; i++) await f(); // warm-up: JIT, guest pages faulted in
  let n = 1;
  for (;;) {
    const e = await timeBatch(f, n, isAsync) * n;
    if (e >= TARGET_NS / 8 || n >= 1 << 26) return Math.max(1, Math.ceil(n * TARGET_NS / Math.max(e, 1)));
    n *= 8;
  }
}

async function measure(
  load: Fn,
  floor: Fn | undefined,
  secs: number,
  isAsync: boolean,
  minSamples = MIN_SAMPLES,
): Promise<[Stats, Stats | undefined]> {
  const na = await calibrate(load, isAsync);
  const nb = floor === undefined ? 0 : await calibrate(floor, isAsync);
  const sa: number[] = [], sb: number[] = [];
  const start = performance.now();
  while (performance.now() - start < secs * 1e3 || sa.length < minSamples) {
    sa.push(await timeBatch(load, na, isAsync));
    if (floor !== undefined) sb.push(await timeBatch(floor, nb, isAsync));
  }
  return [stats(sa, na), floor === undefined ? undefined : stats(sb, nb)];
}

/** One RESULT line in the Rust bench's format: variant case bytes load_med load_min floor_med load_p10 ... */
function result(name: string, bytes: number, load: Stats, floor: Stats | undefined): void {
  const f = (x: number | undefined): string => x === undefined ? "-" : x.toFixed(1);
  console.log(
    ["RESULT", "deno", name, bytes, f(load.median), f(load.min), f(floor?.median), f(load.p10), f(floor?.min)]
      .join("\t"),
  );
}

// ---- our side ---------------------------------------------------------------------------------------------

interface Copy {
  off: number;
  gpa: number;
  len: number;
}

function elfCopies(img: Uint8Array): Copy[] {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const phoff = Number(dv.getBigUint64(0x20, true));
  const phentsize = dv.getUint16(0x36, true), phnum = dv.getUint16(0x38, true);
  const out: Copy[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== 1 || dv.getBigUint64(p + 0x20, true) === 0n) continue;
    out.push({
      off: Number(dv.getBigUint64(p + 8, true)),
      gpa: Number(dv.getBigUint64(p + 0x18, true)),
      len: Number(dv.getBigUint64(p + 0x20, true)),
    });
  }
  return out;
}

function bzCopy(img: Uint8Array): Copy {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const setupSects = img[0x1f1] || 4;
  const off = (setupSects + 1) * 512;
  return { off, gpa: dv.getUint32(0x214, true), len: img.length - off };
}

/** The floor: `set` of exactly the bytes the load writes, views made once (as Rust's slices are free). */
function memcpy(src: Uint8Array, host: Uint8Array, copies: Copy[]): () => void {
  const views = copies.map((c) => src.subarray(c.off, c.off + c.len));
  const at = copies.map((c) => c.gpa);
  if (views.length === 1) {
    const v = views[0], a = at[0];
    return () => host.set(v, a);
  }
  return () => {
    for (let i = 0; i < views.length; i++) host.set(views[i], at[i]);
  };
}

/**
 * The least an in-memory load can do in JavaScript, as a floor for our loads' fixed work: an async call (the
 * 1.0 API's shape), the header fields that place the copy read with no checks, one `set`, a small result. Run
 * right after the previous load's copy emptied the caches, as our loads are; what our loads spend above this is
 * their checks, decode and result objects.
 */
// deno-lint-ignore require-await
async function minimalBzLoad(host: Uint8Array, img: Uint8Array): Promise<{ loadStart: number; loadEnd: number }> {
  if (img[0x202] !== 0x48 || img[0x203] !== 0x64 || img[0x204] !== 0x72 || img[0x205] !== 0x53) {
    throw new Error("not a bzImage");
  }
  const c = bzCopy(img);
  host.set(img.subarray(c.off), c.gpa);
  return { loadStart: c.gpa, loadEnd: c.gpa + c.len };
}

/** The same for a vmlinux: the program headers read by {@linkcode elfCopies}, one `set` per PT_LOAD. */
// deno-lint-ignore require-await
async function minimalElfLoad(host: Uint8Array, img: Uint8Array): Promise<{ segments: number }> {
  const copies = elfCopies(img);
  for (const c of copies) host.set(img.subarray(c.off, c.off + c.len), c.gpa);
  return { segments: copies.length };
}

function checkCopied(src: Uint8Array, host: Uint8Array, copies: Copy[], what: string): void {
  for (const c of copies) {
    for (let i = 0; i < c.len; i += 4093) {
      if (host[c.gpa + i] !== src[c.off + i]) throw new Error(`${what}: guest bytes differ at ${c.gpa + i}`);
    }
  }
}

/** Deno's fastest positioned read: seekSync + readSync (an async seek + read adds two thread-pool trips). */
function pread(file: Deno.FsFile, offset: number, dest: Uint8Array): void {
  file.seekSync(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < dest.byteLength) {
    const n = file.readSync(dest.subarray(done));
    if (n === null) throw new Error("short read");
    done += n;
  }
}

/** The same with the asynchronous seek + read (the floor load_bench.ts uses). */
async function preadAsync(file: Deno.FsFile, offset: number, dest: Uint8Array): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < dest.byteLength) {
    const n = await file.read(dest.subarray(done));
    if (n === null) throw new Error("short read");
    done += n;
  }
}

/**
 * The Rust crate's copies are libc's: `copy_nonoverlapping` is `memcpy`, a `File` read is `read(2)`. Called
 * here through FFI on the same buffers, they are the Rust side's floors measured in this process, beside our
 * loads, in a shuffled order (a fixed order biases each case by what ran before it: `set` read 4-5 % slower
 * than libc's `memcpy` when it always followed a `pread`, the same when shuffled). The result is the least
 * noisy ours-against-Rust figure this machine gives: both sides in one process at the same moments.
 */
const LIBC_SYMBOLS = {
  memcpy: { parameters: ["pointer", "pointer", "usize"], result: "pointer" },
  pread: { parameters: ["i32", "pointer", "usize", "i64"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;
let libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | undefined;

function openLibc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS> {
  return libc ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
}

/** Times each case once per round, the cases in a new random order each round, for `secs` (at least 31 rounds). */
async function shuffled(cases: Fn[], secs: number): Promise<Stats[]> {
  for (let i = 0; i < 3; i++) for (const c of cases) await c();
  const samples: number[][] = cases.map(() => []);
  const order = cases.map((_, i) => i);
  const start = performance.now();
  while (performance.now() - start < secs * 1e3 || samples[0].length < MIN_SAMPLES) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const k of order) {
      const t = performance.now();
      await cases[k]();
      samples[k].push((performance.now() - t) * 1e6);
    }
  }
  return samples.map((v) => stats(v, 1));
}

async function ours(args: Record<string, string>): Promise<void> {
  const secs = Number(args.secs ?? "1");
  const only = args.only?.split(",");
  const want = (name: string): boolean => only === undefined || only.some((o) => name.includes(o));
  const bzPath = args.bzimage, vmPath = args.vmlinux;

  if (args.elfnote !== undefined && want("elf_load test_elfnote")) {
    const img = await Deno.readFile(args.elfnote);
    const mem = GuestMemory.fromRanges([[0, 16 * MiB]]);
    await loadElf(mem, img);
    const [load] = await measure(() => loadElf(mem, img), undefined, secs, true);
    result("elf_load test_elfnote.bin", 0, load, undefined);
    if (want("floor check")) {
      // The objects the result must hold (details.ehdr with its e_ident copy, details.phdrs, 15 bigints),
      // read as the in-memory load reads them: a floor of any load that returns them.
      const phoff = Number(new DataView(img.buffer, img.byteOffset).getBigUint64(0x20, true));
      const phnum = img[0x38] | (img[0x39] << 8);
      const [objs] = await measure(
        () => {
          const phdrs = [];
          for (let i = 0; i < phnum; i++) phdrs.push(readPhdr(img, phoff + i * 56));
          return [readEhdrAt0(img), phdrs];
        },
        undefined,
        secs,
        false,
      );
      result(
        "floor check: test_elfnote.bin's header objects alone (ELF header + 2 program headers)",
        0,
        objs,
        undefined,
      );
    }
  }

  if (vmPath !== undefined && want("vmlinux")) {
    const img = await Deno.readFile(vmPath);
    const copies = elfCopies(img);
    const end = Math.max(...copies.map((c) => c.gpa + c.len));
    const size = Math.max(1, Math.ceil(end / (16 * MiB))) * 16 * MiB;
    const mem = GuestMemory.fromRanges([[0, size]]);
    const host = mem.regions[0].bytes;
    await loadElf(mem, img);
    checkCopied(img, host, copies, "vmlinux");
    const [load, floor] = await measure(() => loadElf(mem, img), memcpy(img, host, copies), secs, true);
    result("elf_load vmlinux (Cursor)", copies.reduce((n, c) => n + c.len, 0), load, floor);
    if (want("libc")) {
      const lib = openLibc(); // kept open for the process's life
      const ptrs = copies.map((c) => ({
        dst: Deno.UnsafePointer.of(host.subarray(c.gpa, c.gpa + c.len)),
        src: Deno.UnsafePointer.of(img.subarray(c.off, c.off + c.len)),
        len: BigInt(c.len),
      }));
      const [l, f, m] = await shuffled([() => loadElf(mem, img), () => {
        for (const p of ptrs) lib.symbols.memcpy(p.dst, p.src, p.len);
      }, () => minimalElfLoad(host, img)], secs * 3);
      result("vmlinux (Cursor) vs libc memcpy of its segments, one process, shuffled", 0, l, f);
      result(
        "floor check: least JS vmlinux load (async, header reads, one set per PT_LOAD) vs libc memcpy, same",
        0,
        m,
        f,
      );
    }
  }

  const img = await Deno.readFile(bzPath);
  const copy = bzCopy(img), copies = [copy];
  const size = 64 * MiB;
  const mem = GuestMemory.fromRanges([[0, size]]);
  const host = mem.regions[0].bytes;
  await loadBzImage(mem, img);
  checkCopied(img, host, copies, "bzImage");
  if (want("bzimage_load (Cursor)")) {
    const [load, floor] = await measure(() => loadBzImage(mem, img), memcpy(img, host, copies), secs, true);
    result("bzimage_load (Cursor)", copy.len, load, floor);
  }
  using file = await Deno.open(bzPath);
  host.fill(0);
  await loadBzImage(mem, await fromFile(file));
  checkCopied(img, host, copies, "bzImage from File");
  const fileLoad = async (): Promise<unknown> => await loadBzImage(mem, await fromFile(file));
  if (want("bzimage_load (File, page cache)")) {
    const [load, floor] = await measure(fileLoad, memcpy(img, host, copies), secs, true);
    result("bzimage_load (File, page cache)", copy.len, load, floor);
  }
  if (want("pread floor")) {
    using pf = await Deno.open(bzPath);
    const dst = host.subarray(copy.gpa, copy.gpa + copy.len);
    const [load, floor] = await measure(fileLoad, () => pread(pf, copy.off, dst), secs, true);
    result("bzimage_load (File) vs pread floor", copy.len, load, floor);
    const [a, s] = await measure(() => preadAsync(pf, copy.off, dst), () => pread(pf, copy.off, dst), secs, true);
    result("async seek + read vs pread floor (seekSync + readSync)", copy.len, a, s);
  }
  if (want("page-aligned")) {
    // V8 places an ArrayBuffer's bytes at a page + 16; the kernel's copy into user memory (rep movsb) is about
    // 3x slower when destination - source is 16 mod 4096 (4K aliasing on this CPU), which a page-aligned file
    // offset into such a buffer hits. WebAssembly.Memory is page-aligned, as the Rust bench's mmap is.
    const wasm = new WebAssembly.Memory({ initial: size / 65536, maximum: size / 65536 });
    const wmem = new GuestMemory([{ guestAddr: 0, buffer: wasm }]);
    const wdst = wmem.regions[0].bytes.subarray(copy.gpa, copy.gpa + copy.len);
    using pf = await Deno.open(bzPath);
    const [load, floor] = await measure(
      async () => await loadBzImage(wmem, await fromFile(file)),
      () => pread(pf, copy.off, wdst),
      secs,
      true,
    );
    result(
      "bzimage_load (File) into page-aligned guest memory (WebAssembly.Memory) vs pread floor",
      copy.len,
      load,
      floor,
    );
  }
  if (want("fixed cost")) {
    // What a file load adds to its one read: fromFile, the header reads, plan and validate (no copy).
    const [load] = await measure(
      async () => {
        const src = await fromFile(file);
        validatePlan(mem, (await planBzImage(mem, src)).plan, src.size);
      },
      undefined,
      secs,
      true,
    );
    result("bzimage fixed cost (File: fromFile + plan + validate, no copy)", 0, load, undefined);
  }
  if (want("libc")) {
    const lib = openLibc(); // kept open for the process's life
    const dst = host.subarray(copy.gpa, copy.gpa + copy.len);
    const dstP = Deno.UnsafePointer.of(dst), srcP = Deno.UnsafePointer.of(img.subarray(copy.off));
    const fd = lib.symbols.open(new TextEncoder().encode(`${bzPath}\0`), 0);
    if (fd < 0) throw new Error(`open ${bzPath} failed`);
    try {
      const n = BigInt(copy.len), at = BigInt(copy.off);
      const [lm, lf, fm, ff, mm] = await shuffled([
        () => loadBzImage(mem, img),
        async () => await loadBzImage(mem, await fromFile(file)),
        () => lib.symbols.memcpy(dstP, srcP, n),
        () => {
          if (Number(lib.symbols.pread(fd, dstP, n, at)) !== copy.len) throw new Error("short pread");
        },
        () => minimalBzLoad(host, img),
      ], secs * 3);
      result("bzimage_load (Cursor) vs libc memcpy, one process, shuffled", copy.len, lm, fm);
      result("bzimage_load (File) vs libc pread, one process, shuffled", copy.len, lf, ff);
      result("floor check: least JS bzImage load (async, 4 header reads, one set) vs libc memcpy, same", 0, mm, fm);
    } finally {
      lib.symbols.close(fd);
    }
  }
  if (want("cold")) {
    const [load, floor] = await measure(
      () => loadBzImage(GuestMemory.fromRanges([[0, size]]), img),
      () => memcpy(img, new Uint8Array(new ArrayBuffer(size)), copies)(),
      secs,
      true,
    );
    result("bzimage_load cold (new mmap/op)", copy.len, load, floor);
  }

  if (want("pvh_configure")) {
    const m = GuestMemory.fromRanges([[0, 16 * MiB]]);
    const h = m.regions[0].bytes;
    // As the Rust bench: magic, version 1, memmap at 0x7000 with one 16 MiB RAM entry; no command line.
    const params = pvhBootParams({
      startInfoAddr: 0x6000,
      memmapAddr: 0x7000,
      memmap: [{ addr: 0, size: 16 * MiB, type: 1 }],
    });
    const parts: Copy[] = [{ off: 0, gpa: 0x6000, len: params.header.length }, {
      off: params.header.length,
      gpa: 0x7000,
      len: params.sections!.length,
    }];
    const src = new Uint8Array(params.header.length + params.sections!.length);
    src.set(params.header);
    src.set(params.sections!, params.header.length);
    PvhBootConfigurator.writeBootparams(m, params);
    checkCopied(src, h, parts, "pvh");
    const [load, floor] = await measure(
      () => PvhBootConfigurator.writeBootparams(m, params),
      memcpy(src, h, parts),
      secs,
      false,
    );
    result("pvh_configure (write_bootparams)", src.length, load, floor);
  }

  if (want("linux_configure")) {
    const m = GuestMemory.fromRanges([[0, 128 * MiB]]);
    const h = m.regions[0].bytes;
    // As the Rust bench: the bzImage's setup header, cmdline at 0x20000, a 16 MiB initrd, a 3-entry e820.
    const page = new Uint8Array(4096);
    const dv = new DataView(page.buffer);
    page.set(img.subarray(0x1f1, 0x1f1 + 0x7f), 0x1f1);
    dv.setUint32(0x228, 0x2_0000, true);
    dv.setUint32(0x218, 0x600_0000, true);
    dv.setUint32(0x21c, 0x100_0000, true);
    page[0x210] = 0xff;
    const e820: [number, number, number][] = [[0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [MiB, 127 * MiB, 1]];
    e820.forEach(([a, s, t], i) => {
      dv.setBigUint64(0x2d0 + i * 20, BigInt(a), true);
      dv.setBigUint64(0x2d0 + i * 20 + 8, BigInt(s), true);
      dv.setUint32(0x2d0 + i * 20 + 16, t, true);
    });
    page[0x1e8] = 3;
    const params = new BootParams(page, 0x7000);
    const parts = [{ off: 0, gpa: 0x7000, len: 4096 }];
    LinuxBootConfigurator.writeBootparams(m, params);
    checkCopied(page, h, parts, "linux zero page");
    const [load, floor] = await measure(
      () => LinuxBootConfigurator.writeBootparams(m, params),
      memcpy(page, h, parts),
      secs,
      false,
    );
    result("linux_configure (zero page)", 4096, load, floor);
  }

  if (want("floor check")) {
    // What our side cannot go below: the fixed cost of one TypedArray.prototype.set (the configurators make
    // one per part), and of awaiting an async call (every load is one).
    const m = GuestMemory.fromRanges([[0, 16 * MiB]]);
    const h = m.regions[0].bytes, four = new Uint8Array(4);
    const [set] = await measure(() => h.set(four, 0x6000), undefined, secs, false);
    result("floor check: one Uint8Array.set of 4 bytes (fixed cost per call)", 4, set, undefined);
    const noop = async (): Promise<number> => await 0;
    const [aw] = await measure(() => noop(), undefined, secs, true);
    result("floor check: await of an async function that awaits once", 0, aw, undefined);
    // A load from memory awaits nothing inside: its floor is this.
    // deno-lint-ignore require-await -- the floor measured is an async function that does not await
    const none = async (): Promise<number> => 0;
    const [aw0] = await measure(() => none(), undefined, secs, true);
    result("floor check: await of an async function that does not await", 0, aw0, undefined);
  }

  if (want("buildVmFdt")) {
    const ARM_BASE = 0x4000_0000;
    const arm = GuestMemory.fromRanges([[ARM_BASE, 256 * MiB]]);
    const opts: VmFdtOptions = {
      arch: "aarch64",
      bootargs: "console=ttyAMA0 earlycon=pl011,0x9000000 root=/dev/vda1 rw panic=-1",
      cpus: 2,
      gic: true,
      initrd: { start: ARM_BASE + 0x800_0000, end: ARM_BASE + 0x880_0000 },
    };
    const dtb = buildVmFdt(arm, opts);
    const [load, floor] = await measure(() => buildVmFdt(arm, opts), () => dtb.slice(), secs, false);
    result("buildVmFdt (arm64 VM, 2 cpus, GICv2, initrd)", dtb.length, load, floor);
  }

  if (args.image !== undefined && want("gzip")) {
    const ARM_BASE = 0x4000_0000;
    const image = await Deno.readFile(args.image);
    const gz = await gzip(image);
    const m = GuestMemory.fromRanges([[ARM_BASE, 64 * MiB]]);
    const h = m.regions[0].bytes;
    await loadPe(m, gz, { imageBase: ARM_BASE });
    // Into zeroed guest memory, as a VMM's one real load: one decode straight into the guest. Both sides
    // zero the guest first, so the fill counts alike.
    const [load, floor] = await measure(
      async () => {
        h.fill(0);
        await loadPe(m, gz, { imageBase: ARM_BASE });
      },
      async () => {
        h.fill(0);
        await loadPe(m, image, { imageBase: ARM_BASE });
        await gunzip(gz);
      },
      secs,
      true,
      5,
    );
    result("Image.gz load, zeroed guest vs (plain load + one gunzip)", image.length, load, floor);
    // Into guest memory already holding data: a verify pass, then the write pass (memory untouched on error).
    const [load2, floor2] = await measure(
      () => loadPe(m, gz, { imageBase: ARM_BASE }),
      async () => {
        await loadPe(m, image, { imageBase: ARM_BASE });
        await gunzip(gz);
      },
      secs,
      true,
      5,
    );
    result("Image.gz load, used guest vs (plain load + one gunzip)", image.length, load2, floor2);
  }
}

// ---- the orchestrator -------------------------------------------------------------------------------------

interface Res {
  load: number;
  floor: number | undefined;
  /** The fastest sample of each (robust when other processes take the CPU mid-sample). */
  loadMin: number;
  floorMin: number | undefined;
}

function parse(out: string): Map<string, Res> {
  const m = new Map<string, Res>();
  for (const line of out.split("\n")) {
    if (!line.startsWith("RESULT\t")) continue;
    const f = line.split("\t");
    m.set(f[2], {
      load: Number(f[4]),
      floor: f[6] === "-" ? undefined : Number(f[6]),
      loadMin: Number(f[5]),
      floorMin: f[8] === "-" ? undefined : Number(f[8]),
    });
  }
  return m;
}

async function run(cmd: string, args: string[], cwd?: string, env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

function range(v: number[], f: (x: number) => string): string {
  return `${f(median(v))} (${f(Math.min(...v))}..${f(Math.max(...v))})`;
}

/** SHA-256 (first 16 hex digits) of every file under `dir` but build output, their paths, and `extra`. */
async function sourcesDigest(dir: string, extra: string): Promise<string> {
  const files: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for await (const e of Deno.readDir(d)) {
      if (e.name === "target") continue;
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${rel}${e.name}/`);
      else if (e.isFile) files.push(`${rel}${e.name}`);
    }
  };
  await walk(dir, "");
  files.sort();
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(extra)];
  for (const f of files) parts.push(enc.encode(`\0${f}\0`), await Deno.readFile(`${dir}/${f}`));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.byteLength;
  }
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...h.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function orchestrate(rounds: number, secs: number): Promise<void> {
  const root = new URL("../", import.meta.url).pathname;
  // ../shared/anchors/rust-bench from the project root; RUST_ANCHOR names another copy (a worktree has none).
  const anchor = Deno.env.get("RUST_ANCHOR") ?? `${root}../shared/anchors/rust-bench`;
  const ci = Deno.env.get("CI") === "true";
  const bzRec = JSON.parse(await Deno.readTextFile(`${CACHE_DIR}amd64.json`)) as { kernel: string };
  let armImage: string | undefined;
  try {
    armImage = (JSON.parse(await Deno.readTextFile(`${CACHE_DIR}arm64.json`)) as { kernel: string }).kernel;
  } catch {
    armImage = undefined;
  }
  // Debian's vendored crates (the README's build notes).
  const missing: string[] = [];
  for (const p of ["librust-vm-memory-dev", "librust-thiserror-dev"]) {
    const st = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f=${Status}", p],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    if (!new TextDecoder().decode(st.stdout).includes("install ok installed")) missing.push(p);
  }
  if (missing.length > 0) {
    if (ci) throw new Error(`missing ${missing.join(" ")} (CI: not installing)`);
    console.error(`installing ${missing.join(" ")} (apt-get)`);
    await run("apt-get", ["install", "-y", ...missing]);
  }
  const tmp = await Deno.makeTempDir({ prefix: "linux-loader-anchor-" });
  try {
    await run("cp", ["-r", anchor, `${tmp}/rb`]);
    await run("chmod", ["-R", "u+w", `${tmp}/rb`]);
    const env = { PATH: `/root/.cargo/bin:${Deno.env.get("PATH")}` };
    // RUST_BENCH_BIN: an ll-bench-head built elsewhere. Otherwise the build of these sources with this
    // toolchain is kept in the kernel cache (fixtures/real/cache/rust-bench/<digest>/), so only the first run
    // builds.
    let rust = Deno.env.get("RUST_BENCH_BIN");
    if (rust === undefined) {
      const rustc = await run("rustc", ["--version"], undefined, env);
      const kept = `${CACHE_DIR}rust-bench/${await sourcesDigest(anchor, rustc)}/ll-bench-head`;
      if (await exists(kept)) rust = kept;
      else {
        console.error("building the Rust bench (cargo build --release --offline)...");
        await run("cargo", ["build", "--release", "--offline", "-q"], `${tmp}/rb/bench-head`, env);
        await Deno.mkdir(kept.slice(0, kept.lastIndexOf("/")), { recursive: true });
        await Deno.copyFile(`${tmp}/rb/bench-head/target/release/ll-bench-head`, `${kept}.part`);
        await Deno.rename(`${kept}.part`, kept);
        rust = kept;
      }
      console.error(`Rust bench: ${rust}`);
    }
    const elfnote = `${tmp}/rb/linux-loader-0.14.0/src/loader/elf/test_elfnote.bin`;
    const vmlinux = `${tmp}/vmlinux`;
    await Deno.writeFile(vmlinux, await extractVmlinux(await Deno.readFile(bzRec.kernel)));

    const rs: Map<string, Res>[] = [], ds: Map<string, Res>[] = [];
    const load: string[] = [await Deno.readTextFile("/proc/loadavg")];
    for (let i = 0; i < rounds; i++) {
      console.error(`round ${i + 1}/${rounds}: Rust`);
      rs.push(parse(await run(rust, ["--bzimage", bzRec.kernel, "--vmlinux", vmlinux, "--secs", String(secs)])));
      console.error(`round ${i + 1}/${rounds}: Deno`);
      const a = ["run", "-A", new URL(import.meta.url).pathname, "measure", "--bzimage", bzRec.kernel];
      a.push("--vmlinux", vmlinux, "--elfnote", elfnote, "--secs", String(secs));
      if (armImage !== undefined) a.push("--image", armImage);
      ds.push(parse(await run(Deno.execPath(), a)));
    }
    load.push(await Deno.readTextFile("/proc/loadavg"));
    const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ?? "?";
    console.log(
      `machine: ${cpu}, ${navigator.hardwareConcurrency} CPUs; Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`,
    );
    console.log(
      `load average before: ${load[0].split(" ").slice(0, 3).join(" ")}, after: ${
        load[1].split(" ").slice(0, 3).join(" ")
      }`,
    );
    console.log(`${rounds} interleaved rounds (Rust, Deno, ...), ${secs} s per case; median over rounds (min..max)`);
    console.log();
    console.log(
      "| case | Rust | Rust × floor | ours | ours × floor | ours / Rust (same round) | fastest samples: Rust, ours, ours / Rust |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    const names = [...new Set([...ds[0].keys(), ...rs[0].keys()])];
    for (const name of names) {
      const r = rs.map((m) => m.get(name)).filter((x) => x !== undefined);
      const d = ds.map((m) => m.get(name)).filter((x) => x !== undefined);
      const cell = (v: Res[]): string => v.length ? range(v.map((x) => x.load), fmtNs) : "-";
      const xf = (v: Res[]): string =>
        v.length && v[0].floor !== undefined ? range(v.map((x) => x.load / x.floor!), (x) => x.toFixed(3)) : "-";
      const ratio = r.length === rounds && d.length === rounds
        ? range(r.map((x, i) => d[i].load / x.load), (x) => x.toFixed(2))
        : "-";
      const mins = (v: Res[]): string => v.length ? fmtNs(median(v.map((x) => x.loadMin))) : "-";
      const minRatio = r.length === rounds && d.length === rounds
        ? median(r.map((x, i) => d[i].loadMin / x.loadMin)).toFixed(2)
        : "-";
      console.log(
        `| ${name} | ${cell(r)} | ${xf(r)} | ${cell(d)} | ${xf(d)} | ${ratio} | ${mins(r)}, ${mins(d)}, ${minRatio} |`,
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "measure") {
    const a: Record<string, string> = {};
    for (let i = 1; i < Deno.args.length; i += 2) a[Deno.args[i].replace(/^--/, "")] = Deno.args[i + 1];
    await ours(a);
  } else {
    await orchestrate(Number(Deno.args[0] ?? "3"), Number(Deno.args[1] ?? "1"));
  }
}
