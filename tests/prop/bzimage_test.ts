// Properties of the bzImage loader (decodeBzImage / planBzImage / loadBzImage / bzImagePlacement) and of
// extractVmlinux, on valid and hostile images. Runs and seeds: ./_config.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { bzImagePlacement, decodeBzImage, loadBzImage, planBzImage } from "../../lib/loader/bzimage.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";
import { BzImageError, KernelLoaderError } from "../../lib/errors.ts";
import { buildBzImage } from "../../fixtures/build/bzimage.ts";
import { buildElf } from "../../fixtures/build/elf.ts";
import { checkAsyncProperty } from "./_config.ts";
import { bzCaseArb, bzTargets, hostileNumber, layoutArb, mutate, mutationsArb } from "./_arbitraries.ts";
import { lz4FrameArb } from "./_lz4ref.ts";
import {
  assertMemory,
  checkLoad,
  expectWrite,
  makeMemory,
  snapshot,
  timed,
  timedAsync,
  tryTyped,
  tryTypedAsync,
} from "./_harness.ts";

/**
 * A plain reading of a valid bzImage from the x86 boot protocol, without lib/: the setup is
 * (setup_sects || 4) + 1 sectors; everything after it is the protected-mode kernel, loaded at kernelOffset or
 * code32_start (the u32 at 0x214; 0 means 0x100000); the header handed back has code32_start set to the
 * load address.
 */
function referenceBz(b: Uint8Array, kernelOffset?: number) {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const sects = b[0x1f1] === 0 ? 4 : b[0x1f1];
  const setup = (sects + 1) * 512;
  // A LOADED_HIGH image whose code32_start is 0 (iPXE's and other images built outside the kernel tree)
  // loads at 1 MiB, the default load address of a bzImage.
  const load = kernelOffset ?? (d.getUint32(0x214, true) || 0x100000);
  return { load, end: load + b.byteLength - setup, kernel: b.subarray(setup), version: d.getUint16(0x206, true) };
}

Deno.test("loadBzImage loads every valid bzImage as a plain reading of its setup header says", async () => {
  await checkAsyncProperty(
    "bzimage valid load equals the reference reading",
    fc.asyncProperty(bzCaseArb, async (c) => {
      const tm = makeMemory(c.layout);
      const before = snapshot(tm);
      const ref = referenceBz(c.bytes, c.kernelOffset);
      const r = await timedAsync(
        "loadBzImage",
        () => loadBzImage(tm.mem, c.bytes, { loadAddress: c.kernelOffset, highmemStart: c.highmemStart }),
      );
      assert.equal(r.loadStart, ref.load);
      assert.equal(r.loadEnd, ref.end);
      assert.equal(r.details.setupHeader.code32_start, ref.load);
      assert.equal(r.details.setupHeader.version, ref.version);
      assert.deepEqual(ref.kernel, c.payload);
      const expected = before.map((x) => x.slice());
      expectWrite(tm, expected, ref.load, ref.kernel);
      assertMemory(tm, expected, "loaded memory vs the reference");
    }),
  );
});

Deno.test("loadBzImage on any mutated bzImage throws only typed errors, writes only its plan and leaves memory untouched on failure", async () => {
  await checkAsyncProperty(
    "bzimage mutated load keeps the invariants",
    fc.asyncProperty(
      bzCaseArb,
      mutationsArb(),
      fc.option(hostileNumber(fc.nat({ max: 0x20_0000 })), { nil: undefined, freq: 3 }),
      fc.option(hostileNumber(fc.nat({ max: 0x20_0000 })), { nil: undefined, freq: 3 }),
      async (c, muts, kernelOffset, highmemStart) => {
        const image = mutate(c.bytes, muts, bzTargets);
        const tm = makeMemory(c.layout);
        const opts = { loadAddress: kernelOffset ?? c.kernelOffset, highmemStart: highmemStart ?? c.highmemStart };
        await checkLoad(
          tm,
          () => image,
          () => planBzImage(tm.mem, image, opts),
          () => loadBzImage(tm.mem, image, opts),
        );
      },
    ),
  );
});

