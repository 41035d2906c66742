/**
 * The non-last filters of an `.xz` filter chain: the branch/call/jump (BCJ) converters for executable
 * code and the delta filter. Each undoes what the encoder did to make code more compressible (relative
 * branch targets turned absolute). They follow XZ Embedded (`lib/xz/xz_dec_bcj.c` in Linux) and liblzma
 * (`src/liblzma/simple/*.c`, `delta/delta_decoder.c`).
 *
 * A filter runs as a {@linkcode ByteSink} stage between the LZMA2 window and the next stage: it keeps a
 * small buffer, converts what can be converted (an instruction cut by a chunk boundary waits for the next
 * chunk) and passes the rest on; at the end of the block the unconverted tail passes unchanged, as in
 * liblzma.
 *
 * @module
 */

import type { ByteSink } from "./sink.ts";

/** Filter IDs (The .xz File Format, 5.3 "Filter IDs" and liblzma's `lzma/bcj.h`). */
export const XZ_FILTER_DELTA = 0x03;
/** x86 BCJ (32-bit and 64-bit code). */
export const XZ_FILTER_X86 = 0x04;
/** PowerPC BCJ (big endian). */
export const XZ_FILTER_POWERPC = 0x05;
/** IA-64 (Itanium) BCJ. */
export const XZ_FILTER_IA64 = 0x06;
/** ARM BCJ (little endian). */
export const XZ_FILTER_ARM = 0x07;
/** ARM-Thumb BCJ. */
export const XZ_FILTER_ARMTHUMB = 0x08;
/** SPARC BCJ. */
export const XZ_FILTER_SPARC = 0x09;
/** ARM64 BCJ (xz 5.4). */
export const XZ_FILTER_ARM64 = 0x0a;
/** LZMA2, always the last filter. */
export const XZ_FILTER_LZMA2 = 0x21;

/** The filter IDs this decoder implements before LZMA2. */
export const XZ_SIMPLE_FILTERS: readonly number[] = [
  XZ_FILTER_DELTA,
  XZ_FILTER_X86,
  XZ_FILTER_POWERPC,
  XZ_FILTER_IA64,
  XZ_FILTER_ARM,
  XZ_FILTER_ARMTHUMB,
  XZ_FILTER_SPARC,
  XZ_FILTER_ARM64,
];

/** Size of each stage's buffer (plus room for an instruction carried over). */
const STAGE_BUFFER = 64 << 10;

/** "Test86MSByte": the top byte of an x86 rel32 that is converted is 0x00 or 0xFF. */
function x86MsByte(b: number): boolean {
  return ((b + 1) & 0xfe) === 0;
}

const X86_ALLOWED = [true, true, true, false, true, false, false, false];
const X86_BIT_NUM = [0, 1, 2, 2, 3, 3, 3, 3];
/** IA-64 bundle templates: which of the three slots hold branches. */
const IA64_BRANCH_TABLE = [
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  4,
  4,
  6,
  6,
  0,
  0,
  7,
  7,
  4,
  4,
  0,
  0,
  4,
  4,
  0,
  0,
];

/**
 * One filter of the chain as a sink stage: converts and forwards to `next`. `finish()` at the end of the
 * block forwards the unconverted tail.
 */
export class FilterStage implements ByteSink {
  private readonly buf = new Uint8Array(STAGE_BUFFER + 16);
  private held = 0;
  /** Stream position of buf[0] (BCJ "now_pos"; the start offset property sets where it begins). */
  private pos = 0;
  private x86Mask = 0;
  private readonly deltaHistory = new Uint8Array(256);
  private deltaPos = 0;

  /** Filter ID. */
  id: number;
  /** The stage after this one. */
  next: ByteSink;
  /** BCJ start offset or delta distance. */
  param: number;

  /** A stage for filter `id` (one of {@linkcode XZ_SIMPLE_FILTERS}) with its start offset or delta distance. */
  constructor(id: number, next: ByteSink, param: number) {
    this.id = id;
    this.next = next;
    this.param = param;
    this.pos = 0;
    this.reset(id, next, param);
  }

  /** Reuses the stage (and its buffer) for another block: each block starts the filter afresh. */
  reset(id: number, next: ByteSink, param: number): void {
    this.id = id;
    this.next = next;
    this.param = param;
    this.held = 0;
    this.pos = id === XZ_FILTER_DELTA ? 0 : param >>> 0;
    this.x86Mask = 0;
    this.deltaHistory.fill(0);
    this.deltaPos = 0;
  }

