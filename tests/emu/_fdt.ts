/**
 * A minimal flattened device tree writer for emulator tests (Devicetree Specification v0.4, chapter 5),
 * so the arm64 and riscv64 stubs can be fed a tree before lib/fdt exists. Nodes are nested objects;
 * property values are strings (NUL-terminated) or big-endian u32 arrays.
 *
 * @module
 */

/** A node: properties and child nodes, in order. */
export interface FdtNode {
  /** Properties. */
  props?: Record<string, string | number[]>;
  /** Children by name. */
  children?: Record<string, FdtNode>;
}

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_END = 9;
const HEADER_SIZE = 40;

/** Serialises `root` (version 17, an empty memory reservation map). */
export function buildFdt(root: FdtNode): Uint8Array {
  const enc = new TextEncoder();
  const struct: number[] = [];
  const strings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const u32 = (v: number) => struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const pad = () => {
    while (struct.length % 4 !== 0) struct.push(0);
  };
  const nameOff = (name: string): number => {
    let off = stringOffsets.get(name);
    if (off === undefined) {
      off = strings.length;
      stringOffsets.set(name, off);
      strings.push(...enc.encode(name), 0);
    }
    return off;
  };
  const node = (name: string, n: FdtNode) => {
    u32(FDT_BEGIN_NODE);
    struct.push(...enc.encode(name), 0);
    pad();
    for (const [k, v] of Object.entries(n.props ?? {})) {
      const bytes: number[] = typeof v === "string"
        ? [...enc.encode(v), 0]
        : v.flatMap((x) => [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff]);
      u32(FDT_PROP);
      u32(bytes.length);
      u32(nameOff(k));
      struct.push(...bytes);
      pad();
    }
    for (const [k, c] of Object.entries(n.children ?? {})) node(k, c);
    u32(FDT_END_NODE);
  };
  node("", root);
  u32(FDT_END);
  const rsvmapOff = HEADER_SIZE;
  const structOff = rsvmapOff + 16;
  const stringsOff = structOff + struct.length;
  const total = stringsOff + strings.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  [
    FDT_MAGIC,
    total,
    structOff,
    stringsOff,
    rsvmapOff,
    17, // version
    16, // last_comp_version
    0, // boot_cpuid_phys
    strings.length,
    struct.length,
  ].forEach((v, i) => dv.setUint32(i * 4, v, false));
  out.set(struct, structOff);
  out.set(strings, stringsOff);
  return out;
}

/** The tree the FDT stub tests use: /memory, /chosen with bootargs (and a decoy property before it). */
export function sampleTree(bootargs: string): FdtNode {
  return {
    props: { "#address-cells": [2], "#size-cells": [2], compatible: "linux,dummy-virt" },
    children: {
      "memory@40000000": { props: { device_type: "memory", reg: [0, 0x40000000, 0, 0x8000000] } },
      chosen: { props: { "stdout-path": "/pl011@9000000", bootargs } },
      "decoy": { props: { bootargs: "wrong node" } },
    },
  };
}
