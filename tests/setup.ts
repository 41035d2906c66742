/**
 * Checks (and, when running as root on Debian, installs) what the demo, the tests and the benchmarks need
 * beyond Deno: the Unicorn engine, a C compiler with the kernel and Xen headers, cross binutils for the
 * entry stubs, QEMU, and the compressors the decoder tests compare against. Without root it prints the
 * exact `apt-get install` command and exits 1.
 *
 * Usage: deno task setup [--for demo|test] [--dry-run]
 *
 * `--dry-run` checks and reports as usual but only simulates the install (`apt-get install --simulate`
 * of every package the purpose needs, so it shows what apt would add); it installs nothing. It is the
 * mode `tests/tasks_test.ts` runs with the task's permissions, so it touches everything a real run
 * touches: the package paths, the user id and apt-get.
 *
 * To add a package: one more entry in {@linkcode needs}, with a path its installation creates.
 *
 * @module
 */

/** What a package is needed for: `deno task demo` or `deno task test` (and fuzz, bench). */
export type Purpose = "demo" | "test";

/** One Debian package the project needs beyond Deno. */
export interface Need {
  /** The Debian package name. */
  pkg: string;
  /** What it is needed for, printed when it is missing. */
  why: string;
  /** Any one of these paths existing means the package is there. */
  paths: string[];
  /** The tasks that need it. */
  for: Purpose[];
}

const BOTH: Purpose[] = ["demo", "test"];
const TEST: Purpose[] = ["test"];

/** The package table: every Debian package a purpose needs, with the paths that show it is installed. */
export function needs(): Need[] {
  return [
    {
      pkg: "libunicorn2",
      why: "the Unicorn CPU emulator",
      paths: [
        "/usr/lib/x86_64-linux-gnu/libunicorn.so.2",
        "/usr/lib/aarch64-linux-gnu/libunicorn.so.2",
        "/usr/lib/libunicorn.so.2",
        "/usr/local/lib/libunicorn.so.2",
      ],
      for: BOTH,
    },
    {
      pkg: "libunicorn-dev",
      why: "Unicorn's headers (register tables)",
      paths: ["/usr/include/unicorn/unicorn.h"],
      for: TEST,
    },
    { pkg: "gcc", why: "the C layout test", paths: ["/usr/bin/gcc"], for: TEST },
    {
      pkg: "linux-libc-dev",
      why: "asm/bootparam.h",
      paths: ["/usr/include/x86_64-linux-gnu/asm/bootparam.h", "/usr/include/asm/bootparam.h"],
      for: TEST,
    },
    {
      pkg: "libxen-dev",
      why: "xen/arch-x86/hvm/start_info.h",
      paths: ["/usr/include/xen/arch-x86/hvm/start_info.h"],
      for: TEST,
    },
    { pkg: "binutils", why: "x86_64 stubs", paths: ["/usr/bin/as"], for: TEST },
    { pkg: "binutils-aarch64-linux-gnu", why: "aarch64 stubs", paths: ["/usr/bin/aarch64-linux-gnu-as"], for: TEST },
    { pkg: "binutils-riscv64-linux-gnu", why: "riscv64 stubs", paths: ["/usr/bin/riscv64-linux-gnu-as"], for: TEST },
    { pkg: "device-tree-compiler", why: "dtc interop tests", paths: ["/usr/bin/dtc"], for: TEST },
    { pkg: "cpio", why: "initramfs writer cross-check", paths: ["/usr/bin/cpio", "/bin/cpio"], for: TEST },
    { pkg: "lz4", why: "LZ4 decoder cross-check", paths: ["/usr/bin/lz4"], for: TEST },
    { pkg: "xz-utils", why: "XZ decoder cross-check", paths: ["/usr/bin/xz"], for: TEST },
    { pkg: "zstd", why: "ZSTD decoder cross-check", paths: ["/usr/bin/zstd"], for: TEST },
    // /usr/bin/lzma alone would not do: xz-utils provides it too (an alternative), writing no size in the header.
    { pkg: "lzma", why: "LZMA decoder cross-check (lzmp)", paths: ["/usr/bin/lzmp"], for: TEST },
    { pkg: "bzip2", why: "BZIP2 decoder cross-check", paths: ["/usr/bin/bzip2"], for: TEST },
    { pkg: "lzop", why: "LZO decoder cross-check", paths: ["/usr/bin/lzop"], for: TEST },
    { pkg: "chromium", why: "the browser test", paths: ["/usr/bin/chromium"], for: TEST },
    {
      pkg: "qemu-system-x86",
      why: "reference boots of real kernels",
      paths: ["/usr/bin/qemu-system-x86_64"],
      for: TEST,
    },
    {
      pkg: "qemu-system-arm",
      why: "reference boots of real kernels",
      paths: ["/usr/bin/qemu-system-aarch64"],
      for: TEST,
    },
    { pkg: "qemu-user", why: "runs the aarch64 /init natively", paths: ["/usr/bin/qemu-aarch64"], for: TEST },
  ];
}

