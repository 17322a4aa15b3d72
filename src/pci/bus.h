/* PCI bus 0 (one segment) with its host bridge at 00:00.0: config access
 * through ports 0xCF8/0xCFC and ECAM, BAR address assignment when a device is
 * added, and BAR (un)mapping on the machine's port and MMIO buses when the
 * guest moves a BAR or toggles COMMAND.IO/MEM. */
#ifndef ALIOTH_PCI_BUS_H
#define ALIOTH_PCI_BUS_H

#include <stdint.h>

#include "dev/bus.h"
#include "pci/config.h"

#define PCI_MAX_DEVICES 32
#define PCI_ECAM_BUS_SIZE (1ULL << 20) /* 32 devices x 8 functions x 4 KiB */

struct pci_window {
	uint64_t start, end; /* [start, end); empty when start == end */
};

struct pci_bus_params {
	struct io_bus *pio, *mmio;
	uint64_t ecam_base, ecam_size; /* MMIO claimed; only bus 0 is decoded */
	struct pci_window io, mem32, mem64;
};

/* What ACPI describes: MCFG gets ecam_base and bus_start..bus_end (segment
 * 0); PCI0._CRS gets the bus number range and the three windows; the ECAM
 * range [ecam_base, ecam_base + ecam_size) must be reserved (e820 or a
 * PNP0C02 resource) for Linux to trust MCFG. */
struct pci_host_info {
	uint64_t ecam_base, ecam_size;
	uint8_t bus_start, bus_end;
	struct pci_window io, mem32, mem64;
};

struct pci_bus;

/* Fills p with the x86 layout: ECAM at X86_PCI_ECAM_START (256 MiB),
 * IO 0xC000-0xFFFF, MEM32 [X86_PCI_MMIO32_START, X86_PCI_MMIO32_END) and
 * the given 64-bit window (may be empty). */
void pci_bus_params_x86(struct pci_bus_params *p, struct io_bus *pio, struct io_bus *mmio,
			uint64_t mem64_start, uint64_t mem64_end);

/* Creates bus 0 with the host bridge and claims 0xCF8-0xCFF on pio and the
 * ECAM range on mmio. Returns 0 or -errno. */
int pci_bus_create(const struct pci_bus_params *p, struct pci_bus **out);
/* Releases every range the bus put on pio/mmio. Devices' configs are
 * their owners'. */
void pci_bus_destroy(struct pci_bus *bus);

/* Places a function (single-function device) at slot (1..31, or -1 for
 * the first free one), assigns naturally aligned addresses to its BARs,
 * enables decoding of the spaces it uses as firmware would and maps the
 * BARs. Call before vCPUs run. Returns 0 or -EEXIST/-ENOSPC/-EINVAL. */
int pci_bus_add_device(struct pci_bus *bus, struct pci_config *fn, const char *name, int slot,
		       unsigned *slot_out);

void pci_bus_host_info(const struct pci_bus *bus, struct pci_host_info *out);

/* Applies BAR moves and decode toggles the guest made. Config writes arrive
 * while the io_bus that dispatched them holds its lock, so they only record
 * that the map changed; the vCPU loop calls this after each port-I/O or MMIO
 * exit, outside any io_bus dispatch. Cheap when nothing changed. */
void pci_bus_commit(struct pci_bus *bus);

/* Config access as the two mechanisms decode it; exposed for the unit tests
 * and for callers that dispatch config cycles themselves. */
uint64_t pci_bus_config_read(struct pci_bus *bus, unsigned bus_nr, unsigned devfn, unsigned off,
			     unsigned size);
void pci_bus_config_write(struct pci_bus *bus, unsigned bus_nr, unsigned devfn, unsigned off,
			  unsigned size, uint64_t val);

#endif
