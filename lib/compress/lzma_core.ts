/**
 * The LZMA decoder core shared by the `.xz` (LZMA2) and legacy `.lzma` decoders: the range decoder, the
 * literal/match model and the sliding window, written to stream its output into a {@linkcode ByteSink}.
 *
 * References: the LZMA specification in the LZMA SDK (`DOC/lzma-specification.txt`, "LZMA compression
 * method"), and the kernel's own decoder, XZ Embedded (`lib/xz/xz_dec_lzma2.c`), whose behaviour this
 * follows (range decoder normalised after every bit, the same probability model and checks).
 *
 * Memory: the window is the dictionary, capped at the output limit: `min(dictionary size, maxOutput)`
 * rounded up to 16 bytes, allocated once when the first byte is produced. A fresh ArrayBuffer is zero
 * pages until written (calloc/mmap in V8 and the browsers), so only `min(window, output)` of it becomes
 * resident: a 128 MiB dictionary over 1 MiB of output costs about 1 MiB, and no outgrown copies are left
 * for the garbage collector. Output leaves the window in chunks of at most
 * {@linkcode LZMA_FLUSH_CHUNK} bytes, handed to the sink as views of the window.
 *
 * Bounded work: every decoded symbol produces at least one byte (or is the end marker), and output is
 * bounded by `maxOutput`; the range decoder never reads past the end of its input (the last
 * {@linkcode LZMA_IN_REQUIRED} bytes are decoded from a zero-padded copy and an overrun is `Truncated`).
 *
 * @module
 */

import { DecompressError, hex } from "../errors.ts";
import type { ByteSink } from "./sink.ts";

/** Output is handed to the sink in pieces of at most this many bytes (256 KiB: stays in the CPU's cache). */
export const LZMA_FLUSH_CHUNK = 256 << 10;

/**
 * Input bytes one symbol can consume at most, with margin: the range decoder reads at most one byte per
 * decoded bit, and the longest symbol (a match with distance slot 63) decodes 48 bits (is_match, is_rep,
 * 10 length bits, 6 slot bits, 26 direct and 4 align bits). Symbols closer than this to the end of the
 * input are decoded from a zero-padded copy so no read passes the input.
 */
export const LZMA_IN_REQUIRED = 64;

/** Largest window allocated (the dictionary is capped here; distances beyond it are reported as corrupt). */
export const LZMA_MAX_WINDOW = 0x7fff_f000;

/** Number of states of the LZMA state machine ("kNumStates"). */
const STATES = 12;
/** "kNumPosBitsMax": up to 16 position states. */
const POS_STATES_MAX = 16;
/** Probabilities are 11-bit: "kNumBitModelTotalBits". */
const BIT_MODEL_TOTAL = 1 << 11;
/** "kNumMoveBits": adaptation speed of a probability. */
const MOVE_BITS = 5;
/** "kTopValue": the range decoder normalises when the range falls below 2^24. */
const TOP_VALUE = 1 << 24;
/** Length coder: 8 low, 8 mid and 256 high symbols; the shortest match is 2 bytes ("kMatchMinLen"). */
const MATCH_LEN_MIN = 2;
const LEN_LOW_BITS = 3;
const LEN_MID_BITS = 3;
const LEN_HIGH_BITS = 8;
/** Distance slots 0-3 are the distance itself; slots 4-13 use reverse bit trees ("kEndPosModelIndex"). */
const DIST_MODEL_START = 4;
const DIST_MODEL_END = 14;
/** "kNumFullDistances": distances below 128 are fully modelled. */
const FULL_DISTANCES = 1 << (DIST_MODEL_END >> 1);
/** "kNumAlignBits": the low 4 bits of large distances have their own reverse bit tree. */
const ALIGN_BITS = 4;
/** States below 7 follow a literal ("kNumLitStates"). */
const LIT_STATES = 7;

// Offsets of each probability array inside one Uint16Array (layout of the LZMA SDK's CLzmaProb table).
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + (POS_STATES_MAX << LEN_LOW_BITS);
const LEN_HIGH = LEN_MID + (POS_STATES_MAX << LEN_MID_BITS);
const LEN_CODER_SIZE = LEN_HIGH + (1 << LEN_HIGH_BITS);

