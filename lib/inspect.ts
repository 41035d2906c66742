/**
 * What a kernel image is, as data: format, architecture, boot protocol, entry points, load ranges, the
 * header fields a VMM cares about, the kernel version string and the payload compression. Nothing is
 * written anywhere; the CLI's `inspect` prints this report.
 *
 * @module
 */

import { hex } from "./errors.ts";
import { type KernelSource, readBytes, toSource } from "./source.ts";
import { DETECT_BYTES, type DetectedKernel, detectKernel } from "./loader/mod.ts";
import { isElf, planElf } from "./loader/elf.ts";
import { decodeBzImage } from "./loader/bzimage.ts";
import { decodePeHeader, type PeArch } from "./loader/pe.ts";
import { findBzImagePayload, PAYLOAD_PROTOCOL } from "./loader/extract.ts";
import { findMultiboot2Header, findMultibootHeader } from "./loader/multiboot.ts";
import { decodeArm64Flags } from "./abi/image.ts";
import { BOOT_PROTOCOL, KERNEL_VERSION_BIAS, LOADED_HIGH, STARTUP_64_OFFSET, XLF_KERNEL_64 } from "./abi/bootparam.ts";
import { ELF32_EHDR, PT_LOAD } from "./abi/elf.ts";

/** One range of guest memory the image occupies once loaded. */
export interface LoadRange {
  /** What it is ("PT_LOAD[0]", "protected-mode kernel", "Image"). */
  label: string;
  /** First guest address (at the image's default placement). */
  start: number;
  /** One past the last guest address, bss included. */
  end: number;
  /** Bytes that come from the file (the rest is zero-filled). */
  fileSize: number;
  /** File offset of those bytes. */
  fileOffset: number;
}

/** The report {@linkcode inspectKernel} returns. */
export interface KernelReport extends DetectedKernel {
  /** Image size in bytes. */
  size: number;
  /** The boot protocol, in words ("Linux boot protocol 2.15", "ELF vmlinux (Linux 64-bit, PVH)"). */
  protocol: string;
  /** The kernel's own version string ("6.1.0-56-cloud-amd64 ..."), when the image carries one in the clear. */
  version?: string;
  /** Entry points by protocol: `linux64` (64-bit boot protocol), `pvh` (32-bit PVH), `image`, `multiboot`. */
  entries: Record<string, number>;
  /** Ranges the kernel occupies at its default placement. */
  loadRanges: LoadRange[];
  /** Header fields a VMM cares about, by their C names (setup_header, Image header, Multiboot header). */
  fields: Record<string, number | string | boolean>;
  /** The compressed payload inside a bzImage. */
  payload?: { compression: string; offset: number; length: number };
}

/** Bytes searched for the version banner, so a hostile image cannot make inspection read forever. */
export const VERSION_SCAN_LIMIT = 256 << 20;

const ELF32_E_ENTRY = ELF32_EHDR.offsetOf("e_entry");

const BANNER = new TextEncoder().encode("Linux version ");

