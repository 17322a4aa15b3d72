/* Xen's PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h): the
 * hvm_start_info block handed to a PVH kernel in EBX, its module list and
 * memory map entries. Version 1 layout. */
#ifndef ALIOTH_LOADER_START_INFO_H
#define ALIOTH_LOADER_START_INFO_H

#include <stdint.h>

#define XEN_HVM_START_MAGIC      0x336ec578u
#define XEN_HVM_START_VERSION    1
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/* Types are the e820 ones (1 RAM, 2 reserved, 3 ACPI, ...). */
struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry");

#endif
