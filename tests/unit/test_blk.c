/* virtio-blk through the virtio_dev.h API with a fake transport
 * (fake_virtio.c) and a temporary image file: every request type on both
 * engines, hostile layouts, range and read-only refusals, image locking and
 * what a flushed write leaves in the file; the engines' FLUSH ordering. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk/aio.h"
#include "fake_virtio.h"
#include "virtio/blk.h"

#define IMG_SECTORS 2048 /* 1 MiB */
#define QSIZE 16

struct fx {
	char path[64];
	enum blk_api api;
	struct virtio_blk *blk;
	struct virtio_ctx *ctx;
	char err[256];
};

static uint8_t pattern(uint64_t byte)
{
	return (uint8_t)(byte * 7 + (byte >> 9));
}

static void make_image(struct fx *f, uint64_t size)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "/tmp/alioth-test-blk-XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	uint8_t *buf = malloc(size);
	for (uint64_t i = 0; i < size; i++)
		buf[i] = pattern(i);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	free(buf);
	close(fd);
}

static int open_dev(struct fx *f, bool readonly, uint16_t nq)
{
	struct virtio_blk_params p = {
		.path = f->path, .readonly = readonly, .api = f->api, .num_queues = nq,
	};
	return virtio_blk_create(&p, &f->blk, f->err, sizeof(f->err));
}

static void activate(struct fx *f, unsigned nq)
{
	f->ctx = fake_virtio_new(nq, QSIZE, virtio_blk_ops.features(f->blk));
	assert_int_equal(virtio_blk_ops.activate(f->blk, f->ctx), 0);
}

static int setup_api(void **state, enum blk_api api)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->api = api;
	make_image(f, IMG_SECTORS * 512);
	*state = f;
	return 0;
}

static int setup_uring(void **state) { return setup_api(state, BLK_API_IOURING); }
static int setup_mio(void **state) { return setup_api(state, BLK_API_MIO); }

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->blk)
		virtio_blk_ops.destroy(f->blk);
	if (f->ctx)
		fake_virtio_free(f->ctx);
	unlink(f->path);
	free(f);
	return 0;
}

static struct fx *ready(void **state, bool readonly)
{
	struct fx *f = *state;
	assert_int_equal(open_dev(f, readonly, 1), 0);
	activate(f, 1);
	return f;
}

/* The header as the driver writes it. */
static uint64_t header(struct fx *f, uint32_t type, uint64_t sector)
{
	uint64_t gpa = fake_alloc(f->ctx, 16);
	uint8_t *h = fake_host(f->ctx, gpa);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	return gpa;
}

/* Publishes the chain, kicks queue q and waits for its used element.
 * Returns the used length. */
static uint32_t run_on(struct fx *f, unsigned q, const struct fake_seg *segs, unsigned n)
{
	uint32_t id, len;
	uint16_t head = fake_add_chain(f->ctx, q, segs, n);

	virtio_blk_ops.queue_notify(f->blk, q);
	for (int i = 0; i < 500 && !fake_take_used(f->ctx, q, &id, &len); i++)
		fake_run_watch(f->ctx, 10);
	assert_int_equal(id, head);
	return len;
}

static uint32_t run(struct fx *f, const struct fake_seg *segs, unsigned n)
{
	return run_on(f, 0, segs, n);
}

/* One request: header, one data buffer (device-writable for IN/GET_ID),
 * status. Returns the status byte. */
static uint8_t simple(struct fx *f, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		      bool data_in, uint32_t *used)
{
	uint64_t st = fake_alloc(f->ctx, 1);
	struct fake_seg segs[3] = { { header(f, type, sector), 16, false } };
	unsigned n = 1;

	*(uint8_t *)fake_host(f->ctx, st) = 0xee;
	if (len)
		segs[n++] = (struct fake_seg){ data, len, data_in };
	segs[n++] = (struct fake_seg){ st, 1, true };
	uint32_t l = run(f, segs, n);
	if (used)
		*used = l;
	return *(uint8_t *)fake_host(f->ctx, st);
}

