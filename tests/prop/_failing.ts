// Shared by tests/regressions/failure_contract_test.ts (every read of every format fails once) and
// tests/prop/failure_contract_test.ts (random format, source kind, failing read and failure): sources that fail
// at their n-th read in five ways, every format as a case, and the memory the failure contract allows.

import { buildBzImage, defaultSetupHeader } from "../../fixtures/build/bzimage.ts";
import { buildArm64Image, gzip, kernelLikeBytes } from "../../fixtures/build/pe.ts";
import { demoKernel } from "../../emu/demo_kernels.ts";
import { buildMultiboot2, buildMultibootElf } from "../../fixtures/build/multiboot.ts";
import {
  fromBlob,
  fromFile,
  type KernelSource,
  loadBzImage,
  loadDtb,
  loadElf,
  loadInitrd,
  loadKernel,
  loadMultiboot,
  loadMultiboot2,
  loadPe,
  placeInitrd,
  type Plan,
  planBzImage,
  planElf,
  planInitrd,
  planMultiboot,
  planMultiboot2,
  planPe,
  type SeekableFile,
  SourceError,
} from "../../mod.ts";
import { assertMemory, assertTyped, expectFill, makeMemory, snapshot, type TestMemory } from "./_harness.ts";

/** How a failing read fails. */
export type Failure = "error" | "undefined" | "string" | "sync-throw" | "short";
/** The source kinds a VMM can hand a loader. */
export type SourceKind = "bytes" | "file" | "blob" | "custom";

/** A source over `bytes` whose `failAt`-th underlying read (0-based) fails as `how`; `reads()` counts them. */
export function failingSource(
  kind: SourceKind,
  bytes: Uint8Array,
  failAt: number,
  how: Failure,
): { source: Promise<KernelSource | Uint8Array>; reads(): number } {
  let n = 0;
  const fails = () => n++ === failAt;
  const reject = (): Promise<never> => {
    switch (how) {
      case "undefined":
        return Promise.reject(undefined);
      case "string":
        return Promise.reject("the disk went away");
      default:
        return Promise.reject(new Error("EIO"));
    }
  };
  switch (kind) {
    case "bytes":
      return { source: Promise.resolve(bytes), reads: () => n };
    case "custom":
      return {
        reads: () => n,
        source: Promise.resolve({
          size: bytes.byteLength,
          readInto(offset: number, dest: Uint8Array): Promise<void> {
            if (fails()) {
              if (how === "sync-throw") throw new TypeError("sync");
              if (how === "short") {
                dest.set(bytes.subarray(offset, offset + Math.floor(dest.byteLength / 2)));
                return Promise.reject(new RangeError("short"));
              }
              return reject();
            }
            dest.set(bytes.subarray(offset, offset + dest.byteLength));
            return Promise.resolve();
          },
        }),
      };
    case "file": {
      // A file that shrinks ("short": read returns end of file early) or fails at its n-th read.
      let pos = 0;
      const file: SeekableFile = {
        seek(offset) {
          pos = Number(offset);
          return Promise.resolve(pos);
        },
        read(p) {
          if (fails()) {
            if (how === "short") return Promise.resolve(null);
            if (how === "sync-throw") throw new Error("sync");
            return reject();
          }
          const k = Math.min(p.byteLength, bytes.byteLength - pos);
          if (k <= 0) return Promise.resolve(null);
          p.set(bytes.subarray(pos, pos + k));
          pos += k;
          return Promise.resolve(k);
        },
        stat: () => Promise.resolve({ size: bytes.byteLength }),
      };
      return { source: fromFile(file), reads: () => n };
    }
    case "blob": {
      class FailingBlob extends Blob {
        override slice(start?: number, end?: number, type?: string): Blob {
          const inner = super.slice(start, end, type);
          if (!fails()) return inner;
          if (how === "short") return inner.slice(0, Math.floor(inner.size / 2));
          return { arrayBuffer: () => reject(), size: inner.size } as unknown as Blob;
        }
      }
      return { source: Promise.resolve(fromBlob(new FailingBlob([bytes as Uint8Array<ArrayBuffer>]))), reads: () => n };
    }
  }
}

/** One format: its image, how to load it, and the plan (the claimed ranges) of a load into `tm`. */
export interface FormatCase {
  name: string;
  image: Uint8Array;
  load(tm: TestMemory, src: KernelSource | Uint8Array): Promise<unknown>;
  plan(tm: TestMemory): Promise<Plan>;
  /** The bytes the plan copies from (the decompressed image for gzip). */
  content?: Uint8Array;
  /** Reads its whole (compressed) input before the first write, so no read fails during the copy. */
  readsBeforeWriting?: boolean;
}

const LAYOUT = { regions: [{ addr: 0, size: 0x28_0000 }] };
const X86_LAYOUT = { regions: [{ addr: 0, size: 0x1000 }, { addr: 0x1000, size: 0x2f_f000 }] };

