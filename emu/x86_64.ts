/**
 * The x86 boot harness: loads an {@linkcode X86CpuState} (64-bit Linux entry or 32-bit PVH entry) into
 * Unicorn, maps guest memory zero-copy, serves a 16550 on port 0x3f8, runs to `hlt` and reports the
 * registers, the guest's reads and the serial text.
 *
 * Unicorn 2.0.1 loads segment registers the way the CPU does: writing a selector reads its descriptor
 * from the GDT in guest memory (and, in long mode, a code descriptor with L=1 switches to 64-bit code).
 * So the order is: memory mapped (GDT written), control registers and EFER, GDTR/IDTR, then selectors.
 *
 * @module
 */

import { hex } from "../lib/errors.ts";
import type { GuestMemory } from "../lib/memory.ts";
import { X86_MSR_EFER, type X86CpuState } from "../lib/boot/x86_64.ts";
import { attachRunSoFar, type HaltFacts, prepare, type RunOptions, type RunResult, runToHalt } from "./harness.ts";
import { COM1_PORT, Uart16550 } from "./uart.ts";
import { Unicorn } from "./unicorn.ts";

/** The `hlt` opcode. */
const HLT = new Uint8Array([0xf4]);

/**
 * Registers reported after a 64-bit run.
 *
 * @example
 * ```ts
 * import { X86_64_REPORTED } from "@linux-loader/linux-loader/emu";
 * console.log(X86_64_REPORTED.length); // 21
 * ```
 */
export const X86_64_REPORTED: readonly string[] = Object.freeze([
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rbp",
  "rsp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
  "cr0",
  "cr3",
  "cr4",
]);

/**
 * Registers reported after a 32-bit run.
 *
 * @example
 * ```ts
 * import { X86_32_REPORTED } from "@linux-loader/linux-loader/emu";
 * console.log(X86_32_REPORTED.length); // 13
 * ```
 */
export const X86_32_REPORTED: readonly string[] = Object.freeze([
  "eax",
  "ebx",
  "ecx",
  "edx",
  "esi",
  "edi",
  "ebp",
  "esp",
  "eip",
  "eflags",
  "cr0",
  "cr3",
  "cr4",
]);

/**
 * Opens an x86 engine in the mode `cpu` needs (64-bit for `"long"`, 32-bit for `"protected"`). The caller
 * closes it.
 */
export function openX86(cpu: X86CpuState): Unicorn {
  return Unicorn.open(cpu.mode === "long" ? "x86_64" : "x86_32");
}

/**
 * Applies the boot CPU state: CR3, CR4, EFER, CR0, GDTR, IDTR, TR, segment selectors (their descriptors
 * are read from the GDT, which must already be in mapped guest memory), then the general registers.
 */
export function applyX86State(uc: Unicorn, cpu: X86CpuState): void {
  uc.regWrite("cr3", cpu.cr3);
  uc.regWrite("cr4", cpu.cr4);
  uc.writeMsr(X86_MSR_EFER, cpu.efer);
  uc.regWrite("cr0", cpu.cr0);
  uc.writeMmr("gdtr", { selector: 0, base: cpu.gdt.base, limit: cpu.gdt.limit, flags: 0 });
  uc.writeMmr("idtr", { selector: 0, base: cpu.idt.base, limit: cpu.idt.limit, flags: 0 });
  const s = cpu.segments;
  for (const name of ["ds", "es", "fs", "gs", "ss", "cs"] as const) uc.regWrite(name, s[name].selector);
  for (const [name, value] of Object.entries(cpu.regs)) uc.regWrite(name, value);
}

/** The entry address of a state (RIP or EIP). */
function entryOf(cpu: X86CpuState): number {
  const e = cpu.mode === "long" ? cpu.regs.rip : cpu.regs.eip;
  if (e === undefined) throw new RangeError(`the ${cpu.mode}-mode state has no ${cpu.mode === "long" ? "rip" : "eip"}`);
  return e;
}

/**
 * Boots `mem` from `cpu` and runs to `hlt`. Guest memory regions must be 4 KiB-aligned in address and size;
 * the guest's writes land in `mem` itself.
 *
 * @example
 * ```ts
 * import { applyPlanSync, GuestMemory, x86LongModeBoot } from "@linux-loader/linux-loader";
 * import { runX86 } from "@linux-loader/linux-loader/emu";
 * const mem = GuestMemory.fromRanges([[0, 2 << 20]]);
 * const { plan, cpu } = x86LongModeBoot({ entry: 0x100000, zeroPage: 0x7000 });
 * applyPlanSync(mem, plan);
 * mem.write(0x100000, new Uint8Array([0xb0, 0x41, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4])); // out 'A'; hlt
 * console.log(runX86(mem, cpu).serial); // A
 * ```
 */
export function runX86(mem: GuestMemory, cpu: X86CpuState, opts: RunOptions = {}): RunResult {
  using uc = openX86(cpu);
  const reads = prepare(uc, mem, opts);
  const uart = new Uart16550();
  uart.attachPorts(uc, COM1_PORT);
  applyX86State(uc, cpu);
  let facts: HaltFacts;
  try {
    facts = runToHalt(uc, entryOf(cpu), HLT, opts);
  } catch (e) {
    // The console and the registers of a run that timed out, hit its budget or faulted are kept on the error.
    let registers: Record<string, bigint> = {};
    try {
      registers = uc.regsRead(cpu.mode === "long" ? X86_64_REPORTED : X86_32_REPORTED);
    } catch {
      // an engine that cannot read its registers any more: the serial text still counts
    }
    throw attachRunSoFar(e, { registers, reads, serial: uart.text });
  }
  const registers = uc.regsRead(cpu.mode === "long" ? X86_64_REPORTED : X86_32_REPORTED);
  return { registers, reads, serial: uart.text, stop: "halt", ...facts };
}

/** Formats a register record for messages (hexadecimal). */
export function formatRegisters(regs: Record<string, bigint>): string {
  return Object.entries(regs).map(([k, v]) => `${k}=${hex(v)}`).join(" ");
}
