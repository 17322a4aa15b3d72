/* PCI bus 0: host bridge, CF8/CFC and ECAM decoding (sizes, offsets, absent
 * devices), BAR assignment, and BAR moves / COMMAND toggles reflected on
 * real io_bus maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "dev/bus.h"
#include "pci/bus.h"
#include "pci/host_bridge.h"

#define MEM64_START 0x4000000000ULL
#define MEM64_END   0x8000000000ULL

struct fake_bar {
	unsigned id;
	uint64_t last_off, last_val;
	unsigned writes;
};

static uint64_t fake_read(void *dev, uint64_t off, unsigned size)
{
	struct fake_bar *b = dev;
	(void)size;
	return (uint64_t)b->id << 24 | off;
}

static void fake_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fake_bar *b = dev;
	(void)size;
	b->last_off = off;
	b->last_val = val;
	b->writes++;
}

static const struct io_ops fake_ops = { .read = fake_read, .write = fake_write };

struct fixture {
	struct io_bus pio, mmio;
	struct pci_bus *bus;
	struct pci_config fn, fn2;
	struct fake_bar bar_io, bar_m32, bar_m64, bar2;
};

static const struct pci_ids dev_ids = { .vendor = 0x1AF4, .device = 0x1041, .class_code = 0x02 };

static void describe_bars(struct fixture *f)
{
	f->bar_io.id = 1;
	f->bar_m32.id = 2;
	f->bar_m64.id = 3;
	pci_config_init(&f->fn, &dev_ids);
	struct pci_bar io = { .kind = PCI_BAR_IO, .size = 0x40, .ops = &fake_ops, .dev = &f->bar_io };
	struct pci_bar m32 = { .kind = PCI_BAR_MEM32, .size = 0x1000, .ops = &fake_ops, .dev = &f->bar_m32 };
	struct pci_bar m64 = { .kind = PCI_BAR_MEM64, .size = 0x4000, .prefetchable = true,
			       .ops = &fake_ops, .dev = &f->bar_m64 };
	assert_int_equal(pci_config_set_bar(&f->fn, 0, &io), 0);
	assert_int_equal(pci_config_set_bar(&f->fn, 1, &m32), 0);
	assert_int_equal(pci_config_set_bar(&f->fn, 2, &m64), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	io_bus_init(&f->pio, "pio");
	io_bus_init(&f->mmio, "mmio");
	struct pci_bus_params p;
	pci_bus_params_x86(&p, &f->pio, &f->mmio, MEM64_START, MEM64_END);
	if (pci_bus_create(&p, &f->bus))
		return -1;
	describe_bars(f);
	pci_config_init(&f->fn2, &dev_ids);
	f->bar2.id = 9;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pci_bus_destroy(f->bus);
	/* The bus removed every range it added. */
	assert_int_equal(f->pio.nr, 0);
	assert_int_equal(f->mmio.nr, 0);
	pci_config_destroy(&f->fn);
	pci_config_destroy(&f->fn2);
	io_bus_destroy(&f->pio);
	io_bus_destroy(&f->mmio);
	free(f);
	return 0;
}

static uint64_t pio_rd(struct fixture *f, uint64_t port, unsigned size)
{
	uint64_t v;
	io_bus_read(&f->pio, port, size, &v);
	return v;
}

static void pio_wr(struct fixture *f, uint64_t port, unsigned size, uint64_t v)
{
	io_bus_write(&f->pio, port, size, v);
}

static uint32_t cf8_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000U | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC);
}

static uint64_t cfc_rd(struct fixture *f, unsigned dev, unsigned reg, unsigned size)
{
	pio_wr(f, 0xCF8, 4, cf8_addr(0, dev, 0, reg));
	return pio_rd(f, 0xCFC + (reg & 3), size);
}

static void cfc_wr(struct fixture *f, unsigned dev, unsigned reg, unsigned size, uint64_t v)
{
	pio_wr(f, 0xCF8, 4, cf8_addr(0, dev, 0, reg));
	pio_wr(f, 0xCFC + (reg & 3), size, v);
}

static uint64_t ecam(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return X86_PCI_ECAM_START + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | reg);
}

