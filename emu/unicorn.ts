/**
 * Our own binding of the Unicorn 2 CPU emulator (https://www.unicorn-engine.org, API in
 * /usr/include/unicorn/unicorn.h) through `Deno.dlopen`. It maps {@linkcode GuestMemory} regions into the
 * engine zero-copy (`uc_mem_map_ptr` on the very ArrayBuffers the loader wrote), reads and writes registers
 * by name, records guest reads inside watched ranges, serves x86 port I/O and MMIO from TypeScript
 * callbacks, and turns every engine failure into a typed {@linkcode EmulatorError}.
 *
 * Callbacks are `Deno.UnsafeCallback`s invoked synchronously on the calling thread while `uc_emu_start`
 * runs (the symbol is declared `nonblocking: false`). A callback never throws into the engine: an
 * exception is stored, the run is stopped with `uc_emu_stop`, and the exception is rethrown once
 * `uc_emu_start` returns.
 *
 * Needs `--allow-ffi`. The `UNICORN_LIB` override is read only when `--allow-env` grants it (the module never
 * asks for the permission).
 *
 * @module
 */

import { EmulatorError, hex } from "../lib/errors.ts";
import type { GuestMemory } from "../lib/memory.ts";
import { AARCH64_REGS, RISCV_REGS, X86_REGS } from "./regs.ts";

/** Architectures (and x86 modes) the binding opens. */
export type UnicornArch = "x86_64" | "x86_32" | "aarch64" | "riscv64";

// uc_arch, uc_mode (unicorn.h); checked against the headers by tests/emu/regs_test.ts.
const UC_ARCH_ARM64 = 2;
const UC_ARCH_X86 = 4;
const UC_ARCH_RISCV = 8;
const UC_MODE_32 = 1 << 2;
const UC_MODE_64 = 1 << 3;
const UC_MODE_RISCV64 = 1 << 3;
/** uc_control_type UC_CTL_TB_FLUSH and the UC_CTL_IO_WRITE direction (unicorn.h). */
const UC_CTL_TB_FLUSH = 10;
/** uc_control_type UC_CTL_TB_REMOVE_CACHE: invalidate the blocks of [begin, end) (unicorn.h, 2 arguments). */
const UC_CTL_TB_REMOVE_CACHE = 9;
const UC_CTL_IO_WRITE = 1;

/**
 * Unicorn constants the binding uses, by their C names (checked against unicorn.h by a test).
 *
 * @example
 * ```ts
 * import { UC } from "@linux-loader/linux-loader/emu";
 * console.log(Object.keys(UC).slice(0, 4)); // [ "UC_ARCH_ARM64", "UC_ARCH_X86", "UC_ARCH_RISCV", "UC_MODE_32" ]
 * ```
 */
export const UC: Readonly<Record<string, number>> = Object.freeze({
  UC_ARCH_ARM64,
  UC_ARCH_X86,
  UC_ARCH_RISCV,
  UC_MODE_32,
  UC_MODE_64,
  UC_MODE_RISCV64,
  UC_CTL_TB_FLUSH,
  UC_CTL_IO_WRITE,
  UC_PROT_READ: 1,
  UC_PROT_WRITE: 2,
  UC_PROT_EXEC: 4,
  UC_PROT_ALL: 7,
  UC_HOOK_INTR: 1 << 0,
  UC_HOOK_INSN: 1 << 1,
  UC_HOOK_CODE: 1 << 2,
  UC_HOOK_MEM_READ_UNMAPPED: 1 << 4,
  UC_HOOK_MEM_WRITE_UNMAPPED: 1 << 5,
  UC_HOOK_MEM_FETCH_UNMAPPED: 1 << 6,
  UC_HOOK_MEM_READ_PROT: 1 << 7,
  UC_HOOK_MEM_WRITE_PROT: 1 << 8,
  UC_HOOK_MEM_FETCH_PROT: 1 << 9,
  UC_HOOK_MEM_READ: 1 << 10,
  UC_HOOK_INSN_INVALID: 1 << 14,
  UC_HOOK_MEM_INVALID: 0x3f0,
  UC_MEM_READ_UNMAPPED: 19,
  UC_MEM_WRITE_UNMAPPED: 20,
  UC_MEM_FETCH_UNMAPPED: 21,
  UC_MEM_WRITE_PROT: 22,
  UC_MEM_READ_PROT: 23,
  UC_MEM_FETCH_PROT: 24,
  UC_X86_INS_IN: 218,
  UC_X86_INS_OUT: 500,
  UC_X86_INS_CPUID: 113,
  UC_X86_INS_SYSCALL: 699,
  UC_QUERY_TIMEOUT: 4,
  UC_ERR_READ_UNMAPPED: 6,
  UC_ERR_WRITE_UNMAPPED: 7,
  UC_ERR_FETCH_UNMAPPED: 8,
  UC_ERR_INSN_INVALID: 10,
  UC_ERR_WRITE_PROT: 12,
  UC_ERR_READ_PROT: 13,
  UC_ERR_FETCH_PROT: 14,
  UC_ERR_EXCEPTION: 21,
});

