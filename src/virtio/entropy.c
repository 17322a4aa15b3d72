#include "virtio/entropy.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/util.h"

struct virtio_entropy {
	struct virtio_ctx *ctx;
	struct virtq_chain chain;
};

struct virtio_entropy *virtio_entropy_create(void)
{
	return xcalloc(1, sizeof(struct virtio_entropy));
}

void virtio_entropy_destroy(struct virtio_entropy *e)
{
	free(e);
}

/* getrandom() never blocks once the kernel's pool is initialised, which it
 * is long before a guest boots; it may return short for large requests. */
static bool fill_random(uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static uint32_t fill_chain(const struct virtq_chain *c)
{
	uint32_t written = 0;

	for (unsigned i = c->nread; i < c->nseg; i++) {
		if (!fill_random(c->seg[i].host, c->seg[i].len))
			break;
		written += c->seg[i].len;
	}
	return written;
}

static uint64_t entropy_features(void *dev)
{
	(void)dev;
	return 0;
}

static int entropy_activate(void *dev, struct virtio_ctx *ctx)
{
	((struct virtio_entropy *)dev)->ctx = ctx;
	return 0;
}

static void entropy_queue_notify(void *dev, unsigned q)
{
	struct virtio_entropy *e = dev;
	struct virtq *vq;
	bool pushed = false;
	int got;

	if (!e->ctx || q != 0)
		return;
	vq = virtio_queue(e->ctx, 0);
	while ((got = virtq_pop(vq, &e->chain)) > 0) {
		virtq_push(vq, &e->chain, fill_chain(&e->chain));
		pushed = true;
	}
	if (got < 0)
		virtio_set_needs_reset(e->ctx, "virtio-entropy: malformed descriptor chain");
	if (pushed)
		virtio_notify_queue(e->ctx, 0);
}

static void entropy_reset(void *dev)
{
	((struct virtio_entropy *)dev)->ctx = NULL;
}

static void entropy_destroy(void *dev)
{
	virtio_entropy_destroy(dev);
}

const struct virtio_dev_ops virtio_entropy_ops = {
	.name = "virtio-entropy",
	.device_id = 4,
	.num_queues = 1,
	.queue_max_size = 256,
	.config_size = 0,
	.features = entropy_features,
	.activate = entropy_activate,
	.queue_notify = entropy_queue_notify,
	.reset = entropy_reset,
	.destroy = entropy_destroy,
};
