#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "util/util.h"

/* RAM the guest loses to the EBDA/VGA/BIOS hole below 1 MiB. */
#define LOW_HOLE (X86_HIGHMEM_START - X86_EBDA_START)

static void assert_sorted_disjoint(const struct e820_map *m)
{
	assert_true(m->nr > 0);
	assert_true(m->nr <= E820_MAX);
	for (unsigned i = 0; i < m->nr; i++) {
		assert_true(m->entry[i].size > 0);
		if (i)
			assert_true(m->entry[i - 1].addr + m->entry[i - 1].size <= m->entry[i].addr);
	}
}

static void assert_entry(const struct e820_map *m, unsigned i, uint64_t addr, uint64_t end,
			 uint32_t type)
{
	assert_true(i < m->nr);
	assert_int_equal(m->entry[i].addr, addr);
	assert_int_equal(m->entry[i].size, end - addr);
	assert_int_equal(m->entry[i].type, type);
}

static void assert_low_part(const struct e820_map *m)
{
	assert_entry(m, 0, 0, X86_EBDA_START, E820_RAM);
	assert_entry(m, 1, X86_EBDA_START, X86_LOWMEM_END, E820_RESERVED);
	assert_entry(m, 2, X86_ACPI_START, X86_ACPI_END, E820_RESERVED);
}

static void check_below_2g(uint64_t size)
{
	struct e820_map m;
	e820_build(&m, size);
	assert_sorted_disjoint(&m);
	assert_int_equal(m.nr, 4);
	assert_low_part(&m);
	assert_entry(&m, 3, X86_HIGHMEM_START, size, E820_RAM);
	assert_int_equal(e820_ram_total(&m), size - LOW_HOLE);
}

static void check_above_2g(uint64_t size)
{
	struct e820_map m;
	e820_build(&m, size);
	assert_sorted_disjoint(&m);
	assert_int_equal(m.nr, 5);
	assert_low_part(&m);
	assert_entry(&m, 3, X86_HIGHMEM_START, X86_RAM32_END, E820_RAM);
	assert_entry(&m, 4, X86_RAM64_START, X86_RAM64_START + size - X86_RAM32_END, E820_RAM);
	assert_int_equal(e820_ram_total(&m), size - LOW_HOLE);
	/* nothing may claim the PCI/MMIO hole */
	for (unsigned i = 0; i < m.nr; i++)
		assert_true(m.entry[i].addr + m.entry[i].size <= X86_RAM32_END ||
			    m.entry[i].addr >= X86_RAM64_START);
}

static void test_16m(void **state)
{
	(void)state;
	check_below_2g(16 * MiB);
}

static void test_1g(void **state)
{
	(void)state;
	check_below_2g(1 * GiB);
}

static void test_2g_fills_low_ram_exactly(void **state)
{
	(void)state;
	check_below_2g(2 * GiB);
}

static void test_3g(void **state)
{
	(void)state;
	check_above_2g(3 * GiB);
}

static void test_5g(void **state)
{
	(void)state;
	check_above_2g(5 * GiB);
}

/* Below 1 MiB only the RAM that exists is listed; the fixed reserved
 * ranges stay. */
static void test_tiny_sizes(void **state)
{
	(void)state;
	struct e820_map m;

	e820_build(&m, 256 * KiB);
	assert_sorted_disjoint(&m);
	assert_int_equal(m.nr, 3);
	assert_entry(&m, 0, 0, 256 * KiB, E820_RAM);
	assert_int_equal(e820_ram_total(&m), 256 * KiB);

	e820_build(&m, 1 * MiB);
	assert_sorted_disjoint(&m);
	assert_int_equal(m.nr, 3);
	assert_low_part(&m);
	assert_int_equal(e820_ram_total(&m), X86_EBDA_START);

	e820_build(&m, 1 * MiB + 4 * KiB);
	assert_int_equal(m.nr, 4);
	assert_entry(&m, 3, X86_HIGHMEM_START, X86_HIGHMEM_START + 4 * KiB, E820_RAM);
}

static void test_rebuild_resets_map(void **state)
{
	(void)state;
	struct e820_map m;
	e820_build(&m, 5 * GiB);
	e820_build(&m, 16 * MiB);
	assert_int_equal(m.nr, 4);
}

static void test_reserve_ecam_keeps_order(void **state)
{
	(void)state;
	struct e820_map m;
	e820_build(&m, 5 * GiB);
	uint64_t ram = e820_ram_total(&m);
	assert_int_equal(e820_reserve(&m, X86_PCI_ECAM_START, X86_PCI_ECAM_END), 0);
	assert_sorted_disjoint(&m);
	assert_int_equal(m.nr, 6);
	assert_entry(&m, 4, X86_PCI_ECAM_START, X86_PCI_ECAM_END, E820_RESERVED);
	assert_int_equal(e820_ram_total(&m), ram);
	/* overlapping RAM or another reservation is refused */
	assert_int_equal(e820_reserve(&m, X86_PCI_ECAM_START, X86_PCI_ECAM_START + 1), -1);
	assert_int_equal(e820_reserve(&m, X86_RAM32_END - 4096, X86_RAM32_END + 4096), -1);
	assert_int_equal(e820_reserve(&m, 5, 5), -1);
	assert_int_equal(m.nr, 6);
}

static void test_entry_layout_is_packed(void **state)
{
	(void)state;
	/* boot_params.e820_table in the zero page holds 20-byte entries */
	assert_int_equal(sizeof(struct e820_entry), 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_16m),
		cmocka_unit_test(test_1g),
		cmocka_unit_test(test_2g_fills_low_ram_exactly),
		cmocka_unit_test(test_3g),
		cmocka_unit_test(test_5g),
		cmocka_unit_test(test_tiny_sizes),
		cmocka_unit_test(test_rebuild_resets_map),
		cmocka_unit_test(test_reserve_ecam_keeps_order),
		cmocka_unit_test(test_entry_layout_is_packed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