const SYMBOLS = {
  uc_version: { parameters: ["buffer", "buffer"], result: "u32" },
  uc_open: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  uc_close: { parameters: ["pointer"], result: "i32" },
  uc_strerror: { parameters: ["i32"], result: "pointer" },
  uc_query: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  uc_reg_write: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  uc_reg_read: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  uc_mem_write: { parameters: ["pointer", "u64", "buffer", "usize"], result: "i32" },
  uc_mem_read: { parameters: ["pointer", "u64", "buffer", "usize"], result: "i32" },
  uc_mem_map: { parameters: ["pointer", "u64", "usize", "u32"], result: "i32" },
  uc_mem_map_ptr: { parameters: ["pointer", "u64", "usize", "u32", "pointer"], result: "i32" },
  uc_mem_unmap: { parameters: ["pointer", "u64", "usize"], result: "i32" },
  uc_mmio_map: {
    parameters: ["pointer", "u64", "usize", "function", "pointer", "function", "pointer"],
    result: "i32",
  },
  // uc_hook_add is variadic; the two shapes we call are declared separately (the extra argument of
  // UC_HOOK_INSN is the instruction id). Integer varargs are passed like fixed arguments on the
  // System V and AAPCS64 ABIs.
  uc_hook_add: {
    parameters: ["pointer", "buffer", "i32", "function", "pointer", "u64", "u64"],
    result: "i32",
  },
  uc_hook_add_insn: {
    name: "uc_hook_add",
    parameters: ["pointer", "buffer", "i32", "function", "pointer", "u64", "u64", "i32"],
    result: "i32",
  },
  uc_hook_del: { parameters: ["pointer", "usize"], result: "i32" },
  uc_emu_start: { parameters: ["pointer", "u64", "u64", "u64", "usize"], result: "i32", nonblocking: false },
  uc_emu_stop: { parameters: ["pointer"], result: "i32" },
  // uc_ctl is variadic; the control without arguments (UC_CTL_TB_FLUSH) is declared alone.
  uc_ctl: { parameters: ["pointer", "i32"], result: "i32" },
  // The same function with two u64 arguments (UC_CTL_TB_REMOVE_CACHE: begin, end); on x86-64 and arm64 Linux
  // integer variadic arguments travel as fixed ones do.
  uc_ctl_range: { name: "uc_ctl", parameters: ["pointer", "i32", "u64", "u64"], result: "i32" },
  uc_context_alloc: { parameters: ["pointer", "buffer"], result: "i32" },
  uc_context_save: { parameters: ["pointer", "pointer"], result: "i32" },
  uc_context_restore: { parameters: ["pointer", "pointer"], result: "i32" },
  uc_context_free: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type UcLib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: UcLib | undefined;
let libPath = "";

// UNICORN_LIB, only when the environment variable may be read: querying never prompts, getting would.
function envLib(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "UNICORN_LIB" }).state !== "granted") return undefined;
    return Deno.env.get("UNICORN_LIB") || undefined;
  } catch {
    return undefined;
  }
}

// Deno.dlopen without --allow-ffi fails (or prompts); say so instead of blaming a missing library.
function checkFfiPermission(): void {
  let state: string;
  try {
    state = Deno.permissions.querySync({ name: "ffi" }).state;
  } catch {
    return; // no permission API: let dlopen report
  }
  if (state !== "granted") {
    throw new EmulatorError(
      "FfiNotPermitted",
      "the emulator opens the Unicorn library through Deno.dlopen, which needs --allow-ffi",
      { field: "--allow-ffi", value: state },
    );
  }
}

/**
 * Opens the Unicorn shared library once and returns its symbols. Tries `UNICORN_LIB` from the environment,
 * then `libunicorn.so.2`, `libunicorn.so`, `libunicorn.2.dylib`. Throws {@linkcode EmulatorError}
 * `LibraryNotFound` listing what was tried.
 */
