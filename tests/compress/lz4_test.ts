import assert from "node:assert/strict";
import { DecompressError } from "../../lib/errors.ts";
import { BufferSink } from "../../lib/compress/sink.ts";
import {
  decodeLz4,
  decodeLz4Block,
  decodeLz4Legacy,
  LZ4_LEGACY_BLOCK_SIZE,
  LZ4_LEGACY_MAGIC,
  LZ4_LEGACY_MAX_COMPRESSED,
} from "../../lib/compress/lz4.ts";
import { ignoreUnless } from "../_require.ts";
import { hasTool, randomBytes, runTool } from "./_tools.ts";

const hasLz4 = hasTool("lz4");

/** Compresses `data` with Debian's `lz4` tool as a legacy frame (`-l`). */
function lz4Tool(data: Uint8Array, level = "-1"): Promise<Uint8Array> {
  return runTool("lz4", ["-l", level, "-c"], data);
}

/** Text-like data with repeats at many distances, runs of zeros and short periodic runs (overlapping matches). */
function structured(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = ["kernel", "vmlinux", "initramfs", "\n", " ", "0x", "ffffffff81000000", "boot_params", "\0\0\0\0"];
  const rnd = randomBytes(n, 1234);
  let i = 0;
  let k = 0;
  while (i < n) {
    const r = rnd[k++ % n];
    if (r < 20) { // a run of zeros
      const len = Math.min(n - i, 64 + r * 97);
      i += len;
    } else if (r < 40) { // a short period repeated: matches that overlap their own output
      const period = 1 + (r % 7);
      const len = Math.min(n - i, 20 + r * 5);
      for (let j = 0; j < len; j++) out[i + j] = 65 + ((j % period) * 3);
      i += len;
    } else if (r < 50 && i > 70000) { // a copy from far back (offset near the 64 KiB limit)
      const len = Math.min(n - i, 300);
      out.copyWithin(i, i - 65000, i - 65000 + len);
      i += len;
    } else {
      const w = words[r % words.length];
      for (let j = 0; j < w.length && i < n; j++) out[i++] = w.charCodeAt(j);
    }
  }
  return out;
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** A legacy frame around the given raw blocks. */
function frame(...blocks: number[][]): Uint8Array {
  return new Uint8Array([...u32(LZ4_LEGACY_MAGIC), ...blocks.flatMap((b) => [...u32(b.length), ...b])]);
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
  return caught;
}

Deno.test({
  name: "decodeLz4Legacy restores random bytes compressed by the lz4 tool",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const data = randomBytes(300_000);
    const { bytes, consumed, blocks } = decodeLz4Legacy(await lz4Tool(data));
    assert.equal(blocks, 1);
    assert.ok(consumed > data.length);
    assert.deepEqual(bytes, data);
  },
});

Deno.test({
  name: "decodeLz4Legacy restores structured data compressed by the lz4 tool at a high level",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const data = structured(1_000_000);
    const packed = await lz4Tool(data, "-9");
    assert.ok(packed.length < data.length / 2, "the data should compress");
    assert.deepEqual(decodeLz4Legacy(packed).bytes, data);
  },
});

Deno.test({
  name: "decodeLz4Legacy decodes a multi-block frame of more than 8 MiB byte-identically",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const data = structured(LZ4_LEGACY_BLOCK_SIZE * 2 + 12345);
    const r = decodeLz4Legacy(await lz4Tool(data));
    assert.equal(r.blocks, 3);
    assert.equal(r.bytes.length, data.length);
    assert.ok(r.bytes.every((b, i) => b === data[i]), "bytes differ");
  },
});

Deno.test({
  name: "decodeLz4Legacy decodes concatenated frames as one stream",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const a = structured(5000);
    const b = randomBytes(3000, 7);
    const fa = await lz4Tool(a);
    const fb = await lz4Tool(b);
    const both = new Uint8Array(fa.length + fb.length);
    both.set(fa);
    both.set(fb, fa.length);
    assert.deepEqual(decodeLz4Legacy(both).bytes, new Uint8Array([...a, ...b]));
  },
});

Deno.test({
  name: "decodeLz4Legacy stops before a kernel's trailing size field and reports where",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const data = structured(100_000);
    const packed = await lz4Tool(data);
    const withSize = new Uint8Array([...packed, ...u32(data.length)]); // what the kernel's size_append adds
    const r = decodeLz4Legacy(withSize);
    assert.equal(r.consumed, packed.length);
    assert.deepEqual(r.bytes, data);
  },
});

Deno.test("decodeLz4Legacy stops at a size field too large to be a block", () => {
  const f = frame([0x30, 97, 98, 99]);
  const withJunk = new Uint8Array([...f, ...u32(LZ4_LEGACY_MAX_COMPRESSED + 1), 1, 2, 3, 4, 5]);
  const r = decodeLz4Legacy(withJunk);
  assert.equal(r.consumed, f.length);
  assert.deepEqual(r.bytes, new Uint8Array([97, 98, 99]));
});

Deno.test("decodeLz4Legacy copies an overlapping match that repeats its own output", () => {
  // "a", then a match at offset 1 of 15 + 4 + 5 = 24 bytes, then 5 final literals "bcdef"
  const r = decodeLz4Legacy(frame([0x1f, 97, 1, 0, 5, 0x50, 98, 99, 100, 101, 102]));
  assert.equal(new TextDecoder().decode(r.bytes), "a".repeat(25) + "bcdef");
});

Deno.test("decodeLz4Legacy rejects input without the legacy magic", () => {
  throwsCode(() => decodeLz4Legacy(new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0, 0, 0, 0])), "BadMagic");
});