const IS_MATCH = 0;
const IS_REP = IS_MATCH + STATES * POS_STATES_MAX;
const IS_REP_G0 = IS_REP + STATES;
const IS_REP_G1 = IS_REP_G0 + STATES;
const IS_REP_G2 = IS_REP_G1 + STATES;
const IS_REP0_LONG = IS_REP_G2 + STATES;
const DIST_SLOT = IS_REP0_LONG + STATES * POS_STATES_MAX;
const DIST_SPECIAL = DIST_SLOT + (4 << 6);
const DIST_ALIGN = DIST_SPECIAL + FULL_DISTANCES - DIST_MODEL_END;
const MATCH_LEN = DIST_ALIGN + (1 << ALIGN_BITS);
const REP_LEN = MATCH_LEN + LEN_CODER_SIZE;
const LITERAL = REP_LEN + LEN_CODER_SIZE;
/** Each literal coder has 0x300 probabilities (256 plain + 512 "matched" contexts). */
const LITERAL_CODER_SIZE = 0x300;

/** Why {@linkcode LzmaDecoder.decode} returned: the output limit of the call was reached. */
export const LZMA_STATUS_LIMIT = 0;
/** The safe input limit was passed: more input is needed before the next symbol. */
export const LZMA_STATUS_NEED_INPUT = 1;
/** The end-of-payload marker (distance 0xFFFFFFFF) was decoded. */
export const LZMA_STATUS_END = 2;

/** lc, lp and pb of an LZMA properties byte: `(pb * 5 + lp) * 9 + lc`. */
export interface LzmaProps {
  /** Literal context bits (0-8). */
  lc: number;
  /** Literal position bits (0-4). */
  lp: number;
  /** Position bits (0-4). */
  pb: number;
}

/** Largest properties byte: pb = 4, lp = 4, lc = 8 ("(4 * 5 + 4) * 9 + 8"). */
export const LZMA_PROPS_MAX = (4 * 5 + 4) * 9 + 8;

/** Splits an LZMA properties byte, or `undefined` when it is above {@linkcode LZMA_PROPS_MAX}. */
export function parseLzmaProps(byte: number): LzmaProps | undefined {
  if (!(byte >= 0 && byte <= LZMA_PROPS_MAX)) return undefined;
  const lc = byte % 9;
  const rest = (byte - lc) / 9;
  return { lc, lp: rest % 5, pb: (rest - (rest % 5)) / 5 };
}

/**
 * One LZMA decoder with its window. The container decoders drive it: {@linkcode LzmaDecoder.run} decodes
 * LZMA data from `input[ip, end)` until a number of bytes was produced or the end marker was read,
 * handing output to `sink` in chunks. Internal to the package (exported for the xz and lzma modules and
 * their tests).
 */
export class LzmaDecoder {
  /** Where flushed output goes (the xz decoder points it at each block's filter chain). */
  sink: ByteSink;
  /** Name of the format in error messages ("xz", "lzma"). */
  readonly format: string;
  /** Output limit over the decoder's whole life. */
  readonly maxOutput: number;
  /** Bytes produced into the window so far (all blocks). */
  totalOut = 0;

  // Window.
  private win: Uint8Array = new Uint8Array(0);
  /** Wrap point: `min(win.length, winMax)`. */
  private wrapAt = 0;
  /** Final window size: the dictionary capped at the output limit, a multiple of 16. */
  private winMax = 0;
  /** Write position in the window. */
  private pos = 0;
  /** Window bytes before this were handed to the sink. */
  private flushed = 0;
  /** Valid history bytes (capped at the dictionary size): distances must stay below it. */
  private full = 0;
  /** Dictionary size in force (distances at or above it are corrupt). */
  private dictSize = 0;

  // Model.
  private probs: Uint16Array = new Uint16Array(0);
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  /** Bytes of the current match still to copy (a match cut by the output limit). */
  private len = 0;

  // Range decoder (both unsigned 32-bit). Initialised above 2^31 so the fields hold doubles from the
  // start: a field that starts as a small integer is deoptimised the first time it stores a larger one.
  private range = 0xffff_ffff;
  private code = 0xffff_ffff;

  /** Output bytes the next `decode` call may produce at most: ramps up from 1 KiB to LZMA_FLUSH_CHUNK. */
  private runSize = 1024;

