// Regression from issue 18, item 6 (last sentence): a caller in plain JavaScript may pass null, undefined, a
// Symbol, a BigInt, a string, a plain object or NaN where the types say GuestMemory, Uint8Array, number or an
// options object. Every exported function and class method of mod.ts and abi.ts must answer with the library's
// typed error (a LinuxLoaderError subclass), or accept the value by design, never let a platform TypeError or
// RangeError escape. This probe enumerates the exports, so a new export is probed without editing this file.

import assert from "node:assert/strict";
import * as abi from "../../abi.ts";
import * as m from "../../mod.ts";

const BAD: readonly (readonly [string, unknown])[] = [
  ["null", null],
  ["undefined", undefined],
  ["a Symbol", Symbol("s")],
  ["a BigInt", 5n],
  ["a string", "x"],
  ["a plain object", {}],
  ["NaN", NaN],
  // Objects and arrays whose contents are wrong: every field read gives a Symbol (or a BigInt), or one null entry.
  [
    "an object whose every field is a Symbol",
    new Proxy({}, { get: (_t, k) => typeof k === "symbol" ? undefined : Symbol("f") }),
  ],
  [
    "an object whose every field is a BigInt",
    new Proxy({}, { get: (_t, k) => typeof k === "symbol" ? undefined : 7n }),
  ],
  ["an array holding null", [null]],
  ["an array holding a Symbol", [Symbol("e")]],
];

// Valid-looking first arguments, so a bad value in a later position is reached past the first argument's check.
const FIRSTS: readonly (readonly [string, () => unknown])[] = [
  ["GuestMemory", () => m.GuestMemory.fromRanges([[0, 0x10_0000]])],
  ["Uint8Array", () => new Uint8Array(64)],
  ["number", () => 0x1000],
  ["FdtBuilder", () => new m.FdtBuilder()],
];

/**
 * Exports that still let a platform error escape for some bad value, with the reason. Empty: every probed
 * call answers typed. Add an entry here (never silently) if a whole family cannot be fixed at once, so the gap
 * stays visible and counted.
 */
const KNOWN_EXCEPTIONS: ReadonlyMap<string, string> = new Map([]);

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => unknown;
interface Target {
  name: string;
  fn: AnyFn;
  self: unknown;
  /** How many leading positions to probe. */
  arity: number;
}

// Instances whose methods are probed, built fresh per call so one bad call cannot spoil the next.
const INSTANCES: Record<string, () => object> = {
  GuestMemory: () => m.GuestMemory.fromRanges([[0, 0x10_0000]]),
  GuestMemoryRegion: () => m.GuestMemory.fromRanges([[0, 0x1000]]).regions[0],
  Cmdline: () => new m.Cmdline(256),
  BootParams: () => new m.BootParams(new Uint8Array(16), 0x1000),
  FdtBuilder: () => {
    const b = new m.FdtBuilder();
    b.beginNode("");
    return b;
  },
  BufferSink: () => new m.BufferSink(new Uint8Array(64)),
  CountingSink: () => new m.CountingSink(),
};

function targets(): Target[] {
  const out: Target[] = [];
  const add = (name: string, fn: AnyFn, self: unknown) =>
    out.push({ name, fn, self, arity: Math.min(Math.max(fn.length, 1), 3) });
  for (const [modName, mod] of [["mod", m], ["abi", abi]] as const) {
    for (const [key, value] of Object.entries(mod)) {
      if (typeof value === "object" && value !== null && value instanceof abi.Struct) {
        for (const meth of ["decode", "encode"] as const) {
          add(`${modName}.${key}.${meth}`, value[meth] as AnyFn, value);
        }
        continue;
      }
      if (typeof value !== "function") continue;
      if (value.prototype instanceof Error) continue;
      if (!/^[A-Z]/.test(key)) {
        add(`${modName}.${key}`, value as AnyFn, undefined);
        continue;
      }
      // A class: its constructor, its static methods, and (for the classes listed above) its instance methods.
      const cls = value as unknown as new (...args: unknown[]) => unknown;
      add(`${modName}.new ${key}`, (...args: unknown[]) => new cls(...args), undefined);
      out[out.length - 1].arity = Math.min(Math.max(cls.length, 1), 3);
      for (const s of Object.getOwnPropertyNames(cls)) {
        const f = (cls as unknown as Record<string, unknown>)[s];
        if (!["length", "name", "prototype"].includes(s) && typeof f === "function") {
          add(`${modName}.${key}.${s}`, f as AnyFn, cls);
        }
      }
      const make = INSTANCES[key];
      if (make === undefined || modName !== "mod") continue;
      for (const s of Object.getOwnPropertyNames(cls.prototype)) {
        const d = Object.getOwnPropertyDescriptor(cls.prototype, s);
        if (s === "constructor" || d === undefined || typeof d.value !== "function") continue;
        const name = `${modName}.${key}#${s}`;
        out.push({
          name,
          fn: (...args: unknown[]) => (d.value as AnyFn).apply(make(), args),
          self: undefined,
          arity: Math.min(Math.max((d.value as AnyFn).length, 1), 3),
        });
      }
    }
  }
  return out;
}

