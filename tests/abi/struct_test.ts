import assert from "node:assert/strict";
import { AbiError } from "../../mod.ts";
import { Struct } from "../../abi.ts";

interface Demo {
  a: number;
  b: number;
  c: number;
  d: bigint;
  e: Uint8Array;
  f: number;
  g: bigint;
}
const DEMO = new Struct<Demo>("demo", 40, [
  ["a", 0, "u8"],
  ["b", 2, "u16"],
  ["c", 4, "u32"],
  ["d", 8, "u64"],
  ["e", 16, { bytes: 4 }],
  ["f", 20, "be32"],
  ["g", 24, "be64"],
]);

Deno.test("Struct round-trips every field kind", () => {
  const v: Demo = {
    a: 1,
    b: 0x203,
    c: 0x4050607,
    d: 0x08090a0b0c0d0e0fn,
    e: new Uint8Array([1, 2, 3, 4]),
    f: 0xd00dfeed,
    g: 5n,
  };
  const bytes = DEMO.encode(v);
  assert.equal(bytes.length, 40);
  assert.deepEqual(DEMO.decode(bytes), v);
  assert.deepEqual([...bytes.subarray(20, 24)], [0xd0, 0x0d, 0xfe, 0xed]);
});

Deno.test("Struct stores integers modulo their width", () => {
  const bytes = DEMO.encode({ c: 2 ** 32 + 5, d: -1n });
  const dv = new DataView(bytes.buffer);
  assert.equal(DEMO.get(dv, 0, "c"), 5);
  assert.equal(DEMO.get(dv, 0, "d"), 2n ** 64n - 1n);
});

Deno.test("Struct reads and writes one field at a base offset", () => {
  const dv = new DataView(new ArrayBuffer(100));
  DEMO.set(dv, 50, "b", 0xbeef);
  assert.equal(dv.getUint16(52, true), 0xbeef);
  assert.equal(DEMO.get(dv, 50, "b"), 0xbeef);
  assert.equal(DEMO.offsetOf("d"), 8);
});

Deno.test("Struct pads a short byte array with zeros", () => {
  const bytes = DEMO.encode({ e: new Uint8Array([9]) });
  assert.deepEqual([...bytes.subarray(16, 20)], [9, 0, 0, 0]);
});

Deno.test("Struct rejects a field that passes the struct size", () => {
  assert.throws(() => new Struct<{ x: number }>("bad", 2, [["x", 0, "u32"]]), /passes sizeof 2/);
});

Deno.test("Struct reports a buffer too short for the struct or field as a typed AbiError", () => {
  const short = new DataView(new ArrayBuffer(20));
  for (const fn of [() => DEMO.read(short, 0), () => DEMO.get(short, 0, "g"), () => DEMO.decode(new Uint8Array(8))]) {
    assert.throws(fn, (e: unknown) => e instanceof AbiError && e.code === "BufferTooShort");
  }
  assert.throws(
    () => DEMO.set(short, 18, "c", 1),
    (e: unknown) => e instanceof AbiError && e.code === "BufferTooShort",
  );
  assert.equal(DEMO.get(short, 0, "c"), 0); // a field that fits is read
});

Deno.test("Struct refuses a fractional or NaN integer value with a typed AbiError", () => {
  for (const v of [1.5, NaN, Infinity]) {
    assert.throws(
      () => DEMO.encode({ c: v }),
      (e: unknown) => e instanceof AbiError && e.code === "InvalidValue" && e.field === "c",
    );
  }
  assert.throws(() => DEMO.encode({ d: 0.5 as unknown as bigint }), AbiError);
});
