/**
 * Picks the real-kernel machine for an image by what the image is, and boots it:
 *
 * - an x86_64 bzImage: {@linkcode bootX86BzImage} (64-bit boot protocol), or through PVH when asked
 *   (`protocol: "pvh"`: the vmlinux inside, when this build decodes its payload);
 * - an x86_64 ELF vmlinux with a PVH note: {@linkcode bootX86Pvh};
 * - an arm64 Image (plain or gzip): {@linkcode bootArm64Image};
 * - a Multiboot 1 or 2 kernel (plain or gzip-wrapped, such as Xen): {@linkcode bootX86Multiboot}, Multiboot2
 *   when the image has both headers and `protocol` does not ask for `"multiboot1"`.
 *
 * Anything else is an {@linkcode EmulatorError} `UnsupportedMachine` naming what the image is and what the
 * machines boot. The command line is the caller's, with the parameters the machine needs added when
 * missing ({@linkcode machineCmdline}: x86 `X86_MACHINE_PARAMS`, arm64 `AARCH64_MACHINE_PARAMS`).
 *
 * @module
 */

import { EmulatorError } from "../../lib/errors.ts";
import { type DetectedKernel, detectKernel } from "../../lib/loader/mod.ts";
import type { RealBootOptions, RealBootResult } from "./common.ts";
import { AARCH64_DEFAULT_CMDLINE, AARCH64_MACHINE_PARAMS, bootArm64Image } from "./aarch64.ts";
import { bootX86BzImage, bootX86Pvh, X86_DEFAULT_CMDLINE, X86_MACHINE_PARAMS } from "./x86_64.ts";
import {
  bootX86Multiboot,
  isXenImage,
  type MultibootProtocol,
  unwrapGzipKernel,
  XEN_DEFAULT_CMDLINE,
  XEN_MACHINE_PARAMS,
} from "./multiboot.ts";

/** The boot protocols of the real-kernel machines. */
export type RealProtocol = "bzimage" | "pvh" | "arm64" | MultibootProtocol;

/** Which machine boots an image, and why. */
export interface RealMachineChoice {
  /** The protocol the machine enters the kernel by. */
  protocol: RealProtocol;
  /** Guest architecture. */
  arch: "x86_64" | "aarch64";
  /** What detection found. */
  detected: DetectedKernel;
}

/**
 * Chooses the machine for `image`: a bzImage boots through the 64-bit protocol (or PVH when `protocol`
 * asks), an x86_64 ELF through PVH, an arm64 Image on the arm64 machine.
 */
export async function chooseRealMachine(image: Uint8Array, protocol?: RealProtocol): Promise<RealMachineChoice> {
  const detected = await detectKernel(image);
  const unsupported = (why: string) =>
    new EmulatorError(
      "UnsupportedMachine",
      `${why}; the real-kernel machines boot an x86_64 bzImage (64-bit protocol or PVH), an x86_64 ELF vmlinux ` +
        `with a PVH note, a Multiboot 1 or 2 kernel (plain or gzip), and an arm64 Image`,
      { field: "image", value: `${detected.format}/${detected.arch}` },
    );
  let choice: RealProtocol;
  const mb = (v: 1 | 2) => detected.multiboot.some((m) => m.version === v);
  if (detected.format === "multiboot" || detected.format === "multiboot2") {
    // Both headers: Multiboot2, as GRUB's `multiboot2` command would boot it; `protocol` may pick either.
    choice = protocol === "multiboot1" && mb(1)
      ? "multiboot1"
      : protocol === "multiboot2" || mb(2)
      ? "multiboot2"
      : "multiboot1";
    if (choice === "multiboot2" && !mb(2)) throw unsupported("the image carries no Multiboot2 header");
  } else if (detected.format === "bzimage") choice = protocol === "pvh" ? "pvh" : "bzimage";
  else if (detected.format === "elf" && detected.arch === "x86_64") choice = "pvh";
  else if (detected.format === "pe" && detected.arch === "aarch64") choice = "arm64";
  else throw unsupported(`the image is ${detected.format} for ${detected.arch}`);
  if (protocol !== undefined && protocol !== choice) {
    throw unsupported(`a ${detected.format} image for ${detected.arch} cannot boot through ${protocol}`);
  }
  return { protocol: choice, arch: choice === "arm64" ? "aarch64" : "x86_64", detected };
}

/** Whether `p` is one of the Multiboot protocols. */
export function isMultibootProtocol(p: RealProtocol | undefined): p is MultibootProtocol {
  return p === "multiboot1" || p === "multiboot2";
}

/**
 * `cmdline` with every `key=value` or flag of `required` appended whose key it does not already have:
 * the parameters the machine needs (x86: a fixed delay loop and TSC rate, no timer check, no KASLR).
 *
 * @example
 * ```ts ignore
 * machineCmdline("console=ttyS0 nokaslr", ["nokaslr", "lpj=1000000"]); // "console=ttyS0 nokaslr lpj=1000000"
 * ```
 */
export function machineCmdline(cmdline: string, required: readonly string[]): string {
  const keys = new Set(cmdline.split(/\s+/).filter((w) => w !== "").map((w) => w.split("=")[0]));
  const add = required.filter((p) => !keys.has(p.split("=")[0]));
  return [cmdline.trim(), ...add].filter((w) => w !== "").join(" ");
}

/** The default command line of a protocol's machine. */
export function defaultCmdline(protocol: RealProtocol): string {
  // A Multiboot kernel gets Xen's console (Xen is what the machine boots through Multiboot).
  return protocol === "arm64"
    ? AARCH64_DEFAULT_CMDLINE
    : isMultibootProtocol(protocol)
    ? XEN_DEFAULT_CMDLINE
    : X86_DEFAULT_CMDLINE;
}

/** Boots `image` on the machine {@linkcode chooseRealMachine} picks. */
export async function bootRealKernel(
  image: Uint8Array,
  opts: RealBootOptions & { protocol?: RealProtocol; imageName?: string } = {},
): Promise<RealBootResult & { protocol: RealProtocol }> {
  const choice = await chooseRealMachine(image, opts.protocol);
  if (isMultibootProtocol(choice.protocol)) {
    // A Xen image (it names itself) gets Xen's console and what the machine needs; other kernels as given.
    const raw = await unwrapGzipKernel(image);
    const xen = isXenImage(raw);
    const given = opts.cmdline ?? (xen ? XEN_DEFAULT_CMDLINE : "");
    const cmdline = machineCmdline(given, xen ? XEN_MACHINE_PARAMS : []);
    const r = await bootX86Multiboot(raw, { ...opts, cmdline, protocol: choice.protocol });
    return { ...r, protocol: choice.protocol };
  }
  const base = opts.cmdline ?? defaultCmdline(choice.protocol);
  const cmdline = machineCmdline(base, choice.protocol === "arm64" ? AARCH64_MACHINE_PARAMS : X86_MACHINE_PARAMS);
  const o = { ...opts, cmdline };
  const r = choice.protocol === "bzimage"
    ? await bootX86BzImage(image, o)
    : choice.protocol === "pvh"
    ? await bootX86Pvh(image, o)
    : await bootArm64Image(image, o);
  return { ...r, protocol: choice.protocol };
}
