import assert from "node:assert/strict";
import { AARCH64_REGS, RISCV_REGS, X86_REGS } from "../../emu/regs.ts";
import { UC } from "../../emu/unicorn.ts";

const HEADER = "/usr/include/unicorn/unicorn.h";

function haveHeaders(): boolean {
  try {
    Deno.statSync(HEADER);
    Deno.statSync("/usr/bin/gcc");
    return true;
  } catch {
    return false;
  }
}

const ok = haveHeaders();
if (!ok) console.error(`register table tests skipped: gcc or ${HEADER} (libunicorn-dev) is missing`);
const onCi = (() => {
  try {
    return Deno.env.get("CI") === "true";
  } catch {
    return false;
  }
})();

/** Compiles and runs a C program printing `name value` for each C expression, returns the values. */
async function cValues(exprs: Record<string, string>): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir({ prefix: "ucregs-" });
  try {
    const lines = Object.entries(exprs).map(([k, e]) => `  printf("%s %lld\\n", "${k}", (long long)(${e}));`);
    const src = `#include <stdio.h>\n#include <unicorn/unicorn.h>\nint main(void) {\n${
      lines.join("\n")
    }\n  return 0;\n}\n`;
    await Deno.writeTextFile(`${dir}/p.c`, src);
    const cc = await new Deno.Command("gcc", { args: ["-o", `${dir}/p`, `${dir}/p.c`], stderr: "piped" }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    const out = await new Deno.Command(`${dir}/p`, { stdout: "piped" }).output();
    const result: Record<string, number> = {};
    for (const l of new TextDecoder().decode(out.stdout).trim().split("\n")) {
      const [k, v] = l.split(" ");
      result[k] = Number(v);
    }
    return result;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function table(prefix: string, regs: Readonly<Record<string, number>>): Record<string, string> {
  return Object.fromEntries(Object.keys(regs).map((k) => [k, `${prefix}${k.toUpperCase()}`]));
}

const ignore = !ok && !onCi;

Deno.test({
  name: "every x86 register number matches uc_x86_reg in the installed unicorn/x86.h",
  ignore,
  fn: async () => assert.deepEqual(await cValues(table("UC_X86_REG_", X86_REGS)), { ...X86_REGS }),
});

Deno.test({
  name: "every aarch64 register number matches uc_arm64_reg in the installed unicorn/arm64.h",
  ignore,
  fn: async () => assert.deepEqual(await cValues(table("UC_ARM64_REG_", AARCH64_REGS)), { ...AARCH64_REGS }),
});

Deno.test({
  name: "every riscv64 register number matches uc_riscv_reg in the installed unicorn/riscv.h",
  ignore,
  fn: async () => assert.deepEqual(await cValues(table("UC_RISCV_REG_", RISCV_REGS)), { ...RISCV_REGS }),
});

Deno.test({
  name: "every Unicorn constant the binding uses matches unicorn.h",
  ignore,
  fn: async () => {
    const exprs = Object.fromEntries(Object.keys(UC).map((k) => [k, k]));
    assert.deepEqual(await cValues(exprs), { ...UC });
  },
});

Deno.test({
  name: "the binding's struct layouts match uc_x86_mmr, uc_x86_msr and uc_arm64_cp_reg",
  ignore,
  fn: async () => {
    const got = await cValues({
      mmr_size: "sizeof(uc_x86_mmr)",
      mmr_base: "__builtin_offsetof(uc_x86_mmr, base)",
      mmr_limit: "__builtin_offsetof(uc_x86_mmr, limit)",
      mmr_flags: "__builtin_offsetof(uc_x86_mmr, flags)",
      msr_size: "sizeof(uc_x86_msr)",
      msr_value: "__builtin_offsetof(uc_x86_msr, value)",
      cp_size: "sizeof(uc_arm64_cp_reg)",
      cp_crm: "__builtin_offsetof(uc_arm64_cp_reg, crm)",
      cp_op0: "__builtin_offsetof(uc_arm64_cp_reg, op0)",
      cp_op1: "__builtin_offsetof(uc_arm64_cp_reg, op1)",
      cp_op2: "__builtin_offsetof(uc_arm64_cp_reg, op2)",
      cp_val: "__builtin_offsetof(uc_arm64_cp_reg, val)",
    });
    assert.deepEqual(got, {
      mmr_size: 24,
      mmr_base: 8,
      mmr_limit: 16,
      mmr_flags: 20,
      msr_size: 16,
      msr_value: 8,
      cp_size: 32,
      cp_crm: 4,
      cp_op0: 8,
      cp_op1: 12,
      cp_op2: 16,
      cp_val: 24,
    });
  },
});
