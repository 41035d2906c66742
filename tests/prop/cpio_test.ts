// Properties of the newc initramfs writer and reader: a reference newc reader written here (from the cpio(5)
// "new ASCII" format) agrees with readCpio on everything writeCpio produces, hostile archives give CpioError
// only, and hostile entries give CpioError only. Runs and seeds: ./_config.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { type CpioEntry, readCpio, writeCpio } from "../../lib/cpio.ts";
import { CpioError } from "../../lib/errors.ts";
import { checkProperty } from "./_config.ts";
import { hostileNumber, mutate, mutationsArb } from "./_arbitraries.ts";
import { timed, tryTyped } from "./_harness.ts";

/** cpio(5) newc, read plainly: "070701", 13 8-digit hex fields, the name (NUL included), data, 4-byte padding. */
function referenceRead(a: Uint8Array) {
  const dec = new TextDecoder();
  const out: {
    name: string;
    mode: number;
    uid: number;
    gid: number;
    mtime: number;
    rdev: [number, number];
    data: Uint8Array;
  }[] = [];
  let at = 0;
  for (;;) {
    const h = dec.decode(a.subarray(at, at + 110));
    assert.equal(h.slice(0, 6), "070701");
    const f = Array.from({ length: 13 }, (_, i) => parseInt(h.slice(6 + 8 * i, 14 + 8 * i), 16));
    const namesize = f[11], filesize = f[6];
    const name = dec.decode(a.subarray(at + 110, at + 110 + namesize - 1));
    const dataAt = at + Math.ceil((110 + namesize) / 4) * 4;
    if (name === "TRAILER!!!") return out;
    out.push({
      name,
      mode: f[1],
      uid: f[2],
      gid: f[3],
      mtime: f[5],
      rdev: [f[9], f[10]],
      data: a.subarray(dataAt, dataAt + filesize),
    });
    at = dataAt + Math.ceil(filesize / 4) * 4;
  }
}

const comp = fc.string({ unit: fc.constantFrom(..."abcxyz019._-".split("")), minLength: 1, maxLength: 5 })
  .filter((c) => c !== "." && c !== "..");
const pathArb = fc.array(comp, { minLength: 1, maxLength: 3 }).map((cs) => cs.join("/"));
const common = {
  mode: fc.nat({ max: 0o7777 }),
  uid: fc.nat({ max: 65535 }),
  gid: fc.nat({ max: 65535 }),
  mtime: fc.nat(),
};
const entryArb: fc.Arbitrary<CpioEntry> = fc.oneof(
  fc.record({
    type: fc.constant("file" as const),
    path: pathArb,
    data: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 20 })),
    ...common,
  }, { requiredKeys: ["type", "path", "data"] }),
  fc.record({ type: fc.constant("dir" as const), path: pathArb, ...common }, { requiredKeys: ["type", "path"] }),
  fc.record({
    type: fc.constant("symlink" as const),
    path: pathArb,
    target: fc.string({ minLength: 1, maxLength: 20 }),
  }),
  fc.record({
    type: fc.constantFrom("char" as const, "block" as const),
    path: pathArb,
    major: fc.nat({ max: 4095 }),
    minor: fc.nat({ max: 0xfffff }),
  }),
);

