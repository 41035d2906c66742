// What the decoder tests share: the reference tools (bzip2, lzop, gzip) run on bytes, generated inputs
// that exercise the formats' cases, a sink that records chunk sizes, and corruption helpers.

import assert from "node:assert/strict";
import fc from "fast-check";
import { LinuxLoaderError } from "../../lib/errors.ts";
import type { ByteSink } from "../../lib/compress/sink.ts";

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
