// Properties of the ELF64 loader (planElf / loadElf) on valid and hostile images. Runs and seeds: ./_config.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { loadElf, planElf } from "../../lib/loader/elf.ts";
import { ElfError, KernelLoaderError, SourceError } from "../../lib/errors.ts";
import { checkAsyncProperty } from "./_config.ts";
import { elfCaseArb, elfTargets, hostileNumber, layoutArb, mutate, mutationsArb } from "./_arbitraries.ts";
import { assertMemory, checkLoad, expectFill, expectWrite, makeMemory, snapshot, timedAsync } from "./_harness.ts";

// ---- the reference reading ------------------------------------------------------------------------------------

type RefPvh = { kind: "present"; address: number } | { kind: "notPresent" } | { kind: "ignored" } | { kind: "error" };

interface RefElf {
  kernelLoad: number;
  kernelEnd: number;
  pvh: RefPvh;
  writes: ({ addr: number; data: Uint8Array } | { addr: number; zero: number })[];
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Elf64_Nhdr { namesz, descsz, type }, then the name and the descriptor, each padded to `a` from the segment start. */
function walkNotes(b: Uint8Array, offset: number, filesz: number, a: number): RefPvh {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 0;
  while (pos < filesz) {
    const at = offset + pos;
    if (at + 12 > b.byteLength) return { kind: "error" };
    const namesz = d.getUint32(at, true), descsz = d.getUint32(at + 4, true), ntype = d.getUint32(at + 8, true);
    if (ntype === 18 && namesz === 4) {
      if (at + 16 > b.byteLength) return { kind: "error" };
      if (String.fromCharCode(...b.subarray(at + 12, at + 16)) === "Xen\0") {
        const descAt = offset + alignUp(pos + 16, a);
        if (descsz < 4 || descAt + 4 > b.byteLength) return { kind: "error" };
        return { kind: "present", address: d.getUint32(descAt, true) };
      }
    }
    if (alignUp(namesz, a) >= 2 ** 32 || alignUp(descsz, a) >= 2 ** 32) return { kind: "error" };
    pos = alignUp(alignUp(pos + 12 + namesz, a) + descsz, a);
  }
  return { kind: "notPresent" };
}

/**
 * A plain reading of a valid ELF64 kernel, from the ELF specification and the PVH note rules, written without
 * lib/: each PT_LOAD with a non-empty size puts p_filesz file bytes at p_paddr (+ offset) and zeroes up to
 * p_memsz; kernelEnd = max(p_paddr + p_memsz); every PT_NOTE is walked (4-byte padding, as Linux lays notes
 * out) and the first Xen PHYS32_ENTRY note (name "Xen\0") of the last segment holding one gives the PVH entry,
 * unless an offset is given.
 */
function referenceElf(b: Uint8Array, kernelOffset?: number): RefElf {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const off = kernelOffset ?? 0;
  const entry = Number(d.getBigUint64(24, true));
  const phoff = Number(d.getBigUint64(32, true));
  const phnum = d.getUint16(56, true);
  const writes: RefElf["writes"] = [];
  let kernelEnd = 0;
  let pvh: RefPvh = kernelOffset === undefined ? { kind: "notPresent" } : { kind: "ignored" };
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + 56 * i;
    const type = d.getUint32(ph, true);
    const offset = Number(d.getBigUint64(ph + 8, true));
    const paddr = Number(d.getBigUint64(ph + 24, true));
    const filesz = Number(d.getBigUint64(ph + 32, true));
    const memsz = Number(d.getBigUint64(ph + 40, true));
    if (type === 4 && kernelOffset === undefined) {
      // PT_NOTE: every one is walked with 4-byte padding (its errors fail the load); with p_align 8 and nothing
      // found, an 8-byte padded walk too (its errors ignored). The last segment with a PVH entry gives it.
      let cap = walkNotes(b, offset, filesz, 4);
      if (cap.kind === "notPresent" && d.getBigUint64(ph + 48, true) === 8n) {
        const again = walkNotes(b, offset, filesz, 8);
        if (again.kind === "present") cap = again;
      }
      if (cap.kind === "error") {
        pvh = cap;
        break;
      }
      if (cap.kind === "present") pvh = cap;
    }
    if (type !== 1 || (filesz === 0 && memsz === 0)) continue;
    if (filesz > 0) writes.push({ addr: paddr + off, data: b.subarray(offset, offset + filesz) });
    if (memsz > filesz) writes.push({ addr: paddr + off + filesz, zero: memsz - filesz });
    kernelEnd = Math.max(kernelEnd, paddr + off + Math.max(memsz, filesz));
  }
  return { kernelLoad: entry + off, kernelEnd, pvh, writes };
}

