#include "bootinfo.h"
#include "klib.h"

/* boot_params offsets (Documentation/arch/x86/zero-page.rst) */
#define BP_ACPI_RSDP      0x070
#define BP_EXT_RAMDISK    0x0C0
#define BP_EXT_RAMDISK_SZ 0x0C4
#define BP_EXT_CMDLINE    0x0C8
#define BP_E820_ENTRIES   0x1E8
#define BP_RAMDISK_IMAGE  0x218
#define BP_RAMDISK_SIZE   0x21C
#define BP_CMDLINE_PTR    0x228
#define BP_E820_TABLE     0x2D0
#define BP_E820_MAX       128

#define HVM_START_MAGIC   0x336ec578

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

static uint32_t rd32(const uint8_t *p, unsigned off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p, unsigned off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

static void add_range(struct bootinfo *bi, uint64_t addr, uint64_t size, uint32_t type)
{
	if (bi->nr_mem >= MAX_MEMMAP)
		return;
	bi->mem[bi->nr_mem].addr = addr;
	bi->mem[bi->nr_mem].size = size;
	bi->mem[bi->nr_mem].type = type;
	bi->nr_mem++;
}

static void parse_zero_page(struct bootinfo *bi, const uint8_t *bp)
{
	uint64_t cmd = rd32(bp, BP_CMDLINE_PTR) | (uint64_t)rd32(bp, BP_EXT_CMDLINE) << 32;
	unsigned n = bp[BP_E820_ENTRIES];

	bi->cmdline = cmd ? (const char *)(uintptr_t)cmd : "";
	bi->initrd_addr = rd32(bp, BP_RAMDISK_IMAGE) | (uint64_t)rd32(bp, BP_EXT_RAMDISK) << 32;
	bi->initrd_size = rd32(bp, BP_RAMDISK_SIZE) | (uint64_t)rd32(bp, BP_EXT_RAMDISK_SZ) << 32;
	bi->rsdp = rd64(bp, BP_ACPI_RSDP);
	if (n > BP_E820_MAX) {
		bi->error = "zero page e820_entries > 128";
		n = BP_E820_MAX;
	}
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = bp + BP_E820_TABLE + 20 * i;
		add_range(bi, rd64(e, 0), rd64(e, 8), rd32(e, 16));
	}
}

static void parse_pvh(struct bootinfo *bi, const struct hvm_start_info *si)
{
	if (si->magic != HVM_START_MAGIC) {
		bi->error = "hvm_start_info magic mismatch";
		return;
	}
	bi->cmdline = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
	bi->rsdp = si->rsdp_paddr;
	if (si->nr_modules && si->modlist_paddr) {
		const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;
		bi->initrd_addr = m->paddr;
		bi->initrd_size = m->size;
	}
	if (si->version < 1 || !si->memmap_paddr) {
		bi->error = "hvm_start_info has no memory map (version < 1)";
		return;
	}
	const struct hvm_memmap_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
	for (unsigned i = 0; i < si->memmap_entries; i++)
		add_range(bi, e[i].addr, e[i].size, e[i].type);
}

void bootinfo_parse(struct bootinfo *bi, unsigned kind, uint64_t ptr)
{
	memset(bi, 0, sizeof(*bi));
	bi->kind = kind;
	bi->cmdline = "";
	if (!ptr) {
		bi->error = "no boot information pointer";
		return;
	}
	if (kind == BOOT_KIND_PVH)
		parse_pvh(bi, (const void *)(uintptr_t)ptr);
	else
		parse_zero_page(bi, (const void *)(uintptr_t)ptr);
}

uint64_t bootinfo_ram_total(const struct bootinfo *bi)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < bi->nr_mem; i++)
		if (bi->mem[i].type == MEM_RAM)
			total += bi->mem[i].size;
	return total;
}

uint64_t bootinfo_ram_top(const struct bootinfo *bi)
{
	uint64_t top = 0;

	for (unsigned i = 0; i < bi->nr_mem; i++)
		if (bi->mem[i].type == MEM_RAM && bi->mem[i].addr + bi->mem[i].size > top)
			top = bi->mem[i].addr + bi->mem[i].size;
	return top;
}

static int is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

int cmdline_get(const char *cmdline, const char *key, const char **val, uint64_t *len)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (is_sep(*p))
			p++;
		const char *start = p;
		while (*p && !is_sep(*p))
			p++;
		if ((size_t)(p - start) > klen && !memcmp(start, key, klen) && start[klen] == '=') {
			*val = start + klen + 1;
			*len = (uint64_t)(p - *val);
			return 1;
		}
	}
	return 0;
}

int cmdline_get_u64(const char *cmdline, const char *key, uint64_t *out)
{
	const char *v;
	uint64_t len;

	if (!cmdline_get(cmdline, key, &v, &len))
		return 0;
	return parse_u64(v, len, out) == 0;
}

int cmdline_has_word(const char *cmdline, const char *key, const char *word)
{
	const char *v;
	uint64_t len;
	size_t wlen = strlen(word);

	if (!cmdline_get(cmdline, key, &v, &len))
		return 0;
	for (uint64_t i = 0; i < len;) {
		uint64_t j = i;
		while (j < len && v[j] != ',')
			j++;
		if (j - i == wlen && !memcmp(v + i, word, wlen))
			return 1;
		i = j + 1;
	}
	return 0;
}
