// Crafted inputs shared by the hostile suite and the regression tests.

import { ELF64_EHDR, ELF64_PHDR, PT_NOTE } from "../../abi.ts";
/**
 * An ELF whose `count` PT_NOTE headers each cover a zero-filled area (12-byte empty notes), each starting 4
 * bytes after the previous: the walk of issue 18 took ~5 s for 100 headers and did not finish for 65,535.
 */
export function manyNotesElf(count: number, zeroBytes: number): Uint8Array {
  const table = ELF64_EHDR.size + count * ELF64_PHDR.size;
  const out = new Uint8Array(table + zeroBytes);
  out.set(ELF64_EHDR.encode({
    e_ident: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]),
    e_type: 2,
    e_machine: 62,
    e_entry: 0x10_0000n,
    e_phoff: BigInt(ELF64_EHDR.size),
    e_phentsize: ELF64_PHDR.size,
    e_phnum: count,
  }));
  for (let i = 0; i < count; i++) {
    const shift = (4 * i) % (zeroBytes / 2);
    out.set(
      ELF64_PHDR.encode({
        p_type: PT_NOTE,
        p_offset: BigInt(table + shift),
        p_filesz: BigInt(Math.floor((zeroBytes - shift) / 12) * 12),
        p_align: i % 2 === 0 ? 8n : 4n,
      }),
      ELF64_EHDR.size + i * ELF64_PHDR.size,
    );
  }
  return out;
}
