/**
 * One boot for every image, the machinery behind the CLI's `boot` command: {@linkcode bootAny} runs a real
 * Linux kernel (an image that names itself with a "Linux version" banner or a bzImage kernel_version
 * string, in a format a real-kernel machine takes) and the Xen hypervisor (a Multiboot kernel whose banner names
 * it, plain or gzip-wrapped) on the real-kernel machine ({@linkcode bootRealKernel}),
 * and anything else (the project's stub kernels, a test image) on the stub runner (`bootKernel`). Either way
 * the result carries the console text and how the run ended, also when it ended in a fault or a limit.
 *
 * @module
 */

import { inspectKernel } from "../../lib/inspect.ts";
import { LinuxLoaderError } from "../../lib/errors.ts";
import { bootKernel, type BootReport } from "../boot.ts";
import { ramBytes, type RealBootOptions, type RealBootResult } from "./common.ts";
import { bootRealKernel, chooseRealMachine, type RealProtocol } from "./machine.ts";
import { isXenImage, type MultibootProtocol, unwrapGzipKernel } from "./multiboot.ts";

/** The protocols a caller may ask {@linkcode bootAny} for. */
export type BootProtocolChoice = "pvh" | MultibootProtocol;

/** Which runner boots an image. */
export type BootMachine = "real" | "stub";

/** How a run ended, in one word. */
export type BootEnding =
  | "halt"
  | "poweroff"
  | "panic"
  | "idle"
  | "stalled"
  | "stop-line"
  | "fault"
  | "limit"
  | "error";

/** Options of {@linkcode bootAny}. */
export interface BootAnyOptions {
  /** Kernel command line (the real machine adds what it needs). */
  cmdline?: string;
  /** Initramfs bytes. */
  initrd?: Uint8Array;
  /** Guest RAM in MiB (default: stub 64, real 512). */
  memoryMiB?: number;
  /**
   * `"pvh"` boots an x86 image through PVH; `"multiboot1"` / `"multiboot2"` pick the header of a Multiboot
   * kernel that carries both (default Multiboot2, as GRUB's `multiboot2` command).
   */
  protocol?: BootProtocolChoice;
  /** The image's file name: a Multiboot command line starts with it (as QEMU and GRUB legacy pass it). */
  imageName?: string;
  /** Wall-clock limit (real: the hang guard; stub: the run's limit). */
  timeoutMs?: number;
  /**
   * Instruction budget: the stub runner's limit; on the real machine, counted by the engine in slices (a
   * run with a budget is slower: Unicorn counts through a per-instruction hook). Ends the run as `"limit"`.
   */
  maxInstructions?: number;
  /** Every console line as it is printed (real machine). */
  onLine?: (line: string) => void;
  /** Force a runner instead of choosing by the image. */
  machine?: BootMachine;
}

/** What {@linkcode bootAny} reports. */
export interface BootAnyResult {
  /** The runner used. */
  machine: BootMachine;
  /** Why that runner. */
  why: string;
  /** Everything the guest printed. */
  console: string;
  /** How it ended. */
  ending: BootEnding;
  /** A sentence on how it ended (the panic line, the fault's pc and address, the limit). */
  detail: string;
  /** Wall time of the run, ms. */
  elapsedMs: number;
  /** The real machine's result (real runs). */
  real?: RealBootResult & { protocol: RealProtocol };
  /** The stub runner's report (stub runs that got as far as running, however they ended). */
  stub?: BootReport;
}