static uint64_t ecam_rd(struct fixture *f, uint64_t addr, unsigned size)
{
	uint64_t v;
	io_bus_read(&f->mmio, addr, size, &v);
	return v;
}

static void test_host_bridge_via_cf8(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cfc_rd(f, 0, 0, 4), 0x14801022);
	assert_int_equal(cfc_rd(f, 0, 8, 4) >> 8, 0x060000);
	/* Every size and offset inside 0xCFC-0xCFF. */
	assert_int_equal(cfc_rd(f, 0, 2, 2), 0x1480);
	assert_int_equal(cfc_rd(f, 0, 1, 1), 0x10);
	assert_int_equal(cfc_rd(f, 0, 3, 1), 0x14);
	assert_int_equal(cfc_rd(f, 0, 1, 2), 0x8010);
	/* The address register reads back as a dword only. */
	pio_wr(f, 0xCF8, 4, 0x80000008);
	assert_int_equal(pio_rd(f, 0xCF8, 4), 0x80000008);
	assert_int_equal(pio_rd(f, 0xCF9, 1), 0xFF);
	/* Linux's type-1 probe writes a byte to 0xCFB first: no effect. */
	pio_wr(f, 0xCFB, 1, 0x01);
	assert_int_equal(pio_rd(f, 0xCF8, 4), 0x80000008);
	/* Enable bit clear: no config cycle. */
	pio_wr(f, 0xCF8, 4, 0x00000000);
	assert_int_equal(pio_rd(f, 0xCFC, 4), 0xFFFFFFFF);
	assert_int_equal(pio_rd(f, 0xCFE, 2), 0xFFFF);
}

static void test_absent_devices_read_all_ones(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cfc_rd(f, 5, 0, 4), 0xFFFFFFFF);
	assert_int_equal(cfc_rd(f, 31, 0, 2), 0xFFFF);
	pio_wr(f, 0xCF8, 4, cf8_addr(0, 0, 1, 0));  /* function 1 */
	assert_int_equal(pio_rd(f, 0xCFC, 4), 0xFFFFFFFF);
	pio_wr(f, 0xCF8, 4, cf8_addr(1, 0, 0, 0));  /* bus 1 */
	assert_int_equal(pio_rd(f, 0xCFC, 1), 0xFF);
	assert_int_equal(ecam_rd(f, ecam(0, 7, 0, 0), 4), 0xFFFFFFFF);
	assert_int_equal(ecam_rd(f, ecam(1, 0, 0, 0), 4), 0xFFFFFFFF);
	assert_int_equal(ecam_rd(f, ecam(255, 31, 7, 0xFFC), 2), 0xFFFF);
	/* Writes to nothing are dropped without harm. */
	cfc_wr(f, 5, 4, 2, 0xFFFF);
	io_bus_write(&f->mmio, ecam(1, 0, 0, 4), 2, 0xFFFF);
	assert_int_equal(cfc_rd(f, 0, 4, 2), 0);
}

static void test_ecam_sizes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(ecam_rd(f, ecam(0, 0, 0, 0), 4), 0x14801022);
	assert_int_equal(ecam_rd(f, ecam(0, 0, 0, 2), 2), 0x1480);
	assert_int_equal(ecam_rd(f, ecam(0, 0, 0, 3), 1), 0x14);
	assert_int_equal(ecam_rd(f, ecam(0, 0, 0, 0), 8), 0x14801022);
	assert_int_equal(ecam_rd(f, ecam(0, 0, 0, 4), 8), 0x0600000000000000ULL);
	assert_int_equal(ecam_rd(f, ecam(0, 0, 0, 0x100), 4), 0);  /* extended space */
	/* A write through ECAM is seen through CF8/CFC. */
	io_bus_write(&f->mmio, ecam(0, 0, 0, PCI_INTERRUPT_LINE), 1, 0x0B);
	assert_int_equal(cfc_rd(f, 0, PCI_INTERRUPT_LINE, 1), 0x0B);
}

