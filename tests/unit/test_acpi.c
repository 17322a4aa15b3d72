/* ACPI table tests: structure and checksums checked here, then every table
 * is handed to `iasl -d` (acpica-tools), whose disassembler validates it
 * independently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"

#define GPA       X86_ACPI_START
#define AREA_SIZE (X86_ACPI_END - X86_ACPI_START)

struct built {
	uint8_t buf[AREA_SIZE];
	size_t len;
	uint32_t apic_ids[1024];
	struct acpi_config cfg;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static struct built *build(unsigned nr_cpus)
{
	struct built *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	assert_true(nr_cpus <= 1024);
	for (unsigned i = 0; i < nr_cpus; i++)
		b->apic_ids[i] = i;
	b->cfg = (struct acpi_config){
		.nr_cpus = nr_cpus,
		.apic_ids = b->apic_ids,
		.ioapic_base = X86_IOAPIC_BASE,
		.ioapic_id = 0xFE,
		.ioapic_gsi_base = 0,
	};
	b->len = acpi_build(&b->cfg, GPA, b->buf, sizeof(b->buf));
	assert_true(b->len > 0);
	return b;
}

/* The table at guest address `addr`, checked to lie inside the output and
 * to carry a correct length, signature and checksum. */
static const uint8_t *table(const struct built *b, uint64_t addr, const char *sig)
{
	assert_true(addr >= GPA && addr + 36 <= GPA + b->len);
	const uint8_t *t = b->buf + (addr - GPA);
	uint32_t len = rd32(t + 4);
	assert_true(len >= 36 && addr + len <= GPA + b->len);
	assert_memory_equal(t, sig, 4);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "ALIOTH", 6);
	assert_memory_equal(t + 16, "ALIOTHVM", 8);
	return t;
}

static const uint8_t *xsdt_of(const struct built *b)
{
	const uint8_t *r = b->buf;
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(r[15], 2);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(rd32(r + 20), 36);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(rd32(r + 16), 0); /* no RSDT */
	assert_memory_equal(r + 9, "ALIOTH", 6);
	const uint8_t *x = table(b, rd64(r + 24), "XSDT");
	assert_int_equal(rd32(x + 4), 36 + (b->cfg.pci ? 3 : 2) * 8);
	return x;
}

static const uint8_t *fadt_of(const struct built *b)
{
	return table(b, rd64(xsdt_of(b) + 36), "FACP");
}

static const uint8_t *madt_of(const struct built *b)
{
	return table(b, rd64(xsdt_of(b) + 44), "APIC");
}

static const uint8_t *dsdt_of(const struct built *b)
{
	return table(b, rd64(fadt_of(b) + 140), "DSDT");
}

static void assert_gas_io(const uint8_t *g, uint16_t port, uint8_t bits)
{
	assert_int_equal(g[0], 1); /* SystemIO */
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(rd64(g + 4), port);
}

static void test_fadt(void **state)
{
	(void)state;
	struct built *b = build(1);
	const uint8_t *f = fadt_of(b);
	assert_int_equal(rd32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(f[131], 4); /* minor revision: ACPI 6.4 */
	uint32_t flags = rd32(f + 112);
	assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_gas_io(f + 116, PORT_ACPI_RESET, 8);
	assert_int_equal(f[128], 'r');
	assert_gas_io(f + 244, PORT_ACPI_SLEEP_CTL, 8);
	assert_gas_io(f + 256, PORT_ACPI_SLEEP_STS, 8);
	assert_memory_equal(f + 268, "ALIOTH  ", 8);
	assert_int_equal(rd16(f + 46), 0); /* no SCI in hardware-reduced mode */
	free(b);
}

struct madt_counts {
	unsigned lapic, x2apic, ioapic, iso, lapic_nmi, x2apic_nmi, other;
};

/* Walks the MADT entries, checking each CPU entry against cfg in order. */
static struct madt_counts walk_madt(const struct built *b)
{
	struct madt_counts c = { 0 };
	const uint8_t *m = madt_of(b);
	uint32_t len = rd32(m + 4);
	unsigned cpu = 0;

	assert_int_equal(rd32(m + 36), X86_LAPIC_BASE);
	assert_int_equal(rd32(m + 40), b->cfg.no_pic ? 0 : 1); /* PCAT_COMPAT */
	for (uint32_t off = 44; off < len; off += m[off + 1]) {
		const uint8_t *e = m + off;
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], cpu);
			assert_int_equal(e[3], b->cfg.apic_ids[cpu]);
			assert_int_equal(rd32(e + 4), 1);
			cpu++, c.lapic++;
			break;
		case 9:
			assert_int_equal(e[1], 16);
			assert_int_equal(rd32(e + 4), b->cfg.apic_ids[cpu]);
			assert_int_equal(rd32(e + 8), 1);
			assert_int_equal(rd32(e + 12), cpu);
			cpu++, c.x2apic++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], b->cfg.ioapic_id);
			assert_int_equal(rd32(e + 4), b->cfg.ioapic_base);
			assert_int_equal(rd32(e + 8), b->cfg.ioapic_gsi_base);
			c.ioapic++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[3], 0);
			assert_int_equal(rd32(e + 4), 2);
			c.iso++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xFF);
			assert_int_equal(e[5], 1); /* LINT1 */
			c.lapic_nmi++;
			break;
		case 10:
			assert_int_equal(e[1], 12);
			assert_int_equal(rd32(e + 4), 0xFFFFFFFF);
			assert_int_equal(e[8], 1);
			c.x2apic_nmi++;
			break;
		default:
			c.other++;
		}
	}
	assert_int_equal(cpu, b->cfg.nr_cpus);
	return c;
}