  /** Takes LZMA2 output, converts what it can and passes it on. */
  write(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const k = Math.min(chunk.length - at, this.buf.length - this.held);
      this.buf.set(chunk.subarray(at, at + k), this.held);
      this.held += k;
      at += k;
      const done = this.convert(this.buf, this.held);
      if (done > 0) {
        this.next.write(this.buf.subarray(0, done));
        this.buf.copyWithin(0, done, this.held);
        this.held -= done;
        this.pos = (this.pos + done) >>> 0;
      }
    }
  }

  /** End of the block: what could not be converted passes as it is. */
  finish(): void {
    if (this.held > 0) this.next.write(this.buf.subarray(0, this.held));
    this.held = 0;
  }

  /** Converts `buf[0, size)` in place; returns how many bytes are final. */
  private convert(buf: Uint8Array, size: number): number {
    switch (this.id) {
      case XZ_FILTER_X86:
        return this.x86(buf, size);
      case XZ_FILTER_POWERPC:
        return powerpc(buf, size, this.pos);
      case XZ_FILTER_IA64:
        return ia64(buf, size, this.pos);
      case XZ_FILTER_ARM:
        return arm(buf, size, this.pos);
      case XZ_FILTER_ARMTHUMB:
        return armThumb(buf, size, this.pos);
      case XZ_FILTER_SPARC:
        return sparc(buf, size, this.pos);
      case XZ_FILTER_ARM64:
        return arm64(buf, size, this.pos);
      default:
        return this.delta(buf, size);
    }
  }

  /** x86: E8 (CALL) and E9 (JMP) rel32 operands, with the "prev_mask" rule for E8/E9 bytes inside operands. */
  private x86(buf: Uint8Array, size: number): number {
    if (size <= 4) return 0;
    const end = size - 4;
    let prevPos = -1;
    let prevMask = this.x86Mask;
    const now = this.pos;
    let i = 0;
    for (; i < end; i++) {
      if ((buf[i] & 0xfe) !== 0xe8) continue;
      prevPos = i - prevPos;
      if (prevPos > 3) {
        prevMask = 0;
      } else {
        prevMask = (prevMask << (prevPos - 1)) & 7;
        if (prevMask !== 0) {
          const b = buf[i + 4 - X86_BIT_NUM[prevMask]];
          if (!X86_ALLOWED[prevMask] || x86MsByte(b)) {
            prevPos = i;
            prevMask = (prevMask << 1) | 1;
            continue;
          }
        }
      }
      prevPos = i;
      if (x86MsByte(buf[i + 4])) {
        let src = (buf[i + 1] | (buf[i + 2] << 8) | (buf[i + 3] << 16) | (buf[i + 4] << 24)) >>> 0;
        let dest: number;
        for (;;) {
          dest = (src - (now + i + 5)) >>> 0;
          if (prevMask === 0) break;
          const j = X86_BIT_NUM[prevMask] * 8;
          const b = (dest >>> (24 - j)) & 0xff;
          if (!x86MsByte(b)) break;
          src = (dest ^ ((1 << (32 - j)) - 1)) >>> 0;
        }
        dest &= 0x01ffffff;
        dest |= 0 - (dest & 0x01000000);
        buf[i + 1] = dest;
        buf[i + 2] = dest >>> 8;
        buf[i + 3] = dest >>> 16;
        buf[i + 4] = dest >>> 24;
        i += 4;
      } else {
        prevMask = (prevMask << 1) | 1;
      }
    }
    prevPos = i - prevPos;
    this.x86Mask = prevPos > 3 ? 0 : (prevMask << (prevPos - 1)) & 0xff;
    return i;
  }

  private delta(buf: Uint8Array, size: number): number {
    const distance = this.param;
    const hist = this.deltaHistory;
    let p = this.deltaPos;
    for (let i = 0; i < size; i++) {
      const v = (buf[i] + hist[(distance + p) & 0xff]) & 0xff;
      buf[i] = v;
      hist[p & 0xff] = v;
      p = (p - 1) & 0xff;
    }
    this.deltaPos = p;
    return size;
  }
}

function powerpc(buf: Uint8Array, size: number, now: number): number {
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    let instr = ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
    if ((instr & 0xfc000003) >>> 0 === 0x48000001) {
      instr &= 0x03fffffc;
      instr = (instr - (now + i)) & 0x03fffffc;
      instr |= 0x48000001;
      buf[i] = instr >>> 24;
      buf[i + 1] = instr >>> 16;
      buf[i + 2] = instr >>> 8;
      buf[i + 3] = instr;
    }
  }
  return i;
}

