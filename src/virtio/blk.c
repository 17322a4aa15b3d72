#include "virtio/blk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk/disk.h"
#include "util/log.h"
#include "util/util.h"

#define SECTOR_SHIFT 9
#define SECTOR_SIZE (1u << SECTOR_SHIFT)
#define REQ_HDR_SIZE 16    /* le32 type; le32 reserved; le64 sector */
#define RANGE_SIZE 16      /* discard / write-zeroes: le64 sector; le32 num; le32 flags */
/* Large segments are fine (they are host pointers); this only bounds one
 * iovec entry the way a DMA engine would. */
#define SIZE_MAX_BYTES (1u << 20)
/* 2 GiB per discard / write-zeroes range; one range per request, so the
 * block layer never merges them and each is one fallocate. */
#define MAX_RANGE_SECTORS (1u << 22)
#define MAX_LOGGED_ERRORS 10

struct blk_req {
	struct blk_io io;
	struct virtio_blk *blk;
	struct blk_req *next_free;
	uint16_t q, id, ndesc;
	uint32_t writable;       /* the chain's writable bytes, for the push */
	uint32_t written;        /* used length reported on completion */
	uint8_t *status;         /* last writable byte of the chain */
	struct iovec *iov;
	unsigned iov_cap;
};

struct blk_queue {
	struct blk_req *reqs;
	unsigned nreq;
	struct blk_req *free;
	bool pushed;             /* used buffers not yet signalled */
};

