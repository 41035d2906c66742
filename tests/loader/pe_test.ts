import assert from "node:assert/strict";
import { AARCH64_IMAGE_HEADER, decodeAarch64Flags, RISCV64_IMAGE_HEADER } from "../../lib/abi/image.ts";
import { KernelLoaderError, PeError, SourceError } from "../../lib/errors.ts";
import { detectPeArch, isGzip, isPeImage, loadDtb, loadPe, planPe } from "../../lib/loader/pe.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { fromBlob, fromFile, type KernelSource } from "../../lib/source.ts";
import {
  buildArm64Image,
  buildRiscv64Image,
  crateArm64Image,
  crateRiscv64Image,
  gzip,
  kernelLikeBytes,
} from "../../fixtures/build/pe.ts";
import { ignoreUnless } from "../_require.ts";

const MiB = 1 << 20;
/** The crate's tests use 16 MiB of guest memory at 0. */
const MEM_SIZE = 0x100_0000;

function crateMem(): GuestMemory {
  return GuestMemory.fromRanges([[0, MEM_SIZE]]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const a32 = new Uint32Array(a.buffer, a.byteOffset, a.length >> 2);
    const b32 = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
    for (; i < a32.length; i++) if (a32[i] !== b32[i]) return false;
    i <<= 2;
  }
  for (; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Memory filled with a pattern, and a check that it still holds exactly that pattern. */
function patterned(ranges: [number, number][] = [[0, MEM_SIZE]]): { mem: GuestMemory; unchanged(): void } {
  const mem = GuestMemory.fromRanges(ranges);
  for (const r of mem.regions) {
    const a = r.bytes;
    for (let i = 0; i < Math.min(251, a.length); i++) a[i] = (i * 7 + 3) & 0xff;
    for (let n = 251; n < a.length; n *= 2) a.copyWithin(n, 0, Math.min(n, a.length - n));
  }
  const copies = mem.regions.map((r) => r.bytes.slice());
  return {
    mem,
    unchanged() {
      mem.regions.forEach((r, i) => assert.ok(sameBytes(r.bytes, copies[i]), "guest memory changed"));
    },
  };
}

async function rejectsCode<E extends Error & { code: string }>(
  p: Promise<unknown>,
  cls: new (...a: never[]) => E,
  code: string,
  re?: RegExp,
): Promise<E> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof cls, `expected ${cls.name} ${code}, got ${String(caught)}`);
  assert.equal((caught as E).code, code, (caught as Error).message);
  if (re) assert.match((caught as Error).message, re);
  return caught as E;
}

/** A source that answers from `bytes` but fails reads as `fail` says. */
function failingSource(bytes: Uint8Array, fail: (offset: number, len: number) => Error | undefined): KernelSource {
  return {
    size: bytes.byteLength,
    readInto(offset: number, dest: Uint8Array): Promise<void> {
      const e = fail(offset, dest.byteLength);
      if (e) return Promise.reject(e);
      dest.set(bytes.subarray(offset, offset + dest.byteLength));
      return Promise.resolve();
    },
  };
}

// ---- the crate's tests, re-expressed -------------------------------------------------------------------

Deno.test("loadPe loads the crate's arm64 image at 0x200000 + text_offset 0x80000, ending at 0x281000", async () => {
  const mem = crateMem();
  const image = crateArm64Image();
  const r = await loadPe(mem, image, { imageBase: 0x20_0000 });
  assert.equal(r.loadStart, 0x28_0000);
  assert.equal(r.loadEnd, 0x28_1000);
  assert.equal(r.arch, "aarch64");
  assert.deepEqual(mem.read(0x28_0000, image.length), image);
});

Deno.test("loadPe rejects an arm64 imageBase that is not 2 MiB aligned", async () => {
  const { mem, unchanged } = patterned();
  await rejectsCode(
    loadPe(mem, crateArm64Image(), { imageBase: 0x30_0000 }),
    KernelLoaderError,
    "InvalidBaseAddrAlignment",
    /0x300000.*2 MiB/,
  );
  unchanged();
});

