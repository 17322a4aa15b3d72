/* MSI-X for a PCI function: the capability (enable and function-mask bits),
 * the vector table and the pending-bit array as guest-visible BAR contents,
 * and msix_notify() for the device to raise a vector. Interrupts leave
 * through a struct msi_sink, so devices never see KVM (the board supplies
 * hv/irq_routing's sink; unit tests supply a recorder). */
#ifndef ALIOTH_PCI_MSIX_H
#define ALIOTH_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/bus.h"
#include "pci/config.h"

#define MSIX_MAX_VECTORS     2048
#define MSIX_ENTRY_SIZE      16
#define MSIX_CTRL_FMASK      0x4000
#define MSIX_CTRL_ENABLE     0x8000
#define MSIX_VECTOR_MASKED   0x1

/* Where a vector's message goes. update() is called when a vector's message
 * or its effective mask (entry mask, function mask or MSI-X disabled)
 * changes; fire() only for an unmasked vector whose last update() carried
 * its current message. Both are called under the MSI-X lock, possibly from
 * several threads over time. */
struct msi_sink {
	int (*update)(void *ctx, unsigned vector, uint64_t addr, uint32_t data, bool masked);
	void (*fire)(void *ctx, unsigned vector);
	void *ctx;
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix_sent {
	bool valid, masked;
	uint64_t addr;
	uint32_t data;
};

struct msix {
	pthread_mutex_t lock;
	unsigned nr;
	struct msix_entry *table;
	uint64_t *pba;
	struct msix_sent *sent; /* last state given to sink.update */
	bool enabled, fmask;
	struct msi_sink sink;
	struct pci_config *cfg;
	unsigned cap_off;
};

/* Table bytes and PBA bytes for nr vectors. */
static inline uint64_t msix_table_size(unsigned nr) { return (uint64_t)nr * MSIX_ENTRY_SIZE; }
static inline uint64_t msix_pba_size(unsigned nr) { return (nr + 63) / 64 * 8; }

/* nr in 1..2048. Every vector starts masked, MSI-X disabled. NULL on a bad nr. */
struct msix *msix_create(unsigned nr, const struct msi_sink *sink);
void msix_destroy(struct msix *x);

/* Adds the capability to cfg: table at table_off in BAR table_bar, PBA at
 * pba_off in BAR pba_bar (offsets 8-byte aligned). Returns the
 * capability's offset or -EINVAL/-ENOSPC. */
int msix_add_cap(struct msix *x, struct pci_config *cfg, unsigned table_bar, uint32_t table_off,
		 unsigned pba_bar, uint32_t pba_off);

/* Guest accesses with offsets relative to the table / PBA start. The PBA
 * is read-only. */
uint64_t msix_table_read(struct msix *x, uint64_t off, unsigned size);
void msix_table_write(struct msix *x, uint64_t off, unsigned size, uint64_t val);
uint64_t msix_pba_read(struct msix *x, uint64_t off, unsigned size);

/* io_ops with dev = struct msix *, for a BAR (or sub-range a device
 * forwards) that holds just the table or just the PBA. */
extern const struct io_ops msix_table_ops;
extern const struct io_ops msix_pba_ops;

/* Raises vector: delivered now if unmasked, else its pending bit is set and
 * it is delivered on unmask. Returns false when MSI-X is disabled (the
 * device should use INTx) or vector is out of range. Any thread. */
bool msix_notify(struct msix *x, unsigned vector);

bool msix_enabled(struct msix *x);
/* Device reset: disable, unmask function, mask and clear every vector. */
void msix_reset(struct msix *x);

#endif
