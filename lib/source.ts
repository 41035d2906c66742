/**
 * Where kernel bytes come from. A {@linkcode KernelSource} has a size and reads a range into a caller's
 * buffer, so a loader can read a file straight into guest memory without holding the whole image.
 * Sources exist for bytes in memory (zero-copy), open Deno files (positioned reads) and Blobs (a browser
 * `File` included). This module never touches `Deno` unless the caller hands it a Deno file.
 *
 * @module
 */

import { describeThrown, hex, LinuxLoaderError, MemoryError, SourceError } from "./errors.ts";

/** A random-access, read-only byte source. */
export interface KernelSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Fills `dest` with the bytes at `[offset, offset + dest.byteLength)`. Rejects with a
   * {@linkcode SourceError} when the range passes the end.
   */
  readInto(offset: number, dest: Uint8Array): Promise<void>;
  /** The whole image when it is already in memory: loaders then copy from it directly. */
  readonly bytes?: Uint8Array;
}

/**
 * Checks that `[offset, offset + len)` lies inside a source of `size` bytes. Throws {@linkcode SourceError}
 * `OffsetPastEnd` when `offset` is past the end, `ShortRead` when the range passes it.
 *
 * @example
 * ```ts
 * import { checkSourceRange, SourceError } from "@linux-loader/linux-loader";
 * checkSourceRange(16, 8, 8); // fits: no error
 * try {
 *   checkSourceRange(16, 8, 9, "header");
 * } catch (e) {
 *   console.log((e as SourceError).code, (e as SourceError).limit); // ShortRead 16
 * }
 * ```
 */
export function checkSourceRange(size: number, offset: number, len: number, what = "read"): void {
  if (!Number.isSafeInteger(size) || !Number.isSafeInteger(offset) || offset < 0 || offset > size) {
    throw new SourceError(
      "OffsetPastEnd",
      `${describeThrown(what)} at offset ${describeThrown(offset)} is past the end of the ${
        describeThrown(size)
      }-byte image`,
      {
        field: what,
        value: offset,
        limit: size,
      },
    );
  }
  if (!Number.isSafeInteger(len) || len < 0 || len > size - offset) {
    throw new SourceError(
      "ShortRead",
      `${describeThrown(what)} of ${describeThrown(len)} bytes at offset ${hex(offset)} passes the end of the ${
        describeThrown(size)
      }-byte image`,
      { field: what, value: offset + len, limit: size },
    );
  }
}

/**
 * A source over bytes already in memory. Reads copy once, straight from `bytes`. Async like
 * {@linkcode fromFile} and {@linkcode fromBlob}, so the three are used alike (every loader also takes the
 * bytes directly).
 *
 * @example
 * ```ts
 * import { fromBytes } from "@linux-loader/linux-loader";
 * const src = await fromBytes(new Uint8Array([1, 2, 3, 4]));
 * const out = new Uint8Array(2);
 * await src.readInto(1, out);
 * console.log(out); // Uint8Array(2) [ 2, 3 ]
 * ```
 */
export function fromBytes(bytes: Uint8Array): Promise<KernelSource> {
  try {
    return Promise.resolve(bytesSource(bytes));
  } catch (e) {
    return Promise.reject(e);
  }
}

// The source of fromBytes and toSource: a class, so toSource knows its own with an instanceof (a load from
// memory makes one per call, and a WeakSet entry each cost more than the rest of a small ELF's plan).
class BytesSource implements KernelSource {
  readonly size: number;
  readonly bytes: Uint8Array;
  // An own function, as before this was a class: it works detached from the source too.
  readonly readInto: (offset: number, dest: Uint8Array) => Promise<void>;
  constructor(bytes: Uint8Array) {
    this.size = bytes.byteLength;
    this.bytes = bytes;
    this.readInto = (offset, dest) => {
      try {
        checkSourceRange(bytes.byteLength, offset, dest.byteLength);
      } catch (e) {
        return Promise.reject(e);
      }
      dest.set(bytes.subarray(offset, offset + dest.byteLength));
      return Promise.resolve();
    };
  }
}