  /** Padded copy of the input's last bytes (see {@linkcode LZMA_IN_REQUIRED}). */
  private readonly tail = new Uint8Array(LZMA_IN_REQUIRED * 2);
  /** Why the last {@linkcode decode} returned. */
  status: number = LZMA_STATUS_LIMIT;
  /** Input offset of `input[0]` in the caller's whole input, for error messages. */
  baseOffset = 0;

  /** A decoder writing to `sink`, producing at most `maxOutput` bytes in total. */
  constructor(sink: ByteSink, maxOutput: number, format: string) {
    this.sink = sink;
    this.maxOutput = maxOutput;
    this.format = format;
  }

  /** True while a match is cut by the output limit (LZMA2 forbids a chunk to end inside one). */
  get pendingMatch(): boolean {
    return this.len > 0;
  }

  /** The range decoder's code is 0: a cleanly finished LZMA stream ("rc_is_finished"). */
  get rcFinished(): boolean {
    return this.code === 0;
  }

  /**
   * Sets the dictionary size for what follows (before a dictionary reset). The window grows to
   * `min(dictSize, maxOutput)` rounded up to 16 bytes (LZMA's position bits need a wrap point that is a
   * multiple of 16), capped at {@linkcode LZMA_MAX_WINDOW}.
   */
  setDictSize(dictSize: number): void {
    this.dictSize = Math.min(dictSize, LZMA_MAX_WINDOW);
    const cap = Math.min(this.dictSize, Math.max(this.maxOutput, 1));
    this.winMax = Math.min(LZMA_MAX_WINDOW, Math.ceil(cap / 16) * 16);
    this.wrapAt = Math.min(this.win.length, this.winMax);
  }

  /** Flushes what is pending and empties the history (LZMA2 dictionary reset, a new block). */
  resetDict(): void {
    this.flush();
    this.pos = 0;
    this.flushed = 0;
    this.full = 0;
    this.wrapAt = Math.min(this.win.length, this.winMax);
  }

  /** Sets lc/lp/pb (checked by the caller) and resets the model ("state reset"). */
  setProps(props: LzmaProps): void {
    this.lc = props.lc;
    this.lp = props.lp;
    this.pb = props.pb;
    const size = LITERAL + (LITERAL_CODER_SIZE << (props.lc + props.lp));
    if (this.probs.length < size) this.probs = new Uint16Array(size);
    this.resetState();
  }

  /** Resets the probabilities, the state and the repeated distances, keeping lc/lp/pb. */
  resetState(): void {
    this.probs.fill(BIT_MODEL_TOTAL >>> 1, 0, LITERAL + (LITERAL_CODER_SIZE << (this.lc + this.lp)));
    this.state = 0;
    this.rep0 =
      this.rep1 =
      this.rep2 =
      this.rep3 =
        0;
    this.len = 0;
  }

  /**
   * Starts the range decoder on the 5 bytes at `input[ip]`: "the first byte is always 0" and the next four
   * are the initial code. Returns the offset after them.
   */
  initRangeDecoder(input: Uint8Array, ip: number, end: number): number {
    if (end - ip < 5) this.fail("Truncated", ip, "input ends inside the range decoder's first 5 bytes");
    if (input[ip] !== 0) this.fail("CorruptData", ip, `range decoder's first byte is ${hex(input[ip])}, not 0`);
    this.code = ((input[ip + 1] << 24) | (input[ip + 2] << 16) | (input[ip + 3] << 8) | input[ip + 4]) >>> 0;
    this.range = 0xffff_ffff;
    return ip + 5;
  }

