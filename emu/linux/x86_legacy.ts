/**
 * What a 32-bit x86 kernel (legacy protected mode, paging with or without PAE) needs from the x86 Linux
 * machine beyond what a 64-bit one does: the page-table walks of the two legacy paging modes, the 8-byte
 * IDT gates and the 4-byte interrupt frames of 32-bit protected mode. Pure functions over guest RAM and
 * register values; {@linkcode X86LinuxMachine} calls them when EFER.LMA is clear.
 *
 * Intel SDM vol. 3A: 4.3 "32-bit paging", 4.4 "PAE paging", 6.11 "IDT descriptors", 6.12.1 "Exception- or
 * interrupt-handler procedures" (the stack frames), 7.2.1 "Task-state segment" (ESP0/SS0 of a 32-bit TSS).
 *
 * @module
 */

import type { GuestMemory } from "../../lib/memory.ts";

/** CR0.PG: paging on. */
export const CR0_PG = 0x8000_0000n;
/** CR4.PSE: 4 MiB pages in 32-bit paging ("If CR4.PSE = 1 and the PDE's PS flag is 1, the PDE maps a 4-MByte page"). */
export const CR4_PSE = 0x10n;
/** CR4.PAE: PAE paging (64-bit entries, a 4-entry PDPT) instead of 32-bit paging. */
export const CR4_PAE = 0x20n;
/** EFER.LMA: IA-32e mode active (long mode); clear for a 32-bit kernel. */
export const EFER_LMA = 0x400n;

const P = 1n, RW = 2n, US = 4n, PS = 0x80n;
/** Physical-address bits of a PAE entry (bits 51:12; the NX bit 63 is not part of the address). */
const PAE_ADDR = 0x000f_ffff_ffff_f000n;

/** A legacy page-table walk's result (the same shape as the 4-level walk's). */
export interface LegacyTranslation {
  /** Physical address. */
  pa: number;
  /** Writable at every level. */
  writable: boolean;
  /** User-accessible at every level. */
  user: boolean;
}

function entry32(mem: GuestMemory, pa: bigint): bigint | undefined {
  const a = Number(pa);
  return Number.isSafeInteger(a) && mem.isRange(a, 4) ? BigInt(mem.readU32(a)) : undefined;
}

function entry64(mem: GuestMemory, pa: bigint): bigint | undefined {
  const a = Number(pa);
  return Number.isSafeInteger(a) && mem.isRange(a, 8) ? mem.readU64(a) : undefined;
}

/**
 * Translates a 32-bit linear address through the guest's legacy page tables: 32-bit paging (two levels of
 * 4-byte entries, 4 MiB pages when CR4.PSE and PS) or PAE paging (CR4.PAE: a 4-entry PDPT at CR3[31:5],
 * then two levels of 8-byte entries, 2 MiB pages when PS). With paging off (CR0.PG clear) the address is
 * the physical address. Undefined when an entry on the way is not present or lies outside guest RAM.
 *
 * @example
 * ```ts ignore
 * translateLegacy(mem, { cr0: 0x80000011n, cr3: 0x1000n, cr4: 0x10n }, 0xc0001234);
 * ```
 */
export function translateLegacy(
  mem: GuestMemory,
  regs: { cr0: bigint; cr3: bigint; cr4: bigint },
  va: number,
): LegacyTranslation | undefined {
  const lin = BigInt(va >>> 0);
  if ((regs.cr0 & CR0_PG) === 0n) return { pa: Number(lin), writable: true, user: true };
  if ((regs.cr4 & CR4_PAE) !== 0n) {
    // "CR3[31:5] locates the PDPT"; PDPTE bits 2:1 are reserved (no R/W, U/S at this level).
    const pdpte = entry64(mem, (regs.cr3 & 0xffff_ffe0n) + (lin >> 30n) * 8n);
    if (pdpte === undefined || (pdpte & P) === 0n) return undefined;
    const pde = entry64(mem, (pdpte & PAE_ADDR) + ((lin >> 21n) & 511n) * 8n);
    if (pde === undefined || (pde & P) === 0n) return undefined;
    if ((pde & PS) !== 0n) {
      const base = pde & PAE_ADDR & ~0x1f_ffffn;
      return { pa: Number(base | (lin & 0x1f_ffffn)), writable: (pde & RW) !== 0n, user: (pde & US) !== 0n };
    }
    const pte = entry64(mem, (pde & PAE_ADDR) + ((lin >> 12n) & 511n) * 8n);
    if (pte === undefined || (pte & P) === 0n) return undefined;
    return {
      pa: Number((pte & PAE_ADDR) | (lin & 0xfffn)),
      writable: (pde & pte & RW) !== 0n,
      user: (pde & pte & US) !== 0n,
    };
  }
  const pde = entry32(mem, (regs.cr3 & 0xffff_f000n) + (lin >> 22n) * 4n);
  if (pde === undefined || (pde & P) === 0n) return undefined;
  if ((pde & PS) !== 0n && (regs.cr4 & CR4_PSE) !== 0n) {
    // A 4 MiB page: bits 31:22 of the address, and with PSE-36 bits 20:13 of the PDE as address bits 39:32.
    const base = (pde & 0xffc0_0000n) | (((pde >> 13n) & 0xffn) << 32n);
    return { pa: Number(base | (lin & 0x3f_ffffn)), writable: (pde & RW) !== 0n, user: (pde & US) !== 0n };
  }
  const pte = entry32(mem, (pde & 0xffff_f000n) + ((lin >> 12n) & 0x3ffn) * 4n);
  if (pte === undefined || (pte & P) === 0n) return undefined;
  return {
    pa: Number((pte & 0xffff_f000n) | (lin & 0xfffn)),
    writable: (pde & pte & RW) !== 0n,
    user: (pde & pte & US) !== 0n,
  };
}

