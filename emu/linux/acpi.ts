/**
 * Minimal ACPI for the x86 real-kernel machine: just enough for Linux to power off cleanly (ACPI S5).
 *
 * The tables, all in the legacy BIOS area (reserved in the e820 map, where Linux also scans for the RSDP):
 * RSDP (revision 2) -> XSDT -> FADT -> FACS and DSDT. The FADT is a full (not hardware-reduced) one with a
 * PM1a event block and a PM1a control block in I/O space, as QEMU's PIIX4 gives them: a hardware-reduced
 * FADT makes Linux x86 drop the legacy PIC (`acpi_reduced_hw_init`: `legacy_pic = &null_legacy_pic`), and
 * the machine's 16550 interrupt goes through that PIC. SMI_CMD is zero, so the platform is always in ACPI
 * mode (ACPI 6.5, 5.2.9 "FADT": "This field is reserved and must be zero on system that does not support
 * System Management mode"; ACPICA treats a zero SMI_CMD as "already in ACPI mode"). No PM timer, no GPE
 * block, no MADT (the machine's CPU has no APIC).
 *
 * The DSDT holds one object, `\_S5_`, hand-assembled AML: `Name (\_S5, Package (4) { 5, 0, 0, 0 })`. Linux
 * powers off by writing SLP_TYPa (bits 12:10 of PM1_CNT) with the package's first value, then SLP_TYPa |
 * SLP_EN (bit 13) ({@linkcode X86AcpiPm} recognises that write).
 *
 * @module
 */

/** Where the tables go: the start of the BIOS area Linux scans for the RSDP (0xE0000-0xFFFFF). */
export const X86_ACPI_BASE = 0xe_0000;
/** The PM1a event block's I/O port (PM1_STS at +0, PM1_EN at +2), QEMU PIIX4's address. */
export const PM1A_EVT_PORT = 0x600;
/** The PM1a control block's I/O port (PM1_CNT, 16 bits). */
export const PM1A_CNT_PORT = 0x604;
/** PM1_EVT_LEN: "This value is >= 4" (ACPI 6.5, table 5.9). */
export const PM1_EVT_LEN = 4;
/** PM1_CNT_LEN: "This value is >= 2" (ACPI 6.5, table 5.9). */
export const PM1_CNT_LEN = 2;
/** The SCI's ISA interrupt (as on PCs); never raised by the machine. */
export const SCI_IRQ = 9;
/** The SLP_TYP value `\_S5` gives (any 3-bit value works; the machine compares with this one). */
export const S5_SLP_TYP = 5;

/** PM1_CNT bits (ACPI 6.5, table 4.13 "PM1 Control Registers Fixed Hardware Feature Control Bits"). */
export const PM1_CNT_SCI_EN = 1 << 0;
/** SLP_TYPx: bits 12:10, "Defines the type of sleeping state the system enters when the SLP_EN bit is set". */
export const PM1_CNT_SLP_TYP_SHIFT = 10;
/** SLP_EN: bit 13, "Setting this bit causes the system to sequence into the sleeping state" (write-only). */
export const PM1_CNT_SLP_EN = 1 << 13;

// Table sizes and revisions.
const SDT_HEADER = 36; // ACPI 6.5, table 5.4 "DESCRIPTION_HEADER Fields"
const RSDP_LENGTH = 36; // table 5.3: revision 2 RSDP
const RSDP_V1_LENGTH = 20; // "checksum ... of the fields defined in the ACPI 1.0 specification" (first 20 bytes)
const FADT_LENGTH = 276; // table 5.9, FADT major version 6
const FADT_REVISION = 6;
const FADT_MINOR = 5;
const FACS_LENGTH = 64; // table 5.14
const FACS_VERSION = 2;
const XSDT_REVISION = 1;
const DSDT_REVISION = 2; // 2: integers are 64 bits (5.2.11.1)

// FADT field offsets (ACPI 6.5, table 5.9).
const FADT_FIRMWARE_CTRL = 36, FADT_DSDT = 40, FADT_SCI_INT = 46, FADT_SMI_CMD = 48;
const FADT_PM1A_EVT_BLK = 56, FADT_PM1A_CNT_BLK = 64;
const FADT_PM1_EVT_LEN = 88, FADT_PM1_CNT_LEN = 89;
const FADT_IAPC_BOOT_ARCH = 109, FADT_FLAGS = 112, FADT_MINOR_VERSION = 131;
const FADT_X_DSDT = 140;

