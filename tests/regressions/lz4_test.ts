// Regressions found by tests/prop/lz4_test.ts, each with its frame built by code.

import assert from "node:assert/strict";
import { decodeLz4Block, decodeLz4Legacy } from "../../lib/compress/lz4.ts";
import { DecompressError } from "../../lib/errors.ts";

// Magic 0x184C2102, then one block of `block.length` bytes.
function frame(...block: number[]): Uint8Array {
  return new Uint8Array([0x02, 0x21, 0x4c, 0x18, block.length, 0, 0, 0, ...block]);
}

const typed = (e: unknown) => e instanceof DecompressError;

// Found by "lz4 mutated frames": maxOutput -Infinity made the first buffer new Uint8Array(-Infinity), a
// RangeError; NaN silently disabled the limit.
Deno.test("decodeLz4Legacy refuses a NaN or negative maxOutput with a DecompressError", () => {
  const f = frame(0xe0, ...new Array(14).fill(0)); // 14 literal zeros
  for (const maxOutput of [-Infinity, -1, NaN]) assert.throws(() => decodeLz4Legacy(f, { maxOutput }), typed);
  assert.equal(decodeLz4Legacy(f, { maxOutput: Infinity }).bytes.byteLength, 14);
  assert.equal(decodeLz4Legacy(f, { maxOutput: 14.5 }).bytes.byteLength, 14);
});

// Found by "lz4 mutated frames": a size hint of 2^53 - 1 (as a hostile size trailer or init_size gives it) was
// allocated up front: RangeError "Array buffer allocation failed".
Deno.test("decodeLz4Legacy does not allocate a size hint the input cannot produce", () => {
  const f = frame(0x00); // one empty literal-only sequence
  const r = decodeLz4Legacy(f, { sizeHint: Number.MAX_SAFE_INTEGER, maxOutput: Number.MAX_VALUE });
  assert.equal(r.bytes.byteLength, 0);
  assert.ok(r.bytes.buffer.byteLength <= f.byteLength * 255);
});

// Found by "lz4 hostile blocks": a NaN dst passed the bounds check (every comparison false), nothing was
// written and the byte count returned was NaN.
Deno.test("decodeLz4Block refuses non-integer bounds with a DecompressError", () => {
  const block = new Uint8Array([0x10, 0x41]); // one literal "A"
  const out = new Uint8Array(8);
  for (const [start, dst, limit] of [[0, NaN, 4], [0.5, 0, 4], [0, 0, Infinity], [0, 1.5, 4]]) {
    assert.throws(() => decodeLz4Block(block, start, block.length, out, dst, limit), typed);
  }
  assert.equal(decodeLz4Block(block, 0, block.length, out, 2, 4), 1);
  assert.equal(out[2], 0x41);
});
