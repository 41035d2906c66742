// Properties of Cmdline and loadCmdline. Run counts and seeds come from ./_config.ts (1000 runs with a
// fixed seed by default; FUZZ=1 FUZZ_RUNS=n for a random-seed fuzz run).

import assert from "node:assert/strict";
import fc from "fast-check";
import { Cmdline } from "../../lib/cmdline.ts";
import { CmdlineError, KernelLoaderError } from "../../lib/errors.ts";
import { GuestMemory } from "../../lib/memory.ts";
import { loadCmdline } from "../../lib/loader/cmdline.ts";
import { checkProperty } from "./_config.ts";

// --- operations ----------------------------------------------------------------------------------------------

type Op =
  | { kind: "insert"; key: string; value: string }
  | { kind: "insertStr"; str: string }
  | { kind: "insertMultiple"; key: string; values: string[] }
  | { kind: "insertInitArgs"; str: string }
  | { kind: "mmio"; size: number; baseAddr: number; irq: number; id?: number };

function apply(cl: Cmdline, op: Op): void {
  switch (op.kind) {
    case "insert":
      return cl.insert(op.key, op.value);
    case "insertStr":
      return cl.insertStr(op.str);
    case "insertMultiple":
      return cl.insertMultiple(op.key, op.values);
    case "insertInitArgs":
      return cl.insertInitArgs(op.str);
    case "mmio":
      return cl.addVirtioMmioDevice(op.size, op.baseAddr, op.irq, op.id);
  }
}

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
const chars = (exclude: string): fc.Arbitrary<string> =>
  fc.constantFrom(...PRINTABLE.filter((c) => !exclude.includes(c)));
// '-' weighted up so that "--" and " -- " appear often.
const withDashes = (a: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof({ arbitrary: a, weight: 4 }, { arbitrary: fc.constant("-"), weight: 1 });

// Valid pieces, restricted to the inputs on which the round trip holds (see the property's comment).
const validKey = fc.string({ unit: withDashes(chars(' ="')), maxLength: 8 });
const bareValue = fc.string({ unit: withDashes(chars(' "')), maxLength: 8 });
const quotedValue = fc.oneof(
  fc.string({ unit: withDashes(chars('"')), maxLength: 10 }).map((s) => `"${s}"`),
  fc.constantFrom('"b -- c"', '" -- "', '"--"', '" "'),
);
const validValue = fc.oneof(bareValue, quotedValue);
const bootWord = fc.string({ unit: withDashes(chars(' "')), minLength: 1, maxLength: 10 }).filter((s) => s !== "--");
const initText = fc.string({ unit: withDashes(chars("")), minLength: 1, maxLength: 12 })
  .map((s) => s.trim())
  .filter((s) => s !== "");
const mmio = fc.record(
  {
    size: fc.oneof(
      fc.integer({ min: 1, max: 2 ** 40 }),
      fc.integer({ min: 1, max: 4096 }).map((k) => k * 1024),
      fc.integer({ min: 1, max: 4096 }).map((m) => m * 2 ** 20),
    ),
    baseAddr: fc.maxSafeNat(),
    irq: fc.nat({ max: 0xffff_ffff }),
    id: fc.nat({ max: 0xffff_ffff }),
  },
  { requiredKeys: ["size", "baseAddr", "irq"] },
).map((r): Op => ({ kind: "mmio", ...r }));

const validBootOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ key: validKey, value: validValue }).map((r): Op => ({ kind: "insert", ...r })),
  bootWord.map((str): Op => ({ kind: "insertStr", str })),
  fc.record({ key: validKey, values: fc.array(validValue, { minLength: 1, maxLength: 3 }) })
    .map((r): Op => ({ kind: "insertMultiple", ...r })),
  mmio,
);
const validInitOp: fc.Arbitrary<Op> = initText.map((str): Op => ({ kind: "insertInitArgs", str }));

// Any text, valid or not: printable ASCII plus the characters the rules are about.
const anyText = fc.string({
  unit: fc.oneof(
    { arbitrary: chars(""), weight: 6 },
    { arbitrary: fc.constantFrom(" ", "=", '"', "-", "\t", "\0", "\u0085", "\ufeff", "é", "💖", "\ud800"), weight: 2 },
  ),
  maxLength: 12,
});
const anyOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ key: anyText, value: anyText }).map((r): Op => ({ kind: "insert", ...r })),
  anyText.map((str): Op => ({ kind: "insertStr", str })),
  fc.record({ key: anyText, values: fc.array(anyText, { maxLength: 3 }) })
    .map((r): Op => ({ kind: "insertMultiple", ...r })),
  anyText.map((str): Op => ({ kind: "insertInitArgs", str })),
  fc.record(
    {
      size: fc.oneof(fc.constant(0), fc.integer({ min: -1, max: 2 ** 34 }), fc.constant(0.5)),
      baseAddr: fc.oneof(fc.maxSafeNat(), fc.constant(2 ** 53), fc.constant(-1)),
      irq: fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.constant(2 ** 32)),
      id: fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.constant(-1)),
    },
    { requiredKeys: ["size", "baseAddr", "irq"] },
  ).map((r): Op => ({ kind: "mmio", ...r })),
);