  /**
   * Decodes from `input[ip, end)` until `outCount` more bytes were produced (`Infinity`: until the end
   * marker), flushing to the sink as it goes. Returns the input offset reached. An end marker ends the
   * call early with `status === LZMA_STATUS_END`; input ending before that is `Truncated`.
   */
  run(input: Uint8Array, ip: number, end: number, outCount: number): number {
    let remaining = outCount;
    const safe = end - LZMA_IN_REQUIRED;
    this.status = LZMA_STATUS_LIMIT;
    while (remaining > 0) {
      if (this.pos - this.flushed >= LZMA_FLUSH_CHUNK) this.flush();
      this.makeRoom();
      // One byte beyond the output limit is allowed into the window (never to the sink) so that an end
      // marker right at the limit is still read; producing that byte is the error.
      const budget = this.maxOutput - this.totalOut + 1;
      const limit = this.pos +
        Math.min(this.wrapAt - this.pos, this.flushed + LZMA_FLUSH_CHUNK - this.pos, remaining, budget, this.runSize);
      // Short first calls let every path of the hot loop (its exits too) run before the JIT compiles it
      // while it is inside its first long loop, which would leave them without type feedback (a deopt
      // per exit, then a recompile).
      if (this.runSize < LZMA_FLUSH_CHUNK) this.runSize *= 2;
      const before = this.pos;
      if (ip <= safe) {
        ip = this.decode(input, ip, safe, limit);
      } else {
        // Near the end: decode from a zero-padded copy, so no read passes the input.
        const n = end - ip;
        const tail = this.tail;
        tail.fill(0);
        tail.set(input.subarray(ip, end));
        const used = this.decode(tail, 0, n, limit);
        if (used > n) {
          this.fail("Truncated", end, "input ends inside the LZMA data");
        }
        ip += used;
      }
      const produced = this.pos - before;
      this.totalOut += produced;
      remaining -= produced;
      this.full = Math.min(this.full + produced, this.dictSize);
      if (this.totalOut > this.maxOutput) {
        throw new DecompressError(
          "OutputTooLarge",
          `${this.format}: output passes the limit of ${this.maxOutput} bytes (input offset ${
            hex(this.baseOffset + ip)
          })`,
          { field: "maxOutput", value: this.totalOut, limit: this.maxOutput },
        );
      }
      if (this.status === LZMA_STATUS_END) break;
      if (this.pos - this.flushed >= LZMA_FLUSH_CHUNK) this.flush();
    }
    return ip;
  }

  /** Copies `input[ip, ip + n)` into the window as-is (an LZMA2 uncompressed chunk). */
  copyUncompressed(input: Uint8Array, ip: number, n: number): void {
    while (n > 0) {
      this.makeRoom();
      const budget = this.maxOutput - this.totalOut;
      if (budget <= 0) {
        throw new DecompressError(
          "OutputTooLarge",
          `${this.format}: output passes the limit of ${this.maxOutput} bytes (input offset ${
            hex(this.baseOffset + ip)
          })`,
          { field: "maxOutput", value: this.totalOut + n, limit: this.maxOutput },
        );
      }
      const k = Math.min(n, this.wrapAt - this.pos, budget);
      this.win.set(input.subarray(ip, ip + k), this.pos);
      this.pos += k;
      this.totalOut += k;
      this.full = Math.min(this.full + k, this.dictSize);
      ip += k;
      n -= k;
      if (this.pos - this.flushed >= LZMA_FLUSH_CHUNK) this.flush();
    }
  }

  /** Hands the window's unflushed bytes to the sink. */
  flush(): void {
    if (this.pos > this.flushed) {
      const chunk = this.win.subarray(this.flushed, this.pos);
      this.flushed = this.pos;
      this.sink.write(chunk);
    }
  }

  /** Makes `pos < wrapAt`: flushes, then grows the window (doubling) or wraps it. */
  private makeRoom(): void {
    if (this.pos < this.wrapAt) return;
    this.flush();
    if (this.wrapAt < this.winMax) {
      const size = this.winMax;
      let grown: Uint8Array;
      try {
        grown = new Uint8Array(size);
      } catch (e) {
        throw new DecompressError(
          "OutputTooLarge",
          `${this.format}: cannot allocate a window of ${size} bytes`,
          { field: "dict_size", value: size, cause: e },
        );
      }
      grown.set(this.win.subarray(0, this.pos));
      this.win = grown;
      this.wrapAt = Math.min(size, this.winMax);
    } else {
      this.pos = 0;
      this.flushed = 0;
    }
  }

  /** Throws the decoder's typed error for input offset `ip` (relative to the current input). */
  fail(code: "Truncated" | "CorruptData", ip: number, what: string): never {
    throw new DecompressError(code, `${this.format}: ${what} (input offset ${hex(this.baseOffset + ip)})`, {
      field: "lzma",
      value: this.baseOffset + ip,
    });
  }

