/**
 * The standard device tree nodes a VMM writes for an arm64 or riscv64 Linux guest, on an
 * {@linkcode FdtBuilder}: memory from {@linkcode GuestMemory} regions, `/chosen` (bootargs, initrd,
 * stdout-path), `/cpus`, a PL011 or 16550 UART, PSCI, and optionally a GICv2 with the architected timer
 * (what a real arm64 kernel needs to get past timer setup, see the shared notes on Unicorn). Names and
 * properties follow the Linux bindings (`Documentation/devicetree/bindings/...`) and QEMU's `virt` machine.
 * {@linkcode buildVmFdt} puts them together.
 *
 * Every helper writes one complete node at the builder's current position, so call them between the
 * root's properties and its `endNode()`.
 *
 * @module
 */

import { FdtError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import { FdtBuilder } from "./builder.ts";
import type { FdtReservation } from "./tree.ts";
import { requireArray, requireInstance, requireMemory, requireNumber, requireObject, showValue } from "../guard.ts";

/** Architectures the VM helpers know. */
export type FdtArch = "aarch64" | "riscv64";

/**
 * QEMU virt's PL011 base.
 *
 * @example
 * ```ts
 * import { VIRT_PL011_BASE } from "@linux-loader/linux-loader/abi";
 * console.log(VIRT_PL011_BASE.toString(16)); // 9000000
 * ```
 */
export const VIRT_PL011_BASE = 0x900_0000;
/**
 * QEMU virt's GICv2 distributor base.
 *
 * @example
 * ```ts
 * import { VIRT_GIC_DIST_BASE } from "@linux-loader/linux-loader/abi";
 * console.log(VIRT_GIC_DIST_BASE.toString(16)); // 8000000
 * ```
 */
export const VIRT_GIC_DIST_BASE = 0x800_0000;
/**
 * QEMU virt's GICv2 CPU interface base.
 *
 * @example
 * ```ts
 * import { VIRT_GIC_CPU_BASE } from "@linux-loader/linux-loader/abi";
 * console.log(VIRT_GIC_CPU_BASE.toString(16)); // 8010000
 * ```
 */
export const VIRT_GIC_CPU_BASE = 0x801_0000;
/**
 * QEMU riscv virt's 16550 base.
 *
 * @example
 * ```ts
 * import { VIRT_NS16550_BASE } from "@linux-loader/linux-loader/abi";
 * console.log(VIRT_NS16550_BASE.toString(16)); // 10000000
 * ```
 */
export const VIRT_NS16550_BASE = 0x1000_0000;

/**
 * GIC interrupt specifier: type SPI (`arm,gic.yaml`: "0 = SPI interrupts").
 *
 * @example
 * ```ts
 * import { GIC_SPI } from "@linux-loader/linux-loader/abi";
 * console.log(GIC_SPI); // 0
 * ```
 */
export const GIC_SPI = 0;
/**
 * GIC interrupt specifier: type PPI ("1 = PPI interrupts").
 *
 * @example
 * ```ts
 * import { GIC_PPI } from "@linux-loader/linux-loader/abi";
 * console.log(GIC_PPI); // 1
 * ```
 */
export const GIC_PPI = 1;
/**
 * Interrupt flags: level-sensitive, active high.
 *
 * @example
 * ```ts
 * import { IRQ_TYPE_LEVEL_HIGH } from "@linux-loader/linux-loader/abi";
 * console.log(IRQ_TYPE_LEVEL_HIGH); // 4
 * ```
 */
export const IRQ_TYPE_LEVEL_HIGH = 4;
/**
 * Interrupt flags: level-sensitive, active low.
 *
 * @example
 * ```ts
 * import { IRQ_TYPE_LEVEL_LOW } from "@linux-loader/linux-loader/abi";
 * console.log(IRQ_TYPE_LEVEL_LOW); // 8
 * ```
 */
export const IRQ_TYPE_LEVEL_LOW = 8;

function hexName(base: string, addr: number): string {
  return `${base}@${addr.toString(16)}`;
}

/**
 * Writes one `memory@<addr>` node per guest memory region (`device_type = "memory"`, `reg = <addr size>`
 * as two cells each, for a root with `#address-cells = #size-cells = 2`). Returns the node names.
 *
 * @example
 * ```ts
 * import { addMemoryNodes, FdtBuilder, GuestMemory } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * console.log(addMemoryNodes(b, GuestMemory.fromRanges([[0x40000000, 1 << 20]]))); // [ "memory@40000000" ]
 * ```
 */
export function addMemoryNodes(b: FdtBuilder, mem: GuestMemory): string[] {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  requireMemory(mem, "mem", FdtError, "BadValue");
  return mem.regions.map((r) => {
    const name = hexName("memory", r.guestAddr);
    b.beginNode(name);
    b.propertyString("device_type", "memory");
    b.propertyU64List("reg", [r.guestAddr, r.size]);
    b.endNode();
    return name;
  });
}

/** What goes in `/chosen`. */
export interface ChosenOptions {
  /** Kernel command line (`bootargs`). */
  bootargs?: string;
  /** First byte of the initrd (`linux,initrd-start`, written as a u64). */
  initrdStart?: number;
  /** One past the initrd's last byte (`linux,initrd-end`). */
  initrdEnd?: number;
  /** Path of the console device, e.g. `"/pl011@9000000"` (`stdout-path`). */
  stdoutPath?: string;
  /** Seed for the kernel's address randomisation (`kaslr-seed`, u64). */
  kaslrSeed?: bigint;
  /** Entropy for the kernel's RNG (`rng-seed`). */
  rngSeed?: Uint8Array;
}

/**
 * Writes `/chosen`. The initrd range needs both ends, with start <= end (`FdtError` `BadValue`).
 *
 * @example
 * ```ts
 * import { addChosen, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * addChosen(b, { bootargs: "console=ttyAMA0", initrdStart: 0x48000000, initrdEnd: 0x48100000 });
 * b.endNode();
 * console.log(b.finish().length > 0); // true
 * ```
 */
export function addChosen(b: FdtBuilder, options: ChosenOptions): void {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  requireObject(options, "options", FdtError, "BadValue");
  const { initrdStart, initrdEnd } = options;
  for (const [field, v] of [["initrdStart", initrdStart], ["initrdEnd", initrdEnd]] as const) {
    if (v !== undefined && typeof v !== "number" && typeof v !== "bigint") {
      throw new FdtError("BadValue", `${field} must be a number or a bigint, not ${showValue(v)}`, {
        field,
        value: showValue(v),
        limit: "number | bigint",
      });
    }
  }
  if ((initrdStart === undefined) !== (initrdEnd === undefined) || (initrdStart ?? 0) > (initrdEnd ?? 0)) {
    throw new FdtError(
      "BadValue",
      `initrd range [${showValue(initrdStart)}, ${showValue(initrdEnd)}) needs both ends, start <= end`,
      { field: "initrdEnd", value: showValue(initrdEnd), limit: showValue(initrdStart) },
    );
  }
  b.beginNode("chosen");
  if (options.bootargs !== undefined) b.propertyString("bootargs", options.bootargs);
  if (initrdStart !== undefined && initrdEnd !== undefined) {
    b.propertyU64("linux,initrd-start", initrdStart);
    b.propertyU64("linux,initrd-end", initrdEnd);
  }
  if (options.stdoutPath !== undefined) b.propertyString("stdout-path", options.stdoutPath);
  if (options.kaslrSeed !== undefined) b.propertyU64("kaslr-seed", options.kaslrSeed);
  if (options.rngSeed !== undefined) b.property("rng-seed", options.rngSeed);
  b.endNode();
}

/** How to describe the CPUs. */
export interface CpusOptions {
  /** Architecture: arm64 CPUs are `arm,arm-v8`; riscv64 CPUs carry an ISA string and a local interrupt controller. */
  arch: FdtArch;
  /** Number of CPUs; 1 by default. Their `reg` is 0, 1, ... (MPIDR affinity 0 or hart id). */
  count?: number;
  /** arm64 `enable-method` for secondary CPUs; `"psci"` by default (written only when count > 1). */
  enableMethod?: "psci" | "spin-table";
  /** riscv64 `timebase-frequency` in Hz; 10 MHz by default (QEMU virt). */
  timebaseFrequency?: number;
  /** riscv64 `riscv,isa`; `"rv64imafdc"` by default. */
  isa?: string;
  /** riscv64 `mmu-type`; `"riscv,sv48"` by default. */
  mmuType?: string;
}

/**
 * Writes `/cpus` with one `cpu@N` per CPU. Returns the phandles of the riscv64 CPUs' interrupt
 * controllers (empty for arm64).
 *
 * @example
 * ```ts
 * import { addCpus, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * console.log(addCpus(b, { arch: "riscv64", count: 2 })); // [ 1, 2 ]
 * ```
 */
export function addCpus(b: FdtBuilder, options: CpusOptions): number[] {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  requireObject(options, "options", FdtError, "BadValue");
  const count = options.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 0x1_0000) {
    throw new FdtError("BadValue", `cpu count ${showValue(count)} is not between 1 and 65536`, {
      field: "count",
      value: typeof count === "number" ? count : showValue(count),
      limit: 0x1_0000,
    });
  }
  const intcs: number[] = [];
  b.beginNode("cpus");
  b.propertyU32("#address-cells", 1);
  b.propertyU32("#size-cells", 0);
  if (options.arch === "riscv64") b.propertyU32("timebase-frequency", options.timebaseFrequency ?? 10_000_000);
  for (let i = 0; i < count; i++) {
    b.beginNode(hexName("cpu", i));
    b.propertyString("device_type", "cpu");
    b.propertyU32("reg", i);
    if (options.arch === "aarch64") {
      b.propertyString("compatible", "arm,arm-v8");
      if (count > 1) b.propertyString("enable-method", options.enableMethod ?? "psci");
    } else {
      b.propertyString("status", "okay");
      b.propertyString("compatible", "riscv");
      b.propertyString("riscv,isa", options.isa ?? "rv64imafdc");
      b.propertyString("mmu-type", options.mmuType ?? "riscv,sv48");
      const phandle = b.allocPhandle();
      b.beginNode("interrupt-controller");
      b.propertyU32("#interrupt-cells", 1);
      b.propertyU32("#address-cells", 0);
      b.propertyEmpty("interrupt-controller");
      b.propertyString("compatible", "riscv,cpu-intc");
      b.propertyU32("phandle", phandle);
      b.endNode();
      intcs.push(phandle);
    }
    b.endNode();
  }
  b.endNode();
  return intcs;
}

