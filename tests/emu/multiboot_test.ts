import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { x86PvhBoot } from "../../lib/boot/x86_64.ts";
import { runX86 } from "../../emu/x86_64.ts";
import type { RunResult } from "../../emu/harness.ts";
import { loadMultiboot, loadMultiboot2, type MultibootLoadResult } from "../../lib/loader/multiboot.ts";
import { configureMultiboot, type MultibootInfoOptions } from "../../lib/configurator/multiboot.ts";
import { configureMultiboot2 } from "../../lib/configurator/multiboot2.ts";
import { MULTIBOOT_INFO, MULTIBOOT_MMAP_ENTRY } from "../../lib/abi/multiboot.ts";
import { buildMultiboot2, buildMultibootAout, buildMultibootElf } from "../../fixtures/build/multiboot.ts";
import {
  assembleMultibootStub,
  haveBinutils,
  MULTIBOOT_STUBS,
  multibootStub,
} from "../../fixtures/build/multiboot_stubs.ts";
import { emuTest } from "./_unicorn.ts";
import { ignoreUnless } from "../_require.ts";

const INFO = 0x9000;
const MODULE = 0x40_0000;
const CMDLINE = "console=ttyS0 multiboot";
const MODULE_STRING = "initrd root=/dev/ram0";

type Kind = "multiboot aout" | "multiboot elf32" | "multiboot2 aout" | "multiboot2 elf32";

function moduleBytes(): Uint8Array {
  const b = new Uint8Array(0x1000);
  new DataView(b.buffer).setUint32(0, 0xfeedface, true); // the stub prints the module's first dword
  return b;
}

/** Loads a fixture kernel with the loader, writes its information with the configurator, sets EAX/EBX. */
async function prepare(
  kind: Kind,
): Promise<{ mem: GuestMemory; load: MultibootLoadResult; cpu: ReturnType<typeof x86PvhBoot>["cpu"] }> {
  const mem = GuestMemory.fromRanges([[0, 8 << 20]]);
  const v2 = kind.startsWith("multiboot2");
  const img = kind === "multiboot aout"
    ? buildMultibootAout({ code: multibootStub("multiboot") })
    : kind === "multiboot elf32"
    ? buildMultibootElf({ code: multibootStub("multiboot") })
    : buildMultiboot2({ code: multibootStub("multiboot2"), format: kind.endsWith("aout") ? "aout" : "elf32" });
  const load = v2 ? await loadMultiboot2(mem, img) : await loadMultiboot(mem, img);
  const opts: MultibootInfoOptions = {
    infoAddr: INFO,
    cmdline: CMDLINE,
    modules: [{ addr: MODULE, bytes: moduleBytes(), cmdline: MODULE_STRING }],
    pageAlignModules: load.details.pageAlignModules,
  };
  const info = v2 ? configureMultiboot2(mem, opts) : configureMultiboot(mem, opts);
  // 32-bit flat protected mode, paging off (the PVH entry state is the same machine state); then the
  // Multiboot registers: EAX the boot loader magic, EBX the information's address.
  const { plan, cpu } = x86PvhBoot({ entry: load.entry.multiboot!, startInfo: info.registers.ebx });
  applyPlanSync(mem, plan);
  cpu.regs.eax = info.registers.eax;
  cpu.regs.ebx = info.registers.ebx;
  return { mem, load, cpu };
}

async function boot(kind: Kind, corrupt?: (mem: GuestMemory) => void): Promise<RunResult> {
  const { mem, cpu } = await prepare(kind);
  corrupt?.(mem);
  return runX86(mem, cpu);
}

const MB1_LINE = `MB1 OK flags=0x24d mem=0x280:0x1c00 cmdline=${CMDLINE} mmap=0x18 first=0x0:0x800000:0x1 ` +
  `mod0=0x400000:0x401000:0xfeedface '${MODULE_STRING}' loader=linux-loader for Deno\n`;
const MB2_LINE = `MB2 OK size=0xb0 cmdline=${CMDLINE} loader=linux-loader for Deno ` +
  `mod=0x400000:0x401000:0xfeedface '${MODULE_STRING}' mem=0x280:0x1c00 mmap=0x18 first=0x0:0x800000:0x1 end\n`;

emuTest("a Multiboot 1 a.out-kludge kernel reads the multiboot_info the configurator wrote", async () => {
  assert.equal((await boot("multiboot aout")).serial, MB1_LINE);
});

emuTest("a Multiboot 1 a.out-kludge kernel leaves the fields it read in registers", async () => {
  const { mem, cpu } = await prepare("multiboot aout");
  const g = runX86(mem, cpu).registers;
  const cmdlineAddr = BigInt(mem.readU32(INFO + MULTIBOOT_INFO.offsetOf("cmdline")));
  assert.deepEqual([g.eax, g.ebx, g.ecx, g.edx, g.esi, g.edi], [0n, BigInt(INFO), 0x24dn, 1n, cmdlineAddr, 0x40_0000n]);
});

