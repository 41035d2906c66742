/**
 * The zstd decoder against Debian's `zstd` tool: round trips over generated inputs and levels, the tool's own
 * edge cases, frames built byte by byte for the header variants the tool does not write, corrupt input
 * (truncation, bit flips), the output limit, XXH64, and the newest Debian 6.12 kernel's payload.
 *
 * Properties run a modest number of cases by default (each case runs the tool); `FUZZ=1` / `FUZZ_RUNS` raise
 * them (tests/prop/_config.ts).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeZstd, isZstd, ZSTD_MAGIC, ZSTD_SKIPPABLE_MAGIC } from "../../lib/compress/zstd.ts";
import { Xxh64 } from "../../lib/compress/xxhash64.ts";
import { BufferSink, type ByteSink, CountingSink } from "../../lib/compress/sink.ts";
import { DecompressError, LinuxLoaderError } from "../../lib/errors.ts";
import { findBzImagePayload } from "../../lib/loader/extract.ts";
import { ensureMatrixKernel } from "../../fixtures/real/matrix.ts";
import { checkAsyncProperty, checkProperty, isFuzz } from "../prop/_config.ts";
import { type FieldRef, mutate, mutationsArb, type Targets } from "../prop/_arbitraries.ts";
import { ignoreUnless } from "../_require.ts";
import { hasTool, randomBytes, runTool } from "./_tools.ts";

const hasZstd = hasTool("zstd");
const ignore = ignoreUnless(hasZstd, "zstd");

/** Runs of a property that calls the tool per case; `FUZZ=1` multiplies them. */
function toolRuns(n: number): number {
  return isFuzz() ? n * 20 : n;
}

/** Compresses `data` with `zstd ARGS -c` (stdin to stdout: no content size unless the tool is told). */
function zstdTool(data: Uint8Array, args: string[]): Promise<Uint8Array> {
  return runTool("zstd", [...args, "-q", "-c"], data);
}

/**
 * Compressible data with what exercises the decoder: words (Huffman literals), runs of one byte (RLE
 * blocks and literals), short periods (overlapping matches), copies from far back (long offsets, repeat
 * offsets) and random stretches (raw literals and raw blocks).
 */
function structured(n: number, seed = 1234): Uint8Array {
  const out = new Uint8Array(n);
  const words = ["kernel ", "vmlinux", "initramfs", "\n", " ", "0x", "ffffffff81000000", "boot_params", "zstd"];
  const rnd = randomBytes(Math.max(n, 1), seed);
  let i = 0;
  let k = 0;
  while (i < n) {
    const r = rnd[k++ % n];
    if (r < 12) {
      out.fill(r * 7, i, Math.min(n, i + 64 + r * 300));
      i = Math.min(n, i + 64 + r * 300);
    } else if (r < 30) {
      const period = 1 + (r % 9);
      const len = Math.min(n - i, 20 + r * 7);
      for (let j = 0; j < len; j++) out[i + j] = 65 + ((j % period) * 3);
      i += len;
    } else if (r < 40 && i > 5000) {
      const from = (rnd[(k * 7) % n] * 9973 + k) % (i - 1000);
      const len = Math.min(n - i, 100 + r * 13);
      out.copyWithin(i, from, from + len);
      i += len;
    } else if (r < 42) {
      const len = Math.min(n - i, 50 + r * 5);
      out.set(randomBytes(len, k + seed), i);
      i += len;
    } else if (r < 70) {
      // Skewed letters: literals worth a Huffman table.
      const len = Math.min(n - i, 20 + r * 2);
      const noise = randomBytes(len, k * 31 + seed);
      for (let j = 0; j < len; j++) out[i + j] = 97 + Math.min(25, Math.clz32(noise[j] | 1) - 24 + (noise[j] & 3));
      i += len;
    } else {
      const w = words[r % words.length];
      for (let j = 0; j < w.length && i < n; j++) out[i++] = w.charCodeAt(j);
    }
  }
  return out;
}

/** Letters with a skewed distribution and few repeats: Huffman literals, and few or no sequences. */
function skewed(n: number, seed: number): Uint8Array {
  const noise = randomBytes(n, seed);
  const out = new Uint8Array(n);
  for (let j = 0; j < n; j++) out[j] = 97 + Math.min(25, Math.clz32(noise[j] | 1) - 24 + (noise[j] & 3));
  return out;
}