/** Every format, built by code (small images: the loops run each one once per read). */
export async function formatCases(): Promise<FormatCase[]> {
  const elf = demoKernel("x86_64");
  const bz = buildBzImage({ payload: kernelLikeBytes(0x3000), header: defaultSetupHeader(0x3000) });
  const plain = buildArm64Image({ code: kernelLikeBytes(0x2000) });
  const packedBody = buildArm64Image({ code: kernelLikeBytes(0x3000, 7) });
  const packed = await gzip(packedBody);
  const mb1 = buildMultibootElf({ code: kernelLikeBytes(0x900, 9) }),
    mb2 = buildMultiboot2({ code: kernelLikeBytes(0x900, 11) });
  const initrd = kernelLikeBytes(0x1800, 3);
  const dtb = kernelLikeBytes(0x400, 5);
  const peOpts = { imageBase: 0x20_0000 };
  return [
    {
      name: "ELF",
      image: elf,
      load: (tm, s) => loadElf(tm.mem, s),
      plan: async (tm) => (await planElf(tm.mem, elf)).plan,
    },
    {
      name: "bzImage",
      image: bz,
      load: (tm, s) => loadBzImage(tm.mem, s),
      plan: async (tm) => (await planBzImage(tm.mem, bz)).plan,
    },
    {
      name: "Image",
      image: plain,
      load: (tm, s) => loadPe(tm.mem, s, peOpts),
      plan: async (tm) => (await planPe(tm.mem, plain, peOpts)).plan,
    },
    {
      name: "gzip Image",
      image: packed,
      content: packedBody,
      readsBeforeWriting: true,
      load: (tm, s) => loadPe(tm.mem, s, peOpts),
      plan: async (tm) => (await planPe(tm.mem, packed, peOpts)).plan,
    },
    {
      name: "Multiboot",
      image: mb1,
      load: (tm, s) => loadMultiboot(tm.mem, s),
      plan: async (tm) => (await planMultiboot(tm.mem, mb1)).plan,
    },
    {
      name: "Multiboot2",
      image: mb2,
      load: (tm, s) => loadMultiboot2(tm.mem, s),
      plan: async (tm) => (await planMultiboot2(tm.mem, mb2)).plan,
    },
    {
      name: "detect + load (ELF)",
      image: elf,
      load: (tm, s) => loadKernel(tm.mem, s),
      plan: async (tm) => (await planElf(tm.mem, elf)).plan,
    },
    {
      name: "initrd",
      image: initrd,
      load: (tm, s) => loadInitrd(tm.mem, s, { kernelEnd: 0x10_0000 }),
      plan: (tm) =>
        Promise.resolve(planInitrd(placeInitrd(tm.mem, initrd.byteLength, { kernelEnd: 0x10_0000 }), initrd)),
    },
    {
      name: "DTB",
      image: dtb,
      load: (tm, s) => loadDtb(tm.mem, 0x1_0000, s),
      plan: () =>
        Promise.resolve({
          steps: [{
            kind: "copy" as const,
            guestAddr: 0x1_0000,
            length: dtb.byteLength,
            sourceOffset: 0,
            label: "dtb",
          }],
        }),
    },
  ];
}

/** Memory for a case: x86 formats get a split layout so copies cross a region boundary. */
export function memoryFor(c: FormatCase): TestMemory {
  return makeMemory(c.name === "Image" || c.name === "gzip Image" || c.name === "DTB" ? LAYOUT : X86_LAYOUT);
}

/** What memory must be after a failure with `error`: unchanged, or the claimed ranges zeroed. */
export function expectedAfterFailure(tm: TestMemory, before: Uint8Array[], plan: Plan, error: unknown): Uint8Array[] {
  assertTyped(error);
  const out = before.map((b) => b.slice());
  if (error instanceof SourceError && error.code === "LoadInterrupted") {
    for (const s of plan.steps) expectFill(tm, out, s.guestAddr, s.kind === "bytes" ? s.bytes.byteLength : s.length);
  }
  return out;
}

/** Runs one load failing at read `k`; returns whether it failed and how many reads the source saw. */
export async function runFailingAt(
  c: FormatCase,
  kind: SourceKind,
  k: number,
  how: Failure,
  reference: Uint8Array[] | undefined,
): Promise<{ failed: boolean; reads: number; code?: string }> {
  const tm = memoryFor(c);
  const before = snapshot(tm);
  const plan = await c.plan(tm);
  const fs = failingSource(kind, c.image, k, how);
  let failed = false, code: string | undefined;
  try {
    await c.load(tm, await fs.source);
    if (reference !== undefined) assertMemory(tm, reference, `${c.name} from ${kind} (read ${k} failing) succeeded`);
  } catch (e) {
    failed = true;
    code = (e as { code?: string }).code;
    assertMemory(tm, expectedAfterFailure(tm, before, plan, e), `${c.name} from ${kind}, read ${k} ${how}: ${e}`);
  }
  return { failed, reads: fs.reads(), code };
}
