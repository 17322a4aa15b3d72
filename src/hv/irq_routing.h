/* KVM GSI routing for MSI/MSI-X: one table holding, for GSIs 0-23, the
 * in-kernel irqchip's default routes (GSI 0-15 to IOAPIC pin and PIC, 16-23
 * to IOAPIC only) or, with the split irqchip, MSI routes mirroring the
 * userspace IOAPIC's redirection entries; plus MSI routes allocated from GSI
 * 24 up, each with an eventfd bound by
 * KVM_IRQFD so any thread can raise it; a masked vector's irqfd is detached
 * (an eventfd written meanwhile is delivered when it is attached again).
 * KVM_SIGNAL_MSI is the direct path. Every function is thread-safe. */
#ifndef ALIOTH_HV_IRQ_ROUTING_H
#define ALIOTH_HV_IRQ_ROUTING_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/kvm.h"
#include "pci/msix.h"

#define IRQ_ROUTING_FIRST_MSI_GSI 24

struct irq_routing;
struct msi_vectors;

/* Installs the default table on k's VM (full or split irqchip, see
 * k->split_irqchip). Returns 0 or -errno. */
int irq_routing_create(struct kvm *k, struct irq_routing **out);
/* Detaches every irqfd and closes the eventfds; the VM keeps its table. */
void irq_routing_destroy(struct irq_routing *r);

/* A new MSI GSI (>= 24) with its eventfd; no route, not attached until
 * irq_routing_msi_set(). Returns the GSI or -ENOSPC/-errno. */
int irq_routing_msi_alloc(struct irq_routing *r);
void irq_routing_msi_free(struct irq_routing *r, unsigned gsi);
/* Points gsi at the message and attaches (unmasked) or detaches (masked)
 * its irqfd. Returns 0 or -errno. */
int irq_routing_msi_set(struct irq_routing *r, unsigned gsi, uint64_t addr, uint32_t data,
			bool masked);
/* The eventfd bound to gsi (-EINVAL if gsi is not allocated). */
int irq_routing_msi_eventfd(struct irq_routing *r, unsigned gsi);
/* Writes gsi's eventfd. Returns 0 or -errno. */
int irq_routing_msi_trigger(struct irq_routing *r, unsigned gsi);

/* Split irqchip only: the message IOAPIC pin (GSI) `pin` sends. KVM
 * delivers nothing through it (the IOAPIC uses KVM_SIGNAL_MSI) but scans
 * these routes for level-triggered vectors, whose EOI then exits to
 * userspace (KVM_EXIT_IOAPIC_EOI). Returns 0, -EINVAL (full irqchip or
 * pin >= 24) or -errno. */
int irq_routing_ioapic_route(struct irq_routing *r, unsigned pin, uint64_t addr, uint32_t data);

/* KVM_SIGNAL_MSI: >0 delivered, 0 blocked by the guest, or -errno. */
int irq_routing_signal_msi(struct irq_routing *r, uint64_t addr, uint32_t data);

/* nr GSIs for one MSI-X function, vector i -> the i-th, and the sink that
 * msix_create() takes. Returns 0 or -errno. */
int msi_vectors_create(struct irq_routing *r, unsigned nr, struct msi_vectors **out);
void msi_vectors_destroy(struct msi_vectors *v);
struct msi_sink msi_vectors_sink(struct msi_vectors *v);
/* Vector i's eventfd, for an I/O thread or vhost backend that signals
 * directly (bypassing msix_notify: masking then relies on the detach). */
int msi_vectors_eventfd(struct msi_vectors *v, unsigned vector);
int msi_vectors_gsi(struct msi_vectors *v, unsigned vector);

#endif
