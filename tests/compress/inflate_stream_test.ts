// decodeGzipStream (the input read in a sliding window, as an Image.gz is streamed from a file) against
// decodeGzip over the same bytes held whole: the same output, the same result, the same error (code and
// message) for intact, multi-member, truncated and corrupted inputs; the window stays bounded.

import assert from "node:assert/strict";
import { decodeGzip, decodeGzipStream } from "../../lib/compress/inflate.ts";
import { CountingSink } from "../../lib/compress/sink.ts";
import { gzip, kernelLikeBytes } from "../../fixtures/build/pe.ts";
import { crc32 } from "../../lib/compress/checksum.ts";

/** A digest sink: output length and CRC-32, so multi-megabyte outputs compare without a copy. */
class DigestSink {
  written = 0;
  crc = 0;
  write(chunk: Uint8Array): void {
    this.crc = crc32(this.crc, chunk);
    this.written += chunk.byteLength;
  }
}

interface Outcome {
  result?: unknown;
  error?: { name: string; code: unknown; message: string };
  written: number;
  crc: number;
}

function outcome(run: (sink: DigestSink) => unknown): Outcome {
  const sink = new DigestSink();
  try {
    const result = run(sink);
    return { result, written: sink.written, crc: sink.crc };
  } catch (e) {
    const err = e as { name: string; code: unknown; message: string };
    return { error: { name: err.name, code: err.code, message: err.message }, written: sink.written, crc: sink.crc };
  }
}

/** Reads of `input`, recording the largest single read and the furthest offset. */
function reader(input: Uint8Array) {
  const stats = { reads: 0, largest: 0 };
  const read = (offset: number, dest: Uint8Array): void => {
    stats.reads++;
    stats.largest = Math.max(stats.largest, dest.byteLength);
    assert.ok(offset >= 0 && offset + dest.byteLength <= input.byteLength, `read [${offset}, +${dest.byteLength})`);
    dest.set(input.subarray(offset, offset + dest.byteLength));
  };
  return { read, stats };
}

function same(input: Uint8Array, maxOutput?: number): void {
  const whole = outcome((sink) => decodeGzip(input, sink, { maxOutput }));
  const { read } = reader(input);
  const streamed = outcome((sink) => decodeGzipStream(read, input.byteLength, sink, { maxOutput }));
  assert.deepEqual(streamed, whole);
}

// Big enough for several window slides (the window holds about 385 KiB of input): a kernel-like part
// (dynamic blocks) and a random part (stored blocks).
const MiB = 1 << 20;
const plain = new Uint8Array(7 * MiB);
plain.set(kernelLikeBytes(5 * MiB, 7));
crypto.getRandomValues(plain.subarray(5 * MiB, 5 * MiB + 65536));
for (let o = 5 * MiB + 65536; o < plain.length; o += 65536) {
  plain.set(plain.subarray(5 * MiB, 5 * MiB + 65536), o); // repeats: matches reaching 64 KiB back
}
const packed = await gzip(plain);

Deno.test("decodeGzipStream gives the output and result decodeGzip gives for a multi-megabyte input", () => {
  assert.ok(packed.byteLength > 3 * MiB, `${packed.byteLength} bytes: several windows`);
  const { read, stats } = reader(packed);
  const sink = new DigestSink();
  const r = decodeGzipStream(read, packed.byteLength, sink);
  assert.deepEqual(r, decodeGzip(packed, new CountingSink()));
  assert.equal(sink.written, plain.byteLength);
  assert.equal(sink.crc, crc32(0, plain));
  assert.ok(stats.reads >= 3, `${stats.reads} reads`);
  assert.ok(stats.largest <= 2 * MiB, `largest read ${stats.largest} bytes`);
});

Deno.test("decodeGzipStream reads concatenated members and stops before trailing bytes as decodeGzip does", async () => {
  const two = new Uint8Array(packed.byteLength * 2 + 5);
  two.set(packed);
  two.set(await gzip(plain.subarray(0, 3 * MiB)), packed.byteLength);
  same(two);
});

Deno.test("decodeGzipStream fails like decodeGzip on the input cut anywhere", () => {
  for (
    const cut of [0, 2, 9, 10, 4096, MiB - 1, MiB + 7, 2 * MiB + 12345, packed.byteLength - 9, packed.byteLength - 1]
  ) {
    same(packed.subarray(0, cut));
  }
});

Deno.test("decodeGzipStream fails (or succeeds) like decodeGzip on single-byte corruptions anywhere", () => {
  const positions = [
    3,
    12,
    200,
    70_000,
    MiB + 3,
    2 * MiB - 1,
    2 * MiB + 99,
    packed.byteLength - 8,
    packed.byteLength - 3,
  ];
  for (let i = 1; i <= 4; i++) positions.push(Math.floor(packed.byteLength * i * 0.1931) + i);
  for (const at of positions) {
    const bad = packed.slice();
    bad[at] ^= 1 << (at % 8);
    same(bad);
  }
});

Deno.test("decodeGzipStream refuses output past maxOutput like decodeGzip", () => {
  same(packed, 3 * MiB + 5);
});

Deno.test("decodeGzipStream parses a member header longer than its first probe (a long file name)", async () => {
  const body = await gzip(plain.subarray(0, 200_000));
  const name = new Uint8Array(70_000).fill(0x61);
  const withName = new Uint8Array(body.byteLength + name.byteLength + 1);
  withName.set(body.subarray(0, 10));
  withName[3] |= 0x08; // FNAME
  withName.set(name, 10);
  withName.set(body.subarray(10), 10 + name.byteLength + 1);
  same(withName);
  same(withName.subarray(0, 10 + 50_000)); // cut inside the name
});

Deno.test("decodeGzipStream passes the reader's error through", () => {
  const boom = new Error("EIO");
  assert.throws(
    () =>
      decodeGzipStream(
        (offset) => {
          if (offset > 0) throw boom;
          throw boom;
        },
        packed.byteLength,
        new CountingSink(),
      ),
    (e) => e === boom,
  );
});
