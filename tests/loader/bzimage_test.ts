import assert from "node:assert/strict";
import { bzImagePlacement, decodeBzImage, isBzImage, loadBzImage, planBzImage } from "../../lib/loader/bzimage.ts";
import { BzImageError, KernelLoaderError, SourceError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { fromBlob, type KernelSource } from "../../lib/source.ts";
import { HDRS_MAGIC, LOADED_HIGH, SETUP_HEADER } from "../../lib/abi/bootparam.ts";
import { buildBzImage, crateFuzzInvalidBzImage, patchSetupHeader } from "../../fixtures/build/bzimage.ts";
import { rejectsWith, snapshot } from "../_assert.ts";

const MEM_SIZE = 0x100_0000;

function guestMem(size = MEM_SIZE): GuestMemory {
  const mem = GuestMemory.fromRanges([[0, size]]);
  mem.fill(0, size, 0xaa);
  return mem;
}

/** A payload whose bytes say where they came from. */
function payload(size = 0x3000): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) & 0xff);
}

/** A protocol 2.15 relocatable bzImage with a 12 KiB payload and 4 setup sectors. */
function image(): Uint8Array {
  return buildBzImage({ payload: payload() });
}

// ---- The crate's tests, re-expressed (its test_load_bzImage needs a Debian kernel; the same steps run here
// on a built image) ----

Deno.test("loadBzImage loads at loadAddress and returns the setup header (crate test_load_bzImage)", async () => {
  const r = await loadBzImage(guestMem(), image(), { loadAddress: 0x200000, highmemStart: 0 });
  assert.equal(r.loadStart, 0x200000);
  assert.equal(r.details.setupHeader.header, HDRS_MAGIC);
  assert.equal(r.details.setupHeader.version, 0x20f);
  assert.equal(r.details.setupHeader.loadflags, LOADED_HIGH);
  assert.equal(r.loadEnd, 0x200000 + 0x3000);
});

Deno.test("loadBzImage loads at code32_start without a loadAddress", async () => {
  assert.equal((await loadBzImage(guestMem(), image(), { highmemStart: 0 })).loadStart, 0x100000);
  assert.equal((await loadBzImage(guestMem(), image())).loadStart, 0x100000);
});

Deno.test("loadBzImage rejects a load address below highmemStart with InvalidKernelStartAddress", async () => {
  await rejectsWith(
    loadBzImage(guestMem(), image(), { loadAddress: 0x1000, highmemStart: 0x200000 }),
    KernelLoaderError,
    "InvalidKernelStartAddress",
  );
});

Deno.test("loadBzImage rejects the crate's fuzzed image whose setup is larger than the file with Underflow", async () => {
  await rejectsWith(
    loadBzImage(guestMem(), crateFuzzInvalidBzImage(), { loadAddress: 0x200000, highmemStart: 0 }),
    BzImageError,
    "Underflow",
  );
});

// ---- Loading ----

Deno.test("loadBzImage copies the bytes after (setup_sects + 1) * 512 to the load address", async () => {
  const mem = guestMem();
  await loadBzImage(mem, image(), { loadAddress: 0x200000 });
  assert.deepEqual(mem.read(0x200000, 0x3000), payload());
  assert.equal(mem.readU8(0x203000), 0xaa);
});

Deno.test("loadBzImage reads setup_sects 0 as 4 sectors", async () => {
  const img = buildBzImage({ payload: payload(), header: { setup_sects: 0 } });
  const mem = guestMem();
  await loadBzImage(mem, img);
  assert.deepEqual(mem.read(0x100000, 0x3000), payload());
});

Deno.test("loadBzImage honours a larger setup_sects", async () => {
  const img = buildBzImage({ payload: payload(), header: { setup_sects: 30 } });
  const mem = guestMem();
  const r = await loadBzImage(mem, img);
  assert.equal(r.loadEnd, 0x103000);
  assert.deepEqual(mem.read(0x100000, 0x3000), payload());
});

Deno.test("loadBzImage sets code32_start in the returned header to the load address", async () => {
  const r = await loadBzImage(guestMem(), image(), { loadAddress: 0x400000 });
  assert.equal(r.details.setupHeader.code32_start, 0x400000);
});

Deno.test("loadBzImage reports no PVH entry", async () => {
  assert.equal((await loadBzImage(guestMem(), image())).entry.pvh, undefined);
});

Deno.test("loadBzImage reports the 32-bit entry at the load address and the 64-bit one 0x200 above it", async () => {
  const r = await loadBzImage(guestMem(), image(), { loadAddress: 0x200000 });
  assert.deepEqual(r.entry, { linux64: 0x200200, linux32: 0x200000 });
  assert.equal(r.arch, "x86_64");
});

