/* CMOS/RTC: time encodings, guest-set time, UIP, NVRAM and memory bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <time.h>

#include "dev/cmos.h"
#include "util/util.h"

static uint8_t rd(struct cmos *c, uint8_t index)
{
	cmos_io_ops.write(c, 0, 1, index);
	return cmos_io_ops.read(c, 1, 1);
}

static void wr(struct cmos *c, uint8_t index, uint8_t val)
{
	cmos_io_ops.write(c, 0, 1, index);
	cmos_io_ops.write(c, 1, 1, val);
}

static void test_memory_bytes_5g(void **state)
{
	(void)state;
	/* 5 GiB guest: 2 GiB below the PCI hole, 3 GiB from 4 GiB. */
	struct cmos *c = cmos_create(2 * GiB, 3 * GiB);
	assert_int_equal(rd(c, 0x15) | rd(c, 0x16) << 8, 640);
	assert_int_equal(rd(c, 0x17) | rd(c, 0x18) << 8, 0xFFFF); /* capped */
	assert_int_equal(rd(c, 0x30) | rd(c, 0x31) << 8, 0xFFFF);
	assert_int_equal(rd(c, 0x34) | rd(c, 0x35) << 8, (2 * GiB - 16 * MiB) / (64 * KiB));
	assert_int_equal(rd(c, 0x5B) | rd(c, 0x5C) << 8 | rd(c, 0x5D) << 16,
			 3 * GiB / (64 * KiB));
	cmos_destroy(c);

	c = cmos_create(32 * MiB, 0);
	assert_int_equal(rd(c, 0x17) | rd(c, 0x18) << 8, 31 * 1024);
	assert_int_equal(rd(c, 0x34) | rd(c, 0x35) << 8, 256);
	assert_int_equal(rd(c, 0x5B) | rd(c, 0x5C) | rd(c, 0x5D), 0);
	cmos_destroy(c);
}

static void test_default_is_host_utc_bcd(void **state)
{
	(void)state;
	struct cmos *c = cmos_create(GiB, 0);
	assert_int_equal(rd(c, 0x0B), 0x02); /* 24h, BCD */
	assert_int_equal(rd(c, 0x0D), 0x80); /* VRT */
	for (int tries = 0; tries < 3; tries++) {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		uint8_t min = rd(c, 0x02), hour = rd(c, 0x04), year = rd(c, 0x09);
		uint8_t century = rd(c, 0x32), mday = rd(c, 0x07), mon = rd(c, 0x08);
		if (time(NULL) / 60 != t / 60)
			continue; /* a minute ticked between the reads: retry */
		assert_int_equal(min, (tm.tm_min / 10) << 4 | tm.tm_min % 10);
		assert_int_equal(hour, (tm.tm_hour / 10) << 4 | tm.tm_hour % 10);
		assert_int_equal(mday, (tm.tm_mday / 10) << 4 | tm.tm_mday % 10);
		assert_int_equal(mon, ((tm.tm_mon + 1) / 10) << 4 | (tm.tm_mon + 1) % 10);
		int y = tm.tm_year + 1900;
		assert_int_equal(year, ((y % 100) / 10) << 4 | y % 10);
		assert_int_equal(century, ((y / 100) / 10) << 4 | (y / 100) % 10);
		break;
	}
	cmos_destroy(c);
}

/* Sets 2031-07-15 (a Tuesday) 13:45:10 in BCD, 24h mode. */
static void set_time_bcd(struct cmos *c)
{
	wr(c, 0x0B, 0x82);  /* SET while writing, as Linux does */
	wr(c, 0x32, 0x20);
	wr(c, 0x09, 0x31);
	wr(c, 0x08, 0x07);
	wr(c, 0x07, 0x15);
	wr(c, 0x04, 0x13);
	wr(c, 0x02, 0x45);
	wr(c, 0x00, 0x10);
	wr(c, 0x0B, 0x02);
}

