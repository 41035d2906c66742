/**
 * Multiboot kernels on the real x86 machine (emu/linux/multiboot.ts) and what Xen needed from the machine:
 * the protocol choice, the 16550's loopback probe, Xen's panic ending, and the project's Multiboot stubs
 * booted the way Xen is (they print what they read from the boot information and halt).
 */
import assert from "node:assert/strict";
import { bootX86Multiboot } from "../../emu/linux/multiboot.ts";
import { chooseRealMachine } from "../../emu/linux/machine.ts";
import { chooseMachine } from "../../emu/linux/boot_any.ts";
import { SerialConsole } from "../../emu/linux/common.ts";
import { Uart16550 } from "../../emu/uart.ts";
import { bootKernel } from "../../emu/boot.ts";
import { EmulatorError, KernelLoaderError } from "../../lib/errors.ts";
import { buildMultiboot2, buildMultibootElf } from "../../fixtures/build/multiboot.ts";
import { multibootStub } from "../../fixtures/build/multiboot_stubs.ts";
import { emuTest } from "./_unicorn.ts";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** An ELF32 with a Multiboot2 header and a Multiboot 1 header at the start of its code (as Xen has). */
function dualHeaderElf(extra: Uint8Array = new Uint8Array()): Uint8Array {
  const mb1 = new Uint8Array(16);
  const dv = new DataView(mb1.buffer);
  dv.setUint32(0, 0x1badb002, true);
  dv.setUint32(8, -0x1badb002 >>> 0, true);
  return buildMultiboot2({ code: new Uint8Array([...mb1, 0xf4, ...extra]), format: "elf32" });
}

Deno.test("a Multiboot kernel with both headers boots through Multiboot2 unless multiboot1 is asked for", async () => {
  const img = dualHeaderElf();
  assert.equal((await chooseRealMachine(img)).protocol, "multiboot2");
  assert.equal((await chooseRealMachine(img, "multiboot1")).protocol, "multiboot1");
  assert.equal((await chooseRealMachine(await gzip(img))).protocol, "multiboot2");
});

Deno.test("asking for Multiboot2 on a Multiboot 1 kernel is EmulatorError UnsupportedMachine", async () => {
  const mb1 = buildMultibootElf({ code: new Uint8Array([0xf4]) });
  assert.equal((await chooseRealMachine(mb1)).protocol, "multiboot1");
  await assert.rejects(
    () => chooseRealMachine(mb1, "multiboot2"),
    (e) => e instanceof EmulatorError && e.code === "UnsupportedMachine" && /no Multiboot2 header/.test(e.message),
  );
  await assert.rejects(
    () => chooseRealMachine(mb1, "pvh"),
    (e) => e instanceof EmulatorError && e.code === "UnsupportedMachine",
  );
});

Deno.test("the stub runner refuses a Multiboot protocol the image has no header for, with KernelLoaderError", async () => {
  const mb1 = buildMultibootElf({ code: new Uint8Array([0xf4]) });
  await assert.rejects(
    () => bootKernel(mb1, { protocol: "multiboot2" }),
    (e) => e instanceof KernelLoaderError && e.code === "UnknownFormat" && /multiboot2/.test(e.message),
  );
});

Deno.test("a Multiboot kernel goes to the real machine when it names itself Xen, else to the stub runner", async () => {
  const banner = new TextEncoder().encode("Xen version %d.%d%s (%s)\n\0");
  assert.equal((await chooseMachine(dualHeaderElf())).machine, "stub");
  const xen = await chooseMachine(await gzip(dualHeaderElf(banner)));
  assert.equal(xen.machine, "real");
  assert.match(xen.why, /Xen .*multiboot2/);
  assert.match((await chooseMachine(dualHeaderElf(banner), "multiboot1")).why, /multiboot1/);
});

Deno.test("Xen's panic ends the run at the line after 'Panic on CPU N:', with that line as the detail", () => {
  const con = new SerialConsole();
  const say = (s: string) => [...new TextEncoder().encode(s + "\r\n")].forEach((b) => con.push(b));
  say("(XEN) ****************************************");
  say("(XEN) Panic on CPU 0:");
  assert.equal(con.ended, undefined);
  say("(XEN) dom0 kernel not specified. Check bootloader configuration");
  assert.equal(con.ended, "panic");
  assert.equal(con.endDetail(), "panic: dom0 kernel not specified. Check bootloader configuration");
});

Deno.test("the 16550 in loopback mode reads its modem outputs back in MSR and transmits nothing", () => {
  const uart = new Uart16550();
  assert.equal(uart.readRegister(6), 0);
  uart.writeRegister(4, 0x10 | 0x0a); // MCR: LOOP | OUT2 | RTS, the probe Xen and Linux write
  assert.equal(uart.readRegister(6) & 0xf0, 0x90); // DCD (from OUT2) | CTS (from RTS)
  uart.writeRegister(4, 0x10 | 0x05); // LOOP | OUT1 | DTR
  assert.equal(uart.readRegister(6) & 0xf0, 0x60); // RI | DSR
  uart.writeRegister(0, 0x41);
  assert.deepEqual(uart.bytes, []);
  uart.writeRegister(4, 0x03);
  uart.writeRegister(0, 0x41);
  assert.equal(uart.text, "A");
});

for (
  const [name, build] of [
    ["a Multiboot 1 ELF", () => Promise.resolve(buildMultibootElf({ code: multibootStub("multiboot") }))],
    [
      "a gzip-wrapped Multiboot2 ELF",
      () => gzip(buildMultiboot2({ code: multibootStub("multiboot2"), format: "elf32" })),
    ],
  ] as const
) {
  emuTest(
    `${name} on the real machine reads the image name and command line, the map and module 0, then halts`,
    async () => {
      const r = await bootX86Multiboot(await build(), {
        cmdline: "console=ttyS0",
        imageName: "stub.elf",
        initrd: new Uint8Array(0x1000).fill(7),
        memoryMiB: 64,
        timeoutMs: 60_000,
      });
      assert.equal(r.stop, "halt", r.detail);
      assert.ok(r.initrd !== undefined);
      const mod = `0x${r.initrd.addr.toString(16)}:0x${(r.initrd.addr + 0x1000).toString(16)}:0x7070707 'initrd'`;
      // mem_lower 639 KiB (up to the EBDA), mem_upper 63 MiB; the map's first range is [0, 0x9fc00) RAM.
      for (const want of ["cmdline=stub.elf console=ttyS0", "mem=0x27f:0xfc00", "first=0x0:0x9fc00:0x1", mod]) {
        assert.ok(r.serial.includes(want), `${want} missing from ${r.serial}`);
      }
    },
  );
}
