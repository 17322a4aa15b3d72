#include "acpi.h"
#include "klib.h"
#include "serial.h"

#define SDT_HEADER_LEN 36
#define FADT_FLAGS     112
#define FADT_HW_REDUCED (1u << 20)
#define FADT_RESET_SUP (1u << 10)
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_SLEEP_CTL 244
#define MADT_LAPIC     0
#define MADT_X2APIC    9
#define GAS_MEMORY     0
#define GAS_IO         1
#define SLP_EN_SLEEP_CTL (1u << 5)
#define SLP_EN_PM1     (1u << 13)

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static const uint8_t *phys(uint64_t a) { return (const uint8_t *)(uintptr_t)a; }

static uint8_t sum8(const uint8_t *p, uint64_t len)
{
	uint8_t s = 0;

	for (uint64_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

static int rsdp_valid(const uint8_t *p)
{
	if (memcmp(p, "RSD PTR ", 8) || sum8(p, 20))
		return 0;
	if (p[15] >= 2)
		return rd32(p + 20) >= 36 && rd32(p + 20) < 4096 && !sum8(p, rd32(p + 20));
	return 1;
}

static uint64_t find_rsdp(uint64_t hint)
{
	if (hint)
		return hint;
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
		if (!memcmp(phys(a), "RSD PTR ", 8))
			return a;
	return 0;
}

/* Checks one table's checksum and prints it; returns its length or 0. */
static uint32_t check_table(struct acpi_info *ai, uint64_t addr)
{
	const uint8_t *t = phys(addr);
	uint32_t len = rd32(t + 4);

	ai->nr_tables++;
	if (len < SDT_HEADER_LEN || len > (1u << 24)) {
		kprintf("acpi: table %c%c%c%c at 0x%lx: bad length %u\n", t[0], t[1], t[2], t[3], addr, len);
		ai->bad_checksums++;
		return 0;
	}
	int ok = sum8(t, len) == 0;
	kprintf("acpi: %c%c%c%c at 0x%lx len %u rev %u checksum %s\n",
		t[0], t[1], t[2], t[3], addr, len, t[8], ok ? "ok" : "BAD");
	if (!ok)
		ai->bad_checksums++;
	return len;
}

static void add_cpu(struct acpi_info *ai, uint32_t apic_id)
{
	if (ai->nr_cpus < ACPI_MAX_CPUS)
		ai->apic_ids[ai->nr_cpus] = apic_id;
	ai->nr_cpus++;
}

static void parse_madt(struct acpi_info *ai, const uint8_t *t, uint32_t len)
{
	ai->have_madt = 1;
	ai->lapic_base = rd32(t + 36);
	for (uint32_t off = 44; off + 2 <= len;) {
		uint8_t type = t[off], elen = t[off + 1];
		if (elen < 2 || off + elen > len)
			break;
		/* enabled (bit 0) CPUs only; online-capable ones are not running */
		if (type == MADT_LAPIC && elen >= 8 && (rd32(t + off + 4) & 1))
			add_cpu(ai, t[off + 3]);
		else if (type == MADT_X2APIC && elen >= 16 && (rd32(t + off + 8) & 1))
			add_cpu(ai, rd32(t + off + 4));
		off += elen;
	}
}

/* Package length encoding of AML (ACPI 6.5, 20.2.4): returns bytes used. */
static unsigned pkg_length_bytes(uint8_t lead)
{
	return 1 + (lead >> 6);
}

/* Finds Name(_S5_, Package(){ typ, ... }) and takes SLP_TYPa. */
static void parse_dsdt(struct acpi_info *ai, const uint8_t *t, uint32_t len)
{
	ai->have_dsdt = 1;
	for (uint32_t i = SDT_HEADER_LEN; i + 8 < len; i++) {
		if (memcmp(t + i, "_S5_", 4) || t[i + 4] != 0x12 /* PackageOp */)
			continue;
		const uint8_t *p = t + i + 5;
		p += pkg_length_bytes(p[0]);
		p++; /* NumElements */
		if (p[0] == 0x0A) /* BytePrefix */
			ai->s5_type = p[1];
		else if (p[0] == 0x00 || p[0] == 0x01) /* ZeroOp, OneOp */
			ai->s5_type = p[0];
		else
			continue;
		ai->s5_found = 1;
		return;
	}
}

static void parse_fadt(struct acpi_info *ai, const uint8_t *t, uint32_t len)
{
	uint64_t dsdt = rd32(t + 40);

	ai->have_fadt = 1;
	if (len >= 148 && rd64(t + 140))
		dsdt = rd64(t + 140);
	ai->pm1a_cnt = len >= 68 ? rd32(t + 64) : 0;
	ai->hw_reduced = len >= 116 && (rd32(t + FADT_FLAGS) & FADT_HW_REDUCED);
	if (len >= FADT_SLEEP_CTL + 12)
		memcpy(&ai->sleep_control, t + FADT_SLEEP_CTL, sizeof(ai->sleep_control));
	if (len > FADT_RESET_VALUE) {
		ai->reset_supported = !!(rd32(t + FADT_FLAGS) & FADT_RESET_SUP);
		memcpy(&ai->reset_reg, t + FADT_RESET_REG, sizeof(ai->reset_reg));
		ai->reset_value = t[FADT_RESET_VALUE];
	}
	if (dsdt) {
		uint32_t dlen = check_table(ai, dsdt);
		if (dlen && !memcmp(phys(dsdt), "DSDT", 4))
			parse_dsdt(ai, phys(dsdt), dlen);
	}
}

static void visit_table(struct acpi_info *ai, uint64_t addr)
{
	uint32_t len = check_table(ai, addr);
	const uint8_t *t = phys(addr);

	if (!len)
		return;
	if (!memcmp(t, "APIC", 4))
		parse_madt(ai, t, len);
	else if (!memcmp(t, "FACP", 4))
		parse_fadt(ai, t, len);
}

const char *acpi_scan(uint64_t hint, struct acpi_info *ai)
{
	memset(ai, 0, sizeof(*ai));
	ai->rsdp = find_rsdp(hint);
	if (!ai->rsdp)
		return "no RSDP (none from the loader, none in 0xE0000-0xFFFFF)";
	const uint8_t *r = phys(ai->rsdp);
	ai->rsdp_revision = r[15];
	kprintf("acpi: RSDP at 0x%lx rev %u%s\n", ai->rsdp, r[15], hint ? " (from boot info)" : " (scanned)");
	if (!rsdp_valid(r))
		return "RSDP signature or checksum invalid";

	uint64_t root = rd32(r + 16);
	unsigned entry = 4;
	if (r[15] >= 2 && rd64(r + 24)) {
		root = rd64(r + 24);
		entry = 8;
	}
	uint32_t len = check_table(ai, root);
	if (!len)
		return "root table unusable";
	if (memcmp(phys(root), entry == 8 ? "XSDT" : "RSDT", 4))
		return "root table signature is neither XSDT nor RSDT as expected";
	for (uint32_t off = SDT_HEADER_LEN; off + entry <= len; off += entry) {
		const uint8_t *e = phys(root) + off;
		visit_table(ai, entry == 8 ? rd64(e) : rd32(e));
	}
	return NULL;
}

/* Byte write to a GAS in system I/O or memory space (the only two our
 * VMM and QEMU use for these registers). */
static void gas_write8(const struct acpi_gas *g, uint8_t v)
{
	if (g->space_id == GAS_IO)
		outb((uint16_t)g->address, v);
	else
		*(volatile uint8_t *)(uintptr_t)g->address = v;
}

void acpi_poweroff(const struct acpi_info *ai)
{
	/* like Linux: SLP_TYPx from _S5, 5 if the DSDT names none */
	uint8_t typ = ai->s5_found ? ai->s5_type : 5;

	if (ai->sleep_control.address) {
		uint8_t v = (uint8_t)(((typ & 7) << 2) | SLP_EN_SLEEP_CTL);
		kprintf("POWEROFF sleep_control %s 0x%lx value 0x%x\n",
			ai->sleep_control.space_id == GAS_IO ? "io" : "mmio",
			ai->sleep_control.address, v);
		gas_write8(&ai->sleep_control, v);
	} else if (ai->pm1a_cnt) {
		uint16_t v = (uint16_t)(((typ & 7) << 10) | SLP_EN_PM1);
		kprintf("POWEROFF pm1a_cnt io 0x%x value 0x%x\n", ai->pm1a_cnt, v);
		outw((uint16_t)ai->pm1a_cnt, v);
	} else {
		kprintf("FAIL poweroff: FADT has no sleep register\n");
		return;
	}
	spin_cycles(5000000000ULL);
	kprintf("FAIL poweroff: still running after the S5 write\n");
}

void acpi_reset(const struct acpi_info *ai)
{
	const struct acpi_gas *g = &ai->reset_reg;

	if (!ai->reset_supported || !g->address) {
		kprintf("FAIL reset-acpi: FADT has no reset register (flag RESET_REG_SUP %d)\n",
			ai->reset_supported);
		return;
	}
	if (g->space_id != GAS_IO && g->space_id != GAS_MEMORY) {
		kprintf("FAIL reset-acpi: reset register in address space %u, not I/O or memory\n",
			g->space_id);
		return;
	}
	kprintf("RESET acpi %s 0x%lx value 0x%x\n", g->space_id == GAS_IO ? "io" : "mmio",
		g->address, ai->reset_value);
	gas_write8(g, ai->reset_value);
	spin_cycles(5000000000ULL);
	kprintf("FAIL reset-acpi: still running after the reset register write\n");
}
