/**
 * The library in a real browser. web/inspector.ts is bundled with `deno bundle --platform browser` and
 * served with web/index.html on 127.0.0.1; headless Chromium (Debian's `chromium`) opens the page in
 * self-test mode, and the page loads the bundled demo kernels and a gzip arm64 Image fetched from this
 * server, each from a Blob into guest memory over a `WebAssembly.Memory`, and posts back the plan
 * (`planToJson`) and a SHA-256 of guest memory. The same load runs here in Deno and must agree byte for
 * byte. A screenshot is then decoded and checked to show the memory map the page drew.
 *
 * Set BROWSER_SCREENSHOT=file.png to keep the screenshot. The waits (30 s for the page's self-test) guard
 * against a hang; on an idle machine the whole file takes about 5 s.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ignoreUnless } from "../_require.ts";
import { Chromium, chromiumPresent, within } from "./chromium.ts";
import { decodePng } from "./png.ts";
import { bundleWeb, inspectorHandler } from "../../web/serve.ts";
import { hashGuestMemory, planBoot } from "../../web/boot_plan.ts";
import { MAP_COLOURS } from "../../web/memory_map.ts";
import * as mod from "../../mod.ts";
import * as abi from "../../abi.ts";
import { fromBlob, inspectKernel, planToJson } from "../../mod.ts";
import { demoKernel } from "../../emu/demo_kernels.ts";
import { buildArm64Image, gzip, kernelLikeBytes } from "../../fixtures/build/pe.ts";
import { buildBzImage } from "../../fixtures/build/bzimage.ts";
import { buildMultibootAout } from "../../fixtures/build/multiboot.ts";

const VIEWPORT = { width: 1280, height: 900 };
// Size of the gzip Image before compression: big enough for several inflate chunks.
const GZIP_IMAGE_SIZE = 1 << 20;
const GZIP_TEXT_OFFSET = 0x8_0000n;

/** One image the page loads, as its server lists it. */
interface Item {
  name: string;
  demo?: "x86_64" | "aarch64" | "riscv64";
  url?: string;
}

/** What the page posted for one image. */
interface PageResult {
  name: string;
  size: number;
  format: string;
  arch: string;
  plan: unknown;
  sha256: string;
}