/**
 * Writes a `fixed-clock` node (`clock-frequency`, `#clock-cells = 0`) and returns its phandle, for the
 * PL011's `clocks`.
 *
 * @example
 * ```ts
 * import { addFixedClock, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * console.log(addFixedClock(b, "apb-pclk", 24_000_000)); // 1
 * ```
 */
export function addFixedClock(b: FdtBuilder, name: string, frequency: number): number {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  requireNumber(frequency, "frequency", FdtError, "BadValue");
  const phandle = b.allocPhandle();
  b.beginNode(name);
  b.propertyString("compatible", "fixed-clock");
  b.propertyU32("#clock-cells", 0);
  b.propertyU32("clock-frequency", frequency);
  b.propertyString("clock-output-names", name);
  b.propertyU32("phandle", phandle);
  b.endNode();
  return phandle;
}

/** A PL011 UART (`arm,pl011.yaml`). */
export interface Pl011Options {
  /** MMIO base; {@linkcode VIRT_PL011_BASE} by default. */
  base?: number;
  /** MMIO size; 0x1000 by default. */
  size?: number;
  /** Phandle of the clock feeding both `uartclk` and `apb_pclk` (see {@linkcode addFixedClock}). */
  clock: number;
  /** Interrupt specifier cells (e.g. `[GIC_SPI, 1, IRQ_TYPE_LEVEL_HIGH]`); omitted when not given. */
  interrupts?: readonly number[];
}