static void check_madt(unsigned nr_cpus, unsigned expect_x2apic)
{
	struct built *b = build(nr_cpus);
	struct madt_counts c = walk_madt(b);
	assert_int_equal(c.lapic, nr_cpus - expect_x2apic);
	assert_int_equal(c.x2apic, expect_x2apic);
	assert_int_equal(c.ioapic, 1);
	assert_int_equal(c.iso, 1);
	assert_int_equal(c.lapic_nmi, 1);
	assert_int_equal(c.x2apic_nmi, expect_x2apic ? 1 : 0);
	assert_int_equal(c.other, 0);
	free(b);
}

static void test_madt_1_cpu(void **state)
{
	(void)state;
	check_madt(1, 0);
}

static void test_madt_2_cpus(void **state)
{
	(void)state;
	check_madt(2, 0);
}

/* Split irqchip: no 8259s, so no PCAT_COMPAT; the entries stay the same. */
static void test_madt_without_pic(void **state)
{
	(void)state;
	struct built *b = build(2);
	assert_int_equal(rd32(madt_of(b) + 40), 1);
	b->cfg.no_pic = true;
	b->len = acpi_build(&b->cfg, GPA, b->buf, sizeof(b->buf));
	assert_true(b->len > 0);
	assert_int_equal(rd32(madt_of(b) + 40), 0);
	struct madt_counts c = walk_madt(b);
	assert_int_equal(c.lapic, 2);
	assert_int_equal(c.ioapic, 1);
	free(b);
}

static void test_madt_300_cpus_uses_x2apic_above_254(void **state)
{
	(void)state;
	check_madt(300, 300 - 255);
}

/* Device (_SB.COM1) and Name (_S5, ...) exactly as iasl compiles them from
 * Alioth's dsdt_amd64.dsl (the part before PCI0). */
static const uint8_t com1_and_s5[] = {
	0x5b, 0x82, 0x37, 0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x43, 0x4f, 0x4d, 0x31,
	0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x08, 0x5f,
	0x55, 0x49, 0x44, 0x01, 0x08, 0x5f, 0x53, 0x54, 0x41, 0x0a, 0x0f, 0x08,
	0x5f, 0x43, 0x52, 0x53, 0x11, 0x10, 0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03,
	0xf8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00, 0x08, 0x5f, 0x53,
	0x35, 0x5f, 0x12, 0x04, 0x01, 0x0a, 0x05,
};

static void test_dsdt_body(void **state)
{
	(void)state;
	struct built *b = build(1);
	const uint8_t *d = dsdt_of(b);
	assert_int_equal(d[8], 2); /* 64-bit integers */
	assert_int_equal(rd32(d + 4), 36 + sizeof(com1_and_s5));
	assert_memory_equal(d + 36, com1_and_s5, sizeof(com1_and_s5));
	free(b);
}

static void test_capacity(void **state)
{
	(void)state;
	struct built *b = build(2);
	static uint8_t buf[AREA_SIZE];

	assert_int_equal(acpi_build(&b->cfg, GPA, buf, b->len - 1), 0);
	memset(buf, 0xAA, sizeof(buf));
	assert_int_equal(acpi_build(&b->cfg, GPA, buf, b->len), b->len);
	assert_memory_equal(buf, b->buf, b->len);
	assert_int_equal(buf[b->len], 0xAA);
	free(b);
}

static void test_tables_follow_gpa(void **state)
{
	(void)state;
	struct built *b = build(1);
	static uint8_t buf[AREA_SIZE];
	uint64_t other = 0x80000;
	size_t len = acpi_build(&b->cfg, other, buf, sizeof(buf));
	assert_int_equal(len, b->len);
	assert_int_equal(rd64(buf + 24) - other, rd64(b->buf + 24) - GPA);
	free(b);
}

static void test_sparse_apic_ids(void **state)
{
	(void)state;
	struct built *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	b->apic_ids[0] = 0;
	b->apic_ids[1] = 2;
	b->apic_ids[2] = 0x100;
	b->cfg = (struct acpi_config){ .nr_cpus = 3, .apic_ids = b->apic_ids,
				       .ioapic_base = X86_IOAPIC_BASE, .ioapic_id = 3 };
	b->len = acpi_build(&b->cfg, GPA, b->buf, sizeof(b->buf));
	struct madt_counts c = walk_madt(b);
	assert_int_equal(c.lapic, 2);
	assert_int_equal(c.x2apic, 1);
	free(b);
}

/* ---- iasl -d ---- */

