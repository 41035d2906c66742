/**
 * The kernel command line builder, with the behaviour of rust-vmm linux-loader's `cmdline::Cmdline`
 * (v0.14): the same capacity accounting, the same validation in the same order and the same error
 * variants, under camelCase names.
 *
 * The text has two parts: boot arguments, read by the kernel, and init arguments, handed to init. They are
 * joined by `" -- "` (see the kernel's
 * [parameter documentation](https://www.kernel.org/doc/html/latest/admin-guide/kernel-parameters.html):
 * "Everything after `--` is passed as an argument to init"). The kernel reads a NUL-terminated string, so a
 * capacity always counts the terminating NUL: a capacity of `n` leaves room for `n - 1` characters.
 *
 * Numbers: the crate takes `usize` capacities, `u64` sizes and addresses and `u32` IRQs and ids. Here they
 * are JavaScript numbers, checked: a capacity, size or address must be a non-negative safe integer (below
 * 2^53), an IRQ or id an integer below 2^32. Anything else is a {@linkcode CmdlineError}: `InvalidCapacity`
 * for a capacity, `InvalidInteger` (our addition; Rust's types make such values impossible) for the others.
 *
 * @module
 */

import { showValue } from "./guard.ts";
import { CmdlineError, hex } from "./errors.ts";

/** The text between boot arguments and init arguments. */
export const INIT_ARGS_SEPARATOR = " -- ";

const U32_MAX = 0xffff_ffff;
const KIB = 1 << 10;
const MIB = KIB << 10;
const GIB = MIB << 10;

/**
 * Rust's `char::is_whitespace` (the Unicode White_Space property). `String.prototype.trim` differs from it
 * on U+0085 (Rust trims it, JavaScript does not) and U+FEFF (JavaScript trims it, Rust does not); the crate
 * trims with Rust's rule, so we do too.
 */
function isRustWhitespace(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f ||
    c === 0x3000;
}

/** `str::trim` as Rust does it. (Every White_Space character is a single UTF-16 unit.) */
function rustTrim(s: string): string {
  let a = 0, b = s.length;
  while (a < b && isRustWhitespace(s.charCodeAt(a))) a++;
  while (b > a && isRustWhitespace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

const utf8 = new TextEncoder();

/** Byte length of `s` in UTF-8 (what Rust's `str::len` counts). Lone surrogates count as U+FFFD. */

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Shows a string in messages: JSON-quoted, so spaces, quotes and control characters are visible. */
function show(s: string): string {
  return JSON.stringify(s);
}

/** Index of the first character outside printable ASCII (`' '..='~'`), or -1. */
function firstInvalidChar(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return i;
  }
  return -1;
}

/** Throws `InvalidAscii` when a value from the caller is not a string at all (a number, null, a Symbol). */
function checkText(s: unknown, field: string): asserts s is string {
  if (typeof s !== "string") {
    throw new CmdlineError("InvalidAscii", `${field} is not a string but ${s === null ? "null" : typeof s}`, {
      field,
      value: typeof s,
      limit: "a string of printable ASCII ' '..'~'",
    });
  }
}

function checkPrintable(s: string, field: string): void {
  checkText(s, field);
  const i = firstInvalidChar(s);
  if (i >= 0) {
    const cp = s.codePointAt(i)!;
    throw new CmdlineError(
      "InvalidAscii",
      `${field} ${show(s)} has a character outside printable ASCII (U+${
        cp.toString(16).toUpperCase().padStart(4, "0")
      } at index ${i}); allowed are ' ' to '~'`,
      { field, value: s, limit: "printable ASCII ' '..'~'" },
    );
  }
}

function checkKey(key: string, field = "key"): void {
  checkPrintable(key, field);
  if (key.includes(" ")) {
    throw new CmdlineError("HasSpace", `${field} ${show(key)} contains a space`, { field, value: key });
  }
  if (key.includes("=")) {
    throw new CmdlineError("HasEquals", `${field} ${show(key)} contains an equals sign`, { field, value: key });
  }
}

/**
 * A value may hold a double quote only as its first or last character, and may hold spaces only when it is
 * quoted (starts and ends with a double quote, at least two characters long). A lone quote at one end
 * (`"abc`) is accepted, as the crate accepts it.
 */
function checkValue(value: string, field = "value"): void {
  checkPrintable(value, field);
  if (value.length >= 3) {
    const inner = value.indexOf('"', 1);
    if (inner !== -1 && inner < value.length - 1) {
      throw new CmdlineError(
        "InvalidQuote",
        `${field} ${show(value)} has a double quote at index ${inner}; quotes may only open and close a value`,
        { field, value },
      );
    }
  }
  const quoted = value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"';
  if (value.includes(" ") && !quoted) {
    throw new CmdlineError(
      "NoQuoteSpace",
      `${field} ${show(value)} contains a space but is not surrounded by double quotes`,
      { field, value },
    );
  }
}

function checkInteger(field: string, v: number, max: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new CmdlineError(
      "InvalidInteger",
      `${field} ${showValue(v)} is not an integer from 0 to ${hex(max)}`,
      { field, value: typeof v === "number" ? v : showValue(v), limit: max },
    );
  }
}