emuTest("a Multiboot 1 kernel runs in 32-bit protected mode with paging off", async () => {
  const { registers: g } = await boot("multiboot aout");
  assert.equal(g.cr0 & 0x8000_0001n, 1n);
});

emuTest("a Multiboot 1 a.out-kludge kernel reports one wrong byte of the info flags", async () => {
  const r = await boot("multiboot aout", (mem) => mem.writeU8(INFO, 0x4c)); // flags 0x24d -> 0x24c
  assert.equal(r.serial, "MB1 BAD flags=0x24c\n");
  assert.equal(r.registers.eax, 2n);
});

emuTest("a Multiboot 1 kernel reports an EAX that is not the boot loader magic", async () => {
  const { mem, cpu } = await prepare("multiboot aout");
  cpu.regs.eax = 0x2badb003;
  const r = runX86(mem, cpu);
  assert.equal(r.serial, "MB1 BAD eax=0x2badb003\n");
  assert.equal(r.registers.eax, 1n);
});

emuTest("a Multiboot 1 ELF32 kernel reads the multiboot_info the configurator wrote", async () => {
  assert.equal((await boot("multiboot elf32")).serial, MB1_LINE);
});

emuTest("a Multiboot 1 ELF32 kernel linked high enters at e_entry translated to its physical address", async () => {
  const mem = GuestMemory.fromRanges([[0, 8 << 20]]);
  // Virtual addresses at 3 GiB + 1 MiB, physical at 1 MiB: the loader must jump to the physical entry.
  const img = buildMultibootElf({ code: multibootStub("multiboot"), vaddr: 0xc010_0000 });
  const load = await loadMultiboot(mem, img);
  const info = configureMultiboot(mem, { infoAddr: INFO, cmdline: CMDLINE, modules: [{ addr: MODULE, size: 4 }] });
  const { plan, cpu } = x86PvhBoot({ entry: load.entry.multiboot!, startInfo: INFO });
  applyPlanSync(mem, plan);
  cpu.regs.eax = info.registers.eax;
  const r = runX86(mem, cpu);
  assert.equal(load.entry.multiboot! < 0x20_0000, true);
  assert.match(r.serial, /^MB1 OK flags=0x24d .* mod0=0x400000:0x400004:0x0 '' loader=linux-loader for Deno\n$/);
});

emuTest("a Multiboot 1 ELF32 kernel reports one wrong byte of the first memory map entry", async () => {
  const r = await boot("multiboot elf32", (mem) => {
    const mmap = mem.readU32(INFO + MULTIBOOT_INFO.offsetOf("mmap_addr"));
    mem.writeU8(mmap + MULTIBOOT_MMAP_ENTRY.offsetOf("size"), 19); // size 20 -> 19
  });
  assert.equal(r.serial, "MB1 BAD mmap.size=0x13\n");
  assert.equal(r.registers.eax, 3n);
});

emuTest("a Multiboot2 kernel walks the boot information tags the configurator wrote", async () => {
  assert.equal((await boot("multiboot2 aout")).serial, MB2_LINE);
});

emuTest("a Multiboot2 kernel leaves total_size, the tag count and the module start in registers", async () => {
  const { registers: g } = await boot("multiboot2 aout");
  // Tags before the end tag: cmdline, boot loader name, module, basic meminfo, memory map.
  assert.deepEqual([g.eax, g.ebx, g.ecx, g.edx, g.edi], [0n, BigInt(INFO), 0xb0n, 5n, 0x40_0000n]);
  assert.equal(g.esi, BigInt(INFO + 8 + 8)); // the cmdline tag is first; its string follows its 8-byte head
});

emuTest("a Multiboot2 ELF32 kernel walks the same boot information", async () => {
  assert.equal((await boot("multiboot2 elf32")).serial, MB2_LINE);
});

emuTest("a Multiboot2 kernel reports one wrong byte of a tag size", async () => {
  // The first tag (cmdline) at INFO + 8; its size byte set to 4, below the 8-byte head.
  const r = await boot("multiboot2 aout", (mem) => mem.writeU8(INFO + 8 + 4, 4));
  assert.equal(r.serial, "MB2 OK size=0xb0 MB2 BAD tag=0x1\n");
  assert.equal(r.registers.eax, 3n);
});

emuTest("a Multiboot2 kernel reports an EAX that is not the Multiboot2 magic", async () => {
  const { mem, cpu } = await prepare("multiboot2 aout");
  cpu.regs.eax = 0x2badb002; // the Multiboot 1 magic
  const r = runX86(mem, cpu);
  assert.equal(r.serial, "MB2 BAD eax=0x2badb002\n");
  assert.equal(r.registers.eax, 1n);
});

const BINUTILS = await haveBinutils();
for (const name of MULTIBOOT_STUBS) {
  Deno.test({
    name: `fixtures/stubs/${name}.bin is what GNU as makes of ${name}.S`,
    ignore: ignoreUnless(BINUTILS, "binutils (as --32, objcopy)"),
    fn: async () => {
      assert.deepEqual(await assembleMultibootStub(name), multibootStub(name));
    },
  });
}
