import assert from "node:assert/strict";
import { ConfiguratorError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import {
  gdtEntry,
  segmentFromGdtEntry,
  X86_CR0_PG,
  X86_CR4_PAE,
  X86_EFER_LMA,
  X86_EFER_LME,
  x86LongModeBoot,
  x86PvhBoot,
} from "../../lib/boot/x86_64.ts";

function applied(opts: Parameters<typeof x86LongModeBoot>[0]): GuestMemory {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  applyPlanSync(mem, x86LongModeBoot(opts).plan);
  return mem;
}

Deno.test("gdtEntry encodes Firecracker's flat 64-bit code, data and TSS descriptors", () => {
  assert.equal(gdtEntry(0xa09b, 0, 0xfffff), 0x00af_9b00_0000_ffffn);
  assert.equal(gdtEntry(0xc093, 0, 0xfffff), 0x00cf_9300_0000_ffffn);
  assert.equal(gdtEntry(0x808b, 0, 0xfffff), 0x008f_8b00_0000_ffffn);
});

Deno.test("gdtEntry places every base and limit bit where the SDM puts it", () => {
  assert.equal(gdtEntry(0x0093, 0x1234_5678, 0xa_bcde), 0x120a_9334_5678_bcden);
});

Deno.test("segmentFromGdtEntry decodes a 64-bit code descriptor into KVM's segment fields", () => {
  const s = segmentFromGdtEntry(0x08, 0x00af_9b00_0000_ffffn);
  assert.deepEqual(s, {
    selector: 0x08,
    base: 0,
    limit: 0xffff_ffff,
    type: 0xb,
    present: 1,
    dpl: 0,
    db: 0,
    s: 1,
    l: 1,
    g: 1,
    avl: 0,
    flags: 0xa09b,
  });
});

Deno.test("the long-mode GDT is null, code, data, TSS at 0x500", () => {
  const mem = applied({ entry: 0x100000, zeroPage: 0x7000 });
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => mem.readU64(0x500 + i * 8)),
    [0n, 0x00af_9b00_0000_ffffn, 0x00cf_9300_0000_ffffn, 0x008f_8b00_0000_ffffn],
  );
});

Deno.test("the PML4's first entry points at the PDPT, present and writable", () => {
  const mem = applied({ entry: 0x100000, zeroPage: 0x7000 });
  assert.equal(mem.readU64(0x9000), 0xa003n);
  assert.equal(mem.readU64(0x9008), 0n);
});

Deno.test("the PDPT's first entry points at the page directory, present and writable", () => {
  const mem = applied({ entry: 0x100000, zeroPage: 0x7000 });
  assert.equal(mem.readU64(0xa000), 0xb003n);
  assert.equal(mem.readU64(0xa008), 0n);
});

Deno.test("the page directory identity-maps the first GiB with 512 2 MiB pages", () => {
  const mem = applied({ entry: 0x100000, zeroPage: 0x7000 });
  for (let i = 0; i < 512; i++) assert.equal(mem.readU64(0xb000 + i * 8), (BigInt(i) << 21n) | 0x83n);
});

Deno.test("page-table addresses and the size of the identity map are configurable", () => {
  const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
  const { plan, cpu } = x86LongModeBoot({
    entry: 0x100000,
    zeroPage: 0x7000,
    pml4Addr: 0x20000,
    pdptAddr: 0x21000,
    pdAddr: 0x22000,
    identityGiB: 2,
  });
  applyPlanSync(mem, plan);
  assert.equal(cpu.cr3, 0x20000);
  assert.equal(mem.readU64(0x20000), 0x21003n);
  assert.deepEqual([mem.readU64(0x21000), mem.readU64(0x21008)], [0x22003n, 0x23003n]);
  assert.equal(mem.readU64(0x23000), (512n << 21n) | 0x83n);
});

Deno.test("a page-table address that is not 4 KiB-aligned is rejected", () => {
  assert.throws(
    () => x86LongModeBoot({ entry: 0, zeroPage: 0, pml4Addr: 0x9100 }),
    (e) => e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "pml4Addr",
  );
});

Deno.test("the long-mode registers turn on paging, PAE and long mode with RSI at the zero page", () => {
  const { cpu } = x86LongModeBoot({ entry: 0x100200, zeroPage: 0x7000 });
  assert.equal(cpu.mode, "long");
  assert.equal(cpu.cr0, 0x8000_0011);
  assert.ok(cpu.cr0 >= X86_CR0_PG);
  assert.equal(cpu.cr4, X86_CR4_PAE);
  assert.equal(cpu.efer, X86_EFER_LME | X86_EFER_LMA);
  assert.deepEqual(cpu.regs, { rip: 0x100200, rsi: 0x7000, rsp: 0x8ff0, rbp: 0x8ff0, rflags: 2 });
  assert.deepEqual(cpu.gdt, { base: 0x500, limit: 31 });
});

Deno.test("the long-mode segments are the 64-bit code selector and flat data selectors", () => {
  const { segments: s } = x86LongModeBoot({ entry: 0, zeroPage: 0 }).cpu;
  assert.deepEqual([s.cs.selector, s.cs.l, s.cs.db], [0x08, 1, 0]);
  for (const d of [s.ds, s.es, s.fs, s.gs, s.ss]) {
    assert.deepEqual([d.selector, d.type, d.limit], [0x10, 3, 0xffff_ffff]);
  }
  assert.equal(s.tr.selector, 0x18);
});

Deno.test("the PVH state is flat 32-bit protected mode with paging off and EBX at start_info", () => {
  const { cpu, plan } = x86PvhBoot({ entry: 0x1000000, startInfo: 0x6000 });
  assert.equal(cpu.mode, "protected");
  assert.equal(cpu.cr0 & 0x8000_0001, 1);
  assert.deepEqual([cpu.cr3, cpu.cr4, cpu.efer], [0, 0, 0]);
  assert.equal(cpu.regs.ebx, 0x6000);
  assert.equal(cpu.regs.eip, 0x1000000);
  assert.equal(cpu.regs.eflags & 0x200, 0);
  assert.deepEqual([cpu.segments.cs.db, cpu.segments.cs.l, cpu.segments.cs.limit], [1, 0, 0xffff_ffff]);
  assert.deepEqual(plan.steps.map((s) => s.label), ["boot GDT", "boot IDT"]);
});