Deno.test("loadPe rejects an arm64 image whose magic byte at 0x39 is cleared", async () => {
  const { mem, unchanged } = patterned();
  const image = crateArm64Image();
  image[0x39] = 0;
  await rejectsCode(loadPe(mem, image, { imageBase: 0x20_0000 }), PeError, "InvalidImageMagicNumber", /0x38/);
  unchanged();
});

Deno.test("loadPe loads the crate's riscv64 image at 0x400000 + text_offset 0x200000, ending at 0x601000", async () => {
  const mem = crateMem();
  const image = crateRiscv64Image();
  const r = await loadPe(mem, image, { imageBase: 0x40_0000 });
  assert.equal(r.loadStart, 0x60_0000);
  assert.equal(r.loadEnd, 0x60_1000);
  assert.equal(r.arch, "riscv64");
  assert.deepEqual(mem.read(0x60_0000, image.length), image);
});

Deno.test("loadPe rejects a riscv64 imageBase that is not 2 MiB aligned", async () => {
  const { mem, unchanged } = patterned();
  await rejectsCode(
    loadPe(mem, crateRiscv64Image(), { imageBase: 0x30_0000 }),
    KernelLoaderError,
    "InvalidBaseAddrAlignment",
  );
  unchanged();
});

Deno.test("loadPe rejects a riscv64 image whose magic2 byte at 0x38 is cleared", async () => {
  const { mem, unchanged } = patterned();
  const image = crateRiscv64Image();
  image[0x38] = 0;
  await rejectsCode(loadPe(mem, image, { imageBase: 0x40_0000 }), PeError, "InvalidImageMagicNumber");
  unchanged();
});

// ---- header rules ----------------------------------------------------------------------------------------

Deno.test("loadPe assumes text_offset 0x80000 for an arm64 header with image_size 0, whatever text_offset says", async () => {
  const mem = crateMem();
  const image = buildArm64Image({ header: { text_offset: 0x12_3000n, image_size: 0n }, size: 0x100 });
  const r = await loadPe(mem, image, { imageBase: 0x20_0000 });
  assert.equal(r.details.textOffset, 0x8_0000);
  assert.equal(r.loadStart, 0x28_0000);
});

Deno.test("loadPe keeps a riscv64 text_offset when image_size is 0 (no default in boot-image-header.rst)", async () => {
  const r = await loadPe(crateMem(), buildRiscv64Image({ header: { text_offset: 0x1000n, image_size: 0n } }));
  assert.equal(r.loadStart, 0x1000);
});

Deno.test("loadPe places the image at text_offset above 0 when no imageBase is given", async () => {
  const r = await loadPe(crateMem(), buildArm64Image({ header: { text_offset: 0x4000n } }));
  assert.equal(r.loadStart, 0x4000);
  assert.equal(r.loadEnd, 0x4040);
});

Deno.test("loadPe with arch riscv64 rejects an arm64 Image with ArchMismatch", async () => {
  const e = await rejectsCode(
    loadPe(crateMem(), crateArm64Image(), { arch: "riscv64" }),
    KernelLoaderError,
    "ArchMismatch",
  );
  assert.match(e.message, /aarch64/);
});

Deno.test("loadPe puts the base at the lowest 2 MiB boundary of guest memory when no imageBase is given", async () => {
  const mem = GuestMemory.fromRanges([[0x4010_0000, 16 * MiB]]);
  const r = await loadPe(mem, buildArm64Image({ header: { text_offset: 0x4000n } }));
  assert.equal(r.entry.image, 0x4020_4000);
});

Deno.test("loadPe refuses a bzImage's loadAddress with InvalidOption", async () => {
  await rejectsCode(loadPe(crateMem(), crateArm64Image(), { loadAddress: 0 }), KernelLoaderError, "InvalidOption");
});

Deno.test("loadPe rejects text_offset above 2^53 as InvalidImage", async () => {
  const image = buildArm64Image({ header: { text_offset: 1n << 60n } });
  await rejectsCode(loadPe(crateMem(), image), PeError, "InvalidImage", /text_offset/);
});