function arm(buf: Uint8Array, size: number, now: number): number {
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    if (buf[i + 3] === 0xeb) {
      let addr = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16);
      addr = ((addr << 2) - (now + i + 8)) >>> 2;
      buf[i] = addr;
      buf[i + 1] = addr >>> 8;
      buf[i + 2] = addr >>> 16;
    }
  }
  return i;
}

function armThumb(buf: Uint8Array, size: number, now: number): number {
  let i = 0;
  for (; i + 4 <= size; i += 2) {
    if ((buf[i + 1] & 0xf8) === 0xf0 && (buf[i + 3] & 0xf8) === 0xf8) {
      let addr = ((buf[i + 1] & 7) << 19) | (buf[i] << 11) | ((buf[i + 3] & 7) << 8) | buf[i + 2];
      addr = ((addr << 1) - (now + i + 4)) >>> 1;
      buf[i + 1] = 0xf0 | ((addr >>> 19) & 7);
      buf[i] = addr >>> 11;
      buf[i + 3] = 0xf8 | ((addr >>> 8) & 7);
      buf[i + 2] = addr;
      i += 2;
    }
  }
  return i;
}

function sparc(buf: Uint8Array, size: number, now: number): number {
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    let instr = ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
    if (instr >>> 22 === 0x100 || instr >>> 22 === 0x1ff) {
      instr = ((instr << 2) - (now + i)) >>> 2;
      instr = ((0x40000000 - (instr & 0x400000)) | 0x40000000 | (instr & 0x3fffff)) >>> 0;
      buf[i] = instr >>> 24;
      buf[i + 1] = instr >>> 16;
      buf[i + 2] = instr >>> 8;
      buf[i + 3] = instr;
    }
  }
  return i;
}

function arm64(buf: Uint8Array, size: number, now: number): number {
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    let instr = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) >>> 0;
    const pc = (now + i) >>> 0;
    if (instr >>> 26 === 0x25) {
      // BL
      const addr = instr - (pc >>> 2);
      instr = (0x94000000 | (addr & 0x03ffffff)) >>> 0;
    } else if ((instr & 0x9f000000) >>> 0 === 0x90000000) {
      // ADRP: only values within +/-512 MiB are converted.
      let addr = ((instr >>> 29) & 3) | ((instr >>> 3) & 0x001ffffc);
      if ((addr + 0x00020000) & 0x001c0000) continue;
      addr = (addr - (pc >>> 12)) >>> 0;
      instr &= 0x9000001f;
      instr |= (addr & 3) << 29;
      instr |= (addr & 0x0003fffc) << 3;
      instr |= (0 - (addr & 0x00020000)) & 0x00e00000;
      instr >>>= 0;
    } else {
      continue;
    }
    buf[i] = instr;
    buf[i + 1] = instr >>> 8;
    buf[i + 2] = instr >>> 16;
    buf[i + 3] = instr >>> 24;
  }
  return i;
}

function ia64(buf: Uint8Array, size: number, now: number): number {
  let i = 0;
  for (; i + 16 <= size; i += 16) {
    const mask = IA64_BRANCH_TABLE[buf[i] & 0x1f];
    for (let slot = 0, bitPos = 5; slot < 3; slot++, bitPos += 41) {
      if (((mask >>> slot) & 1) === 0) continue;
      const bytePos = bitPos >>> 3;
      const bitRes = BigInt(bitPos & 7);
      let instr = 0n;
      for (let j = 0; j < 6; j++) instr |= BigInt(buf[i + j + bytePos]) << BigInt(8 * j);
      let norm = instr >> bitRes;
      if (((norm >> 37n) & 0x0fn) === 0x05n && ((norm >> 9n) & 0x07n) === 0n) {
        let addr = Number((norm >> 13n) & 0x0fffffn);
        addr |= Number((norm >> 36n) & 1n) << 20;
        addr = ((addr << 4) - (now + i)) >>> 4;
        norm &= ~(0x8fffffn << 13n);
        norm |= BigInt(addr & 0x0fffff) << 13n;
        norm |= BigInt(addr & 0x100000) << (36n - 20n);
        instr &= (1n << bitRes) - 1n;
        instr |= norm << bitRes;
        for (let j = 0; j < 6; j++) buf[i + j + bytePos] = Number((instr >> BigInt(8 * j)) & 0xffn);
      }
    }
  }
  return i;
}
