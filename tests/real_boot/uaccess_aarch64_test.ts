/**
 * The arm64 machine delivers the kernel's own data aborts on user memory (an `sttr` of copy_to_user into a
 * page the process never touched) to the kernel's EL1 vectors, which map the page and retry. The engine
 * reports such an abort instead of taking it; before the machine delivered it, the run ended "exception 4
 * (data abort) ... not delivered to the guest" whenever /init's argument tables crossed into a fresh stack
 * page (about one boot in six, with stack randomisation). Here an /init built for the test makes it happen
 * on every boot: uname(2) into a page-aligned .bss buffer, then it writes the sysname the kernel put there.
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { initToolchain } from "../../fixtures/build/init.ts";
import { writeCpio } from "../../lib/cpio.ts";
import { bootArm64Image } from "../../emu/linux/aarch64.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { ignoreUnless } from "../_require.ts";
import { assertInOrder, verboseLine } from "./_boot.ts";

// Syscall numbers: include/uapi/asm-generic/unistd.h; reboot magic: include/uapi/linux/reboot.h.
const INIT_SOURCE = `
        .set SYS_write, 64
        .set SYS_reboot, 142
        .set SYS_uname, 160
        .text
        .globl _start
_start:
        adr     x0, uts
        mov     x8, #SYS_uname
        svc     #0
        mov     x0, #1
        adr     x1, prefix
        mov     x2, #prefix_len
        mov     x8, #SYS_write
        svc     #0
        mov     x0, #1
        adr     x1, uts
        mov     x2, #5
        mov     x8, #SYS_write
        svc     #0
        mov     x0, #1
        adr     x1, newline
        mov     x2, #1
        mov     x8, #SYS_write
        svc     #0
        movz    w0, #0xdead
        movk    w0, #0xfee1, lsl #16
        movz    w1, #0x1969
        movk    w1, #0x2812, lsl #16
        movz    w2, #0xfedc
        movk    w2, #0x4321, lsl #16
        mov     x3, #0
        mov     x8, #SYS_reboot
        svc     #0
spin:
        yield
        b       spin
prefix:
        .ascii  "UACCESS: uname wrote "
        .set    prefix_len, . - prefix
newline:
        .ascii  "\\n"
        .bss
        .balign 4096
uts:
        .space  4096
        .section .note.GNU-stack, "", %progbits
`;

async function buildUnameInit(): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "uaccess-init-" });
  try {
    const t = initToolchain("aarch64");
    await Deno.writeTextFile(`${dir}/init.S`, INIT_SOURCE);
    for (
      const cmd of [[...t.as, "-o", `${dir}/init.o`, `${dir}/init.S`], [...t.ld, "-o", `${dir}/init`, `${dir}/init.o`]]
    ) {
      const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "piped" }).output();
      assert.ok(out.success, `${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return await Deno.readFile(`${dir}/init`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const arm64 = await ensureRealKernel("arm64");
const hasTools = (() => {
  try {
    Deno.statSync("/usr/bin/aarch64-linux-gnu-as");
    Deno.statSync("/usr/bin/aarch64-linux-gnu-ld");
    return true;
  } catch {
    return false;
  }
})();

const name =
  "Debian's arm64 kernel fills a page /init never touched through uname(2): the machine delivers the kernel's EL1 data abort";
if (arm64 === undefined || ignoreUnless(hasTools, "aarch64-linux-gnu-as and -ld (binutils-aarch64-linux-gnu)")) {
  Deno.test({ name, ignore: true, fn() {} });
} else {
  emuTest(name, async () => {
    const init = await buildUnameInit();
    const initrd = writeCpio([
      { type: "dir", path: "/dev" },
      { type: "char", path: "/dev/console", major: 5, minor: 1 },
      { type: "file", path: "/init", mode: 0o755, data: init },
    ]);
    const r = await bootArm64Image(await Deno.readFile(arm64.kernel), {
      initrd,
      timeoutMs: 240_000,
      onLine: verboseLine(),
    });
    assertInOrder(r, ["Run /init as init process", "UACCESS: uname wrote Linux", "reboot: Power down"]);
    assert.equal(r.stop, "poweroff", r.detail);
    assert.ok(r.stats.uaccessAborts >= 1, `${r.stats.uaccessAborts} user-access aborts delivered`);
  });
}