Deno.test("loadBzImage reports no 64-bit entry and arch i386 for a 2.12+ header without XLF_KERNEL_64", async () => {
  const r = await loadBzImage(guestMem(), patchSetupHeader(image(), { xloadflags: 0 }));
  assert.deepEqual([r.arch, r.entry], ["i386", { linux32: 0x100000 }]);
});

Deno.test("loadBzImage takes a header older than 2.12 (no xloadflags) as 64-bit", async () => {
  const r = await loadBzImage(guestMem(), patchSetupHeader(image(), { version: 0x20b, xloadflags: 0 }));
  assert.equal(r.entry.linux64, 0x100200);
});

Deno.test("loadBzImage reports kernelEnd as init_size from the runtime start when that passes loadEnd", async () => {
  const r = await loadBzImage(guestMem(), patchSetupHeader(image(), { init_size: 0x80_0000 }));
  // Relocatable, loaded at 0x100000 below pref_address 0x1000000: the kernel moves up to pref_address.
  assert.deepEqual([r.loadEnd, r.kernelEnd], [0x100000 + 0x3000, 0x1000000 + 0x80_0000]);
});

Deno.test("loadBzImage refuses an Image's imageBase or an ELF's addend with InvalidOption", async () => {
  await rejectsWith(loadBzImage(guestMem(), image(), { imageBase: 0 }), KernelLoaderError, "InvalidOption");
  await rejectsWith(loadBzImage(guestMem(), image(), { addend: 0 }), KernelLoaderError, "InvalidOption");
});

Deno.test("loadBzImage loads the same bytes from a Blob source as from bytes", async () => {
  const a = guestMem(), b = guestMem();
  await loadBzImage(a, image());
  await loadBzImage(b, await fromBlob(new Blob([image() as Uint8Array<ArrayBuffer>])));
  assert.deepEqual(snapshot(a), snapshot(b));
});

Deno.test("loadBzImage checks the load address, not code32_start, against highmemStart", async () => {
  const r = await loadBzImage(guestMem(), image(), { loadAddress: 0x200000, highmemStart: 0x180000 });
  assert.equal(r.loadStart, 0x200000);
});

Deno.test("planBzImage plans one copy without writing guest memory", async () => {
  const mem = guestMem();
  const before = snapshot(mem);
  const p = await planBzImage(mem, image());
  assert.deepEqual(snapshot(mem), before);
  assert.deepEqual(p.plan.steps.map((s) => [s.kind, s.guestAddr, s.kind === "copy" ? s.sourceOffset : -1]), [[
    "copy",
    0x100000,
    5 * 512,
  ]]);
});

Deno.test("decodeBzImage exposes the relocation fields of a 2.15 kernel", async () => {
  const info = await decodeBzImage(image());
  assert.equal(info.relocatable, true);
  assert.equal(info.kernelAlignment, 0x200000);
  assert.equal(info.minAlignment, 0x200000);
  assert.equal(info.prefAddress, 0x1000000);
  assert.equal(info.initSize, 0x3000 + 0x100000);
  assert.equal(info.xloadflags, 3);
  assert.equal(info.cmdlineSize, 2047);
  assert.equal(info.headerEnd, 0x26c);
});

Deno.test("decodeBzImage leaves fields of newer protocols undefined for a 2.02 kernel", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { version: 0x202 }));
  assert.equal(info.relocatable, false);
  assert.equal(info.kernelAlignment, undefined);
  assert.equal(info.prefAddress, undefined);
  assert.equal(info.initSize, undefined);
  assert.equal(info.xloadflags, 0);
  assert.equal(info.cmdlineSize, 255);
  assert.equal(info.initrdAddrMax, 0x37ffffff);
});

Deno.test("isBzImage recognises the boot flag and HdrS", () => {
  assert.equal(isBzImage(image()), true);
  assert.equal(isBzImage(patchSetupHeader(image(), { boot_flag: 0 })), false);
  assert.equal(isBzImage(new Uint8Array(0x100)), false);
});

// ---- Placement ----

Deno.test("bzImagePlacement puts a relocatable kernel at pref_address when it fits", async () => {
  const info = await decodeBzImage(image());
  assert.deepEqual(bzImagePlacement(GuestMemory.fromRanges([[0, 64 << 20]]), info), {
    loadAddress: 0x1000000,
    runtimeStart: 0x1000000,
    reserved: 0x103000,
  });
});

Deno.test("bzImagePlacement aligns a relocatable kernel up to kernel_alignment in a later region", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { pref_address: 0n }));
  const mem = GuestMemory.fromRanges([[0, 0x1000], [0x30_1000, 0x40_0000]]);
  assert.equal(bzImagePlacement(mem, info).loadAddress, 0x40_0000);
});

