// decodeLzo against Debian's lzop tool: round trips over generated inputs at several levels and checksum
// options, the tool's edge cases (empty input, one byte, incompressible data stored as is, many 256 KiB
// blocks, concatenated files), header checks, and corrupt input (truncation anywhere, bit flips: a typed
// error or the identical output, in bounded time, and never a block that fails its checksum in the sink).

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeLzo, LZO_BLOCK_SIZE } from "../../lib/compress/lzo.ts";
import { adler32 } from "../../lib/compress/checksum.ts";
import { BufferSink, CountingSink } from "../../lib/compress/sink.ts";
import { ignoreUnless } from "../_require.ts";
import { checkProperty, isFuzz } from "../prop/_config.ts";
import { HANG_MS } from "../prop/_harness.ts";
import {
  assertBytes,
  corrupt,
  corruptionArb,
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

const ignore = ignoreUnless(hasTool("lzop"), "lzop");
const lzop = (data: Uint8Array, ...args: string[]) => runTool("lzop", [...args, "-c"], data);

const decode = (packed: Uint8Array, maxOutput?: number) => decodeCollect(decodeLzo, packed, maxOutput);

// Header layout of what lzop 1.04 writes: magic (9), version, lib version, version needed (2 each), method
// (at 15), level (1 each), flags (4, at 17), mode, mtime low, mtime high (4 each), name length (at 33), name,
// checksum.
const METHOD_AT = 15;
const FLAGS_AT = 17;
const NAME_LEN_AT = 33;
/** Offset of the header checksum of an lzop file. */
const headerSumAt = (b: Uint8Array) => NAME_LEN_AT + 1 + b[NAME_LEN_AT];

Deno.test({
  name: "decodeLzo gives back exactly what lzop packed, at every level and checksum option",
  ignore,
  async fn() {
    const options = [["-1"], ["-3"], ["-7"], ["-9"], ["--crc32"], ["-F"], ["-9", "--crc32"]];
    await fc.assert(
      fc.asyncProperty(plainArb, fc.constantFrom(...options), async (plain, args) => {
        const packed = await lzop(plain, ...args);
        const r = decode(packed);
        assertBytes(r.bytes, plain);
        assert.equal(r.consumed, packed.byteLength);
      }),
      { numRuns: toolRuns(), seed: 0x6c7a6f },
    );
  },
});

Deno.test({
  name: "decodeLzo decodes lzop's empty file and a one-byte file",
  ignore,
  async fn() {
    for (const plain of [new Uint8Array(0), new Uint8Array([0x41])]) {
      const packed = await lzop(plain, "-9");
      const r = decode(packed);
      assertBytes(r.bytes, plain);
      assert.equal(r.consumed, packed.byteLength);
    }
  },
});

Deno.test({
  name: "decodeLzo decodes incompressible blocks stored as is and many 256 KiB blocks, one block per sink write",
  ignore,
  async fn() {
    const plain = new Uint8Array([...randomBytes(600_000, 5), ...sample(700_000), ...new Uint8Array(300_000)]);
    const r = decode(await lzop(plain, "-9"));
    assertBytes(r.bytes, plain);
    assert.equal(r.largest, LZO_BLOCK_SIZE);
  },
});

Deno.test({
  name: "decodeLzo decodes concatenated lzop files as one output and stops before a kernel's size trailer",
  ignore,
  async fn() {
    const a = sample(1000);
    const b = randomBytes(500);
    const pa = await lzop(a, "-1");
    const pb = await lzop(b, "-9");
    const joined = new Uint8Array([...pa, ...pb, 0xdc, 0x05, 0, 0]);
    const r = decode(joined);
    assertBytes(r.bytes, new Uint8Array([...a, ...b]));
    assert.equal(r.consumed, pa.byteLength + pb.byteLength);
  },
});

Deno.test("decodeLzo rejects input without the lzop magic", () => {
  throwsCode(() => decodeLzo(new Uint8Array(0), new CountingSink()), "BadMagic");
  throwsCode(
    () => decodeLzo(new Uint8Array([0x89, 0x4c, 0x5a, 0x4f, 0, 0x0d, 0x0a, 0x1a]), new CountingSink()),
    "BadMagic",
  );
});

Deno.test({
  name: "decodeLzo rejects a header whose checksum, method or flags are wrong",
  ignore,
  async fn() {
    const packed = await lzop(sample(2000), "-9");
    const badSum = packed.slice();
    badSum[25] ^= 1; // mtime: covered by the header checksum
    assert.match(throwsCode(() => decode(badSum), "CorruptData").message, /header checksum/);
    // A changed method or flag with a recomputed checksum: refused for what it says.
    const withHeader = (edit: (b: Uint8Array) => void): Uint8Array => {
      const b = packed.slice();
      edit(b);
      const end = headerSumAt(b);
      new DataView(b.buffer).setUint32(end, adler32(1, b, 9, end));
      return b;
    };
    assert.match(throwsCode(() => decode(withHeader((b) => b[METHOD_AT] = 0x40)), "CorruptData").message, /method/);
    assert.match(throwsCode(() => decode(withHeader((b) => b[FLAGS_AT + 1] |= 0x01)), "CorruptData").message, /flags/);
    assert.match(throwsCode(() => decode(withHeader((b) => b[FLAGS_AT + 2] |= 0x08)), "CorruptData").message, /filter/);
    // The recomputed checksum alone is accepted (the edit helper is right).
    assertBytes(decode(withHeader(() => {})).bytes, sample(2000));
  },
});

Deno.test({
  name: "decodeLzo rejects a block larger than the 256 KiB Linux accepts and a block failing its Adler-32",
  ignore,
  async fn() {
    const packed = await lzop(sample(2000), "-9");
    const headerEnd = headerSumAt(packed) + 4;
    const big = packed.slice();
    new DataView(big.buffer).setUint32(headerEnd, LZO_BLOCK_SIZE + 1);
    assert.match(throwsCode(() => decode(big), "CorruptData").message, /256|262144/);
    const badData = packed.slice();
    badData[headerEnd + 8] ^= 1; // the block's Adler-32 of its data
    const sink = new CountingSink();
    assert.match(throwsCode(() => decodeLzo(badData, sink), "CorruptData").message, /Adler-32/);
    assert.equal(sink.written, 0, "the failing block never reached the sink");
  },
});

Deno.test({
  name: "decodeLzo refuses output above maxOutput before the sink receives it",
  ignore,
  async fn() {
    const plain = sample(600_000);
    const packed = await lzop(plain, "-9");
    for (const max of [0, 1, LZO_BLOCK_SIZE - 1, LZO_BLOCK_SIZE, 599_999]) {
      const sink = new BufferSink(new Uint8Array(max));
      throwsCode(() => decodeLzo(packed, sink, { maxOutput: max }), "OutputTooLarge");
      assertBytes(sink.bytes(), plain.subarray(0, sink.written), "prefix");
    }
    assert.equal(decodeLzo(packed, new CountingSink(), { maxOutput: 600_000 }).written, 600_000);
  },
});

Deno.test({
  name:
    "decodeLzo on truncated or bit-flipped input throws a typed error or gives the identical output, in bounded time",
  ignore,
  async fn() {
    const plain = new Uint8Array([...sample(300_000), ...randomBytes(3000, 3), ...new Uint8Array(3000)]);
    // -F: no checksums, so the LZO1X decoder itself meets the corrupt bytes.
    for (const args of [["-9"], ["-1", "-F"]]) {
      const packed = await lzop(plain, ...args);
      let errors = 0;
      checkProperty(
        `lzop corrupt input ${args.join(" ")}`,
        fc.property(corruptionArb, (c) => {
          const bad = corrupt(packed, c);
          const t0 = performance.now();
          const r = typedOrOk(() => decode(bad, 1 << 20));
          assert.ok(performance.now() - t0 < HANG_MS, "took too long");
          if (r.ok && !args.includes("-F")) assertBytes(r.value.bytes, plain, "a corrupt file that decodes");
          if (!r.ok) errors++;
        }),
        isFuzz() ? {} : { numRuns: 300 },
      );
      assert.ok(errors > 50, `${errors} errors`);
    }
  },
});

Deno.test("decodeLzo on the lzop magic followed by random bytes throws only typed errors and never hangs", () => {
  checkProperty(
    "lzop random bytes",
    fc.property(fc.uint8Array({ maxLength: 3000 }), (body) => {
      const input = new Uint8Array([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, ...body]);
      const t0 = performance.now();
      typedOrOk(() => decodeLzo(input, new CountingSink(), { maxOutput: 1 << 20 }));
      assert.ok(performance.now() - t0 < HANG_MS, "took too long");
    }),
  );
});
