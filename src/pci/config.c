#include "pci/config.h"

#include <errno.h>
#include <string.h>

uint32_t pci_cfg_get(const struct pci_config *cfg, unsigned off, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size && off + i < PCI_CFG_SIZE; i++)
		v |= (uint32_t)cfg->data[off + i] << (8 * i);
	return v;
}

void pci_cfg_put(struct pci_config *cfg, unsigned off, unsigned size, uint32_t val)
{
	for (unsigned i = 0; i < size && off + i < PCI_CFG_SIZE; i++)
		cfg->data[off + i] = (uint8_t)(val >> (8 * i));
}

static void put_mask(uint8_t *mask, unsigned off, unsigned size, uint32_t val)
{
	for (unsigned i = 0; i < size; i++)
		mask[off + i] = (uint8_t)(val >> (8 * i));
}

void pci_config_init(struct pci_config *cfg, const struct pci_ids *ids)
{
	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&cfg->lock, NULL);
	pci_cfg_put(cfg, PCI_VENDOR_ID, 2, ids->vendor);
	pci_cfg_put(cfg, PCI_DEVICE_ID, 2, ids->device);
	pci_cfg_put(cfg, PCI_REVISION_ID, 1, ids->revision);
	pci_cfg_put(cfg, PCI_CLASS_PROG, 1, ids->prog_if);
	pci_cfg_put(cfg, PCI_CLASS_DEVICE, 1, ids->subclass);
	pci_cfg_put(cfg, PCI_CLASS_DEVICE + 1, 1, ids->class_code);
	pci_cfg_put(cfg, PCI_SUBSYSTEM_VENDOR, 2, ids->subsystem_vendor);
	pci_cfg_put(cfg, PCI_SUBSYSTEM_ID, 2, ids->subsystem);
	put_mask(cfg->wmask, PCI_COMMAND, 2,
		 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
		 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	put_mask(cfg->w1cmask, PCI_STATUS, 2, PCI_STATUS_RW1C);
	/* Cache line size and latency timer are plain scratch registers. */
	cfg->wmask[0x0C] = 0xFF;
	cfg->wmask[0x0D] = 0xFF;
	cfg->wmask[PCI_INTERRUPT_LINE] = 0xFF;
	cfg->cap_end = PCI_HEADER_END;
}