/** A drawn rectangle of the memory map, in CSS pixels of the viewport. */
interface Box {
  kind: keyof typeof MAP_COLOURS;
  /** The row's first guest address, `0x…`. */
  start: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Session {
  items: Item[];
  bytes: Map<string, Uint8Array>;
  results: PageResult[];
  /** The export names of /linux_loader.js (mod.ts bundled) and /linux_loader_abi.js (abi.ts), as the page imported them. */
  libraryExports: Record<string, string[]>;
  screenshot: Uint8Array;
  svg: { x: number; y: number; width: number; height: number };
  boxes: Box[];
  /** The status line and the report table after picking a bzImage in the file input. */
  pick: { status: string; report: Record<string, string> };
  /** The status line after picking a text file. */
  junkStatus: string;
  log: string[];
}

const PICKED_NAME = "bzImage-test";
const JUNK_NAME = "notes.txt";

function pickedBzImage(): Uint8Array {
  return buildBzImage({ payload: kernelLikeBytes(0x1_0000, 3) });
}

async function gzipArm64Image(): Promise<Uint8Array> {
  const code = kernelLikeBytes(GZIP_IMAGE_SIZE - 64, 7);
  return await gzip(buildArm64Image({ header: { text_offset: GZIP_TEXT_OFFSET }, code }));
}

// Runs the page once for every test of this file.
let session: Promise<Session> | undefined;

function runPage(): Promise<Session> {
  return session ??= openPage();
}

async function openPage(): Promise<Session> {
  const items: Item[] = [
    { name: "arm64 Image.gz", url: "/selftest/kernel/arm64.gz" },
    { name: "multiboot a.out", url: "/selftest/kernel/multiboot" },
    { name: "demo aarch64", demo: "aarch64" },
    { name: "demo riscv64", demo: "riscv64" },
    // Last, so it is the one on screen for the screenshot: it has every kind of write.
    { name: "demo x86_64", demo: "x86_64" },
  ];
  const bytes = new Map<string, Uint8Array>([
    ["arm64 Image.gz", await gzipArm64Image()],
    ["multiboot a.out", buildMultibootAout({ code: kernelLikeBytes(0x2000, 5) })],
    ["demo aarch64", demoKernel("aarch64")],
    ["demo riscv64", demoKernel("riscv64")],
    ["demo x86_64", demoKernel("x86_64")],
  ]);
  const dir = await Deno.makeTempDir({ prefix: "linux-loader-browser-test-" });
  const results: PageResult[] = [];
  let libraryExports: Record<string, string[]> = {};
  let finish!: () => void, fail!: (e: Error) => void;
  const done = new Promise<void>((resolve, reject) => [finish, fail] = [resolve, reject]);
  let page: (req: Request) => Response = () => new Response("not bundled yet", { status: 503 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/selftest/kernels") return Response.json(items);
    const served = items.find((i) => i.url === path);
    if (served) return new Response(bytes.get(served.name)! as Uint8Array<ArrayBuffer>);
    if (req.method === "POST" && path === "/selftest/result") results.push(await req.json());
    else if (req.method === "POST" && path === "/selftest/done") {
      libraryExports = (await req.json() as Pick<Session, "libraryExports">).libraryExports;
      finish();
    } else if (req.method === "POST" && path === "/selftest/error") {
      const e = await req.json() as { message: string; stack?: string };
      fail(new Error(`the page failed: ${e.message}\n${e.stack ?? ""}`));
    } else return page(req);
    return new Response(null, { status: 204 });
  });
  let browser: Chromium | undefined;
  try {
    await bundleWeb(dir);
    page = await inspectorHandler(dir);
    browser = await Chromium.launch(VIEWPORT.width, VIEWPORT.height);
    await browser.goto(`http://127.0.0.1:${server.addr.port}/?selftest`);
    await within(done, 30_000, "the page's self-test").catch((e: Error) => {
      throw new Error(`${e.message}\npage log:\n${browser!.log.join("\n")}`);
    });
    const layout = JSON.parse(
      await browser.evaluate<string>(`JSON.stringify({
        svg: document.querySelector("svg.memory-map").getBoundingClientRect(),
        boxes: [...document.querySelectorAll("svg.memory-map rect[data-kind]")].map((r) => {
          const b = r.getBoundingClientRect();
          return { kind: r.dataset.kind, start: r.dataset.start, x: b.x, y: b.y, width: b.width, height: b.height };
        }),
      })`),
    ) as Pick<Session, "svg" | "boxes">;
    const screenshot = await browser.screenshot();
    const keep = Deno.env.get("BROWSER_SCREENSHOT");
    if (keep) await Deno.writeFile(keep, screenshot);
    // Then as a user would: pick a file from disk.
    const picked = `${dir}/${PICKED_NAME}`;
    await Deno.writeFile(picked, pickedBzImage());
    await browser.pickFile("#file", picked);
    await browser.waitFor(
      `document.getElementById("status").textContent.startsWith(${JSON.stringify(PICKED_NAME)})`,
      20_000,
    )
      .catch((e: Error) => {
        throw new Error(`${e.message}\npage log:\n${browser!.log.join("\n")}`);
      });
    const pick = JSON.parse(
      await browser.evaluate<string>(`JSON.stringify({
        status: document.getElementById("status").textContent,
        report: Object.fromEntries([...document.querySelectorAll("#report tr")].map((tr) =>
          [tr.cells[0].textContent, tr.cells[1].textContent])),
      })`),
    ) as Session["pick"];
    // And a file that is no kernel at all.
    const junk = `${dir}/${JUNK_NAME}`;
    await Deno.writeTextFile(junk, "not a kernel\n".repeat(100));
    await browser.pickFile("#file", junk);
    await browser.waitFor(`document.getElementById("status").className === "error"`, 20_000);
    const junkStatus = await browser.evaluate<string>(`document.getElementById("status").textContent`);
    return { items, bytes, results, libraryExports, screenshot, ...layout, pick, junkStatus, log: browser.log };
  } finally {
    await browser?.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const ignore = ignoreUnless(chromiumPresent(), "chromium (Debian package chromium)");

Deno.test({
  name: "the inspector bundled for the browser loads demo kernels, a gzip arm64 Image and a Multiboot kernel from " +
    "Blobs in Chromium to the same plans and guest memory as Deno",
  ignore,
  async fn() {
    const s = await runPage();
    assert.deepEqual(s.results.map((r) => r.name), s.items.map((i) => i.name));
    for (const r of s.results) {
      const bytes = s.bytes.get(r.name)!;
      assert.equal(r.size, bytes.length, `${r.name}: size the page saw`);
      const deno = await planBoot(await fromBlob(new Blob([bytes as Uint8Array<ArrayBuffer>])));
      assert.equal(r.format, deno.report.format, r.name);
      assert.equal(r.arch, deno.report.arch, r.name);
      assert.deepEqual(r.plan, planToJson(deno.plan), `${r.name}: plan`);
      assert.equal(r.sha256, await hashGuestMemory(deno.memory), `${r.name}: guest memory`);
    }
    const gz = s.results[0];
    assert.equal(`${gz.format} ${gz.arch}`, "pe aarch64");
    // The gzip Image was inflated into guest memory: its copy covers the whole uncompressed image.
    const json = gz.plan as { steps: { kind: string; guestAddr: number; length: number }[] };
    assert.deepEqual(
      json.steps.filter((st) => st.kind === "copy").map((st) => [st.guestAddr, st.length]),
      [[0x4000_0000 + Number(GZIP_TEXT_OFFSET), GZIP_IMAGE_SIZE]],
    );
    assert.equal(s.results[1].format, "multiboot");
    // Different images leave different memories.
    assert.equal(new Set(s.results.map((r) => r.sha256)).size, s.results.length);
  },
});

Deno.test({
  name:
    "the whole library, mod.ts and abi.ts bundled with deno bundle --platform browser, imports in Chromium with every export",
  ignore,
  async fn() {
    const { libraryExports } = await runPage();
    assert.deepEqual(libraryExports, {
      "linux_loader.js": Object.keys(mod).sort(),
      "linux_loader_abi.js": Object.keys(abi).sort(),
    });
  },
});

Deno.test({
  name: "the inspector's screenshot shows the x86_64 demo's memory map: every planned write in its kind's colour",
  ignore,
  async fn() {
    const s = await runPage();
    const png = await decodePng(s.screenshot);
    assert.deepEqual([png.width, png.height], [VIEWPORT.width, VIEWPORT.height]);
    assert.ok(s.svg.y + s.svg.height <= png.height, `the map (to y ${s.svg.y + s.svg.height}) fits on screen`);
    // One row per planned write of the x86_64 demo (as Deno plans it), and free RAM between them.
    const deno = await planBoot(await fromBlob(new Blob([demoKernel("x86_64") as Uint8Array<ArrayBuffer>])));
    const planned = deno.plan.steps.map((st) => `${st.kind} 0x${st.guestAddr.toString(16)}`).sort();
    const drawn = s.boxes.filter((b) => b.kind !== "free").map((b) => `${b.kind} ${b.start}`).sort();
    assert.deepEqual(drawn, planned);
    for (const k of ["copy", "bytes", "fill", "free"] as const) {
      assert.ok(s.boxes.some((b) => b.kind === k), `a ${k} row is drawn`);
    }
    const rgb = (c: string): number => parseInt(c.slice(1), 16);
    const at = (x: number, y: number): number => {
      const o = (Math.floor(y) * png.width + Math.floor(x)) * 4;
      return (png.rgba[o] << 16) | (png.rgba[o + 1] << 8) | png.rgba[o + 2];
    };
    // The middle of every row's bar has the row's colour.
    for (const b of s.boxes) {
      const got = at(b.x + b.width / 2, b.y + b.height / 2);
      assert.equal(got.toString(16).padStart(6, "0"), MAP_COLOURS[b.kind].slice(1), `${b.kind} row at y ${b.y}`);
    }
    // Pixel counts inside the map match the drawn areas (rows plus the 14 x 14 legend swatch), within 5 %.
    const LEGEND_SWATCH = 14 * 14;
    for (const k of ["copy", "bytes", "fill", "free"] as const) {
      const want = rgb(MAP_COLOURS[k]);
      let count = 0;
      for (let y = Math.floor(s.svg.y); y < Math.ceil(s.svg.y + s.svg.height); y++) {
        for (let x = Math.floor(s.svg.x); x < Math.ceil(s.svg.x + s.svg.width); x++) if (at(x, y) === want) count++;
      }
      const area = s.boxes.filter((b) => b.kind === k).reduce((n, b) => n + b.width * b.height, 0) + LEGEND_SWATCH;
      assert.ok(Math.abs(count - area) <= area * 0.05, `${k}: ${count} pixels on screen, ${area} drawn`);
    }
  },
});

Deno.test({
  name: "the inspector shows inspectKernel's report and the boot plan of a bzImage picked in its file input",
  ignore,
  async fn() {
    const { pick } = await runPage();
    const image = pickedBzImage();
    const report = await inspectKernel(image);
    const deno = await planBoot(await fromBlob(new Blob([image as Uint8Array<ArrayBuffer>])));
    assert.equal(
      pick.status,
      `${PICKED_NAME}: ${report.protocol}, ${deno.plan.steps.length} writes planned and applied`,
    );
    assert.equal(pick.report.file, PICKED_NAME);
    assert.equal(pick.report.format, "bzimage");
    assert.equal(pick.report.protocol, report.protocol);
    assert.equal(pick.report["entry linux64"], `0x${report.entry.linux64!.toString(16)}`);
    assert.equal(pick.report.code32_start, report.fields.code32_start);
  },
});

Deno.test({
  name: "the inspector shows the library's typed error for a picked file that is no kernel",
  ignore,
  async fn() {
    const { junkStatus } = await runPage();
    assert.match(junkStatus, /^notes\.txt: KernelLoaderError UnknownFormat: not a kernel image this library knows/);
  },
});
