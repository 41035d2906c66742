// Regressions in lib/loader/bzimage.ts, each image built by code.

import assert from "node:assert/strict";
import { buildBzImage, defaultSetupHeader } from "../../fixtures/build/bzimage.ts";
import { GuestMemory, loadBzImage } from "../../mod.ts";

// Review finding: the setup header handed to the VMM ran to sizeof(setup_header) even when the image's own
// header ends earlier (0x202 + the byte at 0x201); for such a kernel those bytes are code, not fields.
Deno.test("loadBzImage hands over only the setup header fields the image's header length covers", async () => {
  const hdr = defaultSetupHeader(0x1000);
  // A protocol 2.02 header: it ends at 0x22c (cmd_line_ptr is its last field); cmdline_size sits past it.
  const image = buildBzImage({
    payload: new Uint8Array(0x1000),
    header: { ...hdr, version: 0x202, jump: 0xeb | ((0x22c - 0x202) << 8), cmdline_size: 0x1234, init_size: 0x99 },
  });
  const r = await loadBzImage(GuestMemory.fromRanges([[0, 16 << 20]]), image);
  assert.equal(r.details.setupHeader?.cmdline_size, 0, "past the header end: zero");
  assert.equal(r.details.setupHeader?.init_size, 0, "past the header end: zero");
  assert.equal(r.details.setupHeader?.version, 0x202, "inside the header: kept");
  assert.equal(r.details.setupHeader?.code32_start, 0x100000);
});
