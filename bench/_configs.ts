/**
 * The typical boot-parameter requests the configure benchmarks and `alloc_check.ts` measure, built once:
 * a Linux zero page (setup header of a bzImage, command line, 3-entry e820), a PVH start info with one
 * memory map entry, and one with 8 entries and 2 modules (an initrd and a second module with a command line).
 *
 * @module
 */

import { E820_RAM, E820_RESERVED } from "../lib/abi/bootparam.ts";
import { BootParams } from "../lib/configurator/mod.ts";
import { encodeBootParams } from "../lib/configurator/linux.ts";
import { pvhBootParams } from "../lib/configurator/pvh.ts";
import { defaultSetupHeader } from "../fixtures/build/bzimage.ts";

/** One configure request. */
export interface BootConfig {
  /** Group name. */
  name: string;
  /** Which configurator writes it. */
  protocol: "linux" | "pvh";
  /** The parameters. */
  params: BootParams;
  /** Bytes written. */
  bytes: number;
}

const MiB = 1 << 20;

/** The three requests. */
export function bootConfigs(): BootConfig[] {
  const e820 = [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: 0x9fc00, size: 0x400, type: E820_RESERVED },
    { addr: MiB, size: 127 * MiB, type: E820_RAM },
  ];
  const linux = new BootParams(
    encodeBootParams({
      setupHeader: defaultSetupHeader(14 * MiB),
      cmdlineAddr: 0x2_0000,
      ramdisk: { addr: 0x600_0000, size: 0x100_0000 },
      e820,
    }),
    0x7000,
  );
  const pvh1 = pvhBootParams({
    startInfoAddr: 0x6000,
    memmapAddr: 0x7000,
    memmap: [{ addr: 0, size: 128 * MiB, type: E820_RAM }],
    cmdlineAddr: 0x2_0000,
  });
  const pvh8 = pvhBootParams({
    startInfoAddr: 0x6000,
    memmapAddr: 0x7000,
    memmap: Array.from({ length: 8 }, (_, i) => ({ addr: i * 16 * MiB, size: 16 * MiB, type: E820_RAM })),
    cmdlineAddr: 0x2_0000,
    modules: [
      { paddr: 0x600_0000, size: 0x100_0000 },
      { paddr: 0x700_0000, size: 0x1000, cmdlinePaddr: 0x2_1000 },
    ],
    modlistAddr: 0x8000,
  });
  const size = (p: BootParams): number => p.header.length + (p.sections?.length ?? 0) + (p.modules?.length ?? 0);
  return [
    { name: "linux configure (zero page)", protocol: "linux", params: linux, bytes: size(linux) },
    { name: "pvh configure (start_info + 1 memmap entry)", protocol: "pvh", params: pvh1, bytes: size(pvh1) },
    {
      name: "pvh configure (start_info + 8 memmap entries + 2 modules)",
      protocol: "pvh",
      params: pvh8,
      bytes: size(pvh8),
    },
  ];
}
