/**
 * The 32-bit pieces of the x86 Linux machine (emu/linux/x86_legacy.ts): legacy page-table walks, 32-bit
 * IDT gates, segment descriptors and interrupt frames, built field by field and checked against the SDM's
 * layouts.
 */
import assert from "node:assert/strict";
import {
  CR0_PG,
  CR4_PAE,
  CR4_PSE,
  decodeIdtGate32,
  decodeSegmentDescriptor,
  GATE32,
  legacyFrameBytes,
  translateLegacy,
  tss32Stack0,
} from "../../emu/linux/x86_legacy.ts";
import { GDT_FLAGS, gdtEntry, x86Linux32Boot } from "../../lib/boot/x86_64.ts";
import { X86LinuxMachine } from "../../emu/linux/x86_machine.ts";
import { applyX86State } from "../../emu/x86_64.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { bootX86Pvh } from "../../emu/linux/x86_64.ts";
import type { EmulatorError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";

const P = 1, RW = 2, US = 4, PS = 0x80;
const PAGING = { cr0: CR0_PG | 1n };

Deno.test("translateLegacy returns the address itself while paging is off", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  assert.deepEqual(translateLegacy(mem, { cr0: 1n, cr3: 0n, cr4: 0n }, 0xc000_1234), {
    pa: 0xc000_1234,
    writable: true,
    user: true,
  });
});

Deno.test("translateLegacy walks 32-bit paging: a 4 KiB page through a page table, and the U/S and R/W of both levels", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  const cr3 = 0x1000, pt = 0x2000, va = 0xc010_3456;
  mem.writeU32(cr3 + (va >>> 22) * 4, pt | P | RW); // PDE: kernel, writable
  mem.writeU32(pt + ((va >>> 12) & 0x3ff) * 4, 0x5_6000 | P | US); // PTE: read-only
  assert.deepEqual(translateLegacy(mem, { ...PAGING, cr3: BigInt(cr3), cr4: 0n }, va), {
    pa: 0x5_6456,
    writable: false,
    user: false,
  });
  // The next page has no PTE.
  assert.equal(translateLegacy(mem, { ...PAGING, cr3: BigInt(cr3), cr4: 0n }, va + 0x1000), undefined);
});

Deno.test("translateLegacy takes a PS directory entry as a 4 MiB page only when CR4.PSE is set", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  const cr3 = 0x1000, va = 0xc040_0000 + 0x12_3456;
  mem.writeU32(cr3 + (va >>> 22) * 4, 0x0080_0000 | PS | P | RW | US);
  assert.deepEqual(translateLegacy(mem, { ...PAGING, cr3: BigInt(cr3), cr4: CR4_PSE }, va), {
    pa: 0x0080_0000 + 0x12_3456,
    writable: true,
    user: true,
  });
  // Without PSE the same entry names a page table at 0x800000, outside this 1 MiB of RAM.
  assert.equal(translateLegacy(mem, { ...PAGING, cr3: BigInt(cr3), cr4: 0n }, va), undefined);
});

Deno.test("translateLegacy walks PAE paging: the PDPT entry by address bits 31:30, a 2 MiB page and a 4 KiB page", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  const cr3 = 0x1020; // PAE: CR3 bits 31:5 locate the 32-byte PDPT
  const pd = 0x3000, pt = 0x4000;
  mem.writeU64(cr3 + 3 * 8, BigInt(pd | P)); // PDPT[3]: 0xc0000000-0xffffffff
  const big = 0xc060_0000 + 0x1_2345; // PD index 3: a 2 MiB page
  mem.writeU64(pd + ((big >>> 21) & 511) * 8, (1n << 63n) | 0x0120_0000n | BigInt(PS | P | RW)); // NX set
  const small = 0xc080_5678; // PD index 4: a page table
  mem.writeU64(pd + ((small >>> 21) & 511) * 8, BigInt(pt | P | RW | US));
  mem.writeU64(pt + ((small >>> 12) & 511) * 8, BigInt(0x7_7000 | P | RW | US));
  const regs = { ...PAGING, cr3: BigInt(cr3), cr4: CR4_PAE };
  assert.deepEqual(translateLegacy(mem, regs, big), { pa: 0x0120_0000 + 0x1_2345, writable: true, user: false });
  assert.deepEqual(translateLegacy(mem, regs, small), { pa: 0x7_7678, writable: true, user: true });
  // PDPT[0] is not present: the low 1 GiB is unmapped.
  assert.equal(translateLegacy(mem, regs, 0x1000), undefined);
});

