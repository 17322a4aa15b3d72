/* MC146818 RTC + CMOS. The clock is not a ticking counter: every read
 * converts the host's CLOCK_REALTIME plus the guest's offset, so there is
 * no update cycle to emulate. UIP is reported during the first 244 us of
 * each second (8 cycles of the 32.768 kHz time base, as Alioth does), which
 * lets Linux's UIP-avoiding reads see a real, short update window. */
#include "dev/cmos.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "util/util.h"

enum {
	RTC_SECONDS = 0x00,
	RTC_MINUTES = 0x02,
	RTC_HOURS = 0x04,
	RTC_WEEKDAY = 0x06,
	RTC_DAY = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0A,
	RTC_REG_B = 0x0B,
	RTC_REG_C = 0x0C,
	RTC_REG_D = 0x0D,
	CMOS_BASE_MEM_LO = 0x15,
	CMOS_BASE_MEM_HI = 0x16,
	CMOS_EXT_MEM_LO = 0x17,
	CMOS_EXT_MEM_HI = 0x18,
	CMOS_EXT_MEM2_LO = 0x30,
	CMOS_EXT_MEM2_HI = 0x31,
	RTC_CENTURY = 0x32,
	CMOS_MEM_16M_LO = 0x34,
	CMOS_MEM_16M_HI = 0x35,
	CMOS_MEM_4G_0 = 0x5B,
	CMOS_MEM_4G_1 = 0x5C,
	CMOS_MEM_4G_2 = 0x5D,
};

#define CMOS_INDEX_MASK 0x7F /* bit 7 masks NMIs: nothing to mask here */
#define REG_A_UIP 0x80
#define REG_A_DEFAULT 0x26   /* 32.768 kHz time base, 1024 Hz rate */
#define REG_B_BINARY 0x04
#define REG_B_24H 0x02
#define REG_B_DEFAULT REG_B_24H
#define REG_D_VRT 0x80       /* the battery is fine */
#define HOUR_PM 0x80
#define UIP_NS 244140

struct cmos {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];   /* NVRAM; also holds A and B */
	int64_t offset_ns;  /* guest time minus host time */
	int64_t (*realtime_ns)(void *ctx);
	void *clock_ctx;
};

static uint8_t to_bcd(unsigned v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0F);
}

