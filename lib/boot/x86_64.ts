/**
 * The x86 CPU state the Linux boot protocols ask for, as values a VMM applies (KVM_SET_SREGS/REGS) or an
 * emulator loads: identity-mapped page tables and a flat GDT written through a {@linkcode Plan}, plus the
 * control, segment and general registers.
 *
 * - 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"): "the CPU must be in
 *   64-bit mode with paging enabled. The range with setup_header.init_size from start address of loaded
 *   kernel and zero page and command line buffer get ident mapping; a GDT must be loaded with the
 *   descriptors for selectors __BOOT_CS(0x10) and __BOOT_DS(0x18); ... interrupt must be disabled; %rsi
 *   must hold the base address of the struct boot_params." We follow Firecracker's layout (its selectors
 *   are 0x08/0x10, which Linux accepts because it reloads its own GDT first): PML4 at 0x9000, PDPTE at
 *   0xa000, PDE at 0xb000 mapping the first 1 GiB with 2 MiB pages, GDT at 0x500, IDT at 0x520.
 * - PVH (xen/include/public/arch-x86/hvm/start_info.h): "The domain builder must load the kernel ... in
 *   32-bit protected mode with paging disabled; %cs: 32-bit read/execute code segment with base 0 and
 *   limit 0xFFFFFFFF; %ds, %es, %ss: 32-bit read/write data segments, base 0, limit 0xFFFFFFFF; %ebx:
 *   physical address of the start_info structure; %cr0: bit PE set, bit PG clear; %cr4: all bits clear
 *   except VMXE; %eflags: bit 17 (VM) and bit 9 (IF) clear."
 *
 * @module
 */

import { ConfiguratorError, hex } from "../errors.ts";
import type { Plan, PlanStep } from "../plan.ts";
import { requireBigint, requireNumber, requireObject } from "../guard.ts";

/**
 * CR0.PE: protected mode.
 *
 * @example
 * ```ts
 * import { X86_CR0_PE } from "@linux-loader/linux-loader/abi";
 * console.log(X86_CR0_PE); // 1
 * ```
 */
export const X86_CR0_PE = 1 << 0;
/**
 * CR0.ET: extension type (always 1 on modern CPUs).
 *
 * @example
 * ```ts
 * import { X86_CR0_ET } from "@linux-loader/linux-loader/abi";
 * console.log(X86_CR0_ET); // 16
 * ```
 */
export const X86_CR0_ET = 1 << 4;
/**
 * CR0.NE: native x87 error reporting.
 *
 * @example
 * ```ts
 * import { X86_CR0_NE } from "@linux-loader/linux-loader/abi";
 * console.log(X86_CR0_NE); // 32
 * ```
 */
export const X86_CR0_NE = 1 << 5;
/**
 * CR0.PG: paging (bit 31).
 *
 * @example
 * ```ts
 * import { X86_CR0_PG } from "@linux-loader/linux-loader/abi";
 * console.log(X86_CR0_PG.toString(16)); // 80000000
 * ```
 */
export const X86_CR0_PG = 0x8000_0000;
/**
 * CR4.PAE: physical address extension, needed for long mode.
 *
 * @example
 * ```ts
 * import { X86_CR4_PAE } from "@linux-loader/linux-loader/abi";
 * console.log(X86_CR4_PAE); // 32
 * ```
 */
export const X86_CR4_PAE = 1 << 5;
/**
 * EFER.LME: long mode enable.
 *
 * @example
 * ```ts
 * import { X86_EFER_LME } from "@linux-loader/linux-loader/abi";
 * console.log(X86_EFER_LME.toString(16)); // 100
 * ```
 */
export const X86_EFER_LME = 1 << 8;
/**
 * EFER.LMA: long mode active.
 *
 * @example
 * ```ts
 * import { X86_EFER_LMA } from "@linux-loader/linux-loader/abi";
 * console.log(X86_EFER_LMA.toString(16)); // 400
 * ```
 */
export const X86_EFER_LMA = 1 << 10;
/**
 * The EFER model-specific register number.
 *
 * @example
 * ```ts
 * import { X86_MSR_EFER } from "@linux-loader/linux-loader/abi";
 * console.log(X86_MSR_EFER.toString(16)); // c0000080
 * ```
 */
