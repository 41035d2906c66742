/**
 * One complete stub boot per architecture (open the engine, map guest memory zero-copy, apply the boot
 * state, run to the halt, read the registers back, close), next to its floor: a plain copy of the stub's
 * bytes into guest memory. Target: median under 5 ms per boot.
 *
 * Run: deno bench --allow-all bench/emu_bench.ts
 */

import { GuestMemory } from "../lib/memory.ts";
import { applyPlanSync } from "../lib/plan.ts";
import { x86LongModeBoot, x86PvhBoot } from "../lib/boot/x86_64.ts";
import { aarch64LinuxBoot } from "../lib/boot/aarch64.ts";
import { riscv64LinuxBoot } from "../lib/boot/riscv64.ts";
import { runX86 } from "../emu/x86_64.ts";
import { runAarch64 } from "../emu/aarch64.ts";
import { runRiscv64 } from "../emu/riscv64.ts";
import { unicornAvailable } from "../emu/unicorn.ts";
import { stub } from "../fixtures/stubs.ts";
import { buildFdt, sampleTree } from "../tests/emu/_fdt.ts";

const ok = unicornAvailable().ok;
const enc = new TextEncoder();

// x86_64 Linux entry: zero page at 0x7000, command line at 0x20000, stub at 0x100200.
const x86Mem = GuestMemory.fromRanges([[0, 4 << 20]]);
const x86 = x86LongModeBoot({ entry: 0x100200, zeroPage: 0x7000 });
applyPlanSync(x86Mem, x86.plan);
x86Mem.writeU16(0x7000 + 0x1fe, 0xaa55);
x86Mem.writeU32(0x7000 + 0x202, 0x53726448);
x86Mem.writeU32(0x7000 + 0x228, 0x20000);
x86Mem.writeU8(0x7000 + 0x1e8, 1);
x86Mem.writeU64(0x7000 + 0x2d8, 0x9fc00);
x86Mem.writeU32(0x7000 + 0x2e0, 1);
x86Mem.write(0x20000, enc.encode("console=ttyS0\0"));
const x86Stub = stub("x86_64_linux");
x86Mem.write(0x100200, x86Stub);

// PVH: start_info at 0x6000, stub at 0x100000.
const pvhMem = GuestMemory.fromRanges([[0, 4 << 20]]);
const pvh = x86PvhBoot({ entry: 0x100000, startInfo: 0x6000 });
applyPlanSync(pvhMem, pvh.plan);
pvhMem.writeU32(0x6000, 0x336ec578);
pvhMem.writeU32(0x6004, 1);
pvhMem.writeU64(0x6018, 0x6400);
pvhMem.write(0x6400, enc.encode("console=ttyS0\0"));
pvhMem.write(0x100000, stub("x86_pvh"));

// aarch64: Image at 0x40200000, DTB at 0x40400000.
const armMem = GuestMemory.fromRanges([[0x4000_0000, 8 << 20]]);
armMem.write(0x4040_0000, buildFdt(sampleTree("console=ttyAMA0")));
armMem.write(0x4020_0000, stub("aarch64"));
const arm = aarch64LinuxBoot({ entry: 0x4020_0000, dtb: 0x4040_0000 });

// riscv64: Image at 0x80200000, DTB at 0x80600000.
const rvMem = GuestMemory.fromRanges([[0x8000_0000, 8 << 20]]);
rvMem.write(0x8060_0000, buildFdt(sampleTree("console=ttyS0")));
rvMem.write(0x8020_0000, stub("riscv64"));
const rv = riscv64LinuxBoot({ entry: 0x8020_0000, dtb: 0x8060_0000 });

function expect(serial: string, prefix: string): void {
  if (!serial.startsWith(prefix)) throw new Error(`unexpected serial output: ${serial}`);
}

Deno.bench({
  name: "floor: copy the x86_64 stub into guest memory",
  group: "x86_64",
  baseline: true,
  fn: () => x86Mem.write(0x100200, x86Stub),
});
Deno.bench({
  name: "x86_64 Linux stub boot (open, map, run, read back)",
  group: "x86_64",
  ignore: !ok,
  fn: () => expect(runX86(x86Mem, x86.cpu).serial, "LINUX OK"),
});
Deno.bench({
  name: "x86 PVH stub boot (open, map, run, read back)",
  group: "x86_pvh",
  ignore: !ok,
  fn: () => expect(runX86(pvhMem, pvh.cpu).serial, "PVH OK"),
});
Deno.bench({
  name: "aarch64 FDT stub boot (open, map, run, read back)",
  group: "aarch64",
  ignore: !ok,
  fn: () => expect(runAarch64(armMem, arm).serial, "FDT OK"),
});
Deno.bench({
  name: "riscv64 FDT stub boot (open, map, run, read back)",
  group: "riscv64",
  ignore: !ok,
  fn: () => expect(runRiscv64(rvMem, rv).serial, "FDT OK"),
});
