/**
 * Every kernel load path next to its floor, in one group each:
 *
 * - from memory (a Uint8Array source): the floor is `Uint8Array.set` of the same bytes into the same guest
 *   buffer (plus `fill` of the same bss, for ELF);
 * - from a file (`fromFile` over an open `Deno.FsFile`): the floor is one positioned read (seek + read) of
 *   the same bytes straight into the guest buffer, per segment;
 * - gzip: beside `DecompressionStream` alone, its output copied into the guest buffer;
 * - into freshly allocated guest memory (page faults included): beside `new ArrayBuffer` + `set`.
 *
 * Each load group also times the load without its copy (`plan only`: decode the headers, plan, validate
 * against guest memory): the fixed cost a load adds to its floor, which machine noise cannot blur.
 *
 * Inputs (see `_inputs.ts`) are read or generated once, before any measurement. Targets: memory loads at
 * most 1.05x their floor, file loads at most 1.1x.
 *
 * Run: deno bench --allow-all bench/load_bench.ts
 */

import { GuestMemory } from "../lib/memory.ts";
import { fromFile } from "../lib/source.ts";
import { loadBzImage } from "../lib/loader/bzimage.ts";
import { loadElf, planElf } from "../lib/loader/elf.ts";
import { loadPe, planPe } from "../lib/loader/pe.ts";
import { planBzImage } from "../lib/loader/bzimage.ts";
import { type Plan, validatePlan } from "../lib/plan.ts";
import type { KernelSource } from "../lib/source.ts";
import { arm64ImageInput, bzImageInput, gzipInput, mb, vmlinuxInput } from "./_inputs.ts";

const MiB = 1 << 20;

const bz = await bzImageInput();
const vmlinux = await vmlinuxInput(bz);
const image = await arm64ImageInput();
const imageGz = await gzipInput(image);

/** Copies the plan's bytes from memory with plain `set` / `fill`: the floor of an in-memory load. */
function copyFloor(region: Uint8Array, base: number, plan: Plan, bytes: Uint8Array): void {
  for (const s of plan.steps) {
    if (s.kind === "copy") region.set(bytes.subarray(s.sourceOffset, s.sourceOffset + s.length), s.guestAddr - base);
    else if (s.kind === "fill") region.fill(s.value, s.guestAddr - base, s.guestAddr - base + s.length);
  }
}

/** One seek + read (looped only on a short read) of `dest.byteLength` bytes at `offset`. */
async function preadFloor(file: Deno.FsFile, offset: number, dest: Uint8Array): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < dest.byteLength) {
    const n = await file.read(dest.subarray(done));
    if (n === null) throw new Error("short read");
    done += n;
  }
}

/** The file floor of a plan: one positioned read per copy step, `fill` per bss. */
async function readFloor(file: Deno.FsFile, region: Uint8Array, base: number, plan: Plan): Promise<void> {
  for (const s of plan.steps) {
    const at = s.guestAddr - base;
    if (s.kind === "copy") await preadFloor(file, s.sourceOffset, region.subarray(at, at + s.length));
    else if (s.kind === "fill") region.fill(s.value, at, at + s.length);
  }
}

function check(what: string, region: Uint8Array, base: number, plan: Plan, bytes: Uint8Array): void {
  for (const s of plan.steps) {
    if (s.kind !== "copy") continue;
    const got = region.subarray(s.guestAddr - base, s.guestAddr - base + s.length);
    const want = bytes.subarray(s.sourceOffset, s.sourceOffset + s.length);
    for (let i = 0; i < want.length; i += 4093) {
      if (got[i] !== want[i]) throw new Error(`${what}: guest byte ${i} of ${s.label} differs`);
    }
  }
}

// ---- bzImage ----------------------------------------------------------------------------------------------

const bzMem = GuestMemory.fromRanges([[0, 32 * MiB]]);
const bzPlan = (await planBzImage(bzMem, bz.bytes)).plan;
const bzRegion = bzMem.regions[0].bytes;
const bzFile = await Deno.open(bz.path);
await loadBzImage(bzMem, bz.bytes);
check("bzImage", bzRegion, 0, bzPlan, bz.bytes);
bzRegion.fill(0);
await loadBzImage(bzMem, await fromFile(bzFile));
check("bzImage file", bzRegion, 0, bzPlan, bz.bytes);
const bzKernel = bzPlan.steps[0].kind === "copy" ? bzPlan.steps[0].length : 0;

