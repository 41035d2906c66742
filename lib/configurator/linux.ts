/**
 * The x86 Linux boot protocol's "zero page": build a `struct boot_params` ({@linkcode encodeBootParams})
 * and write it into guest memory ({@linkcode LinuxBootConfigurator}), with the errors of rust-vmm
 * linux-loader's `configurator::linux`. The kernel's 64-bit entry point reads it through `%rsi`
 * (https://www.kernel.org/doc/html/latest/arch/x86/boot.html, "64-bit Boot Protocol").
 *
 * @module
 */

import {
  BOOT_E820_ENTRY,
  BOOT_FLAG_MAGIC,
  BOOT_PARAMS,
  type BootE820Entry,
  type BootParamsStruct,
  E820_MAX_ENTRIES_ZEROPAGE,
  HDRS_MAGIC,
  KERNEL_LOADER_OTHER,
  SETUP_HEADER,
  type SetupHeader,
} from "../abi/bootparam.ts";
import { ConfiguratorError, type ConfiguratorErrorCode, hex } from "../errors.ts";
import { toSafeNumber } from "../source.ts";
import { GuestMemory } from "../memory.ts";
import type { Plan } from "../plan.ts";
import { type BootParams, bootParamsOfBytes, checkConfiguratorArgs } from "./mod.ts";
import { requireBytes, requireMemory, requireNumber, requireObject, showValue } from "../guard.ts";

/** One memory range for the zero page's e820 table; addresses and sizes as numbers or bigints. */
export interface E820EntryInit {
  /** First physical address. */
  addr: number | bigint;
  /** Size in bytes. */
  size: number | bigint;
  /** E820 type (`E820_RAM`, `E820_RESERVED`, ...). */
  type: number;
}

/** What {@linkcode encodeBootParams} puts in a zero page. */
export interface BootParamsOptions {
  /**
   * Setup header fields: a bzImage's header as `loadBzImage` returned it, or nothing for an ELF kernel.
   * `boot_flag` (0xAA55) and `header` ("HdrS") are filled in when absent.
   */
  setupHeader?: Partial<SetupHeader>;
  /** The memory map; at most {@linkcode E820_MAX_ENTRIES_ZEROPAGE} entries. */
  e820?: readonly E820EntryInit[];
  /** Guest address of the NUL-terminated command line (above 4 GiB uses `ext_cmd_line_ptr`). */
  cmdlineAddr?: number;
  /** initrd placement (above 4 GiB uses the `ext_ramdisk_*` fields). */
  ramdisk?: { addr: number; size: number };
  /** `type_of_loader`; {@linkcode KERNEL_LOADER_OTHER} (0xff) by default, as a loader must set it. */
  typeOfLoader?: number;
  /** Physical address of the ACPI RSDP, if the VMM provides ACPI tables. */
  acpiRsdpAddr?: number | bigint;
  /** Physical address of the first `struct setup_data`. */
  setupData?: number | bigint;
}

/** A zero page read back: the struct, its setup header and its valid e820 entries. */
export interface DecodedBootParams {
  /** Every `boot_params` field. */
  params: BootParamsStruct;
  /** `params.hdr` decoded. */
  hdr: SetupHeader;
  /** The first `params.e820_entries` entries of `params.e820_table`. */
  e820: BootE820Entry[];
  /** `cmd_line_ptr` joined with `ext_cmd_line_ptr`. */
  cmdlineAddr: number;
}

const U32 = 2 ** 32;

function checkNumber(field: string, v: number | bigint, bits: 32 | 64): bigint {
  // BigInt() throws a RangeError for a fraction, NaN or an infinity: those fail the check below instead.
  // Anything else (a Symbol, a string, an object) is -1n too: a typed error, never a TypeError.
  const b = typeof v === "bigint" ? v : typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b >= 1n << BigInt(bits)) {
    throw new ConfiguratorError("InvalidAddress", `${field} = ${showValue(v)} is not a ${bits}-bit unsigned integer`, {
      field,
      value: typeof v === "bigint" ? v : showValue(v),
      limit: 2n ** BigInt(bits) - 1n,
    });
  }
  return b;
}

/**
 * Encodes a 4096-byte `struct boot_params` (zero page). Fields not named stay zero, as the protocol
 * asks of a loader that builds the page from scratch. Throws {@linkcode ConfiguratorError}
 * `TooManyEntries` for more than 128 e820 entries, `InvalidAddress` for a value that does not fit its field.
 *
 * @example
 * ```ts
 * import { BOOT_PARAMS, E820_RAM, encodeBootParams, SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const zp = encodeBootParams({ cmdlineAddr: 0x20000, e820: [{ addr: 0, size: 0x9fc00, type: E820_RAM }] });
 * const hdr = SETUP_HEADER.decode(zp, BOOT_PARAMS.offsetOf("hdr"));
 * console.log(zp.length, hdr.cmd_line_ptr.toString(16), zp[BOOT_PARAMS.offsetOf("e820_entries")]); // 4096 20000 1
 * ```
 */
