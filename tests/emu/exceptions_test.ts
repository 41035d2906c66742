import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { applyPlanSync } from "../../lib/plan.ts";
import { EmulatorError } from "../../lib/errors.ts";
import { x86LongModeBoot } from "../../lib/boot/x86_64.ts";
import { aarch64LinuxBoot } from "../../lib/boot/aarch64.ts";
import { riscv64LinuxBoot } from "../../lib/boot/riscv64.ts";
import { runX86 } from "../../emu/x86_64.ts";
import { runAarch64 } from "../../emu/aarch64.ts";
import { runRiscv64 } from "../../emu/riscv64.ts";
import { emuTest } from "./_unicorn.ts";

const isCode = (code: string) => (e: unknown) => e instanceof EmulatorError && e.code === code;

function x86(code: number[]): () => unknown {
  const mem = GuestMemory.fromRanges([[0, 2 << 20]]);
  const { plan, cpu } = x86LongModeBoot({ entry: 0x100000, zeroPage: 0x7000 });
  applyPlanSync(mem, plan);
  mem.write(0x100000, new Uint8Array(code));
  return () => runX86(mem, cpu);
}

emuTest("an x86_64 guest executing ud2 ends with an InvalidInstruction error", () => {
  assert.throws(x86([0x0f, 0x0b]), isCode("InvalidInstruction"));
});

emuTest("an x86_64 guest dividing by zero ends with an UnhandledException error naming vector 0", () => {
  assert.throws(
    x86([0x31, 0xc9, 0xf7, 0xf1]),
    (e) => isCode("UnhandledException")(e) && /interrupt 0 /.test(String(e)),
  );
});

emuTest("an aarch64 guest executing brk ends with an UnhandledException error", () => {
  const mem = GuestMemory.fromRanges([[0x4000_0000, 1 << 20]]);
  mem.write(0x4000_0000, new Uint8Array([0x00, 0x00, 0x20, 0xd4])); // brk #0
  assert.throws(() => runAarch64(mem, aarch64LinuxBoot({ entry: 0x4000_0000, dtb: 0 })), isCode("UnhandledException"));
});

function rv(words: number[]): () => unknown {
  const mem = GuestMemory.fromRanges([[0x8000_0000, 1 << 20]]);
  const bytes = new Uint8Array(words.length * 4);
  words.forEach((w, i) => new DataView(bytes.buffer).setUint32(i * 4, w, true));
  mem.write(0x8000_0000, bytes);
  return () => runRiscv64(mem, riscv64LinuxBoot({ entry: 0x8000_0000, dtb: 0 }));
}

emuTest("a riscv64 guest executing ecall ends with an UnhandledException error", () => {
  assert.throws(rv([0x00000073]), isCode("UnhandledException"));
});

emuTest("the riscv64 harness enters the guest in S-mode: sstatus is readable", () => {
  const r = rv([0x10002573, 0x10500073])() as { stop: string }; // csrr a0, sstatus; wfi
  assert.equal(r.stop, "halt");
});

emuTest("the riscv64 harness enters the guest in S-mode: mstatus is not readable", () => {
  // csrr a0, mstatus is an illegal instruction (cause 2) below M-mode.
  assert.throws(rv([0x30002573, 0x10500073]), (e) => isCode("UnhandledException")(e) && /interrupt 2 /.test(String(e)));
});