/**
 * Writes a `pl011@<base>` node and returns its path (for `stdout-path`).
 *
 * @example
 * ```ts
 * import { addFixedClock, addPl011, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * console.log(addPl011(b, { clock: addFixedClock(b, "apb-pclk", 24_000_000) })); // /pl011@9000000
 * ```
 */
export function addPl011(b: FdtBuilder, options: Pl011Options): string {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  requireObject(options, "options", FdtError, "BadValue");
  const base = options.base ?? VIRT_PL011_BASE;
  const name = hexName("pl011", base);
  b.beginNode(name);
  b.propertyStringList("compatible", ["arm,pl011", "arm,primecell"]);
  b.propertyU64List("reg", [base, options.size ?? 0x1000]);
  if (options.interrupts !== undefined) b.propertyCells("interrupts", options.interrupts);
  b.propertyCells("clocks", [options.clock, options.clock]);
  b.propertyStringList("clock-names", ["uartclk", "apb_pclk"]);
  b.endNode();
  return `/${name}`;
}

/** A 16550-compatible UART (`8250.yaml`). */
export interface Ns16550Options {
  /** MMIO base; {@linkcode VIRT_NS16550_BASE} by default. */
  base?: number;
  /** MMIO size; 0x100 by default. */
  size?: number;
  /** Input clock in Hz; 3686400 by default (QEMU). */
  clockFrequency?: number;
  /** `reg-shift` (register stride as a power of two), written when given. */
  regShift?: number;
  /** Interrupt specifier cells, written when given. */
  interrupts?: readonly number[];
  /** Phandle of the interrupt controller, written as `interrupt-parent` when given. */
  interruptParent?: number;
}

