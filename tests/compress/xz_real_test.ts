/**
 * decodeXz on a real kernel payload: Debian bookworm's standard `linux-image-6.1.0-<abi>-amd64-unsigned`
 * bzImage, whose payload is XZ (`--check=crc32 --x86 --lzma2=dict=32MiB`). The payload is cut out per the
 * setup header (payload_offset, payload_length), decoded here and by `xz -d --single-stream` (which, like
 * the kernel, ignores the 4-byte size trailer after the stream), and the SHA-256 of both outputs compared.
 *
 * The kernel is looked up in fixtures/real/cache/ (directory `linux-image-6.1.0-<abi>-amd64-unsigned_<version>`,
 * the layout fixtures/real/fetch.ts uses); without it the test skips off CI with the reason printed.
 */
import assert from "node:assert/strict";
import { cachedXzKernel } from "../../fixtures/real/fetch.ts";
import { ensureMatrixKernel } from "../../fixtures/real/matrix.ts";
import { findBzImagePayload } from "../../lib/loader/extract.ts";
import { BufferSink } from "../../lib/compress/sink.ts";
import { decodeXz, XZ_CHECK_CRC32 } from "../../lib/compress/xz.ts";
import { ignoreUnless } from "../_require.ts";
import { HAS_XZ } from "./_tools.ts";

// On a fresh machine nothing has unpacked it yet: fetched as the real-kernel matrix does (issue 16).
const kernel = cachedXzKernel() ?? (await ensureMatrixKernel("std-amd64"))?.kernel;
const ignore = ignoreUnless(
  kernel !== undefined,
  "Debian's linux-image-6.1.0-*-amd64-unsigned (XZ payload) in fixtures/real/cache",
) ||
  ignoreUnless(HAS_XZ, "xz (xz-utils)");

async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "decodeXz decodes Debian's 6.1 amd64 kernel payload to the bytes xz -d gives for the dd-cut payload",
  ignore,
  async fn() {
    const image = await Deno.readFile(kernel!);
    const p = await findBzImagePayload(image);
    assert.equal(p.compression, "xz");
    const payload = image.subarray(p.offset, p.offset + p.length);
    // size_append: the last four bytes are the uncompressed size.
    const size = new DataView(payload.buffer, payload.byteOffset).getUint32(payload.length - 4, true);

    const dest = new Uint8Array(size);
    const sink = new BufferSink(dest);
    const r = decodeXz(payload, sink, { maxOutput: size });
    assert.equal(r.written, size);
    assert.equal(r.consumed, payload.length - 4);
    assert.equal(r.check, XZ_CHECK_CRC32);
    assert.deepEqual([...sink.dest.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]); // an ELF vmlinux

    const dir = await Deno.makeTempDir({ prefix: "xz-real-" });
    try {
      await Deno.writeFile(`${dir}/payload.xz`, payload);
      const out = await new Deno.Command("xz", {
        args: ["-d", "-c", "--single-stream", `${dir}/payload.xz`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.equal(out.stdout.length, size);
      assert.equal(await sha256(dest), await sha256(out.stdout));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
