/* Interrupts for the virtio checks: IDT gates for a few vectors (the
 * exception gates are kept), counters the handler bumps, LAPIC enable and
 * EOI, a periodic LAPIC timer that bounds every `sti; hlt` wait, and the
 * MSI address/data that reach this CPU. */
#ifndef GUEST_IRQ_H
#define GUEST_IRQ_H

#include <stdint.h>

#define IRQ_VEC_FIRST 0x40
#define IRQ_NR_VECS   8          /* 0x40..0x47 for devices; 0x50..0x5F the masked 8259s */
#define IRQ_VEC_TIMER 0x4F

/* Installs the gates, software-enables the LAPIC, starts the timer. */
void irq_init(void);
/* Stops the timer and masks interrupts again (cli). */
void irq_fini(void);
uint64_t irq_count(unsigned vector);
/* MSI message for `vector` to this CPU (physical destination, fixed, edge). */
uint64_t irq_msi_address(void);
uint32_t irq_msi_data(unsigned vector);
/* Waits with `sti; hlt` until *flag != 0 or `cycles` TSC cycles passed;
 * the timer wakes the CPU at least every millisecond. 1 if *flag is set. */
int irq_wait_flag(int (*done)(void *arg), void *arg, uint64_t cycles);

#endif