static char *run_capture(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	size_t n;
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
	}
	out[len] = 0;
	*status = pclose(p);
	return out;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("iasl wrote no %s", path);
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	return text;
}

static void require_iasl(void)
{
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		fail_msg("iasl not found: install acpica-tools (apt-get install acpica-tools)");
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Disassembles one table; returns the .dsl text (static storage). */
static char *disassemble(const char *dir, const char *name, const uint8_t *t)
{
	char path[512], cmd[1200];
	int status;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	write_file(path, t, rd32(t + 4));
	snprintf(cmd, sizeof(cmd), "cd '%s' && iasl -d %s.dat 2>&1", dir, name);
	char *out = run_capture(cmd, &status);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strstr(out, "Error"))
		fail_msg("iasl -d %s failed (status %d):\n%s", name, status, out);
	free(out);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
	return read_text(path);
}

/* The RSDP is not given to iasl: this version refuses a bare RSDP file
 * ("does not contain a valid ACPI table"); xsdt_of() checks it instead. */
static void check_with_iasl(unsigned nr_cpus)
{
	require_iasl();
	struct built *b = build(nr_cpus);
	char dir[] = "/tmp/test_acpi.XXXXXX";
	assert_non_null(mkdtemp(dir));

	const char *fadt = disassemble(dir, "facp", fadt_of(b));
	assert_non_null(strstr(fadt, "Hardware Reduced (V5) : 1"));
	assert_non_null(strstr(fadt, "Hypervisor ID : 202048544F494C41"));
	const char *madt = disassemble(dir, "apic", madt_of(b));
	assert_non_null(strstr(madt, "Processor Local APIC"));
	if (nr_cpus > 255)
		assert_non_null(strstr(madt, "Processor Local x2APIC"));
	disassemble(dir, "xsdt", xsdt_of(b));
	const char *dsdt = disassemble(dir, "dsdt", dsdt_of(b));
	assert_non_null(strstr(dsdt, "PNP0501"));
	assert_non_null(strstr(dsdt, "_S5_"));
	assert_non_null(strstr(dsdt, "0x03F8"));

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(b);
}

/* With a PCI host bridge: MCFG in the XSDT, PCI0 with its windows in the
 * DSDT, both accepted by iasl. */
static void test_pci_host_bridge(void **state)
{
	(void)state;
	require_iasl();
	static const struct pci_host_info pci = {
		.ecam_base = X86_PCI_ECAM_START, .ecam_size = X86_PCI_ECAM_END - X86_PCI_ECAM_START,
		.bus_start = 0, .bus_end = 0,
		.io = { 0xC000, 0x10000 },
		.mem32 = { X86_PCI_MMIO32_START, X86_PCI_MMIO32_END },
		.mem64 = { 0x200000000ULL, 0x1200000000ULL },
	};
	struct built *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	b->apic_ids[0] = 0;
	b->cfg = (struct acpi_config){ .nr_cpus = 1, .apic_ids = b->apic_ids,
		.ioapic_base = X86_IOAPIC_BASE, .pci = &pci };
	b->len = acpi_build(&b->cfg, GPA, b->buf, sizeof(b->buf));
	assert_true(b->len > 0);

	const uint8_t *x = xsdt_of(b);
	assert_int_equal(rd32(x + 4), 36 + 3 * 8);
	const uint8_t *mcfg = table(b, rd64(x + 36 + 16), "MCFG");
	assert_int_equal(rd32(mcfg + 4), 60);
	assert_int_equal(rd64(mcfg + 44), X86_PCI_ECAM_START);
	assert_int_equal(mcfg[54], 0);
	assert_int_equal(mcfg[55], 0);

	char dir[] = "/tmp/test_acpi.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *m = disassemble(dir, "mcfg", mcfg);
	assert_non_null(strstr(m, "00000000E0000000"));
	char *d = disassemble(dir, "dsdt", dsdt_of(b));
	assert_non_null(strstr(d, "PNP0A08"));
	assert_non_null(strstr(d, "0xBFFFFFFF,         // Range Maximum"));
	assert_non_null(strstr(d, "0x00000011FFFFFFFF"));   /* end of the 64-bit window */
	assert_non_null(strstr(d, "0xFFFF"));
	assert_non_null(strstr(d, "_DSM"));
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(b);
}

static void test_iasl_1_cpu(void **state)
{
	(void)state;
	check_with_iasl(1);
}

static void test_iasl_2_cpus(void **state)
{
	(void)state;
	check_with_iasl(2);
}

static void test_iasl_300_cpus(void **state)
{
	(void)state;
	check_with_iasl(300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_pci_host_bridge),
		cmocka_unit_test(test_madt_1_cpu),
		cmocka_unit_test(test_madt_2_cpus),
		cmocka_unit_test(test_madt_300_cpus_uses_x2apic_above_254),
		cmocka_unit_test(test_dsdt_body),
		cmocka_unit_test(test_madt_without_pic),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_tables_follow_gpa),
		cmocka_unit_test(test_sparse_apic_ids),
		cmocka_unit_test(test_iasl_1_cpu),
		cmocka_unit_test(test_iasl_2_cpus),
		cmocka_unit_test(test_iasl_300_cpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
