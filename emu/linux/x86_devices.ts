/**
 * The x86 real-kernel machine's interrupt path: a 16550 whose THRE interrupt behaves as the chip's (and
 * QEMU's hw/char/serial.c) does, the PC's two cascaded 8259 PICs with their edge/level triggering,
 * masks, in-service register and EOIs (after QEMU's hw/intc/i8259.c), and the PIT's channel 0 in virtual
 * time (IRQ 0). Pure state machines: the machine
 * routes port I/O here and asks {@linkcode LegacyPic.pending} at the points where it can deliver an
 * interrupt (a `hlt` with interrupts on, a `syscall`).
 *
 * 16550 THRE interrupt (the only source: nothing is ever received). It is pending ("thr_ipending") when the
 * transmitter holding register becomes empty: after every THR write (the machine transmits at once), when
 * IER.ETBEI goes from 0 to 1 while THR is empty, and on a transmit-FIFO reset. Reading IIR while it reports
 * THRE (IIR = 0x02) clears it, and so does the next THR write until the byte has gone. The interrupt output
 * is a level: IER.ETBEI && pending.
 *
 * 8259: the line's level sets IRR on a rising edge (edge-triggered, the ISA default) or while high (ELCR
 * bit set: level-triggered); a request is taken when it is unmasked and of higher priority than everything
 * in service; taking it sets ISR and clears IRR (edge). Non-specific (0x20) and specific (0x60 + n) EOIs
 * clear ISR. ICW1..ICW4 set the vector base; OCW3 selects IRR or ISR for reads of the command port. The
 * slave's output is the master's IRQ 2.
 *
 * @module
 */

import { Uart16550 } from "../uart.ts";

// 16550 registers and bits (PC16550D datasheet; Linux include/uapi/linux/serial_reg.h).
const THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3;
const LCR_DLAB = 0x80;
const MCR = 4, MCR_LOOP = 0x10;
/** IER bit 1, ETBEI: "Enable Transmitter Holding Register Empty Interrupt". */
export const IER_ETBEI = 0x02;
/** IIR: no interrupt pending (bit 0 set). */
export const IIR_NO_INT = 0x01;
/** IIR: THR empty (interrupt ID 001, priority 3). */
export const IIR_THRI = 0x02;
/** FCR bit 2: clear the transmit FIFO. */
const FCR_CLEAR_XMIT = 0x04;
/** IIR bits 7:6 read 11 when FCR enabled the FIFOs. */
const IIR_FIFO_ENABLED = 0xc0;
const FCR_ENABLE_FIFO = 0x01;

/** A 16550 on COM1 with the THRE interrupt as the chip raises and clears it; see the module documentation. */
export class Serial16550 {
  /** Data path and the registers without interrupt semantics (LCR, MCR, divisor latch, scratch). */
  readonly uart: Uart16550 = new Uart16550();
  #ier = 0;
  #thrPending = false;
  #fifo = false;
  /** THRE interrupts raised (rising edges of the output). */
  raised = 0;

