/**
 * Flattened device trees: the format's header and tokens, a builder, a validating reader, the tree
 * model and the standard nodes a VMM writes for an arm64 or riscv64 guest.
 *
 * @example Build the device tree of a small arm64 VM and read it back
 * ```ts
 * import { buildVmFdt, fdtString, findNode, getProperty, GuestMemory, readFdt } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0x4000_0000, 128 << 20]]);
 * const dtb = buildVmFdt(mem, { arch: "aarch64", bootargs: "console=ttyAMA0" });
 * const chosen = findNode(readFdt(dtb).root, "/chosen")!;
 * console.log(fdtString(getProperty(chosen, "bootargs")!)); // console=ttyAMA0
 * ```
 *
 * @module
 */

export * from "./header.ts";
export * from "./tree.ts";
export * from "./builder.ts";
export * from "./reader.ts";
export * from "./nodes.ts";
