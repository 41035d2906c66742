// What the decoder tests share: the reference tools (bzip2, lzop, gzip, xz, lzma, zstd, lz4) run on bytes,
// generated inputs that exercise the formats' cases, sinks that record chunk sizes, and corruption helpers.

import assert from "node:assert/strict";
import fc from "fast-check";
import { DecompressError, LinuxLoaderError } from "../../lib/errors.ts";
import type { ByteSink } from "../../lib/compress/sink.ts";
import { checkProperty, isFuzz } from "../prop/_config.ts";
import { HANG_MS } from "../prop/_harness.ts";

/** Whether `/usr/bin/<name>` exists. */
export function hasTool(name: string): boolean {
  try {
    return Deno.statSync(`/usr/bin/${name}`).isFile;
  } catch {
    return false;
  }
}

/** Runs `cmd args` with `data` on stdin; returns stdout (asserts success). */
export async function runTool(cmd: string, args: string[], data: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const w = child.stdin.getWriter();
  const writing = w.write(data).then(() => w.close()).catch(() => {});
  const [out] = await Promise.all([child.output(), writing]);
  assert.ok(out.success, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/** Deterministic pseudo-random bytes (xorshift32): incompressible input. */
export function randomBytes(n: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Text-like bytes that compress well. */
export function sample(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 97 + ((i * 7) % 13) + ((i >> 9) & 3);
  return out;
}

/**
 * Inputs built from pieces that hit the formats' cases: random bytes (literals), runs of one byte (RLE,
 * overlapping matches, bzip2's RUNA/RUNB), repeats of an earlier piece at some distance (matches), and
 * few-symbol alphabets (short Huffman codes).
 */
export const plainArb: fc.Arbitrary<Uint8Array> = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: "bytes" as const, b })),
    fc.record({ byte: fc.nat(255), n: fc.integer({ min: 1, max: 3000 }) }).map((r) => ({ kind: "run" as const, ...r })),
    fc.record({ back: fc.nat(70_000), n: fc.integer({ min: 1, max: 2000 }) }).map((r) => ({
      kind: "repeat" as const,
      ...r,
    })),
    fc.record({ n: fc.integer({ min: 1, max: 4000 }), alphabet: fc.integer({ min: 1, max: 4 }), seed: fc.nat() }).map(
      (r) => ({ kind: "few" as const, ...r }),
    ),
  ),
  { maxLength: 12 },
).map((pieces) => {
  const parts: number[] = [];
  for (const p of pieces) {
    if (p.kind === "bytes") parts.push(...p.b);
    else if (p.kind === "run") { for (let i = 0; i < p.n; i++) parts.push(p.byte); }
    else if (p.kind === "repeat") {
      if (parts.length === 0) continue;
      const from = Math.max(0, parts.length - 1 - (p.back % parts.length));
      for (let i = 0; i < p.n; i++) parts.push(parts[from + (i % (parts.length - from))]);
    } else {
      const r = randomBytes(p.n, p.seed);
      for (let i = 0; i < p.n; i++) parts.push(97 + (r[i] % p.alphabet));
    }
  }
  return Uint8Array.from(parts);
});

/** A sink that keeps everything and remembers the largest chunk. */
export class CollectSink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  written = 0;
  largest = 0;
  write(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice());
    this.written += chunk.byteLength;
    this.largest = Math.max(this.largest, chunk.byteLength);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.written);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

/** Runs `f`; anything thrown must be a typed error of the library. */
export function typedOrOk<T>(f: () => T): { ok: true; value: T } | { ok: false; error: LinuxLoaderError } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    assert.ok(e instanceof LinuxLoaderError, `untyped error: ${e instanceof Error ? e.stack : String(e)}`);
    assert.equal(typeof e.code, "string");
    return { ok: false, error: e };
  }
}

