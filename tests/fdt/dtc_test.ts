// Interop with the reference compiler: dtc (Debian device-tree-compiler) decompiles every blob we build,
// and our reader parses blobs dtc compiled; decompiling both sides gives the same source, property by
// property.
import assert from "node:assert/strict";
import { buildFdt, buildVmFdt, FdtBuilder, readFdt } from "../../lib/fdt/mod.ts";
import { GuestMemory } from "../../lib/memory.ts";

function dtcAvailable(): boolean {
  try {
    return Deno.statSync("/usr/bin/dtc").isFile;
  } catch {
    return false;
  }
}

const HAVE_DTC = dtcAvailable();
const ON_CI = (() => {
  try {
    return Deno.env.get("CI") === "true";
  } catch {
    return false;
  }
})();

function dtcTest(name: string, fn: () => Promise<void>): void {
  if (HAVE_DTC) Deno.test(name, fn);
  else if (ON_CI) Deno.test(name, () => assert.fail("CI=true and dtc (device-tree-compiler) is missing"));
  else Deno.test({ name, ignore: true, fn });
}

async function dtc(args: string[], input: Uint8Array): Promise<{ out: Uint8Array; err: string }> {
  const p = new Deno.Command("dtc", { args: ["-q", ...args, "-"], stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(input);
  await w.close();
  const o = await p.output();
  const err = new TextDecoder().decode(o.stderr);
  assert.ok(o.success, `dtc ${args.join(" ")} failed: ${err}`);
  return { out: o.stdout, err };
}

async function toDts(dtb: Uint8Array): Promise<string> {
  return new TextDecoder().decode((await dtc(["-I", "dtb", "-O", "dts"], dtb)).out);
}

async function toDtb(dts: string): Promise<Uint8Array> {
  return (await dtc(["-I", "dts", "-O", "dtb"], new TextEncoder().encode(dts))).out;
}

function blobs(): [string, Uint8Array][] {
  const arm = GuestMemory.fromRanges([[0x4000_0000, 256 << 20], [0x1_0000_0000, 64 << 20]]);
  const rv = GuestMemory.fromRanges([[0x8000_0000, 128 << 20]]);
  const b = new FdtBuilder({ bootCpuidPhys: 1 });
  b.addReservation(0x1000, 0x2000);
  b.beginNode("");
  b.propertyU32("u32", 7);
  b.propertyU64("u64", 0x1_2345_6789n);
  b.propertyStringList("strings", ["one", "two", "three"]);
  b.property("bytes", new Uint8Array([1, 2, 3]));
  b.propertyEmpty("empty");
  b.beginNode("child@1");
  b.propertyU32("reg", 1);
  b.endNode();
  b.endNode();
  return [
    [
      "arm64 VM with GIC, timer, initrd and a reservation",
      buildVmFdt(arm, {
        arch: "aarch64",
        bootargs: "console=ttyAMA0 earlycon root=/dev/vda rw",
        gic: true,
        cpus: 4,
        initrd: { start: 0x4800_0000, end: 0x4820_0000 },
        reservations: [{ address: 0x4400_0000n, size: 0x1000n }],
      }),
    ],
    ["riscv64 VM with two harts", buildVmFdt(rv, { arch: "riscv64", bootargs: "console=ttyS0", cpus: 2 })],
    ["every property type", b.finish()],
  ];
}

for (const [what, dtb] of blobs()) {
  dtcTest(`dtc decompiles our ${what} without a warning`, async () => {
    const { err } = await dtc(["-I", "dtb", "-O", "dts"], dtb);
    assert.equal(err, "");
  });

  dtcTest(`dtc and readFdt agree on every property of our ${what}`, async () => {
    // dtc reads our blob and writes its own; our reader must find the same tree in both.
    const again = await toDtb(await toDts(dtb));
    const ours = readFdt(dtb);
    const theirs = readFdt(again);
    assert.deepEqual(theirs.root, ours.root);
    assert.deepEqual(theirs.reservations, ours.reservations);
    // A source file does not carry boot_cpuid_phys: check it through a blob-to-blob pass instead.
    const direct = readFdt((await dtc(["-I", "dtb", "-O", "dtb"], dtb)).out);
    assert.equal(direct.bootCpuidPhys, ours.bootCpuidPhys);
    assert.deepEqual(direct.root, ours.root);
  });
}

const DTS = `/dts-v1/;
/memreserve/ 0x48000000 0x100000;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "acme,board", "acme,soc";
	interrupt-parent = <&gic>;

	gic: interrupt-controller@8000000 {
		compatible = "arm,cortex-a15-gic";
		#interrupt-cells = <3>;
		interrupt-controller;
		reg = <0 0x8000000 0 0x10000>, <0 0x8010000 0 0x10000>;
	};

	memory@40000000 {
		device_type = "memory";
		reg = <0x0 0x40000000 0x0 0x20000000>;
	};

	chosen {
		bootargs = "console=ttyAMA0 loglevel=8";
		linux,initrd-start = /bits/ 64 <0x48000000>;
		linux,initrd-end = /bits/ 64 <0x48100000>;
		mac = [00 11 22 33 44 55];
		bits8 = /bits/ 8 <1 2 3>;
	};
};
`;

dtcTest("readFdt parses a blob dtc compiled from source, with labels resolved to phandles", async () => {
  const t = readFdt(await toDtb(DTS));
  assert.deepEqual(t.reservations, [{ address: 0x4800_0000n, size: 0x10_0000n }]);
  const chosen = t.root.children.find((c) => c.name === "chosen")!;
  const bootargs = chosen.properties.find((p) => p.name === "bootargs")!;
  assert.equal(new TextDecoder().decode(bootargs.value), "console=ttyAMA0 loglevel=8\0");
  const gic = t.root.children.find((c) => c.name === "interrupt-controller@8000000")!;
  const phandle = gic.properties.find((p) => p.name === "phandle")!.value;
  const parent = t.root.properties.find((p) => p.name === "interrupt-parent")!.value;
  assert.deepEqual(parent, phandle);
});

dtcTest("a dtc blob read by readFdt and rewritten by buildFdt decompiles to the same source", async () => {
  const original = await toDtb(DTS);
  const rewritten = buildFdt(readFdt(original));
  assert.equal(await toDts(rewritten), await toDts(original));
});
