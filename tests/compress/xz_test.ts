import assert from "node:assert/strict";
import fc from "fast-check";
import { DecompressError } from "../../lib/errors.ts";
import { BufferSink, CountingSink } from "../../lib/compress/sink.ts";
import {
  decodeXz,
  isXz,
  XZ_CHECK_CRC32,
  XZ_CHECK_CRC64,
  XZ_CHECK_NONE,
  XZ_CHECK_SHA256,
} from "../../lib/compress/xz.ts";
import { LZMA_FLUSH_CHUNK } from "../../lib/compress/lzma_core.ts";
import { crc32 } from "../../lib/compress/xz_check.ts";
import { ignoreUnless } from "../_require.ts";
import { checkProperty, isFuzz, propParams } from "../prop/_config.ts";
import {
  assertSame,
  codeBytes,
  compressMany,
  decompressError,
  GrowSink,
  HAS_XZ,
  inputArbitrary,
  randomBytes,
  runTool,
  textBytes,
} from "./_tools.ts";

const ignore = ignoreUnless(HAS_XZ, "xz (xz-utils)");

function xz(data: Uint8Array, ...args: string[]): Promise<Uint8Array> {
  return runTool("xz", ["-c", ...args], data);
}

function decode(input: Uint8Array, maxOutput?: number): { bytes: Uint8Array; consumed: number; check: number } {
  const sink = new GrowSink();
  const r = decodeXz(input, sink, maxOutput === undefined ? undefined : { maxOutput });
  assert.equal(r.written, sink.written);
  return { bytes: sink.bytes(), consumed: r.consumed, check: r.check };
}

/** Option sets of the round-trip property: the kernel's, the tool's defaults, every check and filter. */
const OPTION_SETS: string[][] = [
  ["--check=crc32", "--x86", "--lzma2=dict=32MiB"], // Linux 6.1 scripts/xz_wrap.sh on x86
  ["-6"],
  ["--check=sha256", "-1"],
  ["--check=none", "-0"],
  ["--check=crc32", "--arm64", "--lzma2=lc=2,lp=2"],
  ["--arm", "--lzma2=pb=0,lc=0"],
  ["--armthumb", "--lzma2"],
  ["--powerpc", "--lzma2"],
  ["--sparc", "--lzma2"],
  ["--ia64", "--lzma2=pb=4"],
  ["--delta=dist=3", "--lzma2"],
  ["--x86=start=4096", "--delta=dist=1", "--lzma2"],
  ["--lzma2=lc=4,lp=0,pb=4,mode=fast"],
  ["--lzma2=lc=0,lp=4,pb=0"],
  ["--block-size=7000", "--check=crc64"],
  ["--lzma2=dict=4KiB", "--check=crc32"], // the window wraps many times
  ["--x86", "--lzma2=dict=12KiB,lc=0,pb=0", "--check=crc32"], // 2^13 + 2^12: not a power of two
];

Deno.test({
  name: "decodeXz reproduces what xz compressed, for generated inputs under every filter and check option set",
  ignore,
  async fn() {
    const name = "xz round trip";
    const runs = isFuzz() ? propParams(name).numRuns! : 150;
    const cases = fc.sample(fc.tuple(inputArbitrary, fc.nat(OPTION_SETS.length - 1)), {
      numRuns: runs,
      seed: propParams(name).seed,
    });
    for (let set = 0; set < OPTION_SETS.length; set++) {
      const inputs = cases.filter(([, s]) => s === set).map(([d]) => d);
      const compressed = await compressMany("xz", ["-k", "-f", "-q", ...OPTION_SETS[set]], inputs, ".xz");
      inputs.forEach((data, i) => {
        const got = decode(compressed[i]);
        assertSame(got.bytes, data);
        assert.equal(got.consumed, compressed[i].length, `option set ${OPTION_SETS[set].join(" ")}`);
        // With maxOutput = the output size the window is capped at it (below the dictionary size).
        assertSame(decode(compressed[i], data.length).bytes, data);
      });
    }
  },
});

Deno.test("isXz recognises the stream header magic and nothing shorter", () => {
  assert.equal(isXz(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), true);
  assert.equal(isXz(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a])), false);
  assert.equal(isXz(new Uint8Array([0x5d, 0, 0, 0x80, 0, 0])), false);
});

