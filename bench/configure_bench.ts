/**
 * Boot parameters, command lines and device trees, each next to its floor:
 *
 * - every configurator (`LinuxBootConfigurator` zero page; `PvhBootConfigurator` with 1 memmap entry, and
 *   with 8 entries and 2 modules; `FdtBootConfigurator`) and `loadCmdline`: the floor is `Uint8Array.set`
 *   of the same bytes at the same guest offsets. The parameters are built once, outside the measured
 *   function, as a VMM builds them once per boot; the write is what is measured. Target: linux and pvh
 *   at most 50 ns median, with no allocation per call (see `alloc_check.ts`).
 * - building a `Cmdline` (a typical cloud-kernel line) and its C string: beside `TextEncoder.encode` of the
 *   finished string.
 * - building a typical VM device tree with `buildVmFdt`: beside copying the finished blob. Target: under
 *   20 microseconds.
 *
 * Run: deno bench --allow-all bench/configure_bench.ts
 */

import { GuestMemory } from "../lib/memory.ts";
import { BootParams } from "../lib/configurator/mod.ts";
import { LinuxBootConfigurator } from "../lib/configurator/linux.ts";
import { PvhBootConfigurator } from "../lib/configurator/pvh.ts";
import { FdtBootConfigurator } from "../lib/configurator/fdt.ts";
import { loadCmdline } from "../lib/loader/cmdline.ts";
import { Cmdline } from "../lib/cmdline.ts";
import { buildVmFdt, type VmFdtOptions } from "../lib/fdt/nodes.ts";
import { bootConfigs } from "./_configs.ts";

const MiB = 1 << 20;

// ---- x86: zero page and PVH start info ----------------------------------------------------------------

const x86 = GuestMemory.fromRanges([[0, 128 * MiB]]);
const x86Bytes = x86.regions[0].bytes;
const cfg = bootConfigs();

/** Floor: `set` of each part at its guest offset. */
function setParts(region: Uint8Array, params: BootParams): void {
  region.set(params.header, params.headerStart);
  if (params.sections !== undefined) region.set(params.sections, params.sectionsStart!);
  if (params.modules !== undefined) region.set(params.modules, params.modulesStart!);
}

for (const c of cfg) {
  const configurator = c.protocol === "linux" ? LinuxBootConfigurator : PvhBootConfigurator;
  Deno.bench({
    name: `floor: Uint8Array.set of the same ${c.bytes} bytes`,
    group: `${c.name}, ${c.bytes} B`,
    baseline: true,
    fn: () => setParts(x86Bytes, c.params),
  });
  Deno.bench({
    name: `${configurator.name}.writeBootparams (${c.name})`,
    group: `${c.name}, ${c.bytes} B`,
    fn: () => configurator.writeBootparams(x86, c.params),
  });
}

// ---- FDT configurator ---------------------------------------------------------------------------------

const ARM_BASE = 0x4000_0000;
const arm = GuestMemory.fromRanges([[ARM_BASE, 256 * MiB]]);
const armBytes = arm.regions[0].bytes;
const fdtOptions: VmFdtOptions = {
  arch: "aarch64",
  bootargs: "console=ttyAMA0 earlycon=pl011,0x9000000 root=/dev/vda1 rw panic=-1",
  cpus: 2,
  gic: true,
  initrd: { start: ARM_BASE + 0x800_0000, end: ARM_BASE + 0x880_0000 },
};
const dtb = buildVmFdt(arm, fdtOptions);
const dtbAt = arm.lastAddr + 1 - 0x20_0000;
const fdtParams = new BootParams(dtb, dtbAt);

Deno.bench({
  name: `floor: Uint8Array.set of the same ${dtb.length}-byte blob`,
  group: `fdt configure, ${dtb.length} B`,
  baseline: true,
  fn: () => armBytes.set(dtb, dtbAt - ARM_BASE),
});
Deno.bench({
  name: "FdtBootConfigurator.writeBootparams",
  group: `fdt configure, ${dtb.length} B`,
  fn: () => FdtBootConfigurator.writeBootparams(arm, fdtParams),
});

// ---- FDT build ----------------------------------------------------------------------------------------

Deno.bench({
  name: `floor: copy of the finished ${dtb.length}-byte blob (slice)`,
  group: `fdt build (arm64 VM: 2 cpus, GICv2, timer, PSCI, PL011, chosen with initrd), ${dtb.length} B`,
  baseline: true,
  fn: () => {
    dtb.slice();
  },
});
Deno.bench({
  name: "buildVmFdt",
  group: `fdt build (arm64 VM: 2 cpus, GICv2, timer, PSCI, PL011, chosen with initrd), ${dtb.length} B`,
  fn: () => {
    buildVmFdt(arm, fdtOptions);
  },
});

// ---- command line -------------------------------------------------------------------------------------

const ARGS: [string, string][] = [
  ["console", "ttyS0"],
  ["earlyprintk", "ttyS0"],
  ["reboot", "k"],
  ["panic", "1"],
  ["root", "/dev/vda1"],
  ["rootfstype", "ext4"],
  ["pci", "off"],
  ["i8042.noaux", "1"],
];

function buildCmdline(): Cmdline {
  const cl = new Cmdline(2048);
  for (const [k, v] of ARGS) cl.insert(k, v);
  cl.insertStr("rw quiet");
  cl.insertInitArgs("--verbose");
  return cl;
}
const cmdline = buildCmdline();
const cmdlineText = cmdline.asString();
const cmdlineC = cmdline.asCString();
const enc = new TextEncoder();
const CMDLINE_AT = 0x2_0000;

Deno.bench({
  name: `floor: TextEncoder.encode of the finished ${cmdlineText.length}-char line`,
  group: `Cmdline building, ${cmdlineC.length} B`,
  baseline: true,
  fn: () => {
    enc.encode(cmdlineText + "\0");
  },
});
Deno.bench({
  name: `new Cmdline(2048), ${ARGS.length} insert + insertStr + insertInitArgs, asCString`,
  group: `Cmdline building, ${cmdlineC.length} B`,
  fn: () => {
    buildCmdline().asCString();
  },
});

Deno.bench({
  name: `floor: Uint8Array.set of the same ${cmdlineC.length} bytes`,
  group: `loadCmdline, ${cmdlineC.length} B`,
  baseline: true,
  fn: () => x86Bytes.set(cmdlineC, CMDLINE_AT),
});
Deno.bench({
  name: "loadCmdline",
  group: `loadCmdline, ${cmdlineC.length} B`,
  fn: () => loadCmdline(x86, CMDLINE_AT, cmdline),
});
