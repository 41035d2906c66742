/**
 * Serial devices just deep enough for a guest to print: a 16550 UART (x86 port 0x3f8, or MMIO as on QEMU's
 * riscv64 `virt` board at 0x10000000) and the data/flag registers of an ARM PL011 (QEMU `virt` at
 * 0x09000000). They collect every byte the guest transmits.
 *
 * @module
 */

import type { Unicorn } from "./unicorn.ts";

/**
 * The COM1 I/O port base.
 *
 * @example
 * ```ts
 * import { COM1_PORT } from "@linux-loader/linux-loader/emu";
 * console.log(COM1_PORT.toString(16)); // 3f8
 * ```
 */
export const COM1_PORT = 0x3f8;
/**
 * The 16550 MMIO base of QEMU's riscv64 `virt` board.
 *
 * @example
 * ```ts
 * import { RISCV_VIRT_UART_BASE } from "@linux-loader/linux-loader/emu";
 * console.log(RISCV_VIRT_UART_BASE.toString(16)); // 10000000
 * ```
 */
export const RISCV_VIRT_UART_BASE = 0x1000_0000;
/**
 * The PL011 MMIO base of QEMU's aarch64 `virt` board.
 *
 * @example
 * ```ts
 * import { ARM_VIRT_PL011_BASE } from "@linux-loader/linux-loader/emu";
 * console.log(ARM_VIRT_PL011_BASE.toString(16)); // 9000000
 * ```
 */
export const ARM_VIRT_PL011_BASE = 0x0900_0000;

// 16550 register offsets (DLAB = 0 unless noted).
const THR = 0; // transmit holding (write) / receive buffer (read); divisor latch low with DLAB
const IER = 1; // interrupt enable; divisor latch high with DLAB
const IIR = 2; // interrupt identification (read) / FIFO control (write)
const LCR = 3; // line control; bit 7 = DLAB
const MCR = 4; // modem control; bit 4 = loopback
const LSR = 5; // line status
const MSR = 6; // modem status
const MCR_LOOP = 0x10;
const LCR_DLAB = 0x80;
/**
 * LSR: THRE (bit 5) and TEMT (bit 6): the transmitter is empty, the guest may write.
 *
 * @example
 * ```ts
 * import { LSR_TX_EMPTY } from "@linux-loader/linux-loader/emu";
 * console.log(LSR_TX_EMPTY); // 96
 * ```
 */
export const LSR_TX_EMPTY = 0x60;
const IIR_NO_INTERRUPT = 0x01;

/** Text decoder shared by the devices (bytes that are not UTF-8 show as U+FFFD). */
const decoder = new TextDecoder();

/**
 * MSR in loopback mode (16550 data sheet, MCR bit 4): "the four Modem Control inputs (CTS, DSR, RI and DCD)
 * are internally connected to the four Modem Control outputs (RTS, DTR, OUT1 and OUT2)": MSR bits 4-7 read
 * RTS, DTR, OUT1, OUT2. Drivers probe for a UART this way (Xen's and Linux's write LOOP | OUT2 | RTS and expect
 * 0x90).
 */
function loopbackMsr(mcr: number): number {
  return ((mcr & 0x02) << 3) | ((mcr & 0x01) << 5) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4);
}

/**
 * A 16550 UART that records transmitted bytes. Line status always says "transmitter empty" (0x60), so a
 * polling guest never waits; nothing is ever received.
 *
 * @example
 * ```ts
 * import { Uart16550 } from "@linux-loader/linux-loader/emu";
 * const uart = new Uart16550();
 * uart.writeRegister(0, 0x41);
 * console.log(uart.text, uart.readRegister(5).toString(16)); // A 60
 * ```
 */
export class Uart16550 {
  /** Bytes the guest transmitted, in order. */
  readonly bytes: number[] = [];
  #regs = new Uint8Array(8);
  #dll = 0;
  #dlh = 0;

  /** The transmitted bytes as text. */
  get text(): string {
    return decoder.decode(new Uint8Array(this.bytes));
  }

