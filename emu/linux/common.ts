/**
 * What the real-kernel harnesses share: options, the result record, a serial console that streams lines
 * as the guest writes them, and the milestones a boot is judged by.
 *
 * @module
 */

import { EmulatorError, MemoryError } from "../../lib/errors.ts";
import { GuestFault, type Unicorn } from "../unicorn.ts";

/** Why a real-kernel run ended. */
export type RealStopReason =
  | "poweroff" // the guest powered the machine off (x86: ACPI S5; arm64: PSCI SYSTEM_OFF or "reboot: Power down")
  | "panic" // the kernel printed "Kernel panic"
  | "halt" // the CPU halted with interrupts off
  | "idle" // the CPU halted with interrupts on and nothing will wake it (no timer, or only timer ticks)
  | "deadline" // the wall-clock limit
  | "instructions" // the instruction budget
  | "stop-line" // a line the caller asked to stop at
  | "stalled" // the console watchdog: too many guest events without a new console line
  | "error"; // the engine stopped on something the harness does not handle

/** Options of the real-kernel boots. */
export interface RealBootOptions {
  /** Wall-clock limit in milliseconds (checked between slices of execution). Default 120 000. */
  timeoutMs?: number;
  /** Instruction budget (0: none). Default 0. */
  maxInstructions?: number;
  /**
   * Count the instructions executed (default false). Unicorn counts with a hook on every instruction, which
   * makes an x86 boot about nine times slower (it walks every code hook per instruction); without it
   * `instructions` is -1.
   */
  countInstructions?: boolean;
  /** Kernel command line; each boot has a default that works in Unicorn. */
  cmdline?: string;
  /** The initramfs (a newc cpio); none by default. */
  initrd?: Uint8Array;
  /**
   * Guest RAM in MiB. Default: sized from the image ({@linkcode realRamBytes}: its run-time end, the
   * initramfs and {@linkcode LINUX_HEADROOM}); too little for the image is a `MemoryError` before running.
   */
  memoryMiB?: number;
  /**
   * x86: give the guest the machine's minimal ACPI tables (emu/linux/acpi.ts: RSDP, XSDT, FADT, FACS, a DSDT
   * with `\_S5`) so that a power-off ends the run as `"poweroff"` (default true; false: the kernel halts).
   */
  x86Acpi?: boolean;
  /** Called with every complete line the guest prints (carriage returns removed), as it prints it. */
  onLine?: (line: string) => void;
  /**
   * arm64 only: deliver exceptions from EL0 (SVC, instruction aborts) to the kernel so /init runs
   * (default true; false stops the run at /init's first instruction fetch).
   */
  arm64UserSpace?: boolean;
  /** Stop as soon as a printed line contains this text. */
  stopAt?: string;
  /**
   * The console watchdog: end the run as `"stalled"` once the machine has handled this many guest events
   * (exceptions, page aliases, TLB flushes, port and MMIO accesses) since the last console line. It counts
   * what the guest does, not time, so a slow host never trips it. Default {@linkcode DEFAULT_STALL_EVENTS};
   * 0 turns it off.
   */
  stallEvents?: number;
  /**
   * x86: where the TLB-flush sites come from: the vmlinux when the payload decodes (`"auto"`, the default),
   * or always a scan of guest RAM once the kernel is laid out (`"ram"`, what a payload of an unknown method
   * gets).
   */
  x86FlushSites?: "auto" | "ram";
  /** x86: live 4 KiB aliases kept at most (default 256; each map costs time linear in the live count). */
  x86MaxAliases?: number;
}

/**
 * The watchdog's default: a whole Debian boot to /init handles about 0.3 M events on x86 (0.02 M on
 * arm64), the most between two lines about 0.1 M; 5 M without a line is a kernel stuck in a loop.
 */
export const DEFAULT_STALL_EVENTS = 5_000_000;