function cString(bytes: Uint8Array, at: number, max = 256): string {
  let end = at;
  while (end < bytes.length && end < at + max && bytes[end] !== 0) end++;
  return new TextDecoder("latin1").decode(bytes.subarray(at, end));
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

// Finds "Linux version <...>" in the image, reading it in chunks (with an overlap for a banner split
// between two chunks). Returns the text after the prefix, up to the first NUL or newline.
async function scanVersion(src: KernelSource): Promise<string | undefined> {
  const chunk = 4 << 20, overlap = 512;
  const limit = Math.min(src.size, VERSION_SCAN_LIMIT);
  for (let off = 0; off < limit; off += chunk - overlap) {
    const bytes = await readBytes(src, off, Math.min(chunk, limit - off));
    const at = indexOf(bytes, BANNER);
    if (at >= 0 && at + BANNER.length < bytes.length) {
      const s = cString(bytes, at + BANNER.length).split("\n")[0];
      // A banner ends with the compiler and build date; a format string ("%s") is not the banner.
      if (!s.includes("%s")) return s.trim();
    }
    if (off + chunk >= limit) break;
  }
  return undefined;
}

/**
 * Inspects an image without loading it.
 *
 * @example
 * ```ts
 * import { ARM64_IMAGE_HEADER, inspectKernel } from "@linux-loader/linux-loader";
 * const image = new Uint8Array(0x1000);
 * image.set(ARM64_IMAGE_HEADER.encode({ text_offset: 0x80000n, image_size: 0x1000n, magic: 0x644d5241 }));
 * const r = await inspectKernel(image);
 * console.log(r.format, r.arch, r.protocol); // pe aarch64 arm64 Image (Linux arm64 booting protocol)
 * ```
 */
export async function inspectKernel(input: KernelSource | Uint8Array): Promise<KernelReport> {
  const src = toSource(input);
  const detected = await detectKernel(src);
  const report: KernelReport = {
    ...detected,
    size: src.size,
    protocol: "",
    entries: {},
    loadRanges: [],
    fields: {},
  };
  switch (detected.format) {
    case "elf": {
      const p = await planElf(src);
      report.entries.linux64 = p.entry;
      if (p.pvhBootCap.kind === "present") report.entries.pvh = p.pvhBootCap.address;
      report.protocol = p.pvhBootCap.kind === "present"
        ? "ELF vmlinux (Linux 64-bit boot protocol and PVH)"
        : "ELF vmlinux (Linux 64-bit boot protocol)";
      report.fields = { e_entry: p.entry, e_phnum: p.ehdr.e_phnum, e_machine: p.ehdr.e_machine };
      p.phdrs.forEach((ph, i) => {
        if (ph.p_type !== PT_LOAD) return;
        const start = Number(ph.p_paddr);
        report.loadRanges.push({
          label: `PT_LOAD[${i}]`,
          start,
          end: start + Number(ph.p_memsz),
          fileSize: Number(ph.p_filesz),
          fileOffset: Number(ph.p_offset),
        });
      });
      report.version = await scanVersion(src);
      break;
    }
    case "bzimage": {
      const info = await decodeBzImage(src);
      const h = info.setupHeader;
      report.protocol = `Linux boot protocol ${info.version >> 8}.${(info.version & 0xff).toString().padStart(2, "0")}`;
      // boot.rst, XLF_KERNEL_64: "This kernel has the legacy 64-bit entry point at 0x200." From 2.12 on a
      // kernel without the flag (a 32-bit one) has no such entry; before 2.12 the header cannot say.
      if (info.version < BOOT_PROTOCOL.XLOADFLAGS || (info.xloadflags & XLF_KERNEL_64) !== 0) {
        report.entries.linux64 = info.code32Start + STARTUP_64_OFFSET;
      }
      report.loadRanges.push({
        label: "protected-mode kernel",
        start: info.code32Start,
        end: info.code32Start + Math.max(info.kernelSize, info.initSize ?? 0),
        fileSize: info.kernelSize,
        fileOffset: info.setupSize,
      });
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
        cmdline_size: info.cmdlineSize,
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
      if (detected.compression === "gzip") {
        report.protocol = `${detected.arch === "aarch64" ? "arm64" : "riscv64"} Image, gzip-compressed`;
        break;
      }
      const head = await readBytes(src, 0, Math.min(src.size, 64));
      const h = decodePeHeader(head, detected.arch as PeArch);
      report.protocol = detected.arch === "aarch64"
        ? "arm64 Image (Linux arm64 booting protocol)"
        : "riscv64 Image (Linux RISC-V boot image header)";
      report.entries.image = h.textOffset;
      report.loadRanges.push({
        label: "Image",
        start: h.textOffset,
        end: h.textOffset + Math.max(h.imageSize, src.size),
        fileSize: src.size,
        fileOffset: 0,
      });
      report.fields = { text_offset: hex(h.textOffset), image_size: hex(h.imageSize), flags: hex(h.flags) };
      if (detected.arch === "aarch64") {
        const f = decodeArm64Flags(h.flags);
        for (const [k, v] of Object.entries(f)) {
          report.fields[`flags.${k}`] = typeof v === "bigint" ? hex(v) : v as number | boolean;
        }
      }
      report.version = await scanVersion(src);
      break;
    }
    case "multiboot":
    case "multiboot2": {
      const head = await readBytes(src, 0, Math.min(src.size, DETECT_BYTES));
      // An ELF32 kernel enters at e_entry; an a.out-kludge one at the header's entry address.
      if (head.length >= ELF32_E_ENTRY + 4 && isElf(head)) {
        report.entries.multiboot = new DataView(head.buffer, head.byteOffset).getUint32(ELF32_E_ENTRY, true);
      }
      if (detected.format === "multiboot") {
        const f = findMultibootHeader(head)!;
        report.protocol = "Multiboot 1";
        report.fields = { header_offset: f.offset, flags: hex(f.header.flags) };
        if (f.size >= 32) {
          Object.assign(report.fields, {
            load_addr: hex(f.header.load_addr),
            load_end_addr: hex(f.header.load_end_addr),
            bss_end_addr: hex(f.header.bss_end_addr),
            entry_addr: hex(f.header.entry_addr),
          });
          report.entries.multiboot = f.header.entry_addr;
        }
      } else {
        const f = findMultiboot2Header(head)!;
        report.protocol = "Multiboot2";
        report.fields = {
          header_offset: f.offset,
          architecture: f.header.architecture,
          header_length: f.header.header_length,
          info_requests: f.infoRequests.flatMap((r) => r.types).join(","),
          module_align: f.moduleAlign,
        };
        if (f.entryAddr !== undefined) report.entries.multiboot = f.entryAddr;
      }
      break;
    }
  }
  return report;
}
