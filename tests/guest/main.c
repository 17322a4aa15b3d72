/* The test guest's checks, chosen by `test=a,b,...` on the command line;
 * each prints "PASS name" or "FAIL name: why", then the guest powers off
 * through ACPI. Parameters (expected values) come from the command line. */
#include "acpi.h"
#include "apic.h"
#include "bootinfo.h"
#include "klib.h"
#include "paging.h"
#include "serial.h"
#include "trap.h"
#include "vtests.h"

#define MIB (1ULL << 20)
#define I8042_CMD_PORT 0x64
#define I8042_PULSE_RESET 0xFE
#define FLOOD_PATTERN_LEN 64

void kmain(unsigned kind, uint64_t ptr);

struct ctx {
	struct bootinfo bi;
	struct acpi_info ai;
	const char *acpi_error;
	uint64_t mapped_end;
};

static int fail(const char *name, const char *why)
{
	kprintf("FAIL %s: %s\n", name, why);
	return 0;
}

static int pass(const char *name)
{
	kprintf("PASS %s\n", name);
	return 1;
}

static int probe_byte(uint64_t addr, uint8_t pattern)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)addr;
	uint8_t saved = *p;
	int ok;

	*p = pattern;
	ok = *p == pattern;
	uint8_t inverse = (uint8_t)~pattern;

	*p = inverse;
	ok = ok && *p == inverse;
	*p = saved;
	return ok;
}

static int e820_probe_ranges(const struct ctx *c)
{
	int ok = 1;

	for (unsigned i = 0; i < c->bi.nr_mem; i++) {
		const struct mem_range *r = &c->bi.mem[i];
		uint64_t last = r->addr + r->size - 1;
		if (r->type != MEM_RAM || !r->size)
			continue;
		if (last >= c->mapped_end) {
			kprintf("e820: range ending 0x%lx is beyond the mapped 0x%lx, not probed\n",
				last + 1, c->mapped_end);
			continue;
		}
		int good = probe_byte(r->addr, 0x5A) && probe_byte(last, 0xA5);
		kprintf("e820: probe first/last byte 0x%lx/0x%lx %s\n", r->addr, last, good ? "ok" : "BAD");
		ok = ok && good;
	}
	return ok;
}

static int check_e820(const struct ctx *c)
{
	const struct bootinfo *bi = &c->bi;
	uint64_t total = bootinfo_ram_total(bi), expect, prev_end = 0;

	for (unsigned i = 0; i < bi->nr_mem; i++) {
		const struct mem_range *r = &bi->mem[i];
		kprintf("e820: [0x%016lx-0x%016lx) type %u\n", r->addr, r->addr + r->size, r->type);
		if (!r->size)
			continue; /* qboot (QEMU microvm) appends one; it describes nothing */
		if (r->addr < prev_end)
			return fail("e820", "entries unsorted or overlapping");
		prev_end = r->addr + r->size;
	}
	kprintf("e820: ram total 0x%lx (%lu KiB), top 0x%lx\n", total, total >> 10, bootinfo_ram_top(bi));
	if (!bi->nr_mem)
		return fail("e820", "empty memory map");
	if (!cmdline_get_u64(bi->cmdline, "expect_mem", &expect))
		return fail("e820", "no expect_mem= on the command line");
	/* the VMM reserves the EBDA and BIOS area below 1 MiB, nothing else */
	if (total > expect || total + MIB < expect)
		return fail("e820", "RAM total not within 1 MiB below expect_mem");
	if (!e820_probe_ranges(c))
		return fail("e820", "a RAM byte did not keep what was written");
	return pass("e820");
}

static int check_acpi(const struct ctx *c)
{
	const struct acpi_info *ai = &c->ai;
	uint64_t ncpus;

	if (c->acpi_error)
		return fail("acpi", c->acpi_error);
	kprintf("acpi: %u tables checked, %u bad; MADT cpus %u; hw_reduced %d; sleep_control %s 0x%lx; "
		"pm1a_cnt 0x%x; _S5 %s %u\n", ai->nr_tables, ai->bad_checksums, ai->nr_cpus, ai->hw_reduced,
		ai->sleep_control.space_id == 1 ? "io" : "mmio", ai->sleep_control.address, ai->pm1a_cnt,
		ai->s5_found ? "found" : "absent", ai->s5_type);
	if (ai->bad_checksums)
		return fail("acpi", "a table checksum is wrong");
	if (!ai->have_madt)
		return fail("acpi", "no MADT");
	if (!ai->have_fadt)
		return fail("acpi", "no FADT");
	if (!ai->have_dsdt)
		return fail("acpi", "FADT points to no DSDT");
	if (!ai->sleep_control.address && !ai->pm1a_cnt)
		return fail("acpi", "FADT has neither a sleep control register nor PM1a_CNT");
	if (!cmdline_get_u64(c->bi.cmdline, "ncpus", &ncpus))
		return fail("acpi", "no ncpus= on the command line");
	if (ai->nr_cpus != ncpus)
		return fail("acpi", "MADT CPU count differs from ncpus=");
	return pass("acpi");
}