function load(): UcLib {
  if (lib !== undefined) return lib;
  checkFfiPermission();
  const env = envLib();
  const candidates = env !== undefined ? [env] : ["libunicorn.so.2", "libunicorn.so", "libunicorn.2.dylib"];
  const failures: string[] = [];
  for (const c of candidates) {
    try {
      lib = Deno.dlopen(c, SYMBOLS).symbols;
      libPath = c;
      return lib;
    } catch (e) {
      failures.push(`${c}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new EmulatorError(
    "LibraryNotFound",
    `the Unicorn 2 library could not be opened (install Debian's libunicorn2 or set UNICORN_LIB); tried ${
      failures.join("; ")
    }`,
    { field: "UNICORN_LIB", value: candidates.join(", ") },
  );
}

/**
 * Whether the Unicorn library can be opened here; never throws.
 *
 * @example
 * ```ts
 * import { unicornAvailable } from "@linux-loader/linux-loader/emu";
 * if (!unicornAvailable().ok) console.log("no emulator");
 * ```
 */
export function unicornAvailable():
  | { ok: true; version: string; path: string }
  | { ok: false; reason: string; error: EmulatorError } {
  try {
    const l = load();
    const maj = new Uint32Array(1), min = new Uint32Array(1);
    l.uc_version(maj, min);
    return { ok: true, version: `${maj[0]}.${min[0]}`, path: libPath };
  } catch (e) {
    const error = e instanceof EmulatorError
      ? e
      : new EmulatorError("LibraryNotFound", e instanceof Error ? e.message : String(e), { cause: e });
    return { ok: false, reason: error.message, error };
  }
}

function strerror(code: number): string {
  const p = load().uc_strerror(code);
  return p === null ? `error ${code}` : new Deno.UnsafePointerView(p).getCString();
}

function ucError(what: string, code: number, details: { value?: number | bigint | string } = {}): EmulatorError {
  return new EmulatorError("UnicornError", `${what}: ${strerror(code)} (uc_err ${code})`, {
    field: what,
    value: details.value ?? code,
    limit: code,
  });
}

function check(what: string, code: number, value?: number | bigint | string): void {
  if (code !== 0) throw ucError(what, code, { value });
}

/** Kinds of faulting guest access. */
export type FaultKind = "read" | "write" | "fetch";

/**
 * A guest access Unicorn could not complete: {@linkcode EmulatorError} `UnmappedAccess` (nothing is mapped
 * there) or `InvalidAccess` (mapped without the permission), naming the program counter and the address.
 *
 * @example
 * ```ts
 * import { GuestFault } from "@linux-loader/linux-loader/emu";
 * const f = new GuestFault("UnmappedAccess", "read", 0x10_0000, 0xdead_0000, 4);
 * console.log(f.code, f.access, f.address.toString(16)); // UnmappedAccess read dead0000
 * ```
 */
export class GuestFault extends EmulatorError {
  /** Program counter of the faulting instruction. */
  readonly pc: number;
  /** Guest address the access tried to touch. */
  readonly address: number;
  /** Access size in bytes. */
  readonly size: number;
  /** What the access was. */
  readonly access: FaultKind;

  /** Builds the error from the fault's facts. */
  constructor(code: "UnmappedAccess" | "InvalidAccess", access: FaultKind, pc: number, address: number, size: number) {
    super(
      code,
      `guest ${access} of ${size} byte(s) at ${hex(address)} ${
        code === "UnmappedAccess" ? "hits unmapped memory" : "is not permitted"
      } (pc ${hex(pc)})`,
      { field: "pc", value: address, limit: pc },
    );
    this.pc = pc;
    this.address = address;
    this.size = size;
    this.access = access;
  }
}

/** One guest read recorded by {@linkcode Unicorn.watchReads}. */
export interface GuestRead {
  /** Guest address read. */
  address: number;
  /** Byte count. */
  size: number;
}

/** Handlers for x86 IN/OUT instructions. */
export interface PortIoHandler {
  /** Value returned for `in` from `port` of `size` bytes. */
  read(port: number, size: number): number;
  /** Called for `out` of `value` (`size` bytes) to `port`. */
  write(port: number, size: number, value: number): void;
}

/** Handlers for an MMIO range; offsets are from the range's base. */
export interface MmioHandler {
  /** Value for a read of `size` bytes at `offset`. */
  read(offset: number, size: number): number | bigint;
  /** Called for a write of `value` (`size` bytes) at `offset`. */
  write(offset: number, size: number, value: bigint): void;
}

/** The segment/table register layout Unicorn uses for x86 GDTR, IDTR, LDTR, TR (`uc_x86_mmr`). */
export interface X86Mmr {
  /** Segment selector (not used by GDTR and IDTR). */
  selector: number;
  /** Base address. */
  base: number | bigint;
  /** Limit. */
  limit: number;
  /** Attribute flags (not used by GDTR and IDTR). */
  flags: number;
}

/** An AArch64 system register, by its encoding (`uc_arm64_cp_reg`). */
export interface Aarch64SysReg {
  /** CRn. */
  crn: number;
  /** CRm. */
  crm: number;
  /** op0. */
  op0: number;
  /** op1. */
  op1: number;
  /** op2. */
  op2: number;
}

/** Options of {@linkcode Unicorn.start}. */
export interface StartOptions {
  /** Address to begin at. */
  begin: number | bigint;
  /** Stop when the program counter reaches this address (default: never, i.e. 2^64 - 1). */
  until?: number | bigint;
  /** Engine timeout in milliseconds (0: none). */
  timeoutMs?: number;
  /** Engine instruction budget (0: none). */
  count?: number;
}

/** Why {@linkcode Unicorn.start} returned without an error. */
export interface StartResult {
  /** Whether the engine reported that its timeout expired. */
  timedOut: boolean;
}

const REGS: Record<UnicornArch, Readonly<Record<string, number>>> = {
  x86_64: X86_REGS,
  x86_32: X86_REGS,
  aarch64: AARCH64_REGS,
  riscv64: RISCV_REGS,
};

const PAGE = 0x1000;

function toBig(v: number | bigint): bigint {
  return typeof v === "bigint" ? v : BigInt(v);
}

function toNum(v: number | bigint): number {
  return typeof v === "number" ? v : Number(v);
}

/**
 * One Unicorn engine. Close it with `close()` or a `using` declaration.
 *
 * @example Run two x86 instructions
 * ```ts
 * import { Unicorn } from "@linux-loader/linux-loader/emu";
 * using uc = Unicorn.open("x86_64");
 * uc.mapScratch(0x1000, 0x1000);
 * uc.memWrite(0x1000, new Uint8Array([0x48, 0xc7, 0xc0, 0x2a, 0, 0, 0, 0xf4])); // mov rax, 42; hlt
 * uc.start({ begin: 0x1000 });
 * console.log(uc.regRead("rax")); // 42n
 * ```
 */
export class Unicorn implements Disposable {
  /** Architecture this engine emulates. */
  readonly arch: UnicornArch;
  #uc: Deno.PointerValue;
  #lib: UcLib;
  #regs: Readonly<Record<string, number>>;
  /** Buffers and callbacks the engine holds pointers to; kept alive until close. */
  #keep: unknown[] = [];
  #callbacks: Deno.UnsafeCallback[] = [];
  #pending: unknown = undefined;
  #fault: { type: number; address: number; size: number; pc: number } | undefined;
  #unmapped: ((access: FaultKind, address: bigint, size: number) => boolean) | undefined;
  #context: { ptr: Deno.PointerObject; data: Uint8Array } | undefined;
  #scratch8 = new BigUint64Array(1);

  private constructor(arch: UnicornArch, uc: Deno.PointerValue, l: UcLib) {
    this.arch = arch;
    this.#uc = uc;
    this.#lib = l;
    this.#regs = REGS[arch];
    this.#installFaultHook();
  }

  /**
   * Opens an engine. `x86_32` opens x86 in 32-bit mode (PVH entry); `aarch64` uses the Cortex-A72 model;
   * `riscv64` the default RV64 CPU.
   */
  static open(arch: UnicornArch): Unicorn {
    const l = load();
    const [a, m] = arch === "x86_64"
      ? [UC_ARCH_X86, UC_MODE_64]
      : arch === "x86_32"
      ? [UC_ARCH_X86, UC_MODE_32]
      : arch === "aarch64"
      ? [UC_ARCH_ARM64, 0]
      : [UC_ARCH_RISCV, UC_MODE_RISCV64];
    const out = new BigUint64Array(1);
    check(`uc_open(${arch})`, l.uc_open(a, m, out));
    return new Unicorn(arch, Deno.UnsafePointer.create(out[0]), l);
  }

  /** The engine handle; throws once closed. */
  get #h(): Deno.PointerObject {
    if (this.#uc === null) throw new EmulatorError("UnicornError", "the Unicorn engine is closed");
    return this.#uc;
  }

  /** Closes the engine and releases every callback. Safe to call twice. */
  close(): void {
    if (this.#uc === null) return;
    if (this.#context !== undefined) this.#lib.uc_context_free(this.#context.ptr);
    this.#context = undefined;
    this.#lib.uc_close(this.#uc);
    this.#uc = null;
    for (const c of this.#callbacks) c.close();
    this.#callbacks = [];
    this.#keep = [];
  }

  /** Same as {@linkcode Unicorn.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #callback<D extends Deno.UnsafeCallbackDefinition>(
    def: D,
    fn: Deno.UnsafeCallbackFunction<D["parameters"], D["result"]>,
  ): Deno.UnsafeCallback<D> {
    const cb = new Deno.UnsafeCallback(def, fn);
    this.#callbacks.push(cb as unknown as Deno.UnsafeCallback);
    return cb;
  }

  /** Runs `fn` inside a callback: an exception is kept for the caller of start() and the run stopped. */
  #guard<T>(fallback: T, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (this.#pending === undefined) this.#pending = e;
      this.#lib.uc_emu_stop(this.#h);
      return fallback;
    }
  }

  #installFaultHook(): void {
    const cb = this.#callback(
      { parameters: ["pointer", "i32", "u64", "i32", "i64", "pointer"], result: "bool" } as const,
      (_uc, type, address, size) => {
        const handler = this.#unmapped;
        if (handler !== undefined && type <= UC.UC_MEM_FETCH_UNMAPPED) {
          const access: FaultKind = type === UC.UC_MEM_READ_UNMAPPED
            ? "read"
            : type === UC.UC_MEM_WRITE_UNMAPPED
            ? "write"
            : "fetch";
          if (this.#guard(false, () => handler(access, toBig(address), size))) return true;
        }
        let pc = -1;
        try {
          pc = toNum(this.regRead(this.#pcName()));
        } catch { /* keep -1 */ }
        if (this.#fault === undefined) this.#fault = { type, address: toNum(address), size, pc };
        return false;
      },
    );
    const hh = new BigUint64Array(1);
    check(
      "uc_hook_add(UC_HOOK_MEM_INVALID)",
      this.#lib.uc_hook_add(this.#h, hh, UC.UC_HOOK_MEM_INVALID, cb.pointer, null, 1n, 0n),
    );
  }

  /** Reads the program counter (RIP, EIP or PC). */
  readPc(): bigint {
    return this.regRead(this.#pcName());
  }

  #pcName(): string {
    return this.arch === "x86_64" ? "rip" : this.arch === "x86_32" ? "eip" : "pc";
  }

  /** The register number of `name` for this engine's architecture; throws `UnknownRegister`. */
  regId(name: string): number {
    const id = this.#regs[name.toLowerCase()];
    if (id === undefined) {
      throw new EmulatorError("UnknownRegister", `${this.arch} has no register named "${name}"`, {
        field: "register",
        value: name,
      });
    }
    return id;
  }

  /** Reads a register (up to 64 bits) by name, e.g. `"rax"`, `"x0"`, `"a1"`. */
  regRead(name: string): bigint {
    const buf = this.#scratch8;
    buf[0] = 0n;
    check(`uc_reg_read(${name})`, this.#lib.uc_reg_read(this.#h, this.regId(name), buf));
    return buf[0];
  }

  /** Writes a register (up to 64 bits) by name. */
  regWrite(name: string, value: number | bigint): void {
    const buf = new BigUint64Array([BigInt.asUintN(64, toBig(value))]);
    check(`uc_reg_write(${name})`, this.#lib.uc_reg_write(this.#h, this.regId(name), buf), toBig(value));
  }

  /** Reads several registers into an object keyed by name. */
  regsRead(names: readonly string[]): Record<string, bigint> {
    const out: Record<string, bigint> = {};
    for (const n of names) out[n] = this.regRead(n);
    return out;
  }

  /** Writes an x86 table or segment register that takes a `uc_x86_mmr` (`gdtr`, `idtr`, `ldtr`, `tr`). */
  writeMmr(name: "gdtr" | "idtr" | "ldtr" | "tr", mmr: X86Mmr): void {
    const buf = new Uint8Array(24);
    const dv = new DataView(buf.buffer);
    dv.setUint16(0, mmr.selector, true);
    dv.setBigUint64(8, toBig(mmr.base), true);
    dv.setUint32(16, mmr.limit, true);
    dv.setUint32(20, mmr.flags, true);
    check(`uc_reg_write(${name})`, this.#lib.uc_reg_write(this.#h, this.regId(name), buf));
  }

  /** Reads an x86 `uc_x86_mmr` register. */
  readMmr(name: "gdtr" | "idtr" | "ldtr" | "tr"): X86Mmr {
    const buf = new Uint8Array(24);
    check(`uc_reg_read(${name})`, this.#lib.uc_reg_read(this.#h, this.regId(name), buf));
    const dv = new DataView(buf.buffer);
    return {
      selector: dv.getUint16(0, true),
      base: dv.getBigUint64(8, true),
      limit: dv.getUint32(16, true),
      flags: dv.getUint32(20, true),
    };
  }

  /** Writes an x86 model-specific register (e.g. EFER, 0xc0000080). */
  writeMsr(msr: number, value: number | bigint): void {
    const buf = new Uint8Array(16);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, msr, true);
    dv.setBigUint64(8, BigInt.asUintN(64, toBig(value)), true);
    check(`uc_reg_write(msr ${hex(msr)})`, this.#lib.uc_reg_write(this.#h, this.regId("msr"), buf));
  }

  /** Reads an x86 model-specific register. */
  readMsr(msr: number): bigint {
    const buf = new Uint8Array(16);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, msr, true);
    check(`uc_reg_read(msr ${hex(msr)})`, this.#lib.uc_reg_read(this.#h, this.regId("msr"), buf));
    return dv.getBigUint64(8, true);
  }

  #cpReg(reg: Aarch64SysReg, value: bigint): Uint8Array {
    const buf = new Uint8Array(32);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, reg.crn, true);
    dv.setUint32(4, reg.crm, true);
    dv.setUint32(8, reg.op0, true);
    dv.setUint32(12, reg.op1, true);
    dv.setUint32(16, reg.op2, true);
    dv.setBigUint64(24, value, true);
    return buf;
  }

  /** Writes an AArch64 system register by encoding (`UC_ARM64_REG_CP_REG`). */
  writeSysReg(reg: Aarch64SysReg, value: number | bigint): void {
    const buf = this.#cpReg(reg, BigInt.asUintN(64, toBig(value)));
    check("uc_reg_write(cp_reg)", this.#lib.uc_reg_write(this.#h, this.regId("cp_reg"), buf));
  }

  /** Reads an AArch64 system register by encoding. */
  readSysReg(reg: Aarch64SysReg): bigint {
    const buf = this.#cpReg(reg, 0n);
    check("uc_reg_read(cp_reg)", this.#lib.uc_reg_read(this.#h, this.regId("cp_reg"), buf));
    return new DataView(buf.buffer).getBigUint64(24, true);
  }

  /**
   * Maps `bytes` (a view of host memory the caller keeps) at guest `address` without a copy. Address and
   * length must be multiples of 4 KiB (Unicorn's rule); a violation is {@linkcode EmulatorError}
   * `UnicornError` naming the value.
   */
  mapHost(address: number, bytes: Uint8Array, perms: number = UC.UC_PROT_ALL): void {
    if (address % PAGE !== 0 || bytes.byteLength % PAGE !== 0 || bytes.byteLength === 0) {
      throw new EmulatorError(
        "UnicornError",
        `uc_mem_map_ptr needs a 4 KiB-aligned address and a non-zero size that is a multiple of 4 KiB; got ${
          hex(address)
        } + ${hex(bytes.byteLength)}`,
        { field: "address", value: address, limit: PAGE },
      );
    }
    const ptr = Deno.UnsafePointer.of(bytes);
    this.#keep.push(bytes);
    check(
      `uc_mem_map_ptr(${hex(address)}, ${hex(bytes.byteLength)})`,
      this.#lib.uc_mem_map_ptr(this.#h, BigInt(address), BigInt(bytes.byteLength), perms, ptr),
      address,
    );
  }

  /**
   * Maps every region of `mem` zero-copy: the guest sees (and writes) the very bytes of the regions.
   * Each region's address and size must be multiples of 4 KiB.
   */
  mapGuestMemory(mem: GuestMemory, perms: number = UC.UC_PROT_ALL): void {
    for (const r of mem.regions) this.mapHost(r.guestAddr, r.bytes, perms);
  }

  /** Maps fresh zero-filled engine-owned memory (scratch: stacks, placeholders). */
  mapScratch(address: number, size: number, perms: number = UC.UC_PROT_ALL): void {
    check(
      `uc_mem_map(${hex(address)}, ${hex(size)})`,
      this.#lib.uc_mem_map(this.#h, BigInt(address), BigInt(size), perms),
      address,
    );
  }

  /** Removes a mapping. */
  unmap(address: number, size: number): void {
    check(
      `uc_mem_unmap(${hex(address)}, ${hex(size)})`,
      this.#lib.uc_mem_unmap(this.#h, BigInt(address), BigInt(size)),
    );
  }

  /** Copies guest memory out of the engine. */
  memRead(address: number | bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    check(`uc_mem_read(${hex(address)})`, this.#lib.uc_mem_read(this.#h, toBig(address), out, BigInt(size)), address);
    return out;
  }

  /** Copies bytes into guest memory through the engine. */
  memWrite(address: number | bigint, bytes: Uint8Array): void {
    check(
      `uc_mem_write(${hex(address)})`,
      this.#lib.uc_mem_write(this.#h, toBig(address), bytes, BigInt(bytes.byteLength)),
      address,
    );
  }

  /**
   * Records every guest data read (not instruction fetch) that starts inside `[begin, end)` and returns
   * the live list the records are appended to (`into`, when given, so several watches share one list).
   */
  watchReads(begin: number, end: number, into: GuestRead[] = []): GuestRead[] {
    const reads = into;
    const cb = this.#callback(
      { parameters: ["pointer", "i32", "u64", "i32", "i64", "pointer"], result: "void" } as const,
      (_uc, _type, address, size) => {
        reads.push({ address: toNum(address), size });
      },
    );
    const hh = new BigUint64Array(1);
    check(
      "uc_hook_add(UC_HOOK_MEM_READ)",
      this.#lib.uc_hook_add(this.#h, hh, UC.UC_HOOK_MEM_READ, cb.pointer, null, BigInt(begin), BigInt(end - 1)),
    );
    return reads;
  }

  /**
   * Calls `fn(address, size)` before each instruction in `[begin, end)` (all addresses when omitted).
   * Give bigint bounds for addresses above 2^53 (the address passed to `fn` is then rounded).
   */
  onCode(fn: (address: number, size: number) => void, begin: number | bigint = 1, end: number | bigint = 0): void {
    const cb = this.#callback(
      { parameters: ["pointer", "u64", "u32", "pointer"], result: "void" } as const,
      (_uc, address, size) => this.#guard(undefined, () => fn(toNum(address), size)),
    );
    const hh = new BigUint64Array(1);
    const [b, e] = begin > end ? [BigInt(begin), BigInt(end)] : [BigInt(begin), BigInt(end) - 1n];
    check("uc_hook_add(UC_HOOK_CODE)", this.#lib.uc_hook_add(this.#h, hh, UC.UC_HOOK_CODE, cb.pointer, null, b, e));
  }

  /** Calls `fn(intno)` when the guest raises an interrupt or exception the engine reports. */
  onInterrupt(fn: (intno: number) => void): void {
    const cb = this.#callback(
      { parameters: ["pointer", "u32", "pointer"], result: "void" } as const,
      (_uc, intno) => this.#guard(undefined, () => fn(intno)),
    );
    const hh = new BigUint64Array(1);
    check("uc_hook_add(UC_HOOK_INTR)", this.#lib.uc_hook_add(this.#h, hh, UC.UC_HOOK_INTR, cb.pointer, null, 1n, 0n));
  }

  /** Serves x86 `in` and `out` instructions (every port) from `handler`. */
  onPortIo(handler: PortIoHandler): void {
    if (this.arch !== "x86_64" && this.arch !== "x86_32") {
      throw new EmulatorError("UnicornError", `port I/O exists on x86 only, not ${this.arch}`, { value: this.arch });
    }
    const inCb = this.#callback(
      { parameters: ["pointer", "u32", "i32", "pointer"], result: "u32" } as const,
      (_uc, port, size) => this.#guard(0, () => handler.read(port, size) >>> 0),
    );
    const outCb = this.#callback(
      { parameters: ["pointer", "u32", "i32", "u32", "pointer"], result: "void" } as const,
      (_uc, port, size, value) => this.#guard(undefined, () => handler.write(port, size, value)),
    );
    const hh = new BigUint64Array(1);
    check(
      "uc_hook_add(UC_HOOK_INSN in)",
      this.#lib.uc_hook_add_insn(this.#h, hh, UC.UC_HOOK_INSN, inCb.pointer, null, 1n, 0n, UC.UC_X86_INS_IN),
    );
    check(
      "uc_hook_add(UC_HOOK_INSN out)",
      this.#lib.uc_hook_add_insn(this.#h, hh, UC.UC_HOOK_INSN, outCb.pointer, null, 1n, 0n, UC.UC_X86_INS_OUT),
    );
  }

  /** Maps an MMIO range (4 KiB-aligned address and size) served by `handler`. */
  mapMmio(address: number, size: number, handler: MmioHandler): void {
    const rd = this.#callback(
      { parameters: ["pointer", "u64", "u32", "pointer"], result: "u64" } as const,
      (_uc, offset, sz) => this.#guard(0n, () => BigInt.asUintN(64, toBig(handler.read(toNum(offset), sz)))),
    );
    const wr = this.#callback(
      { parameters: ["pointer", "u64", "u32", "u64", "pointer"], result: "void" } as const,
      (_uc, offset, sz, value) => this.#guard(undefined, () => handler.write(toNum(offset), sz, toBig(value))),
    );
    check(
      `uc_mmio_map(${hex(address)}, ${hex(size)})`,
      this.#lib.uc_mmio_map(this.#h, BigInt(address), BigInt(size), rd.pointer, null, wr.pointer, null),
      address,
    );
  }

  /**
   * Serves guest accesses to unmapped memory: `fn` may map memory there (say, an alias of guest RAM) and
   * return true to have the engine retry the access; false leaves it a {@linkcode GuestFault}. One handler
   * per engine; a later call replaces it.
   */
  onUnmapped(fn: (access: FaultKind, address: bigint, size: number) => boolean): void {
    this.#unmapped = fn;
  }

  /**
   * Serves the x86 `cpuid` instruction: `fn` returns true when it has set EAX, EBX, ECX and EDX itself
   * (the engine's own values are then skipped), false to let the engine answer.
   */
  onCpuid(fn: () => boolean): void {
    const cb = this.#callback(
      { parameters: ["pointer", "pointer"], result: "i32" } as const,
      () => this.#guard(0, () => (fn() ? 1 : 0)),
    );
    const hh = new BigUint64Array(1);
    check(
      "uc_hook_add(UC_HOOK_INSN cpuid)",
      this.#lib.uc_hook_add_insn(this.#h, hh, UC.UC_HOOK_INSN, cb.pointer, null, 1n, 0n, UC.UC_X86_INS_CPUID),
    );
  }

  /**
   * Calls `fn` for the x86 `syscall` instruction, which Unicorn does not carry out itself: when `fn`
   * returns, the engine only adds the instruction's length (2) to RIP.
   */
  onSyscall(fn: () => void): void {
    const cb = this.#callback(
      { parameters: ["pointer", "pointer"], result: "void" } as const,
      () => this.#guard(undefined, fn),
    );
    const hh = new BigUint64Array(1);
    check(
      "uc_hook_add(UC_HOOK_INSN syscall)",
      this.#lib.uc_hook_add_insn(this.#h, hh, UC.UC_HOOK_INSN, cb.pointer, null, 1n, 0n, UC.UC_X86_INS_SYSCALL),
    );
  }

  /**
   * Calls `fn` when the guest executes an invalid instruction; returning true ends the run without an
   * error (the caller decides what happens next), false makes it `InvalidInstruction`.
   */
  onInvalidInstruction(fn: () => boolean): void {
    const cb = this.#callback(
      { parameters: ["pointer", "pointer"], result: "bool" } as const,
      () => this.#guard(false, fn),
    );
    const hh = new BigUint64Array(1);
    check(
      "uc_hook_add(UC_HOOK_INSN_INVALID)",
      this.#lib.uc_hook_add(this.#h, hh, UC.UC_HOOK_INSN_INVALID, cb.pointer, null, 1n, 0n),
    );
  }

  /**
   * Edits the engine's internal CPU state in place: the state is saved with `uc_context_save` into a
   * buffer `fn` sees (the bytes of QEMU's CPU state structure, whose layout depends on the Unicorn build),
   * then restored with `uc_context_restore`. For harnesses that must reach state the register API does
   * not expose; keep the edits to fields whose offsets were verified on this build. With `restore` false
   * the state is only read.
   */
  editCpuState<T>(fn: (state: Uint8Array) => T, restore = true): T {
    if (this.#context === undefined) {
      const out = new BigUint64Array(1);
      check("uc_context_alloc", this.#lib.uc_context_alloc(this.#h, out));
      const ptr = Deno.UnsafePointer.create(out[0]);
      if (ptr === null) throw new EmulatorError("UnicornError", "uc_context_alloc returned NULL");
      // struct uc_context (uc_priv.h) starts with `size_t context_size` (the CPU state's size) and ends with
      // the state, `char data[]`; the fields between differ by version: 2.0 { uc_mode mode; uc_arch arch; },
      // 2.1 adds `int snapshot_level` (data at 20: a char array is not padded). The harnesses check the
      // offsets they use against the register API, so a build that differs is refused, not misread.
      const size = Number(new Deno.UnsafePointerView(ptr).getBigUint64(0));
      const maj = new Uint32Array(1), min = new Uint32Array(1);
      this.#lib.uc_version(maj, min);
      const offset = maj[0] === 2 && min[0] === 0 ? 16 : 20;
      const data = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, size, offset));
      this.#context = { ptr, data };
    }
    const ctx = this.#context;
    check("uc_context_save", this.#lib.uc_context_save(this.#h, ctx.ptr));
    const r = fn(ctx.data);
    if (restore) check("uc_context_restore", this.#lib.uc_context_restore(this.#h, ctx.ptr));
    return r;
  }

  /**
   * Drops every translated block (`uc_ctl(UC_CTL_WRITE(UC_CTL_TB_FLUSH, 0))`), so code hooks added since a
   * block was translated fire in it too. Call between runs, not from a callback.
   */
  flushTranslations(): void {
    // UC_CTL(type, nr, rw) = type | nr << 26 | rw << 30; UC_CTL_TB_FLUSH is 10 in uc_control_type.
    check("uc_ctl(UC_CTL_TB_FLUSH)", this.#lib.uc_ctl(this.#h, UC_CTL_TB_FLUSH | (UC_CTL_IO_WRITE << 30)));
  }

  /**
   * Drops the translated blocks of guest code in [begin, end) (`uc_ctl_remove_cache`; `begin` is looked up
   * through the CPU's current translation and the range taken as contiguous behind it). Much cheaper than
   * {@linkcode flushTranslations} on Unicorn 2.1.1 (a whole flush took 3-7 s there). Call between runs.
   */
  removeTranslations(begin: number | bigint, end: number | bigint): void {
    check(
      "uc_ctl(UC_CTL_TB_REMOVE_CACHE)",
      this.#lib.uc_ctl_range(
        this.#h,
        UC_CTL_TB_REMOVE_CACHE | (2 << 26) | (UC_CTL_IO_WRITE << 30),
        toBig(begin),
        toBig(end),
      ),
    );
  }

  /**
   * Arms a hang guard: a worker thread sleeps until `deadline` (a `Date.now()` time) and then stops the
   * engine with `uc_emu_stop`, the way Unicorn's own timeout does, but without its thread that wakes every
   * 2 us for the whole run. Dispose the guard (before closing the engine) to disarm it; `fired()` tells
   * whether it stopped the engine. A guard stop is asynchronous: treat it as the end of the run.
   */
  hangGuard(deadline: number): { fired(): boolean } & Disposable {
    const engine = this.#h;
    const state = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL("./stop_worker.ts", import.meta.url), { type: "module" });
    worker.postMessage({
      lib: libPath,
      engine: BigInt(Deno.UnsafePointer.value(engine)),
      deadline,
      state: state.buffer,
    });
    return {
      fired: () => Atomics.load(state, 0) === 2,
      [Symbol.dispose]: () => {
        if (Atomics.compareExchange(state, 0, 0, 1) === 3) {
          while (Atomics.load(state, 0) === 3) Atomics.wait(state, 0, 3, 10);
        }
        Atomics.notify(state, 0);
        worker.terminate();
      },
    };
  }

  /** Asks a running emulation to stop after the current instruction (call from a callback). */
  stop(): void {
    check("uc_emu_stop", this.#lib.uc_emu_stop(this.#h));
  }

  /**
   * Runs until `until`, the instruction budget, the timeout, a halt (x86 `hlt`), a stop request, or a
   * fault. A fault is a {@linkcode GuestFault}; an invalid instruction is `InvalidInstruction`; an
   * exception thrown by a callback is rethrown as is; other engine errors are `UnicornError`.
   */
  start(opts: StartOptions): StartResult {
    this.#pending = undefined;
    this.#fault = undefined;
    const until = opts.until === undefined ? 0xffff_ffff_ffff_ffffn : toBig(opts.until);
    const timeoutUs = BigInt(Math.max(0, Math.round((opts.timeoutMs ?? 0) * 1000)));
    const err = this.#lib.uc_emu_start(this.#h, toBig(opts.begin), until, timeoutUs, BigInt(opts.count ?? 0));
    if (this.#pending !== undefined) {
      const p = this.#pending;
      this.#pending = undefined;
      throw p;
    }
    if (err !== 0) {
      const f = this.#fault as { type: number; address: number; size: number; pc: number } | undefined;
      if (f !== undefined) {
        const access: FaultKind = f.type === UC.UC_MEM_READ_UNMAPPED || f.type === UC.UC_MEM_READ_PROT
          ? "read"
          : f.type === UC.UC_MEM_WRITE_UNMAPPED || f.type === UC.UC_MEM_WRITE_PROT
          ? "write"
          : "fetch";
        const code = f.type <= UC.UC_MEM_FETCH_UNMAPPED ? "UnmappedAccess" : "InvalidAccess";
        throw new GuestFault(code, access, f.pc, f.address, f.size);
      }
      if (err === UC.UC_ERR_INSN_INVALID) {
        const pc = this.regRead(this.#pcName());
        throw new EmulatorError("InvalidInstruction", `invalid instruction at pc ${hex(pc)}: ${strerror(err)}`, {
          field: "pc",
          value: pc,
        });
      }
      if (err === UC.UC_ERR_EXCEPTION) {
        const pc = this.regRead(this.#pcName());
        throw new EmulatorError("UnhandledException", `unhandled CPU exception at pc ${hex(pc)}: ${strerror(err)}`, {
          field: "pc",
          value: pc,
        });
      }
      throw ucError("uc_emu_start", err, { value: toBig(opts.begin) });
    }
    const q = new BigUint64Array(1);
    this.#lib.uc_query(this.#h, UC.UC_QUERY_TIMEOUT, q);
    return { timedOut: q[0] !== 0n };
  }
}
