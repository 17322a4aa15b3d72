/* The bounds-checked guest-memory accessor, including hostile ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mem/guest_mem.h"

static uint8_t lo[4096], hi[4096];

/* Two regions with a hole between them, like RAM below and above the PCI hole. */
static void two_regions(struct guest_mem *gm)
{
	gm_init_buffer(gm, 0x1000, lo, sizeof(lo));
	gm->region[1] = (struct gm_region){ .gpa = 0x10000, .size = sizeof(hi), .host = hi };
	gm->nr_regions = 2;
}

static void inside_ranges_map(void **state)
{
	(void)state;
	struct guest_mem gm;
	two_regions(&gm);
	assert_ptr_equal(gm_ptr(&gm, 0x1000, 4096), lo);
	assert_ptr_equal(gm_ptr(&gm, 0x1ff0, 16), lo + 0xff0);
	assert_ptr_equal(gm_ptr(&gm, 0x10000, 1), hi);
	assert_ptr_equal(gm_ptr(&gm, 0x2000, 0), lo + 4096); /* empty range at the end */
}

static void outside_ranges_refused(void **state)
{
	(void)state;
	struct guest_mem gm;
	two_regions(&gm);
	assert_null(gm_ptr(&gm, 0x0, 1));          /* below */
	assert_null(gm_ptr(&gm, 0xfff, 2));        /* straddles the start */
	assert_null(gm_ptr(&gm, 0x1ff0, 17));      /* straddles the end */
	assert_null(gm_ptr(&gm, 0x1f00, 0xe100 + 1)); /* spans the hole */
	assert_null(gm_ptr(&gm, 0x5000, 1));       /* in the hole */
	assert_null(gm_ptr(&gm, 0x11000, 1));      /* past the last region */
}

static void overflowing_ranges_refused(void **state)
{
	(void)state;
	struct guest_mem gm;
	two_regions(&gm);
	assert_null(gm_ptr(&gm, 0x1000, UINT64_MAX));
	assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	assert_null(gm_ptr(&gm, 0x1001, UINT64_MAX - 0x1000));
	assert_null(gm_ptr(&gm, 0x10000, 0xffffffffULL));
}

static void read_write_copy_and_refuse(void **state)
{
	(void)state;
	struct guest_mem gm;
	two_regions(&gm);
	uint32_t v = 0xdeadbeef, r = 0;
	assert_true(gm_write(&gm, 0x10010, &v, sizeof(v)));
	assert_true(gm_read(&gm, 0x10010, &r, sizeof(r)));
	assert_int_equal(r, v);
	assert_memory_equal(hi + 0x10, &v, 4);
	uint8_t before[16];
	memcpy(before, hi + sizeof(hi) - 16, 16);
	assert_false(gm_write(&gm, 0x10000 + sizeof(hi) - 2, &v, sizeof(v)));
	assert_memory_equal(hi + sizeof(hi) - 16, before, 16); /* nothing partially written */
	assert_false(gm_read(&gm, 0x0, &r, sizeof(r)));
}

static void alloc_regions_and_overlap(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct mem_config cfg = { .size = 8 << 20, .backend = MEM_BACKEND_MEMFD };
	assert_int_equal(gm_alloc(&gm, &cfg), 0);
	assert_true(gm.memfd >= 0);
	assert_int_equal(gm_add_region(&gm, 0, 0, 4 << 20), 0);
	assert_int_equal(gm_add_region(&gm, 1ULL << 32, 4 << 20, 4 << 20), 0);
	assert_int_not_equal(gm_add_region(&gm, 2 << 20, 0, 4096), 0);   /* overlaps */
	assert_int_not_equal(gm_add_region(&gm, 1ULL << 40, 6 << 20, 4 << 20), 0); /* past allocation */
	assert_int_equal(gm_ram_size(&gm), 8 << 20);
	uint8_t *p = gm_ptr(&gm, (1ULL << 32) + 5, 1);
	assert_ptr_equal(p, gm.base + (4 << 20) + 5);
	gm_free(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inside_ranges_map),
		cmocka_unit_test(outside_ranges_refused),
		cmocka_unit_test(overflowing_ranges_refused),
		cmocka_unit_test(read_write_copy_and_refuse),
		cmocka_unit_test(alloc_regions_and_overlap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
