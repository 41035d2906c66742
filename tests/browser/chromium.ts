/**
 * Drives Debian's headless Chromium over the Chrome DevTools Protocol with nothing but Deno: the browser is
 * started with `--remote-debugging-port=0` and a fresh profile, the port is read from the profile's
 * `DevToolsActivePort` file, and commands go over one WebSocket (flattened target sessions).
 *
 * @module
 */

/** Where Debian's `chromium` package puts the browser (the `CHROMIUM` environment variable overrides it). */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
}

/** Whether the browser binary exists. */
export function chromiumPresent(): boolean {
  try {
    return Deno.statSync(chromiumPath()).isFile;
  } catch {
    return false;
  }
}

// Headless flags that work as root in a container with no GPU, D-Bus or network.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--force-color-profile=srgb",
  "--hide-scrollbars",
  "--remote-debugging-port=0",
];

/** Rejects after `ms` with `what` in the message, unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

/** A running headless Chromium with one page. */
export class Chromium {
  #child: Deno.ChildProcess;
  #profile: string;
  #ws: WebSocket;
  #closed: Promise<void>;
  #next = 1;
  #pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #session = "";
  /** Console messages and uncaught exceptions of the page, in order. */
  readonly log: string[] = [];

  private constructor(child: Deno.ChildProcess, profile: string, ws: WebSocket) {
    this.#child = child;
    this.#profile = profile;
    this.#ws = ws;
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
    ws.addEventListener("message", (e) => this.#receive(JSON.parse(e.data as string) as CdpMessage));
  }

  /** Starts the browser with a fresh profile and opens one blank page of `width` x `height` CSS pixels. */
  static async launch(width: number, height: number): Promise<Chromium> {
    const profile = await Deno.makeTempDir({ prefix: "linux-loader-chromium-" });
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(chromiumPath(), {
        args: [...FLAGS, `--user-data-dir=${profile}`, `--window-size=${width},${height}`, "about:blank"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (e) {
      await Deno.remove(profile, { recursive: true });
      throw new Error(`cannot start ${chromiumPath()} (Debian package chromium): ${(e as Error).message}`);
    }
    let ws: WebSocket;
    try {
      const endpoint = await devtoolsEndpoint(profile, child, 30_000);
      ws = new WebSocket(endpoint);
      await within(
        new Promise((resolve, reject) => {
          ws.addEventListener("open", resolve, { once: true });
          ws.addEventListener("error", () => reject(new Error(`cannot connect to ${endpoint}`)), { once: true });
        }),
        5_000,
        "the DevTools WebSocket to open",
      );
    } catch (e) {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw e;
    }
    const browser = new Chromium(child, profile, ws);
    try {
      const { targetId } = await browser.send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await browser.send("Target.attachToTarget", { targetId, flatten: true });
      browser.#session = sessionId as string;
      await browser.page("Runtime.enable");
      await browser.page("Page.enable");
      await browser.page("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    } catch (e) {
      await browser.close();
      throw e;
    }
    return browser;
  }

  #receive(m: CdpMessage): void {
    if (m.id !== undefined) {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error) p?.reject(new Error(`CDP: ${m.error.message}`));
      else p?.resolve(m.result ?? {});
      return;
    }
    if (m.method === "Runtime.consoleAPICalled") {
      const args = (m.params?.args ?? []) as { value?: unknown; description?: string }[];
      this.log.push(`console.${m.params?.type}: ${args.map((a) => a.description ?? String(a.value)).join(" ")}`);
    } else if (m.method === "Runtime.exceptionThrown") {
      const d = m.params?.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
      this.log.push(`uncaught: ${d?.exception?.description ?? d?.text}`);
    }
  }

  /** Sends a browser-level command and resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return within(p, 30_000, `CDP ${method}`);
  }

  /** Sends a command to the page. */
  page(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.send(method, params, this.#session);
  }

  /** Navigates the page to `url`. */
  async goto(url: string): Promise<void> {
    const r = await this.page("Page.navigate", { url });
    if (r.errorText) throw new Error(`navigating to ${url}: ${r.errorText}`);
  }

  /** Evaluates `expression` in the page and returns its (JSON-serialisable) value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.page("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`evaluating ${expression}: ${JSON.stringify(r.exceptionDetails)}`);
    return (r.result as { value: T }).value;
  }

  /** Polls `expression` in the page until it is truthy; rejects after `ms`. */
  async waitFor(expression: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await this.evaluate<boolean>(`Boolean(${expression})`))) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Picks the file at `path` in the page's `<input type="file">` matched by `selector` (fires `change`). */
  async pickFile(selector: string, path: string): Promise<void> {
    const { root } = await this.page("DOM.getDocument");
    const { nodeId } = await this.page("DOM.querySelector", { nodeId: (root as { nodeId: number }).nodeId, selector });
    if (!nodeId) throw new Error(`no element ${selector}`);
    await this.page("DOM.setFileInputFiles", { nodeId, files: [path] });
  }

  /** A PNG screenshot of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.page("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
  }

  /** Closes the browser (asking first, then killing), and removes its profile. */
  async close(): Promise<void> {
    try {
      await within(this.send("Browser.close"), 3_000, "Browser.close").catch(() => {});
      this.#ws.close();
      await within(this.#closed, 3_000, "the DevTools WebSocket to close").catch(() => {});
      const exited = await within(this.#child.status, 5_000, "Chromium to exit").then(() => true, () => false);
      if (!exited) {
        this.#child.kill("SIGKILL");
        await this.#child.status;
      }
    } finally {
      await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
    }
  }
}

// Chromium writes "<port>\n<browser target path>" to DevToolsActivePort once it listens.
async function devtoolsEndpoint(profile: string, child: Deno.ChildProcess, ms: number): Promise<string> {
  let exit: Deno.CommandStatus | undefined;
  child.status.then((s) => exit = s);
  const deadline = Date.now() + ms;
  for (;;) {
    if (exit !== undefined) throw new Error(`Chromium exited with code ${exit.code} before it listened`);
    if (Date.now() > deadline) throw new Error(`Chromium wrote no DevToolsActivePort in ${ms} ms`);
    try {
      const [port, path] = (await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n");
      if (port && path) return `ws://127.0.0.1:${port.trim()}${path.trim()}`;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