/** IAPC_BOOT_ARCH (table 5.11): LEGACY_DEVICES (bit 0) and 8042 (bit 1), as on a PC. */
const IAPC_LEGACY_DEVICES = 1 << 0, IAPC_8042 = 1 << 1;
/**
 * FADT flags (table 5.10): WBINVD (bit 0, "must be set" on ACPI 2+ platforms), PWR_BUTTON (bit 4) and
 * SLP_BUTTON (bit 5): "If set, indicates the power button is handled as a control method device" (there is
 * none), so Linux installs no fixed-feature buttons.
 */
const FADT_FLAG_WBINVD = 1 << 0, FADT_FLAG_PWR_BUTTON = 1 << 4, FADT_FLAG_SLP_BUTTON = 1 << 5;

// AML opcodes (ACPI 6.5, 20.2 "AML Grammar Definition").
/** NameOp: DefName := NameOp NameString DataRefObject. */
export const AML_NAME_OP = 0x08;
/** RootChar '\'. */
export const AML_ROOT_CHAR = 0x5c;
/** PackageOp: DefPackage := PackageOp PkgLength NumElements PackageElementList. */
export const AML_PACKAGE_OP = 0x12;
/** BytePrefix: ByteConst := BytePrefix ByteData. */
export const AML_BYTE_PREFIX = 0x0a;
/** ZeroOp (the constant 0). */
export const AML_ZERO_OP = 0x00;
/** OneOp (the constant 1). */
export const AML_ONE_OP = 0x01;

const OEM_ID = "LLOADR"; // 6 bytes
const OEM_TABLE_ID = "LLEMUX86"; // 8 bytes
const CREATOR_ID = "LLDR"; // 4 bytes

/** An AML integer constant: ZeroOp, OneOp or a ByteConst (the values `\_Sx` packages hold). */
export function amlInteger(v: number): number[] {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`AML byte constant out of range: ${v}`);
  return v === 0 ? [AML_ZERO_OP] : v === 1 ? [AML_ONE_OP] : [AML_BYTE_PREFIX, v];
}

/**
 * PkgLength (20.2.4): one byte up to 63 (bits 5:0, bits 7:6 = 0 further bytes), else the low nibble in the
 * lead byte and 8 bits per following byte. The length counts itself.
 */
export function amlPkgLength(contentLength: number): number[] {
  for (let extra = 0; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (extra === 0 && total <= 0x3f) return [total];
    if (extra > 0 && total < 1 << (4 + 8 * extra)) {
      const out = [(extra << 6) | (total & 0xf)];
      for (let k = 0; k < extra; k++) out.push((total >> (4 + 8 * k)) & 0xff);
      return out;
    }
  }
  throw new RangeError(`AML package too long: ${contentLength}`);
}

/** `Name (\NAME, Package () { values })` in AML; `name` is a 4-character NameSeg. */
export function amlNamePackage(name: string, values: readonly number[]): number[] {
  if (!/^[A-Z_][A-Z0-9_]{3}$/.test(name)) throw new RangeError(`not an AML NameSeg: ${name}`);
  const elements = [values.length, ...values.flatMap(amlInteger)]; // NumElements, PackageElementList
  return [
    AML_NAME_OP,
    AML_ROOT_CHAR,
    ...[...name].map((c) => c.charCodeAt(0)),
    AML_PACKAGE_OP,
    ...amlPkgLength(elements.length),
    ...elements,
  ];
}

/** The 8-bit sum of `bytes` (a valid ACPI table sums to 0). */
export function acpiSum(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return s;
}

function ascii(dst: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) dst[at + i] = s.charCodeAt(i);
}

/** A table with its DESCRIPTION_HEADER filled in and checksummed (byte 9). */
function sdt(signature: string, revision: number, body: Uint8Array | number[], fill?: (dv: DataView) => void) {
  const t = new Uint8Array(SDT_HEADER + body.length);
  t.set(body, SDT_HEADER);
  const dv = new DataView(t.buffer);
  ascii(t, 0, signature);
  dv.setUint32(4, t.length, true);
  t[8] = revision;
  ascii(t, 10, OEM_ID);
  ascii(t, 16, OEM_TABLE_ID);
  dv.setUint32(24, 1, true); // OEM revision
  ascii(t, 28, CREATOR_ID);
  dv.setUint32(32, 1, true); // creator revision
  fill?.(dv);
  t[9] = (0x100 - acpiSum(t)) & 0xff;
  return t;
}

