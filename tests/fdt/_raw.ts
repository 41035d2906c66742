// Test helper: assembles FDT blobs token by token, so reader tests can build malformed blobs in code.
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_HEADER, FDT_MAGIC, FDT_PROP } from "../../lib/fdt/header.ts";

/** One item of a raw structure block. */
export type RawItem =
  | { begin: string }
  | { end: true }
  | { prop: string; value?: Uint8Array; nameoff?: number; len?: number }
  | { token: number }
  | { bytes: Uint8Array };

/** Assembles header + empty reservation map + struct + strings; `patch` can override header fields. */
export function rawFdt(items: RawItem[], patch: Partial<Record<string, number>> = {}): Uint8Array {
  const enc = new TextEncoder();
  const strings: number[] = [];
  const offs = new Map<string, number>();
  const struct: number[] = [];
  const u32 = (v: number) => struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const pad = () => {
    while (struct.length % 4) struct.push(0);
  };
  for (const it of items) {
    if ("begin" in it) {
      u32(FDT_BEGIN_NODE);
      struct.push(...enc.encode(it.begin), 0);
      pad();
    } else if ("end" in it) u32(FDT_END_NODE);
    else if ("prop" in it) {
      let off = offs.get(it.prop);
      if (off === undefined) {
        off = strings.length;
        offs.set(it.prop, off);
        strings.push(...enc.encode(it.prop), 0);
      }
      const v = it.value ?? new Uint8Array(0);
      u32(FDT_PROP);
      u32(it.len ?? v.length);
      u32(it.nameoff ?? off);
      struct.push(...v);
      pad();
    } else if ("token" in it) u32(it.token);
    else struct.push(...it.bytes);
  }
  const structOff = FDT_HEADER.size + 16;
  const stringsOff = structOff + struct.length;
  const total = stringsOff + strings.length;
  const out = new Uint8Array(total);
  out.set(struct, structOff);
  out.set(strings, stringsOff);
  FDT_HEADER.write(new DataView(out.buffer), 0, {
    magic: FDT_MAGIC,
    totalsize: total,
    off_dt_struct: structOff,
    off_dt_strings: stringsOff,
    off_mem_rsvmap: FDT_HEADER.size,
    version: 17,
    last_comp_version: 16,
    boot_cpuid_phys: 0,
    size_dt_strings: strings.length,
    size_dt_struct: struct.length,
    ...patch,
  });
  return out;
}

/** A well-formed minimal token list: root with one property and a child. */
export const MINIMAL: RawItem[] = [
  { begin: "" },
  { prop: "model", value: new TextEncoder().encode("x\0") },
  { begin: "chosen" },
  { end: true },
  { end: true },
  { token: FDT_END },
];
