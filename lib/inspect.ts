/**
 * What a kernel image is, as data: format, architecture, boot protocol, entry points, load ranges, the
 * header fields a VMM cares about, the kernel version string and the payload compression. Nothing is
 * written anywhere; the CLI's `inspect` prints this report.
 *
 * @module
 */

import { showValue } from "./guard.ts";
import { hex } from "./errors.ts";
import { type KernelSource, readBytes, toSource } from "./source.ts";
import { type DetectedKernel, detectKernel, type LoadResult } from "./loader/mod.ts";
import type { KernelEntries } from "./loader/contract.ts";
import { decodeElf } from "./loader/elf.ts";
import { decodeBzImageLoad } from "./loader/bzimage.ts";
import { decodePeHeader, type PeArch } from "./loader/pe.ts";
import { findBzImagePayload, PAYLOAD_PROTOCOL } from "./loader/extract.ts";
import { decodeMultibootLoad, findMultiboot2Header, findMultibootHeader } from "./loader/multiboot.ts";
import { gunzipPrefix } from "./compress/gzip.ts";
import { inflatingSource } from "./loader/gzip_source.ts";
import { payloadPrefix, sizeTrailer } from "./loader/payload.ts";
import { decodeZbootHeader, type ZbootHeader } from "./loader/zboot.ts";
import { decodeAarch64Flags, IMAGE_HEADER_SIZE } from "./abi/image.ts";
import { KERNEL_VERSION_BIAS, LOADED_HIGH } from "./abi/bootparam.ts";
import { EM_386, EM_X86_64, PT_LOAD } from "./abi/elf.ts";
import { plannedRanges } from "./plan.ts";

/**
 * RAM base of QEMU's `virt` machines (and of emu's `bootKernel`): where {@linkcode inspectKernel} places an
 * arm64 or riscv64 Image to report its addresses, since an Image itself names no address.
 *
 * @example
 * ```ts
 * import { VIRT_RAM_BASE } from "@linux-loader/linux-loader";
 * console.log(VIRT_RAM_BASE.aarch64.toString(16), VIRT_RAM_BASE.riscv64.toString(16)); // 40000000 80000000
 * ```
 */
export const VIRT_RAM_BASE: Readonly<Record<PeArch, number>> = Object.freeze({
  aarch64: 0x4000_0000,
  riscv64: 0x8000_0000,
});

/** One range of guest memory the image occupies once loaded. */
export interface LoadRange {
  /** What it is ("PT_LOAD[0]", "bzImage protected-mode kernel", "aarch64 Image"). */
  label: string;
  /** First guest address (at the placement the report names). */
  start: number;
  /** One past the last guest address, bss included. */
  end: number;
  /** Bytes that come from the file (the rest is zero-filled); for gzip input, from the decompressed image. */
  fileSize: number;
  /** Offset of those bytes in the (decompressed) image. */
  fileOffset: number;
}

/** The report {@linkcode inspectKernel} returns. */
export interface KernelReport extends DetectedKernel {
  /** Image size in bytes (of the file, compressed or not). */
  size: number;
  /** The boot protocol, in words ("Linux boot protocol 2.15", "ELF vmlinux (Linux 64-bit, PVH)"). */
  protocol: string;
  /** The kernel's own version string ("6.1.0-56-cloud-amd64 ..."), when the image carries one in the clear. */
  version?: string;
  /** Where the addresses below assume the kernel goes ("link-time addresses", "code32_start", ...). */
  placement: string;
  /** Entry points by protocol, as guest addresses at that placement: what the loader would return. */
  entry: KernelEntries;
  /** Ranges the kernel occupies at that placement: what the loader's plan writes. */
  loadRanges: LoadRange[];
  /** One past the highest address the kernel claims (the loader's `kernelEnd`), when known. */
  kernelEnd?: number;
  /**
   * Header fields a VMM cares about, by their C names (setup_header, Image header, Multiboot header):
   * addresses, sizes, offsets and flags as hex strings, counts as numbers, switches as booleans.
   */
  fields: Record<string, number | string | boolean>;
  /** The compressed payload inside a bzImage. */
  payload?: { compression: string; offset: number; length: number };
}

