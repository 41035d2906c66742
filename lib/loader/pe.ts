/**
 * arm64 and riscv64 `Image` loader (the crate's `loader::pe`), for plain and gzip-compressed (`Image.gz`,
 * Debian's arm64 `vmlinuz`) kernels, and the crate's `load_dtb`.
 *
 * Specs: Linux `Documentation/arch/arm64/booting.rst` (section 4, "Call the kernel image") and
 * `Documentation/arch/riscv/boot-image-header.rst` with `boot.rst`. The header layouts and constants live
 * in `lib/abi/image.ts`.
 *
 * Flow, as everywhere in this library: read the 64-byte header, decode it ({@linkcode decodePeHeader}),
 * plan the copy and validate it against guest memory ({@linkcode planPe}), then apply it
 * ({@linkcode loadPe}); any error before the apply leaves guest memory untouched.
 *
 * Compressed input, an `Image.gz` or an EFI zboot image (`"MZ"`, `"zimg"` at 4: lib/loader/zboot.ts, any
 * of the six methods the kernel builds there), is decoded with the library's own streaming decoders
 * (lib/loader/payload.ts) straight into the planned guest range, never into a second buffer of the image:
 * the compressed bytes are read once (a file source: into one buffer of the compressed size), the Image
 * header comes from decoding only the first chunk, and the size from the payload's trailer (gzip ISIZE,
 * the zboot size trailer) when it is sane, else from a counting pass. Guest memory is byte for byte as
 * before when the load fails: when the planned range is all zero (fresh guest memory) one pass writes it
 * and a failure (corrupt data, a checksum, a wrong size) zeroes it again; otherwise a verifying pass
 * proves the payload intact (every check of its format) before the writing pass. {@linkcode planPe}
 * always verifies (a dry run says whether the load would succeed).
 *
 * @module
 */

import {
  AARCH64_DEFAULT_TEXT_OFFSET,
  AARCH64_IMAGE_HEADER,
  AARCH64_IMAGE_MAGIC,
  type Aarch64ImageHeader,
  IMAGE_BASE_ALIGN,
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC_OFFSET,
  RISCV64_IMAGE_HEADER,
  type Riscv64ImageHeader,
  RISCV_IMAGE_MAGIC2,
} from "../abi/image.ts";
import { isGzip } from "../compress/gzip.ts";
import { DecompressError, hex, KernelLoaderError, PeError, type PeErrorCode, SourceError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { applyPlan, type Plan, validatePlan } from "../plan.ts";
import { checkArch, checkHighmem, checkLoadOptions, type LoadOptions, type LoadResultCommon } from "./contract.ts";
import { type KernelSource, readBytes, syncReader, toSource } from "../source.ts";
import {
  decompressPayloadIntoGuest,
  measurePayload,
  type PayloadInput,
  type PayloadMethod,
  payloadPrefixOf,
  payloadTrailer,
} from "./payload.ts";
import { decodeZbootHeader, isZboot, type ZbootHeader } from "./zboot.ts";
import { requireBytes } from "../guard.ts";

/** The architectures whose Image format this loader knows. */
export type PeArch = "aarch64" | "riscv64";

/**
 * The largest device tree `loadDtb` accepts (the crate's `load_dtb` limit). arm64 `booting.rst`: "The
 * device tree blob (dtb) must be placed on an 8-byte boundary and must not exceed 2 megabytes in size."
 *
 * @example
 * ```ts
 * import { DTB_MAX_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(DTB_MAX_SIZE.toString(16)); // 200000
 * ```
 */
export const DTB_MAX_SIZE = 0x20_0000;

/** A decoded Image header and what follows from it. */
export interface PeHeaderInfo {
  /** Architecture, from the magic at 0x38. */
  arch: PeArch;
  /** The load offset used: `text_offset`, or 0x80000 for an arm64 header with `image_size` 0. */
  textOffset: number;
  /** `image_size` (0 when the header does not say). */
  imageSize: number;
  /** `flags`, raw. */
  flags: bigint;
  /** The raw header. */
  header: Aarch64ImageHeader | Riscv64ImageHeader;
}

/** The Image facts of a load: {@linkcode PeLoadResult.details}. */
export interface PeDetails extends PeHeaderInfo {
  /**
   * The method when the input was compressed: `"gzip"` for an `Image.gz`, any of gzip, lz4, lzma, lzo, xz
   * and zstd for an EFI zboot image (`plan` copies then come from the decompressed image).
   */
  compression?: PayloadMethod;
  /** For an EFI zboot image: its header (payload place, compression type string). */
  zboot?: ZbootHeader;
  /** How a compressed load kept memory untouched on failure (set by {@linkcode loadPe}). */
  strategy?: "zero-restore" | "verify-then-write";
}

/**
 * What {@linkcode planPe} and {@linkcode loadPe} return: the common fields of every loader
 * ({@linkcode LoadResultCommon}) with `entry.image` = `loadStart` = base + `text_offset`, `loadEnd` = the
 * end of the (decompressed) image, `kernelEnd` = the larger of `loadEnd` and `loadStart + image_size`.
 */
export interface PeLoadResult extends LoadResultCommon {
  /** Always `"pe"`. */
  format: "pe";
  /** The decoded header and the compression. */
  details: PeDetails;
}

function peError(code: PeErrorCode, message: string, details: ConstructorParameters<typeof PeError>[2] = {}): PeError {
  return new PeError(code, message, details);
}

/**
 * The architecture whose Image magic sits at 0x38 of `bytes`, or `undefined`. Needs the first 64 bytes.
 *
 * @example
 * ```ts
 * import { detectPeArch } from "@linux-loader/linux-loader";
 * const hdr = new Uint8Array(64);
 * hdr.set(new TextEncoder().encode("RSC\x05"), 0x38);
 * console.log(detectPeArch(hdr)); // riscv64
 * ```
 */
export function detectPeArch(bytes: Uint8Array): PeArch | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < IMAGE_HEADER_SIZE) return undefined;
  const magic = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(IMAGE_MAGIC_OFFSET, true);
  if (magic === AARCH64_IMAGE_MAGIC) return "aarch64";
  if (magic === RISCV_IMAGE_MAGIC2) return "riscv64";
  return undefined;
}

