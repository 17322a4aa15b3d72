/* ACPI tables for the x86 board, generated in C: RSDP, XSDT, FADT
 * (hardware-reduced, sleep control/status and reset registers), MADT,
 * DSDT (built with aml.h: COM1, _S5, PCI0 later). */
#ifndef ALIOTH_ARCH_X86_ACPI_H
#define ALIOTH_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

struct acpi_config {
	unsigned nr_cpus;
	const uint32_t *apic_ids;  /* nr_cpus entries, boot CPU first */
	uint64_t ioapic_base;
	uint8_t ioapic_id;
	uint32_t ioapic_gsi_base;
};

/* Writes all tables into buf as they must appear at guest address `gpa`
 * (the RSDP first, at gpa; pointers inside are absolute guest addresses).
 * Returns the bytes used, or 0 if cap is too small. */
size_t acpi_build(const struct acpi_config *cfg, uint64_t gpa, uint8_t *buf, size_t cap);

#endif
