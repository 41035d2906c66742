import assert from "node:assert/strict";
import {
  APT_GET,
  HOST,
  installCommand,
  manualInstallLine,
  type Need,
  needs,
  parseSetupArgs,
  setup,
  type SetupHost,
} from "./setup.ts";

const PROBE_PKG = "linux-loader-probe";

/**
 * A host around one temporary directory: the probe package's path is `<dir>/installed` (absent until the
 * stubbed `apt-get install` creates it, when `installCreates` is set), apt-get is present, the user id is
 * `uid`. Commands are recorded, never run.
 */
async function stubHost(uid: number, installCreates = true) {
  const dir = await Deno.makeTempDir({ prefix: "setup-test-" });
  const path = `${dir}/installed`;
  const ran: string[][] = [];
  const lines: string[] = [];
  const host: SetupHost = {
    exists: (p) => p === APT_GET || HOST.exists(p),
    uid: () => uid,
    run(cmd) {
      ran.push(cmd);
      if (installCreates && cmd[1] === "install") Deno.writeTextFileSync(path, "");
      return Promise.resolve(true);
    },
    log: (line) => lines.push(line),
  };
  const table: Need[] = [{ pkg: PROBE_PKG, why: "a probe", paths: [path], for: ["test"] }];
  return { host, table, path, ran, lines, done: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("setup as root with apt-get prints and runs apt-get update and install for a package whose path is absent", async () => {
  const s = await stubHost(0);
  try {
    assert.equal(HOST.exists(s.path), false);
    const status = await setup({ purpose: "test" }, s.table, s.host);
    const install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", PROBE_PKG];
    assert.deepEqual(s.ran, [["apt-get", "update", "-q"], install]);
    assert.ok(s.lines.includes(`setup: ${install.join(" ")}`), s.lines.join("\n"));
    assert.equal(status, 0);
  } finally {
    await s.done();
  }
});

Deno.test("setup as root exits 1 naming the package when apt-get leaves its path absent", async () => {
  const s = await stubHost(0, false);
  try {
    assert.equal(await setup({ purpose: "test" }, s.table, s.host), 1);
    assert.equal(s.lines.at(-1), `setup: could not install ${PROBE_PKG}`);
  } finally {
    await s.done();
  }
});

Deno.test("setup as a user who is not root prints the exact apt-get install line, runs nothing and exits 1", async () => {
  const s = await stubHost(1000);
  try {
    const status = await setup({ purpose: "test" }, s.table, s.host);
    assert.deepEqual(s.ran, []);
    assert.equal(s.lines.at(-1), `  sudo apt-get update && sudo apt-get install -y ${PROBE_PKG}`);
    assert.equal(status, 1);
  } finally {
    await s.done();
  }
});

Deno.test("setup as root without apt-get prints the exact apt-get install line, runs nothing and exits 1", async () => {
  const s = await stubHost(0);
  try {
    const status = await setup({ purpose: "test" }, s.table, {
      ...s.host,
      exists: (p) => p !== APT_GET && HOST.exists(p),
    });
    assert.deepEqual(s.ran, []);
    assert.equal(s.lines.at(-1), manualInstallLine([PROBE_PKG]));
    assert.equal(status, 1);
  } finally {
    await s.done();
  }
});

Deno.test("setup runs nothing and exits 0 when a path of every package exists, and still asks for the user id", async () => {
  const s = await stubHost(0);
  try {
    await Deno.writeTextFile(s.path, "");
    let asked = 0;
    const status = await setup({ purpose: "test" }, s.table, { ...s.host, uid: () => (asked++, 0) });
    assert.deepEqual({ status, ran: s.ran, asked }, { status: 0, ran: [], asked: 1 });
  } finally {
    await s.done();
  }
});

Deno.test("setup checks only the packages of the task it runs for", async () => {
  const s = await stubHost(0);
  try {
    assert.equal(await setup({ purpose: "demo" }, s.table, s.host), 0);
    assert.deepEqual(s.ran, []);
  } finally {
    await s.done();
  }
});

Deno.test("setup --dry-run simulates installing every package of the task and installs nothing", async () => {
  const s = await stubHost(0);
  try {
    const status = await setup({ purpose: "test", dryRun: true }, s.table, s.host);
    assert.deepEqual(s.ran, [installCommand([PROBE_PKG], true)]);
    assert.ok(s.ran[0].includes("--simulate"));
    assert.equal(s.lines[0], `setup: missing for test: ${PROBE_PKG}`);
    assert.equal(status, 0);
  } finally {
    await s.done();
  }
});

Deno.test("the real host finds a present path and not an absent one, nor one below a file", async () => {
  const s = await stubHost(0);
  try {
    await Deno.writeTextFile(s.path, "");
    assert.equal(HOST.exists(s.path), true);
    assert.equal(HOST.exists(`${s.path}-absent`), false);
    assert.equal(HOST.exists(`${s.path}/below-a-file`), false);
  } finally {
    await s.done();
  }
});

Deno.test("setup reads --for demo|test and --dry-run, and rejects anything else", () => {
  assert.deepEqual(parseSetupArgs([]), { purpose: "test" });
  assert.deepEqual(parseSetupArgs(["--for", "demo"]), { purpose: "demo" });
  assert.deepEqual(parseSetupArgs(["--dry-run", "--for", "test"]), { purpose: "test", dryRun: true });
  assert.throws(() => parseSetupArgs(["--for", "bench"]), /unknown argument --for/);
  assert.throws(() => parseSetupArgs(["--install"]), /unknown argument --install/);
});

Deno.test("the package table names each package once, with absolute paths, and the test task needs every package", () => {
  const table = needs();
  assert.equal(new Set(table.map((n) => n.pkg)).size, table.length);
  for (const n of table) {
    assert.ok(n.paths.length > 0 && n.paths.every((p) => p.startsWith("/")), n.pkg);
    assert.ok(n.for.includes("test"), n.pkg);
  }
  const demo = table.filter((n) => n.for.includes("demo")).map((n) => n.pkg);
  assert.deepEqual(demo, ["libunicorn2"]);
  for (const pkg of ["xz-utils", "zstd", "lzma", "bzip2", "lzop", "lz4", "chromium", "qemu-user"]) {
    assert.ok(table.some((n) => n.pkg === pkg), pkg);
  }
});

Deno.test("the README's Two commands section names every package the tasks install", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("## Two commands");
  assert.ok(start >= 0, "README has a Two commands section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const unnamed = needs().map((n) => n.pkg).filter((pkg) => !section.includes(`\`${pkg}\``));
  assert.deepEqual(unnamed, []);
});
