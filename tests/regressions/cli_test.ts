// Regressions in cli.ts from issue 18, item 7: no blocking on a FIFO, no endless read of a device, one-line
// errors, a JSON error object on stdout under --json, escape sequences from an image never printed raw.

import assert from "node:assert/strict";
import { buildArm64Image } from "../../fixtures/build/pe.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000), // a hang detector: the FIFO case blocked forever before
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("inspect refuses a FIFO with one line instead of blocking on it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/image`;
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(mk.success, "mkfifo");
    const r = await cli("inspect", fifo);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a regular file/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("boot refuses --initrd /dev/zero before reading it", async () => {
  const r = await cli("boot", "--initrd", "/dev/zero");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--initrd \/dev\/zero is not a regular file/);
});

Deno.test("an error about a path with a newline is one line; under --json stdout holds a JSON error object", async () => {
  const r = await cli("inspect", "/nonexistent/a\nentry 0x0", "--json");
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /a\\x0aentry/);
  const j = JSON.parse(r.stdout);
  assert.equal(j.error.name, "UsageError");
  assert.match(j.error.message, /cannot open/);
});

Deno.test("under --json a bad image's typed error is a JSON object with its code on stdout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/junk`, new Uint8Array(100).fill(7));
    const r = await cli("inspect", `${dir}/junk`, "--json");
    assert.equal(r.code, 1); // the image failed (2 is for a wrong command line)
    const j = JSON.parse(r.stdout);
    assert.equal(j.error.name, "KernelLoaderError");
    assert.equal(j.error.code, "UnknownFormat");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspect prints an image's version string with its escape sequences escaped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const image = buildArm64Image({ size: 0x2000 });
    image.set(new TextEncoder().encode("Linux version 6.6 #1 \x1b[2J\x1b[H\nentry  0x0\0"), 0x1000);
    await Deno.writeFile(`${dir}/Image`, image);
    const r = await cli("inspect", `${dir}/Image`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("\x1b"), "an ESC byte reached the terminal");
    assert.match(r.stdout, /version {5}6\.6 #1 \\x1b\[2J\\x1b\[H/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