  get #dlab(): boolean {
    return (this.uart.readRegister(LCR) & LCR_DLAB) !== 0;
  }

  /** The interrupt output: ETBEI and a pending THRE interrupt. */
  get irq(): boolean {
    return (this.#ier & IER_ETBEI) !== 0 && this.#thrPending;
  }

  /** IIR's value now (reading it through {@linkcode read} also acknowledges a THRE interrupt). */
  get iir(): number {
    return (this.irq ? IIR_THRI : IIR_NO_INT) | (this.#fifo ? IIR_FIFO_ENABLED : 0);
  }

  /** A read of register `offset` (0..7). */
  read(offset: number): number {
    if (this.#dlab || (offset !== IER && offset !== IIR)) return this.uart.readRegister(offset);
    if (offset === IER) return this.#ier;
    const v = this.iir;
    // serial.c: "if ((ret & UART_IIR_ID) == UART_IIR_THRI) { s->thr_ipending = 0; ... }"
    if ((v & 0x0f) === IIR_THRI) this.#thrPending = false;
    return v;
  }

  /** A write of register `offset`; returns the transmitted byte for a THR write, else undefined. */
  write(offset: number, value: number): number | undefined {
    const v = value & 0xff;
    const was = this.irq;
    let sent: number | undefined;
    if (this.#dlab || (offset !== THR && offset !== IER && offset !== FCR)) {
      this.uart.writeRegister(offset, v);
    } else if (offset === THR) {
      // In loopback (MCR bit 4) nothing leaves the chip (the Uart16550 keeps MSR's loopback wiring).
      if ((this.uart.readRegister(MCR) & MCR_LOOP) === 0) sent = v;
      // The byte leaves at once, so THR is empty again: THRE pending (serial.c sets thr_ipending when the
      // transmit completes).
      this.#thrPending = true;
    } else if (offset === IER) {
      const changed = (this.#ier ^ v) & IER_ETBEI;
      this.#ier = v & 0x0f;
      // serial.c: "Turning on the THRE interrupt on IER can trigger the interrupt if LSR.THRE=1"; THR is
      // always empty here.
      if (changed) this.#thrPending = (this.#ier & IER_ETBEI) !== 0;
    } else {
      this.#fifo = (v & FCR_ENABLE_FIFO) !== 0;
      if ((v & FCR_CLEAR_XMIT) !== 0) this.#thrPending = true;
    }
    if (!was && this.irq) this.raised++;
    return sent;
  }
}

/** One 8259A. */
export class Pic8259 {
  /** Interrupt request register. */
  irr = 0;
  /** In-service register. */
  isr = 0;
  /** Interrupt mask register (OCW1); all masked until initialised. */
  imr = 0xff;
  /** Edge/level control (ELCR, ports 0x4d0/0x4d1): bit set = level-triggered. */
  elcr = 0;
  /** Vector of IRQ 0 (ICW2). */
  vectorBase = 0;
  #lastLevel = 0;
  #readIsr = false;
  #autoEoi = false;
  #icw = 0; // next ICW expected on the data port (2..4), 0 = operational
  #needIcw4 = false;
  #single = false;

  /** Drives input line `irq` (0..7) to `level`. */
  setIrq(irq: number, level: boolean): void {
    const m = 1 << irq;
    if ((this.elcr & m) !== 0) {
      if (level) this.irr |= m;
      else this.irr &= ~m;
    } else if (level && (this.#lastLevel & m) === 0) {
      this.irr |= m; // rising edge
    }
    this.#lastLevel = level ? this.#lastLevel | m : this.#lastLevel & ~m;
  }

  /** The highest-priority request that may be taken now (IRQ 0 highest), or -1. */
  pending(): number {
    const req = this.irr & ~this.imr;
    if (req === 0) return -1;
    const irq = lowestBit(req);
    const inService = this.isr === 0 ? 8 : lowestBit(this.isr);
    return irq < inService ? irq : -1;
  }

  /** INTA: the CPU takes `irq`; returns its vector. */
  ack(irq: number): number {
    const m = 1 << irq;
    if (!this.#autoEoi) this.isr |= m;
    if ((this.elcr & m) === 0) this.irr &= ~m;
    return (this.vectorBase + irq) & 0xff;
  }

  /** A read of the command (0) or data (1) port. */
  read(port: 0 | 1): number {
    if (port === 1) return this.imr;
    return this.#readIsr ? this.isr : this.irr;
  }

  /** A write to the command (0) or data (1) port. */
  write(port: 0 | 1, value: number): void {
    const v = value & 0xff;
    if (port === 0) {
      if ((v & 0x10) !== 0) {
        // ICW1: start initialisation; the mask and in-service bits are cleared (i8259.c pic_init_reset).
        this.imr = 0;
        this.isr = 0;
        this.irr &= this.elcr;
        this.#lastLevel = 0;
        this.#readIsr = false;
        this.#autoEoi = false;
        this.#needIcw4 = (v & 1) !== 0;
        this.#single = (v & 2) !== 0;
        this.#icw = 2;
      } else if ((v & 0x08) !== 0) {
        if ((v & 0x02) !== 0) this.#readIsr = (v & 1) !== 0; // OCW3: read register select
      } else {
        const cmd = v >> 5;
        if (cmd === 1 || cmd === 5) {
          if (this.isr !== 0) this.isr &= ~(1 << lowestBit(this.isr)); // non-specific EOI
        } else if (cmd === 3 || cmd === 7) {
          this.isr &= ~(1 << (v & 7)); // specific EOI
        }
      }
      return;
    }
    switch (this.#icw) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.#icw = this.#single ? (this.#needIcw4 ? 4 : 0) : 3;
        return;
      case 3:
        this.#icw = this.#needIcw4 ? 4 : 0;
        return;
      case 4:
        this.#autoEoi = (v & 2) !== 0;
        this.#icw = 0;
        return;
      default:
        this.imr = v; // OCW1
    }
  }
}

function lowestBit(v: number): number {
  return 31 - Math.clz32(v & -v);
}

/** The master's input the slave's output drives. */
export const CASCADE_IRQ = 2;

/** The PC's master (ports 0x20/0x21) and slave (0xa0/0xa1) 8259s and the ELCR (0x4d0/0x4d1). */
export class LegacyPic {
  /** IRQ 0-7. */
  readonly master: Pic8259 = new Pic8259();
  /** IRQ 8-15. */
  readonly slave: Pic8259 = new Pic8259();

  /** Whether this device answers `port`. */
  static owns(port: number): boolean {
    return port === 0x20 || port === 0x21 || port === 0xa0 || port === 0xa1 || port === 0x4d0 || port === 0x4d1;
  }

  /** Drives ISA IRQ `irq` (0..15) to `level`. */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setIrq(irq, level);
    else {
      this.slave.setIrq(irq - 8, level);
      this.#cascade();
    }
  }

  #cascade(): void {
    this.master.setIrq(CASCADE_IRQ, this.slave.pending() >= 0);
  }

  /** Whether the master's INT output is asserted (an interrupt the CPU would take with IF set). */
  pending(): boolean {
    this.#cascade();
    return this.master.pending() >= 0;
  }

  /** INTA: takes the highest-priority request; returns its vector and ISA IRQ, or undefined. */
  ack(): { vector: number; irq: number } | undefined {
    this.#cascade();
    const irq = this.master.pending();
    if (irq < 0) return undefined;
    if (irq !== CASCADE_IRQ) return { vector: this.master.ack(irq), irq };
    const s = this.slave.pending();
    this.master.ack(CASCADE_IRQ);
    if (s < 0) return { vector: this.slave.vectorBase + 7, irq: 15 }; // spurious IRQ 15
    const vector = this.slave.ack(s);
    this.#cascade();
    return { vector, irq: 8 + s };
  }

  /** A port read. */
  read(port: number): number {
    if (port === 0x4d0) return this.master.elcr;
    if (port === 0x4d1) return this.slave.elcr;
    const chip = port < 0xa0 ? this.master : this.slave;
    return chip.read((port & 1) as 0 | 1);
  }

  /** A port write. */
  write(port: number, value: number): void {
    if (port === 0x4d0) this.master.elcr = value & 0xf8; // IRQ 0-2 are always edge-triggered
    else if (port === 0x4d1) this.slave.elcr = value & 0xde; // IRQ 8 and 13 too
    else (port < 0xa0 ? this.master : this.slave).write((port & 1) as 0 | 1, value);
    this.#cascade();
  }
}

/** The PIT's ports: counters 0-2 at 0x40-0x42, the mode/command register at 0x43. */
export const PIT_PORTS: readonly [number, number] = [0x40, 0x43];
/** The PIT's channel 0 output is ISA IRQ 0. */
export const PIT_IRQ = 0;

/**
 * Channel 0 of the 8253/8254 PIT, the clock event device Linux uses when the CPU has no local APIC, in
 * virtual time: the machine has no clock, so a programmed channel "expires" exactly when the machine asks
 * ({@linkcode Pit8254.expire}: at a `hlt` with interrupts on, and where it can take an interrupt during a
 * run). Modes 2 and 3 (Linux's periodic mode: control word 0x34) expire every time; mode 4 (Linux's
 * oneshot mode: 0x38, then the count of the next event) once per count written; mode 0 is how Linux shuts
 * the channel down (0x30, count 0) and never expires (real hardware would fire once after 65,536 input
 * clocks). Counter reads return 0xff; channels 1 and 2 are not modelled.
 */
export class Pit8254 {
  #mode = -1;
  #access = 0;
  #lowNext = true;
  #armed = false;
  /** Expirations so far. */
  ticks = 0;

  /** Whether the channel would raise IRQ 0 if time moved on. */
  get armed(): boolean {
    return this.#armed;
  }

  /** Lets time move to the channel's next expiry: true when it raises IRQ 0 (a rising edge). */
  expire(): boolean {
    if (!this.#armed) return false;
    if (this.#mode === 4) this.#armed = false;
    this.ticks++;
    return true;
  }

  /** A write of `value` to `port` (0x40-0x43). */
  write(port: number, value: number): void {
    const v = value & 0xff;
    if (port === PIT_PORTS[1]) {
      if (v >> 6 !== 0) return; // channels 1 and 2, read-back
      const access = (v >> 4) & 3;
      if (access === 0) return; // counter latch: reads are not modelled
      this.#access = access;
      this.#mode = (v >> 1) & 7;
      if (this.#mode > 5) this.#mode -= 4; // 6, 7 are 2, 3
      this.#lowNext = true;
      this.#armed = false;
      return;
    }
    if (port !== PIT_PORTS[0]) return;
    // The count is complete after the LSB (access 1), the MSB (2), or the LSB then the MSB (3).
    let complete = this.#access !== 3;
    if (this.#access === 3) {
      complete = !this.#lowNext;
      this.#lowNext = !this.#lowNext;
    }
    if (complete) this.#armed = this.#mode === 2 || this.#mode === 3 || this.#mode === 4;
  }
}
