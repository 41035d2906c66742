/**
 * Compiles a C program against the system's `<asm/bootparam.h>`, `<xen/arch-x86/hvm/start_info.h>` and
 * `<elf.h>` that prints the offset and size of every field of every struct table in lib/abi (the C source
 * is generated from the tables, so no field is left out) and each struct's size, then compares them with
 * the tables. Needs gcc, linux-libc-dev and libxen-dev (`deno task setup` installs them).
 */
import assert from "node:assert/strict";
import type { Struct } from "../../lib/abi/struct.ts";
import { BOOT_E820_ENTRY, BOOT_PARAMS, SETUP_HEADER } from "../../lib/abi/bootparam.ts";
import { HVM_MEMMAP_TABLE_ENTRY, HVM_MODLIST_ENTRY, HVM_START_INFO } from "../../lib/abi/start_info.ts";
import { ELF32_EHDR, ELF32_PHDR, ELF64_EHDR, ELF64_NHDR, ELF64_PHDR } from "../../lib/abi/elf.ts";

// deno-lint-ignore no-explicit-any
const TABLES: readonly Struct<any>[] = [
  SETUP_HEADER,
  BOOT_E820_ENTRY,
  BOOT_PARAMS,
  HVM_START_INFO,
  HVM_MODLIST_ENTRY,
  HVM_MEMMAP_TABLE_ENTRY,
  ELF64_EHDR,
  ELF64_PHDR,
  ELF64_NHDR,
  ELF32_EHDR,
  ELF32_PHDR,
];

/** The C spelling of a table's type: ELF's are typedefs, the others struct tags. */
function cType(name: string): string {
  return name.startsWith("Elf") ? name : `struct ${name}`;
}

/** A C program printing "struct field offset size" lines and "struct - - sizeof" lines. */
function cSource(tables: readonly { name: string; fields: readonly { name: string }[] }[]): string {
  const lines = [
    "#include <stddef.h>",
    "#include <stdio.h>",
    "#include <stdint.h>",
    "#include <asm/bootparam.h>",
    "#include <xen/arch-x86/hvm/start_info.h>",
    "#include <elf.h>",
    "int main(void) {",
  ];
  for (const t of tables) {
    const ty = cType(t.name);
    lines.push(`  printf("%s - - %zu\\n", "${t.name}", sizeof(${ty}));`);
    for (const f of t.fields) {
      lines.push(
        `  printf("%s %s %zu %zu\\n", "${t.name}", "${f.name}", offsetof(${ty}, ${f.name}), sizeof(((${ty} *)0)->${f.name}));`,
      );
    }
  }
  lines.push("  return 0;", "}");
  return lines.join("\n") + "\n";
}

/** Compiles and runs the layout program, returning "struct field" -> [offset, size]. */
async function cLayout(
  tables: readonly { name: string; fields: readonly { name: string }[] }[],
): Promise<Map<string, [number, number]>> {
  const dir = await Deno.makeTempDir({ prefix: "layout_test_" });
  try {
    await Deno.writeTextFile(`${dir}/layout.c`, cSource(tables));
    const cc = await new Deno.Command("gcc", {
      args: ["-std=gnu11", "-Wall", "-o", `${dir}/layout`, `${dir}/layout.c`],
      stderr: "piped",
    }).output();
    assert.equal(cc.code, 0, `gcc failed:\n${new TextDecoder().decode(cc.stderr)}`);
    const run = await new Deno.Command(`${dir}/layout`, { stdout: "piped" }).output();
    assert.equal(run.code, 0);
    const out = new Map<string, [number, number]>();
    for (const line of new TextDecoder().decode(run.stdout).trim().split("\n")) {
      const [struct, field, offset, size] = line.split(" ");
      out.set(`${struct} ${field}`, [field === "-" ? 0 : Number(offset), Number(size)]);
    }
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const C = await cLayout(TABLES);

for (const t of TABLES) {
  Deno.test(`lib/abi ${t.name} has the size of the C ${cType(t.name)}`, () => {
    assert.equal(t.size, C.get(`${t.name} -`)?.[1], `sizeof(${cType(t.name)})`);
  });
  Deno.test(`lib/abi ${t.name} has every field at the C offset and size`, () => {
    const mismatches: string[] = [];
    for (const f of t.fields) {
      const c = C.get(`${t.name} ${f.name}`);
      if (c === undefined || c[0] !== f.offset || c[1] !== f.size) {
        mismatches.push(`${f.name}: lib/abi offset ${f.offset} size ${f.size}, C ${c?.[0]} ${c?.[1]}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });
  Deno.test(`lib/abi ${t.name} fields tile the C struct with no gap or overlap`, () => {
    let at = 0;
    const fields = [...t.fields].sort((a, b) => a.offset - b.offset);
    for (const f of fields) {
      assert.equal(f.offset, at, `${t.name}.${f.name} starts at ${f.offset}, previous field ends at ${at}`);
      at += f.size;
    }
    assert.equal(at, t.size);
  });
}
