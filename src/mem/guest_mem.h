/* Guest physical memory. This is the only way the VMM touches guest RAM:
 * every guest-supplied address and length goes through gm_ptr/gm_read/
 * gm_write, which refuse any range that is not wholly inside one RAM region
 * (including ranges whose end overflows 64 bits). */
#ifndef ALIOTH_MEM_GUEST_MEM_H
#define ALIOTH_MEM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board/config.h"

#define GM_MAX_REGIONS 8

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	uint64_t offset; /* offset in the backing allocation / memfd */
};

struct guest_mem {
	struct gm_region region[GM_MAX_REGIONS];
	unsigned nr_regions;
	uint8_t *base;     /* the single host mapping all regions live in */
	uint64_t size;     /* its length */
	int memfd;         /* -1 unless backend=memfd */
};

/* Reserves and maps `cfg->size` bytes with the configured backend, shared and
 * THP flags. Regions are added with gm_add_region. Returns 0 or -errno. */
int gm_alloc(struct guest_mem *gm, const struct mem_config *cfg);
/* Makes [offset, offset+size) of the allocation visible at guest `gpa`. */
int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t offset, uint64_t size);
/* For tests: guest memory over a caller-owned buffer at `gpa`. */
void gm_init_buffer(struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t size);
void gm_free(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) or NULL when any byte is outside RAM or
 * the range crosses a region boundary. len 0 yields a pointer when gpa is
 * inside a region (or at its end). */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
bool gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
bool gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);
/* Total RAM in bytes. */
uint64_t gm_ram_size(const struct guest_mem *gm);

#endif
