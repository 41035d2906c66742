// decodeBzip2 against Debian's bzip2 tool: round trips over generated inputs at every level, the tool's edge
// cases (empty input, one byte, incompressible data, concatenated streams, many blocks, long runs), and
// corrupt input (truncation anywhere, bit flips: a typed error or the identical output, in bounded time).

import assert from "node:assert/strict";
import fc from "fast-check";
import { BZIP2_CHUNK, decodeBzip2 } from "../../lib/compress/bzip2.ts";
import { BufferSink, CountingSink } from "../../lib/compress/sink.ts";
import { ignoreUnless } from "../_require.ts";
import { checkProperty, isFuzz } from "../prop/_config.ts";
import { HANG_MS } from "../prop/_harness.ts";
import {
  assertBytes,
  checkCorruption,
  decodeCollect,
  hasTool,
  plainArb,
  randomBytes,
  runTool,
  sample,
  throwsCode,
  toolRuns,
  typedOrOk,
} from "./_tools.ts";

const ignore = ignoreUnless(hasTool("bzip2"), "bzip2");
const bzip2 = (data: Uint8Array, level = 9) => runTool("bzip2", [`-${level}`, "-c"], data);

const decode = (packed: Uint8Array, maxOutput?: number) => decodeCollect(decodeBzip2, packed, maxOutput);

Deno.test({
  name: "decodeBzip2 gives back exactly what the bzip2 tool packed, at every level",
  ignore,
  async fn() {
    const sizes: number[] = [];
    await fc.assert(
      fc.asyncProperty(plainArb, fc.integer({ min: 1, max: 9 }), async (plain, level) => {
        const packed = await bzip2(plain, level);
        sizes.push(plain.byteLength);
        const r = decode(packed);
        assertBytes(r.bytes, plain);
        assert.equal(r.consumed, packed.byteLength);
      }),
      { numRuns: toolRuns(), seed: 0x627a32 },
    );
    // The generator must give large inputs (many symbols per table) and small ones.
    assert.ok(
      Math.max(...sizes) > 10_000 && Math.min(...sizes) < 100,
      `sizes ${Math.min(...sizes)}..${Math.max(...sizes)}`,
    );
  },
});

Deno.test({
  name: "decodeBzip2 decodes the tool's empty stream and a one-byte stream",
  ignore,
  async fn() {
    for (const plain of [new Uint8Array(0), new Uint8Array([0x41])]) {
      const packed = await bzip2(plain);
      const r = decode(packed);
      assertBytes(r.bytes, plain);
      assert.equal(r.consumed, packed.byteLength);
    }
  },
});

Deno.test({
  name: "decodeBzip2 decodes incompressible data spanning several level-1 blocks, in chunks of at most 64 KiB",
  ignore,
  async fn() {
    const plain = randomBytes(350_000, 7);
    const r = decode(await bzip2(plain, 1));
    assertBytes(r.bytes, plain);
    assert.ok(r.largest <= BZIP2_CHUNK);
  },
});

Deno.test({
  name: "decodeBzip2 expands long runs (the initial run-length coding and RUNA/RUNB) in every block",
  ignore,
  async fn() {
    // Runs of every length around the 4-byte threshold and the 255 count, and one huge run.
    const parts: number[] = [];
    for (let n = 1; n < 300; n++) for (let i = 0; i < n; i++) parts.push(n & 0xff);
    const plain = new Uint8Array(parts.length + 5_000_000);
    plain.set(parts);
    plain.fill(0x5a, parts.length);
    const r = decode(await bzip2(plain, 1));
    assertBytes(r.bytes, plain);
  },
});

Deno.test({
  name: "decodeBzip2 decodes all 256 byte values and concatenated streams as one output",
  ignore,
  async fn() {
    const a = Uint8Array.from({ length: 256 * 40 }, (_, i) => (i * 151) & 0xff);
    const b = sample(30_000);
    const pa = await bzip2(a, 2);
    const pb = await bzip2(b, 9);
    const both = new Uint8Array([...pa, ...pb]);
    const r = decode(both);
    assertBytes(r.bytes, new Uint8Array([...a, ...b]));
    assert.equal(r.consumed, both.byteLength);
  },
});

Deno.test({
  name: "decodeBzip2 stops before a kernel's size trailer and says where",
  ignore,
  async fn() {
    const plain = sample(10_000);
    const packed = await bzip2(plain);
    const withTrailer = new Uint8Array([...packed, 0x10, 0x27, 0, 0]);
    const r = decode(withTrailer);
    assertBytes(r.bytes, plain);
    assert.equal(r.consumed, packed.byteLength);
  },
});

