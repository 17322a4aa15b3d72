/* A stand-in for a virtio transport in unit tests: it implements the
 * virtio_dev.h services (queues, notifications, needs-reset, fd watches)
 * over split rings in a malloc'd guest RAM, and plays the driver: it builds
 * descriptor chains, publishes them and reads the used ring. Linked only
 * into tests. */
#ifndef ALIOTH_TESTS_FAKE_VIRTIO_H
#define ALIOTH_TESTS_FAKE_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/virtio_dev.h"

#define FAKE_MAX_QUEUES 8
#define FAKE_RAM_GPA 0x100000ULL
#define FAKE_RAM_SIZE (8ULL << 20)

struct fake_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct fake_ring {
	uint64_t desc, avail, used; /* gpas */
	uint16_t size;
	uint16_t avail_idx;         /* the driver's next avail index */
	uint16_t used_seen;         /* used entries consumed by the test */
	uint16_t next_desc;
};

struct virtio_ctx {
	struct guest_mem gm;
	uint8_t *ram;
	uint64_t brk;               /* next free gpa for buffers */
	uint64_t features;
	unsigned nq;
	struct virtq q[FAKE_MAX_QUEUES];
	struct fake_ring ring[FAKE_MAX_QUEUES];
	unsigned notified[FAKE_MAX_QUEUES];
	unsigned config_notified;
	unsigned needs_reset;
	int watch_fd;               /* -1: none */
	void (*watch_cb)(void *arg);
	void *watch_arg;
};

/* nq split queues of qsize entries, all ready; features are "negotiated". */
struct virtio_ctx *fake_virtio_new(unsigned nq, uint16_t qsize, uint64_t features);
void fake_virtio_free(struct virtio_ctx *ctx);

/* A zeroed guest buffer of len bytes (16-byte aligned) and its host view. */
uint64_t fake_alloc(struct virtio_ctx *ctx, uint32_t len);
void *fake_host(struct virtio_ctx *ctx, uint64_t gpa);

/* Publishes a chain on queue q; returns its head descriptor index. */
uint16_t fake_add_chain(struct virtio_ctx *ctx, unsigned q, const struct fake_seg *segs,
			unsigned n);
/* Takes the next used element of queue q, if any. */
bool fake_take_used(struct virtio_ctx *ctx, unsigned q, uint32_t *id, uint32_t *len);
/* Waits up to timeout_ms for the watched fd and runs its callback, as the
 * transport's worker would. Returns whether it ran. */
bool fake_run_watch(struct virtio_ctx *ctx, int timeout_ms);

#endif
