import assert from "node:assert/strict";
import { bootKernel } from "../../emu/boot.ts";
import { demoKernel } from "../../emu/demo_kernels.ts";
import { demoKernelsModule } from "../../fixtures/build/demo_kernels.ts";
import { KernelLoaderError } from "../../mod.ts";
import { emuTest } from "./_unicorn.ts";

const initrd = new TextEncoder().encode("initrd bytes");

Deno.test("the committed demo kernels match what the builders make from the stubs", () => {
  const committed = Deno.readTextFileSync(new URL("../../emu/demo_kernels.ts", import.meta.url));
  assert.equal(committed, demoKernelsModule(), "run: deno run -A fixtures/build/demo_kernels.ts");
});

emuTest("bootKernel boots the x86_64 demo vmlinux with the Linux protocol and names the fields it read", async () => {
  const r = await bootKernel(demoKernel("x86_64"), { cmdline: "console=ttyS0 a=b", initrd });
  assert.equal(r.run.serial, "LINUX OK cmdline=console=ttyS0 a=b e820=0x3 first=0x0:0x9fc00:0x1\n");
  assert.equal(r.bootRegisters.rsi, 0x7000);
  const what = r.reads.map((x) => x.what);
  assert.deepEqual(what.slice(0, 8), [
    "zero page.hdr.boot_flag",
    "zero page.hdr.header",
    "zero page.hdr.cmd_line_ptr",
    "zero page.ext_cmd_line_ptr",
    "zero page.e820_entries",
    "zero page.e820_table[0].addr",
    "zero page.e820_table[0].size",
    "zero page.e820_table[0].type",
  ]);
  assert.equal(r.reads[0].value, "0xaa55");
  assert.ok(r.written.some((w) => w.label === "initrd" && w.end - w.start === initrd.length));
});

emuTest("bootKernel boots the same vmlinux through its PVH note with the initrd as a module", async () => {
  const r = await bootKernel(demoKernel("x86_64"), { cmdline: "console=ttyS0", initrd, protocol: "pvh" });
  const initrdAt = r.written.find((w) => w.label === "initrd")!.start;
  assert.equal(
    r.run.serial,
    `PVH OK v=0x1 cmdline=console=ttyS0 memmap=0x3 first=0x0:0x9fc00:0x1 modules=0x1 mod0=0x${
      initrdAt.toString(16)
    }:0x${initrd.length.toString(16)}\n`,
  );
  assert.equal(r.reads[0].what, "hvm_start_info.magic");
  assert.equal(r.reads[0].value, "0x336ec578");
});

emuTest("bootKernel boots the arm64 demo Image with the bootargs in its device tree", async () => {
  const r = await bootKernel(demoKernel("aarch64"), { cmdline: "console=ttyAMA0 x=1" });
  assert.match(r.run.serial, /^FDT OK size=0x[0-9a-f]+ bootargs=console=ttyAMA0 x=1\n$/);
  assert.deepEqual(r.reads.slice(0, 2).map((x) => [x.what, x.value]), [
    ["fdt_header.magic", "0xd00dfeed"],
    [
      "fdt_header.totalsize",
      `0x${(r.written.find((w) => w.label === "device tree")!.end - r.bootRegisters.x0).toString(16)}`,
    ],
  ]);
});

emuTest("bootKernel boots the riscv64 demo Image with hart id 0 and the DTB in a1", async () => {
  const r = await bootKernel(demoKernel("riscv64"), { cmdline: "console=ttyS0" });
  assert.match(r.run.serial, /^FDT OK hart=0x0 size=0x[0-9a-f]+ bootargs=console=ttyS0\n$/);
  assert.equal(r.bootRegisters.a0, 0);
});

Deno.test("bootKernel refuses the PVH protocol for an arm64 Image", async () => {
  await assert.rejects(
    bootKernel(demoKernel("aarch64"), { protocol: "pvh" }).then(() => {}),
    (e: unknown) => e instanceof KernelLoaderError && /protocol pvh is for x86_64 kernels/.test(e.message),
  );
});

Deno.test("bootKernel refuses PVH for an x86 image without a PHYS32_ENTRY note", async () => {
  const { buildElf } = await import("../../fixtures/build/elf.ts");
  const elf = buildElf({ entry: 0x200000, segments: [{ paddr: 0x200000, data: new Uint8Array([0xf4]) }] });
  await assert.rejects(bootKernel(elf, { protocol: "pvh" }), (e: unknown) => {
    return e instanceof KernelLoaderError && /PHYS32_ENTRY/.test(e.message);
  });
});

// x86-64 code that prints "hi" on COM1 (mov dx, 0x3f8; mov al, 'h'; out dx, al; mov al, 'i'; out dx, al).
const PRINT_HI = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x68, 0xee, 0xb0, 0x69, 0xee];
const JMP_SELF = [0xeb, 0xfe];
/** mov eax, [0x3ff00000]: inside the boot page tables' 1 GiB identity map, far past 64 MiB of RAM. */
const UNMAPPED = 0x3ff0_0000;
const READ_UNMAPPED = [0x8b, 0x04, 0x25, ...[0, 8, 16, 24].map((s) => (UNMAPPED >>> s) & 0xff)];

async function stubElf(code: number[]): Promise<Uint8Array> {
  const { buildElf } = await import("../../fixtures/build/elf.ts");
  return buildElf({ entry: 0x200000, segments: [{ paddr: 0x200000, data: new Uint8Array(code) }] });
}

