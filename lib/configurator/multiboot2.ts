/**
 * Multiboot2 boot information (spec 3.6): `total_size` and `reserved`, then tags, each starting on an
 * 8-byte boundary: cmdline (1, when given), boot loader name (2), one module tag per module (3), basic
 * memory information (4), the memory map (6) and the end tag (0, size 8). "The boot information must be
 * 64-bit aligned", so `infoAddr` must be a multiple of 8.
 *
 * Entry state (spec 3.3): 32-bit flat protected mode, paging off, EAX = 0x36D76289, EBX = the physical
 * address of the boot information; {@linkcode configureMultiboot2} returns those two registers.
 *
 * @module
 */

import {
  MULTIBOOT2_BASIC_MEMINFO_TAG,
  MULTIBOOT2_BOOTLOADER_MAGIC,
  MULTIBOOT2_INFO_HEADER,
  MULTIBOOT2_MMAP_ENTRY,
  MULTIBOOT2_MMAP_TAG,
  MULTIBOOT2_MODULE_TAG,
  MULTIBOOT2_TAG,
  MULTIBOOT2_TAG_ALIGN,
  MULTIBOOT2_TAG_TYPE_BASIC_MEMINFO,
  MULTIBOOT2_TAG_TYPE_BOOT_LOADER_NAME,
  MULTIBOOT2_TAG_TYPE_CMDLINE,
  MULTIBOOT2_TAG_TYPE_END,
  MULTIBOOT2_TAG_TYPE_MMAP,
  MULTIBOOT2_TAG_TYPE_MODULE,
} from "../abi/multiboot.ts";
import { MultibootError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { applyPlanSync, checkNoOverlap, type Plan } from "../plan.ts";
import {
  checkMultibootModules,
  checkMultibootRange,
  MULTIBOOT_DEFAULT_BOOT_LOADER_NAME,
  multibootCString,
  type MultibootInfoOptions,
  type MultibootInfoResult,
  multibootMemoryMap,
  multibootMemorySizes,
  multibootModuleSteps,
} from "./multiboot.ts";
import { requireMemory, requireObject } from "../guard.ts";

function align8(n: number): number {
  return Math.ceil(n / MULTIBOOT2_TAG_ALIGN) * MULTIBOOT2_TAG_ALIGN;
}

/**
 * Plans the Multiboot2 boot information without writing. Options and errors as
 * {@linkcode planMultibootInfo}; `infoAddr` must be 8-byte aligned (`Misaligned`).
 *
 * @example
 * ```ts
 * import { GuestMemory, planMultiboot2Info } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * const r = planMultiboot2Info(mem, { infoAddr: 0x9000, cmdline: "quiet" });
 * console.log(r.registers.eax.toString(16), r.infoEnd > r.infoAddr); // 36d76289 true
 * ```
 */
export function planMultiboot2Info(mem: GuestMemory, opts: MultibootInfoOptions): MultibootInfoResult {
  requireMemory(mem, "mem", MultibootError, "InvalidArgument");
  requireObject(opts, "opts", MultibootError, "InvalidArgument");
  const base = opts.infoAddr;
  if (!Number.isSafeInteger(base) || base < 0 || base % MULTIBOOT2_TAG_ALIGN !== 0) {
    // "The boot information must be 64-bit aligned."
    throw new MultibootError("Misaligned", `infoAddr ${String(base)} is not an 8-byte-aligned address`, {
      field: "infoAddr",
      value: base,
      limit: MULTIBOOT2_TAG_ALIGN,
    });
  }
  const map = opts.memoryMap ?? multibootMemoryMap(mem);
  const mods = checkMultibootModules(opts.modules ?? [], opts.pageAlignModules === true);
  const cmdline = opts.cmdline === undefined ? undefined : multibootCString(opts.cmdline, "cmdline");
  const name = multibootCString(opts.bootLoaderName ?? MULTIBOOT_DEFAULT_BOOT_LOADER_NAME, "bootLoaderName");
  const sizes = multibootMemorySizes(map);

  // Each tag as (type, size, writer); laid out one after another on 8-byte boundaries.
  type Tag = { size: number; write: (dv: DataView, bytes: Uint8Array, at: number) => void };
  const stringTag = (type: number, s: Uint8Array): Tag => ({
    size: MULTIBOOT2_TAG.size + s.byteLength,
    write: (dv, bytes, at) => {
      MULTIBOOT2_TAG.write(dv, at, { type, size: MULTIBOOT2_TAG.size + s.byteLength });
      bytes.set(s, at + MULTIBOOT2_TAG.size);
    },
  });
  const tags: Tag[] = [];
  if (cmdline !== undefined) tags.push(stringTag(MULTIBOOT2_TAG_TYPE_CMDLINE, cmdline));
  tags.push(stringTag(MULTIBOOT2_TAG_TYPE_BOOT_LOADER_NAME, name));
  for (const m of mods) {
    const size = MULTIBOOT2_MODULE_TAG.size + m.string.byteLength;
    tags.push({
      size,
      write: (dv, bytes, at) => {
        MULTIBOOT2_MODULE_TAG.write(dv, at, {
          type: MULTIBOOT2_TAG_TYPE_MODULE,
          size,
          mod_start: m.start,
          mod_end: m.end,
        });
        bytes.set(m.string, at + MULTIBOOT2_MODULE_TAG.size);
      },
    });
  }
  tags.push({
    size: MULTIBOOT2_BASIC_MEMINFO_TAG.size,
    write: (dv, _b, at) =>
      MULTIBOOT2_BASIC_MEMINFO_TAG.write(dv, at, {
        type: MULTIBOOT2_TAG_TYPE_BASIC_MEMINFO,
        size: MULTIBOOT2_BASIC_MEMINFO_TAG.size,
        mem_lower: sizes.memLower,
        mem_upper: sizes.memUpper,
      }),
  });
  const mmapSize = MULTIBOOT2_MMAP_TAG.size + map.length * MULTIBOOT2_MMAP_ENTRY.size;
  tags.push({
    size: mmapSize,
    write: (dv, _b, at) => {
      MULTIBOOT2_MMAP_TAG.write(dv, at, {
        type: MULTIBOOT2_TAG_TYPE_MMAP,
        size: mmapSize,
        entry_size: MULTIBOOT2_MMAP_ENTRY.size,
        entry_version: 0,
      });
      map.forEach((r, i) =>
        MULTIBOOT2_MMAP_ENTRY.write(dv, at + MULTIBOOT2_MMAP_TAG.size + i * MULTIBOOT2_MMAP_ENTRY.size, {
          base_addr: BigInt(r.addr),
          length: BigInt(r.size),
          type: r.type,
          reserved: 0,
        })
      );
    },
  });
  tags.push({
    size: MULTIBOOT2_TAG.size,
    write: (dv, _b, at) => MULTIBOOT2_TAG.write(dv, at, { type: MULTIBOOT2_TAG_TYPE_END, size: MULTIBOOT2_TAG.size }),
  });

  const total = MULTIBOOT2_INFO_HEADER.size + tags.reduce((n, t) => n + align8(t.size), 0);
  checkMultibootRange("infoAddr", base, total);
  const block = new Uint8Array(total);
  const dv = new DataView(block.buffer);
  MULTIBOOT2_INFO_HEADER.write(dv, 0, { total_size: total, reserved: 0 });
  let at = MULTIBOOT2_INFO_HEADER.size;
  for (const t of tags) {
    t.write(dv, block, at);
    at += align8(t.size);
  }
  const plan: Plan = {
    steps: [
      { kind: "bytes", guestAddr: base, bytes: block, label: "multiboot2 information" },
      ...multibootModuleSteps(
        mods,
        "module",
      ),
    ],
  };
  checkNoOverlap(plan);
  return { infoAddr: base, infoEnd: base + total, plan, registers: { eax: MULTIBOOT2_BOOTLOADER_MAGIC, ebx: base } };
}

/**
 * Writes the Multiboot2 boot information (and module bytes) with `applyPlanSync`. Nothing is written when a
 * check fails.
 *
 * @example
 * ```ts
 * import { configureMultiboot2, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
 * const r = configureMultiboot2(mem, { infoAddr: 0x9000 });
 * console.log(mem.readU32(0x9000) === r.infoEnd - r.infoAddr); // true (total_size)
 * ```
 */
export function configureMultiboot2(mem: GuestMemory, opts: MultibootInfoOptions): MultibootInfoResult {
  requireMemory(mem, "mem", MultibootError, "InvalidArgument");
  requireObject(opts, "opts", MultibootError, "InvalidArgument");
  const r = planMultiboot2Info(mem, opts);
  applyPlanSync(mem, r.plan);
  return r;
}