Deno.bench({
  name: `floor: Uint8Array.set of the ${mb(bzKernel)} MB protected-mode kernel`,
  group: `bzImage from memory, ${bzKernel} B`,
  baseline: true,
  fn: () => copyFloor(bzRegion, 0, bzPlan, bz.bytes),
});
Deno.bench({
  name: `loadBzImage (${bz.origin})`,
  group: `bzImage from memory, ${bzKernel} B`,
  fn: async () => {
    await loadBzImage(bzMem, bz.bytes);
  },
});
Deno.bench({
  name: "plan only: planBzImage + validatePlan (no copy)",
  group: `bzImage from memory, ${bzKernel} B`,
  fn: async () => {
    validatePlan(bzMem, (await planBzImage(bzMem, bz.bytes)).plan, bz.bytes.length);
  },
});

Deno.bench({
  name: `floor: one positioned read of the ${mb(bzKernel)} MB kernel into guest memory`,
  group: `bzImage from a file, ${bzKernel} B`,
  baseline: true,
  fn: async () => {
    await readFloor(bzFile, bzRegion, 0, bzPlan);
  },
});
Deno.bench({
  name: `loadBzImage(fromFile) (${bz.origin})`,
  group: `bzImage from a file, ${bzKernel} B`,
  fn: async () => {
    await loadBzImage(bzMem, await fromFile(bzFile));
  },
});
Deno.bench({
  name: "plan only: fromFile + planBzImage + validatePlan (no copy)",
  group: `bzImage from a file, ${bzKernel} B`,
  fn: async () => {
    const src = await fromFile(bzFile);
    validatePlan(bzMem, (await planBzImage(bzMem, src)).plan, src.size);
  },
});

// ---- ELF vmlinux ------------------------------------------------------------------------------------------

const elfMem = GuestMemory.fromRanges([[0, 96 * MiB]]);
const elfPlan = (await planElf(elfMem, vmlinux.bytes)).plan;
const elfRegion = elfMem.regions[0].bytes;
const elfFile = await Deno.open(vmlinux.path);
const elfBytes = elfPlan.steps.reduce((n, s) => n + (s.kind === "bytes" ? s.bytes.length : s.length), 0);
const elfSegs = elfPlan.steps.filter((s) => s.kind === "copy").length;
await loadElf(elfMem, vmlinux.bytes);
check("vmlinux", elfRegion, 0, elfPlan, vmlinux.bytes);
elfRegion.fill(0);
await loadElf(elfMem, await fromFile(elfFile));
check("vmlinux file", elfRegion, 0, elfPlan, vmlinux.bytes);

Deno.bench({
  name: `floor: Uint8Array.set of ${elfSegs} segments + fill of the bss (${mb(elfBytes)} MB)`,
  group: `vmlinux (PVH ELF) from memory, ${elfBytes} B`,
  baseline: true,
  fn: () => copyFloor(elfRegion, 0, elfPlan, vmlinux.bytes),
});
Deno.bench({
  name: `loadElf (${vmlinux.origin})`,
  group: `vmlinux (PVH ELF) from memory, ${elfBytes} B`,
  fn: async () => {
    await loadElf(elfMem, vmlinux.bytes);
  },
});
Deno.bench({
  name: "plan only: planElf + validatePlan (no copy)",
  group: `vmlinux (PVH ELF) from memory, ${elfBytes} B`,
  fn: async () => {
    validatePlan(elfMem, (await planElf(elfMem, vmlinux.bytes)).plan, vmlinux.bytes.length);
  },
});
Deno.bench({
  name: `floor: one positioned read per segment + fill of the bss (${mb(elfBytes)} MB)`,
  group: `vmlinux (PVH ELF) from a file, ${elfBytes} B`,
  baseline: true,
  fn: async () => {
    await readFloor(elfFile, elfRegion, 0, elfPlan);
  },
});
Deno.bench({
  name: `loadElf(fromFile) (${vmlinux.origin})`,
  group: `vmlinux (PVH ELF) from a file, ${elfBytes} B`,
  fn: async () => {
    await loadElf(elfMem, await fromFile(elfFile));
  },
});
Deno.bench({
  name: "plan only: fromFile + planElf + validatePlan (no copy)",
  group: `vmlinux (PVH ELF) from a file, ${elfBytes} B`,
  fn: async () => {
    const src = await fromFile(elfFile);
    validatePlan(elfMem, (await planElf(elfMem, src)).plan, src.size);
  },
});

// ---- arm64 Image, plain and gzip --------------------------------------------------------------------------

