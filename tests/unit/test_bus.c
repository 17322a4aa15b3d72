/* Port/MMIO dispatch: placement, overlap refusal, routing and removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dev/bus.h"

struct fake { uint64_t last_off, last_val; unsigned last_size, writes; };

static uint64_t fake_read(void *dev, uint64_t off, unsigned size)
{
	struct fake *f = dev;
	f->last_off = off;
	f->last_size = size;
	return 0x1000 + off;
}

static void fake_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fake *f = dev;
	f->last_off = off;
	f->last_size = size;
	f->last_val = val;
	f->writes++;
}

static const struct io_ops fake_ops = { fake_read, fake_write };

static void routes_to_the_right_device(void **state)
{
	(void)state;
	struct io_bus bus;
	struct fake a = { 0 }, b = { 0 };
	io_bus_init(&bus, "test");
	assert_int_equal(io_bus_add(&bus, 0x3f8, 8, &fake_ops, &a, "a"), 0);
	assert_int_equal(io_bus_add(&bus, 0x60, 1, &fake_ops, &b, "b"), 0);
	uint64_t v;
	assert_true(io_bus_read(&bus, 0x3fd, 1, &v));
	assert_int_equal(v, 0x1005);
	assert_int_equal(a.last_off, 5);
	assert_true(io_bus_write(&bus, 0x60, 1, 0xfe));
	assert_int_equal(b.last_val, 0xfe);
	assert_int_equal(a.writes, 0);
	io_bus_destroy(&bus);
}

static void unclaimed_reads_all_ones(void **state)
{
	(void)state;
	struct io_bus bus;
	io_bus_init(&bus, "test");
	uint64_t v = 0;
	assert_false(io_bus_read(&bus, 0x71, 1, &v));
	assert_int_equal(v, 0xff);
	assert_false(io_bus_read(&bus, 0x71, 4, &v));
	assert_int_equal(v, 0xffffffffULL);
	assert_false(io_bus_read(&bus, 0x71, 8, &v));
	assert_int_equal(v, UINT64_MAX);
	assert_false(io_bus_write(&bus, 0x71, 1, 0));
	io_bus_destroy(&bus);
}

static void overlaps_and_empty_refused(void **state)
{
	(void)state;
	struct io_bus bus;
	struct fake a = { 0 };
	io_bus_init(&bus, "test");
	assert_int_equal(io_bus_add(&bus, 0x100, 0x10, &fake_ops, &a, "a"), 0);
	assert_int_not_equal(io_bus_add(&bus, 0x10f, 1, &fake_ops, &a, "x"), 0);
	assert_int_not_equal(io_bus_add(&bus, 0xf0, 0x11, &fake_ops, &a, "x"), 0);
	assert_int_not_equal(io_bus_add(&bus, 0x200, 0, &fake_ops, &a, "x"), 0);
	assert_int_not_equal(io_bus_add(&bus, UINT64_MAX, 2, &fake_ops, &a, "x"), 0);
	assert_int_equal(io_bus_add(&bus, 0x110, 1, &fake_ops, &a, "adjacent"), 0);
	assert_int_equal(io_bus_add(&bus, 0xff, 1, &fake_ops, &a, "adjacent"), 0);
	io_bus_destroy(&bus);
}

static void many_ranges_and_removal(void **state)
{
	(void)state;
	struct io_bus bus;
	struct fake f[64] = { 0 };
	io_bus_init(&bus, "test");
	for (unsigned i = 0; i < 64; i++) /* added out of order to exercise the sorted insert */
		assert_int_equal(io_bus_add(&bus, ((i * 37) % 64) * 0x1000, 0x100, &fake_ops,
					    &f[(i * 37) % 64], "f"), 0);
	for (unsigned i = 0; i < 64; i++) {
		assert_true(io_bus_write(&bus, i * 0x1000 + 0x80, 4, i));
		assert_int_equal(f[i].last_val, i);
	}
	assert_int_equal(io_bus_remove(&bus, 5 * 0x1000), 0);
	assert_false(io_bus_write(&bus, 5 * 0x1000, 4, 1));
	assert_int_not_equal(io_bus_remove(&bus, 5 * 0x1000), 0);
	assert_true(io_bus_write(&bus, 6 * 0x1000, 4, 99));
	assert_int_equal(f[6].last_val, 99);
	io_bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes_to_the_right_device),
		cmocka_unit_test(unclaimed_reads_all_ones),
		cmocka_unit_test(overlaps_and_empty_refused),
		cmocka_unit_test(many_ranges_and_removal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
