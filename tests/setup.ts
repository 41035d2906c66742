/**
 * Checks (and, when running as root on Debian, installs) what the tests, the demo and the benchmarks need
 * beyond Deno: the Unicorn engine, a C compiler with the kernel and Xen headers, cross binutils for the
 * entry stubs, dtc and lz4. Without root it prints the exact apt-get command and exits 1.
 *
 * Usage: deno run --allow-read --allow-run --allow-env tests/setup.ts [--for demo|test]
 */

interface Need {
  pkg: string;
  why: string;
  /** Any one of these paths existing means the package is there. */
  paths: string[];
  for: ("demo" | "test")[];
}

const NEEDS: Need[] = [
  {
    pkg: "libunicorn2",
    why: "the Unicorn CPU emulator",
    paths: [
      "/usr/lib/x86_64-linux-gnu/libunicorn.so.2",
      "/usr/lib/aarch64-linux-gnu/libunicorn.so.2",
      "/usr/lib/libunicorn.so.2",
      "/usr/local/lib/libunicorn.so.2",
    ],
    for: ["demo", "test"],
  },
  {
    pkg: "libunicorn-dev",
    why: "Unicorn's headers (register tables)",
    paths: ["/usr/include/unicorn/unicorn.h"],
    for: ["test"],
  },
  { pkg: "gcc", why: "the C layout test", paths: ["/usr/bin/gcc"], for: ["test"] },
  {
    pkg: "linux-libc-dev",
    why: "asm/bootparam.h",
    paths: ["/usr/include/x86_64-linux-gnu/asm/bootparam.h", "/usr/include/asm/bootparam.h"],
    for: ["test"],
  },
  {
    pkg: "libxen-dev",
    why: "xen/arch-x86/hvm/start_info.h",
    paths: ["/usr/include/xen/arch-x86/hvm/start_info.h"],
    for: ["test"],
  },
  { pkg: "binutils", why: "x86_64 stubs", paths: ["/usr/bin/as"], for: ["test"] },
  { pkg: "binutils-aarch64-linux-gnu", why: "aarch64 stubs", paths: ["/usr/bin/aarch64-linux-gnu-as"], for: ["test"] },
  { pkg: "binutils-riscv64-linux-gnu", why: "riscv64 stubs", paths: ["/usr/bin/riscv64-linux-gnu-as"], for: ["test"] },
  { pkg: "device-tree-compiler", why: "dtc interop tests", paths: ["/usr/bin/dtc"], for: ["test"] },
  { pkg: "lz4", why: "LZ4 decoder cross-check", paths: ["/usr/bin/lz4"], for: ["test"] },
  { pkg: "cpio", why: "initramfs writer cross-check", paths: ["/usr/bin/cpio", "/bin/cpio"], for: ["test"] },
  {
    pkg: "qemu-system-x86",
    why: "reference boots of real kernels",
    paths: ["/usr/bin/qemu-system-x86_64"],
    for: ["test"],
  },
  {
    pkg: "qemu-system-arm",
    why: "reference boots of real kernels",
    paths: ["/usr/bin/qemu-system-aarch64"],
    for: ["test"],
  },
  { pkg: "qemu-user", why: "runs the aarch64 /init natively", paths: ["/usr/bin/qemu-aarch64"], for: ["test"] },
];

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string[]): Promise<boolean> {
  console.error(`setup: ${cmd.join(" ")}`);
  const p = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "inherit",
    stderr: "inherit",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  });
  return (await p.output()).success;
}

const forIdx = Deno.args.indexOf("--for");
const purpose = (forIdx >= 0 ? Deno.args[forIdx + 1] : "test") as "demo" | "test";
const missing = NEEDS.filter((n) => n.for.includes(purpose) && !n.paths.some(exists));

if (missing.length > 0) {
  const pkgs = missing.map((n) => n.pkg);
  const isRoot = Deno.uid?.() === 0;
  const hasApt = exists("/usr/bin/apt-get");
  if (isRoot && hasApt) {
    console.error(`setup: installing ${pkgs.join(", ")} (${missing.map((n) => n.why).join("; ")})`);
    const ok = (await run(["apt-get", "update", "-q"])) &&
      (await run(["apt-get", "install", "-y", "-q", "--no-install-recommends", ...pkgs]));
    const still = missing.filter((n) => !n.paths.some(exists));
    if (!ok || still.length > 0) {
      console.error(`setup: could not install ${still.map((n) => n.pkg).join(", ") || pkgs.join(", ")}`);
      Deno.exit(1);
    }
  } else {
    console.error(`setup: missing ${missing.map((n) => `${n.pkg} (${n.why})`).join(", ")}.`);
    console.error(`setup: install them with:\n  sudo apt-get update && sudo apt-get install -y ${pkgs.join(" ")}`);
    Deno.exit(1);
  }
}