/** The tables {@linkcode buildX86Acpi} lays out, with their guest physical addresses. */
export interface X86AcpiTables {
  /** Physical address of the RSDP (for `boot_params.acpi_rsdp_addr` / `hvm_start_info.rsdp_paddr`). */
  rsdpAddr: number;
  /** Physical address of the first byte of `bytes`. */
  base: number;
  /** Every table, laid out from `base`. */
  bytes: Uint8Array;
  /** Each table's address and length, by signature ("RSD PTR ", "XSDT", "FACP", "FACS", "DSDT"). */
  tables: Record<string, { addr: number; length: number }>;
}

/** The DSDT's AML: `\_S5` = { S5_SLP_TYP (SLP_TYPa), 0 (SLP_TYPb), 0, 0 }. */
export function x86DsdtAml(): Uint8Array {
  return new Uint8Array(amlNamePackage("_S5_", [S5_SLP_TYP, 0, 0, 0]));
}

/** Builds RSDP, XSDT, FADT, FACS and DSDT for the machine, laid out from `base` (16-byte aligned). */
export function buildX86Acpi(base: number = X86_ACPI_BASE): X86AcpiTables {
  if (base % 64 !== 0 || base + 0x1000 > 0x1_0000_0000) {
    throw new RangeError("ACPI base must be 64-aligned below 4 GiB");
  }
  // Offsets: RSDP 0 (16-aligned), XSDT 0x40, FACS 0x80 (64-aligned, table 5.14), FADT 0xc0, DSDT 0x200.
  const at = { rsdp: 0, xsdt: 0x40, facs: 0x80, fadt: 0xc0, dsdt: 0x200 };
  const dsdt = sdt("DSDT", DSDT_REVISION, x86DsdtAml());

  const facs = new Uint8Array(FACS_LENGTH); // no checksum (table 5.14 has none)
  ascii(facs, 0, "FACS");
  new DataView(facs.buffer).setUint32(4, FACS_LENGTH, true);
  facs[32] = FACS_VERSION;

  const fadt = sdt("FACP", FADT_REVISION, new Uint8Array(FADT_LENGTH - SDT_HEADER), (dv) => {
    dv.setUint32(FADT_FIRMWARE_CTRL, base + at.facs, true);
    dv.setUint32(FADT_DSDT, base + at.dsdt, true);
    dv.setUint16(FADT_SCI_INT, SCI_IRQ, true);
    dv.setUint32(FADT_SMI_CMD, 0, true);
    dv.setUint32(FADT_PM1A_EVT_BLK, PM1A_EVT_PORT, true);
    dv.setUint32(FADT_PM1A_CNT_BLK, PM1A_CNT_PORT, true);
    dv.setUint8(FADT_PM1_EVT_LEN, PM1_EVT_LEN);
    dv.setUint8(FADT_PM1_CNT_LEN, PM1_CNT_LEN);
    dv.setUint16(FADT_IAPC_BOOT_ARCH, IAPC_LEGACY_DEVICES | IAPC_8042, true);
    dv.setUint32(FADT_FLAGS, FADT_FLAG_WBINVD | FADT_FLAG_PWR_BUTTON | FADT_FLAG_SLP_BUTTON, true);
    dv.setUint8(FADT_MINOR_VERSION, FADT_MINOR);
    // X_DSDT equal to DSDT. X_FIRMWARE_CTRL stays zero: Linux installs the FACS once per non-zero field
    // (both set: "ACPI: FACS" twice). The X_PM1 blocks stay zero, so ACPICA builds them from
    // PM1a_EVT_BLK/PM1a_CNT_BLK and their lengths.
    dv.setBigUint64(FADT_X_DSDT, BigInt(base + at.dsdt), true);
  });

  const xsdt = sdt("XSDT", XSDT_REVISION, new Uint8Array(8), (dv) => {
    dv.setBigUint64(SDT_HEADER, BigInt(base + at.fadt), true);
  });

  // RSDP (table 5.3): "RSD PTR ", checksum of the first 20 bytes, OEMID, revision 2, RsdtAddress (0: no
  // RSDT), Length, XsdtAddress, extended checksum of the whole structure.
  const rsdp = new Uint8Array(RSDP_LENGTH);
  const rv = new DataView(rsdp.buffer);
  ascii(rsdp, 0, "RSD PTR ");
  ascii(rsdp, 9, OEM_ID);
  rsdp[15] = 2;
  rv.setUint32(16, 0, true);
  rv.setUint32(20, RSDP_LENGTH, true);
  rv.setBigUint64(24, BigInt(base + at.xsdt), true);
  rsdp[8] = (0x100 - acpiSum(rsdp.subarray(0, RSDP_V1_LENGTH))) & 0xff;
  rsdp[32] = (0x100 - acpiSum(rsdp)) & 0xff;

  const bytes = new Uint8Array(at.dsdt + dsdt.length);
  bytes.set(rsdp, at.rsdp);
  bytes.set(xsdt, at.xsdt);
  bytes.set(facs, at.facs);
  bytes.set(fadt, at.fadt);
  bytes.set(dsdt, at.dsdt);
  const entry = (off: number, t: Uint8Array) => ({ addr: base + off, length: t.length });
  return {
    rsdpAddr: base + at.rsdp,
    base,
    bytes,
    tables: {
      "RSD PTR ": entry(at.rsdp, rsdp),
      XSDT: entry(at.xsdt, xsdt),
      FACS: entry(at.facs, facs),
      FACP: entry(at.fadt, fadt),
      DSDT: entry(at.dsdt, dsdt),
    },
  };
}