/**
 * Writes a `serial@<base>` node (`compatible = "ns16550a"`) and returns its path.
 *
 * @example
 * ```ts
 * import { addNs16550, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * console.log(addNs16550(b, {})); // /serial@10000000
 * ```
 */
export function addNs16550(b: FdtBuilder, options: Ns16550Options = {}): string {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  requireObject(options, "options", FdtError, "BadValue");
  const base = options.base ?? VIRT_NS16550_BASE;
  const name = hexName("serial", base);
  b.beginNode(name);
  b.propertyString("compatible", "ns16550a");
  b.propertyU64List("reg", [base, options.size ?? 0x100]);
  b.propertyU32("clock-frequency", options.clockFrequency ?? 3_686_400);
  if (options.regShift !== undefined) b.propertyU32("reg-shift", options.regShift);
  if (options.interruptParent !== undefined) b.propertyU32("interrupt-parent", options.interruptParent);
  if (options.interrupts !== undefined) b.propertyCells("interrupts", options.interrupts);
  b.endNode();
  return `/${name}`;
}

/**
 * Writes `/psci` (`arm,psci-1.0` and `arm,psci-0.2`, conduit `hvc` by default).
 *
 * @example
 * ```ts
 * import { addPsci, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * addPsci(b);
 * ```
 */
export function addPsci(b: FdtBuilder, method: "hvc" | "smc" = "hvc"): void {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  b.beginNode("psci");
  b.propertyStringList("compatible", ["arm,psci-1.0", "arm,psci-0.2"]);
  b.propertyString("method", method);
  b.endNode();
}

/** A GICv2 (`arm,gic.yaml`). */
export interface GicV2Options {
  /** Distributor base; {@linkcode VIRT_GIC_DIST_BASE} by default. */
  distributor?: number;
  /** CPU interface base; {@linkcode VIRT_GIC_CPU_BASE} by default. */
  cpuInterface?: number;
  /** A phandle taken earlier with `allocPhandle()` (say, for the root's `interrupt-parent`); a new one by default. */
  phandle?: number;
}

/**
 * Writes an `intc@<distributor>` GICv2 node (`arm,cortex-a15-gic`, 3 interrupt cells) and returns its
 * phandle, for the root's `interrupt-parent`.
 *
 * @example
 * ```ts
 * import { addGicV2, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * console.log(addGicV2(b)); // 1
 * ```
 */
export function addGicV2(b: FdtBuilder, options: GicV2Options = {}): number {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  requireObject(options, "options", FdtError, "BadValue");
  const dist = options.distributor ?? VIRT_GIC_DIST_BASE;
  const cpu = options.cpuInterface ?? VIRT_GIC_CPU_BASE;
  const phandle = options.phandle ?? b.allocPhandle();
  b.beginNode(hexName("intc", dist));
  b.propertyString("compatible", "arm,cortex-a15-gic");
  b.propertyU32("#interrupt-cells", 3);
  b.propertyU32("#address-cells", 0);
  b.propertyEmpty("interrupt-controller");
  b.propertyU64List("reg", [dist, 0x1_0000, cpu, 0x1_0000]);
  b.propertyU32("phandle", phandle);
  b.endNode();
  return phandle;
}

/**
 * Writes `/timer` (`arm,armv8-timer`): the secure, non-secure, virtual and hypervisor PPIs 13, 14, 11,
 * 10, level-high with the CPU mask for `cpus` CPUs, as QEMU virt does.
 *
 * @example
 * ```ts
 * import { addArmv8Timer, FdtBuilder } from "@linux-loader/linux-loader";
 * const b = new FdtBuilder();
 * b.beginNode("");
 * addArmv8Timer(b, 1);
 * ```
 */
