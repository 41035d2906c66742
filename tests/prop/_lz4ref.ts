// A tiny reference LZ4 compressor for the properties, written from the LZ4 block and legacy frame formats
// (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md), independent of lib/compress/lz4.ts: it
// encodes a random list of sequences (literal runs, matches at random offsets, overlapping matches included,
// lengths crossing the 15 / 255 extension boundaries) and computes the plain bytes they stand for.

import fc from "fast-check";

/** One step of a block: literal bytes, or a match `len` bytes long reaching back a fraction of the output. */
export type Lz4Op = { kind: "lit"; bytes: Uint8Array } | { kind: "match"; back: number; len: number };

/** A block's compressed bytes and the plain bytes they decode to. */
export interface Lz4Block {
  compressed: Uint8Array;
  plain: Uint8Array;
}

class Buf {
  b: number[] = [];
  push(...xs: number[]): void {
    for (const x of xs) this.b.push(x);
  }
  bytes(x: Uint8Array): void {
    for (const v of x) this.b.push(v);
  }
  out(): Uint8Array {
    return Uint8Array.from(this.b);
  }
}

// Length extension: the nibble holds up to 15; 15 means more bytes follow, each added, 255 meaning "more".
function extend(out: Buf, n: number): void {
  let rest = n - 15;
  while (rest >= 255) {
    out.push(255);
    rest -= 255;
  }
  out.push(rest);
}

/** Encodes the ops as sequences; the last sequence holds only literals, as the format requires. */
export function encodeBlock(ops: readonly Lz4Op[], last: Uint8Array): Lz4Block {
  const out = new Buf();
  const plain: number[] = [];
  let lits: number[] = [];
  const sequence = (matchLen: number | undefined, offset: number): void => {
    const ml = matchLen === undefined ? 0 : matchLen - 4;
    const token = (Math.min(lits.length, 15) << 4) | (matchLen === undefined ? 0 : Math.min(ml, 15));
    out.push(token);
    if (lits.length >= 15) extend(out, lits.length);
    out.push(...lits);
    plain.push(...lits);
    lits = [];
    if (matchLen === undefined) return;
    out.push(offset & 0xff, offset >> 8);
    if (ml >= 15) extend(out, ml);
    // Byte by byte: an offset shorter than the length repeats the last `offset` bytes.
    for (let i = 0; i < matchLen; i++) plain.push(plain[plain.length - offset]);
  };
  for (const op of ops) {
    if (op.kind === "lit") {
      lits.push(...op.bytes);
      continue;
    }
    const produced = plain.length + lits.length;
    if (produced === 0) continue; // nothing to refer back to yet
    const offset = 1 + Math.floor(op.back * Math.min(produced, 0xffff));
    sequence(op.len, Math.min(offset, produced, 0xffff));
  }
  lits.push(...last);
  sequence(undefined, 0);
  return { compressed: out.out(), plain: Uint8Array.from(plain) };
}

/** A legacy frame: magic 0x184C2102, then each block as a u32 size and its bytes; optionally a size trailer. */
export function encodeFrame(blocks: readonly Lz4Block[], opts: { trailer?: boolean; magicEvery?: boolean } = {}) {
  const out = new Buf();
  const magic = [0x02, 0x21, 0x4c, 0x18];
  const u32 = (n: number) => out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
  out.push(...magic);
  let total = 0;
  blocks.forEach((b, i) => {
    if (opts.magicEvery && i > 0) out.push(...magic); // concatenated frames
    u32(b.compressed.byteLength);
    out.bytes(b.compressed);
    total += b.plain.byteLength;
  });
  if (opts.trailer) u32(total);
  const plain = new Uint8Array(total);
  let at = 0;
  for (const b of blocks) {
    plain.set(b.plain, at);
    at += b.plain.byteLength;
  }
  return { frame: out.out(), plain };
}

const lenArb = fc.oneof(
  fc.integer({ min: 4, max: 18 }),
  fc.integer({ min: 19, max: 300 }),
  fc.constantFrom(4, 18, 19, 273, 274, 528, 529),
);
const litArb = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 20 }), weight: 4 },
  { arbitrary: fc.uint8Array({ minLength: 14, maxLength: 300 }), weight: 1 },
);

/** Ops of one block. */
export const lz4OpsArb: fc.Arbitrary<Lz4Op[]> = fc.array(
  fc.oneof(
    litArb.map((bytes): Lz4Op => ({ kind: "lit", bytes })),
    fc.record({
      kind: fc.constant("match" as const),
      back: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      len: lenArb,
    }),
  ),
  { maxLength: 8 },
);

/** One block. */
export const lz4BlockArb: fc.Arbitrary<Lz4Block> = fc.tuple(lz4OpsArb, litArb).map(([ops, last]) =>
  encodeBlock(ops, last)
);

/** A legacy frame of 1-3 blocks and its plain bytes. */
export const lz4FrameArb: fc.Arbitrary<{ frame: Uint8Array; plain: Uint8Array; trailer: boolean }> = fc.record({
  blocks: fc.array(lz4BlockArb, { minLength: 1, maxLength: 3 }),
  trailer: fc.boolean(),
  magicEvery: fc.boolean(),
}).map((r) => ({ ...encodeFrame(r.blocks, r), trailer: r.trailer }));