Deno.test("bzImagePlacement on any decodable bzImage and memory gives a fitting, aligned place or a typed error", async () => {
  await checkAsyncProperty(
    "bzimage placement fits",
    fc.asyncProperty(
      bzCaseArb,
      fc.array(mutationsArb(2), { maxLength: 1 }),
      layoutArb({ base: fc.nat({ max: 0x200_0000 }), maxRegions: 4, maxSize: 0x4_0000, maxGap: 0x40_0000 }),
      fc.option(hostileNumber(fc.nat({ max: 0x100_0000 })), { nil: undefined }),
      async (c, muts, layout, highmemStart) => {
        const image = muts.length === 0 ? c.bytes : mutate(c.bytes, muts[0], bzTargets);
        const info = await tryTypedAsync(() => decodeBzImage(image));
        if (!info.ok) return;
        const tm = makeMemory(layout);
        const p = timed(
          "bzImagePlacement",
          () => tryTyped(() => bzImagePlacement(tm.mem, info.value, { highmemStart })),
        );
        if (!p.ok) {
          assert.ok(p.error instanceof BzImageError || p.error instanceof KernelLoaderError, p.error.name);
          return;
        }
        const { loadAddress, runtimeStart, reserved } = p.value;
        const i = info.value;
        assert.ok(Number.isSafeInteger(loadAddress) && loadAddress >= (highmemStart ?? 0));
        assert.ok(tm.mem.isRange(loadAddress, i.kernelSize), "the kernel does not fit at the load address");
        assert.ok(tm.mem.isRange(runtimeStart, reserved), "init_size does not fit at the runtime start");
        assert.ok(reserved >= i.kernelSize && reserved >= (i.initSize ?? 0));
        if (i.relocatable) {
          assert.equal(loadAddress % (i.kernelAlignment ?? 1), 0, "not aligned to kernel_alignment");
          assert.ok(loadAddress >= (i.prefAddress ?? 0));
          assert.equal(runtimeStart, loadAddress);
          // Lowest: no region offers a lower aligned start that holds `reserved` bytes. (An empty kernel without
          // init_size reserves 0 bytes, which fit anywhere: found at 10^5 runs, skipped as degenerate.)
          if (reserved === 0) return;
          const lowest = Math.max(highmemStart ?? 0, i.prefAddress ?? 0);
          for (const r of layout.regions) {
            const a = i.kernelAlignment ?? 1;
            const cand = Math.ceil(Math.max(r.addr, lowest) / a) * a;
            if (cand < loadAddress) assert.ok(!tm.mem.isRange(cand, reserved), `0x${cand.toString(16)} fits too`);
          }
        } else {
          assert.equal(loadAddress, i.code32Start);
        }
      },
    ),
  );
});

// An ELF "vmlinux" for payloads: extractVmlinux checks that what it decompresses starts with the ELF magic.
const vmlinuxArb = fc.record({ data: fc.uint8Array({ maxLength: 64 }), entry: fc.nat() }).map((r) =>
  buildElf({ entry: r.entry, segments: [{ paddr: 0x100000, data: r.data }] })
);

function withPayload(payload: Uint8Array, initSize: number): Uint8Array {
  return buildBzImage({
    payload,
    header: { payload_offset: 0, payload_length: payload.byteLength, init_size: initSize },
  });
}

Deno.test("extractVmlinux gives back the vmlinux of any bzImage with an LZ4 or uncompressed payload", async () => {
  await checkAsyncProperty(
    "extract valid payloads",
    fc.asyncProperty(vmlinuxArb, fc.boolean(), fc.nat({ max: 0x1000 }), async (elf, lz4, initSize) => {
      let payload = elf;
      if (lz4) {
        // One literal-only block, then the size trailer the kernel build appends.
        const frame = new Uint8Array(8 + 2 + elf.byteLength + 4);
        const d = new DataView(frame.buffer);
        d.setUint32(0, 0x184c2102, true);
        const token = new Uint8Array([0xf0, ...extendBytes(elf.byteLength)]);
        d.setUint32(4, token.byteLength + elf.byteLength, true);
        const body = new Uint8Array([...token, ...elf]);
        payload = new Uint8Array([...frame.subarray(0, 8), ...body, 0, 0, 0, 0]);
        new DataView(payload.buffer).setUint32(payload.byteLength - 4, elf.byteLength, true);
      }
      const out = await timedAsync("extractVmlinux", () => extractVmlinux(withPayload(payload, initSize)));
      assert.deepEqual(out, elf);
    }),
  );
});

function extendBytes(n: number): number[] {
  const out: number[] = [];
  let rest = n - 15;
  while (rest >= 255) {
    out.push(255);
    rest -= 255;
  }
  out.push(rest);
  return out;
}

Deno.test("extractVmlinux on any mutated LZ4 payload or header throws only BzImageError and finishes", async () => {
  await checkAsyncProperty(
    "extract mutated payloads",
    fc.asyncProperty(
      lz4FrameArb,
      fc.nat(),
      mutationsArb(),
      fc.boolean(),
      fc.boolean(),
      async (f, initSize, muts, mutateHeader, defaultLimit) => {
        const bad = mutateHeader
          ? mutate(withPayload(f.frame, initSize), muts, bzTargets)
          : withPayload(mutate(f.frame, muts, () => ({ fields: [], records: [] })), initSize);
        const r = await timedAsync(
          "extractVmlinux",
          () => tryTypedAsync(() => extractVmlinux(bad, defaultLimit ? {} : { maxOutput: 1 << 22 })),
        );
        if (!r.ok) assert.ok(r.error instanceof BzImageError, `${r.error.name} ${r.error.code}: ${r.error.message}`);
      },
    ),
  );
});