export function addArmv8Timer(b: FdtBuilder, cpus = 1): void {
  requireInstance(b, FdtBuilder, "b", FdtError, "BadValue");
  const flags = ((((1 << Math.min(cpus, 8)) - 1) << 8) | IRQ_TYPE_LEVEL_HIGH) >>> 0;
  b.beginNode("timer");
  b.propertyString("compatible", "arm,armv8-timer");
  b.propertyCells("interrupts", [13, 14, 11, 10].flatMap((ppi) => [GIC_PPI, ppi, flags]));
  b.propertyEmpty("always-on");
  b.endNode();
}

/** A whole VM device tree: what {@linkcode buildVmFdt} writes. */
export interface VmFdtOptions {
  /** Architecture. */
  arch: FdtArch;
  /** Kernel command line. */
  bootargs?: string;
  /** Initrd range `[start, end)`. */
  initrd?: { start: number; end: number };
  /** Number of CPUs; 1 by default. */
  cpus?: number;
  /** UART: `"pl011"` (arm64 default), `"ns16550"` (riscv64 default) or `"none"`. */
  serial?: "pl011" | "ns16550" | "none";
  /** UART MMIO base; the QEMU virt address of the chosen UART by default. */
  serialBase?: number;
  /** UART input clock in Hz (PL011: 24 MHz by default; 16550: 3.6864 MHz). */
  serialClock?: number;
  /** arm64: add a GICv2 and the architected timer (needed by a real kernel). Off by default. */
  gic?: boolean;
  /** arm64 PSCI conduit; `"hvc"` by default. */
  psci?: "hvc" | "smc";
  /** Memory reservation block entries. */
  reservations?: readonly FdtReservation[];
  /** Root `compatible`; `"linux,dummy-virt"` (arm64) or `"riscv-virtio"` (riscv64) by default. */
  compatible?: string;
}

/**
 * Builds the device tree of a simple VM: root (`#address-cells = #size-cells = 2`), memory from `mem`,
 * `/chosen`, `/cpus`, a UART with `stdout-path` pointing at it, and for arm64 `/psci` and optionally a
 * GICv2 with `/timer`.
 *
 * @example
 * ```ts
 * import { buildVmFdt, GuestMemory } from "@linux-loader/linux-loader";
 * const mem = GuestMemory.fromRanges([[0x8000_0000, 64 << 20]]);
 * const dtb = buildVmFdt(mem, { arch: "riscv64", bootargs: "console=ttyS0" });
 * console.log(dtb.length < 4096); // true
 * ```
 */
export function buildVmFdt(mem: GuestMemory, options: VmFdtOptions): Uint8Array {
  requireMemory(mem, "mem", FdtError, "BadValue");
  requireObject(options, "options", FdtError, "BadValue");
  const arm = options.arch === "aarch64";
  const b = new FdtBuilder();
  const reservations = options.reservations ?? [];
  requireArray(reservations, "options.reservations", FdtError, "BadValue");
  for (const r of reservations) {
    requireObject(r, "options.reservations[]", FdtError, "BadValue");
    b.addReservation(r.address, r.size);
  }
  b.beginNode("");
  b.propertyU32("#address-cells", 2);
  b.propertyU32("#size-cells", 2);
  b.propertyString("compatible", options.compatible ?? (arm ? "linux,dummy-virt" : "riscv-virtio"));
  b.propertyString("model", `linux-loader ${options.arch} VM`);
  const gic = arm && options.gic === true ? b.allocPhandle() : undefined;
  if (gic !== undefined) b.propertyU32("interrupt-parent", gic);

  const serial = options.serial ?? (arm ? "pl011" : "ns16550");
  let stdoutPath: string | undefined;
  addMemoryNodes(b, mem);
  addCpus(b, { arch: options.arch, count: options.cpus ?? 1 });
  if (arm) addPsci(b, options.psci ?? "hvc");
  if (gic !== undefined) {
    addGicV2(b, { phandle: gic });
    addArmv8Timer(b, options.cpus ?? 1);
  }
  if (serial === "pl011") {
    const clock = addFixedClock(b, "apb-pclk", options.serialClock ?? 24_000_000);
    stdoutPath = addPl011(b, {
      base: options.serialBase,
      clock,
      interrupts: gic !== undefined ? [GIC_SPI, 1, IRQ_TYPE_LEVEL_HIGH] : undefined,
    });
  } else if (serial === "ns16550") {
    stdoutPath = addNs16550(b, { base: options.serialBase, clockFrequency: options.serialClock });
  }
  addChosen(b, {
    bootargs: options.bootargs,
    initrdStart: options.initrd?.start,
    initrdEnd: options.initrd?.end,
    stdoutPath,
  });
  b.endNode();
  return b.finish();
}