static int64_t host_realtime_ns(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t host_ns(const struct cmos *c)
{
	return c->realtime_ns(c->clock_ctx);
}

static int64_t guest_ns(const struct cmos *c)
{
	return host_ns(c) + c->offset_ns;
}

static struct tm guest_tm(const struct cmos *c)
{
	time_t sec = guest_ns(c) / 1000000000;
	struct tm tm;
	gmtime_r(&sec, &tm);
	return tm;
}

static bool binary_mode(const struct cmos *c)
{
	return c->ram[RTC_REG_B] & REG_B_BINARY;
}

static uint8_t encode(const struct cmos *c, unsigned v)
{
	return binary_mode(c) ? (uint8_t)v : to_bcd(v);
}

static unsigned decode(const struct cmos *c, uint8_t v)
{
	return binary_mode(c) ? v : from_bcd(v);
}

static uint8_t encode_hour(const struct cmos *c, unsigned hour)
{
	unsigned h12;

	if (c->ram[RTC_REG_B] & REG_B_24H)
		return encode(c, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return encode(c, h12) | (hour >= 12 ? HOUR_PM : 0);
}

static unsigned decode_hour(const struct cmos *c, uint8_t v)
{
	unsigned h;

	if (c->ram[RTC_REG_B] & REG_B_24H)
		return decode(c, v);
	h = decode(c, v & ~HOUR_PM) % 12;
	return (v & HOUR_PM) ? h + 12 : h;
}

static uint8_t read_time_reg(const struct cmos *c, uint8_t reg)
{
	struct tm tm = guest_tm(c);

	switch (reg) {
	case RTC_SECONDS:
		return encode(c, tm.tm_sec);
	case RTC_MINUTES:
		return encode(c, tm.tm_min);
	case RTC_HOURS:
		return encode_hour(c, tm.tm_hour);
	case RTC_WEEKDAY:
		return encode(c, tm.tm_wday + 1); /* Sunday = 1 */
	case RTC_DAY:
		return encode(c, tm.tm_mday);
	case RTC_MONTH:
		return encode(c, tm.tm_mon + 1);
	case RTC_YEAR:
		return encode(c, (tm.tm_year + 1900) % 100);
	default: /* RTC_CENTURY */
		return encode(c, (tm.tm_year + 1900) / 100);
	}
}

/* The guest sets one field: keep the others, move the offset. */
static void write_time_reg(struct cmos *c, uint8_t reg, uint8_t val)
{
	int64_t now = host_ns(c);
	time_t sec = (now + c->offset_ns) / 1000000000;
	int64_t frac = (now + c->offset_ns) % 1000000000;
	struct tm tm;
	int year;

	gmtime_r(&sec, &tm);
	year = tm.tm_year + 1900;
	switch (reg) {
	case RTC_SECONDS:
		tm.tm_sec = decode(c, val);
		break;
	case RTC_MINUTES:
		tm.tm_min = decode(c, val);
		break;
	case RTC_HOURS:
		tm.tm_hour = decode_hour(c, val);
		break;
	case RTC_DAY:
		tm.tm_mday = decode(c, val);
		break;
	case RTC_MONTH:
		tm.tm_mon = (int)decode(c, val) - 1;
		break;
	case RTC_YEAR:
		tm.tm_year = year / 100 * 100 + decode(c, val) - 1900;
		break;
	case RTC_CENTURY:
		tm.tm_year = decode(c, val) * 100 + year % 100 - 1900;
		break;
	default: /* the weekday follows from the date */
		return;
	}
	c->offset_ns = ((int64_t)timegm(&tm) * 1000000000 + frac) - now;
}

static bool is_time_reg(uint8_t reg)
{
	return reg <= RTC_YEAR && reg != 1 && reg != 3 && reg != 5; /* odd: alarms */
}

static uint8_t read_data(struct cmos *c)
{
	uint8_t reg = c->index;

	if (is_time_reg(reg) || reg == RTC_CENTURY)
		return read_time_reg(c, reg);
	switch (reg) {
	case RTC_REG_A:
		if (guest_ns(c) % 1000000000 < UIP_NS)
			return c->ram[reg] | REG_A_UIP;
		return c->ram[reg];
	case RTC_REG_C:
		return 0; /* no RTC interrupt is ever raised */
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		return c->ram[reg];
	}
}

static void write_data(struct cmos *c, uint8_t val)
{
	uint8_t reg = c->index;

	if (is_time_reg(reg) || reg == RTC_CENTURY) {
		write_time_reg(c, reg, val);
		return;
	}
	switch (reg) {
	case RTC_REG_A:
		c->ram[reg] = val & ~REG_A_UIP;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		c->ram[reg] = val;
	}
}

static uint8_t access_byte(struct cmos *c, uint64_t port, bool write, uint8_t val)
{
	if (port == 0) {
		if (write)
			c->index = val & CMOS_INDEX_MASK;
		return 0xff; /* the index port is write-only */
	}
	if (port == 1) {
		if (!write)
			return read_data(c);
		write_data(c, val);
	}
	return 0xff;
}

/* outw 0x70 (index in the low byte, data in the high one) works, as on
 * an ISA bus that splits the cycle. */
static uint64_t cmos_read(void *dev, uint64_t off, unsigned size)
{
	struct cmos *c = dev;
	uint64_t val = 0;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < size && i < 8; i++)
		val |= (uint64_t)access_byte(c, off + i, false, 0) << (8 * i);
	pthread_mutex_unlock(&c->lock);
	return val;
}

static void cmos_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct cmos *c = dev;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < size && i < 8; i++)
		access_byte(c, off + i, true, val >> (8 * i));
	pthread_mutex_unlock(&c->lock);
}

const struct io_ops cmos_io_ops = {
	.read = cmos_read,
	.write = cmos_write,
};

static void put16(uint8_t *ram, unsigned lo, unsigned hi, uint64_t v)
{
	v = MIN(v, 0xFFFFu);
	ram[lo] = v & 0xff;
	ram[hi] = v >> 8;
}

/* The layout SeaBIOS and QEMU agree on. */
static void fill_memory_size(uint8_t *ram, uint64_t low_ram, uint64_t high_ram)
{
	uint64_t ext_kib = low_ram > MiB ? (low_ram - MiB) / KiB : 0;
	uint64_t above_16m = low_ram > 16 * MiB ? (low_ram - 16 * MiB) / (64 * KiB) : 0;
	uint64_t above_4g = MIN(high_ram / (64 * KiB), 0xFFFFFFu);

	put16(ram, CMOS_BASE_MEM_LO, CMOS_BASE_MEM_HI, 640);
	put16(ram, CMOS_EXT_MEM_LO, CMOS_EXT_MEM_HI, ext_kib);
	put16(ram, CMOS_EXT_MEM2_LO, CMOS_EXT_MEM2_HI, ext_kib);
	put16(ram, CMOS_MEM_16M_LO, CMOS_MEM_16M_HI, above_16m);
	ram[CMOS_MEM_4G_0] = above_4g & 0xff;
	ram[CMOS_MEM_4G_1] = (above_4g >> 8) & 0xff;
	ram[CMOS_MEM_4G_2] = (above_4g >> 16) & 0xff;
}

struct cmos *cmos_create(uint64_t low_ram, uint64_t high_ram)
{
	struct cmos *c = xcalloc(1, sizeof(*c));

	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return NULL;
	}
	c->realtime_ns = host_realtime_ns;
	c->ram[RTC_REG_A] = REG_A_DEFAULT;
	c->ram[RTC_REG_B] = REG_B_DEFAULT;
	fill_memory_size(c->ram, low_ram, high_ram);
	return c;
}

void cmos_set_clock(struct cmos *c, int64_t (*realtime_ns)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->realtime_ns = realtime_ns;
	c->clock_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

void cmos_destroy(struct cmos *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}
