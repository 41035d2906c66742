/**
 * Draws a boot plan over guest memory as an SVG memory map: one row per planned write in address order
 * (copies from the image, literal bytes, fills), the free RAM between them and the holes between regions,
 * each with its start address and a label. Row heights grow with the logarithm of the size, so a 4 KiB zero
 * page and a 20 MiB kernel are both readable. Pure string building: no DOM, so Deno tests can read it too.
 *
 * @module
 */

/** One planned write, as the map needs it (a plan step or a plan step's JSON form both fit). */
export interface MapStep {
  /** `copy`, `bytes` or `fill`. */
  kind: "copy" | "bytes" | "fill";
  /** First guest address. */
  guestAddr: number;
  /** Bytes written. */
  length: number;
  /** What it is. */
  label: string;
}

/** One region of guest memory. */
export interface MapRegion {
  /** First guest address. */
  guestAddr: number;
  /** Size in bytes. */
  size: number;
}

/** The fill colour of each kind of row, as `#rrggbb` (the browser test counts these in a screenshot). */
export const MAP_COLOURS: Readonly<Record<MapStep["kind"] | "free" | "hole", string>> = Object.freeze({
  copy: "#1f6feb",
  bytes: "#2da44e",
  fill: "#d4a72c",
  free: "#d0d7de",
  hole: "#ffffff",
});

/** Width of the SVG in CSS pixels. */
export const MAP_WIDTH = 760;
/** Most rows drawn; a larger plan ends with a "more steps" line. */
export const MAP_MAX_ROWS = 200;

const ADDR_RIGHT = 118; // right edge of the address column
const BAR_X = 128;
const BAR_W = 180;
const LABEL_X = BAR_X + BAR_W + 12;
const TOP = 34; // below the legend
const REGION_H = 20; // the line naming a region
const HOLE_H = 16;

interface Row {
  kind: MapStep["kind"] | "free" | "hole" | "region";
  start: number;
  end: number;
  text: string;
}

/** `0x…` in lower case. */
function hex(n: number): string {
  return "0x" + n.toString(16);
}

