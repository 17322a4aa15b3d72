/* The configuration space of one PCI function: 4 KiB with per-byte write
 * masks and write-1-to-clear masks, a type 0 header, BARs described once by
 * the device (sizing falls out of the masks) and a capability list whose
 * entries may hook reads and writes (MSI-X, virtio). */
#ifndef ALIOTH_PCI_CONFIG_H
#define ALIOTH_PCI_CONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/bus.h"

#define PCI_CFG_SIZE         4096
#define PCI_NR_BARS          6
#define PCI_NR_CAP_HOOKS     8

/* Type 0 header offsets. */
#define PCI_VENDOR_ID        0x00
#define PCI_DEVICE_ID        0x02
#define PCI_COMMAND          0x04
#define PCI_STATUS           0x06
#define PCI_REVISION_ID      0x08
#define PCI_CLASS_PROG       0x09
#define PCI_CLASS_DEVICE     0x0A  /* subclass, then base class at 0x0B */
#define PCI_HEADER_TYPE      0x0E
#define PCI_BAR0             0x10
#define PCI_SUBSYSTEM_VENDOR 0x2C
#define PCI_SUBSYSTEM_ID     0x2E
#define PCI_ROM_ADDRESS      0x30
#define PCI_CAP_PTR          0x34
#define PCI_INTERRUPT_LINE   0x3C
#define PCI_INTERRUPT_PIN    0x3D
#define PCI_HEADER_END       0x40

#define PCI_COMMAND_IO           0x0001
#define PCI_COMMAND_MEMORY       0x0002
#define PCI_COMMAND_MASTER       0x0004
#define PCI_COMMAND_PARITY       0x0040
#define PCI_COMMAND_SERR         0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT     0x0008
#define PCI_STATUS_CAP_LIST      0x0010
/* Error bits software clears by writing 1. */
#define PCI_STATUS_RW1C          0xF900

#define PCI_BAR_SPACE_IO         0x1
#define PCI_BAR_MEM_TYPE_64      0x4
#define PCI_BAR_MEM_PREFETCH     0x8

#define PCI_CAP_ID_MSI           0x05
#define PCI_CAP_ID_VNDR          0x09
#define PCI_CAP_ID_MSIX          0x11

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

/* What the device behind a BAR answers; accesses arrive with offsets
 * relative to the BAR base. */
struct pci_bar {
	enum pci_bar_kind kind;
	bool prefetchable;
	uint64_t size;               /* power of two: IO >= 4, MEM >= 16 */
	const struct io_ops *ops;
	void *dev;
};

struct pci_config;

/* Lets a capability see config accesses to its bytes (offsets relative to
 * the capability start). Called with the config lock held; the hook reads
 * and updates cfg->data directly. */
struct pci_cap_hook {
	void (*before_read)(void *ctx, struct pci_config *cfg, unsigned off, unsigned size);
	void (*after_write)(void *ctx, struct pci_config *cfg, unsigned off, unsigned size);
};

struct pci_config {
	pthread_mutex_t lock;
	uint8_t data[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint8_t w1cmask[PCI_CFG_SIZE];
	struct pci_bar bar[PCI_NR_BARS]; /* a MEM64 BAR uses bar[i], bar[i+1] is NONE */
	unsigned cap_end;                /* where the next capability goes */
	unsigned last_cap;               /* offset of the last capability, 0: none */
	unsigned nr_hooks;
	struct {
		unsigned start, len;
		const struct pci_cap_hook *hook;
		void *ctx;
	} hooks[PCI_NR_CAP_HOOKS];
};

struct pci_ids {
	uint16_t vendor, device;
	uint16_t subsystem_vendor, subsystem;
	uint8_t revision;
	uint8_t class_code, subclass, prog_if;
};

/* A type 0 header with COMMAND's IO/MEM/master/parity/SERR/INTx-disable bits
 * and STATUS's error bits (RW1C) writable; everything else read-only. */
void pci_config_init(struct pci_config *cfg, const struct pci_ids *ids);
void pci_config_destroy(struct pci_config *cfg);

/* Describes BAR idx (a MEM64 BAR also claims idx + 1). The address starts
 * at 0; the bus assigns it. Returns 0 or -EINVAL (bad index/size). */
int pci_config_set_bar(struct pci_config *cfg, unsigned idx, const struct pci_bar *bar);
/* Guest-visible base of BAR idx with the flag bits stripped. */
uint64_t pci_config_bar_addr(struct pci_config *cfg, unsigned idx);
/* Sets a BAR's address as firmware would (not masked by the write mask). */
void pci_config_set_bar_addr(struct pci_config *cfg, unsigned idx, uint64_t addr);

/* INTx pin 1..4 = INTA..INTD (0: none) and the line firmware routed it to. */
void pci_config_set_intx(struct pci_config *cfg, uint8_t pin, uint8_t line);

/* Appends a capability: body[0] is the ID (body[1], the next pointer, is
 * filled in), len bytes copied, wmask (may be NULL: read-only) gives the
 * guest-writable bits of each byte. Returns the capability's offset, or
 * 0 when config space or the hook table is full. */
unsigned pci_config_add_cap(struct pci_config *cfg, const uint8_t *body, unsigned len,
			    const uint8_t *wmask, const struct pci_cap_hook *hook, void *ctx);

/* Lets the function's owner see guest writes to header bytes [start,
 * start + len), e.g. COMMAND and the BARs to follow a BAR move, through
 * hook->after_write (offsets relative to start; cfg->lock held). Uses a
 * hook slot, adds no capability. Setup only; false when the table is full. */
static inline bool pci_config_watch_header(struct pci_config *cfg, unsigned start, unsigned len,
					   const struct pci_cap_hook *hook, void *ctx)
{
	if (cfg->nr_hooks == PCI_NR_CAP_HOOKS || start + len > PCI_HEADER_END)
		return false;
	unsigned h = cfg->nr_hooks++;
	cfg->hooks[h].start = start;
	cfg->hooks[h].len = len;
	cfg->hooks[h].hook = hook;
	cfg->hooks[h].ctx = ctx;
	return true;
}

/* Guest accesses; size 1..8, off + size clipped at 4 KiB (reads of bytes
 * past the end are all ones). */
uint64_t pci_config_read(struct pci_config *cfg, unsigned off, unsigned size);
void pci_config_write(struct pci_config *cfg, unsigned off, unsigned size, uint64_t val);

/* Unlocked little-endian helpers for code that holds cfg->lock (hooks) or
 * owns cfg exclusively (setup). */
uint32_t pci_cfg_get(const struct pci_config *cfg, unsigned off, unsigned size);
void pci_cfg_put(struct pci_config *cfg, unsigned off, unsigned size, uint32_t val);

#endif