/** The crate's size spelling for `virtio_mmio.device=`: the largest of G, M, K that divides exactly. */
function sizeToString(size: number): string {
  if (size % GIB === 0) return `${size / GIB}G`;
  if (size % MIB === 0) return `${size / MIB}M`;
  if (size % KIB === 0) return `${size / KIB}K`;
  return `${size}`;
}

/**
 * A kernel command line that validates every argument as it is added and never grows past its capacity.
 *
 * @example Build, then get the bytes to put in guest memory
 * ```ts
 * import { Cmdline } from "@linux-loader/linux-loader";
 * const cl = new Cmdline(100);
 * cl.insert("console", "ttyS0");
 * cl.insertStr("panic=1");
 * cl.insertInitArgs("--verbose");
 * console.log(cl.asString()); // console=ttyS0 panic=1 -- --verbose
 * console.log(cl.asCString().at(-1)); // 0
 * ```
 *
 * @example Errors carry the crate's variant as `code`
 * ```ts
 * import { Cmdline, CmdlineError } from "@linux-loader/linux-loader";
 * const cl = new Cmdline(100);
 * try {
 *   cl.insert("bad key", "x");
 * } catch (e) {
 *   if (e instanceof CmdlineError) console.log(e.code); // HasSpace
 * }
 * ```
 */
export class Cmdline {
  #boot = "";
  #init = "";
  // UTF-8 byte counts of #boot and #init, kept with them (so a capacity check does not rescan the line).
  #bootBytes = 0;
  #initBytes = 0;
  // The last asCString result and the arguments it was made from.
  #cachedBoot: string | undefined;
  #cachedInit = "";
  #cached = new Uint8Array(0);
  #capacity: number;

  /**
   * An empty command line holding at most `capacity` bytes, the terminating NUL included. Throws
   * {@linkcode CmdlineError} `InvalidCapacity` for 0 (or for anything not a non-negative safe integer).
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(4); // room for "a=b"
   * cl.insert("a", "b");
   * console.log(cl.asString()); // a=b
   * ```
   */
  constructor(capacity: number) {
    Cmdline.#checkCapacity(capacity);
    this.#capacity = capacity;
  }

