/* libFuzzer target for virtio-blk request parsing (src/virtio/blk.c): the
 * input is a set of descriptor chains plus the bytes of their buffers, so
 * headers, ranges, layouts and types are all hostile. The I/O engine is
 * replaced by a synchronous one (below) that runs requests against a 1 MiB
 * temporary image at once, so ASan sees every byte the device hands to
 * preadv/pwritev. The fake transport is tests/unit/fake_virtio.c.
 *
 * Input: [nchains][per chain: nseg, then nseg x (le16 off, le16 len, u8 write)]
 *        [the rest: the first bytes of the 64 KiB buffer area]
 *
 * Self-contained: it includes the sources it tests. Build and run from the
 * repository root:
 *
 * build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc tests/fuzz/fuzz_blk.c -o fuzz_blk
 * run:   ./fuzz_blk -max_len=8192 -max_total_time=60
 *
 * For tests/fuzz/run-fuzzers.sh: no extra sources or libraries (no
 * liburing: the engine is the stub below).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blk/aio.h"
#include "blk/disk.c"
#include "mem/guest_mem.c"
#include "util/log.c"
#include "util/util.c"
#include "virtio/blk.c"
#include "virtio/virtq.c"
#include "../tests/unit/fake_virtio.c"

#define AREA 65536u
#define IMG_SIZE (1u << 20)

/* ---- a synchronous engine with the blk/aio.h interface ---- */

struct blk_aio {
	int fd, efd;
	unsigned inflight;
	struct blk_io *done;
};

int blk_aio_create(enum blk_api api, int fd, unsigned depth, struct blk_aio **out)
{
	struct blk_aio *a = calloc(1, sizeof(*a));
	(void)api;
	(void)depth;
	a->fd = fd;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	*out = a;
	return 0;
}

const char *blk_aio_name(const struct blk_aio *a) { (void)a; return "sync"; }
int blk_aio_event_fd(const struct blk_aio *a) { return a->efd; }
unsigned blk_aio_inflight(const struct blk_aio *a) { return a->inflight; }
void blk_aio_kick(struct blk_aio *a) { (void)a; }

static int run_io(int fd, struct blk_io *io)
{
	ssize_t n;
	switch (io->op) {
	case BLK_OP_READ:
		n = preadv(fd, io->iov, io->iovcnt, (off_t)io->off);
		return n == (ssize_t)io->len ? 0 : -EIO;
	case BLK_OP_WRITE:
		n = pwritev(fd, io->iov, io->iovcnt, (off_t)io->off);
		return n == (ssize_t)io->len ? 0 : -EIO;
	case BLK_OP_FLUSH:
		return 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		if (io->off + io->len > IMG_SIZE)
			abort(); /* the device let a range past the end through */
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)io->off,
				 (off_t)io->len) ? -errno : 0;
	}
	abort();
}

int blk_aio_submit(struct blk_aio *a, struct blk_io *io)
{
	uint64_t one = 1;
	uint64_t total = 0;

	for (int i = 0; i < io->iovcnt; i++)
		total += io->iov[i].iov_len;
	if ((io->op == BLK_OP_READ || io->op == BLK_OP_WRITE) &&
	    (total != io->len || io->off + io->len > IMG_SIZE))
		abort();
	io->res = run_io(a->fd, io);
	io->next = a->done;
	a->done = io;
	a->inflight++;
	if (write(a->efd, &one, sizeof(one)) < 0)
		abort();
	return 0;
}

unsigned blk_aio_reap(struct blk_aio *a, blk_done_fn done, void *arg)
{
	uint64_t v;
	unsigned n = 0;
	if (read(a->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		abort();
	while (a->done) {
		struct blk_io *io = a->done;
		a->done = io->next;
		a->inflight--;
		n++;
		done(arg, io, io->res);
	}
	return n;
}

void blk_aio_drain(struct blk_aio *a, blk_done_fn done, void *arg)
{
	blk_aio_reap(a, done, arg);
}

void blk_aio_destroy(struct blk_aio *a)
{
	close(a->efd);
	free(a);
}

/* ---- the harness ---- */

static struct virtio_blk *open_image(void)
{
	static char path[] = "/tmp/fuzz-blk-XXXXXX";
	struct virtio_blk_params p = { .path = path, .api = BLK_API_MIO };
	struct virtio_blk *b = NULL;
	char err[256];
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, IMG_SIZE))
		abort();
	close(fd);
	if (virtio_blk_create(&p, &b, err, sizeof(err)))
		abort();
	unlink(path);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtio_blk *blk;
	static struct virtio_ctx *ctx;
	static uint64_t area;
	size_t pos = 0;

	if (!blk) {
		log_init(LOG_OFF, NULL, NULL);
		blk = open_image();
		ctx = fake_virtio_new(1, 64, virtio_blk_ops.features(blk));
		area = fake_alloc(ctx, AREA);
	}
	/* Fresh rings for every input. */
	memset(fake_host(ctx, ctx->ring[0].desc), 0, (size_t)(area - ctx->ring[0].desc));
	ctx->ring[0].avail_idx = ctx->ring[0].used_seen = ctx->ring[0].next_desc = 0;
	virtq_configure(&ctx->q[0], 64, ctx->ring[0].desc, ctx->ring[0].avail,
			ctx->ring[0].used, ctx->features);
	if (virtio_blk_ops.activate(blk, ctx))
		abort();

	unsigned nchains = size ? data[pos++] % 8 : 0;
	for (unsigned c = 0; c < nchains && pos < size; c++) {
		struct fake_seg segs[8];
		unsigned nseg = data[pos++] % 8 + 1, n = 0;
		for (; n < nseg && pos + 5 <= size; n++, pos += 5) {
			uint32_t off = (uint32_t)(data[pos] | data[pos + 1] << 8) % AREA;
			uint32_t len = (uint32_t)(data[pos + 2] | data[pos + 3] << 8);
			if (len > AREA - off)
				len = AREA - off;
			segs[n] = (struct fake_seg){ area + off, len, data[pos + 4] & 1 };
		}
		if (n)
			fake_add_chain(ctx, 0, segs, n);
	}
	memset(fake_host(ctx, area), 0, AREA);
	memcpy(fake_host(ctx, area), data + pos, MIN(size - pos, (size_t)AREA));
	virtio_blk_ops.queue_notify(blk, 0);
	while (fake_run_watch(ctx, 0))
		;
	virtio_blk_ops.reset(blk);
	return 0;
}
