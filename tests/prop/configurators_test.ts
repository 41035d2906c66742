// Properties of the boot-parameter configurators: Linux zero page, PVH hvm_start_info, FDT, Multiboot 1
// multiboot_info and Multiboot2 boot information. Hostile requests (any number where a number goes: NaN,
// fractions, negatives, 2^32, 2^53, 2^64; strings with NUL; sections and modules anywhere) give typed errors
// only, each writeBootparams / configure writes exactly its plan or nothing, and valid requests read back
// plainly (fields read at their C offsets, without lib/abi). Runs and seeds: ./_config.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { BootParams } from "../../lib/configurator/mod.ts";
import {
  decodeBootParams,
  encodeBootParams,
  LinuxBootConfigurator,
  planLinuxBoot,
} from "../../lib/configurator/linux.ts";
import { planPvhBoot, PvhBootConfigurator, pvhBootParams } from "../../lib/configurator/pvh.ts";
import { FdtBootConfigurator, planFdtBoot } from "../../lib/configurator/fdt.ts";
import { configureMultiboot, planMultibootInfo } from "../../lib/configurator/multiboot.ts";
import { configureMultiboot2, planMultiboot2Info } from "../../lib/configurator/multiboot2.ts";
import { checkProperty } from "./_config.ts";
import { hostileNumber, hostileU64, layoutArb, place, spot } from "./_arbitraries.ts";
import { checkWrite, makeMemory, timed, tryTyped } from "./_harness.ts";

const layout = layoutArb({ base: fc.nat({ max: 0x1000 }), minSize: 0x200, maxSize: 0x3000, maxRegions: 3 });
const addr = hostileNumber(fc.nat({ max: 0x8000 }));
const u64 = hostileU64(fc.nat({ max: 0x1_0000_0000 }));
// -0 is written as 0: compare numbers as the fields store them.
const z = (v: number): number => (v === 0 ? 0 : v);
const e820 = fc.record({ addr: u64, size: u64, type: hostileNumber(fc.nat({ max: 20 })) });

// ---- BootParams with random sections and modules, through all three x86/FDT configurators -------------------

const listOp = fc.record({ bytes: fc.uint8Array({ maxLength: 64 }), addr: fc.option(addr, { nil: undefined }) });

const bootParamsArb = fc.record({
  header: fc.uint8Array({ maxLength: 0x300 }),
  headerStart: addr,
  sections: fc.array(listOp, { maxLength: 3 }),
  modules: fc.array(listOp, { maxLength: 3 }),
});

function buildParams(
  r: {
    header: Uint8Array;
    headerStart: number;
    sections: { bytes: Uint8Array; addr?: number }[];
    modules: { bytes: Uint8Array; addr?: number }[];
  },
) {
  const p = new BootParams(r.header, r.headerStart);
  for (const s of r.sections) tryTyped(() => p.addSection(s.bytes, s.addr));
  for (const m of r.modules) tryTyped(() => p.addModule(m.bytes, m.addr));
  return p;
}

Deno.test("Linux, PVH and FDT writeBootparams on any BootParams write exactly their plan or nothing, with typed errors only", () => {
  checkProperty(
    "configurators write their plan or nothing",
    fc.property(layout, bootParamsArb, fc.constantFrom("linux", "pvh", "fdt"), (l, r, which) => {
      const tm = makeMemory(l);
      const p = timed("BootParams", () => buildParams(r));
      if (which === "linux") {
        checkWrite(tm, () => planLinuxBoot(tm.mem, p), () => LinuxBootConfigurator.writeBootparams(tm.mem, p));
      } else if (which === "pvh") {
        checkWrite(tm, () => planPvhBoot(tm.mem, p), () => PvhBootConfigurator.writeBootparams(tm.mem, p));
      } else checkWrite(tm, () => planFdtBoot(tm.mem, p), () => FdtBootConfigurator.writeBootparams(tm.mem, p));
    }),
  );
});

// ---- Linux zero page ------------------------------------------------------------------------------------------

