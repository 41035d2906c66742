import assert from "node:assert/strict";
import { fromBlob, fromBytes, fromFile, readBytes, SourceError, toSafeNumber } from "../mod.ts";

const data = Uint8Array.from({ length: 256 }, (_, i) => i);

async function rejectsCode(p: Promise<unknown>, code: string): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected SourceError ${code}`);
}

Deno.test("fromBytes reads a range and exposes the bytes without a copy", async () => {
  const src = await fromBytes(data);
  assert.equal(src.size, 256);
  assert.equal(src.bytes, data);
  const out = new Uint8Array(4);
  await src.readInto(10, out);
  assert.deepEqual([...out], [10, 11, 12, 13]);
});

Deno.test("fromBytes rejects an offset past the end", async () => {
  const e = await rejectsCode((await fromBytes(data)).readInto(257, new Uint8Array(1)), "OffsetPastEnd");
  assert.equal(e.limit, 256);
});

Deno.test("fromBytes rejects a read that runs past the end", async () => {
  const e = await rejectsCode((await fromBytes(data)).readInto(250, new Uint8Array(8)), "ShortRead");
  assert.equal(e.value, 258);
});

Deno.test("fromBlob reads a range of a Blob", async () => {
  const src = await fromBlob(new Blob([data]));
  const out = new Uint8Array(3);
  await src.readInto(253, out);
  assert.deepEqual([...out], [253, 254, 255]);
});

Deno.test("fromBlob rejects a read past the end", async () => {
  await rejectsCode((await fromBlob(new Blob([data]))).readInto(255, new Uint8Array(2)), "ShortRead");
});

Deno.test("fromFile reads ranges with positioned reads", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, data);
    using file = await Deno.open(path);
    const src = await fromFile(file);
    assert.equal(src.size, 256);
    assert.equal(src.bytes, undefined);
    const a = new Uint8Array(2), b = new Uint8Array(2);
    await Promise.all([src.readInto(200, a), src.readInto(5, b)]);
    assert.deepEqual([...a, ...b], [200, 201, 5, 6]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("fromFile takes a Deno file's size from its end (no stat), any other file's from stat", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, data);
    using file = await Deno.open(path);
    // statSync made to fail: a Deno.FsFile's size must not need it (one lseek, as the Rust crate seeks to End).
    Object.defineProperty(file, "statSync", { value: () => assert.fail("statSync called") });
    Object.defineProperty(file, "stat", { value: () => assert.fail("stat called") });
    const src = await fromFile(file);
    assert.equal(src.size, 256);
    const out = new Uint8Array(3);
    await src.readInto(253, out); // the position left at the end does not matter: every read seeks
    assert.deepEqual([...out], [253, 254, 255]);
    // An empty file ends at 0: stat is asked (and agrees).
    await Deno.writeFile(path, new Uint8Array(0));
    using empty = await Deno.open(path);
    assert.equal((await fromFile(empty)).size, 0);
  } finally {
    await Deno.remove(path);
  }
  // A file of the caller's own (whose seek may know only whence 0) is sized by stat, never by seeking.
  let seeks = 0;
  const own = {
    stat: () => Promise.resolve({ size: 10 }),
    seek: () => Promise.resolve(seeks++),
    seekSync: () => seeks++,
    read: () => Promise.resolve(null),
  };
  assert.equal((await fromFile(own)).size, 10);
  assert.equal(seeks, 0);
});

Deno.test("fromFile reports a file that shrank as a short read", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, data);
    using file = await Deno.open(path, { read: true, write: true });
    const src = await fromFile(file);
    await file.truncate(100);
    const e = await rejectsCode(src.readInto(90, new Uint8Array(20)), "ShortRead");
    assert.equal(e.value, 100);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("fromFile wraps an I/O failure in a typed error", async () => {
  const broken = {
    stat: () => Promise.resolve({ size: 10 }),
    seek: () => Promise.reject(new Error("disk on fire")),
    read: () => Promise.resolve(null),
  };
  const src = await fromFile(broken);
  const e = await rejectsCode(src.readInto(0, new Uint8Array(1)), "ReadFailed");
  assert.match(e.message, /disk on fire/);
});

Deno.test("fromFile wraps a failing stat in a typed error", async () => {
  const broken = {
    stat: () => Promise.reject(new Error("gone")),
    seek: () => Promise.resolve(0),
    read: () => Promise.resolve(null),
  };
  await rejectsCode(fromFile(broken), "ReadFailed");
});

Deno.test("readBytes returns a copy of a range", async () => {
  const out = await readBytes(await fromBytes(data), 1, 2);
  out[0] = 99;
  assert.equal(data[1], 1);
});

Deno.test("toSafeNumber converts up to 2^53 - 1 and rejects above", () => {
  assert.equal(toSafeNumber(2n ** 53n - 1n, "p_paddr"), Number.MAX_SAFE_INTEGER);
  let caught: unknown;
  try {
    toSafeNumber(2n ** 53n, "p_paddr");
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SourceError);
  assert.equal(caught.code, "UnsafeInteger");
  assert.equal(caught.field, "p_paddr");
  assert.match(caught.message, /p_paddr = 0x20000000000000/);
});

Deno.test("fromFile with maxBlockingRead serves a large asynchronous read and small reads beside it in order", async () => {
  const path = await Deno.makeTempFile();
  try {
    const big = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 7) & 0xff);
    await Deno.writeFile(path, big);
    using file = await Deno.open(path);
    const src = await fromFile(file, { maxBlockingRead: 64 * 1024 });
    const head = new Uint8Array(16), body = new Uint8Array(500_000), tail = new Uint8Array(16);
    await Promise.all([src.readInto(0, head), src.readInto(50_000, body), src.readInto(599_984, tail)]);
    assert.deepEqual(head, big.subarray(0, 16));
    assert.deepEqual(body, big.subarray(50_000, 550_000));
    assert.deepEqual(tail, big.subarray(599_984));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("fromFile wraps a failing synchronous read in a typed error", async () => {
  const broken = {
    statSync: () => ({ size: 10 }),
    stat: () => Promise.resolve({ size: 10 }),
    seekSync: () => 0,
    seek: () => Promise.resolve(0),
    readSync: (): number | null => {
      throw new Error("bad sector");
    },
    read: () => Promise.resolve(null),
  };
  const e = await rejectsCode((await fromFile(broken)).readInto(0, new Uint8Array(4)), "ReadFailed");
  assert.match(e.message, /bad sector/);
});
