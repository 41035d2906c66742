/**
 * Bundles the kernel inspector for the browser and serves it on 127.0.0.1.
 *
 * ```sh
 * deno task web              # http://127.0.0.1:8000/
 * deno task web --port 9000
 * ```
 *
 * The bundle is made by `deno bundle --platform browser` from web/inspector.ts (the library, the demo
 * kernels and the page code in one ES module); tests/browser uses the same two functions.
 *
 * @module
 */

import { parseArgs } from "node:util";

const WEB_DIR = new URL(".", import.meta.url);
const REPO_DIR = new URL("..", import.meta.url);

/**
 * Bundles web/inspector.ts into one browser ES module at `outFile` with `deno bundle --platform browser`.
 * Throws with deno's output when bundling fails.
 */
export async function bundleInspector(outFile: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", "-o", outFile, "web/inspector.ts"],
    cwd: REPO_DIR.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`deno bundle --platform browser web/inspector.ts failed:\n${text}`);
  }
}

/** Serves the page: `/` (web/index.html) and `/inspector.js` (the bundle at `bundleFile`); 404 otherwise. */
export function inspectorHandler(bundleFile: string): (req: Request) => Promise<Response> {
  return async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && (path === "/" || path === "/index.html")) {
      return new Response(await Deno.readFile(new URL("index.html", WEB_DIR)), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    if (req.method === "GET" && path === "/inspector.js") {
      return new Response(await Deno.readFile(bundleFile), {
        headers: { "content-type": "text/javascript; charset=utf-8" },
      });
    }
    return new Response("not found", { status: 404 });
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string", default: "8000" } } });
  const dir = await Deno.makeTempDir({ prefix: "linux-loader-web-" });
  const bundle = `${dir}/inspector.js`;
  await bundleInspector(bundle);
  Deno.addSignalListener("SIGINT", () => {
    Deno.removeSync(dir, { recursive: true });
    Deno.exit(0);
  });
  const port = Number(values.port);
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`kernel inspector on http://127.0.0.1:${port}/`),
  }, inspectorHandler(bundle));
}