/** Chooses the runner: the real machine for an image that names itself Linux and that a real machine takes. */
export async function chooseMachine(
  image: Uint8Array,
  protocol?: BootProtocolChoice,
): Promise<{ machine: BootMachine; why: string }> {
  // Xen names itself in its console banner; it is a Multiboot kernel (possibly gzip-wrapped).
  const xen = await xenMachine(image, protocol);
  if (xen !== undefined) return xen;
  let version: string | undefined;
  try {
    version = (await inspectKernel(image)).version;
  } catch (e) {
    if (!(e instanceof LinuxLoaderError)) throw e;
    return { machine: "stub", why: `not an image inspectKernel reads (${e.message})` };
  }
  if (version === undefined) return { machine: "stub", why: "the image carries no Linux version string" };
  try {
    const c = await chooseRealMachine(image, protocol);
    return { machine: "real", why: `Linux ${version.split(" ")[0]}: the ${c.protocol} machine` };
  } catch (e) {
    if (!(e instanceof LinuxLoaderError)) throw e;
    return { machine: "stub", why: `Linux ${version.split(" ")[0]}, but ${e.message}` };
  }
}

/** The real machine for a Xen image (by its banner), with the protocol it would take; else undefined. */
async function xenMachine(
  image: Uint8Array,
  protocol?: BootProtocolChoice,
): Promise<{ machine: BootMachine; why: string } | undefined> {
  let raw: Uint8Array;
  try {
    raw = await unwrapGzipKernel(image);
  } catch (e) {
    if (e instanceof LinuxLoaderError) return undefined;
    throw e;
  }
  if (!isXenImage(raw)) return undefined;
  try {
    const c = await chooseRealMachine(image, protocol);
    return { machine: "real", why: `Xen (it names itself in its banner): the ${c.protocol} machine` };
  } catch (e) {
    if (!(e instanceof LinuxLoaderError)) throw e;
    return { machine: "stub", why: `Xen, but ${e.message}` };
  }
}

/** Boots `image` on the runner {@linkcode chooseMachine} picks (or `opts.machine`). */
export async function bootAny(image: Uint8Array, opts: BootAnyOptions = {}): Promise<BootAnyResult> {
  const chosen = opts.machine !== undefined
    ? { machine: opts.machine, why: "asked for" }
    : await chooseMachine(image, opts.protocol);
  const t0 = performance.now();
  if (chosen.machine === "real") {
    const o: RealBootOptions & { protocol?: RealProtocol; imageName?: string } = {
      cmdline: opts.cmdline,
      initrd: opts.initrd,
      memoryMiB: opts.memoryMiB,
      timeoutMs: opts.timeoutMs ?? 600_000,
      maxInstructions: opts.maxInstructions,
      onLine: opts.onLine,
      protocol: opts.protocol,
      imageName: opts.imageName,
    };
    const r = await bootRealKernel(image, o);
    const ending: BootEnding = r.stop === "deadline" || r.stop === "instructions"
      ? "limit"
      : r.stop === "error"
      ? "fault"
      : r.stop;
    return { ...chosen, console: r.serial, ending, detail: r.detail, elapsedMs: r.elapsedMs, real: r };
  }
  try {
    const rep = await bootKernel(image, {
      cmdline: opts.cmdline,
      initrd: opts.initrd,
      memSize: opts.memoryMiB === undefined ? undefined : ramBytes(opts.memoryMiB),
      protocol: opts.protocol,
      timeoutMs: opts.timeoutMs,
      maxInstructions: opts.maxInstructions,
    });
    const stop = rep.run.stop;
    return {
      ...chosen,
      console: rep.run.serial,
      ending: stop === "halt" ? "halt" : stop === "fault" ? "fault" : "limit",
      detail: rep.ended,
      elapsedMs: performance.now() - t0,
      stub: rep,
    };
  } catch (e) {
    if (!(e instanceof LinuxLoaderError)) throw e;
    const code = (e as { code?: string }).code;
    const ending: BootEnding = code === "Timeout" || code === "InstructionLimit"
      ? "limit"
      : code === "UnmappedAccess" || code === "InvalidAccess" || code === "InvalidInstruction" ||
          code === "UnhandledException"
      ? "fault"
      : "error";
    // An error before the run (a load or layout error): nothing ran, so there is no console.
    return { ...chosen, console: "", ending, detail: e.message, elapsedMs: performance.now() - t0 };
  }
}