emuTest("bootKernel keeps the console of a run that uses its instruction budget and says it did", async () => {
  const r = await bootKernel(await stubElf([...PRINT_HI, ...JMP_SELF]), { maxInstructions: 1000 });
  assert.equal(r.run.serial, "hi");
  assert.equal(r.run.stop, "instruction-limit");
  assert.equal(r.run.haltPc, 0x200000 + PRINT_HI.length);
  assert.match(r.ended, /^instruction limit: .*1000 instructions/);
});

emuTest("bootKernel keeps the console of a run that times out and says it did", async () => {
  const r = await bootKernel(await stubElf([...PRINT_HI, ...JMP_SELF]), { timeoutMs: 50, maxInstructions: 2 ** 40 });
  assert.equal(r.run.serial, "hi");
  assert.equal(r.run.stop, "timeout");
  assert.match(r.ended, /^time limit: the guest did not halt within 50 ms/);
});

emuTest("bootKernel keeps the console of a run that faults and names the fault's pc and address", async () => {
  const r = await bootKernel(await stubElf([...PRINT_HI, ...READ_UNMAPPED, 0xf4]));
  assert.equal(r.run.serial, "hi");
  assert.equal(r.run.stop, "fault");
  assert.deepEqual(r.fault, { pc: 0x200000 + PRINT_HI.length, address: UNMAPPED, access: "read" });
  assert.match(r.ended, /^fault: guest read of 4 byte\(s\) at 0x3ff00000 hits unmapped memory \(pc 0x20000a\)/);
  assert.equal(r.run.registers.rax, 0x69n); // the registers at the fault: al still holds 'i'
});

/** A bzImage whose 64-bit entry (startup_64, 0x200 into the payload) halts, needing 64 MiB from 16 MiB. */
async function bigBzImage(): Promise<Uint8Array> {
  const { buildBzImage } = await import("../../fixtures/build/bzimage.ts");
  const payload = new Uint8Array(0x1000);
  payload[0x200] = 0xf4; // hlt
  return buildBzImage({ payload, header: { init_size: 64 << 20 } });
}

emuTest("bootKernel sizes guest memory from a bzImage's pref_address and init_size when none is given", async () => {
  const r = await bootKernel(await bigBzImage());
  // 16 MiB (pref_address, 2 MiB aligned) + 64 MiB init_size + 16 MiB headroom
  assert.equal(r.memSize, 96 << 20);
  assert.equal(r.run.stop, "halt");
  assert.equal(r.run.haltPc, 0x100200);
});

Deno.test("bootKernel refuses too little memory for a bzImage's init_size before running it", async () => {
  const { BzImageError } = await import("../../lib/errors.ts");
  await assert.rejects(
    bootKernel(await bigBzImage(), { memSize: 64 << 20 }),
    (e: unknown) => e instanceof BzImageError && e.code === "InitSizeTooLarge" && /init_size 0x4000000/.test(e.message),
  );
});

/**
 * 32-bit protected-mode code that prints the command line through boot_params (ESI), then leaves the CS
 * and DS selectors and boot_params.hdr.boot_flag in registers and halts.
 */
const LINUX32_STUB = [
  ...[0x8b, 0x8e, 0x28, 0x02, 0x00, 0x00], // mov ecx, [esi + 0x228]    (hdr.cmd_line_ptr)
  ...[0x66, 0xba, 0xf8, 0x03], //             mov dx, 0x3f8
  ...[0x8a, 0x01], //                         next: mov al, [ecx]
  ...[0x84, 0xc0], //                         test al, al
  ...[0x74, 0x04], //                         jz done
  ...[0xee], //                               out dx, al
  ...[0x41], //                               inc ecx
  ...[0xeb, 0xf6], //                         jmp next
  ...[0x8c, 0xc8], //                         done: mov eax, cs
  ...[0x8c, 0xd9], //                         mov ecx, ds
  ...[0x0f, 0xb7, 0x9e, 0xfe, 0x01, 0x00, 0x00], // movzx ebx, word [esi + 0x1fe]   (hdr.boot_flag)
  0xf4, //                                    hlt
];

/** A protocol 2.15 bzImage without XLF_KERNEL_64 (a 32-bit kernel) whose protected-mode code is the stub. */
async function bzImage32(): Promise<Uint8Array> {
  const { buildBzImage } = await import("../../fixtures/build/bzimage.ts");
  return buildBzImage({ payload: new Uint8Array(LINUX32_STUB), header: { xloadflags: 0 } });
}

emuTest(
  "bootKernel boots a 32-bit bzImage through the 32-bit protocol and the guest reads boot_params via esi",
  async () => {
    const r = await bootKernel(await bzImage32(), { cmdline: "console=ttyS0 bits=32" });
    assert.equal(r.detected.arch, "i386");
    assert.equal(r.entry, 0x100000); // code32_start, not +0x200
    assert.deepEqual(r.bootRegisters, { esi: 0x7000 });
    assert.equal(r.run.serial, "console=ttyS0 bits=32");
    assert.ok(r.reads.some((g) => g.what === "zero page.hdr.cmd_line_ptr" && g.value === "0x20000"));
    assert.ok(r.reads.some((g) => g.what === "zero page.hdr.boot_flag" && g.value === "0xaa55"));
  },
);

emuTest(
  "a 32-bit bzImage runs with __BOOT_CS 0x10, __BOOT_DS 0x18, paging and interrupts off, ebp and edi zero",
  async () => {
    const g = (await bootKernel(await bzImage32())).run.registers;
    assert.deepEqual([g.eax, g.ecx, g.ebx, g.esi, g.edi, g.ebp], [0x10n, 0x18n, 0xaa55n, 0x7000n, 0n, 0n]);
    assert.equal(g.cr0 & 0x8000_0001n, 1n); // PE on, PG off
    assert.equal(g.eflags & 0x200n, 0n); // IF clear
  },
);