Deno.test("loadPe rejects imageBase + text_offset above 2^53 as InvalidImage", async () => {
  const image = buildArm64Image({ header: { text_offset: BigInt(Number.MAX_SAFE_INTEGER) - 0x1000n } });
  await rejectsCode(loadPe(crateMem(), image, { imageBase: 0x20_0000 }), PeError, "InvalidImage", /imageBase/);
});

Deno.test("loadPe rejects a negative imageBase as InvalidKernelStartAddress", async () => {
  await rejectsCode(
    loadPe(crateMem(), crateArm64Image(), { imageBase: -0x20_0000 }),
    KernelLoaderError,
    "InvalidKernelStartAddress",
  );
});

Deno.test("loadPe reports MemoryOverflow, memory untouched, for an image that passes the end of guest memory", async () => {
  const { mem, unchanged } = patterned();
  const e = await rejectsCode(
    loadPe(mem, buildArm64Image({ header: { text_offset: BigInt(0x20_0000 - 0x1000) }, size: 0x3000 }), {
      imageBase: MEM_SIZE - 0x20_0000,
    }),
    KernelLoaderError,
    "MemoryOverflow",
  );
  assert.equal(e.limit, MEM_SIZE);
  unchanged();
});

Deno.test("loadPe ignores image_size past guest memory by default, as the crate does", async () => {
  // The crate's riscv64 fixture claims 0xf0f000 bytes at 0x600000: more than its 16 MiB guest.
  const r = await loadPe(crateMem(), crateRiscv64Image(), { imageBase: 0x40_0000 });
  assert.equal(r.kernelEnd, 0x60_0000 + 0xf0_f000);
});

Deno.test("loadPe with checkImageSize rejects image_size past guest memory, memory untouched", async () => {
  const { mem, unchanged } = patterned();
  await rejectsCode(
    loadPe(mem, crateRiscv64Image(), { imageBase: 0x40_0000, checkImageSize: true }),
    KernelLoaderError,
    "MemoryOverflow",
    /image_size/,
  );
  unchanged();
});

Deno.test("loadPe loads an image across two adjacent regions", async () => {
  const mem = GuestMemory.fromRanges([[0, 0x20_1000], [0x20_1000, MiB]]);
  const image = buildArm64Image({ code: kernelLikeBytes(0x3000), size: 0x3040 });
  const r = await loadPe(mem, image, { imageBase: 0x20_0000 });
  assert.deepEqual(mem.read(r.loadStart, image.length), image);
});

Deno.test("loadPe reads a Blob source as it reads bytes", async () => {
  const mem = crateMem();
  const image = crateArm64Image();
  const r = await loadPe(mem, await fromBlob(new Blob([image])), { imageBase: 0x20_0000 });
  assert.equal(r.loadEnd, 0x28_1000);
  assert.deepEqual(mem.read(0x28_0000, image.length), image);
});

// ---- source failures -------------------------------------------------------------------------------------

Deno.test("loadPe reports ReadImageHeader for an image shorter than the 64-byte header", async () => {
  await rejectsCode(loadPe(crateMem(), crateArm64Image().subarray(0, 63)), PeError, "ReadImageHeader", /63 bytes/);
});

Deno.test("loadPe reports SeekImageEnd for a source without a usable size", async () => {
  const src = { ...failingSource(crateArm64Image(), () => undefined), size: -1 };
  await rejectsCode(loadPe(crateMem(), src), PeError, "SeekImageEnd");
});

Deno.test("loadPe reports SeekImageHeader when the source cannot position at the header", async () => {
  const src = failingSource(crateArm64Image(), () => new SourceError("OffsetPastEnd", "cannot seek"));
  await rejectsCode(loadPe(crateMem(), src), PeError, "SeekImageHeader");
});

Deno.test("loadPe reports ReadImageHeader when the source fails reading the header", async () => {
  const src = failingSource(crateArm64Image(), () => new SourceError("ReadFailed", "EIO"));
  await rejectsCode(loadPe(crateMem(), src), PeError, "ReadImageHeader", /EIO/);
});

