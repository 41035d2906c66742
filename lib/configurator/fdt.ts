/**
 * The device tree boot configurator (the crate's `configurator::fdt`): writes a flattened device tree blob,
 * built elsewhere (see `lib/fdt`), into guest memory at the address the VMM passes to the kernel (arm64
 * x0, riscv64 a1). Checks first (those of {@linkcode planFdtBoot}), then one write; a failed check leaves
 * guest memory untouched.
 *
 * @module
 */

import { ConfiguratorError, hex } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import type { Plan } from "../plan.ts";
import { type BootParams, checkConfiguratorArgs } from "./mod.ts";

/**
 * The largest blob written: arm64 `booting.rst`, "The device tree blob (dtb) must be placed on an 8-byte
 * boundary and must not exceed 2 megabytes in size" (the crate's `load_dtb` uses the same 0x200000).
 *
 * @example
 * ```ts
 * import { FDT_MAX_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(FDT_MAX_SIZE.toString(16)); // 200000
 * ```
 */
export const FDT_MAX_SIZE = 0x20_0000;

/**
 * Checks an FDT's placement and returns the plan that writes it. Errors ({@linkcode ConfiguratorError}):
 * `FDTTooLarge` (more than {@linkcode FDT_MAX_SIZE} bytes), `FDTPastRamEnd` (the blob starts outside guest
 * memory or ends past its last byte), `WriteFDTToMemory` (the range crosses a hole between regions).
 *
 * @example
 * ```ts
 * import { BootParams, GuestMemory, planFdtBoot } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0, 1 << 20]]);
 * const plan = planFdtBoot(mem, new BootParams(new Uint8Array(0x20), 0x1000));
 * console.log(plan.steps[0].guestAddr); // 4096
 * ```
 */
export function planFdtBoot(mem: GuestMemory, params: BootParams): Plan {
  checkConfiguratorArgs(mem, params);
  checkFdtBootParams(params, mem);
  return { steps: [{ kind: "bytes", guestAddr: params.headerStart, bytes: params.header, label: "FDT" }] };
}

// The checks of planFdtBoot, allocation-free when they pass.
function checkFdtBootParams(params: BootParams, mem: GuestMemory): void {
  const start = params.headerStart;
  const len = params.header.byteLength;
  if (len > FDT_MAX_SIZE) {
    throw new ConfiguratorError(
      "FDTTooLarge",
      `the FDT has ${hex(len)} bytes, more than FDT_MAX_SIZE ${hex(FDT_MAX_SIZE)} (2 MiB)`,
      { field: "header", value: len, limit: FDT_MAX_SIZE },
    );
  }
  const end = start + len;
  if (
    !Number.isSafeInteger(start) || start < 0 || mem.findRegion(start) === undefined || !Number.isSafeInteger(end) ||
    end > mem.lastAddr + 1
  ) {
    throw new ConfiguratorError(
      "FDTPastRamEnd",
      `the FDT at ${typeof start === "number" ? hex(start) : String(start)} + ${hex(len)} bytes does not fit in ` +
        `guest memory (last address ${hex(mem.lastAddr)})`,
      { field: "headerStart", value: start, limit: mem.lastAddr + 1 },
    );
  }
  const miss = mem.firstMissing(start, len);
  if (miss !== undefined) {
    throw new ConfiguratorError(
      "WriteFDTToMemory",
      `the FDT range [${hex(start)}, ${hex(end)}) crosses a hole in guest memory at ${hex(miss)}`,
      { field: "headerStart", value: miss, limit: end },
    );
  }
}

/**
 * Boot configurator for the device tree protocol (the crate's `FdtBootConfigurator`).
 *
 * @example Write a blob at the end of RAM
 * ```ts
 * import { BootParams, buildVmFdt, FdtBootConfigurator, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0x4000_0000, 16 << 20]]);
 * const dtb = buildVmFdt(mem, { arch: "aarch64", bootargs: "console=ttyAMA0" });
 * const at = mem.lastAddr + 1 - 0x20_0000;
 * FdtBootConfigurator.writeBootparams(mem, new BootParams(dtb, at));
 * console.log(mem.readU32(at).toString(16)); // edfe0dd0 (the magic, big endian)
 * ```
 */
export class FdtBootConfigurator {
  /**
   * Writes `params.header` (the blob) at `params.headerStart`; sections and modules are not part of this
   * protocol and are ignored, as in the crate. Errors as {@linkcode planFdtBoot}.
   */
  static writeBootparams(mem: GuestMemory, params: BootParams): void {
    checkConfiguratorArgs(mem, params);
    checkFdtBootParams(params, mem);
    mem.write(params.headerStart, params.header);
  }
}
