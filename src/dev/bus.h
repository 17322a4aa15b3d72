/* Port-I/O and MMIO dispatch. A device registers an address range with an
 * ops table; a vCPU exit is routed to the range containing the address.
 * Ranges are kept sorted (binary search); a reader-writer lock lets later
 * BAR remapping change the map while vCPUs run. Devices do their own locking. */
#ifndef ALIOTH_DEV_BUS_H
#define ALIOTH_DEV_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_ops {
	/* off is relative to the range base; size is 1, 2, 4 or 8. */
	uint64_t (*read)(void *dev, uint64_t off, unsigned size);
	void (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
};

struct io_range {
	uint64_t base, len;
	const struct io_ops *ops;
	void *dev;
	const char *name;
};

struct io_bus {
	const char *name; /* "pio" or "mmio", for logs */
	struct io_range *ranges;
	size_t nr, cap;
	pthread_rwlock_t lock;
};

void io_bus_init(struct io_bus *bus, const char *name);
void io_bus_destroy(struct io_bus *bus);
/* Returns 0, or -EEXIST if the range overlaps another, -EINVAL if empty. */
int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len,
	       const struct io_ops *ops, void *dev, const char *name);
int io_bus_remove(struct io_bus *bus, uint64_t base);
/* Dispatch. Return false when no device claims addr (reads then give all ones). */
bool io_bus_read(struct io_bus *bus, uint64_t addr, unsigned size, uint64_t *val);
bool io_bus_write(struct io_bus *bus, uint64_t addr, unsigned size, uint64_t val);

#endif
