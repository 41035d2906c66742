/**
 * Fast checks of the real-kernel harness parts that need no boot: the CPUID it reports, the e820 map,
 * the CPU state calibration against the engine, and the TLB-flush sites found in Debian's vmlinux
 * (the boots themselves are in tests/real_boot/, run by `deno task test:real`).
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { extractVmlinux } from "../../lib/loader/extract.ts";
import { E820_RAM, E820_RESERVED } from "../../lib/abi/bootparam.ts";
import { calibrateX86State, findFlushSites, USER_HOLE, x86Cpuid } from "../../emu/linux/x86_machine.ts";
import { x86E820 } from "../../emu/linux/x86_64.ts";
import { arm64Translate, decodeUnprivilegedAccess } from "../../emu/linux/aarch64.ts";
import { ignoreUnless } from "../_require.ts";
import { ramBytes, SerialConsole } from "../../emu/linux/common.ts";
import { bootAny, chooseMachine } from "../../emu/linux/boot_any.ts";
import { demoKernel } from "../../emu/demo_kernels.ts";
import { Unicorn } from "../../emu/unicorn.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { emuTest } from "../emu/_unicorn.ts";

Deno.test("the harness CPUID advertises long mode and SYSCALL but not NX, POPCNT, XSAVE or an APIC", () => {
  const [, , ecx1, edx1] = x86Cpuid(1, 0);
  const [, , , edxExt] = x86Cpuid(0x8000_0001, 0);
  assert.equal(edxExt & (1 << 20), 0, "NX");
  assert.notEqual(edxExt & (1 << 29), 0, "LM");
  assert.notEqual(edxExt & (1 << 11), 0, "SYSCALL");
  assert.equal(ecx1 & (1 << 23), 0, "POPCNT");
  assert.equal(ecx1 & (1 << 26), 0, "XSAVE");
  assert.equal(edx1 & (1 << 9), 0, "APIC");
  const [max, b, c, d] = x86Cpuid(0, 0);
  assert.ok(max >= 1);
  const vendor = new TextDecoder().decode(new Uint8Array(new Uint32Array([b, d, c]).buffer));
  assert.equal(vendor, "AuthenticAMD");
});

Deno.test("the x86 e820 map from buildMemmap reserves the legacy and user holes, sorted without overlaps", () => {
  const map = x86E820(GuestMemory.fromRanges([[0, 512 << 20]]));
  for (let i = 1; i < map.length; i++) assert.ok(map[i - 1].addr + map[i - 1].size <= map[i].addr);
  const [lo, hi] = USER_HOLE;
  for (const e of map.filter((e) => e.type === E820_RAM)) assert.ok(e.addr + e.size <= lo || e.addr >= hi);
  assert.deepEqual(map.filter((e) => e.type === E820_RESERVED).map((e) => [e.addr, e.addr + e.size]), [
    [0x9_fc00, 0x10_0000],
    [lo, hi],
  ]);
  assert.equal(map.at(-1)!.addr + map.at(-1)!.size, 512 << 20);
});

emuTest("the CPU state calibration finds error_code and old_exception in Unicorn's x86 state", () => {
  const l = calibrateX86State();
  assert.equal(l.oldException - l.errorCode, 112);
  assert.equal(l.errorCode % 4, 0);
});

const amd64 = await ensureRealKernel("amd64");

Deno.test({
  name: "findFlushSites finds invlpg and mov-to-CR3/CR4 sites in the text of Debian's vmlinux",
  ignore: amd64 === undefined,
  async fn() {
    const vmlinux = await extractVmlinux(await Deno.readFile(amd64!.kernel));
    const sites = findFlushSites(vmlinux);
    assert.ok(sites.invlpg.length > 0);
    assert.ok(sites.movCr.length > 10);
    // Every site is in the kernel text mapping.
    for (const a of [...sites.invlpg, ...sites.movCr]) assert.ok(a >= 0xffff_ffff_8100_0000n, a.toString(16));
  },
});

/** Instruction words from the GNU assembler (little-endian .text), one per line of `source`. */
async function assembleAarch64(source: string[]): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: "harness-as-" });
  try {
    await Deno.writeTextFile(`${dir}/a.s`, source.join("\n") + "\n");
    const as = await new Deno.Command("aarch64-linux-gnu-as", { args: ["-o", `${dir}/a.o`, `${dir}/a.s`] }).output();
    assert.ok(as.success, new TextDecoder().decode(as.stderr));
    const cp = await new Deno.Command("aarch64-linux-gnu-objcopy", {
      args: ["-O", "binary", "-j", ".text", `${dir}/a.o`, `${dir}/a.bin`],
    }).output();
    assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
    const bin = await Deno.readFile(`${dir}/a.bin`);
    const dv = new DataView(bin.buffer);
    return source.map((_, i) => dv.getUint32(i * 4, true));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const hasAarch64As = (() => {
  try {
    Deno.statSync("/usr/bin/aarch64-linux-gnu-as");
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "decodeUnprivilegedAccess reads base, offset and direction of the ldtr/sttr forms uaccess uses and nothing else, as the assembler encodes them",
  ignore: ignoreUnless(hasAarch64As, "aarch64-linux-gnu-as (binutils-aarch64-linux-gnu)"),
  async fn() {
    const cases: [string, { base: number; offset: number; store: boolean } | undefined][] = [
      ["sttr x1, [x2]", { base: 2, offset: 0, store: true }],
      ["sttr w0, [x30, #255]", { base: 30, offset: 255, store: true }],
      ["sttrb w3, [x4, #-256]", { base: 4, offset: -256, store: true }],
      ["sttrh w5, [sp, #-2]", { base: 31, offset: -2, store: true }],
      ["ldtr x6, [x7, #8]", { base: 7, offset: 8, store: false }],
      ["ldtrb w8, [x9]", { base: 9, offset: 0, store: false }],
      ["ldtrsw x10, [x11, #4]", { base: 11, offset: 4, store: false }],
      ["ldtrsh w12, [x13, #-16]", { base: 13, offset: -16, store: false }],
      ["str x1, [x2]", undefined],
      ["stur x1, [x2, #-8]", undefined],
      ["ldur x1, [x2, #8]", undefined],
      ["str x1, [x2, #8]!", undefined],
      ["ldr x1, [x2], #8", undefined],
      ["stp x1, x2, [x3]", undefined],
      ["ldxr x1, [x2]", undefined],
      ["str q0, [x1, #16]", undefined],
      ["nop", undefined],
    ];
    const words = await assembleAarch64(cases.map(([src]) => src));
    cases.forEach(([src, want], i) => assert.deepEqual(decodeUnprivilegedAccess(words[i]), want, src));
  },
});

Deno.test("arm64Translate walks 4 KiB-granule 48-bit tables through TTBR1 to a 2 MiB block and a 4 KiB page", () => {
  // TCR_EL1: T0SZ = T1SZ = 16 (48-bit), TG0 = 0 (4 KiB), TG1 = 2 (4 KiB).
  const tcr = 16n | (16n << 16n) | (2n << 30n);
  const mem = new Map<bigint, bigint>();
  const ttbr1 = 0x4100_0000n;
  const va = 0xffff_8000_8000_0000n; // 6.12's KIMAGE_VADDR
  const idx = (l: number) => (va >> BigInt(12 + 9 * l)) & 511n;
  mem.set(ttbr1 + idx(3) * 8n, 0x4100_1000n | 3n); // L0 table
  mem.set(0x4100_1000n + idx(2) * 8n, 0x4100_2000n | 3n); // L1 table
  mem.set(0x4100_2000n + idx(1) * 8n, 0x4020_0000n | 1n); // L2 2 MiB block at the Image
  const read = (pa: bigint) => mem.get(pa) ?? 0n;
  assert.equal(arm64Translate(va + 0x1234n, true, tcr, 0n, ttbr1, read), 0x4020_1234n);
  // A 4 KiB page one 2 MiB step further.
  const va2 = va + 0x20_0000n;
  mem.set(0x4100_2000n + ((va2 >> 21n) & 511n) * 8n, 0x4100_3000n | 3n);
  mem.set(0x4100_3000n + ((va2 >> 12n) & 511n) * 8n, 0x4123_4000n | 3n);
  assert.equal(arm64Translate(va2 + 8n, true, tcr, 0n, ttbr1, read), 0x4123_4008n);
  // Not mapped, a non-canonical address, and the MMU off.
  assert.equal(arm64Translate(va + 0x40_0000n, true, tcr, 0n, ttbr1, read), undefined);
  assert.equal(arm64Translate(0x0001_0000_0000_0000n, true, tcr, 0n, ttbr1, read), undefined);
  assert.equal(arm64Translate(0x4020_0000n, false, tcr, 0n, ttbr1, read), 0x4020_0000n);
});

emuTest("a hang guard stops an engine spinning in a loop no hook sees, from its own thread", () => {
  using uc = Unicorn.open("x86_64");
  uc.mapScratch(0x1000, 0x1000);
  uc.memWrite(0x1000, new Uint8Array([0xeb, 0xfe])); // jmp $
  const t0 = performance.now();
  using guard = uc.hangGuard(Date.now() + 300);
  uc.start({ begin: 0x1000 });
  assert.ok(guard.fired());
  assert.equal(uc.readPc(), 0x1000n);
  assert.ok(performance.now() - t0 >= 250);
});

Deno.test("the console watchdog ends a run after its event budget without a new line, and a line resets it", () => {
  const con = new SerialConsole(undefined, undefined, 3);
  assert.equal(con.tick(), false);
  assert.equal(con.tick(), false);
  for (const b of new TextEncoder().encode("line\n")) con.push(b);
  assert.equal(con.tick() || con.tick() || con.tick(), false);
  assert.equal(con.tick(), true);
  assert.equal(con.ended, "stalled");
  assert.match(con.endDetail(), /3 guest events without a new line \(last line: line\)/);
});

emuTest("bootAny runs an image without a Linux version string on the stub runner and reports its halt", async () => {
  const r = await bootAny(demoKernel("x86_64"));
  assert.equal(r.machine, "stub");
  assert.match(r.why, /no Linux version/);
  assert.equal(r.ending, "halt", r.detail);
  assert.ok(r.stub !== undefined);
});

emuTest("bootAny reports a stub run's instruction limit as an ending, not an exception", async () => {
  const r = await bootAny(demoKernel("x86_64"), { maxInstructions: 3 });
  assert.equal(r.ending, "limit", r.detail);
});

Deno.test({
  name: "chooseMachine sends Debian's bzImage (it names itself Linux) to the real-kernel machine",
  ignore: amd64 === undefined,
  async fn() {
    const c = await chooseMachine(await Deno.readFile(amd64!.kernel));
    assert.equal(c.machine, "real");
    assert.match(c.why, /^Linux 6\.\S+: the bzimage machine$/);
    assert.match((await chooseMachine(await Deno.readFile(amd64!.kernel), "pvh")).why, /the pvh machine$/);
  },
});

Deno.test("ramBytes sizes 2 GiB and more exactly (a 32-bit shift made 2048 MiB negative)", () => {
  assert.equal(ramBytes(undefined), 512 * 2 ** 20);
  assert.equal(ramBytes(2048), 2 ** 31);
  assert.equal(ramBytes(16 * 1024), 2 ** 34);
});
