/**
 * Bytes of JavaScript heap each configure call allocates: `Deno.memoryUsage().heapUsed` before and after
 * 20000 calls (after 20000 warm-up calls), in a process whose young generation is made large enough
 * (`--min-semi-space-size=64`) that no garbage collection runs between the two readings. Target for the
 * Linux and PVH configurators: 0 bytes per call.
 *
 * Run: deno run --allow-all bench/alloc_check.ts
 *
 * @module
 */

import { GuestMemory } from "../lib/memory.ts";
import { BootParams } from "../lib/configurator/mod.ts";
import { LinuxBootConfigurator } from "../lib/configurator/linux.ts";
import { PvhBootConfigurator } from "../lib/configurator/pvh.ts";
import { FdtBootConfigurator } from "../lib/configurator/fdt.ts";
import { loadCmdline } from "../lib/loader/cmdline.ts";
import { Cmdline } from "../lib/cmdline.ts";
import { bootConfigs } from "./_configs.ts";

const FLAG = "--min-semi-space-size=64";
const N = 20_000;

function perCall(fn: () => void): number {
  for (let i = 0; i < N; i++) fn();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++) fn();
  const after = Deno.memoryUsage().heapUsed;
  return (after - before) / N;
}

if (import.meta.main) {
  if (!Deno.args.includes("--child")) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `--v8-flags=${FLAG}`, new URL(import.meta.url).pathname, "--child"],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    Deno.exit(out.code);
  }
  const mem = GuestMemory.fromRanges([[0, 128 << 20]]);
  const rows: [string, number][] = [];
  for (const c of bootConfigs()) {
    const configurator = c.protocol === "linux" ? LinuxBootConfigurator : PvhBootConfigurator;
    rows.push([
      `${configurator.name}.writeBootparams (${c.name})`,
      perCall(() => configurator.writeBootparams(mem, c.params)),
    ]);
  }
  const fdt = new BootParams(new Uint8Array(1573), 0x10_0000);
  rows.push([
    "FdtBootConfigurator.writeBootparams (1573-byte blob)",
    perCall(() => FdtBootConfigurator.writeBootparams(mem, fdt)),
  ]);
  const cl = Cmdline.parse("console=ttyS0 reboot=k panic=1 root=/dev/vda1 rw quiet -- --verbose", 2048);
  rows.push(["loadCmdline (a fresh copy of the C string per call)", perCall(() => loadCmdline(mem, 0x2_0000, cl))]);
  console.log("| call | heap bytes allocated per call |");
  console.log("| --- | ---: |");
  for (const [name, bytes] of rows) console.log(`| ${name} | ${bytes.toFixed(1)} |`);
}
