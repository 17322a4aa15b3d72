#include "arch/x86/acpi.h"

#include <stdbool.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "util/util.h"

/* Sizes and offsets from the ACPI 6.4 specification, chapter 5. */
#define RSDP_SIZE        36
#define RSDP_V1_SIZE     20
#define HEADER_SIZE      36
#define HEADER_CHECKSUM  9
#define XSDT_ENTRIES     2
#define XSDT_SIZE        (HEADER_SIZE + 8 * XSDT_ENTRIES)
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

static void write_xsdt(uint8_t *p, const uint64_t entries[XSDT_ENTRIES])
{
	write_header(p, "XSDT", XSDT_SIZE, XSDT_REVISION);
	for (int i = 0; i < XSDT_ENTRIES; i++)
		le64(p + HEADER_SIZE + 8 * i, entries[i]);
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
	le32(p + HEADER_SIZE + 4, MADT_PCAT_COMPAT);
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

static void build_dsdt_body(struct aml *a)
{
	dsdt_com1(a);
	dsdt_s5(a);
}

struct acpi_layout {
	size_t xsdt, fadt, madt, dsdt, end;
	size_t madt_size;
};

static void plan_layout(struct acpi_layout *l, const struct acpi_config *cfg, size_t dsdt_size)
{
	l->xsdt = ALIGN_UP((size_t)RSDP_SIZE, TABLE_ALIGN);
	l->fadt = ALIGN_UP(l->xsdt + XSDT_SIZE, TABLE_ALIGN);
	l->madt = ALIGN_UP(l->fadt + FADT_SIZE, TABLE_ALIGN);
	l->madt_size = madt_size(cfg);
	l->dsdt = ALIGN_UP(l->madt + l->madt_size, TABLE_ALIGN);
	l->end = l->dsdt + dsdt_size;
}

size_t acpi_build(const struct acpi_config *cfg, uint64_t gpa, uint8_t *buf, size_t cap)
{
	struct aml body;
	struct acpi_layout l;

	aml_init(&body);
	build_dsdt_body(&body);
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

	write_madt(buf + l.madt, cfg, l.madt_size);
	write_fadt(buf + l.fadt, gpa + l.dsdt);
	write_xsdt(buf + l.xsdt, (const uint64_t[XSDT_ENTRIES]){ gpa + l.fadt, gpa + l.madt });
	write_rsdp(buf, gpa + l.xsdt);
	return l.end;
}
