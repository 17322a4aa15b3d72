#include "fake_virtio.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio_spec.h"

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

void *fake_host(struct virtio_ctx *ctx, uint64_t gpa)
{
	return ctx->ram + (gpa - FAKE_RAM_GPA);
}

uint64_t fake_alloc(struct virtio_ctx *ctx, uint32_t len)
{
	uint64_t gpa = ctx->brk;

	ctx->brk = (ctx->brk + len + 15) & ~15ULL;
	if (ctx->brk > FAKE_RAM_GPA + FAKE_RAM_SIZE)
		abort();
	memset(fake_host(ctx, gpa), 0, len);
	return gpa;
}

struct virtio_ctx *fake_virtio_new(unsigned nq, uint16_t qsize, uint64_t features)
{
	struct virtio_ctx *ctx = calloc(1, sizeof(*ctx));

	ctx->ram = aligned_alloc(4096, FAKE_RAM_SIZE);
	memset(ctx->ram, 0, FAKE_RAM_SIZE);
	gm_init_buffer(&ctx->gm, FAKE_RAM_GPA, ctx->ram, FAKE_RAM_SIZE);
	ctx->brk = FAKE_RAM_GPA;
	ctx->features = features | 1ULL << VIRTIO_F_VERSION_1;
	ctx->nq = nq;
	ctx->watch_fd = -1;
	for (unsigned q = 0; q < nq; q++) {
		struct fake_ring *r = &ctx->ring[q];
		r->size = qsize;
		r->desc = fake_alloc(ctx, (uint32_t)(VIRTQ_DESC_SIZE * qsize));
		r->avail = fake_alloc(ctx, (uint32_t)VIRTQ_AVAIL_SIZE(qsize));
		r->used = fake_alloc(ctx, (uint32_t)VIRTQ_USED_SIZE(qsize));
		virtq_init(&ctx->q[q], &ctx->gm);
		if (virtq_configure(&ctx->q[q], qsize, r->desc, r->avail, r->used, ctx->features))
			abort();
	}
	return ctx;
}

void fake_virtio_free(struct virtio_ctx *ctx)
{
	free(ctx->ram);
	free(ctx);
}

uint16_t fake_add_chain(struct virtio_ctx *ctx, unsigned q, const struct fake_seg *segs,
			unsigned n)
{
	struct fake_ring *r = &ctx->ring[q];
	uint8_t *desc = fake_host(ctx, r->desc), *avail = fake_host(ctx, r->avail);
	uint16_t head = r->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % r->size);
		uint16_t next = (uint16_t)((idx + 1) % r->size);
		uint16_t flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		uint8_t *d = desc + (size_t)idx * VIRTQ_DESC_SIZE;
		put64(d + VIRTQ_DESC_ADDR, segs[i].gpa);
		put32(d + VIRTQ_DESC_LEN, segs[i].len);
		put16(d + VIRTQ_SPLIT_DESC_FLAGS, flags);
		put16(d + VIRTQ_SPLIT_DESC_NEXT, next);
	}
	r->next_desc = (uint16_t)((head + n) % r->size);
	put16(avail + VIRTQ_AVAIL_RING(r->avail_idx % r->size), head);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	r->avail_idx++;
	put16(avail + VIRTQ_AVAIL_IDX, r->avail_idx);
	return head;
}

bool fake_take_used(struct virtio_ctx *ctx, unsigned q, uint32_t *id, uint32_t *len)
{
	struct fake_ring *r = &ctx->ring[q];
	const uint8_t *used = fake_host(ctx, r->used);

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (get16(used + VIRTQ_USED_IDX) == r->used_seen)
		return false;
	const uint8_t *e = used + VIRTQ_USED_RING(r->used_seen % r->size);
	*id = get32(e);
	*len = get32(e + 4);
	r->used_seen++;
	return true;
}

bool fake_run_watch(struct virtio_ctx *ctx, int timeout_ms)
{
	struct pollfd p = { .fd = ctx->watch_fd, .events = POLLIN };

	if (ctx->watch_fd < 0 || poll(&p, 1, timeout_ms) <= 0)
		return false;
	ctx->watch_cb(ctx->watch_arg);
	return true;
}

/* ---- what virtio_dev.h promises devices ---- */

struct virtq *virtio_queue(struct virtio_ctx *ctx, unsigned q)
{
	return q < ctx->nq ? &ctx->q[q] : NULL;
}

uint64_t virtio_features(const struct virtio_ctx *ctx)
{
	return ctx->features;
}

bool virtio_has_feature(const struct virtio_ctx *ctx, unsigned bit)
{
	return bit < 64 && (ctx->features >> bit) & 1;
}

void virtio_notify_queue(struct virtio_ctx *ctx, unsigned q)
{
	ctx->notified[q]++;
}

void virtio_notify_config(struct virtio_ctx *ctx)
{
	ctx->config_notified++;
}

void virtio_set_needs_reset(struct virtio_ctx *ctx, const char *why)
{
	(void)why;
	ctx->needs_reset++;
}

int virtio_watch_fd(struct virtio_ctx *ctx, int fd, void (*cb)(void *arg), void *arg)
{
	ctx->watch_fd = fd;
	ctx->watch_cb = cb;
	ctx->watch_arg = arg;
	return 0;
}

void virtio_unwatch_fd(struct virtio_ctx *ctx, int fd)
{
	if (ctx->watch_fd == fd)
		ctx->watch_fd = -1;
}
