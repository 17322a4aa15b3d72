#include "virtio/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

/* epoll data for the two internal fds; watches use (generation << 32 | slot). */
#define EV_STOP UINT64_MAX
#define EV_JOBS (UINT64_MAX - 1)

struct job {
	void (*fn)(void *arg);
	void *arg;
	bool sync, done;
	struct job *next;
};

struct watch {
	bool used;
	int fd;
	uint32_t gen; /* bumped on unwatch: stale events for the slot are dropped */
	void (*cb)(void *arg);
	void *arg;
};

struct worker {
	char *name;
	int epfd, stop_fd, job_fd;
	pthread_t thread;
	bool running;
	bool has_self;
	pthread_t self; /* set by the thread itself, for worker_on_thread */
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct job *head, *tail;
	struct watch *watch;
	unsigned nr_watch;
};

static int epoll_add(int epfd, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

struct worker *worker_create(const char *name)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	w->name = xstrdup(name);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->job_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done, NULL);
	if (w->epfd < 0 || w->stop_fd < 0 || w->job_fd < 0 || epoll_add(w->epfd, w->stop_fd, EV_STOP) ||
	    epoll_add(w->epfd, w->job_fd, EV_JOBS)) {
		log_error("%s: cannot create the I/O worker: %s", name, strerror(errno));
		worker_destroy(w);
		return NULL;
	}
	return w;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	worker_stop(w);
	close_fd(w->epfd);
	close_fd(w->stop_fd);
	close_fd(w->job_fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->done);
	free(w->watch);
	free(w->name);
	free(w);
}

static void drain(int fd)
{
	uint64_t n;
	while (read(fd, &n, sizeof(n)) == sizeof(n))
		;
}

static void run_jobs(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	struct job *j = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while (j) {
		struct job *next = j->next;
		j->fn(j->arg);
		if (j->sync) {
			pthread_mutex_lock(&w->lock);
			j->done = true; /* j lives on the waiter's stack: last touch */
			pthread_cond_broadcast(&w->done);
			pthread_mutex_unlock(&w->lock);
		} else {
			free(j);
		}
		j = next;
	}
}

static void run_watch(struct worker *w, uint64_t data)
{
	uint32_t slot = (uint32_t)data, gen = (uint32_t)(data >> 32);
	pthread_mutex_lock(&w->lock);
	bool live = slot < w->nr_watch && w->watch[slot].used && w->watch[slot].gen == gen;
	void (*cb)(void *) = live ? w->watch[slot].cb : NULL;
	void *arg = live ? w->watch[slot].arg : NULL;
	pthread_mutex_unlock(&w->lock);
	if (cb)
		cb(arg);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are for the main and vCPU threads */
	pthread_mutex_lock(&w->lock);
	w->self = pthread_self();
	w->has_self = true;
	pthread_mutex_unlock(&w->lock);
	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(w->epfd, ev, ARRAY_SIZE(ev), -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("%s: epoll_wait failed: %s; the device stops", w->name, strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == EV_STOP)
				return NULL;
			if (ev[i].data.u64 == EV_JOBS) {
				drain(w->job_fd);
				run_jobs(w);
			} else {
				run_watch(w, ev[i].data.u64);
			}
		}
	}
}

int worker_start(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	bool was_running = w->running;
	w->running = true;
	int err = was_running ? 0 : pthread_create(&w->thread, NULL, worker_main, w);
	if (err) {
		w->running = false;
	} else if (!was_running) {
		char tname[16];
		snprintf(tname, sizeof(tname), "%s", w->name);
		pthread_setname_np(w->thread, tname);
	}
	pthread_mutex_unlock(&w->lock);
	if (err)
		log_error("%s: cannot start the I/O worker thread: %s", w->name, strerror(err));
	return -err;
}

void worker_stop(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	bool running = w->running;
	pthread_mutex_unlock(&w->lock);
	if (!running)
		return;
	uint64_t one = 1;
	if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("%s: cannot stop the I/O worker: %s", w->name, strerror(errno));
	pthread_join(w->thread, NULL);
	drain(w->stop_fd);
	pthread_mutex_lock(&w->lock);
	w->running = false;
	w->has_self = false;
	/* Nobody runs the queued jobs any more: release their waiters. */
	for (struct job *j = w->head, *next; j; j = next) {
		next = j->next;
		if (j->sync)
			j->done = true;
		else
			free(j);
	}
	w->head = w->tail = NULL;
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->lock);
}

bool worker_on_thread(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	bool on = w->has_self && pthread_equal(pthread_self(), w->self);
	pthread_mutex_unlock(&w->lock);
	return on;
}

/* Queues j, or returns false when no thread runs (the caller runs it). */
static bool enqueue(struct worker *w, struct job *j)
{
	pthread_mutex_lock(&w->lock);
	bool queued = w->running;
	if (queued) {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
	}
	pthread_mutex_unlock(&w->lock);
	uint64_t one = 1;
	if (queued && write(w->job_fd, &one, sizeof(one)) != sizeof(one))
		log_error("%s: cannot wake the I/O worker: %s", w->name, strerror(errno));
	return queued;
}

void worker_post(struct worker *w, void (*fn)(void *arg), void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));
	*j = (struct job){ .fn = fn, .arg = arg };
	if (!enqueue(w, j)) {
		free(j);
		fn(arg);
	}
}

void worker_call(struct worker *w, void (*fn)(void *arg), void *arg)
{
	if (worker_on_thread(w)) {
		fn(arg);
		return;
	}
	struct job j = { .fn = fn, .arg = arg, .sync = true };
	if (!enqueue(w, &j)) {
		fn(arg);
		return;
	}
	pthread_mutex_lock(&w->lock);
	while (!j.done)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static int find_watch(const struct worker *w, int fd)
{
	for (unsigned i = 0; i < w->nr_watch; i++)
		if (w->watch[i].used && w->watch[i].fd == fd)
			return (int)i;
	return -1;
}

static unsigned free_watch_slot(struct worker *w)
{
	for (unsigned i = 0; i < w->nr_watch; i++)
		if (!w->watch[i].used)
			return i;
	unsigned n = w->nr_watch ? 2 * w->nr_watch : 8;
	struct watch *grown = xcalloc(n, sizeof(*grown));
	if (w->nr_watch)
		memcpy(grown, w->watch, w->nr_watch * sizeof(*grown));
	free(w->watch);
	w->watch = grown;
	unsigned slot = w->nr_watch;
	w->nr_watch = n;
	return slot;
}

int worker_watch(struct worker *w, int fd, void (*cb)(void *arg), void *arg)
{
	pthread_mutex_lock(&w->lock);
	int err = 0;
	if (find_watch(w, fd) >= 0) {
		err = -EEXIST;
	} else {
		unsigned slot = free_watch_slot(w);
		struct watch *s = &w->watch[slot];
		*s = (struct watch){ .used = true, .fd = fd, .gen = s->gen, .cb = cb, .arg = arg };
		err = epoll_add(w->epfd, fd, (uint64_t)s->gen << 32 | slot);
		if (err)
			s->used = false;
	}
	pthread_mutex_unlock(&w->lock);
	return err;
}

void worker_unwatch(struct worker *w, int fd)
{
	pthread_mutex_lock(&w->lock);
	int slot = find_watch(w, fd);
	if (slot >= 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
		w->watch[slot].used = false;
		w->watch[slot].gen++;
	}
	pthread_mutex_unlock(&w->lock);
}