Deno.test("encodeBootParams on any request gives typed errors only, and a valid one reads back at the zero page's C offsets", () => {
  checkProperty(
    "linux zero page request",
    fc.property(
      layout,
      spot,
      fc.record({
        cmdlineAddr: fc.option(u64.map((v) => (typeof v === "bigint" ? Number(v) : v)), { nil: undefined }),
        ramdisk: fc.option(fc.record({ addr, size: addr }), { nil: undefined }),
        e820: fc.option(fc.array(e820, { maxLength: 130 }), { nil: undefined }),
        acpiRsdpAddr: fc.option(u64, { nil: undefined }),
        setupData: fc.option(u64, { nil: undefined }),
        typeOfLoader: fc.option(fc.nat({ max: 255 }), { nil: undefined }),
      }),
      (l, where, req) => {
        const tm = makeMemory(l);
        const zeroPageAddr = place(l, where.pick, where.frac, 4096);
        const p = timed("encodeBootParams", () => tryTyped(() => new BootParams(encodeBootParams(req), zeroPageAddr)));
        if (!p.ok) return;
        const w = checkWrite(
          tm,
          () => planLinuxBoot(tm.mem, p.value),
          () => LinuxBootConfigurator.writeBootparams(tm.mem, p.value),
        );
        // The reference reading, at the offsets of asm/bootparam.h.
        const zp = p.value.header;
        const d = new DataView(zp.buffer, zp.byteOffset, zp.byteLength);
        assert.equal(zp.byteLength, 4096);
        assert.equal(d.getUint16(0x1fe, true), 0xaa55);
        assert.equal(d.getUint32(0x202, true), 0x53726448);
        assert.equal(d.getUint8(0x210), req.typeOfLoader ?? 0xff);
        const cmd = d.getUint32(0xc8, true) * 2 ** 32 + d.getUint32(0x228, true);
        assert.equal(cmd, z(req.cmdlineAddr ?? 0));
        if (req.ramdisk) {
          assert.equal(d.getUint32(0xc0, true) * 2 ** 32 + d.getUint32(0x218, true), z(req.ramdisk.addr));
          assert.equal(d.getUint32(0xc4, true) * 2 ** 32 + d.getUint32(0x21c, true), z(req.ramdisk.size));
        }
        assert.equal(d.getBigUint64(0x70, true), BigInt(req.acpiRsdpAddr ?? 0));
        assert.equal(d.getBigUint64(0x250, true), BigInt(req.setupData ?? 0));
        const entries = req.e820 ?? [];
        assert.equal(d.getUint8(0x1e8), entries.length);
        entries.forEach((e, i) => {
          assert.equal(d.getBigUint64(0x2d0 + 20 * i, true), BigInt(e.addr));
          assert.equal(d.getBigUint64(0x2d8 + 20 * i, true), BigInt(e.size));
          assert.equal(d.getUint32(0x2e0 + 20 * i, true), z(e.type));
        });
        assert.deepEqual(decodeBootParams(zp).e820.length, entries.length);
        if (w.ok && tm.mem.isRange(zeroPageAddr, 4096)) assert.deepEqual(tm.mem.read(zeroPageAddr, 4096), zp);
      },
    ),
  );
});

// ---- PVH ------------------------------------------------------------------------------------------------------

Deno.test("pvhBootParams on any request gives typed errors only, and a valid one reads back at hvm_start_info's C offsets", () => {
  checkProperty(
    "pvh start_info request",
    fc.property(
      layout,
      fc.record({
        startInfoAddr: addr,
        memmapAddr: addr,
        memmap: fc.array(fc.record({ addr: u64, size: u64, type: hostileNumber(fc.nat({ max: 7 })) }), {
          maxLength: 6,
        }),
        cmdlineAddr: fc.option(addr, { nil: undefined }),
        modules: fc.option(
          fc.array(fc.record({ paddr: u64, size: u64, cmdlinePaddr: fc.option(u64, { nil: undefined }) }), {
            maxLength: 3,
          }),
          { nil: undefined },
        ),
        modlistAddr: fc.option(addr, { nil: undefined }),
        rsdpAddr: fc.option(addr, { nil: undefined }),
      }),
      (l, req) => {
        const tm = makeMemory(l);
        const p = timed("pvhBootParams", () => tryTyped(() => pvhBootParams(req)));
        if (!p.ok) return;
        checkWrite(tm, () => planPvhBoot(tm.mem, p.value), () => PvhBootConfigurator.writeBootparams(tm.mem, p.value));
        const si = p.value.header;
        const d = new DataView(si.buffer, si.byteOffset, si.byteLength);
        assert.equal(si.byteLength, 56);
        assert.equal(d.getUint32(0, true), 0x336ec578);
        assert.equal(d.getUint32(4, true), 1);
        const mods = req.modules ?? [];
        assert.equal(d.getUint32(12, true), mods.length);
        assert.equal(d.getBigUint64(16, true), BigInt(mods.length > 0 ? req.modlistAddr ?? 0 : 0));
        assert.equal(d.getBigUint64(24, true), BigInt(req.cmdlineAddr ?? 0));
        assert.equal(d.getBigUint64(32, true), BigInt(req.rsdpAddr ?? 0));
        assert.equal(d.getBigUint64(40, true), BigInt(req.memmapAddr));
        assert.equal(d.getUint32(48, true), req.memmap.length);
        const mm = p.value.sections!;
        const md = new DataView(mm.buffer, mm.byteOffset, mm.byteLength);
        req.memmap.forEach((e, i) => {
          assert.equal(md.getBigUint64(24 * i, true), BigInt(e.addr));
          assert.equal(md.getBigUint64(24 * i + 8, true), BigInt(e.size));
          assert.equal(md.getUint32(24 * i + 16, true), z(e.type));
        });
      },
    ),
  );
});

