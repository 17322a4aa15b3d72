#include "pci/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "pci/host_bridge.h"
#include "util/log.h"
#include "util/util.h"

#define CONFIG_ADDR_ENABLE 0x80000000U

struct bar_map {
	bool mapped;
	uint64_t base;
};

struct pci_slot {
	struct pci_config *cfg;
	const char *name;
	struct bar_map map[PCI_NR_BARS]; /* what is on pio/mmio now */
};

struct pci_bus {
	struct pci_bus_params p;
	struct pci_config host;
	struct pci_slot slot[PCI_MAX_DEVICES];
	_Atomic uint32_t config_addr;  /* the 0xCF8 register */
	atomic_bool remap_pending;
	pthread_mutex_t commit_lock;   /* serializes commits; never taken in dispatch */
	uint64_t next_io, next_mem32, next_mem64;
};

void pci_bus_params_x86(struct pci_bus_params *p, struct io_bus *pio, struct io_bus *mmio,
			uint64_t mem64_start, uint64_t mem64_end)
{
	*p = (struct pci_bus_params){
		.pio = pio,
		.mmio = mmio,
		.ecam_base = X86_PCI_ECAM_START,
		.ecam_size = X86_PCI_ECAM_END - X86_PCI_ECAM_START,
		.io = { 0xC000, 0x10000 },
		.mem32 = { X86_PCI_MMIO32_START, X86_PCI_MMIO32_END },
		.mem64 = { mem64_start, mem64_end },
	};
}

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Only single-function devices: function numbers above 0 are absent. */
static struct pci_config *lookup(struct pci_bus *bus, unsigned bus_nr, unsigned devfn)
{
	if (bus_nr != 0 || (devfn & 7) != 0)
		return NULL;
	return bus->slot[devfn >> 3].cfg;
}

static bool touches_decode(unsigned off, unsigned size)
{
	unsigned end = off + size;
	bool command = off < PCI_COMMAND + 2 && end > PCI_COMMAND;
	bool bars = off < PCI_BAR0 + 4 * PCI_NR_BARS && end > PCI_BAR0;
	return command || bars;
}

uint64_t pci_bus_config_read(struct pci_bus *bus, unsigned bus_nr, unsigned devfn, unsigned off,
			     unsigned size)
{
	struct pci_config *cfg = lookup(bus, bus_nr, devfn);
	return cfg ? pci_config_read(cfg, off, size) : all_ones(size);
}

void pci_bus_config_write(struct pci_bus *bus, unsigned bus_nr, unsigned devfn, unsigned off,
			  unsigned size, uint64_t val)
{
	struct pci_config *cfg = lookup(bus, bus_nr, devfn);
	if (!cfg)
		return;
	pci_config_write(cfg, off, size, val);
	if (touches_decode(off, size))
		atomic_store(&bus->remap_pending, true);
}

/* Ports 0xCF8-0xCFB: only dword accesses reach the address register. */
static bool cf8_decode(struct pci_bus *bus, uint64_t port_off, unsigned *bus_nr, unsigned *devfn,
		       unsigned *reg)
{
	uint32_t a = atomic_load(&bus->config_addr);
	if (!(a & CONFIG_ADDR_ENABLE))
		return false;
	*bus_nr = (a >> 16) & 0xFF;
	*devfn = (a >> 8) & 0xFF;
	*reg = (a & 0xFC) + (unsigned)(port_off - 4);
	return true;
}

static uint64_t cf8_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_bus *bus = dev;
	if (off < 4)
		return off == 0 && size == 4 ? atomic_load(&bus->config_addr) : all_ones(size);
	unsigned b, df, reg;
	if (!cf8_decode(bus, off, &b, &df, &reg))
		return all_ones(size);
	return pci_bus_config_read(bus, b, df, reg, size);
}

static void cf8_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_bus *bus = dev;
	if (off < 4) {
		if (off == 0 && size == 4)
			atomic_store(&bus->config_addr, (uint32_t)val);
		return;
	}
	unsigned b, df, reg;
	if (cf8_decode(bus, off, &b, &df, &reg))
		pci_bus_config_write(bus, b, df, reg, size, val);
}

static const struct io_ops cf8_ops = { .read = cf8_read, .write = cf8_write };

static uint64_t ecam_read(void *dev, uint64_t off, unsigned size)
{
	return pci_bus_config_read(dev, (unsigned)(off >> 20), (off >> 12) & 0xFF, off & 0xFFF, size);
}

