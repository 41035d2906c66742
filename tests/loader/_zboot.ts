// Builds EFI zboot images as Linux's build does (drivers/firmware/efi/libstub/zboot-header.S, zboot.lds,
// Makefile.zboot), around any arm64 or riscv64 Image: the Image padded to its image_size ("vmlinux.bin"),
// compressed with the kernel's command for the method (scripts/Makefile.lib, with size_append but for
// gzip), placed as .gzdata at the start of .rodata after a stand-in .text (the EFI stub's code is not
// built here: a loader that is not EFI never runs it), then the header and PE/COFF tables with every field
// zboot-header.S writes.

import { runTool } from "../compress/_tools.ts";

/** Makefile.zboot's compression types and the command scripts/Makefile.lib runs for each. */
export const ZBOOT_TOOLS: Record<string, { cmd: string; args: string[]; sizeLen: number }> = {
  gzip: { cmd: "gzip", args: ["-n", "-f", "-9"], sizeLen: 0 }, // cmd_gzip
  lz4: { cmd: "lz4", args: ["-l", "-9", "-c"], sizeLen: 4 }, // cmd_lz4_with_size
  lzma: { cmd: "lzma", args: ["-9"], sizeLen: 4 }, // cmd_lzma_with_size
  lzo: { cmd: "lzop", args: ["-9"], sizeLen: 4 }, // cmd_lzo_with_size
  // cmd_xzkern_with_size runs scripts/xz_wrap.sh: CRC32 check, the arm64 BCJ filter, a 32 MiB dictionary.
  xzkern: { cmd: "xz", args: ["--check=crc32", "--arm64", "--lzma2=,dict=32MiB"], sizeLen: 4 },
  zstd22: { cmd: "zstd", args: ["-22", "--ultra", "-c"], sizeLen: 4 }, // cmd_zstd22_with_size
};

const MZ_MAGIC = 0x5a4d;
const LINUX_PE_MAGIC = 0x818223cd;
const PE_MAGIC = 0x00004550;
const MACHINE = { aarch64: 0xaa64, riscv64: 0x5064 } as const;
const PE_OPT_MAGIC_PE32PLUS = 0x20b;
const IMAGE_FILE_EXECUTABLE_IMAGE = 0x0002;
const IMAGE_FILE_LINE_NUMS_STRIPPED = 0x0004;
const IMAGE_FILE_DEBUG_STRIPPED = 0x0200;
const IMAGE_SUBSYSTEM_EFI_APPLICATION = 10;
const IMAGE_DLL_CHARACTERISTICS_NX_COMPAT = 0x0100;
const IMAGE_SCN_CNT_CODE = 0x20;
const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x40;
const IMAGE_SCN_MEM_EXECUTE = 0x20000000;
const IMAGE_SCN_MEM_READ = 0x40000000;
const IMAGE_SCN_MEM_WRITE = 0x80000000;
const LINUX_EFISTUB_MAJOR_VERSION = 1;
const LINUX_EFISTUB_MINOR_VERSION = 1;
/** zboot.lds: ".head : ALIGN(4096)" and ".p2align 12" before .Lefi_header_end. */
const PAGE = 4096;
/** The stand-in for the stub's .text. */
const TEXT_SIZE = 0x400;

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** "vmlinux.bin": the Image padded with zeros to its header's image_size (Makefile.zboot copy_and_pad). */
export function padToImageSize(image: Uint8Array): Uint8Array {
  const imageSize = new DataView(image.buffer, image.byteOffset, 24).getUint32(16, true);
  if (imageSize <= image.byteLength) return image;
  const out = new Uint8Array(imageSize);
  out.set(image);
  return out;
}

/** The payload of a zboot image of `image` compressed as `compType` says (with the size trailer). */
export async function zbootPayload(image: Uint8Array, compType: string): Promise<Uint8Array> {
  const t = ZBOOT_TOOLS[compType];
  const bin = padToImageSize(image);
  const packed = await runTool(t.cmd, t.args, bin);
  if (t.sizeLen === 0) return packed;
  const out = new Uint8Array(packed.byteLength + 4);
  out.set(packed);
  new DataView(out.buffer).setUint32(packed.byteLength, bin.byteLength, true); // size_append
  return out;
}

