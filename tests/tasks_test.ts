/**
 * The permissions in deno.json's tasks, tried against the scripts they run. Every `deno run FLAGS SCRIPT`
 * in a task is run here with exactly those flags (and the task's arguments) in a mode that touches what a
 * real run touches (a dry run, the demo itself, a one-second boot), so a missing `--allow-*` fails this
 * test, not a user on a fresh machine (issue 16: `deno task setup` lacked `--allow-sys=uid` and only a
 * machine with a package missing ever got that far). Then each flag is dropped in turn: some probe must
 * fail without it, so the tasks ask for no permission they do not use.
 *
 * `deno test` and `deno bench` run with `--allow-all`: the suite loads Unicorn through FFI and runs
 * compilers, QEMU and the browser, which together is every permission. A script may run with
 * `--allow-all` only when it is listed in {@linkcode ALL_PERMISSIONS} with the reason.
 *
 * `deno task test` bundles mod.ts once before the parallel suite: the first `deno bundle` on a machine
 * installs Deno's esbuild, and several test files bundling at once raced that install on a fresh machine
 * ("failed to copy esbuild binary").
 *
 * @module
 */

import assert from "node:assert/strict";
import { ignoreUnless } from "./_require.ts";
import { UNICORN_OK } from "./emu/_unicorn.ts";
import { qemuAvailable } from "../fixtures/real/qemu.ts";
import { APT_GET, HOST } from "./setup.ts";
import { parseFetchArgs } from "../fixtures/real/fetch.ts";

const ROOT = new URL("../", import.meta.url);
const CONFIG = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as { tasks: Record<string, string> };
const BOGUS_UNICORN = "/nonexistent/libunicorn-for-tasks-test.so.2";

/** One `deno run` in a task: its permission flags, the script and the arguments the task gives it. */
interface RunStep {
  flags: string[];
  script: string;
  args: string[];
}

/** The steps of a task: `deno run` steps, names of tasks it calls, and `deno test`/`deno bench` lines. */
function parseTask(line: string): { runs: RunStep[]; calls: string[]; suites: string[] } {
  const runs: RunStep[] = [], calls: string[] = [], suites: string[] = [];
  for (const part of line.split("&&")) {
    const words = part.replace(/>\s*\/dev\/null/, "").trim().split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w));
    if (words[0] !== "deno") throw new Error(`a task step that is not deno: ${part}`);
    if (words[1] === "task") calls.push(words[2]);
    else if (words[1] === "test" || words[1] === "bench" || words[1] === "bundle") suites.push(part.trim());
    else if (words[1] === "run") {
      const i = words.findIndex((w, k) => k >= 2 && !w.startsWith("--"));
      runs.push({ flags: words.slice(2, i), script: words[i], args: words.slice(i + 1) });
    } else throw new Error(`an unexpected deno command in a task: ${part}`);
  }
  return { runs, calls, suites };
}

/** A run of a task's last `deno run` step with more arguments, and what it must show to count as working. */
interface Probe {
  /** What it exercises, for the test name and messages. */
  what: string;
  /** Appended to the step's arguments, as `deno task NAME ARGS` does. */
  args: string[];
  env?: Record<string, string>;
  /** Default: exit status 0. Otherwise stdout + stderr must match (the exit status may be anything). */
  expect?: RegExp;
  /**
   * A server: once stdout matches `ready` (its first group the port), every path must answer 200, then
   * the server is stopped.
   */
  serve?: { ready: RegExp; paths: string[] };
}

/** How each task that runs a script is tried, when that is possible on this machine. */
interface TaskProbes {
  probes: Probe[];
  /** Why this machine cannot run the probes (ignored off CI), or undefined. */
  missing?: string;
  /** Flags no probe can show the need for, with the reason they are there anyway. */
  unprobed?: Record<string, string>;
}

const hasApt = HOST.exists(APT_GET) && HOST.exists("/usr/bin/apt-cache");
const amd64Cached = HOST.exists(new URL("fixtures/real/cache/amd64.json", ROOT).pathname);

/** Tasks whose script runs with every permission, and why nothing less would do. */
const ALL_PERMISSIONS: Record<string, string> = {
  "bench:anchor": "it runs its measured side as `deno run -A` and builds the Rust bench with cargo (apt-get, " +
    "dpkg-query, /proc, a temporary directory): with --allow-run for deno, every permission is in effect",
};

