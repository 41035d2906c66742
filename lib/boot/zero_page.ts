/**
 * A complete x86 zero page (`struct boot_params`, 4096 bytes) as a boot loader fills it for the 32- and 64-bit
 * boot protocols (`Documentation/arch/x86/boot.rst`, "64-bit Boot Protocol": "the setup header at offset
 * 0x01f1 of kernel image on should be loaded into struct boot_params and examined", then the loader fills
 * the fields marked write/modify, and `zero-page.rst` for the rest).
 *
 * Every field is written only when the kernel's protocol version has it (boot.rst: "When setting fields in
 * the header, you must make sure only to set fields supported by the protocol version in use"); a request the
 * version cannot express is a {@linkcode ConfiguratorError} `ProtocolTooOld` naming the version and the field.
 * The bytes go to guest memory through the configurator: `new BootParams(bytes, addr)` and
 * `LinuxBootConfigurator.writeBootparams`, or {@linkcode zeroPageBootParams}.
 *
 * @module
 */

import {
  BOOT_FLAG_MAGIC,
  CAN_USE_HEAP,
  DEFAULT_CODE32_START,
  HDRS_MAGIC,
  KEEP_SEGMENTS,
  KERNEL_LOADER_OTHER,
  LOADED_HIGH,
  QUIET_FLAG,
  SETUP_HEADER,
  type SetupHeader,
  XLF_CAN_BE_LOADED_ABOVE_4G,
  XLF_KERNEL_64,
} from "../abi/bootparam.ts";
import { SETUP_DATA_MIN_PROTOCOL } from "../abi/setup_data.ts";
import { CmdlineError, ConfiguratorError, hex } from "../errors.ts";
import { BootParams } from "../configurator/mod.ts";
import { encodeBootParams } from "../configurator/linux.ts";
import { ABOVE_4G_PROTOCOL, canLoadAbove4G, type InitrdPlacement, zeroPageInitrdFields } from "./initrd.ts";
import type { MemmapEntry } from "./memmap.ts";
import { requireObject } from "../guard.ts";

/**
 * Protocol versions at which the fields this builder writes appeared (boot.rst's "Protocol:" lines).
 *
 * @example
 * ```ts
 * import { ZERO_PAGE_PROTOCOL } from "@linux-loader/linux-loader/abi";
 * console.log(Object.keys(ZERO_PAGE_PROTOCOL).slice(0, 4)); // [ "HEAP_END_PTR", "CMD_LINE_PTR", "EXT_LOADER", "CMDLINE_SIZE" ]
 * ```
 */
export const ZERO_PAGE_PROTOCOL: {
  readonly HEAP_END_PTR: number;
  readonly CMD_LINE_PTR: number;
  readonly EXT_LOADER: number;
  readonly CMDLINE_SIZE: number;
  readonly KEEP_SEGMENTS: number;
  readonly SETUP_DATA: number;
  readonly EXT_FIELDS: number;
} = Object.freeze({
  /** `heap_end_ptr` and `CAN_USE_HEAP` (2.01). */
  HEAP_END_PTR: 0x0201,
  /** `cmd_line_ptr` (2.02; older kernels use the cmd_line_magic protocol). */
  CMD_LINE_PTR: 0x0202,
  /** `ext_loader_ver`, `ext_loader_type` (2.02). */
  EXT_LOADER: 0x0202,
  /** `cmdline_size` (2.06; before it the limit is 255). */
  CMDLINE_SIZE: 0x0206,
  /** `KEEP_SEGMENTS` (2.07). */
  KEEP_SEGMENTS: 0x0207,
  /** `setup_data` (2.09). */
  SETUP_DATA: SETUP_DATA_MIN_PROTOCOL,
  /** `xloadflags` and the `ext_*` fields above 4 GiB (2.12). */
  EXT_FIELDS: ABOVE_4G_PROTOCOL,
});

/**
 * Before protocol 2.06 the command line limit is 255 (boot.rst: "With protocol version 2.05 and earlier, the
 * maximum size was 255").
 *
 * @example
 * ```ts
 * import { CMDLINE_SIZE_DEFAULT } from "@linux-loader/linux-loader/abi";
 * console.log(CMDLINE_SIZE_DEFAULT); // 255
 * ```
 */
export const CMDLINE_SIZE_DEFAULT = 255;
/**
 * `vid_mode` "normal" (boot.rst, `vga=normal`: 0xFFFF).
 *
 * @example
 * ```ts
 * import { VID_MODE_NORMAL } from "@linux-loader/linux-loader/abi";
 * console.log(VID_MODE_NORMAL.toString(16)); // ffff
 * ```
 */