function bytesSource(bytes: Uint8Array): KernelSource {
  if (!(bytes instanceof Uint8Array)) throw invalidSource("fromBytes expects a Uint8Array", bytes);
  return new BytesSource(bytes);
}

/** The part of `Deno.FsFile` a file source needs (so this module does not depend on Deno's types). */
export interface SeekableFile {
  /** Moves the file position; `whence` 0 is from the start. */
  seek(offset: number | bigint, whence: number): Promise<number>;
  /** Reads into `p`, resolving to the count read or null at end of file. */
  read(p: Uint8Array): Promise<number | null>;
  /** File metadata; only `size` is used. */
  stat(): Promise<{ size: number }>;
  /** Optional synchronous {@linkcode SeekableFile.seek} (`Deno.FsFile` has it): positions without a round trip. */
  seekSync?(offset: number | bigint, whence: number): number;
  /** Optional synchronous {@linkcode SeekableFile.read}: used for reads up to `maxBlockingRead` bytes. */
  readSync?(p: Uint8Array): number | null;
  /** Optional synchronous {@linkcode SeekableFile.stat}. */
  statSync?(): { size: number };
}

/** Options of {@linkcode fromFile}. */
export interface FromFileOptions {
  /**
   * Reads of at most this many bytes use the file's synchronous `seekSync` + `readSync` when it has them (and
   * no asynchronous read is in flight); larger ones read asynchronously. Default: no limit, every read is
   * synchronous, as a VMM's loader (and the Rust crate's `Read`) reads: one system call, no trip through the
   * runtime's I/O thread pool and back, which on a busy machine costs a scheduler wait each way (a 14 MB
   * bzImage from the page cache: 2.5 ms synchronous, 10-40 ms asynchronous at load 15 on 2 cores). Pass a
   * small value (64 KiB, say) to keep the event loop free during large reads: headers stay synchronous.
   */
  maxBlockingRead?: number;
}

// Deno's file class, when this runs in Deno (looked up, never required: the module runs in a browser too).
const DENO_FS_FILE = (globalThis as { Deno?: { FsFile?: abstract new (...args: never[]) => unknown } }).Deno?.FsFile;

/**
 * A `Deno.FsFile`'s size as the Rust crate's loaders take it: the offset of its end (one `lseek`). Deno's
 * `statSync` builds a whole `FileInfo` (20 fields, dates) for the one number: 2.5 us warm, 26-33 us right
 * after a 14 MB read has emptied the caches, against 1.2-1.6 us / 7.5-10.6 us for the seek (a block device's
 * `stat` size is 0, its end offset the device's size). Other files, or a seek that fails (a pipe): `undefined`,
 * and the caller asks `stat`.
 */
