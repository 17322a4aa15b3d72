/* The guest's own identity map with 2 MiB pages: all of 0..4 GiB (the
 * top GiB uncached, it holds the LAPIC/IOAPIC) plus RAM above 4 GiB. */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include <stdint.h>

#define PAGING_MAX_GIB 64

/* Maps [0, max(4 GiB, end)) (end capped at PAGING_MAX_GIB) and loads CR3.
 * Returns the end of the mapping. */
uint64_t paging_init(uint64_t end);
uint64_t paging_cr3(void);

#endif
