import assert from "node:assert/strict";
import { DecompressError } from "../../lib/errors.ts";
import { gunzip, isGzip } from "../../lib/compress/gzip.ts";

/** Compresses with the platform's CompressionStream. */
async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Text-like bytes that compress well. */
function sample(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 97 + ((i * 7) % 13) + ((i >> 9) & 3);
  return out;
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DecompressError, `expected DecompressError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
}

Deno.test("gunzip restores what CompressionStream compressed", async () => {
  const data = sample(200_000);
  assert.deepEqual(await gunzip(await gzip(data)), data);
});

Deno.test("gunzip restores what the gzip tool compressed", async () => {
  const data = sample(50_000);
  const child = new Deno.Command("gzip", { args: ["-9", "-n", "-c"], stdin: "piped", stdout: "piped" }).spawn();
  const w = child.stdin.getWriter();
  await w.write(data);
  await w.close();
  const out = await child.output();
  assert.deepEqual(await gunzip(out.stdout), data);
});

Deno.test("gunzip rejects input without the gzip magic", async () => {
  await rejectsCode(gunzip(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])), "BadMagic");
});

Deno.test("gunzip rejects input shorter than a gzip member", async () => {
  await rejectsCode(gunzip(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0])), "Truncated");
});

Deno.test("gunzip rejects a truncated member", async () => {
  const packed = await gzip(sample(10_000));
  await rejectsCode(gunzip(packed.subarray(0, packed.length - 20)), "Truncated");
});

Deno.test("gunzip decodes concatenated members as one output", async () => {
  const a = sample(3000);
  const b = sample(500).reverse();
  assert.deepEqual(await gunzip(new Uint8Array([...await gzip(a), ...await gzip(b)])), new Uint8Array([...a, ...b]));
});

Deno.test("gunzip rejects a member whose CRC does not match", async () => {
  const packed = await gzip(sample(10_000));
  packed[packed.length - 8] ^= 1;
  await rejectsCode(gunzip(packed), "CorruptData");
});

Deno.test("gunzip rejects bytes after the member", async () => {
  const packed = await gzip(sample(1000));
  await rejectsCode(gunzip(new Uint8Array([...packed, 1, 2, 3, 4])), "CorruptData");
});

Deno.test("gunzip rejects output above the caller's limit", async () => {
  await rejectsCode(gunzip(await gzip(new Uint8Array(1 << 20)), { maxOutput: 4096 }), "OutputTooLarge");
});

Deno.test("isGzip tells gzip from other magics", () => {
  assert.equal(isGzip(new Uint8Array([0x1f, 0x8b, 8])), true);
  assert.equal(isGzip(new Uint8Array([0x1f, 0x8b, 7])), false);
  assert.equal(isGzip(new Uint8Array([0x02, 0x21, 0x4c, 0x18])), false);
  assert.equal(isGzip(new Uint8Array([0x1f])), false);
});
