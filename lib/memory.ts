/**
 * Guest physical memory: a sorted list of non-overlapping regions, each backed by an `ArrayBuffer`,
 * a `SharedArrayBuffer` or a `WebAssembly.Memory`. Every access is checked; nothing is ever written
 * outside a region. The region list is public so an emulator (or a KVM binding) can map the very same
 * buffers into a guest, without a copy.
 *
 * Addresses and sizes are JavaScript numbers limited to safe integers (below 2^53); anything else is
 * a {@linkcode MemoryError}.
 *
 * @module
 */

import { describeThrown, hex, MemoryError } from "./errors.ts";

/** The buffers a region can live in. */
export type MemoryBacking = ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory;

/** How to describe one region when building a {@linkcode GuestMemory}. */
export interface RegionSpec {
  /** Guest physical address of the first byte. */
  guestAddr: number;
  /** Size in bytes. Defaults to the whole backing buffer; required when no buffer is given. */
  size?: number;
  /**
   * Backing store. When omitted, a new zero-filled one of at least `size` bytes: a page-aligned
   * `WebAssembly.Memory` (`size` rounded up to 64 KiB pages, never grown) where the platform allows one that
   * large, else an `ArrayBuffer`; the region uses exactly `size` bytes of it.
   */
  buffer?: MemoryBacking;
  /** Byte offset of the region inside `buffer`. Defaults to 0. */
  bufferOffset?: number;
}

const MAX_ADDR = Number.MAX_SAFE_INTEGER; // 2^53 - 1
/** 2^53: one past the highest address; every sum below is compared against it without being computed. */
const ADDR_LIMIT = MAX_ADDR + 1;

function checkInteger(what: string, v: number): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new MemoryError(
      "InvalidAddress",
      `${what} ${describeThrown(v)} is not a non-negative safe integer (limit ${hex(MAX_ADDR)})`,
      { field: what, value: typeof v === "number" ? v : describeThrown(v), limit: MAX_ADDR },
    );
  }
}

// The exact end of [addr, addr + len) for messages and error fields: a bigint when it passes 2^53.
function endOf(addr: number, len: number): number | bigint {
  return len <= MAX_ADDR - addr ? addr + len : BigInt(addr) + BigInt(len);
}

function checkBytes(what: string, v: unknown): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new MemoryError("InvalidValue", `${what} is not a Uint8Array (got ${describeThrown(v)})`, { field: what });
  }
}

function checkScalar(what: string, v: unknown, bigintOk: boolean): void {
  const ok = (typeof v === "number" && Number.isInteger(v)) || (bigintOk && typeof v === "bigint");
  if (!ok) {
    throw new MemoryError("InvalidValue", `${what} ${describeThrown(v)} is not an integer`, {
      field: what,
      value: typeof v === "number" ? v : describeThrown(v),
    });
  }
}

function allocate(len: number, what: string): Uint8Array {
  try {
    return new Uint8Array(len);
  } catch (e) {
    throw new MemoryError("AllocationFailed", `cannot allocate ${hex(len)} bytes for ${what}`, {
      field: what,
      value: len,
      cause: e,
    });
  }
}

/**
 * Bytes in one WebAssembly page: a memory's length "always is a multiple of the WebAssembly page size,
 * which is defined to be the constant 65536" (WebAssembly Core Specification, Execution: Memory Instances).
 */
const WASM_PAGE_SIZE = 65536;
/**
 * The most pages a 32-bit WebAssembly memory may have, 4 GiB: its limits "must be valid within range 2^16"
 * (WebAssembly Core Specification, Validation: Memory Types). An engine with a lower limit throws, and the
 * region falls back to an `ArrayBuffer`.
 */
const WASM_MAX_PAGES = 65536;

/**
 * Fresh zero-filled backing for a region of `size` bytes: a `WebAssembly.Memory` of `size` rounded up to
 * whole 64 KiB pages when the platform has one that large, else an `ArrayBuffer`. Why: engines place a
 * large ArrayBuffer's bytes 16 bytes past a page boundary (V8: `% 4096 = 16`), and the kernel's read(2)
 * into it from a page-aligned file offset is about 3x slower (4K aliasing of its copy); a WebAssembly
 * memory starts on a page, as a VMM's mmap'd guest RAM does. `initial = maximum`: it can never grow, so
 * its buffer is never replaced. The region exposes exactly `size` bytes of it.
 */
