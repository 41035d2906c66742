/**
 * cpio "newc" archives, the format Linux unpacks as an initramfs (`Documentation/driver-api/early-userspace/
 * buffer-format.rst`, `init/initramfs.c`). Each member is a 110-byte ASCII header — the magic "070701"
 * and thirteen 8-digit hexadecimal fields — then the NUL-terminated name padded to a multiple of four
 * bytes, then the data padded likewise. A member named "TRAILER!!!" ends the archive.
 *
 * {@linkcode writeCpio} builds an archive from files, directories, symlinks and device nodes (owner 0:0,
 * mtime 0 unless given, inodes numbered from 1); {@linkcode readCpio} lists one back.
 *
 * @module
 */

import { CpioError } from "./errors.ts";
import { requireBytes, requireObject, requireObjects } from "./guard.ts";

/**
 * Magic of a newc header ("new ASCII" format, no checksum).
 *
 * @example
 * ```ts
 * import { CPIO_NEWC_MAGIC } from "@linux-loader/linux-loader/abi";
 * console.log(CPIO_NEWC_MAGIC); // 070701
 * ```
 */
export const CPIO_NEWC_MAGIC = "070701";
/**
 * Size of a newc header: 6 magic bytes and 13 fields of 8 hexadecimal digits.
 *
 * @example
 * ```ts
 * import { CPIO_NEWC_HEADER_SIZE } from "@linux-loader/linux-loader/abi";
 * console.log(CPIO_NEWC_HEADER_SIZE); // 110
 * ```
 */
export const CPIO_NEWC_HEADER_SIZE = 110;
/**
 * Name of the member that ends an archive.
 *
 * @example
 * ```ts
 * import { CPIO_TRAILER } from "@linux-loader/linux-loader/abi";
 * console.log(CPIO_TRAILER); // TRAILER!!!
 * ```
 */
export const CPIO_TRAILER = "TRAILER!!!";

/**
 * File type bits of `st_mode` (`<sys/stat.h>`).
 *
 * @example
 * ```ts
 * import { S_IFMT } from "@linux-loader/linux-loader/abi";
 * console.log(S_IFMT.toString(16)); // f000
 * ```
 */
export const S_IFMT = 0o170000;
/**
 * Regular file.
 *
 * @example
 * ```ts
 * import { S_IFREG } from "@linux-loader/linux-loader/abi";
 * console.log(S_IFREG.toString(16)); // 8000
 * ```
 */
export const S_IFREG = 0o100000;
/**
 * Directory.
 *
 * @example
 * ```ts
 * import { S_IFDIR } from "@linux-loader/linux-loader/abi";
 * console.log(S_IFDIR.toString(16)); // 4000
 * ```
 */
export const S_IFDIR = 0o040000;
/**
 * Symbolic link.
 *
 * @example
 * ```ts
 * import { S_IFLNK } from "@linux-loader/linux-loader/abi";
 * console.log(S_IFLNK.toString(16)); // a000
 * ```
 */
export const S_IFLNK = 0o120000;
/**
 * Character device.
 *
 * @example
 * ```ts
 * import { S_IFCHR } from "@linux-loader/linux-loader/abi";
 * console.log(S_IFCHR.toString(16)); // 2000
 * ```
 */
export const S_IFCHR = 0o020000;
/**
 * Block device.
 *
 * @example
 * ```ts
 * import { S_IFBLK } from "@linux-loader/linux-loader/abi";
 * console.log(S_IFBLK.toString(16)); // 6000
 * ```
 */
export const S_IFBLK = 0o060000;

/** Fields every kind of entry may set. */
export interface CpioCommon {
  /** Path inside the archive; a leading "/" or "./" is dropped ("/init" is stored as "init"). */
  path: string;
  /** Permission bits (at most 0o7777). Defaults: file 0o644, directory 0o755, symlink 0o777, device 0o600. */
  mode?: number;
  /** Owner; defaults to 0 (root). */
  uid?: number;
  /** Group; defaults to 0. */
  gid?: number;
  /** Modification time in seconds since 1970; defaults to the archive's `mtime` option, itself 0. */
  mtime?: number;
}

