/* ACPI from inside the guest: find the RSDP, verify every table's checksum,
 * read the CPUs from the MADT and the power-off register from the FADT
 * (sleep control register, or PM1a control block), with _S5 from the DSDT. */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include <stdint.h>

#define ACPI_MAX_CPUS 256

struct acpi_gas {
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_info {
	uint64_t rsdp;
	unsigned rsdp_revision;
	unsigned nr_tables;       /* tables checked, DSDT included */
	unsigned bad_checksums;
	int have_madt, have_fadt, have_dsdt;
	unsigned nr_cpus;
	uint32_t apic_ids[ACPI_MAX_CPUS];
	uint64_t lapic_base;
	int hw_reduced;
	struct acpi_gas sleep_control;  /* address 0 if absent */
	uint32_t pm1a_cnt;               /* 0 if absent */
	int s5_found;
	uint8_t s5_type;
	int reset_supported;            /* FADT flag RESET_REG_SUP */
	struct acpi_gas reset_reg;      /* address 0 if absent */
	uint8_t reset_value;
};

/* Fills *ai, printing one line per table; `hint` is the loader's RSDP
 * address or 0 (then the BIOS area is scanned). Returns NULL or an error. */
const char *acpi_scan(uint64_t hint, struct acpi_info *ai);
/* Writes S5 to the sleep register; returns only if the VM is still alive. */
void acpi_poweroff(const struct acpi_info *ai);
/* Writes the FADT reset value to the reset register; returns (after a
 * generous delay) only if the VM is still alive, or if there is none. */
void acpi_reset(const struct acpi_info *ai);

#endif
