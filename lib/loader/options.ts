/**
 * Checks shared by the x86 loaders' options (`kernelOffset`, `highmemStart`): one place, so the ELF and
 * bzImage loaders reject a bad option with the same error. Internal: `mod.ts` does not re-export it.
 *
 * @module
 */

import { KernelLoaderError } from "../errors.ts";

/**
 * Throws {@linkcode KernelLoaderError} `InvalidKernelStartAddress` naming the option when `v` is given and
 * is not a non-negative safe integer (a guest address).
 */
export function checkAddressOption(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
    throw new KernelLoaderError(
      "InvalidKernelStartAddress",
      `option ${name} = ${String(v)} is not a non-negative safe integer`,
      { field: name, value: String(v), limit: Number.MAX_SAFE_INTEGER },
    );
  }
}