Deno.test("loadPe reports LoadInterrupted, the Image's range zeroed, when the source fails reading the body", async () => {
  const { mem } = patterned();
  const before = mem.regions[0].bytes.slice();
  const src = failingSource(
    crateArm64Image(),
    (_o, len) => len > 64 ? new SourceError("ReadFailed", "EIO") : undefined,
  );
  const p = await planPe(mem, crateArm64Image(), { imageBase: 0x20_0000 });
  await rejectsCode(loadPe(mem, src, { imageBase: 0x20_0000 }), SourceError, "LoadInterrupted");
  for (const s of p.plan.steps) {
    before.fill(0, s.guestAddr, s.guestAddr + (s.kind === "bytes" ? s.bytes.length : s.length));
  }
  assert.ok(sameBytes(mem.regions[0].bytes, before), "only the planned range is zeroed");
});

// ---- detection -------------------------------------------------------------------------------------------

Deno.test("isPeImage and detectPeArch recognise both magics and nothing else", () => {
  assert.equal(detectPeArch(crateArm64Image()), "aarch64");
  assert.equal(detectPeArch(crateRiscv64Image()), "riscv64");
  assert.equal(isPeImage(crateArm64Image().subarray(0, 63)), false);
  assert.equal(isPeImage(new Uint8Array(64)), false);
  assert.equal(isPeImage(crateRiscv64Image().subarray(0, 64)), true);
});

Deno.test("isGzip recognises a gzip stream and not an Image", async () => {
  assert.equal(isGzip(await gzip(crateArm64Image())), true);
  assert.equal(isGzip(crateArm64Image()), false);
});

Deno.test("planPe returns one copy step at the load address and writes nothing", async () => {
  const { mem, unchanged } = patterned();
  const image = new Uint8Array(0x1000);
  image.set(AARCH64_IMAGE_HEADER.encode({ text_offset: 0x8_0000n, image_size: 0x1000n, magic: 0x644d5241 }));
  const p = await planPe(mem, image, { imageBase: 0x20_0000 });
  assert.deepEqual(p.plan.steps, [{
    kind: "copy",
    guestAddr: 0x28_0000,
    length: 0x1000,
    sourceOffset: 0,
    label: "aarch64 Image",
  }]);
  unchanged();
});

Deno.test("planPe decodes riscv64 header fields", async () => {
  const hdr = RISCV64_IMAGE_HEADER.encode({
    text_offset: 0x20_0000n,
    image_size: 0x5000n,
    flags: 1n,
    magic2: 0x0543_5352,
  });
  const p = await planPe(crateMem(), hdr);
  assert.equal(p.details.imageSize, 0x5000);
  assert.equal(p.details.flags, 1n);
  assert.equal(p.kernelEnd, 0x20_5000);
});

// ---- gzip ------------------------------------------------------------------------------------------------

Deno.test("loadPe decompresses a gzip arm64 Image into the same bytes and addresses as the plain one", async () => {
  const image = buildArm64Image({
    header: { text_offset: 0x8_0000n },
    code: kernelLikeBytes(3 * MiB),
    size: 3 * MiB + 64,
  });
  const plainMem = crateMem();
  const plain = await loadPe(plainMem, image, { imageBase: 0x20_0000 });
  const mem = crateMem();
  const r = await loadPe(mem, await gzip(image), { imageBase: 0x20_0000 });
  assert.equal(r.details.compression, "gzip");
  assert.equal(r.loadStart, plain.loadStart);
  assert.equal(r.loadEnd, plain.loadEnd);
  assert.equal(r.loadEnd - r.loadStart, image.length);
  assert.deepEqual(mem.regions[0].bytes, plainMem.regions[0].bytes);
});

Deno.test("loadPe decompresses a gzip riscv64 Image read from a Blob", async () => {
  const image = buildRiscv64Image({ code: kernelLikeBytes(0x5000) });
  const mem = crateMem();
  const r = await loadPe(mem, await fromBlob(new Blob([await gzip(image)])), { imageBase: 0x40_0000 });
  assert.equal(r.loadStart, 0x60_0000);
  assert.deepEqual(mem.read(r.loadStart, image.length), image);
});