Deno.test("readCpio lists every archive writeCpio writes exactly as a plain newc reading does", () => {
  checkProperty(
    "cpio read(write(entries)) agrees with the reference reader",
    fc.property(
      fc.array(entryArb, { maxLength: 6 }),
      fc.boolean(),
      fc.constantFrom(4, 512),
      (entries, parents, blockSize) => {
        const w = timed("writeCpio", () => tryTyped(() => writeCpio(entries, { parents, blockSize })));
        if (!w.ok) {
          // Only a path listed twice (or a parent listed after what it holds) is refused here.
          assert.ok(w.error instanceof CpioError && w.error.code === "InvalidPath", w.error.message);
          return;
        }
        assert.equal(w.value.byteLength % blockSize, 0);
        const mine = referenceRead(w.value);
        const theirs = timed("readCpio", () => readCpio(w.value));
        assert.deepEqual(
          theirs.map((r) => ({
            name: r.name,
            mode: r.mode,
            uid: r.uid,
            gid: r.gid,
            mtime: r.mtime,
            rdev: [r.rdevmajor, r.rdevminor],
            data: r.data,
          })),
          mine,
        );
        // Every entry is in the archive under its path, with its bytes.
        const enc = new TextEncoder();
        for (const e of entries) {
          const r = mine.filter((m) => m.name === e.path);
          assert.equal(r.length, 1, e.path);
          if (e.type === "file") assert.deepEqual(r[0].data, typeof e.data === "string" ? enc.encode(e.data) : e.data);
          if (e.type === "symlink") assert.deepEqual(r[0].data, enc.encode(e.target));
          if (e.type === "char" || e.type === "block") assert.deepEqual(r[0].rdev, [e.major, e.minor]);
        }
      },
    ),
  );
});

Deno.test("readCpio on any mutated archive throws only CpioError and finishes", () => {
  checkProperty(
    "cpio mutated archives",
    fc.property(fc.array(entryArb, { maxLength: 4 }), mutationsArb(6), (entries, muts) => {
      const w = tryTyped(() => writeCpio(entries, { parents: true }));
      if (!w.ok) return;
      // Header fields: the 13 hex fields of each member (the first few members), as targets.
      const bad = mutate(w.value, muts, (b) => {
        const fields = [];
        for (let at = 0, n = 0; at + 110 <= b.byteLength && n < 6; n++) {
          for (let i = 0; i < 13; i++) fields.push({ name: "hex", offset: at + 6 + 8 * i, size: 4 as const });
          const ns = parseInt(new TextDecoder().decode(b.subarray(at + 94, at + 102)), 16) || 0;
          const fs = parseInt(new TextDecoder().decode(b.subarray(at + 54, at + 62)), 16) || 0;
          at += Math.ceil((110 + ns) / 4) * 4 + Math.ceil(fs / 4) * 4;
        }
        return { fields, records: [] };
      });
      const r = timed("readCpio", () => tryTyped(() => readCpio(bad)));
      if (!r.ok) assert.ok(r.error instanceof CpioError, r.error.name);
      else for (const m of r.value) assert.ok(m.data.byteOffset + m.data.byteLength <= bad.byteOffset + bad.byteLength);
    }),
  );
});

Deno.test("writeCpio on any hostile entry throws only CpioError", () => {
  const text = fc.string({ maxLength: 12, unit: fc.constantFrom("a", "/", ".", "\0", "é", " ") });
  checkProperty(
    "cpio hostile entries",
    fc.property(
      fc.array(
        fc.record({
          type: fc.constantFrom("file" as const, "dir" as const, "char" as const),
          path: fc.oneof(pathArb, text),
          data: fc.uint8Array({ maxLength: 8 }),
          mode: hostileNumber(fc.nat({ max: 0o7777 })),
          uid: hostileNumber(fc.nat()),
          gid: hostileNumber(fc.nat()),
          mtime: hostileNumber(fc.nat()),
          major: hostileNumber(fc.nat()),
          minor: hostileNumber(fc.nat()),
        }),
        { maxLength: 4 },
      ),
      fc.record({
        mtime: hostileNumber(fc.nat()),
        firstIno: hostileNumber(fc.nat()),
        blockSize: fc.oneof(
          hostileNumber(fc.nat({ max: 1024 })),
          fc.constantFrom(2 ** 20, 2 ** 20 + 4, 2 ** 32, 2 ** 40, 2 ** 52),
        ),
      }),
      (entries, opts) => {
        const r = timed("writeCpio", () => tryTyped(() => writeCpio(entries as CpioEntry[], opts)));
        if (!r.ok) assert.ok(r.error instanceof CpioError, r.error.name);
        else assert.ok(readCpio(r.value).length >= entries.length);
      },
    ),
  );
});
