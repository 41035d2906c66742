// decodeGzip / decodeDeflate against zlib (the gzip tool and the platform's CompressionStream): round trips
// over generated inputs at every level, every block type (stored, fixed, dynamic), the longest distance,
// concatenated members, every header field, and corrupt input (truncation anywhere, bit flips: a typed error
// or the identical output, in bounded time); maxOutput before the sink.

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeDeflate, decodeGzip, INFLATE_CHUNK } from "../../lib/compress/inflate.ts";
import { crc32 } from "../../lib/compress/checksum.ts";
import { BufferSink, CountingSink } from "../../lib/compress/sink.ts";
import { ignoreUnless } from "../_require.ts";
import { checkProperty } from "../prop/_config.ts";
import { HANG_MS } from "../prop/_harness.ts";
import {
  assertBytes,
  checkCorruption,
  CollectSink,
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

const ignore = ignoreUnless(hasTool("gzip"), "gzip");
const gzipTool = (data: Uint8Array, level = 6) => runTool("gzip", [`-${level}`, "-n", "-c"], data);

async function platform(data: Uint8Array, format: CompressionFormat): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const gunzip = (packed: Uint8Array, maxOutput?: number) => decodeCollect(decodeGzip, packed, maxOutput);

/** A gzip member around raw deflate data, with the given flags' fields. */
function member(
  deflated: Uint8Array,
  plain: Uint8Array,
  fields: { extra?: Uint8Array; name?: string; hcrc?: boolean },
) {
  const flg = (fields.hcrc ? 2 : 0) | (fields.extra ? 4 : 0) | (fields.name !== undefined ? 8 : 0);
  const head = [0x1f, 0x8b, 8, flg, 0, 0, 0, 0, 0, 3];
  if (fields.extra) head.push(fields.extra.length & 0xff, fields.extra.length >> 8, ...fields.extra);
  if (fields.name !== undefined) head.push(...new TextEncoder().encode(fields.name), 0);
  if (fields.hcrc) {
    const c = crc32(0, Uint8Array.from(head));
    head.push(c & 0xff, (c >>> 8) & 0xff);
  }
  const trailer = new Uint8Array(8);
  const dv = new DataView(trailer.buffer);
  dv.setUint32(0, crc32(0, plain), true);
  dv.setUint32(4, plain.byteLength, true);
  return new Uint8Array([...head, ...deflated, ...trailer]);
}

Deno.test({
  name: "decodeGzip gives back exactly what the gzip tool packed, at every level",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(plainArb, fc.integer({ min: 1, max: 9 }), async (plain, level) => {
        const packed = await gzipTool(plain, level);
        const r = gunzip(packed);
        assertBytes(r.bytes, plain);
        assert.equal(r.consumed, packed.byteLength);
      }),
      { numRuns: toolRuns(), seed: 0x677a },
    );
  },
});

Deno.test("decodeDeflate gives back exactly what CompressionStream('deflate-raw') packed", async () => {
  const cases = await fc.sample(plainArb, { numRuns: 40, seed: 0x7261 });
  for (const plain of cases) {
    const packed = await platform(plain, "deflate-raw");
    const sink = new CollectSink();
    const r = decodeDeflate(packed, sink);
    assertBytes(sink.bytes(), plain);
    assert.equal(r.consumed, packed.byteLength);
  }
});

Deno.test("decodeGzip decodes empty and one-byte members, and a member of stored blocks", async () => {
  for (const plain of [new Uint8Array(0), new Uint8Array([7]), randomBytes(200_000, 11)]) {
    const packed = await platform(plain, "gzip");
    assertBytes(gunzip(packed).bytes, plain);
  }
  // Stored blocks by hand: two non-final and a final one, lengths 0, 3 and 65535.
  const big = randomBytes(65535, 2);
  const raw = new Uint8Array([
    0,
    0,
    0,
    0xff,
    0xff,
    0,
    3,
    0,
    0xfc,
    0xff,
    1,
    2,
    3,
    1,
    0xff,
    0xff,
    0,
    0,
    ...big,
  ]);
  const plain = new Uint8Array([1, 2, 3, ...big]);
  assertBytes(gunzip(member(raw, plain, {})).bytes, plain);
});

Deno.test("decodeGzip decodes fixed-Huffman blocks and matches at the full 32 KiB distance", () => {
  // Fixed block: literal 'a' (0x61 -> code 0x30 + 0x61, 8 bits), then length 258 (code 285: 8 bits 11000101)
  // at distance 1 repeated, end of block. Built with a bit writer.
  const bits: number[] = [];
  const put = (v: number, n: number) => {
    for (let i = 0; i < n; i++) bits.push((v >> i) & 1);
  };
  const putCode = (code: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) bits.push((code >> i) & 1);
  };
  put(1, 1);
  put(1, 2); // final, fixed
  const literal = (b: number) => b < 144 ? putCode(0x30 + b, 8) : putCode(0x190 + b - 144, 9);
  // 32768 distinct-ish literals, then a match of 258 at distance 32768 (code 29, 13 extra bits = 32768 - 24577).
  const plain: number[] = [];
  for (let i = 0; i < 32768; i++) {
    const b = (i * 37 + (i >> 8)) & 0xff;
    literal(b);
    plain.push(b);
  }
  putCode(0xc5, 8); // length code 285: 258
  putCode(29, 5);
  put(32768 - 24577, 13);
  for (let i = 0; i < 258; i++) plain.push(plain[plain.length - 32768]);
  putCode(0, 7); // end of block
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => bytes[i >> 3] |= b << (i & 7));
  const expected = Uint8Array.from(plain);
  assertBytes(gunzip(member(bytes, expected, {})).bytes, expected);
  // One byte more distance than output: refused.
  const short = bytes.slice();
  const sink = new CountingSink();
  throwsCode(() => decodeDeflate(short.subarray(0, 1), sink), "Truncated");
});