/**
 * Bytes searched for the version banner, so a hostile image cannot make inspection read forever.
 *
 * @example
 * ```ts
 * import { VERSION_SCAN_LIMIT } from "@linux-loader/linux-loader/abi";
 * console.log(VERSION_SCAN_LIMIT.toString(16)); // 10000000
 * ```
 */
export const VERSION_SCAN_LIMIT = 256 << 20;

const BANNER = new TextEncoder().encode("Linux version ");

/**
 * Text taken from an image, made safe to print: every control character (C0, DEL and C1, which include the
 * escape and CSI bytes of terminal sequences) and the backslash are written as `\xNN` / `\\`, so an image
 * cannot clear a screen, move the cursor or forge a line of a report. {@linkcode inspectKernel} applies it to
 * every string it takes from an image (the version banner).
 *
 * @example
 * ```ts
 * import { escapeImageText } from "@linux-loader/linux-loader";
 * console.log(escapeImageText("6.1.0\x1b[2J\nentry 0x0")); // 6.1.0\x1b[2J\x0aentry 0x0
 * ```
 */
export function escapeImageText(s: string): string {
  return (typeof s === "string" ? s : showValue(s)).replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f-\x9f\\]/g,
    (c) => (c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`),
  );
}

// A NUL-terminated string of the image, at most `max` bytes, escaped for printing.
function cString(bytes: Uint8Array, at: number, max = 256): string {
  let end = at;
  while (end < bytes.length && end < at + max && bytes[end] !== 0) end++;
  return escapeImageText(new TextDecoder("latin1").decode(bytes.subarray(at, end)));
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  outer: for (
    let i = hay.indexOf(first, from);
    i >= 0 && i <= hay.length - needle.length;
    i = hay.indexOf(first, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// The kernel's own banner, `linux_banner` in init/version.c: "... #<build number> SMP ...". Debian's images
// also carry an earlier copy with the build number left out ("... # SMP ..."); the numbered one is the banner.
const NUMBERED_BUILD = /#\d/;

// Finds "Linux version <...>" in the image, reading it in chunks (with an overlap for a banner split
// between two chunks). Returns the text after the prefix, up to the first NUL or newline: the first banner
// with a build number, else the first that is not a format string, else undefined.
async function scanVersion(src: KernelSource): Promise<string | undefined> {
  const chunk = 4 << 20, overlap = 512;
  const limit = Math.min(src.size, VERSION_SCAN_LIMIT);
  let fallback: string | undefined;
  for (let off = 0; off < limit; off += chunk - overlap) {
    const bytes = await readBytes(src, off, Math.min(chunk, limit - off));
    for (let at = indexOf(bytes, BANNER); at >= 0; at = indexOf(bytes, BANNER, at + 1)) {
      // A banner cut by the chunk's end is read again, whole, from the next chunk (the overlap).
      if (at + BANNER.length + 256 > bytes.length && off + bytes.length < limit) break;
      const raw = new TextDecoder("latin1").decode(bytes.subarray(at + BANNER.length, at + BANNER.length + 256));
      const s = raw.split(/[\0\n]/)[0].trim();
      // A banner ends with the compiler and build date; a format string ("%s") is not the banner.
      if (s.includes("%s") || s === "") continue;
      if (NUMBERED_BUILD.test(s)) return escapeImageText(s);
      fallback ??= escapeImageText(s);
    }
    if (off + chunk >= limit) break;
  }
  return fallback;
}

function rangesOf(r: LoadResult): LoadRange[] {
  const copies = new Map<string, { sourceOffset: number; length: number }>();
  for (const st of r.plan.steps) if (st.kind === "copy") copies.set(st.label, st);
  const out: LoadRange[] = [];
  for (const pr of plannedRanges(r.plan)) {
    const c = copies.get(pr.label);
    const bss = pr.label.endsWith(" bss")
      ? out.find((o) => `${o.label} bss` === pr.label && o.end === pr.start)
      : undefined;
    if (bss !== undefined) bss.end = pr.end;
    else {out.push({
        label: pr.label,
        start: pr.start,
        end: pr.end,
        fileSize: c?.length ?? 0,
        fileOffset: c?.sourceOffset ?? 0,
      });}
  }
  return out;
}

const MACHINES: Record<number, string> = { [EM_386]: "EM_386", [EM_X86_64]: "EM_X86_64" };

// The decompressed size a gzip file states in its trailer (ISIZE: "the size of the original (uncompressed)
// input data modulo 2^32", RFC 1952); Image files are far below 4 GiB.
async function gzipIsize(src: KernelSource): Promise<number> {
  const t = await readBytes(src, src.size - 4, 4);
  return new DataView(t.buffer, t.byteOffset, 4).getUint32(0, true);
}

/**
 * Inspects an image without loading it: the facts a loader would report (entry points, load ranges,
 * `kernelEnd`) at the image's own placement, plus header fields, version and compression.
 *
 * @example
 * ```ts
 * import { inspectKernel } from "@linux-loader/linux-loader";
 * import { AARCH64_IMAGE_HEADER } from "@linux-loader/linux-loader/abi";
 * const image = new Uint8Array(0x1000);
 * image.set(AARCH64_IMAGE_HEADER.encode({ text_offset: 0x80000n, image_size: 0x1000n, magic: 0x644d5241 }));
 * const r = await inspectKernel(image);
 * console.log(r.format, r.arch, r.entry.image?.toString(16)); // pe aarch64 40080000
 * ```
 */
export async function inspectKernel(input: KernelSource | Uint8Array): Promise<KernelReport> {
  const src = toSource(input);
  const detected = await detectKernel(src);
  const report: KernelReport = {
    ...detected,
    size: src.size,
    protocol: "",
    placement: "",
    entry: {},
    loadRanges: [],
    fields: {},
  };
  const take = (r: LoadResult): void => {
    report.entry = r.entry;
    report.loadRanges = rangesOf(r);
    report.kernelEnd = r.kernelEnd;
  };
  switch (detected.format) {
    case "elf": {
      const p = await decodeElf(src);
      take(p);
      report.placement = "link-time addresses (p_paddr)";
      report.version = await scanVersion(src);
      // A Linux vmlinux carries its banner; any other x86_64 ELF is loaded the same way but is not one.
      const kind = report.version !== undefined ? "ELF vmlinux" : "x86_64 ELF executable, no Linux banner";
      report.protocol = p.entry.pvh !== undefined
        ? `${kind} (Linux 64-bit boot protocol and PVH)`
        : `${kind} (Linux 64-bit boot protocol)`;
      const m = p.details.ehdr.e_machine;
      report.fields = {
        e_entry: hex(p.details.ehdr.e_entry),
        e_machine: MACHINES[m] === undefined ? hex(m) : `${hex(m)} (${MACHINES[m]})`,
        e_phnum: p.details.ehdr.e_phnum,
        pt_load_segments: p.details.phdrs.filter((ph) => ph.p_type === PT_LOAD).length,
      };
      break;
    }
    case "bzimage": {
      const p = await decodeBzImageLoad(src);
      take(p);
      const info = p.details.info;
      const h = info.setupHeader;
      report.placement = "code32_start";
      report.protocol = `Linux boot protocol ${info.version >> 8}.${(info.version & 0xff).toString().padStart(2, "0")}`;
      report.fields = {
        version: hex(info.version),
        setup_sects: info.setupSects,
        loadflags: hex(h.loadflags),
        loaded_high: (h.loadflags & LOADED_HIGH) !== 0,
        code32_start: hex(info.code32Start),
        relocatable_kernel: info.relocatable,
        kernel_alignment: info.kernelAlignment === undefined ? "n/a" : hex(info.kernelAlignment),
        pref_address: info.prefAddress === undefined ? "n/a" : hex(info.prefAddress),
        init_size: info.initSize === undefined ? "n/a" : hex(info.initSize),
        xloadflags: hex(info.xloadflags),
        cmdline_size: hex(info.cmdlineSize),
        initrd_addr_max: hex(info.initrdAddrMax),
      };
      if (h.kernel_version !== 0) {
        const at = h.kernel_version + KERNEL_VERSION_BIAS;
        if (at < src.size) report.version = cString(await readBytes(src, at, Math.min(256, src.size - at)), 0);
      }
      if (info.version >= PAYLOAD_PROTOCOL && h.payload_length > 0) {
        const pl = await findBzImagePayload(src);
        report.payload = { compression: pl.compression ?? "unknown", offset: pl.offset, length: pl.length };
      }
      break;
    }
    case "pe": {
      const gz = detected.compression !== undefined;
      let head: Uint8Array;
      let length: number;
      let zboot: ZbootHeader | undefined;
      if (detected.zboot !== undefined) {
        // An EFI zboot image: the Image is its payload, decoded only as far as its header; the size is the
        // payload's trailer (gzip ISIZE or the build's size_append): the padded Image, bss included.
        zboot = decodeZbootHeader(await readBytes(src, 0, Math.min(src.size, 4096)), src.size);
        const payload = await readBytes(src, zboot.payloadOffset, zboot.payloadEnd - zboot.payloadOffset);
        head = payloadPrefix(zboot.method, payload, IMAGE_HEADER_SIZE);
        length = sizeTrailer(payload);
      } else {
        head = gz
          ? await gunzipPrefix(await readBytes(src, 0, Math.min(src.size, 1 << 16)), IMAGE_HEADER_SIZE)
          : await readBytes(src, 0, Math.min(src.size, IMAGE_HEADER_SIZE));
        length = gz ? await gzipIsize(src) : src.size;
      }
      const h = decodePeHeader(head);
      const base = VIRT_RAM_BASE[h.arch];
      const load = base + h.textOffset;
      report.placement = `the ${h.arch} virt machine's RAM base ${hex(base)} + text_offset`;
      report.protocol =
        (h.arch === "aarch64"
          ? "arm64 Image (Linux arm64 booting protocol)"
          : "riscv64 Image (Linux RISC-V boot image header)") +
        (zboot !== undefined
          ? `, EFI zboot image, ${zboot.method}-compressed ("${zboot.compressionType}")`
          : gz
          ? ", gzip-compressed"
          : "");
      report.entry = { image: load };
      report.loadRanges = [{
        label: `${h.arch} Image`,
        start: load,
        end: load + length,
        fileSize: length,
        fileOffset: 0,
      }];
      report.kernelEnd = Math.max(load + length, load + h.imageSize);
      report.fields = { text_offset: hex(h.textOffset), image_size: hex(h.imageSize), flags: hex(h.flags) };
      if (gz) report.fields.decompressed_size = hex(length);
      if (zboot !== undefined) {
        report.fields.compression_type = zboot.compressionType;
        report.payload = { compression: zboot.method, offset: zboot.payloadOffset, length: zboot.payloadSize };
      }
      if (h.arch === "aarch64") {
        const f = decodeAarch64Flags(h.flags);
        for (const [k, v] of Object.entries(f)) {
          report.fields[`flags.${k}`] = typeof v === "number" || typeof v === "bigint" ? hex(v) : v;
        }
      }
      if (!gz) report.version = await scanVersion(src);
      break;
    }
    case "multiboot":
    case "multiboot2": {
      // A gzip-wrapped kernel is read inflated, as the load reads it.
      const gz = detected.compression === "gzip";
      const inner = gz ? await inflatingSource(src) : src;
      const p = await decodeMultibootLoad(detected.format === "multiboot" ? 1 : 2, undefined, inner);
      take(p);
      report.placement = p.details.placement === "elf32"
        ? "ELF32 program headers (p_paddr)"
        : "the header's address fields";
      const head = await readBytes(inner, 0, Math.min(inner.size, DETECT_BYTES_MULTIBOOT));
      const wrapped = gz ? ` (gzip-wrapped, ${inner.size} bytes inflated)` : "";
      if (detected.format === "multiboot") {
        const f = findMultibootHeader(head)!;
        report.protocol = `Multiboot 1${wrapped}`;
        report.fields = { header_offset: hex(f.offset), flags: hex(f.header.flags) };
        if (f.size >= 32) {
          Object.assign(report.fields, {
            load_addr: hex(f.header.load_addr),
            load_end_addr: hex(f.header.load_end_addr),
            bss_end_addr: hex(f.header.bss_end_addr),
            entry_addr: hex(f.header.entry_addr),
          });
        }
      } else {
        const f = findMultiboot2Header(head)!;
        report.protocol = `Multiboot2${wrapped}`;
        report.fields = {
          header_offset: hex(f.offset),
          architecture: f.header.architecture,
          header_length: hex(f.header.header_length),
          info_requests: f.infoRequests.flatMap((r) => r.types).join(","),
          module_align: f.moduleAlign,
        };
      }
      break;
    }
  }
  return report;
}

// Multiboot2 headers may sit anywhere in the first 32 KiB (Multiboot 1: 8 KiB).
const DETECT_BYTES_MULTIBOOT = 32768;