/** Every call with one bad value; returns the descriptions of calls that threw something untyped. */
async function probe(t: Target): Promise<string[]> {
  const untyped: string[] = [];
  for (let pos = 0; pos < t.arity; pos++) {
    const firsts = pos === 0 ? [["", () => undefined] as const] : FIRSTS;
    for (const [firstName, first] of firsts) {
      for (const [badName, bad] of BAD) {
        const args: unknown[] = [];
        if (pos > 0) args[0] = first();
        args[pos] = bad;
        try {
          await t.fn.apply(t.self, args);
        } catch (e) {
          if (!(e instanceof m.LinuxLoaderError)) {
            const at = pos === 0 ? "" : ` (first argument a ${firstName})`;
            untyped.push(`${t.name}: argument ${pos} ${badName}${at}: ${String(e).slice(0, 100)}`);
          }
        }
      }
    }
  }
  return untyped;
}

Deno.test("every export of mod.ts and abi.ts given null, a Symbol, a BigInt, a string, {} or NaN throws only typed errors", async () => {
  const all = targets();
  // The enumeration itself must not shrink unnoticed (226 targets when this test was written).
  assert.ok(all.length > 200, `only ${all.length} exports probed`);
  const failures: string[] = [];
  const stillFailing = new Set<string>();
  for (const t of all) {
    const untyped = await probe(t);
    if (untyped.length === 0) continue;
    stillFailing.add(t.name);
    if (!KNOWN_EXCEPTIONS.has(t.name)) failures.push(...untyped);
  }
  // A listed exception that now passes must leave the list, so the list stays the true remaining gap.
  const fixed = [...KNOWN_EXCEPTIONS.keys()].filter((k) => !stillFailing.has(k));
  assert.deepEqual(fixed, [], `listed as known exceptions but now typed: ${fixed.join(", ")}`);
  assert.deepEqual(failures, [], `${failures.length} untyped errors:\n${failures.join("\n")}`);
});

Deno.test("a wrong JS type names the argument, what was expected and what was given", () => {
  const mem = m.GuestMemory.fromRanges([[0, 0x1000]]);
  assert.throws(
    () => m.LinuxBootConfigurator.writeBootparams(mem, null as never),
    (e: unknown) => {
      assert.ok(e instanceof m.ConfiguratorError);
      assert.equal(e.code, "InvalidArgument");
      assert.equal(e.field, "params");
      assert.equal(e.value, "null");
      assert.equal(e.limit, "an object");
      return true;
    },
  );
  assert.throws(
    () => m.decodeGzip(5n as never, new m.BufferSink(new Uint8Array(64))),
    (e: unknown) => {
      assert.ok(e instanceof m.DecompressError);
      assert.equal(e.code, "InvalidArgument");
      assert.equal(e.field, "input");
      assert.equal(e.value, "the bigint 5n");
      return true;
    },
  );
  assert.throws(
    () => abi.SETUP_HEADER.decode({} as never),
    (e: unknown) => e instanceof m.AbiError && e.code === "InvalidValue" && e.field === "setup_header bytes",
  );
});

Deno.test("format checks given a value that is no Uint8Array answer 'no' instead of throwing", () => {
  for (const v of [null, undefined, Symbol("s"), 5n, "x", {}]) {
    const bad = v as never;
    assert.equal(m.isGzip(bad), false);
    assert.equal(m.isZstd(bad), false);
    assert.equal(m.isXz(bad), false);
    assert.equal(m.isZboot(bad), false);
    assert.equal(m.isPeImage(bad), false);
    assert.equal(m.detectPeArch(bad), undefined);
    assert.equal(m.detectCompression(bad), undefined);
  }
});
