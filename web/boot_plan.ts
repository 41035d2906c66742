/**
 * The inspector's model: what a VMM would write to boot an image, as one plan over a fresh guest memory
 * backed by a `WebAssembly.Memory`. Pure library code (no DOM, no `Deno`): the page runs it in the
 * browser, and tests/browser runs the very same function in Deno and compares the two.
 *
 * Every call into the loader API lives here, so an API change is one file's change.
 *
 * @module
 */

import {
  applyPlan,
  BootParams,
  buildMemmap,
  buildVmFdt,
  checkNoOverlap,
  Cmdline,
  type DescribedPlan,
  GuestMemory,
  inspectKernel,
  KernelLoaderError,
  type KernelReport,
  type KernelSource,
  loadKernel,
  type Plan,
  planCmdline,
  planFdtBoot,
  planLinuxBoot,
  planMultiboot2Info,
  planMultibootInfo,
  X86_LEGACY_HOLE,
  x86LongModeBoot,
  zeroPageBootParams,
} from "../mod.ts";

/** Guest RAM the inspector gives every image: 32 MiB, as 512 WebAssembly pages. */
export const INSPECT_MEM_SIZE = 32 << 20;
/** Bytes in one WebAssembly page. */
export const WASM_PAGE_SIZE = 0x1_0000;

/** RAM base by architecture: 0 on x86, the QEMU `virt` machines' RAM base on arm64 and riscv64. */
export const RAM_BASE: Readonly<Record<string, number>> = Object.freeze({
  x86_64: 0,
  i386: 0,
  aarch64: 0x4000_0000,
  riscv64: 0x8000_0000,
});

/** Where the x86 boot data goes (the addresses Firecracker uses, all below 1 MiB). */
export const X86_ZERO_PAGE = 0x7000;
/** Guest address of the x86 command line. */
export const X86_CMDLINE = 0x2_0000;
/** Where the Multiboot information block goes (below 1 MiB, clear of the usual 1 MiB kernel load address). */
export const MULTIBOOT_INFO = 0x9000;
/** The lowest address an x86 kernel may load at (1 MiB, above the legacy hole). */
export const X86_HIGHMEM_START = 0x10_0000;
/** The device tree sits this far below the top of RAM on arm64 and riscv64. */
export const FDT_BELOW_TOP = 4 << 20;

/** The default command line of an inspection. */
export const DEFAULT_CMDLINE = "console=ttyS0 panic=1";

/** Options of {@linkcode planBoot}. */
export interface PlanBootOptions {
  /** Kernel command line; {@linkcode DEFAULT_CMDLINE} by default. */
  cmdline?: string;
  /** Guest RAM in bytes, a multiple of {@linkcode WASM_PAGE_SIZE}; {@linkcode INSPECT_MEM_SIZE} by default. */
  memSize?: number;
}

/** What {@linkcode planBoot} found and did. */
export interface PlannedBoot {
  /** What `inspectKernel` says about the image. */
  report: KernelReport;
  /** The guest memory the plan was applied to (one region over a `WebAssembly.Memory`). */
  memory: GuestMemory;
  /** Every write of the boot, in order: the kernel, then the boot data and CPU tables. */
  plan: DescribedPlan;
  /** The guest range the kernel claims: from its first byte to its `kernelEnd` (bss, `init_size`, `image_size`). */
  kernel: { start: number; end: number };
}

/**
 * Inspects `source`, loads it into a fresh `WebAssembly.Memory`-backed guest memory at the architecture's
 * RAM base, and adds the boot data a VMM writes next (x86: command line, zero page with an e820 map, page
 * tables and GDT for the 64-bit boot protocol; Multiboot: the information block; arm64 and riscv64: a device
 * tree 4 MiB below the top of RAM). All boot data is checked against the kernel and each other before anything but the kernel is
 * written.
 */