Deno.test("decodeLz4Legacy rejects input shorter than the magic", () => {
  throwsCode(() => decodeLz4Legacy(new Uint8Array([0x02, 0x21])), "BadMagic");
});

Deno.test("decodeLz4Legacy rejects a block whose size passes the end of input", () => {
  const f = frame([0x50, 104, 101, 108, 108, 111]);
  throwsCode(() => decodeLz4Legacy(new Uint8Array([...f.subarray(0, 4), ...u32(100), ...f.subarray(8)])), "Truncated");
});

Deno.test("decodeLz4Legacy rejects literals that pass the end of their block", () => {
  throwsCode(() => decodeLz4Legacy(frame([0x50, 104, 101])), "Truncated");
});

Deno.test("decodeLz4Legacy rejects a match offset of zero", () => {
  throwsCode(() => decodeLz4Legacy(frame([0x10, 97, 0, 0, 0x10, 98])), "CorruptData");
});

Deno.test("decodeLz4Legacy rejects a match that reaches before the start of its block", () => {
  throwsCode(() => decodeLz4Legacy(frame([0x10, 97, 2, 0, 0x10, 98])), "CorruptData");
});

Deno.test("decodeLz4Legacy rejects a block that ends right after a match", () => {
  throwsCode(() => decodeLz4Legacy(frame([0x10, 97, 1, 0])), "CorruptData");
});

Deno.test("decodeLz4Legacy rejects a block that would decompress to more than 8 MiB", () => {
  // one literal, then a match of 4 + 15 + 255 * 33000 bytes: about 8.4 MB from one block
  const block = [0x1f, 97, 1, 0, ...new Array(33000).fill(255), 0, 0x10, 98];
  throwsCode(() => decodeLz4Legacy(frame(block)), "CorruptData");
});

Deno.test("decodeLz4Legacy rejects output above the caller's limit", () => {
  const block = [0x1f, 97, 1, 0, ...new Array(40).fill(255), 0, 0x10, 98];
  throwsCode(() => decodeLz4Legacy(frame(block), { maxOutput: 1000 }), "OutputTooLarge");
});

Deno.test({
  name: "decodeLz4Legacy throws only DecompressError on randomly corrupted frames and always returns",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const data = structured(20_000);
    const packed = await lz4Tool(data);
    const rnd = randomBytes(4096, 99);
    for (let t = 0; t < 400; t++) {
      const bad = packed.slice(0, t % 3 === 0 ? 4 + ((rnd[t] << 8 | rnd[t + 1]) % (packed.length - 4)) : undefined);
      for (let k = 0; k < 1 + (t % 4); k++) {
        const at = 4 + ((rnd[(t * 7 + k) % 4096] << 8 | rnd[(t * 13 + k) % 4096]) % Math.max(1, bad.length - 4));
        if (at < bad.length) bad[at] = rnd[(t * 11 + k) % 4096];
      }
      try {
        const r = decodeLz4Legacy(bad);
        assert.ok(r.consumed <= bad.length);
      } catch (e) {
        assert.ok(e instanceof DecompressError, `not a DecompressError: ${String(e)}`);
      }
    }
  },
});

Deno.test("decodeLz4Block rejects bounds outside its buffers", () => {
  throwsCode(() => decodeLz4Block(new Uint8Array(4), 0, 8, new Uint8Array(4), 0, 4), "CorruptData");
  throwsCode(() => decodeLz4Block(new Uint8Array(4), 0, 4, new Uint8Array(4), 2, 4), "CorruptData");
});

Deno.test("decodeLz4Block writes nothing past its output limit", () => {
  const out = new Uint8Array(8).fill(0xee);
  // 5 literals into a 4-byte window at offset 2
  throwsCode(() => decodeLz4Block(new Uint8Array([0x50, 1, 2, 3, 4, 5]), 0, 6, out, 2, 4), "CorruptData");
  assert.deepEqual(out, new Uint8Array(8).fill(0xee));
});

Deno.test({
  name: "decodeLz4 streams one block per sink write and refuses output above maxOutput before the sink receives it",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const plain = new Uint8Array(20 << 20).map((_, i) => (i >> 12) & 0xff);
    const packed = await lz4Tool(plain);
    const sizes: number[] = [];
    const r = decodeLz4(packed, { write: (c) => void sizes.push(c.byteLength) });
    assert.equal(r.written, plain.byteLength);
    assert.deepEqual(sizes, [LZ4_LEGACY_BLOCK_SIZE, LZ4_LEGACY_BLOCK_SIZE, 4 << 20]);
    const sink = new BufferSink(new Uint8Array(10 << 20));
    assert.throws(
      () => decodeLz4(packed, sink, { maxOutput: 10 << 20 }),
      (e) => e instanceof DecompressError && e.code === "OutputTooLarge",
    );
    assert.equal(sink.written, LZ4_LEGACY_BLOCK_SIZE);
  },
});

Deno.test({
  name: "decodeLz4Legacy never grows its buffer past maxOutput",
  ignore: ignoreUnless(hasLz4, "lz4"),
  async fn() {
    const plain = new Uint8Array(12 << 20);
    const packed = await lz4Tool(plain);
    const r = decodeLz4Legacy(packed, { maxOutput: 12 << 20 });
    assert.equal(r.bytes.byteLength, 12 << 20);
    assert.ok(r.bytes.buffer.byteLength <= 12 << 20, `buffer of ${r.bytes.buffer.byteLength} bytes`);
  },
});
