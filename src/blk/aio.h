/* Asynchronous disk I/O off the vCPU threads, behind one interface with two
 * engines: io_uring (liburing) and a small thread pool. A device submits
 * blk_io requests from its worker thread, waits for the engine's eventfd to
 * become readable and reaps the completions there. */
#ifndef ALIOTH_BLK_AIO_H
#define ALIOTH_BLK_AIO_H

#include <stdint.h>
#include <sys/uio.h>

enum blk_api {
	BLK_API_AUTO,    /* io_uring when the kernel allows it, else the pool */
	BLK_API_MIO,     /* thread pool (Alioth's "mio" spelling) */
	BLK_API_IOURING, /* io_uring, or fail */
};

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,        /* fdatasync: data reaches stable storage */
	BLK_OP_DISCARD,      /* punch a hole: reads back zeroes */
	BLK_OP_WRITE_ZEROES, /* zero the range (falls back to a hole) */
};

/* One request. It must stay valid until its completion is reaped; the
 * engine may advance iov/iovcnt/off after a short transfer to finish it. */
struct blk_io {
	enum blk_op op;
	struct iovec *iov;  /* READ/WRITE */
	int iovcnt;
	uint64_t off;       /* bytes */
	uint64_t len;       /* READ/WRITE: sum of iov; DISCARD/WRITE_ZEROES: range */
	void *tag;          /* the submitter's */
	/* Engine state. */
	int res;
	int fallback;       /* WRITE_ZEROES retried as a hole */
	struct blk_io *next;
};

/* res: 0, or -errno (a transfer that stops short is -EIO). */
typedef void (*blk_done_fn)(void *arg, struct blk_io *io, int res);

struct blk_aio;

/* An engine for fd that can hold `depth` requests in flight. AUTO tries
 * io_uring first. Returns 0 or -errno (IOURING: -ENOSYS etc. when the kernel
 * refuses it). */
int blk_aio_create(enum blk_api api, int fd, unsigned depth, struct blk_aio **out);
/* "io_uring" or "thread pool". */
const char *blk_aio_name(const struct blk_aio *a);
/* Readable when completions may be waiting. */
int blk_aio_event_fd(const struct blk_aio *a);
/* Queues io; it starts at the latest on blk_aio_kick. 0, or -EAGAIN when
 * `depth` requests are already in flight. A FLUSH starts only after every
 * request submitted before it has finished, and requests submitted after a
 * waiting FLUSH start after it (both engines run requests out of order). */
int blk_aio_submit(struct blk_aio *a, struct blk_io *io);
void blk_aio_kick(struct blk_aio *a);
/* Calls done for every finished request; returns how many. */
unsigned blk_aio_reap(struct blk_aio *a, blk_done_fn done, void *arg);
/* Like blk_aio_reap, but costs no syscall when nothing has finished: for
 * reaping right after a kick (page-cache hits complete inside it). */
unsigned blk_aio_poll(struct blk_aio *a, blk_done_fn done, void *arg);
/* Waits until nothing is in flight, reaping everything through done. */
void blk_aio_drain(struct blk_aio *a, blk_done_fn done, void *arg);
unsigned blk_aio_inflight(const struct blk_aio *a);
/* Drains (dropping completions) and frees. NULL is fine. */
void blk_aio_destroy(struct blk_aio *a);

/* Shared by the engines: runs io synchronously (the pool's threads). */
int blk_io_run_sync(int fd, struct blk_io *io);
/* After a transfer of n bytes: whether io is finished; if not, advances it
 * so that resubmitting it transfers the rest. */
int blk_io_advance(struct blk_io *io, uint64_t n);
/* fallocate mode for DISCARD / WRITE_ZEROES at io's fallback stage. */
int blk_io_fallocate_mode(const struct blk_io *io);

#endif