export const VID_MODE_NORMAL = 0xffff;
/**
 * Default `kernel_alignment` for an ELF kernel, as Firecracker and Cloud Hypervisor set it (16 MiB).
 *
 * @example
 * ```ts
 * import { ELF_KERNEL_ALIGNMENT } from "@linux-loader/linux-loader/abi";
 * console.log(ELF_KERNEL_ALIGNMENT.toString(16)); // 1000000
 * ```
 */
export const ELF_KERNEL_ALIGNMENT = 0x100_0000;
/**
 * `initrd_addr_max` of an x86_64 kernel (`arch/x86/boot/header.S`: 0x7fffffff).
 *
 * @example
 * ```ts
 * import { X86_64_INITRD_ADDR_MAX } from "@linux-loader/linux-loader/abi";
 * console.log(X86_64_INITRD_ADDR_MAX.toString(16)); // 7fffffff
 * ```
 */
export const X86_64_INITRD_ADDR_MAX = 0x7fff_ffff;
/**
 * `cmdline_size` of an x86 kernel (`COMMAND_LINE_SIZE` 2048, without the NUL).
 *
 * @example
 * ```ts
 * import { X86_CMDLINE_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(X86_CMDLINE_SIZE.toString(16)); // 7ff
 * ```
 */
export const X86_CMDLINE_SIZE = 2047;

/**
 * The setup header to use for an ELF vmlinux, which has none: what an x86_64 kernel's `header.S` states
 * (protocol 2.15, `LOADED_HIGH`, `XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G`, `initrd_addr_max`
 * 0x7fffffff, `cmdline_size` 2047, `vid_mode` normal) with what Firecracker and Cloud Hypervisor write for
 * an ELF kernel: `boot_flag` 0xAA55, "HdrS", `type_of_loader` 0xff, `kernel_alignment` 16 MiB.
 *
 * @example
 * ```ts
 * import { elfSetupHeader } from "@linux-loader/linux-loader";
 * const h = elfSetupHeader();
 * console.log(h.boot_flag.toString(16), h.version.toString(16), h.kernel_alignment.toString(16)); // aa55 20f 1000000
 * ```
 */
export function elfSetupHeader(): SetupHeader {
  return {
    ...SETUP_HEADER.decode(new Uint8Array(SETUP_HEADER.size)),
    boot_flag: BOOT_FLAG_MAGIC,
    header: HDRS_MAGIC,
    version: 0x020f,
    type_of_loader: KERNEL_LOADER_OTHER,
    loadflags: LOADED_HIGH,
    code32_start: DEFAULT_CODE32_START,
    vid_mode: VID_MODE_NORMAL,
    initrd_addr_max: X86_64_INITRD_ADDR_MAX,
    kernel_alignment: ELF_KERNEL_ALIGNMENT,
    relocatable_kernel: 1,
    xloadflags: XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
    cmdline_size: X86_CMDLINE_SIZE,
  };
}

/** A registered boot loader id (boot.rst's table: 0xB QEMU, 0xD kexec-tools, 0x11 Minimal Linux Bootloader...). */
export interface LoaderId {
  /** The loader's type id T (0x0-0xD, or 0x10 and above for extended ids). */
  type: number;
  /** Its version V (4 bits, or up to 12 bits with `ext_loader_ver`). */
  version?: number;
}

/** What {@linkcode buildZeroPage} writes. */
export interface ZeroPageOptions {
  /** The setup header: `loadBzImage(...).setupHeader`, or {@linkcode elfSetupHeader} (the default). */
  header?: Partial<SetupHeader>;
  /** The command line's guest address and length in bytes without the NUL (checked against `cmdline_size`). */
  cmdline?: { addr: number; length: number };
  /** The memory map (at most 128 entries; pass the rest in a `SETUP_E820_EXT` node). */
  e820?: readonly MemmapEntry[];
  /** The initrd's placement. */
  initrd?: InitrdPlacement;
  /** Guest address of the first `struct setup_data` node (protocol 2.09+). */
  setupData?: number;
  /** A registered loader id; without it `type_of_loader` is 0xff ("undefined"). */
  loaderId?: LoaderId;
  /** `vid_mode`; the header's value by default. */
  vidMode?: number;
  /** `heap_end_ptr` (protocol 2.01+), which also sets `CAN_USE_HEAP` in `loadflags`. */
  heapEndPtr?: number;
  /** Set `KEEP_SEGMENTS` (protocol 2.07+; obsolete, for old kernels entered at 32 bits). */
  keepSegments?: boolean;
  /** Set `QUIET_FLAG`: no early messages. */
  quiet?: boolean;
  /** Physical address of the ACPI RSDP (`acpi_rsdp_addr`). */
  acpiRsdpAddr?: number;
}

const U32 = 2 ** 32;

