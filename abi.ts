/**
 * The C side of the boot protocols: struct tables (`Struct` field lists that encode and decode the C layouts
 * byte for byte, checked against the kernel and Xen headers by a test that compiles C) and the protocols'
 * constants. A VMM rarely needs these (the root module's loaders and configurators use them); they are here
 * for reading and writing the structures by hand, and for tests.
 *
 * @example Decode a setup header field
 * ```ts
 * import { SETUP_HEADER } from "@linux-loader/linux-loader/abi";
 * const bytes = SETUP_HEADER.encode({ header: 0x53726448, version: 0x20f });
 * console.log(SETUP_HEADER.decode(bytes).version.toString(16)); // 20f
 * ```
 *
 * @module
 */

export * from "./lib/abi/struct.ts";
export * from "./lib/abi/bootparam.ts";
export * from "./lib/abi/start_info.ts";
export * from "./lib/abi/elf.ts";
export * from "./lib/abi/image.ts";
export * from "./lib/abi/multiboot.ts";
export * from "./lib/abi/setup_data.ts";
