#include "dev/fw_debug.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/util.h"

#define FW_DEBUG_PROBE 0xe9

struct fw_debug {
	pthread_mutex_t lock;
	char line[FW_DEBUG_LINE_MAX];
	unsigned len;
};

static void flush_line(struct fw_debug *d)
{
	log_info("firmware: %.*s", (int)d->len, d->line);
	d->len = 0;
}

static uint64_t fw_debug_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return FW_DEBUG_PROBE;
}

/* Carriage returns are dropped; an over-long line is logged in pieces. */
static void fw_debug_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_debug *d = dev;
	char c = (char)(val & 0xff);
	(void)off;
	(void)size;
	pthread_mutex_lock(&d->lock);
	if (c == '\n')
		flush_line(d);
	else if (c != '\r') {
		d->line[d->len++] = c;
		if (d->len == sizeof(d->line))
			flush_line(d);
	}
	pthread_mutex_unlock(&d->lock);
}

const struct io_ops fw_debug_io_ops = {
	.read = fw_debug_read,
	.write = fw_debug_write,
};

struct fw_debug *fw_debug_create(void)
{
	struct fw_debug *d = xcalloc(1, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	return d;
}

void fw_debug_destroy(struct fw_debug *d)
{
	if (!d)
		return;
	if (d->len)
		flush_line(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