Deno.test("bzImagePlacement keeps above highmemStart", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { pref_address: 0n }));
  const mem = GuestMemory.fromRanges([[0, 64 << 20]]);
  assert.equal(bzImagePlacement(mem, info, { highmemStart: 0x300000 }).loadAddress, 0x400000);
});

Deno.test("bzImagePlacement rejects an init_size that fits nowhere with InitSizeTooLarge", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { init_size: 0x4000000 }));
  assert.throws(
    () => bzImagePlacement(GuestMemory.fromRanges([[0, 64 << 20]]), info),
    (e: unknown) => e instanceof BzImageError && e.code === "InitSizeTooLarge",
  );
});

Deno.test("bzImagePlacement loads a non-relocatable kernel at code32_start and reserves init_size at pref_address", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { relocatable_kernel: 0 }));
  const p = bzImagePlacement(GuestMemory.fromRanges([[0, 64 << 20]]), info);
  assert.deepEqual(p, { loadAddress: 0x100000, runtimeStart: 0x1000000, reserved: 0x103000 });
  assert.throws(
    () => bzImagePlacement(GuestMemory.fromRanges([[0, 0x1080000]]), info),
    (e: unknown) => e instanceof BzImageError && e.code === "InitSizeTooLarge",
  );
});

Deno.test("bzImagePlacement rejects a kernel_alignment that is not a power of two with InvalidBzImage", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { kernel_alignment: 0x300000 }));
  assert.throws(
    () => bzImagePlacement(GuestMemory.fromRanges([[0, 64 << 20]]), info),
    (e: unknown) => e instanceof BzImageError && e.code === "InvalidBzImage",
  );
});

Deno.test("decodeBzImage gives min_alignment's power of two for every exponent a u8 holds", async () => {
  for (const e of [0, 1, 12, 21, 30, 31, 32, 52, 53, 64, 255]) {
    const info = await decodeBzImage(patchSetupHeader(image(), { min_alignment: e }));
    assert.equal(info.minAlignment, 2 ** e, `min_alignment ${e}`);
  }
});

Deno.test("bzImagePlacement takes every power-of-two kernel_alignment a u32 holds and refuses the rest", async () => {
  const mem = GuestMemory.fromRanges([[0, 64 << 20]]);
  const place = async (a: number) =>
    bzImagePlacement(mem, await decodeBzImage(patchSetupHeader(image(), { kernel_alignment: a })));
  for (let k = 0; k < 32; k++) {
    const a = 2 ** k;
    // A huge alignment leaves no aligned address in 64 MiB but 0, below pref_address: InitSizeTooLarge there.
    try {
      const p = await place(a);
      assert.equal(p.loadAddress % a, 0, `kernel_alignment 2^${k}`);
    } catch (e) {
      assert.ok(e instanceof BzImageError && e.code === "InitSizeTooLarge", `kernel_alignment 2^${k}: ${e}`);
    }
  }
  for (const a of [3, 0x300000, 0x8000_0001, 0xc000_0000, 0xffff_ffff]) {
    await assert.rejects(place(a), (e: unknown) => e instanceof BzImageError && e.code === "InvalidBzImage", `${a}`);
  }
});

Deno.test("bzImagePlacement rejects an aligned address beyond 2^53 with Overflow", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { pref_address: BigInt(Number.MAX_SAFE_INTEGER - 4) }));
  assert.throws(
    () => bzImagePlacement(GuestMemory.fromRanges([[Number.MAX_SAFE_INTEGER - 0x10_0000, 0x10_0000]]), info),
    (e: unknown) => e instanceof BzImageError && e.code === "Overflow",
  );
});

// ---- Every error code ----

Deno.test("loadBzImage rejects an image without HdrS with InvalidBzImage", async () => {
  await rejectsWith(loadBzImage(guestMem(), patchSetupHeader(image(), { header: 0 })), BzImageError, "InvalidBzImage");
});

Deno.test("loadBzImage rejects a boot protocol older than 2.00 with InvalidBzImage", async () => {
  await rejectsWith(
    loadBzImage(guestMem(), patchSetupHeader(image(), { version: 0x1ff })),
    BzImageError,
    "InvalidBzImage",
  );
});

Deno.test("loadBzImage rejects a zImage (LOADED_HIGH clear) with InvalidBzImage", async () => {
  await rejectsWith(
    loadBzImage(guestMem(), patchSetupHeader(image(), { loadflags: 0 })),
    BzImageError,
    "InvalidBzImage",
  );
});