static void test_bcd_binary_and_12h(void **state)
{
	(void)state;
	struct cmos *c = cmos_create(GiB, 0);
	set_time_bcd(c);
	assert_in_range(rd(c, 0x00), 0x10, 0x12);
	assert_int_equal(rd(c, 0x02), 0x45);
	assert_int_equal(rd(c, 0x04), 0x13);
	assert_int_equal(rd(c, 0x06), 3); /* Tuesday, Sunday = 1 */
	assert_int_equal(rd(c, 0x07), 0x15);
	assert_int_equal(rd(c, 0x08), 0x07);
	assert_int_equal(rd(c, 0x09), 0x31);
	assert_int_equal(rd(c, 0x32), 0x20);

	wr(c, 0x0B, 0x06); /* binary, 24h */
	assert_int_equal(rd(c, 0x04), 13);
	assert_int_equal(rd(c, 0x02), 45);
	assert_int_equal(rd(c, 0x09), 31);
	assert_int_equal(rd(c, 0x32), 20);

	wr(c, 0x0B, 0x00); /* BCD, 12h: 1 PM */
	assert_int_equal(rd(c, 0x04), 0x81);
	wr(c, 0x04, 0x12);  /* 12 AM = midnight */
	wr(c, 0x0B, 0x02);
	assert_int_equal(rd(c, 0x04), 0x00);
	wr(c, 0x0B, 0x04);  /* binary, 12h: 12 PM = noon */
	wr(c, 0x04, 0x80 | 12);
	wr(c, 0x0B, 0x06);
	assert_int_equal(rd(c, 0x04), 12);
	assert_int_equal(rd(c, 0x07), 15); /* the date stayed */
	cmos_destroy(c);
}

static void test_uip_is_never_stuck(void **state)
{
	(void)state;
	struct cmos *c = cmos_create(GiB, 0);
	struct timespec start, now;
	bool seen = false;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Within a bit more than a second UIP must show once, and clear. */
	for (;;) {
		uint8_t a = rd(c, 0x0A);
		assert_int_equal(a & 0x7F, 0x26);
		clock_gettime(CLOCK_MONOTONIC, &now);
		double elapsed = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
		if (a & 0x80) {
			seen = true;
			struct timespec set_at = now;
			while (rd(c, 0x0A) & 0x80) {
				clock_gettime(CLOCK_MONOTONIC, &now);
				assert_true((now.tv_sec - set_at.tv_sec) * 1e9 +
					    (now.tv_nsec - set_at.tv_nsec) < 2e6);
			}
			break;
		}
		assert_true(elapsed < 1.5);
	}
	assert_true(seen);
	/* UIP is read-only. */
	wr(c, 0x0A, 0xA6);
	assert_int_equal(rd(c, 0x0A) & 0x7F, 0x26);
	cmos_destroy(c);
}

static void test_nvram_and_readonly_regs(void **state)
{
	(void)state;
	struct cmos *c = cmos_create(GiB, 0);
	wr(c, 0x40, 0x5A);
	wr(c, 0x7F, 0xA5);
	assert_int_equal(rd(c, 0x40), 0x5A);
	assert_int_equal(rd(c, 0x7F), 0xA5);
	assert_int_equal(rd(c, 0x80 | 0x40), 0x5A); /* bit 7 is the NMI mask */
	wr(c, 0x01, 0x33);                          /* alarm seconds: plain storage */
	assert_int_equal(rd(c, 0x01), 0x33);
	wr(c, 0x0C, 0xFF);
	wr(c, 0x0D, 0x00);
	assert_int_equal(rd(c, 0x0C), 0x00);
	assert_int_equal(rd(c, 0x0D), 0x80);
	/* outw: index in the low byte, data in the high byte. */
	cmos_io_ops.write(c, 0, 2, 0x7700 | 0x41);
	assert_int_equal(rd(c, 0x41), 0x77);
	cmos_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_bytes_5g),
		cmocka_unit_test(test_default_is_host_utc_bcd),
		cmocka_unit_test(test_bcd_binary_and_12h),
		cmocka_unit_test(test_uip_is_never_stuck),
		cmocka_unit_test(test_nvram_and_readonly_regs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