/** A regular file. */
export interface CpioFile extends CpioCommon {
  /** Kind of entry. */
  type: "file";
  /** Contents; a string is stored as UTF-8. */
  data: Uint8Array | string;
}

/** A directory. */
export interface CpioDirectory extends CpioCommon {
  /** Kind of entry. */
  type: "dir";
}

/** A symbolic link. */
export interface CpioSymlink extends CpioCommon {
  /** Kind of entry. */
  type: "symlink";
  /** Where the link points (stored as the member's data). */
  target: string;
}

/** A character or block device node, e.g. `/dev/console` (char 5:1). */
export interface CpioDevice extends CpioCommon {
  /** Kind of entry. */
  type: "char" | "block";
  /** Device major number. */
  major: number;
  /** Device minor number. */
  minor: number;
}

/** One member of an archive being written. */
export type CpioEntry = CpioFile | CpioDirectory | CpioSymlink | CpioDevice;

/** Options of {@linkcode writeCpio}. */
export interface CpioWriteOptions {
  /** Default mtime of every entry. Defaults to 0, for reproducible archives. */
  mtime?: number;
  /** Inode number of the first member; later members count up. Defaults to 1. */
  firstIno?: number;
  /** Add missing parent directories (mode 0o755) before an entry that needs them. Defaults to true. */
  parents?: boolean;
  /** Pad the archive's end with zeros to a multiple of this many bytes (GNU cpio uses 512). Defaults to 4. */
  blockSize?: number;
}

/** One member as {@linkcode readCpio} returns it. */
export interface CpioRecord {
  /** Name as stored. */
  name: string;
  /** Inode number. */
  ino: number;
  /** Full `st_mode`: type bits and permissions. */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Link count. */
  nlink: number;
  /** Modification time, seconds. */
  mtime: number;
  /** Device of the file system (major, minor). */
  devmajor: number;
  /** Device of the file system (minor). */
  devminor: number;
  /** For device nodes: the device's major number. */
  rdevmajor: number;
  /** For device nodes: the device's minor number. */
  rdevminor: number;
  /** Contents (a symlink's target for links), a view into the archive. */
  data: Uint8Array;
}

const MAX_U32 = 0xffffffff;
const MAX_BLOCK_SIZE = 1 << 20;
const enc = new TextEncoder();

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function checkU32(field: string, value: number, path: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_U32) {
    throw new CpioError("FieldOverflow", `${path}: ${field} ${String(value)} does not fit in a 32-bit newc field`, {
      field,
      value,
      limit: MAX_U32,
    });
  }
  return value;
}

/** Drops a leading "/" or "./" and checks what is left. */
function normalisePath(path: string): string {
  const p = path.replace(/^(\.?\/)+/, "").replace(/\/+$/, "");
  const bad = p === "" || p.includes("\0") || p.split("/").some((c) => c === ".." || c === "." || c === "") ||
    p === CPIO_TRAILER;
  if (bad) {
    throw new CpioError("InvalidPath", `"${path}" is not a valid archive path`, { field: "path", value: path });
  }
  return p;
}

/**
 * Writes a newc archive holding `entries`, in order, then the trailer.
 *
 * @example An initramfs with a /dev/console and an /init
 * ```ts
 * import { writeCpio } from "@linux-loader/linux-loader";
 * const cpio = writeCpio([
 *   { type: "char", path: "/dev/console", major: 5, minor: 1 },
 *   { type: "file", path: "/init", mode: 0o755, data: "#!/bin/sh\necho hi\n" },
 * ]);
 * console.log(new TextDecoder().decode(cpio.subarray(0, 6))); // 070701
 * ```
 */