export const X86_MSR_EFER = 0xc000_0080;
/**
 * RFLAGS with only the reserved bit 1 set: interrupts off.
 *
 * @example
 * ```ts
 * import { X86_RFLAGS_DEFAULT } from "@linux-loader/linux-loader/abi";
 * console.log(X86_RFLAGS_DEFAULT); // 2
 * ```
 */
export const X86_RFLAGS_DEFAULT = 0x2;

/** Page-table entry bits: present, writable, and (in a PDE) a 2 MiB page. */
const PTE_PRESENT = 1 << 0;
const PTE_WRITABLE = 1 << 1;
const PTE_PAGE_SIZE = 1 << 7;
const HUGE_2M = 0x20_0000;
/** Page-table pages are 4 KiB and 4 KiB-aligned. */
const PAGE_SIZE = 0x1000;
/** One PDPT has 512 entries, each pointing at a page directory that maps 1 GiB with 2 MiB pages. */
const MAX_IDENTITY_GIB = 512;

/**
 * GDT descriptor flags in Firecracker's 16-bit form: bits 0..7 are the access byte (P, DPL, S, type),
 * bits 12..15 the G, D/B, L, AVL nibble.
 *
 * @example
 * ```ts
 * import { GDT_FLAGS } from "@linux-loader/linux-loader/abi";
 * console.log(GDT_FLAGS); // { code64: 41115, code32: 49307, data: 49299, tss: 32907 }
 * ```
 */
export const GDT_FLAGS: Readonly<{ code64: number; code32: number; data: number; tss: number }> = Object.freeze({
  /** Flat 64-bit code: G=1, L=1, P=1, S=1, type 0xb (execute/read, accessed). */
  code64: 0xa09b,
  /** Flat 32-bit code: G=1, D=1, P=1, S=1, type 0xb. */
  code32: 0xc09b,
  /** Flat data: G=1, D/B=1, P=1, S=1, type 3 (read/write, accessed). */
  data: 0xc093,
  /** A busy 64-bit TSS placeholder: G=1, P=1, type 0xb. */
  tss: 0x808b,
});

/** One segment register as KVM's `struct kvm_segment` describes it (and as Unicorn caches it). */
export interface X86Segment {
  /** Selector: GDT index * 8. */
  selector: number;
  /** Segment base. */
  base: number;
  /** Limit in bytes (0xffffffff for a flat 4 GiB segment with G=1). */
  limit: number;
  /** Descriptor type (4 bits). */
  type: number;
  /** Present bit. */
  present: number;
  /** Privilege level. */
  dpl: number;
  /** Default operation size (1 = 32-bit). */
  db: number;
  /** Code/data (1) or system (0) descriptor. */
  s: number;
  /** 64-bit code segment. */
  l: number;
  /** Granularity: limit in 4 KiB units. */
  g: number;
  /** Available for software. */
  avl: number;
  /** The descriptor flags in the 16-bit form of {@linkcode GDT_FLAGS}. */
  flags: number;
}

/** A descriptor table register (GDTR or IDTR). */
export interface X86TableRegister {
  /** Linear base address. */
  base: number;
  /** Limit: size in bytes minus one. */
  limit: number;
}

/** The segment registers the boot state sets. */
export interface X86Segments {
  /** Code segment. */
  cs: X86Segment;
  /** Data segment. */
  ds: X86Segment;
  /** Extra segment. */
  es: X86Segment;
  /** FS. */
  fs: X86Segment;
  /** GS. */
  gs: X86Segment;
  /** Stack segment. */
  ss: X86Segment;
  /** Task register. */
  tr: X86Segment;
}

/** Everything a VMM or emulator sets on the boot CPU for an x86 entry. */
export interface X86CpuState {
  /** `"long"` for the 64-bit Linux entry, `"protected"` for the 32-bit PVH entry. */
  mode: "long" | "protected";
  /**
   * General registers by lower-case name: `rip`, `rsi`, `rsp`, `rbp`, `rflags` in long mode; `eip`, `ebx`,
   * `eflags` in protected mode.
   */
  regs: Record<string, number>;
  /** CR0. */
  cr0: number;
  /** CR3: the PML4's address (0 with paging off). */
  cr3: number;
  /** CR4. */
  cr4: number;
  /** EFER (MSR 0xc0000080). */
  efer: number;
  /** GDTR. */
  gdt: X86TableRegister;
  /** IDTR. */
  idt: X86TableRegister;
  /** Segment registers. */
  segments: X86Segments;
}

