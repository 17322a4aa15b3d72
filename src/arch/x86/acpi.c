#include "arch/x86/acpi.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "util/util.h"

/* Sizes and offsets from the ACPI 6.4 specification, chapter 5. */
#define RSDP_SIZE        36
#define RSDP_V1_SIZE     20
#define HEADER_SIZE      36
#define HEADER_CHECKSUM  9
#define XSDT_MAX_ENTRIES 3
#define MCFG_SIZE        (HEADER_SIZE + 8 + 16)
#define MCFG_REVISION    1
#define FADT_SIZE        276
#define MADT_FIXED_SIZE  (HEADER_SIZE + 8)
#define TABLE_ALIGN      8

#define FADT_REVISION       6
#define FADT_MINOR_REVISION 4
#define MADT_REVISION       6
#define DSDT_REVISION       2 /* 64-bit AML integers */
#define XSDT_REVISION       1
#define RSDP_REVISION       2

#define FADT_OFF_FLAGS        112
#define FADT_OFF_RESET_REG    116
#define FADT_OFF_RESET_VALUE  128
#define FADT_OFF_MINOR        131
#define FADT_OFF_X_DSDT       140
#define FADT_OFF_X_PM_TIMER   208
#define FADT_OFF_SLEEP_CTL    244
#define FADT_OFF_SLEEP_STS    256
#define FADT_OFF_HYPERVISOR   268

#define FADT_TMR_VAL_EXT      (1u << 8)
#define FADT_RESET_REG_SUP    (1u << 10)
#define FADT_HW_REDUCED_ACPI  (1u << 20)

#define GAS_SYSTEM_IO   1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_DWORD 3

#define MADT_PCAT_COMPAT     1u
#define MADT_LAPIC           0
#define MADT_IOAPIC          1
#define MADT_ISO             2
#define MADT_LAPIC_NMI       4
#define MADT_X2APIC          9
#define MADT_X2APIC_NMI      10
#define MADT_LAPIC_SIZE      8
#define MADT_IOAPIC_SIZE     12
#define MADT_ISO_SIZE        10
#define MADT_LAPIC_NMI_SIZE  6
#define MADT_X2APIC_SIZE     16
#define MADT_X2APIC_NMI_SIZE 12
#define LAPIC_ENABLED        1u
#define NMI_ALL_CPUS_8       0xFF
#define NMI_ALL_CPUS_32      0xFFFFFFFFu
#define NMI_LINT1            1

#define ISA_IRQ_PIT   0
#define GSI_PIT       2
#define SLP_TYP_S5    5

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static void le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t sum_bytes(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Makes bytes [0, n) of p sum to zero by adjusting p[at]. */
static void fix_checksum(uint8_t *p, size_t n, size_t at)
{
	p[at] = 0;
	p[at] = (uint8_t)-sum_bytes(p, n);
}

static void write_header(uint8_t *p, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(p, sig, 4);
	le32(p + 4, len);
	p[8] = rev;
	memcpy(p + 10, "ALIOTH", 6);
	memcpy(p + 16, "ALIOTHVM", 8);
	le32(p + 24, 1);          /* OEM revision */
	memcpy(p + 28, "ALTH", 4); /* creator id */
	le32(p + 32, 1);          /* creator revision */
}

static void finish_table(uint8_t *p)
{
	uint32_t len = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
		       (uint32_t)p[7] << 24;
	fix_checksum(p, len, HEADER_CHECKSUM);
}

static void write_rsdp(uint8_t *p, uint64_t xsdt)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "ALIOTH", 6);
	p[15] = RSDP_REVISION;
	le32(p + 20, RSDP_SIZE);
	le64(p + 24, xsdt);
	fix_checksum(p, RSDP_V1_SIZE, 8);
	fix_checksum(p, RSDP_SIZE, 32);
}

static size_t xsdt_size(unsigned n)
{
	return HEADER_SIZE + 8 * (size_t)n;
}

static void write_xsdt(uint8_t *p, const uint64_t *entries, unsigned n)
{
	write_header(p, "XSDT", (uint32_t)xsdt_size(n), XSDT_REVISION);
	for (unsigned i = 0; i < n; i++)
		le64(p + HEADER_SIZE + 8 * i, entries[i]);
	finish_table(p);
}

/* One ECAM allocation: segment 0, the host bridge's bus range. */
static void write_mcfg(uint8_t *p, const struct pci_host_info *pci)
{
	write_header(p, "MCFG", MCFG_SIZE, MCFG_REVISION);
	uint8_t *e = p + HEADER_SIZE + 8;
	le64(e, pci->ecam_base);
	le16(e + 8, 0);
	e[10] = pci->bus_start;
	e[11] = pci->bus_end;
	finish_table(p);
}