struct virtio_blk {
	struct blk_disk disk;
	struct blk_aio *aio;
	struct virtio_ctx *ctx;  /* while activated */
	uint64_t capacity;       /* sectors */
	uint16_t num_queues;
	uint64_t features;
	bool watching;
	unsigned errors_logged;
	uint8_t config[VIRTIO_BLK_CFG_SIZE];
	struct blk_queue queues[VIRTIO_BLK_MAX_QUEUES];
	struct virtq_chain chain; /* scratch: one chain is parsed at a time */
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- setup ---- */

static bool can_unmap(const struct virtio_blk *b)
{
	return !b->disk.readonly && b->disk.can_punch;
}

static void build_config(struct virtio_blk *b)
{
	uint8_t *c = b->config;
	uint32_t align = b->disk.logical_block >> SECTOR_SHIFT;

	memset(c, 0, sizeof(b->config));
	put_le(c + VIRTIO_BLK_CFG_CAPACITY, b->capacity, 8);
	put_le(c + VIRTIO_BLK_CFG_SIZE_MAX, SIZE_MAX_BYTES, 4);
	/* The header and the status byte take a descriptor each. */
	put_le(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2, 4);
	put_le(c + VIRTIO_BLK_CFG_BLK_SIZE, b->disk.logical_block, 4);
	put_le(c + VIRTIO_BLK_CFG_NUM_QUEUES, b->num_queues, 2);
	if (can_unmap(b)) {
		put_le(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, MAX_RANGE_SECTORS, 4);
		put_le(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 1, 4);
		put_le(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, align, 4);
		put_le(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, MAX_RANGE_SECTORS, 4);
		put_le(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, 1, 4);
		c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
	}
}

static uint64_t blk_features_of(const struct virtio_blk *b)
{
	uint64_t f = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;

	if (b->disk.readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	if (b->num_queues > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;
	if (can_unmap(b))
		f |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

int virtio_blk_create(const struct virtio_blk_params *p, struct virtio_blk **out, char *err,
		      size_t errlen)
{
	unsigned nq = p->num_queues ? p->num_queues : 1;
	struct virtio_blk *b;
	int ret;

	if (nq > VIRTIO_BLK_MAX_QUEUES) {
		snprintf(err, errlen, "disk image '%s': at most %d queues", p->path,
			 VIRTIO_BLK_MAX_QUEUES);
		return -EINVAL;
	}
	b = xcalloc(1, sizeof(*b));
	ret = blk_disk_open(&b->disk, p->path, p->readonly, err, errlen);
	if (ret) {
		free(b);
		return ret;
	}
	ret = blk_aio_create(p->api, b->disk.fd, nq * VIRTIO_BLK_QUEUE_SIZE, &b->aio);
	if (ret) {
		snprintf(err, errlen, "disk image '%s': cannot start %s I/O: %s", p->path,
			 p->api == BLK_API_IOURING ? "io_uring" : "asynchronous", strerror(-ret));
		blk_disk_close(&b->disk);
		free(b);
		return ret;
	}
	b->num_queues = (uint16_t)nq;
	b->capacity = b->disk.size >> SECTOR_SHIFT;
	b->features = blk_features_of(b);
	build_config(b);
	log_info("virtio-blk: %s: %" PRIu64 " sectors%s, %s", p->path, b->capacity,
		 p->readonly ? ", read-only" : "", blk_aio_name(b->aio));
	*out = b;
	return 0;
}

const char *virtio_blk_engine(const struct virtio_blk *b)
{
	return blk_aio_name(b->aio);
}

/* ---- completing requests ---- */

static void push_req(struct virtio_blk *b, struct blk_req *r, uint8_t status)
{
	struct blk_queue *bq = &b->queues[r->q];
	struct virtq *vq = virtio_queue(b->ctx, r->q);

	__atomic_store_n(r->status, status, __ATOMIC_RELAXED);
	b->chain.id = r->id;
	b->chain.ndesc = r->ndesc;
	b->chain.writable = r->writable;
	virtq_push(vq, &b->chain, r->written);
	bq->pushed = true;
	r->next_free = bq->free;
	bq->free = r;
}

static void log_io_error(struct virtio_blk *b, const struct blk_req *r, int res)
{
	static const char *const names[] = { "read", "write", "flush", "discard", "write-zeroes" };

	if (b->errors_logged >= MAX_LOGGED_ERRORS)
		return;
	b->errors_logged++;
	log_error("virtio-blk: %s at byte %" PRIu64 " failed: %s%s", names[r->io.op], r->io.off,
		  strerror(-res), b->errors_logged == MAX_LOGGED_ERRORS ? " (further errors not logged)" : "");
}

static void io_done(void *arg, struct blk_io *io, int res)
{
	struct virtio_blk *b = arg;
	struct blk_req *r = io->tag;

	if (res)
		log_io_error(b, r, res);
	push_req(b, r, res ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static void notify_pushed(struct virtio_blk *b)
{
	for (unsigned q = 0; q < b->num_queues; q++) {
		if (!b->queues[q].pushed)
			continue;
		b->queues[q].pushed = false;
		virtio_notify_queue(b->ctx, q);
	}
}

/* ---- parsing requests ---- */

/* Points r->iov at `len` bytes of the chain's readable or writable part,
 * starting `off` bytes into it; the caller checked the part is that long. */
static void gather(struct blk_req *r, const struct virtq_chain *c, bool writable, size_t off,
		   size_t len)
{
	unsigned first = writable ? c->nread : 0, end = writable ? c->nseg : c->nread;
	int n = 0;

	if (r->iov_cap < end - first) {
		free(r->iov);
		r->iov_cap = end - first;
		r->iov = xcalloc(r->iov_cap, sizeof(*r->iov));
	}
	for (unsigned i = first; i < end && len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t take = MIN(s->len - off, len);
		r->iov[n++] = (struct iovec){ (uint8_t *)s->host + off, take };
		off = 0;
		len -= take;
	}
	r->io.iov = r->iov;
	r->io.iovcnt = n;
}

static uint8_t *status_byte(const struct virtq_chain *c)
{
	for (unsigned i = c->nseg; i-- > c->nread;)
		if (c->seg[i].len)
			return (uint8_t *)c->seg[i].host + c->seg[i].len - 1;
	return NULL;
}

static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t nsect)
{
	return sector <= b->capacity && nsect <= b->capacity - sector;
}

/* IN / OUT: the data is all readable bytes after the header (OUT) or all
 * writable bytes before the status (IN), a whole number of sectors. */
static uint8_t prepare_transfer(struct virtio_blk *b, struct blk_req *r,
				const struct virtq_chain *c, bool in, uint64_t sector)
{
	uint64_t len = in ? c->writable - 1u : c->readable - (uint64_t)REQ_HDR_SIZE;

	if (!in && b->disk.readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % SECTOR_SIZE || !in_range(b, sector, len >> SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	r->io.op = in ? BLK_OP_READ : BLK_OP_WRITE;
	r->io.off = sector << SECTOR_SHIFT;
	r->io.len = len;
	gather(r, c, in, in ? 0 : REQ_HDR_SIZE, len);
	r->written = in ? c->writable : 1;
	return VIRTIO_BLK_S_OK;
}

/* DISCARD / WRITE_ZEROES: exactly one range (max_*_seg is 1). */
static uint8_t prepare_unmap(struct virtio_blk *b, struct blk_req *r,
			     const struct virtq_chain *c, bool zeroes)
{
	uint8_t range[RANGE_SIZE];
	uint32_t nranges;

	if (!(b->features & (1ULL << (zeroes ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD))))
		return b->disk.readonly ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP;
	if ((c->readable - REQ_HDR_SIZE) % RANGE_SIZE)
		return VIRTIO_BLK_S_IOERR;
	nranges = (c->readable - REQ_HDR_SIZE) / RANGE_SIZE;
	if (nranges != 1)
		return VIRTIO_BLK_S_UNSUPP;
	virtq_chain_read(c, REQ_HDR_SIZE, range, sizeof(range));
	uint64_t sector = get_le(range, 8);
	uint32_t nsect = (uint32_t)get_le(range + 8, 4);
	uint32_t flags = (uint32_t)get_le(range + 12, 4);
	/* Unmap is meaningless for discard and the only flag for write-zeroes. */
	if (flags & ~(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0u))
		return VIRTIO_BLK_S_UNSUPP;
	if (nsect > MAX_RANGE_SECTORS || !in_range(b, sector, nsect))
		return VIRTIO_BLK_S_IOERR;
	r->io.op = zeroes ? BLK_OP_WRITE_ZEROES : BLK_OP_DISCARD;
	r->io.off = sector << SECTOR_SHIFT;
	r->io.len = (uint64_t)nsect << SECTOR_SHIFT;
	r->io.iovcnt = 0;
	return VIRTIO_BLK_S_OK;
}

/* Fills r from the chain. Returns the status to answer at once, or 0xff
 * when r->io must go to the engine. */
#define NEEDS_IO 0xff
static uint8_t prepare(struct virtio_blk *b, struct blk_req *r, const struct virtq_chain *c)
{
	uint8_t hdr[REQ_HDR_SIZE], st;
	size_t idlen;

	r->written = 1;
	if (c->readable < REQ_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	virtq_chain_read(c, 0, hdr, sizeof(hdr));
	uint32_t type = (uint32_t)get_le(hdr, 4);
	uint64_t sector = get_le(hdr + 8, 8);

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		st = prepare_transfer(b, r, c, type == VIRTIO_BLK_T_IN, sector);
		if (st == VIRTIO_BLK_S_OK && r->io.len == 0)
			return VIRTIO_BLK_S_OK; /* nothing to move */
		break;
	case VIRTIO_BLK_T_FLUSH:
		r->io.op = BLK_OP_FLUSH;
		r->io.iovcnt = 0;
		r->io.off = r->io.len = 0;
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		idlen = MIN((size_t)c->writable - 1, (size_t)BLK_SERIAL_LEN);
		virtq_chain_write(c, 0, b->disk.serial, idlen);
		r->written = (uint32_t)idlen + 1;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = prepare_unmap(b, r, c, type == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
	return st == VIRTIO_BLK_S_OK ? NEEDS_IO : st;
}

static void start_request(struct virtio_blk *b, unsigned q)
{
	struct blk_queue *bq = &b->queues[q];
	const struct virtq_chain *c = &b->chain;
	struct blk_req *r = bq->free;
	uint8_t st;

	r->status = status_byte(c);
	if (!r->status) {
		/* Nowhere to answer: the driver broke the protocol. */
		b->chain.writable = 0;
		virtq_push(virtio_queue(b->ctx, q), c, 0);
		bq->pushed = true;
		virtio_set_needs_reset(b->ctx, "virtio-blk: request without a status byte");
		return;
	}
	bq->free = r->next_free;
	r->q = (uint16_t)q;
	r->id = c->id;
	r->ndesc = c->ndesc;
	r->writable = c->writable;
	st = prepare(b, r, c);
	if (st != NEEDS_IO) {
		push_req(b, r, st);
		return;
	}
	r->io.tag = r;
	if (blk_aio_submit(b->aio, &r->io))
		push_req(b, r, VIRTIO_BLK_S_IOERR);
}

static void serve_queue(struct virtio_blk *b, unsigned q)
{
	struct blk_queue *bq = &b->queues[q];
	struct virtq *vq;

	if (q >= b->num_queues || !bq->reqs)
		return;
	vq = virtio_queue(b->ctx, q);
	while (bq->free) {
		int got = virtq_pop(vq, &b->chain);
		if (got < 0)
			virtio_set_needs_reset(b->ctx, "virtio-blk: malformed descriptor chain");
		if (got <= 0)
			break;
		start_request(b, q);
	}
	blk_aio_kick(b->aio);
}

/* ---- virtio_dev_ops ---- */

static uint64_t blk_features(void *dev)
{
	return ((struct virtio_blk *)dev)->features;
}

static void blk_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_blk *b = dev;

	if (off < sizeof(b->config) && len <= sizeof(b->config) - off)
		memcpy(buf, b->config + off, len);
}

static void on_completions(void *arg)
{
	struct virtio_blk *b = arg;

	if (!blk_aio_reap(b->aio, io_done, b))
		return;
	/* Requests were freed: chains left in a full ring can start now. */
	for (unsigned q = 0; q < b->num_queues; q++)
		serve_queue(b, q);
	notify_pushed(b);
}

static void free_queues(struct virtio_blk *b)
{
	for (unsigned q = 0; q < VIRTIO_BLK_MAX_QUEUES; q++) {
		struct blk_queue *bq = &b->queues[q];
		for (unsigned i = 0; i < bq->nreq; i++)
			free(bq->reqs[i].iov);
		free(bq->reqs);
		memset(bq, 0, sizeof(*bq));
	}
}

static void setup_queue(struct virtio_blk *b, unsigned q, const struct virtq *vq)
{
	struct blk_queue *bq = &b->queues[q];

	bq->nreq = vq->size;
	bq->reqs = xcalloc(bq->nreq, sizeof(*bq->reqs));
	for (unsigned i = bq->nreq; i-- > 0;) {
		bq->reqs[i].blk = b;
		bq->reqs[i].next_free = bq->free;
		bq->free = &bq->reqs[i];
	}
}

static int blk_activate(void *dev, struct virtio_ctx *ctx)
{
	struct virtio_blk *b = dev;
	int err;

	b->ctx = ctx;
	for (unsigned q = 0; q < b->num_queues; q++) {
		struct virtq *vq = virtio_queue(ctx, q);
		if (vq && vq->ready && vq->size)
			setup_queue(b, q, vq);
	}
	err = virtio_watch_fd(ctx, blk_aio_event_fd(b->aio), on_completions, b);
	if (err) {
		free_queues(b);
		b->ctx = NULL;
		return err;
	}
	b->watching = true;
	return 0;
}

static void blk_queue_notify(void *dev, unsigned q)
{
	struct virtio_blk *b = dev;

	if (!b->ctx)
		return;
	serve_queue(b, q);
	notify_pushed(b);
}

static void abandon(void *arg, struct blk_io *io, int res)
{
	(void)arg;
	(void)io;
	(void)res;
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	/* The engine may still be writing into guest buffers: wait for it. */
	blk_aio_drain(b->aio, abandon, NULL);
	if (b->watching && b->ctx)
		virtio_unwatch_fd(b->ctx, blk_aio_event_fd(b->aio));
	b->watching = false;
	free_queues(b);
	b->ctx = NULL;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	blk_reset(b);
	blk_aio_destroy(b->aio);
	blk_disk_close(&b->disk);
	free(b);
}

static void blk_destroy(void *dev)
{
	virtio_blk_destroy(dev);
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = 2,
	.num_queues = VIRTIO_BLK_MAX_QUEUES,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = VIRTIO_BLK_CFG_SIZE,
	.features = blk_features,
	.config_read = blk_config_read,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.destroy = blk_destroy,
};
