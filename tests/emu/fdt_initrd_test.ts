// Emulator proofs for issue 10 item 5: an arm64 / riscv64 Image whose code is the entry stub is loaded by
// loadPe, a newc cpio initrd is copied by planInitrd + applyPlan, /chosen's linux,initrd-start and
// linux,initrd-end come from chosenInitrd, the DTB is written by FdtBootConfigurator, and the guest itself
// finds the two properties while walking /chosen and reads the initrd's first bytes at the start address.
import assert from "node:assert/strict";
import { runAarch64 } from "../../emu/aarch64.ts";
import { runRiscv64 } from "../../emu/riscv64.ts";
import { buildArm64Image, buildRiscv64Image } from "../../fixtures/build/pe.ts";
import { stub } from "../../fixtures/stubs.ts";
import { aarch64LinuxBoot } from "../../lib/boot/aarch64.ts";
import { chosenInitrd, type InitrdPlacement, planInitrd } from "../../lib/boot/initrd.ts";
import { riscv64LinuxBoot } from "../../lib/boot/riscv64.ts";
import { FdtBootConfigurator } from "../../lib/configurator/fdt.ts";
import { BootParams } from "../../lib/configurator/mod.ts";
import { CPIO_NEWC_MAGIC, writeCpio } from "../../lib/cpio.ts";
import { addChosen, buildVmFdt, FdtBuilder } from "../../lib/fdt/mod.ts";
import { loadPe } from "../../lib/loader/pe.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlan } from "../../lib/plan.ts";
import { toSource } from "../../lib/source.ts";
import { emuTest } from "./_unicorn.ts";

const RAM_SIZE = 64 << 20;
const INITRD = writeCpio([
  { type: "file", path: "/init", mode: 0o755, data: "#!/bin/sh\necho hello from the initrd\n" },
  { type: "char", path: "/dev/console", major: 5, minor: 1 },
]);
/** The first 4 bytes of a newc archive, "0707", as the guests print them (memory order, big-endian). */
const CPIO_FIRST = 0x3037_3037;

/** What the test reads back from a guest, whichever the architecture. */
interface Seen {
  serial: string;
  /** Status register: 0 ok, 1 bad magic, 2 no bootargs. */
  status: bigint;
  start: bigint;
  end: bigint;
  first: bigint;
  /** Bit 0: linux,initrd-start found; bit 1: linux,initrd-end found. */
  found: bigint;
}

interface Arch {
  name: "aarch64" | "riscv64";
  ram: number;
  bootargs: string;
  image(): Uint8Array;
  /** The OK line up to and including the bootargs. */
  okPrefix(dtb: Uint8Array): string;
  run(mem: GuestMemory, entry: number, dtbAddr: number): Seen;
}

const ARCHES: readonly Arch[] = [
  {
    name: "aarch64",
    ram: 0x4000_0000,
    bootargs: "console=ttyAMA0 rdinit=/init",
    image: () => buildArm64Image({ header: { text_offset: 0x8_0000n }, code: stub("aarch64"), size: 0x1000 }),
    okPrefix: (dtb) => `FDT OK size=0x${dtb.byteLength.toString(16)} bootargs=console=ttyAMA0 rdinit=/init`,
    run(mem, entry, dtbAddr) {
      const r = runAarch64(mem, aarch64LinuxBoot({ entry, dtb: dtbAddr }));
      const g = r.registers;
      return { serial: r.serial, status: g.x23, start: g.x26, end: g.x27, first: g.x28, found: g.x29 };
    },
  },
  {
    name: "riscv64",
    ram: 0x8000_0000,
    bootargs: "console=ttyS0 rdinit=/init",
    image: () => buildRiscv64Image({ code: stub("riscv64"), size: 0x1000 }),
    okPrefix: (dtb) => `FDT OK hart=0x0 size=0x${dtb.byteLength.toString(16)} bootargs=console=ttyS0 rdinit=/init`,
    run(mem, entry, dtbAddr) {
      const r = runRiscv64(mem, riscv64LinuxBoot({ entry, dtb: dtbAddr, hartId: 0 }));
      const g = r.registers;
      return { serial: r.serial, status: g.s6, start: g.a0, end: g.a1, first: g.s0, found: g.tp };
    },
  },
];

