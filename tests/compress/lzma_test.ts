import assert from "node:assert/strict";
import fc from "fast-check";
import { DecompressError } from "../../lib/errors.ts";
import { CountingSink } from "../../lib/compress/sink.ts";
import { decodeLzma, isLzma, LZMA_HEADER_SIZE } from "../../lib/compress/lzma.ts";
import { ignoreUnless } from "../_require.ts";
import { checkProperty, isFuzz, propParams } from "../prop/_config.ts";
import {
  assertSame,
  compressMany,
  decompressError,
  GrowSink,
  HAS_LZMA,
  HAS_XZ,
  inputArbitrary,
  randomBytes,
  runTool,
  textBytes,
} from "./_tools.ts";

const ignore = ignoreUnless(HAS_XZ, "xz (xz-utils)");
const ignoreLzma = ignoreUnless(HAS_LZMA, "lzmp (Debian package lzma)");

function decode(input: Uint8Array, maxOutput?: number): { bytes: Uint8Array; consumed: number; declared?: number } {
  const sink = new GrowSink();
  const r = decodeLzma(input, sink, maxOutput === undefined ? undefined : { maxOutput });
  assert.equal(r.written, sink.written);
  return { bytes: sink.bytes(), consumed: r.consumed, declared: r.declaredSize };
}

/** xz's .lzma encoder options: presets and lc/lp/pb corners (xz writes an unknown size and an end marker). */
const XZ_LZMA_SETS: string[][] = [
  ["-9"],
  ["-0"],
  ["--lzma1=lc=0,lp=0,pb=0"],
  ["--lzma1=lc=4,lp=0,pb=4,mode=fast"],
  ["--lzma1=lc=1,lp=3,pb=2,dict=64KiB"],
  ["--lzma1=preset=6e,lc=3,lp=0,pb=2,nice=273"],
  ["--lzma1=dict=4KiB"], // the window wraps many times
];

Deno.test({
  name: "decodeLzma reproduces what xz --format=lzma compressed (unknown size, end marker), for generated inputs",
  ignore,
  async fn() {
    const name = "lzma round trip";
    const runs = isFuzz() ? propParams(name).numRuns! : 100;
    const cases = fc.sample(fc.tuple(inputArbitrary, fc.nat(XZ_LZMA_SETS.length - 1)), {
      numRuns: runs,
      seed: propParams(name).seed,
    });
    for (let set = 0; set < XZ_LZMA_SETS.length; set++) {
      const inputs = cases.filter(([, s]) => s === set).map(([d]) => d);
      const files = await compressMany(
        "xz",
        ["-k", "-f", "-q", "--format=lzma", ...XZ_LZMA_SETS[set]],
        inputs,
        ".lzma",
      );
      inputs.forEach((data, i) => {
        const got = decode(files[i]);
        assertSame(got.bytes, data);
        assert.equal(got.consumed, files[i].length);
        assert.equal(got.declared, undefined);
        assertSame(decode(files[i], data.length).bytes, data);
      });
    }
  },
});

Deno.test({
  name:
    "decodeLzma reproduces what lzmp (Debian package lzma) compressed with the size in the header, for generated inputs",
  ignore: ignoreLzma,
  async fn() {
    const name = "lzma known size round trip";
    const runs = isFuzz() ? propParams(name).numRuns! : 40;
    const inputs = fc.sample(inputArbitrary, { numRuns: runs, seed: propParams(name).seed });
    const files = await compressMany("lzmp", ["-k", "-f", "-q"], inputs, ".lzma");
    inputs.forEach((data, i) => {
      const got = decode(files[i]);
      assertSame(got.bytes, data);
      assert.equal(got.declared, data.length);
      assert.equal(got.consumed, files[i].length);
    });
  },
});

Deno.test("isLzma accepts the headers encoders write and refuses other dictionary sizes and huge sizes", () => {
  const header = (props: number, dict: number, size: bigint) => {
    const b = new Uint8Array(LZMA_HEADER_SIZE);
    const v = new DataView(b.buffer);
    b[0] = props;
    v.setUint32(1, dict, true);
    v.setBigUint64(5, size, true);
    return b;
  };
  assert.equal(isLzma(header(0x5d, 1 << 23, 0xffff_ffff_ffff_ffffn)), true);
  assert.equal(isLzma(header(0x5d, 3 << 20, 1000n)), true);
  assert.equal(isLzma(header(0x5d, 0xffff_ffff, 1000n)), true);
  assert.equal(isLzma(header(0x5d, (1 << 23) + 1, 1000n)), false);
  assert.equal(isLzma(header(225, 1 << 23, 1000n)), false);
  assert.equal(isLzma(header(0x5d, 1 << 23, 1n << 40n)), false);
  assert.equal(isLzma(new Uint8Array(12)), false);
});

Deno.test({
  name: "decodeLzma decodes the encodings of empty input and of one byte, with and without the size",
  ignore,
  async fn() {
    for (const data of [new Uint8Array(0), new Uint8Array([7])]) {
      assertSame(decode(await runTool("xz", ["-c", "--format=lzma"], data)).bytes, data);
      if (HAS_LZMA) {
        const [file] = await compressMany("lzmp", ["-k", "-f", "-q"], [data], ".lzma");
        assertSame(decode(file).bytes, data);
      }
    }
  },
});

Deno.test({
  name: "decodeLzma decodes incompressible data",
  ignore,
  async fn() {
    const data = randomBytes(200_000, 5);
    assertSame(decode(await runTool("xz", ["-c", "--format=lzma", "-0"], data)).bytes, data);
  },
});

