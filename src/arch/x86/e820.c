#include "arch/x86/e820.h"

#include "arch/x86/layout.h"
#include "util/util.h"

static void add(struct e820_map *map, uint64_t start, uint64_t end, uint32_t type)
{
	if (end <= start || map->nr >= E820_MAX)
		return;
	map->entry[map->nr++] = (struct e820_entry){
		.addr = start, .size = end - start, .type = type,
	};
}

/* The reserved low ranges are listed whatever the size: they are fixed
 * address-space facts (EBDA, VGA hole, BIOS/ACPI area). With less than
 * 1 MiB of RAM only [0, size) is usable, clipped at the EBDA, and the ACPI
 * area is not backed; the board refuses sizes that small anyway. The
 * 384 KiB from the EBDA to 1 MiB are backed but never RAM, so
 * e820_ram_total() is a little below ram_size. */
void e820_build(struct e820_map *map, uint64_t ram_size)
{
	map->nr = 0;
	add(map, 0, MIN(ram_size, X86_EBDA_START), E820_RAM);
	add(map, X86_EBDA_START, X86_LOWMEM_END, E820_RESERVED);
	add(map, X86_ACPI_START, X86_ACPI_END, E820_RESERVED);
	add(map, X86_HIGHMEM_START, MIN(ram_size, X86_RAM32_END), E820_RAM);
	if (ram_size > X86_RAM32_END)
		add(map, X86_RAM64_START, X86_RAM64_START + (ram_size - X86_RAM32_END), E820_RAM);
}

int e820_reserve(struct e820_map *map, uint64_t start, uint64_t end)
{
	if (end <= start || map->nr >= E820_MAX)
		return -1;
	unsigned at = 0;
	while (at < map->nr && map->entry[at].addr < start)
		at++;
	if (at > 0) {
		const struct e820_entry *prev = &map->entry[at - 1];
		if (prev->addr + prev->size > start)
			return -1;
	}
	if (at < map->nr && map->entry[at].addr < end)
		return -1;
	for (unsigned i = map->nr; i > at; i--)
		map->entry[i] = map->entry[i - 1];
	map->entry[at] = (struct e820_entry){ .addr = start, .size = end - start, .type = E820_RESERVED };
	map->nr++;
	return 0;
}

uint64_t e820_ram_total(const struct e820_map *map)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < map->nr; i++)
		if (map->entry[i].type == E820_RAM)
			total += map->entry[i].size;
	return total;
}