interface Booted {
  seen: Seen;
  dtb: Uint8Array;
  placement: InitrdPlacement;
}

/**
 * Loads the Image with loadPe, the initrd at the 48 MiB mark with planInitrd + applyPlan (the DTB goes at
 * the 32 MiB mark; arm64 and riscv64 have no initrd_addr_max, so placeInitrd's x86 rules do not apply), builds the DTB (buildVmFdt with chosenInitrd's range, or `makeDtb`), lets
 * `corrupt` damage it, writes it with FdtBootConfigurator and runs the guest.
 */
async function boot(
  arch: Arch,
  opts: {
    makeDtb?: (mem: GuestMemory, p: InitrdPlacement) => Uint8Array;
    corrupt?: (dtb: Uint8Array, p: InitrdPlacement) => void;
  } = {},
): Promise<Booted> {
  const mem = GuestMemory.fromRanges([[arch.ram, RAM_SIZE]]);
  const r = await loadPe(mem, arch.image(), { imageBase: arch.ram, arch: arch.name });
  const dtbAddr = arch.ram + (32 << 20);
  const placement: InitrdPlacement = { addr: arch.ram + (48 << 20), size: INITRD.length };
  assert.ok(placement.addr >= r.kernelEnd);
  await applyPlan(mem, planInitrd(placement, INITRD), toSource(INITRD));
  const c = chosenInitrd(placement);
  const dtb = opts.makeDtb?.(mem, placement) ??
    buildVmFdt(mem, { arch: arch.name, bootargs: arch.bootargs, initrd: { start: c.initrdStart, end: c.initrdEnd } });
  opts.corrupt?.(dtb, placement);
  FdtBootConfigurator.writeBootparams(mem, new BootParams(dtb, dtbAddr));
  return { seen: arch.run(mem, r.loadStart, dtbAddr), dtb, placement };
}

/** The OK line a guest prints for an initrd at `p` whose first 4 bytes are the cpio magic. */
function expectedLine(arch: Arch, dtb: Uint8Array, p: InitrdPlacement): string {
  const start = p.addr.toString(16);
  const end = (p.addr + p.size).toString(16);
  return `${arch.okPrefix(dtb)} initrd=0x${start}-0x${end} first=0x${CPIO_FIRST.toString(16)}\n`;
}

/** Asserts that the guest saw the initrd exactly where the library put it, and its cpio magic there. */
function assertSawInitrd(arch: Arch, b: Booted): void {
  const { seen, dtb, placement: p } = b;
  assert.equal(seen.serial, expectedLine(arch, dtb, p));
  assert.equal(seen.status, 0n);
  assert.equal(seen.found, 3n);
  assert.equal(seen.start, BigInt(p.addr));
  assert.equal(seen.end, BigInt(p.addr + p.size));
  assert.equal(seen.first, BigInt(CPIO_FIRST));
}

/** The offset of the only occurrence of `needle` in `hay`. */
function onlyIndexOf(hay: Uint8Array, needle: Uint8Array): number {
  const found: number[] = [];
  for (let i = 0; i + needle.length <= hay.length; i++) {
    if (needle.every((v, j) => hay[i + j] === v)) found.push(i);
  }
  assert.equal(found.length, 1, `expected one occurrence, found ${found.length}`);
  return found[0];
}

function be64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** The offset of the linux,initrd-start value (a u64 as addChosen writes it) in `dtb`. */
function initrdStartValueAt(dtb: Uint8Array, p: InitrdPlacement): number {
  return onlyIndexOf(dtb, be64(p.addr));
}

emuTest("writeCpio output starts with the newc magic the guests look for", () => {
  assert.equal(new TextDecoder().decode(INITRD.subarray(0, 6)), CPIO_NEWC_MAGIC);
  assert.equal(new DataView(INITRD.buffer, INITRD.byteOffset).getUint32(0), CPIO_FIRST);
});

