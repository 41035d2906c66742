// EFI zboot images (zboot-header.S) with every payload type the kernel builds there: detection, inspection
// and loadPe place exactly the padded Image the payload holds (what QEMU's unpack_efi_zboot_image and the
// EFI stub place), memory untouched when the payload is corrupt, and a bad header refused field by field.

import assert from "node:assert/strict";
import { buildArm64Image, buildRiscv64Image, kernelLikeBytes } from "../../fixtures/build/pe.ts";
import { KernelLoaderError, PeError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { fromFile } from "../../lib/source.ts";
import { loadPe, planPe } from "../../lib/loader/pe.ts";
import { detectKernel, loadKernel } from "../../lib/loader/mod.ts";
import { inspectKernel } from "../../lib/inspect.ts";
import { decodeZbootHeader, ZBOOT_COMPRESSION } from "../../lib/loader/zboot.ts";
import { ignoreUnless } from "../_require.ts";
import { assertBytes, hasTool } from "../compress/_tools.ts";
import { padToImageSize, ZBOOT_TOOLS, zbootImage, zbootPayload } from "./_zboot.ts";
import { qemuAvailable, qemuBoot } from "../../fixtures/real/qemu.ts";
import { INIT_MESSAGE, initramfs } from "../../fixtures/build/init.ts";

const MiB = 1 << 20;
const BASE = 0x4000_0000;
const ignore = ignoreUnless(Object.values(ZBOOT_TOOLS).every((t) => hasTool(t.cmd)), "gzip, lz4, lzma, lzop, xz, zstd");
const TYPES = Object.keys(ZBOOT_TOOLS);

/** A 1 MiB arm64 Image with 512 KiB of bss: image_size is 1.5 MiB, so vmlinux.bin is padded. */
const IMAGE_SIZE = 3 * MiB / 2;
const IMAGE = buildArm64Image({
  code: kernelLikeBytes(MiB - 64),
  header: { image_size: BigInt(IMAGE_SIZE), text_offset: 0n },
});

const built = new Map<string, Promise<Uint8Array>>();
function zboot(compType: string): Promise<Uint8Array> {
  if (!built.has(compType)) built.set(compType, zbootPayload(IMAGE, compType).then((p) => zbootImage(p, compType)));
  return built.get(compType)!;
}

function freshMem(): GuestMemory {
  return GuestMemory.fromRanges([[BASE, 16 * MiB]]);
}

async function rejects(p: Promise<unknown>, cls: typeof PeError | typeof KernelLoaderError, code: string) {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof cls, `expected ${cls.name} ${code}, got ${String(caught)}`);
  assert.equal((caught as PeError).code, code, (caught as Error).message);
  return caught as PeError;
}

Deno.test({
  name: "loadPe places the padded Image of a zboot image of every compression type, as the payload holds it",
  ignore,
  async fn() {
    const expected = padToImageSize(IMAGE);
    assert.equal(expected.byteLength, IMAGE_SIZE);
    for (const t of TYPES) {
      const file = await zboot(t);
      const mem = freshMem();
      const r = await loadPe(mem, file, { imageBase: BASE });
      assert.equal(r.entry.image, BASE, t);
      assert.equal(r.loadEnd, BASE + expected.byteLength, t);
      assert.equal(r.details.compression, ZBOOT_COMPRESSION[t], t);
      assert.equal(r.details.zboot?.compressionType, t);
      assert.equal(r.details.strategy, "zero-restore");
      assertBytes(mem.read(BASE, expected.byteLength), expected, t);
      // Over memory that holds data: verified first, then written; the same bytes.
      const used = freshMem();
      used.fill(BASE + 8 * MiB, 16, 0x77);
      used.fill(BASE + 100, 1, 0x77);
      const r2 = await loadPe(used, file, { imageBase: BASE });
      assert.equal(r2.details.strategy, "verify-then-write");
      assertBytes(used.read(BASE, expected.byteLength), expected, t);
      // planPe writes nothing and agrees.
      const planned = await planPe(freshMem(), file, { imageBase: BASE });
      assert.equal(planned.loadEnd, r.loadEnd);
    }
  },
});

Deno.test({
  name: "detectKernel, inspectKernel and loadKernel know a zboot image of every compression type",
  ignore,
  async fn() {
    for (const t of TYPES) {
      const file = await zboot(t);
      const d = await detectKernel(file);
      assert.deepEqual(d, {
        format: "pe",
        arch: "aarch64",
        compression: ZBOOT_COMPRESSION[t],
        zboot: t,
        multiboot: [],
      });
      const report = await inspectKernel(file);
      assert.match(report.protocol, new RegExp(`EFI zboot image, ${ZBOOT_COMPRESSION[t]}-compressed`));
      assert.equal(report.fields?.image_size, "0x180000");
      assert.equal(report.loadRanges?.[0].end! - report.loadRanges?.[0].start!, IMAGE_SIZE);
      const mem = freshMem();
      const r = await loadKernel(mem, file, { imageBase: BASE });
      assert.equal(r.format, "pe");
      assertBytes(mem.read(BASE, 64), IMAGE.subarray(0, 64), t);
    }
  },
});