static void test_add_assigns_and_maps_bars(void **state)
{
	struct fixture *f = *state;
	unsigned slot;
	assert_int_equal(pci_bus_add_device(f->bus, &f->fn, "fake", -1, &slot), 0);
	assert_int_equal(slot, 1);
	assert_int_equal(cfc_rd(f, 1, 0, 4), 0x10411AF4);
	assert_int_equal(cfc_rd(f, 1, PCI_BAR0, 4), 0xC001);
	assert_int_equal(cfc_rd(f, 1, PCI_BAR0 + 4, 4), X86_PCI_MMIO32_START);
	assert_int_equal(cfc_rd(f, 1, PCI_BAR0 + 8, 4), (MEM64_START & 0xFFFFFFFF) | 0xC);
	assert_int_equal(cfc_rd(f, 1, PCI_BAR0 + 12, 4), MEM64_START >> 32);
	assert_int_equal(cfc_rd(f, 1, PCI_COMMAND, 2) & 3, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);

	/* Accesses reach the BAR's ops with BAR-relative offsets. */
	assert_int_equal(pio_rd(f, 0xC010, 1), 1 << 24 | 0x10);
	uint64_t v;
	assert_true(io_bus_read(&f->mmio, X86_PCI_MMIO32_START + 0x804, 4, &v));
	assert_int_equal(v, 2 << 24 | 0x804);
	io_bus_write(&f->mmio, MEM64_START + 0x3FF8, 8, 0x1122334455667788ULL);
	assert_int_equal(f->bar_m64.last_off, 0x3FF8);
	assert_int_equal(f->bar_m64.last_val, 0x1122334455667788ULL);
	assert_false(io_bus_read(&f->mmio, MEM64_START + 0x4000, 4, &v));

	/* A second device is placed after the first, naturally aligned. */
	struct pci_config *fn2 = &f->fn2;
	struct pci_bar big = { .kind = PCI_BAR_MEM32, .size = 0x100000, .ops = &fake_ops, .dev = &f->bar2 };
	struct pci_bar io = { .kind = PCI_BAR_IO, .size = 0x100, .ops = &fake_ops, .dev = &f->bar2 };
	pci_config_set_bar(fn2, 0, &io);
	pci_config_set_bar(fn2, 4, &big);
	assert_int_equal(pci_bus_add_device(f->bus, fn2, "fake2", 7, &slot), 0);
	assert_int_equal(slot, 7);
	assert_int_equal(pci_config_bar_addr(fn2, 0), 0xC100);
	assert_int_equal(pci_config_bar_addr(fn2, 4), X86_PCI_MMIO32_START + 0x100000);
	assert_int_equal(ecam_rd(f, ecam(0, 7, 0, PCI_BAR0 + 16), 4), X86_PCI_MMIO32_START + 0x100000);

	/* Slot rules. */
	assert_int_equal(pci_bus_add_device(f->bus, fn2, "dup", 7, NULL), -EEXIST);
	assert_int_equal(pci_bus_add_device(f->bus, fn2, "zero", 0, NULL), -EINVAL);
	assert_int_equal(pci_bus_add_device(f->bus, fn2, "big", 32, NULL), -EINVAL);
	assert_true(io_bus_read(&f->pio, 0xC1FF, 1, &v));
	assert_int_equal(v, 9 << 24 | 0xFF);
}