export function encodeBootParams(opts: BootParamsOptions = {}): Uint8Array {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const out = new Uint8Array(BOOT_PARAMS.size);
  const dv = new DataView(out.buffer);
  const e820 = opts.e820 ?? [];
  if (e820.length > E820_MAX_ENTRIES_ZEROPAGE) {
    throw new ConfiguratorError(
      "TooManyEntries",
      `${e820.length} e820 entries do not fit the zero page's table of ${E820_MAX_ENTRIES_ZEROPAGE}`,
      { field: "e820_entries", value: e820.length, limit: E820_MAX_ENTRIES_ZEROPAGE },
    );
  }
  const hdr: Partial<SetupHeader> = {
    ...opts.setupHeader,
    boot_flag: opts.setupHeader?.boot_flag ?? BOOT_FLAG_MAGIC,
    header: opts.setupHeader?.header ?? HDRS_MAGIC,
    type_of_loader: opts.typeOfLoader ?? KERNEL_LOADER_OTHER,
  };
  const p: Partial<BootParamsStruct> = {};
  if (opts.cmdlineAddr !== undefined) {
    const a = Number(checkNumber("cmdlineAddr", opts.cmdlineAddr, 64));
    hdr.cmd_line_ptr = a % U32;
    p.ext_cmd_line_ptr = Math.floor(a / U32);
  }
  if (opts.ramdisk !== undefined) {
    const a = Number(checkNumber("ramdisk.addr", opts.ramdisk.addr, 64));
    const s = Number(checkNumber("ramdisk.size", opts.ramdisk.size, 64));
    hdr.ramdisk_image = a % U32;
    hdr.ramdisk_size = s % U32;
    p.ext_ramdisk_image = Math.floor(a / U32);
    p.ext_ramdisk_size = Math.floor(s / U32);
  }
  if (opts.acpiRsdpAddr !== undefined) p.acpi_rsdp_addr = checkNumber("acpiRsdpAddr", opts.acpiRsdpAddr, 64);
  if (opts.setupData !== undefined) hdr.setup_data = checkNumber("setupData", opts.setupData, 64);
  BOOT_PARAMS.write(dv, 0, p);
  SETUP_HEADER.write(dv, BOOT_PARAMS.offsetOf("hdr"), hdr);
  const table = BOOT_PARAMS.offsetOf("e820_table");
  e820.forEach((e, i) => {
    BOOT_E820_ENTRY.write(dv, table + i * BOOT_E820_ENTRY.size, {
      addr: checkNumber(`e820[${i}].addr`, e.addr, 64),
      size: checkNumber(`e820[${i}].size`, e.size, 64),
      type: Number(checkNumber(`e820[${i}].type`, e.type, 32)),
    });
  });
  BOOT_PARAMS.set(dv, 0, "e820_entries", e820.length);
  return out;
}

/**
 * Decodes a zero page (the inverse of {@linkcode encodeBootParams}, for tests, inspectors and the CLI).
 *
 * @example
 * ```ts
 * import { decodeBootParams, encodeBootParams } from "@linux-loader/linux-loader/abi";
 * console.log(decodeBootParams(encodeBootParams({ cmdlineAddr: 0x1_0000_2000 })).cmdlineAddr.toString(16)); // 100002000
 * ```
 */
export function decodeBootParams(bytes: Uint8Array): DecodedBootParams {
  requireBytes(bytes, "bytes", ConfiguratorError, "InvalidArgument");
  if (bytes.byteLength < BOOT_PARAMS.size) {
    throw new ConfiguratorError("ZeroPageSetup", `a zero page has ${BOOT_PARAMS.size} bytes, got ${bytes.byteLength}`, {
      field: "boot_params",
      value: bytes.byteLength,
      limit: BOOT_PARAMS.size,
    });
  }
  const params = BOOT_PARAMS.decode(bytes);
  const hdr = SETUP_HEADER.decode(params.hdr);
  const n = Math.min(params.e820_entries, E820_MAX_ENTRIES_ZEROPAGE);
  const e820: BootE820Entry[] = [];
  for (let i = 0; i < n; i++) e820.push(BOOT_E820_ENTRY.decode(params.e820_table, i * BOOT_E820_ENTRY.size));
  // ext_cmd_line_ptr holds bits 32-63: above 2^53 the address is a typed error, never a rounded number.
  const cmdline = (BigInt(params.ext_cmd_line_ptr) << 32n) | BigInt(hdr.cmd_line_ptr);
  return { params, hdr, e820, cmdlineAddr: toSafeNumber(cmdline, "ext_cmd_line_ptr:cmd_line_ptr") };
}