static void write_gas_io(uint8_t *p, uint16_t port, uint8_t bits, uint8_t access)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = bits;
	p[2] = 0; /* bit offset */
	p[3] = access;
	le64(p + 4, port);
}

/* Hardware-reduced: no PM1/GPE blocks, no SCI. Sleep is the sleep control
 * register (Linux writes SLP_TYP << 2 | SLP_EN there), reset the reset
 * register. */
static void write_fadt(uint8_t *p, uint64_t dsdt)
{
	write_header(p, "FACP", FADT_SIZE, FADT_REVISION);
	le32(p + FADT_OFF_FLAGS, FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_TMR_VAL_EXT);
	write_gas_io(p + FADT_OFF_RESET_REG, PORT_ACPI_RESET, 8, GAS_ACCESS_BYTE);
	p[FADT_OFF_RESET_VALUE] = ACPI_RESET_VALUE;
	p[FADT_OFF_MINOR] = FADT_MINOR_REVISION;
	le64(p + FADT_OFF_X_DSDT, dsdt);
	write_gas_io(p + FADT_OFF_X_PM_TIMER, PORT_ACPI_PM_TIMER, 32, GAS_ACCESS_DWORD);
	write_gas_io(p + FADT_OFF_SLEEP_CTL, PORT_ACPI_SLEEP_CTL, 8, GAS_ACCESS_BYTE);
	write_gas_io(p + FADT_OFF_SLEEP_STS, PORT_ACPI_SLEEP_STS, 8, GAS_ACCESS_BYTE);
	memcpy(p + FADT_OFF_HYPERVISOR, "ALIOTH  ", 8);
	finish_table(p);
}

/* 8-bit Local APIC entries cannot hold APIC id 0xFF (broadcast) or a
 * processor UID of 0xFF (the NMI entry's "all processors"). */
static bool needs_x2apic_entry(uint32_t apic_id, unsigned index)
{
	return apic_id >= 0xFF || index >= 0xFF;
}

static unsigned count_x2apic_entries(const struct acpi_config *cfg)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->nr_cpus; i++)
		n += needs_x2apic_entry(cfg->apic_ids[i], i);
	return n;
}

static size_t madt_size(const struct acpi_config *cfg)
{
	unsigned nx2 = count_x2apic_entries(cfg);
	return MADT_FIXED_SIZE + (size_t)(cfg->nr_cpus - nx2) * MADT_LAPIC_SIZE +
	       (size_t)nx2 * MADT_X2APIC_SIZE + MADT_IOAPIC_SIZE + MADT_ISO_SIZE +
	       MADT_LAPIC_NMI_SIZE + (nx2 ? MADT_X2APIC_NMI_SIZE : 0);
}

static uint8_t *madt_cpu(uint8_t *p, uint32_t apic_id, unsigned index)
{
	if (needs_x2apic_entry(apic_id, index)) {
		p[0] = MADT_X2APIC;
		p[1] = MADT_X2APIC_SIZE;
		le32(p + 4, apic_id);
		le32(p + 8, LAPIC_ENABLED);
		le32(p + 12, index);
		return p + MADT_X2APIC_SIZE;
	}
	p[0] = MADT_LAPIC;
	p[1] = MADT_LAPIC_SIZE;
	p[2] = (uint8_t)index;
	p[3] = (uint8_t)apic_id;
	le32(p + 4, LAPIC_ENABLED);
	return p + MADT_LAPIC_SIZE;
}

static uint8_t *madt_ioapic(uint8_t *p, const struct acpi_config *cfg)
{
	p[0] = MADT_IOAPIC;
	p[1] = MADT_IOAPIC_SIZE;
	p[2] = cfg->ioapic_id;
	le32(p + 4, (uint32_t)cfg->ioapic_base);
	le32(p + 8, cfg->ioapic_gsi_base);
	return p + MADT_IOAPIC_SIZE;
}

/* The PIT's ISA IRQ 0 is wired to IOAPIC pin 2, as on PCs. */
static uint8_t *madt_pit_override(uint8_t *p)
{
	p[0] = MADT_ISO;
	p[1] = MADT_ISO_SIZE;
	p[2] = 0; /* ISA bus */
	p[3] = ISA_IRQ_PIT;
	le32(p + 4, GSI_PIT);
	le16(p + 8, 0); /* conforms to the bus: edge, active high */
	return p + MADT_ISO_SIZE;
}