Deno.test({
  name: "loadPe leaves guest memory untouched when a zboot payload is truncated, bit-flipped or its size trailer wrong",
  ignore,
  async fn() {
    for (const t of TYPES) {
      const file = await zboot(t);
      const z = decodeZbootHeader(file, file.byteLength);
      const cases: [string, Uint8Array][] = [];
      const flipped = file.slice();
      flipped[z.payloadOffset + (z.payloadSize >> 1)] ^= 0x10;
      cases.push(["flipped mid-payload", flipped]);
      const lastData = file.slice();
      lastData[z.payloadOffset + z.payloadSize - 9] ^= 0x01; // the check / checksum area of most formats
      cases.push(["flipped near the end", lastData]);
      if (t !== "gzip") {
        const trailer = file.slice();
        new DataView(trailer.buffer).setUint32(z.payloadEnd - 4, IMAGE_SIZE - 4096, true);
        cases.push(["a smaller size trailer", trailer]);
      }
      const cut = file.slice();
      new DataView(cut.buffer).setUint32(0x0c, z.payloadSize >> 1, true); // payload size halved
      if (t !== "gzip") cut.copyWithin(z.payloadOffset + (z.payloadSize >> 1), z.payloadEnd - 4, z.payloadEnd);
      cases.push(["truncated", cut]);
      for (const [what, bad] of cases) {
        for (const used of [false, true]) {
          const mem = freshMem();
          if (used) mem.fill(BASE + 12 * MiB, 64, 0x3c);
          const before = mem.read(BASE, 16 * MiB);
          let caught: unknown;
          try {
            await loadPe(mem, bad, { imageBase: BASE });
          } catch (e) {
            caught = e;
          }
          // lz4 and lzma carry no checksum: a flipped literal may decode to other bytes of the same size.
          if (caught === undefined) {
            assert.ok(t === "lz4" || t === "lzma" || t === "lzo", `${t} ${what}: loaded`);
            continue;
          }
          assert.ok(caught instanceof PeError, `${t} ${what}: ${String(caught)}`);
          assertBytes(mem.read(BASE, 16 * MiB), before, `${t} ${what} (${used ? "used" : "fresh"} memory)`);
        }
      }
    }
  },
});

Deno.test({
  name: "loadPe loads a riscv64 zboot image",
  ignore,
  async fn() {
    const image = buildRiscv64Image({ code: kernelLikeBytes(MiB / 2), header: { image_size: BigInt(MiB) } });
    const file = zbootImage(await zbootPayload(image, "zstd22"), "zstd22", "riscv64");
    const mem = freshMem();
    const r = await loadPe(mem, file, { imageBase: BASE });
    assert.equal(r.arch, "riscv64");
    assertBytes(mem.read(r.loadStart, MiB), padToImageSize(image));
  },
});

Deno.test({
  name: "loadPe refuses a zboot header naming bzip2, a payload past the file, or an arm64 PE around a riscv64 Image",
  ignore,
  async fn() {
    const file = await zboot("gzip");
    const bz = file.slice();
    bz.set(new TextEncoder().encode("bzip2\0"), 0x18);
    assert.match(
      (await rejects(loadPe(freshMem(), bz, { imageBase: BASE }), PeError, "InvalidImage")).message,
      /bzip2/,
    );
    const past = file.slice();
    new DataView(past.buffer).setUint32(0x0c, file.byteLength, true);
    await rejects(loadPe(freshMem(), past, { imageBase: BASE }), PeError, "InvalidImage");
    const notPe = file.slice();
    notPe[0x40] = 0;
    await rejects(detectKernel(notPe), PeError, "InvalidImage");
    const rv = buildRiscv64Image({ code: kernelLikeBytes(4096) });
    const mixed = zbootImage(await zbootPayload(rv, "gzip"), "gzip", "aarch64");
    await rejects(loadPe(freshMem(), mixed, { imageBase: BASE }), PeError, "InvalidImage");
  },
});

Deno.test({
  name: "loadPe refuses a zboot image whose padded Image does not fit at the load address, memory untouched",
  ignore,
  async fn() {
    const file = await zboot("zstd22");
    const mem = GuestMemory.fromRanges([[BASE, MiB]]);
    const before = mem.read(BASE, MiB);
    let caught: unknown;
    try {
      await loadPe(mem, file, { imageBase: BASE });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof PeError || caught instanceof KernelLoaderError, String(caught));
    assertBytes(mem.read(BASE, MiB), before);
  },
});