static int id_in(uint32_t id, const uint32_t *ids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

static int check_smp(const struct ctx *c)
{
	static struct smp_result res;
	const struct acpi_info *ai = &c->ai;
	uint64_t ncpus;
	uint32_t seen[SMP_MAX_CPUS];
	unsigned nseen = 0;

	if (!ai->have_madt || ai->nr_cpus > SMP_MAX_CPUS)
		return fail("smp", "no usable MADT");
	if (!cmdline_get_u64(c->bi.cmdline, "ncpus", &ncpus))
		return fail("smp", "no ncpus= on the command line");
	if (cmdline_has_word(c->bi.cmdline, "apic", "x2apic")) {
		/* CPUID cannot be trusted under PVM (host values): just try */
		kprintf("smp: switching to x2APIC mode\n");
		apic_enable_x2apic();
		if (!apic_x2apic_enabled())
			return fail("smp", "x2APIC mode did not stick in IA32_APIC_BASE");
	}
	if (!id_in(apic_self_id(), ai->apic_ids, ai->nr_cpus))
		return fail("smp", "the BSP's APIC ID is not in the MADT");
	smp_start_aps(ai->apic_ids, ai->nr_cpus, &res);
	kprintf("smp: apic ids {");
	for (unsigned i = 0; i < SMP_MAX_CPUS; i++) {
		if (!res.started[i])
			continue;
		kprintf("%s%u", nseen ? "," : "", res.reported_id[i]);
		if (id_in(res.reported_id[i], seen, nseen) || !id_in(res.reported_id[i], ai->apic_ids, ai->nr_cpus)) {
			kprintf("}\n");
			return fail("smp", "an AP reported a duplicate or unknown APIC ID");
		}
		seen[nseen++] = res.reported_id[i];
	}
	kprintf("} started %u of %u\n", nseen, ai->nr_cpus);
	if (nseen != ai->nr_cpus)
		return fail("smp", "not every CPU in the MADT started");
	if (nseen != ncpus)
		return fail("smp", "CPU count differs from ncpus=");
	return pass("smp");
}

static int check_cmdline(const struct ctx *c)
{
	const char *pad;
	uint64_t padlen, want_len, want_crc;

	kprintf("cmdline: %lu bytes\n", (uint64_t)strlen(c->bi.cmdline));
	if (!cmdline_get(c->bi.cmdline, "pad", &pad, &padlen))
		return fail("cmdline", "no pad= on the command line");
	if (!cmdline_get_u64(c->bi.cmdline, "padlen", &want_len) ||
	    !cmdline_get_u64(c->bi.cmdline, "padcrc", &want_crc))
		return fail("cmdline", "no padlen= or padcrc= on the command line");
	uint32_t crc = crc32(pad, padlen);
	kprintf("cmdline: pad %lu bytes crc32 0x%08x\n", padlen, crc);
	if (padlen != want_len)
		return fail("cmdline", "pad length differs from padlen=");
	if (crc != want_crc)
		return fail("cmdline", "pad crc32 differs from padcrc=");
	return pass("cmdline");
}

static int range_is_ram(const struct bootinfo *bi, uint64_t addr, uint64_t size)
{
	for (unsigned i = 0; i < bi->nr_mem; i++) {
		const struct mem_range *r = &bi->mem[i];
		if (r->type == MEM_RAM && addr >= r->addr && addr + size <= r->addr + r->size)
			return 1;
	}
	return 0;
}

static int check_initrd(const struct ctx *c)
{
	const struct bootinfo *bi = &c->bi;
	uint64_t want_size, want_crc;

	kprintf("initrd: at 0x%lx size %lu\n", bi->initrd_addr, bi->initrd_size);
	if (!cmdline_get_u64(bi->cmdline, "initrd_size", &want_size) ||
	    !cmdline_get_u64(bi->cmdline, "initrd_crc", &want_crc))
		return fail("initrd", "no initrd_size= or initrd_crc= on the command line");
	if (!bi->initrd_addr || !bi->initrd_size)
		return fail("initrd", "the loader reported no initramfs");
	if (bi->initrd_size != want_size)
		return fail("initrd", "size differs from initrd_size=");
	if (!range_is_ram(bi, bi->initrd_addr, bi->initrd_size))
		return fail("initrd", "initramfs is not inside a RAM range of the memory map");
	if (bi->initrd_addr + bi->initrd_size > c->mapped_end)
		return fail("initrd", "initramfs lies beyond the mapped memory");
	uint32_t crc = crc32((const void *)(uintptr_t)bi->initrd_addr, bi->initrd_size);
	kprintf("initrd: crc32 0x%08x\n", crc);
	if (crc != want_crc)
		return fail("initrd", "crc32 differs from initrd_crc=");
	return pass("initrd");
}

static int check_serial(const struct ctx *c)
{
	static char line[256];
	uint64_t want_crc;

	if (!cmdline_get_u64(c->bi.cmdline, "echo_crc", &want_crc))
		return fail("serial", "no echo_crc= on the command line");
	kprintf("READY serial\n");
	int n = serial_getline(line, sizeof(line), 50000000);
	if (n < 0)
		return fail("serial", "no line arrived on COM1");
	kprintf("ECHO %s\n", line);
	if (crc32(line, (size_t)n) != want_crc)
		return fail("serial", "the line read differs from the one sent (echo_crc=)");
	return pass("serial");
}

/* The checks below end the VM some other way than by powering it off; the
 * runner asserts the VMM's exit status. Returning means the VM outlived
 * what should have ended it. */
static int check_reset_acpi(const struct ctx *c)
{
	if (c->acpi_error)
		return fail("reset-acpi", c->acpi_error);
	acpi_reset(&c->ai);
	return 0;
}

static int check_reset_i8042(const struct ctx *c)
{
	(void)c;
	kprintf("RESET i8042 port 0x%x value 0x%x\n", I8042_CMD_PORT, I8042_PULSE_RESET);
	outb(I8042_CMD_PORT, I8042_PULSE_RESET);
	spin_cycles(5000000000ULL);
	return fail("reset-i8042", "still running after the i8042 pulse-reset command");
}

static int check_triple_fault(const struct ctx *c)
{
	(void)c;
	kprintf("TRIPLE-FAULT empty IDT, ud2\n");
	trap_triple_fault();
}

static int check_hang(const struct ctx *c)
{
	(void)c;
	kprintf("READY hang\n");
	halt_forever();
}

/* Line n of the flood: "FLOOD nnnnnn " and 64 characters that depend on n,
 * so a lost, repeated or reordered chunk changes some line. The runner
 * builds the same lines. */
static size_t flood_line(char *buf, uint32_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t len = 0;

	memcpy(buf, "FLOOD ", 6);
	len = 6;
	for (uint32_t d = 100000, v = n % 1000000; d; d /= 10)
		buf[len++] = (char)('0' + v / d % 10);
	buf[len++] = ' ';
	for (uint32_t i = 0; i < FLOOD_PATTERN_LEN; i++)
		buf[len++] = alphabet[(n * 7 + i) % (sizeof(alphabet) - 1)];
	buf[len++] = '\r';
	buf[len++] = '\n';
	return len;
}

static int check_flood(const struct ctx *c)
{
	char line[FLOOD_PATTERN_LEN + 32];
	uint64_t lines;

	if (!cmdline_get_u64(c->bi.cmdline, "flood_lines", &lines))
		return fail("flood", "no flood_lines= on the command line");
	serial_fifo_enable();
	for (uint32_t n = 0; n < lines; n++)
		serial_write_burst(line, flood_line(line, n));
	kprintf("FLOOD END %lu\n", lines);
	return pass("flood");
}

static const struct {
	const char *name;
	int (*run)(const struct ctx *c);
} checks[] = {
	{ "e820", check_e820 },
	{ "acpi", check_acpi },
	{ "smp", check_smp },
	{ "cmdline", check_cmdline },
	{ "initrd", check_initrd },
	{ "serial", check_serial },
	{ "flood", check_flood },
	{ "reset-acpi", check_reset_acpi },
	{ "reset-i8042", check_reset_i8042 },
	{ "triple-fault", check_triple_fault },
	{ "hang", check_hang },
};

static void run_checks(const struct ctx *c)
{
	unsigned known = 0;

	for (unsigned i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (cmdline_has_word(c->bi.cmdline, "test", checks[i].name)) {
			known++;
			checks[i].run(c);
		}
	}
	known += vtests_run(&c->bi, &c->ai);
	if (!known && !cmdline_has_word(c->bi.cmdline, "test", "poweroff"))
		kprintf("FAIL guest: no known check named in test=\n");
}

void kmain(unsigned kind, uint64_t ptr)
{
	static struct ctx c;

	serial_init();
	trap_load_idt();
	kprintf("guest: entered via %s, boot info at 0x%lx\n",
		kind == BOOT_KIND_PVH ? "pvh" : "linux", ptr);
	bootinfo_parse(&c.bi, kind, ptr);
	if (c.bi.error)
		kprintf("FAIL boot: %s\n", c.bi.error);
	c.mapped_end = paging_init(bootinfo_ram_top(&c.bi));
	kprintf("cmdline: %s\n", c.bi.cmdline);
	c.acpi_error = acpi_scan(c.bi.rsdp, &c.ai);
	if (!c.acpi_error)
		trap_set_acpi(&c.ai);
	run_checks(&c);
	kprintf("DONE\n");
	if (c.acpi_error)
		kprintf("FAIL poweroff: %s\n", c.acpi_error);
	else
		acpi_poweroff(&c.ai);
}