static void read_file(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint64_t cfg_u64(struct fx *f, uint32_t off, uint32_t len)
{
	uint64_t v = 0;
	virtio_blk_ops.config_read(f->blk, off, &v, len);
	return v;
}

/* ---- tests ---- */

static void test_config_and_features(void **state)
{
	struct fx *f = ready(state, false);
	uint64_t feat = virtio_blk_ops.features(f->blk);

	assert_int_equal(virtio_blk_ops.device_id, 2);
	assert_int_equal(cfg_u64(f, VIRTIO_BLK_CFG_CAPACITY, 8), IMG_SECTORS);
	assert_int_equal(cfg_u64(f, VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	assert_int_equal(cfg_u64(f, VIRTIO_BLK_CFG_SEG_MAX, 4), VIRTIO_BLK_QUEUE_SIZE - 2);
	assert_int_equal(cfg_u64(f, VIRTIO_BLK_CFG_NUM_QUEUES, 2), 1);
	assert_int_equal(cfg_u64(f, VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), 1);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_FLUSH);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_SEG_MAX);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_DISCARD); /* /tmp can punch holes */
	assert_true(feat & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	assert_false(feat & 1ULL << VIRTIO_BLK_F_RO);
	assert_false(feat & 1ULL << VIRTIO_BLK_F_MQ);
	assert_string_equal(virtio_blk_engine(f->blk),
			    f->api == BLK_API_MIO ? "thread pool" : "io_uring");
}

static void test_read(void **state)
{
	struct fx *f = ready(state, false);
	uint64_t buf = fake_alloc(f->ctx, 1024);
	uint32_t used;
	uint8_t *p = fake_host(f->ctx, buf);

	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, 5, buf, 1024, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1025);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(p[i], pattern(5 * 512 + i));
	assert_true(f->ctx->notified[0] >= 1);
}