Deno.test("decodeXz rejects a non-Uint8Array input as a typed BadMagic error, not a TypeError", () => {
  for (const bad of [null, undefined, "xz", 42n, [0xfd, 0x37]]) {
    assert.equal(decompressError(() => decodeXz(bad as unknown as Uint8Array, new CountingSink())).code, "BadMagic");
    assert.equal(isXz(bad as unknown as Uint8Array), false);
  }
});

Deno.test("decodeXz rejects empty input and input without the magic as BadMagic", () => {
  assert.equal(decompressError(() => decodeXz(new Uint8Array(0), new CountingSink())).code, "BadMagic");
  assert.equal(decompressError(() => decodeXz(textBytes(100), new CountingSink())).code, "BadMagic");
});

Deno.test({
  name: "decodeXz decodes xz's encoding of empty input and of one byte",
  ignore,
  async fn() {
    const empty = await xz(new Uint8Array(0));
    assert.deepEqual(decode(empty).bytes, new Uint8Array(0));
    const one = await xz(new Uint8Array([0x42]));
    assert.deepEqual(decode(one).bytes, new Uint8Array([0x42]));
  },
});

Deno.test({
  name: "decodeXz decodes incompressible data that xz stores in uncompressed LZMA2 chunks",
  ignore,
  async fn() {
    const data = randomBytes(300_000, 99);
    assertSame(decode(await xz(data, "-0")).bytes, data);
  },
});

Deno.test({
  name: "decodeXz verifies each check type and reports which one the stream used",
  ignore,
  async fn() {
    const data = textBytes(50_000, 3);
    for (
      const [flag, id] of [["none", XZ_CHECK_NONE], ["crc32", XZ_CHECK_CRC32], ["crc64", XZ_CHECK_CRC64], [
        "sha256",
        XZ_CHECK_SHA256,
      ]] as const
    ) {
      const got = decode(await xz(data, `--check=${flag}`));
      assertSame(got.bytes, data);
      assert.equal(got.check, id);
    }
  },
});

Deno.test({
  name: "decodeXz rejects a block whose CRC32, CRC64 or SHA-256 check does not match its data",
  ignore,
  async fn() {
    const data = textBytes(10_000, 4);
    for (const [flag, size] of [["crc32", 4], ["crc64", 8], ["sha256", 32]] as const) {
      const file = await xz(data, `--check=${flag}`);
      // The check field ends 12 (footer) + index bytes before the end; find it from the index size.
      const backward = (new DataView(file.buffer).getUint32(file.length - 8, true) + 1) * 4;
      const checkAt = file.length - 12 - backward - size;
      file[checkAt] ^= 1;
      const e = decompressError(() => decode(file));
      assert.equal(e.code, "CorruptData");
      assert.match(e.message, /check .* does not match/);
    }
  },
});

Deno.test({
  name: "decodeXz skips a check ID the format reserves (ID 2) by its size without verifying it",
  ignore,
  async fn() {
    const data = textBytes(5000, 5);
    const file = await xz(data, "--check=crc32");
    // Stream flags 00 01 -> 00 02 in header and footer (both 4-byte checks), CRC32s recomputed.
    file[7] = 2;
    new DataView(file.buffer).setUint32(8, crc32(file, 0, 6, 8), true);
    const f = file.length - 12;
    file[f + 9] = 2;
    new DataView(file.buffer).setUint32(f, crc32(file, 0, f + 4, f + 10), true);
    const got = decode(file);
    assertSame(got.bytes, data);
    assert.equal(got.check, 2);
  },
});

Deno.test({
  name: "decodeXz decodes concatenated streams with stream padding as one output",
  ignore,
  async fn() {
    const a = textBytes(20_000, 6);
    const b = codeBytes(10_000, 7);
    const sa = await xz(a, "--check=crc32", "--x86", "--lzma2");
    const sb = await xz(b, "--check=sha256");
    const file = new Uint8Array(sa.length + 4 + sb.length + 8);
    file.set(sa, 0);
    file.set(sb, sa.length + 4);
    const got = decodeXz(file, new BufferSink(new Uint8Array(a.length + b.length)));
    assert.equal(got.streams, 2);
    assert.equal(got.consumed, file.length);
    const whole = decode(file).bytes;
    assertSame(whole.subarray(0, a.length), a);
    assertSame(whole.subarray(a.length), b);
  },
});