  /**
   * The hot loop: decodes symbols from `input` starting at `ip` while `ip <= inSafe` and the window
   * position is below `limit` (which must not pass the wrap point). Sets `status`, returns the new `ip`.
   * Every state variable lives in a local during the loop; the range decoder is normalised after each bit.
   */
  decode(input: Uint8Array, ip: number, inSafe: number, limit: number): number {
    const probs = this.probs;
    const buf = this.win;
    const wrapAt = this.wrapAt;
    const dictSize = this.dictSize;
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    const lc = this.lc;
    const lcShift = 8 - lc;
    let range = this.range;
    let code = this.code;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let len = this.len;
    let pos = this.pos;
    // full history at window position p is fullBase + p (the run never wraps).
    const fullBase = this.full - pos;
    let status = LZMA_STATUS_LIMIT;

    let prob = 0;
    let bound = 0;
    let pi = 0;
    let sym = 0;

    for (;;) {
      // Finish (or continue) a match.
      if (len > 0) {
        let n = limit - pos;
        if (n > len) n = len;
        len -= n;
        let src = pos - rep0 - 1;
        if (src < 0) src += wrapAt;
        if (rep0 >= n && src + n <= wrapAt && n > 16) {
          buf.copyWithin(pos, src, src + n);
          pos += n;
        } else {
          while (n-- > 0) {
            buf[pos++] = buf[src++];
            if (src === wrapAt) src = 0;
          }
        }
        if (len > 0) break;
      }
      if (pos >= limit) break;
      if (ip > inSafe) {
        status = LZMA_STATUS_NEED_INPUT;
        break;
      }
      const posState = pos & pbMask;

      // is_match[state][pos_state]
      pi = IS_MATCH + (state << 4) + posState;
      prob = probs[pi];
      bound = Math.imul(range >>> 11, prob) >>> 0;
      if (code < bound) {
        range = bound;
        probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
        if (range < TOP_VALUE) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]) >>> 0;
        }
        // Literal.
        const prev = pos > 0 ? buf[pos - 1] : (fullBase + pos > 0 ? buf[wrapAt - 1] : 0);
        const base = LITERAL + LITERAL_CODER_SIZE * (((pos & lpMask) << lc) + (prev >>> lcShift));
        sym = 1;
        if (state < LIT_STATES) {
          do {
            pi = base + sym;
            prob = probs[pi];
            bound = Math.imul(range >>> 11, prob) >>> 0;
            if (code < bound) {
              range = bound;
              probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
              sym <<= 1;
            } else {
              range = (range - bound) >>> 0;
              code = (code - bound) >>> 0;
              probs[pi] = prob - (prob >>> MOVE_BITS);
              sym = (sym << 1) | 1;
            }
            if (range < TOP_VALUE) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]) >>> 0;
            }
          } while (sym < 0x100);
          state = state < 4 ? 0 : state - 3;
        } else {
          // "Matched" literal: the byte at rep0 steers the probabilities until the first mismatch.
          let msrc = pos - rep0 - 1;
          if (msrc < 0) msrc += wrapAt;
          let matchByte = buf[msrc] << 1;
          let offset = 0x100;
          do {
            const matchBit = matchByte & offset;
            matchByte <<= 1;
            pi = base + offset + matchBit + sym;
            prob = probs[pi];
            bound = Math.imul(range >>> 11, prob) >>> 0;
            if (code < bound) {
              range = bound;
              probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
              sym <<= 1;
              offset &= ~matchBit;
            } else {
              range = (range - bound) >>> 0;
              code = (code - bound) >>> 0;
              probs[pi] = prob - (prob >>> MOVE_BITS);
              sym = (sym << 1) | 1;
              offset = matchBit;
            }
            if (range < TOP_VALUE) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]) >>> 0;
            }
          } while (sym < 0x100);
          state = state < 10 ? state - 3 : state - 6;
        }
        buf[pos++] = sym;
        continue;
      }
      range = (range - bound) >>> 0;
      code = (code - bound) >>> 0;
      probs[pi] = prob - (prob >>> MOVE_BITS);
      if (range < TOP_VALUE) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | input[ip++]) >>> 0;
      }

      // is_rep[state]
      pi = IS_REP + state;
      prob = probs[pi];
      bound = Math.imul(range >>> 11, prob) >>> 0;
      let lenBase: number;
      if (code < bound) {
        range = bound;
        probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
        if (range < TOP_VALUE) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]) >>> 0;
        }
        // A new match: length, then distance.
        state = state < LIT_STATES ? 7 : 10;
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        lenBase = MATCH_LEN;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[pi] = prob - (prob >>> MOVE_BITS);
        if (range < TOP_VALUE) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]) >>> 0;
        }
        if (fullBase + pos === 0) {
          this.fail("CorruptData", ip, "a repeated match before any output");
        }
        // is_rep0[state]
        pi = IS_REP_G0 + state;
        prob = probs[pi];
        bound = Math.imul(range >>> 11, prob) >>> 0;
        if (code < bound) {
          range = bound;
          probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
          if (range < TOP_VALUE) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]) >>> 0;
          }
          // is_rep0_long[state][pos_state]
          pi = IS_REP0_LONG + (state << 4) + posState;
          prob = probs[pi];
          bound = Math.imul(range >>> 11, prob) >>> 0;
          if (code < bound) {
            range = bound;
            probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
            if (range < TOP_VALUE) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]) >>> 0;
            }
            // "Short rep": one byte at rep0.
            state = state < LIT_STATES ? 9 : 11;
            if (rep0 >= fullBase + pos || rep0 >= dictSize) {
              this.fail(
                "CorruptData",
                ip,
                `match distance ${rep0 + 1} is beyond the ${fullBase + pos} bytes of history`,
              );
            }
            len = 1;
            continue;
          }
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[pi] = prob - (prob >>> MOVE_BITS);
          if (range < TOP_VALUE) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]) >>> 0;
          }
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[pi] = prob - (prob >>> MOVE_BITS);
          if (range < TOP_VALUE) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]) >>> 0;
          }
          let dist: number;
          // is_rep1[state]
          pi = IS_REP_G1 + state;
          prob = probs[pi];
          bound = Math.imul(range >>> 11, prob) >>> 0;
          if (code < bound) {
            range = bound;
            probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
            if (range < TOP_VALUE) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]) >>> 0;
            }
            dist = rep1;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[pi] = prob - (prob >>> MOVE_BITS);
            if (range < TOP_VALUE) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]) >>> 0;
            }
            // is_rep2[state]
            pi = IS_REP_G2 + state;
            prob = probs[pi];
            bound = Math.imul(range >>> 11, prob) >>> 0;
            if (code < bound) {
              range = bound;
              probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
              if (range < TOP_VALUE) {
                range = (range << 8) >>> 0;
                code = ((code << 8) | input[ip++]) >>> 0;
              }
              dist = rep2;
            } else {
              range = (range - bound) >>> 0;
              code = (code - bound) >>> 0;
              probs[pi] = prob - (prob >>> MOVE_BITS);
              if (range < TOP_VALUE) {
                range = (range << 8) >>> 0;
                code = ((code << 8) | input[ip++]) >>> 0;
              }
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        state = state < LIT_STATES ? 8 : 11;
        lenBase = REP_LEN;
      }

      // Length: choice bit, choice2 bit, then a 3-, 3- or 8-bit tree.
      let treeBits: number;
      let lenAdd: number;
      pi = lenBase + LEN_CHOICE;
      prob = probs[pi];
      bound = Math.imul(range >>> 11, prob) >>> 0;
      if (code < bound) {
        range = bound;
        probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
        if (range < TOP_VALUE) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]) >>> 0;
        }
        pi = lenBase + LEN_LOW + (posState << LEN_LOW_BITS);
        treeBits = LEN_LOW_BITS;
        lenAdd = MATCH_LEN_MIN;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[pi] = prob - (prob >>> MOVE_BITS);
        if (range < TOP_VALUE) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]) >>> 0;
        }
        pi = lenBase + LEN_CHOICE2;
        prob = probs[pi];
        bound = Math.imul(range >>> 11, prob) >>> 0;
        if (code < bound) {
          range = bound;
          probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
          if (range < TOP_VALUE) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]) >>> 0;
          }
          pi = lenBase + LEN_MID + (posState << LEN_MID_BITS);
          treeBits = LEN_MID_BITS;
          lenAdd = MATCH_LEN_MIN + (1 << LEN_LOW_BITS);
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[pi] = prob - (prob >>> MOVE_BITS);
          if (range < TOP_VALUE) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]) >>> 0;
          }
          pi = lenBase + LEN_HIGH;
          treeBits = LEN_HIGH_BITS;
          lenAdd = MATCH_LEN_MIN + (1 << LEN_LOW_BITS) + (1 << LEN_MID_BITS);
        }
      }
      {
        const treeBase = pi;
        const top = 1 << treeBits;
        sym = 1;
        do {
          pi = treeBase + sym;
          prob = probs[pi];
          bound = Math.imul(range >>> 11, prob) >>> 0;
          if (code < bound) {
            range = bound;
            probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
            sym <<= 1;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[pi] = prob - (prob >>> MOVE_BITS);
            sym = (sym << 1) | 1;
          }
          if (range < TOP_VALUE) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]) >>> 0;
          }
        } while (sym < top);
        len = sym - top + lenAdd;
      }

      if (lenBase === MATCH_LEN) {
        // Distance slot: a 6-bit tree chosen by the length (2, 3, 4, 5+).
        const slotBase = DIST_SLOT + ((len < 6 ? len - MATCH_LEN_MIN : 3) << 6);
        sym = 1;
        do {
          pi = slotBase + sym;
          prob = probs[pi];
          bound = Math.imul(range >>> 11, prob) >>> 0;
          if (code < bound) {
            range = bound;
            probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
            sym <<= 1;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[pi] = prob - (prob >>> MOVE_BITS);
            sym = (sym << 1) | 1;
          }
          if (range < TOP_VALUE) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]) >>> 0;
          }
        } while (sym < 64);
        const slot = sym - 64;
        if (slot < DIST_MODEL_START) {
          rep0 = slot;
        } else {
          const footer = (slot >>> 1) - 1;
          rep0 = 2 | (slot & 1);
          let reverseBase: number;
          let reverseBits: number;
          if (slot < DIST_MODEL_END) {
            rep0 <<= footer;
            reverseBase = DIST_SPECIAL + rep0 - slot - 1;
            reverseBits = footer;
          } else {
            // Direct bits (probability 1/2 each), then the 4 align bits.
            let direct = footer - ALIGN_BITS;
            do {
              range >>>= 1;
              if (code >= range) {
                code = (code - range) >>> 0;
                rep0 = (rep0 << 1) | 1;
              } else {
                rep0 <<= 1;
              }
              if (range < TOP_VALUE) {
                range = (range << 8) >>> 0;
                code = ((code << 8) | input[ip++]) >>> 0;
              }
            } while (--direct > 0);
            rep0 <<= ALIGN_BITS;
            reverseBase = DIST_ALIGN;
            reverseBits = ALIGN_BITS;
          }
          sym = 1;
          for (let i = 0; i < reverseBits; i++) {
            pi = reverseBase + sym;
            prob = probs[pi];
            bound = Math.imul(range >>> 11, prob) >>> 0;
            if (code < bound) {
              range = bound;
              probs[pi] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
              sym <<= 1;
            } else {
              range = (range - bound) >>> 0;
              code = (code - bound) >>> 0;
              probs[pi] = prob - (prob >>> MOVE_BITS);
              sym = (sym << 1) | 1;
              rep0 |= 1 << i;
            }
            if (range < TOP_VALUE) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]) >>> 0;
            }
          }
        }
        if (rep0 === -1) {
          // Distance 0xFFFFFFFF: the end-of-payload marker.
          len = 0;
          status = LZMA_STATUS_END;
          break;
        }
      }
      if (rep0 < 0 || rep0 >= fullBase + pos || rep0 >= dictSize) {
        this.fail(
          "CorruptData",
          ip,
          `match distance ${(rep0 >>> 0) + 1} is beyond the ${Math.min(fullBase + pos, dictSize)} bytes of history`,
        );
      }
    }

    this.range = range;
    this.code = code;
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
    this.len = len;
    this.pos = pos;
    this.status = status;
    return ip;
  }
}
