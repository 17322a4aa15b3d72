#include "blk/aio.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

/* Enough threads to keep a few requests of one disk in flight; more would
 * only contend on the file. */
#define POOL_THREADS 4

struct blk_aio {
	bool uring;
	int fd;         /* the disk */
	int efd;        /* completion eventfd */
	unsigned depth;
	unsigned inflight;  /* submitted, not yet reaped: held + in the engine */
	unsigned in_engine;
	/* Requests behind a FLUSH that still waits for earlier ones to finish,
	 * in submission order (see blk_aio_submit). */
	struct blk_io *held, **held_tail;
	/* io_uring */
	struct io_uring ring;
	unsigned unsubmitted;
	/* pool */
	pthread_mutex_t lock;
	pthread_cond_t work_cv, idle_cv;
	struct blk_io *todo, **todo_tail;
	struct blk_io *done, **done_tail;
	unsigned running;  /* taken by a thread, not yet done */
	bool stop;
	pthread_t threads[POOL_THREADS];
	unsigned nr_threads;
};

/* ---- helpers shared by both engines ---- */

int blk_io_fallocate_mode(const struct blk_io *io)
{
	if (io->op == BLK_OP_WRITE_ZEROES && !io->fallback)
		return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
}

int blk_io_advance(struct blk_io *io, uint64_t n)
{
	if (n >= io->len)
		return 1;
	io->off += n;
	io->len -= n;
	while (io->iovcnt && n >= io->iov->iov_len) {
		n -= io->iov->iov_len;
		io->iov++;
		io->iovcnt--;
	}
	if (io->iovcnt) {
		io->iov->iov_base = (uint8_t *)io->iov->iov_base + n;
		io->iov->iov_len -= n;
	}
	return 0;
}

/* A ZERO_RANGE the file system cannot do becomes a hole, which reads back
 * as zeroes too (tmpfs, some network file systems). */
static bool retry_as_hole(struct blk_io *io, int res)
{
	if (io->op != BLK_OP_WRITE_ZEROES || io->fallback || res != -EOPNOTSUPP)
		return false;
	io->fallback = 1;
	return true;
}

static int transfer_sync(int fd, struct blk_io *io)
{
	while (io->len) {
		ssize_t n = io->op == BLK_OP_READ ? preadv(fd, io->iov, io->iovcnt, (off_t)io->off)
						  : pwritev(fd, io->iov, io->iovcnt, (off_t)io->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the image shrank under us */
		if (blk_io_advance(io, (uint64_t)n))
			break;
	}
	return 0;
}

int blk_io_run_sync(int fd, struct blk_io *io)
{
	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		return transfer_sync(fd, io);
	case BLK_OP_FLUSH:
		return fdatasync(fd) ? -errno : 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		for (;;) {
			int res = fallocate(fd, blk_io_fallocate_mode(io), (off_t)io->off,
					    (off_t)io->len) ? -errno : 0;
			if (!retry_as_hole(io, res))
				return res;
		}
	}
	return -EINVAL;
}

