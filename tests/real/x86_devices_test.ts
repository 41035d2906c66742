/**
 * The x86 machine's interrupt path (emu/linux/x86_devices.ts) driven the way Linux drives it: the 16550's
 * THRE interrupt (raised by a THR write, by IER.ETBEI going on while THR is empty, by a transmit-FIFO
 * reset; acknowledged by reading IIR while it says THRE), and the 8259 pair (ICW1-ICW4 as init_8259A
 * writes them, masks, edge-triggered IRR, in-service priority, specific and non-specific EOI, the ELCR,
 * the cascade). The sequences are those of Linux's serial8250_do_startup THRE test and of handle_level_irq
 * with mask_and_ack_8259A.
 */
import assert from "node:assert/strict";
import { IER_ETBEI, IIR_NO_INT, IIR_THRI, LegacyPic, Pit8254, Serial16550 } from "../../emu/linux/x86_devices.ts";

const IER = 1, IIR = 2, LCR = 3;

/** init_8259A(0): ICW1 0x11, ICW2 vector base, ICW3, ICW4 0x01 on both chips, then all masked but the cascade. */
function linuxPic(): LegacyPic {
  const pic = new LegacyPic();
  pic.write(0x21, 0xff);
  pic.write(0xa1, 0xff);
  pic.write(0x20, 0x11);
  pic.write(0x21, 0x30);
  pic.write(0x21, 0x04);
  pic.write(0x21, 0x01);
  pic.write(0xa0, 0x11);
  pic.write(0xa1, 0x38);
  pic.write(0xa1, 0x02);
  pic.write(0xa1, 0x01);
  pic.write(0x21, 0xfb);
  pic.write(0xa1, 0xff);
  return pic;
}

Deno.test("the 16550 raises THRE when ETBEI goes on, and reading IIR while it reports THRE acknowledges it", () => {
  const s = new Serial16550();
  assert.equal(s.irq, false);
  assert.equal(s.read(IIR) & 0x0f, IIR_NO_INT);
  s.write(IER, IER_ETBEI);
  assert.equal(s.irq, true);
  assert.equal(s.read(IIR) & 0x0f, IIR_THRI);
  assert.equal(s.irq, false);
  assert.equal(s.read(IIR) & 0x0f, IIR_NO_INT);
  // Writing IER with ETBEI already set is no rising edge: nothing new.
  s.write(IER, IER_ETBEI | 1);
  assert.equal(s.irq, false);
});

Deno.test("a THR write re-raises THRE (the byte leaves at once) and is transmitted; ETBEI off drops the output", () => {
  const s = new Serial16550();
  s.write(IER, IER_ETBEI);
  s.read(IIR);
  assert.equal(s.write(0, 0x41), 0x41);
  assert.equal(s.irq, true);
  s.write(IER, 0);
  assert.equal(s.irq, false);
  assert.equal(s.raised, 2);
});

Deno.test("Linux's THRE test (ETBEI on, IIR, off, on, IIR) sees THRE reasserted both times, so no UART_BUG_THRE", () => {
  const s = new Serial16550();
  s.write(IER, IER_ETBEI);
  const iir1 = s.read(IIR);
  s.write(IER, 0);
  s.write(IER, IER_ETBEI);
  const iir = s.read(IIR);
  s.write(IER, 0);
  assert.equal(iir1 & IIR_NO_INT, 0);
  assert.equal(iir & IIR_NO_INT, 0);
});

Deno.test("with DLAB set, offsets 0 and 1 are the divisor latch and no byte is transmitted", () => {
  const s = new Serial16550();
  s.write(LCR, 0x80);
  assert.equal(s.write(0, 0x01), undefined);
  s.write(IER, 0x00);
  assert.equal(s.read(0), 0x01);
  s.write(LCR, 0x03);
  assert.equal(s.read(IER), 0);
});

