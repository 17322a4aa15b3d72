/* A userspace I/O APIC (82093AA-style, version 0x11, 24 pins) for KVM's
 * split irqchip: the MMIO register window, pin levels from the board's
 * devices, and delivery of each redirection entry as an MSI to the
 * in-kernel LAPICs; level-triggered entries wait for the guest's EOI. */
#ifndef ALIOTH_DEV_IOAPIC_H
#define ALIOTH_DEV_IOAPIC_H

#include <stdint.h>

#include "dev/bus.h"

#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_PINS      24

/* Where messages go (KVM_SIGNAL_MSI and the GSI routing table on the
 * board, a recorder in unit tests). Called with the IOAPIC's lock held:
 * must not call back into the IOAPIC. */
struct ioapic_msi_ops {
	/* >0 accepted by a LAPIC, 0 not accepted (e.g. LAPIC disabled), <0 error. */
	int (*send)(void *ctx, uint64_t addr, uint32_t data);
	/* The message pin would send, after every redirection entry write (so
	 * that KVM knows which vectors are level-triggered). May be NULL. */
	void (*route)(void *ctx, unsigned pin, uint64_t addr, uint32_t data);
	void *ctx;
};

struct ioapic;

/* All entries masked, ID 0. NULL only if memory runs out. */
struct ioapic *ioapic_create(const struct ioapic_msi_ops *ops);
void ioapic_destroy(struct ioapic *a);

/* MMIO, relative to the IOAPIC's base: IOREGSEL at 0x00, IOWIN at 0x10,
 * 32-bit accesses (others read 0 and are ignored). */
extern const struct io_ops ioapic_mmio_ops;

/* A device drives pin (0-23) to level (0/1). Thread-safe. */
void ioapic_set_level(struct ioapic *a, unsigned pin, int level);
/* The guest's LAPIC EOI for vector on a level-triggered entry (KVM_EXIT_IOAPIC_EOI):
 * clears Remote IRR of the entries with that vector and re-delivers those
 * still asserted. Thread-safe. */
void ioapic_eoi(struct ioapic *a, uint8_t vector);

#endif