static void signal_event(int efd)
{
	uint64_t one = 1;
	while (write(efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void consume_event(int efd)
{
	uint64_t v;
	while (read(efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

/* ---- io_uring ---- */

static bool uring_supports(struct io_uring *ring)
{
	static const int ops[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				   IORING_OP_FALLOCATE };
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p != NULL;

	for (size_t i = 0; ok && i < ARRAY_SIZE(ops); i++)
		ok = io_uring_opcode_supported(p, ops[i]);
	io_uring_free_probe(p);
	return ok;
}

static int uring_init(struct blk_aio *a)
{
	int err = io_uring_queue_init(a->depth, &a->ring, 0);

	if (err)
		return err;
	if (!uring_supports(&a->ring))
		err = -ENOSYS;
	if (!err)
		err = io_uring_register_eventfd(&a->ring, a->efd);
	if (err) {
		io_uring_queue_exit(&a->ring);
		return err;
	}
	a->uring = true;
	return 0;
}

static void uring_prep(struct io_uring_sqe *sqe, int fd, struct blk_io *io)
{
	switch (io->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, fd, io->iov, (unsigned)io->iovcnt, io->off);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, fd, io->iov, (unsigned)io->iovcnt, io->off);
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, fd, blk_io_fallocate_mode(io), io->off, io->len);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
}

static int uring_queue(struct blk_aio *a, struct blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);

	if (!sqe) {
		io_uring_submit(&a->ring);
		a->unsubmitted = 0;
		sqe = io_uring_get_sqe(&a->ring);
	}
	if (!sqe)
		return -EAGAIN;
	uring_prep(sqe, a->fd, io);
	a->unsubmitted++;
	return 0;
}

static void uring_kick(struct blk_aio *a)
{
	if (!a->unsubmitted)
		return;
	int n = io_uring_submit(&a->ring);
	if (n < 0)
		log_error("blk: io_uring_submit: %d", n);
	a->unsubmitted = 0;
}

/* Whether a completion finishes io; otherwise it was queued again. */
static bool uring_finish(struct blk_aio *a, struct blk_io *io, int res)
{
	if (res >= 0 && (io->op == BLK_OP_READ || io->op == BLK_OP_WRITE)) {
		if (res == 0 && io->len) {
			io->res = -EIO;
			return true;
		}
		if (blk_io_advance(io, (uint64_t)res)) {
			io->res = 0;
			return true;
		}
	} else if (res == -EAGAIN || res == -EINTR || retry_as_hole(io, res)) {
		/* queued again below */
	} else {
		io->res = res < 0 ? res : 0;
		return true;
	}
	if (uring_queue(a, io) == 0)
		return false;
	io->res = -EIO;
	return true;
}

static unsigned release_held(struct blk_aio *a, blk_done_fn done, void *arg);

static unsigned uring_reap(struct blk_aio *a, blk_done_fn done, void *arg)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (io_uring_peek_cqe(&a->ring, &cqe) == 0) {
		struct blk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&a->ring, cqe);
		if (!uring_finish(a, io, res))
			continue;
		a->inflight--;
		a->in_engine--;
		n++;
		done(arg, io, io->res);
	}
	n += release_held(a, done, arg);
	uring_kick(a);
	return n;
}

/* ---- thread pool ---- */

static void *pool_thread(void *arg)
{
	struct blk_aio *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->todo && !a->stop)
			pthread_cond_wait(&a->work_cv, &a->lock);
		if (!a->todo)
			break;
		struct blk_io *io = a->todo;
		a->todo = io->next;
		if (!a->todo)
			a->todo_tail = &a->todo;
		a->running++;
		pthread_mutex_unlock(&a->lock);

		io->res = blk_io_run_sync(a->fd, io);

		pthread_mutex_lock(&a->lock);
		a->running--;
		io->next = NULL;
		*a->done_tail = io;
		a->done_tail = &io->next;
		signal_event(a->efd);
		pthread_cond_broadcast(&a->idle_cv);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int pool_init(struct blk_aio *a)
{
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work_cv, NULL);
	pthread_cond_init(&a->idle_cv, NULL);
	a->todo_tail = &a->todo;
	a->done_tail = &a->done;
	for (; a->nr_threads < POOL_THREADS; a->nr_threads++) {
		int err = pthread_create(&a->threads[a->nr_threads], NULL, pool_thread, a);
		if (err)
			return a->nr_threads ? 0 : -err;
	}
	return 0;
}

static void pool_queue(struct blk_aio *a, struct blk_io *io)
{
	pthread_mutex_lock(&a->lock);
	io->next = NULL;
	*a->todo_tail = io;
	a->todo_tail = &io->next;
	pthread_cond_signal(&a->work_cv);
	pthread_mutex_unlock(&a->lock);
}

static unsigned pool_reap(struct blk_aio *a, blk_done_fn done, void *arg)
{
	struct blk_io *list;
	unsigned n = 0;

	pthread_mutex_lock(&a->lock);
	list = a->done;
	a->done = NULL;
	a->done_tail = &a->done;
	pthread_mutex_unlock(&a->lock);
	while (list) {
		struct blk_io *io = list;
		list = io->next;
		a->inflight--;
		a->in_engine--;
		n++;
		done(arg, io, io->res);
	}
	return n + release_held(a, done, arg);
}

static bool pool_has_done(struct blk_aio *a)
{
	pthread_mutex_lock(&a->lock);
	bool any = a->done != NULL;
	pthread_mutex_unlock(&a->lock);
	return any;
}