Deno.test("decodeBzip2 rejects input without a BZh1-9 header", () => {
  throwsCode(() => decodeBzip2(new Uint8Array(0), new CountingSink()), "BadMagic");
  throwsCode(() => decodeBzip2(new TextEncoder().encode("BZh0xxxxxxxx"), new CountingSink()), "BadMagic");
  throwsCode(() => decodeBzip2(new TextEncoder().encode("BZx9"), new CountingSink()), "BadMagic");
});

Deno.test({
  name: "decodeBzip2 refuses output above maxOutput before the sink receives it",
  ignore,
  async fn() {
    const plain = sample(300_000);
    const packed = await bzip2(plain);
    for (const max of [0, 1, 65_535, 65_536, 299_999]) {
      const sink = new BufferSink(new Uint8Array(max));
      throwsCode(() => decodeBzip2(packed, sink, { maxOutput: max }), "OutputTooLarge");
      assert.ok(sink.written <= max);
      assertBytes(sink.bytes(), plain.subarray(0, sink.written), "prefix");
    }
    assert.equal(decodeBzip2(packed, new CountingSink(), { maxOutput: 300_000 }).written, 300_000);
    throwsCode(() => decodeBzip2(packed, new CountingSink(), { maxOutput: NaN }), "OutputTooLarge");
  },
});

Deno.test({
  name: "decodeBzip2 reports a block CRC and a stream CRC that do not match",
  ignore,
  async fn() {
    const packed = await bzip2(sample(5000));
    const badBlock = packed.slice();
    badBlock[10 + 3] ^= 1; // the block CRC's last byte (after "BZh9" and the 6-byte block magic)
    assert.match(throwsCode(() => decode(badBlock), "CorruptData").message, /block CRC/);
    // The stream CRC: the 32 bits after the end-of-stream magic 0x177245385090, found at its bit offset.
    const bit = (i: number) => (packed[i >> 3] >> (7 - (i & 7))) & 1;
    let eos = -1;
    for (let at = (packed.length - 11) * 8; at < (packed.length - 10) * 8 && eos < 0; at++) {
      let v = 0n;
      for (let k = 0; k < 48; k++) v = (v << 1n) | BigInt(bit(at + k));
      if (v === 0x177245385090n) eos = at;
    }
    assert.ok(eos > 0, "end-of-stream magic found");
    const badStream = packed.slice();
    const crcBit = eos + 48 + 31;
    badStream[crcBit >> 3] ^= 0x80 >> (crcBit & 7);
    assert.match(throwsCode(() => decode(badStream), "CorruptData").message, /stream CRC/);
  },
});

Deno.test({
  name: "decodeBzip2 rejects a randomised block, as Linux does",
  ignore,
  async fn() {
    const packed = await bzip2(sample(1000));
    // The randomised bit follows "BZh9", the 48-bit block magic and the 32-bit CRC: byte 14, top bit.
    packed[14] |= 0x80;
    assert.match(throwsCode(() => decode(packed), "Unsupported").message, /randomised/);
  },
});

Deno.test({
  name:
    "decodeBzip2 on truncated or bit-flipped input throws a typed error or gives the identical output, in bounded time",
  ignore,
  async fn() {
    const plain = new Uint8Array([...sample(20_000), ...randomBytes(3000, 3), ...new Uint8Array(3000)]);
    const packed = await bzip2(plain, 1);
    checkCorruption(
      "bzip2 corrupt input",
      packed,
      plain,
      (bad) => decode(bad, 1 << 20),
      "a corrupt stream that decodes must give the same bytes",
    );
  },
});

Deno.test("decodeBzip2 on a BZh header followed by random bytes throws only typed errors and never hangs", () => {
  checkProperty(
    "bzip2 random bytes",
    fc.property(fc.integer({ min: 1, max: 9 }), fc.uint8Array({ maxLength: 3000 }), (level, body) => {
      const input = new Uint8Array([0x42, 0x5a, 0x68, 0x30 + level, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, ...body]);
      const t0 = performance.now();
      typedOrOk(() => decodeBzip2(input, new CountingSink(), { maxOutput: 1 << 20 }));
      assert.ok(performance.now() - t0 < HANG_MS, "took too long");
    }),
    isFuzz() ? {} : { numRuns: 300 },
  );
});