function allocateBacking(size: number, what: string): MemoryBacking {
  const pages = Math.ceil(size / WASM_PAGE_SIZE);
  if (pages <= WASM_MAX_PAGES && typeof WebAssembly === "object" && typeof WebAssembly.Memory === "function") {
    try {
      return new WebAssembly.Memory({ initial: pages, maximum: pages });
    } catch {
      // No such memory here (address space, an engine limit below the spec's): a plain ArrayBuffer.
    }
  }
  return allocate(size, what).buffer;
}

function overflow(name: string, addr: number, size: number): MemoryError {
  return new MemoryError(
    "AddressOverflow",
    `${name}: ${hex(addr)} + size ${hex(size)} passes the highest safe address ${hex(MAX_ADDR)}`,
    { field: `${name}.size`, value: size, limit: ADDR_LIMIT - addr },
  );
}

/**
 * One contiguous range of guest memory and the bytes behind it.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "@linux-loader/linux-loader";
 * const [r] = GuestMemory.fromRanges([[0x4000_0000, 1 << 20]]).regions;
 * console.log(r.guestAddr.toString(16), r.end.toString(16), r.bytes.length); // 40000000 40100000 1048576
 * ```
 */
export class GuestMemoryRegion {
  /** Guest physical address of the first byte. */
  readonly guestAddr: number;
  /** Size in bytes. */
  readonly size: number;
  /** The backing store as given (keep it to map the region elsewhere). */
  readonly backing: MemoryBacking;
  /** Byte offset of this region inside the backing store. */
  readonly bufferOffset: number;
  #end: number;
  #bytes: Uint8Array;
  #view: DataView;

  /** Builds a region; prefer {@linkcode GuestMemory}'s constructor, which checks the whole layout. */
  constructor(guestAddr: number, size: number, backing: MemoryBacking, bufferOffset = 0) {
    checkInteger("guestAddr", guestAddr);
    checkInteger("size", size);
    checkInteger("bufferOffset", bufferOffset);
    this.guestAddr = guestAddr;
    this.size = size;
    this.backing = backing;
    this.bufferOffset = bufferOffset;
    this.#end = guestAddr + size;
    this.#bytes = new Uint8Array(0);
    this.#view = new DataView(new ArrayBuffer(0));
    this.#refresh();
  }

