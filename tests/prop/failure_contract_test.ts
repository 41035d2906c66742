// The failure contract as a property: any format, loaded from any source kind that fails at a random read in
// a random way, either loads exactly its plan or fails typed with memory unchanged or exactly the plan's ranges
// zeroed (SourceError LoadInterrupted). Runs and seeds: ./_config.ts; in fuzz mode it prints its tallies.

import fc from "fast-check";
import { checkAsyncProperty, isFuzz } from "./_config.ts";
import {
  failingSource,
  type Failure,
  type FormatCase,
  formatCases,
  memoryFor,
  runFailingAt,
  type SourceKind,
} from "./_failing.ts";
import { snapshot, timedAsync } from "./_harness.ts";

const KINDS: SourceKind[] = ["bytes", "file", "blob", "custom"];
const HOWS: Failure[] = ["error", "undefined", "string", "sync-throw", "short"];

/** The process's peak resident set (VmHWM), for the fuzz report; "n/a" off Linux. */
function peakRss(): string {
  try {
    return /VmHWM:\s+(\d+ kB)/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1] ?? "n/a";
  } catch {
    return "n/a";
  }
}

/** The reference memory (a load that does not fail) and the read count, per format and source kind. */
async function references(cases: FormatCase[]): Promise<Map<string, { memory: Uint8Array[]; reads: number }>> {
  const out = new Map<string, { memory: Uint8Array[]; reads: number }>();
  for (const c of cases) {
    for (const kind of KINDS) {
      const tm = memoryFor(c);
      const ok = failingSource(kind, c.image, -1, "error");
      await c.load(tm, await ok.source);
      out.set(`${c.name}/${kind}`, { memory: snapshot(tm), reads: ok.reads() });
    }
  }
  return out;
}

Deno.test("any format from any source failing at a random read keeps the failure contract", async () => {
  const cases = await formatCases();
  const refs = await references(cases);
  const tally = { inputs: 0, loaded: 0, failedBeforeCopy: 0, interrupted: 0 };
  await checkAsyncProperty(
    "failure contract under a source failing at a random read",
    fc.asyncProperty(
      fc.nat({ max: cases.length - 1 }),
      fc.constantFrom(...KINDS),
      fc.nat({ max: 1 << 16 }),
      fc.constantFrom(...HOWS),
      async (ci, kind, pick, how) => {
        const c = cases[ci];
        const ref = refs.get(`${c.name}/${kind}`)!;
        // Any read of the load (or none: failAt past the last read).
        const failAt = pick % (ref.reads + 1);
        const r = await timedAsync(`${c.name} from ${kind}`, () => runFailingAt(c, kind, failAt, how, ref.memory));
        tally.inputs++;
        // A long fuzz run reports as it goes, so a run cut short still says how far it got.
        if (isFuzz() && tally.inputs % 5000 === 0) {
          console.log(`fuzz failure-contract progress: ${JSON.stringify(tally)}`);
        }
        if (!r.failed) tally.loaded++;
        else if (r.code === "LoadInterrupted") tally.interrupted++;
        else tally.failedBeforeCopy++;
      },
    ),
    // Each run is a whole load: a modest default, FUZZ_RUNS in fuzz mode.
    isFuzz() ? {} : { numRuns: 300 },
  );
  if (isFuzz()) {
    console.log(
      `fuzz failure-contract: inputs=${tally.inputs} loaded=${tally.loaded} typed-before-copy=${tally.failedBeforeCopy} ` +
        `load-interrupted(scrubbed)=${tally.interrupted} untyped=0 hangs=0 memory-changed-on-failure=0 writes-outside-plan=0 ` +
        `peak-rss=${peakRss()}`,
    );
  }
});
