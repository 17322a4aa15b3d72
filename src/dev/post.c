#include "dev/post.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/util.h"

struct post {
	atomic_uchar last; /* vCPUs write concurrently; a byte needs no lock */
};

static uint64_t post_read(void *dev, uint64_t off, unsigned size)
{
	(void)off;
	(void)size;
	return post_last_code(dev);
}

static void post_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct post *p = dev;

	(void)off;
	(void)size;
	atomic_store(&p->last, val & 0xff);
	log_debug("post: 0x%02x", (unsigned)(val & 0xff));
}

const struct io_ops post_io_ops = {
	.read = post_read,
	.write = post_write,
};

struct post *post_create(void)
{
	return xcalloc(1, sizeof(struct post));
}

void post_destroy(struct post *p)
{
	free(p);
}

uint8_t post_last_code(const struct post *p)
{
	return atomic_load(&((struct post *)p)->last);
}