// ---- Multiboot 1 and 2 boot information -----------------------------------------------------------------------

const mbString = fc.string({
  maxLength: 12,
  unit: fc.oneof(
    fc.constantFrom("a", " ", "=", "\0", "é"),
    fc.string({ minLength: 1, maxLength: 1, unit: "grapheme" }),
  ),
});
const mbRequest = fc.record({
  infoAddr: hostileNumber(fc.nat({ max: 0x1000 }).map((n) => n * 8)),
  cmdline: fc.option(mbString, { nil: undefined }),
  bootLoaderName: fc.option(mbString, { nil: undefined }),
  modules: fc.option(
    fc.array(
      fc.record({
        addr: hostileNumber(fc.nat({ max: 0x8000 })),
        bytes: fc.option(fc.uint8Array({ maxLength: 32 }), { nil: undefined }),
        size: fc.option(hostileNumber(fc.nat({ max: 64 })), { nil: undefined }),
        cmdline: fc.option(mbString, { nil: undefined }),
      }, { requiredKeys: ["addr"] }),
      { maxLength: 3 },
    ),
    { nil: undefined },
  ),
  memoryMap: fc.option(
    fc.array(
      fc.record({
        addr: hostileNumber(fc.nat({ max: 2 ** 40 })),
        size: hostileNumber(fc.nat({ max: 2 ** 32 })),
        type: hostileNumber(fc.integer({ min: 1, max: 5 })),
      }),
      { maxLength: 4 },
    ),
    { nil: undefined },
  ),
  pageAlignModules: fc.option(fc.boolean(), { nil: undefined }),
});

Deno.test("configureMultiboot and configureMultiboot2 on any request write exactly their plan or nothing, with typed errors only", () => {
  checkProperty(
    "multiboot info request",
    fc.property(layout, mbRequest, fc.constantFrom(1, 2), (l, req, version) => {
      const tm = makeMemory(l);
      const r = version === 1
        ? checkWrite(tm, () => planMultibootInfo(tm.mem, req).plan, () => void configureMultiboot(tm.mem, req))
        : checkWrite(tm, () => planMultiboot2Info(tm.mem, req).plan, () => void configureMultiboot2(tm.mem, req));
      if (!r.ok) return;
      // The reference reading of the block the plan writes first.
      const block = (r.plan.steps[0] as { bytes: Uint8Array }).bytes;
      const d = new DataView(block.buffer, block.byteOffset, block.byteLength);
      const mods = req.modules ?? [];
      if (version === 1) {
        const flags = d.getUint32(0, true);
        assert.equal((flags & 4) !== 0, req.cmdline !== undefined);
        assert.equal(d.getUint32(20, true), mods.length);
        const map = req.memoryMap ?? l.regions.map((x) => ({ addr: x.addr, size: x.size, type: 1 }));
        assert.equal(d.getUint32(44, true), map.length * 24);
        const mmap = d.getUint32(48, true) - req.infoAddr;
        map.forEach((e, i) => {
          assert.equal(d.getUint32(mmap + 24 * i, true), 20);
          assert.equal(d.getBigUint64(mmap + 24 * i + 4, true), BigInt(e.addr));
          assert.equal(d.getBigUint64(mmap + 24 * i + 12, true), BigInt(e.size));
          assert.equal(d.getUint32(mmap + 24 * i + 20, true), z(e.type));
        });
        const modsAt = d.getUint32(24, true) - req.infoAddr;
        mods.forEach((m, i) => {
          assert.equal(d.getUint32(modsAt + 16 * i, true), z(m.addr));
          assert.equal(d.getUint32(modsAt + 16 * i + 4, true), m.addr + (m.bytes?.byteLength ?? m.size ?? 0));
        });
      } else {
        // Walk the tags: total_size, then (type, size) tags on 8-byte boundaries up to the end tag.
        assert.equal(d.getUint32(0, true), block.byteLength);
        let at = 8;
        const types: number[] = [];
        for (;;) {
          const type = d.getUint32(at, true), size = d.getUint32(at + 4, true);
          types.push(type);
          assert.ok(size >= 8 && at + size <= block.byteLength);
          if (type === 0) break;
          at += Math.ceil(size / 8) * 8;
        }
        assert.equal(types.filter((t) => t === 3).length, mods.length);
        assert.equal(types.includes(1), req.cmdline !== undefined);
        assert.equal(at + 8, block.byteLength);
      }
    }),
  );
});
