/**
 * Bundles the kernel inspector for the browser and serves it on 127.0.0.1.
 *
 * ```sh
 * deno task web              # http://127.0.0.1:8000/
 * deno task web --port 9000
 * ```
 *
 * The page's bundle is made by `deno bundle --platform browser` from web/inspector.ts (the library, the demo
 * kernels and the page code in one ES module), and the whole library is served as /linux_loader.js (from
 * mod.ts) and /linux_loader_abi.js (from abi.ts); tests/browser uses the same two functions.
 *
 * @module
 */

import { parseArgs } from "node:util";

const WEB_DIR = new URL(".", import.meta.url);
const REPO_DIR = new URL("..", import.meta.url);

/** The bundles {@linkcode bundleWeb} makes, by the name the page fetches them under. */
export const BUNDLES: Readonly<Record<string, string>> = Object.freeze({
  // The page: the library as far as the inspector uses it, the demo kernels, the page code.
  "inspector.js": "web/inspector.ts",
  // The whole library as one browser module (every export), for pages that import it directly.
  "linux_loader.js": "mod.ts",
  // The C struct tables and protocol constants (the package's ./abi export).
  "linux_loader_abi.js": "abi.ts",
});

/**
 * Bundles every entry of {@linkcode BUNDLES} into `dir` with `deno bundle --platform browser`, one after
 * the other (on a fresh machine the first bundle installs Deno's esbuild; two at once race that install).
 * Throws with deno's output when bundling fails.
 */
export async function bundleWeb(dir: string): Promise<void> {
  for (const [name, entry] of Object.entries(BUNDLES)) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", "-o", `${dir}/${name}`, entry],
      cwd: REPO_DIR.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      throw new Error(`deno bundle --platform browser ${entry} failed:\n${text}`);
    }
  }
}

/**
 * Serves the page: `/` (web/index.html) and the bundles made in `dir` by {@linkcode bundleWeb}; 404
 * otherwise. Everything is read into memory here, so `dir` may be removed once this resolves.
 */
export async function inspectorHandler(dir: string): Promise<(req: Request) => Response> {
  const files = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>();
  const html = { body: await Deno.readFile(new URL("index.html", WEB_DIR)), type: "text/html; charset=utf-8" };
  files.set("/", html);
  files.set("/index.html", html);
  for (const name of Object.keys(BUNDLES)) {
    files.set(`/${name}`, { body: await Deno.readFile(`${dir}/${name}`), type: "text/javascript; charset=utf-8" });
  }
  return (req) => {
    const file = req.method === "GET" ? files.get(new URL(req.url).pathname) : undefined;
    if (file === undefined) return new Response("not found", { status: 404 });
    return new Response(file.body, { headers: { "content-type": file.type } });
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string", default: "8000" } } });
  const dir = await Deno.makeTempDir({ prefix: "linux-loader-web-" });
  let handler: (req: Request) => Response;
  try {
    await bundleWeb(dir);
    handler = await inspectorHandler(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(values.port),
    onListen: ({ port }) => console.log(`kernel inspector on http://127.0.0.1:${port}/`),
  }, handler);
}
