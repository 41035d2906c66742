import assert from "node:assert/strict";
import { AARCH64_SYSREGS, aarch64LinuxBoot } from "../../lib/boot/aarch64.ts";
import { ConfiguratorError } from "../../lib/errors.ts";

Deno.test("the arm64 state passes the DTB in x0 and zeroes x1 to x3", () => {
  const cpu = aarch64LinuxBoot({ entry: 0x40200000, dtb: 0x44000000 });
  assert.deepEqual(cpu.regs, { x0: 0x44000000, x1: 0, x2: 0, x3: 0, pc: 0x40200000 });
});

Deno.test("the arm64 state enters EL1h with D, A, I and F masked", () => {
  const cpu = aarch64LinuxBoot({ entry: 0, dtb: 0 });
  assert.equal(cpu.pstate & 0xf, 0b0101);
  assert.equal(cpu.pstate & 0x3c0, 0x3c0);
});

Deno.test("the arm64 state turns the MMU and caches off and makes EL2 and EL3 say EL1 is AArch64", () => {
  const cpu = aarch64LinuxBoot({ entry: 0, dtb: 0 });
  const byName = Object.fromEntries(cpu.sysregs.map((s) => [s.name, s]));
  assert.equal(byName.SCTLR_EL1.value & 0x1005n, 0n); // M (0), C (2), I (12)
  assert.equal(byName.HCR_EL2.value >> 31n, 1n);
  assert.equal(byName.SCR_EL3.value & 0x401n, 0x401n);
  assert.deepEqual(byName.SCR_EL3.encoding, AARCH64_SYSREGS.SCR_EL3);
});

Deno.test("aarch64LinuxBoot refuses a DTB off an 8-byte boundary, as booting.rst requires", () => {
  assert.throws(
    () => aarch64LinuxBoot({ entry: 0x4020_0000, dtb: 0x4400_0004 }),
    (e: unknown) => e instanceof ConfiguratorError && e.code === "InvalidAddress" && e.field === "dtb",
  );
  assert.throws(
    () => aarch64LinuxBoot({ entry: -1, dtb: 0x4400_0000 }),
    (e: unknown) => e instanceof ConfiguratorError && e.field === "entry",
  );
});
