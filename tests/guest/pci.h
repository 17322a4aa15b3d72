/* PCI from inside the guest: config space through ECAM (found in the ACPI
 * MCFG table) or, without one, ports 0xCF8/0xCFC; bus 0 enumeration, BAR
 * addresses as the firmware/VMM assigned them, capability walking, and an
 * uncached mapping for BARs that lie above the guest's identity map. */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stdint.h>

#define PCI_CAP_ID_MSIX   0x11
#define PCI_CAP_ID_VENDOR 0x09
#define PCI_COMMAND       0x04
#define PCI_COMMAND_IO    0x1
#define PCI_COMMAND_MEM   0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400

struct pci_host {
	uint64_t ecam;      /* 0: use ports 0xCF8/0xCFC */
	uint8_t bus_start;
};

struct pci_fn {
	const struct pci_host *host;
	uint8_t dev;        /* bus 0, function 0 only */
	uint16_t vendor, device, subsys_device;
	uint8_t class_code, subclass;
};

/* Looks for MCFG under the RSDP at `rsdp` (0: none); prints what it found. */
void pci_host_init(struct pci_host *h, uint64_t rsdp);

uint32_t pci_read(const struct pci_fn *f, unsigned off, unsigned size);
void pci_write(const struct pci_fn *f, unsigned off, unsigned size, uint32_t val);

/* Enumerates bus 0, printing one line per function present, into fns
 * (at most cap entries). Returns the number found. */
unsigned pci_scan(const struct pci_host *h, struct pci_fn *fns, unsigned cap);
/* The first function on bus 0 with this vendor and device; 1 if found. */
int pci_find(const struct pci_host *h, uint16_t vendor, uint16_t device, struct pci_fn *out);

/* Address of BAR i (a 64-bit BAR spans i and i+1); 0 if unassigned. */
uint64_t pci_bar_addr(const struct pci_fn *f, unsigned i);
int pci_bar_is_io(const struct pci_fn *f, unsigned i);
/* Config offset of the first capability with `id` at or after the one
 * `from` points to (0: from the start of the list); 0 if none. */
unsigned pci_find_cap(const struct pci_fn *f, uint8_t id, unsigned from);

/* Makes [addr, addr + size) reachable (identity, uncached) and returns it
 * as a pointer; NULL if that is beyond what this guest can map. */
volatile void *pci_map_mmio(uint64_t addr, uint64_t size);

#endif
