/**
 * The x86 machine's ACPI tables (emu/linux/acpi.ts) checked the way an OS reads them: the RSDP found at a
 * 16-byte boundary of the BIOS area, every checksum, every length, the pointers from RSDP to XSDT to FADT
 * to FACS and DSDT, the FADT's PM1a blocks, and the DSDT's AML parsed by the grammar (a small AML reader
 * below, written from ACPI 6.5 section 20). The PM1a registers power the machine off on the S5 sequence
 * Linux writes (acpi_hw_legacy_sleep: SLP_TYP first, then SLP_TYP | SLP_EN).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { propParams } from "../prop/_config.ts";
import {
  acpiSum,
  amlNamePackage,
  amlPkgLength,
  buildX86Acpi,
  PM1_CNT_SLP_EN,
  PM1_CNT_SLP_TYP_SHIFT,
  PM1A_CNT_PORT,
  PM1A_EVT_PORT,
  S5_SLP_TYP,
  SCI_IRQ,
  X86_ACPI_BASE,
  X86AcpiPm,
} from "../../emu/linux/acpi.ts";

const acpi = buildX86Acpi();
const dv = new DataView(acpi.bytes.buffer);
const table = (sig: string) => {
  const t = acpi.tables[sig];
  return acpi.bytes.subarray(t.addr - acpi.base, t.addr - acpi.base + t.length);
};
const sigAt = (addr: number) => new TextDecoder().decode(acpi.bytes.subarray(addr - acpi.base, addr - acpi.base + 4));
const u32 = (addr: number) => dv.getUint32(addr - acpi.base, true);
const u64 = (addr: number) => Number(dv.getBigUint64(addr - acpi.base, true));

Deno.test("the RSDP sits on a 16-byte boundary of the BIOS area, both its checksums hold, and it points at the XSDT", () => {
  assert.equal(acpi.rsdpAddr % 16, 0);
  assert.ok(acpi.rsdpAddr >= 0xe0000 && acpi.rsdpAddr + 36 <= 0x10_0000);
  assert.equal(acpi.rsdpAddr, X86_ACPI_BASE);
  const rsdp = table("RSD PTR ");
  assert.equal(new TextDecoder().decode(rsdp.subarray(0, 8)), "RSD PTR ");
  assert.equal(acpiSum(rsdp.subarray(0, 20)), 0);
  assert.equal(acpiSum(rsdp), 0);
  assert.equal(rsdp[15], 2); // revision 2: XsdtAddress is valid
  assert.equal(u32(acpi.rsdpAddr + 20), 36);
  assert.equal(sigAt(u64(acpi.rsdpAddr + 24)), "XSDT");
});

Deno.test("every description table's length field is its size and its bytes sum to zero", () => {
  for (const sig of ["XSDT", "FACP", "DSDT"]) {
    const t = table(sig);
    assert.equal(new TextDecoder().decode(t.subarray(0, 4)), sig);
    assert.equal(new DataView(t.buffer, t.byteOffset).getUint32(4, true), t.length, sig);
    assert.equal(acpiSum(t), 0, sig);
  }
  const facs = table("FACS");
  assert.equal(new DataView(facs.buffer, facs.byteOffset).getUint32(4, true), 64);
  assert.equal(acpi.tables.FACS.addr % 64, 0); // "aligned on a 64-byte boundary"
});

Deno.test("the XSDT names the FADT, which names the FACS, the DSDT and the PM1a event and control blocks", () => {
  const xsdt = acpi.tables.XSDT;
  assert.equal((xsdt.length - 36) / 8, 1);
  const fadt = u64(xsdt.addr + 36);
  assert.equal(sigAt(fadt), "FACP");
  assert.equal(acpi.bytes[fadt - acpi.base + 8], 6); // revision
  assert.equal(sigAt(u32(fadt + 36)), "FACS");
  assert.equal(sigAt(u32(fadt + 40)), "DSDT");
  assert.equal(u64(fadt + 140), u32(fadt + 40)); // X_DSDT = DSDT
  assert.equal(dv.getUint16(fadt - acpi.base + 46, true), SCI_IRQ);
  assert.equal(u32(fadt + 48), 0); // SMI_CMD 0: always in ACPI mode
  assert.equal(u32(fadt + 56), PM1A_EVT_PORT);
  assert.equal(u32(fadt + 64), PM1A_CNT_PORT);
  assert.deepEqual([acpi.bytes[fadt - acpi.base + 88], acpi.bytes[fadt - acpi.base + 89]], [4, 2]);
  assert.equal(u32(fadt + 112) & (1 << 20), 0); // not HW_REDUCED_ACPI: Linux keeps the legacy PIC
});

/** A reader for the AML the DSDT holds: DefName with a DataRefObject of integers and packages. */
function parseAml(aml: Uint8Array): Map<string, unknown> {
  let i = 0;
  const names = new Map<string, unknown>();
  const pkgLength = () => {
    const lead = aml[i++], extra = lead >> 6;
    if (extra === 0) return lead & 0x3f;
    let v = lead & 0xf;
    for (let k = 0; k < extra; k++) v |= aml[i++] << (4 + 8 * k);
    return v;
  };
  const object = (): unknown => {
    const op = aml[i++];
    if (op === 0x00) return 0;
    if (op === 0x01) return 1;
    if (op === 0x0a) return aml[i++];
    if (op === 0x12) {
      const start = i;
      const end = start + pkgLength();
      const n = aml[i++];
      const out: unknown[] = [];
      while (i < end) out.push(object());
      assert.equal(i, end, "PkgLength covers the package exactly");
      assert.equal(out.length, n, "NumElements");
      return out;
    }
    throw new Error(`unexpected AML opcode 0x${op.toString(16)} at ${i - 1}`);
  };
  while (i < aml.length) {
    assert.equal(aml[i++], 0x08, "NameOp");
    let name = "";
    if (aml[i] === 0x5c) name += String.fromCharCode(aml[i++]);
    name += new TextDecoder().decode(aml.subarray(i, i + 4));
    i += 4;
    names.set(name, object());
  }
  return names;
}