static void ecam_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	pci_bus_config_write(dev, (unsigned)(off >> 20), (off >> 12) & 0xFF, off & 0xFFF, size, val);
}

static const struct io_ops ecam_ops = { .read = ecam_read, .write = ecam_write };

int pci_bus_create(const struct pci_bus_params *p, struct pci_bus **out)
{
	struct pci_bus *bus = xcalloc(1, sizeof(*bus));
	bus->p = *p;
	bus->next_io = p->io.start;
	bus->next_mem32 = p->mem32.start;
	bus->next_mem64 = p->mem64.start;
	pthread_mutex_init(&bus->commit_lock, NULL);
	pci_host_bridge_init(&bus->host);
	bus->slot[0] = (struct pci_slot){ .cfg = &bus->host, .name = "host-bridge" };
	int err = io_bus_add(p->pio, PORT_PCI_CONFIG_ADDR, 8, &cf8_ops, bus, "pci-cf8");
	if (err) {
		log_error("pci: ports %#x-%#x are taken", PORT_PCI_CONFIG_ADDR, PORT_PCI_CONFIG_ADDR + 7);
		goto fail;
	}
	err = io_bus_add(p->mmio, p->ecam_base, p->ecam_size, &ecam_ops, bus, "pci-ecam");
	if (err) {
		log_error("pci: ECAM at %#llx overlaps another device", (unsigned long long)p->ecam_base);
		io_bus_remove(p->pio, PORT_PCI_CONFIG_ADDR);
		goto fail;
	}
	*out = bus;
	return 0;
fail:
	pci_config_destroy(&bus->host);
	pthread_mutex_destroy(&bus->commit_lock);
	free(bus);
	return err;
}

static struct io_bus *bar_bus(struct pci_bus *bus, const struct pci_bar *b)
{
	return b->kind == PCI_BAR_IO ? bus->p.pio : bus->p.mmio;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	if (!bus)
		return;
	for (unsigned s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_slot *sl = &bus->slot[s];
		for (unsigned i = 0; sl->cfg && i < PCI_NR_BARS; i++)
			if (sl->map[i].mapped)
				io_bus_remove(bar_bus(bus, &sl->cfg->bar[i]), sl->map[i].base);
	}
	io_bus_remove(bus->p.pio, PORT_PCI_CONFIG_ADDR);
	io_bus_remove(bus->p.mmio, bus->p.ecam_base);
	pci_config_destroy(&bus->host);
	pthread_mutex_destroy(&bus->commit_lock);
	free(bus);
}

/* A BAR decodes when its space is enabled and its range neither starts at 0
 * nor runs off the end of its address space (what sizing leaves behind). */
static bool bar_decodes(const struct pci_bar *b, uint16_t command, uint64_t addr)
{
	uint64_t last = addr + b->size - 1;
	switch (b->kind) {
	case PCI_BAR_IO:
		return (command & PCI_COMMAND_IO) && addr && last <= 0xFFFF;
	case PCI_BAR_MEM32:
		return (command & PCI_COMMAND_MEMORY) && addr && last < 0xFFFFFFFFULL;
	case PCI_BAR_MEM64:
		return (command & PCI_COMMAND_MEMORY) && addr && last > addr && last != ~0ULL;
	default:
		return false;
	}
}

static void desired_maps(struct pci_config *cfg, struct bar_map want[PCI_NR_BARS])
{
	pthread_mutex_lock(&cfg->lock);
	uint16_t command = (uint16_t)pci_cfg_get(cfg, PCI_COMMAND, 2);
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		uint64_t addr = pci_config_bar_addr(cfg, i);
		want[i].mapped = bar_decodes(&cfg->bar[i], command, addr);
		want[i].base = addr;
	}
	pthread_mutex_unlock(&cfg->lock);
}

static void map_bar(struct pci_bus *bus, struct pci_slot *sl, unsigned i, uint64_t base)
{
	const struct pci_bar *b = &sl->cfg->bar[i];
	int err = io_bus_add(bar_bus(bus, b), base, b->size, b->ops, b->dev, sl->name);
	if (err) {
		log_warn("pci: %s BAR%u at %#llx (size %#llx) overlaps another range; not mapped",
			 sl->name, i, (unsigned long long)base, (unsigned long long)b->size);
		return;
	}
	log_debug("pci: %s BAR%u mapped at %#llx", sl->name, i, (unsigned long long)base);
	sl->map[i] = (struct bar_map){ .mapped = true, .base = base };
}

