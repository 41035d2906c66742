import assert from "node:assert/strict";
import { CpioError } from "../lib/errors.ts";
import {
  CPIO_NEWC_HEADER_SIZE,
  type CpioEntry,
  readCpio,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  writeCpio,
} from "../lib/cpio.ts";
import { ignoreUnless } from "./_require.ts";

const hasCpio = (() => {
  try {
    return Deno.statSync("/usr/bin/cpio").isFile;
  } catch {
    return false;
  }
})();

/** A small initramfs: a device node, a script, a binary-ish file of odd length, a symlink, an empty file. */
function sample(): CpioEntry[] {
  const odd = new Uint8Array(1001);
  for (let i = 0; i < odd.length; i++) odd[i] = (i * 31) & 0xff;
  return [
    { type: "dir", path: "/dev" },
    { type: "char", path: "/dev/console", major: 5, minor: 1 },
    { type: "file", path: "/init", mode: 0o755, data: "#!/bin/sh\necho hello\n" },
    { type: "file", path: "/usr/lib/blob.bin", data: odd },
    { type: "symlink", path: "/bin", target: "usr/bin" },
    { type: "file", path: "etc/empty", mode: 0o600, data: new Uint8Array(0) },
  ];
}

async function cpioTool(args: string[], stdin: Uint8Array, cwd?: string): Promise<string> {
  const child = new Deno.Command("cpio", { args, cwd, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const w = child.stdin.getWriter();
  const writing = w.write(stdin).then(() => w.close());
  const [out] = await Promise.all([child.output(), writing]);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

function throwsCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CpioError, `expected CpioError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
}

Deno.test({
  name: "cpio -t lists the members writeCpio wrote, parents first",
  ignore: ignoreUnless(hasCpio, "cpio"),
  async fn() {
    const list = await cpioTool(["-t", "--quiet"], writeCpio(sample()));
    assert.deepEqual(list.trim().split("\n"), [
      "dev",
      "dev/console",
      "init",
      "usr",
      "usr/lib",
      "usr/lib/blob.bin",
      "bin",
      "etc",
      "etc/empty",
    ]);
  },
});

Deno.test({
  name: "cpio -tv shows the modes, root ownership, device numbers and link targets writeCpio wrote",
  ignore: ignoreUnless(hasCpio, "cpio"),
  async fn() {
    const lines = (await cpioTool(["-tv", "--quiet"], writeCpio(sample()))).trim().split("\n");
    const line = (name: string) => lines.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `)) ?? "";
    assert.match(line("dev/console"), /^crw------- +1 root +root +5, +1 /);
    assert.match(line("init"), /^-rwxr-xr-x +1 root +root +21 /);
    assert.match(line("usr/lib/blob.bin"), /^-rw-r--r-- +1 root +root +1001 /);
    assert.match(line("bin"), /^lrwxrwxrwx .* bin -> usr\/bin$/);
    assert.match(line("etc/empty"), /^-rw------- +1 root +root +0 /);
    assert.match(line("usr"), /^drwxr-xr-x +2 root +root /);
  },
});

