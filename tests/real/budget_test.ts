/**
 * The instruction budget of real-kernel runs (`maxInstructions`, the CLI's `--max-instructions`): the engine
 * counts in slices, the last cut to what is left, and the run ends "instructions" (bootAny and the CLI:
 * "limit") with exactly the budget used and at the same guest point on every run. A few million
 * instructions of Debian's cloud kernels (their decompressor and early start-up): well under a second each.
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { bootRealKernel } from "../../emu/linux/machine.ts";
import { bootAny } from "../../emu/linux/boot_any.ts";
import { emuTest } from "../emu/_unicorn.ts";
import { realBootTest } from "../real_boot/_boot.ts";

const amd64 = await ensureRealKernel("amd64");
const arm64 = await ensureRealKernel("arm64");
const BUDGET = 3_000_000;

for (const [arch, rec] of [["x86_64", amd64], ["arm64", arm64]] as const) {
  realBootTest(
    rec !== undefined,
    `an instruction budget ends a real ${arch} boot after exactly that many instructions, at the same pc every run`,
    async () => {
      const image = await Deno.readFile(rec!.kernel);
      const runs = [];
      for (let i = 0; i < 2; i++) {
        runs.push(await bootRealKernel(image, { maxInstructions: BUDGET, timeoutMs: 120_000 }));
      }
      for (const r of runs) {
        assert.equal(r.stop, "instructions", r.detail);
        assert.equal(r.instructions, BUDGET);
        assert.match(r.detail, new RegExp(`^instruction budget of ${BUDGET} used`));
      }
      assert.equal(runs[0].pc, runs[1].pc);
      // A larger budget gets further: the budget, not something else, ended the run.
      const more = await bootRealKernel(image, { maxInstructions: 2 * BUDGET, timeoutMs: 120_000 });
      assert.equal(more.instructions, 2 * BUDGET);
      assert.notEqual(more.pc, runs[0].pc);
    },
    emuTest,
  );
}

realBootTest(
  amd64 !== undefined,
  "bootAny reports a real run's used instruction budget as the ending 'limit', and the CLI's --json says so",
  async () => {
    const image = await Deno.readFile(amd64!.kernel);
    const r = await bootAny(image, { maxInstructions: BUDGET });
    assert.equal(r.machine, "real");
    assert.equal(r.ending, "limit", r.detail);
    const cli = new URL("../../cli.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "boot", amd64!.kernel, "--max-instructions", String(BUDGET), "--json"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1, new TextDecoder().decode(out.stderr));
    const j = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(j.ending, "limit");
    assert.equal(j.instructions, BUDGET);
    assert.match(j.detail, /instruction budget of 3000000 used/);
    assert.equal(typeof j.console, "string");
  },
  emuTest,
);