static uint8_t *madt_nmi(uint8_t *p, bool x2apic)
{
	if (x2apic) {
		p[0] = MADT_X2APIC_NMI;
		p[1] = MADT_X2APIC_NMI_SIZE;
		le32(p + 4, NMI_ALL_CPUS_32);
		p[8] = NMI_LINT1;
		return p + MADT_X2APIC_NMI_SIZE;
	}
	p[0] = MADT_LAPIC_NMI;
	p[1] = MADT_LAPIC_NMI_SIZE;
	p[2] = NMI_ALL_CPUS_8;
	p[5] = NMI_LINT1;
	return p + MADT_LAPIC_NMI_SIZE;
}

static void write_madt(uint8_t *p, const struct acpi_config *cfg, size_t size)
{
	write_header(p, "APIC", (uint32_t)size, MADT_REVISION);
	le32(p + HEADER_SIZE, (uint32_t)X86_LAPIC_BASE);
	le32(p + HEADER_SIZE + 4, cfg->no_pic ? 0 : MADT_PCAT_COMPAT);
	uint8_t *e = p + MADT_FIXED_SIZE;
	for (unsigned i = 0; i < cfg->nr_cpus; i++)
		e = madt_cpu(e, cfg->apic_ids[i], i);
	e = madt_ioapic(e, cfg);
	e = madt_pit_override(e);
	e = madt_nmi(e, false);
	if (count_x2apic_entries(cfg))
		madt_nmi(e, true);
	finish_table(p);
}