/** Bytes equal (fast path for large arrays, readable failure). */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "output"): void {
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  for (let i = 0; i < actual.byteLength; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: first difference at byte ${i}`);
  }
}

/** A corruption: a truncation at `cut` (a fraction of the length), or bit flips at fractions of it. */
export const corruptionArb: fc.Arbitrary<{ cut?: number; flips: { at: number; bit: number }[] }> = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }).map((cut) => ({ cut, flips: [] })),
  fc.array(
    fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), bit: fc.nat(7) }),
    { minLength: 1, maxLength: 3 },
  ).map((flips) => ({ flips })),
);

/** `packed` with the corruption applied. */
export function corrupt(packed: Uint8Array, c: { cut?: number; flips: { at: number; bit: number }[] }): Uint8Array {
  if (c.cut !== undefined) return packed.slice(0, Math.floor(c.cut * packed.byteLength));
  const out = packed.slice();
  for (const f of c.flips) out[Math.floor(f.at * out.byteLength)] ^= 1 << f.bit;
  return out;
}

/** Property runs for tests that spawn a tool per case: modest by default, FUZZ_RUNS when fuzzing. */
export function toolRuns(base = 40): number {
  try {
    const fuzz = Deno.env.get("FUZZ");
    if (fuzz && fuzz !== "0") return Number(Deno.env.get("FUZZ_RUNS") ?? 2000);
  } catch {
    // no --allow-env
  }
  return base;
}

/** Runs `f`, which must throw a DecompressError with `code`; returns it. */
export function throwsCode(f: () => unknown, code: string): DecompressError {
  const r = typedOrOk(f);
  assert.ok(!r.ok, `expected ${code}, it succeeded`);
  assert.ok(r.error instanceof DecompressError, String(r.error));
  assert.equal(r.error.code, code, r.error.message);
  return r.error;
}

/** A decoder's shape: input, sink, options; returns what it wrote and consumed. */
export type Decoder = (
  input: Uint8Array,
  sink: ByteSink,
  options: { maxOutput?: number },
) => { written: number; consumed: number };

/** Decodes `packed` into a CollectSink: the bytes, what was consumed, and the largest chunk. */
export function decodeCollect(
  decoder: Decoder,
  packed: Uint8Array,
  maxOutput?: number,
): { bytes: Uint8Array; consumed: number; largest: number } {
  const sink = new CollectSink();
  const r = decoder(packed, sink, { maxOutput });
  assert.equal(r.written, sink.written);
  return { bytes: sink.bytes(), consumed: r.consumed, largest: sink.largest };
}

/**
 * Corrupts `packed` (truncations, bit flips) many times: decoding must throw a typed error or give `plain`,
 * never hang; more than 100 of the cases must be errors.
 */
export function checkCorruption(
  name: string,
  packed: Uint8Array,
  plain: Uint8Array,
  decode: (bad: Uint8Array) => { bytes: Uint8Array },
  what: string,
): void {
  let errors = 0;
  checkProperty(
    name,
    fc.property(corruptionArb, (c) => {
      const bad = corrupt(packed, c);
      const t0 = performance.now();
      const r = typedOrOk(() => decode(bad));
      assert.ok(performance.now() - t0 < HANG_MS, "took too long");
      if (r.ok) assertBytes(r.value.bytes, plain, what);
      else errors++;
    }),
    isFuzz() ? {} : { numRuns: 300 },
  );
  assert.ok(errors > 100, `${errors} errors`);
}

/** Same bytes, else the first difference as the message. */
export function assertSame(got: Uint8Array, want: Uint8Array): void {
  const diff = firstDifference(got, want);
  assert.equal(diff, undefined, diff);
}

/** Runs `fn` and returns its DecompressError (fails on success or on any other error). */
export function decompressError(fn: () => unknown): DecompressError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecompressError) return e;
    throw new Error(`expected a DecompressError, got ${e}`, { cause: e });
  }
  assert.fail("expected a DecompressError, but decoding succeeded");
}

/** xz-utils' `xz` is installed. */
export const HAS_XZ: boolean = hasTool("xz");
/**
 * Debian's `lzma` package is installed: its `lzmp` (LZMA SDK based) writes the known size into the header.
 * `/usr/bin/lzma` alone would not do: xz-utils provides it too (an alternative), writing no size.
 */
export const HAS_LZMA: boolean = hasTool("lzmp");

/**
 * Compresses every input with one run of `cmd args... files` (the tool writes `file<suffix>` next to
 * each file): one process for many inputs keeps property tests fast.
 */
export async function compressMany(
  cmd: string,
  args: string[],
  inputs: Uint8Array[],
  suffix: string,
): Promise<Uint8Array[]> {
  if (inputs.length === 0) return [];
  const dir = await Deno.makeTempDir({ prefix: "xz-test-" });
  try {
    const names = inputs.map((_, i) => `${dir}/in${i}`);
    await Promise.all(inputs.map((d, i) => Deno.writeFile(names[i], d)));
    const out = await new Deno.Command(cmd, { args: [...args, ...names], stdout: "piped", stderr: "piped" }).output();
    if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    return await Promise.all(names.map((n) => Deno.readFile(n + suffix)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Text-like bytes: words from a small vocabulary, so LZMA finds matches at many distances. */
export function textBytes(n: number, seed = 1): Uint8Array {
  const words = ["linux", "kernel", " ", "\n", "xz", "lzma", "the ", "of ", "0x", "ffff", "e820", "boot", "load"];
  const r = randomBytes(n, seed);
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; o < n; i++) {
    const w = words[r[i % n] % words.length];
    for (let k = 0; k < w.length && o < n; k++) out[o++] = w.charCodeAt(k);
  }
  return out;
}

/**
 * Code-like bytes for the BCJ filters: random words where many carry the opcode patterns each filter
 * converts (x86 E8/E9 with a 00/FF top byte, ARM BL, Thumb BL pairs, ARM64 BL and ADRP, PowerPC bl,
 * SPARC call, IA-64 bundles with branch templates).
 */
export function codeBytes(n: number, seed = 7): Uint8Array {
  const out = randomBytes(n, seed);
  const r = randomBytes(n, seed ^ 0x5555);
  for (let i = 0; i + 16 <= n; i += 4) {
    switch (r[i] % 10) {
      case 0: // x86 call rel32, small target
        out[i] = 0xe8;
        out[i + 4] = r[i + 1] & 1 ? 0x00 : 0xff;
        break;
      case 1: // ARM BL
        out[i + 3] = 0xeb;
        break;
      case 2: // Thumb BL pair
        out[i + 1] = 0xf0 | (out[i + 1] & 7);
        out[i + 3] = 0xf8 | (out[i + 3] & 7);
        break;
      case 3: // ARM64 BL
        out[i + 3] = 0x94 | (out[i + 3] & 3);
        break;
      case 4: // ARM64 ADRP
        out[i + 3] = 0x90 | (out[i + 3] & 0x60);
        out[i + 2] &= 0x1f;
        break;
      case 5: // PowerPC bl (big endian): 0x48 .. .. 0x01
        out[i] = 0x48 | (out[i] & 3);
        out[i + 3] = (out[i + 3] & 0xfc) | 1;
        break;
      case 6: // SPARC call: top 10 bits 0x100 or 0x1FF
        out[i] = r[i + 2] & 1 ? 0x40 : 0x7f;
        out[i + 1] = r[i + 2] & 1 ? (out[i + 1] & 0x3f) : (out[i + 1] | 0xc0);
        break;
      case 7: // IA-64 bundle template with branch slots (0x16 -> slots 1, 2)
        if (i % 16 === 0) out[i] = (out[i] & 0xe0) | 0x16;
        break;
    }
  }
  return out;
}

/** Inputs for round trips: empty, tiny, random, text-like, runs, code-like, and mixtures. */
export const inputArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ minLength: 1, maxLength: 4096 }),
  fc.tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer()).map(([n, s]) => textBytes(n, s)),
  fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.integer()).map(([n, s]) => codeBytes(n, s)),
  fc.tuple(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 0, max: 255 })).map(([n, b]) =>
    new Uint8Array(n).fill(b)
  ),
  fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 40 })), {
    minLength: 1,
    maxLength: 20,
  }).map((parts) => {
    const pieces = parts.flatMap(([p, k]) => Array.from({ length: k }, () => p));
    const out = new Uint8Array(pieces.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of pieces) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }),
);

/** Byte-wise equality with the first difference in the message. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `first difference at ${i}: ${a[i]} vs ${b[i]}`;
  return a.length === b.length ? undefined : `lengths differ: ${a.length} vs ${b.length}`;
}

/** Sink that keeps everything in growing memory (tests only). */
export class GrowSink {
  private buf = new Uint8Array(1024);
  /** Bytes written. */
  written = 0;
  /** Largest chunk seen. */
  maxChunk = 0;
  /** Appends a chunk. */
  write(chunk: Uint8Array): void {
    if (this.written + chunk.length > this.buf.length) {
      const n = new Uint8Array(Math.max(this.buf.length * 2, this.written + chunk.length));
      n.set(this.buf.subarray(0, this.written));
      this.buf = n;
    }
    this.buf.set(chunk, this.written);
    this.written += chunk.length;
    this.maxChunk = Math.max(this.maxChunk, chunk.length);
  }
  /** Everything written. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.written);
  }
}
