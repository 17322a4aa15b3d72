/* One I/O thread per virtio device: an epoll loop over the fds the device
 * and its transport watch (queue doorbells, io_uring completions, TAP ...)
 * plus a job queue, so every device callback runs on this one thread and
 * device code needs no locks of its own. A stop eventfd ends the loop. */
#ifndef ALIOTH_VIRTIO_WORKER_H
#define ALIOTH_VIRTIO_WORKER_H

#include <stdbool.h>

struct worker;

/* name is for logs and the thread name (copied). NULL on failure. */
struct worker *worker_create(const char *name);
/* Starts the thread. Before it runs, and after worker_stop, jobs run on
 * the caller's thread. Returns 0 or -errno. */
int worker_start(struct worker *w);
/* Ends the loop and joins the thread; queued jobs are dropped. Idempotent;
 * not from the worker thread itself. */
void worker_stop(struct worker *w);
void worker_destroy(struct worker *w);

/* cb(arg) runs on the worker whenever fd is readable (level-triggered: cb
 * must consume what made it readable). One watch per fd. 0 or -errno. */
int worker_watch(struct worker *w, int fd, void (*cb)(void *arg), void *arg);
/* After this returns cb is not started again for fd; from the worker thread
 * (or with the worker stopped) it is not running either. */
void worker_unwatch(struct worker *w, int fd);

/* Queues fn(arg) behind earlier jobs and returns at once. */
void worker_post(struct worker *w, void (*fn)(void *arg), void *arg);
/* Runs fn(arg) on the worker after earlier jobs and waits for it to finish.
 * On the worker thread itself it runs fn at once. */
void worker_call(struct worker *w, void (*fn)(void *arg), void *arg);

bool worker_on_thread(struct worker *w);

#endif
