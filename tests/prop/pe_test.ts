// Properties of the arm64 / riscv64 Image loader (planPe / loadPe, plain and gzip) and of loadDtb, on valid and
// hostile inputs. Runs and seeds: ./_config.ts. gzip properties run fewer cases (CompressionStream and the
// loader's two streaming passes cost about a millisecond each): GZIP_RUNS by default, a fifth of FUZZ_RUNS
// in fuzz mode.

import assert from "node:assert/strict";
import fc from "fast-check";
import { loadDtb, loadPe, planPe } from "../../lib/loader/pe.ts";
import { PeError } from "../../lib/errors.ts";
import { isGzip } from "../../lib/compress/gzip.ts";
import { gzip } from "../../fixtures/build/pe.ts";
import { checkAsyncProperty, isFuzz, propParams } from "./_config.ts";
import { hostileNumber, layoutArb, mutate, mutationsArb, peCaseArb, peTargets } from "./_arbitraries.ts";
import { assertMemory, checkLoad, expectWrite, makeMemory, snapshot, type TestMemory, timedAsync } from "./_harness.ts";
import type { GuestMemory } from "../../lib/memory.ts";

const GZIP_RUNS = 500;
function gzipRuns(name: string): { numRuns: number } {
  const n = propParams(name).numRuns ?? GZIP_RUNS;
  return { numRuns: isFuzz() ? Math.max(1, Math.floor(n / 5)) : GZIP_RUNS };
}

/** booting.rst, read plainly: at kernelOffset + text_offset (0x80000 for an arm64 header with image_size 0). */
function referencePe(b: Uint8Array, kernelOffset: number) {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const arm64 = d.getUint32(0x38, true) === 0x644d5241;
  const imageSize = Number(d.getBigUint64(16, true));
  const text = arm64 && imageSize === 0 ? 0x80000 : Number(d.getBigUint64(8, true));
  const load = kernelOffset + text;
  return { arch: arm64 ? "aarch64" : "riscv64", load, end: load + b.byteLength, imageSize };
}

// The decompressed bytes by the platform's DecompressionStream (the test's own reading of gzip).
async function gunzipRef(b: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    const s = new Blob([b as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(s).arrayBuffer());
  } catch {
    return undefined;
  }
}

// What loadPe will write, planned by the test: the plain image, or the image inside the gzip stream.
async function planFor(mem: GuestMemory, image: Uint8Array, opts: { imageBase?: number }) {
  if (!isGzip(image)) return { plan: await planPe(mem, image, opts), source: image };
  const plain = await gunzipRef(image);
  if (plain === undefined) throw new PeError("CorruptGzip", "the reference cannot decompress it either");
  return { plan: await planPe(mem, image, opts), source: plain };
}

async function checkPeLoad(tm: TestMemory, image: Uint8Array, opts: { imageBase?: number }) {
  let source: Uint8Array = image;
  return await checkLoad(tm, () => source, async () => {
    const p = await planFor(tm.mem, image, opts);
    source = p.source;
    return p.plan;
  }, () => loadPe(tm.mem, image, opts));
}

async function checkValid(
  c: { layout: { regions: { addr: number; size: number }[] }; bytes: Uint8Array; kernelOffset: number },
  compressed: boolean,
) {
  const tm = makeMemory(c.layout);
  const before = snapshot(tm);
  const ref = referencePe(c.bytes, c.kernelOffset);
  const input = compressed ? await gzip(c.bytes) : c.bytes;
  const r = await timedAsync("loadPe", () => loadPe(tm.mem, input, { imageBase: c.kernelOffset }));
  assert.equal(r.arch, ref.arch);
  assert.equal(r.loadStart, ref.load);
  assert.equal(r.loadEnd, ref.end);
  assert.equal(r.details.imageSize, ref.imageSize);
  assert.equal(r.details.compression, compressed ? "gzip" : undefined);
  assert.equal(r.loadEnd - r.loadStart, c.bytes.byteLength);
  const expected = before.map((x) => x.slice());
  expectWrite(tm, expected, ref.load, c.bytes);
  assertMemory(tm, expected, "loaded memory vs the reference");
}

Deno.test("loadPe loads every valid arm64 and riscv64 Image at kernelOffset + text_offset as booting.rst says", async () => {
  await checkAsyncProperty(
    "pe valid load equals the reference reading",
    fc.asyncProperty(peCaseArb, (c) => checkValid(c, false)),
  );
});

Deno.test("loadPe on any mutated Image throws only typed errors, writes only its plan and leaves memory untouched on failure", async () => {
  await checkAsyncProperty(
    "pe mutated load keeps the invariants",
    fc.asyncProperty(
      peCaseArb,
      mutationsArb(),
      fc.option(hostileNumber(fc.nat({ max: 8 }).map((k) => k * 0x20_0000)), { nil: undefined, freq: 3 }),
      async (c, muts, kernelOffset) => {
        const image = mutate(c.bytes, muts, peTargets);
        await checkPeLoad(makeMemory(c.layout), image, { imageBase: kernelOffset ?? c.kernelOffset });
      },
    ),
  );
});

Deno.test("loadPe loads every valid gzip-compressed Image exactly as its plain bytes", async () => {
  const name = "pe gzip valid load equals the reference reading";
  await checkAsyncProperty(name, fc.asyncProperty(peCaseArb, (c) => checkValid(c, true)), gzipRuns(name));
});

Deno.test("loadPe on any mutated gzip Image throws only typed errors, writes only its plan and leaves memory untouched on failure", async () => {
  const name = "pe gzip mutated load keeps the invariants";
  await checkAsyncProperty(
    name,
    fc.asyncProperty(peCaseArb, mutationsArb(), fc.boolean(), async (c, muts, inner) => {
      // Mutate the compressed stream (corrupt gzip), or the Image inside it (a valid stream of a bad Image).
      const image = inner
        ? await gzip(mutate(c.bytes, muts, peTargets))
        : mutate(await gzip(c.bytes), muts, () => ({ fields: [], records: [] }));
      await checkPeLoad(makeMemory(c.layout), image, { imageBase: c.kernelOffset });
    }),
    gzipRuns(name),
  );
});

Deno.test("loadDtb writes any blob of at most 2 MiB exactly at its address or nothing", async () => {
  await checkAsyncProperty(
    "dtb load keeps the invariants",
    fc.asyncProperty(
      layoutArb(),
      fc.uint8Array({ maxLength: 0x400 }),
      hostileNumber(fc.nat({ max: 0x8000 })),
      async (layout, blob, addr) => {
        const tm = makeMemory(layout);
        const plan = {
          steps: [{ kind: "copy" as const, guestAddr: addr, length: blob.byteLength, sourceOffset: 0, label: "dtb" }],
        };
        await checkLoad(tm, () => blob, () => {
          // The reference plan: the whole blob at addr, which must be guest memory.
          if (!tm.mem.isRange(addr, blob.byteLength)) return Promise.reject(new PeError("ReadDtbImage", "outside"));
          return Promise.resolve({ plan });
        }, () => loadDtb(tm.mem, addr, blob));
      },
    ),
  );
});