Deno.test({
  name: "decodeXz rejects stream padding that is not a multiple of four bytes",
  ignore,
  async fn() {
    const s = await xz(textBytes(1000, 8));
    const between = new Uint8Array(s.length * 2 + 3);
    between.set(s, 0);
    between.set(s, s.length + 3);
    assert.match(decompressError(() => decode(between)).message, /stream padding of 3 bytes/);
    const after = new Uint8Array(s.length + 5);
    after.set(s, 0);
    assert.match(decompressError(() => decode(after)).message, /stream padding of 5 bytes/);
  },
});

Deno.test({
  name: "decodeXz stops before bytes that are not a stream, such as a kernel's size trailer",
  ignore,
  async fn() {
    const data = textBytes(3000, 9);
    const s = await xz(data, "--check=crc32");
    const file = new Uint8Array(s.length + 4);
    file.set(s, 0);
    new DataView(file.buffer).setUint32(s.length, data.length, true);
    const got = decode(file);
    assertSame(got.bytes, data);
    assert.equal(got.consumed, s.length);
  },
});

Deno.test({
  name: "decodeXz undoes the x86 BCJ filter on real x86-64 machine code",
  ignore,
  async fn() {
    const code = (await Deno.readFile("/bin/bash")).subarray(0, 1 << 20);
    assertSame(decode(await xz(code, "--check=crc32", "--x86", "--lzma2=dict=32MiB")).bytes, code);
  },
});

Deno.test({
  name: "decodeXz undoes the ARM64 BCJ filter (xz --arm64) on code-like data",
  ignore,
  async fn() {
    const code = codeBytes(200_000, 11);
    assertSame(decode(await xz(code, "--check=crc32", "--arm64", "--lzma2")).bytes, code);
  },
});

Deno.test({
  name: "decodeXz decodes a stream made with the largest dictionary the kernel uses (128 MiB)",
  ignore,
  async fn() {
    const data = textBytes(100_000, 12);
    const file = await xz(data, "--check=crc32", "--x86", "--lzma2=dict=128MiB,mf=hc4", "--memlimit-compress=4GiB");
    // Filter flags: 0x04 (x86) 0x00, then 0x21 (LZMA2) 0x01 <dict byte>; 128 MiB = 2 << (30 / 2 + 11): byte 30.
    assert.deepEqual([...file.subarray(14, 19)], [0x04, 0x00, 0x21, 0x01, 30]);
    assertSame(decode(file).bytes, data);
  },
});

Deno.test({
  name: "decodeXz decodes a stream whose header declares a 4 GiB dictionary without needing that memory",
  ignore,
  async fn() {
    const data = textBytes(50_000, 15);
    const file = await xz(data, "--check=crc32", "--lzma2=dict=64KiB");
    // Block header: size byte, flags, then filter 0x21 with 1 property byte, the dictionary size byte at 16.
    assert.deepEqual([...file.subarray(12, 16)], [0x02, 0x00, 0x21, 0x01]);
    file[16] = 40; // 0xFFFFFFFF bytes
    new DataView(file.buffer).setUint32(20, crc32(file, 0, 12, 20), true);
    // The window is min(dictionary, maxOutput): 1 GiB by default, 50 KB here; pages are touched as written.
    assertSame(decode(file).bytes, data);
    assertSame(decode(file, data.length).bytes, data);
  },
});

Deno.test({
  name: "decodeXz hands the sink chunks of at most 256 KiB",
  ignore,
  async fn() {
    const data = textBytes(2_000_000, 13);
    const sink = new GrowSink();
    decodeXz(await xz(data, "-0"), sink);
    assert.ok(sink.maxChunk <= LZMA_FLUSH_CHUNK, `largest chunk ${sink.maxChunk}`);
    assertSame(sink.bytes(), data);
  },
});

