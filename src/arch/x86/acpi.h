/* ACPI tables for the x86 board, generated in C: RSDP, XSDT, FADT
 * (hardware-reduced, sleep control/status and reset registers), MADT,
 * MCFG, DSDT (built with aml.h: COM1, _S5, PCI0). */
#ifndef ALIOTH_ARCH_X86_ACPI_H
#define ALIOTH_ARCH_X86_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pci/bus.h"

struct acpi_config {
	unsigned nr_cpus;
	const uint32_t *apic_ids;  /* nr_cpus entries, boot CPU first */
	uint64_t ioapic_base;
	uint8_t ioapic_id;
	uint32_t ioapic_gsi_base;
	/* No 8259 PICs (split irqchip): the MADT then lacks PCAT_COMPAT. */
	bool no_pic;
	/* The PCI host bridge: adds MCFG and \_SB.PCI0 with its windows.
	 * NULL: no PCI. */
	const struct pci_host_info *pci;
};

/* Writes all tables into buf as they must appear at guest address `gpa`
 * (the RSDP first, at gpa; pointers inside are absolute guest addresses).
 * Returns the bytes used, or 0 if cap is too small. */
size_t acpi_build(const struct acpi_config *cfg, uint64_t gpa, uint8_t *buf, size_t cap);

/* For firmware that installs the tables itself (QEMU's etc/table-loader):
 * where the fields are that the firmware must patch once it has placed the
 * tables, as offsets. The RSDP sits alone at rsdp[0..ACPI_RSDP_SIZE); the
 * other tables are in `tables`, and every pointer among them holds an
 * offset into `tables` to which the firmware adds the tables' address. */
#define ACPI_RSDP_SIZE        36
#define ACPI_RSDP_XSDT_OFFSET 24   /* the RSDP's 8-byte XSDT pointer */
#define ACPI_RSDP_CSUM_V1     8    /* over bytes [0, 20) */
#define ACPI_RSDP_CSUM_V2     32   /* over bytes [0, 36) */
#define ACPI_LOADER_MAX       8

struct acpi_loader_info {
	size_t tables_len;
	unsigned nr_pointers;
	size_t pointers[ACPI_LOADER_MAX];  /* 8-byte fields in `tables` */
	unsigned nr_checksums;
	struct { size_t start, len, at; } checksums[ACPI_LOADER_MAX]; /* one per table */
};

/* Returns false if the tables do not fit in cap bytes. */
bool acpi_build_for_loader(const struct acpi_config *cfg, uint8_t rsdp[ACPI_RSDP_SIZE],
			   uint8_t *tables, size_t cap, struct acpi_loader_info *info);

#endif