  /** A register read at `offset` (0..7). */
  readRegister(offset: number): number {
    const dlab = (this.#regs[LCR] & LCR_DLAB) !== 0;
    switch (offset) {
      case THR:
        return dlab ? this.#dll : 0;
      case IER:
        return dlab ? this.#dlh : this.#regs[IER];
      case IIR:
        return IIR_NO_INTERRUPT;
      case LSR:
        return LSR_TX_EMPTY;
      case MSR:
        return (this.#regs[MCR] & MCR_LOOP) !== 0 ? loopbackMsr(this.#regs[MCR]) : this.#regs[MSR];
      default:
        return this.#regs[offset & 7];
    }
  }

  /** A register write at `offset` (0..7); a write to THR with DLAB clear is a transmitted byte. */
  writeRegister(offset: number, value: number): void {
    const dlab = (this.#regs[LCR] & LCR_DLAB) !== 0;
    const v = value & 0xff;
    if (offset === THR) {
      if (dlab) this.#dll = v;
      else if ((this.#regs[MCR] & MCR_LOOP) === 0) this.bytes.push(v); // loopback: nothing goes out
    } else if (offset === IER && dlab) {
      this.#dlh = v;
    } else if (offset !== IIR && offset !== LSR) {
      this.#regs[offset & 7] = v;
    }
  }

  /** Serves the UART's eight ports at `base` on an x86 engine; other ports read 0xff and ignore writes. */
  attachPorts(uc: Unicorn, base: number = COM1_PORT): void {
    uc.onPortIo({
      read: (port) => (port >= base && port < base + 8 ? this.readRegister(port - base) : 0xff),
      write: (port, _size, value) => {
        if (port >= base && port < base + 8) this.writeRegister(port - base, value);
      },
    });
  }

  /** Maps the UART as one 4 KiB MMIO page at `base`, registers `1 << regShift` bytes apart. */
  attachMmio(uc: Unicorn, base: number = RISCV_VIRT_UART_BASE, regShift = 0): void {
    uc.mapMmio(base, 0x1000, {
      read: (offset) => this.readRegister(offset >> regShift),
      write: (offset, _size, value) => this.writeRegister(offset >> regShift, Number(value & 0xffn)),
    });
  }
}

const UARTDR = 0x000; // data register
const UARTFR = 0x018; // flag register
/**
 * PL011 UARTFR: TXFE (bit 7) and RXFE (bit 4): transmit FIFO empty, receive FIFO empty.
 *
 * @example
 * ```ts
 * import { PL011_FR_IDLE } from "@linux-loader/linux-loader/emu";
 * console.log(PL011_FR_IDLE); // 144
 * ```
 */
export const PL011_FR_IDLE = 0x90;

/**
 * The PL011's data and flag registers: writes to UARTDR are recorded, UARTFR reads "TX empty, RX empty",
 * every other register reads 0 and ignores writes.
 *
 * @example
 * ```ts
 * import { Pl011 } from "@linux-loader/linux-loader/emu";
 * const uart = new Pl011();
 * uart.writeRegister(0, 0x68);
 * console.log(uart.text); // h
 * ```
 */
export class Pl011 {
  /** Bytes the guest transmitted, in order. */
  readonly bytes: number[] = [];

  /** The transmitted bytes as text. */
  get text(): string {
    return decoder.decode(new Uint8Array(this.bytes));
  }

  /** A register read at byte `offset`. */
  readRegister(offset: number): number {
    return offset === UARTFR ? PL011_FR_IDLE : 0;
  }

  /** A register write at byte `offset`. */
  writeRegister(offset: number, value: number): void {
    if (offset === UARTDR) this.bytes.push(value & 0xff);
  }

  /** Maps the PL011 as one 4 KiB MMIO page at `base`. */
  attachMmio(uc: Unicorn, base: number = ARM_VIRT_PL011_BASE): void {
    uc.mapMmio(base, 0x1000, {
      read: (offset) => this.readRegister(offset),
      write: (offset, _size, value) => this.writeRegister(offset, Number(value & 0xffn)),
    });
  }
}