Deno.test({
  name: "decodeXz accepts output of exactly maxOutput and refuses one byte more before the sink sees it",
  ignore,
  async fn() {
    const data = textBytes(100_000, 14);
    const file = await xz(data, "--check=crc32");
    assertSame(decode(file, data.length).bytes, data);
    const sink = new GrowSink();
    const e = decompressError(() => decodeXz(file, sink, { maxOutput: data.length - 1 }));
    assert.equal(e.code, "OutputTooLarge");
    assert.ok(sink.written <= data.length - 1);
  },
});

Deno.test({
  name: "decodeXz stops a decompression bomb at maxOutput without passing more to the sink",
  ignore,
  async fn() {
    const bomb = await xz(new Uint8Array(64 << 20), "-0", "--check=crc32");
    const sink = new CountingSink();
    const e = decompressError(() => decodeXz(bomb, sink, { maxOutput: 1 << 20 }));
    assert.equal(e.code, "OutputTooLarge");
    assert.ok(sink.written <= 1 << 20);
    assert.ok(bomb.length < 20_000);
  },
});

Deno.test({
  name: "decodeXz refuses a maxOutput that is not a byte count",
  ignore,
  async fn() {
    const file = await xz(new Uint8Array(10));
    for (const bad of [NaN, -1, 1.5]) {
      assert.equal(
        decompressError(() => decodeXz(file, new CountingSink(), { maxOutput: bad })).code,
        "OutputTooLarge",
      );
    }
  },
});

/** A stream around one hand-built block: header fields, LZMA2 data and CRC32 recomputed. */
function craftStream(filterFlags: number[], lzma2: number[], uncompressed: number): Uint8Array {
  const check = 0x00; // none: keeps the layout simple
  const out: number[] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, check];
  const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  out.push(...u32(crc32(new Uint8Array([0, check]))));
  const nf = filterFlags.length === 3 ? 0 : 1; // one filter (3 bytes: ID, size, prop) or two
  let header = [0, nf, ...filterFlags];
  while ((header.length + 4) % 4 !== 0) header.push(0);
  header[0] = (header.length + 4) / 4 - 1;
  header = [...header, ...u32(crc32(new Uint8Array(header)))];
  const blockStart = out.length;
  out.push(...header, ...lzma2);
  const unpadded = out.length - blockStart;
  while ((out.length - blockStart) % 4 !== 0) out.push(0);
  const index = [0, 1, unpadded, uncompressed];
  while (index.length % 4 !== 0) index.push(0);
  const indexBytes = [...index, ...u32(crc32(new Uint8Array(index)))];
  out.push(...indexBytes);
  const footerBody = [...u32(indexBytes.length / 4 - 1), 0x00, check];
  out.push(...u32(crc32(new Uint8Array(footerBody))), ...footerBody, 0x59, 0x5a);
  return new Uint8Array(out);
}

/** LZMA2 data holding "abc" as one uncompressed chunk with a dictionary reset. */
const LZMA2_ABC = [0x01, 0x00, 0x02, 0x61, 0x62, 0x63, 0x00];

Deno.test("decodeXz decodes a hand-built stream with one uncompressed LZMA2 chunk", () => {
  const file = craftStream([0x21, 0x01, 0x00], LZMA2_ABC, 3);
  assert.deepEqual(decode(file).bytes, new TextEncoder().encode("abc"));
});

Deno.test("decodeXz rejects a filter ID it does not implement, naming it", () => {
  const file = craftStream([0x0b, 0x00, 0x21, 0x01, 0x00], LZMA2_ABC, 3);
  const e = decompressError(() => decode(file));
  assert.equal(e.code, "Unsupported");
  assert.match(e.message, /unsupported filter ID 0xb/);
});

Deno.test("decodeXz rejects a first LZMA2 chunk that does not reset the dictionary", () => {
  const file = craftStream([0x21, 0x01, 0x00], [0x02, 0x00, 0x02, 0x61, 0x62, 0x63, 0x00], 3);
  assert.match(decompressError(() => decode(file)).message, /does not reset the dictionary/);
});