/** What {@linkcode x86LongModeBoot} and {@linkcode x86PvhBoot} return: the writes and the CPU state. */
export interface X86BootSetup {
  /** Page tables, GDT and IDT as `bytes` steps; apply with `applyPlanSync(mem, plan)`. */
  plan: Plan;
  /** The register values. */
  cpu: X86CpuState;
}

/**
 * Encodes one 8-byte GDT descriptor from a base, a 20-bit limit and the 16-bit flags of
 * {@linkcode GDT_FLAGS} (Intel SDM vol. 3, 3.4.5 "Segment Descriptors").
 *
 * @example
 * ```ts
 * import { gdtEntry } from "@linux-loader/linux-loader";
 * console.log(gdtEntry(0xa09b, 0, 0xfffff).toString(16)); // af9b000000ffff
 * ```
 */
export function gdtEntry(flags: number, base: number, limit: number): bigint {
  requireNumber(flags, "flags", ConfiguratorError, "InvalidArgument");
  requireNumber(base, "base", ConfiguratorError, "InvalidArgument");
  requireNumber(limit, "limit", ConfiguratorError, "InvalidArgument");
  const b = BigInt(base >>> 0), l = BigInt(limit & 0xfffff), f = BigInt(flags & 0xf0ff);
  return ((b & 0xff00_0000n) << 32n) | // base 31..24 -> bits 63..56
    (f << 40n) | // access byte -> bits 47..40, G/DB/L/AVL -> bits 55..52
    ((l & 0xf_0000n) << 32n) | // limit 19..16 -> bits 51..48
    ((b & 0x00ff_ffffn) << 16n) | // base 23..0 -> bits 39..16
    (l & 0xffffn); // limit 15..0 -> bits 15..0
}

/**
 * Decodes a GDT descriptor into the KVM-style segment for `selector` (the inverse of {@linkcode gdtEntry}).
 *
 * @example
 * ```ts
 * import { gdtEntry, segmentFromGdtEntry } from "@linux-loader/linux-loader";
 * const cs = segmentFromGdtEntry(0x08, gdtEntry(0xa09b, 0, 0xfffff));
 * console.log(cs.l, cs.g, cs.type, cs.limit.toString(16)); // 1 1 11 ffffffff
 * ```
 */
export function segmentFromGdtEntry(selector: number, entry: bigint): X86Segment {
  requireNumber(selector, "selector", ConfiguratorError, "InvalidArgument");
  requireBigint(entry, "entry", ConfiguratorError, "InvalidArgument");
  const e = BigInt.asUintN(64, entry);
  const base = Number(((e >> 16n) & 0xff_ffffn) | ((e >> 32n) & 0xff00_0000n));
  const rawLimit = Number((e & 0xffffn) | ((e >> 32n) & 0xf_0000n));
  const access = Number((e >> 40n) & 0xffn);
  const nibble = Number((e >> 52n) & 0xfn);
  const g = (nibble >> 3) & 1;
  return {
    selector,
    base,
    limit: g ? rawLimit * 0x1000 + 0xfff : rawLimit,
    type: access & 0xf,
    present: (access >> 7) & 1,
    dpl: (access >> 5) & 3,
    db: (nibble >> 2) & 1,
    s: (access >> 4) & 1,
    l: (nibble >> 1) & 1,
    g,
    avl: nibble & 1,
    flags: (nibble << 12) | access,
  };
}

function u64Bytes(values: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigUint64(i * 8, v, true));
  return out;
}