const PROBES: Record<string, TaskProbes> = {
  setup: {
    probes: [{ what: "a dry run for the tests (every path, the user id, apt-get --simulate)", args: ["--dry-run"] }],
    missing: hasApt ? undefined : "apt-get",
  },
  demo: {
    probes: [
      { what: "the demo", args: [] },
      {
        what: "the demo honouring UNICORN_LIB",
        args: [],
        env: { UNICORN_LIB: BOGUS_UNICORN },
        expect: new RegExp(BOGUS_UNICORN.replaceAll(".", "\\.")),
      },
    ],
    missing: UNICORN_OK ? undefined : "the Unicorn library",
  },
  cli: {
    probes: [
      { what: "inspect of a file", args: ["inspect", "fixtures/stubs/init_x86_64.elf"], expect: /format\s+elf/ },
      { what: "a boot of the demo kernel", args: ["boot", "--arch", "riscv64"] },
      {
        what: "boot honouring UNICORN_LIB",
        args: ["boot"],
        env: { UNICORN_LIB: BOGUS_UNICORN },
        expect: new RegExp(BOGUS_UNICORN.replaceAll(".", "\\.")),
      },
    ],
    missing: UNICORN_OK ? undefined : "the Unicorn library",
  },
  "fetch-kernels": {
    probes: [{
      what: "a dry run for amd64 (the cache lock, apt-cache, dpkg, apt-get --print-uris)",
      args: ["amd64", "--dry-run"],
    }],
    missing: hasApt ? undefined : "apt-get and apt-cache",
    // dpkg-deb is in the run list but only unpacks a real download, which `deno task test` does with these
    // flags on every fresh machine; the list as a whole is needed by the dry run (apt-cache, dpkg, apt-get).
  },
  web: {
    probes: [{
      what: "bundling the inspector, serving it on 127.0.0.1 and answering / and /inspector.js",
      args: ["--port", "0"],
      serve: { ready: /on http:\/\/127\.0\.0\.1:(\d+)\//, paths: ["/", "/inspector.js"] },
    }],
  },
  "boot-real": {
    probes: [{
      what: "a one-second PVH boot of the cached kernel, compared with QEMU",
      args: ["pvh", "--timeout", "1", "--qemu"],
    }],
    missing: !UNICORN_OK
      ? "the Unicorn library"
      : !amd64Cached
      ? "the cached Debian amd64 kernel (deno task fetch-kernels amd64)"
      : !qemuAvailable("x86_64")
      ? "qemu-system-x86_64"
      : undefined,
    unprobed: {
      "--allow-env=CI,UNICORN_LIB,LL_DEBUG": "read only for a failed fetch, a UNICORN_LIB override or LL_DEBUG=1",
    },
  },
};

interface Outcome {
  ok: boolean;
  text: string;
}

/** Longest a probe may take before it is stopped (and fails). */
const PROBE_TIMEOUT_MS = 120_000;

async function runProbe(step: RunStep, flags: string[], probe: Probe): Promise<Outcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, step.script, ...step.args, ...probe.args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...probe.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_TIMEOUT_MS);
  let served = true;
  let stdout = "";
  if (probe.serve !== undefined) {
    served = false;
    const dec = new TextDecoder();
    const reader = child.stdout.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += dec.decode(value, { stream: true });
      const port = probe.serve.ready.exec(stdout)?.[1];
      if (port === undefined) continue;
      const statuses = [];
      for (const path of probe.serve.paths) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
        await res?.body?.cancel();
        statuses.push(res?.status ?? 0);
      }
      served = statuses.every((st) => st === 200);
      stdout += `\n(statuses ${statuses.join(", ")})`;
      child.kill("SIGINT");
      break;
    }
    reader.releaseLock();
  }
  const out = await child.output().catch(() => undefined);
  clearTimeout(timer);
  const dec = new TextDecoder();
  if (out !== undefined && probe.serve === undefined) stdout = dec.decode(out.stdout);
  const text = `${stdout}\n${out === undefined ? "" : dec.decode(out.stderr)}`;
  const denied = /NotCapable|Requires \S+ access/.test(text);
  const shown = probe.serve !== undefined
    ? served
    : probe.expect === undefined
    ? out?.success === true
    : probe.expect.test(text);
  return { ok: shown && !denied, text: `exit ${out?.code}: ${text.slice(-600)}` };
}