/** Applies ops, keeping those that fit; any error other than TooLarge fails the property. */
function build(capacity: number, ops: readonly Op[]): Cmdline {
  const cl = new Cmdline(capacity);
  for (const op of ops) {
    try {
      apply(cl, op);
    } catch (e) {
      if (!(e instanceof CmdlineError && e.code === "TooLarge")) throw e;
    }
  }
  return cl;
}

/** Applies ops, swallowing CmdlineErrors (any other error is a bug and fails the property). */
function buildAny(
  capacity: number,
  ops: readonly Op[],
  each?: (cl: Cmdline, op: Op, err?: CmdlineError) => void,
): Cmdline {
  const cl = new Cmdline(capacity);
  for (const op of ops) {
    let err: CmdlineError | undefined;
    try {
      apply(cl, op);
    } catch (e) {
      if (!(e instanceof CmdlineError)) throw e;
      err = e;
    }
    each?.(cl, op, err);
  }
  return cl;
}

const utf8Len = (s: string): number => new TextEncoder().encode(s).length;

// --- properties ----------------------------------------------------------------------------------------------

// Round trip. It holds for what the key/value rules allow, with three exceptions on which the crate (and so
// Cmdline) does not round-trip, excluded from the generators: a value with one quote at one end ('"x', which
// the crate accepts) unbalances the quote count parse relies on; an insertStr of "--" (or of text holding
// " -- ") is read back as the separator; blank text after an argument leaves a trailing space that parse trims.
Deno.test("Cmdline.parse of a built command line gives it back", () => {
  checkProperty(
    "cmdline parse(build(x)) round-trips",
    fc.property(
      fc.array(validBootOp, { maxLength: 10 }),
      fc.array(validInitOp, { maxLength: 4 }),
      (bootOps, initOps) => {
        // Init arguments without boot arguments have no text to parse.
        const ops = [...bootOps, ...(bootOps.length === 0 ? [] : initOps)];
        const cl = build(4096, ops);
        const text = cl.asString();
        const back = Cmdline.parse(text, cl.capacity);
        assert.equal(back.bootArgs, cl.bootArgs);
        assert.equal(back.initArgs, cl.initArgs);
        assert.ok(back.equals(cl));
        // The text needs exactly its length plus the NUL.
        Cmdline.parse(text, utf8Len(text) + 1);
        assert.throws(
          () => Cmdline.parse(text, utf8Len(text)),
          (e) => e instanceof CmdlineError && e.code === "InvalidCapacity",
        );
      },
    ),
  );
});

Deno.test("Cmdline never holds more than its capacity minus the NUL", () => {
  checkProperty(
    "cmdline length <= capacity - 1",
    fc.property(fc.integer({ min: 1, max: 64 }), fc.array(anyOp, { maxLength: 16 }), (capacity, ops) => {
      buildAny(capacity, ops, (cl) => {
        assert.ok(utf8Len(cl.toString()) <= capacity - 1, `${JSON.stringify(cl.toString())} over ${capacity}`);
        if (cl.bootArgs !== "" || cl.initArgs === "") assert.ok(cl.asCString().length <= capacity);
      });
    }),
  );
});

Deno.test("Cmdline is unchanged by any rejected insert", () => {
  checkProperty(
    "cmdline rejected insert leaves it unchanged",
    fc.property(fc.integer({ min: 1, max: 64 }), fc.array(anyOp, { maxLength: 16 }), (capacity, ops) => {
      const cl = new Cmdline(capacity);
      for (const op of ops) {
        const before = { boot: cl.bootArgs, init: cl.initArgs, text: cl.toString() };
        try {
          apply(cl, op);
        } catch (e) {
          assert.ok(e instanceof CmdlineError, `not a CmdlineError: ${String(e)}`);
          assert.deepEqual({ boot: cl.bootArgs, init: cl.initArgs, text: cl.toString() }, before);
          continue;
        }
        // An accepted insert only appends.
        assert.ok(cl.bootArgs.startsWith(before.boot) && cl.initArgs.startsWith(before.init));
      }
    }),
  );
});

const MEM_BASE = 0x1_0000, MEM_SIZE = 0x200;
const mem = GuestMemory.fromRanges([[MEM_BASE, MEM_SIZE]]);

Deno.test("loadCmdline accepts every command line that fits at the chosen address", () => {
  checkProperty(
    "cmdline output accepted by loadCmdline",
    fc.property(
      fc.integer({ min: 1, max: MEM_SIZE }),
      fc.oneof(fc.array(anyOp, { maxLength: 16 }), fc.array(validBootOp, { maxLength: 8 })),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (capacity, ops, where) => {
        const cl = buildAny(capacity, ops);
        const addr = MEM_BASE + Math.floor(where * (MEM_SIZE - capacity));
        const before = mem.read(MEM_BASE, MEM_SIZE);
        let bytes: Uint8Array | undefined;
        try {
          bytes = cl.asCString();
        } catch (e) {
          assert.ok(e instanceof CmdlineError && e.code === "NoBootArgsInserted");
        }
        if (bytes === undefined) {
          assert.throws(
            () => loadCmdline(mem, addr, cl),
            (e) => e instanceof KernelLoaderError && e.code === "InvalidCommandLine",
          );
          assert.deepEqual(mem.read(MEM_BASE, MEM_SIZE), before);
          return;
        }
        loadCmdline(mem, addr, cl);
        assert.deepEqual(mem.read(addr, bytes.length), bytes);
        assert.equal(mem.readU8(addr + bytes.length - 1), 0);
      },
    ),
  );
});
