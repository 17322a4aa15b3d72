/* The small platform devices: ACPI PM registers, i8042 and the POST port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "arch/x86/layout.h"
#include "dev/acpi_pm.h"
#include "dev/i8042.h"
#include "dev/post.h"

struct recorder {
	enum vm_event ev[8];
	unsigned nr;
};

static void record(void *ctx, enum vm_event ev)
{
	struct recorder *r = ctx;
	assert_true(r->nr < 8);
	r->ev[r->nr++] = ev;
}

static void test_sleep_control(void **state)
{
	(void)state;
	struct recorder r = { 0 };
	struct vm_events ev = { .request = record, .ctx = &r };
	struct acpi_pm *pm = acpi_pm_create(&ev);
	acpi_pm_sleep_ctl_ops.write(pm, 0, 1, 5 << 2);        /* S5 without SLP_EN */
	acpi_pm_sleep_ctl_ops.write(pm, 0, 1, 0x20 | 3 << 2); /* S3: unsupported */
	assert_int_equal(r.nr, 0);
	acpi_pm_sleep_ctl_ops.write(pm, 0, 1, 0x20 | 5 << 2);
	assert_int_equal(r.nr, 1);
	assert_int_equal(r.ev[0], VM_EVENT_POWEROFF);
	assert_int_equal(acpi_pm_sleep_ctl_ops.read(pm, 0, 1), 0);
	assert_int_equal(acpi_pm_sleep_sts_ops.read(pm, 0, 1), 0);
	acpi_pm_destroy(pm);
}

static void test_reset_register(void **state)
{
	(void)state;
	struct recorder r = { 0 };
	struct vm_events ev = { .request = record, .ctx = &r };
	struct acpi_pm *pm = acpi_pm_create(&ev);
	acpi_pm_reset_ops.write(pm, 0, 1, 0x06);
	assert_int_equal(r.nr, 0);
	acpi_pm_reset_ops.write(pm, 0, 1, ACPI_RESET_VALUE);
	assert_int_equal(r.nr, 1);
	assert_int_equal(r.ev[0], VM_EVENT_RESET);
	acpi_pm_destroy(pm);
}

static void test_pm_timer(void **state)
{
	(void)state;
	assert_int_equal(acpi_pm_timer_ticks(0), 0);
	assert_int_equal(acpi_pm_timer_ticks(1000000000), ACPI_PM_TIMER_HZ);
	assert_int_equal(acpi_pm_timer_ticks(1500000000), ACPI_PM_TIMER_HZ * 3 / 2);
	/* 32 bits wrap after 2^32 / 3579545 s, about 1200 s. */
	uint64_t wrap_ns = (1ULL << 32) * 1000000000ULL / ACPI_PM_TIMER_HZ + 1;
	assert_true(acpi_pm_timer_ticks(wrap_ns) < 10);

	struct acpi_pm *pm = acpi_pm_create(NULL);
	uint32_t t0 = acpi_pm_timer_ops.read(pm, 0, 4);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	uint32_t t1 = acpi_pm_timer_ops.read(pm, 0, 4);
	/* 10 ms is 35795 ticks; allow a slow, busy machine. */
	assert_true(t1 - t0 >= 35795);
	assert_true(t1 - t0 < 35795 * 100);
	assert_true(acpi_pm_timer_ops.read(pm, 0, 2) <= 0xFFFF);
	acpi_pm_destroy(pm);
}

static void test_i8042(void **state)
{
	(void)state;
	struct recorder r = { 0 };
	struct vm_events ev = { .request = record, .ctx = &r };
	struct i8042 *k = i8042_create(&ev);
	assert_int_equal(i8042_cmd_ops.read(k, 0, 1), 0);  /* status: nothing pending */
	assert_int_equal(i8042_data_ops.read(k, 0, 1), 0);
	i8042_cmd_ops.write(k, 0, 1, 0xAD);
	i8042_data_ops.write(k, 0, 1, I8042_CMD_RESET);    /* data port: not a command */
	assert_int_equal(r.nr, 0);
	i8042_cmd_ops.write(k, 0, 1, I8042_CMD_RESET);
	assert_int_equal(r.nr, 1);
	assert_int_equal(r.ev[0], VM_EVENT_RESET);
	i8042_destroy(k);
}

static void test_post(void **state)
{
	(void)state;
	struct post *p = post_create();
	assert_int_equal(post_last_code(p), 0);
	post_io_ops.write(p, 0, 1, 0x1234);
	assert_int_equal(post_last_code(p), 0x34);
	assert_int_equal(post_io_ops.read(p, 0, 1), 0x34);
	post_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleep_control),
		cmocka_unit_test(test_reset_register),
		cmocka_unit_test(test_pm_timer),
		cmocka_unit_test(test_i8042),
		cmocka_unit_test(test_post),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
