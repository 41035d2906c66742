import assert from "node:assert/strict";
import { riscv64LinuxBoot } from "../../lib/boot/riscv64.ts";

Deno.test("the riscv64 state passes the hart id in a0 and the DTB in a1", () => {
  const cpu = riscv64LinuxBoot({ entry: 0x80200000, dtb: 0x88000000, hartId: 2 });
  assert.deepEqual(cpu.regs, { a0: 2, a1: 0x88000000, pc: 0x80200000 });
});

Deno.test("the riscv64 state enters S-mode with the MMU off and interrupts disabled", () => {
  const cpu = riscv64LinuxBoot({ entry: 0, dtb: 0 });
  assert.equal(cpu.privilege, "S");
  assert.deepEqual(cpu.csrs, { satp: 0, sie: 0 });
});