/** What a real-kernel boot reports. */
export interface RealBootResult {
  /** The whole serial log. */
  serial: string;
  /** Lines of the log, carriage returns removed. */
  lines: string[];
  /** The last non-empty line printed. */
  lastLine: string;
  /** Instructions executed. */
  instructions: number;
  /** Wall time of the emulation in milliseconds. */
  elapsedMs: number;
  /** Why it ended. */
  stop: RealStopReason;
  /** The program counter where it ended. */
  pc: bigint;
  /** A sentence on where and why it ended. */
  detail: string;
  /** Counters of what the harness did for the guest (exceptions delivered, aliases mapped, ...). */
  stats: Record<string, number>;
  /** Where the boot put the initramfs (`loadInitrd`'s placement), when it was given one. */
  initrd?: { addr: number; size: number };
  /** Guest RAM in bytes ({@linkcode realRamBytes}: the caller's size, or sized from the image). */
  ram?: number;
}

/** The lines a boot is judged by, in the order the kernel prints them. */
export const MILESTONES: Readonly<Record<string, string>> = Object.freeze({
  version: "Linux version ",
  unpack: "Trying to unpack rootfs image as initramfs",
  freed: "Freeing initrd memory",
  runInit: "Run /init as init process",
});

/**
 * Collects serial bytes into lines and hands each finished line to a listener; a line containing a
 * stop text or one of the end markers ("Kernel panic", "reboot: Power down") raises a flag the harness
 * reads between instructions.
 */
export class SerialConsole {
  /** Every byte received. */
  readonly bytes: number[] = [];
  /** Every finished line, carriage returns removed. */
  readonly lines: string[] = [];
  #current: number[] = [];
  #decoder = new TextDecoder();
  /** Set when a line asks the run to end. */
  ended: RealStopReason | undefined;
  #onLine?: (line: string) => void;
  #stopAt?: string;
  #powerDownLine: boolean;

  /** Events the watchdog allows between two lines (0: no watchdog). */
  stallEvents: number;
  #events = 0;
  /** The most events seen between two lines. */
  maxEventsBetweenLines = 0;

  /**
   * A console calling `onLine` per line and flagging `stopAt`. With `powerDownLine` false, "reboot: Power
   * down" does not end the run: the machine ends it when the guest carries the power-off out (x86: ACPI S5).
   */
  constructor(
    onLine?: (line: string) => void,
    stopAt?: string,
    stallEvents: number = DEFAULT_STALL_EVENTS,
    powerDownLine = true,
  ) {
    this.#onLine = onLine;
    this.#stopAt = stopAt;
    this.stallEvents = stallEvents;
    this.#powerDownLine = powerDownLine;
  }

  /** One guest event handled by the machine; true when the watchdog ends the run. */
  tick(): boolean {
    if (++this.#events > this.stallEvents && this.stallEvents > 0) {
      this.ended ??= "stalled";
      return true;
    }
    return false;
  }

