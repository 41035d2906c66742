// One crafted input of the hostile suite, run in its own process so its peak memory can be read:
//   deno run -A tests/hostile/_case.ts <case> [<scratch dir>]
// prints one JSON line: { case, outcome, ms, peakKiB } where outcome is "ok", "typed <Class> <code>" or
// "untyped <name>: <message>", and peakKiB is VmHWM (the process's peak resident set) from /proc/self/status.

import {
  buildFdt,
  Cmdline,
  extractVmlinux,
  type FdtNode,
  fromFile,
  GuestMemory,
  inspectKernel,
  LinuxLoaderError,
  loadElf,
  loadKernel,
  loadPe,
  planFromJson,
} from "../../mod.ts";
import { manyNotesElf } from "./_inputs.ts";
import { demoKernel } from "../../emu/demo_kernels.ts";

/** Each case: what it runs. Inputs are built here, in the child, so the parent's memory does not count. */
export const CASES: Record<string, (dir: string) => Promise<unknown>> = {
  baseline: () => Promise.resolve(),
  // Item 1: 65,535 PT_NOTE headers over 1 MiB of empty notes (took more than an hour before).
  "elf-65535-notes-bytes": async () => {
    await loadElf(GuestMemory.fromRanges([[0, 16 << 20]]), manyNotesElf(0xffff, 1 << 20));
  },
  "elf-65535-notes-file": async (dir) => {
    const path = `${dir}/notes.elf`;
    await Deno.writeFile(path, manyNotesElf(0xffff, 1 << 20));
    using file = await Deno.open(path);
    await loadElf(GuestMemory.fromRanges([[0, 16 << 20]]), await fromFile(file));
  },
  "inspect-65535-notes": async () => {
    await inspectKernel(manyNotesElf(0xffff, 1 << 20));
  },
  // Item 2: a file truncated by "another process" after the load's first reads.
  "file-shrinks-mid-load": async (dir) => {
    const path = `${dir}/shrinking.elf`;
    const image = demoKernel("x86_64");
    await Deno.writeFile(path, image);
    using file = await Deno.open(path);
    let reads = 0;
    const shrinking = {
      seek: (o: number | bigint, w: number) => file.seek(o, w),
      stat: () => file.stat(),
      async read(p: Uint8Array) {
        // The first reads are the headers and notes; the one into guest memory finds the file cut short.
        if (++reads === 4) await Deno.truncate(path, 0x200);
        return await file.read(p);
      },
    };
    await loadElf(GuestMemory.fromRanges([[0, 16 << 20]]), await fromFile(shrinking));
  },
  // Item 5: huge regions and reads are typed errors, not allocations.
  "region-2^40": () => Promise.resolve(GuestMemory.fromRanges([[0, 2 ** 40]])),
  "read-2^50": () => Promise.resolve(GuestMemory.fromRanges([[0, 0x1000]]).read(0, 2 ** 50)),
  // Item 6.
  "plan-json-200k-deep": () => {
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    return Promise.resolve(planFromJson(deep));
  },
  "fdt-cycle": () => {
    const child: FdtNode = { name: "a", properties: [], children: [] };
    child.children.push(child);
    return Promise.resolve(
      buildFdt({ root: { name: "", properties: [], children: [child] }, reservations: [], bootCpuidPhys: 0 }),
    );
  },
  "cmdline-parse-160k": () => Promise.resolve(Cmdline.parse('"' + " -- x".repeat(32_000), 200_000)),
  // Item 3 (decoders, other owners): a gzip Image that inflates to 1 GiB, into 4 MiB of guest memory.
  "gzip-image-bomb": async (dir) => {
    const path = `${dir}/bomb.gz`;
    await gzipBomb(path, 1 << 30);
    using file = await Deno.open(path);
    await loadKernel(GuestMemory.fromRanges([[0, 4 << 20]]), await fromFile(file), { imageBase: 0 });
  },
  "gzip-image-bomb-loadPe": async (dir) => {
    const path = `${dir}/bomb.gz`;
    await gzipBomb(path, 1 << 30);
    using file = await Deno.open(path);
    await loadPe(GuestMemory.fromRanges([[0, 4 << 20]]), await fromFile(file), { imageBase: 0 });
  },
  "extract-gzip-bomb": async (dir) => {
    const path = `${dir}/bomb.bz`;
    await bzImageGzipBomb(path, 1 << 30);
    using file = await Deno.open(path);
    await extractVmlinux(await fromFile(file), { maxOutput: 64 << 20 });
  },
};

/** An arm64 Image header followed by `size` zero bytes, gzip-compressed (by the gzip tool: about 1 MB). */
export async function gzipBomb(path: string, size: number): Promise<void> {
  if (await Deno.stat(path).then(() => true, () => false)) return; // built once per scratch directory
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setBigUint64(16, BigInt(size), true); // image_size
  dv.setUint32(56, 0x644d5241, true); // "ARM\x64"
  const cmd = new Deno.Command("sh", {
    args: ["-c", `{ cat; head -c ${size} /dev/zero; } | gzip -1 > '${path}'`],
    stdin: "piped",
  }).spawn();
  const w = cmd.stdin.getWriter();
  await w.write(header);
  await w.close();
  if (!(await cmd.status).success) throw new Error("gzip failed");
}

/** A bzImage whose payload is a gzip stream of `size` zero bytes. */
export async function bzImageGzipBomb(path: string, size: number): Promise<void> {
  if (await Deno.stat(path).then(() => true, () => false)) return;
  const { buildBzImage, defaultSetupHeader } = await import("../../fixtures/build/bzimage.ts");
  await gzipBomb(`${path}.payload`, size);
  const payload = await Deno.readFile(`${path}.payload`);
  const hdr = defaultSetupHeader(payload.byteLength);
  const image = buildBzImage({
    payload,
    header: { ...hdr, version: 0x20f, payload_offset: 0, payload_length: payload.byteLength },
  });
  await Deno.writeFile(path, image);
}

function peakKiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m === null ? -1 : Number(m[1]);
}

if (import.meta.main) {
  const [name, dir = Deno.makeTempDirSync()] = Deno.args;
  const run = CASES[name];
  if (run === undefined) throw new Error(`no case ${name}`);
  const t0 = performance.now();
  let outcome = "ok";
  try {
    await run(dir);
  } catch (e) {
    outcome = e instanceof LinuxLoaderError
      ? `typed ${e.name} ${e.code}`
      : `untyped ${(e as Error)?.name}: ${(e as Error)?.message ?? String(e)}`;
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ case: name, outcome, ms: Math.round(ms), peakKiB: peakKiB() }));
}
