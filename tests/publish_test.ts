/**
 * The published package is whole: `deno publish --dry-run` lists the files JSR would get; copied alone into
 * an empty directory, every listed module loads (so none imports a file the package leaves out, such as
 * fixtures/ or tests/), and the development-only files stay out.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

async function publishedFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: root.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  const files = [...text.matchAll(/file:\/\/(\S+) \(/g)].map((m) => m[1].slice(root.pathname.length));
  assert.ok(files.length > 20, text);
  return files;
}

const files = await publishedFiles();

Deno.test("deno publish ships every entry point of deno.json and no development-only file", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as { exports: Record<string, string> };
  for (const entry of Object.values(config.exports)) assert.ok(files.includes(entry.replace(/^\.\//, "")), entry);
  for (const f of files) {
    assert.doesNotMatch(f, /^(tests|fixtures|bench|web)\//, f);
  }
  assert.ok(!files.includes("emu/linux/boot_real.ts"), "boot_real.ts imports fixtures/");
  assert.ok(!files.includes("emu/linux/NOTES.md"), "NOTES.md points outside the package");
});

Deno.test("every module deno publish ships loads from a copy of the published files alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of files) {
      await Deno.mkdir(`${dir}/${f.split("/").slice(0, -1).join("/")}`, { recursive: true });
      await Deno.copyFile(new URL(f, root), `${dir}/${f}`);
    }
    const modules = files.filter((f) => f.endsWith(".ts"));
    const script = `${dir}/.import_all.ts`;
    await Deno.writeTextFile(
      script,
      modules.map((m) => `await import(${JSON.stringify(`./${m}`)});`).join("\n") + '\nconsole.log("loaded");\n',
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--no-lock", script],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "loaded");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
