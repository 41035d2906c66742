// Cmdline: the cases of rust-vmm linux-loader's src/cmdline/mod.rs tests and doc examples, as facts about
// our API, then our own checks (messages, numbers, Rust-compatible trimming, the crate's quirks).

import assert from "node:assert/strict";
import { Cmdline } from "../lib/cmdline.ts";
import { CmdlineError, type CmdlineErrorCode } from "../lib/errors.ts";

const CMDLINE_MAX_SIZE = 4096;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Runs `fn`, expects a CmdlineError with `code`, and returns it for further checks. */
function throwsCode(fn: () => unknown, code: CmdlineErrorCode): CmdlineError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CmdlineError, `expected CmdlineError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

function cstr(cl: Cmdline): string {
  return new TextDecoder().decode(cl.asCString());
}

// --- the crate's examples and tests ---------------------------------------------------------------------

Deno.test("Cmdline starts empty: its C string is a lone NUL", () => {
  assert.deepEqual(new Cmdline(100).asCString(), new Uint8Array([0]));
});

Deno.test("Cmdline.insert adds key=value", () => {
  const cl = new Cmdline(100);
  cl.insert("hello", "world");
  assert.equal(cstr(cl), "hello=world\0");
});

Deno.test("Cmdline.insert separates arguments with one space", () => {
  const cl = new Cmdline(100);
  cl.insert("hello", "world");
  cl.insert("foo", "bar");
  assert.equal(cstr(cl), "hello=world foo=bar\0");
});

Deno.test("Cmdline rejects a key with a trailing space", () => {
  throwsCode(() => new Cmdline(100).insert("a ", "b"), "HasSpace");
});

Deno.test("Cmdline rejects a key with a leading space", () => {
  throwsCode(() => new Cmdline(100).insert(" a", "b"), "HasSpace");
});

Deno.test("Cmdline checks the key before the value (bad key and bad value give HasSpace)", () => {
  throwsCode(() => new Cmdline(100).insert("a ", "b "), "HasSpace");
});

Deno.test("Cmdline rejects an unquoted value with a space", () => {
  throwsCode(() => new Cmdline(100).insert("a", "b "), "NoQuoteSpace");
});

Deno.test("Cmdline rejects a double quote in the middle of a value", () => {
  throwsCode(() => new Cmdline(100).insert("a", 'hello "world'), "InvalidQuote");
});

Deno.test("Cmdline rejects a value made of two quoted strings", () => {
  throwsCode(() => new Cmdline(100).insert("a", '"foor bar" "foor bar"'), "InvalidQuote");
});

Deno.test("Cmdline accepts quoted values with spaces, a leading space included", () => {
  const cl = new Cmdline(100);
  cl.insert("a", '"b b"');
  cl.insert("c", '" d"');
  assert.equal(cstr(cl), 'a="b b" c=" d"\0');
});

Deno.test("Cmdline rejects a key ending with an equals sign", () => {
  throwsCode(() => new Cmdline(100).insert("a=", "b"), "HasEquals");
});

Deno.test("Cmdline checks equals in the key before spaces in the value", () => {
  throwsCode(() => new Cmdline(100).insert("a=", "b "), "HasEquals");
});

Deno.test("Cmdline rejects a key starting with an equals sign", () => {
  throwsCode(() => new Cmdline(100).insert("=a", "b"), "HasEquals");
});

Deno.test("Cmdline rejected inserts leave it empty", () => {
  const cl = new Cmdline(100);
  for (const [k, v] of [["a ", "b"], ["a", "b "], ["a=", "b"], ["a", 'x"y"z'], ["heart", "💖"]]) {
    assert.throws(() => cl.insert(k, v), CmdlineError);
  }
  assert.equal(cstr(cl), "\0");
});

Deno.test("Cmdline rejects a non-ASCII value", () => {
  throwsCode(() => new Cmdline(100).insert("heart", "💖"), "InvalidAscii");
});

Deno.test("Cmdline rejects a non-ASCII key", () => {
  throwsCode(() => new Cmdline(100).insert("💖", "love"), "InvalidAscii");
});

Deno.test("Cmdline.insertStr rejects non-ASCII text", () => {
  throwsCode(() => new Cmdline(100).insertStr("heart=💖"), "InvalidAscii");
});

Deno.test("Cmdline.insertMultiple rejects a non-ASCII key", () => {
  throwsCode(() => new Cmdline(100).insertMultiple("💖", ["heart", "love"]), "InvalidAscii");
});

Deno.test("Cmdline.insertMultiple rejects a non-ASCII value", () => {
  throwsCode(() => new Cmdline(100).insertMultiple("heart", ["💖", "love"]), "InvalidAscii");
});

Deno.test("Cmdline.insertStr appends words up to exactly the capacity", () => {
  const cl = new Cmdline(13);
  cl.insertStr("noapic");
  assert.equal(cstr(cl), "noapic\0");
  cl.insertStr("nopci");
  assert.equal(cstr(cl), "noapic nopci\0");
  assert.equal(cl.asCString().length, 13);
});

Deno.test("Cmdline of capacity 4 rejects key=value pairs longer than 3 characters", () => {
  const cl = new Cmdline(4);
  throwsCode(() => cl.insert("hello", "world"), "TooLarge");
  throwsCode(() => cl.insert("a", "world"), "TooLarge");
  throwsCode(() => cl.insert("hello", "b"), "TooLarge");
  cl.insert("a", "b");
  assert.equal(cstr(cl), "a=b\0");
});

Deno.test("Cmdline of capacity 4 holding a=b takes nothing more", () => {
  const cl = new Cmdline(4);
  cl.insert("a", "b");
  throwsCode(() => cl.insert("a", "b"), "TooLarge");
  throwsCode(() => cl.insertStr("a"), "TooLarge");
  assert.equal(cstr(cl), "a=b\0");
});

Deno.test("Cmdline counts the separating space against the capacity", () => {
  const cl = new Cmdline(10);
  cl.insert("ab", "ba"); // 5 bytes + NUL = 6
  throwsCode(() => cl.insert("c", "da"), "TooLarge"); // would be 11
  cl.insert("c", "d"); // exactly 10
  assert.equal(cstr(cl), "ab=ba c=d\0");
});

Deno.test("Cmdline counts the 4-byte separator for the first init argument", () => {
  const cl = new Cmdline(11);
  cl.insert("ab", "ba");
  throwsCode(() => cl.insertInitArgs("da"), "TooLarge"); // 6 + 4 + 2 = 12
  cl.insertInitArgs("d"); // 11
  assert.equal(cstr(cl), "ab=ba -- d\0");
});

Deno.test("Cmdline counts one space for each further init argument", () => {
  const cl = new Cmdline(20);
  cl.insert("ab", "ba");
  cl.insertInitArgs("da"); // 12
  throwsCode(() => cl.insertInitArgs("abcdabcd"), "TooLarge"); // 21
  cl.insertInitArgs("abcdabc"); // 20
  assert.equal(cstr(cl), "ab=ba -- da abcdabc\0");
});

Deno.test("Cmdline rejects a virtio MMIO device of size 0", () => {
  throwsCode(() => new Cmdline(5).addVirtioMmioDevice(0, 0, 0), "MmioSize");
});

Deno.test("Cmdline rejects a virtio MMIO device that does not fit", () => {
  throwsCode(() => new Cmdline(5).addVirtioMmioDevice(1, 0, 0), "TooLarge");
});

Deno.test("Cmdline writes a virtio MMIO size that no suffix divides in plain bytes", () => {
  const cl = new Cmdline(150);
  cl.addVirtioMmioDevice(1, 0, 1);
  assert.equal(cl.asString(), "virtio_mmio.device=1@0x0:1");
});

Deno.test("Cmdline writes virtio MMIO sizes with K, M and G suffixes and an optional id", () => {
  const cl = new Cmdline(150);
  cl.addVirtioMmioDevice(1, 0, 1);
  cl.addVirtioMmioDevice(2 << 10, 0x100, 2);
  cl.addVirtioMmioDevice(3 << 20, 0x1000, 3);
  cl.addVirtioMmioDevice(4 * 2 ** 30, 0x0001_0000, 4, 42);
  assert.equal(
    cl.asString(),
    "virtio_mmio.device=1@0x0:1 virtio_mmio.device=2K@0x100:2 virtio_mmio.device=3M@0x1000:3 " +
      "virtio_mmio.device=4G@0x10000:4:42",
  );
});

Deno.test("Cmdline writes a 4 KiB virtio MMIO device as 4K with its id", () => {
  const cl = new Cmdline(100);
  cl.addVirtioMmioDevice(1 << 12, 0x1000, 5, 42);
  assert.equal(cstr(cl), "virtio_mmio.device=4K@0x1000:5:42\0");
});

Deno.test("Cmdline.insertMultiple rejects a key with an equals sign before looking at the values", () => {
  throwsCode(() => new Cmdline(10).insertMultiple("foo=", []), "HasEquals");
});

Deno.test("Cmdline.insertMultiple with no values is MissingVal naming the key", () => {
  const e = throwsCode(() => new Cmdline(10).insertMultiple("foo", []), "MissingVal");
  assert.equal(e.value, "foo");
  assert.match(e.message, /"foo"/);
});

Deno.test("Cmdline.insertMultiple rejects an unquoted value with a space", () => {
  throwsCode(() => new Cmdline(10).insertMultiple("foo", ["bar "]), "NoQuoteSpace");
});

Deno.test("Cmdline.insertMultiple rejects values that do not fit", () => {
  throwsCode(() => new Cmdline(10).insertMultiple("foo", ["bar", "baz"]), "TooLarge");
});

Deno.test("Cmdline.insertMultiple with one value is key=value", () => {
  const cl = new Cmdline(100);
  cl.insertMultiple("foo", ["bar"]);
  assert.equal(cstr(cl), "foo=bar\0");
});

Deno.test("Cmdline.insertMultiple joins values with commas", () => {
  const cl = new Cmdline(100);
  cl.insertMultiple("foo", ["bar", "baz"]);
  assert.equal(cstr(cl), "foo=bar,baz\0");
});

Deno.test("Cmdline.asCString of a parsed line is its bytes and a NUL", () => {
  assert.deepEqual(Cmdline.parse("foo", CMDLINE_MAX_SIZE).asCString(), enc("foo\0"));
});

Deno.test("Cmdline with init arguments but no boot arguments has no C string", () => {
  const cl = new Cmdline(CMDLINE_MAX_SIZE);
  cl.insertInitArgs("foo--bar");
  throwsCode(() => cl.asCString(), "NoBootArgsInserted");
});

Deno.test("Cmdline equality ignores capacity and how the words were inserted", () => {
  const c1 = new Cmdline(20), c2 = new Cmdline(30);
  c1.insertStr("hello world!");
  c2.insertStr("hello");
  assert.ok(!c1.equals(c2));
  c2.insertStr("world!");
  assert.ok(c1.equals(c2));
});

Deno.test("Cmdline equality follows virtio MMIO devices", () => {
  const c1 = new Cmdline(CMDLINE_MAX_SIZE), c2 = new Cmdline(CMDLINE_MAX_SIZE);
  assert.ok(c1.equals(c2));
  c1.addVirtioMmioDevice(1, 0, 1);
  assert.ok(!c1.equals(c2));
  c2.addVirtioMmioDevice(1, 0, 1);
  assert.ok(c1.equals(c2));
});

Deno.test("Cmdline.parse rejects capacity 0", () => {
  throwsCode(() => Cmdline.parse("foo --  bar", 0), "InvalidCapacity");
});

Deno.test("Cmdline.parse rejects text one byte over the capacity with InvalidCapacity", () => {
  const e = throwsCode(() => Cmdline.parse("foo --  bar", 10), "InvalidCapacity");
  assert.equal(e.limit, 10);
  assert.equal(e.value, 11);
});

Deno.test("Cmdline.parse trims the init arguments before measuring", () => {
  const cl = Cmdline.parse("foo --  bar", 11);
  assert.equal(cl.asString(), "foo -- bar");
});

Deno.test("Cmdline.parse without a separator keeps everything as boot arguments", () => {
  const cl = Cmdline.parse("hello=world foo=bar", CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, "hello=world foo=bar");
  assert.equal(cl.initArgs, "");
});

Deno.test("Cmdline.parse splits at ' -- '", () => {
  const cl = Cmdline.parse("hello=world -- foo=bar", CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, "hello=world");
  assert.equal(cl.initArgs, "foo=bar");
});

Deno.test("Cmdline.parse does not split at '--' glued to a word", () => {
  const cl = Cmdline.parse("hello=world --foo=bar -- arg1 --arg2", CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, "hello=world --foo=bar");
  assert.equal(cl.initArgs, "arg1 --arg2");
});

Deno.test("Cmdline.parse keeps '-- ' and ' --' that are not the separator", () => {
  const cl = Cmdline.parse("arg1-- arg2 --arg3", CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, "arg1-- arg2 --arg3");
  assert.equal(cl.initArgs, "");
});

Deno.test("Cmdline.parse splits at the first separator only", () => {
  const cl = Cmdline.parse("--arg1-- -- arg2 -- --arg3", CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, "--arg1--");
  assert.equal(cl.initArgs, "arg2 -- --arg3");
});

Deno.test("Cmdline.parse skips a separator inside double quotes", () => {
  const cl = Cmdline.parse('a="b -- c" d -- e ', CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, 'a="b -- c" d');
  assert.equal(cl.initArgs, "e");
});

Deno.test("Cmdline.parse with only a quoted separator has no init arguments", () => {
  const cl = Cmdline.parse('foo--bar=baz a="b -- c"', CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, 'foo--bar=baz a="b -- c"');
  assert.equal(cl.initArgs, "");
});

Deno.test("Cmdline.parse keeps words that start with '--'", () => {
  const cl = Cmdline.parse("--foo --bar", CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, "--foo --bar");
  assert.equal(cl.initArgs, "");
});

Deno.test("Cmdline.parse keeps '--' inside a quoted value", () => {
  const cl = Cmdline.parse('foo="bar--baz" foo', CMDLINE_MAX_SIZE);
  assert.equal(cl.bootArgs, 'foo="bar--baz" foo');
  assert.equal(cl.initArgs, "");
});

Deno.test("Cmdline.parse rejects empty text with capacity 0", () => {
  throwsCode(() => Cmdline.parse("", 0), "InvalidCapacity");
});

Deno.test("Cmdline.parse rejects 4096 characters with capacity 4095", () => {
  throwsCode(() => Cmdline.parse("X".repeat(CMDLINE_MAX_SIZE), CMDLINE_MAX_SIZE - 1), "InvalidCapacity");
});

Deno.test("Cmdline.parse keeps boot and init arguments for the C string", () => {
  const text = "console=ttyS0 nomodules -- /etc/password --param";
  assert.equal(cstr(Cmdline.parse(text, CMDLINE_MAX_SIZE)), text + "\0");
});

Deno.test("Cmdline.parse accepts text that fills the capacity exactly", () => {
  assert.equal(Cmdline.parse("foo -- bar", 100).asString(), "foo -- bar");
  assert.equal(Cmdline.parse("foo -- bar", 11).asString(), "foo -- bar");
});

Deno.test("Cmdline keeps init arguments inserted before boot arguments after them", () => {
  const cl = new Cmdline(CMDLINE_MAX_SIZE);
  assert.deepEqual(cl.asCString(), new Uint8Array([0]));
  cl.insertInitArgs("/etc/password");
  throwsCode(() => cl.asCString(), "NoBootArgsInserted");
  assert.equal(cl.bootArgs, "");
  assert.equal(cl.initArgs, "/etc/password");
  cl.insert("console", "ttyS0");
  assert.equal(cstr(cl), "console=ttyS0 -- /etc/password\0");
  cl.insertStr("nomodules");
  assert.equal(cstr(cl), "console=ttyS0 nomodules -- /etc/password\0");
  cl.insertInitArgs("--param");
  assert.equal(cstr(cl), "console=ttyS0 nomodules -- /etc/password --param\0");
});

Deno.test("Cmdline rejects capacity 0", () => {
  throwsCode(() => new Cmdline(0), "InvalidCapacity");
});

// --- our own checks ----------------------------------------------------------------------------------------

Deno.test("Cmdline rejects a negative, fractional or unsafe capacity", () => {
  for (const c of [-1, 1.5, NaN, Infinity, 2 ** 53]) throwsCode(() => new Cmdline(c), "InvalidCapacity");
});

Deno.test("Cmdline of capacity 1 holds only the NUL", () => {
  const cl = new Cmdline(1);
  throwsCode(() => cl.insertStr("a"), "TooLarge");
  assert.deepEqual(cl.asCString(), new Uint8Array([0]));
});

Deno.test("Cmdline TooLarge names the text, the size needed and the capacity", () => {
  const e = throwsCode(() => new Cmdline(4).insert("hello", "world"), "TooLarge");
  assert.equal(e.value, "hello=world");
  assert.equal(e.limit, 4);
  assert.match(e.message, /"hello=world"/);
  assert.match(e.message, /12 bytes/);
  assert.match(e.message, /capacity of 4/);
});

Deno.test("Cmdline InvalidAscii names the text and the character", () => {
  const e = throwsCode(() => new Cmdline(100).insert("key", "a\tb"), "InvalidAscii");
  assert.equal(e.value, "a\tb");
  assert.equal(e.field, "value");
  assert.match(e.message, /U\+0009 at index 1/);
});

Deno.test("Cmdline HasSpace, HasEquals, NoQuoteSpace and InvalidQuote name the offending text", () => {
  assert.equal(throwsCode(() => new Cmdline(100).insert("a b", "c"), "HasSpace").value, "a b");
  assert.equal(throwsCode(() => new Cmdline(100).insert("a=b", "c"), "HasEquals").value, "a=b");
  assert.equal(throwsCode(() => new Cmdline(100).insert("a", "b c"), "NoQuoteSpace").value, "b c");
  const q = throwsCode(() => new Cmdline(100).insertMultiple("a", ["ok", 'b"c']), "InvalidQuote");
  assert.equal(q.value, 'b"c');
  assert.equal(q.field, "values[1]");
});

Deno.test("Cmdline rejects a control character in insertStr", () => {
  throwsCode(() => new Cmdline(100).insertStr("a\x7fb"), "InvalidAscii");
});

Deno.test("Cmdline.insertStr trims like Rust: U+0085 is whitespace, U+FEFF is not", () => {
  const cl = new Cmdline(100);
  cl.insertStr("\u0085\t a \n\u3000");
  assert.equal(cl.asString(), "a");
  throwsCode(() => cl.insertStr("\ufeffb"), "InvalidAscii");
});

Deno.test("Cmdline accepts an empty key and an empty value as the crate does", () => {
  const cl = new Cmdline(100);
  cl.insert("", "b");
  cl.insert("c", "");
  assert.equal(cl.asString(), "=b c=");
});

Deno.test("Cmdline accepts a value with a lone quote at one end as the crate does", () => {
  const cl = new Cmdline(100);
  cl.insert("a", '"');
  cl.insert("b", '"x');
  cl.insert("c", 'x"');
  assert.equal(cl.asString(), 'a=" b="x c=x"');
});

Deno.test("Cmdline.insertStr of blank text after an argument leaves a trailing space, as the crate does", () => {
  const cl = new Cmdline(100);
  cl.insertStr("   ");
  assert.equal(cl.asString(), "");
  cl.insertStr("a");
  cl.insertStr("   ");
  assert.equal(cl.asString(), "a ");
});

Deno.test("Cmdline rejects a virtio MMIO size, address, IRQ or id out of range with InvalidInteger", () => {
  const cl = new Cmdline(200);
  const e = throwsCode(() => cl.addVirtioMmioDevice(-1, 0, 0), "InvalidInteger");
  assert.equal(e.field, "size");
  throwsCode(() => cl.addVirtioMmioDevice(0x1000, 2 ** 53, 0), "InvalidInteger");
  throwsCode(() => cl.addVirtioMmioDevice(0x1000, 0.5, 0), "InvalidInteger");
  throwsCode(() => cl.addVirtioMmioDevice(0x1000, 0, 2 ** 32), "InvalidInteger");
  throwsCode(() => cl.addVirtioMmioDevice(0x1000, 0, 5, -1), "InvalidInteger");
  assert.equal(cl.asString(), "");
});

Deno.test("Cmdline writes the largest virtio MMIO values in full", () => {
  const cl = new Cmdline(200);
  cl.addVirtioMmioDevice(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0xffff_ffff, 0xffff_ffff);
  assert.equal(cl.asString(), "virtio_mmio.device=9007199254740991@0x1fffffffffffff:4294967295:4294967295");
});

Deno.test("Cmdline writes a 1536 KiB virtio MMIO device as 1536K", () => {
  const cl = new Cmdline(100);
  cl.addVirtioMmioDevice(1536 << 10, 0xfeb0_0000, 12);
  assert.equal(cl.asString(), "virtio_mmio.device=1536K@0xfeb00000:12");
});

Deno.test("Cmdline.parse keeps a NUL, and asCString then fails with NullTerminator", () => {
  const cl = Cmdline.parse("a\0b", 10);
  const e = throwsCode(() => cl.asCString(), "NullTerminator");
  assert.equal(e.limit, 1);
});

Deno.test("Cmdline.parse measures non-ASCII text in UTF-8 bytes", () => {
  throwsCode(() => Cmdline.parse("héllo", 6), "InvalidCapacity");
  const cl = Cmdline.parse("héllo", 7);
  assert.deepEqual(cl.asCString(), enc("héllo\0"));
});

Deno.test("Cmdline.parse rejects a lone surrogate with InvalidAscii", () => {
  throwsCode(() => Cmdline.parse("a\ud800b", 100), "InvalidAscii");
});

Deno.test("Cmdline.parse of ' -- x' gives init arguments only", () => {
  const cl = Cmdline.parse(" -- x", 100);
  assert.equal(cl.bootArgs, "");
  assert.equal(cl.initArgs, "x");
  throwsCode(() => cl.asString(), "NoBootArgsInserted");
});

Deno.test("Cmdline equality treats two lines that both lack boot arguments as equal, as the crate does", () => {
  const a = new Cmdline(100), b = new Cmdline(100);
  a.insertInitArgs("x");
  b.insertInitArgs("y");
  assert.ok(a.equals(b));
  assert.ok(!a.equals(new Cmdline(100)));
});

Deno.test("Cmdline.toString never throws", () => {
  const cl = new Cmdline(100);
  cl.insertInitArgs("x");
  assert.equal(`${cl}`, " -- x");
});

Deno.test("Cmdline.clone copies arguments and capacity, then stands alone", () => {
  const a = Cmdline.parse("quiet -- x", 20);
  const b = a.clone();
  b.insertStr("ro");
  assert.equal(a.asString(), "quiet -- x");
  assert.equal(b.asString(), "quiet ro -- x");
  assert.equal(b.capacity, 20);
});

Deno.test("Cmdline inserts keep capacity checks after parse", () => {
  const cl = Cmdline.parse("abc", 5);
  throwsCode(() => cl.insertStr("d"), "TooLarge");
  assert.equal(cl.asString(), "abc");
});