static void test_write_flush_durable(void **state)
{
	struct fx *f = ready(state, false);
	uint64_t buf = fake_alloc(f->ctx, 1536);
	uint8_t *p = fake_host(f->ctx, buf), back[1536];

	memset(p, 0x5a, 1536);
	assert_int_equal(simple(f, VIRTIO_BLK_T_OUT, 100, buf, 1536, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(simple(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	/* Another descriptor sees the data; the sectors around are untouched. */
	read_file(f->path, 100 * 512, back, sizeof(back));
	for (unsigned i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0x5a);
	read_file(f->path, 99 * 512, back, 512);
	assert_int_equal(back[511], pattern(100 * 512 - 1));
	read_file(f->path, 103 * 512, back, 1);
	assert_int_equal(back[0], pattern(103 * 512));
}

static void test_get_id(void **state)
{
	struct fx *f = ready(state, false);
	uint64_t buf = fake_alloc(f->ctx, 20);
	struct stat st;
	char want[64], got[21] = "";
	uint32_t used;

	assert_int_equal(stat(f->path, &st), 0);
	snprintf(want, sizeof(want), "%" PRIx64 "-%" PRIx64, (uint64_t)st.st_dev,
		 (uint64_t)st.st_ino);
	want[20] = '\0';
	assert_int_equal(simple(f, VIRTIO_BLK_T_GET_ID, 0, buf, 20, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	memcpy(got, fake_host(f->ctx, buf), 20);
	assert_string_equal(got, want);
}

static uint64_t range_buf(struct fx *f, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t gpa = fake_alloc(f->ctx, 16);
	uint8_t *p = fake_host(f->ctx, gpa);
	memcpy(p, &sector, 8);
	memcpy(p + 8, &n, 4);
	memcpy(p + 12, &flags, 4);
	return gpa;
}

static void assert_file_zero(struct fx *f, uint64_t off, size_t len)
{
	uint8_t back[4096];
	read_file(f->path, off, back, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(back[i], 0);
}

static void test_discard_and_write_zeroes(void **state)
{
	struct fx *f = ready(state, false);
	uint8_t back[1];

	assert_int_equal(simple(f, VIRTIO_BLK_T_DISCARD, 0, range_buf(f, 8, 8, 0), 16, false, NULL),
			 VIRTIO_BLK_S_OK);
	assert_file_zero(f, 8 * 512, 4096);
	read_file(f->path, 16 * 512, back, 1);
	assert_int_equal(back[0], pattern(16 * 512));
	assert_int_equal(simple(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, range_buf(f, 33, 3, 1), 16, false,
				NULL), VIRTIO_BLK_S_OK);
	assert_file_zero(f, 33 * 512, 3 * 512);
	read_file(f->path, 33 * 512 - 1, back, 1);
	assert_int_equal(back[0], pattern(33 * 512 - 1));
	assert_int_equal(simple(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, range_buf(f, 40, 2, 0), 16, false,
				NULL), VIRTIO_BLK_S_OK);
	assert_file_zero(f, 40 * 512, 2 * 512);
	/* Discard has no flags; a range past the end; two ranges (max_discard_seg 1). */
	assert_int_equal(simple(f, VIRTIO_BLK_T_DISCARD, 0, range_buf(f, 8, 8, 1), 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(simple(f, VIRTIO_BLK_T_DISCARD, 0, range_buf(f, IMG_SECTORS - 1, 2, 0), 16,
				false, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_DISCARD, 0, fake_alloc(f->ctx, 32), 32, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(simple(f, VIRTIO_BLK_T_DISCARD, 0, fake_alloc(f->ctx, 8), 8, false, NULL),
			 VIRTIO_BLK_S_IOERR);
}

static void test_readonly(void **state)
{
	struct fx *f = ready(state, true);
	uint64_t buf = fake_alloc(f->ctx, 512);
	uint64_t feat = virtio_blk_ops.features(f->blk);
	uint8_t back[512];

	assert_true(feat & 1ULL << VIRTIO_BLK_F_RO);
	assert_false(feat & 1ULL << VIRTIO_BLK_F_DISCARD);
	memset(fake_host(f->ctx, buf), 0x11, 512);
	assert_int_equal(simple(f, VIRTIO_BLK_T_OUT, 0, buf, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_DISCARD, 0, range_buf(f, 0, 1, 0), 16, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, range_buf(f, 0, 1, 0), 16, false,
				NULL), VIRTIO_BLK_S_IOERR);
	read_file(f->path, 0, back, 512);
	assert_int_equal(back[1], pattern(1));
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, 0, buf, 512, true, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(simple(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
}

static void test_out_of_range(void **state)
{
	struct fx *f = ready(state, false);
	uint64_t buf = fake_alloc(f->ctx, 1024);

	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 2, buf, 1024, true, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, buf, 1024, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_OUT, IMG_SECTORS, buf, 512, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, UINT64_MAX, buf, 512, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, UINT64_MAX >> 9, buf, 512, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, 0, buf, 100, true, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, 0x77, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
}

/* Header in three pieces; IN data in two buffers of which the second also
 * holds the status byte; a zero-length descriptor in between. */
static void test_split_layout(void **state)
{
	struct fx *f = ready(state, false);
	uint64_t hdr = header(f, VIRTIO_BLK_T_IN, 3);
	uint64_t d1 = fake_alloc(f->ctx, 300), d2 = fake_alloc(f->ctx, 213);
	struct fake_seg segs[] = {
		{ hdr, 5, false }, { hdr + 5, 0, false }, { hdr + 5, 1, false },
		{ hdr + 6, 10, false }, { d1, 300, true }, { d2, 0, true }, { d2, 213, true },
	};
	uint8_t *a = fake_host(f->ctx, d1), *b = fake_host(f->ctx, d2);

	assert_int_equal(run(f, segs, 7), 513);
	assert_int_equal(b[212], VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 300; i++)
		assert_int_equal(a[i], pattern(3 * 512 + i));
	for (unsigned i = 0; i < 212; i++)
		assert_int_equal(b[i], pattern(3 * 512 + 300 + i));

	/* OUT: data shares the header's last descriptor. */
	uint64_t out = fake_alloc(f->ctx, 16 + 512), st = fake_alloc(f->ctx, 1);
	uint8_t *o = fake_host(f->ctx, out);
	uint32_t type = VIRTIO_BLK_T_OUT;
	uint64_t sector = 7;
	memcpy(o, &type, 4);
	memcpy(o + 8, &sector, 8);
	memset(o + 16, 0xc3, 512);
	struct fake_seg w[] = { { out, 10, false }, { out + 10, 518, false }, { st, 1, true } };
	assert_int_equal(run(f, w, 3), 1);
	assert_int_equal(*(uint8_t *)fake_host(f->ctx, st), VIRTIO_BLK_S_OK);
	uint8_t back[512];
	read_file(f->path, 7 * 512, back, 512);
	assert_int_equal(back[0], 0xc3);
	assert_int_equal(back[511], 0xc3);
}

static void test_hostile_requests(void **state)
{
	struct fx *f = ready(state, false);
	uint64_t st = fake_alloc(f->ctx, 1), hdr = header(f, VIRTIO_BLK_T_IN, 0);
	uint32_t used;

	/* Zero-length read: fine, nothing moves. */
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, 0, 0, 0, false, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	/* Short header: answered IOERR. */
	struct fake_seg shorth[] = { { hdr, 8, false }, { st, 1, true } };
	assert_int_equal(run(f, shorth, 2), 1);
	assert_int_equal(*(uint8_t *)fake_host(f->ctx, st), VIRTIO_BLK_S_IOERR);
	/* No header at all. */
	struct fake_seg noh[] = { { st, 1, true } };
	*(uint8_t *)fake_host(f->ctx, st) = 0xee;
	assert_int_equal(run(f, noh, 1), 1);
	assert_int_equal(*(uint8_t *)fake_host(f->ctx, st), VIRTIO_BLK_S_IOERR);
	assert_int_equal(f->ctx->needs_reset, 0);
	/* No status byte: nowhere to answer, so the device needs a reset. */
	struct fake_seg nost[] = { { hdr, 16, false }, { st, 0, true } };
	assert_int_equal(run(f, nost, 2), 0);
	assert_int_equal(f->ctx->needs_reset, 1);
}

static void test_multiqueue(void **state)
{
	struct fx *f = *state;
	uint64_t buf, st;

	assert_int_equal(open_dev(f, false, 2), 0);
	assert_true(virtio_blk_ops.features(f->blk) & 1ULL << VIRTIO_BLK_F_MQ);
	assert_int_equal(cfg_u64(f, VIRTIO_BLK_CFG_NUM_QUEUES, 2), 2);
	activate(f, 2);
	buf = fake_alloc(f->ctx, 512);
	st = fake_alloc(f->ctx, 1);
	struct fake_seg segs[] = { { header(f, VIRTIO_BLK_T_IN, 1), 16, false }, { buf, 512, true },
				   { st, 1, true } };
	assert_int_equal(run_on(f, 1, segs, 3), 513);
	assert_int_equal(((uint8_t *)fake_host(f->ctx, buf))[0], pattern(512));
	assert_int_equal(f->ctx->notified[1], 1);
	assert_int_equal(f->ctx->notified[0], 0);
}

/* Many writes in flight, then a reset: it waits for them and pushes none. */
static void test_reset_inflight(void **state)
{
	struct fx *f = ready(state, false);
	uint32_t id, len;

	for (unsigned i = 0; i < 5; i++) {
		uint64_t buf = fake_alloc(f->ctx, 64 * 1024);
		struct fake_seg segs[] = { { header(f, VIRTIO_BLK_T_OUT, i * 128), 16, false },
					   { buf, 64 * 1024, false },
					   { fake_alloc(f->ctx, 1), 1, true } };
		fake_add_chain(f->ctx, 0, segs, 3);
	}
	virtio_blk_ops.queue_notify(f->blk, 0);
	virtio_blk_ops.reset(f->blk);
	assert_int_equal(f->ctx->watch_fd, -1);
	/* Anything pushed was pushed before the reset returned, never after. */
	unsigned before = 0;
	while (fake_take_used(f->ctx, 0, &id, &len))
		before++;
	usleep(20000);
	assert_false(fake_take_used(f->ctx, 0, &id, &len));
	assert_true(before <= 5);
	/* And the device works again after re-activation. */
	assert_int_equal(virtio_blk_ops.activate(f->blk, f->ctx), 0);
	uint64_t b = fake_alloc(f->ctx, 512);
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, 0, b, 512, true, NULL), VIRTIO_BLK_S_OK);
}

/* ---- the engines directly ---- */

#define ORD_WRITES 6
#define ORD_WRITE_LEN (4u << 20)

struct order_log {
	struct blk_io *seen[ORD_WRITES + 2];
	int res[ORD_WRITES + 2];
	unsigned n;
};

static void log_done(void *arg, struct blk_io *io, int res)
{
	struct order_log *l = arg;
	assert_true(l->n < ORD_WRITES + 2);
	l->res[l->n] = res;
	l->seen[l->n++] = io;
}

/* Big writes, a FLUSH and one more write in one batch: the FLUSH completes
 * after every write submitted before it. On tmpfs fdatasync costs nothing
 * and the writes take milliseconds, so a FLUSH that ran beside them (the
 * pool has several threads; io_uring runs SQEs out of order) would finish
 * first. */
static void test_flush_after_earlier_writes(void **state)
{
	struct fx *f = *state;
	char path[64] = "/dev/shm/alioth-test-flush-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/tmp/alioth-test-flush-XXXXXX");
		fd = mkstemp(path);
	}
	assert_true(fd >= 0);
	unlink(path);
	struct blk_aio *a;
	assert_int_equal(blk_aio_create(f->api, fd, 16, &a), 0);

	uint8_t *buf = malloc(ORD_WRITE_LEN);
	memset(buf, 0xa5, ORD_WRITE_LEN);
	struct iovec iov[ORD_WRITES + 1];
	struct blk_io io[ORD_WRITES + 2];
	struct order_log log = { .n = 0 };
	memset(io, 0, sizeof(io));
	for (unsigned i = 0; i <= ORD_WRITES; i++) {
		unsigned k = i < ORD_WRITES ? i : ORD_WRITES + 1; /* io[ORD_WRITES] is the flush */
		iov[i] = (struct iovec){ buf, ORD_WRITE_LEN };
		io[k] = (struct blk_io){ .op = BLK_OP_WRITE, .iov = &iov[i], .iovcnt = 1,
					 .off = (uint64_t)i * ORD_WRITE_LEN, .len = ORD_WRITE_LEN };
	}
	io[ORD_WRITES] = (struct blk_io){ .op = BLK_OP_FLUSH };
	for (unsigned i = 0; i < ORD_WRITES + 2; i++)
		assert_int_equal(blk_aio_submit(a, &io[i]), 0);
	blk_aio_kick(a);
	blk_aio_drain(a, log_done, &log);

	assert_int_equal(log.n, ORD_WRITES + 2);
	unsigned flush_at = ORD_WRITES + 2;
	for (unsigned i = 0; i < log.n; i++) {
		assert_int_equal(log.res[i], 0);
		if (log.seen[i] == &io[ORD_WRITES])
			flush_at = i;
	}
	for (unsigned w = 0; w < ORD_WRITES; w++) {
		bool before = false;
		for (unsigned i = 0; i < flush_at; i++)
			before |= log.seen[i] == &io[w];
		assert_true(before);
	}
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, (off_t)(ORD_WRITES + 1) * ORD_WRITE_LEN);
	blk_aio_destroy(a);
	free(buf);
	close(fd);
}

/* A FLUSH with nothing before it starts at once, and nothing is held up
 * behind it for good: reaping by polling alone finishes a mixed batch. */
static void test_poll_reaps_without_waiting(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/alioth-test-poll-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	struct blk_aio *a;
	assert_int_equal(blk_aio_create(f->api, fd, 4, &a), 0);
	uint8_t data[4096];
	memset(data, 0x5a, sizeof(data));
	struct iovec iov = { data, sizeof(data) };
	struct blk_io io[3] = {
		{ .op = BLK_OP_FLUSH },
		{ .op = BLK_OP_WRITE, .iov = &iov, .iovcnt = 1, .off = 0, .len = sizeof(data) },
		{ .op = BLK_OP_FLUSH },
	};
	struct order_log log = { .n = 0 };

	assert_int_equal(blk_aio_poll(a, log_done, &log), 0); /* nothing yet */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(blk_aio_submit(a, &io[i]), 0);
	blk_aio_kick(a);
	for (int i = 0; i < 2000 && log.n < 3; i++) {
		if (!blk_aio_poll(a, log_done, &log))
			usleep(1000);
	}
	assert_int_equal(log.n, 3);
	assert_int_equal(blk_aio_inflight(a), 0);
	/* The write came back before the flush behind it. */
	assert_ptr_equal(log.seen[2], &io[2]);
	uint8_t back[4096];
	assert_int_equal(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	assert_memory_equal(back, data, sizeof(back));
	blk_aio_destroy(a);
	close(fd);
}

static void test_locking(void **state)
{
	struct fx *f = *state;
	struct virtio_blk *second = NULL;
	struct virtio_blk_params p = { .path = f->path, .api = f->api };
	char err[256];

	assert_int_equal(open_dev(f, false, 1), 0);
	assert_int_not_equal(virtio_blk_create(&p, &second, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "is in use by another VM or another --blk"));
	assert_non_null(strstr(err, f->path));
	p.readonly = true;
	assert_int_not_equal(virtio_blk_create(&p, &second, err, sizeof(err)), 0);
	virtio_blk_destroy(f->blk);
	f->blk = NULL;
	/* Readers share. */
	assert_int_equal(open_dev(f, true, 1), 0);
	assert_int_equal(virtio_blk_create(&p, &second, err, sizeof(err)), 0);
	virtio_blk_destroy(second);
	p.readonly = false;
	assert_int_not_equal(virtio_blk_create(&p, &second, err, sizeof(err)), 0);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct virtio_blk *b = NULL;
	struct virtio_blk_params p = { .path = "/nonexistent/disk.img", .api = f->api };
	char err[256];

	assert_int_equal(virtio_blk_create(&p, &b, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot open disk image '/nonexistent/disk.img' for writing: "
			    "No such file or directory");
	p.path = "/tmp";
	assert_int_not_equal(virtio_blk_create(&p, &b, err, sizeof(err)), 0);
	p.path = f->path;
	p.num_queues = VIRTIO_BLK_MAX_QUEUES + 1;
	assert_int_equal(virtio_blk_create(&p, &b, err, sizeof(err)), -EINVAL);
}

#define BOTH(t) \
	cmocka_unit_test_setup_teardown(t, setup_uring, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_mio, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_config_and_features),
		BOTH(test_read),
		BOTH(test_write_flush_durable),
		BOTH(test_flush_after_earlier_writes),
		BOTH(test_poll_reaps_without_waiting),
		BOTH(test_get_id),
		BOTH(test_discard_and_write_zeroes),
		BOTH(test_readonly),
		BOTH(test_out_of_range),
		BOTH(test_split_layout),
		BOTH(test_hostile_requests),
		BOTH(test_multiqueue),
		BOTH(test_reset_inflight),
		BOTH(test_locking),
		BOTH(test_open_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
