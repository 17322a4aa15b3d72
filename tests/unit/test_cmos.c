/* CMOS/RTC: time encodings, guest-set time, UIP, NVRAM and memory bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

static int64_t fake_clock(void *ctx)
{
	return *(int64_t *)ctx;
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
	int64_t now = 1700000000LL * 1000000000LL + 123456789; /* host clock in 2023 */
	cmos_set_clock(c, fake_clock, &now);
	set_time_bcd(c);
	assert_int_equal(rd(c, 0x00), 0x10);
	now += 2000000000LL; /* the guest's clock runs on from what it set */
	assert_int_equal(rd(c, 0x00), 0x12);
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

static void test_uip_window(void **state)
{
	(void)state;
	struct cmos *c = cmos_create(GiB, 0);
	int64_t now = 1900000000LL * 1000000000LL; /* 2030-03-17 17:46:40 UTC */
	cmos_set_clock(c, fake_clock, &now);
	assert_int_equal(rd(c, 0x0A), 0x26 | 0x80);     /* just after the tick */
	now += 200000;
	assert_int_equal(rd(c, 0x0A), 0x26 | 0x80);
	now += 50000;                                    /* 250 us: the update is over */
	assert_int_equal(rd(c, 0x0A), 0x26);
	now += 999000000;
	assert_int_equal(rd(c, 0x0A), 0x26);
	assert_int_equal(rd(c, 0x00), 0x40);             /* 17:46:40 still */
	now += 750000;                                   /* the next second */
	assert_int_equal(rd(c, 0x0A) & 0x80, 0x80);
	assert_int_equal(rd(c, 0x00), 0x41);
	assert_int_equal(rd(c, 0x02), 0x46);
	assert_int_equal(rd(c, 0x04), 0x17);
	assert_int_equal(rd(c, 0x07), 0x17);
	assert_int_equal(rd(c, 0x08), 0x03);
	assert_int_equal(rd(c, 0x09), 0x30);
	assert_int_equal(rd(c, 0x32), 0x20);
	assert_int_equal(rd(c, 0x06), 1);                /* a Sunday */
	/* UIP is read-only. */
	now += 500000000;
	wr(c, 0x0A, 0xA6);
	assert_int_equal(rd(c, 0x0A), 0x26);
	cmos_destroy(c);
}

/* On the real clock, whenever UIP shows it goes away again. The bound is
 * loose because a loaded test machine deschedules us for many ms. */
static void test_uip_clears_on_host_clock(void **state)
{
	(void)state;
	struct cmos *c = cmos_create(GiB, 0);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (rd(c, 0x0A) & 0x80) {
			struct timespec set_at = start;
			clock_gettime(CLOCK_REALTIME, &set_at);
			while (rd(c, 0x0A) & 0x80) {
				clock_gettime(CLOCK_REALTIME, &now);
				assert_true((now.tv_sec - set_at.tv_sec) * 1000000000LL +
					    (now.tv_nsec - set_at.tv_nsec) < 200000000);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 2);
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
		cmocka_unit_test(test_uip_window),
		cmocka_unit_test(test_uip_clears_on_host_clock),
		cmocka_unit_test(test_nvram_and_readonly_regs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