Deno.test("translateLegacy stops at an entry outside guest RAM instead of reading past it", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  assert.equal(translateLegacy(mem, { ...PAGING, cr3: 0xfff0_0000n, cr4: 0n }, 0xc000_0000), undefined);
});

/** A 32-bit IDT gate, field by field (SDM figure 6-2). */
function gate(offset: number, selector: number, type: number, dpl: number, present = true): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, offset & 0xffff, true); // offset 15:0
  dv.setUint16(2, selector, true); // segment selector
  dv.setUint8(4, 0); // reserved
  dv.setUint8(5, (present ? 0x80 : 0) | (dpl << 5) | type); // P, DPL, 0, type
  dv.setUint16(6, offset >>> 16, true); // offset 31:16
  return b;
}

Deno.test("decodeIdtGate32 reads the handler offset, selector, type, DPL and present bit of a 32-bit gate", () => {
  assert.deepEqual(decodeIdtGate32(gate(0xc15e_1234, 0x60, GATE32.interrupt, 3)), {
    offset: 0xc15e_1234,
    selector: 0x60,
    type: GATE32.interrupt,
    dpl: 3,
    present: true,
  });
  assert.equal(decodeIdtGate32(gate(0, 0xf8, GATE32.task, 0)).type, GATE32.task);
  assert.equal(decodeIdtGate32(gate(0, 0, 0, 0, false)).present, false);
});

Deno.test("decodeSegmentDescriptor scales a granular limit and reads base and DPL as a segment load caches them", () => {
  const flatUserCode = gdtEntry(GDT_FLAGS.code32 | (3 << 5), 0, 0xfffff);
  const c = decodeSegmentDescriptor(new Uint8Array(new BigUint64Array([flatUserCode]).buffer));
  assert.deepEqual([c.base, c.limit, c.dpl], [0, 0xffff_ffff, 3]);
  assert.equal(c.flags, Number(flatUserCode >> 32n));
  const percpu = gdtEntry(GDT_FLAGS.data, 0x1f5a_c000, 0xfffff);
  const d = decodeSegmentDescriptor(new Uint8Array(new BigUint64Array([percpu]).buffer));
  assert.deepEqual([d.base, d.limit, d.dpl], [0x1f5a_c000, 0xffff_ffff, 0]);
});

Deno.test("legacyFrameBytes lays out error code, EIP, CS, EFLAGS and on a privilege change ESP and SS, 4 bytes each", () => {
  const words = (b: Uint8Array) => [...new Uint32Array(b.buffer)];
  assert.deepEqual(words(legacyFrameBytes({ eip: 0x804_9000, cs: 0x73, eflags: 0x246 })), [0x804_9000, 0x73, 0x246]);
  assert.deepEqual(
    words(legacyFrameBytes({ eip: 0x804_9002, cs: 0x73, eflags: 0x246, stack: { ss: 0x7b, esp: 0xbfff_f000 } })),
    [0x804_9002, 0x73, 0x246, 0xbfff_f000, 0x7b],
  );
  assert.deepEqual(
    words(legacyFrameBytes({ eip: 0xc100_0000, cs: 0x60, eflags: 0x10046, errorCode: 6 })),
    [6, 0xc100_0000, 0x60, 0x10046],
  );
});