static void test_bar_move_updates_io_bus(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pci_bus_add_device(f->bus, &f->fn, "fake", 3, NULL), 0);
	uint64_t old = X86_PCI_MMIO32_START, new = X86_PCI_MMIO32_START + 0x200000;
	uint64_t v;
	/* The guest moves BAR1 through ECAM, i.e. from inside an mmio dispatch;
	 * the map changes when the vCPU loop commits. */
	io_bus_write(&f->mmio, ecam(0, 3, 0, PCI_BAR0 + 4), 4, new);
	assert_true(io_bus_read(&f->mmio, old, 4, &v));
	pci_bus_commit(f->bus);
	assert_false(io_bus_read(&f->mmio, old, 4, &v));
	assert_true(io_bus_read(&f->mmio, new + 0x10, 4, &v));
	assert_int_equal(v, 2 << 24 | 0x10);

	/* IO BAR moved through CF8/CFC with a 2-byte write at 0xCFC. */
	cfc_wr(f, 3, PCI_BAR0, 2, 0xD000);
	pci_bus_commit(f->bus);
	assert_false(io_bus_read(&f->pio, 0xC000, 1, &v));
	assert_true(io_bus_read(&f->pio, 0xD03F, 1, &v));
	assert_int_equal(v, 1 << 24 | 0x3F);

	/* The high dword of the 64-bit BAR moves it above 4 GiB ranges. */
	cfc_wr(f, 3, PCI_BAR0 + 12, 4, 0x50);
	pci_bus_commit(f->bus);
	assert_false(io_bus_read(&f->mmio, MEM64_START, 4, &v));
	assert_true(io_bus_read(&f->mmio, 0x5000000000ULL | (MEM64_START & 0xFFFFFFFF), 4, &v));
	assert_int_equal(v, 3 << 24);

	/* Two devices' BARs swap places in one commit. */
	struct pci_bar m32 = { .kind = PCI_BAR_MEM32, .size = 0x1000, .ops = &fake_ops, .dev = &f->bar2 };
	pci_config_set_bar(&f->fn2, 0, &m32);
	assert_int_equal(pci_bus_add_device(f->bus, &f->fn2, "fake2", 4, NULL), 0);
	uint64_t a = pci_config_bar_addr(&f->fn, 1), b = pci_config_bar_addr(&f->fn2, 0);
	assert_int_not_equal(a, b);
	cfc_wr(f, 3, PCI_BAR0 + 4, 4, (uint32_t)b);
	cfc_wr(f, 4, PCI_BAR0, 4, (uint32_t)a);
	pci_bus_commit(f->bus);
	assert_true(io_bus_read(&f->mmio, b + 4, 4, &v));
	assert_int_equal(v, 2 << 24 | 4);
	assert_true(io_bus_read(&f->mmio, a + 4, 4, &v));
	assert_int_equal(v, 9 << 24 | 4);
}

static void test_command_toggle_unmaps_and_maps(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pci_bus_add_device(f->bus, &f->fn, "fake", 2, NULL), 0);
	uint64_t v;
	size_t mmio_ranges = f->mmio.nr;
	/* MEM off: both memory BARs leave the mmio bus; IO stays. */
	cfc_wr(f, 2, PCI_COMMAND, 2, PCI_COMMAND_IO);
	pci_bus_commit(f->bus);
	assert_int_equal(f->mmio.nr, mmio_ranges - 2);
	assert_false(io_bus_read(&f->mmio, X86_PCI_MMIO32_START, 4, &v));
	assert_true(io_bus_read(&f->pio, 0xC000, 1, &v));
	/* IO off too. */
	cfc_wr(f, 2, PCI_COMMAND, 1, 0);
	pci_bus_commit(f->bus);
	assert_false(io_bus_read(&f->pio, 0xC000, 1, &v));

	/* Sizing while decode is off, then restore: nothing mapped meanwhile. */
	cfc_wr(f, 2, PCI_BAR0 + 4, 4, 0xFFFFFFFF);
	assert_int_equal(cfc_rd(f, 2, PCI_BAR0 + 4, 4), 0xFFFFF000);
	cfc_wr(f, 2, PCI_BAR0 + 4, 4, X86_PCI_MMIO32_START);
	pci_bus_commit(f->bus);
	assert_int_equal(f->mmio.nr, mmio_ranges - 2);

	/* MEM and IO back on: everything is where the BARs say. */
	cfc_wr(f, 2, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	pci_bus_commit(f->bus);
	assert_int_equal(f->mmio.nr, mmio_ranges);
	assert_true(io_bus_read(&f->mmio, X86_PCI_MMIO32_START, 4, &v));
	assert_true(io_bus_read(&f->mmio, MEM64_START, 4, &v));
	assert_true(io_bus_read(&f->pio, 0xC000, 1, &v));

	/* Sizing with decode on leaves the BAR at the top of the space: not
	 * mapped there, and back in place after the restore. */
	cfc_wr(f, 2, PCI_BAR0 + 4, 4, 0xFFFFFFFF);
	pci_bus_commit(f->bus);
	assert_int_equal(f->mmio.nr, mmio_ranges - 1);
	assert_false(io_bus_read(&f->mmio, 0xFFFFF000, 4, &v));
	cfc_wr(f, 2, PCI_BAR0 + 4, 4, X86_PCI_MMIO32_START);
	pci_bus_commit(f->bus);
	assert_true(io_bus_read(&f->mmio, X86_PCI_MMIO32_START, 4, &v));

	/* A BAR moved onto another range stays unmapped instead of stealing it. */
	cfc_wr(f, 2, PCI_BAR0 + 4, 4, (uint32_t)X86_PCI_ECAM_START);
	pci_bus_commit(f->bus);
	assert_int_equal(ecam_rd(f, ecam(0, 0, 0, 0), 4), 0x14801022);
	assert_int_equal(f->mmio.nr, mmio_ranges - 1);
	/* No pending change: a commit is a no-op. */
	pci_bus_commit(f->bus);
	assert_int_equal(f->mmio.nr, mmio_ranges - 1);
}

