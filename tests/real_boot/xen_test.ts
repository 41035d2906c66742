/**
 * Debian bookworm's Xen hypervisor (`xen-hypervisor-4.17-amd64`, fetched by fixtures/real/xen.ts: a 2.3 MB
 * package) on the real x86 machine, as Debian ships it (`xen-4.17-amd64.gz`, gzip-wrapped): through
 * Multiboot2 (the default for an image with both headers) and Multiboot 1, to Xen's own stop for a missing
 * dom0 ("dom0 kernel not specified"), and through the CLI as a user types it. Each boot takes well under a
 * second on Unicorn 2.1.1, so they run in `deno task test`.
 *
 * What each test checks was read by Xen from our boot data: the boot loader name and the command line
 * (Multiboot information), with the image name first as QEMU passes it (Xen drops that word), and, given a
 * module, the memory map (`Multiboot-e820 RAM map`), which Xen prints only once a dom0 module exists.
 */
import assert from "node:assert/strict";
import { ensureXen } from "../../fixtures/real/xen.ts";
import { bootRealKernel } from "../../emu/linux/machine.ts";
import type { RealBootResult } from "../../emu/linux/common.ts";
import { MULTIBOOT_DEFAULT_BOOT_LOADER_NAME } from "../../lib/configurator/multiboot.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { assertInOrder, realBootTest, verboseLine } from "./_boot.ts";

const xen = await ensureXen();
const have = xen !== undefined;
const image = have ? await Deno.readFile(xen.hypervisor) : new Uint8Array();
/** A hang guard only: each boot ends in well under a second on 2.1.1 (a few seconds on 2.0.1). */
const HANG_GUARD_MS = 120_000;
const CMDLINE = "console=com1 com1=115200,8n1";
const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** Xen's banner, the boot data it read, and the panic it stops at (not the reboot delay after it). */
function assertNoDom0Stop(r: RealBootResult): void {
  assertInOrder(r, [
    "(XEN) Xen version 4.17",
    `(XEN) Bootloader: ${MULTIBOOT_DEFAULT_BOOT_LOADER_NAME}`,
    `(XEN) Command line: ${CMDLINE} no-real-mode`,
    "(XEN) Panic on CPU 0:",
    "(XEN) dom0 kernel not specified. Check bootloader configuration",
  ]);
  assert.equal(r.stop, "panic", r.detail);
  assert.match(r.detail, /^panic: dom0 kernel not specified\. Check bootloader configuration/);
  assert.ok(!r.serial.includes("Reboot in five seconds"), "the run ends at the panic line, before the reboot delay");
}

for (const protocol of ["multiboot2", "multiboot1"] as const) {
  realBootTest(
    have,
    `Debian's gzip-wrapped Xen 4.17 boots through ${protocol} to its "dom0 kernel not specified" panic`,
    async () => {
      const r = await bootRealKernel(image, {
        cmdline: CMDLINE,
        protocol: protocol === "multiboot2" ? undefined : protocol,
        imageName: "xen-4.17-amd64.gz",
        timeoutMs: HANG_GUARD_MS,
        onLine: verboseLine(),
      });
      assert.equal(r.protocol, protocol);
      assertNoDom0Stop(r);
    },
    emuTest,
  );
}

// On Unicorn 2.0.1 this run faults after Xen moves itself: its page-table switches are not hooked there (no
// TLB-flush sites are known for Xen), so stale 4 KiB aliases point at the old copy. 2.1 needs no aliases.
const on21 = (Deno.env.get("UNICORN_LIB") ?? "").includes("unicorn-2.1");
if (have && !on21) console.error("xen_test: the module boot needs Unicorn 2.1 (UNICORN_LIB); ignored on 2.0.1");
realBootTest(
  have && on21,
  "Xen given a module reads our Multiboot memory map, relocates itself and stops at the missing platform timer",
  async () => {
    // The module's bytes do not matter: Xen stops before it parses dom0 (the machine has no PIT or HPET).
    const r = await bootRealKernel(image, {
      cmdline: CMDLINE,
      initrd: new Uint8Array(0x1_0000),
      memoryMiB: 512,
      timeoutMs: HANG_GUARD_MS,
      onLine: verboseLine(),
    });
    assertInOrder(r, [
      "(XEN) Multiboot-e820 RAM map:",
      "(XEN)  [0000000000000000, 000000000009fbff] (usable)",
      "(XEN)  [000000000009fc00, 00000000000fffff] (reserved)",
      "(XEN)  [0000000000100000, 000000001fffffff] (usable)",
      "(XEN) New Xen image base address:",
      "(XEN) Panic on CPU 0:",
    ]);
    assert.equal(r.stop, "panic", r.detail);
    assert.match(r.detail, /^panic: Unable to find usable platform timer/);
  },
  emuTest,
);

for (const [extra, protocol] of [[[], "multiboot2"], [["--protocol", "multiboot1"], "multiboot1"]] as const) {
  realBootTest(
    have,
    `cli.ts boot streams Xen's console through ${protocol} and ends with its panic line`,
    async () => {
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", CLI, "boot", xen!.hypervisor, "--cmdline", CMDLINE, ...extra],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(child.stdout);
      assert.equal(child.code, 1, out + new TextDecoder().decode(child.stderr));
      assert.match(out, /^\(XEN\) Xen version 4\.17/m);
      assert.match(out, /^\(XEN\) dom0 kernel not specified/m);
      assert.match(out, new RegExp(`: panic after [0-9.]+ s\\n  machine {5}real, ${protocol} \\(Xen`));
      assert.match(out, /^ {2}ended {7}panic: dom0 kernel not specified\. Check bootloader configuration/m);
    },
    emuTest,
  );
}
