/// <reference lib="dom" />
/**
 * The kernel inspector page: pick or drop an image (or a bundled demo kernel) and see what `inspectKernel`
 * says, the boot plan a VMM would apply, and a map of guest memory after applying it. Everything runs in
 * the page: the image is read from a Blob into a `WebAssembly.Memory`.
 *
 * Bundled for the browser by web/serve.ts (`deno bundle --platform browser`). With `?selftest` in the URL
 * the page loads the images its server lists and posts each plan and guest-memory hash back (used by
 * tests/browser).
 *
 * @module
 */

import { fromBlob, type KernelReport, planToJson } from "../mod.ts";
import { demoKernel } from "../emu/demo_kernels.ts";
import { hashGuestMemory, planBoot, type PlannedBoot } from "./boot_plan.ts";
import { formatSize, memoryMapSvg } from "./memory_map.ts";

type DemoArch = "x86_64" | "aarch64" | "riscv64";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function hex(n: number): string {
  return "0x" + n.toString(16);
}

function setStatus(text: string, error = false): void {
  const s = $("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

function fillTable(table: HTMLElement, rows: [string, string][]): void {
  table.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = k;
    const td = document.createElement("td");
    td.textContent = v;
    tr.append(th, td);
    return tr;
  }));
}

function reportRows(r: KernelReport): [string, string][] {
  const rows: [string, string][] = [
    ["format", r.format + (r.compression ? ` (${r.compression})` : "")],
    ["arch", r.arch],
    ["protocol", r.protocol],
    ["size", `${r.size} bytes (${formatSize(r.size)})`],
  ];
  if (r.version) rows.push(["version", r.version]);
  for (const [k, v] of Object.entries(r.entry)) rows.push([`entry ${k}`, hex(v)]);
  for (const l of r.loadRanges) rows.push([l.label, `${hex(l.start)}..${hex(l.end)} (file +${hex(l.fileOffset)})`]);
  for (const [k, v] of Object.entries(r.fields)) rows.push([k, typeof v === "number" ? hex(v) : String(v)]);
  if (r.payload) rows.push(["payload", `${r.payload.compression}, ${formatSize(r.payload.length)}`]);
  for (const m of r.multiboot) rows.push([`multiboot ${m.version} header`, `at file +${hex(m.offset)}`]);
  return rows;
}

function show(name: string, boot: PlannedBoot): void {
  fillTable($("report"), [["file", name], ...reportRows(boot.report)]);
  const p = boot.plan;
  const planRows: [string, string][] = [
    ["protocol", p.protocol ?? "?"],
    ["entry", p.entry === undefined ? "?" : hex(p.entry)],
    ...Object.entries(p.registers ?? {}).map(([k, v]): [string, string] => [k, hex(v)]),
    ["kernel", `${hex(boot.kernel.start)}..${hex(boot.kernel.end)}`],
    ["writes", `${p.steps.length} steps`],
  ];
  fillTable($("plan"), planRows);
  const steps = p.steps.map((s) => ({
    kind: s.kind,
    guestAddr: s.guestAddr,
    length: s.kind === "bytes" ? s.bytes.byteLength : s.length,
    label: s.label,
  }));
  const marks = Object.entries(p.registers ?? {}).filter(([, v]) => v !== 0).map(([k, v]) => ({ addr: v, label: k }));
  if (p.entry !== undefined) marks.unshift({ addr: p.entry, label: "entry" });
  $("map").innerHTML = memoryMapSvg(boot.memory.regions, steps, { title: name, marks });
}

async function inspect(name: string, blob: Blob): Promise<PlannedBoot> {
  setStatus(`loading ${name} (${formatSize(blob.size)}) ...`);
  const boot = await planBoot(await fromBlob(blob));
  show(name, boot);
  setStatus(`${name}: ${boot.report.protocol}, ${boot.plan.steps.length} writes planned and applied`);
  return boot;
}

function inspectSafely(name: string, blob: Blob): void {
  inspect(name, blob).catch((e: Error) => {
    setStatus(`${name}: ${e.name}${"code" in e ? ` ${String(e.code)}` : ""}: ${e.message}`, true);
  });
}

function demoBlob(arch: DemoArch): Blob {
  return new Blob([demoKernel(arch) as Uint8Array<ArrayBuffer>]);
}

/** One image the self-test server lists: a bundled demo kernel, or bytes at a URL. */
interface SelftestItem {
  name: string;
  demo?: DemoArch;
  url?: string;
}

async function post(path: string, body: unknown): Promise<void> {
  await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function selftest(): Promise<void> {
  try {
    const items = await (await fetch("/selftest/kernels")).json() as SelftestItem[];
    for (const item of items) {
      const blob = item.demo ? demoBlob(item.demo) : await (await fetch(item.url!)).blob();
      const boot = await inspect(item.name, blob);
      await post("/selftest/result", {
        name: item.name,
        size: blob.size,
        format: boot.report.format,
        arch: boot.report.arch,
        plan: planToJson(boot.plan),
        sha256: await hashGuestMemory(boot.memory),
      });
    }
    // The whole library as one module: every export must evaluate in the browser, not only the inspector's.
    const libraryExports: Record<string, string[]> = {};
    for (const name of ["linux_loader.js", "linux_loader_abi.js"]) {
      libraryExports[name] = Object.keys(await import(new URL(`/${name}`, location.href).href)).sort();
    }
    await post("/selftest/done", { count: items.length, libraryExports });
  } catch (e) {
    const err = e as Error;
    setStatus(`self-test failed: ${err.message}`, true);
    await post("/selftest/error", { message: `${err.name}: ${err.message}`, stack: err.stack });
  }
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer?.files[0];
  if (f) inspectSafely(f.name, f);
});
$<HTMLInputElement>("file").addEventListener("change", (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) inspectSafely(f.name, f);
});
for (const b of document.querySelectorAll<HTMLButtonElement>("button[data-demo]")) {
  const arch = b.dataset.demo as DemoArch;
  b.addEventListener("click", () => inspectSafely(`demo ${arch}`, demoBlob(arch)));
}

if (new URLSearchParams(location.search).has("selftest")) void selftest();
else inspectSafely("demo x86_64", demoBlob("x86_64"));