Deno.test("loadPe reports CorruptGzip, memory untouched, for a truncated gzip Image", async () => {
  const { mem, unchanged } = patterned();
  const z = await gzip(buildArm64Image({ code: kernelLikeBytes(MiB) }));
  await rejectsCode(loadPe(mem, z.subarray(0, z.length - 100), { imageBase: 0x20_0000 }), PeError, "CorruptGzip");
  unchanged();
});

Deno.test("loadPe reports CorruptGzip, memory untouched, for a gzip Image with a corrupt byte mid-stream", async () => {
  const { mem, unchanged } = patterned();
  const z = await gzip(buildArm64Image({ code: kernelLikeBytes(MiB) }));
  z[z.length >> 1] ^= 0x55;
  await rejectsCode(loadPe(mem, z, { imageBase: 0x20_0000 }), PeError, "CorruptGzip");
  unchanged();
});

Deno.test("loadPe reports CorruptGzip, memory untouched, when only the gzip CRC-32 is wrong", async () => {
  const { mem, unchanged } = patterned();
  const z = await gzip(buildArm64Image({ code: kernelLikeBytes(MiB) }));
  z[z.length - 8] ^= 1; // first byte of the trailer's CRC-32: every data byte inflates fine
  await rejectsCode(loadPe(mem, z, { imageBase: 0x20_0000 }), PeError, "CorruptGzip");
  unchanged();
});

Deno.test("loadPe reports CorruptGzip for bytes after the gzip member", async () => {
  const z = await gzip(crateArm64Image());
  await rejectsCode(
    loadPe(crateMem(), new Uint8Array([...z, 0, 0, 0, 0]), { imageBase: 0x20_0000 }),
    PeError,
    "CorruptGzip",
  );
});

Deno.test("loadPe reports DecompressedTooLarge, memory untouched, past maxDecompressedSize", async () => {
  const { mem, unchanged } = patterned();
  const z = await gzip(buildArm64Image({ size: 2 * MiB }));
  await rejectsCode(
    loadPe(mem, z, { imageBase: 0x20_0000, maxDecompressedSize: MiB }),
    PeError,
    "DecompressedTooLarge",
  );
  unchanged();
});

Deno.test("loadPe reports DecompressedTooLarge, memory untouched, for a gzip Image larger than the memory left", async () => {
  const { mem, unchanged } = patterned();
  const z = await gzip(buildArm64Image({ size: 4 * MiB }));
  const e = await rejectsCode(loadPe(mem, z, { imageBase: 14 * MiB }), PeError, "DecompressedTooLarge");
  assert.equal(e.limit, 2 * MiB);
  unchanged();
});

Deno.test("loadPe checks the magic of a gzip Image's decompressed header, memory untouched", async () => {
  const { mem, unchanged } = patterned();
  const image = crateArm64Image();
  image[0x38] = 0x42;
  await rejectsCode(loadPe(mem, await gzip(image), { imageBase: 0x20_0000 }), PeError, "InvalidImageMagicNumber");
  unchanged();
});

Deno.test("loadPe checks the base alignment of a gzip Image before decompressing all of it", async () => {
  const z = await gzip(crateArm64Image());
  await rejectsCode(loadPe(crateMem(), z, { imageBase: 0x10_0000 }), KernelLoaderError, "InvalidBaseAddrAlignment");
});

Deno.test("loadPe reports ReadImageHeader for a gzip stream of fewer than 64 bytes", async () => {
  await rejectsCode(loadPe(crateMem(), await gzip(new Uint8Array(10))), PeError, "ReadImageHeader");
});

Deno.test("loadPe reports ReadKernelImage, memory untouched, when a gzip source fails after its header", async () => {
  const { mem, unchanged } = patterned();
  const z = await gzip(buildArm64Image({ code: kernelLikeBytes(3 * MiB) }));
  // The header read succeeds; the read of the compressed bytes (all of them, once) fails.
  let reads = 0;
  const src = failingSource(z, () => (++reads > 1 ? new SourceError("ReadFailed", "EIO") : undefined));
  await rejectsCode(loadPe(mem, src, { imageBase: 0x20_0000 }), PeError, "ReadKernelImage");
  unchanged();
});