for (const arch of ARCHES) {
  emuTest(
    `${arch.name}: the guest reads linux,initrd-start/end from /chosen and the cpio magic at the start`,
    async () => {
      const b = await boot(arch);
      assertSawInitrd(arch, b);
    },
  );

  emuTest(`${arch.name}: addChosen with chosenInitrd spread in gives the same guest view`, async () => {
    const b = await boot(arch, {
      makeDtb(mem, p) {
        const f = new FdtBuilder();
        f.beginNode("");
        f.propertyU32("#address-cells", 2);
        f.propertyU32("#size-cells", 2);
        f.beginNode("memory@" + arch.ram.toString(16));
        f.propertyString("device_type", "memory");
        f.propertyU64List("reg", [mem.regions[0].guestAddr, mem.regions[0].size]);
        f.endNode();
        addChosen(f, { bootargs: arch.bootargs, ...chosenInitrd(p) });
        f.endNode();
        return f.finish();
      },
    });
    assertSawInitrd(arch, b);
  });

  emuTest(
    `${arch.name}: one-cell (u32) initrd properties, end first, are read; a /chosen child's are not`,
    async () => {
      const b = await boot(arch, {
        makeDtb(_mem, p) {
          const f = new FdtBuilder();
          f.beginNode("");
          f.beginNode("chosen");
          f.propertyU32("linux,initrd-end", p.addr + p.size);
          f.propertyU32("linux,initrd-start", p.addr);
          f.propertyString("bootargs", arch.bootargs);
          f.beginNode("child"); // a subnode of /chosen: its properties are not /chosen's
          f.propertyU32("linux,initrd-start", p.addr + 1);
          f.propertyString("bootargs", "not these");
          f.endNode();
          f.endNode();
          f.endNode();
          return f.finish();
        },
      });
      assertSawInitrd(arch, b);
    },
  );

  emuTest(`${arch.name}: without an initrd the line has no initrd part and the registers stay 0`, async () => {
    const b = await boot(arch, { makeDtb: (mem) => buildVmFdt(mem, { arch: arch.name, bootargs: arch.bootargs }) });
    assert.equal(b.seen.serial, `${arch.okPrefix(b.dtb)}\n`);
    assert.deepEqual([b.seen.status, b.seen.found, b.seen.start, b.seen.end, b.seen.first], [0n, 0n, 0n, 0n, 0n]);
  });

  emuTest(`${arch.name}: one wrong low byte in linux,initrd-start moves the range and the first bytes`, async () => {
    const b = await boot(arch, { corrupt: (dtb, p) => (dtb[initrdStartValueAt(dtb, p) + 7] ^= 0x01) });
    const p = b.placement;
    assert.throws(() => assertSawInitrd(arch, b), assert.AssertionError);
    assert.equal(b.seen.start, BigInt(p.addr + 1)); // page-aligned start, so the low bit was clear
    assert.equal(b.seen.end, BigInt(p.addr + p.size));
    assert.equal(b.seen.first, 0x3730_3730n); // "7070": the magic shifted by one byte
    assert.ok(b.seen.serial.includes(` initrd=0x${(p.addr + 1).toString(16)}-`));
  });

  emuTest(`${arch.name}: one wrong middle byte in linux,initrd-start points the guest at zeros`, async () => {
    const b = await boot(arch, { corrupt: (dtb, p) => (dtb[initrdStartValueAt(dtb, p) + 4] ^= 0x02) });
    const p = b.placement;
    assert.throws(() => assertSawInitrd(arch, b), assert.AssertionError);
    assert.equal(b.seen.start, BigInt(p.addr) - 0x200_0000n); // bit 25 cleared: 32 MiB lower, still in RAM
    assert.equal(b.seen.first, 0n);
    assert.ok(b.seen.serial.endsWith(" first=0x00000000\n"), b.seen.serial);
  });

  emuTest(`${arch.name}: one wrong byte in the linux,initrd-start name drops the initrd from the line`, async () => {
    const b = await boot(arch, {
      corrupt(dtb) {
        const at = new TextDecoder("latin1").decode(dtb).indexOf("linux,initrd-start\0");
        dtb[at] = 0x4c; // "Linux,initrd-start"
      },
    });
    assert.equal(b.seen.serial, `${arch.okPrefix(b.dtb)}\n`);
    assert.equal(b.seen.found, 2n); // only linux,initrd-end
    assert.equal(b.seen.end, BigInt(b.placement.addr + b.placement.size));
    assert.equal(b.seen.first, 0n);
  });
}
