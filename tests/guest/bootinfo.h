/* What the loader told the guest, in one shape for both boot paths: the
 * Linux zero page (boot_params) or PVH's hvm_start_info. */
#ifndef GUEST_BOOTINFO_H
#define GUEST_BOOTINFO_H

#include <stdint.h>

#define BOOT_KIND_LINUX 0
#define BOOT_KIND_PVH   1

#define MEM_RAM      1
#define MAX_MEMMAP   128

struct mem_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct bootinfo {
	unsigned kind;
	const char *cmdline;  /* "" if none */
	uint64_t initrd_addr, initrd_size;
	uint64_t rsdp;        /* 0 if the loader gave none */
	unsigned nr_mem;
	struct mem_range mem[MAX_MEMMAP];
	const char *error;    /* set if the boot information is unusable */
};

void bootinfo_parse(struct bootinfo *bi, unsigned kind, uint64_t ptr);
uint64_t bootinfo_ram_total(const struct bootinfo *bi);
/* End of the highest RAM range. */
uint64_t bootinfo_ram_top(const struct bootinfo *bi);

/* Finds `key=` in the command line; sets *val and *len to its value. */
int cmdline_get(const char *cmdline, const char *key, const char **val, uint64_t *len);
int cmdline_get_u64(const char *cmdline, const char *key, uint64_t *out);
/* 1 if the space/comma separated list under `key` holds `word`. */
int cmdline_has_word(const char *cmdline, const char *key, const char *word);

#endif
