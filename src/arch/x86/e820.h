/* The e820 memory map the guest is told about (zero page, PVH memmap). */
#ifndef ALIOTH_ARCH_X86_E820_H
#define ALIOTH_ARCH_X86_E820_H

#include <stdint.h>

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3
#define E820_MAX      16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct e820_map {
	struct e820_entry entry[E820_MAX];
	unsigned nr;
};

/* Map for `ram_size` bytes of RAM laid out as in layout.h: low RAM up to
 * the EBDA, EBDA and the ACPI/BIOS area reserved, RAM from 1 MiB to
 * min(ram, 2 GiB), the rest from 4 GiB. Entries are sorted, non-overlapping. */
void e820_build(struct e820_map *map, uint64_t ram_size);
/* Adds a reserved range (e.g. PCI ECAM, which Linux trusts only when it is
 * reserved), keeping the map sorted. The range must not overlap an entry;
 * returns 0, or -1 when it does or the map is full. */
int e820_reserve(struct e820_map *map, uint64_t start, uint64_t end);
/* Sum of the E820_RAM entries. */
uint64_t e820_ram_total(const struct e820_map *map);

#endif