void pci_config_destroy(struct pci_config *cfg)
{
	pthread_mutex_destroy(&cfg->lock);
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

int pci_config_set_bar(struct pci_config *cfg, unsigned idx, const struct pci_bar *bar)
{
	if (idx >= PCI_NR_BARS || (bar->kind == PCI_BAR_MEM64 && idx + 1 >= PCI_NR_BARS))
		return -EINVAL;
	if (bar->kind != PCI_BAR_NONE && !is_pow2(bar->size))
		return -EINVAL;
	if ((bar->kind == PCI_BAR_IO && (bar->size < 4 || bar->size > 0x10000)) ||
	    (bar->kind == PCI_BAR_MEM32 && (bar->size < 16 || bar->size > (1ULL << 31))) ||
	    (bar->kind == PCI_BAR_MEM64 && bar->size < 16))
		return -EINVAL;
	unsigned off = PCI_BAR0 + 4 * idx;
	uint64_t addr_mask = ~(bar->size - 1);
	uint32_t flags = 0;
	switch (bar->kind) {
	case PCI_BAR_NONE:
		addr_mask = 0;
		break;
	case PCI_BAR_IO:
		flags = PCI_BAR_SPACE_IO;
		addr_mask &= 0xFFFF;  /* x86 port space is 64 KiB */
		break;
	case PCI_BAR_MEM32:
		addr_mask &= 0xFFFFFFFFULL;
		break;
	case PCI_BAR_MEM64:
		flags = PCI_BAR_MEM_TYPE_64;
		break;
	}
	if (bar->prefetchable && bar->kind != PCI_BAR_IO && bar->kind != PCI_BAR_NONE)
		flags |= PCI_BAR_MEM_PREFETCH;
	/* The flag bits are read-only: keep them out of the write mask. */
	uint32_t low_flags = bar->kind == PCI_BAR_IO ? 0x3 : 0xF;
	pci_cfg_put(cfg, off, 4, flags);
	put_mask(cfg->wmask, off, 4, (uint32_t)addr_mask & ~low_flags);
	cfg->bar[idx] = *bar;
	if (bar->kind == PCI_BAR_MEM64) {
		pci_cfg_put(cfg, off + 4, 4, 0);
		put_mask(cfg->wmask, off + 4, 4, (uint32_t)(addr_mask >> 32));
		cfg->bar[idx + 1] = (struct pci_bar){ .kind = PCI_BAR_NONE };
	}
	return 0;
}

uint64_t pci_config_bar_addr(struct pci_config *cfg, unsigned idx)
{
	const struct pci_bar *b = &cfg->bar[idx];
	unsigned off = PCI_BAR0 + 4 * idx;
	uint64_t lo = pci_cfg_get(cfg, off, 4);
	switch (b->kind) {
	case PCI_BAR_IO:
		return lo & ~0x3ULL;
	case PCI_BAR_MEM32:
		return lo & ~0xFULL;
	case PCI_BAR_MEM64:
		return (lo & ~0xFULL) | (uint64_t)pci_cfg_get(cfg, off + 4, 4) << 32;
	default:
		return 0;
	}
}

void pci_config_set_bar_addr(struct pci_config *cfg, unsigned idx, uint64_t addr)
{
	const struct pci_bar *b = &cfg->bar[idx];
	unsigned off = PCI_BAR0 + 4 * idx;
	uint32_t flags = pci_cfg_get(cfg, off, 4) & (b->kind == PCI_BAR_IO ? 0x3 : 0xF);
	if (b->kind == PCI_BAR_NONE)
		return;
	pci_cfg_put(cfg, off, 4, ((uint32_t)addr & ~(b->kind == PCI_BAR_IO ? 0x3U : 0xFU)) | flags);
	if (b->kind == PCI_BAR_MEM64)
		pci_cfg_put(cfg, off + 4, 4, (uint32_t)(addr >> 32));
}

void pci_config_set_intx(struct pci_config *cfg, uint8_t pin, uint8_t line)
{
	cfg->data[PCI_INTERRUPT_PIN] = pin;
	cfg->data[PCI_INTERRUPT_LINE] = line;
}

unsigned pci_config_add_cap(struct pci_config *cfg, const uint8_t *body, unsigned len,
			    const uint8_t *wmask, const struct pci_cap_hook *hook, void *ctx)
{
	/* Capabilities live in the first 256 bytes, dword aligned. */
	unsigned off = (cfg->cap_end + 3) & ~3U;
	if (len < 2 || off + len > 0x100 || (hook && cfg->nr_hooks == PCI_NR_CAP_HOOKS))
		return 0;
	memcpy(&cfg->data[off], body, len);
	cfg->data[off + 1] = 0;
	if (wmask)
		memcpy(&cfg->wmask[off], wmask, len);
	/* ID and next pointer stay read-only whatever wmask says. */
	cfg->wmask[off] = cfg->wmask[off + 1] = 0;
	if (cfg->last_cap)
		cfg->data[cfg->last_cap + 1] = (uint8_t)off;
	else
		cfg->data[PCI_CAP_PTR] = (uint8_t)off;
	cfg->data[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	cfg->last_cap = off;
	cfg->cap_end = off + len;
	if (hook) {
		unsigned h = cfg->nr_hooks++;
		cfg->hooks[h].start = off;
		cfg->hooks[h].len = len;
		cfg->hooks[h].hook = hook;
		cfg->hooks[h].ctx = ctx;
	}
	return off;
}

static bool overlaps(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
	return a < b + blen && b < a + alen;
}

/* Calls the hooks of capabilities touched by [off, off + size); offsets
 * passed are relative to the capability, clipped to it. */
static void run_hooks(struct pci_config *cfg, unsigned off, unsigned size, bool write)
{
	for (unsigned i = 0; i < cfg->nr_hooks; i++) {
		unsigned s = cfg->hooks[i].start, l = cfg->hooks[i].len;
		if (!overlaps(off, size, s, l))
			continue;
		unsigned from = off > s ? off : s;
		unsigned to = off + size < s + l ? off + size : s + l;
		const struct pci_cap_hook *h = cfg->hooks[i].hook;
		if (write && h->after_write)
			h->after_write(cfg->hooks[i].ctx, cfg, from - s, to - from);
		else if (!write && h->before_read)
			h->before_read(cfg->hooks[i].ctx, cfg, from - s, to - from);
	}
}

uint64_t pci_config_read(struct pci_config *cfg, unsigned off, unsigned size)
{
	if (size == 0 || size > 8 || off >= PCI_CFG_SIZE)
		return ~0ULL;
	pthread_mutex_lock(&cfg->lock);
	run_hooks(cfg, off, size, false);
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = off + i < PCI_CFG_SIZE ? cfg->data[off + i] : 0xFF;
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&cfg->lock);
	return v;
}

void pci_config_write(struct pci_config *cfg, unsigned off, unsigned size, uint64_t val)
{
	if (size == 0 || size > 8 || off >= PCI_CFG_SIZE)
		return;
	pthread_mutex_lock(&cfg->lock);
	for (unsigned i = 0; i < size && off + i < PCI_CFG_SIZE; i++) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));
		uint8_t w = cfg->wmask[o], c = cfg->w1cmask[o];
		cfg->data[o] = (uint8_t)(((cfg->data[o] & ~w) | (b & w)) & ~(b & c));
	}
	run_hooks(cfg, off, size, true);
	pthread_mutex_unlock(&cfg->lock);
}