Deno.test("after init_8259A the master delivers IRQ 4 at vector 0x34 only while unmasked, once per rising edge", () => {
  const pic = linuxPic();
  assert.equal(pic.read(0x21), 0xfb);
  pic.setIrq(4, true);
  assert.equal(pic.pending(), false); // masked: IRR latched, no INT
  pic.write(0x21, 0xeb); // unmask IRQ 4
  assert.equal(pic.pending(), true);
  assert.deepEqual(pic.ack(), { vector: 0x34, irq: 4 });
  // mask_and_ack_8259A: mask, then specific EOI.
  pic.write(0x21, 0xfb);
  pic.write(0x20, 0x64);
  pic.write(0x21, 0xeb);
  assert.equal(pic.pending(), false); // the line stayed high: no new edge
  pic.setIrq(4, false);
  pic.setIrq(4, true);
  assert.equal(pic.pending(), true);
});

Deno.test("an in-service interrupt blocks requests of its own and lower priority until its EOI", () => {
  const pic = linuxPic();
  pic.write(0x21, 0x00);
  pic.setIrq(3, true);
  assert.deepEqual(pic.ack(), { vector: 0x33, irq: 3 });
  pic.setIrq(4, true);
  assert.equal(pic.pending(), false); // IRQ 4 < priority of IRQ 3 in service
  pic.setIrq(1, true);
  assert.equal(pic.pending(), true); // IRQ 1 is higher
  pic.write(0x20, 0x20); // non-specific EOI clears IRQ 3
  assert.equal(pic.ack()?.irq, 1);
  pic.write(0x20, 0x20);
  assert.equal(pic.ack()?.irq, 4);
});

Deno.test("OCW3 selects IRR or ISR for command-port reads, as Linux's spurious-IRQ check reads ISR", () => {
  const pic = linuxPic();
  pic.write(0x21, 0x00);
  pic.setIrq(4, true);
  pic.setIrq(5, true);
  assert.equal(pic.read(0x20), 0x30); // IRR by default
  pic.ack();
  pic.write(0x20, 0x0b);
  assert.equal(pic.read(0x20), 0x10); // ISR: IRQ 4
  pic.write(0x20, 0x0a);
  assert.equal(pic.read(0x20), 0x20); // IRR: IRQ 5 left
});

Deno.test("a level-triggered line (ELCR) keeps IRR while high; a slave IRQ arrives through the cascade, a dropped one as IRQ 15", () => {
  const pic = linuxPic();
  pic.write(0x4d1, 0x02); // IRQ 9 level-triggered, as acpi_pic_sci_set_trigger sets the SCI
  assert.equal(pic.read(0x4d1), 0x02);
  pic.write(0xa1, 0xfd); // unmask IRQ 9
  pic.setIrq(9, true);
  assert.deepEqual(pic.ack(), { vector: 0x39, irq: 9 });
  pic.write(0xa0, 0x20);
  pic.write(0x20, 0x20);
  assert.equal(pic.pending(), true); // still high: level
  // Dropped before the CPU took it: the master's cascade input latched the edge, the slave has nothing:
  // the 8259A's spurious IR7 of the slave ("the IR input must remain high until the first INTA").
  pic.setIrq(9, false);
  assert.deepEqual(pic.ack(), { vector: 0x3f, irq: 15 });
  assert.equal(pic.pending(), false);
});

Deno.test("the PIT expires every time in Linux's periodic mode (0x34), once per count in oneshot mode (0x38), never after shutdown (0x30)", () => {
  const pit = new Pit8254();
  assert.equal(pit.expire(), false); // not programmed
  pit.write(0x43, 0x34);
  pit.write(0x40, 0xa5);
  assert.equal(pit.armed, false); // LSB only: the count is not complete
  pit.write(0x40, 0x12);
  assert.equal(pit.expire(), true);
  assert.equal(pit.expire(), true);
  pit.write(0x43, 0x38);
  assert.equal(pit.expire(), false); // mode set, no count yet
  pit.write(0x40, 0x10);
  pit.write(0x40, 0x00);
  assert.equal(pit.expire(), true);
  assert.equal(pit.expire(), false);
  pit.write(0x43, 0x30);
  pit.write(0x40, 0);
  pit.write(0x40, 0);
  assert.equal(pit.expire(), false);
  // Channel 2 (the TSC calibration's gate) does not touch channel 0.
  pit.write(0x43, 0xb0);
  pit.write(0x42, 0xff);
  pit.write(0x42, 0xff);
  assert.equal(pit.armed, false);
  assert.equal(pit.ticks, 3);
});