// ---- properties -----------------------------------------------------------------------------------------------

Deno.test("loadElf loads every valid ELF as a plain reading of its program headers and notes says", async () => {
  await checkAsyncProperty(
    "elf valid load equals the reference reading",
    fc.asyncProperty(elfCaseArb, async (c) => {
      const tm = makeMemory(c.layout);
      const before = snapshot(tm);
      const ref = referenceElf(c.bytes, c.kernelOffset);
      const opts = { addend: c.kernelOffset, highmemStart: c.highmemStart };
      let result;
      try {
        result = await timedAsync("loadElf", () => loadElf(tm.mem, c.bytes, opts));
      } catch (e) {
        // The one way a valid image fails: its notes are 8-byte padded and the 4-byte walk reads past the end
        // (or meets a padded size above 32 bits).
        assert.equal(ref.pvh.kind, "error", `valid ELF rejected: ${(e as Error).message}`);
        assert.ok(e instanceof ElfError, String(e));
        assertMemory(tm, before, "failed load changed memory");
        return;
      }
      assert.notEqual(ref.pvh.kind, "error", "the reference reads past the end but loadElf succeeded");
      assert.equal(result.entry.linux64, ref.kernelLoad);
      assert.equal(result.kernelEnd, ref.kernelEnd);
      assert.deepEqual(result.details.pvhBootCap, ref.pvh);
      const expected = before.map((x) => x.slice());
      for (const w of ref.writes) {
        if ("data" in w) expectWrite(tm, expected, w.addr, w.data);
        else expectFill(tm, expected, w.addr, w.zero);
      }
      assertMemory(tm, expected, "loaded memory vs the reference");
    }),
  );
});

Deno.test("loadElf on any mutated ELF throws only typed errors, writes only its plan and leaves memory untouched on failure", async () => {
  await checkAsyncProperty(
    "elf mutated load keeps the invariants",
    fc.asyncProperty(
      elfCaseArb,
      mutationsArb(),
      fc.option(hostileNumber(fc.nat({ max: 0x400 })), { nil: undefined }),
      fc.option(hostileNumber(fc.nat({ max: 0x4000 })), { nil: undefined }),
      async (c, muts, kernelOffset, highmemStart) => {
        const image = mutate(c.bytes, muts, elfTargets);
        const tm = makeMemory(c.layout);
        const opts = { addend: kernelOffset ?? c.kernelOffset, highmemStart: highmemStart ?? c.highmemStart };
        await checkLoad(tm, () => image, () => planElf(tm.mem, image, opts), () => loadElf(tm.mem, image, opts));
      },
    ),
  );
});

Deno.test("loadElf on random bytes and random memory throws only ElfError, SourceError or KernelLoaderError", async () => {
  await checkAsyncProperty(
    "elf random bytes",
    fc.asyncProperty(
      layoutArb(),
      fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 64, maxLength: 400 })),
      fc.boolean(),
      async (layout, raw, withMagic) => {
        const image = raw.slice();
        if (withMagic && image.byteLength >= 6) image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
        const tm = makeMemory(layout);
        const r = await checkLoad(tm, () => image, () => planElf(tm.mem, image), () => loadElf(tm.mem, image));
        if (!r.ok) {
          assert.ok(
            r.error instanceof ElfError || r.error instanceof KernelLoaderError || r.error instanceof SourceError,
            `${r.error.name}`,
          );
        }
      },
    ),
  );
});