static void test_window_exhaustion(void **state)
{
	(void)state;
	struct io_bus pio, mmio;
	io_bus_init(&pio, "pio");
	io_bus_init(&mmio, "mmio");
	struct pci_bus_params p;
	pci_bus_params_x86(&p, &pio, &mmio, 0, 0);  /* no 64-bit window */
	p.mem32 = (struct pci_window){ 0x80000000, 0x80003000 };
	struct pci_bus *bus;
	assert_int_equal(pci_bus_create(&p, &bus), 0);
	struct fake_bar fb = { .id = 1 };
	struct pci_config a, b;
	pci_config_init(&a, &dev_ids);
	pci_config_init(&b, &dev_ids);
	struct pci_bar m64 = { .kind = PCI_BAR_MEM64, .size = 0x2000, .ops = &fake_ops, .dev = &fb };
	struct pci_bar m32 = { .kind = PCI_BAR_MEM32, .size = 0x2000, .ops = &fake_ops, .dev = &fb };
	pci_config_set_bar(&a, 0, &m64);
	pci_config_set_bar(&b, 0, &m32);
	/* Without a 64-bit window a 64-bit BAR goes below 4 GiB. */
	assert_int_equal(pci_bus_add_device(bus, &a, "a", -1, NULL), 0);
	assert_int_equal(pci_config_bar_addr(&a, 0), 0x80000000);
	/* The next 8 KiB-aligned slot would end past the window. */
	assert_int_equal(pci_bus_add_device(bus, &b, "b", -1, NULL), -ENOSPC);

	struct pci_host_info info;
	pci_bus_host_info(bus, &info);
	assert_int_equal(info.ecam_base, X86_PCI_ECAM_START);
	assert_int_equal(info.ecam_size, X86_PCI_ECAM_END - X86_PCI_ECAM_START);
	assert_int_equal(info.bus_start, 0);
	assert_int_equal(info.bus_end, 0);
	assert_int_equal(info.io.start, 0xC000);
	assert_int_equal(info.io.end, 0x10000);
	assert_int_equal(info.mem32.end, 0x80003000);
	assert_int_equal(info.mem64.start, info.mem64.end);

	pci_bus_destroy(bus);
	assert_int_equal(pio.nr, 0);
	assert_int_equal(mmio.nr, 0);
	pci_config_destroy(&a);
	pci_config_destroy(&b);
	io_bus_destroy(&pio);
	io_bus_destroy(&mmio);
}

static void test_create_refuses_taken_ports(void **state)
{
	(void)state;
	struct io_bus pio, mmio;
	io_bus_init(&pio, "pio");
	io_bus_init(&mmio, "mmio");
	struct fake_bar fb = { 0 };
	assert_int_equal(io_bus_add(&mmio, X86_PCI_ECAM_START + 0x1000, 4, &fake_ops, &fb, "x"), 0);
	struct pci_bus_params p;
	pci_bus_params_x86(&p, &pio, &mmio, 0, 0);
	struct pci_bus *bus = NULL;
	assert_int_equal(pci_bus_create(&p, &bus), -EEXIST);
	assert_int_equal(pio.nr, 0);  /* CF8 was given back */
	io_bus_destroy(&pio);
	io_bus_destroy(&mmio);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge_via_cf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_devices_read_all_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecam_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_assigns_and_maps_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_move_updates_io_bus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_toggle_unmaps_and_maps, setup, teardown),
		cmocka_unit_test(test_window_exhaustion),
		cmocka_unit_test(test_create_refuses_taken_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