static void dsdt_com1(struct aml *a)
{
	aml_mark dev = aml_device_begin(a, "_SB.COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_name(a, "_STA");
	aml_integer(a, 0x0F); /* present, enabled, shown, functioning */
	aml_name(a, "_CRS");
	aml_mark crs = aml_resource_template_begin(a);
	aml_io(a, PORT_COM1, PORT_COM1, 0, 8);
	aml_irq_noflags(a, 1u << COM1_IRQ);
	aml_resource_template_end(a, crs);
	aml_end(a, dev);
}

/* _S5's first element is the SLP_TYP the OS writes to the sleep control
 * register for soft-off. */
static void dsdt_s5(struct aml *a)
{
	aml_name(a, "_S5");
	aml_mark pkg = aml_package_begin(a, 1);
	aml_integer(a, SLP_TYP_S5);
	aml_end(a, pkg);
}

/* PCI Firmware Spec 3.1 §4.6: function 5 = 0 tells the OS it may keep or
 * reassign the BARs we assigned. */
static void dsdt_pci0_dsm(struct aml *a)
{
	aml_mark m = aml_method_begin(a, "_DSM", 4, false);
	aml_mark uuid = aml_if_begin(a);
	aml_lequal(a);
	aml_arg(a, 0);
	aml_touuid(a, "e5c937d0-3553-4d7a-9117-ea4d19c3434d");
	aml_mark f0 = aml_if_begin(a);
	aml_lequal(a);
	aml_arg(a, 2);
	aml_integer(a, 0);
	aml_return(a);
	aml_buffer(a, (uint8_t[]){ 0x21 }, 1); /* functions 0 and 5 */
	aml_end(a, f0);
	aml_mark f5 = aml_if_begin(a);
	aml_lequal(a);
	aml_arg(a, 2);
	aml_integer(a, 5);
	aml_return(a);
	aml_integer(a, 0);
	aml_end(a, f5);
	aml_end(a, uuid);
	aml_return(a);
	aml_integer(a, 0);
	aml_end(a, m);
}

static void dsdt_pci0_crs(struct aml *a, const struct pci_host_info *pci)
{
	aml_name(a, "_CRS");
	aml_mark rt = aml_resource_template_begin(a);
	aml_word_bus_number(a, pci->bus_start, pci->bus_end);
	aml_io(a, PORT_PCI_CONFIG_ADDR, PORT_PCI_CONFIG_ADDR, 1, 8);
	if (pci->io.end > pci->io.start)
		aml_word_io(a, (uint16_t)pci->io.start, (uint16_t)(pci->io.end - 1));
	if (pci->mem32.end > pci->mem32.start)
		aml_dword_memory(a, AML_NON_CACHEABLE, (uint32_t)pci->mem32.start,
				 (uint32_t)(pci->mem32.end - 1));
	if (pci->mem64.end > pci->mem64.start)
		aml_qword_memory(a, AML_PREFETCHABLE, pci->mem64.start, pci->mem64.end - 1);
	aml_resource_template_end(a, rt);
}

static void dsdt_pci0(struct aml *a, const struct pci_host_info *pci)
{
	aml_mark d = aml_device_begin(a, "_SB.PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, pci->bus_start);
	dsdt_pci0_dsm(a);
	dsdt_pci0_crs(a, pci);
	aml_end(a, d);
}

static void build_dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	dsdt_com1(a);
	dsdt_s5(a);
	if (cfg->pci)
		dsdt_pci0(a, cfg->pci);
}

struct acpi_layout {
	size_t xsdt, fadt, madt, mcfg, dsdt, end;
	size_t madt_size;
	unsigned xsdt_entries;
};

static void plan_layout(struct acpi_layout *l, const struct acpi_config *cfg, size_t dsdt_size)
{
	l->xsdt_entries = cfg->pci ? 3 : 2;
	l->xsdt = ALIGN_UP((size_t)RSDP_SIZE, TABLE_ALIGN);
	l->fadt = ALIGN_UP(l->xsdt + xsdt_size(l->xsdt_entries), TABLE_ALIGN);
	l->madt = ALIGN_UP(l->fadt + FADT_SIZE, TABLE_ALIGN);
	l->madt_size = madt_size(cfg);
	l->mcfg = ALIGN_UP(l->madt + l->madt_size, TABLE_ALIGN);
	l->dsdt = cfg->pci ? ALIGN_UP(l->mcfg + MCFG_SIZE, TABLE_ALIGN) : l->mcfg;
	l->end = l->dsdt + dsdt_size;
}

size_t acpi_build(const struct acpi_config *cfg, uint64_t gpa, uint8_t *buf, size_t cap)
{
	struct aml body;
	struct acpi_layout l;

	aml_init(&body);
	build_dsdt_body(&body, cfg);
	plan_layout(&l, cfg, HEADER_SIZE + body.len);
	if (l.end > cap) {
		aml_free(&body);
		return 0;
	}

	memset(buf, 0, l.end);
	write_header(buf + l.dsdt, "DSDT", (uint32_t)(HEADER_SIZE + body.len), DSDT_REVISION);
	memcpy(buf + l.dsdt + HEADER_SIZE, body.data, body.len);
	finish_table(buf + l.dsdt);
	aml_free(&body);

	uint64_t entries[XSDT_MAX_ENTRIES] = { gpa + l.fadt, gpa + l.madt, gpa + l.mcfg };
	if (cfg->pci)
		write_mcfg(buf + l.mcfg, cfg->pci);
	write_madt(buf + l.madt, cfg, l.madt_size);
	write_fadt(buf + l.fadt, gpa + l.dsdt);
	write_xsdt(buf + l.xsdt, entries, l.xsdt_entries);
	write_rsdp(buf, gpa + l.xsdt);
	return l.end;
}

_Static_assert(RSDP_SIZE == ACPI_RSDP_SIZE, "RSDP size");

static void loader_checksum(struct acpi_loader_info *info, size_t start, size_t len)
{
	info->checksums[info->nr_checksums++] = (typeof(info->checksums[0])){
		.start = start, .len = len, .at = start + HEADER_CHECKSUM,
	};
}

/* Built as if the blob started RSDP-aligned before address 0, so that the
 * pointers among the tables come out as offsets into `tables`. */
bool acpi_build_for_loader(const struct acpi_config *cfg, uint8_t rsdp[ACPI_RSDP_SIZE],
			   uint8_t *tables, size_t cap, struct acpi_loader_info *info)
{
	struct aml body;
	struct acpi_layout l;
	aml_init(&body);
	build_dsdt_body(&body, cfg);
	plan_layout(&l, cfg, HEADER_SIZE + body.len);
	aml_free(&body);
	if (l.end - l.xsdt > cap)
		return false;

	size_t whole_len = l.end;
	uint8_t *whole = xcalloc(1, whole_len);
	acpi_build(cfg, 0 - (uint64_t)l.xsdt, whole, whole_len);
	memcpy(rsdp, whole, RSDP_SIZE);
	memcpy(tables, whole + l.xsdt, l.end - l.xsdt);
	free(whole);

	memset(info, 0, sizeof(*info));
	info->tables_len = l.end - l.xsdt;
	for (unsigned i = 0; i < l.xsdt_entries; i++)
		info->pointers[info->nr_pointers++] = HEADER_SIZE + 8 * (size_t)i;
	info->pointers[info->nr_pointers++] = l.fadt - l.xsdt + FADT_OFF_X_DSDT;
	loader_checksum(info, 0, xsdt_size(l.xsdt_entries));
	loader_checksum(info, l.fadt - l.xsdt, FADT_SIZE);
	loader_checksum(info, l.madt - l.xsdt, l.madt_size);
	if (cfg->pci)
		loader_checksum(info, l.mcfg - l.xsdt, MCFG_SIZE);
	loader_checksum(info, l.dsdt - l.xsdt, l.end - l.dsdt);
	return true;
}