/**
 * The ACPI PM1a registers the FADT names: PM1_STS (write 1 to clear), PM1_EN and PM1_CNT read back what the
 * guest wrote (SCI_EN set: the platform is in ACPI mode); a PM1_CNT write with SLP_EN and SLP_TYP =
 * {@linkcode S5_SLP_TYP} is the power-off.
 */
export class X86AcpiPm {
  #status = 0;
  #enable = 0;
  #control = PM1_CNT_SCI_EN;
  /** Set once the guest has asked for S5. */
  poweredOff = false;

  /** Whether `port` belongs to the PM1a blocks. */
  static owns(port: number): boolean {
    return (port >= PM1A_EVT_PORT && port < PM1A_EVT_PORT + PM1_EVT_LEN) ||
      (port >= PM1A_CNT_PORT && port < PM1A_CNT_PORT + PM1_CNT_LEN);
  }

  /** A read of `size` bytes at `port`. */
  read(port: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.#byte(port + i) << (8 * i);
    return v >>> 0;
  }

  #byte(port: number): number {
    const o = port - PM1A_EVT_PORT;
    if (o === 0 || o === 1) return (this.#status >> (8 * o)) & 0xff;
    if (o === 2 || o === 3) return (this.#enable >> (8 * (o - 2))) & 0xff;
    const c = port - PM1A_CNT_PORT;
    if (c === 0 || c === 1) return (this.#control >> (8 * c)) & 0xff;
    return 0xff;
  }

  /** A write of `size` bytes at `port`; true when it powers the machine off. */
  write(port: number, size: number, value: number): boolean {
    for (let i = 0; i < size; i++) {
      const p = port + i, b = (value >> (8 * i)) & 0xff;
      const o = p - PM1A_EVT_PORT, c = p - PM1A_CNT_PORT;
      if (o === 0 || o === 1) this.#status &= ~(b << (8 * o)); // write 1 to clear
      else if (o === 2 || o === 3) this.#enable = (this.#enable & ~(0xff << (8 * (o - 2)))) | (b << (8 * (o - 2)));
      else if (c === 0 || c === 1) this.#control = (this.#control & ~(0xff << (8 * c))) | (b << (8 * c));
    }
    if ((this.#control & PM1_CNT_SLP_EN) !== 0) {
      this.#control &= ~PM1_CNT_SLP_EN; // SLP_EN "is a write-only bit and reads to it always return a zero"
      const typ = (this.#control >> PM1_CNT_SLP_TYP_SHIFT) & 7;
      if (typ === S5_SLP_TYP) this.poweredOff = true;
    }
    return this.poweredOff;
  }

  /** The PM1_CNT value (SLP_EN reads as zero). */
  get control(): number {
    return this.#control;
  }
}