/** A zboot image file around `gzdata` (a payload from {@linkcode zbootPayload}), laid out as zboot.lds says. */
export function zbootImage(gzdata: Uint8Array, compType: string, arch: "aarch64" | "riscv64" = "aarch64"): Uint8Array {
  const sizeLen = ZBOOT_TOOLS[compType]?.sizeLen ?? 4;
  const headerEnd = PAGE; // .Lefi_header_end
  const textStart = headerEnd;
  const gzStart = align(textStart + TEXT_SIZE, 8); // .rodata : ALIGN(8), __efistub__gzdata_start first
  const etext = align(gzStart + gzdata.byteLength, PAGE); // _etext = ALIGN(4096)
  const edata = align(etext + 0x10, 512); // .data, _edata = ALIGN(512)
  const end = align(edata + 0x200, 512); // .bss, _end = ALIGN(512)
  const file = new Uint8Array(edata); // objcopy -O binary: through .data
  const dv = new DataView(file.buffer);
  // .Ldoshdr
  dv.setUint32(0x00, MZ_MAGIC, true);
  file.set(new TextEncoder().encode("zimg"), 0x04); // image type
  dv.setUint32(0x08, gzStart, true); // payload offset
  dv.setUint32(0x0c, gzdata.byteLength - sizeLen, true); // payload size
  dv.setUint32(0x10, 0, true); // reserved
  dv.setUint32(0x14, 0, true);
  file.set(new TextEncoder().encode(compType), 0x18); // compression type, .asciz
  dv.setUint32(0x38, LINUX_PE_MAGIC, true);
  const pe = 0x40;
  dv.setUint32(0x3c, pe, true); // PE header offset
  // .Lpehdr
  const sectionTable = pe + 24 + 112 + 6 * 8;
  dv.setUint32(pe, PE_MAGIC, true);
  dv.setUint16(pe + 4, MACHINE[arch], true);
  dv.setUint16(pe + 6, 2, true); // .Lsection_count
  dv.setUint16(pe + 20, sectionTable - (pe + 24), true); // size of the optional header
  dv.setUint16(pe + 22, IMAGE_FILE_DEBUG_STRIPPED | IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_LINE_NUMS_STRIPPED, true);
  // .Loptional_header
  const o = pe + 24;
  dv.setUint16(o, PE_OPT_MAGIC_PE32PLUS, true);
  dv.setUint32(o + 4, etext - headerEnd, true); // SizeOfCode: _etext - .Lefi_header_end
  dv.setUint32(o + 8, end - etext, true); // __data_size
  dv.setUint32(o + 16, textStart, true); // AddressOfEntryPoint: __efistub_efi_zboot_entry (the stand-in .text)
  dv.setUint32(o + 20, headerEnd, true); // BaseOfCode
  dv.setUint32(o + 32, PAGE, true); // SectionAlignment
  dv.setUint32(o + 36, 512, true); // FileAlignment
  dv.setUint16(o + 44, LINUX_EFISTUB_MAJOR_VERSION, true);
  dv.setUint16(o + 46, LINUX_EFISTUB_MINOR_VERSION, true);
  dv.setUint32(o + 56, end, true); // SizeOfImage: _end
  dv.setUint32(o + 60, headerEnd, true); // SizeOfHeaders
  dv.setUint16(o + 68, IMAGE_SUBSYSTEM_EFI_APPLICATION, true);
  dv.setUint16(o + 70, IMAGE_DLL_CHARACTERISTICS_NX_COMPAT, true);
  dv.setUint32(o + 108, 6, true); // NumberOfRvaAndSizes: the six zero data directories that follow
  // .Lsection_table
  const section = (at: number, name: string, vsize: number, va: number, raw: number, flags: number) => {
    file.set(new TextEncoder().encode(name), at);
    dv.setUint32(at + 8, vsize, true);
    dv.setUint32(at + 12, va, true);
    dv.setUint32(at + 16, raw, true);
    dv.setUint32(at + 20, va, true);
    dv.setUint32(at + 36, flags, true);
  };
  section(
    sectionTable,
    ".text",
    etext - headerEnd,
    headerEnd,
    etext - headerEnd,
    IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_EXECUTE,
  );
  section(
    sectionTable + 40,
    ".data",
    end - etext,
    etext,
    edata - etext,
    IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE,
  );
  // The stand-in .text: arm64 "ret" (or riscv64 "ret"), then the payload.
  const ret = arch === "aarch64" ? 0xd65f03c0 : 0x00008067;
  for (let i = 0; i < TEXT_SIZE; i += 4) dv.setUint32(textStart + i, ret, true);
  file.set(gzdata, gzStart);
  return file;
}