export async function planBoot(source: KernelSource, opts: PlanBootOptions = {}): Promise<PlannedBoot> {
  const memSize = opts.memSize ?? INSPECT_MEM_SIZE;
  const report = await inspectKernel(source);
  const arch = report.arch;
  const base = RAM_BASE[arch];
  const wasm = new WebAssembly.Memory({ initial: memSize / WASM_PAGE_SIZE, maximum: memSize / WASM_PAGE_SIZE });
  const memory = new GuestMemory([{ guestAddr: base, buffer: wasm }]);
  const x86 = arch === "x86_64" || arch === "i386";
  const highmemStart = x86 ? X86_HIGHMEM_START : undefined;

  // An Image goes to the lowest 2 MiB boundary of RAM (the loaders' default): the RAM base.
  const loaded = await loadKernel(memory, source, { highmemStart });
  const kernel = { start: loaded.loadStart, end: loaded.kernelEnd };
  const steps = [...loaded.plan.steps];

  const cmdline = new Cmdline(2048);
  cmdline.insertStr(opts.cmdline ?? DEFAULT_CMDLINE);
  const boot: Plan[] = [];
  let entry: number;
  let protocol: string;
  let registers: Record<string, number>;
  if (loaded.format === "multiboot" || loaded.format === "multiboot2") {
    entry = loaded.entry.multiboot!;
    protocol = loaded.format;
    const plan = loaded.format === "multiboot" ? planMultibootInfo : planMultiboot2Info;
    const info = plan(memory, { infoAddr: MULTIBOOT_INFO, cmdline: cmdline.asString() });
    boot.push(info.plan);
    registers = { ...info.registers };
  } else if (arch === "x86_64") {
    const setupHeader = loaded.format === "bzimage" ? loaded.details.setupHeader : undefined;
    if (loaded.entry.linux64 === undefined) {
      throw new KernelLoaderError("UnknownFormat", "a 32-bit kernel: no 64-bit entry point", { field: "entry" });
    }
    entry = loaded.entry.linux64;
    protocol = "linux";
    boot.push(planCmdline(X86_CMDLINE, cmdline));
    const params = zeroPageBootParams(X86_ZERO_PAGE, {
      header: setupHeader,
      cmdline: { addr: X86_CMDLINE, length: cmdline.asString().length },
      e820: buildMemmap(memory, { reserved: [X86_LEGACY_HOLE] }),
    });
    boot.push(planLinuxBoot(memory, params));
    boot.push(x86LongModeBoot({ entry, zeroPage: X86_ZERO_PAGE }).plan);
    registers = { rsi: X86_ZERO_PAGE };
  } else {
    entry = loaded.entry.image ?? kernel.start;
    const dtbAddr = base + memSize - FDT_BELOW_TOP;
    const dtb = buildVmFdt(memory, { arch: arch === "aarch64" ? "aarch64" : "riscv64", bootargs: cmdline.asString() });
    boot.push(planFdtBoot(memory, new BootParams(dtb, dtbAddr)));
    protocol = arch;
    registers = arch === "aarch64" ? { x0: dtbAddr } : { a0: 0, a1: dtbAddr };
  }
  checkNoOverlap(
    {
      steps: [{ kind: "fill", guestAddr: kernel.start, length: kernel.end - kernel.start, value: 0, label: "kernel" }],
    },
    ...boot,
  );
  for (const p of boot) {
    await applyPlan(memory, p);
    steps.push(...p.steps);
  }
  return { report, memory, plan: { steps, protocol, entry, registers }, kernel };
}

/** SHA-256 of every byte of guest memory, region after region, as lower-case hex. */
export async function hashGuestMemory(memory: GuestMemory): Promise<string> {
  // One copy into a plain ArrayBuffer: `digest` takes no view of shared memory, and regions may be shared.
  const whole = new Uint8Array(memory.totalSize);
  let at = 0;
  for (const r of memory.regions) {
    whole.set(r.bytes, at);
    at += r.size;
  }
  const digest = await crypto.subtle.digest("SHA-256", whole);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