Deno.test({
  name: "decodeLzma stops after the end marker and leaves a kernel's size trailer unread",
  ignore,
  async fn() {
    const data = textBytes(5000, 6);
    const s = await runTool("xz", ["-c", "--format=lzma"], data);
    const file = new Uint8Array(s.length + 4);
    file.set(s);
    new DataView(file.buffer).setUint32(s.length, data.length, true);
    const got = decode(file);
    assertSame(got.bytes, data);
    assert.equal(got.consumed, s.length);
  },
});

Deno.test({
  name: "decodeLzma decodes with a dictionary size that is not a multiple of 16 (window wraps at the next one)",
  ignore,
  async fn() {
    const data = textBytes(100_000, 10);
    const file = await runTool("xz", ["-c", "--format=lzma", "--lzma1=dict=4KiB"], data);
    // The encoder kept every distance below 4096; a header saying 4101 must decode the same.
    new DataView(file.buffer).setUint32(1, 4101, true);
    assertSame(decode(file).bytes, data);
  },
});

Deno.test("decodeLzma rejects a non-Uint8Array input as a typed BadMagic error, not a TypeError", () => {
  for (const bad of [null, undefined, "lzma", 42n, new Array(20).fill(0)]) {
    assert.equal(decompressError(() => decodeLzma(bad as unknown as Uint8Array, new CountingSink())).code, "BadMagic");
    assert.equal(isLzma(bad as unknown as Uint8Array), false);
  }
});

Deno.test("decodeLzma rejects input shorter than its header and a properties byte above 224", () => {
  assert.equal(decompressError(() => decodeLzma(new Uint8Array(12), new CountingSink())).code, "Truncated");
  const bad = new Uint8Array(20);
  bad[0] = 225;
  assert.equal(decompressError(() => decodeLzma(bad, new CountingSink())).code, "BadMagic");
});

Deno.test({
  name: "decodeLzma refuses a declared size above maxOutput before decoding anything",
  ignore: ignoreLzma,
  async fn() {
    const data = textBytes(10_000, 7);
    const [file] = await compressMany("lzmp", ["-k", "-f", "-q"], [data], ".lzma");
    const sink = new CountingSink();
    const e = decompressError(() => decodeLzma(file, sink, { maxOutput: 9_999 }));
    assert.equal(e.code, "OutputTooLarge");
    assert.equal(sink.written, 0);
  },
});

Deno.test({
  name: "decodeLzma accepts output of exactly maxOutput and refuses one byte more before the sink sees it",
  ignore,
  async fn() {
    const data = textBytes(70_000, 8);
    const file = await runTool("xz", ["-c", "--format=lzma"], data);
    assertSame(decode(file, data.length).bytes, data);
    const sink = new GrowSink();
    assert.equal(decompressError(() => decodeLzma(file, sink, { maxOutput: data.length - 1 })).code, "OutputTooLarge");
    assert.ok(sink.written <= data.length - 1);
  },
});

Deno.test({
  name: "decodeLzma stops a decompression bomb at maxOutput",
  ignore,
  async fn() {
    const bomb = await runTool("xz", ["-c", "--format=lzma", "-0"], new Uint8Array(64 << 20));
    const sink = new CountingSink();
    assert.equal(decompressError(() => decodeLzma(bomb, sink, { maxOutput: 1 << 20 })).code, "OutputTooLarge");
    assert.ok(sink.written <= 1 << 20);
  },
});

Deno.test({
  name: "decodeLzma rejects a stream whose declared size is larger than its data",
  ignore,
  async fn() {
    const data = textBytes(3000, 9);
    const file = await runTool("xz", ["-c", "--format=lzma"], data);
    // Turn "unknown size" into 3001: the end marker now comes one byte early.
    new DataView(file.buffer).setBigUint64(5, BigInt(data.length + 1), true);
    assert.match(decompressError(() => decode(file)).message, /end marker after 3000 of the 3001 declared bytes/);
  },
});

async function samples(): Promise<{ data: Uint8Array; file: Uint8Array }[]> {
  const inputs = [textBytes(20_000, 21), randomBytes(2_000, 22)];
  return await Promise.all(
    inputs.map(async (data) => ({ data, file: await runTool("xz", ["-c", "--format=lzma"], data) })),
  );
}

Deno.test({
  name: "decodeLzma reports input cut anywhere as a typed error",
  ignore,
  async fn() {
    const s = await samples();
    checkProperty(
      "lzma truncation",
      fc.property(fc.nat(s.length - 1), fc.double({ min: 0, max: 1, noNaN: true }), (i, f) => {
        const { file } = s[i];
        decompressError(() => decode(file.subarray(0, Math.min(file.length - 1, Math.floor(f * file.length)))));
      }),
      isFuzz() ? {} : { numRuns: 300 },
    );
  },
});

Deno.test({
  name: "decodeLzma reports flipped bits as a typed error or bounded output, never another error",
  ignore,
  async fn() {
    const s = await samples();
    checkProperty(
      "lzma bit flips",
      fc.property(
        fc.nat(s.length - 1),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(7)), { minLength: 1, maxLength: 4 }),
        (i, flips) => {
          const { data, file } = s[i];
          const bad = file.slice();
          for (const [f, bit] of flips) bad[Math.min(bad.length - 1, Math.floor(f * bad.length))] ^= 1 << bit;
          try {
            const got = decode(bad, data.length * 4);
            assert.ok(got.bytes.length <= data.length * 4);
          } catch (e) {
            if (!(e instanceof DecompressError)) throw e;
          }
        },
      ),
      isFuzz() ? {} : { numRuns: 300 },
    );
  },
});