/**
 * Whether `bytes` (at least the first 64) start an arm64 or riscv64 Image. A cheap check for dispatch.
 *
 * @example
 * ```ts
 * import { isPeImage } from "@linux-loader/linux-loader";
 * console.log(isPeImage(new Uint8Array(64))); // false
 * ```
 */
export function isPeImage(bytes: Uint8Array): boolean {
  return detectPeArch(bytes) !== undefined;
}

export { isGzip } from "../compress/gzip.ts";

function magicName(bytes: Uint8Array): string {
  const m = bytes.subarray(IMAGE_MAGIC_OFFSET, IMAGE_MAGIC_OFFSET + 4);
  return Array.from(
    m,
    (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`),
  )
    .join("");
}

/**
 * Decodes the 64-byte Image header (pure). Errors: `ReadImageHeader` when fewer than 64 bytes are given,
 * `InvalidImageMagicNumber` when the magic at 0x38 is neither "ARM\x64" nor "RSC\x05", `InvalidImage`
 * when `text_offset` or `image_size` is above 2^53.
 *
 * @example
 * ```ts
 * import { decodePeHeader } from "@linux-loader/linux-loader";
 * import { AARCH64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * const hdr = AARCH64_IMAGE_HEADER.encode({ text_offset: 0x80000n, image_size: 0x10000n, magic: 0x644d5241 });
 * console.log(decodePeHeader(hdr).textOffset.toString(16)); // 80000
 * ```
 */
export function decodePeHeader(bytes: Uint8Array): PeHeaderInfo {
  requireBytes(bytes, "bytes", PeError, "InvalidArgument");
  if (bytes.byteLength < IMAGE_HEADER_SIZE) {
    throw peError(
      "ReadImageHeader",
      `the image has ${bytes.byteLength} bytes, fewer than the ${IMAGE_HEADER_SIZE}-byte Image header`,
      { field: "header", value: bytes.byteLength, limit: IMAGE_HEADER_SIZE },
    );
  }
  const found = detectPeArch(bytes);
  if (found === undefined) {
    const want = '"ARM\\x64" or "RSC\\x05"';
    throw peError(
      "InvalidImageMagicNumber",
      `magic at ${hex(IMAGE_MAGIC_OFFSET)} is "${magicName(bytes)}", expected ${want}`,
      { field: "magic", value: magicName(bytes), limit: want },
    );
  }
  const header = found === "aarch64" ? AARCH64_IMAGE_HEADER.decode(bytes) : RISCV64_IMAGE_HEADER.decode(bytes);
  const safe = (v: bigint, field: string): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw peError("InvalidImage", `${field} = ${hex(v)} is above ${hex(Number.MAX_SAFE_INTEGER)}`, {
        field,
        value: v,
        limit: Number.MAX_SAFE_INTEGER,
      });
    }
    return Number(v);
  };
  const imageSize = safe(header.image_size, "image_size");
  // booting.rst: "Where image_size is zero, text_offset can be assumed to be 0x80000." (The riscv64
  // document has no such rule, and neither has the crate for riscv64.)
  const textOffset = found === "aarch64" && imageSize === 0
    ? AARCH64_DEFAULT_TEXT_OFFSET
    : safe(header.text_offset, "text_offset");
  return { arch: found, textOffset, imageSize, flags: header.flags, header };
}

// The default base: the lowest 2 MiB boundary inside guest memory at or above highmemStart (0 when memory
// starts at 0, as the crate's default).
function defaultBase(mem: GuestMemory, floor: number): number {
  for (const r of mem.regions) {
    if (r.end <= floor) continue;
    const start = Math.ceil(Math.max(r.guestAddr, floor) / IMAGE_BASE_ALIGN) * IMAGE_BASE_ALIGN;
    if (start < r.end) return start;
  }
  return Math.ceil(floor / IMAGE_BASE_ALIGN) * IMAGE_BASE_ALIGN;
}

// imageBase + text_offset, after the base checks: a safe integer, 2 MiB aligned, no overflow.
function placeImage(mem: GuestMemory, info: PeHeaderInfo, options: LoadOptions): number {
  const base = options.imageBase ?? defaultBase(mem, options.highmemStart ?? 0);
  // booting.rst: "The Image must be placed text_offset bytes from a 2MB aligned base address".
  if (base % IMAGE_BASE_ALIGN !== 0) {
    throw new KernelLoaderError(
      "InvalidBaseAddrAlignment",
      `imageBase ${hex(base)} is not aligned to ${hex(IMAGE_BASE_ALIGN)} (2 MiB)`,
      { field: "imageBase", value: base, limit: IMAGE_BASE_ALIGN },
    );
  }
  const load = base + info.textOffset;
  if (!Number.isSafeInteger(load)) {
    throw peError(
      "InvalidImage",
      `imageBase ${hex(base)} + text_offset ${hex(info.textOffset)} passes ${hex(Number.MAX_SAFE_INTEGER)}`,
      { field: "text_offset", value: info.textOffset, limit: Number.MAX_SAFE_INTEGER - base },
    );
  }
  checkHighmem(load, options, "Image load address");
  return load;
}

// The plan of an Image of `imageLength` bytes whose first 64 bytes are `header`, checked against `mem`.
function planImage(
  mem: GuestMemory,
  header: Uint8Array,
  imageLength: number,
  options: LoadOptions,
  compressed?: { method: PayloadMethod; zboot?: ZbootHeader },
): PeLoadResult {
  const info = decodePeHeader(header);
  checkArch(info.arch, options);
  const load = placeImage(mem, info, options);
  const loadEnd = load + imageLength;
  if (!Number.isSafeInteger(loadEnd)) {
    throw new KernelLoaderError(
      "MemoryOverflow",
      `kernel end ${hex(load)} + ${hex(imageLength)} passes ${hex(Number.MAX_SAFE_INTEGER)}`,
      { field: "kernelEnd", value: load, limit: Number.MAX_SAFE_INTEGER },
    );
  }
  const kernelEnd = Math.max(loadEnd, load + info.imageSize);
  const plan: Plan = {
    steps: [{ kind: "copy", guestAddr: load, length: imageLength, sourceOffset: 0, label: `${info.arch} Image` }],
  };
  validatePlan(mem, plan);
  if (options.checkImageSize && kernelEnd > loadEnd) {
    validatePlan(mem, {
      steps: [{ kind: "fill", guestAddr: load, length: kernelEnd - load, value: 0, label: "image_size" }],
    });
  }
  return {
    format: "pe",
    arch: info.arch,
    entry: { image: load },
    loadStart: load,
    loadEnd,
    kernelEnd,
    plan,
    details: compressed === undefined
      ? info
      : { ...info, compression: compressed.method, ...(compressed.zboot ? { zboot: compressed.zboot } : {}) },
  };
}

/**
 * Plans the load of an arm64 or riscv64 Image, plain or gzip-compressed, checked against guest memory,
 * without writing: the header decoded, the load address `imageBase + text_offset` checked (2 MiB aligned
 * base), one copy planned and validated (with `checkImageSize`, the `image_size` range too). For gzip input
 * this inflates the whole stream once (discarding it) to measure it and prove it intact.
 * Errors as {@linkcode loadPe}.
 *
 * @example
 * ```ts
 * import { GuestMemory, planPe } from "@linux-loader/linux-loader";
 * import { AARCH64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * const mem = GuestMemory.fromRanges([[0x4000_0000, 16 << 20]]);
 * const image = new Uint8Array(0x1000);
 * image.set(AARCH64_IMAGE_HEADER.encode({ image_size: 0x2000n, magic: 0x644d5241 }));
 * const p = await planPe(mem, image);
 * console.log(p.entry.image?.toString(16), p.loadEnd.toString(16), p.kernelEnd.toString(16)); // 40000000 40001000 40002000
 * ```
 */
export async function planPe(
  mem: GuestMemory,
  source: KernelSource | Uint8Array,
  options: LoadOptions = {},
): Promise<PeLoadResult> {
  const src = toSource(source);
  checkLoadOptions("pe", options);
  checkSourceSize(src.size, "SeekImageEnd", "kernel image");
  const head = await readHead(src, Math.min(src.size, IMAGE_HEADER_SIZE), "SeekImageHeader", "ReadImageHeader");
  if (!isGzip(head) && !isZboot(head)) return planImage(mem, head, src.size, options);
  return (await planCompressed(mem, src, head, options, true)).plan;
}

// Maps a source failure to the PE code for that stage: a positioning failure to the Seek* code, anything
// else to the Read* code (the crate's split between seek and read errors).
function sourceFailure(e: unknown, seek: PeErrorCode, read: PeErrorCode, what: string): unknown {
  if (e instanceof PeError || e instanceof KernelLoaderError) return e;
  if (e instanceof SourceError && e.code === "LoadInterrupted") return e; // memory already scrubbed
  const code = e instanceof SourceError && e.code === "OffsetPastEnd" ? seek : read;
  return peError(code, `${what}: ${(e as Error)?.message ?? String(e)}`, { field: what, cause: e });
}

function checkSourceSize(size: number, code: PeErrorCode, what: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw peError(code, `${what} size ${String(size)} is not a non-negative safe integer`, {
      field: what,
      value: String(size),
      limit: Number.MAX_SAFE_INTEGER,
    });
  }
}

/**
 * Loads an arm64 or riscv64 Image, plain, gzip-compressed or in an EFI zboot image (any of its six
 * payload methods), into guest memory at `imageBase + text_offset` (the crate's `PE::load`). A plain
 * Image: {@linkcode planPe}, then the one write. A compressed one is decoded straight into the planned
 * range (no second copy of the image); guest memory is byte for byte as before when the load fails: over
 * all-zero memory one pass writes and a failure zeroes it again (`details.strategy` `"zero-restore"`),
 * otherwise a verifying pass proves the payload intact before the writing pass (`"verify-then-write"`).
 * An `Image.gz` from a `fromFile` source is streamed into the decoder (about 385 KiB of it held at
 * a time, never the whole file); the file failing or changing during the writing pass zeroes the planned
 * range and throws `SourceError` `LoadInterrupted` (as any copy from a failing source does).
 *
 * Errors ({@linkcode PeError} unless noted): `SeekImageEnd` (the source has no usable size),
 * `ReadImageHeader` (shorter than 64 bytes), `SeekImageHeader` / `ReadKernelImage` (the source failed),
 * `InvalidImageMagicNumber`, `InvalidImage` (also a zboot header naming no method the kernel builds, a
 * payload outside the file, a PE machine other than the Image's), `CorruptGzip`, `CorruptPayload` (a zboot
 * payload of another method), `DecompressedTooLarge`; and
 * {@linkcode KernelLoaderError} `InvalidBaseAddrAlignment` (`imageBase` not 2 MiB aligned), `ArchMismatch`,
 * `InvalidOption`, `InvalidKernelStartAddress` (below `highmemStart`), `MemoryOverflow` (does not fit).
 *
 * @example
 * ```ts
 * import { GuestMemory, loadPe } from "@linux-loader/linux-loader";
 * import { AARCH64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * const image = new Uint8Array(0x1000);
 * image.set(AARCH64_IMAGE_HEADER.encode({ text_offset: 0x80000n, image_size: 0x1000n, magic: 0x644d5241 }));
 * const r = await loadPe(mem, image, { imageBase: 0x200000 });
 * console.log(r.entry.image?.toString(16), r.loadEnd.toString(16)); // 280000 281000
 * ```
 */
export async function loadPe(
  mem: GuestMemory,
  source: KernelSource | Uint8Array,
  options: LoadOptions = {},
): Promise<PeLoadResult> {
  const src = toSource(source);
  checkLoadOptions("pe", options);
  checkSourceSize(src.size, "SeekImageEnd", "kernel image");
  const head = await readHead(src, Math.min(src.size, IMAGE_HEADER_SIZE), "SeekImageHeader", "ReadImageHeader");
  if (isGzip(head) || isZboot(head)) {
    // The decode straight into the planned range; `verified` once a measuring pass has proven the payload.
    const decodeInto = (p: CompressedPlan, verified: boolean) =>
      decompressPayloadIntoGuest(
        mem,
        p.plan.loadStart,
        p.method,
        p.payload,
        p.plan.loadEnd - p.plan.loadStart,
        verified,
      );
    let c = await planCompressed(mem, src, head, options, false);
    let strategy: "zero-restore" | "verify-then-write";
    try {
      strategy = decodeInto(c, false);
    } catch (e) {
      if (!(e instanceof DecompressError)) throw e;
      // Memory is as it was. The trailer's size may have been the wrong guess (a multi-member gzip, an
      // ISIZE past the room): measure it, which also names the fault right, then write.
      c = await planCompressed(mem, src, head, options, true);
      try {
        strategy = decodeInto(c, true);
      } catch (e2) {
        throw payloadFailure(e2, c.method, c.zboot !== undefined);
      }
    }
    return { ...c.plan, details: { ...c.plan.details, strategy } };
  }
  const p = planImage(mem, head, src.size, options);
  try {
    await applyPlan(mem, p.plan, src);
  } catch (e) {
    throw sourceFailure(e, "ReadKernelImage", "ReadKernelImage", "kernel image");
  }
  return p;
}

async function readHead(src: KernelSource, len: number, seek: PeErrorCode, read: PeErrorCode): Promise<Uint8Array> {
  const out = new Uint8Array(len);
  try {
    if (src.bytes !== undefined) out.set(src.bytes.subarray(0, len));
    else await src.readInto(0, out);
  } catch (e) {
    throw sourceFailure(e, seek, read, "image header");
  }
  return out;
}

// ---- compressed Images: Image.gz and EFI zboot ----------------------------------------------------------

/** How far into a zboot file its PE header may be looked for (zboot-header.S puts it right after 0x40). */
const ZBOOT_HEAD_READ = 4096;

/** A planned compressed load: the plan, the payload bytes and whether its size was proven by a full decode. */
interface CompressedPlan {
  plan: PeLoadResult;
  method: PayloadMethod;
  payload: PayloadInput;
  verified: boolean;
  zboot?: ZbootHeader;
}

// A decoder's error as the PE code for it: past the limit is DecompressedTooLarge, anything else corrupt.
function payloadFailure(e: unknown, method: PayloadMethod, zboot: boolean, limit?: number): unknown {
  if (!(e instanceof DecompressError)) return e;
  if (e.code === "OutputTooLarge" && limit !== undefined) {
    return peError(
      "DecompressedTooLarge",
      `the decompressed image passes ${
        hex(limit)
      } bytes (the room in guest memory at the load address or maxDecompressedSize)`,
      { field: "decompressed size", value: e.value, limit, cause: e },
    );
  }
  const what = zboot ? `the zboot ${method} payload` : "the gzip stream";
  return peError(method === "gzip" ? "CorruptGzip" : "CorruptPayload", `${what} is corrupt: ${e.message}`, {
    field: method,
    cause: e,
  });
}

async function readRange(src: KernelSource, start: number, end: number): Promise<Uint8Array> {
  try {
    return src.bytes !== undefined ? src.bytes.subarray(start, end) : await readBytes(src, start, end - start);
  } catch (e) {
    throw sourceFailure(e, "ReadKernelImage", "ReadKernelImage", "compressed kernel image");
  }
}

// Plans a compressed Image: the header from the first decoded bytes, the size from the trailer (gzip ISIZE,
// the zboot size trailer) when it fits, else from a counting pass that also proves the payload intact
// (always done when `verify`).
async function planCompressed(
  mem: GuestMemory,
  src: KernelSource,
  head: Uint8Array,
  options: LoadOptions,
  verify: boolean,
): Promise<CompressedPlan> {
  let zboot: ZbootHeader | undefined;
  let payload: PayloadInput;
  const read = src.bytes === undefined ? syncReader(src) : undefined;
  if (isZboot(head)) {
    const zhead = await readHead(src, Math.min(src.size, ZBOOT_HEAD_READ), "SeekImageHeader", "ReadImageHeader");
    zboot = decodeZbootHeader(zhead, src.size);
    payload = await readRange(src, zboot.payloadOffset, zboot.payloadEnd);
  } else if (read !== undefined) {
    // An Image.gz from a file: streamed into the decoder in windows, never held whole (its read errors as
    // readRange's).
    payload = {
      size: src.size,
      read(offset: number, dest: Uint8Array): void {
        try {
          read(offset, dest);
        } catch (e) {
          throw sourceFailure(e, "ReadKernelImage", "ReadKernelImage", "compressed kernel image");
        }
      },
    };
  } else {
    payload = await readRange(src, 0, src.size);
  }
  const method: PayloadMethod = zboot?.method ?? "gzip";
  let header: Uint8Array;
  try {
    header = payloadPrefixOf(method, payload, IMAGE_HEADER_SIZE);
  } catch (e) {
    throw payloadFailure(e, method, zboot !== undefined);
  }
  if (header.byteLength < IMAGE_HEADER_SIZE) {
    throw peError(
      "ReadImageHeader",
      `the decompressed image has ${header.byteLength} bytes, fewer than the ${IMAGE_HEADER_SIZE}-byte Image header`,
      { field: "header", value: header.byteLength, limit: IMAGE_HEADER_SIZE },
    );
  }
  const info = decodePeHeader(header);
  if (zboot !== undefined && zboot.arch !== info.arch) {
    throw peError("InvalidImage", `the zboot PE header says ${zboot.arch} but its payload is a ${info.arch} Image`, {
      field: "machine",
      value: zboot.arch,
      limit: info.arch,
    });
  }
  checkArch(info.arch, options);
  const load = placeImage(mem, info, options);
  const limit = Math.min(
    options.maxDecompressedSize ?? Number.MAX_SAFE_INTEGER,
    Math.max(contiguousFrom(mem, load), IMAGE_HEADER_SIZE),
  );
  const trailer = payloadTrailer(payload);
  let size: number;
  let verified = false;
  if (!verify && trailer >= IMAGE_HEADER_SIZE && trailer <= limit) {
    size = trailer;
  } else {
    try {
      size = measurePayload(method, payload, limit);
    } catch (e) {
      throw payloadFailure(e, method, zboot !== undefined, limit);
    }
    verified = true;
  }
  const plan = planImage(mem, header, size, options, { method, zboot });
  return { plan, method, payload, verified, zboot };
}

// Bytes of guest memory from `addr` up to the first byte in no region (adjacent regions count as one run).
function contiguousFrom(mem: GuestMemory, addr: number): number {
  let end = addr;
  for (const r of mem.regions) {
    if (r.guestAddr <= end && r.end > end) end = r.end;
  }
  return end - addr;
}

// ---- device tree blob -----------------------------------------------------------------------------------

/**
 * Copies a device tree blob from a source into guest memory at `guestAddr` (the crate's `load_dtb`).
 * Errors: `SeekDtbEnd` (the source has no usable size), `DtbTooBig` (more than {@linkcode DTB_MAX_SIZE}),
 * `SeekDtbStart` / `ReadDtbImage` (the source failed), {@linkcode KernelLoaderError} `MemoryOverflow`
 * (the range is not guest memory; nothing is written).
 *
 * @example
 * ```ts
 * import { GuestMemory, loadDtb } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
 * await loadDtb(mem, 0x1000, new Uint8Array([0xd0, 0x0d, 0xfe, 0xed]));
 * console.log(mem.readU8(0x1000).toString(16)); // d0
 * ```
 */
export async function loadDtb(mem: GuestMemory, guestAddr: number, dtb: KernelSource | Uint8Array): Promise<void> {
  const src = toSource(dtb);
  checkSourceSize(src.size, "SeekDtbEnd", "device tree");
  if (src.size > DTB_MAX_SIZE) {
    throw peError("DtbTooBig", `the device tree has ${hex(src.size)} bytes, more than ${hex(DTB_MAX_SIZE)} (2 MiB)`, {
      field: "dtb size",
      value: src.size,
      limit: DTB_MAX_SIZE,
    });
  }
  const plan: Plan = {
    steps: [{ kind: "copy", guestAddr, length: src.size, sourceOffset: 0, label: "device tree" }],
  };
  validatePlan(mem, plan, src.size);
  try {
    await applyPlan(mem, plan, src);
  } catch (e) {
    throw sourceFailure(e, "SeekDtbStart", "ReadDtbImage", "device tree");
  }
}
