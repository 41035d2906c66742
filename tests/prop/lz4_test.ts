// Properties of the LZ4 legacy-frame and block decoders against the reference compressor in ./_lz4ref.ts
// (literal-only and match-containing blocks, overlapping matches, length extensions, concatenated frames, the
// kernel's size trailer), and on hostile frames. Runs and seeds: ./_config.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeLz4Block, decodeLz4Legacy } from "../../lib/compress/lz4.ts";
import { DecompressError } from "../../lib/errors.ts";
import { checkProperty } from "./_config.ts";
import { hostileNumber, mutate, mutationsArb } from "./_arbitraries.ts";
import { lz4BlockArb, lz4FrameArb } from "./_lz4ref.ts";
import { timed, tryTyped } from "./_harness.ts";

const noTargets = () => ({ fields: [], records: [] });

Deno.test("decodeLz4Legacy gives back exactly the bytes the reference compressor packed", () => {
  checkProperty(
    "lz4 decode(compress(x)) round-trips",
    fc.property(lz4FrameArb, fc.option(fc.nat({ max: 4096 }), { nil: undefined }), (f, sizeHint) => {
      const r = timed("decodeLz4Legacy", () => decodeLz4Legacy(f.frame, { sizeHint }));
      assert.deepEqual(r.bytes, f.plain);
      // The size trailer is left unconsumed for the caller to check.
      assert.equal(r.consumed, f.frame.byteLength - (f.trailer ? 4 : 0));
    }),
  );
});

Deno.test("decodeLz4Block decodes every reference block into a buffer of exactly its size, and refuses one byte less", () => {
  checkProperty(
    "lz4 block exact output bound",
    fc.property(lz4BlockArb, fc.nat({ max: 16 }), (b, slack) => {
      const out = new Uint8Array(b.plain.byteLength + slack).fill(0xee);
      const n = timed(
        "decodeLz4Block",
        () => decodeLz4Block(b.compressed, 0, b.compressed.byteLength, out, slack, b.plain.byteLength),
      );
      assert.equal(n, b.plain.byteLength);
      assert.deepEqual(out.subarray(slack), b.plain);
      assert.ok(out.subarray(0, slack).every((x) => x === 0xee), "wrote before dst");
      if (b.plain.byteLength > 0) {
        const r = tryTyped(() =>
          decodeLz4Block(b.compressed, 0, b.compressed.byteLength, out, 0, b.plain.byteLength - 1)
        );
        assert.ok(!r.ok && r.error instanceof DecompressError && r.error.code === "CorruptData");
      }
    }),
  );
});

Deno.test("decodeLz4Legacy on any mutated frame throws only DecompressError and never passes maxOutput", () => {
  checkProperty(
    "lz4 mutated frames",
    fc.property(
      lz4FrameArb,
      mutationsArb(6),
      fc.option(hostileNumber(fc.nat({ max: 1 << 16 })), { nil: undefined }),
      fc.option(hostileNumber(fc.nat({ max: 1 << 16 })), { nil: undefined }),
      (f, muts, maxOutput, sizeHint) => {
        const frame = mutate(f.frame, muts, noTargets);
        const r = timed("decodeLz4Legacy", () => tryTyped(() => decodeLz4Legacy(frame, { maxOutput, sizeHint })));
        if (!r.ok) {
          assert.ok(r.error instanceof DecompressError, r.error.name);
          return;
        }
        assert.ok(r.value.consumed >= 4 && r.value.consumed <= frame.byteLength);
        if (maxOutput !== undefined && maxOutput >= 0) assert.ok(r.value.bytes.byteLength <= maxOutput);
      },
    ),
  );
});

Deno.test("decodeLz4Block on any bytes and bounds throws only DecompressError and writes only inside [dst, dst + limit)", () => {
  checkProperty(
    "lz4 hostile blocks",
    fc.property(
      fc.oneof(lz4BlockArb.map((b) => b.compressed), fc.uint8Array({ maxLength: 64 })),
      mutationsArb(3),
      hostileNumber(fc.nat({ max: 80 })),
      hostileNumber(fc.nat({ max: 80 })),
      hostileNumber(fc.nat({ max: 300 })),
      fc.nat({ max: 8 }),
      (block, muts, start, dst, limit, guard) => {
        const src = mutate(block, muts, noTargets);
        const out = new Uint8Array(256 + guard).fill(0xee);
        const r = timed(
          "decodeLz4Block",
          () => tryTyped(() => decodeLz4Block(src, start, src.byteLength, out, dst, limit)),
        );
        if (!r.ok) {
          assert.ok(r.error instanceof DecompressError, r.error.name);
          return;
        }
        // Only [dst, dst + produced) changed.
        out.forEach((x, i) => {
          if (i < dst || i >= dst + r.value) assert.equal(x, 0xee, `byte ${i} outside the output was written`);
        });
        assert.ok(r.value <= limit);
      },
    ),
  );
});
