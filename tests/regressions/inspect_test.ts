// Regressions in lib/inspect.ts, each image built by code.

import assert from "node:assert/strict";
import { XLF_CAN_BE_LOADED_ABOVE_4G, XLF_KERNEL_64 } from "../../lib/abi/bootparam.ts";
import { inspectKernel } from "../../lib/inspect.ts";
import { buildBzImage } from "../../fixtures/build/bzimage.ts";

const payload = new Uint8Array(0x1000);

// Found in review: inspectKernel reported a 64-bit entry (code32_start + 0x200) for every bzImage, also for
// a protocol 2.12+ kernel whose xloadflags lack XLF_KERNEL_64 ("This kernel has the legacy 64-bit entry
// point at 0x200"), i.e. a 32-bit kernel with nothing at that address.
Deno.test("inspectKernel reports no linux64 entry for a 2.12+ bzImage without XLF_KERNEL_64", async () => {
  const r = await inspectKernel(buildBzImage({ payload, header: { xloadflags: XLF_CAN_BE_LOADED_ABOVE_4G } }));
  assert.equal(r.format, "bzimage");
  assert.equal(r.entry.linux64, undefined);
});

Deno.test("inspectKernel reports the linux64 entry at code32_start + 0x200 with XLF_KERNEL_64 or before 2.12", async () => {
  const with64 = await inspectKernel(buildBzImage({ payload, header: { xloadflags: XLF_KERNEL_64 } }));
  assert.equal(with64.entry.linux64, 0x100200);
  const old = await inspectKernel(buildBzImage({ payload, header: { version: 0x020b, xloadflags: 0 } }));
  assert.equal(old.entry.linux64, 0x100200);
});