/** Everything the sink received, concatenated, and the chunk sizes. */
class CollectSink implements ByteSink {
  chunks: number[] = [];
  private parts: Uint8Array[] = [];
  write(chunk: Uint8Array): void {
    this.chunks.push(chunk.length);
    this.parts.push(chunk.slice());
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((a, b) => a + b, 0));
    let o = 0;
    for (const p of this.parts) out.set(p, o), o += p.length;
    return out;
  }
}

function decodeAll(input: Uint8Array, maxOutput?: number): { bytes: Uint8Array; consumed: number; chunks: number[] } {
  const sink = new CollectSink();
  const r = decodeZstd(input, sink, maxOutput === undefined ? undefined : { maxOutput });
  const bytes = sink.bytes();
  assert.equal(r.written, bytes.length);
  return { bytes, consumed: r.consumed, chunks: sink.chunks };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function throwsCode(fn: () => unknown, code: string): DecompressError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DecompressError, `expected DecompressError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, /^ZSTD: .*\(input offset 0x[0-9a-f]+\)$/);
  return caught;
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** A block header: last flag, type (0 raw, 1 RLE, 2 compressed, 3 reserved), size. */
function blockHeader(last: boolean, type: number, size: number): number[] {
  const v = (size << 3) | (type << 1) | (last ? 1 : 0);
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff];
}

/** A frame of raw blocks built by hand: every header field chosen by the caller. */
function handFrame(o: {
  content: Uint8Array;
  singleSegment?: boolean;
  /** Window_Descriptor byte when not single segment. */
  windowDescriptor?: number;
  /** Dictionary_ID field width (0, 1, 2, 4) and value. */
  didBytes?: 0 | 1 | 2 | 4;
  did?: number;
  /** Frame_Content_Size field width (0, 1, 2, 4, 8) and value (defaults to the content's length). */
  fcsBytes?: 0 | 1 | 2 | 4 | 8;
  fcs?: number;
  checksum?: boolean;
  blockSize?: number;
}): Uint8Array {
  const single = o.singleSegment ?? false;
  const fcsBytes = o.fcsBytes ?? (single ? 1 : 0);
  const didBytes = o.didBytes ?? 0;
  const fcsFlag = fcsBytes === 8 ? 3 : fcsBytes === 4 ? 2 : fcsBytes === 2 ? 1 : 0;
  const didFlag = didBytes === 4 ? 3 : didBytes;
  const fhd = (fcsFlag << 6) | (single ? 0x20 : 0) | (o.checksum ? 4 : 0) | didFlag;
  const out: number[] = [...u32(ZSTD_MAGIC), fhd];
  if (!single) out.push(o.windowDescriptor ?? 0x30); // 2^(10+6) = 64 KiB
  const did = o.did ?? 0;
  for (let i = 0; i < didBytes; i++) out.push(Math.floor(did / 2 ** (8 * i)) & 0xff);
  const fcs = (o.fcs ?? o.content.length) - (fcsBytes === 2 ? 256 : 0);
  for (let i = 0; i < fcsBytes; i++) out.push(Math.floor(fcs / 2 ** (8 * i)) & 0xff);
  const bs = o.blockSize ?? 1000;
  let p = 0;
  do {
    const n = Math.min(bs, o.content.length - p);
    out.push(...blockHeader(p + n >= o.content.length, 0, n), ...o.content.subarray(p, p + n));
    p += n;
  } while (p < o.content.length);
  if (o.checksum) {
    const h = new Xxh64();
    h.update(o.content);
    out.push(...u32(h.digestLow32()));
  }
  return new Uint8Array(out);
}

// ---------------------------------------------------------------------------------------------------------------
// Round trips against the tool

const LEVELS: string[][] = [
  ["-1"],
  ["-3"],
  ["-19"],
  ["--ultra", "-22"],
  ["-3", "--long=27"],
  ["-1", "--no-check"],
  // The smallest windows: the ring wraps many times within each input.
  ["-19", "--zstd=wlog=10"],
  ["-3", "--zstd=wlog=12"],
];

Deno.test({
  name:
    "decodeZstd restores what zstd compressed, at levels 1, 3, 19, 22 --ultra, --long, without checksum and with 1 and 4 KiB windows",
  ignore,
  async fn() {
    const cases: [Uint8Array, string[][]][] = [
      [structured(200_000), LEVELS],
      [randomBytes(70_000, 3), LEVELS],
      [structured(1_500_000, 99), [["-3"], ["-1", "--no-check"]]],
    ];
    for (const [data, levels] of cases) {
      for (const args of levels) {
        const packed = await zstdTool(data, args);
        const r = decodeAll(packed);
        assert.equal(r.consumed, packed.length, args.join(" "));
        assert.ok(equalBytes(r.bytes, data), `bytes differ at zstd ${args.join(" ")}`);
        assert.ok(r.chunks.every((n) => n <= 128 << 10), "a chunk larger than one block");
      }
    }
  },
});

Deno.test({
  name: "decodeZstd restores generated inputs compressed by zstd at a random level (property)",
  ignore,
  async fn() {
    const dataArb = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      fc.tuple(fc.nat({ max: 400_000 }), fc.integer()).map(([n, s]) => structured(n, s)),
      fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 255 }), fc.nat({ max: 5000 })).map(([a, b, n]) => {
        const d = new Uint8Array(n);
        for (let i = 0; i < n; i++) d[i] = (i % (a + 1)) === 0 ? b : (i * a) & 0xff;
        return d;
      }),
    );
    const argsArb = fc.constantFrom<string[]>(
      ["-1"],
      ["-3"],
      ["-9"],
      ["-19"],
      ["--ultra", "-22"],
      ["--fast=3"],
      ["-3", "--no-check"],
      ["-1", "--long=24"],
      ["-5", "--content-size"],
      ["-9", "--zstd=wlog=10"],
    );
    await checkAsyncProperty(
      "zstd round trip",
      fc.asyncProperty(dataArb, argsArb, async (data, args) => {
        const packed = await zstdTool(data, args);
        const r = decodeAll(packed);
        assert.equal(r.consumed, packed.length);
        assert.ok(equalBytes(r.bytes, data), `bytes differ at zstd ${args.join(" ")}, ${data.length} bytes`);
      }),
      { numRuns: toolRuns(40) },
    );
  },
});

Deno.test({
  name: "decodeZstd decodes the tool's empty input, one byte and incompressible data",
  ignore,
  async fn() {
    for (const data of [new Uint8Array(0), new Uint8Array([0x5a]), randomBytes(300_000, 11)]) {
      for (const args of [["-3"], ["-3", "--no-check"], ["--ultra", "-22"]]) {
        const packed = await zstdTool(data, args);
        const r = decodeAll(packed);
        assert.equal(r.consumed, packed.length);
        assert.ok(equalBytes(r.bytes, data), `${data.length} bytes at zstd ${args.join(" ")}`);
      }
    }
  },
});

Deno.test({
  name: "decodeZstd decodes concatenated frames and skips skippable frames before, between and after them",
  ignore,
  async fn() {
    const a = structured(50_000, 1), b = randomBytes(20_000, 2);
    const fa = await zstdTool(a, ["-3"]), fb = await zstdTool(b, ["-19", "--no-check"]);
    const skip = (tag: number, n: number) => [...u32(ZSTD_SKIPPABLE_MAGIC + tag), ...u32(n), ...randomBytes(n, tag)];
    const input = new Uint8Array([...skip(0, 5), ...fa, ...skip(7, 0), ...fb, ...skip(15, 300)]);
    const r = decodeAll(input);
    assert.equal(r.consumed, input.length);
    assert.ok(equalBytes(r.bytes, new Uint8Array([...a, ...b])));
    // The tool agrees on the concatenation.
    const tool = await new Deno.Command("zstd", { args: ["-d", "-c", "-q"], stdin: "piped", stdout: "piped" }).spawn();
    const w = tool.stdin.getWriter();
    await w.write(input);
    await w.close();
    assert.ok(equalBytes((await tool.output()).stdout, r.bytes));
  },
});

Deno.test("decodeZstd stops before bytes that are not a frame and says where (a kernel's size trailer)", () => {
  const frame = handFrame({ content: new TextEncoder().encode("vmlinux"), singleSegment: true });
  const input = new Uint8Array([...frame, ...u32(7)]);
  const r = decodeAll(input);
  assert.equal(r.consumed, frame.length);
  assert.equal(new TextDecoder().decode(r.bytes), "vmlinux");
});

/** Which block, literals and sequence table forms a set of frames uses, read from their headers alone. */
function forms(frames: Uint8Array[]): Set<string> {
  const seen = new Set<string>();
  for (const f of frames) {
    let p = 4;
    const fhd = f[p];
    const single = (fhd >> 5) & 1, did = fhd & 3, fcs = fhd >> 6;
    p += 1 + (single ? 0 : 1) + [0, 1, 2, 4][did] + (fcs === 0 ? single : 1 << fcs);
    for (;;) {
      const bh = f[p] | (f[p + 1] << 8) | (f[p + 2] << 16);
      const type = (bh >> 1) & 3, size = bh >>> 3;
      seen.add(["block raw", "block rle", "block compressed"][type]);
      if (type === 2) {
        const b = p + 3;
        const lt = f[b] & 3, sf = (f[b] >> 2) & 3;
        let lsize: number;
        if (lt < 2) {
          seen.add(lt === 0 ? "literals raw" : "literals rle");
          const [hs, n] = (sf & 1) === 0
            ? [1, f[b] >> 3]
            : sf === 1
            ? [2, (f[b] >> 4) + (f[b + 1] << 4)]
            : [3, (f[b] >> 4) + (f[b + 1] << 4) + (f[b + 2] << 12)];
          lsize = hs + (lt === 0 ? n : 1);
        } else {
          seen.add(`literals ${lt === 2 ? "huffman" : "treeless"} ${sf === 0 ? 1 : 4} stream${sf === 0 ? "" : "s"}`);
          const h = f[b] | (f[b + 1] << 8) | (f[b + 2] << 16) | (f[b + 3] << 24);
          const hs = sf <= 1 ? 3 : sf === 2 ? 4 : 5;
          lsize = hs + (sf <= 1 ? (h >>> 14) & 0x3ff : sf === 2 ? h >>> 18 : (h >>> 22) + (f[b + 4] << 10));
          if (lt === 2) seen.add(f[b + hs] < 128 ? "huffman weights fse" : "huffman weights direct");
        }
        let s = b + lsize;
        const b0 = f[s];
        const nbSeq = b0 < 128 ? b0 : b0 < 255 ? ((b0 - 128) << 8) + f[s + 1] : f[s + 1] + (f[s + 2] << 8) + 0x7f00;
        s += b0 < 128 ? 1 : b0 < 255 ? 2 : 3;
        if (nbSeq === 0) seen.add("no sequences");
        else {
          const m = f[s];
          const names = ["predefined", "rle", "fse", "repeat"];
          seen.add(`ll ${names[m >> 6]}`), seen.add(`of ${names[(m >> 4) & 3]}`), seen.add(`ml ${names[(m >> 2) & 3]}`);
        }
      }
      p += 3 + (type === 1 ? 1 : size);
      if (bh & 1) break;
    }
  }
  return seen;
}

Deno.test({
  name: "the round-trip corpus uses every block type, literals form and sequence table mode, and decodes",
  ignore,
  async fn() {
    const corpus: [Uint8Array, string[]][] = [
      [randomBytes(200_000, 5), ["-3"]],
      [new Uint8Array(300_000), ["-3"]],
      [structured(2_000_000, 8), ["-19"]],
      [structured(600_000, 4), ["-1"]],
      [structured(100, 4), ["-3"]],
      [new TextEncoder().encode("abcabcabcabcabcabcabcabcabcabc".repeat(3)), ["-3"]],
      [new TextEncoder().encode("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0aaaaaaaa"), ["-1"]],
      [structured(400_000, 6), ["--ultra", "-22"]],
      [structured(4000, 9), ["-19"]],
      [skewed(200, 3), ["-19"]], // one Huffman stream, no sequences
      [skewed(900, 3), ["-3"]],
    ];
    const frames: Uint8Array[] = [];
    for (const [data, args] of corpus) {
      const packed = await zstdTool(data, args);
      frames.push(packed);
      assert.ok(equalBytes(decodeAll(packed).bytes, data), `bytes differ at zstd ${args.join(" ")}`);
    }
    const seen = forms(frames);
    for (
      const form of [
        "block raw",
        "block rle",
        "block compressed",
        "literals raw",
        "literals huffman 1 stream",
        "literals huffman 4 streams",
        "literals treeless 4 streams",
        "huffman weights fse",
        "no sequences",
        "ll predefined",
        "ll fse",
        "ll repeat",
        "of predefined",
        "of fse",
        "of repeat",
        "ml predefined",
        "ml fse",
        "ml repeat",
      ]
    ) {
      assert.ok(seen.has(form), `no frame of the corpus uses ${form}; seen: ${[...seen].sort().join(", ")}`);
    }
  },
});

Deno.test({
  name: "decodeZstd decodes a frame with the largest window the kernel allows (windowLog 31)",
  ignore,
  async fn() {
    // From stdin the tool knows no size, so --long=31 stays in the header (and decoding needs no 2 GiB: the
    // ring is capped by maxOutput).
    const data = structured(300_000, 21);
    const packed = await zstdTool(data, ["--ultra", "-3", "--long=31"]);
    assert.equal(packed[4] & 0x20, 0, "not single segment");
    assert.equal(10 + (packed[5] >> 3), 31, "windowLog");
    const r = decodeAll(packed, 1 << 20);
    assert.ok(equalBytes(r.bytes, data));
  },
});

// ---------------------------------------------------------------------------------------------------------------
// Frames built by hand

Deno.test("decodeZstd reads every Frame_Content_Size width, single segment or not", () => {
  const content = structured(700, 3);
  for (
    const [fcsBytes, single] of [[1, true], [2, true], [4, true], [8, true], [2, false], [4, false], [
      8,
      false,
    ]] as const
  ) {
    const c = fcsBytes === 1 ? content.subarray(0, 200) : content;
    const r = decodeAll(handFrame({ content: c, fcsBytes, singleSegment: single }));
    assert.ok(equalBytes(r.bytes, c), `${fcsBytes}-byte content size`);
  }
});

Deno.test("decodeZstd accepts a Dictionary_ID of 0 in each width and refuses a dictionary it does not have", () => {
  const content = structured(300, 5);
  for (const didBytes of [1, 2, 4] as const) {
    assert.ok(equalBytes(decodeAll(handFrame({ content, didBytes, did: 0 })).bytes, content));
    const e = throwsCode(() => decodeAll(handFrame({ content, didBytes, did: 0x55 })), "Unsupported");
    assert.match(e.message, /dictionar(y|ies) .*not supported/);
    assert.equal(e.field, "Dictionary_ID");
  }
});

Deno.test("decodeZstd checks the content checksum and the content size the header declares", () => {
  const content = structured(5000, 6);
  const good = handFrame({ content, checksum: true, fcsBytes: 4 });
  assert.ok(equalBytes(decodeAll(good).bytes, content));
  const badSum = good.slice();
  badSum[badSum.length - 1] ^= 0x40;
  assert.equal(throwsCode(() => decodeAll(badSum), "CorruptData").field, "Content_Checksum");
  const short = handFrame({ content, fcsBytes: 4, fcs: content.length + 1 });
  assert.equal(throwsCode(() => decodeAll(short), "CorruptData").field, "Frame_Content_Size");
  const long = handFrame({ content, fcsBytes: 4, fcs: content.length - 1 });
  assert.equal(throwsCode(() => decodeAll(long), "CorruptData").field, "Frame_Content_Size");
});

Deno.test("decodeZstd refuses a window above 2^31, a reserved bit, a reserved block type and an oversized block", () => {
  const content = new Uint8Array(10);
  // Exponent 22: windowLog 32.
  assert.equal(
    throwsCode(() => decodeAll(handFrame({ content, windowDescriptor: 22 << 3 })), "CorruptData").field,
    "Window_Descriptor",
  );
  // Exponent 21, mantissa 7: windowLog 31, the largest accepted.
  assert.ok(equalBytes(decodeAll(handFrame({ content, windowDescriptor: (21 << 3) | 7 })).bytes, content));
  const reserved = handFrame({ content });
  reserved[4] |= 0x08;
  throwsCode(() => decodeAll(reserved), "CorruptData");
  const type3 = new Uint8Array([...u32(ZSTD_MAGIC), 0x00, 0x30, ...blockHeader(true, 3, 0)]);
  assert.equal(throwsCode(() => decodeAll(type3), "CorruptData").field, "Block_Type");
  // A 1 KiB window (exponent 0) allows blocks of at most 1 KiB.
  const big = handFrame({ content: new Uint8Array(1500), windowDescriptor: 0, blockSize: 1500 });
  assert.equal(throwsCode(() => decodeAll(big), "CorruptData").field, "Block_Size");
});

Deno.test("decodeZstd decodes RLE literals and RLE sequence tables (a block built by hand)", () => {
  const block = [
    0x20, // Raw_Literals_Block, Regenerated_Size 4
    ...new TextEncoder().encode("abcd"),
    1, // Number_of_Sequences
    0x54, // literals lengths, offsets and match lengths all RLE_Mode
    3, // literals length code 3: 3 literals
    2, // offset code 2: Offset_Value = 4 + 2 bits
    0, // match length code 0: 3 bytes
    0x04, // the bitstream: offset bits 00 (Offset_Value 4, offset 1) under the end mark
  ];
  // Not single segment (a block's compressed size counts against Block_Maximum_Size too): a 1 KiB window.
  const frame = new Uint8Array([...u32(ZSTD_MAGIC), 0x00, 0x00, ...blockHeader(true, 2, block.length), ...block]);
  assert.equal(new TextDecoder().decode(decodeAll(frame).bytes), "abccccd");
  // RLE literals in each size format, in a block without sequences.
  for (const header of [[(20 << 3) | 1], [(20 << 4) | 0x5, 1], [(20 << 4) | 0xd, 1, 0]]) {
    const lits = [...header, 0x61, 0];
    const f = new Uint8Array([...u32(ZSTD_MAGIC), 0x00, 0x00, ...blockHeader(true, 2, lits.length), ...lits]);
    assert.equal(new TextDecoder().decode(decodeAll(f).bytes), "a".repeat(20));
  }
});

Deno.test("decodeZstd decodes RLE blocks through a ring smaller than the output (a 1 KiB window)", () => {
  // Window 1 KiB, three RLE blocks of 1000 bytes: the ring is smaller than the output and wraps.
  const input = new Uint8Array([
    ...u32(ZSTD_MAGIC),
    0x00,
    0x00,
    ...blockHeader(false, 1, 1000),
    0x41,
    ...blockHeader(false, 1, 1000),
    0x42,
    ...blockHeader(true, 1, 1000),
    0x43,
  ]);
  const r = decodeAll(input);
  assert.equal(r.bytes.length, 3000);
  assert.ok(r.bytes.every((b, i) => b === 0x41 + Math.floor(i / 1000)));
});

Deno.test("decodeZstd refuses input that is no zstd frame (naming the magic) and a detached buffer", () => {
  assert.equal(throwsCode(() => decodeAll(new Uint8Array([])), "BadMagic").field, "Magic_Number");
  assert.equal(throwsCode(() => decodeAll(new Uint8Array([0x28, 0xb5, 0x2f])), "BadMagic").field, "Magic_Number");
  const e = throwsCode(() => decodeAll(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0])), "BadMagic");
  assert.match(e.message, /0x88b1f/);
  const detached = new Uint8Array(handFrame({ content: new Uint8Array(3), singleSegment: true }));
  detached.buffer.transfer();
  throwsCode(() => decodeAll(detached), "BadMagic");
  assert.ok(isZstd(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd])));
  assert.ok(!isZstd(new Uint8Array([0x28, 0xb5, 0x2f])));
});

// ---------------------------------------------------------------------------------------------------------------
// The output limit

Deno.test({
  name: "decodeZstd stops at maxOutput before the sink sees a byte past it, with or without a declared size",
  ignore,
  async fn() {
    const data = structured(500_000, 12);
    for (const args of [["-3"], ["-3", "--no-content-size"], ["-3", "--content-size"]]) {
      const packed = await zstdTool(data, args);
      assert.equal(decodeAll(packed, data.length).bytes.length, data.length);
      for (const max of [0, 1, 1000, 131072, data.length - 1]) {
        const sink = new BufferSink(new Uint8Array(max));
        const e = throwsCode(() => decodeZstd(packed, sink, { maxOutput: max }), "OutputTooLarge");
        assert.ok(sink.written <= max);
        assert.equal(e.limit, max);
      }
    }
    // Content size known: refused before anything is decoded.
    const sized = await zstdTool(data, ["-3", "--content-size"]);
    const counting = new CountingSink();
    throwsCode(() => decodeZstd(sized, counting, { maxOutput: 10 }), "OutputTooLarge");
    assert.equal(counting.written, 0);
  },
});

Deno.test("decodeZstd refuses a maxOutput that is not a byte count", () => {
  const frame = handFrame({ content: new Uint8Array(3), singleSegment: true });
  for (const maxOutput of [NaN, -1, 1.5, Infinity]) {
    assert.throws(() => decodeZstd(frame, new CountingSink(), { maxOutput }), (e) => e instanceof DecompressError);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Corrupt input

let corpusCache: Promise<{ data: Uint8Array; packed: Uint8Array }[]> | undefined;
/** A few small frames of each kind, compressed once per test run. */
function smallCorpus(): Promise<{ data: Uint8Array; packed: Uint8Array }[]> {
  corpusCache ??= (async () => {
    const out: { data: Uint8Array; packed: Uint8Array }[] = [];
    const sets: [Uint8Array, string[]][] = [
      [structured(3000, 1), ["-3"]],
      [structured(20_000, 2), ["-19"]],
      [structured(9000, 3), ["--ultra", "-22", "--no-check"]],
      [randomBytes(700, 4), ["-1"]],
      [new Uint8Array(5000), ["-1"]],
      [structured(140_000, 5), ["-1", "--no-content-size"]],
    ];
    for (const [data, args] of sets) out.push({ data, packed: await zstdTool(data, args) });
    return out;
  })();
  return corpusCache;
}

/** Decodes, returning the output or the typed error; anything else fails the test. */
function tryDecode(input: Uint8Array, maxOutput?: number): { ok: true; bytes: Uint8Array; consumed: number } | {
  ok: false;
  error: DecompressError;
} {
  try {
    const r = decodeAll(input, maxOutput);
    return { ok: true, bytes: r.bytes, consumed: r.consumed };
  } catch (e) {
    if (e instanceof DecompressError) return { ok: false, error: e };
    if (e instanceof LinuxLoaderError) assert.fail(`a ${e.name} instead of a DecompressError: ${e.message}`);
    throw e; // RangeError, TypeError: the property fails
  }
}

Deno.test({
  name: "decodeZstd on every truncation of small frames throws a typed error naming an offset inside the input",
  ignore,
  async fn() {
    for (const { packed } of (await smallCorpus()).slice(0, 4)) {
      // Every cut of a small frame; about 400 spread over a larger one.
      const step = Math.max(1, Math.floor(packed.length / 400));
      for (let n = 0; n < packed.length; n += n < 64 || packed.length - n < 64 ? 1 : step) {
        const r = tryDecode(packed.subarray(0, n));
        assert.ok(!r.ok, `a frame cut to ${n} of ${packed.length} bytes decoded`);
        assert.ok(typeof r.error.value === "number" || typeof r.error.value === "string");
      }
    }
  },
});

Deno.test({
  name:
    "decodeZstd on frames with flipped bits throws a typed error, or gives the original bytes when the frame has a checksum (property)",
  ignore,
  async fn() {
    const corpus = await smallCorpus();
    checkProperty(
      "zstd bit flips",
      fc.property(
        fc.nat({ max: corpus.length - 1 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.nat({ max: 7 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (which, flips) => {
          const { data, packed } = corpus[which];
          const bad = packed.slice();
          for (const [where, bit] of flips) bad[Math.floor(where * bad.length)] ^= 1 << bit;
          const r = tryDecode(bad, data.length * 2 + 1000);
          // A flip in a frame's magic ends the input early, which `consumed` shows. Without a content checksum
          // a flip in a raw literal cannot be detected: only typed errors are required there.
          const checked = (packed[4] & 4) !== 0;
          if (r.ok && r.consumed === bad.length && checked) {
            assert.ok(equalBytes(r.bytes, data), "corrupt input decoded to other bytes");
          }
        },
      ),
    );
  },
});

/**
 * The header fields of the first frame a mutation can target: the descriptor, the window descriptor, the
 * content size, the first block header and the first literals section header.
 */
function zstdTargets(b: Uint8Array): Targets {
  const fields: FieldRef[] = [];
  if (b.length < 5) return { fields, records: [] };
  const fhd = b[4];
  const single = (fhd >> 5) & 1, did = [0, 1, 2, 4][fhd & 3], fcsFlag = fhd >> 6;
  const fcs = fcsFlag === 0 ? single : 1 << fcsFlag;
  fields.push({ name: "Frame_Header_Descriptor", offset: 4, size: 1 });
  if (!single) fields.push({ name: "Window_Descriptor", offset: 5, size: 1 });
  const fcsAt = 5 + (single ? 0 : 1) + did;
  if (fcs > 0) fields.push({ name: "Frame_Content_Size", offset: fcsAt, size: fcs as 1 | 2 | 4 | 8 });
  const block = fcsAt + fcs;
  fields.push({ name: "Block_Header", offset: block, size: 2 }, {
    name: "Block_Header_hi",
    offset: block + 2,
    size: 1,
  });
  fields.push({ name: "Literals_Section_Header", offset: block + 3, size: 2 });
  fields.push({ name: "Literals_Section_Header_hi", offset: block + 5, size: 2 });
  return { fields, records: [] };
}

Deno.test({
  name:
    "decodeZstd on mutated frames throws only DecompressError and never hands the sink more than maxOutput (property)",
  ignore,
  async fn() {
    const corpus = await smallCorpus();
    checkProperty(
      "zstd mutated frames",
      fc.property(
        fc.nat({ max: corpus.length - 1 }),
        mutationsArb(5),
        fc.option(fc.nat({ max: 1 << 18 }), { nil: undefined }),
        (which, muts, maxOutput) => {
          const bad = mutate(corpus[which].packed, muts, zstdTargets);
          let got = 0;
          try {
            decodeZstd(
              bad,
              { write: (c) => void (got += c.length) },
              maxOutput === undefined ? undefined : { maxOutput },
            );
          } catch (e) {
            if (!(e instanceof DecompressError)) throw e;
          }
          assert.ok(got <= (maxOutput ?? 1 << 30), `the sink got ${got} bytes, maxOutput ${maxOutput}`);
        },
      ),
    );
  },
});

Deno.test("decodeZstd on random bytes after a frame magic throws only DecompressError (property)", () => {
  checkProperty(
    "zstd random frames",
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat({ max: 255 }), (body, fhd) => {
      const input = new Uint8Array([...u32(ZSTD_MAGIC), fhd & ~0x0b, ...body]); // no dictionary, reserved bit clear
      tryDecode(input, 1 << 20);
    }),
    isFuzz() ? {} : { numRuns: 2000 },
  );
});

// ---------------------------------------------------------------------------------------------------------------
// XXH64

Deno.test("Xxh64 gives the published XXH64 values and the same hash however the input is split", () => {
  const enc = new TextEncoder();
  const cases: [string, string][] = [
    ["", "ef46db3751d8e999"],
    ["a", "d24ec4f1a98c6e5b"],
    ["abc", "44bc2cf5ad770999"],
    ["Nobody inspects the spammish repetition", "fbcea83c8a378bf1"],
  ];
  for (const [text, want] of cases) {
    const h = new Xxh64();
    h.update(enc.encode(text));
    assert.equal(h.digest().map((x) => x.toString(16).padStart(8, "0")).join(""), want, JSON.stringify(text));
  }
  const data = randomBytes(1000, 77);
  const whole = new Xxh64();
  whole.update(data);
  checkProperty(
    "xxh64 split",
    fc.property(fc.array(fc.nat({ max: 1000 }), { maxLength: 6 }), (cuts) => {
      const h = new Xxh64();
      let p = 0;
      for (const c of [...cuts].sort((a, b) => a - b)) h.update(data, p, Math.max(p, c)), p = Math.max(p, c);
      h.update(data, p);
      assert.deepEqual(h.digest(), whole.digest());
    }),
    { numRuns: 200 },
  );
});

// ---------------------------------------------------------------------------------------------------------------
// A real kernel

// Debian's newest 6.12 amd64 kernel (a ZSTD bzImage), fetched into the real-kernel cache by the matrix fixture.
const kernel = (await ensureMatrixKernel("6.12-amd64"))?.kernel;

async function sha256(b: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "decodeZstd extracts Debian's 6.12 amd64 kernel payload to the bytes zstd -d gives for the dd-cut payload",
  ignore: ignoreUnless(
    hasZstd && kernel !== undefined,
    "zstd and the Debian 6.12 amd64 kernel (fixtures/real/matrix.ts 6.12-amd64)",
  ),
  async fn() {
    const image = await Deno.readFile(kernel!);
    const p = await findBzImagePayload(image);
    assert.equal(p.compression, "zstd");
    const payload = image.subarray(p.offset, p.offset + p.length);
    const trailer = new DataView(payload.buffer, payload.byteOffset + payload.length - 4).getUint32(0, true);
    const out = new Uint8Array(trailer);
    const sink = new BufferSink(out);
    const r = decodeZstd(payload, sink);
    // The frame ends four bytes before the payload: the build's size_append trailer, which matches.
    assert.equal(r.consumed, payload.length - 4);
    assert.equal(r.written, trailer);
    assert.deepEqual([...out.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    const script =
      `dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip=$2 count=$3 status=none | zstd -d -c -q | sha256sum`;
    const tool = await new Deno.Command("bash", {
      args: ["-c", script, "sh", kernel!, String(p.offset), String(p.length - 4)],
      stdout: "piped",
    }).output();
    assert.ok(tool.success);
    assert.equal(await sha256(out), new TextDecoder().decode(tool.stdout).split(" ")[0]);
  },
});