  static #checkCapacity(capacity: number): void {
    if (typeof capacity !== "number" || !Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new CmdlineError(
        "InvalidCapacity",
        `capacity ${showValue(capacity)} is invalid: it must be a safe integer of at least 1 (room for the NUL)`,
        { field: "capacity", value: typeof capacity === "number" ? capacity : showValue(capacity), limit: 1 },
      );
    }
  }

  /** The most bytes the command line may take, its terminating NUL included. */
  get capacity(): number {
    return this.#capacity;
  }

  /** The boot arguments (what comes before `" -- "`). */
  get bootArgs(): string {
    return this.#boot;
  }

  /** The init arguments (what comes after `" -- "`), empty when there are none. */
  get initArgs(): string {
    return this.#init;
  }

  /** Bytes the NUL-terminated text takes now (the crate's accounting, used for every capacity check). */
  #size(): number {
    let n = this.#bootBytes + 1;
    if (this.#init !== "") n += INIT_ARGS_SEPARATOR.length + this.#initBytes;
    return n;
  }

  #tooLarge(what: string, s: string, needed: number): never {
    throw new CmdlineError(
      "TooLarge",
      `adding ${what} ${
        show(s)
      } would make the command line ${needed} bytes with its NUL, over the capacity of ${this.#capacity}`,
      { field: what, value: s, limit: this.#capacity },
    );
  }

  /**
   * Adds `key=value` to the boot arguments. The key must be printable ASCII without spaces or `=`; the
   * value printable ASCII, with double quotes only at its ends and spaces only when quoted. Errors:
   * `InvalidAscii`, `HasSpace`, `HasEquals`, `InvalidQuote`, `NoQuoteSpace`, `TooLarge`. A failed insert
   * changes nothing.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(100);
   * cl.insert("root", "/dev/vda");
   * cl.insert("dyndbg", '"file x.c +p"');
   * console.log(cl.asString()); // root=/dev/vda dyndbg="file x.c +p"
   * ```
   */
  insert(key: string, value: string): void {
    checkKey(key);
    checkValue(value);
    this.insertStr(`${key}=${value}`);
  }

  /**
   * Adds `key=v1,v2,...` to the boot arguments. Errors as {@linkcode Cmdline.insert}, plus `MissingVal`
   * (naming the key) when `values` is empty.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(100);
   * cl.insertMultiple("console", ["ttyS0", "115200n8"]);
   * console.log(cl.asString()); // console=ttyS0,115200n8
   * ```
   */
  insertMultiple(key: string, values: readonly string[]): void {
    checkKey(key);
    if (!Array.isArray(values)) {
      throw new CmdlineError("MissingVal", `values for key ${show(key)} are not an array`, {
        field: "values",
        value: typeof values,
      });
    }
    if (values.length === 0) {
      throw new CmdlineError("MissingVal", `missing value for key ${show(key)}: no values were given`, {
        field: "values",
        value: key,
      });
    }
    values.forEach((v, i) => checkValue(v, `values[${i}]`));
    this.insertStr(`${key}=${values.join(",")}`);
  }

  /**
   * Adds text to the boot arguments, after a space when there are some already. Leading and trailing
   * whitespace is trimmed first (Rust's `trim`), then the text must be printable ASCII (`InvalidAscii`) and
   * fit (`TooLarge`). Nothing else is checked: `insertStr` is the escape hatch for text the key/value rules
   * do not cover.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(13);
   * cl.insertStr("noapic");
   * cl.insertStr(" nopci ");
   * console.log(cl.asString()); // noapic nopci
   * ```
   */
  insertStr(str: string): void {
    checkText(str, "string");
    const s = rustTrim(str);
    checkPrintable(s, "string");
    let needed = this.#size();
    if (this.#boot !== "") needed += 1;
    needed += s.length;
    if (needed > this.#capacity) this.#tooLarge("string", s, needed);
    if (this.#boot !== "") {
      this.#boot += " ";
      this.#bootBytes += 1;
    }
    this.#boot += s;
    this.#bootBytes += s.length; // printable ASCII: one byte per character
  }

  /**
   * Adds text to the init arguments (after `" -- "`), after a space when there are some already. Trimmed,
   * then checked as {@linkcode Cmdline.insertStr}; the first init argument also pays for the 4-byte
   * separator.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(20);
   * cl.insertStr("foo");
   * cl.insertInitArgs("bar");
   * console.log(cl.asString()); // foo -- bar
   * ```
   */
  insertInitArgs(str: string): void {
    checkText(str, "init argument");
    const s = rustTrim(str);
    checkPrintable(s, "init argument");
    let needed = this.#size();
    needed += this.#init === "" ? INIT_ARGS_SEPARATOR.length : 1;
    needed += s.length;
    if (needed > this.#capacity) this.#tooLarge("init argument", s, needed);
    if (this.#init !== "") {
      this.#init += " ";
      this.#initBytes += 1;
    }
    this.#init += s;
    this.#initBytes += s.length; // printable ASCII: one byte per character
  }

  /**
   * Adds a `virtio_mmio.device=<size>@<baseAddr>:<irq>[:<id>]` boot argument, once per device. The size
   * is spelled with the largest of the suffixes G, M, K that divides it (`4096` is `4K`), the address in
   * lowercase hexadecimal with `0x`. Errors: `MmioSize` for a size of 0, `InvalidInteger` for a size or
   * address that is not a non-negative safe integer or an IRQ or id outside u32, and `TooLarge`.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(100);
   * cl.addVirtioMmioDevice(0x1000, 0xd000_0000, 5, 42);
   * console.log(cl.asString()); // virtio_mmio.device=4K@0xd0000000:5:42
   * ```
   */
  addVirtioMmioDevice(size: number, baseAddr: number, irq: number, id?: number): void {
    checkInteger("size", size, Number.MAX_SAFE_INTEGER);
    if (size === 0) {
      throw new CmdlineError("MmioSize", "virtio MMIO device size is 0; a device needs a slot of at least 1 byte", {
        field: "size",
        value: size,
      });
    }
    checkInteger("baseAddr", baseAddr, Number.MAX_SAFE_INTEGER);
    checkInteger("irq", irq, U32_MAX);
    if (id !== undefined) checkInteger("id", id, U32_MAX);
    let dev = `virtio_mmio.device=${sizeToString(size)}@0x${baseAddr.toString(16)}:${irq}`;
    if (id !== undefined) dev += `:${id}`;
    this.insertStr(dev);
  }

  /**
   * The text the kernel will read, without the NUL: boot arguments, then `" -- "` and init arguments if
   * any. Throws `NoBootArgsInserted` when there are init arguments but no boot arguments, and
   * `NullTerminator` when the text holds a NUL (only {@linkcode Cmdline.parse} can put one there).
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = Cmdline.parse("quiet -- single", 100);
   * console.log(cl.asString()); // quiet -- single
   * ```
   */
  asString(): string {
    if (this.#boot === "" && this.#init !== "") {
      throw new CmdlineError(
        "NoBootArgsInserted",
        `the command line has init arguments ${show(this.#init)} but no boot arguments`,
        { field: "bootArgs", value: this.#init },
      );
    }
    const text = this.#init === "" ? this.#boot : `${this.#boot}${INIT_ARGS_SEPARATOR}${this.#init}`;
    const nul = text.indexOf("\0");
    if (nul !== -1) {
      throw new CmdlineError(
        "NullTerminator",
        `the command line ${show(text)} holds a NUL at index ${nul}; the kernel would stop reading there`,
        { field: "cmdline", value: text, limit: nul },
      );
    }
    return text;
  }

  /**
   * The bytes to write to guest memory: {@linkcode Cmdline.asString} in UTF-8 (ASCII unless parsed from
   * other text) and a terminating NUL. Errors as `asString`.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(100);
   * cl.insertStr("foobar");
   * console.log(cl.asCString()); // Uint8Array(7) [ 102, 111, 111, 98, 97, 114, 0 ]
   * ```
   */
  asCString(): Uint8Array {
    // The bytes depend on the arguments only: a line written at every boot is encoded once.
    if (this.#boot === this.#cachedBoot && this.#init === this.#cachedInit) return this.#cached.slice();
    const text = this.asString();
    const bytes = new Uint8Array(this.#size()); // the text's UTF-8 bytes and the NUL
    utf8.encodeInto(text, bytes);
    this.#cachedBoot = this.#boot;
    this.#cachedInit = this.#init;
    this.#cached = bytes.slice();
    return bytes;
  }

  /**
   * A description that never throws: boot arguments, then `" -- "` and init arguments if any. Use
   * {@linkcode Cmdline.asString} for the text to hand to a kernel; it checks what this does not.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = new Cmdline(100);
   * cl.insert("a", "b");
   * console.log(`${cl}`); // a=b
   * ```
   */
  toString(): string {
    return this.#init === "" ? this.#boot : `${this.#boot}${INIT_ARGS_SEPARATOR}${this.#init}`;
  }

  /**
   * The crate's equality: two command lines are equal when `asCString` gives the same bytes, or fails with
   * the same code on both. Capacity does not count.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const a = new Cmdline(20), b = new Cmdline(30);
   * a.insertStr("hello world!");
   * b.insertStr("hello");
   * b.insertStr("world!");
   * console.log(a.equals(b)); // true
   * ```
   */
  equals(other: Cmdline): boolean {
    if (!(other instanceof Cmdline)) return false;
    const a = outcome(this), b = outcome(other);
    return a === b;
  }

  /**
   * A copy with the same arguments and capacity.
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const a = Cmdline.parse("quiet", 10);
   * const b = a.clone();
   * b.insertStr("ro");
   * console.log(a.asString(), b.asString()); // quiet quiet ro
   * ```
   */
  clone(): Cmdline {
    const c = new Cmdline(this.#capacity);
    c.#boot = this.#boot;
    c.#init = this.#init;
    c.#bootBytes = this.#bootBytes;
    c.#initBytes = this.#initBytes;
    return c;
  }

  /**
   * Builds a command line from text, as the crate's `Cmdline::try_from(text, capacity)`. The text splits
   * at the first `" -- "` that follows an even number of double quotes (so a quoted `" -- "` stays in the
   * boot arguments); both parts are trimmed. Nothing else is validated (as in the crate): a NUL is only
   * reported later, by `asCString`. Errors: `InvalidCapacity` for a capacity of 0 and for text that does
   * not fit (the crate's choice, rather than `TooLarge`), and `InvalidAscii` for a string that is not
   * well-formed UTF-16 (a lone surrogate, which a Rust `&str` cannot hold).
   *
   * @example
   * ```ts
   * import { Cmdline } from "@linux-loader/linux-loader";
   * const cl = Cmdline.parse('a="b -- c" d -- e', 100);
   * console.log(cl.bootArgs); // a="b -- c" d
   * console.log(cl.initArgs); // e
   * ```
   */
  static parse(text: string, capacity: number): Cmdline {
    Cmdline.#checkCapacity(capacity);
    checkText(text, "text");
    const lone = text.search(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    if (lone !== -1) {
      throw new CmdlineError(
        "InvalidAscii",
        `text has a lone UTF-16 surrogate at index ${lone}; it is not a valid string`,
        { field: "text", value: text, limit: lone },
      );
    }
    let boot = text, init = "";
    // Matches do not overlap, as with Rust's `match_indices`. The quotes before each match are counted on
    // from the previous one, so the whole scan is linear in the text.
    let quotes = 0, counted = 0;
    for (let at = text.indexOf(INIT_ARGS_SEPARATOR); at !== -1;) {
      quotes += countQuotes(text, counted, at);
      counted = at;
      if (quotes % 2 === 0) {
        boot = text.slice(0, at);
        init = text.slice(at + INIT_ARGS_SEPARATOR.length);
        break;
      }
      at = text.indexOf(INIT_ARGS_SEPARATOR, at + INIT_ARGS_SEPARATOR.length);
    }
    boot = rustTrim(boot);
    init = rustTrim(init);
    const bootBytes = utf8Length(boot), initBytes = utf8Length(init);
    let needed = bootBytes + 1;
    if (init !== "") needed += INIT_ARGS_SEPARATOR.length + initBytes;
    if (needed > capacity) {
      throw new CmdlineError(
        "InvalidCapacity",
        `text ${show(text)} needs ${needed} bytes with its NUL, over the capacity of ${capacity}`,
        { field: "capacity", value: needed, limit: capacity },
      );
    }
    const cl = new Cmdline(capacity);
    cl.#boot = boot;
    cl.#init = init;
    cl.#bootBytes = bootBytes;
    cl.#initBytes = initBytes;
    return cl;
  }
}

/** The double quotes in `text[from, end)`. */
function countQuotes(text: string, from: number, end: number): number {
  let n = 0;
  for (let i = from; i < end; i++) if (text.charCodeAt(i) === 0x22) n++;
  return n;
}

/** `asString`'s result or its error code, tagged so the two cannot collide. */
function outcome(c: Cmdline): string {
  try {
    return `ok:${c.asString()}`;
  } catch (e) {
    if (e instanceof CmdlineError) return `err:${e.code}`;
    throw e;
  }
}