/**
 * Checks that `[start, start + len)` can be written: past the last guest byte is `pastEnd`, any other
 * byte outside memory (below the first region, in a hole) is `setup` — the crate's two outcomes (its
 * `checked_offset` and then its write).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "@linux-loader/linux-loader";
 * import { checkBootRange } from "@linux-loader/linux-loader/abi";
 * const mem = GuestMemory.fromRanges([[0, 0x1000]]);
 * try {
 *   checkBootRange(mem, 0xf00, 0x200, "boot_params", "ZeroPagePastRamEnd", "ZeroPageSetup");
 * } catch (e) {
 *   console.log((e as { code: string }).code); // ZeroPagePastRamEnd
 * }
 * ```
 */
export function checkBootRange(
  mem: GuestMemory,
  start: number,
  len: number,
  what: string,
  pastEnd: ConfiguratorErrorCode,
  setup: ConfiguratorErrorCode,
): void {
  requireMemory(mem, "mem", ConfiguratorError, "InvalidArgument");
  requireNumber(start, "start", ConfiguratorError, "InvalidArgument");
  requireNumber(len, "len", ConfiguratorError, "InvalidArgument");
  // The common case first: the range lies inside one region, so neither check below can fail.
  if (Number.isSafeInteger(start) && start >= 0 && Number.isSafeInteger(len) && len >= 0) {
    const r = mem.findRegion(start);
    if (r !== undefined && start + len <= r.end) return;
  }
  const end = mem.lastAddr + 1;
  if (!Number.isSafeInteger(start) || start < 0 || start + len > end) {
    throw new ConfiguratorError(
      pastEnd,
      `${what} [${hex(start)}, ${hex(start + len)}) extends past the end of guest memory at ${hex(end)}`,
      { field: what, value: start + len, limit: end },
    );
  }
  const miss = mem.firstMissing(start, len);
  if (miss !== undefined) {
    throw new ConfiguratorError(
      setup,
      `${what} [${hex(start)}, ${hex(start + len)}) is not all guest memory: byte ${hex(miss)} is in no region`,
      { field: what, value: miss, limit: end },
    );
  }
}

/**
 * Plans the write of a zero page: the `header` of `params` at `headerStart`; sections and modules are
 * not used by this protocol (the e820 map lives inside `boot_params`). Errors as
 * {@linkcode LinuxBootConfigurator.writeBootparams}.
 *
 * @example
 * ```ts
 * import { BootParams, GuestMemory, planLinuxBoot } from "@linux-loader/linux-loader";
 * import { encodeBootParams } from "@linux-loader/linux-loader/abi";
 * const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
 * console.log(planLinuxBoot(mem, new BootParams(encodeBootParams(), 0x7000)).steps.length); // 1
 * ```
 */
export function planLinuxBoot(mem: GuestMemory, params: BootParams): Plan {
  checkConfiguratorArgs(mem, params);
  checkBootRange(
    mem,
    params.headerStart,
    params.header.byteLength,
    "boot_params",
    "ZeroPagePastRamEnd",
    "ZeroPageSetup",
  );
  return { steps: [{ kind: "bytes", guestAddr: params.headerStart, bytes: params.header, label: "boot_params" }] };
}

/**
 * The Linux boot protocol configurator (the crate's `LinuxBootConfigurator`).
 *
 * @example
 * ```ts
 * import { BootParams, GuestMemory, LinuxBootConfigurator } from "@linux-loader/linux-loader";
 * import { encodeBootParams } from "@linux-loader/linux-loader/abi";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * LinuxBootConfigurator.writeBootparams(mem, new BootParams(encodeBootParams({ cmdlineAddr: 0x20000 }), 0x7000));
 * console.log(mem.readU32(0x7000 + 0x202).toString(16)); // 53726448
 * ```
 */
export class LinuxBootConfigurator {
  /**
   * Writes the zero page `params.header` at `params.headerStart`. Throws {@linkcode ConfiguratorError}
   * `ZeroPagePastRamEnd` when it runs past the end of guest memory, `ZeroPageSetup` when part of it
   * falls outside guest memory otherwise (below the first region or in a hole). Nothing is written on error:
   * the checks of {@linkcode planLinuxBoot} run first, then the one copy, with no allocation on the way.
   */
  static writeBootparams(mem: GuestMemory, params: BootParams): void {
    // The common case first: a BootParams of bytes (checkConfiguratorArgs' type tests, remembered per set of
    // arrays) whose zero page lies inside one region, so no check can fail.
    if (mem instanceof GuestMemory && bootParamsOfBytes(params)) {
      const at = params.headerStart, page = params.header;
      if (Number.isSafeInteger(at) && at >= 0) {
        const r = mem.findRegion(at);
        if (r !== undefined && at + page.byteLength <= r.end) {
          r.bytes.set(page, at - r.guestAddr);
          return;
        }
      }
    }
    checkConfiguratorArgs(mem, params);
    checkBootRange(
      mem,
      params.headerStart,
      params.header.byteLength,
      "boot_params",
      "ZeroPagePastRamEnd",
      "ZeroPageSetup",
    );
    mem.write(params.headerStart, params.header);
  }
}