void pci_bus_commit(struct pci_bus *bus)
{
	if (!atomic_exchange(&bus->remap_pending, false))
		return;
	pthread_mutex_lock(&bus->commit_lock);
	struct bar_map want[PCI_MAX_DEVICES][PCI_NR_BARS];
	for (unsigned s = 0; s < PCI_MAX_DEVICES; s++)
		if (bus->slot[s].cfg)
			desired_maps(bus->slot[s].cfg, want[s]);
	/* All removals first, so BARs that swap places do not collide. */
	for (unsigned s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_slot *sl = &bus->slot[s];
		for (unsigned i = 0; sl->cfg && i < PCI_NR_BARS; i++) {
			struct bar_map *have = &sl->map[i];
			if (have->mapped && (!want[s][i].mapped || want[s][i].base != have->base)) {
				io_bus_remove(bar_bus(bus, &sl->cfg->bar[i]), have->base);
				have->mapped = false;
			}
		}
	}
	for (unsigned s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_slot *sl = &bus->slot[s];
		for (unsigned i = 0; sl->cfg && i < PCI_NR_BARS; i++)
			if (want[s][i].mapped && !sl->map[i].mapped)
				map_bar(bus, sl, i, want[s][i].base);
	}
	pthread_mutex_unlock(&bus->commit_lock);
}

static struct pci_window *window_for(struct pci_bus *bus, const struct pci_bar *b, uint64_t **next)
{
	if (b->kind == PCI_BAR_IO) {
		*next = &bus->next_io;
		return &bus->p.io;
	}
	if (b->kind == PCI_BAR_MEM64 && bus->p.mem64.end > bus->p.mem64.start) {
		*next = &bus->next_mem64;
		return &bus->p.mem64;
	}
	*next = &bus->next_mem32;
	return &bus->p.mem32;
}

static int assign_bars(struct pci_bus *bus, struct pci_config *fn, const char *name)
{
	uint64_t addr[PCI_NR_BARS] = { 0 };
	uint64_t saved[3] = { bus->next_io, bus->next_mem32, bus->next_mem64 };
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		const struct pci_bar *b = &fn->bar[i];
		if (b->kind == PCI_BAR_NONE)
			continue;
		uint64_t *next;
		const struct pci_window *w = window_for(bus, b, &next);
		uint64_t base = ALIGN_UP(*next, b->size);
		if (base < *next || base + b->size > w->end || base + b->size < base) {
			log_error("pci: %s: no room for BAR%u (size %#llx)", name, i,
				  (unsigned long long)b->size);
			bus->next_io = saved[0];
			bus->next_mem32 = saved[1];
			bus->next_mem64 = saved[2];
			return -ENOSPC;
		}
		addr[i] = base;
		*next = base + b->size;
	}
	uint16_t command = 0;
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		if (fn->bar[i].kind == PCI_BAR_NONE)
			continue;
		pci_config_set_bar_addr(fn, i, addr[i]);
		command |= fn->bar[i].kind == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	}
	pci_cfg_put(fn, PCI_COMMAND, 2, pci_cfg_get(fn, PCI_COMMAND, 2) | command);
	return 0;
}

int pci_bus_add_device(struct pci_bus *bus, struct pci_config *fn, const char *name, int slot,
		       unsigned *slot_out)
{
	if (slot == -1) {
		for (unsigned s = 1; s < PCI_MAX_DEVICES && slot == -1; s++)
			if (!bus->slot[s].cfg)
				slot = (int)s;
		if (slot == -1) {
			log_error("pci: %s: all %u slots of bus 0 are taken", name, PCI_MAX_DEVICES);
			return -ENOSPC;
		}
	}
	if (slot < 1 || slot >= PCI_MAX_DEVICES)
		return -EINVAL;
	if (bus->slot[slot].cfg) {
		log_error("pci: %s: slot %d is taken by %s", name, slot, bus->slot[slot].name);
		return -EEXIST;
	}
	int err = assign_bars(bus, fn, name);
	if (err)
		return err;
	bus->slot[slot] = (struct pci_slot){ .cfg = fn, .name = name };
	if (slot_out)
		*slot_out = (unsigned)slot;
	atomic_store(&bus->remap_pending, true);
	pci_bus_commit(bus);
	return 0;
}

void pci_bus_host_info(const struct pci_bus *bus, struct pci_host_info *out)
{
	*out = (struct pci_host_info){
		.ecam_base = bus->p.ecam_base,
		.ecam_size = bus->p.ecam_size,
		.bus_start = 0,
		.bus_end = 0,
		.io = bus->p.io,
		.mem32 = bus->p.mem32,
		.mem64 = bus->p.mem64,
	};
}