/** The step a task's arguments go to: its last `deno run`. */
function probedStep(name: string): RunStep {
  const { runs } = parseTask(CONFIG.tasks[name]);
  assert.ok(runs.length > 0, `task ${name} runs no script`);
  return runs[runs.length - 1];
}

Deno.test("every task is deno run, deno test or bench, or deno task of an existing task, and each script it runs exists and is tried here", () => {
  for (const [name, line] of Object.entries(CONFIG.tasks)) {
    const { runs, calls } = parseTask(line);
    for (const c of calls) assert.ok(c in CONFIG.tasks, `task ${name} calls unknown task ${c}`);
    for (const r of runs) {
      assert.ok(HOST.exists(new URL(r.script, ROOT).pathname), `task ${name}: ${r.script}`);
      const all = r.flags.includes("--allow-all") || r.flags.includes("-A");
      assert.equal(all, name in ALL_PERMISSIONS, `task ${name}: --allow-all only with a reason in ALL_PERMISSIONS`);
    }
    if (runs.length > 0 && !(name in ALL_PERMISSIONS)) {
      assert.ok(name in PROBES, `task ${name} runs ${runs.at(-1)?.script} but has no probe here`);
    }
    assert.ok(runs.length <= 1, `task ${name}: one deno run per task (its arguments go to the last one)`);
  }
});

for (const [name, tp] of Object.entries(PROBES)) {
  const ignore = tp.missing === undefined ? false : ignoreUnless(false, tp.missing);

  Deno.test({
    name: `deno task ${name}: its permissions are enough for ${tp.probes.map((p) => p.what).join("; ")}`,
    ignore,
    async fn() {
      const step = probedStep(name);
      const outcomes = await Promise.all(tp.probes.map((p) => runProbe(step, step.flags, p)));
      outcomes.forEach((o, i) => assert.ok(o.ok, `${tp.probes[i].what} with ${step.flags.join(" ")}: ${o.text}`));
    },
  });

  Deno.test({
    name: `deno task ${name}: each of its permissions is needed (a probe fails without it)`,
    ignore,
    async fn() {
      const step = probedStep(name);
      const flags = step.flags.filter((f) => !(f in (tp.unprobed ?? {})));
      assert.ok(flags.length > 0 || step.flags.length === 0);
      const unneeded: string[] = [];
      await Promise.all(flags.map(async (flag) => {
        const without = step.flags.filter((f) => f !== flag);
        const outcomes = await Promise.all(tp.probes.map((p) => runProbe(step, without, p)));
        if (outcomes.every((o) => o.ok)) unneeded.push(flag);
      }));
      assert.deepEqual(unneeded, [], `task ${name} asks for permissions no probe needs`);
      for (const f of Object.keys(tp.unprobed ?? {})) assert.ok(step.flags.includes(f), `${name}: stale note on ${f}`);
    },
  });
}

Deno.test("the setup probe fails when the setup task's --allow-sys=uid is missing (the issue 16 failure)", {
  ignore: hasApt ? false : ignoreUnless(false, "apt-get"),
}, async () => {
  const step = probedStep("setup");
  assert.ok(step.flags.includes("--allow-sys=uid"));
  const r = await runProbe(step, step.flags.filter((f) => f !== "--allow-sys=uid"), PROBES.setup.probes[0]);
  assert.equal(r.ok, false);
  assert.match(r.text, /Requires sys access to "uid"/);
});

Deno.test("fetch-kernels fetches only the architectures named (both when none is), and boot-real leaves the fetch to the boot it runs", () => {
  assert.deepEqual(parseFetchArgs(["arm64"]), { arches: ["arm64"], dryRun: false, xen: false });
  assert.deepEqual(parseFetchArgs(["amd64", "--dry-run"]), { arches: ["amd64"], dryRun: true, xen: false });
  assert.deepEqual(parseFetchArgs([]), { arches: ["amd64", "arm64"], dryRun: false, xen: true });
  assert.deepEqual(parseFetchArgs(["xen"]), { arches: [], dryRun: false, xen: true });
  assert.throws(() => parseFetchArgs(["riscv64"]), /unknown argument riscv64/);
  // `deno task boot-real arm64` passes arm64 to boot_real.ts, which fetches the one kernel it boots;
  // a fetch-kernels step before it would get no arguments and fetch both.
  assert.deepEqual(parseTask(CONFIG.tasks["boot-real"]).calls, []);
});