Deno.test("the DSDT's AML parses to exactly one object, \\_S5_ = { S5_SLP_TYP, 0, 0, 0 }", () => {
  const names = parseAml(table("DSDT").subarray(36));
  assert.deepEqual([...names.entries()], [["\\_S5_", [S5_SLP_TYP, 0, 0, 0]]]);
});

Deno.test("an AML package of any length round-trips through PkgLength's one- to four-byte encodings", () => {
  assert.deepEqual(amlPkgLength(62), [63]);
  assert.deepEqual(amlPkgLength(63).length, 2);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }), (values) => {
      const names = parseAml(new Uint8Array(amlNamePackage("TEST", values)));
      assert.deepEqual(names.get("\\TEST"), values);
    }),
    propParams("aml package round trip"),
  );
});

Deno.test("the PM1a control register powers off on SLP_TYP = S5 with SLP_EN, as Linux writes it, and not before", () => {
  const pm = new X86AcpiPm();
  const typ = S5_SLP_TYP << PM1_CNT_SLP_TYP_SHIFT;
  assert.equal(pm.read(PM1A_CNT_PORT, 2) & 1, 1); // SCI_EN: in ACPI mode
  pm.write(PM1A_EVT_PORT, 2, 0xffff); // clear every status bit
  assert.equal(pm.read(PM1A_EVT_PORT, 2), 0);
  pm.write(PM1A_EVT_PORT + 2, 2, 0x0100);
  assert.equal(pm.read(PM1A_EVT_PORT + 2, 2), 0x0100);
  assert.equal(pm.write(PM1A_CNT_PORT, 2, pm.read(PM1A_CNT_PORT, 2) | typ), false);
  assert.equal(pm.read(PM1A_CNT_PORT, 2) & (7 << PM1_CNT_SLP_TYP_SHIFT), typ);
  assert.equal(pm.write(PM1A_CNT_PORT, 2, pm.read(PM1A_CNT_PORT, 2) | typ | PM1_CNT_SLP_EN), true);
  assert.equal(pm.poweredOff, true);
  assert.equal(pm.read(PM1A_CNT_PORT, 2) & PM1_CNT_SLP_EN, 0); // write-only bit
});

Deno.test("a sleep request for another state than S5 does not power the machine off", () => {
  const pm = new X86AcpiPm();
  for (let t = 0; t < 8; t++) {
    if (t === S5_SLP_TYP) continue;
    assert.equal(pm.write(PM1A_CNT_PORT, 2, (t << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN), false);
  }
  // Byte-wide writes (low byte, then high byte carrying SLP_TYP and SLP_EN) work too.
  pm.write(PM1A_CNT_PORT, 1, 1);
  assert.equal(pm.write(PM1A_CNT_PORT + 1, 1, ((S5_SLP_TYP << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN) >> 8), true);
});
