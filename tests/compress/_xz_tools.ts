/**
 * Helpers shared by the xz and lzma decoder tests: running the reference tools (`xz` from xz-utils,
 * `lzma` from Debian's lzma package) on many inputs with one process per option set, and input
 * generators.
 */
import fc from "fast-check";

/** Whether an executable exists. */
export function hasTool(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** xz-utils' `xz` is installed. */
export const HAS_XZ: boolean = hasTool("/usr/bin/xz");
/**
 * Debian's `lzma` package is installed: its `lzmp` (LZMA SDK based) writes the known size into the header.
 * `/usr/bin/lzma` alone would not do: xz-utils provides it too (an alternative), writing no size.
 */
export const HAS_LZMA: boolean = hasTool("/usr/bin/lzmp");

/** Runs `cmd args` with `data` on stdin; returns stdout (throws with stderr on failure). */
export async function pipe(cmd: string, args: string[], data: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const w = child.stdin.getWriter();
  const writing = w.write(data).then(() => w.close()).catch(() => {});
  const [out] = await Promise.all([child.output(), writing]);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

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

/** Deterministic pseudo-random bytes (xorshift32). */
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