function tooOld(version: number, field: string, need: number, what: string): ConfiguratorError {
  return new ConfiguratorError(
    "ProtocolTooOld",
    `boot protocol ${hex(version)} cannot express ${what}: ${field} needs protocol ${hex(need)} or later`,
    { field, value: version, limit: need },
  );
}

function checkU(field: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new ConfiguratorError("InvalidAddress", `${field} = ${String(v)} does not fit the field (0..${hex(max)})`, {
      field,
      value: String(v),
      limit: max,
    });
  }
}

/**
 * The effective protocol version of a header: its `version` when the "HdrS" magic is present, else 0
 * (boot.rst: "If the "HdrS" (0x53726448) magic number is not found at offset 0x202, the boot protocol
 * version is "old"").
 *
 * @example
 * ```ts
 * import { protocolVersion } from "@linux-loader/linux-loader";
 * console.log(protocolVersion({ header: 0x53726448, version: 0x20c }).toString(16)); // 20c
 * console.log(protocolVersion({ version: 0x20c })); // 0
 * ```
 */
export function protocolVersion(header: Partial<SetupHeader>): number {
  requireObject(header, "header", ConfiguratorError, "InvalidArgument");
  return header.header === HDRS_MAGIC ? header.version ?? 0 : 0;
}

/**
 * Builds the 4096-byte zero page: the setup header (as given, `boot_flag` and "HdrS" filled when absent),
 * then `type_of_loader` (and `ext_loader_*`), `loadflags` (`CAN_USE_HEAP`, `KEEP_SEGMENTS`, `QUIET_FLAG` as
 * asked), `heap_end_ptr`, `cmd_line_ptr` / `ext_cmd_line_ptr`, `vid_mode`, the e820 table, the initrd fields,
 * `setup_data` and `acpi_rsdp_addr`. Fields not named stay zero.
 *
 * Errors: {@linkcode ConfiguratorError} `ProtocolTooOld` (naming version and field) for a command line
 * before 2.02, a heap before 2.01, `KEEP_SEGMENTS` before 2.07, setup_data before 2.09, an extended loader id
 * before 2.02, anything above 4 GiB without protocol 2.12 and `XLF_CAN_BE_LOADED_ABOVE_4G`, or an initrd
 * before 2.00; `TooManyEntries` for more than 128 e820 entries; `InvalidAddress` for a value that does not fit
 * its field; {@linkcode CmdlineError} `TooLarge` for a command line longer than `cmdline_size` (255 before
 * 2.06).
 *
 * @example An ELF kernel's zero page with a command line, memory map and initrd
 * ```ts
 * import { buildZeroPage } from "@linux-loader/linux-loader";
 * import { BOOT_PARAMS, decodeBootParams, E820_RAM } from "@linux-loader/linux-loader/abi";
 * const zp = buildZeroPage({
 *   cmdline: { addr: 0x20000, length: 13 },
 *   e820: [{ addr: 0, size: 0x9fc00, type: E820_RAM }, { addr: 0x100000, size: 0x7f00000, type: E820_RAM }],
 *   initrd: { addr: 0x7000000, size: 0x1000 },
 * });
 * const { hdr, e820 } = decodeBootParams(zp);
 * console.log(zp.length, hdr.cmd_line_ptr.toString(16), e820.length); // 4096 20000 2
 * console.log(hdr.ramdisk_image.toString(16)); // 7000000
 * ```
 */