  /** One transmitted byte. */
  push(b: number): void {
    this.bytes.push(b);
    if (b === 0x0a) {
      const line = this.#decoder.decode(new Uint8Array(this.#current)).replaceAll("\r", "");
      this.#current = [];
      if (this.#events > this.maxEventsBetweenLines) this.maxEventsBetweenLines = this.#events;
      this.#events = 0;
      this.lines.push(line);
      this.#onLine?.(line);
      if (this.#stopAt !== undefined && line.includes(this.#stopAt)) this.ended ??= "stop-line";
      if (this.#powerDownLine && line.includes("reboot: Power down")) this.ended ??= "poweroff";
      if (line.includes("Kernel panic")) this.ended ??= "panic";
      // Xen: "Panic on CPU 0:", then the reason on the next line (then a 5 s delay and a reboot).
      if (this.#panicNext) {
        this.ended ??= "panic";
        this.panicLine ??= line.replace(XEN_CONSOLE_PREFIX, "");
      }
      this.#panicNext = XEN_PANIC.test(line);
    } else {
      this.#current.push(b);
    }
  }

  /** A sentence on why a line or the watchdog ended the run. */
  endDetail(): string {
    return this.ended === "stalled"
      ? `the console watchdog: ${this.stallEvents} guest events without a new line (last line: ${this.lastLine})`
      : this.panicLine !== undefined
      ? `panic: ${this.panicLine}`
      : `the kernel printed: ${this.lastLine}`;
  }

  /** Xen's panic reason (the line after "Panic on CPU N:"), once printed. */
  panicLine: string | undefined;
  #panicNext = false;

  /** Everything printed so far. */
  get text(): string {
    return this.#decoder.decode(new Uint8Array(this.bytes));
  }

  /** The last non-empty line (the unfinished one included). */
  get lastLine(): string {
    const partial = this.#decoder.decode(new Uint8Array(this.#current)).replaceAll("\r", "");
    if (partial.trim() !== "") return partial;
    for (let i = this.lines.length - 1; i >= 0; i--) if (this.lines[i].trim() !== "") return this.lines[i];
    return "";
  }
}

/** Xen's panic header: `panic()` prints "Panic on CPU %d:" and the reason on the next line. */
const XEN_PANIC = /Panic on CPU \d+:\s*$/;
/** The prefix Xen's console puts on every line. */
const XEN_CONSOLE_PREFIX = /^\(XEN\) /;

/** How long after the wall-clock limit the hang guard stops an engine no hook stopped. */
export const HANG_GRACE_MS = 2_000;

/** How a run ended, when it did. */
export interface RunEnd {
  stop: RealStopReason;
  detail: string;
}

/** The machines' run limits, checked before each slice: the wall clock, then the instruction budget. */
export function runLimitReached(
  now: number,
  deadline: number,
  instructions: number,
  budget: number,
  opts: { timeoutMs: number; maxInstructions: number },
): RunEnd | undefined {
  if (now > deadline) return { stop: "deadline", detail: `wall-clock limit of ${opts.timeoutMs} ms reached` };
  if (instructions >= budget) {
    return { stop: "instructions", detail: `instruction budget of ${opts.maxInstructions} used` };
  }
  return undefined;
}

/**
 * One engine run from `pc` of the machines' run loops: `count` instructions when counting, else until a hook
 * stops it. `until` = 0: after a run Unicorn invalidates the translation at `until - 1`, and on x86 looking
 * that address up through the guest page tables raises a page fault nobody sees (it sets CR2 and the engine's
 * old_exception); with 0 it skips that. No kernel executes at address 0. The run ends (`end`) when the hang
 * guard fired (an engine stopped from another thread is not resumed) or the engine reported an error.
 */
export function runSlice(
  uc: Unicorn,
  pc: bigint,
  count: number | undefined,
  guard: { fired(): boolean },
  timeoutMs: number,
): { timedOut: boolean; end?: undefined } | { end: RunEnd } {
  try {
    const r = count !== undefined ? uc.start({ begin: pc, until: 0, count }) : uc.start({ begin: pc, until: 0 });
    if (guard.fired()) {
      return {
        end: {
          stop: "deadline",
          detail: `the hang guard stopped the engine ${HANG_GRACE_MS} ms after the wall-clock limit of ${timeoutMs} ms`,
        },
      };
    }
    return { timedOut: r.timedOut };
  } catch (e) {
    return {
      end: { stop: "error", detail: e instanceof GuestFault || e instanceof EmulatorError ? e.message : String(e) },
    };
  }
}

/** The result of a machine's run: its console, how and where it ended, and the machine's counters. */
export function realRunResult(
  console: SerialConsole,
  t0: number,
  instructions: number | undefined,
  end: RunEnd,
  pc: bigint,
  stats: Record<string, number>,
): RealBootResult {
  return {
    serial: console.text,
    lines: console.lines,
    lastLine: console.lastLine,
    instructions: instructions ?? -1,
    elapsedMs: performance.now() - t0,
    stop: end.stop,
    pc,
    detail: `${end.detail} (pc ${hx(pc)})`,
    stats: { ...stats, maxEventsBetweenLines: console.maxEventsBetweenLines },
  };
}

/** Formats a number as 0x-prefixed hexadecimal. */
export function hx(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

/** Whether LL_DEBUG=1 asks the harnesses to log what they do for the guest (stderr); false without env access. */
export const DEBUG: boolean = (() => {
  try {
    return Deno.env.get("LL_DEBUG") === "1";
  } catch {
    return false;
  }
})();

/** Bytes in a MiB. */
const MIB = 0x10_0000;

/**
 * Guest RAM in bytes for `memoryMiB` (default 512). Multiplied, not shifted: `2048 << 20` is negative in
 * JavaScript's 32-bit shift, so a 2 GiB machine failed with "regions[0].size -2147483648".
 *
 * @example
 * ```ts ignore
 * ramBytes(2048); // 2147483648
 * ```
 */
export function ramBytes(memoryMiB: number | undefined): number {
  return (memoryMiB ?? 512) * MIB;
}

/**
 * What Linux gets beyond its run-time image and initramfs when the caller names no memory size: its page
 * tables, struct pages, slab and page cache. Measured with our initramfs (Debian 6.1 cloud amd64, run-time
 * image ending at 67.5 MiB: 80 MiB of RAM reach /init, 72 MiB panic "System is deadlocked on memory").
 */
export const LINUX_HEADROOM = 64 * MIB;
/**
 * The least headroom accepted for an explicit size (below it the run is refused before it starts): with it
 * the cloud bzImage asks for 80 MiB, the least measured to reach /init.
 */
export const LINUX_MIN_HEADROOM = 12 * MIB;
/** Default sizes are rounded up to this. */
const RAM_GRANULE = 32 * MIB;

/** What a real-kernel machine must hold, to size its RAM ({@linkcode realRamBytes}). */
export interface RamNeed {
  /** Offset from the start of RAM where the kernel's run-time footprint (and fixed boot data) ends. */
  end: number;
  /** Initramfs bytes (0 for none). */
  initrd: number;
  /** The image, for the error message. */
  what: string;
}

/**
 * Guest RAM in bytes for a real-kernel boot: `memoryMiB` when given (a `MemoryError` `OutOfRange`, before
 * anything runs, when it cannot hold the kernel's run-time image, the initramfs and
 * {@linkcode LINUX_MIN_HEADROOM}), else sized from the image: its end + four times the initramfs (the
 * archive and what it unpacks to) + {@linkcode LINUX_HEADROOM}, rounded up to 32 MiB.
 *
 * @example
 * ```ts ignore
 * realRamBytes(undefined, { end: 0x438_0000, initrd: 4096, what: "bzImage" }); // 142606336 (136 MiB)
 * ```
 */
export function realRamBytes(memoryMiB: number | undefined, need: RamNeed): number {
  const least = need.end + need.initrd + LINUX_MIN_HEADROOM;
  if (memoryMiB === undefined) {
    const want = need.end + 4 * need.initrd + LINUX_HEADROOM;
    return Math.ceil(want / RAM_GRANULE) * RAM_GRANULE;
  }
  const bytes = ramBytes(memoryMiB);
  if (bytes < least) {
    const leastMiB = Math.ceil(least / MIB);
    throw new MemoryError(
      "OutOfRange",
      `${memoryMiB} MiB of guest RAM is too little for ${need.what}: it needs at least ${leastMiB} MiB ` +
        `(run-time image to ${(need.end / MIB).toFixed(1)} MiB, initramfs ${(need.initrd / MIB).toFixed(1)} MiB, ` +
        `${LINUX_MIN_HEADROOM / MIB} MiB for Linux to start)`,
      { field: "memoryMiB", value: memoryMiB, limit: leastMiB },
    );
  }
  return bytes;
}