Deno.test("tss32Stack0 reads ESP0 at offset 4 and SS0 at offset 8 of a 32-bit TSS", () => {
  const tss = new Uint8Array(104);
  const dv = new DataView(tss.buffer);
  dv.setUint32(4, 0xc1c5_4000, true);
  dv.setUint16(8, 0x68, true);
  assert.deepEqual(tss32Stack0(tss), { esp: 0xc1c5_4000, ss: 0x68 });
});

/**
 * A ring-3 `int 0x80` in 32-bit protected mode (paging off) on the real-kernel machine: the machine must
 * switch to SS0:ESP0 of the TSS, push SS, ESP, EFLAGS, CS and EIP of the user code, clear IF (an interrupt
 * gate) and enter the handler at CPL 0. The handler stores what it sees; the test reads that back.
 */
emuTest(
  "the x86 machine delivers a ring-3 int 0x80 through a 32-bit interrupt gate with the TSS's ring-0 stack",
  () => {
    const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
    const GDT = 0x500, TSS = 0x600, IDT = 0x1000, KERNEL = 0x2000, USER = 0x3000, HANDLER = 0x4000, OUT = 0x9000;
    const ESP0 = 0x8000, USER_ESP = 0x7000;
    const KCS = 0x10, KDS = 0x18, UCS = 0x20 | 3, UDS = 0x28 | 3, TR = 0x30;
    const DPL3 = 3 << 5, TSS32_AVAILABLE = 0x89;
    const gdt = [
      0n,
      0n,
      gdtEntry(GDT_FLAGS.code32, 0, 0xfffff), // 0x10 kernel code
      gdtEntry(GDT_FLAGS.data, 0, 0xfffff), // 0x18 kernel data
      gdtEntry(GDT_FLAGS.code32 | DPL3, 0, 0xfffff), // 0x23 user code
      gdtEntry(GDT_FLAGS.data | DPL3, 0, 0xfffff), // 0x2b user data
      gdtEntry(TSS32_AVAILABLE, TSS, 103), // 0x30 32-bit TSS
    ];
    mem.write(GDT, new Uint8Array(new BigUint64Array(gdt).buffer));
    mem.writeU32(TSS + 4, ESP0); // ESP0
    mem.writeU16(TSS + 8, KDS); // SS0
    mem.write(IDT + 0x80 * 8, gate(HANDLER, KCS, GATE32.interrupt, 3));
    // Kernel: iret to the user code at ring 3 with interrupts on.
    mem.write(
      KERNEL,
      new Uint8Array([
        ...[0x6a, UDS], // push UDS            (SS)
        ...[0x68, 0x00, 0x70, 0x00, 0x00], // push 0x7000   (ESP)
        ...[0x68, 0x02, 0x02, 0x00, 0x00], // push 0x202    (EFLAGS: IF)
        ...[0x6a, UCS], // push UCS            (CS)
        ...[0x68, 0x00, 0x30, 0x00, 0x00], // push 0x3000   (EIP)
        0xcf, // iret
      ]),
    );
    // User: a system call through int 0x80, then spin.
    mem.write(USER, new Uint8Array([0xb8, 0x34, 0x12, 0x00, 0x00, 0xcd, 0x80, 0xeb, 0xfe])); // mov eax, 0x1234; int 0x80; jmp $
    // Handler: store ESP, EFLAGS, CS and SS as it sees them, then halt.
    mem.write(
      HANDLER,
      new Uint8Array([
        ...[0x89, 0x25, 0x00, 0x90, 0x00, 0x00], // mov [0x9000], esp
        0x9c, // pushfd
        ...[0x8f, 0x05, 0x04, 0x90, 0x00, 0x00], // pop dword [0x9004]
        ...[0x8c, 0x0d, 0x08, 0x90, 0x00, 0x00], // mov [0x9008], cs
        ...[0x8c, 0x15, 0x0c, 0x90, 0x00, 0x00], // mov [0x900c], ss
        0xf4, // hlt
      ]),
    );
    using m = new X86LinuxMachine({ mem, flushSites: { invlpg: [], movCr: [] } });
    const { cpu } = x86Linux32Boot({ entry: KERNEL, zeroPage: 0x7000, gdtAddr: GDT });
    m.leaveLongMode();
    applyX86State(m.uc, {
      ...cpu,
      gdt: { base: GDT, limit: gdt.length * 8 - 1 },
      idt: { base: IDT, limit: 0x80 * 8 + 7 },
    });
    m.uc.writeMmr("tr", { selector: TR, base: TSS, limit: 103, flags: TSS32_AVAILABLE << 8 });
    m.uc.regWrite("esp", 0x6000);
    const r = m.run(BigInt(KERNEL), { timeoutMs: 20_000, maxInstructions: 0 });
    assert.equal(r.stop, "halt", r.detail);
    const frameAt = ESP0 - 5 * 4;
    assert.equal(mem.readU32(OUT), frameAt, "handler ESP: SS0:ESP0 less the 5-slot frame");
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => mem.readU32(frameAt + i * 4)), [USER + 7, UCS, 0x202, USER_ESP, UDS]);
    assert.equal(mem.readU32(OUT + 4) & 0x200, 0, "an interrupt gate clears IF");
    assert.deepEqual([mem.readU16(OUT + 8), mem.readU16(OUT + 12)], [KCS, KDS]);
    assert.equal(r.stats.exceptions, 1);
  },
);

