/**
 * extractVmlinux on Debian's amd64 cloud kernel, checked against tools that do not share our code:
 * the LZ4 tool on the payload found by magic (as the kernel's scripts/extract-vmlinux does) and readelf.
 */
import assert from "node:assert/strict";
import { ensureRealKernel } from "../../fixtures/real/fetch.ts";
import { extractVmlinux, findBzImagePayload } from "../../lib/loader/extract.ts";
import { ELF64_EHDR, ELF64_NHDR, ELF64_PHDR, PT_NOTE, XEN_ELFNOTE_PHYS32_ENTRY } from "../../lib/abi/elf.ts";
import { ignoreUnless } from "../_require.ts";

const amd64 = await ensureRealKernel("amd64");
const ignore = amd64 === undefined;
const hasTools = ["/usr/bin/lz4", "/usr/bin/readelf", "/usr/bin/dd"].every((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

let cached: Promise<{ image: Uint8Array; vmlinux: Uint8Array; path: string }> | undefined;
/** Reads the bzImage and extracts it once for all tests in this file; the vmlinux also goes to a temp file. */
function kernel(): Promise<{ image: Uint8Array; vmlinux: Uint8Array; path: string }> {
  cached ??= (async () => {
    const image = await Deno.readFile(amd64!.kernel);
    const vmlinux = await extractVmlinux(image);
    const path = await Deno.makeTempFile({ prefix: "vmlinux-" });
    await Deno.writeFile(path, vmlinux);
    globalThis.addEventListener("unload", () => Deno.removeSync(path));
    return { image, vmlinux, path };
  })();
  return cached;
}

async function sh(script: string, args: string[] = []): Promise<{ stdout: Uint8Array; text: string; code: number }> {
  const out = await new Deno.Command("bash", { args: ["-c", script, "sh", ...args], stdout: "piped", stderr: "null" })
    .output();
  return { stdout: out.stdout, text: new TextDecoder().decode(out.stdout), code: out.code };
}

async function sha256(b: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, "0")).join("");
}

function indexOf(hay: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test({
  name: "Debian's amd64 bzImage has an LZ4 payload where its setup header says",
  ignore: ignoreUnless(!ignore, "the Debian amd64 kernel"),
  async fn() {
    const { image } = await kernel();
    const p = await findBzImagePayload(image);
    assert.equal(p.header.version, 0x020f, "boot protocol 2.15");
    assert.equal(p.compression, "lz4");
    // scripts/extract-vmlinux finds the stream by its magic: the first LZ4 legacy magic in the file.
    assert.equal(p.offset, indexOf(image, [0x02, 0x21, 0x4c, 0x18]));
    // The build appends the decompressed size; the payload ends exactly at the size field.
    const trailer = new DataView(image.buffer, p.offset + p.length - 4, 4).getUint32(0, true);
    assert.ok(trailer > p.length && trailer < p.header.init_size, `size trailer ${trailer}`);
  },
});

Deno.test({
  name: "extractVmlinux of Debian's amd64 bzImage equals lz4 -d of the payload cut out with dd",
  ignore: ignoreUnless(!ignore && hasTools, "lz4, readelf, dd and the Debian amd64 kernel"),
  async fn() {
    const { image, vmlinux } = await kernel();
    const magicAt = indexOf(image, [0x02, 0x21, 0x4c, 0x18]);
    // lz4 exits 1 on the trailing size field ("stream followed by undecodable data") after writing everything.
    const ref = await sh('dd if="$1" bs=1M iflag=skip_bytes skip="$2" status=none | lz4 -d -c', [
      amd64!.kernel,
      String(magicAt),
    ]);
    assert.equal(vmlinux.length, ref.stdout.length);
    assert.equal(await sha256(vmlinux), await sha256(ref.stdout));
  },
});

Deno.test({
  name: "the vmlinux extracted from Debian's amd64 bzImage has the ELF header readelf -h shows",
  ignore: ignoreUnless(!ignore && hasTools, "lz4, readelf, dd and the Debian amd64 kernel"),
  async fn() {
    const { vmlinux, path } = await kernel();
    const text = (await sh('readelf -h "$1"', [path])).text;
    const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(.+)$`, "m").exec(text)?.[1].trim();
    const ehdr = ELF64_EHDR.decode(vmlinux);
    assert.equal(`0x${ehdr.e_entry.toString(16)}`, field("Entry point address"));
    assert.equal(String(ehdr.e_phnum), field("Number of program headers"));
    assert.match(field("Machine") ?? "", /X86-64/);
    assert.match(field("Type") ?? "", /^EXEC/);
  },
});

Deno.test({
  name: "the vmlinux extracted from Debian's amd64 bzImage carries the PVH entry note readelf -n shows",
  ignore: ignoreUnless(!ignore && hasTools, "lz4, readelf, dd and the Debian amd64 kernel"),
  async fn() {
    const { vmlinux, path } = await kernel();
    // Our reading: walk the PT_NOTE segments for a "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY.
    const dv = new DataView(vmlinux.buffer, vmlinux.byteOffset, vmlinux.byteLength);
    const ehdr = ELF64_EHDR.decode(vmlinux);
    let entry: number | undefined;
    for (let i = 0; i < ehdr.e_phnum; i++) {
      const ph = ELF64_PHDR.read(dv, Number(ehdr.e_phoff) + i * ehdr.e_phentsize);
      if (ph.p_type !== PT_NOTE) continue;
      for (let o = Number(ph.p_offset); o + ELF64_NHDR.size <= Number(ph.p_offset + ph.p_filesz);) {
        const n = ELF64_NHDR.read(dv, o);
        const nameAt = o + ELF64_NHDR.size;
        const descAt = nameAt + ((n.n_namesz + 3) & ~3);
        const name = new TextDecoder().decode(vmlinux.subarray(nameAt, nameAt + n.n_namesz));
        if (name === "Xen\0" && n.n_type === XEN_ELFNOTE_PHYS32_ENTRY) entry = dv.getUint32(descAt, true);
        o = descAt + ((n.n_descsz + 3) & ~3);
      }
    }
    assert.notEqual(entry, undefined, "no PHYS32_ENTRY note");
    // readelf's reading: the Xen note of type 0x12 and its description bytes.
    const text = (await sh('readelf -n "$1"', [path])).text;
    const m = /Xen\s+0x[0-9a-f]+\s+Unknown note type: \(0x00000012\)\s+description data: ([0-9a-f ]+)/.exec(text);
    assert.ok(m, "readelf shows no Xen note of type 18");
    const bytes = m[1].trim().split(/\s+/).map((h) => parseInt(h, 16));
    const fromReadelf = bytes.slice(0, 4).reduce((acc, b, i) => acc + b * 2 ** (8 * i), 0);
    assert.equal(entry, fromReadelf);
    assert.ok(entry! >= 0x1000000 && entry! < 0x2000000, `PVH entry ${entry!.toString(16)} lies in .text`);
  },
});
