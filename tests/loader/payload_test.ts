// decompressIntoGuest: straight into guest memory with memory untouched on failure, for every method the
// kernel builds: one pass with zero-restore into fresh memory, verify-then-write over memory that holds data.

import assert from "node:assert/strict";
import fc from "fast-check";
import { GuestMemory } from "../../lib/memory.ts";
import { DecompressError } from "../../lib/errors.ts";
import {
  decompressIntoGuest,
  decompressPayload,
  isZeroRange,
  measurePayload,
  type PayloadMethod,
  sizeTrailer,
} from "../../lib/loader/payload.ts";
import { ignoreUnless } from "../_require.ts";
import { checkProperty, isFuzz } from "../prop/_config.ts";
import { assertBytes, corrupt, corruptionArb, hasTool, runTool, sample, typedOrOk } from "../compress/_tools.ts";

const TOOLS: Record<PayloadMethod, { cmd: string; args: string[]; sizeAppend: boolean }> = {
  gzip: { cmd: "gzip", args: ["-n", "-9"], sizeAppend: false },
  bzip2: { cmd: "bzip2", args: ["-9"], sizeAppend: true },
  lzma: { cmd: "lzma", args: ["-9"], sizeAppend: true },
  xz: { cmd: "xz", args: ["--check=crc32", "--lzma2=,dict=32MiB"], sizeAppend: true },
  lzo: { cmd: "lzop", args: ["-9"], sizeAppend: true },
  lz4: { cmd: "lz4", args: ["-l", "-9", "-c"], sizeAppend: true },
  zstd: { cmd: "zstd", args: ["-19", "-c"], sizeAppend: true },
};
const METHODS = Object.keys(TOOLS) as PayloadMethod[];
const ignore = ignoreUnless(Object.values(TOOLS).every((t) => hasTool(t.cmd)), "the seven compression tools");

async function compress(method: PayloadMethod, data: Uint8Array): Promise<Uint8Array> {
  const t = TOOLS[method];
  const out = await runTool(t.cmd, t.args, data);
  if (!t.sizeAppend) return out;
  const withSize = new Uint8Array(out.length + 4);
  withSize.set(out);
  new DataView(withSize.buffer).setUint32(out.length, data.length, true);
  return withSize;
}

const PLAIN = new Uint8Array([...sample(200_000), ...new Uint8Array(50_000)]);
// Two adjacent regions: the output crosses from one into the other.
const layout = (): GuestMemory => GuestMemory.fromRanges([[0x10000, 0x30000], [0x40000, 0x80000]]);

Deno.test({
  name: "decompressIntoGuest writes each method's output in one pass into zeroed memory and in two over used memory",
  ignore,
  async fn() {
    for (const method of METHODS) {
      const payload = await compress(method, PLAIN);
      assert.equal(sizeTrailer(payload), PLAIN.length);
      const fresh = layout();
      assert.equal(decompressIntoGuest(fresh, 0x20000, method, payload, PLAIN.length), "zero-restore");
      assertBytes(fresh.read(0x20000, PLAIN.length), PLAIN, method);
      const used = layout();
      used.fill(0x30000, 16, 0xee);
      assert.equal(decompressIntoGuest(used, 0x20000, method, payload, PLAIN.length), "verify-then-write");
      assertBytes(used.read(0x20000, PLAIN.length), PLAIN, method);
      assertBytes(decompressPayload(method, payload, 1 << 20), PLAIN, method);
      assert.equal(measurePayload(method, payload, 1 << 20), PLAIN.length);
    }
  },
});

Deno.test({
  name: "decompressIntoGuest leaves guest memory byte for byte as it was when the payload is corrupt or the size wrong",
  ignore,
  async fn() {
    for (const method of METHODS) {
      const payload = await compress(method, PLAIN);
      checkProperty(
        `guest untouched on failure (${method})`,
        fc.property(corruptionArb, fc.boolean(), fc.integer({ min: -2, max: 2 }), (c, used, sizeDelta) => {
          const mem = layout();
          if (used) mem.fill(0x50000, 100, 0x5a);
          const before = mem.read(0x10000, 0xb0000);
          const bad = corrupt(payload, c);
          const r = typedOrOk(() => decompressIntoGuest(mem, 0x20000, method, bad, PLAIN.length + sizeDelta));
          if (r.ok) {
            assert.equal(sizeDelta, 0);
            assertBytes(mem.read(0x20000, PLAIN.length), PLAIN, `${method}: a corrupt payload that decodes`);
          } else {
            assert.ok(r.error instanceof DecompressError, String(r.error));
            assertBytes(mem.read(0x10000, 0xb0000), before, `${method}: memory after ${r.error.message}`);
          }
        }),
        isFuzz() ? {} : { numRuns: 25 },
      );
    }
  },
});

Deno.test("isZeroRange finds a single non-zero byte anywhere, across regions and at unaligned ends", () => {
  const mem = layout();
  assert.ok(isZeroRange(mem, 0x10001, 0xaffff));
  for (const at of [0x10000, 0x10003, 0x3ffff, 0x40000, 0x7fff1, 0xbffff]) {
    const m = layout();
    m.fill(at, 1, 0x80);
    assert.equal(isZeroRange(m, 0x10000, 0xb0000), false, at.toString(16));
    assert.equal(isZeroRange(m, at + 1, 0xc0000 - at - 1), true);
  }
});
