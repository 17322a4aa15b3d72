#include "virtio/virtio_dev.h"

/* Every transport's struct virtio_ctx starts with a struct virtio_transport,
 * so a pointer to the context is a pointer to that header. */
static const struct virtio_transport_ops *ops_of(const struct virtio_ctx *ctx)
{
	return ((const struct virtio_transport *)(const void *)ctx)->ops;
}

struct virtq *virtio_queue(struct virtio_ctx *ctx, unsigned q)
{
	return ops_of(ctx)->queue(ctx, q);
}

uint64_t virtio_features(const struct virtio_ctx *ctx)
{
	return ops_of(ctx)->features(ctx);
}

bool virtio_has_feature(const struct virtio_ctx *ctx, unsigned bit)
{
	return bit < 64 && (virtio_features(ctx) >> bit & 1);
}

void virtio_notify_queue(struct virtio_ctx *ctx, unsigned q)
{
	ops_of(ctx)->notify_queue(ctx, q);
}

void virtio_notify_config(struct virtio_ctx *ctx)
{
	ops_of(ctx)->notify_config(ctx);
}

void virtio_set_needs_reset(struct virtio_ctx *ctx, const char *why)
{
	ops_of(ctx)->set_needs_reset(ctx, why);
}

int virtio_watch_fd(struct virtio_ctx *ctx, int fd, void (*cb)(void *arg), void *arg)
{
	return ops_of(ctx)->watch_fd(ctx, fd, cb, arg);
}

void virtio_unwatch_fd(struct virtio_ctx *ctx, int fd)
{
	ops_of(ctx)->unwatch_fd(ctx, fd);
}