export function buildZeroPage(opts: ZeroPageOptions = {}): Uint8Array {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const given: Partial<SetupHeader> = opts.header ?? elfSetupHeader();
  const hdr: Partial<SetupHeader> = {
    ...given,
    boot_flag: given.boot_flag ?? BOOT_FLAG_MAGIC,
    header: given.header ?? HDRS_MAGIC,
  };
  const version = protocolVersion(hdr);
  const initrdHeader = { version, xloadflags: version >= ABOVE_4G_PROTOCOL ? hdr.xloadflags ?? 0 : 0 };

  // type_of_loader: "If your boot loader has an assigned id [...] enter 0xTV here [...] Otherwise, enter 0xFF".
  hdr.type_of_loader = KERNEL_LOADER_OTHER;
  if (opts.loaderId !== undefined) {
    const { type, version: v = 0 } = opts.loaderId;
    checkU("loaderId.type", type, 0x10f);
    checkU("loaderId.version", v, 0xfff);
    if (type === 0xe || type === 0xf) {
      throw new ConfiguratorError(
        "InvalidAddress",
        `loaderId.type ${hex(type)} is reserved (0xE extended, 0xF special)`,
        {
          field: "loaderId.type",
          value: type,
        },
      );
    }
    // "For boot loader IDs above T = 0xD, write T = 0xE to this field and write the extended ID minus 0x10 to
    // the ext_loader_type field. Similarly, the ext_loader_ver field can be used to provide more than four bits".
    const ext = type >= 0x10 || v > 0xf;
    if (ext && version < ZERO_PAGE_PROTOCOL.EXT_LOADER) {
      throw tooOld(version, type >= 0x10 ? "ext_loader_type" : "ext_loader_ver", ZERO_PAGE_PROTOCOL.EXT_LOADER, "it");
    }
    hdr.type_of_loader = ((type >= 0x10 ? 0xe : type) << 4) | (v & 0xf);
    hdr.ext_loader_type = type >= 0x10 ? type - 0x10 : 0;
    hdr.ext_loader_ver = v >> 4;
  }

  let loadflags = hdr.loadflags ?? 0;
  if (opts.heapEndPtr !== undefined) {
    if (version < ZERO_PAGE_PROTOCOL.HEAP_END_PTR) {
      throw tooOld(version, "heap_end_ptr", ZERO_PAGE_PROTOCOL.HEAP_END_PTR, "a setup heap");
    }
    checkU("heap_end_ptr", opts.heapEndPtr, 0xffff);
    hdr.heap_end_ptr = opts.heapEndPtr;
    loadflags |= CAN_USE_HEAP;
  }
  if (opts.keepSegments === true) {
    if (version < ZERO_PAGE_PROTOCOL.KEEP_SEGMENTS) {
      throw tooOld(version, "loadflags.KEEP_SEGMENTS", ZERO_PAGE_PROTOCOL.KEEP_SEGMENTS, "KEEP_SEGMENTS");
    }
    loadflags |= KEEP_SEGMENTS;
  }
  if (opts.quiet === true) loadflags |= QUIET_FLAG;
  hdr.loadflags = loadflags;

  if (opts.vidMode !== undefined) {
    checkU("vid_mode", opts.vidMode, 0xffff);
    hdr.vid_mode = opts.vidMode;
  }

  if (opts.cmdline !== undefined) {
    const { addr, length } = opts.cmdline;
    if (version < ZERO_PAGE_PROTOCOL.CMD_LINE_PTR) {
      throw tooOld(version, "cmd_line_ptr", ZERO_PAGE_PROTOCOL.CMD_LINE_PTR, "a command line pointer");
    }
    checkU("cmd_line_ptr", addr, Number.MAX_SAFE_INTEGER);
    const limit = version >= ZERO_PAGE_PROTOCOL.CMDLINE_SIZE ? hdr.cmdline_size ?? 0 : CMDLINE_SIZE_DEFAULT;
    if (!Number.isSafeInteger(length) || length < 0 || length > limit) {
      throw new CmdlineError(
        "TooLarge",
        `the command line has ${String(length)} bytes; the kernel's cmdline_size allows ${limit} (protocol ${
          hex(version)
        })`,
        { field: "cmdline_size", value: String(length), limit },
      );
    }
    if (addr >= U32 && !canLoadAbove4G(initrdHeader)) {
      throw tooOld(version, "ext_cmd_line_ptr", ZERO_PAGE_PROTOCOL.EXT_FIELDS, "a command line above 4 GiB");
    }
  }

  if (opts.setupData !== undefined) {
    if (version < ZERO_PAGE_PROTOCOL.SETUP_DATA) {
      throw tooOld(version, "setup_data", ZERO_PAGE_PROTOCOL.SETUP_DATA, "a setup_data list");
    }
  }
  // A protocol check only; the configurator's encoder splits the placement into the four fields.
  if (opts.initrd !== undefined) zeroPageInitrdFields(opts.initrd, initrdHeader);

  return encodeBootParams({
    setupHeader: hdr,
    typeOfLoader: hdr.type_of_loader,
    cmdlineAddr: opts.cmdline?.addr,
    e820: opts.e820,
    ramdisk: opts.initrd,
    setupData: opts.setupData,
    acpiRsdpAddr: opts.acpiRsdpAddr,
  });
}

/**
 * The zero page as {@linkcode BootParams} at `addr`, for `LinuxBootConfigurator.writeBootparams(mem, params)`
 * (which checks the range against guest memory and writes it through a plan). Errors as
 * {@linkcode buildZeroPage}.
 *
 * @example
 * ```ts
 * import { GuestMemory, LinuxBootConfigurator, zeroPageBootParams } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * LinuxBootConfigurator.writeBootparams(mem, zeroPageBootParams(0x7000, { cmdline: { addr: 0x20000, length: 4 } }));
 * console.log(mem.readU32(0x7000 + 0x228).toString(16)); // 20000
 * ```
 */
export function zeroPageBootParams(addr: number, opts: ZeroPageOptions = {}): BootParams {
  return new BootParams(buildZeroPage(opts), addr);
}