Deno.test("bootX86Pvh refuses a 32-bit vmlinux with one line that points at the 32-bit protocol", async () => {
  // An ELF32 identification, field by field: magic, EI_CLASS = ELFCLASS32, EI_DATA = little-endian,
  // EI_VERSION = 1; the rest of the 52-byte header zero.
  const elf32 = new Uint8Array(52);
  elf32.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  await assert.rejects(
    bootX86Pvh(elf32),
    (e: EmulatorError) =>
      e.code === "UnsupportedMachine" && /^PVH boots an x86_64 vmlinux only/.test(e.message) &&
      !e.message.includes("\n"),
  );
});

/**
 * The entry a 32-bit kernel overwrites and runs again (`rewrittenEntry`): guest code at ENTRY copies a new
 * routine over ENTRY and jumps back to it; the machine flushes its translations when ENTRY runs the second
 * time (only the blocks of its kernel range), and the new routine is what runs.
 */
emuTest("the x86 machine flushes translations when the rewritten entry runs again, and the new code runs", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  const ENTRY = 0x1_0000, NEW = 0x2_0000, OUT = 0x9000;
  // The new routine: mov dword [0x9000], 0x600d; hlt.
  const routine = [0xc7, 0x05, 0x00, 0x90, 0x00, 0x00, 0x0d, 0x60, 0x00, 0x00, 0xf4];
  mem.write(NEW, new Uint8Array(routine));
  mem.write(
    ENTRY,
    new Uint8Array([
      ...[0xbe, 0x00, 0x00, 0x02, 0x00], // mov esi, NEW
      ...[0xbf, 0x00, 0x00, 0x01, 0x00], // mov edi, ENTRY
      ...[0xb9, routine.length, 0x00, 0x00, 0x00], // mov ecx, routine.length
      ...[0xf3, 0xa4], // rep movsb: the routine over this code
      ...[0xb8, 0x00, 0x00, 0x01, 0x00], // mov eax, ENTRY
      ...[0xff, 0xe0], // jmp eax
    ]),
  );
  using m = new X86LinuxMachine({
    mem,
    flushSites: { invlpg: [], movCr: [] },
    rewrittenEntry: BigInt(ENTRY),
    kernelRange: { addr: ENTRY, size: 0x1_0000 },
  });
  const { cpu, plan } = x86Linux32Boot({ entry: ENTRY, zeroPage: 0x7000 });
  for (const step of plan.steps) if (step.kind === "bytes") mem.write(step.guestAddr, step.bytes);
  m.leaveLongMode();
  applyX86State(m.uc, cpu);
  m.uc.regWrite("esp", 0x8000);
  const r = m.run(BigInt(ENTRY), { timeoutMs: 20_000, maxInstructions: 0 });
  assert.equal(r.stop, "halt", r.detail);
  assert.equal(mem.readU32(OUT), 0x600d);
  assert.equal(r.stats.entryFlushes, 1);
});