Deno.test({
  name:
    "decodeGzip decodes concatenated members as one output, in chunks of at most INFLATE_CHUNK (64 KiB), and stops before other bytes",
  ignore,
  async fn() {
    const a = sample(700_000);
    const b = randomBytes(1000, 4);
    const pa = await gzipTool(a, 9);
    const pb = await gzipTool(b, 1);
    const joined = new Uint8Array([...pa, ...pb, 0x12, 0x34, 0x56, 0x78]);
    const r = gunzip(joined);
    assertBytes(r.bytes, new Uint8Array([...a, ...b]));
    assert.equal(r.consumed, pa.byteLength + pb.byteLength);
    assert.ok(r.largest <= INFLATE_CHUNK);
  },
});

Deno.test("decodeGzip reads FEXTRA, FNAME and FHCRC header fields and checks the header CRC", async () => {
  const plain = sample(5000);
  const raw = await platform(plain, "deflate-raw");
  const m = member(raw, plain, { extra: Uint8Array.from([1, 2, 3, 4]), name: "vmlinux", hcrc: true });
  assertBytes(gunzip(m).bytes, plain);
  const bad = m.slice();
  bad[12] ^= 1; // inside the extra field: the header CRC no longer matches
  assert.match(throwsCode(() => gunzip(bad), "CorruptData").message, /header CRC/);
  const reserved = member(raw, plain, {});
  reserved[3] |= 0x20;
  assert.match(throwsCode(() => gunzip(reserved), "CorruptData").message, /reserved/);
});

Deno.test("decodeGzip reports a CRC-32 or ISIZE that does not match, and input that is not gzip", async () => {
  const packed = await platform(sample(5000), "gzip");
  const badCrc = packed.slice();
  badCrc[badCrc.length - 8] ^= 1;
  assert.match(throwsCode(() => gunzip(badCrc), "CorruptData").message, /CRC-32/);
  const badSize = packed.slice();
  badSize[badSize.length - 4] ^= 1;
  assert.match(throwsCode(() => gunzip(badSize), "CorruptData").message, /ISIZE/);
  throwsCode(() => gunzip(new Uint8Array(0)), "BadMagic");
  throwsCode(() => gunzip(new Uint8Array([0x1f, 0x8b, 7])), "BadMagic");
  throwsCode(() => gunzip(packed.subarray(0, 5)), "Truncated");
});

Deno.test("decodeGzip refuses output above maxOutput before the sink receives it", async () => {
  const plain = sample(1_000_000);
  const packed = await platform(plain, "gzip");
  for (const max of [0, 1, INFLATE_CHUNK - 1, INFLATE_CHUNK, 999_999]) {
    const sink = new BufferSink(new Uint8Array(max));
    throwsCode(() => decodeGzip(packed, sink, { maxOutput: max }), "OutputTooLarge");
    assertBytes(sink.bytes(), plain.subarray(0, sink.written), "prefix");
  }
  assert.equal(decodeGzip(packed, new CountingSink(), { maxOutput: 1_000_000 }).written, 1_000_000);
  throwsCode(() => decodeGzip(packed, new CountingSink(), { maxOutput: -1 }), "OutputTooLarge");
});

Deno.test("decodeGzip on a gzip bomb stops at maxOutput having allocated no more than its constant buffers", async () => {
  // 64 MiB of zeros compress to ~64 KiB; with a 1 MiB limit the decoder stops after about 1 MiB of work.
  const packed = await platform(new Uint8Array(64 << 20), "gzip");
  const sink = new CountingSink();
  throwsCode(() => decodeGzip(packed, sink, { maxOutput: 1 << 20 }), "OutputTooLarge");
  assert.ok(sink.written <= 1 << 20);
});

Deno.test({
  name:
    "decodeGzip on truncated or bit-flipped input throws a typed error or gives the identical output, in bounded time",
  ignore,
  async fn() {
    const plain = new Uint8Array([...sample(100_000), ...randomBytes(3000, 3), ...new Uint8Array(3000)]);
    for (const level of [1, 9]) {
      const packed = await gzipTool(plain, level);
      checkCorruption(
        `gzip corrupt input -${level}`,
        packed,
        plain,
        (bad) => gunzip(bad, 1 << 20),
        "a corrupt member that decodes must give the same bytes",
      );
    }
  },
});

Deno.test("decodeDeflate on random bytes throws only typed errors and never hangs", () => {
  checkProperty(
    "deflate random bytes",
    fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      const t0 = performance.now();
      typedOrOk(() => decodeDeflate(bytes, new CountingSink(), { maxOutput: 1 << 20 }));
      assert.ok(performance.now() - t0 < HANG_MS, "took too long");
    }),
  );
});