/** A size in bytes, KiB, MiB or GiB, with at most one decimal. */
export function formatSize(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 ? String(v) : (Math.round(v * 10) / 10).toString();
  return `${s} ${units[u]}`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function rowHeight(kind: Row["kind"], len: number): number {
  if (kind === "hole") return HOLE_H;
  // 18 px for 512 bytes or less, then more per doubling: 3 px for a write (up to 63 px at 16 MiB), 1 px for
  // free RAM (up to 33 px), so the writes stand out.
  const doublings = Math.min(15, Math.max(0, Math.log2(Math.max(len, 1)) - 9));
  return Math.round(18 + (kind === "free" ? 1 : 3) * doublings);
}

function rowsOf(regions: readonly MapRegion[], steps: readonly MapStep[]): Row[] {
  const sorted = [...steps].sort((a, b) => a.guestAddr - b.guestAddr || a.length - b.length);
  const regs = [...regions].sort((a, b) => a.guestAddr - b.guestAddr);
  const rows: Row[] = [];
  let i = 0;
  regs.forEach((r, k) => {
    const end = r.guestAddr + r.size;
    if (k > 0) {
      const prevEnd = regs[k - 1].guestAddr + regs[k - 1].size;
      if (r.guestAddr > prevEnd) {
        rows.push({
          kind: "hole",
          start: prevEnd,
          end: r.guestAddr,
          text: `no memory (${formatSize(r.guestAddr - prevEnd)})`,
        });
      }
    }
    rows.push({ kind: "region", start: r.guestAddr, end, text: `RAM region ${k}: ${formatSize(r.size)}` });
    let at = r.guestAddr;
    // Steps before this region (outside memory: a plan that would not validate) are shown where they are.
    while (i < sorted.length && sorted[i].guestAddr < end) {
      const s = sorted[i++];
      if (s.guestAddr > at) {
        rows.push({ kind: "free", start: at, end: s.guestAddr, text: `free RAM (${formatSize(s.guestAddr - at)})` });
      }
      rows.push({
        kind: s.kind,
        start: s.guestAddr,
        end: s.guestAddr + s.length,
        text: `${s.label} · ${s.kind} ${formatSize(s.length)}`,
      });
      at = Math.max(at, s.guestAddr + s.length);
    }
    if (at < end) rows.push({ kind: "free", start: at, end, text: `free RAM (${formatSize(end - at)})` });
  });
  while (i < sorted.length) {
    const s = sorted[i++];
    rows.push({ kind: s.kind, start: s.guestAddr, end: s.guestAddr + s.length, text: `${s.label} (outside memory)` });
  }
  return rows;
}

/** An address to point at beside the row that holds it: the entry point, a register's boot data. */
export interface MapMark {
  /** Guest address. */
  addr: number;
  /** What points there ("entry", "rsi"). */
  label: string;
}

/** Options of {@linkcode memoryMapSvg}. */
export interface MemoryMapOptions {
  /** The SVG's `<title>`. */
  title?: string;
  /** Addresses to mark beside their rows. */
  marks?: readonly MapMark[];
}

/**
 * The SVG markup of the memory map of `steps` over `regions`. Every rectangle of a row carries
 * `data-kind` and `data-start` / `data-end` (hex) so a page or a test can find it.
 */
export function memoryMapSvg(
  regions: readonly MapRegion[],
  steps: readonly MapStep[],
  opts: MemoryMapOptions = {},
): string {
  const title = opts.title ?? "";
  const marks = opts.marks ?? [];
  const all = rowsOf(regions, steps);
  const rows = all.slice(0, MAP_MAX_ROWS);
  const out: string[] = [];
  let y = TOP;
  const legend = (["copy", "bytes", "fill", "free"] as const).map((k, n) =>
    `<rect x="${BAR_X + n * 110}" y="8" width="14" height="14" fill="${MAP_COLOURS[k]}"/>` +
    `<text x="${BAR_X + n * 110 + 20}" y="20">${k === "free" ? "free RAM" : k}</text>`
  ).join("");
  for (const r of rows) {
    if (r.kind === "region") {
      out.push(
        `<text class="region" x="${BAR_X}" y="${y + 14}" font-weight="bold">` +
          `${escapeXml(r.text)}, ${hex(r.start)}..${hex(r.end)}</text>`,
      );
      y += REGION_H;
      continue;
    }
    const h = rowHeight(r.kind, r.end - r.start);
    const stroke = r.kind === "hole" ? ` stroke="#8c959f" stroke-dasharray="4 3"` : "";
    out.push(
      `<g class="row">` +
        `<text class="addr" x="${ADDR_RIGHT}" y="${y + 12}" text-anchor="end">${hex(r.start)}</text>` +
        `<rect data-kind="${r.kind}" data-start="${hex(r.start)}" data-end="${hex(r.end)}" x="${BAR_X}" y="${y}" ` +
        `width="${BAR_W}" height="${h - 2}" fill="${MAP_COLOURS[r.kind]}"${stroke}/>` +
        `<text x="${LABEL_X}" y="${y + 12}">${escapeXml(r.text)}` +
        marks.filter((m) => m.addr >= r.start && m.addr < r.end && r.kind !== "hole")
          .map((m) => `<tspan class="mark" fill="#cf222e"> ◀ ${escapeXml(m.label)} ${hex(m.addr)}</tspan>`).join("") +
        `</text>` +
        `</g>`,
    );
    y += h;
  }
  if (rows.length > 0) {
    const last = rows[rows.length - 1];
    out.push(`<text class="addr" x="${ADDR_RIGHT}" y="${y + 10}" text-anchor="end">${hex(last.end)}</text>`);
    y += 14;
  }
  if (all.length > rows.length) {
    out.push(`<text x="${LABEL_X}" y="${y + 12}">… ${all.length - rows.length} more rows</text>`);
    y += 18;
  }
  const height = y + 8;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="memory-map" width="${MAP_WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${MAP_WIDTH} ${height}" shape-rendering="crispEdges" font-family="monospace" font-size="12">` +
    (title ? `<title>${escapeXml(title)}</title>` : "") + legend + out.join("") + `</svg>`;
}