  #refresh(): void {
    const buf = this.backing instanceof WebAssembly.Memory ? this.backing.buffer : this.backing;
    try {
      this.#bytes = new Uint8Array(buf, this.bufferOffset, this.size);
      this.#view = new DataView(buf, this.bufferOffset, this.size);
    } catch (e) {
      throw new MemoryError(
        "BufferDetached",
        `the buffer of region [${hex(this.guestAddr)}, ${hex(this.#end)}) is detached or shorter than the region`,
        { field: "buffer", value: this.guestAddr, cause: e },
      );
    }
  }

  /** The region's bytes, zero-copy. (Re-derived if a `WebAssembly.Memory` grew and detached its buffer.) */
  get bytes(): Uint8Array {
    if (this.#bytes.byteLength !== this.size) this.#refresh();
    return this.#bytes;
  }

  /** A DataView over the region's bytes. */
  get view(): DataView {
    // A detached buffer reads as length 0 through a Uint8Array (a DataView would throw).
    if (this.#bytes.byteLength !== this.size) this.#refresh();
    return this.#view;
  }

  /** One past the last guest address of the region. */
  get end(): number {
    return this.#end;
  }
}

/**
 * Guest physical memory made of regions.
 *
 * @example Two regions with a hole, checked accesses
 * ```ts
 * import { GuestMemory } from "@linux-loader/linux-loader";
 * const mem = new GuestMemory([
 *   { guestAddr: 0, size: 0x10_0000 },
 *   { guestAddr: 0x20_0000, size: 0x10_0000 },
 * ]);
 * mem.writeU32(0x1000, 0xdeadbeef);
 * console.log(mem.readU32(0x1000).toString(16)); // deadbeef
 * console.log(mem.isRange(0xf_fff0, 0x20)); // false: crosses the hole
 * ```
 */
export class GuestMemory {
  /** The regions, sorted by address, never overlapping. */
  readonly regions: readonly GuestMemoryRegion[];
  // Last region hit (findRegion's first guess): loaders access memory in runs, so this skips the search
  // almost always.
  #hint: GuestMemoryRegion | undefined;
  #lastAddr: number;

  /** Builds guest memory from region descriptions, in any order. */
  constructor(specs: readonly RegionSpec[]) {
    const regions: GuestMemoryRegion[] = [];
    if (!Array.isArray(specs)) {
      throw new MemoryError("InvalidBuffer", `regions must be an array, got ${describeThrown(specs)}`, {
        field: "regions",
      });
    }
    specs.forEach((s, i) => {
      const name = `regions[${i}]`;
      if (typeof s !== "object" || s === null) {
        throw new MemoryError("InvalidBuffer", `${name} is not an object`, { field: name });
      }
      checkInteger(`${name}.guestAddr`, s.guestAddr);
      let backing = s.buffer;
      const bufferOffset = s.bufferOffset ?? 0;
      checkInteger(`${name}.bufferOffset`, bufferOffset);
      let size = s.size;
      if (backing === undefined) {
        if (size === undefined) {
          throw new MemoryError("InvalidBuffer", `${name} has neither a size nor a buffer`, {
            field: `${name}.size`,
          });
        }
        checkInteger(`${name}.size`, size);
        if (size > MAX_ADDR + 1 - s.guestAddr) throw overflow(name, s.guestAddr, size);
        if (size > 0) backing = allocateBacking(size, `${name}.size`);
      } else {
        const buf = backing instanceof WebAssembly.Memory ? backing.buffer : backing;
        if (
          !(buf instanceof ArrayBuffer) &&
          !(typeof SharedArrayBuffer !== "undefined" && buf instanceof SharedArrayBuffer)
        ) {
          throw new MemoryError(
            "InvalidBuffer",
            `${name}.buffer is not an ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory`,
            {
              field: `${name}.buffer`,
            },
          );
        }
        // A resizable ArrayBuffer can shrink under a region; a WebAssembly.Memory or a growable
        // SharedArrayBuffer only grows, which the region views survive.
        if (!(backing instanceof WebAssembly.Memory) && (buf as ArrayBuffer & { resizable?: boolean }).resizable) {
          throw new MemoryError(
            "InvalidBuffer",
            `${name}.buffer is a resizable ArrayBuffer, which could shrink under guest memory; use a fixed-length one`,
            { field: `${name}.buffer` },
          );
        }
        size ??= buf.byteLength - bufferOffset;
        checkInteger(`${name}.size`, size);
        if (bufferOffset > buf.byteLength || size > buf.byteLength - bufferOffset) {
          throw new MemoryError(
            "InvalidBuffer",
            `${name}: bufferOffset ${hex(bufferOffset)} + size ${hex(size)} exceeds the buffer's ${
              hex(buf.byteLength)
            } bytes`,
            { field: `${name}.size`, value: size, limit: buf.byteLength - bufferOffset },
          );
        }
      }
      if (size === 0 || backing === undefined) {
        throw new MemoryError("ZeroSize", `${name} at ${hex(s.guestAddr)} has size 0`, {
          field: `${name}.size`,
          value: 0,
        });
      }
      if (size > ADDR_LIMIT - s.guestAddr) throw overflow(name, s.guestAddr, size);
      regions.push(new GuestMemoryRegion(s.guestAddr, size, backing, bufferOffset));
    });
    regions.sort((a, b) => a.guestAddr - b.guestAddr);
    for (let i = 1; i < regions.length; i++) {
      const p = regions[i - 1], r = regions[i];
      if (r.guestAddr < p.end) {
        throw new MemoryError(
          "RegionOverlap",
          `region [${hex(r.guestAddr)}, ${hex(r.end)}) overlaps region [${hex(p.guestAddr)}, ${hex(p.end)})`,
          { field: "guestAddr", value: r.guestAddr, limit: p.end },
        );
      }
    }
    this.regions = Object.freeze(regions);
    this.#hint = regions[0];
    this.#lastAddr = regions.length === 0 ? -1 : regions[regions.length - 1].end - 1;
  }

  /**
   * Builds memory from `[guestAddr, size]` pairs, each over fresh zero-filled, page-aligned memory where
   * the platform allows (see {@linkcode RegionSpec.buffer}).
   *
   * @example
   * ```ts
   * import { GuestMemory } from "@linux-loader/linux-loader";
   * const mem = GuestMemory.fromRanges([[0, 16 << 20]]);
   * console.log(mem.totalSize); // 16777216
   * ```
   */
  static fromRanges(ranges: readonly (readonly [number, number])[]): GuestMemory {
    if (!Array.isArray(ranges) || !ranges.every(Array.isArray)) {
      throw new MemoryError("InvalidBuffer", "fromRanges takes an array of [guestAddr, size] pairs", {
        field: "ranges",
        value: typeof ranges,
      });
    }
    return new GuestMemory(ranges.map(([guestAddr, size]) => ({ guestAddr, size })));
  }

  /** The sum of all region sizes. */
  get totalSize(): number {
    let t = 0;
    for (const r of this.regions) t += r.size;
    return t;
  }

  /** The highest guest address held by any region (the crate's `last_addr`), or -1 when empty. */
  get lastAddr(): number {
    return this.#lastAddr;
  }

  /** The region that holds `addr`, or `undefined`. */
  findRegion(addr: number): GuestMemoryRegion | undefined {
    if (typeof addr !== "number") return undefined;
    const hint = this.#hint;
    if (hint !== undefined && addr >= hint.guestAddr && addr < hint.end) return hint;
    const rs = this.regions;
    let lo = 0, hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rs[mid];
      if (addr < r.guestAddr) hi = mid - 1;
      else if (addr >= r.end) lo = mid + 1;
      else {
        this.#hint = r;
        return r;
      }
    }
    return undefined;
  }

  /**
   * The first byte of `[addr, addr + len)` that no region holds, or `undefined` when the whole range
   * is in memory (it may span adjacent regions). Throws for a malformed address or length.
   */
  firstMissing(addr: number, len: number): number | undefined {
    checkInteger("address", addr);
    checkInteger("length", len);
    // No region passes 2^53, so a range that does is missing a byte at or below 2^53: the walk stops at
    // 2^53 at the latest (compared, never computed as addr + len, which could round).
    const passes = len > ADDR_LIMIT - addr;
    const end = passes ? ADDR_LIMIT : addr + len;
    let a = addr;
    while (a < end) {
      const r = this.findRegion(a);
      if (r === undefined) return a;
      a = r.end;
    }
    return passes ? ADDR_LIMIT : undefined;
  }

  /** Whether every byte of `[addr, addr + len)` is in guest memory. */
  isRange(addr: number, len: number): boolean {
    if (typeof addr !== "number" || typeof len !== "number") return false;
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len < 0) return false;
    return this.firstMissing(addr, len) === undefined;
  }

  /**
   * Throws a {@linkcode MemoryError} `OutOfRange` naming the first byte of `[addr, addr + len)` that is
   * outside guest memory; returns quietly when the whole range is inside.
   */
  checkRange(addr: number, len: number, what = "range"): void {
    const miss = this.firstMissing(addr, len);
    if (miss !== undefined) {
      throw new MemoryError(
        "OutOfRange",
        `${what} [${hex(addr)}, ${hex(endOf(addr, len))}) is outside guest memory: byte ${hex(miss)} is in no region`,
        { field: what, value: miss, limit: this.lastAddr + 1 },
      );
    }
  }

  /**
   * Zero-copy view of `[addr, addr + len)`, which must lie inside one region. Writes through it reach
   * guest memory.
   */
  subarray(addr: number, len: number): Uint8Array {
    this.checkRange(addr, len);
    const r = this.findRegion(addr);
    if (r === undefined || len > r.end - addr) {
      if (len === 0) return new Uint8Array(0);
      throw new MemoryError(
        "CrossesRegion",
        `[${hex(addr)}, ${hex(addr + len)}) spans more than one region (region ends at ${hex(r?.end ?? addr)})`,
        { value: addr + len, limit: r?.end ?? addr },
      );
    }
    const off = addr - r.guestAddr;
    return r.bytes.subarray(off, off + len);
  }

  /** Zero-copy views of `[addr, addr + len)`, one per region it spans, in address order. */
  slices(addr: number, len: number): Uint8Array[] {
    this.checkRange(addr, len);
    const out: Uint8Array[] = [];
    let a = addr;
    const end = addr + len;
    while (a < end) {
      const r = this.findRegion(a)!;
      const n = Math.min(end, r.end) - a;
      out.push(r.bytes.subarray(a - r.guestAddr, a - r.guestAddr + n));
      a += n;
    }
    return out;
  }

  /** Copies `src` into guest memory at `addr` (it may span adjacent regions). */
  write(addr: number, src: Uint8Array): void {
    checkBytes("source", src);
    const len = src.byteLength;
    const r = this.findRegion(addr);
    if (r !== undefined && Number.isSafeInteger(addr) && len <= r.end - addr) {
      r.bytes.set(src, addr - r.guestAddr);
      return;
    }
    let off = 0;
    for (const s of this.slices(addr, len)) {
      s.set(src.subarray(off, off + s.byteLength));
      off += s.byteLength;
    }
  }

  /** Copies `dest.byteLength` bytes from guest memory at `addr` into `dest`. */
  readInto(addr: number, dest: Uint8Array): void {
    checkBytes("destination", dest);
    let off = 0;
    for (const s of this.slices(addr, dest.byteLength)) {
      dest.set(s, off);
      off += s.byteLength;
    }
  }

  /** Returns a copy of `len` bytes of guest memory at `addr`. */
  read(addr: number, len: number): Uint8Array {
    // Checked before allocating: the length is bounded by guest memory, never by what a caller asks.
    this.checkRange(addr, len);
    const out = allocate(len, "read");
    this.readInto(addr, out);
    return out;
  }

  /** Sets `len` bytes at `addr` to `value` (0 by default). */
  fill(addr: number, len: number, value = 0): void {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new MemoryError("InvalidValue", `fill value ${describeThrown(value)} is not a byte (0-255)`, {
        field: "value",
        value: typeof value === "number" ? value : describeThrown(value),
        limit: 0xff,
      });
    }
    for (const s of this.slices(addr, len)) s.fill(value);
  }

  #scalar(addr: number, size: number): [DataView, number] {
    const r = this.findRegion(addr);
    if (r !== undefined && Number.isSafeInteger(addr) && size <= r.end - addr) {
      return [r.view, addr - r.guestAddr];
    }
    this.checkRange(addr, size);
    // In memory but split across two adjacent regions: go through a bounce buffer.
    const tmp = this.read(addr, size);
    return [new DataView(tmp.buffer), -1];
  }

  /** Reads a byte. */
  readU8(addr: number): number {
    const [v, o] = this.#scalar(addr, 1);
    return v.getUint8(o < 0 ? 0 : o);
  }

  /** Reads a little-endian u16. */
  readU16(addr: number): number {
    const [v, o] = this.#scalar(addr, 2);
    return v.getUint16(o < 0 ? 0 : o, true);
  }

  /** Reads a little-endian u32. */
  readU32(addr: number): number {
    const [v, o] = this.#scalar(addr, 4);
    return v.getUint32(o < 0 ? 0 : o, true);
  }

  /** Reads a little-endian u64 as a bigint. */
  readU64(addr: number): bigint {
    const [v, o] = this.#scalar(addr, 8);
    return v.getBigUint64(o < 0 ? 0 : o, true);
  }

  #writeScalar(addr: number, size: number, set: (v: DataView, o: number) => void): void {
    const r = this.findRegion(addr);
    if (r !== undefined && Number.isSafeInteger(addr) && size <= r.end - addr) {
      set(r.view, addr - r.guestAddr);
      return;
    }
    const tmp = new Uint8Array(size);
    set(new DataView(tmp.buffer), 0);
    this.write(addr, tmp);
  }

  /** Writes a byte (the value is taken modulo 2^8). */
  writeU8(addr: number, value: number): void {
    checkScalar("value", value, false);
    this.#writeScalar(addr, 1, (v, o) => v.setUint8(o, value));
  }

  /** Writes a little-endian u16 (modulo 2^16). */
  writeU16(addr: number, value: number): void {
    checkScalar("value", value, false);
    this.#writeScalar(addr, 2, (v, o) => v.setUint16(o, value, true));
  }

  /** Writes a little-endian u32 (modulo 2^32). */
  writeU32(addr: number, value: number): void {
    checkScalar("value", value, false);
    this.#writeScalar(addr, 4, (v, o) => v.setUint32(o, value, true));
  }

  /** Writes a little-endian u64 (modulo 2^64). */
  writeU64(addr: number, value: number | bigint): void {
    checkScalar("value", value, true);
    const b = BigInt.asUintN(64, BigInt(value));
    this.#writeScalar(addr, 8, (v, o) => v.setBigUint64(o, b, true));
  }
}