/** Options of {@linkcode x86LongModeBoot}. */
export interface X86LongModeOptions {
  /** Kernel entry (for a bzImage: load address + 0x200; for an ELF vmlinux: e_entry). */
  entry: number;
  /** Guest address of the zero page (struct boot_params), passed in RSI. */
  zeroPage: number;
  /** Stack pointer (RSP and RBP). Default 0x8ff0, below the page tables, as Firecracker. */
  stack?: number;
  /** GDT address. Default 0x500. */
  gdtAddr?: number;
  /** IDT address (one zero entry). Default 0x520. */
  idtAddr?: number;
  /** PML4 address, 4 KiB-aligned. Default 0x9000. */
  pml4Addr?: number;
  /** PDPT address, 4 KiB-aligned. Default 0xa000. */
  pdptAddr?: number;
  /**
   * Address of the first page directory, 4 KiB-aligned; `identityGiB` consecutive pages are used.
   * Default 0xb000.
   */
  pdAddr?: number;
  /** GiB of identity mapping from address 0, with 2 MiB pages (1..512). Default 1. */
  identityGiB?: number;
}

/**
 * GDT selectors of the boot GDT: index 1 code, 2 data, 3 TSS.
 *
 * @example
 * ```ts
 * import { BOOT_GDT_SELECTORS } from "@linux-loader/linux-loader/abi";
 * console.log(BOOT_GDT_SELECTORS); // { code: 8, data: 16, tss: 24 }
 * ```
 */
export const BOOT_GDT_SELECTORS: Readonly<{ code: number; data: number; tss: number }> = Object.freeze({
  code: 0x08,
  data: 0x10,
  tss: 0x18,
});

function bootGdt(code: number): bigint[] {
  return [
    0n,
    gdtEntry(code, 0, 0xfffff),
    gdtEntry(GDT_FLAGS.data, 0, 0xfffff),
    gdtEntry(GDT_FLAGS.tss, 0, 0xfffff),
  ];
}

function segments(gdt: readonly bigint[]): X86Segments {
  const code = segmentFromGdtEntry(BOOT_GDT_SELECTORS.code, gdt[1]);
  const data = segmentFromGdtEntry(BOOT_GDT_SELECTORS.data, gdt[2]);
  return {
    cs: code,
    ds: { ...data },
    es: { ...data },
    fs: { ...data },
    gs: { ...data },
    ss: { ...data },
    tr: segmentFromGdtEntry(BOOT_GDT_SELECTORS.tss, gdt[3]),
  };
}

function checkPage(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v % PAGE_SIZE !== 0) {
    throw new ConfiguratorError(
      "InvalidAddress",
      `${name} ${hex(v)} is not a ${hex(PAGE_SIZE)}-aligned guest address`,
      {
        field: name,
        value: String(v),
        limit: PAGE_SIZE,
      },
    );
  }
}

/**
 * The 64-bit Linux boot state: identity-mapped page tables (2 MiB pages), a GDT with flat 64-bit code and
 * flat data, an empty IDT, long mode on (CR0.PE|PG, CR4.PAE, EFER.LME|LMA), RSI = zero page, interrupts off.
 * Throws {@linkcode ConfiguratorError} `InvalidAddress` for a page-table address that is not 4 KiB-aligned
 * or an `identityGiB` outside 1..512.
 *
 * @example
 * ```ts
 * import { applyPlanSync, GuestMemory, x86LongModeBoot } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 2 << 20]]);
 * const { plan, cpu } = x86LongModeBoot({ entry: 0x100200, zeroPage: 0x7000 });
 * applyPlanSync(mem, plan);
 * console.log(cpu.cr3.toString(16), cpu.regs.rsi.toString(16)); // 9000 7000
 * ```
 */