static void pool_wait_idle(struct blk_aio *a)
{
	pthread_mutex_lock(&a->lock);
	while (a->todo || a->running)
		pthread_cond_wait(&a->idle_cv, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

static void pool_stop(struct blk_aio *a)
{
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->work_cv);
	pthread_mutex_unlock(&a->lock);
	for (unsigned i = 0; i < a->nr_threads; i++)
		pthread_join(a->threads[i], NULL);
	pthread_cond_destroy(&a->work_cv);
	pthread_cond_destroy(&a->idle_cv);
	pthread_mutex_destroy(&a->lock);
}

/* ---- interface ---- */

int blk_aio_create(enum blk_api api, int fd, unsigned depth, struct blk_aio **out)
{
	struct blk_aio *a = xcalloc(1, sizeof(*a));
	int err = 0;

	a->fd = fd;
	a->depth = depth ? depth : 1;
	a->held_tail = &a->held;
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0) {
		err = -errno;
		free(a);
		return err;
	}
	if (api != BLK_API_MIO) {
		err = uring_init(a);
		if (err && api == BLK_API_AUTO)
			log_info("blk: io_uring unavailable (%d), using the thread pool", err);
	}
	if (!a->uring && api != BLK_API_IOURING)
		err = pool_init(a);
	if (err) {
		close(a->efd);
		free(a);
		return err;
	}
	*out = a;
	return 0;
}

const char *blk_aio_name(const struct blk_aio *a)
{
	return a->uring ? "io_uring" : "thread pool";
}

int blk_aio_event_fd(const struct blk_aio *a)
{
	return a->efd;
}

unsigned blk_aio_inflight(const struct blk_aio *a)
{
	return a->inflight;
}

static int engine_queue(struct blk_aio *a, struct blk_io *io)
{
	if (a->uring) {
		int err = uring_queue(a, io);
		if (err)
			return err;
	} else {
		pool_queue(a, io);
	}
	a->in_engine++;
	return 0;
}

static void hold(struct blk_aio *a, struct blk_io *io)
{
	io->next = NULL;
	*a->held_tail = io;
	a->held_tail = &io->next;
}

/* Hands held requests to the engine in order, stopping at a FLUSH while
 * anything submitted before it is still running. Returns how many of them
 * the engine refused and were completed with -EIO instead. */
static unsigned release_held(struct blk_aio *a, blk_done_fn done, void *arg)
{
	unsigned failed = 0;

	while (a->held && !(a->held->op == BLK_OP_FLUSH && a->in_engine)) {
		struct blk_io *io = a->held;
		a->held = io->next;
		if (!a->held)
			a->held_tail = &a->held;
		if (engine_queue(a, io)) {
			a->inflight--;
			failed++;
			done(arg, io, -EIO);
		}
	}
	return failed;
}

int blk_aio_submit(struct blk_aio *a, struct blk_io *io)
{
	if (a->inflight >= a->depth)
		return -EAGAIN;
	io->fallback = 0;
	io->res = 0;
	/* A FLUSH covers every write submitted before it: it starts only once
	 * they finished, and whatever comes after it waits behind it (the
	 * engines run requests concurrently and out of order otherwise). */
	if (a->held || (io->op == BLK_OP_FLUSH && a->in_engine)) {
		hold(a, io);
	} else {
		int err = engine_queue(a, io);
		if (err)
			return err;
	}
	a->inflight++;
	return 0;
}

void blk_aio_kick(struct blk_aio *a)
{
	if (a->uring)
		uring_kick(a);
}

unsigned blk_aio_poll(struct blk_aio *a, blk_done_fn done, void *arg)
{
	bool any = a->uring ? io_uring_cq_ready(&a->ring) != 0 : pool_has_done(a);

	/* Reaping consumes the eventfd first, so what it misses signals again;
	 * with nothing there, skip that syscall. */
	return any ? blk_aio_reap(a, done, arg) : 0;
}

unsigned blk_aio_reap(struct blk_aio *a, blk_done_fn done, void *arg)
{
	/* Consume the wake-up first: completions arriving after it signal again. */
	consume_event(a->efd);
	return a->uring ? uring_reap(a, done, arg) : pool_reap(a, done, arg);
}

void blk_aio_drain(struct blk_aio *a, blk_done_fn done, void *arg)
{
	while (a->inflight) {
		if (a->uring) {
			struct io_uring_cqe *cqe;
			uring_kick(a);
			if (io_uring_wait_cqe(&a->ring, &cqe) < 0)
				continue;
		} else {
			pool_wait_idle(a);
		}
		blk_aio_reap(a, done, arg);
	}
}

static void drop(void *arg, struct blk_io *io, int res)
{
	(void)arg;
	(void)io;
	(void)res;
}

void blk_aio_destroy(struct blk_aio *a)
{
	if (!a)
		return;
	blk_aio_drain(a, drop, NULL);
	if (a->uring)
		io_uring_queue_exit(&a->ring);
	else
		pool_stop(a);
	close(a->efd);
	free(a);
}