/** Where setup meets the machine; tests replace parts of it. */
export interface SetupHost {
  /** Whether a path exists. Absent is `false`; any other failure (no permission to look) throws. */
  exists(path: string): boolean;
  /** The user id, or `null` where the platform has none. */
  uid(): number | null;
  /** Runs a command with its output on the terminal; resolves to whether it succeeded. */
  run(cmd: string[]): Promise<boolean>;
  /** Prints one line for the user (stderr). */
  log(line: string): void;
}

/** apt-get, whose presence means "a Debian-like system setup knows how to install on". */
export const APT_GET = "/usr/bin/apt-get";

/** The real machine. */
export const HOST: SetupHost = {
  exists(path) {
    try {
      Deno.statSync(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
      throw e;
    }
  },
  uid: () => Deno.uid(),
  async run(cmd) {
    const p = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdout: "inherit",
      stderr: "inherit",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    });
    return (await p.output()).success;
  },
  log: (line) => console.error(line),
};

/** What to do: for which task, and whether only to simulate. */
export interface SetupOptions {
  /** The task whose packages are checked. */
  purpose: Purpose;
  /** Simulate the install (`apt-get install --simulate`) instead of installing. */
  dryRun?: boolean;
}

/** The command that installs `pkgs` (as root), or simulates it. */
export function installCommand(pkgs: readonly string[], dryRun = false): string[] {
  return ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...(dryRun ? ["--simulate"] : []), ...pkgs];
}

/** The line printed for a user who is not root: what to run by hand. */
export function manualInstallLine(pkgs: readonly string[]): string {
  return `  sudo apt-get update && sudo apt-get install -y ${pkgs.join(" ")}`;
}

/**
 * Checks `table` for `opts.purpose` and installs what is missing when it can. Resolves to the exit status:
 * 0 when everything is there (or was installed, or the dry run's simulation succeeded), 1 otherwise.
 */
export async function setup(opts: SetupOptions, table: readonly Need[], host: SetupHost): Promise<number> {
  const wanted = table.filter((n) => n.for.includes(opts.purpose));
  // Every path is looked at (not just up to the first present one), so a run touches them all.
  const isMissing = (n: Need) => !n.paths.map((p) => host.exists(p)).includes(true);
  const missing = wanted.filter(isMissing);
  // Facts first, whether or not anything is missing, so every run needs the same permissions.
  const isRoot = host.uid() === 0;
  const hasApt = host.exists(APT_GET);
  const run = async (cmd: string[]) => {
    host.log(`setup: ${cmd.join(" ")}`);
    return await host.run(cmd);
  };

  if (opts.dryRun) {
    host.log(`setup: missing for ${opts.purpose}: ${missing.map((n) => n.pkg).join(", ") || "nothing"}`);
    if (!hasApt) {
      host.log(`setup: no ${APT_GET}; nothing to simulate`);
      return missing.length === 0 ? 0 : 1;
    }
    return (await run(installCommand(wanted.map((n) => n.pkg), true))) ? 0 : 1;
  }
  if (missing.length === 0) return 0;

  const pkgs = missing.map((n) => n.pkg);
  if (isRoot && hasApt) {
    host.log(`setup: installing ${pkgs.join(", ")} (${missing.map((n) => n.why).join("; ")})`);
    const ok = (await run(["apt-get", "update", "-q"])) && (await run(installCommand(pkgs)));
    const still = missing.filter(isMissing);
    if (!ok || still.length > 0) {
      host.log(`setup: could not install ${(still.length > 0 ? still.map((n) => n.pkg) : pkgs).join(", ")}`);
      return 1;
    }
    return 0;
  }
  host.log(`setup: missing ${missing.map((n) => `${n.pkg} (${n.why})`).join(", ")}.`);
  host.log(`setup: install them with:`);
  host.log(manualInstallLine(pkgs));
  return 1;
}

/** Reads `[--for demo|test] [--dry-run]`; anything else is an error. */
export function parseSetupArgs(args: readonly string[]): SetupOptions {
  const opts: SetupOptions = { purpose: "test" };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--dry-run") opts.dryRun = true;
    else if (args[i] === "--for" && (args[i + 1] === "demo" || args[i + 1] === "test")) {
      opts.purpose = args[++i] as Purpose;
    } else throw new Error(`setup: unknown argument ${args[i]} (usage: setup [--for demo|test] [--dry-run])`);
  }
  return opts;
}

if (import.meta.main) Deno.exit(await setup(parseSetupArgs(Deno.args), needs(), HOST));
