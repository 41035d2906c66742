/**
 * The kernels the load benchmarks use, built or read once, outside any measured function:
 *
 * - the Debian amd64 cloud bzImage (14 MB) from the real-kernels cache when it is there, else a generated
 *   14 MB bzImage;
 * - its PVH vmlinux (53 MB, four PT_LOAD segments) extracted from that bzImage, else a generated 46 MB
 *   vmlinux with four segments, two of them with a bss, and a PVH note;
 * - the Debian arm64 cloud Image (27 MB, uncompressed) from the cache, else a generated 27 MB arm64 Image;
 *   and its gzip form.
 *
 * Nothing is downloaded: the cache is read only when `fixtures/real/fetch.ts` already filled it
 * (`deno run -A fixtures/real/fetch.ts` fills it). File benchmarks read real kernels from the cache and
 * generated ones from a temporary directory removed when the process ends.
 *
 * @module
 */

import { CACHE_DIR, type RealArch } from "../fixtures/real/fetch.ts";
import { buildBzImage } from "../fixtures/build/bzimage.ts";
import { buildElf } from "../fixtures/build/elf.ts";
import { buildArm64Image, gzip, kernelLikeBytes } from "../fixtures/build/pe.ts";
import { XEN_ELFNOTE_PHYS32_ENTRY } from "../lib/abi/elf.ts";
import { extractVmlinux } from "../lib/loader/extract.ts";

/** One benchmark input: its bytes, a file holding the same bytes, and where it came from. */
export interface BenchInput {
  /** The image. */
  bytes: Uint8Array<ArrayBuffer>;
  /** A file with the same bytes. */
  path: string;
  /** "Debian ..." for a cached real kernel, "generated ..." otherwise. */
  origin: string;
}

const MiB = 1 << 20;

let tmpDir: string | undefined;
async function tempFile(name: string, bytes: Uint8Array): Promise<string> {
  if (tmpDir === undefined) {
    const dir = await Deno.makeTempDir({ prefix: "linux-loader-bench-" });
    tmpDir = dir;
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Already gone.
      }
    });
  }
  const path = `${tmpDir}/${name}`;
  await Deno.writeFile(path, bytes);
  return path;
}

/** The cached kernel's path, or undefined when the cache has no finished fetch for `arch` (never fetches). */
async function cachedKernel(arch: RealArch): Promise<string | undefined> {
  try {
    const rec = JSON.parse(await Deno.readTextFile(`${CACHE_DIR}${arch}.json`)) as { kernel: string };
    await Deno.stat(rec.kernel);
    return rec.kernel;
  } catch {
    return undefined;
  }
}

function label(path: string): string {
  return `Debian ${path.slice(path.lastIndexOf("/") + 1)}`;
}

/** The amd64 bzImage. */
export async function bzImageInput(): Promise<BenchInput> {
  const real = await cachedKernel("amd64");
  if (real !== undefined) return { bytes: await Deno.readFile(real), path: real, origin: label(real) };
  const bytes = buildBzImage({ payload: kernelLikeBytes(14 * MiB - 5 * 512, 12) }) as Uint8Array<ArrayBuffer>;
  return { bytes, path: await tempFile("bzImage", bytes), origin: "generated 14 MiB bzImage" };
}

/** A PVH vmlinux with several PT_LOAD segments. */
export async function vmlinuxInput(bz: BenchInput): Promise<BenchInput> {
  if (bz.origin.startsWith("Debian")) {
    const bytes = await extractVmlinux(bz.bytes) as Uint8Array<ArrayBuffer>;
    return { bytes, path: await tempFile("vmlinux", bytes), origin: `vmlinux extracted from the ${bz.origin}` };
  }
  // 46 MB of segments: text 24 MiB, rodata 6 MiB, percpu 1 MiB, data 15 MiB; data and percpu with a bss.
  const entry = new Uint8Array(4);
  new DataView(entry.buffer).setUint32(0, 0x100_0000 + 0x1000, true);
  const bytes = buildElf({
    entry: 0x100_0000,
    segments: [
      { paddr: 0x100_0000, data: kernelLikeBytes(24 * MiB, 1), align: 0x20_0000 },
      { paddr: 0x280_0000, data: kernelLikeBytes(6 * MiB, 2), align: 0x20_0000 },
      { paddr: 0x300_0000, data: kernelLikeBytes(1 * MiB, 3), memsz: 2 * MiB, align: 0x1000 },
      { paddr: 0x320_0000, data: kernelLikeBytes(15 * MiB, 4), memsz: 20 * MiB, align: 0x1000 },
      { notes: [{ name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: entry }] },
    ],
  }) as Uint8Array<ArrayBuffer>;
  return { bytes, path: await tempFile("vmlinux", bytes), origin: "generated 46 MiB vmlinux (4 segments, 2 with bss)" };
}

/** The arm64 Image, uncompressed. */
export async function arm64ImageInput(): Promise<BenchInput> {
  const real = await cachedKernel("arm64");
  if (real !== undefined) return { bytes: await Deno.readFile(real), path: real, origin: label(real) };
  const size = 27 * MiB;
  const bytes = buildArm64Image({ code: kernelLikeBytes(size - 64, 7), size });
  return { bytes, path: await tempFile("Image", bytes), origin: "generated 27 MiB arm64 Image" };
}

/** The gzip form of `image`. */
export async function gzipInput(image: BenchInput): Promise<BenchInput> {
  const bytes = await gzip(image.bytes);
  return { bytes, path: await tempFile("Image.gz", bytes), origin: `gzip of the ${image.origin}` };
}

/** `n` bytes in MB (10^6), as throughput figures use. */
export function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}