/** Gate types of a 32-bit IDT (SDM table 3-2, system-segment and gate-descriptor types). */
export const GATE32 = Object.freeze({ task: 0x5, interrupt16: 0x6, trap16: 0x7, interrupt: 0xe, trap: 0xf });

/** One 8-byte descriptor of a 32-bit IDT. */
export interface IdtGate32 {
  /** Handler offset (bits 15:0 at byte 0, 31:16 at byte 6). */
  offset: number;
  /** Code segment selector of the handler (a TSS selector for a task gate). */
  selector: number;
  /** Gate type (GATE32). */
  type: number;
  /** Descriptor privilege level: the least privileged code an `int n` may come from. */
  dpl: number;
  /** Present flag. */
  present: boolean;
}

/** Decodes an 8-byte 32-bit IDT gate. */
export function decodeIdtGate32(b: Uint8Array): IdtGate32 {
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  const access = dv.getUint8(5);
  return {
    offset: (dv.getUint16(0, true) | (dv.getUint16(6, true) << 16)) >>> 0,
    selector: dv.getUint16(2, true),
    type: access & 0xf,
    dpl: (access >> 5) & 3,
    present: (access & 0x80) !== 0,
  };
}

/** A segment descriptor as the CPU caches it on a load. */
export interface SegmentCache {
  /** Base address. */
  base: number;
  /** Limit in bytes - 1 (scaled by 4 KiB when G is set). */
  limit: number;
  /** The descriptor's high dword, as QEMU keeps it. */
  flags: number;
  /** Descriptor privilege level. */
  dpl: number;
}

/** Decodes a GDT/LDT segment descriptor (8 bytes) into what a segment register caches. */
export function decodeSegmentDescriptor(b: Uint8Array): SegmentCache {
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  const lo = dv.getUint32(0, true), hi = dv.getUint32(4, true);
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0xf_0000);
  if ((hi & (1 << 23)) !== 0) limit = ((limit << 12) | 0xfff) >>> 0; // G: 4 KiB granularity
  return { base, limit, flags: hi >>> 0, dpl: (hi >> 13) & 3 };
}

/** What a 32-bit interrupt frame holds. */
export interface LegacyFrame {
  /** Return address. */
  eip: number;
  /** The interrupted code segment selector. */
  cs: number;
  /** EFLAGS before delivery. */
  eflags: number;
  /** The interrupted stack (pushed only on a privilege change). */
  stack?: { ss: number; esp: number };
  /** Error code (pushed for the exceptions that have one). */
  errorCode?: number;
}

/**
 * The bytes a 32-bit interrupt or trap gate pushes, lowest address first: [error code], EIP, CS, EFLAGS,
 * and on a privilege change ESP and SS of the interrupted code (SDM 6.12.1, figure 6-4); each slot 4 bytes,
 * CS and SS zero-extended.
 */
export function legacyFrameBytes(f: LegacyFrame): Uint8Array {
  const slots = [
    ...(f.errorCode === undefined ? [] : [f.errorCode]),
    f.eip,
    f.cs & 0xffff,
    f.eflags,
    ...(f.stack === undefined ? [] : [f.stack.esp, f.stack.ss & 0xffff]),
  ];
  const out = new Uint8Array(slots.length * 4);
  const dv = new DataView(out.buffer);
  slots.forEach((v, i) => dv.setUint32(i * 4, v >>> 0, true));
  return out;
}

/** ESP0 and SS0 of a 32-bit TSS (the stack of privilege level 0): offsets 4 and 8. */
export function tss32Stack0(tss: Uint8Array): { esp: number; ss: number } {
  const dv = new DataView(tss.buffer, tss.byteOffset, tss.byteLength);
  return { esp: dv.getUint32(4, true), ss: dv.getUint16(8, true) };
}
