/**
 * Little-endian reads from bytes, without a `DataView`, and the whole-struct readers the loaders' hot paths use.
 * A `DataView` costs an allocation per header (78 ns warm here) and, run right after a load's copy has emptied
 * the caches, about 7 us of cold runtime code before its first read: more than the rest of a setup header decode.
 * Internal: `abi.ts` does not re-export this module.
 *
 * @module
 */

import type { SetupHeader } from "./bootparam.ts";

/** The u16 at `b[o..o+2)`. */
export function u16le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

/** The u32 at `b[o..o+4)`. */
export function u32le(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** The same 4 bytes as a signed 32-bit integer. */
export function i32le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

/**
 * The u64 at `b[o..o+8)` as a bigint: one small-integer conversion below 2^31 (measured 7 ns against 23 ns for
 * `BigInt` of a value computed as a double), composed above.
 */
export function u64le(b: Uint8Array, o: number): bigint {
  const lo = i32le(b, o), hi = i32le(b, o + 4);
  if (hi === 0 && lo >= 0) return lo === 0 ? 0n : BigInt(lo); // a bigint literal is a constant: no allocation
  return BigInt.asUintN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
}

/**
 * `SETUP_HEADER.decode(b, o)` without its checks: the caller has checked that `b` holds the 0x7b bytes at `o`.
 * The same object, field for field: it is also `SETUP_HEADER`'s fast reader, which
 * tests/prop/struct_fast_test.ts checks against the field table.
 */
export function readSetupHeader(b: Uint8Array, o: number): SetupHeader {
  return {
    setup_sects: b[o + 0],
    root_flags: u16le(b, o + 1),
    syssize: u32le(b, o + 3),
    ram_size: u16le(b, o + 7),
    vid_mode: u16le(b, o + 9),
    root_dev: u16le(b, o + 11),
    boot_flag: u16le(b, o + 13),
    jump: u16le(b, o + 15),
    header: u32le(b, o + 17),
    version: u16le(b, o + 21),
    realmode_swtch: u32le(b, o + 23),
    start_sys_seg: u16le(b, o + 27),
    kernel_version: u16le(b, o + 29),
    type_of_loader: b[o + 31],
    loadflags: b[o + 32],
    setup_move_size: u16le(b, o + 33),
    code32_start: u32le(b, o + 35),
    ramdisk_image: u32le(b, o + 39),
    ramdisk_size: u32le(b, o + 43),
    bootsect_kludge: u32le(b, o + 47),
    heap_end_ptr: u16le(b, o + 51),
    ext_loader_ver: b[o + 53],
    ext_loader_type: b[o + 54],
    cmd_line_ptr: u32le(b, o + 55),
    initrd_addr_max: u32le(b, o + 59),
    kernel_alignment: u32le(b, o + 63),
    relocatable_kernel: b[o + 67],
    min_alignment: b[o + 68],
    xloadflags: u16le(b, o + 69),
    cmdline_size: u32le(b, o + 71),
    hardware_subarch: u32le(b, o + 75),
    hardware_subarch_data: u64le(b, o + 79),
    payload_offset: u32le(b, o + 87),
    payload_length: u32le(b, o + 91),
    setup_data: u64le(b, o + 95),
    pref_address: u64le(b, o + 103),
    init_size: u32le(b, o + 111),
    handover_offset: u32le(b, o + 115),
    kernel_info_offset: u32le(b, o + 119),
  };
}
