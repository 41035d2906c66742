/**
 * Picks the real-kernel machine for an image by what the image is, and boots it:
 *
 * - an x86_64 bzImage: {@linkcode bootX86BzImage} (64-bit boot protocol), or through PVH when asked
 *   (`protocol: "pvh"`: the vmlinux inside, when this build decodes its payload);
 * - an x86_64 ELF vmlinux with a PVH note: {@linkcode bootX86Pvh};
 * - an arm64 Image (plain or gzip): {@linkcode bootArm64Image}.
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

/** The boot protocols of the real-kernel machines. */
export type RealProtocol = "bzimage" | "pvh" | "arm64";

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
        `with a PVH note, and an arm64 Image`,
      { field: "image", value: `${detected.format}/${detected.arch}` },
    );
  let choice: RealProtocol;
  if (detected.format === "bzimage") choice = protocol === "pvh" ? "pvh" : "bzimage";
  else if (detected.format === "elf" && detected.arch === "x86_64") choice = "pvh";
  else if (detected.format === "pe" && detected.arch === "aarch64") choice = "arm64";
  else throw unsupported(`the image is ${detected.format} for ${detected.arch}`);
  if (protocol !== undefined && protocol !== choice) {
    throw unsupported(`a ${detected.format} image for ${detected.arch} cannot boot through ${protocol}`);
  }
  return { protocol: choice, arch: choice === "arm64" ? "aarch64" : "x86_64", detected };
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
  return protocol === "arm64" ? AARCH64_DEFAULT_CMDLINE : X86_DEFAULT_CMDLINE;
}

/** Boots `image` on the machine {@linkcode chooseRealMachine} picks. */
export async function bootRealKernel(
  image: Uint8Array,
  opts: RealBootOptions & { protocol?: RealProtocol } = {},
): Promise<RealBootResult & { protocol: RealProtocol }> {
  const choice = await chooseRealMachine(image, opts.protocol);
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