export function writeCpio(entries: readonly CpioEntry[], options: CpioWriteOptions = {}): Uint8Array {
  requireObjects(entries, "entries", CpioError, "InvalidArgument");
  requireObject(options, "options", CpioError, "InvalidArgument");
  const defaultMtime = options.mtime ?? 0;
  const parents = options.parents ?? true;
  const blockSize = options.blockSize ?? 4;
  // Bounded: the archive is padded to a whole block, so a block of 2^40 bytes would be allocated (and fail).
  if (!Number.isSafeInteger(blockSize) || blockSize < 4 || blockSize % 4 !== 0 || blockSize > MAX_BLOCK_SIZE) {
    throw new CpioError("FieldOverflow", `blockSize ${String(blockSize)} is not a multiple of 4 from 4 to 1 MiB`, {
      field: "blockSize",
      value: blockSize,
    });
  }
  let ino = checkU32("firstIno", options.firstIno ?? 1, "archive");

  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  let total = 0;
  const emit = (b: Uint8Array): void => {
    parts.push(b);
    total += b.byteLength;
  };
  const member = (name: string, f: {
    mode: number;
    uid: number;
    gid: number;
    nlink: number;
    mtime: number;
    rdevmajor: number;
    rdevminor: number;
    data: Uint8Array;
    ino: number;
  }): void => {
    const nameBytes = enc.encode(name);
    const fields = [
      f.ino,
      f.mode,
      f.uid,
      f.gid,
      f.nlink,
      f.mtime,
      f.data.byteLength,
      0, // devmajor
      0, // devminor
      f.rdevmajor,
      f.rdevminor,
      nameBytes.byteLength + 1, // namesize counts the NUL
      0, // check: only the "070702" format fills it
    ].map((v, i) => checkU32(FIELD_NAMES[i], v, name));
    const headerAndName = pad4(CPIO_NEWC_HEADER_SIZE + nameBytes.byteLength + 1);
    const head = new Uint8Array(headerAndName);
    head.set(enc.encode(CPIO_NEWC_MAGIC + fields.map((v) => v.toString(16).padStart(8, "0")).join("")));
    head.set(nameBytes, CPIO_NEWC_HEADER_SIZE);
    emit(head);
    if (f.data.byteLength > 0) {
      emit(f.data);
      const pad = pad4(f.data.byteLength) - f.data.byteLength;
      if (pad > 0) emit(new Uint8Array(pad));
    }
  };

  const add = (path: string, e: CpioEntry | undefined): void => {
    if (seen.has(path)) {
      throw new CpioError(
        "InvalidPath",
        `"${path}" is in the archive twice (list a directory before what it holds, or set parents: false)`,
        { field: "path", value: path },
      );
    }
    seen.add(path);
    const type = e?.type ?? "dir";
    const perm = e?.mode ?? DEFAULT_PERMS[type];
    if (!Number.isSafeInteger(perm) || perm < 0 || perm > 0o7777) {
      throw new CpioError("FieldOverflow", `${path}: mode ${String(perm)} has bits above 0o7777`, {
        field: "mode",
        value: perm,
        limit: 0o7777,
      });
    }
    let data: Uint8Array = new Uint8Array(0);
    if (e?.type === "file") data = typeof e.data === "string" ? enc.encode(e.data) : e.data;
    if (e?.type === "symlink") data = enc.encode(e.target);
    member(path, {
      ino: ino++,
      mode: TYPE_BITS[type] | perm,
      uid: e?.uid ?? 0,
      gid: e?.gid ?? 0,
      nlink: type === "dir" ? 2 : 1,
      mtime: e?.mtime ?? defaultMtime,
      rdevmajor: e?.type === "char" || e?.type === "block" ? e.major : 0,
      rdevminor: e?.type === "char" || e?.type === "block" ? e.minor : 0,
      data,
    });
  };

  for (const e of entries) {
    const path = normalisePath(e.path);
    if (parents) {
      const comps = path.split("/");
      for (let i = 1; i < comps.length; i++) {
        const dir = comps.slice(0, i).join("/");
        if (!seen.has(dir)) add(dir, undefined);
      }
    }
    add(path, e);
  }
  member(CPIO_TRAILER, {
    ino: 0,
    mode: 0,
    uid: 0,
    gid: 0,
    nlink: 1,
    mtime: 0,
    rdevmajor: 0,
    rdevminor: 0,
    data: new Uint8Array(0),
  });

  const out = new Uint8Array(Math.ceil(total / blockSize) * blockSize);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Lists the members of a newc archive, or of several concatenated ones as the kernel accepts them
 * (trailers are not returned; zero padding between archives is skipped). Anything malformed, or a buffer
 * with no trailer at all, is a {@linkcode CpioError} `"Malformed"`.
 *
 * @example
 * ```ts
 * import { readCpio, writeCpio } from "@linux-loader/linux-loader";
 * const names = readCpio(writeCpio([{ type: "file", path: "/etc/hostname", data: "vm\n" }])).map((r) => r.name);
 * console.log(names); // [ "etc", "etc/hostname" ]
 * ```
 */
export function readCpio(archive: Uint8Array): CpioRecord[] {
  requireBytes(archive, "archive", CpioError, "InvalidArgument");
  const dec = new TextDecoder("utf-8", { fatal: false });
  const out: CpioRecord[] = [];
  let at = 0;
  let trailers = 0;
  const malformed = (what: string): never => {
    throw new CpioError("Malformed", `cpio archive at offset ${at}: ${what}`, { value: at });
  };
  for (;;) {
    // Zeros between concatenated archives, in 4-byte steps as headers are 4-aligned.
    while (at + 4 <= archive.byteLength && (archive[at] | archive[at + 1] | archive[at + 2] | archive[at + 3]) === 0) {
      at += 4;
    }
    if (at >= archive.byteLength && trailers > 0) return out;
    if (at >= archive.byteLength) malformed("ends without a TRAILER!!! member");
    if (archive.byteLength - at < CPIO_NEWC_HEADER_SIZE) malformed("ends inside a header");
    const head = dec.decode(archive.subarray(at, at + CPIO_NEWC_HEADER_SIZE));
    if (!head.startsWith(CPIO_NEWC_MAGIC)) malformed(`magic "${head.slice(0, 6)}" is not ${CPIO_NEWC_MAGIC}`);
    const f: number[] = [];
    for (let i = 0; i < 13; i++) {
      const s = head.slice(6 + i * 8, 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(s)) malformed(`field ${FIELD_NAMES[i]} "${s}" is not 8 hex digits`);
      f.push(parseInt(s, 16));
    }
    const [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize] = f;
    const nameAt = at + CPIO_NEWC_HEADER_SIZE;
    if (namesize === 0 || nameAt + namesize > archive.byteLength) malformed(`name of ${namesize} bytes`);
    if (archive[nameAt + namesize - 1] !== 0) malformed("name is not NUL-terminated");
    const name = dec.decode(archive.subarray(nameAt, nameAt + namesize - 1));
    const dataAt = at + pad4(CPIO_NEWC_HEADER_SIZE + namesize);
    if (dataAt + filesize > archive.byteLength) malformed(`${name}: ${filesize} bytes of data pass the end`);
    at = Math.min(dataAt + pad4(filesize), archive.byteLength);
    if (name === CPIO_TRAILER) {
      trailers++;
      continue;
    }
    out.push({
      name,
      ino,
      mode,
      uid,
      gid,
      nlink,
      mtime,
      devmajor,
      devminor,
      rdevmajor,
      rdevminor,
      data: archive.subarray(dataAt, dataAt + filesize),
    });
  }
}

const FIELD_NAMES = [
  "ino",
  "mode",
  "uid",
  "gid",
  "nlink",
  "mtime",
  "filesize",
  "devmajor",
  "devminor",
  "rdevmajor",
  "rdevminor",
  "namesize",
  "check",
];

const TYPE_BITS: Record<CpioEntry["type"], number> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  char: S_IFCHR,
  block: S_IFBLK,
};

const DEFAULT_PERMS: Record<CpioEntry["type"], number> = {
  file: 0o644,
  dir: 0o755,
  symlink: 0o777,
  char: 0o600,
  block: 0o600,
};