Deno.test("decodeXz rejects an LZMA2 control byte between 0x03 and 0x7F", () => {
  const file = craftStream([0x21, 0x01, 0x00], [0x01, 0x00, 0x00, 0x61, 0x03, 0x00], 1);
  assert.match(decompressError(() => decode(file)).message, /invalid LZMA2 control byte 0x3/);
});

Deno.test("decodeXz rejects LZMA2 properties with lc + lp above 4", () => {
  // Control 0xE0: dictionary reset, new properties; props byte lc=3 lp=2 pb=0 -> (0*5+2)*9+3 = 21.
  const file = craftStream([0x21, 0x01, 0x00], [0xe0, 0x00, 0x00, 0x00, 0x04, 21, 0, 0, 0, 0, 0, 0x00], 1);
  assert.match(decompressError(() => decode(file)).message, /invalid LZMA2 properties byte 0x15/);
});

Deno.test("decodeXz rejects an index that does not match the blocks", () => {
  const file = craftStream([0x21, 0x01, 0x00], LZMA2_ABC, 4);
  assert.match(decompressError(() => decode(file)).message, /index record 0/);
});

Deno.test("decodeXz rejects a block header whose CRC32 does not match", () => {
  const file = craftStream([0x21, 0x01, 0x00], LZMA2_ABC, 3);
  file[14] ^= 0x01; // inside the block header's filter flags
  const e = decompressError(() => decode(file));
  assert.equal(e.code, "CorruptData");
  assert.match(e.message, /block header CRC32/);
  assert.match(e.message, /input offset 0x/);
});

Deno.test("decodeXz rejects a stream header whose flags do not match its CRC32", () => {
  const file = craftStream([0x21, 0x01, 0x00], LZMA2_ABC, 3);
  file[7] = 0x01;
  assert.match(decompressError(() => decode(file)).message, /stream header CRC32/);
});

/** Base samples for the corruption properties (each with an integrity check, as kernel payloads have). */
async function corruptionSamples(): Promise<{ data: Uint8Array; file: Uint8Array }[]> {
  const inputs = [textBytes(20_000, 21), codeBytes(8_000, 22), randomBytes(3_000, 23)];
  const args = [["--check=crc32", "--x86", "--lzma2"], ["--check=crc64", "--block-size=3000"], [
    "--check=sha256",
    "-0",
  ]];
  return await Promise.all(inputs.map(async (data, i) => ({ data, file: await xz(data, ...args[i]) })));
}

Deno.test({
  name: "decodeXz reports input cut anywhere as a typed error",
  ignore,
  async fn() {
    const samples = await corruptionSamples();
    checkProperty(
      "xz truncation",
      fc.property(fc.nat(samples.length - 1), fc.double({ min: 0, max: 1, noNaN: true }), (s, f) => {
        const { file } = samples[s];
        const cut = Math.min(file.length - 1, Math.floor(f * file.length));
        decompressError(() => decode(file.subarray(0, cut)));
      }),
      isFuzz() ? {} : { numRuns: 300 },
    );
  },
});

Deno.test({
  name: "decodeXz reports flipped bits as a typed error or decodes the original data",
  ignore,
  async fn() {
    const samples = await corruptionSamples();
    checkProperty(
      "xz bit flips",
      fc.property(
        fc.nat(samples.length - 1),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(7)), { minLength: 1, maxLength: 4 }),
        (s, flips) => {
          const { data, file } = samples[s];
          const bad = file.slice();
          for (const [f, bit] of flips) bad[Math.min(bad.length - 1, Math.floor(f * bad.length))] ^= 1 << bit;
          try {
            const got = decode(bad, data.length * 2);
            assertSame(got.bytes, data);
          } catch (e) {
            if (!(e instanceof DecompressError)) throw e;
          }
        },
      ),
      isFuzz() ? {} : { numRuns: 300 },
    );
  },
});

Deno.test("decodeXz reports random bytes after a valid stream header as a typed error", () => {
  checkProperty(
    "xz garbage after header",
    fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
      const head = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x01];
      const crc = crc32(new Uint8Array([0, 1]));
      const file = new Uint8Array([...head, crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24, ...tail]);
      decompressError(() => decode(file, 1 << 20));
    }),
    isFuzz() ? {} : { numRuns: 300 },
  );
});