Deno.test("loadBzImage rejects a boot_flag other than 0xAA55 with InvalidBzImage", async () => {
  await rejectsWith(
    loadBzImage(guestMem(), patchSetupHeader(image(), { boot_flag: 0x1234 })),
    BzImageError,
    "InvalidBzImage",
  );
});

Deno.test("loadBzImage rejects an image shorter than its setup with Underflow", async () => {
  await rejectsWith(loadBzImage(guestMem(), image().slice(0, 4 * 512)), BzImageError, "Underflow");
});

Deno.test("loadBzImage rejects an image that ends before the setup header with SeekBzImageHeader", async () => {
  await rejectsWith(loadBzImage(guestMem(), new Uint8Array(0x100)), BzImageError, "SeekBzImageHeader");
});

Deno.test("loadBzImage rejects a source whose size is not a byte count with SeekBzImageEnd", async () => {
  const src: KernelSource = { size: Number.NaN, readInto: () => Promise.resolve() };
  await rejectsWith(loadBzImage(guestMem(), src), BzImageError, "SeekBzImageEnd");
});

function failingSource(bytes: Uint8Array, failFrom: number): KernelSource {
  return {
    size: bytes.length,
    readInto(offset: number, dest: Uint8Array): Promise<void> {
      if (offset + dest.length > failFrom) return Promise.reject(new Error("I/O error"));
      dest.set(bytes.subarray(offset, offset + dest.length));
      return Promise.resolve();
    },
  };
}

Deno.test("loadBzImage reports a failing header read as ReadBzImageHeader", async () => {
  await rejectsWith(loadBzImage(guestMem(), failingSource(image(), 0x200)), BzImageError, "ReadBzImageHeader");
});

Deno.test("loadBzImage reports a failing payload read as LoadInterrupted (the failure contract)", async () => {
  await rejectsWith(loadBzImage(guestMem(), failingSource(image(), 0xa00)), SourceError, "LoadInterrupted");
});

Deno.test("decodeBzImage rejects a pref_address beyond 2^53 with Overflow", async () => {
  await rejectsWith(decodeBzImage(patchSetupHeader(image(), { pref_address: 1n << 60n })), BzImageError, "Overflow");
});

Deno.test("loadBzImage rejects a kernel that passes the end of guest memory with MemoryOverflow", async () => {
  await rejectsWith(
    loadBzImage(guestMem(), image(), { loadAddress: MEM_SIZE - 0x1000 }),
    KernelLoaderError,
    "MemoryOverflow",
  );
});

Deno.test("loadBzImage rejects a kernel end beyond 2^53 with MemoryOverflow", async () => {
  await rejectsWith(
    loadBzImage(guestMem(), image(), { loadAddress: Number.MAX_SAFE_INTEGER - 0x10 }),
    KernelLoaderError,
    "MemoryOverflow",
  );
});

Deno.test("loadBzImage leaves guest memory byte-identical when the kernel does not fit", async () => {
  const mem = guestMem();
  const before = snapshot(mem);
  await rejectsWith(
    loadBzImage(mem, image(), { loadAddress: MEM_SIZE - 0x1000 }),
    KernelLoaderError,
    "MemoryOverflow",
  );
  assert.deepEqual(snapshot(mem), before);
});

Deno.test("the setup header builder writes fields where SETUP_HEADER says", () => {
  const img = buildBzImage({ payload: new Uint8Array(1), header: { cmd_line_ptr: 0x12345678 } });
  assert.equal(new DataView(img.buffer).getUint32(0x228, true), 0x12345678);
  assert.equal(SETUP_HEADER.decode(img, 0x1f1).cmd_line_ptr, 0x12345678);
});

Deno.test("loadBzImage places a LOADED_HIGH image whose code32_start is 0 (iPXE's) at 0x100000", async () => {
  const ipxe = patchSetupHeader(image(), { code32_start: 0 });
  const mem = guestMem();
  const r = await loadBzImage(mem, ipxe, { highmemStart: 0x100000 });
  assert.equal(r.loadStart, 0x100000);
  assert.deepEqual(mem.read(0x100000, 16), payload().subarray(0, 16));
  assert.equal(r.details.setupHeader.code32_start, 0x100000);
});

Deno.test("bzImagePlacement loads a non-relocatable image whose code32_start is 0 at 0x100000", async () => {
  const info = await decodeBzImage(patchSetupHeader(image(), { code32_start: 0, relocatable_kernel: 0 }));
  const p = bzImagePlacement(GuestMemory.fromRanges([[0, 64 << 20]]), info, { highmemStart: 0x100000 });
  assert.equal(p.loadAddress, 0x100000);
});
