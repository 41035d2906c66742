// loadPe of an Image.gz from a file with synchronous reads: the compressed file is streamed into the decoder
// in windows (never read whole), the guest bytes equal an in-memory load's, and the failure contract holds:
// a read failing in the verifying pass leaves guest memory untouched; the file failing or changing during
// the writing pass zeroes the planned range and throws SourceError LoadInterrupted, touching nothing else.

import assert from "node:assert/strict";
import { GuestMemory } from "../../lib/memory.ts";
import { loadPe } from "../../lib/loader/pe.ts";
import { fromFile, type SeekableFile } from "../../lib/source.ts";
import { SourceError } from "../../lib/errors.ts";
import { buildArm64Image, gzip, kernelLikeBytes } from "../../fixtures/build/pe.ts";

const MiB = 1 << 20;
const BASE = 0x4000_0000;
const image = buildArm64Image({ code: kernelLikeBytes(9 * MiB, 3) });
const packed = await gzip(image);

/** A file over `bytes` with the synchronous methods fromFile uses; `onRead` may fail or change a read. */
function mockFile(bytes: Uint8Array, onRead?: (n: number, pos: number, dest: Uint8Array) => void) {
  let pos = 0;
  const stats = { reads: 0, largest: 0, total: 0 };
  const file: SeekableFile = {
    seek: (o) => Promise.resolve(pos = Number(o)),
    read: () => Promise.reject(new Error("async read: not expected here")),
    stat: () => Promise.resolve({ size: bytes.byteLength }),
    seekSync: (o) => pos = Number(o),
    statSync: () => ({ size: bytes.byteLength }),
    readSync(dest: Uint8Array): number | null {
      if (pos >= bytes.byteLength) return null;
      const n = Math.min(dest.byteLength, bytes.byteLength - pos);
      dest.set(bytes.subarray(pos, pos + n));
      stats.reads++;
      stats.largest = Math.max(stats.largest, n);
      stats.total += n;
      onRead?.(stats.reads, pos, dest.subarray(0, n));
      pos += n;
      return n;
    },
  };
  return { file, stats };
}

function usedGuest(): GuestMemory {
  const mem = GuestMemory.fromRanges([[BASE, 32 * MiB]]);
  mem.regions[0].bytes.fill(0xcc);
  return mem;
}

Deno.test("loadPe streams an Image.gz from a file: guest bytes as from memory, no read of the whole file", async () => {
  const want = usedGuest();
  await loadPe(want, packed, { imageBase: BASE });
  const mem = usedGuest();
  const { file, stats } = mockFile(packed);
  const r = await loadPe(mem, await fromFile(file), { imageBase: BASE });
  assert.equal(r.details.strategy, "verify-then-write");
  assert.equal(r.loadEnd - r.loadStart, image.byteLength);
  assert.ok(packed.byteLength > 4 * MiB, `${packed.byteLength} bytes`);
  assert.ok(stats.largest <= 2 * MiB, `largest read ${stats.largest} of a ${packed.byteLength}-byte file`);
  assert.deepEqual(mem.regions[0].bytes, want.regions[0].bytes);
});

Deno.test("loadPe of a streamed Image.gz whose read fails in the verifying pass leaves guest memory untouched", async () => {
  const mem = usedGuest();
  const before = mem.regions[0].bytes.slice();
  const { file } = mockFile(packed, (n) => {
    if (n === 4) throw new Error("EIO");
  });
  await assert.rejects(loadPe(mem, await fromFile(file), { imageBase: BASE }), (e) => {
    assert.ok(!(e instanceof SourceError && e.code === "LoadInterrupted"), String(e));
    return true;
  });
  assert.deepEqual(mem.regions[0].bytes, before);
});

for (const kind of ["fails", "changes"] as const) {
  Deno.test(`loadPe of a streamed Image.gz whose file ${kind} in the writing pass zeroes the planned range (LoadInterrupted)`, async () => {
    const mem = usedGuest();
    const before = mem.regions[0].bytes.slice();
    // Reads of the verifying pass, counted on a clean run: the writing pass starts after them.
    const probe = mockFile(packed);
    await loadPe(usedGuest(), await fromFile(probe.file), { imageBase: BASE });
    const perPass = probe.stats.reads / 2; // header probe + verify, then write: about half each
    const { file } = mockFile(packed, (n, _pos, dest) => {
      if (n !== Math.ceil(perPass) + 2) return;
      if (kind === "fails") throw new Error("EIO");
      dest[dest.byteLength >> 1] ^= 0x5a; // the file changed under the load
    });
    const r = loadPe(mem, await fromFile(file), { imageBase: BASE });
    await assert.rejects(r, (e) => e instanceof SourceError && e.code === "LoadInterrupted");
    const bytes = mem.regions[0].bytes;
    const start = 0, end = image.byteLength; // text_offset 0: the image at BASE
    assert.ok(bytes.subarray(start, end).every((b) => b === 0), "the planned range is zeroed");
    assert.deepEqual(bytes.subarray(end), before.subarray(end), "nothing past it touched");
  });
}

Deno.test("loadPe of a streamed Image.gz over zeroed memory: a failing read leaves the memory zero", async () => {
  const mem = GuestMemory.fromRanges([[BASE, 32 * MiB]]);
  const { file } = mockFile(packed, (n) => {
    if (n === 5) throw new Error("EIO");
  });
  await assert.rejects(loadPe(mem, await fromFile(file), { imageBase: BASE }));
  assert.ok(mem.regions[0].bytes.every((b) => b === 0));
});