/**
 * `syscall` from ring 3 of a 32-bit kernel: outside long mode it needs EFER.SCE, which 32-bit Linux never
 * sets, so the CPU raises #UD; the machine delivers it through the 32-bit IDT (the frame's EIP is the
 * `syscall` itself), not the 64-bit SYSCALL path (LSTAR).
 */
emuTest("the x86 machine answers a 32-bit ring-3 syscall instruction with #UD through the 32-bit IDT", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  const GDT = 0x500, TSS = 0x600, IDT = 0x1000, KERNEL = 0x2000, USER = 0x3000, HANDLER = 0x4000, OUT = 0x9000;
  const ESP0 = 0x8000;
  const KCS = 0x10, KDS = 0x18, UCS = 0x20 | 3, UDS = 0x28 | 3, TR = 0x30;
  const DPL3 = 3 << 5, TSS32_AVAILABLE = 0x89, UD = 6;
  const gdt = [
    0n,
    0n,
    gdtEntry(GDT_FLAGS.code32, 0, 0xfffff),
    gdtEntry(GDT_FLAGS.data, 0, 0xfffff),
    gdtEntry(GDT_FLAGS.code32 | DPL3, 0, 0xfffff),
    gdtEntry(GDT_FLAGS.data | DPL3, 0, 0xfffff),
    gdtEntry(TSS32_AVAILABLE, TSS, 103),
  ];
  mem.write(GDT, new Uint8Array(new BigUint64Array(gdt).buffer));
  mem.writeU32(TSS + 4, ESP0);
  mem.writeU16(TSS + 8, KDS);
  mem.write(IDT + UD * 8, gate(HANDLER, KCS, GATE32.interrupt, 0));
  mem.write(
    KERNEL,
    new Uint8Array([
      ...[0x6a, UDS], // push UDS
      ...[0x68, 0x00, 0x70, 0x00, 0x00], // push 0x7000
      ...[0x6a, 0x02], // push 0x2 (EFLAGS)
      ...[0x6a, UCS], // push UCS
      ...[0x68, 0x00, 0x30, 0x00, 0x00], // push 0x3000
      0xcf, // iret
    ]),
  );
  mem.write(USER, new Uint8Array([0x90, 0x0f, 0x05, 0xeb, 0xfe])); // nop; syscall; jmp $
  mem.write(HANDLER, new Uint8Array([...[0x89, 0x25, 0x00, 0x90, 0x00, 0x00], 0xf4])); // mov [0x9000], esp; hlt
  using m = new X86LinuxMachine({ mem, flushSites: { invlpg: [], movCr: [] } });
  const { cpu } = x86Linux32Boot({ entry: KERNEL, zeroPage: 0x7000, gdtAddr: GDT });
  m.leaveLongMode();
  applyX86State(m.uc, { ...cpu, gdt: { base: GDT, limit: gdt.length * 8 - 1 }, idt: { base: IDT, limit: 0xff } });
  m.uc.writeMmr("tr", { selector: TR, base: TSS, limit: 103, flags: TSS32_AVAILABLE << 8 });
  m.uc.regWrite("esp", 0x6000);
  const r = m.run(BigInt(KERNEL), { timeoutMs: 20_000, maxInstructions: 0 });
  assert.equal(r.stop, "halt", r.detail);
  const frameAt = ESP0 - 5 * 4;
  assert.equal(mem.readU32(OUT), frameAt);
  assert.deepEqual([0, 1].map((i) => mem.readU32(frameAt + i * 4)), [USER + 1, UCS], "EIP of the syscall, user CS");
  assert.equal(r.stats.legacySyscalls, 1);
});