const ARM_BASE = 0x4000_0000;
const peMem = GuestMemory.fromRanges([[ARM_BASE, 64 * MiB]]);
const peRegion = peMem.regions[0].bytes;
const pe = await loadPe(peMem, image.bytes, { imageBase: ARM_BASE });
const pePlan = pe.plan;
check("Image", peRegion, ARM_BASE, pePlan, image.bytes);
peRegion.fill(0);
const peFile = await Deno.open(image.path);
await loadPe(peMem, await fromFile(peFile), { imageBase: ARM_BASE });
check("Image file", peRegion, ARM_BASE, pePlan, image.bytes);
peRegion.fill(0);
await loadPe(peMem, imageGz.bytes, { imageBase: ARM_BASE });
check("Image.gz", peRegion, ARM_BASE, pePlan, image.bytes);

Deno.bench({
  name: `floor: Uint8Array.set of the ${mb(image.bytes.length)} MB Image`,
  group: `arm64 Image from memory, ${image.bytes.length} B`,
  baseline: true,
  fn: () => copyFloor(peRegion, ARM_BASE, pePlan, image.bytes),
});
Deno.bench({
  name: `loadPe (${image.origin})`,
  group: `arm64 Image from memory, ${image.bytes.length} B`,
  fn: async () => {
    await loadPe(peMem, image.bytes, { imageBase: ARM_BASE });
  },
});
Deno.bench({
  name: "plan only: planPe (reads the header, validates; no copy)",
  group: `arm64 Image from memory, ${image.bytes.length} B`,
  fn: async () => {
    await planPe(peMem, image.bytes, { imageBase: ARM_BASE });
  },
});
Deno.bench({
  name: `floor: one positioned read of the ${mb(image.bytes.length)} MB Image into guest memory`,
  group: `arm64 Image from a file, ${image.bytes.length} B`,
  baseline: true,
  fn: async () => {
    await readFloor(peFile, peRegion, ARM_BASE, pePlan);
  },
});
Deno.bench({
  name: `loadPe(fromFile) (${image.origin})`,
  group: `arm64 Image from a file, ${image.bytes.length} B`,
  fn: async () => {
    await loadPe(peMem, await fromFile(peFile), { imageBase: ARM_BASE });
  },
});
Deno.bench({
  name: "plan only: fromFile + planPe (reads the header, validates; no copy)",
  group: `arm64 Image from a file, ${image.bytes.length} B`,
  fn: async () => {
    const src: KernelSource = await fromFile(peFile);
    await planPe(peMem, src, { imageBase: ARM_BASE });
  },
});

/**
 * DecompressionStream alone over the same gzip bytes, fed in the same 1 MiB chunks as the loader (faster
 * here than `Blob.stream()`'s chunks), each output chunk copied to the load address.
 */
async function gunzipFloor(): Promise<void> {
  const gz = imageGz.bytes;
  let off = 0;
  const input = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller): void {
      if (off >= gz.length) return controller.close();
      const n = Math.min(1 << 20, gz.length - off);
      controller.enqueue(gz.subarray(off, off + n));
      off += n;
    },
  }, { highWaterMark: 0 });
  const reader = input.pipeThrough(new DecompressionStream("gzip")).getReader();
  let at = pe.loadStart - ARM_BASE;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    peRegion.set(value, at);
    at += value.byteLength;
  }
}

Deno.bench({
  name: `floor: DecompressionStream of the ${mb(imageGz.bytes.length)} MB gzip into guest memory`,
  group: `arm64 Image.gz from memory, ${image.bytes.length} B`,
  baseline: true,
  n: 5,
  warmup: 2,
  fn: gunzipFloor,
});
Deno.bench({
  name: `loadPe of the gzip form (verify pass + load pass)`,
  group: `arm64 Image.gz from memory, ${image.bytes.length} B`,
  n: 5,
  warmup: 2,
  fn: async () => {
    await loadPe(peMem, imageGz.bytes, { imageBase: ARM_BASE });
  },
});

// ---- fresh guest memory -----------------------------------------------------------------------------------

Deno.bench({
  name: "floor: new ArrayBuffer(32 MiB) + Uint8Array.set of the bzImage kernel",
  group: `bzImage into fresh guest memory (page faults included), ${bzKernel} B`,
  baseline: true,
  fn: () => {
    const buf = new Uint8Array(new ArrayBuffer(32 * MiB));
    copyFloor(buf, 0, bzPlan, bz.bytes);
  },
});
Deno.bench({
  name: "GuestMemory.fromRanges(32 MiB) + loadBzImage",
  group: `bzImage into fresh guest memory (page faults included), ${bzKernel} B`,
  fn: async () => {
    const mem = GuestMemory.fromRanges([[0, 32 * MiB]]);
    await loadBzImage(mem, bz.bytes);
  },
});

globalThis.addEventListener("unload", () => {
  for (const f of [bzFile, elfFile, peFile]) f.close();
});