// ---- load_dtb --------------------------------------------------------------------------------------------

Deno.test("loadDtb copies a blob to the guest address", async () => {
  const mem = crateMem();
  const dtb = kernelLikeBytes(0x800);
  await loadDtb(mem, 0x40_0000, dtb);
  assert.deepEqual(mem.read(0x40_0000, dtb.length), dtb);
});

Deno.test("loadDtb rejects a blob over 2 MiB as DtbTooBig", async () => {
  await rejectsCode(loadDtb(crateMem(), 0, new Uint8Array(0x20_0001)), PeError, "DtbTooBig", /0x200001/);
});

Deno.test("loadDtb reports SeekDtbEnd for a source without a usable size", async () => {
  const src = { ...failingSource(new Uint8Array(8), () => undefined), size: Number.NaN };
  await rejectsCode(loadDtb(crateMem(), 0, src), PeError, "SeekDtbEnd");
});

Deno.test("loadDtb reports LoadInterrupted, the blob's range zeroed, when the source fails", async () => {
  const mem = crateMem();
  mem.fill(0, 16, 0xee);
  const src = failingSource(new Uint8Array(8), () => new SourceError("ReadFailed", "EIO"));
  await rejectsCode(loadDtb(mem, 4, src), SourceError, "LoadInterrupted");
  assert.deepEqual([...mem.read(0, 16)], [0xee, 0xee, 0xee, 0xee, 0, 0, 0, 0, 0, 0, 0, 0, 0xee, 0xee, 0xee, 0xee]);
});

Deno.test("loadDtb reports MemoryOverflow, memory untouched, for a blob past the end of memory", async () => {
  const { mem, unchanged } = patterned();
  await rejectsCode(loadDtb(mem, MEM_SIZE - 4, new Uint8Array(8)), KernelLoaderError, "MemoryOverflow");
  unchanged();
});

// ---- a real kernel (when fixtures/real/fetch.ts has cached Debian's arm64 cloud kernel) -------------------

function realArm64Kernel(): string | undefined {
  try {
    const rec = JSON.parse(Deno.readTextFileSync(new URL("../../fixtures/real/cache/arm64.json", import.meta.url)));
    Deno.statSync(rec.kernel);
    return rec.kernel as string;
  } catch {
    return undefined;
  }
}

const REAL = realArm64Kernel();

Deno.test({
  name: "loadPe loads Debian's arm64 cloud Image from a file at 0x40000000, reading its header as booting.rst says",
  ignore: ignoreUnless(REAL !== undefined, "the cached Debian arm64 kernel (deno run -A fixtures/real/fetch.ts)"),
  async fn() {
    using file = await Deno.open(REAL!);
    const mem = GuestMemory.fromRanges([[0x4000_0000, 64 * MiB]]);
    const r = await loadPe(mem, await fromFile(file), { imageBase: 0x4000_0000, checkImageSize: true });
    assert.equal(r.arch, "aarch64");
    assert.equal(r.details.textOffset, 0); // since Linux 5.8
    assert.ok(r.details.imageSize >= (r.loadEnd - r.loadStart));
    assert.equal(decodeAarch64Flags(r.details.flags).pageSize, 4096);
    assert.equal(mem.readU16(r.loadStart), 0x5a4d); // "MZ": an EFI-stub kernel
  },
});

Deno.test({
  name: "loadPe loads the same Debian arm64 Image gzip-compressed into identical guest bytes",
  ignore: ignoreUnless(REAL !== undefined, "the cached Debian arm64 kernel (deno run -A fixtures/real/fetch.ts)"),
  async fn() {
    const image = await Deno.readFile(REAL!);
    const mem = GuestMemory.fromRanges([[0x4000_0000, 64 * MiB]]);
    const r = await loadPe(mem, await gzip(image), { imageBase: 0x4000_0000 });
    assert.equal(r.loadEnd - r.loadStart, image.length);
    assert.ok(sameBytes(mem.read(r.loadStart, image.length), image));
  },
});