// ---- Debian's arm64 Image in a zboot image of each type (the compressed payloads cached beside it) --------

function realArm64Image(): string | undefined {
  try {
    const rec = JSON.parse(Deno.readTextFileSync(new URL("../../fixtures/real/cache/arm64.json", import.meta.url)));
    Deno.statSync(rec.kernel);
    return rec.kernel as string;
  } catch {
    return undefined;
  }
}
const REAL = realArm64Image();

/** The zboot payload of the real Image for `t`, compressed once and kept in the cache beside the kernel. */
export async function realZbootPayload(path: string, t: string): Promise<Uint8Array> {
  const cached = `${path}.zboot-${t}`;
  try {
    return await Deno.readFile(cached);
  } catch {
    const p = await zbootPayload(await Deno.readFile(path), t);
    const tmp = `${cached}.${Deno.pid}.tmp`;
    await Deno.writeFile(tmp, p);
    await Deno.rename(tmp, cached);
    return p;
  }
}

// Compressing the 27 MB Image six times as the kernel build does (lzma -9, xz with a 32 MiB dictionary,
// zstd -22 --ultra) costs minutes of CPU on a fresh checkout, so this one runs with the real-kernel matrix
// (`deno task test:real`, REAL_MATRIX=1); the synthetic Image above covers every type in `deno task test`.
const FULL_MATRIX = (() => {
  try {
    return Deno.env.get("REAL_MATRIX") === "1";
  } catch {
    return false;
  }
})();

Deno.test({
  name: "loadPe places Debian's arm64 Image, padded to image_size, from a zboot file of every compression type",
  ignore: ignore || ignoreUnless(REAL !== undefined, "the cached Debian arm64 kernel (deno task fetch-kernels)") ||
    !FULL_MATRIX,
  async fn() {
    const image = await Deno.readFile(REAL!);
    const expected = padToImageSize(image);
    const dir = await Deno.makeTempDir({ prefix: "zboot-test-" });
    try {
      for (const t of TYPES) {
        const path = `${dir}/vmlinuz-${t}.efi`;
        await Deno.writeFile(path, zbootImage(await realZbootPayload(REAL!, t), t));
        using f = await Deno.open(path);
        const mem = GuestMemory.fromRanges([[BASE, 128 * MiB]]);
        const r = await loadPe(mem, await fromFile(f), { imageBase: BASE, checkImageSize: true });
        assert.equal(r.loadEnd - r.loadStart, expected.byteLength, t);
        assertBytes(mem.read(r.loadStart, expected.byteLength), expected, t);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// QEMU 7.2 (Debian bookworm's) predates EFI zboot support in `-kernel` (QEMU 8.0 added
// unpack_efi_zboot_image, for gzip payloads only), and the files built here carry no EFI stub to run under
// UEFI firmware, so QEMU cannot boot the zboot file itself. What it can check: the bytes our loader placed
// from a zboot file are a kernel QEMU boots to our /init's line.
Deno.test({
  name: "QEMU boots, to our /init's line, the Image our loader placed from a zboot file of Debian's arm64 kernel",
  ignore: ignore ||
    ignoreUnless(REAL !== undefined && qemuAvailable("aarch64"), "qemu-system-aarch64 and the Debian arm64 kernel"),
  async fn() {
    // gzip -9 takes seconds where zstd -22 takes minutes; the full matrix uses the kernel's zstd22.
    const type = FULL_MATRIX ? "zstd22" : "gzip";
    const file = zbootImage(await realZbootPayload(REAL!, type), type);
    const mem = GuestMemory.fromRanges([[BASE, 128 * MiB]]);
    const r = await loadPe(mem, file, { imageBase: BASE });
    const placed = mem.read(r.loadStart, r.loadEnd - r.loadStart);
    const image = await Deno.readFile(REAL!);
    assertBytes(placed.subarray(0, image.byteLength), image, "the Image");
    assert.ok(placed.subarray(image.byteLength).every((b) => b === 0), "the padding up to image_size is zero");
    const dir = await Deno.makeTempDir({ prefix: "zboot-qemu-" });
    try {
      await Deno.writeFile(`${dir}/placed.Image`, placed);
      const q = await qemuBoot({
        arch: "aarch64",
        kernel: `${dir}/placed.Image`,
        initrd: await initramfs("aarch64"),
        timeoutMs: 240_000,
        stopAt: INIT_MESSAGE,
      });
      assert.ok(q.log.includes("Linux version "), q.log.slice(-800));
      assert.ok(q.log.includes(INIT_MESSAGE), `no "${INIT_MESSAGE}"; log ends:\n${q.log.slice(-800)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
