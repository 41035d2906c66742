// The hostile-input suite (issue 18): each crafted input runs in its own process (tests/hostile/_case.ts)
// under a time guard, and its peak resident set (VmHWM) is compared with a process that only loads the
// library: the difference must stay within what the case's output needs plus a constant. Every outcome must
// be a success or one of the library's typed errors.
//
// The decoder bombs (1 GiB of zeros behind 4.5 MB of gzip) take seconds to build: they run with FUZZ=1
// (`deno task fuzz`); each must end typed within 96 MiB of the baseline (measured: about 9 MiB).

import assert from "node:assert/strict";
import { isFuzz } from "../prop/_config.ts";
import { bzImageGzipBomb, gzipBomb } from "./_case.ts";

const CASE_SCRIPT = new URL("./_case.ts", import.meta.url).pathname;
/** A hang detector, not a speed test: generous for a loaded 2-core machine. */
const TIME_GUARD_MS = 120_000;
const MiB = 1024;

interface Outcome {
  case: string;
  outcome: string;
  ms: number;
  peakKiB: number;
}

async function runCase(name: string, dir: string): Promise<Outcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CASE_SCRIPT, name, dir],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIME_GUARD_MS),
  });
  const out = await child.output().catch((e) => {
    throw new Error(`${name}: no answer within ${TIME_GUARD_MS} ms (a hang): ${e}`);
  });
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  assert.ok(out.success && text.startsWith("{"), `${name}: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text) as Outcome;
}

/** Cases: the outcome expected (a regular expression) and the peak memory allowed above the baseline. */
const CASES: { name: string; expect: RegExp; allowKiB: number; why: string }[] = [
  // 16 MiB of guest memory, the 4.7 MB image, its 65,535 decoded program headers (~0.5 KB each) and the walk.
  { name: "elf-65535-notes-bytes", expect: /^ok$/, allowKiB: 160 * MiB, why: "16 MiB guest + image + phdrs" },
  { name: "elf-65535-notes-file", expect: /^ok$/, allowKiB: 160 * MiB, why: "16 MiB guest + note bytes + phdrs" },
  { name: "inspect-65535-notes", expect: /^ok$/, allowKiB: 160 * MiB, why: "image + phdrs" },
  {
    name: "file-shrinks-mid-load",
    expect: /^typed SourceError LoadInterrupted$/,
    allowKiB: 48 * MiB,
    why: "16 MiB guest",
  },
  { name: "region-2^40", expect: /^typed MemoryError AllocationFailed$/, allowKiB: 32 * MiB, why: "nothing" },
  { name: "read-2^50", expect: /^typed MemoryError OutOfRange$/, allowKiB: 32 * MiB, why: "nothing" },
  { name: "plan-json-200k-deep", expect: /^typed PlanJsonError /, allowKiB: 64 * MiB, why: "the 200k nested arrays" },
  { name: "fdt-cycle", expect: /^typed FdtError BadStructure$/, allowKiB: 32 * MiB, why: "nothing" },
  { name: "cmdline-parse-160k", expect: /^ok$/, allowKiB: 32 * MiB, why: "the 160k text" },
];

const BOMBS = ["gzip-image-bomb-loadPe", "gzip-image-bomb", "extract-gzip-bomb"];

let baselineKiB: number | undefined;
let scratch: string | undefined;

async function setup(): Promise<{ base: number; dir: string }> {
  scratch ??= await Deno.makeTempDir({ prefix: "hostile-" });
  baselineKiB ??= (await runCase("baseline", scratch)).peakKiB;
  return { base: baselineKiB, dir: scratch };
}

for (const c of CASES) {
  Deno.test(`hostile input ${c.name}: typed outcome, no hang, peak memory within ${c.allowKiB / MiB} MiB (${c.why})`, async () => {
    const { base, dir } = await setup();
    const r = await runCase(c.name, dir);
    console.log(
      `hostile ${c.name}: ${r.outcome}, ${r.ms} ms, peak ${(r.peakKiB / MiB).toFixed(1)} MiB (baseline ${
        (base / MiB).toFixed(1)
      } MiB)`,
    );
    assert.doesNotMatch(r.outcome, /^untyped/, `${c.name}: ${r.outcome}`);
    assert.match(r.outcome, c.expect, c.name);
    assert.ok(r.peakKiB - base <= c.allowKiB, `${c.name}: peak ${r.peakKiB} KiB, baseline ${base} KiB`);
  });
}

Deno.test({
  name: "decoder bombs (1 GiB of zeros behind 4.5 MB of gzip into 4 MiB of guest memory) end typed in bounded memory",
  ignore: !isFuzz(),
  async fn() {
    const { base, dir } = await setup();
    await gzipBomb(`${dir}/bomb.gz`, 1 << 30);
    await bzImageGzipBomb(`${dir}/bomb.bz`, 1 << 30);
    for (const name of BOMBS) {
      const r = await runCase(name, dir);
      console.log(
        `hostile ${name}: ${r.outcome}, ${r.ms} ms, peak ${(r.peakKiB / MiB).toFixed(1)} MiB (baseline ${
          (base / MiB).toFixed(1)
        } MiB)`,
      );
      assert.match(r.outcome, /^typed /, name);
      // Our own decoders stop at the room in guest memory (4 MiB) or maxOutput (64 MiB for extract).
      assert.ok(r.peakKiB - base <= 96 * MiB, `${name}: peak ${r.peakKiB} KiB, baseline ${base} KiB`);
    }
  },
});

Deno.test("hostile suite scratch directory is removed", async () => {
  if (scratch !== undefined) await Deno.remove(scratch, { recursive: true });
  scratch = undefined;
});