function sizeByEnd(file: SeekableFile): number | undefined {
  if (DENO_FS_FILE === undefined || !(file instanceof DENO_FS_FILE) || file.seekSync === undefined) return undefined;
  try {
    const end = file.seekSync(0, 2);
    return typeof end === "number" && end > 0 ? end : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A source over an open file (`Deno.FsFile`): each read positions and reads directly into the caller's
 * buffer, so guest memory is filled with no intermediate copy of the image. Reads are serialised (the file
 * position is shared) and use the file's synchronous methods when it has them (`Deno.FsFile` does), up to
 * `options.maxBlockingRead` bytes per read. The size of a `Deno.FsFile` is the offset of its end (as the Rust
 * crate takes it); other files give it by `statSync` or `stat`. Every read seeks first, so the file's position
 * is the source's: after `fromFile` (which seeks to the end) and after each read it is wherever the last seek
 * and read left it; seek before reading the file yourself.
 *
 * @example
 * ```ts ignore
 * import { fromFile } from "@linux-loader/linux-loader";
 * using file = await Deno.open("vmlinux");
 * const src = await fromFile(file);
 * console.log(src.size);
 * ```
 */
export async function fromFile(file: SeekableFile, options: FromFileOptions = {}): Promise<KernelSource> {
  const maxBlockingRead = options.maxBlockingRead ?? Infinity;
  let size: number;
  try {
    size = sizeByEnd(file) ?? (file.statSync !== undefined ? file.statSync().size : (await file.stat()).size);
  } catch (e) {
    throw new SourceError("ReadFailed", `cannot stat the kernel file: ${describeThrown(e)}`, { cause: e });
  }
  const seekSync = file.seekSync?.bind(file), readSync = file.readSync?.bind(file);
  const failed = (e: unknown, offset: number): SourceError =>
    e instanceof SourceError
      ? e
      : new SourceError("ReadFailed", `reading the kernel file at ${hex(offset)} failed: ${describeThrown(e)}`, {
        cause: e,
      });
  const short = (done: number, offset: number, len: number): SourceError =>
    new SourceError("ShortRead", `file ended after ${done} of ${len} bytes at offset ${hex(offset)}`, {
      value: offset + done,
      limit: offset + len,
    });
  // Small read, nothing in flight: synchronous, no promise but the caller's.
  const readAtSync = (offset: number, dest: Uint8Array): void => {
    checkSourceRange(size, offset, dest.byteLength);
    let done = 0;
    try {
      seekSync!(offset, 0);
      while (done < dest.byteLength) {
        const n = readSync!(done === 0 ? dest : dest.subarray(done));
        if (n === null || n === 0) break;
        done += n;
      }
    } catch (e) {
      throw failed(e, offset);
    }
    if (done < dest.byteLength) throw short(done, offset, dest.byteLength);
  };
  const readAt = async (offset: number, dest: Uint8Array): Promise<void> => {
    checkSourceRange(size, offset, dest.byteLength);
    let done = 0;
    try {
      if (seekSync !== undefined) seekSync(offset, 0);
      else await file.seek(offset, 0);
      while (done < dest.byteLength) {
        const n = await file.read(done === 0 ? dest : dest.subarray(done));
        if (n === null || n === 0) break;
        done += n;
      }
    } catch (e) {
      throw failed(e, offset);
    }
    if (done < dest.byteLength) throw short(done, offset, dest.byteLength);
  };
  // Serialise reads: positioning + reading is not atomic on a shared file position.
  let queue: Promise<void> = Promise.resolve();
  let inFlight = 0;
  const settle = (): void => {
    inFlight--;
  };
  if (!Number.isSafeInteger(size) || size < 0) throw invalidSource("the file's stat() size is not a byte count", size);
  const src: KernelSource = {
    size,
    readInto(offset: number, dest: Uint8Array): Promise<void> {
      if (inFlight === 0 && readSync !== undefined && seekSync !== undefined && dest.byteLength <= maxBlockingRead) {
        try {
          readAtSync(offset, dest);
          return Promise.resolve();
        } catch (e) {
          return Promise.reject(e);
        }
      }
      inFlight++;
      const p = queue.then(() => readAt(offset, dest));
      queue = p.then(settle, settle);
      return p;
    },
  };
  if (readSync !== undefined && seekSync !== undefined && maxBlockingRead >= STREAM_READ_MIN) {
    SYNC_READERS.set(src, {
      idle: () => inFlight === 0,
      read: (offset, dest) => {
        if (inFlight > 0) {
          throw new SourceError("ReadFailed", `a synchronous read at ${hex(offset)} would race an asynchronous one`, {
            value: offset,
          });
        }
        readAtSync(offset, dest);
      },
    });
  }
  return trusted(src);
}

/**
 * Reads of a streamed decoder's input window: a file source allows synchronous reads of this size (its
 * `maxBlockingRead`) for {@linkcode syncReader} to offer them.
 */
const STREAM_READ_MIN = 2 << 20;
const SYNC_READERS = new WeakMap<
  KernelSource,
  { idle: () => boolean; read: (offset: number, dest: Uint8Array) => void }
>();

/**
 * A synchronous positioned read of `src` (checked, errors as its `readInto`'s), when it has one: a
 * {@linkcode fromFile} source over a file with `seekSync` and `readSync` whose `maxBlockingRead` allows 2 MiB
 * reads. What a synchronous decoder streams its input with. Internal: `mod.ts` does not re-export it.
 */
export function syncReader(src: KernelSource): ((offset: number, dest: Uint8Array) => void) | undefined {
  const r = SYNC_READERS.get(src);
  // Not while an asynchronous read is in flight (the file position is shared); a reader kept for later
  // refuses to read while one is (ReadFailed).
  return r !== undefined && r.idle() ? r.read : undefined;
}

/**
 * A source over a Blob (a browser `File` too). Each read slices the blob and copies once.
 *
 * @example
 * ```ts
 * import { fromBlob } from "@linux-loader/linux-loader";
 * const src = await fromBlob(new Blob([new Uint8Array([7, 8, 9])]));
 * const out = new Uint8Array(1);
 * await src.readInto(2, out);
 * console.log(out[0]); // 9
 * ```
 */
export function fromBlob(blob: Blob): Promise<KernelSource> {
  if (!(blob instanceof Blob)) return Promise.reject(invalidSource("fromBlob expects a Blob", blob));
  return Promise.resolve(trusted({
    size: blob.size,
    async readInto(offset: number, dest: Uint8Array): Promise<void> {
      checkSourceRange(blob.size, offset, dest.byteLength);
      let buf: ArrayBuffer;
      try {
        buf = await blob.slice(offset, offset + dest.byteLength).arrayBuffer();
      } catch (e) {
        throw new SourceError("ReadFailed", `reading the blob at ${hex(offset)} failed: ${describeThrown(e)}`, {
          cause: e,
        });
      }
      if (buf.byteLength !== dest.byteLength) {
        throw new SourceError(
          "ShortRead",
          `blob returned ${buf.byteLength} of ${dest.byteLength} bytes at ${hex(offset)}`,
          {
            value: buf.byteLength,
            limit: dest.byteLength,
          },
        );
      }
      dest.set(new Uint8Array(buf));
    },
  }));
}

/**
 * Reads `len` bytes at `offset` into a new buffer (errors as {@linkcode checkSourceRange}).
 *
 * @example
 * ```ts
 * import { fromBytes, readBytes } from "@linux-loader/linux-loader";
 * console.log(await readBytes(await fromBytes(new Uint8Array([1, 2, 3, 4])), 2, 2)); // Uint8Array(2) [ 3, 4 ]
 * ```
 */
export async function readBytes(input: KernelSource, offset: number, len: number): Promise<Uint8Array> {
  const src = toSource(input);
  checkSourceRange(src.size, offset, len);
  let out: Uint8Array;
  try {
    out = new Uint8Array(len);
  } catch (e) {
    throw new MemoryError("AllocationFailed", `cannot allocate ${len} bytes to read the source at ${hex(offset)}`, {
      field: "length",
      value: len,
      cause: e,
    });
  }
  if (src.bytes !== undefined) out.set(src.bytes.subarray(offset, offset + len));
  else await src.readInto(offset, out);
  return out;
}

/**
 * Accepts a source or plain bytes (as loaders do) and returns a source.
 *
 * @example
 * ```ts
 * import { toSource } from "@linux-loader/linux-loader";
 * const src = toSource(new Uint8Array(8));
 * console.log(src.size, toSource(src) === src); // 8 true
 * ```
 */
export function toSource(input: KernelSource | Uint8Array): KernelSource {
  if (input instanceof Uint8Array) return bytesSource(input);
  if (typeof input !== "object" || input === null) {
    throw invalidSource("expected a KernelSource or a Uint8Array", input);
  }
  if (input instanceof BytesSource || TRUSTED.has(input)) return input;
  return guarded(input);
}

// The sources made here: their sizes are checked and every failure is already a SourceError.
const TRUSTED = new WeakSet<object>();

function trusted(src: KernelSource): KernelSource {
  TRUSTED.add(src);
  return src;
}

function invalidSource(why: string, value: unknown): SourceError {
  const shown = typeof value === "object" && value !== null ? "an object" : describeThrown(value);
  return new SourceError("InvalidSource", `${why}, got ${typeof value === "string" ? JSON.stringify(shown) : shown}`, {
    field: "source",
    value: typeof value === "number" ? value : typeof value,
  });
}

/**
 * A caller's own source, held to the contract: its `size` (and `bytes`, if any) read and checked once, every
 * read range-checked before it reaches the source, and whatever the source throws or rejects with (an
 * `Error`, a string, `undefined`) turned into a {@linkcode SourceError} `ReadFailed` with the original as
 * `cause`; the library's own typed errors pass through.
 */
function guarded(src: KernelSource): KernelSource {
  let size: unknown, bytes: unknown, readInto: unknown;
  try {
    size = src.size;
    bytes = src.bytes;
    readInto = src.readInto;
  } catch (e) {
    throw new SourceError("InvalidSource", `reading the source's size failed: ${describeThrown(e)}`, { cause: e });
  }
  // A size that is no byte count is kept as it is (a number, or NaN for anything else): every loader
  // reports it with its own code (the crate's SeekElfStart, SeekBzImageEnd, ...) and no read can pass it.
  if (typeof size !== "number") size = Number.NaN;
  if (typeof readInto !== "function") throw invalidSource("the source has no readInto function", readInto);
  const sized = Number.isSafeInteger(size) && (size as number) >= 0;
  if (sized && bytes !== undefined && (!(bytes instanceof Uint8Array) || bytes.byteLength < (size as number))) {
    throw invalidSource(`the source's bytes are not a Uint8Array of at least its ${size} bytes`, bytes);
  }
  const n = size as number;
  const read = readInto as KernelSource["readInto"];
  const fail = (e: unknown, offset: number): never => {
    if (e instanceof LinuxLoaderError) throw e;
    throw new SourceError("ReadFailed", `the source failed to read at ${hex(offset)}: ${describeThrown(e)}`, {
      value: offset,
      cause: e,
    });
  };
  const out: KernelSource = {
    size: n,
    async readInto(offset: number, dest: Uint8Array): Promise<void> {
      checkSourceRange(n, offset, dest.byteLength);
      try {
        await read.call(src, offset, dest);
      } catch (e) {
        fail(e, offset);
      }
    },
  };
  if (sized && bytes !== undefined) (out as { bytes?: Uint8Array }).bytes = (bytes as Uint8Array).subarray(0, n);
  return trusted(out);
}

/**
 * Converts a 64-bit header value to a number, or throws {@linkcode SourceError} `UnsafeInteger` naming
 * `field` when it is above 2^53 - 1 (or negative).
 *
 * @example
 * ```ts
 * import { toSafeNumber } from "@linux-loader/linux-loader";
 * console.log(toSafeNumber(0x1000000n, "p_paddr")); // 16777216
 * try {
 *   toSafeNumber(2n ** 60n, "p_paddr");
 * } catch (e) {
 *   console.log((e as { code: string }).code); // UnsafeInteger
 * }
 * ```
 */
export function toSafeNumber(v: bigint, field: string): number {
  if (typeof field !== "string") field = describeThrown(field);
  if (typeof v !== "bigint" || v > BigInt(Number.MAX_SAFE_INTEGER) || v < 0n) {
    throw new SourceError(
      "UnsafeInteger",
      `${field} = ${hex(v)} is above the largest exact integer ${hex(Number.MAX_SAFE_INTEGER)}`,
      {
        field,
        value: v,
        limit: Number.MAX_SAFE_INTEGER,
      },
    );
  }
  return Number(v);
}