Deno.test({
  name: "cpio -i extracts the files writeCpio wrote with their contents and modes",
  ignore: ignoreUnless(hasCpio, "cpio"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "cpio-test-" });
    try {
      const entries = sample().filter((e) => e.type !== "char"); // mknod may be refused in a container
      await cpioTool(["-i", "-d", "--quiet", "--no-absolute-filenames"], writeCpio(entries), dir);
      assert.equal(await Deno.readTextFile(`${dir}/init`), "#!/bin/sh\necho hello\n");
      assert.equal((await Deno.stat(`${dir}/init`)).mode! & 0o7777, 0o755);
      assert.deepEqual(await Deno.readFile(`${dir}/usr/lib/blob.bin`), (sample()[3] as { data: Uint8Array }).data);
      assert.equal(await Deno.readLink(`${dir}/bin`), "usr/bin");
      assert.equal((await Deno.stat(`${dir}/etc/empty`)).size, 0);
      assert.ok((await Deno.stat(`${dir}/dev`)).isDirectory);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "readCpio lists an archive made by GNU cpio -o -H newc",
  ignore: ignoreUnless(hasCpio, "cpio"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "cpio-test-" });
    try {
      await Deno.mkdir(`${dir}/sub`);
      await Deno.writeTextFile(`${dir}/sub/a.txt`, "abc");
      await Deno.symlink("sub/a.txt", `${dir}/link`);
      // cpio -o reads the names to archive from stdin.
      const out = await new Deno.Command("bash", {
        args: ["-c", "printf 'sub\\nsub/a.txt\\nlink\\n' | cpio -o -H newc --quiet"],
        cwd: dir,
        stdout: "piped",
      }).output();
      const recs = readCpio(out.stdout);
      assert.deepEqual(recs.map((r) => r.name), ["sub", "sub/a.txt", "link"]);
      assert.equal(recs[0].mode & S_IFDIR, S_IFDIR);
      assert.equal(new TextDecoder().decode(recs[1].data), "abc");
      assert.equal(recs[2].mode & 0o170000, S_IFLNK);
      assert.equal(new TextDecoder().decode(recs[2].data), "sub/a.txt");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("readCpio reads back every field writeCpio wrote", () => {
  const recs = readCpio(writeCpio(sample(), { mtime: 1700000000 }));
  const console = recs.find((r) => r.name === "dev/console")!;
  assert.equal(console.mode, S_IFCHR | 0o600);
  assert.deepEqual([console.rdevmajor, console.rdevminor], [5, 1]);
  const init = recs.find((r) => r.name === "init")!;
  assert.equal(init.mode, S_IFREG | 0o755);
  assert.deepEqual([init.uid, init.gid, init.nlink, init.mtime], [0, 0, 1, 1700000000]);
  assert.equal(new TextDecoder().decode(init.data), "#!/bin/sh\necho hello\n");
  assert.equal(recs.find((r) => r.name === "usr")!.nlink, 2);
});

Deno.test("writeCpio numbers inodes from firstIno in member order", () => {
  const recs = readCpio(writeCpio(sample(), { firstIno: 100 }));
  assert.deepEqual(recs.map((r) => r.ino), recs.map((_, i) => 100 + i));
});

Deno.test("writeCpio pads each name and each file's data to four bytes", () => {
  const a = writeCpio([{ type: "file", path: "abc", data: "xyzzy" }], { parents: false });
  const text = new TextDecoder().decode(a);
  assert.equal(text.slice(0, 6), "070701");
  // header 110 + "abc\0" = 114, padded to 116; data 5 bytes padded to 8; then the trailer's header
  assert.equal(text.slice(110, 116), "abc\0\0\0");
  assert.equal(text.slice(116, 124), "xyzzy\0\0\0");
  assert.equal(text.slice(124, 130), "070701");
  assert.equal(text.slice(124 + CPIO_NEWC_HEADER_SIZE, 124 + CPIO_NEWC_HEADER_SIZE + 11), "TRAILER!!!\0");
  assert.equal(a.length % 4, 0);
});

Deno.test("writeCpio writes every header field as 8 hexadecimal digits", () => {
  const a = writeCpio([{ type: "file", path: "f", uid: 0xabcdef, data: "" }], { parents: false });
  const head = new TextDecoder().decode(a.subarray(6, CPIO_NEWC_HEADER_SIZE));
  assert.match(head, /^[0-9a-f]{104}$/);
  assert.equal(head.slice(16, 24), "00abcdef"); // uid is the third field
});

Deno.test("writeCpio pads the archive to the requested block size", () => {
  assert.equal(writeCpio([{ type: "dir", path: "d" }], { blockSize: 512 }).length, 512);
});

Deno.test("writeCpio adds missing parent directories unless told not to", () => {
  const entry: CpioEntry = { type: "file", path: "/a/b/c", data: "x" };
  assert.deepEqual(readCpio(writeCpio([entry])).map((r) => r.name), ["a", "a/b", "a/b/c"]);
  assert.deepEqual(readCpio(writeCpio([entry], { parents: false })).map((r) => r.name), ["a/b/c"]);
});

Deno.test("writeCpio rejects paths with .. components, empty paths and the trailer's name", () => {
  throwsCode(() => writeCpio([{ type: "dir", path: "a/../b" }]), "InvalidPath");
  throwsCode(() => writeCpio([{ type: "dir", path: "/" }]), "InvalidPath");
  throwsCode(() => writeCpio([{ type: "dir", path: "TRAILER!!!" }]), "InvalidPath");
});

Deno.test("writeCpio rejects a path listed twice", () => {
  throwsCode(() => writeCpio([{ type: "dir", path: "a" }, { type: "dir", path: "/a/" }]), "InvalidPath");
});

Deno.test("writeCpio rejects values that do not fit in a 32-bit field", () => {
  throwsCode(() => writeCpio([{ type: "dir", path: "a", uid: 2 ** 32 }]), "FieldOverflow");
  throwsCode(() => writeCpio([{ type: "dir", path: "a", mtime: -1 }]), "FieldOverflow");
});

Deno.test("writeCpio rejects mode bits above the permission bits", () => {
  throwsCode(() => writeCpio([{ type: "file", path: "a", mode: 0o100644, data: "" }]), "FieldOverflow");
});

Deno.test("readCpio reads concatenated archives with zero padding between them", () => {
  const a = writeCpio([{ type: "file", path: "one", data: "1" }], { blockSize: 512 });
  const b = writeCpio([{ type: "file", path: "two", data: "2" }]);
  assert.deepEqual(readCpio(new Uint8Array([...a, ...b])).map((r) => r.name), ["one", "two"]);
});

Deno.test("readCpio rejects a header without the newc magic", () => {
  const a = writeCpio([{ type: "dir", path: "d" }]);
  a[5] = 0x37; // "070707" is the old portable format
  throwsCode(() => readCpio(a), "Malformed");
});

Deno.test("readCpio rejects an archive cut short", () => {
  const a = writeCpio([{ type: "file", path: "f", data: "x".repeat(100) }]);
  throwsCode(() => readCpio(a.subarray(0, 150)), "Malformed");
  throwsCode(() => readCpio(a.subarray(0, 60)), "Malformed");
});

Deno.test("readCpio rejects an archive without a trailer", () => {
  const a = writeCpio([{ type: "file", path: "f", data: "x" }]);
  throwsCode(() => readCpio(a.subarray(0, 116)), "Malformed"); // header 112 + data 4: ends where the trailer would start
});
