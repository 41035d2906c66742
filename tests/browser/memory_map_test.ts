/**
 * The memory map's rows, read from its SVG markup (no browser needed): what is drawn for writes, free RAM,
 * holes between regions and writes outside memory.
 */
import assert from "node:assert/strict";
import { formatSize, MAP_MAX_ROWS, type MapStep, memoryMapSvg } from "../../web/memory_map.ts";

/** `kind start..end` of every drawn row, in order. */
function rows(svg: string): string[] {
  return [...svg.matchAll(/data-kind="(\w+)" data-start="(0x[0-9a-f]+)" data-end="(0x[0-9a-f]+)"/g)]
    .map(([, k, s, e]) => `${k} ${s}..${e}`);
}

Deno.test("memoryMapSvg draws writes in address order with the free RAM between them", () => {
  const steps: MapStep[] = [
    { kind: "fill", guestAddr: 0x3000, length: 0x1000, label: "bss" },
    { kind: "copy", guestAddr: 0x1000, length: 0x2000, label: "text" },
  ];
  assert.deepEqual(rows(memoryMapSvg([{ guestAddr: 0, size: 0x1_0000 }], steps)), [
    "free 0x0..0x1000",
    "copy 0x1000..0x3000",
    "fill 0x3000..0x4000",
    "free 0x4000..0x10000",
  ]);
});

Deno.test("memoryMapSvg shows the hole between two regions and a write outside memory", () => {
  const svg = memoryMapSvg(
    [{ guestAddr: 0x10_0000, size: 0x1000 }, { guestAddr: 0, size: 0x1000 }],
    [{ kind: "bytes", guestAddr: 0x20_0000, length: 8, label: "stray" }],
  );
  assert.deepEqual(rows(svg), [
    "free 0x0..0x1000",
    "hole 0x1000..0x100000",
    "free 0x100000..0x101000",
    "bytes 0x200000..0x200008",
  ]);
  assert.match(svg, /stray \(outside memory\)/);
});

Deno.test("memoryMapSvg escapes labels and stops at MAP_MAX_ROWS rows", () => {
  const steps: MapStep[] = Array.from({ length: MAP_MAX_ROWS + 10 }, (_, i) => ({
    kind: "bytes",
    guestAddr: i * 16,
    length: 16,
    label: `<s${i}>`,
  }));
  const svg = memoryMapSvg([{ guestAddr: 0, size: 0x1_0000 }], steps);
  // The region's name line is the first row; 210 writes and the free RAM after them follow.
  assert.equal(rows(svg).length, MAP_MAX_ROWS - 1);
  assert.match(svg, /&#60;s0&#62; · bytes 16 bytes/);
  assert.match(svg, /… 12 more rows/);
});

Deno.test("formatSize uses the largest binary unit with one decimal", () => {
  assert.deepEqual([0, 1023, 1536, 32 << 20, 2 ** 40].map(formatSize), [
    "0 bytes",
    "1023 bytes",
    "1.5 KiB",
    "32 MiB",
    "1 TiB",
  ]);
});

Deno.test("memoryMapSvg marks the entry point and register targets beside the rows that hold them", () => {
  const svg = memoryMapSvg(
    [{ guestAddr: 0, size: 0x1_0000 }],
    [{ kind: "copy", guestAddr: 0x1000, length: 0x1000, label: "text" }],
    { marks: [{ addr: 0x1200, label: "entry" }, { addr: 0x8000, label: "rsi" }] },
  );
  assert.match(svg, /text · copy 4 KiB<tspan class="mark"[^>]*> ◀ entry 0x1200<\/tspan>/);
  assert.match(svg, /free RAM \(56 KiB\)<tspan class="mark"[^>]*> ◀ rsi 0x8000<\/tspan>/);
});