export function x86LongModeBoot(opts: X86LongModeOptions): X86BootSetup {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const pml4 = opts.pml4Addr ?? 0x9000;
  const pdpt = opts.pdptAddr ?? 0xa000;
  const pd = opts.pdAddr ?? 0xb000;
  const gib = opts.identityGiB ?? 1;
  const stack = opts.stack ?? 0x8ff0;
  checkPage("pml4Addr", pml4);
  checkPage("pdptAddr", pdpt);
  checkPage("pdAddr", pd);
  if (!Number.isInteger(gib) || gib < 1 || gib > MAX_IDENTITY_GIB) {
    throw new ConfiguratorError(
      "InvalidAddress",
      `identityGiB ${String(gib)} is not an integer from 1 to ${MAX_IDENTITY_GIB} (one PDPT's entries)`,
      { field: "identityGiB", value: String(gib), limit: MAX_IDENTITY_GIB },
    );
  }
  const gdt = bootGdt(GDT_FLAGS.code64);
  const tables = descriptorTables(gdt, opts);
  const flags = BigInt(PTE_PRESENT | PTE_WRITABLE);
  const pdptEntries: bigint[] = [];
  const pdEntries: bigint[] = [];
  for (let g = 0; g < gib; g++) {
    pdptEntries.push(BigInt(pd + g * 0x1000) | flags);
    for (let i = 0; i < 512; i++) {
      pdEntries.push((BigInt(g * 512 + i) * BigInt(HUGE_2M)) | flags | BigInt(PTE_PAGE_SIZE));
    }
  }
  const plan: Plan = {
    steps: [
      ...tables.steps,
      { kind: "bytes", guestAddr: pml4, bytes: u64Bytes([BigInt(pdpt) | flags]), label: "PML4" },
      { kind: "bytes", guestAddr: pdpt, bytes: u64Bytes(pdptEntries), label: "PDPT" },
      { kind: "bytes", guestAddr: pd, bytes: u64Bytes(pdEntries), label: "page directory" },
    ],
  };
  return {
    plan,
    cpu: {
      mode: "long",
      regs: { rip: opts.entry, rsi: opts.zeroPage, rsp: stack, rbp: stack, rflags: X86_RFLAGS_DEFAULT },
      cr0: (X86_CR0_PE | X86_CR0_ET | X86_CR0_PG) >>> 0,
      cr3: pml4,
      cr4: X86_CR4_PAE,
      efer: X86_EFER_LME | X86_EFER_LMA,
      gdt: tables.gdt,
      idt: tables.idt,
      segments: segments(gdt),
    },
  };
}

/** Options of {@linkcode x86PvhBoot}. */
export interface X86PvhOptions {
  /** The PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY). */
  entry: number;
  /** Guest address of struct hvm_start_info, passed in EBX. */
  startInfo: number;
  /** GDT address. Default 0x500. */
  gdtAddr?: number;
  /** IDT address (one zero entry). Default 0x520. */
  idtAddr?: number;
  /**
   * ESP. PVH does not define a stack; we set one (default 0x8ff0, as the 64-bit state) so that position-
   * independent 32-bit code can find its address with `call`/`pop`.
   */
  stack?: number;
}

/**
 * The PVH 32-bit entry state: flat 32-bit protected mode, paging off, EBX = hvm_start_info, interrupts
 * off; a GDT with flat 32-bit code and data.
 *
 * @example
 * ```ts
 * import { x86PvhBoot } from "@linux-loader/linux-loader";
 * const { cpu } = x86PvhBoot({ entry: 0x1000000, startInfo: 0x6000 });
 * console.log(cpu.mode, cpu.regs.ebx.toString(16), cpu.cr0 & 0x80000000); // protected 6000 0
 * ```
 */
export function x86PvhBoot(opts: X86PvhOptions): X86BootSetup {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  const gdt = bootGdt(GDT_FLAGS.code32);
  const regs = { eip: opts.entry, ebx: opts.startInfo, esp: opts.stack ?? 0x8ff0, eflags: X86_RFLAGS_DEFAULT };
  return protectedModeSetup(gdt, opts, regs, segments(gdt));
}

// Where the boot GDT and its one-entry IDT go unless the options say otherwise.
const DEFAULT_GDT_ADDR = 0x500;
const DEFAULT_IDT_ADDR = 0x520;

// What every entry state writes first: the GDT and a one-entry IDT at their addresses, and the table
// registers that point at them.
function descriptorTables(
  gdt: readonly bigint[],
  opts: { gdtAddr?: number; idtAddr?: number },
): { steps: PlanStep[]; gdt: X86TableRegister; idt: X86TableRegister } {
  const gdtAddr = opts.gdtAddr ?? DEFAULT_GDT_ADDR;
  const idtAddr = opts.idtAddr ?? DEFAULT_IDT_ADDR;
  return {
    steps: [
      { kind: "bytes", guestAddr: gdtAddr, bytes: u64Bytes(gdt), label: "boot GDT" },
      { kind: "bytes", guestAddr: idtAddr, bytes: u64Bytes([0n]), label: "boot IDT" },
    ],
    gdt: { base: gdtAddr, limit: gdt.length * 8 - 1 },
    idt: { base: idtAddr, limit: 7 },
  };
}

// What every flat 32-bit entry shares (PVH, the 32-bit Linux protocol): the descriptor tables, protected
// mode with paging off.
function protectedModeSetup(
  gdt: readonly bigint[],
  opts: { gdtAddr?: number; idtAddr?: number },
  regs: Record<string, number>,
  segs: X86Segments,
): X86BootSetup {
  const tables = descriptorTables(gdt, opts);
  return {
    plan: { steps: tables.steps },
    cpu: {
      mode: "protected",
      regs,
      cr0: X86_CR0_PE | X86_CR0_ET,
      cr3: 0,
      cr4: 0,
      efer: 0,
      gdt: tables.gdt,
      idt: tables.idt,
      segments: segs,
    },
  };
}

/**
 * GDT selectors of the 32-bit Linux boot protocol. boot.rst, "32-bit Boot Protocol": "a GDT must be loaded
 * with the descriptors for selectors __BOOT_CS(0x10) and __BOOT_DS(0x18)".
 *
 * @example
 * ```ts
 * import { LINUX32_BOOT_SELECTORS } from "@linux-loader/linux-loader";
 * console.log(LINUX32_BOOT_SELECTORS); // { code: 16, data: 24 }
 * ```
 */
export const LINUX32_BOOT_SELECTORS: Readonly<{ code: number; data: number }> = Object.freeze({
  code: 0x10,
  data: 0x18,
});

/** Options of {@linkcode x86Linux32Boot}. */
export interface X86Linux32Options {
  /** The 32-bit entry: the protected-mode code's load address (code32_start, `entry.linux32`). */
  entry: number;
  /** Guest address of struct boot_params (the zero page), passed in ESI. */
  zeroPage: number;
  /** GDT address. Default 0x500. */
  gdtAddr?: number;
  /** IDT address (one zero entry). Default 0x520. */
  idtAddr?: number;
}

/**
 * The 32-bit Linux boot protocol's entry state. boot.rst: "the CPU must be in 32-bit protected mode with
 * paging disabled; a GDT must be loaded with the descriptors for selectors __BOOT_CS(0x10) and
 * __BOOT_DS(0x18); both descriptors must be 4G flat segment; ... CS must be __BOOT_CS and DS, ES, SS must
 * be __BOOT_DS; interrupt must be disabled; %esi must hold the base address of the struct boot_params;
 * %ebp, %edi and %ebx must be zero."
 *
 * @example
 * ```ts
 * import { x86Linux32Boot } from "@linux-loader/linux-loader";
 * const { cpu } = x86Linux32Boot({ entry: 0x100000, zeroPage: 0x7000 });
 * console.log(cpu.mode, cpu.segments.cs.selector, cpu.segments.ds.selector, cpu.regs.esi.toString(16)); // protected 16 24 7000
 * ```
 */
export function x86Linux32Boot(opts: X86Linux32Options): X86BootSetup {
  requireObject(opts, "opts", ConfiguratorError, "InvalidArgument");
  // Entries 0 and 1 unused, 2 (0x10) flat 32-bit code, 3 (0x18) flat data.
  const gdt = [0n, 0n, gdtEntry(GDT_FLAGS.code32, 0, 0xfffff), gdtEntry(GDT_FLAGS.data, 0, 0xfffff)];
  const code = segmentFromGdtEntry(LINUX32_BOOT_SELECTORS.code, gdt[2]);
  const data = segmentFromGdtEntry(LINUX32_BOOT_SELECTORS.data, gdt[3]);
  // EFLAGS.IF clear (interrupts off); EBP, EDI, EBX zero.
  const regs = { eip: opts.entry, esi: opts.zeroPage, ebp: 0, edi: 0, ebx: 0, eflags: X86_RFLAGS_DEFAULT };
  return protectedModeSetup(gdt, opts, regs, {
    cs: code,
    ds: { ...data },
    es: { ...data },
    fs: { ...data },
    gs: { ...data },
    ss: { ...data },
    tr: segmentFromGdtEntry(0, 0n),
  });
}
